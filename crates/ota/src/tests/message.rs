//! Parsing the update topic's messages (`cloud.md` §4.3).

use crate::{Field, Message, MessageError};

const UPDATE: &str = r#"{"file_size":175436,"md5sum":"ad4615b866c13afb8b293a679bfa5dc4","type":"update_firmware","url":"https://ota-1255858890.cos.ap-guangzhou.myqcloud.com/100008768029_S3EUVBRJLB_1.3.0?sign=abc","version":"1.3.0"}"#;

fn update(payload: &str) -> crate::UpdateFirmware<'_> {
    match Message::parse(payload.as_bytes()) {
        Ok(Message::UpdateFirmware(update)) => update,
        other => panic!("{payload}: {other:?}"),
    }
}

#[test]
fn the_vector_update_is_parsed() {
    let parsed = update(UPDATE);
    assert_eq!(parsed.file_size, 175_436);
    assert_eq!(
        crate::to_hex(&parsed.md5),
        *b"ad4615b866c13afb8b293a679bfa5dc4"
    );
    assert_eq!(&parsed.version[..], b"1.3.0");
    assert_eq!(
        parsed.url.raw(),
        b"https://ota-1255858890.cos.ap-guangzhou.myqcloud.com/100008768029_S3EUVBRJLB_1.3.0?sign=abc"
    );
}

