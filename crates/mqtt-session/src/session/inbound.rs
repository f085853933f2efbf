//! Received bytes → packets → events and acknowledgements.
//!
//! A delivered [`Message`] borrows the receive buffer, so the packet stays there until the
//! next [`Session::poll`]; only then is its PUBACK/PUBREC queued, which gives the order the
//! spec wants (the URC is queued before the acknowledgement leaves). Packets too large for
//! the buffer are only possible for PUBLISH; their header is read and the rest skipped while
//! it streams in, so an oversized message is still acknowledged.

use super::subscriptions::{Granted, SlotKind};
use super::{
    offset, Acknowledgement, ConnectRefusal, DropReason, Entropy, Event, Message, PendingKind,
    Phase, Release, Session, Span, ACKNOWLEDGEMENT_LENGTH, MAX_INBOUND_PAYLOAD,
};
use crate::codec::{
    decode, decode_fixed_header, DecodeError, Packet, PacketId, QoS, SUBACK_FAILURE,
};
use core::ops::Range;

/// What one decoded packet asks for, without borrowing the receive buffer.
enum Summary {
    ConnAck {
        session_present: bool,
        return_code: u8,
    },
    Publish(InboundPublish),
    PubAck(PacketId),
    PubRel(PacketId),
    SubAck {
        packet_id: PacketId,
        return_code: u8,
    },
    UnsubAck(PacketId),
    PingResp,
    /// PUBREC/PUBCOMP for ids we never used as QoS 2 sender: nothing to do.
    Ignored,
    /// A packet only a server receives.
    Unexpected,
}

pub(super) struct InboundPublish {
    duplicate: bool,
    qos: QoS,
    retain: bool,
    packet_id: Option<PacketId>,
    topic: Range<usize>,
    payload: Range<usize>,
}

/// A PUBLISH to hand out as [`Event::Message`].
pub(super) struct Delivery {
    publish: InboundPublish,
    for_user: bool,
    for_internal: bool,
}

enum Step {
    Incomplete,
    Malformed(DecodeError),
    Packet(Summary, usize),
}

fn range_in(buffer: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buffer.as_ptr() as usize;
    start..start + part.len()
}

impl<R: Entropy, const TX: usize, const RX: usize> Session<R, TX, RX> {
    /// Accepts received transport bytes; returns how many were taken (the rest must be
    /// offered again after [`Session::poll`] made room). Bytes arriving while no link is
    /// expected are discarded (all taken).
    pub fn handle_input(&mut self, bytes: &[u8]) -> usize {
        if matches!(self.phase, Phase::Idle | Phase::BackingOff { .. }) {
            return bytes.len();
        }
        // `discard` is a `u32`, no wider than `usize` on the targets.
        let skipped = (self.discard as usize).min(bytes.len());
        self.discard -= skipped as u32;
        let rest = &bytes[skipped..];
        let length = usize::from(self.receive_length);
        let stored = rest.len().min(RX - length);
        self.receive[length..length + stored].copy_from_slice(&rest[..stored]);
        self.receive_length = offset(length + stored);
        skipped + stored
    }

    /// Queues the acknowledgement of the last delivered message and frees its bytes.
    /// Returns false while the transmit buffer has no room for it.
    pub(super) fn finish_release(&mut self) -> bool {
        let Some(release) = self.release else {
            return true;
        };
        if let Some(acknowledgement) = release.acknowledgement {
            if self.write(&acknowledgement.packet()).is_err() {
                return false;
            }
        }
        self.consume_receive(usize::from(release.length()));
        self.release = None;
        true
    }

    fn consume_receive(&mut self, length: usize) {
        let held = usize::from(self.receive_length);
        let length = length.min(held);
        self.receive.copy_within(length..held, 0);
        self.receive_length = offset(held - length);
    }

