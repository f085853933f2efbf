//! MQTT 3.1.1 wire format: every packet type, both directions.
//!
//! Pure functions over byte slices, no IO and no state, so the same code serves the device
//! session, the local hub and the fuzz targets. Decoding borrows strings and payloads from the
//! input ([`Packet<'_>`]) instead of copying, which keeps it heap-free. The decoder is strict:
//! anything the MQTT 3.1.1 specification calls malformed (reserved flags, QoS 3, packet id 0,
//! invalid UTF-8 or U+0000, wildcards in a topic name, trailing bytes) is a [`DecodeError`],
//! because a lenient decoder hides a broken peer until much later.

mod decode;
mod encode;
mod error;
mod lists;

use core::num::NonZeroU16;

pub use decode::{decode, decode_fixed_header, FixedHeader};
pub use error::{DecodeError, EncodeError};
pub use lists::{SubscribeFilters, SubscriptionRequest, UnsubscribeFilters};

/// The largest remaining length MQTT can express in 4 bytes.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Delivery guarantee of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QoS {
    /// At most once (fire and forget).
    AtMostOnce = 0,
    /// At least once (PUBACK).
    AtLeastOnce = 1,
    /// Exactly once (PUBREC / PUBREL / PUBCOMP).
    ExactlyOnce = 2,
}

impl QoS {
    /// Converts the two-bit wire value; 3 is invalid.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

/// A packet identifier: never 0 on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PacketId(NonZeroU16);

#[cfg(feature = "defmt")]
impl defmt::Format for PacketId {
    fn format(&self, formatter: defmt::Formatter) {
        defmt::write!(formatter, "{=u16}", self.get())
    }
}

impl PacketId {
    /// Wraps a raw identifier; `None` for 0.
    pub fn new(value: u16) -> Option<Self> {
        NonZeroU16::new(value).map(Self)
    }

    /// The raw identifier.
    pub fn get(self) -> u16 {
        self.0.get()
    }

    /// The identifier after this one: +1, with 65535 wrapping to 1 (`cloud.md` §2.2).
    pub fn next(self) -> Self {
        Self::new(self.get().wrapping_add(1)).unwrap_or(Self(NonZeroU16::MIN))
    }
}

/// Will message of a CONNECT (never sent by the firmware, decoded for the hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Topic the broker publishes the will on.
    pub topic: &'a str,
    /// Will payload.
    pub message: &'a [u8],
    /// Will QoS.
    pub qos: QoS,
    /// Will retain flag.
    pub retain: bool,
}

/// CONNECT (client → server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Clean-session flag.
    pub clean_session: bool,
    /// Keep-alive in seconds.
    pub keep_alive: u16,
    /// Client identifier (may be empty on the wire).
    pub client_id: &'a str,
    /// Optional will.
    pub will: Option<Will<'a>>,
    /// Optional user name.
    pub username: Option<&'a str>,
    /// Optional password (binary in MQTT 3.1.1; requires a user name).
    pub password: Option<&'a [u8]>,
}

/// CONNACK (server → client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnAck {
    /// Session-present flag.
    pub session_present: bool,
    /// Return code: 0 accepted, 1..=5 refusals; other values are kept as received so the
    /// session can map them to `-112`.
    pub return_code: u8,
}

/// PUBLISH (both directions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// DUP flag (re-delivery).
    pub duplicate: bool,
    /// Delivery guarantee.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Topic name (no wildcards).
    pub topic: &'a str,
    /// Present exactly when `qos` is not [`QoS::AtMostOnce`].
    pub packet_id: Option<PacketId>,
    /// Application payload.
    pub payload: &'a [u8],
}

/// SUBSCRIBE (client → server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// At least one filter with its requested QoS.
    pub filters: SubscribeFilters<'a>,
}

/// SUBACK (server → client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// One code per filter: 0, 1, 2 (granted QoS) or 0x80 (failure).
    pub return_codes: &'a [u8],
}

/// The SUBACK return code meaning "subscription refused".
pub const SUBACK_FAILURE: u8 = 0x80;

/// UNSUBSCRIBE (client → server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: PacketId,
    /// At least one filter.
    pub filters: UnsubscribeFilters<'a>,
}

/// One MQTT 3.1.1 control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNECT.
    Connect(Connect<'a>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish<'a>),
    /// PUBACK.
    PubAck(PacketId),
    /// PUBREC.
    PubRec(PacketId),
    /// PUBREL.
    PubRel(PacketId),
    /// PUBCOMP.
    PubComp(PacketId),
    /// SUBSCRIBE.
    Subscribe(Subscribe<'a>),
    /// SUBACK.
    SubAck(SubAck<'a>),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK.
    UnsubAck(PacketId),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect,
}

/// Packet type numbers of the fixed header (upper nibble of byte 0).
pub(crate) mod packet_type {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// Tells whether a string may appear in an MQTT UTF-8 field (it is `&str`, so only U+0000
/// and the length remain to check).
pub(crate) fn is_mqtt_string(text: &str) -> bool {
    text.len() <= usize::from(u16::MAX) && !text.as_bytes().contains(&0)
}
