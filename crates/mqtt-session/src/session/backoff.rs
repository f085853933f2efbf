//! Reconnect schedule of `cloud.md` §3: start at a random 1000..=1990 ms (10 ms steps), double
//! after every failed attempt, give up once the next delay would exceed 60 s.
//!
//! Kept apart from the session so the schedule can be checked on its own: with 1000 ms it
//! allows 6 attempts (waits 1, 2, 4, 8, 16, 32 s), with 1990 ms only 5.
//!
//! Two rules keep a broken server from turning the schedule into a CONNECT storm
//! (`cloud.md` §2.5 allows one CONNECT per 5 s per device):
//! * the schedule restarts from its first step only after a link stayed usable for
//!   [`STABLE_LINK_MS`]; a link that drops sooner (a server answering CONNACK and then
//!   garbage) counts as one more failed attempt, so the delay keeps doubling and the module
//!   eventually gives up;
//! * an attempt never starts less than [`MIN_CONNECT_INTERVAL_MS`] after the previous CONNECT.

/// Longest wait before an attempt.
pub const MAX_DELAY_MS: u32 = 60_000;
/// How long a link must stay up after its CONNACK before a drop restarts the schedule.
pub const STABLE_LINK_MS: u64 = 60_000;
/// Shortest time between two CONNECT packets of one reconnect loop (`cloud.md` §2.5).
pub const MIN_CONNECT_INTERVAL_MS: u64 = 5_000;

/// Position in the reconnect schedule.
///
/// The delay is kept in tens of milliseconds in a `u16` (every delay of the schedule is a
/// multiple of 10 ms and at most [`MAX_DELAY_MS`]): the step takes 4 bytes, not 8, so a
/// session phase that holds it with a deadline takes 16 bytes, not 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    /// 1-based number of the attempt this delay precedes.
    pub attempt: u8,
    /// Wait before that attempt, in tens of milliseconds.
    delay_tens_ms: u16,
}

// The longest delay fits the `u16`, and so does its double, which `Backoff::next` refuses.
const _: () = assert!(2 * MAX_DELAY_MS / 10 <= u16::MAX as u32);

impl Backoff {
    /// The first step, from 32 random bits: `1000 + 10 · (random mod 100)` ms.
    pub fn first(random: u32) -> Self {
        Self {
            attempt: 1,
            // 100..=199: fits the `u16`.
            delay_tens_ms: 100 + (random % 100) as u16,
        }
    }

    /// The step after a failed attempt, or `None` when the module gives up.
    pub fn next(self) -> Option<Self> {
        let delay_tens_ms = self.delay_tens_ms.checked_mul(2)?;
        (u32::from(delay_tens_ms) * 10 <= MAX_DELAY_MS).then_some(Self {
            attempt: self.attempt + 1,
            delay_tens_ms,
        })
    }

    /// Wait before the attempt, in milliseconds.
    pub fn delay_ms(self) -> u32 {
        u32::from(self.delay_tens_ms) * 10
    }
}

/// What the schedule remembers across links: when the next CONNECT may leave, and since when
/// the current link is up with which step of the schedule it was reached.
///
/// Three plain fields (24 bytes) rather than an `Option<u64>` and an
/// `Option<(u64, Option<Backoff>)>` (40): before the first CONNECT the earliest time is 0,
/// which never delays an attempt; a link reached by the host's AT+TCMQTTCONN restarts the
/// schedule exactly like no link at all, and both are a step of attempt 0 (attempts count
/// from 1), so no `Option` tag pads the step to 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReconnectHistory {
    /// [`MIN_CONNECT_INTERVAL_MS`] after the last CONNECT; 0 before the first.
    next_connect_from: u64,
    /// CONNACK time of the current link.
    link_since: u64,
    /// The step that reached the current link; attempt 0 for the host's AT+TCMQTTCONN (the
    /// start of the schedule) and once the link dropped.
    link_step: Backoff,
}

/// The `link_step` of no step.
const NO_STEP: Backoff = Backoff {
    attempt: 0,
    delay_tens_ms: 0,
};

impl Default for ReconnectHistory {
    fn default() -> Self {
        ReconnectHistory {
            next_connect_from: 0,
            link_since: 0,
            link_step: NO_STEP,
        }
    }
}

