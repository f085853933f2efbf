//! What AT+TCDIAG? reports: the messages the spec allows the module to drop, counted per
//! cause, and the link's history (`docs/decisions.md`, "AT+TCDIAG?").
//!
//! The session counts what it drops while decoding (oversize, no filter, duplicates); the
//! service counts the rest here. Counters wrap at `u32::MAX`; nothing resets them but a
//! reboot.

use mqtt_session::session::{DropReason, Statistics};

/// Why the last established link was lost, as AT+TCDIAG? names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// No link was lost since boot.
    #[default]
    None,
    /// The transport closed or failed.
    Transport,
    /// Two PINGREQs went unanswered.
    KeepAlive,
    /// The broker sent malformed bytes.
    Malformed,
    /// The broker sent a packet a client never receives.
    Unexpected,
    /// AT+TCMQTTDISCONN.
    Requested,
}

impl DisconnectCause {
    /// The word AT+TCDIAG? prints.
    pub fn name(self) -> &'static str {
        match self {
            DisconnectCause::None => "NONE",
            DisconnectCause::Transport => "TRANSPORT",
            DisconnectCause::KeepAlive => "KEEPALIVE",
            DisconnectCause::Malformed => "MALFORMED",
            DisconnectCause::Unexpected => "UNEXPECTED",
            DisconnectCause::Requested => "REQUESTED",
        }
    }
}

impl From<DropReason> for DisconnectCause {
    fn from(reason: DropReason) -> Self {
        match reason {
            DropReason::TransportClosed => DisconnectCause::Transport,
            DropReason::KeepAliveTimeout => DisconnectCause::KeepAlive,
            DropReason::Malformed(_) => DisconnectCause::Malformed,
            _ => DisconnectCause::Unexpected,
        }
    }
}

/// The service's counters and link history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// Why the last link was lost.
    pub last_disconnect: DisconnectCause,
    /// `+TCMQTTRECONNECTING` attempts since boot.
    pub reconnect_attempts: u32,
    /// Return code of the last CONNACK (`None` before the first).
    pub last_connack: Option<u8>,
    /// MQTT bytes received from the broker (TLS plaintext).
    pub bytes_in: u64,
    /// MQTT bytes sent to the broker (TLS plaintext).
    pub bytes_out: u64,
}

/// Everything AT+TCDIAG? prints: the session's drop counters and the service's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiagnosticReport {
    /// Counted by the session while decoding.
    pub session: Statistics,
    /// Counted by the service.
    pub service: Diagnostics,
}
