//! Dynamic registration end to end: the firmware's `provisioning::dynreg` request, HTTP
//! exchange and reply decoding driven over real TCP (and TLS) on loopback against the hub's
//! `POST /register/dev`, for success and every cloud code and transport fault.

mod common;

use common::{credentials, Hub, RawClient, WAIT};
use ota::http::Url;
use provisioning::dynreg::{
    decode_reply, write_request, Credential, Exchange, Product, Progress, TransportFailure,
};
use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PID: &str = "CTQS08Y5LG";
const SECRET: &str = "Xq3mP8sLw2Kd9fRt6YbN1cVh";

/// What one registration gave: the new device secret, or the `+TCDEVREG:FAIL` code.
fn register_over<S: Read + Write>(
    mut stream: S,
    host: &str,
    pid: &str,
    dn: &str,
    secret: &str,
) -> Result<String, i32> {
    let started = Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let product = Product {
        product_id: pid.as_bytes(),
        device_name: dn.as_bytes(),
        product_secret: secret.as_bytes(),
    };
    let url_text = format!("{host}/register/dev");
    let url = Url::parse(url_text.as_bytes()).unwrap();
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut transmit = [0u8; 512];
    let length = write_request(&product, 987_654_321, timestamp, &url, &mut transmit).unwrap();
    stream.write_all(&transmit[..length]).unwrap();
    let mut exchange = Exchange::new(now_ms());
    let mut body = [0u8; 1024];
    let mut receive = [0u8; 128];
    let body_length = loop {
        match stream.read(&mut receive) {
            Ok(0) => break exchange.closed().map_err(TransportFailure::code)?,
            Ok(count) => match exchange.feed(&receive[..count], now_ms(), &mut body) {
                Ok(Progress::Complete { body_length }) => break body_length,
                Ok(Progress::Pending) => {}
                Err(failure) => return Err(failure.code()),
            },
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                exchange
                    .check_timeout(now_ms())
                    .map_err(TransportFailure::code)?;
            }
            Err(_) => return Err(TransportFailure::ClosedEarly.code()),
        }
    };
    let mut scratch = [0u8; 128];
    match decode_reply(&body[..body_length], secret.as_bytes(), &mut scratch, false) {
        Ok(Credential::Key(psk)) => Ok(String::from_utf8(psk.bytes().collect()).unwrap()),
        Ok(Credential::Certificate { .. }) => panic!("certificate credential"),
        Err(error) => Err(error.code()),
    }
}

fn register(hub: &Hub, pid: &str, dn: &str, secret: &str) -> Result<String, i32> {
    register_at(hub.http, pid, dn, secret)
}

/// Plain HTTP to 127.0.0.1:`port`, as the `esp8266` profile registers; a refused connect
/// is the board's -603.
fn register_at(port: u16, pid: &str, dn: &str, secret: &str) -> Result<String, i32> {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return Err(TransportFailure::ConnectFailed.code());
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    register_over(stream, &format!("http://127.0.0.1:{port}"), pid, dn, secret)
}

fn product(hub: &Hub, pid: &str, settings: Value) {
    let mut body = json!({"product_secret": SECRET, "region": "ap-guangzhou"});
    for (key, value) in settings.as_object().unwrap() {
        body[key] = value.clone();
    }
    assert_eq!(
        hub.admin("PUT", &format!("/products/{pid}"), Some(body)).0,
        200
    );
}

fn faults(hub: &Hub, faults: Value) {
    assert_eq!(hub.admin("PUT", "/dynreg/faults", Some(faults)).0, 200);
}

#[test]
fn a_registered_secret_connects_and_an_activated_device_gets_1021() {
    let hub = Hub::start(&[]);
    product(&hub, PID, json!({"dynreg": "autocreate"}));
    let secret = register(&hub, PID, "Dev01", SECRET).unwrap();
    assert_eq!(secret.len(), 24, "16 random bytes in Base64");
    let (status, device) = hub.admin("GET", &format!("/devices/{PID}/Dev01"), None);
    assert_eq!((status, &device["activated"]), (200, &json!(false)));
    assert_eq!(device["registrations"], 1);
    // Not yet activated: registering again issues a new secret, the old one stops working.
    let second = register(&hub, PID, "Dev01", SECRET).unwrap();
    assert_ne!(second, secret);
    let mut old = RawClient::open(&hub);
    let (client_id, username, password) = credentials(PID, "Dev01", &secret);
    assert_eq!(
        old.connect(&client_id, &username, &password, 60, true),
        Some((false, 4))
    );
    let _client = RawClient::login(&hub, &credentials(PID, "Dev01", &second));
    assert_eq!(register(&hub, PID, "Dev01", SECRET), Err(1021));
    let event = hub.wait_event(|event| event["kind"] == "dynreg" && event["code"] == 1021);
    assert!(event["body"]
        .as_str()
        .unwrap()
        .contains("\"deviceName\":\"Dev01\""));
}

