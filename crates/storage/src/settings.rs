//! The settings store: typed records over a sequential-storage map.
//!
//! Each record kind is one map item, so every store or erase is a single
//! atomic item write: after a power cut a record reads as its old or its new
//! value, which is the guarantee `cloud.md` §7 asks for. Writes are skipped
//! when the stored value already equals the new one, which saves flash wear
//! on hosts that resend their configuration at every boot.
//!
//! The typed store and erase methods are plain functions returning the one
//! generic write's future rather than `async fn`s: an `async fn` wrapper adds
//! a frame of its own (its arguments, 24 bytes) on top of sequential-storage's
//! futures, the deepest a caller awaits (the engine's RAM, `docs/performance.md`).

use core::future::Future;
use core::ops::Range;

use embedded_storage_async::nor_flash::NorFlash;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapConfigError, MapStorage};

use crate::certificates::CertificateArea;
use crate::codec::{Incoming, Outgoing, Record, MAXIMUM_VALUE_LENGTH};
use crate::error::{RangeError, StorageError};
use crate::firmware::FirmwareArea;
use crate::fmt::{debug, warning};
use crate::records::{
    DeviceInfo, ModuleInfo, ProductInfo, ProvisioningErrors, Snapshot, WifiMode, WifiStation,
};

/// The fewest erase sectors a settings partition may have: sequential-storage
/// always keeps one sector free to move live items into during garbage
/// collection.
pub const MINIMUM_SECTORS: u32 = 2;

/// Size of the work buffer: one key byte plus the longest value, rounded up
/// to the largest flash word sequential-storage supports (32 bytes).
const BUFFER_LENGTH: usize = (1 + MAXIMUM_VALUE_LENGTH).next_multiple_of(32);

/// Work buffer for sequential-storage. Some flash drivers write straight from
/// RAM by DMA and need word-aligned source buffers.
#[repr(align(4))]
struct WorkBuffer([u8; BUFFER_LENGTH]);

/// The map uses raw `u8` keys (see [`RecordKey`](crate::RecordKey)) and no
/// cache: settings are read once at boot and written rarely, and an uncached
/// map cannot disagree with the flash after a power cut.
type Map<F> = MapStorage<u8, F, Cache<Uncached, Uncached, Uncached, u8>>;

/// Typed, power-fail-safe settings on a NOR flash partition.
///
/// Owns the flash, the partition range and sequential-storage's work buffer.
///
/// # Cancellation Safety
///
/// Dropping a store or erase future part-way leaves flash as a power cut
/// would: the record reads as old or new and the next call repairs the rest.
pub struct Settings<F: NorFlash> {
    map: Map<F>,
    buffer: WorkBuffer,
    /// Where certificate file contents live, if the board gave an area.
    certificates: Option<CertificateArea>,
    /// Where the OTA image lives, if the board gave an area.
    firmware: Option<FirmwareArea>,
}

impl<F: NorFlash> Settings<F> {
    /// Creates the store over `range` of `flash`, without touching the flash.
    ///
    /// # Panics
    ///
    /// Panics when [`Settings::check_range`] rejects the range: a partition
    /// table is fixed at build time, so this is a programming error.
    pub fn new(flash: F, range: Range<u32>) -> Self {
        if let Err(error) = Self::check_range(&flash, &range) {
            panic!("invalid settings partition: {}", error);
        }
        Self {
            map: MapStorage::new(flash, MapConfig::new(range), Cache::new_uncached()),
            buffer: WorkBuffer([0; BUFFER_LENGTH]),
            certificates: None,
            firmware: None,
        }
    }

    /// Gives the store a flash area for certificate file contents (TLS
    /// mode 2, see [`Settings::store_certificate`]); the file table itself is
    /// a settings record.
    ///
    /// # Panics
    ///
    /// Panics when `range` is not sector-aligned, lies outside the flash or
    /// has fewer than [`CERTIFICATE_SLOTS_MIN`](crate::CERTIFICATE_SLOTS_MIN)
    /// slots of 4 KiB: a partition table is fixed at build time. The area
    /// must not overlap the settings partition.
    #[must_use]
    pub fn with_certificate_area(mut self, range: Range<u32>) -> Self {
        let capacity = u32::try_from(self.map.flash().capacity()).unwrap_or(u32::MAX);
        match CertificateArea::new(&range, F::ERASE_SIZE as u32, capacity) {
            Some(area) => self.certificates = Some(area),
            None => panic!("invalid certificate area"),
        }
        self
    }

