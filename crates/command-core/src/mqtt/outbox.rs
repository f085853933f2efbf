//! The URC queue: whole lines waiting for the UART, in the order of their causing events.
//!
//! The MQTT service runs while a command holds the UART, so it cannot write; it queues each
//! URC (and each asynchronous result line) here as one entry, and whoever holds the output
//! mutex next writes the entries out, one block each (`at-engine.md` §9). Entries live in one
//! byte ring with a two-byte length prefix, so two maximum-size `+TCMQTTRCVPUB` lines fit
//! without reserving a maximum-size slot per entry. Inbound messages may be refused when the
//! ring is nearly full; status lines use a reserve that messages cannot take, so they are
//! never lost (`at-engine.md` §9 rule 2).

use heapless::Deque;

/// Bytes of the ring: two maximum-size `+TCMQTTRCVPUB` lines plus the status reserve.
pub const OUTBOX_BYTES: usize = 2 * (URC_MAX + PREFIX) + STATUS_RESERVE;
/// Bytes only status lines may use.
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

    /// Queues an inbound message line unless that would eat into the status reserve.
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

    /// Moves the oldest entry into `buffer` (at least [`URC_MAX`] bytes) and returns its length.
    pub fn pop_into(&mut self, buffer: &mut [u8]) -> Option<usize> {
        let high = self.bytes.pop_front()?;
        self.entries -= 1;
        let low = self.bytes.pop_front().unwrap_or(0);
        let length = usize::from(u16::from_be_bytes([high, low]));
        for slot in buffer.iter_mut().take(length) {
            *slot = self.bytes.pop_front().unwrap_or(0);
        }
        Some(length.min(buffer.len()))
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

    /// Moves every entry of `self`, in order, behind those of `other` (held messages released
    /// after `+TCMQTTRECONNECTED`); entries that do not fit are dropped.
    pub fn move_into<const M: usize>(&mut self, other: &mut Outbox<M>) {
        let mut buffer = [0u8; URC_MAX];
        while let Some(length) = self.pop_into(&mut buffer) {
            other.push_message(&[&buffer[..length]]);
        }
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

    fn pop(outbox: &mut Outbox<OUTBOX_BYTES>) -> Option<std::vec::Vec<u8>> {
        let mut buffer = [0u8; URC_MAX];
        outbox
            .pop_into(&mut buffer)
            .map(|length| buffer[..length].to_vec())
    }

    #[test]
    fn entries_come_out_whole_and_in_order() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,", b"-103", b"\r\n"]));
        assert!(outbox.push_message(&[b"a\r\n\0\"b"]));
        assert_eq!(pop(&mut outbox).unwrap(), b"+TCMQTTDISCON,-103\r\n");
        assert_eq!(pop(&mut outbox).unwrap(), b"a\r\n\0\"b");
        assert_eq!(pop(&mut outbox), None);
    }

    #[test]
    fn two_maximum_messages_fit_and_status_lines_still_fit_after_them() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let big = [b'x'; URC_MAX];
        assert!(outbox.push_message(&[&big]));
        assert!(outbox.push_message(&[&big]));
        assert!(!outbox.push_message(&[b"small"]));
        assert!(outbox.push_status(&[b"+TCMQTTDISCON,-103\r\n"]));
    }

    #[test]
    fn held_entries_move_behind_queued_ones() {
        let mut outbox = Outbox::<OUTBOX_BYTES>::new();
        let mut held = Outbox::<OUTBOX_BYTES>::new();
        held.push_message(&[b"held"]);
        outbox.push_status(&[b"+TCMQTTRECONNECTED\r\n"]);
        held.move_into(&mut outbox);
        assert!(held.is_empty());
        assert_eq!(pop(&mut outbox).unwrap(), b"+TCMQTTRECONNECTED\r\n");
        assert_eq!(pop(&mut outbox).unwrap(), b"held");
    }
}
