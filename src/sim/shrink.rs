//! `z0sim shrink`: delta debugging of a failing run. Starting from the scenario and seed that
//! fail an invariant, it tries smaller scenarios, one change at a time (a fault removed, the
//! run or a fault window shortened, fewer tenants or entities, a hierarchy level less, the
//! network and reader simplified), and keeps a change when the same invariant still fails,
//! with the same seed or one of the next [`ShrinkOptions::extra_seeds`] seeds. It starts over
//! after every accepted change and stops when no change is accepted.
//!
//! Decisions (docs/cli.md, "z0sim shrink"):
//! - The invariant is the one named, else the first that fails unexpectedly.
//! - The shrunk scenario keeps no `[expect]` requirement but the one being shrunk (when it is
//!   an `expect.<counter>` check), so the file fails for that reason alone; its `seeds` is 1.
//! - A change that makes the scenario invalid is skipped, never run.

use crate::planted::Plant;
use crate::runtime::RunError;
use crate::sim::build::tree_levels;
use crate::sim::oracle::words::human_ms;
use crate::sim::report::Report;
use crate::sim::run::{run, RunOptions};
use crate::sim::scenario::Scenario;
use std::fmt;

/// How to shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// The seed that fails.
    pub seed: u64,
    /// The planted bug to run with.
    pub plant: Option<Plant>,
    /// The invariant that must keep failing (default: the first that fails unexpectedly).
    pub invariant: Option<String>,
    /// Seeds after the current one also tried when a change no longer fails with it.
    pub extra_seeds: u64,
}

/// A scenario's size, as shrinking sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Faults.
    pub faults: usize,
    /// Tenants.
    pub tenants: u32,
    /// Entities in all (entity ledgers of every tenant, the hierarchy's included).
    pub entities: u64,
    /// Hierarchy levels.
    pub hierarchy_levels: usize,
    /// Simulated duration, ms.
    pub duration_ms: u64,
}

impl Size {
    /// The size of `scenario`.
    pub fn of(scenario: &Scenario) -> Self {
        let per_tenant: usize = tree_levels(scenario).iter().map(|(_, count)| count).sum();
        Self {
            faults: scenario.faults.len(),
            tenants: scenario.topology.tenants,
            entities: u64::from(scenario.topology.tenants) * per_tenant as u64,
            hierarchy_levels: scenario.topology.hierarchy.len(),
            duration_ms: scenario.duration_ms,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}, {}, {}",
            count(self.faults as u64, "fault", "faults"),
            count(u64::from(self.tenants), "tenant", "tenants"),
            count(self.entities, "entity ledger", "entity ledgers"),
            count(
                self.hierarchy_levels as u64,
                "hierarchy level",
                "hierarchy levels"
            ),
            human_ms(self.duration_ms)
        )
    }
}

/// One accepted change.
#[derive(Clone, Debug)]
pub struct Step {
    /// What changed.
    pub change: String,
    /// The seed that fails after it.
    pub seed: u64,
    /// The size after it.
    pub size: Size,
}

/// A shrinking's result.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The invariant that kept failing.
    pub invariant: String,
    /// The smallest failing scenario found.
    pub scenario: Scenario,
    /// The seed it fails with.
    pub seed: u64,
    /// Its size before and after.
    pub before: Size,
    /// After.
    pub after: Size,
    /// Every accepted change, in order.
    pub steps: Vec<Step>,
    /// Runs made.
    pub runs: u64,
}

/// Why shrinking could not start.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The run itself broke.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Nothing fails unexpectedly.
    #[error("nothing to shrink: every check of seed {0} holds, or fails as [expect] violations says (name one with --invariant)")]
    NothingFails(u64),
    /// The named check is not one of the run's.
    #[error("unknown check {name:?}: expected one of {known}")]
    Unknown {
        /// The name given.
        name: String,
        /// The run's checks.
        known: String,
    },
    /// The named check was not judged.
    #[error("nothing to shrink: {name} was skipped ({why})")]
    Skipped {
        /// The name given.
        name: String,
        /// Why it was skipped.
        why: String,
    },
    /// The named invariant holds.
    #[error("nothing to shrink: {name} holds with seed {seed} (failing: {failing})")]
    Holds {
        /// The invariant named.
        name: String,
        /// The seed.
        seed: u64,
        /// What fails instead, if anything.
        failing: String,
    },
}

