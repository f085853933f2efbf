//! Topics and the exact request bytes (`cloud.md` §9.1, §9.3, §9.4).
//!
//! Everything is written into a buffer the caller owns (the MQTT transmit
//! buffer, typically), so no request is ever held in this crate's state.
//! Product ids and device names are written as JSON string contents:
//! Tencent's names never need escaping, and escaping `"`, `\` and control
//! bytes keeps an odd name from breaking the JSON (`docs/decisions.md`).

use crate::subdevice::SubDevice;
use base64::Engine as _;
use hmac::{Hmac, Mac};

/// Length of the Base64 bind signature (a 20-byte HMAC-SHA1 digest).
pub const SIGNATURE_LENGTH: usize = 28;
/// Largest bind request (`cloud.md` §9.8 "about 300 bytes"): the fixed text,
/// a 10-byte product id and a 48-byte name, both fully escaped (6 bytes per
/// byte), the signature and two 10-digit numbers.
pub const MAXIMUM_REQUEST_LENGTH: usize = 512;
/// The cloud time request, spaces as the original sends them (`cloud.md` §9.3).
pub const TIME_REQUEST: &[u8] = br#"{"type": "get", "resource": ["time"]}"#;

/// The output buffer is too small; what was written is unspecified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct BufferTooSmall;

/// A gateway request type (the `type` member of requests and replies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Operation {
    /// Bind a sub-device to the gateway (signed).
    Bind,
    /// Unbind it.
    Unbind,
    /// Bring it online through the gateway's connection.
    Online,
    /// Take it offline.
    Offline,
}

impl Operation {
    /// The `type` string.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Bind => "bind",
            Self::Unbind => "unbind",
            Self::Online => "online",
            Self::Offline => "offline",
        }
    }
}

/// The four topics of the gateway feature, each under `<pid>/<dn>` of the
/// gateway (the device record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Channel {
    /// `$gateway/operation/<pid>/<dn>`: requests, published QoS0.
    Request,
    /// `$gateway/operation/result/<pid>/<dn>`: replies, subscribed QoS1.
    Result,
    /// `$sys/operation/<pid>/<dn>`: the time request, published QoS0.
    TimeRequest,
    /// `$sys/operation/result/<pid>/<dn>`: the time reply, subscribed QoS0.
    TimeResult,
}

impl Channel {
    const fn prefix(self) -> &'static [u8] {
        match self {
            Self::Request => b"$gateway/operation/",
            Self::Result => b"$gateway/operation/result/",
            Self::TimeRequest => b"$sys/operation/",
            Self::TimeResult => b"$sys/operation/result/",
        }
    }

    /// QoS of the SUBSCRIBE or PUBLISH on this channel (0 or 1).
    #[must_use]
    pub const fn qos(self) -> u8 {
        match self {
            Self::Result => 1,
            Self::Request | Self::TimeRequest | Self::TimeResult => 0,
        }
    }

    /// Writes the topic for the gateway `product_id`/`device_name`; returns
    /// its length.
    ///
    /// # Errors
    /// [`BufferTooSmall`].
    pub fn write_topic(
        self,
        product_id: &[u8],
        device_name: &[u8],
        out: &mut [u8],
    ) -> Result<usize, BufferTooSmall> {
        let mut writer = Writer::new(out);
        writer.put(self.prefix())?;
        writer.put(product_id)?;
        writer.put(b"/")?;
        writer.put(device_name)?;
        Ok(writer.length)
    }

    /// Which channel `topic` is for the gateway `product_id`/`device_name`,
    /// if any.
    #[must_use]
    pub fn of_topic(topic: &[u8], product_id: &[u8], device_name: &[u8]) -> Option<Self> {
        [
            Self::Request,
            Self::Result,
            Self::TimeRequest,
            Self::TimeResult,
        ]
        .into_iter()
        .find(|channel| {
            topic
                .strip_prefix(channel.prefix())
                .and_then(|rest| rest.strip_prefix(product_id))
                .and_then(|rest| rest.strip_prefix(b"/"))
                == Some(device_name)
        })
    }
}

