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
