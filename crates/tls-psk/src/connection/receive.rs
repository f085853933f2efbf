//! The receive path of the record layer: one whole record read into the receive buffer
//! (resuming after a cancelled read) and opened in place. One await, on the transport, in one
//! loop over header and fragment: this future is nested in every read of the connection's
//! owner, so no level of its own per stage.

use core::ops::Range;
use embedded_io_async::{Read, Write};
use rand_core::{CryptoRng, RngCore};

use super::{ReceiveFailure, SessionState, Span, TlsConnection};
use crate::error::RecordError;
use crate::record::{
    parse_record_header, ContentType, RecordHeader, HEADER_LENGTH, MAX_PLAINTEXT_LENGTH,
};

impl<T, R> TlsConnection<'_, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    /// Reads one whole record into the receive buffer after its first `base` bytes, which
    /// stay untouched (the handshake keeps the start of a message that spans records there),
    /// decrypting it when a cipher is active, and returns its type and where its plaintext
    /// lies in the buffer.
    ///
    /// `received` counts the bytes of the record already there, so a cancelled read resumes
    /// where it stopped. One await, on the transport, in one loop over header and fragment:
    /// this future is nested in every read of its owner, so no level of its own per stage.
    pub(crate) async fn read_record_at(
        &mut self,
        base: usize,
    ) -> Result<(ContentType, Range<usize>), ReceiveFailure> {
        self.plaintext = Span::new(0..0);
        let header_end = base + HEADER_LENGTH;
        let mut header = None;
        let mut target = header_end;
        loop {
            if target > self.receive_capacity() {
                return Err(RecordError::Overflow.into());
            }
            while base + usize::from(self.received) < target {
                let count = self
                    .transport
                    .read(&mut self.read_buffer[base + usize::from(self.received)..target])
                    .await
                    .map_err(|error| ReceiveFailure::Io(embedded_io::Error::kind(&error)))?;
                if count == 0 {
                    return Err(if self.received == 0 {
                        ReceiveFailure::EndOfStream
                    } else {
                        ReceiveFailure::Truncated
                    });
                }
                // A record's bytes lie in the buffer's used part (≤ `u16::MAX`).
                self.received += count as u16;
            }
            match header {
                Some(header) => return self.open_record(header, header_end, target),
                None => {
                    let parsed = parse_record_header(&self.read_buffer[base..header_end])?;
                    target = header_end + parsed.length;
                    header = Some(parsed);
                }
            }
        }
    }

    /// How much of the receive buffer records may take: all of it, except the handshake's
    /// state at its end while the handshake runs.
    pub(crate) fn receive_capacity(&self) -> usize {
        match self.state {
            SessionState::Handshaking => self
                .read_buffer
                .len()
                .saturating_sub(crate::connect::HANDSHAKE_STATE_LENGTH),
            _ => self.read_buffer.len(),
        }
    }

    /// Decrypts the whole record at `header_end..total` in place (when a cipher is active).
    pub(super) fn open_record(
        &mut self,
        header: RecordHeader,
        header_end: usize,
        total: usize,
    ) -> Result<(ContentType, Range<usize>), ReceiveFailure> {
        self.received = 0;
        let fragment = &mut self.read_buffer[header_end..total];
        let range = match &mut self.decrypter {
            Some(state) => {
                let inner = state.open(header.content_type, fragment)?;
                inner.start + header_end..inner.end + header_end
            }
            None if header.length > MAX_PLAINTEXT_LENGTH => {
                return Err(RecordError::Overflow.into())
            }
            None => header_end..total,
        };
        Ok((header.content_type, range))
    }
}
