//! Registration: every `dynreg_*` vector, the transport mapping, the reply
//! split anywhere, and the bad inputs.

use super::vector;
use crate::dynreg::{
    decode_reply, sign, write_request, Credential, Exchange, Product, Progress, ReplyError,
    TransportFailure, MAXIMUM_BODY, READ_TIMEOUT_MS,
};
use ota::http::Url;
use std::string::String;
use std::vec::Vec;

fn text(value: &serde_json::Value) -> &str {
    value.as_str().unwrap()
}

fn product<'a>(inputs: &'a serde_json::Value) -> Product<'a> {
    Product {
        product_id: text(&inputs["product_id"]).as_bytes(),
        device_name: text(&inputs["device_name"]).as_bytes(),
        product_secret: text(&inputs["product_secret"]).as_bytes(),
    }
}

fn numbers(inputs: &serde_json::Value) -> (u32, u64) {
    (
        inputs["nonce"].as_u64().unwrap() as u32,
        inputs["timestamp"].as_u64().unwrap(),
    )
}

#[test]
fn signatures_match_both_sign_vectors() {
    for id in ["dynreg_v1_sign", "dynreg_v1_sign_docsecret"] {
        let vector = vector(id);
        let (nonce, timestamp) = numbers(&vector["inputs"]);
        let signature = sign(&product(&vector["inputs"]), nonce, timestamp);
        assert_eq!(
            &signature[..],
            text(&vector["outputs"]["signature"]).as_bytes(),
            "{id}"
        );
    }
}

#[test]
fn request_is_the_captured_exchange_byte_for_byte() {
    let vector = vector("dynreg_v1_http_exchange");
    let (nonce, timestamp) = numbers(&vector["inputs"]);
    let url = Url::parse(b"https://gateway.tencentdevices.com/register/dev").unwrap();
    let mut out = [0u8; 512];
    let length = write_request(
        &product(&vector["inputs"]),
        nonce,
        timestamp,
        &url,
        &mut out,
    )
    .unwrap();
    let expected = text(&vector["outputs"]["transcript"][0]["raw"]);
    assert_eq!(String::from_utf8_lossy(&out[..length]), expected);
    assert!(write_request(
        &product(&vector["inputs"]),
        nonce,
        timestamp,
        &url,
        &mut out[..length - 1]
    )
    .is_err());
    let sign_vector = super::vector("dynreg_v1_sign");
    assert!(expected.ends_with(text(&sign_vector["outputs"]["request_body"])));
}

#[test]
fn quotes_in_names_are_escaped_in_the_body_but_signed_raw() {
    let product = Product {
        product_id: b"P\\1",
        device_name: b"a\"b",
        product_secret: b"Xq3mP8sLw2Kd9fRt6YbN1cVh",
    };
    let url = Url::parse(b"http://h/register/dev").unwrap();
    let mut out = [0u8; 512];
    let length = write_request(&product, 1, 2, &url, &mut out).unwrap();
    let request = String::from_utf8_lossy(&out[..length]).into_owned();
    let body = request.split("\r\n\r\n").nth(1).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(parsed["deviceName"], "a\"b");
    assert_eq!(parsed["productId"], "P\\1");
    assert!(request.contains(&std::format!("Content-Length: {}\r\n", body.len())));
}

fn decode_vector(id: &str, body: &str, secret: &str) {
    let vector = vector(id);
    let mut scratch = [0u8; 128];
    let credential = decode_reply(body.as_bytes(), secret.as_bytes(), &mut scratch, false).unwrap();
    let Credential::Key(psk) = credential else {
        panic!("{id}: not a key credential")
    };
    let expected = vector["outputs"]
        .get("parsed_device_secret")
        .or_else(|| vector["outputs"]["result"].get("device_secret"))
        .unwrap();
    assert!(psk.equals(text(expected).as_bytes()), "{id}");
}

