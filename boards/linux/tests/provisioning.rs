//! Wi-Fi provisioning end to end (`commands.md` §6, `cloud.md` §6): the module against
//! `tc-at-hub` (MQTT broker with the `app_bind_token` responder, registration endpoint) and
//! `tc-at-hub app …` playing the Tencent mini program over real UDP on loopback; SmartConfig
//! credentials, the LED and Wi-Fi loss go through the board's control socket (`TCAT_CONTROL`).
//!
//! The MCU side is this test. Every wait is bound to an output (a URC, the app's exit, a
//! datagram) with a deadline; nothing sleeps to synchronise. The 300 s budget runs on the
//! board's test clock (`TCAT_CLOCK_SCALE`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use common::hub::{hub_binary, Hub, DEMO_DEVICE, DEMO_PRODUCT, DEMO_SECRET};
use common::{Module, Options, Scratch, Uart};

/// A binding on a loaded machine: the app's three replies, the join, MQTT, the bind reply
/// and the 5 s wait after DISCONNECT.
const SESSION_DEADLINE: Duration = Duration::from_secs(40);
/// The router of the simulated AP list (`common::WIFI_APS`).
const ROUTER: (&str, &str) = ("hub-ap", "password123");

/// One module wired to a hub, with its UDP servers and control socket on private addresses.
struct Rig {
    scratch: Scratch,
    hub: Hub,
    module: Module,
    softap: String,
    logap: String,
    control: PathBuf,
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("pick a free UDP port")
        .port()
}

impl Rig {
    /// A module (echo off) with `profile` and `environment`, routed to a fresh hub.
    fn start(label: &str, profile: &'static str, environment: &[(&str, &str)]) -> Rig {
        let scratch = Scratch::new(label);
        let hub = Hub::start();
        let softap = format!("127.0.0.1:{}", free_udp_port());
        let logap = format!("127.0.0.1:{}", free_udp_port());
        let control = scratch.path().join("tcat.sock");
        let mut options = Options {
            profile: Some(profile),
            ..Options::default()
        };
        let mut variables = vec![
            (
                "TCAT_RESOLVE".to_owned(),
                "*.tencentdevices.com=127.0.0.1".to_owned(),
            ),
            (
                "TCAT_PORT_MAP".to_owned(),
                format!("80={},1883={},8883={}", hub.http, hub.mqtt, hub.mqtts),
            ),
            ("TCAT_SOFTAP_ADDR".to_owned(), softap.clone()),
            ("TCAT_LOGAP_ADDR".to_owned(), logap.clone()),
            ("TCAT_CONTROL".to_owned(), control.display().to_string()),
        ];
        for (name, value) in environment {
            variables.push(((*name).to_owned(), (*value).to_owned()));
        }
        options.environment = variables;
        let mut module = Module::start(Uart::Stdio, &scratch.flash(), &options);
        module.send(b"ATE0\r\n");
        module.expect(b"ATE0\r\n\r\nOK\r\n");
        Rig {
            scratch,
            hub,
            module,
            softap,
            logap,
            control,
        }
    }

    /// Stores the hub's demo device (TLS-PSK).
    fn store_demo_device(&mut self) {
        let line =
            format!("AT+TCDEVINFOSET=1,\"{DEMO_PRODUCT}\",\"{DEMO_DEVICE}\",\"{DEMO_SECRET}\"\r\n");
        self.module.send(line.as_bytes());
        self.module.expect(b"OK\r\n+TCDEVINFOSET:OK\r\n");
    }

    /// Runs `tc-at-hub app <arguments>` against this module; its output and exit status.
    fn app(&self, arguments: &[&str]) -> Output {
        Command::new(hub_binary())
            .arg("app")
            .args(arguments)
            .output()
            .expect("run tc-at-hub app")
    }

    /// The softAP exchange of the mini program with this module, giving it the router;
    /// `extra` adds the app's other options.
    fn softap_app(&self, extra: &[&str]) -> Output {
        let mut arguments = vec![
            "softap",
            "--ssid",
            ROUTER.0,
            "--password",
            ROUTER.1,
            "--to",
            &self.softap,
        ];
        arguments.extend_from_slice(extra);
        self.app(&arguments)
    }

