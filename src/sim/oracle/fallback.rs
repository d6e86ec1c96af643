//! `fallback_isolates_primary`, `fallback_false_propagates` and `fallback_warns`: what the
//! `BootstrapConfig` promises callers and operators, judged from the primary operations'
//! timing (when each caller got its result) and from every awaited client: the entities'
//! observability clients with fallback off, and every tenant ledger's flush client.

use super::{not_applicable, verdict, FirstViolation, RunEnd};
use crate::ledgers::MessageKey;
use crate::model::FactId;
use crate::runtime::observe::{Observation, OpKind};
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The three fallback invariants.
pub(super) struct FallbackChecker {
    fallback_on_failure: bool,
    warn_on_fallback: bool,
    /// Shared by the checkers (a million entities' roles are worth one copy).
    roles: Arc<Roles>,
    /// Fallback on: an operation that waited for, or failed from, observability.
    isolation: FirstViolation,
    /// Every awaited client.
    propagation: Propagation,
    /// Fallback drops observed.
    drops: u64,
}

/// What `fallback_false_propagates` follows.
#[derive(Default)]
struct Propagation {
    /// Messages whose error surfaced, with their caller and when (first error).
    errored: BTreeMap<MessageKey, (ActorIdx, u64)>,
    /// When each awaited SDK fact was first stored. Lookup only. Only awaited facts are
    /// looked up (an operation waits for its awaited emissions, errors surface for awaited
    /// messages), and an awaited fact is attempted before it can be stored; a fleet of
    /// fire-and-forget facts keeps nothing here.
    stored_at_ms: FxHashMap<FactId, u64>,
    /// Flush ids the platform stored. Lookup only.
    flushes_stored: FxHashSet<String>,
    /// Messages a target acknowledged to their client (stored, or a queue's send). Lookup only.
    acknowledged: FxHashSet<MessageKey>,
    restarted_at: BTreeMap<ActorIdx, u64>,
    /// Messages attempted by an awaited client. Lookup only.
    awaited_keys: FxHashSet<MessageKey>,
    /// Failed deliveries of awaited messages: the error settles in the same step, right after
    /// the outcome, so they are judged at the end.
    failures: Vec<(MessageKey, ActorIdx, u64)>,
    violation: FirstViolation,
}

impl FallbackChecker {
    pub(super) fn new(scenario: &Scenario, roles: &Arc<Roles>) -> Self {
        Self {
            fallback_on_failure: scenario.sdk.fallback_on_failure,
            warn_on_fallback: scenario.sdk.warn_on_fallback,
            roles: roles.clone(),
            isolation: FirstViolation::default(),
            propagation: Propagation::default(),
            drops: 0,
        }
    }

    /// Whether any client of the run is awaited: the observability clients with fallback off,
    /// the tenant ledgers' flush clients.
    fn has_awaited_clients(&self) -> bool {
        !self.fallback_on_failure || !self.roles.tenants.is_empty()
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if matches!(observation, Observation::Dropped { .. }) {
            self.drops += 1;
        }
        if self.fallback_on_failure {
            self.observe_isolation(observation);
        }
        if self.has_awaited_clients() {
            let fallback_off = !self.fallback_on_failure;
            self.propagation
                .observe(&self.roles, fallback_off, observation);
        }
    }

    fn observe_isolation(&mut self, observation: &Observation<'_>) {
        if self.isolation.found() {
            return;
        }
        let Observation::PrimaryOp {
            entity,
            kind,
            started_ms,
            done_ms,
            ok,
            waiting,
            ..
        } = *observation
        else {
            return;
        };
        let what = format!("at {started_ms} ms entity #{entity}'s {}", kind.name());
        let violation = if waiting {
            Some(format!(
                "{what} was still waiting for an observability delivery at the end of the run"
            ))
        } else if done_ms > started_ms {
            Some(format!(
                "{what} returned to its caller {} ms later, after waiting for an observability delivery",
                done_ms - started_ms
            ))
        } else {
            (!ok).then(|| format!("{what} returned an observability error to its caller"))
        };
        self.isolation.note(violation);
    }

