//! AT+TCDIAG?: what the module dropped and why, and the MQTT link's history
//! (`docs/at-commands.md`, `docs/decisions.md` "AT+TCDIAG?"). A tc-at extension: the original
//! firmware has no such command, so its bytes are ours to define, one line per value.

use super::{Context, Step};
use crate::render::Reply;

/// AT+TCDIAG=?
pub fn tcdiag_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Done
}

/// AT+TCDIAG?
pub fn tcdiag_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let report = context.diagnostics;
    let counters = [
        ("+TCDIAG:OVERSIZE,", report.session.oversize_dropped),
        ("+TCDIAG:NOFILTER,", report.session.unmatched_dropped),
        // No hold queue can be full any more (received messages wait in the session, in the
        // reconnect window too); the line stays for hosts that parse the list.
        ("+TCDIAG:HOLDFULL,", 0),
        ("+TCDIAG:DUPLICATE,", report.session.duplicates_suppressed),
    ];
    for (label, value) in counters {
        reply.line().text(label).int(value).end();
    }
    let service = report.service;
    reply
        .line()
        .text("+TCDIAG:DISCONNECT,")
        .text(service.last_disconnect.name())
        .end();
    reply
        .line()
        .text("+TCDIAG:RECONNECTS,")
        .int(service.reconnect_attempts)
        .end();
    reply
        .line()
        .text("+TCDIAG:CONNACK,")
        .int(service.last_connack.map_or(-1, i64::from))
        .end();
    let saturate = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    reply
        .line()
        .text("+TCDIAG:BYTES,")
        .int(saturate(service.bytes_in))
        .text(",")
        .int(saturate(service.bytes_out))
        .end();
    reply.ok();
    Step::Done
}

#[cfg(test)]
mod tests {
    use super::super::testing::run;
    use crate::board::Profile;
    use crate::state::RamState;

    #[test]
    fn a_fresh_module_reports_zero_counters_and_no_link_history() {
        let mut state = RamState::boot(storage::Snapshot::default());
        let (reply, _) = run(&mut state, Profile::Esp8266, b"AT+TCDIAG?");
        assert_eq!(
            reply,
            b"+TCDIAG:OVERSIZE,0\r\n+TCDIAG:NOFILTER,0\r\n+TCDIAG:HOLDFULL,0\r\n\
              +TCDIAG:DUPLICATE,0\r\n+TCDIAG:DISCONNECT,NONE\r\n+TCDIAG:RECONNECTS,0\r\n\
              +TCDIAG:CONNACK,-1\r\n+TCDIAG:BYTES,0,0\r\n\r\nOK\r\n"
        );
    }
}
