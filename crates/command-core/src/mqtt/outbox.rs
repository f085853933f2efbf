//! The status queue: short lines waiting for the UART, in the order of their causing events.
//!
//! The MQTT service runs while a command holds the UART, so it cannot write; it queues each
//! status URC (`+TCMQTTDISCON`, `+TCMQTTRECONNECT…`, `+TCOTASTATUS`), each asynchronous result
//! line and each `[BUSY]` reply here as one entry, and whoever holds the output lock next
//! writes the entries out, one block each (`at-engine.md` §9). Received messages never come
//! here: they wait in the session where they were decoded and are streamed from there
//! (`engine::output`, back-pressure). Entries live in one byte ring with a two-byte length
//! prefix; `[BUSY]` replies cannot take the status reserve, so status lines are never lost.
//!
//! A `[BUSY]` entry keeps only the refused line's echo: its reply text is the same for every
//! line, so the prefix marks it and the writer adds
//! [`BUSY_REPLY`](crate::render::BUSY_REPLY) from flash. Beside the status reserve the ring
//! has [`BUSY_ROOM`] bytes for such entries: the echoes of a few short refused lines, so the
//! receiver keeps reading while a long command holds the UART. A longer echo never fits
//! there; its line stays at the head of the framer (the receiver waits) and the entry keeps
//! only its place and length ([`Busy::EchoInFramer`]): the URC writer writes the echo from
//! the framer. Either way a reply that finds no room waits with its line in the framer until
//! a writer took entries out (`engine::receiver`).

/// Bytes of the outbox only status lines may use (not `[BUSY]` replies).
pub const STATUS_RESERVE: usize = 256;
/// Bytes of the outbox `[BUSY]` replies may use: the echoes of a few short refused lines
/// (with their prefixes), e.g. twenty `AT\r\n`. A longer echo stays in the framer.
pub const BUSY_ROOM: usize = 128;
/// Bytes of the outbox: status URCs, result lines and `[BUSY]` replies (received messages wait
/// in the session instead, `engine::output`).
pub const OUTBOX_BYTES: usize = STATUS_RESERVE + BUSY_ROOM;
/// Longest entry: `+TCMQTTRCVPUB:"` + 255-byte topic + `",2048,"` + 2048 bytes + `"\r\n`.
pub const URC_MAX: usize = 15 + 255 + 8 + 2048 + 3;

const PREFIX: usize = 2;
/// The prefix bit of a `[BUSY]` entry: [`BUSY_REPLY`](crate::render::BUSY_REPLY) follows its
/// echo.
const BUSY_ENTRY: u16 = 0x8000;
/// The prefix bit of a `[BUSY]` entry whose echo is the line at the framer's head: the length
/// is the echo's, none of its bytes are in the ring.
const IN_FRAMER: u16 = 0x4000;
const _: () = assert!(
    URC_MAX < IN_FRAMER as usize,
    "lengths fit below the kind bits"
);

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

/// A bounded FIFO of output lines: a byte ring with 16-bit positions (the ring is far below
/// 64 KiB), so the bookkeeping takes 6 bytes, not the 24 of a `heapless::Deque`'s.
pub struct Outbox<const N: usize> {
    bytes: [u8; N],
    /// Index of the oldest byte.
    head: u16,
    /// Bytes queued.
    length: u16,
    entries: u16,
}

