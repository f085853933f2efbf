//! The inputs that answer a waiting job: messages on the reply topics and the
//! request payload they answer (`cloud.md` §9.3–§9.5, §9.7).

use super::{Gateway, Kind, Step};
use crate::command::{code, Action, Outcome, MAXIMUM_REPLY_LENGTH};
use crate::fmt::debug;
use crate::json;
use crate::request::{self, BindFields, BufferTooSmall, Channel, Operation, TIME_REQUEST};

impl Gateway {
    /// A message on `channel` (see [`Channel::of_topic`]); returns whether it
    /// answered the waiting job. Unmatched messages are ignored here (the
    /// runner still forwards them if the host subscribed the topic).
    pub fn handle_message(&mut self, channel: Channel, payload: &[u8]) -> bool {
        let Some(job) = self.job.as_mut() else {
            return false;
        };
        if payload.len() > MAXIMUM_REPLY_LENGTH {
            return false;
        }
        match (channel, job.step) {
            (Channel::TimeResult, Step::AwaitTime { .. }) => {
                let Some(time) = json::time_reply(payload) else {
                    return false;
                };
                job.timestamp = time;
                job.step = Step::PublishRequest;
                true
            }
            (Channel::Result, Step::AwaitReply { .. }) => {
                let Some(reply) = json::gateway_reply(payload) else {
                    return false;
                };
                let operation = match job.kind {
                    Kind::Command(operation) => operation,
                    Kind::Reonline { .. } => Operation::Online,
                };
                if !reply.kind.equals(operation.name().as_bytes())
                    || !reply.product_id.equals(job.subdevice.product_id())
                    || !reply.device_name.equals(job.subdevice.device_name())
                {
                    return false;
                }
                let result = reply.result;
                self.conclude(Some(result));
                true
            }
            _ => false,
        }
    }

    /// Writes the payload of the last [`Action::Publish`]; returns its length.
    ///
    /// # Errors
    /// [`BufferTooSmall`] (at most [`request::MAXIMUM_REQUEST_LENGTH`] is needed).
    pub fn write_payload(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let Some(job) = self.job.as_ref() else {
            return Ok(0);
        };
        if matches!(job.step, Step::AwaitTime { .. }) {
            let mut writer = request::Writer::new(out);
            writer.put(TIME_REQUEST)?;
            return Ok(writer.length);
        }
        let operation = match job.kind {
            Kind::Command(operation) => operation,
            Kind::Reonline { .. } => Operation::Online,
        };
        let bind = (operation == Operation::Bind).then(|| BindFields {
            signature: request::bind_signature(
                &job.subdevice,
                job.secret.as_bytes(),
                job.random,
                job.timestamp,
            ),
            random: job.random,
            timestamp: job.timestamp,
        });
        request::write_request(operation, &job.subdevice, bind.as_ref(), out)
    }

    /// Applies a reply's `result` (or `None`: no reply in time).
    pub(super) fn conclude(&mut self, result: Option<i32>) -> Option<Action> {
        let job = self.job.as_mut()?;
        let subdevice = job.subdevice;
        match job.kind {
            Kind::Reonline { index } => {
                if result == Some(0) {
                    job.kind = Kind::Reonline { index: index + 1 };
                } else {
                    debug!("gateway: re-online of {:?} failed", subdevice);
                    self.online.remove(&subdevice);
                }
                job.step = Step::PublishRequest;
                None
            }
            Kind::Command(operation) => {
                let outcome = match result {
                    None => Outcome::Fail(code::TIMEOUT),
                    Some(0) => Outcome::Ok,
                    Some(code::ALREADY_BOUND) if operation == Operation::Bind => Outcome::Ok,
                    Some(other) => Outcome::Fail(other),
                };
                if outcome == Outcome::Ok {
                    match operation {
                        // The list was checked before sending, so it has room.
                        Operation::Online => {
                            let _ = self.online.insert(subdevice);
                        }
                        Operation::Offline | Operation::Unbind => {
                            self.online.remove(&subdevice);
                        }
                        Operation::Bind => {}
                    }
                }
                job.step = Step::Finish(outcome);
                // Reported by the next poll, so a reply and a timeout end alike.
                if result.is_none() {
                    return self.finish(outcome);
                }
                None
            }
        }
    }
}
