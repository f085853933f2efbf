//! The OTA file server and responders over real sockets, driven by the firmware's own
//! `ota` crate: its HTTP client against the hub's HTTP and HTTPS listeners (every fault
//! switch, the request log), its state machine through a whole update with a retry and a
//! resume, and its client against nginx for Range interop.

mod common;

use common::{demo_identity, Hub, RawClient, Received, DEMO_DN, DEMO_PID, WAIT};
use mqtt_session::codec::QoS;
use ota::http::{write_range_request, HttpError, RangeDownload, Url};
use ota::{Event, Failure, ImageDigest, Message, Ota, Report};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

const UPDATE_TOPIC: &str = "$ota/update/DEMO000001/demo";
const REPORT_TOPIC: &str = "$ota/report/DEMO000001/demo";

/// The test-vector image: byte i = (7·i + 3) & 0xFF.
fn image(size: usize) -> Vec<u8> {
    (0..size).map(|index| (index * 7 + 3) as u8).collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    let mut digest = ImageDigest::new();
    digest.update(bytes);
    String::from_utf8(ota::to_hex(&digest.finish()).to_vec()).unwrap()
}

/// `POST /files` with raw bytes; returns the id and checks size and MD5.
fn upload(hub: &Hub, bytes: &[u8]) -> u64 {
    let mut stream = TcpStream::connect(("127.0.0.1", hub.admin)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "POST /files HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n",
        bytes.len()
    )
    .unwrap();
    stream.write_all(bytes).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["size"], bytes.len());
    assert_eq!(body["md5"], md5_hex(bytes));
    body["id"].as_u64().unwrap()
}

fn set_faults(hub: &Hub, id: u64, faults: Value) {
    let (status, _) = hub.admin("PUT", &format!("/files/{id}/faults"), Some(faults));
    assert_eq!(status, 200);
}

/// One GET of `offset..size` of `url` over `stream`, by the firmware's client; the image
/// bytes are appended to `image` as they arrive (also those before a failure).
fn fetch_into(
    mut stream: impl Read + Write,
    url: &str,
    offset: u32,
    size: u32,
    image: &mut Vec<u8>,
) -> Result<(), HttpError> {
    let url = Url::parse(url.as_bytes()).unwrap();
    let mut request = [0u8; 512];
    let length = write_range_request(&url, offset, size, &mut request).unwrap();
    stream.write_all(&request[..length]).unwrap();
    let started = Instant::now();
    let mut download = RangeDownload::new(offset, size, 0);
    let mut buffer = [0u8; 1460];
    while !download.is_complete() {
        let count = stream.read(&mut buffer).unwrap_or(0);
        if count == 0 {
            return download.closed();
        }
        let now = started.elapsed().as_millis() as u64;
        let mut input = &buffer[..count];
        while !input.is_empty() && !download.is_complete() {
            let chunk = download.feed(input, now)?;
            image.extend_from_slice(chunk.data);
            input = &input[chunk.consumed..];
        }
    }
    Ok(())
}

fn fetch_over(
    stream: impl Read + Write,
    url: &str,
    offset: u32,
    size: u32,
) -> Result<Vec<u8>, HttpError> {
    let mut image = Vec::new();
    fetch_into(stream, url, offset, size, &mut image).map(|()| image)
}

fn fetch(port: u16, path: &str, offset: u32, size: u32) -> Result<Vec<u8>, HttpError> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    fetch_over(
        stream,
        &format!("http://127.0.0.1:{port}{path}"),
        offset,
        size,
    )
}

/// The `http_request` events with their header lines.
fn requests(hub: &Hub) -> Vec<Value> {
    hub.events()
        .into_iter()
        .filter(|event| event["kind"] == "http_request")
        .collect()
}

fn has_header(request: &Value, header: &str) -> bool {
    request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|line| line == header)
}

#[test]
fn whole_file_and_ranges_with_the_request_log() {
    let hub = Hub::start(&[]);
    let bytes = image(5000);
    let id = upload(&hub, &bytes);
    let path = format!("/ota/{id}?sign=x");
    assert_eq!(fetch(hub.http, &path, 0, 5000).unwrap(), bytes);
    assert_eq!(fetch(hub.http, &path, 2048, 5000).unwrap(), &bytes[2048..]);
    let logged = requests(&hub);
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[1]["line"], format!("GET {path} HTTP/1.1"));
    assert!(has_header(&logged[0], "Range: bytes=0-5000"));
    assert!(has_header(&logged[1], "Range: bytes=2048-5000"));
    assert!(has_header(
        &logged[1],
        &format!("Host: 127.0.0.1:{}", hub.http)
    ));
    let response = hub.wait_event(|event| {
        event["kind"] == "http_response" && event["request"] == logged[1]["request"]
    });
    assert_eq!(
        (response["status"].as_u64(), response["bytes_sent"].as_u64()),
        (Some(206), Some(2952))
    );
}

