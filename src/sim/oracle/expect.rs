//! The `[expect]` checks: one `expect.<name>` per key: a counter above 0 (`true`), at 0
//! (`false`) or within `{ min, max }` at the end of the run; a distribution's p50, p99 and max
//! at most `{ p50_max, p99_max, max_max }`.

use super::RecoveryMeasure;
use crate::runtime::{Counters, LatencySummary};
use crate::sim::report::InvariantResult;
use crate::sim::scenario::{Requirement, Scenario};
use std::collections::BTreeMap;

/// One check per `[expect]` key, in key order: counters against `counters`, distributions
/// against `distributions` (the report's `latency_ms`); `recovery`: what never recovered
/// after the faults makes any bound on its distribution fail.
pub(super) fn checks(
    scenario: &Scenario,
    counters: &Counters,
    distributions: &BTreeMap<String, LatencySummary>,
    recovery: &[RecoveryMeasure],
) -> Vec<InvariantResult> {
    scenario
        .expect
        .checks
        .iter()
        .map(|(name, requirement)| {
            let judged = match *requirement {
                Requirement::Distribution { .. } => {
                    let unrecovered = recovery
                        .iter()
                        .find(|measure| measure.name == name && measure.unrecovered > 0);
                    distribution(name, requirement, distributions.get(name), unrecovered)
                }
                _ => {
                    // Validation admits only counters of the report here.
                    let value = counters.get(name).unwrap_or_else(|| {
                        unreachable!("[expect] names the unknown counter {name:?}")
                    });
                    Judged::from(counter_problem(name, requirement, value))
                }
            };
            InvariantResult {
                name: format!("expect.{name}"),
                passed: judged.problem.is_none(),
                detail: judged
                    .problem
                    .or(judged.skipped.clone())
                    .unwrap_or_default(),
                expected: false,
                skipped: judged.skipped.is_some(),
                before: Vec::new(),
            }
        })
        .collect()
}

/// A check's outcome: a problem, or not judged (and why), or neither.
#[derive(Default)]
struct Judged {
    problem: Option<String>,
    skipped: Option<String>,
}

impl From<Option<String>> for Judged {
    fn from(problem: Option<String>) -> Self {
        Self {
            problem,
            skipped: None,
        }
    }
}

/// What is wrong with `counter = value` against `requirement`, if anything.
fn counter_problem(name: &str, requirement: &Requirement, value: u64) -> Option<String> {
    match *requirement {
        Requirement::Positive(positive) => ((value > 0) != positive).then(|| {
            let wanted = if positive { "> 0" } else { "== 0" };
            format!("{name} = {value}, expected {wanted}")
        }),
        Requirement::Range { min, max } => match (min, max) {
            (Some(min), _) if value < min => {
                Some(format!("{name} = {value}, expected at least {min}"))
            }
            (_, Some(max)) if value > max => {
                Some(format!("{name} = {value}, expected at most {max}"))
            }
            _ => None,
        },
        Requirement::Distribution { .. } => unreachable!("validation: {name} is a counter"),
    }
}

/// Judges a distribution's bounds; one with no samples is not judged, unless something never
/// recovered (then every bound of that recovery distribution fails).
fn distribution(
    name: &str,
    requirement: &Requirement,
    summary: Option<&LatencySummary>,
    unrecovered: Option<&RecoveryMeasure>,
) -> Judged {
    let Requirement::Distribution {
        p50_max_ms,
        p99_max_ms,
        max_max_ms,
    } = *requirement
    else {
        unreachable!("validation: {name} is a distribution");
    };
    if let Some(measure) = unrecovered {
        return Judged::from(Some(format!(
            "{} {}, expected every one within the bounds",
            measure.unrecovered, measure.unrecovered_words
        )));
    }
    let Some(summary) = summary.filter(|summary| summary.count > 0) else {
        return Judged {
            problem: None,
            skipped: Some(format!("no {name} samples in this run")),
        };
    };
    let bounds = [
        ("p50", summary.p50, p50_max_ms),
        ("p99", summary.p99, p99_max_ms),
        ("max", summary.max, max_max_ms),
    ];
    Judged::from(bounds.iter().find_map(|(label, value, bound)| {
        bound.filter(|bound| value > bound).map(|bound| {
            format!(
                "{name} {label} = {value} ms over {} samples, expected at most {bound} ms",
                summary.count
            )
        })
    }))
}

/// `[expect] violations`: marks the listed invariants' failures as expected, and checks that
/// each of them failed (the run passes only if exactly those fail).
pub(super) fn violations(
    scenario: &Scenario,
    invariants: &mut [InvariantResult],
) -> Option<InvariantResult> {
    let wanted = &scenario.expect.violations;
    if wanted.is_empty() {
        return None;
    }
    for invariant in invariants.iter_mut() {
        invariant.expected = !invariant.passed && wanted.contains(&invariant.name);
    }
    let held: Vec<String> = wanted
        .iter()
        .filter_map(|name| {
            let invariant = invariants
                .iter()
                .find(|invariant| invariant.name == *name && invariant.passed)?;
            Some(if invariant.skipped {
                format!("{name} (skipped: {})", invariant.detail)
            } else {
                name.clone()
            })
        })
        .collect();
    Some(InvariantResult {
        name: "expect.violations".to_owned(),
        passed: held.is_empty(),
        detail: if held.is_empty() {
            String::new()
        } else {
            format!("expected to fail, but held: {}", held.join(", "))
        },
        expected: false,
        skipped: false,
        before: Vec::new(),
    })
}
