//! The executor's provisioning runner (`cloud.md` §6): it carries out what the sans-IO
//! [`Provisioning`] machine asks for (radio, UDP servers, router join, the binding MQTT
//! session, LED, URCs) and feeds it the outcomes, between commands like the OTA download.
//!
//! Why the executor: it owns the radio (`Wifi`) and the flash (the router credentials are
//! persisted when they arrive), and the binding session is the one MQTT session, which the
//! executor drives through the service's mailbox like its commands' requests. That session
//! is marked internal while provisioning uses it (`MqttShared::internal`): no RUN or CONN,
//! no result line, no URC, and its bind reply is held in the session for this runner.
//!
//! Memory: no buffer of its own. Datagrams are received into, and every URC, datagram,
//! topic and the token PUBLISH written into, the executor's work buffer (`MqttShared::data`):
//! PROV excludes RUN, so no OTA download uses it meanwhile, and a command only fills it while
//! the runner waits for nothing (the runner borrows it for one step at a time, and for the
//! radio wait only when no download holds it). The token's payload then moves into the
//! session's payload area, where every publish payload goes.

use embassy_futures::select::{select4, Either4};
use embedded_io_async::Write;
use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use provisioning::{Action, Failure, Identity, Mode, Provisioning, Received, Record, WifiEvent};
use storage::WifiStation;

use super::jobs::Slot;
use super::provisioning_binding::Operation;
use super::Executor;
use crate::board::{Clock, Network, ProvisioningEvent, SoftApConfig, UdpServer, Wifi};
use crate::fmt::warning;
use crate::handlers::{Job, Step};
use crate::mqtt::{Outcome, Request};
use crate::state::RamState;

/// The log softAP of `cloud.md` §6.7.
const LOG_AP_SSID: &[u8] = b"ESP-LOG-QUERY";
const LOG_AP_PASSWORD: &[u8] = b"86013388";
/// Stations a provisioning or log AP admits.
const MAX_STATIONS: u8 = 3;
/// Longest datagram the UDP servers take (`cloud.md` §6.4); one more byte is received so a
/// longer one arrives truncated and fails to parse.
const DATAGRAM_MAX: usize = 255;

/// What the runner keeps between wake-ups.
pub(super) struct Runner {
    pub(super) machine: Provisioning,
    /// The machine asked for its error records to be saved while the executor's slot held a
    /// command's step: they are written when the command ends (`save_errors`). The step may
    /// be AT+TCSAP's, whose AP the radio start that follows reads from it; a session the
    /// start ends saves its records first.
    pub(super) errors_unsaved: bool,
    /// The request the service is serving for the binding session.
    pub(super) operation: Option<Operation>,
    /// The app's router does not fit a station configuration (SSID over 32 bytes, password
    /// over 63): the join fails instead of joining the router stored before.
    router_refused: bool,
}

impl Runner {
    /// Idle, with the error records persisted by an earlier session.
    pub(super) const fn new(errors: provisioning::ErrorRecords) -> Self {
        Runner {
            machine: Provisioning::new(errors),
            errors_unsaved: false,
            operation: None,
            router_refused: false,
        }
    }

    /// Whether the runner waits for anything (a session, a timer, the log softAP, a
    /// request).
    fn active(&self) -> bool {
        self.machine.is_running()
            || self.machine.next_wake_ms().is_some()
            || self.operation.is_some()
    }
}

/// Boot: the error records an earlier session could not send (an unreadable record is
/// forgotten: it only explains an old failure).
pub(super) async fn boot<F: embedded_storage_async::nor_flash::NorFlash>(
    settings: &mut storage::Settings<F>,
) -> provisioning::ErrorRecords {
    let stored = settings.provisioning_errors().await.unwrap_or_else(|_| {
        warning!("provisioning error records unreadable");
        None
    });
    let mut failures = heapless::Vec::<Failure, { storage::PROVISIONING_ERRORS_MAX }>::new();
    for &(kind, sub) in stored.iter().flat_map(|stored| stored.records.iter()) {
        let _ = failures.push(Failure::new(kind, sub));
    }
    provisioning::ErrorRecords::restored(&failures)
}

/// What is left to do with a router a radio event handed over (`radio_event`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RouterStep {
    /// The app's router (softAP): store it; the machine asks for the join later.
    Store,
    /// SmartConfig's: store it and join it now.
    StoreAndJoin,
}

/// What woke the runner.
pub(super) enum Woken {
    Timer,
    Radio(ProvisioningEvent),
    Outcome(Outcome),
    Message,
}

