//! Session lifecycle with a deterministic clock: CONNECT/CONNACK, keep-alive, drops,
//! reconnect schedule, re-subscription, DISCONNECT.

mod session_support;

use mqtt_session::codec::{decode, ConnAck, Packet, QoS};
use mqtt_session::session::{
    ConnectFailure, ConnectRefusal, DisconnectError, DropReason, Event, Operation, SlotKind,
    UnsubscribeError, STABLE_LINK_MS,
};
use session_support::{config, id, identity, other, Harness, Seen};

fn connack(return_code: u8) -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present: false,
        return_code,
    })
}

#[test]
fn connect_writes_tencent_connect_and_connack_connects() {
    let mut harness = Harness::new(&[4660, 0]);
    let mut settings = config(true);
    settings.clean_session = false;
    harness
        .session
        .connect(settings, &identity(), harness.now)
        .unwrap();
    assert!(harness.session.is_running());
    assert!(!harness.session.is_usable());
    let bytes = harness.take_sent();
    let Some((Packet::Connect(connect), _)) = decode(&bytes).unwrap() else {
        panic!("CONNECT expected")
    };
    assert_eq!(connect.client_id, "CTQS08Y5LGDev01");
    // Random value 0 maps to connection id "AAAAA".
    assert_eq!(
        connect.username,
        Some("CTQS08Y5LGDev01;21010406;AAAAA;2147483647")
    );
    assert_eq!(connect.password, None);
    assert_eq!(connect.keep_alive, 60);
    assert!(!connect.clean_session);
    harness.feed(&Packet::ConnAck(ConnAck {
        session_present: true,
        return_code: 0,
    }));
    assert_eq!(
        harness.events(),
        vec![other(Event::Connected {
            session_present: true
        })]
    );
    assert!(harness.session.is_usable());
    assert_eq!(
        harness
            .session
            .connect(config(true), &identity(), harness.now),
        Err(mqtt_session::session::ConnectError::AlreadyRunning)
    );
}

#[test]
fn connack_refusals_map_to_sdk_codes_and_end_the_session() {
    for (return_code, sdk_code) in [
        (1, -113),
        (2, -114),
        (3, -115),
        (4, -116),
        (5, -117),
        (6, -112),
        (0x80, -112),
    ] {
        let mut harness = Harness::new(&[]);
        harness
            .session
            .connect(config(true), &identity(), harness.now)
            .unwrap();
        harness.feed(&connack(return_code));
        let refusal = ConnectRefusal { return_code };
        assert_eq!(
            harness.events(),
            vec![other(Event::ConnectRefused(refusal))]
        );
        assert_eq!(refusal.sdk_code(), sdk_code);
        assert!(!harness.session.is_running());
    }
}

#[test]
fn close_before_connack_is_608_and_timeout_is_202() {
    let mut harness = Harness::new(&[]);
    harness
        .session
        .connect(config(true), &identity(), harness.now)
        .unwrap();
    harness.session.transport_closed(harness.now);
    assert_eq!(
        harness.events(),
        vec![other(Event::ConnectFailed(
            ConnectFailure::ClosedBeforeConnack
        ))]
    );
    assert!(!harness.session.is_running());

    let mut harness = Harness::new(&[]);
    harness
        .session
        .connect(config(true), &identity(), 1_000)
        .unwrap();
    assert_eq!(harness.session.next_deadline(), Some(6_000));
    assert_eq!(harness.advance_to(5_999), vec![]);
    assert_eq!(
        harness.advance_to(6_000),
        vec![other(Event::ConnectFailed(ConnectFailure::Timeout))]
    );
    assert!(!harness.session.is_running());
}

#[test]
fn keep_alive_pings_every_interval_and_resets_on_pingresp() {
    let mut harness = Harness::connected(true);
    assert_eq!(harness.session.next_deadline(), Some(61_000));
    harness.advance_to(60_999);
    assert!(harness.sent().is_empty());
    harness.advance_to(61_000);
    assert_eq!(harness.sent(), vec!["PingReq"]);
    harness.feed(&Packet::PingResp);
    assert_eq!(harness.advance_to(70_000), vec![]);
    assert!(harness.sent().is_empty());
    // The next interval counts from the last PINGREQ.
    harness.advance_to(121_000);
    assert_eq!(harness.sent(), vec!["PingReq"]);
}

