//! The client handshake (RFC 5246 §7.3 with RFC 4279 PSK key exchange), driven over the
//! connection's record layer.
//!
//! The flight sequence is fixed for a PSK client, so the handshake is a straight line of
//! awaits rather than a general state machine: send `ClientHello`; receive `ServerHello`,
//! an optional `ServerKeyExchange` (identity hint) and `ServerHelloDone`; send
//! `ClientKeyExchange`, `ChangeCipherSpec` and `Finished`; receive `ChangeCipherSpec` and
//! `Finished`. Any deviation ends the handshake with a fatal alert.

use core::ops::Range;
use embedded_io_async::{Read, Write};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::connection::{ReceiveFailure, SessionState, TlsConnection, LEVEL_FATAL, LEVEL_WARNING};
use crate::error::{alert, Error, HandshakeError};
use crate::handshake::{
    parse_handshake, parse_server_hello, parse_server_key_exchange, write_client_hello,
    write_client_key_exchange, write_finished, HandshakeType, HANDSHAKE_HEADER_LENGTH,
};
use crate::prf::{master_secret, prf, psk_premaster_secret, verify_data, MAX_PSK_LENGTH};
use crate::record::{BulkCipher, CipherState, ContentType, HEADER_LENGTH, MAC_LENGTH};

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

