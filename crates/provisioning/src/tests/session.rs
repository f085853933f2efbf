//! The session state machine against the provisioning vectors and every
//! failure path of `cloud.md` §6, on a manual clock.

use super::harness::{other, urc, without_led, Harness, Step, APP, IDENTITY};
use super::vector;
use crate::{Action, Mode, MqttEvent, Received, Record, Server, WifiEvent};
use std::string::String;
use std::vec::Vec;

/// The vectors' pinned uptime, so the clientToken matches theirs.
pub(super) const T0: u64 = 78_612_978;
pub(super) const TOKEN: &str = "6ab82618a9d529a2ee777bf6e528a0fd";
pub(super) const DOWN: &str = "$thing/down/service/CTQS08Y5LG/Dev01";
pub(super) const UP: &str = "$thing/up/service/CTQS08Y5LG/Dev01";

pub(super) fn udp(id: &str, index: usize) -> String {
    vector(id)["outputs"]["udp"][index]["raw"]
        .as_str()
        .unwrap()
        .into()
}

pub(super) fn reply_step() -> Step {
    Step::Send(Server::Provisioning, APP, udp("prov_softap_ok", 1))
}

pub(super) fn publish_step(at: u64) -> Step {
    Step::Publish(
        UP.into(),
        std::format!(
            r#"{{"method":"app_bind_token","clientToken":"Dev01-{at}","params": {{"token":"{TOKEN}"}}}}"#
        ),
    )
}

pub(super) fn bind_reply(at: u64, code: i32) -> String {
    std::format!(
        r#"{{"method":"app_bind_token_reply","clientToken":"Dev01-{at}","code":{code},"status":"success"}}"#
    )
}

/// A softAP session started at `start` with the AP up.
pub(super) fn softap(start: u64) -> Harness {
    let mut harness = Harness::new(start);
    harness
        .provisioning
        .start(Mode::SoftAp, Record::Device, start);
    assert_eq!(harness.quiet(), [other(Action::StartRadio(Mode::SoftAp))]);
    harness.provisioning.radio_started(Ok(()), start);
    assert_eq!(
        harness.quiet(),
        [
            urc("+TCSAP:OK\r\n"),
            other(Action::OpenServer(Server::Provisioning))
        ]
    );
    assert!(harness.provisioning.is_running());
    harness
}

/// A SmartConfig session on the router with its IP, MQTT connected and
/// subscribed at `T0` - 2 s, so that a token sent then is published at `T0`.
pub(super) fn smartconfig_subscribed() -> Harness {
    let mut harness = Harness::new(T0 - 7_000);
    harness
        .provisioning
        .start(Mode::SmartConfig, Record::Device, harness.now);
    harness.provisioning.radio_started(Ok(()), harness.now);
    assert_eq!(
        harness.quiet(),
        [
            other(Action::StartRadio(Mode::SmartConfig)),
            urc("+TCSTARTSMART:OK\r\n")
        ]
    );
    harness.run_quiet(T0 - 3_000);
    harness.provisioning.wifi(WifiEvent::GotIp, harness.now);
    assert_eq!(
        harness.quiet(),
        [
            other(Action::OpenServer(Server::Provisioning)),
            other(Action::MqttConnect)
        ]
    );
    harness.run_quiet(T0 - 2_500);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::Connected, harness.now);
    assert_eq!(harness.quiet(), [Step::Subscribe(DOWN.into())]);
    harness.run_quiet(T0 - 2_000);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::Subscribed, T0 - 2_000);
    assert_eq!(harness.quiet(), []);
    harness
}

/// Sends the app's token datagram now and runs its three replies; the
/// token reaches the binding with the last one, 2 s later. Returns what
/// happened then after the last reply and the server close.
pub(super) fn send_token(harness: &mut Harness, command: &str) -> Vec<Step> {
    let at = harness.now;
    let received =
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, at);
    assert_eq!(received, Received::Nothing);
    assert_eq!(harness.quiet(), [reply_step()]);
    assert_eq!(harness.run_quiet(at + 1_999), [reply_step()]);
    let steps = harness.run_quiet(at + 2_000);
    assert_eq!(
        steps[..2],
        [
            reply_step(),
            other(Action::CloseServer(Server::Provisioning))
        ]
    );
    steps[2..].to_vec()
}

