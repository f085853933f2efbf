//! The settings and certificate areas in the module's SPI flash, through `spi_flash_*`.
//!
//! The SDK reads and writes whole aligned 32-bit words from and to word-aligned RAM, so the
//! driver advertises 4-byte read and write units and moves the bytes through a small aligned
//! bounce buffer when the caller's slice is not word-aligned.

use core::ops::Range;

use embedded_storage_async::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

use crate::sdk;

/// Settings log: 8 sectors between the `user2` slot and the SDK's RF/PHY/parameter sectors
/// of a 2 MB module (docs/hardware.md has the whole layout).
pub const SETTINGS_RANGE: Range<u32> = 0x1F_3000..0x1F_B000;
/// Certificate files: 10 sectors below the settings.
pub const CERTIFICATE_RANGE: Range<u32> = 0x1E_9000..0x1F_3000;

/// The layout the SDK is told at boot (ESP-WROOM-02D, 2 MB, `2MB-c1`): boot, the two
/// application slots, RF calibration, PHY init data and the SDK's own parameters.
pub static PARTITIONS: [sdk::PartitionItem; 6] = [
    partition(sdk::PARTITION_BOOTLOADER, 0x00_0000, 0x1000),
    partition(sdk::PARTITION_OTA_1, 0x00_1000, 0xE_0000),
    partition(sdk::PARTITION_OTA_2, 0x10_1000, 0xE_0000),
    partition(sdk::PARTITION_RF_CAL, 0x1F_B000, 0x1000),
    partition(sdk::PARTITION_PHY_DATA, 0x1F_C000, 0x1000),
    partition(sdk::PARTITION_SYSTEM_PARAMETER, 0x1F_D000, 0x3000),
];

const fn partition(kind: u32, address: u32, size: u32) -> sdk::PartitionItem {
    sdk::PartitionItem {
        kind,
        address,
        size,
    }
}
/// The flash size of the ESP-WROOM-02D.
const FLASH_SIZE: usize = 2 * 1024 * 1024;
/// Words moved per SDK call.
const BOUNCE_WORDS: usize = 16;

/// The SPI flash, seen through the SDK.
pub struct SdkFlash;

/// An SDK flash call failed (error or time-out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashFailed;

impl NorFlashError for FlashFailed {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

impl ErrorType for SdkFlash {
    type Error = FlashFailed;
}

fn check(result: i32) -> Result<(), FlashFailed> {
    if result == sdk::SPI_FLASH_RESULT_OK {
        Ok(())
    } else {
        Err(FlashFailed)
    }
}

impl ReadNorFlash for SdkFlash {
    const READ_SIZE: usize = 4;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashFailed> {
        let mut words = [0u32; BOUNCE_WORDS];
        for (index, chunk) in bytes.chunks_mut(BOUNCE_WORDS * 4).enumerate() {
            let address = offset + (index * BOUNCE_WORDS * 4) as u32;
            // SAFETY: `words` is word-aligned and holds the whole chunk.
            check(unsafe { sdk::spi_flash_read(address, words.as_mut_ptr(), chunk.len() as u32) })?;
            for (target, word) in chunk.chunks_mut(4).zip(words) {
                target.copy_from_slice(&word.to_le_bytes()[..target.len()]);
            }
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        FLASH_SIZE
    }
}

impl NorFlash for SdkFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashFailed> {
        for sector in from / 4096..to / 4096 {
            // SAFETY: plain SDK call on a sector of our areas.
            check(unsafe { sdk::spi_flash_erase_sector(sector as u16) })?;
        }
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashFailed> {
        let mut words = [0u32; BOUNCE_WORDS];
        for (index, chunk) in bytes.chunks(BOUNCE_WORDS * 4).enumerate() {
            for (word, source) in words.iter_mut().zip(chunk.chunks(4)) {
                let mut buffer = [0xFF; 4];
                buffer[..source.len()].copy_from_slice(source);
                *word = u32::from_le_bytes(buffer);
            }
            let address = offset + (index * BOUNCE_WORDS * 4) as u32;
            // SAFETY: `words` is word-aligned and holds the whole chunk.
            check(unsafe { sdk::spi_flash_write(address, words.as_ptr(), chunk.len() as u32) })?;
        }
        Ok(())
    }
}

/// SPI NOR programming only clears bits: programming a word again with the value it holds
/// changes nothing, which the OTA image writer relies on when it resumes inside a sector
/// (`storage::FirmwareWriter`).
impl MultiwriteNorFlash for SdkFlash {}