#[test]
fn replies_of_every_vector_decrypt_to_their_secret() {
    let exchange = vector("dynreg_v1_http_exchange");
    decode_vector(
        "dynreg_v1_http_exchange",
        text(&exchange["outputs"]["response_body"]),
        text(&exchange["inputs"]["product_secret"]),
    );
    for id in [
        "dynreg_v1_response_psk",
        "dynreg_v1_response_psk_len_multiple_of_16",
    ] {
        let vector = vector(id);
        decode_vector(
            id,
            text(&vector["outputs"]["http_response_body"]),
            text(&vector["inputs"]["product_secret"]),
        );
    }
    let doc = vector("dynreg_decrypt_tencent_doc_example");
    let body = std::format!(
        r#"{{"code":0,"message":"","len":53,"payload":"{}","requestId":"x"}}"#,
        text(&doc["inputs"]["payload_b64"])
    );
    decode_vector(
        "dynreg_decrypt_tencent_doc_example",
        &body,
        text(&doc["inputs"]["product_secret"]),
    );
}

#[test]
fn escaped_slashes_in_the_payload_decode_the_same() {
    let vector = vector("dynreg_v1_response_psk");
    let body = text(&vector["outputs"]["http_response_body"]).replace('/', "\\/");
    decode_vector(
        "dynreg_v1_response_psk",
        &body,
        text(&vector["inputs"]["product_secret"]),
    );
}

const SECRET: &[u8] = b"Xq3mP8sLw2Kd9fRt6YbN1cVh";

fn decode(body: &str, certificates: bool) -> Result<(), ReplyError> {
    let mut scratch = [0u8; 256];
    decode_reply(body.as_bytes(), SECRET, &mut scratch, certificates).map(|_| ())
}

/// Encrypts `plaintext` (zero-padded) the way the cloud does, as Base64.
fn encrypt(plaintext: &[u8]) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use base64::Engine as _;
    let mut buffer = plaintext.to_vec();
    buffer.resize(plaintext.len().div_ceil(16) * 16, 0);
    let length = buffer.len();
    let mut cipher =
        cbc::Encryptor::<aes::Aes128>::new_from_slices(&SECRET[..16], &[b'0'; 16]).unwrap();
    for block in buffer[..length].chunks_exact_mut(16) {
        cipher.encrypt_block_mut(aes::Block::from_mut_slice(block));
    }
    base64::engine::general_purpose::STANDARD.encode(buffer)
}

fn reply(plaintext: &str) -> String {
    std::format!(
        r#"{{"code":0,"payload":"{}"}}"#,
        encrypt(plaintext.as_bytes())
    )
}

