#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(any(test, feature = "mock"))]
extern crate std;

mod codec;
mod error;
mod fmt;
mod key;
mod records;
mod settings;

#[cfg(any(test, feature = "mock"))]
pub mod mock;

#[cfg(test)]
mod tests;

pub use error::{RangeError, StorageError};
pub use key::RecordKey;
pub use records::{DeviceInfo, ModuleInfo, ProductInfo, Snapshot, Text, WifiMode, WifiStation};
pub use settings::{Settings, MINIMUM_SECTORS};
