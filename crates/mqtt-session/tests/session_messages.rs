//! Session traffic with a deterministic clock: publish/PUBACK, inbound QoS 1/2 and
//! duplicates, oversized messages, the subscription table rules of AT+TCMQTTSUB/UNSUB.

mod session_support;

use mqtt_session::codec::{Packet, Publish, QoS};
use mqtt_session::session::{
    Event, PublishError, SlotKind, SubscribeError, UnsubscribeError, MAX_INBOUND_PAYLOAD,
    MAX_INBOUND_TOPIC, MIN_RECEIVE_BUFFER,
};
use session_support::{id, other, Harness, Seen};

fn message(topic: &str, payload: &[u8], qos: QoS) -> Seen {
    Seen::Message {
        topic: topic.to_owned(),
        payload: payload.to_vec(),
        qos,
        for_user: true,
        for_internal: false,
    }
}

#[test]
fn qos1_publish_uses_random_start_id_and_matches_puback() {
    let mut harness = Harness::connected(true);
    let first = harness
        .session
        .publish("a/b", b"one", QoS::AtLeastOnce, harness.now)
        .unwrap();
    assert_eq!(first, Some(id(4661)));
    let second = harness
        .session
        .publish("a/b", b"two", QoS::AtLeastOnce, harness.now)
        .unwrap();
    assert_eq!(second, Some(id(4662)));
    let sent = harness.sent();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].contains("PacketId(4661)")
            && sent[0].contains("duplicate: false")
            && sent[0].contains("retain: false")
    );
    harness.feed(&Packet::PubAck(id(4662)));
    harness.feed(&Packet::PubAck(id(4661)));
    assert_eq!(
        harness.events(),
        vec![
            other(Event::Published {
                packet_id: id(4662)
            }),
            other(Event::Published {
                packet_id: id(4661)
            })
        ]
    );
    // An unknown PUBACK is ignored.
    harness.feed(&Packet::PubAck(id(9)));
    assert_eq!(harness.events(), vec![]);
}

#[test]
fn packet_ids_wrap_from_65535_to_1() {
    let mut harness = Harness::connected(true);
    harness.session.set_next_packet_id(id(65_535));
    assert_eq!(
        harness
            .session
            .publish("t", b"x", QoS::AtLeastOnce, harness.now),
        Ok(Some(id(65_535)))
    );
    assert_eq!(
        harness
            .session
            .publish("t", b"x", QoS::AtLeastOnce, harness.now),
        Ok(Some(id(1)))
    );
}

#[test]
fn qos0_publish_is_written_without_id_or_wait() {
    let mut harness = Harness::connected(true);
    assert_eq!(
        harness
            .session
            .publish("a/b", b"x", QoS::AtMostOnce, harness.now),
        Ok(None)
    );
    assert_eq!(
        harness.take_sent(),
        vec![0x30, 0x06, 0, 3, b'a', b'/', b'b', b'x']
    );
    assert_eq!(
        harness.session.next_deadline(),
        Some(61_000),
        "only the keep-alive is pending"
    );
}

#[test]
fn missing_puback_times_out_after_cmdtimeout_and_late_puback_is_ignored() {
    let mut harness = Harness::connected(true);
    let packet_id = harness
        .session
        .publish("a/b", b"x", QoS::AtLeastOnce, 2_000)
        .unwrap()
        .unwrap();
    assert_eq!(harness.sent().len(), 1);
    assert_eq!(harness.advance_to(6_999), vec![]);
    assert_eq!(
        harness.advance_to(7_000),
        vec![other(Event::PublishTimeout { packet_id })]
    );
    harness.feed(&Packet::PubAck(packet_id));
    assert_eq!(harness.events(), vec![]);
    // Never retransmitted.
    assert!(harness.sent().is_empty());
}

