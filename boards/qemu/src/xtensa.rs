//! The lx106 `sim` machine's devices: QEMU's Xtensa semihosting (`simcall`) for the console
//! and for stopping, and the CPU's cycle counter as the clock. The `simcall` and `rsr.ccount`
//! wrappers are in `lx106-start.S` (Rust has no Xtensa inline assembly).

use core::future::poll_fn;
use core::sync::atomic::{compiler_fence, Ordering};
use core::task::Poll;

use command_core::Clock;
use embedded_io_async::{ErrorType, Read, Write};

extern "C" {
    /// `simcall` with the call number in a2 and its arguments in a3..a5; returns a2.
    fn semihosting_call(number: i32, first: i32, second: i32, third: i32) -> i32;
    /// The `CCOUNT` special register.
    fn cycle_count() -> u32;
    /// The ESP8266 board's emulation of a byte or half-word load from flash
    /// (`boards/esp8266/load-store-error.S`): completes the load at the frame's EPC with the
    /// value at `address`; 1 when emulated, 0 when refused.
    fn tcat_emulate_narrow_load(frame: *mut u32, address: u32) -> u32;
    /// Seven 3-byte load/store instructions (`lx106-start.S`).
    static narrow_load_samples: u8;
}

/// Words of the ROM exception frame the ESP8266 handler works on: EPC1, PS, SAR, vpri, a0,
/// a2..a15.
const FRAME_WORDS: usize = 19;

/// Checks the ESP8266 board's load emulation on this CPU: each sample instruction of
/// `lx106-start.S` (at all four alignments) against a word in RAM. The `sim` machine maps no
/// flash, so it cannot raise the LoadStoreError that calls this on a chip; what is checked
/// is the decoding, the extraction (zero and sign extension), the write into the saved
/// register and the step of EPC, or that the frame is untouched for what must be refused.
pub fn check_load_emulation() -> bool {
    let operand = u32::from_le_bytes([0x11, 0xA2, 0x83, 0xF4]);
    let base = core::ptr::addr_of!(operand) as u32;
    // Only the address of the samples is taken.
    let samples = core::ptr::addr_of!(narrow_load_samples) as u32;
    // (sample, operand byte, Some((target register, loaded value)) or None when refused)
    let cases: [(u32, u32, Option<(usize, u32)>); 7] = [
        (0, 1, Some((5, 0xA2))),         // l8ui a5
        (1, 2, Some((0, 0xF483))),       // l16ui a0
        (2, 2, Some((12, 0xFFFF_F483))), // l16si a12
        (3, 3, Some((15, 0xF4))),        // l8ui a15
        (4, 0, None),                    // s8i: a store
        (5, 0, None),                    // l8ui a1: the stack pointer is not in the frame
        (6, 0, None),                    // l32i: never a LoadStoreError of ours
    ];
    cases.into_iter().all(|(sample, offset, expected)| {
        let epc = samples + 3 * sample;
        let mut frame = [0xDEAD_BEEF_u32; FRAME_WORDS];
        frame[0] = epc;
        let mut wanted = frame;
        // SAFETY: a frame of the handler's layout and the address of a live word.
        let emulated = unsafe { tcat_emulate_narrow_load(frame.as_mut_ptr(), base + offset) };
        match expected {
            None => emulated == 0 && frame == wanted,
            Some((register, value)) => {
                wanted[0] = epc + 3;
                wanted[if register == 0 { 4 } else { register + 3 }] = value;
                emulated == 1 && frame == wanted
            }
        }
    })
}

/// Xtensa ISS semihosting calls as QEMU implements them.
const SYS_EXIT: i32 = 1;
const SYS_READ: i32 = 3;
const SYS_WRITE: i32 = 4;
const SYS_SELECT_ONE: i32 = 29;
const SELECT_ONE_READ: i32 = 1;
/// How long one poll of the console may sleep in the host when nothing arrived.
const IDLE_MICROSECONDS: i32 = 1000;
/// The `sim` lx106 core's clock (its configuration's 40 MHz).
const CYCLES_PER_MILLISECOND: u64 = 40_000;

/// Both halves of the AT port: the semihosting console (QEMU's stdin and stdout).
pub struct Uart;

impl ErrorType for Uart {
    type Error = core::convert::Infallible;
}

impl Read for Uart {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            if buffer.is_empty() {
                return Poll::Ready(Ok(0));
            }
            // `{ seconds, microseconds }`: wait a little in the host instead of spinning.
            let timeout = [0i32, IDLE_MICROSECONDS];
            // SAFETY: semihosting calls on our own buffers.
            let ready = unsafe {
                semihosting_call(SYS_SELECT_ONE, 0, SELECT_ONE_READ, timeout.as_ptr() as i32)
            };
            if ready <= 0 {
                return Poll::Pending;
            }
            let count = unsafe {
                semihosting_call(SYS_READ, 0, buffer.as_mut_ptr() as i32, buffer.len() as i32)
            };
            if count <= 0 {
                Poll::Pending
            } else {
                Poll::Ready(Ok(count as usize))
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

/// Writes `bytes` to QEMU's stdout.
pub fn write_bytes(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: a semihosting write of our own buffer.
        let written =
            unsafe { semihosting_call(SYS_WRITE, 1, rest.as_ptr() as i32, rest.len() as i32) };
        if written <= 0 {
            return;
        }
        rest = &rest[written as usize..];
    }
}

/// Stops QEMU with `code` (0 = success).
pub fn power_off(code: u32) -> ! {
    // SAFETY: the semihosting exit call.
    unsafe { semihosting_call(SYS_EXIT, code as i32, 0, 0) };
    loop {}
}

/// The last cycle count and the wraps seen (CCOUNT wraps every 107 s at 40 MHz).
static mut CYCLES: (u32, u64) = (0, 0);

/// Milliseconds from the cycle counter, extended to 64 bits.
pub struct MachineClock;

impl Clock for MachineClock {
    fn now_ms(&self) -> u64 {
        // SAFETY: single-threaded harness without interrupts: nothing else touches CYCLES.
        unsafe {
            let raw = cycle_count();
            let (last, wraps) = CYCLES;
            let wraps = wraps + u64::from(raw < last);
            CYCLES = (raw, wraps);
            ((wraps << 32) | u64::from(raw)) / CYCLES_PER_MILLISECOND
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

/// LLVM lowers 32-bit atomic loads and stores on the lx106 to these calls; an aligned word
/// access is indivisible on this single core.
#[no_mangle]
pub extern "C" fn __atomic_load_4(address: *const u32, _ordering: i32) -> u32 {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: LLVM passes the address of a live, aligned atomic word.
    let value = unsafe { core::ptr::read_volatile(address) };
    compiler_fence(Ordering::SeqCst);
    value
}

/// See [`__atomic_load_4`].
#[no_mangle]
pub extern "C" fn __atomic_store_4(address: *mut u32, value: u32, _ordering: i32) {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: LLVM passes the address of a live, aligned atomic word.
    unsafe { core::ptr::write_volatile(address, value) };
    compiler_fence(Ordering::SeqCst);
}

/// LLVM's Xtensa backend lowers a trap (an unreachable or a failed check) to a call of `abort`.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    write_bytes(b"\r\nABORT\r\n");
    power_off(3)
}