/// The start of the oldest entry ([`Outbox::pop_length`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Popped {
    /// Bytes of the entry, taken with [`Outbox::take`].
    pub length: usize,
    /// Whether [`BUSY_REPLY`](crate::render::BUSY_REPLY) follows them (a `[BUSY]` reply:
    /// the bytes are its echo).
    pub busy: bool,
    /// Whether the echo is the line at the framer's head, `length` bytes, none in the ring
    /// ([`Busy::EchoInFramer`]).
    pub in_framer: bool,
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

    /// Queues a status line (result, `+TCMQTTDISCON`, …) made of `parts`; false if even the
    /// reserve is exhausted (cannot happen with one command at a time and this ring size).
    pub fn push_status(&mut self, parts: &[&[u8]]) -> bool {
        self.push(parts, 0, 0)
    }

    /// Queues the `[BUSY]` reply to a refused line: its echo (empty with echo off or for a
    /// rejected line), then [`BUSY_REPLY`](crate::render::BUSY_REPLY); an echo longer than
    /// [`BUSY_ROOM`] leaves its bytes where they are, in the framer. It leaves the status
    /// reserve free.
    pub fn push_busy(&mut self, echo: &[u8]) -> Busy {
        if echo.len() + PREFIX <= BUSY_ROOM {
            return match self.push(&[echo], STATUS_RESERVE, BUSY_ENTRY) {
                true => Busy::Queued,
                false => Busy::NoRoom,
            };
        }
        if echo.len() > URC_MAX || PREFIX + STATUS_RESERVE > N - usize::from(self.length) {
            return Busy::NoRoom;
        }
        self.push_bytes(&(echo.len() as u16 | BUSY_ENTRY | IN_FRAMER).to_be_bytes());
        self.entries += 1;
        Busy::EchoInFramer
    }

    fn push(&mut self, parts: &[&[u8]], reserve: usize, kind: u16) -> bool {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        let free = N - usize::from(self.length);
        if length > URC_MAX || length + PREFIX + reserve > free {
            return false;
        }
        self.push_bytes(&(length as u16 | kind).to_be_bytes());
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

    /// Starts taking the oldest entry out: its length and kind; its bytes follow through
    /// [`Outbox::take`], so an entry is written in pieces without a buffer of its size.
    pub fn pop_length(&mut self) -> Option<Popped> {
        if self.length < PREFIX as u16 {
            return None;
        }
        let mut prefix = [0; PREFIX];
        self.take(&mut prefix);
        self.entries -= 1;
        let prefix = u16::from_be_bytes(prefix);
        Some(Popped {
            length: usize::from(prefix & !(BUSY_ENTRY | IN_FRAMER)),
            busy: prefix & BUSY_ENTRY != 0,
            in_framer: prefix & IN_FRAMER != 0,
        })
    }

    /// Whether the oldest entry is a `[BUSY]` reply whose echo waits in the framer
    /// ([`Busy::EchoInFramer`]): only the URC writer, which reads the framer, writes it.
    pub fn front_in_framer(&self) -> bool {
        if self.length < PREFIX as u16 {
            return false;
        }
        let head = usize::from(self.head);
        // The kind bits are in the prefix's first byte.
        self.bytes[head] & IN_FRAMER.to_be_bytes()[0] != 0
    }

    /// Moves the next bytes of the entry that [`Outbox::pop_length`] started into `buffer`
    /// (the caller asks for at most what is left of it); returns how many.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::BUSY_REPLY;

    /// The oldest entry as the writer puts it out: its bytes, then the reply of a `[BUSY]`
    /// (an echo left in the framer is `framer`).
    fn pop<const N: usize>(outbox: &mut Outbox<N>, framer: &[u8]) -> Option<std::vec::Vec<u8>> {
        let Popped {
            mut length,
            busy,
            in_framer,
        } = outbox.pop_length()?;
        let mut entry = std::vec::Vec::new();
        if in_framer {
            assert_eq!(length, framer.len());
            entry.extend_from_slice(framer);
            length = 0;
        }
        let mut chunk = [0u8; 7];
        while length > 0 {
            let count = outbox.take(&mut chunk[..length.min(7)]);
            entry.extend_from_slice(&chunk[..count]);
            length -= count;
        }
        if busy {
            entry.extend_from_slice(BUSY_REPLY);
        }
        Some(entry)
    }

    #[test]
    fn entries_come_out_whole_and_in_order_in_pieces() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,", b"-103", b"\r\n"]));
        assert_eq!(outbox.push_busy(b"a\r\n\0\"b"), Busy::Queued);
        assert_eq!(outbox.push_busy(b""), Busy::Queued);
        assert_eq!(outbox.entries(), 3);
        assert_eq!(pop(&mut outbox, b"").unwrap(), b"+TCMQTTDISCON,-103\r\n");
        assert_eq!(
            pop(&mut outbox, b"").unwrap(),
            [&b"a\r\n\0\"b"[..], BUSY_REPLY].concat()
        );
        assert_eq!(pop(&mut outbox, b"").unwrap(), BUSY_REPLY);
        assert_eq!(pop(&mut outbox, b""), None);
        assert_eq!(outbox.entries(), 0);
    }

    #[test]
    fn entries_that_cross_the_end_of_the_ring_come_out_whole() {
        let mut outbox = Outbox::<16>::new();
        for round in 0..20u8 {
            let line = [b'a' + round % 26; 9];
            assert!(
                outbox.push_status(&[&line[..4], &line[4..]]),
                "round {round}"
            );
            assert_eq!(pop(&mut outbox, b"").unwrap(), line, "round {round}");
            assert!(outbox.is_empty());
        }
        assert!(outbox.push_status(&[b"0123456789abcd"]));
        assert!(
            !outbox.push_status(&[b""]),
            "full: not even a length prefix fits"
        );
        assert_eq!(pop(&mut outbox, b"").unwrap(), b"0123456789abcd");
    }

    #[test]
    fn busy_replies_leave_the_status_reserve_free() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let echo = [b'x'; BUSY_ROOM];
        // 126 + 2 bytes: the whole room.
        assert_eq!(outbox.push_busy(&echo[..BUSY_ROOM - 2]), Busy::Queued);
        assert_eq!(outbox.push_busy(b""), Busy::NoRoom);
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,-103\r\n"]));
        // The whole reserve is left for status lines.
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        assert_eq!(outbox.push_busy(&echo[..BUSY_ROOM - 2]), Busy::Queued);
        let status = [b's'; STATUS_RESERVE - PREFIX];
        assert!(outbox.push_status(&[&status]));
        assert!(!outbox.push_status(&[b""]));
        assert_eq!(
            pop(&mut outbox, b"").unwrap(),
            [&echo[..BUSY_ROOM - 2], BUSY_REPLY].concat()
        );
        assert_eq!(pop(&mut outbox, b"").unwrap(), status);
    }

    #[test]
    fn an_echo_longer_than_the_busy_room_stays_in_the_framer_and_only_its_place_is_queued() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let line = [b'L'; at_parser::MAX_LINE];
        assert!(outbox.push_status(&[b"+TCMQTTRECONNECTED\r\n"]));
        assert_eq!(outbox.push_busy(&line[..BUSY_ROOM - 1]), Busy::EchoInFramer);
        assert_eq!(outbox.push_busy(b"AT\r\n"), Busy::Queued);
        assert!(!outbox.front_in_framer());
        assert_eq!(pop(&mut outbox, b"").unwrap(), b"+TCMQTTRECONNECTED\r\n");
        assert!(outbox.front_in_framer());
        assert_eq!(
            pop(&mut outbox, &line[..BUSY_ROOM - 1]).unwrap(),
            [&line[..BUSY_ROOM - 1], BUSY_REPLY].concat()
        );
        assert!(!outbox.front_in_framer());
        assert_eq!(
            pop(&mut outbox, b"").unwrap(),
            [&b"AT\r\n"[..], BUSY_REPLY].concat()
        );
        // Its place takes a prefix of the busy room: with the room used up, none is queued.
        assert_eq!(outbox.push_busy(&line[..BUSY_ROOM - 2]), Busy::Queued);
        assert_eq!(outbox.push_busy(&line), Busy::NoRoom);
        pop(&mut outbox, b"");
        assert_eq!(outbox.push_busy(&line), Busy::EchoInFramer);
        assert!(outbox.front_in_framer());
    }
}
