//! Events in: start, stop, the radio, datagrams and Wi-Fi; the end of a
//! session.

use core::num::NonZeroU8;

use super::{
    Identity, Mode, Moment, Outcome, PackedPeer, Peer, Pending, Phase, Provisioning, Received,
    Record, Replies, Server, ServerState, Session, Simple, WifiEvent, BUDGET_AFTER_DISCONNECT_MS,
    BUDGET_MS, EXTRA_ROUNDS, LOG_AP_DELAY_MS, LOG_REPEAT_MS, REPLY_COUNT, SERVER_LIFETIME_MS,
};
use crate::app::{self, AppCommand, DEFAULT_REGION};
use crate::errors::{kind, sub, Failure};
use crate::logbook::LogEvent;

impl Provisioning {
    /// AT+TCSAP / AT+TCSTARTSMART after their `OK` (`cloud.md` §6.1): a
    /// running session is stopped silently, the log softAP closes, current
    /// records are cleared; without a device or product record the start
    /// fails with type 27, else [`crate::Action::StartRadio`] follows.
    pub fn start(&mut self, mode: Mode, record: Record, now_ms: u64) {
        crate::fmt::debug!("provisioning start: {:?}, {:?}", mode, record);
        self.end_session(None);
        self.close_log_ap();
        self.errors.start_session();
        self.log.add(now_ms, LogEvent::Started(mode));
        if record == Record::Missing {
            self.start_failed(mode, kind::DEVICE_INFO, now_ms);
            return;
        }
        self.session = Some(Session {
            mode,
            phase: Phase::Starting,
            budget_deadline_ms: now_ms + BUDGET_MS,
            next_toggle_ms: Moment::NONE,
            led: false,
            wifi_up: false,
            radio_on: false,
            mqtt_open: false,
            server: ServerState::CLOSED,
            replies: None,
            token: heapless::Vec::new(),
            registered: record == Record::Device,
            region_matches: false,
            rounds_left: EXTRA_ROUNDS,
            client_token_ms: 0,
        });
        self.act(Simple::StartRadio(mode));
    }

    /// The outcome of [`crate::Action::StartRadio`]: `Err(type)` with the start
    /// error types of `commands.md` §6 (softAP 7, 8, 4; SmartConfig 6, 8,
    /// 13, 4).
    pub fn radio_started(&mut self, result: Result<(), u8>, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.phase != Phase::Starting {
            return;
        }
        let mode = session.mode;
        match result {
            Ok(()) => {
                session.radio_on = true;
                session.next_toggle_ms = Moment::at(now_ms + mode.period_ms());
                session.phase = match mode {
                    Mode::SoftAp => {
                        session.server = ServerState::open(now_ms + SERVER_LIFETIME_MS);
                        Phase::WaitingCommand
                    }
                    Mode::SmartConfig => Phase::WaitingIp,
                };
                self.push(Pending::Urc(mode, Outcome::Started));
                if mode == Mode::SoftAp {
                    self.act(Simple::OpenServer(Server::Provisioning));
                }
            }
            Err(failure_kind) => {
                self.session = None;
                self.start_failed(mode, failure_kind, now_ms);
            }
        }
    }

    fn start_failed(&mut self, mode: Mode, failure_kind: u8, now_ms: u64) {
        let failure = Failure::new(failure_kind, 0);
        self.errors.record(failure);
        self.log.add(now_ms, LogEvent::Failed(failure));
        if self.errors.end_session() {
            self.act(Simple::SaveErrors);
        }
        self.push(Pending::Urc(mode, Outcome::StartFailed(failure_kind)));
        self.log_ap.open_at_ms = Moment::at(now_ms + LOG_AP_DELAY_MS);
    }

