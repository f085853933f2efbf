//! Behaviour of the settings API on a healthy flash.

use sequential_storage::cache::Cache;
use sequential_storage::map::{MapConfig, MapStorage};

use super::{device, flash_with_partition, module, product, reboot, run, station, wifi_mode};
use crate::mock::{MockFlash, SECTOR_SIZE};
use crate::{RangeError, Settings, Snapshot, StorageError};

fn full_snapshot() -> Snapshot {
    Snapshot {
        device: Some(device(1)),
        product: Some(product(1)),
        module: Some(module(1)),
        station: Some(station(1)),
        wifi_mode: Some(wifi_mode(3)),
    }
}

fn store_all(settings: &mut Settings<MockFlash>, snapshot: &Snapshot) {
    run(async {
        settings
            .store_device(snapshot.device.as_ref().unwrap())
            .await?;
        settings
            .store_product(snapshot.product.as_ref().unwrap())
            .await?;
        settings
            .store_module(snapshot.module.as_ref().unwrap())
            .await?;
        settings
            .store_station(snapshot.station.as_ref().unwrap())
            .await?;
        settings.store_wifi_mode(&snapshot.wifi_mode.unwrap()).await
    })
    .unwrap();
}

#[test]
fn blank_partition_loads_as_empty_snapshot() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range);
    assert_eq!(run(settings.load()), Ok(Snapshot::default()));
    assert_eq!(
        settings.flash().operation_count(),
        0,
        "loading writes nothing"
    );
}

#[test]
fn records_survive_a_reboot_and_stay_inside_the_partition() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range.clone());
    store_all(&mut settings, &full_snapshot());
    let mut settings = reboot(settings, range.clone());
    assert_eq!(run(settings.load()), Ok(full_snapshot()));
    let bytes = settings.into_inner();
    let bytes = bytes.as_bytes();
    let outside = bytes[..range.start as usize]
        .iter()
        .chain(&bytes[range.end as usize..]);
    assert!(outside.copied().all(|byte| byte == 0xFF));
}

#[test]
fn storing_an_equal_value_writes_nothing() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range.clone());
    store_all(&mut settings, &full_snapshot());
    let operations = settings.flash().operation_count();
    // Equal values, also after a reboot (no RAM state is involved).
    let mut settings = reboot(settings, range);
    store_all(&mut settings, &full_snapshot());
    assert_eq!(settings.flash().operation_count(), operations);
    // A different value does write.
    run(settings.store_device(&device(2))).unwrap();
    assert!(settings.flash().operation_count() > operations);
}

#[test]
fn erasing_absent_records_writes_nothing() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range);
    run(settings.erase_cloud()).unwrap();
    run(settings.erase_wifi()).unwrap();
    assert_eq!(settings.flash().operation_count(), 0);
    run(settings.store_device(&device(1))).unwrap();
    run(settings.erase_cloud()).unwrap();
    let operations = settings.flash().operation_count();
    run(settings.erase_cloud()).unwrap();
    assert_eq!(
        settings.flash().operation_count(),
        operations,
        "a tombstone is not rewritten"
    );
}

#[test]
fn provisioning_errors_survive_a_reboot_and_both_restores() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range.clone());
    assert_eq!(run(settings.provisioning_errors()), Ok(None));
    let value = crate::ProvisioningErrors {
        records: heapless::Vec::from_slice(&[(3, 102)]).unwrap(),
    };
    run(settings.store_provisioning_errors(&value)).unwrap();
    run(settings.erase_cloud()).unwrap();
    run(settings.erase_wifi()).unwrap();
    let mut settings = reboot(settings, range);
    assert_eq!(run(settings.provisioning_errors()), Ok(Some(value)));
}

#[test]
fn erase_cloud_keeps_module_and_wifi() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range.clone());
    store_all(&mut settings, &full_snapshot());
    run(settings.erase_cloud()).unwrap();
    let expected = Snapshot {
        device: None,
        product: None,
        ..full_snapshot()
    };
    assert_eq!(run(settings.load()), Ok(expected.clone()));
    assert_eq!(run(reboot(settings, range).load()), Ok(expected));
}

#[test]
fn erase_wifi_keeps_cloud_and_module() {
    let (flash, range) = flash_with_partition(8);
    let mut settings = Settings::new(flash, range.clone());
    store_all(&mut settings, &full_snapshot());
    run(settings.erase_wifi()).unwrap();
    let expected = Snapshot {
        station: None,
        wifi_mode: None,
        ..full_snapshot()
    };
    assert_eq!(run(settings.load()), Ok(expected.clone()));
    assert_eq!(run(reboot(settings, range).load()), Ok(expected));
}

