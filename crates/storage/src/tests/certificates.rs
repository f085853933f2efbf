//! The certificate store: names, replacement, the table limit, deletion,
//! erase, checksums, and old-or-new contents after a power cut at every
//! flash operation.

use std::format;
use std::vec::Vec;

use super::{run, text};
use crate::codec::{decode, encode, MAXIMUM_VALUE_LENGTH};
use crate::mock::{Cut, MockFlash, SECTOR_SIZE};
use crate::{
    is_certificate_name, CertificateEntry, CertificateError, CertificateTable, Settings,
    CERTIFICATE_FILES_MAX,
};
use core::ops::Range;

const SETTINGS: Range<u32> = 0..4 * SECTOR_SIZE as u32;
const AREA: Range<u32> = 5 * SECTOR_SIZE as u32..15 * SECTOR_SIZE as u32;

fn flash() -> MockFlash {
    MockFlash::new(16 * SECTOR_SIZE)
}

fn open(flash: MockFlash) -> Settings<MockFlash> {
    Settings::new(flash, SETTINGS).with_certificate_area(AREA)
}

fn reboot(settings: Settings<MockFlash>) -> Settings<MockFlash> {
    let mut flash = settings.into_inner();
    flash.restore_power();
    open(flash)
}

/// Distinct contents of `size` bytes for `seed`.
fn contents(seed: u8, size: usize) -> Vec<u8> {
    (0..size)
        .map(|index| seed.wrapping_add((index % 251) as u8))
        .collect()
}

fn read(settings: &mut Settings<MockFlash>, name: &[u8]) -> Result<Vec<u8>, CertificateError> {
    let mut buffer = [0u8; 4096];
    let size = run(settings.read_certificate(name, &mut buffer))?;
    Ok(buffer[..size].to_vec())
}

fn names(settings: &mut Settings<MockFlash>) -> Vec<(Vec<u8>, u16)> {
    run(settings.certificates())
        .unwrap()
        .entries()
        .iter()
        .map(|entry| (entry.name.to_vec(), entry.size))
        .collect()
}

#[test]
fn names_follow_the_spec_alphabet_and_suffixes() {
    assert!(is_certificate_name(b"dev1.crt"));
    assert!(is_certificate_name(b"A-b_c.9.key"));
    assert!(is_certificate_name(b".crt"));
    let longest = [&[b'a'; 60][..], b".key"].concat();
    assert!(is_certificate_name(&longest));
    let too_long = [&[b'a'; 61][..], b".key"].concat();
    assert!(!is_certificate_name(&too_long));
    for bad in [
        &b""[..],
        b"dev1",
        b"dev1.pem",
        b"dev 1.crt",
        b"dev/1.crt",
        b"dev1.CRT",
        b"d\"x.crt",
    ] {
        assert!(!is_certificate_name(bad), "{}", bad.escape_ascii());
    }
}

#[test]
fn blank_flash_has_no_files() {
    let mut settings = open(flash());
    assert!(run(settings.certificates()).unwrap().entries().is_empty());
    assert_eq!(
        read(&mut settings, b"dev1.crt"),
        Err(CertificateError::NotFound)
    );
}

#[test]
fn files_are_listed_in_name_order_and_survive_a_reboot() {
    let mut settings = open(flash());
    run(settings.store_certificate(b"dev2.key", &contents(1, 5))).unwrap();
    run(settings.store_certificate(b"dev1.crt", &contents(2, 4096))).unwrap();
    run(settings.store_certificate(b"dev1.key", &contents(3, 1))).unwrap();
    let mut settings = reboot(settings);
    assert_eq!(
        names(&mut settings),
        [
            (b"dev1.crt".to_vec(), 4096),
            (b"dev1.key".to_vec(), 1),
            (b"dev2.key".to_vec(), 5)
        ]
    );
    assert_eq!(read(&mut settings, b"dev1.crt"), Ok(contents(2, 4096)));
    assert_eq!(read(&mut settings, b"dev1.key"), Ok(contents(3, 1)));
    assert_eq!(read(&mut settings, b"dev2.key"), Ok(contents(1, 5)));
}

