//! A strict reader of one JSON object, over the payload where it lies.
//!
//! The OTA messages (`cloud.md` §4.3) are flat objects whose few interesting
//! members are strings and numbers. This reader walks the top-level members
//! and hands each to a visitor as a view into the payload: nothing is copied
//! and nothing is allocated. Nested objects and arrays (a `user_defined`
//! member, say) are checked for well-formedness and skipped. Anything that is
//! not exactly one JSON object with optional surrounding whitespace is
//! rejected, so a truncated or garbled message can never be mistaken for a
//! valid one with fewer members.

/// The payload is not one well-formed JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Deepest nesting accepted inside the top-level object; deeper is treated
/// as malformed so that skipping cannot exhaust the stack.
const MAXIMUM_DEPTH: u8 = 16;

/// One member value, as found in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string: the raw bytes between the quotes, escapes still in place
    /// (and known to be valid).
    String(Text<'a>),
    /// A number: its raw text, known to follow the JSON grammar.
    Number(&'a [u8]),
    /// `true`, `false`, `null`, an object or an array.
    Other,
}

/// The raw contents of a JSON string; [`Text::bytes`] decodes the escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a> {
    raw: &'a [u8],
}

impl<'a> Text<'a> {
    /// The bytes as they appear between the quotes, escapes not decoded.
    #[must_use]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The decoded bytes (UTF-8 for `\u` escapes), one at a time.
    #[must_use]
    pub fn bytes(&self) -> Decoded<'a> {
        Decoded {
            rest: self.raw,
            pending: [0; 4],
            pending_start: 0,
            pending_end: 0,
        }
    }

    /// Number of decoded bytes.
    #[must_use]
    pub fn decoded_len(&self) -> usize {
        self.bytes().count()
    }

    /// Whether the decoded bytes equal `expected`.
    #[must_use]
    pub fn equals(&self, expected: &[u8]) -> bool {
        self.bytes().eq(expected.iter().copied())
    }

    /// Writes the decoded bytes to the front of `out`; returns how many, or
    /// `None` when they do not fit.
    pub fn copy_to(&self, out: &mut [u8]) -> Option<usize> {
        let mut count = 0;
        for byte in self.bytes() {
            *out.get_mut(count)? = byte;
            count += 1;
        }
        Some(count)
    }
}

/// Iterator over the decoded bytes of a [`Text`].
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    rest: &'a [u8],
    pending: [u8; 4],
    pending_start: u8,
    pending_end: u8,
}

impl Iterator for Decoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.pending_start < self.pending_end {
            let byte = self.pending[usize::from(self.pending_start)];
            self.pending_start += 1;
            return Some(byte);
        }
        let (&first, rest) = self.rest.split_first()?;
        if first != b'\\' {
            self.rest = rest;
            return Some(first);
        }
        // The reader validated every escape, so the fallbacks never apply.
        let (&kind, rest) = rest.split_first()?;
        self.rest = rest;
        let simple = match kind {
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let character = self.unicode_escape()?;
                let length = character.encode_utf8(&mut self.pending).len();
                self.pending_start = 1;
                self.pending_end = length as u8;
                return Some(self.pending[0]);
            }
            other => other,
        };
        Some(simple)
    }
}

impl Decoded<'_> {
    /// Decodes the hex digits after `\u` (and a low surrogate's escape).
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high);
        }
        self.rest = self.rest.get(2..)?; // the `\u` of the low surrogate
        let low = self.hex4()?;
        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let (digits, rest) = self.rest.split_at_checked(4)?;
        self.rest = rest;
        digits
            .iter()
            .try_fold(0u32, |value, &digit| Some(value * 16 + hex_value(digit)?))
    }
}

fn hex_value(digit: u8) -> Option<u32> {
    char::from(digit).to_digit(16)
}