impl ReconnectHistory {
    /// A CONNECT was written at `now`.
    pub(super) fn connect_sent(&mut self, now: u64) {
        self.next_connect_from = now + MIN_CONNECT_INTERVAL_MS;
    }

    /// A CONNACK accepted the link at `now`, reached with `step` (`None` for the first connect).
    pub(super) fn link_up(&mut self, now: u64, step: Option<Backoff>) {
        self.link_since = now;
        self.link_step = step.unwrap_or(NO_STEP);
    }

    /// The step after the usable link dropped at `now`: the first one (from `random`) when
    /// the link was stable or came from the host's connect, else the one after the step that
    /// reached it (`None`: give up).
    pub(super) fn step_after_drop(
        &mut self,
        now: u64,
        random: impl FnOnce() -> u32,
    ) -> Option<Backoff> {
        let step = core::mem::replace(&mut self.link_step, NO_STEP);
        if step != NO_STEP && now.saturating_sub(self.link_since) < STABLE_LINK_MS {
            step.next()
        } else {
            Some(Backoff::first(random()))
        }
    }

    /// When an attempt after waiting `step` from `now` may start.
    pub(super) fn attempt_time(&self, now: u64, step: Backoff) -> u64 {
        (now + u64::from(step.delay_ms())).max(self.next_connect_from)
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
        assert_eq!(Backoff::first(0).delay_ms(), 1000);
        assert_eq!(Backoff::first(99).delay_ms(), 1990);
        assert_eq!(Backoff::first(100).delay_ms(), 1000);
        assert_eq!(Backoff::first(57).delay_ms(), 1570);
    }

    #[test]
    fn schedule_gives_six_or_five_attempts_at_the_extremes() {
        assert_eq!(attempts(Backoff::first(0)), 6);
        assert_eq!(attempts(Backoff::first(99)), 5);
    }

    #[test]
    fn short_lived_link_continues_the_schedule_and_a_stable_one_restarts_it() {
        let mut history = ReconnectHistory::default();
        let third = Backoff {
            attempt: 3,
            delay_tens_ms: 400,
        };
        history.link_up(10_000, Some(third));
        assert_eq!(
            history.step_after_drop(10_000 + STABLE_LINK_MS - 1, || 0),
            Some(Backoff {
                attempt: 4,
                delay_tens_ms: 800,
            })
        );
        history.link_up(100_000, Some(third));
        assert_eq!(
            history.step_after_drop(100_000 + STABLE_LINK_MS, || 57),
            Some(Backoff::first(57))
        );
        let last = Backoff {
            attempt: 6,
            delay_tens_ms: 3200,
        };
        history.link_up(200_000, Some(last));
        assert_eq!(history.step_after_drop(200_001, || 0), None);
        // The host's own connect starts the schedule however short the link was.
        history.link_up(300_000, None);
        assert_eq!(
            history.step_after_drop(300_001, || 0),
            Some(Backoff::first(0))
        );
    }

    #[test]
    fn a_step_takes_four_bytes() {
        assert_eq!(core::mem::size_of::<Backoff>(), 4);
        assert_eq!(Backoff::first(99).next().map(Backoff::delay_ms), Some(3980));
        // A phase that holds a step and a deadline: two words, not three.
        assert_eq!(core::mem::size_of::<super::super::Phase>(), 16);
    }

    #[test]
    fn the_history_takes_three_words() {
        assert_eq!(core::mem::size_of::<ReconnectHistory>(), 24);
    }

    #[test]
    fn a_drop_without_a_new_link_restarts_the_schedule() {
        let mut history = ReconnectHistory::default();
        history.link_up(10_000, Some(Backoff::first(0)));
        assert_eq!(
            history
                .step_after_drop(10_001, || 0)
                .map(|step| step.attempt),
            Some(2)
        );
        assert_eq!(
            history.step_after_drop(10_002, || 7),
            Some(Backoff::first(7))
        );
    }

    #[test]
    fn attempt_waits_for_both_the_delay_and_5s_after_the_last_connect() {
        let mut history = ReconnectHistory::default();
        let step = Backoff::first(0);
        assert_eq!(history.attempt_time(1_000, step), 2_000);
        history.connect_sent(1_000);
        assert_eq!(history.attempt_time(1_200, step), 6_000);
        assert_eq!(history.attempt_time(9_000, step), 10_000);
    }
}
