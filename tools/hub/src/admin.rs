//! Admin API: HTTP/1.1 + JSON on 127.0.0.1 (`hub.md` §8).
//!
//! Test runners and developers drive the hub with `curl`, so a tiny hand-written server is
//! enough: one request per connection (`Connection: close`), `Content-Length` bodies only.
//! Routing is a `match` on method and path segments, which keeps every endpoint visible in
//! one place.

use crate::hub::{Hub, Message};
use crate::registry::{Device, Product};
use base64::Engine as _;
use mqtt_session::codec::QoS;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Longest long-poll a client may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string without `?`.
    pub query: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Status code and JSON body.
pub type Response = (u16, Value);

/// Accepts admin connections forever.
pub async fn run(hub: Arc<Hub>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            if let Err(error) = serve(hub, stream).await {
                log::debug!("admin connection: {error}");
            }
        });
    }
}

async fn serve(hub: Arc<Hub>, mut stream: TcpStream) -> std::io::Result<()> {
    let (status, body) = match read_request(&mut stream).await? {
        Some(request) => {
            log::info!("admin {} {}", request.method, request.path);
            handle(&hub, &request).await
        }
        None => (400, json!({"error": "bad request"})),
    };
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position;
        }
        if buffer.len() > MAX_HEAD {
            return Ok(None);
        }
        let mut chunk = [0u8; 4096];
        let count = stream.read(&mut chunk).await?;
        if count == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..count]);
    };
    let Ok(head) = std::str::from_utf8(&buffer[..head_end]) else {
        return Ok(None);
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target)) = (request_line.next(), request_line.next()) else {
        return Ok(None);
    };
    let content_length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if content_length > MAX_BODY {
        return Ok(None);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        body: Vec::new(),
    };
    let mut body = buffer.split_off(head_end + 4);
    while body.len() < content_length {
        let mut chunk = [0u8; 4096];
        let count = stream.read(&mut chunk).await?;
        if count == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..count]);
    }
    body.truncate(content_length);
    Ok(Some(Request { body, ..request }))
}

fn query_number(query: &str, name: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
}

fn bad_request(message: &str) -> Response {
    (400, json!({"error": message}))
}

/// Routes one request.
pub async fn handle(hub: &Hub, request: &Request) -> Response {
    if let Some(response) = crate::gateway::admin::handle(hub, request) {
        return response;
    }
    if let Some(response) = crate::ota::admin::handle(hub, request) {
        return response;
    }
    if let Some(response) = crate::dynreg::admin::handle(hub, request) {
        return response;
    }
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(_) => return bad_request("body is not JSON"),
        }
    };
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["health"]) => (200, json!({"ok": true})),
        ("POST", ["reset"]) => {
            hub.reset();
            (200, json!({"ok": true}))
        }
        ("GET", ["sessions"]) => (200, hub.sessions_json()),
        ("GET", ["events"]) => {
            let since = query_number(&request.query, "since").unwrap_or(0);
            let wait = Duration::from_millis(query_number(&request.query, "wait_ms").unwrap_or(0))
                .min(MAX_WAIT);
            (200, Value::Array(hub.events.wait_since(since, wait).await))
        }
        ("POST", ["clock"]) => match body["offset_s"].as_i64() {
            Some(offset) => {
                hub.set_clock_offset(offset);
                (200, json!({"ok": true, "now": hub.now_unix()}))
            }
            None => bad_request("offset_s must be an integer"),
        },
        ("PUT", ["provisioning", "faults"]) => match &body["bind_reply_code"] {
            Value::Null => {
                hub.set_bind_reply_code(0);
                (200, json!({"ok": true}))
            }
            code => match code.as_i64() {
                Some(code) if code != 0 => {
                    hub.set_bind_reply_code(code);
                    (200, json!({"ok": true}))
                }
                _ => bad_request("bind_reply_code must be a non-zero integer"),
            },
        },
        ("PUT", ["products", pid]) => put_product(hub, pid, body),
        ("GET", ["devices", pid, dn]) => match hub.device_json(pid, dn) {
            Some(device) => (200, device),
            None => (404, json!({"error": "unknown device"})),
        },
        ("PUT", ["devices", pid, dn]) => put_device(hub, pid, dn, &body),
        ("POST", ["devices", pid, dn, "publish"]) => publish(hub, pid, dn, &body),
        ("POST", ["devices", pid, dn, "kick"]) => {
            let refuse = body["refuse_s"].as_f64().map(Duration::from_secs_f64);
            let kicked = hub.kick(&format!("{pid}{dn}"), refuse);
            (200, json!({"kicked": kicked}))
        }
        ("POST", ["devices", pid, dn, "control"]) => control(hub, pid, dn, &body),
        _ => (404, json!({"error": "no such endpoint"})),
    }
}

