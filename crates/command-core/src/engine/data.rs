//! The data phase of AT+TCMQTTPUBL / AT+TCMQTTPUBRAW (`at-engine.md` §7) as the executor runs
//! it, and the discard that may follow an aborted one.
//!
//! The framer counts the bytes and matches the terminator and `+++\r\n`; the executor owns the
//! time: the 20 s inactivity timer restarted by every payload byte, the 1 s grace for the
//! terminator, and the 1 s of silence that ends a discard. All of them are deadlines on the
//! board's [`Clock`], so tests drive them with a manual clock. The executor is not woken by
//! every read: the receiver notes when each read arrived and wakes it only for bytes that can
//! end the phase (`Framer::receive`); the inactivity timer is restarted lazily, when it fires
//! and finds bytes that waited in the framer, from the arrival the receiver noted.
//!
//! The UART stays held from the prompt to the phase's end: URCs queue in the outbox meanwhile
//! and come out, in order, right after it (§9 rule 2), before the command's result line.

use at_parser::{DataAbort, DataKind, DataStatus};
use embassy_futures::select::{select, Either};
use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;

use super::jobs::Slot;
use super::{Executor, Next};
use crate::board::{Clock, Network, Wifi};
use crate::handlers::publish_data::neutralise;
use crate::handlers::{request_topic, DataJob, Step};
use crate::mqtt::Request;
use crate::state::RamState;

