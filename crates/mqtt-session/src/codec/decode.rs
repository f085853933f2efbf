//! Decoding: bytes → [`Packet`].

use super::lists::{SubscribeFilters, UnsubscribeFilters};
use super::packet_type as kind;
use super::{
    ConnAck, Connect, DecodeError, Packet, PacketId, Publish, QoS, SubAck, Subscribe, Unsubscribe,
    Will,
};
use crate::topic;

/// The fixed header of a packet: enough to know its type and how many bytes it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FixedHeader {
    /// Packet type (1..=14).
    pub packet_type: u8,
    /// Lower nibble of byte 0, already checked against the type.
    pub flags: u8,
    /// Bytes taken by the fixed header itself (2..=5).
    pub header_length: usize,
    /// Remaining length announced by the header.
    pub remaining_length: usize,
}

impl FixedHeader {
    /// Bytes the whole packet spans.
    pub fn total_length(&self) -> usize {
        self.header_length + self.remaining_length
    }
}

/// Parses and checks the fixed header at the start of `bytes`.
///
/// Returns `Ok(None)` while the header itself is incomplete. Useful to learn the size of a
/// packet before it is complete, e.g. to skip a PUBLISH larger than the receive buffer.
///
/// # Errors
/// Reserved packet type, flags that do not fit the type, QoS 3, or a remaining length longer
/// than 4 bytes.
pub fn decode_fixed_header(bytes: &[u8]) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    let packet_type = first >> 4;
    let flags = first & 0x0F;
    check_flags(packet_type, flags)?;
    let mut remaining_length = 0usize;
    for index in 0..4 {
        let Some(&byte) = bytes.get(1 + index) else {
            return Ok(None);
        };
        remaining_length |= usize::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some(FixedHeader {
                packet_type,
                flags,
                header_length: 2 + index,
                remaining_length,
            }));
        }
    }
    Err(DecodeError::MalformedRemainingLength)
}

fn check_flags(packet_type: u8, flags: u8) -> Result<(), DecodeError> {
    let required = match packet_type {
        0 | 15 => return Err(DecodeError::ReservedPacketType),
        kind::PUBLISH => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(DecodeError::InvalidQos);
            }
            // MQTT 3.1.1 §3.3.1.1: DUP must be 0 for QoS 0.
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(DecodeError::InvalidFlags);
            }
            return Ok(());
        }
        kind::PUBREL | kind::SUBSCRIBE | kind::UNSUBSCRIBE => 0b0010,
        _ => 0,
    };
    if flags == required {
        Ok(())
    } else {
        Err(DecodeError::InvalidFlags)
    }
}

/// Decodes one packet from the start of `bytes`.
///
/// Returns `Ok(None)` when more bytes are needed, else the packet (borrowing from `bytes`) and
/// the number of bytes it took. Never panics, whatever the input.
///
/// # Errors
/// Any [`DecodeError`]: the input is not MQTT 3.1.1 and the connection must be closed.
pub fn decode(bytes: &[u8]) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    let Some(header) = decode_fixed_header(bytes)? else {
        return Ok(None);
    };
    let Some(body) = bytes.get(header.header_length..header.total_length()) else {
        return Ok(None);
    };
    let packet = decode_body(header, body)?;
    Ok(Some((packet, header.total_length())))
}

fn decode_body(header: FixedHeader, body: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let mut reader = Reader { bytes: body };
    let packet = match header.packet_type {
        kind::CONNECT => Packet::Connect(decode_connect(&mut reader)?),
        kind::CONNACK => {
            let flags = reader.byte()?;
            let return_code = reader.byte()?;
            // §3.2.2.2: a refusal must not claim a present session.
            if flags & 0xFE != 0 || (flags == 1 && return_code != 0) {
                return Err(DecodeError::InvalidConnackFlags);
            }
            Packet::ConnAck(ConnAck {
                session_present: flags == 1,
                return_code,
            })
        }
        kind::PUBLISH => Packet::Publish(decode_publish(header.flags, &mut reader)?),
        kind::PUBACK => Packet::PubAck(reader.packet_id()?),
        kind::PUBREC => Packet::PubRec(reader.packet_id()?),
        kind::PUBREL => Packet::PubRel(reader.packet_id()?),
        kind::PUBCOMP => Packet::PubComp(reader.packet_id()?),
        kind::SUBSCRIBE => Packet::Subscribe(decode_subscribe(&mut reader)?),
        kind::SUBACK => {
            let packet_id = reader.packet_id()?;
            let return_codes = reader.rest();
            if return_codes.is_empty() {
                return Err(DecodeError::InvalidLength);
            }
            if return_codes
                .iter()
                .any(|code| !matches!(code, 0 | 1 | 2 | 0x80))
            {
                return Err(DecodeError::InvalidReturnCode);
            }
            Packet::SubAck(SubAck {
                packet_id,
                return_codes,
            })
        }
        kind::UNSUBSCRIBE => Packet::Unsubscribe(decode_unsubscribe(&mut reader)?),
        kind::UNSUBACK => Packet::UnsubAck(reader.packet_id()?),
        kind::PINGREQ => Packet::PingReq,
        kind::PINGRESP => Packet::PingResp,
        kind::DISCONNECT => Packet::Disconnect,
        _ => return Err(DecodeError::ReservedPacketType),
    };
    reader.finish()?;
    Ok(packet)
}

