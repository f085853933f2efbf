//! Line framing (`at-engine.md` §3) and the data-mode barrier (§6).
//!
//! The framer is the only owner of the received bytes. It never blocks and never reads a clock:
//! the caller feeds what the UART delivered and pulls events. Keeping the bytes raw until they
//! are asked for is what makes the barrier possible: after a data-mode command line, the
//! following bytes may be its payload, so nothing is framed until the engine says whether the
//! command entered data mode ([`Framer::begin_data`]) or not ([`Framer::release_barrier`]).

use crate::buffer::RxBuffer;
use crate::data::{DataKind, DataPhase, Ending};
use crate::{MAX_LINE, RX_BUFFER};

/// One framing event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "no heap to box into; the line is moved once, into the engine's input queue"
)]
pub enum Framed {
    /// A complete command line, including its trailing `\r\n` (at most [`MAX_LINE`] bytes).
    Line(heapless::Vec<u8, MAX_LINE>),
    /// An empty line (`\r\n` alone): ignored, no echo, no reply (§3.3).
    Empty,
    /// A line longer than [`MAX_LINE`], or one that lost bytes to a full receive buffer: answer
    /// `[E:04]` without echo (§3.2, §3.5).
    Rejected,
}

/// One framing event with the line where it lies in the receive buffer
/// ([`Framer::next_line_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramedRef<'a> {
    /// A complete command line, including its trailing `\r\n`.
    Line(&'a [u8]),
    /// An empty line: ignored.
    Empty,
    /// An over-long line, or one that lost bytes: answer `[E:04]` without echo.
    Rejected,
}

impl FramedRef<'_> {
    /// The event with the line copied out.
    pub fn to_owned(self) -> Framed {
        match self {
            // Cannot fail: a line is at most MAX_LINE bytes.
            FramedRef::Line(line) => heapless::Vec::from_slice(line)
                .map(Framed::Line)
                .unwrap_or(Framed::Rejected),
            FramedRef::Empty => Framed::Empty,
            FramedRef::Rejected => Framed::Rejected,
        }
    }
}

/// What the bytes fed so far call for ([`Framer::receive`]): the receiver's next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Nothing now: the bytes continue a line, or wait behind the data-mode barrier.
    Nothing,
    /// Call [`Framer::next_line`] until it returns `None`.
    Lines,
    /// A data phase is open and the bytes may wait in the buffer (plain mid-payload bytes):
    /// only note when they arrived, for the inactivity timer.
    Payload,
    /// A data phase is open and [`Framer::poll_data`] should run now: the bytes may end it
    /// (complete the payload, cancel it, end a certificate), the payload is complete and only
    /// its terminator is missing, or the buffer is full. Note when they arrived too.
    PayloadDue,
    /// The discard after an aborted terminator runs: call [`Framer::next_line`] (a `\r\n`
    /// ends it) and restart the 1 s of silence that ends it otherwise.
    Discard,
}

/// What the framer does with the bytes at the read cursor.
// An explicit tag byte: checked on every read, it should be one compare, not the decoding of a
// niche in `Discard`'s flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// Ordinary line framing.
    Lines,
    /// The current line passed [`MAX_LINE`] bytes: dropping bytes through the next `\r\n`, then
    /// yielding [`Framed::Rejected`].
    Overlong,
    /// A data phase was aborted on its terminator: dropping bytes through the next `\r\n`
    /// silently, or until the caller reports 1 s of silence (§7.5). `after_cr` is set when the
    /// last dropped byte was a CR, so an LF arriving now completes the terminator.
    Discard { after_cr: bool },
    /// A data-mode command line was yielded; nothing is framed until the engine decides.
    Barrier,
    /// The data phase is open (§7); its state is [`Framer::phase`].
    Data,
}

