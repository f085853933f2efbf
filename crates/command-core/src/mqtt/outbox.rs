//! The status queue: short lines waiting for the UART, in the order of their causing events.
//!
//! The MQTT service runs while a command holds the UART, so it cannot write; it queues each
//! status URC (`+TCMQTTDISCON`, `+TCMQTTRECONNECT…`, `+TCOTASTATUS`), each asynchronous result
//! line and each `[BUSY]` reply here as one entry, and whoever holds the output lock next
//! writes the entries out, one block each (`at-engine.md` §9). Received messages never come
//! here: they wait in the session where they were decoded and are streamed from there
//! (`engine::output`, back-pressure).
//!
//! Entries are records, not text: a kind byte and the few numbers the line needs (a result's
//! command as an index into [`RESULT_NAMES`] and its code), rendered to their exact text only
//! when the URC writer pops them ([`Outbox::pop`]). `+TCMQTTRECONNECTING\r\n` takes 1 byte
//! instead of 23, `+TCMQTTPUB:FAIL,-103\r\n` 6 instead of 24. The provisioning runner's
//! lines, rendered by the `provisioning` crate, are taken back to their shape and numbers
//! (`lines.rs`); a line of no known shape would stay text.
//!
//! A `[BUSY]` entry keeps only the refused line's echo: its reply text is the same for every
//! line, so the kind marks it and the writer adds [`BUSY_REPLY`](crate::render::BUSY_REPLY)
//! from flash. Beside the status reserve the ring has [`BUSY_ROOM`] bytes for such entries:
//! the echoes of a few short refused lines, so the receiver keeps reading while a long
//! command holds the UART. A longer echo never fits there; its line stays at the head of the
//! framer (the receiver waits) and the entry keeps only its length ([`Popped::BusyInFramer`]):
//! the URC writer writes the echo from the framer. Either way a reply that finds no room
//! waits with its line in the framer until a writer took entries out (`engine::receiver`).
//! `[BUSY]` replies cannot take the status reserve, so status lines are never lost to them.
//!
//! # What can be queued at once ([`STATUS_RESERVE`])
//!
//! Every command block is written behind the entries queued before it (`engine::output`,
//! `lock_drained`), so status entries pile up only while one block holds the UART or the host
//! does not read. Meanwhile:
//! - results: the service waits for one request at a time (`Service::waiting`), and a new
//!   request needs a command, whose block drains the queue first: at most one MQTT or gateway
//!   result, 6 bytes ([`RESULT_RECORD`]);
//! - link URCs: one drop episode (`cloud.md` §3) is `+TCMQTTDISCON,-103`, at most 6
//!   `+TCMQTTRECONNECTING` and `+TCMQTTRECONNECTED` or `+TCMQTTDISCON,-106`: 8 bytes
//!   ([`EPISODE`]); a new episode needs the link up again and a drop, at least seconds apart;
//! - OTA: one upgrade reports `ENTERUPDATE`, then `UPDATESUCCESS` or `UPDATEFAIL`, then
//!   `UPDATERESET`: 3 records of at most 3 bytes;
//! - provisioning: one session reports its start (`+TCSAP:OK`, …) and its outcome
//!   (`…:WIFI_CONNECT_FAILED,<kind>,<sub>`), records of at most [`PROVISIONING_RECORD`]
//!   bytes each (the four shapes of `provisioning`'s `render.rs`), and a new session needs a
//!   command.
//!
//! That is 6 + 9 + 2 × 10 = 35 bytes for everything at once, and the reserve keeps
//! room for [`EPISODES`] whole drop episodes beside it. (The text queue this replaced had
//! 256 bytes: one drop episode alone took 182 of them.) A host that never reads while the
//! link keeps flapping fills any finite queue; a status line that finds no room is lost
//! ([`Outbox::push_status`] returns false).

use lines::{decimal, Line};

