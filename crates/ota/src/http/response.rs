//! A streaming HTTP/1.1 response reader over the caller's receive buffer.
//!
//! Bytes are fed as they arrive, split anywhere. The head is parsed byte by
//! byte without being buffered: only the values of the four headers that
//! matter (`Content-Length`, `Content-Range`, `Transfer-Encoding`,
//! `Content-Encoding`) are kept, in a 48-byte scratch, and unknown headers
//! are skipped as they pass. Body bytes are handed back as slices of the
//! caller's input, so they stay where the socket put them until the caller
//! writes them to flash. Framing: `Content-Length`, chunked, or connection
//! close.

use super::chunked::{chunk_framing, Framing};
use super::HttpError;

/// Longest header value kept (`bytes 4294967295-4294967295/4294967296` fits).
const VALUE_CAPACITY: usize = 48;
/// Longest header name compared; longer names are none of ours.
const NAME_CAPACITY: usize = 20;
/// A head longer than this is refused (a server that never ends its head).
const MAXIMUM_HEAD: u32 = 16 * 1024;

/// A number of the head that was not given: `u64::MAX`, which the head's numbers never
/// take (`parse_decimal` refuses it), so an absent number costs no flag beside it (the head
/// lives in every download's state, held across its flash writes).
const ABSENT: u64 = u64::MAX;

/// The parts of the head a client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// `Content-Length`, [`ABSENT`] if not given (ignored when chunked).
    content_length: u64,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// First byte position of `Content-Range: bytes <first>-<last>/<size>`, [`ABSENT`] if
    /// not given.
    range_start: u64,
    /// A `Content-Encoding` other than `identity` was given.
    pub encoded: bool,
}

impl Head {
    /// `Content-Length`, if given (ignored when chunked).
    #[must_use]
    pub fn content_length(&self) -> Option<u64> {
        (self.content_length != ABSENT).then_some(self.content_length)
    }

    /// First byte position of `Content-Range: bytes <first>-<last>/<size>`, if given.
    #[must_use]
    pub fn range_start(&self) -> Option<u64> {
        (self.range_start != ABSENT).then_some(self.range_start)
    }
}

/// What one call to [`Response::feed`] produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Nothing yet (the input went into the head or framing).
    Nothing,
    /// The head is complete.
    Head(Head),
    /// Body bytes, a slice of the input.
    Body(&'a [u8]),
    /// The body is complete (length reached or last chunk read).
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    Unknown,
    ContentLength,
    ContentRange,
    TransferEncoding,
    ContentEncoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `HTTP/1.x ddd reason`: index into the line.
    StatusLine(u8),
    /// Reason phrase, up to the line end.
    Reason,
    /// The start of a header line, or the empty line ending the head.
    LineStart,
    /// After a CR at a line start.
    HeadEnd,
    Name,
    Value(Header),
    /// Body framed by length, chunks or close.
    Body(Framing),
    Done,
}

/// Streaming reader of one response.
#[derive(Debug, Clone)]
pub struct Response {
    phase: Phase,
    head: Head,
    head_bytes: u32,
    scratch: [u8; VALUE_CAPACITY],
    scratch_length: u8,
    /// The current line ended with CR, an LF must follow.
    expect_lf: bool,
}

impl Default for Response {
    fn default() -> Self {
        Self::new()
    }
}

