//! AT+TCDEVREG through the whole engine (`commands.md` §1, `cloud.md` §5) against an
//! in-memory HTTP server, on the manual clock: the exact signed request and where it goes on
//! each profile, the SNTP wait, the 5 s read timeout, the 5 s handshake timeout and the 10 s
//! budget to the millisecond, every connect failure's code, and the device record: stored
//! on success (a key, or a certificate pair on certificate builds), untouched otherwise. The
//! same exchange against the real hub over real sockets is in `boards/linux/tests/dynreg.rs`.

mod support;

use core::future::Future;
use core::pin::Pin;
use std::rc::Rc;

use command_core::{ConnectError, Exit, Profile};
use ota::http::Url;
use provisioning::dynreg::{write_request, Product};
use support::http::{Connect, Server, ServerNetwork};
use support::{with_network, Bench};

type Engine<'a> = Pin<&'a mut dyn Future<Output = Exit>>;

const PRODUCT_LINE: &[u8] =
    b"AT+TCPRDINFOSET=1,\"CTQS08Y5LG\",\"Xq3mP8sLw2Kd9fRt6YbN1cVh\",\"Dev01\"\r\n";
/// The cloud's answer to that product's registration (`crates/provisioning` README).
const REPLY: &str = "HTTP/1.1 200 OK\r\nContent-Length: 184\r\n\r\n{\"code\":0,\"message\":\"\",\"len\":53,\"payload\":\"LNFcGLhiEQPjTGTzW5v/YRCFsOxn2Lv0nFocllhaE6pn5+BkeWYvsfWaaeuZlsY+H+S1pVT4CXrXxvoeI/bzKQ==\",\"requestId\":\"00000000-0000-0000-0000-000000000000\"}";
/// The device secret inside it.
const SECRET: &str = "k3Zq8cB1vP+Lx0T2mY9wRg==";
/// The nonce: the `Offline` generator's word (0x5eed1234) mapped into 1..=2147483647 by
/// `word % 2147483647 + 1`.
const NONCE: u32 = 0x5eed_1235;
const NOW: u64 = 1_700_000_000;

fn bcc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, byte| acc ^ byte)
}

/// A module on `profile` with echo off and the product stored, talking to `server`.
fn with_product(profile: Profile, script: impl FnOnce(&Bench, &Server, Engine<'_>)) {
    let server = Rc::new(Server::default());
    let network = server.clone();
    with_network(
        profile,
        move |_| ServerNetwork(network),
        |bench, mut engine| {
            bench.settle(engine.as_mut(), 10_000);
            assert_eq!(
                bench.exchange(engine.as_mut(), b"ATE0\r\n"),
                "ATE0\r\n\r\nOK\r\n"
            );
            assert_eq!(
                bench.exchange(engine.as_mut(), PRODUCT_LINE),
                "OK\r\n+TCPRDINFOSET:OK\r\n"
            );
            script(bench, &server, engine)
        },
    );
}

fn device_info(bench: &Bench, engine: Engine<'_>) -> String {
    bench.exchange(engine, b"AT+TCDEVINFOSET?\r\n")
}

fn registered_answer() -> String {
    format!(
        "+TCDEVINFOSET:1,\"CTQS08Y5LG\",\"Dev01\",{},\"ap-guangzhou\"\r\n\r\nOK\r\n",
        bcc(SECRET.as_bytes())
    )
}

fn expected_request(secure: bool, host: &str, timestamp: u64) -> String {
    let product = Product {
        product_id: b"CTQS08Y5LG",
        device_name: b"Dev01",
        product_secret: b"Xq3mP8sLw2Kd9fRt6YbN1cVh",
    };
    let url = Url {
        secure,
        host: host.as_bytes(),
        port: if secure { 443 } else { 80 },
        target: b"/register/dev",
    };
    let mut buffer = [0u8; 512];
    let length = write_request(&product, NONCE, timestamp, &url, &mut buffer).unwrap();
    String::from_utf8(buffer[..length].to_vec()).unwrap()
}

#[test]
fn full_registers_over_https_with_the_signed_request_and_stores_the_secret() {
    with_product(Profile::Full, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        *server.reply.borrow_mut() = REPLY.as_bytes().to_vec();
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n+TCDEVREG:OK\r\n"
        );
        let gateway = "gateway.tencentdevices.com";
        assert_eq!(
            *server.connects.borrow(),
            [Connect {
                host: gateway.into(),
                port: 443,
                tls: true
            }]
        );
        assert_eq!(server.request_text(), expected_request(true, gateway, NOW));
        assert_eq!(device_info(bench, engine.as_mut()), registered_answer());
    });
}

