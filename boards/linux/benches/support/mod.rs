//! What the module benchmarks share: the hub and mosquitto as brokers, the module process on
//! stdio, a raw MQTT client on the project's codec, CPU and wake-up counters from `/proc`.

#![allow(dead_code)] // each benchmark uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use mqtt_session::codec::{
    decode, Connect, Packet, PacketId, Publish, QoS, Subscribe, SubscribeFilters,
    SubscriptionRequest,
};
use mqtt_session::tencent::{Authentication, ConnectionId, Identity};

pub const PID: &str = "BENCH00001";
pub const MODULE_DN: &str = "module";
pub const RAW_DN: &str = "raw";
pub const SECRET: &str = "YmVuY2hfc2VjcmV0XzEyMzQ=";

pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let p99 = (samples.len() * 99).div_ceil(100).saturating_sub(1);
    (samples[samples.len() / 2], samples[p99])
}

pub fn hub_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TCAT_HUB_BIN") {
        return PathBuf::from(path);
    }
    let module = PathBuf::from(env!("CARGO_BIN_EXE_tc-at-module"));
    let sibling = module.with_file_name("tc-at-hub");
    assert!(
        sibling.exists(),
        "build tc-at-hub first (cargo xtask bench does) or set TCAT_HUB_BIN"
    );
    sibling
}

pub struct Hub {
    child: Child,
    pub mqtt_port: u16,
    pub mqtts_port: u16,
    pub http_port: u16,
    pub admin_port: u16,
}

impl Hub {
    pub fn start() -> Hub {
        let device = |dn: &str| format!("{PID}:{dn}:{SECRET}");
        let mut child = Command::new(hub_binary())
            .args(["--mqtt-port", "0", "--mqtts-port", "0", "--admin-port", "0"])
            .args(["--device", &device(MODULE_DN), "--device", &device(RAW_DN)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tc-at-hub");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        let port = |key: &str| -> u16 {
            let start = ready
                .find(&format!("\"{key}\":"))
                .expect("port in READY line")
                + key.len()
                + 3;
            ready[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        };
        assert!(
            ready.starts_with("HUB READY "),
            "unexpected hub output {ready:?}"
        );
        Hub {
            mqtt_port: port("mqtt"),
            mqtts_port: port("mqtts"),
            http_port: port("http"),
            admin_port: port("admin"),
            child,
        }
    }

    /// One admin-API request; the status and the body of the answer.
    pub fn admin(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.admin_port)).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
            .to_owned();
        (status, body)
    }

    pub fn admin_publish(&self, dn: &str, topic: &str) {
        let body = format!("{{\"topic\":\"{topic}\",\"payload\":\"ping\"}}");
        let request = format!(
            "POST /devices/{PID}/{dn}/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.admin_port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "admin publish failed: {response}"
        );
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct ModuleProcess {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    _flash: TempFile,
}

impl ModuleProcess {
    /// Starts the module with `TCAT_PORT_MAP` = `port_map` (e.g. `1883=<port>`).
    pub fn start(port_map: &str) -> ModuleProcess {
        let flash =
            TempFile(std::env::temp_dir().join(format!("tc-at-bench-{}.bin", std::process::id())));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tc-at-module"))
            .args(["--uart", "stdio", "--flash"])
            .arg(&flash.0)
            .env("TCAT_RESOLVE", "*.tencentdevices.com=127.0.0.1")
            .env("TCAT_PORT_MAP", port_map)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tc-at-module");
        let mut module = ModuleProcess {
            input: child.stdin.take().unwrap(),
            output: BufReader::new(child.stdout.take().unwrap()),
            child,
            _flash: flash,
        };
        while module.line() != "ready" {}
        module.send("ATE0");
        while module.line() != "OK" {}
        module
    }

    /// Sends `line` and its CR LF in one write, as a UART delivers a line: two writes made the
    /// module wake up twice per line (once for the text, once for the CR LF), a cost of this
    /// harness and not of the module.
    pub fn send(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.input.write_all(&bytes).unwrap();
        self.input.flush().unwrap();
    }

    /// The next line without its CR LF (payloads here contain no line breaks).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        assert!(
            self.output.read_line(&mut line).unwrap() > 0,
            "module closed its output"
        );
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// Reads up to and including `delimiter`; the bytes before it.
    pub fn until(&mut self, delimiter: u8) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.output.read_until(delimiter, &mut bytes).unwrap();
        assert_eq!(bytes.pop(), Some(delimiter), "module closed its output");
        bytes
    }

    /// Reads exactly `buffer.len()` bytes.
    pub fn read_exact(&mut self, buffer: &mut [u8]) {
        self.output.read_exact(buffer).unwrap();
    }

