//! Interoperability with a real peer: `openssl s_server` in TLS 1.2 PSK mode.

mod support;

use embedded_io_async::Write as _;
use rand_core::OsRng;
use std::cell::{Cell, RefCell};
use support::{block_on, reversed_line, OpenSslServer, StdStream, IDENTITY, KEY};
use tls_psk::record::BulkCipher;
use tls_psk::{Error, HandshakeError, Plaintext, PskConfig, TlsConnection, HANDSHAKE_STATE_LENGTH};

const BUFFER_LENGTH: usize = 16 * 1024 + 512;

fn config(key: &[u8]) -> PskConfig<'_> {
    PskConfig {
        identity: IDENTITY.as_bytes(),
        key,
        server_name: Some("CTQS08Y5LG.iotcloud.tencentdevices.com"),
    }
}

/// Handshakes with `server` under the test identity and key, reading into `read_buffer`.
async fn handshake<'b>(
    server: &OpenSslServer,
    read_buffer: &'b mut [u8],
) -> TlsConnection<'b, StdStream, OsRng> {
    TlsConnection::connect(server.connect(), &config(&KEY), OsRng, read_buffer)
        .await
        .expect("handshake with openssl")
}

/// Reads until exactly `length` bytes arrived.
async fn read_exactly(
    connection: &mut TlsConnection<'_, StdStream, OsRng>,
    length: usize,
) -> Vec<u8> {
    let mut received = vec![0u8; length];
    let mut filled = 0;
    while filled < length {
        let count = connection
            .read(&mut received[filled..])
            .await
            .expect("read");
        assert_ne!(count, 0, "server closed early after {filled} bytes");
        filled += count;
    }
    received
}

fn echo_round_trip(cipher: &str, extra_arguments: &[&str], expected: BulkCipher) {
    let server = OpenSslServer::start_with(cipher, extra_arguments);
    let mut read_buffer = vec![0u8; BUFFER_LENGTH];
    block_on(async {
        let mut connection = handshake(&server, &mut read_buffer).await;
        assert_eq!(connection.cipher(), Some(expected));

        connection.write_all(b"hello tencent\n").await.unwrap();
        connection.flush().await.unwrap();
        assert_eq!(read_exactly(&mut connection, 14).await, b"tnecnet olleh\n");

        connection.close().await;
    });
}

#[test]
fn echo_with_aes_128_suite() {
    echo_round_trip("PSK-AES128-CBC-SHA", &[], BulkCipher::Aes128);
}

#[test]
fn echo_with_aes_256_suite() {
    echo_round_trip("PSK-AES256-CBC-SHA", &[], BulkCipher::Aes256);
}

/// With an identity hint the server sends a ServerKeyExchange, which the client accepts.
#[test]
fn echo_with_identity_hint() {
    echo_round_trip(
        "PSK-AES128-CBC-SHA",
        &["-psk_hint", "tencent-hint"],
        BulkCipher::Aes128,
    );
}

/// 40 KiB each way: more than two full 16 KiB records from the client, and replies of
/// up to 10 KiB per record from the server.
#[test]
fn large_payloads_both_ways() {
    let server = OpenSslServer::start("PSK-AES256-CBC-SHA");
    let lines: Vec<Vec<u8>> = (0..4u8)
        .map(|index| {
            (0..10_000usize)
                .map(|position| b'a' + ((position + usize::from(index)) % 26) as u8)
                .collect()
        })
        .collect();
    let mut payload = Vec::new();
    let mut expected = Vec::new();
    for line in &lines {
        payload.extend_from_slice(line);
        payload.push(b'\n');
        expected.extend_from_slice(&reversed_line(line));
    }
    let mut read_buffer = vec![0u8; BUFFER_LENGTH];
    block_on(async {
        let mut connection = handshake(&server, &mut read_buffer).await;
        connection.write_all(&payload).await.unwrap();
        connection.flush().await.unwrap();
        let received = read_exactly(&mut connection, expected.len()).await;
        assert!(received == expected, "echo of 40 KiB differs");
        connection.close().await;
    });
}

