//! `poll`: queued work turned into actions, and the bytes they carry (URCs,
//! datagrams, topics, the token PUBLISH) written into the caller's buffer.

use ota::json::{for_each_member, Value};

use super::{Action, Identity, Outcome, Pending, Provisioning, Server};
use crate::app::write_device_reply;
use crate::errors::{write_record, Age, Failure};
use crate::write::{Out, Overflow};

impl Provisioning {
    /// Runs the timers due at `now_ms` and returns the next thing to do,
    /// its bytes at the front of `out` (256 bytes hold every URC, record,
    /// reply and the token PUBLISH; a log dump needs up to 10 × 80). Call
    /// until it returns `None`.
    ///
    /// `identity` is the stored record (`None` without one); datagrams and
    /// topics carry it.
    pub fn poll(
        &mut self,
        identity: Option<&Identity<'_>>,
        now_ms: u64,
        out: &mut [u8],
    ) -> Option<Action> {
        self.advance(now_ms);
        while let Some(pending) = self.queue.pop_front() {
            match self.render(identity, pending, out) {
                Ok(Some(action)) => return Some(action),
                Ok(None) => {}
                Err(Overflow) => crate::fmt::warning!("provisioning output buffer too small"),
            }
        }
        None
    }

    fn render(
        &mut self,
        identity: Option<&Identity<'_>>,
        pending: Pending,
        buffer: &mut [u8],
    ) -> Result<Option<Action>, Overflow> {
        let mut out = Out::new(buffer);
        match pending {
            Pending::Simple(simple) => return Ok(Some(simple.into())),
            Pending::Urc(mode, outcome) => {
                out.put(mode.urc_prefix())?;
                match outcome {
                    Outcome::Started => out.put(b"OK")?,
                    Outcome::StartFailed(kind) => {
                        out.put(b"FAIL,")?;
                        out.integer(i64::from(kind))?;
                    }
                    Outcome::Success => out.put(b"WIFI_CONNECT_SUCCESS")?,
                    Outcome::Failed => {
                        let failure = self.outcome;
                        out.put(b"WIFI_CONNECT_FAILED,")?;
                        out.integer(i64::from(failure.kind))?;
                        out.put(b",")?;
                        out.integer(i64::from(failure.sub))?;
                    }
                }
                out.put(b"\r\n")?;
                return Ok(Some(Action::Urc { length: out.len() }));
            }
            Pending::Reply(to) => {
                let Some(identity) = identity else {
                    return Ok(None);
                };
                write_device_reply(identity, &mut out)?;
                return Ok(Some(send(Server::Provisioning, to.peer(), &out)));
            }
            Pending::PreviousRecords(to, left) => {
                let Some(failure) = self.errors.take_previous() else {
                    return Ok(None);
                };
                let next = if left <= 1 || self.errors.previous().is_empty() {
                    Pending::Simple(super::Simple::SaveErrors)
                } else {
                    Pending::PreviousRecords(to, left - 1)
                };
                let _ = self.queue.push_front(next);
                write_record(failure, Age::Previous, &mut out)?;
                return Ok(Some(send(Server::Provisioning, to.peer(), &out)));
            }
            Pending::CurrentRecord(to, sub_code) => {
                let sub_code = i32::from(u16::from_le_bytes(sub_code));
                let failure = Failure::new(crate::errors::kind::APP_COMMAND, sub_code);
                write_record(failure, Age::Current, &mut out)?;
                return Ok(Some(send(Server::Provisioning, to.peer(), &out)));
            }
            Pending::LogDump(server, to) => {
                let length = self.log.write_dump(buffer)?;
                return Ok(Some(Action::Send {
                    server,
                    to: to.peer(),
                    length,
                }));
            }
            Pending::Subscribe | Pending::Publish => {}
        }
        let (Some(identity), Some(session)) = (identity, self.session.as_ref()) else {
            return Ok(None);
        };
        if pending == Pending::Subscribe {
            write_topic(identity, b"$thing/down/service/", &mut out)?;
            return Ok(Some(Action::MqttSubscribe { length: out.len() }));
        }
        write_topic(identity, b"$thing/up/service/", &mut out)?;
        let topic_length = out.len();
        out.put(b"{\"method\":\"app_bind_token\",\"clientToken\":\"")?;
        out.put(identity.device_name)?;
        out.put(b"-")?;
        out.integer(session.client_token_ms as i64)?;
        out.put(b"\",\"params\": {\"token\":\"")?;
        for &byte in session.token.iter() {
            if matches!(byte, b'"' | b'\\') {
                out.put(b"\\")?;
            }
            out.put(&[byte])?;
        }
        out.put(b"\"}}")?;
        Ok(Some(Action::MqttPublish {
            topic_length,
            payload_length: out.len() - topic_length,
        }))
    }
}

fn send(server: Server, to: super::Peer, out: &Out<'_>) -> Action {
    Action::Send {
        server,
        to,
        length: out.len(),
    }
}

fn write_topic(identity: &Identity<'_>, prefix: &[u8], out: &mut Out<'_>) -> Result<(), Overflow> {
    out.put(prefix)?;
    out.put(identity.product_id)?;
    out.put(b"/")?;
    out.put(identity.device_name)
}

/// The `code` of an `app_bind_token_reply` to our token PUBLISH
/// (`cloud.md` §6.5 step 7), or `None` for any other message.
pub(super) fn bind_reply_code(
    identity: &Identity<'_>,
    client_token_ms: u64,
    topic: &[u8],
    payload: &[u8],
) -> Option<i32> {
    let mut expected_topic = [0u8; 96];
    let mut out = Out::new(&mut expected_topic);
    write_topic(identity, b"$thing/down/service/", &mut out).ok()?;
    let length = out.len();
    if topic != &expected_topic[..length] {
        return None;
    }
    let mut expected_token = [0u8; 72];
    let mut out = Out::new(&mut expected_token);
    out.put(identity.device_name).ok()?;
    out.put(b"-").ok()?;
    out.integer(client_token_ms as i64).ok()?;
    let token_length = out.len();
    let (mut method, mut token, mut code) = (false, false, None);
    for_each_member(payload, |name, value| match (name, value) {
        (b"method", Value::String(text)) => method = text.equals(b"app_bind_token_reply"),
        (b"clientToken", Value::String(text)) => {
            token = text.equals(&expected_token[..token_length]);
        }
        (b"code", Value::Number(digits)) => code = parse_code(digits),
        _ => {}
    })
    .ok()?;
    (method && token).then_some(code?)
}

fn parse_code(digits: &[u8]) -> Option<i32> {
    core::str::from_utf8(digits).ok()?.parse().ok()
}
