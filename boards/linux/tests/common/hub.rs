//! A `tc-at-hub` process for end-to-end tests, and a tiny client for its admin API.
//!
//! The hub is a binary of another package, so cargo does not build it for this package's
//! tests and gives no `CARGO_BIN_EXE_` for it. A workspace build (`cargo xtask test`,
//! `cargo test --workspace`) puts it next to `tc-at-module`; a lone `cargo test -p tc-at-linux`
//! gets it built here, once per test process, by the same cargo into the same target
//! directory. The admin API is HTTP/1.1 with one request per connection, so a few lines over a
//! `TcpStream` replace an HTTP client dependency; answers are checked as text, which is enough
//! for the few fields the tests read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};

use super::START_DEADLINE;
use std::time::Duration;

/// How long the hub may take to report `HUB READY`: it generates its test CA and server key at
/// every start, which a starved process (a CI machine running other builds) can stretch far
/// beyond a module's start. A deadline for a failure only: a hub that is up goes on at once.
const HUB_START_DEADLINE: Duration = Duration::from_secs(60);

/// The hub's built-in demo device (`tools/hub/README.md`).
pub const DEMO_PRODUCT: &str = "DEMO000001";
/// Device name of the demo device.
pub const DEMO_DEVICE: &str = "demo";
/// Base64 secret of the demo device.
pub const DEMO_SECRET: &str = "ZGVtb19zZWNyZXRfMTIzNA==";

/// A running hub on free loopback ports, killed (by its own id) when dropped.
pub struct Hub {
    child: Child,
    /// Plain MQTT port.
    pub mqtt: u16,
    /// MQTT over TLS port (PSK and certificate suites).
    pub mqtts: u16,
    /// Admin API port.
    pub admin: u16,
    /// OTA file server and registration endpoint over plain HTTP.
    pub http: u16,
    /// The same over HTTPS, with the hub's server certificate.
    pub https: u16,
}

impl Hub {
    /// Starts the hub with the demo device and waits for its `HUB READY` line.
    pub fn start() -> Hub {
        Hub::start_with(&[])
    }

    /// Starts the hub on free ports with extra `arguments` (`--registry`, `--ca-out`, ...).
    pub fn start_with(arguments: &[&str]) -> Hub {
        let mut child = Command::new(hub_binary())
            .args(["--mqtt-port", "0", "--mqtts-port", "0", "--admin-port", "0"])
            .args(arguments)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tc-at-hub");
        let stdout = child.stdout.take().expect("hub stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = sender.send(line);
            // Keep the pipe drained so the hub never blocks on a write.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = receiver
            .recv_timeout(HUB_START_DEADLINE)
            .unwrap_or_else(|error| {
                // A hub that never got ready must not outlive the failed test.
                let _ = child.kill();
                let _ = child.wait();
                panic!("no HUB READY line within the start deadline: {error}")
            });
        let ready = line
            .trim_end()
            .strip_prefix("HUB READY ")
            .unwrap_or_else(|| panic!("first hub stdout line is not `HUB READY {{…}}`: {line:?}"));
        let port = |key: &str| {
            json_number(ready, key)
                .and_then(|number| u16::try_from(number).ok())
                .unwrap_or_else(|| panic!("no `{key}` port in {ready:?}"))
        };
        Hub {
            mqtt: port("mqtt"),
            mqtts: port("mqtts"),
            admin: port("admin"),
            http: port("http"),
            https: port("https"),
            child,
        }
    }

    /// One admin request; returns the status code and the body text.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.admin)).expect("connect admin");
        stream
            .set_read_timeout(Some(START_DEADLINE))
            .expect("admin read timeout");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send admin request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read admin answer");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP answer: {response:?}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status code in {head:?}"));
        (status, body.to_owned())
    }

    /// Publishes `payload` (plain text without quotes or backslashes) to the demo device at
    /// QoS 0 as the cloud; returns how many subscriptions it was delivered to.
    pub fn publish(&self, topic: &str, payload: &str) -> u64 {
        let (status, body) = self.admin(
            "POST",
            &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/publish"),
            &format!("{{\"topic\":\"{topic}\",\"payload\":\"{payload}\"}}"),
        );
        assert_eq!(status, 200, "admin publish answered {body}");
        json_number(&body, "delivered").unwrap_or_else(|| panic!("no `delivered` in {body}"))
    }

    /// Closes the demo device's connection (no DISCONNECT); with `refuse_s`, its CONNECTs are
    /// then closed before CONNACK for that many seconds.
    pub fn kick(&self, refuse_s: Option<u32>) {
        let body = refuse_s.map_or_else(
            || "{}".to_owned(),
            |seconds| format!("{{\"refuse_s\":{seconds}}}"),
        );
        let (status, answer) = self.admin(
            "POST",
            &format!("/devices/{DEMO_PRODUCT}/{DEMO_DEVICE}/kick"),
            &body,
        );
        assert_eq!(status, 200, "admin kick answered {answer}");
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The unsigned integer value of `"key":` in a flat JSON text.
pub fn json_number(json: &str, key: &str) -> Option<u64> {
    let pattern = format!("\"{key}\":");
    let start = json.find(&pattern)? + pattern.len();
    let digits: String = json[start..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The `tc-at-hub` executable, built on first use when the workspace build did not make it.
pub fn hub_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let module = Path::new(env!("CARGO_BIN_EXE_tc-at-module"));
            let profile_directory = module.parent().expect("module binary directory");
            let binary = profile_directory.join("tc-at-hub");
            if !binary.is_file() {
                build_hub(profile_directory);
            }
            assert!(binary.is_file(), "{} was not built", binary.display());
            binary
        })
        .clone()
}

/// Builds the hub into `profile_directory` (`<target>/<profile>`), the module's own.
fn build_hub(profile_directory: &Path) {
    let target = profile_directory.parent().expect("target directory");
    let profile = match profile_directory.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let status = Command::new(env!("CARGO"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args([
            "build",
            "--locked",
            "--package",
            "tc-at-hub",
            "--bin",
            "tc-at-hub",
        ])
        .arg("--profile")
        .arg(profile)
        .arg("--target-dir")
        .arg(target)
        .status()
        .expect("run cargo build -p tc-at-hub");
    assert!(status.success(), "cargo build -p tc-at-hub failed");
}