/// Completes a bind from the PUBLISH at `at`: written, PUBACK, reply.
pub(super) fn finish_bind(harness: &mut Harness, at: u64, mode: Mode) {
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWritten, harness.now);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::Puback, harness.now);
    let reply = bind_reply(at, 0);
    let message = MqttEvent::Message {
        topic: DOWN.as_bytes(),
        payload: reply.as_bytes(),
    };
    harness.provisioning.mqtt(&IDENTITY, message, harness.now);
    let prefix = core::str::from_utf8(mode.urc_prefix()).unwrap();
    let mut expected = std::vec![other(Action::MqttDisconnect)];
    if mode == Mode::SmartConfig {
        expected.push(other(Action::StopRadio));
    }
    expected.extend([
        Step::Led(true),
        urc(&std::format!("{prefix}WIFI_CONNECT_SUCCESS\r\n")),
    ]);
    assert_eq!(harness.drain(), expected);
    assert!(!harness.provisioning.is_running());
}

#[test]
fn softap_success_is_the_vector_exchange() {
    let mut harness = softap(T0 - 3_000);
    let command = udp("prov_softap_ok", 0);
    let received = harness.provisioning.datagram(
        &IDENTITY,
        Server::Provisioning,
        command.as_bytes(),
        APP,
        harness.now,
    );
    let Received::Router { ssid, password } = received else {
        panic!("no router credentials: {received:?}")
    };
    assert!(ssid.equals(b"Home-WiFi") && password.equals(b"abcd1234"));
    let start = harness.now;
    // Three replies one second apart, the server closes, the join 1 s later.
    assert_eq!(harness.quiet(), [reply_step()]);
    assert_eq!(harness.run_quiet(start + 1_999), [reply_step()]);
    assert_eq!(
        harness.run_quiet(start + 2_999),
        [
            reply_step(),
            other(Action::CloseServer(Server::Provisioning))
        ]
    );
    assert_eq!(
        harness.run_quiet(start + 3_000),
        [other(Action::JoinRouter)]
    );
    harness.provisioning.wifi(WifiEvent::GotIp, harness.now);
    assert_eq!(harness.quiet(), [other(Action::MqttConnect)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::Connected, harness.now);
    assert_eq!(harness.quiet(), [Step::Subscribe(DOWN.into())]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::Subscribed, T0);
    assert_eq!(harness.quiet(), [publish_step(T0)]);
    let vector_publish = &vector("prov_softap_ok")["outputs"]["mqtt"][2]["decoded"];
    assert_eq!(
        publish_step(T0),
        Step::Publish(
            vector_publish["topic"].as_str().unwrap().into(),
            vector_publish["payload"].as_str().unwrap().into()
        )
    );
    finish_bind(&mut harness, T0, Mode::SoftAp);
    // The AP went off with the join: no StopRadio at the end.
    assert!(harness.provisioning.errors().previous().is_empty());
}

#[test]
fn smartconfig_success_is_the_vector_exchange_and_the_token_may_come_late() {
    let mut harness = smartconfig_subscribed();
    // Subscribed before the token: step 4 waits for it.
    assert_eq!(harness.run_quiet(T0 + 1_000), []);
    assert_eq!(
        udp("prov_smartconfig_ok", 1),
        udp("prov_softap_ok", 1),
        "same reply in both modes"
    );
    let at = harness.now + 2_000;
    let steps = send_token(&mut harness, &udp("prov_smartconfig_ok", 0));
    assert_eq!(steps, [publish_step(at)]);
    finish_bind(&mut harness, at, Mode::SmartConfig);
}

#[test]
fn a_bad_command_answers_current_error_and_fails_4_206_then_the_log_ap_serves_the_log() {
    let mut harness = softap(T0);
    let command = udp("prov_softap_bad_json", 0);
    let received =
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, T0);
    assert_eq!(received, Received::Nothing);
    assert_eq!(
        harness.drain(),
        [
            Step::Send(Server::Provisioning, APP, udp("prov_softap_bad_json", 1)),
            other(Action::CloseServer(Server::Provisioning)),
            other(Action::StopRadio),
            Step::Led(false),
            other(Action::SaveErrors),
            urc("+TCSAP:WIFI_CONNECT_FAILED,4,206\r\n"),
        ]
    );
    // The sent record is gone; the unsent 4,206 is kept for the next app.
    let kept: Vec<(u8, i32)> = harness
        .provisioning
        .errors()
        .previous()
        .iter()
        .map(|failure| (failure.kind, failure.sub))
        .collect();
    assert_eq!(kept, [(4, 206)]);
    assert_eq!(harness.run_until(T0 + 2_999), []);
    assert_eq!(
        harness.run_until(T0 + 3_000),
        [
            other(Action::OpenLogAp),
            other(Action::OpenServer(Server::Log))
        ]
    );
    let query = udp("prov_log_query", 0);
    // Anything but a log query is ignored by the log server.
    assert_eq!(
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Log, b"{\"cmdType\":1}", APP, harness.now),
        Received::Nothing
    );
    assert_eq!(harness.drain(), []);
    harness
        .provisioning
        .datagram(&IDENTITY, Server::Log, query.as_bytes(), APP, harness.now);
    let dump = std::format!(
        "{T0}|start_session(1): start softAP\r\n\
         {T0}|session(8): APP command error! (2, 201)\r\n\
         {T0}|session(8): RTOS task error! (4, 206)\r\n"
    );
    let send = Step::Send(Server::Log, APP, dump);
    assert_eq!(harness.drain(), core::slice::from_ref(&send));
    assert_eq!(harness.run_until(T0 + 3_499), []);
    assert_eq!(harness.run_until(T0 + 3_500), [send]);
    // Alive six minutes.
    assert_eq!(harness.run_until(T0 + 3_000 + 359_999), []);
    assert_eq!(
        harness.run_until(T0 + 3_000 + 360_000),
        [
            other(Action::CloseServer(Server::Log)),
            other(Action::CloseLogAp)
        ]
    );
    assert_eq!(harness.provisioning.next_wake_ms(), None);
}

