//! Body framing of a response: a length, the connection close, or chunked transfer coding
//! (size lines with extensions, data, the CRLF after it, the trailer section), decoded one
//! byte at a time so that input may be split anywhere.

use super::HttpError;

/// How the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Length(u64),
    UntilClose,
    ChunkSize {
        value: u64,
        digits: u8,
    },
    ChunkExtension {
        value: u64,
    },
    ChunkSizeEnd {
        value: u64,
    },
    ChunkData(u64),
    ChunkDataEnd {
        seen_cr: bool,
    },
    /// Trailer section: `at_line_start` and whether a CR started the empty line.
    Trailer {
        at_line_start: bool,
        seen_cr: bool,
    },
}

/// One byte of chunk framing (size line, data end, trailer); `None` once the body ended.
pub(super) fn chunk_framing(framing: Framing, byte: u8) -> Result<Option<Framing>, HttpError> {
    let next = match (framing, byte) {
        (Framing::ChunkSize { value, digits }, _) if byte.is_ascii_hexdigit() => {
            if digits >= 15 {
                return Err(HttpError::Malformed);
            }
            let digit = u64::from(char::from(byte).to_digit(16).unwrap_or(0));
            Framing::ChunkSize {
                value: value * 16 + digit,
                digits: digits + 1,
            }
        }
        (Framing::ChunkSize { digits: 0, .. }, _) => return Err(HttpError::Malformed),
        (Framing::ChunkSize { value, .. }, b';' | b' ' | b'\t')
        | (Framing::ChunkExtension { value }, b';' | b' ' | b'\t' | b'=' | b'"' | 0x21..=0x7E) => {
            Framing::ChunkExtension { value }
        }
        (Framing::ChunkSize { value, .. } | Framing::ChunkExtension { value }, b'\r') => {
            Framing::ChunkSizeEnd { value }
        }
        (Framing::ChunkSize { value, .. } | Framing::ChunkExtension { value }, b'\n')
        | (Framing::ChunkSizeEnd { value }, b'\n') => {
            if value == 0 {
                Framing::Trailer {
                    at_line_start: true,
                    seen_cr: false,
                }
            } else {
                Framing::ChunkData(value)
            }
        }
        (Framing::ChunkDataEnd { seen_cr: false }, b'\r') => {
            Framing::ChunkDataEnd { seen_cr: true }
        }
        (Framing::ChunkDataEnd { .. }, b'\n') => Framing::ChunkSize {
            value: 0,
            digits: 0,
        },
        (Framing::Trailer { at_line_start, .. }, b'\r') => Framing::Trailer {
            at_line_start,
            seen_cr: true,
        },
        (
            Framing::Trailer {
                at_line_start: true,
                ..
            },
            b'\n',
        ) => return Ok(None),
        (Framing::Trailer { .. }, b'\n') => Framing::Trailer {
            at_line_start: true,
            seen_cr: false,
        },
        (Framing::Trailer { seen_cr: false, .. }, _) => Framing::Trailer {
            at_line_start: false,
            seen_cr: false,
        },
        _ => return Err(HttpError::Malformed),
    };
    Ok(Some(next))
}