fn put_product(hub: &Hub, pid: &str, mut body: Value) -> Response {
    if let Value::Object(map) = &mut body {
        map.insert("pid".to_owned(), json!(pid));
    }
    match serde_json::from_value::<Product>(body) {
        Ok(product) => {
            hub.update_registry(|registry| {
                registry.products.insert(pid.to_owned(), product);
            });
            (200, json!({"ok": true}))
        }
        Err(_) => bad_request("not a product"),
    }
}

fn put_device(hub: &Hub, pid: &str, dn: &str, body: &Value) -> Response {
    let secret = body["secret"].as_str().unwrap_or_default();
    let cert_pem = body["cert_pem"].as_str().map(str::to_owned);
    let certificate_only = cert_pem.is_some() && secret.is_empty();
    if !certificate_only && mqtt_session::tencent::DeviceKey::from_base64(secret).is_err() {
        return bad_request("secret must be Base64");
    }
    let device = Device {
        pid: pid.to_owned(),
        dn: dn.to_owned(),
        secret: secret.to_owned(),
        enabled: body["enabled"].as_bool().unwrap_or(true),
        cert_pem,
        bound_gateway: body["bound_gateway"].as_str().map(str::to_owned),
    };
    hub.update_registry(|registry| registry.add_device(device));
    (200, json!({"ok": true}))
}

fn publish(hub: &Hub, pid: &str, dn: &str, body: &Value) -> Response {
    let Some(topic) = body["topic"].as_str() else {
        return bad_request("topic missing");
    };
    if !mqtt_session::topic::is_valid_topic_name(topic) {
        return bad_request("invalid topic name");
    }
    let payload = match (body["payload"].as_str(), body["payload_b64"].as_str()) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(encoded)) => match base64::engine::general_purpose::STANDARD.decode(encoded) {
            Ok(bytes) => bytes,
            Err(_) => return bad_request("payload_b64 is not Base64"),
        },
        (None, None) => Vec::new(),
    };
    let qos = match body["qos"].as_u64().unwrap_or(0) {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => return bad_request("qos must be 0 or 1"),
    };
    let force = body["force"].as_bool().unwrap_or(false);
    let message = Message {
        topic: topic.to_owned(),
        payload,
        qos,
    };
    let target = hub.delivery_target(pid, dn);
    let delivered = hub.route(&message, None, Some(&target), force);
    (200, json!({"delivered": delivered}))
}

fn control(hub: &Hub, pid: &str, dn: &str, body: &Value) -> Response {
    let Some(params) = body.get("params").filter(|params| params.is_object()) else {
        return bad_request("params must be an object");
    };
    let client_id = format!("{pid}{dn}");
    if body["push"].as_bool().unwrap_or(false) {
        let token = format!("control-{}", hub.next_connection());
        let payload =
            format!(r#"{{"method":"control","clientToken":"{token}","params":{params}}}"#);
        let message = Message {
            topic: format!("$thing/down/property/{pid}/{dn}"),
            payload: payload.into_bytes(),
            qos: QoS::AtMostOnce,
        };
        let delivered = hub.route(&message, None, Some(&client_id), false);
        return (200, json!({"delivered": delivered}));
    }
    hub.with_device_state(&client_id, |state| {
        state.pending_control = Some(params.clone())
    });
    (200, json!({"ok": true}))
}
