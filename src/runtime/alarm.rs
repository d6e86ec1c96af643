//! A Durable Object's one alarm and Cloudflare's retry rules for its handler, as a sans-IO state
//! machine: the world decides when a handler run fails and feeds the jitter; this decides when
//! the alarm fires next.
//!
//! Rules (Cloudflare's Durable Objects "Alarms" API page and workerd's alarm scheduler;
//! docs/model.md, "Alarms"):
//! - An actor has at most one alarm; setting it replaces the one set before.
//! - It fires at or after its time. Before the handler runs the alarm is cleared: the handler
//!   sets the next one if it wants one. Runs do not overlap: an alarm that comes due during a
//!   run fires after it.
//! - The handler sees `retryCount` (0 on a first run, n on the n-th retry) and `isRetry`.
//! - A failed handler run is retried after 2 s * 2^(n-1) (n = 1 for the first retry) plus up to
//!   25 % jitter, at most 6 times; after the sixth failed retry the alarm is deleted.
//! - A run still going after 15 minutes is cut off and counts as failed.
//! - A `setAlarm` made during a handler run replaces the pending retry: if that run fails, the
//!   alarm set during it stands and no retry is scheduled (Cloudflare's "catch the error and
//!   re-arm" advice relies on this).
//! - A successful run resets the retry count.
//! - The alarm is durable: it survives a restart of the actor. A run interrupted by the
//!   restart counts as failed.

use crate::ledgers::AlarmInvocation;
pub use crate::model::ALARM_MAX_RETRIES;

/// First alarm retry delay, doubled per retry, ms.
pub const ALARM_RETRY_BASE_MS: u64 = 2_000;
/// Largest jitter added to a retry delay, as a fraction of it.
pub const ALARM_RETRY_JITTER_RATIO: f64 = 0.25;
/// A handler run longer than this is cut off and counts as failed, ms (15 minutes).
pub const ALARM_HANDLER_WALL_LIMIT_MS: u64 = 15 * 60_000;

/// Delay before retry number `retry` (1-based) of a failed alarm handler: 2 s * 2^(retry - 1)
/// plus up to 25 % jitter (`jitter_unit` in [0, 1)). `None` past the last retry: the alarm is
/// deleted.
pub fn alarm_retry_delay_ms(retry: u32, jitter_unit: f64) -> Option<u64> {
    if retry == 0 || retry > ALARM_MAX_RETRIES {
        return None;
    }
    let base_ms = ALARM_RETRY_BASE_MS << (retry - 1);
    let jitter_ms = base_ms as f64 * ALARM_RETRY_JITTER_RATIO * jitter_unit.clamp(0.0, 1.0);
    Some(base_ms + jitter_ms as u64)
}

/// What became of a failed handler run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Retry number `retry` fires `delay_ms` later.
    Retry {
        /// 1 for the first retry.
        retry: u32,
        /// Its delay, ms.
        delay_ms: u64,
    },
    /// The sixth retry failed too: the alarm is gone.
    Deleted,
    /// An alarm was set during the run: that alarm stands, no retry.
    Replaced,
}

/// One actor's alarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alarm {
    at_ms: Option<u64>,
    retries: u32,
    /// When the handler run in progress started, ms.
    run_started_ms: Option<u64>,
    /// An alarm was set during the current run.
    set_during_run: bool,
}

impl Alarm {
    /// When it fires, if it is set.
    pub fn at_ms(&self) -> Option<u64> {
        self.at_ms
    }

    /// Failed runs retried so far in the current chain.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Whether a handler run is in progress.
    pub fn is_running(&self) -> bool {
        self.run_started_ms.is_some()
    }

    /// When the run in progress is cut off, ms.
    pub fn run_deadline_ms(&self) -> Option<u64> {
        self.run_started_ms
            .map(|started_ms| started_ms + ALARM_HANDLER_WALL_LIMIT_MS)
    }

    /// When the actor must next be woken for its alarm, ms: the run's cut-off while one is in
    /// progress (an alarm due meanwhile waits for the run), else the alarm.
    pub fn wake_ms(&self) -> Option<u64> {
        self.run_deadline_ms().or(self.at_ms)
    }

    /// `setAlarm`: replaces the alarm (and, during a handler run, its pending retry).
    pub fn set(&mut self, at_ms: u64) {
        self.at_ms = Some(at_ms);
        self.set_during_run |= self.is_running();
    }