#[test]
fn publish_checks_connection_topic_and_size() {
    let mut harness = Harness::new(&[]);
    assert_eq!(
        harness.session.publish("a", b"x", QoS::AtMostOnce, 0),
        Err(PublishError::NotConnected)
    );
    let mut harness = Harness::connected(true);
    assert_eq!(
        harness.session.publish("a/+", b"x", QoS::AtMostOnce, 0),
        Err(PublishError::InvalidTopic)
    );
    assert_eq!(
        harness.session.publish("a/#", b"x", QoS::AtMostOnce, 0),
        Err(PublishError::InvalidTopic)
    );
    assert_eq!(
        harness.session.publish("a", b"x", QoS::ExactlyOnce, 0),
        Err(PublishError::UnsupportedQos)
    );
    // The largest AT publish fits: 2048 bytes on a 128-byte topic.
    let topic = "t".repeat(128);
    let payload = vec![0x55u8; 2048];
    assert!(harness
        .session
        .publish(&topic, &payload, QoS::AtLeastOnce, 0)
        .is_ok());
    assert_eq!(
        harness
            .session
            .publish(&topic, &payload, QoS::AtLeastOnce, 0),
        Err(PublishError::BufferFull)
    );
    harness.take_sent();
    assert_eq!(
        harness.session.publish("a", &[0; 2400], QoS::AtMostOnce, 0),
        Err(PublishError::TooLarge)
    );
}

#[test]
fn inbound_qos1_is_delivered_then_acknowledged() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/+", QoS::AtLeastOnce);
    harness.publish_in("a/b", b"hello\0,\"", QoS::AtLeastOnce, 7, false);
    let event = harness.session.poll(harness.now);
    assert!(matches!(event, Some(Event::Message(message)) if message.payload == b"hello\0,\""));
    assert!(
        harness.take_sent().is_empty(),
        "PUBACK only after the message was handled"
    );
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubAck(PacketId(7))"]);
}

#[test]
fn duplicates_need_dup_flag_and_a_recent_id() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtLeastOnce);
    harness.publish_in("a/b", b"1", QoS::AtLeastOnce, 7, false);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"1", QoS::AtLeastOnce)]
    );
    harness.sent();
    // DUP with a recent id: acknowledged, not delivered again.
    harness.publish_in("a/b", b"1", QoS::AtLeastOnce, 7, true);
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubAck(PacketId(7))"]);
    assert_eq!(harness.session.statistics().duplicates_suppressed, 1);
    // Same id without DUP: a fresh message reusing the id.
    harness.publish_in("a/b", b"2", QoS::AtLeastOnce, 7, false);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"2", QoS::AtLeastOnce)]
    );
    // DUP with an id that is no longer among the last 10: delivered.
    for packet_id in 100..110 {
        harness.publish_in("a/b", b"n", QoS::AtLeastOnce, packet_id, false);
    }
    assert_eq!(harness.events().len(), 10);
    harness.publish_in("a/b", b"3", QoS::AtLeastOnce, 7, true);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"3", QoS::AtLeastOnce)]
    );
    harness.publish_in("a/b", b"4", QoS::AtLeastOnce, 109, true);
    assert_eq!(harness.events(), vec![]);
}

#[test]
fn inbound_qos2_is_acknowledged_per_mqtt_and_delivered_once() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtLeastOnce);
    harness.publish_in("a/b", b"q2", QoS::ExactlyOnce, 9, false);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"q2", QoS::ExactlyOnce)]
    );
    assert_eq!(harness.sent(), vec!["PubRec(PacketId(9))"]);
    harness.publish_in("a/b", b"q2", QoS::ExactlyOnce, 9, true);
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubRec(PacketId(9))"]);
    harness.feed(&Packet::PubRel(id(9)));
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubComp(PacketId(9))"]);
    // After the PUBREL the id is free again.
    harness.publish_in("a/b", b"next", QoS::ExactlyOnce, 9, false);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"next", QoS::ExactlyOnce)]
    );
}

#[test]
fn oversized_and_unmatched_messages_are_acknowledged_and_counted() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtLeastOnce);
    harness.publish_in("a/b", &[1; 2049], QoS::AtLeastOnce, 11, false);
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubAck(PacketId(11))"]);
    harness.publish_in("x/y", b"nobody", QoS::AtLeastOnce, 12, false);
    assert_eq!(harness.events(), vec![]);
    assert_eq!(harness.sent(), vec!["PubAck(PacketId(12))"]);
    // Exactly 2048 bytes with a 255-byte topic is delivered.
    let long_topic = format!("a/{}", "z".repeat(253));
    harness.subscribe_granted(SlotKind::User, "a/#", QoS::AtLeastOnce);
    harness.publish_in(&long_topic, &[2; 2048], QoS::AtMostOnce, 0, false);
    assert_eq!(
        harness.events(),
        vec![message(&long_topic, &[2; 2048], QoS::AtMostOnce)]
    );
    let statistics = harness.session.statistics();
    assert_eq!(
        (statistics.oversize_dropped, statistics.unmatched_dropped),
        (1, 1)
    );
}

