//! Command forms (`at-engine.md` §4): what follows `AT` on a framed line.
//!
//! The parser only recognises the shape of a line; whether a name exists or implements a form is
//! the command table's business (both end in `[E:09]`, but only the table knows the names).

use core::fmt;

use crate::args::Args;

/// A syntactically valid command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// `AT` alone.
    Attention,
    /// `ATE0` (false) or `ATE1` (true).
    Echo(bool),
    /// `AT+NAME` followed by one of the four forms.
    Command {
        /// The command name without `AT+`, matching `[A-Z0-9_]+`.
        name: &'a [u8],
        /// Which form the line uses.
        form: Form<'a>,
    },
}

/// The form of an `AT+NAME` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form<'a> {
    /// `AT+NAME=?` exactly. `AT+NAME=?,1` (or any text after the `?`) is not a test: it is a
    /// [`Form::Set`] whose first token `?` is Bad, because §4 makes every text after `=` other
    /// than the lone `?` a parameter list.
    Test,
    /// `AT+NAME?`.
    Query,
    /// `AT+NAME=<params>`: the unsplit parameter text after `=`.
    Set(Args<'a>),
    /// `AT+NAME`.
    Execute,
}

/// Why a line is not a command, for [`parse_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ParseError {
    /// The line does not start with uppercase `AT`: answer `[E:03]`.
    NotAt,
    /// It starts with `AT` but is not one of the forms of §4 (`ATX`, a lowercase or empty name,
    /// text after the name such as ` = 1`): answer `[E:09]`.
    Unsupported,
}

impl fmt::Display for ParseError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ParseError::NotAt => "line does not start with AT",
            ParseError::Unsupported => "unsupported command syntax",
        })
    }
}

impl core::error::Error for ParseError {}

/// Parses one line, with or without its trailing `\r\n`.
///
/// Only one trailing `\r\n` is removed; any other CR or LF byte is part of the text (inside a
/// quoted parameter it is kept, elsewhere it makes the line [`ParseError::Unsupported`] or the
/// token Bad).
///
/// # Errors
///
/// [`ParseError::NotAt`] when the line does not start with `AT`, [`ParseError::Unsupported`]
/// when the text after `AT` is not one of the forms of §4.
pub fn parse_line(line: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let text = line.strip_suffix(b"\r\n").unwrap_or(line);
    let after_at = text.strip_prefix(b"AT").ok_or(ParseError::NotAt)?;
    match after_at {
        b"" => return Ok(Parsed::Attention),
        b"E0" => return Ok(Parsed::Echo(false)),
        b"E1" => return Ok(Parsed::Echo(true)),
        _ => {}
    }
    let after_plus = after_at.strip_prefix(b"+").ok_or(ParseError::Unsupported)?;
    let name_length = after_plus
        .iter()
        .position(|byte| !is_name_byte(*byte))
        .unwrap_or(after_plus.len());
    if name_length == 0 {
        return Err(ParseError::Unsupported);
    }
    let (name, rest) = after_plus.split_at(name_length);
    let form = match rest {
        b"" => Form::Execute,
        b"?" => Form::Query,
        b"=?" => Form::Test,
        [b'=', parameters @ ..] => Form::Set(Args::new(parameters)),
        _ => return Err(ParseError::Unsupported),
    };
    Ok(Parsed::Command { name, form })
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_'
}
