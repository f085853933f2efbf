//! MQTT commands that use the session (`commands.md` §4): connect, disconnect, publish,
//! subscribe, unsubscribe. Handlers only check; the engine hands the work to the MQTT service.

use mqtt_session::codec::QoS;
use mqtt_session::session::Slot;
use mqtt_session::topic;

use super::{Context, Job, LineRequest, Step, Topic};
use crate::board::Profile;
use crate::mqtt::{PAYLOAD_MAX, TOPIC_MAX};
use crate::params::{ParamError, Params};
use crate::render::{EngineError, Reply};
use crate::state::MqttParameters;

/// AT+TCMQTTCONN=?
pub fn tcmqttconn_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTCONN:<TLSMODE_SELECTED>,<CMDTIMEOUT_VALUE(1000-20000ms)>,<KEEPALIVE>(60-690s),<CLEAN_SESSION>(0/1),<RECONNECT>(0/1)");
    reply.ok();
    Step::Done
}

/// AT+TCMQTTCONN?
pub fn tcmqttconn_query(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    let parameters = context.state.mqtt_parameters;
    let tls_mode = match context.board.profile {
        Profile::Full => parameters.tls_mode,
        Profile::Esp8266 => 1,
    };
    reply
        .line()
        .text("+TCMQTTCONN:")
        .int(tls_mode)
        .text(",")
        .int(parameters.command_timeout_ms)
        .text(",")
        .int(parameters.keep_alive_s)
        .text(",")
        .int(u8::from(parameters.clean_session))
        .text(",")
        .int(u8::from(parameters.reconnect))
        .end();
    reply.ok();
    Step::Done
}

/// `AT+TCMQTTCONN=<tls>,<cmdtimeout>,<keepalive>,<clean>,<reconnect>`
pub fn tcmqttconn_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    let gates = context.gates;
    if gates.run {
        reply.cme(208);
        return Step::Done;
    }
    if gates.download {
        reply.cme(200);
        return Step::Done;
    }
    if gates.provisioning {
        reply.cme(208);
        return Step::Done;
    }
    if !params.is_int(0) {
        reply.engine_error(EngineError::Type);
        return Step::Done;
    }
    let modes: &[i32] = match context.board.profile {
        Profile::Full => &[0, 1, 2],
        Profile::Esp8266 => &[1],
    };
    let checked = (|| {
        params.expect_count(5, 5)?;
        let tls_mode = params.int(0)?;
        if !modes.contains(&tls_mode) {
            return Err(ParamError::Range);
        }
        Ok::<_, ParamError>(MqttParameters {
            tls_mode: tls_mode as u8,
            command_timeout_ms: params.int_in(1, 1000..=20000)? as u32,
            keep_alive_s: params.int_in(2, 60..=690)? as u16,
            clean_session: params.int_in(3, 0..=1)? == 1,
            reconnect: params.int_in(4, 0..=1)? == 1,
        })
    })();
    match checked {
        Ok(parameters) => {
            reply.accepted();
            Step::Async(Job::MqttConnect(parameters))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

/// AT+TCMQTTDISCONN=?
pub fn tcmqttdisconn_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Done
}

/// AT+TCMQTTDISCONN: once RUN is true it always ends with `[OK]`.
pub fn tcmqttdisconn_exec(context: &mut Context<'_>, reply: &mut Reply) -> Step {
    if !context.gates.run {
        reply.cme(208);
        return Step::Done;
    }
    Step::Sync(Job::MqttDisconnect)
}

/// AT+TCMQTTPUB=?
pub fn tcmqttpub_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTPUB: \"TOPIC_NAME(maxlen 128)\", \"QOS(0/1)\",\"PAYLOAD\"");
    reply.ok();
    Step::Done
}

/// `AT+TCMQTTPUB="<topic>",<qos>,"<payload>"`
pub fn tcmqttpub_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if !context.gates.conn {
        reply.cme(208);
        return Step::Done;
    }
    if params.count() != 3 {
        reply.engine_error(EngineError::Count);
        return Step::Done;
    }
    let checked = (|| {
        let topic = topic_name(&params)?;
        let qos = qos(&params, 1)?;
        // Unescaped straight into the session's payload area, where its PUBLISH is encoded
        // around it. Without an area (unsent bytes still in it) the request goes on empty
        // and the session refuses it like a publish that does not fit (`FAIL,204`).
        // At most PAYLOAD_MAX (2,048) bytes: a `u16`.
        let length = if context.payload.is_empty() {
            0
        } else {
            params.text_to(2, 1, PAYLOAD_MAX, context.payload)? as u16
        };
        Ok::<_, ParamError>(LineRequest::Publish {
            name: "TCMQTTPUB",
            topic,
            length,
            qos,
        })
    })();
    accept(reply, checked)
}