/// The receive buffer is exactly the largest deliverable PUBLISH (a 2048-byte payload on a
/// 255-byte topic, QoS 1): it arrives whole; one byte more, in the payload or in the topic, is
/// skipped while it streams in, acknowledged and counted.
#[test]
fn the_largest_deliverable_publish_arrives_whole_and_one_byte_more_is_skipped_and_acknowledged() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/#", QoS::AtLeastOnce);
    let topic = format!("a/{}", "z".repeat(MAX_INBOUND_TOPIC - 2));
    let largest = Packet::Publish(Publish {
        duplicate: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: &topic,
        packet_id: Some(id(31)),
        payload: &[3; MAX_INBOUND_PAYLOAD],
    });
    assert_eq!(largest.encoded_length(), MIN_RECEIVE_BUFFER);
    harness.feed(&largest);
    assert_eq!(
        harness.events(),
        vec![message(&topic, &[3; MAX_INBOUND_PAYLOAD], QoS::AtLeastOnce)]
    );
    assert_eq!(harness.sent(), vec!["PubAck(PacketId(31))"]);
    harness.publish_in(
        &topic,
        &[4; MAX_INBOUND_PAYLOAD + 1],
        QoS::AtLeastOnce,
        32,
        false,
    );
    let longer_topic = format!("{topic}z");
    harness.publish_in(
        &longer_topic,
        &[4; MAX_INBOUND_PAYLOAD],
        QoS::AtLeastOnce,
        33,
        false,
    );
    harness.publish_in("a/b", b"after", QoS::AtLeastOnce, 34, false);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"after", QoS::AtLeastOnce)]
    );
    assert_eq!(
        harness.sent(),
        vec![
            "PubAck(PacketId(32))",
            "PubAck(PacketId(33))",
            "PubAck(PacketId(34))"
        ]
    );
    assert_eq!(harness.session.statistics().oversize_dropped, 2);
}

#[test]
fn packets_larger_than_the_receive_buffer_are_skipped_and_acknowledged() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a/b", QoS::AtLeastOnce);
    harness.publish_in("a/b", &[7; 6000], QoS::AtLeastOnce, 21, false);
    harness.publish_in("a/b", b"after", QoS::AtLeastOnce, 22, false);
    assert_eq!(
        harness.events(),
        vec![message("a/b", b"after", QoS::AtLeastOnce)]
    );
    assert_eq!(
        harness.sent(),
        vec!["PubAck(PacketId(21))", "PubAck(PacketId(22))"]
    );
    assert_eq!(harness.session.statistics().oversize_dropped, 1);
}

