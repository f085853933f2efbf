//! Reconnect schedule of `cloud.md` §3: start at a random 1000..=1990 ms (10 ms steps), double
//! after every failed attempt, give up once the next delay would exceed 60 s.
//!
//! Kept apart from the session so the schedule can be checked on its own: with 1000 ms it
//! allows 6 attempts (waits 1, 2, 4, 8, 16, 32 s), with 1990 ms only 5.

/// Longest wait before an attempt.
pub const MAX_DELAY_MS: u32 = 60_000;

/// Position in the reconnect schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    /// 1-based number of the attempt this delay precedes.
    pub attempt: u8,
    /// Wait before that attempt.
    pub delay_ms: u32,
}

impl Backoff {
    /// The first step, from 32 random bits: `1000 + 10 · (random mod 100)` ms.
    pub fn first(random: u32) -> Self {
        Self {
            attempt: 1,
            delay_ms: 1000 + 10 * (random % 100),
        }
    }

    /// The step after a failed attempt, or `None` when the module gives up.
    pub fn next(self) -> Option<Self> {
        let delay_ms = self.delay_ms.checked_mul(2)?;
        (delay_ms <= MAX_DELAY_MS).then_some(Self {
            attempt: self.attempt + 1,
            delay_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempts(first: Backoff) -> u8 {
        core::iter::successors(Some(first), |step| step.next()).count() as u8
    }

    #[test]
    fn base_delay_spans_1000_to_1990_in_steps_of_10() {
        assert_eq!(Backoff::first(0).delay_ms, 1000);
        assert_eq!(Backoff::first(99).delay_ms, 1990);
        assert_eq!(Backoff::first(100).delay_ms, 1000);
        assert_eq!(Backoff::first(57).delay_ms, 1570);
    }

    #[test]
    fn schedule_gives_six_or_five_attempts_at_the_extremes() {
        assert_eq!(attempts(Backoff::first(0)), 6);
        assert_eq!(attempts(Backoff::first(99)), 5);
    }
}
