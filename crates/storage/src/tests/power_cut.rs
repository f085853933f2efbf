//! The project's power-cut test: cut power at every write and erase of an
//! update, reboot, and require that every record reads as its old or its new
//! value, that untouched records are unchanged, and that the store still
//! works afterwards.

use std::format;
use std::string::String;

use super::{device, flash_with_partition, module, product, reboot, run, station, text, wifi_mode};
use crate::mock::{Cut, MockFlash};
use crate::{DeviceInfo, Settings, Snapshot, StorageError};
use core::ops::Range;

/// One update a host can trigger.
#[derive(Debug, Clone)]
pub(super) enum Update {
    Device(DeviceInfo),
    Product(u8),
    Station(u8),
    WifiMode(u8),
    Module(u8),
    EraseCloud,
    EraseWifi,
}

pub(super) async fn apply(
    settings: &mut Settings<MockFlash>,
    update: &Update,
) -> Result<(), StorageError> {
    match update {
        Update::Device(value) => settings.store_device(value).await,
        Update::Product(index) => settings.store_product(&product(*index)).await,
        Update::Station(index) => settings.store_station(&station(*index)).await,
        Update::WifiMode(index) => settings.store_wifi_mode(&wifi_mode(*index)).await,
        Update::Module(index) => settings.store_module(&module(*index)).await,
        Update::EraseCloud => settings.erase_cloud().await,
        Update::EraseWifi => settings.erase_wifi().await,
    }
}

/// What the records are once `update` has fully happened.
pub(super) fn expected(old: &Snapshot, update: &Update) -> Snapshot {
    let mut new = old.clone();
    match update {
        Update::Device(value) => new.device = Some(value.clone()),
        Update::Product(index) => new.product = Some(product(*index)),
        Update::Station(index) => new.station = Some(station(*index)),
        Update::WifiMode(index) => new.wifi_mode = Some(wifi_mode(*index)),
        Update::Module(index) => new.module = Some(module(*index)),
        Update::EraseCloud => {
            new.device = None;
            new.product = None;
        }
        Update::EraseWifi => {
            new.station = None;
            new.wifi_mode = None;
        }
    }
    new
}

/// Checks that every record of `loaded` is its value in `old` or in `new`;
/// describes the first one that is neither.
pub(super) fn old_or_new(loaded: &Snapshot, old: &Snapshot, new: &Snapshot) -> Result<(), String> {
    fn field<T: PartialEq + core::fmt::Debug>(
        name: &str,
        loaded: &T,
        old: &T,
        new: &T,
    ) -> Result<(), String> {
        if loaded == old || loaded == new {
            Ok(())
        } else {
            Err(format!(
                "{name}: loaded {loaded:?}, old {old:?}, new {new:?}"
            ))
        }
    }
    field("device", &loaded.device, &old.device, &new.device)?;
    field("product", &loaded.product, &old.product, &new.product)?;
    field("module", &loaded.module, &old.module, &new.module)?;
    field("station", &loaded.station, &old.station, &new.station)?;
    field(
        "wifi_mode",
        &loaded.wifi_mode,
        &old.wifi_mode,
        &new.wifi_mode,
    )
}

/// The ways an operation can be interrupted: before its first byte, half
/// way, just before its end, and an erase that leaves half-erased garbage.
const CUTS: [Cut; 4] = [
    Cut {
        progress_percent: 0,
        erase_garbage: false,
    },
    Cut {
        progress_percent: 50,
        erase_garbage: false,
    },
    Cut {
        progress_percent: 99,
        erase_garbage: false,
    },
    Cut {
        progress_percent: 50,
        erase_garbage: true,
    },
];

/// What one exhaustive run observed.
struct Observed {
    operations: usize,
    erases: usize,
}

