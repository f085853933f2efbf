//! DNS and TCP over the SDK's lwIP raw API behind the engine's `Network` trait.
//!
//! lwIP's raw API rather than espconn: a received segment stays in the pbuf lwIP delivered it
//! in until the engine has read it, and only then is it freed and the TCP window reopened by
//! that many bytes (`tcp_recved`). So the board has no receive buffer of its own (espconn
//! hands the bytes to a callback that must copy them), and a slow engine slows the peer
//! instead of losing bytes. Sent bytes are copied by lwIP (`TCP_WRITE_FLAG_COPY`) into its
//! heap; when that is full the write waits for the peer's acknowledgement.
//!
//! lwIP runs in the SDK's task context, as the engine does, so its callbacks never interrupt
//! a poll: they update a connection slot and post the engine's task (the waker). A `Stream`
//! has no lifetime, so the connections live in a static pool of [`SLOTS`] (MQTT and an OTA
//! download at the same time).

use core::cell::Cell;
use core::ffi::c_void;
use core::future::poll_fn;
use core::task::Poll;

use command_core::{ConnectError, Network};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};

use crate::sdk::{self, Pbuf, TcpPcb};
use crate::{wake, TaskLocal};

/// Connections open at once: the MQTT link and an OTA download.
const SLOTS: usize = 2;
/// The longest host name the engine passes (`cloud.md` limits the broker name to 128).
const HOST_MAX: usize = 128;
/// The largest piece handed to `tcp_write` at once; lwIP splits it into segments.
const WRITE_MAX: usize = 1024;

/// Where a connection is in its life.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Free,
    Resolving,
    Connecting,
    Open,
    /// The peer closed its side: reads return 0 once the received bytes are taken.
    Closed,
    /// lwIP reported an error or aborted the connection (its pcb is gone).
    Failed,
}

/// One connection's state, written by lwIP's callbacks and by the stream.
#[derive(Clone, Copy)]
struct Slot {
    phase: Phase,
    /// Counts the uses of the slot, so that a DNS answer for an abandoned connect is ignored.
    generation: u16,
    pcb: *mut TcpPcb,
    /// Received bytes not yet read: a pbuf chain, `offset` bytes of it already taken.
    received: *mut Pbuf,
    offset: u16,
    /// The resolved IPv4 address (lwIP's `ip_addr_t`, network byte order).
    address: u32,
}

const FREE: Slot = Slot {
    phase: Phase::Free,
    generation: 0,
    pcb: core::ptr::null_mut(),
    received: core::ptr::null_mut(),
    offset: 0,
    address: 0,
};

static POOL: TaskLocal<[Slot; SLOTS]> = TaskLocal(Cell::new([FREE; SLOTS]));

fn slot(index: usize) -> Slot {
    POOL.0.get()[index]
}

fn update(index: usize, change: impl FnOnce(&mut Slot)) {
    let mut pool = POOL.0.get();
    change(&mut pool[index]);
    POOL.0.set(pool);
}

/// The callback argument naming a slot and its use.
fn argument(index: usize, generation: u16) -> *mut c_void {
    ((usize::from(generation) << 8) | index) as *mut c_void
}

fn slot_of(argument: *mut c_void) -> Option<usize> {
    let value = argument as usize;
    let index = value & 0xFF;
    (index < SLOTS && slot(index).generation == (value >> 8) as u16).then_some(index)
}

/// DNS and TCP through the SDK's lwIP.
pub struct SdkNetwork;

impl Network for SdkNetwork {
    type Stream = SdkStream;

    async fn connect(&mut self, host: &[u8], port: u16) -> Result<SdkStream, ConnectError> {
        let index = (0..SLOTS)
            .find(|&index| slot(index).phase == Phase::Free)
            .ok_or(ConnectError::Tcp)?;
        update(index, |slot| {
            *slot = Slot {
                phase: Phase::Resolving,
                generation: slot.generation.wrapping_add(1),
                ..FREE
            }
        });
        // From here on, dropping the stream (a cancelled connect too) releases the slot.
        let stream = SdkStream { index };
        resolve(index, host)?;
        poll_fn(|_| match slot(index).phase {
            Phase::Resolving => Poll::Pending,
            Phase::Connecting => Poll::Ready(Ok(())),
            _ => Poll::Ready(Err(ConnectError::Dns)),
        })
        .await?;
        start_connection(index, port)?;
        poll_fn(|_| match slot(index).phase {
            Phase::Connecting => Poll::Pending,
            Phase::Open => Poll::Ready(Ok(())),
            _ => Poll::Ready(Err(ConnectError::Tcp)),
        })
        .await?;
        Ok(stream)
    }
}