    /// Decodes received packets until one is to be delivered (returned) or an event is
    /// queued or the input runs out (both `None`).
    pub(super) fn next_delivery(&mut self, now: u64) -> Option<Delivery> {
        while self.events.is_empty() {
            if !self.is_link_expected() || self.transmit_free() < ACKNOWLEDGEMENT_LENGTH {
                return None;
            }
            match self.decode_step() {
                Step::Incomplete => {
                    if !self.skip_oversized(now) {
                        return None;
                    }
                }
                Step::Malformed(error) => self.link_failed(DropReason::Malformed(error), now),
                Step::Packet(Summary::Publish(publish), length) => {
                    if let Some(delivery) = self.handle_publish(publish, length, now) {
                        return Some(delivery);
                    }
                }
                Step::Packet(summary, length) => {
                    self.consume_receive(length);
                    self.handle_control(summary, now);
                }
            }
        }
        None
    }

    /// The event for a delivery, borrowing the receive buffer.
    pub(super) fn message_event(&self, delivery: Delivery) -> Event<'_> {
        let buffer = &self.receive[..usize::from(self.receive_length)];
        Event::Message(Message {
            topic: core::str::from_utf8(&buffer[delivery.publish.topic]).unwrap_or_default(),
            payload: &buffer[delivery.publish.payload],
            qos: delivery.publish.qos,
            retain: delivery.publish.retain,
            for_user: delivery.for_user,
            for_internal: delivery.for_internal,
        })
    }

    fn is_link_expected(&self) -> bool {
        matches!(
            self.phase,
            Phase::Connecting { .. }
                | Phase::Attempting { .. }
                | Phase::Up
                | Phase::Resubscribing { .. }
        )
    }

    fn decode_step(&self) -> Step {
        let buffer = &self.receive[..usize::from(self.receive_length)];
        let (packet, length) = match decode(buffer) {
            Ok(Some(decoded)) => decoded,
            Ok(None) => return Step::Incomplete,
            Err(error) => return Step::Malformed(error),
        };
        let summary = match packet {
            Packet::ConnAck(connack) => Summary::ConnAck {
                session_present: connack.session_present,
                return_code: connack.return_code,
            },
            Packet::Publish(publish) => Summary::Publish(InboundPublish {
                duplicate: publish.duplicate,
                qos: publish.qos,
                retain: publish.retain,
                packet_id: publish.packet_id,
                topic: range_in(buffer, publish.topic.as_bytes()),
                payload: range_in(buffer, publish.payload),
            }),
            Packet::PubAck(packet_id) => Summary::PubAck(packet_id),
            Packet::PubRel(packet_id) => Summary::PubRel(packet_id),
            Packet::PubRec(_) | Packet::PubComp(_) => Summary::Ignored,
            Packet::SubAck(suback) => Summary::SubAck {
                packet_id: suback.packet_id,
                // One filter per SUBSCRIBE (`cloud.md` §2.2), so the first code decides.
                return_code: suback
                    .return_codes
                    .first()
                    .copied()
                    .unwrap_or(SUBACK_FAILURE),
            },
            Packet::UnsubAck(packet_id) => Summary::UnsubAck(packet_id),
            Packet::PingResp => Summary::PingResp,
            _ => Summary::Unexpected,
        };
        Step::Packet(summary, length)
    }

    /// Handles a packet that cannot fit the receive buffer. Returns true if it made
    /// progress (bytes skipped or the link dropped), false to wait for more input.
    fn skip_oversized(&mut self, now: u64) -> bool {
        let buffer = &self.receive[..usize::from(self.receive_length)];
        let header = match decode_fixed_header(buffer) {
            Ok(Some(header)) if header.total_length() > RX => header,
            _ => return false,
        };
        if header.packet_type != 3 || !matches!(self.phase, Phase::Up | Phase::Resubscribing { .. })
        {
            self.link_failed(DropReason::UnexpectedPacket, now);
            return true;
        }
        let qos = QoS::from_bits((header.flags >> 1) & 0b11).unwrap_or(QoS::AtMostOnce);
        let topic_start = header.header_length + 2;
        let Some(length_bytes) = buffer.get(header.header_length..topic_start) else {
            return false;
        };
        let topic_end =
            topic_start + usize::from(u16::from_be_bytes([length_bytes[0], length_bytes[1]]));
        let identifier_end = topic_end + if qos == QoS::AtMostOnce { 0 } else { 2 };
        if buffer.len() < identifier_end {
            if buffer.len() == RX {
                // Even the topic does not fit: nothing sensible can be acknowledged.
                self.link_failed(DropReason::UnexpectedPacket, now);
                return true;
            }
            return false;
        }
        let packet_id = buffer
            .get(topic_end..identifier_end)
            .and_then(|bytes| bytes.first_chunk::<2>())
            .map(|bytes| PacketId::new(u16::from_be_bytes(*bytes)));
        let acknowledgement = match (qos, packet_id) {
            (QoS::AtMostOnce, _) => None,
            (_, Some(None)) | (_, None) => {
                self.link_failed(DropReason::Malformed(DecodeError::ZeroPacketId), now);
                return true;
            }
            (QoS::AtLeastOnce, Some(Some(packet_id))) => Some(Acknowledgement::PubAck(packet_id)),
            (QoS::ExactlyOnce, Some(Some(packet_id))) => Some(Acknowledgement::PubRec(packet_id)),
        };
        self.statistics.oversize_dropped += 1;
        // A packet's total length (at most 5 + 268,435,455 bytes) fits a `u32`.
        self.discard = (header.total_length() - usize::from(self.receive_length)) as u32;
        self.receive_length = 0;
        if let Some(acknowledgement) = acknowledgement {
            let _ = self.write(&acknowledgement.packet());
        }
        true
    }

    fn handle_publish(
        &mut self,
        publish: InboundPublish,
        length: usize,
        now: u64,
    ) -> Option<Delivery> {
        if !matches!(self.phase, Phase::Up | Phase::Resubscribing { .. }) {
            self.link_failed(DropReason::UnexpectedPacket, now);
            return None;
        }
        let acknowledgement = match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(packet_id)) => Some(Acknowledgement::PubAck(packet_id)),
            (QoS::ExactlyOnce, Some(packet_id)) => Some(Acknowledgement::PubRec(packet_id)),
            _ => None,
        };
        let deliver = !self.is_duplicate(&publish) && self.is_deliverable(&publish);
        let buffer = &self.receive[..usize::from(self.receive_length)];
        let topic = core::str::from_utf8(&buffer[publish.topic.clone()]).unwrap_or_default();
        let for_user = self.subscriptions.routes(SlotKind::User, topic);
        let for_internal = self.subscriptions.routes(SlotKind::Internal, topic);
        if !deliver || !(for_user || for_internal) {
            if deliver {
                self.statistics.unmatched_dropped += 1;
            }
            self.consume_receive(length);
            if let Some(acknowledgement) = acknowledgement {
                let _ = self.write(&acknowledgement.packet());
            }
            return None;
        }
        // The packet is the first `length` bytes of the receive buffer, its payload the last
        // of them (`Release::length`).
        debug_assert_eq!(publish.payload.end, length);
        self.release = Some(Release {
            acknowledgement,
            topic: Span::new(publish.topic.clone()),
            payload: Span::new(publish.payload.clone()),
            qos: publish.qos,
            flags: Release::flags(publish.retain, for_user, for_internal),
        });
        Some(Delivery {
            publish,
            for_user,
            for_internal,
        })
    }

    /// Records the id and tells whether this PUBLISH was already delivered: QoS 1 needs the
    /// DUP flag and an id among the last 10 (`README.md` table B); QoS 2 ids are held until
    /// their PUBREL.
    fn is_duplicate(&mut self, publish: &InboundPublish) -> bool {
        let Some(packet_id) = publish.packet_id else {
            return false;
        };
        let history = match publish.qos {
            QoS::AtMostOnce => return false,
            QoS::AtLeastOnce => &mut self.recent_qos1,
            QoS::ExactlyOnce => &mut self.awaiting_release,
        };
        let seen = history.iter().any(|recent| recent == packet_id);
        let duplicate = seen && (publish.duplicate || publish.qos == QoS::ExactlyOnce);
        if !seen {
            if history.is_full() {
                history.pop_front();
            }
            let _ = history.push_back(packet_id);
        }
        if duplicate {
            self.statistics.duplicates_suppressed += 1;
        }
        duplicate
    }

    fn is_deliverable(&mut self, publish: &InboundPublish) -> bool {
        if publish.payload.len() > MAX_INBOUND_PAYLOAD {
            self.statistics.oversize_dropped += 1;
            return false;
        }
        true
    }

    fn handle_control(&mut self, summary: Summary, now: u64) {
        match (summary, self.phase) {
            (
                Summary::ConnAck {
                    session_present,
                    return_code,
                },
                Phase::Connecting { .. },
            ) => {
                if return_code == 0 {
                    self.history.link_up(now, None);
                    self.phase = Phase::Up;
                    self.push_event(Event::Connected { session_present });
                } else {
                    self.end_session();
                    self.push_event(Event::ConnectRefused(ConnectRefusal { return_code }));
                }
            }
            (Summary::ConnAck { return_code, .. }, Phase::Attempting { backoff, .. }) => {
                if return_code == 0 {
                    self.history.link_up(now, Some(backoff));
                    self.start_resubscribe(now);
                } else {
                    self.attempt_failed(backoff, now);
                }
            }
            (_, Phase::Connecting { .. } | Phase::Attempting { .. })
            | (Summary::ConnAck { .. }, _) => {
                self.link_failed(DropReason::UnexpectedPacket, now);
            }
            (Summary::Unexpected, _) => self.link_failed(DropReason::UnexpectedPacket, now),
            (Summary::PingResp, _) => self.ping = super::Ping::Idle,
            (Summary::PubRel(packet_id), _) => {
                self.awaiting_release
                    .retain(|awaiting| *awaiting != packet_id);
                let _ = self.write(&Packet::PubComp(packet_id));
            }
            (Summary::PubAck(packet_id), _) => {
                if self
                    .take_pending(packet_id, |kind| matches!(kind, PendingKind::Publish))
                    .is_some()
                {
                    self.push_event(Event::Published { packet_id });
                }
            }
            (Summary::UnsubAck(packet_id), _) => {
                if self
                    .take_pending(packet_id, |kind| matches!(kind, PendingKind::Unsubscribe))
                    .is_some()
                {
                    self.push_event(Event::Unsubscribed { packet_id });
                }
            }
            (
                Summary::SubAck {
                    packet_id,
                    return_code,
                },
                _,
            ) => self.handle_suback(packet_id, return_code, now),
            (Summary::Ignored | Summary::Publish(_), _) => {}
        }
    }

    fn take_pending(
        &mut self,
        packet_id: PacketId,
        wanted: impl Fn(&PendingKind) -> bool,
    ) -> Option<PendingKind> {
        let position = self
            .pending
            .iter()
            .position(|pending| pending.packet_id == packet_id && wanted(&pending.kind))?;
        Some(self.pending.remove(position).kind)
    }

    fn handle_suback(&mut self, packet_id: PacketId, return_code: u8, now: u64) {
        let wanted = |kind: &PendingKind| {
            matches!(
                kind,
                PendingKind::Subscribe { .. } | PendingKind::Resubscribe { .. }
            )
        };
        // A SUBACK after its timeout finds nothing pending and is ignored (`commands.md` §4).
        match self.take_pending(packet_id, wanted) {
            Some(PendingKind::Resubscribe { kind, index }) => {
                self.resubscribe_answered(kind, usize::from(index), Some(return_code), now);
            }
            Some(PendingKind::Subscribe { kind, slot }) => {
                let granted = QoS::from_bits(return_code);
                let still_awaited = self.awaits_slot(kind, slot);
                let stored = self
                    .subscriptions
                    .answered(kind, slot, granted, still_awaited);
                match (stored, granted) {
                    (Granted::Stored(slot), Some(granted)) => self.push_event(Event::Subscribed {
                        packet_id,
                        kind,
                        slot,
                        granted,
                    }),
                    _ => self.push_event(Event::SubscribeRefused { packet_id, kind }),
                }
            }
            _ => {}
        }
    }
}