    pub fn command(&mut self, line: &str, result: &str) {
        self.send(line);
        loop {
            let answer = self.line();
            if answer == result {
                return;
            }
            assert!(
                !answer.contains("FAIL") && !answer.contains("ERROR"),
                "{line} -> {answer}"
            );
        }
    }
}

impl Drop for ModuleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A plain MQTT 3.1.1 client with Tencent's HMAC login, built on the project's codec.
pub struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    pub fn connect(port: u16, dn: &str) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_nodelay(true).unwrap();
        let identity = Identity::new(PID, dn, SECRET, Authentication::HmacSha1).unwrap();
        let fields = identity.connect_fields(ConnectionId::new("bench").unwrap());
        let client_id = format!("{PID}{dn}");
        let connect = Packet::Connect(Connect {
            clean_session: true,
            keep_alive: 240,
            client_id: &client_id,
            will: None,
            username: Some(fields.username.as_str()),
            password: fields.password.as_ref().map(|password| password.as_bytes()),
        });
        let mut client = RawClient {
            stream,
            buffer: Vec::new(),
        };
        client.send(&connect);
        match client.next_packet() {
            (0x20, body) if body == [0, 0] => client,
            other => panic!("raw client refused: {other:?}"),
        }
    }

    fn send(&mut self, packet: &Packet<'_>) {
        let mut bytes = vec![0; packet.encoded_length()];
        packet.encode(&mut bytes).unwrap();
        self.stream.write_all(&bytes).unwrap();
    }

    pub fn subscribe(&mut self, filter: &str) {
        let requests = [SubscriptionRequest {
            filter,
            qos: QoS::AtMostOnce,
        }];
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            filters: SubscribeFilters::from_list(&requests),
        });
        self.send(&subscribe);
        assert_eq!(self.next_packet().0, 0x90, "expected SUBACK");
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8]) {
        self.send(&Packet::Publish(Publish {
            duplicate: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            packet_id: None,
            payload,
        }));
    }

    pub fn expect_message(&mut self, topic: &str) {
        loop {
            let (header, body) = self.next_packet();
            if header & 0xF0 == 0x30 && body.get(2..2 + topic.len()) == Some(topic.as_bytes()) {
                return;
            }
        }
    }

    /// The next packet's first byte and its body, read whole.
    fn next_packet(&mut self) -> (u8, Vec<u8>) {
        loop {
            if let Ok(Some((packet, used))) = decode(&self.buffer) {
                let header = self.buffer[0];
                let start = used - packet_body_length(&packet, used, &self.buffer);
                let body = self.buffer[start..used].to_vec();
                self.buffer.drain(..used);
                return (header, body);
            }
            let mut chunk = [0u8; 4096];
            let count = self.stream.read(&mut chunk).unwrap();
            assert!(count > 0, "hub closed the raw client");
            self.buffer.extend_from_slice(&chunk[..count]);
        }
    }
}

/// Length of the variable header + payload of a decoded packet of `used` bytes.
fn packet_body_length(_: &Packet<'_>, used: usize, buffer: &[u8]) -> usize {
    // Skip the fixed header: one type byte and 1..4 remaining-length bytes.
    let length_bytes = buffer[1..]
        .iter()
        .take_while(|byte| **byte & 0x80 != 0)
        .count()
        + 1;
    used - 1 - length_bytes
}

impl ModuleProcess {
    /// The module's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Debian's mosquitto on a free loopback port with `set_tcp_nodelay true`, killed on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    config: TempFile,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let config = TempFile(
            std::env::temp_dir().join(format!("tc-at-bench-{}-mosquitto.conf", std::process::id())),
        );
        std::fs::write(
            &config.0,
            format!(
                "per_listener_settings false\nallow_anonymous true\npersistence false\nuser root\n\
                 set_tcp_nodelay true\nlog_dest stderr\nlistener {port} 127.0.0.1\n"
            ),
        )
        .expect("write mosquitto.conf");
        let mut child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&config.0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto");
        let stderr = BufReader::new(child.stderr.take().expect("mosquitto stderr"));
        let mut lines = stderr.lines();
        // The broker logs " running" once its listener is open.
        for line in lines.by_ref() {
            if line.map(|line| line.contains(" running")).unwrap_or(false) {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Mosquitto {
            child,
            port,
            config,
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) of process `pid`, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

/// Context switches of every thread of process `pid` (voluntary + involuntary): each one is
/// a wake-up of a thread that had gone to sleep or been preempted.
pub fn context_switches(pid: u32) -> u64 {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let mut total = 0;
    for task in std::fs::read_dir(tasks).expect("read task list").flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        total += status
            .lines()
            .filter(|line| line.contains("ctxt_switches:"))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    total
}
