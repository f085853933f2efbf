//! AT+TCREGNET (`commands.md` §3, Cap): the module's network registration, which for a Wi-Fi
//! module is the station join of AT+CWJAP with Tencent-style answers (`+CME` errors, pattern
//! "A" results, the password shown as its BCC). Only `<module_type>` 1 (Wi-Fi) exists here.

use storage::WifiStation;

use super::{bcc, Context, Job, Step};
use crate::params::{ParamError, Params};
use crate::render::Reply;

/// `<module_type>` of a Wi-Fi module (0 is cellular).
const WIFI_MODULE: i32 = 1;

/// AT+TCREGNET=?
pub fn tcregnet_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCREGNET:\"MODULE_TYPE(1)\",\"STATE(0/1)\",\"IP\",\"SSID\",\"PSW_BCC\"");
    reply.ok();
    Step::Done
}

/// AT+TCREGNET?: the association and the stored password's BCC.
pub fn tcregnet_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let line = reply.line().text("+TCREGNET:1,");
    match &context.association {
        Some(association) => {
            let [a, b, c, d] = association.ip.ip;
            // The password the station joined with is the stored one (AT+CWJAP, AT+TCREGNET
            // and the auto-join all use the station configuration).
            let password = context
                .state
                .settings
                .station
                .as_ref()
                .filter(|station| station.ssid == association.ssid)
                .map_or(0, |station| bcc(&station.password));
            line.fmt(format_args!("1,\"{a}.{b}.{c}.{d}\","))
                .quoted(&association.ssid)
                .text(",")
                .int(password)
                .end();
        }
        None => line.text("0,\"0.0.0.0\",\"\",0").end(),
    }
    reply.ok();
    Step::Done
}

/// `AT+TCREGNET=1,"<ssid>","<pw>"`: steps 1–4; the join is [`Job::RegisterNetwork`].
pub fn tcregnet_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if context.gates.provisioning {
        reply.cme(208);
        return Step::Done;
    }
    let checked = (|| {
        if params.int(0)? != WIFI_MODULE {
            return Err(ParamError::Range);
        }
        params.expect_count(3, 3)?;
        Ok(WifiStation {
            ssid: params.field(1, 1, 32)?,
            password: params.field(2, 0, 63)?,
        })
    })();
    match checked {
        Ok(station) => {
            reply.accepted();
            Step::Async(Job::RegisterNetwork(station))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::ToOwned;

    use crate::board::Profile;
    use crate::handlers::testing::{run, run_with_gates};
    use crate::handlers::{Job, Step};
    use crate::state::{Gates, RamState};

    fn answer(line: &str) -> std::vec::Vec<u8> {
        let mut state = RamState::boot(storage::Snapshot::default());
        run(&mut state, Profile::Full, line.as_bytes()).0
    }

    #[test]
    fn forms_without_a_join() {
        assert_eq!(
            answer("AT+TCREGNET=?"),
            b"+TCREGNET:\"MODULE_TYPE(1)\",\"STATE(0/1)\",\"IP\",\"SSID\",\"PSW_BCC\"\r\n\r\nOK\r\n"
        );
        assert_eq!(
            answer("AT+TCREGNET?"),
            b"+TCREGNET:1,0,\"0.0.0.0\",\"\",0\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn provisioning_then_type_then_count_and_lengths() {
        let mut state = RamState::boot(storage::Snapshot::default());
        let gates = Gates {
            provisioning: true,
            ..Gates::default()
        };
        let (reply, _) = run_with_gates(&mut state, Profile::Full, gates, b"AT+TCREGNET=0");
        assert_eq!(reply, b"+CME ERROR:208\r\n");
        let long_ssid = "s".repeat(33);
        let long_password = "p".repeat(64);
        for line in [
            "AT+TCREGNET=0,\"ap\",\"pw\"".to_owned(),
            "AT+TCREGNET=\"1\",\"ap\",\"pw\"".to_owned(),
            "AT+TCREGNET=1,\"ap\"".to_owned(),
            "AT+TCREGNET=1,\"ap\",\"pw\",\"x\"".to_owned(),
            "AT+TCREGNET=1,\"\",\"pw\"".to_owned(),
            std::format!("AT+TCREGNET=1,\"{long_ssid}\",\"pw\""),
            std::format!("AT+TCREGNET=1,\"ap\",\"{long_password}\""),
            "AT+TCREGNET=1,ap,\"pw\"".to_owned(),
        ] {
            assert_eq!(answer(&line), b"+CME ERROR:204\r\n", "{line}");
        }
    }

    #[test]
    fn an_open_network_is_accepted_with_a_join_job() {
        let mut state = RamState::boot(storage::Snapshot::default());
        let (reply, step) = run(&mut state, Profile::Full, b"AT+TCREGNET=1,\"hub-ap\",\"\"");
        assert_eq!(reply, b"OK\r\n");
        let Step::Async(Job::RegisterNetwork(station)) = step else {
            panic!("expected a join job");
        };
        assert_eq!(
            (&station.ssid[..], &station.password[..]),
            (&b"hub-ap"[..], &b""[..])
        );
    }
}
