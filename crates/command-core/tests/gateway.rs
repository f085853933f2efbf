//! The gateway commands through the whole engine, on the in-memory broker and the manual
//! clock: the internal result and time slots (never user slots), the exact requests and the
//! result lines of every reply, the time and reply timeouts, a drop while waiting, the online
//! list and its query, and the re-online after an automatic reconnect. The same against the
//! hub over real sockets: `boards/linux/tests/gateway.rs`.

mod support;

use core::future::Future;
use core::pin::Pin;

use support::{connect, connect_with, publish, with_engine, Bench};

const RESULT: &str = "$gateway/operation/result/PID0000001/dev1";
const REQUEST: &str = "$gateway/operation/PID0000001/dev1";
const TIME_RESULT: &str = "$sys/operation/result/PID0000001/dev1";
const TIME_REQUEST: &str = "$sys/operation/PID0000001/dev1";
const SECRET: &str = "ZHNkIGRzZCA=";
/// `<r>` of a bind on the bench: the `Offline` RNG's word 0x5eed1234 mapped into
/// 1..=2147483647 (`r % 2147483647 + 1`; the word is below the modulus).
const RANDOM: u32 = 0x5eed_1235;

/// The payloads the module published on `topic`, as text.
fn published(bench: &Bench, topic: &str) -> Vec<String> {
    bench
        .broker
        .published
        .borrow()
        .iter()
        .filter(|(published, _)| published == topic.as_bytes())
        .map(|(_, payload)| String::from_utf8_lossy(payload).into_owned())
        .collect()
}

/// Delivers a message on `topic` and returns what the module wrote.
fn reply<F: Future + ?Sized>(
    bench: &Bench,
    engine: Pin<&mut F>,
    topic: &str,
    body: &str,
) -> String {
    bench.uart.take_output();
    bench
        .broker
        .deliver(&publish(0, topic.as_bytes(), body.as_bytes(), 0));
    bench.settle(engine, 10_000);
    String::from_utf8_lossy(&bench.uart.take_output()).into_owned()
}

fn result(operation: &str, product_id: &str, device_name: &str, code: i32) -> String {
    format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{{"product_id":"{product_id}","device_name":"{device_name}","result":{code}}}]}}}}"#
    )
}

fn request(operation: &str, product_id: &str, device_name: &str) -> String {
    format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{{"product_id":"{product_id}","device_name":"{device_name}"}}]}}}}"#
    )
}

/// Lets time pass, 100 ms at a time, until the reconnect's URC is out.
fn until_reconnected<F: Future + ?Sized>(bench: &Bench, mut engine: Pin<&mut F>) {
    for _ in 0..200 {
        if bench.uart.output_text().contains("+TCMQTTRECONNECTED") {
            return;
        }
        let now = bench.clock.now();
        bench.run_until(engine.as_mut(), now + 100, 1_000);
    }
    panic!("no reconnect: {}", bench.uart.output_text());
}

/// AT+TCGWONLINE=0 answered `result` 0.
fn online<F: Future + ?Sized>(bench: &Bench, mut engine: Pin<&mut F>, name: &str) {
    let line = format!("AT+TCGWONLINE=0,\"SUBPRODUCT\",\"{name}\"\r\n");
    assert_eq!(bench.exchange(engine.as_mut(), line.as_bytes()), "OK\r\n");
    assert_eq!(
        reply(
            bench,
            engine,
            RESULT,
            &result("online", "SUBPRODUCT", name, 0)
        ),
        "+TCGWONLINE:OK\r\n"
    );
}

