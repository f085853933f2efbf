//! The module self-update of `cloud.md` §4.7: `update_resource` on the resource channel, its
//! reports byte for byte, and the machine's path to `UPDATERESET` and the reboot.

use std::vec::Vec;

use super::{vector_image, VECTOR_MD5};
use crate::{
    write_resource_report, Event, FailCode, ImageDigest, Message, Ota, Report, ResultCode, State,
    Status, MAXIMUM_RESOURCE_REPORT_LENGTH,
};
use storage::FirmwareState;

const MAX: u32 = 909_312;
const RESOURCE: &[u8] = b"QCLOUD_AT_RS_LINUX.bin";

fn update_resource(name: &str) -> std::string::String {
    std::format!(
        r#"{{"method":"update_resource","resource_name":"{name}","resource_type":"FILE","version":"3.1.0","url":"http://127.0.0.1:18080/ota/2","md5sum":"{VECTOR_MD5}","file_size":5000}}"#
    )
}

fn written(report: Report, version: &[u8]) -> std::string::String {
    let mut out = [0u8; MAXIMUM_RESOURCE_REPORT_LENGTH];
    let length = write_resource_report(report, RESOURCE, version, &mut out).unwrap();
    std::string::String::from_utf8(out[..length].to_vec()).unwrap()
}

fn drain(ota: &mut Ota, now: u64) -> Vec<Event> {
    std::iter::from_fn(|| ota.poll(now)).collect()
}

fn listening() -> Ota {
    let mut ota = Ota::new();
    ota.enable(b"1.0.0").unwrap();
    drain(&mut ota, 0);
    ota
}

fn md5(bytes: &[u8]) -> [u8; 16] {
    let mut digest = ImageDigest::new();
    digest.update(bytes);
    digest.finish()
}

#[test]
fn update_resource_parses_with_its_name_and_other_methods_are_other() {
    let message = update_resource("QCLOUD_AT_RS_LINUX.bin");
    let Ok(Message::UpdateResource { resource, update }) = Message::parse(message.as_bytes())
    else {
        panic!("not an update_resource");
    };
    assert!(resource.equals(RESOURCE));
    assert_eq!(
        (update.file_size, &update.version[..]),
        (5000, &b"3.1.0"[..])
    );
    for other in [
        r#"{"method":"del_resource","resource_name":"QCLOUD_AT_RS_LINUX.bin"}"#,
        r#"{"method":"report_version_rsp","result_code":0,"result_msg":"success"}"#,
        r#"{"method":"update_resource","version":"3.1.0"}"#,
    ] {
        assert_eq!(
            Message::parse(other.as_bytes()),
            Ok(Message::Other),
            "{other}"
        );
    }
}

#[test]
fn resource_reports_match_the_spec_bytes() {
    assert_eq!(
        written(Report::Version, b"QCloud_AT_LINUX_v3.0.0"),
        r#"{"method":"report_version","report":{"resource_list":[{"resource_name":"QCLOUD_AT_RS_LINUX.bin","version":"QCloud_AT_LINUX_v3.0.0","resource_type":"FILE"}]}}"#
    );
    assert_eq!(
        written(Report::Progress(42), b"3.1.0"),
        r#"{"method": "report_progress", "report": {"progress": {"resource_name":"QCLOUD_AT_RS_LINUX.bin", "state":"downloading", "percent":"42", "result_code":"0", "result_msg":""}, "version": "3.1.0"}}"#
    );
    assert_eq!(
        written(Report::Done, b"3.1.0"),
        r#"{"method": "report_result", "report":{"progress":{"resource_name":"QCLOUD_AT_RS_LINUX.bin", "state":"done", "result_code":"0", "result_msg":""}, "version":"3.1.0"}}"#
    );
    assert_eq!(
        written(Report::Fail(ResultCode::Md5Mismatch), b"3.1.0"),
        r#"{"method": "report_result", "report": {"progress": {"resource_name":"QCLOUD_AT_RS_LINUX.bin", "state":"fail", "result_code":"-4", "result_msg":"MD5_not_match"}, "version": "3.1.0"}}"#
    );
    let mut short = [0u8; 40];
    assert!(write_resource_report(Report::Done, RESOURCE, b"3.1.0", &mut short).is_err());
}