    /// AT+TCSTOPSAP / AT+TCSTOPSMART (`commands.md` §6 stop rule): any
    /// session ends without a URC, recording (3, 102); the LED goes off in
    /// every case. Returns whether a session ran.
    pub fn stop(&mut self, now_ms: u64) -> bool {
        let running = self.session.is_some();
        if running {
            let failure = Failure::new(kind::BOARDING_STOP, sub::STOPPED_BY_COMMAND);
            self.errors.record(failure);
            self.log.add(now_ms, LogEvent::Failed(failure));
            self.end_session(None);
        } else {
            self.act(Simple::Led(false));
        }
        running
    }

    /// A station join started elsewhere (AT+CWJAP) ends the log softAP.
    pub fn close_log_ap(&mut self) {
        self.log_ap.open_at_ms = Moment::NONE;
        self.log_ap.repeat_at_ms = Moment::NONE;
        let was_open = self.log_ap.close_at_ms.get().is_some();
        self.log_ap.close_at_ms = Moment::NONE;
        if was_open {
            self.act(Simple::CloseServer(Server::Log));
            self.act(Simple::CloseLogAp);
        }
    }

    /// A datagram arrived on `server` from `from`. The datagram stays in the
    /// caller's buffer; what must outlive the call (token, region check,
    /// sender) is taken now.
    pub fn datagram<'a>(
        &mut self,
        identity: &Identity<'_>,
        server: Server,
        datagram: &'a [u8],
        from: Peer,
        now_ms: u64,
    ) -> Received<'a> {
        match server {
            Server::Log => {
                if self.log_ap.close_at_ms.get().is_some() && app::is_log_query(datagram) {
                    self.push(Pending::LogDump(Server::Log, PackedPeer::new(from)));
                    self.log_ap.repeat_to = from;
                    self.log_ap.repeat_at_ms = Moment::at(now_ms + LOG_REPEAT_MS);
                }
                Received::Nothing
            }
            Server::Provisioning => self.command(identity, datagram, from, now_ms),
        }
    }

    fn command<'a>(
        &mut self,
        identity: &Identity<'_>,
        datagram: &'a [u8],
        from: Peer,
        now_ms: u64,
    ) -> Received<'a> {
        let Some(session) = self.session.as_mut() else {
            return Received::Nothing;
        };
        if session.server.open_until().is_none() {
            return Received::Nothing;
        }
        let mode = session.mode;
        let previous = self.errors.previous().len() as u8;
        if previous > 0 {
            self.push(Pending::PreviousRecords(PackedPeer::new(from), previous));
        }
        let parsed = app::parse_command(datagram).and_then(|command| match command {
            AppCommand::Bind {
                command_type: 0, ..
            } if mode == Mode::SoftAp => Err(sub::INFO_MISSING),
            command => Ok(command),
        });
        let (command_type, ssid, password, token, region) = match parsed {
            Ok(AppCommand::LogQuery) => {
                self.push(Pending::LogDump(
                    Server::Provisioning,
                    PackedPeer::new(from),
                ));
                return Received::Nothing;
            }
            Ok(AppCommand::Bind {
                command_type,
                ssid,
                password,
                token,
                region,
            }) => (command_type, ssid, password, token, region),
            Err(sub_code) => {
                // Sent at once, so it is no unsent record to keep.
                let failure = Failure::new(kind::APP_COMMAND, sub_code);
                self.log.add(now_ms, LogEvent::Failed(failure));
                self.push(Pending::CurrentRecord(
                    PackedPeer::new(from),
                    (sub_code as u16).to_le_bytes(),
                ));
                self.fail(Failure::new(kind::TASK, sub::SERVER_ENDED), now_ms);
                return Received::Nothing;
            }
        };
        self.log.add(now_ms, LogEvent::Command(command_type));
        let region_matches = match region {
            Some(region) => region.equals(identity.region),
            None => identity.region == DEFAULT_REGION,
        };
        let Some(session) = self.session.as_mut() else {
            return Received::Nothing;
        };
        session.token.clear();
        for byte in token.bytes().take(session.token.capacity()) {
            let _ = session.token.push(byte);
        }
        session.region_matches = region_matches;
        session.server = ServerState::FINISHED;
        session.replies = Some(Replies {
            to: from,
            left: NonZeroU8::new(REPLY_COUNT).unwrap_or(NonZeroU8::MIN),
            next_ms: now_ms,
        });
        if session.phase == Phase::WaitingCommand {
            session.phase = Phase::Joining {
                join_at_ms: Moment::NONE,
            };
        }
        match (mode, ssid, password) {
            (Mode::SoftAp, Some(ssid), Some(password)) => Received::Router { ssid, password },
            _ => Received::Nothing,
        }
    }

    /// A Wi-Fi event.
    pub fn wifi(&mut self, event: WifiEvent, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match event {
            WifiEvent::Disconnected => {
                session.wifi_up = false;
                session.budget_deadline_ms = now_ms + BUDGET_AFTER_DISCONNECT_MS;
            }
            WifiEvent::SmartConfigEnded => {
                if session.phase == Phase::WaitingIp {
                    let failure = Failure::new(kind::BOARDING_STOP, sub::STOPPED_BY_APP);
                    self.fail(failure, now_ms);
                }
            }
            WifiEvent::GotIp => {
                session.wifi_up = true;
                match session.phase {
                    Phase::WaitingIp => {
                        session.server = ServerState::open(now_ms + SERVER_LIFETIME_MS);
                        self.log.add(now_ms, LogEvent::GotIp);
                        self.act(Simple::OpenServer(Server::Provisioning));
                        self.begin_binding(now_ms);
                    }
                    Phase::Joining { join_at_ms }
                        if join_at_ms == Moment::NONE && session.replies.is_none() =>
                    {
                        self.log.add(now_ms, LogEvent::GotIp);
                        self.begin_binding(now_ms);
                    }
                    _ => {}
                }
            }
        }
    }

    pub(super) fn succeed(&mut self, now_ms: u64) {
        let Some(mode) = self.session.as_ref().map(|session| session.mode) else {
            return;
        };
        self.log.add(now_ms, LogEvent::Succeeded);
        self.end_session(Some(Outcome::Success));
        self.act(Simple::Led(true));
        self.push(Pending::Urc(mode, Outcome::Success));
    }

    pub(super) fn fail(&mut self, failure: Failure, now_ms: u64) {
        let Some(mode) = self.session.as_ref().map(|session| session.mode) else {
            return;
        };
        self.errors.record(failure);
        self.log.add(now_ms, LogEvent::Failed(failure));
        self.end_session(Some(Outcome::Failed));
        self.outcome = failure;
        self.push(Pending::Urc(mode, Outcome::Failed));
        self.log_ap.open_at_ms = Moment::at(now_ms + LOG_AP_DELAY_MS);
    }

    /// Tears the session down: queued MQTT work is dropped (datagrams
    /// already queued still go out, later replies do not), the server,
    /// MQTT and radio are closed, the LED goes off unless the session
    /// succeeded, unsent records are kept for the next session.
    pub(super) fn end_session(&mut self, outcome: Option<Outcome>) {
        let Some(session) = self.session.take() else {
            return;
        };
        for _ in 0..self.queue.len() {
            if let Some(pending) = self.queue.pop_front() {
                if !matches!(pending, Pending::Subscribe | Pending::Publish) {
                    let _ = self.queue.push_back(pending);
                }
            }
        }
        if session.server.open_until().is_some()
            || (session.server == ServerState::FINISHED && session.replies.is_some())
        {
            self.act(Simple::CloseServer(Server::Provisioning));
        }
        if session.mqtt_open {
            self.act(Simple::MqttDisconnect);
        }
        if session.radio_on {
            self.act(Simple::StopRadio);
        }
        if outcome != Some(Outcome::Success) {
            self.act(Simple::Led(false));
        }
        if self.errors.end_session() {
            self.act(Simple::SaveErrors);
        }
    }
}
