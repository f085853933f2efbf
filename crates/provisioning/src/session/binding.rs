//! The binding of `cloud.md` §6.5 once the module is on the router:
//! registration, the internal MQTT session, the token and its reply.

use super::{
    Identity, Moment, MqttEvent, Pending, Phase, Provisioning, Simple, PUBACK_WAIT_MS,
    PUBLISH_WRITES, SUBSCRIBE_WAIT_MS, TOKEN_WAIT_MS,
};
use crate::errors::{kind, Failure};
use crate::logbook::LogEvent;

impl Provisioning {
    pub(super) fn begin_binding(&mut self, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.registered {
            session.phase = Phase::Connecting {
                retry_at_ms: Moment::NONE,
                retried: false,
            };
            session.mqtt_open = true;
            self.act(Simple::MqttConnect);
        } else {
            session.phase = Phase::Registering;
            self.act(Simple::Register);
        }
        let _ = now_ms;
    }

    /// The outcome of [`crate::Action::Register`]: `Err(code)` with the
    /// `+TCDEVREG` failure code, which ends the session with
    /// `FAILED,1,<code>`.
    pub fn registered(&mut self, result: Result<(), i32>, now_ms: u64) {
        if self.session.as_ref().map(|session| session.phase) != Some(Phase::Registering) {
            return;
        }
        match result {
            Ok(()) => {
                if let Some(session) = self.session.as_mut() {
                    session.registered = true;
                }
                self.log.add(now_ms, LogEvent::Registered);
                self.begin_binding(now_ms);
            }
            Err(code) => self.fail(Failure::new(kind::MQTT_CONNECT, code), now_ms),
        }
    }

    /// The internal MQTT session reports.
    pub fn mqtt(&mut self, identity: &Identity<'_>, event: MqttEvent<'_>, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match (event, session.phase) {
            (MqttEvent::Connected, Phase::Connecting { .. }) => {
                self.log.add(now_ms, LogEvent::Connected);
                session.phase = Phase::Subscribing {
                    deadline_ms: now_ms + SUBSCRIBE_WAIT_MS,
                };
                self.push(Pending::Subscribe);
            }
            (MqttEvent::ConnectFailed(code), Phase::Connecting { retried, .. }) => {
                if retried {
                    self.fail(Failure::new(kind::MQTT_CONNECT, code), now_ms);
                } else {
                    let delay = if session.wifi_up { 1_000 } else { 2_000 };
                    session.phase = Phase::Connecting {
                        retry_at_ms: Moment::at(now_ms + delay),
                        retried: true,
                    };
                }
            }
            (MqttEvent::Subscribed | MqttEvent::SubscribeFailed, Phase::Subscribing { .. }) => {
                self.wait_for_token(now_ms);
            }
            (MqttEvent::PublishWritten, Phase::Publishing { .. }) => {
                session.phase = Phase::WaitingPuback {
                    deadline_ms: now_ms + PUBACK_WAIT_MS,
                };
            }
            (MqttEvent::PublishWriteFailed, Phase::Publishing { writes }) => {
                if writes < PUBLISH_WRITES {
                    session.phase = Phase::Publishing { writes: writes + 1 };
                    self.push(Pending::Publish);
                } else {
                    session.phase = Phase::WaitingPuback {
                        deadline_ms: now_ms + PUBACK_WAIT_MS,
                    };
                }
            }
            (MqttEvent::Puback, Phase::WaitingPuback { .. }) => {
                self.log.add(now_ms, LogEvent::TokenSent);
                session.phase = Phase::WaitingReply {
                    deadline_ms: now_ms + PUBACK_WAIT_MS,
                };
            }
            (MqttEvent::Message { topic, payload }, _) => {
                self.bind_reply(identity, topic, payload, now_ms);
            }
            _ => {}
        }
    }

    /// Step 4: the token is there (softAP, or SmartConfig already received
    /// it and sent its three replies) or is waited for.
    pub(super) fn wait_for_token(&mut self, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.token.is_empty() || session.replies.is_some() {
            session.phase = Phase::WaitingToken {
                deadline_ms: now_ms + TOKEN_WAIT_MS,
            };
        } else {
            self.token_ready(now_ms);
        }
    }

    /// Steps 5 and 6: the region check, then the token PUBLISH.
    pub(super) fn token_ready(&mut self, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if !session.region_matches {
            self.fail(
                Failure::new(kind::MQTT_CONNECT, i32::from(kind::REGION)),
                now_ms,
            );
            return;
        }
        session.client_token_ms = now_ms;
        session.phase = Phase::Publishing { writes: 1 };
        self.push(Pending::Publish);
    }

    /// An error 25 or -104: another round of steps 4–6, or the end.
    pub(super) fn round_failed(&mut self, sub_code: i32, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if session.rounds_left == 0 {
            self.fail(Failure::new(kind::MQTT_CONNECT, sub_code), now_ms);
            return;
        }
        session.rounds_left -= 1;
        self.wait_for_token(now_ms);
    }

    fn bind_reply(&mut self, identity: &Identity<'_>, topic: &[u8], payload: &[u8], now_ms: u64) {
        let Some(session) = self.session.as_ref() else {
            return;
        };
        let Some(code) =
            super::render::bind_reply_code(identity, session.client_token_ms, topic, payload)
        else {
            return;
        };
        self.log.add(now_ms, LogEvent::BindReply(code));
        if code != 0 {
            self.errors.record(Failure::new(kind::TOKEN_REPLY, code));
        }
        if let Phase::WaitingReply { .. } = session.phase {
            self.succeed(now_ms);
        }
    }
}
