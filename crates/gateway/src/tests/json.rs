//! The reply reader: whitespace and member order free, strict otherwise.

use crate::json::{gateway_reply, time_reply};

fn reply(payload: &str) -> Option<(bool, bool, bool, i32)> {
    gateway_reply(payload.as_bytes()).map(|reply| {
        (
            reply.kind.equals(b"online"),
            reply.product_id.equals(b"CTQS08Y5LG"),
            reply.device_name.equals(b"Dev01"),
            reply.result,
        )
    })
}

#[test]
fn compact_reply_is_read() {
    assert_eq!(
        reply(
            r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0}]}}"#
        ),
        Some((true, true, true, 0))
    );
}

#[test]
fn whitespace_member_order_and_escapes_do_not_matter() {
    assert_eq!(
        reply(
            " {\n \"payload\" : { \"other\": [1, {\"x\": null}], \"devices\" : [ { \"result\" : -1 , \"device_name\":\"Dev\\u0030\\u0031\", \"product_id\":\"CTQS08Y5LG\", \"extra\": true} ] } ,\t\"type\" : \"onl\\u0069ne\" } "
        ),
        Some((true, true, true, -1))
    );
}

#[test]
fn only_the_first_device_decides() {
    assert_eq!(
        reply(
            r#"{"type":"online","payload":{"devices":[{"product_id":"OTHER00001","device_name":"Dev01","result":0},{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0}]}}"#
        ),
        Some((true, false, true, 0))
    );
}

#[test]
fn malformed_or_incomplete_replies_are_not_replies() {
    for payload in [
        "",
        "not json",
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0}]}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0}]}} x"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0.5}]}}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":"0"}]}}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":01}]}}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01"}]}}"#,
        r#"{"type":"online","payload":{"devices":[]}}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","result":0}]}}"#,
        r#"{"payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0}]}}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","result":0,}]}}"#,
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS\x","device_name":"Dev01","result":0}]}}"#,
        r#"[{"type":"online"}]"#,
    ] {
        assert_eq!(reply(payload), None, "{payload}");
    }
}

#[test]
fn deep_nesting_is_refused_without_recursing_forever() {
    let mut payload = std::string::String::from(r#"{"type":"online","x":"#);
    for _ in 0..64 {
        payload.push('[');
    }
    for _ in 0..64 {
        payload.push(']');
    }
    payload.push('}');
    assert_eq!(reply(&payload), None);
}

#[test]
fn time_reply_needs_an_integer_time() {
    assert_eq!(
        time_reply(br#"{"type":"get","time":1700000000}"#),
        Some(1_700_000_000)
    );
    assert_eq!(time_reply(br#"{ "time" : 5 , "type" : "get" }"#), Some(5));
    assert_eq!(time_reply(br#"{"type":"get","time":"1700000000"}"#), None);
    assert_eq!(time_reply(br#"{"type":"get","time":1.5}"#), None);
    assert_eq!(time_reply(br#"{"type":"get","time":-5}"#), None);
    assert_eq!(time_reply(br#"{"type":"get"}"#), None);
    assert_eq!(time_reply(br#"{"type":"get","time":1"#), None);
}

mod properties {
    use crate::json::{gateway_reply, time_reply};
    use crate::{Channel, Gateway, Request, SubDevice, Subscription};
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec;

    const TOKENS: [&str; 16] = [
        r#"{"type":"online""#,
        r#","payload":{"devices":[{"product_id":"CTQS08Y5LG","#,
        r#""device_name":"Dev01","result":0}]}}"#,
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\u00",
        "-0",
        "1e5",
        "null",
        " ",
        "\"time\":17",
    ];

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = gateway_reply(&bytes);
            let _ = time_reply(&bytes);
        }

        #[test]
        fn json_like_fragments_never_panic(parts in proptest::collection::vec(0..TOKENS.len(), 0..40)) {
            let text: String = parts.iter().map(|index| TOKENS[*index]).collect();
            let _ = gateway_reply(text.as_bytes());
            let _ = time_reply(text.as_bytes());
        }

        /// Whitespace between any two tokens changes nothing, and a reply cut
        /// anywhere is never a reply.
        #[test]
        fn whitespace_anywhere_same_result_and_cuts_never_match(
            gaps in proptest::collection::vec(0usize..3, 40),
            cut in 1usize..90,
        ) {
            let tokens = [
                "{", "\"type\"", ":", "\"online\"", ",", "\"payload\"", ":", "{",
                "\"devices\"", ":", "[", "{", "\"product_id\"", ":", "\"CTQS08Y5LG\"", ",",
                "\"device_name\"", ":", "\"Dev01\"", ",", "\"result\"", ":", "-1", "}", "]",
                "}", "}",
            ];
            let mut text = String::new();
            for (token, gap) in tokens.iter().zip(gaps.iter()) {
                text.push_str(&" \t\n\r"[..*gap]);
                text.push_str(token);
            }
            let reply = gateway_reply(text.as_bytes()).expect("a reply");
            prop_assert_eq!(reply.result, -1);
            prop_assert!(reply.device_name.equals(b"Dev01"));
            let cut = cut.min(text.len() - 1);
            prop_assert!(gateway_reply(&text.as_bytes()[..cut]).is_none());
        }

        /// Whatever arrives on the reply topics, the state machine never panics
        /// and ends a command exactly once.
        #[test]
        fn arbitrary_messages_never_break_the_machine(
            messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..8),
        ) {
            let mut gateway = Gateway::new();
            let subdevice = SubDevice::new(b"CTQS08Y5LG", b"Dev01").unwrap();
            gateway.begin(Request::Online { subdevice }, 1_000).unwrap();
            let mut actions: Vec<_> = core::iter::from_fn(|| gateway.poll(0)).collect();
            gateway.subscribed(Channel::Result, Subscription::Granted);
            actions.extend(core::iter::from_fn(|| gateway.poll(0)));
            for message in &messages {
                gateway.handle_message(Channel::Result, message);
                gateway.handle_message(Channel::TimeResult, message);
            }
            actions.extend(core::iter::from_fn(|| gateway.poll(1_000)));
            let finished = actions
                .iter()
                .filter(|action| matches!(action, crate::Action::Finished(..)))
                .count();
            prop_assert_eq!(finished, 1);
            prop_assert!(!gateway.is_busy());
        }
    }
}
