//! The cached OTA image and its record (`cloud.md` §4.6).
//!
//! The image (up to 909,312 bytes by default) lives in a raw, sector-aligned
//! **image area**; the **record** (state, name, version, MD5, size, bytes
//! stored, maximum) is one item of the settings map
//! ([`RecordKey::FirmwareInfo`](crate::RecordKey::FirmwareInfo)), so it is
//! replaced atomically.
//!
//! Power cuts: the record's byte count must never claim bytes that are not
//! in flash. A [`FirmwareWriter`] programs image bytes in write-word units
//! straight from the caller's slice, keeping only the last partial word (at
//! most 31 bytes) until more bytes arrive. [`FirmwareWriter::stored`] counts
//! only bytes already programmed, and it is the only count the OTA code
//! stores, after the write returned. So a cut before the record update
//! leaves the older, smaller count, and a cut during it leaves the old or
//! the new record. A fresh download replaces the record (state
//! "downloading", 0 bytes) *before* the first erase, so an old valid image
//! is never described by a record after its sectors were touched.
//!
//! Each sector is erased right before its first byte is written. On resume
//! at a stored count inside a sector, that sector is not erased: bytes past
//! the count may already hold the same image bytes (programmed after the
//! last checkpoint), and programming a word again with the same value leaves
//! it unchanged on NOR flash, which is why image writes need a
//! [`MultiwriteNorFlash`].

use core::fmt;
use core::future::Future;
use core::ops::Range;

use embedded_storage_async::nor_flash::{MultiwriteNorFlash, NorFlash};

use crate::error::StorageError;
use crate::fmt::debug;
use crate::records::Text;
use crate::settings::Settings;

/// The item name of an MCU image (`cloud.md` §4.6).
pub const MCU_IMAGE_NAME: &[u8] = b"mcu_ota_fw.bin";

/// Largest flash write word the writer supports (sequential-storage's limit too).
const MAXIMUM_WORD: usize = 32;

/// What the cached image is (`cloud.md` §4.6; "0 none" is the absent record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum FirmwareState {
    /// An MCU image is being downloaded.
    McuDownloading = 1,
    /// A complete MCU image whose MD5 matched.
    McuValid = 2,
    /// A module image (self-update) is being downloaded.
    ModuleDownloading = 3,
    /// A complete module image whose MD5 matched.
    ModuleValid = 4,
}

impl FirmwareState {
    pub(crate) fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            1 => Self::McuDownloading,
            2 => Self::McuValid,
            3 => Self::ModuleDownloading,
            4 => Self::ModuleValid,
            _ => return None,
        })
    }
}

/// The persisted firmware record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FirmwareInfo {
    /// What the image area holds.
    pub state: FirmwareState,
    /// [`MCU_IMAGE_NAME`], or the resource name of a module image.
    pub name: Text<64>,
    /// Version being downloaded or stored, 1..=32 bytes.
    pub version: Text<32>,
    /// MD5 the cloud announced.
    pub md5: [u8; 16],
    /// Image size in bytes.
    pub size: u32,
    /// Bytes `0..downloaded` are in flash (equal to `size` when valid).
    pub downloaded: u32,
    /// The module's maximum image size when the record was written.
    pub max_size: u32,
}

/// Why an image-area operation failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FirmwareError {
    /// The board gave the store no image area.
    NoArea,
    /// The bytes would lie beyond the image area.
    OutOfRange,
    /// The flash driver failed; bytes counted by [`FirmwareWriter::stored`]
    /// before the call are still in flash.
    Flash,
}

impl fmt::Display for FirmwareError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::NoArea => "no firmware image area on this board",
            Self::OutOfRange => "beyond the firmware image area",
            Self::Flash => "firmware image flash error",
        })
    }
}

impl core::error::Error for FirmwareError {}

/// The image area: sector-aligned, inside the flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FirmwareArea {
    pub(crate) start: u32,
    pub(crate) length: u32,
}

impl FirmwareArea {
    pub(crate) fn new(range: &Range<u32>, sector: u32, capacity: u32) -> Option<Self> {
        let aligned = range.start.is_multiple_of(sector) && range.end.is_multiple_of(sector);
        (aligned && range.start < range.end && range.end <= capacity).then(|| Self {
            start: range.start,
            length: range.end - range.start,
        })
    }
}

/// Sequential writer of one image, held by the OTA code across writes.
#[derive(Debug, Clone)]
pub struct FirmwareWriter {
    /// Image offset of the next byte handed in.
    position: u32,
    /// Sectors below this image offset are erased (or hold this image).
    erased_end: u32,
    /// Bytes of a partial write word, starting at `position - tail_length`.
    tail: [u8; MAXIMUM_WORD],
    tail_length: u8,
}

impl FirmwareWriter {
    /// A writer for a fresh image, from offset 0.
    #[must_use]
    pub const fn fresh() -> Self {
        Self::resume(0)
    }

    /// A writer continuing at `stored`, a count this module's
    /// [`FirmwareWriter::stored`] produced earlier (a write-word multiple).
    #[must_use]
    pub const fn resume(stored: u32) -> Self {
        Self {
            position: stored,
            erased_end: stored,
            tail: [0xFF; MAXIMUM_WORD],
            tail_length: 0,
        }
    }

    /// Bytes handed in so far (image offset of the next byte).
    #[must_use]
    pub const fn position(&self) -> u32 {
        self.position
    }

    /// Bytes `0..stored()` are programmed: the only count a record may claim.
    #[must_use]
    pub const fn stored(&self) -> u32 {
        self.position - self.tail_length as u32
    }
}