/// Bytes of one result record: kind, command index, `i32` code.
pub const RESULT_RECORD: usize = 6;
/// Bytes of one drop episode's link URCs (1 each): `-103`, 6 × reconnecting, its end.
pub const EPISODE: usize = 8;
/// Bytes of the largest provisioning record: kind, shape, two `i32`s.
pub const PROVISIONING_RECORD: usize = lines::RECORD;
/// Drop episodes the reserve holds beside one result, one upgrade and one provisioning
/// session.
pub const EPISODES: usize = 2;
/// Bytes of the outbox only status lines may use (not `[BUSY]` replies): the bound above.
pub const STATUS_RESERVE: usize =
    RESULT_RECORD + 3 * 3 + 2 * PROVISIONING_RECORD + EPISODES * EPISODE;
/// Bytes of the outbox `[BUSY]` replies may use: the echoes of a few short refused lines
/// (with their 2-byte headers), e.g. twenty `AT\r\n`. A longer echo stays in the framer.
pub const BUSY_ROOM: usize = 128;
/// Bytes of the outbox: status records and `[BUSY]` replies (received messages wait in the
/// session instead, `engine::output`).
pub const OUTBOX_BYTES: usize = STATUS_RESERVE + BUSY_ROOM;
/// Longest entry: `+TCMQTTRCVPUB:"` + 255-byte topic + `",2048,"` + 2048 bytes + `"\r\n`.
pub const URC_MAX: usize = 15 + 255 + 8 + 2048 + 3;
/// Longest line a record renders to, [`Outbox::pop`]'s buffer:
/// `+TCSTARTSMART:WIFI_CONNECT_FAILED,-2147483648,-2147483648\r\n`.
pub const RENDERED_MAX: usize = lines::LINE_MAX;
/// The largest record.
const RECORD_MAX: usize = lines::RECORD;
const _: () = assert!(RESULT_RECORD <= RECORD_MAX);

/// The commands whose asynchronous result lines are queued, by their record index.
pub const RESULT_NAMES: [&str; 8] = [
    "TCMQTTCONN",
    "TCMQTTPUB",
    "TCMQTTPUBL",
    "TCMQTTPUBRAW",
    "TCMQTTSUB",
    "TCMQTTUNSUB",
    "TCGWBIND",
    "TCGWONLINE",
];
const _: () = {
    let mut index = 0;
    while index < RESULT_NAMES.len() {
        assert!(
            1 + RESULT_NAMES[index].len() + 1 + 5 + 11 + 2 <= RENDERED_MAX,
            "every result line fits the render buffer"
        );
        index += 1;
    }
};

/// Record kinds, the first byte of every entry.
mod kind {
    pub const LINK_DROPPED: u8 = 1;
    pub const GAVE_UP: u8 = 2;
    pub const RECONNECTING: u8 = 3;
    pub const RECONNECTED: u8 = 4;
    /// Then the command's index.
    pub const RESULT_OK: u8 = 5;
    /// Then the command's index and the code, big-endian.
    pub const RESULT_FAIL: u8 = 6;
    pub const OTA_ENTER: u8 = 7;
    pub const OTA_SUCCESS: u8 = 8;
    pub const OTA_RESET: u8 = 9;
    /// Then the code, big-endian.
    pub const OTA_FAIL: u8 = 10;
    /// Then a length byte and that many bytes of text.
    pub const TEXT: u8 = 11;
    /// Then a length byte and the echo.
    pub const BUSY: u8 = 12;
    /// Then the echo's length, big-endian, none of its bytes.
    pub const BUSY_IN_FRAMER: u8 = 13;
    /// Then the shape byte and its numbers (`lines.rs`).
    pub const PROVISIONING: u8 = 14;
}
/// Kind and length byte of a text or `[BUSY]` entry.
const TEXT_HEADER: usize = 2;
const _: () = assert!(BUSY_ROOM - TEXT_HEADER <= u8::MAX as usize);

