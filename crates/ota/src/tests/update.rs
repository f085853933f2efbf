//! The update state machine (`cloud.md` §4.4) with a manual clock.

use std::vec::Vec;

use super::{vector_image, VECTOR_MD5};
use crate::http::{HttpError, RangeDownload};
use crate::{
    Event, FailCode, Failure, ImageDigest, Ota, Report, ResultCode, State, Status, StoredImage,
    CHECKPOINT_BYTES, RETRIES,
};
use storage::{FirmwareInfo, FirmwareState, Text, MCU_IMAGE_NAME};

const MAX: u32 = 909_312;

fn update_message(size: u32, md5: &str, version: &str) -> std::string::String {
    std::format!(
        r#"{{"file_size":{size},"md5sum":"{md5}","type":"update_firmware","url":"http://127.0.0.1:18080/ota/1","version":"{version}"}}"#
    )
}

fn vector_update() -> std::string::String {
    update_message(5000, VECTOR_MD5, "1.0.1")
}

fn drain(ota: &mut Ota, now: u64) -> Vec<Event> {
    std::iter::from_fn(|| ota.poll(now)).collect()
}

fn transition(from: State, to: State) -> Event {
    Event::Transition { from, to }
}

fn listening() -> Ota {
    let mut ota = Ota::new();
    ota.enable(b"1.0.0").unwrap();
    assert_eq!(
        drain(&mut ota, 0),
        [transition(State::Idle, State::Listening)]
    );
    ota
}

fn md5(bytes: &[u8]) -> [u8; 16] {
    let mut digest = ImageDigest::new();
    digest.update(bytes);
    digest.finish()
}

fn record(state: FirmwareState, downloaded: u32) -> FirmwareInfo {
    FirmwareInfo {
        state,
        name: Text::from_slice(MCU_IMAGE_NAME).unwrap(),
        version: Text::from_slice(b"1.0.1").unwrap(),
        md5: md5(&vector_image(5000)),
        size: 5000,
        downloaded,
        max_size: MAX,
    }
}

fn report(ota: &Ota, kind: Report) -> std::string::String {
    let mut out = [0u8; crate::MAXIMUM_REPORT_LENGTH];
    let length = ota.write_report(kind, &mut out).unwrap();
    std::string::String::from_utf8(out[..length].to_vec()).unwrap()
}

#[test]
fn vector_md5_is_the_images() {
    assert_eq!(
        crate::to_hex(&md5(&vector_image(5000))),
        *VECTOR_MD5.as_bytes()
    );
    let mut incremental = ImageDigest::new();
    for piece in vector_image(5000).chunks(7) {
        incremental.update(piece);
    }
    assert_eq!(crate::to_hex(&incremental.finish()), *VECTOR_MD5.as_bytes());
    assert_eq!(
        crate::to_hex(&md5(b"")),
        *b"d41d8cd98f00b204e9800998ecf8427e"
    );
}

