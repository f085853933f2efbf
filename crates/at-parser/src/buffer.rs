//! The unframed receive buffer.
//!
//! A linear array with a read cursor: consuming a line only moves the cursor (O(1)), and the
//! unread bytes are moved to the front only when a `feed` would not fit otherwise, so every byte
//! is copied at most once per pass through the buffer.
//!
//! Finding a line's end must not rescan what an earlier search already covered: with 1-byte
//! reads a 250-byte line would otherwise be scanned 250 times. The buffer keeps a search
//! cursor, `scanned`, and resumes there, looking for the LF with `memchr`; unread bytes never change
//! once pushed, so what was searched stays searched until it is consumed.
//!
//! Bytes that do not fit are dropped (`at-engine.md` §3.5). The buffer remembers *where* they
//! were dropped (a "gap") so the framer can answer the line that lost them with `[E:04]`, and so a
//! CR before a gap and an LF after it are never mistaken for a terminator: bytes were lost between
//! them. A gap belongs to the line that is open at its position.

/// How many distinct gaps are remembered. More can only occur when the buffer overflows again
/// before the lines that already lost bytes were framed; the surplus gaps are merged (see
/// [`RxBuffer::push`]).
const GAP_SLOTS: usize = 8;

/// Receive buffer of `N` bytes with gap bookkeeping.
///
/// Indices are stored in 16 bits (`N` fits: the framer checks it): 6 bytes for the three
/// cursors and 17 for the gaps, not 24 and 72 of `usize`s, beside the bytes of the engine's
/// one-line buffer.
#[derive(Debug)]
pub(crate) struct RxBuffer<const N: usize> {
    bytes: [u8; N],
    /// Index of the first unread byte.
    start: u16,
    /// Index one past the last unread byte.
    end: u16,
    /// Absolute indices (into `bytes`) in ascending order: bytes were lost just before each one.
    gaps: heapless::Vec<u16, GAP_SLOTS, u8>,
    /// Absolute index: no LF in `start + 1..scanned` ends a terminator. Kept in
    /// `start..=end`.
    scanned: u16,
}

impl<const N: usize> RxBuffer<N> {
    pub(crate) const fn new() -> Self {
        const { assert!(N <= u16::MAX as usize, "the buffer's indices are u16") };
        Self {
            bytes: [0; N],
            start: 0,
            end: 0,
            gaps: heapless::Vec::new(),
            scanned: 0,
        }
    }

    /// Index of the first unread byte.
    #[inline]
    pub(crate) const fn start(&self) -> usize {
        self.start as usize
    }

    /// Index one past the last unread byte.
    #[inline(always)]
    pub(crate) const fn end(&self) -> usize {
        self.end as usize
    }

    /// Stores `byte` at index `end`, the buffer's end, if it is inside the array; the caller
    /// has checked that it needs no search (not an LF) and leaves the search cursor behind.
    #[inline(always)]
    pub(crate) fn store(&mut self, end: usize, byte: u8) -> bool {
        let Some(slot) = self.bytes.get_mut(end) else {
            return false;
        };
        *slot = byte;
        // Below `N`, which fits a u16.
        self.end = (end + 1) as u16;
        true
    }

