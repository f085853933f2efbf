//! An in-memory NOR flash that fails the way real flash does.
//!
//! Power-fail safety can only be tested against a flash that can lose power
//! in the middle of an operation, so [`MockFlash`] can cut power at any
//! chosen write or erase: that operation is only partly performed and it and
//! every later access fail until [`MockFlash::restore_power`] "reboots" with
//! the contents kept. It also enforces what real NOR does and a RAM buffer
//! would not: erase sets whole 4 KiB sectors to `0xFF`, a write can only
//! clear bits (new = old & data), and addresses and lengths must be aligned.
//!
//! It implements both the async (`embedded-storage-async`) and the blocking
//! (`embedded-storage`) NOR traits so boards can use it either way, and it
//! exposes its raw bytes so a board can check its own flash-file format.

use std::vec;
use std::vec::Vec;

use embedded_storage::nor_flash as blocking;
use embedded_storage_async::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Erase granularity: the 4 KiB sector of SPI NOR flashes.
pub const SECTOR_SIZE: usize = 4096;
/// Write granularity: one 32-bit word.
pub const WORD_SIZE: usize = 4;

/// An error of the mock flash.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockFlashError {
    /// Address or length not a multiple of the write or erase size.
    NotAligned,
    /// The access extends beyond the flash.
    OutOfBounds,
    /// Power was cut; every access fails until [`MockFlash::restore_power`].
    PowerLost,
}

impl NorFlashError for MockFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            Self::NotAligned => NorFlashErrorKind::NotAligned,
            Self::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            Self::PowerLost => NorFlashErrorKind::Other,
        }
    }
}

impl core::fmt::Display for MockFlashError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, formatter)
    }
}

impl core::error::Error for MockFlashError {}

/// How far the interrupted operation gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Share of the operation's bytes performed, in percent (0..=99). A write
    /// stores this byte prefix of its data, so the word at the boundary can
    /// be torn; an erase sets this prefix of its range to `0xFF`.
    pub progress_percent: u8,
    /// When set, the part of an interrupted erase that was not reached is
    /// not left as it was but has random bits set (erasing only sets bits),
    /// as an erase pulse cut short leaves cells half-erased.
    pub erase_garbage: bool,
}

impl Default for Cut {
    /// Half of the operation, no garbage.
    fn default() -> Self {
        Self {
            progress_percent: 50,
            erase_garbage: false,
        }
    }
}

/// A NOR flash in RAM with 4 KiB sectors, 4-byte write words, byte reads,
/// operation counters and power-cut injection.
#[derive(Debug, Clone)]
pub struct MockFlash {
    bytes: Vec<u8>,
    writes: usize,
    erases: usize,
    reads: usize,
    /// Complete operations left before the interrupted one, when armed.
    countdown: Option<(usize, Cut)>,
    powered: bool,
    /// State of the garbage generator, so runs are reproducible.
    noise: u32,
}

impl MockFlash {
    /// Creates a blank (all `0xFF`) flash of `size` bytes.
    ///
    /// # Panics
    ///
    /// Panics if `size` is not a multiple of [`SECTOR_SIZE`].
    #[must_use]
    pub fn new(size: usize) -> Self {
        Self::from_bytes(&vec![0xFF; size])
    }

