//! The set checks of both commands, in the order of `commands.md` §10.

use crate::{check_bind, check_online, ArgumentError, Request, SubDevice};
use at_parser::Args;
use std::format;
use std::string::String;

fn bind(connected: bool, text: &str) -> Result<Request, ArgumentError> {
    check_bind(connected, &Args::new(text.as_bytes()), 7)
}

fn online(connected: bool, text: &str) -> Result<Request, ArgumentError> {
    check_online(connected, &Args::new(text.as_bytes()))
}

fn test_device() -> SubDevice {
    SubDevice::new(b"S3EUVBRJLB", b"test_device").unwrap()
}

#[test]
fn valid_bind_and_unbind_give_their_requests() {
    match bind(true, r#"0,"S3EUVBRJLB","test_device","c2VjcmV0""#) {
        Ok(Request::Bind {
            subdevice, random, ..
        }) => {
            assert_eq!(subdevice, test_device());
            assert_eq!(random, 7);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        bind(true, r#"1,"S3EUVBRJLB","test_device""#),
        Ok(Request::Unbind {
            subdevice: test_device()
        })
    );
    assert_eq!(
        online(true, r#"0,"S3EUVBRJLB","test_device""#),
        Ok(Request::Online {
            subdevice: test_device()
        })
    );
    assert_eq!(
        online(true, r#"1,"S3EUVBRJLB","test_device""#),
        Ok(Request::Offline {
            subdevice: test_device()
        })
    );
}

#[test]
fn not_connected_comes_first() {
    assert_eq!(bind(false, "x"), Err(ArgumentError::NotConnected));
    assert_eq!(online(false, ""), Err(ArgumentError::NotConnected));
    assert_eq!(ArgumentError::NotConnected.cme_code(), Some(208));
}

#[test]
fn mode_must_be_an_integer_then_0_or_1() {
    for text in [
        "",
        r#""0","P","D""#,
        "a,\"P\",\"D\"",
        ",\"P\",\"D\"",
        "1.0,\"P\",\"D\"",
    ] {
        assert_eq!(
            bind(true, text),
            Err(ArgumentError::ModeNotInteger),
            "{text}"
        );
        assert_eq!(
            online(true, text),
            Err(ArgumentError::ModeNotInteger),
            "{text}"
        );
    }
    assert_eq!(ArgumentError::ModeNotInteger.cme_code(), None);
    // The mode range comes before the strings.
    assert_eq!(bind(true, "2,1,2,3"), Err(ArgumentError::Invalid));
    assert_eq!(online(true, "-1"), Err(ArgumentError::Invalid));
    assert_eq!(ArgumentError::Invalid.cme_code(), Some(204));
}

#[test]
fn strings_are_bounded_in_bytes_after_unescaping() {
    let pid10 = "A".repeat(10);
    let dn48 = "d".repeat(48);
    let secret44 = "s".repeat(44);
    assert!(bind(true, &format!(r#"0,"{pid10}","{dn48}","{secret44}""#)).is_ok());
    assert!(online(true, &format!(r#"0,"{pid10}","{dn48}""#)).is_ok());
    // An escaped quote is one byte.
    assert!(online(true, &format!(r#"0,"{}\"","d""#, "A".repeat(9))).is_ok());
    for text in [
        format!(r#"0,"{pid10}A","d","s""#),
        String::from(r#"0,"","d","s""#),
        String::from(r#"0,P,"d","s""#),
        format!(r#"0,"P","{dn48}d","s""#),
        String::from(r#"0,"P","","s""#),
        String::from(r#"0,"P",5,"s""#),
        format!(r#"0,"P","d","{secret44}s""#),
        String::from(r#"0,"P","d","""#),
        String::from(r#"0,"P","d",12"#),
        String::from(r#"0,"P","d""#),
        String::from(r#"0,"P","d","s","x""#),
        String::from(r#"1,"P","d","s""#),
        String::from(r#"1,"P""#),
    ] {
        assert_eq!(bind(true, &text), Err(ArgumentError::Invalid), "{text}");
    }
    for text in [
        format!(r#"0,"{pid10}A","d""#),
        format!(r#"1,"P","{dn48}d""#),
        String::from(r#"0,"P","d","s""#),
        String::from(r#"0,"P""#),
    ] {
        assert_eq!(online(true, &text), Err(ArgumentError::Invalid), "{text}");
    }
}
