//! The payload area: a publish's payload written once, where its PUBLISH goes out
//! (`style.md` 13, `design.md` "MQTT transmit = PUBL data phase").
//!
//! The runner borrows the last `size` bytes of the transmit buffer ([`Session::payload_area`])
//! and writes the payload there (AT+TCMQTTPUBL's data phase, AT+TCMQTTPUB's unescaping).
//! Until [`Session::publish_staged`] or [`Session::release_payload_area`], every other packet
//! (acknowledgements, pings, a reconnect's CONNECT, other publishes) is written in front of
//! the area and never into it; one that does not fit waits (acknowledgements, pings) or fails
//! as a full buffer. [`Session::publish_staged`] then encodes the fixed header, topic and
//! packet id right in front of the payload and moves the finished packet down behind the
//! pending bytes once: the wire bytes are those of [`Session::publish`].
//!
//! The session keeps no publish for retransmission (a QoS 1 publish without PUBACK ends in
//! [`Event::PublishTimeout`]), so nothing needs the packet after it is transmitted.

use super::*;

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    /// Lends the last `size` bytes of the transmit buffer for the next publish's payload.
    /// The same `size` gives the same bytes again (a data phase writes in many calls).
    /// `None`, and no area, while pending bytes still occupy them (or `size` exceeds the
    /// buffer): the publish then fails with [`PublishError::BufferFull`].
    pub fn payload_area(&mut self, size: usize) -> Option<&mut [u8]> {
        if size > TX || usize::from(self.transmit_length) > TX - size {
            self.staged = NOT_STAGED;
            return None;
        }
        // `size <= TX < u16::MAX` (`Session::new`).
        self.staged = size as u16;
        Some(&mut self.transmit[TX - size..])
    }

    /// The payload area lent now, if any (never lends one: a refused area stays refused, so
    /// a payload whose first bytes went nowhere is never published).
    pub fn lent_payload_area(&mut self) -> Option<&mut [u8]> {
        let size = self.staged()?;
        Some(&mut self.transmit[TX - size..])
    }

    /// Gives the payload area back unused (an aborted data phase).
    pub fn release_payload_area(&mut self) {
        self.staged = NOT_STAGED;
    }

    /// The size of the lent payload area, if one is lent.
    pub(super) fn staged(&self) -> Option<usize> {
        (self.staged != NOT_STAGED).then_some(usize::from(self.staged))
    }

    /// [`Session::publish`] of the first `length` bytes of the payload area; the area is
    /// given back whatever the result.
    ///
    /// # Errors
    /// As [`Session::publish`]; [`PublishError::BufferFull`] also when no area is lent or
    /// `length` exceeds it. Nothing is written and no packet id is used.
    pub fn publish_staged(
        &mut self,
        topic_name: &str,
        length: usize,
        qos: QoS,
        now: u64,
    ) -> Result<Option<PacketId>, PublishError> {
        let area = self.staged();
        self.staged = NOT_STAGED;
        let packet_id = self.check_publish(topic_name, qos)?;
        let publish = Publish {
            duplicate: false,
            qos,
            retain: false,
            topic: topic_name,
            packet_id,
            payload: &[],
        };
        let header = Packet::publish_header_length(&publish, length);
        if header + length > TX {
            return Err(PublishError::TooLarge);
        }
        let Some(area) = area.filter(|area| length <= *area) else {
            return Err(PublishError::BufferFull);
        };
        let payload_start = TX - area;
        let start = payload_start
            .checked_sub(header)
            .filter(|start| *start >= usize::from(self.transmit_length))
            .ok_or(PublishError::BufferFull)?;
        Packet::encode_publish_header(&publish, length, &mut self.transmit[start..payload_start])
            .map_err(|_| PublishError::BufferFull)?;
        let end = payload_start + length;
        self.transmit
            .copy_within(start..end, usize::from(self.transmit_length));
        self.transmit_length += super::offset(end - start);
        if let Some(packet_id) = packet_id {
            self.commit_packet_id(packet_id, PendingKind::Publish, now);
        }
        Ok(packet_id)
    }
}