#[test]
fn previous_records_go_to_the_next_app_before_its_command_is_handled() {
    let mut harness = softap(T0);
    harness
        .provisioning
        .datagram(&IDENTITY, Server::Provisioning, b"{", APP, T0);
    harness.drain();
    harness.run_until(T0 + 4_000);
    // A new session closes the log AP and keeps the previous record.
    harness
        .provisioning
        .start(Mode::SoftAp, Record::Device, harness.now);
    harness.provisioning.radio_started(Ok(()), harness.now);
    assert_eq!(
        harness.quiet(),
        [
            other(Action::CloseServer(Server::Log)),
            other(Action::CloseLogAp),
            other(Action::StartRadio(Mode::SoftAp)),
            urc("+TCSAP:OK\r\n"),
            other(Action::OpenServer(Server::Provisioning)),
        ]
    );
    let command = udp("prov_softap_ok", 0);
    harness.provisioning.datagram(
        &IDENTITY,
        Server::Provisioning,
        command.as_bytes(),
        APP,
        harness.now,
    );
    let record =
        r#"{"cmdType":2,"deviceReply":"Previous_Error","log":"RTOS task error! (4, 206)"}"#;
    assert_eq!(
        harness.quiet(),
        [
            Step::Send(Server::Provisioning, APP, std::format!("{record}\r\n")),
            other(Action::SaveErrors),
            reply_step(),
        ]
    );
    assert!(harness.provisioning.errors().previous().is_empty());
}

#[test]
fn a_bad_command_gets_the_earlier_records_only_and_its_own_failure_waits_for_the_next_app() {
    let mut harness = softap(T0);
    harness
        .provisioning
        .datagram(&IDENTITY, Server::Provisioning, b"{", APP, T0);
    harness.run_until(T0 + 4_000);
    harness
        .provisioning
        .start(Mode::SoftAp, Record::Device, harness.now);
    harness.provisioning.radio_started(Ok(()), harness.now);
    harness.quiet();
    let now = harness.now;
    harness.provisioning.datagram(
        &IDENTITY,
        Server::Provisioning,
        b"{\"cmdType\":1}",
        APP,
        now,
    );
    let record = |age: &str, text: &str| {
        Step::Send(
            Server::Provisioning,
            APP,
            std::format!("{{\"cmdType\":2,\"deviceReply\":\"{age}\",\"log\":\"{text}\"}}\r\n"),
        )
    };
    let steps: std::vec::Vec<Step> = harness
        .quiet()
        .into_iter()
        .filter(|step| matches!(step, Step::Send(..)))
        .collect();
    assert_eq!(
        steps,
        [
            record("Previous_Error", "RTOS task error! (4, 206)"),
            record("Current_Error", "APP command error! (2, 204)"),
        ]
    );
    assert_eq!(
        harness.provisioning.errors().previous(),
        [crate::Failure::new(4, 206)]
    );
}

