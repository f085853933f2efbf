//! The engine's runner: the path of a command from UART bytes to its reply.
//!
//! Four loops run inside one future (no executor needed, so every board can drive it):
//! - the **receiver** reads the UART, feeds the framer and moves complete lines into the input
//!   queue, answering `[BUSY]` when the queue is full;
//! - the **executor** takes one line at a time, parses it, looks the name up in the command
//!   table, runs the handler and, if the handler asked for one, its IO job;
//! - the **MQTT service** (`mqtt::serve`) owns the broker link and the session, serves the
//!   executor's MQTT requests, queues status URCs and async result lines in the outbox and
//!   holds each received message in the session until it is written (back-pressure);
//! - the **URC writer** writes queued outbox entries and streams held messages, one block
//!   each.
//!
//! All write to the UART through one lock, one whole block at a time (`at-engine.md` §9): a
//! synchronous command keeps the UART from its echo to its final result, so nothing can be
//! written inside its block. Whoever takes the lock first writes the outbox entries queued so
//! far, so URCs and results come out in the order of their events (`output`).

#[cfg(feature = "certificates")]
mod certificate_jobs;
mod data;
mod ota_commands;

pub(crate) use data::DATA_MAX;
mod jobs;
mod mqtt_jobs;
mod ota_jobs;
mod ota_reports;
mod output;
mod provisioning_binding;
mod provisioning_jobs;
mod receiver;
mod registration;

use core::cell::{Cell, RefCell};

use at_parser::{parse_line, Form, Framer, ParseError, Parsed};
use embassy_futures::select::{select4, Either4};
use embedded_io_async::{Read, Write};
use embedded_storage_async::nor_flash::{MultiwriteNorFlash, NorFlash};
use storage::Settings;

use crate::board::{BoardInfo, Certificates, Clock, Network, Offline, Random, Wifi};
use crate::fmt::warning;
use crate::handlers::{Context, Job, LineRequest, Step};
use crate::mqtt::{MqttShared, PAYLOAD_MAX};
use crate::params::Params;
use crate::queue::{Entry, InputQueue};
use crate::render::{EngineError, Reply, BUSY_REPLY};
use crate::state::RamState;
use crate::table;
use crate::wake::{Flag, UartGuard, UartLock};
use jobs::Slot;
use output::{lock_drained, write_block, write_command_output, write_urcs};
use receiver::{frame_one, receive, Framing};

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// A command asked for a reboot: rebuild the state from flash and call [`run`] again.
    Reboot,
    /// The UART failed or reached its end.
    UartClosed,
}

/// What the engine drives besides the UART.
pub struct Module<'a, F: MultiwriteNorFlash, W: Wifi> {
    /// Persisted settings.
    pub settings: &'a mut Settings<F>,
    /// The station interface.
    pub wifi: &'a mut W,
    /// Identity and capability profile.
    pub board: &'a BoardInfo,
}

/// The board's network side: the MQTT service's transport, clock and randomness.
pub struct Cloud<'a, N: Network, C: Clock> {
    /// TCP connections.
    pub network: &'a mut N,
    /// Milliseconds and deadlines.
    pub clock: &'a C,
    /// Connection ids, packet ids, reconnect jitter.
    pub random: &'a mut dyn Random,
    /// The certificate parser of AT+TCCERTCHECK.
    pub certificates: &'a dyn Certificates,
}

/// The framer's receive buffer: one line (`at-engine.md` §3.2), since the receiver applies
/// back-pressure instead of buffering what a data-mode barrier holds back
/// (`docs/decisions.md`, "Framer back-pressure").
pub const FRAMER_BYTES: usize = at_parser::MAX_LINE;

