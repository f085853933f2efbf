//! The OTA commands after their handlers (`commands.md` §5): AT+TCOTASET's subscription,
//! version report or abort, AT+TCOTASET? and AT+TCFWINFO? from the shared state, and
//! AT+TCREADFWDATA's next block of the cached MCU image, as raw bytes, streamed from flash.
//!
//! AT+TCREADFWDATA's block is written under the UART lock the command holds, in pieces of the
//! reply block (empty between the block's header and its final `\r\n`), never staged whole and
//! never in the work buffer, which may hold the URL of an update that starts meanwhile
//! (`ota_state`). The first piece is read before any byte is written, so a flash error is still
//! a clean `CME(207)`.

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use mqtt_session::codec::QoS;
use mqtt_session::session::SlotKind;
use ota::{FirmwareState, Report, Version};

use super::jobs::Slot;
use super::ota_jobs::device_topic;
use super::{Executor, Next};
use crate::board::{Clock, Network, Wifi};
use crate::fmt::warning;
use crate::handlers::{Job, Step};
use crate::mqtt::{Outcome, Request};
use crate::ota_state::{REPORT_TOPIC, SERVICE_DOWN_TOPIC, UPDATE_TOPIC};
use crate::state::RamState;

/// `+TCOTASET:FAIL,209`: the subscription or the version report failed.
const OTA_SETUP_FAILED: i32 = 209;

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    /// Checks 2–5 and the block; `length` is `None` when `<len>` failed check 4.
    ///
    /// The image goes out in pieces through the reply block, which is empty between the
    /// block's header and its final `\r\n`: the work buffer may hold the URL of an update
    /// that starts meanwhile (`ota_state`). The first piece is read once ahead of the header,
    /// so that a flash error is still a `CME(207)`.
    pub(super) async fn read_firmware(&mut self, length: Option<u16>) -> Next {
        let ota = &self.mqtt.ota;
        let size = match ota.record.borrow().as_ref() {
            None => Err(207),
            Some(record) if record.state != FirmwareState::McuValid => Err(208),
            Some(record) if record.size == 0 => Err(205),
            Some(record) => Ok(record.size),
        };
        let offset = ota.read_offset.get();
        let checked = size
            .and_then(|size| if offset >= size { Err(208) } else { Ok(size) })
            .and_then(|size| length.map(|length| (size, length)).ok_or(204));
        let (size, length) = match checked {
            Ok(values) => values,
            Err(code) => {
                self.reply.cme(code);
                return self.flush_reply().await;
            }
        };
        let count = u32::from(length).min(size - offset);
        let first = self.reply.piece(count as usize);
        if self
            .module
            .settings
            .read_firmware(offset, first)
            .await
            .is_err()
        {
            self.reply.clear();
            self.reply.cme(207);
            return self.flush_reply().await;
        }
        self.reply.clear();
        self.reply.accepted();
        // The line goes on with the raw bytes and ends after them, not here.
        let _ = self
            .reply
            .line()
            .text("+TCREADFWDATA:")
            .int(count)
            .text(",");
        if let Next::Exit(exit) = self.flush_reply().await {
            return Next::Exit(exit);
        }
        let mut sent = 0u32;
        while sent < count {
            let piece = self.reply.piece((count - sent) as usize);
            let piece_length = piece.len() as u32;
            let read = self
                .module
                .settings
                .read_firmware(offset + sent, piece)
                .await;
            if read.is_err() {
                // Too late for an error line: the block ends short, and the host, which
                // frames by `<n>`, times out on it.
                warning!("firmware read failed inside a block");
                break;
            }
            if let Next::Exit(exit) = self.flush_reply().await {
                return Next::Exit(exit);
            }
            sent += piece_length;
        }
        self.mqtt.ota.read_offset.set(offset + sent);
        self.reply.clear();
        self.reply.push(b"\r\n");
        self.flush_reply().await
    }

    /// AT+TCOTASET after its `OK\r\n`, its step in the slot.
    ///
    /// The version is read from the step wherever it is used, never copied into this frame:
    /// the drains below store firmware records through the slot (`ota_jobs`), the deepest
    /// wait a command has, so the step may be gone after a drain; nothing reads it then
    /// (the version is recorded in the machine ahead of the abort's drain: only AT+TCOTASET?
    /// reads it).
    // An `async` block, not an `async fn`: the arguments are kept once.
    #[allow(clippy::manual_async_fn)]
    pub(super) fn ota_set<'e>(
        &'e mut self,
        state: &'e RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            // `self.mqtt.ota` is named where used: a local reference kept across the waits
            // below would take its room beside the drain, the deepest wait of the command.
            let Some((enable, version)) = ota_set_step(&self.slot) else {
                return;
            };
            if !enable {
                {
                    let mut machine = self.mqtt.ota.machine.borrow_mut();
                    machine.disable();
                    // The step's version is 1..=32 bytes (checked when parsed).
                    let _ = machine.record_version(version);
                }
                // `UPDATEFAIL,208` of an aborted download goes out before the result line.
                self.drain_ota(state).await;
                self.reply.result_ok("TCOTASET");
                return;
            }
            if device_topic(state, UPDATE_TOPIC).is_none()
                || device_topic(state, REPORT_TOPIC).is_none()
            {
                self.reply.result_fail("TCOTASET", OTA_SETUP_FAILED);
                return;
            }
            if !self.mqtt.ota.machine.borrow().is_enabled() {
                let sent = device_topic(state, UPDATE_TOPIC)
                    .map(|update| {
                        self.send(Request::Subscribe {
                            filter: update,
                            qos: QoS::AtLeastOnce,
                            kind: SlotKind::Internal,
                        })
                    })
                    .is_some();
                if !sent || self.outcome().await == Outcome::Failed {
                    self.reply.result_fail("TCOTASET", OTA_SETUP_FAILED);
                    return;
                }
                // The resource channel of the module self-update (`cloud.md` §4.7): best effort,
                // QoS0, its SUBACK not awaited (a refusal or none changes nothing).
                if let Some(filter) = device_topic(state, SERVICE_DOWN_TOPIC) {
                    let now = self.clock.now_ms();
                    let subscribed = self.mqtt.session.borrow_mut().subscribe(
                        SlotKind::Internal,
                        &filter,
                        QoS::AtMostOnce,
                        now,
                    );
                    if subscribed.is_err() {
                        warning!("resource channel not subscribed");
                    }
                    self.mqtt.service_wake.raise();
                }
            }
            // Listening starts before the version report leaves: the cloud may answer it with
            // `update_firmware` in the same breath as the PUBACK.
            // The report is written where every publish payload is: the session's payload area,
            // where its PUBLISH is encoded around it. Without an area (unsent bytes in it) the
            // publish fails like one that does not fit.
            // The length in a scope of its own: a local of the block would keep its room
            // across the drain below, the deepest wait of the command.
            let sent = {
                let length = match ota_set_step(&self.slot) {
                    Some((_, version)) => {
                        // The version is recorded only once the command succeeded: a
                        // failed one leaves `?` showing the last recorded.
                        self.mqtt.ota.machine.borrow_mut().listen();
                        let mut session = self.mqtt.session.borrow_mut();
                        session
                            .payload_area(ota::MAXIMUM_REPORT_LENGTH)
                            .and_then(|area| ota::write_report(Report::Version, version, area).ok())
                            .unwrap_or(0)
                    }
                    None => 0,
                };
                device_topic(state, REPORT_TOPIC)
                    .map(|report| {
                        self.send(Request::Publish {
                            name: "",
                            topic: report,
                            length,
                            qos: QoS::AtLeastOnce,
                        })
                    })
                    .is_some()
            };
            if !sent || self.outcome().await == Outcome::Failed {
                self.mqtt.ota.machine.borrow_mut().disable();
                self.drain_ota(state).await;
                self.reply.result_fail("TCOTASET", OTA_SETUP_FAILED);
                return;
            }
            let now = self.clock.now_ms();
            self.publish_resource_report(state, Report::Version, now);
            if let Some((_, version)) = ota_set_step(&self.slot) {
                let _ = self.mqtt.ota.machine.borrow_mut().record_version(version);
            }
            self.reply.result_ok("TCOTASET");
        }
    }

    /// AT+TCOTASET?
    pub(super) fn ota_query(&mut self) {
        let machine = self.mqtt.ota.machine.borrow();
        self.reply
            .line()
            .text("+TCOTASET:")
            .int(u8::from(machine.is_enabled()))
            .text(",")
            .quoted(machine.mcu_version())
            .end();
        self.reply.ok();
    }

    /// AT+TCFWINFO? after its DL check: the valid MCU image's record, `OK` first.
    pub(super) fn firmware_info(&mut self, state: &RamState) {
        let ota = &self.mqtt.ota;
        let record = ota.record.borrow();
        match record.as_ref() {
            None => self.reply.cme(207),
            Some(record) if record.state != FirmwareState::McuValid => self.reply.cme(208),
            Some(record) => {
                ota.read_offset.set(0);
                self.reply.accepted();
                self.reply
                    .line()
                    .text("+TCFWINFO:")
                    .quoted(&record.version)
                    .text(",")
                    .int(record.size)
                    .text(",")
                    .quoted(&ota::to_hex(&record.md5))
                    .text(",")
                    .int(state.module().fw_max)
                    .end();
            }
        }
    }
}

/// AT+TCOTASET's `<enable>` and version, where they lie: the step in the slot.
fn ota_set_step(slot: &Slot) -> Option<(bool, &Version)> {
    match slot {
        Slot::Step(Step::Async(Job::OtaSet { enable, version })) => Some((*enable, version)),
        _ => None,
    }
}
