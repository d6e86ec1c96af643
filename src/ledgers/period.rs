//! The interval rule shared by every SDK stats aggregator (cache_stats and fact_appended).
//!
//! The model (docs/model.md): "the operation that finds `now - period_start >= min_interval_ms` first closes the
//! period `[period_start, now)` and emits it, then counts itself in the new period starting at
//! `now`". An explicit flush closes the period at once.
//!
//! Decision (the z0 page and the model are silent on what an empty period that is closed becomes): it is
//! discarded and the next period starts at `now`, exactly like a non-empty one, so periods never
//! overlap and every counted operation lies in exactly one period. Emitted periods are therefore
//! contiguous except across spans in which nothing was counted (and across restarts).

use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};

/// Why a period was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// An operation found the interval expired.
    Interval,
    /// `flush_stats()` was called.
    ExplicitFlush,
    /// Tracking was disabled (which flushes first).
    Disable,
}

/// A period being counted: its start and the interval after which an operation closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodWindow {
    min_interval_ms: u64,
    period_start_ms: u64,
}

impl PeriodWindow {
    /// A window opened at `now_ms`.
    pub fn open(now_ms: u64, min_interval_ms: u64) -> Self {
        debug_assert!(
            min_interval_ms > 0,
            "a zero interval would close on every operation"
        );
        Self {
            min_interval_ms,
            period_start_ms: now_ms,
        }
    }

    /// Start of the current period, ms.
    pub fn period_start_ms(&self) -> u64 {
        self.period_start_ms
    }

    /// The interval, ms.
    pub fn min_interval_ms(&self) -> u64 {
        self.min_interval_ms
    }

    /// Changes the interval; the current period keeps its start.
    pub fn set_min_interval_ms(&mut self, min_interval_ms: u64) {
        debug_assert!(min_interval_ms > 0);
        self.min_interval_ms = min_interval_ms;
    }

    /// The earliest time at which an operation closes the current period, ms.
    pub fn due_at_ms(&self) -> u64 {
        self.period_start_ms.saturating_add(self.min_interval_ms)
    }

    /// Whether an operation at `now_ms` must first close the current period.
    pub fn is_due(&self, now_ms: u64) -> bool {
        let interval_ms = if planted::active(Plant::FlushIgnoresInterval) {
            self.min_interval_ms / 2
        } else {
            self.min_interval_ms
        };
        now_ms.saturating_sub(self.period_start_ms) >= interval_ms
    }

    /// Closes the current period at `now_ms` and opens the next one there. Returns
    /// `(period_start_ms, period_end_ms)` of the closed one.
    pub fn close(&mut self, now_ms: u64) -> (u64, u64) {
        debug_assert!(now_ms >= self.period_start_ms, "time went backwards");
        let closed = (self.period_start_ms, now_ms);
        self.period_start_ms = now_ms;
        closed
    }
}
