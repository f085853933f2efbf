//! The input queue (`at-engine.md` §6): lines that completed while a command executes wait
//! here in order. Capacity is 8 lines and 1024 bytes, whichever is reached first.

use at_parser::MAX_LINE;
use heapless::Deque;

/// Maximum number of queued lines.
pub const QUEUE_LINES: usize = 8;
/// Maximum number of queued line bytes (including each line's CR LF).
pub const QUEUE_BYTES: usize = 1024;

/// One queued entry.
// No heap to box into: a line lives inline and is moved once, from the framer to the queue.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A complete command line, with its CR LF.
    Line(heapless::Vec<u8, MAX_LINE>),
    /// A line that was over-long or lost bytes: answered `[E:04]` without echo.
    Rejected,
}

impl Entry {
    fn cost(&self) -> usize {
        match self {
            Entry::Line(line) => line.len(),
            Entry::Rejected => 0,
        }
    }
}

/// Length prefix of a rejected entry (a line is at most [`MAX_LINE`] bytes).
const REJECTED: u16 = u16::MAX;
/// Bytes of the ring: the line budget plus a two-byte length prefix per entry.
const RING_BYTES: usize = QUEUE_BYTES + 2 * QUEUE_LINES;

/// FIFO of lines waiting for the engine: one byte ring with length prefixes, so queued lines
/// take the bytes they have, not a maximum-size slot each.
pub struct InputQueue {
    ring: Deque<u8, RING_BYTES>,
    entries: usize,
    bytes: usize,
}

impl Default for InputQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl InputQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        InputQueue {
            ring: Deque::new(),
            entries: 0,
            bytes: 0,
        }
    }

    /// Appends an entry; gives it back when the queue is full (the caller answers `[BUSY]`).
    // Returning the refused line by value lets the caller echo it without a copy or a heap.
    #[allow(clippy::result_large_err)]
    pub fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        if self.entries == QUEUE_LINES || self.bytes + entry.cost() > QUEUE_BYTES {
            return Err(entry);
        }
        let (prefix, line): (u16, &[u8]) = match &entry {
            // A line is at most MAX_LINE (256) bytes.
            Entry::Line(line) => (line.len() as u16, line),
            Entry::Rejected => (REJECTED, &[]),
        };
        // Fits: the budget above leaves room for the bytes and every entry's prefix.
        for byte in prefix.to_be_bytes().iter().chain(line) {
            let _ = self.ring.push_back(*byte);
        }
        self.entries += 1;
        self.bytes += entry.cost();
        Ok(())
    }

    /// Takes the oldest entry.
    pub fn pop(&mut self) -> Option<Entry> {
        let high = self.ring.pop_front()?;
        let low = self.ring.pop_front().unwrap_or(0);
        self.entries -= 1;
        let prefix = u16::from_be_bytes([high, low]);
        if prefix == REJECTED {
            return Some(Entry::Rejected);
        }
        let mut line = heapless::Vec::new();
        for _ in 0..prefix {
            // Both hold: the prefix counts bytes that were pushed, at most MAX_LINE.
            let byte = self.ring.pop_front().unwrap_or(0);
            let _ = line.push(byte);
        }
        self.bytes -= line.len();
        Some(Entry::Line(line))
    }

    /// Number of queued entries.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(len: usize) -> Entry {
        let mut bytes = heapless::Vec::new();
        bytes.resize(len, b'A').unwrap();
        Entry::Line(bytes)
    }

    #[test]
    fn ninth_line_is_refused() {
        let mut queue = InputQueue::new();
        for _ in 0..QUEUE_LINES {
            queue.push(line(4)).unwrap();
        }
        assert_eq!(queue.push(line(4)), Err(line(4)));
    }

    #[test]
    fn byte_budget_is_enforced_before_the_line_count() {
        let mut queue = InputQueue::new();
        for _ in 0..4 {
            queue.push(line(256)).unwrap();
        }
        assert_eq!(queue.len(), 4);
        assert!(queue.push(line(2)).is_err());
        queue.pop();
        queue.push(line(256)).unwrap();
    }

    #[test]
    fn the_queue_takes_the_bytes_of_its_lines_not_slots() {
        // 8 lines and 1 KiB of line bytes: about 1 KiB instead of eight 256-byte slots.
        assert!(core::mem::size_of::<InputQueue>() < QUEUE_BYTES + 64);
    }

    #[test]
    fn lines_come_out_in_order() {
        let mut queue = InputQueue::new();
        queue.push(line(3)).unwrap();
        queue.push(Entry::Rejected).unwrap();
        queue.push(line(5)).unwrap();
        assert_eq!(queue.pop(), Some(line(3)));
        assert_eq!(queue.pop(), Some(Entry::Rejected));
        assert_eq!(queue.pop(), Some(line(5)));
        assert_eq!(queue.pop(), None);
    }
}
