//! The engine's writers to the UART: the URC writer loop and the executor's command blocks.
//!
//! Every write goes through the UART lock, one whole block at a time (`at-engine.md` §9).
//! Status URCs and result lines wait in the outbox; a received message waits where the session
//! decoded it (held, `mqtt_session::Session::hold_message`) and the writer streams it from
//! there in small pieces, so a `+TCMQTTRCVPUB` is never staged whole in a second buffer. The
//! outbox entries queued before the held message go out before it, the others after it: URCs
//! and results keep the order of their events.
//!
//! The writer is a loop of its own so that a slow UART never stops the MQTT service: it keeps
//! serving timers (the keep-alive) and requests while a block is being written. The executor
//! writes the outbox entries ahead of the held message; if its own result is queued behind
//! it, it gives the UART back and waits until the writer wrote the message, so an AT command
//! waits at most for one URC block. The same goes for a `[BUSY]` reply whose echo waits in the
//! framer (`mqtt::Busy::EchoInFramer`): only the writer, which is given the framer, writes it,
//! in pieces from there, and then consumes the refused line.

use embedded_io_async::Write;

use at_parser::FramedRef;

use super::{Exit, Shared};
use crate::board::{Clock, Offline};

use crate::mqtt::{MqttShared, Popped, RENDERED_MAX};
use crate::render::BUSY_REPLY;
use crate::wake::{Contender, UartGuard, UartLock};

/// Bytes of one outbox entry or held message copied per UART write. A borrow of the outbox or
/// the session cannot be held across a UART await, so each piece is copied; its size only sets
/// how many writes a block takes (the ESP8266's UART FIFO takes 128 bytes at a time), and
/// every byte of it lives in the engine's state.
const CHUNK: usize = 64;
const _: () = assert!(BUSY_REPLY.len() <= CHUNK, "a [BUSY] reply is one piece");
const _: () = assert!(
    RENDERED_MAX <= CHUNK,
    "a status record renders into one piece"
);

/// The URC writer loop.
// An `async fn` would keep its arguments twice (as arguments and as locals).
#[allow(clippy::manual_async_fn)]
pub(super) fn write_urcs<'a, 'm, T: Write, C: Clock>(
    mqtt: &'a MqttShared<'m>,
    shared: &'a Shared,
    output: &'a UartLock<&'a mut T>,
    clock: &'a C,
) -> impl core::future::Future<Output = Exit> + use<'a, 'm, T, C> {
    async move {
        loop {
            if !mqtt.has_output() {
                mqtt.output_ready.wait().await;
                continue;
            }
            let mut tx = output.lock(Contender::Writer).await;
            // The writer's turn with the UART: the outbox entries ahead of the held message,
            // the held message itself (then released to the session), and the entries behind.
            if write_queued(mqtt, &mut **tx, Through::Held { clock, shared })
                .await
                .is_err()
            {
                return Exit::UartClosed;
            }
        }
    }
}

/// How far [`write_queued`] goes. A thin reference to the board's clock, not a `dyn` one: it
/// is kept in the writer's state.
enum Through<'c, C: Clock> {
    /// Up to the held message or a `[BUSY]` reply whose echo waits in the framer: the
    /// executor's drain before its own block (it releases no message, so its clock,
    /// [`Offline`], is never read).
    Entries,
    /// Through the held message (released, at the time the clock gives, once written) and
    /// the entries behind it, echoes in the framer included: the URC writer.
    Held { clock: &'c C, shared: &'c Shared },
}

/// Where [`write_queued`] is in the output it owes the UART.
enum Position {
    /// Between blocks.
    Between,
    /// Inside an outbox entry, this many bytes left, and then the reply of a `[BUSY]`.
    /// Positions in 16 bits: an entry or a held message's URC is at most `URC_MAX` bytes.
    Entry { left: u16, busy: bool },
    /// Inside the held message's URC, this many bytes written.
    Held(u16),
    /// Inside the echo of a `[BUSY]` reply that waits at the framer's head
    /// (`mqtt::Busy::EchoInFramer`): `offset` of its `length` bytes written.
    Framer { offset: u16, length: u16 },
}

/// What [`write_queued`] does next.
enum WriteStep {
    /// Write the first bytes of the piece buffer.
    Write(usize),
    /// Flush: a block ended.
    EndBlock,
    /// Nothing more to write: true if output waits behind a held message or an echo in the
    /// framer.
    Done(bool),
}

