//! `run(scenario, seed) -> Report`: builds the world, runs it under madsim on a fresh thread,
//! checks the run and assembles the report.

use crate::ledgers::BreakerState;
use crate::planted::Plant;
use crate::runtime::{run_world, Counters, Observation, RunError, RunOutput};
use crate::sim::build::build_world;
use crate::sim::oracle::{judge, Roles};
use crate::sim::report::{EndState, InvariantResult, Report};
use crate::sim::scenario::Scenario;
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

/// Runs `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64, options: &RunOptions) -> Result<Report, RunError> {
    let mut spec = build_world(scenario, seed);
    spec.trace_filter = options.trace_filter.clone();
    spec.plant = options.plant;
    let roles = Roles::of(&spec);
    let output = run_world(spec)?;
    Ok(report(scenario, seed, &roles, &output, options))
}

fn report(
    scenario: &Scenario,
    seed: u64,
    roles: &Roles,
    output: &RunOutput,
    options: &RunOptions,
) -> Report {
    let recorder = &output.recorder;
    let mut invariants = judge(scenario, roles, output);
    invariants.push(durability_check(output));
    invariants.extend(expect_checks(scenario, &recorder.counters));
    let passed = invariants.iter().all(|invariant| invariant.passed);
    let wall_ms = output.wall_ms.max(1);
    let latency_ms = BTreeMap::from([
        ("delivery".to_owned(), recorder.delivery.summary()),
        ("breaker_open".to_owned(), recorder.breaker_open.summary()),
        (
            "tenant_flush_lag".to_owned(),
            recorder.tenant_flush_lag.summary(),
        ),
    ]);
    let outcome = &output.outcome;
    Report {
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
        reached: reached(output),
        counters: recorder.counters,
        latency_ms,
        end: EndState {
            buffered_observations: outcome.buffered_at_end,
            breakers_not_closed: outcome.breakers_not_closed,
            tenant_payloads_pending: outcome.tenant_payloads_pending,
            dead_letters: outcome.dead_letters,
            durability_violations: outcome.durability_violations,
            system_facts: outcome.system_facts.clone(),
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

fn durability_check(output: &RunOutput) -> InvariantResult {
    let missing = output.outcome.durability_violations;
    InvariantResult {
        name: "receiver_storage_durable".into(),
        passed: missing == 0,
        detail: if missing == 0 {
            String::new()
        } else {
            format!("{missing} acknowledged facts missing from their receiver's storage")
        },
    }
}

fn expect_checks(scenario: &Scenario, counters: &Counters) -> Vec<InvariantResult> {
    let values = serde_json::to_value(counters).unwrap_or_default();
    scenario
        .expect
        .checks
        .iter()
        .map(|(name, expected_positive)| {
            let value = values
                .get(name)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let passed = (value > 0) == *expected_positive;
            let wanted = if *expected_positive { "> 0" } else { "== 0" };
            InvariantResult {
                name: format!("expect.{name}"),
                passed,
                detail: if passed {
                    String::new()
                } else {
                    format!("{name} = {value}, expected {wanted}")
                },
            }
        })
        .collect()
}

/// The interesting things that happened in a run, in a fixed order: breaker opened, half-open
/// probe failed, breaker closed, fallback drop, error surfaced, overloaded answered, actor
/// restarted, open period lost, hydration replayed, alarm retried, alarm deleted, queue
/// redelivered, dead-lettered, cross-tenant fact rejected, rollup appended.
pub fn reached(output: &RunOutput) -> Vec<String> {
    let counters = &output.recorder.counters;
    let seen = |wanted: fn(&Observation) -> bool| output.observations.iter().any(wanted);
    let items = [
        ("breaker_opened", counters.breaker_opened > 0),
        (
            "half_open_probe_failed",
            seen(|observation| {
                matches!(
                    observation,
                    Observation::Transition {
                        from: BreakerState::HalfOpen,
                        to: BreakerState::Open,
                        ..
                    }
                )
            }),
        ),
        ("breaker_closed", counters.breaker_closed > 0),
        (
            "fallback_drop",
            counters.dropped_breaker_open + counters.dropped_delivery_failed > 0,
        ),
        ("error_surfaced", counters.errors_surfaced > 0),
        ("overloaded_answered", counters.overloaded_answers > 0),
        ("actor_restarted", counters.restarts > 0),
        ("open_period_lost", counters.lost_on_restart > 0),
        (
            "hydration_replayed",
            seen(
                |observation| matches!(observation, Observation::Hydrated { facts_replayed, .. } if *facts_replayed > 0),
            ),
        ),
        ("alarm_retried", counters.alarm_failures > 0),
        ("alarm_deleted", counters.alarms_deleted > 0),
        ("queue_redelivered", counters.queue_redeliveries > 0),
        ("dead_lettered", counters.dead_lettered > 0),
        ("cross_tenant_rejected", counters.rejected_cross_tenant > 0),
        ("rollup_appended", counters.rollups > 0),
    ];
    items
        .into_iter()
        .filter(|(_, happened)| *happened)
        .map(|(name, _)| name.to_owned())
        .collect()
}
