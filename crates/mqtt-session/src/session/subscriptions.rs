//! The subscription table: 10 user slots listed by AT+TCMQTTSUB? and separate internal slots
//! for OTA and the gateway (`cloud.md` §2.3), so they never eat into the user's 10.

use crate::codec::QoS;
use crate::topic;
use heapless::{String, Vec};

/// User slots (AT+TCMQTTSUB).
pub const USER_SLOTS: usize = 10;
/// Internal slots: OTA `$ota/update/…`, the module self-update's resource channel
/// `$thing/down/service/…`, the gateway's `$gateway/operation/result/…` and its cloud-time
/// `$sys/operation/result/…` (`cloud.md` §2.3, §4.7, §9).
pub const INTERNAL_SLOTS: usize = 4;
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
    /// The filter, exactly as subscribed (a one-byte length: 128 bytes fit, and a `usize`
    /// length would cost 7 bytes more in each of the 13 slots).
    pub filter: String<FILTER_CAPACITY, u8>,
    /// QoS granted by the broker.
    pub qos: QoS,
    /// Names the slot for the SUBSCRIBEs awaiting their SUBACK (stable while slots move).
    id: u8,
}

/// One table: the granted slots first (listed, routed, re-subscribed), then the new filters
/// whose SUBACK is still awaited (`docs/decisions.md`, "Subscriptions").
///
/// Why a new filter takes its slot before the SUBACK: the SUBSCRIBE in flight then needs no
/// copy of its filter (an in-flight entry would otherwise carry 128 bytes each, four of them),
/// and a pending new filter already counts towards the table's limit, as the spec's `-107`
/// wants. Such a slot is invisible until granted; a refusal, a timeout or the link's end
/// removes it.
#[derive(Debug)]
struct Table<const N: usize> {
    slots: Vec<Slot, N, u8>,
    granted: usize,
}

impl<const N: usize> Default for Table<N> {
    fn default() -> Self {
        Table {
            slots: Vec::new(),
            granted: 0,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionTable {
    user: Table<USER_SLOTS>,
    internal: Table<INTERNAL_SLOTS>,
    next_id: u8,
}

/// What a SUBACK did to the slot of its SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Granted {
    /// The slot (new or re-subscribed) holds the granted QoS at this index.
    Stored(usize),
    /// The slot is gone (refused new filter, or removed meanwhile).
    Refused,
}

macro_rules! table {
    ($self:expr, $kind:expr) => {
        match $kind {
            SlotKind::User => (&mut $self.user.slots[..], &mut $self.user.granted),
            SlotKind::Internal => (&mut $self.internal.slots[..], &mut $self.internal.granted),
        }
    };
}

impl SubscriptionTable {
    /// The granted slots of one table, oldest first.
    pub(crate) fn slots(&self, kind: SlotKind) -> &[Slot] {
        match kind {
            SlotKind::User => &self.user.slots[..self.user.granted],
            SlotKind::Internal => &self.internal.slots[..self.internal.granted],
        }
    }

    /// Every slot of one table, granted or awaiting its SUBACK.
    fn all(&self, kind: SlotKind) -> &[Slot] {
        match kind {
            SlotKind::User => &self.user.slots,
            SlotKind::Internal => &self.internal.slots,
        }
    }

    /// The index of a granted slot holding exactly `filter`.
    pub(crate) fn position(&self, kind: SlotKind, filter: &str) -> Option<usize> {
        self.slots(kind)
            .iter()
            .position(|slot| slot.filter == filter)
    }

    /// Whether a new filter (in no slot of the table yet) has no room: granted slots and new
    /// filters awaiting their SUBACK count alike.
    pub(crate) fn has_no_room_for(&self, kind: SlotKind, filter: &str) -> bool {
        let all = self.all(kind);
        let capacity = match kind {
            SlotKind::User => USER_SLOTS,
            SlotKind::Internal => INTERNAL_SLOTS,
        };
        !all.iter().any(|slot| slot.filter == filter) && all.len() >= capacity
    }

    /// The slot a SUBSCRIBE of `filter` goes to: the one holding it already (granted or not),
    /// or a new one awaiting its SUBACK. Returns the slot's id; `None` when the table is full
    /// or the filter too long.
    pub(crate) fn reserve(&mut self, kind: SlotKind, filter: &str) -> Option<u8> {
        if let Some(slot) = self.all(kind).iter().find(|slot| slot.filter == filter) {
            return Some(slot.id);
        }
        let id = self.fresh_id();
        let slot = Slot {
            filter: String::try_from(filter).ok()?,
            qos: QoS::AtMostOnce,
            id,
        };
        let pushed = match kind {
            SlotKind::User => self.user.slots.push(slot),
            SlotKind::Internal => self.internal.slots.push(slot),
        };
        pushed.ok().map(|()| id)
    }

    /// An id no slot of either table uses (at most a dozen are live).
    fn fresh_id(&mut self) -> u8 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let used = [SlotKind::User, SlotKind::Internal]
                .iter()
                .any(|kind| self.all(*kind).iter().any(|slot| slot.id == id));
            if !used {
                return id;
            }
        }
    }

