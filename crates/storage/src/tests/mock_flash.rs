//! The mock flash behaves like NOR flash, including when power is cut.

use embedded_storage_async::nor_flash::{NorFlash, ReadNorFlash};

use super::run;
use crate::mock::{Cut, MockFlash, MockFlashError, SECTOR_SIZE};

fn read(flash: &mut MockFlash, offset: u32, length: usize) -> std::vec::Vec<u8> {
    let mut buffer = std::vec![0; length];
    run(ReadNorFlash::read(flash, offset, &mut buffer)).unwrap();
    buffer
}

#[test]
fn new_flash_is_erased() {
    let flash = MockFlash::new(2 * SECTOR_SIZE);
    assert_eq!(flash.as_bytes().len(), 2 * SECTOR_SIZE);
    assert!(flash.as_bytes().iter().all(|&byte| byte == 0xFF));
}

#[test]
fn write_only_clears_bits() {
    let mut flash = MockFlash::new(SECTOR_SIZE);
    run(NorFlash::write(&mut flash, 8, &[0xF0, 0x0F, 0xAA, 0x00])).unwrap();
    run(NorFlash::write(&mut flash, 8, &[0x3C, 0xFF, 0xFF, 0xFF])).unwrap();
    assert_eq!(read(&mut flash, 8, 4), [0x30, 0x0F, 0xAA, 0x00]);
    assert_eq!(flash.write_count(), 2);
}

#[test]
fn erase_sets_whole_sectors() {
    let mut flash = MockFlash::new(2 * SECTOR_SIZE);
    run(NorFlash::write(&mut flash, 0, &[0; 8])).unwrap();
    run(NorFlash::write(&mut flash, SECTOR_SIZE as u32, &[0; 8])).unwrap();
    run(NorFlash::erase(&mut flash, 0, SECTOR_SIZE as u32)).unwrap();
    assert_eq!(read(&mut flash, 0, 8), [0xFF; 8]);
    assert_eq!(read(&mut flash, SECTOR_SIZE as u32, 8), [0; 8]);
    assert_eq!(flash.erase_count(), 1);
}

#[test]
fn alignment_and_bounds_are_enforced() {
    let mut flash = MockFlash::new(SECTOR_SIZE);
    let size = SECTOR_SIZE as u32;
    assert_eq!(
        run(NorFlash::write(&mut flash, 2, &[0; 4])),
        Err(MockFlashError::NotAligned)
    );
    assert_eq!(
        run(NorFlash::write(&mut flash, 0, &[0; 3])),
        Err(MockFlashError::NotAligned)
    );
    assert_eq!(
        run(NorFlash::erase(&mut flash, 0, 100)),
        Err(MockFlashError::NotAligned)
    );
    assert_eq!(
        run(NorFlash::write(&mut flash, size, &[0; 4])),
        Err(MockFlashError::OutOfBounds)
    );
    assert_eq!(
        run(NorFlash::erase(&mut flash, 0, 2 * size)),
        Err(MockFlashError::OutOfBounds)
    );
    let mut buffer = [0; 2];
    assert_eq!(
        run(ReadNorFlash::read(&mut flash, size - 1, &mut buffer)),
        Err(MockFlashError::OutOfBounds)
    );
    // Byte reads at any address are fine.
    run(ReadNorFlash::read(&mut flash, 3, &mut buffer[..1])).unwrap();
    assert!(flash.as_bytes().iter().all(|&byte| byte == 0xFF));
}

