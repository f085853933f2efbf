//! The UTC time dynamic registration signs (`cloud.md` §5), from an SNTP server (RFC 4330).
//!
//! The SDK has an SNTP client (`liblwip`'s `sntp.o`), but linking it adds about 560 B to the
//! SDK's data RAM (its server table, timers and `.rodata`, and picolibc's time functions),
//! more than the whole exchange needs. So the board asks a server itself, when the engine
//! first wants the time (AT+TCDEVREG waits for it at most 5 s of its budget), and keeps one
//! number: the UTC second at boot. The exchange's state is 20 bytes of statics that lwIP's
//! callbacks write; the rest lives in the waiting future.

use core::cell::Cell;
use core::ffi::c_void;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use command_core::Clock;

use crate::io::SdkClock;
use crate::{sdk, wake, TaskLocal};

/// The servers of `cloud.md` §5, NUL-terminated, asked in turn.
const SERVERS: [&[u8]; 3] = [
    b"time1.cloud.tencent.com\0",
    b"cn.pool.ntp.org\0",
    b"pool.ntp.org\0",
];
/// The NTP port.
const PORT: u16 = 123;
/// How long one server gets to resolve, and then to answer.
const STEP_MS: u64 = 1_500;
/// Seconds from 1900 (NTP's origin) to 1970.
const UNIX_FROM_NTP: u32 = 2_208_988_800;

/// The UTC second at boot; 0 until a server answered.
static BOOT_UTC: TaskLocal<u32> = TaskLocal(Cell::new(0));

/// The exchange lwIP's callbacks report into.
#[derive(Clone, Copy)]
struct Exchange {
    /// Tells a late callback of an abandoned exchange from the current one.
    generation: u8,
    phase: Phase,
    /// The server's address, once resolved.
    address: u32,
    /// The answer's transmit time, in NTP seconds; 0 until a valid answer came.
    answer: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Resolving,
    Resolved,
    Failed,
    Asking,
}

static EXCHANGE: TaskLocal<Exchange> = TaskLocal(Cell::new(Exchange {
    generation: 0,
    phase: Phase::Idle,
    address: 0,
    answer: 0,
}));

fn update(change: impl FnOnce(&mut Exchange)) {
    let mut exchange = EXCHANGE.0.get();
    change(&mut exchange);
    EXCHANGE.0.set(exchange);
}

/// The current UTC time, once a server answered.
pub fn utc_seconds(clock: &SdkClock) -> Option<u64> {
    let boot = BOOT_UTC.0.get();
    (boot != 0).then(|| u64::from(boot) + clock.now_ms() / 1000)
}

/// Asks the servers in turn until one answers; the caller bounds the wait (a dropped wait
/// closes the socket and ignores late callbacks).
pub async fn synchronise(clock: &SdkClock) {
    for server in SERVERS.iter().cycle() {
        if utc_seconds(clock).is_some() {
            return;
        }
        let exchange = Attempt::start();
        if let Some(ntp_seconds) = exchange.ask(clock, server).await {
            let unix = ntp_seconds.wrapping_sub(UNIX_FROM_NTP);
            let since_boot = (clock.now_ms() / 1000) as u32;
            BOOT_UTC.0.set(unix.wrapping_sub(since_boot).max(1));
            return;
        }
    }
}

/// One server's exchange; dropping it closes its socket.
struct Attempt {
    pcb: *mut sdk::UdpPcb,
}

impl Attempt {
    fn start() -> Self {
        update(|exchange| {
            exchange.generation = exchange.generation.wrapping_add(1);
            exchange.phase = Phase::Idle;
            exchange.address = 0;
            exchange.answer = 0;
        });
        Attempt {
            pcb: core::ptr::null_mut(),
        }
    }

    /// The server's transmit time in NTP seconds, or `None` when it did not resolve or answer
    /// in time.
    async fn ask(mut self, clock: &SdkClock, server: &[u8]) -> Option<u32> {
        let generation = EXCHANGE.0.get().generation;
        let mut address = 0u32;
        update(|exchange| exchange.phase = Phase::Resolving);
        // SAFETY: a NUL-terminated 'static name; lwIP fills `address` before returning
        // `ERR_OK`, and the callback checks the generation it is given.
        let result = unsafe {
            sdk::dns_gethostbyname(
                server.as_ptr(),
                &mut address,
                on_resolved,
                usize::from(generation) as *mut c_void,
            )
        };
        match result {
            sdk::ERR_OK => update(|exchange| {
                exchange.address = address;
                exchange.phase = Phase::Resolved;
            }),
            sdk::ERR_INPROGRESS => {}
            _ => return None,
        }
        let resolved = until(clock, STEP_MS, || {
            EXCHANGE.0.get().phase != Phase::Resolving
        })
        .await;
        if !resolved || EXCHANGE.0.get().phase != Phase::Resolved {
            return None;
        }
        self.send(EXCHANGE.0.get().address)?;
        until(clock, STEP_MS, || EXCHANGE.0.get().answer != 0).await;
        Some(EXCHANGE.0.get().answer).filter(|&seconds| seconds != 0)
    }

