//! Recovery times, distributions rather than verdicts, measured from the moment the last fault
//! ended (the first observation at or after it sees the state as it was then):
//!
//! - `recovery`: for every client whose breaker was not CLOSED then, the time until it was
//!   CLOSED again (by a successful probe, or by its actor's restart);
//! - `recovery_backlog`: for every awaited client (`fallback_on_failure = false`) that held
//!   messages then, the time until its backlog was empty (every message delivered, or lost with
//!   a restart of its actor: `observability_conserved` judges that loss, not this);
//! - `recovery_payloads`: for every tenant period that had closed by then with facts stored
//!   at its tenant ledger and no payload at the platform, the time until the platform stored
//!   it.
//!
//! What never recovers by the end of the run is counted apart (`end.breakers_unrecovered`,
//! `end.backlogs_undrained`, `end.payloads_undelivered`) and fails any `[expect]` bound on its
//! distribution.

use super::{clients_of, BreakerStates, ClientKey};
use crate::ledgers::{BreakerState, MessageKey};
use crate::model::Name;
use crate::runtime::observe::Observation;
use crate::runtime::recorder::Latency;
use crate::runtime::{ActorIdx, LatencySummary, Roles};
use crate::sim::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

/// One recovery distribution of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryMeasure {
    /// Its name in the report's `latency_ms` and in `[expect]`.
    pub name: &'static str,
    /// The times of what recovered.
    pub summary: LatencySummary,
    /// What had not recovered by the end of the run.
    pub unrecovered: u64,
    /// What did not recover, in words: "clients never closed their breaker".
    pub unrecovered_words: &'static str,
}

/// The recovery of one run.
pub(super) struct RecoveryTimes {
    /// When the last fault ended; `None`: no faults, nothing to recover from.
    faults_end_ms: Option<u64>,
    /// The first observation at or after `faults_end_ms` has been seen.
    ended: bool,
    breakers: Breakers,
    backlogs: Backlogs,
    payloads: Payloads,
}

impl RecoveryTimes {
    pub(super) fn new(scenario: &Scenario, roles: &Roles) -> Self {
        Self {
            faults_end_ms: scenario.faults.iter().map(|fault| fault.end_ms()).max(),
            ended: false,
            breakers: Breakers::default(),
            backlogs: Backlogs::default(),
            payloads: Payloads {
                tenants: roles.tenants.clone(),
                interval_ms: scenario.sdk.tenant_aggregation_interval_ms,
                periods: BTreeSet::new(),
                waiting: Waiting::default(),
            },
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        let Some(faults_end_ms) = self.faults_end_ms else {
            return;
        };
        if !self.ended && observation_ms(observation).is_some_and(|at_ms| at_ms >= faults_end_ms) {
            self.ended = true;
            self.breakers.faults_ended();
            self.backlogs.faults_ended();
            self.payloads.faults_ended(faults_end_ms);
        }
        self.breakers.observe(observation, faults_end_ms);
        self.backlogs.observe(observation, faults_end_ms);
        self.payloads.observe(observation, faults_end_ms);
    }

    /// The three distributions; empty without faults, or when nothing was observed once they
    /// had ended (the run ended first: no recovery to measure).
    pub(super) fn measures(&self) -> Vec<RecoveryMeasure> {
        if !self.ended {
            return Vec::new();
        }
        vec![
            self.breakers.0.measure(
                "recovery",
                "clients never closed their breaker after the last fault ended",
            ),
            self.backlogs.waiting.measure(
                "recovery_backlog",
                "awaited clients still held messages from before the last fault ended",
            ),
            self.payloads.waiting.measure(
                "recovery_payloads",
                "tenant periods pending when the last fault ended never reached the platform",
            ),
        ]
    }
}

/// What was waiting when the faults ended, until it recovers; the recovery times.
struct Waiting<K> {
    /// `None` before the faults ended.
    keys: Option<BTreeSet<K>>,
    times: Latency,
}

impl<K> Default for Waiting<K> {
    fn default() -> Self {
        Self {
            keys: None,
            times: Latency::default(),
        }
    }
}

impl<K: Ord> Waiting<K> {
    fn start(&mut self, keys: BTreeSet<K>) {
        debug_assert!(self.keys.is_none(), "the faults end once");
        self.keys = Some(keys);
    }

    /// `key` recovered at `at_ms` (nothing when it was not waiting).
    fn recovered(&mut self, key: &K, at_ms: u64, faults_end_ms: u64) {
        if self.keys.as_mut().is_some_and(|keys| keys.remove(key)) {
            self.times.record(at_ms.saturating_sub(faults_end_ms));
        }
    }

    fn measure(&self, name: &'static str, unrecovered_words: &'static str) -> RecoveryMeasure {
        RecoveryMeasure {
            name,
            summary: self.times.summary(),
            unrecovered: self.keys.as_ref().map_or(0, |keys| keys.len() as u64),
            unrecovered_words,
        }
    }
}

/// Clients back to CLOSED.
#[derive(Default)]
struct Breakers(Waiting<ClientKey>, BreakerStates);

impl Breakers {
    fn faults_ended(&mut self) {
        let open = self
            .1
             .0
            .iter()
            .filter(|(_, state)| **state != BreakerState::Closed);
        self.0.start(open.map(|(client, _)| *client).collect());
    }

