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
//! waits at most for one URC block.

use embedded_io_async::Write;

use super::Exit;
use crate::board::Clock;
use core::cell::RefCell;

use crate::mqtt::{MqttShared, Outbox};
use crate::wake::{Contender, UartGuard, UartLock};

/// Bytes of one outbox entry or held message copied per UART write. A borrow of the outbox or
/// the session cannot be held across a UART await, so each piece is copied; its size only sets
/// how many writes a block takes (the ESP8266's UART FIFO takes 128 bytes at a time), and
/// every byte of it lives in the engine's state.
const CHUNK: usize = 64;

/// The URC writer loop.
pub(super) async fn write_urcs<T: Write, C: Clock>(
    mqtt: &MqttShared<'_>,
    output: &UartLock<&mut T>,
    clock: &C,
) -> Exit {
    loop {
        if !mqtt.has_output() {
            mqtt.output_ready.wait().await;
            continue;
        }
        let mut tx = output.lock(Contender::Writer).await;
        if write_output(mqtt, &mut **tx, clock).await.is_err() {
            return Exit::UartClosed;
        }
    }
}

/// The writer's turn with the UART: the outbox entries ahead of the held message, the held
/// message itself (then released to the session), and the entries behind it.
async fn write_output<T: Write, C: Clock>(
    mqtt: &MqttShared<'_>,
    tx: &mut T,
    clock: &C,
) -> Result<(), T::Error> {
    write_ahead_of_held(mqtt, tx).await?;
    if mqtt.held_position.get() == Some(0) {
        write_held(mqtt, tx).await?;
        mqtt.held_position.set(None);
        mqtt.session.borrow_mut().release_held(clock.now_ms());
        mqtt.service_wake.raise();
        mqtt.urc_written.raise();
    }
    write_ahead_of_held(mqtt, tx).await.map(|_| ())
}

/// Streams the held message's URC from the session's receive buffer, one piece per borrow:
/// the session is never borrowed across an await, and the held bytes do not move until
/// released (`mqtt_session::Session::hold_message`).
async fn write_held<T: Write>(mqtt: &MqttShared<'_>, tx: &mut T) -> Result<(), T::Error> {
    let mut chunk = [0u8; CHUNK];
    let mut offset = 0;
    loop {
        let count = {
            let session = mqtt.session.borrow();
            let Some(message) = session.held_message() else {
                break;
            };
            let mut length = crate::render::MessageLength::new();
            let parts = crate::render::received_message_parts(
                message.topic.as_bytes(),
                message.payload,
                &mut length,
            );
            copy_from(&parts, offset, &mut chunk)
        };
        if count == 0 {
            break;
        }
        tx.write_all(&chunk[..count]).await?;
        offset += count;
    }
    tx.flush().await
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

/// Writes the outbox entries queued before the held message (all of them without one); true
/// if output is left behind a held message.
async fn write_ahead_of_held<T: Write>(
    mqtt: &MqttShared<'_>,
    tx: &mut T,
) -> Result<bool, T::Error> {
    loop {
        if mqtt.held_position.get() == Some(0) {
            return Ok(!mqtt.outbox.borrow().is_empty());
        }
        if !write_entry(&mqtt.outbox, tx).await? {
            return Ok(false);
        }
        let held = &mqtt.held_position;
        held.set(held.get().map(|entries| entries.saturating_sub(1)));
    }
}

/// Writes the oldest entry of `queue` as one block, in pieces; false if it was empty.
async fn write_entry<const N: usize, T: Write>(
    queue: &RefCell<Outbox<N>>,
    tx: &mut T,
) -> Result<bool, T::Error> {
    let mut chunk = [0u8; CHUNK];
    let Some(mut left) = queue.borrow_mut().pop_length() else {
        return Ok(false);
    };
    // Nothing else takes from the queue until the entry is out: its writer holds the UART.
    while left > 0 {
        let count = queue.borrow_mut().take(&mut chunk[..left.min(CHUNK)]);
        if count == 0 {
            break;
        }
        tx.write_all(&chunk[..count]).await?;
        left -= count;
    }
    tx.flush().await?;
    Ok(true)
}

/// Takes the UART for the executor with every line queued before its output written.
pub(super) async fn lock_drained<'s, T: Write>(
    output: &'s UartLock<&'s mut T>,
    mqtt: &MqttShared<'_>,
) -> Result<UartGuard<'s, &'s mut T>, T::Error> {
    loop {
        let mut tx = output.lock(Contender::Executor).await;
        if !write_ahead_of_held(mqtt, &mut **tx).await? {
            return Ok(tx);
        }
        // A line older than ours waits behind a held message: let the service write it.
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
