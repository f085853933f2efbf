//! Nothing lost: a burst of QoS 1 messages against a slow UART comes out whole, in order,
//! each acknowledged only after its `+TCMQTTRCVPUB` was written; AT commands are answered
//! during the flood; the drops the spec allows are counted in AT+TCDIAG?.

mod support;

use core::future::Future;
use core::pin::Pin;

use support::{connect, connect_with, publish, with_engine, Bench, TOPIC};

/// Runs the engine with a UART that takes `chunk` bytes per wake-up until nothing moves;
/// after every step checks that no PUBACK left before its URC was complete.
fn drain<F: Future + ?Sized>(bench: &Bench, mut engine: Pin<&mut F>, first_id: u16) {
    loop {
        bench.settle(engine.as_mut(), 10_000);
        assert_acknowledged_after_written(bench, first_id);
        if !bench.uart.stalled.get() {
            return;
        }
        bench.uart.resume();
    }
}

/// The newest PUBACK the broker got is for a message whose URC is already complete on the
/// UART (PUBACKs and URCs are both checked to be in order at the end).
fn assert_acknowledged_after_written(bench: &Bench, first_id: u16) {
    let output = bench.uart.output_text();
    if let Some(id) = bench.broker.acknowledged.borrow().last() {
        let urc = format!(
            "+TCMQTTRCVPUB:\"{TOPIC}\",{},\"{}\"\r\n",
            payload(*id - first_id).len(),
            payload(*id - first_id)
        );
        assert!(output.contains(&urc), "PUBACK {id} left before its URC");
    }
}

fn payload(index: u16) -> String {
    format!("{{\"index\":{index},\"text\":\"burst message\"}}")
}

#[test]
fn a_burst_of_qos1_messages_reaches_a_slow_uart_whole_and_in_order() {
    const COUNT: u16 = 200;
    const FIRST_ID: u16 = 100;
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        // The broker sends the whole burst at once (a clean_session=0 replay does).
        let mut burst = Vec::new();
        for index in 0..COUNT {
            burst.extend(publish(
                1,
                TOPIC.as_bytes(),
                payload(index).as_bytes(),
                FIRST_ID + index,
            ));
        }
        bench.uart.write_limit.set(Some(64));
        bench.uart.stalled.set(false);
        bench.broker.deliver(&burst);
        // AT lines during the flood: each is answered, at most one URC block later.
        for round in 0..5 {
            drain_some(bench, engine.as_mut(), 40, FIRST_ID);
            let before = bench.uart.output().len();
            bench.uart.send(b"AT\r\n");
            drain_some(bench, engine.as_mut(), 60, FIRST_ID);
            let after = &bench.uart.output()[before..];
            let text = String::from_utf8_lossy(after);
            // Echo is off: the answer is the bare result.
            let answered = text.find("\r\nOK\r\n").unwrap_or_else(|| {
                panic!("round {round}: AT not answered within 60 UART chunks: {text:?}")
            });
            assert!(
                text[..answered].matches("+TCMQTTRCVPUB").count() <= 1,
                "round {round}: more than one URC before the answer: {text:?}"
            );
        }
        drain(bench, engine.as_mut(), FIRST_ID);
        let output = bench.uart.output_text();
        let urcs: Vec<&str> = output
            .split("\r\n")
            .filter(|line| line.starts_with("+TCMQTTRCVPUB:"))
            .collect();
        assert_eq!(urcs.len(), COUNT as usize, "every message, once");
        for (index, urc) in urcs.iter().enumerate() {
            let text = payload(index as u16);
            assert_eq!(
                *urc,
                format!("+TCMQTTRCVPUB:\"{TOPIC}\",{},\"{text}\"", text.len())
            );
        }
        let acknowledged = bench.broker.acknowledged.borrow().clone();
        let expected: Vec<u16> = (FIRST_ID..FIRST_ID + COUNT).collect();
        assert_eq!(acknowledged, expected, "one PUBACK per message, in order");
    });
}

/// Lets the UART take `chunks` more chunks.
fn drain_some<F: Future + ?Sized>(
    bench: &Bench,
    mut engine: Pin<&mut F>,
    chunks: usize,
    first_id: u16,
) {
    for _ in 0..chunks {
        bench.settle(engine.as_mut(), 10_000);
        assert_acknowledged_after_written(bench, first_id);
        if bench.uart.stalled.get() {
            bench.uart.resume();
        }
    }
    bench.settle(engine.as_mut(), 10_000);
}

