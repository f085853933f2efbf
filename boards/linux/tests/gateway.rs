//! Gateway and sub-devices end to end (`commands.md` §10, `cloud.md` §9): the module against
//! `tc-at-hub`'s broker and `$gateway/operation` responder over real TCP, on the real PTY.
//!
//! The MCU side is this test: the transcript of Tencent's module test tool byte for byte, every
//! failure result with its line (the hub's registry, its gateway faults and its clock), the
//! re-online after a kick, the bad inputs of both commands, and no sub-device secret on the AT
//! port or in the log. Every wait is bound to the module's output with a deadline.

mod common;

use common::hub::Hub;
use common::{Module, Options, Scratch, Uart};

const GW_PID: &str = "GWTEST0001";
const GW_DN: &str = "Gateway01";
const GW_SECRET: &str = "Z2F0ZXdheV9zZWNyZXRfMTIzNA==";
const SUB_PID: &str = "S3EUVBRJLB";
const SUB_DN: &str = "test_device";
const SUB_SECRET: &str = "c3ViX3NlY3JldF8xMjM0NTY=";
const OTHER_SECRET: &str = "b3RoZXJfc2VjcmV0XzEyMzQ=";
const DATA: &str = "S3EUVBRJLB/test_device/data";

/// A hub with the test tool's `HUB-GW1` setup: a gateway product attaching `S3EUVBRJLB`, its
/// gateway device, the sub-device; plus a second gateway, an unattached product and more
/// sub-devices for the failure cases.
fn hub() -> Hub {
    let hub = Hub::start();
    let gateway_product = r#"{"node_type":"gateway","subproducts":["S3EUVBRJLB"]}"#;
    for (pid, product) in [
        (GW_PID, gateway_product),
        ("GWTEST0002", gateway_product),
        (SUB_PID, r#"{"loopback_data":true}"#),
        ("NOTSUB0001", "{}"),
    ] {
        let (status, body) = hub.admin("PUT", &format!("/products/{pid}"), product);
        assert_eq!(status, 200, "{body}");
    }
    let mut devices = vec![
        (GW_PID.to_owned(), GW_DN.to_owned(), GW_SECRET),
        ("GWTEST0002".into(), "Gateway02".into(), GW_SECRET),
        (SUB_PID.into(), SUB_DN.into(), SUB_SECRET),
        (SUB_PID.into(), "taken".into(), OTHER_SECRET),
        ("NOTSUB0001".into(), "dev".into(), OTHER_SECRET),
    ];
    for index in 0..17 {
        devices.push((SUB_PID.into(), format!("d{index}"), OTHER_SECRET));
    }
    for (pid, dn, secret) in devices {
        let body = format!("{{\"secret\":\"{secret}\"}}");
        let (status, answer) = hub.admin("PUT", &format!("/devices/{pid}/{dn}"), &body);
        assert_eq!(status, 200, "{answer}");
    }
    // `taken` is bound to the other gateway.
    let (status, answer) = hub.admin(
        "PUT",
        &format!("/gateways/GWTEST0002/Gateway02/subdevices/{SUB_PID}/taken"),
        "",
    );
    assert_eq!(status, 200, "{answer}");
    hub
}

/// A module on the PTY, connected to `hub` as `pid`/`dn` (echo off). `esp8266`: that
/// profile, TLS-PSK (mode 1), as Tencent's test tool runs; else mode 0. cmdtimeout 2000 ms.
fn module(scratch: &Scratch, hub: &Hub, identity: (&str, &str, &str), esp8266: bool) -> Module {
    let mut options = Options::default();
    let mode = if esp8266 {
        options.profile = Some("esp8266");
        1
    } else {
        0
    };
    options.environment.push((
        "TCAT_RESOLVE".into(),
        "*.tencentdevices.com=127.0.0.1".into(),
    ));
    options.environment.push((
        "TCAT_PORT_MAP".into(),
        format!("1883={},8883={}", hub.mqtt, hub.mqtts),
    ));
    let mut module = Module::start(Uart::Pty, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    let (pid, dn, secret) = identity;
    module.send(format!("AT+TCDEVINFOSET={mode},\"{pid}\",\"{dn}\",\"{secret}\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module.send(format!("AT+TCMQTTCONN={mode},2000,240,1,1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module
}

fn gateway_module(scratch: &Scratch, hub: &Hub) -> Module {
    module(scratch, hub, (GW_PID, GW_DN, GW_SECRET), false)
}

/// Sends `line` and expects exactly `answer`.
fn exchange(module: &mut Module, line: &str, answer: &str) {
    module.context = line.trim_end().to_owned();
    module.send(line.as_bytes());
    module.expect(answer.as_bytes());
    module.context.clear();
}

/// `GET /gateways/GWTEST0001/Gateway01`.
fn gateway_view(hub: &Hub) -> String {
    let (status, body) = hub.admin("GET", &format!("/gateways/{GW_PID}/{GW_DN}"), "");
    assert_eq!(status, 200, "{body}");
    body
}

fn fault(hub: &Hub, body: &str) {
    let (status, answer) = hub.admin("PUT", "/gateway/faults", body);
    assert_eq!(status, 200, "{answer}");
}

/// The sequence number of the hub's newest event (0 for none).
fn last_event(hub: &Hub) -> u64 {
    let (status, body) = hub.admin("GET", "/events?since=0&wait_ms=0", "");
    assert_eq!(status, 200, "events answered {body}");
    max_sequence(&body).unwrap_or(0)
}

fn max_sequence(log: &str) -> Option<u64> {
    log.split("\"seq\":")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .max()
}

/// Long-polls the hub's event log after `since` until one event contains every one of
/// `needles`; returns the events read, in order.
fn wait_for_event(hub: &Hub, mut since: u64, needles: &[&str]) -> String {
    let mut log = String::new();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < until {
        let (status, body) = hub.admin("GET", &format!("/events?since={since}&wait_ms=2000"), "");
        assert_eq!(status, 200, "events answered {body}");
        log.push_str(&body);
        if body
            .split("},{")
            .any(|event| needles.iter().all(|needle| event.contains(needle)))
        {
            return log;
        }
        since = max_sequence(&body).unwrap_or(since);
    }
    panic!("no hub event with {needles:?}; log: {log}");
}

/// No secret of a sub-device on the AT port or in the module's log.
fn assert_no_secrets(module: &Module) {
    let port = String::from_utf8_lossy(module.received()).into_owned();
    let log = String::from_utf8_lossy(&module.stderr()).into_owned();
    for secret in [SUB_SECRET, OTHER_SECRET, "sub_secret_123456"] {
        assert!(!port.contains(secret), "secret on the AT port");
        assert!(!log.contains(secret), "secret in the log");
    }
}

#[test]
fn the_test_tools_gateway_case_byte_for_byte() {
    let scratch = Scratch::new("gateway-transcript");
    let hub = hub();
    let mut module = module(&scratch, &hub, (GW_PID, GW_DN, GW_SECRET), true);
    let transcript: &[(String, &str)] = &[
        (
            "AT+TCGWONLINE=?\r\n".into(),
            "+TCGWONLINE:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\"\r\n\r\nOK\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "OK\r\n+TCGWBIND:OK\r\n",
        ),
        (
            format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "OK\r\n+TCGWONLINE:OK\r\n",
        ),
        (
            format!("AT+TCMQTTSUB=\"{DATA}\",0\r\n"),
            "OK\r\n+TCMQTTSUB:OK\r\n",
        ),
        (
            "AT+TCGWONLINE?\r\n".into(),
            "+TCGWONLINE:\"S3EUVBRJLB,test_device\"\r\n\r\nOK\r\n",
        ),
    ];
    for (line, answer) in transcript {
        exchange(&mut module, line, answer);
    }
    // The tool's data loop-back at QoS 1 on the sub-device's topic.
    exchange(
        &mut module,
        &format!("AT+TCMQTTPUB=\"{DATA}\",1,\"hello\"\r\n"),
        &format!("OK\r\n+TCMQTTPUB:OK\r\n+TCMQTTRCVPUB:\"{DATA}\",5,\"hello\"\r\n"),
    );
    assert!(gateway_view(&hub).contains(SUB_DN));
    for (line, answer) in [
        (
            format!("AT+TCGWONLINE=1,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "OK\r\n+TCGWONLINE:OK\r\n",
        ),
        (
            format!("AT+TCGWBIND=1,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "OK\r\n+TCGWBIND:OK\r\n",
        ),
        ("AT+TCGWONLINE?\r\n".into(), "\r\nOK\r\n"),
        // A re-run after an aborted run: bound already (809) is OK.
        (
            format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "OK\r\n+TCGWBIND:OK\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "OK\r\n+TCGWBIND:OK\r\n",
        ),
    ] {
        exchange(&mut module, &line, answer);
    }
    let view = gateway_view(&hub);
    assert!(view.contains("\"bound\":[{"), "{view}");
    assert!(view.contains("\"online\":[]"), "{view}");
    // The two gateway slots are not user slots.
    exchange(
        &mut module,
        "AT+TCMQTTSUB?\r\n",
        &format!("+TCMQTTSUB:\"{DATA}\",0\r\n\r\nOK\r\n"),
    );
    assert_no_secrets(&module);
}

#[test]
fn sub_device_topics_need_the_sub_device_online() {
    let scratch = Scratch::new("gateway-rights");
    let hub = hub();
    let mut module = gateway_module(&scratch, &hub);
    let bind = format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n");
    exchange(&mut module, &bind, "OK\r\n+TCGWBIND:OK\r\n");
    exchange(
        &mut module,
        &format!("AT+TCMQTTSUB=\"{DATA}\",0\r\n"),
        "OK\r\n+TCMQTTSUB:FAIL,-108\r\n",
    );
    let online = format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n");
    exchange(&mut module, &online, "OK\r\n+TCGWONLINE:OK\r\n");
    exchange(
        &mut module,
        &format!("AT+TCMQTTSUB=\"{DATA}\",1\r\n"),
        "OK\r\n+TCMQTTSUB:OK\r\n",
    );
    let offline = format!("AT+TCGWONLINE=1,\"{SUB_PID}\",\"{SUB_DN}\"\r\n");
    exchange(&mut module, &offline, "OK\r\n+TCGWONLINE:OK\r\n");
    exchange(
        &mut module,
        &format!("AT+TCMQTTPUB=\"{DATA}\",1,\"late\"\r\n"),
        "OK\r\n+TCMQTTPUB:FAIL,202\r\n",
    );
}

#[test]
fn every_failure_result_has_its_line() {
    let scratch = Scratch::new("gateway-failures");
    let hub = hub();
    let mut module = gateway_module(&scratch, &hub);
    let bind = |dn: &str, pid: &str, secret: &str| {
        format!("AT+TCGWBIND=0,\"{pid}\",\"{dn}\",\"{secret}\"\r\n")
    };
    // The registry's own answers.
    for (line, answer) in [
        (
            bind("ghost", SUB_PID, SUB_SECRET),
            "OK\r\n+TCGWBIND:FAIL,802\r\n",
        ),
        (
            bind(SUB_DN, SUB_PID, OTHER_SECRET),
            "OK\r\n+TCGWBIND:FAIL,803\r\n",
        ),
        // The secret is the key as text: its decoded bytes sign wrongly.
        (
            bind(SUB_DN, SUB_PID, "sub_secret_123456"),
            "OK\r\n+TCGWBIND:FAIL,803\r\n",
        ),
        (
            bind("taken", SUB_PID, OTHER_SECRET),
            "OK\r\n+TCGWBIND:FAIL,806\r\n",
        ),
        (
            bind("Gateway02", "GWTEST0002", GW_SECRET),
            "OK\r\n+TCGWBIND:FAIL,807\r\n",
        ),
        (
            bind("dev", "NOTSUB0001", OTHER_SECRET),
            "OK\r\n+TCGWBIND:FAIL,810\r\n",
        ),
        (
            format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "OK\r\n+TCGWONLINE:FAIL,-1\r\n",
        ),
        (
            format!("AT+TCGWONLINE=1,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "OK\r\n+TCGWONLINE:FAIL,-222\r\n",
        ),
    ] {
        exchange(&mut module, &line, answer);
    }
    // Every bind result through the fault switch; 809 is OK.
    for code in 801..=810 {
        fault(
            &hub,
            &format!("{{\"op\":\"bind\",\"result\":{code},\"next_only\":true}}"),
        );
        let answer = if code == 809 {
            "OK\r\n+TCGWBIND:OK\r\n".to_owned()
        } else {
            format!("OK\r\n+TCGWBIND:FAIL,{code}\r\n")
        };
        exchange(&mut module, &bind(SUB_DN, SUB_PID, SUB_SECRET), &answer);
    }
    fault(&hub, r#"{"op":"unbind","result":808,"next_only":true}"#);
    exchange(
        &mut module,
        &format!("AT+TCGWBIND=1,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
        "OK\r\n+TCGWBIND:FAIL,808\r\n",
    );
    // No reply within cmdtimeout (2000 ms): 202.
    fault(&hub, r#"{"op":"online","silent":true,"next_only":true}"#);
    exchange(
        &mut module,
        &format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
        "OK\r\n+TCGWONLINE:FAIL,202\r\n",
    );
    // A cloud time the module cannot use (beyond a signed 64-bit integer): -1001, nothing
    // published on $gateway.
    let (status, answer) = hub.admin("POST", "/clock", r#"{"offset_s":9223372036854775807}"#);
    assert_eq!(status, 200, "{answer}");
    exchange(
        &mut module,
        &bind(SUB_DN, SUB_PID, SUB_SECRET),
        "OK\r\n+TCGWBIND:FAIL,-1001\r\n",
    );
    let (status, answer) = hub.admin("POST", "/clock", r#"{"offset_s":0}"#);
    assert_eq!(status, 200, "{answer}");
    // The list: 16 online, the 17th -221, a listed one -224.
    for index in 0..17 {
        let (status, answer) = hub.admin(
            "PUT",
            &format!("/gateways/{GW_PID}/{GW_DN}/subdevices/{SUB_PID}/d{index}"),
            "",
        );
        assert_eq!(status, 200, "{answer}");
    }
    for index in 0..16 {
        exchange(
            &mut module,
            &format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"d{index}\"\r\n"),
            "OK\r\n+TCGWONLINE:OK\r\n",
        );
    }
    exchange(
        &mut module,
        &format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"d16\"\r\n"),
        "OK\r\n+TCGWONLINE:FAIL,-221\r\n",
    );
    exchange(
        &mut module,
        &format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"d0\"\r\n"),
        "OK\r\n+TCGWONLINE:FAIL,-224\r\n",
    );
    let mut listed = String::new();
    for index in (0..16).rev() {
        listed.push_str(&format!("+TCGWONLINE:\"{SUB_PID},d{index}\"\r\n"));
    }
    listed.push_str("\r\nOK\r\n");
    exchange(&mut module, "AT+TCGWONLINE?\r\n", &listed);
    // A drop while waiting: -103 after the disconnect URC.
    fault(&hub, r#"{"op":"offline","silent":true,"next_only":true}"#);
    module.send(format!("AT+TCGWONLINE=1,\"{SUB_PID}\",\"d3\"\r\n").as_bytes());
    module.expect(b"OK\r\n");
    let (status, answer) = hub.admin("POST", &format!("/devices/{GW_PID}/{GW_DN}/kick"), "{}");
    assert_eq!(status, 200, "{answer}");
    module.expect(b"+TCMQTTDISCON,-103\r\n+TCGWONLINE:FAIL,-103\r\n");
    assert_no_secrets(&module);
}

#[test]
fn a_device_of_another_product_gets_108_for_the_result_subscription() {
    let scratch = Scratch::new("gateway-plain");
    let hub = hub();
    let mut module = module(&scratch, &hub, ("NOTSUB0001", "dev", OTHER_SECRET), false);
    exchange(
        &mut module,
        &format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
        "OK\r\n+TCGWONLINE:FAIL,-108\r\n",
    );
    exchange(
        &mut module,
        &format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
        "OK\r\n+TCGWBIND:FAIL,-108\r\n",
    );
    assert_no_secrets(&module);
}

#[test]
fn a_kick_re_onlines_the_sub_devices_before_their_filters() {
    let scratch = Scratch::new("gateway-reconnect");
    let hub = hub();
    let mut module = gateway_module(&scratch, &hub);
    let bind = format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n");
    exchange(&mut module, &bind, "OK\r\n+TCGWBIND:OK\r\n");
    let online = format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n");
    exchange(&mut module, &online, "OK\r\n+TCGWONLINE:OK\r\n");
    exchange(
        &mut module,
        &format!("AT+TCMQTTSUB=\"{DATA}\",1\r\n"),
        "OK\r\n+TCMQTTSUB:OK\r\n",
    );
    let since = last_event(&hub);
    let (status, answer) = hub.admin("POST", &format!("/devices/{GW_PID}/{GW_DN}/kick"), "{}");
    assert_eq!(status, 200, "{answer}");
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    module.expect_within(
        b"+TCMQTTRECONNECTING\r\n+TCMQTTRECONNECTED\r\n",
        std::time::Duration::from_secs(15),
    );
    // Behind the URC: the result slot, the online request, then the user filter, granted
    // because the cloud has the sub-device online again (refused before, `-108`).
    let log = wait_for_event(
        &hub,
        since,
        &[
            "\"kind\":\"subscribe\"",
            &format!("\"filter\":\"{DATA}\""),
            "\"result\":1,",
        ],
    );
    let result_slot = log
        .find("$gateway/operation/result/GWTEST0001/Gateway01")
        .expect("the result slot re-subscribed");
    let user_slot = log.find(&format!("\"filter\":\"{DATA}\"")).unwrap();
    assert!(result_slot < user_slot, "internal slot first: {log}");
    let view = gateway_view(&hub);
    assert!(view.contains("\"online\":[{"), "{view}");
    // Listed still: a second online is refused locally.
    exchange(&mut module, &online, "OK\r\n+TCGWONLINE:FAIL,-224\r\n");
    exchange(
        &mut module,
        &format!("AT+TCMQTTPUB=\"{DATA}\",1,\"again\"\r\n"),
        &format!("OK\r\n+TCMQTTPUB:OK\r\n+TCMQTTRCVPUB:\"{DATA}\",5,\"again\"\r\n"),
    );
    exchange(
        &mut module,
        "AT+TCGWONLINE?\r\n",
        "+TCGWONLINE:\"S3EUVBRJLB,test_device\"\r\n\r\nOK\r\n",
    );
    assert_no_secrets(&module);
}

#[test]
fn bad_inputs_get_their_exact_errors_and_change_nothing() {
    let scratch = Scratch::new("gateway-bad-input");
    let hub = hub();
    let mut module = gateway_module(&scratch, &hub);
    let name49 = "n".repeat(49);
    let secret45 = "s".repeat(45);
    let rows: Vec<(String, &str)> = vec![
        (
            "AT+TCGWBIND?\r\n".into(),
            "ERR CODE:0x01090000\r\n\r\nERROR\r\n",
        ),
        (
            "AT+TCGWBIND\r\n".into(),
            "ERR CODE:0x01090000\r\n\r\nERROR\r\n",
        ),
        (
            "AT+TCGWONLINE\r\n".into(),
            "ERR CODE:0x01090000\r\n\r\nERROR\r\n",
        ),
        (
            format!("AT+TCGWBIND=\"0\",\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "ERR CODE:0x01050000\r\n\r\nERROR\r\n",
        ),
        (
            format!("AT+TCGWBIND=2,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"S3EUVBRJLB1\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{name49}\",\"{SUB_SECRET}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\",\"{secret45}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWBIND=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWBIND=1,\"{SUB_PID}\",\"{SUB_DN}\",\"{SUB_SECRET}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWONLINE=x,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
            "ERR CODE:0x01050000\r\n\r\nERROR\r\n",
        ),
        (
            format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\",1\r\n"),
            "+CME ERROR:204\r\n",
        ),
        (
            format!("AT+TCGWONLINE=0,{SUB_PID},\"{SUB_DN}\"\r\n"),
            "+CME ERROR:204\r\n",
        ),
    ];
    for (line, answer) in &rows {
        exchange(&mut module, line, answer);
    }
    exchange(&mut module, "AT+TCGWONLINE?\r\n", "\r\nOK\r\n");
    assert!(gateway_view(&hub).contains("\"bound\":[]"));
    // Not CONN comes first.
    exchange(&mut module, "AT+TCMQTTDISCONN\r\n", "\r\nOK\r\n");
    exchange(
        &mut module,
        &format!("AT+TCGWONLINE=0,\"{SUB_PID}\",\"{SUB_DN}\"\r\n"),
        "+CME ERROR:208\r\n",
    );
    exchange(&mut module, "AT+TCGWBIND=9\r\n", "+CME ERROR:208\r\n");
    assert_no_secrets(&module);
}
