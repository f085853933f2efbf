//! Test support shared by the interop tests: a real `openssl s_server`, a blocking
//! `TcpStream` adapter for `embedded-io-async`, and a minimal executor.

#![allow(dead_code)]

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The PSK both sides share in the happy-path tests (16 bytes, like a console secret).
pub const KEY: [u8; 16] = [
    0x93, 0x76, 0x6a, 0xf1, 0xc0, 0x75, 0xbc, 0xff, 0x8b, 0xc7, 0x44, 0xf6, 0x99, 0x8f, 0x70, 0x46,
];
/// The identity both sides expect.
pub const IDENTITY: &str = "CTQS08Y5LGDev01";

/// Runs a future whose IO is blocking, so every poll makes progress.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// Transport error carrying the std error kind.
#[derive(Debug)]
pub struct StreamError(pub std::io::ErrorKind);

impl core::fmt::Display for StreamError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(formatter, "{:?}", self.0)
    }
}

impl core::error::Error for StreamError {}

impl embedded_io::Error for StreamError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self.0 {
            std::io::ErrorKind::ConnectionReset => embedded_io::ErrorKind::ConnectionReset,
            std::io::ErrorKind::BrokenPipe => embedded_io::ErrorKind::BrokenPipe,
            _ => embedded_io::ErrorKind::Other,
        }
    }
}

/// `embedded-io-async` over a blocking std `TcpStream`.
pub struct StdStream(pub TcpStream);

impl embedded_io_async::ErrorType for StdStream {
    type Error = StreamError;
}

impl embedded_io_async::Read for StdStream {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, StreamError> {
        std::io::Read::read(&mut self.0, buffer).map_err(|error| StreamError(error.kind()))
    }
}

impl embedded_io_async::Write for StdStream {
    async fn write(&mut self, data: &[u8]) -> Result<usize, StreamError> {
        std::io::Write::write(&mut self.0, data).map_err(|error| StreamError(error.kind()))
    }

    async fn flush(&mut self) -> Result<(), StreamError> {
        std::io::Write::flush(&mut self.0).map_err(|error| StreamError(error.kind()))
    }
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A running `openssl s_server -rev` (echoes each line reversed), killed on drop.
pub struct OpenSslServer {
    child: Child,
    pub address: SocketAddr,
}

impl OpenSslServer {
    /// Starts a TLS 1.2 PSK server with one cipher suite (OpenSSL name) and waits until
    /// it accepts connections.
    pub fn start(cipher: &str) -> Self {
        Self::start_with(cipher, &[])
    }

    /// Like [`Self::start`], with extra `s_server` arguments.
    pub fn start_with(cipher: &str, extra_arguments: &[&str]) -> Self {
        let port = free_port();
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let key_hex: String = KEY.iter().map(|byte| format!("{byte:02x}")).collect();
        let child = Command::new("openssl")
            .args(["s_server", "-tls1_2", "-nocert", "-rev", "-quiet"])
            .args([
                "-psk",
                &key_hex,
                "-psk_identity",
                IDENTITY,
                "-cipher",
                cipher,
            ])
            .args(["-accept", &address.to_string()])
            .args(extra_arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl must be installed (apt-get install -y openssl)");
        let mut server = Self { child, address };
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("openssl s_server exited early: {status}");
            }
            // The probe connection closes at once; s_server logs a failed handshake and
            // goes on accepting.
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "openssl s_server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens a TCP connection to the server, with a read timeout so a bug cannot hang CI.
    pub fn connect(&self) -> StdStream {
        StdStream(connect_with_timeout(self.address))
    }
}

/// Connects to `address` with a 20 s read timeout.
pub fn connect_with_timeout(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect to server");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("set read timeout");
    stream
}

impl Drop for OpenSslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Bytes of `line` reversed, as `s_server -rev` answers (newline kept at the end).
pub fn reversed_line(line: &[u8]) -> Vec<u8> {
    let mut reply: Vec<u8> = line.iter().rev().copied().collect();
    reply.push(b'\n');
    reply
}
