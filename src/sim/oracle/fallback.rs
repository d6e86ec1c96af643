//! `fallback_isolates_primary`, `fallback_false_propagates` and `fallback_warns`: what the
//! `BootstrapConfig` promises callers and operators.

use super::{not_applicable, verdict, FirstViolation, RunEnd};
use crate::ledgers::MessageKey;
use crate::model::FactId;
use crate::runtime::observe::Observation;
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

/// The three fallback invariants.
pub(super) struct FallbackChecker {
    fallback_on_failure: bool,
    warn_on_fallback: bool,
    roles: Roles,
    /// Fallback on: an observability delivery awaited by its operation.
    awaited: FirstViolation,
    /// Fallback off.
    propagation: Propagation,
    /// Fallback drops observed.
    drops: u64,
}

/// What `fallback_false_propagates` follows.
#[derive(Default)]
struct Propagation {
    /// Facts whose error surfaced, with their entity and when.
    errored: BTreeMap<FactId, (ActorIdx, u64)>,
    stored: BTreeSet<FactId>,
    restarted_at: BTreeMap<ActorIdx, u64>,
    awaited_keys: BTreeSet<FactId>,
    /// Failed deliveries of awaited facts: the error settles in the same step, right after
    /// the outcome, so they are judged at the end.
    failures: Vec<(FactId, ActorIdx, u64)>,
    violation: FirstViolation,
}

impl FallbackChecker {
    pub(super) fn new(scenario: &Scenario, roles: &Roles) -> Self {
        Self {
            fallback_on_failure: scenario.sdk.fallback_on_failure,
            warn_on_fallback: scenario.sdk.warn_on_fallback,
            roles: roles.clone(),
            awaited: FirstViolation::default(),
            propagation: Propagation::default(),
            drops: 0,
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if matches!(observation, Observation::Dropped { .. }) {
            self.drops += 1;
        }
        if self.fallback_on_failure {
            self.observe_isolation(observation);
        } else {
            self.propagation.observe(&self.roles, observation);
        }
    }

    fn observe_isolation(&mut self, observation: &Observation<'_>) {
        if self.awaited.found() {
            return;
        }
        if let Observation::Attempt {
            at_ms,
            caller,
            target,
            awaited: true,
            ..
        } = *observation
        {
            if self.roles.is_observability(caller, target) {
                self.awaited.note(Some(format!(
                    "at {at_ms} ms entity #{caller} made its operation wait on an observability delivery"
                )));
            }
        }
    }

    pub(super) fn verdicts(&self, run: &RunEnd<'_>) -> [InvariantResult; 3] {
        [
            self.isolates_primary(run),
            self.false_propagates(run),
            self.warns(run),
        ]
    }

    /// Fallback on: no observability delivery is awaited by the operation that emitted it,
    /// and no primary operation failed.
    fn isolates_primary(&self, run: &RunEnd<'_>) -> InvariantResult {
        const NAME: &str = "fallback_isolates_primary";
        if !self.fallback_on_failure {
            return not_applicable(NAME, "fallback_on_failure = false");
        }
        let failed = run.counters.primary_ops_failed;
        let violation = self
            .awaited
            .0
            .clone()
            .or_else(|| (failed > 0).then(|| format!("{failed} primary operations failed")));
        verdict(NAME, violation)
    }

    /// Fallback off: nothing is dropped; every delivery failure of an SDK fact surfaced an
    /// error to a waiting caller no later than the failure; every fact whose error surfaced
    /// was later stored (unless its entity restarted since, or it is still held at the end).
    fn false_propagates(&self, run: &RunEnd<'_>) -> InvariantResult {
        const NAME: &str = "fallback_false_propagates";
        if self.fallback_on_failure {
            return not_applicable(NAME, "fallback_on_failure = true");
        }
        let propagation = &self.propagation;
        if propagation.violation.found() {
            return verdict(NAME, propagation.violation.0.clone());
        }
        verdict(NAME, propagation.silent().or_else(|| propagation.lost(run)))
    }

    /// One warning logged per fallback drop when `warn_on_fallback`, none when not.
    fn warns(&self, run: &RunEnd<'_>) -> InvariantResult {
        let drops = self.drops;
        let expected = if self.warn_on_fallback { drops } else { 0 };
        let logged = run.warnings_logged;
        verdict(
            "fallback_warns",
            (logged != expected).then(|| {
                format!(
                    "{logged} fallback warnings logged for {drops} drops (warn_on_fallback = {})",
                    self.warn_on_fallback
                )
            }),
        )
    }
}

impl Propagation {
    fn observe(&mut self, roles: &Roles, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            Observation::Started { at_ms, actor } => {
                self.restarted_at.insert(actor, at_ms);
            }
            Observation::Dropped {
                at_ms,
                caller,
                target,
                key,
                ..
            } if roles.is_observability(caller, target) => {
                self.violation.note(Some(format!(
                    "at {at_ms} ms entity #{caller} dropped {key}"
                )));
            }
            Observation::Attempt {
                caller,
                target,
                key: MessageKey::Fact(id),
                ..
            } if roles.is_observability(caller, target) => {
                self.awaited_keys.insert(id.clone());
            }
            Observation::Settled {
                at_ms,
                caller,
                key: MessageKey::Fact(id),
                ok: false,
            } => {
                self.errored.entry(id.clone()).or_insert((caller, at_ms));
            }
            Observation::Outcome {
                at_ms,
                caller,
                key: MessageKey::Fact(id),
                ok: false,
                ..
            } if self.awaited_keys.contains(id) => {
                self.failures.push((id.clone(), caller, at_ms));
            }
            Observation::Stored { fact, .. } => {
                self.stored.insert(fact.id.clone());
            }
            _ => {}
        }
    }

    /// A failed delivery no error reached a caller for.
    fn silent(&self) -> Option<String> {
        let silent = self.failures.iter().find(|(id, _, at_ms)| {
            self.errored
                .get(id)
                .is_none_or(|(_, error_ms)| error_ms > at_ms)
        });
        silent.map(|(id, caller, at_ms)| {
            format!(
                "at {at_ms} ms the delivery of {id} by entity #{caller} failed and no error reached a caller"
            )
        })
    }

    /// A fact whose error surfaced and that was never delivered, lost with a restart or kept.
    fn lost(&self, run: &RunEnd<'_>) -> Option<String> {
        let buffered: BTreeSet<&MessageKey> = run
            .end
            .buffered_keys
            .iter()
            .map(|(_, key, _)| key)
            .collect();
        let lost = self.errored.iter().find(|(id, (caller, at_ms))| {
            let restarted_since = self
                .restarted_at
                .get(caller)
                .is_some_and(|restart_ms| restart_ms >= at_ms);
            !self.stored.contains(*id)
                && !restarted_since
                && !buffered.contains(&MessageKey::Fact((*id).clone()))
        });
        lost.map(|(id, (caller, at_ms))| {
            format!("{id} (entity #{caller}) surfaced an error at {at_ms} ms and was never delivered, lost or kept")
        })
    }
}