/// State shared by the receiver and the executor.
struct Shared {
    framer: RefCell<Framer<FRAMER_BYTES>>,
    queue: RefCell<InputQueue>,
    echo: Cell<bool>,
    /// Raised when a line was queued; awaited by the executor only.
    line_ready: Flag,
    /// Raised when the receiver fed bytes a data phase or a discard must see now
    /// (`Framer::receive`): wakes the executor, its only waiter. Plain payload bytes wait in
    /// the framer instead, so a data phase is not woken by every read.
    input: Flag,
    /// When the receiver last fed bytes during a data phase: the low 32 bits of the board's
    /// clock (ms), which fit beside `echo` instead of adding 16 bytes to the engine; the
    /// executor restarts the inactivity timer from it when it finds bytes that waited. A data
    /// phase that stays alive (at most 4,096 bytes, one per 20 s) is far shorter than the
    /// 49 days 32 bits span, so the time since the last read is exact.
    last_input: Cell<u32>,
    /// The line at the framer's head is a refused one whose echo, too long for the outbox's
    /// `[BUSY]` room, the URC writer writes from there (`mqtt::Busy::EchoInFramer`); the
    /// writer consumes the line and clears this, the receiver waits until then.
    echo_in_framer: Cell<bool>,
}

/// Boots the module and serves AT commands until a reboot is requested or the UART closes.
///
/// Boot: read the settings, write `\r\nready\r\n`, auto-join the stored AP. Input that arrived
/// before the banner must have been discarded by the board (`at-engine.md` §2).
///
/// Without a network: AT+TCMQTTCONN fails at DNS (`-602`). Boards with one use [`run_with`].
// An `async fn` would keep its arguments twice (see `run_with`).
#[allow(clippy::manual_async_fn)]
pub fn run<'a, R, T, F, W>(
    rx: &'a mut R,
    tx: &'a mut T,
    module: Module<'a, F, W>,
) -> impl core::future::Future<Output = Exit> + 'a
where
    R: Read,
    T: Write,
    F: MultiwriteNorFlash,
    W: Wifi,
{
    async move {
        let cloud = Cloud {
            network: &mut Offline,
            clock: &Offline,
            random: &mut Offline,
            certificates: &Offline,
        };
        run_with(rx, tx, module, cloud).await
    }
}

/// [`run`] with the board's network, clock and RNG for the MQTT service.
///
/// A function returning an `async` block rather than an `async fn`: an `async fn` keeps each
/// argument twice in its future, as the argument and as the local it is moved into (88 bytes
/// here, for as long as the engine runs); a block uses what it captured in place.
#[allow(clippy::manual_async_fn)]
pub fn run_with<'a, R, T, F, W, N, C>(
    rx: &'a mut R,
    tx: &'a mut T,
    mut module: Module<'a, F, W>,
    mut cloud: Cloud<'a, N, C>,
) -> impl core::future::Future<Output = Exit> + 'a
where
    R: Read,
    T: Write,
    F: MultiwriteNorFlash,
    W: Wifi,
    N: Network,
    C: Clock,
{
    async move {
        let mut state = boot(module.settings).await;
        // The receiver starts only after the banner: earlier input is never answered.
        if write_block(tx, b"\r\nready\r\n").await.is_err() {
            return Exit::UartClosed;
        }
        serve(rx, tx, &mut module, &mut cloud, &mut state).await
    }
}

/// Reads the settings and (with `certificates`) the certificate table from flash.
async fn boot<F: NorFlash>(settings: &mut Settings<F>) -> RamState {
    #[cfg(feature = "certificates")]
    let certificates = settings.certificates().await.unwrap_or_else(|_| {
        warning!("certificate table unreadable; no certificate files");
        storage::CertificateTable::default()
    });
    let loaded = match settings.load().await {
        Ok(settings) => settings,
        Err(_) => {
            // A partition that cannot be read at all boots with factory settings rather than
            // leaving the module unusable; the next write reformats it.
            warning!("settings unreadable; booting with factory settings");
            storage::Snapshot::default()
        }
    };
    #[cfg_attr(not(feature = "certificates"), allow(unused_mut))]
    let mut state = RamState::boot(loaded);
    #[cfg(feature = "certificates")]
    {
        state.certificates = certificates;
    }
    state
}

