//! Error types, one per operation, and the alerts they map to.
//!
//! A handshake fails for reasons the AT layer reports as one code (`-703`), but tests and
//! logs need to tell them apart, so [`HandshakeError`] keeps them separate. Record errors
//! after the handshake ([`Error`]) all end the session: TLS has no way to resynchronise a
//! stream after a bad record.

use core::fmt;
use embedded_io::ErrorKind;

/// Alert descriptions (RFC 5246 §7.2) this crate sends or names.
pub mod alert {
    /// `close_notify`: orderly end of the session.
    pub const CLOSE_NOTIFY: u8 = 0;
    /// `unexpected_message`.
    pub const UNEXPECTED_MESSAGE: u8 = 10;
    /// `bad_record_mac`: a record failed padding or MAC checks.
    pub const BAD_RECORD_MAC: u8 = 20;
    /// `record_overflow`: a record exceeded the limits or the receive buffer.
    pub const RECORD_OVERFLOW: u8 = 22;
    /// `handshake_failure`: e.g. no common cipher suite.
    pub const HANDSHAKE_FAILURE: u8 = 40;
    /// `illegal_parameter`: a field held a value we never offered.
    pub const ILLEGAL_PARAMETER: u8 = 47;
    /// `decode_error`: a message could not be parsed.
    pub const DECODE_ERROR: u8 = 50;
    /// `decrypt_error`: the peer's `Finished` did not verify.
    pub const DECRYPT_ERROR: u8 = 51;
    /// `protocol_version`: the server chose a version other than TLS 1.2.
    pub const PROTOCOL_VERSION: u8 = 70;
    /// `internal_error`: a local problem (e.g. a buffer too small).
    pub const INTERNAL_ERROR: u8 = 80;
    /// `no_renegotiation`: warning sent in answer to a `HelloRequest`.
    pub const NO_RENEGOTIATION: u8 = 100;
    /// `unknown_psk_identity` (RFC 4279): the server does not know our identity.
    pub const UNKNOWN_PSK_IDENTITY: u8 = 115;
}

/// Why a record could not be parsed, sealed or opened (the pure record layer).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordError {
    /// Fewer bytes than a record header; read more and retry.
    Incomplete,
    /// Unknown content type, non-TLS version or malformed contents.
    Decode,
    /// Length beyond RFC 5246 limits or beyond the buffer.
    Overflow,
    /// Padding or MAC check failed (one outcome, decided in constant time).
    BadRecordMac,
    /// 2^64 - 1 records sent or received; the session must end.
    SequenceExhausted,
}

impl RecordError {
    /// The fatal alert to send for this error.
    pub const fn alert(self) -> u8 {
        match self {
            Self::Incomplete | Self::Decode => alert::DECODE_ERROR,
            Self::Overflow => alert::RECORD_OVERFLOW,
            Self::BadRecordMac => alert::BAD_RECORD_MAC,
            Self::SequenceExhausted => alert::INTERNAL_ERROR,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Incomplete => "incomplete record header",
            Self::Decode => "malformed record",
            Self::Overflow => "record too large",
            Self::BadRecordMac => "record failed authentication",
            Self::SequenceExhausted => "record sequence number exhausted",
        })
    }
}

impl core::error::Error for RecordError {}

/// Why [`crate::TlsConnection::connect`] failed. The session never started; every variant
/// maps to the AT error `-703` (handshake failed) except [`HandshakeError::Io`], which
/// is a transport failure.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HandshakeError {
    /// The transport failed.
    Io(ErrorKind),
    /// The transport closed before the handshake finished.
    ConnectionClosed,
    /// The server sent a fatal alert with this description (see [`alert`]); e.g.
    /// `115` unknown identity, `20`/`51` wrong key, `40` no common suite. Warning alerts
    /// other than `close_notify` are skipped during the handshake.
    Alert(u8),
    /// A message or record arrived out of order.
    UnexpectedMessage,
    /// The server's `Finished` did not verify (wrong key on one side).
    BadFinished,
    /// A record failed decryption or MAC checks.
    BadRecordMac,
    /// A message could not be parsed (including a `HelloRequest` with a body).
    Decode,
    /// The server chose a cipher suite, compression or extension value we never offered.
    UnsupportedSuite,
    /// The server chose a protocol version other than TLS 1.2.
    UnsupportedVersion,
    /// A record, or a handshake message spanning records, was larger than the receive buffer
    /// (or than TLS allows).
    RecordOverflow,
    /// The write buffer cannot hold the `ClientHello` or `ClientKeyExchange`.
    BufferTooSmall,
    /// The identity is empty or longer than 65535 bytes, or the key is empty or longer than
    /// 64 bytes.
    InvalidConfiguration,
}

