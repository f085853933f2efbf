//! The executor's IO jobs: what a handler asked for after validating its line (flash writes,
//! station joins, reboots, MQTT requests), and the rest of the command's output.

use embedded_io_async::Write;
use embedded_storage_async::nor_flash::{MultiwriteNorFlash, NorFlash};

use super::{Executor, Exit, Next};
use crate::board::{Clock, Network, Wifi};
use crate::fmt::warning;
use crate::handlers::certificates::partner;
use crate::handlers::mqtt_link::subscription_line;
use crate::handlers::{Job, Step};
use crate::state::RamState;
use mqtt_session::session::SlotKind;

/// A job whose waits are the engine's deepest (AT+TCOTASET drains the OTA machine,
/// AT+TCDEVREG runs the registration exchange) and whose data are a few bytes: taken out of
/// the command's step before it runs, so the step, as large as the largest job (an MQTT
/// request, a device record), is not part of its state.
pub(super) enum DeepJob {
    Register,
    OtaSet {
        enable: bool,
        version: ::ota::Version,
    },
}

impl DeepJob {
    /// The deep job of `step`, if it has one.
    pub(super) fn of(step: &Step) -> Option<Self> {
        match step {
            Step::Async(Job::Register) => Some(Self::Register),
            Step::Async(Job::OtaSet { enable, version }) => Some(Self::OtaSet {
                enable: *enable,
                version: version.clone(),
            }),
            _ => None,
        }
    }
}

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Runs a [`DeepJob`] and completes its output (lent, like [`Self::run_job`]'s).
    pub(super) async fn run_deep_job(&mut self, state: &mut RamState, job: &DeepJob) -> Next {
        match job {
            DeepJob::Register => {
                // The budget counts from the `OK`, written just before this job.
                let started = self.clock.now_ms();
                match self.register(state, started).await {
                    Ok(()) => self.reply.result_ok("TCDEVREG"),
                    Err(code) => self.reply.result_fail("TCDEVREG", code),
                }
            }
            DeepJob::OtaSet { enable, version } => self.ota_set(state, *enable, version).await,
        }
        self.flush_reply().await
    }

    /// Runs a handler's IO job and completes its output.
    ///
    /// The job is lent, not moved: an async fn's argument is stored twice in its future.
    /// Records are cloned into the state after their write (the clone is not held across an
    /// await); a request is moved out into the mailbox.
    pub(super) async fn run_job(&mut self, state: &mut RamState, job: &mut Job) -> Next {
        let settings = &mut *self.module.settings;
        let reply = &mut self.reply;
        match job {
            Job::StoreDevice(device) => {
                // Step 8: a mode-2 record names a stored `<base>.crt` with its `<base>.key`.
                if device.tls_mode == 2
                    && !identity_files_exist(settings, state, &device.secret).await
                {
                    reply.result_fail("TCDEVINFOSET", 203);
                } else if state.settings.device.as_ref() == Some(&*device)
                    || settings.store_device(device).await.is_ok()
                {
                    state.settings.device = Some(device.clone());
                    reply.result_ok("TCDEVINFOSET");
                } else {
                    reply.result_fail("TCDEVINFOSET", 207);
                }
            }
            Job::StoreProduct(product) => {
                if state.settings.product.as_ref() == Some(&*product)
                    || settings.store_product(product).await.is_ok()
                {
                    state.settings.product = Some(product.clone());
                    reply.result_ok("TCPRDINFOSET");
                } else {
                    reply.result_fail("TCPRDINFOSET", 207);
                }
            }
            Job::StoreModule(info) => {
                if state.settings.module.as_ref() == Some(&*info)
                    || settings.store_module(info).await.is_ok()
                {
                    state.settings.module = Some(info.clone());
                    reply.result_ok("TCMODINFOSET");
                } else {
                    reply.result_fail("TCMODINFOSET", 207);
                }
            }
            Job::StoreWifiMode(mode) => {
                let mode = *mode;
                if state.settings.wifi_mode == Some(mode)
                    || settings.store_wifi_mode(mode).await.is_ok()
                {
                    state.settings.wifi_mode = Some(mode);
                    reply.ok();
                } else {
                    reply.error();
                }
            }
            Job::Join { station, bssid } => {
                // A station join ends the log softAP (`cloud.md` §6.7); the runner closes it
                // before it next waits.
                self.provisioning.machine.close_log_ap();
                let wifi = &mut *self.module.wifi;
                if wifi.association().is_some() {
                    reply.text_line("WIFI DISCONNECT");
                }
                match wifi.join(&station.ssid, &station.password, *bssid).await {
                    Ok(()) => {
                        reply.text_line("WIFI CONNECTED");
                        reply.text_line("WIFI GOT IP");
                        if state.settings.station.as_ref() != Some(&*station)
                            && settings.store_station(station).await.is_ok()
                        {
                            state.settings.station = Some(station.clone());
                        }
                        reply.ok();
                    }
                    Err(error) => {
                        reply.line().text("+CWJAP:").int(error.code()).end();
                        reply.error();
                    }
                }
            }
            Job::RegisterNetwork(station) => {
                let wifi = &mut *self.module.wifi;
                if wifi.association().is_some() {
                    reply.text_line("WIFI DISCONNECT");
                }
                match wifi.join(&station.ssid, &station.password, None).await {
                    Ok(()) => {
                        reply.text_line("WIFI CONNECTED");
                        reply.text_line("WIFI GOT IP");
                        if state.settings.station.as_ref() != Some(&*station)
                            && settings.store_station(station).await.is_ok()
                        {
                            state.settings.station = Some(station.clone());
                        }
                        reply.result_ok("TCREGNET");
                    }
                    Err(error) => reply.result_fail("TCREGNET", i32::from(error.code())),
                }
            }
            Job::Leave => {
                let was_joined = self.module.wifi.leave().await;
                reply.ok();
                if let Next::Exit(exit) = self.flush_reply().await {
                    return Next::Exit(exit);
                }
                if was_joined {
                    self.reply.text_line("WIFI DISCONNECT");
                }
            }
            Job::Reboot => {
                return match self.flush_reply().await {
                    Next::Continue => Next::Exit(Exit::Reboot),
                    exit => exit,
                };
            }
            Job::RestoreWifi => {
                if settings.erase_wifi().await.is_err() {
                    reply.error();
                    return self.flush_reply().await;
                }
                reply.ok();
                return match self.flush_reply().await {
                    Next::Continue => Next::Exit(Exit::Reboot),
                    exit => exit,
                };
            }
            // Run by `run_deep_job`: `DeepJob::of` takes them out of their step first.
            Job::Register | Job::OtaSet { .. } => {}
            Job::MqttConnect(parameters) => self.connect(state, *parameters).await,
            Job::Mqtt(_) => {
                if let Job::Mqtt(request) = core::mem::replace(job, Job::MqttDisconnect) {
                    self.send(request);
                }
                self.outcome().await;
            }
            Job::ListSubscriptions => {
                // One line per write, inside the command's block (the UART stays held): the
                // list may be larger than a reply block.
                let mut index = 0;
                while self.subscription_into_reply(index) {
                    if let Next::Exit(exit) = self.flush_reply().await {
                        return Next::Exit(exit);
                    }
                    index += 1;
                }
                self.reply.ok();
            }
            Job::Gateway(_) => {
                if let Job::Gateway(request) = core::mem::replace(job, Job::MqttDisconnect) {
                    self.send(crate::mqtt::Request::Gateway(request));
                }
                self.outcome().await;
            }
            Job::ListOnline => {
                // One line per write inside the command's block, like AT+TCMQTTSUB?: the
                // list (16 lines) may be larger than a reply block.
                let mut index = 0;
                while self.online_entry_into_reply(index) {
                    if let Next::Exit(exit) = self.flush_reply().await {
                        return Next::Exit(exit);
                    }
                    index += 1;
                }
                self.reply.ok();
            }
            Job::OtaQuery => self.ota_query(),
            Job::ProvisionStart(access_point) => {
                self.start_provisioning(state, access_point.take()).await
            }
            Job::ProvisionStop => self.stop_provisioning(state).await,
            Job::FirmwareInfo => self.firmware_info(state),
            Job::ReadFirmware(length) => return self.read_firmware(*length).await,
            Job::MqttDisconnect => {
                self.send(crate::mqtt::Request::Disconnect);
                self.outcome().await;
                self.reply.ok();
            }
            #[cfg(feature = "certificates")]
            Job::CheckCertificate(name) => self.check_certificate(state, name).await,
            #[cfg(feature = "certificates")]
            Job::DeleteCertificate(name) => self.delete_certificate(state, name).await,
            Job::RestoreCloud => {
                // The command's final output (`OK\r\n`) is already written; a flash error
                // cannot be reported any more, and the reboot shows what survived.
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

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Renders the `index`th online sub-device's line (newest first) into the reply; false
    /// past the last. The list may change between two lines only through a re-online
    /// after a reconnect; each line is one whole entry.
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
