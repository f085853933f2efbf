//! The Linux board's network side of the MQTT service: tokio TCP streams seen through
//! `embedded-io-async`, a monotonic millisecond clock, and the OS random number generator.
//!
//! Routing knobs of the local hub (`hub.md` §1) apply here and nowhere else: `TCAT_RESOLVE`
//! overrides names before DNS and `TCAT_PORT_MAP` rewrites destination ports, so the AT rules
//! never know that the "cloud" is a process on the same machine.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use command_core::{Clock, ConnectError, Network, Random};
use embedded_io_async::{ErrorType, Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::options::Routing;

/// Outgoing TCP through tokio, with the board's routing overrides.
pub struct HostNetwork {
    routing: Routing,
}

impl HostNetwork {
    /// A network that applies `routing` to every connection.
    pub fn new(routing: Routing) -> Self {
        HostNetwork { routing }
    }
}

impl Network for HostNetwork {
    type Stream = HostStream;

    async fn connect(&mut self, host: &[u8], port: u16) -> Result<HostStream, ConnectError> {
        let name = std::str::from_utf8(host).map_err(|_| ConnectError::Dns)?;
        let port = self.routing.port(port);
        let address = match self.routing.resolve(name).or_else(|| name.parse().ok()) {
            Some(ip) => SocketAddr::new(ip, port),
            None => tokio::net::lookup_host((name, port))
                .await
                .ok()
                .and_then(|mut addresses| addresses.find(SocketAddr::is_ipv4))
                .ok_or(ConnectError::Dns)?,
        };
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|_| ConnectError::Tcp)?;
        let _ = stream.set_nodelay(true);
        Ok(HostStream { stream })
    }
}

/// A connected TCP stream. Reads are cancel-safe (tokio's `read` is).
pub struct HostStream {
    stream: tokio::net::TcpStream,
}

impl ErrorType for HostStream {
    type Error = io::Error;
}

impl Read for HostStream {
    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buffer).await
    }
}

impl Write for HostStream {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.stream.write(bytes).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().await
    }
}

/// Milliseconds since the board started.
pub struct HostClock {
    origin: Instant,
}

impl HostClock {
    /// A clock starting at 0 now.
    pub fn new() -> Self {
        HostClock {
            origin: Instant::now(),
        }
    }
}

impl Clock for HostClock {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        tokio::time::sleep_until(self.origin + Duration::from_millis(deadline_ms)).await
    }
}

/// The operating system's CSPRNG (`getrandom(2)`): TLS-PSK draws its hello random and record
/// IVs from the board RNG, so a seeded PRNG would not do.
#[derive(Debug, Default)]
pub struct HostRandom;

impl HostRandom {
    /// The OS generator.
    pub fn new() -> Self {
        HostRandom
    }
}

impl Random for HostRandom {
    fn random_u32(&self) -> u32 {
        let mut bytes = [0u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_ne_bytes(bytes)
    }

    fn fill_bytes(&self, destination: &mut [u8]) {
        // Linux's getrandom only fails for invalid arguments; a module without randomness
        // must not go on to build TLS records.
        getrandom::getrandom(destination).expect("the OS random number generator failed");
    }
}
