//! The `fact_appended` aggregator: counts domain facts appended per period, by the same interval
//! rule as cache stats ([`crate::ledgers::period`]), so that appends never cause one SDK fact each
//! (the write amplification the z0 page warns against).

use crate::ledgers::period::{CloseReason, PeriodWindow};
use serde::{Deserialize, Serialize};

/// A closed appended-facts period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendedPeriod {
    /// Start (inclusive), ms.
    pub period_start_ms: u64,
    /// End (exclusive), ms.
    pub period_end_ms: u64,
    /// Domain facts appended in it.
    pub count: u64,
    /// Sequence number of the last one.
    pub last_seq: u64,
    /// What closed it.
    pub closed_by: CloseReason,
}

/// Counts appends in interval-bounded periods. In memory only, like cache stats.
#[derive(Clone, Copy, Debug)]
pub struct AppendedCounter {
    window: PeriodWindow,
    count: u64,
    last_seq: u64,
}

impl AppendedCounter {
    /// A counter whose first period starts at `now_ms`.
    pub fn new(now_ms: u64, min_interval_ms: u64) -> Self {
        Self {
            window: PeriodWindow::open(now_ms, min_interval_ms),
            count: 0,
            last_seq: 0,
        }
    }

    /// Records the append of the fact with sequence `seq` at `now_ms`; returns the period it
    /// closed first, if the interval had expired and the period was not empty.
    pub fn record(&mut self, now_ms: u64, seq: u64) -> Option<AppendedPeriod> {
        let closed = if self.window.is_due(now_ms) {
            self.close(now_ms, CloseReason::Interval)
        } else {
            None
        };
        self.count += 1;
        self.last_seq = seq;
        closed
    }

    /// Closes the current period at `now_ms`.
    pub fn close(&mut self, now_ms: u64, closed_by: CloseReason) -> Option<AppendedPeriod> {
        let (period_start_ms, period_end_ms) = self.window.close(now_ms);
        let count = std::mem::take(&mut self.count);
        (count > 0).then_some(AppendedPeriod {
            period_start_ms,
            period_end_ms,
            count,
            last_seq: self.last_seq,
            closed_by,
        })
    }

    /// The earliest time an append closes the open period, ms.
    pub fn due_at_ms(&self) -> u64 {
        self.window.due_at_ms()
    }

    /// Appends counted in the open period.
    pub fn open_count(&self) -> u64 {
        self.count
    }
}