    fn observe(&mut self, observation: &Observation<'_>, faults_end_ms: u64) {
        match *observation {
            Observation::Transition {
                at_ms,
                caller,
                target,
                to,
                ..
            } => {
                self.1.set((caller, target), to);
                if to == BreakerState::Closed {
                    self.0.recovered(&(caller, target), at_ms, faults_end_ms);
                }
            }
            Observation::Started { at_ms, actor } => {
                let clients = match &self.0.keys {
                    Some(waiting) => clients_of(waiting.range((actor, None)..), actor),
                    None => Vec::new(),
                };
                for client in &clients {
                    self.0.recovered(client, at_ms, faults_end_ms);
                }
                self.1.restart(actor);
            }
            _ => {}
        }
    }
}

/// Awaited clients' backlogs emptied. A message joins its client's backlog when an operation
/// emits it awaited, and leaves it when delivered; a restart of the caller empties them all.
#[derive(Default)]
struct Backlogs {
    held: BTreeMap<ClientKey, BTreeSet<MessageKey>>,
    waiting: Waiting<ClientKey>,
}

impl Backlogs {
    fn faults_ended(&mut self) {
        self.waiting.start(self.held.keys().copied().collect());
    }

    fn observe(&mut self, observation: &Observation<'_>, faults_end_ms: u64) {
        match *observation {
            Observation::Emitted {
                entity,
                target,
                key,
                awaited: true,
                ..
            } => {
                self.held
                    .entry((entity, target))
                    .or_default()
                    .insert(key.clone());
            }
            Observation::Outcome {
                at_ms,
                caller,
                target,
                key,
                ok: true,
            } => {
                let client = (caller, target);
                let Some(held) = self.held.get_mut(&client) else {
                    return;
                };
                held.remove(key);
                if held.is_empty() {
                    self.held.remove(&client);
                    self.waiting.recovered(&client, at_ms, faults_end_ms);
                }
            }
            Observation::Started { at_ms, actor } => {
                let keys = self.held.range((actor, None)..).map(|(client, _)| client);
                for client in clients_of(keys, actor) {
                    self.held.remove(&client);
                    self.waiting.recovered(&client, at_ms, faults_end_ms);
                }
            }
            _ => {}
        }
    }
}

/// Tenant periods at the platform.
struct Payloads {
    tenants: BTreeSet<ActorIdx>,
    interval_ms: u64,
    /// (tenant, period start) of the periods with facts stored at their tenant ledger and no
    /// payload at the platform yet.
    periods: BTreeSet<(Name, u64)>,
    waiting: Waiting<(Name, u64)>,
}

impl Payloads {
    fn faults_ended(&mut self, faults_end_ms: u64) {
        let interval_ms = self.interval_ms;
        let closed = std::mem::take(&mut self.periods)
            .into_iter()
            .filter(|(_, start_ms)| start_ms + interval_ms <= faults_end_ms);
        self.waiting.start(closed.collect());
    }

    fn observe(&mut self, observation: &Observation<'_>, faults_end_ms: u64) {
        match *observation {
            // Only periods that can be pending when the faults end are followed.
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } if self.waiting.keys.is_none() && self.tenants.contains(&receiver) => {
                let period_start_ms = at_ms - at_ms % self.interval_ms;
                self.periods
                    .insert((fact.tenant_id.clone(), period_start_ms));
            }
            Observation::PayloadStored { at_ms, payload } => {
                let period = (Name::from(&payload.tenant_id), payload.period_start_ms);
                self.periods.remove(&period);
                self.waiting.recovered(&period, at_ms, faults_end_ms);
            }
            _ => {}
        }
    }
}

/// When an observation happened (a primary operation's when it returned).
fn observation_ms(observation: &Observation<'_>) -> Option<u64> {
    match *observation {
        Observation::Emitted { at_ms, .. }
        | Observation::Tracking { at_ms, .. }
        | Observation::Rejected { at_ms, .. }
        | Observation::Read { at_ms, .. }
        | Observation::AlarmDeleted { at_ms, .. }
        | Observation::Started { at_ms, .. }
        | Observation::Transition { at_ms, .. }
        | Observation::Attempt { at_ms, .. }
        | Observation::Outcome { at_ms, .. }
        | Observation::Dropped { at_ms, .. }
        | Observation::Hydrated { at_ms, .. }
        | Observation::ChildDelivered { at_ms, .. }
        | Observation::Refused { at_ms, .. }
        | Observation::Killed { at_ms, .. }
        | Observation::Settled { at_ms, .. }
        | Observation::Stored { at_ms, .. }
        | Observation::PayloadStored { at_ms, .. }
        | Observation::HostileSent { at_ms, .. }
        | Observation::TenantState { at_ms, .. } => Some(at_ms),
        Observation::PrimaryOp { done_ms, .. } => Some(done_ms),
    }
}