/// Plaintext lent by an owner that keeps it in a `RefCell` (as the MQTT service's session):
/// counts how often a piece of it was borrowed.
struct Lender {
    bytes: RefCell<Vec<u8>>,
    lends: Cell<usize>,
}

impl Plaintext for Lender {
    fn lend<T>(&self, reader: impl FnOnce(&[u8]) -> T) -> T {
        self.lends.set(self.lends.get() + 1);
        reader(&self.bytes.borrow())
    }
}

/// Records sealed in pieces from lent plaintext (`send_from`, 256 bytes a record as the MQTT
/// service sends them) are whole records to OpenSSL: the server sees one line; each record
/// borrowed its plaintext several times, and the owner was free between the pieces.
#[test]
fn records_sent_from_lent_plaintext_reach_the_server_whole() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let line: Vec<u8> = (0..3000)
        .map(|position| b'0' + (position % 10) as u8)
        .collect();
    let mut payload = line.clone();
    payload.push(b'\n');
    let lender = Lender {
        bytes: RefCell::new(payload.clone()),
        lends: Cell::new(0),
    };
    let mut read_buffer = vec![0u8; BUFFER_LENGTH];
    block_on(async {
        let mut connection = handshake(&server, &mut read_buffer).await;
        let mut records = 0;
        while !lender.bytes.borrow().is_empty() {
            let length = lender.bytes.borrow().len().min(256);
            assert_eq!(connection.send_from(&lender, length).await, Ok(length));
            // Between records the owner changes its bytes, as the session drops what was sent.
            lender.bytes.borrow_mut().drain(..length);
            records += 1;
        }
        assert_eq!(records, payload.len().div_ceil(256));
        assert!(
            lender.lends.get() > 2 * records,
            "{} lends",
            lender.lends.get()
        );
        assert_eq!(
            read_exactly(&mut connection, line.len() + 1).await,
            reversed_line(&line)
        );
    });
}

/// A lender with fewer bytes than the record fails the send (never reads out of bounds) and
/// ends the session.
#[test]
fn a_short_lender_fails_the_send() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let mut read_buffer = vec![0u8; BUFFER_LENGTH];
    block_on(async {
        let mut connection = handshake(&server, &mut read_buffer).await;
        let short = [7u8; 10];
        assert_eq!(
            connection.send_from(&short[..], 40).await,
            Err(Error::Io(embedded_io::ErrorKind::InvalidInput))
        );
        assert_eq!(connection.write(b"late").await, Err(Error::SessionEnded));
    });
}

#[test]
fn wrong_key_fails_the_handshake_cleanly() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let mut wrong_key = KEY;
    wrong_key[0] ^= 0xFF;
    let mut read_buffer = vec![0u8; BUFFER_LENGTH];
    let result = block_on(TlsConnection::connect(
        server.connect(),
        &config(&wrong_key),
        OsRng,
        &mut read_buffer,
    ));
    match result {
        Err(HandshakeError::Alert(description)) => assert!(
            [20, 40, 51].contains(&description),
            "unexpected alert {description}"
        ),
        Err(other) => panic!("expected a server alert, got {other:?}"),
        Ok(_) => panic!("handshake with a wrong key succeeded"),
    }
}

#[test]
fn server_without_psk_suites_fails_the_handshake() {
    let server = OpenSslServer::start("PSK-AES128-GCM-SHA256");
    let mut read_buffer = vec![0u8; BUFFER_LENGTH];
    let result = block_on(TlsConnection::connect(
        server.connect(),
        &config(&KEY),
        OsRng,
        &mut read_buffer,
    ));
    assert!(
        matches!(result, Err(HandshakeError::Alert(40))),
        "{:?}",
        result.err()
    );
}

