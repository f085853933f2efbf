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

/// FIFO of lines waiting for the engine.
#[derive(Default)]
pub struct InputQueue {
    entries: Deque<Entry, QUEUE_LINES>,
    bytes: usize,
}

impl InputQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        InputQueue {
            entries: Deque::new(),
            bytes: 0,
        }
    }

    /// Appends an entry; gives it back when the queue is full (the caller answers `[BUSY]`).
    // Returning the refused line by value lets the caller echo it without a copy or a heap.
    #[allow(clippy::result_large_err)]
    pub fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        if self.bytes + entry.cost() > QUEUE_BYTES {
            return Err(entry);
        }
        let cost = entry.cost();
        self.entries.push_back(entry)?;
        self.bytes += cost;
        Ok(())
    }

    /// Takes the oldest entry.
    pub fn pop(&mut self) -> Option<Entry> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.cost();
        Some(entry)
    }

    /// Number of queued entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
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
