//! Simulated Wi-Fi: a list of access points from the command line (`--wifi`) and the
//! environment (`TCAT_WIFI_APS`, `hub.md` §1). Joining one of them succeeds at once with the
//! fixed DHCP result of `commands.md` §7. The provisioning side (soft AP, SmartConfig, UDP
//! servers, LED) is the [`Radio`].

use command_core::{
    Association, IpInfo, JoinError, Peer, ProvisioningEvent, SoftApConfig, UdpError, UdpServer,
    Wifi,
};

use crate::radio::Radio;

/// One simulated access point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedAp {
    /// SSID.
    pub ssid: Vec<u8>,
    /// WPA2 password; empty for an open AP.
    pub password: Vec<u8>,
    /// Signal strength in dBm.
    pub rssi: i8,
    /// MAC address.
    pub bssid: [u8; 6],
    /// Channel 1..13.
    pub channel: u8,
}

/// The simulated station.
pub struct SimulatedWifi {
    access_points: Vec<SimulatedAp>,
    joined: Option<usize>,
    radio: Radio,
}

/// The fixed simulated DHCP lease.
const LEASE: IpInfo = IpInfo {
    ip: [192, 168, 1, 100],
    gateway: [192, 168, 1, 1],
    netmask: [255, 255, 255, 0],
};

impl SimulatedWifi {
    /// A station that can see `access_points`, with the provisioning `radio`.
    pub fn new(access_points: Vec<SimulatedAp>, radio: Radio) -> Self {
        SimulatedWifi {
            access_points,
            joined: None,
            radio,
        }
    }

    /// The provisioning side, for its control socket.
    pub fn radio(&self) -> &Radio {
        &self.radio
    }

    /// A reboot leaves the AP and resets the radio.
    pub fn reset(&mut self) {
        self.joined = None;
        self.radio.reset();
    }
}

impl Wifi for SimulatedWifi {
    async fn join(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        bssid: Option<[u8; 6]>,
    ) -> Result<(), JoinError> {
        self.joined = None;
        let found = self
            .access_points
            .iter()
            .position(|ap| ap.ssid == ssid && bssid.is_none_or(|wanted| wanted == ap.bssid));
        let index = found.ok_or(JoinError::NotFound)?;
        if self.access_points[index].password != password {
            return Err(JoinError::WrongPassword);
        }
        self.joined = Some(index);
        Ok(())
    }

    async fn leave(&mut self) -> bool {
        self.joined.take().is_some()
    }

    fn association(&self) -> Option<Association> {
        let ap = &self.access_points[self.joined?];
        Some(Association {
            ssid: heapless::Vec::from_slice(&ap.ssid).ok()?,
            bssid: ap.bssid,
            channel: ap.channel,
            rssi: ap.rssi,
            ip: LEASE,
        })
    }

    /// The simulated AP always starts (beside the station, as the chips' AP+STA mode).
    fn start_soft_ap(&mut self, config: &SoftApConfig<'_>) -> Result<(), u8> {
        self.radio.start_soft_ap(config);
        Ok(())
    }

    fn stop_soft_ap(&mut self) {
        log::info!("soft AP off");
    }

    fn start_smartconfig(&mut self) -> Result<(), u8> {
        self.radio.start_smartconfig();
        Ok(())
    }

    fn stop_smartconfig(&mut self) {
        self.radio.stop_smartconfig();
    }

    fn open_udp(&mut self, server: UdpServer) -> Result<(), UdpError> {
        self.radio.open_udp(server)
    }

    fn close_udp(&mut self, server: UdpServer) {
        self.radio.close_udp(server);
    }

    async fn send_udp(
        &mut self,
        server: UdpServer,
        to: Peer,
        datagram: &[u8],
    ) -> Result<(), UdpError> {
        self.radio.send_udp(server, to, datagram).await
    }

    async fn provisioning_event(&mut self, buffer: &mut [u8]) -> ProvisioningEvent {
        let event = self.radio.event(buffer).await;
        if event == ProvisioningEvent::StationLost {
            self.joined = None;
        }
        event
    }

    fn set_led(&mut self, lit: bool) {
        self.radio.set_led(lit);
    }
}

/// Why an access-point description was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApSyntaxError(pub String);

impl std::fmt::Display for ApSyntaxError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "bad access point description: {}", self.0)
    }
}

/// Parses `ssid:password:rssi[:bssid[:channel]]`; `position` is the AP's 1-based place in
/// the whole list, which gives the default BSSID `02:00:00:00:00:<nn>`.
pub fn parse_ap(text: &str, position: usize) -> Result<SimulatedAp, ApSyntaxError> {
    let error = |why: &str| ApSyntaxError(format!("{why} in {text:?}"));
    let fields: Vec<&str> = text.split(':').collect();
    if !(2..=5).contains(&fields.len()) || fields[0].is_empty() || fields[0].len() > 32 {
        return Err(error("expected ssid:password:rssi[:bssid[:channel]]"));
    }
    let rssi = match fields.get(2) {
        Some(value) => value.parse().map_err(|_| error("bad rssi"))?,
        None => -45,
    };
    let bssid = match fields.get(3) {
        Some(hex) => parse_bssid(hex).ok_or_else(|| error("bad bssid (12 hex digits)"))?,
        None => [0x02, 0, 0, 0, 0, position as u8],
    };
    let channel = match fields.get(4) {
        Some(value) => value
            .parse()
            .ok()
            .filter(|channel| (1..=13).contains(channel))
            .ok_or_else(|| error("bad channel (1..13)"))?,
        None => 6,
    };
    Ok(SimulatedAp {
        ssid: fields[0].as_bytes().to_vec(),
        password: fields[1].as_bytes().to_vec(),
        rssi,
        bssid,
        channel,
    })
}

fn parse_bssid(hex: &str) -> Option<[u8; 6]> {
    if hex.len() != 12 {
        return None;
    }
    let mut bssid = [0u8; 6];
    for (index, byte) in bssid.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(bssid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_take_defaults_from_their_position() {
        let ap = parse_ap("hub-ap:password123:-45", 3).unwrap();
        assert_eq!(ap.bssid, [2, 0, 0, 0, 0, 3]);
        assert_eq!(ap.channel, 6);
        assert_eq!(ap.rssi, -45);
        let ap = parse_ap("hub-ap:password123:-50:02aabbccddee:11", 1).unwrap();
        assert_eq!(ap.bssid, [2, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        assert_eq!(ap.channel, 11);
    }

    #[test]
    fn bad_descriptions_are_refused() {
        for text in [
            "",
            "x",
            "a:b:loud",
            "a:b:-1:0211:3",
            "a:b:-1:02aabbccddee:14",
        ] {
            assert!(parse_ap(text, 1).is_err(), "{text}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn joins_need_the_right_password() {
        let radio = Radio::new(["127.0.0.1:0".parse().unwrap(); 2]);
        let mut wifi = SimulatedWifi::new(vec![parse_ap("lab:secret123", 1).unwrap()], radio);
        assert_eq!(
            wifi.join(b"lab", b"wrong", None).await,
            Err(JoinError::WrongPassword)
        );
        assert_eq!(
            wifi.join(b"other", b"", None).await,
            Err(JoinError::NotFound)
        );
        wifi.join(b"lab", b"secret123", None).await.unwrap();
        assert_eq!(wifi.association().unwrap().ip.ip, [192, 168, 1, 100]);
        assert!(wifi.leave().await);
        assert!(!wifi.leave().await);
    }
}
