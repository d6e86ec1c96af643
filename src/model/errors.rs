//! Why a receiver rejected a fact or a payload: typed errors with a short stable kind name.

use super::sdk::SdkSubtype;
use thiserror::Error;

/// Why a fact was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FactError {
    /// The fact id has no emitting actor.
    #[error("fact has no id (empty emitting actor)")]
    MissingId,
    /// The fact names no tenant.
    #[error("fact {id} has no tenant_id")]
    MissingTenant {
        /// The fact's id.
        id: String,
    },
    /// The fact names no entity (or no entity type).
    #[error("fact {id} has no entity_id or entity_type")]
    MissingEntity {
        /// The fact's id.
        id: String,
    },
    /// A field is longer than the limit.
    #[error("fact field {field} is {bytes} bytes, limit {limit}")]
    NameTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// An SDK receiver got a fact whose type is not `sdk`.
    #[error("fact {id} has type {fact_type:?}, expected \"sdk\"")]
    NotSdk {
        /// The fact's id.
        id: String,
        /// The type it had.
        fact_type: String,
    },
    /// The subtype is none of the four SDK subtypes.
    #[error("fact {id} has unknown subtype {subtype:?}")]
    UnknownSubtype {
        /// The fact's id.
        id: String,
        /// The subtype it had.
        subtype: String,
    },
    /// `data` does not have the shape of its subtype.
    #[error("fact {id}: data is not a valid {subtype}: {reason}")]
    MalformedData {
        /// The fact's id.
        id: String,
        /// The declared subtype.
        subtype: SdkSubtype,
        /// What serde found wrong.
        reason: String,
    },
    /// `data` names another entity than the fact.
    #[error("fact {id}: data is about {data_entity:?}, the fact about {fact_entity:?}")]
    EntityMismatch {
        /// The fact's id.
        id: String,
        /// The fact's entity id and type, as `id (type)`.
        fact_entity: String,
        /// The entity id and type inside data, as `id (type)`.
        data_entity: String,
    },
    /// A period that ends before it starts, or an empty stats period.
    #[error("fact {id}: bad period [{period_start_ms}, {period_end_ms}): {reason}")]
    BadPeriod {
        /// The fact's id.
        id: String,
        /// Declared start.
        period_start_ms: u64,
        /// Declared end.
        period_end_ms: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Timestamp or period end too far in the receiver's future.
    #[error("fact {id}: time {at_ms} ms is more than {max_skew_ms} ms after now ({now_ms} ms)")]
    FromTheFuture {
        /// The fact's id.
        id: String,
        /// The offending time.
        at_ms: u64,
        /// The receiver's clock.
        now_ms: u64,
        /// The allowed skew.
        max_skew_ms: u64,
    },
    /// The fact belongs to another tenant than the receiver (isolation).
    #[error("fact {id} belongs to tenant {tenant_id:?}, this receiver serves {expected:?}")]
    ForeignTenant {
        /// The fact's id.
        id: String,
        /// The tenant the fact names.
        tenant_id: String,
        /// The receiver's tenant.
        expected: String,
    },
    /// `data` serialises to more than the limit.
    #[error("fact {id}: data is {bytes} bytes, limit {limit}")]
    Oversized {
        /// The fact's id.
        id: String,
        /// Serialised size (counted up to just past the limit).
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

/// Why a tenant stats payload was rejected.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// No flush id: the platform could not de-duplicate it.
    #[error("payload has no flush_id")]
    MissingFlushId,
    /// No tenant.
    #[error("payload {flush_id} has no tenant_id")]
    MissingTenant {
        /// The payload's flush id.
        flush_id: String,
    },
    /// A field is longer than the limit.
    #[error("payload field {field} is {bytes} bytes, limit {limit}")]
    NameTooLong {
        /// Which field.
        field: &'static str,
        /// Its length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The period is empty or reversed.
    #[error("payload {flush_id}: bad period [{period_start_ms}, {period_end_ms})")]
    BadPeriod {
        /// The payload's flush id.
        flush_id: String,
        /// Declared start.
        period_start_ms: u64,
        /// Declared end.
        period_end_ms: u64,
    },
    /// Counts that cannot all be true, e.g. more entities than facts, or no facts at all.
    #[error("payload {flush_id}: inconsistent counts: {reason}")]
    InconsistentCounts {
        /// The payload's flush id.
        flush_id: String,
        /// Which rule failed.
        reason: &'static str,
    },
    /// Period end too far in the receiver's future.
    #[error(
        "payload {flush_id}: period end {period_end_ms} ms is in the future (now {now_ms} ms)"
    )]
    FromTheFuture {
        /// The payload's flush id.
        flush_id: String,
        /// The declared end.
        period_end_ms: u64,
        /// The receiver's clock.
        now_ms: u64,
    },
}

impl FactError {
    /// A short stable name of the error kind, for counters and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            FactError::MissingId => "missing_id",
            FactError::MissingTenant { .. } => "missing_tenant",
            FactError::MissingEntity { .. } => "missing_entity",
            FactError::NameTooLong { .. } => "name_too_long",
            FactError::NotSdk { .. } => "not_sdk",
            FactError::UnknownSubtype { .. } => "unknown_subtype",
            FactError::MalformedData { .. } => "malformed_data",
            FactError::EntityMismatch { .. } => "entity_mismatch",
            FactError::BadPeriod { .. } => "bad_period",
            FactError::FromTheFuture { .. } => "from_the_future",
            FactError::ForeignTenant { .. } => "foreign_tenant",
            FactError::Oversized { .. } => "oversized",
        }
    }
}

impl PayloadError {
    /// A short stable name of the error kind, for counters and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            PayloadError::MissingFlushId => "missing_flush_id",
            PayloadError::MissingTenant { .. } => "missing_tenant",
            PayloadError::NameTooLong { .. } => "name_too_long",
            PayloadError::BadPeriod { .. } => "bad_period",
            PayloadError::InconsistentCounts { .. } => "inconsistent_counts",
            PayloadError::FromTheFuture { .. } => "from_the_future",
        }
    }
}
