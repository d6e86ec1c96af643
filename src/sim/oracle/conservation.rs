//! `observability_conserved`: every observation (hit, miss, append) an entity with stats
//! tracking generated lands in exactly one of: delivered (stored by the receiver), dropped
//! (with reason), lost with a restart, or still buffered at the end.

use super::fact_keys::{FactKey, FactKeys, KeySet};
use super::verdict;
use crate::ledgers::MessageKey;
use crate::runtime::observe::Observation;
use crate::runtime::world::EndOfRun;
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::sync::Arc;

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

/// One fact: its entity, its observations, its fate (16 bytes: a million entities' facts are
/// kept for the whole run).
#[derive(Clone, Copy, Debug)]
struct FactLedger {
    observations: u64,
    /// The entity that emitted it, or [`NO_ENTITY`] while unknown.
    entity: u32,
    fate: Fate,
}

/// No entity known yet.
const NO_ENTITY: u32 = u32::MAX;

impl Default for FactLedger {
    fn default() -> Self {
        Self {
            observations: 0,
            entity: NO_ENTITY,
            fate: Fate::default(),
        }
    }
}

impl FactLedger {
    fn settle(&mut self, fate: Fate) {
        self.fate = self.fate.max(fate);
    }

    fn set_entity(&mut self, entity: ActorIdx) {
        self.entity = u32::try_from(entity).expect("fewer than 2^32 actors");
    }

    fn entity(&self) -> Option<ActorIdx> {
        (self.entity != NO_ENTITY).then_some(self.entity as ActorIdx)
    }
}

/// Every SDK fact's observations and fate, and the open periods lost with restarts. The
/// maps by fact are only looked up and summed (a sum does not depend on order), so fixed-hasher
/// maps keep the verdict deterministic.
///
/// Streaming: a fact stored by its receiver whose entity is known has its final fate
/// (delivered is the last in [`Fate`]'s order, so nothing after it changes the fate), and its
/// observations are its own, the same in every event about it. So it is counted for its
/// entity at once and kept only as a bit in `delivered`; later events about it (a resend after
/// a lost acknowledgement, its loss from a backlog) are ignored, which is what the fate's
/// order would make of them. Only facts without that final fate stay in `facts`.
pub(super) struct ConservationChecker {
    /// Shared by the checkers (a million entities' roles are worth one copy).
    roles: Arc<Roles>,
    /// The facts not yet counted.
    facts: FxHashMap<FactKey, FactLedger>,
    /// The facts delivered and counted, by emitter number.
    delivered: KeySet<u32>,
    /// Per entity, the observations of its delivered facts.
    delivered_observations: FxHashMap<ActorIdx, u64>,
    /// Per entity, its facts on the network without an outcome yet.
    in_flight: FxHashMap<ActorIdx, FxHashSet<FactKey>>,
    lost_open: BTreeMap<ActorIdx, u64>,
    /// Per entity, the part of `lost_open` lost to idle evictions (named in a violation).
    lost_open_idle: BTreeMap<ActorIdx, u64>,
}

impl ConservationChecker {
    pub(super) fn new(roles: &Arc<Roles>) -> Self {
        Self {
            roles: roles.clone(),
            facts: FxHashMap::default(),
            delivered: KeySet::default(),
            delivered_observations: FxHashMap::default(),
            in_flight: FxHashMap::default(),
            lost_open: BTreeMap::new(),
            lost_open_idle: BTreeMap::new(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>, keys: &mut FactKeys) {
        match *observation {
            Observation::Attempt {
                caller,
                target,
                key: MessageKey::Fact(id),
                observations,
                ..
            } if self.roles.is_observability(caller, target) => {
                let key = keys.key(id);
                if self.is_delivered(key) {
                    return;
                }
                let fact = self.facts.entry(key).or_default();
                fact.set_entity(caller);
                fact.observations = observations;
                self.in_flight.entry(caller).or_default().insert(key);
            }
            Observation::Outcome {
                caller,
                key: MessageKey::Fact(id),
                ..
            } => {
                if let (Some(pending), Some(key)) = (self.in_flight.get_mut(&caller), keys.find(id))
                {
                    pending.remove(&key);
                }
            }
            Observation::Dropped {
                caller,
                target,
                key: MessageKey::Fact(id),
                observations,
                ..
            } if self.roles.is_observability(caller, target) => {
                let key = keys.key(id);
                if self.is_delivered(key) {
                    return;
                }
                let fact = self.facts.entry(key).or_default();
                fact.set_entity(caller);
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
                self.killed(actor, open_observations, backlog, keys);
            }
            Observation::Stored { fact, .. } => self.stored(keys.key(&fact.id)),
            _ => {}
        }
    }

    fn is_delivered(&self, key: FactKey) -> bool {
        self.delivered.contains(key.emitter(), key.seq())
    }

    /// A receiver stored the fact of `key`: counted at once if its entity is known (see the
    /// type's documentation), else kept with its fate until the end.
    fn stored(&mut self, key: FactKey) {
        if self.is_delivered(key) {
            return;
        }
        let fact = self.facts.entry(key).or_default();
        fact.settle(Fate::Delivered);
        let Some(entity) = fact.entity() else {
            return;
        };
        *self.delivered_observations.entry(entity).or_default() += fact.observations;
        self.facts.remove(&key);
        self.delivered.insert(key.emitter(), key.seq());
    }

    /// The fact of `key` met `fate` (unless it was delivered and counted already).
    fn settle(&mut self, key: FactKey, fate: Fate) {
        if !self.is_delivered(key) {
            self.facts.entry(key).or_default().settle(fate);
        }
    }

    fn killed(
        &mut self,
        actor: ActorIdx,
        open_observations: u64,
        backlog: &[(MessageKey, u64)],
        keys: &mut FactKeys,
    ) {
        *self.lost_open.entry(actor).or_default() += open_observations;
        for (key, observations) in backlog {
            if let MessageKey::Fact(id) = key {
                let key = keys.key(id);
                if self.is_delivered(key) {
                    continue;
                }
                let fact = self.facts.entry(key).or_default();
                fact.set_entity(actor);
                fact.observations = *observations;
                fact.settle(Fate::Lost);
            }
        }
        for key in self.in_flight.remove(&actor).unwrap_or_default() {
            self.settle(key, Fate::Lost);
        }
    }

    pub(super) fn conserved(&mut self, end: &EndOfRun, keys: &mut FactKeys) -> InvariantResult {
        for key in std::mem::take(&mut self.in_flight).into_values().flatten() {
            self.settle(key, Fate::Buffered);
        }
        for (entity, key, observations) in &end.buffered_keys {
            if let MessageKey::Fact(id) = key {
                let key = keys.key(id);
                if self.is_delivered(key) {
                    continue;
                }
                let fact = self.facts.entry(key).or_default();
                // A fact that never left its client is known from here only.
                fact.set_entity(*entity);
                fact.observations = fact.observations.max(*observations);
                fact.settle(Fate::Buffered);
            }
        }
        let mut accounted: BTreeMap<ActorIdx, u64> =
            std::mem::take(&mut self.delivered_observations)
                .into_iter()
                .collect();
        for fact in self.facts.values() {
            let Some(entity) = fact.entity() else {
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
