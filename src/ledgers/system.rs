//! `SystemLedger` (id `system`): validates SDK facts, de-duplicates them by fact id and stores
//! them; answers `getSdkFacts`, `getCacheStats` and `getStats` from storage.

pub use super::fact_store::{StoredSdkFact, SystemStorage};
use crate::model::validate::validate_sdk_fact;
use crate::model::{CacheStatsData, Fact, FactError, Limits, SdkData};
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `getStats()`: platform-wide counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStats {
    /// Distinct tenants with a stored fact.
    pub tenant_count: u64,
    /// Distinct entities with a stored fact.
    pub entity_count: u64,
    /// SDK facts stored.
    pub sdk_facts_count: u64,
}

/// What happened to a received fact that was not rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Stored for the first time.
    Stored,
    /// Already stored under this id: acknowledged, not stored again.
    Duplicate,
}

/// In-memory counters of what the ledger received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiverCounters {
    /// Facts stored.
    pub stored: u64,
    /// Re-deliveries acknowledged without storing.
    pub duplicates: u64,
    /// Rejections by error kind.
    pub rejected: BTreeMap<&'static str, u64>,
}

impl ReceiverCounters {
    /// Counts a rejection of this kind.
    pub fn reject(&mut self, kind: &'static str) {
        *self.rejected.entry(kind).or_default() += 1;
    }
}

/// The SystemLedger: stateless apart from counters; everything it knows is in storage.
#[derive(Clone, Debug, Default)]
pub struct SystemLedger {
    limits: Limits,
    counters: ReceiverCounters,
    /// Only with the `system_ledger_write_deferred` plant: an acknowledged fact not written.
    deferred_write: Option<(Fact, SdkData)>,
}

impl SystemLedger {
    /// A SystemLedger enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            counters: ReceiverCounters::default(),
            deferred_write: None,
        }
    }

    /// What it received so far (since its last start).
    pub fn counters(&self) -> &ReceiverCounters {
        &self.counters
    }

    /// Receives one SDK fact: validate, de-duplicate by id, store. A rejected fact is not stored.
    pub fn on_sdk_fact(
        &mut self,
        now_ms: u64,
        storage: &mut SystemStorage,
        fact: Fact,
    ) -> Result<Accepted, FactError> {
        self.on_sdk_fact_ref(now_ms, storage, &fact)
    }

    /// [`Self::on_sdk_fact`] on a borrowed fact: storage keeps its own copy, so a caller that
    /// needs the fact afterwards (the runtime's observer) does not copy it again.
    pub fn on_sdk_fact_ref(
        &mut self,
        now_ms: u64,
        storage: &mut SystemStorage,
        fact: &Fact,
    ) -> Result<Accepted, FactError> {
        let data = match validate_sdk_fact(fact, now_ms, &self.limits) {
            Ok(data) => data,
            Err(error) => {
                self.counters.reject(error.kind());
                return Err(error);
            }
        };
        let deferred = self.deferred_write.as_ref();
        if storage.contains(&fact.id) || deferred.is_some_and(|(held, _)| held.id == fact.id) {
            self.counters.duplicates += 1;
            return Ok(Accepted::Duplicate);
        }
        if planted::active(Plant::SystemLedgerWriteDeferred) {
            // The planted mistake: a coalesced write. The previous fact is written now, this
            // one when the next arrives; a restart in between loses an acknowledged fact.
            if let Some((previous, previous_data)) =
                self.deferred_write.replace((fact.clone(), data))
            {
                storage.store(&previous, previous_data);
            }
        } else {
            storage.store(fact, data);
        }
        self.counters.stored += 1;
        Ok(Accepted::Stored)
    }

    /// `getSdkFacts(entity_id)`: every stored SDK fact about the entity, in arrival order.
    pub fn get_sdk_facts(storage: &SystemStorage, entity_id: &str) -> Vec<Fact> {
        storage
            .entity_facts(entity_id)
            .into_iter()
            .map(|stored| stored.fact)
            .collect()
    }

    /// `getCacheStats(entity_id)`: the entity's cache stats periods, in arrival order.
    pub fn get_cache_stats(storage: &SystemStorage, entity_id: &str) -> Vec<CacheStatsData> {
        storage
            .entity_facts(entity_id)
            .into_iter()
            .filter_map(|stored| match stored.data {
                SdkData::CacheStats(stats) => Some(stats),
                _ => None,
            })
            .collect()
    }

    /// `getStats()`: tenant_count, entity_count, sdk_facts_count.
    pub fn get_stats(storage: &SystemStorage) -> SystemStats {
        SystemStats {
            tenant_count: storage.tenant_count() as u64,
            entity_count: storage.entity_count() as u64,
            sdk_facts_count: storage.len() as u64,
        }
    }
}
