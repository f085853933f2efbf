//! The input queue (`at-engine.md` §6): lines that completed while a command executes wait
//! here in order. Capacity is 8 lines and 1024 bytes, whichever is reached first.

use at_parser::MAX_LINE;

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

/// Length prefix of a rejected entry. A line's prefix is its length less one: a queued line
/// has at least its CR LF and at most [`MAX_LINE`] (256) bytes, so one byte holds it.
const REJECTED: u8 = 0;
/// Shortest line the queue takes: its CR LF.
const SHORTEST: usize = 2;
const _: () = assert!(MAX_LINE - 1 <= u8::MAX as usize);
/// Bytes of the ring: the line budget plus a one-byte length prefix per entry.
const RING_BYTES: usize = QUEUE_BYTES + QUEUE_LINES;
const _: () = assert!(RING_BYTES <= u16::MAX as usize && QUEUE_LINES <= u8::MAX as usize);

/// FIFO of lines waiting for the engine: one byte ring with length prefixes, so queued lines
/// take the bytes they have, not a maximum-size slot each.
///
/// A line goes in and comes out as at most two slice copies (one on each side of the ring's
/// end): every received byte passes through here, and a byte-at-a-time ring cost more than
/// framing and parsing the line together.
///
/// The positions and counts take 16 bits (the ring is 1,040 bytes): 7 bytes of bookkeeping
/// beside the ring, not four `usize`s.
pub struct InputQueue {
    ring: [u8; RING_BYTES],
    /// Index of the oldest byte in the ring.
    head: u16,
    /// Bytes in the ring (prefixes included).
    used: u16,
    /// Line bytes queued (prefixes not included): the 1,024-byte budget.
    bytes: u16,
    entries: u8,
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
            ring: [0; RING_BYTES],
            head: 0,
            used: 0,
            entries: 0,
            bytes: 0,
        }
    }

    /// Appends an entry; gives it back when the queue is full (the caller answers `[BUSY]`),
    /// or when it is a line shorter than a CR LF (the framer frames none).
    // Returning the refused line by value lets the caller echo it without a copy or a heap.
    #[allow(clippy::result_large_err)]
    // Inlined so the entry is built where the caller has it, not moved (264 bytes) into a call.
    #[inline]
    pub fn push(&mut self, entry: Entry) -> Result<(), Entry> {
        let (prefix, line): (u8, &[u8]) = match &entry {
            Entry::Line(line) if line.len() < SHORTEST => return Err(entry),
            // 2 to MAX_LINE (256) bytes.
            Entry::Line(line) => ((line.len() - 1) as u8, line),
            Entry::Rejected => (REJECTED, &[]),
        };
        if self.is_full(entry.cost()) {
            return Err(entry);
        }
        // Fits: the budget above leaves room for the bytes and every entry's prefix.
        self.write_prefix(prefix);
        self.write(line);
        self.entries += 1;
        self.bytes += entry.cost() as u16;
        Ok(())
    }

    /// Appends a line where the caller has it (the framer's buffer): one copy, into the ring.
    /// Returns false, queuing nothing, when the queue is full (the caller answers `[BUSY]`),
    /// or for a line shorter than a CR LF (the framer frames none).
    #[inline]
    pub fn push_line(&mut self, line: &[u8]) -> bool {
        // A line is at most MAX_LINE (256) bytes.
        let length = line.len().min(MAX_LINE);
        if length < SHORTEST || self.is_full(length) {
            return false;
        }
        self.write_prefix((length - 1) as u8);
        self.write(&line[..length]);
        self.entries += 1;
        self.bytes += length as u16;
        true
    }

    /// Whether a line of `length` bytes finds the queue full (8 lines, or 1,024 bytes).
    fn is_full(&self, length: usize) -> bool {
        usize::from(self.entries) == QUEUE_LINES || usize::from(self.bytes) + length > QUEUE_BYTES
    }

    /// Takes the oldest entry.
    // Inlined so the line is written where the caller keeps it, not moved out of a call.
    #[inline]
    pub fn pop(&mut self) -> Option<Entry> {
        if self.entries == 0 {
            return None;
        }
        let prefix = self.ring[usize::from(self.head)];
        self.advance(1);
        self.entries -= 1;
        if prefix == REJECTED {
            return Some(Entry::Rejected);
        }
        // The prefix counts bytes that were pushed, less one: at most MAX_LINE.
        let length = usize::from(prefix) + 1;
        let head = usize::from(self.head);
        let first = length.min(RING_BYTES - head);
        let mut line = heapless::Vec::new();
        // Cannot fail: `length` is at most the capacity.
        let _ = line.extend_from_slice(&self.ring[head..head + first]);
        if first < length {
            let _ = line.extend_from_slice(&self.ring[..length - first]);
        }
        self.advance(length);
        self.bytes -= length as u16;
        Some(Entry::Line(line))
    }

    /// Number of queued entries.
    pub fn len(&self) -> usize {
        usize::from(self.entries)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Appends `data` behind the queued bytes (the caller checked the room).
    fn write(&mut self, data: &[u8]) {
        let tail = self.tail();
        let first = data.len().min(RING_BYTES - tail);
        let (before_end, after_wrap) = data.split_at(first);
        self.ring[tail..tail + first].copy_from_slice(before_end);
        // Most lines do not straddle the ring's end: no second copy call for nothing.
        if !after_wrap.is_empty() {
            self.ring[..after_wrap.len()].copy_from_slice(after_wrap);
        }
        self.used += data.len() as u16;
    }

    /// Index of the first free byte behind the queued ones.
    fn tail(&self) -> usize {
        (usize::from(self.head) + usize::from(self.used)) % RING_BYTES
    }

    /// Appends an entry's one-byte length prefix (the caller checked the room).
    fn write_prefix(&mut self, prefix: u8) {
        let tail = self.tail();
        self.ring[tail] = prefix;
        self.used += 1;
    }

    /// Drops the oldest `count` bytes (they are queued).
    fn advance(&mut self, count: usize) {
        self.head = ((usize::from(self.head) + count) % RING_BYTES) as u16;
        self.used -= count as u16;
        if self.used == 0 {
            // Empty: start again at the front, so short lines rarely straddle the end.
            self.head = 0;
        }
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
    fn a_line_pushed_where_it_lies_comes_out_as_pushed_and_counts_against_the_budget() {
        let mut queue = InputQueue::new();
        assert!(queue.push_line(b"AT+X=1\r\n"));
        for _ in 0..3 {
            assert!(queue.push_line(&[b'A'; 256]));
        }
        // 8 + 3 * 256 bytes queued: a 249-byte line is one byte over the budget.
        assert!(!queue.push_line(&[b'B'; 249]));
        assert_eq!(queue.len(), 4);
        let Some(Entry::Line(first)) = queue.pop() else {
            panic!("the first line comes out first");
        };
        assert_eq!(&first[..], b"AT+X=1\r\n");
        assert!(queue.push_line(&[b'B'; 249]));
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

    #[test]
    fn a_prefix_in_the_last_byte_of_the_ring_and_its_line_at_the_front_read_back() {
        let mut queue = InputQueue::new();
        let filled = |byte: u8, len: usize| {
            let mut bytes = heapless::Vec::<u8, MAX_LINE>::new();
            bytes.resize(len, byte).unwrap();
            Entry::Line(bytes)
        };
        for byte in [b'A', b'B', b'C'] {
            queue.push(filled(byte, 256)).unwrap();
        }
        queue.pop();
        queue.push(filled(b'D', 256)).unwrap();
        queue.push(filled(b'E', 2)).unwrap();
        queue.pop();
        // Entries of 257 + 257 + 3 bytes from index 514: the ring's last byte is free, the
        // next prefix goes there and its line to the front.
        assert_eq!(queue.tail(), RING_BYTES - 1);
        assert!(queue.push_line(b"AT+F=1\r\n"));
        for (byte, len) in [(b'C', 256), (b'D', 256), (b'E', 2)] {
            assert_eq!(queue.pop(), Some(filled(byte, len)));
        }
        let Some(Entry::Line(last)) = queue.pop() else {
            panic!("the line behind the prefix in the last byte comes out");
        };
        assert_eq!(&last[..], b"AT+F=1\r\n");
        assert!(queue.is_empty());
    }

    #[test]
    fn rejected_entries_and_lines_of_every_length_keep_their_kind_and_length() {
        let mut queue = InputQueue::new();
        for length in SHORTEST..=MAX_LINE {
            let line = [b'x'; MAX_LINE];
            assert!(queue.push_line(&line[..length]));
            assert!(queue.push(Entry::Rejected).is_ok());
            let Some(Entry::Line(popped)) = queue.pop() else {
                panic!("a line of {length} bytes comes out as a line");
            };
            assert_eq!(popped.len(), length);
            assert_eq!(queue.pop(), Some(Entry::Rejected));
        }
        assert!(!queue.push_line(b"\n"), "shorter than a CR LF");
        assert!(queue.is_empty());
    }

    #[test]
    fn lines_that_straddle_the_end_of_the_ring_come_out_whole() {
        let mut queue = InputQueue::new();
        let mut counter = 0u8;
        let mut numbered = |len: usize| {
            let mut bytes = heapless::Vec::<u8, MAX_LINE>::new();
            for _ in 0..len {
                counter = counter.wrapping_add(1);
                bytes.push(counter).unwrap();
            }
            Entry::Line(bytes)
        };
        // Keep two lines queued while pushing more, so the ring wraps many times at
        // different offsets.
        let first = numbered(200);
        let mut waiting = std::collections::VecDeque::new();
        queue.push(first.clone()).unwrap();
        waiting.push_back(first);
        for round in 0..50 {
            let entry = if round % 7 == 3 {
                Entry::Rejected
            } else {
                numbered(100 + round * 3)
            };
            queue.push(entry.clone()).unwrap();
            waiting.push_back(entry);
            if waiting.len() > 2 {
                assert_eq!(queue.pop(), waiting.pop_front());
            }
        }
        while let Some(expected) = waiting.pop_front() {
            assert_eq!(queue.pop(), Some(expected));
        }
        assert_eq!(queue.pop(), None);
        assert!(queue.is_empty());
    }
}