/// Receive-side framer: owns the unframed receive buffer of `N` bytes.
///
/// `N` should hold a full line plus the largest data phase ([`RX_BUFFER`], the default); smaller
/// sizes work (tests use them) but treat a line filling the whole buffer as over-long.
///
/// Feed it bytes with [`feed`](Self::feed) and pull lines with [`next_line`](Self::next_line);
/// during a data phase pull payload with [`poll_data`](Self::poll_data) instead.
#[derive(Debug)]
pub struct Framer<const N: usize = RX_BUFFER> {
    pub(crate) buffer: RxBuffer<N>,
    pub(crate) mode: Mode,
    /// State of the data phase while `mode` is [`Mode::Data`]. Kept out of the mode so that the
    /// mode is a one-byte tag, tested on every read.
    pub(crate) phase: DataPhase,
    /// How the last data phase ended, repeated by `poll_data` once it has (`data::Ending`:
    /// its final status without the length, which the phase keeps).
    pub(crate) data_outcome: Option<Ending>,
    /// [`receive`](Self::receive)'s one-byte path: a byte that is not an LF, stored at a buffer
    /// index below this, calls for no more than [`quiet`](Self::quiet) (see
    /// [`settle`](Self::settle)). Two bytes, in what was the struct's padding: `N` fits
    /// (checked in [`new`](Self::new)).
    quiet_end: u16,
    /// What such a byte calls for in the current mode: nothing, or a note of its arrival time
    /// during a data phase.
    quiet: Pending,
}

impl<const N: usize> Default for Framer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Framer<N> {
    /// Creates an empty framer in line mode.
    pub const fn new() -> Self {
        const {
            assert!(
                N <= u16::MAX as usize,
                "the framer's buffer indices are u16"
            )
        };
        let mut framer = Self {
            buffer: RxBuffer::new(),
            mode: Mode::Lines,
            phase: DataPhase::new(0, DataKind::Publish),
            data_outcome: None,
            quiet_end: 0,
            quiet: Pending::Nothing,
        };
        framer.settle();
        framer
    }

    /// Appends received bytes and returns how many were accepted.
    ///
    /// Bytes that do not fit in the `N`-byte buffer are dropped; the line they belong to is
    /// answered [`Framed::Rejected`] when its terminator arrives (§3.5). Nothing is framed here,
    /// so the caller may feed several reads before pulling events.
    #[inline]
    pub fn feed(&mut self, bytes: &[u8]) -> usize {
        let taken = self.buffer.push(bytes);
        self.settle();
        taken
    }

    /// Appends as many received bytes as fit without dropping any (the caller keeps the rest
    /// until the buffer has room again: back-pressure) and says what the bytes fed so far call
    /// for: the receiver's next step.
    ///
    /// A read that only continues a line or a payload costs no framing search and no poll of
    /// the data phase; when it is one byte (an interrupt-per-byte UART) and not an LF, it is
    /// stored with two compares against a threshold the framer keeps up to date as its mode
    /// and read cursor change, instead of deciding again from the mode on every read.
    ///
    /// A caller that polls the data phase only on [`Pending::PayloadDue`] sees every
    /// completion, abort and full buffer at the read that caused it; plain payload bytes wait
    /// in the buffer meanwhile, so it notes when each read arrived itself (on
    /// [`Pending::Payload`] too), for the inactivity timer.
    ///
    /// An empty `bytes` stores nothing and only asks.
    #[inline(always)]
    pub fn receive(&mut self, bytes: &[u8]) -> (usize, Pending) {
        match self.receive_quiet(bytes) {
            Some(pending) => (1, pending),
            None => self.receive_general(bytes),
        }
    }

    /// [`receive`](Self::receive)'s one-byte path alone: stores a one-byte read that calls for
    /// nothing more than [`Pending::Nothing`] or [`Pending::Payload`] and returns that, or
    /// stores nothing and returns `None` (then call `receive`). A receiver whose UART delivers
    /// a byte per read tests this first, so that its loop does not also check what was taken.
    #[inline(always)]
    pub fn receive_quiet(&mut self, bytes: &[u8]) -> Option<Pending> {
        let [byte] = *bytes else {
            return None;
        };
        let end = self.buffer.end();
        // An LF may end a terminator or `+++\r\n`: decided by `receive`.
        if end < usize::from(self.quiet_end) && byte != b'\n' && self.buffer.store(end, byte) {
            return Some(self.quiet);
        }
        None
    }