#[test]
fn cut_write_stores_a_prefix_and_kills_later_operations() {
    let mut flash = MockFlash::new(SECTOR_SIZE);
    flash.cut_power_after(1);
    run(NorFlash::write(&mut flash, 0, &[0x11; 4])).unwrap();
    assert_eq!(
        run(NorFlash::write(&mut flash, 4, &[0x22; 8])),
        Err(MockFlashError::PowerLost)
    );
    assert!(!flash.is_powered());
    assert_eq!(
        run(NorFlash::write(&mut flash, 12, &[0; 4])),
        Err(MockFlashError::PowerLost)
    );
    assert_eq!(
        run(NorFlash::erase(&mut flash, 0, SECTOR_SIZE as u32)),
        Err(MockFlashError::PowerLost)
    );
    let mut buffer = [0; 1];
    assert_eq!(
        run(ReadNorFlash::read(&mut flash, 0, &mut buffer)),
        Err(MockFlashError::PowerLost)
    );
    flash.restore_power();
    // Half of the 8 bytes made it; the contents survive the "reboot".
    assert_eq!(
        read(&mut flash, 0, 16),
        [
            0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF
        ]
    );
    assert_eq!(flash.operation_count(), 2);
}

#[test]
fn cut_write_can_tear_a_word() {
    let mut flash = MockFlash::new(SECTOR_SIZE);
    flash.cut_power_after_with(
        0,
        Cut {
            progress_percent: 25,
            erase_garbage: false,
        },
    );
    assert!(run(NorFlash::write(&mut flash, 0, &[0; 8])).is_err());
    flash.restore_power();
    assert_eq!(
        read(&mut flash, 0, 8),
        [0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
}

#[test]
fn cut_erase_leaves_the_sector_partly_erased() {
    let mut flash = MockFlash::from_bytes(&[0u8; SECTOR_SIZE]);
    flash.cut_power_after(0);
    assert!(run(NorFlash::erase(&mut flash, 0, SECTOR_SIZE as u32)).is_err());
    flash.restore_power();
    let bytes = flash.as_bytes();
    assert!(bytes[..SECTOR_SIZE / 2].iter().all(|&byte| byte == 0xFF));
    assert!(bytes[SECTOR_SIZE / 2..].iter().all(|&byte| byte == 0));
}

#[test]
fn cut_erase_with_garbage_only_sets_bits() {
    let mut flash = MockFlash::from_bytes(&[0x81u8; SECTOR_SIZE]);
    flash.cut_power_after_with(
        0,
        Cut {
            progress_percent: 10,
            erase_garbage: true,
        },
    );
    assert!(run(NorFlash::erase(&mut flash, 0, SECTOR_SIZE as u32)).is_err());
    let rest = &flash.as_bytes()[SECTOR_SIZE / 10..];
    assert!(rest.iter().all(|&byte| byte & 0x81 == 0x81));
    assert!(
        rest.iter().any(|&byte| byte != 0x81),
        "some garbage bits appear"
    );
    assert!(rest.iter().any(|&byte| byte != 0xFF), "not fully erased");
}

#[test]
fn restore_power_disarms_a_pending_cut() {
    let mut flash = MockFlash::new(SECTOR_SIZE);
    flash.cut_power_after(5);
    flash.restore_power();
    for offset in (0..64).step_by(4) {
        run(NorFlash::write(&mut flash, offset, &[0; 4])).unwrap();
    }
}

#[test]
fn blocking_traits_share_the_same_state() {
    use embedded_storage::nor_flash::{NorFlash as BlockingNorFlash, ReadNorFlash as BlockingRead};
    let mut flash = MockFlash::new(SECTOR_SIZE);
    BlockingNorFlash::write(&mut flash, 4, &[1, 2, 3, 4]).unwrap();
    let mut buffer = [0; 4];
    run(ReadNorFlash::read(&mut flash, 4, &mut buffer)).unwrap();
    assert_eq!(buffer, [1, 2, 3, 4]);
    let mut buffer = [0; 4];
    BlockingRead::read(&mut flash, 4, &mut buffer).unwrap();
    assert_eq!(buffer, [1, 2, 3, 4]);
    assert_eq!(
        BlockingNorFlash::erase(&mut flash, 0, 1),
        Err(MockFlashError::NotAligned)
    );
    assert_eq!(BlockingRead::capacity(&flash), SECTOR_SIZE);
    assert_eq!(flash.operation_count(), 1);
}
