//! The payload area: a publish's payload written in place in the transmit buffer, its
//! header encoded in front, the wire bytes those of `Session::publish`.

mod session_support;

use mqtt_session::codec::{Packet, Publish, QoS};
use mqtt_session::session::{PublishError, SlotKind};
use session_support::{id, Harness};

fn payload(length: usize) -> Vec<u8> {
    (0..length).map(|index| (index * 7 + 3) as u8).collect()
}

/// Writes `bytes` into a payload area of `size` bytes and publishes them from there.
fn publish_staged(
    harness: &mut Harness,
    size: usize,
    topic: &str,
    bytes: &[u8],
    qos: QoS,
) -> Result<Option<mqtt_session::codec::PacketId>, PublishError> {
    let area = harness.session.payload_area(size).expect("area free");
    area[..bytes.len()].copy_from_slice(bytes);
    harness
        .session
        .publish_staged(topic, bytes.len(), qos, harness.now)
}

#[test]
fn staged_publish_sends_the_bytes_of_a_copied_publish() {
    let topic = "t".repeat(128);
    for (length, qos) in [
        (2048, QoS::AtLeastOnce),
        (2048, QoS::AtMostOnce),
        (0, QoS::AtMostOnce),
        (100, QoS::AtLeastOnce),
    ] {
        let bytes = payload(length);
        let mut copied = Harness::connected(true);
        let expected_id = copied
            .session
            .publish(&topic, &bytes, qos, copied.now)
            .unwrap();
        let expected = copied.take_sent();
        let mut staged = Harness::connected(true);
        let packet_id = publish_staged(&mut staged, 2048, &topic, &bytes, qos).unwrap();
        assert_eq!(packet_id, expected_id);
        assert_eq!(staged.take_sent(), expected, "{length} bytes at {qos:?}");
    }
}

#[test]
fn an_unescaped_payload_shorter_than_its_area_is_published_from_the_area_start() {
    let mut copied = Harness::connected(true);
    copied
        .session
        .publish("a/b", b"{\"x\":1}", QoS::AtMostOnce, copied.now)
        .unwrap();
    let expected = copied.take_sent();
    let mut staged = Harness::connected(true);
    publish_staged(&mut staged, 256, "a/b", b"{\"x\":1}", QoS::AtMostOnce).unwrap();
    assert_eq!(staged.take_sent(), expected);
}

#[test]
fn packets_written_while_the_area_is_lent_go_in_front_and_stay() {
    let mut harness = Harness::connected(true);
    harness.subscribe_granted(SlotKind::User, "in/#", QoS::AtLeastOnce);
    let bytes = payload(2048);
    let area = harness.session.payload_area(2048).unwrap();
    area.copy_from_slice(&bytes);
    // A QoS 1 message arrives during the data phase: its PUBACK is queued in front.
    harness.publish_in("in/x", b"hello", QoS::AtLeastOnce, 77, false);
    assert_eq!(harness.events().len(), 1);
    let _ = harness.events();
    let mut acknowledgement = [0; 4];
    Packet::PubAck(id(77)).encode(&mut acknowledgement).unwrap();
    assert_eq!(harness.session.transmit(), acknowledgement);
    // A publish that would need the lent bytes fails instead of overwriting them.
    assert_eq!(
        harness
            .session
            .publish("a/b", &payload(600), QoS::AtMostOnce, harness.now),
        Err(PublishError::BufferFull)
    );
    let packet_id = harness
        .session
        .publish_staged("a/b", 2048, QoS::AtLeastOnce, harness.now)
        .unwrap()
        .unwrap();
    let mut expected = acknowledgement.to_vec();
    let packet = Packet::Publish(Publish {
        duplicate: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "a/b",
        packet_id: Some(packet_id),
        payload: &bytes,
    });
    let mut encoded = vec![0; packet.encoded_length()];
    packet.encode(&mut encoded).unwrap();
    expected.extend_from_slice(&encoded);
    assert_eq!(harness.take_sent(), expected);
}

#[test]
fn an_area_still_holding_pending_bytes_is_refused_and_the_publish_fails() {
    let mut harness = Harness::connected(true);
    harness
        .session
        .publish("a/b", &payload(1000), QoS::AtMostOnce, harness.now)
        .unwrap();
    let pending = harness.session.transmit().to_vec();
    assert!(harness.session.payload_area(2048).is_none());
    assert_eq!(
        harness
            .session
            .publish_staged("a/b", 10, QoS::AtLeastOnce, harness.now),
        Err(PublishError::BufferFull)
    );
    assert_eq!(harness.session.transmit(), pending);
    // No packet id was used: the next publish takes the first one.
    harness.take_sent();
    let next = harness
        .session
        .publish("a/b", b"x", QoS::AtLeastOnce, harness.now)
        .unwrap();
    assert_eq!(next, Some(id(4661)));
}

