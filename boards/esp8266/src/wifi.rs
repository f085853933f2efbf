//! The Wi-Fi station over the SDK: AT+CWJAP sets the current config and connects, then the
//! station status is checked every 100 ms (on the SDK timer, so the chip sleeps in between)
//! until an address is obtained, the SDK reports a failure, or 15 s pass.

use core::future::poll_fn;
use core::task::Poll;

use command_core::{
    Association, Clock, IpInfo, JoinError, Peer, ProvisioningEvent, SoftApConfig, UdpError,
    UdpServer, Wifi,
};

use crate::io::SdkClock;
use crate::{provisioning, sdk};

/// How long a join may take, association and DHCP together.
const JOIN_TIMEOUT_MS: u64 = 15_000;
/// How often the station status is looked at during a join.
const STATUS_INTERVAL_MS: u64 = 100;

/// The station interface of the SDK.
pub struct SdkWifi {
    /// SSID of the current association, `None` while not joined.
    joined: Option<heapless::Vec<u8, 32>>,
    bssid: [u8; 6],
}

impl SdkWifi {
    /// A station that is not joined.
    pub fn new() -> Self {
        SdkWifi {
            joined: None,
            bssid: [0; 6],
        }
    }
}

/// Hands the station config to the SDK and starts the association.
fn start_join(ssid: &[u8], password: &[u8], bssid: Option<[u8; 6]>) -> Result<(), JoinError> {
    let mut config = sdk::StationConfig {
        ssid: [0; 32],
        password: [0; 64],
        channel: 0,
        bssid_set: u8::from(bssid.is_some()),
        bssid: bssid.unwrap_or([0; 6]),
        threshold_rssi: -127,
        threshold_authmode: 0,
        open_and_wep_mode_disable: false,
        all_channel_scan: false,
    };
    let name = config
        .ssid
        .get_mut(..ssid.len())
        .ok_or(JoinError::NotFound)?;
    name.copy_from_slice(ssid);
    let secret = config
        .password
        .get_mut(..password.len())
        .ok_or(JoinError::Other)?;
    secret.copy_from_slice(password);
    // SAFETY: `config` outlives the call; the SDK copies it.
    let accepted = unsafe { sdk::wifi_station_set_config_current(&mut config) };
    // SAFETY: plain SDK call.
    if !accepted || !unsafe { sdk::wifi_station_connect() } {
        return Err(JoinError::Other);
    }
    Ok(())
}

impl Wifi for SdkWifi {
    async fn join(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        bssid: Option<[u8; 6]>,
    ) -> Result<(), JoinError> {
        self.leave().await;
        // The 112-byte SDK config is built and handed over before the first await, so it
        // never becomes part of the engine future's state.
        start_join(ssid, password, bssid)?;
        let clock = SdkClock;
        let deadline = clock.now_ms() + JOIN_TIMEOUT_MS;
        loop {
            // SAFETY: plain SDK call.
            let status = unsafe { sdk::wifi_station_get_connect_status() };
            let failure = match status {
                sdk::STATION_GOT_IP => {
                    self.joined =
                        Some(heapless::Vec::from_slice(ssid).map_err(|_| JoinError::NotFound)?);
                    self.bssid = bssid.unwrap_or([0; 6]);
                    return Ok(());
                }
                sdk::STATION_WRONG_PASSWORD => Some(JoinError::WrongPassword),
                sdk::STATION_NO_AP_FOUND => Some(JoinError::NotFound),
                sdk::STATION_IDLE | sdk::STATION_CONNECTING => None,
                _ => Some(JoinError::Other),
            };
            let now = clock.now_ms();
            let failure = failure.or((now >= deadline).then_some(JoinError::Timeout));
            if let Some(error) = failure {
                // SAFETY: plain SDK call.
                unsafe { sdk::wifi_station_disconnect() };
                return Err(error);
            }
            clock.sleep_until(now + STATUS_INTERVAL_MS).await;
        }
    }

    async fn leave(&mut self) -> bool {
        // SAFETY: plain SDK call; disconnecting while idle is harmless.
        unsafe { sdk::wifi_station_disconnect() };
        self.joined.take().is_some()
    }

    fn association(&self) -> Option<Association> {
        let ssid = self.joined.clone()?;
        let mut info = sdk::IpInfo {
            ip: [0; 4],
            netmask: [0; 4],
            gateway: [0; 4],
        };
        // SAFETY: the SDK fills `info`.
        if !unsafe { sdk::wifi_get_ip_info(sdk::STATION_IF, &mut info) } {
            return None;
        }
        Some(Association {
            ssid,
            bssid: self.bssid,
            // SAFETY: plain SDK calls.
            channel: unsafe { sdk::wifi_get_channel() },
            rssi: unsafe { sdk::wifi_station_get_rssi() },
            ip: IpInfo {
                ip: info.ip,
                gateway: info.gateway,
                netmask: info.netmask,
            },
        })
    }

    fn start_soft_ap(&mut self, config: &SoftApConfig<'_>) -> Result<(), u8> {
        provisioning::start_soft_ap(config)?;
        // Station mode is off: the association ended with it, and is no loss to report.
        self.joined = None;
        Ok(())
    }

    fn stop_soft_ap(&mut self) {
        provisioning::stop_soft_ap();
    }

    fn start_smartconfig(&mut self) -> Result<(), u8> {
        provisioning::start_smartconfig()
    }

    fn stop_smartconfig(&mut self) {
        provisioning::stop_smartconfig();
    }

    fn open_udp(&mut self, server: UdpServer) -> Result<(), UdpError> {
        provisioning::open_udp(server)
    }

    fn close_udp(&mut self, server: UdpServer) {
        provisioning::close_udp(server);
    }

    async fn send_udp(
        &mut self,
        server: UdpServer,
        to: Peer,
        datagram: &[u8],
    ) -> Result<(), UdpError> {
        provisioning::send_udp(server, to, datagram)
    }

    /// A datagram, SmartConfig's credentials, or the loss of the joined AP (the SDK's Wi-Fi
    /// events wake the engine; the station status tells whether it still has an address).
    async fn provisioning_event(&mut self, buffer: &mut [u8]) -> ProvisioningEvent {
        poll_fn(|_| {
            if let Some(event) = provisioning::take_event(buffer) {
                return Poll::Ready(event);
            }
            // SAFETY: plain SDK call.
            let joined = unsafe { sdk::wifi_station_get_connect_status() } == sdk::STATION_GOT_IP;
            if self.joined.is_some() && !joined {
                self.joined = None;
                return Poll::Ready(ProvisioningEvent::StationLost);
            }
            Poll::Pending
        })
        .await
    }

    fn set_led(&mut self, lit: bool) {
        provisioning::set_led(lit);
    }
}
