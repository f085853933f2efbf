//! Tests of the settings store against the faithful mock flash.

extern crate std;

#[cfg(feature = "certificates")]
mod certificates;
mod codec;
mod firmware;
mod mock_flash;
mod model;
mod power_cut;
mod settings;

use core::future::Future;
use core::ops::Range;

use crate::mock::{MockFlash, SECTOR_SIZE};
use crate::{DeviceInfo, ModuleInfo, ProductInfo, Settings, Text, WifiMode, WifiStation};

/// Runs a future of the store; the mock flash never pends.
fn run<T>(future: impl Future<Output = T>) -> T {
    embassy_futures::block_on(future)
}

/// A flash of `sectors + 2` sectors whose settings partition skips the first
/// and last sector, so any access outside the range would show up as a
/// change of those sectors.
fn flash_with_partition(sectors: u32) -> (MockFlash, Range<u32>) {
    let sector = SECTOR_SIZE as u32;
    let flash = MockFlash::new(SECTOR_SIZE * (sectors as usize + 2));
    (flash, sector..sector * (sectors + 1))
}

fn text<const N: usize>(bytes: &[u8]) -> Text<N> {
    Text::from_slice(bytes).expect("test text fits")
}

/// A distinct device record per `index`, with bytes a C string would lose.
fn device(index: u8) -> DeviceInfo {
    DeviceInfo {
        tls_mode: index % 3,
        product_id: text(b"CTQS08Y5LG"),
        device_name: text(&[b'D', b'e', b'v', b'0' + index % 10, index]),
        secret: text(&[index, 0x00, 0xFF, b'=', index.wrapping_mul(7)]),
        region: text(b"ap-guangzhou"),
    }
}

fn product(index: u8) -> ProductInfo {
    ProductInfo {
        tls_mode: 1,
        product_id: text(b"S3EUVBRJLB"),
        product_secret: text(&[b'p', index, 0x00]),
        device_name: text(&[b'd', index]),
        region: text(b"ap-beijing"),
    }
}

fn module(index: u8) -> ModuleInfo {
    ModuleInfo {
        name: text(&[b'M', index]),
        flash_mb: 4,
        led_gpio: index % 17,
        fw_base: 0x0011_0000 + u32::from(index) * 4096,
        fw_max: 131_072,
        reserved: -i32::from(index),
    }
}

fn station(index: u8) -> WifiStation {
    WifiStation {
        ssid: text(&[b'A', b'P', index]),
        password: text(&[b'p', b'w', index, 0x00]),
    }
}

fn wifi_mode(index: u8) -> WifiMode {
    WifiMode(index % 4)
}

/// Reboots: gives the flash back and opens a new store on it, as the
/// firmware does after a reset.
fn reboot(settings: Settings<MockFlash>, range: Range<u32>) -> Settings<MockFlash> {
    let mut flash = settings.into_inner();
    flash.restore_power();
    Settings::new(flash, range)
}
