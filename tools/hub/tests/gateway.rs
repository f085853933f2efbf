//! Gateways and sub-devices over real MQTT on loopback (`hub.md` §4.6, §8): bind, online,
//! sub-device rights, offline, unbind, every reply of the responder's ordered checks, the
//! admin endpoints and the faults. Requests are built with the firmware's `gateway` crate,
//! so its bytes are checked against the hub's independent verifier.

mod common;

use common::{credentials, Hub, RawClient, Received};
use gateway::{bind_signature, write_request, BindFields, Operation, SubDevice};
use mqtt_session::codec::{Packet, QoS};
use serde_json::{json, Value};

const GW_PID: &str = "GWTEST0001";
const GW_DN: &str = "Gateway01";
const GW_SECRET: &str = "Z2F0ZXdheV9zZWNyZXRfMTIzNA==";
const SUB_PID: &str = "S3EUVBRJLB";
const SUB_DN: &str = "test_device";
const SUB_SECRET: &str = "c3ViX3NlY3JldF8xMjM0NTY=";
const REQUEST: &str = "$gateway/operation/GWTEST0001/Gateway01";
const RESULT: &str = "$gateway/operation/result/GWTEST0001/Gateway01";
const SUB_DATA: &str = "S3EUVBRJLB/test_device/data";

/// A hub with a gateway product listing `S3EUVBRJLB` as sub-product, its gateway device,
/// the sub-device, a second gateway, an unattached product and a plain device.
fn hub() -> Hub {
    let hub = Hub::start(&[]);
    let gateway_product = json!({"node_type": "gateway", "subproducts": [SUB_PID]});
    for (pid, product) in [
        (GW_PID, gateway_product.clone()),
        ("GWTEST0002", gateway_product),
        (SUB_PID, json!({})),
        ("NOTSUB0001", json!({})),
    ] {
        assert_eq!(
            hub.admin("PUT", &format!("/products/{pid}"), Some(product))
                .0,
            200
        );
    }
    for (pid, dn, secret) in [
        (GW_PID, GW_DN, GW_SECRET),
        ("GWTEST0002", "Gateway02", GW_SECRET),
        (SUB_PID, SUB_DN, SUB_SECRET),
        (SUB_PID, "other", SUB_SECRET),
        ("NOTSUB0001", "dev", SUB_SECRET),
    ] {
        let path = format!("/devices/{pid}/{dn}");
        assert_eq!(
            hub.admin("PUT", &path, Some(json!({"secret": secret}))).0,
            200
        );
    }
    hub
}

/// The gateway connected and subscribed to its result topic.
fn gateway(hub: &Hub) -> RawClient {
    let mut client = RawClient::login(hub, &credentials(GW_PID, GW_DN, GW_SECRET));
    assert_eq!(client.subscribe(RESULT, QoS::AtLeastOnce), 1);
    client
}

fn status_request(operation: Operation, pid: &str, dn: &str) -> Vec<u8> {
    let subdevice = SubDevice::new(pid.as_bytes(), dn.as_bytes()).unwrap();
    let mut payload = [0u8; gateway::MAXIMUM_REQUEST_LENGTH];
    let length = write_request(operation, &subdevice, None, &mut payload).unwrap();
    payload[..length].to_vec()
}

fn bind_request(pid: &str, dn: &str, secret: &str, timestamp: u64) -> Vec<u8> {
    let subdevice = SubDevice::new(pid.as_bytes(), dn.as_bytes()).unwrap();
    let random = 123_456_789;
    let bind = BindFields {
        signature: bind_signature(&subdevice, secret.as_bytes(), random, timestamp),
        random,
        timestamp,
    };
    let mut payload = [0u8; gateway::MAXIMUM_REQUEST_LENGTH];
    let length = write_request(Operation::Bind, &subdevice, Some(&bind), &mut payload).unwrap();
    payload[..length].to_vec()
}

