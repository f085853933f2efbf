//! A server that cuts its handshake messages across records. RFC 5246 §6.2.1 allows any cut
//! (even through a message header); OpenSSL never cuts a PSK flight this small, other stacks
//! may. The server here is in memory, built from the crate's own PRF and record layer, so the
//! flight can be cut at every size, including the encrypted `Finished`, and warning alerts
//! can be slipped between the records (RFC 5246 §7.2 lets the handshake go on after them).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{ErrorType, Read, Write};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tls_psk::prf::{master_secret, prf, psk_premaster_secret, verify_data, MAX_PSK_LENGTH};
use tls_psk::record::{BulkCipher, CipherState, ContentType, PLAINTEXT_OFFSET};
use tls_psk::{HandshakeError, PskConfig, TlsConnection, HANDSHAKE_STATE_LENGTH};

const KEY: &[u8] = b"fragmentation test key";
const IDENTITY: &[u8] = b"CTQS08Y5LGDev01";
const SERVER_RANDOM: [u8; 32] = [0x5E; 32];
const GREETING: &[u8] = b"hello after a fragmented flight";

/// The in-memory PSK server: answers the client's flights as they arrive.
struct Server {
    cipher: BulkCipher,
    /// Most handshake plaintext bytes the server puts in one record.
    fragment: usize,
    /// `psk_identity_hint` of the `ServerKeyExchange`.
    hint: Vec<u8>,
    /// An alert (`[level, description]`) sent before every handshake record.
    interleaved_alert: Option<[u8; 2]>,
    transcript: Sha256,
    master: [u8; 48],
    /// The client's (writing) and the server's (writing) record states.
    states: Option<(CipherState, CipherState)>,
    /// Bytes of the client's output already handled.
    consumed: usize,
    flights_sent: usize,
}

impl Server {
    fn new(cipher: BulkCipher, fragment: usize, hint: Vec<u8>) -> Self {
        Self {
            cipher,
            fragment,
            hint,
            interleaved_alert: None,
            transcript: Sha256::new(),
            master: [0; 48],
            states: None,
            consumed: 0,
            flights_sent: 0,
        }
    }

    /// Returns the server's next flight once the client's flight is complete in `client`.
    fn respond(&mut self, client: &[u8]) -> Vec<u8> {
        let records = whole_records(&client[self.consumed..]);
        match self.flights_sent {
            0 if !records.is_empty() => self.first_flight(client, &records[..1]),
            1 if records.len() >= 3 => self.second_flight(client, &records[..3]),
            _ => Vec::new(),
        }
    }

    fn first_flight(&mut self, client: &[u8], records: &[(u8, usize, usize)]) -> Vec<u8> {
        let (_, start, end) = records[0];
        let client_hello = &client[self.consumed + start..self.consumed + end];
        self.consumed += end;
        self.transcript.update(client_hello);
        let client_random: [u8; 32] = client_hello[6..38].try_into().unwrap();
        let mut premaster = [0; 4 + 2 * MAX_PSK_LENGTH];
        let length = psk_premaster_secret(KEY, &mut premaster).unwrap();
        self.master = master_secret(&premaster[..length], &client_random, &SERVER_RANDOM);
        self.states = Some(cipher_states(
            &self.master,
            self.cipher,
            &client_random,
            &SERVER_RANDOM,
        ));

        let suite: u16 = match self.cipher {
            BulkCipher::Aes128 => 0x008C,
            BulkCipher::Aes256 => 0x008D,
        };
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&SERVER_RANDOM);
        hello.push(0);
        hello.extend_from_slice(&suite.to_be_bytes());
        hello.push(0);
        let mut key_exchange = (self.hint.len() as u16).to_be_bytes().to_vec();
        key_exchange.extend_from_slice(&self.hint);
        let mut messages = handshake_message(2, &hello);
        messages.extend(handshake_message(12, &key_exchange));
        messages.extend(handshake_message(14, &[]));
        self.transcript.update(&messages);
        self.flights_sent = 1;
        let mut flight = Vec::new();
        for chunk in messages.chunks(self.fragment) {
            if let Some(alert) = self.interleaved_alert {
                flight.extend(plain_record(ContentType::Alert, &alert));
            }
            flight.extend(plain_record(ContentType::Handshake, chunk));
        }
        flight
    }

    fn second_flight(&mut self, client: &[u8], records: &[(u8, usize, usize)]) -> Vec<u8> {
        let base = self.consumed;
        let (client_state, server_state) = self.states.as_mut().unwrap();
        let (_, start, end) = records[0];
        self.transcript.update(&client[base + start..base + end]);
        assert_eq!(
            records[1].0, 20,
            "ChangeCipherSpec follows ClientKeyExchange"
        );
        let (_, start, end) = records[2];
        let mut fragment = client[base + start..base + end].to_vec();
        let range = client_state
            .open(ContentType::Handshake, &mut fragment)
            .expect("the client's Finished opens with the client's keys");
        let expected = verify_data(
            &self.master,
            b"client finished",
            &self.transcript.clone().finalize().into(),
        );
        assert_eq!(fragment[range.clone()], handshake_message(20, &expected));
        self.transcript.update(&fragment[range]);
        self.consumed = base + end;

        let verify = verify_data(
            &self.master,
            b"server finished",
            &self.transcript.clone().finalize().into(),
        );
        let mut flight = plain_record(ContentType::ChangeCipherSpec, &[1]);
        for chunk in handshake_message(20, &verify).chunks(self.fragment) {
            if let Some(alert) = self.interleaved_alert {
                flight.extend(seal(server_state, ContentType::Alert, &alert));
            }
            flight.extend(seal(server_state, ContentType::Handshake, chunk));
        }
        flight.extend(seal(server_state, ContentType::ApplicationData, GREETING));
        self.flights_sent = 2;
        flight
    }
}