/// Writes queued output, one block per outbox entry or held message, in pieces: one loop
/// with one piece buffer and one pending write, the steps chosen synchronously by
/// [`next_step`] (nested writer futures would each keep their own references and buffer).
/// Returns true if output is left behind a held message or an echo in the framer (with
/// [`Through::Entries`]).
// An `async fn` would keep its arguments twice (as arguments and as locals).
#[allow(clippy::manual_async_fn)]
fn write_queued<'a, 'm, T: Write, C: Clock>(
    mqtt: &'a MqttShared<'m>,
    tx: &'a mut T,
    through: Through<'a, C>,
) -> impl core::future::Future<Output = Result<bool, T::Error>> + use<'a, 'm, T, C> {
    async move {
        let mut chunk = [0u8; CHUNK];
        let mut position = Position::Between;
        loop {
            match next_step(mqtt, &mut position, &mut chunk, &through) {
                WriteStep::Write(count) => tx.write_all(&chunk[..count]).await?,
                WriteStep::EndBlock => tx.flush().await?,
                WriteStep::Done(left) => return Ok(left),
            }
        }
    }
}

/// The next step from `position`, with the next piece copied into `chunk`. A borrow of the
/// outbox or the session is never held across a UART await, so each piece is a copy; the
/// held bytes do not move until released (`mqtt_session::Session::hold_message`).
fn next_step<C: Clock>(
    mqtt: &MqttShared<'_>,
    position: &mut Position,
    chunk: &mut [u8; CHUNK],
    through: &Through<'_, C>,
) -> WriteStep {
    loop {
        match *position {
            Position::Between => {
                if mqtt.held_position.get() == Some(0) {
                    match through {
                        Through::Entries => {
                            return WriteStep::Done(!mqtt.outbox.borrow().is_empty());
                        }
                        Through::Held { .. } => *position = Position::Held(0),
                    }
                    continue;
                }
                if let Through::Entries = through {
                    // Only the URC writer reads the framer: the executor lets it write this.
                    if mqtt.outbox.borrow().front_in_framer() {
                        return WriteStep::Done(true);
                    }
                }
                let Some(popped) = mqtt.outbox.borrow_mut().pop(chunk) else {
                    return WriteStep::Done(false);
                };
                // The entry left the queue: one fewer ahead of the held message. Counted now,
                // not once written, so that a message held meanwhile counts only what is
                // still queued (`Some(entries())`).
                let held = &mqtt.held_position;
                held.set(held.get().map(|entries| entries.saturating_sub(1)));
                // A `[BUSY]` reply may be waiting for this room.
                mqtt.receiver_room.raise();
                *position = match popped {
                    Popped::Rendered(count) => {
                        // A status record, rendered into the piece buffer: one write.
                        *position = Position::Entry {
                            left: 0,
                            busy: false,
                        };
                        return WriteStep::Write(count);
                    }
                    Popped::Text(length) => Position::Entry {
                        left: length as u16,
                        busy: false,
                    },
                    Popped::Busy(length) => Position::Entry {
                        left: length as u16,
                        busy: true,
                    },
                    Popped::BusyInFramer(length) => Position::Framer {
                        offset: 0,
                        length: length as u16,
                    },
                };
            }
            Position::Entry { left: 0, busy } => {
                if busy {
                    // The reply of a `[BUSY]` entry, behind its echo (`Outbox::push_busy`).
                    chunk[..BUSY_REPLY.len()].copy_from_slice(BUSY_REPLY);
                    *position = Position::Entry {
                        left: 0,
                        busy: false,
                    };
                    return WriteStep::Write(BUSY_REPLY.len());
                }
                *position = Position::Between;
                return WriteStep::EndBlock;
            }
            Position::Entry { left, busy } => {
                // Nothing else takes from the queue until the entry is out: its writer holds
                // the UART.
                let piece = usize::from(left).min(CHUNK);
                let count = mqtt.outbox.borrow_mut().take(&mut chunk[..piece]);
                *position = Position::Entry {
                    // A queue emptied under the entry (cannot happen) ends it.
                    left: if count == 0 { 0 } else { left - count as u16 },
                    busy,
                };
                if count > 0 {
                    return WriteStep::Write(count);
                }
            }
            Position::Framer { offset, length } => {
                let Through::Held { shared, .. } = through else {
                    // Never popped by the drain (`Outbox::front_in_framer`).
                    *position = Position::Entry {
                        left: 0,
                        busy: true,
                    };
                    continue;
                };
                if offset < length {
                    let count = shared
                        .framer
                        .borrow_mut()
                        .offer_line(|framed| match framed {
                            FramedRef::Line(line) => {
                                let echo = &line[..line.len().min(usize::from(length))];
                                (copy_from(&[echo], usize::from(offset), chunk), false)
                            }
                            _ => (0, false),
                        })
                        .unwrap_or(0);
                    if count > 0 {
                        *position = Position::Framer {
                            offset: offset + count as u16,
                            length,
                        };
                        return WriteStep::Write(count);
                    }
                }
                // The echo is out: the refused line leaves the framer, with no barrier
                // (`at-engine.md` §6), and the receiver frames on.
                let mut framer = shared.framer.borrow_mut();
                let barrier = framer.offer_line(|framed| {
                    let barrier = match framed {
                        FramedRef::Line(line) => at_parser::sets_barrier(line),
                        _ => false,
                    };
                    (barrier, true)
                });
                if barrier == Some(true) {
                    framer.release_barrier();
                }
                shared.echo_in_framer.set(false);
                mqtt.receiver_room.raise();
                // The executor's drain may wait for this entry to be written.
                mqtt.urc_written.raise();
                *position = Position::Entry {
                    left: 0,
                    busy: true,
                };
            }
            Position::Held(offset) => {
                let count = {
                    let session = mqtt.session.borrow();
                    session.held_message().map_or(0, |message| {
                        let mut length = crate::render::MessageLength::new();
                        let parts = crate::render::received_message_parts(
                            message.topic.as_bytes(),
                            message.payload,
                            &mut length,
                        );
                        copy_from(&parts, usize::from(offset), chunk)
                    })
                };
                if count > 0 {
                    *position = Position::Held(offset + count as u16);
                    return WriteStep::Write(count);
                }
                *position = Position::Between;
                if let Through::Held { clock, .. } = through {
                    mqtt.held_position.set(None);
                    mqtt.session.borrow_mut().release_held(clock.now_ms());
                    mqtt.service_wake.raise();
                    mqtt.urc_written.raise();
                }
                return WriteStep::EndBlock;
            }
        }
    }
}

