//! The receiver loop: UART bytes into the framer, complete lines into the input queue.
//!
//! It never parses or runs anything, so it keeps reading while a command executes; a line
//! that finds the queue full is answered `[BUSY]` as soon as the UART is free: never inside a
//! command's block, so a long synchronous command delays it (`at-engine.md` §9). The reply goes
//! into the outbox that the URC writer drains, so the receiver never waits for the UART and
//! keeps emptying the hardware FIFO during a long command; only when the outbox has no room
//! left outside its status reserve does it wait and write the reply itself.

use at_parser::{Framed, FramedRef, Pending};
use embedded_io_async::{Read, Write};

use super::{Exit, Shared};
use crate::board::Clock;
use crate::mqtt::MqttShared;
use crate::queue::Entry;
use crate::render::BUSY_REPLY;
use crate::wake::{Contender, UartLock};

/// Bytes taken from the UART per read. The board's driver already buffers what the hardware
/// received (its interrupt ring), so this is a staging piece, not a buffer: its size only sets
/// how many reads a long line takes (64 bytes: the read size the parser's benchmark models,
/// half the ESP8266's UART FIFO), and every byte of it lives in the engine's state.
const READ_PIECE: usize = 64;

/// The receiver loop.
pub(super) async fn receive<R: Read, T: Write, C: Clock>(
    rx: &mut R,
    shared: &Shared,
    mqtt: &MqttShared<'_>,
    output: &UartLock<&mut T>,
    clock: &C,
) -> Exit {
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
        let mut fed = 0;
        while fed < count {
            let (taken, pending) = shared.framer.borrow_mut().receive(&buffer[fed..count]);
            if taken == 0 {
                // Back-pressure: the framer is full of bytes only the executor can take (a
                // barrier or a data phase); the UART is not read until it took some.
                shared.room.wait().await;
                continue;
            }
            fed += taken;
            match pending {
                Pending::Nothing => {}
                Pending::Lines => {
                    if let Some(exit) = frame_lines(shared, mqtt, output).await {
                        return exit;
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
                // The executor restarts the discard's silence; a `\r\n` ends it here.
                Pending::Discard => {
                    shared.input.raise();
                    if let Some(exit) = frame_lines(shared, mqtt, output).await {
                        return exit;
                    }
                }
            }
        }
    }
}

/// Moves every complete line from the framer to the queue, answering `[BUSY]` for those that
/// find it full; `Some` if the UART failed.
async fn frame_lines<T: Write>(
    shared: &Shared,
    mqtt: &MqttShared<'_>,
    output: &UartLock<&mut T>,
) -> Option<Exit> {
    loop {
        // Frame one line at a time so that a [BUSY] reply can be written without holding
        // the framer across an await.
        let refused = match frame_one(shared) {
            Framing::Idle => return None,
            Framing::Queued => continue,
            Framing::Refused(entry) => entry,
        };
        // Echo and reply as parts: no block buffer is held across the write.
        let echo = match &refused {
            Entry::Line(line) if shared.echo.get() => &line[..],
            _ => &[],
        };
        if mqtt.outbox.borrow_mut().push_message(&[echo, BUSY_REPLY]) {
            mqtt.output_ready.raise();
        } else {
            // Two writes, not a loop over the parts: an array iterator held across the awaits
            // would keep a copy of both slices in the receiver's state.
            let mut tx = output.lock(Contender::Receiver).await;
            let written = match tx.write_all(echo).await {
                Ok(()) => tx.write_all(BUSY_REPLY).await,
                failed => failed,
            };
            if written.is_err() || tx.flush().await.is_err() {
                return Some(Exit::UartClosed);
            }
        }
    }
}

// Carries a refused line inline for its echo; there is no heap to box into.
#[allow(clippy::large_enum_variant)]
pub(super) enum Framing {
    Idle,
    Queued,
    Refused(Entry),
}

pub(super) fn frame_one(shared: &Shared) -> Framing {
    let mut framer = shared.framer.borrow_mut();
    // The line goes from the framer's buffer into the queue's ring in one copy; only a
    // refused one is copied out, for its echo.
    let framing = framer.next_line_with(|framed| {
        let mut queue = shared.queue.borrow_mut();
        let queued = match framed {
            FramedRef::Empty => return Framing::Queued,
            FramedRef::Line(line) => queue.push_line(line),
            FramedRef::Rejected => queue.push(Entry::Rejected).is_ok(),
        };
        if queued {
            shared.line_ready.raise();
            return Framing::Queued;
        }
        match framed.to_owned() {
            Framed::Line(line) => Framing::Refused(Entry::Line(line)),
            _ => Framing::Refused(Entry::Rejected),
        }
    });
    let Some(framing) = framing else {
        return Framing::Idle;
    };
    // A line answered `[BUSY]` has no effect at all, so it sets no barrier either
    // (`at-engine.md` §6).
    if let Framing::Refused(Entry::Line(line)) = &framing {
        if at_parser::sets_barrier(line) {
            framer.release_barrier();
        }
    }
    framing
}