    pub(super) fn verdicts(&self, run: &RunEnd<'_>) -> [InvariantResult; 3] {
        [
            self.isolates_primary(run),
            self.false_propagates(run),
            self.warns(run),
        ]
    }

    /// Fallback on: every primary operation returned to its caller at once, without an
    /// observability error, and none failed.
    fn isolates_primary(&self, run: &RunEnd<'_>) -> InvariantResult {
        const NAME: &str = "fallback_isolates_primary";
        if !self.fallback_on_failure {
            return not_applicable(NAME, "fallback_on_failure = false");
        }
        let failed = run.counters.primary_ops_failed;
        let violation = self
            .isolation
            .0
            .clone()
            .or_else(|| (failed > 0).then(|| format!("{failed} primary operations failed")));
        verdict(NAME, violation)
    }

    /// Every awaited client (fallback off: the observability clients; always: the tenant
    /// flush clients): nothing is dropped; every failed delivery surfaced an error to a
    /// waiting caller no later than the failure; every message whose error surfaced was later
    /// stored (unless its entity restarted since), or is still held at the end; an operation
    /// that returned without an error did so only once its SDK facts were stored.
    fn false_propagates(&self, run: &RunEnd<'_>) -> InvariantResult {
        const NAME: &str = "fallback_false_propagates";
        if !self.has_awaited_clients() {
            return not_applicable(NAME, "fallback_on_failure = true and no tenant ledgers");
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
    fn observe(&mut self, roles: &Roles, fallback_off: bool, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            // What a client held in memory is gone from a kill or an idle eviction on (the
            // start that follows, if any, is later).
            Observation::Started { at_ms, actor } | Observation::Killed { at_ms, actor, .. } => {
                self.restarted_at.insert(actor, at_ms);
            }
            Observation::Dropped {
                at_ms,
                caller,
                target,
                key,
                ..
            } if fallback_off && roles.is_observability(caller, target) => {
                self.violation.note(Some(format!(
                    "at {at_ms} ms entity #{caller} dropped {key}"
                )));
            }
            Observation::Attempt {
                key, awaited: true, ..
            } => {
                self.awaited_keys.insert(key.clone());
            }
            Observation::Settled {
                at_ms,
                caller,
                key,
                ok: false,
            } => {
                self.errored.entry(key.clone()).or_insert((caller, at_ms));
            }
            Observation::Outcome {
                at_ms,
                caller,
                key,
                ok: false,
                ..
            } if self.awaited_keys.contains(key) => {
                self.failures.push((key.clone(), caller, at_ms));
            }
            Observation::Outcome { key, ok: true, .. } if self.awaited_keys.contains(key) => {
                self.acknowledged.insert(key.clone());
            }
            Observation::Stored { at_ms, fact, .. }
                if !self.stored_at_ms.contains_key(&fact.id)
                    && self
                        .awaited_keys
                        .contains(&MessageKey::Fact(fact.id.clone())) =>
            {
                self.stored_at_ms.insert(fact.id.clone(), at_ms);
            }
            Observation::PayloadStored { payload, .. } => {
                self.flushes_stored.insert(payload.flush_id.clone());
            }
            Observation::PrimaryOp {
                entity,
                kind,
                done_ms,
                ok: true,
                waiting: false,
                keys,
                ..
            } => {
                let early = self.returned_early(entity, kind, done_ms, keys);
                self.violation.note(early);
            }
            _ => {}
        }
    }

    /// An operation that returned without an error at `done_ms` before one of its SDK facts was
    /// stored.
    fn returned_early(
        &self,
        entity: ActorIdx,
        kind: OpKind,
        done_ms: u64,
        keys: &[MessageKey],
    ) -> Option<String> {
        let early = keys.iter().find_map(|key| match key {
            MessageKey::Fact(id) => self
                .stored_at_ms
                .get(id)
                .is_none_or(|stored_ms| *stored_ms > done_ms)
                .then_some(id),
            MessageKey::Flush(_) => None,
        });
        early.map(|id| {
            format!(
                "at {done_ms} ms entity #{entity}'s {} returned to its caller before its SDK fact {id} was stored",
                kind.name()
            )
        })
    }

    /// A failed delivery no error reached a caller for.
    fn silent(&self) -> Option<String> {
        let silent = self.failures.iter().find(|(key, _, at_ms)| {
            self.errored
                .get(key)
                .is_none_or(|(_, error_ms)| error_ms > at_ms)
        });
        silent.map(|(key, caller, at_ms)| {
            format!(
                "at {at_ms} ms the delivery of {key} by actor #{caller} failed and no error reached a caller"
            )
        })
    }

    /// A message whose error surfaced and that was never stored, lost with a restart or kept.
    fn lost(&self, run: &RunEnd<'_>) -> Option<String> {
        let buffered: BTreeSet<&MessageKey> = run
            .end
            .buffered_keys
            .iter()
            .map(|(_, key, _)| key)
            .collect();
        let pending: BTreeSet<&str> = run
            .end
            .tenants
            .values()
            .flat_map(|tenant| {
                tenant
                    .pending
                    .iter()
                    .map(|payload| payload.flush_id.as_str())
            })
            .collect();
        let lost = self.errored.iter().find(|(key, (caller, at_ms))| {
            let restarted_since = self
                .restarted_at
                .get(caller)
                .is_some_and(|restart_ms| restart_ms >= at_ms);
            let kept = match key {
                MessageKey::Fact(id) => {
                    self.stored_at_ms.contains_key(id) || restarted_since || buffered.contains(key)
                }
                MessageKey::Flush(flush_id) => {
                    self.flushes_stored.contains(flush_id) || pending.contains(flush_id.as_str())
                }
            };
            !kept && !self.acknowledged.contains(*key)
        });
        lost.map(|(key, (caller, at_ms))| {
            format!("{key} (actor #{caller}) surfaced an error at {at_ms} ms and was never delivered, lost or kept")
        })
    }
}

#[cfg(test)]
mod tests {
    //! The checks no bundled scenario or planted bug reaches alone (mutation testing found
    //! them unguarded): fed the observations directly.