impl<'buf, T, R> TlsConnection<'buf, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    /// Runs a TLS 1.2 PSK handshake over `transport` and returns the established session.
    ///
    /// `read_buffer` must hold the largest record the server sends (see the crate docs for
    /// sizes); `write_buffer` bounds the records this side sends and must hold at least the
    /// `ClientHello` (about 60 bytes plus the server name) and 69 bytes for `Finished`.
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
        write_buffer: &'buf mut [u8],
    ) -> Result<Self, HandshakeError> {
        let mut connection = Self::new(transport, rng, read_buffer, write_buffer);
        connection.establish(config).await?;
        Ok(connection)
    }

    /// A connection whose handshake has not run yet: [`establish`](Self::establish) runs it
    /// where the connection already lies. The in-place form of [`connect`](Self::connect),
    /// for a caller that keeps the connection in a slot of its own (moved out of `connect`'s
    /// future, it is stored twice while the handshake runs). Nothing else may be called
    /// before `establish` succeeded.
    pub fn new(
        transport: T,
        rng: R,
        read_buffer: &'buf mut [u8],
        write_buffer: &'buf mut [u8],
    ) -> Self {
        Self {
            transport,
            rng,
            read_buffer,
            write_buffer,
            encrypter: None,
            decrypter: None,
            received: 0,
            plaintext: 0..0,
            state: SessionState::Open,
        }
    }

    /// Runs the handshake of a connection made by [`new`](Self::new), as
    /// [`connect`](Self::connect) does.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); the session is then ended (every later call fails with
    /// [`Error::SessionEnded`](crate::Error::SessionEnded)).
    ///
    /// # Cancellation Safety
    ///
    /// Not cancel-safe; drop the connection.
    pub async fn establish(&mut self, config: &PskConfig<'_>) -> Result<(), HandshakeError> {
        match self.handshake(config).await {
            Ok(()) => Ok(()),
            Err(error) => {
                if let Some(description) = error.alert() {
                    self.send_alert(LEVEL_FATAL, description).await;
                }
                self.state = SessionState::Ended;
                Err(error)
            }
        }
    }

    // Secrets and cipher states are made right where they are used, never kept across an
    // await: this future is part of the owner's RAM for good (`docs/performance.md`).
    async fn handshake(&mut self, config: &PskConfig<'_>) -> Result<(), HandshakeError> {
        if config.key.is_empty() || config.key.len() > MAX_PSK_LENGTH {
            return Err(HandshakeError::InvalidConfiguration);
        }
        if config.identity.is_empty() || config.identity.len() > usize::from(u16::MAX) {
            return Err(HandshakeError::InvalidConfiguration);
        }
        let mut transcript = Sha256::new();
        let mut client_random = [0; 32];
        self.rng.fill_bytes(&mut client_random);

        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..).unwrap_or_default();
        let length = write_client_hello(slot, &client_random, config.server_name)?;
        transcript.update(&slot[..length]);
        self.send_handshake_record(length).await?;

        let (message_type, body) = self.next_handshake_message(&mut transcript).await?;
        if message_type != HandshakeType::ServerHello {
            return Err(HandshakeError::UnexpectedMessage);
        }
        let server_hello = parse_server_hello(&self.read_buffer[body])?;
        let (mut message_type, mut body) = self.next_handshake_message(&mut transcript).await?;
        if message_type == HandshakeType::ServerKeyExchange {
            // The hint would let a client pick among identities; ours is fixed.
            parse_server_key_exchange(&self.read_buffer[body])?;
            (message_type, body) = self.next_handshake_message(&mut transcript).await?;
        }
        if message_type != HandshakeType::ServerHelloDone || !body.is_empty() {
            return Err(HandshakeError::UnexpectedMessage);
        }
        if !self.plaintext.is_empty() {
            return Err(HandshakeError::UnexpectedMessage);
        }

        let mut master = {
            let mut premaster = [0; 4 + 2 * MAX_PSK_LENGTH];
            let premaster_length = psk_premaster_secret(config.key, &mut premaster)
                .ok_or(HandshakeError::InvalidConfiguration)?;
            let master = master_secret(
                &premaster[..premaster_length],
                &client_random,
                &server_hello.random,
            );
            premaster.fill(0);
            master
        };

        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..).unwrap_or_default();
        let length = write_client_key_exchange(slot, config.identity)?;
        transcript.update(&slot[..length]);
        self.send_handshake_record(length).await?;

        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..offset + 1);
        slot.ok_or(HandshakeError::BufferTooSmall)?.fill(1);
        self.send_record(ContentType::ChangeCipherSpec, 1)
            .await
            .map_err(handshake_send_error)?;
        self.encrypter = Some(derive_cipher_state(
            &master,
            server_hello.cipher,
            &client_random,
            &server_hello.random,
            Side::Client,
        ));

        let client_verify = verify_data(
            &master,
            b"client finished",
            &transcript.clone().finalize().into(),
        );
        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..).unwrap_or_default();
        let length = write_finished(slot, &client_verify)?;
        transcript.update(&slot[..length]);
        self.send_handshake_record(length).await?;
        self.transport
            .flush()
            .await
            .map_err(|error| HandshakeError::Io(embedded_io::Error::kind(&error)))?;

        let (content_type, range) = self.read_handshake_record(0).await?;
        match content_type {
            ContentType::ChangeCipherSpec if self.read_buffer[range] == [1] => {
                self.decrypter = Some(derive_cipher_state(
                    &master,
                    server_hello.cipher,
                    &client_random,
                    &server_hello.random,
                    Side::Server,
                ));
            }
            _ => return Err(HandshakeError::UnexpectedMessage),
        }
        let expected = verify_data(
            &master,
            b"server finished",
            &transcript.clone().finalize().into(),
        );
        master.fill(0);
        let (message_type, body) = self.next_handshake_message(&mut transcript).await?;
        if message_type != HandshakeType::Finished || !self.plaintext.is_empty() {
            return Err(HandshakeError::UnexpectedMessage);
        }
        if !bool::from(self.read_buffer[body].ct_eq(&expected)) {
            return Err(HandshakeError::BadFinished);
        }
        Ok(())
    }

    async fn send_handshake_record(&mut self, length: usize) -> Result<(), HandshakeError> {
        self.send_record(ContentType::Handshake, length)
            .await
            .map_err(handshake_send_error)
    }

    /// Returns the next handshake message (type and body range in the receive buffer),
    /// reading records as needed, and adds it to `transcript`. `HelloRequest`s are skipped
    /// and, as RFC 5246 §7.4.1.1 requires, left out of the transcript.
    ///
    /// A message may span records (RFC 5246 §6.2.1): its start is moved to the front of the
    /// receive buffer, the next record is read behind it and its plaintext moved down to join
    /// it, so the message is whole in the buffer without a reassembly buffer of its own.
    async fn next_handshake_message(
        &mut self,
        transcript: &mut Sha256,
    ) -> Result<(HandshakeType, Range<usize>), HandshakeError> {
        loop {
            let start = self.plaintext.start;
            let pending = &self.read_buffer[self.plaintext.clone()];
            let Some((message, consumed)) = parse_handshake(pending)? else {
                self.read_handshake_fragment().await?;
                continue;
            };
            let (message_type, empty) = (message.message_type, message.body.is_empty());
            self.plaintext.start += consumed;
            if message_type == HandshakeType::HelloRequest {
                if !empty {
                    return Err(HandshakeError::Decode);
                }
                continue;
            }
            transcript.update(&self.read_buffer[start..start + consumed]);
            return Ok((
                message_type,
                start + HANDSHAKE_HEADER_LENGTH..start + consumed,
            ));
        }
    }

    /// Appends the plaintext of the next handshake record to the unparsed handshake bytes,
    /// which are first moved to the front of the receive buffer.
    async fn read_handshake_fragment(&mut self) -> Result<(), HandshakeError> {
        let kept = self.plaintext.len();
        if let Some(header) =
            self.read_buffer[self.plaintext.clone()].get(..HANDSHAKE_HEADER_LENGTH)
        {
            // The whole message and the header of its last record must fit in the buffer.
            let length =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            if HANDSHAKE_HEADER_LENGTH + length + HEADER_LENGTH > self.read_buffer.len() {
                return Err(HandshakeError::RecordOverflow);
            }
        }
        self.read_buffer.copy_within(self.plaintext.clone(), 0);
        let (content_type, range) = self.read_handshake_record(kept).await?;
        match content_type {
            // RFC 5246 §6.2.1 forbids empty handshake fragments.
            ContentType::Handshake if !range.is_empty() => {
                let end = kept + range.len();
                self.read_buffer.copy_within(range, kept);
                self.plaintext = 0..end;
                Ok(())
            }
            _ => Err(HandshakeError::UnexpectedMessage),
        }
    }

    /// Reads the next record after the first `base` bytes of the receive buffer, skipping
    /// warning alerts: RFC 5246 §7.2 lets the handshake go on after one (a server may warn
    /// `unrecognized_name` about the SNI), and mbedTLS 2.x clients ignore them too. A fatal
    /// alert or `close_notify` ends the handshake.
    async fn read_handshake_record(
        &mut self,
        base: usize,
    ) -> Result<(ContentType, Range<usize>), HandshakeError> {
        loop {
            let (content_type, range) = self
                .read_record_at(base)
                .await
                .map_err(handshake_receive_error)?;
            if content_type != ContentType::Alert {
                return Ok((content_type, range));
            }
            match self.read_buffer[range.clone()] {
                [LEVEL_WARNING, description] if description != alert::CLOSE_NOTIFY => {}
                _ => return Err(self.alert_error(range)),
            }
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

/// Which half of the key block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The client's write keys: our sending state.
    Client,
    /// The server's write keys: our receiving state.
    Server,
}

/// Derives the key block (RFC 5246 §6.3) and returns the cipher state of `side`. Each side
/// is derived when it is installed, so neither is held across the handshake's awaits (the
/// key block is computed twice; it is a few HMACs).
fn derive_cipher_state(
    master: &[u8; 48],
    cipher: BulkCipher,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    side: Side,
) -> CipherState {
    let key_length = cipher.key_length();
    let mut block = [0u8; 2 * MAC_LENGTH + 2 * 32];
    let used = &mut block[..2 * MAC_LENGTH + 2 * key_length];
    prf(
        master,
        b"key expansion",
        &[server_random, client_random],
        used,
    );
    let (client_mac, rest) = used.split_at(MAC_LENGTH);
    let (server_mac, rest) = rest.split_at(MAC_LENGTH);
    let (client_key, server_key) = rest.split_at(key_length);
    let state = match side {
        Side::Client => CipherState::new(cipher, client_key, client_mac),
        Side::Server => CipherState::new(cipher, server_key, server_mac),
    };
    block.fill(0);
    state
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
