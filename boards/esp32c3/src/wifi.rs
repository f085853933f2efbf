//! The Wi-Fi station over esp-radio: AT+CWJAP joins, AT+CWQAP leaves, AT+CWJAP? reports.
//!
//! A join is one bounded attempt (15 s, as on the original module) covering association and
//! DHCP, because the engine prints `WIFI GOT IP` only once an address exists. The driver's
//! disconnect reason is mapped to the `+CWJAP:<n>` code the host expects.
//!
//! Provisioning: the soft AP is esp-radio's access-point mode (station off while it is on),
//! the UDP servers live on the soft AP's own stack (`provisioning.rs`). No SmartConfig (the
//! trait's default) and no status LED: esp-radio has no SmartConfig API, and the C3/C2
//! modules have no LED pin in common.

use command_core::{
    Association, IpInfo, JoinError, Peer, ProvisioningEvent, SoftApConfig, UdpError, UdpServer,
    Wifi,
};
use embassy_net::Stack;
use embassy_time::{with_timeout, Duration};
use esp_radio::wifi::ap::AccessPointConfig;
use esp_radio::wifi::sta::StationConfig;
use esp_radio::wifi::{
    AuthenticationMethodConfig, Config, ConnectionError, DisconnectReason, Password, Ssid,
    WifiController,
};

use crate::provisioning::Servers;

/// How long a join may take, association and DHCP together.
const JOIN_TIMEOUT: Duration = Duration::from_secs(15);

/// The station interface of the board.
pub struct RadioWifi {
    controller: WifiController<'static>,
    stack: Stack<'static>,
    /// What the last successful join reported; `None` while not joined.
    joined: Option<Joined>,
    /// The provisioning UDP servers on the soft AP's stack.
    servers: Servers,
    /// Whether the soft AP is on (the radio is in access-point mode).
    soft_ap: bool,
}

/// The facts of the current association that the driver does not keep for us.
struct Joined {
    ssid: heapless::Vec<u8, 32>,
    bssid: [u8; 6],
    channel: u8,
}

impl RadioWifi {
    /// A station that is not joined yet.
    pub fn new(
        controller: WifiController<'static>,
        stack: Stack<'static>,
        servers: Servers,
    ) -> Self {
        RadioWifi {
            controller,
            stack,
            joined: None,
            servers,
            soft_ap: false,
        }
    }

    /// Association and DHCP, without the time bound.
    async fn associate(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        bssid: Option<[u8; 6]>,
    ) -> Result<Joined, JoinError> {
        let authentication = if password.is_empty() {
            AuthenticationMethodConfig::Open
        } else {
            let password = Password::try_from(password).map_err(|_| JoinError::Other)?;
            AuthenticationMethodConfig::WpaWpa2Personal(password)
        };
        let name = Ssid::try_from(ssid).map_err(|_| JoinError::NotFound)?;
        let mut station = StationConfig::default()
            .with_ssid(name)
            .with_authentication(authentication);
        if let Some(bssid) = bssid {
            station = station.with_bssid(bssid);
        }
        self.controller
            .set_config(&Config::Station(station))
            .map_err(|_| JoinError::Other)?;
        let connected = self
            .controller
            .connect_async()
            .await
            .map_err(|error| match error {
                ConnectionError::Failed(info) => join_error(info.reason),
                _ => JoinError::Other,
            })?;
        self.stack.wait_config_up().await;
        Ok(Joined {
            ssid: heapless::Vec::from_slice(ssid).map_err(|_| JoinError::NotFound)?,
            bssid: connected.bssid,
            channel: connected.channel,
        })
    }
}

impl Wifi for RadioWifi {
    async fn join(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        bssid: Option<[u8; 6]>,
    ) -> Result<(), JoinError> {
        self.leave().await;
        match with_timeout(JOIN_TIMEOUT, self.associate(ssid, password, bssid)).await {
            Ok(Ok(joined)) => {
                self.joined = Some(joined);
                Ok(())
            }
            Ok(Err(error)) => {
                self.leave().await;
                Err(error)
            }
            Err(_) => {
                self.leave().await;
                Err(JoinError::Timeout)
            }
        }
    }

