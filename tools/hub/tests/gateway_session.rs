//! The firmware's gateway state machine driven through the firmware's MQTT session over a
//! real TCP connection to the hub: the gateway transcript of `commands.md` §10 at the cloud
//! level (bind, online, sub-device subscribe and loop-back, query, offline, unbind), failure
//! results, and the re-online after a hub kick. The runner is
//! `gateway_support::module::Module`.

mod common;
mod gateway_support;

use gateway::Operation;
use gateway_support::module::{Module, COMMAND_TIMEOUT_MS};
use gateway_support::{hub, view, GW_DN, GW_PID, SUB_DATA, SUB_DN, SUB_PID, SUB_SECRET};
use mqtt_session::codec::QoS;
use serde_json::json;
use std::time::{Duration, Instant};

const SUB: &str = r#""S3EUVBRJLB","test_device""#;

#[test]
fn the_test_tools_gateway_transcript_at_the_cloud_level() {
    let hub = hub();
    let mut module = Module::connect(&hub);
    assert_eq!(
        module.command(true, &format!(r#"0,{SUB},"{SUB_SECRET}""#)),
        "+TCGWBIND:OK\r\n"
    );
    assert_eq!(
        module.command(false, &format!("0,{SUB}")),
        "+TCGWONLINE:OK\r\n"
    );
    assert_eq!(
        module.subscribe(SUB_DATA, QoS::AtMostOnce),
        "+TCMQTTSUB:OK\r\n"
    );
    assert_eq!(module.query(), "+TCGWONLINE:\"S3EUVBRJLB,test_device\"\r\n");
    let now = module.now();
    module
        .session
        .publish(SUB_DATA, b"{\"power\":1}", QoS::AtLeastOnce, now)
        .unwrap();
    module.run_until(|module| !module.received.is_empty());
    assert_eq!(
        module.received,
        [(SUB_DATA.to_owned(), b"{\"power\":1}".to_vec())]
    );
    assert_eq!(
        module.command(false, &format!("1,{SUB}")),
        "+TCGWONLINE:OK\r\n"
    );
    assert_eq!(module.query(), "");
    assert_eq!(
        module.command(true, &format!("1,{SUB}")),
        "+TCGWBIND:OK\r\n"
    );
    assert_eq!(view(&hub), json!({"bound": [], "online": []}));
    // A re-run after an aborted run: bound already (809) is OK.
    let bind = format!(r#"0,{SUB},"{SUB_SECRET}""#);
    assert_eq!(module.command(true, &bind), "+TCGWBIND:OK\r\n");
    assert_eq!(module.command(true, &bind), "+TCGWBIND:OK\r\n");
    // The secret only keys the signature: it never crossed the wire.
    use base64::Engine as _;
    for event in hub.events() {
        if let Some(payload) = event["payload"].as_str() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(SUB_SECRET), "{text}");
        }
    }
}

#[test]
fn cloud_and_local_failures_give_their_exact_lines() {
    let hub = hub();
    let mut module = Module::connect(&hub);
    // Not bound: the cloud answers -1; a wrong secret: 803; an unknown sub-device: 802.
    assert_eq!(
        module.command(false, &format!("0,{SUB}")),
        "+TCGWONLINE:FAIL,-1\r\n"
    );
    let wrong = format!(r#"0,{SUB},"d3Jvbmc=""#);
    assert_eq!(module.command(true, &wrong), "+TCGWBIND:FAIL,803\r\n");
    let ghost = r#"0,"S3EUVBRJLB","ghost","c2VjcmV0""#;
    assert_eq!(module.command(true, ghost), "+TCGWBIND:FAIL,802\r\n");
    // Local list checks.
    assert_eq!(
        module.command(false, &format!("1,{SUB}")),
        "+TCGWONLINE:FAIL,-222\r\n"
    );
    module.command(true, &format!(r#"0,{SUB},"{SUB_SECRET}""#));
    assert_eq!(
        module.command(false, &format!("0,{SUB}")),
        "+TCGWONLINE:OK\r\n"
    );
    assert_eq!(
        module.command(false, &format!("0,{SUB}")),
        "+TCGWONLINE:FAIL,-224\r\n"
    );
    // No reply within cmdtimeout: 202.
    let silent = json!({"op": "offline", "silent": true, "next_only": true});
    assert_eq!(hub.admin("PUT", "/gateway/faults", Some(silent)).0, 200);
    let started = Instant::now();
    assert_eq!(
        module.command(false, &format!("1,{SUB}")),
        "+TCGWONLINE:FAIL,202\r\n"
    );
    assert!(started.elapsed() >= Duration::from_millis(u64::from(COMMAND_TIMEOUT_MS)));
    assert_eq!(module.query(), "+TCGWONLINE:\"S3EUVBRJLB,test_device\"\r\n");
}

#[test]
fn a_non_gateway_device_is_refused_the_result_subscription() {
    let hub = hub();
    let path = format!("/products/{GW_PID}");
    assert_eq!(hub.admin("PUT", &path, Some(json!({}))).0, 200);
    let mut module = Module::connect(&hub);
    assert_eq!(
        module.command(false, &format!("0,{SUB}")),
        "+TCGWONLINE:FAIL,-108\r\n"
    );
    assert_eq!(
        module.command(true, &format!(r#"0,{SUB},"{SUB_SECRET}""#)),
        "+TCGWBIND:FAIL,-108\r\n"
    );
}

#[test]
fn a_kick_reconnects_and_re_onlines_before_reconnected() {
    let hub = hub();
    let mut module = Module::connect(&hub);
    module.command(true, &format!(r#"0,{SUB},"{SUB_SECRET}""#));
    assert_eq!(
        module.command(false, &format!("0,{SUB}")),
        "+TCGWONLINE:OK\r\n"
    );
    let (_, kicked) = hub.admin("POST", &format!("/devices/{GW_PID}/{GW_DN}/kick"), None);
    assert_eq!(kicked["kicked"], true);
    module.printed.clear();
    module.run_until(|module| module.printed.ends_with(b"+TCMQTTRECONNECTED\r\n"));
    assert_eq!(
        String::from_utf8(module.printed.clone()).unwrap(),
        "+TCMQTTDISCON,-103\r\n+TCMQTTRECONNECTING\r\n+TCMQTTRECONNECTED\r\n"
    );
    assert_eq!(module.query(), "+TCGWONLINE:\"S3EUVBRJLB,test_device\"\r\n");
    assert_eq!(
        view(&hub)["online"],
        json!([{"product_id": SUB_PID, "device_name": SUB_DN}])
    );
    // The cloud serves the sub-device again.
    assert_eq!(
        module.subscribe(SUB_DATA, QoS::AtMostOnce),
        "+TCMQTTSUB:OK\r\n"
    );
    assert_eq!(
        module.command(false, &format!("1,{SUB}")),
        "+TCGWONLINE:OK\r\n"
    );
    // Operation names are the same as the hub logs them.
    assert!(hub
        .events()
        .iter()
        .any(|event| event["kind"] == "gateway" && event["type"] == Operation::Online.name()));
}