/// The bind signature: `Base64(HMAC-SHA1(key = secret text, "<sp><sd>;<r>;<t>"))`
/// (`cloud.md` §9.4). The key is the secret **as typed**, not Base64-decoded.
#[must_use]
pub fn bind_signature(
    subdevice: &SubDevice,
    secret: &[u8],
    random: u32,
    timestamp: u64,
) -> [u8; SIGNATURE_LENGTH] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    let mut number = [0u8; 20];
    mac.update(subdevice.product_id());
    mac.update(subdevice.device_name());
    mac.update(b";");
    mac.update(decimal(u64::from(random), &mut number));
    mac.update(b";");
    mac.update(decimal(timestamp, &mut number));
    let digest = mac.finalize().into_bytes();
    let mut signature = [0u8; SIGNATURE_LENGTH];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut signature)
        .unwrap_or_else(|_| unreachable!("20 bytes encode to 28"));
    debug_assert_eq!(written, SIGNATURE_LENGTH);
    signature
}

/// What a bind request carries beyond the sub-device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindFields {
    /// The Base64 signature from [`bind_signature`].
    pub signature: [u8; SIGNATURE_LENGTH],
    /// `<r>`, 1..=2147483647.
    pub random: u32,
    /// `<t>`, the cloud time.
    pub timestamp: u64,
}

/// Writes the compact JSON request of `operation` for `subdevice`
/// (`cloud.md` §9.4); `bind` must be `Some` exactly for [`Operation::Bind`].
/// Returns the length.
///
/// # Errors
/// [`BufferTooSmall`].
pub fn write_request(
    operation: Operation,
    subdevice: &SubDevice,
    bind: Option<&BindFields>,
    out: &mut [u8],
) -> Result<usize, BufferTooSmall> {
    let mut writer = Writer::new(out);
    writer.put(br#"{"type":""#)?;
    writer.put(operation.name().as_bytes())?;
    writer.put(br#"","payload":{"devices":[{"product_id":""#)?;
    writer.put_json_text(subdevice.product_id())?;
    writer.put(br#"","device_name":""#)?;
    writer.put_json_text(subdevice.device_name())?;
    writer.put(b"\"")?;
    if let Some(bind) = bind {
        let mut number = [0u8; 20];
        writer.put(br#","signature":""#)?;
        writer.put(&bind.signature)?;
        writer.put(br#"","random":"#)?;
        writer.put(decimal(u64::from(bind.random), &mut number))?;
        writer.put(br#","timestamp":"#)?;
        writer.put(decimal(bind.timestamp, &mut number))?;
        writer.put(br#","signmethod":"hmacsha1","authtype":"psk""#)?;
    }
    writer.put(b"}]}}")?;
    Ok(writer.length)
}

/// Decimal text of `value` in `scratch`.
pub(crate) fn decimal(mut value: u64, scratch: &mut [u8; 20]) -> &[u8] {
    let mut start = scratch.len();
    loop {
        start -= 1;
        scratch[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &scratch[start..];
        }
    }
}

/// Appends to a caller's buffer, failing instead of truncating.
pub(crate) struct Writer<'a> {
    out: &'a mut [u8],
    pub(crate) length: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        Self { out, length: 0 }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        let end = self.length + bytes.len();
        self.out
            .get_mut(self.length..end)
            .ok_or(BufferTooSmall)?
            .copy_from_slice(bytes);
        self.length = end;
        Ok(())
    }

    fn put_json_text(&mut self, bytes: &[u8]) -> Result<(), BufferTooSmall> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for &byte in bytes {
            match byte {
                b'"' | b'\\' => self.put(&[b'\\', byte])?,
                0..=0x1f => self.put(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ])?,
                _ => self.put(&[byte])?,
            }
        }
        Ok(())
    }
}
