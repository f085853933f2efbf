#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(test)]
extern crate std;

mod arguments;
mod command;
mod fmt;
mod gateway;
mod json;
mod render;
mod request;
mod subdevice;

#[cfg(test)]
mod tests;

pub use arguments::{check_bind, check_online, ArgumentError};
pub use command::{
    code, Action, Busy, Outcome, Request, Secret, Subscription, MAXIMUM_REPLY_LENGTH,
    TIME_REPLY_TIMEOUT_MS,
};
pub use gateway::Gateway;
pub use render::{
    write_online_entry, write_result, BIND_TEST_RESPONSE, MAXIMUM_ONLINE_ENTRY,
    MAXIMUM_RESULT_LINE, ONLINE_TEST_RESPONSE,
};
pub use request::{
    bind_signature, write_request, BindFields, BufferTooSmall, Channel, Operation,
    MAXIMUM_REQUEST_LENGTH, SIGNATURE_LENGTH, TIME_REQUEST,
};
pub use subdevice::{
    InvalidIdentity, ListFull, OnlineList, SubDevice, MAXIMUM_DEVICE_NAME, MAXIMUM_PRODUCT_ID,
    MAXIMUM_SECRET, ONLINE_CAPACITY,
};