#[test]
fn every_refusal_has_its_cloud_code() {
    let hub = Hub::start(&[]);
    product(
        &hub,
        PID,
        json!({"dynreg": "autocreate", "max_registrations": 1}),
    );
    product(&hub, "OFFPRODUCT", json!({"dynreg": "off"}));
    product(&hub, "PRECREATE1", json!({"dynreg": "precreate"}));
    product(
        &hub,
        "QUOTAZERO1",
        json!({"dynreg": "autocreate", "autocreate_quota": 0}),
    );
    assert_eq!(register(&hub, "NOPRODUCT1", "d", SECRET), Err(1004));
    assert_eq!(
        register(&hub, PID, "d", "WrongSecretWrongSecret"),
        Err(1010)
    );
    assert_eq!(register(&hub, "OFFPRODUCT", "d", SECRET), Err(1011));
    assert!(register(&hub, PID, "d", SECRET).is_ok());
    assert_eq!(register(&hub, PID, "d", SECRET), Err(1012));
    assert_eq!(register(&hub, "PRECREATE1", "absent", SECRET), Err(1020));
    let device = json!({"secret": "ZHNkIGRzZCA="});
    assert_eq!(
        hub.admin("PUT", "/devices/PRECREATE1/made", Some(device)).0,
        200
    );
    assert!(register(&hub, "PRECREATE1", "made", SECRET).is_ok());
    assert_eq!(register(&hub, "QUOTAZERO1", "d", SECRET), Err(1031));
    faults(&hub, json!({"internal_error": true, "next_only": true}));
    assert_eq!(register(&hub, PID, "other", SECRET), Err(1000));
    // The timestamp window: the hub clock an hour ahead fails a 60 s window.
    assert_eq!(
        hub.admin("PUT", "/dynreg/window", Some(json!({"window_s": 60})))
            .0,
        200
    );
    assert_eq!(
        hub.admin("POST", "/clock", Some(json!({"offset_s": 3600})))
            .0,
        200
    );
    assert_eq!(register(&hub, PID, "late", SECRET), Err(1010));
    assert_eq!(
        hub.admin("PUT", "/dynreg/window", Some(json!({"window_s": null})))
            .0,
        200
    );
    assert!(register(&hub, PID, "late", SECRET).is_ok());
    // A body that is not the documented JSON.
    let mut stream = TcpStream::connect(("127.0.0.1", hub.http)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "POST /register/dev HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"code\":1006"), "{answer}");
}

#[test]
fn every_transport_fault_maps_to_its_sdk_code() {
    let hub = Hub::start(&[]);
    product(&hub, PID, json!({"dynreg": "autocreate"}));
    product(&hub, "SECONDPROD", json!({"dynreg": "autocreate"}));
    for (fault, code) in [
        (json!({"status": 401}), -9),
        (json!({"status": 403}), -9),
        (json!({"status": 404}), -10),
        (json!({"status": 500}), -4),
        (json!({"close": true}), -3),
        (json!({"malformed": true}), -5),
    ] {
        let mut fault = fault;
        fault["next_only"] = json!(true);
        faults(&hub, fault.clone());
        assert_eq!(register(&hub, PID, "d", SECRET), Err(code), "{fault}");
    }
    // next_only faults are used up; standing faults stay; a pid limits them; {} clears.
    assert!(register(&hub, PID, "d", SECRET).is_ok());
    faults(&hub, json!({"pid": "SECONDPROD", "status": 404}));
    assert!(register(&hub, PID, "d2", SECRET).is_ok());
    assert_eq!(register(&hub, "SECONDPROD", "d", SECRET), Err(-10));
    assert_eq!(register(&hub, "SECONDPROD", "d", SECRET), Err(-10));
    faults(&hub, json!({}));
    assert!(register(&hub, "SECONDPROD", "d", SECRET).is_ok());
    // A stall beyond the 5 s read timeout.
    faults(&hub, json!({"stall_s": 7.0, "next_only": true}));
    let started = Instant::now();
    assert_eq!(register(&hub, PID, "d3", SECRET), Err(-11));
    assert!(started.elapsed() >= Duration::from_secs(5));
    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    assert_eq!(register_at(port, PID, "d4", SECRET), Err(-603));
}

#[test]
fn registration_works_over_https_with_the_hub_certificate() {
    let directory = std::env::temp_dir().join(format!("tcat-dynreg-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let ca = directory.join("ca.pem");
    let hub = Hub::start(&["--ca-out", ca.to_str().unwrap()]);
    product(&hub, PID, json!({"dynreg": "autocreate"}));
    let mut builder =
        openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client()).unwrap();
    builder.set_ca_file(&ca).unwrap();
    let connector = builder.build();
    let tcp = TcpStream::connect(("127.0.0.1", hub.https)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let stream = connector
        .connect("gateway.tencentdevices.com", tcp)
        .unwrap();
    let secret = register_over(
        stream,
        "https://gateway.tencentdevices.com",
        PID,
        "Tls01",
        SECRET,
    )
    .unwrap();
    let _client = RawClient::login(&hub, &credentials(PID, "Tls01", &secret));
    let _ = std::fs::remove_dir_all(&directory);
}
