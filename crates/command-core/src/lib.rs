#![no_std]
#![doc = include_str!("../README.md")]

#[cfg(test)]
extern crate std;

mod fmt;

pub mod board;
pub mod engine;
pub mod handlers;
pub mod mqtt;
mod ota_state;
pub mod params;
pub mod queue;
pub mod render;
pub mod state;
pub mod table;
mod wake;

#[cfg(test)]
mod footprint;

pub use board::{
    Association, BoardInfo, Certificates, ClientCertificate, Clock, ConnectError, IpInfo,
    JoinError, Network, Offline, Peer, Profile, ProvisioningEvent, Random, SoftApConfig, UdpError,
    UdpServer, Wifi,
};
pub use engine::{run, run_with, Cloud, Exit, Module};
