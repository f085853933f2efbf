//! The async adapter: a [`TlsConnection`] owns a transport and the caller's two buffers and
//! drives the pure record layer over them.
//!
//! Incoming records are read straight into the receive buffer and decrypted in place, so
//! application data is handed out from that buffer without a copy; outgoing records are
//! sealed and written in pieces from where their plaintext lies (`send.rs`), so the
//! connection has no send buffer. The receive side keeps its progress in the connection,
//! not in the future, which is what makes [`TlsConnection::read`] safe to cancel.

use core::ops::Range;
use embedded_io::ErrorKind;
use embedded_io_async::{Read, Write};
use rand_core::{CryptoRng, RngCore};

mod receive;
mod send;

pub use send::Plaintext;

use crate::error::{alert, Error, RecordError};
use crate::record::{
    write_record_header, BulkCipher, CipherState, ContentType, BLOCK_LENGTH, HEADER_LENGTH,
    MAX_PLAINTEXT_LENGTH, PLAINTEXT_OFFSET,
};

/// Alert level `warning`.
pub(crate) const LEVEL_WARNING: u8 = 1;
/// Alert level `fatal`.
pub(crate) const LEVEL_FATAL: u8 = 2;

/// A range of the receive buffer in two `u16`s, not two `usize`s (the connection uses at
/// most 64 KiB of the buffer, [`TlsConnection::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u16,
    pub(crate) end: u16,
}

impl Span {
    /// The span of `range`, whose ends lie in the used part of the buffer (≤ `u16::MAX`).
    pub(crate) fn new(range: Range<usize>) -> Self {
        Span {
            start: range.start as u16,
            end: range.end as u16,
        }
    }

    pub(crate) fn range(self) -> Range<usize> {
        usize::from(self.start)..usize::from(self.end)
    }

    pub(crate) fn len(self) -> usize {
        self.range().len()
    }

    pub(crate) fn is_empty(self) -> bool {
        self.start >= self.end
    }
}

/// Where the session stands; decides what `read`/`write` may still do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionState {
    /// The handshake runs: it keeps its state at the end of the receive buffer, so records
    /// are received in front of it.
    Handshaking,
    /// The handshake finished, records flowing.
    Open,
    /// The peer sent `close_notify`: reads return end-of-stream, writes fail.
    Closed,
    /// A fatal error or alert ended the session.
    Ended,
}

/// Why receiving a record failed, before it is mapped to the caller's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiveFailure {
    Io(ErrorKind),
    /// The transport ended cleanly between records.
    EndOfStream,
    /// The transport ended in the middle of a record.
    Truncated,
    Record(RecordError),
}

impl From<RecordError> for ReceiveFailure {
    fn from(error: RecordError) -> Self {
        Self::Record(error)
    }
}

/// A TLS 1.2 PSK session over the transport `T`, using `R` for record IVs.
///
/// Created by [`TlsConnection::connect`]. Implements [`embedded_io_async::Read`] and
/// [`embedded_io_async::Write`] so protocols above (MQTT) can use it as their transport.
pub struct TlsConnection<'buf, T, R> {
    pub(crate) transport: T,
    pub(crate) rng: R,
    pub(crate) read_buffer: &'buf mut [u8],
    pub(crate) encrypter: Option<CipherState>,
    pub(crate) decrypter: Option<CipherState>,
    /// Bytes of the record being received that are already in `read_buffer` (after the
    /// partial handshake message kept in front of it, if any). The buffer's positions are
    /// kept in `u16`s: the connection uses at most 64 KiB of it ([`TlsConnection::new`]).
    pub(crate) received: u16,
    /// Decrypted bytes in `read_buffer` not yet handed out.
    pub(crate) plaintext: Span,
    pub(crate) state: SessionState,
}

