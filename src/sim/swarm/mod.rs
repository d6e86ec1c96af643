//! `z0sim swarm`: swarm testing (TigerBeetle's VOPR). Each seed draws a whole scenario
//! ([`draw::draw_scenario`]) and runs it with that seed; the oracle judges it. A failing seed's
//! scenario is kept, to be written out as a file that `z0sim run` replays exactly.
//!
//! Verdicts: a run passes; or it shows a documented weakness of the z0 design ([`WEAKNESSES`]:
//! every failing invariant fails for one of the causes `docs/model.md` names in its
//! "Findings"); or it fails. Only failures fail the swarm.

pub mod draw;
mod text;

pub use draw::draw_scenario;
pub use text::replay_command;

use crate::planted::Plant;
use crate::sim::report::Report;
use crate::sim::run::RunOptions;
use crate::sim::scenario::Scenario;
use crate::sim::shard::Shard;
use crate::sim::sweep::{run_seed, SeedRange};
use crate::sim::workers::{run_jobs, SweepProgress};
use std::num::NonZeroUsize;
use std::time::Instant;

/// Weaknesses of the z0 design that the oracle rightly reports (docs/model.md, "Findings"):
/// an invariant, and the words of its detail that name the documented cause.
pub const WEAKNESSES: &[(&str, &str)] = &[
    // Cloudflare deletes what used up its retries when no dead-letter queue is configured.
    ("tenant_payloads_conserved", "the queue deleted its payload"),
    // A dead-letter queue that nothing replays keeps what it holds from the platform.
    ("tenant_payloads_conserved", "dead-lettered by the queue"),
    ("tenant_payloads_conserved", "expired in the queue"),
    // An alarm deleted after its sixth failed retry strands pending work until the next input.
    ("tenant_payloads_conserved", "its alarm was deleted"),
    ("tenant_flush_cadence", "its alarm was deleted"),
];

/// How one swarm seed went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every invariant held (or was skipped).
    Passed,
    /// Only documented weaknesses failed.
    Weakness,
    /// Something else failed, or the run panicked.
    Failed,
}

/// One swarm seed's outcome.
#[derive(Clone, Debug)]
pub struct SwarmSeed {
    /// The seed (it drew the scenario and seeded the run).
    pub seed: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// The failing checks (`name: detail`), or the panic message.
    pub failures: Vec<String>,
    /// The scenario drawn (kept for weaknesses and failures only).
    pub scenario: Option<Scenario>,
}

/// A swarm's outcome, seeds in ascending order.
#[derive(Clone, Debug)]
pub struct SwarmSummary {
    /// The shard run, if only one was.
    pub shard: Option<Shard>,
    /// Every seed.
    pub seeds: Vec<SwarmSeed>,
    /// Workers used.
    pub jobs: usize,
    /// Wall time, ms.
    pub wall_ms: u64,
}

impl SwarmSummary {
    /// Seeds with this verdict.
    pub fn count(&self, verdict: &Verdict) -> u64 {
        self.seeds
            .iter()
            .filter(|seed| &seed.verdict == verdict)
            .count() as u64
    }

    /// No seed failed.
    pub fn passed(&self) -> bool {
        self.count(&Verdict::Failed) == 0
    }
}

/// The verdict on a run's report: passed, a documented weakness, or failed.
pub fn classify(report: &Report) -> Verdict {
    if report.passed {
        return Verdict::Passed;
    }
    let documented = report
        .invariants
        .iter()
        .filter(|invariant| !invariant.passed)
        .all(|invariant| {
            WEAKNESSES
                .iter()
                .any(|(name, cause)| invariant.name == *name && invariant.detail.contains(cause))
        });
    if documented {
        Verdict::Weakness
    } else {
        Verdict::Failed
    }
}

/// Runs swarm seeds `seeds` on `jobs` workers (each with `plant`, if any).
pub fn swarm(
    seeds: SeedRange,
    jobs: NonZeroUsize,
    plant: Option<Plant>,
    shard: Option<Shard>,
    progress: &(dyn Fn(SweepProgress) + Sync),
) -> SwarmSummary {
    let started = Instant::now();
    let chosen: Vec<u64> = seeds
        .seeds()
        .enumerate()
        .filter(|(position, _)| shard.is_none_or(|shard| shard.contains(*position as u64)))
        .map(|(_, seed)| seed)
        .collect();
    let work = |job: usize| run_swarm_seed(chosen[job], plant);
    let failed = |seed: &SwarmSeed| seed.verdict == Verdict::Failed;
    let (results, workers) = run_jobs(chosen.len(), jobs, &work, &failed, progress);
    let seeds = results
        .into_iter()
        .zip(chosen.iter().copied())
        .map(|(result, seed)| {
            result.unwrap_or_else(|| SwarmSeed {
                seed,
                verdict: Verdict::Failed,
                failures: vec!["the worker running this seed stopped".to_owned()],
                scenario: Some(draw_scenario(seed)),
            })
        })
        .collect();
    SwarmSummary {
        shard,
        seeds,
        jobs: workers,
        wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Draws seed `seed`'s scenario and runs it.
pub fn run_swarm_seed(seed: u64, plant: Option<Plant>) -> SwarmSeed {
    let scenario = draw_scenario(seed);
    let options = RunOptions {
        file: Some(format!("swarm-{seed}.toml")),
        plant,
        ..RunOptions::default()
    };
    let result = run_seed(&scenario, seed, &options);
    let verdict = result.report.as_ref().map_or(Verdict::Failed, classify);
    SwarmSeed {
        seed,
        scenario: (verdict != Verdict::Passed).then_some(scenario),
        verdict,
        failures: result.failures,
    }
}
