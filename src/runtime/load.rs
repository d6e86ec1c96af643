//! The load on each ledger that receives requests (SystemLedgers and their shards, tenant
//! ledgers, the platform): requests arriving per simulated second, refused ones included, and
//! the deepest its request queue got. Cloudflare documents a soft limit of about 1,000
//! requests per second per Durable Object; `z0sim capacity` plots the busiest object's load
//! against it.

use crate::runtime::spec::ActorIdx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Requests per second per receiver.
#[derive(Clone, Debug, Default)]
pub struct LoadMeter {
    receivers: BTreeMap<ActorIdx, ReceiverLoad>,
}

#[derive(Clone, Debug, Default)]
struct ReceiverLoad {
    /// Requests that arrived in each second of the run, from second 0.
    per_second: Vec<u32>,
    /// The most requests queued at once (the one in service included).
    peak_queued: u32,
}

/// The busiest receiver's load in a run (the report's `load`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// Receivers metered.
    pub receivers: u64,
    /// The busiest one (the highest peak second; on a tie the most requests).
    pub busiest: String,
    /// Its requests per second over the run.
    pub mean_per_sec: f64,
    /// Its busiest second's requests.
    pub peak_per_sec: u64,
    /// The most requests queued at once at any receiver.
    pub peak_queued: u64,
}

impl LoadMeter {
    /// A request arrived at receiver `idx` at `now_ms`; `queued`: requests queued there once
    /// it was admitted (`None`: refused).
    pub fn arrived(&mut self, idx: ActorIdx, now_ms: u64, queued: Option<usize>) {
        let receiver = self.receivers.entry(idx).or_default();
        let second = (now_ms / 1_000) as usize;
        if receiver.per_second.len() <= second {
            receiver.per_second.resize(second + 1, 0);
        }
        receiver.per_second[second] = receiver.per_second[second].saturating_add(1);
        if let Some(queued) = queued {
            receiver.peak_queued = receiver.peak_queued.max(queued as u32);
        }
    }

    /// The summary of a run of `duration_ms`, receivers named by `name`; `None` when no
    /// request arrived anywhere.
    pub fn summary(
        &self,
        duration_ms: u64,
        name: impl Fn(ActorIdx) -> String,
    ) -> Option<LoadSummary> {
        let (idx, peak, total) = self
            .receivers
            .iter()
            .map(|(idx, load)| {
                let peak = load.per_second.iter().max().copied().unwrap_or(0);
                let total: u64 = load.per_second.iter().map(|count| u64::from(*count)).sum();
                (*idx, peak, total)
            })
            // The lowest index wins a complete tie (max_by_key keeps the last maximum).
            .max_by_key(|(idx, peak, total)| (*peak, *total, std::cmp::Reverse(*idx)))?;
        let seconds = (duration_ms as f64 / 1_000.0).max(1.0);
        Some(LoadSummary {
            receivers: self.receivers.len() as u64,
            busiest: name(idx),
            mean_per_sec: (total as f64 / seconds * 100.0).round() / 100.0,
            peak_per_sec: u64::from(peak),
            peak_queued: self
                .receivers
                .values()
                .map(|load| u64::from(load.peak_queued))
                .max()
                .unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_receiver_is_the_one_with_the_highest_peak_second() {
        let mut meter = LoadMeter::default();
        assert_eq!(meter.summary(10_000, |idx| idx.to_string()), None);
        for at_ms in (0..10_000).step_by(100) {
            meter.arrived(1, at_ms, Some(1));
        }
        for _ in 0..30 {
            meter.arrived(2, 4_500, Some(3));
        }
        meter.arrived(2, 9_999, None);
        let summary = meter
            .summary(10_000, |idx| format!("r{idx}"))
            .expect("load");
        assert_eq!(summary.busiest, "r2");
        assert_eq!(summary.peak_per_sec, 30);
        assert_eq!(summary.mean_per_sec, 3.1);
        assert_eq!(summary.peak_queued, 3);
        assert_eq!(summary.receivers, 2);
    }
}