#[test]
fn storing_a_name_again_replaces_the_file() {
    let mut settings = open(flash());
    run(settings.store_certificate(b"a.crt", &contents(1, 100))).unwrap();
    for round in 0..20u8 {
        run(settings.store_certificate(b"a.crt", &contents(round, 7 + usize::from(round))))
            .unwrap();
    }
    assert_eq!(names(&mut settings), [(b"a.crt".to_vec(), 26)]);
    assert_eq!(read(&mut settings, b"a.crt"), Ok(contents(19, 26)));
}

#[test]
fn a_ninth_name_is_refused_but_replacing_one_of_eight_works() {
    let mut settings = open(flash());
    for index in 0..CERTIFICATE_FILES_MAX as u8 {
        let name = format!("f{index}.crt");
        run(settings.store_certificate(name.as_bytes(), &contents(index, 4096))).unwrap();
    }
    assert_eq!(
        run(settings.store_certificate(b"extra.key", b"x")),
        Err(CertificateError::TableFull)
    );
    run(settings.store_certificate(b"f3.crt", &contents(99, 4096))).unwrap();
    let mut settings = reboot(settings);
    assert_eq!(names(&mut settings).len(), CERTIFICATE_FILES_MAX);
    for index in 0..CERTIFICATE_FILES_MAX as u8 {
        let name = format!("f{index}.crt");
        let seed = if index == 3 { 99 } else { index };
        assert_eq!(
            read(&mut settings, name.as_bytes()),
            Ok(contents(seed, 4096))
        );
    }
}

#[test]
fn invalid_names_sizes_and_small_buffers_are_refused() {
    let mut settings = open(flash());
    assert_eq!(
        run(settings.store_certificate(b"a.pem", b"x")),
        Err(CertificateError::Invalid)
    );
    assert_eq!(
        run(settings.store_certificate(b"a.crt", b"")),
        Err(CertificateError::Invalid)
    );
    let too_big = contents(0, 4097);
    assert_eq!(
        run(settings.store_certificate(b"a.crt", &too_big)),
        Err(CertificateError::Invalid)
    );
    run(settings.store_certificate(b"a.crt", b"12345")).unwrap();
    let mut small = [0u8; 4];
    assert_eq!(
        run(settings.read_certificate(b"a.crt", &mut small)),
        Err(CertificateError::Invalid)
    );
    let mut plain = Settings::new(flash(), SETTINGS);
    assert_eq!(
        run(plain.store_certificate(b"a.crt", b"x")),
        Err(CertificateError::NoArea)
    );
}

#[test]
fn delete_and_erase_remove_files() {
    let mut settings = open(flash());
    run(settings.store_certificate(b"a.crt", b"one")).unwrap();
    run(settings.store_certificate(b"a.key", b"two")).unwrap();
    assert_eq!(
        run(settings.delete_certificate(b"b.crt")),
        Err(CertificateError::NotFound)
    );
    run(settings.delete_certificate(b"a.crt")).unwrap();
    assert_eq!(names(&mut settings), [(b"a.key".to_vec(), 3)]);
    run(settings.erase_certificates()).unwrap();
    let mut settings = reboot(settings);
    assert!(names(&mut settings).is_empty());
    run(settings.store_certificate(b"a.crt", b"again")).unwrap();
    assert_eq!(read(&mut settings, b"a.crt"), Ok(b"again".to_vec()));
}

#[test]
fn contents_damaged_on_flash_read_as_corrupted() {
    let mut settings = open(flash());
    run(settings.store_certificate(b"a.crt", &contents(5, 64))).unwrap();
    let mut image = settings.into_inner().as_bytes().to_vec();
    // The only file is in the first slot; flip one bit of it as wear would.
    let address = AREA.start as usize + 10;
    image[address] ^= 0x01;
    let mut settings = open(MockFlash::from_bytes(&image));
    assert_eq!(
        read(&mut settings, b"a.crt"),
        Err(CertificateError::Corrupted)
    );
}

#[test]
fn certificate_writes_leave_the_settings_records_alone() {
    let mut settings = open(flash());
    let device = super::device(1);
    run(settings.store_device(&device)).unwrap();
    for round in 0..30u8 {
        run(settings.store_certificate(b"a.crt", &contents(round, 4000))).unwrap();
    }
    let mut settings = reboot(settings);
    assert_eq!(run(settings.device()), Ok(Some(device)));
}

