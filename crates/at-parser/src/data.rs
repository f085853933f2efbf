//! The data phase of AT+TCMQTTPUBL, AT+TCMQTTPUBRAW and AT+TCCERTADD (`at-engine.md` §7).
//!
//! Every byte received after the command line's `\r\n` belongs to the data phase, including
//! bytes that arrived before the prompt: the barrier kept them raw in the receive buffer, so the
//! phase simply starts reading at the read cursor. The framer counts bytes and never rewrites
//! them (PUBL's escape neutralisation is the command's business). Timers belong to the caller:
//! it restarts its 20 s inactivity timer on every fed byte, starts the 1 s terminator grace when
//! [`DataStatus::NeedMore`] reports the whole payload, and calls [`Framer::abort_data`] on expiry.
//!
//! Only a `+` can start the cancel pattern (and only Ctrl+Z ends a certificate early), so the
//! payload is copied in runs found with `memchr`; the byte-wise state machine runs only from a
//! `+` until the pattern is ruled out again, and over the two terminator bytes.

use core::fmt;

use crate::framer::{Framer, Mode};

/// Which data-mode command owns the data phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DataKind {
    /// AT+TCMQTTPUBL / AT+TCMQTTPUBRAW: exactly `len` bytes, then the terminator `\r\n`.
    Publish,
    /// AT+TCCERTADD: exactly `len` bytes without terminator; a Ctrl+Z byte (0x1A) ends the
    /// payload early and is consumed, not stored.
    Certificate,
}

/// Progress of the data phase, as returned by [`Framer::poll_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DataStatus {
    /// More input is needed. `received` payload bytes are in the caller's buffer; when it equals
    /// `len` of a [`DataKind::Publish`] phase, only the terminator is missing (1 s grace).
    NeedMore {
        /// Payload bytes stored so far.
        received: usize,
    },
    /// The payload is complete: `len` bytes are in the caller's buffer (fewer than requested
    /// only for a certificate ended by Ctrl+Z). Line framing has resumed.
    Complete {
        /// Payload bytes stored.
        len: usize,
    },
    /// The data phase was aborted: answer `CME(204)` and use nothing. Line framing has resumed
    /// (after a bad or late terminator, behind a discard through the next `\r\n`).
    Aborted(DataAbort),
}

/// Why a data phase was aborted (each is answered `CME(204)`, `at-engine.md` §7.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DataAbort {
    /// The five bytes `+++\r\n` occurred in the data-phase bytes (payload or terminator).
    Cancelled,
    /// The two bytes after a publish payload were not `\r\n`; input is discarded through the
    /// next `\r\n` or until the caller reports 1 s of silence.
    BadTerminator,
    /// The caller's inactivity timer or terminator grace expired ([`Framer::abort_data`]).
    Timeout,
}

impl fmt::Display for DataAbort {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            DataAbort::Cancelled => "data phase cancelled by +++",
            DataAbort::BadTerminator => "data phase not terminated by CR LF",
            DataAbort::Timeout => "data phase timed out",
        })
    }
}

impl core::error::Error for DataAbort {}

/// Reads up to this long take [`Framer::poll_data`]'s inline path.
const SHORT_READ: usize = 8;

/// The pattern that cancels a data phase wherever it occurs (§7.6).
const CANCEL: &[u8; 5] = b"+++\r\n";

/// How a data phase ended: its final [`DataStatus`] without the length. A complete payload's
/// length is always the phase's `received` (a publish's reached `len` before its terminator, a
/// certificate's reached `len` or ended at Ctrl+Z), so the framer keeps one byte or two for
/// it, not a status with a `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Complete,
    Aborted(DataAbort),
}

/// State of an open data phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataPhase {
    pub(crate) kind: DataKind,
    len: usize,
    received: usize,
    /// Terminator bytes matched so far (publish only, after the payload): at most 2.
    terminator: u8,
    /// Length of the longest suffix of the phase's bytes that is a prefix of [`CANCEL`]; kept
    /// across calls so the pattern is found across chunk boundaries. At most 5.
    cancel: u8,
}

/// What one data-phase byte did.
enum Step {
    Continue,
    Ended(DataStatus),
    /// The byte is not part of the phase: it starts the discard.
    Rejected(DataStatus),
}

impl DataPhase {
    pub(crate) const fn new(len: usize, kind: DataKind) -> Self {
        Self {
            kind,
            len,
            received: 0,
            terminator: 0,
            cancel: 0,
        }
    }

