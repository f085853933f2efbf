//! MQTT commands that exist before a session does (`commands.md` §4): the broker override
//! AT+TCMQTTSRV and the state query AT+TCMQTTSTATE.

use super::{Context, Step};
use crate::params::Params;
use crate::render::Reply;
use crate::state::MQTT_SERVER_MAX;

/// AT+TCMQTTSRV=?
pub fn tcmqttsrv_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTSRV:\"MQTT SERVER IP\"");
    reply.ok();
    Step::Done
}

/// AT+TCMQTTSRV? (the value unquoted; `(null)` when never set since boot, as the original's
/// `printf("%s", NULL)` printed)
pub fn tcmqttsrv_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let line = reply.line().text("+TCMQTTSRV:");
    match &context.state.mqtt_server {
        Some(host) => line.bytes(host).end(),
        None => line.text("(null)").end(),
    }
    reply.ok();
    Step::Done
}

/// `AT+TCMQTTSRV="<host>"`
pub fn tcmqttsrv_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if context.gates.run {
        reply.cme(208);
        return Step::Done;
    }
    let host = match params
        .expect_count(1, 1)
        .and_then(|()| params.field::<MQTT_SERVER_MAX>(0, 0, MQTT_SERVER_MAX))
    {
        Ok(host) => host,
        Err(error) => {
            error.print_cme(reply);
            return Step::Done;
        }
    };
    reply.accepted();
    if host.is_empty() {
        reply.text_line("+TCMQTTSRV:FAIL");
    } else {
        context.state.mqtt_server = Some(host);
        reply.result_ok("TCMQTTSRV");
    }
    Step::Done
}

/// AT+TCMQTTSTATE=?
pub fn tcmqttstate_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Done
}

/// AT+TCMQTTSTATE?
pub fn tcmqttstate_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply
        .line()
        .text("+TCMQTTSTATE:")
        .int(u8::from(context.gates.conn))
        .end();
    reply.ok();
    Step::Done
}
