//! The record decryption check with a fixed key: arbitrary fragments must be rejected
//! cleanly, and whatever `seal` produced must open to the same plaintext.
//!
//! Input: byte 0 picks the cipher (bit 0) and the content type (bits 1–2); bit 3 selects the
//! round trip (seal the rest, then open it) instead of opening the rest as a fragment.
//! Invariants checked: no panic; an opened range lies inside the fragment; a forged fragment
//! opens only if it authenticates, and a sealed record always opens to its plaintext.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tls_psk::record::{
    BulkCipher, CipherState, ContentType, HEADER_LENGTH, MAX_PLAINTEXT_LENGTH, PLAINTEXT_OFFSET,
};

const KEY: [u8; 32] = [0x42; 32];
const MAC_KEY: [u8; 20] = [0x17; 20];

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let cipher = if control & 1 == 0 {
        BulkCipher::Aes128
    } else {
        BulkCipher::Aes256
    };
    let content_type = match (control >> 1) & 3 {
        0 => ContentType::ChangeCipherSpec,
        1 => ContentType::Alert,
        2 => ContentType::Handshake,
        _ => ContentType::ApplicationData,
    };
    let mut reader = CipherState::new(cipher, &KEY, &MAC_KEY);
    if control & 8 == 0 {
        let mut fragment = rest.to_vec();
        if let Ok(range) = reader.open(content_type, &mut fragment) {
            assert!(
                range.end <= fragment.len(),
                "plaintext range outside the fragment"
            );
            assert!(range.len() <= MAX_PLAINTEXT_LENGTH);
        }
        return;
    }
    let plaintext = &rest[..rest.len().min(MAX_PLAINTEXT_LENGTH)];
    let mut writer = CipherState::new(cipher, &KEY, &MAC_KEY);
    let mut record = vec![0u8; CipherState::sealed_length(plaintext.len())];
    record[PLAINTEXT_OFFSET..PLAINTEXT_OFFSET + plaintext.len()].copy_from_slice(plaintext);
    let iv = [control; 16];
    let length = writer
        .seal(content_type, &mut record, plaintext.len(), iv)
        .expect("a plaintext within limits seals");
    let fragment = &mut record[HEADER_LENGTH..length];
    let range = reader
        .open(content_type, fragment)
        .expect("a sealed record opens with the same keys");
    assert_eq!(
        &fragment[range], plaintext,
        "round trip changed the plaintext"
    );
});
