//! The board boundary: what a board gives the engine besides the UART and the flash.
//!
//! Porting to another chip means implementing these traits in a new `boards/` crate; nothing in
//! the core changes. Every method is small on purpose so that a radio driver or a simulation can
//! implement it without knowing the AT rules.

use core::future::Future;

/// An IPv4 configuration obtained by DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// Station address.
    pub ip: [u8; 4],
    /// Default gateway.
    pub gateway: [u8; 4],
    /// Network mask.
    pub netmask: [u8; 4],
}

/// The access point the station is joined to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// SSID bytes (1..32).
    pub ssid: heapless::Vec<u8, 32>,
    /// The AP's MAC address.
    pub bssid: [u8; 6],
    /// Radio channel 1..13.
    pub channel: u8,
    /// Signal strength in dBm.
    pub rssi: i8,
    /// Address obtained from the AP's DHCP server.
    pub ip: IpInfo,
}

/// Why a join failed; the discriminant is the `+CWJAP:<n>` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// No answer from the AP in time.
    Timeout = 1,
    /// The AP refused the password.
    WrongPassword = 2,
    /// No AP with that SSID (and BSSID, if given) is in range.
    NotFound = 3,
    /// Any other failure.
    Other = 4,
}

impl JoinError {
    /// The number printed in `+CWJAP:<n>`.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The Wi-Fi station interface of a board.
pub trait Wifi {
    /// Joins an AP, leaving the current one first. Bounded by the board (15 s on hardware).
    fn join(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        bssid: Option<[u8; 6]>,
    ) -> impl Future<Output = Result<(), JoinError>>;
    /// Leaves the current AP; returns whether the station was joined. Asynchronous because a
    /// radio driver waits for the disassociation to complete (esp-radio's `disconnect_async`).
    fn leave(&mut self) -> impl Future<Output = bool>;
    /// The current association, if joined and an address was obtained.
    fn association(&self) -> Option<Association>;

    /// Switches the provisioning (or log) soft AP on, station mode off (`cloud.md` §6.2,
    /// §6.7): DHCP server at 192.168.4.1/24, at most `config.max_stations` stations.
    ///
    /// The default is a board without a soft AP.
    ///
    /// # Errors
    ///
    /// The `errors.md` §6 type the start URC reports: 7 (AP init, the default), 8 (Wi-Fi
    /// start) or 4.
    fn start_soft_ap(&mut self, config: &SoftApConfig<'_>) -> Result<(), u8> {
        let _ = config;
        Err(7)
    }
    /// Switches the soft AP off and returns to station mode.
    fn stop_soft_ap(&mut self) {}
    /// Starts listening for ESP-TOUCH / AirKiss credentials (station mode). What arrives
    /// comes out of [`Wifi::provisioning_event`].
    ///
    /// The default is a board without SmartConfig.
    ///
    /// # Errors
    ///
    /// The `errors.md` §6 type the start URC reports: 13 (SmartConfig start, the default),
    /// 6 (station init), 8 or 4.
    fn start_smartconfig(&mut self) -> Result<(), u8> {
        Err(13)
    }
    /// Stops listening (also after success).
    fn stop_smartconfig(&mut self) {}
    /// Opens one of the two UDP servers (port 8266 or 9876 on every interface; the Linux
    /// board binds its configured addresses). An open server is reopened.
    ///
    /// # Errors
    ///
    /// [`UdpError::Bind`] (the default: a board without provisioning).
    fn open_udp(&mut self, server: UdpServer) -> Result<(), UdpError> {
        let _ = server;
        Err(UdpError::Bind)
    }
    /// Closes a UDP server (nothing happens if it is closed).
    fn close_udp(&mut self, server: UdpServer) {
        let _ = server;
    }
    /// Sends one datagram from `server` to `to`.
    ///
    /// # Errors
    ///
    /// [`UdpError::Send`].
    fn send_udp(
        &mut self,
        server: UdpServer,
        to: Peer,
        datagram: &[u8],
    ) -> impl Future<Output = Result<(), UdpError>> {
        let _ = (server, to, datagram);
        async { Err(UdpError::Send) }
    }
    /// Waits for the next provisioning event: a datagram on an open UDP server (written into
    /// `buffer`, truncated to it as lwIP does), SmartConfig credentials (written into
    /// `buffer`: the SSID, then the password), SmartConfig ended by the app, or the station
    /// lost its AP. Must be cancel-safe: the engine drops it whenever a line or a timer comes
    /// first, and nothing may be lost then.
    ///
    /// The default never completes (a board without provisioning).
    fn provisioning_event(&mut self, buffer: &mut [u8]) -> impl Future<Output = ProvisioningEvent> {
        let _ = buffer;
        core::future::pending()
    }
    /// Drives the status LED (`true` = lit; active-low on GPIO `<gpio>` of the module info
    /// on an ESP8266). The default is a board without an LED.
    fn set_led(&mut self, lit: bool) {
        let _ = lit;
    }
}

/// A UDP peer (the app): IPv4 address and port.
pub use provisioning::Peer;
/// The module's two UDP servers: provisioning (8266) and log (9876).
pub use provisioning::Server as UdpServer;

/// A soft AP to start (`cloud.md` §6.2 provisioning AP, §6.7 log AP).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SoftApConfig<'a> {
    /// SSID, 1..32 bytes.
    pub ssid: &'a [u8],
    /// Password, 8..32 bytes (WPA/WPA2-PSK), or empty for an open AP. A secret.
    pub password: &'a [u8],
    /// Channel 1..13, or 0 for automatic.
    pub channel: u8,
    /// Stations allowed at once.
    pub max_stations: u8,
}