impl<F: NorFlash> Settings<F> {
    /// Reads the firmware record.
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub async fn firmware(&mut self) -> Result<Option<FirmwareInfo>, StorageError> {
        self.fetch().await
    }

    /// Stores the firmware record, unless it already holds `value`.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`]: the record reads as old or new.
    pub fn store_firmware<'a>(
        &'a mut self,
        value: &'a FirmwareInfo,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Erases the firmware record (`AT+TCRESTORE`, MD5 mismatch); the image
    /// bytes stay until the next download overwrites them.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub fn erase_firmware(
        &mut self,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'_, F> {
        self.store::<FirmwareInfo>(None)
    }

    /// Size of the image area, if the board gave one.
    #[must_use]
    pub fn firmware_capacity(&self) -> Option<u32> {
        self.firmware_area().map(|area| area.length)
    }

    /// Reads image bytes at `offset` into all of `out`.
    ///
    /// # Errors
    ///
    /// [`FirmwareError::NoArea`], [`FirmwareError::OutOfRange`] or
    /// [`FirmwareError::Flash`].
    pub async fn read_firmware(
        &mut self,
        offset: u32,
        out: &mut [u8],
    ) -> Result<(), FirmwareError> {
        let area = self.firmware_area().ok_or(FirmwareError::NoArea)?;
        let end = u64::from(offset) + out.len() as u64;
        if end > u64::from(area.length) {
            return Err(FirmwareError::OutOfRange);
        }
        self.flash()
            .read(area.start + offset, out)
            .await
            .map_err(|_| FirmwareError::Flash)
    }
}

impl<F: MultiwriteNorFlash> Settings<F> {
    /// Appends `bytes` to the image at the writer's position. Whole write
    /// words go to flash straight from `bytes`; a last partial word waits in
    /// the writer for the next call or [`Settings::finish_firmware`].
    ///
    /// # Errors
    ///
    /// [`FirmwareError`]; on `Flash` the writer is unusable, resume from a
    /// stored count.
    pub async fn write_firmware(
        &mut self,
        writer: &mut FirmwareWriter,
        mut bytes: &[u8],
    ) -> Result<(), FirmwareError> {
        let area = self.firmware_area().ok_or(FirmwareError::NoArea)?;
        if u64::from(writer.position) + bytes.len() as u64 > u64::from(area.length) {
            return Err(FirmwareError::OutOfRange);
        }
        let word = F::WRITE_SIZE.clamp(1, MAXIMUM_WORD);
        if writer.tail_length > 0 {
            let have = usize::from(writer.tail_length);
            let take = (word - have).min(bytes.len());
            writer.tail[have..have + take].copy_from_slice(&bytes[..take]);
            writer.tail_length += take as u8;
            writer.position += take as u32;
            bytes = &bytes[take..];
            if usize::from(writer.tail_length) == word {
                let tail = writer.tail;
                self.program(&area, writer, writer.position - word as u32, &tail[..word])
                    .await?;
                writer.tail_length = 0;
            }
        }
        let whole = bytes.len() / word * word;
        let (direct, rest) = bytes.split_at(whole);
        if !direct.is_empty() {
            self.program(&area, writer, writer.position, direct).await?;
            writer.position += whole as u32;
        }
        if !rest.is_empty() {
            writer.tail[..rest.len()].copy_from_slice(rest);
            writer.tail_length = rest.len() as u8;
            writer.position += rest.len() as u32;
        }
        Ok(())
    }

    /// Programs the last partial word (padded with `0xFF`) once the whole
    /// image was handed in, so that [`FirmwareWriter::stored`] reaches the size.
    ///
    /// # Errors
    ///
    /// As [`Settings::write_firmware`].
    pub async fn finish_firmware(
        &mut self,
        writer: &mut FirmwareWriter,
    ) -> Result<(), FirmwareError> {
        let area = self.firmware_area().ok_or(FirmwareError::NoArea)?;
        if writer.tail_length == 0 {
            return Ok(());
        }
        let word = F::WRITE_SIZE.clamp(1, MAXIMUM_WORD);
        let mut tail = writer.tail;
        tail[usize::from(writer.tail_length)..].fill(0xFF);
        self.program(&area, writer, writer.stored(), &tail[..word])
            .await?;
        writer.tail_length = 0;
        Ok(())
    }

    /// Writes `data` at image `offset`, erasing each sector before its first write.
    async fn program(
        &mut self,
        area: &FirmwareArea,
        writer: &mut FirmwareWriter,
        mut offset: u32,
        mut data: &[u8],
    ) -> Result<(), FirmwareError> {
        let sector = F::ERASE_SIZE as u32;
        while !data.is_empty() {
            let sector_start = offset / sector * sector;
            let sector_end = sector_start + sector;
            if offset >= writer.erased_end {
                // Only a resume starts inside a sector: its sector holds this
                // image below the offset and must not be erased.
                if offset == sector_start {
                    debug!("erasing firmware sector at {}", sector_start);
                    let start = area.start + sector_start;
                    self.flash()
                        .erase(start, start + sector)
                        .await
                        .map_err(|_| FirmwareError::Flash)?;
                }
                writer.erased_end = sector_end;
            }
            let length = ((sector_end - offset) as usize).min(data.len());
            self.flash()
                .write(area.start + offset, &data[..length])
                .await
                .map_err(|_| FirmwareError::Flash)?;
            offset += length as u32;
            data = &data[length..];
        }
        Ok(())
    }
}
