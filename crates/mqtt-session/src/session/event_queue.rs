//! The queue of events waiting for [`Session::poll`](super::Session::poll), stored compactly.
//!
//! Why not a queue of [`Event`]: an `Event` is as large as its largest variant, a
//! [`Event::Message`] with two borrowed slices (40 bytes on a 64-bit host, 24 on a 32-bit
//! chip), yet a message is never queued: it borrows the receive buffer and is returned by
//! `poll` at once. Every other event fits in a few bytes, so the queue keeps them in their own
//! enum and rebuilds the `Event` when it is taken out. The queue is part of the session's
//! RAM on every board (`docs/performance.md`, "Engine RAM").

use super::event::{ConnectFailure, ConnectRefusal, DropReason, Event, Operation};
use super::ring::Ring;
use super::subscriptions::SlotKind;
use crate::codec::{PacketId, QoS};

/// An [`Event`] other than a message, the slot index in a byte (tables hold at most a dozen
/// slots).
#[derive(Debug, Clone, Copy)]
enum Queued {
    Connected {
        session_present: bool,
    },
    ConnectRefused(ConnectRefusal),
    ConnectFailed(ConnectFailure),
    Published(PacketId),
    PublishTimeout(PacketId),
    Subscribed {
        packet_id: PacketId,
        kind: SlotKind,
        slot: u8,
        granted: QoS,
    },
    SubscribeRefused(PacketId, SlotKind),
    SubscribeTimeout(PacketId, SlotKind),
    Unsubscribed(PacketId),
    UnsubscribeTimeout(PacketId),
    LinkLost(PacketId, Operation),
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

impl Queued {
    /// The compact form; `None` for a message (never queued) or a slot index over 255.
    fn from_event(event: Event<'_>) -> Option<Self> {
        Some(match event {
            Event::Connected { session_present } => Queued::Connected { session_present },
            Event::ConnectRefused(refusal) => Queued::ConnectRefused(refusal),
            Event::ConnectFailed(failure) => Queued::ConnectFailed(failure),
            Event::Published { packet_id } => Queued::Published(packet_id),
            Event::PublishTimeout { packet_id } => Queued::PublishTimeout(packet_id),
            Event::Subscribed {
                packet_id,
                kind,
                slot,
                granted,
            } => Queued::Subscribed {
                packet_id,
                kind,
                slot: u8::try_from(slot).ok()?,
                granted,
            },
            Event::SubscribeRefused { packet_id, kind } => {
                Queued::SubscribeRefused(packet_id, kind)
            }
            Event::SubscribeTimeout { packet_id, kind } => {
                Queued::SubscribeTimeout(packet_id, kind)
            }
            Event::Unsubscribed { packet_id } => Queued::Unsubscribed(packet_id),
            Event::UnsubscribeTimeout { packet_id } => Queued::UnsubscribeTimeout(packet_id),
            Event::LinkLost {
                packet_id,
                operation,
            } => Queued::LinkLost(packet_id, operation),
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
            Queued::Published(packet_id) => Event::Published { packet_id },
            Queued::PublishTimeout(packet_id) => Event::PublishTimeout { packet_id },
            Queued::Subscribed {
                packet_id,
                kind,
                slot,
                granted,
            } => Event::Subscribed {
                packet_id,
                kind,
                slot: usize::from(slot),
                granted,
            },
            Queued::SubscribeRefused(packet_id, kind) => {
                Event::SubscribeRefused { packet_id, kind }
            }
            Queued::SubscribeTimeout(packet_id, kind) => {
                Event::SubscribeTimeout { packet_id, kind }
            }
            Queued::Unsubscribed(packet_id) => Event::Unsubscribed { packet_id },
            Queued::UnsubscribeTimeout(packet_id) => Event::UnsubscribeTimeout { packet_id },
            Queued::LinkLost(packet_id, operation) => Event::LinkLost {
                packet_id,
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
    events: Ring<Queued, N>,
}

impl<const N: usize> EventQueue<N> {
    pub(super) const fn new() -> Self {
        EventQueue {
            // The filler only initialises the free slots.
            events: Ring::new(Queued::GaveUp),
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
            Event::GaveUp,
        ];
        let mut queue = EventQueue::<16>::new();
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
        assert!(core::mem::size_of::<Queued>() <= 8);
    }
}
