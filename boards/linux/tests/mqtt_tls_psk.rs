//! End to end over TLS mode 1 (TLS-PSK, `cloud.md` §1.2) against a real peer: Debian's
//! `mosquitto` with a PSK listener stands in for IoT Hub on port 8883, reached through
//! `TCAT_RESOLVE` and `TCAT_PORT_MAP` (`hub.md` §1). A second, plain listener lets
//! `mosquitto_pub` inject messages without a PSK of its own.
//!
//! mosquitto checks the identity (`<pid><dn>`) and the key (the Base64-decoded secret) during
//! the handshake, so a session that gets `+TCMQTTCONN:OK` here proves both were right.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::mosquitto::{free_port, publish, Mosquitto};
use common::{Module, Options, Scratch, Uart, DEFAULT_DEADLINE};

const TOPIC: &str = "PID0000001/dev1/data";
/// The PSK identity mosquitto expects: `<product id><device name>`.
const IDENTITY: &str = "PID0000001dev1";
/// The key bytes 0x00..=0x0f ...
const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
/// ... and the device secret that decodes to them.
const SECRET: &str = "AAECAwQFBgcICQoLDA0ODw==";
/// A valid secret for another key (0xff repeated 16 times).
const WRONG_SECRET: &str = "/////////////////////w==";

/// A broker with a TLS-PSK listener and a plain one.
struct Broker {
    _process: Mosquitto,
    psk_port: u16,
    plain_port: u16,
}

impl Broker {
    fn start(scratch: &Path) -> Broker {
        Broker::start_on(scratch, free_port(), free_port())
    }

    /// Starts mosquitto on the given ports.
    fn start_on(scratch: &Path, psk_port: u16, plain_port: u16) -> Broker {
        let psk_file = scratch.join("psk.txt");
        let key: String = KEY.iter().map(|byte| format!("{byte:02x}")).collect();
        std::fs::write(&psk_file, format!("{IDENTITY}:{key}\n")).expect("write psk file");
        let process = Mosquitto::start(
            scratch,
            &format!(
                "listener {psk_port} 127.0.0.1\npsk_hint hint\npsk_file {psk}\n\
                 use_identity_as_username false\ntls_version tlsv1.2\n\
                 ciphers PSK-AES128-CBC-SHA:PSK-AES256-CBC-SHA\n\
                 listener {plain_port} 127.0.0.1\n",
                psk = psk_file.display(),
            ),
        );
        Broker {
            _process: process,
            psk_port,
            plain_port,
        }
    }

    /// Publishes one message from another client through the plain listener.
    fn publish(&self, topic: &str, payload: &str) {
        publish(self.plain_port, topic, payload);
    }
}

/// A module whose port 8883 leads to the broker's PSK listener (and 1883 to its plain one),
/// with a mode-1 device record holding `secret`.
fn start_module(scratch: &Scratch, broker: &Broker, secret: &str) -> Module {
    start_module_with_profile(scratch, broker, secret, None)
}

