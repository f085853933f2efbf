//! The subscription table: 10 user slots listed by AT+TCMQTTSUB? and separate internal slots
//! for OTA and the gateway (`cloud.md` §2.3), so they never eat into the user's 10.
//!
//! Why the filters lie packed in one byte arena per table instead of a 128-byte string per
//! slot: the user table must hold its worst case (ten 128-byte filters, 1,280 bytes), but the
//! internal filters are the module's own four topics, and a slot per filter would have
//! reserved 4 x 128 bytes for them. Each slot keeps only its length, QoS, id and a flag; its
//! filter starts where the previous slot's ends. The table lends the filters as `&str`
//! ([`Slots`]), so listing them copies nothing.
//!
//! Why the internal table keeps a shared tail: its four topics are `<prefix><product id>/<device
//! name>` (`$ota/update/`, `$thing/down/service/`, `$gateway/operation/result/`,
//! `$sys/operation/result/`), so their last two levels are stored once (59 bytes at most) and
//! each slot keeps its prefix (80 bytes for all four): 139 bytes instead of 316. A filter whose
//! last two levels differ from the tail in use is stored whole, as far as the arena allows.

mod arena;

use crate::codec::QoS;
use crate::topic;
use arena::{Entry, Table};
pub use arena::{Slot, Slots};
use heapless::String;

/// User slots (AT+TCMQTTSUB).
pub const USER_SLOTS: usize = 10;
/// Internal slots: OTA `$ota/update/…`, the module self-update's resource channel
/// `$thing/down/service/…`, the gateway's `$gateway/operation/result/…` and its cloud-time
/// `$sys/operation/result/…` (`cloud.md` §2.3, §4.7, §9).
pub const INTERNAL_SLOTS: usize = 4;
/// Longest filter a slot stores (the AT commands accept 128 bytes).
pub const FILTER_CAPACITY: usize = 128;
/// Arena bytes of the internal table: the four prefixes above (12 + 20 + 26 + 22 bytes); their
/// shared tail is kept apart ([`INTERNAL_TAIL_CAPACITY`]). A filter that does not fit is
/// refused like an 11th user filter ([`SubscribeError::TableFull`]).
///
/// [`SubscribeError::TableFull`]: super::SubscribeError::TableFull
pub const INTERNAL_FILTER_BYTES: usize = 12 + 20 + 26 + 22;
/// Longest shared tail of the internal table: `<product id>/<device name>` at their longest
/// (10 + 1 + 48 bytes, `commands.md` AT+TCDEVINFOSET).
pub const INTERNAL_TAIL_CAPACITY: usize = 10 + 1 + 48;

/// Which table a subscription belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SlotKind {
    /// Host subscriptions, listed and limited to [`USER_SLOTS`].
    User,
    /// Module-internal subscriptions, unlisted.
    Internal,
}

/// A copy of one slot, for the re-subscription that writes it into the transmit buffer
/// (which the table's borrow would otherwise block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedSlot {
    pub(crate) filter: String<FILTER_CAPACITY, u8>,
    pub(crate) qos: QoS,
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionTable {
    user: Table<USER_SLOTS, { USER_SLOTS * FILTER_CAPACITY }>,
    internal: Table<INTERNAL_SLOTS, INTERNAL_FILTER_BYTES>,
    /// The internal slots' shared tail (meaningful while a slot uses it).
    tail: String<INTERNAL_TAIL_CAPACITY, u8>,
    next_id: u8,
}

/// Where a new internal filter goes: its first `head` bytes into the arena, the rest being
/// the shared tail (`tailed`), which it sets first when `new_tail`.
#[derive(Debug, Clone, Copy)]
struct Placement {
    head: usize,
    tailed: bool,
    new_tail: bool,
}

/// What a SUBACK did to the slot of its SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Granted {
    /// The slot (new or re-subscribed) holds the granted QoS at this index.
    Stored(usize),
    /// The slot is gone (refused new filter, or removed meanwhile).
    Refused,
}

/// Runs `$body` with `$table` bound to the table of `$kind` (the two differ in their sizes).
macro_rules! with_table {
    ($self:expr, $kind:expr, |$table:ident| $body:expr) => {
        match $kind {
            SlotKind::User => {
                let $table = &mut $self.user;
                $body
            }
            SlotKind::Internal => {
                let $table = &mut $self.internal;
                $body
            }
        }
    };
}

