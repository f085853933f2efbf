//! Encoding: [`Packet`] → bytes.

use super::packet_type as kind;
use super::{
    is_mqtt_string, ConnAck, Connect, EncodeError, Packet, PacketId, Publish, QoS, SubAck,
    Subscribe, Unsubscribe, MAX_REMAINING_LENGTH, SUBACK_FAILURE,
};
use crate::topic;

impl Packet<'_> {
    /// Writes the packet at the start of `buffer` and returns the number of bytes written.
    ///
    /// # Errors
    /// [`EncodeError`] when the packet breaks an MQTT 3.1.1 rule (the same rules the decoder
    /// enforces, so everything encoded here decodes again) or `buffer` is too small.
    pub fn encode(&self, buffer: &mut [u8]) -> Result<usize, EncodeError> {
        self.validate()?;
        let remaining_length = self.remaining_length();
        if remaining_length > MAX_REMAINING_LENGTH {
            return Err(EncodeError::PacketTooLarge);
        }
        let mut writer = Writer {
            buffer,
            position: 0,
        };
        writer.byte(self.first_byte())?;
        writer.remaining_length(remaining_length)?;
        self.write_body(&mut writer)?;
        Ok(writer.position)
    }

    /// Bytes [`Packet::encode`] would write (fixed header included).
    pub fn encoded_length(&self) -> usize {
        let remaining_length = self.remaining_length();
        1 + remaining_length_size(remaining_length) + remaining_length
    }

    /// Writes the fixed header, topic and packet id of a PUBLISH whose `payload_length`
    /// payload bytes already lie right behind them in the caller's buffer (the payload is
    /// written once, in place, and never copied into the packet). `publish.payload` is
    /// ignored. Together with those bytes the result is exactly what [`Packet::encode`]
    /// writes for the same PUBLISH.
    ///
    /// # Errors
    /// As [`Packet::encode`].
    pub fn encode_publish_header(
        publish: &Publish<'_>,
        payload_length: usize,
        buffer: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let header = Packet::Publish(Publish {
            payload: &[],
            ..*publish
        });
        header.validate()?;
        let remaining_length = header.remaining_length() + payload_length;
        if remaining_length > MAX_REMAINING_LENGTH {
            return Err(EncodeError::PacketTooLarge);
        }
        let mut writer = Writer {
            buffer,
            position: 0,
        };
        writer.byte(header.first_byte())?;
        writer.remaining_length(remaining_length)?;
        header.write_body(&mut writer)?;
        Ok(writer.position)
    }

    /// Bytes [`Packet::encode_publish_header`] writes for this PUBLISH and payload length.
    pub fn publish_header_length(publish: &Publish<'_>, payload_length: usize) -> usize {
        let header = Packet::Publish(Publish {
            payload: &[],
            ..*publish
        });
        let remaining_length = header.remaining_length() + payload_length;
        1 + remaining_length_size(remaining_length) + header.remaining_length()
    }

    fn first_byte(&self) -> u8 {
        let (packet_type, flags) = match self {
            Packet::Connect(_) => (kind::CONNECT, 0),
            Packet::ConnAck(_) => (kind::CONNACK, 0),
            Packet::Publish(publish) => {
                let flags = (u8::from(publish.duplicate) << 3)
                    | ((publish.qos as u8) << 1)
                    | u8::from(publish.retain);
                (kind::PUBLISH, flags)
            }
            Packet::PubAck(_) => (kind::PUBACK, 0),
            Packet::PubRec(_) => (kind::PUBREC, 0),
            Packet::PubRel(_) => (kind::PUBREL, 0b0010),
            Packet::PubComp(_) => (kind::PUBCOMP, 0),
            Packet::Subscribe(_) => (kind::SUBSCRIBE, 0b0010),
            Packet::SubAck(_) => (kind::SUBACK, 0),
            Packet::Unsubscribe(_) => (kind::UNSUBSCRIBE, 0b0010),
            Packet::UnsubAck(_) => (kind::UNSUBACK, 0),
            Packet::PingReq => (kind::PINGREQ, 0),
            Packet::PingResp => (kind::PINGRESP, 0),
            Packet::Disconnect => (kind::DISCONNECT, 0),
        };
        (packet_type << 4) | flags
    }

    fn validate(&self) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(connect) => validate_connect(connect),
            Packet::ConnAck(ConnAck {
                session_present: true,
                return_code,
            }) if *return_code != 0 => Err(EncodeError::InvalidConnack),
            Packet::Publish(publish) => validate_publish(publish),
            Packet::Subscribe(Subscribe { filters, .. }) => {
                if filters.is_empty() {
                    return Err(EncodeError::EmptyList);
                }
                check_filters(filters.iter().map(|request| request.filter))
            }
            Packet::Unsubscribe(Unsubscribe { filters, .. }) => {
                if filters.is_empty() {
                    return Err(EncodeError::EmptyList);
                }
                check_filters(filters.iter())
            }
            Packet::SubAck(SubAck { return_codes, .. }) => {
                if return_codes.is_empty() {
                    return Err(EncodeError::EmptyList);
                }
                if return_codes
                    .iter()
                    .any(|code| !matches!(*code, 0..=2 | SUBACK_FAILURE))
                {
                    return Err(EncodeError::InvalidReturnCode);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn remaining_length(&self) -> usize {
        match self {
            Packet::Connect(connect) => {
                let mut length = 10 + 2 + connect.client_id.len();
                if let Some(will) = &connect.will {
                    length += 2 + will.topic.len() + 2 + will.message.len();
                }
                length += connect.username.map_or(0, |name| 2 + name.len());
                length + connect.password.map_or(0, |password| 2 + password.len())
            }
            Packet::ConnAck(_) => 2,
            Packet::Publish(publish) => {
                let packet_id = if publish.packet_id.is_some() { 2 } else { 0 };
                2 + publish.topic.len() + packet_id + publish.payload.len()
            }
            Packet::PubAck(_)
            | Packet::PubRec(_)
            | Packet::PubRel(_)
            | Packet::PubComp(_)
            | Packet::UnsubAck(_) => 2,
            Packet::Subscribe(subscribe) => {
                2 + subscribe
                    .filters
                    .iter()
                    .map(|request| 3 + request.filter.len())
                    .sum::<usize>()
            }
            Packet::SubAck(suback) => 2 + suback.return_codes.len(),
            Packet::Unsubscribe(unsubscribe) => {
                2 + unsubscribe
                    .filters
                    .iter()
                    .map(|filter| 2 + filter.len())
                    .sum::<usize>()
            }
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => 0,
        }
    }

    fn write_body(&self, writer: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self {
            Packet::Connect(connect) => write_connect(connect, writer),
            Packet::ConnAck(connack) => {
                writer.byte(u8::from(connack.session_present))?;
                writer.byte(connack.return_code)
            }
            Packet::Publish(publish) => {
                writer.string(publish.topic)?;
                if let Some(packet_id) = publish.packet_id {
                    writer.packet_id(packet_id)?;
                }
                writer.bytes(publish.payload)
            }
            Packet::PubAck(packet_id)
            | Packet::PubRec(packet_id)
            | Packet::PubRel(packet_id)
            | Packet::PubComp(packet_id)
            | Packet::UnsubAck(packet_id) => writer.packet_id(*packet_id),
            Packet::Subscribe(subscribe) => {
                writer.packet_id(subscribe.packet_id)?;
                for request in subscribe.filters.iter() {
                    writer.string(request.filter)?;
                    writer.byte(request.qos as u8)?;
                }
                Ok(())
            }
            Packet::SubAck(suback) => {
                writer.packet_id(suback.packet_id)?;
                writer.bytes(suback.return_codes)
            }
            Packet::Unsubscribe(unsubscribe) => {
                writer.packet_id(unsubscribe.packet_id)?;
                unsubscribe
                    .filters
                    .iter()
                    .try_for_each(|filter| writer.string(filter))
            }
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => Ok(()),
        }
    }
}

fn validate_connect(connect: &Connect<'_>) -> Result<(), EncodeError> {
    if connect.password.is_some() && connect.username.is_none() {
        return Err(EncodeError::PasswordWithoutUsername);
    }
    let strings_valid = is_mqtt_string(connect.client_id)
        && connect.username.is_none_or(is_mqtt_string)
        && connect
            .password
            .is_none_or(|password| password.len() <= usize::from(u16::MAX));
    if !strings_valid {
        return Err(EncodeError::InvalidString);
    }
    if let Some(will) = &connect.will {
        if !topic::is_valid_topic_name(will.topic) || !is_mqtt_string(will.topic) {
            return Err(EncodeError::InvalidTopicName);
        }
        if will.message.len() > usize::from(u16::MAX) {
            return Err(EncodeError::InvalidString);
        }
    }
    Ok(())
}

impl Publish<'_> {
    /// Bytes [`Publish::encode_header`] writes for a payload of `payload_length` bytes.
    pub(crate) fn header_length(&self, payload_length: usize) -> usize {
        let variable = 2 + self.topic.len() + if self.packet_id.is_some() { 2 } else { 0 };
        1 + remaining_length_size(variable + payload_length) + variable
    }

    /// Writes what [`Packet::encode`] writes before the payload of this PUBLISH when its
    /// payload is `payload_length` bytes (the `payload` field is not read); returns the
    /// count. For payloads written in place after their header (`Session::publish_with`).
    ///
    /// # Errors
    /// As [`Packet::encode`].
    pub(crate) fn encode_header(
        &self,
        payload_length: usize,
        buffer: &mut [u8],
    ) -> Result<usize, EncodeError> {
        validate_publish(self)?;
        let packet_id = if self.packet_id.is_some() { 2 } else { 0 };
        let remaining_length = 2 + self.topic.len() + packet_id + payload_length;
        if remaining_length > MAX_REMAINING_LENGTH {
            return Err(EncodeError::PacketTooLarge);
        }
        let mut writer = Writer {
            buffer,
            position: 0,
        };
        writer.byte(Packet::Publish(*self).first_byte())?;
        writer.remaining_length(remaining_length)?;
        writer.string(self.topic)?;
        if let Some(packet_id) = self.packet_id {
            writer.packet_id(packet_id)?;
        }
        Ok(writer.position)
    }
}

