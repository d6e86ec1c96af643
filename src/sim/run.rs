//! `run(scenario, seed) -> Report`: builds the world, runs it under madsim on a fresh thread
//! with the oracle watching, judges the run and assembles the report.

use crate::planted::Plant;
use crate::runtime::observe::Observer;
use crate::runtime::{run_world, LatencySummary, RunError, RunOutput};
use crate::sim::build::build_world;
use crate::sim::oracle::words::Focus;
use crate::sim::oracle::{Judgement, Oracle, RunEnd};
use crate::sim::report::{EndState, Report, REPORT_SCHEMA_VERSION};
use crate::sim::scenario::Scenario;
use crate::sim::witness::events::EventLog;
use crate::sim::witness::explain::explain;
use crate::sim::witness::Witness;
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
    /// Keep the run's event log and explain each violation with up to this many events
    /// (`z0sim run` keeps it; sweeps and swarms do not, for speed).
    pub explain_events: Option<usize>,
}

/// What a run that kept its event log leaves besides its report (for `--timeline`).
pub struct Witnessed {
    /// The event log.
    pub log: EventLog,
    /// Actor names by index.
    pub names: Vec<String>,
    /// What each invariant of the report is about, in the report's order.
    pub focus: Vec<Focus>,
    /// The simulated time at the end of the run, ms.
    pub end_ms: u64,
    /// `(fault index, actors taken)` of each eviction and misroute (for `--export`).
    pub fault_picks: Vec<(usize, Vec<usize>)>,
}

/// Runs `scenario` with `seed`, the oracle watching.
pub fn run(scenario: &Scenario, seed: u64, options: &RunOptions) -> Result<Report, RunError> {
    run_witnessed(scenario, seed, options).map(|(report, _)| report)
}

/// Runs `scenario` with `seed`, the oracle watching; with `options.explain_events`, the
/// event log kept, each violation explained from it, and the log handed back.
pub fn run_witnessed(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
) -> Result<(Report, Option<Witnessed>), RunError> {
    let mut spec = build_world(scenario, seed);
    spec.trace_filter = options.trace_filter.clone();
    spec.plant = options.plant;
    let names: Vec<String> = spec
        .actors
        .iter()
        .map(|actor| actor.id.to_string())
        .collect();
    let oracle = Oracle::new(scenario, &spec.roles).with_names(names.clone());
    let observer: Box<dyn Observer> = match options.explain_events {
        Some(_) => Box::new(Witness {
            oracle,
            log: EventLog::new(names.iter().position(|name| name == "platform")),
        }),
        None => Box::new(oracle),
    };
    let mut output = run_world(spec, Some(observer))?;
    let (oracle, log) = take_observer(&mut output);
    let latencies = latencies(&output);
    let judgement = oracle.judge(&RunEnd {
        end: &output.end,
        counters: &output.recorder.counters,
        warnings_logged: output.warnings_logged,
        latencies: &latencies,
    });
    let focus = judgement.focus.clone();
    let mut report = report(scenario, seed, judgement, &output, options);
    report.load = output
        .recorder
        .load
        .summary(output.sim_time_ms, |idx| names[idx].clone());
    measure_memory(&mut report, scenario);
    let Some(log) = log else {
        return Ok((report, None));
    };
    let limit = options.explain_events.unwrap_or_default();
    for (invariant, focus) in report.invariants.iter_mut().zip(&focus) {
        // `[expect]` checks name no actor and their numbers are not times: nothing to explain.
        if !invariant.passed && !invariant.name.starts_with("expect.") {
            invariant.before = explain(&log, focus, &names, scenario, output.sim_time_ms, limit);
        }
    }
    let witnessed = Witnessed {
        log,
        names,
        focus,
        end_ms: output.sim_time_ms,
        fault_picks: output.recorder.fault_picks.clone(),
    };
    Ok((report, Some(witnessed)))
}