#[test]
fn the_budget_is_300_s_and_a_disconnect_leaves_50_s() {
    let mut harness = softap(1_000);
    let steps = harness.run_quiet(300_999);
    assert_eq!(steps, []);
    let steps = harness.run_quiet(301_000);
    assert_eq!(
        steps.last(),
        Some(&urc("+TCSAP:WIFI_CONNECT_FAILED,3,103\r\n"))
    );

    let mut harness = softap(0);
    harness.run_quiet(100_000);
    harness.provisioning.wifi(WifiEvent::Disconnected, 100_000);
    assert_eq!(harness.run_quiet(149_999), []);
    let steps = harness.run_quiet(150_000);
    assert_eq!(
        steps.last(),
        Some(&urc("+TCSAP:WIFI_CONNECT_FAILED,3,103\r\n"))
    );

    // A late disconnect outlives the 315 s server: it ends without a token.
    let mut harness = softap(0);
    harness.run_quiet(290_000);
    harness.provisioning.wifi(WifiEvent::Disconnected, 290_000);
    assert_eq!(harness.run_quiet(314_999), []);
    let steps = harness.run_quiet(315_000);
    assert_eq!(
        steps.last(),
        Some(&urc("+TCSAP:WIFI_CONNECT_FAILED,4,206\r\n"))
    );
}

#[test]
fn smartconfig_ended_by_the_app_before_an_ip_fails_3_101() {
    let mut harness = Harness::new(0);
    harness
        .provisioning
        .start(Mode::SmartConfig, Record::Device, 0);
    harness.provisioning.radio_started(Ok(()), 0);
    harness.drain();
    harness.provisioning.wifi(WifiEvent::SmartConfigEnded, 10);
    assert_eq!(
        harness.quiet(),
        [
            other(Action::StopRadio),
            other(Action::SaveErrors),
            urc("+TCSTARTSMART:WIFI_CONNECT_FAILED,3,101\r\n"),
        ]
    );
}

#[test]
fn the_led_blinks_with_the_period_of_the_mode() {
    for (mode, period) in [(Mode::SoftAp, 300), (Mode::SmartConfig, 600)] {
        let mut harness = Harness::new(0);
        harness.provisioning.start(mode, Record::Device, 0);
        harness.provisioning.radio_started(Ok(()), 0);
        harness.drain();
        let leds: Vec<(u64, bool)> = (1..=4 * period)
            .flat_map(|at| {
                harness
                    .run_until(at)
                    .into_iter()
                    .filter_map(move |step| match step {
                        Step::Led(lit) => Some((at, lit)),
                        _ => None,
                    })
            })
            .collect();
        assert_eq!(
            leds,
            [
                (period, true),
                (2 * period, false),
                (3 * period, true),
                (4 * period, false)
            ]
        );
    }
}

#[test]
fn stop_ends_any_session_silently_and_records_3_102() {
    let mut harness = smartconfig_subscribed();
    assert!(harness.provisioning.stop(T0));
    assert_eq!(
        harness.drain(),
        [
            other(Action::CloseServer(Server::Provisioning)),
            other(Action::MqttDisconnect),
            other(Action::StopRadio),
            Step::Led(false),
            other(Action::SaveErrors),
        ]
    );
    let kept: Vec<(u8, i32)> = harness
        .provisioning
        .errors()
        .previous()
        .iter()
        .map(|f| (f.kind, f.sub))
        .collect();
    assert_eq!(kept, [(3, 102)]);
    // No log AP after a stop, and nothing else later.
    assert_eq!(harness.run_until(T0 + 400_000), []);
    // Stopping when idle only switches the LED off and records nothing.
    assert!(!harness.provisioning.stop(harness.now));
    assert_eq!(harness.drain(), [Step::Led(false)]);
    assert_eq!(harness.provisioning.errors().previous().len(), 1);
}

#[test]
fn a_new_start_stops_the_running_session_without_a_urc_or_record() {
    let mut harness = smartconfig_subscribed();
    harness.provisioning.start(Mode::SoftAp, Record::Device, T0);
    assert_eq!(
        harness.drain(),
        [
            other(Action::CloseServer(Server::Provisioning)),
            other(Action::MqttDisconnect),
            other(Action::StopRadio),
            Step::Led(false),
            other(Action::StartRadio(Mode::SoftAp)),
        ]
    );
    assert!(harness.provisioning.errors().previous().is_empty());
}

