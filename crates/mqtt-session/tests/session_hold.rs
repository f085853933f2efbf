//! Back-pressure: a held message keeps its acknowledgement and the bytes behind it until the
//! runner releases it, while the keep-alive keeps going and never declares the link dead.

mod session_support;

use mqtt_session::codec::{Packet, QoS};
use mqtt_session::session::{
    Event, SlotKind, MAX_INBOUND_PAYLOAD, MAX_INBOUND_TOPIC, MIN_RECEIVE_BUFFER,
    PING_RESPONSE_TIMEOUT_MS,
};
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

/// The largest deliverable message fills the receive buffer to its last byte: held, it stops
/// the reading (nothing more is taken), the keep-alive still sends its PINGREQs and never
/// drops the link, and after the release the PUBACK leaves and the bytes behind are read.
#[test]
fn a_held_message_of_the_largest_size_stops_the_reading_but_not_the_keep_alive() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/#", QoS::AtLeastOnce);
    let topic = format!("a/{}", "z".repeat(MAX_INBOUND_TOPIC - 2));
    let payload = [5u8; MAX_INBOUND_PAYLOAD];
    harness.publish_in(&topic, &payload, QoS::AtLeastOnce, 41, false);
    let (held_topic, held_payload) = poll_and_hold(&mut harness).unwrap();
    assert_eq!(
        (held_topic, held_payload),
        (topic.clone(), payload.to_vec())
    );
    assert!(!harness.session.can_take_input(), "the buffer is full");
    let mut pingresp = [0u8; 2];
    Packet::PingResp.encode(&mut pingresp).unwrap();
    assert_eq!(harness.session.handle_input(&pingresp), 0);
    let keep_alive = 1000 * u64::from(session_support::config(true).keep_alive_s);
    for period in 1..=2 {
        let due = harness.session.next_deadline().unwrap();
        assert!(
            due <= harness.now + keep_alive,
            "a ping due within a period"
        );
        assert_eq!(
            harness.advance_to(due + PING_RESPONSE_TIMEOUT_MS * 3),
            vec![]
        );
        assert_eq!(harness.sent(), vec!["PingReq"], "period {period}");
    }
    assert!(harness.session.is_usable());
    harness.session.release_held(harness.now);
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubAck(PacketId(41))"]);
    assert_eq!(harness.session.handle_input(&pingresp), 2);
    assert_eq!(harness.events(), vec![]);
    assert!(harness.session.is_usable());
}

/// A `clean_session=0` broker replays its queue right after a reconnect's CONNACK, ahead of
/// the re-subscription's SUBACK. The session reports `Reconnected` at the CONNACK, then
/// delivers the replay one held message at a time (each PUBACK only after its release) while
/// the bytes behind wait in the stream; the SUBACK is read behind the last message, and the
/// time spent holding does not count against its timeout.
#[test]
fn a_replay_ahead_of_the_resubscription_is_delivered_whole_with_back_pressure() {
    const QUEUED: u16 = 150;
    const WRITE_MS: u64 = 100;
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/#", QoS::AtLeastOnce);
    harness.session.transport_closed(harness.now);
    harness.events();
    let deadline = harness.session.next_deadline().unwrap();
    harness.advance_to(deadline);
    harness.transport_opened();
    harness.take_sent();
    harness.session.set_next_packet_id(session_support::id(500));

    let mut stream = Vec::new();
    let mut append = |packet: &Packet<'_>| {
        let start = stream.len();
        stream.resize(start + packet.encoded_length(), 0);
        packet.encode(&mut stream[start..]).unwrap();
    };
    append(&Packet::ConnAck(mqtt_session::codec::ConnAck {
        session_present: true,
        return_code: 0,
    }));
    let payloads: Vec<String> = (0..QUEUED).map(|number| format!("m{number:05}")).collect();
    for (number, payload) in payloads.iter().enumerate() {
        append(&Packet::Publish(mqtt_session::codec::Publish {
            duplicate: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/replay",
            packet_id: session_support::id(1 + number as u16).into(),
            payload: payload.as_bytes(),
        }));
    }
    append(&Packet::SubAck(mqtt_session::codec::SubAck {
        packet_id: session_support::id(500),
        return_codes: &[1],
    }));
    assert!(
        stream.len() > MIN_RECEIVE_BUFFER,
        "the replay is larger than the receive buffer"
    );

    let mut offset = 0;
    let mut order = Vec::new();
    let mut released = 0u16;
    let mut acknowledged: Vec<String> = Vec::new();
    loop {
        offset += harness.session.handle_input(&stream[offset..]);
        let now = harness.now;
        let event = harness.session.poll(now).map(|event| match event {
            Event::Reconnected => None,
            Event::Message(message) => Some(String::from_utf8(message.payload.to_vec()).unwrap()),
            other => panic!("unexpected {other:?}"),
        });
        // Every released message is acknowledged by this poll, none before its release.
        acknowledged.extend(
            harness
                .sent()
                .into_iter()
                .filter(|packet| packet.contains("PubAck")),
        );
        let expected: Vec<String> = (1..=released)
            .map(|packet_id| format!("PubAck(PacketId({packet_id}))"))
            .collect();
        assert_eq!(
            acknowledged, expected,
            "PUBACKs exactly of the released messages"
        );
        match event {
            None if offset == stream.len() => break,
            None => {}
            Some(None) => {
                assert!(order.is_empty(), "+TCMQTTRECONNECTED comes first");
                order.push("reconnected".to_owned());
            }
            Some(Some(payload)) => {
                order.push(payload);
                harness.session.hold_message(now);
                assert!(
                    harness.session.is_resubscribing(),
                    "the SUBACK is still behind"
                );
                // The URC is being written: nothing decoded, nothing acknowledged.
                harness.now += WRITE_MS;
                assert_eq!(harness.advance_to(harness.now), vec![]);
                assert_eq!(harness.sent(), Vec::<String>::new());
                harness.session.release_held(harness.now);
                released += 1;
            }
        }
    }
    let expected: Vec<String> = std::iter::once("reconnected".to_owned())
        .chain(payloads.iter().cloned())
        .collect();
    assert_eq!(
        order, expected,
        "every replayed message, in order, after Reconnected"
    );
    assert_eq!(acknowledged.len(), usize::from(QUEUED));
    assert!(
        harness.now - deadline > 5_000,
        "longer than the SUBACK timeout"
    );
    assert!(
        !harness.session.is_resubscribing(),
        "the SUBACK was read behind the replay"
    );
    assert_eq!(
        harness.user_filters(),
        vec![("a/#".to_owned(), QoS::AtLeastOnce)]
    );
}
