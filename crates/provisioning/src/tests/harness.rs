//! A manual clock and a recorder of what the state machine asks for.

use crate::{Action, Identity, Peer, Provisioning, Server};
use std::string::String;
use std::vec::Vec;

/// An action with its bytes copied out, for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Urc(String),
    Send(Server, Peer, String),
    Subscribe(String),
    Publish(String, String),
    Led(bool),
    Other(Action),
}

pub const APP: Peer = Peer {
    address: [192, 168, 4, 2],
    port: 50_000,
};

pub const IDENTITY: Identity<'static> = Identity {
    product_id: b"CTQS08Y5LG",
    device_name: b"Dev01",
    region: b"ap-guangzhou",
};

pub struct Harness {
    pub provisioning: Provisioning,
    pub now: u64,
    out: Vec<u8>,
}

impl Harness {
    pub fn new(now: u64) -> Self {
        Self {
            provisioning: Provisioning::new(crate::ErrorRecords::new()),
            now,
            out: std::vec![0; 2048],
        }
    }

    /// Everything due now.
    pub fn drain(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        while let Some(action) = self
            .provisioning
            .poll(Some(&IDENTITY), self.now, &mut self.out)
        {
            let text = |range: core::ops::Range<usize>| {
                String::from_utf8_lossy(&self.out[range]).into_owned()
            };
            steps.push(match action {
                Action::Urc { length } => Step::Urc(text(0..length)),
                Action::Send { server, to, length } => Step::Send(server, to, text(0..length)),
                Action::MqttSubscribe { length } => Step::Subscribe(text(0..length)),
                Action::MqttPublish {
                    topic_length,
                    payload_length,
                } => Step::Publish(
                    text(0..topic_length),
                    text(topic_length..topic_length + payload_length),
                ),
                Action::Led(lit) => Step::Led(lit),
                other => Step::Other(other),
            });
        }
        steps
    }

    /// Runs the clock to `target`, stopping at every wake-up on the way.
    pub fn run_until(&mut self, target: u64) -> Vec<Step> {
        let mut steps = self.drain();
        while let Some(wake) = self
            .provisioning
            .next_wake_ms()
            .filter(|&wake| wake <= target)
        {
            self.now = self.now.max(wake);
            steps.extend(self.drain());
        }
        self.now = target;
        steps.extend(self.drain());
        steps
    }

    /// Like [`Harness::run_until`], LED blinks left out.
    pub fn run_quiet(&mut self, target: u64) -> Vec<Step> {
        without_led(self.run_until(target))
    }

    pub fn quiet(&mut self) -> Vec<Step> {
        without_led(self.drain())
    }
}

pub fn without_led(steps: Vec<Step>) -> Vec<Step> {
    steps
        .into_iter()
        .filter(|step| !matches!(step, Step::Led(_)))
        .collect()
}

pub fn urc(text: &str) -> Step {
    Step::Urc(String::from(text))
}

pub fn other(action: Action) -> Step {
    Step::Other(action)
}