#[test]
fn a_module_image_ends_in_updatereset_and_the_reboot() {
    let mut ota = listening();
    let message = update_resource("QCLOUD_AT_RS_LINUX.bin");
    // On the MCU topic, or for another resource, it is nothing.
    assert_eq!(ota.handle_message(message.as_bytes(), None, MAX, 5), None);
    let other = update_resource("ESP8266_QCLOUD_AT.bin");
    assert_eq!(
        ota.handle_resource(other.as_bytes(), RESOURCE, None, MAX, 5),
        None
    );
    assert_eq!(drain(&mut ota, 5), []);

    let url = ota
        .handle_resource(message.as_bytes(), RESOURCE, None, MAX, 10)
        .unwrap();
    assert_eq!(url.raw(), b"http://127.0.0.1:18080/ota/2");
    assert!(ota.is_module_update());
    assert_eq!(ota.target_version(), Some(&b"3.1.0"[..]));
    let events = drain(&mut ota, 10);
    assert_eq!(events[1], Event::Status(Status::EnterUpdate));
    let begin = ota
        .firmware_record(&Event::BeginImage, MAX, RESOURCE)
        .unwrap();
    assert_eq!(begin.state, FirmwareState::ModuleDownloading);
    assert_eq!(&begin.name[..], RESOURCE);

    ota.progress(5000, 20);
    ota.fetch_complete(20);
    drain(&mut ota, 20);
    ota.image_checked(&md5(&vector_image(5000)));
    assert_eq!(
        drain(&mut ota, 30),
        [
            Event::CompleteImage,
            Event::Publish(Report::Done),
            Event::Status(Status::UpdateSuccess),
            Event::Status(Status::UpdateReset),
            Event::Unsubscribe,
            Event::Transition {
                from: State::Verifying,
                to: State::Done
            },
            Event::Transition {
                from: State::Done,
                to: State::Idle
            },
            Event::Reboot,
        ]
    );
    let valid = ota
        .firmware_record(&Event::CompleteImage, MAX, RESOURCE)
        .unwrap();
    assert_eq!(
        (valid.state, valid.downloaded),
        (FirmwareState::ModuleValid, 5000)
    );
}

#[test]
fn a_module_image_failing_its_md5_fails_without_a_reboot() {
    let mut ota = listening();
    let message = update_resource("QCLOUD_AT_RS_LINUX.bin");
    ota.handle_resource(message.as_bytes(), RESOURCE, None, MAX, 10)
        .unwrap();
    ota.progress(5000, 20);
    ota.fetch_complete(20);
    drain(&mut ota, 20);
    ota.image_checked(&[0; 16]);
    let events = drain(&mut ota, 30);
    assert!(events.contains(&Event::Publish(Report::Fail(ResultCode::Md5Mismatch))));
    assert!(events.contains(&Event::Status(Status::UpdateFail(
        FailCode::NoValidFirmware
    ))));
    assert!(!events.contains(&Event::Reboot));
    assert!(!events.contains(&Event::Status(Status::UpdateReset)));
}

#[test]
fn an_invalid_update_resource_is_ignored() {
    let mut ota = listening();
    let invalid = r#"{"method":"update_resource","resource_name":"QCLOUD_AT_RS_LINUX.bin","version":"3.1.0","url":"ftp://x/y","md5sum":"00","file_size":5}"#;
    assert_eq!(
        ota.handle_resource(invalid.as_bytes(), RESOURCE, None, MAX, 10),
        None
    );
    assert_eq!(drain(&mut ota, 10), []);
    assert_eq!(ota.state(), State::Listening);
}
