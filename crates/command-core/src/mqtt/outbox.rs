//! The status queue: short lines waiting for the UART, in the order of their causing events.
//!
//! The MQTT service runs while a command holds the UART, so it cannot write; it queues each
//! status URC (`+TCMQTTDISCON`, `+TCMQTTRECONNECT…`, `+TCOTASTATUS`), each asynchronous result
//! line and each `[BUSY]` reply here as one entry, and whoever holds the output lock next
//! writes the entries out, one block each (`at-engine.md` §9). Received messages never come
//! here: they wait in the session where they were decoded and are streamed from there
//! (`engine::output`, back-pressure). Entries live in one byte ring with a two-byte length
//! prefix; `[BUSY]` replies cannot take the status reserve, so status lines are never lost.

/// Bytes of the outbox: status URCs, result lines and `[BUSY]` replies (received messages wait
/// in the session instead, `engine::output`).
pub const OUTBOX_BYTES: usize = 512;
/// Bytes of the outbox only status lines may use (not `[BUSY]` replies).
pub const STATUS_RESERVE: usize = 256;
/// Longest entry: `+TCMQTTRCVPUB:"` + 255-byte topic + `",2048,"` + 2048 bytes + `"\r\n`.
pub const URC_MAX: usize = 15 + 255 + 8 + 2048 + 3;

const PREFIX: usize = 2;

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
        self.push(parts, 0)
    }

    /// Queues a line that must leave the status reserve free (a `[BUSY]` reply); false when
    /// only the reserve is left.
    pub fn push_message(&mut self, parts: &[&[u8]]) -> bool {
        self.push(parts, STATUS_RESERVE)
    }

    fn push(&mut self, parts: &[&[u8]], reserve: usize) -> bool {
        let length: usize = parts.iter().map(|part| part.len()).sum();
        let free = N - usize::from(self.length);
        if length > URC_MAX || length + PREFIX + reserve > free {
            return false;
        }
        self.push_bytes(&(length as u16).to_be_bytes());
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

    /// Starts taking the oldest entry out: returns its length; its bytes follow through
    /// [`Outbox::take`], so an entry is written in pieces without a buffer of its size.
    pub fn pop_length(&mut self) -> Option<usize> {
        if self.length < PREFIX as u16 {
            return None;
        }
        let mut prefix = [0; PREFIX];
        self.take(&mut prefix);
        self.entries -= 1;
        Some(usize::from(u16::from_be_bytes(prefix)))
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

    /// How many entries are queued.
    pub fn entries(&self) -> usize {
        usize::from(self.entries)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop<const N: usize>(outbox: &mut Outbox<N>) -> Option<std::vec::Vec<u8>> {
        let mut left = outbox.pop_length()?;
        let mut entry = std::vec::Vec::new();
        let mut chunk = [0u8; 7];
        while left > 0 {
            let count = outbox.take(&mut chunk[..left.min(7)]);
            entry.extend_from_slice(&chunk[..count]);
            left -= count;
        }
        Some(entry)
    }

    #[test]
    fn entries_come_out_whole_and_in_order_in_pieces() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,", b"-103", b"\r\n"]));
        assert!(outbox.push_message(&[b"a\r\n\0\"b"]));
        assert_eq!(outbox.entries(), 2);
        assert_eq!(pop(&mut outbox).unwrap(), b"+TCMQTTDISCON,-103\r\n");
        assert_eq!(pop(&mut outbox).unwrap(), b"a\r\n\0\"b");
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
        let busy = [b'x'; 200];
        assert!(outbox.push_message(&[&busy]));
        assert!(!outbox.push_message(&[&busy]));
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,-103\r\n"]));
    }
}
