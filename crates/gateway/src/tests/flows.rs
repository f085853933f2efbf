//! The state machine on a manual clock: every result of `commands.md` §10.

use crate::{
    code, Action, Channel, Gateway, Operation, Outcome, Request, Secret, SubDevice, Subscription,
    TIME_REPLY_TIMEOUT_MS,
};
use std::format;
use std::string::String;
use std::vec::Vec;

const TIMEOUT: u32 = 5_000;

fn device(name: &str) -> SubDevice {
    SubDevice::new(b"CTQS08Y5LG", name.as_bytes()).unwrap()
}

fn bind_request(name: &str) -> Request {
    Request::Bind {
        subdevice: device(name),
        secret: Secret::from_bytes(b"ZHNkIGRzZCA=".iter().copied()).unwrap(),
        // Mapped to 123456789 (r % 2147483647 + 1).
        random: 123_456_788,
    }
}

fn reply(operation: &str, name: &str, result: i32) -> String {
    format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{{"product_id":"CTQS08Y5LG","device_name":"{name}","result":{result}}}]}}}}"#
    )
}

/// Polls until the gateway waits; returns the actions.
fn drain(gateway: &mut Gateway, now: u64) -> Vec<Action> {
    let mut actions = Vec::new();
    while let Some(action) = gateway.poll(now) {
        actions.push(action);
    }
    actions
}

fn payload(gateway: &Gateway) -> String {
    let mut out = [0u8; crate::MAXIMUM_REQUEST_LENGTH];
    let length = gateway.write_payload(&mut out).unwrap();
    String::from_utf8(out[..length].to_vec()).unwrap()
}

/// A gateway whose result slot is subscribed.
fn prepared() -> Gateway {
    let mut gateway = Gateway::new();
    gateway
        .begin(
            Request::Unbind {
                subdevice: device("x"),
            },
            TIMEOUT,
        )
        .unwrap();
    assert_eq!(drain(&mut gateway, 0), [Action::Subscribe(Channel::Result)]);
    gateway.subscribed(Channel::Result, Subscription::Granted);
    assert_eq!(drain(&mut gateway, 0), [Action::Publish(Channel::Request)]);
    assert!(gateway.handle_message(Channel::Result, reply("unbind", "x", 0).as_bytes()));
    assert_eq!(
        drain(&mut gateway, 0),
        [Action::Finished(Operation::Unbind, Outcome::Ok)]
    );
    gateway
}

/// Runs one online or offline on a prepared gateway with the cloud's `result`.
fn status(gateway: &mut Gateway, request: Request, result: i32) -> Vec<Action> {
    let operation = request.operation();
    let name = match &request {
        Request::Online { subdevice } | Request::Offline { subdevice } => {
            String::from_utf8(subdevice.device_name().to_vec()).unwrap()
        }
        _ => unreachable!(),
    };
    gateway.begin(request, TIMEOUT).unwrap();
    let mut actions = drain(gateway, 0);
    if actions == [Action::Publish(Channel::Request)] {
        assert!(gateway.handle_message(
            Channel::Result,
            reply(operation.name(), &name, result).as_bytes()
        ));
        actions = drain(gateway, 1);
    }
    actions
}

