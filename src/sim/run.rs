//! `run(scenario, seed) -> Report`: builds the world, runs it under madsim on a fresh thread
//! with the oracle watching, judges the run and assembles the report.

use crate::planted::Plant;
use crate::runtime::{run_world, RunError, RunOutput};
use crate::sim::build::build_world;
use crate::sim::oracle::{Judgement, Oracle, RunEnd};
use crate::sim::report::{EndState, Report, REPORT_SCHEMA_VERSION};
use crate::sim::scenario::Scenario;
use std::any::Any;
use std::collections::BTreeMap;

/// Options of one run besides the seed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// The scenario file, for the repro command.
    pub file: Option<String>,
    /// A `tracing` filter for the event log (`--trace`, `RUST_LOG`).
    pub trace_filter: Option<String>,
    /// The planted bug to run with (`--plant`, only with the `planted-bugs` feature).
    pub plant: Option<Plant>,
}

/// Runs `scenario` with `seed`, the oracle watching.
pub fn run(scenario: &Scenario, seed: u64, options: &RunOptions) -> Result<Report, RunError> {
    let mut spec = build_world(scenario, seed);
    spec.trace_filter = options.trace_filter.clone();
    spec.plant = options.plant;
    let oracle = Oracle::new(scenario, &spec.roles);
    let mut output = run_world(spec, Some(Box::new(oracle)))?;
    let observer: Box<dyn Any> = output
        .observer
        .take()
        .expect("the run hands its observer back");
    let Ok(oracle) = observer.downcast::<Oracle>() else {
        unreachable!("the run's observer is the oracle it was given");
    };
    let judgement = oracle.judge(&RunEnd {
        end: &output.end,
        counters: &output.recorder.counters,
        warnings_logged: output.warnings_logged,
    });
    Ok(report(scenario, seed, judgement, &output, options))
}

fn report(
    scenario: &Scenario,
    seed: u64,
    judgement: Judgement,
    output: &RunOutput,
    options: &RunOptions,
) -> Report {
    let recorder = &output.recorder;
    let invariants = judgement.invariants;
    let passed = invariants
        .iter()
        .all(|invariant| invariant.passed || invariant.expected);
    let wall_ms = output.wall_ms.max(1);
    let latency_ms = BTreeMap::from([
        ("delivery".to_owned(), recorder.delivery.summary()),
        ("breaker_open".to_owned(), recorder.breaker_open.summary()),
        (
            "tenant_flush_lag".to_owned(),
            recorder.tenant_flush_lag.summary(),
        ),
        ("primary_op".to_owned(), recorder.primary_op.summary()),
    ]);
    let end = &output.end;
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        seed,
        passed,
        sim_time_ms: output.sim_time_ms,
        wall_ms: output.wall_ms,
        events: recorder.events,
        local_ops: recorder.local_ops,
        events_per_sec: recorder.events * 1_000 / wall_ms,
        speedup: output.sim_time_ms as f64 / wall_ms as f64,
        trace_hash: format!("{:016x}", recorder.trace.value()),
        invariants,
        reached: judgement.reached,
        counters: recorder.counters,
        latency_ms,
        end: EndState {
            buffered_observations: end.buffered_at_end,
            breakers_not_closed: end.breakers_not_closed,
            tenant_payloads_pending: end.tenant_payloads_pending,
            dead_letters: end.dead_letters,
            durability_violations: judgement.durability_violations,
            system_facts: end.system_facts.clone(),
            observations_generated: end.generated.values().sum(),
            observations_stored: end.observations_stored,
        },
        repro: (!passed).then(|| repro_command(options, seed)),
    }
}

/// The command that reruns one seed of a scenario file.
pub fn repro_command(options: &RunOptions, seed: u64) -> String {
    let file = options.file.as_deref().unwrap_or("SCENARIO.toml");
    match options.plant {
        Some(plant) => format!(
            "cargo run --release --features planted-bugs -- run {file} --seed {seed} --plant {plant}"
        ),
        None => format!("cargo run --release -- run {file} --seed {seed}"),
    }
}
