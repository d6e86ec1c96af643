//! `z0sim run --export FILE.toml`: the run's scenario with its random fault decisions made
//! explicit, so that the failure reproduces without the seed's fault stream and survives code
//! changes that shift random draws (docs/cli.md, "--export").
//!
//! Made explicit: which entity ledgers each `evict` restarted (an `evict_entities` fault at
//! the same time) and which entities each `misroute` rewired (a `misroute_entities` fault over
//! the same window). An `evict` or `misroute` that took no entity is left out.
//!
//! Still drawn from the seed: network latency and packet loss, the workload's operations, and
//! the per-message draws of `system_ledger_overloaded`, `alarm_failure`, `queue_duplicate`,
//! `queue_consumer_failure` and `hostile_facts` (each decides message by message or run by
//! run, not once).

use crate::sim::scenario::{FaultKind, Scenario};

/// `scenario` with the picks of its `evict` and `misroute` faults made explicit: `picks` are
/// `(fault index, actor indices)` as the run recorded them, `names` the actors' names.
pub fn export(
    scenario: &Scenario,
    seed: u64,
    picks: &[(usize, Vec<usize>)],
    names: &[String],
) -> Scenario {
    let mut exported = scenario.clone();
    let mut left_out = Vec::new();
    for (index, fault) in scenario.faults.iter().enumerate() {
        let taken: Vec<String> = picks
            .iter()
            .filter(|(fault, _)| *fault == index)
            .flat_map(|(_, actors)| actors.iter().filter_map(|idx| names.get(*idx).cloned()))
            .collect();
        let explicit = match &fault.kind {
            FaultKind::Evict { .. } => FaultKind::EvictEntities { entities: taken },
            FaultKind::Misroute { .. } => FaultKind::MisrouteEntities { entities: taken },
            _ => continue,
        };
        match &explicit {
            FaultKind::EvictEntities { entities } | FaultKind::MisrouteEntities { entities }
                if entities.is_empty() =>
            {
                left_out.push(index);
            }
            _ => exported.faults[index].kind = explicit,
        }
    }
    for index in left_out.iter().rev() {
        exported.faults.remove(*index);
    }
    let note = format!(
        "Exported by z0sim run --export from seed {seed}: the entities each evict and misroute took are listed{}; every other random decision still comes from the seed.",
        if left_out.is_empty() {
            String::new()
        } else {
            format!(" ({} that took none left out)", left_out.len())
        }
    );
    exported.description = format!("{note} {}", scenario.description)
        .trim_end()
        .to_owned();
    exported
}
