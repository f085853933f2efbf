#![doc = include_str!("../README.md")]
#![no_std]

pub mod codec;
pub mod fuzzing;
pub mod session;
pub mod tencent;
pub mod topic;

pub use codec::{decode, Packet};
pub use session::{DefaultSession, Event, Session, SessionConfig};
