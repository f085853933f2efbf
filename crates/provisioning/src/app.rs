//! The app side of the UDP protocol (`cloud.md` §6.2–§6.4): the command
//! datagrams of the mini program and the device's reply.
//!
//! A command is parsed where it lies, in the caller's receive buffer; the
//! router password and the token are handed on as views into it and never
//! copied into state that outlives the call, apart from the 32-byte token.

use ota::json::{for_each_member, Value};
use ota::Text;

use crate::errors::sub;
use crate::write::{Out, Overflow};
use crate::Identity;

/// Longest datagram accepted (`cloud.md` §6.4); longer ones are a format
/// error.
pub const MAXIMUM_DATAGRAM: usize = 255;
/// Tokens are truncated to this many bytes (`cloud.md` §6.4).
pub const TOKEN_CAPACITY: usize = 32;
/// The region an app that sends none means.
pub const DEFAULT_REGION: &[u8] = b"ap-guangzhou";

/// A command of the mini program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppCommand<'a> {
    /// `cmdType` 1 (softAP: router credentials and token) or 0
    /// (SmartConfig: token only).
    Bind {
        /// `cmdType`.
        command_type: u8,
        /// Router SSID (`cmdType` 1).
        ssid: Option<Text<'a>>,
        /// Router password (`cmdType` 1); a secret, never logged.
        password: Option<Text<'a>>,
        /// The binding token.
        token: Text<'a>,
        /// The app's region; `None` means [`DEFAULT_REGION`].
        region: Option<Text<'a>>,
    },
    /// `cmdType` 3: the log dump.
    LogQuery,
}

/// Parses one datagram of the app.
///
/// # Errors
///
/// The sub-code of the error record of type 2: [`sub::JSON_FORMAT`] for a
/// datagram longer than [`MAXIMUM_DATAGRAM`], not one JSON object, or
/// without a `cmdType` of 0, 1 or 3; [`sub::INFO_MISSING`] when the
/// `cmdType` 1 fields `ssid`, `password`, `token` or the `cmdType` 0 field
/// `token` are missing, not strings, or (SSID, token) empty.
pub fn parse_command(datagram: &[u8]) -> Result<AppCommand<'_>, i32> {
    if datagram.len() > MAXIMUM_DATAGRAM {
        return Err(sub::JSON_FORMAT);
    }
    let mut command_type = None;
    let (mut ssid, mut password, mut token, mut region) = (None, None, None, None);
    for_each_member(datagram, |name, value| match (name, value) {
        (b"cmdType", Value::Number(b"0")) => command_type = Some(0),
        (b"cmdType", Value::Number(b"1")) => command_type = Some(1),
        (b"cmdType", Value::Number(b"3")) => command_type = Some(3),
        (b"ssid", Value::String(text)) => ssid = Some(text),
        (b"password", Value::String(text)) => password = Some(text),
        (b"token", Value::String(text)) => token = Some(text),
        (b"region", Value::String(text)) => region = Some(text),
        _ => {}
    })
    .map_err(|_| sub::JSON_FORMAT)?;
    let token = token.filter(|text| !text.raw().is_empty());
    match command_type {
        Some(3) => Ok(AppCommand::LogQuery),
        Some(1) if ssid.is_none_or(|text| text.raw().is_empty()) || password.is_none() => {
            Err(sub::INFO_MISSING)
        }
        Some(command_type) => Ok(AppCommand::Bind {
            command_type,
            ssid,
            password,
            token: token.ok_or(sub::INFO_MISSING)?,
            region,
        }),
        None => Err(sub::JSON_FORMAT),
    }
}

/// Whether a datagram to the log server asks for the log: it begins with
/// `{"cmdType":3}` (`cloud.md` §6.7).
#[must_use]
pub fn is_log_query(datagram: &[u8]) -> bool {
    datagram.starts_with(b"{\"cmdType\":3}")
}

/// Writes the device reply of `cloud.md` §6.4 [`prov_softap_ok`].
pub(crate) fn write_device_reply(
    identity: &Identity<'_>,
    out: &mut Out<'_>,
) -> Result<(), Overflow> {
    out.put(b"{\"cmdType\":2,\"productId\":\"")?;
    out.put(identity.product_id)?;
    out.put(b"\",\"deviceName\":\"")?;
    out.put(identity.device_name)?;
    out.put(b"\",\"productRegion\":\"")?;
    out.put(identity.region)?;
    out.put(b"\",\"protoVersion\":\"2.0\"}\r\n")
}
