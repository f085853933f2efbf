//! End to end against `tc-at-hub`, the local stand-in for Tencent IoT Hub (`hub.md`), over
//! plain TCP (TLS mode 0) through `TCAT_RESOLVE` and `TCAT_PORT_MAP`. Unlike mosquitto, the hub
//! checks the Tencent password and applies the default topic rights (`cloud.md` §2.4), so this
//! covers what a real cloud refuses: subscribe to `event`, publish to `control`, a kick, a
//! refusal window. Two fake servers in the test cover a broken and a silent peer. Every wait
//! is bound to the module's output with a deadline; nothing sleeps to synchronise.

mod common;
#[path = "common/pki.rs"]
mod pki;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::hub::{json_number, Hub, DEMO_DEVICE, DEMO_PRODUCT, DEMO_SECRET};
use common::{Module, Options, Scratch, Uart, DEFAULT_DEADLINE};

const DATA: &str = "DEMO000001/demo/data";

/// Long enough for a reconnect attempt after a drop (first delay 1–2 s, `cloud.md` §3) plus
/// the connect itself on a loaded machine.
const RECONNECT_DEADLINE: Duration = Duration::from_secs(15);

/// Starts the module routed to MQTT port `port` with the demo device stored (mode 0).
fn start_module(scratch: &Scratch, port: u16) -> Module {
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            ("TCAT_PORT_MAP".into(), format!("1883={port}")),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(
        format!("AT+TCDEVINFOSET=0,\"{DEMO_PRODUCT}\",\"{DEMO_DEVICE}\",\"{DEMO_SECRET}\"\r\n")
            .as_bytes(),
    );
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module
}

