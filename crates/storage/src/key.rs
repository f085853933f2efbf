//! The key space of the settings partition.
//!
//! sequential-storage keys every item by a value of a `Key` type. We use a raw
//! `u8` on flash rather than an enum so that a firmware that does not know a
//! key (an older image after a downgrade, or a record kind added later) still
//! scans past it instead of failing to decode the whole partition.

/// One record kind in the settings partition.
///
/// The numbers are the on-flash keys and never change; 9..=127 are free for
/// future kinds, 0 and 128..=255 are never used.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum RecordKey {
    /// Device credentials (`AT+TCDEVINFOSET`, `AT+TCDEVREG`).
    Device = 1,
    /// Product credentials (`AT+TCPRDINFOSET`).
    Product = 2,
    /// Module hardware profile (`AT+TCMODINFOSET`).
    Module = 3,
    /// Wi-Fi station configuration (`AT+CWJAP`).
    Station = 4,
    /// Wi-Fi mode (`AT+CWMODE`).
    WifiMode = 5,
    /// The OTA firmware record (`cloud.md` §4.6).
    FirmwareInfo = 6,
    /// Certificate file table (`AT+TCCERTADD`).
    CertificateTable = 7,
    /// Provisioning error records not yet sent to an app (`cloud.md` §6.6).
    ProvisioningErrors = 8,
}

impl RecordKey {
    /// Returns the byte stored on flash for this key.
    #[must_use]
    pub const fn to_byte(self) -> u8 {
        self as u8
    }
}
