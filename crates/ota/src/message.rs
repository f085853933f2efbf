//! Messages the cloud sends on `$ota/update/<pid>/<dn>` (`cloud.md` §4.3).
//!
//! The parser is strict about what it uses and lenient about the rest, as
//! the spec asks: `file_size` as a number or a decimal string, `md5sum` as
//! 32 hex digits in any case, unknown members ignored. A payload that is not
//! one JSON object, or has no `type` string, is [`Message::Other`]: the
//! state machine ignores it. An `update_firmware` with a missing or invalid
//! field is an error naming the field, which the state machine turns into
//! the spec's `-5` report and `UPDATEFAIL,210`. Strings keep pointing into
//! the payload; only the short version and the digest are decoded.
//!
//! The same parser reads the resource channel of the module self-update
//! (`$thing/down/service/<pid>/<dn>`, `cloud.md` §4.7), whose messages carry
//! `method` instead of `type`: an `update_resource` naming a resource has
//! the fields of `update_firmware`; everything else there is `Other`.

use core::fmt;

use crate::json::{self, Text, Value};
use crate::Version;

/// A message on the OTA update topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// `report_version_rsp`: the cloud's answer to a version report.
    VersionResponse {
        /// `result_code` is 0 (as a number or a string).
        accepted: bool,
    },
    /// `update_firmware`: a new image to download.
    UpdateFirmware(UpdateFirmware<'a>),
    /// `update_resource` on the resource channel (`cloud.md` §4.7): a new
    /// module image, with the same fields as `update_firmware`.
    UpdateResource {
        /// `resource_name`, escapes not decoded (compare with [`Text::equals`]).
        resource: Text<'a>,
        /// The download.
        update: UpdateFirmware<'a>,
    },
    /// Not JSON, no `type`, or a type this module does not handle.
    Other,
}

/// A valid `update_firmware` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFirmware<'a> {
    /// Image size in bytes (at least 1).
    pub file_size: u32,
    /// Expected MD5 of the image.
    pub md5: [u8; 16],
    /// Target version, 1..=32 bytes.
    pub version: Version,
    /// Download URL (`http://` or `https://`), escapes of the JSON string
    /// not yet decoded: copy it with [`Text::copy_to`].
    pub url: Text<'a>,
}

/// A field of `update_firmware`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Field {
    /// `file_size`
    FileSize,
    /// `md5sum`
    Md5,
    /// `version`
    Version,
    /// `url`
    Url,
}

/// An `update_firmware` message the module cannot act on (→ `UPDATEFAIL,210`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MessageError {
    /// The field is absent.
    Missing(Field),
    /// The field is present more than once, has the wrong JSON type or an
    /// invalid value.
    Invalid(Field),
}

impl fmt::Display for MessageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(field) => write!(formatter, "update_firmware without {field:?}"),
            Self::Invalid(field) => write!(formatter, "update_firmware with an invalid {field:?}"),
        }
    }
}

impl core::error::Error for MessageError {}

/// What one member held, before validation: `None` absent, `Some(None)`
/// present more than once.
type Seen<'a> = Option<Option<Value<'a>>>;

fn remember<'a>(slot: &mut Seen<'a>, value: Value<'a>) {
    *slot = match slot {
        None => Some(Some(value)),
        Some(_) => Some(None),
    };
}

