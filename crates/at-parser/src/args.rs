//! Parameter splitting and token classes (`at-engine.md` §4).
//!
//! Nothing is copied: [`Args`] keeps the escaped text after `=`, and a [`QuotedStr`] unescapes
//! only when asked, in one pass straight into the caller's buffer. A handler reads tokens by
//! index, several of them, each once or twice; rescanning from the first token on every access
//! scanned a 250-byte publish line about five times. So [`Args::tokens`] splits the text once
//! into [`Tokens`] (see `tokens.rs`); any later access is a lookup.
//!
//! One left-to-right scan decides everything: a `\` and the byte after it form a pair whose
//! second byte is escaped. Splitting and the String test use that same scan, so a token never
//! ends inside a pair (except at the end of the text, where a lone `\` has nothing to escape).

use core::fmt;

use crate::scan;
use crate::tokens::Tokens;

/// The parameter text after `=`, still escaped and unsplit.
///
/// `n` unescaped commas give `n + 1` tokens; quotes do not protect commas; `AT+X=` has one
/// Omitted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Args<'a> {
    text: &'a [u8],
}

impl<'a> Args<'a> {
    /// Wraps the text after `=` (without the line's `\r\n`).
    pub const fn new(text: &'a [u8]) -> Self {
        Self { text }
    }

    /// The raw, escaped parameter text.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.text
    }

    /// Number of tokens (at least 1).
    pub fn len(&self) -> usize {
        self.raw_tokens().count()
    }

    /// Always false: even an empty parameter text holds one Omitted token. Provided for API
    /// symmetry with [`len`](Self::len).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The token at `index`, or `None` past the last one.
    pub fn get(&self, index: usize) -> Option<Token<'a>> {
        self.iter().nth(index)
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = Token<'a>> + 'a {
        self.raw_tokens().map(Token::classify)
    }

    /// Splits the text once; every later access to a token is a lookup.
    pub fn tokens(&self) -> Tokens<'a> {
        Tokens::split(self.text)
    }

    /// The tokens' escaped bytes, split at unescaped commas.
    fn raw_tokens(&self) -> RawTokens<'a> {
        RawTokens {
            rest: Some(self.text),
        }
    }
}

/// Iterator over the escaped bytes of each token.
struct RawTokens<'a> {
    /// Text not yet split; `None` once the last token was returned.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for RawTokens<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let text = self.rest?;
        let mut index = 0;
        while index < text.len() {
            match text[index] {
                b'\\' => index += 2,
                b',' => {
                    self.rest = Some(&text[index + 1..]);
                    return Some(&text[..index]);
                }
                _ => index += 1,
            }
        }
        self.rest = None;
        Some(text)
    }
}

/// One parameter, classified per §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// An empty token.
    Omitted,
    /// `-?[0-9]+` within `i32` (leading zeros allowed).
    Integer(i32),
    /// A quoted string whose final `"` is unescaped.
    String(QuotedStr<'a>),
    /// Anything else: unterminated quote, `1.5`, `abc`, an overflowing integer, spaces outside
    /// quotes, a quoted integer's neighbours, `?` after `=`.
    Bad,
}

impl<'a> Token<'a> {
    fn classify(raw: &'a [u8]) -> Self {
        match quoted_inner(raw) {
            Some(string) => Token::String(string),
            None => Self::classify_unquoted(raw),
        }
    }

    /// Classifies a token known not to be a String.
    pub(crate) fn classify_unquoted(raw: &'a [u8]) -> Self {
        if raw.is_empty() {
            return Token::Omitted;
        }
        parse_integer(raw).map_or(Token::Bad, Token::Integer)
    }
}

/// The String if `raw` is a String token: it starts with `"`, and the escape scan from its
/// second byte ends with its last byte as an unescaped `"`.
fn quoted_inner(raw: &[u8]) -> Option<QuotedStr<'_>> {
    if raw.len() < 2 || raw[0] != b'"' {
        return None;
    }
    let last = raw.len() - 1;
    let mut index = 1;
    let mut pairs = 0;
    while index < last {
        if raw[index] == b'\\' {
            pairs += 1;
            index += 2;
        } else {
            index += 1;
        }
    }
    // `index == last` means the last byte starts a pair of its own (it is not escaped).
    (index == last && raw[last] == b'"').then(|| QuotedStr {
        escaped: &raw[1..last],
        len: last - 1 - pairs,
    })
}

/// `-?[0-9]+` fitting `i32`, accumulated negatively so `i32::MIN` fits too.
fn parse_integer(raw: &[u8]) -> Option<i32> {
    let (negative, digits) = match raw.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, raw),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i32 = 0;
    for byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        let digit = i32::from(byte - b'0');
        value = value.checked_mul(10)?.checked_sub(digit)?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

