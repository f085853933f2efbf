//! A RAM-backed NOR flash holding the tc-at areas of a 2 MB module at the Linux board's
//! offsets, so that settings written before a simulated reboot are read back after it.

use core::ops::Range;

use embedded_storage_async::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Settings log, as `boards/linux/src/flash.rs`.
pub const SETTINGS_RANGE: Range<u32> = 0x1F_8000..0x20_0000;
/// Certificate files, as `boards/linux/src/flash.rs`.
pub const CERTIFICATE_RANGE: Range<u32> = 0x1E_E000..0x1F_8000;
/// The part of the flash that exists in RAM.
const WINDOW: Range<u32> = CERTIFICATE_RANGE.start..SETTINGS_RANGE.end;
const SECTOR: usize = 4096;

/// The flash window, erased (0xFF) at boot.
pub struct RamFlash {
    bytes: [u8; (WINDOW.end - WINDOW.start) as usize],
}

/// An access outside the window or not aligned to the flash's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfWindow;

impl NorFlashError for OutOfWindow {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::OutOfBounds
    }
}

impl RamFlash {
    /// An erased flash.
    pub fn new() -> Self {
        RamFlash {
            bytes: [0xFF; (WINDOW.end - WINDOW.start) as usize],
        }
    }

    fn span(&self, offset: u32, length: usize) -> Result<Range<usize>, OutOfWindow> {
        let end = offset.checked_add(length as u32).ok_or(OutOfWindow)?;
        if offset < WINDOW.start || end > WINDOW.end {
            return Err(OutOfWindow);
        }
        Ok((offset - WINDOW.start) as usize..(end - WINDOW.start) as usize)
    }
}

impl ErrorType for RamFlash {
    type Error = OutOfWindow;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), OutOfWindow> {
        let span = self.span(offset, bytes.len())?;
        bytes.copy_from_slice(&self.bytes[span]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        WINDOW.end as usize
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), OutOfWindow> {
        if from as usize % SECTOR != 0 || to as usize % SECTOR != 0 {
            return Err(OutOfWindow);
        }
        let span = self.span(from, to.saturating_sub(from) as usize)?;
        self.bytes[span].fill(0xFF);
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), OutOfWindow> {
        if offset as usize % 4 != 0 || bytes.len() % 4 != 0 {
            return Err(OutOfWindow);
        }
        let span = self.span(offset, bytes.len())?;
        // NOR programming only clears bits.
        for (cell, byte) in self.bytes[span].iter_mut().zip(bytes) {
            *cell &= byte;
        }
        Ok(())
    }
}

/// `write` only clears bits, like NOR programming: programming a word again with the value
/// it holds changes nothing, which the OTA image writer relies on when it resumes inside a
/// sector (`storage::FirmwareWriter`).
impl MultiwriteNorFlash for RamFlash {}
