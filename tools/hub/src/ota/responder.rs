//! The `$ota/report/<pid>/<dn>` responder (`hub.md` §4.4).
//!
//! A version report gets `report_version_rsp` (`result_code` 1 with the reject switch), then
//! the pending task's `update_firmware` when the reported version differs from its target.
//! Progress reports are recorded on the task: `done` with the target version completes it,
//! `fail` records the failure and leaves it pending, so the next version report re-pushes.
//!
//! The resource channel of the module self-update (`cloud.md` §4.7, on
//! `$thing/up/service/<pid>/<dn>`) works the same way for `kind: "module"` tasks: a
//! `report_version` resource list gets `report_version_rsp`, then `update_resource` for the
//! listed resource when its version differs from the task's target (equal: the task is
//! complete); `report_progress` and `report_result` are recorded, and a `done` result with
//! the target version completes the task.

use super::admin::push_update;
use crate::hub::{payload_base64, Hub, Message};
use mqtt_session::codec::QoS;
use serde_json::{json, Value};

/// Handles one publish on `$ota/report/<device_path>`.
pub fn respond(hub: &Hub, client_id: &str, device_path: &str, payload: &[u8]) {
    let Some((pid, dn)) = device_path
        .split_once('/')
        .filter(|(_, dn)| !dn.contains('/'))
    else {
        return;
    };
    let request = serde_json::from_slice::<Value>(payload)
        .ok()
        .filter(Value::is_object);
    let kind = request
        .as_ref()
        .and_then(|request| request.get("type"))
        .and_then(Value::as_str);
    match (kind, &request) {
        (Some("report_version"), Some(request)) => version_report(hub, client_id, pid, dn, request),
        (Some("report_progress"), Some(request)) => progress_report(hub, client_id, request),
        _ => hub.events.record(
            "unanswered",
            json!({"client_id": client_id, "topic": format!("$ota/report/{device_path}"),
                   "payload": payload_base64(payload), "json": request.is_some()}),
        ),
    }
}

/// Handles a resource-channel report on `$thing/up/service/<device_path>`; `false` when
/// `request` is not one (another row of the service channel may match it).
pub fn respond_resource(hub: &Hub, client_id: &str, device_path: &str, request: &Value) -> bool {
    let Some((pid, dn)) = device_path
        .split_once('/')
        .filter(|(_, dn)| !dn.contains('/'))
    else {
        return false;
    };
    match request.get("method").and_then(Value::as_str) {
        Some("report_version") => resource_version_report(hub, client_id, pid, dn, request),
        Some("report_progress" | "report_result")
            if request.pointer("/report/progress/resource_name").is_some() =>
        {
            progress_report(hub, client_id, request);
        }
        _ => return false,
    }
    true
}