impl<'buf, T, R> TlsConnection<'buf, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    /// Reads decrypted application data into `buffer` and returns how many bytes were
    /// copied; `Ok(0)` means the peer closed the session (`close_notify` or end of stream).
    ///
    /// # Errors
    ///
    /// Any [`Error`] ends the session; a fatal alert is sent to the peer first when the
    /// error was detected locally (bad MAC, malformed or oversized record).
    ///
    /// # Cancellation Safety
    ///
    /// Cancel-safe: partial records stay in the receive buffer and the next call resumes.
    pub async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Error> {
        if buffer.is_empty() {
            return Ok(0);
        }
        let count = buffer.len().min(self.fill_plaintext().await?);
        buffer[..count].copy_from_slice(&self.plaintext()[..count]);
        self.consume(count);
        Ok(count)
    }

    /// Waits until decrypted application data is available where it was decrypted, in the
    /// receive buffer, and returns how many bytes: [`plaintext`](Self::plaintext) shows them
    /// and [`consume`](Self::consume) gives them up. The zero-copy form of
    /// [`read`](Self::read): a caller that parses the bytes where they lie needs no buffer
    /// of its own. `Ok(0)` means the peer closed the session.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    ///
    /// # Cancellation Safety
    ///
    /// Cancel-safe, as [`read`](Self::read).
    // One await for the record and one for an alert: what a record means is decided by a
    // plain function (`after_record`), so the alerts are not awaited in nested futures of
    // their own; this future is part of every read of the connection's owner.
    pub async fn fill_plaintext(&mut self) -> Result<usize, Error> {
        loop {
            if !self.plaintext.is_empty() {
                return Ok(self.plaintext.len());
            }
            match self.state {
                SessionState::Open => {}
                SessionState::Closed => return Ok(0),
                SessionState::Handshaking | SessionState::Ended => return Err(Error::SessionEnded),
            }
            let received = self.read_record_at(0).await;
            let (alert, outcome) = self.after_record(received);
            if let Some((level, description)) = alert {
                self.send_alert(level, description).await;
            }
            if let Some(outcome) = outcome {
                return outcome;
            }
        }
    }

    /// The decrypted application data not yet consumed (empty until
    /// [`fill_plaintext`](Self::fill_plaintext) completed).
    pub fn plaintext(&self) -> &[u8] {
        &self.read_buffer[self.plaintext.range()]
    }

    /// Gives up the first `count` bytes of [`plaintext`](Self::plaintext) (all of them if
    /// `count` is larger).
    pub fn consume(&mut self, count: usize) {
        // At most the span's length, which fits its `u16`s.
        self.plaintext.start += count.min(self.plaintext.len()) as u16;
    }

    /// Encrypts and sends one record of `data` (at most 2^14 bytes of it) and returns how many
    /// bytes were taken.
    ///
    /// # Errors
    ///
    /// [`Error::SessionEnded`] after a close or fatal error; [`Error::Io`] when the
    /// transport fails, which also ends the session.
    ///
    /// # Cancellation Safety
    ///
    /// Not cancel-safe: a record may be partly sent, and the session must then be dropped.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        let count = data.len().min(MAX_PLAINTEXT_LENGTH);
        self.send_from(&data[..count], count).await
    }

    /// The bulk cipher the server chose, once the handshake has installed keys.
    pub fn cipher(&self) -> Option<BulkCipher> {
        self.encrypter.as_ref().map(CipherState::cipher)
    }

    /// Flushes the transport.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the transport fails.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.transport
            .flush()
            .await
            .map_err(|error| Error::Io(embedded_io::Error::kind(&error)))
    }

    /// Sends `close_notify` (best effort) and returns the transport, which the caller then
    /// shuts down or drops.
    pub async fn close(mut self) -> T {
        self.close_notify().await;
        self.transport
    }

    /// Sends `close_notify` (best effort) and ends the session in place: the borrowing form
    /// of [`close`](Self::close), for a caller that drops the connection afterwards and
    /// should not move it (a moved connection is stored again in the caller's future).
    pub async fn close_notify(&mut self) {
        if self.state == SessionState::Open {
            self.send_alert(LEVEL_WARNING, alert::CLOSE_NOTIFY).await;
        }
        self.state = SessionState::Ended;
    }

    /// Sends an alert, ignoring failures: it is a courtesy on a path that is ending anyway.
    pub(crate) async fn send_alert(&mut self, level: u8, description: u8) {
        let offset = self.plaintext_offset();
        if let Some(slot) = self.read_buffer.get_mut(offset..offset + 2) {
            slot.copy_from_slice(&[level, description]);
            if self.send_front(ContentType::Alert, 2).await.is_ok() {
                let _ = self.transport.flush().await;
            }
        }
    }

    /// Seals (when a cipher is active) and sends the `length` bytes of plaintext placed at
    /// [`Self::plaintext_offset`] in the receive buffer: the handshake's messages and the
    /// alerts, which are sent only while the receive buffer holds nothing still needed
    /// (before the server's next flight, after a record was handled, or when the session
    /// ends). Sealed in place and written from there: no piece buffer in this future, which
    /// the receive path (its alerts) and the handshake keep.
    pub(crate) async fn send_front(
        &mut self,
        content_type: ContentType,
        length: usize,
    ) -> Result<(), Error> {
        // Never into the handshake's state at the buffer's end.
        let capacity = self.receive_capacity();
        let record = &mut self.read_buffer[..capacity];
        let total = match &mut self.encrypter {
            Some(state) => {
                let mut iv = [0; BLOCK_LENGTH];
                self.rng.fill_bytes(&mut iv);
                state.seal(content_type, record, length, iv)?
            }
            None => {
                let total = HEADER_LENGTH + length;
                if length > MAX_PLAINTEXT_LENGTH || total > record.len() {
                    return Err(Error::RecordOverflow);
                }
                write_record_header(record, content_type, length);
                total
            }
        };
        let mut written = 0;
        while written < total {
            match self
                .transport
                .write(&self.read_buffer[written..total])
                .await
            {
                Ok(0) => return Err(Error::Io(ErrorKind::WriteZero)),
                Ok(count) => written += count,
                Err(error) => return Err(Error::Io(embedded_io::Error::kind(&error))),
            }
        }
        Ok(())
    }

    /// Where outgoing plaintext goes in front of the receive buffer for
    /// [`Self::send_front`]: after the header, and after the explicit IV once records are
    /// encrypted.
    pub(crate) fn plaintext_offset(&self) -> usize {
        if self.encrypter.is_some() {
            PLAINTEXT_OFFSET
        } else {
            HEADER_LENGTH
        }
    }

    /// What a received record (or the failure to receive one) means, once the session's
    /// state is updated: the alert to send first, if any, and what
    /// [`fill_plaintext`](Self::fill_plaintext) returns (`None`: read on).
    ///
    /// A locally detected failure (bad MAC, malformed or oversized record, an unexpected
    /// message) ends the session with a fatal alert; `close_notify` is answered with ours and
    /// reads as the end of the stream; a warning alert is skipped, a fatal one ends the
    /// session; a `HelloRequest` is declined (renegotiation is not supported).
    #[allow(clippy::type_complexity)]
    fn after_record(
        &mut self,
        received: Result<(ContentType, Range<usize>), ReceiveFailure>,
    ) -> (Option<(u8, u8)>, Option<Result<usize, Error>>) {
        let (content_type, range) = match received {
            Ok(record) => record,
            Err(ReceiveFailure::EndOfStream) => {
                self.state = SessionState::Closed;
                return (None, Some(Ok(0)));
            }
            Err(failure) => {
                self.state = SessionState::Ended;
                return match failure {
                    ReceiveFailure::Io(kind) => (None, Some(Err(Error::Io(kind)))),
                    ReceiveFailure::Record(error) => {
                        (Some((LEVEL_FATAL, error.alert())), Some(Err(error.into())))
                    }
                    _ => (None, Some(Err(Error::Io(ErrorKind::ConnectionReset)))),
                };
            }
        };
        match (content_type, &self.read_buffer[range.clone()]) {
            (ContentType::ApplicationData, _) => {
                self.plaintext = Span::new(range);
                (None, None)
            }
            (ContentType::Alert, &[_, alert::CLOSE_NOTIFY]) => {
                // RFC 5246 §7.2.1: answer with our own close_notify and stop.
                self.state = SessionState::Closed;
                (Some((LEVEL_WARNING, alert::CLOSE_NOTIFY)), Some(Ok(0)))
            }
            (ContentType::Alert, &[LEVEL_WARNING, _]) => (None, None),
            (ContentType::Alert, &[_, description]) => {
                self.state = SessionState::Ended;
                (None, Some(Err(Error::Alert(description))))
            }
            (ContentType::Alert, _) => {
                self.state = SessionState::Ended;
                (
                    Some((LEVEL_FATAL, alert::DECODE_ERROR)),
                    Some(Err(Error::Decode)),
                )
            }
            (ContentType::Handshake, &[0, 0, 0, 0]) => {
                // A HelloRequest: renegotiation is not supported, so decline politely.
                (Some((LEVEL_WARNING, alert::NO_RENEGOTIATION)), None)
            }
            _ => {
                self.state = SessionState::Ended;
                (
                    Some((LEVEL_FATAL, alert::UNEXPECTED_MESSAGE)),
                    Some(Err(Error::UnexpectedMessage)),
                )
            }
        }
    }
}

impl<T, R> embedded_io_async::ErrorType for TlsConnection<'_, T, R> {
    type Error = Error;
}

impl<T, R> embedded_io_async::Read for TlsConnection<'_, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Error> {
        TlsConnection::read(self, buffer).await
    }
}

impl<T, R> embedded_io_async::Write for TlsConnection<'_, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    async fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        TlsConnection::write(self, data).await
    }

    async fn flush(&mut self) -> Result<(), Error> {
        TlsConnection::flush(self).await
    }
}