    /// [`receive`](Self::receive) past its one-byte path.
    #[inline(never)]
    fn receive_general(&mut self, bytes: &[u8]) -> (usize, Pending) {
        let start = self.buffer.start();
        let taken = self.buffer.offer(bytes);
        let pending = self.pending();
        // Storing moved the unread bytes to the front of the buffer: the threshold moves too.
        if self.buffer.start() != start {
            self.settle();
        }
        if pending == Pending::PayloadDue {
            // Due until polled, whatever follows (`poll_data` settles again).
            self.quiet_end = 0;
        }
        (taken, pending)
    }

    /// What the bytes fed so far call for, decided from the mode and a few compares.
    ///
    /// In line mode the bytes not searched yet are searched for an LF here, so that a read
    /// that cannot complete a line costs no framing call; the search resumes there.
    #[inline]
    fn pending(&mut self) -> Pending {
        match self.mode {
            Mode::Lines
                if !self.buffer.line_feed_unsearched() && self.buffer.len() < MAX_LINE.min(N) =>
            {
                Pending::Nothing
            }
            Mode::Lines | Mode::Overlong => Pending::Lines,
            Mode::Data => {
                if self.payload_due() {
                    Pending::PayloadDue
                } else {
                    Pending::Payload
                }
            }
            Mode::Discard { .. } => Pending::Discard,
            Mode::Barrier => Pending::Nothing,
        }
    }

    /// Recomputes [`receive`](Self::receive)'s one-byte threshold from the mode, the read
    /// cursor and the data phase; every method that changes one of them ends here.
    ///
    /// Below the threshold a byte that is not an LF, stored at the buffer's end, leaves what
    /// [`pending`](Self::pending) would answer at [`quiet`](Self::quiet): in line mode the line
    /// stays shorter than [`MAX_LINE`]; in a publish phase the buffer does not fill and the
    /// payload stays incomplete; behind the barrier nothing is framed whatever arrives. Other
    /// modes (certificate phase, discards) decide on every byte.
    // Const so that `new` can start from it.
    #[inline]
    pub(crate) const fn settle(&mut self) {
        let start = self.buffer.start();
        // Line mode first, without a jump table: it follows every framed line.
        if let Mode::Lines = self.mode {
            self.quiet_end = smaller((start + smaller(MAX_LINE, N)).saturating_sub(1), N) as u16;
            self.quiet = Pending::Nothing;
            return;
        }
        let (room, quiet) = match self.mode {
            Mode::Lines => (smaller(MAX_LINE, N), Pending::Nothing),
            Mode::Data if matches!(self.phase.kind, DataKind::Publish) => {
                (smaller(self.phase.remaining(), N), Pending::Payload)
            }
            Mode::Barrier => (N + 1, Pending::Nothing),
            Mode::Data | Mode::Overlong | Mode::Discard { .. } => (0, Pending::Nothing),
        };
        // The byte lands at index `end` and leaves `end + 1 - start` bytes buffered, which
        // must stay below `room`; `end < N` keeps it inside the array.
        let end_bound = smaller((start + room).saturating_sub(1), N);
        // Fits: `N` fits a u16 (checked in `new`).
        self.quiet_end = end_bound as u16;
        self.quiet = quiet;
    }

    /// Number of received bytes not yet framed or consumed by a data phase.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// How many bytes [`feed`](Self::feed) accepts now without dropping any.
    ///
    /// A caller that applies back-pressure (stops reading its input while this is 0 and feeds
    /// at most this much) never loses a byte, whatever `N`: the buffer then needs to hold one
    /// line, not the bytes kept raw behind a data-mode barrier.
    pub fn room(&self) -> usize {
        N - self.buffer.len()
    }

