//! The `[expect]` checks: one `expect.<counter>` per key, the counter above 0 (`true`) or at
//! 0 (`false`) at the end of the run.

use crate::runtime::Counters;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;

/// One check per `[expect]` key, in key order.
pub(super) fn checks(scenario: &Scenario, counters: &Counters) -> Vec<InvariantResult> {
    scenario
        .expect
        .checks
        .iter()
        .map(|(name, expected_positive)| {
            // Validation admits only counters of the report.
            let value = counters
                .get(name)
                .unwrap_or_else(|| unreachable!("[expect] names the unknown counter {name:?}"));
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
                expected: false,
                skipped: false,
            }
        })
        .collect()
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
    })
}