/// Runs `update` from `flash` once cleanly, then once per operation index
/// and kind of cut with power cut there, checking the rules of this module.
fn cut_at_every_operation(
    flash: &MockFlash,
    range: &Range<u32>,
    old: &Snapshot,
    update: &Update,
) -> Observed {
    let new = expected(old, update);
    let mut clean = Settings::new(flash.clone(), range.clone());
    run(apply(&mut clean, update)).expect("the update succeeds with power");
    let observed = Observed {
        operations: clean.flash().operation_count() - flash.operation_count(),
        erases: clean.flash().erase_count() - flash.erase_count(),
    };
    assert_eq!(run(clean.load()), Ok(new.clone()));

    for cut in CUTS {
        for index in 0..observed.operations {
            let context = format!(
                "{update:?}, cut {cut:?} at operation {index} of {}",
                observed.operations
            );
            let mut settings = Settings::new(flash.clone(), range.clone());
            settings.flash().cut_power_after_with(index, cut);
            assert_eq!(
                run(apply(&mut settings, update)),
                Err(StorageError::Flash),
                "{context}"
            );

            let mut settings = reboot(settings, range.clone());
            let loaded = run(settings.load())
                .unwrap_or_else(|error| panic!("{context}: load failed: {error}"));
            if let Err(problem) = old_or_new(&loaded, old, &new) {
                panic!("{context}: {problem}");
            }

            // The store still works, and keeps what survived the cut.
            let later = Snapshot {
                device: Some(device(250)),
                station: Some(station(250)),
                ..loaded
            };
            run(settings.store_device(later.device.as_ref().unwrap()))
                .unwrap_or_else(|error| panic!("{context}: {error}"));
            run(settings.store_station(later.station.as_ref().unwrap()))
                .unwrap_or_else(|error| panic!("{context}: {error}"));
            assert_eq!(
                run(reboot(settings, range.clone()).load()),
                Ok(later),
                "{context}"
            );
        }
    }
    observed
}

/// A flash with every record kind stored; the device record holds `device(0)`.
fn committed(sectors: u32) -> (MockFlash, Range<u32>, Snapshot) {
    let (flash, range) = flash_with_partition(sectors);
    let mut settings = Settings::new(flash, range.clone());
    let snapshot = Snapshot {
        device: Some(device(0)),
        product: Some(product(1)),
        module: Some(module(1)),
        station: Some(station(1)),
        wifi_mode: Some(wifi_mode(2)),
    };
    run(async {
        settings
            .store_product(snapshot.product.as_ref().unwrap())
            .await?;
        settings
            .store_module(snapshot.module.as_ref().unwrap())
            .await?;
        settings
            .store_station(snapshot.station.as_ref().unwrap())
            .await?;
        settings
            .store_wifi_mode(&snapshot.wifi_mode.unwrap())
            .await?;
        settings
            .store_device(snapshot.device.as_ref().unwrap())
            .await
    })
    .unwrap();
    (settings.into_inner(), range, snapshot)
}

/// The largest device record the AT command accepts, distinct per `index`.
pub(super) fn large_device(index: u8) -> DeviceInfo {
    DeviceInfo {
        tls_mode: 1,
        product_id: text(&[b'P', index, 0, 0, 0, 0, 0, 0, 0, 0xFF]),
        device_name: text(&[index; 48]),
        secret: text(&[index ^ 0x5A; 44]),
        region: text(&[b'r'; 24]),
    }
}

#[test]
fn device_update_is_old_or_new_after_a_cut_anywhere() {
    let (flash, range, old) = committed(8);
    let observed = cut_at_every_operation(&flash, &range, &old, &Update::Device(device(1)));
    assert!(observed.operations >= 2, "a store writes a header and data");
}

#[test]
fn every_update_kind_is_old_or_new_after_a_cut_anywhere() {
    let (flash, range, old) = committed(4);
    let updates = [
        Update::Product(2),
        Update::Station(2),
        Update::WifiMode(0),
        Update::Module(2),
        Update::EraseCloud,
        Update::EraseWifi,
    ];
    for update in &updates {
        cut_at_every_operation(&flash, &range, &old, update);
    }
}

/// Drives the device record through enough updates that sectors fill up,
/// the store moves to the next sector and garbage collection erases and
/// migrates the other records, cutting power at every operation of each.
fn updates_through_garbage_collection(sectors: u32, updates: u8) {
    let (mut flash, range, mut old) = committed(sectors);
    let mut garbage_collections = 0;
    for index in 1..=updates {
        // Every seventh update touches another record, so that records are
        // spread over several sectors when garbage collection runs.
        let update = if index % 7 == 0 {
            Update::Station(index)
        } else {
            Update::Device(large_device(index))
        };
        let observed = cut_at_every_operation(&flash, &range, &old, &update);
        if observed.erases > 0 {
            garbage_collections += 1;
        }
        let mut settings = Settings::new(flash, range.clone());
        run(apply(&mut settings, &update)).unwrap();
        old = expected(&old, &update);
        flash = settings.into_inner();
    }
    assert!(
        garbage_collections >= 2,
        "only {garbage_collections} updates collected garbage"
    );
}

#[test]
fn updates_through_garbage_collection_in_two_sectors() {
    updates_through_garbage_collection(2, 80);
}

#[test]
fn updates_through_garbage_collection_in_three_sectors() {
    updates_through_garbage_collection(3, 110);
}
