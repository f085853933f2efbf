//! The provisioning log the log softAP hands out (`cloud.md` §6.7).
//!
//! Entries are events with numbers, not text: the line
//! `<uptime ms>|<function>(<line>): <text>\r\n` is built only when the app
//! asks for it. That keeps ten entries in a couple of hundred bytes, and no
//! entry can ever contain a secret, because no event carries caller text.

use crate::errors::{self, Failure};
use crate::write::{Out, Overflow};
use crate::Mode;
use fifo::Fifo;

/// Entries kept: the last ten (`cloud.md` §6.7).
pub const LOG_CAPACITY: usize = 10;

/// What happened.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LogEvent {
    /// A session started.
    Started(Mode),
    /// The UDP server received a command datagram of this `cmdType`.
    Command(u8),
    /// The module obtained an IP on the router.
    GotIp,
    /// Dynamic registration stored a device record.
    Registered,
    /// The binding MQTT session is connected.
    Connected,
    /// The token was published and acknowledged.
    TokenSent,
    /// The cloud answered the bind with this code.
    BindReply(i32),
    /// A failure was recorded.
    Failed(Failure),
    /// The session succeeded.
    Succeeded,
}

impl LogEvent {
    /// `function`, `line` and text of the line, with an optional number.
    fn parts(self) -> (&'static str, u16, &'static str, Option<i64>) {
        match self {
            Self::Started(Mode::SoftAp) => ("start_session", 1, "start softAP", None),
            Self::Started(Mode::SmartConfig) => ("start_session", 1, "start SmartConfig", None),
            Self::Command(kind) => ("udp_server", 2, "command cmdType ", Some(i64::from(kind))),
            Self::GotIp => ("wifi_event", 3, "got IP", None),
            Self::Registered => ("register", 4, "device registered", None),
            Self::Connected => ("bind_session", 5, "MQTT connected", None),
            Self::TokenSent => ("bind_session", 6, "token sent", None),
            Self::BindReply(code) => ("bind_session", 7, "bind reply code ", Some(i64::from(code))),
            Self::Failed(failure) => ("session", 8, errors::text(failure.kind), None),
            Self::Succeeded => ("session", 9, "provisioning success", None),
        }
    }
}

/// An event packed into 10 bytes of alignment one (a [`LogEvent`] takes 12 on its own; with
/// its numbers as `u32`/`i32` fields an entry would take 12 too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Uptime modulo 2^32 ms (49.7 days): enough to order ten entries (little-endian).
    uptime_ms: [u8; 4],
    tag: u8,
    small: u8,
    /// An `i32`, little-endian.
    number: [u8; 4],
}

impl Entry {
    /// What the log's unused places hold.
    const FILLER: Self = Entry {
        uptime_ms: [0; 4],
        tag: 0,
        small: 0,
        number: [0; 4],
    };

    fn new(uptime_ms: u64, event: LogEvent) -> Self {
        let (tag, small, number) = match event {
            LogEvent::Started(Mode::SoftAp) => (0, 0, 0),
            LogEvent::Started(Mode::SmartConfig) => (0, 1, 0),
            LogEvent::Command(kind) => (1, kind, 0),
            LogEvent::GotIp => (2, 0, 0),
            LogEvent::Registered => (3, 0, 0),
            LogEvent::Connected => (4, 0, 0),
            LogEvent::TokenSent => (5, 0, 0),
            LogEvent::BindReply(code) => (6, 0, code),
            LogEvent::Failed(failure) => (7, failure.kind, failure.sub),
            LogEvent::Succeeded => (8, 0, 0),
        };
        Self {
            uptime_ms: (uptime_ms as u32).to_le_bytes(),
            tag,
            small,
            number: number.to_le_bytes(),
        }
    }

    fn uptime_ms(self) -> u32 {
        u32::from_le_bytes(self.uptime_ms)
    }

    fn number(self) -> i32 {
        i32::from_le_bytes(self.number)
    }

    fn event(self) -> LogEvent {
        match (self.tag, self.small) {
            (0, 0) => LogEvent::Started(Mode::SoftAp),
            (0, _) => LogEvent::Started(Mode::SmartConfig),
            (1, kind) => LogEvent::Command(kind),
            (2, _) => LogEvent::GotIp,
            (3, _) => LogEvent::Registered,
            (4, _) => LogEvent::Connected,
            (5, _) => LogEvent::TokenSent,
            (6, _) => LogEvent::BindReply(self.number()),
            (7, kind) => LogEvent::Failed(Failure::new(kind, self.number())),
            _ => LogEvent::Succeeded,
        }
    }
}

/// The last [`LOG_CAPACITY`] events, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBook {
    entries: Fifo<Entry, LOG_CAPACITY>,
}

impl Default for LogBook {
    fn default() -> Self {
        Self::new()
    }
}

impl LogBook {
    /// An empty log.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: Fifo::new(Entry::FILLER),
        }
    }

    /// Appends an event; the oldest goes when ten are kept.
    pub fn add(&mut self, uptime_ms: u64, event: LogEvent) {
        if self.entries.is_full() {
            self.entries.pop_front();
        }
        let _ = self.entries.push_back(Entry::new(uptime_ms, event));
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the entries, oldest first, each
    /// `<uptime ms>|<function>(<line>): <text>\r\n`, to the front of `out`;
    /// returns the length (at most 71 bytes per entry). When all ten do not
    /// fit, the newest that do are written: the app asks for the last ≤ 10.
    ///
    /// # Errors
    ///
    /// [`Overflow`] when `out` cannot hold even the newest entry.
    pub fn write_dump(&self, out: &mut [u8]) -> Result<usize, Overflow> {
        for skipped in 0..self.entries.len().max(1) {
            if let Ok(length) = self.write_newest(skipped, out) {
                return Ok(length);
            }
        }
        Err(Overflow)
    }

    fn write_newest(&self, skipped: usize, out: &mut [u8]) -> Result<usize, Overflow> {
        let mut out = Out::new(out);
        for entry in self.entries.iter().skip(skipped) {
            let event = entry.event();
            let (function, line, text, number) = event.parts();
            out.integer(i64::from(entry.uptime_ms()))?;
            out.put(b"|")?;
            out.put(function.as_bytes())?;
            out.put(b"(")?;
            out.integer(i64::from(line))?;
            out.put(b"): ")?;
            out.put(text.as_bytes())?;
            if let Some(number) = number {
                out.integer(number)?;
            }
            if let LogEvent::Failed(failure) = event {
                out.put(b" (")?;
                out.integer(i64::from(failure.kind))?;
                out.put(b", ")?;
                out.integer(i64::from(failure.sub))?;
                out.put(b")")?;
            }
            out.put(b"\r\n")?;
        }
        Ok(out.len())
    }
}
