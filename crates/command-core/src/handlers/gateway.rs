//! The gateway commands (`commands.md` §10): AT+TCGWBIND and AT+TCGWONLINE.
//!
//! The handlers run the set checks (the `gateway` crate's, in the spec's order) and hand the
//! checked request to the MQTT service as a job; the service runs the gateway state machine
//! and writes the result line. The online list lives with the service (`MqttShared`), so
//! AT+TCGWONLINE? is a job too. Their `?` (AT+TCGWBIND) and execute forms have no handler:
//! `[E:09]`, as in the original.

use super::{Context, Job, Step};
use crate::params::Params;
use crate::render::{EngineError, Reply};
use gateway::ArgumentError;

/// AT+TCGWBIND=?
pub fn tcgwbind_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.push(gateway::BIND_TEST_RESPONSE);
    reply.ok();
    Step::Done
}

/// `AT+TCGWBIND=<mode>,"<sub_pid>","<sub_dn>"[,"<sub_secret>"]`
pub fn tcgwbind_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    // `<r>` is drawn by the service from the board's RNG when the bind starts.
    accept(
        gateway::check_bind(context.gates.conn, params.args(), 0),
        reply,
    )
}

/// AT+TCGWONLINE=?
pub fn tcgwonline_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.push(gateway::ONLINE_TEST_RESPONSE);
    reply.ok();
    Step::Done
}

/// AT+TCGWONLINE? (no state checks: an empty list or no session prints `[OK]` alone)
pub fn tcgwonline_query(_: &mut Context<'_>, _: &mut Reply) -> Step {
    Step::Sync(Job::ListOnline)
}

/// `AT+TCGWONLINE=<mode>,"<sub_pid>","<sub_dn>"`
pub fn tcgwonline_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    accept(
        gateway::check_online(context.gates.conn, params.args()),
        reply,
    )
}