#[test]
fn messages_are_routed_to_user_and_internal_slots() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "p/d/#", QoS::AtMostOnce);
    harness.subscribe_granted(SlotKind::Internal, "$ota/update/p/d", QoS::AtLeastOnce);
    harness.publish_in("$ota/update/p/d", b"ota", QoS::AtMostOnce, 0, false);
    harness.publish_in("p/d/data", b"user", QoS::AtMostOnce, 0, false);
    let flags: Vec<(bool, bool)> = harness
        .events()
        .into_iter()
        .map(|seen| match seen {
            Seen::Message {
                for_user,
                for_internal,
                ..
            } => (for_user, for_internal),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(flags, vec![(false, true), (true, false)]);
}

#[test]
fn eleventh_user_filter_fails_at_once_with_nothing_sent() {
    let mut harness = Harness::connected(true);
    for index in 0..10 {
        harness.subscribe_granted(SlotKind::User, &format!("t/{index}"), QoS::AtMostOnce);
    }
    assert_eq!(
        harness
            .session
            .subscribe(SlotKind::User, "t/10", QoS::AtMostOnce, harness.now),
        Err(SubscribeError::TableFull)
    );
    assert!(harness.take_sent().is_empty());
    // Internal slots are separate and never reduce the 10.
    harness.subscribe_granted(SlotKind::Internal, "$ota/update/p/d", QoS::AtLeastOnce);
    // Re-subscribing an existing filter is still allowed when full.
    harness.subscribe_granted(SlotKind::User, "t/3", QoS::AtLeastOnce);
    assert_eq!(harness.user_filters().len(), 10);
    assert_eq!(
        harness.user_filters()[3],
        ("t/3".to_owned(), QoS::AtLeastOnce)
    );
}

#[test]
fn pending_new_filters_count_towards_the_limit() {
    let mut harness = Harness::connected(true);
    for index in 0..9 {
        harness.subscribe_granted(SlotKind::User, &format!("t/{index}"), QoS::AtMostOnce);
    }
    harness
        .session
        .subscribe(SlotKind::User, "t/9", QoS::AtMostOnce, harness.now)
        .unwrap();
    assert_eq!(
        harness
            .session
            .subscribe(SlotKind::User, "t/10", QoS::AtMostOnce, harness.now),
        Err(SubscribeError::TableFull)
    );
}

#[test]
fn resubscribe_keeps_position_updates_qos_and_failures_leave_slot_unchanged() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a", QoS::AtMostOnce);
    harness.subscribe_granted(SlotKind::User, "b", QoS::AtMostOnce);
    let packet_id = harness.subscribe_granted(SlotKind::User, "a", QoS::AtLeastOnce);
    assert_eq!(
        harness.user_filters(),
        vec![
            ("a".to_owned(), QoS::AtLeastOnce),
            ("b".to_owned(), QoS::AtMostOnce)
        ]
    );
    let _ = packet_id;
    // Refused re-subscribe: unchanged.
    let refused = harness
        .session
        .subscribe(SlotKind::User, "b", QoS::AtLeastOnce, harness.now)
        .unwrap();
    harness.suback(refused.get(), 0x80);
    assert_eq!(
        harness.events(),
        vec![other(Event::SubscribeRefused {
            packet_id: refused,
            kind: SlotKind::User
        })]
    );
    // Timed-out re-subscribe: unchanged, late SUBACK ignored.
    let timed_out = harness
        .session
        .subscribe(SlotKind::User, "b", QoS::AtLeastOnce, harness.now)
        .unwrap();
    assert_eq!(
        harness.advance_to(harness.now + 5_000),
        vec![other(Event::SubscribeTimeout {
            packet_id: timed_out,
            kind: SlotKind::User
        })]
    );
    harness.suback(timed_out.get(), 1);
    assert_eq!(harness.events(), vec![]);
    assert_eq!(
        harness.user_filters(),
        vec![
            ("a".to_owned(), QoS::AtLeastOnce),
            ("b".to_owned(), QoS::AtMostOnce)
        ]
    );
    // A refused new filter is not stored.
    let new = harness
        .session
        .subscribe(SlotKind::User, "c", QoS::AtMostOnce, harness.now)
        .unwrap();
    harness.suback(new.get(), 0x80);
    harness.events();
    assert_eq!(harness.user_filters().len(), 2);
    // Granted event names the slot.
    let granted = harness
        .session
        .subscribe(SlotKind::User, "c", QoS::AtLeastOnce, harness.now)
        .unwrap();
    harness.suback(granted.get(), 1);
    assert_eq!(
        harness.events(),
        vec![other(Event::Subscribed {
            packet_id: granted,
            kind: SlotKind::User,
            slot: 2,
            granted: QoS::AtLeastOnce
        })]
    );
}

#[test]
fn subscribe_rejects_invalid_filters_and_disconnected_state() {
    let mut harness = Harness::new(&[]);
    assert_eq!(
        harness
            .session
            .subscribe(SlotKind::User, "a", QoS::AtMostOnce, 0),
        Err(SubscribeError::NotConnected)
    );
    let mut harness = Harness::connected(true);
    for filter in ["", "a/#/b", "a+", &"x".repeat(129)] {
        assert_eq!(
            harness
                .session
                .subscribe(SlotKind::User, filter, QoS::AtMostOnce, 0),
            Err(SubscribeError::InvalidFilter)
        );
    }
}

