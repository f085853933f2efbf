//! Handshake messages (RFC 5246 §7.4, RFC 4279 §2): pure builders for what the client sends
//! and a pure parser for what the server sends.
//!
//! The client sends exactly one `ClientHello` shape: TLS 1.2, no session id, the two PSK
//! suites plus the renegotiation SCSV (0x00FF) — which signals secure renegotiation without
//! an extension, as mbedTLS 2.x does — no compression, and an SNI extension only when a
//! host name is given. Keeping the offer this small is what the spec asks for (no extension
//! the original did not need).

use crate::error::HandshakeError;
use crate::prf::VERIFY_DATA_LENGTH;
use crate::record::{BulkCipher, TLS12};

/// `TLS_PSK_WITH_AES_128_CBC_SHA`.
pub const TLS_PSK_WITH_AES_128_CBC_SHA: u16 = 0x008C;
/// `TLS_PSK_WITH_AES_256_CBC_SHA`.
pub const TLS_PSK_WITH_AES_256_CBC_SHA: u16 = 0x008D;
/// `TLS_EMPTY_RENEGOTIATION_INFO_SCSV` (RFC 5746).
pub const EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00FF;
/// Length of a handshake message header: type and 24-bit length.
pub const HANDSHAKE_HEADER_LENGTH: usize = 4;

const EXTENSION_SERVER_NAME: u16 = 0;
const EXTENSION_RENEGOTIATION_INFO: u16 = 0xFF01;

/// Handshake message types used by a PSK client.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HandshakeType {
    /// `hello_request` (0).
    HelloRequest,
    /// `client_hello` (1).
    ClientHello,
    /// `server_hello` (2).
    ServerHello,
    /// `server_key_exchange` (12).
    ServerKeyExchange,
    /// `server_hello_done` (14).
    ServerHelloDone,
    /// `client_key_exchange` (16).
    ClientKeyExchange,
    /// `finished` (20).
    Finished,
    /// Any other type (certificates, tickets, …), which a PSK client never expects.
    Other(u8),
}

impl HandshakeType {
    /// The wire value of this type.
    pub const fn value(self) -> u8 {
        match self {
            Self::HelloRequest => 0,
            Self::ClientHello => 1,
            Self::ServerHello => 2,
            Self::ServerKeyExchange => 12,
            Self::ServerHelloDone => 14,
            Self::ClientKeyExchange => 16,
            Self::Finished => 20,
            Self::Other(value) => value,
        }
    }

    const fn from_value(value: u8) -> Self {
        match value {
            0 => Self::HelloRequest,
            1 => Self::ClientHello,
            2 => Self::ServerHello,
            12 => Self::ServerKeyExchange,
            14 => Self::ServerHelloDone,
            16 => Self::ClientKeyExchange,
            20 => Self::Finished,
            other => Self::Other(other),
        }
    }
}

/// One complete handshake message: its type and body (header excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeMessage<'a> {
    /// The message type.
    pub message_type: HandshakeType,
    /// The body, without the 4-byte header.
    pub body: &'a [u8],
}

/// Splits the first handshake message off `bytes` and returns it with the number of bytes
/// it occupies (header included).
///
/// Returns `Ok(None)` when `bytes` holds only part of a message.
///
/// # Errors
///
/// Never fails today (any type and length is framed); the `Result` leaves room for limits.
pub fn parse_handshake(
    bytes: &[u8],
) -> Result<Option<(HandshakeMessage<'_>, usize)>, HandshakeError> {
    let Some(header) = bytes.get(..HANDSHAKE_HEADER_LENGTH) else {
        return Ok(None);
    };
    let length =
        usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let total = HANDSHAKE_HEADER_LENGTH + length;
    let Some(body) = bytes.get(HANDSHAKE_HEADER_LENGTH..total) else {
        return Ok(None);
    };
    Ok(Some((
        HandshakeMessage {
            message_type: HandshakeType::from_value(header[0]),
            body,
        },
        total,
    )))
}

/// What the client needs from a `ServerHello`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerHello {
    /// The server's hello random.
    pub random: [u8; 32],
    /// The bulk cipher of the chosen suite.
    pub cipher: BulkCipher,
}

/// A cursor over a message body that reports truncation as a decode error.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], HandshakeError> {
        if count > self.bytes.len() {
            return Err(HandshakeError::Decode);
        }
        let (head, tail) = self.bytes.split_at(count);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, HandshakeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, HandshakeError> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn vector_u8(&mut self) -> Result<&'a [u8], HandshakeError> {
        let length = self.u8()?;
        self.take(usize::from(length))
    }

    fn vector_u16(&mut self) -> Result<&'a [u8], HandshakeError> {
        let length = self.u16()?;
        self.take(usize::from(length))
    }
}

/// Parses a `ServerHello` body and checks it against what [`write_client_hello`] offered.
///
/// # Errors
///
/// [`HandshakeError::Decode`] for a malformed body, [`HandshakeError::UnsupportedVersion`]
/// for a version other than TLS 1.2, [`HandshakeError::UnsupportedSuite`] for a suite,
/// compression or `renegotiation_info` value that was not offered. Unknown extensions are
/// ignored, as mbedTLS 2.x does.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, HandshakeError> {
    let mut reader = Reader { bytes: body };
    if reader.u16()? != TLS12 {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let mut random = [0; 32];
    random.copy_from_slice(reader.take(32)?);
    let session_id = reader.vector_u8()?;
    if session_id.len() > 32 {
        return Err(HandshakeError::Decode);
    }
    let cipher = match reader.u16()? {
        TLS_PSK_WITH_AES_128_CBC_SHA => BulkCipher::Aes128,
        TLS_PSK_WITH_AES_256_CBC_SHA => BulkCipher::Aes256,
        _ => return Err(HandshakeError::UnsupportedSuite),
    };
    if reader.u8()? != 0 {
        return Err(HandshakeError::UnsupportedSuite);
    }
    if !reader.bytes.is_empty() {
        let mut extensions = Reader {
            bytes: reader.vector_u16()?,
        };
        while !extensions.bytes.is_empty() {
            let extension_type = extensions.u16()?;
            let data = extensions.vector_u16()?;
            // RFC 5746 §3.4: on an initial handshake the extension must carry an empty
            // renegotiated_connection.
            if extension_type == EXTENSION_RENEGOTIATION_INFO && data != [0] {
                return Err(HandshakeError::UnsupportedSuite);
            }
        }
    }
    if !reader.bytes.is_empty() {
        return Err(HandshakeError::Decode);
    }
    Ok(ServerHello { random, cipher })
}