    /// Number of unread bytes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.end - self.start)
    }

    /// The unread bytes.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[self.start()..self.end()]
    }

    /// Appends as many of `data` as fit and returns how many did; the rest is recorded as a gap.
    ///
    /// When all gap slots are taken, the bytes after the last gap are discarded too, which merges
    /// the new loss into that gap: the lines involved are answered `[E:04]` either way.
    #[inline]
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        if self.push_single(data) {
            return 1;
        }
        self.push_slice(data)
    }

    /// Appends as many of `data` as fit without dropping any and returns how many did.
    #[inline]
    pub(crate) fn offer(&mut self, data: &[u8]) -> usize {
        if self.push_single(data) {
            return 1;
        }
        let room = N - self.len();
        self.push_slice(&data[..data.len().min(room)])
    }

    /// Stores a one-byte read behind the unread bytes, if it is one and fits there.
    ///
    /// An interrupt-per-byte UART delivers one byte per read: stored with one bounds check.
    #[inline(always)]
    fn push_single(&mut self, data: &[u8]) -> bool {
        let [byte] = data else {
            return false;
        };
        let end = self.end();
        if end >= N {
            return false;
        }
        // A byte that is not an LF cannot end a terminator: when everything before it was
        // searched, it counts as searched too, and framing has nothing to look at.
        if self.scanned == self.end && *byte != b'\n' {
            self.scanned += 1;
        }
        self.bytes[end] = *byte;
        self.end += 1;
        true
    }

    /// [`push`](Self::push) past the one-byte path.
    #[inline]
    fn push_slice(&mut self, data: &[u8]) -> usize {
        // The common case: the read fits behind the unread bytes as they are.
        let end = self.end();
        if data.len() <= N - end {
            crate::scan::copy(&mut self.bytes[end..end + data.len()], data);
            self.end += data.len() as u16;
            return data.len();
        }
        self.push_compacting(data)
    }

    /// [`push`](Self::push) when the data does not fit behind the unread bytes.
    fn push_compacting(&mut self, data: &[u8]) -> usize {
        if self.start > 0 {
            self.compact();
        }
        let end = self.end();
        let taken = data.len().min(N - end);
        crate::scan::copy(&mut self.bytes[end..end + taken], &data[..taken]);
        self.end += taken as u16;
        if taken < data.len() {
            self.record_gap();
        }
        taken
    }

    fn record_gap(&mut self) {
        if self.gaps.last() == Some(&self.end) {
            return;
        }
        if self.gaps.push(self.end).is_err() {
            if let Some(&last) = self.gaps.last() {
                self.end = last;
                // The bytes given up may have been searched; their replacements are not.
                self.scanned = self.scanned.min(self.end);
            }
        }
    }

    /// Moves the unread bytes to the front of the array.
    fn compact(&mut self) {
        let start = self.start;
        if self.end > start {
            let unread = self.start()..self.end();
            self.bytes.copy_within(unread, 0);
        }
        self.end -= start;
        self.start = 0;
        self.scanned -= start;
        for gap in self.gaps.iter_mut() {
            *gap -= start;
        }
    }

    /// Drops the first `count` unread bytes, and the gaps strictly inside them. A gap right after
    /// them is kept: its lost bytes belong to whatever follows.
    #[inline]
    pub(crate) fn consume(&mut self, count: usize) {
        // At most `len()`, so below `N`.
        let count = count.min(self.len()) as u16;
        self.start += count;
        if self.start == self.end && self.gaps.is_empty() {
            // Everything was read and nothing lost: start again at the front, nothing to move.
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
            return;
        }
        let start = self.start;
        self.scanned = self.scanned.max(start);
        if !self.gaps.is_empty() {
            self.gaps.retain(|gap| *gap >= start);
        }
        if self.start == self.end {
            self.compact();
        }
    }

    /// The only unread byte, when exactly one is unread and no bytes were lost (then
    /// [`clear`](Self::clear) consumes it).
    #[inline]
    pub(crate) fn single(&self) -> Option<u8> {
        if self.end.wrapping_sub(self.start) == 1 && self.gaps.is_empty() {
            self.bytes.get(self.start()).copied()
        } else {
            None
        }
    }

    /// Whether bytes were lost right before the unread byte at `index`.
    pub(crate) fn gap_at(&self, index: usize) -> bool {
        self.gaps
            .iter()
            .any(|gap| usize::from(*gap) == self.start() + index)
    }

    /// Whether bytes were lost anywhere before the unread byte at `index` (a line of `index` bytes
    /// that starts at the read cursor lost bytes).
    pub(crate) fn gap_before(&self, index: usize) -> bool {
        self.gaps
            .iter()
            .any(|gap| usize::from(*gap) < self.start() + index)
    }

    /// Whether every unread byte was searched for a terminator already (none was found).
    #[inline]
    pub(crate) fn searched(&self) -> bool {
        self.scanned == self.end
    }

    /// Length of the first line (through its CR LF) if it ends within `limit` bytes. A CR and an
    /// LF separated by a gap are not a terminator.
    ///
    /// Resumes where the previous search stopped, so over a line's life every byte is searched
    /// once however many reads deliver it.
    #[inline]
    pub(crate) fn find_terminator(&mut self, limit: usize) -> Option<usize> {
        let start = self.start();
        let stop = self.end().min(start.saturating_add(limit));
        // An LF at the read cursor has no CR before it in this line.
        let mut from = usize::from(self.scanned).max(start + 1);
        while from < stop {
            let Some(offset) = crate::scan::find(b'\n', &self.bytes[from..stop]) else {
                break;
            };
            let line_feed = from + offset;
            // Below `end`, so it fits a u16.
            let index = line_feed as u16;
            if self.bytes[line_feed - 1] == b'\r' && !self.gaps.contains(&index) {
                self.scanned = index;
                return Some(line_feed + 1 - start);
            }
            from = line_feed + 1;
        }
        // At most `end`.
        self.scanned = self.scanned.max(stop as u16);
        None
    }

    /// Whether an LF is among the bytes not searched yet; moves the search cursor over the
    /// bytes before the first such LF (they cannot end a terminator), never past it, so the
    /// LF stays to be found by the next search.
    #[inline]
    pub(crate) fn line_feed_unsearched(&mut self) -> bool {
        if self.scanned == self.end {
            return false;
        }
        match crate::scan::find(b'\n', &self.bytes[usize::from(self.scanned)..self.end()]) {
            Some(offset) => {
                // Below `end`.
                self.scanned += offset as u16;
                true
            }
            None => {
                self.scanned = self.end;
                false
            }
        }
    }

    /// Discards everything.
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.scanned = 0;
        self.gaps.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::RxBuffer;

    #[test]
    fn push_reports_accepted_bytes_and_records_the_gap() {
        let mut buffer = RxBuffer::<4>::new();
        assert_eq!(buffer.push(b"abcdef"), 4);
        assert_eq!(buffer.as_slice(), b"abcd");
        assert!(buffer.gap_at(4));
        assert!(!buffer.gap_before(4));
        assert!(buffer.gap_before(5));
    }

    #[test]
    fn consume_then_push_compacts_and_keeps_bytes_in_order() {
        let mut buffer = RxBuffer::<4>::new();
        buffer.push(b"abc");
        buffer.consume(2);
        assert_eq!(buffer.push(b"xyz"), 3);
        assert_eq!(buffer.as_slice(), b"cxyz");
    }

    #[test]
    fn gap_after_a_consumed_line_moves_to_the_next_line() {
        let mut buffer = RxBuffer::<4>::new();
        buffer.push(b"A\r\nBC");
        assert!(buffer.gap_at(4));
        buffer.consume(3);
        assert_eq!(buffer.as_slice(), b"B");
        assert!(buffer.gap_at(1));
        buffer.consume(1);
        assert_eq!(buffer.len(), 0);
        assert!(buffer.gap_at(0));
    }

    #[test]
    fn terminator_split_by_a_gap_is_not_a_terminator() {
        let mut buffer = RxBuffer::<2>::new();
        buffer.push(b"x\rY");
        buffer.consume(1);
        buffer.push(b"\n");
        assert_eq!(buffer.as_slice(), b"\r\n");
        assert_eq!(buffer.find_terminator(usize::MAX), None);
    }

    #[test]
    fn search_resumes_where_it_stopped_and_pairs_a_cr_searched_before() {
        let mut buffer = RxBuffer::<16>::new();
        buffer.push(b"\nab\r");
        assert_eq!(buffer.find_terminator(usize::MAX), None);
        assert_eq!(buffer.scanned, 4);
        buffer.push(b"\n");
        assert_eq!(buffer.find_terminator(usize::MAX), Some(5));
        buffer.consume(5);
        assert_eq!(buffer.scanned, 0);
        buffer.push(b"\r\n");
        assert_eq!(buffer.find_terminator(usize::MAX), Some(2));
    }

    #[test]
    fn a_limited_search_resumes_past_its_limit_later() {
        let mut buffer = RxBuffer::<16>::new();
        buffer.push(b"abcdef\r\n");
        assert_eq!(buffer.find_terminator(4), None);
        assert_eq!(buffer.find_terminator(8), Some(8));
    }

    #[test]
    fn terminator_is_found_only_within_the_limit() {
        let mut buffer = RxBuffer::<8>::new();
        buffer.push(b"abc\r\n");
        assert_eq!(buffer.find_terminator(4), None);
        assert_eq!(buffer.find_terminator(5), Some(5));
    }

    #[test]
    fn gap_slots_overflow_merges_into_the_last_gap() {
        let mut buffer = RxBuffer::<16>::new();
        assert_eq!(buffer.push(&[0; 17]), 16);
        // Each round frees one byte at the front and overflows again, adding one gap.
        while !buffer.gaps.is_full() {
            buffer.consume(1);
            assert_eq!(buffer.push(&[1, 1]), 1);
        }
        assert_eq!(buffer.len(), 16);
        buffer.consume(1);
        assert_eq!(buffer.push(&[2, 2]), 1);
        // The byte after the last gap was given up so that no loss goes unrecorded.
        assert_eq!(buffer.len(), 15);
        assert!(buffer.gap_at(15));
        assert!(buffer.gaps.is_full());
    }
}