#[test]
fn unanswered_pings_repeat_after_5s_then_drop() {
    let mut harness = Harness::connected(false);
    harness.advance_to(61_000);
    assert_eq!(harness.sent(), vec!["PingReq"]);
    harness.advance_to(65_999);
    assert!(harness.sent().is_empty());
    harness.advance_to(66_000);
    assert_eq!(harness.sent(), vec!["PingReq"]);
    assert_eq!(harness.advance_to(70_999), vec![]);
    assert_eq!(
        harness.advance_to(71_000),
        vec![other(Event::Dropped {
            reason: DropReason::KeepAliveTimeout,
            reconnecting: false
        })]
    );
    assert!(!harness.session.is_running());
}

#[test]
fn drop_without_reconnect_ends_session_and_fails_waiting_operations() {
    let mut harness = Harness::connected(false);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtLeastOnce);
    let packet_id = harness
        .session
        .publish("a/b", b"x", QoS::AtLeastOnce, harness.now)
        .unwrap()
        .unwrap();
    harness.session.transport_closed(harness.now);
    assert_eq!(
        harness.events(),
        vec![
            other(Event::Dropped {
                reason: DropReason::TransportClosed,
                reconnecting: false
            }),
            other(Event::LinkLost {
                packet_id,
                operation: Operation::Publish
            }),
        ]
    );
    assert!(!harness.session.is_running());
    assert!(harness.user_filters().is_empty());
    assert!(harness.take_sent().is_empty());
}

/// Drops the link and fails every reconnect attempt; returns (time of each
/// `Reconnecting`, whether it gave up).
fn fail_every_attempt(base_random: u32) -> Vec<u64> {
    let mut harness = Harness::connected(true);
    harness.push_random(&[base_random]);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtMostOnce);
    // A link that served for a minute: the schedule starts from its first step.
    harness.now += STABLE_LINK_MS;
    let dropped_at = harness.now;
    harness.session.transport_closed(dropped_at);
    assert_eq!(
        harness.events(),
        vec![other(Event::Dropped {
            reason: DropReason::TransportClosed,
            reconnecting: true
        })]
    );
    assert!(harness.session.is_running());
    assert!(!harness.session.is_usable());
    // The list survives the drop (AT+TCMQTTSUB? still shows it).
    assert_eq!(harness.user_filters().len(), 1);
    let mut attempt_times = Vec::new();
    loop {
        let deadline = harness.session.next_deadline().expect("backing off");
        assert_eq!(harness.advance_to(deadline - 1), vec![]);
        let events = harness.advance_to(deadline);
        let attempt = attempt_times.len() as u8 + 1;
        assert_eq!(events, vec![other(Event::Reconnecting { attempt })]);
        attempt_times.push(deadline - dropped_at);
        // DNS/TCP/TLS fails at once.
        harness.session.transport_closed(harness.now);
        let events = harness.events();
        assert_eq!(events[0], other(Event::ReconnectAttemptFailed { attempt }));
        if events.len() == 2 {
            assert_eq!(events[1], other(Event::GaveUp));
            assert!(!harness.session.is_running());
            assert!(harness.user_filters().is_empty());
            return attempt_times;
        }
    }
}

#[test]
fn reconnect_with_1000ms_base_makes_six_attempts() {
    let times = fail_every_attempt(0);
    assert_eq!(times, vec![1_000, 3_000, 7_000, 15_000, 31_000, 63_000]);
}

#[test]
fn reconnect_with_1990ms_base_makes_five_attempts() {
    let times = fail_every_attempt(99);
    assert_eq!(times, vec![1_990, 5_970, 13_930, 29_850, 61_690]);
}

