//! The MQTT service's side of the board: TCP and DNS over embassy-net, the clock over
//! embassy-time, and the hardware RNG.
//!
//! [`Network::Stream`] has no lifetime, so a stream must own its socket. embassy-net's
//! `TcpClient` pool gives exactly that when the pool itself is `'static`: a connection borrows
//! one buffer pair from the pool and hands it back when dropped, so the buffers are reused
//! across reconnects without a second copy and without a heap.

use core::net::{IpAddr, SocketAddr};

use command_core::{Clock, ConnectError, Network, Random};
use embassy_net::dns::DnsQueryType;
use embassy_net::tcp::client::{TcpClient, TcpClientState, TcpConnection};
use embassy_net::{IpAddress, Runner, Stack};
use embassy_time::{with_timeout, Duration, Instant, Timer};
use embedded_nal_async::TcpConnect;
use esp_hal::rng::Rng;
use esp_radio::wifi::Interface;
use static_cell::StaticCell;

/// One broker connection at a time (the engine has one MQTT link).
const CONNECTIONS: usize = 1;
/// Socket buffers: one MQTT packet header plus a TLS record fragment each way.
const BUFFER_SIZE: usize = 2048;
/// Bound on the TCP handshake, so AT+TCMQTTCONN answers `-603` instead of hanging.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection type of the pool.
pub type BoardStream = TcpConnection<'static, CONNECTIONS, BUFFER_SIZE, BUFFER_SIZE>;

/// Drives an embassy-net stack: packets in and out, DHCP, DNS, TCP timers. Two run: the
/// station's and the soft AP's.
#[embassy_executor::task(pool_size = 2)]
pub async fn run_stack(mut runner: Runner<'static, Interface>) -> ! {
    runner.run().await
}

/// TCP connections through the station interface.
pub struct StackNetwork {
    stack: Stack<'static>,
    client: &'static Client,
}

/// The socket pool's client.
type Client = TcpClient<'static, CONNECTIONS, BUFFER_SIZE, BUFFER_SIZE>;

impl StackNetwork {
    /// The network of `stack`. Call once: the socket pool and its client are statics.
    pub fn new(stack: Stack<'static>) -> Self {
        static POOL: StaticCell<TcpClientState<CONNECTIONS, BUFFER_SIZE, BUFFER_SIZE>> =
            StaticCell::new();
        static CLIENT: StaticCell<Client> = StaticCell::new();
        let pool = POOL.init(TcpClientState::new());
        StackNetwork {
            stack,
            client: CLIENT.init(TcpClient::new(stack, pool)),
        }
    }

    /// The first IPv4 address of `host`, a name or a dotted literal.
    async fn resolve(&self, host: &[u8]) -> Result<IpAddr, ConnectError> {
        let name = core::str::from_utf8(host).map_err(|_| ConnectError::Dns)?;
        let addresses = self
            .stack
            .dns_query(name, DnsQueryType::A)
            .await
            .map_err(|_| ConnectError::Dns)?;
        match addresses.first() {
            Some(IpAddress::Ipv4(address)) => Ok(IpAddr::V4(*address)),
            _ => Err(ConnectError::Dns),
        }
    }
}

impl Network for StackNetwork {
    type Stream = BoardStream;

    async fn connect(&mut self, host: &[u8], port: u16) -> Result<BoardStream, ConnectError> {
        if !self.stack.is_config_up() {
            // Not joined: the name cannot be resolved, as on the original module.
            return Err(ConnectError::Dns);
        }
        let address = SocketAddr::new(self.resolve(host).await?, port);
        // The client is 'static, so is the connection: it only borrows a buffer pair.
        match with_timeout(CONNECT_TIMEOUT, self.client.connect(address)).await {
            Ok(Ok(stream)) => Ok(stream),
            _ => Err(ConnectError::Tcp),
        }
    }
}

/// Milliseconds since boot from embassy-time (the RTOS timer).
pub struct BoardClock;

impl Clock for BoardClock {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        Timer::at(Instant::from_millis(deadline_ms)).await
    }
}

/// The chip's hardware RNG, a TRNG while the radio runs (it does from boot on this board).
pub struct HardwareRandom {
    rng: Rng,
}

impl HardwareRandom {
    /// The RNG of the chip.
    pub fn new(rng: Rng) -> Self {
        HardwareRandom { rng }
    }

    /// 64 random bits for embassy-net's initial sequence numbers and ports.
    pub fn seed(&self) -> u64 {
        u64::from(self.rng.random()) << 32 | u64::from(self.rng.random())
    }
}

impl Random for HardwareRandom {
    fn random_u32(&self) -> u32 {
        self.rng.random()
    }

    fn fill_bytes(&self, destination: &mut [u8]) {
        self.rng.read(destination);
    }
}
