//! A file-backed NOR flash with the semantics of the real chip: erase sets 0xFF in 4 KiB
//! sectors, a write can only clear bits (the stored byte becomes `old & new`), and accesses
//! must be aligned.
//!
//! The file is memory-mapped shared, so a write is a store into the file's page cache: no
//! system call, no per-write buffer (an OTA download programs 900 KB in 4 KiB pieces; through
//! `pwrite` half of the module's time went into the kernel's file-write path). A process
//! killed at any moment leaves exactly the completed stores in the file, as a power cut leaves
//! the completed flash operations: the page cache belongs to the file, not to the process, so
//! the next process (or a test reading the file) sees them. A kill in the middle of one write
//! leaves a prefix of it, like a cut in the middle of a NOR program. The bytes reach the disk
//! when the kernel writes the pages back; only a crash of the machine itself would lose them,
//! which the emulation does not model.

use std::fs::{File, OpenOptions};
use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;

use embedded_storage_async::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// Size of the emulated chip: 2 MiB, like the ESP8266 modules the defaults describe.
pub const FLASH_SIZE: u32 = 2 * 1024 * 1024;
/// Erase unit.
pub const SECTOR_SIZE: u32 = 4096;
/// The settings partition: the last 32 KiB (`docs/decisions.md`, flash layout).
pub const SETTINGS_RANGE: core::ops::Range<u32> = 0x1F_8000..0x20_0000;
/// The MCU image cache of OTA (`cloud.md` §4.6): the module-info defaults, base `0x110000`
/// (1,114,112) and 909,312 bytes. A module-info record with a smaller maximum limits the
/// images accepted; the area itself stays where the defaults put it.
pub const FIRMWARE_RANGE: core::ops::Range<u32> = 0x11_0000..0x1E_E000;
/// The certificate file area (TLS mode 2): the 40 KiB between the MCU-image cache
/// (`0x110000..0x1EE000`) and the settings, ten 4 KiB slots for eight files.
pub const CERTIFICATE_RANGE: core::ops::Range<u32> = 0x1E_E000..0x1F_8000;

/// The flash image file, mapped.
pub struct FileFlash {
    /// Start of the shared mapping of the whole file ([`FLASH_SIZE`] bytes).
    mapping: NonNull<u8>,
}

/// A flash access failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashError(NorFlashErrorKind);

impl NorFlashError for FlashError {
    fn kind(&self) -> NorFlashErrorKind {
        self.0
    }
}

impl FileFlash {
    /// Opens the image, creating it erased (all 0xFF) if absent, and maps it.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let length = file.metadata()?.len();
        if length > u64::from(FLASH_SIZE) {
            return Err(io::Error::other(format!(
                "{} is {length} bytes, larger than the {FLASH_SIZE}-byte flash",
                path.display()
            )));
        }
        if length < u64::from(FLASH_SIZE) {
            // Extend with erased bytes; a shorter file is a flash whose tail was never written.
            let fill = vec![0xFF; (u64::from(FLASH_SIZE) - length) as usize];
            file.write_all_at(&fill, length)?;
            file.sync_all()?;
        }
        Ok(FileFlash {
            mapping: map(&file)?,
        })
    }

    /// The whole flash.
    fn bytes(&self) -> &[u8] {
        // SAFETY: `mapping` is a live, readable mapping of FLASH_SIZE bytes (see `map`), and
        // the returned borrow of `self` ends before any `&mut` from `bytes_mut`.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.mapping.as_ptr(), FLASH_SIZE as usize)
        }
    }

    /// The whole flash, writable.
    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only borrow of the mapping.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts_mut(self.mapping.as_ptr(), FLASH_SIZE as usize)
        }
    }

    fn check(offset: u32, length: usize, align: u32) -> Result<(), FlashError> {
        let end = u64::from(offset) + length as u64;
        if end > u64::from(FLASH_SIZE) {
            return Err(FlashError(NorFlashErrorKind::OutOfBounds));
        }
        if !offset.is_multiple_of(align) || !(length as u32).is_multiple_of(align) {
            return Err(FlashError(NorFlashErrorKind::NotAligned));
        }
        Ok(())
    }
}

