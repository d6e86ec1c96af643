//! Fingerprints of the bundled scenarios: for every `scenarios/*.toml`, on both transports and
//! over a few seeds, the trace hash and a digest of the whole deterministic report (wall-clock
//! fields left out). With the `planted-bugs` feature, the same for every planted bug on the
//! scenario that exposes it.
//!
//! A refactor must not change behaviour; determinism makes that checkable. Print the
//! fingerprints before and after the change and compare them:
//!
//! ```sh
//! cargo run --release --example fingerprints > before.txt
//! # ... change the code ...
//! cargo run --release --example fingerprints > after.txt && diff before.txt after.txt
//! ```
//!
//! `bench-fleet.toml` runs once (seed 1, its own transport): it takes about a second.
//! `FINGERPRINT_SEEDS=N` (default 2) sets the seeds of every other file.

use std::path::{Path, PathBuf};
use z0sim::planted::Plant;
use z0sim::runtime::Transport;
use z0sim::sim::{load_scenario, run, RunOptions, Scenario};

const BENCH_FILE: &str = "bench-fleet.toml";

fn main() {
    let seeds: u64 = std::env::var("FINGERPRINT_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(2);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for (file, scenario) in scenario_files(&dir) {
        if file == BENCH_FILE {
            print_run(&file, &scenario, 1, None);
            continue;
        }
        for transport in [Transport::Madsim, Transport::Direct] {
            let mut scenario = scenario.clone();
            scenario.network.transport = transport;
            for seed in 1..=seeds {
                print_run(&file, &scenario, seed, None);
            }
        }
    }
    if !cfg!(feature = "planted-bugs") {
        return;
    }
    for plant in Plant::ALL {
        let scenario = load(&dir.join(plant.scenario()));
        for transport in [Transport::Madsim, Transport::Direct] {
            let mut scenario = scenario.clone();
            scenario.network.transport = transport;
            for seed in 1..=seeds {
                print_run(plant.scenario(), &scenario, seed, Some(plant));
            }
        }
    }
}

fn load(path: &Path) -> Scenario {
    load_scenario(path).unwrap_or_else(|error| panic!("{error}"))
}

fn scenario_files(dir: &Path) -> Vec<(String, Scenario)> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let scenario = load(&dir.join(&name));
            (name, scenario)
        })
        .collect()
}

fn print_run(file: &str, scenario: &Scenario, seed: u64, plant: Option<Plant>) {
    let options = RunOptions {
        plant,
        ..RunOptions::default()
    };
    let report =
        run(scenario, seed, &options).unwrap_or_else(|error| panic!("{file} seed {seed}: {error}"));
    let json = report.deterministic_json();
    let digest = json.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let failed: Vec<&str> = report
        .invariants
        .iter()
        .filter(|invariant| !invariant.passed)
        .map(|invariant| invariant.name.as_str())
        .collect();
    println!(
        "{file} {} seed {seed} plant {} trace {} report {digest:016x} failed [{}]",
        scenario.network.transport.name(),
        plant.map_or("-", Plant::name),
        report.trace_hash,
        failed.join(",")
    );
}
