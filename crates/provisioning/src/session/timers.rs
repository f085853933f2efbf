//! The timers `poll` runs before handing out work: LED, budget, server
//! lifetime, replies, the phase deadlines and the log softAP.

use core::num::NonZeroU8;

use super::{
    LogAp, Moment, PackedPeer, Pending, Phase, Provisioning, Server, Simple, LOG_AP_LIFETIME_MS,
    REPLY_INTERVAL_MS,
};
use crate::errors::{kind, sub, Failure};

impl Provisioning {
    /// Runs every timer due at `now_ms`.
    pub(super) fn advance(&mut self, now_ms: u64) {
        self.advance_log_ap(now_ms);
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if let Some(toggle) = session.next_toggle_ms.get().filter(|&at| at <= now_ms) {
            session.led = !session.led;
            let period = session.mode.period_ms();
            // Polled late: the blink restarts from now rather than catching up.
            let next = if toggle + period > now_ms {
                toggle + period
            } else {
                now_ms + period
            };
            session.next_toggle_ms = Moment::at(next);
            let led = session.led;
            self.act(Simple::Led(led));
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        if now_ms >= session.budget_deadline_ms {
            self.fail(Failure::new(kind::BOARDING_STOP, sub::TIMEOUT), now_ms);
            return;
        }
        if let Some(until_ms) = session.server.open_until() {
            if now_ms >= until_ms {
                self.fail(Failure::new(kind::TASK, sub::SERVER_ENDED), now_ms);
                return;
            }
        }
        if let Some(replies) = session
            .replies
            .as_mut()
            .filter(|replies| replies.next_ms <= now_ms)
        {
            let to = replies.to;
            replies.next_ms += REPLY_INTERVAL_MS;
            let left = NonZeroU8::new(replies.left.get() - 1);
            if let Some(left) = left {
                replies.left = left;
                self.push(Pending::Reply(PackedPeer::new(to)));
            } else {
                session.replies = None;
                if let Phase::Joining { .. } = session.phase {
                    session.phase = Phase::Joining {
                        join_at_ms: Moment::at(now_ms + REPLY_INTERVAL_MS),
                    };
                }
                self.push(Pending::Reply(PackedPeer::new(to)));
                self.act(Simple::CloseServer(Server::Provisioning));
                // The token reaches the binding once the replies are out, as from the
                // original's UDP task: a region fault still gets its three replies.
                if let Phase::WaitingToken { .. } = self
                    .session
                    .as_ref()
                    .map_or(Phase::Starting, |session| session.phase)
                {
                    self.token_ready(now_ms);
                }
            }
            return;
        }
        self.advance_phase(now_ms);
    }

    fn advance_phase(&mut self, now_ms: u64) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match session.phase {
            Phase::Joining { join_at_ms } if join_at_ms.due(now_ms) => {
                session.phase = Phase::Joining {
                    join_at_ms: Moment::NONE,
                };
                session.radio_on = false;
                self.act(Simple::JoinRouter);
            }
            Phase::Connecting {
                retry_at_ms,
                retried,
            } if retry_at_ms.due(now_ms) => {
                session.phase = Phase::Connecting {
                    retry_at_ms: Moment::NONE,
                    retried,
                };
                self.act(Simple::MqttConnect);
            }
            Phase::Subscribing { deadline_ms } if deadline_ms <= now_ms => {
                self.wait_for_token(now_ms);
            }
            Phase::WaitingToken { deadline_ms } if deadline_ms <= now_ms => {
                self.round_failed(i32::from(kind::TOKEN_TIMEOUT), now_ms);
            }
            Phase::WaitingPuback { deadline_ms } if deadline_ms <= now_ms => {
                self.round_failed(sub::NO_PUBACK, now_ms);
            }
            Phase::WaitingReply { deadline_ms } if deadline_ms <= now_ms => self.succeed(now_ms),
            _ => {}
        }
    }

    fn advance_log_ap(&mut self, now_ms: u64) {
        let LogAp {
            open_at_ms,
            close_at_ms,
            repeat_at_ms,
            repeat_to,
        } = self.log_ap;
        if open_at_ms.due(now_ms) {
            self.log_ap.open_at_ms = Moment::NONE;
            self.log_ap.close_at_ms = Moment::at(now_ms + LOG_AP_LIFETIME_MS);
            self.act(Simple::OpenLogAp);
            self.act(Simple::OpenServer(Server::Log));
        } else if close_at_ms.due(now_ms) {
            self.close_log_ap();
        } else if repeat_at_ms.due(now_ms) {
            self.log_ap.repeat_at_ms = Moment::NONE;
            self.push(Pending::LogDump(Server::Log, PackedPeer::new(repeat_to)));
        }
    }

    /// When `poll` next has something to do, if ever.
    #[must_use]
    pub fn next_wake_ms(&self) -> Option<u64> {
        if !self.queue.is_empty() {
            return Some(0);
        }
        let log_ap = [
            self.log_ap.open_at_ms.get(),
            self.log_ap.close_at_ms.get(),
            self.log_ap.repeat_at_ms.get(),
        ];
        let session = self.session.as_ref().map_or([None; 6], |session| {
            let phase = match session.phase {
                Phase::Joining { join_at_ms } => join_at_ms.get(),
                Phase::Connecting { retry_at_ms, .. } => retry_at_ms.get(),
                Phase::Subscribing { deadline_ms }
                | Phase::WaitingToken { deadline_ms }
                | Phase::WaitingPuback { deadline_ms }
                | Phase::WaitingReply { deadline_ms } => Some(deadline_ms),
                _ => None,
            };
            let server = session.server.open_until();
            [
                Some(session.budget_deadline_ms),
                session.next_toggle_ms.get(),
                session.replies.map(|replies| replies.next_ms),
                phase,
                server,
                None,
            ]
        });
        log_ap.into_iter().chain(session).flatten().min()
    }
}
