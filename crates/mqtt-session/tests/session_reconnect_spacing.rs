//! Reconnect hygiene with a deterministic clock: a server that accepts every CONNECT and then
//! sends garbage must not make the module reconnect faster than `cloud.md` §2.5 allows (one
//! CONNECT per 5 s), and only a link that stayed up restarts the schedule.

mod session_support;

use mqtt_session::codec::{ConnAck, Packet};
use mqtt_session::session::{Event, MIN_CONNECT_INTERVAL_MS, STABLE_LINK_MS};
use session_support::{other, Harness, Seen};

/// Bytes no MQTT server sends (reserved packet type 15).
const GARBAGE: [u8; 2] = [0xF0, 0x00];

fn accept(harness: &mut Harness) -> Vec<Seen> {
    harness.feed(&Packet::ConnAck(ConnAck {
        session_present: false,
        return_code: 0,
    }));
    harness.events()
}

fn is_drop(seen: &Seen, reconnecting: bool) -> bool {
    matches!(seen, Seen::Other(text)
        if text.starts_with("Dropped") && text.ends_with(&format!("reconnecting: {reconnecting} }}")))
}

/// Runs the module against the garbage server until it gives up; returns the time of every
/// CONNECT (the host's first).
fn connects_until_given_up(harness: &mut Harness) -> Vec<u64> {
    let mut connects = vec![harness.now];
    harness.feed_bytes(&GARBAGE);
    let mut events = harness.events();
    for attempt in 1.. {
        if events.last() == Some(&other(Event::GaveUp)) {
            assert!(is_drop(&events[0], false), "{events:?}");
            assert!(!harness.session.is_running());
            return connects;
        }
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(is_drop(&events[0], true), "{events:?}");
        let deadline = harness.session.next_deadline().expect("backing off");
        assert_eq!(harness.advance_to(deadline - 1), vec![]);
        assert_eq!(
            harness.advance_to(deadline),
            vec![other(Event::Reconnecting { attempt })]
        );
        harness.transport_opened();
        assert!(
            !harness.take_sent().is_empty(),
            "CONNECT of attempt {attempt}"
        );
        connects.push(harness.now);
        assert_eq!(accept(harness), vec![other(Event::Reconnected)]);
        harness.feed_bytes(&GARBAGE);
        events = harness.events();
    }
    unreachable!()
}

#[test]
fn connack_then_garbage_keeps_doubling_never_connects_within_5s_and_gives_up() {
    // Backoff base 1000 ms (random 0).
    let mut harness = Harness::connected(true);
    let connects = connects_until_given_up(&mut harness);
    let start = connects[0];
    let offsets: Vec<u64> = connects.iter().map(|time| time - start).collect();
    // Waits 1, 2, 4, 8, 16, 32 s, each stretched to 5 s after the previous CONNECT.
    assert_eq!(
        offsets,
        vec![0, 5_000, 10_000, 15_000, 23_000, 39_000, 71_000]
    );
    for pair in connects.windows(2) {
        assert!(pair[1] - pair[0] >= MIN_CONNECT_INTERVAL_MS, "{offsets:?}");
    }
}

#[test]
fn connack_then_garbage_with_the_longest_base_also_gives_up() {
    let mut harness = Harness::connected(true);
    harness.push_random(&[99]);
    let connects = connects_until_given_up(&mut harness);
    let start = connects[0];
    let offsets: Vec<u64> = connects.iter().map(|time| time - start).collect();
    assert_eq!(offsets, vec![0, 5_000, 10_000, 17_960, 33_880, 65_720]);
}

#[test]
fn a_link_usable_for_the_stable_period_restarts_the_schedule() {
    let mut harness = Harness::connected(true);
    harness.feed_bytes(&GARBAGE);
    harness.events();
    for attempt in 1..=3 {
        let deadline = harness.session.next_deadline().unwrap();
        assert_eq!(
            harness.advance_to(deadline),
            vec![other(Event::Reconnecting { attempt })]
        );
        harness.transport_opened();
        harness.take_sent();
        assert_eq!(accept(&mut harness), vec![other(Event::Reconnected)]);
        if attempt < 3 {
            harness.feed_bytes(&GARBAGE);
            harness.events();
        }
    }
    // Attempt 3's link stays up for the stable period, then drops.
    harness.now += STABLE_LINK_MS;
    harness.session.transport_closed(harness.now);
    let events = harness.events();
    assert!(is_drop(&events[0], true), "{events:?}");
    // Stable: the first step again (1 s, the CONNECT was a minute ago).
    assert_eq!(harness.session.next_deadline(), Some(harness.now + 1_000));
    assert_eq!(
        harness.advance_to(harness.now + 1_000),
        vec![other(Event::Reconnecting { attempt: 1 })]
    );
}

#[test]
fn a_link_dropped_just_before_the_stable_period_continues_the_schedule() {
    let mut harness = Harness::connected(true);
    harness.feed_bytes(&GARBAGE);
    harness.events();
    let deadline = harness.session.next_deadline().unwrap();
    harness.advance_to(deadline);
    harness.transport_opened();
    harness.take_sent();
    assert_eq!(accept(&mut harness), vec![other(Event::Reconnected)]);
    harness.now += STABLE_LINK_MS - 1;
    harness.session.transport_closed(harness.now);
    let events = harness.events();
    assert!(is_drop(&events[0], true), "{events:?}");
    // Attempt 2 after the doubled delay (2 s); the CONNECT was long enough ago.
    assert_eq!(harness.session.next_deadline(), Some(harness.now + 2_000));
    assert_eq!(
        harness.advance_to(harness.now + 2_000),
        vec![other(Event::Reconnecting { attempt: 2 })]
    );
}
