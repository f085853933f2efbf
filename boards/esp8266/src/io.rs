//! UART0 (the AT port) and the clock, over the ESP8266's registers and the SDK's timers.
//!
//! The UART interrupt drains the receive FIFO into a ring and wakes the engine; a read takes
//! from the ring. Transmit fills the 128-byte FIFO; when it is full the "FIFO empty"
//! interrupt wakes the engine instead of a busy wait. The clock extends the SDK's 32-bit
//! microsecond counter (it wraps every 71 minutes) to 64-bit milliseconds.

use core::cell::{Cell, RefCell, UnsafeCell};
use core::ffi::c_void;
use core::future::poll_fn;
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

static RECEIVED: Mutex<RefCell<heapless::Deque<u8, RING_SIZE>>> =
    Mutex::new(RefCell::new(heapless::Deque::new()));

fn read_register(address: usize) -> u32 {
    // SAFETY: a UART0 register address of the ESP8266.
    unsafe { core::ptr::read_volatile(address as *const u32) }
}

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

unsafe extern "C" fn uart_interrupt(_argument: *mut c_void) {
    let status = read_register(INTERRUPT_STATUS);
    if status & TX_EMPTY != 0 {
        write_register(INTERRUPT_ENABLE, RX_FULL | RX_TIMEOUT);
    }
    critical_section::with(|section| {
        let mut ring = RECEIVED.borrow_ref_mut(section);
        while read_register(STATUS) & 0xFF != 0 {
            let byte = read_register(FIFO) as u8;
            let _ = ring.push_back(byte);
        }
    });
    write_register(INTERRUPT_CLEAR, status);
    wake();
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
            let count = critical_section::with(|section| {
                let mut ring = RECEIVED.borrow_ref_mut(section);
                let mut count = 0;
                while count < buffer.len() {
                    let Some(byte) = ring.pop_front() else { break };
                    buffer[count] = byte;
                    count += 1;
                }
                count
            });
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
