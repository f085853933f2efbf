//! The machine's queue of events for the runner: a ring with one-byte positions.
//!
//! Why not `heapless::Deque`: its two `usize` positions and its flag take 17 bytes on a 64-bit
//! host (9 on the chips) beside the eight 12-byte events and round the queue up to a
//! `usize`'s alignment; the machine lives in the engine's state for as long as the module runs
//! (issue 9, the ESP8266's RAM). Here the positions are two bytes and the queue has the
//! alignment of a byte (each event is kept packed: with the two positions the queue is then
//! 98 bytes, not 100, and the machine 224, not 232). Unused places hold a filler event, so no
//! `unsafe` is needed.

use crate::event::Event;

/// An event kept with the alignment of a byte; it is only ever copied in and out whole.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed)]
struct Packed(Event);

/// Up to `N` events (`N` at most 255), oldest first.
#[derive(Debug, Clone)]
pub(super) struct EventQueue<const N: usize> {
    events: [Packed; N],
    /// Place of the oldest event.
    start: u8,
    len: u8,
}

impl<const N: usize> EventQueue<N> {
    /// An empty queue.
    pub(super) const fn new() -> Self {
        assert!(N > 0 && N <= u8::MAX as usize);
        Self {
            events: [Packed(Event::Abort); N],
            start: 0,
            len: 0,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `event` as the newest; a full queue hands it back.
    pub(super) fn push_back(&mut self, event: Event) -> Result<(), Event> {
        if usize::from(self.len) == N {
            return Err(event);
        }
        let place = (usize::from(self.start) + usize::from(self.len)) % N;
        self.events[place] = Packed(event);
        self.len += 1;
        Ok(())
    }

    /// Removes and returns the oldest event.
    pub(super) fn pop_front(&mut self) -> Option<Event> {
        if self.is_empty() {
            return None;
        }
        let event = self.events[usize::from(self.start)].0;
        self.start = ((usize::from(self.start) + 1) % N) as u8;
        self.len -= 1;
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::EventQueue;
    use crate::event::Event;

    fn fetch(offset: u32) -> Event {
        Event::Fetch { offset, size: 10 }
    }

    #[test]
    fn events_leave_in_order_across_the_wrap_and_a_full_queue_refuses_more() {
        let mut queue = EventQueue::<3>::new();
        assert!(queue.is_empty());
        assert_eq!(queue.pop_front(), None);
        assert_eq!(queue.push_back(fetch(1)), Ok(()));
        assert_eq!(queue.push_back(fetch(2)), Ok(()));
        assert_eq!(queue.pop_front(), Some(fetch(1)));
        assert_eq!(queue.push_back(fetch(3)), Ok(()));
        assert_eq!(queue.push_back(fetch(4)), Ok(()));
        assert_eq!(queue.push_back(fetch(5)), Err(fetch(5)));
        assert_eq!(queue.pop_front(), Some(fetch(2)));
        assert_eq!(queue.pop_front(), Some(fetch(3)));
        assert_eq!(queue.pop_front(), Some(fetch(4)));
        assert_eq!(queue.pop_front(), None);
        assert!(queue.is_empty());
    }
}
