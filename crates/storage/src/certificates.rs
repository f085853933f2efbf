//! The certificate file store of TLS mode 2 (`commands.md` §2): up to eight
//! named files of up to 4096 bytes each.
//!
//! Why two places: a file does not fit one sequential-storage item (an item
//! must fit a 4 KiB sector together with its headers), and chunking files
//! into items would need room for the old and the new copy of a file at once.
//! So the contents live in fixed **slots** of a dedicated flash area, one
//! 4 KiB slot per file, while the **table** (name, size, CRC and slot of
//! every file) is one record of the settings map
//! ([`RecordKey::CertificateTable`](crate::RecordKey::CertificateTable)).
//!
//! Power cuts: a store writes the new contents into a slot that the table
//! does not reference, and only then writes the new table. The table write is
//! one atomic map item, so after a cut anywhere the table names either the
//! old slot (old contents untouched) or the new one (new contents complete):
//! a file reads as its old or its new value. A slot the table does not
//! reference is garbage and is erased before it is used again. The area
//! therefore needs one slot more than [`CERTIFICATE_FILES_MAX`].

use core::future::Future;
use core::ops::Range;

use embedded_storage_async::nor_flash::NorFlash;

use crate::error::{CertificateError, StorageError};
use crate::fmt::debug;
use crate::records::Text;
use crate::settings::Settings;

/// Most files the store holds (`commands.md` §2).
pub const CERTIFICATE_FILES_MAX: usize = 8;
/// Largest file, in bytes.
pub const CERTIFICATE_SIZE_MAX: usize = 4096;
/// Longest file name, in bytes.
pub const CERTIFICATE_NAME_MAX: usize = 64;
/// Slots the certificate area needs: one per file plus one to write a
/// replacement into before the old copy is released.
pub const CERTIFICATE_SLOTS_MIN: u32 = CERTIFICATE_FILES_MAX as u32 + 1;

/// Whether `name` is a valid file name: 1..64 bytes of `[A-Za-z0-9._-]`
/// ending in `.crt` or `.key`.
#[must_use]
pub fn is_certificate_name(name: &[u8]) -> bool {
    (1..=CERTIFICATE_NAME_MAX).contains(&name.len())
        && name
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
        && (name.ends_with(b".crt") || name.ends_with(b".key"))
}

/// One stored file as the table describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CertificateEntry {
    /// File name (valid per [`is_certificate_name`]).
    pub name: Text<CERTIFICATE_NAME_MAX>,
    /// Size in bytes, 1..=4096.
    pub size: u16,
    /// CRC-32 (IEEE) of the contents, checked on every read.
    pub(crate) checksum: u32,
    /// Slot index in the certificate area.
    pub(crate) slot: u8,
}

/// The stored files, in name order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CertificateTable {
    pub(crate) entries: heapless::Vec<CertificateEntry, CERTIFICATE_FILES_MAX>,
}

impl CertificateTable {
    /// The files, in name order.
    pub fn entries(&self) -> &[CertificateEntry] {
        &self.entries
    }

    /// The file called `name`, if stored.
    pub fn find(&self, name: &[u8]) -> Option<&CertificateEntry> {
        self.entries.iter().find(|entry| entry.name == name)
    }

    /// Whether a file called `name` is stored.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.find(name).is_some()
    }

    /// Whether no new name can be added.
    pub fn is_full(&self) -> bool {
        self.entries.is_full()
    }

    /// Whether `slot` holds a live file.
    fn uses(&self, slot: u8) -> bool {
        self.entries.iter().any(|entry| entry.slot == slot)
    }

    /// Replaces or inserts `entry`, keeping name order.
    fn put(&mut self, entry: CertificateEntry) -> Result<(), CertificateError> {
        self.remove(&entry.name);
        let position = self
            .entries
            .iter()
            .position(|existing| existing.name > entry.name)
            .unwrap_or(self.entries.len());
        self.entries
            .insert(position, entry)
            .map_err(|_| CertificateError::TableFull)
    }

    /// Removes the entry called `name`; returns whether there was one.
    fn remove(&mut self, name: &[u8]) -> bool {
        match self.entries.iter().position(|entry| entry.name == name) {
            Some(position) => {
                self.entries.remove(position);
                true
            }
            None => false,
        }
    }
}

/// Where the file contents live: a sector-aligned area split into slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificateArea {
    start: u32,
    slot_size: u32,
    slots: u8,
}

impl CertificateArea {
    /// Splits `range` into slots of 4096 bytes rounded up to `erase_size`.
    pub(crate) fn new(range: &Range<u32>, erase_size: u32, capacity: u32) -> Option<Self> {
        let slot_size = (CERTIFICATE_SIZE_MAX as u32).next_multiple_of(erase_size);
        let aligned =
            range.start.is_multiple_of(erase_size) && range.end.is_multiple_of(erase_size);
        if !aligned || range.start > range.end || range.end > capacity {
            return None;
        }
        let slots = (range.end - range.start) / slot_size;
        if slots < CERTIFICATE_SLOTS_MIN {
            return None;
        }
        Some(Self {
            start: range.start,
            slot_size,
            slots: u8::try_from(slots).unwrap_or(u8::MAX),
        })
    }

    fn address(&self, slot: u8) -> u32 {
        self.start + u32::from(slot) * self.slot_size
    }

    /// A slot the table does not use, after the highest used one so that
    /// replacing one file over and over moves round the area.
    fn free_slot(&self, table: &CertificateTable) -> Option<u8> {
        let newest = table.entries.iter().map(|entry| entry.slot).max();
        let first = newest.map_or(0, |slot| (slot + 1) % self.slots);
        (0..self.slots)
            .map(|offset| ((u16::from(first) + u16::from(offset)) % u16::from(self.slots)) as u8)
            .find(|slot| !table.uses(*slot))
    }
}