#[test]
fn drops_the_spec_allows_are_counted_in_tcdiag() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        let mut packets = Vec::new();
        // Oversize: 2049 payload bytes, acknowledged, not printed.
        packets.extend(publish(1, TOPIC.as_bytes(), &[b'x'; 2049], 7));
        // No filter matches.
        packets.extend(publish(0, b"PID0000001/dev1/other", b"nobody", 0));
        // A QoS 1 message and its DUP re-delivery.
        packets.extend(publish(1, TOPIC.as_bytes(), b"once", 9));
        let mut duplicate = publish(1, TOPIC.as_bytes(), b"once", 9);
        duplicate[0] |= 0x08;
        packets.extend(duplicate);
        bench.broker.deliver(&packets);
        bench.settle(engine.as_mut(), 10_000);
        let output = bench.uart.take_output();
        assert_eq!(
            String::from_utf8_lossy(&output),
            format!("+TCMQTTRCVPUB:\"{TOPIC}\",4,\"once\"\r\n")
        );
        assert_eq!(*bench.broker.acknowledged.borrow(), vec![7, 9, 9]);
        let report = bench.exchange(engine.as_mut(), b"AT+TCDIAG?\r\n");
        let bytes_in = bench.broker.read_total.get();
        let expected = format!(
            "+TCDIAG:OVERSIZE,1\r\n+TCDIAG:NOFILTER,1\r\n+TCDIAG:HOLDFULL,0\r\n\
             +TCDIAG:DUPLICATE,1\r\n+TCDIAG:DISCONNECT,NONE\r\n+TCDIAG:RECONNECTS,0\r\n\
             +TCDIAG:CONNACK,0\r\n+TCDIAG:BYTES,{bytes_in},"
        );
        assert!(
            report.starts_with(&expected),
            "{report:?}\nexpected {expected:?}"
        );
        assert!(report.ends_with("\r\n\r\nOK\r\n"), "{report:?}");
    });
}

#[test]
fn a_host_that_stops_reading_keeps_the_link_alive_and_loses_nothing() {
    const COUNT: u16 = 50;
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        bench.uart.stalled.set(true);
        let mut burst = Vec::new();
        for index in 0..COUNT {
            burst.extend(publish(
                1,
                TOPIC.as_bytes(),
                payload(index).as_bytes(),
                1 + index,
            ));
        }
        bench.broker.deliver(&burst);
        let pings = bench.broker.count_sent(12);
        let start = bench.clock.now();
        // Three keep-alive periods with the UART blocked: the receive side is paused.
        bench.run_until(engine.as_mut(), start + 180_000, 100);
        assert!(
            bench.broker.acknowledged.borrow().is_empty(),
            "nothing written, nothing acknowledged"
        );
        assert!(
            bench.broker.count_sent(12) - pings >= 2,
            "the module's PINGREQs still went out"
        );
        assert_eq!(
            bench.broker.connects.get(),
            1,
            "no reconnect: the link was not declared dead"
        );
        bench.uart.resume();
        drain(bench, engine.as_mut(), 1);
        let output = bench.uart.output_text();
        assert_eq!(
            output.matches("+TCMQTTRCVPUB:").count(),
            COUNT as usize,
            "{output:?}"
        );
        assert!(!output.contains("+TCMQTTDISCON"), "{output:?}");
        assert_eq!(bench.broker.acknowledged.borrow().len(), COUNT as usize);
        // The PINGRESPs read after the pause count: the next period passes without a drop.
        bench.run_until(engine.as_mut(), bench.clock.now() + 120_000, 100);
        assert!(!bench.uart.output_text().contains("+TCMQTTDISCON"));
    });
}

#[test]
fn large_messages_back_to_back_come_out_without_waiting_for_a_timer() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",0\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        // Five 2000-byte payloads in one delivery: more than the session's receive buffer
        // takes at once, so the rest of a read must be offered again as soon as there is
        // room, not at the next keep-alive.
        let mut burst = Vec::new();
        for index in 0..5u8 {
            burst.extend(publish(0, TOPIC.as_bytes(), &[b'a' + index; 2000], 0));
        }
        let now = bench.clock.now();
        bench.broker.deliver(&burst);
        bench.settle(engine.as_mut(), 10_000);
        assert_eq!(bench.clock.now(), now, "no time passed");
        let output = bench.uart.output_text();
        assert_eq!(output.matches("+TCMQTTRCVPUB:").count(), 5);
        for index in 0..5u8 {
            let payload = String::from_utf8(vec![b'a' + index; 2000]).unwrap();
            assert!(output.contains(&format!(",2000,\"{payload}\"\r\n")));
        }
    });
}

