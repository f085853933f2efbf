//! The gateway state machine (`commands.md` §10, `cloud.md` §9.2–§9.7).
//!
//! Sans-IO like `mqtt-session`: the runner (the engine's MQTT task) starts a
//! command with [`Gateway::begin`], then calls [`Gateway::poll`] with the
//! current time and acts on each [`Action`]: subscribe an internal filter
//! and report the SUBACK with [`Gateway::subscribed`], publish the payload
//! [`Gateway::write_payload`] writes into its transmit buffer, or print the
//! result line. Messages on the two reply topics go to
//! [`Gateway::handle_message`]; a drop to [`Gateway::link_lost`]. Time is an
//! argument, so cmdtimeout and the 2000 ms time wait are plain integers in
//! tests.
//!
//! Only one request is in flight (commands run one at a time), so the state
//! is the online list plus one job: about 1.1 KiB in all.

mod reply;

use crate::command::TIME_REPLY_TIMEOUT_MS;
use crate::command::{code, Action, Busy, Outcome, Request, Secret, Subscription};
use crate::fmt::debug;
use crate::request::{Channel, Operation};
use crate::subdevice::{OnlineList, SubDevice};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Subscribe(Channel),
    AwaitSubscription(Channel),
    PublishTime,
    AwaitTime { deadline: u64 },
    PublishRequest,
    AwaitReply { deadline: u64 },
    Finish(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Command(Operation),
    /// Re-onlining list entry `index` (oldest first).
    Reonline {
        index: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Job {
    kind: Kind,
    step: Step,
    subdevice: SubDevice,
    secret: Secret,
    random: u32,
    timestamp: u64,
    timeout_ms: u32,
}

/// The gateway side of one MQTT session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gateway {
    online: OnlineList,
    result_subscribed: bool,
    time_subscribed: bool,
    job: Option<Job>,
}

impl Gateway {
    /// No sub-device online, no internal slot, nothing running.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            online: OnlineList::new(),
            result_subscribed: false,
            time_subscribed: false,
            job: None,
        }
    }

    /// The online list (`AT+TCGWONLINE?`).
    #[must_use]
    pub fn online(&self) -> &OnlineList {
        &self.online
    }

    /// Whether the internal slot of `channel` is subscribed in this session
    /// (the runner re-subscribes it after a reconnect).
    #[must_use]
    pub fn is_subscribed(&self, channel: Channel) -> bool {
        match channel {
            Channel::Result => self.result_subscribed,
            Channel::TimeResult => self.time_subscribed,
            Channel::Request | Channel::TimeRequest => false,
        }
    }

    /// Whether a command or the re-online is running.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.job.is_some()
    }

    /// Starts a checked command after its `OK`; `command_timeout_ms` bounds
    /// each wait.
    ///
    /// # Errors
    /// [`Busy`] while another job runs.
    pub fn begin(&mut self, request: Request, command_timeout_ms: u32) -> Result<(), Busy> {
        if self.job.is_some() {
            return Err(Busy);
        }
        let operation = request.operation();
        let (subdevice, secret, random) = match request {
            Request::Bind {
                subdevice,
                secret,
                random,
            } => (subdevice, secret, random % 2_147_483_647 + 1),
            Request::Unbind { subdevice }
            | Request::Online { subdevice }
            | Request::Offline { subdevice } => (subdevice, Secret::empty(), 0),
        };
        debug!("gateway: {} {:?}", operation.name(), subdevice);
        let step = if self.result_subscribed {
            self.after_preparation(operation, &subdevice)
        } else {
            Step::Subscribe(Channel::Result)
        };
        self.job = Some(Job {
            kind: Kind::Command(operation),
            step,
            subdevice,
            secret,
            random,
            timestamp: 0,
            timeout_ms: command_timeout_ms,
        });
        Ok(())
    }

    /// After an automatic reconnect and the internal re-subscriptions: send
    /// the online request of every listed sub-device, oldest first
    /// (`cloud.md` §9.7). Ends with [`Action::ReonlineFinished`].
    ///
    /// # Errors
    /// [`Busy`] while another job runs.
    pub fn begin_reonline(&mut self, command_timeout_ms: u32) -> Result<(), Busy> {
        if self.job.is_some() {
            return Err(Busy);
        }
        self.job = Some(Job {
            kind: Kind::Reonline { index: 0 },
            step: Step::PublishRequest,
            subdevice: SubDevice::placeholder(),
            secret: Secret::empty(),
            random: 0,
            timestamp: 0,
            timeout_ms: command_timeout_ms,
        });
        Ok(())
    }

    /// The next action, or `None` while waiting (until [`Gateway::next_deadline`]
    /// or an input).
    pub fn poll(&mut self, now: u64) -> Option<Action> {
        let job = self.job.as_mut()?;
        if let Kind::Reonline { index } = job.kind {
            if job.step == Step::PublishRequest {
                match self.online.get(usize::from(index)) {
                    Some(subdevice) => job.subdevice = *subdevice,
                    None => {
                        self.job = None;
                        return Some(Action::ReonlineFinished);
                    }
                }
            }
        }
        let timeout = u64::from(job.timeout_ms);
        match job.step {
            Step::Subscribe(channel) => {
                job.step = Step::AwaitSubscription(channel);
                Some(Action::Subscribe(channel))
            }
            Step::PublishTime => {
                job.step = Step::AwaitTime {
                    deadline: now.saturating_add(TIME_REPLY_TIMEOUT_MS),
                };
                Some(Action::Publish(Channel::TimeRequest))
            }
            Step::PublishRequest => {
                job.step = Step::AwaitReply {
                    deadline: now.saturating_add(timeout),
                };
                Some(Action::Publish(Channel::Request))
            }
            Step::AwaitTime { deadline } if now >= deadline => {
                debug!("gateway: no cloud time");
                self.finish(Outcome::Fail(code::TIME_QUERY_FAILED))
            }
            Step::AwaitReply { deadline } if now >= deadline => {
                debug!("gateway: no reply");
                // A command ends here; a re-online moves on to the next entry.
                self.conclude(None).or_else(|| self.poll(now))
            }
            Step::Finish(outcome) => self.finish(outcome),
            Step::AwaitSubscription(_) | Step::AwaitTime { .. } | Step::AwaitReply { .. } => None,
        }
    }

    /// When [`Gateway::poll`] must be called again without any input.
    #[must_use]
    pub fn next_deadline(&self) -> Option<u64> {
        match self.job.as_ref()?.step {
            Step::AwaitTime { deadline } | Step::AwaitReply { deadline } => Some(deadline),
            Step::AwaitSubscription(_) => None,
            // Something to do at once.
            Step::Subscribe(_) | Step::PublishTime | Step::PublishRequest | Step::Finish(_) => {
                Some(0)
            }
        }
    }

    /// The SUBACK (or its absence) of an [`Action::Subscribe`].
    pub fn subscribed(&mut self, channel: Channel, outcome: Subscription) {
        let Some(job) = self.job.as_ref() else {
            return;
        };
        let Kind::Command(operation) = job.kind else {
            return;
        };
        if job.step != Step::AwaitSubscription(channel) {
            return;
        }
        let subdevice = job.subdevice;
        let step = match (channel, outcome) {
            (Channel::Result, Subscription::Granted) => {
                self.result_subscribed = true;
                self.after_preparation(operation, &subdevice)
            }
            (Channel::Result, Subscription::Refused) => {
                Step::Finish(Outcome::Fail(code::SUBSCRIBE_REFUSED))
            }
            (Channel::Result, Subscription::TimedOut) => Step::Finish(Outcome::Fail(code::TIMEOUT)),
            (Channel::TimeResult, Subscription::Granted) => {
                self.time_subscribed = true;
                Step::PublishTime
            }
            (Channel::TimeResult, Subscription::Refused | Subscription::TimedOut) => {
                Step::Finish(Outcome::Fail(code::TIME_QUERY_FAILED))
            }
            // Never awaited: these channels are only published on.
            (Channel::Request | Channel::TimeRequest, _) => return,
        };
        if let Some(job) = self.job.as_mut() {
            job.step = step;
        }
    }

    /// An internal re-subscription after a reconnect failed: the next
    /// command subscribes again.
    pub fn forget_subscription(&mut self, channel: Channel) {
        match channel {
            Channel::Result => self.result_subscribed = false,
            Channel::TimeResult => self.time_subscribed = false,
            Channel::Request | Channel::TimeRequest => {}
        }
    }

    /// The link dropped: a waiting command fails `-103`; a re-online stops
    /// (the list is kept for the next reconnect).
    pub fn link_lost(&mut self) {
        let Some(job) = self.job.as_mut() else {
            return;
        };
        match job.kind {
            Kind::Command(_) if !matches!(job.step, Step::Finish(_)) => {
                job.secret.wipe();
                job.step = Step::Finish(Outcome::Fail(code::LINK_LOST));
            }
            Kind::Command(_) => {}
            Kind::Reonline { .. } => self.job = None,
        }
    }

    /// The session ended (`AT+TCMQTTDISCONN`, a drop without reconnect,
    /// `-106`): list and internal slots cleared, nothing sent (`cloud.md`
    /// §9.7). A waiting command still reports `-103` at the next poll.
    pub fn end_session(&mut self) {
        self.link_lost();
        self.online.clear();
        self.result_subscribed = false;
        self.time_subscribed = false;
    }

    /// The step after a granted result subscription: the list checks of
    /// `AT+TCGWONLINE` (step 9, nothing sent on failure), the time query of
    /// a bind, or the request.
    fn after_preparation(&self, operation: Operation, subdevice: &SubDevice) -> Step {
        let listed = self.online.contains(subdevice);
        match operation {
            Operation::Online if listed => Step::Finish(Outcome::Fail(code::ALREADY_ONLINE)),
            Operation::Online if self.online.is_full() => {
                Step::Finish(Outcome::Fail(code::LIST_FULL))
            }
            Operation::Offline if !listed => Step::Finish(Outcome::Fail(code::NOT_ONLINE)),
            Operation::Bind if self.time_subscribed => Step::PublishTime,
            Operation::Bind => Step::Subscribe(Channel::TimeResult),
            Operation::Online | Operation::Offline | Operation::Unbind => Step::PublishRequest,
        }
    }

    fn finish(&mut self, outcome: Outcome) -> Option<Action> {
        let mut job = self.job.take()?;
        job.secret.wipe();
        match job.kind {
            Kind::Command(operation) => {
                debug!("gateway: {} ended {:?}", operation.name(), outcome);
                Some(Action::Finished(operation, outcome))
            }
            Kind::Reonline { .. } => Some(Action::ReonlineFinished),
        }
    }
}
