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
//! line, so the prefix marks it and the writer adds [`BUSY_REPLY`](crate::render::BUSY_REPLY) from flash. The ring is
//! the reserve plus one longest `[BUSY]` entry, so the receiver, which waits for room when a
//! reply does not fit, always gets it once the writer emptied the ring.

/// Bytes of the outbox only status lines may use (not `[BUSY]` replies).
pub const STATUS_RESERVE: usize = 256;
/// Bytes of the outbox: status URCs, result lines and `[BUSY]` replies (received messages wait
/// in the session instead, `engine::output`): the status reserve and room for the longest
/// `[BUSY]` entry, the echo of a 256-byte line, so that such a reply is never refused room
/// by an empty ring.
pub const OUTBOX_BYTES: usize = STATUS_RESERVE + PREFIX + at_parser::MAX_LINE;
/// Longest entry: `+TCMQTTRCVPUB:"` + 255-byte topic + `",2048,"` + 2048 bytes + `"\r\n`.
pub const URC_MAX: usize = 15 + 255 + 8 + 2048 + 3;

const PREFIX: usize = 2;
/// The prefix bit of a `[BUSY]` entry: [`BUSY_REPLY`](crate::render::BUSY_REPLY) follows its bytes (the length fits in
/// 15 bits, `URC_MAX`).
const BUSY_ENTRY: u16 = 0x8000;
const _: () = assert!(URC_MAX < BUSY_ENTRY as usize);

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
    /// Whether [`BUSY_REPLY`](crate::render::BUSY_REPLY) follows them (a `[BUSY]` reply: the bytes are its echo).
    pub busy: bool,
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
    /// rejected line), then [`BUSY_REPLY`](crate::render::BUSY_REPLY). It leaves the status reserve free: false when only
    /// the reserve is left.
    pub fn push_busy(&mut self, echo: &[u8]) -> bool {
        self.push(&[echo], STATUS_RESERVE, BUSY_ENTRY)
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
            length: usize::from(prefix & !BUSY_ENTRY),
            busy: prefix & BUSY_ENTRY != 0,
        })
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

    /// The oldest entry as the writer puts it out: its bytes, then the reply of a `[BUSY]`.
    fn pop<const N: usize>(outbox: &mut Outbox<N>) -> Option<std::vec::Vec<u8>> {
        let Popped { mut length, busy } = outbox.pop_length()?;
        let mut entry = std::vec::Vec::new();
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
        assert!(outbox.push_busy(b"a\r\n\0\"b"));
        assert!(outbox.push_busy(b""));
        assert_eq!(outbox.entries(), 3);
        assert_eq!(pop(&mut outbox).unwrap(), b"+TCMQTTDISCON,-103\r\n");
        assert_eq!(
            pop(&mut outbox).unwrap(),
            [&b"a\r\n\0\"b"[..], BUSY_REPLY].concat()
        );
        assert_eq!(pop(&mut outbox).unwrap(), BUSY_REPLY);
        assert_eq!(pop(&mut outbox), None);
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
            assert_eq!(pop(&mut outbox).unwrap(), line, "round {round}");
            assert!(outbox.is_empty());
        }
        assert!(outbox.push_status(&[b"0123456789abcd"]));
        assert!(
            !outbox.push_status(&[b""]),
            "full: not even a length prefix fits"
        );
        assert_eq!(pop(&mut outbox).unwrap(), b"0123456789abcd");
    }

    #[test]
    fn busy_replies_leave_the_status_reserve_free() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let echo = [b'x'; 200];
        assert!(outbox.push_busy(&echo));
        assert!(!outbox.push_busy(&echo));
        // 514 - 202 = 312 bytes free: 54 + 2 leave the reserve whole, 55 + 2 would not.
        assert!(!outbox.push_busy(&echo[..55]));
        assert!(outbox.push_busy(&echo[..54]));
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,-103\r\n"]));
    }

    #[test]
    fn an_empty_ring_takes_the_busy_reply_of_the_longest_line_and_keeps_the_reserve() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let echo = [b'x'; at_parser::MAX_LINE];
        assert!(outbox.push_busy(&echo));
        assert!(!outbox.push_busy(b""));
        // The whole reserve is left for status lines.
        let status = [b's'; STATUS_RESERVE - PREFIX];
        assert!(outbox.push_status(&[&status]));
        assert!(!outbox.push_status(&[b""]));
        assert_eq!(pop(&mut outbox).unwrap(), [&echo[..], BUSY_REPLY].concat());
        assert_eq!(pop(&mut outbox).unwrap(), status);
    }
}
