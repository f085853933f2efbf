#![no_std]
#![doc = include_str!("../README.md")]

#[cfg(test)]
extern crate std;

mod fmt;

pub mod board;
pub mod engine;
pub mod handlers;
pub mod params;
pub mod queue;
pub mod render;
pub mod state;
pub mod table;

pub use board::{Association, BoardInfo, IpInfo, JoinError, Profile, Wifi};
pub use engine::{run, Exit, Module};