/// Publishes a request and returns the reply's text.
fn ask(client: &mut RawClient, payload: &[u8]) -> String {
    client.publish(REQUEST, payload, QoS::AtMostOnce);
    match client.next_packet() {
        Received::Publish {
            topic,
            payload,
            qos,
        } => {
            assert_eq!((topic.as_str(), qos), (RESULT, QoS::AtMostOnce));
            String::from_utf8(payload).unwrap()
        }
        other => panic!("expected the reply, got {other:?}"),
    }
}

/// Asserts nothing was sent before the answer to a PINGREQ (the hub handles packets in
/// order, so a reply or PUBACK would have come first).
fn expect_nothing_pending(client: &mut RawClient) {
    client.send(&Packet::PingReq);
    assert_eq!(client.next_packet(), Received::PingResp);
}

fn reply(operation: &str, pid: &str, dn: &str, result: i64) -> String {
    format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{{"product_id":"{pid}","device_name":"{dn}","result":{result}}}]}}}}"#
    )
}

/// The bind through the time query, as the firmware does it.
fn bind_with_cloud_time(client: &mut RawClient, pid: &str, dn: &str, secret: &str) -> String {
    let time_result = format!("$sys/operation/result/{GW_PID}/{GW_DN}");
    assert_eq!(client.subscribe(&time_result, QoS::AtMostOnce), 0);
    client.publish(
        &format!("$sys/operation/{GW_PID}/{GW_DN}"),
        gateway::TIME_REQUEST,
        QoS::AtMostOnce,
    );
    let Received::Publish { topic, payload, .. } = client.next_packet() else {
        panic!("expected the time");
    };
    assert_eq!(topic, time_result);
    let time: Value = serde_json::from_slice(&payload).unwrap();
    let time = time["time"].as_u64().unwrap();
    ask(client, &bind_request(pid, dn, secret, time))
}

fn view(hub: &Hub) -> Value {
    hub.admin("GET", &format!("/gateways/{GW_PID}/{GW_DN}"), None)
        .1
}

fn sub_list(pid: &str, dn: &str) -> Value {
    json!([{"product_id": pid, "device_name": dn}])
}

#[test]
fn bind_online_traffic_offline_unbind_as_the_test_tool_runs_them() {
    let hub = hub();
    let mut client = gateway(&hub);
    assert_eq!(
        bind_with_cloud_time(&mut client, SUB_PID, SUB_DN, SUB_SECRET),
        reply("bind", SUB_PID, SUB_DN, 0)
    );
    assert_eq!(
        view(&hub),
        json!({"bound": sub_list(SUB_PID, SUB_DN), "online": []})
    );
    // Before online the sub-device's topics are not the gateway's.
    assert_eq!(client.subscribe(SUB_DATA, QoS::AtLeastOnce), 0x80);
    assert_eq!(
        ask(
            &mut client,
            &status_request(Operation::Online, SUB_PID, SUB_DN)
        ),
        reply("online", SUB_PID, SUB_DN, 0)
    );
    assert_eq!(view(&hub)["online"], sub_list(SUB_PID, SUB_DN));
    assert_eq!(client.subscribe(SUB_DATA, QoS::AtLeastOnce), 1);
    // `data` loop-back at QoS1: PUBACK, then the message back.
    let packet_id = client
        .publish(SUB_DATA, b"hello", QoS::AtLeastOnce)
        .unwrap();
    assert_eq!(client.next_packet(), Received::PubAck(packet_id.get()));
    assert_eq!(
        client.next_packet(),
        Received::Publish {
            topic: SUB_DATA.to_owned(),
            payload: b"hello".to_vec(),
            qos: QoS::AtLeastOnce
        }
    );
    // An admin publish addressed to the sub-device reaches the gateway.
    let (_, delivered) = hub.admin(
        "POST",
        &format!("/devices/{SUB_PID}/{SUB_DN}/publish"),
        Some(json!({"topic": SUB_DATA, "qos": 0, "payload": "from cloud"})),
    );
    assert_eq!(delivered["delivered"], 1);
    assert!(
        matches!(client.next_packet(), Received::Publish { payload, .. } if payload == b"from cloud")
    );
    assert_eq!(
        ask(
            &mut client,
            &status_request(Operation::Offline, SUB_PID, SUB_DN)
        ),
        reply("offline", SUB_PID, SUB_DN, 0)
    );
    assert_eq!(view(&hub)["online"], json!([]));
    // Offline: refused subscribe, unacknowledged QoS1 publish, nothing delivered.
    assert_eq!(
        client.subscribe("S3EUVBRJLB/test_device/control", QoS::AtLeastOnce),
        0x80
    );
    client.publish(SUB_DATA, b"lost", QoS::AtLeastOnce);
    expect_nothing_pending(&mut client);
    assert_eq!(
        ask(
            &mut client,
            &status_request(Operation::Unbind, SUB_PID, SUB_DN)
        ),
        reply("unbind", SUB_PID, SUB_DN, 0)
    );
    assert_eq!(view(&hub), json!({"bound": [], "online": []}));
}

