//! UART0 (the AT port) and the clock, over the ESP8266's registers and the SDK's timers.
//!
//! The UART interrupt drains the receive FIFO into a ring and wakes the engine; a read takes
//! from the ring. The interrupt handler runs from IRAM and reaches nothing in flash (no
//! `.rodata`, no call into flash code): the SDK disables the flash cache while it erases or
//! programs a sector, and an interrupt may arrive just then. Transmit fills the 128-byte FIFO; when it is full the "FIFO empty"
//! interrupt wakes the engine instead of a busy wait. The clock extends the SDK's 32-bit
//! microsecond counter (it wraps every 71 minutes) to 64-bit milliseconds.

use core::cell::{Cell, UnsafeCell};
use core::ffi::c_void;
use core::future::poll_fn;
use core::sync::atomic::{compiler_fence, Ordering};
use core::task::Poll;

use command_core::Clock;
use critical_section::Mutex;
use embedded_io_async::{ErrorType, Read, Write};

use crate::{sdk, wake};

/// UART0's registers (ESP8266 technical reference).
const UART0: usize = 0x6000_0000;
const FIFO: usize = UART0;
const INTERRUPT_STATUS: usize = UART0 + 0x08;
const INTERRUPT_ENABLE: usize = UART0 + 0x0C;
const INTERRUPT_CLEAR: usize = UART0 + 0x10;
const STATUS: usize = UART0 + 0x1C;
const CONFIG1: usize = UART0 + 0x24;
/// Interrupt bits: receive FIFO above threshold, transmit FIFO empty, receive time-out.
const RX_FULL: u32 = 1 << 0;
const TX_EMPTY: u32 = 1 << 1;
const RX_TIMEOUT: u32 = 1 << 8;
/// Transmit FIFO depth.
const TX_FIFO_SIZE: u32 = 128;
/// Received bytes waiting for the engine; bytes beyond it are lost like on the original module.
/// A power of two, so an index is masked rather than bounds-checked (no panic path in IRAM).
const RING_SIZE: usize = 256;

/// A static the SDK writes through a raw pointer (its timer and queue structures).
pub struct SdkCell<T>(UnsafeCell<T>);

// SAFETY: only the SDK touches the contents, from its single thread, through the pointer.
unsafe impl<T> Sync for SdkCell<T> {}

impl<T> SdkCell<T> {
    /// Wraps `value`.
    pub const fn new(value: T) -> Self {
        SdkCell(UnsafeCell::new(value))
    }

    /// The pointer handed to the SDK.
    pub fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// The received bytes: written only by the interrupt (`written`), taken only by the engine
/// task (`taken`). Each index has one writer and is a single aligned word, so neither side
/// needs a lock; both count bytes ever moved and wrap together.
struct ReceiveRing {
    bytes: UnsafeCell<[u8; RING_SIZE]>,
    written: UnsafeCell<u32>,
    taken: UnsafeCell<u32>,
}

// SAFETY: one producer (the interrupt) and one consumer (the engine task); see the type.
unsafe impl Sync for ReceiveRing {}

static RECEIVED: ReceiveRing = ReceiveRing {
    bytes: UnsafeCell::new([0; RING_SIZE]),
    written: UnsafeCell::new(0),
    taken: UnsafeCell::new(0),
};

impl ReceiveRing {
    /// Called by the interrupt only. A full ring drops the byte.
    #[inline(always)]
    fn push(&self, byte: u8) {
        // SAFETY: `written` has this one writer; `taken` is an aligned word read whole.
        unsafe {
            let written = core::ptr::read_volatile(self.written.get());
            let taken = core::ptr::read_volatile(self.taken.get());
            if written.wrapping_sub(taken) as usize >= RING_SIZE {
                return;
            }
            let slot = written as usize & (RING_SIZE - 1);
            core::ptr::write_volatile(self.bytes.get().cast::<u8>().add(slot), byte);
            compiler_fence(Ordering::Release);
            core::ptr::write_volatile(self.written.get(), written.wrapping_add(1));
        }
    }