/// `OK` and the job, or the first failed check's error.
fn accept(checked: Result<gateway::Request, ArgumentError>, reply: &mut Reply) -> Step {
    match checked {
        Ok(request) => {
            reply.accepted();
            Step::Async(Job::Gateway(request))
        }
        Err(error) => {
            match error.cme_code() {
                Some(code) => reply.cme(code),
                None => reply.engine_error(EngineError::Type),
            }
            Step::Done
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{connected, run, run_with_gates, state, text};
    use super::*;
    use crate::board::Profile;
    use crate::state::Gates;

    #[test]
    fn test_forms_print_the_spec_lines() {
        let mut state = state();
        let (reply, _) = run(&mut state, Profile::Esp8266, b"AT+TCGWBIND=?");
        assert_eq!(
            text(&reply),
            "+TCGWBIND:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\",\"DEVICE_SECRET\"\r\n\r\nOK\r\n"
        );
        let (reply, _) = run(&mut state, Profile::Esp8266, b"AT+TCGWONLINE=?");
        assert_eq!(
            text(&reply),
            "+TCGWONLINE:\"MODE\",\"PRODUCT_ID\",\"DEVICE_NAME\"\r\n\r\nOK\r\n"
        );
        let (reply, step) = run(&mut state, Profile::Esp8266, b"AT+TCGWONLINE?");
        assert!(reply.is_empty());
        assert!(matches!(step, Step::Sync(Job::ListOnline)));
    }

    #[test]
    fn set_checks_run_in_the_spec_order_with_their_errors() {
        let mut state = state();
        let secret = "\"ZHNkIGRzZCA=\"";
        let name48 = "n".repeat(48);
        let name49 = "n".repeat(49);
        let secret44 = "s".repeat(44);
        let secret45 = "s".repeat(45);
        let cases: std::vec::Vec<(std::string::String, &str)> = std::vec![
            // 2. mode not an Integer: [E:05], before any range check.
            (
                std::format!("AT+TCGWBIND=\"0\",\"P\",\"d\",{secret}"),
                "ERR CODE:0x01050000\r\n\r\nERROR\r\n"
            ),
            (
                "AT+TCGWBIND=,\"P\",\"d\"".into(),
                "ERR CODE:0x01050000\r\n\r\nERROR\r\n"
            ),
            // 3. mode out of {0,1}.
            (
                std::format!("AT+TCGWBIND=2,\"P\",\"d\",{secret}"),
                "+CME ERROR:204\r\n"
            ),
            // 4. pid 1..10.
            (
                std::format!("AT+TCGWBIND=0,\"\",\"d\",{secret}"),
                "+CME ERROR:204\r\n"
            ),
            (
                std::format!("AT+TCGWBIND=0,\"PRODUCT0001\",\"d\",{secret}"),
                "+CME ERROR:204\r\n"
            ),
            (
                std::format!("AT+TCGWBIND=0,1,\"d\",{secret}"),
                "+CME ERROR:204\r\n"
            ),
            // 5. name 1..48.
            (
                std::format!("AT+TCGWBIND=0,\"P\",\"{name49}\",{secret}"),
                "+CME ERROR:204\r\n"
            ),
            // 6. secret 1..44 (mode 0 only).
            (
                "AT+TCGWBIND=0,\"P\",\"d\",\"\"".into(),
                "+CME ERROR:204\r\n"
            ),
            (
                std::format!("AT+TCGWBIND=0,\"P\",\"d\",\"{secret45}\""),
                "+CME ERROR:204\r\n"
            ),
            ("AT+TCGWBIND=0,\"P\",\"d\"".into(), "+CME ERROR:204\r\n"),
            // 7. token count.
            (
                std::format!("AT+TCGWBIND=0,\"P\",\"d\",{secret},1"),
                "+CME ERROR:204\r\n"
            ),
            (
                std::format!("AT+TCGWBIND=1,\"P\",\"d\",{secret}"),
                "+CME ERROR:204\r\n"
            ),
            ("AT+TCGWONLINE=0,\"P\",\"d\",1".into(), "+CME ERROR:204\r\n"),
            ("AT+TCGWONLINE=2,\"P\",\"d\"".into(), "+CME ERROR:204\r\n"),
            (
                "AT+TCGWONLINE=x,\"P\",\"d\"".into(),
                "ERR CODE:0x01050000\r\n\r\nERROR\r\n"
            ),
            (
                std::format!("AT+TCGWONLINE=1,\"P\",\"{name49}\""),
                "+CME ERROR:204\r\n"
            ),
        ];
        for (line, expected) in &cases {
            let (reply, step) =
                run_with_gates(&mut state, Profile::Full, connected(), line.as_bytes());
            assert_eq!(text(&reply), *expected, "{line}");
            assert!(matches!(step, Step::Done), "{line}");
        }
        // 1. not CONN comes first, whatever the parameters.
        for line in [
            "AT+TCGWBIND=\"x\"",
            "AT+TCGWONLINE=9",
            "AT+TCGWONLINE=0,\"P\",\"d\"",
        ] {
            let (reply, _) = run(&mut state, Profile::Full, line.as_bytes());
            assert_eq!(text(&reply), "+CME ERROR:208\r\n", "{line}");
        }
        // The longest accepted values.
        for line in [
            std::format!("AT+TCGWBIND=0,\"PRODUCT001\",\"{name48}\",\"{secret44}\""),
            std::format!("AT+TCGWBIND=1,\"PRODUCT001\",\"{name48}\""),
            std::format!("AT+TCGWONLINE=0,\"PRODUCT001\",\"{name48}\""),
            "AT+TCGWONLINE=1,\"P\",\"d\"".into(),
        ] {
            let (reply, step) =
                run_with_gates(&mut state, Profile::Full, connected(), line.as_bytes());
            assert_eq!(text(&reply), "OK\r\n", "{line}");
            assert!(matches!(step, Step::Async(Job::Gateway(_))), "{line}");
        }
        // Allowed during a download (§9).
        let downloading = Gates {
            download: true,
            ..connected()
        };
        let (reply, _) = run_with_gates(
            &mut state,
            Profile::Esp8266,
            downloading,
            b"AT+TCGWONLINE=0,\"P\",\"d\"",
        );
        assert_eq!(text(&reply), "OK\r\n");
    }

    #[test]
    fn the_forms_the_original_lacks_have_no_handler() {
        let bind = crate::table::lookup(b"TCGWBIND").expect("known command");
        assert!(bind.query.is_none() && bind.exec.is_none());
        let online = crate::table::lookup(b"TCGWONLINE").expect("known command");
        assert!(online.exec.is_none());
        assert!(!bind.capability && !online.capability);
    }
}
