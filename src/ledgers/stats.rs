//! `CachedStateManager`: counts cache hits and misses and closes stats periods by the interval
//! rule (see [`crate::ledgers::period`]).
//!
//! The z0 API takes a callback (`enableStatsTracking(callback, { min_interval_ms })`); here the
//! closed period is returned instead, and the EntityLedger turns it into a `cache_stats` fact.
//! Counters live in memory only: a restart builds a new manager and the open period is lost,
//! which [`CachedStateManager::open_period`] lets the runtime account for.

use crate::ledgers::period::{CloseReason, PeriodWindow};
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};

/// A closed stats period, ready to be emitted as `cache_stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsPeriod {
    /// Start (inclusive), ms.
    pub period_start_ms: u64,
    /// End (exclusive), ms.
    pub period_end_ms: u64,
    /// Hits counted in it.
    pub hits: u64,
    /// Misses counted in it.
    pub misses: u64,
    /// What closed it.
    pub closed_by: CloseReason,
}

/// The open period's counts (what a restart would lose).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenCounts {
    /// Start of the open period, ms.
    pub period_start_ms: u64,
    /// Hits so far.
    pub hits: u64,
    /// Misses so far.
    pub misses: u64,
}

#[derive(Clone, Copy, Debug)]
struct Tracking {
    window: PeriodWindow,
    hits: u64,
    misses: u64,
}

impl Tracking {
    /// Closes the window; the period is returned only if it counted something (a period is
    /// never emitted empty).
    fn close(&mut self, now_ms: u64, closed_by: CloseReason) -> Option<StatsPeriod> {
        let (period_start_ms, period_end_ms) = self.window.close(now_ms);
        let period = StatsPeriod {
            period_start_ms,
            period_end_ms,
            hits: std::mem::take(&mut self.hits),
            misses: std::mem::take(&mut self.misses),
            closed_by,
        };
        (period.hits + period.misses > 0).then_some(period)
    }
}

/// Cache hit/miss accounting with interval-based stats periods.
#[derive(Clone, Debug, Default)]
pub struct CachedStateManager {
    tracking: Option<Tracking>,
    last_now_ms: u64,
}

impl CachedStateManager {
    /// A manager with stats tracking off.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether stats tracking is on.
    pub fn is_tracking(&self) -> bool {
        self.tracking.is_some()
    }

    /// Turns stats tracking on with `min_interval_ms`; the first period starts at `now_ms`.
    /// Enabling it again only changes the interval: the open period keeps its start and counts.
    pub fn enable_stats_tracking(&mut self, now_ms: u64, min_interval_ms: u64) {
        self.observe(now_ms);
        match &mut self.tracking {
            Some(tracking) => tracking.window.set_min_interval_ms(min_interval_ms),
            None => {
                self.tracking = Some(Tracking {
                    window: PeriodWindow::open(now_ms, min_interval_ms),
                    hits: 0,
                    misses: 0,
                })
            }
        }
    }

    /// One cache get at `now_ms`, a hit or a miss. If the interval has expired, the current
    /// period is closed first and returned; this get then counts in the new period.
    pub fn cache_get(&mut self, now_ms: u64, hit: bool) -> Option<StatsPeriod> {
        self.observe(now_ms);
        let tracking = self.tracking.as_mut()?;
        // The planted mistake: only a hit looks at the interval, so a period found due by a
        // miss stays open until the next hit.
        let looks = hit || !planted::active(Plant::ClosesOnlyOnHits);
        let mut closed = if looks && tracking.window.is_due(now_ms) {
            tracking.close(now_ms, CloseReason::Interval)
        } else {
            None
        };
        if let Some(period) = closed
            .as_mut()
            .filter(|_| planted::active(Plant::ClosingGetCountedTwice))
        {
            if hit {
                period.hits += 1;
            } else {
                period.misses += 1;
            }
        }
        if hit {
            tracking.hits += 1;
        } else {
            tracking.misses += 1;
        }
        closed
    }

    /// `flushStats()`: closes the current period at once, whatever its length.
    pub fn flush_stats(&mut self, now_ms: u64) -> Option<StatsPeriod> {
        self.observe(now_ms);
        self.tracking
            .as_mut()?
            .close(now_ms, CloseReason::ExplicitFlush)
    }

