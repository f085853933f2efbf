//! The handshake's state where it lies: the hello randoms, the master secret and the
//! transcript hash in the last [`HANDSHAKE_STATE_LENGTH`] bytes of the receive buffer, and the
//! steps of the handshake that read or write them. All of them are plain functions: the
//! handshake's future holds none of this across its awaits (`docs/performance.md`).

use core::ops::Range;
use embedded_io_async::{Read, Write};
use rand_core::{CryptoRng, RngCore};

use crate::connection::TlsConnection;
use crate::error::HandshakeError;
use crate::handshake::{
    parse_server_hello, write_client_hello, write_client_key_exchange, write_finished,
};
use crate::prf::{
    master_secret, prf, psk_premaster_secret, verify_data, MASTER_SECRET_LENGTH, MAX_PSK_LENGTH,
    VERIFY_DATA_LENGTH,
};
use crate::record::{BulkCipher, CipherState, MAC_LENGTH};
use crate::transcript;

use super::PskCredentials;

impl<T, R> TlsConnection<'_, T, R>
where
    T: Read + Write,
    R: RngCore + CryptoRng,
{
    /// The handshake's state: the last [`HANDSHAKE_STATE_LENGTH`] bytes of the receive
    /// buffer, or `None` when the buffer is smaller.
    pub(super) fn handshake_state(&mut self) -> Option<&mut [u8; HANDSHAKE_STATE_LENGTH]> {
        let start = self.read_buffer.len().checked_sub(HANDSHAKE_STATE_LENGTH)?;
        <&mut [u8; HANDSHAKE_STATE_LENGTH]>::try_from(&mut self.read_buffer[start..]).ok()
    }

    /// Draws the client random, starts the transcript and writes the `ClientHello` at the
    /// front of the receive buffer (nothing received yet); returns its length.
    pub(super) fn start_handshake(
        &mut self,
        server_name: Option<&str>,
    ) -> Result<usize, HandshakeError> {
        let mut client_random = [0; 32];
        self.rng.fill_bytes(&mut client_random);
        let offset = self.plaintext_offset();
        // A receive buffer without room for the state cannot hold the server's records.
        let (records, state) = split_for_handshake(self.read_buffer)?;
        let slot = records.get_mut(offset..).unwrap_or_default();
        state[CLIENT_RANDOM].copy_from_slice(&client_random);
        let transcript_state = transcript_of(state);
        transcript::start(transcript_state);
        let length = write_client_hello(slot, &client_random, server_name)?;
        transcript::update(transcript_state, &slot[..length]);
        Ok(length)
    }

    /// Checks the `ServerHello` at `body`, keeps its random and returns the chosen cipher.
    pub(super) fn take_server_hello(
        &mut self,
        body: Range<usize>,
    ) -> Result<BulkCipher, HandshakeError> {
        let (records, state) = split_for_handshake(self.read_buffer)?;
        let server_hello = parse_server_hello(&records[body])?;
        state[SERVER_RANDOM].copy_from_slice(&server_hello.random);
        Ok(server_hello.cipher)
    }

    /// Derives the master secret into the state and writes the `ClientKeyExchange` at the
    /// front of the receive buffer (the server's flight is all read and taken); returns its
    /// length.
    pub(super) fn key_exchange<C: PskCredentials + ?Sized>(
        &mut self,
        credentials: &C,
    ) -> Result<usize, HandshakeError> {
        let offset = self.plaintext_offset();
        let (records, state) = split_for_handshake(self.read_buffer)?;
        let slot = records.get_mut(offset..).unwrap_or_default();
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

    /// Writes the client's `Finished` at the front of the receive buffer; returns its length.
    pub(super) fn client_finished(&mut self) -> Result<usize, HandshakeError> {
        let client_verify = self.verify_data(b"client finished");
        let offset = self.plaintext_offset();
        let (records, state) = split_for_handshake(self.read_buffer)?;
        let slot = records.get_mut(offset..).unwrap_or_default();
        let length = write_finished(slot, &client_verify)?;
        transcript::update(transcript_of(state), &slot[..length]);
        Ok(length)
    }

    /// `verify_data` under `label` over the transcript so far.
    pub(super) fn verify_data(&mut self, label: &[u8]) -> [u8; VERIFY_DATA_LENGTH] {
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
    pub(super) fn derive_cipher_state(&mut self, cipher: BulkCipher, side: Side) -> CipherState {
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
pub(super) fn split_for_handshake(
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

pub(super) fn transcript_of(
    state: &mut [u8; HANDSHAKE_STATE_LENGTH],
) -> &mut [u8; transcript::LENGTH] {
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
pub(super) enum Side {
    /// The client's write keys: our sending state.
    Client,
    /// The server's write keys: our receiving state.
    Server,
}
