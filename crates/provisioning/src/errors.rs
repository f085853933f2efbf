//! Provisioning error types, their texts, and the error records the UDP
//! server reports to the app (`errors.md` §6, `cloud.md` §6.4, §6.6).
//!
//! A record is two numbers, never text, so it cannot carry a secret and
//! costs eight bytes; the text is looked up when a record is written out.
//! Records of the running session are "current"; the ones it could not
//! send are kept (at most 16, persisted by the caller) and sent as
//! "previous" to the app of the next session.

use heapless::Vec;

use crate::write::{Out, Overflow};

/// Error types of `errors.md` §6 used by this crate.
pub mod kind {
    /// `MQTT connect error!`: every binding failure.
    pub const MQTT_CONNECT: u8 = 1;
    /// `APP command error!`: a bad app datagram.
    pub const APP_COMMAND: u8 = 2;
    /// `WIFI boarding stop!`: stopped, timed out, or SmartConfig ended.
    pub const BOARDING_STOP: u8 = 3;
    /// `RTOS task error!`: the UDP server ended without a token.
    pub const TASK: u8 = 4;
    /// `MQTT Token reply error!`: a bind reply with a non-zero code.
    pub const TOKEN_REPLY: u8 = 24;
    /// `MQTT Token recv timeout!`.
    pub const TOKEN_TIMEOUT: u8 = 25;
    /// `Product Region fault error!`.
    pub const REGION: u8 = 26;
    /// `Device Info error!`: no device or product record.
    pub const DEVICE_INFO: u8 = 27;
}

/// Sub-codes of `errors.md` §6 used by this crate.
pub mod sub {
    /// SmartConfig ended before an IP.
    pub const STOPPED_BY_APP: i32 = 101;
    /// AT+TCSTOPSAP / AT+TCSTOPSMART.
    pub const STOPPED_BY_COMMAND: i32 = 102;
    /// The 300 s budget ran out.
    pub const TIMEOUT: i32 = 103;
    /// The app datagram is not JSON, or has no known `cmdType`.
    pub const JSON_FORMAT: i32 = 201;
    /// Router credentials or token missing.
    pub const INFO_MISSING: i32 = 204;
    /// The UDP server ended without a token.
    pub const SERVER_ENDED: i32 = 206;
    /// No PUBACK for the token (the original's "MQTT unknown").
    pub const NO_PUBACK: i32 = -104;
}

/// The byte-exact text of an error type, ending in `!`.
#[must_use]
pub const fn text(kind: u8) -> &'static str {
    match kind {
        0 => "Everything OK!",
        1 => "MQTT connect error!",
        2 => "APP command error!",
        3 => "WIFI boarding stop!",
        4 => "RTOS task error!",
        5 => "RTOS queue error!",
        6 => "WIFI STA init error!",
        7 => "WIFI AP init error!",
        8 => "WIFI start error!",
        9 => "WIFI config error!",
        10 => "WIFI connect error!",
        11 => "WIFI disconnect error!",
        12 => "WIFI AP STA error!",
        13 => "ESP smartconfig start error!",
        14 => "ESP smartconfig data error!",
        15 => "SRV socket open error!",
        16 => "SRV socket bind error!",
        17 => "SRV socket listen error!",
        18 => "SRV socket fcntl error!",
        19 => "SRV socket accept error!",
        20 => "SRV socket recv error!",
        21 => "SRV socket select error!",
        22 => "SRV socket send error!",
        23 => "MQTT Token send error!",
        24 => "MQTT Token reply error!",
        25 => "MQTT Token recv timeout!",
        26 => "Product Region fault error!",
        27 => "Device Info error!",
        _ => "Unknown error!",
    }
}

/// One failure: a type of `errors.md` §6 and its sub-code.
///
/// Packed (five bytes, alignment one, not eight): sixteen records are kept for as long as
/// the module runs. Read the fields by value (a reference to a field of a packed struct is
/// refused by the compiler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, packed)]
pub struct Failure {
    /// Error type.
    pub kind: u8,
    /// Sub-code (§6 sub-codes, an errno or an SDK code).
    pub sub: i32,
}

