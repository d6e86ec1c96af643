//! `z0sim capacity`: the load a fleet puts on its ledgers, over a grid of fleet sizes and the
//! z0 page's three options for very high scale (longer stats intervals, sampling, a
//! SystemLedger sharded by tenant). Each point is one run of the file's scenario with the
//! point's settings; its report's `load` says how busy the busiest ledger was.
//!
//! Decisions:
//! - A point's fleet is spread over the file's tenants: `entities_per_tenant` is the point's
//!   entities divided by `topology.tenants`, rounded up (sharding needs tenants: a file with one
//!   tenant puts every entity on one shard).
//! - `start_spread` follows each point's stats interval (the default: a fleet in steady
//!   state), unless the file sets it to 0, the synchronized start, which is kept.
//! - The grid's lists default to the file's own value, so a file and `--entities` alone give
//!   one line.

use crate::sim::report::Report;
use crate::sim::run::{run, RunOptions};
use crate::sim::scenario::{Scenario, MAX_TOTAL_ENTITIES};
use crate::sim::workers::{run_jobs, SweepProgress};
use std::num::NonZeroUsize;

/// Cloudflare's documented soft limit for one Durable Object, requests per second.
pub const SOFT_LIMIT_PER_SEC: f64 = 1_000.0;

/// The grid: every combination of these.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityGrid {
    /// Fleet sizes (entity ledgers in total).
    pub entities: Vec<u64>,
    /// `sdk.stats_min_interval` values, ms.
    pub stats_intervals_ms: Vec<u64>,
    /// `sdk.sample_rate` values.
    pub sample_rates: Vec<f64>,
    /// `topology.system_shards` values.
    pub shards: Vec<u32>,
}

/// One point's settings and what its run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityPoint {
    /// Entity ledgers in total (tenants x entities per tenant).
    pub entities: u64,
    /// The stats interval, ms.
    pub stats_interval_ms: u64,
    /// The sample rate.
    pub sample_rate: f64,
    /// SystemLedger shards.
    pub shards: u32,
    /// The run's report (`None`: the simulation panicked, a bug).
    pub report: Option<Report>,
}

impl CapacityGrid {
    /// The points, entities varying fastest (one plotted line per other combination).
    pub fn points(&self) -> Vec<(u64, u64, f64, u32)> {
        let mut points = Vec::new();
        for &shards in &self.shards {
            for &sample_rate in &self.sample_rates {
                for &interval_ms in &self.stats_intervals_ms {
                    for &entities in &self.entities {
                        points.push((entities, interval_ms, sample_rate, shards));
                    }
                }
            }
        }
        points
    }

    /// Why this grid cannot run, if it cannot.
    pub fn problem(&self, base: &Scenario) -> Option<String> {
        if let Some(too_many) = self.entities.iter().find(|n| **n > MAX_TOTAL_ENTITIES) {
            return Some(format!(
                "--entities: {too_many} is more than the {MAX_TOTAL_ENTITIES} entity ledgers a run can hold"
            ));
        }
        if self.entities.contains(&0) {
            return Some("--entities: a fleet has at least 1 entity".to_owned());
        }
        if self.stats_intervals_ms.contains(&0) {
            return Some("--stats-intervals: an interval is longer than 0".to_owned());
        }
        if let Some(rate) = self
            .sample_rates
            .iter()
            .find(|rate| !(0.0..=1.0).contains(*rate))
        {
            return Some(format!("--sample-rates: {rate} is not in [0, 1]"));
        }
        if let Some(shards) = self
            .shards
            .iter()
            .find(|s| **s == 0 || **s > crate::sim::scenario::MAX_SYSTEM_SHARDS)
        {
            return Some(format!(
                "--shards: {shards} is not from 1 to {}",
                crate::sim::scenario::MAX_SYSTEM_SHARDS
            ));
        }
        let point = self.points().into_iter().next()?;
        scenario_at(base, point)
            .validate("capacity")
            .err()
            .map(|error| error.to_string())
    }
}

/// The file's scenario with one point's settings.
pub fn scenario_at(
    base: &Scenario,
    (entities, interval_ms, sample_rate, shards): (u64, u64, f64, u32),
) -> Scenario {
    let mut scenario = base.clone();
    scenario.topology.entities_per_tenant = per_tenant(base, entities);
    scenario.topology.system_shards = shards;
    scenario.sdk.stats_min_interval_ms = interval_ms;
    scenario.sdk.sample_rate = sample_rate;
    if scenario.workload.start_spread_ms > 0 {
        scenario.workload.start_spread_ms = interval_ms;
    }
    scenario.name = format!(
        "{} entities={entities} stats_interval={interval_ms}ms sample_rate={sample_rate} shards={shards}",
        base.name
    );
    scenario
}

/// Entities per tenant for a fleet of `entities` over `base`'s tenants (rounded up).
fn per_tenant(base: &Scenario, entities: u64) -> u32 {
    let tenants = u64::from(base.topology.tenants.max(1));
    entities.div_ceil(tenants).min(u64::from(u32::MAX)) as u32
}

/// Runs every point of `grid` on `base` with `seed`, on at most `jobs` workers.
pub fn capacity(
    base: &Scenario,
    grid: &CapacityGrid,
    seed: u64,
    jobs: NonZeroUsize,
    progress: &(dyn Fn(SweepProgress) + Sync),
) -> Vec<CapacityPoint> {
    let points = grid.points();
    let work = |job: usize| {
        let scenario = scenario_at(base, points[job]);
        run(&scenario, seed, &RunOptions::default()).ok()
    };
    let failed = |report: &Option<Report>| report.as_ref().is_none_or(|report| !report.passed);
    let (reports, _) = run_jobs(points.len(), jobs, &work, &failed, progress);
    points
        .iter()
        .zip(reports)
        .map(
            |(&(entities, stats_interval_ms, sample_rate, shards), report)| CapacityPoint {
                entities: u64::from(per_tenant(base, entities))
                    * u64::from(base.topology.tenants.max(1)),
                stats_interval_ms,
                sample_rate,
                shards,
                report: report.flatten(),
            },
        )
        .collect()
}
