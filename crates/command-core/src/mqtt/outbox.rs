//! The status queue: short lines waiting for the UART, in the order of their causing events.
//!
//! The MQTT service runs while a command holds the UART, so it cannot write; it queues each
//! status URC (`+TCMQTTDISCON`, `+TCMQTTRECONNECT…`, `+TCOTASTATUS`), each asynchronous result
//! line and each `[BUSY]` reply here as one entry, and whoever holds the output lock next
//! writes the entries out, one block each (`at-engine.md` §9). Received messages never come
//! here: they wait in the session where they were decoded and are streamed from there
//! (`engine::output`, back-pressure). Entries live in one byte ring with a two-byte length
//! prefix; `[BUSY]` replies cannot take the status reserve, so status lines are never lost.

use heapless::Deque;

/// Bytes of the outbox: status URCs, result lines and `[BUSY]` replies (received messages wait
/// in the session instead, `engine::output`).
pub const OUTBOX_BYTES: usize = 512;
/// Bytes of the outbox only status lines may use (not `[BUSY]` replies).
pub const STATUS_RESERVE: usize = 256;
/// Longest entry: `+TCMQTTRCVPUB:"` + 255-byte topic + `",2048,"` + 2048 bytes + `"\r\n`.
pub const URC_MAX: usize = 15 + 255 + 8 + 2048 + 3;

const PREFIX: usize = 2;

/// A bounded FIFO of output lines.
pub struct Outbox<const N: usize> {
    bytes: Deque<u8, N>,
    entries: usize,
}

impl<const N: usize> Default for Outbox<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Outbox<N> {
    /// An empty queue.
    pub const fn new() -> Self {
        Outbox {
            bytes: Deque::new(),
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
        let free = N - self.bytes.len();
        if length > URC_MAX || length + PREFIX + reserve > free {
            return false;
        }
        // Both pushes fit: checked above.
        for byte in (length as u16).to_be_bytes() {
            let _ = self.bytes.push_back(byte);
        }
        for part in parts {
            for byte in *part {
                let _ = self.bytes.push_back(*byte);
            }
        }
        self.entries += 1;
        true
    }

    /// Starts taking the oldest entry out: returns its length; its bytes follow through
    /// [`Outbox::take`], so an entry is written in pieces without a buffer of its size.
    pub fn pop_length(&mut self) -> Option<usize> {
        let high = self.bytes.pop_front()?;
        let low = self.bytes.pop_front().unwrap_or(0);
        self.entries -= 1;
        Some(usize::from(u16::from_be_bytes([high, low])))
    }

    /// Moves the next bytes of the entry that [`Outbox::pop_length`] started into `buffer`
    /// (the caller asks for at most what is left of it); returns how many.
    pub fn take(&mut self, buffer: &mut [u8]) -> usize {
        let mut count = 0;
        for slot in buffer.iter_mut() {
            let Some(byte) = self.bytes.pop_front() else {
                break;
            };
            *slot = byte;
            count += 1;
        }
        count
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.entries = 0;
    }

    /// How many entries are queued.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
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
    fn busy_replies_leave_the_status_reserve_free() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let busy = [b'x'; 200];
        assert!(outbox.push_message(&[&busy]));
        assert!(!outbox.push_message(&[&busy]));
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,-103\r\n"]));
    }
}