#[test]
fn a_full_download_goes_through_every_state() {
    let mut ota = listening();
    let accepted = br#"{"result_code":0,"result_msg":"success","type":"report_version_rsp","version":"1.0.0"}"#;
    assert_eq!(ota.handle_message(accepted, None, MAX, 10), None);
    assert_eq!(drain(&mut ota, 10), []);
    let message = vector_update();
    let url = ota
        .handle_message(message.as_bytes(), None, MAX, 20)
        .unwrap();
    assert_eq!(url.raw(), b"http://127.0.0.1:18080/ota/1");
    let events = drain(&mut ota, 20);
    assert_eq!(
        events,
        [
            transition(State::Listening, State::Downloading),
            Event::Status(Status::EnterUpdate),
            Event::BeginImage,
            Event::Fetch {
                offset: 0,
                size: 5000
            },
            Event::Publish(Report::Progress(0)),
        ]
    );
    assert!(ota.is_downloading());
    let begin = ota.firmware_record(&Event::BeginImage, MAX, b"").unwrap();
    assert_eq!(
        (begin.state, begin.downloaded, &begin.version[..]),
        (FirmwareState::McuDownloading, 0, &b"1.0.1"[..])
    );
    assert_eq!(
        report(&ota, Report::Progress(0)),
        r#"{"type": "report_progress", "report": {"progress": {"state":"downloading", "percent":"0", "result_code":"0", "result_msg":""}, "version": "1.0.1"}}"#
    );
    assert_eq!(
        report(&ota, Report::Version),
        r#"{"type": "report_version", "report":{"version":"1.0.0"}}"#
    );

    ota.progress(2048, 500);
    assert_eq!(drain(&mut ota, 500), [], "not a second since percent 0");
    ota.progress(4096, 1020);
    assert_eq!(
        drain(&mut ota, 1020),
        [Event::Publish(Report::Progress(81))]
    );
    ota.progress(5000, 1100);
    assert_eq!(
        drain(&mut ota, 1100),
        [Event::Publish(Report::Progress(100))],
        "100 is always sent"
    );
    ota.fetch_complete(1100);
    assert_eq!(
        drain(&mut ota, 1100),
        [
            Event::Checkpoint { downloaded: 5000 },
            transition(State::Downloading, State::Verifying),
            Event::Verify { size: 5000 },
        ]
    );
    ota.image_checked(&md5(&vector_image(5000)));
    let events = drain(&mut ota, 1200);
    assert_eq!(
        events,
        [
            Event::CompleteImage,
            Event::Publish(Report::Done),
            Event::Status(Status::UpdateSuccess),
            Event::Unsubscribe,
            transition(State::Verifying, State::Done),
            transition(State::Done, State::Idle),
        ]
    );
    let complete = ota
        .firmware_record(&Event::CompleteImage, MAX, b"")
        .unwrap();
    assert_eq!(complete, record(FirmwareState::McuValid, 5000));
    assert_eq!(
        report(&ota, Report::Done),
        r#"{"type": "report_progress", "report":{"progress":{"state":"done", "result_code":"0", "result_msg":""}, "version":"1.0.1"}}"#
    );
    assert!(!ota.is_enabled());
    assert_eq!(ota.next_deadline(), None);
}

#[test]
fn a_matching_partial_record_resumes_without_percent_zero() {
    let mut ota = listening();
    let stored = record(FirmwareState::McuDownloading, 2048);
    let message = vector_update();
    assert!(ota
        .handle_message(
            message.as_bytes(),
            Some(&StoredImage::from(&stored)),
            MAX,
            0
        )
        .is_some());
    assert_eq!(
        drain(&mut ota, 0),
        [
            transition(State::Listening, State::Downloading),
            Event::Status(Status::EnterUpdate),
            Event::Fetch {
                offset: 2048,
                size: 5000
            },
        ]
    );
    ota.progress(4096, 10);
    assert_eq!(drain(&mut ota, 10), [Event::Publish(Report::Progress(81))]);
}

#[test]
fn other_records_start_afresh() {
    let mut other_version = record(FirmwareState::McuDownloading, 2048);
    other_version.version = Text::from_slice(b"1.0.2").unwrap();
    let mut other_md5 = record(FirmwareState::McuDownloading, 2048);
    other_md5.md5[0] ^= 1;
    let mut over = record(FirmwareState::McuDownloading, 5001);
    over.size = 5000;
    for stored in [
        record(FirmwareState::McuValid, 5000),
        record(FirmwareState::ModuleDownloading, 2048),
        other_version,
        other_md5,
        over,
    ] {
        let mut ota = listening();
        let message = vector_update();
        ota.handle_message(
            message.as_bytes(),
            Some(&StoredImage::from(&stored)),
            MAX,
            0,
        )
        .unwrap();
        let events = drain(&mut ota, 0);
        assert!(
            events.contains(&Event::Fetch {
                offset: 0,
                size: 5000
            }),
            "{stored:?}"
        );
        assert!(events.contains(&Event::BeginImage));
    }
}