    fn advance_cancel(&mut self, byte: u8) -> bool {
        self.cancel = if byte == CANCEL[usize::from(self.cancel)] {
            self.cancel + 1
        } else if byte != b'+' {
            0
        } else if self.cancel == 3 {
            // "+++" followed by '+': the last three bytes are still "+++".
            3
        } else {
            1
        };
        usize::from(self.cancel) == CANCEL.len()
    }

    fn step(&mut self, byte: u8, out: &mut [u8]) -> Step {
        if self.advance_cancel(byte) {
            return Step::Ended(DataStatus::Aborted(DataAbort::Cancelled));
        }
        if self.received < self.len {
            if self.kind == DataKind::Certificate && byte == 0x1A {
                return Step::Ended(DataStatus::Complete { len: self.received });
            }
            // A caller buffer shorter than `len` loses the excess rather than panicking.
            if let Some(slot) = out.get_mut(self.received) {
                *slot = byte;
            }
            self.received += 1;
            return self.after_payload_byte();
        }
        if byte != b"\r\n"[usize::from(self.terminator)] {
            return Step::Rejected(DataStatus::Aborted(DataAbort::BadTerminator));
        }
        self.terminator += 1;
        if self.terminator == 2 {
            Step::Ended(DataStatus::Complete { len: self.len })
        } else {
            Step::Continue
        }
    }

    /// Copies the payload bytes at the start of `bytes` that cannot touch the cancel pattern
    /// or end a certificate early (no `+`, no Ctrl+Z, no pattern in progress) into `out`, and
    /// returns how many it took. Such bytes leave the pattern state at zero, exactly as
    /// [`step`](Self::step) would.
    #[inline]
    fn copy_plain(&mut self, bytes: &[u8], out: &mut [u8]) -> usize {
        if self.cancel != 0 || self.received >= self.len {
            return 0;
        }
        let room = &bytes[..bytes.len().min(self.len - self.received)];
        let plain = match self.kind {
            DataKind::Publish => crate::scan::find(b'+', room),
            DataKind::Certificate => crate::scan::find_either(b'+', 0x1A, room),
        }
        .unwrap_or(room.len());
        // A caller buffer shorter than `len` loses the excess rather than panicking.
        let stored = plain.min(out.len().saturating_sub(self.received));
        if stored > 0 {
            let slots = &mut out[self.received..self.received + stored];
            crate::scan::copy(slots, &room[..stored]);
        }
        self.received += plain;
        plain
    }

    /// Payload bytes still to come.
    pub(crate) const fn remaining(&self) -> usize {
        self.len.saturating_sub(self.received)
    }

    fn after_payload_byte(&self) -> Step {
        if self.received == self.len && self.kind == DataKind::Certificate {
            Step::Ended(DataStatus::Complete { len: self.len })
        } else {
            Step::Continue
        }
    }
}

impl<const N: usize> Framer<N> {
    /// Opens the data phase for exactly `len` payload bytes (clears the barrier, §7).
    ///
    /// Bytes already buffered are the start of the phase. A `len` of 0 completes a certificate
    /// at once and makes a publish wait for its terminator only.
    pub fn begin_data(&mut self, len: usize, kind: DataKind) {
        self.data_outcome = None;
        self.phase = DataPhase::new(len, kind);
        self.mode = Mode::Data;
        self.settle();
    }

    /// True while a data phase is open.
    pub fn in_data_mode(&self) -> bool {
        self.mode == Mode::Data
    }

    /// Whether the open data phase should be polled now rather than leave its buffered bytes
    /// waiting ([`Pending::PayloadDue`](crate::Pending::PayloadDue)): the buffer is full, the
    /// payload may be complete (or only its terminator is missing), an LF arrived (the last
    /// byte of `+++\r\n`), or it is a certificate's (Ctrl+Z ends it).
    #[inline(always)]
    pub(crate) fn payload_due(&mut self) -> bool {
        let phase = &self.phase;
        let buffered = self.buffer.len();
        if buffered == N || phase.received + buffered >= phase.len {
            return true;
        }
        phase.kind == DataKind::Certificate || self.buffer.line_feed_unsearched()
    }