fn validate_publish(publish: &Publish<'_>) -> Result<(), EncodeError> {
    if !topic::is_valid_topic_name(publish.topic) || !is_mqtt_string(publish.topic) {
        return Err(EncodeError::InvalidTopicName);
    }
    if publish.packet_id.is_some() == (publish.qos == QoS::AtMostOnce) {
        return Err(EncodeError::PacketIdMismatch);
    }
    if publish.duplicate && publish.qos == QoS::AtMostOnce {
        return Err(EncodeError::DuplicateWithoutQos);
    }
    Ok(())
}

fn check_filters<'a>(mut filters: impl Iterator<Item = &'a str>) -> Result<(), EncodeError> {
    if filters.all(|filter| topic::is_valid_filter(filter) && is_mqtt_string(filter)) {
        Ok(())
    } else {
        Err(EncodeError::InvalidTopicFilter)
    }
}

fn write_connect(connect: &Connect<'_>, writer: &mut Writer<'_>) -> Result<(), EncodeError> {
    writer.string("MQTT")?;
    writer.byte(4)?;
    let mut flags = u8::from(connect.clean_session) << 1;
    if let Some(will) = &connect.will {
        flags |= 0x04 | ((will.qos as u8) << 3) | (u8::from(will.retain) << 5);
    }
    flags |= u8::from(connect.password.is_some()) << 6;
    flags |= u8::from(connect.username.is_some()) << 7;
    writer.byte(flags)?;
    writer.bytes(&connect.keep_alive.to_be_bytes())?;
    writer.string(connect.client_id)?;
    if let Some(will) = &connect.will {
        writer.string(will.topic)?;
        writer.binary(will.message)?;
    }
    if let Some(username) = connect.username {
        writer.string(username)?;
    }
    if let Some(password) = connect.password {
        writer.binary(password)?;
    }
    Ok(())
}