#[test]
fn bind_queries_the_cloud_time_and_signs_with_the_secret_text() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        let line = format!("AT+TCGWBIND=0,\"CTQS08Y5LG\",\"Dev01\",\"{SECRET}\"\r\n");
        assert_eq!(bench.exchange(engine.as_mut(), line.as_bytes()), "OK\r\n");
        assert_eq!(
            *bench.broker.subscribed.borrow(),
            vec![RESULT.as_bytes().to_vec(), TIME_RESULT.as_bytes().to_vec()],
            "the result slot, then the time slot"
        );
        assert_eq!(
            published(bench, TIME_REQUEST),
            vec![r#"{"type": "get", "resource": ["time"]}"#]
        );
        assert!(
            published(bench, REQUEST).is_empty(),
            "nothing before the time"
        );
        // An unrelated message on the time topic is ignored; the integer time is taken.
        assert_eq!(
            reply(bench, engine.as_mut(), TIME_RESULT, r#"{"type":"get"}"#),
            ""
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                TIME_RESULT,
                r#"{"type":"get","time":1700000000}"#
            ),
            ""
        );
        let subdevice = gateway::SubDevice::new(b"CTQS08Y5LG", b"Dev01").unwrap();
        let signature =
            gateway::bind_signature(&subdevice, SECRET.as_bytes(), RANDOM, 1_700_000_000);
        let signature = String::from_utf8(signature.to_vec()).unwrap();
        assert_eq!(
            published(bench, REQUEST),
            vec![format!(
                r#"{{"type":"bind","payload":{{"devices":[{{"product_id":"CTQS08Y5LG","device_name":"Dev01","signature":"{signature}","random":{RANDOM},"timestamp":1700000000,"signmethod":"hmacsha1","authtype":"psk"}}]}}}}"#
            )]
        );
        // Replies of another type or another sub-device do not answer it.
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("unbind", "CTQS08Y5LG", "Dev01", 0)
            ),
            ""
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("bind", "CTQS08Y5LG", "Dev02", 0)
            ),
            ""
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("bind", "CTQS08Y5LG", "Dev01", 809)
            ),
            "+TCGWBIND:OK\r\n",
            "already bound to this gateway is OK"
        );
        // The second bind reuses both slots: no SUBSCRIBE, a new time query.
        assert_eq!(bench.exchange(engine.as_mut(), line.as_bytes()), "OK\r\n");
        assert_eq!(bench.broker.subscribed.borrow().len(), 2);
        assert_eq!(published(bench, TIME_REQUEST).len(), 2);
        reply(
            bench,
            engine.as_mut(),
            TIME_RESULT,
            r#"{"type":"get","time":1700000005}"#,
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("bind", "CTQS08Y5LG", "Dev01", 803)
            ),
            "+TCGWBIND:FAIL,803\r\n"
        );
        // Neither slot is a user slot.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCMQTTSUB?\r\n"),
            "\r\nOK\r\n"
        );
        let output = bench.uart.output_text();
        assert!(!output.contains(SECRET));
    });
}

#[test]
fn no_time_is_minus_1001_and_no_reply_is_202_after_their_waits() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 600);
        let line = format!("AT+TCGWBIND=0,\"CTQS08Y5LG\",\"Dev01\",\"{SECRET}\"\r\n");
        assert_eq!(bench.exchange(engine.as_mut(), line.as_bytes()), "OK\r\n");
        let start = bench.clock.now();
        bench.run_until(engine.as_mut(), start + 1_999, 1_000);
        assert_eq!(bench.uart.output_text(), "");
        bench.run_until(engine.as_mut(), start + 2_000, 1_000);
        assert_eq!(bench.uart.take_output(), b"+TCGWBIND:FAIL,-1001\r\n");
        assert!(published(bench, REQUEST).is_empty(), "nothing on $gateway");

        // Unbind needs no time; no reply within cmdtimeout (5000 ms) is 202.
        let line = b"AT+TCGWBIND=1,\"CTQS08Y5LG\",\"Dev01\"\r\n";
        assert_eq!(bench.exchange(engine.as_mut(), line), "OK\r\n");
        assert_eq!(
            published(bench, REQUEST),
            vec![request("unbind", "CTQS08Y5LG", "Dev01")]
        );
        let start = bench.clock.now();
        bench.run_until(engine.as_mut(), start + 4_999, 1_000);
        assert_eq!(bench.uart.output_text(), "");
        bench.run_until(engine.as_mut(), start + 5_000, 1_000);
        assert_eq!(bench.uart.take_output(), b"+TCGWBIND:FAIL,202\r\n");
        // A late reply changes nothing.
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("unbind", "CTQS08Y5LG", "Dev01", 0)
            ),
            ""
        );
    });
}