impl SubscriptionTable {
    /// The granted slots of one table, oldest first.
    pub(crate) fn slots(&self, kind: SlotKind) -> Slots<'_> {
        match kind {
            SlotKind::User => self.user.granted(""),
            SlotKind::Internal => self.internal.granted(&self.tail),
        }
    }

    /// Every slot of one table, granted or awaiting its SUBACK.
    fn all(&self, kind: SlotKind) -> Slots<'_> {
        match kind {
            SlotKind::User => self.user.all(""),
            SlotKind::Internal => self.internal.all(&self.tail),
        }
    }

    /// Where a new filter of `kind` would go (user filters are stored whole).
    fn placement(&self, kind: SlotKind, filter: &str) -> Placement {
        let whole = Placement {
            head: filter.len(),
            tailed: false,
            new_tail: false,
        };
        if kind == SlotKind::User {
            return whole;
        }
        if self.internal.uses_tail() {
            if filter.len() > self.tail.len() && filter.ends_with(self.tail.as_str()) {
                return Placement {
                    head: filter.len() - self.tail.len(),
                    tailed: true,
                    new_tail: false,
                };
            }
            return whole;
        }
        // No tail in use: this filter's last two levels become it.
        match filter.rmatch_indices('/').nth(1) {
            Some((slash, _)) if filter.len() - (slash + 1) <= INTERNAL_TAIL_CAPACITY => Placement {
                head: slash + 1,
                tailed: true,
                new_tail: true,
            },
            _ => whole,
        }
    }

    /// The index of a granted slot holding exactly `filter`.
    pub(crate) fn position(&self, kind: SlotKind, filter: &str) -> Option<usize> {
        self.slots(kind).position(filter)
    }

    /// Whether a new filter (in no slot of the table yet) has no room: granted slots and new
    /// filters awaiting their SUBACK count alike.
    pub(crate) fn has_no_room_for(&self, kind: SlotKind, filter: &str) -> bool {
        let head = self.placement(kind, filter).head;
        let room = match kind {
            SlotKind::User => self.user.has_room_for(head),
            SlotKind::Internal => self.internal.has_room_for(head),
        };
        self.all(kind).position(filter).is_none() && !room
    }

    /// The slot a SUBSCRIBE of `filter` goes to: the one holding it already (granted or not),
    /// or a new one awaiting its SUBACK. Returns the slot's id; `None` when the table is full
    /// or the filter too long.
    pub(crate) fn reserve(&mut self, kind: SlotKind, filter: &str) -> Option<u8> {
        if filter.len() > FILTER_CAPACITY {
            return None;
        }
        if let Some(index) = self.all(kind).position(filter) {
            return Some(with_table!(self, kind, |table| table.entries[index].id));
        }
        let placement = self.placement(kind, filter);
        let (head, tail) = filter.split_at(placement.head);
        let id = self.fresh_id();
        let pushed = with_table!(self, kind, |table| table.push(head, id, placement.tailed));
        if pushed && placement.new_tail {
            // At most INTERNAL_TAIL_CAPACITY bytes (`placement`).
            self.tail = String::try_from(tail).unwrap_or_default();
        }
        pushed.then_some(id)
    }

    /// An id no slot of either table uses (at most 14 are live).
    fn fresh_id(&mut self) -> u8 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            let used = (self.user.entries.iter())
                .chain(self.internal.entries.iter())
                .any(|entry| entry.id == id);
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
        with_table!(self, kind, |table| {
            let Some(index) = table.entries.iter().position(|entry| entry.id == id) else {
                return Granted::Refused;
            };
            let count = usize::from(table.granted);
            match granted {
                Some(qos) if index < count => {
                    table.entries[index].qos = qos;
                    Granted::Stored(index)
                }
                Some(qos) => {
                    table.entries[index].qos = qos;
                    // The new filter joins the granted ones, after the last of them.
                    table.grant(index);
                    Granted::Stored(count)
                }
                None if index < count => Granted::Refused,
                None => {
                    if !still_awaited {
                        table.remove(index);
                    }
                    Granted::Refused
                }
            }
        })
    }

    /// The SUBSCRIBE into slot `id` ended without a SUBACK (timeout): a new filter goes
    /// unless `still_awaited`.
    pub(crate) fn abandoned(&mut self, kind: SlotKind, id: u8, still_awaited: bool) {
        let _ = self.answered(kind, id, None, still_awaited);
    }

    /// Removes every new filter still awaiting its SUBACK (the link they were sent on is
    /// gone).
    pub(crate) fn drop_awaited(&mut self) {
        self.user.entries.truncate(usize::from(self.user.granted));
        self.internal
            .entries
            .truncate(usize::from(self.internal.granted));
    }

    /// The bookkeeping of granted slot `index` (its QoS is updated by a re-subscription).
    pub(crate) fn slot_mut(&mut self, kind: SlotKind, index: usize) -> Option<&mut Entry> {
        with_table!(self, kind, |table| {
            let granted = usize::from(table.granted);
            table.entries[..granted].get_mut(index)
        })
    }

    /// Removes granted slot `index`.
    pub(crate) fn remove(&mut self, kind: SlotKind, index: usize) {
        if index < self.slots(kind).len() {
            with_table!(self, kind, |table| table.remove(index));
        }
    }

    pub(crate) fn clear(&mut self) {
        self.user.clear();
        self.internal.clear();
    }

    /// A copy of granted slot `index` of the concatenation internal ++ user (the
    /// re-subscription order: the gateway's result slot must be back before its sub-devices
    /// are re-onlined, and they before their user filters are re-sent, `cloud.md` §3 item 4).
    pub(crate) fn nth_overall(&self, index: usize) -> Option<(SlotKind, usize, OwnedSlot)> {
        let internal = self.slots(SlotKind::Internal);
        let (kind, index, slot) = match internal.get(index) {
            Some(slot) => (SlotKind::Internal, index, slot),
            None => {
                let user_index = index - internal.len();
                let slot = self.slots(SlotKind::User).get(user_index)?;
                (SlotKind::User, user_index, slot)
            }
        };
        let owned = OwnedSlot {
            filter: slot.joined(),
            qos: slot.qos,
        };
        Some((kind, index, owned))
    }

    /// How many granted internal slots there are (where the user slots start in
    /// `nth_overall`).
    pub(crate) fn internal_count(&self) -> usize {
        self.slots(SlotKind::Internal).len()
    }

    /// Whether any granted slot of `kind` matches `topic_name`.
    pub(crate) fn routes(&self, kind: SlotKind, topic_name: &str) -> bool {
        self.slots(kind).iter().any(|slot| match slot.tail {
            "" => topic::matches(slot.filter, topic_name),
            _ => topic::matches(&slot.joined(), topic_name),
        })
    }
}

#[cfg(test)]
mod tests;