/// By hand: the derive would take references to the packed fields.
#[cfg(feature = "defmt")]
impl defmt::Format for Failure {
    fn format(&self, formatter: defmt::Formatter<'_>) {
        let (kind, sub) = (self.kind, self.sub);
        defmt::write!(
            formatter,
            "Failure {{ kind: {=u8}, sub: {=i32} }}",
            kind,
            sub
        );
    }
}

impl Failure {
    /// A failure of `kind` with `sub`.
    #[must_use]
    pub const fn new(kind: u8, sub: i32) -> Self {
        Self { kind, sub }
    }
}

/// Records kept for the app (`cloud.md` §6.6: at most 16).
pub const RECORD_CAPACITY: usize = 16;

/// The error records, oldest first: the unsent ones of earlier sessions
/// ("previous"), then the running session's ("current"). They share the 16
/// places, the oldest going first, so a long session can push out old
/// previous records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorRecords {
    /// A one-byte length: at most sixteen records.
    records: Vec<Failure, RECORD_CAPACITY, u8>,
    /// Index of the first current record.
    current_start: u8,
}

impl ErrorRecords {
    /// No records.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            records: Vec::new(),
            current_start: 0,
        }
    }

    /// Records as restored from flash (all previous); the oldest beyond
    /// [`RECORD_CAPACITY`] are dropped.
    #[must_use]
    pub fn restored(records: &[Failure]) -> Self {
        let mut restored = Self::new();
        for &failure in records.iter().rev().take(RECORD_CAPACITY).rev() {
            let _ = restored.records.push(failure);
        }
        restored.current_start = restored.records.len() as u8;
        restored
    }

    /// The previous records, oldest first: what the caller persists.
    #[must_use]
    pub fn previous(&self) -> &[Failure] {
        &self.records[..usize::from(self.current_start)]
    }

    /// The current session's records, oldest first.
    #[must_use]
    pub fn current(&self) -> &[Failure] {
        &self.records[usize::from(self.current_start)..]
    }

    /// Starts a session: current records are cleared (`cloud.md` §6.1).
    pub fn start_session(&mut self) {
        self.records.truncate(usize::from(self.current_start));
    }

    /// Records a failure of the running session; when full, the oldest
    /// record goes.
    pub fn record(&mut self, failure: Failure) {
        if self.records.is_full() {
            self.records.remove(0);
            self.current_start = self.current_start.saturating_sub(1);
        }
        let _ = self.records.push(failure);
    }

    /// Ends a session: its unsent records become previous ones. Returns
    /// whether the previous records changed, that is, whether the caller
    /// must persist them.
    pub fn end_session(&mut self) -> bool {
        let changed = !self.current().is_empty();
        self.current_start = self.records.len() as u8;
        changed
    }

    /// Removes and returns the oldest previous record, to be sent.
    pub fn take_previous(&mut self) -> Option<Failure> {
        if self.current_start == 0 {
            return None;
        }
        self.current_start -= 1;
        Some(self.records.remove(0))
    }
}

/// Which list a record is sent from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    /// `Current_Error`.
    Current,
    /// `Previous_Error`.
    Previous,
}

/// Writes the record datagram of `cloud.md` §6.4 [`prov_softap_bad_json`]:
/// `{"cmdType":2,"deviceReply":"Current_Error","log":"<text> (<type>, <sub>)"}\r\n`.
pub(crate) fn write_record(failure: Failure, age: Age, out: &mut Out<'_>) -> Result<(), Overflow> {
    out.put(b"{\"cmdType\":2,\"deviceReply\":\"")?;
    out.put(match age {
        Age::Current => b"Current_Error",
        Age::Previous => b"Previous_Error",
    })?;
    out.put(b"\",\"log\":\"")?;
    out.put(text(failure.kind).as_bytes())?;
    out.put(b" (")?;
    out.integer(i64::from(failure.kind))?;
    out.put(b", ")?;
    out.integer(i64::from(failure.sub))?;
    out.put(b")\"}\r\n")
}
