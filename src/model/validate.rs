//! Validation at every receiver: malformed facts and payloads are rejected with a typed error
//! and never stored (docs/model.md "Facts").

use super::fact::Fact;
use super::fact_data::FactData;
use super::ids::FactId;
use super::name::Name;
use super::payload::TenantStatsPayload;
use super::sdk::{
    CacheStatsData, FactAppendedData, HydrationDoneData, SchemaInitData, SdkData, SdkSubtype,
};
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};
use std::io;

pub use super::errors::{FactError, PayloadError};

/// Size and clock bounds a receiver enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest serialised `data` accepted, bytes.
    pub max_data_bytes: usize,
    /// Longest id, tenant id, entity id or type accepted, bytes.
    pub max_name_bytes: usize,
    /// How far in the receiver's future a timestamp or period may lie, ms.
    pub max_clock_skew_ms: u64,
}

impl Default for Limits {
    /// Decision (docs/model.md says "sizes bounded" only): 4 KiB of data is ~40x a real cache_stats
    /// fact; 256-byte names; 60 s of clock skew between actors.
    fn default() -> Self {
        Self {
            max_data_bytes: 4_096,
            max_name_bytes: 256,
            max_clock_skew_ms: 60_000,
        }
    }
}

fn check_name(field: &'static str, value: &str, limits: &Limits) -> Result<(), FactError> {
    if value.len() > limits.max_name_bytes {
        return Err(FactError::NameTooLong {
            field,
            bytes: value.len(),
            limit: limits.max_name_bytes,
        });
    }
    Ok(())
}

/// A fact's envelope and data, borrowed: what [`validate_envelope_parts`] checks, so that a
/// ledger can validate a fact before it builds one.
#[derive(Clone, Copy, Debug)]
pub struct EnvelopeParts<'fact> {
    /// `id.actor`.
    pub actor: &'fact Name,
    /// `id.seq`.
    pub seq: u64,
    /// `type`.
    pub fact_type: &'fact str,
    /// `subtype`.
    pub subtype: &'fact str,
    /// `entity_id`.
    pub entity_id: &'fact Name,
    /// `entity_type`.
    pub entity_type: &'fact Name,
    /// `tenant_id`.
    pub tenant_id: &'fact Name,
    /// `timestamp_ms`.
    pub timestamp_ms: u64,
    /// `data`.
    pub data: &'fact FactData,
}

impl<'fact> EnvelopeParts<'fact> {
    /// The parts of `fact`.
    pub fn of(fact: &'fact Fact) -> Self {
        Self {
            actor: &fact.id.actor,
            seq: fact.id.seq,
            fact_type: &fact.fact_type,
            subtype: &fact.subtype,
            entity_id: &fact.entity_id,
            entity_type: &fact.entity_type,
            tenant_id: &fact.tenant_id,
            timestamp_ms: fact.timestamp_ms,
            data: &fact.data,
        }
    }

    /// The fact made of these parts.
    pub fn to_fact(&self) -> Fact {
        Fact {
            id: FactId::new(self.actor.clone(), self.seq),
            fact_type: Name::from(self.fact_type),
            subtype: Name::from(self.subtype),
            entity_id: self.entity_id.clone(),
            entity_type: self.entity_type.clone(),
            tenant_id: self.tenant_id.clone(),
            timestamp_ms: self.timestamp_ms,
            data: self.data.clone(),
        }
    }

    fn id(&self) -> String {
        FactId::new(self.actor, self.seq).to_string()
    }
}

/// Checks what every fact needs, SDK or domain: id, tenant, entity, bounded names and data,
/// no timestamp from the future.
pub fn validate_envelope(fact: &Fact, now_ms: u64, limits: &Limits) -> Result<(), FactError> {
    validate_envelope_parts(&EnvelopeParts::of(fact), now_ms, limits)
}