#[test]
fn unsubscribe_removes_exactly_one_filter() {
    let mut harness = Harness::connected(true);
    for filter in ["a/#", "a/+", "a/b"] {
        harness.subscribe_granted(SlotKind::User, filter, QoS::AtMostOnce);
    }
    assert_eq!(
        harness
            .session
            .unsubscribe(SlotKind::User, "a/c", harness.now),
        Err(UnsubscribeError::NotSubscribed)
    );
    let packet_id = harness
        .session
        .unsubscribe(SlotKind::User, "a/#", harness.now)
        .unwrap()
        .unwrap();
    let sent = harness.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].starts_with("Unsubscribe") && sent[0].contains("\"a/#\""),
        "{sent:?}"
    );
    assert_eq!(
        harness.user_filters(),
        vec![
            ("a/+".to_owned(), QoS::AtMostOnce),
            ("a/b".to_owned(), QoS::AtMostOnce)
        ]
    );
    harness.feed(&Packet::UnsubAck(packet_id));
    assert_eq!(
        harness.events(),
        vec![other(Event::Unsubscribed { packet_id })]
    );
    // Timeout: the slot stays removed.
    let packet_id = harness
        .session
        .unsubscribe(SlotKind::User, "a/+", harness.now)
        .unwrap()
        .unwrap();
    assert_eq!(
        harness.advance_to(harness.now + 5_000),
        vec![other(Event::UnsubscribeTimeout { packet_id })]
    );
    assert_eq!(
        harness.user_filters(),
        vec![("a/b".to_owned(), QoS::AtMostOnce)]
    );
}

#[test]
fn unsubscribe_of_a_filter_shared_with_internal_sends_nothing() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "$ota/update/p/d", QoS::AtLeastOnce);
    harness.subscribe_granted(SlotKind::Internal, "$ota/update/p/d", QoS::AtLeastOnce);
    assert_eq!(
        harness
            .session
            .unsubscribe(SlotKind::User, "$ota/update/p/d", harness.now),
        Ok(None)
    );
    assert!(harness.take_sent().is_empty());
    assert!(harness.user_filters().is_empty());
    // The internal one still routes.
    harness.publish_in("$ota/update/p/d", b"x", QoS::AtMostOnce, 0, false);
    assert!(matches!(
        &harness.events()[..],
        [Seen::Message {
            for_user: false,
            for_internal: true,
            ..
        }]
    ));
    assert!(harness
        .session
        .unsubscribe(SlotKind::Internal, "$ota/update/p/d", harness.now)
        .unwrap()
        .is_some());
}

#[test]
fn link_loss_fails_waiting_subscribe_and_unsubscribe_after_dropped() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "a", QoS::AtMostOnce);
    let subscribe = harness
        .session
        .subscribe(SlotKind::User, "b", QoS::AtMostOnce, harness.now)
        .unwrap();
    let unsubscribe = harness
        .session
        .unsubscribe(SlotKind::User, "a", harness.now)
        .unwrap()
        .unwrap();
    harness.session.transport_closed(harness.now);
    let events = harness.events();
    assert_eq!(events.len(), 3);
    assert!(matches!(&events[0], Seen::Other(text) if text.starts_with("Dropped")));
    assert_eq!(
        events[1..],
        [
            other(Event::LinkLost {
                packet_id: subscribe,
                operation: mqtt_session::session::Operation::Subscribe(SlotKind::User)
            }),
            other(Event::LinkLost {
                packet_id: unsubscribe,
                operation: mqtt_session::session::Operation::Unsubscribe
            }),
        ]
    );
}

#[test]
fn default_session_stays_within_its_ram_budget() {
    let size = std::mem::size_of::<mqtt_session::DefaultSession<fn() -> u32>>();
    println!("DefaultSession: {size} bytes");
    // 2339 + 2310 bytes of buffers, the subscription arenas (10 x 128 user bytes, the
    // internal prefixes and their shared tail, 1,481 with the slots' bookkeeping), 16 queued
    // events of 6 bytes, 4 in-flight entries: 6,488 bytes on x86_64.
    assert!(size <= 7 * 1024, "{size}");
}
