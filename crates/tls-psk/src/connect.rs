//! The client handshake (RFC 5246 §7.3 with RFC 4279 PSK key exchange), driven over the
//! connection's record layer.
//!
//! The flight sequence is fixed for a PSK client, so the handshake is a straight line of
//! awaits rather than a general state machine: send `ClientHello`; receive `ServerHello`,
//! an optional `ServerKeyExchange` (identity hint) and `ServerHelloDone`; send
//! `ClientKeyExchange`, `ChangeCipherSpec` and `Finished`; receive `ChangeCipherSpec` and
//! `Finished`. Any deviation ends the handshake with a fatal alert.

use core::future::Future;
use core::ops::Range;
use embedded_io_async::{Read, Write};
use rand_core::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;

use crate::connection::{
    ReceiveFailure, SessionState, Span, TlsConnection, LEVEL_FATAL, LEVEL_WARNING,
};
use crate::error::{alert, Error, HandshakeError};
use crate::handshake::{
    parse_handshake, parse_server_key_exchange, HandshakeType, HANDSHAKE_HEADER_LENGTH,
};
use crate::prf::MAX_PSK_LENGTH;
use crate::record::{ContentType, HEADER_LENGTH};
use crate::transcript;

mod secrets;

pub use secrets::HANDSHAKE_STATE_LENGTH;
use secrets::{split_for_handshake, transcript_of, Side};

/// What the client authenticates with.
#[derive(Debug, Clone, Copy)]
pub struct PskConfig<'a> {
    /// The PSK identity sent in `ClientKeyExchange` (Tencent: `<product id><device name>`).
    pub identity: &'a [u8],
    /// The pre-shared key, 1 to 64 bytes (Tencent: Base64-decoded device secret).
    pub key: &'a [u8],
    /// Host name for SNI; `None`, or an IP literal, sends no SNI (RFC 6066 §3).
    pub server_name: Option<&'a str>,
}

/// What the client authenticates with, as the owner keeps it: the handshake borrows the
/// owner's record and reads each field when it needs it, so no copy of the identity and key
/// (nor a [`PskConfig`] of slices into them) lives in the handshake's future.
pub trait PskCredentials {
    /// The PSK identity sent in `ClientKeyExchange`.
    fn identity(&self) -> &[u8];
    /// The pre-shared key, 1 to 64 bytes.
    fn key(&self) -> &[u8];
    /// Host name for SNI; `None`, or an IP literal, sends no SNI (RFC 6066 §3).
    fn server_name(&self) -> Option<&str>;
}

impl PskCredentials for PskConfig<'_> {
    fn identity(&self) -> &[u8] {
        self.identity
    }

    fn key(&self) -> &[u8] {
        self.key
    }

    fn server_name(&self) -> Option<&str> {
        self.server_name
    }
}