    /// Turns tracking off, flushing the open period first.
    pub fn disable_stats_tracking(&mut self, now_ms: u64) -> Option<StatsPeriod> {
        self.observe(now_ms);
        let closed = self.tracking.as_mut()?.close(now_ms, CloseReason::Disable);
        self.tracking = None;
        closed
    }

    /// The open period's counts, if tracking is on.
    pub fn open_period(&self) -> Option<OpenCounts> {
        self.tracking.as_ref().map(|tracking| OpenCounts {
            period_start_ms: tracking.window.period_start_ms(),
            hits: tracking.hits,
            misses: tracking.misses,
        })
    }

    /// The earliest time a cache get closes the open period (tracking on), ms.
    pub fn period_due_at_ms(&self) -> Option<u64> {
        self.tracking
            .as_ref()
            .map(|tracking| tracking.window.due_at_ms())
    }

    fn observe(&mut self, now_ms: u64) {
        debug_assert!(
            now_ms >= self.last_now_ms,
            "time went backwards: {now_ms} < {}",
            self.last_now_ms
        );
        self.last_now_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_counted_while_tracking_is_off() {
        let mut manager = CachedStateManager::new();
        assert_eq!(manager.cache_get(0, true), None);
        assert_eq!(manager.flush_stats(1), None);
        assert_eq!(manager.open_period(), None);
    }

    #[test]
    fn the_operation_that_finds_the_interval_expired_closes_the_period_and_counts_in_the_next() {
        let mut manager = CachedStateManager::new();
        manager.enable_stats_tracking(1_000, 60_000);
        assert_eq!(manager.cache_get(1_000, true), None);
        assert_eq!(
            manager.cache_get(60_999, false),
            None,
            "59 999 ms is not yet the interval"
        );
        let closed = manager
            .cache_get(61_000, true)
            .expect("exactly the interval closes");
        assert_eq!(
            closed,
            StatsPeriod {
                period_start_ms: 1_000,
                period_end_ms: 61_000,
                hits: 1,
                misses: 1,
                closed_by: CloseReason::Interval
            }
        );
        assert_eq!(
            manager.open_period(),
            Some(OpenCounts {
                period_start_ms: 61_000,
                hits: 1,
                misses: 0
            })
        );
    }

    #[test]
    fn no_traffic_means_no_flush_and_empty_periods_are_never_emitted() {
        let mut manager = CachedStateManager::new();
        manager.enable_stats_tracking(0, 10);
        assert_eq!(
            manager.cache_get(1_000_000, true),
            None,
            "the expired period was empty"
        );
        assert_eq!(
            manager.open_period().map(|open| open.period_start_ms),
            Some(1_000_000)
        );
        assert_eq!(manager.flush_stats(1_000_001).map(|p| p.hits), Some(1));
        assert_eq!(manager.flush_stats(1_000_002), None);
    }

    #[test]
    fn flush_stats_closes_a_short_period_at_once() {
        let mut manager = CachedStateManager::new();
        manager.enable_stats_tracking(0, 60_000);
        manager.cache_get(5, false);
        let closed = manager.flush_stats(7).expect("flushes");
        assert_eq!(
            (closed.period_start_ms, closed.period_end_ms, closed.misses),
            (0, 7, 1)
        );
        assert_eq!(closed.closed_by, CloseReason::ExplicitFlush);
    }

    #[test]
    fn disabling_tracking_flushes_first() {
        let mut manager = CachedStateManager::new();
        manager.enable_stats_tracking(0, 60_000);
        manager.cache_get(3, true);
        let closed = manager
            .disable_stats_tracking(4)
            .expect("flushes on disable");
        assert_eq!(closed.closed_by, CloseReason::Disable);
        assert!(!manager.is_tracking());
        assert_eq!(manager.cache_get(5, true), None);
    }

    #[test]
    fn enabling_again_changes_the_interval_and_keeps_the_open_period() {
        let mut manager = CachedStateManager::new();
        manager.enable_stats_tracking(0, 60_000);
        manager.cache_get(1, true);
        manager.enable_stats_tracking(2, 10);
        let closed = manager.cache_get(10, true).expect("new interval applies");
        assert_eq!((closed.period_start_ms, closed.hits), (0, 1));
    }
}
