//! The firmware record and image area: the codec, sequential writes in any
//! chunking, resume inside a sector, and a power cut at every flash
//! operation of a small download: the record never claims a byte that is
//! not in flash, and the image is the old one or (a prefix of) the new one.

use std::format;
use std::vec::Vec;

use super::{run, text};
use crate::codec::{decode, encode, MAXIMUM_VALUE_LENGTH};
use crate::mock::{Cut, MockFlash, SECTOR_SIZE};
use crate::{
    FirmwareError, FirmwareInfo, FirmwareState, FirmwareWriter, Settings, StorageError,
    MCU_IMAGE_NAME,
};
use core::ops::Range;

const SETTINGS: Range<u32> = 0..4 * SECTOR_SIZE as u32;
const AREA: Range<u32> = 4 * SECTOR_SIZE as u32..8 * SECTOR_SIZE as u32;

fn open(flash: MockFlash) -> Settings<MockFlash> {
    Settings::new(flash, SETTINGS).with_firmware_area(AREA)
}

fn reboot(settings: Settings<MockFlash>) -> Settings<MockFlash> {
    let mut flash = settings.into_inner();
    flash.restore_power();
    open(flash)
}

fn image(seed: u8, size: usize) -> Vec<u8> {
    (0..size)
        .map(|index| ((index * 7 + 3) as u8).wrapping_add(seed))
        .collect()
}

fn record(state: FirmwareState, version: &[u8], size: u32, downloaded: u32) -> FirmwareInfo {
    FirmwareInfo {
        state,
        name: text(MCU_IMAGE_NAME),
        version: text(version),
        md5: [version[0]; 16],
        size,
        downloaded,
        max_size: AREA.end - AREA.start,
    }
}

fn stored_image(settings: &mut Settings<MockFlash>, length: usize) -> Vec<u8> {
    let mut bytes = std::vec![0u8; length];
    run(settings.read_firmware(0, &mut bytes)).expect("image readable");
    bytes
}

#[test]
fn record_round_trips_and_rejects_an_unknown_state() {
    let value = record(FirmwareState::ModuleDownloading, b"1.3.0", 175_436, 65_536);
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    let length = encode(Some(&value), &mut buffer).unwrap();
    assert_eq!(decode::<FirmwareInfo>(&buffer[..length]), Ok(Some(value)));
    buffer[1] = 0; // "none" is the absent record, never a stored state
    assert!(decode::<FirmwareInfo>(&buffer[..length]).is_err());
    buffer[1] = 5;
    assert!(decode::<FirmwareInfo>(&buffer[..length]).is_err());
}

#[test]
fn record_is_stored_erased_and_survives_a_reboot() {
    let mut settings = open(MockFlash::new(8 * SECTOR_SIZE));
    assert_eq!(run(settings.firmware()), Ok(None));
    let value = record(FirmwareState::McuValid, b"2.0", 5000, 5000);
    run(settings.store_firmware(&value)).unwrap();
    let mut settings = reboot(settings);
    assert_eq!(run(settings.firmware()), Ok(Some(value)));
    run(settings.erase_firmware()).unwrap();
    assert_eq!(run(reboot(settings).firmware()), Ok(None));
}

#[test]
fn any_chunking_stores_the_same_image() {
    let bytes = image(0, 10_003);
    for chunk in [1, 3, 4, 5, 1000, 4096, 4097, 10_003] {
        let mut settings = open(MockFlash::new(8 * SECTOR_SIZE));
        let mut writer = FirmwareWriter::fresh();
        for piece in bytes.chunks(chunk) {
            run(settings.write_firmware(&mut writer, piece)).unwrap();
            assert!(writer.stored().is_multiple_of(4), "chunk {chunk}");
            assert!(writer.position() - writer.stored() < 4);
        }
        run(settings.finish_firmware(&mut writer)).unwrap();
        assert_eq!(writer.stored(), 10_003);
        assert_eq!(
            stored_image(&mut settings, bytes.len()),
            bytes,
            "chunk {chunk}"
        );
        assert_eq!(settings.flash().erase_count(), 3, "each sector erased once");
    }
}

#[test]
fn writes_beyond_the_area_or_without_one_are_refused() {
    let mut settings = open(MockFlash::new(8 * SECTOR_SIZE));
    let mut writer = FirmwareWriter::resume(4 * SECTOR_SIZE as u32 - 4);
    assert_eq!(
        run(settings.write_firmware(&mut writer, &[0; 5])),
        Err(FirmwareError::OutOfRange)
    );
    assert_eq!(
        writer.position(),
        4 * SECTOR_SIZE as u32 - 4,
        "nothing taken"
    );
    let mut out = [0u8; 2];
    assert_eq!(
        run(settings.read_firmware(4 * SECTOR_SIZE as u32 - 1, &mut out)),
        Err(FirmwareError::OutOfRange)
    );
    let mut bare = Settings::new(MockFlash::new(8 * SECTOR_SIZE), SETTINGS);
    assert_eq!(bare.firmware_capacity(), None);
    assert_eq!(
        run(bare.write_firmware(&mut FirmwareWriter::fresh(), &[1])),
        Err(FirmwareError::NoArea)
    );
}

