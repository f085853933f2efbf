//! Typed access to a command's parameters (`at-engine.md` §4 "Checking against the command's
//! parameter list").
//!
//! Handlers ask for the type they need at each position; the answer says which class of error
//! (count, type, range) a bad token is, and the command decides how that class is printed:
//! `CME(204)` for Tencent commands, `[E:06]`/`[E:05]`/`[E:07]` for basic ESP-AT commands.

use at_parser::{Args, Token};

use crate::render::{EngineError, Reply};

/// Why a parameter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamError {
    /// Wrong number of parameters.
    Count,
    /// A token of the wrong class: Bad, Omitted, a String for an Integer or the reverse.
    Type,
    /// The right class but a value out of range or a length out of bounds.
    Range,
}

impl ParamError {
    /// Prints the error as Tencent commands do: always `+CME ERROR:204`.
    pub fn print_cme(self, reply: &mut Reply) {
        reply.cme(204);
    }

    /// Prints the error as basic ESP-AT commands do (`at-engine.md` §4).
    pub fn print_basic(self, reply: &mut Reply) {
        reply.engine_error(match self {
            ParamError::Count => EngineError::Count,
            ParamError::Type => EngineError::Type,
            ParamError::Range => EngineError::Value,
        });
    }
}

/// The parameters of a set command.
#[derive(Clone)]
pub struct Params<'a> {
    args: Args<'a>,
}

impl<'a> Params<'a> {
    /// Wraps the parser's argument list.
    pub fn new(args: Args<'a>) -> Self {
        Params { args }
    }

    /// Number of tokens.
    pub fn count(&self) -> usize {
        self.args.len()
    }

    /// Fails with [`ParamError::Count`] unless the count is in `min..=max`.
    pub fn expect_count(&self, min: usize, max: usize) -> Result<(), ParamError> {
        if (min..=max).contains(&self.count()) {
            Ok(())
        } else {
            Err(ParamError::Count)
        }
    }

    /// Whether the token at `index` exists and is an Integer.
    pub fn is_int(&self, index: usize) -> bool {
        matches!(self.args.get(index), Some(Token::Integer(_)))
    }

    /// The Integer at `index`.
    pub fn int(&self, index: usize) -> Result<i32, ParamError> {
        match self.args.get(index) {
            Some(Token::Integer(value)) => Ok(value),
            Some(_) => Err(ParamError::Type),
            None => Err(ParamError::Count),
        }
    }

    /// The Integer at `index`, which must lie in `range`.
    pub fn int_in(
        &self,
        index: usize,
        range: core::ops::RangeInclusive<i32>,
    ) -> Result<i32, ParamError> {
        let value = self.int(index)?;
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ParamError::Range)
        }
    }

    /// The unescaped String at `index`, whose length must lie in `min..=max` (`max <= N`).
    pub fn text<const N: usize>(
        &self,
        index: usize,
        min: usize,
        max: usize,
    ) -> Result<heapless::Vec<u8, N>, ParamError> {
        match self.args.get(index) {
            Some(Token::String(text)) => {
                let len = text.len();
                if len < min || len > max {
                    return Err(ParamError::Range);
                }
                text.to_vec::<N>().ok_or(ParamError::Range)
            }
            Some(_) => Err(ParamError::Type),
            None => Err(ParamError::Count),
        }
    }

    /// Whether the token at `index` is present and Omitted.
    pub fn is_omitted(&self, index: usize) -> bool {
        matches!(self.args.get(index), Some(Token::Omitted))
    }
}
