//! Gateways over real MQTT on loopback (`hub.md` §4.6, §8): the test tool's bind, online,
//! sub-device traffic, offline and unbind; sub-device rights; offline on a kick; no gateway
//! topics for plain devices.

mod common;
mod gateway_support;

use common::{credentials, RawClient, Received};
use gateway::Operation;
use gateway_support::*;
use mqtt_session::codec::QoS;
use serde_json::json;

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
    let (_, device) = hub.admin("GET", &format!("/devices/{SUB_PID}/{SUB_DN}"), None);
    assert_eq!(device["bound_gateway"], "GWTEST0001/Gateway01");
    assert_eq!(device["online_via"], "GWTEST0001Gateway01");
    assert!(!device.to_string().contains(SUB_SECRET));
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