#[test]
fn resume_inside_a_sector_keeps_the_stored_prefix() {
    let bytes = image(9, 9000);
    let mut settings = open(MockFlash::new(8 * SECTOR_SIZE));
    let mut writer = FirmwareWriter::fresh();
    run(settings.write_firmware(&mut writer, &bytes[..6002])).unwrap();
    let stored = writer.stored();
    assert_eq!(stored, 6000);
    let mut settings = reboot(settings);
    let erases = settings.flash().erase_count();
    let mut writer = FirmwareWriter::resume(stored);
    run(settings.write_firmware(&mut writer, &bytes[stored as usize..])).unwrap();
    run(settings.finish_firmware(&mut writer)).unwrap();
    assert_eq!(stored_image(&mut settings, bytes.len()), bytes);
    assert_eq!(
        settings.flash().erase_count() - erases,
        1,
        "only sector 2 erased"
    );
}

/// The download a runner performs: record first, then data in 1001-byte
/// pieces, a checkpoint of the stored count at every 4 KiB, the last word,
/// the full count, and the "valid" record.
async fn download(
    settings: &mut Settings<MockFlash>,
    bytes: &[u8],
    resume_at: Option<u32>,
) -> Result<(), &'static str> {
    let size = bytes.len() as u32;
    let mut writer = match resume_at {
        Some(offset) => FirmwareWriter::resume(offset),
        None => {
            let fresh = record(FirmwareState::McuDownloading, b"new", size, 0);
            settings
                .store_firmware(&fresh)
                .await
                .map_err(|_| "record")?;
            FirmwareWriter::fresh()
        }
    };
    let mut checkpointed = writer.stored();
    for piece in bytes[writer.position() as usize..].chunks(1001) {
        settings
            .write_firmware(&mut writer, piece)
            .await
            .map_err(|_| "write")?;
        if writer.stored() - checkpointed >= 4096 {
            checkpointed = writer.stored();
            let progress = record(FirmwareState::McuDownloading, b"new", size, checkpointed);
            settings
                .store_firmware(&progress)
                .await
                .map_err(|_| "checkpoint")?;
        }
    }
    settings
        .finish_firmware(&mut writer)
        .await
        .map_err(|_| "finish")?;
    let complete = record(FirmwareState::McuDownloading, b"new", size, size);
    settings
        .store_firmware(&complete)
        .await
        .map_err(|_| "complete")?;
    let valid = record(FirmwareState::McuValid, b"new", size, size);
    settings.store_firmware(&valid).await.map_err(|_| "valid")
}

/// Checks the invariant after a cut and returns where a resume would start.
fn check_after_cut(
    settings: &mut Settings<MockFlash>,
    old: &[u8],
    new: &[u8],
    context: &str,
) -> Option<u32> {
    let found = run(settings.firmware()).unwrap_or_else(|error| panic!("{context}: {error}"));
    let found = found.unwrap_or_else(|| panic!("{context}: record lost"));
    match (found.state, &found.version[..]) {
        (FirmwareState::McuValid, b"old") => {
            assert_eq!(
                stored_image(settings, old.len()),
                old,
                "{context}: old image"
            );
            None
        }
        (FirmwareState::McuDownloading, b"new") => {
            let claimed = found.downloaded as usize;
            assert!(claimed <= new.len(), "{context}");
            assert_eq!(
                stored_image(settings, claimed),
                &new[..claimed],
                "{context}: the record claims {claimed} bytes"
            );
            Some(found.downloaded)
        }
        (FirmwareState::McuValid, b"new") => {
            assert_eq!(
                stored_image(settings, new.len()),
                new,
                "{context}: new image"
            );
            None
        }
        other => panic!("{context}: unexpected record {other:?}"),
    }
}

#[test]
fn a_cut_at_every_operation_of_a_download_never_claims_unwritten_bytes() {
    let old = image(1, 7000);
    let new = image(2, 10_003);
    let mut settings = open(MockFlash::new(8 * SECTOR_SIZE));
    run(async {
        let mut writer = FirmwareWriter::fresh();
        settings.write_firmware(&mut writer, &old).await.unwrap();
        settings.finish_firmware(&mut writer).await.unwrap();
        let valid = record(FirmwareState::McuValid, b"old", 7000, 7000);
        settings.store_firmware(&valid).await
    })
    .unwrap();
    let before = settings.into_inner();

    let mut clean = open(before.clone());
    run(download(&mut clean, &new, None)).unwrap();
    let operations = clean.flash().operation_count() - before.operation_count();
    assert!(operations > 10, "{operations} operations");

    let cuts = [
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
    for cut in cuts {
        for index in 0..operations {
            let context = format!("cut {cut:?} at operation {index} of {operations}");
            let mut settings = open(before.clone());
            settings.flash().cut_power_after_with(index, cut);
            assert!(
                run(download(&mut settings, &new, None)).is_err(),
                "{context}"
            );
            let mut settings = reboot(settings);
            let resume_at = check_after_cut(&mut settings, &old, &new, &context);
            // Whatever survived, the download completes from there.
            if let Some(offset) = resume_at {
                run(download(&mut settings, &new, Some(offset)))
                    .unwrap_or_else(|error| panic!("{context}: resume {error}"));
            } else {
                run(download(&mut settings, &new, None)).unwrap();
            }
            let mut settings = reboot(settings);
            assert_eq!(
                run(settings.firmware()).unwrap().map(|found| found.state),
                Some(FirmwareState::McuValid),
                "{context}"
            );
            assert_eq!(stored_image(&mut settings, new.len()), new, "{context}");
        }
    }
}

#[test]
fn a_flash_error_surfaces_as_a_storage_error_for_the_record() {
    let mut settings = open(MockFlash::new(8 * SECTOR_SIZE));
    settings.flash().cut_power_after(0);
    let value = record(FirmwareState::McuDownloading, b"x", 1, 0);
    assert_eq!(
        run(settings.store_firmware(&value)),
        Err(StorageError::Flash)
    );
}