impl HandshakeError {
    /// The fatal alert we send to the server for this error, if one is sent at all.
    pub const fn alert(self) -> Option<u8> {
        match self {
            Self::Io(_) | Self::ConnectionClosed | Self::Alert(_) | Self::InvalidConfiguration => {
                None
            }
            Self::UnexpectedMessage => Some(alert::UNEXPECTED_MESSAGE),
            Self::BadFinished => Some(alert::DECRYPT_ERROR),
            Self::BadRecordMac => Some(alert::BAD_RECORD_MAC),
            Self::Decode => Some(alert::DECODE_ERROR),
            Self::UnsupportedSuite => Some(alert::ILLEGAL_PARAMETER),
            Self::UnsupportedVersion => Some(alert::PROTOCOL_VERSION),
            Self::RecordOverflow => Some(alert::RECORD_OVERFLOW),
            Self::BufferTooSmall => Some(alert::INTERNAL_ERROR),
        }
    }
}

impl From<RecordError> for HandshakeError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Incomplete | RecordError::Decode => Self::Decode,
            RecordError::Overflow => Self::RecordOverflow,
            RecordError::BadRecordMac => Self::BadRecordMac,
            RecordError::SequenceExhausted => Self::Decode,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(kind) => write!(formatter, "transport error during handshake: {kind:?}"),
            Self::ConnectionClosed => formatter.write_str("connection closed during handshake"),
            Self::Alert(description) => write!(formatter, "server sent fatal alert {description}"),
            Self::UnexpectedMessage => formatter.write_str("unexpected handshake message"),
            Self::BadFinished => formatter.write_str("server Finished did not verify"),
            Self::BadRecordMac => formatter.write_str("handshake record failed authentication"),
            Self::Decode => formatter.write_str("malformed handshake message"),
            Self::UnsupportedSuite => formatter.write_str("server chose unsupported parameters"),
            Self::UnsupportedVersion => {
                formatter.write_str("server chose a version other than TLS 1.2")
            }
            Self::RecordOverflow => formatter.write_str("record larger than the receive buffer"),
            Self::BufferTooSmall => formatter.write_str("write buffer too small for the handshake"),
            Self::InvalidConfiguration => formatter.write_str("invalid PSK identity or key length"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// Why a read or write on an established connection failed. Every variant ends the
/// session (TLS cannot resynchronise a stream): later calls return [`Error::SessionEnded`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The transport failed; the session is ended because a record may be half sent or
    /// half received.
    Io(ErrorKind),
    /// The peer sent a fatal alert with this description.
    Alert(u8),
    /// A record failed decryption or MAC checks; a fatal alert was sent.
    BadRecordMac,
    /// A record was malformed, or a handshake message arrived after the handshake.
    UnexpectedMessage,
    /// A record was malformed.
    Decode,
    /// A record was larger than the receive buffer (or than TLS allows).
    RecordOverflow,
    /// The session already ended (alert, close or earlier error).
    SessionEnded,
}

impl From<RecordError> for Error {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Incomplete | RecordError::Decode | RecordError::SequenceExhausted => {
                Self::Decode
            }
            RecordError::Overflow => Self::RecordOverflow,
            RecordError::BadRecordMac => Self::BadRecordMac,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(kind) => write!(formatter, "transport error: {kind:?}"),
            Self::Alert(description) => write!(formatter, "peer sent fatal alert {description}"),
            Self::BadRecordMac => formatter.write_str("record failed authentication"),
            Self::UnexpectedMessage => formatter.write_str("unexpected message"),
            Self::Decode => formatter.write_str("malformed record"),
            Self::RecordOverflow => formatter.write_str("record larger than the receive buffer"),
            Self::SessionEnded => formatter.write_str("TLS session has ended"),
        }
    }
}

impl core::error::Error for Error {}

impl embedded_io::Error for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(kind) => *kind,
            Self::SessionEnded => ErrorKind::NotConnected,
            Self::Alert(_) => ErrorKind::ConnectionAborted,
            Self::RecordOverflow => ErrorKind::OutOfMemory,
            Self::BadRecordMac | Self::UnexpectedMessage | Self::Decode => ErrorKind::InvalidData,
        }
    }
}
