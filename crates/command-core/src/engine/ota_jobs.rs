//! The executor's OTA runner (`cloud.md` §4): the update state machine's events and the
//! download (the commands themselves are in `ota_commands.rs`).
//!
//! Why the executor runs the download: it owns the flash (`Settings`), and the download is IO
//! between commands. While no line waits, [`Executor::wait_line`] drains the machine's events
//! (reports, URCs, records, the GET) and waits for whichever comes first: a line, the
//! service's wake-up (a message on `$ota/update/…`, a drop), the socket's bytes or a timer
//! (the 1 s retry, the 20 s stall). Received bytes are written to flash before the next line
//! is taken, so a command never cuts a flash write; a long command only delays the reading
//! (the socket buffers, the server waits). A module self-update (`cloud.md` §4.7) runs the
//! same way; its valid image ends in the machine's reboot event, which waits 2 s and makes
//! [`Executor::wait_line`] end the run with a reboot.
//!
//! Memory: no buffer of its own. The URL of an attempt waits at the front of the executor's
//! work buffer (`MqttShared`'s `data`; a buffer of its own with `certificates`, `ota_state`)
//! until the GET, which is written in its parts from there; then the socket's bytes and the
//! hashing use the work buffer. Only the executor fills it, for the command it runs, while the
//! runner uses it only between commands and keeps nothing in it from one wake-up to the next
//! except the URL (DL keeps the commands that use the buffer out meanwhile); the reports are
//! written on the stack (`ota_reports.rs`, at most [`ota::MAXIMUM_REPORT_LENGTH`] bytes, never
//! across an await).

use embassy_futures::select::{select, select3, select4, Either, Either3, Either4};
use embedded_io_async::{Read, Write};
use embedded_storage_async::nor_flash::{MultiwriteNorFlash, NorFlash};
use mqtt_session::session::SlotKind;
use ota::http::{range_request_parts, RangeDownload, RequestDigits, Url, STALL_TIMEOUT_MS};
use ota::{Event, Failure, ImageDigest, StoredImage, REBOOT_DELAY_MS};
use storage::{FirmwareWriter, Settings, Snapshot};

use super::jobs::Slot;
use super::Executor;
use crate::board::{Clock, Network, Profile, Wifi};
use crate::fmt::warning;
use crate::mqtt::{MqttShared, TOPIC_MAX};
use crate::ota_state::{topic, OtaShared, SERVICE_DOWN_TOPIC, UPDATE_TOPIC};
use crate::state::RamState;

/// One running GET of the image.
pub(crate) struct Download<S> {
    stream: S,
    transfer: RangeDownload,
    writer: FirmwareWriter,
}

/// The IO an event of the OTA machine needs, awaited by the drain (`Executor::drain_ota`).
#[derive(Clone, Copy)]
enum OtaIo {
    /// Write the firmware record in the executor's slot.
    StoreRecord,
    /// Erase the firmware record.
    ClearImage,
    /// Send the GET for `offset..size`.
    Fetch { offset: u32, size: u32 },
    /// Hash the stored bytes `0..size`.
    Verify { size: u32 },
    /// Wait for the reports to leave, then reboot.
    Reboot,
}

/// What ended the executor's idle wait besides a line.
enum Woken {
    /// The service fed the machine.
    Machine,
    /// A deadline: the machine's timers or the transfer's stall.
    Timer,
    /// Bytes of the download socket in the data buffer (0: it closed).
    Received(usize),
}

/// Boot: the firmware record's mirror and the largest image the module takes.
pub(super) async fn boot<F: NorFlash>(
    ota: &OtaShared,
    settings: &mut Settings<F>,
    snapshot: &Snapshot,
) {
    let module_max = snapshot.module.clone().unwrap_or_default().fw_max;
    let area = settings.firmware_capacity().unwrap_or(0);
    ota.max_size.set(module_max.min(area));
    let record = settings.firmware().await.unwrap_or_else(|_| {
        warning!("firmware record unreadable");
        None
    });
    *ota.record.borrow_mut() = record.as_ref().map(StoredImage::from);
}