#[test]
fn reconnect_attempt_is_bounded_by_max_of_cmdtimeout_and_5s() {
    let mut harness = Harness::connected(true);
    harness.push_random(&[0, 7]);
    harness.now += STABLE_LINK_MS;
    harness.session.transport_closed(harness.now);
    harness.events();
    let start = harness.now + 1_000;
    assert_eq!(
        harness.advance_to(start),
        vec![other(Event::Reconnecting { attempt: 1 })]
    );
    harness.transport_opened();
    harness.transport_opened();
    let bytes = harness.take_sent();
    let (packet, length) = decode(&bytes).unwrap().unwrap();
    assert_eq!(length, bytes.len(), "one CONNECT per attempt");
    let Packet::Connect(connect) = packet else {
        panic!("CONNECT expected")
    };
    // A fresh connection id from the next random value (7 → "HAAAA").
    assert_eq!(
        connect.username,
        Some("CTQS08Y5LGDev01;21010406;HAAAA;2147483647")
    );
    assert_eq!(harness.advance_to(start + 4_999), vec![]);
    assert_eq!(
        harness.advance_to(start + 5_000),
        vec![other(Event::ReconnectAttemptFailed { attempt: 1 })]
    );
    // The next attempt waits the doubled delay.
    assert_eq!(harness.session.next_deadline(), Some(start + 5_000 + 2_000));
}

#[test]
fn refused_reconnect_connack_counts_as_a_failed_attempt() {
    let mut harness = Harness::connected(true);
    harness.session.transport_closed(harness.now);
    harness.events();
    let deadline = harness.session.next_deadline().unwrap();
    harness.advance_to(deadline);
    harness.transport_opened();
    harness.take_sent();
    harness.feed(&connack(5));
    assert_eq!(
        harness.events(),
        vec![other(Event::ReconnectAttemptFailed { attempt: 1 })]
    );
    assert!(harness.session.is_running());
}

#[test]
fn reconnect_resubscribes_every_slot_and_removes_refused_user_filters() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/1", QoS::AtLeastOnce);
    harness.subscribe_granted(SlotKind::User, "a/2", QoS::AtMostOnce);
    harness.subscribe_granted(SlotKind::User, "a/3", QoS::AtLeastOnce);
    harness.subscribe_granted(SlotKind::User, "a/4", QoS::AtMostOnce);
    harness.subscribe_granted(
        SlotKind::Internal,
        "$ota/update/CTQS08Y5LG/Dev01",
        QoS::AtLeastOnce,
    );
    harness.session.transport_closed(harness.now);
    harness.events();
    let deadline = harness.session.next_deadline().unwrap();
    harness.advance_to(deadline);
    harness.transport_opened();
    harness.take_sent();
    harness.session.set_next_packet_id(id(100));
    harness.feed(&connack(0));
    assert_eq!(
        harness.events(),
        vec![other(Event::Reconnected)],
        "CONN is true from the CONNACK on; the re-subscription runs behind it"
    );
    assert!(harness.session.is_usable());
    assert!(harness.session.is_resubscribing());
    assert_eq!(
        harness
            .session
            .unsubscribe(SlotKind::User, "a/1", harness.now),
        Err(UnsubscribeError::TooManyInFlight),
        "a removal would shift the table the re-subscription walks"
    );

    let expect_subscribe = |harness: &mut Harness, packet_id: u16, filter: &str, qos: u8| {
        let sent = harness.sent();
        assert_eq!(sent.len(), 1);
        assert!(
            sent[0].contains(&format!("packet_id: PacketId({packet_id})")),
            "{sent:?}"
        );
        assert!(
            sent[0].contains(&format!("filter: \"{filter}\"")),
            "{sent:?}"
        );
        let qos_name = ["AtMostOnce", "AtLeastOnce"][usize::from(qos)];
        assert!(sent[0].contains(qos_name), "{sent:?}");
    };
    // Internal slots first (`cloud.md` §3 item 4); a refused one is kept for its owner.
    expect_subscribe(&mut harness, 100, "$ota/update/CTQS08Y5LG/Dev01", 1);
    harness.suback(100, 0x80);
    assert_eq!(harness.events(), vec![]);
    expect_subscribe(&mut harness, 101, "a/1", 1);
    harness.suback(101, 1);
    assert_eq!(harness.events(), vec![]);
    expect_subscribe(&mut harness, 102, "a/2", 0);
    harness.suback(102, 0x80);
    assert_eq!(harness.events(), vec![]);
    expect_subscribe(&mut harness, 103, "a/3", 1);
    // A message arriving while re-subscribing is delivered; the runner holds it.
    harness.publish_in("a/1", b"early", QoS::AtMostOnce, 0, false);
    let events = harness.events();
    assert!(matches!(&events[..], [Seen::Message { payload, .. }] if payload == b"early"));
    assert!(harness.session.is_resubscribing());
    // No SUBACK for a/3: the timeout removes it.
    harness.advance_to(harness.now + 5_000);
    expect_subscribe(&mut harness, 104, "a/4", 0);
    // A late SUBACK for a/3 is ignored.
    harness.suback(103, 1);
    harness.suback(104, 0);
    assert_eq!(harness.events(), vec![]);
    assert!(harness.session.is_usable());
    assert!(!harness.session.is_resubscribing());
    assert_eq!(
        harness.user_filters(),
        vec![
            ("a/1".to_owned(), QoS::AtLeastOnce),
            ("a/4".to_owned(), QoS::AtMostOnce)
        ]
    );
    // A refused internal filter is kept for its owner to decide.
    assert_eq!(harness.session.subscriptions(SlotKind::Internal).len(), 1);
}

