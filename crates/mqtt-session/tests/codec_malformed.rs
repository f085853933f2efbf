//! Malformed input: each case names the rule it breaks and the exact error expected.

use mqtt_session::codec::{
    decode, decode_fixed_header, ConnAck, Connect, DecodeError, EncodeError, Packet, PacketId,
    Publish, QoS, SubAck, Subscribe, SubscribeFilters, SubscriptionRequest, Unsubscribe,
    UnsubscribeFilters,
};

/// CONNECT with the given protocol name, level and flags, client id "c", then `tail`.
fn connect(name: &[u8], level: u8, flags: u8, client_id: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut body = vec![0, name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, flags, 0, 60, 0, client_id.len() as u8]);
    body.extend_from_slice(client_id);
    body.extend_from_slice(tail);
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

#[test]
fn malformed_packets_give_typed_errors() {
    use DecodeError::*;
    let cases: Vec<(&str, Vec<u8>, DecodeError)> = vec![
        (
            "packet type 0 is reserved",
            vec![0x00, 0x00],
            ReservedPacketType,
        ),
        (
            "packet type 15 is reserved",
            vec![0xF0, 0x00],
            ReservedPacketType,
        ),
        (
            "SUBSCRIBE flags must be 0010",
            vec![0x80, 0x06, 0, 1, 0, 1, b'a', 0],
            InvalidFlags,
        ),
        (
            "UNSUBSCRIBE flags must be 0010",
            vec![0xA0, 0x05, 0, 1, 0, 1, b'a'],
            InvalidFlags,
        ),
        (
            "PUBREL flags must be 0010",
            vec![0x60, 0x02, 0, 1],
            InvalidFlags,
        ),
        (
            "PUBACK flags must be 0000",
            vec![0x42, 0x02, 0, 1],
            InvalidFlags,
        ),
        ("PINGREQ flags must be 0000", vec![0xC1, 0x00], InvalidFlags),
        (
            "PUBLISH QoS 3",
            vec![0x36, 0x05, 0, 1, b'a', 0, 1],
            InvalidQos,
        ),
        ("DUP on QoS 0", vec![0x38, 0x03, 0, 1, b'a'], InvalidFlags),
        (
            "remaining length over 4 bytes",
            vec![0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            MalformedRemainingLength,
        ),
        ("PUBACK packet id 0", vec![0x40, 0x02, 0, 0], ZeroPacketId),
        (
            "PUBACK remaining length 3",
            vec![0x40, 0x03, 0, 1, 0],
            InvalidLength,
        ),
        (
            "PUBACK remaining length 1",
            vec![0x40, 0x01, 0],
            InvalidLength,
        ),
        ("PINGREQ with a body", vec![0xC0, 0x01, 0x00], InvalidLength),
        (
            "DISCONNECT with a body",
            vec![0xE0, 0x01, 0x00],
            InvalidLength,
        ),
        (
            "PUBLISH topic with +",
            vec![0x30, 0x05, 0, 3, b'a', b'/', b'+'],
            InvalidTopicName,
        ),
        (
            "PUBLISH topic with #",
            vec![0x30, 0x03, 0, 1, b'#'],
            InvalidTopicName,
        ),
        (
            "PUBLISH empty topic",
            vec![0x30, 0x02, 0, 0],
            InvalidTopicName,
        ),
        (
            "PUBLISH topic not UTF-8",
            vec![0x30, 0x04, 0, 2, 0xC3, 0x28],
            InvalidString,
        ),
        (
            "PUBLISH topic with U+0000",
            vec![0x30, 0x05, 0, 3, b'a', 0, b'b'],
            InvalidString,
        ),
        (
            "PUBLISH topic encoded surrogate",
            vec![0x30, 0x05, 0, 3, 0xED, 0xA0, 0x80],
            InvalidString,
        ),
        (
            "PUBLISH QoS 1 packet id 0",
            vec![0x32, 0x05, 0, 1, b'a', 0, 0],
            ZeroPacketId,
        ),
        (
            "PUBLISH QoS 1 without packet id",
            vec![0x32, 0x03, 0, 1, b'a'],
            InvalidLength,
        ),
        (
            "PUBLISH topic longer than the packet",
            vec![0x30, 0x03, 0, 5, b'a'],
            InvalidLength,
        ),
        (
            "SUBSCRIBE without filters",
            vec![0x82, 0x02, 0, 1],
            EmptyFilterList,
        ),
        (
            "SUBSCRIBE filter a#",
            vec![0x82, 0x07, 0, 1, 0, 2, b'a', b'#', 0],
            InvalidTopicFilter,
        ),
        (
            "SUBSCRIBE filter #/a",
            vec![0x82, 0x08, 0, 1, 0, 3, b'#', b'/', b'a', 0],
            InvalidTopicFilter,
        ),
        (
            "SUBSCRIBE empty filter",
            vec![0x82, 0x05, 0, 1, 0, 0, 0],
            InvalidTopicFilter,
        ),
        (
            "SUBSCRIBE requested QoS 3",
            vec![0x82, 0x06, 0, 1, 0, 1, b'a', 3],
            InvalidQos,
        ),
        (
            "SUBSCRIBE reserved option bits",
            vec![0x82, 0x06, 0, 1, 0, 1, b'a', 0x04],
            InvalidQos,
        ),
        (
            "SUBSCRIBE filter without QoS byte",
            vec![0x82, 0x05, 0, 1, 0, 1, b'a'],
            InvalidLength,
        ),
        (
            "SUBSCRIBE packet id 0",
            vec![0x82, 0x06, 0, 0, 0, 1, b'a', 0],
            ZeroPacketId,
        ),
        (
            "UNSUBSCRIBE without filters",
            vec![0xA2, 0x02, 0, 1],
            EmptyFilterList,
        ),
        (
            "UNSUBSCRIBE filter a+",
            vec![0xA2, 0x06, 0, 1, 0, 2, b'a', b'+'],
            InvalidTopicFilter,
        ),
        (
            "SUBACK return code 3",
            vec![0x90, 0x03, 0, 1, 3],
            InvalidReturnCode,
        ),
        (
            "SUBACK return code 0x81",
            vec![0x90, 0x03, 0, 1, 0x81],
            InvalidReturnCode,
        ),
        (
            "SUBACK without return codes",
            vec![0x90, 0x02, 0, 1],
            InvalidLength,
        ),
        (
            "CONNACK reserved flag bit",
            vec![0x20, 0x02, 0x02, 0x00],
            InvalidConnackFlags,
        ),
        (
            "CONNACK session present with refusal",
            vec![0x20, 0x02, 0x01, 0x05],
            InvalidConnackFlags,
        ),
        (
            "CONNACK remaining length 3",
            vec![0x20, 0x03, 0x00, 0x00, 0x00],
            InvalidLength,
        ),
        (
            "CONNECT MQIsdp / 3 (MQTT 3.1)",
            connect(b"MQIsdp", 3, 0x02, b"c", &[]),
            UnsupportedProtocol,
        ),
        (
            "CONNECT level 5",
            connect(b"MQTT", 5, 0x02, b"c", &[]),
            UnsupportedProtocol,
        ),
        (
            "CONNECT reserved flag bit",
            connect(b"MQTT", 4, 0x03, b"c", &[]),
            InvalidConnectFlags,
        ),
        (
            "CONNECT password without username",
            connect(b"MQTT", 4, 0x42, b"c", &[0, 1, b'p']),
            InvalidConnectFlags,
        ),
        (
            "CONNECT will QoS without will",
            connect(b"MQTT", 4, 0x0A, b"c", &[]),
            InvalidConnectFlags,
        ),
        (
            "CONNECT will retain without will",
            connect(b"MQTT", 4, 0x22, b"c", &[]),
            InvalidConnectFlags,
        ),
        (
            "CONNECT will QoS 3",
            connect(b"MQTT", 4, 0x1E, b"c", &[0, 1, b't', 0, 0]),
            InvalidQos,
        ),
        (
            "CONNECT will topic with +",
            connect(b"MQTT", 4, 0x06, b"c", &[0, 1, b'+', 0, 0]),
            InvalidTopicName,
        ),
        (
            "CONNECT client id with U+0000",
            connect(b"MQTT", 4, 0x02, b"\0", &[]),
            InvalidString,
        ),
        (
            "CONNECT username not UTF-8",
            connect(b"MQTT", 4, 0x82, b"c", &[0, 1, 0xFF]),
            InvalidString,
        ),
        (
            "CONNECT trailing bytes",
            connect(b"MQTT", 4, 0x02, b"c", &[0]),
            InvalidLength,
        ),
        (
            "CONNECT username missing",
            connect(b"MQTT", 4, 0x82, b"c", &[]),
            InvalidLength,
        ),
    ];
    for (rule, bytes, expected) in cases {
        assert_eq!(decode(&bytes), Err(expected), "{rule}: {bytes:02x?}");
    }
}

#[test]
fn incomplete_input_is_not_an_error() {
    assert_eq!(decode(&[]), Ok(None));
    assert_eq!(decode(&[0x30]), Ok(None));
    assert_eq!(
        decode(&[0x30, 0xFF, 0xFF, 0xFF]),
        Ok(None),
        "4-byte length still open"
    );
    assert_eq!(decode(&[0x30, 0x05, 0, 1]), Ok(None));
    // Flags are checked before the packet is complete, so garbage is rejected early.
    assert_eq!(decode(&[0x80]), Err(DecodeError::InvalidFlags));
}

#[test]
fn non_minimal_remaining_length_is_accepted_within_four_bytes() {
    assert_eq!(decode(&[0xC0, 0x80, 0x00]), Ok(Some((Packet::PingReq, 3))));
    assert_eq!(
        decode(&[0xC0, 0x80, 0x80, 0x80, 0x00]),
        Ok(Some((Packet::PingReq, 5)))
    );
    let header = decode_fixed_header(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F])
        .unwrap()
        .unwrap();
    assert_eq!(header.remaining_length, 268_435_455);
    assert_eq!(header.total_length(), 268_435_460);
}