/// A hub plus a module connected to it with `AT+TCMQTTCONN=0,<cmdtimeout>,240,1,<reconnect>`.
fn connected(label: &str, cmdtimeout: u32, reconnect: u8) -> (Scratch, Hub, Module) {
    let scratch = Scratch::new(label);
    let hub = Hub::start();
    let mut module = start_module(&scratch, hub.mqtt);
    module.send(format!("AT+TCMQTTCONN=0,{cmdtimeout},240,1,{reconnect}\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    (scratch, hub, module)
}

fn subscribe(module: &mut Module, filter: &str, qos: u8) {
    module.send(format!("AT+TCMQTTSUB=\"{filter}\",{qos}\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTSUB:OK\r\n");
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

/// Reads lines until `wanted`, accepting only `+TCMQTTRECONNECTING` before it.
fn expect_reconnected(module: &mut Module) {
    let until = Instant::now() + RECONNECT_DEADLINE;
    loop {
        module.deadline = until.saturating_duration_since(Instant::now());
        match module.read_line().as_slice() {
            b"+TCMQTTRECONNECTING" => continue,
            b"+TCMQTTRECONNECTED" => break,
            other => module.fail(&format!(
                "expected +TCMQTTRECONNECTING or +TCMQTTRECONNECTED, got {:?}",
                String::from_utf8_lossy(other)
            )),
        }
    }
    module.deadline = DEFAULT_DEADLINE;
}

#[test]
fn json_numbers_of_the_ready_line_and_admin_answers_are_read_by_key() {
    let ready = r#"{"mqtt":41883,"mqtts":0,"http":0,"https":0,"admin":18090}"#;
    assert_eq!(json_number(ready, "mqtt"), Some(41883));
    assert_eq!(json_number(ready, "mqtts"), Some(0));
    assert_eq!(json_number(ready, "admin"), Some(18090));
    assert_eq!(json_number(ready, "ota"), None);
    assert_eq!(json_number(r#"{"delivered": 2}"#, "delivered"), Some(2));
}

#[test]
fn data_topic_loops_back_at_qos_0_and_1_and_cloud_messages_arrive() {
    let (_scratch, hub, mut module) = connected("hub-loopback", 5000, 1);
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");
    subscribe(&mut module, DATA, 1);
    module.send(b"AT+TCMQTTSUB?\r\n");
    module.expect(format!("+TCMQTTSUB:\"{DATA}\",1\r\n\r\nOK\r\n").as_bytes());

    // QoS 0: the result once written, then the loop-back message.
    module.send(format!("AT+TCMQTTPUB=\"{DATA}\",0,\"hello\"\r\n").as_bytes());
    module.expect(b"OK\r\n+TCMQTTPUB:OK\r\n");
    module.expect(format!("+TCMQTTRCVPUB:\"{DATA}\",5,\"hello\"\r\n").as_bytes());

    // QoS 1: the hub acknowledges (the device may publish on data), and loops it back.
    module.send(format!("AT+TCMQTTPUB=\"{DATA}\",1,\"hello again\"\r\n").as_bytes());
    module.expect(b"OK\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{DATA}\",11,\"hello again\"").as_bytes(),
        b"+TCMQTTPUB:OK",
    );

    // A message from the cloud side.
    assert_eq!(hub.publish(DATA, "from the cloud"), 1);
    module.expect(format!("+TCMQTTRCVPUB:\"{DATA}\",14,\"from the cloud\"\r\n").as_bytes());

    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    module.expect_quiet(false);
}

#[test]
fn subscribing_to_the_event_topic_is_refused_with_108() {
    let (_scratch, _hub, mut module) = connected("hub-sub-event", 1000, 1);
    module.send(b"AT+TCMQTTSUB=\"DEMO000001/demo/event\",1\r\n");
    module.expect(b"OK\r\n+TCMQTTSUB:FAIL,-108\r\n");
    // A refused filter takes no slot.
    module.send(b"AT+TCMQTTSUB?\r\n");
    module.expect(b"\r\nOK\r\n");
    // The session is unharmed: an allowed filter still works.
    subscribe(&mut module, "DEMO000001/demo/control", 0);
    module.expect_quiet(false);
}

#[test]
fn qos1_publish_to_the_control_topic_fails_with_202_after_cmdtimeout() {
    let (_scratch, _hub, mut module) = connected("hub-pub-control", 1000, 1);
    subscribe(&mut module, "DEMO000001/demo/control", 1);

    // QoS 0 is dropped silently by the hub: the module only sees its own write succeed.
    module.send(b"AT+TCMQTTPUB=\"DEMO000001/demo/control\",0,\"off\"\r\n");
    module.expect(b"OK\r\n+TCMQTTPUB:OK\r\n");

    // QoS 1 gets no PUBACK: FAIL,202 once the 1000 ms cmdtimeout has passed.
    // Timed from before the line is sent: the module's wait starts later, at its `OK`, so a
    // slow test thread can only make the measured time longer, never shorter.
    let sent = Instant::now();
    module.send(b"AT+TCMQTTPUB=\"DEMO000001/demo/control\",1,\"on\"\r\n");
    module.expect(b"OK\r\n");
    module.expect_within(b"+TCMQTTPUB:FAIL,202\r\n", Duration::from_secs(5));
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(990),
        "FAIL,202 came after {waited:?}, before the 1000 ms cmdtimeout"
    );
    // Neither publish came back on the subscribed control topic, and the link is still up.
    module.expect_quiet(false);
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");
}

#[test]
fn sys_operation_time_request_is_answered_on_the_result_topic() {
    let (_scratch, _hub, mut module) = connected("hub-sys-time", 5000, 1);
    let result_topic = format!("$sys/operation/result/{DEMO_PRODUCT}/{DEMO_DEVICE}");
    subscribe(&mut module, &result_topic, 0);
    module.send(
        format!(
            "AT+TCMQTTPUB=\"$sys/operation/{DEMO_PRODUCT}/{DEMO_DEVICE}\",0,\"{{\\\"type\\\":\\\"get\\\"\\,\\\"resource\\\":[\\\"time\\\"]}}\"\r\n"
        )
        .as_bytes(),
    );
    module.expect(b"OK\r\n");
    let lines = [module.read_line(), module.read_line()];
    let result = lines
        .iter()
        .position(|line| line == b"+TCMQTTPUB:OK")
        .unwrap_or_else(|| module.fail(&format!("no +TCMQTTPUB:OK among {lines:?}")));
    let message = String::from_utf8_lossy(&lines[1 - result]).into_owned();

    let pattern = regex::Regex::new(
        r#"^\+TCMQTTRCVPUB:"\$sys/operation/result/DEMO000001/demo",(\d+),"(\{"type":"get","time":(\d+)\})"$"#,
    )
    .unwrap();
    let captures = pattern
        .captures(&message)
        .unwrap_or_else(|| module.fail(&format!("not a time reply: {message:?}")));
    let length: usize = captures[1].parse().unwrap();
    assert_eq!(length, captures[2].len(), "length field of {message:?}");
    let hub_time: u64 = captures[3].parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        hub_time.abs_diff(now) <= 60,
        "hub time {hub_time} is not the current time {now}"
    );
    module.expect_quiet(false);
}

#[test]
fn kick_with_reconnect_restores_the_session_and_its_subscription() {
    let (_scratch, hub, mut module) = connected("hub-kick", 5000, 1);
    subscribe(&mut module, DATA, 1);

    hub.kick(None);
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    expect_reconnected(&mut module);
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");
    module.send(b"AT+TCMQTTSUB?\r\n");
    module.expect(format!("+TCMQTTSUB:\"{DATA}\",1\r\n\r\nOK\r\n").as_bytes());

    // The subscription was re-sent before +TCMQTTRECONNECTED (urc.md §3).
    assert_eq!(hub.publish(DATA, "after the kick"), 1);
    module.expect(format!("+TCMQTTRCVPUB:\"{DATA}\",14,\"after the kick\"\r\n").as_bytes());
    module.expect_quiet(false);
}

#[test]
fn kick_during_a_refusal_window_without_reconnect_ends_the_session() {
    let (_scratch, hub, mut module) = connected("hub-kick-refuse", 5000, 0);
    subscribe(&mut module, DATA, 1);

    hub.kick(Some(120));
    module.expect(b"+TCMQTTDISCON,-103\r\n");
    // Once: reconnect is off, so nothing follows and the session is gone.
    module.expect_quiet(false);
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    // Publishing while disconnected is refused at once, before any network activity.
    module.send(format!("AT+TCMQTTPUB=\"{DATA}\",1,\"late\"\r\n").as_bytes());
    module.expect_within(b"+CME ERROR:208\r\n", Duration::from_secs(1));
    module.send(b"AT+TCMQTTSUB?\r\n");
    module.expect(b"\r\nOK\r\n");

    // A new connect inside the window: the hub closes it before CONNACK (errors.md -608).
    module.send(b"AT+TCMQTTCONN=0,5000,240,1,0\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-608\r\n");
    module.send(format!("AT+TCMQTTPUB=\"{DATA}\",0,\"still late\"\r\n").as_bytes());
    module.expect(b"+CME ERROR:208\r\n");
    module.expect_quiet(false);
}

/// A one-connection server on a free port: `serve` gets the accepted socket after the
/// client's first bytes (its CONNECT) were read, and the socket stays open until the test ends.
struct FakeServer {
    port: u16,
    served: mpsc::Receiver<TcpStream>,
}

impl FakeServer {
    fn start(serve: impl FnOnce(&mut TcpStream) + Send + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake server");
        let port = listener.local_addr().expect("fake server address").port();
        let (sender, served) = mpsc::channel();
        // A module that never connects leaves this thread blocked in accept; the test fails
        // on its own deadline in `served` and the thread ends with the test process.
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(DEFAULT_DEADLINE));
            let mut first = [0u8; 512];
            let count = stream.read(&mut first).unwrap_or(0);
            if count > 0 && first[0] == 0x10 {
                serve(&mut stream);
                let _ = sender.send(stream);
            }
        });
        FakeServer { port, served }
    }

    /// Waits until the server has answered a CONNECT; returns its socket, to be kept open.
    fn served(&self) -> TcpStream {
        self.served
            .recv_timeout(DEFAULT_DEADLINE)
            .expect("the module connected and sent a CONNECT")
    }
}