/// The four loops, after the banner.
///
/// A function of its own so that its state (every buffer of the engine) overlaps the boot's
/// futures instead of being laid out beside them. The module and the cloud are lent: moved,
/// they would take their room twice, in this future and in `run_with`'s, whose captures keep
/// theirs while this one runs.
// An `async fn` would keep its arguments twice (see `run_with`).
#[allow(clippy::manual_async_fn)]
fn serve<'a, 'b, 's, R, T, F, W, N, C>(
    rx: &'a mut R,
    tx: &'a mut T,
    module: &'a mut Module<'b, F, W>,
    cloud: &'a mut Cloud<'b, N, C>,
    state: &'s mut RamState,
) -> impl core::future::Future<Output = Exit> + use<'a, 'b, 's, R, T, F, W, N, C>
where
    R: Read,
    T: Write,
    F: MultiwriteNorFlash,
    W: Wifi,
    N: Network,
    C: Clock,
{
    async move {
        let shared = Shared {
            framer: RefCell::new(Framer::new()),
            queue: RefCell::new(InputQueue::new()),
            echo: Cell::new(true),
            line_ready: Flag::new(),
            input: Flag::new(),
            last_input: Cell::new(0),
            echo_in_framer: Cell::new(false),
        };
        let output = UartLock::new(tx);
        let mqtt = MqttShared::new(&*cloud.random);
        ota_jobs::boot(&mqtt.ota, &mut *module.settings, &state.settings).await;
        mqtt.ota.board.set(module.board.board);
        let errors = provisioning_jobs::boot(&mut *module.settings).await;
        let network = RefCell::new(&mut *cloud.network);
        let mut executor = Executor {
            shared: &shared,
            output: &output,
            mqtt: &mqtt,
            module: Module {
                settings: &mut *module.settings,
                wifi: &mut *module.wifi,
                board: module.board,
            },
            reply: Reply::new(),
            held: None,
            clock: cloud.clock,
            network: &network,
            download: None,
            provisioning: provisioning_jobs::Runner::new(errors),
            slot: Slot::Empty,
            entered_data: false,
            #[cfg(feature = "certificates")]
            pair: [0; storage::CERTIFICATE_SIZE_MAX],
            #[cfg(feature = "certificates")]
            certificates: cloud.certificates,
        };
        let service = crate::mqtt::serve(&mqtt, &network, cloud.clock);
        match select4(
            receive(rx, &shared, &mqtt, cloud.clock),
            executor.serve(state),
            service,
            write_urcs(&mqtt, &shared, &output, cloud.clock),
        )
        .await
        {
            Either4::First(exit) | Either4::Second(exit) | Either4::Fourth(exit) => exit,
        }
    }
}

struct Executor<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network> {
    shared: &'s Shared,
    output: &'s UartLock<&'s mut T>,
    mqtt: &'s MqttShared<'r>,
    module: Module<'m, F, W>,
    reply: Reply,
    /// The UART while a command's block is open (`at-engine.md` §9 rule 1): taken when a line
    /// is dispatched, kept until its synchronous block or its async acceptance is written.
    held: Option<UartGuard<'s, &'s mut T>>,
    /// Data-phase timers.
    clock: &'s C,
    /// The board's network, shared with the MQTT service: the OTA download's connections.
    network: &'s RefCell<&'s mut N>,
    /// The running OTA transfer (`ota_jobs`).
    download: Option<ota_jobs::Download<N::Stream>>,
    /// The provisioning session, its records and log (`provisioning_jobs`).
    provisioning: provisioning_jobs::Runner,
    /// The running command's step, and the record a flash write takes (`jobs::Slot`).
    slot: Slot,
    /// Whether the command being executed entered data mode.
    entered_data: bool,
    /// The second file of a certificate pair.
    #[cfg(feature = "certificates")]
    pair: [u8; storage::CERTIFICATE_SIZE_MAX],
    /// The board's certificate parser.
    #[cfg(feature = "certificates")]
    certificates: &'s dyn Certificates,
}

/// What the executor does after a command.
enum Next {
    Continue,
    Exit(Exit),
}

