//! `reads_consistent`: every read the reader sent and a ledger answered equals what that ledger
//! had stored when it answered, and a tenant ledger never answers with another tenant's data.
//! The checker keeps, per ledger, a digest of what it stored (from the stored facts it
//! observed, in order) and compares each answer with it at the moment of the answer.

use super::{verdict, FirstViolation};
use crate::model::{FactId, Name, SdkData};
use crate::runtime::observe::Observation;
use crate::runtime::reader::{Answer, Query};
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

/// A running FNV-1a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Digest(u64);

impl Default for Digest {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Digest {
    fn mix(&mut self, word: u64) {
        for byte in word.to_le_bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn mix_id(&mut self, id: &FactId) {
        for byte in id.actor.as_str().bytes() {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        self.mix(id.seq);
    }

    fn mix_period(&mut self, start_ms: u64, end_ms: u64, hits: u64, misses: u64) {
        for word in [start_ms, end_ms, hits, misses] {
            self.mix(word);
        }
    }
}

/// What one entity's facts at one ledger digest to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct EntityDigest {
    facts: u64,
    ids: Digest,
    cache_stats: u64,
    periods: Digest,
}

/// What one ledger stored, in digest.
#[derive(Default)]
struct LedgerModel {
    facts: u64,
    entities: FxHashMap<Name, EntityDigest>,
    tenants: FxHashSet<Name>,
}

/// Every ledger's model, and the first wrong answer.
pub(super) struct ReadsChecker {
    /// Shared by the checkers (a million entities' roles are worth one copy).
    roles: Arc<Roles>,
    /// Lookup only.
    ledgers: FxHashMap<ActorIdx, LedgerModel>,
    reads: u64,
    violation: FirstViolation,
}

impl ReadsChecker {
    pub(super) fn new(roles: &Arc<Roles>) -> Self {
        Self {
            roles: roles.clone(),
            ledgers: FxHashMap::default(),
            reads: 0,
            violation: FirstViolation::default(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            Observation::Stored { receiver, fact, .. } => {
                let ledger = self.ledgers.entry(receiver).or_default();
                ledger.facts += 1;
                ledger.tenants.insert(fact.tenant_id.clone());
                let entity = ledger.entities.entry(fact.entity_id.clone()).or_default();
                entity.facts += 1;
                entity.ids.mix_id(&fact.id);
                if let Some(SdkData::CacheStats(stats)) = fact.data.sdk() {
                    entity.cache_stats += 1;
                    let (start, end) = (stats.period_start_ms, stats.period_end_ms);
                    entity
                        .periods
                        .mix_period(start, end, stats.hits, stats.misses);
                }
            }
            Observation::Read {
                at_ms,
                receiver,
                query,
                answer,
            } => {
                self.reads += 1;
                let violation = self.judge(receiver, query, answer).map(|problem| {
                    format!("at {at_ms} ms ledger #{receiver} answered {query:?} {problem}")
                });
                self.violation.note(violation);
            }
            _ => {}
        }
    }

    /// What is wrong with ledger `receiver`'s `answer` to `query`, if anything.
    fn judge(&self, receiver: ActorIdx, query: &Query, answer: &Answer) -> Option<String> {
        let empty = LedgerModel::default();
        let ledger = self.ledgers.get(&receiver).unwrap_or(&empty);
        let entity = |entity_id: &Name| ledger.entities.get(entity_id).copied().unwrap_or_default();
        match (query, answer) {
            (Query::SdkFacts(entity_id), Answer::SdkFacts(facts)) => {
                if let Some(foreign) = self.foreign_tenant(receiver, facts) {
                    return Some(format!("with a fact of tenant {foreign}"));
                }
                let mut ids = Digest::default();
                for (id, _) in facts {
                    ids.mix_id(id);
                }
                let stored = entity(entity_id);
                mismatch(facts.len() as u64, stored.facts, ids == stored.ids, "facts")
            }
            (Query::CacheStats(entity_id), Answer::CacheStats(periods)) => {
                let mut digest = Digest::default();
                for stats in periods {
                    digest.mix_period(
                        stats.period_start_ms,
                        stats.period_end_ms,
                        stats.hits,
                        stats.misses,
                    );
                }
                let stored = entity(entity_id);
                mismatch(
                    periods.len() as u64,
                    stored.cache_stats,
                    digest == stored.periods,
                    "cache_stats periods",
                )
            }
            (Query::Stats, Answer::Stats(stats)) => {
                let expected = (
                    ledger.tenants.len() as u64,
                    ledger.entities.len() as u64,
                    ledger.facts,
                );
                let got = (
                    stats.tenant_count,
                    stats.entity_count,
                    stats.sdk_facts_count,
                );
                (got != expected).then(|| {
                    format!("(tenants, entities, facts) {got:?}; it had stored {expected:?}")
                })
            }
            (query, answer) => Some(format!("to {query:?} with {answer:?}")),
        }
    }

    /// A tenant ledger's answer naming another tenant, if any.
    fn foreign_tenant<'a>(
        &self,
        receiver: ActorIdx,
        facts: &'a [(FactId, Name)],
    ) -> Option<&'a Name> {
        if !self.roles.tenants.contains(&receiver) {
            return None;
        }
        let own = self.roles.tenant_of.get(&receiver)?;
        facts
            .iter()
            .map(|(_, tenant)| tenant)
            .find(|tenant| *tenant != own)
    }

    pub(super) fn consistent(&self) -> InvariantResult {
        // Judged as reads are answered; nothing is left for the end.
        if self.reads == 0 && !self.violation.found() {
            return super::not_applicable("reads_consistent", "no read was answered");
        }
        verdict("reads_consistent", self.violation.0.clone())
    }
}

/// What is wrong with an answer of `answered` items when `stored` were stored (`same`: the
/// same items in the same order), if anything.
fn mismatch(answered: u64, stored: u64, same: bool, what: &str) -> Option<String> {
    if answered != stored {
        return Some(format!(
            "with {answered} {what}; it had stored {stored} for that entity"
        ));
    }
    (!same).then(|| {
        format!(
            "with its {answered} {what} in another order, or other ones, than it had stored them"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::Digest;

    /// The digest is FNV-1a over each word's little-endian bytes (a known answer): a weaker
    /// mix would let two different answers collide.
    #[test]
    fn the_digest_is_fnv_1a() {
        let mut digest = Digest::default();
        digest.mix(0x0102_0304_0506_0708);
        assert_eq!(digest.0, 0x0c6d_4496_e178_59d5);
    }

    /// A fact id is mixed in whole: its emitter's name and its sequence number.
    #[test]
    fn different_fact_ids_give_different_digests() {
        let digest_of = |actor: &str, seq| {
            let mut digest = Digest::default();
            digest.mix_id(&crate::model::FactId::new(actor, seq));
            digest.0
        };
        let one = digest_of("entity:t0/a", 1);
        assert_ne!(one, Digest::default().0);
        assert_ne!(one, digest_of("entity:t0/b", 1));
        assert_ne!(one, digest_of("entity:t0/a", 2));
    }
}
