//! JSON views of the live state for the admin API (`GET /sessions`, `GET /devices/…`).
//!
//! Kept apart from the routing logic so the broker core reads without presentation code.

use super::{lock, Hub, Session};
use serde_json::{json, Value};

impl Hub {
    /// Live sessions as JSON (`GET /sessions`).
    pub fn sessions_json(&self) -> Value {
        let state = lock(&self.state);
        let mut sessions: Vec<Value> = state
            .sessions
            .iter()
            .map(|(client_id, session)| session_json(client_id, session))
            .collect();
        sessions.sort_by(|a, b| a["client_id"].as_str().cmp(&b["client_id"].as_str()));
        Value::Array(sessions)
    }

    /// Registry entry plus observed state of one device, `None` if unknown.
    pub fn device_json(&self, pid: &str, dn: &str) -> Option<Value> {
        let client_id = format!("{pid}{dn}");
        let device = lock(&self.registry).devices.get(&client_id).cloned()?;
        let state = lock(&self.state);
        let observed = state.devices.get(&client_id).cloned().unwrap_or_default();
        let session = state.sessions.get(&client_id);
        Some(json!({
            "pid": device.pid,
            "dn": device.dn,
            "enabled": device.enabled,
            "activated": observed.activated,
            "registrations": self.dynreg.registrations(&client_id),
            "online": session.is_some_and(|session| session.link.is_some()),
            "session": session.map(|session| session_json(&client_id, session)),
            "reported": observed.reported,
            "pending_control": observed.pending_control,
            "bound_tokens": observed.bound_tokens,
            "mcu_version": observed.mcu_version,
            "bound_gateway": device.bound_gateway,
            "online_via": super::gateway::online_via(&state, pid, dn),
        }))
    }
}

fn session_json(client_id: &str, session: &Session) -> Value {
    json!({
        "client_id": client_id,
        "pid": session.pid,
        "dn": session.dn,
        "online": session.link.is_some(),
        "connection": session.link.as_ref().map(|link| link.connection),
        "clean_session": !session.persistent,
        "subscriptions": session.subscriptions.iter()
            .map(|subscription| json!({"filter": subscription.filter, "qos": subscription.qos as u8}))
            .collect::<Vec<_>>(),
        "queued": session.queue.len(),
    })
}
