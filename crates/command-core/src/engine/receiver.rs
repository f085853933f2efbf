//! The receiver loop: UART bytes into the framer, complete lines into the input queue.
//!
//! It never parses or runs anything, so it keeps reading while a command executes; a line
//! that finds the queue full is answered `[BUSY]` as soon as the UART is free: never inside a
//! command's block, so a long synchronous command delays it (`at-engine.md` §9). The reply goes
//! into the outbox that the URC writer drains, so the receiver never waits for the UART and
//! keeps emptying the hardware FIFO during a long command. When the outbox has no room left
//! outside its status reserve, the refused line stays in the framer (bytes stay put) and the
//! receiver waits for a writer to take an entry out, then queues the reply; an echo longer
//! than the outbox's `[BUSY]` room stays there too, and the URC writer writes it from the
//! framer. Nothing of the line is copied into the receiver's state, and the receiver never
//! holds the UART.

use at_parser::{FramedRef, Pending};
use embedded_io_async::Read;

use super::{Exit, Shared};
use crate::board::Clock;
use crate::mqtt::{Busy, MqttShared};
use crate::queue::Entry;

/// Bytes taken from the UART per read. The board's driver already buffers what the hardware
/// received (its interrupt ring), so this is a staging piece, not a buffer: its size only sets
/// how many reads a long line takes (64 bytes: the read size the parser's benchmark models,
/// half the ESP8266's UART FIFO), and every byte of it lives in the engine's state.
const READ_PIECE: usize = 64;
const _: () = assert!(
    READ_PIECE <= u8::MAX as usize,
    "positions in the piece are bytes"
);

/// The receiver loop.
// An `async fn` would keep its arguments twice (as arguments and as locals).
#[allow(clippy::manual_async_fn)]
pub(super) fn receive<'a, 'm, R: Read, C: Clock>(
    rx: &'a mut R,
    shared: &'a Shared,
    mqtt: &'a MqttShared<'m>,
    clock: &'a C,
) -> impl core::future::Future<Output = Exit> + use<'a, 'm, R, C> {
    async move {
        let mut buffer = [0u8; READ_PIECE];
        loop {
            let count = match rx.read(&mut buffer).await {
                Ok(0) | Err(_) => return Exit::UartClosed,
                Ok(count) => count,
            };
            // An interrupt-per-byte UART delivers one byte per read, and most bytes only continue
            // a line or a payload: stored with two compares, the rest of the loop skipped.
            let quiet = shared.framer.borrow_mut().receive_quiet(&buffer[..count]);
            match quiet {
                Some(Pending::Payload) => {
                    shared.last_input.set(clock.now_ms() as u32);
                    continue;
                }
                Some(_) => continue,
                None => {}
            }
            // The piece's positions in a byte each (it is 64 bytes): kept across the waits below.
            let count = count.min(READ_PIECE) as u8;
            let mut fed = 0u8;
            while fed < count {
                let unfed = &buffer[usize::from(fed)..usize::from(count)];
                let (taken, pending) = shared.framer.borrow_mut().receive(unfed);
                if taken == 0 {
                    // Back-pressure: the framer is full of bytes only the executor can take (a
                    // barrier or a data phase); the UART is not read until it took some.
                    mqtt.receiver_room.wait().await;
                    continue;
                }
                // At most what was offered.
                fed += taken as u8;
                match pending {
                    Pending::Nothing => {}
                    // The executor restarts the discard's silence; a `\r\n` ends it here.
                    Pending::Lines | Pending::Discard => {
                        if pending == Pending::Discard {
                            shared.input.raise();
                        }
                        // Every complete line into the queue; a `[BUSY]` reply that finds no
                        // room in the outbox waits for a writer to take an entry out.
                        let mut refusal = Refusal::None;
                        while let Some(waiting) = queue_lines(shared, mqtt, refusal) {
                            refusal = waiting;
                            mqtt.receiver_room.wait().await;
                        }
                    }
                    // A data phase is woken only by bytes that can change it (or a full
                    // framer); plain payload bytes wait in the framer, and the time they came
                    // restarts its inactivity timer when it fires.
                    Pending::Payload => shared.last_input.set(clock.now_ms() as u32),
                    Pending::PayloadDue => {
                        shared.last_input.set(clock.now_ms() as u32);
                        shared.input.raise();
                    }
                }
            }
        }
    }
}

/// Where a `[BUSY]` reply that found no room in the outbox waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No reply waits: the queue decides on the next line.
    None,
    /// The line at the framer's head was refused: it stays there, unconsumed and without the
    /// barrier it would set, until its echo and reply are queued. The queue is not asked
    /// again: the line completed while it was full (`at-engine.md` §6).
    Line,
    /// A rejected line (over-long, or with lost bytes) was refused and consumed: its reply,
    /// without echo, waits.
    Rejected,
    /// The line at the framer's head was refused and its reply queued, but its echo is longer
    /// than the outbox's `[BUSY]` room: the URC writer writes it from the framer and consumes
    /// the line (`Shared::echo_in_framer`).
    InFramer,
}