#[test]
fn start_without_a_record_or_radio_fails_with_its_type_and_opens_the_log_ap() {
    let mut harness = Harness::new(0);
    harness
        .provisioning
        .start(Mode::SmartConfig, Record::Missing, 0);
    assert_eq!(
        harness.drain(),
        [other(Action::SaveErrors), urc("+TCSTARTSMART:FAIL,27\r\n")]
    );
    assert!(!harness.provisioning.is_running());
    assert_eq!(
        harness.run_until(3_000),
        [
            other(Action::OpenLogAp),
            other(Action::OpenServer(Server::Log))
        ]
    );
    let mut harness = Harness::new(0);
    harness.provisioning.start(Mode::SoftAp, Record::Device, 0);
    harness.drain();
    harness.provisioning.radio_started(Err(7), 5);
    assert_eq!(
        harness.drain(),
        [other(Action::SaveErrors), urc("+TCSAP:FAIL,7\r\n")]
    );
    // A late report of the radio is ignored.
    harness.provisioning.radio_started(Ok(()), 6);
    assert_eq!(harness.drain(), []);
}

#[test]
fn only_one_command_per_server_run_and_nothing_without_a_session() {
    let mut harness = Harness::new(0);
    let command = udp("prov_softap_ok", 0);
    assert_eq!(
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, 0),
        Received::Nothing
    );
    assert_eq!(
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Log, b"{\"cmdType\":3}", APP, 0),
        Received::Nothing
    );
    assert_eq!(harness.drain(), []);
    let mut harness = softap(0);
    harness
        .provisioning
        .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, 0);
    harness.drain();
    let second =
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, 10);
    assert_eq!(second, Received::Nothing);
    assert_eq!(harness.quiet(), []);
}

