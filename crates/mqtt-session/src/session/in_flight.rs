//! The operations awaiting their acknowledgement, oldest first.
//!
//! Why not a `heapless::Vec`: its length is a `usize` beside the entries, 8 bytes on a 64-bit
//! host, and the entries (a `u64` deadline) round the whole up to 72 bytes. An entry's packet
//! id is never 0, so `Option<Pending>` is as large as `Pending` itself: [`MAX_IN_FLIGHT`]
//! optional entries, the present ones first, take 64 bytes and need no length.

use super::{Pending, MAX_IN_FLIGHT};

/// [`InFlight::iter`].
pub(super) type Entries<'a> = core::iter::MapWhile<
    core::slice::Iter<'a, Option<Pending>>,
    for<'e> fn(&'e Option<Pending>) -> Option<&'e Pending>,
>;
/// [`InFlight::iter_mut`].
pub(super) type EntriesMut<'a> = core::iter::MapWhile<
    core::slice::IterMut<'a, Option<Pending>>,
    for<'e> fn(&'e mut Option<Pending>) -> Option<&'e mut Pending>,
>;

/// Up to [`MAX_IN_FLIGHT`] entries in the order they were added; the `Some`s come first.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    entries: [Option<Pending>; MAX_IN_FLIGHT],
}

impl InFlight {
    pub(super) fn is_full(&self) -> bool {
        self.entries.iter().all(Option::is_some)
    }

    /// Appends `entry` behind the others; gives it back when all slots are taken.
    pub(super) fn push(&mut self, entry: Pending) -> Result<(), Pending> {
        match self.entries.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                *slot = Some(entry);
                Ok(())
            }
            None => Err(entry),
        }
    }

    /// The entries, oldest first: an entry's position is the one [`InFlight::remove`] takes.
    ///
    /// A named type, not `impl Iterator`: a caller may remove an entry while the `position`
    /// it found is still a temporary of its `while let`.
    pub(super) fn iter(&self) -> Entries<'_> {
        self.entries.iter().map_while(Option::as_ref)
    }

    pub(super) fn iter_mut(&mut self) -> EntriesMut<'_> {
        self.entries.iter_mut().map_while(Option::as_mut)
    }

    /// Takes the entry at `position` (of [`InFlight::iter`]); the later ones move up, keeping
    /// their order.
    ///
    /// # Panics
    /// If no entry is at `position`, like `Vec::remove`.
    pub(super) fn remove(&mut self, position: usize) -> Pending {
        let entry = self.entries[position]
            .take()
            .unwrap_or_else(|| panic!("no in-flight entry at {position}"));
        self.entries[position..].rotate_left(1);
        entry
    }

    pub(super) fn clear(&mut self) {
        self.entries = Default::default();
    }
}

impl IntoIterator for InFlight {
    type Item = Pending;
    type IntoIter = core::iter::Flatten<core::array::IntoIter<Option<Pending>, MAX_IN_FLIGHT>>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::super::PendingKind;
    use super::*;
    use crate::codec::PacketId;

    fn entry(id: u16) -> Pending {
        Pending {
            packet_id: PacketId::new(id).unwrap(),
            deadline: u64::from(id) * 1000,
            kind: PendingKind::Publish,
        }
    }

    fn ids(in_flight: &InFlight) -> heapless::Vec<u16, 4> {
        in_flight
            .iter()
            .map(|entry| entry.packet_id.get())
            .collect()
    }

    #[test]
    fn entries_keep_their_order_through_removals_and_refills() {
        let mut in_flight = InFlight::default();
        for id in 1..=4 {
            assert!(in_flight.push(entry(id)).is_ok());
        }
        assert!(in_flight.is_full());
        assert_eq!(
            in_flight.push(entry(5)),
            Err(entry(5)),
            "a full table refuses"
        );
        assert_eq!(in_flight.remove(1), entry(2));
        assert_eq!(ids(&in_flight), [1, 3, 4]);
        assert!(!in_flight.is_full());
        assert!(in_flight.push(entry(5)).is_ok());
        assert_eq!(ids(&in_flight), [1, 3, 4, 5]);
        assert_eq!(in_flight.remove(3), entry(5));
        assert_eq!(in_flight.remove(0), entry(1));
        for pending in in_flight.iter_mut() {
            pending.deadline += 1;
        }
        let taken: heapless::Vec<Pending, 4> =
            core::mem::take(&mut in_flight).into_iter().collect();
        assert_eq!(
            taken
                .iter()
                .map(|e| e.deadline)
                .collect::<heapless::Vec<_, 4>>(),
            [3001, 4001]
        );
        assert_eq!(in_flight.iter().count(), 0);
        assert!(in_flight.push(entry(7)).is_ok());
        in_flight.clear();
        assert!(ids(&in_flight).is_empty());
    }

    #[test]
    fn four_entries_take_64_bytes() {
        assert_eq!(core::mem::size_of::<InFlight>(), 64);
    }
}