#[test]
fn cloud_codes_pass_through_and_local_failures_are_minus_1001() {
    for code in [1000, 1004, 1006, 1010, 1011, 1012, 1020, 1021, 1031, 4242] {
        let body = std::format!(r#"{{"code":{code},"message":"no","requestId":"r"}}"#);
        assert_eq!(decode(&body, false), Err(ReplyError::Cloud(code)));
        assert_eq!(ReplyError::Cloud(code).code(), code);
    }
    let bad = [
        "",
        "not json",
        r#"{"code":0}"#,
        r#"{"code":"0","payload":"AAAA"}"#,
        r#"{"code":0.5,"payload":"AAAA"}"#,
        // One block that decrypts to garbage, and 3 bytes (not a block).
        r#"{"code":0,"payload":"AAAAAAAAAAAAAAAAAAAAAA=="}"#,
        r#"{"code":0,"payload":"AAAA"}"#,
        r#"{"code":0,"payload":"A*AA"}"#,
        r#"{"code":0,"payload":"AA=A"}"#,
        r#"{"code":0,"payload":"AAA"}"#,
        r#"{"code":0,"payload":""}"#,
        r#"{"code":0,"payload":"AAAA"#,
    ];
    for body in bad {
        let result = decode(body, false);
        assert!(
            matches!(result, Err(ReplyError::Malformed)),
            "{body}: {result:?}"
        );
        assert_eq!(ReplyError::Malformed.code(), -1001);
    }
    assert_eq!(
        decode(&reply(r#"{"encryptionType":2}"#), false),
        Err(ReplyError::Malformed)
    );
    assert_eq!(
        decode(&reply(r#"{"encryptionType":2,"psk":""}"#), false),
        Err(ReplyError::Malformed)
    );
    assert_eq!(
        decode(&reply("garbage that is not json"), false),
        Err(ReplyError::Malformed)
    );
    assert_eq!(
        decode(&reply(r#"{"psk":"x"}"#), false),
        Err(ReplyError::Malformed)
    );
    assert_eq!(
        decode(&reply(r#"{"encryptionType":3,"psk":"x"}"#), false),
        Err(ReplyError::Unusable)
    );
    let certificate = r#"{"encryptionType":1,"clientCert":"-----BEGIN\nC","clientKey":"K"}"#;
    assert_eq!(
        decode(&reply(certificate), false),
        Err(ReplyError::Unusable)
    );
    assert_eq!(ReplyError::Unusable.code(), -1001);
    let mut scratch = [0u8; 256];
    let credential =
        decode_reply(reply(certificate).as_bytes(), SECRET, &mut scratch, true).unwrap();
    let Credential::Certificate { certificate, key } = credential else {
        panic!("not a certificate")
    };
    assert_eq!(certificate.bytes().collect::<Vec<u8>>(), b"-----BEGIN\nC");
    assert!(key.equals(b"K"));
    assert_eq!(
        decode_reply(
            reply(r#"{"encryptionType":1,"clientCert":"c"}"#).as_bytes(),
            SECRET,
            &mut scratch,
            true
        ),
        Err(ReplyError::Malformed)
    );
}

#[test]
fn a_short_secret_or_scratch_is_refused() {
    let vector = vector("dynreg_v1_response_psk");
    let body = text(&vector["outputs"]["http_response_body"]).as_bytes();
    let mut scratch = [0u8; 63];
    assert_eq!(
        decode_reply(body, SECRET, &mut scratch, false),
        Err(ReplyError::Malformed)
    );
    let mut scratch = [0u8; 64];
    assert_eq!(
        decode_reply(body, &SECRET[..15], &mut scratch, false),
        Err(ReplyError::ShortSecret)
    );
    assert_eq!(ReplyError::ShortSecret.code(), -1001);
    assert!(decode_reply(body, &SECRET[..16], &mut scratch, false).is_ok());
}

#[test]
fn every_transport_failure_has_its_one_code() {
    let table = [
        (TransportFailure::NameNotResolved, -602),
        (TransportFailure::ConnectFailed, -603),
        (TransportFailure::CertificateRejected, -702),
        (TransportFailure::HandshakeFailed, -703),
        (TransportFailure::HandshakeTimeout, -704),
        (TransportFailure::ClosedEarly, -3),
        (TransportFailure::Status(401), -9),
        (TransportFailure::Status(403), -9),
        (TransportFailure::Status(404), -10),
        (TransportFailure::Status(500), -4),
        (TransportFailure::Status(302), -4),
        (TransportFailure::Status(201), -4),
        (TransportFailure::Malformed, -5),
        (TransportFailure::ReadTimeout, -11),
        (TransportFailure::BodyTooLarge, -1001),
    ];
    for (failure, code) in table {
        assert_eq!(failure.code(), code, "{failure:?}");
    }
}

const RESPONSE: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 184\r\nConnection: close\r\n\r\n";

fn full_response() -> String {
    let vector = vector("dynreg_v1_http_exchange");
    std::format!("{RESPONSE}{}", text(&vector["outputs"]["response_body"]))
}

#[test]
fn the_captured_response_completes_split_anywhere() {
    let response = full_response();
    let bytes = response.as_bytes();
    for split in 0..bytes.len() {
        let mut exchange = Exchange::new(0);
        let mut body = [0u8; 256];
        assert_eq!(
            exchange.feed(&bytes[..split], 1, &mut body),
            Ok(Progress::Pending)
        );
        assert_eq!(
            exchange.feed(&bytes[split..], 2, &mut body),
            Ok(Progress::Complete { body_length: 184 })
        );
        let mut scratch = [0u8; 64];
        let credential = decode_reply(&body[..184], SECRET, &mut scratch, false);
        assert!(
            matches!(credential, Ok(Credential::Key(psk)) if psk.equals(b"k3Zq8cB1vP+Lx0T2mY9wRg=="))
        );
    }
}

#[test]
fn a_close_delimited_or_chunked_body_also_completes() {
    let vector = vector("dynreg_v1_http_exchange");
    let body_text = text(&vector["outputs"]["response_body"]);
    let mut exchange = Exchange::new(0);
    let mut body = [0u8; 256];
    let response = std::format!("HTTP/1.1 200 OK\r\n\r\n{body_text}");
    assert_eq!(
        exchange.feed(response.as_bytes(), 0, &mut body),
        Ok(Progress::Pending)
    );
    assert_eq!(exchange.closed(), Ok(body_text.len()));
    let mut exchange = Exchange::new(0);
    let response = std::format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body_text}\r\n0\r\n\r\n",
        body_text.len()
    );
    assert_eq!(
        exchange.feed(response.as_bytes(), 0, &mut body),
        Ok(Progress::Complete {
            body_length: body_text.len()
        })
    );
}

#[test]
fn statuses_cuts_garbage_and_silence_map_to_their_failures() {
    let mut body = [0u8; 256];
    for (status, code) in [(401, -9), (403, -9), (404, -10), (500, -4), (204, -4)] {
        let mut exchange = Exchange::new(0);
        let head = std::format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
        let failure = exchange.feed(head.as_bytes(), 0, &mut body).unwrap_err();
        assert_eq!(failure.code(), code);
    }
    let mut exchange = Exchange::new(0);
    assert_eq!(
        exchange.feed(b"HTTQ/1.1 200 OK\r\n", 0, &mut body),
        Err(TransportFailure::Malformed)
    );
    let mut exchange = Exchange::new(0);
    let gzip = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\n";
    assert_eq!(
        exchange.feed(gzip.as_bytes(), 0, &mut body),
        Err(TransportFailure::Malformed)
    );
    // Closed in the head, and in a length-framed body.
    let response = full_response();
    for cut in [0, 10, RESPONSE.len() + 5] {
        let mut exchange = Exchange::new(0);
        assert_eq!(
            exchange.feed(&response.as_bytes()[..cut], 0, &mut body),
            Ok(Progress::Pending)
        );
        assert_eq!(exchange.closed(), Err(TransportFailure::ClosedEarly));
        assert_eq!(TransportFailure::ClosedEarly.code(), -3);
    }
    // Silence: the read timeout restarts with every byte.
    let mut exchange = Exchange::new(1_000);
    assert_eq!(exchange.check_timeout(1_000 + READ_TIMEOUT_MS - 1), Ok(()));
    exchange.feed(b"HTTP/1.1 2", 5_000, &mut body).unwrap();
    assert_eq!(exchange.deadline_ms(), 5_000 + READ_TIMEOUT_MS);
    assert_eq!(exchange.check_timeout(5_000 + READ_TIMEOUT_MS - 1), Ok(()));
    assert_eq!(
        exchange.check_timeout(5_000 + READ_TIMEOUT_MS),
        Err(TransportFailure::ReadTimeout)
    );
}

#[test]
fn bodies_beyond_the_buffer_or_5_kib_are_refused() {
    let mut small = [0u8; 100];
    let mut exchange = Exchange::new(0);
    let response = full_response();
    assert_eq!(
        exchange.feed(response.as_bytes(), 0, &mut small),
        Err(TransportFailure::BodyTooLarge)
    );
    let mut large = std::vec![0u8; MAXIMUM_BODY + 10];
    let mut exchange = Exchange::new(0);
    let head = std::format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        MAXIMUM_BODY + 1
    );
    exchange.feed(head.as_bytes(), 0, &mut large).unwrap();
    let filler = std::vec![b' '; MAXIMUM_BODY];
    assert_eq!(exchange.feed(&filler, 0, &mut large), Ok(Progress::Pending));
    assert_eq!(
        exchange.feed(b" ", 0, &mut large),
        Err(TransportFailure::BodyTooLarge)
    );
}