#[test]
fn esp8266_registers_over_plain_http_on_the_guangzhou_host() {
    with_product(Profile::Esp8266, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        *server.reply.borrow_mut() = REPLY.as_bytes().to_vec();
        server.close_after_reply.set(true);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n+TCDEVREG:OK\r\n"
        );
        let host = "ap-guangzhou.gateway.tencentdevices.com";
        assert_eq!(
            *server.connects.borrow(),
            [Connect {
                host: host.into(),
                port: 80,
                tls: false
            }]
        );
        assert_eq!(server.request_text(), expected_request(false, host, NOW));
        assert_eq!(device_info(bench, engine.as_mut()), registered_answer());
    });
}

#[test]
fn an_unsynchronised_clock_is_waited_for_five_seconds_then_signed_as_it_is() {
    with_product(Profile::Full, |bench, server, mut engine| {
        *server.reply.borrow_mut() = REPLY.as_bytes().to_vec();
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n"
        );
        bench.run_until(engine.as_mut(), 4_999, 10_000);
        assert!(server.connects.borrow().is_empty(), "connected before 5 s");
        bench.run_until(engine.as_mut(), 5_000, 10_000);
        assert_eq!(bench.uart.output_text(), "+TCDEVREG:OK\r\n");
        // Seconds since boot: the cloud judges it (1010 if its window is checked).
        assert_eq!(
            server.request_text(),
            expected_request(true, "gateway.tencentdevices.com", 5)
        );
    });
}

/// AT+TCDEVREG's result line at `at_ms` and not a millisecond before.
fn result_at(bench: &Bench, mut engine: Engine<'_>, at_ms: u64, expected: &str) {
    bench.run_until(engine.as_mut(), at_ms - 1, 10_000);
    assert_eq!(bench.uart.output_text(), "", "before {at_ms} ms");
    bench.run_until(engine.as_mut(), at_ms, 10_000);
    assert_eq!(
        bench.uart.take_output(),
        expected.as_bytes(),
        "at {at_ms} ms"
    );
}

#[test]
fn no_reply_within_five_seconds_is_minus_11() {
    with_product(Profile::Full, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n"
        );
        assert_eq!(server.connects.borrow().len(), 1);
        result_at(bench, engine, 5_000, "+TCDEVREG:FAIL,-11\r\n");
    });
}

#[test]
fn the_whole_registration_is_bounded_by_ten_seconds() {
    with_product(Profile::Full, |bench, server, mut engine| {
        // The SNTP wait takes 5 s, the reply trickles in: each byte restarts the 5 s read
        // timeout, the budget still ends it at 10 s.
        *server.reply.borrow_mut() = b"HTTP/1.1 200 OK\r\nContent-Length: 184\r\n\r\n".to_vec();
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n"
        );
        bench.run_until(engine.as_mut(), 9_000, 10_000);
        server.deliver(b"{\"code\":0,");
        result_at(bench, engine.as_mut(), 10_000, "+TCDEVREG:FAIL,202\r\n");
        // Nothing was stored.
        assert_eq!(device_info(bench, engine.as_mut()), "+CME ERROR:207\r\n");
    });
}