impl<'a> Message<'a> {
    /// Parses one payload of the update topic.
    ///
    /// # Errors
    ///
    /// Only for an `update_firmware` message with a missing or invalid field.
    pub fn parse(payload: &'a [u8]) -> Result<Self, MessageError> {
        let mut kind: Seen<'a> = None;
        let mut result_code: Seen<'a> = None;
        let mut file_size: Seen<'a> = None;
        let mut md5: Seen<'a> = None;
        let mut version: Seen<'a> = None;
        let mut url: Seen<'a> = None;
        let mut method: Seen<'a> = None;
        let mut resource: Seen<'a> = None;
        let walked = json::for_each_member(payload, |key, value| {
            let slot = match key {
                b"type" => &mut kind,
                b"result_code" => &mut result_code,
                b"file_size" => &mut file_size,
                b"md5sum" => &mut md5,
                b"version" => &mut version,
                b"url" => &mut url,
                b"method" => &mut method,
                b"resource_name" => &mut resource,
                _ => return,
            };
            remember(slot, value);
        });
        let Ok(()) = walked else {
            return Ok(Self::Other);
        };
        let Some(Some(Value::String(kind))) = kind else {
            // The resource channel names its messages with `method`; only an
            // `update_resource` that names its resource is one to act on.
            return match (method, resource) {
                (Some(Some(Value::String(method))), Some(Some(Value::String(resource))))
                    if method.equals(b"update_resource") =>
                {
                    Ok(Self::UpdateResource {
                        resource,
                        update: update_fields(file_size, md5, version, url)?,
                    })
                }
                _ => Ok(Self::Other),
            };
        };
        if kind.equals(b"report_version_rsp") {
            let accepted = matches!(result_code, Some(Some(value)) if is_zero(value));
            return Ok(Self::VersionResponse { accepted });
        }
        if !kind.equals(b"update_firmware") {
            return Ok(Self::Other);
        }
        Ok(Self::UpdateFirmware(update_fields(
            file_size, md5, version, url,
        )?))
    }
}

fn update_fields<'a>(
    file_size: Seen<'a>,
    md5: Seen<'a>,
    version: Seen<'a>,
    url: Seen<'a>,
) -> Result<UpdateFirmware<'a>, MessageError> {
    Ok(UpdateFirmware {
        file_size: field(file_size, Field::FileSize, parse_size)?,
        md5: field(md5, Field::Md5, parse_md5)?,
        version: field(version, Field::Version, parse_version)?,
        url: field(url, Field::Url, parse_url)?,
    })
}

fn field<'a, T>(
    seen: Seen<'a>,
    name: Field,
    parse: impl FnOnce(Value<'a>) -> Option<T>,
) -> Result<T, MessageError> {
    let value = seen.ok_or(MessageError::Missing(name))?;
    value.and_then(parse).ok_or(MessageError::Invalid(name))
}

/// A decimal integer, as a JSON number or string, that is zero.
fn is_zero(value: Value<'_>) -> bool {
    match value {
        Value::Number(text) => decimal(text.iter().copied()) == Some(0),
        Value::String(text) => decimal(text.bytes()) == Some(0),
        Value::Other => false,
    }
}

/// Digits only (at least one, at most ten), fitting a `u32`.
fn decimal(digits: impl Iterator<Item = u8>) -> Option<u32> {
    let mut value: u32 = 0;
    let mut count = 0;
    for digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(u32::from(digit - b'0'))?;
        count += 1;
    }
    (count > 0).then_some(value)
}

fn parse_size(value: Value<'_>) -> Option<u32> {
    let size = match value {
        Value::Number(text) => decimal(text.iter().copied()),
        Value::String(text) => decimal(text.bytes()),
        Value::Other => None,
    }?;
    (size > 0).then_some(size)
}

fn parse_md5(value: Value<'_>) -> Option<[u8; 16]> {
    let Value::String(text) = value else {
        return None;
    };
    let mut digest = [0u8; 16];
    let mut count = 0;
    for digit in text.bytes() {
        let nibble = char::from(digit).to_digit(16)? as u8;
        let byte = digest.get_mut(count / 2)?;
        *byte = (*byte << 4) | nibble;
        count += 1;
    }
    (count == 32).then_some(digest)
}

fn parse_version(value: Value<'_>) -> Option<Version> {
    let Value::String(text) = value else {
        return None;
    };
    let mut version = Version::new();
    for byte in text.bytes() {
        version.push(byte).ok()?;
    }
    (!version.is_empty()).then_some(version)
}

fn parse_url(value: Value<'_>) -> Option<Text<'_>> {
    let Value::String(text) = value else {
        return None;
    };
    let mut scheme = [0u8; 8];
    let mut length = 0;
    let mut bytes = text.bytes();
    for byte in bytes.by_ref() {
        *scheme.get_mut(length)? = byte.to_ascii_lowercase();
        length += 1;
        if scheme[..length].ends_with(b"://") {
            break;
        }
    }
    let known = matches!(&scheme[..length], b"http://" | b"https://");
    // A host is required: the first byte after `://` must start one.
    let has_host = matches!(bytes.next(), Some(byte) if !matches!(byte, b'/' | b'?' | b'#' | b':'));
    (known && has_host).then_some(text)
}