/// A String token still in escaped form; unescapes lazily (`\x` → `x` for every byte `x`).
///
/// Equality compares the unescaped bytes.
#[derive(Clone, Copy)]
pub struct QuotedStr<'a> {
    /// The bytes between the outer quotes, escapes not yet removed.
    pub(crate) escaped: &'a [u8],
    /// Unescaped length, counted by the scan that recognised the String.
    pub(crate) len: usize,
}

impl<'a> QuotedStr<'a> {
    /// The bytes between the outer quotes, escapes not yet removed.
    pub const fn escaped(&self) -> &'a [u8] {
        self.escaped
    }

    /// Unescaped length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the unescaped string is empty (`""`).
    pub fn is_empty(&self) -> bool {
        self.escaped.is_empty()
    }

    /// The unescaped bytes.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + 'a {
        Unescape { rest: self.escaped }
    }

    /// The unescaped bytes in a vector of capacity `M`, or `None` if they do not fit.
    pub fn to_vec<const M: usize>(&self) -> Option<heapless::Vec<u8, M>> {
        let mut vector = heapless::Vec::new();
        self.unescape_into(&mut vector).then_some(vector)
    }

    /// Replaces the contents of `out` with the unescaped bytes, in one pass over the escaped
    /// ones. Returns false, leaving `out` empty, if they do not fit its capacity.
    pub fn unescape_into<const M: usize>(&self, out: &mut heapless::Vec<u8, M>) -> bool {
        out.clear();
        if self.len > M {
            return false;
        }
        // Fits: checked just above.
        let _ = out.resize(self.len, 0);
        self.unescape_to_slice(out);
        true
    }

    /// Writes the unescaped bytes to the start of `out` and returns how many, or `None` (with
    /// `out` unchanged) if `out` is shorter than [`len`](Self::len).
    pub fn unescape_to(&self, out: &mut [u8]) -> Option<usize> {
        let out = out.get_mut(..self.len)?;
        self.unescape_to_slice(out);
        Some(self.len)
    }

    /// Unescapes into `out`, exactly [`len`](Self::len) bytes long.
    fn unescape_to_slice(&self, out: &mut [u8]) {
        let escaped = self.escaped;
        let mut read = 0;
        let mut written: usize = 0;
        loop {
            // A word at a time while both sides have room: the word is stored whole, and only
            // its part before a `\\` counts (the rest is written again from the right place).
            // The loop's condition bounds both slices, so they need no checks of their own.
            while read + scan::WORD <= escaped.len() && written + scan::WORD <= out.len() {
                let mut bytes = [0; scan::WORD];
                bytes.copy_from_slice(&escaped[read..read + scan::WORD]);
                let word = u64::from_le_bytes(bytes);
                let slots = &mut out[written..written + scan::WORD];
                slots.copy_from_slice(&bytes);
                let backslashes = scan::flag_bytes(word, b'\\');
                if backslashes == 0 {
                    read += scan::WORD;
                    written += scan::WORD;
                    continue;
                }
                let plain = scan::first_flagged(backslashes);
                // Escaped JSON has a pair every few bytes: when the byte after the `\` is in
                // this word too, it goes in the `\`'s slot here, without the byte path.
                if plain + 1 < scan::WORD {
                    slots[plain] = bytes[plain + 1];
                    read += plain + 2;
                    written += plain + 1;
                    continue;
                }
                read += plain;
                written += plain;
                break;
            }
            // One byte, or one pair: the first `\\` of a pair is dropped, the byte after it kept.
            let Some(&byte) = escaped.get(read) else {
                break;
            };
            let (byte, step) = match (byte, escaped.get(read + 1)) {
                (b'\\', Some(&next)) => (next, 2),
                _ => (byte, 1),
            };
            if let Some(slot) = out.get_mut(written) {
                *slot = byte;
            }
            written += 1;
            read += step;
        }
    }

    /// Whether the unescaped bytes equal `other`.
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        self.bytes().eq(other.iter().copied())
    }
}

impl PartialEq for QuotedStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.bytes().eq(other.bytes())
    }
}

impl Eq for QuotedStr<'_> {}

impl fmt::Debug for QuotedStr<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("QuotedStr(\"")?;
        for byte in self.bytes() {
            fmt::Display::fmt(&core::ascii::escape_default(byte), formatter)?;
        }
        formatter.write_str("\")")
    }
}

/// Iterator removing escapes: a `\` yields the byte after it.
struct Unescape<'a> {
    rest: &'a [u8],
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        match self.rest {
            [b'\\', escaped, rest @ ..] => {
                self.rest = rest;
                Some(*escaped)
            }
            // A String's inner bytes never end in a lone `\`; yielding it keeps this total.
            [byte, rest @ ..] => {
                self.rest = rest;
                Some(*byte)
            }
            [] => None,
        }
    }
}
