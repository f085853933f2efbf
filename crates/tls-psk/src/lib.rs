#![doc = include_str!("../README.md")]
#![no_std]

mod connect;
mod connection;
pub mod error;
pub mod handshake;
pub mod prf;
pub mod record;

pub use connect::PskConfig;
pub use connection::TlsConnection;
pub use error::{alert, Error, HandshakeError, RecordError};
pub use handshake::parse_handshake;
pub use record::parse_record_header;
