//! The Linux board's network side of the MQTT service: tokio TCP streams seen through
//! `embedded-io-async`, a monotonic millisecond clock, and the OS random number generator.
//!
//! Routing knobs of the local hub (`hub.md` §1) apply here and nowhere else: `TCAT_RESOLVE`
//! overrides names before DNS (an address, or `none`: no such name, answered at once) and
//! `TCAT_PORT_MAP` rewrites destination ports, so the AT rules
//! never know that the "cloud" is a process on the same machine.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use command_core::{ClientCertificate, Clock, ConnectError, Network, Random};
use embedded_io_async::{ErrorType, Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::certificates::TrustAnchors;
use crate::options::{Resolution, Routing};

/// Outgoing TCP through tokio, with the board's routing overrides.
pub struct HostNetwork {
    routing: Routing,
    anchors: TrustAnchors,
}

impl HostNetwork {
    /// A network that applies `routing` to every connection and trusts `anchors` in
    /// certificate TLS.
    pub fn new(routing: Routing, anchors: TrustAnchors) -> Self {
        HostNetwork { routing, anchors }
    }

    /// DNS (with `TCAT_RESOLVE`) and TCP (with `TCAT_PORT_MAP`).
    async fn tcp(&self, host: &[u8], port: u16) -> Result<tokio::net::TcpStream, ConnectError> {
        let name = std::str::from_utf8(host).map_err(|_| ConnectError::Dns)?;
        let port = self.routing.port(port);
        let overridden = match self.routing.resolve(name) {
            Some(Resolution::NoSuchName) => return Err(ConnectError::Dns),
            Some(Resolution::Address(ip)) => Some(ip),
            None => name.parse().ok(),
        };
        let address = match overridden {
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
        Ok(stream)
    }
}

impl Network for HostNetwork {
    type Stream = HostStream;

    async fn connect(&mut self, host: &[u8], port: u16) -> Result<HostStream, ConnectError> {
        Ok(HostStream::Tcp(self.tcp(host, port).await?))
    }

    async fn connect_certificate(
        &mut self,
        host: &[u8],
        port: u16,
        client: ClientCertificate<'_>,
    ) -> Result<HostStream, ConnectError> {
        let tcp = self.tcp(host, port).await?;
        // `tcp` resolved the name, so it is UTF-8.
        let name = std::str::from_utf8(host).map_err(|_| ConnectError::Dns)?;
        let tls = self.anchors.handshake(tcp, name, Some(client)).await?;
        Ok(HostStream::Tls(Box::new(tls)))
    }

    async fn connect_tls(&mut self, host: &[u8], port: u16) -> Result<HostStream, ConnectError> {
        let tcp = self.tcp(host, port).await?;
        let name = std::str::from_utf8(host).map_err(|_| ConnectError::Dns)?;
        let tls = self.anchors.handshake(tcp, name, None).await?;
        Ok(HostStream::Tls(Box::new(tls)))
    }
}

/// A connected stream: TCP (modes 0 and 1, TLS-PSK runs in the core) or rustls over TCP
/// (mode 2). Reads are cancel-safe: tokio's `read` on either keeps undelivered bytes buffered.
pub enum HostStream {
    /// Plain TCP.
    Tcp(tokio::net::TcpStream),
    /// Certificate TLS; boxed because the rustls state is large.
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

impl ErrorType for HostStream {
    type Error = io::Error;
}

impl Read for HostStream {
    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            HostStream::Tcp(stream) => stream.read(buffer).await,
            HostStream::Tls(stream) => stream.read(buffer).await,
        }
    }
}

impl Write for HostStream {
    async fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            HostStream::Tcp(stream) => stream.write(bytes).await,
            HostStream::Tls(stream) => stream.write(bytes).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            HostStream::Tcp(stream) => stream.flush().await,
            HostStream::Tls(stream) => stream.flush().await,
        }
    }
}

/// Milliseconds since the board started.
pub struct HostClock {
    origin: Instant,
    /// Module milliseconds per real millisecond (`TCAT_CLOCK_SCALE`, tests only).
    scale: u32,
}

impl HostClock {
    /// A clock starting at 0 now, running `scale` times faster than real time.
    pub fn new(scale: u32) -> Self {
        HostClock {
            origin: Instant::now(),
            scale: scale.max(1),
        }
    }
}

impl Clock for HostClock {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64 * u64::from(self.scale)
    }

    /// tokio's `Sleep` lives inside the returned future: no heap allocation per call, only an
    /// entry in the runtime's timer wheel while the future is pending.
    async fn sleep_until(&self, deadline_ms: u64) {
        let real_ms = deadline_ms.div_ceil(u64::from(self.scale));
        tokio::time::sleep_until(self.origin + Duration::from_millis(real_ms)).await
    }

    /// The host's clock is synchronised by the host (`cloud.md` §5: "Linux board: host
    /// clock").
    fn utc_seconds(&self) -> Option<u64> {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|elapsed| elapsed.as_secs())
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
