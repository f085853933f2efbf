//! RAM state of the module: what a reboot resets (`commands.md` §0 "RAM defaults after boot").
//!
//! Persisted records are mirrored here after every successful write, so queries never touch
//! flash and a failed write leaves the RAM copy equal to the flash.

#[cfg(feature = "certificates")]
use storage::CertificateTable;
use storage::{ModuleInfo, Snapshot};

/// Longest AT+TCMQTTSRV value.
pub const MQTT_SERVER_MAX: usize = 63;

/// Everything the engine keeps in RAM between commands.
#[derive(Debug, Clone)]
pub struct RamState {
    /// AT+TCMQTTSRV override; `None` until set since boot (a one-byte length: 63 bytes fit).
    pub mqtt_server: Option<heapless::Vec<u8, MQTT_SERVER_MAX, u8>>,
    /// Parameters of the last successful AT+TCMQTTCONN (`1,5000,240,1,1` after boot).
    pub mqtt_parameters: MqttParameters,
    /// AT+TCLOG level 0..4; 1 after boot.
    pub log_level: u8,
    /// Mirror of the persisted records, but for the module record, which is the one in effect
    /// since boot (AT+TCMODINFOSET takes effect at the next boot).
    pub settings: Snapshot,
    /// AT+TCMODINFOSET stored a module record other than the one in effect: AT+TCMODINFOSET?
    /// reads it back from flash. The record is kept once, not twice (stored and in effect:
    /// 48 bytes for as long as the engine runs) for a query that is rare after a set.
    pub module_pending: bool,
    /// Mirror of the certificate file table (names and sizes for the `?` forms and the
    /// mode-2 checks of AT+TCDEVINFOSET); empty until the engine reads it at boot. Without
    /// `certificates` no command lists the files and AT+TCDEVINFOSET reads the table from
    /// flash when it needs it (648 bytes less RAM).
    #[cfg(feature = "certificates")]
    pub certificates: CertificateTable,
}

impl RamState {
    /// Boot state built from the records read from flash.
    pub fn boot(settings: Snapshot) -> Self {
        RamState {
            mqtt_server: None,
            mqtt_parameters: MqttParameters::default(),
            log_level: 1,
            settings,
            module_pending: false,
            #[cfg(feature = "certificates")]
            certificates: CertificateTable::default(),
        }
    }

    /// The module record in effect since boot (the spec's defaults without one).
    pub fn module(&self) -> ModuleInfo {
        self.settings.module.clone().unwrap_or_default()
    }

    /// The Wi-Fi mode (factory default 1).
    pub fn wifi_mode(&self) -> u8 {
        self.settings.wifi_mode.map_or(1, |mode| mode.0)
    }
}

/// The five AT+TCMQTTCONN values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MqttParameters {
    /// TLS mode 0, 1 or 2.
    pub tls_mode: u8,
    /// 1000..=20000 ms.
    pub command_timeout_ms: u32,
    /// 60..=690 s.
    pub keep_alive_s: u16,
    /// Clean-session flag.
    pub clean_session: bool,
    /// Automatic reconnect.
    pub reconnect: bool,
}

impl Default for MqttParameters {
    fn default() -> Self {
        MqttParameters {
            tls_mode: 1,
            command_timeout_ms: 5000,
            keep_alive_s: 240,
            clean_session: true,
            reconnect: true,
        }
    }
}

/// The spec's state predicates (`commands.md` §0), computed from the services' own state
/// machines at dispatch time so that they can never drift from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gates {
    /// A host MQTT session exists.
    pub run: bool,
    /// The host MQTT session is usable.
    pub conn: bool,
    /// An OTA download attempt is running.
    pub download: bool,
    /// A provisioning session is running.
    pub provisioning: bool,
}