#[test]
fn messages_of_a_reconnect_window_follow_reconnected_in_order() {
    with_engine(|bench, mut engine| {
        connect_with(bench, engine.as_mut(), 60, true);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        // After the reconnect's CONNACK, two messages arrive before the re-subscription's
        // SUBACK: they are held until +TCMQTTRECONNECTED.
        let mut window = publish(1, TOPIC.as_bytes(), b"first", 21);
        window.extend(publish(1, TOPIC.as_bytes(), b"second", 22));
        *bench.broker.before_suback.borrow_mut() = window;
        bench.broker.close();
        let now = bench.clock.now();
        bench.run_until(engine.as_mut(), now + 10_000, 1_000);
        assert_eq!(
            bench.uart.output_text(),
            format!(
                "+TCMQTTDISCON,-103\r\n+TCMQTTRECONNECTING\r\n+TCMQTTRECONNECTED\r\n\
                 +TCMQTTRCVPUB:\"{TOPIC}\",5,\"first\"\r\n+TCMQTTRCVPUB:\"{TOPIC}\",6,\"second\"\r\n"
            )
        );
        assert_eq!(*bench.broker.acknowledged.borrow(), vec![21, 22]);
        assert_eq!(bench.broker.connects.get(), 2);
    });
}

/// A `clean_session=0` replay of 150 QoS 1 messages ahead of the re-subscription's SUBACK,
/// against a slow UART: `+TCMQTTRECONNECTED` first, then every message in order, each
/// acknowledged only after its URC was written; nothing copied aside, nothing dropped.
#[test]
fn a_replay_of_150_messages_ahead_of_the_suback_comes_out_whole_after_reconnected() {
    const COUNT: u16 = 150;
    const FIRST_ID: u16 = 300;
    with_engine(|bench, mut engine| {
        connect_with(bench, engine.as_mut(), 60, true);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        let mut window = Vec::new();
        for index in 0..COUNT {
            window.extend(publish(
                1,
                TOPIC.as_bytes(),
                payload(index).as_bytes(),
                FIRST_ID + index,
            ));
        }
        assert!(
            window.len() > 2560 + 4688,
            "more than the session's receive buffer and the former 4,688-byte hold queue"
        );
        *bench.broker.before_suback.borrow_mut() = window;
        bench.uart.take_output();
        bench.uart.write_limit.set(Some(64));
        bench.uart.stalled.set(false);
        bench.broker.close();
        let now = bench.clock.now();
        bench.run_until(engine.as_mut(), now + 10_000, 1_000);
        drain(bench, engine.as_mut(), FIRST_ID);
        let output = bench.uart.output_text();
        let mut expected =
            String::from("+TCMQTTDISCON,-103\r\n+TCMQTTRECONNECTING\r\n+TCMQTTRECONNECTED\r\n");
        for index in 0..COUNT {
            let text = payload(index);
            expected.push_str(&format!(
                "+TCMQTTRCVPUB:\"{TOPIC}\",{},\"{text}\"\r\n",
                text.len()
            ));
        }
        assert_eq!(
            output, expected,
            "every replayed message, in order, after the URC"
        );
        let acknowledged = bench.broker.acknowledged.borrow().clone();
        let ids: Vec<u16> = (FIRST_ID..FIRST_ID + COUNT).collect();
        assert_eq!(acknowledged, ids, "one PUBACK per message, in order");
        assert_eq!(bench.broker.connects.get(), 2, "no second drop");
        // The SUBACK behind the replay was read: the subscription is still listed.
        bench.uart.write_limit.set(None);
        assert_eq!(
            bench
                .exchange(engine.as_mut(), b"AT+TCDIAG?\r\n")
                .matches("HOLDFULL,0")
                .count(),
            1
        );
        assert!(bench
            .exchange(engine.as_mut(), b"AT+TCMQTTSUB?\r\n")
            .contains(TOPIC));
    });
}
