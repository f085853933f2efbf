//! The MQTT TLS listener with real peers: `openssl s_client`, the `openssl` crate's client
//! side, and Debian's mosquitto clients in PSK mode (`hub.md` §2, §4.1).

mod common;

use common::{credentials, Hub, Mosquitto, DEMO_DN, DEMO_PID, DEMO_SECRET, WAIT};
use mqtt_session::codec::{decode, Connect, Packet};
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslConnector, SslConnectorBuilder, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use tc_at_hub::wire::{self, Framer};

const DEMO_CLIENT_ID: &str = "DEMO000001demo";

/// The demo secret decoded, in the hex form `s_client -psk` and mosquitto take.
fn demo_psk_hex() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(DEMO_SECRET)
        .unwrap()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A scratch file path unique to this test process and `name`.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tc-at-hub-tls-{}-{name}", std::process::id()))
}

/// CONNECT then DISCONNECT, as raw bytes.
fn connect_then_disconnect(client_id: &str, password: &str) -> Vec<u8> {
    let (_, username, _) = credentials(DEMO_PID, DEMO_DN, DEMO_SECRET);
    let username = username.replace(DEMO_CLIENT_ID, client_id);
    let mut bytes = wire::encode(&Packet::Connect(Connect {
        clean_session: true,
        keep_alive: 60,
        client_id,
        will: None,
        username: Some(&username),
        password: Some(password.as_bytes()),
    }))
    .unwrap();
    bytes.extend(wire::encode(&Packet::Disconnect).unwrap());
    bytes
}

/// Runs `openssl s_client` against the TLS listener with `stdin` as the data to send.
fn s_client(hub: &Hub, arguments: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{}", hub.mqtts)])
        .args(["-tls1_2"])
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl s_client (Debian package openssl)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    // Output is bounded: the hub ends the session on DISCONNECT or a failed handshake.
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn s_client_psk_handshake_carries_mqtt_to_connack_0() {
    let hub = Hub::start(&[]);
    let psk = demo_psk_hex();
    for cipher in ["PSK-AES128-CBC-SHA", "PSK-AES256-CBC-SHA"] {
        let output = s_client(
            &hub,
            &[
                "-quiet",
                "-cipher",
                cipher,
                "-psk",
                &psk,
                "-psk_identity",
                DEMO_CLIENT_ID,
            ],
            // The password is ignored on TLS (`hub.md` §4.1 step 3).
            &connect_then_disconnect(DEMO_CLIENT_ID, "not-a-password"),
        );
        assert_eq!(
            output.stdout,
            [0x20, 0x02, 0x00, 0x00],
            "{cipher}: {}",
            text(&output.stderr)
        );
    }
    let event = hub.wait_event(|event| event["kind"] == "connect");
    assert_eq!(event["transport"], "tls-psk");
}

#[test]
fn unknown_psk_identity_ends_the_handshake_with_its_alert() {
    let hub = Hub::start(&[]);
    let output = s_client(
        &hub,
        &["-psk", &demo_psk_hex(), "-psk_identity", "DEMO000001ghost"],
        b"",
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown psk identity"), "{stderr}");
    hub.wait_event(|event| event["kind"] == "tls_failed");
    assert!(hub.events().iter().all(|event| event["kind"] != "connect"));
}

#[test]
fn wrong_psk_fails_the_handshake() {
    let hub = Hub::start(&[]);
    let output = s_client(
        &hub,
        &[
            "-psk",
            "00112233445566778899aabbccddeeff",
            "-psk_identity",
            DEMO_CLIENT_ID,
        ],
        b"",
    );
    // The hub cannot decrypt the client's Finished, so it answers bad_record_mac.
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("alert bad record mac"), "{stderr}");
    hub.wait_event(|event| event["kind"] == "tls_failed");
    assert!(hub.events().iter().all(|event| event["kind"] != "connect"));
}

#[test]
fn s_client_verifies_the_server_certificate_with_the_written_ca() {
    let ca = scratch("verify-ca.pem");
    let hub = Hub::start(&["--ca-out", ca.to_str().unwrap()]);
    let ca_argument = ca.to_str().unwrap();
    for host in [
        "localhost",
        "CTQS08Y5LG.iotcloud.tencentdevices.com",
        "gateway.tencentdevices.com",
    ] {
        let output = s_client(
            &hub,
            &[
                "-CAfile",
                ca_argument,
                "-verify_return_error",
                "-verify_hostname",
                host,
            ],
            b"",
        );
        let stdout = text(&output.stdout);
        assert!(output.status.success(), "{host}: {}", text(&output.stderr));
        assert!(stdout.contains("Verification: OK"), "{host}: {stdout}");
        assert!(stdout.contains("Cipher is ECDHE-RSA"), "{stdout}");
    }
    // A CA from another hub start does not vouch for this one.
    let other_ca = scratch("other-ca.pem");
    drop(Hub::start(&["--ca-out", other_ca.to_str().unwrap()]));
    let output = s_client(
        &hub,
        &[
            "-CAfile",
            other_ca.to_str().unwrap(),
            "-verify_return_error",
        ],
        b"",
    );
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("certificate verify failed"), "{stderr}");
    let _ = std::fs::remove_file(ca);
    let _ = std::fs::remove_file(other_ca);
}