#[test]
fn bind_checks_answer_in_the_order_of_the_table() {
    let hub = hub();
    let mut client = gateway(&hub);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let bind = |client: &mut RawClient, pid: &str, dn: &str, secret: &str| {
        let answer: Value =
            serde_json::from_str(&ask(client, &bind_request(pid, dn, secret, now()))).unwrap();
        answer["payload"]["devices"][0]["result"].as_i64().unwrap()
    };
    // 801: a non-integer random.
    let malformed = br#"{"type":"bind","payload":{"devices":[{"product_id":"S3EUVBRJLB","device_name":"test_device","signature":"x","random":"1","timestamp":1,"signmethod":"hmacsha1","authtype":"psk"}]}}"#;
    assert_eq!(
        ask(&mut client, malformed),
        reply("bind", SUB_PID, SUB_DN, 801)
    );
    assert_eq!(bind(&mut client, SUB_PID, "ghost", SUB_SECRET), 802);
    assert_eq!(bind(&mut client, "GWTEST0002", "Gateway02", GW_SECRET), 807);
    assert_eq!(bind(&mut client, "NOTSUB0001", "dev", SUB_SECRET), 810);
    let md5 = String::from_utf8(bind_request(SUB_PID, SUB_DN, SUB_SECRET, now()))
        .unwrap()
        .replace("hmacsha1", "hmacmd5");
    assert_eq!(
        ask(&mut client, md5.as_bytes()),
        reply("bind", SUB_PID, SUB_DN, 804)
    );
    // 803: the decoded key (the vectors' trap) and a wrong secret.
    assert_eq!(bind(&mut client, SUB_PID, SUB_DN, "sub_secret_123456"), 803);
    assert_eq!(bind(&mut client, SUB_PID, SUB_DN, "d3Jvbmc="), 803);
    // 805 only with the window switch on.
    let switch = |window: Value| {
        let body = json!({"gateway_bind_timestamp_window_s": window});
        assert_eq!(hub.admin("PUT", "/switches", Some(body)).0, 200);
    };
    switch(json!(60));
    let stale = bind_request(SUB_PID, SUB_DN, SUB_SECRET, now() - 3600);
    assert_eq!(
        ask(&mut client, &stale),
        reply("bind", SUB_PID, SUB_DN, 805)
    );
    switch(Value::Null);
    assert_eq!(bind(&mut client, SUB_PID, SUB_DN, SUB_SECRET), 0);
    assert_eq!(bind(&mut client, SUB_PID, SUB_DN, SUB_SECRET), 809);
    // 806: bound to another gateway by the console.
    let path = format!("/gateways/GWTEST0002/Gateway02/subdevices/{SUB_PID}/other");
    assert_eq!(hub.admin("PUT", &path, None).0, 200);
    assert_eq!(bind(&mut client, SUB_PID, "other", SUB_SECRET), 806);
    // The SHA-256 form is accepted too.
    let subdevice = format!(
        r#"{{"type":"bind","payload":{{"devices":[{{"product_id":"{SUB_PID}","device_name":"{SUB_DN}","signature":"{}","random":7,"timestamp":{},"signmethod":"hmacsha256","authtype":"psk"}}]}}}}"#,
        tc_at_hub::gateway::responder::sign(
            "hmacsha256",
            SUB_SECRET,
            &format!("{SUB_PID}{SUB_DN};7;{}", now())
        ),
        now()
    );
    assert_eq!(
        ask(&mut client, subdevice.as_bytes()),
        reply("bind", SUB_PID, SUB_DN, 809)
    );
}