/// A status line to queue ([`Outbox::push_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<'a> {
    /// `+TCMQTTDISCON,-103`.
    LinkDropped,
    /// `+TCMQTTDISCON,-106`.
    GaveUp,
    /// `+TCMQTTRECONNECTING`.
    Reconnecting,
    /// `+TCMQTTRECONNECTED`.
    Reconnected,
    /// `+<name>:OK` or `+<name>:FAIL,<code>`.
    Result {
        /// The command's name (one of `RESULT_NAMES`, else the line is queued as text).
        name: &'a str,
        /// Its outcome.
        result: Result<(), i32>,
    },
    /// `+TCOTASTATUS:…`.
    Ota(ota::Status),
    /// A line of the provisioning runner, CR LF included (a record when it has one of the
    /// known shapes, else text of at most 255 bytes).
    Provisioning(&'a [u8]),
}

/// Where [`Outbox::push_busy`] put a `[BUSY]` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Queued with its echo.
    Queued,
    /// Queued without its echo, longer than [`BUSY_ROOM`]: the line stays at the framer's
    /// head until the URC writer wrote it from there.
    EchoInFramer,
    /// Not queued: only the status reserve is left.
    NoRoom,
}

/// The oldest entry, taken out by [`Outbox::pop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Popped {
    /// A record, rendered: this many bytes at the front of `pop`'s buffer.
    Rendered(usize),
    /// Text: this many bytes follow through [`Outbox::take`].
    Text(usize),
    /// A `[BUSY]` reply: its echo, this many bytes, follows through [`Outbox::take`], then
    /// [`BUSY_REPLY`](crate::render::BUSY_REPLY).
    Busy(usize),
    /// A `[BUSY]` reply whose echo is the line at the framer's head, this many bytes, none
    /// in the ring ([`Busy::EchoInFramer`]); then [`BUSY_REPLY`](crate::render::BUSY_REPLY).
    BusyInFramer(usize),
}

/// A bounded FIFO of records: a byte ring with 16-bit positions (the ring is far below
/// 64 KiB), so the bookkeeping takes 6 bytes, not the 24 of a `heapless::Deque`'s.
pub struct Outbox<const N: usize> {
    bytes: [u8; N],
    /// Index of the oldest byte.
    head: u16,
    /// Bytes queued.
    length: u16,
    entries: u16,
}

impl<const N: usize> Default for Outbox<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Outbox<N> {
    const FITS: () = assert!(N > 0 && N <= u16::MAX as usize, "16-bit ring positions");

    /// An empty queue.
    pub const fn new() -> Self {
        let () = Self::FITS;
        Outbox {
            bytes: [0; N],
            head: 0,
            length: 0,
            entries: 0,
        }
    }

