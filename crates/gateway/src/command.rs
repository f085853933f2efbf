//! What the engine and the gateway state machine exchange: checked requests,
//! actions, outcomes and the result codes of `commands.md` §10.
//!
//! Kept apart from the state machine so the engine-facing vocabulary reads in
//! one place.

use crate::request::{Channel, Operation};
use crate::subdevice::{SubDevice, MAXIMUM_SECRET};

/// Wait for the cloud time reply (`cloud.md` §9.3).
pub const TIME_REPLY_TIMEOUT_MS: u64 = 2_000;
/// Replies longer than this are ignored (`cloud.md` §9.8).
pub const MAXIMUM_REPLY_LENGTH: usize = 1024;

/// Result codes of `commands.md` §10 that do not come from the cloud.
pub mod code {
    /// No SUBACK or no reply within cmdtimeout.
    pub const TIMEOUT: i32 = 202;
    /// The link dropped during a wait.
    pub const LINK_LOST: i32 = -103;
    /// The result subscription was refused.
    pub const SUBSCRIBE_REFUSED: i32 = -108;
    /// Online: the list already holds 16 sub-devices.
    pub const LIST_FULL: i32 = -221;
    /// Offline: the sub-device is not in the online list.
    pub const NOT_ONLINE: i32 = -222;
    /// Online: the sub-device is already in the online list.
    pub const ALREADY_ONLINE: i32 = -224;
    /// Bind: the cloud time query failed.
    pub const TIME_QUERY_FAILED: i32 = -1001;
    /// Bind: already bound to this gateway (answered `OK`).
    pub const ALREADY_BOUND: i32 = 809;
}

/// A sub-device secret (1..=44 bytes), kept only until the bind request is
/// signed and wiped when the job ends. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAXIMUM_SECRET],
    length: u8,
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("Secret(..)")
    }
}

impl Secret {
    /// 1..=44 bytes, else `None`.
    #[must_use]
    pub fn from_bytes(source: impl Iterator<Item = u8>) -> Option<Self> {
        let mut secret = Self {
            bytes: [0; MAXIMUM_SECRET],
            length: 0,
        };
        for byte in source {
            *secret.bytes.get_mut(usize::from(secret.length))? = byte;
            secret.length += 1;
        }
        (secret.length > 0).then_some(secret)
    }

    pub(crate) const fn empty() -> Self {
        Self {
            bytes: [0; MAXIMUM_SECRET],
            length: 0,
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.length)]
    }

    pub(crate) fn wipe(&mut self) {
        self.bytes = [0; MAXIMUM_SECRET];
        self.length = 0;
    }
}

/// A checked gateway command (from [`crate::check_bind`] / [`crate::check_online`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `AT+TCGWBIND=0,…`; `random` is drawn by the runner for `<r>`.
    Bind {
        /// The sub-device.
        subdevice: SubDevice,
        /// Its secret text.
        secret: Secret,
        /// Any 32 random bits; mapped to 1..=2147483647.
        random: u32,
    },
    /// `AT+TCGWBIND=1,…`.
    Unbind {
        /// The sub-device.
        subdevice: SubDevice,
    },
    /// `AT+TCGWONLINE=0,…`.
    Online {
        /// The sub-device.
        subdevice: SubDevice,
    },
    /// `AT+TCGWONLINE=1,…`.
    Offline {
        /// The sub-device.
        subdevice: SubDevice,
    },
}

impl Request {
    /// The operation requested.
    #[must_use]
    pub fn operation(&self) -> Operation {
        match self {
            Self::Bind { .. } => Operation::Bind,
            Self::Unbind { .. } => Operation::Unbind,
            Self::Online { .. } => Operation::Online,
            Self::Offline { .. } => Operation::Offline,
        }
    }
}

/// How a command ended: `OK` or `FAIL,<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// `+TC…:OK`.
    Ok,
    /// `+TC…:FAIL,<code>`.
    Fail(i32),
}

/// What the runner reports for an internal SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Subscription {
    /// SUBACK granted.
    Granted,
    /// SUBACK 0x80.
    Refused,
    /// No SUBACK within cmdtimeout.
    TimedOut,
}

/// What the runner must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Action {
    /// SUBSCRIBE the internal filter of this channel at [`Channel::qos`],
    /// then report with [`Gateway::subscribed`](crate::Gateway::subscribed).
    Subscribe(Channel),
    /// PUBLISH QoS0 on this channel the bytes of [`Gateway::write_payload`](crate::Gateway::write_payload);
    /// the reply wait has started.
    Publish(Channel),
    /// The command ended: print its result line ([`crate::write_result`]).
    Finished(Operation, Outcome),
    /// Re-onlining after a reconnect is done: re-subscribe the user slots
    /// (`cloud.md` §9.7; the tc-at engine emits `+TCMQTTRECONNECTED` at the CONNACK).
    ReonlineFinished,
}

/// Another gateway job is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Busy;