/// Starts the lookup of `host` (lwIP answers an IPv4 literal at once); the slot moves to
/// `Connecting` with the address, or to `Failed`.
fn resolve(index: usize, host: &[u8]) -> Result<(), ConnectError> {
    if host.is_empty() || host.len() > HOST_MAX || host.contains(&0) {
        return Err(ConnectError::Dns);
    }
    // lwIP copies the name into its own table: this buffer lives only for the call.
    let mut name = [0u8; HOST_MAX + 1];
    name[..host.len()].copy_from_slice(host);
    let mut address = 0u32;
    let generation = slot(index).generation;
    // SAFETY: a NUL-terminated name, an address lwIP fills before returning `ERR_OK`, and a
    // callback that checks the argument against the slot's current use.
    let result = unsafe {
        sdk::dns_gethostbyname(
            name.as_ptr(),
            &mut address,
            dns_found,
            argument(index, generation),
        )
    };
    match result {
        sdk::ERR_OK => {
            update(index, |slot| {
                slot.address = address;
                slot.phase = Phase::Connecting;
            });
            Ok(())
        }
        sdk::ERR_INPROGRESS => Ok(()),
        _ => Err(ConnectError::Dns),
    }
}

unsafe extern "C" fn dns_found(_name: *const u8, address: *const u32, argument: *mut c_void) {
    let Some(index) = slot_of(argument) else {
        return;
    };
    if slot(index).phase != Phase::Resolving {
        return;
    }
    // SAFETY: lwIP passes its resolved address, or null when the lookup failed.
    let resolved = unsafe { address.as_ref() }.copied();
    update(index, |slot| match resolved {
        Some(address) => {
            slot.address = address;
            slot.phase = Phase::Connecting;
        }
        None => slot.phase = Phase::Failed,
    });
    wake();
}

/// Creates the pcb, registers the callbacks and sends the SYN.
fn start_connection(index: usize, port: u16) -> Result<(), ConnectError> {
    // SAFETY: lwIP calls from the task context; the pcb is ours until it is closed, aborted
    // or reported failed, and its callbacks find the slot through the argument.
    unsafe {
        let pcb = sdk::tcp_new();
        if pcb.is_null() {
            return Err(ConnectError::Tcp);
        }
        update(index, |slot| slot.pcb = pcb);
        sdk::tcp_arg(pcb, argument(index, slot(index).generation));
        sdk::tcp_err(pcb, Some(on_error));
        sdk::tcp_recv(pcb, Some(on_receive));
        sdk::tcp_sent(pcb, Some(on_sent));
        let mut address = slot(index).address;
        if sdk::tcp_connect(pcb, &mut address, port, on_connected) != sdk::ERR_OK {
            return Err(ConnectError::Tcp);
        }
    }
    Ok(())
}

unsafe extern "C" fn on_connected(argument: *mut c_void, _pcb: *mut TcpPcb, error: i8) -> i8 {
    if let Some(index) = slot_of(argument) {
        update(index, |slot| {
            slot.phase = if error == sdk::ERR_OK {
                Phase::Open
            } else {
                Phase::Failed
            }
        });
        wake();
    }
    sdk::ERR_OK
}

unsafe extern "C" fn on_error(argument: *mut c_void, _error: i8) {
    if let Some(index) = slot_of(argument) {
        // lwIP has freed the pcb already; received bytes stay readable.
        update(index, |slot| {
            slot.pcb = core::ptr::null_mut();
            slot.phase = Phase::Failed;
        });
        wake();
    }
}

unsafe extern "C" fn on_receive(
    argument: *mut c_void,
    _pcb: *mut TcpPcb,
    segment: *mut Pbuf,
    _error: i8,
) -> i8 {
    let Some(index) = slot_of(argument) else {
        return sdk::ERR_OK;
    };
    if segment.is_null() {
        update(index, |slot| {
            if slot.phase == Phase::Open {
                slot.phase = Phase::Closed;
            }
        });
    } else {
        let held = slot(index).received;
        if held.is_null() {
            update(index, |slot| slot.received = segment);
        } else {
            // SAFETY: both chains are ours; `pbuf_cat` takes over the reference to `segment`.
            unsafe { sdk::pbuf_cat(held, segment) };
        }
    }
    wake();
    sdk::ERR_OK
}

