//! The queue of events waiting for [`Session::poll`](super::Session::poll), stored compactly.
//!
//! Why not a queue of [`Event`]: an `Event` is as large as its largest variant, a
//! [`Event::Message`] with two borrowed slices (40 bytes on a 64-bit host, 24 on a 32-bit
//! chip), yet a message is never queued: it borrows the receive buffer and is returned by
//! `poll` at once. Every other event fits in a few bytes, so the queue keeps them in their own
//! enum and rebuilds the `Event` when it is taken out. The queue is part of the session's
//! RAM on every board (`docs/performance.md`, "Engine RAM").

use super::event::{ConnectFailure, ConnectRefusal, DropReason, Event, Operation};
use super::subscriptions::SlotKind;
use crate::codec::{PacketId, QoS};
use fifo::Fifo;

/// An [`Event`] other than a message, the slot index in a byte (tables hold at most a dozen
/// slots), the packet id in two unaligned bytes ([`Id`]) and a subscription's table in the
/// variant: 5 bytes with alignment 1, not 6 with alignment 2 (16 entries: 82 bytes, not 98).
#[derive(Debug, Clone, Copy)]
enum Queued {
    Connected {
        session_present: bool,
    },
    ConnectRefused(ConnectRefusal),
    ConnectFailed(ConnectFailure),
    Published(Id),
    PublishTimeout(Id),
    SubscribedUser {
        packet_id: Id,
        slot: u8,
        granted: QoS,
    },
    SubscribedInternal {
        packet_id: Id,
        slot: u8,
        granted: QoS,
    },
    SubscribeRefused(Id, SlotKind),
    SubscribeTimeout(Id, SlotKind),
    Unsubscribed(Id),
    UnsubscribeTimeout(Id),
    LinkLost(Id, Operation),
    Dropped {
        reason: DropReason,
        reconnecting: bool,
    },
    Reconnecting(u8),
    ReconnectAttemptFailed(u8),
    Reconnected,
    InternalSlotsRestored,
    GaveUp,
}

/// A packet id as its two bytes: alignment 1, so it pads no entry of the queue.
#[derive(Debug, Clone, Copy)]
struct Id([u8; 2]);

impl From<PacketId> for Id {
    fn from(packet_id: PacketId) -> Self {
        Id(packet_id.get().to_le_bytes())
    }
}

impl Id {
    fn packet_id(self) -> PacketId {
        // Made from a `PacketId`, which is never 0.
        PacketId::new(u16::from_le_bytes(self.0)).unwrap_or_else(|| unreachable!())
    }
}

impl Queued {
    /// The compact form; `None` for a message (never queued) or a slot index over 255.
    fn from_event(event: Event<'_>) -> Option<Self> {
        Some(match event {
            Event::Connected { session_present } => Queued::Connected { session_present },
            Event::ConnectRefused(refusal) => Queued::ConnectRefused(refusal),
            Event::ConnectFailed(failure) => Queued::ConnectFailed(failure),
            Event::Published { packet_id } => Queued::Published(packet_id.into()),
            Event::PublishTimeout { packet_id } => Queued::PublishTimeout(packet_id.into()),
            Event::Subscribed {
                packet_id,
                kind,
                slot,
                granted,
            } => {
                let (packet_id, slot) = (Id::from(packet_id), u8::try_from(slot).ok()?);
                match kind {
                    SlotKind::User => Queued::SubscribedUser {
                        packet_id,
                        slot,
                        granted,
                    },
                    SlotKind::Internal => Queued::SubscribedInternal {
                        packet_id,
                        slot,
                        granted,
                    },
                }
            }
            Event::SubscribeRefused { packet_id, kind } => {
                Queued::SubscribeRefused(packet_id.into(), kind)
            }
            Event::SubscribeTimeout { packet_id, kind } => {
                Queued::SubscribeTimeout(packet_id.into(), kind)
            }
            Event::Unsubscribed { packet_id } => Queued::Unsubscribed(packet_id.into()),
            Event::UnsubscribeTimeout { packet_id } => Queued::UnsubscribeTimeout(packet_id.into()),
            Event::LinkLost {
                packet_id,
                operation,
            } => Queued::LinkLost(packet_id.into(), operation),
            Event::Message(_) => return None,
            Event::Dropped {
                reason,
                reconnecting,
            } => Queued::Dropped {
                reason,
                reconnecting,
            },
            Event::Reconnecting { attempt } => Queued::Reconnecting(attempt),
            Event::ReconnectAttemptFailed { attempt } => Queued::ReconnectAttemptFailed(attempt),
            Event::Reconnected => Queued::Reconnected,
            Event::InternalSlotsRestored => Queued::InternalSlotsRestored,
            Event::GaveUp => Queued::GaveUp,
        })
    }

