//! The riscv32 `virt` machine's devices: the 16550 UART, the CLINT timer, the SiFive test
//! device.

use core::future::poll_fn;
use core::task::Poll;

use command_core::Clock;
use embedded_io_async::{ErrorType, Read, Write};

/// 16550 UART: receive/transmit register and line status register.
const UART_DATA: *mut u8 = 0x1000_0000 as *mut u8;
const UART_LINE_STATUS: *const u8 = 0x1000_0005 as *const u8;
const DATA_READY: u8 = 1 << 0;
const TRANSMIT_EMPTY: u8 = 1 << 5;
/// CLINT `mtime`, 10 MHz on `virt`.
const MTIME_LOW: *const u32 = 0x0200_BFF8 as *const u32;
const MTIME_HIGH: *const u32 = 0x0200_BFFC as *const u32;
/// SiFive test device: writing `0x5555` powers off, `(code << 16) | 0x3333` fails.
const TEST_DEVICE: *mut u32 = 0x0010_0000 as *mut u32;

/// Both halves of the AT port.
pub struct Uart;

impl ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl Read for Uart {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let mut count = 0;
            // SAFETY: the 16550's registers on the `virt` machine.
            while count < buffer.len()
                && unsafe { UART_LINE_STATUS.read_volatile() } & DATA_READY != 0
            {
                buffer[count] = unsafe { UART_DATA.read_volatile() };
                count += 1;
            }
            if count == 0 && !buffer.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(Ok(count))
            }
        })
        .await
    }
}

impl Write for Uart {
    async fn write(&mut self, buffer: &[u8]) -> Result<usize, Self::Error> {
        write_bytes(buffer);
        Ok(buffer.len())
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Writes `bytes` to the UART (QEMU's transmit register never stays full for long).
pub fn write_bytes(bytes: &[u8]) {
    for &byte in bytes {
        // SAFETY: the 16550's registers on the `virt` machine.
        while unsafe { UART_LINE_STATUS.read_volatile() } & TRANSMIT_EMPTY == 0 {}
        unsafe { UART_DATA.write_volatile(byte) };
    }
}

/// Stops QEMU with `code` (0 = success).
pub fn power_off(code: u32) -> ! {
    let value = if code == 0 {
        0x5555
    } else {
        (code << 16) | 0x3333
    };
    // SAFETY: the test device of the `virt` machine.
    unsafe { TEST_DEVICE.write_volatile(value) };
    loop {}
}

/// Milliseconds from the CLINT's 10 MHz `mtime`.
pub struct MachineClock;

impl Clock for MachineClock {
    fn now_ms(&self) -> u64 {
        loop {
            // SAFETY: the CLINT's `mtime` on the `virt` machine; re-read on a carry.
            let (high, low, again) = unsafe {
                (
                    MTIME_HIGH.read_volatile(),
                    MTIME_LOW.read_volatile(),
                    MTIME_HIGH.read_volatile(),
                )
            };
            if high == again {
                return ((u64::from(high) << 32) | u64::from(low)) / 10_000;
            }
        }
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        poll_fn(|_| {
            if self.now_ms() >= deadline_ms {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

core::arch::global_asm!(
    ".section .text.start",
    ".global _start",
    "_start:",
    "    la sp, _stack_top",
    "    la t0, _bss_start",
    "    la t1, _bss_end",
    "1:  bgeu t0, t1, 2f",
    "    sw zero, 0(t0)",
    "    addi t0, t0, 4",
    "    j 1b",
    "2:  call qemu_main",
    "3:  j 3b",
);