impl<'buf, T, R> TlsConnection<'buf, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    /// Runs a TLS 1.2 PSK handshake over `transport` and returns the established session.
    ///
    /// `read_buffer` must hold the largest record the server sends (see the crate docs for
    /// sizes). The handshake's own messages (the `ClientHello`, about 60 bytes plus the server
    /// name, and the `ClientKeyExchange` with the identity) are written at its front, idle
    /// while this side speaks; every record leaves in pieces from where its plaintext lies,
    /// so there is no write buffer.
    ///
    /// # Errors
    ///
    /// A [`HandshakeError`]; a fatal alert is sent to the server first when the failure
    /// was detected locally. The transport is dropped.
    ///
    /// # Cancellation Safety
    ///
    /// Not cancel-safe; a cancelled handshake leaves nothing usable (drop the transport).
    pub async fn connect(
        transport: T,
        config: &PskConfig<'_>,
        rng: R,
        read_buffer: &'buf mut [u8],
    ) -> Result<Self, HandshakeError> {
        let mut connection = Self::new(transport, rng, read_buffer);
        connection.establish(config).await?;
        Ok(connection)
    }

    /// A connection whose handshake has not run yet: [`establish`](Self::establish) runs it
    /// where the connection already lies. The in-place form of [`connect`](Self::connect),
    /// for a caller that keeps the connection in a slot of its own (moved out of `connect`'s
    /// future, it is stored twice while the handshake runs). Nothing else may be called
    /// before `establish` succeeded.
    ///
    /// The connection uses at most the first 65,535 bytes of `read_buffer` (its positions are
    /// kept in `u16`s); TLS needs at most 18,437.
    pub fn new(transport: T, rng: R, read_buffer: &'buf mut [u8]) -> Self {
        let used = read_buffer.len().min(usize::from(u16::MAX));
        let read_buffer = &mut read_buffer[..used];
        Self {
            transport,
            rng,
            read_buffer,
            encrypter: None,
            decrypter: None,
            received: 0,
            plaintext: Span::new(0..0),
            state: SessionState::Handshaking,
        }
    }

    /// Runs the handshake of a connection made by [`new`](Self::new), as
    /// [`connect`](Self::connect) does, with the credentials read from the caller's own
    /// record ([`PskCredentials`]; a [`PskConfig`] is one).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); the session is then ended (every later call fails with
    /// [`Error::SessionEnded`](crate::Error::SessionEnded)).
    ///
    /// # Cancellation Safety
    ///
    /// Not cancel-safe; drop the connection (the handshake's secrets stay in the receive
    /// buffer's last [`HANDSHAKE_STATE_LENGTH`] bytes until it is reused or overwritten).
    // An `async` block, not an `async fn`: the arguments are kept once in the future (so in
    // `handshake`), which its owner keeps while the link opens.
    #[allow(clippy::manual_async_fn)]
    pub fn establish<'f, C: PskCredentials + ?Sized>(
        &'f mut self,
        credentials: &'f C,
    ) -> impl Future<Output = Result<(), HandshakeError>> + use<'f, 'buf, T, R, C> {
        async move {
            let outcome = self.handshake(credentials).await;
            if let Some(state) = self.handshake_state() {
                state.fill(0);
            }
            match outcome {
                Ok(()) => {
                    self.state = SessionState::Open;
                    Ok(())
                }
                Err(error) => {
                    // Ended first: the handshake's state is wiped, so the alert may take any part
                    // of the receive buffer (`send_front`), even when the server's records left
                    // no room in front of that state.
                    self.state = SessionState::Ended;
                    if let Some(description) = error.alert() {
                        self.send_alert(LEVEL_FATAL, description).await;
                    }
                    Err(error)
                }
            }
        }
    }

    // Nothing large lives across an await here: the randoms, the master secret and the
    // transcript hash are kept in the end of the receive buffer (`handshake_state`), keys are
    // derived where they are installed, and each await is one record sent or received. This
    // future is part of its owner's RAM for good (`docs/performance.md`).
    #[allow(clippy::manual_async_fn)]
    fn handshake<'f, C: PskCredentials + ?Sized>(
        &'f mut self,
        credentials: &'f C,
    ) -> impl Future<Output = Result<(), HandshakeError>> + use<'f, 'buf, T, R, C> {
        async move {
            let (identity, key) = (credentials.identity(), credentials.key());
            if key.is_empty() || key.len() > MAX_PSK_LENGTH {
                return Err(HandshakeError::InvalidConfiguration);
            }
            if identity.is_empty() || identity.len() > usize::from(u16::MAX) {
                return Err(HandshakeError::InvalidConfiguration);
            }
            self.state = SessionState::Handshaking;
            let length = self.start_handshake(credentials.server_name())?;
            self.send_handshake_record(length).await?;

            let (message_type, body) = self.next_handshake_message().await?;
            if message_type != HandshakeType::ServerHello {
                return Err(HandshakeError::UnexpectedMessage);
            }
            let cipher = self.take_server_hello(body)?;
            let (mut message_type, mut body) = self.next_handshake_message().await?;
            if message_type == HandshakeType::ServerKeyExchange {
                // The hint would let a client pick among identities; ours is fixed.
                parse_server_key_exchange(&self.read_buffer[body])?;
                (message_type, body) = self.next_handshake_message().await?;
            }
            if message_type != HandshakeType::ServerHelloDone || !body.is_empty() {
                return Err(HandshakeError::UnexpectedMessage);
            }
            if !self.plaintext.is_empty() {
                return Err(HandshakeError::UnexpectedMessage);
            }

            let length = self.key_exchange(credentials)?;
            self.send_handshake_record(length).await?;

            let offset = self.plaintext_offset();
            let slot = self.read_buffer.get_mut(offset..offset + 1);
            slot.ok_or(HandshakeError::BufferTooSmall)?.fill(1);
            self.send_front(ContentType::ChangeCipherSpec, 1)
                .await
                .map_err(handshake_send_error)?;
            self.encrypter = Some(self.derive_cipher_state(cipher, Side::Client));

            let length = self.client_finished()?;
            self.send_handshake_record(length).await?;
            self.transport
                .flush()
                .await
                .map_err(|error| HandshakeError::Io(embedded_io::Error::kind(&error)))?;

            let (content_type, range) = self.next_handshake_record().await?;
            match content_type {
                ContentType::ChangeCipherSpec if self.read_buffer[range] == [1] => {
                    self.decrypter = Some(self.derive_cipher_state(cipher, Side::Server));
                }
                _ => return Err(HandshakeError::UnexpectedMessage),
            }
            let expected = self.verify_data(b"server finished");
            let (message_type, body) = self.next_handshake_message().await?;
            if message_type != HandshakeType::Finished || !self.plaintext.is_empty() {
                return Err(HandshakeError::UnexpectedMessage);
            }
            if !bool::from(self.read_buffer[body].ct_eq(&expected)) {
                return Err(HandshakeError::BadFinished);
            }
            Ok(())
        }
    }

    /// Sends the handshake message the steps wrote at the front of the receive buffer.
    async fn send_handshake_record(&mut self, length: usize) -> Result<(), HandshakeError> {
        self.send_front(ContentType::Handshake, length)
            .await
            .map_err(handshake_send_error)
    }

    /// Returns the next handshake message (type and body range in the receive buffer),
    /// reading records as needed, and adds it to the transcript. `HelloRequest`s are skipped
    /// and, as RFC 5246 §7.4.1.1 requires, left out of the transcript.
    ///
    /// A message may span records (RFC 5246 §6.2.1): its start is moved to the front of the
    /// receive buffer, the next record is read behind it and its plaintext moved down to join
    /// it, so the message is whole in the buffer without a reassembly buffer of its own. One
    /// await, on the record layer: the steps around it are plain functions, so no chain of
    /// futures each holding its own copy of the arguments.
    async fn next_handshake_message(
        &mut self,
    ) -> Result<(HandshakeType, Range<usize>), HandshakeError> {
        loop {
            if let Some(message) = self.take_handshake_message()? {
                return Ok(message);
            }
            let kept = self.keep_partial_message()?;
            let received = self.read_record_at(kept).await;
            let Some((content_type, range)) = self.screen_alerts(received)? else {
                // A warning: the partial message is still in front.
                self.plaintext = Span::new(0..kept);
                continue;
            };
            match content_type {
                // RFC 5246 §6.2.1 forbids empty handshake fragments.
                ContentType::Handshake if !range.is_empty() => {
                    let end = kept + range.len();
                    self.read_buffer.copy_within(range, kept);
                    self.plaintext = Span::new(0..end);
                }
                _ => return Err(HandshakeError::UnexpectedMessage),
            }
        }
    }

    /// Splits the next whole handshake message off the received plaintext and adds it to the
    /// transcript; `None` when only part of one is there.
    fn take_handshake_message(
        &mut self,
    ) -> Result<Option<(HandshakeType, Range<usize>)>, HandshakeError> {
        loop {
            let start = usize::from(self.plaintext.start);
            let pending = &self.read_buffer[self.plaintext.range()];
            let Some((message, consumed)) = parse_handshake(pending)? else {
                return Ok(None);
            };
            let (message_type, empty) = (message.message_type, message.body.is_empty());
            // Within the span, so within its `u16`s.
            self.plaintext.start += consumed as u16;
            if message_type == HandshakeType::HelloRequest {
                if !empty {
                    return Err(HandshakeError::Decode);
                }
                continue;
            }
            let (records, state) = split_for_handshake(self.read_buffer)?;
            transcript::update(transcript_of(state), &records[start..start + consumed]);
            return Ok(Some((
                message_type,
                start + HANDSHAKE_HEADER_LENGTH..start + consumed,
            )));
        }
    }

    /// Moves the unparsed handshake bytes to the front of the receive buffer, after checking
    /// that the message they start fits there with the header of its last record; returns
    /// how many bytes were kept.
    fn keep_partial_message(&mut self) -> Result<usize, HandshakeError> {
        let kept = self.plaintext.len();
        if let Some(header) =
            self.read_buffer[self.plaintext.range()].get(..HANDSHAKE_HEADER_LENGTH)
        {
            let length =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            if HANDSHAKE_HEADER_LENGTH + length + HEADER_LENGTH > self.receive_capacity() {
                return Err(HandshakeError::RecordOverflow);
            }
        }
        self.read_buffer.copy_within(self.plaintext.range(), 0);
        self.plaintext = Span::new(0..kept);
        Ok(kept)
    }

    /// Reads the next record at the front of the receive buffer, skipping warning alerts
    /// (the server's `ChangeCipherSpec`).
    async fn next_handshake_record(
        &mut self,
    ) -> Result<(ContentType, Range<usize>), HandshakeError> {
        loop {
            let received = self.read_record_at(0).await;
            if let Some(record) = self.screen_alerts(received)? {
                return Ok(record);
            }
        }
    }

    /// Passes a received record on, or `None` for a warning alert: RFC 5246 §7.2 lets the
    /// handshake go on after one (a server may warn `unrecognized_name` about the SNI), and
    /// mbedTLS 2.x clients ignore them too. A fatal alert or `close_notify` ends the
    /// handshake.
    fn screen_alerts(
        &mut self,
        received: Result<(ContentType, Range<usize>), ReceiveFailure>,
    ) -> Result<Option<(ContentType, Range<usize>)>, HandshakeError> {
        let (content_type, range) = received.map_err(handshake_receive_error)?;
        if content_type != ContentType::Alert {
            return Ok(Some((content_type, range)));
        }
        match self.read_buffer[range.clone()] {
            [LEVEL_WARNING, description] if description != alert::CLOSE_NOTIFY => Ok(None),
            _ => Err(self.alert_error(range)),
        }
    }

    /// Turns an alert record received during the handshake into the error it means.
    fn alert_error(&mut self, range: Range<usize>) -> HandshakeError {
        self.state = SessionState::Ended;
        match self.read_buffer[range] {
            [_, alert::CLOSE_NOTIFY] => HandshakeError::ConnectionClosed,
            [_, description] => HandshakeError::Alert(description),
            _ => HandshakeError::Decode,
        }
    }
}

fn handshake_send_error(error: Error) -> HandshakeError {
    match error {
        Error::Io(kind) => HandshakeError::Io(kind),
        Error::RecordOverflow => HandshakeError::BufferTooSmall,
        _ => HandshakeError::Decode,
    }
}

fn handshake_receive_error(failure: ReceiveFailure) -> HandshakeError {
    match failure {
        ReceiveFailure::Io(kind) => HandshakeError::Io(kind),
        ReceiveFailure::EndOfStream | ReceiveFailure::Truncated => HandshakeError::ConnectionClosed,
        ReceiveFailure::Record(error) => error.into(),
    }
}