impl<'s, 'm, 'r, T: Write, F: MultiwriteNorFlash, W: Wifi, C: Clock, N: Network>
    Executor<'s, 'm, 'r, T, F, W, C, N>
{
    // The state is lent, not moved: an async fn's argument is stored twice in its future (as
    // argument and as local), and this one is 1.3 KB. For the same reason this and `execute`,
    // the frames above every command's deepest wait, return `async` blocks, which keep even
    // the references and flags they capture once.
    #[allow(clippy::manual_async_fn)]
    fn serve<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = Exit> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            if let Next::Exit(exit) = self.auto_join(state).await {
                return exit;
            }
            loop {
                // The entry's scope ends before the next await: a moved-from local still takes
                // its room in the future while its scope lasts.
                let (barrier_line, rejected) = {
                    let entry = match self.next_entry(state).await {
                        Ok(entry) => entry,
                        Err(exit) => return exit,
                    };
                    let barrier_line =
                        matches!(&entry, Entry::Line(line) if at_parser::sets_barrier(line));
                    (barrier_line, self.stash(entry))
                };
                self.entered_data = false;
                let next = if rejected {
                    self.reject().await
                } else {
                    self.execute(state).await
                };
                if barrier_line {
                    // A command that ended without entering data mode leaves its barrier set:
                    // the bytes held back are ordinary lines again. One that entered data mode
                    // cleared its barrier then; a barrier set now belongs to a later line that
                    // the receiver framed while this command ran, and must stay.
                    if !self.entered_data {
                        self.shared.framer.borrow_mut().release_barrier();
                    }
                    // Bytes after the payload were left unframed when the phase ended.
                    if let Next::Exit(exit) = self.reframe().await {
                        return exit;
                    }
                }
                if let Next::Exit(exit) = next {
                    return exit;
                }
            }
        }
    }

    // An `async` block, not an `async fn`: the arguments are kept once (the idle wait's
    // frames end in a flash write, the deepest path the executor has).
    #[allow(clippy::manual_async_fn)]
    fn next_entry<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = Result<Entry, Exit>> + use<'e, 's, 'm, 'r, T, F, W, C, N>
    {
        async move {
            loop {
                self.show_led();
                if let Some(entry) = self.shared.queue.borrow_mut().pop() {
                    return Ok(entry);
                }
                if self.shared.framer.borrow().discarding() {
                    if let Next::Exit(exit) = self.wait_while_discarding().await {
                        return Err(exit);
                    }
                } else {
                    // Idle: the OTA download runs until a line arrives (or a new module image
                    // asks for the reboot into it).
                    if self.wait_line(state).await {
                        return Err(Exit::Reboot);
                    }
                }
            }
        }
    }

    /// Shows the LED state the host session's last change called for (`cloud.md` §6.6),
    /// before the next line, so a command's effect on it is visible to the one after.
    fn show_led(&mut self) {
        if let Some(lit) = self.mqtt.led.take() {
            self.module.wifi.set_led(lit);
        }
    }

    /// Frames lines that were held back by the data-mode barrier.
    async fn reframe(&mut self) -> Next {
        loop {
            match frame_one(self.shared) {
                Framing::Idle => {
                    // The receiver may be waiting for the room these lines took.
                    self.mqtt.receiver_room.raise();
                    return Next::Continue;
                }
                Framing::Queued => continue,
                Framing::Refused => {
                    if self.write(BUSY_REPLY).await.is_err() {
                        return Next::Exit(Exit::UartClosed);
                    }
                }
            }
        }
    }

    /// Boot auto-join (`at-engine.md` §2): join the stored AP in station modes; a failure
    /// prints nothing.
    async fn auto_join(&mut self, state: &RamState) -> Next {
        let mode = state.wifi_mode();
        let Some(station) = state.settings.station.clone() else {
            return Next::Continue;
        };
        if mode != 1 && mode != 3 {
            return Next::Continue;
        }
        if self
            .module
            .wifi
            .join(&station.ssid, &station.password, None)
            .await
            .is_ok()
        {
            for urc in [&b"WIFI CONNECTED\r\n"[..], b"WIFI GOT IP\r\n"] {
                if self.write(urc).await.is_err() {
                    return Next::Exit(Exit::UartClosed);
                }
            }
        }
        Next::Continue
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), T::Error> {
        write_command_output(self.output, self.mqtt, &mut self.held, bytes).await
    }

    /// Takes the UART for a command's block, after writing what was queued before it.
    async fn open_block(&mut self) -> Result<(), T::Error> {
        self.held = Some(lock_drained(self.output, self.mqtt).await?);
        Ok(())
    }

    /// Moves a queued line into the reply block, where its echo goes anyway, until it is
    /// dispatched: held in the executor's future across the wait for the UART, it would take
    /// 272 bytes there for good (`docs/decisions.md`, "Engine RAM"). True for a rejected line.
    fn stash(&mut self, entry: Entry) -> bool {
        self.reply.clear();
        match entry {
            Entry::Line(line) => {
                self.reply.echo(&line);
                false
            }
            Entry::Rejected => true,
        }
    }

    /// Answers an over-long line with `[E:04]`, in a block of its own (no echo: the line was
    /// not kept). Not a branch of `execute`: its flag would take room in every frame of it.
    async fn reject(&mut self) -> Next {
        if self.open_block().await.is_err() {
            return Next::Exit(Exit::UartClosed);
        }
        self.reply.clear();
        self.reply.engine_error(EngineError::TooLong);
        let next = self.flush_reply().await;
        self.held = None;
        next
    }

    /// Runs the line stashed in the reply block with the UART held; an async command releases
    /// it after its acceptance.
    ///
    /// One function from the block's opening to the job: every async fn between the
    /// executor's loop and its deepest wait (a flash write) keeps its own state beside it.
    #[allow(clippy::manual_async_fn)]
    fn execute<'e>(
        &'e mut self,
        state: &'e mut RamState,
    ) -> impl core::future::Future<Output = Next> + use<'e, 's, 'm, 'r, T, F, W, C, N> {
        async move {
            if self.open_block().await.is_err() {
                return Next::Exit(Exit::UartClosed);
            }
            let next = {
                // The echo goes out first, inside the block (the UART is held, so nothing
                // comes between it and the answer, and the block's one flush follows the
                // answer): the reply then holds only the answer, never a line and its answer.
                if self.shared.echo.get() && self.write_unflushed_reply().await.is_err() {
                    return Next::Exit(Exit::UartClosed);
                }
                self.dispatch_into_slot(state);
                match &self.slot {
                    Slot::Step(Step::Sync(_)) => {
                        // The answer (after the echo) goes out before the job runs.
                        match (self.flush_reply().await, &self.slot) {
                            // A provisioning stop drives the provisioning machine (its flash
                            // writes): run from here, one frame less above them.
                            (Next::Continue, Slot::Step(Step::Sync(Job::ProvisionStop))) => {
                                self.provision_stop(state).await;
                                self.flush_reply().await
                            }
                            (Next::Continue, _) => self.run_job(state).await,
                            (exit, _) => exit,
                        }
                    }
                    Slot::Step(Step::Async(_)) => {
                        let next = self.flush_reply().await;
                        // URCs may come between the acceptance and the result (§9 rule 1).
                        self.held = None;
                        match (next, &self.slot) {
                            // AT+TCOTASET drains the OTA machine, the deepest wait a command has:
                            // run from here, one frame less above it.
                            (Next::Continue, Slot::Step(Step::Async(Job::OtaSet { .. }))) => {
                                self.ota_set(state).await;
                                self.flush_reply().await
                            }
                            // So does a provisioning start, which drives the provisioning
                            // machine (its registration and flash writes).
                            (Next::Continue, Slot::Step(Step::Async(Job::ProvisionStart(_)))) => {
                                self.provision_start(state).await;
                                self.flush_reply().await
                            }
                            (Next::Continue, _) => self.run_job(state).await,
                            (exit, _) => exit,
                        }
                    }
                    &Slot::Step(Step::Data { len, kind, .. }) => {
                        self.run_data_phase(state, usize::from(len), kind).await
                    }
                    _ => self.flush_reply().await,
                }
            };
            self.slot = Slot::Empty;
            // A command that ends the runner may still hold the UART; nothing else writes then.
            self.held = None;
            // Error records a provisioning session asked to save while the step was in the
            // slot (`provisioning_jobs::Runner::errors_unsaved`).
            if self.provisioning.errors_unsaved {
                self.save_errors().await;
            }
            next
        }
    }

    /// Dispatches the line stashed in the reply block and puts its step into the slot, where
    /// its job borrows it from (`jobs::Slot`). The line is copied out of the reply block for
    /// the dispatch only (no await meanwhile, so the copy is never part of a future); its echo
    /// has been written already, so the reply then takes the answer.
    fn dispatch_into_slot(&mut self, state: &mut RamState) {
        let mut line = heapless::Vec::<u8, { at_parser::MAX_LINE }>::new();
        let _ = line.extend_from_slice(self.reply.as_bytes());
        self.reply.clear();
        let step = self.dispatch(state, &line);
        self.slot = Slot::Step(step);
    }

    /// Parses the line and calls the handler of its form; everything unknown is `[E:09]`.
    fn dispatch(&mut self, state: &mut RamState, line: &[u8]) -> Step {
        let reply = &mut self.reply;
        let (name, form) = match parse_line(line) {
            Err(ParseError::NotAt) => {
                reply.engine_error(EngineError::NotAt);
                return Step::Done;
            }
            Ok(Parsed::Attention) => {
                reply.ok();
                return Step::Done;
            }
            Ok(Parsed::Echo(on)) => {
                // The line itself was echoed (or not) under the old setting.
                self.shared.echo.set(on);
                reply.ok();
                return Step::Done;
            }
            Ok(Parsed::Command { name, form }) => (name, form),
            Err(_) => {
                reply.engine_error(EngineError::Unsupported);
                return Step::Done;
            }
        };
        let board = self.module.board;
        let gates = crate::state::Gates {
            provisioning: self.provisioning.machine.is_running(),
            ..self.mqtt.gates()
        };
        let spec = table::lookup(name)
            .filter(|spec| !spec.capability || board.profile == crate::board::Profile::Full);
        let diagnostics = self.mqtt.diagnostic_report();
        // AT+TCMQTTPUB unescapes its payload where its PUBLISH will carry it; any other
        // command gives the area back below.
        let mut session = self.mqtt.session.borrow_mut();
        let mut context = Context {
            state,
            board,
            association: self.module.wifi.association(),
            gates,
            diagnostics,
            payload: session.payload_area(PAYLOAD_MAX).unwrap_or_default(),
        };
        let step = spec.and_then(|spec| match form {
            Form::Test => spec.test.map(|handler| handler(&mut context, reply)),
            Form::Query => spec.query.map(|handler| handler(&mut context, reply)),
            Form::Execute => spec.exec.map(|handler| handler(&mut context, reply)),
            Form::Set(args) => spec
                .set
                .map(|handler| handler(&mut context, reply, Params::new(args))),
        });
        if !matches!(
            step,
            Some(Step::Async(Job::Mqtt(LineRequest::Publish { .. })))
        ) {
            session.release_payload_area();
        }
        step.unwrap_or_else(|| {
            reply.engine_error(EngineError::Unsupported);
            Step::Done
        })
    }

    /// Writes the reply's bytes (the stashed line, as its echo) into the held block without
    /// ending it: the answer and the block's flush follow.
    async fn write_unflushed_reply(&mut self) -> Result<(), T::Error> {
        match self.held.as_mut() {
            Some(tx) => (***tx).write_all(self.reply.as_bytes()).await,
            None => Ok(()),
        }
    }

    async fn flush_reply(&mut self) -> Next {
        if self.reply.overflowed() {
            warning!("reply block overflowed its buffer");
        }
        let result = write_command_output(
            self.output,
            self.mqtt,
            &mut self.held,
            self.reply.as_bytes(),
        )
        .await;
        self.reply.clear();
        if result.is_ok() {
            Next::Continue
        } else {
            Next::Exit(Exit::UartClosed)
        }
    }
}
