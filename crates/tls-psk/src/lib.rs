#![doc = include_str!("../README.md")]
#![no_std]

mod connect;
mod connection;
pub mod error;
pub mod handshake;
pub mod prf;
pub mod record;
mod transcript;

pub use connect::{PskConfig, PskCredentials, HANDSHAKE_STATE_LENGTH};
pub use connection::{Plaintext, TlsConnection};
pub use error::{alert, Error, HandshakeError, RecordError};
pub use handshake::parse_handshake;
pub use record::parse_record_header;
