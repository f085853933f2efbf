//! Every reply of the `$gateway/operation` responder (`hub.md` §4.6) in the order of its
//! checks, the request elements, and the faults of `PUT /gateway/faults`.

mod common;
mod gateway_support;

use common::RawClient;
use gateway::Operation;
use gateway_support::*;
use mqtt_session::codec::QoS;
use serde_json::{json, Value};

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
