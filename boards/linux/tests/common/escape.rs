//! Byte escapes shared by transcripts and failure messages: `\r`, `\n`, `\xNN`, `\\`.
//!
//! Transcripts must describe exact bytes (CR LF, NUL, non-UTF-8) in a text file; failure
//! messages print received bytes the same way so they can be pasted back into a transcript.

/// Decodes `\r`, `\n`, `\t`, `\xNN` and `\\`; any other byte stands for itself.
///
/// # Panics
/// On an unknown or truncated escape, naming the offending text.
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut output = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte != b'\\' {
            output.push(byte);
            index += 1;
            continue;
        }
        match bytes.get(index + 1) {
            Some(b'r') => output.push(b'\r'),
            Some(b'n') => output.push(b'\n'),
            Some(b't') => output.push(b'\t'),
            Some(b'\\') => output.push(b'\\'),
            Some(b'x') => {
                let hex = text
                    .get(index + 2..index + 4)
                    .unwrap_or_else(|| panic!("truncated \\x escape in {text:?}"));
                let value = u8::from_str_radix(hex, 16)
                    .unwrap_or_else(|_| panic!("bad \\x escape {hex:?} in {text:?}"));
                output.push(value);
                index += 4;
                continue;
            }
            other => panic!(
                "unknown escape \\{:?} in {text:?}",
                other.map(|b| *b as char)
            ),
        }
        index += 2;
    }
    output
}

/// Encodes bytes so that [`unescape`] gives them back; printable ASCII stays readable.
pub fn escape(bytes: &[u8]) -> String {
    let mut output = String::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'\r' => output.push_str("\\r"),
            b'\n' => output.push_str("\\n"),
            b'\t' => output.push_str("\\t"),
            b'\\' => output.push_str("\\\\"),
            0x20..=0x7e => output.push(byte as char),
            _ => output.push_str(&format!("\\x{byte:02x}")),
        }
    }
    output
}

#[test]
fn escapes_round_trip() {
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(unescape(&escape(&all)), all);
    assert_eq!(unescape(r"AT\r\n\x00\xff\\"), b"AT\r\n\x00\xff\\");
}
