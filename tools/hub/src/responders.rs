//! Automatic replies of the cloud (`hub.md` §4.4).
//!
//! Payloads are parsed as JSON, so whitespace and key order on the device side do not
//! matter; replies are built field by field in the order the real cloud uses, because host
//! tools compare them as text. A payload that matches no row is logged and left unanswered.

use crate::hub::{payload_base64, Hub, Message};
use mqtt_session::codec::QoS;
use serde_json::{json, Map, Value};

/// Answers a device publish on `topic` (already allowed by the ACL) if a row matches.
///
/// Every payload leaves one trace: a reply (logged as the hub's outgoing publish), a
/// `handled` event for the rows whose answer is "nothing" (`control_reply`, `action_reply`),
/// or an `unanswered` event when it is not a JSON object or matches no row.
pub fn respond(hub: &Hub, client_id: &str, topic: &str, payload: &[u8]) {
    if let Some(device_path) = topic.strip_prefix("$ota/report/") {
        return crate::ota::responder::respond(hub, client_id, device_path, payload);
    }
    if let Some(device_path) = topic.strip_prefix("$gateway/operation/") {
        return crate::gateway::responder::respond(hub, client_id, device_path, payload);
    }
    let Some((channel, device_path)) = split_topic(topic) else {
        return;
    };
    let request = serde_json::from_slice::<Value>(payload)
        .ok()
        .filter(Value::is_object);
    if let (Channel::ThingService, Some(request)) = (&channel, &request) {
        if crate::ota::responder::respond_resource(hub, client_id, device_path, request) {
            return;
        }
    }
    let answer = request
        .as_ref()
        .map_or(Answer::Unmatched, |request| match channel {
            Channel::SysOperation => sys_operation(hub, request).into(),
            Channel::ThingProperty => thing_property(hub, client_id, request),
            Channel::ThingEvent => thing_event(request).into(),
            Channel::ThingAction => thing_action(request),
            Channel::ThingService => thing_service(hub, client_id, request).into(),
        });
    match answer {
        Answer::Reply((reply_prefix, body)) => {
            let message = Message {
                topic: format!("{reply_prefix}/{device_path}"),
                payload: body.into_bytes(),
                qos: QoS::AtMostOnce,
            };
            hub.route(&message, None, Some(client_id), false);
        }
        Answer::Handled(method) => hub.events.record(
            "handled",
            json!({"client_id": client_id, "topic": topic, "method": method,
                   "payload": payload_base64(payload)}),
        ),
        Answer::Unmatched => hub.events.record(
            "unanswered",
            json!({"client_id": client_id, "topic": topic, "payload": payload_base64(payload),
                   "json": request.is_some()}),
        ),
    }
}

/// What a matching row does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// Publish this reply.
    Reply(Reply),
    /// A row matched whose answer is nothing (`method` named in the event log).
    Handled(&'static str),
    /// No row matched.
    Unmatched,
}

