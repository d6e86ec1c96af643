//! What storage must keep: `no_duplicate_facts` (no receiver stores a fact twice, the platform
//! counts each flush once), `receiver_storage_durable` (what a receiver acknowledged as stored
//! is still stored at the end), `primary_facts_durable` (every acknowledged append survives
//! every restart) and `rollup_consistent` (parents roll up exactly the child facts they
//! accepted).

use super::fact_keys::{FactKey, FactKeys, KeySet};
use super::{verdict, FirstViolation};
use crate::model::FactId;
use crate::runtime::observe::Observation;
use crate::runtime::world::EndOfRun;
use crate::runtime::ActorIdx;
use crate::sim::report::InvariantResult;
use std::collections::{BTreeMap, BTreeSet};

/// What receivers stored and acknowledged, what entities replayed, what parents accepted.
#[derive(Default)]
pub(super) struct DurabilityChecker {
    /// Every SDK fact a receiver acknowledged as stored, by receiver and emitter number (a
    /// few bytes a fact). Only looked up and counted, never iterated into output, so a
    /// fixed-hasher set is deterministic.
    stored: KeySet<(u32, u32)>,
    /// Every (tenant, flush id) the platform counted.
    flushes: BTreeSet<(String, String)>,
    duplicate: FirstViolation,
    replay: FirstViolation,
    /// Per parent: the child facts it accepted.
    accepted: BTreeMap<ActorIdx, BTreeSet<FactId>>,
}

impl DurabilityChecker {
    pub(super) fn observe(&mut self, observation: &Observation<'_>, keys: &mut FactKeys) {
        match *observation {
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } => {
                let receiver_number = u32::try_from(receiver).expect("fewer than 2^32 actors");
                let key = keys.key(&fact.id);
                let first = self
                    .stored
                    .insert((receiver_number, key.emitter()), key.seq());
                self.duplicate.note((!first).then(|| {
                    format!(
                        "at {at_ms} ms receiver #{receiver} stored {} a second time",
                        fact.id
                    )
                }));
            }
            Observation::PayloadStored { at_ms, payload } => {
                let key = (payload.tenant_id.clone(), payload.flush_id.clone());
                let first = self.flushes.insert(key);
                self.duplicate.note((!first).then(|| {
                    format!(
                        "at {at_ms} ms the platform counted flush {} a second time",
                        payload.flush_id
                    )
                }));
            }
            Observation::Hydrated {
                at_ms,
                actor,
                facts_replayed,
                acknowledged,
            } => {
                self.replay.note((facts_replayed != acknowledged).then(|| {
                    format!(
                        "at {at_ms} ms entity #{actor} replayed {facts_replayed} facts after acknowledging {acknowledged} appends"
                    )
                }));
            }
            Observation::ChildDelivered {
                parent, child_fact, ..
            } => {
                self.accepted
                    .entry(parent)
                    .or_default()
                    .insert(child_fact.clone());
            }
            _ => {}
        }
    }

    /// Acknowledged SDK facts missing from their receiver's storage at the end.
    pub(super) fn missing_at_end(&self, end: &EndOfRun, keys: &FactKeys) -> u64 {
        self.stored
            .iter()
            .filter(|&((receiver, emitter), seq)| {
                end.stored_facts
                    .get(&(receiver as ActorIdx))
                    .is_none_or(|stored| !stored.contains(&keys.id(FactKey::new(emitter, seq))))
            })
            .count() as u64
    }

    pub(super) fn no_duplicate_facts(&self) -> InvariantResult {
        verdict("no_duplicate_facts", self.duplicate.0.clone())
    }

    /// Each start's hydration replays exactly the appends acknowledged before it, and at the
    /// end each entity stores exactly what it acknowledged.
    pub(super) fn primary_facts_durable(&self, end: &EndOfRun) -> InvariantResult {
        let at_end = || {
            end.stored_domain_facts.iter().find_map(|(entity, stored)| {
                let acknowledged = end.acknowledged_appends.get(entity).copied().unwrap_or(0);
                (*stored != acknowledged).then(|| {
                    format!("entity #{entity} stores {stored} facts at the end after acknowledging {acknowledged} appends")
                })
            })
        };
        verdict(
            "primary_facts_durable",
            self.replay.0.clone().or_else(at_end),
        )
    }

    /// Each parent's stored rollups are exactly the child facts it accepted, each once.
    pub(super) fn rollup_consistent(&self, end: &EndOfRun) -> InvariantResult {
        let empty = Vec::new();
        let parents: BTreeSet<ActorIdx> = self
            .accepted
            .keys()
            .chain(end.rollups_stored.keys())
            .copied()
            .collect();
        let violation = parents.into_iter().find_map(|parent| {
            let stored = end.rollups_stored.get(&parent).unwrap_or(&empty);
            let distinct: BTreeSet<&FactId> = stored.iter().collect();
            let wanted: BTreeSet<&FactId> = self
                .accepted
                .get(&parent)
                .map(|accepted| accepted.iter().collect())
                .unwrap_or_default();
            if distinct.len() != stored.len() {
                return Some(format!("parent #{parent} rolled up a child fact twice"));
            }
            let missing = wanted.difference(&distinct).next();
            let extra = distinct.difference(&wanted).next();
            match (missing, extra) {
                (Some(id), _) => Some(format!(
                    "parent #{parent} accepted child fact {id} but has no rollup of it ({} accepted, {} rolled up)",
                    wanted.len(),
                    distinct.len()
                )),
                (None, Some(id)) => Some(format!(
                    "parent #{parent} rolled up {id}, which it never accepted"
                )),
                (None, None) => None,
            }
        });
        verdict("rollup_consistent", violation)
    }
}

/// Acknowledged SDK facts are still stored by their receiver at the end.
pub(super) fn receiver_storage_durable(missing: u64) -> InvariantResult {
    verdict(
        "receiver_storage_durable",
        (missing > 0)
            .then(|| format!("{missing} acknowledged facts missing from their receiver's storage")),
    )
}
