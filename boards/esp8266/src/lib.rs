//! `tc-at-esp8266`: the tc-at engine on an ESP8266 (Xtensa lx106) module, as a static library
//! that an ESP8266_NONOS_SDK application links.
//!
//! There is no Rust HAL or Wi-Fi driver for the ESP8266, so the board binds to the SDK's C API
//! (`sdk.rs`, our own declarations). The SDK is cooperative and single-threaded: the engine
//! future lives in a static and is polled from an SDK task; every event that may let it make
//! progress (a UART interrupt, a timer, a Wi-Fi status change) posts that task, which is the
//! whole waker. No executor crate, no heap in our code, and idle means the SDK sleeps.
//!
//! Built by `cargo xtask lx106` (target JSON, LLVM assembly, GNU as); nothing here has run on
//! a physical chip (docs/hardware.md).

#![no_std]
#![feature(type_alias_impl_trait)]

mod flash;
mod io;
mod narrow_loads;
mod network;
mod provisioning;
mod random;
mod sdk;
mod sntp;
mod wifi;

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::{Context, RawWaker, RawWakerVTable, Waker};

use command_core::{BoardInfo, Cloud, Module, Offline, Profile};
use critical_section::RawRestoreState;
use static_cell::StaticCell;
use storage::Settings;

use crate::flash::{SdkFlash, CERTIFICATE_RANGE, SETTINGS_RANGE};
use crate::io::{SdkClock, UartRx, UartTx};
use crate::network::SdkNetwork;
use crate::random::SdkRandom;
use crate::wifi::SdkWifi;

/// The engine, from boot banner to restart.
type Engine = impl Future<Output = ()>;

/// The engine future; its state (the engine's RAM) is this static, never a stack.
static ENGINE: StaticCell<Engine> = StaticCell::new();
/// The engine while it is not being polled.
static PARKED: TaskLocal<Option<Pin<&'static mut Engine>>> = TaskLocal(Cell::new(None));

/// A static touched only from the SDK's task context (`user_init` and SDK tasks), never from
/// an interrupt: the SDK runs one task at a time, so a `Cell` is enough. The engine future is
/// not `Send` (it is single-threaded by design), which a critical-section mutex would demand.
pub(crate) struct TaskLocal<T>(pub(crate) Cell<T>);

// SAFETY: see the type's documentation: one thread of execution ever accesses it.
unsafe impl<T> Sync for TaskLocal<T> {}
/// The SDK task's message queue (one pending wake-up is enough: a poll sees every event).
static QUEUE: io::SdkCell<[sdk::EtsEvent; 2]> = io::SdkCell::new([
    sdk::EtsEvent {
        signal: 0,
        parameter: 0,
    },
    sdk::EtsEvent {
        signal: 0,
        parameter: 0,
    },
]);

#[define_opaque(Engine)]
fn engine() -> Engine {
    async {
        let mut mac = [0u8; 6];
        // SAFETY: the SDK writes six bytes into `mac`.
        unsafe { sdk::wifi_get_macaddr(sdk::STATION_IF, mac.as_mut_ptr()) };
        let board = BoardInfo {
            board: "ESP8266",
            version: env!("CARGO_PKG_VERSION"),
            git_hash: env!("TCAT_GIT_HASH"),
            build_time: env!("TCAT_BUILD_TIME"),
            vendor: "Tencent Technology Co. Ltd.",
            mac,
            profile: Profile::Esp8266,
            free_ram,
        };
        let mut settings =
            Settings::new(SdkFlash, SETTINGS_RANGE).with_certificate_area(CERTIFICATE_RANGE);
        let mut wifi = SdkWifi::new();
        let module = Module {
            settings: &mut settings,
            wifi: &mut wifi,
            board: &board,
        };
        // No certificate parser on this board: TLS mode 2 is not offered (docs/hardware.md).
        let cloud = Cloud {
            network: &mut SdkNetwork,
            clock: &SdkClock,
            random: &mut SdkRandom,
            certificates: &Offline,
        };
        command_core::run_with(&mut UartRx, &mut UartTx, module, cloud).await;
        // Every exit (a reboot command) restarts the chip, as the original firmware does.
        // SAFETY: plain SDK call.
        unsafe { sdk::system_restart() };
    }
}

/// Called by the SDK before anything else: SDK 3.x needs the flash layout registered here.
#[no_mangle]
pub extern "C" fn user_pre_init() {
    // Constants live in flash (docs/hardware.md): nothing may read one byte-wise before this.
    narrow_loads::install();
    // SAFETY: a static table that outlives the SDK's use of it.
    let registered = unsafe {
        sdk::system_partition_table_regist(
            flash::PARTITIONS.as_ptr(),
            flash::PARTITIONS.len() as u32,
            sdk::FLASH_MAP_2MB_C1,
        )
    };
    if !registered {
        // The SDK cannot run with a layout it rejected; restart rather than corrupt flash.
        // SAFETY: plain SDK call.
        unsafe { sdk::system_restart() };
    }
}

