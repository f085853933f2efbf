//! `tc-at-hub app …` (the provisioning peer, `hub.md` §7) against a module over real UDP on
//! loopback. The module is the firmware's `provisioning` state machine on a real clock; its
//! internal MQTT session is a real connection to the hub with the demo device, so the hub's
//! `app_bind_token` responder records the token and the peer can see it bound.

mod common;

use common::{demo_identity, Hub, RawClient, Received as Packet, DEMO_DN, DEMO_PID};
use mqtt_session::codec::QoS;
use provisioning::{
    Action, Identity, Mode, MqttEvent, Peer, Provisioning, Received, Record, Server, WifiEvent,
};
use serde_json::json;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

const IDENTITY: Identity<'static> = Identity {
    product_id: DEMO_PID.as_bytes(),
    device_name: DEMO_DN.as_bytes(),
    region: b"ap-guangzhou",
};

/// What the simulated module saw.
#[derive(Debug, Default)]
struct Seen {
    urcs: Vec<String>,
    router: Option<(String, String)>,
}

/// The module: both UDP servers bound on loopback, the state machine started in `mode`.
struct Module {
    provisioning: Provisioning,
    server: UdpSocket,
    log: UdpSocket,
    started: Instant,
    mqtt: Option<RawClient>,
    seen: Seen,
}

fn peer(address: SocketAddr) -> Peer {
    match address {
        SocketAddr::V4(v4) => Peer {
            address: v4.ip().octets(),
            port: v4.port(),
        },
        SocketAddr::V6(_) => panic!("loopback is IPv4 here"),
    }
}

impl Module {
    fn new(mode: Mode, record: Record) -> Self {
        let bind = || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            socket
                .set_read_timeout(Some(Duration::from_millis(10)))
                .unwrap();
            socket
        };
        let mut module = Self {
            provisioning: Provisioning::new(provisioning::ErrorRecords::new()),
            server: bind(),
            log: bind(),
            started: Instant::now(),
            mqtt: None,
            seen: Seen::default(),
        };
        module.provisioning.start(mode, record, 0);
        module
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Runs until `done` holds for what was seen, or `limit` passes.
    fn run(mut self, hub: &Hub, limit: Duration, done: impl Fn(&Seen) -> bool) -> Seen {
        let mut out = [0u8; 2048];
        let mut datagram = [0u8; 256];
        while self.started.elapsed() < limit && !done(&self.seen) {
            while let Some(action) =
                self.provisioning
                    .poll(Some(&IDENTITY), self.now_ms(), &mut out)
            {
                self.act(hub, action, &out);
            }
            for server in [Server::Provisioning, Server::Log] {
                let socket = if server == Server::Log {
                    &self.log
                } else {
                    &self.server
                };
                if let Ok((length, from)) = socket.recv_from(&mut datagram) {
                    let now = self.now_ms();
                    let received = self.provisioning.datagram(
                        &IDENTITY,
                        server,
                        &datagram[..length],
                        peer(from),
                        now,
                    );
                    if let Received::Router { ssid, password } = received {
                        let text = |value: ota::Text<'_>| {
                            String::from_utf8(value.bytes().collect()).unwrap()
                        };
                        self.seen.router = Some((text(ssid), text(password)));
                    }
                }
            }
        }
        self.seen
    }

    fn act(&mut self, hub: &Hub, action: Action, out: &[u8]) {
        let now = self.now_ms();
        let text =
            |range: std::ops::Range<usize>| String::from_utf8_lossy(&out[range]).into_owned();
        match action {
            Action::Urc { length } => self.seen.urcs.push(text(0..length)),
            Action::Send { server, to, length } => {
                let socket = if server == Server::Log {
                    &self.log
                } else {
                    &self.server
                };
                socket
                    .send_to(&out[..length], SocketAddr::from((to.address, to.port)))
                    .unwrap();
            }
            Action::StartRadio(_) => self.provisioning.radio_started(Ok(()), now),
            Action::JoinRouter => self.provisioning.wifi(WifiEvent::GotIp, now),
            Action::MqttConnect => {
                self.mqtt = Some(RawClient::login(hub, &demo_identity()));
                self.provisioning.mqtt(&IDENTITY, MqttEvent::Connected, now);
            }
            Action::MqttSubscribe { length } => {
                let code = self
                    .mqtt
                    .as_mut()
                    .unwrap()
                    .subscribe(&text(0..length), QoS::AtMostOnce);
                let event = if code == 0 {
                    MqttEvent::Subscribed
                } else {
                    MqttEvent::SubscribeFailed
                };
                self.provisioning.mqtt(&IDENTITY, event, now);
            }
            Action::MqttPublish {
                topic_length,
                payload_length,
            } => {
                let client = self.mqtt.as_mut().unwrap();
                let payload = &out[topic_length..topic_length + payload_length];
                client.publish(&text(0..topic_length), payload, QoS::AtLeastOnce);
                self.provisioning
                    .mqtt(&IDENTITY, MqttEvent::PublishWritten, now);
                for _ in 0..2 {
                    let packet = self.mqtt.as_mut().unwrap().next_packet();
                    let event_now = self.now_ms();
                    match &packet {
                        Packet::PubAck(_) => {
                            self.provisioning
                                .mqtt(&IDENTITY, MqttEvent::Puback, event_now)
                        }
                        Packet::Publish { topic, payload, .. } => {
                            let message = MqttEvent::Message {
                                topic: topic.as_bytes(),
                                payload,
                            };
                            self.provisioning.mqtt(&IDENTITY, message, event_now);
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
            }
            Action::MqttDisconnect => self.mqtt = None,
            _ => {}
        }
    }
}

fn app(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tc-at-hub"))
        .arg("app")
        .args(arguments)
        .output()
        .unwrap()
}

const TOKEN: &str = "6ab82618a9d529a2ee777bf6e528a0fd";

#[test]
fn softap_provisioning_binds_the_token_in_the_hub() {
    let hub = Hub::start(&[]);
    let module = Module::new(Mode::SoftAp, Record::Device);
    let to = module.server.local_addr().unwrap().to_string();
    let admin = hub.admin.to_string();
    let arguments = [
        "softap",
        "--ssid",
        "hub-ap",
        "--password",
        "password123",
        "--token",
        TOKEN,
        "--to",
        &to,
        "--admin-port",
        &admin,
        "--wait-s",
        "20",
    ];
    let seen = thread::scope(|scope| {
        let module =
            scope.spawn(|| module.run(&hub, Duration::from_secs(30), |seen| seen.urcs.len() >= 2));
        let output = app(&arguments);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}");
        let reply = r#"received {"cmdType":2,"productId":"DEMO000001","deviceName":"demo","productRegion":"ap-guangzhou","protoVersion":"2.0"}"#;
        assert_eq!(stdout.matches(reply).count(), 3, "{stdout}");
        assert!(
            stdout.contains("device DEMO000001/demo (region ap-guangzhou) replied 3 time(s)"),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("token {TOKEN} bound to DEMO000001/demo")),
            "{stdout}"
        );
        assert!(
            !stdout.contains("password123"),
            "the router password is never printed"
        );
        module.join().unwrap()
    });
    assert_eq!(seen.router, Some(("hub-ap".into(), "password123".into())));
    assert_eq!(
        seen.urcs,
        ["+TCSAP:OK\r\n", "+TCSAP:WIFI_CONNECT_SUCCESS\r\n"]
    );
    let (_, device) = hub.admin("GET", "/devices/DEMO000001/demo", None);
    assert_eq!(device["bound_tokens"][0], TOKEN);
}

