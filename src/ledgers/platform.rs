//! The platform ledger: receives `TenantStatsPayload`s from every tenant, de-duplicates them by
//! flush id (the queue is at-least-once) and keeps totals per tenant and overall.

use crate::ledgers::system::{Accepted, ReceiverCounters};
use crate::model::validate::validate_payload;
use crate::model::{Limits, PayloadError, TenantStatsPayload};
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Summed payloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformTotals {
    /// Payloads counted.
    pub payloads: u64,
    /// Sum of cache_hits.
    pub cache_hits: u64,
    /// Sum of cache_misses.
    pub cache_misses: u64,
    /// Sum of facts_count.
    pub facts_count: u64,
    /// Sum of facts_appended.
    pub facts_appended: u64,
    /// Sum of entities_count (entity-periods).
    pub entity_periods: u64,
}

impl PlatformTotals {
    /// Adds one payload.
    /// Saturates: payload counts come from other actors and may claim anything.
    pub fn add(&mut self, payload: &TenantStatsPayload) {
        self.payloads += 1;
        self.cache_hits = self.cache_hits.saturating_add(payload.cache_hits);
        self.cache_misses = self.cache_misses.saturating_add(payload.cache_misses);
        self.facts_count = self.facts_count.saturating_add(payload.facts_count);
        self.facts_appended = self.facts_appended.saturating_add(payload.facts_appended);
        self.entity_periods = self.entity_periods.saturating_add(payload.entities_count);
    }
}

/// The platform ledger's durable storage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformStorage {
    /// `(tenant_id, flush_id)` of every payload counted.
    pub seen: BTreeSet<(String, String)>,
    /// Totals per tenant.
    pub per_tenant: BTreeMap<String, PlatformTotals>,
    /// Totals over all tenants.
    pub overall: PlatformTotals,
    /// Every payload counted, in arrival order.
    pub payloads: Vec<TenantStatsPayload>,
}

/// The platform ledger.
#[derive(Clone, Debug, Default)]
pub struct PlatformLedger {
    limits: Limits,
    counters: ReceiverCounters,
}

impl PlatformLedger {
    /// A platform ledger enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            counters: ReceiverCounters::default(),
        }
    }

    /// What it received (since its last start).
    pub fn counters(&self) -> &ReceiverCounters {
        &self.counters
    }

    /// Receives one payload: validate, de-duplicate by `(tenant_id, flush_id)`, add to totals.
    pub fn on_payload(
        &mut self,
        now_ms: u64,
        storage: &mut PlatformStorage,
        payload: TenantStatsPayload,
    ) -> Result<Accepted, PayloadError> {
        if let Err(error) = validate_payload(&payload, now_ms, &self.limits) {
            self.counters.reject(error.kind());
            return Err(error);
        }
        let key = (payload.tenant_id.clone(), payload.flush_id.clone());
        if storage.seen.contains(&key) && !planted::active(Plant::PlatformDoesNotDeduplicate) {
            self.counters.duplicates += 1;
            return Ok(Accepted::Duplicate);
        }
        storage.seen.insert(key);
        storage
            .per_tenant
            .entry(payload.tenant_id.clone())
            .or_default()
            .add(&payload);
        storage.overall.add(&payload);
        storage.payloads.push(payload);
        self.counters.stored += 1;
        Ok(Accepted::Stored)
    }
}
