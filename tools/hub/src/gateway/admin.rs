//! The gateway endpoints of the admin API (`hub.md` §8): bindings as the console makes
//! them, the view of a gateway's bound and online sub-devices, faults and the bind
//! timestamp window switch.
//!
//! Routed before the other endpoints; a `PUT /switches` is taken here only when every
//! switch in it is a gateway switch, so the OTA switches keep their own handler.

use super::responder::set_binding;
use super::{Fault, OPERATIONS};
use crate::admin::{Request, Response};
use crate::Hub;
use serde_json::{json, Map, Value};

/// The gateway switch of `PUT /switches`: seconds around the hub clock, or `null` (off).
pub const TIMESTAMP_WINDOW_SWITCH: &str = "gateway_bind_timestamp_window_s";

fn bad_request(message: &str) -> Response {
    (400, json!({"error": message}))
}

fn json_object(request: &Request) -> Result<Map<String, Value>, Response> {
    if request.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&request.body) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(bad_request("body must be a JSON object")),
    }
}

/// Answers a gateway endpoint, or `None` when the request is for another one.
pub fn handle(hub: &Hub, request: &Request) -> Option<Response> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let response = match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["gateways", pid, dn]) => view(hub, pid, dn),
        ("PUT", ["gateways", pid, dn, "subdevices", sub_pid, sub_dn]) => {
            bind(hub, pid, dn, sub_pid, sub_dn)
        }
        ("DELETE", ["gateways", pid, dn, "subdevices", sub_pid, sub_dn]) => {
            unbind(hub, pid, dn, sub_pid, sub_dn)
        }
        ("PUT", ["gateway", "faults"]) => faults(hub, request),
        ("PUT", ["switches"]) => return switches(hub, request),
        _ => return None,
    };
    Some(response)
}

fn view(hub: &Hub, pid: &str, dn: &str) -> Response {
    let registry = hub.registry();
    if !registry.devices.contains_key(&format!("{pid}{dn}")) {
        return (404, json!({"error": "unknown device"}));
    }
    let path = format!("{pid}/{dn}");
    let bound: Vec<Value> = registry
        .devices
        .values()
        .filter(|device| device.bound_gateway.as_deref() == Some(path.as_str()))
        .map(|device| json!({"product_id": device.pid, "device_name": device.dn}))
        .collect();
    let online: Vec<Value> = hub
        .online_subdevices(&format!("{pid}{dn}"))
        .into_iter()
        .map(|(pid, dn)| json!({"product_id": pid, "device_name": dn}))
        .collect();
    (200, json!({"bound": bound, "online": online}))
}

fn bind(hub: &Hub, pid: &str, dn: &str, sub_pid: &str, sub_dn: &str) -> Response {
    let registry = hub.registry();
    if !registry.devices.contains_key(&format!("{pid}{dn}")) {
        return (404, json!({"error": "unknown gateway device"}));
    }
    let Some(sub) = registry.devices.get(&format!("{sub_pid}{sub_dn}")) else {
        return (404, json!({"error": "unknown sub-device"}));
    };
    let path = format!("{pid}/{dn}");
    if sub
        .bound_gateway
        .as_ref()
        .is_some_and(|bound| *bound != path)
    {
        return (409, json!({"error": "bound to another gateway"}));
    }
    set_binding(hub, sub, Some(path));
    (200, json!({"ok": true}))
}

fn unbind(hub: &Hub, pid: &str, dn: &str, sub_pid: &str, sub_dn: &str) -> Response {
    let registry = hub.registry();
    let Some(sub) = registry.devices.get(&format!("{sub_pid}{sub_dn}")) else {
        return (404, json!({"error": "unknown sub-device"}));
    };
    if sub.bound_gateway.as_deref() != Some(format!("{pid}/{dn}").as_str()) {
        return (404, json!({"error": "not bound to this gateway"}));
    }
    set_binding(hub, sub, None);
    let was_online = hub.subdevice_offline(sub_pid, sub_dn);
    (200, json!({"ok": true, "was_online": was_online}))
}

fn faults(hub: &Hub, request: &Request) -> Response {
    let mut body = match json_object(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    if body.is_empty() {
        hub.gateway.clear();
        return (200, json!({"ok": true}));
    }
    let operation = match body.remove("op") {
        Some(Value::String(operation)) if OPERATIONS.contains(&operation.as_str()) => operation,
        _ => return bad_request("op must be bind, unbind, online or offline"),
    };
    let fault: Fault = match serde_json::from_value(Value::Object(body)) {
        Ok(fault) => fault,
        Err(error) => return bad_request(&format!("not a gateway fault: {error}")),
    };
    if fault.result.is_none() && !fault.silent {
        return bad_request("a fault needs result or silent");
    }
    hub.gateway.arm(&operation, fault);
    (200, json!({"ok": true}))
}

fn switches(hub: &Hub, request: &Request) -> Option<Response> {
    let body = json_object(request).ok()?;
    if body.is_empty() || body.keys().any(|name| name != TIMESTAMP_WINDOW_SWITCH) {
        return None;
    }
    let response = match &body[TIMESTAMP_WINDOW_SWITCH] {
        Value::Null => {
            hub.gateway.set_timestamp_window(None);
            (200, json!({"ok": true}))
        }
        value => match value.as_u64() {
            Some(window) => {
                hub.gateway.set_timestamp_window(Some(window));
                (200, json!({"ok": true}))
            }
            None => bad_request("the window must be whole seconds or null"),
        },
    };
    Some(response)
}
