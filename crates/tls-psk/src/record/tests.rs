extern crate std;

use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn state_pair(cipher: BulkCipher) -> (CipherState, CipherState) {
    let key = [0x42; 32];
    let mac_key = [0x17; MAC_LENGTH];
    (
        CipherState::new(cipher, &key, &mac_key),
        CipherState::new(cipher, &key, &mac_key),
    )
}

/// Seals `plaintext` with `sender` and returns the whole record bytes.
fn seal(sender: &mut CipherState, content_type: ContentType, plaintext: &[u8]) -> Vec<u8> {
    let mut buffer = std::vec![0u8; CipherState::sealed_length(plaintext.len())];
    buffer[PLAINTEXT_OFFSET..PLAINTEXT_OFFSET + plaintext.len()].copy_from_slice(plaintext);
    let length = sender
        .seal(
            content_type,
            &mut buffer,
            plaintext.len(),
            [0x5A; BLOCK_LENGTH],
        )
        .unwrap();
    buffer.truncate(length);
    buffer
}

/// Parses and opens one whole record, returning the plaintext.
fn open(receiver: &mut CipherState, record: &mut [u8]) -> Result<Vec<u8>, RecordError> {
    let header = parse_record_header(record)?;
    let fragment = &mut record[HEADER_LENGTH..HEADER_LENGTH + header.length];
    let range = receiver.open(header.content_type, fragment)?;
    Ok(fragment[range].to_vec())
}

#[test]
fn round_trip_both_ciphers_and_many_lengths() {
    for cipher in [BulkCipher::Aes128, BulkCipher::Aes256] {
        let (mut sender, mut receiver) = state_pair(cipher);
        for length in [
            0usize,
            1,
            11,
            12,
            15,
            16,
            17,
            100,
            1000,
            MAX_PLAINTEXT_LENGTH,
        ] {
            let plaintext: Vec<u8> = (0..length).map(|index| index as u8).collect();
            let mut record = seal(&mut sender, ContentType::ApplicationData, &plaintext);
            assert_eq!(record.len(), CipherState::sealed_length(length));
            assert_eq!((record.len() - HEADER_LENGTH) % BLOCK_LENGTH, 0);
            assert_eq!(open(&mut receiver, &mut record).unwrap(), plaintext);
        }
        assert_eq!(sender.sequence(), 10);
        assert_eq!(receiver.sequence(), 10);
    }
}

#[test]
fn sealed_record_hides_plaintext() {
    let (mut sender, _) = state_pair(BulkCipher::Aes128);
    let plaintext = [b'A'; 64];
    let record = seal(&mut sender, ContentType::ApplicationData, &plaintext);
    assert!(!record.windows(8).any(|window| window == [b'A'; 8]));
}

#[test]
fn flipped_ciphertext_byte_is_rejected_anywhere() {
    let (mut sender, _) = state_pair(BulkCipher::Aes128);
    let record = seal(
        &mut sender,
        ContentType::ApplicationData,
        b"hello, tampered world",
    );
    for position in HEADER_LENGTH..record.len() {
        let (_, mut receiver) = state_pair(BulkCipher::Aes128);
        let mut tampered = record.clone();
        tampered[position] ^= 0x01;
        assert_eq!(
            open(&mut receiver, &mut tampered),
            Err(RecordError::BadRecordMac),
            "flip at {position}"
        );
    }
}

#[test]
fn wrong_sequence_number_is_rejected() {
    let (mut sender, mut receiver) = state_pair(BulkCipher::Aes256);
    let _skipped = seal(&mut sender, ContentType::ApplicationData, b"first");
    let mut second = seal(&mut sender, ContentType::ApplicationData, b"second");
    assert_eq!(
        open(&mut receiver, &mut second),
        Err(RecordError::BadRecordMac)
    );
}

#[test]
fn changed_content_type_is_rejected() {
    let (mut sender, mut receiver) = state_pair(BulkCipher::Aes128);
    let mut record = seal(&mut sender, ContentType::ApplicationData, b"data");
    record[0] = ContentType::Alert.value();
    assert_eq!(
        open(&mut receiver, &mut record),
        Err(RecordError::BadRecordMac)
    );
}

