//! The dynamic registration endpoint (`hub.md` §6): `POST /register/dev` on the HTTP and
//! HTTPS listeners.
//!
//! The checks are a pure function of (registry, counters, body, clock) so each cloud code is
//! unit tested without sockets; `server.rs` adds the transport faults and the HTTP framing,
//! `admin.rs` the fault and window endpoints. Counters and faults sit behind one mutex, like
//! the broker state.

pub mod admin;
pub mod checks;
pub mod server;

use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The endpoint's path.
pub const PATH: &str = "/register/dev";

/// Transport faults of the endpoint (`PUT /dynreg/faults`, `hub.md` §8).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Only requests for this product; all products when absent.
    pub pid: Option<String>,
    /// Apply to the next matching request only.
    #[serde(default)]
    pub next_only: bool,
    /// Answer with this status and an empty body (401/403 → -9, 404 → -10, others → -4).
    pub status: Option<u16>,
    /// Close the connection without answering (-3).
    #[serde(default)]
    pub close: bool,
    /// Answer with a malformed status line (-5).
    #[serde(default)]
    pub malformed: bool,
    /// Stay silent this many seconds, then close (-11 once it exceeds the 5 s read timeout).
    pub stall_s: Option<f64>,
    /// Answer HTTP 200 with cloud code 1000 (the "fault injection" check).
    #[serde(default)]
    pub internal_error: bool,
}

impl Faults {
    fn matches(&self, pid: Option<&str>) -> bool {
        self.pid.as_deref().is_none_or(|wanted| Some(wanted) == pid)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Standing faults and one-shot faults, in the order they were set.
    faults: Vec<Faults>,
    /// Successful registrations per client id.
    registrations: HashMap<String, u64>,
    /// Devices created by registration per product.
    created: HashMap<String, u64>,
    /// Accepted distance between the request's timestamp and the hub clock.
    window_s: Option<u64>,
}

/// Registration state of the hub.
#[derive(Debug, Default)]
pub struct Dynreg {
    state: Mutex<State>,
}

impl Dynreg {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Adds a fault set; `{}` (nothing set) clears every fault.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = self.lock();
        if faults == Faults::default() {
            state.faults.clear();
        } else {
            if !faults.next_only {
                let pid = faults.pid.clone();
                state
                    .faults
                    .retain(|standing| standing.next_only || standing.pid != pid);
            }
            state.faults.push(faults);
        }
    }

    /// The fault for a request of product `pid` (one-shot faults are used up).
    pub fn take_fault(&self, pid: Option<&str>) -> Option<Faults> {
        let mut state = self.lock();
        if let Some(index) = state
            .faults
            .iter()
            .position(|faults| faults.next_only && faults.matches(pid))
        {
            return Some(state.faults.remove(index));
        }
        state
            .faults
            .iter()
            .find(|faults| faults.matches(pid))
            .cloned()
    }

    /// Sets (`Some`) or clears the timestamp window.
    pub fn set_window(&self, window_s: Option<u64>) {
        self.lock().window_s = window_s;
    }

    /// The counters the checks read.
    pub fn counters(&self, pid: &str, client_id: &str) -> checks::Counters {
        let state = self.lock();
        checks::Counters {
            registrations: state.registrations.get(client_id).copied().unwrap_or(0),
            created: state.created.get(pid).copied().unwrap_or(0),
            window_s: state.window_s,
        }
    }

    /// Counts a successful registration.
    pub fn count(&self, pid: &str, client_id: &str, created: bool) {
        let mut state = self.lock();
        *state.registrations.entry(client_id.to_owned()).or_default() += 1;
        if created {
            *state.created.entry(pid.to_owned()).or_default() += 1;
        }
    }

    /// Registrations of a device so far.
    pub fn registrations(&self, client_id: &str) -> u64 {
        self.lock()
            .registrations
            .get(client_id)
            .copied()
            .unwrap_or(0)
    }

    /// Forgets faults, counters and the window (`POST /reset`).
    pub fn reset(&self) {
        *self.lock() = State::default();
    }
}
