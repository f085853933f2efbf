//! End to end against a real MQTT broker: Debian's `mosquitto` stands in for IoT Hub over plain
//! TCP (TLS mode 0), reached through `TCAT_RESOLVE` and `TCAT_PORT_MAP` (`hub.md` §1). The
//! broker accepts any credentials, so this checks the AT side and the MQTT traffic, not the
//! Tencent password (the vector tests of `mqtt-session` do that).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::mosquitto::{free_port, publish, Mosquitto};
use common::{Module, Options, Scratch, Uart, DEFAULT_DEADLINE};

const TOPIC: &str = "PID0000001/dev1/data";

/// A broker process, killed (by its own id) when dropped.
struct Broker {
    _process: Mosquitto,
    port: u16,
}

impl Broker {
    /// Starts mosquitto on a free loopback port.
    fn start(scratch: &Path) -> Broker {
        Broker::start_on(scratch, free_port())
    }

    /// Starts mosquitto on `port` (a restart after [`Broker`] was dropped).
    fn start_on(scratch: &Path, port: u16) -> Broker {
        let process = Mosquitto::start(scratch, &format!("listener {port} 127.0.0.1\n"));
        Broker {
            _process: process,
            port,
        }
    }

    /// Publishes one message from another client with `mosquitto_pub`.
    fn publish(&self, topic: &str, payload: &str) {
        publish(self.port, topic, payload);
    }
}

fn start_module(scratch: &Scratch, broker: &Broker) -> Module {
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            ("TCAT_PORT_MAP".into(), format!("1883={}", broker.port)),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(b"AT+TCDEVINFOSET=0,\"PID0000001\",\"dev1\",\"k3Zq8cB1vP+Lx0T2mY9wRg==\"\r\n");
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
fn session_with_a_real_broker_publishes_subscribes_and_disconnects() {
    let scratch = Scratch::new("mqtt-mosquitto");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker);

    module.send(b"AT+TCMQTTCONN=0,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(b"AT+TCMQTTCONN?\r\n");
    module.expect(b"+TCMQTTCONN:0,5000,240,1,1\r\n\r\nOK\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");
    // A second connect while RUN is refused at once.
    module.send(b"AT+TCMQTTCONN=0,5000,240,1,1\r\n");
    module.expect(b"+CME ERROR:208\r\n");

    module.send(format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");
    module.send(b"AT+TCMQTTSUB?\r\n");
    module.expect(format!("+TCMQTTSUB:\"{TOPIC}\",1\r\n\r\nOK\r\n").as_bytes());

    // QoS 0: the result once written, then the loop-back message.
    module.send(format!("AT+TCMQTTPUB=\"{TOPIC}\",0,\"hello\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTPUB:OK\r\n");
    module.expect(format!("+TCMQTTRCVPUB:\"{TOPIC}\",5,\"hello\"\r\n").as_bytes());

    // QoS 1 with an escaped comma and quotes: the payload arrives unescaped.
    module.send(
        format!("AT+TCMQTTPUB=\"{TOPIC}\",1,\"{{\\\"a\\\":1\\,\\\"b\\\":2}}\"\r\n").as_bytes(),
    );
    module.expect(b"OK\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{TOPIC}\",13,\"{{\"a\":1,\"b\":2}}\"").as_bytes(),
        b"+TCMQTTPUB:OK",
    );

    // A message from another client.
    broker.publish(TOPIC, "from outside");
    module.expect(format!("+TCMQTTRCVPUB:\"{TOPIC}\",12,\"from outside\"\r\n").as_bytes());

    module.send(b"AT+TCMQTTUNSUB=\"PID0000001/dev1/other\"\r\n");
    module.expect(b"OK\r\n+TCMQTTUNSUB:FAIL,-121\r\n");
    module.send(format!("AT+TCMQTTUNSUB=\"{TOPIC}\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTUNSUB:OK\r\n");
    module.send(b"AT+TCMQTTSUB?\r\n");
    module.expect(b"\r\nOK\r\n");

    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"+CME ERROR:208\r\n");
    module.send(format!("AT+TCMQTTPUB=\"{TOPIC}\",0,\"late\"\r\n").as_bytes());
    module.expect(b"+CME ERROR:208\r\n");
    module.expect_quiet(false);
}

#[test]
fn broker_loss_without_reconnect_ends_the_session_with_discon_103() {
    let scratch = Scratch::new("mqtt-mosquitto-kill");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker);

    module.send(b"AT+TCMQTTCONN=0,5000,240,1,0\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    drop(broker);
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    // RUN is false again: a new connect is accepted and fails at TCP (nobody listens).
    module.send(b"AT+TCMQTTCONN=0,5000,240,1,0\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-603\r\n");
    module.expect_quiet(false);
}

#[test]
fn connect_checks_come_in_the_spec_order() {
    let scratch = Scratch::new("mqtt-checks");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker);
    let cases: [(&[u8], &[u8]); 7] = [
        (
            b"AT+TCMQTTCONN=\"0\",5000,240,1,1\r\n",
            b"ERR CODE:0x01050000\r\n\r\nERROR\r\n",
        ),
        (b"AT+TCMQTTCONN=3,5000,240,1,1\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCMQTTCONN=0,999,240,1,1\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCMQTTCONN=0,5000,59,1,1\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCMQTTCONN=0,5000,240,1\r\n", b"+CME ERROR:204\r\n"),
        // The stored record is mode 0: tls 1 is a mode mismatch, found after OK.
        (
            b"AT+TCMQTTCONN=1,5000,240,1,1\r\n",
            b"OK\r\n+TCMQTTCONN:FAIL,204\r\n",
        ),
        (b"AT+TCMQTTPUB=\"a\",0,\"b\"\r\n", b"+CME ERROR:208\r\n"),
    ];
    for (line, answer) in cases {
        module.send(line);
        module.expect(answer);
    }
    module.send(b"AT+TCMQTTCONN=?\r\n");
    module.expect(b"+TCMQTTCONN:<TLSMODE_SELECTED>,<CMDTIMEOUT_VALUE(1000-20000ms)>,<KEEPALIVE>(60-690s),<CLEAN_SESSION>(0/1),<RECONNECT>(0/1)\r\n\r\nOK\r\n");
    module.send(b"AT+TCMQTTCONN?\r\n");
    module.expect(b"+TCMQTTCONN:1,5000,240,1,1\r\n\r\nOK\r\n");
    drop(broker);
    module.expect_quiet(false);
}

#[test]
fn broker_loss_with_reconnect_restores_the_session_and_its_subscription() {
    let scratch = Scratch::new("mqtt-mosquitto-reconnect");
    let broker = Broker::start(scratch.path());
    let port = broker.port;
    let mut module = start_module(&scratch, &broker);

    module.send(b"AT+TCMQTTCONN=0,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");

    drop(broker);
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    // The first attempt starts 1–2 s after the drop and at least 5 s after the CONNECT
    // (`docs/decisions.md`); the broker comes back once it has.
    module.expect_within(b"+TCMQTTRECONNECTING\r\n", Duration::from_secs(7));
    let broker = Broker::start_on(scratch.path(), port);
    // Later attempts back off further: allow for a few of them.
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
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");
    // The subscription was re-sent before +TCMQTTRECONNECTED (urc.md §3).
    broker.publish(TOPIC, "after reconnect");
    module.expect(format!("+TCMQTTRCVPUB:\"{TOPIC}\",15,\"after reconnect\"\r\n").as_bytes());
    module.expect_quiet(false);
}

#[test]
fn eleventh_subscription_fails_at_once_with_107() {
    let scratch = Scratch::new("mqtt-mosquitto-sub-limit");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker);

    module.send(b"AT+TCMQTTCONN=0,5000,240,1,0\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    for index in 0..10 {
        module.send(format!("AT+TCMQTTSUB=\"PID0000001/dev1/t{index}\",0\r\n").as_bytes());
        module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");
    }
    // Refused by the module itself: well within the 5000 ms cmdtimeout.
    module.send(b"AT+TCMQTTSUB=\"PID0000001/dev1/t10\",0\r\n");
    module.expect_within(b"OK\r\n+TCMQTTSUB:FAIL,-107\r\n", Duration::from_secs(2));
    module.expect_quiet(false);
    drop(broker);
}