    /// The SUBACK of a SUBSCRIBE into slot `id`: a granted QoS stores it (a new filter
    /// becomes the last granted slot, an existing one keeps its position); a refusal removes
    /// a new filter unless `still_awaited` (another SUBSCRIBE of it is in flight) and leaves
    /// a granted slot as it was.
    pub(crate) fn answered(
        &mut self,
        kind: SlotKind,
        id: u8,
        granted: Option<QoS>,
        still_awaited: bool,
    ) -> Granted {
        let (slots, count) = table!(self, kind);
        let Some(index) = slots.iter().position(|slot| slot.id == id) else {
            return Granted::Refused;
        };
        match granted {
            Some(qos) if index < *count => {
                slots[index].qos = qos;
                Granted::Stored(index)
            }
            Some(qos) => {
                slots[index].qos = qos;
                // The new filter joins the granted ones, after the last of them.
                slots[*count..=index].rotate_right(1);
                *count += 1;
                Granted::Stored(*count - 1)
            }
            None if index < *count => Granted::Refused,
            None => {
                if !still_awaited {
                    self.remove_any(kind, index);
                }
                Granted::Refused
            }
        }
    }

    /// The SUBSCRIBE into slot `id` ended without a SUBACK (timeout): a new filter goes
    /// unless `still_awaited`.
    pub(crate) fn abandoned(&mut self, kind: SlotKind, id: u8, still_awaited: bool) {
        let _ = self.answered(kind, id, None, still_awaited);
    }

    /// Removes every new filter still awaiting its SUBACK (the link they were sent on is
    /// gone).
    pub(crate) fn drop_awaited(&mut self) {
        self.user.slots.truncate(self.user.granted);
        self.internal.slots.truncate(self.internal.granted);
    }

    pub(crate) fn slot_mut(&mut self, kind: SlotKind, index: usize) -> Option<&mut Slot> {
        let (slots, count) = table!(self, kind);
        slots[..*count].get_mut(index)
    }

    /// Removes granted slot `index`.
    pub(crate) fn remove(&mut self, kind: SlotKind, index: usize) {
        if index < self.slots(kind).len() {
            self.remove_any(kind, index);
            match kind {
                SlotKind::User => self.user.granted -= 1,
                SlotKind::Internal => self.internal.granted -= 1,
            }
        }
    }

    fn remove_any(&mut self, kind: SlotKind, index: usize) {
        match kind {
            SlotKind::User => drop(self.user.slots.remove(index)),
            SlotKind::Internal => drop(self.internal.slots.remove(index)),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.user = Table::default();
        self.internal = Table::default();
    }

    /// Granted slot `index` of the concatenation internal ++ user (the re-subscription order:
    /// the gateway's result slot must be back before its sub-devices are re-onlined, and they
    /// before their user filters are re-sent, `cloud.md` §3 item 4).
    pub(crate) fn nth_overall(&self, index: usize) -> Option<(SlotKind, usize, &Slot)> {
        let internal = self.slots(SlotKind::Internal);
        match internal.get(index) {
            Some(slot) => Some((SlotKind::Internal, index, slot)),
            None => {
                let user_index = index - internal.len();
                self.slots(SlotKind::User)
                    .get(user_index)
                    .map(|slot| (SlotKind::User, user_index, slot))
            }
        }
    }

    /// How many granted internal slots there are (where the user slots start in
    /// `nth_overall`).
    pub(crate) fn internal_count(&self) -> usize {
        self.slots(SlotKind::Internal).len()
    }

    /// Whether any granted slot of `kind` matches `topic_name`.
    pub(crate) fn routes(&self, kind: SlotKind, topic_name: &str) -> bool {
        self.slots(kind)
            .iter()
            .any(|slot| topic::matches(&slot.filter, topic_name))
    }
}
