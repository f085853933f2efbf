//! Idle means asleep: the engine, connected and subscribed, is polled only when a timer, the
//! UART or the broker link has something for it, whatever its executor's wakers look like.

mod support;

use support::{connect, with_engine, TOPIC};

const KEEP_ALIVE_S: u64 = 60;

#[test]
fn a_connected_idle_engine_sleeps_between_keep_alives() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), KEEP_ALIVE_S as u32);
        let subscribe = format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), subscribe.as_bytes()),
            "OK\r\n+TCMQTTSUB:OK\r\n"
        );
        let publish = format!("AT+TCMQTTPUB=\"{TOPIC}\",1,\"hello\"\r\n");
        assert_eq!(
            bench.exchange(engine.as_mut(), publish.as_bytes()),
            format!("OK\r\n+TCMQTTPUB:OK\r\n+TCMQTTRCVPUB:\"{TOPIC}\",5,\"hello\"\r\n")
        );

        let (polls, wakes) = (bench.polls.get(), bench.wakes());
        let pings = bench.broker.count_sent(12);
        let start = bench.clock.now();
        let minutes = 10;
        bench.run_until(engine.as_mut(), start + minutes * 60_000, 50);
        let periods = minutes * 60 / KEEP_ALIVE_S;
        let idle_polls = bench.polls.get() - polls;
        let idle_wakes = bench.wakes() - wakes;
        // The link stayed alive: one PINGREQ per keep-alive period, each answered.
        let sent_pings = (bench.broker.count_sent(12) - pings) as u64;
        assert!(
            sent_pings >= periods - 1 && sent_pings <= periods,
            "{sent_pings} PINGREQs in {periods} keep-alive periods"
        );
        assert_eq!(bench.uart.output_text(), "", "nothing to say while idle");
        // A handful of polls per period: the ping timer, the PINGRESP, the next timer.
        assert!(
            idle_polls as u64 <= 6 * periods,
            "{idle_polls} polls and {idle_wakes} wake-ups in {periods} idle keep-alive periods"
        );
    });
}
