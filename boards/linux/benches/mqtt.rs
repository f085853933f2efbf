//! `cargo bench -p tc-at-linux --bench mqtt` (run by `cargo xtask bench`): MQTT through the
//! virtual module against a raw MQTT client, both on the same `tc-at-hub` in the same run.
//!
//! - Publish → subscriber: the time from writing `AT+TCMQTTPUB=...` (QoS0, on the device's data
//!   topic, which the hub loops back) to reading its `+TCMQTTRCVPUB` line, against the time from
//!   a raw client's PUBLISH to its own loop-back delivery. p50/p99 and the ratio.
//! - Sustained messages/s: publishes sent one after the other (the next AT line after
//!   `+TCMQTTPUB:OK`; the raw client pipelines nothing either), loop-backs counted.
//! - Inbound → URC: an admin-API publish to the device until its `+TCMQTTRCVPUB`, against the
//!   same admin publish to the raw client.
//! - Static bytes of one MQTT session (`mqtt_session::DefaultSession`).
//!
//! The hub binary comes from `TCAT_HUB_BIN` (set by `cargo xtask bench`), else it is looked for
//! next to this benchmark's module binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_session::codec::{
    decode, Connect, Packet, PacketId, Publish, QoS, Subscribe, SubscribeFilters,
    SubscriptionRequest,
};
use mqtt_session::tencent::{Authentication, ConnectionId, Identity};

const PID: &str = "BENCH00001";
const MODULE_DN: &str = "module";
const RAW_DN: &str = "raw";
const SECRET: &str = "YmVuY2hfc2VjcmV0XzEyMzQ=";
const SAMPLES: usize = 500;
const PAYLOAD: &str = "{\"temperature\":21.5,\"humidity\":40}";

fn main() {
    let hub = Hub::start();
    let mut module = ModuleProcess::start(hub.mqtt_port);
    let mut raw = RawClient::connect(hub.mqtt_port, RAW_DN);

    let data = format!("{PID}/{MODULE_DN}/data");
    module.command(
        &format!("AT+TCDEVINFOSET=0,\"{PID}\",\"{MODULE_DN}\",\"{SECRET}\""),
        "+TCDEVINFOSET:OK",
    );
    module.command("AT+TCMQTTCONN=0,5000,240,1,1", "+TCMQTTCONN:OK");
    module.command(&format!("AT+TCMQTTSUB=\"{data}\",0"), "+TCMQTTSUB:OK");
    let raw_data = format!("{PID}/{RAW_DN}/data");
    raw.subscribe(&raw_data);

    let escaped = PAYLOAD.replace('"', "\\\"").replace(',', "\\,");
    let publish_line = format!("AT+TCMQTTPUB=\"{data}\",0,\"{escaped}\"");
    let rcvpub = format!("+TCMQTTRCVPUB:\"{data}\",{},\"{PAYLOAD}\"", PAYLOAD.len());

    let mut module_latency = Vec::with_capacity(SAMPLES);
    let started = Instant::now();
    for _ in 0..SAMPLES {
        let sent = Instant::now();
        module.send(&publish_line);
        // The loop-back may come before or after the command's result (urc.md §7 item 6).
        let mut seen_message = false;
        let mut seen_result = false;
        while !(seen_message && seen_result) {
            let line = module.line();
            if line == rcvpub {
                module_latency.push(sent.elapsed());
                seen_message = true;
            } else if line == "+TCMQTTPUB:OK" {
                seen_result = true;
            }
        }
    }
    let module_rate = SAMPLES as f64 / started.elapsed().as_secs_f64();

    let mut raw_latency = Vec::with_capacity(SAMPLES);
    let started = Instant::now();
    for _ in 0..SAMPLES {
        let sent = Instant::now();
        raw.publish(&raw_data, PAYLOAD.as_bytes());
        raw.expect_message(&raw_data);
        raw_latency.push(sent.elapsed());
    }
    let raw_rate = SAMPLES as f64 / started.elapsed().as_secs_f64();

    let mut module_inbound = Vec::new();
    let mut raw_inbound = Vec::new();
    for _ in 0..50 {
        let sent = Instant::now();
        hub.admin_publish(MODULE_DN, &data);
        while !module.line().starts_with("+TCMQTTRCVPUB:") {}
        module_inbound.push(sent.elapsed());
        let sent = Instant::now();
        hub.admin_publish(RAW_DN, &raw_data);
        raw.expect_message(&raw_data);
        raw_inbound.push(sent.elapsed());
    }

    let (module_p50, module_p99) = percentiles(&mut module_latency);
    let (raw_p50, raw_p99) = percentiles(&mut raw_latency);
    let (module_in, _) = percentiles(&mut module_inbound);
    let (raw_in, _) = percentiles(&mut raw_inbound);
    let us = |duration: Duration| duration.as_secs_f64() * 1e6;
    println!("MQTT through the virtual module vs a raw MQTT client, same tc-at-hub, QoS0 loop-back, {}-byte payload", PAYLOAD.len());
    println!(
        "AT+TCMQTTPUB -> +TCMQTTRCVPUB: p50 {:.0} us, p99 {:.0} us ({SAMPLES} samples); raw client publish -> delivery: p50 {:.0} us, p99 {:.0} us; p50 ratio {:.2}",
        us(module_p50),
        us(module_p99),
        us(raw_p50),
        us(raw_p99),
        us(module_p50) / us(raw_p50)
    );
    println!(
        "sustained, one publish after the other: module {:.0} messages/s; raw client {:.0} messages/s; ratio {:.2}",
        module_rate,
        raw_rate,
        module_rate / raw_rate
    );
    println!(
        "inbound (admin publish) -> +TCMQTTRCVPUB: p50 {:.0} us; same publish to the raw client: p50 {:.0} us (50 samples, HTTP admin call included in both)",
        us(module_in),
        us(raw_in)
    );
    println!(
        "static bytes of one MQTT session (mqtt_session::DefaultSession, tx 2304 + rx 2560 buffers included): {}",
        core::mem::size_of::<mqtt_session::session::DefaultSession<fn() -> u32>>()
    );
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let p99 = (samples.len() * 99).div_ceil(100).saturating_sub(1);
    (samples[samples.len() / 2], samples[p99])
}