#[test]
fn the_online_list_holds_16_newest_first_and_offline_removes() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 600);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n"),
            "\r\nOK\r\n"
        );
        for index in 0..16 {
            online(bench, engine.as_mut(), &format!("d{index}"));
        }
        let listed = bench.exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n");
        let mut expected = String::new();
        for index in (0..16).rev() {
            expected.push_str(&format!("+TCGWONLINE:\"SUBPRODUCT,d{index}\"\r\n"));
        }
        expected.push_str("\r\nOK\r\n");
        assert_eq!(listed, expected);
        let requests = published(bench, REQUEST).len();
        // Already online, a full list, not online: refused without a request.
        for (line, expected) in [
            (
                &b"AT+TCGWONLINE=0,\"SUBPRODUCT\",\"d3\"\r\n"[..],
                "OK\r\n+TCGWONLINE:FAIL,-224\r\n",
            ),
            (
                b"AT+TCGWONLINE=0,\"SUBPRODUCT\",\"d16\"\r\n",
                "OK\r\n+TCGWONLINE:FAIL,-221\r\n",
            ),
            (
                b"AT+TCGWONLINE=1,\"SUBPRODUCT\",\"d99\"\r\n",
                "OK\r\n+TCGWONLINE:FAIL,-222\r\n",
            ),
        ] {
            assert_eq!(bench.exchange(engine.as_mut(), line), expected);
        }
        assert_eq!(published(bench, REQUEST).len(), requests);
        // A failed offline keeps it; a successful one removes it.
        let line = b"AT+TCGWONLINE=1,\"SUBPRODUCT\",\"d3\"\r\n";
        assert_eq!(bench.exchange(engine.as_mut(), line), "OK\r\n");
        assert_eq!(
            published(bench, REQUEST).last().unwrap(),
            &request("offline", "SUBPRODUCT", "d3")
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("offline", "SUBPRODUCT", "d3", -2)
            ),
            "+TCGWONLINE:FAIL,-2\r\n"
        );
        assert!(bench
            .exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n")
            .contains("\"SUBPRODUCT,d3\""));
        assert_eq!(bench.exchange(engine.as_mut(), line), "OK\r\n");
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("offline", "SUBPRODUCT", "d3", 0)
            ),
            "+TCGWONLINE:OK\r\n"
        );
        let listed = bench.exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n");
        assert_eq!(listed.matches("+TCGWONLINE:").count(), 15);
        assert!(!listed.contains("d3\""));
        // A failed online leaves the list unchanged.
        let line = b"AT+TCGWONLINE=0,\"SUBPRODUCT\",\"x\"\r\n";
        assert_eq!(bench.exchange(engine.as_mut(), line), "OK\r\n");
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("online", "SUBPRODUCT", "x", -1)
            ),
            "+TCGWONLINE:FAIL,-1\r\n"
        );
        // The session end clears the list.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCMQTTDISCONN\r\n"),
            "\r\nOK\r\n"
        );
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n"),
            "\r\nOK\r\n"
        );
        assert_eq!(
            bench.exchange(
                engine.as_mut(),
                b"AT+TCGWONLINE=0,\"SUBPRODUCT\",\"d1\"\r\n"
            ),
            "+CME ERROR:208\r\n"
        );
    });
}

#[test]
fn a_drop_while_waiting_is_minus_103_after_the_disconnect_urc() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 600);
        let line = b"AT+TCGWONLINE=0,\"SUBPRODUCT\",\"d1\"\r\n";
        assert_eq!(bench.exchange(engine.as_mut(), line), "OK\r\n");
        bench.broker.close();
        bench.settle(engine.as_mut(), 10_000);
        assert_eq!(
            bench.uart.take_output(),
            b"+TCMQTTDISCON,-103\r\n+TCGWONLINE:FAIL,-103\r\n"
        );
    });
}

#[test]
fn a_reconnect_re_onlines_the_list_before_the_user_slots() {
    with_engine(|bench, mut engine| {
        connect_with(bench, engine.as_mut(), 600, true);
        online(bench, engine.as_mut(), "d1");
        online(bench, engine.as_mut(), "d2");
        assert_eq!(
            bench.exchange(
                engine.as_mut(),
                b"AT+TCMQTTSUB=\"SUBPRODUCT/d1/data\",0\r\n"
            ),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        bench.broker.subscribed.borrow_mut().clear();
        bench.broker.published.borrow_mut().clear();
        bench.broker.close();
        until_reconnected(bench, engine.as_mut());
        assert_eq!(
            bench.uart.take_output(),
            b"+TCMQTTDISCON,-103\r\n+TCMQTTRECONNECTING\r\n+TCMQTTRECONNECTED\r\n"
        );
        // The result slot is back; the sub-devices go online, oldest first, one at a time;
        // the user filter waits.
        assert_eq!(
            *bench.broker.subscribed.borrow(),
            vec![RESULT.as_bytes().to_vec()]
        );
        assert_eq!(
            published(bench, REQUEST),
            vec![request("online", "SUBPRODUCT", "d1")]
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("online", "SUBPRODUCT", "d1", 0)
            ),
            ""
        );
        assert_eq!(
            published(bench, REQUEST).last().unwrap(),
            &request("online", "SUBPRODUCT", "d2")
        );
        assert_eq!(bench.broker.subscribed.borrow().len(), 1);
        // A refusal removes d2 silently; then the user slot is re-subscribed.
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("online", "SUBPRODUCT", "d2", -1)
            ),
            ""
        );
        assert_eq!(
            *bench.broker.subscribed.borrow(),
            vec![RESULT.as_bytes().to_vec(), b"SUBPRODUCT/d1/data".to_vec()]
        );
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n"),
            "+TCGWONLINE:\"SUBPRODUCT,d1\"\r\n\r\nOK\r\n"
        );
    });
}

