//! `tc-at-esp32c3`: the tc-at firmware on an ESP32-C3 (or, with `--features esp32c2`, an
//! ESP32-C2/ESP8684) module.
//!
//! The board is glue only: UART0 is the AT port at 115200 8N1, the settings and certificate
//! areas are two flash partitions (`partitions.csv`), Wi-Fi is esp-radio's station driven
//! through [`command_core::Wifi`] (with its access-point mode for provisioning), and TCP/DNS/DHCP
//! come from embassy-net (a second stack on the soft AP, with our DHCP server). The engine future is
//! the main task's state, so its ~100 KB live in `.bss` (placed by the executor's task pool),
//! never on a stack. A reboot command resets the chip, as the original firmware does.
//!
//! Nothing here has run on a physical chip; CI builds the image (docs/hardware.md).

#![no_std]
#![no_main]

mod dhcp;
mod flash;
mod network;
mod provisioning;
mod wifi;

use command_core::{BoardInfo, Cloud, Exit, Module, Offline, Profile};
use embassy_embedded_hal::adapter::BlockingAsync;
use embassy_executor::Spawner;
use embassy_net::StackResources;
use esp_hal::rng::Rng;
use esp_hal::timer::timg::TimerGroup;
use esp_hal::uart::{Config as UartConfig, Uart};
use esp_radio::wifi::{ControllerConfig, Interface, WifiController};
use esp_storage::FlashStorage;
use static_cell::StaticCell;
use storage::Settings;

use crate::network::{BoardClock, HardwareRandom, StackNetwork};
use crate::wifi::RadioWifi;

esp_bootloader_esp_idf::esp_app_desc!();

/// The AT port's baud rate: the original firmware's default.
const BAUD_RATE: u32 = 115_200;

/// Heap for esp-radio's Wi-Fi driver (its blobs allocate); tc-at itself allocates nothing.
#[cfg(not(feature = "esp32c2"))]
const RADIO_HEAP_SIZE: usize = 64 * 1024;
/// The ESP32-C2 has 80 KB less data RAM than the C3 and the engine's state takes ~100 KB of
/// it, so the driver gets what is left with a stack of about 10 KB (docs/hardware.md: whether
/// that carries a connection is unverified without a chip).
#[cfg(feature = "esp32c2")]
const RADIO_HEAP_SIZE: usize = 20 * 1024;

/// `<BOARD>` in the identity strings.
#[cfg(feature = "esp32c2")]
const BOARD_NAME: &str = "ESP32C2";
#[cfg(not(feature = "esp32c2"))]
const BOARD_NAME: &str = "ESP32C3";

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // A module that stops answering is worse than one that reboots: the host sees `ready`.
    esp_hal::system::software_reset()
}

#[esp_rtos::main]
async fn main(spawner: Spawner) -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default());
    esp_alloc::heap_allocator!(size: RADIO_HEAP_SIZE);
    let timers = TimerGroup::new(peripherals.TIMG0);
    esp_rtos::start(timers.timer0, peripherals.FROM_CPU_INTR0);

    // UART0's default pins, the ones the ROM bootloader and every module datasheet use.
    #[cfg(not(feature = "esp32c2"))]
    let (rx_pin, tx_pin) = (peripherals.GPIO20, peripherals.GPIO21);
    #[cfg(feature = "esp32c2")]
    let (rx_pin, tx_pin) = (peripherals.GPIO19, peripherals.GPIO20);
    let uart = Uart::new(
        peripherals.UART0,
        UartConfig::default().with_baudrate(BAUD_RATE),
    )
    .expect("115200 8N1 is a valid UART0 configuration")
    .with_rx(rx_pin)
    .with_tx(tx_pin)
    .into_async();
    let (mut rx, mut tx) = uart.split();

    let controller = WifiController::new(peripherals.WIFI, ControllerConfig::default())
        .expect("the Wi-Fi driver starts once at boot");
    let station = Interface::station();
    let mac = station.mac_address();
    let random = HardwareRandom::new(Rng::new());
    static RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();
    let (stack, runner) = embassy_net::new(
        station,
        embassy_net::Config::dhcpv4(Default::default()),
        RESOURCES.init(StackResources::new()),
        random.seed(),
    );
    spawner.spawn(network::run_stack(runner).expect("the network task is spawned once"));
    // The soft AP's own stack (provisioning), with its DHCP server and two UDP servers.
    static AP_RESOURCES: StaticCell<StackResources<3>> = StaticCell::new();
    let (ap_stack, ap_runner) = embassy_net::new(
        Interface::access_point(),
        provisioning::config(),
        AP_RESOURCES.init(StackResources::new()),
        random.seed(),
    );
    spawner.spawn(network::run_stack(ap_runner).expect("the soft AP task is spawned once"));
    spawner.spawn(dhcp::serve(ap_stack).expect("the DHCP server is spawned once"));

    let board = BoardInfo {
        board: BOARD_NAME,
        version: env!("CARGO_PKG_VERSION"),
        git_hash: env!("TCAT_GIT_HASH"),
        build_time: env!("TCAT_BUILD_TIME"),
        vendor: "Tencent Technology Co. Ltd.",
        mac,
        profile: Profile::Full,
        free_ram,
    };
    let flash = BlockingAsync::new(FlashStorage::new(peripherals.FLASH));
    let mut settings =
        Settings::new(flash, flash::SETTINGS_RANGE).with_certificate_area(flash::CERTIFICATE_RANGE);
    let mut wifi = RadioWifi::new(controller, stack, provisioning::Servers::new(ap_stack));
    let mut network = StackNetwork::new(stack);
    let mut random = random;
    let module = Module {
        settings: &mut settings,
        wifi: &mut wifi,
        board: &board,
    };
    let cloud = Cloud {
        network: &mut network,
        clock: &BoardClock,
        random: &mut random,
        // No X.509 parser on this board: AT+TCCERTCHECK reports every file unusable.
        certificates: &Offline,
    };
    match command_core::run_with(&mut rx, &mut tx, module, cloud).await {
        // AT+RST, AT+RESTORE, AT+TCRESTORE: a real restart, as on the original module.
        Exit::Reboot => esp_hal::system::software_reset(),
        // UART0 cannot close on a chip; a driver error is cured by a restart too.
        _ => esp_hal::system::software_reset(),
    }
}

/// AT+SYSRAM?: the radio heap's free bytes, and the least it had since boot.
fn free_ram() -> (u32, u32) {
    let stats = esp_alloc::HEAP.stats();
    let free = esp_alloc::HEAP.free() as u32;
    let least = stats.size.saturating_sub(stats.max_usage) as u32;
    (free, least.min(free))
}