fn resource_version_report(hub: &Hub, client_id: &str, pid: &str, dn: &str, request: &Value) {
    let topic = format!("$thing/down/service/{pid}/{dn}");
    let send = |payload: String| {
        let message = Message {
            topic: topic.clone(),
            payload: payload.into_bytes(),
            qos: QoS::AtMostOnce,
        };
        hub.route(&message, None, Some(client_id), false)
    };
    send(r#"{"method":"report_version_rsp","result_code":0,"result_msg":"success"}"#.to_owned());
    let resources = request
        .pointer("/report/resource_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for resource in resources {
        let field = |name: &str| {
            resource
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let (name, version) = (field("resource_name"), field("version"));
        hub.ota.with_task(client_id, |task| {
            if task.module && task.version == version {
                task.completed = true;
            }
        });
        if let Some(push) = hub.ota.pending_resource_push(client_id, name, version) {
            send(push);
        }
    }
}

fn version_report(hub: &Hub, client_id: &str, pid: &str, dn: &str, request: &Value) {
    let version = request
        .pointer("/report/version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    hub.with_device_state(client_id, |state| {
        state.mcu_version = Some(version.to_owned())
    });
    let rejected = hub.ota.switches().reject_version_report;
    let (code, message) = if rejected {
        (1, "fail")
    } else {
        (0, "success")
    };
    let reply = format!(
        r#"{{"result_code":{code},"result_msg":"{message}","type":"report_version_rsp","version":{}}}"#,
        Value::from(version)
    );
    let message = Message {
        topic: format!("$ota/update/{pid}/{dn}"),
        payload: reply.into_bytes(),
        qos: QoS::AtMostOnce,
    };
    hub.route(&message, None, Some(client_id), false);
    if !rejected {
        push_update(hub, pid, dn, Some(version));
    }
}

fn progress_report(hub: &Hub, client_id: &str, request: &Value) {
    let progress = request.pointer("/report/progress");
    let field = |name: &str| {
        progress
            .and_then(|progress| progress.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let version = request.pointer("/report/version").and_then(Value::as_str);
    let state = field("state");
    // A report of the other channel (MCU or resource) is not about this task.
    let resource = progress.and_then(|progress| progress.get("resource_name"));
    hub.ota.with_task(client_id, |task| match state.as_deref() {
        _ if task.module != resource.is_some() => {}
        Some("done") if version == Some(task.version.as_str()) => task.completed = true,
        Some("fail") => task.failures.push(field("result_code").unwrap_or_default()),
        Some("downloading") => task.progress = field("percent"),
        _ => {}
    });
    hub.events.record(
        "ota_progress",
        json!({"client_id": client_id, "state": state, "version": version, "resource": resource,
               "percent": field("percent"), "result_code": field("result_code"),
               "result_msg": field("result_msg")}),
    );
}

#[cfg(test)]
mod tests {
    use crate::hub::{Command, Hub};
    use crate::ota::TaskRequest;
    use crate::registry::Registry;
    use mqtt_session::codec::QoS;

    const CLIENT_ID: &str = "DEMO000001demo";
    const REPORT: &str = "$ota/report/DEMO000001/demo";

    fn listening_hub() -> (Hub, tokio::sync::mpsc::UnboundedReceiver<Command>) {
        let hub = Hub::new(Registry::demo());
        let device = Registry::demo().devices[CLIENT_ID].clone();
        let (attached, _) = hub.attach(&device, 1, true);
        assert_eq!(
            hub.subscribe(CLIENT_ID, "$ota/update/DEMO000001/demo", QoS::AtMostOnce),
            0
        );
        (hub, attached.commands)
    }

    fn received(commands: &mut tokio::sync::mpsc::UnboundedReceiver<Command>) -> Vec<String> {
        let mut payloads = Vec::new();
        while let Ok(Command::Deliver(message)) = commands.try_recv() {
            assert_eq!(message.topic, "$ota/update/DEMO000001/demo");
            payloads.push(String::from_utf8(message.payload).unwrap());
        }
        payloads
    }

    fn report_version(hub: &Hub, version: &str) {
        let payload =
            format!(r#"{{"type": "report_version", "report":{{"version":"{version}"}}}}"#);
        crate::responders::respond(hub, CLIENT_ID, REPORT, payload.as_bytes());
    }

    #[test]
    fn a_version_report_is_answered_then_the_pending_task_pushed() {
        let (hub, mut commands) = listening_hub();
        hub.ota.set_ports(18080, 18443);
        report_version(&hub, "1.0.0");
        assert_eq!(
            received(&mut commands),
            [
                r#"{"result_code":0,"result_msg":"success","type":"report_version_rsp","version":"1.0.0"}"#
            ]
        );
        let file = hub.ota.add_file(b"hello".to_vec());
        assert_eq!(file["md5"], "5d41402abc4b2a76b9719d911017c592");
        hub.ota
            .create_task(
                CLIENT_ID,
                TaskRequest {
                    scheme: "https",
                    host: Some("ota-1.cos.ap-guangzhou.myqcloud.com"),
                    query: Some("sign=x"),
                    ..TaskRequest::mcu(1, "1.0.1")
                },
            )
            .unwrap();
        report_version(&hub, "1.0.0");
        assert_eq!(
            received(&mut commands)[1],
            r#"{"file_size":5,"md5sum":"5d41402abc4b2a76b9719d911017c592","type":"update_firmware","url":"https://ota-1.cos.ap-guangzhou.myqcloud.com/ota/1?sign=x","version":"1.0.1"}"#
        );
        report_version(&hub, "1.0.1");
        assert_eq!(received(&mut commands).len(), 1, "target reached: no push");
    }

    #[test]
    fn switches_reject_omit_and_duplicate() {
        let (hub, mut commands) = listening_hub();
        hub.ota.add_file(b"x".to_vec());
        hub.ota
            .create_task(CLIENT_ID, TaskRequest::mcu(1, "2"))
            .unwrap();
        let mut switches = hub.ota.switches();
        switches.reject_version_report = true;
        hub.ota.set_switches(switches.clone());
        report_version(&hub, "1");
        assert_eq!(
            received(&mut commands),
            [r#"{"result_code":1,"result_msg":"fail","type":"report_version_rsp","version":"1"}"#]
        );
        switches.reject_version_report = false;
        switches.duplicate_update_push = true;
        hub.ota.set_switches(switches.clone());
        report_version(&hub, "1");
        assert_eq!(received(&mut commands).len(), 3);
        switches.omit_update_push = true;
        hub.ota.set_switches(switches);
        report_version(&hub, "1");
        assert_eq!(received(&mut commands).len(), 1);
    }

    #[test]
    fn done_completes_the_task_and_fail_keeps_it_pending() {
        let (hub, mut commands) = listening_hub();
        hub.ota.add_file(b"x".to_vec());
        hub.ota
            .create_task(CLIENT_ID, TaskRequest::mcu(1, "2"))
            .unwrap();
        let fail = r#"{"type": "report_progress", "report": {"progress": {"state":"fail", "result_code":"-1", "result_msg":"time_out"}, "version": "2"}}"#;
        crate::responders::respond(&hub, CLIENT_ID, REPORT, fail.as_bytes());
        let task = hub.ota.task(CLIENT_ID).unwrap();
        assert_eq!(
            (task.completed, task.failures.as_slice()),
            (false, &["-1".to_owned()][..])
        );
        let done = r#"{"type": "report_progress", "report":{"progress":{"state":"done", "result_code":"0", "result_msg":""}, "version":"2"}}"#;
        crate::responders::respond(&hub, CLIENT_ID, REPORT, done.as_bytes());
        assert!(hub.ota.task(CLIENT_ID).unwrap().completed);
        report_version(&hub, "1");
        assert_eq!(
            received(&mut commands).len(),
            1,
            "a completed task is not pushed again"
        );
        assert_eq!(
            hub.events
                .since(0)
                .iter()
                .filter(|event| event["kind"] == "ota_progress")
                .count(),
            2
        );
    }

    #[test]
    fn a_module_task_is_pushed_on_the_resource_channel_and_completed_by_its_done_result() {
        let hub = Hub::new(Registry::demo());
        let device = Registry::demo().devices[CLIENT_ID].clone();
        let (mut attached, _) = hub.attach(&device, 1, true);
        const DOWN: &str = "$thing/down/service/DEMO000001/demo";
        const UP: &str = "$thing/up/service/DEMO000001/demo";
        assert_eq!(hub.subscribe(CLIENT_ID, DOWN, QoS::AtMostOnce), 0);
        hub.ota.set_ports(18080, 18443);
        hub.ota.add_file(b"hello".to_vec());
        hub.ota
            .create_task(
                CLIENT_ID,
                TaskRequest {
                    module: true,
                    ..TaskRequest::mcu(1, "3.1.0")
                },
            )
            .unwrap();
        let resources = |version: &str| {
            format!(
                r#"{{"method":"report_version","report":{{"resource_list":[{{"resource_name":"QCLOUD_AT_RS_LINUX.bin","version":"{version}","resource_type":"FILE"}}]}}}}"#
            )
        };
        // The MCU channel never pushes a module task.
        report_version(&hub, "1.0.0");
        crate::responders::respond(
            &hub,
            CLIENT_ID,
            UP,
            resources("QCloud_AT_LINUX_v3.0.0").as_bytes(),
        );
        let mut delivered = Vec::new();
        while let Ok(Command::Deliver(message)) = attached.commands.try_recv() {
            delivered.push((message.topic, String::from_utf8(message.payload).unwrap()));
        }
        assert_eq!(
            delivered,
            [
                (DOWN.to_owned(), r#"{"method":"report_version_rsp","result_code":0,"result_msg":"success"}"#.to_owned()),
                (DOWN.to_owned(), r#"{"method":"update_resource","resource_name":"QCLOUD_AT_RS_LINUX.bin","resource_type":"FILE","version":"3.1.0","url":"http://127.0.0.1:18080/ota/1","md5sum":"5d41402abc4b2a76b9719d911017c592","file_size":5}"#.to_owned()),
            ]
        );
        // An MCU `done` for the same version is not this task's.
        let mcu_done = r#"{"type": "report_progress", "report":{"progress":{"state":"done", "result_code":"0", "result_msg":""}, "version":"3.1.0"}}"#;
        crate::responders::respond(&hub, CLIENT_ID, REPORT, mcu_done.as_bytes());
        assert!(!hub.ota.task(CLIENT_ID).unwrap().completed);
        let done = r#"{"method": "report_result", "report":{"progress":{"resource_name":"QCLOUD_AT_RS_LINUX.bin", "state":"done", "result_code":"0", "result_msg":""}, "version":"3.1.0"}}"#;
        crate::responders::respond(&hub, CLIENT_ID, UP, done.as_bytes());
        assert!(hub.ota.task(CLIENT_ID).unwrap().completed);
    }
}
