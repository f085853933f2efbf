#![doc = include_str!("../README.md")]
#![no_std]

pub mod codec;
pub mod tencent;
pub mod topic;
pub mod session;

pub use codec::{decode, Packet};
pub use session::{DefaultSession, Event, Session, SessionConfig};
