//! Property tests of the codec: every packet type round-trips, every prefix is incomplete,
//! arbitrary bytes never panic, and an independent decoder (`mqttrs`) agrees with ours.

use mqtt_session::codec::{
    decode, ConnAck, Connect, Packet, PacketId, Publish, QoS, SubAck, Subscribe, SubscribeFilters,
    SubscriptionRequest, Unsubscribe, UnsubscribeFilters, Will,
};
use proptest::prelude::*;

/// Owned form of a packet, so proptest can generate it and tests can borrow a [`Packet`].
#[derive(Debug, Clone)]
enum Model {
    Connect {
        clean_session: bool,
        keep_alive: u16,
        client_id: String,
        will: Option<(String, Vec<u8>, QoS, bool)>,
        username: Option<String>,
        password: Option<Vec<u8>>,
    },
    ConnAck {
        session_present: bool,
        return_code: u8,
    },
    Publish {
        duplicate: bool,
        qos: QoS,
        retain: bool,
        topic: String,
        packet_id: u16,
        payload: Vec<u8>,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe(u16, Vec<(String, QoS)>),
    SubAck(u16, Vec<u8>),
    Unsubscribe(u16, Vec<String>),
    UnsubAck(u16),
    PingReq,
    PingResp,
    Disconnect,
}

fn id(value: u16) -> PacketId {
    PacketId::new(value).expect("strategies generate non-zero ids")
}

/// Builds the packet; `requests` and `filters` hold the borrowed lists.
fn with_packet<T>(model: &Model, body: impl FnOnce(Packet<'_>) -> T) -> T {
    let requests: Vec<SubscriptionRequest<'_>>;
    let filters: Vec<&str>;
    let packet = match model {
        Model::Connect {
            clean_session,
            keep_alive,
            client_id,
            will,
            username,
            password,
        } => Packet::Connect(Connect {
            clean_session: *clean_session,
            keep_alive: *keep_alive,
            client_id,
            will: will.as_ref().map(|(topic, message, qos, retain)| Will {
                topic,
                message,
                qos: *qos,
                retain: *retain,
            }),
            username: username.as_deref(),
            password: password.as_deref(),
        }),
        Model::ConnAck {
            session_present,
            return_code,
        } => Packet::ConnAck(ConnAck {
            session_present: *session_present,
            return_code: *return_code,
        }),
        Model::Publish {
            duplicate,
            qos,
            retain,
            topic,
            packet_id,
            payload,
        } => Packet::Publish(Publish {
            duplicate: *duplicate && *qos != QoS::AtMostOnce,
            qos: *qos,
            retain: *retain,
            topic,
            packet_id: (*qos != QoS::AtMostOnce).then(|| id(*packet_id)),
            payload,
        }),
        Model::PubAck(value) => Packet::PubAck(id(*value)),
        Model::PubRec(value) => Packet::PubRec(id(*value)),
        Model::PubRel(value) => Packet::PubRel(id(*value)),
        Model::PubComp(value) => Packet::PubComp(id(*value)),
        Model::Subscribe(value, list) => {
            requests = list
                .iter()
                .map(|(filter, qos)| SubscriptionRequest { filter, qos: *qos })
                .collect();
            Packet::Subscribe(Subscribe {
                packet_id: id(*value),
                filters: SubscribeFilters::from_list(&requests),
            })
        }
        Model::SubAck(value, codes) => Packet::SubAck(SubAck {
            packet_id: id(*value),
            return_codes: codes,
        }),
        Model::Unsubscribe(value, list) => {
            filters = list.iter().map(String::as_str).collect();
            Packet::Unsubscribe(Unsubscribe {
                packet_id: id(*value),
                filters: UnsubscribeFilters::from_list(&filters),
            })
        }
        Model::UnsubAck(value) => Packet::UnsubAck(id(*value)),
        Model::PingReq => Packet::PingReq,
        Model::PingResp => Packet::PingResp,
        Model::Disconnect => Packet::Disconnect,
    };
    body(packet)
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9;._ $é€-]{0,24}"
}

fn topic_name() -> impl Strategy<Value = String> {
    "[a-z0-9$é]{1,6}(/[a-zA-Z0-9_é]{0,6}){0,4}"
}

fn filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop_oneof![Just("+".to_owned()), "[a-z0-9$]{0,5}"], 1..5),
        any::<bool>(),
    )
        .prop_map(|(mut levels, multi)| {
            if multi {
                levels.push("#".to_owned());
            }
            let joined = levels.join("/");
            if joined.is_empty() {
                "a".to_owned()
            } else {
                joined
            }
        })
}