/// AT+TCMQTTSUB=?
pub fn tcmqttsub_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTSUB:\"TOPIC_NAME(maxlen 128)\",\"QOS(0/1)\"");
    reply.ok();
    Step::Done
}

/// AT+TCMQTTSUB?: the user subscriptions, oldest first (kept while reconnecting).
///
/// Ten 128-byte filters are about 1.5 KiB, more than a reply block holds: the engine writes
/// the list one line at a time inside the command's block ([`Job::ListSubscriptions`],
/// [`subscription_line`]).
pub fn tcmqttsub_query(_: &mut Context<'_>, _: &mut Reply) -> Step {
    Step::Sync(Job::ListSubscriptions)
}

/// One line of AT+TCMQTTSUB?'s list.
pub fn subscription_line(reply: &mut Reply, slot: Slot<'_>) {
    reply
        .line()
        .text("+TCMQTTSUB:\"")
        // A user slot's filter is whole (its tail is empty); the parts are never copied.
        .text(slot.filter)
        .text(slot.tail)
        .text("\",")
        .int(slot.qos as u8)
        .end();
}

/// `AT+TCMQTTSUB="<filter>",<qos>`
pub fn tcmqttsub_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if let Some(step) = link_checks(context, reply, &params, 2) {
        return step;
    }
    let checked = (|| {
        let filter = params.text::<TOPIC_MAX>(0, 1, TOPIC_MAX)?;
        let filter = utf8(filter)?;
        if !topic::is_valid_filter(&filter) {
            return Err(ParamError::Range);
        }
        let qos = qos(&params, 1)?;
        Ok::<_, ParamError>(LineRequest::Subscribe { filter, qos })
    })();
    accept(reply, checked)
}

/// AT+TCMQTTUNSUB=?
pub fn tcmqttunsub_test(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.text_line("+TCMQTTUNSUB:\"TOPIC_NAME\"");
    reply.ok();
    Step::Done
}

/// AT+TCMQTTUNSUB?
pub fn tcmqttunsub_query(_: &mut Context<'_>, reply: &mut Reply) -> Step {
    reply.ok();
    Step::Done
}

/// `AT+TCMQTTUNSUB="<filter>"`
pub fn tcmqttunsub_set(context: &mut Context<'_>, reply: &mut Reply, params: Params<'_>) -> Step {
    if !context.gates.conn {
        reply.cme(208);
        return Step::Done;
    }
    if context.gates.download {
        reply.cme(200);
        return Step::Done;
    }
    let checked = params
        .expect_count(1, 1)
        .and_then(|()| params.text::<TOPIC_MAX>(0, 1, TOPIC_MAX))
        .map(|filter| LineRequest::Unsubscribe {
            filter: heapless::Vec::from_slice(&filter).unwrap_or_default(),
        });
    accept(reply, checked)
}

/// Not CONN → 208, DL → 200, wrong count → `[E:06]`.
pub(super) fn link_checks(
    context: &Context<'_>,
    reply: &mut Reply,
    params: &Params<'_>,
    count: usize,
) -> Option<Step> {
    if !context.gates.conn {
        reply.cme(208);
    } else if context.gates.download {
        reply.cme(200);
    } else if params.count() != count {
        reply.engine_error(EngineError::Count);
    } else {
        return None;
    }
    Some(Step::Done)
}

fn accept(reply: &mut Reply, checked: Result<LineRequest, ParamError>) -> Step {
    match checked {
        Ok(request) => {
            reply.accepted();
            Step::Async(Job::Mqtt(request))
        }
        Err(error) => {
            error.print_cme(reply);
            Step::Done
        }
    }
}

/// Topic String 1..128, valid UTF-8 without wildcards (what MQTT allows in a PUBLISH).
pub(super) fn topic_name(params: &Params<'_>) -> Result<Topic, ParamError> {
    let topic = utf8(params.text::<TOPIC_MAX>(0, 1, TOPIC_MAX)?)?;
    if topic::is_valid_topic_name(&topic) {
        Ok(topic)
    } else {
        Err(ParamError::Range)
    }
}

fn utf8(bytes: heapless::Vec<u8, TOPIC_MAX>) -> Result<Topic, ParamError> {
    let text = core::str::from_utf8(&bytes).map_err(|_| ParamError::Range)?;
    let mut topic = Topic::new();
    topic.push_str(text).map_err(|_| ParamError::Range)?;
    Ok(topic)
}

pub(super) fn qos(params: &Params<'_>, index: usize) -> Result<QoS, ParamError> {
    match params.int_in(index, 0..=1)? {
        0 => Ok(QoS::AtMostOnce),
        _ => Ok(QoS::AtLeastOnce),
    }
}
