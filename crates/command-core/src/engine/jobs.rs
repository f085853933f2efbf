//! The executor's IO jobs: what a handler asked for after validating its line (flash writes,
//! station joins, reboots, MQTT requests), and the rest of the command's output.

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::{MultiwriteNorFlash, NorFlash};

use super::{Executor, Exit, Next};
use crate::board::{Clock, Network, Wifi};
use crate::fmt::warning;
use crate::handlers::certificates::partner;
use crate::handlers::module::module_line;
use crate::handlers::mqtt_link::subscription_line;
use crate::handlers::{Job, Step};
use crate::state::RamState;
use mqtt_session::session::SlotKind;

/// What the executor lends the job it runs: the command's step, or a record on its way to
/// flash that no step carries (the router a provisioning session received, the device record
/// a registration obtained, provisioning's error records, the OTA runner's firmware record).
///
/// It lives in the executor, not in the job's future: a value there would take its room in
/// every frame between the dispatch and the deepest wait, a flash write (sequential-storage's
/// futures, about 900 bytes, are the deepest the executor has). A job copies out the few
/// bytes it needs across a wait that needs the executor itself; a record to store replaces
/// the step once the job no longer reads it.
pub(super) enum Slot {
    Empty,
    Step(Step),
    Station(storage::WifiStation),
    Device(storage::DeviceInfo),
    Errors(storage::ProvisioningErrors),
    Firmware(storage::FirmwareInfo),
}

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    /// Writes the record in the slot to flash (the one place the records that no step
    /// carries are written from); true once stored. The slot keeps the record.
    // An `async` block, not an `async fn`: the receiver is kept once (this frame lies right
    // above the flash write).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn store_slot(
        &mut self,
    ) -> impl core::future::Future<Output = bool> + use<'_, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            let settings = &mut *self.module.settings;
            let stored = match &self.slot {
                Slot::Station(station) => settings.store_station(station).await,
                Slot::Device(device) => settings.store_device(device).await,
                Slot::Errors(errors) => settings.store_provisioning_errors(errors).await,
                Slot::Firmware(record) => settings.store_firmware(record).await,
                Slot::Empty | Slot::Step(_) => return false,
            };
            stored.is_ok()
        }
    }

    /// Runs the job of the step in the slot and completes its output.
    ///
    /// Records are cloned into the state after their write (the clone is not held across an
    /// await); a request is moved out into the mailbox.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies between
    // a command and its flash write).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn run_job<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = Next> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            let (Slot::Step(Step::Sync(job)) | Slot::Step(Step::Async(job))) = &mut self.slot
            else {
                return self.flush_reply().await;
            };
            match job {
                Job::ModuleQuery => {
                    match self.module.settings.module().await {
                        Ok(stored) => {
                            module_line(&mut self.reply, &stored.unwrap_or_default());
                            self.reply.ok();
                        }
                        // The flash failed since the write: nothing to show.
                        Err(_) => self.reply.error(),
                    }
                }
                Job::StoreDevice(_)
                | Job::StoreProduct(_)
                | Job::StoreModule(_)
                | Job::StoreWifiMode(_)
                | Job::Join { .. }
                | Job::RegisterNetwork(_) => self.settings_job(state).await,
                Job::Leave => return self.leave().await,
                Job::Reboot => {
                    return match self.flush_reply().await {
                        Next::Continue => Next::Exit(Exit::Reboot),
                        exit => exit,
                    };
                }
                Job::RestoreWifi => {
                    if self.module.settings.erase_wifi().await.is_err() {
                        self.reply.error();
                        return self.flush_reply().await;
                    }
                    self.reply.ok();
                    return match self.flush_reply().await {
                        Next::Continue => Next::Exit(Exit::Reboot),
                        exit => exit,
                    };
                }
                Job::Register => {
                    // The budget counts from the `OK`, written just before this job.
                    let started = self.clock.now_ms();
                    match self.register(state, started).await {
                        Ok(()) => self.reply.result_ok("TCDEVREG"),
                        Err(code) => self.reply.result_fail("TCDEVREG", code),
                    }
                }
                // Run by `execute`, one frame up.
                Job::OtaSet { .. } => {}
                Job::MqttConnect(parameters) => {
                    let parameters = *parameters;
                    self.connect(state, parameters).await
                }
                Job::Mqtt(_) => {
                    if let Job::Mqtt(request) = core::mem::replace(job, Job::MqttDisconnect) {
                        self.send(request.into());
                    }
                    self.outcome().await;
                }
                Job::ListSubscriptions => {
                    if let Some(exit) = self.write_list(Self::subscription_into_reply).await {
                        return Next::Exit(exit);
                    }
                }
                Job::Gateway(_) => {
                    if let Job::Gateway(request) = core::mem::replace(job, Job::MqttDisconnect) {
                        self.send(crate::mqtt::Request::Gateway(request));
                    }
                    self.outcome().await;
                }
                Job::ListOnline => {
                    if let Some(exit) = self.write_list(Self::online_entry_into_reply).await {
                        return Next::Exit(exit);
                    }
                }
                Job::OtaQuery => self.ota_query(),
                // Run by `execute`, one frame up.
                Job::ProvisionStart(_) | Job::ProvisionStop => {}
                Job::FirmwareInfo => self.firmware_info(state),
                Job::ReadFirmware(length) => {
                    let length = *length;
                    return self.read_firmware(length).await;
                }
                Job::MqttDisconnect => {
                    self.send(crate::mqtt::Request::Disconnect);
                    self.outcome().await;
                    self.reply.ok();
                }
                #[cfg(feature = "certificates")]
                Job::CheckCertificate(name) => {
                    let name = name.clone();
                    self.check_certificate(state, &name).await
                }
                #[cfg(feature = "certificates")]
                Job::DeleteCertificate(name) => {
                    let name = name.clone();
                    self.delete_certificate(state, &name).await
                }
                Job::RestoreCloud => {
                    // The command's final output (`OK\r\n`) is already written; a flash error
                    // cannot be reported any more, and the reboot shows what survived.
                    let settings = &mut *self.module.settings;
                    if settings.erase_cloud().await.is_err()
                        || settings.erase_certificates().await.is_err()
                    {
                        warning!("AT+TCRESTORE: erase failed");
                    }
                    return Next::Exit(Exit::Reboot);
                }
            }
            self.flush_reply().await
        }
    }
}

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    /// AT+CWQAP's job: a function of its own, so that what it keeps across the `OK` block's
    /// write (whether the station was joined) takes no room in `run_job`'s frames.
    async fn leave(&mut self) -> Next {
        let was_joined = self.module.wifi.leave().await;
        self.reply.ok();
        if let Next::Exit(exit) = self.flush_reply().await {
            return Next::Exit(exit);
        }
        if was_joined {
            self.reply.text_line("WIFI DISCONNECT");
        }
        self.flush_reply().await
    }

    /// The jobs that store a record or join a station: a function of their own, so that
    /// their borrows of the settings and the reply are not part of the longer jobs' state.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies between
    // a command and its flash write).
    #[allow(clippy::manual_async_fn)]
    fn settings_job<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            // The settings and the reply are reached through `self` where used, not kept in
            // locals: each local would take its own room beside the flash write's future.
            let (Slot::Step(Step::Sync(job)) | Slot::Step(Step::Async(job))) = &mut self.slot
            else {
                return;
            };
            match job {
                Job::StoreDevice(device) => {
                    // Step 8: a mode-2 record names a stored `<base>.crt` with its `<base>.key`.
                    if device.tls_mode == 2
                        && !identity_files_exist(self.module.settings, state, &device.secret).await
                    {
                        self.reply.result_fail("TCDEVINFOSET", 203);
                    } else {
                        let stored = state.settings.device.as_ref() == Some(&*device)
                            || self.module.settings.store_device(device).await.is_ok();
                        if stored {
                            state.settings.device = Some(device.clone());
                        }
                        self.reply.stored_result("TCDEVINFOSET", stored);
                    }
                }
                Job::StoreProduct(product) => {
                    let stored = state.settings.product.as_ref() == Some(&*product)
                        || self.module.settings.store_product(product).await.is_ok();
                    if stored {
                        state.settings.product = Some(product.clone());
                    }
                    self.reply.stored_result("TCPRDINFOSET", stored);
                }
                Job::StoreModule(info) => {
                    // The mirror is the record in effect; it equals the stored one unless a set
                    // since boot stored another (then the write compares with the flash).
                    let in_effect = state.settings.module.as_ref() == Some(&*info);
                    let stored = (in_effect && !state.module_pending)
                        || self.module.settings.store_module(info).await.is_ok();
                    if stored {
                        state.module_pending = !in_effect;
                    }
                    self.reply.stored_result("TCMODINFOSET", stored);
                }
                Job::StoreWifiMode(mode) => {
                    if state.settings.wifi_mode == Some(*mode)
                        || self.module.settings.store_wifi_mode(mode).await.is_ok()
                    {
                        state.settings.wifi_mode = Some(*mode);
                        self.reply.ok();
                    } else {
                        self.reply.error();
                    }
                }
                Job::Join { station, bssid } => {
                    // A station join ends the log softAP (`cloud.md` §6.7); the runner closes it
                    // before it next waits.
                    self.provisioning.machine.close_log_ap();
                    let wifi = &mut *self.module.wifi;
                    if wifi.association().is_some() {
                        self.reply.text_line("WIFI DISCONNECT");
                    }
                    match wifi.join(&station.ssid, &station.password, *bssid).await {
                        Ok(()) => {
                            self.reply.text_line("WIFI CONNECTED");
                            self.reply.text_line("WIFI GOT IP");
                            if state.settings.station.as_ref() != Some(&*station)
                                && self.module.settings.store_station(station).await.is_ok()
                            {
                                state.settings.station = Some(station.clone());
                            }
                            self.reply.ok();
                        }
                        Err(error) => {
                            self.reply.line().text("+CWJAP:").int(error.code()).end();
                            self.reply.error();
                        }
                    }
                }
                Job::RegisterNetwork(station) => {
                    let wifi = &mut *self.module.wifi;
                    if wifi.association().is_some() {
                        self.reply.text_line("WIFI DISCONNECT");
                    }
                    match wifi.join(&station.ssid, &station.password, None).await {
                        Ok(()) => {
                            self.reply.text_line("WIFI CONNECTED");
                            self.reply.text_line("WIFI GOT IP");
                            if state.settings.station.as_ref() != Some(&*station)
                                && self.module.settings.store_station(station).await.is_ok()
                            {
                                state.settings.station = Some(station.clone());
                            }
                            self.reply.result_ok("TCREGNET");
                        }
                        Err(error) => self.reply.result_fail("TCREGNET", i32::from(error.code())),
                    }
                }
                _ => {}
            }
        }
    }
}

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Renders the `index`th online sub-device's line (newest first) into the reply; false
    /// past the last. The list may change between two lines only through a re-online
    /// after a reconnect; each line is one whole entry.
    /// Writes a list (AT+TCMQTTSUB?'s subscriptions, AT+TCGWONLINE?'s sub-devices) one line
    /// per write inside the command's block (the UART stays held), then `OK`: a list may be
    /// larger than a reply block. `line_into_reply` puts line `index` into the reply and says
    /// false past the end.
    async fn write_list(&mut self, line_into_reply: fn(&mut Self, usize) -> bool) -> Option<Exit> {
        let mut index = 0;
        while line_into_reply(self, index) {
            if let Next::Exit(exit) = self.flush_reply().await {
                return Some(exit);
            }
            index += 1;
        }
        self.reply.ok();
        None
    }

    fn online_entry_into_reply(&mut self, index: usize) -> bool {
        let gateway = self.mqtt.gateway.borrow();
        let Some(subdevice) = gateway.online().newest_first().nth(index) else {
            return false;
        };
        let mut line = [0u8; ::gateway::MAXIMUM_ONLINE_ENTRY];
        let length = ::gateway::write_online_entry(subdevice, &mut line).unwrap_or(0);
        self.reply.push(&line[..length]);
        true
    }

    /// Renders the `index`th user subscription's line into the reply; false past the last.
    fn subscription_into_reply(&mut self, index: usize) -> bool {
        let session = self.mqtt.session.borrow();
        match session.subscriptions(SlotKind::User).get(index) {
            Some(slot) => {
                subscription_line(&mut self.reply, slot);
                true
            }
            None => false,
        }
    }
}

/// AT+TCDEVINFOSET step 8 with the table kept in RAM.
#[cfg(feature = "certificates")]
async fn identity_files_exist<F: NorFlash>(
    _: &mut storage::Settings<F>,
    state: &RamState,
    name: &[u8],
) -> bool {
    identity_files_in(&state.certificates, name)
}

/// AT+TCDEVINFOSET step 8 with the table read from flash (not kept in RAM without
/// `certificates`); an unreadable table has no files.
#[cfg(not(feature = "certificates"))]
async fn identity_files_exist<F: NorFlash>(
    settings: &mut storage::Settings<F>,
    _: &RamState,
    name: &[u8],
) -> bool {
    match settings.certificates().await {
        Ok(table) => identity_files_in(&table, name),
        Err(_) => false,
    }
}

/// AT+TCDEVINFOSET step 8 (`commands.md` §1): the certificate `name` ends in `.crt` and is
/// stored, and so is its key `<base>.key`.
fn identity_files_in(table: &storage::CertificateTable, name: &[u8]) -> bool {
    name.ends_with(b".crt")
        && table.contains(name)
        && partner(name).is_some_and(|key| table.contains(&key))
}