fn model() -> impl Strategy<Value = Model> {
    let connect = (
        any::<bool>(),
        any::<u16>(),
        text(),
        prop::option::of((
            topic_name(),
            prop::collection::vec(any::<u8>(), 0..16),
            qos(),
            any::<bool>(),
        )),
        prop::option::of(text()),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<bool>(),
    )
        .prop_map(
            |(clean_session, keep_alive, client_id, will, username, password, with_password)| {
                let password = (with_password && username.is_some()).then_some(password);
                Model::Connect {
                    clean_session,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        );
    prop_oneof![
        connect,
        (any::<bool>(), 0u8..=5).prop_map(|(present, return_code)| Model::ConnAck {
            session_present: present && return_code == 0,
            return_code
        }),
        (
            any::<bool>(),
            qos(),
            any::<bool>(),
            topic_name(),
            packet_id(),
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(duplicate, qos, retain, topic, packet_id, payload)| {
                Model::Publish {
                    duplicate,
                    qos,
                    retain,
                    topic,
                    packet_id,
                    payload,
                }
            }),
        packet_id().prop_map(Model::PubAck),
        packet_id().prop_map(Model::PubRec),
        packet_id().prop_map(Model::PubRel),
        packet_id().prop_map(Model::PubComp),
        (packet_id(), prop::collection::vec((filter(), qos()), 1..4))
            .prop_map(|(id, list)| Model::Subscribe(id, list)),
        (
            packet_id(),
            prop::collection::vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(0x80)], 1..4)
        )
            .prop_map(|(id, codes)| Model::SubAck(id, codes)),
        (packet_id(), prop::collection::vec(filter(), 1..4))
            .prop_map(|(id, list)| Model::Unsubscribe(id, list)),
        packet_id().prop_map(Model::UnsubAck),
        Just(Model::PingReq),
        Just(Model::PingResp),
        Just(Model::Disconnect),
    ]
}

fn encode(packet: &Packet<'_>) -> Vec<u8> {
    let mut buffer = vec![0u8; packet.encoded_length()];
    let length = packet
        .encode(&mut buffer)
        .expect("generated packets are valid");
    assert_eq!(length, buffer.len());
    buffer
}

