//! Host commands: publish, subscribe, unsubscribe, disconnect.
//!
//! Each command checks everything first and only then writes, so an error leaves the
//! session exactly as it was (the AT layer maps each error to one result code).

use super::*;

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    /// Publishes at QoS 0 or 1 (retain 0, DUP 0). Returns the packet id of a QoS 1 publish,
    /// whose outcome arrives as [`Event::Published`], [`Event::PublishTimeout`] or
    /// [`Event::LinkLost`].
    ///
    /// # Errors
    /// [`PublishError`]; nothing is written and no packet id is used.
    pub fn publish(
        &mut self,
        topic_name: &str,
        payload: &[u8],
        qos: QoS,
        now: u64,
    ) -> Result<Option<PacketId>, PublishError> {
        let packet_id = self.check_publish(topic_name, qos)?;
        let packet = Packet::Publish(Publish {
            duplicate: false,
            qos,
            retain: false,
            topic: topic_name,
            packet_id,
            payload,
        });
        if packet.encoded_length() > TX {
            return Err(PublishError::TooLarge);
        }
        self.write(&packet).map_err(|_| PublishError::BufferFull)?;
        if let Some(packet_id) = packet_id {
            self.commit_packet_id(packet_id, PendingKind::Publish, now);
        }
        Ok(packet_id)
    }

    /// [`Session::publish`] of a payload that `fill` writes straight into the transmit
    /// buffer (no copy of it anywhere else): `fill` gets the free room behind the largest
    /// header and returns the payload's length, or `None` when it does not fit.
    ///
    /// # Errors
    /// As [`Session::publish`]; [`PublishError::BufferFull`] also when `fill` returns
    /// `None`. Nothing is written and no packet id is used.
    pub fn publish_with(
        &mut self,
        topic_name: &str,
        qos: QoS,
        now: u64,
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Result<Option<PacketId>, PublishError> {
        if !self.is_usable() {
            return Err(PublishError::NotConnected);
        }
        if !topic::is_valid_topic_name(topic_name) || topic_name.len() > usize::from(u16::MAX) {
            return Err(PublishError::InvalidTopic);
        }
        let packet_id = match qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce if self.pending.is_full() => {
                return Err(PublishError::TooManyInFlight)
            }
            QoS::AtLeastOnce => Some(self.peek_packet_id()),
            QoS::ExactlyOnce => return Err(PublishError::UnsupportedQos),
        };
        let header = Publish {
            duplicate: false,
            qos,
            retain: false,
            topic: topic_name,
            packet_id,
            payload: &[],
        };
        // The header is written after the payload, when its remaining length is known: the
        // payload goes behind room for the longest one (a 4-byte remaining length).
        // A lent payload area (a data phase in progress) stays untouched: the room ends
        // where it starts.
        let start = usize::from(self.transmit_length);
        let payload_at = start + Packet::Publish(header).encoded_length() + 3;
        let room_end = self.transmit_end();
        let room = self
            .transmit
            .get_mut(payload_at..room_end)
            .ok_or(PublishError::BufferFull)?;
        let room_length = room.len();
        let length = fill(room)
            .filter(|length| *length <= room_length)
            .ok_or(PublishError::BufferFull)?;
        let header_at = payload_at - header.header_length(length);
        header
            .encode_header(length, &mut self.transmit[header_at..payload_at])
            .map_err(|_| PublishError::TooLarge)?;
        let end = payload_at + length;
        self.transmit.copy_within(header_at..end, start);
        self.transmit_length = super::offset(start + (end - header_at));
        if let Some(packet_id) = packet_id {
            self.commit_packet_id(packet_id, PendingKind::Publish, now);
        }
        Ok(packet_id)
    }

    /// Subscribes one filter into a slot of `kind`. A filter already in that table is
    /// re-subscribed in place. The outcome arrives as [`Event::Subscribed`],
    /// [`Event::SubscribeRefused`], [`Event::SubscribeTimeout`] or [`Event::LinkLost`].
    ///
    /// # Errors
    /// [`SubscribeError`]; nothing is written. [`SubscribeError::TableFull`] is the
    /// immediate `-107` of the 11th user filter.
    pub fn subscribe(
        &mut self,
        kind: SlotKind,
        filter: &str,
        qos: QoS,
        now: u64,
    ) -> Result<PacketId, SubscribeError> {
        if !self.is_usable() {
            return Err(SubscribeError::NotConnected);
        }
        if !topic::is_valid_filter(filter) || filter.len() > FILTER_CAPACITY {
            return Err(SubscribeError::InvalidFilter);
        }
        if qos == QoS::ExactlyOnce {
            return Err(SubscribeError::UnsupportedQos);
        }
        if self.subscriptions.has_no_room_for(kind, filter) {
            return Err(SubscribeError::TableFull);
        }
        if self.pending.is_full() {
            return Err(SubscribeError::TooManyInFlight);
        }
        let packet_id = self.peek_packet_id();
        let request = [SubscriptionRequest { filter, qos }];
        let packet = Packet::Subscribe(Subscribe {
            packet_id,
            filters: SubscribeFilters::from_list(&request),
        });
        self.write(&packet)
            .map_err(|_| SubscribeError::BufferFull)?;
        // The room was checked above and nothing changed the table since.
        let slot = self
            .subscriptions
            .reserve(kind, filter)
            .ok_or(SubscribeError::TableFull)?;
        self.commit_packet_id(packet_id, PendingKind::Subscribe { kind, slot }, now);
        Ok(packet_id)
    }

    /// Removes exactly this filter from the table of `kind` and sends UNSUBSCRIBE, unless
    /// the other table still holds the same filter (then `Ok(None)`, nothing sent). The
    /// slot stays removed whatever the UNSUBACK does.
    ///
    /// # Errors
    /// [`UnsubscribeError`]; the table is unchanged.
    pub fn unsubscribe(
        &mut self,
        kind: SlotKind,
        filter: &str,
        now: u64,
    ) -> Result<Option<PacketId>, UnsubscribeError> {
        if !self.is_usable() {
            return Err(UnsubscribeError::NotConnected);
        }
        if self.is_resubscribing() {
            // The re-subscription walks the table by position; a removal would shift it.
            return Err(UnsubscribeError::TooManyInFlight);
        }
        let index = self
            .subscriptions
            .position(kind, filter)
            .ok_or(UnsubscribeError::NotSubscribed)?;
        let other = match kind {
            SlotKind::User => SlotKind::Internal,
            SlotKind::Internal => SlotKind::User,
        };
        let mut sent = None;
        if self.subscriptions.position(other, filter).is_none() {
            if self.pending.is_full() {
                return Err(UnsubscribeError::TooManyInFlight);
            }
            let packet_id = self.peek_packet_id();
            let filters = [filter];
            let packet = Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters: UnsubscribeFilters::from_list(&filters),
            });
            self.write(&packet)
                .map_err(|_| UnsubscribeError::BufferFull)?;
            self.commit_packet_id(packet_id, PendingKind::Unsubscribe, now);
            sent = Some(packet_id);
        }
        self.subscriptions.remove(kind, index);
        Ok(sent)
    }

    /// Ends the session at the host's request: queues DISCONNECT if the link is up, forgets
    /// subscriptions, outstanding operations and queued events. No event follows; the
    /// runner transmits what is pending and closes the transport.
    ///
    /// # Errors
    /// [`DisconnectError::NotRunning`] when no session exists.
    pub fn disconnect(&mut self) -> Result<(), DisconnectError> {
        let link_up = match self.phase {
            Phase::Idle => return Err(DisconnectError::NotRunning),
            Phase::Up | Phase::Resubscribing { .. } => true,
            _ => false,
        };
        self.end_session();
        self.events.clear();
        if link_up {
            // The buffer was just emptied, so two bytes always fit.
            let _ = self.write(&Packet::Disconnect);
        }
        Ok(())
    }

    /// The checks of a publish before its size: the packet id it would use.
    pub(super) fn check_publish(
        &self,
        topic_name: &str,
        qos: QoS,
    ) -> Result<Option<PacketId>, PublishError> {
        if !self.is_usable() {
            return Err(PublishError::NotConnected);
        }
        if !topic::is_valid_topic_name(topic_name) || topic_name.len() > usize::from(u16::MAX) {
            return Err(PublishError::InvalidTopic);
        }
        match qos {
            QoS::AtMostOnce => Ok(None),
            QoS::AtLeastOnce if self.pending.is_full() => Err(PublishError::TooManyInFlight),
            QoS::AtLeastOnce => Ok(Some(self.peek_packet_id())),
            QoS::ExactlyOnce => Err(PublishError::UnsupportedQos),
        }
    }

    pub(super) fn peek_packet_id(&self) -> PacketId {
        let mut candidate = self.next_packet_id;
        while self
            .pending
            .iter()
            .any(|pending| pending.packet_id == candidate)
        {
            candidate = candidate.next();
        }
        candidate
    }

    pub(super) fn commit_packet_id(&mut self, packet_id: PacketId, kind: PendingKind, now: u64) {
        self.next_packet_id = packet_id.next();
        let deadline = now + u64::from(self.config.command_timeout_ms);
        // Callers checked for room; a full table only loses the timeout of this entry.
        let _ = self.pending.push(Pending {
            packet_id,
            deadline,
            kind,
        });
    }
}