    /// Advances the data phase over the buffered bytes, storing payload byte `i` at `out[i]`.
    ///
    /// Pass the same buffer of at least `len` bytes on every call. Bytes after the end of the
    /// phase stay buffered for line framing. Once the phase has ended, this returns its final
    /// status again; before any phase it returns `NeedMore { received: 0 }`.
    #[inline]
    pub fn poll_data(&mut self, out: &mut [u8]) -> DataStatus {
        // A short read in mid-payload (down to one byte per read) is stored here without the
        // call and set-up of the general loop: no `+` or Ctrl+Z, no pattern in progress, and
        // the payload stays incomplete.
        if self.mode == Mode::Data {
            // One byte per read (an interrupt-per-byte UART): no slice to walk.
            if let Some(byte) = self.buffer.single() {
                let phase = &mut self.phase;
                let received = phase.received + 1;
                let plain = byte != b'+' && byte != 0x1A;
                if plain && phase.cancel == 0 && received < phase.len {
                    if let Some(slot) = out.get_mut(phase.received) {
                        *slot = byte;
                        phase.received = received;
                        self.buffer.clear();
                        self.settle();
                        return DataStatus::NeedMore { received };
                    }
                }
            }
            let phase = &mut self.phase;
            let unread = self.buffer.as_slice();
            let received = phase.received + unread.len();
            let plain = || !unread.iter().any(|byte| matches!(byte, b'+' | 0x1A));
            if unread.len() <= SHORT_READ && phase.cancel == 0 && received < phase.len && plain() {
                if let Some(slots) = out.get_mut(phase.received..received) {
                    crate::scan::copy(slots, unread);
                    phase.received = received;
                    self.buffer.consume(unread.len());
                    self.settle();
                    return DataStatus::NeedMore { received };
                }
            }
        }
        self.poll_data_general(out)
    }

    /// [`poll_data`](Self::poll_data) past its fast path.
    #[inline(never)]
    fn poll_data_general(&mut self, out: &mut [u8]) -> DataStatus {
        if self.mode != Mode::Data {
            return match self.data_outcome {
                Some(Ending::Complete) => DataStatus::Complete {
                    len: self.phase.received,
                },
                Some(Ending::Aborted(reason)) => DataStatus::Aborted(reason),
                None => DataStatus::NeedMore { received: 0 },
            };
        }
        let phase = &mut self.phase;
        let unread = self.buffer.as_slice();
        let mut consumed = phase.copy_plain(unread, out);
        // The common case, a read in mid-payload: all of it was plain payload and more is due.
        if consumed == unread.len() && phase.received < phase.len {
            let received = phase.received;
            self.buffer.consume(consumed);
            self.settle();
            return DataStatus::NeedMore { received };
        }
        let step = loop {
            // A certificate is complete at `len` bytes (at once for `len == 0`).
            if phase.kind == DataKind::Certificate && phase.received == phase.len {
                break Step::Ended(DataStatus::Complete { len: phase.len });
            }
            let Some(&byte) = unread.get(consumed) else {
                break Step::Continue;
            };
            match phase.step(byte, out) {
                Step::Continue => consumed += 1,
                Step::Ended(status) => {
                    consumed += 1;
                    break Step::Ended(status);
                }
                rejected @ Step::Rejected(_) => break rejected,
            }
            consumed += phase.copy_plain(&unread[consumed..], out);
        };
        match step {
            Step::Continue => {
                let received = phase.received;
                self.buffer.consume(consumed);
                self.settle();
                DataStatus::NeedMore { received }
            }
            Step::Ended(status) => self.end_data(consumed, status, Mode::Lines),
            Step::Rejected(status) => {
                self.end_data(consumed, status, Mode::Discard { after_cr: false })
            }
        }
    }

    fn end_data(&mut self, consumed: usize, status: DataStatus, next: Mode) -> DataStatus {
        self.buffer.consume(consumed);
        self.mode = next;
        self.data_outcome = Some(match status {
            DataStatus::Aborted(reason) => Ending::Aborted(reason),
            DataStatus::Complete { .. } | DataStatus::NeedMore { .. } => {
                debug_assert_eq!(
                    status,
                    DataStatus::Complete {
                        len: self.phase.received
                    }
                );
                Ending::Complete
            }
        });
        self.settle();
        status
    }

    /// Aborts the data phase because the caller's timer expired (20 s inactivity, or the 1 s
    /// terminator grace). Call [`poll_data`](Self::poll_data) first so buffered bytes count.
    ///
    /// If a publish payload was complete and only its terminator is missing, input is then
    /// discarded through the next `\r\n` (or until [`finish_discard`](Self::finish_discard));
    /// otherwise line framing resumes at once. Does nothing when no data phase is open.
    pub fn abort_data(&mut self) {
        if self.mode != Mode::Data {
            return;
        }
        let phase = self.phase;
        let awaiting_terminator = phase.kind == DataKind::Publish && phase.received == phase.len;
        let next = if awaiting_terminator {
            Mode::Discard {
                after_cr: phase.terminator == 1,
            }
        } else {
            Mode::Lines
        };
        self.end_data(0, DataStatus::Aborted(DataAbort::Timeout), next);
    }
}
