//! The registration reply (`cloud.md` §5): the cloud's JSON, the Base64
//! payload, AES-128-CBC with the product secret, and the credential inside.
//!
//! The payload is Base64-decoded straight from the JSON text into the
//! caller's scratch buffer and decrypted there in place; the credential is
//! handed back as a view into that plaintext, still JSON-escaped, so a
//! certificate's PEM can be decoded while it is written to flash instead of
//! being copied first.

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use core::fmt;
use ota::json::{for_each_member, Value};
use ota::Text;

use super::{GENERIC_FAILURE, MINIMUM_PRODUCT_SECRET};

/// The IV of the reply encryption: sixteen ASCII `0`.
const IV: [u8; 16] = [b'0'; 16];

/// The credential the cloud issued, as JSON text in the caller's scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `encryptionType` 2: the device secret (Base64 PSK).
    Key(Text<'a>),
    /// `encryptionType` 1: client certificate and key, PEM.
    Certificate {
        /// `clientCert`.
        certificate: Text<'a>,
        /// `clientKey`.
        key: Text<'a>,
    },
}

/// Why a reply gave no credential.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReplyError {
    /// The cloud answered this non-zero `code` (`errors.md` §4).
    Cloud(i32),
    /// The body is not the documented JSON, the payload is not Base64 of a
    /// multiple of 16 bytes, the plaintext is not the credential JSON, or
    /// the scratch buffer cannot hold the payload.
    Malformed,
    /// A certificate credential on a board without certificate TLS, or an
    /// `encryptionType` that is neither 1 nor 2.
    Unusable,
    /// The product secret is shorter than the 16-byte AES key.
    ShortSecret,
}

impl ReplyError {
    /// The `+TCDEVREG:FAIL,<code>` value (`commands.md` §1 step 8).
    #[must_use]
    pub const fn code(self) -> i32 {
        match self {
            Self::Cloud(code) => code,
            Self::Malformed | Self::Unusable | Self::ShortSecret => GENERIC_FAILURE,
        }
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cloud(code) => write!(formatter, "registration refused with code {code}"),
            Self::Malformed => formatter.write_str("malformed registration reply"),
            Self::Unusable => formatter.write_str("credential type unusable on this board"),
            Self::ShortSecret => formatter.write_str("product secret shorter than 16 bytes"),
        }
    }
}

impl core::error::Error for ReplyError {}

/// Decodes a complete reply `body` with the product secret.
///
/// `scratch` receives the decrypted payload (its Base64-decoded length: 64
/// bytes for a key product, a few KiB for a certificate product); the
/// returned credential borrows it. `certificates` tells whether the board
/// can use a certificate credential.
///
/// # Errors
///
/// The first [`ReplyError`] found; `scratch` content is then unspecified.
pub fn decode_reply<'a>(
    body: &[u8],
    product_secret: &[u8],
    scratch: &'a mut [u8],
    certificates: bool,
) -> Result<Credential<'a>, ReplyError> {
    let key = product_secret
        .get(..MINIMUM_PRODUCT_SECRET)
        .ok_or(ReplyError::ShortSecret)?;
    let mut code = None;
    let mut payload = None;
    let mut well_formed = true;
    for_each_member(body, |name, value| match (name, value) {
        (b"code", Value::Number(digits)) => code = parse_integer(digits),
        (b"code", _) => well_formed = false,
        (b"payload", Value::String(text)) => payload = Some(text),
        _ => {}
    })
    .map_err(|_| ReplyError::Malformed)?;
    let code = code.filter(|_| well_formed).ok_or(ReplyError::Malformed)?;
    if code != 0 {
        return Err(ReplyError::Cloud(code));
    }
    let payload = payload.ok_or(ReplyError::Malformed)?;
    let length = decode_base64(payload, scratch).ok_or(ReplyError::Malformed)?;
    if length == 0 || length % 16 != 0 {
        return Err(ReplyError::Malformed);
    }
    let mut cipher = cbc::Decryptor::<aes::Aes128>::new_from_slices(key, &IV)
        .map_err(|_| ReplyError::Malformed)?;
    let plaintext = &mut scratch[..length];
    for block in plaintext.chunks_exact_mut(16) {
        cipher.decrypt_block_mut(aes::Block::from_mut_slice(block));
    }
    let end = plaintext
        .iter()
        .rposition(|&byte| byte != 0)
        .map_or(0, |last| last + 1);
    parse_credential(&plaintext[..end], certificates)
}

fn parse_credential(plaintext: &[u8], certificates: bool) -> Result<Credential<'_>, ReplyError> {
    let mut kind = None;
    let (mut psk, mut certificate, mut key) = (None, None, None);
    for_each_member(plaintext, |name, value| match (name, value) {
        (b"encryptionType", Value::Number(digits)) => kind = parse_integer(digits),
        (b"psk", Value::String(text)) => psk = Some(text),
        (b"clientCert", Value::String(text)) => certificate = Some(text),
        (b"clientKey", Value::String(text)) => key = Some(text),
        _ => {}
    })
    .map_err(|_| ReplyError::Malformed)?;
    match kind.ok_or(ReplyError::Malformed)? {
        2 => psk
            .filter(|text| !text.raw().is_empty())
            .map(Credential::Key)
            .ok_or(ReplyError::Malformed),
        1 if certificates => match (certificate, key) {
            (Some(certificate), Some(key)) => Ok(Credential::Certificate { certificate, key }),
            _ => Err(ReplyError::Malformed),
        },
        _ => Err(ReplyError::Unusable),
    }
}

/// A JSON integer that fits an `i32` (no fraction, no exponent).
fn parse_integer(digits: &[u8]) -> Option<i32> {
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for digit in digits {
        value = value.checked_mul(10)? + i64::from(digit - b'0');
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    i32::try_from(if negative { -value } else { value }).ok()
}

/// Standard Base64 (with `=` padding) from the decoded JSON string into
/// `out`; returns the decoded length, or `None` for invalid text or a
/// short `out`. Decoding streams from the string's escapes, so `\/` (which
/// a JSON encoder may write for `/`) costs no copy.
fn decode_base64(text: Text<'_>, out: &mut [u8]) -> Option<usize> {
    let mut group = [0u8; 4];
    let (mut filled, mut padding, mut length) = (0, 0, 0);
    let mut finished = false;
    for character in text.bytes() {
        if finished {
            return None;
        }
        let value = match character {
            b'=' if filled >= 2 => {
                padding += 1;
                0
            }
            _ if padding > 0 => return None,
            b'A'..=b'Z' => character - b'A',
            b'a'..=b'z' => character - b'a' + 26,
            b'0'..=b'9' => character - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        group[filled] = value;
        filled += 1;
        if filled == 4 {
            let bytes = [
                (group[0] << 2) | (group[1] >> 4),
                (group[1] << 4) | (group[2] >> 2),
                (group[2] << 6) | group[3],
            ];
            let useful = 3 - padding;
            out.get_mut(length..length + useful)?
                .copy_from_slice(&bytes[..useful]);
            length += useful;
            finished = padding > 0;
            (filled, padding) = (0, 0);
        }
    }
    (filled == 0).then_some(length)
}