#[test]
fn data_mode_publishes_escaped_json_a_full_payload_and_raw_bytes() {
    let scratch = Scratch::new("mqtt-mosquitto-data");
    let broker = Broker::start(scratch.path());
    let mut module = start_module(&scratch, &broker);
    module.send(b"AT+TCMQTTCONN=0,5000,240,1,0\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    module.send(format!("AT+TCMQTTSUB=\"{TOPIC}\",1\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");

    // PUBL, QoS 1, escaped JSON sent after the prompt: neutralised, length unchanged.
    let json = br#"{\"a\":1\,\"b\":2}"#;
    module.send(format!("AT+TCMQTTPUBL=\"{TOPIC}\",1,{}\r\n", json.len()).as_bytes());
    module.expect(b"OK\r\n>\r\n");
    module.send(json);
    module.send(b"\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{TOPIC}\",18,\"{{ \"a\" :1 , \"b\" :2}}\"").as_bytes(),
        b"+TCMQTTPUBL:OK",
    );

    // PUBL, QoS 0, the largest payload, sent together with its command line.
    let full: Vec<u8> = (0..2048).map(|index| b'a' + (index % 26) as u8).collect();
    let mut input = format!("AT+TCMQTTPUBL=\"{TOPIC}\",0,2048\r\n").into_bytes();
    input.extend_from_slice(&full);
    input.extend_from_slice(b"\r\n");
    module.send(&input);
    module.expect(b"OK\r\n>\r\n+TCMQTTPUBL:OK\r\n");
    let mut urc = format!("+TCMQTTRCVPUB:\"{TOPIC}\",2048,\"").into_bytes();
    urc.extend_from_slice(&full);
    urc.extend_from_slice(b"\"\r\n");
    module.expect(&urc);

    // PUBRAW, QoS 0: CR LF, NUL, 0xff and escapes are published untouched.
    let raw = b"bin\r\n\0\x01\xff\\\"x\\,end";
    module.send(format!("AT+TCMQTTPUBRAW=\"{TOPIC}\",0,{}\r\n", raw.len()).as_bytes());
    module.expect(b"OK\r\n>\r\n");
    module.send(&raw[..5]);
    module.send(&raw[5..]);
    module.send(b"\r\n");
    module.expect(b"+TCMQTTPUBRAW:OK\r\n");
    let mut urc = format!("+TCMQTTRCVPUB:\"{TOPIC}\",{},\"", raw.len()).into_bytes();
    urc.extend_from_slice(raw);
    urc.extend_from_slice(b"\"\r\n");
    module.expect(&urc);

    // A cancelled data phase publishes nothing and the module keeps answering.
    module.send(format!("AT+TCMQTTPUBRAW=\"{TOPIC}\",0,50\r\n").as_bytes());
    module.expect(b"OK\r\n>\r\n");
    module.send(b"abc+++\r\n");
    module.expect(b"+CME ERROR:204\r\n");
    module.expect_quiet(false);
}
