//! Every `gateway_*` vector of the workspace's copy of Tencent's vectors
//! (`tests/vectors/tencent-cloud.json`).

use crate::{bind_signature, write_request, BindFields, Channel, Operation, SubDevice};
use serde_json::Value;
use std::string::String;
use std::vec::Vec;

fn gateway_vectors() -> Vec<Value> {
    let all: Value =
        serde_json::from_str(include_str!("../../../../tests/vectors/tencent-cloud.json")).unwrap();
    all["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|vector| vector["category"] == "gateway")
        .cloned()
        .collect()
}

fn vector(id: &str) -> Value {
    gateway_vectors()
        .into_iter()
        .find(|vector| vector["id"] == id)
        .unwrap_or_else(|| panic!("vector {id}"))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

fn subdevice(inputs: &Value) -> SubDevice {
    SubDevice::new(
        text(&inputs["sub_product_id"]).as_bytes(),
        text(&inputs["sub_device_name"]).as_bytes(),
    )
    .unwrap()
}

#[test]
fn every_gateway_vector_is_checked() {
    let ids: Vec<String> = gateway_vectors()
        .iter()
        .map(|vector| text(&vector["id"]).into())
        .collect();
    assert_eq!(
        ids,
        [
            "gateway_bind_sign_short_secret",
            "gateway_bind_sign_16byte_secret",
            "gateway_bind_request",
            "gateway_status_requests"
        ]
    );
}

#[test]
fn bind_signatures_are_keyed_with_the_secret_text_not_its_decoded_bytes() {
    for id in [
        "gateway_bind_sign_short_secret",
        "gateway_bind_sign_16byte_secret",
    ] {
        let vector = vector(id);
        let inputs = &vector["inputs"];
        let signature = bind_signature(
            &subdevice(inputs),
            text(&inputs["sub_device_secret"]).as_bytes(),
            inputs["random"].as_u64().unwrap() as u32,
            inputs["timestamp"].as_u64().unwrap(),
        );
        let outputs = &vector["outputs"];
        assert_eq!(
            &signature[..],
            text(&outputs["signature"]).as_bytes(),
            "{id}"
        );
        assert_ne!(
            &signature[..],
            text(&outputs["signature_if_key_were_decoded_WRONG"]).as_bytes(),
            "{id}"
        );
    }
}

#[test]
fn bind_request_topics_and_payload_match_byte_for_byte() {
    let vector = vector("gateway_bind_request");
    let inputs = &vector["inputs"];
    let outputs = &vector["outputs"];
    let gateway = (
        text(&inputs["gateway_product_id"]).as_bytes(),
        text(&inputs["gateway_device_name"]).as_bytes(),
    );
    let mut topic = [0u8; 128];
    let length = Channel::Request
        .write_topic(gateway.0, gateway.1, &mut topic)
        .unwrap();
    assert_eq!(&topic[..length], text(&outputs["topic"]).as_bytes());
    let length = Channel::Result
        .write_topic(gateway.0, gateway.1, &mut topic)
        .unwrap();
    assert_eq!(&topic[..length], text(&outputs["result_topic"]).as_bytes());
    let subdevice = subdevice(inputs);
    let random = inputs["random"].as_u64().unwrap() as u32;
    let timestamp = inputs["timestamp"].as_u64().unwrap();
    let bind = BindFields {
        signature: bind_signature(
            &subdevice,
            text(&inputs["sub_device_secret"]).as_bytes(),
            random,
            timestamp,
        ),
        random,
        timestamp,
    };
    let mut payload = [0u8; crate::MAXIMUM_REQUEST_LENGTH];
    let length = write_request(Operation::Bind, &subdevice, Some(&bind), &mut payload).unwrap();
    assert_eq!(&payload[..length], text(&outputs["payload"]).as_bytes());
    // One byte short fails instead of truncating.
    assert!(write_request(
        Operation::Bind,
        &subdevice,
        Some(&bind),
        &mut payload[..length - 1]
    )
    .is_err());
}

#[test]
fn status_requests_match_byte_for_byte() {
    let vector = vector("gateway_status_requests");
    let subdevice = subdevice(&vector["inputs"]);
    let outputs = &vector["outputs"];
    for (operation, key) in [
        (Operation::Online, "online"),
        (Operation::Offline, "offline"),
        (Operation::Unbind, "unbind"),
    ] {
        let mut payload = [0u8; 256];
        let length = write_request(operation, &subdevice, None, &mut payload).unwrap();
        assert_eq!(&payload[..length], text(&outputs[key]).as_bytes(), "{key}");
    }
}

#[test]
fn names_needing_escapes_still_give_valid_json() {
    let subdevice = SubDevice::new(b"P\"1", b"a\\b\x01").unwrap();
    let mut payload = [0u8; 256];
    let length = write_request(Operation::Online, &subdevice, None, &mut payload).unwrap();
    let parsed: Value = serde_json::from_slice(&payload[..length]).unwrap();
    assert_eq!(parsed["payload"]["devices"][0]["product_id"], "P\"1");
    assert_eq!(parsed["payload"]["devices"][0]["device_name"], "a\\b\u{1}");
}

#[test]
fn topics_are_recognised_only_for_this_gateway() {
    let (pid, dn) = (&b"GWTEST0001"[..], &b"Gateway01"[..]);
    assert_eq!(
        Channel::of_topic(b"$gateway/operation/result/GWTEST0001/Gateway01", pid, dn),
        Some(Channel::Result)
    );
    assert_eq!(
        Channel::of_topic(b"$sys/operation/result/GWTEST0001/Gateway01", pid, dn),
        Some(Channel::TimeResult)
    );
    assert_eq!(
        Channel::of_topic(b"$gateway/operation/GWTEST0001/Gateway01", pid, dn),
        Some(Channel::Request)
    );
    assert_eq!(
        Channel::of_topic(b"$gateway/operation/result/GWTEST0001/Gateway012", pid, dn),
        None
    );
    assert_eq!(
        Channel::of_topic(b"GWTEST0001/Gateway01/data", pid, dn),
        None
    );
    assert_eq!(Channel::Result.qos(), 1);
    assert_eq!(Channel::TimeResult.qos(), 0);
}
