//! A parameter text split once into token spans (`at-engine.md` §4).
//!
//! Handlers read parameters by index, several of them, each once or twice. [`Tokens`] records
//! in one scan where each token ends and, for a String, its unescaped length, so every access
//! afterwards is a lookup. The scan uses the escape rule of [`crate::Args`]: a `\` and the
//! byte after it form a pair, and only unescaped commas split.

use crate::args::{Args, QuotedStr, Token};
use crate::scan;

/// How many tokens [`Tokens`] records; no command takes more parameters. Tokens past these (a
/// wrong parameter count, which handlers refuse) are still counted, and found by rescanning.
pub const TOKEN_SPANS: usize = 8;

/// [`Tokens::strings`] entry of a token that is not a String.
const NOT_STRING: u16 = u16::MAX;

/// A parameter text split once: where each of the first [`TOKEN_SPANS`] tokens ends and which
/// of them are Strings (with their unescaped length), plus the exact token count.
///
/// Offsets are `u16` to keep the value small (it is handed to handlers by value); a text longer
/// than `u16::MAX` bytes, which no line can carry, records nothing and is rescanned instead.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    text: &'a [u8],
    /// Number of tokens (at least 1).
    count: usize,
    /// How many tokens have their span recorded.
    recorded: u8,
    /// Offset one past each recorded token (its comma, or the end of the text).
    ends: [u16; TOKEN_SPANS],
    /// Unescaped length of each recorded String token, [`NOT_STRING`] for other tokens.
    strings: [u16; TOKEN_SPANS],
}

impl<'a> Tokens<'a> {
    /// One left-to-right scan with the escape rule of the module: splits at unescaped commas,
    /// counts each token's escape pairs, and notes whether its last byte was escaped.
    pub(crate) fn split(text: &'a [u8]) -> Self {
        let mut tokens = Tokens {
            text,
            count: 0,
            recorded: 0,
            ends: [0; TOKEN_SPANS],
            strings: [NOT_STRING; TOKEN_SPANS],
        };
        let record = text.len() < usize::from(u16::MAX);
        let mut start = 0;
        let mut pairs = 0;
        // Index just past the last escape pair: equal to a token's end when its last byte is
        // escaped.
        let mut pair_end = usize::MAX;
        let mut index = 0;
        loop {
            // Skip to the token's end: an unescaped comma, or the end of the text.
            loop {
                index = find_comma_or_backslash(text, index);
                if text.get(index) != Some(&b'\\') {
                    break;
                }
                pairs += 1;
                index += 2;
                pair_end = index;
            }
            // A lone `\` at the very end steps past the text: the token ends with the text.
            let end = index.min(text.len());
            if record && tokens.count < TOKEN_SPANS {
                let slot = tokens.count;
                // Fits: `end <= text.len() < u16::MAX`.
                tokens.ends[slot] = end as u16;
                let raw = &text[start..end];
                let quoted = raw.len() >= 2
                    && raw[0] == b'"'
                    && raw[raw.len() - 1] == b'"'
                    && pair_end != end;
                if quoted {
                    tokens.strings[slot] = (raw.len() - 2 - pairs) as u16;
                }
                tokens.recorded += 1;
            }
            tokens.count += 1;
            if index >= text.len() {
                return tokens;
            }
            index += 1;
            start = index;
            pairs = 0;
        }
    }

    /// Number of tokens (at least 1).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Always false, as for [`Args::is_empty`].
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The token at `index`, or `None` past the last one; the same as [`Args::get`].
    pub fn get(&self, index: usize) -> Option<Token<'a>> {
        if index >= usize::from(self.recorded) {
            return if index < self.count {
                Args::new(self.text).get(index)
            } else {
                None
            };
        }
        let start = match index {
            0 => 0,
            _ => usize::from(self.ends[index - 1]) + 1,
        };
        let raw = &self.text[start..usize::from(self.ends[index])];
        match self.strings[index] {
            NOT_STRING => Some(Token::classify_unquoted(raw)),
            len => Some(Token::String(QuotedStr {
                escaped: &raw[1..raw.len() - 1],
                len: usize::from(len),
            })),
        }
    }
}

/// Index of the first `,` or `\\` at or after `from`, or `text.len()` (or `from` when it is past
/// the end).
///
/// A word at a time: in escaped JSON the two bytes are a few bytes apart, and a byte-by-byte
/// loop spends most of its instructions on the bytes between them.
#[inline]
fn find_comma_or_backslash(text: &[u8], from: usize) -> usize {
    let mut index = from;
    while let Some(word) = scan::word_at(text, index) {
        let found = scan::flag_bytes(word, b',') | scan::flag_bytes(word, b'\\');
        if found != 0 {
            return index + scan::first_flagged(found);
        }
        index += scan::WORD;
    }
    while index < text.len() && text[index] != b',' && text[index] != b'\\' {
        index += 1;
    }
    index
}