#[test]
fn every_connect_failure_has_its_code() {
    for (error, code) in [
        (ConnectError::Dns, -602),
        (ConnectError::Tcp, -603),
        (ConnectError::Certificate, -702),
        (ConnectError::Handshake, -703),
    ] {
        with_product(Profile::Full, |bench, server, mut engine| {
            bench.clock.utc.set(Some(NOW));
            server.refuse.set(Some(error));
            assert_eq!(
                bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
                format!("OK\r\n+TCDEVREG:FAIL,{code}\r\n")
            );
        });
    }
}

#[test]
fn a_handshake_that_never_ends_is_minus_704_after_five_seconds() {
    with_product(Profile::Full, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        server.hang.set(true);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n"
        );
        result_at(bench, engine, 5_000, "+TCDEVREG:FAIL,-704\r\n");
    });
    // Plain TCP has no handshake: only the budget ends a hanging connect.
    with_product(Profile::Esp8266, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        server.hang.set(true);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n"
        );
        result_at(bench, engine, 10_000, "+TCDEVREG:FAIL,202\r\n");
    });
}

/// A status-200 reply with `body`.
fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn refusals_and_bad_replies_keep_the_stored_record() {
    let cases = [
        (
            ok("{\"code\":1021,\"message\":\"activated\",\"requestId\":\"\"}"),
            1021,
        ),
        (
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned(),
            -10,
        ),
        (ok("hi"), -1001),
        (ok("{\"code\":0,\"payload\":\"AAAA\"}"), -1001),
        (REPLY.replace("LNFc", "AAAA"), -1001),
        (REPLY[..REPLY.len() - 20].to_owned(), -3),
    ];
    for (reply, code) in cases {
        with_product(Profile::Full, |bench, server, mut engine| {
            bench.clock.utc.set(Some(NOW));
            let stored = bench.exchange(
                engine.as_mut(),
                b"AT+TCDEVINFOSET=1,\"PID0000001\",\"dev1\",\"ZGV2aWNlc2VjcmV0\"\r\n",
            );
            assert_eq!(stored, "OK\r\n+TCDEVINFOSET:OK\r\n");
            let before = device_info(bench, engine.as_mut());
            *server.reply.borrow_mut() = reply.as_bytes().to_vec();
            server.close_after_reply.set(true);
            assert_eq!(
                bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
                format!("OK\r\n+TCDEVREG:FAIL,{code}\r\n"),
                "{reply}"
            );
            assert_eq!(device_info(bench, engine.as_mut()), before);
        });
    }
}

#[test]
fn a_missing_product_or_a_short_secret_fails_before_any_connect() {
    let server = Rc::new(Server::default());
    let network = server.clone();
    with_network(
        Profile::Full,
        move |_| ServerNetwork(network),
        |bench, mut engine| {
            bench.settle(engine.as_mut(), 10_000);
            bench.exchange(engine.as_mut(), b"ATE0\r\n");
            assert_eq!(
                bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
                "OK\r\n+TCDEVREG:FAIL,207\r\n"
            );
            let short = b"AT+TCPRDINFOSET=1,\"CTQS08Y5LG\",\"fifteen-bytes-x\",\"Dev01\"\r\n";
            bench.exchange(engine.as_mut(), short);
            assert_eq!(
                bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
                "OK\r\n+TCDEVREG:FAIL,-1001\r\n"
            );
            assert!(server.connects.borrow().is_empty());
        },
    );
}

