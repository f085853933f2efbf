//! OTA end to end (`commands.md` §5, `cloud.md` §4): the module against `tc-at-hub`'s MQTT
//! broker, `$ota/report` responder, update tasks and HTTP file server, over real TCP.
//!
//! The MCU side is this test: `AT+TCOTASET=1,"1.0.0"`, then `+TCOTASTATUS:ENTERUPDATE` and
//! `UPDATESUCCESS`, `AT+TCFWINFO?` and an `AT+TCREADFWDATA` loop whose bytes must equal the
//! pushed file (and hash to its MD5). Failures go through the hub's fault switches. Every wait
//! is bound to the module's output with a deadline; nothing sleeps to synchronise.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;

use common::hub::{Hub, DEMO_DEVICE, DEMO_PRODUCT};
use common::ota::{
    enable_and_enter, hex, md5_of, start_connected, upload, wait_for_event, DOWNLOAD_DEADLINE,
    FIRMWARE_RANGE, MAX_SIZE, SETTINGS_RANGE,
};
use common::{Module, Options, Scratch};

/// A hub and a module connected to it (TLS mode 0, echo off).
fn connected(label: &str) -> (Scratch, Hub, Module) {
    let scratch = Scratch::new(label);
    let hub = Hub::start();
    let module = start_connected(&scratch, &hub, Options::default());
    (scratch, hub, module)
}

/// Creates the demo device's MCU update task to `version` with file `id`.
fn create_task(hub: &Hub, id: u64, version: &str) {
    create_task_with(hub, id, version, "");
}

/// [`create_task`] with more JSON members (`,"scheme":"https"`).
fn create_task_with(hub: &Hub, id: u64, version: &str, extra: &str) {
    let (status, body) = hub.admin(
        "POST",
        &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/ota"),
        &format!("{{\"file_id\":{id},\"version\":\"{version}\"{extra}}}"),
    );
    assert_eq!(status, 200, "task creation answered {body}");
}

fn set_faults(hub: &Hub, id: u64, faults: &str) {
    let (status, body) = hub.admin("PUT", &format!("/files/{id}/faults"), faults);
    assert_eq!(status, 200, "faults answered {body}");
}

/// Reads the image back with `AT+TCFWINFO?` and an `AT+TCREADFWDATA=<chunk>` loop.
fn read_back(module: &mut Module, version: &str, size: usize, md5: &str, chunk: usize) -> Vec<u8> {
    module.send(b"AT+TCFWINFO?\r\n");
    module.expect(
        format!("OK\r\n+TCFWINFO:\"{version}\",{size},\"{md5}\",{MAX_SIZE}\r\n").as_bytes(),
    );
    let mut image = Vec::with_capacity(size);
    while image.len() < size {
        let expected = chunk.min(size - image.len());
        module.send(format!("AT+TCREADFWDATA={chunk}\r\n").as_bytes());
        module.expect(format!("OK\r\n+TCREADFWDATA:{expected},").as_bytes());
        image.extend(module.read_bytes(expected));
        module.expect(b"\r\n");
    }
    // The offset reached the size: the next read is refused until AT+TCFWINFO? rewinds.
    module.send(format!("AT+TCREADFWDATA={chunk}\r\n").as_bytes());
    module.expect(b"+CME ERROR:208\r\n");
    image
}

/// A 900,000-byte image holding every byte value and many `\r\n` pairs.
fn large_image() -> Vec<u8> {
    let mut image: Vec<u8> = (0..900_000u32)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for start in (0..image.len() - 1).step_by(997) {
        image[start] = b'\r';
        image[start + 1] = b'\n';
    }
    image
}

/// The `Range: bytes=<start>-<end>` of every GET in `log`, in order.
fn ranges(log: &str) -> Vec<(u64, u64)> {
    let pattern = Regex::new(r"Range: bytes=(\d+)-(\d+)").expect("pattern");
    pattern
        .captures_iter(log)
        .map(|captures| (captures[1].parse().unwrap(), captures[2].parse().unwrap()))
        .collect()
}