    fn event(self) -> Event<'static> {
        match self {
            Queued::Connected { session_present } => Event::Connected { session_present },
            Queued::ConnectRefused(refusal) => Event::ConnectRefused(refusal),
            Queued::ConnectFailed(failure) => Event::ConnectFailed(failure),
            Queued::Published(id) => Event::Published {
                packet_id: id.packet_id(),
            },
            Queued::PublishTimeout(id) => Event::PublishTimeout {
                packet_id: id.packet_id(),
            },
            Queued::SubscribedUser {
                packet_id,
                slot,
                granted,
            } => Event::Subscribed {
                packet_id: packet_id.packet_id(),
                kind: SlotKind::User,
                slot: usize::from(slot),
                granted,
            },
            Queued::SubscribedInternal {
                packet_id,
                slot,
                granted,
            } => Event::Subscribed {
                packet_id: packet_id.packet_id(),
                kind: SlotKind::Internal,
                slot: usize::from(slot),
                granted,
            },
            Queued::SubscribeRefused(id, kind) => Event::SubscribeRefused {
                packet_id: id.packet_id(),
                kind,
            },
            Queued::SubscribeTimeout(id, kind) => Event::SubscribeTimeout {
                packet_id: id.packet_id(),
                kind,
            },
            Queued::Unsubscribed(id) => Event::Unsubscribed {
                packet_id: id.packet_id(),
            },
            Queued::UnsubscribeTimeout(id) => Event::UnsubscribeTimeout {
                packet_id: id.packet_id(),
            },
            Queued::LinkLost(id, operation) => Event::LinkLost {
                packet_id: id.packet_id(),
                operation,
            },
            Queued::Dropped {
                reason,
                reconnecting,
            } => Event::Dropped {
                reason,
                reconnecting,
            },
            Queued::Reconnecting(attempt) => Event::Reconnecting { attempt },
            Queued::ReconnectAttemptFailed(attempt) => Event::ReconnectAttemptFailed { attempt },
            Queued::Reconnected => Event::Reconnected,
            Queued::InternalSlotsRestored => Event::InternalSlotsRestored,
            Queued::GaveUp => Event::GaveUp,
        }
    }
}

/// First in, first out, `N` events.
#[derive(Debug)]
pub(super) struct EventQueue<const N: usize> {
    events: Fifo<Queued, N>,
}

impl<const N: usize> EventQueue<N> {
    pub(super) const fn new() -> Self {
        EventQueue {
            // The filler only initialises the free slots.
            events: Fifo::new(Queued::GaveUp),
        }
    }

    /// Appends `event`; false when the queue is full (or for a message, which is never
    /// queued).
    pub(super) fn push(&mut self, event: Event<'_>) -> bool {
        match Queued::from_event(event) {
            Some(queued) => self.events.push_back(queued).is_ok(),
            None => false,
        }
    }

    pub(super) fn pop(&mut self) -> Option<Event<'static>> {
        self.events.pop_front().map(Queued::event)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.events.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: u16) -> PacketId {
        PacketId::new(value).unwrap()
    }

    #[test]
    fn every_queued_event_comes_out_as_it_went_in() {
        let events = [
            Event::Connected {
                session_present: true,
            },
            Event::ConnectRefused(ConnectRefusal { return_code: 5 }),
            Event::ConnectFailed(ConnectFailure::Timeout),
            Event::Published { packet_id: id(1) },
            Event::PublishTimeout { packet_id: id(2) },
            Event::Subscribed {
                packet_id: id(3),
                kind: SlotKind::Internal,
                slot: 11,
                granted: QoS::AtLeastOnce,
            },
            Event::Subscribed {
                packet_id: id(65_535),
                kind: SlotKind::User,
                slot: 0,
                granted: QoS::ExactlyOnce,
            },
            Event::SubscribeRefused {
                packet_id: id(4),
                kind: SlotKind::User,
            },
            Event::SubscribeTimeout {
                packet_id: id(5),
                kind: SlotKind::Internal,
            },
            Event::Unsubscribed { packet_id: id(6) },
            Event::UnsubscribeTimeout { packet_id: id(7) },
            Event::LinkLost {
                packet_id: id(8),
                operation: Operation::Subscribe(SlotKind::User),
            },
            Event::Dropped {
                reason: DropReason::KeepAliveTimeout,
                reconnecting: true,
            },
            Event::Reconnecting { attempt: 3 },
            Event::ReconnectAttemptFailed { attempt: 4 },
            Event::Reconnected,
            Event::InternalSlotsRestored,
            Event::GaveUp,
        ];
        // One entry per event: the last push fills the queue.
        let mut queue = EventQueue::<18>::new();
        for event in events {
            assert!(queue.push(event));
        }
        assert!(!queue.push(Event::GaveUp), "a full queue refuses");
        for event in events {
            assert_eq!(queue.pop(), Some(event));
        }
        assert!(queue.is_empty());
    }

    #[test]
    fn an_entry_takes_a_few_bytes_not_the_size_of_a_message() {
        assert_eq!(core::mem::size_of::<Queued>(), 5);
        assert_eq!(core::mem::size_of::<EventQueue<16>>(), 82);
    }
}