fn hub_binary() -> PathBuf {
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

struct Hub {
    child: Child,
    mqtt_port: u16,
    admin_port: u16,
}

impl Hub {
    fn start() -> Hub {
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
            admin_port: port("admin"),
            child,
        }
    }

    fn admin_publish(&self, dn: &str, topic: &str) {
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

struct ModuleProcess {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    _flash: TempFile,
}

impl ModuleProcess {
    fn start(hub_port: u16) -> ModuleProcess {
        let flash =
            TempFile(std::env::temp_dir().join(format!("tc-at-bench-{}.bin", std::process::id())));
        let mut child = Command::new(env!("CARGO_BIN_EXE_tc-at-module"))
            .args(["--uart", "stdio", "--flash"])
            .arg(&flash.0)
            .env("TCAT_RESOLVE", "*.tencentdevices.com=127.0.0.1")
            .env("TCAT_PORT_MAP", format!("1883={hub_port}"))
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

    fn send(&mut self, line: &str) {
        self.input.write_all(line.as_bytes()).unwrap();
        self.input.write_all(b"\r\n").unwrap();
        self.input.flush().unwrap();
    }

    /// The next line without its CR LF (payloads here contain no line breaks).
    fn line(&mut self) -> String {
        let mut line = String::new();
        assert!(
            self.output.read_line(&mut line).unwrap() > 0,
            "module closed its output"
        );
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    fn command(&mut self, line: &str, result: &str) {
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

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A plain MQTT 3.1.1 client with Tencent's HMAC login, built on the project's codec.
struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    fn connect(port: u16, dn: &str) -> RawClient {
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

    fn subscribe(&mut self, filter: &str) {
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

    fn publish(&mut self, topic: &str, payload: &[u8]) {
        self.send(&Packet::Publish(Publish {
            duplicate: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            packet_id: None,
            payload,
        }));
    }

    fn expect_message(&mut self, topic: &str) {
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