    /// The softAP exchange of the mini program with `token`, waiting for the binding.
    fn app_softap(&self, token: &str, extra: &[&str]) -> Output {
        let admin = self.hub.admin.to_string();
        let mut arguments = vec!["--token", token, "--admin-port", &admin, "--wait-s", "30"];
        arguments.extend_from_slice(extra);
        self.softap_app(&arguments)
    }

    /// One request on the control socket; its JSON answer.
    fn control(&self, request: &str) -> String {
        let mut stream = UnixStream::connect(&self.control).expect("connect the control socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("control read timeout");
        writeln!(stream, "{request}").expect("send a control request");
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .expect("read the control answer");
        answer
    }

    fn bound_tokens(&self, pid: &str, dn: &str) -> String {
        let (status, body) = self.hub.admin("GET", &format!("/devices/{pid}/{dn}"), "");
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sends one datagram as the app and collects what the module answers until it is quiet.
fn exchange(to: &str, datagram: &[u8], answers: usize) -> Vec<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the app socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("app read timeout");
    socket.send_to(datagram, to).expect("send the datagram");
    let mut buffer = [0u8; 2048];
    (0..answers)
        .map(|_| {
            let (length, _) = socket
                .recv_from(&mut buffer)
                .expect("an answer from the module");
            String::from_utf8_lossy(&buffer[..length]).into_owned()
        })
        .collect()
}

#[test]
fn softap_binds_the_token_and_the_router_survives_a_reset() {
    let mut rig = Rig::start("prov-softap", "full", &[]);
    rig.store_demo_device();
    rig.module
        .send(b"AT+TCSAP=\"tc-at-prov\",\"12345678\",6\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let token = "0123456789abcdef0123456789abcdef";
    let output = rig.app_softap(token, &[]);
    let printed = stdout(&output);
    assert!(output.status.success(), "app failed:\n{printed}");
    assert!(printed.contains("replied 3 time(s)"), "{printed}");
    assert!(
        printed.contains(&format!("token {token} bound")),
        "{printed}"
    );
    assert!(
        !printed.contains(ROUTER.1),
        "the router password was printed"
    );
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n", SESSION_DEADLINE);
    assert!(rig.bound_tokens(DEMO_PRODUCT, DEMO_DEVICE).contains(token));
    // The binding session was internal: no host session, the LED lit after success.
    rig.module.send(b"AT+TCMQTTSTATE?\r\n");
    rig.module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    assert!(rig.control(r#"{"op":"led"}"#).contains(r#""lit":true"#));
    // The router was persisted: a reboot joins it again.
    rig.module.send(b"AT+RST\r\n");
    rig.module
        .expect(b"\r\nOK\r\n\r\nready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n");
    rig.module.send(b"AT+CWJAP?\r\n");
    rig.module
        .expect(b"AT+CWJAP?\r\n+CWJAP:\"hub-ap\",\"02:00:00:00:00:01\",6,-45\r\n\r\nOK\r\n");
    assert!(!String::from_utf8_lossy(&rig.module.stderr()).contains(ROUTER.1));
    drop(rig.scratch);
}

#[test]
fn smartconfig_takes_the_router_from_the_control_socket_and_binds() {
    let mut rig = Rig::start("prov-smart", "full", &[]);
    rig.store_demo_device();
    rig.module.send(b"AT+TCSTARTSMART\r\n");
    rig.module.expect(b"OK\r\n+TCSTARTSMART:OK\r\n");
    let token = "fedcba9876543210fedcba9876543210";
    let admin = rig.hub.admin.to_string();
    let control = rig.control.display().to_string();
    let output = rig.app(&[
        "smartconfig",
        "--ssid",
        ROUTER.0,
        "--password",
        ROUTER.1,
        "--control",
        &control,
        "--token",
        token,
        "--to",
        &rig.softap,
        "--admin-port",
        &admin,
        "--wait-s",
        "30",
    ]);
    let printed = stdout(&output);
    assert!(output.status.success(), "app failed:\n{printed}");
    assert!(printed.contains(r#"control: {"ok":true}"#), "{printed}");
    rig.module
        .expect_within(b"+TCSTARTSMART:WIFI_CONNECT_SUCCESS\r\n", SESSION_DEADLINE);
    assert!(rig.bound_tokens(DEMO_PRODUCT, DEMO_DEVICE).contains(token));
    rig.module.send(b"AT+CWJAP?\r\n");
    rig.module
        .expect(b"+CWJAP:\"hub-ap\",\"02:00:00:00:00:01\",6,-45\r\n\r\nOK\r\n");
}

#[test]
fn a_module_with_only_a_product_record_registers_before_binding() {
    let mut rig = Rig::start("prov-dynreg", "esp8266", &[]);
    let product = r#"{"product_secret":"Xq3mP8sLw2Kd9fRt6YbN1cVh","dynreg":"autocreate"}"#;
    let (status, body) = rig.hub.admin("PUT", "/products/PRVREG0001", product);
    assert_eq!(status, 200, "{body}");
    rig.module
        .send(b"AT+TCPRDINFOSET=1,\"PRVREG0001\",\"Xq3mP8sLw2Kd9fRt6YbN1cVh\",\"kitchen01\"\r\n");
    rig.module.expect(b"OK\r\n+TCPRDINFOSET:OK\r\n");
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let token = "00112233445566778899aabbccddeeff";
    let output = rig.app_softap(token, &[]);
    assert!(output.status.success(), "app failed:\n{}", stdout(&output));
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n", SESSION_DEADLINE);
    assert!(rig.bound_tokens("PRVREG0001", "kitchen01").contains(token));
    // The registered device record is stored (its secret shows only as a BCC).
    rig.module.send(b"AT+TCDEVINFOSET?\r\n");
    let answer = rig.module.read_response();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("+TCDEVINFOSET:1,\"PRVREG0001\",\"kitchen01\","),
        "{answer}"
    );
}

#[test]
fn bad_app_datagrams_get_an_error_record_and_fail_the_session() {
    let mut rig = Rig::start("prov-badjson", "full", &[]);
    rig.store_demo_device();
    let record = |age: &str, text: &str| {
        format!("{{\"cmdType\":2,\"deviceReply\":\"{age}\",\"log\":\"{text}\"}}\r\n")
    };
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let answers = exchange(&rig.softap, br#"{"cmdType":1,"ssid":"hub-ap""#, 1);
    assert_eq!(
        answers,
        [record("Current_Error", "APP command error! (2, 201)")]
    );
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_FAILED,4,206\r\n", SESSION_DEADLINE);
    // No token: the server's end of the first session comes first, as a previous error.
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let datagram = br#"{"cmdType":1,"ssid":"hub-ap","password":"password123"}"#;
    let answers = exchange(&rig.softap, datagram, 2);
    assert_eq!(
        answers,
        [
            record("Previous_Error", "RTOS task error! (4, 206)"),
            record("Current_Error", "APP command error! (2, 204)"),
        ]
    );
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_FAILED,4,206\r\n", SESSION_DEADLINE);
    // The log softAP opens 3 s after the failure and hands out the recorded entries.
    let logap = rig.logap.clone();
    let output = rig.app(&["logs", "--to", &logap]);
    let printed = stdout(&output);
    assert!(output.status.success(), "logs failed:\n{printed}");
    assert!(printed.contains("start softAP"), "{printed}");
    assert!(printed.contains("APP command error!"), "{printed}");
    assert!(printed.contains("RTOS task error!"), "{printed}");
    assert!(
        !printed.contains(ROUTER.1),
        "a secret in the log:\n{printed}"
    );
}

#[test]
fn a_foreign_region_fails_the_binding_with_26() {
    let mut rig = Rig::start("prov-region", "full", &[("TCAT_CLOCK_SCALE", "5")]);
    rig.store_demo_device();
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let token = "aaaabbbbccccddddeeeeffff00001111";
    let output = rig.softap_app(&["--token", token, "--region", "na-ashburn"]);
    let printed = stdout(&output);
    assert!(printed.contains("region ap-guangzhou"), "{printed}");
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_FAILED,1,26\r\n", SESSION_DEADLINE);
    assert!(!rig.bound_tokens(DEMO_PRODUCT, DEMO_DEVICE).contains(token));
}

#[test]
fn a_token_publish_without_puback_fails_with_minus_104() {
    let mut rig = Rig::start("prov-puback", "full", &[("TCAT_CLOCK_SCALE", "5")]);
    // Without `$thing` rights the hub acknowledges no PUBLISH there (`hub.md` §4).
    let (status, body) = rig.hub.admin(
        "PUT",
        &format!("/products/{DEMO_PRODUCT}"),
        r#"{"thing_topics":false}"#,
    );
    assert_eq!(status, 200, "{body}");
    rig.store_demo_device();
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let output = rig.softap_app(&[]);
    assert!(output.status.success(), "app failed:\n{}", stdout(&output));
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_FAILED,1,-104\r\n", SESSION_DEADLINE);
    assert!(rig.control(r#"{"op":"led"}"#).contains(r#""lit":false"#));
}

/// `cloud.md` §6.5 step 7: a bind reply with a non-zero `code` is recorded as error 24 (`MQTT
/// Token reply error!`, `errors.md` §6) but does not fail the session, so the URC is
/// `WIFI_CONNECT_SUCCESS`; the record is unsent, so the next session's app hears it as a
/// previous error.
#[test]
fn a_refused_bind_reply_is_recorded_as_24_and_the_session_still_succeeds() {
    let mut rig = Rig::start("prov-bind-refused", "full", &[]);
    let (status, body) =
        rig.hub
            .admin("PUT", "/provisioning/faults", r#"{"bind_reply_code":1503}"#);
    assert_eq!(status, 200, "{body}");
    rig.store_demo_device();
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let token = "99998888777766665555444433332222";
    let app = |rig: &Rig| {
        let output = rig.softap_app(&["--token", token]);
        let printed = stdout(&output);
        assert!(output.status.success(), "app failed:\n{printed}");
        printed
    };
    let printed = app(&rig);
    assert!(!printed.contains("Previous_Error"), "{printed}");
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n", SESSION_DEADLINE);
    assert!(!rig.bound_tokens(DEMO_PRODUCT, DEMO_DEVICE).contains(token));
    // The next session's app gets the refusal, with the cloud's code, before its replies.
    let (status, body) = rig.hub.admin("PUT", "/provisioning/faults", "{}");
    assert_eq!(status, 200, "{body}");
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let printed = app(&rig);
    assert!(
        printed
            .contains("module error record (Previous_Error): MQTT Token reply error! (24, 1503)"),
        "{printed}"
    );
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n", SESSION_DEADLINE);
    assert!(rig.bound_tokens(DEMO_PRODUCT, DEMO_DEVICE).contains(token));
}

#[test]
fn a_stop_ends_the_session_silently_and_the_app_after_a_reboot_hears_why() {
    let mut rig = Rig::start("prov-stop", "full", &[]);
    rig.store_demo_device();
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    rig.module.send(b"AT+TCSTOPSMART\r\n");
    rig.module.expect(b"\r\nOK\r\n");
    rig.module.expect_quiet(false);
    assert!(rig.control(r#"{"op":"led"}"#).contains(r#""lit":false"#));
    // Stopping nothing is still `[OK]`.
    rig.module.send(b"AT+TCSTOPSAP\r\n");
    rig.module.expect(b"\r\nOK\r\n");
    // The record is persisted: after a reboot the next session's app gets the stop as a
    // previous error before its replies.
    rig.module.send(b"AT+RST\r\n");
    rig.module.expect(b"\r\nOK\r\n\r\nready\r\n");
    rig.module.send(b"ATE0\r\n");
    rig.module.expect(b"ATE0\r\n\r\nOK\r\n");
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let output = rig.app_softap("11112222333344445555666677778888", &[]);
    let printed = stdout(&output);
    assert!(output.status.success(), "app failed:\n{printed}");
    assert!(
        printed.contains("module error record (Previous_Error): WIFI boarding stop! (3, 102)"),
        "{printed}"
    );
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_SUCCESS\r\n", SESSION_DEADLINE);
}

#[test]
fn the_budget_and_the_app_end_smartconfig_sessions() {
    // 300 module seconds in 5 real ones.
    let mut rig = Rig::start("prov-budget", "full", &[("TCAT_CLOCK_SCALE", "60")]);
    rig.store_demo_device();
    rig.module.send(b"AT+TCSTARTSMART\r\n");
    rig.module.expect(b"OK\r\n+TCSTARTSMART:OK\r\n");
    rig.module.expect_within(
        b"+TCSTARTSMART:WIFI_CONNECT_FAILED,3,103\r\n",
        Duration::from_secs(30),
    );
    rig.module.send(b"AT+TCSTARTSMART\r\n");
    rig.module.expect(b"OK\r\n+TCSTARTSMART:OK\r\n");
    assert_eq!(
        rig.control(r#"{"op":"smartconfig-end"}"#).trim(),
        r#"{"ok":true}"#
    );
    rig.module.expect_within(
        b"+TCSTARTSMART:WIFI_CONNECT_FAILED,3,101\r\n",
        Duration::from_secs(30),
    );
    // Credentials while SmartConfig does not listen are refused.
    assert!(rig
        .control(r#"{"op":"smartconfig","ssid":"hub-ap","password":"password123"}"#)
        .contains(r#""ok":false"#));
}

#[test]
fn starts_without_a_record_or_with_a_host_session_are_refused_and_change_nothing() {
    let mut rig = Rig::start("prov-refused", "full", &[]);
    // Without a device or product record a start fails (its record is kept for the next app).
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:FAIL,27\r\n");
    rig.module.send(b"AT+TCSTARTSMART\r\n");
    rig.module.expect(b"OK\r\n+TCSTARTSMART:FAIL,27\r\n");
    rig.module.expect_quiet(false);
    let flash = rig.module.flash_bytes();
    for (line, answer) in [
        (&b"AT+TCSAP=\"\"\r\n"[..], &b"+CME ERROR:204\r\n"[..]),
        (b"AT+TCSAP=\"s\",\"short\"\r\n", b"+CME ERROR:204\r\n"),
        (b"AT+TCSAP=\"s\",\"12345678\",14\r\n", b"+CME ERROR:204\r\n"),
        (
            b"AT+TCSAP=\"s\",12345678\r\n",
            b"ERR CODE:0x01050000\r\n\r\nERROR\r\n",
        ),
        (
            b"AT+TCSTARTSMART=1\r\n",
            b"ERR CODE:0x01090000\r\n\r\nERROR\r\n",
        ),
    ] {
        rig.module.send(line);
        rig.module.expect(answer);
    }
    assert_eq!(
        rig.module.flash_bytes(),
        flash,
        "a refused start wrote flash"
    );
    // With the host session up, every provisioning command answers 208.
    rig.store_demo_device();
    rig.module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    rig.module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    for line in [
        &b"AT+TCSAP=\"tc-at-prov\"\r\n"[..],
        b"AT+TCSTARTSMART\r\n",
        b"AT+TCSTOPSAP\r\n",
        b"AT+TCSTOPSMART\r\n",
    ] {
        rig.module.send(line);
        rig.module.expect(b"+CME ERROR:208\r\n");
    }
}

/// Polls the hub's view of the demo device until `condition` holds for its JSON text (the
/// hub records no event for a subscription or a DISCONNECT, so its state is what we watch).
fn wait_for_device(rig: &Rig, what: &str, condition: impl Fn(&str) -> bool) {
    let deadline = std::time::Instant::now() + SESSION_DEADLINE;
    loop {
        let body = rig.bound_tokens(DEMO_PRODUCT, DEMO_DEVICE);
        if condition(&body) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the hub never saw {what}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_stop_during_the_binding_closes_its_session_and_leaves_mqtt_to_the_host() {
    let mut rig = Rig::start("prov-stop-binding", "full", &[]);
    rig.store_demo_device();
    rig.module.send(b"AT+TCSTARTSMART\r\n");
    rig.module.expect(b"OK\r\n+TCSTARTSMART:OK\r\n");
    let injected = rig.control(r#"{"op":"smartconfig","ssid":"hub-ap","password":"password123"}"#);
    assert_eq!(injected.trim(), r#"{"ok":true}"#);
    // The binding session is up and waits for the app's token on its reply topic.
    let reply_topic = format!("$thing/down/service/{DEMO_PRODUCT}/{DEMO_DEVICE}");
    wait_for_device(&rig, "the bind subscription", |body| {
        body.contains(r#""online":true"#) && body.contains(&reply_topic)
    });
    rig.module.send(b"AT+TCMQTTSTATE?\r\n");
    rig.module.expect(b"+TCMQTTSTATE:0\r\n\r\nOK\r\n");
    rig.module.send(b"AT+TCSTOPSMART\r\n");
    rig.module.expect(b"\r\nOK\r\n");
    rig.module.expect_quiet(false);
    wait_for_device(&rig, "the DISCONNECT", |body| {
        !body.contains(r#""online":true"#)
    });
    // The host's own session behaves as ever: its result line and RUN.
    rig.module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    rig.module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    rig.module.send(b"AT+TCMQTTSTATE?\r\n");
    rig.module.expect(b"+TCMQTTSTATE:1\r\n\r\nOK\r\n");
}

#[test]
fn a_router_that_fits_no_station_configuration_is_not_joined_and_the_stored_one_stays() {
    let mut rig = Rig::start("prov-long-ssid", "full", &[("TCAT_CLOCK_SCALE", "10")]);
    rig.store_demo_device();
    rig.module.send(b"AT+CWJAP=\"hub-ap\",\"password123\"\r\n");
    rig.module
        .expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n");
    rig.module.send(b"AT+TCSAP=\"tc-at-prov\"\r\n");
    rig.module.expect(b"\r\nOK\r\n+TCSAP:OK\r\n");
    let datagram = format!(
        r#"{{"cmdType":1,"ssid":"{}","password":"password123","token":"abc"}}"#,
        "s".repeat(33)
    );
    let answers = exchange(&rig.softap, datagram.as_bytes(), 3);
    assert!(answers
        .iter()
        .all(|answer| answer.contains(r#""productId":"DEMO000001""#)));
    // No join: the station budget of 50 s after the failed join runs out.
    rig.module
        .expect_within(b"+TCSAP:WIFI_CONNECT_FAILED,3,103\r\n", SESSION_DEADLINE);
    rig.module.send(b"AT+RST\r\n");
    rig.module
        .expect(b"\r\nOK\r\n\r\nready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n");
    rig.module.send(b"AT+CWJAP?\r\n");
    rig.module
        .expect(b"AT+CWJAP?\r\n+CWJAP:\"hub-ap\",\"02:00:00:00:00:01\",6,-45\r\n\r\nOK\r\n");
}

#[test]
fn the_led_is_lit_while_the_host_session_is_connected() {
    let mut rig = Rig::start("prov-led", "full", &[]);
    rig.store_demo_device();
    let lit = |rig: &mut Rig| {
        // The executor shows the LED before it takes the next line.
        rig.module.expect_quiet(false);
        rig.control(r#"{"op":"led"}"#).contains(r#""lit":true"#)
    };
    assert!(!lit(&mut rig));
    rig.module.send(b"AT+TCMQTTCONN=1,5000,240,1,1\r\n");
    rig.module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    assert!(lit(&mut rig));
    rig.module.send(b"AT+TCMQTTDISCONN\r\n");
    rig.module.expect(b"\r\nOK\r\n");
    assert!(!lit(&mut rig));
    // A drop puts it out too.
    rig.module.send(b"AT+TCMQTTCONN=1,5000,240,1,0\r\n");
    rig.module.expect(b"OK\r\n+TCMQTTCONN:OK\r\n");
    assert!(lit(&mut rig));
    rig.hub.kick(None);
    rig.module.expect(b"+TCMQTTDISCON,-103\r\n");
    assert!(!lit(&mut rig));
}
