//! The bundled scenario files (`scenarios/*.toml`), run end to end.
//!
//! - Every file passes over its own `seeds` (seeds `1..=seeds`). `Z0SIM_SEEDS=N` runs N seeds of
//!   every file instead, `Z0SIM_SEED=S` starts at seed S (default 1). A failure names the exact
//!   command that reproduces each failing seed and the checks that failed.
//! - `bench-fleet.toml` (1,000 entities for a simulated hour, seconds of wall time per seed) is
//!   too slow for `cargo test` and is skipped unless `Z0SIM_BENCH=1`. It is never part of the
//!   determinism and snapshot tests.
//! - Determinism: seed 1 twice gives byte-identical `deterministic_json()`; seeds 1 and 2 give
//!   different trace hashes (the seed reaches the run).
//! - Snapshots (insta): `deterministic_json()` of seed 1 of every file is pinned in
//!   `snapshots/<file stem>.snap`. After an intended change of behaviour, regenerate them with
//!   `INSTA_UPDATE=always cargo test --release --test scenarios` and review the diff; with
//!   `CI=true` a mismatch fails instead of writing.

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use z0sim::runtime::Transport;
use z0sim::sim::sweep::{sweep, SeedRange, SweepFile};
use z0sim::sim::{load_scenario, run, Report, RunOptions, Scenario};

/// Too slow for `cargo test` (seconds of wall time per seed): only with `Z0SIM_BENCH=1`.
const BENCH_FILE: &str = "bench-fleet.toml";

/// A scenario file: its file name and the path repro commands use (relative to the crate root,
/// where `cargo run` is started).
struct ScenarioFile {
    file_name: String,
    relative_path: String,
    scenario: Scenario,
}

/// Every `scenarios/*.toml`, sorted by file name; `bench-fleet.toml` only when `include_bench`.
fn scenario_files(include_bench: bool) -> Vec<ScenarioFile> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .filter(|name| include_bench || name != BENCH_FILE)
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no scenario files in {}", dir.display());
    names
        .into_iter()
        .map(|file_name| {
            let scenario =
                load_scenario(&dir.join(&file_name)).unwrap_or_else(|error| panic!("{error}"));
            ScenarioFile {
                relative_path: format!("scenarios/{file_name}"),
                file_name,
                scenario,
            }
        })
        .collect()
}

/// A whole number from the environment, if set.
fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse::<u64>() {
        Ok(number) => Some(number),
        Err(_) => panic!("{name}={value:?}: expected a whole number"),
    }
}

fn run_seed(file: &ScenarioFile, seed: u64) -> Report {
    let options = RunOptions {
        file: Some(format!(
            "{}/{}",
            env!("CARGO_MANIFEST_DIR"),
            file.relative_path
        )),
        ..RunOptions::default()
    };
    run(&file.scenario, seed, &options).unwrap_or_else(|error| {
        panic!(
            "{} seed {seed}: {error}\nreproduce with: {}",
            file.relative_path,
            z0sim::sim::run::repro_command(&options, seed)
        )
    })
}