/// Raw request and the raw answer, for what the firmware's client would not show.
fn raw_exchange(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn range_edges_and_unknown_paths() {
    let hub = Hub::start(&[]);
    let id = upload(&hub, b"0123456789");
    let answer = raw_exchange(
        hub.http,
        &format!("GET /ota/{id} HTTP/1.1\r\nRange: bytes=8-\r\n\r\n"),
    );
    assert!(
        answer.starts_with("HTTP/1.1 206 Partial Content\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Content-Range: bytes 8-9/10\r\n") && answer.ends_with("\r\n\r\n89"));
    assert!(answer.contains("Connection: close\r\n"));
    let answer = raw_exchange(
        hub.http,
        &format!("GET /ota/{id} HTTP/1.1\r\nRange: bytes=10-20\r\n\r\n"),
    );
    assert!(
        answer.starts_with("HTTP/1.1 416 ") && answer.contains("Content-Range: bytes */10\r\n")
    );
    let answer = raw_exchange(hub.http, &format!("GET /ota/{id} HTTP/1.1\r\n\r\n"));
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n") && answer.ends_with("\r\n\r\n0123456789"));
    assert_eq!(
        fetch(hub.http, "/ota/999", 0, 10),
        Err(HttpError::Status(404))
    );
    assert_eq!(
        fetch(hub.http, "/other", 0, 10),
        Err(HttpError::Status(404))
    );
    let answer = raw_exchange(hub.http, &format!("PUT /ota/{id} HTTP/1.1\r\n\r\n"));
    assert!(answer.starts_with("HTTP/1.1 405 "));
}

#[test]
fn status_faults_give_the_spec_errors() {
    let hub = Hub::start(&[]);
    let id = upload(&hub, &image(100));
    for status in [403, 404, 500, 302, 401] {
        set_faults(&hub, id, json!({"status": status}));
        let failure = Failure::Http(fetch(hub.http, &format!("/ota/{id}"), 0, 100).unwrap_err());
        assert_eq!(failure, Failure::Http(HttpError::Status(status)));
        let expected = match status {
            401 | 403 => ota::ResultCode::Unauthorized,
            404 => ota::ResultCode::NotFound,
            _ => ota::ResultCode::Other,
        };
        assert_eq!(failure.codes(), (ota::FailCode::Http, expected), "{status}");
    }
    set_faults(&hub, id, json!({}));
    assert_eq!(
        fetch(hub.http, &format!("/ota/{id}"), 0, 100).unwrap(),
        image(100)
    );
    let (status, _) = hub.admin(
        "PUT",
        &format!("/files/{id}/faults"),
        Some(json!({"bogus": 1})),
    );
    assert_eq!(status, 400);
    let (status, _) = hub.admin("PUT", "/files/77/faults", Some(json!({})));
    assert_eq!(status, 404);
}

#[test]
fn body_faults_close_flip_ignore_range_and_chunked() {
    let hub = Hub::start(&[]);
    let bytes = image(9000);
    let id = upload(&hub, &bytes);
    let path = format!("/ota/{id}");

    set_faults(&hub, id, json!({"close_after": 3000, "next_only": true}));
    assert_eq!(fetch(hub.http, &path, 0, 9000), Err(HttpError::Truncated));
    assert_eq!(
        fetch(hub.http, &path, 0, 9000).unwrap(),
        bytes,
        "next_only reverts"
    );

    set_faults(&hub, id, json!({"flip_offset": 4321}));
    let flipped = fetch(hub.http, &path, 0, 9000).unwrap();
    assert_eq!(
        flipped.iter().zip(&bytes).filter(|(a, b)| a != b).count(),
        1
    );
    assert_ne!(md5_hex(&flipped), md5_hex(&bytes), "an MD5 mismatch");

    set_faults(&hub, id, json!({"ignore_range": true}));
    assert_eq!(fetch(hub.http, &path, 2048, 9000).unwrap(), &bytes[2048..]);
    let response =
        hub.wait_event(|event| event["kind"] == "http_response" && event["status"] == 200);
    assert_eq!(
        response["bytes_sent"], 9000,
        "the whole file, prefix skipped by the client"
    );

    set_faults(&hub, id, json!({"chunked": true}));
    assert_eq!(fetch(hub.http, &path, 100, 9000).unwrap(), &bytes[100..]);
    let answer = raw_exchange(
        hub.http,
        &format!("GET {path} HTTP/1.1\r\nRange: bytes=8990-\r\n\r\n"),
    );
    assert!(
        answer.contains("Transfer-Encoding: chunked\r\n") && !answer.contains("Content-Length")
    );
    assert!(answer.contains("\r\n\r\na\r\n") && answer.ends_with("\r\n0\r\n\r\n"));

    set_faults(&hub, id, json!({"chunked": true, "close_after": 5000}));
    assert_eq!(fetch(hub.http, &path, 0, 9000), Err(HttpError::Truncated));
}

#[test]
fn stall_and_throttle_slow_the_body_down() {
    let hub = Hub::start(&[]);
    let bytes = image(20_000);
    let id = upload(&hub, &bytes);
    let path = format!("/ota/{id}");
    set_faults(&hub, id, json!({"stall_s": 1.5, "stall_after": 4000}));
    let started = Instant::now();
    assert_eq!(fetch(hub.http, &path, 0, 20_000).unwrap(), bytes);
    assert!(
        started.elapsed().as_secs_f64() >= 1.5,
        "{:?}",
        started.elapsed()
    );

    set_faults(&hub, id, json!({"throttle_bps": 40_000}));
    let started = Instant::now();
    assert_eq!(
        fetch(hub.http, &path, 10_000, 20_000).unwrap(),
        &bytes[10_000..]
    );
    assert!(
        started.elapsed().as_secs_f64() >= 0.2,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn https_serves_the_same_files_with_the_hub_certificate() {
    let ca = std::env::temp_dir().join(format!("tc-at-hub-ota-ca-{}.pem", std::process::id()));
    let hub = Hub::start(&["--ca-out", ca.to_str().unwrap()]);
    let bytes = image(5000);
    let id = upload(&hub, &bytes);
    let mut connector =
        openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).unwrap();
    connector.set_ca_file(&ca).unwrap();
    let connector = connector.build();
    let tcp = TcpStream::connect(("127.0.0.1", hub.https)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let stream = connector.connect("localhost", tcp).unwrap();
    let url = format!("https://localhost:{}/ota/{id}", hub.https);
    assert_eq!(
        fetch_over(stream, &url, 1000, 5000).unwrap(),
        &bytes[1000..]
    );
    let request = hub.wait_event(|event| event["kind"] == "http_request");
    assert_eq!(request["tls"], true);
    assert!(has_header(&request, "Range: bytes=1000-5000"));
    let _ = std::fs::remove_file(ca);
}

/// Next PUBLISH on the update topic (PUBACKs skipped).
fn next_update(client: &mut RawClient) -> Vec<u8> {
    loop {
        match client.next_packet() {
            Received::Publish { topic, payload, .. } => {
                assert_eq!(topic, UPDATE_TOPIC);
                return payload;
            }
            Received::PubAck(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn publish_report(client: &mut RawClient, ota: &Ota, report: Report) {
    let mut payload = [0u8; ota::MAXIMUM_REPORT_LENGTH];
    let length = ota.write_report(report, &mut payload).unwrap();
    let qos = if report.qos() == 1 {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };
    client.publish(REPORT_TOPIC, &payload[..length], qos);
}

/// A whole update as the firmware runs it: the state machine, MQTT through the hub, HTTP
/// from the hub's file server, a first attempt cut by a fault, the silent retry, the
/// resume with `Range: bytes=<stored>-<size>`, the MD5 and the `done` that completes the task.
#[test]
fn the_state_machine_updates_through_the_hub_with_a_retry_and_a_resume() {
    let hub = Hub::start(&[]);
    let bytes = image(5000);
    let id = upload(&hub, &bytes);
    set_faults(&hub, id, json!({"close_after": 3001, "next_only": true}));
    let mut client = RawClient::login(&hub, &demo_identity());
    assert_eq!(client.subscribe(UPDATE_TOPIC, QoS::AtLeastOnce), 1);

    let mut ota = Ota::new();
    ota.enable(b"1.0.0").unwrap();
    publish_report(&mut client, &ota, Report::Version);
    let response = next_update(&mut client);
    assert!(ota.handle_message(&response, None, 909_312, 0).is_none());
    let (status, task) = hub.admin(
        "POST",
        &format!("/devices/{DEMO_PID}/{DEMO_DN}/ota"),
        Some(json!({"file_id": id, "version": "1.0.1"})),
    );
    assert_eq!((status, &task["pushed"]), (200, &json!(1)));

    let mut flash: Vec<u8> = Vec::new();
    let mut record: Option<ota::FirmwareInfo> = None;
    let mut now = 10;
    let mut fetched = 0;
    let mut done = false;
    while !done {
        let push = next_update(&mut client);
        let Ok(Message::UpdateFirmware(update)) = Message::parse(&push) else {
            continue; // a version response
        };
        let mut url = [0u8; 256];
        let url_length = update.url.copy_to(&mut url).unwrap();
        let stored = record.as_ref().map(ota::StoredImage::from);
        assert!(ota
            .handle_message(&push, stored.as_ref(), 909_312, now)
            .is_some());
        while let Some(event) = ota.poll(now) {
            match event {
                Event::Publish(report) => publish_report(&mut client, &ota, report),
                Event::BeginImage | Event::Checkpoint { .. } | Event::CompleteImage => {
                    record = ota.firmware_record(&event, 909_312, b"");
                }
                Event::Fetch { offset, size } => {
                    fetched += 1;
                    flash.truncate(offset as usize);
                    let url = std::str::from_utf8(&url[..url_length]).unwrap();
                    let port = Url::parse(url.as_bytes()).unwrap().port;
                    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    stream.set_read_timeout(Some(WAIT)).unwrap();
                    // The test's flash keeps every byte that arrived, so the stored count
                    // is what the cut left.
                    match fetch_into(stream, url, offset, size, &mut flash) {
                        Ok(()) => {
                            ota.progress(flash.len() as u32, now);
                            ota.fetch_complete(now);
                        }
                        Err(error) => {
                            assert_eq!(error, HttpError::Truncated);
                            ota.progress(flash.len() as u32, now);
                            ota.fetch_failed(Failure::Http(error), now);
                        }
                    }
                }
                Event::Verify { size } => {
                    let mut digest = ImageDigest::new();
                    digest.update(&flash[..size as usize]);
                    ota.image_checked(&digest.finish());
                }
                Event::Status(ota::Status::UpdateSuccess) => done = true,
                Event::Status(ota::Status::UpdateFail(code)) => panic!("failed with {code:?}"),
                _ => {}
            }
            if ota.state() == ota::State::RetryWait {
                now += ota::RETRY_DELAY_MS; // the manual clock jumps to the retry
            }
        }
    }
    assert_eq!(fetched, 2);
    assert_eq!(flash, bytes);
    assert_eq!(
        record.map(|record| record.state),
        Some(ota::FirmwareState::McuValid)
    );
    let logged = requests(&hub);
    assert!(has_header(&logged[0], "Range: bytes=0-5000"));
    assert!(
        has_header(&logged[1], "Range: bytes=3001-5000"),
        "resumed where the cut left"
    );
    let completed =
        hub.wait_event(|event| event["kind"] == "ota_progress" && event["state"] == "done");
    assert_eq!(completed["version"], "1.0.1");
    let (_, task) = hub.admin("GET", &format!("/devices/{DEMO_PID}/{DEMO_DN}/ota"), None);
    assert_eq!(task["completed"], true);
}

#[test]
fn tasks_are_validated_and_cancelled() {
    let hub = Hub::start(&[]);
    let id = upload(&hub, b"abc");
    let path = format!("/devices/{DEMO_PID}/{DEMO_DN}/ota");
    let (status, _) = hub.admin("POST", &path, Some(json!({"file_id": 99, "version": "2"})));
    assert_eq!(status, 400);
    let (status, _) = hub.admin(
        "POST",
        &path,
        Some(json!({"file_id": id, "version": "2", "scheme": "ftp"})),
    );
    assert_eq!(status, 400);
    let (status, _) = hub.admin(
        "POST",
        "/devices/DEMO000001/ghost/ota",
        Some(json!({"file_id": id, "version": "2"})),
    );
    assert_eq!(status, 404);
    let (status, task) = hub.admin(
        "POST",
        &path,
        Some(json!({"file_id": id, "version": "2", "scheme": "https", "host": "ota-1255858890.cos.ap-guangzhou.myqcloud.com", "query": "sign=x"})),
    );
    assert_eq!(status, 200);
    assert_eq!(
        task["url"],
        format!("https://ota-1255858890.cos.ap-guangzhou.myqcloud.com/ota/{id}?sign=x")
    );
    assert_eq!(task["pushed"], 0, "nobody listens");
    let (status, answer) = hub.admin("DELETE", &path, None);
    assert_eq!((status, &answer["cancelled"]), (200, &json!(true)));
    let (status, _) = hub.admin("GET", &path, None);
    assert_eq!(status, 404);
    let (status, _) = hub.admin("PUT", "/switches", Some(json!({"no_such_switch": true})));
    assert_eq!(status, 400);
    let (status, _) = hub.admin(
        "PUT",
        "/switches",
        Some(json!({"reject_version_report": true})),
    );
    assert_eq!(status, 200);
}
