//! Byte-level checks with the `mqtt-session` codec: exact CONNACK codes, ACLs, routing,
//! responders, takeover, kick and keep-alive.

mod common;

use common::{
    credentials, demo_identity, Hub, RawClient, Received, DEMO_DN, DEMO_PID, DEMO_SECRET,
};
use mqtt_session::codec::{decode, Packet, QoS};
use serde_json::{json, Value};

const DATA: &str = "DEMO000001/demo/data";
const CONTROL: &str = "DEMO000001/demo/control";

fn connack_code(hub: &Hub, identity: &(String, String, String)) -> Option<u8> {
    let mut client = RawClient::open(hub);
    let result = client.connect(&identity.0, &identity.1, &identity.2, 60, true);
    result.map(|(_, code)| code)
}

/// A CONNECT with the given protocol name and level, otherwise like the demo login.
fn connect_bytes(name: &[u8], level: u8) -> Vec<u8> {
    let (client_id, username, password) = demo_identity();
    let mut body = Vec::new();
    body.extend_from_slice(&(name.len() as u16).to_be_bytes());
    body.extend_from_slice(name);
    body.push(level);
    body.push(0xC2);
    body.extend_from_slice(&60u16.to_be_bytes());
    for field in [
        client_id.as_bytes(),
        username.as_bytes(),
        password.as_bytes(),
    ] {
        body.extend_from_slice(&(field.len() as u16).to_be_bytes());
        body.extend_from_slice(field);
    }
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

#[test]
fn connack_return_codes_follow_the_check_order() {
    let hub = Hub::start(&[
        "--device",
        "DEMO000001:off:ZGVtb19zZWNyZXRfMTIzNA==",
        "--device",
        "DEMO000001:demo:ZGVtb19zZWNyZXRfMTIzNA==",
    ]);
    assert_eq!(connack_code(&hub, &demo_identity()), Some(0));
    assert_eq!(
        connack_code(&hub, &credentials(DEMO_PID, "ghost", DEMO_SECRET)),
        Some(2)
    );
    let (client_id, username, _) = demo_identity();
    let wrong = credentials(DEMO_PID, DEMO_DN, "d3Jvbmdfc2VjcmV0XzEyMzQ=").2;
    assert_eq!(
        connack_code(&hub, &(client_id.clone(), username, wrong)),
        Some(4)
    );
    // An expired signature: HMAC correct, expiry in the past.
    let expired_username = format!("{client_id};21010406;a1b2C;1000");
    let expired = tc_at_hub_password(&expired_username);
    assert_eq!(
        connack_code(&hub, &(client_id, expired_username, expired)),
        Some(4)
    );
    let (status, _) = hub.admin(
        "PUT",
        "/devices/DEMO000001/off",
        Some(json!({"secret": DEMO_SECRET, "enabled": false})),
    );
    assert_eq!(status, 200);
    assert_eq!(
        connack_code(&hub, &credentials(DEMO_PID, "off", DEMO_SECRET)),
        Some(5)
    );
}

fn tc_at_hub_password(username: &str) -> String {
    mqtt_session::tencent::DeviceKey::from_base64(DEMO_SECRET)
        .unwrap()
        .password_sha1(username)
        .as_str()
        .to_owned()
}

#[test]
fn mqtt_5_gets_connack_1_and_mqtt_3_1_is_accepted() {
    let hub = Hub::start(&[]);
    let mut v5 = RawClient::open(&hub);
    v5.send_bytes(&connect_bytes(b"MQTT", 5));
    let frame = v5.next_frame().expect("CONNACK");
    assert_eq!(frame, [0x20, 0x02, 0x00, 0x01]);
    v5.expect_closed();
    let mut v31 = RawClient::open(&hub);
    v31.send_bytes(&connect_bytes(b"MQIsdp", 3));
    let frame = v31.next_frame().expect("CONNACK");
    assert_eq!(frame, [0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn data_is_looped_back_to_the_publisher() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(client.subscribe(DATA, QoS::ExactlyOnce), 1);
    let packet_id = client.publish(DATA, b"ping", QoS::AtLeastOnce).unwrap();
    let mut received = [client.next_packet(), client.next_packet()];
    received.sort_by_key(|packet| matches!(packet, Received::Publish { .. }));
    assert_eq!(received[0], Received::PubAck(packet_id.get()));
    assert_eq!(
        received[1],
        Received::Publish {
            topic: DATA.to_owned(),
            payload: b"ping".to_vec(),
            qos: QoS::AtLeastOnce
        }
    );
}

#[test]
fn loopback_can_be_disabled_per_product() {
    let hub = Hub::start(&[]);
    let (status, _) = hub.admin(
        "PUT",
        "/products/DEMO000001",
        Some(json!({"loopback_data": false})),
    );
    assert_eq!(status, 200);
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(client.subscribe(DATA, QoS::AtMostOnce), 0);
    client.publish(DATA, b"not back", QoS::AtMostOnce);
    client.send(&Packet::PingReq);
    assert_eq!(client.next_packet(), Received::PingResp);
    assert_eq!(
        client.subscribe("$sys/operation/result/DEMO000001/demo", QoS::AtMostOnce),
        0
    );
    client.publish(
        "$sys/operation/DEMO000001/demo",
        br#"{"type":"get","resource":["time"]}"#,
        QoS::AtMostOnce,
    );
    // The hub's own reply still arrives, and is the first PUBLISH: the data was not looped.
    assert!(
        matches!(client.next_packet(), Received::Publish { topic, .. } if topic.starts_with("$sys/operation/result"))
    );
}

#[test]
fn control_publish_is_dropped_and_qos1_gets_no_puback() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(client.subscribe(CONTROL, QoS::AtLeastOnce), 1);
    assert_eq!(client.subscribe(DATA, QoS::AtMostOnce), 0);
    client.publish(CONTROL, b"qos1", QoS::AtLeastOnce);
    client.publish(CONTROL, b"qos0", QoS::AtMostOnce);
    client.send(&Packet::PingReq);
    assert_eq!(
        client.next_packet(),
        Received::PingResp,
        "no PUBACK before the ping reply"
    );
    // Deliveries are FIFO per connection: had the control messages been routed, they would
    // arrive before this data loop-back.
    client.publish(DATA, b"marker", QoS::AtMostOnce);
    assert_eq!(
        client.next_packet(),
        Received::Publish {
            topic: DATA.to_owned(),
            payload: b"marker".to_vec(),
            qos: QoS::AtMostOnce
        }
    );
    let denied = hub
        .events()
        .iter()
        .filter(|event| event["kind"] == "publish" && event["allowed"] == false)
        .count();
    assert_eq!(denied, 2);
}

#[test]
fn subscriptions_outside_the_rights_are_refused() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(
        client.subscribe("DEMO000001/demo/event", QoS::AtLeastOnce),
        0x80
    );
    assert_eq!(client.subscribe("#", QoS::AtMostOnce), 0x80);
    assert_eq!(client.subscribe("DEMO000001/+/data", QoS::AtMostOnce), 0x80);
    assert_eq!(client.subscribe("DEMO000001/demo/#", QoS::AtLeastOnce), 1);
    assert_eq!(
        client.subscribe("$thing/down/property/DEMO000001/demo", QoS::AtMostOnce),
        0
    );
    assert_eq!(
        client.subscribe("$thing/up/property/DEMO000001/demo", QoS::AtMostOnce),
        0x80
    );
}

#[test]
fn sys_time_request_is_answered_with_hub_time() {
    let hub = Hub::start(&[]);
    let (_, clock) = hub.admin("POST", "/clock", Some(json!({"offset_s": 0})));
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(
        client.subscribe("$sys/operation/result/DEMO000001/demo", QoS::AtMostOnce),
        0
    );
    client.publish(
        "$sys/operation/DEMO000001/demo",
        br#"{"type": "get", "resource": ["time"]}"#,
        QoS::AtMostOnce,
    );
    let Received::Publish {
        topic,
        payload,
        qos,
    } = client.next_packet()
    else {
        panic!("expected the time reply");
    };
    assert_eq!(
        (topic.as_str(), qos),
        ("$sys/operation/result/DEMO000001/demo", QoS::AtMostOnce)
    );
    let reply: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(reply["type"], "get");
    let time = reply["time"].as_u64().unwrap();
    let before = clock["now"].as_u64().unwrap();
    assert!((before..before + 60).contains(&time), "{time} vs {before}");
}

#[test]
fn property_report_reply_and_stored_state() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(
        client.subscribe("$thing/down/property/DEMO000001/demo", QoS::AtMostOnce),
        0
    );
    let report = br#"{"method":"report","clientToken":"abc-1","params":{"brightness":7}}"#;
    client.publish(
        "$thing/up/property/DEMO000001/demo",
        report,
        QoS::AtLeastOnce,
    );
    let mut replies = Vec::new();
    while replies.is_empty() {
        if let Received::Publish { payload, .. } = client.next_packet() {
            replies.push(String::from_utf8(payload).unwrap());
        }
    }
    assert_eq!(
        replies[0],
        r#"{"method":"report_reply","clientToken":"abc-1","code":0,"status":"success"}"#
    );
    let (_, device) = hub.admin("GET", "/devices/DEMO000001/demo", None);
    assert_eq!(
        (
            device["reported"]["brightness"].as_u64(),
            device["online"].as_bool()
        ),
        (Some(7), Some(true))
    );
}