#[test]
fn a_complete_partial_record_is_verified_without_a_get() {
    let mut ota = listening();
    let stored = record(FirmwareState::McuDownloading, 5000);
    let message = vector_update();
    assert_eq!(
        ota.handle_message(
            message.as_bytes(),
            Some(&StoredImage::from(&stored)),
            MAX,
            0
        ),
        None
    );
    assert_eq!(
        drain(&mut ota, 0),
        [
            transition(State::Listening, State::Downloading),
            Event::Status(Status::EnterUpdate),
            transition(State::Downloading, State::Verifying),
            Event::Verify { size: 5000 },
        ]
    );
    ota.image_checked(&md5(&vector_image(5000)));
    let events = drain(&mut ota, 0);
    assert!(!events
        .iter()
        .any(|event| matches!(event, Event::Publish(Report::Progress(_)))));
    assert!(events.contains(&Event::Status(Status::UpdateSuccess)));
}

/// Runs one attempt that fails with `failure`, and checks what follows.
fn fail_attempt(ota: &mut Ota, failure: Failure, now: u64) -> Vec<Event> {
    let message = vector_update();
    let stored = record(FirmwareState::McuDownloading, 1000);
    ota.handle_message(
        message.as_bytes(),
        Some(&StoredImage::from(&stored)),
        MAX,
        now,
    )
    .unwrap();
    let started = drain(ota, now);
    assert_eq!(started[1], Event::Status(Status::EnterUpdate));
    ota.progress(3000, now + 1);
    drain(ota, now + 1);
    ota.fetch_failed(failure, now + 2);
    drain(ota, now + 2)
}

#[test]
fn three_silent_retries_then_one_fail_report() {
    let mut ota = listening();
    let mut now = 0;
    for retry in 1..=RETRIES {
        let events = fail_attempt(&mut ota, Failure::Http(HttpError::Stalled), now);
        assert_eq!(
            events,
            [
                Event::Checkpoint { downloaded: 3000 },
                transition(State::Downloading, State::RetryWait),
            ],
            "retry {retry}: no report, no URC"
        );
        assert!(ota.is_downloading());
        assert_eq!(ota.next_deadline(), Some(now + 1002));
        assert_eq!(drain(&mut ota, now + 1001), []);
        let message = vector_update();
        assert_eq!(
            ota.handle_message(message.as_bytes(), None, MAX, now + 1001),
            None,
            "ignored while waiting"
        );
        assert_eq!(
            drain(&mut ota, now + 1002),
            [
                Event::Publish(Report::Version),
                transition(State::RetryWait, State::Listening)
            ]
        );
        now += 5000;
    }
    let events = fail_attempt(&mut ota, Failure::Http(HttpError::Stalled), now);
    assert_eq!(
        events,
        [
            Event::Checkpoint { downloaded: 3000 },
            Event::Publish(Report::Fail(ResultCode::Timeout)),
            Event::Status(Status::UpdateFail(FailCode::Timeout)),
            Event::Unsubscribe,
            transition(State::Downloading, State::Failed),
            transition(State::Failed, State::Idle),
        ]
    );
    assert_eq!(
        report(&ota, Report::Fail(ResultCode::Timeout)),
        r#"{"type": "report_progress", "report": {"progress": {"state":"fail", "result_code":"-1", "result_msg":"time_out"}, "version": "1.0.1"}}"#
    );
}

