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

/// `AT+TCSAP="<ssid>"[,"<pwd>"[,<ch>]]`
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

#[cfg(test)]
mod tests {
    use super::super::testing::{run, run_with_gates, state, text};
    use super::*;
    use crate::board::Profile;
    use crate::state::Gates;

    #[test]
    fn test_and_query_forms_print_the_spec_lines() {
        for (line, expected) in [
            (
                &b"AT+TCSAP=?"[..],
                &b"+TCSAP=<ssid>[,<pwd>,<ch>]\r\n\r\nOK\r\n"[..],
            ),
            (b"AT+TCSAP?", b"\r\nOK\r\n"),
            (
                b"AT+TCSTOPSAP=?",
                b"+TCSTOPSAP:CMD TO STOP SOFTAP\r\n\r\nOK\r\n",
            ),
            (
                b"AT+TCSTARTSMART=?",
                b"+TCSTARTSMART: CMD FOR START SMARTCONFIG\r\n\r\nOK\r\n",
            ),
            (
                b"AT+TCSTOPSMART=?",
                b"+TCSTOPSMART:CMD TO STOP SMARTCONFIG\r\n\r\nOK\r\n",
            ),
        ] {
            let (reply, step) = run(&mut state(), Profile::Esp8266, line);
            assert_eq!(text(&reply), text(expected), "{}", text(line));
            assert!(matches!(step, Step::Done));
        }
    }

    #[test]
    fn a_valid_tcsap_prints_ok_once_and_starts_with_its_ap() {
        let (reply, step) = run(&mut state(), Profile::Full, b"AT+TCSAP=\"prov\"");
        assert_eq!(reply, b"\r\nOK\r\n");
        let Step::Async(Job::ProvisionStart(Some(access_point))) = step else {
            panic!("not a start: {step:?}");
        };
        assert_eq!(
            (&access_point.ssid[..], &access_point.password[..]),
            (&b"prov"[..], &b""[..])
        );
        assert_eq!(access_point.channel, 0);
        let line = b"AT+TCSAP=\"p\\\"x\",\"12345678\",13";
        let (reply, step) = run(&mut state(), Profile::Full, line);
        assert_eq!(reply, b"\r\nOK\r\n");
        let Step::Async(Job::ProvisionStart(Some(access_point))) = step else {
            panic!("not a start");
        };
        assert_eq!(&access_point.ssid[..], b"p\"x");
        assert_eq!(&access_point.password[..], b"12345678");
        assert_eq!(access_point.channel, 13);
        assert!(!std::format!("{access_point:?}").contains("12345678"));
    }

    #[test]
    fn bad_tcsap_lines_get_their_exact_errors_in_the_spec_order() {
        let type_error = &b"ERR CODE:0x01050000\r\n\r\nERROR\r\n"[..];
        let cme = &b"+CME ERROR:204\r\n"[..];
        let long = std::format!("AT+TCSAP=\"{}\"", "s".repeat(33));
        let long_password = std::format!("AT+TCSAP=\"s\",\"{}\"", "p".repeat(33));
        let cases: [(&[u8], &[u8]); 13] = [
            (b"AT+TCSAP=1", type_error),
            (b"AT+TCSAP=\"s\",12345678", type_error),
            (b"AT+TCSAP=\"s\",\"12345678\",\"1\"", type_error),
            (b"AT+TCSAP=,\"12345678\"", type_error),
            (b"AT+TCSAP=\"s\",,1", type_error),
            (b"AT+TCSAP=\"\"", cme),
            (long.as_bytes(), cme),
            (b"AT+TCSAP=\"s\",\"1234567\"", cme),
            (long_password.as_bytes(), cme),
            (b"AT+TCSAP=\"s\",\"12345678\",14", cme),
            (b"AT+TCSAP=\"s\",\"12345678\",-1", cme),
            (b"AT+TCSAP=\"s\",\"12345678\",1,2", cme),
            // A type error wins over a range error elsewhere.
            (b"AT+TCSAP=\"\",\"12345678\",\"x\"", type_error),
        ];
        for (line, expected) in cases {
            let mut state = state();
            let before = state.clone().settings;
            let (reply, step) = run(&mut state, Profile::Full, line);
            assert_eq!(text(&reply), text(expected), "{}", text(line));
            assert!(matches!(step, Step::Done), "{}", text(line));
            assert_eq!(state.settings, before);
        }
    }

    #[test]
    fn the_gates_come_first_run_then_download() {
        let running = Gates {
            run: true,
            conn: true,
            ..Gates::default()
        };
        let downloading = Gates {
            download: true,
            ..Gates::default()
        };
        let provisioning = Gates {
            provisioning: true,
            ..Gates::default()
        };
        for line in [
            &b"AT+TCSAP=1"[..],
            b"AT+TCSTARTSMART",
            b"AT+TCSTOPSAP",
            b"AT+TCSTOPSMART",
        ] {
            let (reply, _) = run_with_gates(&mut state(), Profile::Full, running, line);
            assert_eq!(reply, b"+CME ERROR:208\r\n", "{}", text(line));
        }
        for line in [&b"AT+TCSAP=\"s\""[..], b"AT+TCSTARTSMART"] {
            let (reply, _) = run_with_gates(&mut state(), Profile::Full, downloading, line);
            assert_eq!(reply, b"+CME ERROR:200\r\n", "{}", text(line));
        }
        // A running session is restarted by a start and ended by a stop.
        let (reply, step) = run_with_gates(
            &mut state(),
            Profile::Full,
            provisioning,
            b"AT+TCSTARTSMART",
        );
        assert_eq!(reply, b"OK\r\n");
        assert!(matches!(step, Step::Async(Job::ProvisionStart(None))));
        let (reply, step) =
            run_with_gates(&mut state(), Profile::Full, provisioning, b"AT+TCSTOPSMART");
        assert!(reply.is_empty());
        assert!(matches!(step, Step::Sync(Job::ProvisionStop)));
    }
}
