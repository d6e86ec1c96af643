//! The oracle: the invariants of docs/reference/invariants.md judged from what the simulation observed (attempts
//! that went onto the network, their network outcomes, what receivers stored, breaker
//! transitions, tenant alarm states), from the warnings actually logged through `tracing` and
//! from the state at the end of the run, never from the ledgers' own counters.
//!
//! One checker per family of invariants, each fed every observation as it happens (the oracle
//! is the run's [`Observer`]), keeping only what its invariants need; the whole observation log
//! is never held. Each invariant's verdict carries its first violation as detail.
//!
//! | file | invariants |
//! |---|---|
//! | `breaker` | `breaker_transitions_legal`, `breaker_blocks_when_open` |
//! | `threshold` | `breaker_opens_on_threshold` (against the reference breaker) |
//! | `liveness` | `breaker_recovers` |
//! | `fallback` | `fallback_isolates_primary`, `fallback_false_propagates`, `fallback_warns` |
//! | `stats` | `stats_interval_respected` |
//! | `conservation` | `observability_conserved` |
//! | `tenant` | `tenant_totals_match`, `tenant_payloads_conserved`, `tenant_isolation`, `tenant_flush_cadence` |
//! | `durability` | `no_duplicate_facts`, `primary_facts_durable`, `rollup_consistent`, `receiver_storage_durable` |
//! | `reads` | `reads_consistent` |
//! | `hostile` | `hostile_facts_rejected` |
//! | `expect` | one `expect.<counter>` check per `[expect]` key |
//! | `reached` | what interesting things happened (not an invariant) |

mod breaker;
mod conservation;
mod durability;
mod expect;
mod fact_keys;
mod fallback;
mod hostile;
mod liveness;
mod reached;
mod reads;
mod recovery;
pub use recovery::RecoveryMeasure;
mod stats;
mod tenant;
mod threshold;
pub mod words;

pub use liveness::liveness_window_ms;

use crate::ledgers::BreakerState;
use crate::runtime::observe::{Observation, Observer};
use crate::runtime::world::EndOfRun;
use crate::runtime::{ActorIdx, Counters, LatencySummary, Roles};
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use std::collections::BTreeMap;

/// What the oracle learns only once the run is over.
pub struct RunEnd<'a> {
    /// The world's state at the end.
    pub end: &'a EndOfRun,
    /// The report's counters.
    pub counters: &'a Counters,
    /// Fallback warnings actually logged through `tracing`.
    pub warnings_logged: u64,
    /// The run's latency distributions by name (the report's `latency_ms`, `recovery` aside).
    pub latencies: &'a BTreeMap<String, LatencySummary>,
}

/// The verdicts of one run, and what the report shows besides them.
pub struct Judgement {
    /// Every invariant, then `receiver_storage_durable`, then the `[expect]` checks.
    pub invariants: Vec<InvariantResult>,
    /// Acknowledged SDK facts missing from their receiver's storage at the end.
    pub durability_violations: u64,
    /// The interesting things that happened (see [`reached`](self::reached)).
    pub reached: Vec<String>,
    /// What each invariant's detail is about (actors, latest time), in the same order.
    pub focus: Vec<words::Focus>,
    /// Recovery times after the last fault and what did not recover (empty without faults,
    /// or when the run ended before them).
    pub recovery: Vec<RecoveryMeasure>,
}

/// Every checker of a run.
pub struct Oracle {
    scenario: Scenario,
    breaker: breaker::BreakerChecker,
    threshold: threshold::ThresholdChecker,
    liveness: liveness::LivenessChecker,
    fallback: fallback::FallbackChecker,
    stats: stats::StatsChecker,
    conservation: conservation::ConservationChecker,
    tenant: tenant::TenantChecker,
    durability: durability::DurabilityChecker,
    reads: reads::ReadsChecker,
    hostile: hostile::HostileChecker,
    reached: reached::ReachedChecker,
    recovery: recovery::RecoveryTimes,
    /// The SDK facts' compact keys, shared by the checkers that keep facts.
    fact_keys: fact_keys::FactKeys,
    /// Actor names by index, for the violations' words.
    names: Vec<String>,
}

impl Oracle {
    /// The checkers of a run of `scenario` whose actors have these `roles`.
    pub fn new(scenario: &Scenario, roles: &Roles) -> Self {
        let shared = std::sync::Arc::new(roles.clone());
        let roles = &shared;
        Self {
            scenario: scenario.clone(),
            breaker: breaker::BreakerChecker::new(scenario),
            threshold: threshold::ThresholdChecker::new(scenario),
            liveness: liveness::LivenessChecker::new(scenario),
            fallback: fallback::FallbackChecker::new(scenario, roles),
            stats: stats::StatsChecker::new(scenario),
            conservation: conservation::ConservationChecker::new(roles),
            tenant: tenant::TenantChecker::new(scenario, roles),
            durability: durability::DurabilityChecker::default(),
            reads: reads::ReadsChecker::new(roles),
            hostile: hostile::HostileChecker::default(),
            reached: reached::ReachedChecker::default(),
            recovery: recovery::RecoveryTimes::new(scenario, roles),
            fact_keys: fact_keys::FactKeys::default(),
            names: Vec::new(),
        }
    }