/// Checks a PSK `ServerKeyExchange` body: a `psk_identity_hint<0..2^16-1>` and nothing
/// else. The hint is returned but this client does not use it (the identity is fixed).
///
/// # Errors
///
/// [`HandshakeError::Decode`] when the body is not exactly one hint.
pub fn parse_server_key_exchange(body: &[u8]) -> Result<&[u8], HandshakeError> {
    let mut reader = Reader { bytes: body };
    let hint = reader.vector_u16()?;
    if reader.bytes.is_empty() {
        Ok(hint)
    } else {
        Err(HandshakeError::Decode)
    }
}

/// Bounded writer into a caller buffer; overflow becomes [`HandshakeError::BufferTooSmall`].
struct Writer<'a> {
    bytes: &'a mut [u8],
    position: usize,
}

impl Writer<'_> {
    fn put(&mut self, data: &[u8]) -> Result<(), HandshakeError> {
        let end = self.position + data.len();
        let target = self
            .bytes
            .get_mut(self.position..end)
            .ok_or(HandshakeError::BufferTooSmall)?;
        target.copy_from_slice(data);
        self.position = end;
        Ok(())
    }

    fn u16(&mut self, value: usize) -> Result<(), HandshakeError> {
        self.put(&(value as u16).to_be_bytes())
    }
}

/// Whether `name` should travel as SNI: RFC 6066 §3 forbids IP literals, and a DNS name
/// is at most 255 bytes of ASCII.
fn sends_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.is_ascii()
        && name.parse::<core::net::IpAddr>().is_err()
}

/// Writes a complete `ClientHello` handshake message (header included) into `output` and
/// returns its length.
///
/// # Errors
///
/// [`HandshakeError::BufferTooSmall`] when `output` cannot hold the message.
pub fn write_client_hello(
    output: &mut [u8],
    random: &[u8; 32],
    server_name: Option<&str>,
) -> Result<usize, HandshakeError> {
    let mut writer = Writer {
        bytes: output,
        position: 0,
    };
    writer.put(&[HandshakeType::ClientHello.value(), 0, 0, 0])?;
    writer.u16(usize::from(TLS12))?;
    writer.put(random)?;
    writer.put(&[0])?; // empty session id: no resumption
    writer.u16(6)?;
    for suite in [
        TLS_PSK_WITH_AES_128_CBC_SHA,
        TLS_PSK_WITH_AES_256_CBC_SHA,
        EMPTY_RENEGOTIATION_INFO_SCSV,
    ] {
        writer.u16(usize::from(suite))?;
    }
    writer.put(&[1, 0])?; // compression: null only
    if let Some(name) = server_name.filter(|name| sends_server_name(name)) {
        let name = name.as_bytes();
        writer.u16(name.len() + 9)?; // extensions block
        writer.u16(usize::from(EXTENSION_SERVER_NAME))?;
        writer.u16(name.len() + 5)?; // extension data
        writer.u16(name.len() + 3)?; // server_name_list
        writer.put(&[0])?; // host_name
        writer.u16(name.len())?;
        writer.put(name)?;
    }
    let length = writer.position;
    finish_header(output, length);
    Ok(length)
}

/// Writes a PSK `ClientKeyExchange` (header included) carrying `identity` and returns its
/// length.
///
/// # Errors
///
/// [`HandshakeError::BufferTooSmall`] when `output` cannot hold it;
/// [`HandshakeError::InvalidConfiguration`] for an empty or over-long identity.
pub fn write_client_key_exchange(
    output: &mut [u8],
    identity: &[u8],
) -> Result<usize, HandshakeError> {
    if identity.is_empty() || identity.len() > usize::from(u16::MAX) {
        return Err(HandshakeError::InvalidConfiguration);
    }
    let mut writer = Writer {
        bytes: output,
        position: 0,
    };
    writer.put(&[HandshakeType::ClientKeyExchange.value(), 0, 0, 0])?;
    writer.u16(identity.len())?;
    writer.put(identity)?;
    let length = writer.position;
    finish_header(output, length);
    Ok(length)
}

/// Writes a `Finished` message (header included) and returns its length.
///
/// # Errors
///
/// [`HandshakeError::BufferTooSmall`] when `output` cannot hold it.
pub fn write_finished(
    output: &mut [u8],
    verify_data: &[u8; VERIFY_DATA_LENGTH],
) -> Result<usize, HandshakeError> {
    let mut writer = Writer {
        bytes: output,
        position: 0,
    };
    writer.put(&[
        HandshakeType::Finished.value(),
        0,
        0,
        VERIFY_DATA_LENGTH as u8,
    ])?;
    writer.put(verify_data)?;
    Ok(writer.position)
}

fn finish_header(output: &mut [u8], total: usize) {
    let length = (total - HANDSHAKE_HEADER_LENGTH) as u32;
    output[1..4].copy_from_slice(&length.to_be_bytes()[1..]);
}

#[cfg(test)]
mod tests;
