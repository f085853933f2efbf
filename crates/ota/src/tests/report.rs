//! The report payloads, byte for byte against the test vectors.

use crate::{write_report, BufferTooSmall, Report, ResultCode, MAXIMUM_REPORT_LENGTH};

fn written(report: Report, version: &[u8]) -> std::string::String {
    let mut out = [0u8; MAXIMUM_REPORT_LENGTH];
    let length = write_report(report, version, &mut out).unwrap();
    std::string::String::from_utf8(out[..length].to_vec()).unwrap()
}

#[test]
fn version_report_matches_the_vector() {
    assert_eq!(
        written(Report::Version, b"1.0.1"),
        r#"{"type": "report_version", "report":{"version":"1.0.1"}}"#
    );
}

#[test]
fn progress_reports_match_the_vectors() {
    for (percent, text) in [(0, "0"), (42, "42"), (100, "100"), (7, "7")] {
        assert_eq!(
            written(Report::Progress(percent), b"1.0.1"),
            std::format!(
                r#"{{"type": "report_progress", "report": {{"progress": {{"state":"downloading", "percent":"{text}", "result_code":"0", "result_msg":""}}, "version": "1.0.1"}}}}"#
            )
        );
    }
}

#[test]
fn done_report_matches_the_vector() {
    assert_eq!(
        written(Report::Done, b"1.0.1"),
        r#"{"type": "report_progress", "report":{"progress":{"state":"done", "result_code":"0", "result_msg":""}, "version":"1.0.1"}}"#
    );
}

#[test]
fn fail_reports_match_the_vectors() {
    let cases = [
        (ResultCode::Timeout, "-1", "time_out"),
        (ResultCode::NotFound, "-2", "time_out"),
        (ResultCode::Unauthorized, "-3", "time_out"),
        (ResultCode::Md5Mismatch, "-4", "MD5_not_match"),
        (ResultCode::Other, "-5", "time_out"),
    ];
    for (code, number, message) in cases {
        assert_eq!(
            written(Report::Fail(code), b"1.0.1"),
            std::format!(
                r#"{{"type": "report_progress", "report": {{"progress": {{"state":"fail", "result_code":"{number}", "result_msg":"{message}"}}, "version": "1.0.1"}}}}"#
            )
        );
    }
}

#[test]
fn versions_are_json_escaped_and_the_longest_report_fits() {
    assert_eq!(
        written(Report::Version, b"a\"b\\c\x01"),
        r#"{"type": "report_version", "report":{"version":"a\"b\\c\u0001"}}"#
    );
    let worst = [0x1Fu8; 32];
    let mut out = [0u8; MAXIMUM_REPORT_LENGTH];
    for report in [
        Report::Progress(100),
        Report::Done,
        Report::Fail(ResultCode::Md5Mismatch),
    ] {
        assert!(write_report(report, &worst, &mut out).is_ok(), "{report:?}");
    }
}

#[test]
fn a_short_buffer_is_refused() {
    let mut out = [0u8; 20];
    assert_eq!(
        write_report(Report::Done, b"1.0", &mut out),
        Err(BufferTooSmall)
    );
    assert_eq!(Report::Progress(3).qos(), 0);
    assert_eq!(Report::Done.qos(), 1);
    assert_eq!(Report::Version.qos(), 1);
}