#[test]
fn bind_runs_preparation_time_query_and_signed_request() {
    let mut gateway = Gateway::new();
    gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
    assert_eq!(gateway.next_deadline(), Some(0));
    assert_eq!(
        drain(&mut gateway, 10),
        [Action::Subscribe(Channel::Result)]
    );
    assert_eq!(
        gateway.next_deadline(),
        None,
        "the SUBACK wait is the session's"
    );
    gateway.subscribed(Channel::Result, Subscription::Granted);
    assert_eq!(
        drain(&mut gateway, 20),
        [Action::Subscribe(Channel::TimeResult)]
    );
    gateway.subscribed(Channel::TimeResult, Subscription::Granted);
    assert_eq!(
        drain(&mut gateway, 30),
        [Action::Publish(Channel::TimeRequest)]
    );
    assert_eq!(
        payload(&gateway),
        r#"{"type": "get", "resource": ["time"]}"#
    );
    assert_eq!(gateway.next_deadline(), Some(30 + TIME_REPLY_TIMEOUT_MS));
    assert!(!gateway.handle_message(Channel::TimeResult, br#"{"type":"get"}"#));
    assert!(gateway.handle_message(Channel::TimeResult, br#"{"type":"get","time":1700000000}"#));
    assert_eq!(drain(&mut gateway, 40), [Action::Publish(Channel::Request)]);
    assert_eq!(
        payload(&gateway),
        r#"{"type":"bind","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"Dev01","signature":"RJE0ap6d1dxRBmjp1G4Ifht8htQ=","random":123456789,"timestamp":1700000000,"signmethod":"hmacsha1","authtype":"psk"}]}}"#
    );
    assert_eq!(gateway.next_deadline(), Some(40 + u64::from(TIMEOUT)));
    assert!(gateway.handle_message(Channel::Result, reply("bind", "Dev01", 0).as_bytes()));
    assert_eq!(
        drain(&mut gateway, 50),
        [Action::Finished(Operation::Bind, Outcome::Ok)]
    );
    assert!(!gateway.is_busy());
    assert!(gateway.online().is_empty(), "a bind does not online");
    // The next bind reuses both slots.
    gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
    assert_eq!(
        drain(&mut gateway, 60),
        [Action::Publish(Channel::TimeRequest)]
    );
}

#[test]
fn bind_results_809_is_ok_others_pass_through() {
    for (result, outcome) in [
        (809, Outcome::Ok),
        (803, Outcome::Fail(803)),
        (810, Outcome::Fail(810)),
        (-1, Outcome::Fail(-1)),
        (12345, Outcome::Fail(12345)),
    ] {
        let mut gateway = prepared();
        gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
        drain(&mut gateway, 0);
        gateway.subscribed(Channel::TimeResult, Subscription::Granted);
        drain(&mut gateway, 0);
        gateway.handle_message(Channel::TimeResult, br#"{"type":"get","time":1}"#);
        drain(&mut gateway, 0);
        assert!(gateway.handle_message(Channel::Result, reply("bind", "Dev01", result).as_bytes()));
        assert_eq!(
            drain(&mut gateway, 0),
            [Action::Finished(Operation::Bind, outcome)],
            "{result}"
        );
    }
    // 809 is OK only for a bind.
    let mut gateway = prepared();
    gateway
        .begin(
            Request::Unbind {
                subdevice: device("Dev01"),
            },
            TIMEOUT,
        )
        .unwrap();
    drain(&mut gateway, 0);
    gateway.handle_message(Channel::Result, reply("unbind", "Dev01", 809).as_bytes());
    assert_eq!(
        drain(&mut gateway, 0),
        [Action::Finished(Operation::Unbind, Outcome::Fail(809))]
    );
}

#[test]
fn time_query_failures_give_minus_1001_and_send_nothing() {
    // Refused and missing SUBACK of the $sys slot.
    for outcome in [Subscription::Refused, Subscription::TimedOut] {
        let mut gateway = prepared();
        gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
        assert_eq!(
            drain(&mut gateway, 0),
            [Action::Subscribe(Channel::TimeResult)]
        );
        gateway.subscribed(Channel::TimeResult, outcome);
        assert_eq!(
            drain(&mut gateway, 0),
            [Action::Finished(
                Operation::Bind,
                Outcome::Fail(code::TIME_QUERY_FAILED)
            )]
        );
        assert!(!gateway.is_subscribed(Channel::TimeResult));
    }
    // No reply within 2000 ms (a reply without an integer time does not count).
    let mut gateway = prepared();
    gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
    drain(&mut gateway, 0);
    gateway.subscribed(Channel::TimeResult, Subscription::Granted);
    assert_eq!(
        drain(&mut gateway, 100),
        [Action::Publish(Channel::TimeRequest)]
    );
    assert!(!gateway.handle_message(Channel::TimeResult, br#"{"type":"get","time":"1"}"#));
    assert_eq!(drain(&mut gateway, 2_099), []);
    assert_eq!(
        drain(&mut gateway, 2_100),
        [Action::Finished(Operation::Bind, Outcome::Fail(-1001))]
    );
}

#[test]
fn result_subscription_refused_or_silent_and_retried_next_time() {
    for (outcome, expected) in [(Subscription::Refused, -108), (Subscription::TimedOut, 202)] {
        let mut gateway = Gateway::new();
        gateway
            .begin(
                Request::Online {
                    subdevice: device("Dev01"),
                },
                TIMEOUT,
            )
            .unwrap();
        assert_eq!(drain(&mut gateway, 0), [Action::Subscribe(Channel::Result)]);
        gateway.subscribed(Channel::Result, outcome);
        assert_eq!(
            drain(&mut gateway, 0),
            [Action::Finished(Operation::Online, Outcome::Fail(expected))]
        );
        gateway
            .begin(
                Request::Online {
                    subdevice: device("Dev01"),
                },
                TIMEOUT,
            )
            .unwrap();
        assert_eq!(drain(&mut gateway, 0), [Action::Subscribe(Channel::Result)]);
    }
}

#[test]
fn no_reply_within_cmdtimeout_is_202() {
    let mut gateway = prepared();
    gateway
        .begin(
            Request::Online {
                subdevice: device("Dev01"),
            },
            TIMEOUT,
        )
        .unwrap();
    assert_eq!(
        drain(&mut gateway, 1_000),
        [Action::Publish(Channel::Request)]
    );
    assert_eq!(drain(&mut gateway, 5_999), []);
    assert_eq!(
        drain(&mut gateway, 6_000),
        [Action::Finished(Operation::Online, Outcome::Fail(202))]
    );
    assert!(gateway.online().is_empty());
    // A late reply is ignored.
    assert!(!gateway.handle_message(Channel::Result, reply("online", "Dev01", 0).as_bytes()));
}

#[test]
fn replies_for_other_requests_are_ignored() {
    let mut gateway = prepared();
    gateway
        .begin(
            Request::Online {
                subdevice: device("Dev01"),
            },
            TIMEOUT,
        )
        .unwrap();
    drain(&mut gateway, 0);
    let other_product = r#"{"type":"online","payload":{"devices":[{"product_id":"OTHERPID01","device_name":"Dev01","result":0}]}}"#;
    let oversized = format!("{}{}", reply("online", "Dev01", 0), " ".repeat(1024));
    for ignored in [
        reply("offline", "Dev01", 0),
        reply("online", "Dev02", 0),
        reply("online", "Dev0", 0),
        String::from(other_product),
        oversized,
        String::from("garbage"),
    ] {
        assert!(
            !gateway.handle_message(Channel::Result, ignored.as_bytes()),
            "{ignored}"
        );
        assert!(
            !gateway.handle_message(Channel::TimeResult, reply("online", "Dev01", 0).as_bytes())
        );
    }
    assert_eq!(drain(&mut gateway, 1), []);
    assert!(gateway.handle_message(Channel::Result, reply("online", "Dev01", -1).as_bytes()));
    assert_eq!(
        drain(&mut gateway, 2),
        [Action::Finished(Operation::Online, Outcome::Fail(-1))]
    );
    assert!(
        gateway.online().is_empty(),
        "a failed online leaves the list unchanged"
    );
}

#[test]
fn link_lost_during_any_wait_is_minus_103() {
    // During the SUBACK wait, the time wait and the reply wait.
    for stage in 0..3 {
        let mut gateway = Gateway::new();
        gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
        drain(&mut gateway, 0);
        if stage > 0 {
            gateway.subscribed(Channel::Result, Subscription::Granted);
            drain(&mut gateway, 0);
            gateway.subscribed(Channel::TimeResult, Subscription::Granted);
            drain(&mut gateway, 0);
        }
        if stage > 1 {
            gateway.handle_message(Channel::TimeResult, br#"{"time":1}"#);
            assert_eq!(drain(&mut gateway, 0), [Action::Publish(Channel::Request)]);
        }
        gateway.link_lost();
        assert_eq!(
            drain(&mut gateway, 0),
            [Action::Finished(
                Operation::Bind,
                Outcome::Fail(code::LINK_LOST)
            )],
            "stage {stage}"
        );
    }
}

#[test]
fn online_list_checks_come_after_preparation_and_send_nothing() {
    let mut gateway = Gateway::new();
    // -222 needs the preparation first.
    gateway
        .begin(
            Request::Offline {
                subdevice: device("Dev01"),
            },
            TIMEOUT,
        )
        .unwrap();
    assert_eq!(drain(&mut gateway, 0), [Action::Subscribe(Channel::Result)]);
    gateway.subscribed(Channel::Result, Subscription::Granted);
    assert_eq!(
        drain(&mut gateway, 0),
        [Action::Finished(Operation::Offline, Outcome::Fail(-222))]
    );
    for index in 0..16 {
        let actions = status(
            &mut gateway,
            Request::Online {
                subdevice: device(&format!("d{index}")),
            },
            0,
        );
        assert_eq!(actions, [Action::Finished(Operation::Online, Outcome::Ok)]);
    }
    assert_eq!(
        status(
            &mut gateway,
            Request::Online {
                subdevice: device("d3")
            },
            0
        ),
        [Action::Finished(Operation::Online, Outcome::Fail(-224))]
    );
    assert_eq!(
        status(
            &mut gateway,
            Request::Online {
                subdevice: device("d16")
            },
            0
        ),
        [Action::Finished(Operation::Online, Outcome::Fail(-221))]
    );
    // A failed offline keeps the entry; a successful one removes it.
    assert_eq!(
        status(
            &mut gateway,
            Request::Offline {
                subdevice: device("d3")
            },
            -2
        ),
        [Action::Finished(Operation::Offline, Outcome::Fail(-2))]
    );
    assert!(gateway.online().contains(&device("d3")));
    assert_eq!(
        status(
            &mut gateway,
            Request::Offline {
                subdevice: device("d3")
            },
            0
        ),
        [Action::Finished(Operation::Offline, Outcome::Ok)]
    );
    assert!(!gateway.online().contains(&device("d3")));
    assert_eq!(gateway.online().newest_first().next(), Some(&device("d15")));
    // A successful unbind removes it too.
    gateway
        .begin(
            Request::Unbind {
                subdevice: device("d15"),
            },
            TIMEOUT,
        )
        .unwrap();
    drain(&mut gateway, 0);
    gateway.handle_message(Channel::Result, reply("unbind", "d15", 0).as_bytes());
    drain(&mut gateway, 0);
    assert_eq!(gateway.online().len(), 14);
    // The session end clears the list and both slots.
    gateway.end_session();
    assert!(gateway.online().is_empty());
    assert!(!gateway.is_subscribed(Channel::Result));
}

#[test]
fn one_job_at_a_time() {
    let mut gateway = Gateway::new();
    gateway
        .begin(
            Request::Online {
                subdevice: device("a"),
            },
            TIMEOUT,
        )
        .unwrap();
    assert!(gateway
        .begin(
            Request::Online {
                subdevice: device("b")
            },
            TIMEOUT
        )
        .is_err());
    assert!(gateway.begin_reonline(TIMEOUT).is_err());
}

#[test]
fn reonline_walks_the_list_oldest_first_and_drops_failures_silently() {
    let mut gateway = prepared();
    for name in ["a", "b", "c", "d"] {
        status(
            &mut gateway,
            Request::Online {
                subdevice: device(name),
            },
            0,
        );
    }
    gateway.link_lost();
    gateway.begin_reonline(TIMEOUT).unwrap();
    // a: 0 keeps it; b: -1 drops it; c: no reply drops it; d: 0.
    assert_eq!(drain(&mut gateway, 0), [Action::Publish(Channel::Request)]);
    assert_eq!(
        payload(&gateway),
        r#"{"type":"online","payload":{"devices":[{"product_id":"CTQS08Y5LG","device_name":"a"}]}}"#
    );
    assert!(gateway.handle_message(Channel::Result, reply("online", "a", 0).as_bytes()));
    assert_eq!(drain(&mut gateway, 10), [Action::Publish(Channel::Request)]);
    assert!(payload(&gateway).contains(r#""device_name":"b""#));
    assert!(gateway.handle_message(Channel::Result, reply("online", "b", -1).as_bytes()));
    assert_eq!(drain(&mut gateway, 20), [Action::Publish(Channel::Request)]);
    assert!(payload(&gateway).contains(r#""device_name":"c""#));
    assert_eq!(drain(&mut gateway, 5_019), []);
    assert_eq!(
        drain(&mut gateway, 5_020),
        [Action::Publish(Channel::Request)]
    );
    assert!(payload(&gateway).contains(r#""device_name":"d""#));
    assert!(gateway.handle_message(Channel::Result, reply("online", "d", 0).as_bytes()));
    assert_eq!(drain(&mut gateway, 5_030), [Action::ReonlineFinished]);
    let left: Vec<_> = gateway.online().oldest_first().copied().collect();
    assert_eq!(left, [device("a"), device("d")]);
}

#[test]
fn reonline_of_an_empty_list_finishes_at_once_and_a_drop_keeps_the_list() {
    let mut gateway = Gateway::new();
    gateway.begin_reonline(TIMEOUT).unwrap();
    assert_eq!(drain(&mut gateway, 0), [Action::ReonlineFinished]);
    let mut gateway = prepared();
    status(
        &mut gateway,
        Request::Online {
            subdevice: device("a"),
        },
        0,
    );
    gateway.begin_reonline(TIMEOUT).unwrap();
    drain(&mut gateway, 0);
    gateway.link_lost();
    assert_eq!(drain(&mut gateway, 0), []);
    assert!(!gateway.is_busy());
    assert_eq!(gateway.online().len(), 1);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let mut gateway = Gateway::new();
    gateway.begin(bind_request("Dev01"), TIMEOUT).unwrap();
    let text = format!("{gateway:?} {:?}", bind_request("Dev01"));
    assert!(!text.contains("ZHNkIGRzZCA"), "{text}");
}