#[test]
fn every_scenario_passes_its_seeds() {
    let include_bench = std::env::var("Z0SIM_BENCH").is_ok_and(|value| value == "1");
    let first = env_u64("Z0SIM_SEED").unwrap_or(1);
    let count = env_u64("Z0SIM_SEEDS");
    assert_ne!(count, Some(0), "Z0SIM_SEEDS must be at least 1");
    let files: Vec<SweepFile> = scenario_files(include_bench)
        .into_iter()
        .map(|file| {
            let count = count.unwrap_or(u64::from(file.scenario.seeds));
            let last = first
                .checked_add(count - 1)
                .unwrap_or_else(|| panic!("Z0SIM_SEED + Z0SIM_SEEDS overflows"));
            SweepFile::new(
                file.relative_path,
                file.scenario,
                SeedRange::new(first, last),
            )
        })
        .collect();
    let jobs = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let summary = sweep(&files, jobs, None, &|_| {});
    let mut failures = Vec::new();
    for file in &summary.files {
        for result in file.failures() {
            failures.push(format!(
                "{} ({}) seed {} FAILED:\n    {}\n  reproduce with: {}",
                file.path,
                file.scenario,
                result.seed,
                result.failures.join("\n    "),
                result.repro
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} runs failed:\n{}",
        failures.len(),
        summary.runs(),
        failures.join("\n")
    );
    assert!(summary.runs() > 0, "no seed was run");
}

/// The `direct` transport keeps every promise the default one does: each scenario passes (every
/// invariant holds, every expectation is reached) on it too, for its first two seeds.
#[test]
fn every_scenario_passes_on_the_direct_transport_too() {
    let files: Vec<SweepFile> = scenario_files(false)
        .into_iter()
        .filter(|file| file.scenario.network.transport != Transport::Direct)
        .map(|file| {
            let mut scenario = file.scenario;
            scenario.network.transport = Transport::Direct;
            SweepFile::new(
                format!("{} (direct)", file.relative_path),
                scenario,
                SeedRange::new(1, 2),
            )
        })
        .collect();
    assert!(!files.is_empty());
    let jobs = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
    let summary = sweep(&files, jobs, None, &|_| {});
    let failures: Vec<String> = summary
        .files
        .iter()
        .flat_map(|file| {
            file.failures().map(|result| {
                format!(
                    "{} seed {}: {}",
                    file.path,
                    result.seed,
                    result.failures.join("; ")
                )
            })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(summary.runs(), 2 * files.len() as u64);
}

#[test]
fn a_seed_gives_the_same_report_every_time_and_another_seed_a_different_trace() {
    for file in scenario_files(false) {
        let first = run_seed(&file, 1);
        let again = run_seed(&file, 1);
        assert_eq!(
            first.deterministic_json(),
            again.deterministic_json(),
            "{}: seed 1 gave two different reports",
            file.relative_path
        );
        let other = run_seed(&file, 2);
        assert_ne!(
            first.trace_hash, other.trace_hash,
            "{}: seeds 1 and 2 gave the same trace hash",
            file.relative_path
        );
    }
}

#[test]
fn the_report_of_seed_1_of_every_scenario_matches_its_snapshot() {
    let mut mismatches = Vec::new();
    for file in scenario_files(false) {
        let name = file.file_name.trim_end_matches(".toml").to_owned();
        let json = run_seed(&file, 1).deterministic_json();
        // insta panics on a mismatch (after writing `.snap.new` outside CI): check every file
        // before failing, so that one change shows all the snapshots it moved.
        let checked = catch_unwind(AssertUnwindSafe(|| {
            insta::with_settings!({
                snapshot_path => "../snapshots",
                prepend_module_to_snapshot => false
            }, {
                insta::assert_snapshot!(name.as_str(), json);
            });
        }));
        if checked.is_err() {
            mismatches.push(file.relative_path);
        }
    }
    assert!(
        mismatches.is_empty(),
        "the report of seed 1 no longer matches snapshots/ for: {}\n\
         if the change is intended: INSTA_UPDATE=always cargo test --release --test scenarios, \
         then review the diff of snapshots/",
        mismatches.join(", ")
    );
}

/// An `evict` fault restarts the picked entities: they come back, hydrate and emit again.
/// (Found broken while writing `scenarios/evictions.toml`: madsim's `restart` alone does not
/// reset a node's network state, so the new incarnation could not bind its address.)
#[test]
fn evicted_entities_restart_and_hydrate() {
    let file = scenario_files(false)
        .into_iter()
        .find(|file| file.file_name == "evictions.toml")
        .expect("scenarios/evictions.toml exists");
    let report = run_seed(&file, 1);
    assert!(
        report.counters.restarts > 0,
        "{}: entities were evicted but none restarted (counters: {:?})",
        file.relative_path,
        report.counters
    );
}