impl From<Option<Reply>> for Answer {
    fn from(reply: Option<Reply>) -> Self {
        reply.map_or(Answer::Unmatched, Answer::Reply)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    SysOperation,
    ThingProperty,
    ThingEvent,
    ThingAction,
    ThingService,
}

/// Splits `$…/<pid>/<dn>` into the channel and `<pid>/<dn>`.
fn split_topic(topic: &str) -> Option<(Channel, &str)> {
    const PREFIXES: [(&str, Channel); 5] = [
        ("$sys/operation/", Channel::SysOperation),
        ("$thing/up/property/", Channel::ThingProperty),
        ("$thing/up/event/", Channel::ThingEvent),
        ("$thing/up/action/", Channel::ThingAction),
        ("$thing/up/service/", Channel::ThingService),
    ];
    PREFIXES.iter().find_map(|(prefix, channel)| {
        let rest = topic.strip_prefix(prefix)?;
        (rest.split('/').count() == 2).then_some((*channel, rest))
    })
}

type Reply = (&'static str, String);

fn text(value: &str) -> String {
    Value::from(value).to_string()
}

fn member<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request.get(name).and_then(Value::as_str)
}

fn client_token(request: &Value) -> String {
    text(member(request, "clientToken").unwrap_or_default())
}

fn sys_operation(hub: &Hub, request: &Value) -> Option<Reply> {
    let wants_time = request
        .get("resource")
        .and_then(Value::as_array)
        .is_some_and(|resources| resources.iter().any(|resource| resource == "time"));
    (member(request, "type") == Some("get") && wants_time).then(|| {
        (
            "$sys/operation/result",
            format!(r#"{{"type":"get","time":{}}}"#, hub.now_unix()),
        )
    })
}

fn success_reply(method: &str, request: &Value) -> String {
    format!(
        r#"{{"method":{},"clientToken":{},"code":0,"status":"success"}}"#,
        text(&format!("{method}_reply")),
        client_token(request)
    )
}

fn thing_property(hub: &Hub, client_id: &str, request: &Value) -> Answer {
    let Some(method) = member(request, "method") else {
        return Answer::Unmatched;
    };
    const DOWN: &str = "$thing/down/property";
    let reply = match method {
        "report" => {
            if let Some(Value::Object(params)) = request.get("params") {
                hub.with_device_state(client_id, |state| state.reported.extend(params.clone()));
            }
            Some((DOWN, success_reply(method, request)))
        }
        "report_info" | "clear_control" => Some((DOWN, success_reply(method, request))),
        "get_status" => {
            let (reported, control) = hub.with_device_state(client_id, |state| {
                (
                    Value::Object(state.reported.clone()),
                    state.pending_control.clone(),
                )
            });
            let mut data = Map::new();
            data.insert("reported".to_owned(), reported);
            if let Some(control) = control {
                data.insert("control".to_owned(), control);
            }
            Some((
                DOWN,
                format!(
                    r#"{{"method":"get_status_reply","clientToken":{},"code":0,"status":"success","data":{}}}"#,
                    client_token(request),
                    Value::Object(data)
                ),
            ))
        }
        "control_reply" => {
            hub.with_device_state(client_id, |state| state.pending_control = None);
            return Answer::Handled("control_reply");
        }
        _ => None,
    };
    reply.into()
}

fn thing_action(request: &Value) -> Answer {
    match member(request, "method") {
        Some("action_reply") => Answer::Handled("action_reply"),
        _ => Answer::Unmatched,
    }
}

fn thing_event(request: &Value) -> Option<Reply> {
    let reply_method = match member(request, "method")? {
        "event_post" => "event_reply",
        "events_post" => "events_reply",
        _ => return None,
    };
    Some((
        "$thing/down/event",
        format!(
            r#"{{"method":"{reply_method}","clientToken":{},"code":0,"status":"","data":{{}}}}"#,
            client_token(request)
        ),
    ))
}

fn thing_service(hub: &Hub, client_id: &str, request: &Value) -> Option<Reply> {
    const DOWN: &str = "$thing/down/service";
    match member(request, "method")? {
        "app_bind_token" => {
            let code = hub.bind_reply_code();
            if code != 0 {
                // The provisioning fault switch: the cloud refuses the binding.
                return Some((
                    DOWN,
                    format!(
                        r#"{{"method":"app_bind_token_reply","clientToken":{},"code":{code},"status":"bind refused"}}"#,
                        client_token(request)
                    ),
                ));
            }
            if let Some(token) = request.pointer("/params/token").and_then(Value::as_str) {
                hub.with_device_state(client_id, |state| state.bound_tokens.push(token.to_owned()));
            }
            Some((DOWN, success_reply("app_bind_token", request)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    const CLIENT_ID: &str = "DEMO000001demo";

    /// A hub with the demo device connected and subscribed to every reply topic; returns the
    /// replies the device would receive for one request.
    fn replies(hub: &Hub, topic: &str, payload: &str) -> Vec<String> {
        let device = Registry::demo().devices[CLIENT_ID].clone();
        let (mut attached, _) = hub.attach(&device, 1, true);
        for filter in [
            "$sys/operation/result/DEMO000001/demo",
            "$thing/down/property/DEMO000001/demo",
            "$thing/down/event/DEMO000001/demo",
            "$thing/down/service/DEMO000001/demo",
            "$ota/update/DEMO000001/demo",
        ] {
            assert_eq!(hub.subscribe(CLIENT_ID, filter, QoS::AtMostOnce), 0);
        }
        respond(hub, CLIENT_ID, topic, payload.as_bytes());
        let mut replies = Vec::new();
        while let Ok(crate::hub::Command::Deliver(message)) = attached.commands.try_recv() {
            replies.push(String::from_utf8(message.payload).unwrap());
        }
        replies
    }

    #[test]
    fn time_request_with_spaces_gets_hub_time() {
        let hub = Hub::new(Registry::demo());
        hub.set_clock_offset(-(hub.now_unix() as i64) + 1_000);
        let replies = replies(
            &hub,
            "$sys/operation/DEMO000001/demo",
            r#"{"type": "get", "resource": ["time"]}"#,
        );
        assert_eq!(replies, [r#"{"type":"get","time":1000}"#]);
    }

    #[test]
    fn report_is_stored_and_returned_by_get_status_with_pending_control() {
        let hub = Hub::new(Registry::demo());
        let topic = "$thing/up/property/DEMO000001/demo";
        let report = replies(
            &hub,
            topic,
            r#"{ "method" : "report" , "clientToken":"t1","params":{"power":1}}"#,
        );
        assert_eq!(
            report,
            [r#"{"method":"report_reply","clientToken":"t1","code":0,"status":"success"}"#]
        );
        hub.with_device_state(CLIENT_ID, |state| {
            state.pending_control = Some(json!({"power":0}))
        });
        let status = replies(&hub, topic, r#"{"method":"get_status","clientToken":"t2"}"#);
        assert_eq!(
            status,
            [
                r#"{"method":"get_status_reply","clientToken":"t2","code":0,"status":"success","data":{"control":{"power":0},"reported":{"power":1}}}"#
            ]
        );
        assert!(replies(
            &hub,
            topic,
            r#"{"method":"control_reply","clientToken":"t3","code":0}"#
        )
        .is_empty());
        hub.with_device_state(CLIENT_ID, |state| assert!(state.pending_control.is_none()));
    }

    #[test]
    fn rows_answered_with_nothing_are_logged_as_handled_not_unanswered() {
        let hub = Hub::new(Registry::demo());
        let control = r#"{"method":"control_reply","clientToken":"t3","code":0}"#;
        let action = r#"{"method":"action_reply","clientToken":"a1","code":0}"#;
        assert!(replies(&hub, "$thing/up/property/DEMO000001/demo", control).is_empty());
        assert!(replies(&hub, "$thing/up/action/DEMO000001/demo", action).is_empty());
        assert!(replies(
            &hub,
            "$thing/up/action/DEMO000001/demo",
            r#"{"method":"x"}"#
        )
        .is_empty());
        let events = hub.events.since(0);
        let handled: Vec<_> = events
            .iter()
            .filter(|event| event["kind"] == "handled")
            .map(|event| (event["method"].clone(), event["topic"].clone()))
            .collect();
        assert_eq!(
            handled,
            [
                (
                    json!("control_reply"),
                    json!("$thing/up/property/DEMO000001/demo")
                ),
                (
                    json!("action_reply"),
                    json!("$thing/up/action/DEMO000001/demo")
                ),
            ]
        );
        let unanswered: Vec<_> = events
            .iter()
            .filter(|event| event["kind"] == "unanswered")
            .map(|event| event["topic"].clone())
            .collect();
        assert_eq!(unanswered, [json!("$thing/up/action/DEMO000001/demo")]);
    }

    #[test]
    fn the_bind_reply_switch_refuses_the_token_with_its_code() {
        let hub = Hub::new(Registry::demo());
        let topic = "$thing/up/service/DEMO000001/demo";
        let bind = |token: &str| {
            format!(
                r#"{{"method":"app_bind_token","clientToken":"b","params":{{"token":"{token}"}}}}"#
            )
        };
        hub.set_bind_reply_code(1503);
        assert_eq!(
            replies(&hub, topic, &bind("refused")),
            [
                r#"{"method":"app_bind_token_reply","clientToken":"b","code":1503,"status":"bind refused"}"#
            ]
        );
        hub.set_bind_reply_code(0);
        assert_eq!(
            replies(&hub, topic, &bind("bound")),
            [r#"{"method":"app_bind_token_reply","clientToken":"b","code":0,"status":"success"}"#]
        );
        let device = hub.device_json("DEMO000001", "demo").unwrap();
        assert_eq!(device["bound_tokens"], json!(["bound"]));
    }

    #[test]
    fn events_and_info_get_their_replies() {
        let hub = Hub::new(Registry::demo());
        let events = replies(
            &hub,
            "$thing/up/event/DEMO000001/demo",
            r#"{"method":"events_post","clientToken":"e"}"#,
        );
        assert_eq!(
            events,
            [r#"{"method":"events_reply","clientToken":"e","code":0,"status":"","data":{}}"#]
        );
        let info = replies(
            &hub,
            "$thing/up/property/DEMO000001/demo",
            r#"{"method":"report_info","clientToken":"i"}"#,
        );
        assert_eq!(
            info,
            [r#"{"method":"report_info_reply","clientToken":"i","code":0,"status":"success"}"#]
        );
    }

    #[test]
    fn unparsable_or_unmatched_payloads_are_logged_not_answered() {
        let hub = Hub::new(Registry::demo());
        assert!(replies(&hub, "$sys/operation/DEMO000001/demo", "not json").is_empty());
        assert!(replies(&hub, "$sys/operation/DEMO000001/demo", r#"{"type":"set"}"#).is_empty());
        let unanswered = hub
            .events
            .since(0)
            .into_iter()
            .filter(|event| event["kind"] == "unanswered")
            .count();
        assert_eq!(unanswered, 2);
    }
}
