//! `cargo bench -p tc-at-linux --bench ota` (run by `cargo xtask bench`): OTA through the
//! virtual module against `curl`, both from the same `tc-at-hub` file server in the same run.
//!
//! - Download: a 900,000-byte image pushed as an MCU update task; the module's time from
//!   `+TCOTASTATUS:ENTERUPDATE` to `UPDATESUCCESS` (connect, GET, every byte programmed into
//!   the flash file, the MD5 pass over the stored image) against `curl` fetching the task's
//!   URL to `/dev/null` (connect, GET, body). Seven rounds each, alternating; medians and the
//!   throughput ratio (the goal is at least 0.90). Once on the unthrottled loopback, where
//!   curl only copies memory while the module also programs the flash file and hashes the
//!   stored image, and once (three rounds) with the server throttled to a link rate of
//!   160 KB/s, which shows whether the module keeps up with its link. On the loopback a
//!   second baseline does the module's work: curl writing the body to a file, then the file
//!   read back and hashed with the same MD5 code (`ota::ImageDigest`, in this process: an
//!   `md5sum` process would add its start-up to a millisecond-sized figure). A third figure
//!   is the MD5 of the image alone, in memory, with that code: no module that verifies the
//!   image's MD5 before `UPDATESUCCESS` (`cloud.md` §4) can beat curl by more than
//!   curl's time / this time, however well it overlapped hashing with the transfer, so the
//!   bench prints that ceiling beside the measured ratio.
//! - Read-back: `AT+TCFWINFO?` and an `AT+TCREADFWDATA=4096` loop over the whole image on the
//!   module's stdio, its wall time and bytes/s; the bytes must hash to the pushed MD5. The
//!   same transfer on a real UART is bounded by the baud rate, printed beside it.
//!
//! The hub binary comes from `TCAT_HUB_BIN` (set by `cargo xtask bench`), else it is looked for
//! next to this benchmark's module binary.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Hub, ModuleProcess, MODULE_DN, PID, SECRET};

const SIZE: usize = 900_000;
const ROUNDS: usize = 7;
const CHUNK: usize = 4_096;

fn main() {
    let hub = Hub::start();
    let image: Vec<u8> = (0..SIZE as u32)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (status, answer) = hub.admin("POST", "/files", &image);
    assert_eq!(status, 200, "upload answered {answer}");
    let id = number(&answer, "id");
    let md5 = hex(&md5_of(&image));
    assert!(answer.contains(&md5), "the hub's MD5 differs: {answer}");

    let mut module = ModuleProcess::start(&format!("1883={}", hub.mqtt_port));
    module.command(
        &format!("AT+TCDEVINFOSET=0,\"{PID}\",\"{MODULE_DN}\",\"{SECRET}\""),
        "+TCDEVINFOSET:OK",
    );
    module.command("AT+TCMQTTCONN=0,5000,240,1,1", "+TCMQTTCONN:OK");

    let task_path = format!("/devices/{PID}/{MODULE_DN}/ota");
    let mut round = 0;
    let mut version = String::new();
    // Unthrottled (loopback: what the module's own path costs), then at a link rate of
    // 160 KB/s (the hub's throttle sends 16,000 bytes every 100 ms): does the module keep up
    // with its link? Three rounds there, each takes over 5 s.
    for (throttle, rounds) in [(None, ROUNDS), (Some(160_000), 3)] {
        let faults = throttle.map_or_else(
            || "{}".to_owned(),
            |bps| format!("{{\"throttle_bps\":{bps}}}"),
        );
        let (status, answer) = hub.admin("PUT", &format!("/files/{id}/faults"), faults.as_bytes());
        assert_eq!(status, 200, "faults answered {answer}");
        let mut module_times = Vec::new();
        let mut curl_times = Vec::new();
        let mut stored_times = Vec::new();
        let mut hash_times = Vec::new();
        for _ in 0..rounds {
            version = format!("2.0.{round}");
            round += 1;
            let body = format!("{{\"file_id\":{id},\"version\":\"{version}\"}}");
            let (status, task) = hub.admin("POST", &task_path, body.as_bytes());
            assert_eq!(status, 200, "task creation answered {task}");
            let url = text(&task, "url");
            module_times.push(module_download(&mut module));
            curl_times.push(curl_download(&url, "/dev/null"));
            if throttle.is_none() {
                stored_times.push(curl_store_and_hash(&url, &md5));
                hash_times.push(hash_only(&image));
            }
        }
        let module_time = median(&mut module_times);
        let curl_time = median(&mut curl_times);
        let rate = |time: Duration| SIZE as f64 / time.as_secs_f64() / 1e6;
        let link = throttle.map_or_else(
            || "unthrottled loopback".to_owned(),
            |bps| format!("server throttled to {:.0} KB/s", bps as f64 / 1e3),
        );
        println!(
            "\nOTA download of {SIZE} bytes from the hub's HTTP file server, {link}, {rounds} rounds each, medians"
        );
        println!(
            "module ENTERUPDATE -> UPDATESUCCESS (GET, flash writes, MD5 pass): {:.1} ms, {:.2} MB/s; curl to /dev/null: {:.1} ms, {:.2} MB/s; throughput ratio module/curl {:.2}",
            module_time.as_secs_f64() * 1e3,
            rate(module_time),
            curl_time.as_secs_f64() * 1e3,
            rate(curl_time),
            curl_time.as_secs_f64() / module_time.as_secs_f64()
        );
        if !stored_times.is_empty() {
            let stored_time = median(&mut stored_times);
            println!(
                "curl to a file, then the file read back and MD5-hashed (the module's work): {:.1} ms, {:.2} MB/s; throughput ratio module/(curl + file + MD5) {:.2}",
                stored_time.as_secs_f64() * 1e3,
                rate(stored_time),
                stored_time.as_secs_f64() / module_time.as_secs_f64()
            );
            let hash_time = median(&mut hash_times);
            println!(
                "MD5 of the image alone, in memory (the module's digest code): {:.1} ms, {:.2} MB/s; ceiling of module/curl for any module that verifies the MD5: {:.2}",
                hash_time.as_secs_f64() * 1e3,
                rate(hash_time),
                curl_time.as_secs_f64() / hash_time.as_secs_f64()
            );
        }
    }
    read_back(&mut module, &version, &md5);
}

