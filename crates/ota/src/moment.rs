//! A time on the caller's millisecond clock, or none, in the 8 bytes of a `u64`.
//!
//! Why not `Option<u64>`: that takes 16 bytes, and the update machine and the provisioning
//! machine keep several such timers for as long as the engine runs (`docs/performance.md`,
//! "Engine RAM"). No clock reaches `u64::MAX` ms, so that value stands for none.

/// A time in ms, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment(u64);

impl Moment {
    /// No time set.
    pub const NONE: Self = Moment(u64::MAX);

    /// The time `ms` (a time at `u64::MAX` is kept one millisecond earlier).
    pub fn at(ms: u64) -> Self {
        Moment(ms.min(u64::MAX - 1))
    }

    /// The time, if one is set.
    pub fn get(self) -> Option<u64> {
        (self.0 != u64::MAX).then_some(self.0)
    }

    /// Whether the time is set and reached at `now_ms`.
    pub fn due(self, now_ms: u64) -> bool {
        self.get().is_some_and(|at| at <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::Moment;

    #[test]
    fn none_is_never_due_and_a_set_time_is_due_from_then_on() {
        assert_eq!(Moment::NONE.get(), None);
        assert!(!Moment::NONE.due(u64::MAX));
        let at = Moment::at(1_000);
        assert_eq!(at.get(), Some(1_000));
        assert!(!at.due(999));
        assert!(at.due(1_000));
        assert_eq!(Moment::at(u64::MAX).get(), Some(u64::MAX - 1));
        assert_eq!(core::mem::size_of::<Moment>(), 8);
    }
}
