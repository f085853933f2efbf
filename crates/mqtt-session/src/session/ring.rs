//! A first-in-first-out ring of a few `Copy` values with one-byte indices.
//!
//! Why not `heapless::Deque`: its front, back and full flag are a `usize` each (24 bytes on a
//! 64-bit host, 12 on the chip) around queues of ten 2-byte packet ids and sixteen 6-byte
//! events; two bytes do here. The session keeps three of them (the event queue, the QoS 1
//! duplicate history and the QoS 2 ids awaiting their PUBREL), `docs/performance.md`,
//! "Engine RAM".

/// At most `N` (at most 255) values of `T`, oldest first.
#[derive(Debug, Clone)]
pub(super) struct Ring<T: Copy, const N: usize> {
    /// Slots not holding a value keep `filler` (or a value taken out), never read.
    items: [T; N],
    /// Where the oldest value is.
    head: u8,
    len: u8,
}

impl<T: Copy, const N: usize> Ring<T, N> {
    /// An empty ring; `filler` only initialises the free slots.
    pub(super) const fn new(filler: T) -> Self {
        const { assert!(N > 0 && N <= u8::MAX as usize) };
        Ring {
            items: [filler; N],
            head: 0,
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(super) fn is_full(&self) -> bool {
        self.len() == N
    }

    /// The slot of the `offset`th value from the oldest.
    fn slot(&self, offset: usize) -> usize {
        (usize::from(self.head) + offset) % N
    }

    /// Appends `value`; `Err(value)` when full.
    pub(super) fn push_back(&mut self, value: T) -> Result<(), T> {
        if self.is_full() {
            return Err(value);
        }
        let slot = self.slot(self.len());
        self.items[slot] = value;
        self.len += 1;
        Ok(())
    }

    /// Takes the oldest value out.
    pub(super) fn pop_front(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let value = self.items[usize::from(self.head)];
        // `slot` is below N <= 255.
        self.head = self.slot(1) as u8;
        self.len -= 1;
        Some(value)
    }

    /// The values, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len()).map(|offset| &self.items[self.slot(offset)])
    }

    /// Keeps only the values `keep` accepts, in their order.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = 0;
        for offset in 0..self.len() {
            let value = self.items[self.slot(offset)];
            if keep(&value) {
                let slot = self.slot(kept);
                self.items[slot] = value;
                kept += 1;
            }
        }
        // `kept` is at most `len`.
        self.len = kept as u8;
    }

    pub(super) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    fn contents<const N: usize>(ring: &Ring<u16, N>) -> heapless::Vec<u16, N> {
        ring.iter().copied().collect()
    }

    #[test]
    fn values_come_out_in_order_across_the_wrap() {
        let mut ring = Ring::<u16, 3>::new(0);
        assert_eq!(ring.pop_front(), None);
        for value in 1..=3 {
            assert_eq!(ring.push_back(value), Ok(()));
        }
        assert!(ring.is_full());
        assert_eq!(ring.push_back(4), Err(4), "a full ring refuses");
        assert_eq!(ring.pop_front(), Some(1));
        assert_eq!(ring.push_back(4), Ok(()));
        assert_eq!(contents(&ring).as_slice(), [2, 3, 4]);
        assert_eq!(ring.pop_front(), Some(2));
        assert_eq!(ring.pop_front(), Some(3));
        assert_eq!(ring.pop_front(), Some(4));
        assert!(ring.is_empty());
    }

    #[test]
    fn retain_keeps_the_order_of_the_kept_values_across_the_wrap() {
        let mut ring = Ring::<u16, 4>::new(0);
        for value in [9, 9, 1, 2] {
            ring.push_back(value).unwrap();
        }
        ring.pop_front();
        ring.pop_front();
        for value in [3, 4] {
            ring.push_back(value).unwrap();
        }
        ring.retain(|value| *value != 2);
        assert_eq!(contents(&ring).as_slice(), [1, 3, 4]);
        assert_eq!(ring.len(), 3);
        ring.push_back(5).unwrap();
        assert_eq!(contents(&ring).as_slice(), [1, 3, 4, 5]);
        ring.clear();
        assert!(ring.is_empty());
        assert_eq!(ring.iter().count(), 0);
    }

    #[test]
    fn two_bytes_of_bookkeeping() {
        assert_eq!(core::mem::size_of::<Ring<u16, 10>>(), 22);
    }
}