/// A successful reply carrying `plaintext`, encrypted as the cloud does (AES-128-CBC, key the
/// product secret's first 16 bytes, IV sixteen `0`, zero padding).
fn encrypted_reply(plaintext: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use base64::Engine as _;
    let mut bytes = plaintext.as_bytes().to_vec();
    bytes.resize(bytes.len().next_multiple_of(16), 0);
    let mut cipher = cbc::Encryptor::<aes::Aes128>::new_from_slices(
        b"Xq3mP8sLw2Kd9fRt6YbN1cVh".get(..16).unwrap(),
        &[b'0'; 16],
    )
    .unwrap();
    for block in bytes.chunks_exact_mut(16) {
        cipher.encrypt_block_mut(aes::Block::from_mut_slice(block));
    }
    let payload = base64::engine::general_purpose::STANDARD.encode(&bytes);
    ok(&format!(
        "{{\"code\":0,\"message\":\"\",\"len\":{},\"payload\":\"{payload}\",\"requestId\":\"\"}}",
        plaintext.len()
    ))
}

const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEkey/+=\n-----END PRIVATE KEY-----\n";

/// The certificate product's credential, PEM newlines (and a `/`) JSON-escaped.
fn certificate_plaintext() -> String {
    let escape = |pem: &str| pem.replace('\n', "\\n").replace('/', "\\/");
    format!(
        "{{\"encryptionType\":1,\"clientCert\":\"{}\",\"clientKey\":\"{}\"}}",
        escape(CERTIFICATE),
        escape(KEY)
    )
}

#[test]
fn a_certificate_credential_is_unusable_without_certificate_tls() {
    with_product(Profile::Esp8266, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        *server.reply.borrow_mut() = encrypted_reply(&certificate_plaintext()).into_bytes();
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n+TCDEVREG:FAIL,-1001\r\n"
        );
        assert_eq!(device_info(bench, engine.as_mut()), "+CME ERROR:207\r\n");
    });
}

#[cfg(feature = "certificates")]
#[test]
fn a_certificate_product_stores_its_pair_and_names_it_in_the_record() {
    with_product(Profile::Full, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        let product =
            b"AT+TCPRDINFOSET=2,\"CTQS08Y5LG\",\"Xq3mP8sLw2Kd9fRt6YbN1cVh\",\"Dev01\"\r\n";
        bench.exchange(engine.as_mut(), product);
        *server.reply.borrow_mut() = encrypted_reply(&certificate_plaintext()).into_bytes();
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n+TCDEVREG:OK\r\n"
        );
        assert_eq!(
            device_info(bench, engine.as_mut()),
            "+TCDEVINFOSET:2,\"CTQS08Y5LG\",\"Dev01\",\"Dev01.crt\",\"ap-guangzhou\"\r\n\r\nOK\r\n"
        );
        // The sizes are the PEM texts' own: the JSON escapes were decoded on the way.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCCERTADD?\r\n"),
            format!(
                "+TCCERTADD:\"Dev01.crt\",{}\r\n+TCCERTADD:\"Dev01.key\",{}\r\n\r\nOK\r\n",
                CERTIFICATE.len(),
                KEY.len()
            )
        );
    });
}

#[cfg(feature = "certificates")]
#[test]
fn a_certificate_pair_without_room_in_the_file_table_stores_nothing() {
    with_product(Profile::Full, |bench, server, mut engine| {
        bench.clock.utc.set(Some(NOW));
        // Seven files: one entry left, the pair needs two.
        for index in 0..7 {
            let line = format!("AT+TCCERTADD=\"x{index}.crt\",1\r\n");
            assert_eq!(
                bench.exchange(engine.as_mut(), line.as_bytes()),
                "OK\r\n>\r\n"
            );
            assert_eq!(bench.exchange(engine.as_mut(), b"A"), "+TCCERTADD:OK\r\n");
        }
        let files = bench.exchange(engine.as_mut(), b"AT+TCCERTADD?\r\n");
        *server.reply.borrow_mut() = encrypted_reply(&certificate_plaintext()).into_bytes();
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCDEVREG\r\n"),
            "OK\r\n+TCDEVREG:FAIL,207\r\n"
        );
        assert_eq!(bench.exchange(engine.as_mut(), b"AT+TCCERTADD?\r\n"), files);
        assert_eq!(device_info(bench, engine.as_mut()), "+CME ERROR:207\r\n");
    });
}
