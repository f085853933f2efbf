//! An on-path attacker flips one byte of a server application-data record; the client must
//! refuse it, tell the server with an alert, and hand out no plaintext.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};

use embedded_io_async::Write as _;
use rand_core::OsRng;
use support::{block_on, connect_with_timeout, OpenSslServer, StdStream, IDENTITY, KEY};
use tls_psk::{Error, PskConfig, TlsConnection};

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const APPLICATION_DATA: u8 = 23;

/// Reads one whole record (header and fragment); `None` at end of stream.
fn read_record(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).ok()?;
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut record = header.to_vec();
    record.resize(5 + length, 0);
    stream.read_exact(&mut record[5..]).ok()?;
    Some(record)
}

/// Forwards client → server untouched and returns `(content type, fragment length)` of
/// every record the client sent, once the client hangs up.
fn forward_client_records(mut from: TcpStream, mut to: TcpStream) -> JoinHandle<Vec<(u8, usize)>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        while let Some(record) = read_record(&mut from) {
            seen.push((record[0], record.len() - 5));
            if to.write_all(&record).is_err() {
                break;
            }
        }
        seen
    })
}

/// Forwards server → client, flipping one ciphertext byte of the first application-data
/// record after the server's ChangeCipherSpec.
fn forward_server_records_tampering(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let mut encrypted = false;
        let mut tampered = false;
        while let Some(mut record) = read_record(&mut from) {
            encrypted |= record[0] == CHANGE_CIPHER_SPEC;
            if encrypted && !tampered && record[0] == APPLICATION_DATA {
                let middle = 5 + (record.len() - 5) / 2;
                record[middle] ^= 0x20;
                tampered = true;
            }
            if to.write_all(&record).is_err() {
                break;
            }
        }
    });
}

#[test]
fn flipped_server_record_is_rejected_with_an_alert_and_no_plaintext() {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_address = proxy.local_addr().unwrap();
    let client_stream = connect_with_timeout(proxy_address);
    let (proxy_side, _) = proxy.accept().unwrap();
    proxy_side
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let upstream = connect_with_timeout(server.address);
    let client_records = forward_client_records(
        proxy_side.try_clone().unwrap(),
        upstream.try_clone().unwrap(),
    );
    forward_server_records_tampering(upstream, proxy_side);

    let mut read_buffer = vec![0u8; 4096];
    let mut write_buffer = vec![0u8; 4096];
    let configuration = PskConfig {
        identity: IDENTITY.as_bytes(),
        key: &KEY,
        server_name: None,
    };
    block_on(async {
        let mut connection = TlsConnection::connect(
            StdStream(client_stream),
            &configuration,
            OsRng,
            &mut read_buffer,
            &mut write_buffer,
        )
        .await
        .expect("the handshake passes the proxy untouched");
        connection.write_all(b"please answer\n").await.unwrap();
        let mut received = [0u8; 64];
        assert_eq!(
            connection.read(&mut received).await,
            Err(Error::BadRecordMac)
        );
        assert_eq!(received, [0u8; 64], "no plaintext was released");
        assert_eq!(
            connection.read(&mut received).await,
            Err(Error::SessionEnded)
        );
        // Dropping the connection closes the socket, which ends the forwarder.
    });

    let seen = client_records.join().unwrap();
    let data_index = seen
        .iter()
        .position(|&(content_type, _)| content_type == APPLICATION_DATA)
        .expect("the client sent its request");
    let (last_type, last_length) = *seen.last().unwrap();
    assert!(
        seen.len() > data_index + 1,
        "no record after the request: {seen:?}"
    );
    assert_eq!(last_type, ALERT, "client records: {seen:?}");
    assert_eq!(
        last_length,
        16 + 32,
        "the alert is encrypted (IV + two blocks)"
    );
}