/// `(content type, fragment start, fragment end)` of each whole record in `bytes`.
fn whole_records(bytes: &[u8]) -> Vec<(u8, usize, usize)> {
    let mut records = Vec::new();
    let mut offset = 0;
    while let Some(header) = bytes.get(offset..offset + 5) {
        let end = offset + 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
        if end > bytes.len() {
            break;
        }
        records.push((header[0], offset + 5, end));
        offset = end;
    }
    records
}

fn handshake_message(message_type: u8, body: &[u8]) -> Vec<u8> {
    let mut message = vec![message_type];
    message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    message.extend_from_slice(body);
    message
}

fn plain_record(content_type: ContentType, fragment: &[u8]) -> Vec<u8> {
    let mut record = vec![content_type.value(), 3, 3];
    record.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
    record.extend_from_slice(fragment);
    record
}

fn seal(state: &mut CipherState, content_type: ContentType, plaintext: &[u8]) -> Vec<u8> {
    let mut record = vec![0; CipherState::sealed_length(plaintext.len())];
    record[PLAINTEXT_OFFSET..PLAINTEXT_OFFSET + plaintext.len()].copy_from_slice(plaintext);
    let length = state
        .seal(content_type, &mut record, plaintext.len(), [0x11; 16])
        .unwrap();
    record.truncate(length);
    record
}

/// The key block of RFC 5246 §6.3, as the client derives it.
fn cipher_states(
    master: &[u8; 48],
    cipher: BulkCipher,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> (CipherState, CipherState) {
    let key_length = cipher.key_length();
    let mut block = vec![0; 40 + 2 * key_length];
    prf(
        master,
        b"key expansion",
        &[server_random, client_random],
        &mut block,
    );
    let (macs, keys) = block.split_at(40);
    (
        CipherState::new(cipher, &keys[..key_length], &macs[..20]),
        CipherState::new(cipher, &keys[key_length..], &macs[20..]),
    )
}

/// The transport between client and server; a read with nothing to answer is end of stream.
struct Pipe {
    server: Server,
    to_client: VecDeque<u8>,
    from_client: Vec<u8>,
}

impl ErrorType for Pipe {
    type Error = Infallible;
}

impl Read for Pipe {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        if self.to_client.is_empty() {
            let flight = self.server.respond(&self.from_client);
            self.to_client.extend(flight);
        }
        let count = buffer.len().min(self.to_client.len());
        for (slot, byte) in buffer.iter_mut().zip(self.to_client.drain(..count)) {
            *slot = byte;
        }
        Ok(count)
    }
}

impl Write for Pipe {
    async fn write(&mut self, data: &[u8]) -> Result<usize, Infallible> {
        self.from_client.extend_from_slice(data);
        Ok(data.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// Polls a future whose IO never waits.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("in-memory IO never waits"),
    }
}

fn pipe(cipher: BulkCipher, fragment: usize, hint: &[u8]) -> Pipe {
    Pipe {
        server: Server::new(cipher, fragment, hint.to_vec()),
        to_client: VecDeque::new(),
        from_client: Vec::new(),
    }
}

const CONFIG: PskConfig<'static> = PskConfig {
    identity: IDENTITY,
    key: KEY,
    server_name: None,
};