    /// Queues a status line as its record; false if even the reserve is exhausted (see the
    /// module's bound) or a text is longer than 255 bytes.
    pub fn push_status(&mut self, status: Status<'_>) -> bool {
        let mut record = [0u8; RECORD_MAX];
        let length = match status {
            Status::LinkDropped => put(&mut record, &[kind::LINK_DROPPED]),
            Status::GaveUp => put(&mut record, &[kind::GAVE_UP]),
            Status::Reconnecting => put(&mut record, &[kind::RECONNECTING]),
            Status::Reconnected => put(&mut record, &[kind::RECONNECTED]),
            Status::Result { name, result } => {
                let Some(index) = RESULT_NAMES.iter().position(|known| *known == name) else {
                    let mut code = [0u8; 11];
                    let (fail, code) = match result {
                        Ok(()) => (&b"OK"[..], &b""[..]),
                        Err(value) => (&b"FAIL,"[..], decimal(value, &mut code)),
                    };
                    let parts: [&[u8]; 6] = [b"+", name.as_bytes(), b":", fail, code, b"\r\n"];
                    return self.push_text(&parts, 0, kind::TEXT);
                };
                match result {
                    Ok(()) => put(&mut record, &[kind::RESULT_OK, index as u8]),
                    Err(code) => {
                        let [a, b, c, d] = code.to_be_bytes();
                        put(&mut record, &[kind::RESULT_FAIL, index as u8, a, b, c, d])
                    }
                }
            }
            Status::Ota(status) => match status {
                ota::Status::EnterUpdate => put(&mut record, &[kind::OTA_ENTER]),
                ota::Status::UpdateSuccess => put(&mut record, &[kind::OTA_SUCCESS]),
                ota::Status::UpdateReset => put(&mut record, &[kind::OTA_RESET]),
                ota::Status::UpdateFail(code) => {
                    let [high, low] = code.number().to_be_bytes();
                    put(&mut record, &[kind::OTA_FAIL, high, low])
                }
            },
            Status::Provisioning(text) => {
                match lines::compress(kind::PROVISIONING, text, &mut record) {
                    Some(length) => length,
                    None => return self.push_text(&[text], 0, kind::TEXT),
                }
            }
        };
        if length > N - usize::from(self.length) {
            return false;
        }
        self.push_bytes(&record[..length]);
        self.entries += 1;
        true
    }

    /// Queues the `[BUSY]` reply to a refused line: its echo (empty with echo off or for a
    /// rejected line), then [`BUSY_REPLY`](crate::render::BUSY_REPLY); an echo longer than [`BUSY_ROOM`] leaves its bytes
    /// where they are, in the framer. It leaves the status reserve free.
    pub fn push_busy(&mut self, echo: &[u8]) -> Busy {
        if echo.len() + TEXT_HEADER <= BUSY_ROOM {
            return match self.push_text(&[echo], STATUS_RESERVE, kind::BUSY) {
                true => Busy::Queued,
                false => Busy::NoRoom,
            };
        }
        if echo.len() > URC_MAX || 3 + STATUS_RESERVE > N - usize::from(self.length) {
            return Busy::NoRoom;
        }
        let [high, low] = (echo.len() as u16).to_be_bytes();
        self.push_bytes(&[kind::BUSY_IN_FRAMER, high, low]);
        self.entries += 1;
        Busy::EchoInFramer
    }

    /// Queues `parts` as one text entry of kind `kind` behind its length byte, leaving
    /// `reserve` bytes free.
    fn push_text(&mut self, parts: &[&[u8]], reserve: usize, kind: u8) -> bool {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        let free = N - usize::from(self.length);
        if length > usize::from(u8::MAX) || length + TEXT_HEADER + reserve > free {
            return false;
        }
        self.push_bytes(&[kind, length as u8]);
        for part in parts {
            self.push_bytes(part);
        }
        self.entries += 1;
        true
    }