#[test]
fn reconnect_without_slots_is_immediately_reconnected() {
    let mut harness = Harness::connected(true);
    harness.session.transport_closed(harness.now);
    harness.events();
    let deadline = harness.session.next_deadline().unwrap();
    harness.advance_to(deadline);
    harness.transport_opened();
    harness.take_sent();
    harness.feed(&connack(0));
    assert_eq!(harness.events(), vec![other(Event::Reconnected)]);
    assert!(harness.session.is_usable());
}

#[test]
fn disconnect_sends_disconnect_and_forgets_everything() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtLeastOnce);
    harness
        .session
        .publish("a/b", b"x", QoS::AtLeastOnce, harness.now)
        .unwrap();
    harness.take_sent();
    assert_eq!(harness.session.disconnect(), Ok(()));
    assert_eq!(harness.sent(), vec!["Disconnect"]);
    assert_eq!(harness.events(), vec![]);
    assert!(!harness.session.is_running());
    assert!(harness.user_filters().is_empty());
    assert_eq!(
        harness.session.disconnect(),
        Err(DisconnectError::NotRunning)
    );
    // Bytes after the disconnect are discarded.
    assert_eq!(harness.session.handle_input(&[0x40, 0x02, 0, 1]), 4);
    assert_eq!(harness.events(), vec![]);
}

#[test]
fn disconnect_while_backing_off_sends_nothing() {
    let mut harness = Harness::connected(true);
    harness.session.transport_closed(harness.now);
    harness.events();
    assert_eq!(harness.session.disconnect(), Ok(()));
    assert!(harness.take_sent().is_empty());
    assert!(!harness.session.is_running());
    assert_eq!(harness.session.next_deadline(), None);
}

#[test]
fn malformed_broker_bytes_drop_the_link() {
    let mut harness = Harness::connected(false);
    harness.feed_bytes(&[0x40, 0x02, 0, 0]);
    assert_eq!(
        harness.events(),
        vec![other(Event::Dropped {
            reason: DropReason::Malformed(mqtt_session::codec::DecodeError::ZeroPacketId),
            reconnecting: false
        })]
    );
    let mut harness = Harness::connected(false);
    harness.feed(&Packet::PingReq);
    assert_eq!(
        harness.events(),
        vec![other(Event::Dropped {
            reason: DropReason::UnexpectedPacket,
            reconnecting: false
        })]
    );
}

/// Reconnects a harness whose link just went down; the next packet id is 200.
fn reconnect(harness: &mut Harness) {
    let deadline = harness.session.next_deadline().unwrap();
    harness.advance_to(deadline);
    harness.transport_opened();
    harness.take_sent();
    harness.session.set_next_packet_id(id(200));
    harness.feed(&connack(0));
}

