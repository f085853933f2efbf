//! What provisioning needs from a board: a soft AP, SmartConfig, UDP
//! sockets and the LED (a proposal; the lead moves these next to the
//! engine's board traits in `command-core`).
//!
//! The split follows what differs between chips: an ESP8266 runs its AP,
//! ESP-TOUCH and lwIP sockets through the vendor SDK, the Linux board
//! simulates the AP and SmartConfig and binds real UDP sockets on
//! loopback. Station joins and the router credentials go through the
//! engine's existing `Wifi` trait; nothing here stores them. Failures are
//! the `errors.md` §6 error types the start URCs report, so a board
//! decides which of them its hardware can produce.

use core::future::Future;

use crate::Peer;

/// A provisioning or log AP (`cloud.md` §6.2, §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApConfig<'a> {
    /// SSID, 1..32 bytes.
    pub ssid: &'a [u8],
    /// Password, 8..32 bytes, or empty for an open AP (WPA/WPA2-PSK
    /// otherwise).
    pub password: &'a [u8],
    /// Channel 1..13, or 0 for automatic.
    pub channel: u8,
    /// Stations allowed at once (3 for provisioning).
    pub max_stations: u8,
}

/// The soft AP: on with a DHCP server at 192.168.4.1/24, or off (station
/// mode).
pub trait SoftAp {
    /// Switches the AP on (station mode off).
    ///
    /// # Errors
    ///
    /// The error type to report: 7 (AP init), 8 (Wi-Fi start) or 4.
    fn start_ap(&mut self, config: &ApConfig<'_>) -> Result<(), u8>;
    /// Switches the AP off and returns to station mode.
    fn stop_ap(&mut self);
}

/// Router credentials SmartConfig received, in the board's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmartConfigCredentials<'a> {
    /// Router SSID.
    pub ssid: &'a [u8],
    /// Router password (a secret).
    pub password: &'a [u8],
}

/// What SmartConfig reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmartConfigEvent<'a> {
    /// Credentials received; the engine stores them and joins.
    Credentials(SmartConfigCredentials<'a>),
    /// The app stopped SmartConfig before an IP (`FAILED,3,101`).
    Ended,
}

/// ESP-TOUCH / AirKiss reception (station mode).
pub trait SmartConfig {
    /// Starts listening.
    ///
    /// # Errors
    ///
    /// The error type to report: 6 (station init), 8, 13 (SmartConfig
    /// start) or 4.
    fn start_smartconfig(&mut self) -> Result<(), u8>;
    /// Stops listening (also after success; the ESP-TOUCH acknowledgement
    /// carrying the module's IP is the board's business).
    fn stop_smartconfig(&mut self);
    /// Waits for the next event; the credentials live in `buffer`.
    fn smartconfig_event<'a>(
        &mut self,
        buffer: &'a mut [u8; 96],
    ) -> impl Future<Output = SmartConfigEvent<'a>>;
}

/// Why a UDP operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpError {
    /// The socket could not be opened or bound (error types 15, 16).
    Bind,
    /// A send failed (error type 22).
    Send,
    /// A receive failed (error type 20).
    Receive,
}

/// One UDP socket bound to a port on every interface (8266 or 9876; the
/// Linux board binds a configured loopback address instead).
pub trait UdpSocket {
    /// Binds the socket; a bound socket is rebound.
    ///
    /// # Errors
    ///
    /// [`UdpError::Bind`].
    fn bind(&mut self, port: u16) -> Result<(), UdpError>;
    /// Sends one datagram.
    ///
    /// # Errors
    ///
    /// [`UdpError::Send`].
    fn send_to(&mut self, datagram: &[u8], to: Peer) -> impl Future<Output = Result<(), UdpError>>;
    /// Waits for one datagram; a longer one than `buffer` is truncated
    /// (and then fails to parse), as with lwIP.
    ///
    /// # Errors
    ///
    /// [`UdpError::Receive`].
    fn receive_from(
        &mut self,
        buffer: &mut [u8],
    ) -> impl Future<Output = Result<(usize, Peer), UdpError>>;
    /// Closes the socket.
    fn close(&mut self);
}

/// The status LED (active-low on GPIO `<gpio>` of the module info on an
/// ESP8266; logged and readable through the control interface on Linux).
pub trait Led {
    /// Lights the LED (`true`) or switches it off.
    fn set_led(&mut self, lit: bool);
}
