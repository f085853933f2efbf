//! End-to-end checks with Debian's `mosquitto_pub` / `mosquitto_sub` against the hub binary.

mod common;

use common::{credentials, demo_identity, Hub, Mosquitto, DEMO_DN, DEMO_PID, DEMO_SECRET};
use serde_json::json;

const DATA: &str = "DEMO000001/demo/data";

#[test]
fn good_login_publishes_data_with_puback() {
    let hub = Hub::start(&[]);
    let mut publisher = Mosquitto::spawn(
        "mosquitto_pub",
        &hub,
        &demo_identity(),
        &["-t", DATA, "-m", "hello", "-q", "1"],
    );
    let (success, stderr) = publisher.wait_exit();
    assert!(success, "mosquitto_pub failed: {stderr}");
    let event = hub.wait_event(|event| event["kind"] == "publish" && event["direction"] == "in");
    assert_eq!(
        (event["topic"].as_str(), event["acked"].as_bool()),
        (Some(DATA), Some(true))
    );
}

#[test]
fn bad_password_is_refused_with_rc_4() {
    let hub = Hub::start(&[]);
    let (client_id, username, _) = demo_identity();
    let identity = (client_id, username, format!("{};hmacsha1", "0".repeat(40)));
    let mut subscriber = Mosquitto::spawn("mosquitto_sub", &hub, &identity, &["-t", DATA]);
    let (success, stderr) = subscriber.wait_exit();
    assert!(!success);
    assert!(
        stderr.to_lowercase().contains("bad user name or password"),
        "{stderr}"
    );
    hub.wait_event(|event| event["kind"] == "connack" && event["rc"] == 4);
}

#[test]
fn unknown_client_id_is_refused_with_rc_2() {
    let hub = Hub::start(&[]);
    let identity = credentials(DEMO_PID, "ghost", DEMO_SECRET);
    let mut subscriber = Mosquitto::spawn(
        "mosquitto_sub",
        &hub,
        &identity,
        &["-t", "DEMO000001/ghost/data"],
    );
    let (success, stderr) = subscriber.wait_exit();
    assert!(!success);
    assert!(
        stderr.to_lowercase().contains("identifier rejected"),
        "{stderr}"
    );
    hub.wait_event(|event| event["kind"] == "connack" && event["rc"] == 2);
}

#[test]
fn event_topic_subscribe_is_refused() {
    let hub = Hub::start(&[]);
    let _subscriber = Mosquitto::spawn(
        "mosquitto_sub",
        &hub,
        &demo_identity(),
        &["-t", "DEMO000001/demo/event"],
    );
    let event = hub.wait_event(|event| event["kind"] == "subscribe");
    assert_eq!(event["result"], 0x80);
}

#[test]
fn admin_publish_reaches_a_mosquitto_subscriber() {
    let hub = Hub::start(&[]);
    let subscriber = Mosquitto::spawn(
        "mosquitto_sub",
        &hub,
        &demo_identity(),
        &["-t", "DEMO000001/demo/control", "-q", "1", "-v", "-C", "1"],
    );
    let subscribed = hub.wait_event(|event| event["kind"] == "subscribe");
    assert_eq!(subscribed["result"], 1);
    let (status, result) = hub.admin(
        "POST",
        &format!("/devices/{DEMO_PID}/{DEMO_DN}/publish"),
        Some(json!({"topic": "DEMO000001/demo/control", "qos": 1, "payload": "{\"power\":1}"})),
    );
    assert_eq!((status, result["delivered"].as_u64()), (200, Some(1)));
    assert_eq!(
        subscriber.next_line(),
        "DEMO000001/demo/control {\"power\":1}"
    );
}

#[test]
fn second_login_takes_over_the_session() {
    let hub = Hub::start(&[]);
    let _subscriber = Mosquitto::spawn("mosquitto_sub", &hub, &demo_identity(), &["-t", DATA]);
    let first = hub.wait_event(|event| event["kind"] == "subscribe" && event["result"] == 0);
    let first_connection = hub.wait_event(|event| event["kind"] == "connack" && event["rc"] == 0)
        ["connection"]
        .clone();
    assert_eq!(first["client_id"], "DEMO000001demo");
    let _publisher = Mosquitto::spawn(
        "mosquitto_pub",
        &hub,
        &demo_identity(),
        &["-t", DATA, "-m", "x"],
    );
    let closed = hub.wait_event(|event| {
        event["kind"] == "disconnect" && event["connection"] == first_connection
    });
    assert_eq!(closed["reason"], "session taken over");
}

#[test]
fn admin_kick_closes_the_subscriber_and_refuses_reconnects() {
    let hub = Hub::start(&[]);
    let _subscriber = Mosquitto::spawn("mosquitto_sub", &hub, &demo_identity(), &["-t", DATA]);
    hub.wait_event(|event| event["kind"] == "subscribe");
    let (status, result) = hub.admin(
        "POST",
        &format!("/devices/{DEMO_PID}/{DEMO_DN}/kick"),
        Some(json!({"refuse_s": 60})),
    );
    assert_eq!((status, result["kicked"].as_bool()), (200, Some(true)));
    let closed = hub.wait_event(|event| event["kind"] == "disconnect");
    assert_eq!(closed["reason"], "kicked");
    // mosquitto_sub reconnects by itself; the hub drops it before any CONNACK.
    hub.wait_event(|event| event["kind"] == "refused");
    let (_, sessions) = hub.admin("GET", "/sessions", None);
    assert_eq!(sessions, json!([]));
}