#[test]
fn unbind_online_and_offline_failures() {
    let hub = hub();
    let mut client = gateway(&hub);
    let request = |operation, pid: &str, dn: &str| status_request(operation, pid, dn);
    assert_eq!(
        ask(&mut client, &request(Operation::Online, SUB_PID, SUB_DN)),
        reply("online", SUB_PID, SUB_DN, -1)
    );
    assert_eq!(
        ask(&mut client, &request(Operation::Online, SUB_PID, "ghost")),
        reply("online", SUB_PID, "ghost", -1)
    );
    assert_eq!(
        ask(&mut client, &request(Operation::Offline, SUB_PID, SUB_DN)),
        reply("offline", SUB_PID, SUB_DN, -1)
    );
    assert_eq!(
        ask(&mut client, &request(Operation::Unbind, SUB_PID, "ghost")),
        reply("unbind", SUB_PID, "ghost", 802)
    );
    // Not bound: 0 and nothing changes.
    assert_eq!(
        ask(&mut client, &request(Operation::Unbind, SUB_PID, SUB_DN)),
        reply("unbind", SUB_PID, SUB_DN, 0)
    );
    let path = format!("/gateways/GWTEST0002/Gateway02/subdevices/{SUB_PID}/{SUB_DN}");
    assert_eq!(hub.admin("PUT", &path, None).0, 200);
    assert_eq!(
        ask(&mut client, &request(Operation::Unbind, SUB_PID, SUB_DN)),
        reply("unbind", SUB_PID, SUB_DN, 808)
    );
    assert_eq!(
        ask(&mut client, &request(Operation::Online, SUB_PID, SUB_DN)),
        reply("online", SUB_PID, SUB_DN, -1)
    );
    let view = hub.admin("GET", "/gateways/GWTEST0002/Gateway02", None).1;
    assert_eq!(view["bound"], sub_list(SUB_PID, SUB_DN));
    // The console turns the gateway's product into a plain one while it is connected.
    let plain = json!({"node_type": "device"});
    assert_eq!(
        hub.admin("PUT", &format!("/products/{GW_PID}"), Some(plain))
            .0,
        200
    );
    assert_eq!(
        ask(&mut client, &bind_request(SUB_PID, "other", SUB_SECRET, 1)),
        reply("bind", SUB_PID, "other", 808)
    );
    assert_eq!(
        ask(&mut client, &request(Operation::Unbind, SUB_PID, "other")),
        reply("unbind", SUB_PID, "other", 808)
    );
}

#[test]
fn replies_follow_the_request_elements_and_other_types_are_not_answered() {
    let hub = hub();
    let mut client = gateway(&hub);
    let path = format!("/gateways/{GW_PID}/{GW_DN}/subdevices/{SUB_PID}/{SUB_DN}");
    assert_eq!(hub.admin("PUT", &path, None).0, 200);
    let request = br#"{ "payload": {"devices": [ {"product_id":"S3EUVBRJLB","device_name":"ghost"}, {"device_name":"x"}, {"device_name":"test_device","product_id":"S3EUVBRJLB"} ]}, "type": "online" }"#;
    assert_eq!(
        ask(&mut client, request),
        r#"{"type":"online","payload":{"devices":[{"product_id":"S3EUVBRJLB","device_name":"ghost","result":-1},{"product_id":"S3EUVBRJLB","device_name":"test_device","result":0}]}}"#
    );
    for ignored in [
        &br#"{"type":"describe_sub_devices"}"#[..],
        br#"{"type":"online","payload":{"devices":[{"device_name":"x"}]}}"#,
        b"not json",
    ] {
        client.publish(REQUEST, ignored, QoS::AtMostOnce);
    }
    expect_nothing_pending(&mut client);
}

