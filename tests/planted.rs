//! Every planted bug is caught by the invariant it names, on the scenario it names, within that
//! scenario's seeds: proof that those invariants can fail. Built only with
//! `--features planted-bugs` (`.ci/run` runs it).
#![cfg(feature = "planted-bugs")]

use std::path::Path;
use z0sim::planted::Plant;
use z0sim::runtime::Transport;
use z0sim::sim::{load_scenario, run, RunOptions};

fn caught_within_seeds(plant: Plant) -> Result<u64, String> {
    caught_within_seeds_on(plant, None)
}

/// The seed that catches `plant`, on its scenario's own transport or on `transport`.
fn caught_within_seeds_on(plant: Plant, transport: Option<Transport>) -> Result<u64, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(plant.scenario());
    let mut scenario = load_scenario(&path).map_err(|error| error.to_string())?;
    if let Some(transport) = transport {
        scenario.network.transport = transport;
    }
    let options = RunOptions {
        file: Some(format!("scenarios/{}", plant.scenario())),
        plant: Some(plant),
        ..RunOptions::default()
    };
    let mut missed = Vec::new();
    for seed in 1..=u64::from(scenario.seeds) {
        let report = run(&scenario, seed, &options).map_err(|error| error.to_string())?;
        let fired = report
            .invariants
            .iter()
            .any(|invariant| invariant.name == plant.invariant() && !invariant.passed);
        if fired {
            return Ok(seed);
        }
        missed.push(seed);
    }
    Err(format!(
        "{plant}: {} never fired on {} (seeds {missed:?}, transport {})",
        plant.invariant(),
        plant.scenario(),
        scenario.network.transport.name()
    ))
}

#[test]
fn every_planted_bug_is_caught_by_the_invariant_it_names() {
    let misses: Vec<String> = Plant::ALL
        .into_iter()
        .filter_map(|plant| caught_within_seeds(plant).err())
        .collect();
    assert!(misses.is_empty(), "{misses:#?}");
}

/// The direct transport takes nothing from the oracle: each plant is caught on it too.
#[test]
fn every_planted_bug_is_caught_on_the_direct_transport_too() {
    let misses: Vec<String> = Plant::ALL
        .into_iter()
        .filter_map(|plant| caught_within_seeds_on(plant, Some(Transport::Direct)).err())
        .collect();
    assert!(misses.is_empty(), "{misses:#?}");
}

#[test]
fn a_planted_bug_is_confined_to_its_own_run() {
    // The plant is per simulation thread: a clean run right after a planted one passes.
    assert!(caught_within_seeds(Plant::NoWarningOnDrop).is_ok());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/system-ledger-outage.toml");
    let scenario = load_scenario(&path).expect("bundled scenario loads");
    let report = run(&scenario, 1, &RunOptions::default()).expect("runs");
    assert!(report.passed, "{}", report.to_text());
}

#[test]
fn every_plant_names_a_bundled_scenario_and_a_distinct_name() {
    let mut names: Vec<&str> = Plant::ALL.iter().map(|plant| plant.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Plant::ALL.len());
    for plant in Plant::ALL {
        assert_eq!(Plant::parse(plant.name()), Some(plant));
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(plant.scenario());
        assert!(
            path.exists(),
            "{plant}: {} is not bundled",
            plant.scenario()
        );
    }
}

/// Swarm testing's power: every planted bug makes some swarm seed fail within 200 seeds, with
/// no hint of which bug is planted (README, "Swarm testing", has the catch rates).
#[test]
fn swarm_catches_every_planted_bug_within_200_seeds() {
    use z0sim::sim::swarm::{run_swarm_seed, Verdict};
    let missed: Vec<&str> = Plant::ALL
        .iter()
        .filter(|plant| {
            !(1..=200).any(|seed| run_swarm_seed(seed, Some(**plant)).verdict == Verdict::Failed)
        })
        .map(|plant| plant.name())
        .collect();
    assert!(
        missed.is_empty(),
        "not caught within 200 swarm seeds: {missed:?}"
    );
}

