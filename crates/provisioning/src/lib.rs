#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(test)]
extern crate std;

pub mod app;
pub mod dynreg;
pub mod errors;
mod fmt;
mod logbook;
mod session;
mod write;

#[cfg(test)]
mod tests;

pub use errors::{ErrorRecords, Failure};
pub use logbook::{LogBook, LogEvent, LOG_CAPACITY};
pub use session::{
    Action, Identity, Mode, MqttEvent, Peer, Provisioning, Received, Record, Server, WifiEvent,
    BUDGET_AFTER_DISCONNECT_MS, BUDGET_MS, EXTRA_ROUNDS, LOG_AP_DELAY_MS, LOG_AP_LIFETIME_MS,
    LOG_REPEAT_MS, PUBACK_WAIT_MS, PUBLISH_WRITES, REPLY_COUNT, REPLY_INTERVAL_MS,
    SERVER_LIFETIME_MS, SUBSCRIBE_WAIT_MS, TOKEN_WAIT_MS,
};
pub use write::Overflow;