    /// Whether it is set and due at `now_ms`, with no run in progress.
    pub fn is_due(&self, now_ms: u64) -> bool {
        !self.is_running() && self.at_ms.is_some_and(|at_ms| at_ms <= now_ms)
    }

    /// Whether the run in progress has passed its wall-time limit at `now_ms`.
    pub fn run_overdue(&self, now_ms: u64) -> bool {
        self.run_deadline_ms()
            .is_some_and(|deadline_ms| now_ms >= deadline_ms)
    }

    /// The handler starts at `now_ms`: the alarm is cleared; what the handler is told.
    pub fn begin_run(&mut self, now_ms: u64) -> AlarmInvocation {
        debug_assert!(self.at_ms.is_some(), "an alarm runs only when set");
        debug_assert!(!self.is_running(), "runs do not overlap");
        self.at_ms = None;
        self.run_started_ms = Some(now_ms);
        self.set_during_run = false;
        AlarmInvocation {
            retry_count: self.retries,
            is_retry: self.retries > 0,
        }
    }

    /// The handler returned at `now_ms`: a success, unless it ran past the wall-time limit
    /// (then it failed; `jitter_unit` in [0, 1) for its retry). `None`: it succeeded.
    pub fn run_succeeded(&mut self, now_ms: u64, jitter_unit: f64) -> Option<AfterFailure> {
        if self.run_overdue(now_ms) {
            return Some(self.run_failed(now_ms, jitter_unit));
        }
        self.retries = 0;
        self.run_started_ms = None;
        None
    }