    /// The actors' names by index: violations name actors by them.
    pub fn with_names(mut self, names: Vec<String>) -> Self {
        self.names = names;
        self
    }

    /// Judges the run, in a fixed order: the invariants, `receiver_storage_durable`, the
    /// `[expect]` checks.
    pub fn judge(mut self, run: &RunEnd<'_>) -> Judgement {
        let durability_violations = self.durability.missing_at_end(run.end, &self.fact_keys);
        let mut invariants = Vec::with_capacity(24);
        invariants.push(self.breaker.transitions_legal());
        invariants.push(self.threshold.opens_on_threshold());
        invariants.push(self.breaker.blocks_when_open());
        invariants.push(self.liveness.recovers());
        invariants.extend(self.fallback.verdicts(run));
        invariants.push(self.stats.interval_respected());
        invariants.push(self.conservation.conserved(run.end, &mut self.fact_keys));
        invariants.push(self.durability.no_duplicate_facts());
        invariants.extend(self.tenant.verdicts(run.end));
        invariants.push(self.durability.primary_facts_durable(run.end));
        invariants.push(self.durability.rollup_consistent(run.end));
        invariants.push(self.reads.consistent());
        invariants.push(self.hostile.rejected());
        invariants.push(durability::receiver_storage_durable(durability_violations));
        let violations = expect::violations(&self.scenario, &mut invariants);
        invariants.extend(violations);
        let recovery = self.recovery.measures();
        let mut distributions = run.latencies.clone();
        for measure in &recovery {
            distributions.insert(measure.name.to_owned(), measure.summary);
        }
        invariants.extend(expect::checks(
            &self.scenario,
            run.counters,
            &distributions,
            &recovery,
        ));
        let mut focus = Vec::with_capacity(invariants.len());
        for invariant in &mut invariants {
            focus.push(words::focus(&invariant.detail, &self.names));
            let named = words::name_actors(&invariant.detail, &self.names);
            invariant.detail = words::humanize_times(&named);
        }
        Judgement {
            invariants,
            durability_violations,
            reached: self.reached.reached(run.counters),
            focus,
            recovery,
        }
    }
}

impl Observer for Oracle {
    fn observe(&mut self, observation: &Observation<'_>) {
        self.breaker.observe(observation);
        self.threshold.observe(observation);
        self.liveness.observe(observation);
        self.fallback.observe(observation);
        self.stats.observe(observation);
        self.conservation.observe(observation, &mut self.fact_keys);
        self.tenant.observe(observation);
        self.durability.observe(observation, &mut self.fact_keys);
        self.reads.observe(observation);
        self.hostile.observe(observation);
        self.reached.observe(observation);
        self.recovery.observe(observation);
    }
}

/// A verdict: passed without a violation, else failed with it as detail.
fn verdict(name: &str, violation: Option<String>) -> InvariantResult {
    InvariantResult {
        name: name.to_owned(),
        passed: violation.is_none(),
        detail: violation.unwrap_or_default(),
        expected: false,
        skipped: false,
        before: Vec::new(),
    }
}

/// A check that does not apply to this run, and why.
fn not_applicable(name: &str, why: &str) -> InvariantResult {
    InvariantResult {
        name: name.to_owned(),
        passed: true,
        detail: why.to_owned(),
        expected: false,
        skipped: true,
        before: Vec::new(),
    }
}

/// A client: its actor and its target.
type ClientKey = (ActorIdx, Option<ActorIdx>);

/// The clients of `actor` from ordered client keys that start at its first one
/// (`range((actor, None)..)`): a restart looks at its own clients only, not at every client of
/// the run (quadratic with 100,000 entities starting).
fn clients_of<'a>(keys: impl Iterator<Item = &'a ClientKey>, actor: ActorIdx) -> Vec<ClientKey> {
    keys.take_while(|(caller, _)| *caller == actor)
        .copied()
        .collect()
}

/// Breaker states per client as the transitions say, reset when the caller restarts.
#[derive(Default)]
struct BreakerStates(BTreeMap<ClientKey, BreakerState>);

impl BreakerStates {
    fn get(&self, key: ClientKey) -> BreakerState {
        self.0.get(&key).copied().unwrap_or(BreakerState::Closed)
    }

    fn set(&mut self, key: ClientKey, state: BreakerState) {
        self.0.insert(key, state);
    }

    fn restart(&mut self, actor: ActorIdx) {
        for key in clients_of(self.0.range((actor, None)..).map(|(key, _)| key), actor) {
            self.0.remove(&key);
        }
    }
}

/// The first violation of an invariant judged as observations come: once one is found the
/// verdict is settled and later observations are not looked at.
#[derive(Default)]
struct FirstViolation(Option<String>);

impl FirstViolation {
    /// Whether a violation was found.
    fn found(&self) -> bool {
        self.0.is_some()
    }

    /// Keeps `violation` if it is the first.
    fn note(&mut self, violation: Option<String>) {
        if self.0.is_none() {
            self.0 = violation;
        }
    }
}
