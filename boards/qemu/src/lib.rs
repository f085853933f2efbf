//! `tc-at-qemu`: the unchanged engine on QEMU's riscv32 `virt` machine and on the ESP8266's
//! lx106 CPU (`-M sim`), so CI runs the Linux board's transcripts on both (`cargo xtask qemu`).
//!
//! Not a firmware: a test harness. The AT port is the 16550 UART of `virt` or the semihosting
//! console of `sim` (QEMU's stdio either way), the
//! flash is a RAM array with NOR semantics that survives the simulated reboots of AT+RST and
//! AT+RESTORE (the engine returns and is started again, as on the Linux board), the clock is
//! the CLINT timer, Wi-Fi sees the Linux tests' two simulated APs and the network is
//! `Offline`. The engine is polled in a loop with a no-op waker: the emulated CPU spins while
//! idle, which a real board never does.

#![no_std]

mod flash;
#[cfg(target_arch = "riscv32")]
#[path = "riscv.rs"]
mod machine;
#[cfg(target_arch = "xtensa")]
#[path = "xtensa.rs"]
mod machine;
mod radio;

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use command_core::{BoardInfo, Cloud, Exit, Module, Offline, Profile};
use storage::Settings;

use crate::flash::{RamFlash, CERTIFICATE_RANGE, SETTINGS_RANGE};
use crate::machine::{MachineClock, Uart};
use crate::radio::SimulatedRadio;

/// Entry from `_start`: boots the engine, again after every reboot command.
#[no_mangle]
pub extern "C" fn qemu_main() -> ! {
    // The ESP8266 board's flash-load emulation, on the ESP8266's CPU (src/xtensa.rs says
    // what this covers); every lx106 transcript run fails at `ready` if it is wrong.
    #[cfg(target_arch = "xtensa")]
    if !machine::check_load_emulation() {
        machine::write_bytes(b"\r\nLOAD EMULATION FAILED\r\n");
        machine::power_off(4);
    }
    let board = BoardInfo {
        board: "QEMU",
        version: env!("CARGO_PKG_VERSION"),
        git_hash: env!("TCAT_GIT_HASH"),
        build_time: env!("TCAT_BUILD_TIME"),
        vendor: "Tencent Technology Co. Ltd.",
        mac: [0x02, 0x51, 0x45, 0x4d, 0x55, 0x01],
        profile: Profile::Full,
        free_ram: || (65_536, 65_536),
    };
    let mut flash = RamFlash::new();
    let mut settings =
        Settings::new(&mut flash, SETTINGS_RANGE).with_certificate_area(CERTIFICATE_RANGE);
    let mut wifi = SimulatedRadio::default();
    loop {
        wifi.reset();
        let module = Module {
            settings: &mut settings,
            wifi: &mut wifi,
            board: &board,
        };
        let cloud = Cloud {
            network: &mut Offline,
            clock: &MachineClock,
            random: &mut Offline,
            certificates: &Offline,
        };
        let exit = block_on(command_core::run_with(&mut Uart, &mut Uart, module, cloud));
        if exit != Exit::Reboot {
            machine::power_off(1);
        }
    }
}

/// Polls `future` to completion; every leaf future of this harness polls its device.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    machine::write_bytes(b"\r\nPANIC\r\n");
    machine::power_off(2)
}
