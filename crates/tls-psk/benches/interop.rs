//! `cargo bench -p tls-psk --bench interop` (run by `cargo xtask bench`): tls-psk against
//! `openssl s_client`, both talking to the same `openssl s_server -WWW` on loopback in the same
//! run, so the ratio means something even where the absolute figures do not.
//!
//! - Handshake: full PSK handshakes (no resumption). Ours are timed in process, on a socket with
//!   `TCP_NODELAY` as the Linux board uses; `s_client` can only be timed as a whole process,
//!   so its figure includes process start-up (measured separately with `openssl version`) and,
//!   since OpenSSL 3.0's `s_client` has no option to disable Nagle, the delayed-ACK stall of
//!   its multi-record flight. The bulk figure is the comparable one.
//! - Bulk: a 16 MiB file downloaded over one connection; both sides read until the server
//!   closes, so start-up is amortised.
//! - Static bytes: the connection state plus the buffers a board must provide.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tls_psk::{PskConfig, TlsConnection};

// The interop tests' blocking socket adapter and executor.
#[path = "../tests/support/mod.rs"]
mod support;

use support::{block_on, StdStream};

const KEY_HEX: &str = "93766af1c075bcff8bc744f6998f7046";
const IDENTITY: &str = "CTQS08Y5LGDev01";
const BULK_BYTES: usize = 16 * 1024 * 1024;
const HANDSHAKES: usize = 40;
const PROCESS_RUNS: usize = 15;
const READ_BUFFER: usize = 16_384 + 2_048 + 5;

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no options.
    let directory = scratch_directory();
    let server = Server::start(&directory);
    let key: Vec<u8> = (0..16)
        .map(|index| u8::from_str_radix(&KEY_HEX[index * 2..index * 2 + 2], 16).unwrap())
        .collect();

    let mut read = vec![0; READ_BUFFER];
    let ours_handshake = median(
        (0..HANDSHAKES)
            .map(|_| {
                let started = Instant::now();
                let connection = block_on(connect(server.address, &key, &mut read));
                let elapsed = started.elapsed();
                block_on(connection.close());
                elapsed
            })
            .collect(),
    );
    let startup = median(
        (0..PROCESS_RUNS)
            .map(|_| {
                let started = Instant::now();
                let status = Command::new("openssl")
                    .arg("version")
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
                started.elapsed()
            })
            .collect(),
    );
    let theirs_handshake = median(
        (0..PROCESS_RUNS)
            .map(|_| {
                let started = Instant::now();
                let body = s_client(server.address, "/tiny.txt");
                assert!(body.ends_with(b"hi\n"), "s_client did not fetch the file");
                started.elapsed()
            })
            .collect(),
    );

    let started = Instant::now();
    let received = block_on(download(server.address, &key));
    let ours_bulk = started.elapsed();
    assert!(received >= BULK_BYTES, "tls-psk read only {received} bytes");
    let started = Instant::now();
    let theirs = s_client(server.address, "/bulk.bin");
    let theirs_bulk = started.elapsed();
    assert!(
        theirs.len() >= BULK_BYTES,
        "s_client read only {} bytes",
        theirs.len()
    );

    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    let mbps = |duration: Duration| BULK_BYTES as f64 / duration.as_secs_f64() / 1e6;
    println!("tls-psk vs openssl s_client, TLS 1.2 PSK-AES128-CBC-SHA, loopback, same s_server");
    println!(
        "handshake: tls-psk {:.2} ms (median of {HANDSHAKES}, in process); s_client {:.2} ms per process (median of {PROCESS_RUNS}), of which process start-up {:.2} ms",
        ms(ours_handshake),
        ms(theirs_handshake),
        ms(startup)
    );
    println!(
        "bulk 16 MiB download: tls-psk {:.1} MB/s; s_client {:.1} MB/s; ratio tls-psk/s_client {:.2}",
        mbps(ours_bulk),
        mbps(theirs_bulk),
        ours_bulk.as_secs_f64().recip() / theirs_bulk.as_secs_f64().recip()
    );
    type Connection<'b> = TlsConnection<'b, StdStream, rand_core::OsRng>;
    println!(
        "static bytes of one session: {} (connection state) + {READ_BUFFER} (read buffer, full 16 KiB records; no write buffer: records are sealed in pieces from the caller's bytes) = {}",
        core::mem::size_of::<Connection<'static>>(),
        core::mem::size_of::<Connection<'static>>() + READ_BUFFER
    );
    let _ = std::fs::remove_dir_all(directory);
}

async fn connect<'b>(
    address: SocketAddr,
    key: &[u8],
    read: &'b mut [u8],
) -> TlsConnection<'b, StdStream, rand_core::OsRng> {
    let config = PskConfig {
        identity: IDENTITY.as_bytes(),
        key,
        server_name: None,
    };
    let socket = TcpStream::connect(address).unwrap();
    // As the Linux board's sockets: no Nagle delay between the handshake's small records.
    socket.set_nodelay(true).unwrap();
    let stream = StdStream(socket);
    TlsConnection::connect(stream, &config, rand_core::OsRng, read)
        .await
        .expect("handshake with s_server")
}

async fn download(address: SocketAddr, key: &[u8]) -> usize {
    let mut read = vec![0; READ_BUFFER];
    let mut connection = connect(address, key, &mut read).await;
    embedded_io_async::Write::write_all(&mut connection, b"GET /bulk.bin HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut chunk = vec![0; 16 * 1024];
    let mut total = 0;
    loop {
        match connection.read(&mut chunk).await {
            Ok(0) | Err(_) => return total,
            Ok(count) => total += count,
        }
    }
}

fn s_client(address: SocketAddr, path: &str) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-quiet",
            "-psk",
            KEY_HEX,
            "-psk_identity",
            IDENTITY,
        ])
        .args([
            "-cipher",
            "PSK-AES128-CBC-SHA",
            "-connect",
            &address.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl must be installed");
    write!(child.stdin.take().unwrap(), "GET {path} HTTP/1.0\r\n\r\n").unwrap();
    let mut body = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut body).unwrap();
    child.wait().unwrap();
    body
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn scratch_directory() -> PathBuf {
    let directory = std::env::temp_dir().join(format!("tls-psk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let bulk: Vec<u8> = (0..BULK_BYTES).map(|index| (index * 7 + 3) as u8).collect();
    std::fs::write(directory.join("bulk.bin"), bulk).unwrap();
    std::fs::write(directory.join("tiny.txt"), b"hi\n").unwrap();
    directory
}

struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(directory: &PathBuf) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Command::new("openssl")
            .args([
                "s_server",
                "-tls1_2",
                "-nocert",
                "-WWW",
                "-quiet",
                "-psk",
                KEY_HEX,
                "-psk_identity",
                IDENTITY,
            ])
            .args([
                "-cipher",
                "PSK-AES128-CBC-SHA",
                "-accept",
                &address.to_string(),
            ])
            .current_dir(directory)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl must be installed");
        let deadline = Instant::now() + Duration::from_secs(10);
        // Readiness: poll until the port accepts (the probe's failed handshake is harmless).
        while TcpStream::connect(address).is_err() {
            assert!(Instant::now() < deadline, "s_server never listened");
            std::thread::yield_now();
        }
        Server { child, address }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