/// `z0sim shrink` on every planted bug, from the first seed that catches it: a scenario no
/// bigger that fails the same invariant, strictly smaller for most plants (README, "Shrinking",
/// has the numbers this prints with `--nocapture`).
#[test]
fn shrinking_every_planted_bug_keeps_its_invariant_failing_in_a_smaller_scenario() {
    use z0sim::sim::shrink::{shrink, ShrinkOptions, Size};
    let mut smaller = 0;
    for plant in Plant::ALL {
        let seed = caught_within_seeds(plant).unwrap_or_else(|message| panic!("{message}"));
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(plant.scenario());
        let scenario = load_scenario(&path).expect("the plant's scenario loads");
        let options = ShrinkOptions {
            seed,
            plant: Some(plant),
            invariant: Some(plant.invariant().to_owned()),
            extra_seeds: 3,
        };
        let shrunk = shrink(&scenario, &options, &mut |_| {}).expect("shrinking runs");
        let (before, after) = (shrunk.before, shrunk.after);
        println!("{plant}: {before} -> {after} ({} runs)", shrunk.runs);
        assert_eq!(after, Size::of(&shrunk.scenario));
        assert!(
            after.faults <= before.faults
                && after.entities <= before.entities
                && after.duration_ms <= before.duration_ms,
            "{plant}: {before} -> {after}"
        );
        if after != before {
            smaller += 1;
        }
        let options = RunOptions {
            plant: Some(plant),
            ..RunOptions::default()
        };
        let report = run(&shrunk.scenario, shrunk.seed, &options).expect("the run finishes");
        assert!(
            report
                .invariants
                .iter()
                .any(|check| check.name == plant.invariant() && !check.passed),
            "{plant}: the shrunk scenario no longer fails {}",
            plant.invariant()
        );
    }
    assert!(
        smaller * 10 >= Plant::ALL.len() * 9,
        "only {smaller} plants shrank"
    );
}

/// Breakers that never close again after the faults are counted apart from the recovery
/// times, and make any `[expect] recovery` bound fail.
#[test]
fn breakers_that_never_recover_fail_a_recovery_bound() {
    use z0sim::sim::scenario::Requirement;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/system-ledger-outage.toml");
    let mut scenario = load_scenario(&path).expect("the scenario loads");
    scenario.expect.checks.insert(
        "recovery".to_owned(),
        Requirement::Distribution {
            p50_max_ms: None,
            p99_max_ms: Some(3_600_000),
            max_max_ms: None,
        },
    );
    let options = RunOptions {
        plant: Some(Plant::ProbeSuccessReopens),
        ..RunOptions::default()
    };
    let report = run(&scenario, 1, &options).expect("the run finishes");
    assert!(report.end.breakers_unrecovered > 0);
    let recovery = report
        .invariants
        .iter()
        .find(|check| check.name == "expect.recovery")
        .expect("the bound is checked");
    assert!(
        !recovery.passed && recovery.detail.contains("never closed"),
        "{recovery:?}"
    );
}

#[test]
fn every_planted_bug_of_a_single_mode_scenario_is_caught_with_a_sharded_system_ledger() {
    use z0sim::sim::scenario::Mode;
    let mut judged = 0;
    for plant in Plant::ALL {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(plant.scenario());
        let mut scenario = load_scenario(&path).expect("the scenario loads");
        if scenario.topology.mode != Mode::Single {
            continue;
        }
        // Four tenants over four shards, the same number of entities.
        scenario.topology.entities_per_tenant = scenario.topology.entities_per_tenant.div_ceil(4);
        scenario.topology.tenants = 4;
        scenario.topology.system_shards = 4;
        let options = RunOptions {
            plant: Some(plant),
            ..RunOptions::default()
        };
        let caught = (1..=u64::from(scenario.seeds) * 2).any(|seed| {
            let report = run(&scenario, seed, &options).expect("the run finishes");
            report
                .invariants
                .iter()
                .any(|invariant| invariant.name == plant.invariant() && !invariant.passed)
        });
        assert!(caught, "{plant} escaped {} on 4 shards", plant.invariant());
        judged += 1;
    }
    assert!(judged >= 10, "{judged} single-mode plants");
}
