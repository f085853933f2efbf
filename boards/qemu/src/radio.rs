//! A simulated Wi-Fi station for the QEMU harness, seeing the same access points as the Linux
//! board's end-to-end tests, so the `wifi` and `restore` transcripts read the same on both.

use command_core::{Association, IpInfo, JoinError, Wifi};

/// An access point the simulated radio can see.
struct AccessPoint {
    ssid: &'static [u8],
    password: &'static [u8],
    bssid: [u8; 6],
    channel: u8,
    rssi: i8,
}

/// The access points of the Linux board's end-to-end tests (`TCAT_WIFI_APS` there:
/// `hub-ap:password123:-45;lab-ap:labpass99:-67:02aabbccddee:11`), with the Linux board's
/// defaults for what that list leaves out, so the transcripts read the same on both.
const ACCESS_POINTS: [AccessPoint; 2] = [
    AccessPoint {
        ssid: b"hub-ap",
        password: b"password123",
        bssid: [0x02, 0, 0, 0, 0, 0x01],
        channel: 6,
        rssi: -45,
    },
    AccessPoint {
        ssid: b"lab-ap",
        password: b"labpass99",
        bssid: [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee],
        channel: 11,
        rssi: -67,
    },
];

/// The DHCP lease every join gets, as on the Linux board.
const LEASE: IpInfo = IpInfo {
    ip: [192, 168, 1, 100],
    gateway: [192, 168, 1, 1],
    netmask: [255, 255, 255, 0],
};

/// A station that sees [`ACCESS_POINTS`]; joins succeed at once.
#[derive(Default)]
pub struct SimulatedRadio {
    joined: Option<usize>,
}

impl SimulatedRadio {
    /// A reboot leaves the AP (the engine joins the stored one again at boot).
    pub fn reset(&mut self) {
        self.joined = None;
    }
}

impl Wifi for SimulatedRadio {
    async fn join(
        &mut self,
        ssid: &[u8],
        password: &[u8],
        bssid: Option<[u8; 6]>,
    ) -> Result<(), JoinError> {
        self.joined = None;
        let index = ACCESS_POINTS
            .iter()
            .position(|ap| ap.ssid == ssid && bssid.is_none_or(|wanted| wanted == ap.bssid))
            .ok_or(JoinError::NotFound)?;
        if ACCESS_POINTS[index].password != password {
            return Err(JoinError::WrongPassword);
        }
        self.joined = Some(index);
        Ok(())
    }

    async fn leave(&mut self) -> bool {
        self.joined.take().is_some()
    }

    fn association(&self) -> Option<Association> {
        let ap = &ACCESS_POINTS[self.joined?];
        Some(Association {
            ssid: heapless::Vec::from_slice(ap.ssid).ok()?,
            bssid: ap.bssid,
            channel: ap.channel,
            rssi: ap.rssi,
            ip: LEASE,
        })
    }
}
