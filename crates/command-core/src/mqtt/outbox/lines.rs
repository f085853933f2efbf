//! Rendering of records, and the provisioning runner's lines taken back to records.
//!
//! The `provisioning` crate renders its URCs as text (`+TCSAP:OK`,
//! `+TCSTARTSMART:WIFI_CONNECT_FAILED,<kind>,<sub>`, …: four shapes behind two prefixes). The
//! outbox keeps such a line as a shape byte and its numbers (at most [`RECORD`] bytes, not up
//! to 53), and only when rendering the record gives back the very same bytes; any other line
//! stays text.

/// The prefixes of the provisioning lines, by the shape byte's high bits.
const PREFIXES: [&[u8]; 2] = [b"+TCSAP:", b"+TCSTARTSMART:"];
/// What follows the prefix, and how many comma-separated `i32`s follow that, by the shape
/// byte's low bits.
const SHAPES: [(&[u8], usize); 4] = [
    (b"OK", 0),
    (b"FAIL,", 1),
    (b"WIFI_CONNECT_SUCCESS", 0),
    (b"WIFI_CONNECT_FAILED,", 2),
];
/// Bytes of the largest provisioning record: kind, shape, two `i32`s.
pub const RECORD: usize = 2 + 2 * 4;
/// Longest rendered provisioning line: `+TCSTARTSMART:WIFI_CONNECT_FAILED,` and two `i32`s.
pub const LINE_MAX: usize = 14 + 20 + 11 + 1 + 11 + 2;

/// The record of provisioning line `text` behind `kind` (`record[0]`), its length; `None`
/// if `text` is none of the shapes.
pub fn compress(kind: u8, text: &[u8], record: &mut [u8; RECORD]) -> Option<usize> {
    let (prefix, rest) = PREFIXES
        .iter()
        .enumerate()
        .find_map(|(index, prefix)| Some((index, text.strip_prefix(*prefix)?)))?;
    let (shape, numbers) = SHAPES
        .iter()
        .enumerate()
        .find_map(|(index, (head, _))| Some((index, rest.strip_prefix(*head)?)))?;
    let numbers = numbers.strip_suffix(b"\r\n")?;
    record[0] = kind;
    record[1] = (prefix << 2 | shape) as u8;
    let mut length = 2;
    if SHAPES[shape].1 > 0 {
        for number in numbers.split(|byte| *byte == b',') {
            let value: i32 = core::str::from_utf8(number).ok()?.parse().ok()?;
            record
                .get_mut(length..length + 4)?
                .copy_from_slice(&value.to_be_bytes());
            length += 4;
        }
    }
    // Only a record that renders to the very same bytes (no `+1`, `007`, missing number).
    let mut line = [0u8; LINE_MAX];
    let mut out = Line::new(&mut line);
    render(record[1], &record[2..length], &mut out)?;
    (out.bytes() == text).then_some(length)
}

/// How many bytes of numbers follow a provisioning record's shape byte.
pub fn numbers(shape: u8) -> usize {
    SHAPES
        .get(usize::from(shape & 3))
        .map_or(0, |(_, count)| count * 4)
}

/// Renders a provisioning record: its shape byte and its numbers.
pub fn render(shape: u8, numbers: &[u8], out: &mut Line<'_>) -> Option<()> {
    let prefix = PREFIXES.get(usize::from(shape >> 2))?;
    let (head, count) = SHAPES.get(usize::from(shape & 3))?;
    if numbers.len() != count * 4 {
        return None;
    }
    out.put(prefix);
    out.put(head);
    for (index, number) in numbers.chunks_exact(4).enumerate() {
        if index > 0 {
            out.put(b",");
        }
        let mut scratch = [0u8; 11];
        let value = i32::from_be_bytes([number[0], number[1], number[2], number[3]]);
        out.put(decimal(value, &mut scratch));
    }
    out.put(b"\r\n");
    Some(())
}

/// A record's rendered line, cut at the buffer's end (never reached with
/// [`RENDERED_MAX`](super::RENDERED_MAX) bytes: the names are checked at compile time, the
/// provisioning numbers are `i32`s).
pub struct Line<'a> {
    bytes: &'a mut [u8],
    length: usize,
}

impl<'a> Line<'a> {
    /// An empty line in `bytes`.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        Line { bytes, length: 0 }
    }

    /// The bytes rendered so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.length]
    }

    /// How many bytes were rendered.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Appends `bytes`, as many as fit.
    pub fn put(&mut self, bytes: &[u8]) {
        let count = bytes.len().min(self.bytes.len() - self.length);
        self.bytes[self.length..self.length + count].copy_from_slice(&bytes[..count]);
        self.length += count;
    }
}

/// `value` in decimal, written at the end of `scratch`.
pub fn decimal(value: i32, scratch: &mut [u8; 11]) -> &[u8] {
    let mut magnitude = value.unsigned_abs();
    let mut start = scratch.len();
    loop {
        start -= 1;
        scratch[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        scratch[start] = b'-';
    }
    &scratch[start..]
}