/// Builds a record whose padding is wrong but whose MAC over the plaintext is right, so
/// only the padding check can catch it.
#[test]
fn bad_padding_with_valid_mac_is_rejected() {
    let key = [0x42; 16];
    let mac_key = [0x17; MAC_LENGTH];
    let plaintext = b"padding oracle probe";
    let mut mac = <HmacSha1 as hmac::digest::KeyInit>::new_from_slice(&mac_key).unwrap();
    mac_header(&mut mac, 0, ContentType::ApplicationData, plaintext.len());
    mac.update(plaintext);
    let tag = mac.finalize().into_bytes();
    let mut body = Vec::new();
    body.extend_from_slice(plaintext);
    body.extend_from_slice(&tag);
    // 40 bytes so far; claim 7 bytes of padding but make one of them wrong.
    body.extend_from_slice(&[7, 7, 7, 3, 7, 7, 7, 7]);
    assert_eq!(body.len() % BLOCK_LENGTH, 0);
    let iv = [9u8; BLOCK_LENGTH];
    let encryptor = cbc::Encryptor::<Aes128>::new_from_slices(&key, &iv).unwrap();
    encrypt_blocks(encryptor, &mut body);
    let mut fragment = iv.to_vec();
    fragment.extend_from_slice(&body);
    let mut receiver = CipherState::new(BulkCipher::Aes128, &key, &mac_key);
    assert_eq!(
        receiver.open(ContentType::ApplicationData, &mut fragment),
        Err(RecordError::BadRecordMac)
    );
}

#[test]
fn fragment_lengths_that_cannot_be_cbc_are_rejected() {
    let (_, mut receiver) = state_pair(BulkCipher::Aes128);
    for length in [0usize, 15, 16, 32, 47, 49] {
        let mut fragment = std::vec![0u8; length];
        assert_eq!(
            receiver.open(ContentType::ApplicationData, &mut fragment),
            Err(RecordError::BadRecordMac),
            "length {length}"
        );
    }
}

#[test]
fn seal_refuses_buffers_that_are_too_small() {
    let (mut sender, _) = state_pair(BulkCipher::Aes128);
    let mut buffer = [0u8; 60];
    assert_eq!(
        sender.seal(
            ContentType::ApplicationData,
            &mut buffer,
            20,
            [0; BLOCK_LENGTH]
        ),
        Err(RecordError::Overflow)
    );
    assert_eq!(
        sender.sequence(),
        0,
        "a refused record uses no sequence number"
    );
}

#[test]
fn max_plaintext_for_fits_exactly() {
    for buffer_length in 0..400usize {
        let capacity = CipherState::max_plaintext_for(buffer_length);
        if capacity > 0 {
            assert!(CipherState::sealed_length(capacity) <= buffer_length);
        }
        assert!(CipherState::sealed_length(capacity + 1) > buffer_length);
    }
    assert_eq!(
        CipherState::max_plaintext_for(1 << 20),
        MAX_PLAINTEXT_LENGTH
    );
}

#[test]
fn header_parsing_rejects_truncated_and_oversized_headers() {
    assert_eq!(parse_record_header(&[]), Err(RecordError::Incomplete));
    assert_eq!(
        parse_record_header(&[23, 3, 3, 0]),
        Err(RecordError::Incomplete)
    );
    assert_eq!(
        parse_record_header(&[23, 3, 3, 0x48, 0x01]),
        Err(RecordError::Overflow),
        "2^14 + 2048 + 1 bytes"
    );
    assert_eq!(
        parse_record_header(&[24, 3, 3, 0, 1]),
        Err(RecordError::Decode)
    );
    assert_eq!(
        parse_record_header(&[23, 4, 0, 0, 1]),
        Err(RecordError::Decode)
    );
    assert_eq!(
        parse_record_header(&[22, 3, 1, 0x48, 0x00]),
        Ok(RecordHeader {
            content_type: ContentType::Handshake,
            version: 0x0301,
            length: MAX_CIPHERTEXT_LENGTH,
        })
    );
}

proptest! {
    #[test]
    fn header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
        if let Ok(header) = parse_record_header(&bytes) {
            prop_assert!(header.length <= MAX_CIPHERTEXT_LENGTH);
        }
    }

    #[test]
    fn open_never_panics_on_garbage(mut fragment in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (_, mut receiver) = state_pair(BulkCipher::Aes128);
        prop_assert!(receiver.open(ContentType::ApplicationData, &mut fragment).is_err());
    }

    #[test]
    fn round_trip_any_plaintext(plaintext in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (mut sender, mut receiver) = state_pair(BulkCipher::Aes256);
        let mut record = seal(&mut sender, ContentType::ApplicationData, &plaintext);
        prop_assert_eq!(open(&mut receiver, &mut record).unwrap(), plaintext);
    }
}