#[test]
fn the_full_table_fits_the_work_buffer() {
    let mut table = CertificateTable::default();
    for index in 0..CERTIFICATE_FILES_MAX as u8 {
        let mut name = [b'n'; 64];
        name[..1].copy_from_slice(&[b'a' + index]);
        name[60..].copy_from_slice(b".key");
        let entry = CertificateEntry {
            name: text(&name),
            size: 4096,
            checksum: u32::MAX,
            slot: index,
        };
        table.entries.push(entry).unwrap();
    }
    let mut buffer = [0u8; MAXIMUM_VALUE_LENGTH];
    assert_eq!(encode(Some(&table), &mut buffer), Ok(MAXIMUM_VALUE_LENGTH));
    assert_eq!(decode::<CertificateTable>(&buffer), Ok(Some(table)));
}

/// Old file contents, or `None` when the file did not exist.
type Before = Option<Vec<u8>>;

/// Runs `update` with power cut at every flash operation (three kinds of
/// cut), then checks after a reboot that `name` reads as `before` or
/// `after`, that `other` is intact, and that the store still works.
fn cut_everywhere(
    setup: impl Fn(&mut Settings<MockFlash>),
    update: impl Fn(&mut Settings<MockFlash>) -> Result<(), CertificateError>,
    name: &[u8],
    before: Before,
    after: Before,
) {
    let mut base = open(flash());
    setup(&mut base);
    let image = base.into_inner();
    let mut clean = open(image.clone());
    update(&mut clean).expect("the update succeeds with power");
    let operations = clean.flash().operation_count() - image.operation_count();
    assert!(operations > 0);
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
            progress_percent: 50,
            erase_garbage: true,
        },
    ];
    for cut in cuts {
        for index in 0..operations {
            let context = format!("cut {cut:?} at operation {index} of {operations}");
            let mut settings = open(image.clone());
            settings.flash().cut_power_after_with(index, cut);
            assert!(update(&mut settings).is_err(), "{context}");
            let mut settings = reboot(settings);
            let found = match read(&mut settings, name) {
                Ok(bytes) => Some(bytes),
                Err(CertificateError::NotFound) => None,
                Err(error) => panic!("{context}: {error}"),
            };
            assert!(
                found == before || found == after,
                "{context}: neither old nor new"
            );
            assert_eq!(
                read(&mut settings, b"other.key"),
                Ok(contents(7, 3000)),
                "{context}"
            );
            run(settings.store_certificate(b"later.crt", b"later")).unwrap();
            let mut settings = reboot(settings);
            assert_eq!(
                read(&mut settings, b"later.crt"),
                Ok(b"later".to_vec()),
                "{context}"
            );
        }
    }
}

fn with_other(settings: &mut Settings<MockFlash>) {
    run(settings.store_certificate(b"other.key", &contents(7, 3000))).unwrap();
}

#[test]
fn power_cut_while_replacing_reads_old_or_new() {
    cut_everywhere(
        |settings| {
            with_other(settings);
            run(settings.store_certificate(b"dev.crt", &contents(1, 2000))).unwrap();
        },
        |settings| settings_store(settings, b"dev.crt", &contents(2, 4095)),
        b"dev.crt",
        Some(contents(1, 2000)),
        Some(contents(2, 4095)),
    );
}

#[test]
fn power_cut_while_adding_reads_absent_or_new() {
    cut_everywhere(
        with_other,
        |settings| settings_store(settings, b"dev.key", &contents(3, 333)),
        b"dev.key",
        None,
        Some(contents(3, 333)),
    );
}

#[test]
fn power_cut_while_deleting_reads_old_or_absent() {
    cut_everywhere(
        |settings| {
            with_other(settings);
            run(settings.store_certificate(b"dev.crt", &contents(4, 10))).unwrap();
        },
        |settings| run(settings.delete_certificate(b"dev.crt")),
        b"dev.crt",
        Some(contents(4, 10)),
        None,
    );
}

fn settings_store(
    settings: &mut Settings<MockFlash>,
    name: &[u8],
    bytes: &[u8],
) -> Result<(), CertificateError> {
    run(settings.store_certificate(name, bytes))
}
