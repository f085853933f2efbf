//! A strict reader of the two replies the gateway waits for (`cloud.md` §9.3,
//! §9.5), working on the payload where it lies.
//!
//! The whole payload must be one well-formed JSON object (whitespace and
//! member order free), so a truncated reply can never pass for a complete
//! one. Only the members that decide are picked out, as views into the
//! payload; strings keep their escapes and are compared decoded.

/// Deepest nesting accepted; deeper is malformed so skipping cannot exhaust
/// the stack.
const MAXIMUM_DEPTH: u8 = 16;

/// The members of a gateway reply that decide (`cloud.md` §9.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GatewayReply<'a> {
    pub(crate) kind: Text<'a>,
    pub(crate) product_id: Text<'a>,
    pub(crate) device_name: Text<'a>,
    pub(crate) result: i32,
}

/// Reads a gateway reply: `type`, and `product_id`, `device_name` and an
/// integer `result` of the **first** element of `payload.devices`.
pub(crate) fn gateway_reply(payload: &[u8]) -> Option<GatewayReply<'_>> {
    let mut kind = None;
    let mut first = None;
    let mut reader = Reader::new(payload);
    reader.object(0, &mut |reader, key, depth| {
        if key.equals(b"type") && reader.peek() == Some(b'"') {
            kind = Some(reader.string()?);
            return Some(());
        }
        if key.equals(b"payload") && reader.peek() == Some(b'{') {
            return reader.object(depth, &mut |reader, key, depth| {
                if key.equals(b"devices") && reader.peek() == Some(b'[') {
                    let mut index = 0;
                    return reader.array(depth, &mut |reader, depth| {
                        index += 1;
                        if index == 1 && reader.peek() == Some(b'{') {
                            first = Some(device(reader, depth)?);
                            return Some(());
                        }
                        reader.skip_value(depth)
                    });
                }
                reader.skip_value(depth)
            });
        }
        reader.skip_value(depth)
    })?;
    reader.end()?;
    let (product_id, device_name, result) = first?;
    Some(GatewayReply {
        kind: kind?,
        product_id: product_id?,
        device_name: device_name?,
        result: result?,
    })
}

type Device<'a> = (Option<Text<'a>>, Option<Text<'a>>, Option<i32>);

fn device<'a>(reader: &mut Reader<'a>, depth: u8) -> Option<Device<'a>> {
    let (mut product_id, mut device_name, mut result) = (None, None, None);
    reader.object(depth, &mut |reader, key, depth| {
        match reader.peek() {
            Some(b'"') if key.equals(b"product_id") => product_id = Some(reader.string()?),
            Some(b'"') if key.equals(b"device_name") => device_name = Some(reader.string()?),
            _ if key.equals(b"result") => {
                result = reader.number(depth)?.and_then(integer);
            }
            _ => reader.skip_value(depth)?,
        }
        Some(())
    })?;
    Some((product_id, device_name, result))
}

/// Reads the integer member `time` of a `$sys/operation/result` message.
pub(crate) fn time_reply(payload: &[u8]) -> Option<u64> {
    let mut time = None;
    let mut reader = Reader::new(payload);
    reader.object(0, &mut |reader, key, depth| {
        if key.equals(b"time") {
            time = reader.number(depth)?.and_then(integer);
            return Some(());
        }
        reader.skip_value(depth)
    })?;
    reader.end()?;
    let time: i64 = time?;
    u64::try_from(time).ok()
}

/// `-?[0-9]+` within `T`; fractions and exponents are not integers.
fn integer<T: core::str::FromStr>(text: &[u8]) -> Option<T> {
    core::str::from_utf8(text).ok()?.parse().ok()
}

/// The raw contents of a JSON string, escapes in place (known valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Text<'a> {
    raw: &'a [u8],
}

impl Text<'_> {
    /// Whether the decoded string equals `expected`.
    pub(crate) fn equals(&self, expected: &[u8]) -> bool {
        let mut rest = self.raw;
        let mut expected = expected;
        while let Some((&byte, tail)) = rest.split_first() {
            rest = tail;
            let mut utf8 = [0u8; 4];
            let decoded: &[u8] = if byte != b'\\' {
                core::slice::from_ref(&byte)
            } else {
                let Some((&escape, tail)) = rest.split_first() else {
                    return false;
                };
                rest = tail;
                match escape {
                    b'b' => b"\x08",
                    b'f' => b"\x0c",
                    b'n' => b"\n",
                    b'r' => b"\r",
                    b't' => b"\t",
                    b'u' => match unicode_escape(&mut rest) {
                        Some(character) => character.encode_utf8(&mut utf8).as_bytes(),
                        None => return false,
                    },
                    other => match other {
                        b'"' => b"\"",
                        b'\\' => b"\\",
                        _ => b"/",
                    },
                }
            };
            let Some(tail) = expected.strip_prefix(decoded) else {
                return false;
            };
            expected = tail;
        }
        expected.is_empty()
    }
}