    async fn leave(&mut self) -> bool {
        let was_joined = self.joined.take().is_some();
        // Also cancels an attempt in progress; "not connected" is the state we want anyway.
        let _ = self.controller.disconnect_async().await;
        was_joined
    }

    fn association(&self) -> Option<Association> {
        let joined = self.joined.as_ref()?;
        let config = self.stack.config_v4()?;
        let netmask = u32::MAX
            .checked_shl(32 - u32::from(config.address.prefix_len()))
            .unwrap_or(0);
        Some(Association {
            ssid: joined.ssid.clone(),
            bssid: joined.bssid,
            channel: joined.channel,
            rssi: self
                .controller
                .rssi()
                .map_or(0, |rssi| rssi.clamp(-128, 0) as i8),
            ip: IpInfo {
                ip: config.address.address().octets(),
                gateway: config.gateway.map_or([0; 4], |gateway| gateway.octets()),
                netmask: netmask.to_be_bytes(),
            },
        })
    }

    /// The driver's own station limit applies (`max_stations` needs esp-radio's unstable API).
    fn start_soft_ap(&mut self, config: &SoftApConfig<'_>) -> Result<(), u8> {
        let authentication = if config.password.is_empty() {
            AuthenticationMethodConfig::Open
        } else {
            AuthenticationMethodConfig::WpaWpa2Personal(
                Password::try_from(config.password).map_err(|_| 7u8)?,
            )
        };
        let access_point = AccessPointConfig::default()
            .with_ssid(Ssid::try_from(config.ssid).map_err(|_| 7u8)?)
            .with_channel(config.channel.max(1))
            .with_authentication(authentication);
        self.controller
            .set_config(&Config::AccessPoint(access_point))
            .map_err(|_| 8u8)?;
        // Station mode is off: the association ended with it.
        self.joined = None;
        self.soft_ap = true;
        Ok(())
    }

    fn stop_soft_ap(&mut self) {
        if core::mem::take(&mut self.soft_ap) {
            // Back to an idle station; the engine joins when it has a router.
            let _ = self
                .controller
                .set_config(&Config::Station(StationConfig::default()));
        }
    }

    fn open_udp(&mut self, server: UdpServer) -> Result<(), UdpError> {
        self.servers.open(server)
    }

    fn close_udp(&mut self, server: UdpServer) {
        self.servers.close(server);
    }

    async fn send_udp(
        &mut self,
        server: UdpServer,
        to: Peer,
        datagram: &[u8],
    ) -> Result<(), UdpError> {
        self.servers.send(server, to, datagram).await
    }

    /// Datagrams only: the loss of the station's AP is not reported on this board.
    async fn provisioning_event(&mut self, buffer: &mut [u8]) -> ProvisioningEvent {
        self.servers.next(buffer).await
    }
}

/// The `+CWJAP:<n>` code for the driver's reason.
fn join_error(reason: DisconnectReason) -> JoinError {
    match reason {
        DisconnectReason::AuthenticationFailed
        | DisconnectReason::FourWayHandshakeTimeout
        | DisconnectReason::HandshakeTimeout
        | DisconnectReason::MicFailure => JoinError::WrongPassword,
        DisconnectReason::NoAccessPointFound
        | DisconnectReason::NoAccessPointFoundWithCompatibleSecurity
        | DisconnectReason::NoAccessPointFoundInAuthmodeThreshold
        | DisconnectReason::NoAccessPointFoundInRssiThreshold => JoinError::NotFound,
        DisconnectReason::Timeout | DisconnectReason::BeaconTimeout => JoinError::Timeout,
        _ => JoinError::Other,
    }
}
