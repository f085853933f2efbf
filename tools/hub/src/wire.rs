//! Std helpers around the `mqtt-session` codec: framing a byte stream into packets, the
//! protocol-level check the device codec does not need, and encoding into a `Vec`.
//!
//! The device codec only speaks MQTT 3.1.1 (`MQTT`, level 4) because that is all the
//! firmware sends, but a broker must also accept MQTT 3.1 (`MQIsdp`, level 3) and answer
//! other levels with CONNACK 1. Rather than write a second decoder, a 3.1 CONNECT is rewritten
//! to the 3.1.1 header (the rest of the packet has the same layout) and then decoded.

use mqtt_session::codec::{decode_fixed_header, DecodeError, Packet};
use std::fmt;

/// Largest packet the hub accepts: a 16 KiB payload plus a 255-byte topic and headers.
pub const MAX_PACKET_LENGTH: usize = 16 * 1024 + 512;

/// Why the byte stream cannot go on.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The fixed header is not MQTT.
    Malformed(DecodeError),
    /// The announced packet exceeds [`MAX_PACKET_LENGTH`].
    TooLarge,
}

impl fmt::Display for FrameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(error) => write!(formatter, "malformed packet: {error}"),
            Self::TooLarge => formatter.write_str("packet larger than the platform limit"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Collects received bytes and hands out whole packets.
#[derive(Debug, Default)]
pub struct Framer {
    buffer: Vec<u8>,
}

impl Framer {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Removes and returns the next complete packet's bytes, if any.
    ///
    /// # Errors
    /// [`FrameError`]: the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(header) = decode_fixed_header(&self.buffer).map_err(FrameError::Malformed)? else {
            return Ok(None);
        };
        let length = header.total_length();
        if length > MAX_PACKET_LENGTH {
            return Err(FrameError::TooLarge);
        }
        if self.buffer.len() < length {
            return Ok(None);
        }
        Ok(Some(self.buffer.drain(..length).collect()))
    }
}

/// What the protocol name and level of a CONNECT say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectVersion {
    /// MQTT 3.1.1: decode as is.
    V311,
    /// MQTT 3.1: decode this rewritten packet instead.
    V31(Vec<u8>),
    /// Anything else (MQTT 5 included): CONNACK 1 and close.
    Unsupported,
}

/// Inspects the protocol name and level of a whole CONNECT packet.
pub fn connect_version(frame: &[u8]) -> ConnectVersion {
    let Ok(Some(header)) = decode_fixed_header(frame) else {
        return ConnectVersion::Unsupported;
    };
    let body = &frame[header.header_length..];
    let Some((length, rest)) = body.split_first_chunk::<2>() else {
        return ConnectVersion::Unsupported;
    };
    let name_length = usize::from(u16::from_be_bytes(*length));
    let (Some(name), Some(&level)) = (rest.get(..name_length), rest.get(name_length)) else {
        return ConnectVersion::Unsupported;
    };
    match (name, level) {
        (b"MQTT", 4) => ConnectVersion::V311,
        (b"MQIsdp", 3) => {
            let tail = &rest[name_length + 1..];
            let mut body = Vec::with_capacity(tail.len() + 7);
            body.extend_from_slice(&[0, 4]);
            body.extend_from_slice(b"MQTT");
            body.push(4);
            body.extend_from_slice(tail);
            let mut packet = vec![frame[0]];
            encode_remaining_length(body.len(), &mut packet);
            packet.extend_from_slice(&body);
            ConnectVersion::V31(packet)
        }
        _ => ConnectVersion::Unsupported,
    }
}

fn encode_remaining_length(mut length: usize, output: &mut Vec<u8>) {
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        output.push(byte);
        if length == 0 {
            break;
        }
    }
}

/// Encodes a packet the hub built; `None` only if it breaks an MQTT rule, which the hub
/// treats as "do not send" (e.g. an admin publish with an invalid topic).
pub fn encode(packet: &Packet<'_>) -> Option<Vec<u8>> {
    let mut buffer = vec![0u8; packet.encoded_length()];
    let length = packet.encode(&mut buffer).ok()?;
    buffer.truncate(length);
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_session::codec::{decode, Connect};

    fn connect_packet() -> Vec<u8> {
        encode(&Packet::Connect(Connect {
            clean_session: true,
            keep_alive: 30,
            client_id: "client",
            will: None,
            username: Some("user"),
            password: Some(b"pass"),
        }))
        .unwrap()
    }

    #[test]
    fn framer_returns_packets_split_across_reads() {
        let packet = connect_packet();
        let mut framer = Framer::default();
        framer.push(&packet[..3]);
        assert_eq!(framer.next_frame(), Ok(None));
        framer.push(&packet[3..]);
        framer.push(&[0xC0, 0x00]);
        assert_eq!(framer.next_frame(), Ok(Some(packet)));
        assert_eq!(framer.next_frame(), Ok(Some(vec![0xC0, 0x00])));
        assert_eq!(framer.next_frame(), Ok(None));
    }

    #[test]
    fn framer_refuses_oversized_packets_before_they_arrive() {
        let mut framer = Framer::default();
        framer.push(&[0x30, 0xFF, 0xFF, 0x01]);
        assert_eq!(framer.next_frame(), Err(FrameError::TooLarge));
    }

    #[test]
    fn mqtt_3_1_connect_is_rewritten_and_decodes() {
        let v311 = connect_packet();
        let mut v31 = vec![0x10, 0];
        v31.extend_from_slice(&[0, 6]);
        v31.extend_from_slice(b"MQIsdp");
        v31.push(3);
        v31.extend_from_slice(&v311[9..]);
        v31[1] = (v31.len() - 2) as u8;
        let ConnectVersion::V31(rewritten) = connect_version(&v31) else {
            panic!("not recognised as 3.1");
        };
        assert_eq!(rewritten, v311);
        assert_eq!(connect_version(&v311), ConnectVersion::V311);
        assert!(decode(&rewritten).unwrap().is_some());
    }

    #[test]
    fn mqtt_5_connect_is_unsupported() {
        let mut v5 = connect_packet();
        v5[8] = 5;
        assert_eq!(connect_version(&v5), ConnectVersion::Unsupported);
    }
}
