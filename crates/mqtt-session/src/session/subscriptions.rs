//! The subscription table: 10 user slots listed by AT+TCMQTTSUB? and separate internal slots
//! for OTA and the gateway (`cloud.md` §2.3), so they never eat into the user's 10.
//!
//! Why the filters lie packed in one byte arena per table instead of a 128-byte string per
//! slot: the user table must hold its worst case (ten 128-byte filters, 1,280 bytes), but the
//! internal filters are the module's own four topics, at most 85 bytes each and 316 together,
//! and a slot per filter would have reserved 4 x 128 for them. Each slot keeps only its
//! length, QoS and id (3 bytes); its filter starts where the previous slot's ends. The table
//! lends the filters as `&str` ([`Slots`]), so listing them copies nothing.

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
/// Bytes the internal filters share: the four prefixes above (12 + 20 + 26 + 22 bytes), each
/// followed by `<product id>/<device name>` at their longest (10 + 1 + 48 bytes). A filter
/// that would not fit is refused like an 11th user filter ([`SubscribeError::TableFull`]).
///
/// [`SubscribeError::TableFull`]: super::SubscribeError::TableFull
pub const INTERNAL_FILTER_BYTES: usize = 12 + 20 + 26 + 22 + INTERNAL_SLOTS * (10 + 1 + 48);

/// Which table a subscription belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SlotKind {
    /// Host subscriptions, listed and limited to [`USER_SLOTS`].
    User,
    /// Module-internal subscriptions, unlisted.
    Internal,
}

/// One stored subscription, lent by the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    /// The filter, exactly as subscribed.
    pub filter: &'a str,
    /// QoS granted by the broker.
    pub qos: QoS,
}

/// The granted slots of one table, oldest first ([`Session::subscriptions`]).
///
/// [`Session::subscriptions`]: super::Session::subscriptions
#[derive(Debug, Clone, Copy)]
pub struct Slots<'a> {
    bytes: &'a [u8],
    entries: &'a [Entry],
}

impl<'a> Slots<'a> {
    /// How many slots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Slot `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<Slot<'a>> {
        self.iter().nth(index)
    }

    /// The slots, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = Slot<'a>> + 'a {
        let bytes = self.bytes;
        self.entries.iter().scan(0, move |start, entry| {
            let end = *start + usize::from(entry.length);
            let filter = bytes.get(*start..end).unwrap_or_default();
            *start = end;
            Some(Slot {
                // Stored from a `&str` in `reserve`, whole.
                filter: core::str::from_utf8(filter).unwrap_or_default(),
                qos: entry.qos,
            })
        })
    }

    fn position(&self, filter: &str) -> Option<usize> {
        self.iter().position(|slot| slot.filter == filter)
    }
}

/// A slot's bookkeeping; its filter is `length` bytes in the arena, after those of the slots
/// in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    length: u8,
    /// QoS granted by the broker.
    pub(crate) qos: QoS,
    /// Names the slot for the SUBSCRIBEs awaiting their SUBACK (stable while slots move).
    id: u8,
}

/// A copy of one slot, for the re-subscription that writes it into the transmit buffer
/// (which the table's borrow would otherwise block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnedSlot {
    pub(crate) filter: String<FILTER_CAPACITY, u8>,
    pub(crate) qos: QoS,
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
struct Table<const N: usize, const BYTES: usize> {
    bytes: [u8; BYTES],
    entries: Vec<Entry, N, u8>,
    granted: u8,
}

impl<const N: usize, const BYTES: usize> Default for Table<N, BYTES> {
    fn default() -> Self {
        Table {
            bytes: [0; BYTES],
            entries: Vec::new(),
            granted: 0,
        }
    }
}

impl<const N: usize, const BYTES: usize> Table<N, BYTES> {
    fn granted(&self) -> Slots<'_> {
        Slots {
            bytes: &self.bytes,
            entries: &self.entries[..usize::from(self.granted)],
        }
    }

    fn all(&self) -> Slots<'_> {
        Slots {
            bytes: &self.bytes,
            entries: &self.entries,
        }
    }

    /// Where slot `index`'s filter starts in the arena.
    fn start(&self, index: usize) -> usize {
        self.entries[..index]
            .iter()
            .map(|entry| usize::from(entry.length))
            .sum()
    }

    fn has_room_for(&self, filter: &str) -> bool {
        !self.entries.is_full() && self.start(self.entries.len()) + filter.len() <= BYTES
    }

    fn push(&mut self, filter: &str, id: u8) -> bool {
        let length = u8::try_from(filter.len()).ok();
        let start = self.start(self.entries.len());
        let (Some(length), Some(area)) = (length, self.bytes.get_mut(start..start + filter.len()))
        else {
            return false;
        };
        let entry = Entry {
            length,
            qos: QoS::AtMostOnce,
            id,
        };
        if self.entries.push(entry).is_err() {
            return false;
        }
        area.copy_from_slice(filter.as_bytes());
        true
    }

    fn remove(&mut self, index: usize) {
        let start = self.start(index);
        let end = self.start(self.entries.len());
        let length = usize::from(self.entries.remove(index).length);
        self.bytes.copy_within(start + length..end, start);
        if index < usize::from(self.granted) {
            self.granted -= 1;
        }
    }

    /// Moves slot `index` (not yet granted) to the end of the granted slots.
    fn grant(&mut self, index: usize) {
        let granted = usize::from(self.granted);
        let from = self.start(granted);
        let start = self.start(index);
        let length = usize::from(self.entries[index].length);
        self.bytes[from..start + length].rotate_right(length);
        self.entries[granted..=index].rotate_right(1);
        self.granted += 1;
    }
}

#[derive(Debug, Default)]
pub(crate) struct SubscriptionTable {
    user: Table<USER_SLOTS, { USER_SLOTS * FILTER_CAPACITY }>,
    internal: Table<INTERNAL_SLOTS, INTERNAL_FILTER_BYTES>,
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
            SlotKind::User => self.user.granted(),
            SlotKind::Internal => self.internal.granted(),
        }
    }

    /// Every slot of one table, granted or awaiting its SUBACK.
    fn all(&self, kind: SlotKind) -> Slots<'_> {
        match kind {
            SlotKind::User => self.user.all(),
            SlotKind::Internal => self.internal.all(),
        }
    }

    /// The index of a granted slot holding exactly `filter`.
    pub(crate) fn position(&self, kind: SlotKind, filter: &str) -> Option<usize> {
        self.slots(kind).position(filter)
    }

    /// Whether a new filter (in no slot of the table yet) has no room: granted slots and new
    /// filters awaiting their SUBACK count alike.
    pub(crate) fn has_no_room_for(&self, kind: SlotKind, filter: &str) -> bool {
        let room = match kind {
            SlotKind::User => self.user.has_room_for(filter),
            SlotKind::Internal => self.internal.has_room_for(filter),
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
        let id = self.fresh_id();
        with_table!(self, kind, |table| table.push(filter, id)).then_some(id)
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
        self.user.entries.clear();
        self.user.granted = 0;
        self.internal.entries.clear();
        self.internal.granted = 0;
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
            filter: String::try_from(slot.filter).ok()?,
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
        self.slots(kind)
            .iter()
            .any(|slot| topic::matches(slot.filter, topic_name))
    }
}

#[cfg(test)]
mod tests;
