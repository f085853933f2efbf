#![doc = include_str!("../README.md")]
#![no_std]

#[cfg(test)]
extern crate std;

mod args;
mod buffer;
mod command;
mod data;
mod framer;
mod scan;
mod tokens;

pub use args::{Args, QuotedStr, Token};
pub use command::{parse_line, Form, ParseError, Parsed};
pub use data::{DataAbort, DataKind, DataStatus};
pub use framer::{sets_barrier, Framed, FramedRef, Framer, Pending};
pub use tokens::{Tokens, TOKEN_SPANS};

/// Maximum length of a command line, including its terminating `\r\n` (`at-engine.md` §3.2).
pub const MAX_LINE: usize = 256;

/// Default size of the unframed receive buffer: a full command line plus the largest data
/// phase (4096 bytes), which may arrive before its command starts (`at-engine.md` §3.5).
pub const RX_BUFFER: usize = 4608;
