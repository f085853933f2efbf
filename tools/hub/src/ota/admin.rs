//! The OTA endpoints of the admin API (`hub.md` §8): files, their faults, tasks, switches.
//!
//! Routed before the generic JSON handling of `admin.rs`, because `POST /files` takes raw
//! bytes.

use super::{task_json, Faults, Switches, TaskRequest};
use crate::admin::{Request, Response};
use crate::hub::Message;
use crate::Hub;
use mqtt_session::codec::QoS;
use serde_json::{json, Value};

fn bad_request(message: &str) -> Response {
    (400, json!({"error": message}))
}

fn json_body(request: &Request) -> Result<Value, Response> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&request.body).map_err(|_| bad_request("body is not JSON"))
}

/// Answers an OTA endpoint, or `None` when the request is for another one.
pub fn handle(hub: &Hub, request: &Request) -> Option<Response> {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let response = match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["files"]) => (200, hub.ota.add_file(request.body.clone())),
        ("PUT", ["files", id, "faults"]) => put_faults(hub, id, request),
        ("POST", ["devices", pid, dn, "ota"]) => create_task(hub, pid, dn, request),
        ("GET", ["devices", pid, dn, "ota"]) => match hub.ota.task(&format!("{pid}{dn}")) {
            Some(task) => (200, task_json(&task)),
            None => (404, json!({"error": "no task"})),
        },
        ("DELETE", ["devices", pid, dn, "ota"]) => {
            let cancelled = hub.ota.cancel_task(&format!("{pid}{dn}"));
            (200, json!({"cancelled": cancelled}))
        }
        ("PUT", ["switches"]) => put_switches(hub, request),
        _ => return None,
    };
    Some(response)
}

fn put_faults(hub: &Hub, id: &str, request: &Request) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return (404, json!({"error": "no such file"}));
    };
    let faults = match json_body(request).map(serde_json::from_value::<Faults>) {
        Ok(Ok(faults)) => faults,
        Ok(Err(error)) => return bad_request(&format!("not a fault set: {error}")),
        Err(response) => return response,
    };
    if hub.ota.set_faults(id, faults) {
        (200, json!({"ok": true}))
    } else {
        (404, json!({"error": "no such file"}))
    }
}

fn create_task(hub: &Hub, pid: &str, dn: &str, request: &Request) -> Response {
    let body = match json_body(request) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let client_id = format!("{pid}{dn}");
    if !hub.registry().devices.contains_key(&client_id) {
        return (404, json!({"error": "unknown device"}));
    }
    let module = match body["kind"].as_str().unwrap_or("mcu") {
        "mcu" => false,
        "module" => true,
        _ => return bad_request("kind must be mcu or module"),
    };
    let (Some(file_id), Some(version)) = (body["file_id"].as_u64(), body["version"].as_str())
    else {
        return bad_request("file_id (number) and version (string) are required");
    };
    let scheme = body["scheme"].as_str().unwrap_or("http");
    let task = hub.ota.create_task(
        &client_id,
        TaskRequest {
            file_id,
            version,
            scheme,
            host: body["host"].as_str(),
            query: body["query"].as_str(),
            module,
        },
    );
    match task {
        Ok(task) => {
            // A device already listening gets the push at once (`hub.md` §4.4); a module
            // task waits for the resource report, which names the resource.
            let pushed = if module {
                0
            } else {
                push_update(hub, pid, dn, None)
            };
            let mut answer = task_json(&task);
            answer["pushed"] = json!(pushed);
            (200, answer)
        }
        Err(message) => bad_request(message),
    }
}

/// Pushes `update_firmware` for the pending task (twice with the duplicate switch) unless
/// the target equals `reported` or the push is switched off; returns the deliveries.
pub fn push_update(hub: &Hub, pid: &str, dn: &str, reported: Option<&str>) -> usize {
    let client_id = format!("{pid}{dn}");
    let switches = hub.ota.switches();
    if switches.omit_update_push {
        return 0;
    }
    let Some(payload) = hub.ota.pending_push(&client_id, reported) else {
        return 0;
    };
    let message = Message {
        topic: format!("$ota/update/{pid}/{dn}"),
        payload: payload.into_bytes(),
        qos: QoS::AtMostOnce,
    };
    let copies = if switches.duplicate_update_push { 2 } else { 1 };
    (0..copies)
        .map(|_| hub.route(&message, None, Some(&client_id), false))
        .sum()
}

fn put_switches(hub: &Hub, request: &Request) -> Response {
    let body = match json_body(request) {
        Ok(Value::Object(body)) => body,
        Ok(_) => return bad_request("switches must be an object"),
        Err(response) => return response,
    };
    let mut switches: Switches = hub.ota.switches();
    for (name, value) in &body {
        let Some(on) = value.as_bool() else {
            return bad_request("switch values must be true or false");
        };
        match name.as_str() {
            "reject_version_report" => switches.reject_version_report = on,
            "omit_update_push" => switches.omit_update_push = on,
            "duplicate_update_push" => switches.duplicate_update_push = on,
            _ => return bad_request(&format!("unknown switch {name}")),
        }
    }
    hub.ota.set_switches(switches);
    (200, json!({"ok": true}))
}