/// Walks the members of the object in `payload`, calling `visit` with each
/// raw key and value in order.
pub fn for_each_member<'a>(
    payload: &'a [u8],
    mut visit: impl FnMut(&'a [u8], Value<'a>),
) -> Result<(), Malformed> {
    let mut reader = Reader {
        input: payload,
        at: 0,
    };
    reader.expect(b'{')?;
    if reader.peek_token()? == b'}' {
        reader.at += 1;
    } else {
        loop {
            reader.expect(b'"')?;
            let key = reader.string_body()?;
            reader.expect(b':')?;
            let value = reader.value(0)?;
            visit(key.raw, value);
            match reader.next_token()? {
                b',' => continue,
                b'}' => break,
                _ => return Err(Malformed),
            }
        }
    }
    reader.skip_whitespace();
    if reader.at == payload.len() {
        Ok(())
    } else {
        Err(Malformed)
    }
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.input.get(self.at) {
            self.at += 1;
        }
    }

    fn peek_token(&mut self) -> Result<u8, Malformed> {
        self.skip_whitespace();
        self.input.get(self.at).copied().ok_or(Malformed)
    }

    fn next_token(&mut self) -> Result<u8, Malformed> {
        let byte = self.peek_token()?;
        self.at += 1;
        Ok(byte)
    }

    fn expect(&mut self, expected: u8) -> Result<(), Malformed> {
        if self.next_token()? == expected {
            Ok(())
        } else {
            Err(Malformed)
        }
    }

    /// Reads a string after its opening quote, through its closing quote.
    fn string_body(&mut self) -> Result<Text<'a>, Malformed> {
        let start = self.at;
        loop {
            let byte = *self.input.get(self.at).ok_or(Malformed)?;
            self.at += 1;
            match byte {
                b'"' => {
                    return Ok(Text {
                        raw: &self.input[start..self.at - 1],
                    })
                }
                b'\\' => self.escape()?,
                0x00..=0x1F => return Err(Malformed),
                _ => {}
            }
        }
    }

    fn escape(&mut self) -> Result<(), Malformed> {
        let kind = *self.input.get(self.at).ok_or(Malformed)?;
        self.at += 1;
        match kind {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                let high = self.hex4()?;
                if (0xDC00..0xE000).contains(&high) {
                    return Err(Malformed); // a low surrogate alone
                }
                if (0xD800..0xDC00).contains(&high) {
                    if self.input.get(self.at..self.at + 2) != Some(b"\\u") {
                        return Err(Malformed);
                    }
                    self.at += 2;
                    if !(0xDC00..0xE000).contains(&self.hex4()?) {
                        return Err(Malformed);
                    }
                }
                Ok(())
            }
            _ => Err(Malformed),
        }
    }

    fn hex4(&mut self) -> Result<u32, Malformed> {
        let digits = self.input.get(self.at..self.at + 4).ok_or(Malformed)?;
        self.at += 4;
        digits
            .iter()
            .try_fold(0u32, |value, &digit| Some(value * 16 + hex_value(digit)?))
            .ok_or(Malformed)
    }

    fn value(&mut self, depth: u8) -> Result<Value<'a>, Malformed> {
        if depth > MAXIMUM_DEPTH {
            return Err(Malformed);
        }
        match self.next_token()? {
            b'"' => Ok(Value::String(self.string_body()?)),
            b'{' => {
                self.container(depth, b'}', true)?;
                Ok(Value::Other)
            }
            b'[' => {
                self.container(depth, b']', false)?;
                Ok(Value::Other)
            }
            b't' => self.literal(b"rue"),
            b'f' => self.literal(b"alse"),
            b'n' => self.literal(b"ull"),
            b'-' | b'0'..=b'9' => {
                self.at -= 1;
                self.number()
            }
            _ => Err(Malformed),
        }
    }

    fn container(&mut self, depth: u8, close: u8, keyed: bool) -> Result<(), Malformed> {
        if self.peek_token()? == close {
            self.at += 1;
            return Ok(());
        }
        loop {
            if keyed {
                self.expect(b'"')?;
                self.string_body()?;
                self.expect(b':')?;
            }
            self.value(depth + 1)?;
            match self.next_token()? {
                b',' => continue,
                byte if byte == close => return Ok(()),
                _ => return Err(Malformed),
            }
        }
    }

    fn literal(&mut self, rest: &[u8]) -> Result<Value<'a>, Malformed> {
        if self.input.get(self.at..self.at + rest.len()) == Some(rest) {
            self.at += rest.len();
            Ok(Value::Other)
        } else {
            Err(Malformed)
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<Value<'a>, Malformed> {
        let start = self.at;
        self.optional(b"-");
        match self.input.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Malformed),
        }
        if self.optional(b".") {
            self.required_digits()?;
        }
        if self.optional(b"eE") {
            self.optional(b"+-");
            self.required_digits()?;
        }
        Ok(Value::Number(&self.input[start..self.at]))
    }

    fn optional(&mut self, any_of: &[u8]) -> bool {
        match self.input.get(self.at) {
            Some(byte) if any_of.contains(byte) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.input.get(self.at) {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), Malformed> {
        let start = self.at;
        self.digits();
        if self.at > start {
            Ok(())
        } else {
            Err(Malformed)
        }
    }
}