    use super::*;
    use crate::runtime::world::EndOfRun;
    use crate::runtime::Counters;

    fn verdicts(checker: &FallbackChecker, counters: &Counters) -> [InvariantResult; 3] {
        checker.verdicts(&RunEnd {
            end: &EndOfRun::default(),
            counters,
            warnings_logged: 0,
            latencies: &BTreeMap::new(),
        })
    }

    #[test]
    fn fallback_off_an_operation_that_returns_before_its_fact_is_stored_fails_propagation() {
        let mut checker = fallback_off();
        let keys = [MessageKey::Fact(FactId::new("entity:t0/a", 3))];
        checker.observe(&Observation::PrimaryOp {
            entity: 1,
            kind: OpKind::Append,
            started_ms: 10,
            done_ms: 20,
            ok: true,
            waiting: false,
            keys: &keys,
        });
        let [_, propagates, _] = verdicts(&checker, &Counters::default());
        assert!(!propagates.passed);
        assert!(
            propagates
                .detail
                .contains("returned to its caller before its SDK fact"),
            "{}",
            propagates.detail
        );
    }

    #[test]
    fn an_error_surfaced_then_lost_with_a_restart_is_no_violation() {
        let mut checker = fallback_off();
        let key = MessageKey::Fact(FactId::new("entity:t0/a", 3));
        checker.observe(&Observation::Settled {
            at_ms: 10,
            caller: 1,
            key: &key,
            ok: false,
        });
        checker.observe(&Observation::Started {
            at_ms: 20,
            actor: 1,
        });
        let [_, propagates, _] = verdicts(&checker, &Counters::default());
        assert!(propagates.passed, "{}", propagates.detail);
        // Without the restart, the same error is a message never delivered.
        let mut checker = fallback_off();
        checker.observe(&Observation::Settled {
            at_ms: 10,
            caller: 1,
            key: &key,
            ok: false,
        });
        let [_, propagates, _] = verdicts(&checker, &Counters::default());
        assert!(
            propagates
                .detail
                .contains("was never delivered, lost or kept"),
            "{}",
            propagates.detail
        );
    }

