//! The machine's queue of events for the runner: a [`fifo::Fifo`] of packed events.
//!
//! Why packed: the machine lives in the engine's state for as long as the module runs (issue
//! 9, the ESP8266's RAM); with each event kept with the alignment of a byte the queue of eight
//! 12-byte events and two one-byte positions is 98 bytes, not 100, and the machine 224, not
//! 232.

use fifo::Fifo;

use crate::event::Event;

/// An event kept with the alignment of a byte; it is only ever copied in and out whole.
#[derive(Debug, Clone, Copy)]
#[repr(C, packed)]
struct Packed(Event);

/// Up to `N` events (`N` at most 255), oldest first.
#[derive(Debug, Clone)]
pub(super) struct EventQueue<const N: usize> {
    events: Fifo<Packed, N>,
}

impl<const N: usize> EventQueue<N> {
    /// An empty queue.
    pub(super) const fn new() -> Self {
        Self {
            events: Fifo::new(Packed(Event::Abort)),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Appends `event` as the newest; a full queue hands it back.
    pub(super) fn push_back(&mut self, event: Event) -> Result<(), Event> {
        self.events
            .push_back(Packed(event))
            .map_err(|packed| packed.0)
    }

    /// Removes and returns the oldest event.
    pub(super) fn pop_front(&mut self) -> Option<Event> {
        self.events.pop_front().map(|packed| packed.0)
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
