//! Back-pressure: a held message keeps its acknowledgement and the bytes behind it until the
//! runner releases it, while the keep-alive keeps going and never declares the link dead.

mod session_support;

use mqtt_session::codec::{Packet, QoS};
use mqtt_session::session::{Event, SlotKind, PING_RESPONSE_TIMEOUT_MS};
use session_support::{Harness, Seen};

/// Polls once; holds the message if one came.
fn poll_and_hold(harness: &mut Harness) -> Option<(String, Vec<u8>)> {
    let now = harness.now;
    let delivered = match harness.session.poll(now)? {
        Event::Message(message) => Some((message.topic.to_owned(), message.payload.to_vec())),
        _ => None,
    };
    harness.session.hold_message(now);
    delivered
}

#[test]
fn a_held_message_is_acknowledged_only_after_release_and_blocks_the_next() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/#", QoS::AtLeastOnce);
    harness.publish_in("a/1", b"first", QoS::AtLeastOnce, 11, false);
    harness.publish_in("a/2", b"second", QoS::AtLeastOnce, 12, false);
    assert_eq!(
        poll_and_hold(&mut harness),
        Some(("a/1".to_owned(), b"first".to_vec()))
    );
    assert!(harness.session.is_holding());
    // Held: nothing decoded, nothing acknowledged.
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), Vec::<String>::new());
    let held = harness.session.held_message().unwrap();
    assert_eq!((held.topic, held.payload), ("a/1", &b"first"[..]));
    harness.session.release_held(harness.now);
    let events = harness.events();
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0], Seen::Message { payload, .. } if payload == b"second"));
    let sent = harness.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains("PubAck(PacketId(11))"), "{sent:?}");
    assert!(sent[1].contains("PubAck(PacketId(12))"), "{sent:?}");
}

#[test]
fn while_held_pings_go_out_and_an_unread_pingresp_is_no_timeout() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/#", QoS::AtMostOnce);
    harness.publish_in("a/1", b"first", QoS::AtMostOnce, 0, false);
    assert!(poll_and_hold(&mut harness).is_some());
    let keep_alive = 1000 * u64::from(session_support::config(true).keep_alive_s);
    let mut pings = 0;
    for _ in 0..3 {
        let due = harness.session.next_deadline().unwrap();
        assert!(
            due <= harness.now + keep_alive,
            "a ping due within a period"
        );
        assert_eq!(harness.advance_to(due), vec![]);
        // Far past the response timeout: still no drop.
        assert_eq!(
            harness.advance_to(due + PING_RESPONSE_TIMEOUT_MS * 3),
            vec![]
        );
        pings += harness
            .sent()
            .iter()
            .filter(|packet| packet.contains("PingReq"))
            .count();
    }
    assert_eq!(pings, 3, "one PINGREQ per keep-alive period");
    assert!(harness.session.is_usable());
    // The PINGRESP queued behind the held message is read after the release.
    harness.feed(&Packet::PingResp);
    harness.session.release_held(harness.now);
    assert_eq!(harness.events(), vec![]);
    assert!(harness.session.is_usable());
}
