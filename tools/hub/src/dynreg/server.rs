//! `POST /register/dev` over one HTTP(S) connection: the body, the transport faults, the
//! checks and the answer. Called by the HTTP listener of `ota/server.rs` for that path.

use super::checks::{self, Refusal};
use crate::registry::Device;
use crate::Hub;
use base64::Engine as _;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request body read.
const MAX_BODY: usize = 64 * 1024;
/// A client that sends no complete body within this time is dropped.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

fn random_bytes(count: usize) -> Vec<u8> {
    let mut bytes = vec![0; count];
    // OpenSSL's generator only fails when it cannot be seeded, which a test host never hits.
    let _ = openssl::rand::rand_bytes(&mut bytes);
    bytes
}

fn request_id() -> String {
    let hex: String = random_bytes(16)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Reads the rest of the body announced by `Content-Length` (`body` holds what came with
/// the head).
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    headers: &[String],
    mut body: Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    let length = headers
        .iter()
        .filter_map(|header| header.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(body.len());
    if length > MAX_BODY {
        return Ok(None);
    }
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let count = stream.read(&mut chunk).await?;
        if count == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..count]);
    }
    body.truncate(length);
    Ok(Some(body))
}

/// Answers one registration; returns the status and body bytes sent (0, 0 when the
/// connection is closed without an answer).
///
/// # Errors
/// Socket errors.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    hub: &Hub,
    stream: &mut S,
    headers: &[String],
    rest: Vec<u8>,
) -> std::io::Result<(u16, u64)> {
    let Ok(Ok(Some(body))) =
        tokio::time::timeout(BODY_TIMEOUT, read_body(stream, headers, rest)).await
    else {
        return Ok((0, 0));
    };
    let pid = checks::product_of(&body);
    let fault = hub.dynreg.take_fault(pid.as_deref()).unwrap_or_default();
    let text = String::from_utf8_lossy(&body).into_owned();
    if fault.close {
        hub.events
            .record("dynreg", json!({"body": text, "fault": "close"}));
        return Ok((0, 0));
    }
    if let Some(seconds) = fault.stall_s {
        hub.events
            .record("dynreg", json!({"body": text, "fault": "stall"}));
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        return Ok((0, 0));
    }
    if fault.malformed {
        hub.events
            .record("dynreg", json!({"body": text, "fault": "malformed"}));
        stream
            .write_all(b"HTTQ/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok((200, 0));
    }
    if let Some(status) = fault.status {
        hub.events
            .record("dynreg", json!({"body": text, "status": status}));
        let head =
            format!("HTTP/1.1 {status} Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        return Ok((status, 0));
    }
    let reply = if fault.internal_error {
        Err(Refusal {
            code: 1000,
            message: "internal error",
        })
    } else {
        register(hub, &body)
    };
    let (code, json) = match reply {
        Ok(json) => (0, json),
        Err(refusal) => (
            refusal.code,
            json!({"code": refusal.code, "message": refusal.message, "requestId": request_id()}),
        ),
    };
    hub.events
        .record("dynreg", json!({"body": text, "code": code}));
    let json = json.to_string();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        json.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(json.as_bytes()).await?;
    stream.flush().await?;
    Ok((200, json.len() as u64))
}

/// The checks and, when they pass, the new secret: stored in the registry (the device is
/// created if needed and marked not activated) and returned encrypted.
fn register(hub: &Hub, body: &[u8]) -> Result<serde_json::Value, Refusal> {
    let request = checks::parse(body).ok_or(Refusal {
        code: 1006,
        message: "invalid parameter",
    })?;
    let client_id = format!("{}{}", request.product_id, request.device_name);
    let counters = hub.dynreg.counters(&request.product_id, &client_id);
    let activated = hub.with_device_state(&client_id, |state| state.activated);
    let accepted = checks::decide(
        &hub.registry(),
        &request,
        counters,
        activated,
        hub.now_unix(),
    )?;
    let secret = base64::engine::general_purpose::STANDARD.encode(random_bytes(16));
    let plaintext = json!({"encryptionType": 2, "psk": secret}).to_string();
    let payload =
        checks::encrypt(&accepted.product_secret, plaintext.as_bytes()).map_err(|_| Refusal {
            code: 1000,
            message: "internal error",
        })?;
    hub.update_registry(|registry| {
        let existing = registry.devices.get(&client_id);
        let enabled = existing.is_none_or(|device| device.enabled);
        // A new secret changes nothing about the device's gateway binding.
        let bound_gateway = existing.and_then(|device| device.bound_gateway.clone());
        registry.add_device(Device {
            pid: request.product_id.clone(),
            dn: request.device_name.clone(),
            secret,
            enabled,
            cert_pem: None,
            bound_gateway,
        });
    });
    hub.with_device_state(&client_id, |state| state.activated = false);
    hub.dynreg
        .count(&request.product_id, &client_id, accepted.create);
    Ok(json!({
        "code": 0,
        "message": "",
        "len": plaintext.len(),
        "payload": payload,
        "requestId": request_id(),
    }))
}