/// [`validate_envelope`] on a fact's parts.
pub fn validate_envelope_parts(
    fact: &EnvelopeParts<'_>,
    now_ms: u64,
    limits: &Limits,
) -> Result<(), FactError> {
    if fact.actor.is_empty() {
        return Err(FactError::MissingId);
    }
    check_name("id.actor", fact.actor, limits)?;
    let id = || fact.id();
    if fact.tenant_id.is_empty() {
        return Err(FactError::MissingTenant { id: id() });
    }
    if fact.entity_id.is_empty() || fact.entity_type.is_empty() {
        return Err(FactError::MissingEntity { id: id() });
    }
    check_name("tenant_id", fact.tenant_id, limits)?;
    check_name("entity_id", fact.entity_id, limits)?;
    check_name("entity_type", fact.entity_type, limits)?;
    check_name("type", fact.fact_type, limits)?;
    check_name("subtype", fact.subtype, limits)?;
    if !planted::active(Plant::FactTimestampUnchecked) {
        check_not_future(&id, fact.timestamp_ms, now_ms, limits)?;
    }
    let bound = match fact.data {
        FactData::Sdk(data) => data.json_size_bound(),
        FactData::Json(value) => serialized_size_bound(value),
    };
    let fits_for_sure = bound <= limits.max_data_bytes;
    let bytes = if fits_for_sure {
        0
    } else {
        serialized_size_up_to(fact.data, limits.max_data_bytes + 1)
    };
    if bytes > limits.max_data_bytes {
        return Err(FactError::Oversized {
            id: id(),
            bytes,
            limit: limits.max_data_bytes,
        });
    }
    Ok(())
}

/// Rejects a fact of another tenant than `expected` (tenant isolation).
pub fn check_tenant(fact: &Fact, expected: &str) -> Result<(), FactError> {
    if fact.tenant_id != expected {
        return Err(FactError::ForeignTenant {
            id: fact.id.to_string(),
            tenant_id: fact.tenant_id.to_string(),
            expected: expected.to_owned(),
        });
    }
    Ok(())
}

/// A clock no timestamp is ahead of (and far from overflow when limits are added to it).
const ANY_TIME_MS: u64 = u64::MAX / 2;

/// The typed data of an SDK fact whose timestamp was already judged: one a receiver stored
/// (it checked the timestamp against its clock on receipt) or one the SDK itself built. Its
/// data is validated again, but against no clock. `None` when it is not valid SDK data.
pub fn accepted_sdk_data(fact: &Fact) -> Option<SdkData> {
    validate_sdk_fact(fact, ANY_TIME_MS, &Limits::default()).ok()
}

/// Validates an SDK fact and returns its typed data. Nothing that fails here may be stored.
pub fn validate_sdk_fact(fact: &Fact, now_ms: u64, limits: &Limits) -> Result<SdkData, FactError> {
    validate_envelope(fact, now_ms, limits)?;
    let id = || fact.id.to_string();
    if !fact.is_sdk() {
        return Err(FactError::NotSdk {
            id: id(),
            fact_type: fact.fact_type.to_string(),
        });
    }
    let subtype: SdkSubtype = fact
        .subtype
        .parse()
        .map_err(|subtype| FactError::UnknownSubtype { id: id(), subtype })?;
    let data = parse_data(fact, subtype)?;
    if data.entity_id() != fact.entity_id || data.entity_type() != fact.entity_type {
        return Err(FactError::EntityMismatch {
            id: id(),
            fact_entity: format!("{} ({})", fact.entity_id, fact.entity_type),
            data_entity: format!("{} ({})", data.entity_id(), data.entity_type()),
        });
    }
    check_periods(fact, &data, now_ms, limits)?;
    Ok(data)
}

fn parse_data(fact: &Fact, subtype: SdkSubtype) -> Result<SdkData, FactError> {
    let malformed = |error: serde_json::Error| FactError::MalformedData {
        id: fact.id.to_string(),
        subtype,
        reason: error.to_string(),
    };
    let json;
    let data = match &fact.data {
        // Built by the SDK: typed already, it only has to be the subtype's shape.
        FactData::Sdk(typed) if typed.subtype() == subtype => return Ok((**typed).clone()),
        // Another subtype's data: judged as its JSON, so the error is the one a receiver of
        // that JSON would give.
        FactData::Sdk(typed) => {
            json = typed.to_value();
            &json
        }
        FactData::Json(value) => value,
    };
    // serde's derived structs also accept a sequence of field values; the z0 page's shapes are
    // objects with named fields, so anything else is malformed.
    if !data.is_object() {
        return Err(FactError::MalformedData {
            id: fact.id.to_string(),
            subtype,
            reason: "data must be an object with named fields".to_owned(),
        });
    }
    Ok(match subtype {
        SdkSubtype::CacheStats => {
            SdkData::CacheStats(CacheStatsData::deserialize(data).map_err(malformed)?)
        }
        SdkSubtype::FactAppended => {
            SdkData::FactAppended(FactAppendedData::deserialize(data).map_err(malformed)?)
        }
        SdkSubtype::SchemaInit => {
            SdkData::SchemaInit(SchemaInitData::deserialize(data).map_err(malformed)?)
        }
        SdkSubtype::HydrationDone => {
            SdkData::HydrationDone(HydrationDoneData::deserialize(data).map_err(malformed)?)
        }
    })
}