    /// Called by the engine task only: moves what arrived into `buffer`.
    fn take(&self, buffer: &mut [u8]) -> usize {
        // SAFETY: `taken` has this one writer; bytes below `written` are complete (the
        // interrupt stores the byte before it moves `written`).
        unsafe {
            let written = core::ptr::read_volatile(self.written.get());
            compiler_fence(Ordering::Acquire);
            let mut taken = core::ptr::read_volatile(self.taken.get());
            let mut count = 0;
            while count < buffer.len() && taken != written {
                let slot = taken as usize & (RING_SIZE - 1);
                buffer[count] = core::ptr::read_volatile(self.bytes.get().cast::<u8>().add(slot));
                taken = taken.wrapping_add(1);
                count += 1;
            }
            compiler_fence(Ordering::Release);
            core::ptr::write_volatile(self.taken.get(), taken);
            count
        }
    }
}

#[inline(always)]
fn read_register(address: usize) -> u32 {
    // SAFETY: a UART0 register address of the ESP8266.
    unsafe { core::ptr::read_volatile(address as *const u32) }
}

#[inline(always)]
fn write_register(address: usize, value: u32) {
    // SAFETY: a UART0 register address of the ESP8266.
    unsafe { core::ptr::write_volatile(address as *mut u32, value) }
}

/// Enables the receive interrupts (the ROM set 115200 8N1 already).
pub fn start_uart() {
    // Interrupt at 32 bytes or after 2 byte times of silence, so single bytes arrive too.
    write_register(CONFIG1, 32 | (2 << 24) | (1 << 31));
    write_register(INTERRUPT_CLEAR, u32::MAX);
    write_register(INTERRUPT_ENABLE, RX_FULL | RX_TIMEOUT);
    // SAFETY: attaching our handler to the UART interrupt and unmasking it.
    unsafe {
        sdk::ets_isr_attach(sdk::UART_INTERRUPT, uart_interrupt, core::ptr::null_mut());
        sdk::ets_isr_unmask(1 << sdk::UART_INTERRUPT);
    }
}

/// The UART interrupt, in IRAM (`.iram1.*`, placed there by the xtask's link scripts).
#[link_section = ".iram1.uart_interrupt"]
unsafe extern "C" fn uart_interrupt(_argument: *mut c_void) {
    let status = read_register(INTERRUPT_STATUS);
    if status & TX_EMPTY != 0 {
        write_register(INTERRUPT_ENABLE, RX_FULL | RX_TIMEOUT);
    }
    while read_register(STATUS) & 0xFF != 0 {
        RECEIVED.push(read_register(FIFO) as u8);
    }
    write_register(INTERRUPT_CLEAR, status);
    // `system_os_post` is in the SDK's IRAM part (libmain).
    sdk::system_os_post(sdk::ENGINE_PRIORITY, 0, 0);
}

/// The receive half of the AT port.
pub struct UartRx;
/// The transmit half of the AT port.
pub struct UartTx;

impl ErrorType for UartRx {
    type Error = core::convert::Infallible;
}

impl ErrorType for UartTx {
    type Error = core::convert::Infallible;
}

impl Read for UartRx {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let count = RECEIVED.take(buffer);
            // Every interrupt wakes the one engine task, so no waker needs storing.
            if count == 0 && !buffer.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Ok(count))
            }
        })
        .await
    }
}

impl Write for UartTx {
    async fn write(&mut self, buffer: &[u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let queued = (read_register(STATUS) >> 16) & 0xFF;
            let room = TX_FIFO_SIZE.saturating_sub(queued) as usize;
            if room == 0 && !buffer.is_empty() {
                write_register(INTERRUPT_ENABLE, RX_FULL | RX_TIMEOUT | TX_EMPTY);
                return Poll::Pending;
            }
            let count = room.min(buffer.len());
            for &byte in &buffer[..count] {
                write_register(FIFO, u32::from(byte));
            }
            Poll::Ready(Ok(count))
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The last raw counter value and the wraps seen, for the 64-bit extension.
static TIME: Mutex<Cell<(u32, u64)>> = Mutex::new(Cell::new((0, 0)));
/// The one SDK timer that wakes sleepers, and the deadline it is armed for.
static TIMER: SdkCell<sdk::EtsTimer> = SdkCell::new(sdk::EtsTimer {
    next: core::ptr::null_mut(),
    expire: 0,
    period: 0,
    function: None,
    argument: core::ptr::null_mut(),
});
static ARMED: Mutex<Cell<Option<u64>>> = Mutex::new(Cell::new(None));

unsafe extern "C" fn timer_fired(_argument: *mut c_void) {
    critical_section::with(|section| ARMED.borrow(section).set(None));
    wake();
}

/// Milliseconds since boot from `system_get_time`, deadlines through one `os_timer`.
pub struct SdkClock;

impl Clock for SdkClock {
    fn now_ms(&self) -> u64 {
        critical_section::with(|section| {
            let cell = TIME.borrow(section);
            let (last, wraps) = cell.get();
            // SAFETY: plain SDK call.
            let raw = unsafe { sdk::system_get_time() };
            let wraps = wraps + u64::from(raw < last);
            cell.set((raw, wraps));
            ((wraps << 32) | u64::from(raw)) / 1000
        })
    }

    /// From the board's own SNTP exchange ([`crate::sntp`]).
    fn utc_seconds(&self) -> Option<u64> {
        crate::sntp::utc_seconds(self)
    }

    async fn utc_synced(&self) {
        crate::sntp::synchronise(self).await;
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        poll_fn(|_| {
            let now = self.now_ms();
            if now >= deadline_ms {
                return Poll::Ready(());
            }
            critical_section::with(|section| {
                let armed = ARMED.borrow(section);
                // Several sleepers share the timer: it keeps the earliest deadline.
                if armed.get().is_none_or(|current| deadline_ms < current) {
                    armed.set(Some(deadline_ms));
                    let delay = (deadline_ms - now).min(u64::from(u32::MAX / 2)) as u32;
                    // SAFETY: our static timer, re-armed from the SDK thread.
                    unsafe {
                        sdk::ets_timer_disarm(TIMER.get());
                        sdk::ets_timer_setfn(TIMER.get(), timer_fired, core::ptr::null_mut());
                        sdk::ets_timer_arm_new(TIMER.get(), delay.max(1), false, true);
                    }
                }
            });
            Poll::Pending
        })
        .await
    }
}
