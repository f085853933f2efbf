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
use subtle::ConstantTimeEq;

use crate::connection::{ReceiveFailure, SessionState, TlsConnection, LEVEL_FATAL, LEVEL_WARNING};
use crate::error::{alert, Error, HandshakeError};
use crate::handshake::{
    parse_handshake, parse_server_hello, parse_server_key_exchange, write_client_hello,
    write_client_key_exchange, write_finished, HandshakeType, HANDSHAKE_HEADER_LENGTH,
};
use crate::prf::{
    master_secret, prf, psk_premaster_secret, verify_data, MASTER_SECRET_LENGTH, MAX_PSK_LENGTH,
    VERIFY_DATA_LENGTH,
};
use crate::record::{BulkCipher, CipherState, ContentType, HEADER_LENGTH, MAC_LENGTH};
use crate::transcript;

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
    pub async fn establish<C: PskCredentials + ?Sized>(
        &mut self,
        credentials: &C,
    ) -> Result<(), HandshakeError> {
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
                if let Some(description) = error.alert() {
                    self.send_alert(LEVEL_FATAL, description).await;
                }
                self.state = SessionState::Ended;
                Err(error)
            }
        }
    }

    // Nothing large lives across an await here: the randoms, the master secret and the
    // transcript hash are kept in the end of the receive buffer (`handshake_state`), keys are
    // derived where they are installed, and each await is one record sent or received. This
    // future is part of its owner's RAM for good (`docs/performance.md`).
    async fn handshake<C: PskCredentials + ?Sized>(
        &mut self,
        credentials: &C,
    ) -> Result<(), HandshakeError> {
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
        let slot = self.write_buffer.get_mut(offset..offset + 1);
        slot.ok_or(HandshakeError::BufferTooSmall)?.fill(1);
        self.send_record(ContentType::ChangeCipherSpec, 1)
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

    /// The handshake's state: the last [`HANDSHAKE_STATE_LENGTH`] bytes of the receive
    /// buffer, or `None` when the buffer is smaller.
    fn handshake_state(&mut self) -> Option<&mut [u8; HANDSHAKE_STATE_LENGTH]> {
        let start = self.read_buffer.len().checked_sub(HANDSHAKE_STATE_LENGTH)?;
        <&mut [u8; HANDSHAKE_STATE_LENGTH]>::try_from(&mut self.read_buffer[start..]).ok()
    }

    /// Draws the client random, starts the transcript and writes the `ClientHello` into the
    /// write buffer; returns its length.
    fn start_handshake(&mut self, server_name: Option<&str>) -> Result<usize, HandshakeError> {
        let mut client_random = [0; 32];
        self.rng.fill_bytes(&mut client_random);
        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..).unwrap_or_default();
        // A receive buffer without room for the state cannot hold the server's records.
        let (_, state) = split_for_handshake(self.read_buffer)?;
        state[CLIENT_RANDOM].copy_from_slice(&client_random);
        let transcript_state = transcript_of(state);
        transcript::start(transcript_state);
        let length = write_client_hello(slot, &client_random, server_name)?;
        transcript::update(transcript_state, &slot[..length]);
        Ok(length)
    }

    /// Checks the `ServerHello` at `body`, keeps its random and returns the chosen cipher.
    fn take_server_hello(&mut self, body: Range<usize>) -> Result<BulkCipher, HandshakeError> {
        let (records, state) = split_for_handshake(self.read_buffer)?;
        let server_hello = parse_server_hello(&records[body])?;
        state[SERVER_RANDOM].copy_from_slice(&server_hello.random);
        Ok(server_hello.cipher)
    }

    /// Derives the master secret into the state and writes the `ClientKeyExchange` into the
    /// write buffer; returns its length.
    fn key_exchange<C: PskCredentials + ?Sized>(
        &mut self,
        credentials: &C,
    ) -> Result<usize, HandshakeError> {
        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..).unwrap_or_default();
        let (_, state) = split_for_handshake(self.read_buffer)?;
        let mut premaster = [0; 4 + 2 * MAX_PSK_LENGTH];
        let premaster_length = psk_premaster_secret(credentials.key(), &mut premaster)
            .ok_or(HandshakeError::InvalidConfiguration)?;
        let mut master = master_secret(
            &premaster[..premaster_length],
            &random(state, CLIENT_RANDOM),
            &random(state, SERVER_RANDOM),
        );
        premaster.fill(0);
        state[MASTER].copy_from_slice(&master);
        master.fill(0);
        let length = write_client_key_exchange(slot, credentials.identity())?;
        transcript::update(transcript_of(state), &slot[..length]);
        Ok(length)
    }

    /// Writes the client's `Finished` into the write buffer; returns its length.
    fn client_finished(&mut self) -> Result<usize, HandshakeError> {
        let client_verify = self.verify_data(b"client finished");
        let offset = self.plaintext_offset();
        let slot = self.write_buffer.get_mut(offset..).unwrap_or_default();
        let length = write_finished(slot, &client_verify)?;
        let (_, state) = split_for_handshake(self.read_buffer)?;
        transcript::update(transcript_of(state), &slot[..length]);
        Ok(length)
    }

    /// `verify_data` under `label` over the transcript so far.
    fn verify_data(&mut self, label: &[u8]) -> [u8; VERIFY_DATA_LENGTH] {
        let Some(state) = self.handshake_state() else {
            return [0; VERIFY_DATA_LENGTH];
        };
        let mut master = [0; MASTER_SECRET_LENGTH];
        master.copy_from_slice(&state[MASTER]);
        let data = verify_data(&master, label, &transcript::hash(transcript_of(state)));
        master.fill(0);
        data
    }

    /// Derives the key block (RFC 5246 §6.3) from the state and returns the cipher state of
    /// `side`. Each side is derived when it is installed, so neither is held across the
    /// handshake's awaits (the key block is computed twice; it is a few HMACs).
    fn derive_cipher_state(&mut self, cipher: BulkCipher, side: Side) -> CipherState {
        let Some(state) = self.handshake_state() else {
            return CipherState::new(cipher, &[0; 32], &[0; MAC_LENGTH]);
        };
        let mut master = [0; MASTER_SECRET_LENGTH];
        master.copy_from_slice(&state[MASTER]);
        let key_length = cipher.key_length();
        let mut block = [0u8; 2 * MAC_LENGTH + 2 * 32];
        let used = &mut block[..2 * MAC_LENGTH + 2 * key_length];
        prf(
            &master,
            b"key expansion",
            &[&state[SERVER_RANDOM], &state[CLIENT_RANDOM]],
            used,
        );
        master.fill(0);
        let (client_mac, rest) = used.split_at(MAC_LENGTH);
        let (server_mac, rest) = rest.split_at(MAC_LENGTH);
        let (client_key, server_key) = rest.split_at(key_length);
        let cipher_state = match side {
            Side::Client => CipherState::new(cipher, client_key, client_mac),
            Side::Server => CipherState::new(cipher, server_key, server_mac),
        };
        block.fill(0);
        cipher_state
    }

    async fn send_handshake_record(&mut self, length: usize) -> Result<(), HandshakeError> {
        self.send_record(ContentType::Handshake, length)
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
                self.plaintext = 0..kept;
                continue;
            };
            match content_type {
                // RFC 5246 §6.2.1 forbids empty handshake fragments.
                ContentType::Handshake if !range.is_empty() => {
                    let end = kept + range.len();
                    self.read_buffer.copy_within(range, kept);
                    self.plaintext = 0..end;
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
            let start = self.plaintext.start;
            let pending = &self.read_buffer[self.plaintext.clone()];
            let Some((message, consumed)) = parse_handshake(pending)? else {
                return Ok(None);
            };
            let (message_type, empty) = (message.message_type, message.body.is_empty());
            self.plaintext.start += consumed;
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
            self.read_buffer[self.plaintext.clone()].get(..HANDSHAKE_HEADER_LENGTH)
        {
            let length =
                usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
            if HANDSHAKE_HEADER_LENGTH + length + HEADER_LENGTH > self.receive_capacity() {
                return Err(HandshakeError::RecordOverflow);
            }
        }
        self.read_buffer.copy_within(self.plaintext.clone(), 0);
        self.plaintext = 0..kept;
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

/// Bytes the handshake keeps at the end of the receive buffer while it runs: the client and
/// server randoms, the master secret and the transcript hash state. Records are received in
/// front of them, so the receive buffer must exceed this by the server's largest handshake
/// record (`RecordOverflow` otherwise); they are wiped when the handshake ends.
pub const HANDSHAKE_STATE_LENGTH: usize = TRANSCRIPT.end;
const CLIENT_RANDOM: Range<usize> = 0..32;
const SERVER_RANDOM: Range<usize> = 32..64;
const MASTER: Range<usize> = 64..64 + MASTER_SECRET_LENGTH;
const TRANSCRIPT: Range<usize> = MASTER.end..MASTER.end + transcript::LENGTH;

/// The receive buffer split into the room for records and the handshake's state.
fn split_for_handshake(
    read_buffer: &mut [u8],
) -> Result<(&mut [u8], &mut [u8; HANDSHAKE_STATE_LENGTH]), HandshakeError> {
    let start = read_buffer
        .len()
        .checked_sub(HANDSHAKE_STATE_LENGTH)
        .ok_or(HandshakeError::RecordOverflow)?;
    let (records, state) = read_buffer.split_at_mut(start);
    let state = <&mut [u8; HANDSHAKE_STATE_LENGTH]>::try_from(state)
        .map_err(|_| HandshakeError::RecordOverflow)?;
    Ok((records, state))
}

fn transcript_of(state: &mut [u8; HANDSHAKE_STATE_LENGTH]) -> &mut [u8; transcript::LENGTH] {
    let (_, tail) = state.split_at_mut(TRANSCRIPT.start);
    <&mut [u8; transcript::LENGTH]>::try_from(tail)
        .unwrap_or_else(|_| unreachable!("the layout ends with the transcript"))
}

fn random(state: &[u8; HANDSHAKE_STATE_LENGTH], range: Range<usize>) -> [u8; 32] {
    let mut bytes = [0; 32];
    bytes.copy_from_slice(&state[range]);
    bytes
}

/// Which half of the key block.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The client's write keys: our sending state.
    Client,
    /// The server's write keys: our receiving state.
    Server,
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
