//! `TenantStatsPayload`: what a TenantSystemLedger flushes to the platform once per period.

use serde::{Deserialize, Serialize};

/// Aggregated tenant stats of one aggregation period (z0 page), plus a flush id.
///
/// The flush id is unique per tenant and flush (`"<tenant_id>/<flush_seq>"`), and a re-sent
/// payload keeps it: the platform de-duplicates on it because the queue is at-least-once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantStatsPayload {
    /// Unique id of this flush; stays the same on every re-send.
    pub flush_id: String,
    /// The tenant whose period this is.
    pub tenant_id: String,
    /// Period start (inclusive), ms; a multiple of the aggregation interval.
    #[serde(rename = "period_start")]
    pub period_start_ms: u64,
    /// Period end (exclusive), ms: `period_start + aggregation_interval`.
    #[serde(rename = "period_end")]
    pub period_end_ms: u64,
    /// Sum of `hits` of the cache_stats facts received in the period.
    pub cache_hits: u64,
    /// Sum of `misses` of the cache_stats facts received in the period.
    pub cache_misses: u64,
    /// SDK facts accepted in the period (each counted once, after de-duplication).
    pub facts_count: u64,
    /// Distinct entities that sent at least one accepted fact in the period.
    pub entities_count: u64,
    /// Extension: sum of `count` of the fact_appended facts received (domain facts appended).
    #[serde(default)]
    pub facts_appended: u64,
}

impl TenantStatsPayload {
    /// The flush id of a tenant's `flush_seq`-th flush.
    pub fn flush_id_for(tenant_id: &str, flush_seq: u64) -> String {
        format!("{tenant_id}/{flush_seq}")
    }
}
