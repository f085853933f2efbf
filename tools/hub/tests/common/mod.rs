//! Shared helpers: a hub process, an admin client, credentials and a raw MQTT client.
//!
//! Every wait is bounded (`WAIT`) and driven by output or the event log, never by sleeping.

#![allow(dead_code)]

use hmac::{Hmac, Mac};
use mqtt_session::codec::{
    decode, Connect, Packet, PacketId, Publish, QoS, Subscribe, SubscribeFilters,
    SubscriptionRequest,
};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tc_at_hub::wire::{self, Framer};

/// Upper bound of every wait in the tests.
pub const WAIT: Duration = Duration::from_secs(10);

pub const DEMO_PID: &str = "DEMO000001";
pub const DEMO_DN: &str = "demo";
pub const DEMO_SECRET: &str = "ZGVtb19zZWNyZXRfMTIzNA==";

/// A running `tc-at-hub`, killed on drop.
pub struct Hub {
    child: Child,
    pub mqtt: u16,
    pub mqtts: u16,
    pub http: u16,
    pub https: u16,
    pub admin: u16,
}

impl Hub {
    /// Starts the hub with free ports plus `extra` arguments and waits for `HUB READY`.
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tc-at-hub"))
            .args(["--mqtt-port", "0", "--mqtts-port", "0", "--admin-port", "0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tc-at-hub");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver.recv_timeout(WAIT).expect("HUB READY within 10 s");
        let json = line.trim().strip_prefix("HUB READY ").expect("ready line");
        let ports: Value = serde_json::from_str(json).unwrap();
        let port = |name: &str| ports[name].as_u64().unwrap() as u16;
        Self {
            mqtt: port("mqtt"),
            mqtts: port("mqtts"),
            http: port("http"),
            https: port("https"),
            admin: port("admin"),
            child,
        }
    }

    /// One admin request; returns status and JSON body.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.admin)).unwrap();
        stream.set_read_timeout(Some(WAIT * 7)).unwrap();
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap())
    }

    /// Waits until an event satisfies `predicate`; returns it.
    pub fn wait_event(&self, predicate: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut since = 0;
        while Instant::now() < deadline {
            let (_, events) =
                self.admin("GET", &format!("/events?since={since}&wait_ms=1000"), None);
            for event in events.as_array().unwrap() {
                since = since.max(event["seq"].as_u64().unwrap());
                if predicate(event) {
                    return event.clone();
                }
            }
        }
        panic!("no matching event within {WAIT:?}");
    }

    /// All events so far.
    pub fn events(&self) -> Vec<Value> {
        self.admin("GET", "/events", None)
            .1
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client id, user name and `;hmacsha1` password computed independently of the hub.
pub fn credentials(pid: &str, dn: &str, secret: &str) -> (String, String, String) {
    use base64::Engine as _;
    let client_id = format!("{pid}{dn}");
    let username = format!("{client_id};21010406;a1b2C;2147483647");
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret)
        .unwrap();
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&key).unwrap();
    mac.update(username.as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    (client_id, username, format!("{digest};hmacsha1"))
}

/// A mosquitto client process, killed on drop; stdout lines arrive on `lines`.
pub struct Mosquitto {
    child: Child,
    pub lines: mpsc::Receiver<String>,
    exit: mpsc::Receiver<String>,
}

impl Mosquitto {
    /// Runs `program` (mosquitto_sub / mosquitto_pub) against the hub with the given identity.
    pub fn spawn(
        program: &str,
        hub: &Hub,
        identity: &(String, String, String),
        extra: &[&str],
    ) -> Self {
        let (client_id, username, password) = identity;
        let mut arguments = vec!["-i", client_id, "-u", username, "-P", password];
        arguments.extend_from_slice(extra);
        Self::spawn_on(program, &hub.mqtt.to_string(), &arguments)
    }

