//! Typed access to a command's parameters (`at-engine.md` §4 "Checking against the command's
//! parameter list").
//!
//! Handlers ask for the type they need at each position; the answer says which class of error
//! (count, type, range) a bad token is, and the command decides how that class is printed:
//! `CME(204)` for Tencent commands, `[E:06]`/`[E:05]`/`[E:07]` for basic ESP-AT commands.
//!
//! The parameter text is split once, when the handler gets it ([`at_parser::Tokens`]): a
//! handler asks for the count and then for tokens by index, and each answer is a lookup rather
//! than a scan of the line from its first token.

use at_parser::{Args, Token, Tokens};

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
    tokens: Tokens<'a>,
    args: Args<'a>,
}

impl<'a> Params<'a> {
    /// Splits the parser's argument list into its tokens.
    pub fn new(args: Args<'a>) -> Self {
        Params {
            tokens: args.tokens(),
            args,
        }
    }

    /// The unsplit argument list, for checks written against [`Args`] (the gateway crate's).
    pub fn args(&self) -> &Args<'a> {
        &self.args
    }

    /// Number of tokens.
    pub fn count(&self) -> usize {
        self.tokens.len()
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
        matches!(self.tokens.get(index), Some(Token::Integer(_)))
    }

    /// The Integer at `index`.
    pub fn int(&self, index: usize) -> Result<i32, ParamError> {
        match self.tokens.get(index) {
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
    ///
    /// For short values (names, topics); a payload goes through [`text_to`](Self::text_to)
    /// so that it is written once, where it is used.
    pub fn text<const N: usize>(
        &self,
        index: usize,
        min: usize,
        max: usize,
    ) -> Result<heapless::Vec<u8, N>, ParamError> {
        let mut text = heapless::Vec::new();
        self.text_into(index, min, max, &mut text)?;
        Ok(text)
    }

    /// [`text`](Self::text) in the form a record stores it ([`storage::Text`], a one-byte
    /// length), for the values the settings mirror keeps.
    pub fn field<const N: usize>(
        &self,
        index: usize,
        min: usize,
        max: usize,
    ) -> Result<storage::Text<N>, ParamError> {
        let mut text = storage::Text::new();
        self.text_into(index, min, max, &mut text)?;
        Ok(text)
    }

    /// Whether the token at `index` is a String (of any length).
    pub fn is_text(&self, index: usize) -> bool {
        matches!(self.tokens.get(index), Some(Token::String(_)))
    }

    /// Unescapes the String at `index`, whose length must lie in `min..=max` (`max` at most
    /// `out`'s length), to the start of `out` in one pass, and returns its length. On an
    /// error `out` is unchanged.
    pub fn text_to(
        &self,
        index: usize,
        min: usize,
        max: usize,
        out: &mut [u8],
    ) -> Result<usize, ParamError> {
        match self.tokens.get(index) {
            Some(Token::String(text)) if (min..=max).contains(&text.len()) => {
                text.unescape_to(out).ok_or(ParamError::Range)
            }
            Some(Token::String(_)) => Err(ParamError::Range),
            Some(_) => Err(ParamError::Type),
            None => Err(ParamError::Count),
        }
    }

    /// Unescapes the String at `index`, whose length must lie in `min..=max` (`max <= N`),
    /// into `out` in one pass. On an error `out` is left empty.
    pub fn text_into<const N: usize, L: heapless::LenType>(
        &self,
        index: usize,
        min: usize,
        max: usize,
        out: &mut heapless::Vec<u8, N, L>,
    ) -> Result<(), ParamError> {
        out.clear();
        match self.tokens.get(index) {
            // The length is known from the split, so a value out of bounds is refused before
            // any byte is copied.
            Some(Token::String(text)) if (min..=max).contains(&text.len()) && text.len() <= N => {
                // Fits: checked just above.
                let _ = out.resize(text.len(), 0);
                text.unescape_to(out).ok_or(ParamError::Range).map(|_| ())
            }
            Some(Token::String(_)) => Err(ParamError::Range),
            Some(_) => Err(ParamError::Type),
            None => Err(ParamError::Count),
        }
    }

    /// Whether the token at `index` is present and Omitted.
    pub fn is_omitted(&self, index: usize) -> bool {
        matches!(self.tokens.get(index), Some(Token::Omitted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &[u8]) -> Params<'_> {
        Params::new(Args::new(text))
    }

    #[test]
    fn text_into_unescapes_into_the_callers_buffer() {
        let mut out = heapless::Vec::<u8, 16>::new();
        assert_eq!(
            params(b"1,\"a\\\"b\\,c\"").text_into(1, 1, 16, &mut out),
            Ok(())
        );
        assert_eq!(out.as_slice(), b"a\"b,c");
    }

    #[test]
    fn text_into_refuses_out_of_bounds_lengths_and_leaves_the_buffer_empty() {
        let mut out = heapless::Vec::<u8, 16>::new();
        out.extend_from_slice(b"stale").unwrap();
        assert_eq!(
            params(b"\"abcdef\"").text_into(0, 1, 5, &mut out),
            Err(ParamError::Range)
        );
        assert!(out.is_empty());
        assert_eq!(
            params(b"\"\"").text_into(0, 1, 5, &mut out),
            Err(ParamError::Range)
        );
        // A `max` above the buffer's capacity is still bounded by the capacity.
        let mut small = heapless::Vec::<u8, 2, u8>::new();
        assert_eq!(
            params(b"\"abc\"").text_into(0, 1, 16, &mut small),
            Err(ParamError::Range)
        );
    }

    #[test]
    fn text_into_reports_the_class_of_a_wrong_token() {
        let mut out = heapless::Vec::<u8, 16>::new();
        assert_eq!(
            params(b"7").text_into(0, 0, 16, &mut out),
            Err(ParamError::Type)
        );
        assert_eq!(
            params(b"\"a\"").text_into(1, 0, 16, &mut out),
            Err(ParamError::Count)
        );
    }

    #[test]
    fn parameters_past_the_recorded_spans_are_read_correctly() {
        let many = params(b"0,1,2,3,4,5,6,7,8,\"nine\"");
        assert_eq!(many.count(), 10);
        assert_eq!(many.int(8), Ok(8));
        assert_eq!(many.text::<8>(9, 1, 8).as_deref(), Ok(&b"nine"[..]));
        assert!(many.expect_count(1, 6).is_err());
    }

    #[test]
    fn is_text_names_strings_only() {
        let mixed = params(b"\"a\",7,,\"\"");
        assert!(mixed.is_text(0));
        assert!(!mixed.is_text(1), "an integer");
        assert!(!mixed.is_text(2), "an omitted parameter");
        assert!(mixed.is_text(3), "an empty string");
        assert!(!mixed.is_text(4), "past the end");
    }
}