    /// The handler failed (threw, was cut off, or died with its object) at `now_ms`: the alarm
    /// set during the run, or the retry (with `jitter_unit` in [0, 1)), or deletion.
    pub fn run_failed(&mut self, now_ms: u64, jitter_unit: f64) -> AfterFailure {
        debug_assert!(self.is_running(), "only a run in progress fails");
        self.run_started_ms = None;
        if self.set_during_run {
            self.retries = 0;
            return AfterFailure::Replaced;
        }
        self.retries += 1;
        match alarm_retry_delay_ms(self.retries, jitter_unit) {
            Some(delay_ms) => {
                self.at_ms = Some(now_ms + delay_ms);
                AfterFailure::Retry {
                    retry: self.retries,
                    delay_ms,
                }
            }
            None => {
                self.retries = 0;
                AfterFailure::Deleted
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_retries_back_off_from_two_seconds_with_at_most_a_quarter_of_jitter() {
        for retry in 1..=ALARM_MAX_RETRIES {
            let base_ms = 2_000u64 << (retry - 1);
            assert_eq!(alarm_retry_delay_ms(retry, 0.0), Some(base_ms));
            let jittered = alarm_retry_delay_ms(retry, 0.999).expect("within the retries");
            assert!(jittered > base_ms && jittered <= base_ms + base_ms / 4);
        }
    }

    #[test]
    fn an_alarm_is_deleted_after_its_sixth_retry() {
        assert_eq!(alarm_retry_delay_ms(ALARM_MAX_RETRIES + 1, 0.5), None);
        assert_eq!(alarm_retry_delay_ms(0, 0.5), None);
        let mut alarm = Alarm::default();
        alarm.set(1_000);
        let mut now_ms = 1_000;
        for retry in 1..=ALARM_MAX_RETRIES {
            assert!(alarm.is_due(now_ms));
            alarm.begin_run(0);
            let after = alarm.run_failed(now_ms, 0.0);
            let delay_ms = 2_000 << (retry - 1);
            assert_eq!(after, AfterFailure::Retry { retry, delay_ms });
            now_ms += delay_ms;
            assert_eq!(alarm.at_ms(), Some(now_ms));
        }
        alarm.begin_run(0);
        assert_eq!(alarm.run_failed(now_ms, 0.0), AfterFailure::Deleted);
        assert_eq!((alarm.at_ms(), alarm.retries()), (None, 0));
    }

    #[test]
    fn setting_an_alarm_replaces_the_one_before_and_it_fires_at_or_after_its_time() {
        let mut alarm = Alarm::default();
        assert!(!alarm.is_due(u64::MAX));
        alarm.set(5_000);
        alarm.set(3_000);
        assert_eq!(alarm.at_ms(), Some(3_000));
        assert!(!alarm.is_due(2_999));
        assert!(alarm.is_due(3_000) && alarm.is_due(4_000));
        alarm.begin_run(0);
        assert_eq!(alarm.at_ms(), None, "cleared while the handler runs");
    }

    #[test]
    fn an_alarm_set_during_a_failing_run_replaces_the_pending_retry() {
        let mut alarm = Alarm::default();
        alarm.set(1_000);
        alarm.begin_run(0);
        alarm.set(6_000);
        assert_eq!(alarm.run_failed(1_000, 0.5), AfterFailure::Replaced);
        assert_eq!((alarm.at_ms(), alarm.retries()), (Some(6_000), 0));
        alarm.begin_run(0);
        let retry = alarm.run_failed(6_000, 0.0);
        assert_eq!(
            retry,
            AfterFailure::Retry {
                retry: 1,
                delay_ms: 2_000
            },
            "a run that set nothing is retried"
        );
        alarm.set(9_000);
        alarm.begin_run(0);
        assert_eq!(alarm.run_succeeded(0, 0.0), None);
        alarm.set(10_000);
        alarm.begin_run(0);
        assert!(
            matches!(alarm.run_failed(10_000, 0.0), AfterFailure::Retry { .. }),
            "a set outside a run is no replacement"
        );
    }

    #[test]
    fn a_successful_run_starts_the_next_failure_chain_from_the_first_retry() {
        let mut alarm = Alarm::default();
        alarm.set(0);
        alarm.begin_run(0);
        alarm.run_failed(0, 0.0);
        alarm.begin_run(0);
        alarm.run_failed(2_000, 0.0);
        assert_eq!(alarm.retries(), 2);
        alarm.begin_run(0);
        assert_eq!(alarm.run_succeeded(0, 0.0), None);
        alarm.set(60_000);
        alarm.begin_run(0);
        assert_eq!(
            alarm.run_failed(60_000, 0.0),
            AfterFailure::Retry {
                retry: 1,
                delay_ms: 2_000
            }
        );
    }

    #[test]
    fn the_handler_sees_its_retry_count_and_whether_it_is_a_retry() {
        let mut alarm = Alarm::default();
        alarm.set(0);
        assert_eq!(
            alarm.begin_run(0),
            AlarmInvocation {
                retry_count: 0,
                is_retry: false
            }
        );
        alarm.run_failed(10, 0.0);
        alarm.begin_run(2_010);
        alarm.run_failed(2_020, 0.0);
        assert_eq!(
            alarm.begin_run(6_020),
            AlarmInvocation {
                retry_count: 2,
                is_retry: true
            }
        );
        assert_eq!(alarm.run_succeeded(6_030, 0.0), None);
        alarm.set(60_000);
        assert_eq!(
            alarm.begin_run(60_000).retry_count,
            0,
            "a success ends the chain"
        );
    }

    #[test]
    fn a_run_past_fifteen_minutes_counts_as_failed() {
        let mut alarm = Alarm::default();
        alarm.set(1_000);
        alarm.begin_run(1_000);
        assert_eq!(
            alarm.run_deadline_ms(),
            Some(1_000 + ALARM_HANDLER_WALL_LIMIT_MS)
        );
        assert_eq!(
            alarm.wake_ms(),
            alarm.run_deadline_ms(),
            "woken to cut it off"
        );
        assert!(!alarm.run_overdue(1_000 + ALARM_HANDLER_WALL_LIMIT_MS - 1));
        assert!(alarm.run_overdue(1_000 + ALARM_HANDLER_WALL_LIMIT_MS));
        let late = alarm.run_succeeded(1_000 + ALARM_HANDLER_WALL_LIMIT_MS, 0.0);
        assert_eq!(
            late,
            Some(AfterFailure::Retry {
                retry: 1,
                delay_ms: 2_000
            }),
            "returning after the limit is a failure"
        );
    }

    #[test]
    fn an_alarm_due_during_a_run_waits_for_the_run_to_end() {
        let mut alarm = Alarm::default();
        alarm.set(1_000);
        alarm.begin_run(1_000);
        alarm.set(1_500);
        assert!(!alarm.is_due(2_000), "no overlapping runs");
        assert_eq!(alarm.run_succeeded(3_000, 0.0), None);
        assert!(alarm.is_due(3_000));
        assert_eq!(alarm.wake_ms(), Some(1_500), "due at once after the run");
    }
}