    /// Gives the store a flash area for the OTA image (`cloud.md` §4.6; see
    /// [`Settings::write_firmware`]); the firmware record itself is a
    /// settings record.
    ///
    /// # Panics
    ///
    /// Panics when `range` is empty, not sector-aligned or outside the
    /// flash: a partition table is fixed at build time. The area must not
    /// overlap the settings partition or the certificate area.
    #[must_use]
    pub fn with_firmware_area(mut self, range: Range<u32>) -> Self {
        let capacity = u32::try_from(self.map.flash().capacity()).unwrap_or(u32::MAX);
        match FirmwareArea::new(&range, F::ERASE_SIZE as u32, capacity) {
            Some(area) => self.firmware = Some(area),
            None => panic!("invalid firmware area"),
        }
        self
    }

    /// The image area, if configured.
    pub(crate) fn firmware_area(&self) -> Option<FirmwareArea> {
        self.firmware.clone()
    }

    /// The certificate area, if configured.
    pub(crate) fn certificate_area(&self) -> Option<CertificateArea> {
        self.certificates.clone()
    }

    /// Checks that `range` can hold the store: aligned to erase sectors, at
    /// least [`MINIMUM_SECTORS`] long and inside the flash.
    ///
    /// # Errors
    ///
    /// Returns the first [`RangeError`] found.
    pub fn check_range(flash: &F, range: &Range<u32>) -> Result<(), RangeError> {
        if range.start > range.end {
            return Err(RangeError::TooSmall);
        }
        let capacity = u32::try_from(flash.capacity()).unwrap_or(u32::MAX);
        if range.end > capacity {
            return Err(RangeError::OutOfBounds);
        }
        match MapConfig::<F>::try_new(range.clone()) {
            Ok(_) => Ok(()),
            Err(MapConfigError::StartRangeNotAtPageBoundary)
            | Err(MapConfigError::EndRangeNotAtPageBoundary) => Err(RangeError::NotSectorAligned),
            Err(MapConfigError::RangeTooSmall) => Err(RangeError::TooSmall),
            Err(_) => Err(RangeError::UnsupportedGeometry),
        }
    }

    /// Reads every record, as done once at boot.
    ///
    /// A blank (all `0xFF`) partition reads as an empty [`Snapshot`]. An
    /// interrupted write or garbage collection is repaired first.
    ///
    /// # Errors
    ///
    /// [`StorageError::Flash`] on a driver error; [`StorageError::Corrupted`]
    /// when a record does not decode or the layout cannot be repaired.
    pub async fn load(&mut self) -> Result<Snapshot, StorageError> {
        Ok(Snapshot {
            device: self.fetch().await?,
            product: self.fetch().await?,
            module: self.fetch().await?,
            station: self.fetch().await?,
            wifi_mode: self.fetch().await?,
        })
    }

    /// Reads the device record alone.
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub async fn device(&mut self) -> Result<Option<DeviceInfo>, StorageError> {
        self.fetch().await
    }

    /// Reads the product record alone.
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub async fn product(&mut self) -> Result<Option<ProductInfo>, StorageError> {
        self.fetch().await
    }

