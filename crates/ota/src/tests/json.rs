//! The JSON reader: strictness and string decoding.

use crate::json::{for_each_member, Malformed, Value};

fn members(payload: &str) -> Result<std::vec::Vec<(std::string::String, Value<'_>)>, Malformed> {
    let mut found = std::vec::Vec::new();
    for_each_member(payload.as_bytes(), |key, value| {
        found.push((std::string::String::from_utf8(key.to_vec()).unwrap(), value));
    })?;
    Ok(found)
}

#[test]
fn well_formed_objects_are_walked_in_order() {
    let found =
        members(r#" { "a" : 1 , "b":"x\"y", "c":{"d":[1,true,null,{"e":-2.5e+3}]}, "f":false } "#)
            .unwrap();
    let keys: std::vec::Vec<_> = found.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c", "f"]);
    assert_eq!(found[0].1, Value::Number(b"1"));
    assert_eq!(found[2].1, Value::Other);
    assert_eq!(members("{}").unwrap().len(), 0);
}

#[test]
fn anything_else_is_malformed() {
    for bad in [
        "",
        "[]",
        "{",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":1e}",
        "{\"a\":tru}",
        "{\"a\":\"x}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\x01\"}",
        "{} x",
        "{}{}",
        "{\"a\":[1,]}",
        "{\"a\":{\"b\"}}",
        "{a:1}",
    ] {
        assert_eq!(
            members(bad).map(|found| found.len()),
            Err(Malformed),
            "{bad:?}"
        );
    }
    let deep = std::format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
    assert_eq!(members(&deep).map(|found| found.len()), Err(Malformed));
}

#[test]
fn strings_decode_their_escapes() {
    let found = members(r#"{"s":"a\/b\\c\"d\n\u00e9\ud83d\ude00\t"}"#).unwrap();
    let Value::String(text) = found[0].1 else {
        panic!("not a string");
    };
    let decoded: std::vec::Vec<u8> = text.bytes().collect();
    assert_eq!(decoded, "a/b\\c\"d\né😀\t".as_bytes());
    assert_eq!(text.decoded_len(), decoded.len());
    let mut out = [0u8; 64];
    assert_eq!(text.copy_to(&mut out), Some(decoded.len()));
    assert_eq!(text.copy_to(&mut out[..3]), None);
}