/// [`start_module`] with a capability profile (`--profile`).
fn start_module_with_profile(
    scratch: &Scratch,
    broker: &Broker,
    secret: &str,
    profile: Option<&'static str>,
) -> Module {
    let options = Options {
        profile,
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            (
                "TCAT_PORT_MAP".into(),
                format!("8883={},1883={}", broker.psk_port, broker.plain_port),
            ),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(format!("AT+TCDEVINFOSET=1,\"PID0000001\",\"dev1\",\"{secret}\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module
}

/// Reads the next two lines, which must be `first` and `second` in either order (`urc.md` §7
/// rule 6: a loop-back message may precede its publish's result).
fn expect_lines_in_any_order(module: &mut Module, first: &[u8], second: &[u8]) {
    let lines = [module.read_line(), module.read_line()];
    let wanted = [first.to_vec(), second.to_vec()];
    let reversed = [second.to_vec(), first.to_vec()];
    if lines != wanted && lines != reversed {
        module.fail(&format!(
            "expected {:?} and {:?} in any order, got {:?}",
            String::from_utf8_lossy(first),
            String::from_utf8_lossy(second),
            lines
                .iter()
                .map(|line| String::from_utf8_lossy(line))
                .collect::<Vec<_>>()
        ));
    }
}

#[test]
fn tls_psk_session_connects_subscribes_loops_back_qos1_and_disconnects() {
    let scratch = Scratch::new("mqtt-tls-psk");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker, SECRET);

    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");

    module.send(format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");

    // QoS 1 loop-back: the exact bytes come back, escapes removed.
    module.send(
        format!("AT+TCMQTTPUB=\"{TOPIC}\",1,\"{{\\\"t\\\":25\\,\\\"h\\\":60}}\"\r\n").as_bytes(),
    );
    module.expect(b"OK\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{TOPIC}\",15,\"{{\"t\":25,\"h\":60}}\"").as_bytes(),
        b"+TCMQTTPUB:OK",
    );

    // A message from a client on the plain listener arrives through the TLS link.
    broker.publish(TOPIC, "over tls");
    module.expect(format!("+TCMQTTRCVPUB:\"{TOPIC}\",8,\"over tls\"\r\n").as_bytes());

    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    // After a disconnect the buffers are lent to a new handshake.
    module.send(b"AT+TCMQTTCONN=1,5000,240,1,0\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.expect_quiet(false);
}

#[test]
fn wrong_key_fails_the_handshake_with_703() {
    let scratch = Scratch::new("mqtt-tls-psk-wrong-key");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker, WRONG_SECRET);

    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-703\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    module.expect_quiet(false);
}

#[test]
fn undecodable_secret_fails_with_1002_before_any_connection() {
    let scratch = Scratch::new("mqtt-tls-psk-bad-base64");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker, "not-base64!");

    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-1002\r\n");
    module.expect_quiet(false);
}

#[test]
fn plain_mqtt_to_the_psk_port_is_not_what_mode_1_sends() {
    // Mode 1 against a listener that speaks plain MQTT on 8883: the broker drops the
    // ClientHello as a malformed packet, so the handshake fails (-703); mode 1 never falls
    // back to plain MQTT.
    let scratch = Scratch::new("mqtt-tls-psk-plain-peer");
    let broker = Broker::start(scratch.path());
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            (
                "TCAT_PORT_MAP".into(),
                format!("8883={}", broker.plain_port),
            ),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(format!("AT+TCDEVINFOSET=1,\"PID0000001\",\"dev1\",\"{SECRET}\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-703\r\n");
    module.expect_quiet(false);
}

#[test]
fn reconnect_after_broker_restart_repeats_the_tls_handshake() {
    let scratch = Scratch::new("mqtt-tls-psk-reconnect");
    let broker = Broker::start(scratch.path());
    let (psk_port, plain_port) = (broker.psk_port, broker.plain_port);
    let mut module = start_module(&scratch, &broker, SECRET);

    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");

    drop(broker);
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    module.expect_within(b"+TCMQTTRECONNECTING\r\n", Duration::from_secs(7));
    let broker = Broker::start_on(scratch.path(), psk_port, plain_port);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        module.deadline = until.saturating_duration_since(Instant::now());
        let line = module.read_line();
        match line.as_slice() {
            b"+TCMQTTRECONNECTING" => continue,
            b"+TCMQTTRECONNECTED" => break,
            other => module.fail(&format!(
                "expected +TCMQTTRECONNECTING or +TCMQTTRECONNECTED, got {:?}",
                String::from_utf8_lossy(other)
            )),
        }
    }
    module.deadline = DEFAULT_DEADLINE;
    // The PSK listener only accepts TLS-PSK: the restored subscription proves the handshake.
    broker.publish(TOPIC, "after reconnect");
    module.expect(format!("+TCMQTTRCVPUB:\"{TOPIC}\",15,\"after reconnect\"\r\n").as_bytes());
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.expect_quiet(false);
}

#[test]
fn esp8266_profile_connects_with_tls_psk_and_refuses_other_modes() {
    let scratch = Scratch::new("mqtt-tls-psk-esp8266");
    let broker = Broker::start(scratch.path());
    let mut module = start_module_with_profile(&scratch, &broker, SECRET, Some("esp8266"));

    for mode in [0, 2] {
        module.send(format!("AT+TCMQTTCONN={mode},5000,240,1,1\r\n").as_bytes());
        module.expect(b"+CME ERROR:204\r\n");
    }
    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.expect_quiet(false);
}