/// The stored record the session works with: the device record, else the product record.
pub(super) fn identity(state: &RamState) -> Option<Identity<'_>> {
    if let Some(device) = &state.settings.device {
        return Some(Identity {
            product_id: &device.product_id,
            device_name: &device.device_name,
            region: &device.region,
        });
    }
    state.settings.product.as_ref().map(|product| Identity {
        product_id: &product.product_id,
        device_name: &product.device_name,
        region: &product.region,
    })
}

fn record(state: &RamState) -> Record {
    if state.settings.device.is_some() {
        Record::Device
    } else if state.settings.product.is_some() {
        Record::Product
    } else {
        Record::Missing
    }
}

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    /// AT+TCSAP (`SoftAp`, its AP in the command's step, where the radio start reads it) or
    /// AT+TCSTARTSMART after their acceptance. The caller drives the machine next
    /// ([`Self::drive_provisioning`]), within the command: one async frame less above its
    /// flash writes.
    pub(super) fn start_provisioning(&mut self, state: &RamState, mode: Mode) {
        self.provisioning.router_refused = false;
        let now = self.clock.now_ms();
        self.provisioning.machine.start(mode, record(state), now);
    }

    /// AT+TCSTOPSAP / AT+TCSTOPSMART: the stop rule; the caller drives the machine, then
    /// answers `[OK]`.
    pub(super) fn stop_provisioning(&mut self) {
        let now = self.clock.now_ms();
        self.provisioning.machine.stop(now);
    }

    /// Waits for the runner's next wake-up; pending while it waits for nothing.
    // The data buffer stays borrowed across the radio wait: the executor is its only user
    // while it waits here, and an OTA download's read (which holds it too) excludes it.
    #[allow(clippy::await_holding_refcell_ref)]
    pub(super) async fn provisioning_input(
        wifi: &mut W,
        runner: &Runner,
        mqtt: &crate::mqtt::MqttShared<'_>,
        clock: &C,
    ) -> Woken {
        if !runner.active() {
            return core::future::pending().await;
        }
        let deadline = runner.machine.next_wake_ms();
        let timer = async move {
            match deadline {
                Some(at) => clock.sleep_until(at).await,
                None => core::future::pending().await,
            }
        };
        let radio = async {
            match mqtt.data.try_borrow_mut() {
                Ok(mut buffer) => wifi.provisioning_event(&mut buffer[..=DATAGRAM_MAX]).await,
                Err(_) => core::future::pending().await,
            }
        };
        let outcome = async {
            match runner.operation {
                Some(_) => mqtt.done.take().await,
                None => core::future::pending().await,
            }
        };
        match select4(timer, radio, outcome, mqtt.internal_message.wait()).await {
            Either4::First(()) => Woken::Timer,
            Either4::Second(event) => Woken::Radio(event),
            Either4::Third(outcome) => Woken::Outcome(outcome),
            Either4::Fourth(()) => Woken::Message,
        }
    }

    /// Feeds what woke the runner to the machine; a radio event is handed back for
    /// `radio_event`, with the time it arrived.
    ///
    /// Synchronous: the executor's idle wait awaits the radio event and the runner's next
    /// steps itself, so no frame between them keeps what woke the runner (this frame was
    /// the runner's between the idle wait and a flash write).
    pub(super) fn provisioning_woken(
        &mut self,
        state: &mut RamState,
        woken: Woken,
    ) -> Option<(ProvisioningEvent, u64)> {
        let now = self.clock.now_ms();
        match woken {
            Woken::Timer => {}
            Woken::Radio(event) => return Some((event, now)),
            Woken::Outcome(outcome) => {
                if let Some(operation) = self.provisioning.operation.take() {
                    self.operation_ended(state, operation, outcome, now);
                }
            }
            Woken::Message => self.bind_message(state, now),
        }
        None
    }

    /// Feeds a radio event to the machine; a router it hands over goes into the slot, and
    /// what is left to do with it (store it; join it too, for SmartConfig) is handed back for
    /// `router_received`.
    ///
    /// Synchronous: the event is not part of the frames above the router's flash write.
    pub(super) fn radio_event(
        &mut self,
        state: &RamState,
        event: ProvisioningEvent,
        now: u64,
    ) -> Option<RouterStep> {
        let machine = &mut self.provisioning.machine;
        match event {
            ProvisioningEvent::Datagram {
                server,
                from,
                length,
            } => {
                let identity = identity(state)?;
                let data = self.mqtt.data.borrow();
                let datagram = &data[..length.min(DATAGRAM_MAX + 1)];
                match machine.datagram(&identity, server, datagram, from, now) {
                    Received::Router { ssid, password } => {
                        let station = router(ssid, password);
                        self.provisioning.router_refused = station.is_none();
                        self.slot = Slot::Station(station?);
                        Some(RouterStep::Store)
                    }
                    _ => None,
                }
            }
            ProvisioningEvent::SmartConfigCredentials {
                ssid_length,
                password_length,
            } => {
                let data = self.mqtt.data.borrow();
                let ssid = &data[..ssid_length];
                let password = &data[ssid_length..ssid_length + password_length];
                let station = WifiStation {
                    ssid: heapless::Vec::from_slice(ssid).unwrap_or_default(),
                    password: heapless::Vec::from_slice(password).unwrap_or_default(),
                };
                if station.ssid.is_empty() || !machine.is_running() {
                    return None;
                }
                self.slot = Slot::Station(station);
                self.module.wifi.stop_smartconfig();
                Some(RouterStep::StoreAndJoin)
            }
            ProvisioningEvent::SmartConfigEnded => {
                machine.wifi(WifiEvent::SmartConfigEnded, now);
                None
            }
            ProvisioningEvent::StationLost => {
                machine.wifi(WifiEvent::Disconnected, now);
                None
            }
        }
    }

    /// Stores the router `radio_event` put into the slot and, for SmartConfig, joins it.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies
    // between the executor's idle wait and a flash write).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn router_received<'e>(
        &'e mut self,
        state: &'e mut RamState,
        step: RouterStep,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            self.store_router(state).await;
            if step == RouterStep::StoreAndJoin {
                let joined = self.join_router(state).await;
                let now = self.clock.now_ms();
                let event = if joined {
                    WifiEvent::GotIp
                } else {
                    WifiEvent::Disconnected
                };
                self.provisioning.machine.wifi(event, now);
            }
        }
    }

    /// AT+TCSAP / AT+TCSTARTSMART after their acceptance, the step in the slot: starts the
    /// session and drives the machine (run by `execute` itself, one frame less above the
    /// machine's flash writes).
    // An `async` block, not an `async fn`: the arguments are kept once.
    #[allow(clippy::manual_async_fn)]
    pub(super) fn provision_start<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            let mode = match &self.slot {
                Slot::Step(Step::Async(Job::ProvisionStart(Some(_)))) => Mode::SoftAp,
                Slot::Step(Step::Async(Job::ProvisionStart(None))) => Mode::SmartConfig,
                _ => return,
            };
            self.start_provisioning(state, mode);
            self.drive_provisioning(state).await
        }
    }

    /// AT+TCSTOPSAP / AT+TCSTOPSMART after their checks: stops any session, drives the
    /// machine, then `[OK]` (run by `execute` itself, as `provision_start`).
    // An `async` block, not an `async fn`: the arguments are kept once.
    #[allow(clippy::manual_async_fn)]
    pub(super) fn provision_stop<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            self.stop_provisioning();
            self.drive_provisioning(state).await;
            self.reply.ok();
        }
    }

    /// Persists the router in the slot (the app's or SmartConfig's) as the station
    /// configuration.
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies
    // between the idle wait and a flash write).
    #[allow(clippy::manual_async_fn)]
    fn store_router<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            let Slot::Station(station) = &self.slot else {
                return;
            };
            if state.settings.station.as_ref() == Some(station) {
                return;
            }
            if !self.store_slot().await {
                warning!("router credentials not stored");
                self.slot = Slot::Empty;
                return;
            }
            if let Slot::Station(station) = core::mem::replace(&mut self.slot, Slot::Empty) {
                state.settings.station = Some(station);
            }
        }
    }

    /// Joins the stored router; whether an IP was obtained.
    async fn join_router(&mut self, state: &RamState) -> bool {
        let Some(station) = &state.settings.station else {
            return false;
        };
        self.module
            .wifi
            .join(&station.ssid, &station.password, None)
            .await
            .is_ok()
    }

    /// Runs the machine's actions until it has none left: radio, UDP, URCs, flash and the
    /// binding session's requests, each carried out here (one async frame, not one per
    /// action, between the runner's wait and the flash writes).
    // The data buffer holds an action's bytes while the radio sends them; nothing else uses
    // it meanwhile (see the module doc).
    #[allow(clippy::await_holding_refcell_ref)]
    // An `async` block, not an `async fn`: the arguments are kept once (this frame lies between
    // the idle wait or a provisioning command and a flash write).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn drive_provisioning<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = ()> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            loop {
                let now = self.clock.now_ms();
                let action = {
                    let mut data = self.mqtt.data.borrow_mut();
                    let identity = identity(state);
                    self.provisioning
                        .machine
                        .poll(identity.as_ref(), now, &mut data[..])
                };
                let Some(action) = action else {
                    return;
                };
                let wifi = &mut *self.module.wifi;
                let runner = &mut self.provisioning;
                match action {
                    Action::Urc { length } => {
                        let data = self.mqtt.data.borrow();
                        self.mqtt
                            .outbox
                            .borrow_mut()
                            .push_status(crate::mqtt::Status::Provisioning(&data[..length]));
                        self.mqtt.output_ready.raise();
                    }
                    Action::StartRadio(mode) => {
                        // Asked for only by the start, within AT+TCSAP's or AT+TCSTARTSMART's job.
                        let access_point = match &self.slot {
                            Slot::Step(Step::Async(Job::ProvisionStart(access_point))) => {
                                access_point.as_ref()
                            }
                            _ => None,
                        };
                        let result = match (mode, access_point) {
                            (Mode::SoftAp, Some(access_point)) => {
                                wifi.start_soft_ap(&SoftApConfig {
                                    ssid: &access_point.ssid,
                                    password: &access_point.password,
                                    channel: access_point.channel,
                                    max_stations: MAX_STATIONS,
                                })
                            }
                            (Mode::SoftAp, None) => Err(7),
                            (_, _) => wifi.start_smartconfig(),
                        };
                        runner.machine.radio_started(result, now);
                    }
                    Action::StopRadio => {
                        wifi.stop_soft_ap();
                        wifi.stop_smartconfig();
                    }
                    Action::JoinRouter => {
                        wifi.stop_soft_ap();
                        let joined = !runner.router_refused && self.join_router(state).await;
                        let event = if joined {
                            WifiEvent::GotIp
                        } else {
                            WifiEvent::Disconnected
                        };
                        let now = self.clock.now_ms();
                        self.provisioning.machine.wifi(event, now);
                    }
                    Action::OpenServer(server) if wifi.open_udp(server).is_err() => {
                        warning!("provisioning UDP server not opened");
                    }
                    Action::CloseServer(server) => wifi.close_udp(server),
                    Action::Send { server, to, length } => {
                        let data = self.mqtt.data.borrow();
                        if wifi.send_udp(server, to, &data[..length]).await.is_err() {
                            warning!("provisioning datagram not sent");
                        }
                    }
                    Action::Led(lit) => wifi.set_led(lit),
                    Action::Register => {
                        // Step 1 of `cloud.md` §6.5: dynamic registration with the product record
                        // (AT+TCDEVREG's runner and budget); the device record is stored on success.
                        let started = self.clock.now_ms();
                        let result = self.register(state, started).await;
                        let now = self.clock.now_ms();
                        self.provisioning.machine.registered(result, now);
                    }
                    Action::MqttConnect => self.binding_connect(state).await,
                    Action::MqttSubscribe { length } => self.binding_subscribe(state, length).await,
                    Action::MqttPublish {
                        topic_length,
                        payload_length,
                    } => {
                        self.binding_publish(state, topic_length, payload_length)
                            .await
                    }
                    Action::MqttDisconnect => {
                        self.settle_operation().await;
                        self.send(Request::Disconnect);
                        self.outcome().await;
                    }
                    Action::OpenLogAp => {
                        let config = SoftApConfig {
                            ssid: LOG_AP_SSID,
                            password: LOG_AP_PASSWORD,
                            channel: 0,
                            max_stations: MAX_STATIONS,
                        };
                        if wifi.start_soft_ap(&config).is_err() {
                            warning!("log softAP not started");
                        }
                    }
                    Action::CloseLogAp => {
                        wifi.close_udp(UdpServer::Log);
                        wifi.stop_soft_ap();
                    }
                    Action::SaveErrors => {
                        runner.errors_unsaved = true;
                        if matches!(self.slot, Slot::Empty) {
                            self.save_errors().await;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

impl<T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'_, '_, '_, T, F, W, C, N>
{
    /// Writes the previous error records the machine asked to save, through the slot, which
    /// must be empty (between commands, or when a command ended).
    pub(super) async fn save_errors(&mut self) {
        self.provisioning.errors_unsaved = false;
        {
            let mut stored = storage::ProvisioningErrors::default();
            for failure in self.provisioning.machine.errors().previous() {
                let _ = stored.records.push((failure.kind, failure.sub));
            }
            self.slot = Slot::Errors(stored);
        }
        if !self.store_slot().await {
            warning!("provisioning error records not stored");
        }
        self.slot = Slot::Empty;
    }
}

/// The router credentials of a softAP command, unescaped.
fn router(ssid: ota::Text<'_>, password: ota::Text<'_>) -> Option<WifiStation> {
    let mut station = WifiStation {
        ssid: heapless::Vec::new(),
        password: heapless::Vec::new(),
    };
    let mut buffer = [0u8; 63];
    let length = ssid.copy_to(&mut buffer[..32])?;
    station.ssid = heapless::Vec::from_slice(&buffer[..length]).ok()?;
    let length = password.copy_to(&mut buffer)?;
    station.password = heapless::Vec::from_slice(&buffer[..length]).ok()?;
    (!station.ssid.is_empty()).then_some(station)
}