unsafe extern "C" fn on_sent(_argument: *mut c_void, _pcb: *mut TcpPcb, _length: u16) -> i8 {
    // Room in lwIP's send buffer: a waiting write may continue.
    wake();
    sdk::ERR_OK
}

/// A connection in the pool.
pub struct SdkStream {
    index: usize,
}

/// A failed or reset connection reads and writes as `ErrorKind::ConnectionReset`.
impl ErrorType for SdkStream {
    type Error = ErrorKind;
}

impl Read for SdkStream {
    /// Cancel-safe: bytes leave the pbuf only in the poll that returns them.
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, ErrorKind> {
        let index = self.index;
        poll_fn(|_| {
            let current = slot(index);
            if current.received.is_null() || buffer.is_empty() {
                return match current.phase {
                    _ if buffer.is_empty() => Poll::Ready(Ok(0)),
                    Phase::Closed => Poll::Ready(Ok(0)),
                    Phase::Failed => Poll::Ready(Err(ErrorKind::ConnectionReset)),
                    _ => Poll::Pending,
                };
            }
            let wanted = buffer.len().min(usize::from(u16::MAX)) as u16;
            // SAFETY: the chain is ours until freed below; lwIP copies at most `wanted`.
            let copied = unsafe {
                sdk::pbuf_copy_partial(
                    current.received,
                    buffer.as_mut_ptr(),
                    wanted,
                    current.offset,
                )
            };
            // SAFETY: `tot_len` of the head is the chain's length.
            let total = unsafe { (*current.received).total_length };
            let offset = current.offset + copied;
            let done = offset >= total;
            // SAFETY: the chain and pcb are ours; freeing a fully read chain returns its
            // memory, and `tcp_recved` reopens the window by what the engine took.
            unsafe {
                if done {
                    sdk::pbuf_free(current.received);
                }
                if !current.pcb.is_null() {
                    sdk::tcp_recved(current.pcb, copied);
                }
            }
            update(index, |slot| {
                if done {
                    slot.received = core::ptr::null_mut();
                    slot.offset = 0;
                } else {
                    slot.offset = offset;
                }
            });
            Poll::Ready(Ok(usize::from(copied)))
        })
        .await
    }
}

impl Write for SdkStream {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, ErrorKind> {
        let index = self.index;
        poll_fn(|_| {
            let current = slot(index);
            if current.phase != Phase::Open || current.pcb.is_null() {
                return Poll::Ready(Err(ErrorKind::ConnectionReset));
            }
            if bytes.is_empty() {
                return Poll::Ready(Ok(0));
            }
            // Halve on a full send buffer: a smaller piece may still fit.
            let mut length = bytes.len().min(WRITE_MAX);
            loop {
                // SAFETY: lwIP copies `length` bytes (TCP_WRITE_FLAG_COPY) before returning.
                let result = unsafe {
                    sdk::tcp_write(
                        current.pcb,
                        bytes.as_ptr(),
                        length as u16,
                        sdk::TCP_WRITE_FLAG_COPY,
                    )
                };
                match result {
                    sdk::ERR_OK => {
                        // SAFETY: our open pcb.
                        unsafe { sdk::tcp_output(current.pcb) };
                        return Poll::Ready(Ok(length));
                    }
                    // The next acknowledgement (`on_sent`) wakes the engine.
                    sdk::ERR_MEM if length <= 64 => return Poll::Pending,
                    sdk::ERR_MEM => length /= 2,
                    _ => return Poll::Ready(Err(ErrorKind::ConnectionReset)),
                }
            }
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl Drop for SdkStream {
    /// Closes the connection (or abandons the lookup) and frees what it still holds.
    fn drop(&mut self) {
        let current = slot(self.index);
        // SAFETY: the pcb (when lwIP has not freed it) and the chain are ours; clearing the
        // argument and callbacks first means lwIP never calls back for this use again.
        unsafe {
            if !current.pcb.is_null() {
                sdk::tcp_arg(current.pcb, core::ptr::null_mut());
                sdk::tcp_err(current.pcb, None);
                sdk::tcp_recv(current.pcb, None);
                sdk::tcp_sent(current.pcb, None);
                if sdk::tcp_close(current.pcb) != sdk::ERR_OK {
                    sdk::tcp_abort(current.pcb);
                }
            }
            if !current.received.is_null() {
                sdk::pbuf_free(current.received);
            }
        }
        update(self.index, |slot| {
            *slot = Slot {
                generation: slot.generation,
                ..FREE
            }
        });
    }
}
