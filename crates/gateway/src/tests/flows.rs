//! The state machine on a manual clock: preparation, the time query, the
//! request and every result of `commands.md` §10 for a single command.

use super::support::{bind_request, device, drain, payload, prepared, reply, TIMEOUT};
use crate::{
    code, Action, Channel, Gateway, Operation, Outcome, Request, Subscription,
    TIME_REPLY_TIMEOUT_MS,
};
use std::format;
use std::string::String;

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
