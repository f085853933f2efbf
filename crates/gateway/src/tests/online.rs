//! The online list through the state machine: the list checks, the re-online
//! after a reconnect, the session end and the secret's privacy.

use super::support::{bind_request, device, drain, payload, prepared, reply, status, TIMEOUT};
use crate::{Action, Channel, Gateway, Operation, Outcome, Request, Subscription};
use std::format;
use std::vec::Vec;

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