/// The same packet as `mqttrs` models it.
fn to_mqttrs<'a>(packet: &Packet<'a>) -> mqttrs::Packet<'a> {
    let pid = |packet_id: PacketId| mqttrs::Pid::try_from(packet_id.get()).unwrap();
    let qos = |qos: QoS| match qos {
        QoS::AtMostOnce => mqttrs::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttrs::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttrs::QoS::ExactlyOnce,
    };
    match packet {
        Packet::Connect(connect) => mqttrs::Packet::Connect(mqttrs::Connect {
            protocol: mqttrs::Protocol::MQTT311,
            keep_alive: connect.keep_alive,
            client_id: connect.client_id,
            clean_session: connect.clean_session,
            last_will: connect.will.map(|will| mqttrs::LastWill {
                topic: will.topic,
                message: will.message,
                qos: qos(will.qos),
                retain: will.retain,
            }),
            username: connect.username,
            password: connect.password,
        }),
        Packet::ConnAck(connack) => mqttrs::Packet::Connack(mqttrs::Connack {
            session_present: connack.session_present,
            code: match connack.return_code {
                0 => mqttrs::ConnectReturnCode::Accepted,
                1 => mqttrs::ConnectReturnCode::RefusedProtocolVersion,
                2 => mqttrs::ConnectReturnCode::RefusedIdentifierRejected,
                3 => mqttrs::ConnectReturnCode::ServerUnavailable,
                4 => mqttrs::ConnectReturnCode::BadUsernamePassword,
                _ => mqttrs::ConnectReturnCode::NotAuthorized,
            },
        }),
        Packet::Publish(publish) => mqttrs::Packet::Publish(mqttrs::Publish {
            dup: publish.duplicate,
            qospid: match (publish.qos, publish.packet_id) {
                (QoS::AtLeastOnce, Some(id)) => mqttrs::QosPid::AtLeastOnce(pid(id)),
                (QoS::ExactlyOnce, Some(id)) => mqttrs::QosPid::ExactlyOnce(pid(id)),
                _ => mqttrs::QosPid::AtMostOnce,
            },
            retain: publish.retain,
            topic_name: publish.topic,
            payload: publish.payload,
        }),
        Packet::PubAck(id) => mqttrs::Packet::Puback(pid(*id)),
        Packet::PubRec(id) => mqttrs::Packet::Pubrec(pid(*id)),
        Packet::PubRel(id) => mqttrs::Packet::Pubrel(pid(*id)),
        Packet::PubComp(id) => mqttrs::Packet::Pubcomp(pid(*id)),
        Packet::Subscribe(subscribe) => mqttrs::Packet::Subscribe(mqttrs::Subscribe::new(
            pid(subscribe.packet_id),
            subscribe
                .filters
                .iter()
                .map(|request| mqttrs::SubscribeTopic {
                    topic_path: request.filter.to_owned(),
                    qos: qos(request.qos),
                })
                .collect(),
        )),
        Packet::SubAck(suback) => mqttrs::Packet::Suback(mqttrs::Suback::new(
            pid(suback.packet_id),
            suback
                .return_codes
                .iter()
                .map(|code| match QoS::from_bits(*code) {
                    Some(granted) => mqttrs::SubscribeReturnCodes::Success(qos(granted)),
                    None => mqttrs::SubscribeReturnCodes::Failure,
                })
                .collect(),
        )),
        Packet::Unsubscribe(unsubscribe) => mqttrs::Packet::Unsubscribe(mqttrs::Unsubscribe::new(
            pid(unsubscribe.packet_id),
            unsubscribe.filters.iter().map(str::to_owned).collect(),
        )),
        Packet::UnsubAck(id) => mqttrs::Packet::Unsuback(pid(*id)),
        Packet::PingReq => mqttrs::Packet::Pingreq,
        Packet::PingResp => mqttrs::Packet::Pingresp,
        Packet::Disconnect => mqttrs::Packet::Disconnect,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_packet_round_trips(model in model()) {
        with_packet(&model, |packet| {
            let bytes = encode(&packet);
            let (decoded, used) = decode(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(decoded, packet);
            Ok(())
        })?;
    }

    #[test]
    fn every_strict_prefix_is_incomplete(model in model()) {
        with_packet(&model, |packet| {
            let bytes = encode(&packet);
            for end in 0..bytes.len() {
                prop_assert_eq!(decode(&bytes[..end]), Ok(None));
            }
            Ok(())
        })?;
    }

    #[test]
    fn trailing_bytes_are_left_for_the_next_packet(model in model(), extra in prop::collection::vec(any::<u8>(), 0..8)) {
        with_packet(&model, |packet| {
            let mut bytes = encode(&packet);
            let length = bytes.len();
            bytes.extend_from_slice(&extra);
            let (decoded, used) = decode(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, length);
            prop_assert_eq!(decoded, packet);
            Ok(())
        })?;
    }

    #[test]
    fn mqttrs_decodes_our_bytes_identically(model in model()) {
        with_packet(&model, |packet| {
            let bytes = encode(&packet);
            prop_assert_eq!(mqttrs::decode_slice(&bytes), Ok(Some(to_mqttrs(&packet))));
            Ok(())
        })?;
    }

    #[test]
    fn we_decode_mqttrs_bytes_identically(model in model()) {
        with_packet(&model, |packet| {
            let mut buffer = vec![0u8; packet.encoded_length() + 8];
            let length = mqttrs::encode_slice(&to_mqttrs(&packet), &mut buffer).unwrap();
            prop_assert_eq!(decode(&buffer[..length]), Ok(Some((packet, length))));
            Ok(())
        })?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_ones_agree_with_mqttrs(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(Some((packet, used))) = decode(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(mqttrs::decode_slice(&bytes[..used]), Ok(Some(to_mqttrs(&packet))));
        }
    }

    #[test]
    fn mutated_packets_never_panic_and_round_trip(model in model(), position in any::<prop::sample::Index>(), value in any::<u8>()) {
        with_packet(&model, |packet| {
            let mut bytes = encode(&packet);
            let index = position.index(bytes.len());
            bytes[index] = value;
            mqtt_session::fuzzing::codec_round_trip(&bytes);
        });
    }

    #[test]
    fn session_survives_arbitrary_broker_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        mqtt_session::fuzzing::session_input(&data);
    }

    #[test]
    fn session_survives_valid_packets_in_any_order(models in prop::collection::vec((model(), 0u8..=255), 0..12)) {
        // Connect, then deliver each packet split into segments, with random commands.
        let mut data = vec![6u8, 0];
        for (model, control) in &models {
            let bytes = with_packet(model, |packet| encode(&packet));
            for piece in bytes.chunks(255) {
                data.push(if *control > 250 { 7 } else { *control });
                data.push(piece.len() as u8);
                data.extend_from_slice(piece);
            }
        }
        mqtt_session::fuzzing::session_input(&data);
    }
}
