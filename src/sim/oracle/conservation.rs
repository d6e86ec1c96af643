//! `observability_conserved`: every observation (hit, miss, append) an entity with stats
//! tracking generated lands in exactly one of: delivered (stored by the receiver), dropped
//! (with reason), lost with a restart, or still buffered at the end.

use super::verdict;
use crate::ledgers::MessageKey;
use crate::model::FactId;
use crate::runtime::observe::Observation;
use crate::runtime::world::EndOfRun;
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// Where an SDK fact ended, by ground truth; the first that applies wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Nobody saw it end.
    #[default]
    Unaccounted,
    /// Dropped by its client (fallback on).
    Dropped,
    /// Lost with a restart of its entity (unsent, or in flight and never stored).
    Lost,
    /// Still held or in flight at the end.
    Buffered,
    /// Stored by its receiver.
    Delivered,
}

#[derive(Clone, Copy, Debug, Default)]
struct FactLedger {
    entity: Option<ActorIdx>,
    observations: u64,
    fate: Fate,
}

impl FactLedger {
    fn settle(&mut self, fate: Fate) {
        self.fate = self.fate.max(fate);
    }
}

/// Every SDK fact's observations and fate, and the open periods lost with restarts. The
/// maps by fact are only looked up and summed (a sum does not depend on order), so fixed-hasher
/// maps keep the verdict deterministic.
pub(super) struct ConservationChecker {
    roles: Roles,
    facts: FxHashMap<FactId, FactLedger>,
    /// Per entity, its facts on the network without an outcome yet.
    in_flight: FxHashMap<ActorIdx, FxHashSet<FactId>>,
    lost_open: BTreeMap<ActorIdx, u64>,
    /// Per entity, the part of `lost_open` lost to idle evictions (named in a violation).
    lost_open_idle: BTreeMap<ActorIdx, u64>,
}

impl ConservationChecker {
    pub(super) fn new(roles: &Roles) -> Self {
        Self {
            roles: roles.clone(),
            facts: FxHashMap::default(),
            in_flight: FxHashMap::default(),
            lost_open: BTreeMap::new(),
            lost_open_idle: BTreeMap::new(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        match *observation {
            Observation::Attempt {
                caller,
                target,
                key: MessageKey::Fact(id),
                observations,
                ..
            } if self.roles.is_observability(caller, target) => {
                let fact = self.facts.entry(id.clone()).or_default();
                fact.entity = Some(caller);
                fact.observations = observations;
                self.in_flight.entry(caller).or_default().insert(id.clone());
            }
            Observation::Outcome {
                caller,
                key: MessageKey::Fact(id),
                ..
            } => {
                if let Some(pending) = self.in_flight.get_mut(&caller) {
                    pending.remove(id);
                }
            }
            Observation::Dropped {
                caller,
                target,
                key: MessageKey::Fact(id),
                observations,
                ..
            } if self.roles.is_observability(caller, target) => {
                let fact = self.facts.entry(id.clone()).or_default();
                fact.entity = Some(caller);
                if let Some(observations) = observations {
                    fact.observations = observations;
                }
                fact.settle(Fate::Dropped);
            }
            Observation::Killed {
                actor,
                open_observations,
                backlog,
                idle,
                ..
            } => {
                if idle {
                    *self.lost_open_idle.entry(actor).or_default() += open_observations;
                }
                self.killed(actor, open_observations, backlog);
            }
            Observation::Stored { fact, .. } => {
                self.facts
                    .entry(fact.id.clone())
                    .or_default()
                    .settle(Fate::Delivered);
            }
            _ => {}
        }
    }

    fn killed(&mut self, actor: ActorIdx, open_observations: u64, backlog: &[(MessageKey, u64)]) {
        *self.lost_open.entry(actor).or_default() += open_observations;
        for (key, observations) in backlog {
            if let MessageKey::Fact(id) = key {
                let fact = self.facts.entry(id.clone()).or_default();
                fact.entity = Some(actor);
                fact.observations = *observations;
                fact.settle(Fate::Lost);
            }
        }
        for id in self.in_flight.remove(&actor).unwrap_or_default() {
            self.facts.entry(id).or_default().settle(Fate::Lost);
        }
    }

    pub(super) fn conserved(&mut self, end: &EndOfRun) -> InvariantResult {
        for id in std::mem::take(&mut self.in_flight).into_values().flatten() {
            self.facts.entry(id).or_default().settle(Fate::Buffered);
        }
        for (entity, key, observations) in &end.buffered_keys {
            if let MessageKey::Fact(id) = key {
                let fact = self.facts.entry(id.clone()).or_default();
                // A fact that never left its client is known from here only.
                fact.entity = Some(*entity);
                fact.observations = fact.observations.max(*observations);
                fact.settle(Fate::Buffered);
            }
        }
        let mut accounted: BTreeMap<ActorIdx, u64> = BTreeMap::new();
        for fact in self.facts.values() {
            let Some(entity) = fact.entity else {
                continue;
            };
            if fact.fate == Fate::Unaccounted {
                continue;
            }
            *accounted.entry(entity).or_default() += fact.observations;
        }
        let violation = end.generated.iter().find_map(|(entity, generated)| {
            let in_facts = accounted.get(entity).copied().unwrap_or(0);
            let lost = self.lost_open.get(entity).copied().unwrap_or(0);
            let open = end.open_at_end.get(entity).copied().unwrap_or(0);
            let total = in_facts + lost + open;
            let idle = self.lost_open_idle.get(entity).copied().unwrap_or(0);
            (total != *generated).then(|| {
                format!(
                    "entity #{entity}: generated {generated} observations, accounted for {total} (in facts {in_facts}, lost in open periods {lost} of which {idle} to idle evictions, open at the end {open})"
                )
            })
        });
        verdict("observability_conserved", violation)
    }
}