impl core::fmt::Debug for SoftApConfig<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("SoftApConfig")
            .field("ssid", &self.ssid)
            .field("password", &"<secret>")
            .field("channel", &self.channel)
            .field("max_stations", &self.max_stations)
            .finish()
    }
}

/// Why a UDP operation failed (`errors.md` §6 types 16 and 22).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpError {
    /// The socket could not be opened or bound.
    Bind,
    /// A send failed.
    Send,
}

/// What [`Wifi::provisioning_event`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisioningEvent {
    /// A datagram of `length` bytes at the front of the buffer, received by `server`.
    Datagram {
        /// The receiving server.
        server: UdpServer,
        /// The sender.
        from: Peer,
        /// Bytes in the buffer.
        length: usize,
    },
    /// SmartConfig received router credentials: the SSID in the first `ssid_length` bytes of
    /// the buffer, the password (a secret) in the `password_length` bytes after it.
    SmartConfigCredentials {
        /// SSID bytes (1..32).
        ssid_length: usize,
        /// Password bytes (0..64).
        password_length: usize,
    },
    /// The app ended SmartConfig before credentials arrived.
    SmartConfigEnded,
    /// The station lost its AP.
    StationLost,
}

/// Which optional features the board offers (`commands.md` §0 "Cap").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Every capability: TLS modes 0, 1 and 2, certificate commands, AT+TCREGNET.
    Full,
    /// Answers exactly like the original ESP8266 firmware (TLS mode 1 only).
    Esp8266,
}

/// Fixed facts about the board and the build, shown by AT+GMR, AT+TCVER and AT+TCMODULE.
#[derive(Debug, Clone, Copy)]
pub struct BoardInfo {
    /// `<BOARD>` in identity strings: `LINUX`, `ESP8266`, ...
    pub board: &'static str,
    /// Release `X.Y.Z`.
    pub version: &'static str,
    /// Seven hex digits of the source revision.
    pub git_hash: &'static str,
    /// Build time in C `__DATE__ __TIME__` form, e.g. `Sep  3 2020 11:43:26`.
    pub build_time: &'static str,
    /// Last line of AT+TCVER.
    pub vendor: &'static str,
    /// Station MAC address.
    pub mac: [u8; 6],
    /// Capability profile.
    pub profile: Profile,
    /// `(free bytes, minimum free bytes since boot)` for AT+SYSRAM?.
    pub free_ram: fn() -> (u32, u32),
}

/// Milliseconds since boot, and waiting for a moment: every timeout of the MQTT service is a
/// deadline on this clock, so a simulation can drive it without real time.
pub trait Clock {
    /// Milliseconds since an arbitrary origin; never decreases.
    fn now_ms(&self) -> u64;
    /// Completes once [`Clock::now_ms`] has reached `deadline_ms`.
    fn sleep_until(&self, deadline_ms: u64) -> impl Future<Output = ()>;