#[test]
fn garbage_instead_of_a_connack_fails_the_connect_cleanly() {
    let scratch = Scratch::new("hub-garbage");
    // Packet type 15 with a remaining length that never ends: no valid CONNACK.
    let server = FakeServer::start(|stream| {
        use std::io::Write;
        stream
            .write_all(b"\xff\xff\xff\xff\xff\xffgarbage")
            .expect("send garbage");
    });
    let mut module = start_module(&scratch, server.port);
    module.send(b"AT+TCMQTTCONN=0,5000,240,1,1\r\n");
    // docs/decisions.md: a CONNACK that is not one ends the connect with -112.
    module.expect(b"OK\r\n+TCMQTTCONN:FAIL,-112\r\n");
    let _socket = server.served();
    module.expect_quiet(false);
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    // A failed initial connect never reconnects (commands.md §4): nothing more arrives.
    module.expect_quiet(false);
}

#[test]
fn a_silent_server_fails_the_connect_with_202_after_cmdtimeout() {
    let scratch = Scratch::new("hub-silent");
    let server = FakeServer::start(|_| {});
    let mut module = start_module(&scratch, server.port);
    // Timed from before the line is sent (see the control-topic test).
    let sent = Instant::now();
    module.send(b"AT+TCMQTTCONN=0,1500,240,1,1\r\n");
    module.expect(b"OK\r\n");
    let _socket = server.served();
    module.expect_within(b"+TCMQTTCONN:FAIL,202\r\n", Duration::from_secs(5));
    // cmdtimeout counts from `OK\r\n` (commands.md §4): not earlier, and not much later.
    let waited = sent.elapsed();
    assert!(
        (Duration::from_millis(1490)..=Duration::from_millis(3500)).contains(&waited),
        "FAIL,202 came {waited:?} after the command, cmdtimeout is 1500 ms"
    );
    module.expect_quiet(false);
    module.send(b"AT+TCMQTTSTATE?\r\n");
    module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
}

