extern crate std;

use super::*;
use proptest::prelude::*;
use std::vec::Vec;

fn server_hello_body(suite: u16, extensions: Option<&[u8]>) -> Vec<u8> {
    let mut body = std::vec![3, 3];
    body.extend_from_slice(&[0xAB; 32]);
    body.push(4);
    body.extend_from_slice(&[1, 2, 3, 4]);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    if let Some(extensions) = extensions {
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(extensions);
    }
    body
}

#[test]
fn client_hello_offers_exactly_the_psk_suites_and_scsv() {
    let mut output = [0u8; 128];
    let length = write_client_hello(&mut output, &[7; 32], None).unwrap();
    let (message, consumed) = parse_handshake(&output[..length]).unwrap().unwrap();
    assert_eq!(consumed, length);
    assert_eq!(message.message_type, HandshakeType::ClientHello);
    let body = message.body;
    assert_eq!(&body[..2], &[3, 3]);
    assert_eq!(&body[2..34], &[7; 32]);
    assert_eq!(body[34], 0, "no session id");
    assert_eq!(&body[35..43], &[0, 6, 0x00, 0x8C, 0x00, 0x8D, 0x00, 0xFF]);
    assert_eq!(&body[43..45], &[1, 0], "null compression only");
    assert_eq!(body.len(), 45, "no extensions without a server name");
}

#[test]
fn client_hello_carries_sni_for_a_host_name() {
    let mut output = [0u8; 128];
    let host = "CTQS08Y5LG.iotcloud.tencentdevices.com";
    let length = write_client_hello(&mut output, &[7; 32], Some(host)).unwrap();
    let body = &output[HANDSHAKE_HEADER_LENGTH..length];
    let extensions = &body[45..];
    let mut expected = Vec::new();
    expected.extend_from_slice(&((host.len() + 9) as u16).to_be_bytes());
    expected.extend_from_slice(&[0, 0]);
    expected.extend_from_slice(&((host.len() + 5) as u16).to_be_bytes());
    expected.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    expected.push(0);
    expected.extend_from_slice(&(host.len() as u16).to_be_bytes());
    expected.extend_from_slice(host.as_bytes());
    assert_eq!(extensions, &expected[..]);
}

#[test]
fn client_hello_omits_sni_for_ip_literals() {
    for literal in ["192.168.1.10", "127.0.0.1", "::1", "fe80::1"] {
        let mut output = [0u8; 128];
        let length = write_client_hello(&mut output, &[7; 32], Some(literal)).unwrap();
        assert_eq!(length, HANDSHAKE_HEADER_LENGTH + 45, "{literal}");
    }
}

#[test]
fn client_hello_reports_small_buffer() {
    let mut output = [0u8; 40];
    assert_eq!(
        write_client_hello(&mut output, &[7; 32], None),
        Err(HandshakeError::BufferTooSmall)
    );
}

#[test]
fn client_key_exchange_carries_identity() {
    let mut output = [0u8; 64];
    let length = write_client_key_exchange(&mut output, b"CTQS08Y5LGDev01").unwrap();
    assert_eq!(&output[..6], &[16, 0, 0, 17, 0, 15]);
    assert_eq!(&output[6..length], b"CTQS08Y5LGDev01");
    assert_eq!(
        write_client_key_exchange(&mut output, b""),
        Err(HandshakeError::InvalidConfiguration)
    );
}

#[test]
fn server_hello_selects_suite() {
    let hello = parse_server_hello(&server_hello_body(0x008C, None)).unwrap();
    assert_eq!(hello.cipher, BulkCipher::Aes128);
    assert_eq!(hello.random, [0xAB; 32]);
    let renegotiation_ok = [0xFF, 0x01, 0, 1, 0];
    let hello = parse_server_hello(&server_hello_body(0x008D, Some(&renegotiation_ok))).unwrap();
    assert_eq!(hello.cipher, BulkCipher::Aes256);
}

#[test]
fn server_hello_rejects_what_was_not_offered() {
    assert_eq!(
        parse_server_hello(&server_hello_body(0x002F, None)),
        Err(HandshakeError::UnsupportedSuite)
    );
    let mut compressed = server_hello_body(0x008C, None);
    *compressed.last_mut().unwrap() = 1;
    assert_eq!(
        parse_server_hello(&compressed),
        Err(HandshakeError::UnsupportedSuite)
    );
    let mut old_version = server_hello_body(0x008C, None);
    old_version[1] = 1;
    assert_eq!(
        parse_server_hello(&old_version),
        Err(HandshakeError::UnsupportedVersion)
    );
    let bad_renegotiation = [0xFF, 0x01, 0, 2, 1, 9];
    assert_eq!(
        parse_server_hello(&server_hello_body(0x008C, Some(&bad_renegotiation))),
        Err(HandshakeError::UnsupportedSuite)
    );
}

#[test]
fn server_hello_rejects_truncation_and_trailing_bytes() {
    let body = server_hello_body(0x008C, Some(&[0xFF, 0x01, 0, 1, 0]));
    // 42 bytes is a complete hello without the (optional) extensions block.
    for length in (0..body.len()).filter(|&length| length != 42) {
        assert!(
            parse_server_hello(&body[..length]).is_err(),
            "length {length}"
        );
    }
    let mut trailing = body.clone();
    trailing.push(0);
    assert_eq!(parse_server_hello(&trailing), Err(HandshakeError::Decode));
}

#[test]
fn server_key_exchange_is_one_hint() {
    assert_eq!(
        parse_server_key_exchange(&[0, 2, b'h', b'i']),
        Ok(&b"hi"[..])
    );
    assert_eq!(parse_server_key_exchange(&[0, 0]), Ok(&b""[..]));
    assert_eq!(
        parse_server_key_exchange(&[0, 3, b'h', b'i']),
        Err(HandshakeError::Decode)
    );
    assert_eq!(
        parse_server_key_exchange(&[0, 1, b'h', b'i']),
        Err(HandshakeError::Decode)
    );
}

#[test]
fn parse_handshake_splits_coalesced_messages_and_waits_for_partial_ones() {
    let bytes = [14, 0, 0, 0, 20, 0, 0, 2, 0xAA, 0xBB, 2, 0];
    let (first, used) = parse_handshake(&bytes).unwrap().unwrap();
    assert_eq!(
        (first.message_type, first.body, used),
        (HandshakeType::ServerHelloDone, &[][..], 4)
    );
    let (second, used) = parse_handshake(&bytes[4..]).unwrap().unwrap();
    assert_eq!(
        (second.message_type, second.body, used),
        (HandshakeType::Finished, &[0xAA, 0xBB][..], 6)
    );
    assert_eq!(parse_handshake(&bytes[10..]).unwrap(), None);
    assert_eq!(parse_handshake(&bytes[4..9]).unwrap(), None);
}

proptest! {
    #[test]
    fn handshake_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(Some((message, used))) = parse_handshake(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(message.body.len() + HANDSHAKE_HEADER_LENGTH, used);
        }
        let _ = parse_server_hello(&bytes);
        let _ = parse_server_key_exchange(&bytes);
    }
}