/// A TLS client built on the `openssl` crate, speaking MQTT through the codec.
struct TlsClient {
    stream: SslStream<TcpStream>,
    framer: Framer,
}

impl TlsClient {
    fn open(hub: &Hub, configure: impl FnOnce(&mut SslConnectorBuilder)) -> Result<Self, String> {
        let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
        configure(&mut builder);
        let tcp = TcpStream::connect(("127.0.0.1", hub.mqtts)).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let stream = builder
            .build()
            .connect("localhost", tcp)
            .map_err(|error| error.to_string())?;
        Ok(Self {
            stream,
            framer: Framer::default(),
        })
    }

    fn psk(hub: &Hub, identity: &str, key: Vec<u8>) -> Result<Self, String> {
        let identity = identity.to_owned();
        Self::open(hub, move |builder| {
            builder.set_verify(SslVerifyMode::NONE);
            builder.set_cipher_list("PSK-AES256-CBC-SHA").unwrap();
            builder.set_psk_client_callback(move |_, _, identity_out, key_out| {
                identity_out[..identity.len()].copy_from_slice(identity.as_bytes());
                identity_out[identity.len()] = 0;
                key_out[..key.len()].copy_from_slice(&key);
                Ok(key.len())
            });
        })
    }

    fn certificate(hub: &Hub, ca: &PathBuf, client: Option<&(X509, PKey<Private>)>) -> Self {
        Self::open(hub, |builder| {
            builder.set_ca_file(ca).unwrap();
            if let Some((certificate, key)) = client {
                builder.set_certificate(certificate).unwrap();
                builder.set_private_key(key).unwrap();
            }
        })
        .expect("certificate handshake")
    }

    /// CONNECT as `client_id`; the CONNACK return code, `None` if the hub closed instead.
    fn connect(&mut self, client_id: &str) -> Option<u8> {
        let bytes = connect_then_disconnect(client_id, "ignored");
        // Only the CONNECT: the session stays up for whatever the test does next.
        let connect_length = bytes.len() - 2;
        self.stream.write_all(&bytes[..connect_length]).unwrap();
        loop {
            if let Some(frame) = self.framer.next_frame().unwrap() {
                return match decode(&frame).unwrap().unwrap().0 {
                    Packet::ConnAck(connack) => Some(connack.return_code),
                    other => panic!("expected CONNACK, got {other:?}"),
                };
            }
            let mut buffer = [0u8; 512];
            match self.stream.read(&mut buffer) {
                Ok(0) | Err(_) => return None,
                Ok(count) => self.framer.push(&buffer[..count]),
            }
        }
    }
}

fn demo_key() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(DEMO_SECRET)
        .unwrap()
}

#[test]
fn psk_identity_must_match_the_client_id_else_rc_5() {
    let hub = Hub::start(&[
        "--device",
        "DEMO000001:demo:ZGVtb19zZWNyZXRfMTIzNA==",
        "--device",
        "DEMO000001:second:c2Vjb25kX3NlY3JldA==",
    ]);
    let mut client = TlsClient::psk(&hub, DEMO_CLIENT_ID, demo_key()).unwrap();
    assert_eq!(client.connect("DEMO000001second"), Some(5));
    let mut client = TlsClient::psk(&hub, DEMO_CLIENT_ID, demo_key()).unwrap();
    assert_eq!(client.connect(DEMO_CLIENT_ID), Some(0));
}

#[test]
fn disabled_device_over_psk_gets_rc_5() {
    let hub = Hub::start(&[]);
    let (status, _) = hub.admin(
        "PUT",
        "/devices/DEMO000001/demo",
        Some(json!({"secret": DEMO_SECRET, "enabled": false})),
    );
    assert_eq!(status, 200);
    let mut client = TlsClient::psk(&hub, DEMO_CLIENT_ID, demo_key()).unwrap();
    assert_eq!(client.connect(DEMO_CLIENT_ID), Some(5));
}

fn self_signed(common_name: &str) -> (X509, PKey<Private>) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    (builder.build(), key)
}

