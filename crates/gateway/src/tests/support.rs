//! Shared helpers of the state-machine tests: a manual clock is just the `now`
//! argument.

use crate::{
    Action, Channel, Gateway, Operation, Outcome, Request, Secret, SubDevice, Subscription,
};
use std::format;
use std::string::String;
use std::vec::Vec;

pub(super) const TIMEOUT: u32 = 5_000;

pub(super) fn device(name: &str) -> SubDevice {
    SubDevice::new(b"CTQS08Y5LG", name.as_bytes()).unwrap()
}

pub(super) fn bind_request(name: &str) -> Request {
    Request::Bind {
        subdevice: device(name),
        secret: Secret::from_bytes(b"ZHNkIGRzZCA=".iter().copied()).unwrap(),
        // Mapped to 123456789 (r % 2147483647 + 1).
        random: 123_456_788,
    }
}

pub(super) fn reply(operation: &str, name: &str, result: i32) -> String {
    format!(
        r#"{{"type":"{operation}","payload":{{"devices":[{{"product_id":"CTQS08Y5LG","device_name":"{name}","result":{result}}}]}}}}"#
    )
}

/// Polls until the gateway waits; returns the actions.
pub(super) fn drain(gateway: &mut Gateway, now: u64) -> Vec<Action> {
    let mut actions = Vec::new();
    while let Some(action) = gateway.poll(now) {
        actions.push(action);
    }
    actions
}

pub(super) fn payload(gateway: &Gateway) -> String {
    let mut out = [0u8; crate::MAXIMUM_REQUEST_LENGTH];
    let length = gateway.write_payload(&mut out).unwrap();
    String::from_utf8(out[..length].to_vec()).unwrap()
}

/// A gateway whose result slot is subscribed.
pub(super) fn prepared() -> Gateway {
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
pub(super) fn status(gateway: &mut Gateway, request: Request, result: i32) -> Vec<Action> {
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
