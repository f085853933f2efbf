//! Shared setup of the gateway tests: a hub with a gateway product, its devices, and
//! requests built with the firmware's `gateway` crate (so its bytes meet the hub's
//! independent verifier).

#![allow(dead_code)]

pub mod module;

use crate::common::{credentials, Hub, RawClient, Received};
use gateway::{bind_signature, write_request, BindFields, Operation, SubDevice};
use mqtt_session::codec::{Packet, QoS};
use serde_json::{json, Value};

pub const GW_PID: &str = "GWTEST0001";
pub const GW_DN: &str = "Gateway01";
pub const GW_SECRET: &str = "Z2F0ZXdheV9zZWNyZXRfMTIzNA==";
pub const SUB_PID: &str = "S3EUVBRJLB";
pub const SUB_DN: &str = "test_device";
pub const SUB_SECRET: &str = "c3ViX3NlY3JldF8xMjM0NTY=";
pub const REQUEST: &str = "$gateway/operation/GWTEST0001/Gateway01";
pub const RESULT: &str = "$gateway/operation/result/GWTEST0001/Gateway01";
pub const SUB_DATA: &str = "S3EUVBRJLB/test_device/data";

/// A hub with a gateway product listing `S3EUVBRJLB` as sub-product, its gateway device,
/// the sub-device, a second gateway, an unattached product and a plain device.
pub fn hub() -> Hub {
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
pub fn gateway(hub: &Hub) -> RawClient {
    let mut client = RawClient::login(hub, &credentials(GW_PID, GW_DN, GW_SECRET));
    assert_eq!(client.subscribe(RESULT, QoS::AtLeastOnce), 1);
    client
}

pub fn status_request(operation: Operation, pid: &str, dn: &str) -> Vec<u8> {
    let subdevice = SubDevice::new(pid.as_bytes(), dn.as_bytes()).unwrap();
    let mut payload = [0u8; gateway::MAXIMUM_REQUEST_LENGTH];
    let length = write_request(operation, &subdevice, None, &mut payload).unwrap();
    payload[..length].to_vec()
}

pub fn bind_request(pid: &str, dn: &str, secret: &str, timestamp: u64) -> Vec<u8> {
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
pub fn ask(client: &mut RawClient, payload: &[u8]) -> String {
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
pub fn expect_nothing_pending(client: &mut RawClient) {
    client.send(&Packet::PingReq);
    assert_eq!(client.next_packet(), Received::PingResp);
}

pub fn reply(operation: &str, pid: &str, dn: &str, result: i64) -> String {
    format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{{"product_id":"{pid}","device_name":"{dn}","result":{result}}}]}}}}"#
    )
}

/// The bind through the time query, as the firmware does it.
pub fn bind_with_cloud_time(client: &mut RawClient, pid: &str, dn: &str, secret: &str) -> String {
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

pub fn view(hub: &Hub) -> Value {
    hub.admin("GET", &format!("/gateways/{GW_PID}/{GW_DN}"), None)
        .1
}

pub fn sub_list(pid: &str, dn: &str) -> Value {
    json!([{"product_id": pid, "device_name": dn}])
}