/// CRC-32/IEEE, bitwise: files are small and written rarely, so a table is
/// not worth its 1 KiB of flash.
fn checksum(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Largest flash word this store handles for unaligned heads and tails; the
/// same bound sequential-storage puts on the settings map.
const WORD_MAX: usize = 32;

impl<F: NorFlash> Settings<F> {
    /// Reads the certificate table; no record reads as an empty table.
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub async fn certificates(&mut self) -> Result<CertificateTable, StorageError> {
        Ok(self.fetch::<CertificateTable>().await?.unwrap_or_default())
    }

    /// Reads the file `name` into the front of `buffer`; returns its size.
    ///
    /// # Errors
    ///
    /// [`CertificateError::NotFound`] for no such file,
    /// [`CertificateError::Corrupted`] when the contents fail their CRC,
    /// [`CertificateError::Invalid`] when `buffer` is too small,
    /// [`CertificateError::NoArea`] without a certificate area, or a storage error.
    pub async fn read_certificate(
        &mut self,
        name: &[u8],
        buffer: &mut [u8],
    ) -> Result<usize, CertificateError> {
        let area = self.certificate_area().ok_or(CertificateError::NoArea)?;
        let table = self.certificates().await?;
        let entry = table.find(name).ok_or(CertificateError::NotFound)?;
        let size = usize::from(entry.size);
        let target = buffer.get_mut(..size).ok_or(CertificateError::Invalid)?;
        let address = area.address(entry.slot);
        let word = F::READ_SIZE.max(1);
        let head = size - size % word;
        let flash = self.flash();
        if head > 0 {
            flash
                .read(address, &mut target[..head])
                .await
                .map_err(|_| StorageError::Flash)?;
        }
        if head < size {
            let mut tail = [0u8; WORD_MAX];
            let tail = tail.get_mut(..word).ok_or(CertificateError::Invalid)?;
            flash
                .read(address + head as u32, tail)
                .await
                .map_err(|_| StorageError::Flash)?;
            target[head..].copy_from_slice(&tail[..size - head]);
        }
        if checksum(target) == entry.checksum {
            Ok(size)
        } else {
            Err(CertificateError::Corrupted)
        }
    }

    /// Stores `contents` as the file `name`, replacing a file of that name.
    ///
    /// # Errors
    ///
    /// [`CertificateError::Invalid`] for a bad name or a size outside
    /// 1..=4096, [`CertificateError::TableFull`] when eight other files
    /// exist, [`CertificateError::NoArea`], or a storage error. After any
    /// error, and after a power cut, the file reads as before or as `contents`.
    pub async fn store_certificate(
        &mut self,
        name: &[u8],
        contents: &[u8],
    ) -> Result<(), CertificateError> {
        let area = self.certificate_area().ok_or(CertificateError::NoArea)?;
        if !is_certificate_name(name) || !(1..=CERTIFICATE_SIZE_MAX).contains(&contents.len()) {
            return Err(CertificateError::Invalid);
        }
        let mut table = self.certificates().await?;
        if table.is_full() && !table.contains(name) {
            return Err(CertificateError::TableFull);
        }
        // Cannot fail: there is one slot more than files.
        let slot = area.free_slot(&table).ok_or(CertificateError::TableFull)?;
        debug!("writing certificate slot {}", slot);
        self.write_slot(&area, slot, contents).await?;
        table.put(CertificateEntry {
            name: Text::from_slice(name).map_err(|_| CertificateError::Invalid)?,
            // 1..=4096 fits.
            size: contents.len() as u16,
            checksum: checksum(contents),
            slot,
        })?;
        self.store(Some(&table)).await?;
        Ok(())
    }

    /// Deletes the file `name`.
    ///
    /// # Errors
    ///
    /// [`CertificateError::NotFound`] for no such file, or a storage error.
    pub async fn delete_certificate(&mut self, name: &[u8]) -> Result<(), CertificateError> {
        let mut table = self.certificates().await?;
        if !table.remove(name) {
            return Err(CertificateError::NotFound);
        }
        self.store(Some(&table)).await?;
        Ok(())
    }

    /// Deletes every file (`AT+TCRESTORE`), atomically.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub fn erase_certificates(
        &mut self,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'_, F> {
        self.store::<CertificateTable>(None)
    }

    /// Erases `slot` and writes `contents` at its start, padding the last
    /// flash word with `0xFF`.
    async fn write_slot(
        &mut self,
        area: &CertificateArea,
        slot: u8,
        contents: &[u8],
    ) -> Result<(), CertificateError> {
        let address = area.address(slot);
        let word = F::WRITE_SIZE.max(1);
        let head = contents.len() - contents.len() % word;
        let flash = self.flash();
        flash
            .erase(address, address + area.slot_size)
            .await
            .map_err(|_| StorageError::Flash)?;
        if head > 0 {
            flash
                .write(address, &contents[..head])
                .await
                .map_err(|_| StorageError::Flash)?;
        }
        if head < contents.len() {
            let mut tail = [0xFFu8; WORD_MAX];
            let tail = tail.get_mut(..word).ok_or(CertificateError::Invalid)?;
            tail[..contents.len() - head].copy_from_slice(&contents[head..]);
            flash
                .write(address + head as u32, tail)
                .await
                .map_err(|_| StorageError::Flash)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn checksum_is_crc32_ieee() {
        assert_eq!(checksum(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum(b""), 0);
    }
}