/// The peak memory so far, and per entity ledger of `scenario`.
fn measure_memory(report: &mut Report, scenario: &Scenario) {
    report.peak_memory_bytes = crate::sim::memory::peak_resident_bytes();
    let entities = crate::sim::shrink::Size::of(scenario).entities;
    report.bytes_per_entity = report.peak_memory_bytes.checked_div(entities).unwrap_or(0);
}

/// The oracle the run hands back, and the event log if it was kept.
fn take_observer(output: &mut RunOutput) -> (Oracle, Option<EventLog>) {
    let observer: Box<dyn Any> = output
        .observer
        .take()
        .expect("the run hands its observer back");
    match observer.downcast::<Witness>() {
        Ok(witness) => (witness.oracle, Some(witness.log)),
        Err(observer) => match observer.downcast::<Oracle>() {
            Ok(oracle) => (*oracle, None),
            Err(_) => unreachable!("the run's observer is the one it was given"),
        },
    }
}

/// The run's latency distributions, by name (the report's `latency_ms` but `recovery`).
fn latencies(output: &RunOutput) -> BTreeMap<String, LatencySummary> {
    let recorder = &output.recorder;
    BTreeMap::from([
        ("delivery".to_owned(), recorder.delivery.summary()),
        ("breaker_open".to_owned(), recorder.breaker_open.summary()),
        (
            "tenant_flush_lag".to_owned(),
            recorder.tenant_flush_lag.summary(),
        ),
        ("primary_op".to_owned(), recorder.primary_op.summary()),
    ])
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
    let mut latency_ms = latencies(output);
    for measure in &judgement.recovery {
        latency_ms.insert(measure.name.to_owned(), measure.summary);
    }
    let unrecovered = |name: &str| {
        judgement
            .recovery
            .iter()
            .find(|measure| measure.name == name)
            .map_or(0, |measure| measure.unrecovered)
    };
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
        peak_memory_bytes: 0,
        bytes_per_entity: 0,
        trace_hash: format!("{:016x}", recorder.trace.value()),
        invariants,
        reached: judgement.reached,
        counters: recorder.counters,
        latency_ms,
        load: None,
        end: EndState {
            buffered_observations: end.buffered_at_end,
            breakers_not_closed: end.breakers_not_closed,
            tenant_payloads_pending: end.tenant_payloads_pending,
            dead_letters: end.dead_letters,
            durability_violations: judgement.durability_violations,
            system_facts: end.system_facts.clone(),
            observations_generated: end.generated.values().sum(),
            observations_stored: end.observations_stored,
            breakers_unrecovered: unrecovered("recovery"),
            backlogs_undrained: unrecovered("recovery_backlog"),
            payloads_undelivered: unrecovered("recovery_payloads"),
        },
        repro: (!passed).then(|| repro_command(options, seed)),
    }
}

/// The command that reruns one seed of a scenario file, as it should be typed: from any
/// directory when the file's path is absolute (the command line makes it so).
pub fn repro_command(options: &RunOptions, seed: u64) -> String {
    let file = options.file.as_deref().unwrap_or("SCENARIO.toml");
    let plant = options
        .plant
        .map_or(String::new(), |plant| format!(" --plant {}", plant.name()));
    format!(
        "{} run {} --seed {seed}{plant}",
        invocation(options.plant.is_some()),
        shell_word(file)
    )
}

/// How to start z0sim again: through cargo with this repository's manifest when this process
/// was started by cargo (`cargo run`, `cargo test`), otherwise this very binary.
/// `planted`: the run needs the `planted-bugs` feature.
pub fn invocation(planted: bool) -> String {
    let features = if planted {
        " --features planted-bugs"
    } else {
        ""
    };
    let binary = std::env::current_exe().ok();
    match binary {
        Some(binary) if std::env::var_os("CARGO").is_none() => {
            shell_word(&binary.display().to_string())
        }
        _ => format!(
            "cargo run --release{features} --manifest-path {} --",
            shell_word(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        ),
    }
}

/// `word` as one shell word: quoted when it holds anything but plain path characters.
pub fn shell_word(word: &str) -> String {
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:+=@%,".contains(c));
    if plain && !word.is_empty() {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