    /// Runs `program` against 127.0.0.1:`port` with exactly `arguments` (identity included).
    pub fn spawn_on(program: &str, port: &str, arguments: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(["-h", "127.0.0.1", "-p", port])
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("{program} missing ({error}): apt-get install -y mosquitto-clients")
            });
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (line_sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_sender.send(line);
            }
        });
        let (exit_sender, exit) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = exit_sender.send(text);
        });
        Self { child, lines, exit }
    }

    /// Waits for the process to end; returns (success, stderr).
    pub fn wait_exit(&mut self) -> (bool, String) {
        let stderr = self
            .exit
            .recv_timeout(WAIT)
            .expect("process closed stderr within 10 s");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.success(), stderr);
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::yield_now();
        }
    }

    /// Next stdout line within [`WAIT`].
    pub fn next_line(&self) -> String {
        self.lines.recv_timeout(WAIT).expect("a line within 10 s")
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw MQTT client built on the `mqtt-session` codec.
pub struct RawClient {
    stream: TcpStream,
    framer: Framer,
    next_id: u16,
}

impl RawClient {
    pub fn open(hub: &Hub) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", hub.mqtt)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Self {
            stream,
            framer: Framer::default(),
            next_id: 1,
        }
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    pub fn send(&mut self, packet: &Packet<'_>) {
        let bytes = wire::encode(packet).unwrap();
        self.send_bytes(&bytes);
    }

    /// Next whole packet's bytes, `None` when the hub closed the connection.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(frame) = self.framer.next_frame().unwrap() {
                return Some(frame);
            }
            let mut buffer = [0u8; 4096];
            match self.stream.read(&mut buffer) {
                Ok(0) => return None,
                Ok(count) => self.framer.push(&buffer[..count]),
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("no packet and no close within {WAIT:?}")
                }
                Err(_) => return None,
            }
        }
    }

    /// Asserts the hub closes the connection (after any packets still in flight are ignored).
    pub fn expect_closed(&mut self) {
        while self.next_frame().is_some() {}
    }

    /// CONNECT with `identity`; returns the CONNACK return code, `None` if closed instead.
    pub fn connect(
        &mut self,
        client_id: &str,
        username: &str,
        password: &str,
        keep_alive: u16,
        clean: bool,
    ) -> Option<(bool, u8)> {
        self.send(&Packet::Connect(Connect {
            clean_session: clean,
            keep_alive,
            client_id,
            will: None,
            username: Some(username),
            password: Some(password.as_bytes()),
        }));
        let frame = self.next_frame()?;
        match decode(&frame).unwrap().unwrap().0 {
            Packet::ConnAck(connack) => Some((connack.session_present, connack.return_code)),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects the identity and asserts CONNACK 0.
    pub fn login(hub: &Hub, identity: &(String, String, String)) -> Self {
        let mut client = Self::open(hub);
        let result = client.connect(&identity.0, &identity.1, &identity.2, 60, true);
        assert_eq!(result, Some((false, 0)));
        client
    }

    fn packet_id(&mut self) -> PacketId {
        let id = PacketId::new(self.next_id).unwrap();
        self.next_id += 1;
        id
    }

    /// SUBSCRIBE one filter; returns the SUBACK code.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) -> u8 {
        let list = [SubscriptionRequest { filter, qos }];
        let packet_id = self.packet_id();
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: SubscribeFilters::from_list(&list),
        }));
        let frame = self.next_frame().expect("SUBACK");
        match decode(&frame).unwrap().unwrap().0 {
            Packet::SubAck(suback) => {
                assert_eq!(suback.packet_id, packet_id);
                suback.return_codes[0]
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// PUBLISH without waiting for anything; returns the packet id used for QoS 1.
    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS) -> Option<PacketId> {
        let packet_id = (qos != QoS::AtMostOnce).then(|| self.packet_id());
        self.send(&Packet::Publish(Publish {
            duplicate: false,
            qos,
            retain: false,
            topic,
            packet_id,
            payload,
        }));
        packet_id
    }

    /// Next packet, decoded into an owned summary.
    pub fn next_packet(&mut self) -> Received {
        let frame = self.next_frame().expect("a packet, not a close");
        match decode(&frame).unwrap().unwrap().0 {
            Packet::Publish(publish) => Received::Publish {
                topic: publish.topic.to_owned(),
                payload: publish.payload.to_vec(),
                qos: publish.qos,
            },
            Packet::PubAck(packet_id) => Received::PubAck(packet_id.get()),
            Packet::PingResp => Received::PingResp,
            other => Received::Other(format!("{other:?}")),
        }
    }
}

/// An owned view of a received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
    },
    PubAck(u16),
    PingResp,
    Other(String),
}

pub fn demo_identity() -> (String, String, String) {
    credentials(DEMO_PID, DEMO_DN, DEMO_SECRET)
}