/// The server's 8 KiB reply does not fit a 4 KiB receive buffer: the read fails with
/// `RecordOverflow`, hands out nothing, and the session is over.
#[test]
fn record_larger_than_receive_buffer_ends_the_session() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let line = vec![b'x'; 8000];
    let mut payload = line.clone();
    payload.push(b'\n');
    let mut read_buffer = vec![0u8; 4096];
    block_on(async {
        let mut connection = handshake(&server, &mut read_buffer).await;
        connection.write_all(&payload).await.unwrap();
        let mut received = [0u8; 64];
        assert_eq!(
            connection.read(&mut received).await,
            Err(Error::RecordOverflow)
        );
        assert_eq!(received, [0u8; 64]);
        assert_eq!(
            connection.read(&mut received).await,
            Err(Error::SessionEnded)
        );
        assert_eq!(connection.write(b"more").await, Err(Error::SessionEnded));
    });
}

/// Without a server name (an IP-literal host) the handshake works the same.
#[test]
fn handshake_without_server_name() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let mut read_buffer = vec![0u8; 2048];
    block_on(async {
        let configuration = PskConfig {
            identity: IDENTITY.as_bytes(),
            key: &KEY,
            server_name: None,
        };
        let mut connection =
            TlsConnection::connect(server.connect(), &configuration, OsRng, &mut read_buffer)
                .await
                .expect("handshake");
        connection.write_all(b"ip literal\n").await.unwrap();
        assert_eq!(read_exactly(&mut connection, 11).await, b"laretil pi\n");
    });
}

/// The handshake future is what a firmware task keeps on its stack or in a static; keep it
/// well under the budget in the README.
#[test]
fn connect_future_stays_small() {
    // The future is only measured, never polled, so any connected stream will do.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = StdStream(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
    let mut read_buffer = [0u8; 16];
    let configuration = config(&KEY);
    let future = TlsConnection::connect(stream, &configuration, OsRng, &mut read_buffer);
    let size = core::mem::size_of_val(&future);
    println!("connect future: {size} bytes");
    assert!(size < 2048, "connect future grew to {size} bytes");
}

/// `CLOSE` makes `s_server -rev` end the session: reads report end of stream, writes fail.
#[test]
fn server_close_reads_as_end_of_stream() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let mut read_buffer = vec![0u8; 4096];
    block_on(async {
        let mut connection = handshake(&server, &mut read_buffer).await;
        connection.write_all(b"CLOSE\n").await.unwrap();
        let mut received = [0u8; 64];
        let mut total = 0;
        loop {
            let count = connection.read(&mut received).await.expect("clean close");
            if count == 0 {
                break;
            }
            total += count;
            assert!(total < 1024, "server kept talking");
        }
        assert_eq!(connection.read(&mut received).await, Ok(0));
        assert_eq!(connection.write(b"late").await, Err(Error::SessionEnded));
    });
}

/// Configuration and buffer problems are reported before anything is sent.
#[test]
fn invalid_configuration_and_tiny_buffers_are_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let attempt = |key: &[u8], identity: &[u8], read_length: usize| {
        let stream = StdStream(std::net::TcpStream::connect(address).unwrap());
        let mut read_buffer = vec![0u8; read_length];
        let configuration = PskConfig {
            identity,
            key,
            server_name: None,
        };
        block_on(TlsConnection::connect(
            stream,
            &configuration,
            OsRng,
            &mut read_buffer,
        ))
        .err()
    };
    let identity = IDENTITY.as_bytes();
    assert_eq!(
        attempt(&[], identity, 1024),
        Some(HandshakeError::InvalidConfiguration)
    );
    assert_eq!(
        attempt(&[1; 65], identity, 1024),
        Some(HandshakeError::InvalidConfiguration)
    );
    assert_eq!(
        attempt(&KEY, b"", 1024),
        Some(HandshakeError::InvalidConfiguration)
    );
    assert_eq!(
        // The ClientHello is written in front of the handshake's state: 40 bytes are too few.
        attempt(&KEY, identity, HANDSHAKE_STATE_LENGTH + 40),
        Some(HandshakeError::BufferTooSmall)
    );
}
