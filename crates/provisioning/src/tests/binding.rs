//! The binding of `cloud.md` §6.5: region, token and PUBACK retries, the
//! bind reply, connect retries and registration first.

use super::harness::{other, urc, Harness, Step, APP, IDENTITY};
use super::session::{
    bind_reply, finish_bind, publish_step, send_token, smartconfig_subscribed, softap, udp, DOWN,
    T0, TOKEN, UP,
};
use super::vector;
use crate::{Action, Mode, MqttEvent, Record, Server, WifiEvent};
use std::string::String;
use std::vec::Vec;

#[test]
fn a_region_fault_connects_but_never_publishes() {
    let mut harness = smartconfig_subscribed();
    // The three replies go out first, as in the vector.
    let steps = send_token(&mut harness, &udp("prov_smartconfig_region_fault", 0));
    assert_eq!(
        steps,
        [
            other(Action::MqttDisconnect),
            other(Action::StopRadio),
            other(Action::SaveErrors),
            urc("+TCSTARTSMART:WIFI_CONNECT_FAILED,1,26\r\n"),
        ]
    );
    assert!(vector("prov_smartconfig_region_fault")["outputs"]["mqtt"]
        .as_array()
        .unwrap()
        .iter()
        .all(|packet| packet["decoded"]["type"] != "PUBLISH"));
}