#[test]
fn a_released_or_exceeded_area_publishes_nothing() {
    let mut harness = Harness::connected(true);
    harness.session.payload_area(16).unwrap();
    assert_eq!(
        harness
            .session
            .publish_staged("a/b", 17, QoS::AtMostOnce, harness.now),
        Err(PublishError::BufferFull)
    );
    harness.session.payload_area(16).unwrap();
    harness.session.release_payload_area();
    assert_eq!(
        harness
            .session
            .publish_staged("a/b", 4, QoS::AtMostOnce, harness.now),
        Err(PublishError::BufferFull)
    );
    assert!(harness.session.transmit().is_empty());
    // Given back, the whole buffer takes packets again.
    harness
        .session
        .publish("a/b", &payload(2048), QoS::AtMostOnce, harness.now)
        .unwrap();
}

#[test]
fn staged_publish_checks_like_publish() {
    let mut harness = Harness::connected(true);
    harness.session.payload_area(8).unwrap();
    assert_eq!(
        harness
            .session
            .publish_staged("a/+", 4, QoS::AtMostOnce, harness.now),
        Err(PublishError::InvalidTopic)
    );
    assert_eq!(
        publish_staged(&mut harness, 8, "a/b", b"x", QoS::ExactlyOnce),
        Err(PublishError::UnsupportedQos)
    );
    let mut idle = Harness::new(&[]);
    assert!(idle.session.payload_area(8).is_some());
    assert_eq!(
        idle.session
            .publish_staged("a/b", 4, QoS::AtMostOnce, idle.now),
        Err(PublishError::NotConnected)
    );
}

#[test]
fn header_in_front_of_a_payload_in_place_equals_the_whole_packet() {
    let bytes = payload(300);
    for (duplicate, qos, packet_id) in [
        (false, QoS::AtMostOnce, None),
        (false, QoS::AtLeastOnce, Some(id(1))),
        // A DUP re-send of a QoS 1 publish: the same bytes but for the flag.
        (true, QoS::AtLeastOnce, Some(id(65535))),
    ] {
        let publish = Publish {
            duplicate,
            qos,
            retain: false,
            topic: "x/y/z",
            packet_id,
            payload: &bytes,
        };
        let packet = Packet::Publish(publish);
        let mut whole = vec![0; packet.encoded_length()];
        packet.encode(&mut whole).unwrap();
        let header_length = Packet::publish_header_length(&publish, bytes.len());
        let mut in_place = vec![0; header_length + bytes.len()];
        in_place[header_length..].copy_from_slice(&bytes);
        let written =
            Packet::encode_publish_header(&publish, bytes.len(), &mut in_place[..header_length])
                .unwrap();
        assert_eq!(written, header_length);
        assert_eq!(in_place, whole, "duplicate {duplicate}, {qos:?}");
    }
}

#[test]
fn the_session_fuzz_target_lends_writes_and_publishes_an_area() {
    // CONNACK, lend a 3-byte area holding "abc", a quiet step, then publish from the area:
    // the target asserts the area still held "abc" and that the PUBLISH is valid MQTT.
    mqtt_session::fuzzing::session_input(&[6, 0, 130, 3, b'a', b'b', b'c', 7, 0, 130, 0]);
}

#[test]
fn a_publish_filled_in_place_while_the_area_is_lent_stops_before_it() {
    let mut harness = Harness::connected(true);
    let bytes = payload(2048);
    let area = harness.session.payload_area(2048).unwrap();
    area.copy_from_slice(&bytes);
    // The gateway's request is written in place during the data phase: its room ends where
    // the lent area starts, so a fill that would need more fails and the area keeps its bytes.
    let mut offered = 0;
    let result = harness.session.publish_with(
        "$gateway/operation/p/d",
        QoS::AtMostOnce,
        harness.now,
        |room| {
            offered = room.len();
            None
        },
    );
    assert_eq!(result, Err(PublishError::BufferFull));
    assert!(offered <= 2304 - 2048, "{offered} bytes offered");
    harness
        .session
        .publish_with(
            "$gateway/operation/p/d",
            QoS::AtMostOnce,
            harness.now,
            |room| {
                room[..2].copy_from_slice(b"{}");
                Some(2)
            },
        )
        .unwrap();
    assert_eq!(harness.session.lent_payload_area().unwrap(), &bytes[..]);
}