    /// Stores the device record, unless it already holds `value`.
    ///
    /// # Errors
    ///
    /// [`StorageError::Flash`] on a driver error; the record then reads as
    /// its old or its new value.
    pub fn store_device<'a>(
        &'a mut self,
        value: &'a DeviceInfo,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Stores the product record, unless it already holds `value`.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub fn store_product<'a>(
        &'a mut self,
        value: &'a ProductInfo,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Stores the module profile, unless it already holds `value`.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub fn store_module<'a>(
        &'a mut self,
        value: &'a ModuleInfo,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Stores the Wi-Fi station configuration, unless it already holds `value`.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub fn store_station<'a>(
        &'a mut self,
        value: &'a WifiStation,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Stores the Wi-Fi mode, unless it already holds `value`.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub fn store_wifi_mode<'a>(
        &'a mut self,
        value: &'a WifiMode,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Reads the module profile.
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub async fn module(&mut self) -> Result<Option<ModuleInfo>, StorageError> {
        self.fetch().await
    }

    /// Reads the provisioning error records (`cloud.md` §6.6).
    ///
    /// # Errors
    ///
    /// As [`Settings::load`].
    pub async fn provisioning_errors(
        &mut self,
    ) -> Result<Option<ProvisioningErrors>, StorageError> {
        self.fetch().await
    }

    /// Stores the provisioning error records, unless they already hold `value`. They survive
    /// AT+TCRESTORE and AT+RESTORE (`cloud.md` §7).
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`]: the record reads as old or new.
    pub fn store_provisioning_errors<'a>(
        &'a mut self,
        value: &'a ProvisioningErrors,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F> {
        self.store(Some(value))
    }

    /// Erases the device and product records (`AT+TCRESTORE`); module info
    /// and Wi-Fi settings are kept.
    ///
    /// Each record is erased atomically, but not both together: after a
    /// power cut the device record may be gone while the product record is
    /// still there. Running the command again finishes the job.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub async fn erase_cloud(&mut self) -> Result<(), StorageError> {
        self.store::<DeviceInfo>(None).await?;
        self.store::<ProductInfo>(None).await
    }

    /// Erases the Wi-Fi station configuration and mode (`AT+RESTORE`); the
    /// Tencent records are kept.
    ///
    /// # Errors
    ///
    /// As [`Settings::store_device`].
    pub async fn erase_wifi(&mut self) -> Result<(), StorageError> {
        self.store::<WifiStation>(None).await?;
        self.store::<WifiMode>(None).await
    }

    /// Erases the whole partition, dropping every record. For factory reset
    /// tooling and for recovering from [`StorageError::Corrupted`].
    ///
    /// # Errors
    ///
    /// [`StorageError::Flash`] on a driver error; run it again.
    pub async fn format(&mut self) -> Result<(), StorageError> {
        warning!("formatting the settings partition");
        self.map.erase_all().await.map_err(StorageError::from)
    }

    /// Returns the flash, for sharing the bus with other partitions.
    ///
    /// Writing inside the settings range through it breaks the store.
    pub fn flash(&mut self) -> &mut F {
        self.map.flash()
    }

    /// Gives the flash back.
    pub fn into_inner(self) -> F {
        self.map.destroy().0
    }

    /// Reads one record; a tombstone reads as `None`.
    // An `async` block, not an `async fn`: the receiver is kept once, not twice (this future
    // is under every read the engine awaits).
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn fetch<T: Record>(
        &mut self,
    ) -> impl Future<Output = Result<Option<T>, StorageError>> + use<'_, F, T> {
        async move {
            let key = T::KEY.to_byte();
            let found = self
                .map
                .fetch_item::<Incoming<T>>(&mut self.buffer.0, &key)
                .await?;
            Ok(found.and_then(|incoming| incoming.0))
        }
    }

    /// Writes `value` (a tombstone for `None`) unless it is already stored.
    // An `async` block capturing the value's `Outgoing` wrapper only, not an `async fn`: its
    // arguments would be kept twice, beside the write (this future is under every flash write
    // the engine awaits, the deepest wait of its executor).
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn store<'a, T: Record + PartialEq>(
        &'a mut self,
        value: Option<&'a T>,
    ) -> impl Future<Output = Result<(), StorageError>> + use<'a, F, T> {
        let outgoing = Outgoing(value);
        async move {
            match self.fetch::<T>().await {
                Ok(current) if current.as_ref() == outgoing.0 => return Ok(()),
                // A corrupt record is exactly what a new write should replace.
                Ok(_) | Err(StorageError::Corrupted) => {}
                Err(error) => return Err(error),
            }
            debug!("writing settings record {}", T::KEY.to_byte());
            let key = T::KEY.to_byte();
            self.map
                .store_item(&mut self.buffer.0, &key, &outgoing)
                .await
                .map_err(StorageError::from)
        }
    }
}