impl Response {
    /// A reader waiting for the status line.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            phase: Phase::StatusLine(0),
            head: Head {
                status: 0,
                content_length: ABSENT,
                chunked: false,
                range_start: ABSENT,
                encoded: false,
            },
            head_bytes: 0,
            scratch: [0; VALUE_CAPACITY],
            scratch_length: 0,
            expect_lf: false,
        }
    }

    /// Whether the body has ended by its framing.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Consumes a prefix of `input` and returns how much, with at most one
    /// piece. Call again with the rest until it is empty.
    ///
    /// # Errors
    ///
    /// [`HttpError::Malformed`] for a response that breaks HTTP/1.1 syntax;
    /// the reader must then be dropped.
    pub fn feed<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Piece<'a>), HttpError> {
        let mut used = 0;
        while used < input.len() {
            match self.phase {
                Phase::Body(framing) => return self.body(framing, &input[used..], used),
                Phase::Done => return Ok((used, Piece::Nothing)),
                _ => {}
            }
            let byte = input[used];
            used += 1;
            self.head_bytes += 1;
            if self.head_bytes > MAXIMUM_HEAD {
                return Err(HttpError::Malformed);
            }
            if let Some(head) = self.head_byte(byte)? {
                return Ok((used, Piece::Head(head)));
            }
        }
        Ok((used, Piece::Nothing))
    }

    /// The connection closed: ends a close-delimited body.
    ///
    /// # Errors
    ///
    /// [`HttpError::Truncated`] when the head or a framed body was cut short.
    pub fn closed(&mut self) -> Result<(), HttpError> {
        match self.phase {
            Phase::Body(Framing::UntilClose) | Phase::Done => {
                self.phase = Phase::Done;
                Ok(())
            }
            _ => Err(HttpError::Truncated),
        }
    }

    /// Handles one byte of the head; returns the head once it is complete.
    fn head_byte(&mut self, byte: u8) -> Result<Option<Head>, HttpError> {
        if self.expect_lf {
            self.expect_lf = false;
            return if byte == b'\n' {
                self.line_ended()
            } else {
                Err(HttpError::Malformed)
            };
        }
        match self.phase {
            Phase::StatusLine(index) => self.status_byte(index, byte)?,
            Phase::Reason => match byte {
                b'\r' => self.expect_lf = true,
                b'\n' => return self.line_ended(),
                _ => {}
            },
            Phase::LineStart | Phase::HeadEnd => match byte {
                b'\r' => {
                    self.phase = Phase::HeadEnd;
                    self.expect_lf = true;
                }
                b'\n' => {
                    self.phase = Phase::HeadEnd;
                    return self.line_ended();
                }
                b' ' | b'\t' | b':' => return Err(HttpError::Malformed),
                _ => {
                    self.phase = Phase::Name;
                    self.scratch_length = 0;
                    self.push_name(byte);
                }
            },
            Phase::Name => match byte {
                b':' => {
                    let header = self.header_named();
                    self.scratch_length = 0;
                    self.phase = Phase::Value(header);
                }
                b'\r' | b'\n' | b' ' | b'\t' => return Err(HttpError::Malformed),
                _ => self.push_name(byte),
            },
            Phase::Value(header) => match byte {
                b'\r' => self.expect_lf = true,
                b'\n' => return self.line_ended(),
                _ if header == Header::Unknown => {}
                _ => self.push_value(header, byte)?,
            },
            Phase::Body(_) | Phase::Done => {}
        }
        Ok(None)
    }

    fn status_byte(&mut self, index: u8, byte: u8) -> Result<(), HttpError> {
        const PREFIX: &[u8] = b"HTTP/1.";
        let index_usize = usize::from(index);
        let valid = match index_usize {
            0..=6 => byte == PREFIX[index_usize],
            7 => byte.is_ascii_digit(),
            8 => byte == b' ',
            9..=11 => {
                self.head.status = self.head.status * 10 + u16::from(byte.wrapping_sub(b'0'));
                byte.is_ascii_digit()
            }
            _ => matches!(byte, b' ' | b'\r' | b'\n'),
        };
        if !valid {
            return Err(HttpError::Malformed);
        }
        self.phase = match (index_usize, byte) {
            (12, b'\r') => {
                self.expect_lf = true;
                Phase::Reason
            }
            (12, b'\n') => {
                self.phase = Phase::Reason;
                self.line_ended()?;
                return Ok(());
            }
            (12, _) => Phase::Reason,
            _ => Phase::StatusLine(index + 1),
        };
        Ok(())
    }

    fn push_name(&mut self, byte: u8) {
        let length = usize::from(self.scratch_length);
        if length < NAME_CAPACITY {
            self.scratch[length] = byte.to_ascii_lowercase();
        }
        self.scratch_length = self.scratch_length.saturating_add(1);
    }

    fn header_named(&self) -> Header {
        match self.scratch.get(..usize::from(self.scratch_length)) {
            Some(b"content-length") => Header::ContentLength,
            Some(b"content-range") => Header::ContentRange,
            Some(b"transfer-encoding") => Header::TransferEncoding,
            Some(b"content-encoding") => Header::ContentEncoding,
            _ => Header::Unknown,
        }
    }

    fn push_value(&mut self, header: Header, byte: u8) -> Result<(), HttpError> {
        let length = usize::from(self.scratch_length);
        if length == 0 && matches!(byte, b' ' | b'\t') {
            return Ok(()); // leading whitespace
        }
        match self.scratch.get_mut(length) {
            Some(slot) => {
                *slot = byte.to_ascii_lowercase();
                self.scratch_length += 1;
                Ok(())
            }
            // Encodings too long to be `chunked`/`identity` are simply other
            // encodings; lengths and ranges that long are nonsense.
            None if matches!(header, Header::TransferEncoding | Header::ContentEncoding) => {
                self.scratch[0] = b'?';
                Ok(())
            }
            None => Err(HttpError::Malformed),
        }
    }

    /// A line of the head ended: store its header, or finish the head.
    fn line_ended(&mut self) -> Result<Option<Head>, HttpError> {
        match self.phase {
            Phase::Reason => self.phase = Phase::LineStart,
            Phase::Value(header) => {
                self.header_ended(header)?;
                self.phase = Phase::LineStart;
            }
            Phase::HeadEnd => return self.head_ended().map(Some),
            _ => return Err(HttpError::Malformed),
        }
        Ok(None)
    }

    fn header_ended(&mut self, header: Header) -> Result<(), HttpError> {
        let value = self.scratch[..usize::from(self.scratch_length)].trim_ascii_end();
        match header {
            Header::Unknown => {}
            Header::ContentLength => {
                let length = parse_decimal(value).ok_or(HttpError::Malformed)?;
                if self
                    .head
                    .content_length()
                    .is_some_and(|known| known != length)
                {
                    return Err(HttpError::Malformed);
                }
                self.head.content_length = length;
            }
            Header::ContentRange => {
                // `bytes */<size>` (a 416's form) or garbage leaves no start;
                // the client then refuses the 206 it came with.
                self.head.range_start = value
                    .strip_prefix(b"bytes ")
                    .and_then(|range| {
                        let dash = range.iter().position(|&byte| byte == b'-')?;
                        parse_decimal(range[..dash].trim_ascii())
                    })
                    .unwrap_or(ABSENT);
            }
            Header::TransferEncoding => {
                if value != b"chunked" {
                    return Err(HttpError::UnsupportedEncoding);
                }
                self.head.chunked = true;
            }
            Header::ContentEncoding => self.head.encoded |= value != b"identity",
        }
        Ok(())
    }

    fn head_ended(&mut self) -> Result<Head, HttpError> {
        let framing = if self.head.chunked {
            Framing::ChunkSize {
                value: 0,
                digits: 0,
            }
        } else {
            match self.head.content_length() {
                Some(0) => {
                    self.phase = Phase::Done;
                    return Ok(self.head);
                }
                Some(length) => Framing::Length(length),
                None => Framing::UntilClose,
            }
        };
        self.phase = Phase::Body(framing);
        Ok(self.head)
    }

    /// Consumes body bytes from `input` (which starts at `already` of the fed slice).
    fn body<'a>(
        &mut self,
        framing: Framing,
        input: &'a [u8],
        already: usize,
    ) -> Result<(usize, Piece<'a>), HttpError> {
        match framing {
            Framing::UntilClose => Ok((already + input.len(), Piece::Body(input))),
            Framing::Length(remaining) | Framing::ChunkData(remaining) => {
                let take = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                let left = remaining - take as u64;
                self.phase = match (framing, left) {
                    (Framing::Length(_), 0) => Phase::Done,
                    (Framing::Length(_), _) => Phase::Body(Framing::Length(left)),
                    (_, 0) => Phase::Body(Framing::ChunkDataEnd { seen_cr: false }),
                    _ => Phase::Body(Framing::ChunkData(left)),
                };
                Ok((already + take, Piece::Body(&input[..take])))
            }
            _ => {
                let mut used = 0;
                while let (Some(&byte), Phase::Body(framing)) = (input.get(used), self.phase) {
                    used += 1;
                    self.phase = chunk_framing(framing, byte)?.map_or(Phase::Done, Phase::Body);
                    if self.phase == Phase::Done {
                        return Ok((already + used, Piece::End));
                    }
                    if matches!(self.phase, Phase::Body(Framing::ChunkData(_))) {
                        break;
                    }
                }
                Ok((already + used, Piece::Nothing))
            }
        }
    }
}

/// A non-empty run of decimal digits that fits a `u64`.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits
        .iter()
        .try_fold(0u64, |value, &digit| {
            if digit.is_ascii_digit() {
                value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
            } else {
                None
            }
        })
        // `u64::MAX` marks an absent number in the head: out of range like a larger one.
        .filter(|&value| value != ABSENT)
}