#[test]
fn invalid_packets_are_refused_by_the_encoder() {
    let id = PacketId::new(1).unwrap();
    let mut buffer = [0u8; 64];
    let publish = |qos, packet_id, duplicate, topic| {
        Packet::Publish(Publish {
            duplicate,
            qos,
            retain: false,
            topic,
            packet_id,
            payload: b"x",
        })
    };
    let cases: Vec<(&str, Packet<'_>, EncodeError)> = vec![
        (
            "QoS 1 without id",
            publish(QoS::AtLeastOnce, None, false, "a"),
            EncodeError::PacketIdMismatch,
        ),
        (
            "QoS 0 with id",
            publish(QoS::AtMostOnce, Some(id), false, "a"),
            EncodeError::PacketIdMismatch,
        ),
        (
            "DUP on QoS 0",
            publish(QoS::AtMostOnce, None, true, "a"),
            EncodeError::DuplicateWithoutQos,
        ),
        (
            "wildcard topic",
            publish(QoS::AtMostOnce, None, false, "a/#"),
            EncodeError::InvalidTopicName,
        ),
        (
            "empty topic",
            publish(QoS::AtMostOnce, None, false, ""),
            EncodeError::InvalidTopicName,
        ),
        (
            "password without username",
            Packet::Connect(Connect {
                clean_session: true,
                keep_alive: 60,
                client_id: "c",
                will: None,
                username: None,
                password: Some(b"p"),
            }),
            EncodeError::PasswordWithoutUsername,
        ),
        (
            "client id with U+0000",
            Packet::Connect(Connect {
                clean_session: true,
                keep_alive: 60,
                client_id: "a\0",
                will: None,
                username: None,
                password: None,
            }),
            EncodeError::InvalidString,
        ),
        (
            "SUBSCRIBE without filters",
            Packet::Subscribe(Subscribe {
                packet_id: id,
                filters: SubscribeFilters::from_list(&[]),
            }),
            EncodeError::EmptyList,
        ),
        (
            "UNSUBSCRIBE with a bad filter",
            Packet::Unsubscribe(Unsubscribe {
                packet_id: id,
                filters: UnsubscribeFilters::from_list(&["a/#/b"]),
            }),
            EncodeError::InvalidTopicFilter,
        ),
        (
            "SUBACK code 3",
            Packet::SubAck(SubAck {
                packet_id: id,
                return_codes: &[3],
            }),
            EncodeError::InvalidReturnCode,
        ),
        (
            "CONNACK refusal with session present",
            Packet::ConnAck(ConnAck {
                session_present: true,
                return_code: 2,
            }),
            EncodeError::InvalidConnack,
        ),
    ];
    for (rule, packet, expected) in cases {
        assert_eq!(packet.encode(&mut buffer), Err(expected), "{rule}");
    }
    let request = [SubscriptionRequest {
        filter: "a/b",
        qos: QoS::AtLeastOnce,
    }];
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: id,
        filters: SubscribeFilters::from_list(&request),
    });
    assert_eq!(
        subscribe.encode(&mut buffer[..5]),
        Err(EncodeError::BufferTooSmall)
    );
    assert_eq!(
        subscribe.encode(&mut buffer),
        Ok(subscribe.encoded_length())
    );
}

#[test]
fn packet_ids_wrap_from_65535_to_1() {
    assert_eq!(PacketId::new(0), None);
    assert_eq!(
        PacketId::new(65_535).unwrap().next(),
        PacketId::new(1).unwrap()
    );
    assert_eq!(PacketId::new(4661).unwrap().next().get(), 4662);
}
