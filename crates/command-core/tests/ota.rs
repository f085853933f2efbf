//! The OTA commands through the whole engine, on the in-memory broker and the manual clock:
//! AT+TCOTASET's subscription (internal, never a user slot) and version report, the
//! `+TCOTASTATUS` URCs of the updates that fail before any download, the version
//! re-reports of a rejected report, the record checks of AT+TCFWINFO / AT+TCREADFWDATA, and
//! one whole download from the URL of an `update_firmware` (the GET, the image, its read-back)
//! on an in-memory HTTP server, in the build under test (the esp8266 build keeps the URL in
//! the work buffer). The downloads over real sockets run in `boards/linux/tests/ota.rs`.

mod support;

use core::convert::Infallible;
use core::future::Future;
use core::pin::Pin;
use std::rc::Rc;

use command_core::{ConnectError, Network, Profile};
use embedded_io_async::{ErrorType, Read, Write};
use storage::mock::MockFlash;
use storage::Settings;
use support::http::{Connect, Server, ServerNetwork, Stream};
use support::{connect, publish, with_engine, with_settings, Bench, BrokerNetwork, BrokerStream};

const UPDATE: &str = "$ota/update/PID0000001/dev1";

/// The broker's view: SUBSCRIBE (8), PUBLISH (3), UNSUBSCRIBE (10) packets the module sent.
fn sent(bench: &Bench, packet_type: u8) -> usize {
    bench.broker.count_sent(packet_type)
}

fn deliver<F: Future + ?Sized>(bench: &Bench, engine: Pin<&mut F>, payload: &str) -> String {
    bench.uart.take_output();
    bench
        .broker
        .deliver(&publish(1, UPDATE.as_bytes(), payload.as_bytes(), 7));
    bench.settle(engine, 10_000);
    String::from_utf8_lossy(&bench.uart.take_output()).into_owned()
}

#[test]
fn otaset_needs_the_link_and_uses_an_internal_slot() {
    with_engine(|bench, mut engine| {
        bench.settle(engine.as_mut(), 10_000);
        let refused = bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n");
        assert_eq!(refused, "AT+TCOTASET=1,\"1.0.0\"\r\n+CME ERROR:208\r\n");
        connect(bench, engine.as_mut(), 60);
        let (subscribes, publishes) = (sent(bench, 8), sent(bench, 3));
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        // `$ota/update` and the resource channel of the self-update (`cloud.md` §4.7); the
        // MCU version report and the resource list.
        assert_eq!(sent(bench, 8), subscribes + 2, "two SUBSCRIBEs");
        assert_eq!(sent(bench, 3), publishes + 2, "two version reports");
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET?\r\n"),
            "+TCOTASET:1,\"1.0.0\"\r\n\r\nOK\r\n"
        );
        // The OTA filter is not a user slot.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCMQTTSUB?\r\n"),
            "\r\nOK\r\n"
        );
        // Again while listening: no new SUBSCRIBE, new version reports.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.1\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        assert_eq!(sent(bench, 8), subscribes + 2);
        assert_eq!(sent(bench, 3), publishes + 4);
        // Disable: both filters unsubscribed, the version recorded.
        let unsubscribes = sent(bench, 10);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=0,\"0.9\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        assert_eq!(sent(bench, 10), unsubscribes + 2);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET?\r\n"),
            "+TCOTASET:0,\"0.9\"\r\n\r\nOK\r\n"
        );
    });
}

#[test]
fn ota_listens_beside_ten_user_subscriptions() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        for index in 0..10 {
            let line = format!("AT+TCMQTTSUB=\"PID0000001/dev1/t{index}\",0\r\n");
            assert_eq!(
                bench.exchange(engine.as_mut(), line.as_bytes()),
                "OK\r\n+TCMQTTSUB:OK\r\n"
            );
        }
        assert_eq!(
            bench.exchange(
                engine.as_mut(),
                b"AT+TCMQTTSUB=\"PID0000001/dev1/t10\",0\r\n"
            ),
            "OK\r\n+TCMQTTSUB:FAIL,-107\r\n"
        );
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        let listed = bench.exchange(engine.as_mut(), b"AT+TCMQTTSUB?\r\n");
        assert_eq!(listed.matches("+TCMQTTSUB:").count(), 10, "{listed}");
        assert!(!listed.contains("$ota"), "{listed}");
    });
}

