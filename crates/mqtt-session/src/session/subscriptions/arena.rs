//! One table's storage: the slots' filters packed in a byte arena, each slot's bookkeeping in
//! three bytes and a flag, and the lent views of both.
//!
//! A slot's filter is its `length` bytes in the arena, after those of the slots in front of
//! it, followed, when `tailed`, by the tail its table shares (only the internal table has one,
//! `super`'s module docs).

use crate::codec::QoS;
use heapless::{String, Vec};

use super::FILTER_CAPACITY;

/// One stored subscription, lent by the table: its filter is `filter` followed by `tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot<'a> {
    /// The filter as subscribed, or in the internal table its part in front of the shared
    /// tail.
    pub filter: &'a str,
    /// The rest of the filter: empty in the user table; in the internal table the
    /// `<product id>/<device name>` the module's topics share, or empty.
    pub tail: &'a str,
    /// QoS granted by the broker.
    pub qos: QoS,
}

impl Slot<'_> {
    /// Whether the slot holds exactly `filter`.
    pub fn is(&self, filter: &str) -> bool {
        filter.len() == self.filter.len() + self.tail.len()
            && filter.starts_with(self.filter)
            && filter.ends_with(self.tail)
    }

    /// The whole filter, copied (at most [`FILTER_CAPACITY`] bytes).
    pub fn joined(&self) -> String<FILTER_CAPACITY, u8> {
        let mut whole = String::new();
        // Both parts come from one filter of at most FILTER_CAPACITY bytes.
        let _ = whole.push_str(self.filter);
        let _ = whole.push_str(self.tail);
        whole
    }
}

/// The granted slots of one table, oldest first ([`Session::subscriptions`]).
///
/// [`Session::subscriptions`]: crate::Session::subscriptions
#[derive(Debug, Clone, Copy)]
pub struct Slots<'a> {
    bytes: &'a [u8],
    entries: &'a [Entry],
    tail: &'a str,
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
        let (bytes, tail) = (self.bytes, self.tail);
        self.entries.iter().scan(0, move |start, entry| {
            let end = *start + usize::from(entry.length);
            let filter = bytes.get(*start..end).unwrap_or_default();
            *start = end;
            Some(Slot {
                // Stored from a `&str` cut at a `/`, whole.
                filter: core::str::from_utf8(filter).unwrap_or_default(),
                tail: if entry.tailed { tail } else { "" },
                qos: entry.qos,
            })
        })
    }

    pub(super) fn position(&self, filter: &str) -> Option<usize> {
        self.iter().position(|slot| slot.is(filter))
    }
}

/// A slot's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Bytes in the arena.
    length: u8,
    /// QoS granted by the broker.
    pub(crate) qos: QoS,
    /// Names the slot for the SUBSCRIBEs awaiting their SUBACK (stable while slots move).
    pub(super) id: u8,
    /// The table's shared tail follows the arena bytes.
    pub(super) tailed: bool,
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
pub(super) struct Table<const N: usize, const BYTES: usize> {
    bytes: [u8; BYTES],
    pub(super) entries: Vec<Entry, N, u8>,
    pub(super) granted: u8,
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
    pub(super) fn granted<'a>(&'a self, tail: &'a str) -> Slots<'a> {
        Slots {
            bytes: &self.bytes,
            entries: &self.entries[..usize::from(self.granted)],
            tail,
        }
    }

    pub(super) fn all<'a>(&'a self, tail: &'a str) -> Slots<'a> {
        Slots {
            bytes: &self.bytes,
            entries: &self.entries,
            tail,
        }
    }

    /// Where slot `index`'s bytes start in the arena.
    pub(super) fn start(&self, index: usize) -> usize {
        self.entries[..index]
            .iter()
            .map(|entry| usize::from(entry.length))
            .sum()
    }

    /// Whether one more slot of `length` arena bytes fits.
    pub(super) fn has_room_for(&self, length: usize) -> bool {
        !self.entries.is_full() && self.start(self.entries.len()) + length <= BYTES
    }

    /// Whether a slot uses the shared tail.
    pub(super) fn uses_tail(&self) -> bool {
        self.entries.iter().any(|entry| entry.tailed)
    }

    /// A new slot of `bytes` (not yet granted); false when it does not fit.
    pub(super) fn push(&mut self, bytes: &str, id: u8, tailed: bool) -> bool {
        let length = u8::try_from(bytes.len()).ok();
        let start = self.start(self.entries.len());
        let (Some(length), Some(area)) = (length, self.bytes.get_mut(start..start + bytes.len()))
        else {
            return false;
        };
        let entry = Entry {
            length,
            qos: QoS::AtMostOnce,
            id,
            tailed,
        };
        if self.entries.push(entry).is_err() {
            return false;
        }
        area.copy_from_slice(bytes.as_bytes());
        true
    }

    pub(super) fn remove(&mut self, index: usize) {
        let start = self.start(index);
        let end = self.start(self.entries.len());
        let length = usize::from(self.entries.remove(index).length);
        self.bytes.copy_within(start + length..end, start);
        if index < usize::from(self.granted) {
            self.granted -= 1;
        }
    }

    /// Moves slot `index` (not yet granted) to the end of the granted slots.
    pub(super) fn grant(&mut self, index: usize) {
        let granted = usize::from(self.granted);
        let from = self.start(granted);
        let start = self.start(index);
        let length = usize::from(self.entries[index].length);
        self.bytes[from..start + length].rotate_right(length);
        self.entries[granted..=index].rotate_right(1);
        self.granted += 1;
    }

    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.granted = 0;
    }
}
