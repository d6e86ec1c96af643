//! Facts: immutable records with a globally unique id.

use super::fact_data::FactData;
use super::ids::FactId;
use super::name::Name;
use super::sdk::{SdkData, SdkSubtype, SDK_FACT_TYPE};
use serde::{Deserialize, Serialize};

/// A fact as it travels and is stored: immutable, with a globally unique [`FactId`].
///
/// `data` is JSON on the wire: receivers cannot trust senders, so they validate it into typed
/// [`SdkData`] (see [`crate::model::validate`]). Facts the simulated SDK builds carry it typed
/// until then ([`FactData`]), which serialises and compares as the same JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fact {
    /// Emitting actor + its sequence number.
    pub id: FactId,
    /// `sdk` for SDK facts, a domain type otherwise (e.g. `account`).
    #[serde(rename = "type")]
    pub fact_type: Name,
    /// For SDK facts one of the four subtypes; free for domain facts.
    pub subtype: Name,
    /// The entity the fact is about.
    pub entity_id: Name,
    /// That entity's type.
    pub entity_type: Name,
    /// The tenant owning the entity; never empty in a valid fact.
    pub tenant_id: Name,
    /// When the fact was created, simulated ms.
    pub timestamp_ms: u64,
    /// Subtype-specific payload.
    pub data: FactData,
}

/// Who a fact is about: the fields every fact an entity emits shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityMeta {
    /// Entity id, e.g. `account_123`.
    pub entity_id: Name,
    /// Entity type, e.g. `account`.
    pub entity_type: Name,
    /// Owning tenant.
    pub tenant_id: Name,
}

impl Fact {
    /// Builds an SDK fact from typed data.
    pub fn sdk(id: FactId, meta: &EntityMeta, timestamp_ms: u64, data: &SdkData) -> Self {
        Self {
            id,
            fact_type: SdkSubtype::fact_type_name(),
            subtype: data.subtype().name(),
            entity_id: meta.entity_id.clone(),
            entity_type: meta.entity_type.clone(),
            tenant_id: meta.tenant_id.clone(),
            timestamp_ms,
            data: FactData::from(data.clone()),
        }
    }

    /// Builds a domain fact (what `append_fact` stores).
    pub fn domain(
        id: FactId,
        meta: &EntityMeta,
        timestamp_ms: u64,
        fact_type: impl Into<Name>,
        subtype: impl Into<Name>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id,
            fact_type: fact_type.into(),
            subtype: subtype.into(),
            entity_id: meta.entity_id.clone(),
            entity_type: meta.entity_type.clone(),
            tenant_id: meta.tenant_id.clone(),
            timestamp_ms,
            data: FactData::Json(data),
        }
    }

    /// Whether this fact claims to be an SDK fact.
    pub fn is_sdk(&self) -> bool {
        self.fact_type == SDK_FACT_TYPE
    }
}