/// What one line offered by the framer came to.
enum Offered {
    /// Queued, ignored (empty) or answered `[BUSY]`; `true` for a refused line that set the
    /// barrier.
    Done(bool),
    /// Refused, and its reply found no room.
    Waiting(Refusal),
}

/// Moves every complete line from the framer to the queue, answering `[BUSY]` for those that
/// find it full, until none is left (`None`) or a refused one's reply finds no room in the
/// outbox (`Some`, where the reply waits); `refusal` is where the last one waited.
fn queue_lines(shared: &Shared, mqtt: &MqttShared<'_>, mut refusal: Refusal) -> Option<Refusal> {
    loop {
        match refusal {
            Refusal::Rejected => {
                if queue_busy(mqtt, &[]) == Busy::NoRoom {
                    return Some(Refusal::Rejected);
                }
                refusal = Refusal::None;
            }
            Refusal::InFramer if shared.echo_in_framer.get() => return Some(Refusal::InFramer),
            Refusal::InFramer => refusal = Refusal::None,
            Refusal::None | Refusal::Line => {}
        }
        let mut framer = shared.framer.borrow_mut();
        // The line goes from the framer's buffer into the queue's ring, or its echo into the
        // outbox, in one copy; a refused line without room stays in the framer.
        let offered = framer.offer_line(|framed| {
            if refusal == Refusal::None {
                let mut queue = shared.queue.borrow_mut();
                let queued = match framed {
                    FramedRef::Empty => return (Offered::Done(false), true),
                    FramedRef::Line(line) => queue.push_line(line),
                    FramedRef::Rejected => queue.push(Entry::Rejected).is_ok(),
                };
                if queued {
                    shared.line_ready.raise();
                    return (Offered::Done(false), true);
                }
            }
            match framed {
                FramedRef::Line(line) => {
                    let echo = if shared.echo.get() { line } else { &[] };
                    match queue_busy(mqtt, echo) {
                        Busy::Queued => (Offered::Done(at_parser::sets_barrier(line)), true),
                        Busy::EchoInFramer => {
                            shared.echo_in_framer.set(true);
                            (Offered::Waiting(Refusal::InFramer), false)
                        }
                        Busy::NoRoom => (Offered::Waiting(Refusal::Line), false),
                    }
                }
                // An empty line is never refused; a rejected one is consumed either way.
                _ if queue_busy(mqtt, &[]) == Busy::Queued => (Offered::Done(false), true),
                _ => (Offered::Waiting(Refusal::Rejected), true),
            }
        });
        refusal = Refusal::None;
        match offered {
            None => return None,
            Some(Offered::Waiting(waiting)) => return Some(waiting),
            // A line answered `[BUSY]` has no effect at all, so it sets no barrier either
            // (`at-engine.md` §6); a queued one keeps its barrier.
            Some(Offered::Done(true)) => framer.release_barrier(),
            Some(Offered::Done(false)) => {}
        }
    }
}

/// Queues the `[BUSY]` reply to a refused line (`echo` empty with echo off or for a rejected
/// line), with its echo or, when longer than the outbox's `[BUSY]` room, its echo's place.
fn queue_busy(mqtt: &MqttShared<'_>, echo: &[u8]) -> Busy {
    let queued = mqtt.outbox.borrow_mut().push_busy(echo);
    if queued != Busy::NoRoom {
        mqtt.output_ready.raise();
    }
    queued
}

/// What [`frame_one`] did.
pub(super) enum Framing {
    Idle,
    Queued,
    /// The queue was full: the line is consumed, with no other effect; the caller answers.
    Refused,
}

/// Frames one line into the queue, for the executor once it released the barrier.
pub(super) fn frame_one(shared: &Shared) -> Framing {
    let mut framer = shared.framer.borrow_mut();
    let framing = framer.next_line_with(|framed| {
        let mut queue = shared.queue.borrow_mut();
        let queued = match framed {
            FramedRef::Empty => return (Framing::Queued, false),
            FramedRef::Line(line) => queue.push_line(line),
            FramedRef::Rejected => queue.push(Entry::Rejected).is_ok(),
        };
        if queued {
            shared.line_ready.raise();
            return (Framing::Queued, false);
        }
        let barrier = matches!(framed, FramedRef::Line(line) if at_parser::sets_barrier(line));
        (Framing::Refused, barrier)
    });
    let Some((framing, refused_barrier)) = framing else {
        return Framing::Idle;
    };
    // A line answered `[BUSY]` has no effect at all, so it sets no barrier either
    // (`at-engine.md` §6).
    if refused_barrier {
        framer.release_barrier();
    }
    framing
}