    /// Creates a flash holding a copy of `bytes`.
    ///
    /// # Panics
    ///
    /// Panics if the length is not a multiple of [`SECTOR_SIZE`].
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        assert!(
            bytes.len().is_multiple_of(SECTOR_SIZE),
            "mock flash size must be a multiple of the sector size"
        );
        Self {
            bytes: bytes.to_vec(),
            writes: 0,
            erases: 0,
            reads: 0,
            countdown: None,
            powered: true,
            noise: 0x9E37_79B9,
        }
    }

    /// Returns the raw contents.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Returns how many write operations were performed (fully or partly).
    #[must_use]
    pub fn write_count(&self) -> usize {
        self.writes
    }

    /// Returns how many erase operations were performed (fully or partly).
    #[must_use]
    pub fn erase_count(&self) -> usize {
        self.erases
    }

    /// Returns writes plus erases: the operations [`MockFlash::cut_power_after`] counts.
    #[must_use]
    pub fn operation_count(&self) -> usize {
        self.writes + self.erases
    }

    /// Returns how many reads succeeded.
    #[must_use]
    pub fn read_count(&self) -> usize {
        self.reads
    }

    /// Arms a power cut: `operations` more writes or erases complete, the
    /// next one is performed half-way ([`Cut::default`]) and fails, and every
    /// access after it fails with [`MockFlashError::PowerLost`].
    pub fn cut_power_after(&mut self, operations: usize) {
        self.cut_power_after_with(operations, Cut::default());
    }

    /// As [`MockFlash::cut_power_after`], with the interrupted operation's
    /// progress chosen by `cut`.
    pub fn cut_power_after_with(&mut self, operations: usize, cut: Cut) {
        self.countdown = Some((operations, cut));
    }

    /// Simulates a reboot: power is back, contents are kept, and no cut is armed.
    pub fn restore_power(&mut self) {
        self.powered = true;
        self.countdown = None;
    }

    /// Returns whether the flash has power.
    #[must_use]
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    fn check_power(&self) -> Result<(), MockFlashError> {
        if self.powered {
            Ok(())
        } else {
            Err(MockFlashError::PowerLost)
        }
    }

    fn check_bounds(&self, offset: u32, length: usize) -> Result<usize, MockFlashError> {
        let start = usize::try_from(offset).map_err(|_| MockFlashError::OutOfBounds)?;
        match start.checked_add(length) {
            Some(end) if end <= self.bytes.len() => Ok(start),
            _ => Err(MockFlashError::OutOfBounds),
        }
    }

    /// Counts down to an armed cut; returns the cut when this operation is the one.
    fn next_operation(&mut self) -> Option<Cut> {
        match self.countdown {
            Some((0, cut)) => {
                self.countdown = None;
                self.powered = false;
                Some(cut)
            }
            Some((left, cut)) => {
                self.countdown = Some((left - 1, cut));
                None
            }
            None => None,
        }
    }

    fn next_noise(&mut self) -> u8 {
        // xorshift32: deterministic, and good enough to scatter bits.
        let mut state = self.noise;
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        self.noise = state;
        state.to_le_bytes()[0]
    }

    fn read_bytes(&mut self, offset: u32, buffer: &mut [u8]) -> Result<(), MockFlashError> {
        self.check_power()?;
        let start = self.check_bounds(offset, buffer.len())?;
        buffer.copy_from_slice(&self.bytes[start..start + buffer.len()]);
        self.reads += 1;
        Ok(())
    }

    fn write_bytes(&mut self, offset: u32, data: &[u8]) -> Result<(), MockFlashError> {
        self.check_power()?;
        if !(offset as usize).is_multiple_of(WORD_SIZE) || !data.len().is_multiple_of(WORD_SIZE) {
            return Err(MockFlashError::NotAligned);
        }
        let start = self.check_bounds(offset, data.len())?;
        self.writes += 1;
        let cut = self.next_operation();
        let performed = match cut {
            Some(cut) => data.len() * usize::from(cut.progress_percent.min(99)) / 100,
            None => data.len(),
        };
        for (cell, byte) in self.bytes[start..].iter_mut().zip(&data[..performed]) {
            // Programming NOR only pulls bits from 1 to 0.
            *cell &= byte;
        }
        match cut {
            Some(_) => Err(MockFlashError::PowerLost),
            None => Ok(()),
        }
    }

    fn erase_range(&mut self, from: u32, to: u32) -> Result<(), MockFlashError> {
        self.check_power()?;
        if from > to
            || !(from as usize).is_multiple_of(SECTOR_SIZE)
            || !(to as usize).is_multiple_of(SECTOR_SIZE)
        {
            return Err(MockFlashError::NotAligned);
        }
        let start = self.check_bounds(from, (to - from) as usize)?;
        let end = to as usize;
        self.erases += 1;
        let Some(cut) = self.next_operation() else {
            self.bytes[start..end].fill(0xFF);
            return Ok(());
        };
        let reached = start + (end - start) * usize::from(cut.progress_percent.min(99)) / 100;
        self.bytes[start..reached].fill(0xFF);
        if cut.erase_garbage {
            for index in reached..end {
                let noise = self.next_noise();
                self.bytes[index] |= noise;
            }
        }
        Err(MockFlashError::PowerLost)
    }
}

impl ErrorType for MockFlash {
    type Error = MockFlashError;
}

impl ReadNorFlash for MockFlash {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.read_bytes(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for MockFlash {
    const WRITE_SIZE: usize = WORD_SIZE;
    const ERASE_SIZE: usize = SECTOR_SIZE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.erase_range(from, to)
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.write_bytes(offset, bytes)
    }
}

impl MultiwriteNorFlash for MockFlash {}

impl blocking::ReadNorFlash for MockFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.read_bytes(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl blocking::NorFlash for MockFlash {
    const WRITE_SIZE: usize = WORD_SIZE;
    const ERASE_SIZE: usize = SECTOR_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.erase_range(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.write_bytes(offset, bytes)
    }
}

impl blocking::MultiwriteNorFlash for MockFlash {}
