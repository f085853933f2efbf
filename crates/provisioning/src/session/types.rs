//! What the provisioning state machine is told and what it asks for.

/// Which provisioning flow runs (`cloud.md` §6.2, §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// AT+TCSAP: the module opens an AP, the app sends the router.
    SoftAp,
    /// AT+TCSTARTSMART: ESP-TOUCH/AirKiss put the module on the router.
    SmartConfig,
}

impl Mode {
    /// The URC prefix, `+TCSAP:` or `+TCSTARTSMART:`.
    #[must_use]
    pub const fn urc_prefix(self) -> &'static [u8] {
        match self {
            Self::SoftAp => b"+TCSAP:",
            Self::SmartConfig => b"+TCSTARTSMART:",
        }
    }

    /// The supervision period T: the LED toggles every T (`cloud.md` §6.6).
    #[must_use]
    pub const fn period_ms(self) -> u64 {
        match self {
            Self::SoftAp => 300,
            Self::SmartConfig => 600,
        }
    }
}

/// The module's identity, borrowed from the stored device (or product)
/// record for each call that needs it, so no copy of it lives here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Product id.
    pub product_id: &'a [u8],
    /// Device name.
    pub device_name: &'a [u8],
    /// Product region as stored.
    pub region: &'a [u8],
}

/// Which record a session starts from (`cloud.md` §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Record {
    /// Neither a device nor a product record: the start fails with 27.
    Missing,
    /// Only a product record: registration runs once Wi-Fi is up.
    Product,
    /// A device record.
    Device,
}

/// A UDP peer (the app).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Peer {
    /// IPv4 address.
    pub address: [u8; 4],
    /// UDP port.
    pub port: u16,
}

/// The module's two UDP servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Server {
    /// The provisioning server, UDP 8266 (`cloud.md` §6.4).
    Provisioning,
    /// The log server of the log softAP, UDP 9876 (`cloud.md` §6.7).
    Log,
}

/// Wi-Fi events the board reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WifiEvent {
    /// The station got an IP from the router.
    GotIp,
    /// The station lost the router (or a join attempt failed).
    Disconnected,
    /// SmartConfig ended without credentials (stopped by the app).
    SmartConfigEnded,
}

/// Outcomes of the internal MQTT session's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttEvent<'a> {
    /// CONNACK accepted.
    Connected,
    /// The connect failed with this SDK code (`errors.md` §3).
    ConnectFailed(i32),
    /// SUBACK granted.
    Subscribed,
    /// SUBACK refused, or no SUBACK.
    SubscribeFailed,
    /// The PUBLISH was written to the connection.
    PublishWritten,
    /// Writing the PUBLISH failed.
    PublishWriteFailed,
    /// The PUBACK of the token PUBLISH arrived.
    Puback,
    /// A PUBLISH arrived.
    Message {
        /// Topic name.
        topic: &'a [u8],
        /// Payload.
        payload: &'a [u8],
    },
}

/// What the caller must do next; bytes the action refers to are at the
/// front of the buffer given to [`crate::Provisioning::poll`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Action {
    /// Write these bytes to the AT UART: a result URC, CR LF included.
    Urc {
        /// Bytes at the front of the buffer.
        length: usize,
    },
    /// Start the AP (with the AT+TCSAP parameters) or SmartConfig, then
    /// report with [`crate::Provisioning::radio_started`].
    StartRadio(Mode),
    /// Switch the provisioning AP off or stop SmartConfig; station mode.
    StopRadio,
    /// softAP: AP off, station mode, join the router the app sent (the
    /// caller stored it when [`crate::Received::Router`] came back).
    JoinRouter,
    /// Open this UDP server.
    OpenServer(Server),
    /// Close this UDP server.
    CloseServer(Server),
    /// Send a datagram from `server` to `to`.
    Send {
        /// The sending server.
        server: Server,
        /// Destination.
        to: Peer,
        /// Bytes at the front of the buffer.
        length: usize,
    },
    /// Drive the LED (true = lit; the pin is active-low).
    Led(bool),
    /// Register with the product record, store the device record, then
    /// report with [`crate::Provisioning::registered`].
    Register,
    /// Connect the internal MQTT session (cmdtimeout 5000, keep-alive
    /// 240, clean session); report with [`crate::Provisioning::mqtt`].
    MqttConnect,
    /// Subscribe (QoS0) to the topic at the front of the buffer.
    MqttSubscribe {
        /// Topic length.
        length: usize,
    },
    /// Publish QoS1: the topic, then the payload, at the front of the
    /// buffer. Report the write and the PUBACK.
    MqttPublish {
        /// Topic length.
        topic_length: usize,
        /// Payload length (after the topic).
        payload_length: usize,
    },
    /// Close the internal MQTT session (DISCONNECT if connected).
    MqttDisconnect,
    /// Open the log softAP (`ESP-LOG-QUERY` / `86013388`).
    OpenLogAp,
    /// Close the log softAP.
    CloseLogAp,
    /// The previous error records changed: persist
    /// [`crate::ErrorRecords::previous`].
    SaveErrors,
}

/// What a datagram led to, beyond the queued actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received<'a> {
    /// Nothing for the caller to do now.
    Nothing,
    /// softAP: the router credentials. Store them as the station
    /// configuration now; [`crate::Action::JoinRouter`] follows.
    Router {
        /// Router SSID.
        ssid: ota::Text<'a>,
        /// Router password (a secret).
        password: ota::Text<'a>,
    },
}