    /// Opens the socket and sends a client request (version 4, mode 3, all else zero).
    fn send(&mut self, address: u32) -> Option<()> {
        let mut request = [0u8; 48];
        request[0] = 0x23;
        // SAFETY: lwIP calls from the task context; the pcb is ours until `udp_remove` (in
        // `drop`), the pbuf until freed here (`udp_sendto` does not keep it).
        unsafe {
            self.pcb = sdk::udp_new();
            if self.pcb.is_null() {
                return None;
            }
            let generation = EXCHANGE.0.get().generation;
            sdk::udp_recv(
                self.pcb,
                Some(on_answer),
                usize::from(generation) as *mut c_void,
            );
            let buffer = sdk::pbuf_alloc(sdk::PBUF_TRANSPORT, 48, sdk::PBUF_RAM);
            if buffer.is_null() {
                return None;
            }
            let mut to = address;
            let sent = sdk::pbuf_take(buffer, request.as_ptr(), 48) == sdk::ERR_OK
                && sdk::udp_sendto(self.pcb, buffer, &mut to, PORT) == sdk::ERR_OK;
            sdk::pbuf_free(buffer);
            sent.then(|| update(|exchange| exchange.phase = Phase::Asking))
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.pcb.is_null() {
            // SAFETY: our pcb; after `udp_remove` lwIP never calls back.
            unsafe { sdk::udp_remove(self.pcb) };
        }
        update(|exchange| exchange.phase = Phase::Idle);
    }
}

/// Waits until `done` holds (re-checked at every wake-up of the engine) or `limit_ms` passed;
/// whether it held.
async fn until(clock: &SdkClock, limit_ms: u64, done: impl Fn() -> bool) -> bool {
    let mut timer = pin!(clock.sleep_until(clock.now_ms() + limit_ms));
    poll_fn(|context| {
        if done() {
            Poll::Ready(true)
        } else if timer.as_mut().poll(context).is_ready() {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    })
    .await
}

fn current(argument: *mut c_void, phase: Phase) -> bool {
    let exchange = EXCHANGE.0.get();
    argument as usize == usize::from(exchange.generation) && exchange.phase == phase
}

unsafe extern "C" fn on_resolved(_name: *const u8, address: *const u32, argument: *mut c_void) {
    if !current(argument, Phase::Resolving) {
        return;
    }
    // SAFETY: lwIP passes its resolved address, or null when the lookup failed.
    let resolved = unsafe { address.as_ref() }.copied();
    update(|exchange| match resolved {
        Some(address) => {
            exchange.address = address;
            exchange.phase = Phase::Resolved;
        }
        None => exchange.phase = Phase::Failed,
    });
    wake();
}

unsafe extern "C" fn on_answer(
    argument: *mut c_void,
    _pcb: *mut sdk::UdpPcb,
    datagram: *mut sdk::Pbuf,
    from: *mut u32,
    port: u16,
) {
    if datagram.is_null() {
        return;
    }
    let mut packet = [0u8; 48];
    // SAFETY: lwIP lends the chain and the sender's address for the call; the chain is ours
    // to free.
    let (copied, sender) = unsafe {
        let copied = sdk::pbuf_copy_partial(datagram, packet.as_mut_ptr(), 48, 0);
        sdk::pbuf_free(datagram);
        (copied, from.as_ref().copied())
    };
    let exchange = EXCHANGE.0.get();
    if !current(argument, Phase::Asking) || sender != Some(exchange.address) || port != PORT {
        return;
    }
    if let Some(seconds) = transmit_seconds(&packet[..usize::from(copied)]) {
        update(|exchange| exchange.answer = seconds);
        wake();
    }
}

/// The transmit time of a server's answer (mode 4, a synchronised stratum 1..=15, a time
/// set), in NTP seconds.
fn transmit_seconds(packet: &[u8]) -> Option<u32> {
    let header = packet.get(..48)?;
    let mode = header[0] & 0x07;
    let stratum = header[1];
    let seconds = u32::from_be_bytes([header[40], header[41], header[42], header[43]]);
    (mode == 4 && (1..=15).contains(&stratum) && seconds != 0).then_some(seconds)
}