#[test]
fn second_login_closes_the_first_connection() {
    let hub = Hub::start(&[]);
    let mut first = RawClient::login(&hub, &demo_identity());
    let mut second = RawClient::login(&hub, &demo_identity());
    first.expect_closed();
    second.send(&Packet::PingReq);
    assert_eq!(second.next_packet(), Received::PingResp);
}

#[test]
fn admin_kick_closes_without_disconnect() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    let (_, result) = hub.admin("POST", "/devices/DEMO000001/demo/kick", Some(json!({})));
    assert_eq!(result["kicked"], true);
    assert_eq!(
        client.next_frame(),
        None,
        "closed with no packet, DISCONNECT included"
    );
    // Without refuse_s the device may come straight back.
    let _again = RawClient::login(&hub, &demo_identity());
}

#[test]
fn silence_beyond_one_and_a_half_keep_alives_closes() {
    let hub = Hub::start(&[]);
    let (client_id, username, password) = demo_identity();
    let mut client = RawClient::open(&hub);
    assert_eq!(
        client.connect(&client_id, &username, &password, 1, true),
        Some((false, 0))
    );
    client.expect_closed();
    let event = hub.wait_event(|event| event["kind"] == "disconnect");
    assert_eq!(event["reason"], "keep-alive expired");
}

