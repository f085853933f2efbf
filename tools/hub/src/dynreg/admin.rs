//! The registration endpoints of the admin API: `PUT /dynreg/faults` (`hub.md` §8) and
//! `PUT /dynreg/window` (the optional timestamp window of §6).

use super::Faults;
use crate::admin::{Request, Response};
use crate::Hub;
use serde_json::{json, Value};

/// Answers a registration endpoint, or `None` when the request is for another one.
pub fn handle(hub: &Hub, request: &Request) -> Option<Response> {
    let response = match (request.method.as_str(), request.path.trim_matches('/')) {
        ("PUT", "dynreg/faults") => match parse(request).map(serde_json::from_value::<Faults>) {
            Ok(Ok(faults)) => {
                hub.dynreg.set_faults(faults);
                (200, json!({"ok": true}))
            }
            Ok(Err(error)) => (400, json!({"error": format!("not a fault set: {error}")})),
            Err(response) => response,
        },
        ("PUT", "dynreg/window") => match parse(request) {
            Ok(body) => match &body["window_s"] {
                Value::Null => {
                    hub.dynreg.set_window(None);
                    (200, json!({"ok": true}))
                }
                value => match value.as_u64() {
                    Some(window) => {
                        hub.dynreg.set_window(Some(window));
                        (200, json!({"ok": true}))
                    }
                    None => (
                        400,
                        json!({"error": "window_s must be a number of seconds"}),
                    ),
                },
            },
            Err(response) => response,
        },
        _ => return None,
    };
    Some(response)
}

fn parse(request: &Request) -> Result<Value, Response> {
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&request.body).map_err(|_| (400, json!({"error": "body is not JSON"})))
}