#[test]
fn updates_that_fail_before_a_download_emit_enterupdate_then_their_code() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 60);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        let publishes = sent(bench, 3);
        // Missing url: 210, a fail report, listening ends.
        let output = deliver(
            bench,
            engine.as_mut(),
            r#"{"file_size":5000,"md5sum":"33d9712cc5eb0bf18a41ed54a908e412","type":"update_firmware","version":"1.0.1"}"#,
        );
        assert_eq!(
            output,
            "+TCOTASTATUS:ENTERUPDATE\r\n+TCOTASTATUS:UPDATEFAIL,210\r\n"
        );
        assert_eq!(sent(bench, 3), publishes + 1, "one fail report");
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET?\r\n"),
            "+TCOTASET:0,\"1.0.0\"\r\n\r\nOK\r\n"
        );
        // Not listening any more: a push is ignored.
        let ignored = deliver(
            bench,
            engine.as_mut(),
            r#"{"file_size":5000,"md5sum":"33d9712cc5eb0bf18a41ed54a908e412","type":"update_firmware","url":"http://127.0.0.1/ota/1","version":"1.0.1"}"#,
        );
        assert_eq!(ignored, "");
        // This board has no image area: every image is larger than the maximum (201).
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        let output = deliver(
            bench,
            engine.as_mut(),
            r#"{"file_size":5000,"md5sum":"33d9712cc5eb0bf18a41ed54a908e412","type":"update_firmware","url":"http://127.0.0.1/ota/1","version":"1.0.1"}"#,
        );
        assert_eq!(
            output,
            "+TCOTASTATUS:ENTERUPDATE\r\n+TCOTASTATUS:UPDATEFAIL,201\r\n"
        );
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCFWINFO?\r\n"),
            "+CME ERROR:207\r\n"
        );
    });
}

#[test]
fn a_rejected_version_report_is_sent_again_after_a_second_at_most_three_times() {
    with_engine(|bench, mut engine| {
        connect(bench, engine.as_mut(), 600);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        let publishes = sent(bench, 3);
        let rejection =
            r#"{"result_code":1,"result_msg":"bad","type":"report_version_rsp","version":"1.0.0"}"#;
        for round in 1..=4 {
            assert_eq!(deliver(bench, engine.as_mut(), rejection), "");
            let now = bench.clock.now();
            bench.run_until(engine.as_mut(), now + 1_000, 10_000);
            // Each re-report is the MCU version report and the resource list.
            let expected = publishes + 2 * round.min(3);
            assert_eq!(
                sent(bench, 3),
                expected,
                "re-reports after rejection {round}"
            );
        }
        // Still listening.
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET?\r\n"),
            "+TCOTASET:1,\"1.0.0\"\r\n\r\nOK\r\n"
        );
    });
}

