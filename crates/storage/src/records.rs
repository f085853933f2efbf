//! The typed records this crate persists (`cloud.md` §7).
//!
//! The types only carry data: checking argument ranges belongs to the AT
//! handlers, which answer with the spec's error codes. Capacities match the
//! largest value any handler accepts, so every accepted value fits.

use core::fmt;

/// A byte string of at most `N` bytes. Any byte is allowed, NUL included,
/// because secrets and SSIDs are opaque to the module.
///
/// The length is one byte: every record field is at most 64 bytes, and the engine keeps a
/// dozen of these in RAM (the settings mirror), where a `usize` length cost 7 bytes more each
/// on a 64-bit host and 3 on the chip.
pub type Text<const N: usize> = heapless::Vec<u8, N, u8>;

/// Shows a byte string as text where it is printable, escaped elsewhere.
struct Shown<'a>(&'a [u8]);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "\"{}\"", self.0.escape_ascii())
    }
}

/// Stands in for a secret in `Debug` output.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "<{} secret bytes>", self.0)
    }
}

impl fmt::Debug for DeviceInfo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Mode 2 keeps a certificate file name here, which is not secret,
        // but one rule for all modes is easier to audit.
        formatter
            .debug_struct("DeviceInfo")
            .field("tls_mode", &self.tls_mode)
            .field("product_id", &Shown(&self.product_id))
            .field("device_name", &Shown(&self.device_name))
            .field("secret", &Redacted(self.secret.len()))
            .field("region", &Shown(&self.region))
            .finish()
    }
}

impl fmt::Debug for ProductInfo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ProductInfo")
            .field("tls_mode", &self.tls_mode)
            .field("product_id", &Shown(&self.product_id))
            .field("product_secret", &Redacted(self.product_secret.len()))
            .field("device_name", &Shown(&self.device_name))
            .field("region", &Shown(&self.region))
            .finish()
    }
}

impl fmt::Debug for WifiStation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("WifiStation")
            .field("ssid", &Shown(&self.ssid))
            .field("password", &Redacted(self.password.len()))
            .finish()
    }
}

/// Device credentials, written by `AT+TCDEVINFOSET` and `AT+TCDEVREG`.
///
/// `Debug` shows the secret's length only, so logging a record never leaks it.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// TLS mode: 0 plain TCP, 1 TLS-PSK, 2 certificate.
    pub tls_mode: u8,
    /// Product id, 1..10 bytes.
    pub product_id: Text<10>,
    /// Device name, 1..48 bytes.
    pub device_name: Text<48>,
    /// Device secret (modes 0/1, up to 44 bytes) or certificate file name
    /// (mode 2, up to 64 bytes). Never print it.
    pub secret: Text<64>,
    /// Region, 1..24 bytes (`ap-guangzhou` when the host gave none).
    pub region: Text<24>,
}

/// Product credentials for dynamic registration, written by `AT+TCPRDINFOSET`.
///
/// `Debug` shows the secret's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct ProductInfo {
    /// TLS mode: 0 plain TCP, 1 TLS-PSK, 2 certificate.
    pub tls_mode: u8,
    /// Product id, 1..10 bytes.
    pub product_id: Text<10>,
    /// Product secret, 1..32 bytes. Never print it.
    pub product_secret: Text<32>,
    /// Device name, 1..48 bytes.
    pub device_name: Text<48>,
    /// Region, 1..24 bytes.
    pub region: Text<24>,
}

/// Module hardware profile, written by `AT+TCMODINFOSET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Module name, 1..30 bytes.
    pub name: Text<30>,
    /// Flash size in MiB (2 or 4).
    pub flash_mb: u8,
    /// GPIO of the Wi-Fi LED (0..16).
    pub led_gpio: u8,
    /// Base address of the MCU firmware cache.
    pub fw_base: u32,
    /// Maximum size of the MCU firmware cache.
    pub fw_max: u32,
    /// The seed's "fixed connid" field: stored, never used.
    pub reserved: i32,
}

impl Default for ModuleInfo {
    /// Returns the profile the spec prescribes when no record exists:
    /// `"ESP-DEFAULT-2MB",2,5,1114112,909312,1`.
    fn default() -> Self {
        let mut name = Text::new();
        // The literal is shorter than the capacity, so this cannot fail.
        let _ = name.extend_from_slice(b"ESP-DEFAULT-2MB");
        Self {
            name,
            flash_mb: 2,
            led_gpio: 5,
            fw_base: 1_114_112,
            fw_max: 909_312,
            reserved: 1,
        }
    }
}

/// Most provisioning error records kept (`cloud.md` §6.6).
pub const PROVISIONING_ERRORS_MAX: usize = 16;

/// The provisioning error records a session could not send to its app, oldest first, as
/// `(type, sub-code)` pairs (`errors.md` §6): the next session's app receives them as
/// `Previous_Error`. Two numbers each, so they can never hold a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisioningErrors {
    /// `(type, sub-code)`, oldest first.
    pub records: heapless::Vec<(u8, i32), PROVISIONING_ERRORS_MAX>,
}

/// Wi-Fi station configuration, written by a successful `AT+CWJAP`.
///
/// `Debug` shows the password's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct WifiStation {
    /// SSID, 1..32 bytes.
    pub ssid: Text<32>,
    /// Password, 0..63 bytes (empty for an open network). Never print it.
    pub password: Text<63>,
}

/// Wi-Fi mode set by `AT+CWMODE` (0..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WifiMode(pub u8);

impl WifiMode {
    /// The mode in force when none is stored (station).
    pub const FACTORY_DEFAULT: Self = Self(1);
}

impl Default for WifiMode {
    fn default() -> Self {
        Self::FACTORY_DEFAULT
    }
}

/// All persisted settings, as read at boot; the engine keeps this copy in RAM.
///
/// `None` means "no record": the caller applies the spec's defaults
/// ([`ModuleInfo::default`], [`WifiMode::FACTORY_DEFAULT`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Device credentials.
    pub device: Option<DeviceInfo>,
    /// Product credentials.
    pub product: Option<ProductInfo>,
    /// Module hardware profile.
    pub module: Option<ModuleInfo>,
    /// Wi-Fi station configuration.
    pub station: Option<WifiStation>,
    /// Wi-Fi mode.
    pub wifi_mode: Option<WifiMode>,
}
