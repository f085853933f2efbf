//! The provisioning commands (`commands.md` §6): AT+TCSAP, AT+TCSTOPSAP, AT+TCSTARTSMART,
//! AT+TCSTOPSMART.
//!
//! The handlers check the line and the gates in the spec's order; the session itself (radio,
//! UDP servers, binding, supervision, result URCs) is the executor's provisioning runner
//! (`engine/provisioning_jobs.rs`), because it lives between commands.

use super::{Context, Job, Step};
use crate::params::{ParamError, Params};
use crate::render::{EngineError, Reply};

/// The AP of AT+TCSAP, kept until the runner starts it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessPoint {
    /// SSID, 1..32 bytes.
    pub ssid: heapless::Vec<u8, 32>,
    /// Password, 8..32 bytes, or empty for an open AP. A secret.
    pub password: heapless::Vec<u8, 32>,
    /// Channel 1..13, or 0 for automatic.
    pub channel: u8,
}

impl core::fmt::Debug for AccessPoint {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter
            .debug_struct("AccessPoint")
            .field("ssid", &self.ssid)
            .field("password", &"<secret>")
            .field("channel", &self.channel)
            .finish()
    }
}

/// Steps 1 and 2 of the starts and step 1 of the stops: RUN, then (starts only) DL.
fn gated(context: &Context<'_>, reply: &mut Reply, download_matters: bool) -> bool {
    if context.gates.run {
        reply.cme(208);
        return true;
    }
    if download_matters && context.gates.download {
        reply.cme(200);
        return true;
    }
    false
}

/// AT+TCSAP=?
pub fn tcsap_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCSAP=<ssid>[,<pwd>,<ch>]");
    reply.ok();
    Step::Done
}

/// AT+TCSAP?
pub fn tcsap_query(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Done
}

/// AT+TCSAP="<ssid>"[,"<pwd>"[,<ch>]]
pub fn tcsap_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if gated(context, reply, true) {
        return Step::Done;
    }
    let count = params.count();
    let ssid = params.text::<32>(0, 1, 32);
    let password = (count >= 2).then(|| params.text::<32>(1, 8, 32));
    let channel = (count >= 3).then(|| params.int_in(2, 0..=13));
    // Step 3: a token of the wrong class is `[E:05]` before any range or count.
    let wrong_type = |error: Option<ParamError>| error == Some(ParamError::Type);
    if wrong_type(ssid.as_ref().err().copied())
        || wrong_type(
            password
                .as_ref()
                .and_then(|result| result.as_ref().err().copied()),
        )
        || wrong_type(channel.and_then(Result::err))
    {
        reply.engine_error(EngineError::Type);
        return Step::Done;
    }
    let checked = (|| {
        params.expect_count(1, 3)?;
        Ok::<_, ParamError>(AccessPoint {
            ssid: ssid?,
            password: password.transpose()?.unwrap_or_default(),
            channel: channel.transpose()?.unwrap_or(0) as u8,
        })
    })();
    match checked {
        Ok(access_point) => {
            reply.ok();
            Step::Async(Job::ProvisionStart(Some(access_point)))
        }
        Err(_) => {
            reply.cme(204);
            Step::Done
        }
    }
}

/// AT+TCSTOPSAP=?
pub fn tcstopsap_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCSTOPSAP:CMD TO STOP SOFTAP");
    reply.ok();
    Step::Done
}

/// AT+TCSTOPSAP and AT+TCSTOPSMART: RUN → `CME(208)`, else the stop rule, then `[OK]`.
pub fn stop_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if gated(context, reply, false) {
        return Step::Done;
    }
    Step::Sync(Job::ProvisionStop)
}

/// AT+TCSTARTSMART=?
pub fn tcstartsmart_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCSTARTSMART: CMD FOR START SMARTCONFIG");
    reply.ok();
    Step::Done
}

/// AT+TCSTARTSMART
pub fn tcstartsmart_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if gated(context, reply, true) {
        return Step::Done;
    }
    reply.accepted();
    Step::Async(Job::ProvisionStart(None))
}

/// AT+TCSTOPSMART=?
pub fn tcstopsmart_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCSTOPSMART:CMD TO STOP SMARTCONFIG");
    reply.ok();
    Step::Done
}
