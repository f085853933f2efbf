//! Errors of the settings store.
//!
//! Every operation of [`Settings`](crate::Settings) fails with the same small
//! [`StorageError`]: the AT layer answers all of them with one code
//! (`FAIL,207`), so finer distinctions would only be noise. Transport errors
//! of the flash driver are reduced to [`StorageError::Flash`] at this boundary.

use core::fmt;

use embedded_storage_async::nor_flash::NorFlashError;

/// Why a settings operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StorageError {
    /// The flash driver reported an error (read, write or erase).
    ///
    /// The store stays usable: sequential-storage repairs an interrupted
    /// operation on the next call, and the record reads as its old or new value.
    Flash,
    /// A record or the partition layout could not be decoded, even after
    /// sequential-storage's automatic repair.
    ///
    /// Storing the record again overwrites a bad record; a bad layout needs
    /// [`Settings::format`](crate::Settings::format).
    Corrupted,
    /// The partition has no room left for the record, even after garbage
    /// collection. Does not happen with the documented minimum partition size.
    Full,
    /// The internal work buffer is too small for a record. A bug of this crate.
    BufferTooSmall,
}

impl fmt::Display for StorageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Flash => "flash driver error",
            Self::Corrupted => "settings data corrupted",
            Self::Full => "settings partition full",
            Self::BufferTooSmall => "settings work buffer too small",
        };
        formatter.write_str(text)
    }
}

impl core::error::Error for StorageError {}

impl<E: NorFlashError> From<sequential_storage::Error<E>> for StorageError {
    fn from(error: sequential_storage::Error<E>) -> Self {
        use sequential_storage::map::SerializationError;
        use sequential_storage::Error;
        match error {
            Error::Storage { .. } => Self::Flash,
            Error::FullStorage | Error::ItemTooBig => Self::Full,
            Error::BufferTooSmall(_)
            | Error::BufferTooBig
            | Error::SerializationError(SerializationError::BufferTooSmall) => Self::BufferTooSmall,
            // Corrupted, LogicBug, and decode failures of our own records.
            _ => Self::Corrupted,
        }
    }
}

/// Why a partition range cannot hold the settings store.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RangeError {
    /// Start or end is not a multiple of the flash's erase size.
    NotSectorAligned,
    /// Fewer than [`MINIMUM_SECTORS`](crate::MINIMUM_SECTORS) sectors.
    TooSmall,
    /// The range ends beyond the flash's capacity.
    OutOfBounds,
    /// The flash geometry is unusable by sequential-storage (sectors too small
    /// or write words larger than 32 bytes).
    UnsupportedGeometry,
}

impl fmt::Display for RangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::NotSectorAligned => "partition not aligned to erase sectors",
            Self::TooSmall => "partition smaller than the minimum number of sectors",
            Self::OutOfBounds => "partition extends beyond the flash",
            Self::UnsupportedGeometry => "flash geometry unsupported",
        };
        formatter.write_str(text)
    }
}

impl core::error::Error for RangeError {}

/// Why a certificate file operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CertificateError {
    /// No file of that name is stored.
    NotFound,
    /// Eight other files exist; nothing was written.
    TableFull,
    /// A bad name, a size outside 1..=4096, or a read buffer too small for the file.
    Invalid,
    /// The file's contents fail their checksum (flash wear or a foreign writer).
    /// Storing the file again replaces it.
    Corrupted,
    /// The board gave the store no certificate area.
    NoArea,
    /// The settings store or the flash failed; files read as before the call.
    Storage(StorageError),
}

impl From<StorageError> for CertificateError {
    fn from(error: StorageError) -> Self {
        Self::Storage(error)
    }
}

impl fmt::Display for CertificateError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => formatter.write_str("no such certificate file"),
            Self::TableFull => formatter.write_str("certificate file table full"),
            Self::Invalid => formatter.write_str("invalid certificate file name or size"),
            Self::Corrupted => formatter.write_str("certificate file corrupted"),
            Self::NoArea => formatter.write_str("no certificate area on this board"),
            Self::Storage(error) => write!(formatter, "certificate storage: {error}"),
        }
    }
}

impl core::error::Error for CertificateError {}
