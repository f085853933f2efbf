//! The OTA runner's outputs (`cloud.md` §4.2, §4.7, `urc.md` §4): the reports it publishes
//! straight into the session without waiting for their PUBACK (on `$ota/report/…`, or on the
//! resource channel `$thing/up/service/…` for a module self-update, both for a version
//! report), and the `+TCOTASTATUS` lines it queues for the URC writer.
//!
//! Every payload is written on the stack (at most [`ota::MAXIMUM_RESOURCE_REPORT_LENGTH`]
//! bytes) and handed to the session at once, never held across an await.

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use mqtt_session::codec::QoS;
use ota::{Report, Status};

use super::ota_jobs::device_topic;
use super::Executor;
use crate::board::{Clock, Network, Wifi};
use crate::fmt::warning;
use crate::ota_state::{REPORT_TOPIC, SERVICE_UP_TOPIC};
use crate::state::RamState;

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Publishes a report without waiting for its PUBACK: on `$ota/report/<pid>/<dn>`, or on
    /// the resource channel for a module self-update. A version report goes on both (the
    /// resource list with `<FWVER>`, `cloud.md` §4.7).
    pub(super) fn publish_report(&self, state: &RamState, report: Report, now: u64) {
        let ota = &self.mqtt.ota;
        if report == Report::Version || ota.machine.borrow().is_module_update() {
            self.publish_resource_report(state, report, now);
            if report != Report::Version {
                return;
            }
        }
        let Some(topic) = device_topic(state, REPORT_TOPIC) else {
            return;
        };
        let mut payload = [0u8; ota::MAXIMUM_REPORT_LENGTH];
        let written = self
            .mqtt
            .ota
            .machine
            .borrow()
            .write_report(report, &mut payload);
        let Ok(length) = written else {
            return;
        };
        let qos = if report.qos() == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let published =
            self.mqtt
                .session
                .borrow_mut()
                .publish(&topic, &payload[..length], qos, now);
        if published.is_err() {
            warning!("OTA report not sent");
        }
        self.mqtt.service_wake.raise();
    }

    /// Publishes `report` in its resource-channel form at QoS0 (best effort: never waited for).
    pub(super) fn publish_resource_report(&self, state: &RamState, report: Report, now: u64) {
        let ota = &self.mqtt.ota;
        let Some(topic) = device_topic(state, SERVICE_UP_TOPIC) else {
            return;
        };
        // `<FWVER>`: `QCloud_AT_<BOARD>_v<X.Y.Z>` (`commands.md` §0).
        let board = self.module.board;
        let mut firmware_version = heapless::String::<48>::new();
        let _ = core::fmt::write(
            &mut firmware_version,
            format_args!("QCloud_AT_{}_v{}", board.board, board.version),
        );
        let machine = ota.machine.borrow();
        let version = match report {
            Report::Version => Some(firmware_version.as_bytes()),
            _ => machine.target_version(),
        };
        let mut payload = [0u8; ota::MAXIMUM_RESOURCE_REPORT_LENGTH];
        let written = version.map(|version| {
            ota::write_resource_report(
                report,
                ota.resource_name().as_bytes(),
                version,
                &mut payload,
            )
        });
        drop(machine);
        let Some(Ok(length)) = written else {
            return;
        };
        let published = self.mqtt.session.borrow_mut().publish(
            &topic,
            &payload[..length],
            QoS::AtMostOnce,
            now,
        );
        if published.is_err() {
            warning!("resource report not sent");
        }
        self.mqtt.service_wake.raise();
    }

    /// Queues `+TCOTASTATUS:<status>` for the URC writer.
    pub(super) fn ota_status(&self, status: Status) {
        self.mqtt
            .outbox
            .borrow_mut()
            .push_status(crate::mqtt::Status::Ota(status));
        self.mqtt.output_ready.raise();
    }
}