    /// The current UTC time in whole seconds since 1970, once the board knows it (its host's
    /// clock, an RTC, SNTP); `None` before. Dynamic registration signs it (`cloud.md` §5).
    ///
    /// The default is a board without a time source.
    fn utc_seconds(&self) -> Option<u64> {
        None
    }

    /// Completes once [`Clock::utc_seconds`] returns a time. AT+TCDEVREG waits for it at most
    /// 5 s of its budget, then signs the clock it has (`cloud.md` §5).
    ///
    /// The default is a board without a time source: it never completes.
    fn utc_synced(&self) -> impl Future<Output = ()> {
        core::future::pending()
    }
}

/// Why [`Network::connect`] failed; the code is the first failing stage (`errors.md` §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name did not resolve (`-602`).
    Dns,
    /// The TCP connection was refused, unreachable or timed out (`-603`).
    Tcp,
    /// Certificate TLS (mode 2): the module's certificate or key is unusable, the server's
    /// certificate is not trusted or names another host, or the board has no certificate TLS
    /// (`-702`).
    Certificate,
    /// Certificate TLS (mode 2): the handshake failed otherwise: an alert, no common cipher
    /// suite, the peer closed (`-703`).
    Handshake,
}

impl ConnectError {
    /// The SDK code printed in `+TCMQTTCONN:FAIL,<code>`.
    pub fn code(self) -> i32 {
        match self {
            ConnectError::Dns => -602,
            ConnectError::Tcp => -603,
            ConnectError::Certificate => -702,
            ConnectError::Handshake => -703,
        }
    }
}

impl core::fmt::Display for ConnectError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            ConnectError::Dns => "host name not resolvable",
            ConnectError::Tcp => "TCP connect failed",
            ConnectError::Certificate => "certificate unusable or not trusted",
            ConnectError::Handshake => "TLS handshake failed",
        })
    }
}

impl core::error::Error for ConnectError {}

/// The board's TCP/IP stack, as far as the MQTT service needs it.
pub trait Network {
    /// A connected TCP stream. Its `read` must be cancel-safe (dropping a pending read loses
    /// no bytes), because the MQTT service stops reading whenever a command or a timer needs it.
    type Stream: embedded_io_async::Read + embedded_io_async::Write;

    /// Resolves `host` (a name or an IPv4 literal) and opens a TCP connection to `port`.
    fn connect(
        &mut self,
        host: &[u8],
        port: u16,
    ) -> impl Future<Output = Result<Self::Stream, ConnectError>>;

    /// Opens a TLS connection with a client certificate (TLS mode 2, `cloud.md` §1.4): DNS and
    /// TCP as [`Network::connect`], then a handshake that presents `client` and verifies the
    /// server against the Tencent IoT Hub root CA (plus any test CA the board is configured
    /// with) and against `host` (a name, or an IP literal matched against IP SANs; no SNI for
    /// a literal). The stream carries the decrypted bytes; its `read` must be cancel-safe.
    ///
    /// The default is a board without certificate TLS: it fails with
    /// [`ConnectError::Certificate`] (`-702`) before any connection.
    ///
    /// # Errors
    ///
    /// The first failing stage: [`ConnectError::Dns`], [`ConnectError::Tcp`],
    /// [`ConnectError::Certificate`] for an unusable local certificate or key, an untrusted
    /// server or a wrong host name, [`ConnectError::Handshake`] for any other handshake failure.
    fn connect_certificate(
        &mut self,
        host: &[u8],
        port: u16,
        client: ClientCertificate<'_>,
    ) -> impl Future<Output = Result<Self::Stream, ConnectError>> {
        let _ = (host, port, client);
        async { Err(ConnectError::Certificate) }
    }
    /// Opens a TLS connection that authenticates the server only: the HTTPS of OTA downloads
    /// (`cloud.md` §4.5). DNS and TCP as [`Network::connect`], then a handshake that verifies
    /// the server against the board's CA bundle (public roots, the Tencent IoT Hub root and
    /// any test CA the board is configured with) and against `host`. The stream carries the
    /// decrypted bytes; its `read` must be cancel-safe.
    ///
    /// The default is a board without certificate TLS: it fails with
    /// [`ConnectError::Certificate`] before any connection. The engine never calls it on a
    /// board whose profile is not [`Profile::Full`]: those fetch `https://` URLs as `http://`.
    ///
    /// # Errors
    ///
    /// As [`Network::connect_certificate`].
    fn connect_tls(
        &mut self,
        host: &[u8],
        port: u16,
    ) -> impl Future<Output = Result<Self::Stream, ConnectError>> {
        let _ = (host, port);
        async { Err(ConnectError::Certificate) }
    }
}