/// Copies the bytes of `parts` (taken as one sequence) from `offset` on into `destination`;
/// returns how many.
fn copy_from(parts: &[&[u8]], mut offset: usize, destination: &mut [u8]) -> usize {
    let mut written = 0;
    for part in parts {
        if offset >= part.len() {
            offset -= part.len();
            continue;
        }
        let piece = &part[offset..];
        offset = 0;
        let count = piece.len().min(destination.len() - written);
        destination[written..written + count].copy_from_slice(&piece[..count]);
        written += count;
        if written == destination.len() {
            break;
        }
    }
    written
}

/// Takes the UART for the executor with every line queued before its output written.
pub(super) async fn lock_drained<'s, T: Write>(
    output: &'s UartLock<&'s mut T>,
    mqtt: &MqttShared<'_>,
) -> Result<UartGuard<'s, &'s mut T>, T::Error> {
    loop {
        let mut tx = output.lock(Contender::Executor).await;
        if !write_queued(mqtt, &mut **tx, Through::<Offline>::Entries).await? {
            return Ok(tx);
        }
        // A line older than ours waits behind a held message or an echo in the framer: let
        // the URC writer write it.
        drop(tx);
        mqtt.urc_written.wait().await;
    }
}

/// Writes one block of the executor's. Inside an open command block the bytes follow at once
/// (anything queued meanwhile waits for the block's end); otherwise queued outbox entries go
/// first, which is how an async command's result line comes out behind its events' URCs.
pub(super) async fn write_command_output<'s, T: Write>(
    output: &'s UartLock<&'s mut T>,
    mqtt: &MqttShared<'_>,
    held: &mut Option<UartGuard<'s, &'s mut T>>,
    bytes: &[u8],
) -> Result<(), T::Error> {
    if let Some(tx) = held.as_mut() {
        if bytes.is_empty() {
            return Ok(());
        }
        return write_block(&mut ***tx, bytes).await;
    }
    let mut tx = lock_drained(output, mqtt).await?;
    if bytes.is_empty() {
        return Ok(());
    }
    write_block(&mut **tx, bytes).await
}

pub(super) async fn write_block<T: Write>(tx: &mut T, bytes: &[u8]) -> Result<(), T::Error> {
    tx.write_all(bytes).await?;
    tx.flush().await
}
