//! The `$gateway/operation` responder (`hub.md` §4.6).
//!
//! Each element of a request is answered in request order by the first failing check of
//! its operation, exactly as the table of §4.6 orders them; an armed fault replaces the
//! whole evaluation. Replies are built by hand in the member order of the real cloud,
//! because device firmware compares them as text.

use super::OPERATIONS;
use crate::hub::{payload_base64, Hub, Message};
use crate::registry::{Device, NodeType, Registry};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use mqtt_session::codec::QoS;
use serde_json::{json, Value};

/// Answers a publish of `client_id` on `$gateway/operation/<device_path>`.
pub fn respond(hub: &Hub, client_id: &str, device_path: &str, payload: &[u8]) {
    let request = serde_json::from_slice::<Value>(payload)
        .ok()
        .filter(Value::is_object);
    let operation = request
        .as_ref()
        .and_then(|request| request["type"].as_str())
        .filter(|operation| OPERATIONS.contains(operation));
    let (Some(request), Some(operation)) = (request.as_ref(), operation) else {
        hub.events.record(
            "unanswered",
            json!({"client_id": client_id, "topic": format!("$gateway/operation/{device_path}"),
                   "payload": payload_base64(payload)}),
        );
        return;
    };
    let elements: Vec<(&str, &str, &Value)> = request
        .pointer("/payload/devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|element| {
            Some((
                element["product_id"].as_str()?,
                element["device_name"].as_str()?,
                element,
            ))
        })
        .collect();
    let fault = hub.gateway.take(operation);
    if elements.is_empty() || fault.is_some_and(|fault| fault.silent) {
        hub.events.record(
            "gateway",
            json!({"client_id": client_id, "type": operation, "answered": false}),
        );
        return;
    }
    let Some((gateway_pid, gateway_dn)) = device_path.split_once('/') else {
        return;
    };
    let gateway = Gateway {
        pid: gateway_pid,
        dn: gateway_dn,
        client_id,
    };
    let mut results = Vec::new();
    for (pid, dn, element) in elements {
        let result = match fault.and_then(|fault| fault.result) {
            Some(result) => result,
            None => evaluate(hub, &gateway, operation, pid, dn, element),
        };
        hub.events.record(
            "gateway",
            json!({"client_id": client_id, "type": operation, "product_id": pid,
                   "device_name": dn, "result": result}),
        );
        results.push(format!(
            r#"{{"product_id":{},"device_name":{},"result":{result}}}"#,
            Value::from(pid),
            Value::from(dn)
        ));
    }
    let reply = format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{}]}}}}"#,
        results.join(",")
    );
    let message = Message {
        topic: format!("$gateway/operation/result/{device_path}"),
        payload: reply.into_bytes(),
        qos: QoS::AtMostOnce,
    };
    hub.route(&message, None, Some(client_id), false);
}

/// The publishing gateway.
struct Gateway<'a> {
    pid: &'a str,
    dn: &'a str,
    client_id: &'a str,
}

impl Gateway<'_> {
    fn path(&self) -> String {
        format!("{}/{}", self.pid, self.dn)
    }

    fn is_gateway(&self, registry: &Registry) -> bool {
        registry
            .products
            .get(self.pid)
            .is_some_and(|product| product.node_type == NodeType::Gateway)
    }
}

fn evaluate(
    hub: &Hub,
    gateway: &Gateway<'_>,
    operation: &str,
    pid: &str,
    dn: &str,
    element: &Value,
) -> i64 {
    let registry = hub.registry();
    let sub = registry.devices.get(&format!("{pid}{dn}")).cloned();
    let bound_here = sub
        .as_ref()
        .is_some_and(|sub| sub.bound_gateway.as_deref() == Some(gateway.path().as_str()));
    match operation {
        "bind" => bind(hub, &registry, gateway, sub, element),
        "unbind" => {
            if !gateway.is_gateway(&registry) {
                return 808;
            }
            let Some(sub) = sub else { return 802 };
            match sub.bound_gateway.as_deref() {
                None => 0,
                Some(bound) if bound != gateway.path() => 808,
                Some(_) => {
                    set_binding(hub, &sub, None);
                    hub.subdevice_offline(&sub.pid, &sub.dn);
                    0
                }
            }
        }
        "online" => match sub {
            Some(sub) if bound_here && hub.subdevice_online(gateway.client_id, &sub) => 0,
            _ => -1,
        },
        _ => {
            if !bound_here {
                return -1;
            }
            hub.subdevice_offline(pid, dn);
            0
        }
    }
}

fn bind(
    hub: &Hub,
    registry: &Registry,
    gateway: &Gateway<'_>,
    sub: Option<Device>,
    element: &Value,
) -> i64 {
    if !gateway.is_gateway(registry) {
        return 808;
    }
    let (Some(signature), Some(method), Some(authtype), Some(random), Some(timestamp)) = (
        element["signature"].as_str(),
        element["signmethod"].as_str(),
        element["authtype"].as_str(),
        element["random"].as_i64(),
        element["timestamp"].as_i64(),
    ) else {
        return 801;
    };
    let Some(sub) = sub else { return 802 };
    let sub_product = registry.product_of(&sub);
    if sub_product.node_type == NodeType::Gateway {
        return 807;
    }
    let attached = registry
        .products
        .get(gateway.pid)
        .is_some_and(|product| product.subproducts.contains(&sub.pid));
    if !attached {
        return 810;
    }
    if !matches!(method, "hmacsha1" | "hmacsha256") || authtype != "psk" {
        return 804;
    }
    if let Some(window) = hub.gateway.timestamp_window() {
        if timestamp.abs_diff(hub.now_unix() as i64) > window {
            return 805;
        }
    }
    let message = format!("{}{};{random};{timestamp}", sub.pid, sub.dn);
    if signature != sign(method, &sub.secret, &message) {
        return 803;
    }
    match sub.bound_gateway.as_deref() {
        Some(bound) if bound == gateway.path() => 809,
        Some(_) => 806,
        None => {
            set_binding(hub, &sub, Some(gateway.path()));
            0
        }
    }
}

/// `Base64(HMAC(key = secret text, message))` (`cloud.md` §9.4).
pub fn sign(method: &str, secret: &str, message: &str) -> String {
    let digest = if method == "hmacsha256" {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    } else {
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Records `gateway_path` (or no binding) on the sub-device in the registry.
pub fn set_binding(hub: &Hub, sub: &Device, gateway_path: Option<String>) {
    let client_id = sub.client_id();
    hub.update_registry(|registry| {
        if let Some(device) = registry.devices.get_mut(&client_id) {
            device.bound_gateway = gateway_path;
        }
    });
}