#[test]
fn bad_commands_get_their_sub_code() {
    let long = std::format!(
        r#"{{"cmdType":1,"ssid":"s","password":"p","token":"{}"}}"#,
        "a".repeat(220)
    );
    let cases: [(&str, &str); 6] = [
        ("not json", "201"),
        (r#"{"cmdType":9,"token":"t"}"#, "201"),
        (r#"{"token":"t"}"#, "201"),
        (r#"{"cmdType":1,"ssid":"s","token":"t"}"#, "204"),
        (r#"{"cmdType":0}"#, "204"),
        (&long, "201"),
    ];
    for (command, sub_code) in cases {
        let mut harness = softap(0);
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, 0);
        let record = std::format!(
            "{{\"cmdType\":2,\"deviceReply\":\"Current_Error\",\"log\":\"APP command error! (2, {sub_code})\"}}\r\n"
        );
        assert_eq!(
            harness.quiet()[0],
            Step::Send(Server::Provisioning, APP, record),
            "{command}"
        );
    }
    // SmartConfig's token-only command is no softAP command.
    let mut harness = softap(0);
    harness.provisioning.datagram(
        &IDENTITY,
        Server::Provisioning,
        udp("prov_smartconfig_ok", 0).as_bytes(),
        APP,
        0,
    );
    assert!(matches!(&harness.quiet()[0], Step::Send(_, _, text) if text.contains("(2, 204)")));
}

#[test]
fn tokens_are_cut_to_32_bytes_and_the_log_never_holds_a_secret() {
    let mut harness = smartconfig_subscribed();
    let command = std::format!(r#"{{"cmdType":0,"token":"{TOKEN}EXTRA"}}"#);
    assert_eq!(send_token(&mut harness, &command), [publish_step(T0)]);
    finish_bind(&mut harness, T0, Mode::SmartConfig);
    let mut harness = softap(0);
    let command = udp("prov_softap_ok", 0);
    harness
        .provisioning
        .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, 0);
    let mut dump = [0u8; 1024];
    let length = harness.provisioning.log().write_dump(&mut dump).unwrap();
    let dump = String::from_utf8_lossy(&dump[..length]).into_owned();
    assert!(dump.contains("command cmdType 1"));
    assert!(!dump.contains("abcd1234") && !dump.contains(TOKEN));
}

#[test]
fn the_log_keeps_the_last_ten_entries() {
    let mut log = crate::LogBook::new();
    for at in 0..15 {
        log.add(at, crate::LogEvent::Command(1));
    }
    assert_eq!(log.len(), crate::LOG_CAPACITY);
    let mut dump = [0u8; 1024];
    let length = log.write_dump(&mut dump).unwrap();
    let text = String::from_utf8_lossy(&dump[..length]).into_owned();
    assert!(text.starts_with("5|udp_server(2): command cmdType 1\r\n"));
    assert!(log.write_dump(&mut [0u8; 10]).is_err());
}

#[test]
fn a_dump_that_does_not_fit_keeps_the_newest_entries() {
    let mut log = crate::LogBook::new();
    // The longest entry: ten-digit uptime, the longest type text, an 11-character sub-code.
    let worst = crate::Failure::new(13, i32::MIN);
    for _ in 0..crate::LOG_CAPACITY {
        log.add(4_294_967_295, crate::LogEvent::Failed(worst));
    }
    let mut dump = [0u8; 1024];
    let whole = log.write_dump(&mut dump).unwrap();
    let entry = "4294967295|session(8): ESP smartconfig start error! (13, -2147483648)\r\n";
    assert_eq!(whole, crate::LOG_CAPACITY * entry.len());
    assert_eq!(entry.len(), 71);
    // The esp8266 work buffer (702 bytes) takes the newest nine.
    let mut small = [0u8; 702];
    let length = log.write_dump(&mut small).unwrap();
    assert_eq!(length, 9 * entry.len());
    assert_eq!(&small[..entry.len()], entry.as_bytes());
    log.add(5, crate::LogEvent::GotIp);
    let length = log.write_dump(&mut small).unwrap();
    assert!(String::from_utf8_lossy(&small[..length]).ends_with("5|wifi_event(3): got IP\r\n"));
}

#[test]
fn error_records_keep_sixteen_and_restore_the_newest() {
    let mut records = crate::ErrorRecords::new();
    for sub_code in 0..20 {
        records.record(crate::Failure::new(2, sub_code));
    }
    assert_eq!(records.current().len(), 16);
    assert!(records.end_session());
    assert_eq!({ records.previous()[0].sub }, 4);
    assert!(!records.end_session());
    let all: Vec<crate::Failure> = (0..20)
        .map(|sub_code| crate::Failure::new(1, sub_code))
        .collect();
    let restored = crate::ErrorRecords::restored(&all);
    assert_eq!(restored.previous().len(), 16);
    assert_eq!({ restored.previous()[0].sub }, 4);
    let _ = without_led(Vec::new());
}

#[test]
fn the_state_fits_the_memory_budget() {
    use core::mem::size_of;
    let sizes = [
        ("Provisioning", size_of::<crate::Provisioning>()),
        ("dynreg::Exchange", size_of::<crate::dynreg::Exchange>()),
        ("ErrorRecords", size_of::<crate::ErrorRecords>()),
        ("LogBook", size_of::<crate::LogBook>()),
    ];
    std::println!("{sizes:?}");
    // design.md gives OTA, provisioning and gateway about 2,000 bytes together; the machine
    // is a ratchet at its measured size (x86_64): timers as 8-byte moments, queued work and
    // log entries and error records packed to alignment one, rings with one-byte positions.
    assert!(sizes[0].1 <= 448, "{sizes:?}");
    assert!(sizes[3].1 <= 102, "{sizes:?}");
    assert!(sizes[1].1 <= 128, "{sizes:?}");
}

#[test]
fn every_log_event_survives_its_packing() {
    let events = [
        crate::LogEvent::Started(Mode::SoftAp),
        crate::LogEvent::Started(Mode::SmartConfig),
        crate::LogEvent::Command(3),
        crate::LogEvent::GotIp,
        crate::LogEvent::Registered,
        crate::LogEvent::Connected,
        crate::LogEvent::TokenSent,
        crate::LogEvent::BindReply(-7),
        crate::LogEvent::Failed(crate::Failure::new(1, -104)),
        crate::LogEvent::Succeeded,
    ];
    let mut log = crate::LogBook::new();
    for (at, event) in events.into_iter().enumerate() {
        log.add(at as u64 + (1 << 32), event);
    }
    let mut dump = [0u8; 1024];
    let length = log.write_dump(&mut dump).unwrap();
    let text = String::from_utf8_lossy(&dump[..length]).into_owned();
    let expected = "0|start_session(1): start softAP\r\n\
        1|start_session(1): start SmartConfig\r\n\
        2|udp_server(2): command cmdType 3\r\n\
        3|wifi_event(3): got IP\r\n\
        4|register(4): device registered\r\n\
        5|bind_session(5): MQTT connected\r\n\
        6|bind_session(6): token sent\r\n\
        7|bind_session(7): bind reply code -7\r\n\
        8|session(8): MQTT connect error! (1, -104)\r\n\
        9|session(9): provisioning success\r\n";
    assert_eq!(text, expected);
}