    /// Appends `bytes` behind the queued ones (room checked by the caller), in at most two
    /// copies around the ring's end.
    fn push_bytes(&mut self, bytes: &[u8]) {
        let tail = (usize::from(self.head) + usize::from(self.length)) % N;
        let first = bytes.len().min(N - tail);
        self.bytes[tail..tail + first].copy_from_slice(&bytes[..first]);
        self.bytes[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.length += bytes.len() as u16;
    }

    /// Takes the oldest entry out: a record is rendered into `line` ([`RENDERED_MAX`] bytes
    /// hold every one; a shorter buffer cuts it); the bytes of a text or an echo follow
    /// through [`Outbox::take`], so an entry is written in pieces without a buffer of its size.
    pub fn pop(&mut self, line: &mut [u8]) -> Option<Popped> {
        if self.length == 0 {
            return None;
        }
        let mut record = [0u8; RECORD_MAX];
        self.take(&mut record[..1]);
        self.entries -= 1;
        let mut out = Line::new(line);
        match record[0] {
            kind::LINK_DROPPED => out.put(b"+TCMQTTDISCON,-103\r\n"),
            kind::GAVE_UP => out.put(b"+TCMQTTDISCON,-106\r\n"),
            kind::RECONNECTING => out.put(b"+TCMQTTRECONNECTING\r\n"),
            kind::RECONNECTED => out.put(b"+TCMQTTRECONNECTED\r\n"),
            kind::RESULT_OK | kind::RESULT_FAIL => {
                let fail = record[0] == kind::RESULT_FAIL;
                let fields = if fail { 5 } else { 1 };
                self.take(&mut record[1..1 + fields]);
                let name = RESULT_NAMES.get(usize::from(record[1])).unwrap_or(&"");
                out.put(b"+");
                out.put(name.as_bytes());
                if fail {
                    let code = i32::from_be_bytes([record[2], record[3], record[4], record[5]]);
                    let mut scratch = [0u8; 11];
                    out.put(b":FAIL,");
                    out.put(decimal(code, &mut scratch));
                } else {
                    out.put(b":OK");
                }
                out.put(b"\r\n");
            }
            kind::OTA_ENTER => out.put(b"+TCOTASTATUS:ENTERUPDATE\r\n"),
            kind::OTA_SUCCESS => out.put(b"+TCOTASTATUS:UPDATESUCCESS\r\n"),
            kind::OTA_RESET => out.put(b"+TCOTASTATUS:UPDATERESET\r\n"),
            kind::OTA_FAIL => {
                self.take(&mut record[1..3]);
                let mut scratch = [0u8; 11];
                out.put(b"+TCOTASTATUS:UPDATEFAIL,");
                out.put(decimal(
                    i32::from(u16::from_be_bytes([record[1], record[2]])),
                    &mut scratch,
                ));
                out.put(b"\r\n");
            }
            kind::PROVISIONING => {
                self.take(&mut record[1..2]);
                let numbers = lines::numbers(record[1]);
                self.take(&mut record[2..2 + numbers]);
                let _ = lines::render(record[1], &record[2..2 + numbers], &mut out);
            }
            kind::BUSY_IN_FRAMER => {
                self.take(&mut record[1..3]);
                let length = u16::from_be_bytes([record[1], record[2]]);
                return Some(Popped::BusyInFramer(usize::from(length)));
            }
            text => {
                self.take(&mut record[1..2]);
                let length = usize::from(record[1]);
                return Some(match text {
                    kind::BUSY => Popped::Busy(length),
                    _ => Popped::Text(length),
                });
            }
        }
        Some(Popped::Rendered(out.len()))
    }

    /// Whether the oldest entry is a `[BUSY]` reply whose echo waits in the framer
    /// ([`Busy::EchoInFramer`]): only the URC writer, which reads the framer, writes it.
    pub fn front_in_framer(&self) -> bool {
        self.length > 0 && self.bytes[usize::from(self.head)] == kind::BUSY_IN_FRAMER
    }

    /// Moves the next bytes of the entry that [`Outbox::pop`] started into `buffer` (the
    /// caller asks for at most what is left of it); returns how many.
    pub fn take(&mut self, buffer: &mut [u8]) -> usize {
        let count = buffer.len().min(usize::from(self.length));
        let head = usize::from(self.head);
        let first = count.min(N - head);
        buffer[..first].copy_from_slice(&self.bytes[head..head + first]);
        buffer[first..count].copy_from_slice(&self.bytes[..count - first]);
        self.head = ((head + count) % N) as u16;
        self.length -= count as u16;
        count
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.head = 0;
        self.length = 0;
        self.entries = 0;
    }

    /// How many entries are queued (16 bits: a held message's place behind them is kept in
    /// `MqttShared`).
    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}

/// Copies `bytes` to the front of `record`; returns how many.
fn put(record: &mut [u8; RECORD_MAX], bytes: &[u8]) -> usize {
    record[..bytes.len()].copy_from_slice(bytes);
    bytes.len()
}

mod lines;
#[cfg(test)]
mod tests;