/// Shrinks `scenario` while `options.invariant` keeps failing; `on_step` hears of each
/// accepted change as it is made.
pub fn shrink(
    scenario: &Scenario,
    options: &ShrinkOptions,
    on_step: &mut dyn FnMut(&Step),
) -> Result<Shrunk, ShrinkError> {
    let mut trial = Trial {
        plant: options.plant,
        runs: 0,
    };
    let first = trial.run(scenario, options.seed)?;
    let invariant = target(&first, options)?;
    let mut current = keep_only_expect(scenario, &invariant);
    let mut seed = options.seed;
    if !trial.fails(&current, seed, &invariant)? {
        // Without the other `[expect]` keys the run still has to fail; it does unless the
        // failure was an `expect.violations` check, which shrinking keeps as it was.
        current = scenario.clone();
    }
    let mut steps = Vec::new();
    'shrinking: loop {
        for (change, candidate) in candidates(&current) {
            if candidate.validate("shrink.toml").is_err() {
                continue;
            }
            if let Some(failing_seed) =
                trial.fails_with_some_seed(&candidate, seed, options.extra_seeds, &invariant)?
            {
                seed = failing_seed;
                current = candidate;
                let step = Step {
                    change,
                    seed,
                    size: Size::of(&current),
                };
                on_step(&step);
                steps.push(step);
                continue 'shrinking;
            }
        }
        break;
    }
    Ok(Shrunk {
        invariant,
        before: Size::of(scenario),
        after: Size::of(&current),
        scenario: current,
        seed,
        steps,
        runs: trial.runs,
    })
}

/// Runs of one shrinking.
struct Trial {
    plant: Option<Plant>,
    runs: u64,
}

impl Trial {
    fn run(&mut self, scenario: &Scenario, seed: u64) -> Result<Report, RunError> {
        self.runs += 1;
        let options = RunOptions {
            plant: self.plant,
            ..RunOptions::default()
        };
        run(scenario, seed, &options)
    }

    fn fails(&mut self, scenario: &Scenario, seed: u64, invariant: &str) -> Result<bool, RunError> {
        let report = self.run(scenario, seed)?;
        Ok(report
            .invariants
            .iter()
            .any(|check| check.name == invariant && !check.passed))
    }

    /// The first of `seed`, `seed + 1`, ... `seed + extra` with which `invariant` fails.
    fn fails_with_some_seed(
        &mut self,
        scenario: &Scenario,
        seed: u64,
        extra: u64,
        invariant: &str,
    ) -> Result<Option<u64>, RunError> {
        for candidate_seed in (0..=extra).map(|offset| seed.wrapping_add(offset)) {
            if self.fails(scenario, candidate_seed, invariant)? {
                return Ok(Some(candidate_seed));
            }
        }
        Ok(None)
    }
}

/// The invariant to keep failing: the one named (it must fail), else the first that fails
/// unexpectedly.
fn target(report: &Report, options: &ShrinkOptions) -> Result<String, ShrinkError> {
    let failing: Vec<&str> = report
        .invariants
        .iter()
        .filter(|check| !check.passed && !check.expected)
        .map(|check| check.name.as_str())
        .collect();
    let named = options.invariant.as_ref().map(|name| {
        (
            name,
            report.invariants.iter().find(|check| &check.name == name),
        )
    });
    match named {
        Some((name, None)) => {
            let known: Vec<&str> = report.invariants.iter().map(|c| c.name.as_str()).collect();
            Err(ShrinkError::Unknown {
                name: name.clone(),
                known: known.join(", "),
            })
        }
        Some((name, Some(check))) if check.skipped => Err(ShrinkError::Skipped {
            name: name.clone(),
            why: check.detail.clone(),
        }),
        Some((name, Some(check))) if !check.passed => Ok(name.clone()),
        Some((name, Some(_))) => Err(ShrinkError::Holds {
            name: name.clone(),
            seed: options.seed,
            failing: if failing.is_empty() {
                "nothing".to_owned()
            } else {
                failing.join(", ")
            },
        }),
        None => failing
            .first()
            .map(|name| (*name).to_owned())
            .ok_or(ShrinkError::NothingFails(options.seed)),
    }
}