/// Runs a handshake against a server cutting at `fragment` bytes and returns the first
/// application data the client reads.
fn handshake_and_read(cipher: BulkCipher, fragment: usize) -> Vec<u8> {
    let mut read_buffer = [0; 1024];
    run(async {
        let transport = pipe(cipher, fragment, b"a hint the client ignores");
        let mut connection = TlsConnection::connect(transport, &CONFIG, OsRng, &mut read_buffer)
            .await
            .unwrap_or_else(|error| panic!("cut at {fragment}: {error:?}"));
        assert_eq!(connection.cipher(), Some(cipher));
        let mut incoming = [0; 64];
        let count = connection.read(&mut incoming).await.unwrap();
        incoming[..count].to_vec()
    })
}

#[test]
fn every_message_in_one_byte_records_completes_the_handshake() {
    for cipher in [BulkCipher::Aes128, BulkCipher::Aes256] {
        assert_eq!(handshake_and_read(cipher, 1), GREETING);
    }
}

#[test]
fn every_cut_size_completes_the_handshake() {
    // 1..=60 cuts through every message and header of the flight, 1000 sends it whole.
    for fragment in (1..=60).chain([1000]) {
        assert_eq!(
            handshake_and_read(BulkCipher::Aes128, fragment),
            GREETING,
            "cut at {fragment}"
        );
    }
}

/// Runs a handshake against a server sending `alert` before each of its handshake records.
fn handshake_with_interleaved_alert(alert: [u8; 2]) -> Result<(), HandshakeError> {
    let mut read_buffer = [0; 1024];
    let mut transport = pipe(BulkCipher::Aes256, 7, b"");
    transport.server.interleaved_alert = Some(alert);
    run(TlsConnection::connect(
        transport,
        &CONFIG,
        OsRng,
        &mut read_buffer,
    ))
    .map(drop)
}

#[test]
fn warning_alerts_between_handshake_records_are_skipped() {
    // unrecognized_name (112), as a server may warn about the SNI, plain and encrypted.
    assert_eq!(handshake_with_interleaved_alert([1, 112]), Ok(()));
}

#[test]
fn fatal_alerts_and_close_notify_end_the_handshake() {
    assert_eq!(
        handshake_with_interleaved_alert([2, 115]),
        Err(HandshakeError::Alert(115))
    );
    assert_eq!(
        handshake_with_interleaved_alert([1, 0]),
        Err(HandshakeError::ConnectionClosed)
    );
}

#[test]
fn split_message_larger_than_the_receive_buffer_is_refused_with_an_alert() {
    // 200 bytes for records, in front of the handshake's state.
    let mut read_buffer = [0; 200 + HANDSHAKE_STATE_LENGTH];
    let mut transport = pipe(BulkCipher::Aes128, 100, &[b'h'; 300]);
    let result = run(TlsConnection::connect(
        &mut transport,
        &CONFIG,
        OsRng,
        &mut read_buffer,
    ));
    assert_eq!(result.err(), Some(HandshakeError::RecordOverflow));
    let client = &transport.from_client;
    let (content_type, start, end) = *whole_records(client).last().unwrap();
    assert_eq!(
        (content_type, &client[start..end]),
        (21, &[2, 22][..]),
        "a fatal record_overflow alert ends the client's output"
    );
}

/// However little room a receive buffer leaves in front of the handshake's state (none at
/// all below `HANDSHAKE_STATE_LENGTH`), a handshake that ends with `RecordOverflow` ends the
/// client's output with the fatal `record_overflow` alert: the client's messages and alerts
/// are written in the receive buffer, and once the handshake ended its state's room carries
/// the alert.
#[test]
fn every_record_overflow_ends_with_the_alert_however_small_the_buffer() {
    let mut overflows = 0;
    for length in 64..HANDSHAKE_STATE_LENGTH + 400 {
        let mut read_buffer = vec![0; length];
        let mut transport = pipe(BulkCipher::Aes128, 300, &[b'h'; 300]);
        let result = run(TlsConnection::connect(
            &mut transport,
            &CONFIG,
            OsRng,
            &mut read_buffer,
        ));
        if result.err() != Some(HandshakeError::RecordOverflow) {
            continue;
        }
        overflows += 1;
        let client = &transport.from_client;
        let (content_type, start, end) = *whole_records(client).last().unwrap();
        assert_eq!(
            (content_type, &client[start..end]),
            (21, &[2, 22][..]),
            "{length} bytes: a fatal record_overflow alert ends the client's output"
        );
    }
    assert!(overflows > 300, "{overflows} buffers overflowed");
}