/// `$ota/…/<pid>/<dn>` of the stored device.
pub(super) fn device_topic(state: &RamState, prefix: &str) -> Option<heapless::String<TOPIC_MAX>> {
    let device = state.settings.device.as_ref()?;
    topic(prefix, &device.product_id, &device.device_name)
}

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    /// Waits for the next line, running the OTA update and provisioning meanwhile; `true`
    /// when a valid module image asks for the reboot into it instead.
    // An `async` block, not an `async fn`: the arguments are kept once (its frames end in a
    // flash write, the deepest path the executor has).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn wait_line<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = bool> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            loop {
                self.drain_ota(state).await;
                if self.mqtt.ota.reboot.take() {
                    return true;
                }
                // Work a command queued for the provisioning machine (a join closing the log AP).
                self.drive_provisioning(state).await;
                // The host session's LED, changed while waiting.
                self.show_led();
                let shared = self.shared;
                let (mqtt, clock) = (self.mqtt, self.clock);
                let ota = Self::ota_input(mqtt, clock, &mut self.download);
                let provisioning =
                    Self::provisioning_input(self.module.wifi, &self.provisioning, mqtt, clock);
                let led = mqtt.led_wake.wait();
                match select4(shared.line_ready.wait(), ota, provisioning, led).await {
                    Either4::First(()) => return false,
                    Either4::Second(Woken::Received(count)) => self.receive_image(count).await,
                    Either4::Second(Woken::Timer) => self.check_stall(),
                    Either4::Second(Woken::Machine) => {}
                    Either4::Third(woken) => {
                        let radio = self.provisioning_woken(state, woken);
                        let router =
                            radio.and_then(|(event, now)| self.radio_event(state, event, now));
                        if let Some(step) = router {
                            self.router_received(state, step).await;
                        }
                        self.drive_provisioning(state).await;
                    }
                    Either4::Fourth(()) => {}
                }
            }
        }
    }

    /// The machine's wake-up, a deadline or the socket's next bytes.
    // The data buffer stays borrowed across the socket read: the executor is its only user
    // while it waits here (the service reads it only while serving the executor's publish).
    #[allow(clippy::await_holding_refcell_ref)]
    async fn ota_input(
        mqtt: &MqttShared<'_>,
        clock: &C,
        download: &mut Option<Download<N::Stream>>,
    ) -> Woken {
        let machine = mqtt.ota.machine.borrow().next_deadline();
        let stall = download
            .as_ref()
            .map(|download| download.transfer.deadline_ms());
        let deadline = match (machine, stall) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timer = async move {
            match deadline {
                Some(at) => clock.sleep_until(at).await,
                None => core::future::pending().await,
            }
        };
        let read = async {
            match download.as_mut() {
                Some(download) => {
                    let mut buffer = mqtt.data.borrow_mut();
                    download.stream.read(&mut buffer[..]).await.unwrap_or(0)
                }
                None => core::future::pending().await,
            }
        };
        match select3(mqtt.ota.wake.wait(), timer, read).await {
            Either3::First(()) => Woken::Machine,
            Either3::Second(()) => Woken::Timer,
            Either3::Third(count) => Woken::Received(count),
        }
    }

    /// Fails the transfer once it stalled for 20 s.
    fn check_stall(&mut self) {
        let now = self.clock.now_ms();
        let Some(download) = &self.download else {
            return;
        };
        if let Err(error) = download.transfer.check_stall(now) {
            self.download = None;
            self.mqtt
                .ota
                .machine
                .borrow_mut()
                .fetch_failed(Failure::Http(error), now);
        }
    }

    /// Writes the image bytes among `count` received bytes to flash.
    async fn receive_image(&mut self, count: usize) {
        let now = self.clock.now_ms();
        let Some(mut download) = self.download.take() else {
            return;
        };
        match self.store_image(&mut download, count, now).await {
            Ok(false) => self.download = Some(download),
            Ok(true) => {}
            Err(failure) => self
                .mqtt
                .ota
                .machine
                .borrow_mut()
                .fetch_failed(failure, now),
        }
    }

    /// Feeds the transfer and programs what it hands back; `Ok(true)` once the image is whole.
    // The data buffer is read across the flash writes; nobody else uses it meanwhile.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn store_image(
        &mut self,
        download: &mut Download<N::Stream>,
        count: usize,
        now: u64,
    ) -> Result<bool, Failure> {
        let mqtt = self.mqtt;
        let settings = &mut *self.module.settings;
        if count == 0 {
            download.transfer.closed().map_err(Failure::Http)?;
        }
        let data = mqtt.data.borrow();
        let mut position = 0;
        while position < count {
            let chunk = download
                .transfer
                .feed(&data[position..count], now)
                .map_err(Failure::Http)?;
            position += chunk.consumed;
            if !chunk.data.is_empty() {
                settings
                    .write_firmware(&mut download.writer, chunk.data)
                    .await
                    .map_err(|_| Failure::Flash)?;
                let stored = download.writer.stored();
                mqtt.ota.machine.borrow_mut().progress(stored, now);
            }
            if chunk.complete {
                settings
                    .finish_firmware(&mut download.writer)
                    .await
                    .map_err(|_| Failure::Flash)?;
                mqtt.ota.machine.borrow_mut().fetch_complete(now);
                return Ok(true);
            }
            if chunk.consumed == 0 {
                break;
            }
        }
        Ok(false)
    }

    /// Acts on every queued event of the machine, in order.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies between
    // the idle wait or AT+TCOTASET and a flash write).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn drain_ota<'e>(
        &'e mut self,
        state: &'e RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            loop {
                let now = self.clock.now_ms();
                let event = self.mqtt.ota.machine.borrow_mut().poll(now);
                let Some(event) = event else {
                    return;
                };
                // The event is carried out synchronously; only its IO is awaited, here, with
                // nothing of the event kept but its numbers.
                match self.ota_event(state, event, now) {
                    None => {}
                    Some(OtaIo::StoreRecord) => self.store_firmware_record(now).await,
                    Some(OtaIo::ClearImage) => {
                        if self.module.settings.erase_firmware().await.is_err() {
                            warning!("firmware record not erased");
                        }
                        *self.mqtt.ota.record.borrow_mut() = None;
                    }
                    Some(OtaIo::Fetch { offset, size }) => {
                        if let Err(failure) = self.fetch(offset, size, now).await {
                            let now = self.clock.now_ms();
                            self.mqtt
                                .ota
                                .machine
                                .borrow_mut()
                                .fetch_failed(failure, now);
                        }
                    }
                    Some(OtaIo::Verify { size }) => self.verify(size).await,
                    Some(OtaIo::Reboot) => {
                        // `UPDATERESET` and the reports are queued; they leave meanwhile.
                        self.clock.sleep_until(now + REBOOT_DELAY_MS).await;
                        self.mqtt.ota.reboot.set(true);
                    }
                }
            }
        }
    }

    /// Carries out one event of the machine, but for its IO, which it hands back.
    fn ota_event(&mut self, state: &RamState, event: Event, now: u64) -> Option<OtaIo> {
        let ota = &self.mqtt.ota;
        match event {
            Event::Publish(report) => self.publish_report(state, report, now),
            Event::Status(status) => self.ota_status(status),
            Event::BeginImage | Event::Checkpoint { .. } | Event::CompleteImage => {
                // The record goes to flash from the executor's slot (`jobs::Slot`): AT+TCOTASET's
                // drain no longer needs its step there.
                let record = ota.machine.borrow().firmware_record(
                    &event,
                    ota.max_size.get(),
                    ota.resource_name().as_bytes(),
                )?;
                self.slot = Slot::Firmware(record);
                return Some(OtaIo::StoreRecord);
            }
            Event::ClearImage => return Some(OtaIo::ClearImage),
            Event::Fetch { offset, size } => return Some(OtaIo::Fetch { offset, size }),
            Event::Abort => self.download = None,
            Event::Verify { size } => return Some(OtaIo::Verify { size }),
            Event::Unsubscribe => {
                for prefix in [UPDATE_TOPIC, SERVICE_DOWN_TOPIC] {
                    if let Some(filter) = device_topic(state, prefix) {
                        // Errors are ignored (`commands.md` §5): a link that is down has no
                        // subscription to remove, and the session end clears the slot.
                        let _ = self.mqtt.session.borrow_mut().unsubscribe(
                            SlotKind::Internal,
                            &filter,
                            now,
                        );
                    }
                }
                self.mqtt.service_wake.raise();
            }
            Event::Reboot => return Some(OtaIo::Reboot),
            _ => {}
        }
        None
    }

    /// Stores the firmware record `ota_event` put into the slot and mirrors it; a record that
    /// cannot be stored fails the transfer.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies
    // between the OTA drain and a flash write).
    #[allow(clippy::manual_async_fn)]
    fn store_firmware_record(
        &mut self,
        now: u64,
    ) -> impl core::future::Future<Output = ()> + use<'_, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            let ota = &self.mqtt.ota;
            if self.store_slot().await {
                if let Slot::Firmware(record) = &self.slot {
                    *ota.record.borrow_mut() = Some(StoredImage::from(record));
                }
            } else {
                warning!("firmware record not stored");
                ota.machine.borrow_mut().fetch_failed(Failure::Flash, now);
            }
            self.slot = Slot::Empty;
        }
    }

    /// Opens the connection to the kept URL and sends the GET for `offset..size`, written in
    /// its parts from where the URL lies (`ota_state`: the URL is needed for this one GET).
    ///
    /// `https://` URLs go over the board's server-authenticated TLS on the `full` profile;
    /// boards without it fetch them as `http://` on port 80 (`cloud.md` §4.5; the MD5
    /// protects the image).
    // The URL stays borrowed across the connect and the GET: the service writes it only while
    // the machine listens, and it is downloading now; the download reads into the work buffer
    // only once this returned. The network is shared with the service, which opens links only
    // across a drop (`mqtt::service`).
    #[allow(clippy::await_holding_refcell_ref)]
    async fn fetch(&mut self, offset: u32, size: u32, now: u64) -> Result<(), Failure> {
        let mqtt = self.mqtt;
        let clock = self.clock;
        let url_copy = mqtt.ota.take_url(&mqtt.data).ok_or(Failure::Connection)?;
        let url = Url::parse(&url_copy).map_err(|_| Failure::Connection)?;
        let secure = url.secure && self.module.board.profile == Profile::Full;
        let url = if secure { url } else { url.downgraded() };
        let mut stream = {
            let Ok(mut network) = self.network.try_borrow_mut() else {
                return Err(Failure::Connection);
            };
            let connect = async {
                if secure {
                    network.connect_tls(url.host, url.port).await
                } else {
                    network.connect(url.host, url.port).await
                }
            };
            match select(connect, clock.sleep_until(now + STALL_TIMEOUT_MS)).await {
                Either::First(Ok(stream)) => stream,
                _ => return Err(Failure::Connection),
            }
        };
        // One part at a time: the array of the parts is not kept across the writes.
        let mut digits = RequestDigits::default();
        for index in 0.. {
            let Some(part) = range_request_parts(&url, offset, size, &mut digits)
                .get(index)
                .copied()
            else {
                break;
            };
            stream
                .write_all(part)
                .await
                .map_err(|_| Failure::Connection)?;
        }
        stream.flush().await.map_err(|_| Failure::Connection)?;
        self.download = Some(Download {
            stream,
            transfer: RangeDownload::new(offset, size, clock.now_ms()),
            writer: FirmwareWriter::resume(offset),
        });
        Ok(())
    }

    /// Hashes stored bytes `0..size` and hands the digest to the machine.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn verify(&mut self, size: u32) {
        let mqtt = self.mqtt;
        let mut digest = ImageDigest::new();
        let mut data = mqtt.data.borrow_mut();
        let mut offset = 0;
        while offset < size {
            let count = (size - offset).min(data.len() as u32);
            let piece = &mut data[..count as usize];
            if self
                .module
                .settings
                .read_firmware(offset, piece)
                .await
                .is_err()
            {
                let now = self.clock.now_ms();
                mqtt.ota
                    .machine
                    .borrow_mut()
                    .fetch_failed(Failure::Flash, now);
                return;
            }
            digest.update(piece);
            offset += count;
        }
        mqtt.ota
            .machine
            .borrow_mut()
            .image_checked(&digest.finish());
    }
}
