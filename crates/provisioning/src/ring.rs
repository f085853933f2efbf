//! A first-in first-out ring of small `Copy` items with one-byte positions.
//!
//! Why not `heapless::Deque`: its two `usize` positions and its flag take 17 bytes on a
//! 64-bit host (9 on the chips) beside the items, and round the ring up to the alignment of a
//! `usize`; the machine's queue (nine-byte items) and log (ten-byte entries) are kept for as
//! long as the module runs. Here the positions are two bytes and the ring has the alignment of
//! its items (one). Unused places hold a filler item, so no `unsafe` is needed.

/// Up to `N` items (`N` at most 255), oldest first. Two rings are equal when they hold the
/// same items in the same order, wherever they lie.
#[derive(Debug, Clone)]
pub(crate) struct Ring<T: Copy, const N: usize> {
    items: [T; N],
    /// Place of the oldest item.
    start: u8,
    len: u8,
}

impl<T: Copy, const N: usize> Ring<T, N> {
    /// An empty ring whose places hold `filler`.
    pub(crate) const fn new(filler: T) -> Self {
        assert!(N > 0 && N <= u8::MAX as usize);
        Self {
            items: [filler; N],
            start: 0,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() == N
    }

    /// Appends `item` as the newest; a full ring hands it back.
    pub(crate) fn push_back(&mut self, item: T) -> Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        let place = (usize::from(self.start) + self.len()) % N;
        self.items[place] = item;
        self.len += 1;
        Ok(())
    }

    /// Puts `item` before the oldest; a full ring hands it back.
    pub(crate) fn push_front(&mut self, item: T) -> Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        let place = (usize::from(self.start) + N - 1) % N;
        self.items[place] = item;
        self.start = place as u8;
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the oldest item.
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let item = self.items[usize::from(self.start)];
        self.start = ((usize::from(self.start) + 1) % N) as u8;
        self.len -= 1;
        Some(item)
    }

    /// The items, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).map(move |index| self.items[(usize::from(self.start) + index) % N])
    }
}

impl<T: Copy + PartialEq, const N: usize> PartialEq for Ring<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Eq, const N: usize> Eq for Ring<T, N> {}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn items_leave_in_order_across_the_wrap_and_a_full_ring_refuses_more() {
        let mut ring = Ring::<u8, 3>::new(0);
        assert!(ring.is_empty());
        assert_eq!(ring.push_back(1), Ok(()));
        assert_eq!(ring.push_back(2), Ok(()));
        assert_eq!(ring.pop_front(), Some(1));
        assert_eq!(ring.push_back(3), Ok(()));
        assert_eq!(ring.push_back(4), Ok(()));
        assert!(ring.is_full());
        assert_eq!(ring.push_back(5), Err(5));
        assert_eq!(ring.push_front(6), Err(6));
        assert_eq!(ring.iter().collect::<std::vec::Vec<_>>(), [2, 3, 4]);
        assert_eq!(ring.pop_front(), Some(2));
        assert_eq!(ring.push_front(7), Ok(()));
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.iter().collect::<std::vec::Vec<_>>(), [7, 3, 4]);
        assert_eq!(ring.pop_front(), Some(7));
        assert_eq!(ring.pop_front(), Some(3));
        assert_eq!(ring.pop_front(), Some(4));
        assert_eq!(ring.pop_front(), None);
    }

    #[test]
    fn a_front_push_into_an_empty_ring_wraps_to_the_last_place() {
        let mut ring = Ring::<u8, 4>::new(0);
        assert_eq!(ring.push_front(9), Ok(()));
        assert_eq!(ring.push_back(10), Ok(()));
        assert_eq!(ring.iter().collect::<std::vec::Vec<_>>(), [9, 10]);
        assert_eq!(core::mem::size_of::<Ring<[u8; 9], 12>>(), 110);
    }

    #[test]
    fn rings_with_the_same_items_are_equal_wherever_the_items_lie() {
        let mut moved = Ring::<u8, 3>::new(0);
        moved.push_back(5).unwrap();
        moved.push_back(1).unwrap();
        moved.pop_front();
        let mut fresh = Ring::<u8, 3>::new(0);
        fresh.push_back(1).unwrap();
        assert_eq!(moved, fresh);
        fresh.push_back(2).unwrap();
        assert_ne!(moved, fresh);
    }
}
