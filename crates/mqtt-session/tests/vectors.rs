//! Checks credentials and packets against the vectors captured from Tencent's device code
//! (`tests/vectors/tencent-cloud.json` at the workspace root).

use mqtt_session::codec::{decode, Packet, QoS};
use mqtt_session::tencent::{self, Authentication, ConnectionId, DeviceKey, Identity};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/tencent-cloud.json"
    );
    let text = std::fs::read_to_string(path).expect("vector file");
    let root: Value = serde_json::from_str(&text).expect("vector JSON");
    root["vectors"].as_array().expect("vector list").clone()
}

fn vector(id: &str) -> Value {
    vectors()
        .into_iter()
        .find(|vector| vector["id"] == id)
        .unwrap_or_else(|| panic!("vector {id}"))
}

fn text(value: &Value) -> &str {
    value.as_str().expect("string field")
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap())
        .collect()
}

#[test]
fn every_mqtt_auth_vector_matches() {
    let mut checked = 0;
    for vector in vectors()
        .iter()
        .filter(|vector| vector["category"] == "mqtt_auth")
    {
        let inputs = &vector["inputs"];
        let outputs = &vector["outputs"];
        let client_id = match inputs.get("client_id") {
            Some(client_id) => text(client_id).to_owned(),
            None => tencent::client_id(text(&inputs["product_id"]), text(&inputs["device_name"]))
                .unwrap()
                .to_string(),
        };
        if let Some(expected) = outputs.get("client_id") {
            assert_eq!(client_id, text(expected));
        }
        let expiry = match inputs.get("expiry") {
            Some(expiry) => expiry.as_u64().unwrap(),
            // The Python SDK puts a millisecond timestamp in the expiry field.
            None => (inputs["time"].as_f64().unwrap() * 1000.0) as u64,
        };
        let app_id = inputs.get("sdk_appid").map_or(tencent::SDK_APP_ID, text);
        let connection_id = ConnectionId::new(text(&inputs["conn_id"])).unwrap();
        let username = tencent::username(&client_id, app_id, connection_id, expiry).unwrap();
        assert_eq!(
            username.as_str(),
            text(&outputs["username"]),
            "{}",
            vector["id"]
        );
        let key = DeviceKey::from_base64(text(&inputs["device_secret"])).unwrap();
        if let Some(psk) = outputs.get("psk_hex") {
            assert_eq!(key.as_bytes(), hex(text(psk)).as_slice());
        }
        let password = text(&outputs["password"]);
        let computed = if password.ends_with(";hmacsha256") {
            key.password_sha256(&username)
        } else {
            key.password_sha1(&username)
        };
        assert_eq!(computed.as_str(), password, "{}", vector["id"]);
        checked += 1;
    }
    assert_eq!(checked, 10);
}

fn encoded_connect(identity: &Identity, keep_alive: u16) -> Vec<u8> {
    let fields = identity.connect_fields(ConnectionId::new("a1b2c").unwrap());
    let packet = Packet::Connect(mqtt_session::codec::Connect {
        clean_session: true,
        keep_alive,
        client_id: identity.client_id(),
        will: None,
        username: Some(&fields.username),
        password: fields.password.as_ref().map(|password| password.as_bytes()),
    });
    let mut buffer = [0u8; 512];
    let length = packet.encode(&mut buffer).unwrap();
    buffer[..length].to_vec()
}

#[test]
fn tls_psk_connect_bytes_match() {
    let vector = vector("mqtt_connect_tls_psk_32bit");
    let inputs = &vector["inputs"];
    let outputs = &vector["outputs"];
    let identity = Identity::new(
        text(&inputs["product_id"]),
        text(&inputs["device_name"]),
        text(&inputs["device_secret"]),
        Authentication::Transport,
    )
    .unwrap();
    assert_eq!(identity.client_id(), text(&outputs["tls_psk_identity"]));
    assert_eq!(
        identity.key().as_bytes(),
        hex(text(&outputs["tls_psk_hex"])).as_slice()
    );
    let host = tencent::mqtt_host(text(&inputs["product_id"]), text(&inputs["region"])).unwrap();
    assert_eq!(host.as_str(), text(&outputs["tcp_host"]));
    assert_eq!(
        encoded_connect(&identity, 240),
        hex(text(&outputs["connect_packet_hex"]))
    );
}