#[test]
fn a_command_during_the_re_online_goes_first_and_the_re_online_starts_again() {
    with_engine(|bench, mut engine| {
        connect_with(bench, engine.as_mut(), 600, true);
        online(bench, engine.as_mut(), "d1");
        bench.broker.published.borrow_mut().clear();
        bench.broker.close();
        until_reconnected(bench, engine.as_mut());
        assert!(bench
            .uart
            .take_output()
            .ends_with(b"+TCMQTTRECONNECTED\r\n"));
        assert_eq!(
            published(bench, REQUEST),
            vec![request("online", "SUBPRODUCT", "d1")]
        );
        // CONN is true again: the command is accepted and runs at once.
        let line = b"AT+TCGWBIND=1,\"SUBPRODUCT\",\"other\"\r\n";
        assert_eq!(bench.exchange(engine.as_mut(), line), "OK\r\n");
        assert_eq!(
            published(bench, REQUEST).last().unwrap(),
            &request("unbind", "SUBPRODUCT", "other")
        );
        // The re-online's late reply answers nothing.
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("online", "SUBPRODUCT", "d1", 0)
            ),
            ""
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("unbind", "SUBPRODUCT", "other", 0)
            ),
            "+TCGWBIND:OK\r\n"
        );
        // Then the re-online starts again from the oldest.
        assert_eq!(
            published(bench, REQUEST),
            vec![
                request("online", "SUBPRODUCT", "d1"),
                request("unbind", "SUBPRODUCT", "other"),
                request("online", "SUBPRODUCT", "d1"),
            ]
        );
        assert_eq!(
            reply(
                bench,
                engine.as_mut(),
                RESULT,
                &result("online", "SUBPRODUCT", "d1", 0)
            ),
            ""
        );
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCGWONLINE?\r\n"),
            "+TCGWONLINE:\"SUBPRODUCT,d1\"\r\n\r\nOK\r\n"
        );
    });
}

#[test]
fn a_refused_or_unanswered_preparation_keeps_nothing() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 600);
        let online = b"AT+TCGWONLINE=0,\"SUBPRODUCT\",\"d1\"\r\n";
        let overrides = &bench.broker.suback_overrides;
        overrides
            .borrow_mut()
            .push((b"$gateway/".to_vec(), Some(0x80)));
        assert_eq!(
            bench.exchange(engine.as_mut(), online),
            "OK\r\n+TCGWONLINE:FAIL,-108\r\n"
        );
        // No SUBACK within cmdtimeout (5000 ms): 202.
        overrides.borrow_mut()[0].1 = None;
        assert_eq!(bench.exchange(engine.as_mut(), online), "OK\r\n");
        let start = bench.clock.now();
        bench.run_until(engine.as_mut(), start + 5_000, 1_000);
        assert_eq!(bench.uart.take_output(), b"+TCGWONLINE:FAIL,202\r\n");
        assert!(published(bench, REQUEST).is_empty());
        // Nothing was kept: the next command subscribes again, and the time slot refused
        // fails the bind with -1001.
        overrides.borrow_mut()[0].1 = Some(0x01);
        overrides.borrow_mut().push((b"$sys/".to_vec(), Some(0x80)));
        let line = format!("AT+TCGWBIND=0,\"CTQS08Y5LG\",\"Dev01\",\"{SECRET}\"\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), line.as_bytes()),
            "OK\r\n+TCGWBIND:FAIL,-1001\r\n"
        );
        let result_subscriptions = bench
            .broker
            .subscribed
            .borrow()
            .iter()
            .filter(|filter| filter.as_slice() == RESULT.as_bytes())
            .count();
        assert_eq!(result_subscriptions, 3);
        assert!(published(bench, TIME_REQUEST).is_empty());
        assert!(published(bench, REQUEST).is_empty());
        // Neither internal filter took a user slot.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCMQTTSUB?\r\n"),
            "\r\nOK\r\n"
        );
    });
}