#[test]
fn version_responses_accept_only_zero() {
    let accepted = |payload: &str| match Message::parse(payload.as_bytes()) {
        Ok(Message::VersionResponse { accepted }) => accepted,
        other => panic!("{payload}: {other:?}"),
    };
    assert!(accepted(
        r#"{"result_code":0,"result_msg":"success","type":"report_version_rsp","version":"1.0.0"}"#
    ));
    assert!(accepted(
        r#"{"type":"report_version_rsp","result_code":"0"}"#
    ));
    assert!(!accepted(
        r#"{"result_code":1,"result_msg":"fail","type":"report_version_rsp","version":"1.0.0"}"#
    ));
    assert!(!accepted(
        r#"{"type":"report_version_rsp","result_code":"-1"}"#
    ));
    assert!(!accepted(
        r#"{"type":"report_version_rsp","result_code":0.5}"#
    ));
    assert!(!accepted(r#"{"type":"report_version_rsp"}"#));
    assert!(!accepted(
        r#"{"type":"report_version_rsp","result_code":null}"#
    ));
}

#[test]
fn sizes_may_be_strings_md5_any_case_and_unknown_keys_are_ignored() {
    let parsed = update(
        r#"{"user_defined":{"a":[1,2]},"file_size":"5000","md5sum":"33D9712CC5EB0BF18A41ED54A908E412","type":"update_firmware","url":"HTTP://h/x%00","version":"1.0.1","extra":null}"#,
    );
    assert_eq!(parsed.file_size, 5000);
    assert_eq!(
        crate::to_hex(&parsed.md5),
        *b"33d9712cc5eb0bf18a41ed54a908e412"
    );
    assert_eq!(parsed.url.raw(), b"HTTP://h/x%00", "sent as received");
}

#[test]
fn escaped_strings_are_decoded() {
    let parsed = update(
        r#"{"file_size":1,"md5sum":"33d9712cc5eb0bf18a41ed54a908e41\u0032","type":"update_\u0066irmware","url":"http:\/\/h\/a","version":"1\u002e0"}"#,
    );
    assert_eq!(&parsed.version[..], b"1.0");
    assert_eq!(
        crate::to_hex(&parsed.md5),
        *b"33d9712cc5eb0bf18a41ed54a908e412"
    );
    let mut url = [0u8; 16];
    let length = parsed.url.copy_to(&mut url).unwrap();
    assert_eq!(&url[..length], b"http://h/a");
}

#[test]
fn missing_or_invalid_fields_name_the_field() {
    let good = [
        ("file_size", "5000"),
        ("md5sum", "\"33d9712cc5eb0bf18a41ed54a908e412\""),
        ("url", "\"http://h/f\""),
        ("version", "\"1.0.1\""),
    ];
    let with = |name: &str, value: Option<&str>| {
        let mut text = std::string::String::from(r#"{"type":"update_firmware""#);
        for (key, good_value) in good {
            let value = if key == name { value } else { Some(good_value) };
            if let Some(value) = value {
                text.push_str(&std::format!(r#","{key}":{value}"#));
            }
        }
        text.push('}');
        Message::parse(text.as_bytes()).map(|_| ())
    };
    let fields = [
        ("file_size", Field::FileSize),
        ("md5sum", Field::Md5),
        ("url", Field::Url),
        ("version", Field::Version),
    ];
    for (name, field) in fields {
        assert_eq!(
            with(name, None),
            Err(MessageError::Missing(field)),
            "{name}"
        );
        assert_eq!(
            with(name, Some("true")),
            Err(MessageError::Invalid(field)),
            "{name}"
        );
    }
    for size in [
        "0",
        "-1",
        "1.5",
        "4294967296",
        "\"\"",
        "\"12a\"",
        "\" 1\"",
        "1e3",
    ] {
        assert_eq!(
            with("file_size", Some(size)),
            Err(MessageError::Invalid(Field::FileSize)),
            "{size}"
        );
    }
    assert_eq!(with("file_size", Some("4294967295")), Ok(()));
    for md5 in [
        "\"33d9\"",
        "\"33d9712cc5eb0bf18a41ed54a908e4120\"",
        "\"g3d9712cc5eb0bf18a41ed54a908e412\"",
        "12",
    ] {
        assert_eq!(
            with("md5sum", Some(md5)),
            Err(MessageError::Invalid(Field::Md5)),
            "{md5}"
        );
    }
    for url in [
        "\"ftp://h/f\"",
        "\"http://\"",
        "\"http:///f\"",
        "\"h/f\"",
        "\"\"",
        "\"https:/h\"",
    ] {
        assert_eq!(
            with("url", Some(url)),
            Err(MessageError::Invalid(Field::Url)),
            "{url}"
        );
    }
    let long = std::format!("\"{}\"", "v".repeat(33));
    for version in ["\"\"", long.as_str(), "1"] {
        assert_eq!(
            with("version", Some(version)),
            Err(MessageError::Invalid(Field::Version)),
            "{version}"
        );
    }
    assert_eq!(
        with("version", Some(&std::format!("\"{}\"", "v".repeat(32)))),
        Ok(())
    );
}

#[test]
fn duplicate_fields_are_invalid() {
    let payload = UPDATE.replace(
        r#""version":"1.3.0""#,
        r#""version":"1.3.0","version":"1.3.1""#,
    );
    assert_eq!(
        Message::parse(payload.as_bytes()),
        Err(MessageError::Invalid(Field::Version))
    );
}

#[test]
fn other_payloads_are_other() {
    for payload in [
        "not json",
        r#"{"type":"update_firmware","file_size":1"#,
        r#"{"file_size":1}"#,
        r#"{"type":1}"#,
        r#"{"type":"report_progress"}"#,
        r#"{"method":"update_resource"}"#,
    ] {
        assert_eq!(
            Message::parse(payload.as_bytes()),
            Ok(Message::Other),
            "{payload}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = Message::parse(&payload);
    }

    #[test]
    fn the_update_parses_whatever_the_whitespace(space in "[ \t\r\n]{0,3}") {
        let spaced = UPDATE
            .replace(':', &std::format!("{space}:{space}"))
            .replace(',', &std::format!("{space},{space}"));
        // The colons inside the URL are inside a string: only the structure is spaced.
        let spaced = spaced.replace(&std::format!("https{space}:{space}//"), "https://");
        proptest::prop_assert_eq!(update(&spaced).file_size, 175_436);
    }
}