#[test]
fn plain_tcp_connect_bytes_match() {
    let vector = vector("mqtt_connect_plain_tcp_key_32bit");
    let inputs = &vector["inputs"];
    let identity = Identity::new(
        text(&inputs["product_id"]),
        text(&inputs["device_name"]),
        text(&inputs["device_secret"]),
        Authentication::HmacSha1,
    )
    .unwrap();
    let expected = hex(text(&vector["outputs"]["transcript"][0]["hex"]));
    assert_eq!(encoded_connect(&identity, 240), expected);
    assert_eq!(
        text(&inputs["tcp_host_requested"]),
        tencent::mqtt_host("CTQS08Y5LG", "china").unwrap().as_str()
    );
}

/// Every MQTT packet of every transcript decodes to the fields the capture recorded and
/// encodes back to the same bytes.
#[test]
fn every_transcript_packet_round_trips() {
    let mut checked = 0;
    for vector in vectors() {
        let Some(transcript) = vector["outputs"]
            .get("transcript")
            .and_then(Value::as_array)
        else {
            continue;
        };
        for entry in transcript.iter().filter(|entry| entry["proto"] == "mqtt") {
            let bytes = hex(text(&entry["hex"]));
            let (packet, length) = decode(&bytes).unwrap().unwrap();
            assert_eq!(length, bytes.len());
            check_decoded(&packet, &entry["decoded"]);
            let mut buffer = vec![0u8; bytes.len()];
            assert_eq!(packet.encode(&mut buffer), Ok(bytes.len()));
            assert_eq!(buffer, bytes);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} packets");
}

fn check_decoded(packet: &Packet<'_>, decoded: &Value) {
    match packet {
        Packet::Connect(connect) => {
            assert_eq!(decoded["type"], "CONNECT");
            assert_eq!(
                u64::from(connect.keep_alive),
                decoded["keepalive"].as_u64().unwrap()
            );
            assert_eq!(connect.client_id, text(&decoded["client_id"]));
            assert_eq!(connect.username, Some(text(&decoded["username"])));
            let password = decoded
                .get("password")
                .map(|password| text(password).as_bytes());
            assert_eq!(connect.password, password);
        }
        Packet::Publish(publish) => {
            assert_eq!(decoded["type"], "PUBLISH");
            assert_eq!(publish.topic, text(&decoded["topic"]));
            assert_eq!(publish.payload, text(&decoded["payload"]).as_bytes());
            assert_eq!(publish.qos as u64, decoded["qos"].as_u64().unwrap());
            let packet_id = decoded
                .get("packet_id")
                .map(|id| id.as_u64().unwrap() as u16);
            assert_eq!(publish.packet_id.map(|id| id.get()), packet_id);
        }
        Packet::Subscribe(subscribe) => {
            assert_eq!(decoded["type"], "SUBSCRIBE");
            assert_eq!(
                u64::from(subscribe.packet_id.get()),
                decoded["packet_id"].as_u64().unwrap()
            );
            let topics: Vec<(String, u64)> = subscribe
                .filters
                .iter()
                .map(|request| (request.filter.to_owned(), request.qos as u64))
                .collect();
            let expected: Vec<(String, u64)> = decoded["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| (text(&pair[0]).to_owned(), pair[1].as_u64().unwrap()))
                .collect();
            assert_eq!(topics, expected);
            assert!(subscribe
                .filters
                .iter()
                .all(|request| request.qos != QoS::ExactlyOnce));
        }
        Packet::Unsubscribe(unsubscribe) => {
            assert_eq!(decoded["type"], "UNSUBSCRIBE");
            let topics: Vec<&str> = unsubscribe.filters.iter().collect();
            let expected: Vec<&str> = decoded["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(text)
                .collect();
            assert_eq!(topics, expected);
        }
        Packet::Disconnect => assert_eq!(decoded["type"], "DISCONNECT"),
        other => panic!("unexpected packet in a transcript: {other:?} vs {decoded}"),
    }
}
