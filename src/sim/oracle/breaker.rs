//! `breaker_transitions_legal` and `breaker_blocks_when_open`: each client's breaker, followed
//! through its transitions and the attempts that left it.

use super::{verdict, BreakerStates, ClientKey, FirstViolation};
use crate::ledgers::{BreakerState, Transition};
use crate::runtime::observe::Observation;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use std::collections::BTreeMap;

/// Follows every client's breaker.
pub(super) struct BreakerChecker {
    /// Only CLOSED->OPEN, OPEN->HALF_OPEN, HALF_OPEN->CLOSED/OPEN, each from the state the
    /// client was in, and a reset to CLOSED on restart.
    legal: Legal,
    /// No attempt leaves a client while its breaker is OPEN; at most the probe budget per
    /// HALF_OPEN episode.
    blocks: Blocks,
}

#[derive(Default)]
struct Legal {
    states: BreakerStates,
    violation: FirstViolation,
}

struct Blocks {
    probe_budget: u32,
    states: BreakerStates,
    probes: BTreeMap<ClientKey, u32>,
    violation: FirstViolation,
}

impl BreakerChecker {
    pub(super) fn new(scenario: &Scenario) -> Self {
        Self {
            legal: Legal::default(),
            blocks: Blocks {
                probe_budget: scenario.sdk.breaker.half_open_max_probes,
                states: BreakerStates::default(),
                probes: BTreeMap::new(),
                violation: FirstViolation::default(),
            },
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        self.legal.observe(observation);
        self.blocks.observe(observation);
    }

    pub(super) fn transitions_legal(&self) -> InvariantResult {
        verdict("breaker_transitions_legal", self.legal.violation.0.clone())
    }

    pub(super) fn blocks_when_open(&self) -> InvariantResult {
        verdict("breaker_blocks_when_open", self.blocks.violation.0.clone())
    }
}

impl Legal {
    fn observe(&mut self, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            Observation::Started { actor, .. } => self.states.restart(actor),
            Observation::Transition {
                at_ms,
                caller,
                target,
                from,
                to,
            } => {
                let current = self.states.get((caller, target));
                self.states.set((caller, target), to);
                let legal = Transition { from, to, at_ms }.is_legal();
                self.violation.note((current != from || !legal).then(|| {
                    format!(
                        "at {at_ms} ms actor #{caller} -> #{target:?}: {from:?} -> {to:?} while {current:?}"
                    )
                }));
            }
            _ => {}
        }
    }
}

impl Blocks {
    fn observe(&mut self, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            Observation::Started { actor, .. } => self.states.restart(actor),
            Observation::Transition {
                caller, target, to, ..
            } => {
                self.states.set((caller, target), to);
                self.probes.insert((caller, target), 0);
            }
            Observation::Attempt {
                at_ms,
                caller,
                target,
                ..
            } => {
                let violation = self.attempt(at_ms, (caller, target));
                self.violation.note(violation);
            }
            _ => {}
        }
    }

    fn attempt(&mut self, at_ms: u64, client: ClientKey) -> Option<String> {
        let (caller, target) = client;
        match self.states.get(client) {
            BreakerState::Closed => None,
            BreakerState::Open => Some(format!(
                "at {at_ms} ms actor #{caller} sent to #{target:?} while its breaker was OPEN"
            )),
            BreakerState::HalfOpen => {
                let budget = self.probe_budget;
                let sent = self.probes.entry(client).or_default();
                *sent += 1;
                (*sent > budget).then(|| {
                    format!(
                        "at {at_ms} ms actor #{caller} sent probe {sent} to #{target:?} in one HALF_OPEN episode (budget {budget})"
                    )
                })
            }
        }
    }
}