/// Decodes the hex digits after `\u` (and a low surrogate's `\uXXXX`).
fn unicode_escape(rest: &mut &[u8]) -> Option<char> {
    let high = hex4(rest)?;
    if (0xD800..0xDC00).contains(&high) {
        *rest = rest.strip_prefix(b"\\u")?;
        let low = hex4(rest)?;
        if !(0xDC00..0xE000).contains(&low) {
            return None;
        }
        return char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
    }
    char::from_u32(high)
}

fn hex4(rest: &mut &[u8]) -> Option<u32> {
    let (digits, tail) = rest.split_at_checked(4)?;
    *rest = tail;
    let text = core::str::from_utf8(digits).ok()?;
    u32::from_str_radix(text, 16).ok()
}

struct Reader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { input, position: 0 }
    }

    fn skip_whitespace(&mut self) {
        while matches!(
            self.input.get(self.position),
            Some(b' ' | b'\t' | b'\r' | b'\n')
        ) {
            self.position += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.input.get(self.position).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.position += 1)
    }

    fn end(&mut self) -> Option<()> {
        self.skip_whitespace();
        (self.position == self.input.len()).then_some(())
    }

    /// Walks `{ "key": value, … }`, handing each key to `member`, which must
    /// consume the value.
    fn object(
        &mut self,
        depth: u8,
        member: &mut dyn FnMut(&mut Self, Text<'a>, u8) -> Option<()>,
    ) -> Option<()> {
        let depth = depth
            .checked_add(1)
            .filter(|depth| *depth <= MAXIMUM_DEPTH)?;
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.position += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            self.peek()?;
            member(self, key, depth)?;
            match self.peek()? {
                b',' => self.position += 1,
                b'}' => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Walks `[ value, … ]`, `element` consuming each value.
    fn array(
        &mut self,
        depth: u8,
        element: &mut dyn FnMut(&mut Self, u8) -> Option<()>,
    ) -> Option<()> {
        let depth = depth
            .checked_add(1)
            .filter(|depth| *depth <= MAXIMUM_DEPTH)?;
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.position += 1;
            return Some(());
        }
        loop {
            element(self, depth)?;
            match self.peek()? {
                b',' => self.position += 1,
                b']' => {
                    self.position += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn string(&mut self) -> Option<Text<'a>> {
        self.expect(b'"')?;
        let start = self.position;
        loop {
            let byte = *self.input.get(self.position)?;
            self.position += 1;
            match byte {
                b'"' => {
                    return Some(Text {
                        raw: &self.input[start..self.position - 1],
                    })
                }
                b'\\' => {
                    let escape = *self.input.get(self.position)?;
                    self.position += 1;
                    match escape {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let digits = self.input.get(self.position..self.position + 4)?;
                            if !digits.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.position += 4;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// A number's text if the value is a number, `None` inside `Some` if it
    /// is another (well-formed) value.
    fn number(&mut self, depth: u8) -> Option<Option<&'a [u8]>> {
        if !matches!(self.peek()?, b'-' | b'0'..=b'9') {
            self.skip_value(depth)?;
            return Some(None);
        }
        let start = self.position;
        self.position += usize::from(self.input[start] == b'-');
        let digits = self.digits();
        if digits == 0 || (digits > 1 && self.input[self.position - digits] == b'0') {
            return None;
        }
        if self.input.get(self.position) == Some(&b'.') {
            self.position += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.input.get(self.position), Some(b'e' | b'E')) {
            self.position += 1;
            if matches!(self.input.get(self.position), Some(b'+' | b'-')) {
                self.position += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(Some(&self.input[start..self.position]))
    }

    fn digits(&mut self) -> usize {
        let start = self.position;
        while self
            .input
            .get(self.position)
            .is_some_and(u8::is_ascii_digit)
        {
            self.position += 1;
        }
        self.position - start
    }

    fn skip_value(&mut self, depth: u8) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth, &mut |reader, _, depth| reader.skip_value(depth)),
            b'[' => self.array(depth, &mut |reader, depth| reader.skip_value(depth)),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(depth).map(drop),
            _ => {
                for literal in [&b"true"[..], b"false", b"null"] {
                    if self.input[self.position..].starts_with(literal) {
                        self.position += literal.len();
                        return Some(());
                    }
                }
                None
            }
        }
    }
}
