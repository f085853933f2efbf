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

/// Flips one byte in the middle of `record`'s fragment.
fn flip_middle_byte(record: &mut [u8]) {
    let middle = 5 + (record.len() - 5) / 2;
    record[middle] ^= 0x20;
}

/// Forwards client → server (flipping a byte of the first application-data record when
/// `tamper` is set) and returns `(content type, fragment length)` of every record the
/// client sent, once the client hangs up.
fn forward_client_records(
    mut from: TcpStream,
    mut to: TcpStream,
    tamper: bool,
) -> JoinHandle<Vec<(u8, usize)>> {
    thread::spawn(move || {
        let mut seen = Vec::new();
        let mut tampered = false;
        while let Some(mut record) = read_record(&mut from) {
            seen.push((record[0], record.len() - 5));
            if tamper && !tampered && record[0] == APPLICATION_DATA {
                flip_middle_byte(&mut record);
                tampered = true;
            }
            if to.write_all(&record).is_err() {
                break;
            }
        }
        seen
    })
}

/// Forwards server → client, flipping one ciphertext byte of the first application-data
/// record after the server's ChangeCipherSpec when `tamper` is set.
fn forward_server_records(mut from: TcpStream, mut to: TcpStream, tamper: bool) {
    thread::spawn(move || {
        let mut encrypted = false;
        let mut tampered = false;
        while let Some(mut record) = read_record(&mut from) {
            encrypted |= record[0] == CHANGE_CIPHER_SPEC;
            if tamper && encrypted && !tampered && record[0] == APPLICATION_DATA {
                flip_middle_byte(&mut record);
                tampered = true;
            }
            if to.write_all(&record).is_err() {
                break;
            }
        }
    });
}

/// A proxied connection: the client's stream, the forwarder recording the client's
/// records, and the server (kept alive for the test's duration).
struct Proxied {
    client_stream: TcpStream,
    client_records: JoinHandle<Vec<(u8, usize)>>,
    _server: OpenSslServer,
}

fn proxied(tamper_client_records: bool, tamper_server_records: bool) -> Proxied {
    let server = OpenSslServer::start("PSK-AES128-CBC-SHA");
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let client_stream = connect_with_timeout(proxy.local_addr().unwrap());
    let (proxy_side, _) = proxy.accept().unwrap();
    proxy_side
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let upstream = connect_with_timeout(server.address);
    let client_records = forward_client_records(
        proxy_side.try_clone().unwrap(),
        upstream.try_clone().unwrap(),
        tamper_client_records,
    );
    forward_server_records(upstream, proxy_side, tamper_server_records);
    Proxied {
        client_stream,
        client_records,
        _server: server,
    }
}

#[test]
fn flipped_server_record_is_rejected_with_an_alert_and_no_plaintext() {
    let Proxied {
        client_stream,
        client_records,
        _server,
    } = proxied(false, true);

    let mut read_buffer = vec![0u8; 4096];
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

/// The server rejects a tampered client record with a fatal alert; the client reports the
/// alert and the session is over.
#[test]
fn fatal_alert_from_the_server_ends_the_session() {
    let Proxied {
        client_stream,
        client_records,
        _server,
    } = proxied(true, false);
    let mut read_buffer = vec![0u8; 4096];
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
        )
        .await
        .expect("the handshake passes the proxy untouched");
        connection
            .write_all(b"tampered on the way\n")
            .await
            .unwrap();
        let mut received = [0u8; 64];
        assert_eq!(
            connection.read(&mut received).await,
            Err(Error::Alert(tls_psk::alert::BAD_RECORD_MAC))
        );
        assert_eq!(
            connection.read(&mut received).await,
            Err(Error::SessionEnded)
        );
        assert_eq!(connection.write(b"more").await, Err(Error::SessionEnded));
    });
    let seen = client_records.join().unwrap();
    assert_eq!(
        seen.last().map(|&(content_type, _)| content_type),
        Some(APPLICATION_DATA),
        "no alert is sent back after a fatal alert: {seen:?}"
    );
}