#[test]
fn an_explicit_matching_region_is_accepted() {
    let mut harness = smartconfig_subscribed();
    let command = std::format!(r#"{{"cmdType":0,"token":"{TOKEN}","region":"ap-guangzhou"}}"#);
    assert_eq!(send_token(&mut harness, &command), [publish_step(T0)]);
}

#[test]
fn no_token_within_20_s_three_times_fails_1_25() {
    let mut harness = smartconfig_subscribed();
    assert_eq!(harness.run_quiet(T0 + 57_999), []);
    assert_eq!(
        harness.run_quiet(T0 + 58_000),
        [
            other(Action::CloseServer(Server::Provisioning)),
            other(Action::MqttDisconnect),
            other(Action::StopRadio),
            other(Action::SaveErrors),
            urc("+TCSTARTSMART:WIFI_CONNECT_FAILED,1,25\r\n"),
        ]
    );
}

#[test]
fn no_puback_three_rounds_fails_minus_104_five_seconds_after_the_last_publish() {
    let mut harness = smartconfig_subscribed();
    let command = udp("prov_smartconfig_ok", 0);
    assert_eq!(send_token(&mut harness, &command), [publish_step(T0)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWritten, T0);
    let mut publishes = std::vec![T0];
    let mut end = Vec::new();
    for _ in 0..40 {
        for step in harness.run_quiet(harness.now + 500) {
            match step {
                Step::Publish(..) => {
                    publishes.push(harness.now);
                    harness
                        .provisioning
                        .mqtt(&IDENTITY, MqttEvent::PublishWritten, harness.now);
                }
                Step::Urc(text) => end.push((harness.now, text)),
                _ => {}
            }
        }
    }
    assert_eq!(publishes, [T0, T0 + 5_000, T0 + 10_000]);
    assert_eq!(
        end,
        [(
            T0 + 15_000,
            String::from("+TCSTARTSMART:WIFI_CONNECT_FAILED,1,-104\r\n")
        )]
    );
}

#[test]
fn a_failed_write_is_repeated_at_once_up_to_three_times_then_the_puback_wait() {
    let mut harness = smartconfig_subscribed();
    let command = udp("prov_smartconfig_ok", 0);
    assert_eq!(send_token(&mut harness, &command), [publish_step(T0)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWriteFailed, T0);
    assert_eq!(harness.quiet(), [publish_step(T0)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWriteFailed, T0);
    assert_eq!(harness.quiet(), [publish_step(T0)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWriteFailed, T0);
    assert_eq!(harness.quiet(), []);
    // The wait for the PUBACK still runs; it arrives and the bind completes.
    harness.run_quiet(T0 + 4_000);
    finish_bind(&mut harness, T0, Mode::SmartConfig);
}

#[test]
fn a_non_zero_bind_reply_is_recorded_as_24_and_a_missing_one_still_succeeds() {
    let mut harness = smartconfig_subscribed();
    let command = udp("prov_smartconfig_ok", 0);
    assert_eq!(send_token(&mut harness, &command), [publish_step(T0)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWritten, T0);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::Puback, T0 + 100);
    // Replies to other tokens or topics are not ours.
    for (topic, payload) in [
        (DOWN, bind_reply(T0 + 1, 0)),
        (UP, bind_reply(T0, 0)),
        (DOWN, String::from("{")),
    ] {
        let message = MqttEvent::Message {
            topic: topic.as_bytes(),
            payload: payload.as_bytes(),
        };
        harness.provisioning.mqtt(&IDENTITY, message, T0 + 200);
    }
    assert_eq!(harness.quiet(), []);
    assert!(harness.provisioning.is_running());
    let reply = bind_reply(T0, 1503);
    let message = MqttEvent::Message {
        topic: DOWN.as_bytes(),
        payload: reply.as_bytes(),
    };
    harness.provisioning.mqtt(&IDENTITY, message, T0 + 300);
    let steps = harness.quiet();
    assert_eq!(
        steps.last(),
        Some(&urc("+TCSTARTSMART:WIFI_CONNECT_SUCCESS\r\n"))
    );
    assert!(steps.contains(&other(Action::SaveErrors)));
    let kept: Vec<(u8, i32)> = harness
        .provisioning
        .errors()
        .previous()
        .iter()
        .map(|f| (f.kind, f.sub))
        .collect();
    assert_eq!(kept, [(24, 1503)]);

    let mut harness = smartconfig_subscribed();
    assert_eq!(send_token(&mut harness, &command), [publish_step(T0)]);
    harness
        .provisioning
        .mqtt(&IDENTITY, MqttEvent::PublishWritten, T0);
    harness.provisioning.mqtt(&IDENTITY, MqttEvent::Puback, T0);
    let steps = harness.run_quiet(T0 + 4_999);
    assert!(!steps.iter().any(|step| matches!(step, Step::Urc(_))));
    let steps = harness.run_quiet(T0 + 5_000);
    assert_eq!(
        steps.last(),
        Some(&urc("+TCSTARTSMART:WIFI_CONNECT_SUCCESS\r\n"))
    );
}

#[test]
fn a_connect_failure_is_retried_once_after_1_s_or_2_s_without_wifi() {
    for (wifi_down, delay) in [(false, 1_000), (true, 2_000)] {
        let mut harness = softap(0);
        let command = udp("prov_softap_ok", 0);
        harness
            .provisioning
            .datagram(&IDENTITY, Server::Provisioning, command.as_bytes(), APP, 0);
        harness.run_quiet(3_000);
        harness.provisioning.wifi(WifiEvent::GotIp, 3_000);
        assert_eq!(harness.quiet(), [other(Action::MqttConnect)]);
        if wifi_down {
            harness.provisioning.wifi(WifiEvent::Disconnected, 3_000);
        }
        harness
            .provisioning
            .mqtt(&IDENTITY, MqttEvent::ConnectFailed(-603), 3_000);
        assert_eq!(harness.run_quiet(3_000 + delay - 1), []);
        assert_eq!(
            harness.run_quiet(3_000 + delay),
            [other(Action::MqttConnect)]
        );
        harness
            .provisioning
            .mqtt(&IDENTITY, MqttEvent::ConnectFailed(-116), harness.now);
        assert_eq!(
            harness.quiet(),
            [
                other(Action::MqttDisconnect),
                other(Action::SaveErrors),
                urc("+TCSAP:WIFI_CONNECT_FAILED,1,-116\r\n"),
            ]
        );
    }
}

#[test]
fn a_product_record_registers_first_and_a_registration_failure_ends_the_session() {
    for result in [Ok(()), Err(1021)] {
        let mut harness = Harness::new(0);
        harness
            .provisioning
            .start(Mode::SmartConfig, Record::Product, 0);
        harness.provisioning.radio_started(Ok(()), 0);
        harness.drain();
        harness.provisioning.wifi(WifiEvent::GotIp, 10);
        assert_eq!(
            harness.quiet(),
            [
                other(Action::OpenServer(Server::Provisioning)),
                other(Action::Register)
            ]
        );
        harness.provisioning.registered(result, 20);
        let expected = match result {
            Ok(()) => std::vec![other(Action::MqttConnect)],
            Err(_) => std::vec![
                other(Action::CloseServer(Server::Provisioning)),
                other(Action::StopRadio),
                other(Action::SaveErrors),
                urc("+TCSTARTSMART:WIFI_CONNECT_FAILED,1,1021\r\n"),
            ],
        };
        assert_eq!(harness.quiet(), expected);
    }
}

#[test]
fn reports_out_of_their_phase_change_nothing() {
    let mut harness = softap(0);
    let before = harness.provisioning.next_wake_ms();
    let reply = bind_reply(0, 0);
    for event in [
        MqttEvent::Connected,
        MqttEvent::ConnectFailed(-603),
        MqttEvent::Subscribed,
        MqttEvent::SubscribeFailed,
        MqttEvent::PublishWritten,
        MqttEvent::PublishWriteFailed,
        MqttEvent::Puback,
        MqttEvent::Message {
            topic: DOWN.as_bytes(),
            payload: reply.as_bytes(),
        },
    ] {
        harness.provisioning.mqtt(&IDENTITY, event, 10);
    }
    harness.provisioning.registered(Ok(()), 10);
    harness.provisioning.registered(Err(1004), 10);
    harness.provisioning.radio_started(Err(8), 10);
    // Waiting for the app's command: an IP or SmartConfig's end mean nothing yet.
    harness.provisioning.wifi(WifiEvent::GotIp, 10);
    harness.provisioning.wifi(WifiEvent::SmartConfigEnded, 10);
    assert_eq!(harness.quiet(), []);
    assert!(harness.provisioning.is_running());
    assert_eq!(harness.provisioning.next_wake_ms(), before);
    assert!(harness.provisioning.errors().current().is_empty());
    // Without a session nothing reacts at all.
    let mut idle = Harness::new(0);
    idle.provisioning.mqtt(&IDENTITY, MqttEvent::Connected, 0);
    idle.provisioning.wifi(WifiEvent::GotIp, 0);
    idle.provisioning.registered(Ok(()), 0);
    idle.provisioning.radio_started(Ok(()), 0);
    assert_eq!(idle.drain(), []);
    assert_eq!(idle.provisioning.next_wake_ms(), None);
}