/// `AT+TCOTASET=1` until `UPDATESUCCESS`; the time from `ENTERUPDATE`.
fn module_download(module: &mut ModuleProcess) -> Duration {
    module.send("AT+TCOTASET=1,\"1.0.0\"");
    let mut entered = None;
    loop {
        let line = module.line();
        match line.as_str() {
            "+TCOTASTATUS:ENTERUPDATE" => entered = Some(Instant::now()),
            "+TCOTASTATUS:UPDATESUCCESS" => break,
            _ => assert!(!line.contains("FAIL"), "the download failed: {line}"),
        }
    }
    entered
        .expect("UPDATESUCCESS without ENTERUPDATE")
        .elapsed()
}

/// `curl` fetching `url` into `output` (a file name); its own measure of the whole transfer.
fn curl_download(url: &str, output: &str) -> Duration {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--output", output])
        .args(["--write-out", "%{http_code} %{size_download} %{time_total}"])
        .arg(url)
        .output()
        .expect("run curl (Debian package curl)");
    let answer = String::from_utf8_lossy(&output.stdout).into_owned();
    let fields: Vec<&str> = answer.split(' ').collect();
    assert!(
        output.status.success() && fields.len() == 3 && fields[0] == "200",
        "curl answered {answer:?} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(fields[1], SIZE.to_string(), "curl received a short body");
    Duration::from_secs_f64(fields[2].parse().expect("curl's time_total"))
}

/// `curl` storing `url`'s body in a file, plus reading the file back and hashing it: the
/// same work as the module's download (store every byte, one MD5 pass over what is stored).
fn curl_store_and_hash(url: &str, md5: &str) -> Duration {
    let path = std::env::temp_dir().join(format!("tc-at-ota-bench-{}.bin", std::process::id()));
    let name = path.to_str().expect("a UTF-8 temporary path");
    let transfer = curl_download(url, name);
    let started = Instant::now();
    let stored = std::fs::read(&path).expect("read curl's file");
    let digest = md5_of(&stored);
    let hashing = started.elapsed();
    assert_eq!(hex(&digest), md5, "curl stored different bytes");
    std::fs::remove_file(&path).expect("remove curl's file");
    transfer + hashing
}

/// The MD5 of `image` alone, in memory: the least work a verifying download does beyond the
/// transfer.
fn hash_only(image: &[u8]) -> Duration {
    let started = Instant::now();
    let digest = md5_of(std::hint::black_box(image));
    let elapsed = started.elapsed();
    std::hint::black_box(digest);
    elapsed
}

/// The MCU's read-back over AT: `AT+TCFWINFO?`, then `AT+TCREADFWDATA=4096` to the end.
fn read_back(module: &mut ModuleProcess, version: &str, md5: &str) {
    let started = Instant::now();
    module.command(
        "AT+TCFWINFO?",
        &format!("+TCFWINFO:\"{version}\",{SIZE},\"{md5}\",909312"),
    );
    let mut digest = ota::ImageDigest::new();
    let mut piece = vec![0u8; CHUNK];
    let mut wire_bytes = 0;
    let mut read = 0;
    while read < SIZE {
        let line = format!("AT+TCREADFWDATA={CHUNK}");
        module.send(&line);
        assert_eq!(module.line(), "OK");
        let head = module.until(b',');
        let count: usize = std::str::from_utf8(&head)
            .ok()
            .and_then(|head| head.strip_prefix("+TCREADFWDATA:"))
            .and_then(|count| count.parse().ok())
            .unwrap_or_else(|| panic!("unexpected {:?}", String::from_utf8_lossy(&head)));
        module.read_exact(&mut piece[..count]);
        digest.update(&piece[..count]);
        assert_eq!(module.line(), "", "no CR LF after the data");
        read += count;
        // The MCU waits for each answer before its next command: the two directions add up.
        wire_bytes += line.len() + 2 + 4 + head.len() + 1 + count + 2;
    }
    let elapsed = started.elapsed();
    assert_eq!(hex(&digest.finish()), md5, "the image read back differs");
    let baud_time = |baud: f64| wire_bytes as f64 * 10.0 / baud;
    println!(
        "MCU read-back of the {SIZE}-byte image over AT (AT+TCFWINFO? then AT+TCREADFWDATA={CHUNK} x {}): {:.1} ms on stdio ({:.1} MB/s); the same {wire_bytes} bytes on a UART take at least {:.1} s at 115200 baud, {:.1} s at 921600",
        SIZE.div_ceil(CHUNK),
        elapsed.as_secs_f64() * 1e3,
        SIZE as f64 / elapsed.as_secs_f64() / 1e6,
        baud_time(115_200.0),
        baud_time(921_600.0)
    );
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn number(json: &str, key: &str) -> u64 {
    let start = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + key.len()
        + 3;
    json[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

fn text(json: &str, key: &str) -> String {
    json.split(&format!("\"{key}\":\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        .to_owned()
}

fn md5_of(bytes: &[u8]) -> [u8; 16] {
    let mut digest = ota::ImageDigest::new();
    digest.update(bytes);
    digest.finish()
}

fn hex(digest: &[u8; 16]) -> String {
    String::from_utf8(ota::to_hex(digest).to_vec()).expect("hex")
}
