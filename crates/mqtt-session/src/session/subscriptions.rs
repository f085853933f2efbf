//! The subscription table: 10 user slots listed by AT+TCMQTTSUB? and separate internal slots
//! for OTA and the gateway (`cloud.md` §2.3), so they never eat into the user's 10.

use crate::codec::QoS;
use crate::topic;
use heapless::{String, Vec};

/// User slots (AT+TCMQTTSUB).
pub const USER_SLOTS: usize = 10;
/// Internal slots: OTA `$ota/update/…`, the gateway's `$gateway/operation/result/…` and
/// its cloud-time `$sys/operation/result/…` (`cloud.md` §2.3).
pub const INTERNAL_SLOTS: usize = 3;
/// Longest filter a slot stores (the AT commands accept 128 bytes).
pub const FILTER_CAPACITY: usize = 128;

/// Which table a subscription belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SlotKind {
    /// Host subscriptions, listed and limited to [`USER_SLOTS`].
    User,
    /// Module-internal subscriptions, unlisted.
    Internal,
}

/// One stored subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The filter, exactly as subscribed.
    pub filter: String<FILTER_CAPACITY>,
    /// QoS granted by the broker.
    pub qos: QoS,
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionTable {
    user: Vec<Slot, USER_SLOTS>,
    internal: Vec<Slot, INTERNAL_SLOTS>,
}

impl SubscriptionTable {
    pub(crate) fn slots(&self, kind: SlotKind) -> &[Slot] {
        match kind {
            SlotKind::User => &self.user,
            SlotKind::Internal => &self.internal,
        }
    }

    pub(crate) fn position(&self, kind: SlotKind, filter: &str) -> Option<usize> {
        self.slots(kind)
            .iter()
            .position(|slot| slot.filter == filter)
    }

    pub(crate) fn is_full(&self, kind: SlotKind) -> bool {
        match kind {
            SlotKind::User => self.user.is_full(),
            SlotKind::Internal => self.internal.is_full(),
        }
    }

    /// Stores a granted subscription: an existing filter keeps its position and gets the new
    /// QoS; a new one is appended. Returns the slot index.
    pub(crate) fn store(&mut self, kind: SlotKind, filter: &str, qos: QoS) -> Option<usize> {
        if let Some(index) = self.position(kind, filter) {
            self.slot_mut(kind, index)?.qos = qos;
            return Some(index);
        }
        let slot = Slot {
            filter: String::try_from(filter).ok()?,
            qos,
        };
        let slots = match kind {
            SlotKind::User => self.user.push(slot).map(|()| self.user.len()),
            SlotKind::Internal => self.internal.push(slot).map(|()| self.internal.len()),
        };
        slots.ok().map(|length| length - 1)
    }

    pub(crate) fn slot_mut(&mut self, kind: SlotKind, index: usize) -> Option<&mut Slot> {
        match kind {
            SlotKind::User => self.user.get_mut(index),
            SlotKind::Internal => self.internal.get_mut(index),
        }
    }

    pub(crate) fn remove(&mut self, kind: SlotKind, index: usize) {
        match kind {
            SlotKind::User if index < self.user.len() => drop(self.user.remove(index)),
            SlotKind::Internal if index < self.internal.len() => drop(self.internal.remove(index)),
            _ => {}
        }
    }

    pub(crate) fn clear(&mut self) {
        self.user.clear();
        self.internal.clear();
    }

    /// Slot `index` of the concatenation internal ++ user (the re-subscription order: the
    /// gateway's result slot must be back before its sub-devices are re-onlined, and they
    /// before their user filters are re-sent, `cloud.md` §3 item 4).
    pub(crate) fn nth_overall(&self, index: usize) -> Option<(SlotKind, usize, &Slot)> {
        match self.internal.get(index) {
            Some(slot) => Some((SlotKind::Internal, index, slot)),
            None => {
                let user_index = index - self.internal.len();
                self.user
                    .get(user_index)
                    .map(|slot| (SlotKind::User, user_index, slot))
            }
        }
    }

    /// How many internal slots there are (where the user slots start in `nth_overall`).
    pub(crate) fn internal_count(&self) -> usize {
        self.internal.len()
    }

    /// Whether any slot of `kind` matches `topic_name`.
    pub(crate) fn routes(&self, kind: SlotKind, topic_name: &str) -> bool {
        self.slots(kind)
            .iter()
            .any(|slot| topic::matches(&slot.filter, topic_name))
    }
}
