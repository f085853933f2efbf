//! Arbitrary bytes split into handshake messages, as the client does with the plaintext of
//! handshake records.
//!
//! Invariants checked: no panic; every message consumes its 4-byte header plus its body and
//! never more than the input; a partial message is reported as `None`, never as an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tls_psk::parse_handshake;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    loop {
        match parse_handshake(rest) {
            Ok(Some((message, used))) => {
                assert_eq!(
                    used,
                    4 + message.body.len(),
                    "consumed length disagrees with body"
                );
                assert!(used <= rest.len(), "consumed more than given");
                assert_eq!(&rest[4..used], message.body);
                rest = &rest[used..];
            }
            Ok(None) => break,
            Err(_) => break,
        }
    }
});