/// The work buffer (`MqttShared`'s `data`) with certificates: AT+TCCERTADD's data phase and
/// AT+TCCERTCHECK take a whole 4 KiB certificate. A publish's payload never goes there: it is
/// written into the session's payload area (`mqtt_session::session::Session::payload_area`).
#[cfg(feature = "certificates")]
pub(crate) const DATA_MAX: usize = storage::CERTIFICATE_SIZE_MAX;
/// The work buffer (`MqttShared`'s `data`) without certificates: the size of the longest OTA
/// GET request (its fixed part and a 512-byte URL) from when the GET was composed here; what
/// takes all of it now is dynamic registration's exchange (`registration.rs`: the reply's body
/// in front of a 256-byte receive piece). The OTA transfer keeps an attempt's URL at its front
/// until the GET is written in parts from there (`ota_state`), then reads the socket and
/// hashes the image through all of it. A publish's payload never goes there: it is written
/// into the session's payload area.
#[cfg(not(feature = "certificates"))]
pub(crate) const DATA_MAX: usize = ota::http::REQUEST_OVERHEAD + crate::ota_state::URL_MAX;
/// Inactivity timeout of a data phase, restarted by every received payload byte (§7.4).
const INACTIVITY_MS: u64 = 20_000;
/// Time allowed for the `\r\n` after a publish payload (§7.5).
const TERMINATOR_GRACE_MS: u64 = 1_000;
/// Silence that ends the discard after an aborted terminator (§7.5).
const DISCARD_SILENCE_MS: u64 = 1_000;

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Enters data mode, writes the acceptance block (ending in `>\r\n`), reads the payload
    /// with the UART held, then either ends the command with `+CME ERROR:204` or releases the
    /// held URCs and runs the step's job (in the slot).
    pub(super) async fn run_data_phase(
        &mut self,
        state: &mut RamState,
        len: usize,
        kind: DataKind,
    ) -> Next {
        // Data mode starts before the prompt is written (§7.1): bytes already buffered behind
        // the barrier are the start of the payload.
        self.shared.framer.borrow_mut().begin_data(len, kind);
        self.entered_data = true;
        if let Next::Exit(exit) = self.flush_reply().await {
            return Next::Exit(exit);
        }
        match self.read_payload(len, kind).await {
            // A certificate ended by Ctrl+Z before any byte would be an empty file, outside
            // 1..4096: answered like an aborted phase (docs/decisions.md).
            Ok(0) if kind == DataKind::Certificate => {
                self.mqtt.session.borrow_mut().release_payload_area();
                self.reply.cme(204);
                let next = self.flush_reply().await;
                self.held = None;
                next
            }
            Ok(received) => {
                // Held URCs go out now, ahead of the job's result line (`urc.md` §7 rule 10).
                self.held = None;
                self.run_data_job(state, received).await
            }
            Err(_abort) => {
                self.mqtt.session.borrow_mut().release_payload_area();
                // The late CME is the command's final output; held URCs follow it.
                self.reply.cme(204);
                let next = self.flush_reply().await;
                self.held = None;
                next
            }
        }
    }

    /// Feeds the framer's data phase until it completes or aborts; returns the payload length.
    ///
    /// A publish's payload goes straight into the session's payload area, where its PUBLISH
    /// will be encoded around it (`style.md` 13). Packets the service writes meanwhile (acks,
    /// pings, a reconnect's CONNECT) go in front of the area. If unsent bytes still occupy the
    /// area, the payload is read and dropped and the publish fails like one that does not fit
    /// (`FAIL,204`, docs/decisions.md).
    async fn read_payload(&mut self, len: usize, kind: DataKind) -> Result<usize, DataAbort> {
        if kind == DataKind::Publish {
            let _ = self.mqtt.session.borrow_mut().payload_area(len);
        }
        let mut received = 0;
        // Measured from the prompt (§7.4): bytes that came before it count as arriving now.
        let start = self.clock.now_ms();
        self.shared.last_input.set(start as u32);
        let mut deadline = start + INACTIVITY_MS;
        let mut expired = false;
        loop {
            let status = self.poll_data(len, kind);
            // The payload taken made room in the framer for the receiver's next bytes.
            self.mqtt.receiver_room.raise();
            match status {
                DataStatus::Complete { len } => return Ok(len),
                DataStatus::Aborted(abort) => return Err(abort),
                DataStatus::NeedMore { received: now } if now != received => {
                    received = now;
                    expired = false;
                    let payload_done = kind == DataKind::Publish && received == len;
                    // From the arrival of the last read, not from this poll: plain payload
                    // bytes wait in the framer until the timer fires (the receiver wakes
                    // this loop only for bytes that can end the phase), and restart it from
                    // when they came. The payload's last byte always wakes it, so the
                    // terminator's grace runs from that byte.
                    let now = self.clock.now_ms();
                    let ago = (now as u32).wrapping_sub(self.shared.last_input.get());
                    deadline = now - u64::from(ago)
                        + if payload_done {
                            TERMINATOR_GRACE_MS
                        } else {
                            INACTIVITY_MS
                        };
                }
                DataStatus::NeedMore { .. } if expired => {
                    self.shared.framer.borrow_mut().abort_data();
                    return Err(DataAbort::Timeout);
                }
                DataStatus::NeedMore { .. } => {}
            }
            // A timer that fires is checked against one more poll: bytes that arrived before
            // it restart it from their arrival (at once expired if they came 20 s ago).
            if let Either::Second(()) =
                select(self.shared.input.wait(), self.clock.sleep_until(deadline)).await
            {
                expired = true;
            }
        }
    }

    /// One step of the framer's data phase into the payload's buffer.
    #[cfg_attr(not(feature = "certificates"), allow(unused_variables))]
    fn poll_data(&self, len: usize, kind: DataKind) -> DataStatus {
        let mut framer = self.shared.framer.borrow_mut();
        #[cfg(feature = "certificates")]
        if kind == DataKind::Certificate {
            return framer.poll_data(&mut self.mqtt.data.borrow_mut()[..len.min(DATA_MAX)]);
        }
        let mut session = self.mqtt.session.borrow_mut();
        framer.poll_data(session.lent_payload_area().unwrap_or_default())
    }

    // `state` is only needed by AT+TCCERTADD.
    #[cfg_attr(not(feature = "certificates"), allow(unused_variables))]
    async fn run_data_job(&mut self, state: &mut RamState, len: usize) -> Next {
        let Slot::Step(Step::Data { then: job, .. }) = &self.slot else {
            return self.flush_reply().await;
        };
        match job {
            DataJob::Publish {
                name,
                topic,
                qos,
                neutralise: rewrite,
            } => {
                if *rewrite {
                    let mut session = self.mqtt.session.borrow_mut();
                    if let Some(payload) = session.lent_payload_area() {
                        neutralise(payload.get_mut(..len).unwrap_or_default());
                    }
                }
                self.send(Request::Publish {
                    name,
                    topic: request_topic(topic),
                    length: len,
                    qos: *qos,
                });
                self.outcome().await;
            }
            #[cfg(feature = "certificates")]
            DataJob::Certificate { name } => {
                let name = name.clone();
                self.store_certificate(state, &name, len).await
            }
        }
        // The result line is in the outbox, behind the URCs held during the phase.
        self.flush_reply().await
    }

    /// Waits for input while the framer discards after an aborted terminator, and ends the
    /// discard after 1 s without input (§7.5).
    pub(super) async fn wait_while_discarding(&mut self) -> Next {
        let silence = self.clock.now_ms() + DISCARD_SILENCE_MS;
        match select(self.shared.input.wait(), self.clock.sleep_until(silence)).await {
            // The receiver ran the discard over the new bytes; the caller looks again.
            Either::First(()) => Next::Continue,
            Either::Second(()) => {
                self.shared.framer.borrow_mut().finish_discard();
                self.reframe().await
            }
        }
    }
}