#[test]
fn each_failure_has_its_code_and_result() {
    let cases = [
        (
            Failure::Http(HttpError::Status(404)),
            FailCode::Http,
            ResultCode::NotFound,
        ),
        (
            Failure::Http(HttpError::Status(401)),
            FailCode::Http,
            ResultCode::Unauthorized,
        ),
        (
            Failure::Http(HttpError::Status(403)),
            FailCode::Http,
            ResultCode::Unauthorized,
        ),
        (
            Failure::Http(HttpError::Status(302)),
            FailCode::Http,
            ResultCode::Other,
        ),
        (
            Failure::Http(HttpError::Status(500)),
            FailCode::Http,
            ResultCode::Other,
        ),
        (
            Failure::Http(HttpError::UnsupportedEncoding),
            FailCode::Http,
            ResultCode::Other,
        ),
        (
            Failure::Http(HttpError::Truncated),
            FailCode::Http,
            ResultCode::Other,
        ),
        (Failure::Connection, FailCode::Http, ResultCode::Other),
        (
            Failure::Http(HttpError::Stalled),
            FailCode::Timeout,
            ResultCode::Timeout,
        ),
        (Failure::Memory, FailCode::Memory, ResultCode::Other),
        (Failure::Flash, FailCode::Flash, ResultCode::Other),
    ];
    for (failure, code, result) in cases {
        assert_eq!(failure.codes(), (code, result));
        let mut ota = listening();
        let mut last = Vec::new();
        for attempt in 0..=RETRIES {
            last = fail_attempt(&mut ota, failure, u64::from(attempt) * 5000);
            drain(&mut ota, u64::from(attempt) * 5000 + 1002);
        }
        assert!(
            last.contains(&Event::Publish(Report::Fail(result))),
            "{failure:?}"
        );
        assert!(
            last.contains(&Event::Status(Status::UpdateFail(code))),
            "{failure:?}"
        );
    }
}

#[test]
fn a_new_task_gets_a_fresh_retry_allowance() {
    let mut ota = listening();
    fail_attempt(&mut ota, Failure::Connection, 0);
    drain(&mut ota, 1002);
    // The cloud now pushes another version: its first failure is retried too.
    for attempt in 0..=RETRIES {
        let message = update_message(5000, VECTOR_MD5, "1.0.2");
        let now = 10_000 + u64::from(attempt) * 5000;
        ota.handle_message(message.as_bytes(), None, MAX, now)
            .unwrap();
        drain(&mut ota, now);
        ota.fetch_failed(Failure::Connection, now);
        let events = drain(&mut ota, now + 1002);
        let final_failure = events.contains(&Event::Status(Status::UpdateFail(FailCode::Http)));
        assert_eq!(final_failure, attempt == RETRIES, "attempt {attempt}");
    }
}