/// The SDK's application entry: starts the UART, the engine task and the first poll.
#[no_mangle]
pub extern "C" fn user_init() {
    // SAFETY: SDK calls from the SDK's own init context, with our static queue.
    unsafe {
        sdk::wifi_set_opmode_current(sdk::STATION_MODE);
        sdk::wifi_set_event_handler_cb(provisioning::on_wifi_event);
        sdk::system_os_task(poll, sdk::ENGINE_PRIORITY, QUEUE.get().cast(), 2);
    }
    io::start_uart();
    let engine = ENGINE.init(engine());
    PARKED.0.set(Some(Pin::static_mut(engine)));
    wake();
}

/// Asks the SDK to poll the engine soon (from a task, an interrupt or a timer).
pub fn wake() {
    // SAFETY: `system_os_post` is interrupt-safe; a full queue already holds a wake-up.
    unsafe { sdk::system_os_post(sdk::ENGINE_PRIORITY, 0, 0) };
}

/// The SDK task: polls the engine once. Interrupts stay enabled while it runs.
unsafe extern "C" fn poll(_event: *mut sdk::EtsEvent) {
    let Some(mut engine) = PARKED.0.take() else {
        return;
    };
    let waker = waker();
    let mut context = Context::from_waker(&waker);
    if engine.as_mut().poll(&mut context).is_pending() {
        PARKED.0.set(Some(engine));
    }
}

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(
    |_| RawWaker::new(core::ptr::null(), &WAKER_VTABLE),
    |_| wake(),
    |_| wake(),
    |_| {},
);

fn waker() -> Waker {
    // SAFETY: the vtable's functions ignore the data pointer and are safe from any context.
    unsafe { Waker::from_raw(RawWaker::new(core::ptr::null(), &WAKER_VTABLE)) }
}

/// AT+SYSRAM?: the SDK heap (this board allocates nothing itself).
fn free_ram() -> (u32, u32) {
    // SAFETY: plain SDK call.
    let free = unsafe { sdk::system_get_free_heap_size() };
    (free, free)
}

/// Critical sections through the SDK's interrupt lock, which does not nest: the depth is
/// counted here (load/store atomics only: the lx106 has no compare-and-swap).
struct SdkLock;
static LOCK_DEPTH: AtomicU32 = AtomicU32::new(0);
critical_section::set_impl!(SdkLock);

// SAFETY: interrupts are off from the first acquire to the matching outermost release.
unsafe impl critical_section::Impl for SdkLock {
    unsafe fn acquire() -> RawRestoreState {
        sdk::ets_intr_lock();
        let depth = LOCK_DEPTH.load(Ordering::Relaxed);
        LOCK_DEPTH.store(depth + 1, Ordering::Relaxed);
        depth
    }

    unsafe fn release(depth: RawRestoreState) {
        LOCK_DEPTH.store(depth, Ordering::Relaxed);
        if depth == 0 {
            sdk::ets_intr_unlock();
        }
    }
}

/// A restart is the only recovery a module has; the host sees `ready` again.
fn restart() -> ! {
    // SAFETY: plain SDK call.
    unsafe { sdk::system_restart() };
    // `system_restart` returns and the SDK restarts the chip moments later; nothing of ours
    // may run in between.
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    restart()
}

/// LLVM's Xtensa backend lowers a trap (an unreachable, a failed check) to a call of `abort`;
/// defined here so that no C library's `abort` (and its signal machinery) is linked.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    restart()
}

/// LLVM lowers 32-bit atomic loads and stores on the lx106 to these library calls. An aligned
/// word access is indivisible on this single core, so a volatile access between compiler
/// fences is the whole implementation (there is no CAS to emulate: the target has none).
///
/// # Safety
/// `address` is a live, aligned word (LLVM passes an atomic's address).
#[no_mangle]
pub unsafe extern "C" fn __atomic_load_4(address: *const u32, _ordering: i32) -> u32 {
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    // SAFETY: see the function's contract.
    let value = unsafe { core::ptr::read_volatile(address) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    value
}

/// See [`__atomic_load_4`].
///
/// # Safety
/// As [`__atomic_load_4`].
#[no_mangle]
pub unsafe extern "C" fn __atomic_store_4(address: *mut u32, value: u32, _ordering: i32) {
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    // SAFETY: see the function's contract.
    unsafe { core::ptr::write_volatile(address, value) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}