#[test]
fn firmware_commands_check_the_record_before_the_length() {
    with_engine(|bench, mut engine| {
        bench.settle(engine.as_mut(), 10_000);
        bench.exchange(engine.as_mut(), b"ATE0\r\n");
        for (line, answer) in [
            (&b"AT+TCFWINFO?\r\n"[..], "+CME ERROR:207\r\n"),
            (b"AT+TCREADFWDATA=10\r\n", "+CME ERROR:207\r\n"),
            (b"AT+TCREADFWDATA=0\r\n", "+CME ERROR:207\r\n"),
            (b"AT+TCREADFWDATA=4097\r\n", "+CME ERROR:207\r\n"),
            (b"AT+TCOTASET=0,\"1.0.0\"\r\n", "OK\r\n+TCOTASET:OK\r\n"),
            (b"AT+TCOTASET?\r\n", "+TCOTASET:0,\"1.0.0\"\r\n\r\nOK\r\n"),
            (b"AT+TCOTASET=0\r\n", "+CME ERROR:204\r\n"),
        ] {
            assert_eq!(
                bench.exchange(engine.as_mut(), line),
                answer,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    });
}

/// The broker for every connect, except port 18080: the HTTP server of the image.
struct Routed {
    broker: BrokerNetwork,
    http: ServerNetwork,
}

enum RoutedStream {
    Broker(BrokerStream),
    Http(Stream),
}

impl ErrorType for RoutedStream {
    type Error = Infallible;
}

impl Read for RoutedStream {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        match self {
            RoutedStream::Broker(stream) => stream.read(buffer).await,
            RoutedStream::Http(stream) => stream.read(buffer).await,
        }
    }
}

impl Write for RoutedStream {
    async fn write(&mut self, bytes: &[u8]) -> Result<usize, Infallible> {
        match self {
            RoutedStream::Broker(stream) => stream.write(bytes).await,
            RoutedStream::Http(stream) => stream.write(bytes).await,
        }
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl Network for Routed {
    type Stream = RoutedStream;

    async fn connect(&mut self, host: &[u8], port: u16) -> Result<RoutedStream, ConnectError> {
        if port == 18080 {
            self.http.connect(host, port).await.map(RoutedStream::Http)
        } else {
            self.broker
                .connect(host, port)
                .await
                .map(RoutedStream::Broker)
        }
    }
}

#[test]
fn an_update_is_fetched_from_its_url_stored_checked_and_read_back() {
    let image: Vec<u8> = (0..3000u32).map(|index| (index * 7 % 251) as u8).collect();
    let mut digest = ota::ImageDigest::new();
    digest.update(&image);
    let md5: String = digest
        .finish()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let server = Rc::new(Server::default());
    let mut reply = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 3000\r\nContent-Range: bytes 0-2999/3000\r\n\r\n".to_vec();
    reply.extend_from_slice(&image);
    *server.reply.borrow_mut() = reply;
    let settings = Settings::new(MockFlash::new(112 * 1024), 0..64 * 1024)
        .with_certificate_area(64 * 1024..104 * 1024)
        .with_firmware_area(104 * 1024..112 * 1024);
    let http = server.clone();
    let make = |bench: &Bench| Routed {
        broker: BrokerNetwork(bench.broker.clone()),
        http: ServerNetwork(http),
    };
    with_settings(Profile::Full, settings, make, |bench, mut engine| {
        connect(bench, engine.as_mut(), 600);
        assert_eq!(
            bench.exchange(engine.as_mut(), b"AT+TCOTASET=1,\"1.0.0\"\r\n"),
            "OK\r\n+TCOTASET:OK\r\n"
        );
        // The URL as the cloud escapes it in JSON; the GET carries it decoded.
        let update = format!(
            r#"{{"file_size":3000,"md5sum":"{md5}","type":"update_firmware","url":"http:\/\/127.0.0.1:18080\/ota\/1?sign=a%3Db","version":"1.0.1"}}"#
        );
        let output = deliver(bench, engine.as_mut(), &update);
        assert_eq!(
            *server.connects.borrow(),
            [Connect {
                host: "127.0.0.1".into(),
                port: 18080,
                tls: false
            }]
        );
        assert_eq!(
            server.request_text(),
            "GET /ota/1?sign=a%3Db HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate\r\nRange: bytes=0-3000\r\n\r\n"
        );
        assert!(
            output.starts_with("+TCOTASTATUS:ENTERUPDATE\r\n")
                && output.ends_with("+TCOTASTATUS:UPDATESUCCESS\r\n"),
            "{output}"
        );
        // The read-back goes through the reply block in pieces: the same bytes, one block.
        bench.uart.take_output();
        bench.uart.send(b"AT+TCREADFWDATA=3000\r\n");
        bench.settle(engine.as_mut(), 10_000);
        let mut expected = b"OK\r\n+TCREADFWDATA:3000,".to_vec();
        expected.extend_from_slice(&image);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(bench.uart.take_output(), expected);
    });
}
