//! Swarm testing (`z0sim swarm`): every draw is a valid scenario that the format writes and
//! reads back unchanged, the same seed draws the same scenario and replays the same run from
//! its written file, and without planted bugs no seed fails (documented weaknesses aside).

use std::num::NonZeroUsize;
use z0sim::sim::scenario::Target;
use z0sim::sim::swarm::{draw_scenario, run_swarm_seed, swarm, Verdict};
use z0sim::sim::sweep::SeedRange;
use z0sim::sim::{parse_scenario, run, RunOptions};

#[test]
fn every_draw_is_valid_and_the_format_writes_and_reads_it_back_unchanged() {
    for seed in 0..2_000 {
        let drawn = draw_scenario(seed);
        assert!(
            drawn.validate("draw").is_ok(),
            "seed {seed}: {:?}",
            drawn.validate("draw")
        );
        let written = drawn.to_toml();
        let read = parse_scenario(&written, "swarm.toml")
            .unwrap_or_else(|error| panic!("seed {seed}: {error}\n{written}"));
        assert_eq!(read, drawn, "seed {seed}");
        assert_eq!(draw_scenario(seed), drawn, "seed {seed} draws one scenario");
    }
}

#[test]
fn draws_cover_every_fault_kind_both_modes_both_transports_and_every_alarm_policy() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut modes = std::collections::BTreeSet::new();
    let mut transports = std::collections::BTreeSet::new();
    let mut policies = std::collections::BTreeSet::new();
    let mut most_faults = 0;
    let (mut sharded, mut shard_targets, mut herds, mut spread) = (0, 0, 0, 0);
    for seed in 0..500 {
        let drawn = draw_scenario(seed);
        sharded += usize::from(drawn.topology.system_shards > 1);
        shard_targets += drawn
            .faults
            .iter()
            .filter(|fault| matches!(fault.target, Some(Target::SystemShard(_))))
            .count();
        herds += usize::from(drawn.workload.start_spread_ms == 0);
        spread += usize::from(drawn.workload.start_spread_ms > drawn.duration_ms);
        kinds.extend(drawn.faults.iter().map(|fault| fault.kind.name()));
        modes.insert(format!("{:?}", drawn.topology.mode));
        transports.insert(format!("{:?}", drawn.network.transport));
        policies.insert(drawn.sdk.tenant_alarm_on_failure.as_str());
        most_faults = most_faults.max(drawn.faults.len());
    }
    assert_eq!(
        kinds.len(),
        z0sim::sim::scenario::faults::FAULT_KINDS.len(),
        "{kinds:?}"
    );
    assert_eq!((modes.len(), transports.len(), policies.len()), (2, 2, 3));
    assert_eq!(most_faults, z0sim::sim::swarm::draw::MAX_DRAWN_FAULTS);
    // Sharded SystemLedgers with faults on one shard; synchronized starts, and spreads longer
    // than the run.
    assert!(
        sharded > 50 && shard_targets > 10 && herds > 50 && spread > 10,
        "{sharded} {shard_targets} {herds} {spread}"
    );
}

#[test]
fn a_written_draw_replays_the_same_run() {
    for seed in [3, 17, 42] {
        let drawn = draw_scenario(seed);
        let read = parse_scenario(&drawn.to_toml(), "swarm.toml").expect("reads back");
        let options = RunOptions::default();
        let (first, again) = (
            run(&drawn, seed, &options).expect("runs"),
            run(&read, seed, &options).expect("runs"),
        );
        assert_eq!(first.trace_hash, again.trace_hash, "seed {seed}");
        assert_eq!(first.deterministic_json(), again.deterministic_json());
        let swarmed = run_swarm_seed(seed, None);
        assert_eq!(
            swarmed.verdict == Verdict::Passed,
            first.passed,
            "seed {seed}"
        );
    }
}

/// Soundness: without planted bugs, no swarm seed fails. A few hundred seeds here (fewer in a
/// debug build); `z0sim swarm --seeds 1..10000` sweeps more (README, "Swarm testing").
#[test]
fn without_planted_bugs_no_swarm_seed_fails() {
    let last = if cfg!(debug_assertions) { 40 } else { 300 };
    let seeds = SeedRange::new(1, last).expect("a range");
    let jobs = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let summary = swarm(seeds, jobs, None, None, &|_| {});
    let failed: Vec<String> = summary
        .seeds
        .iter()
        .filter(|seed| seed.verdict == Verdict::Failed)
        .map(|seed| format!("seed {}: {}", seed.seed, seed.failures.join("; ")))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(summary.count(&Verdict::Passed) > summary.count(&Verdict::Weakness));
}