fn decode_connect<'a>(reader: &mut Reader<'a>) -> Result<Connect<'a>, DecodeError> {
    let name = reader.binary()?;
    let level = reader.byte()?;
    if name != b"MQTT" || level != 4 {
        return Err(DecodeError::UnsupportedProtocol);
    }
    let flags = reader.byte()?;
    let has_username = flags & 0x80 != 0;
    let has_password = flags & 0x40 != 0;
    let will_retain = flags & 0x20 != 0;
    let will_qos_bits = (flags >> 3) & 0b11;
    let has_will = flags & 0x04 != 0;
    let clean_session = flags & 0x02 != 0;
    let reserved = flags & 0x01 != 0;
    let will_fields_without_will = !has_will && (will_retain || will_qos_bits != 0);
    if reserved || will_fields_without_will || (has_password && !has_username) {
        return Err(DecodeError::InvalidConnectFlags);
    }
    let will_qos = QoS::from_bits(will_qos_bits).ok_or(DecodeError::InvalidQos)?;
    let keep_alive = reader.u16()?;
    let client_id = reader.string()?;
    let will = if has_will {
        let topic = reader.string()?;
        if !topic::is_valid_topic_name(topic) {
            return Err(DecodeError::InvalidTopicName);
        }
        let message = reader.binary()?;
        Some(Will {
            topic,
            message,
            qos: will_qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(reader.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(reader.binary()?)
    } else {
        None
    };
    Ok(Connect {
        clean_session,
        keep_alive,
        client_id,
        will,
        username,
        password,
    })
}

fn decode_publish<'a>(flags: u8, reader: &mut Reader<'a>) -> Result<Publish<'a>, DecodeError> {
    let qos = QoS::from_bits((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQos)?;
    let topic = reader.string()?;
    if !topic::is_valid_topic_name(topic) {
        return Err(DecodeError::InvalidTopicName);
    }
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce | QoS::ExactlyOnce => Some(reader.packet_id()?),
    };
    Ok(Publish {
        duplicate: flags & 0b1000 != 0,
        qos,
        retain: flags & 0b0001 != 0,
        topic,
        packet_id,
        payload: reader.rest(),
    })
}

fn decode_subscribe<'a>(reader: &mut Reader<'a>) -> Result<Subscribe<'a>, DecodeError> {
    let packet_id = reader.packet_id()?;
    let list = reader.rest();
    let mut entries = Reader { bytes: list };
    if entries.bytes.is_empty() {
        return Err(DecodeError::EmptyFilterList);
    }
    while !entries.bytes.is_empty() {
        let filter = entries.string()?;
        if !topic::is_valid_filter(filter) {
            return Err(DecodeError::InvalidTopicFilter);
        }
        // Upper six bits of the options byte are reserved (§3.8.3.1).
        let options = entries.byte()?;
        if options > 2 {
            return Err(DecodeError::InvalidQos);
        }
    }
    Ok(Subscribe {
        packet_id,
        filters: SubscribeFilters::from_wire(list),
    })
}

fn decode_unsubscribe<'a>(reader: &mut Reader<'a>) -> Result<Unsubscribe<'a>, DecodeError> {
    let packet_id = reader.packet_id()?;
    let list = reader.rest();
    let mut entries = Reader { bytes: list };
    if entries.bytes.is_empty() {
        return Err(DecodeError::EmptyFilterList);
    }
    while !entries.bytes.is_empty() {
        if !topic::is_valid_filter(entries.string()?) {
            return Err(DecodeError::InvalidTopicFilter);
        }
    }
    Ok(Unsubscribe {
        packet_id,
        filters: UnsubscribeFilters::from_wire(list),
    })
}

/// Cursor over the variable header and payload; running out of bytes is a length error
/// because the body is complete by the time it is read.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < count {
            return Err(DecodeError::InvalidLength);
        }
        let (taken, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let bytes = self.take(2)?;
        Ok(u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    fn packet_id(&mut self) -> Result<PacketId, DecodeError> {
        PacketId::new(self.u16()?).ok_or(DecodeError::ZeroPacketId)
    }

    fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let length = self.u16()?;
        self.take(usize::from(length))
    }

    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let text = core::str::from_utf8(self.binary()?).map_err(|_| DecodeError::InvalidString)?;
        if text.as_bytes().contains(&0) {
            return Err(DecodeError::InvalidString);
        }
        Ok(text)
    }

    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.bytes)
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::InvalidLength)
        }
    }
}