/// TLS mode 1 through the hub's TLS listener, which is OpenSSL: the module's own TLS-PSK client
/// (`crates/tls-psk`) against OpenSSL's PSK server, carrying the whole MQTT session.
#[test]
fn tls_psk_session_through_the_hub_loops_back() {
    let scratch = Scratch::new("hub-tls-psk");
    let hub = Hub::start();
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            ("TCAT_PORT_MAP".into(), format!("8883={}", hub.mqtts)),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    module.send(
        format!("AT+TCDEVINFOSET=1,\"{DEMO_PRODUCT}\",\"{DEMO_DEVICE}\",\"{DEMO_SECRET}\"\r\n")
            .as_bytes(),
    );
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    subscribe(&mut module, DATA, 1);
    module.send(format!("AT+TCMQTTPUB=\"{DATA}\",1,\"over tls\"\r\n").as_bytes());
    module.expect(b"OK\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{DATA}\",8,\"over tls\"").as_bytes(),
        b"+TCMQTTPUB:OK",
    );
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
}

/// TLS mode 2 through the hub's OpenSSL listener: the hub's own CA (`--ca-out`) reaches the
/// module as `TCAT_CA_FILE`, the client certificate is stored with AT+TCCERTADD and registered
/// with the hub, which accepts the CONNECT only for that certificate.
#[test]
fn certificate_session_through_the_hub_loops_back() {
    let scratch = Scratch::new("hub-certificate");
    let authority = pki::Authority::new(scratch.path(), "device-ca");
    let (certificate, key) = authority.client("dev1", false);
    let certificate_pem = std::fs::read_to_string(&certificate).expect("read client certificate");
    let registry = scratch.path().join("registry.json");
    std::fs::write(
        &registry,
        format!(
            "{{\"products\":[{{\"pid\":\"CERTHUB001\",\"auth\":\"cert\"}}],\
             \"devices\":[{{\"pid\":\"CERTHUB001\",\"dn\":\"dev1\",\"cert_pem\":{}}}]}}",
            json_string(&certificate_pem)
        ),
    )
    .expect("write registry");
    let hub_ca = scratch.path().join("hub-ca.pem");
    let hub = Hub::start_with(&[
        "--registry",
        registry.to_str().unwrap(),
        "--ca-out",
        hub_ca.to_str().unwrap(),
    ]);
    let options = Options {
        environment: vec![
            (
                "TCAT_RESOLVE".into(),
                "*.tencentdevices.com=127.0.0.1".into(),
            ),
            ("TCAT_PORT_MAP".into(), format!("8883={}", hub.mqtts)),
            ("TCAT_CA_FILE".into(), hub_ca.display().to_string()),
        ],
        ..Options::default()
    };
    let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
    module.send(b"ATE0\r\n");
    module.expect(b"ATE0\r\n\r\nOK\r\n");
    for (name, path) in [("dev1.crt", &certificate), ("dev1.key", &key)] {
        let bytes = std::fs::read(path).expect("read PEM");
        module.send(format!("AT+TCCERTADD=\"{name}\",{}\r\n", bytes.len()).as_bytes());
        module.expect(b"OK\r\n>\r\n");
        module.send(&bytes);
        module.expect(b"+TCCERTADD:OK\r\n");
    }
    module.send(b"AT+TCDEVINFOSET=2,\"CERTHUB001\",\"dev1\",\"dev1.crt\"\r\n");
    module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    module.send(b"AT+TCMQTTCONN=2,5000,240,1,1\r\n");
    module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    let topic = "CERTHUB001/dev1/data";
    subscribe(&mut module, topic, 1);
    module.send(format!("AT+TCMQTTPUB=\"{topic}\",1,\"by certificate\"\r\n").as_bytes());
    module.expect(b"OK\r\n");
    expect_lines_in_any_order(
        &mut module,
        format!("+TCMQTTRCVPUB:\"{topic}\",14,\"by certificate\"").as_bytes(),
        b"+TCMQTTPUB:OK",
    );
    module.send(b"AT+TCMQTTDISCONN\r\n");
    module.expect(b"\r\nOK\r\n");
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut literal = String::from("\"");
    for character in text.chars() {
        match character {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            other => literal.push(other),
        }
    }
    literal.push('"');
    literal
}
