#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(any(test, feature = "mock"))]
extern crate std;

mod certificates;
mod codec;
mod error;
mod firmware;
mod fmt;
mod key;
mod records;
mod settings;

#[cfg(any(test, feature = "mock"))]
pub mod mock;

#[cfg(test)]
mod tests;

pub use certificates::{
    is_certificate_name, CertificateEntry, CertificateTable, CERTIFICATE_FILES_MAX,
    CERTIFICATE_NAME_MAX, CERTIFICATE_SIZE_MAX, CERTIFICATE_SLOTS_MIN,
};
pub use error::{CertificateError, RangeError, StorageError};
pub use firmware::{FirmwareError, FirmwareInfo, FirmwareState, FirmwareWriter, MCU_IMAGE_NAME};
pub use key::RecordKey;
pub use records::{
    DeviceInfo, ModuleInfo, ProductInfo, ProvisioningErrors, Snapshot, Text, WifiMode, WifiStation,
    PROVISIONING_ERRORS_MAX,
};
pub use settings::{Settings, MINIMUM_SECTORS};