#[test]
fn a_deferred_resubscription_stops_after_the_internal_slots_until_resumed() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "sub/dev/data", QoS::AtMostOnce);
    harness.subscribe_granted(
        SlotKind::Internal,
        "$gateway/operation/result/GW/dev",
        QoS::AtLeastOnce,
    );
    harness.session.transport_closed(harness.now);
    let events = harness.events();
    assert!(
        matches!(&events[..], [Seen::Other(text)] if text.contains("reconnecting: true")),
        "{events:?}"
    );
    // The runner asks at the drop (the gateway has sub-devices to re-online).
    harness.session.defer_user_resubscription();
    reconnect(&mut harness);
    assert_eq!(harness.events(), vec![other(Event::Reconnected)]);
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].contains("$gateway/operation/result/GW/dev"),
        "{sent:?}"
    );
    harness.suback(200, 1);
    assert_eq!(
        harness.events(),
        vec![other(Event::InternalSlotsRestored)],
        "the user slot waits"
    );
    assert!(harness.sent().is_empty());
    assert!(harness.session.is_resubscribing());
    // The runner publishes meanwhile (the re-online requests).
    harness
        .session
        .publish(
            "$gateway/operation/GW/dev",
            b"{}",
            QoS::AtMostOnce,
            harness.now,
        )
        .unwrap();
    assert_eq!(harness.sent().len(), 1);
    harness.session.resume_resubscription(harness.now);
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("sub/dev/data"), "{sent:?}");
    harness.suback(201, 0);
    assert_eq!(harness.events(), vec![]);
    assert!(!harness.session.is_resubscribing());

    // A drop clears the request: the next reconnect re-subscribes everything at once.
    harness.session.transport_closed(harness.now);
    harness.events();
    reconnect(&mut harness);
    assert_eq!(harness.events(), vec![other(Event::Reconnected)]);
    let sent = harness.sent();
    assert!(sent[0].contains("PacketId(200)"), "{sent:?}");
    harness.suback(200, 1);
    let events = harness.events();
    let sent = harness.sent();
    assert!(sent[0].contains("sub/dev/data"), "{sent:?} {events:?}");
}

#[test]
fn a_deferral_without_internal_slots_stops_at_once_and_an_idle_session_ignores_it() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtMostOnce);
    harness.session.transport_closed(harness.now);
    harness.events();
    harness.session.defer_user_resubscription();
    reconnect(&mut harness);
    assert_eq!(
        harness.events(),
        vec![
            other(Event::Reconnected),
            other(Event::InternalSlotsRestored)
        ]
    );
    assert!(harness.sent().is_empty());
    harness.session.resume_resubscription(harness.now);
    assert_eq!(harness.sent().len(), 1);
    // Resuming twice sends nothing more.
    harness.session.resume_resubscription(harness.now);
    assert!(harness.sent().is_empty());

    let mut idle = Harness::new(&[1, 2]);
    idle.session.defer_user_resubscription();
    idle.session.resume_resubscription(idle.now);
    assert!(idle.sent().is_empty());
}

#[test]
fn publish_with_writes_the_bytes_publish_writes() {
    for (qos, length) in [
        (QoS::AtMostOnce, 0),
        (QoS::AtMostOnce, 100),
        (QoS::AtMostOnce, 300),
        (QoS::AtLeastOnce, 120),
        (QoS::AtLeastOnce, 2000),
    ] {
        let payload: Vec<u8> = (0..length).map(|index| (index % 251) as u8).collect();
        let mut copied = Harness::connected(true);
        copied.session.set_next_packet_id(id(7));
        copied.take_sent();
        let expected = copied
            .session
            .publish("$gateway/operation/GW/dev", &payload, qos, copied.now)
            .unwrap();
        let mut in_place = Harness::connected(true);
        in_place.session.set_next_packet_id(id(7));
        in_place.take_sent();
        // Something already waiting in the transmit buffer stays in front.
        in_place
            .session
            .publish("x", b"first", QoS::AtMostOnce, 0)
            .unwrap();
        let mut first = Harness::connected(true);
        first.take_sent();
        first
            .session
            .publish("x", b"first", QoS::AtMostOnce, 0)
            .unwrap();
        let prefix = first.take_sent();
        let written = in_place
            .session
            .publish_with("$gateway/operation/GW/dev", qos, in_place.now, |room| {
                room.get_mut(..length)?.copy_from_slice(&payload);
                Some(length)
            })
            .unwrap();
        assert_eq!(written, expected);
        let mut bytes = prefix;
        bytes.extend(copied.take_sent());
        assert_eq!(in_place.take_sent(), bytes, "{qos:?} {length}");
    }
    let mut harness = Harness::connected(true);
    harness.take_sent();
    let refused = harness
        .session
        .publish_with("t", QoS::AtMostOnce, harness.now, |_| None);
    assert_eq!(
        refused,
        Err(mqtt_session::session::PublishError::BufferFull)
    );
    assert!(harness.take_sent().is_empty());
}