/// The module's own certificate and private key for TLS mode 2, PEM as AT+TCCERTADD stored
/// them. The key is a secret: never log it.
#[derive(Clone, Copy)]
pub struct ClientCertificate<'a> {
    /// `<base>.crt`: the certificate (chain), PEM.
    pub certificate: &'a [u8],
    /// `<base>.key`: the private key, PEM (PKCS#1, PKCS#8 or SEC1).
    pub key: &'a [u8],
}

impl core::fmt::Debug for ClientCertificate<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("ClientCertificate")
            .field("certificate", &self.certificate.len())
            .field("key", &"<secret>")
            .finish()
    }
}

/// The board's certificate parser, for AT+TCCERTCHECK (`commands.md` §2). Parsing X.509 and
/// key formats is a board capability (a device uses its TLS stack's parser), so the core
/// only hands over the bytes.
pub trait Certificates {
    /// Whether the given halves of a pair are usable: `certificate` parses as a PEM
    /// certificate, `key` as a PEM private key (PKCS#1, PKCS#8 or SEC1), and, when both are
    /// given, the key belongs to the certificate's public key. `None` means that half is not
    /// stored; at least one half is always given.
    fn check(&self, certificate: Option<&[u8]>, key: Option<&[u8]>) -> bool;
}

/// The board's random number generator: connection ids, packet ids, reconnect jitter, and the
/// TLS-PSK hello random and per-record IVs.
///
/// Because TLS draws from it, it must be **cryptographically secure** (a hardware TRNG, the
/// OS, or a CSPRNG seeded from one); [`crate::mqtt::TlsRandom`] presents it to `tls-psk` as a
/// `rand_core` `RngCore + CryptoRng` on that promise. Methods take `&self` so that the MQTT
/// session and the TLS connection can share one generator without a lock; a generator with
/// state keeps it in a `Cell`/`RefCell` (the engine is single-threaded).
pub trait Random {
    /// 32 random bits.
    fn random_u32(&self) -> u32;

    /// Fills `destination` with random bytes. The default draws [`Random::random_u32`] words;
    /// boards whose source yields bytes directly override it.
    fn fill_bytes(&self, destination: &mut [u8]) {
        for chunk in destination.chunks_mut(4) {
            let word = self.random_u32().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// A board without a network: every connect fails at DNS, time stands still. `run` uses it so
/// that boards and tests written before the MQTT service keep working unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offline;

impl Clock for Offline {
    fn now_ms(&self) -> u64 {
        0
    }

    async fn sleep_until(&self, _deadline_ms: u64) {
        core::future::pending::<()>().await
    }
}

impl Network for Offline {
    type Stream = OfflineStream;

    async fn connect(&mut self, _host: &[u8], _port: u16) -> Result<OfflineStream, ConnectError> {
        Err(ConnectError::Dns)
    }
}

impl Certificates for Offline {
    /// A board without a certificate parser finds no file usable (`+TCCERTCHECK:FAIL,203`).
    fn check(&self, _certificate: Option<&[u8]>, _key: Option<&[u8]>) -> bool {
        false
    }
}

impl Random for Offline {
    fn random_u32(&self) -> u32 {
        // Any value is valid; nothing random is ever sent without a network.
        0x5eed_1234
    }
}

/// The stream type of [`Offline`]; it can never be created.
#[derive(Debug)]
pub enum OfflineStream {}

impl embedded_io_async::ErrorType for OfflineStream {
    type Error = core::convert::Infallible;
}

impl embedded_io_async::Read for OfflineStream {
    async fn read(&mut self, _buffer: &mut [u8]) -> Result<usize, Self::Error> {
        match *self {}
    }
}

impl embedded_io_async::Write for OfflineStream {
    async fn write(&mut self, _buffer: &[u8]) -> Result<usize, Self::Error> {
        match *self {}
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        match *self {}
    }
}
