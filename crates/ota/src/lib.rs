#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(test)]
extern crate std;

mod digest;
mod event;
mod fmt;
pub mod http;
pub mod json;
mod message;
mod moment;
mod report;
mod update;

#[cfg(test)]
mod tests;

pub use digest::{to_hex, ImageDigest};
pub use event::{Event, FailCode, Failure, State, Status};
pub use json::{Decoded, Text};
pub use message::{Field, Message, MessageError, UpdateFirmware};
pub use moment::Moment;
pub use report::{
    write_report, write_resource_report, BufferTooSmall, Report, ResultCode, MAXIMUM_REPORT_LENGTH,
    MAXIMUM_RESOURCE_REPORT_LENGTH,
};
/// The firmware record types of the API, from `storage`.
pub use storage::{FirmwareInfo, FirmwareState};
pub use update::{
    InvalidVersion, Ota, StoredImage, CHECKPOINT_BYTES, PROGRESS_INTERVAL_MS, REBOOT_DELAY_MS,
    RETRIES, RETRY_DELAY_MS, VERSION_REREPORTS,
};

/// A version string (`AT+TCOTASET`, `update_firmware`): 1..=32 bytes.
pub type Version = heapless::Vec<u8, 32, u8>;