#[test]
fn qos2_publish_closes_the_connection() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    client.publish(DATA, b"exactly once", QoS::ExactlyOnce);
    client.expect_closed();
}

#[test]
fn admin_publish_carries_binary_payloads_and_force_ignores_subscriptions() {
    let hub = Hub::start(&[]);
    let mut client = RawClient::login(&hub, &demo_identity());
    let path = "/devices/DEMO000001/demo/publish";
    let (_, result) = hub.admin(
        "POST",
        path,
        Some(json!({"topic": CONTROL, "payload_b64": "AAEC/w=="})),
    );
    assert_eq!(result["delivered"], 0, "not subscribed, not forced");
    let (_, result) = hub.admin(
        "POST",
        path,
        Some(json!({"topic": CONTROL, "payload_b64": "AAEC/w==", "force": true})),
    );
    assert_eq!(result["delivered"], 1);
    assert_eq!(
        client.next_packet(),
        Received::Publish {
            topic: CONTROL.to_owned(),
            payload: vec![0, 1, 2, 255],
            qos: QoS::AtMostOnce
        }
    );
}

#[test]
fn persistent_session_keeps_subscriptions_and_queues_qos1() {
    let hub = Hub::start(&[]);
    let (client_id, username, password) = demo_identity();
    let mut client = RawClient::open(&hub);
    assert_eq!(
        client.connect(&client_id, &username, &password, 60, false),
        Some((false, 0))
    );
    assert_eq!(client.subscribe(CONTROL, QoS::AtLeastOnce), 1);
    client.send(&Packet::Disconnect);
    client.expect_closed();
    hub.wait_event(|event| event["kind"] == "disconnect");
    let (_, result) = hub.admin(
        "POST",
        "/devices/DEMO000001/demo/publish",
        Some(json!({"topic": CONTROL, "qos": 1, "payload": "later"})),
    );
    assert_eq!(result["delivered"], 1);
    let mut again = RawClient::open(&hub);
    assert_eq!(
        again.connect(&client_id, &username, &password, 60, false),
        Some((true, 0))
    );
    let frame = again.next_frame().unwrap();
    let Packet::Publish(publish) = decode(&frame).unwrap().unwrap().0 else {
        panic!("expected the queued message");
    };
    assert_eq!(
        (publish.topic, publish.payload, publish.qos),
        (CONTROL, &b"later"[..], QoS::AtLeastOnce)
    );
}
