//! Parameter splitting and token classes (`at-engine.md` §4).
//!
//! Nothing is copied: [`Args`] keeps the escaped text after `=`, tokens are found by scanning it
//! on demand, and a [`QuotedStr`] unescapes lazily. A handler usually reads each token once, so
//! rescanning a line of at most 256 bytes is cheaper than storing split positions.
//!
//! One left-to-right scan decides everything: a `\` and the byte after it form a pair whose
//! second byte is escaped. Splitting and the String test use that same scan, so a token never
//! ends inside a pair (except at the end of the text, where a lone `\` has nothing to escape).

use core::fmt;

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
        if raw.is_empty() {
            return Token::Omitted;
        }
        if let Some(inner) = quoted_inner(raw) {
            return Token::String(QuotedStr { escaped: inner });
        }
        parse_integer(raw).map_or(Token::Bad, Token::Integer)
    }
}

/// The bytes between the outer quotes if `raw` is a String token: it starts with `"`, and the
/// escape scan from its second byte ends with its last byte as an unescaped `"`.
fn quoted_inner(raw: &[u8]) -> Option<&[u8]> {
    if raw.len() < 2 || raw[0] != b'"' {
        return None;
    }
    let last = raw.len() - 1;
    let mut index = 1;
    while index < last {
        index += if raw[index] == b'\\' { 2 } else { 1 };
    }
    // `index == last` means the last byte starts a pair of its own (it is not escaped).
    (index == last && raw[last] == b'"').then(|| &raw[1..last])
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
    escaped: &'a [u8],
}

impl<'a> QuotedStr<'a> {
    /// The bytes between the outer quotes, escapes not yet removed.
    pub const fn escaped(&self) -> &'a [u8] {
        self.escaped
    }

    /// Unescaped length in bytes.
    pub fn len(&self) -> usize {
        self.bytes().count()
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
        for byte in self.bytes() {
            vector.push(byte).ok()?;
        }
        Some(vector)
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