/// Maps all [`FLASH_SIZE`] bytes of `file` (already that long) shared, readable and writable.
fn map(file: &File) -> io::Result<NonNull<u8>> {
    let length = NonZeroUsize::new(FLASH_SIZE as usize).expect("the flash is not empty");
    // SAFETY: a fresh mapping chosen by the kernel (no address given) overlaps nothing Rust
    // owns. The file is FLASH_SIZE bytes long, so every mapped page is backed; it stays mapped
    // until `drop`, after the descriptor is closed (a mapping keeps its file). The module
    // never shortens the file, and nothing else may while a module runs on it (as nothing
    // pulls a flash chip out of a running board).
    #[allow(unsafe_code)]
    let mapping = unsafe {
        mmap(
            None,
            length,
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
            file,
            0,
        )
    }?;
    Ok(mapping.cast())
}

impl Drop for FileFlash {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped once; no borrow of it outlives `self`.
        #[allow(unsafe_code)]
        let result = unsafe { munmap(self.mapping.cast(), FLASH_SIZE as usize) };
        if let Err(error) = result {
            log::warn!("unmapping the flash file: {error}");
        }
    }
}

impl ErrorType for FileFlash {
    type Error = FlashError;
}

impl ReadNorFlash for FileFlash {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), FlashError> {
        Self::check(offset, bytes.len(), 1)?;
        let start = offset as usize;
        bytes.copy_from_slice(&self.bytes()[start..start + bytes.len()]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        FLASH_SIZE as usize
    }
}

impl NorFlash for FileFlash {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = SECTOR_SIZE as usize;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), FlashError> {
        if to < from {
            return Err(FlashError(NorFlashErrorKind::OutOfBounds));
        }
        Self::check(from, (to - from) as usize, SECTOR_SIZE)?;
        self.bytes_mut()[from as usize..to as usize].fill(0xFF);
        Ok(())
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), FlashError> {
        Self::check(offset, bytes.len(), Self::WRITE_SIZE as u32)?;
        let start = offset as usize;
        let stored = &mut self.bytes_mut()[start..start + bytes.len()];
        for (old, new) in stored.iter_mut().zip(bytes) {
            *old &= new;
        }
        Ok(())
    }
}

/// Writing again over written words only clears more bits, as on the real chip.
impl MultiwriteNorFlash for FileFlash {}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: core::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn temp_image(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("tc-at-flash-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn new_image_is_erased_and_full_size() {
        let path = temp_image("new");
        let mut flash = FileFlash::open(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            u64::from(FLASH_SIZE)
        );
        let mut bytes = [0u8; 16];
        block_on(flash.read(FLASH_SIZE - 16, &mut bytes)).unwrap();
        assert_eq!(bytes, [0xFF; 16]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn writes_only_clear_bits_and_erase_restores_ones() {
        let path = temp_image("bits");
        let mut flash = FileFlash::open(&path).unwrap();
        block_on(flash.write(8, &[0b1010_1010; 4])).unwrap();
        block_on(flash.write(8, &[0b0110_0110; 4])).unwrap();
        let mut bytes = [0u8; 4];
        block_on(flash.read(8, &mut bytes)).unwrap();
        assert_eq!(bytes, [0b0010_0010; 4]);
        block_on(flash.erase(0, SECTOR_SIZE)).unwrap();
        block_on(flash.read(8, &mut bytes)).unwrap();
        assert_eq!(bytes, [0xFF; 4]);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn misaligned_and_out_of_range_accesses_are_refused() {
        let path = temp_image("align");
        let mut flash = FileFlash::open(&path).unwrap();
        let kind = |result: Result<(), FlashError>| result.unwrap_err().kind();
        assert_eq!(
            kind(block_on(flash.write(2, &[0; 4]))),
            NorFlashErrorKind::NotAligned
        );
        assert_eq!(
            kind(block_on(flash.erase(100, 4196))),
            NorFlashErrorKind::NotAligned
        );
        assert_eq!(
            kind(block_on(flash.write(FLASH_SIZE, &[0; 4]))),
            NorFlashErrorKind::OutOfBounds
        );
        std::fs::remove_file(path).unwrap();
    }
}
