//! A first-in first-out ring of a few `Copy` items with one-byte positions.
//!
//! Why not `heapless::Deque`: its two `usize` positions and its flag take 17 bytes on a 64-bit
//! host (9 on the chips) beside the items, and round the ring up to a `usize`'s alignment. The
//! engine keeps several small queues for as long as the module runs (the MQTT session's event
//! queue and duplicate-id histories, the OTA machine's events, the provisioning machine's work
//! queue and log; `docs/performance.md`, "Engine RAM"): here the positions are two bytes and
//! the ring has the alignment of its items. Unused places hold a filler item, so no `unsafe`
//! is needed.
#![no_std]

/// Up to `N` items (`N` from 1 to 255), oldest first. Two rings are equal when they hold the
/// same items in the same order, wherever they lie.
#[derive(Debug, Clone)]
pub struct Fifo<T: Copy, const N: usize> {
    /// Places not holding an item keep the filler (or an item taken out), never read.
    items: [T; N],
    /// Place of the oldest item.
    head: u8,
    len: u8,
}

impl<T: Copy, const N: usize> Fifo<T, N> {
    /// An empty ring; `filler` only initialises the free places.
    pub const fn new(filler: T) -> Self {
        const { assert!(N > 0 && N <= u8::MAX as usize) };
        Fifo {
            items: [filler; N],
            head: 0,
            len: 0,
        }
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether it holds no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it holds `N` items.
    pub fn is_full(&self) -> bool {
        self.len() == N
    }

    /// The place of the `offset`th item from the oldest.
    fn place(&self, offset: usize) -> usize {
        (usize::from(self.head) + offset) % N
    }

    /// Appends `item` as the newest; a full ring hands it back.
    pub fn push_back(&mut self, item: T) -> Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        let place = self.place(self.len());
        self.items[place] = item;
        self.len += 1;
        Ok(())
    }

    /// Puts `item` before the oldest; a full ring hands it back.
    pub fn push_front(&mut self, item: T) -> Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        let place = self.place(N - 1);
        self.items[place] = item;
        // `place` is below N <= 255.
        self.head = place as u8;
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the oldest item.
    pub fn pop_front(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let item = self.items[usize::from(self.head)];
        // `place` is below N <= 255.
        self.head = self.place(1) as u8;
        self.len -= 1;
        Some(item)
    }

    /// The items, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).map(|offset| self.items[self.place(offset)])
    }

    /// Keeps only the items `keep` accepts, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut kept = 0;
        for offset in 0..self.len() {
            let item = self.items[self.place(offset)];
            if keep(&item) {
                let place = self.place(kept);
                self.items[place] = item;
                kept += 1;
            }
        }
        // `kept` is at most `len`.
        self.len = kept as u8;
    }

    /// Forgets every item.
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

impl<T: Copy + PartialEq, const N: usize> PartialEq for Fifo<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Eq, const N: usize> Eq for Fifo<T, N> {}

#[cfg(test)]
mod tests;
