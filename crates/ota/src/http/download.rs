//! One ranged GET of an OTA image (`cloud.md` §4.5).

use super::response::{Piece, Response};
use super::HttpError;

/// No byte for this long fails the download with 202 (`cloud.md` §4.5).
pub const STALL_TIMEOUT_MS: u64 = 20_000;

/// Image bytes from one [`RangeDownload::feed`] call.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Input bytes consumed; feed the rest next.
    pub consumed: usize,
    /// Image bytes, at image offset [`RangeDownload::position`] before the
    /// call; empty when the input held only head or framing.
    pub data: &'a [u8],
    /// The image is complete: the caller closes the connection.
    pub complete: bool,
}

/// The client side of one GET for bytes `offset..size` of an image.
///
/// Feed it what the socket delivers; it hands back the image bytes in
/// order, starting at `offset`, whatever the server did with the `Range`
/// header (206 from `offset`, or 200 from 0 with the prefix skipped here).
#[derive(Debug, Clone)]
pub struct RangeDownload {
    response: Response,
    offset: u32,
    size: u32,
    /// Image offset of the next body byte the server sends.
    server_position: u64,
    /// Image offset of the next byte handed to the caller.
    position: u32,
    head_seen: bool,
    last_activity_ms: u64,
}

impl RangeDownload {
    /// A download of `offset..size` whose request was sent at `now_ms`.
    #[must_use]
    pub const fn new(offset: u32, size: u32, now_ms: u64) -> Self {
        Self {
            response: Response::new(),
            offset,
            size,
            server_position: 0,
            position: offset,
            head_seen: false,
            last_activity_ms: now_ms,
        }
    }

    /// Image offset of the next byte to be handed out.
    #[must_use]
    pub const fn position(&self) -> u32 {
        self.position
    }

    /// Whether every byte up to the size has been handed out.
    #[must_use]
    pub const fn is_complete(&self) -> bool {
        self.position == self.size
    }

    /// When the stall timeout fires if no byte arrives before.
    #[must_use]
    pub const fn deadline_ms(&self) -> u64 {
        self.last_activity_ms + STALL_TIMEOUT_MS
    }

    /// Fails with [`HttpError::Stalled`] once the deadline has passed.
    ///
    /// # Errors
    ///
    /// [`HttpError::Stalled`].
    pub fn check_stall(&self, now_ms: u64) -> Result<(), HttpError> {
        if now_ms >= self.deadline_ms() && !self.is_complete() {
            Err(HttpError::Stalled)
        } else {
            Ok(())
        }
    }

    /// Consumes a prefix of `input` (received at `now_ms`).
    ///
    /// # Errors
    ///
    /// Any [`HttpError`] but `Stalled`; the download is then over.
    pub fn feed<'a>(&mut self, input: &'a [u8], now_ms: u64) -> Result<Chunk<'a>, HttpError> {
        if !input.is_empty() {
            self.last_activity_ms = now_ms;
        }
        let mut consumed = 0;
        while consumed < input.len() && !self.is_complete() {
            let (used, piece) = self.response.feed(&input[consumed..])?;
            consumed += used;
            match piece {
                Piece::Nothing => {}
                Piece::Head(head) => {
                    self.accept_head(head)?;
                    self.head_seen = true;
                }
                Piece::Body(body) => {
                    let data = self.image_bytes(body);
                    if !data.is_empty() {
                        return Ok(self.chunk(consumed, data));
                    }
                }
                Piece::End => return Err(HttpError::Truncated),
            }
            if self.response.is_done() && !self.is_complete() {
                return Err(HttpError::Truncated);
            }
        }
        Ok(self.chunk(consumed, &[]))
    }

    /// The server closed the connection.
    ///
    /// # Errors
    ///
    /// [`HttpError::Truncated`] unless the image is complete.
    pub fn closed(&mut self) -> Result<(), HttpError> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(HttpError::Truncated)
        }
    }

    fn chunk<'a>(&self, consumed: usize, data: &'a [u8]) -> Chunk<'a> {
        Chunk {
            consumed,
            data,
            complete: self.is_complete(),
        }
    }

    fn accept_head(&mut self, head: super::Head) -> Result<(), HttpError> {
        if self.head_seen {
            return Err(HttpError::Malformed);
        }
        self.server_position = match head.status {
            206 if head.range_start() == Some(u64::from(self.offset)) => u64::from(self.offset),
            200 => 0,
            status => return Err(HttpError::Status(status)),
        };
        if head.encoded {
            return Err(HttpError::UnsupportedEncoding);
        }
        Ok(())
    }

    /// Drops the part of `body` before the offset and past the size (a file
    /// longer than announced is cut at the size; its MD5 then decides).
    fn image_bytes<'a>(&mut self, body: &'a [u8]) -> &'a [u8] {
        let start = self.server_position;
        self.server_position = start + body.len() as u64;
        let skip = u64::from(self.position)
            .saturating_sub(start)
            .min(body.len() as u64);
        let wanted = u64::from(self.size - self.position);
        let end = (skip + wanted).min(body.len() as u64);
        let data = &body[skip as usize..end as usize];
        self.position += data.len() as u32;
        data
    }
}
