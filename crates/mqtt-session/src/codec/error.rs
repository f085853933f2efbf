//! Error types of the codec: one enum for decoding, one for encoding.

use core::fmt;

/// Why a byte sequence is not a valid MQTT 3.1.1 packet.
///
/// Any of these means the peer broke the protocol: the MQTT specification requires the
/// receiver to close the network connection, so the session treats every variant as a drop.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// Packet type 0 or 15 (reserved).
    ReservedPacketType,
    /// The fixed-header flags are not the ones the packet type requires.
    InvalidFlags,
    /// The remaining length uses more than 4 bytes.
    MalformedRemainingLength,
    /// The remaining length does not fit the packet type (too short, too long or trailing bytes).
    InvalidLength,
    /// A QoS field holds 3 (or QoS 2 where forbidden by the flags).
    InvalidQos,
    /// A packet identifier is 0.
    ZeroPacketId,
    /// A string is not valid UTF-8 or contains U+0000.
    InvalidString,
    /// A PUBLISH topic name is empty or contains a wildcard.
    InvalidTopicName,
    /// A subscription filter is empty or misuses `+` / `#`.
    InvalidTopicFilter,
    /// CONNECT carries another protocol name or level than `MQTT` / 4.
    UnsupportedProtocol,
    /// CONNECT flags break a rule (reserved bit, will fields, password without username).
    InvalidConnectFlags,
    /// CONNACK acknowledge flags use reserved bits.
    InvalidConnackFlags,
    /// SUBACK return code outside 0, 1, 2, 0x80.
    InvalidReturnCode,
    /// SUBSCRIBE or UNSUBSCRIBE without any filter.
    EmptyFilterList,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::ReservedPacketType => "reserved packet type",
            Self::InvalidFlags => "invalid fixed-header flags",
            Self::MalformedRemainingLength => "malformed remaining length",
            Self::InvalidLength => "remaining length does not fit the packet",
            Self::InvalidQos => "invalid QoS",
            Self::ZeroPacketId => "packet identifier 0",
            Self::InvalidString => "invalid UTF-8 string",
            Self::InvalidTopicName => "invalid topic name",
            Self::InvalidTopicFilter => "invalid topic filter",
            Self::UnsupportedProtocol => "unsupported protocol name or level",
            Self::InvalidConnectFlags => "invalid CONNECT flags",
            Self::InvalidConnackFlags => "invalid CONNACK flags",
            Self::InvalidReturnCode => "invalid SUBACK return code",
            Self::EmptyFilterList => "no topic filter",
        };
        formatter.write_str(text)
    }
}

impl core::error::Error for DecodeError {}

/// Why a packet could not be written.
///
/// The output buffer is left in an unspecified state; nothing was committed anywhere else, so
/// the caller may retry with a larger buffer or a corrected packet.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The output buffer is too small for the packet.
    BufferTooSmall,
    /// The packet exceeds the 268 435 455-byte MQTT maximum.
    PacketTooLarge,
    /// A string or binary field is longer than 65 535 bytes or contains U+0000.
    InvalidString,
    /// The PUBLISH topic name is empty or contains a wildcard.
    InvalidTopicName,
    /// A subscription filter is empty or misuses `+` / `#`.
    InvalidTopicFilter,
    /// A packet identifier is missing for QoS > 0, or present for QoS 0.
    PacketIdMismatch,
    /// DUP set on a QoS 0 PUBLISH.
    DuplicateWithoutQos,
    /// A password without a username (forbidden by MQTT 3.1.1).
    PasswordWithoutUsername,
    /// SUBACK return code outside 0, 1, 2, 0x80.
    InvalidReturnCode,
    /// SUBSCRIBE, UNSUBSCRIBE or SUBACK without any entry.
    EmptyList,
    /// CONNACK with session present and a non-zero return code.
    InvalidConnack,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::BufferTooSmall => "output buffer too small",
            Self::PacketTooLarge => "packet too large for MQTT",
            Self::InvalidString => "string too long or containing U+0000",
            Self::InvalidTopicName => "invalid topic name",
            Self::InvalidTopicFilter => "invalid topic filter",
            Self::PacketIdMismatch => "packet identifier does not match the QoS",
            Self::DuplicateWithoutQos => "DUP set on a QoS 0 PUBLISH",
            Self::PasswordWithoutUsername => "password without username",
            Self::InvalidReturnCode => "invalid SUBACK return code",
            Self::EmptyList => "empty filter or return-code list",
            Self::InvalidConnack => "session present with a refusal code",
        };
        formatter.write_str(text)
    }
}

impl core::error::Error for EncodeError {}