fn check_periods(
    fact: &Fact,
    data: &SdkData,
    now_ms: u64,
    limits: &Limits,
) -> Result<(), FactError> {
    let (start_ms, end_ms, total) = match data {
        SdkData::CacheStats(stats) => (
            stats.period_start_ms,
            stats.period_end_ms,
            stats.hits.checked_add(stats.misses),
        ),
        SdkData::FactAppended(appended) => (
            appended.period_start_ms,
            appended.period_end_ms,
            Some(appended.count),
        ),
        SdkData::SchemaInit(_) | SdkData::HydrationDone(_) => return Ok(()),
    };
    let bad = |reason| FactError::BadPeriod {
        id: fact.id.to_string(),
        period_start_ms: start_ms,
        period_end_ms: end_ms,
        reason,
    };
    if end_ms < start_ms {
        return Err(bad("ends before it starts"));
    }
    match total {
        None => return Err(bad("counts overflow")),
        Some(0) => return Err(bad("a period is never emitted empty")),
        Some(_) => {}
    }
    check_not_future(&|| fact.id.to_string(), end_ms, now_ms, limits)
}

fn check_not_future(
    id: &dyn Fn() -> String,
    at_ms: u64,
    now_ms: u64,
    limits: &Limits,
) -> Result<(), FactError> {
    if at_ms > now_ms.saturating_add(limits.max_clock_skew_ms) {
        return Err(FactError::FromTheFuture {
            id: id(),
            at_ms,
            now_ms,
            max_skew_ms: limits.max_clock_skew_ms,
        });
    }
    Ok(())
}

/// Validates a tenant stats payload at the platform.
pub fn validate_payload(
    payload: &TenantStatsPayload,
    now_ms: u64,
    limits: &Limits,
) -> Result<(), PayloadError> {
    let too_long = |field, value: &str| {
        (value.len() > limits.max_name_bytes).then_some(PayloadError::NameTooLong {
            field,
            bytes: value.len(),
            limit: limits.max_name_bytes,
        })
    };
    if payload.flush_id.is_empty() {
        return Err(PayloadError::MissingFlushId);
    }
    if let Some(error) = too_long("flush_id", &payload.flush_id) {
        return Err(error);
    }
    let flush_id = || payload.flush_id.clone();
    if payload.tenant_id.is_empty() {
        return Err(PayloadError::MissingTenant {
            flush_id: flush_id(),
        });
    }
    if let Some(error) = too_long("tenant_id", &payload.tenant_id) {
        return Err(error);
    }
    if payload.period_end_ms <= payload.period_start_ms {
        return Err(PayloadError::BadPeriod {
            flush_id: flush_id(),
            period_start_ms: payload.period_start_ms,
            period_end_ms: payload.period_end_ms,
        });
    }
    let inconsistent = |reason| PayloadError::InconsistentCounts {
        flush_id: flush_id(),
        reason,
    };
    if payload.facts_count == 0 {
        return Err(inconsistent("a flushed period is never empty"));
    }
    if payload.entities_count == 0 || payload.entities_count > payload.facts_count {
        return Err(inconsistent("entities_count must be in 1..=facts_count"));
    }
    // A payload is flushed after its period ended, so its end cannot lie in the future.
    if payload.period_end_ms > now_ms.saturating_add(limits.max_clock_skew_ms) {
        return Err(PayloadError::FromTheFuture {
            flush_id: flush_id(),
            period_end_ms: payload.period_end_ms,
            now_ms,
        });
    }
    Ok(())
}

/// An upper bound of the serialised JSON size, without serialising: every string byte may
/// need a 6-byte `\uXXXX` escape, a number takes at most 24 bytes. Facts are small, so the
/// bound usually settles the size check without the exact count.
fn serialized_size_bound(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        Value::String(text) => 2 + 6 * text.len(),
        Value::Array(items) => {
            2 + items
                .iter()
                .map(|item| serialized_size_bound(item) + 1)
                .sum::<usize>()
        }
        Value::Object(entries) => {
            2 + entries
                .iter()
                .map(|(key, item)| 4 + 6 * key.len() + serialized_size_bound(item))
                .sum::<usize>()
        }
    }
}

/// Counts serialised JSON bytes, stopping early once `cap` is passed (no allocation).
fn serialized_size_up_to(value: &impl Serialize, cap: usize) -> usize {
    struct Counter {
        bytes: usize,
        cap: usize,
    }
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.bytes += buf.len();
            if self.bytes > self.cap {
                return Err(io::Error::other("over the cap"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { bytes: 0, cap };
    // An error here only means "over the cap": the count so far is already past it.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.bytes
}