#[test]
fn erased_records_can_be_stored_again() {
    let (flash, range) = flash_with_partition(2);
    let mut settings = Settings::new(flash, range);
    for round in 0..120u8 {
        run(settings.store_device(&device(round))).unwrap();
        run(settings.store_station(&station(round))).unwrap();
        assert_eq!(run(settings.device()), Ok(Some(device(round))));
        run(settings.erase_cloud()).unwrap();
        run(settings.erase_wifi()).unwrap();
        assert_eq!(run(settings.load()), Ok(Snapshot::default()));
    }
    assert!(settings.flash().erase_count() > 0, "garbage collection ran");
}

#[test]
fn many_updates_in_the_smallest_partition_keep_working() {
    let (flash, range) = flash_with_partition(crate::MINIMUM_SECTORS);
    let mut settings = Settings::new(flash, range.clone());
    store_all(&mut settings, &full_snapshot());
    for round in 0..500u16 {
        let index = (round % 251) as u8;
        run(settings.store_device(&device(index))).unwrap();
        run(settings.store_product(&product(index))).unwrap();
    }
    assert!(settings.flash().erase_count() > 10);
    let expected = Snapshot {
        device: Some(device((499 % 251) as u8)),
        product: Some(product((499 % 251) as u8)),
        ..full_snapshot()
    };
    assert_eq!(run(reboot(settings, range).load()), Ok(expected));
}

#[test]
fn undecodable_record_is_corrupted_until_overwritten() {
    let (flash, range) = flash_with_partition(4);
    // A foreign writer stores a value with an unknown format tag under the device key.
    let mut map =
        MapStorage::<u8, _, _>::new(flash, MapConfig::new(range.clone()), Cache::new_uncached());
    let mut buffer = [0u8; 64];
    run(map.store_item(&mut buffer, &1u8, &&[0x7Fu8, 1, 2][..])).unwrap();
    let (flash, _) = map.destroy();

    let mut settings = Settings::new(flash, range);
    assert_eq!(run(settings.load()), Err(StorageError::Corrupted));
    run(settings.store_module(&module(4))).unwrap();
    run(settings.store_device(&device(4))).unwrap();
    let expected = Snapshot {
        device: Some(device(4)),
        module: Some(module(4)),
        ..Snapshot::default()
    };
    assert_eq!(run(settings.load()), Ok(expected));
}

#[test]
fn format_drops_every_record() {
    let (flash, range) = flash_with_partition(4);
    let mut settings = Settings::new(flash, range);
    store_all(&mut settings, &full_snapshot());
    run(settings.format()).unwrap();
    assert_eq!(run(settings.load()), Ok(Snapshot::default()));
    run(settings.store_device(&device(5))).unwrap();
    assert_eq!(run(settings.device()), Ok(Some(device(5))));
}

#[test]
fn flash_errors_are_reported_as_flash() {
    let (flash, range) = flash_with_partition(4);
    let mut settings = Settings::new(flash, range);
    settings.flash().cut_power_after(0);
    assert_eq!(
        run(settings.store_device(&device(1))),
        Err(StorageError::Flash)
    );
    assert_eq!(
        run(settings.load()),
        Err(StorageError::Flash),
        "no power, no read"
    );
}

#[test]
fn partition_ranges_are_checked() {
    let flash = MockFlash::new(8 * SECTOR_SIZE);
    let sector = SECTOR_SIZE as u32;
    assert_eq!(Settings::check_range(&flash, &(0..2 * sector)), Ok(()));
    assert_eq!(
        Settings::check_range(&flash, &(0..sector)),
        Err(RangeError::TooSmall)
    );
    assert_eq!(
        Settings::check_range(&flash, &(4..2 * sector + 4)),
        Err(RangeError::NotSectorAligned)
    );
    assert_eq!(
        Settings::check_range(&flash, &(0..9 * sector)),
        Err(RangeError::OutOfBounds)
    );
}

#[test]
#[should_panic(expected = "invalid settings partition")]
fn new_panics_on_a_bad_range() {
    let _ = Settings::new(MockFlash::new(SECTOR_SIZE), 0..SECTOR_SIZE as u32);
}

#[test]
fn linux_board_partition_layout_works() {
    // 32 KiB at the top of a 2 MiB flash, as the Linux board lays it out.
    let mut settings = Settings::new(MockFlash::new(0x20_0000), 0x1F_8000..0x20_0000);
    store_all(&mut settings, &full_snapshot());
    assert_eq!(run(settings.load()), Ok(full_snapshot()));
}