    #[test]
    fn fallback_on_a_failed_primary_operation_fails_isolation() {
        let checker = FallbackChecker::new(&Scenario::new("t", 60_000), &Arc::default());
        let counters = Counters {
            primary_ops_failed: 2,
            ..Counters::default()
        };
        let [isolates, _, _] = verdicts(&checker, &counters);
        assert!(!isolates.passed);
        assert_eq!(isolates.detail, "2 primary operations failed");
        let [isolates, _, _] = verdicts(&checker, &Counters::default());
        assert!(isolates.passed);
    }

    /// Fallback on: an operation that returned later than it started waited for an
    /// observability delivery; one that returned at once without an error did not.
    #[test]
    fn fallback_on_an_operation_that_waited_fails_isolation() {
        let scenario = Scenario::new("t", 60_000);
        let op = |started_ms, done_ms| Observation::PrimaryOp {
            entity: 3,
            kind: OpKind::Append,
            started_ms,
            done_ms,
            ok: true,
            waiting: false,
            keys: &[],
        };
        let mut prompt = FallbackChecker::new(&scenario, &Arc::default());
        prompt.observe(&op(1_000, 1_000));
        let [isolates, _, _] = verdicts(&prompt, &Counters::default());
        assert!(isolates.passed, "{}", isolates.detail);
        let mut waited = FallbackChecker::new(&scenario, &Arc::default());
        waited.observe(&op(1_000, 1_250));
        let [isolates, _, _] = verdicts(&waited, &Counters::default());
        assert!(!isolates.passed);
        assert!(
            isolates
                .detail
                .contains("returned to its caller 250 ms later"),
            "{}",
            isolates.detail
        );
    }

    /// Fallback off, an awaited message sent and answered: `(attempt, outcome)` observations.
    fn delivery(key: &MessageKey, ok: bool) -> [Observation<'_>; 2] {
        [
            Observation::Attempt {
                at_ms: 10,
                caller: 1,
                target: Some(0),
                key,
                awaited: true,
                observations: 0,
            },
            Observation::Outcome {
                at_ms: 15,
                caller: 1,
                target: Some(0),
                key,
                ok,
            },
        ]
    }

    fn fallback_off() -> FallbackChecker {
        let mut scenario = Scenario::new("t", 60_000);
        scenario.sdk.fallback_on_failure = false;
        FallbackChecker::new(&scenario, &Arc::default())
    }

    /// A failed delivery of an awaited message must surface as an error to a caller.
    #[test]
    fn fallback_off_a_failed_delivery_no_error_reached_fails_propagation() {
        let key = MessageKey::Fact(FactId::new("entity:t0/a", 3));
        let mut silent = fallback_off();
        for observation in delivery(&key, false) {
            silent.observe(&observation);
        }
        let [_, propagates, _] = verdicts(&silent, &Counters::default());
        assert!(
            propagates.detail.contains("no error reached a caller"),
            "{}",
            propagates.detail
        );
        let mut surfaced = fallback_off();
        for observation in delivery(&key, false) {
            surfaced.observe(&observation);
        }
        surfaced.observe(&Observation::Settled {
            at_ms: 15,
            caller: 1,
            key: &key,
            ok: false,
        });
        // Then delivered on a resend and acknowledged: neither silent nor lost.
        for observation in delivery(&key, true) {
            surfaced.observe(&observation);
        }
        let [_, propagates, _] = verdicts(&surfaced, &Counters::default());
        assert!(propagates.passed, "{}", propagates.detail);
    }
}