#[test]
fn faults_replace_the_answer_or_silence_it() {
    let hub = hub();
    let mut client = gateway(&hub);
    let online = status_request(Operation::Online, SUB_PID, SUB_DN);
    let fault = |body: Value| assert_eq!(hub.admin("PUT", "/gateway/faults", Some(body)).0, 200);
    fault(json!({"op": "online", "silent": true, "next_only": true}));
    client.publish(REQUEST, &online, QoS::AtMostOnce);
    expect_nothing_pending(&mut client);
    // Consumed: the next one is evaluated (not bound: -1).
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, -1)
    );
    fault(json!({"op": "online", "result": -2}));
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, -2)
    );
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, -2)
    );
    fault(json!({}));
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, -1)
    );
    // Bad fault bodies change nothing.
    for body in [
        json!({"op": "describe", "result": 1}),
        json!({"op": "online"}),
        json!({"op": "online", "result": "x"}),
        json!({"op": "online", "silent": true, "later": true}),
    ] {
        assert_eq!(hub.admin("PUT", "/gateway/faults", Some(body)).0, 400);
    }
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, -1)
    );
    // The OTA switches are still served by their own handler.
    let (status, _) = hub.admin(
        "PUT",
        "/switches",
        Some(json!({"reject_version_report": false})),
    );
    assert_eq!(status, 200);
    let (status, _) = hub.admin(
        "PUT",
        "/switches",
        Some(json!({"gateway_bind_timestamp_window_s": -1})),
    );
    assert_eq!(status, 400);
}

#[test]
fn a_plain_device_gets_no_gateway_topics() {
    let hub = hub();
    let mut client = RawClient::login(&hub, &credentials("NOTSUB0001", "dev", SUB_SECRET));
    assert_eq!(
        client.subscribe("$gateway/operation/result/NOTSUB0001/dev", QoS::AtLeastOnce),
        0x80
    );
    assert_eq!(
        client.subscribe("$sys/operation/result/NOTSUB0001/dev", QoS::AtMostOnce),
        0
    );
    client.publish(
        "$gateway/operation/NOTSUB0001/dev",
        &status_request(Operation::Online, SUB_PID, SUB_DN),
        QoS::AtLeastOnce,
    );
    expect_nothing_pending(&mut client);
}

#[test]
fn a_closed_gateway_connection_takes_its_sub_devices_offline() {
    let hub = hub();
    let path = format!("/gateways/{GW_PID}/{GW_DN}/subdevices/{SUB_PID}/{SUB_DN}");
    assert_eq!(hub.admin("PUT", &path, None).0, 200);
    let mut client = gateway(&hub);
    let online = status_request(Operation::Online, SUB_PID, SUB_DN);
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, 0)
    );
    assert_eq!(client.subscribe(SUB_DATA, QoS::AtMostOnce), 0);
    let (_, kicked) = hub.admin(
        "POST",
        &format!("/devices/{GW_PID}/{GW_DN}/kick"),
        Some(json!({})),
    );
    assert_eq!(kicked["kicked"], true);
    client.expect_closed();
    hub.wait_event(|event| {
        event["kind"] == "disconnect" && event["client_id"] == "GWTEST0001Gateway01"
    });
    assert_eq!(view(&hub)["online"], json!([]));
    // A new connection starts with the sub-device offline; online again works.
    let mut client = gateway(&hub);
    assert_eq!(client.subscribe(SUB_DATA, QoS::AtMostOnce), 0x80);
    assert_eq!(
        ask(&mut client, &online),
        reply("online", SUB_PID, SUB_DN, 0)
    );
    assert_eq!(client.subscribe(SUB_DATA, QoS::AtMostOnce), 0);
    // Admin unbind takes it offline.
    let (status, unbound) = hub.admin("DELETE", &path, None);
    assert_eq!((status, unbound["was_online"].clone()), (200, json!(true)));
    assert_eq!(view(&hub), json!({"bound": [], "online": []}));
    assert_eq!(hub.admin("DELETE", &path, None).0, 404);
    assert_eq!(hub.admin("GET", "/gateways/NOPE000001/x", None).0, 404);
}