    /// Returns the next framing event, or `None` when more input is needed, while the data-mode
    /// barrier is set, or while a data phase is open.
    ///
    /// Rules (§3): a line ends at the first CR immediately followed by LF; a lone CR or LF is
    /// data; a line is at most [`MAX_LINE`] bytes including `\r\n` (so 254 bytes of text are
    /// accepted and 255 are not). Once 256 bytes have accumulated without a terminator, input is
    /// discarded through the next `\r\n`, and that `\r\n` yields one [`Framed::Rejected`].
    ///
    /// Yielding a line that starts with `AT+TCMQTTPUBL=`, `AT+TCMQTTPUBRAW=` or `AT+TCCERTADD=`
    /// whose byte after `=` is not `?` sets the [barrier](Self::barrier).
    #[inline]
    pub fn next_line(&mut self) -> Option<Framed> {
        self.next_line_with(|framed| framed.to_owned())
    }

    /// [`next_line`](Self::next_line) with the line lent to `take` where it lies, and consumed
    /// when `take` returns: a caller that copies it somewhere (the engine's input queue) copies
    /// it once, instead of receiving a 256-byte vector that is moved on every return.
    #[inline]
    pub fn next_line_with<R>(&mut self, take: impl FnOnce(FramedRef<'_>) -> R) -> Option<R> {
        self.offer_line(|framed| (take(framed), true))
    }

    /// [`next_line_with`](Self::next_line_with) for a caller that cannot always take the line
    /// now: `take` answers its result and whether it took the line. A line not taken stays
    /// where it lies, without the barrier it would set, and is lent again by the next call,
    /// so a caller that must wait (the engine's `[BUSY]` reply, for room in its output queue)
    /// keeps no copy of it. A [`FramedRef::Rejected`] of an over-long line is gone whatever
    /// `take` answers: its bytes were dropped as they came.
    #[inline]
    pub fn offer_line<R>(&mut self, take: impl FnOnce(FramedRef<'_>) -> (R, bool)) -> Option<R> {
        // Most reads end inside a line or a payload: decided here, on every read, without the
        // call and set-up of a full search.
        match self.mode {
            Mode::Barrier | Mode::Data => return None,
            Mode::Lines if self.buffer.searched() && self.buffer.len() < MAX_LINE.min(N) => {
                return None
            }
            _ => {}
        }
        let Some(length) = self.frame_next() else {
            // The search may have changed the mode (an over-long line) or dropped bytes.
            self.settle();
            return None;
        };
        let framed = self.classify(length);
        let (result, taken) = take(framed);
        if taken {
            self.buffer.consume(length);
        } else {
            // Framed from line mode (`frame_next`), which only `classify` may have left.
            self.mode = Mode::Lines;
        }
        self.settle();
        Some(result)
    }

    /// [`next_line`](Self::next_line) past its fast path: the length of the next event's
    /// bytes at the read cursor (0 for a rejected over-long line, already dropped).
    #[inline(never)]
    fn frame_next(&mut self) -> Option<usize> {
        loop {
            match self.mode {
                Mode::Barrier | Mode::Data => return None,
                Mode::Overlong => {
                    if !self.discard_through_terminator() {
                        return None;
                    }
                    self.mode = Mode::Lines;
                    return Some(0);
                }
                Mode::Discard { .. } => {
                    if !self.run_discard() {
                        return None;
                    }
                }
                Mode::Lines => match self.buffer.find_terminator(MAX_LINE) {
                    Some(length) => return Some(length),
                    // A buffer smaller than a line can never complete one that fills it.
                    None if self.buffer.len() >= MAX_LINE.min(N) => self.mode = Mode::Overlong,
                    None => return None,
                },
            }
        }
    }

    /// Classifies the first `length` bytes (a line through its `\r\n`; none for an over-long
    /// line already dropped) and sets the barrier after a data-mode command line.
    #[inline]
    fn classify(&mut self, length: usize) -> FramedRef<'_> {
        if length == 0 || self.buffer.gap_before(length) {
            return FramedRef::Rejected;
        }
        if length == 2 {
            return FramedRef::Empty;
        }
        // `find_terminator(MAX_LINE)` bounds the length.
        let line = &self.buffer.as_slice()[..length.min(MAX_LINE)];
        if sets_barrier(line) {
            self.mode = Mode::Barrier;
        }
        FramedRef::Line(line)
    }

    /// Runs the discard after an aborted terminator over the buffered bytes; returns true (and
    /// resumes line mode) when it ended at a `\r\n`.
    fn run_discard(&mut self) -> bool {
        let Mode::Discard { after_cr } = self.mode else {
            return false;
        };
        if self.buffer.len() == 0 {
            return false;
        }
        let late_line_feed = self.buffer.as_slice()[0] == b'\n' && !self.buffer.gap_at(0);
        if after_cr && late_line_feed {
            self.buffer.consume(1);
            self.mode = Mode::Lines;
            return true;
        }
        if self.discard_through_terminator() {
            self.mode = Mode::Lines;
            return true;
        }
        self.mode = Mode::Discard {
            after_cr: self.buffer.len() > 0,
        };
        false
    }

    /// Drops bytes through the next `\r\n` and returns true, or, without a terminator, drops
    /// everything except a trailing CR (which may pair with the next LF) and returns false.
    fn discard_through_terminator(&mut self) -> bool {
        if let Some(length) = self.buffer.find_terminator(usize::MAX) {
            self.buffer.consume(length);
            return true;
        }
        let unread = self.buffer.as_slice();
        let keep = usize::from(unread.last() == Some(&b'\r'));
        self.buffer.consume(unread.len() - keep);
        false
    }

    /// True while the data-mode barrier is set (§6): the last yielded line was the set form of
    /// AT+TCMQTTPUBL, AT+TCMQTTPUBRAW or AT+TCCERTADD, and the engine has neither started its
    /// data phase nor released the barrier.
    pub fn barrier(&self) -> bool {
        self.mode == Mode::Barrier
    }

    /// Reports that the command that set the barrier finished without entering data mode (or
    /// never ran, e.g. it was answered `[BUSY]`): framing resumes with the bytes kept raw.
    /// Does nothing when the barrier is not set.
    pub fn release_barrier(&mut self) {
        if self.mode == Mode::Barrier {
            self.mode = Mode::Lines;
            self.settle();
        }
    }

    /// True while the caller-timed discard after an aborted terminator is running (§7.5): the
    /// caller should call [`finish_discard`](Self::finish_discard) after 1 s without input.
    pub fn discarding(&self) -> bool {
        matches!(self.mode, Mode::Discard { .. })
    }

    /// Ends the discard after an aborted terminator because 1 s passed without input: every
    /// byte buffered so far arrived before that silence and is dropped, unless a `\r\n` among
    /// them already ended the discard. Does nothing when no such discard is running.
    pub fn finish_discard(&mut self) {
        if !self.discarding() {
            return;
        }
        // A `\r\n` already buffered ends the discard there; otherwise the rest goes too.
        if !self.run_discard() {
            self.buffer.clear();
            self.mode = Mode::Lines;
        }
        self.settle();
    }

    /// Discards everything buffered and returns to line mode (used at reboot).
    pub fn clear(&mut self) {
        self.buffer.clear();
        self.mode = Mode::Lines;
        self.data_outcome = None;
        self.settle();
    }
}

/// The smaller of two sizes (`Ord::min` is not const).
const fn smaller(first: usize, second: usize) -> usize {
    if first < second {
        first
    } else {
        second
    }
}

/// Whether a line is the set form of a data-mode command (§6).
pub fn sets_barrier(line: &[u8]) -> bool {
    const PREFIXES: [&[u8]; 3] = [b"AT+TCMQTTPUBL=", b"AT+TCMQTTPUBRAW=", b"AT+TCCERTADD="];
    PREFIXES.iter().any(|prefix| {
        line.strip_prefix(*prefix)
            .is_some_and(|rest| rest.first() != Some(&b'?'))
    })
}
