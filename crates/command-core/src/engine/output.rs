//! The engine's writers to the UART: the URC writer loop and the block writes of the executor.
//!
//! Every write goes through one mutex, one whole block at a time (`at-engine.md` §9). The
//! outbox is drained by whoever takes the mutex outside a command block, so URCs and async
//! results come out in the order of their events and never inside a command's block.

use embedded_io_async::Write;

use super::Exit;
use crate::mqtt::{MqttShared, URC_MAX};
use crate::wake::{Contender, UartGuard, UartLock};

/// The URC writer loop.
pub(super) async fn write_urcs<T: Write>(mqtt: &MqttShared<'_>, output: &UartLock<&mut T>) -> Exit {
    loop {
        mqtt.urc_ready.wait().await;
        let mut tx = output.lock(Contender::Service).await;
        if drain_outbox(mqtt, &mut **tx).await.is_err() {
            return Exit::UartClosed;
        }
    }
}

/// Writes every queued outbox entry, one block each; the caller holds the output mutex.
pub(super) async fn drain_outbox<T: Write>(
    mqtt: &MqttShared<'_>,
    tx: &mut T,
) -> Result<(), T::Error> {
    let mut buffer = [0u8; URC_MAX];
    loop {
        let Some(length) = mqtt.outbox.borrow_mut().pop_into(&mut buffer) else {
            return Ok(());
        };
        write_block(tx, &buffer[..length]).await?;
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
    let mut tx = output.lock(Contender::Executor).await;
    drain_outbox(mqtt, &mut **tx).await?;
    if bytes.is_empty() {
        return Ok(());
    }
    write_block(&mut **tx, bytes).await
}

pub(super) async fn write_block<T: Write>(tx: &mut T, bytes: &[u8]) -> Result<(), T::Error> {
    tx.write_all(bytes).await?;
    tx.flush().await
}
