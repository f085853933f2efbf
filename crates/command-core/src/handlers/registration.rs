//! AT+TCDEVREG (`commands.md` §1): the checks before the acceptance line. Everything after
//! it (the product record, the exchange, the stored device record) needs IO and runs in the
//! engine (`engine::registration`), where provisioning reuses it.

use super::{Context, Job, Step};
use crate::render::Reply;

/// AT+TCDEVREG=?
pub fn tcdevreg_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Done
}

/// AT+TCDEVREG: steps 1–4; the rest is [`Job::Register`].
pub fn tcdevreg_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let gates = context.gates;
    if gates.run {
        reply.cme(208);
    } else if gates.download {
        reply.cme(200);
    } else if gates.provisioning {
        reply.cme(208);
    } else {
        reply.accepted();
        return Step::Async(Job::Register);
    }
    Step::Done
}

#[cfg(test)]
mod tests {
    use crate::board::Profile;
    use crate::handlers::testing::{run, run_with_gates, state};
    use crate::handlers::{Job, Step};
    use crate::state::Gates;

    #[test]
    fn the_test_form_is_ok_and_execute_is_accepted_with_a_job() {
        let (reply, _) = run(&mut state(), Profile::Esp8266, b"AT+TCDEVREG=?");
        assert_eq!(reply, b"\r\nOK\r\n");
        let (reply, step) = run(&mut state(), Profile::Esp8266, b"AT+TCDEVREG");
        assert_eq!(reply, b"OK\r\n");
        assert!(matches!(step, Step::Async(Job::Register)));
    }

    #[test]
    fn run_is_checked_before_download_and_download_before_provisioning() {
        let cases = [
            (
                Gates {
                    run: true,
                    download: true,
                    provisioning: true,
                    ..Gates::default()
                },
                &b"+CME ERROR:208\r\n"[..],
            ),
            (
                Gates {
                    download: true,
                    provisioning: true,
                    ..Gates::default()
                },
                b"+CME ERROR:200\r\n",
            ),
            (
                Gates {
                    provisioning: true,
                    ..Gates::default()
                },
                b"+CME ERROR:208\r\n",
            ),
        ];
        for (gates, expected) in cases {
            let (reply, step) = run_with_gates(&mut state(), Profile::Full, gates, b"AT+TCDEVREG");
            assert_eq!(reply, expected, "{gates:?}");
            assert!(matches!(step, Step::Done));
        }
    }
}