/// Reads non-empty lines until `count` of them arrived; returns them sorted.
fn lines_in_any_order(module: &mut Module, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.len() < count {
        let line = module.read_line();
        if !line.is_empty() {
            lines.push(String::from_utf8_lossy(&line).into_owned());
        }
    }
    lines.sort();
    lines
}

#[test]
fn a_pushed_image_is_downloaded_verified_and_read_back_byte_exact() {
    let (_scratch, hub, mut module) = connected("ota-full");
    module.deadline = DOWNLOAD_DEADLINE;
    // Nothing cached yet.
    assert_eq!(module.transact(b"AT+TCFWINFO?\r\n"), b"+CME ERROR:207\r\n");
    assert_eq!(
        module.transact(b"AT+TCREADFWDATA=0\r\n"),
        b"+CME ERROR:207\r\n"
    );
    assert_eq!(
        module.transact(b"AT+TCOTASET?\r\n"),
        b"+TCOTASET:0,\"\"\r\n\r\nOK\r\n"
    );

    let small: Vec<u8> = (0..5_000u32).map(|index| (index * 7 + 3) as u8).collect();
    let (id, md5) = upload(&hub, &small);
    create_task(&hub, id, "1.0.1");
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    // Listening ended with the update.
    assert_eq!(
        module.transact(b"AT+TCOTASET?\r\n"),
        b"+TCOTASET:0,\"1.0.0\"\r\n\r\nOK\r\n"
    );
    let read = read_back(&mut module, "1.0.1", small.len(), &md5, 1_000);
    assert_eq!(read, small);
    assert_eq!(hex(&md5_of(&read)), md5);

    // The bad-input rows of the three commands, with a valid image cached.
    for (line, answer) in [
        (&b"AT+TCREADFWDATA=0\r\n"[..], &b"+CME ERROR:208\r\n"[..]),
        (b"AT+TCFWINFO=?\r\n", b"+TCFWINFO:\"FW_VERSION\",\"FW_SIZE\",\"FW_MD5\",\"FW_MAX_SIZE_OF_MODULE\"\r\n\r\nOK\r\n"),
        (b"AT+TCREADFWDATA=?\r\n", b"+TCREADFWDATA:\"LEN_FOR_READ\"\r\n\r\nOK\r\n"),
        (b"AT+TCOTASET=2,\"1.0.0\"\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCOTASET=1\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCOTASET=1,\"\"\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCOTASET=1,\"123456789012345678901234567890123\"\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCOTASET=\"1\",\"1.0.0\"\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCOTASET=abc,\"1.0.0\"\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCOTASET=1,\"1.0.0\",\"x\"\r\n", b"+CME ERROR:204\r\n"),
        // Forms the commands do not have.
        (b"AT+TCFWINFO\r\n", b"ERR CODE:0x01090000\r\n\r\nERROR\r\n"),
        (b"AT+TCREADFWDATA?\r\n", b"ERR CODE:0x01090000\r\n\r\nERROR\r\n"),
    ] {
        assert_eq!(
            String::from_utf8_lossy(&module.transact(line)),
            String::from_utf8_lossy(answer),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    module.send(b"AT+TCFWINFO?\r\n");
    module.expect(format!("OK\r\n+TCFWINFO:\"1.0.1\",5000,\"{md5}\",{MAX_SIZE}\r\n").as_bytes());
    for line in [
        &b"AT+TCREADFWDATA=0\r\n"[..],
        b"AT+TCREADFWDATA=4097\r\n",
        b"AT+TCREADFWDATA=\"10\"\r\n",
        b"AT+TCREADFWDATA=10,10\r\n",
        b"AT+TCREADFWDATA=-5\r\n",
        b"AT+TCREADFWDATA=abc\r\n",
        b"AT+TCREADFWDATA=1.5\r\n",
        b"AT+TCREADFWDATA=\r\n",
    ] {
        assert_eq!(
            module.transact(line),
            b"+CME ERROR:204\r\n",
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // A refused read moved nothing: the whole image is still there.
    module.send(b"AT+TCREADFWDATA=4096\r\n");
    module.expect(b"OK\r\n+TCREADFWDATA:4096,");
    assert_eq!(module.read_bytes(4096), small[..4096]);
    module.expect(b"\r\n");

    // A 900,000-byte image with every byte value and `\r\n` pairs, read in 4096-byte blocks.
    let large = large_image();
    let (id, md5) = upload(&hub, &large);
    create_task(&hub, id, "2.0.0");
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    let read = read_back(&mut module, "2.0.0", large.len(), &md5, 4_096);
    assert!(read == large, "the 900,000-byte image read back differs");
    assert_eq!(hex(&md5_of(&read)), md5);
}

#[test]
fn a_flipped_byte_fails_the_md5_at_once_and_clears_the_record() {
    let (_scratch, hub, mut module) = connected("ota-md5");
    module.deadline = DOWNLOAD_DEADLINE;
    let image: Vec<u8> = (0..20_000u32).map(|index| (index % 251) as u8).collect();
    let (id, _) = upload(&hub, &image);
    set_faults(&hub, id, "{\"flip_offset\":1234}");
    create_task(&hub, id, "1.0.1");
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATEFAIL,205\r\n");
    wait_for_event(
        &hub,
        &[
            "\"state\":\"fail\"",
            "\"result_code\":\"-4\"",
            "\"result_msg\":\"MD5_not_match\"",
        ],
    );
    assert_eq!(module.transact(b"AT+TCFWINFO?\r\n"), b"+CME ERROR:207\r\n");
    assert_eq!(
        module.transact(b"AT+TCOTASET?\r\n"),
        b"+TCOTASET:0,\"1.0.0\"\r\n\r\nOK\r\n"
    );
}

#[test]
fn a_missing_file_is_retried_three_times_then_fails_with_213() {
    let (_scratch, hub, mut module) = connected("ota-404");
    module.deadline = DOWNLOAD_DEADLINE;
    let image = vec![0x5a; 3_000];
    let (id, _) = upload(&hub, &image);
    set_faults(&hub, id, "{\"status\":404}");
    create_task(&hub, id, "1.0.1");
    enable_and_enter(&mut module);
    // Three silent retries, each re-reporting the version, which makes the hub push again.
    for _ in 0..3 {
        module.expect(b"+TCOTASTATUS:ENTERUPDATE\r\n");
    }
    module.expect(b"+TCOTASTATUS:UPDATEFAIL,213\r\n");
    // One fail report, with the 404's code; four GETs.
    let log = wait_for_event(&hub, &["\"state\":\"fail\"", "\"result_code\":\"-2\""]);
    assert_eq!(ranges(&log), vec![(0, 3_000); 4]);
    let (_, task) = hub.admin(
        "GET",
        &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/ota"),
        "",
    );
    assert!(task.contains("\"failures\":[\"-2\"]"), "{task}");
    // A partial image is never readable.
    assert_eq!(module.transact(b"AT+TCFWINFO?\r\n"), b"+CME ERROR:208\r\n");
}

#[test]
fn during_a_download_the_dl_gates_hold_and_an_abort_keeps_the_bytes_for_resume() {
    let (_scratch, hub, mut module) = connected("ota-gates");
    module.deadline = DOWNLOAD_DEADLINE;
    let image: Vec<u8> = (0..300_000u32).map(|index| (index % 253) as u8).collect();
    let (id, md5) = upload(&hub, &image);
    // About 15 s for the whole image: the download is still running while the commands run.
    set_faults(&hub, id, "{\"throttle_bps\":20000}");
    create_task(&hub, id, "1.0.1");
    enable_and_enter(&mut module);
    for (line, answer) in [
        (&b"AT+TCFWINFO?\r\n"[..], &b"+CME ERROR:200\r\n"[..]),
        (b"AT+TCREADFWDATA=10\r\n", b"+CME ERROR:200\r\n"),
        (b"AT+TCREADFWDATA=0\r\n", b"+CME ERROR:200\r\n"),
        (b"AT+TCOTASET=1,\"1.0.0\"\r\n", b"+CME ERROR:200\r\n"),
        (
            b"AT+TCMQTTSUB=\"DEMO000001/demo/data\",0\r\n",
            b"+CME ERROR:200\r\n",
        ),
        (
            b"AT+TCMQTTUNSUB=\"DEMO000001/demo/data\"\r\n",
            b"+CME ERROR:200\r\n",
        ),
        (
            b"AT+TCMQTTPUBL=\"DEMO000001/demo/event\",0,5\r\n",
            b"+CME ERROR:200\r\n",
        ),
        (
            b"AT+TCMQTTPUBRAW=\"DEMO000001/demo/event\",0,5\r\n",
            b"+CME ERROR:200\r\n",
        ),
        // RUN is checked first: 208.
        (b"AT+TCMQTTCONN=0,5000,240,1,1\r\n", b"+CME ERROR:208\r\n"),
        (b"AT+TCRESTORE\r\n", b"+CME ERROR:208\r\n"),
        // Allowed.
        (
            b"AT+TCMQTTPUB=\"DEMO000001/demo/event\",0,\"x\"\r\n",
            b"OK\r\n+TCMQTTPUB:OK\r\n",
        ),
        (b"AT+TCOTASET?\r\n", b"+TCOTASET:1,\"1.0.0\"\r\n\r\nOK\r\n"),
    ] {
        assert_eq!(
            String::from_utf8_lossy(&module.transact(line)),
            String::from_utf8_lossy(answer),
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    // Some bytes are stored before the abort (the first progress report comes at 1 %, 3,000
    // bytes), so there is something to resume from however slowly the machine runs.
    wait_for_event(&hub, &["\"state\":\"downloading\""]);
    // AT+TCOTASET=0 aborts: the URC before the result, a fail report (-5).
    module.send(b"AT+TCOTASET=0,\"1.0.0\"\r\n");
    module.expect(b"OK\r\n+TCOTASTATUS:UPDATEFAIL,208\r\n+TCOTASET:OK\r\n");
    wait_for_event(&hub, &["\"state\":\"fail\"", "\"result_code\":\"-5\""]);
    // The partial image is not readable.
    assert_eq!(module.transact(b"AT+TCFWINFO?\r\n"), b"+CME ERROR:208\r\n");

    // Enabled again: the hub pushes the same task and the download resumes where it stopped.
    set_faults(&hub, id, "{}");
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    let log = wait_for_event(&hub, &["\"state\":\"done\""]);
    let ranges = ranges(&log);
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], (0, 300_000));
    assert!(
        ranges[1].0 > 0 && ranges[1].0 < 300_000 && ranges[1].1 == 300_000,
        "the second GET resumes: {ranges:?}"
    );
    let read = read_back(&mut module, "1.0.1", image.len(), &md5, 4_096);
    assert!(read == image, "the resumed image differs");

    // AT+TCMQTTDISCONN during a download: 208, no report.
    let (id, _) = upload(&hub, &image);
    set_faults(&hub, id, "{\"throttle_bps\":20000}");
    create_task(&hub, id, "1.0.2");
    enable_and_enter(&mut module);
    module.send(b"AT+TCMQTTDISCONN\r\n");
    assert_eq!(
        lines_in_any_order(&mut module, 2),
        ["+TCOTASTATUS:UPDATEFAIL,208", "OK"]
    );
    assert_eq!(
        module.transact(b"AT+TCOTASET?\r\n"),
        b"+TCOTASET:0,\"1.0.0\"\r\n\r\nOK\r\n"
    );
}

#[test]
fn https_urls_use_certificate_tls_on_full_and_plain_http_on_port_80_on_esp8266() {
    let scratch = Scratch::new("ota-https");
    let ca = scratch.path().join("hub-ca.pem");
    let hub = Hub::start_with(&["--ca-out", &ca.display().to_string()]);
    let image: Vec<u8> = (0..70_000u32).map(|index| (index % 241) as u8).collect();
    let (id, md5) = upload(&hub, &image);

    // full: TLS to the hub's HTTPS port, verified against the hub's CA (TCAT_CA_FILE).
    let options = Options {
        environment: vec![("TCAT_CA_FILE".into(), ca.display().to_string())],
        ..Options::default()
    };
    let mut module = start_connected(&scratch, &hub, options);
    module.deadline = DOWNLOAD_DEADLINE;
    create_task_with(&hub, id, "1.0.1", ",\"scheme\":\"https\"");
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    let log = wait_for_event(&hub, &["\"kind\":\"http_request\"", "\"tls\":true"]);
    assert_eq!(ranges(&log), vec![(0, 70_000)]);
    let read = read_back(&mut module, "1.0.1", image.len(), &md5, 4_096);
    assert!(read == image, "the image read back differs");
    module.kill();

    // esp8266: the same https URL is fetched as http on port 80 (mapped to the hub's HTTP
    // port here), same host and path.
    let scratch = Scratch::new("ota-https-esp8266");
    let options = Options {
        profile: Some("esp8266"),
        environment: vec![("TCAT_PORT_MAP".into(), format!("80={}", hub.http))],
        ..Options::default()
    };
    let mut module = start_connected(&scratch, &hub, options);
    module.deadline = DOWNLOAD_DEADLINE;
    create_task_with(&hub, id, "1.0.2", ",\"scheme\":\"https\"");
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    wait_for_event(
        &hub,
        &[
            "\"kind\":\"http_request\"",
            "\"tls\":false",
            "Host: 127.0.0.1\"",
        ],
    );
    let read = read_back(&mut module, "1.0.2", image.len(), &md5, 4_096);
    assert!(read == image, "the image read back differs");
}

/// Deterministic pseudo-random numbers (xorshift) from a printed seed, so a failing run can be
/// replayed by setting `TCAT_E2E_SEED`.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[test]
fn a_download_killed_at_random_points_resumes_and_never_goes_back() {
    let seed = std::env::var("TCAT_E2E_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("OTA kill loop seed: {seed} (replay with TCAT_E2E_SEED={seed})");
    let mut random = Random(seed);
    let scratch = Scratch::new("ota-resume");
    let hub = Hub::start();
    const SIZE: usize = 900_000;
    let image: Vec<u8> = (0..SIZE as u32)
        .map(|index| (index * 13 % 256) as u8)
        .collect();
    let (id, md5) = upload(&hub, &image);
    // 8 KB every 100 ms: a checkpoint (64 KiB) about every 0.8 s, the whole image in 11 s;
    // twenty kills at most 1.5 s after ENTERUPDATE cross a few checkpoints each time and
    // rarely add up to the whole image (if they do, the loop ends early).
    set_faults(&hub, id, "{\"throttle_bps\":80000}");
    create_task(&hub, id, "1.0.1");
    let task_path = format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/ota");
    let completed = || {
        hub.admin("GET", &task_path, "")
            .1
            .contains("\"completed\":true")
    };
    let mut kills = 0;
    while kills < 20 && !completed() {
        let mut module = start_connected(&scratch, &hub, Options::default());
        module.context = format!("kill {kills} (seed {seed})");
        enable_and_enter(&mut module);
        let delay = random.below(1_500_000);
        std::thread::sleep(Duration::from_micros(delay)); // fault injection, not synchronisation
        module.kill();
        kills += 1;
    }
    set_faults(&hub, id, "{}");
    let mut module = start_connected(&scratch, &hub, Options::default());
    module.deadline = DOWNLOAD_DEADLINE;
    module.context = format!("after {kills} kills (seed {seed})");
    if !completed() {
        enable_and_enter(&mut module);
        module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    }
    let log = wait_for_event(&hub, &["\"state\":\"done\""]);
    let ranges = ranges(&log);
    assert!(
        ranges.iter().all(|&(_, end)| end == SIZE as u64),
        "{ranges:?}"
    );
    // Never back: each GET starts where the stored bytes end, at or after the one before.
    assert!(
        ranges.windows(2).all(|pair| pair[0].0 <= pair[1].0),
        "a GET started before an earlier one: {ranges:?} (seed {seed})"
    );
    assert!(
        ranges.iter().any(|&(start, _)| start > 0),
        "no GET resumed: {ranges:?} (seed {seed})"
    );
    let read = read_back(&mut module, "1.0.1", SIZE, &md5, 4_096);
    assert!(read == image, "the resumed image differs (seed {seed})");
}

/// Leaves `flash` as a power cut right after the last write of a download of `image` leaves
/// it: every byte programmed through the storage crate's writer (the module's own code path),
/// the record's count at the size, the record still "MCU image downloading".
fn cut_after_last_write(flash: &std::path::Path, image: &[u8], version: &str) {
    use storage::mock::MockFlash;
    use storage::{FirmwareInfo, FirmwareState, FirmwareWriter, Settings, Text, MCU_IMAGE_NAME};
    let bytes = std::fs::read(flash).expect("read the flash file");
    let mut settings = Settings::new(MockFlash::from_bytes(&bytes), SETTINGS_RANGE)
        .with_firmware_area(FIRMWARE_RANGE);
    let size = image.len() as u32;
    let record = |downloaded| FirmwareInfo {
        state: FirmwareState::McuDownloading,
        name: Text::from_slice(MCU_IMAGE_NAME).expect("name"),
        version: Text::from_slice(version.as_bytes()).expect("version"),
        md5: md5_of(image),
        size,
        downloaded,
        max_size: MAX_SIZE as u32,
    };
    embassy_futures::block_on(async {
        settings.store_firmware(&record(0)).await.expect("record");
        let mut writer = FirmwareWriter::fresh();
        for piece in image.chunks(1_460) {
            settings
                .write_firmware(&mut writer, piece)
                .await
                .expect("write");
        }
        settings.finish_firmware(&mut writer).await.expect("finish");
        assert_eq!(writer.stored(), size, "every byte stored");
        settings.store_firmware(&record(size)).await.expect("count");
    });
    std::fs::write(flash, settings.into_inner().as_bytes()).expect("write the flash file");
}

#[test]
fn a_power_cut_after_the_last_write_verifies_without_a_get() {
    let scratch = Scratch::new("ota-cut-last");
    let hub = Hub::start();
    let image: Vec<u8> = (0..70_000u32)
        .map(|index| (index * 7 % 251) as u8)
        .collect();
    let (id, md5) = upload(&hub, &image);
    // The device's settings first (a connected module), then the cut's flash contents.
    start_connected(&scratch, &hub, Options::default()).kill();
    cut_after_last_write(&scratch.flash(), &image, "1.0.1");
    create_task(&hub, id, "1.0.1");
    let mut module = start_connected(&scratch, &hub, Options::default());
    module.deadline = DOWNLOAD_DEADLINE;
    enable_and_enter(&mut module);
    module.expect(b"+TCOTASTATUS:UPDATESUCCESS\r\n");
    let log = wait_for_event(&hub, &["\"state\":\"done\"", "1.0.1"]);
    assert!(
        !log.contains("\"kind\":\"http_request\""),
        "the module sent a GET for an image it had whole: {log}"
    );
    let read = read_back(&mut module, "1.0.1", image.len(), &md5, 4_096);
    assert!(read == image, "the image read back differs");
}