#[test]
fn a_region_fault_replies_but_never_binds() {
    let hub = Hub::start(&[]);
    let mut module = Module::new(Mode::SmartConfig, Record::Device);
    module.provisioning.radio_started(Ok(()), 0);
    module.provisioning.wifi(WifiEvent::GotIp, 0);
    let to = module.server.local_addr().unwrap().to_string();
    let admin = hub.admin.to_string();
    let arguments = [
        "smartconfig",
        "--token",
        TOKEN,
        "--region",
        "na-ashburn",
        "--to",
        &to,
        "--admin-port",
        &admin,
        "--wait-s",
        "1",
    ];
    let seen = thread::scope(|scope| {
        let module =
            scope.spawn(|| module.run(&hub, Duration::from_secs(30), |seen| seen.urcs.len() >= 2));
        let output = app(&arguments);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(!output.status.success(), "{stdout}");
        assert!(stdout.contains("replied 3 time(s)"), "{stdout}");
        assert!(
            stdout.contains("not bound to DEMO000001/demo within 1 s"),
            "{stdout}"
        );
        module.join().unwrap()
    });
    assert_eq!(
        seen.urcs.last().unwrap(),
        "+TCSTARTSMART:WIFI_CONNECT_FAILED,1,26\r\n"
    );
}

#[test]
fn logs_come_from_the_log_softap_after_a_failed_start() {
    let hub = Hub::start(&[]);
    let module = Module::new(Mode::SoftAp, Record::Missing);
    let to = module.log.local_addr().unwrap().to_string();
    let seen = thread::scope(|scope| {
        // The log server opens 3 s after the failure; the peer repeats its query every 2 s.
        let module = scope.spawn(|| module.run(&hub, Duration::from_secs(8), |_| false));
        let output = app(&["logs", "--to", &to]);
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}");
        assert_eq!(
            stdout
                .matches("|session(8): Device Info error! (27, 0)")
                .count(),
            2,
            "{stdout}"
        );
        assert!(stdout.contains("2 log answer(s)"), "{stdout}");
        module.join().unwrap()
    });
    assert_eq!(seen.urcs, ["+TCSAP:FAIL,27\r\n"]);
}

#[test]
fn nobody_listening_fails_after_five_sends() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = socket.local_addr().unwrap().to_string();
    drop(socket);
    let started = Instant::now();
    let output = app(&["logs", "--to", &to]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("0 log answer(s)"));
    assert!(started.elapsed() >= Duration::from_secs(9));
    let usage = app(&["softap", "--ssid", "x"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn the_bind_reply_fault_switch_takes_a_non_zero_code_or_clears() {
    let hub = Hub::start(&[]);
    for refused in [
        json!({"bind_reply_code": 0}),
        json!({"bind_reply_code": "24"}),
    ] {
        let (status, _) = hub.admin("PUT", "/provisioning/faults", Some(refused));
        assert_eq!(status, 400);
    }
    let (status, _) = hub.admin(
        "PUT",
        "/provisioning/faults",
        Some(json!({"bind_reply_code": 1503})),
    );
    assert_eq!(status, 200);
    let (status, _) = hub.admin("PUT", "/provisioning/faults", Some(json!({})));
    assert_eq!(status, 200);
}