#[test]
fn client_certificate_must_be_the_registered_one_else_rc_5() {
    let registered = self_signed("CERT000001dev");
    let stranger = self_signed("CERT000001dev");
    let registry = scratch("cert-registry.json");
    let pem = String::from_utf8(registered.0.to_pem().unwrap()).unwrap();
    let document = json!({"products": [{"pid": "CERT000001", "auth": "cert"}],
                          "devices": [{"pid": "CERT000001", "dn": "dev", "cert_pem": pem}]});
    std::fs::write(&registry, document.to_string()).unwrap();
    let ca = scratch("cert-ca.pem");
    let hub = Hub::start(&[
        "--registry",
        registry.to_str().unwrap(),
        "--ca-out",
        ca.to_str().unwrap(),
    ]);

    let mut client = TlsClient::certificate(&hub, &ca, Some(&registered));
    assert_eq!(client.connect("CERT000001dev"), Some(0));
    let event = hub.wait_event(|event| event["kind"] == "connect");
    assert_eq!(event["transport"], "tls-certificate");

    let mut client = TlsClient::certificate(&hub, &ca, Some(&stranger));
    assert_eq!(client.connect("CERT000001dev"), Some(5));
    let mut client = TlsClient::certificate(&hub, &ca, None);
    assert_eq!(client.connect("CERT000001dev"), Some(5));
    let _ = std::fs::remove_file(registry);
    let _ = std::fs::remove_file(ca);
}

#[test]
fn s_client_with_the_registered_client_certificate_gets_connack_0() {
    let (certificate, key) = self_signed("CERT000002dev");
    let registry = scratch("s-client-registry.json");
    let pem = String::from_utf8(certificate.to_pem().unwrap()).unwrap();
    let document = json!({"products": [{"pid": "CERT000002", "auth": "cert"}],
                          "devices": [{"pid": "CERT000002", "dn": "dev", "cert_pem": pem}]});
    std::fs::write(&registry, document.to_string()).unwrap();
    let (certificate_file, key_file, ca) = (
        scratch("s-client.crt"),
        scratch("s-client.key"),
        scratch("s-client-ca.pem"),
    );
    std::fs::write(&certificate_file, certificate.to_pem().unwrap()).unwrap();
    std::fs::write(&key_file, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let hub = Hub::start(&[
        "--registry",
        registry.to_str().unwrap(),
        "--ca-out",
        ca.to_str().unwrap(),
    ]);
    let output = s_client(
        &hub,
        &[
            "-quiet",
            "-verify_return_error",
            "-CAfile",
            ca.to_str().unwrap(),
            "-servername",
            "CERT000002.iotcloud.tencentdevices.com",
            "-cert",
            certificate_file.to_str().unwrap(),
            "-key",
            key_file.to_str().unwrap(),
        ],
        &connect_then_disconnect("CERT000002dev", "ignored"),
    );
    assert_eq!(
        output.stdout,
        [0x20, 0x02, 0x00, 0x00],
        "{}",
        text(&output.stderr)
    );
    let event = hub.wait_event(|event| event["kind"] == "connect");
    assert_eq!(event["transport"], "tls-certificate");
    for file in [registry, certificate_file, key_file, ca] {
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn mosquitto_publishes_over_psk_to_a_psk_subscriber() {
    const TOPIC: &str = "DEMO000001/all/news";
    const SECOND_SECRET: &str = "c2Vjb25kX3NlY3JldA==";
    let registry = scratch("mosquitto-registry.json");
    let document = json!({
        "products": [{"pid": DEMO_PID, "custom_topics": [{"topic": TOPIC, "rights": "pubsub"}]}],
        "devices": [{"pid": DEMO_PID, "dn": DEMO_DN, "secret": DEMO_SECRET},
                    {"pid": DEMO_PID, "dn": "second", "secret": SECOND_SECRET}]});
    std::fs::write(&registry, document.to_string()).unwrap();
    let hub = Hub::start(&["--registry", registry.to_str().unwrap()]);
    let psk = |secret: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(secret)
            .unwrap()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let port = hub.mqtts.to_string();
    let second = credentials(DEMO_PID, "second", SECOND_SECRET);
    let second_psk = psk(SECOND_SECRET);
    let subscriber = Mosquitto::spawn_on(
        "mosquitto_sub",
        &port,
        // No password: the PSK proves the device.
        &[
            "-i",
            &second.0,
            "-u",
            &second.1,
            "--psk",
            &second_psk,
            "--psk-identity",
            &second.0,
            "-t",
            TOPIC,
            "-q",
            "1",
            "-C",
            "1",
        ],
    );
    hub.wait_event(|event| event["kind"] == "subscribe" && event["result"] == 1);
    let demo = credentials(DEMO_PID, DEMO_DN, DEMO_SECRET);
    let demo_psk = psk(DEMO_SECRET);
    let mut publisher = Mosquitto::spawn_on(
        "mosquitto_pub",
        &port,
        &[
            "-i",
            &demo.0,
            "-u",
            &demo.1,
            "--psk",
            &demo_psk,
            "--psk-identity",
            &demo.0,
            "-t",
            TOPIC,
            "-m",
            "over tls",
            "-q",
            "1",
        ],
    );
    let (success, stderr) = publisher.wait_exit();
    assert!(success, "mosquitto_pub failed: {stderr}");
    assert_eq!(subscriber.next_line(), "over tls");
    let event = hub.wait_event(|event| event["kind"] == "publish" && event["direction"] == "in");
    assert_eq!(event["acked"], true);
    let _ = std::fs::remove_file(registry);
}