#[test]
fn final_at_once_failures() {
    let mut ota = listening();
    let message = update_message(MAX + 1, VECTOR_MD5, "1.0.1");
    assert_eq!(ota.handle_message(message.as_bytes(), None, MAX, 0), None);
    assert_eq!(
        drain(&mut ota, 0),
        [
            transition(State::Listening, State::Downloading),
            Event::Status(Status::EnterUpdate),
            Event::Publish(Report::Fail(ResultCode::Other)),
            Event::Status(Status::UpdateFail(FailCode::TooLarge)),
            Event::Unsubscribe,
            transition(State::Downloading, State::Failed),
            transition(State::Failed, State::Idle),
        ]
    );

    let mut ota = listening();
    let invalid =
        br#"{"type":"update_firmware","file_size":5000,"url":"http://h/f","version":"1.0.1"}"#;
    assert_eq!(ota.handle_message(invalid, None, MAX, 0), None);
    let events = drain(&mut ota, 0);
    assert_eq!(events[1], Event::Status(Status::EnterUpdate));
    assert_eq!(events[2], Event::Publish(Report::Fail(ResultCode::Other)));
    assert_eq!(
        events[3],
        Event::Status(Status::UpdateFail(FailCode::InvalidMessage))
    );
    assert!(
        report(&ota, Report::Fail(ResultCode::Other)).contains(r#""version": "1.0.0""#),
        "no target: the MCU version"
    );

    let mut ota = listening();
    let message = vector_update();
    ota.handle_message(message.as_bytes(), None, MAX, 0)
        .unwrap();
    ota.progress(5000, 0);
    ota.fetch_complete(0);
    drain(&mut ota, 0);
    ota.image_checked(&[0; 16]);
    assert_eq!(
        drain(&mut ota, 0),
        [
            Event::ClearImage,
            Event::Publish(Report::Fail(ResultCode::Md5Mismatch)),
            Event::Status(Status::UpdateFail(FailCode::NoValidFirmware)),
            Event::Unsubscribe,
            transition(State::Verifying, State::Failed),
            transition(State::Failed, State::Idle),
        ]
    );
    assert!(report(&ota, Report::Fail(ResultCode::Md5Mismatch))
        .contains(r#""result_code":"-4", "result_msg":"MD5_not_match""#));
}

#[test]
fn disabling_aborts_with_a_report_and_keeps_the_partial_image() {
    let mut ota = listening();
    let message = vector_update();
    ota.handle_message(message.as_bytes(), None, MAX, 0)
        .unwrap();
    ota.progress(2500, 0);
    drain(&mut ota, 0);
    ota.disable();
    assert_eq!(
        drain(&mut ota, 0),
        [
            Event::Abort,
            Event::Checkpoint { downloaded: 2500 },
            Event::Publish(Report::Fail(ResultCode::Other)),
            Event::Status(Status::UpdateFail(FailCode::Aborted)),
            Event::Unsubscribe,
            transition(State::Downloading, State::Failed),
            transition(State::Failed, State::Idle),
        ]
    );
    let mut ota = listening();
    ota.disable();
    assert_eq!(
        drain(&mut ota, 0),
        [
            Event::Unsubscribe,
            transition(State::Listening, State::Idle)
        ]
    );
    ota.disable();
    assert_eq!(drain(&mut ota, 0), [], "already off");
}

#[test]
fn a_lost_link_or_ended_session_fails_without_a_report() {
    let mut ota = listening();
    ota.link_lost();
    assert_eq!(drain(&mut ota, 0), [], "listening survives a reconnect");
    let message = vector_update();
    ota.handle_message(message.as_bytes(), None, MAX, 0)
        .unwrap();
    drain(&mut ota, 0);
    ota.link_lost();
    assert_eq!(
        drain(&mut ota, 0),
        [
            Event::Abort,
            Event::Status(Status::UpdateFail(FailCode::Aborted)),
            Event::Unsubscribe,
            transition(State::Downloading, State::Failed),
            transition(State::Failed, State::Idle),
        ]
    );

    let mut ota = listening();
    fail_attempt(&mut ota, Failure::Connection, 0);
    ota.session_ended();
    assert_eq!(
        drain(&mut ota, 0),
        [
            Event::Status(Status::UpdateFail(FailCode::Aborted)),
            transition(State::RetryWait, State::Failed),
            transition(State::Failed, State::Idle),
        ],
        "AT+TCMQTTDISCONN while waiting to retry"
    );
    let mut ota = listening();
    ota.session_ended();
    assert_eq!(
        drain(&mut ota, 0),
        [transition(State::Listening, State::Idle)]
    );
}

#[test]
fn a_rejected_version_is_re_reported_three_times_then_listening_goes_on() {
    let mut ota = listening();
    let rejected =
        br#"{"result_code":1,"result_msg":"fail","type":"report_version_rsp","version":"1.0.0"}"#;
    let mut now = 0;
    for _ in 0..3 {
        ota.handle_message(rejected, None, MAX, now);
        assert_eq!(ota.next_deadline(), Some(now + 1000));
        assert_eq!(drain(&mut ota, now + 999), []);
        assert_eq!(
            drain(&mut ota, now + 1000),
            [Event::Publish(Report::Version)]
        );
        now += 2000;
    }
    ota.handle_message(rejected, None, MAX, now);
    assert_eq!(ota.next_deadline(), None);
    assert_eq!(drain(&mut ota, now + 5000), [], "no fourth re-report");
    assert!(ota.is_enabled());
    let message = vector_update();
    assert!(
        ota.handle_message(message.as_bytes(), None, MAX, now)
            .is_some(),
        "a push is still handled"
    );
    drain(&mut ota, now);

    let mut ota = listening();
    for _ in 0..4 {
        ota.handle_message(rejected, None, MAX, 0);
        drain(&mut ota, 1000);
    }
    ota.enable(b"1.0.0").unwrap();
    ota.handle_message(rejected, None, MAX, 0);
    assert_eq!(
        drain(&mut ota, 1000),
        [Event::Publish(Report::Version)],
        "fresh allowance"
    );
}

#[test]
fn updates_are_ignored_unless_listening() {
    let mut ota = Ota::new();
    let message = vector_update();
    assert_eq!(ota.handle_message(message.as_bytes(), None, MAX, 0), None);
    assert_eq!(drain(&mut ota, 0), []);
    let mut ota = listening();
    ota.handle_message(message.as_bytes(), None, MAX, 0)
        .unwrap();
    drain(&mut ota, 0);
    assert_eq!(
        ota.handle_message(message.as_bytes(), None, MAX, 0),
        None,
        "duplicate push"
    );
    assert_eq!(drain(&mut ota, 0), []);
    assert_eq!(ota.enable(b""), Err(crate::InvalidVersion));
    assert_eq!(ota.enable(&[b'v'; 33]), Err(crate::InvalidVersion));
    assert_eq!(ota.mcu_version(), b"1.0.0");
    assert_eq!(ota.state(), State::Downloading);
}

#[test]
fn progress_is_checkpointed_every_64_kib_and_reported_once_a_second() {
    let size = 300_000;
    let mut ota = listening();
    let message = update_message(size, VECTOR_MD5, "2.0");
    ota.handle_message(message.as_bytes(), None, MAX, 0)
        .unwrap();
    drain(&mut ota, 0);
    let mut checkpoints = Vec::new();
    let mut reports = Vec::new();
    let mut stored = 0;
    let mut now = 0;
    while stored < size {
        stored = (stored + 1000).min(size);
        now += 50;
        ota.progress(stored, now);
        for event in drain(&mut ota, now) {
            match event {
                Event::Checkpoint { downloaded } => checkpoints.push(downloaded),
                Event::Publish(Report::Progress(percent)) => reports.push((now, percent)),
                other => panic!("{other:?}"),
            }
        }
    }
    assert!(checkpoints
        .windows(2)
        .all(|pair| pair[1] - pair[0] >= CHECKPOINT_BYTES));
    assert_eq!(checkpoints.len(), (size / CHECKPOINT_BYTES) as usize);
    assert!(reports
        .windows(2)
        .all(|pair| pair[1].0 - pair[0].0 >= 1000 || pair[1].1 == 100));
    assert_eq!(reports.last(), Some(&(now, 100)));
    assert!(reports.windows(2).all(|pair| pair[1].1 > pair[0].1));
}

/// The OTA share of the design's ~2 KB for OTA, provisioning and gateway:
/// the state machine, one HTTP download, the MD5 state and the flash writer
/// (the runner adds its copy of the URL).
#[test]
fn the_state_fits_the_memory_budget() {
    let ota = core::mem::size_of::<Ota>();
    let http = core::mem::size_of::<RangeDownload>();
    let digest = core::mem::size_of::<ImageDigest>();
    let writer = core::mem::size_of::<storage::FirmwareWriter>();
    std::println!(
        "Ota {ota} B, RangeDownload {http} B, ImageDigest {digest} B, FirmwareWriter {writer} B"
    );
    assert!(
        ota + http + digest + writer <= 640,
        "{ota} + {http} + {digest} + {writer}"
    );
}