fn remaining_length_size(length: usize) -> usize {
    match length {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

struct Writer<'a> {
    buffer: &'a mut [u8],
    position: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let end = self.position + bytes.len();
        let target = self
            .buffer
            .get_mut(self.position..end)
            .ok_or(EncodeError::BufferTooSmall)?;
        target.copy_from_slice(bytes);
        self.position = end;
        Ok(())
    }

    fn byte(&mut self, byte: u8) -> Result<(), EncodeError> {
        self.bytes(&[byte])
    }

    fn packet_id(&mut self, packet_id: PacketId) -> Result<(), EncodeError> {
        self.bytes(&packet_id.get().to_be_bytes())
    }

    fn binary(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        let length = u16::try_from(bytes.len()).map_err(|_| EncodeError::InvalidString)?;
        self.bytes(&length.to_be_bytes())?;
        self.bytes(bytes)
    }

    fn string(&mut self, text: &str) -> Result<(), EncodeError> {
        self.binary(text.as_bytes())
    }

    fn remaining_length(&mut self, mut length: usize) -> Result<(), EncodeError> {
        loop {
            let mut byte = (length % 128) as u8;
            length /= 128;
            if length > 0 {
                byte |= 0x80;
            }
            self.byte(byte)?;
            if length == 0 {
                return Ok(());
            }
        }
    }
}