/// `scenario` with no `[expect]` requirement but `invariant` (when it is one), and one seed.
fn keep_only_expect(scenario: &Scenario, invariant: &str) -> Scenario {
    let mut kept = scenario.clone();
    kept.seeds = 1;
    let counter = invariant.strip_prefix("expect.");
    kept.expect
        .checks
        .retain(|name, _| Some(name.as_str()) == counter);
    kept.expect.violations.clear();
    kept
}

/// Smaller scenarios than `scenario`, each with what changed, biggest cuts first.
fn candidates(scenario: &Scenario) -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    fault_removals(scenario, &mut out);
    duration_cuts(scenario, &mut out);
    topology_cuts(scenario, &mut out);
    fault_window_cuts(scenario, &mut out);
    simplifications(scenario, &mut out);
    out
}

fn fault_removals(scenario: &Scenario, out: &mut Vec<(String, Scenario)>) {
    for (index, fault) in scenario.faults.iter().enumerate().rev() {
        let mut smaller = scenario.clone();
        smaller.faults.remove(index);
        let change = format!(
            "removed fault {} ({} at {})",
            index + 1,
            fault.kind.name(),
            human_ms(fault.at_ms)
        );
        out.push((change, smaller));
    }
}

fn duration_cuts(scenario: &Scenario, out: &mut Vec<(String, Scenario)>) {
    for duration_ms in [scenario.duration_ms / 2, scenario.duration_ms / 4 * 3] {
        if duration_ms >= 1_000 && duration_ms < scenario.duration_ms {
            let mut smaller = scenario.clone();
            smaller.duration_ms = duration_ms;
            out.push((format!("duration {}", human_ms(duration_ms)), smaller));
        }
    }
}

fn topology_cuts(scenario: &Scenario, out: &mut Vec<(String, Scenario)>) {
    let topology = &scenario.topology;
    if topology.tenants > 1 {
        for tenants in [1, topology.tenants - 1] {
            let mut smaller = scenario.clone();
            smaller.topology.tenants = tenants;
            out.push((format!("tenants {tenants}"), smaller));
        }
    }
    let per_tenant = topology.entities_per_tenant;
    let mut counts = vec![1, per_tenant / 2, per_tenant - 1];
    counts.retain(|&count| count >= 1 && count < per_tenant);
    counts.dedup();
    for entities in counts {
        let mut smaller = scenario.clone();
        smaller.topology.entities_per_tenant = entities;
        out.push((format!("entities_per_tenant {entities}"), smaller));
    }
    if let Some(level) = topology.hierarchy.last() {
        let mut smaller = scenario.clone();
        smaller.topology.hierarchy.pop();
        out.push((format!("hierarchy level {level:?} removed"), smaller));
    }
}

fn fault_window_cuts(scenario: &Scenario, out: &mut Vec<(String, Scenario)>) {
    for (index, fault) in scenario.faults.iter().enumerate() {
        let duration_ms = fault.duration_ms / 2;
        if duration_ms >= 1_000 {
            let mut smaller = scenario.clone();
            smaller.faults[index].duration_ms = duration_ms;
            let change = format!(
                "fault {} ({}) shortened to {}",
                index + 1,
                fault.kind.name(),
                human_ms(duration_ms)
            );
            out.push((change, smaller));
        }
    }
}

fn simplifications(scenario: &Scenario, out: &mut Vec<(String, Scenario)>) {
    let network = &scenario.network;
    if network.packet_loss > 0.0 {
        let mut simpler = scenario.clone();
        simpler.network.packet_loss = 0.0;
        out.push(("packet_loss 0".to_owned(), simpler));
    }
    if network.latency_max_ms > network.latency_min_ms {
        let mut simpler = scenario.clone();
        simpler.network.latency_max_ms = network.latency_min_ms;
        let change = format!("latency fixed at {}", human_ms(network.latency_min_ms));
        out.push((change, simpler));
    }
    if scenario.reader.reads_per_min > 0.0 {
        let mut simpler = scenario.clone();
        simpler.reader.reads_per_min = 0.0;
        out.push(("reader off".to_owned(), simpler));
    }
}
