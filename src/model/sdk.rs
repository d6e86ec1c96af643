//! The four SDK fact subtypes and their data shapes, as on the z0 SDK page.
//!
//! Wire names follow the page (`period_start`, `period_end`, milliseconds since the epoch);
//! the Rust fields carry their unit (`period_start_ms`).

use super::name::Name;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

/// `type` of every fact the SDK emits about itself.
pub const SDK_FACT_TYPE: &str = "sdk";

/// The tables a schema init creates (the z0 page's example).
pub const SCHEMA_TABLES: [&str; 3] = ["facts", "entities", "configs"];

/// `SdkObservabilitySubtype` of the z0 page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdkSubtype {
    /// Cache hit/miss counts of one stats period (CachedStateManager).
    CacheStats,
    /// Count of facts appended in one period (aggregated, never one per domain fact).
    FactAppended,
    /// Tables created by a start that found none (SchemaManager).
    SchemaInit,
    /// Stored facts replayed by a start that found some (HydrationManager).
    HydrationDone,
}

impl SdkSubtype {
    /// Every subtype, in a fixed order.
    pub const ALL: [SdkSubtype; 4] = [
        SdkSubtype::CacheStats,
        SdkSubtype::FactAppended,
        SdkSubtype::SchemaInit,
        SdkSubtype::HydrationDone,
    ];

    /// The wire name, shared: an SDK fact's `subtype` (built once per process, not per fact).
    pub fn name(self) -> Name {
        static NAMES: LazyLock<[Name; 4]> =
            LazyLock::new(|| SdkSubtype::ALL.map(|subtype| Name::from(subtype.as_str())));
        NAMES[self as usize].clone()
    }

    /// [`SDK_FACT_TYPE`], shared: an SDK fact's `type`.
    pub fn fact_type_name() -> Name {
        static NAME: LazyLock<Name> = LazyLock::new(|| Name::from(SDK_FACT_TYPE));
        NAME.clone()
    }

    /// The wire name, e.g. `cache_stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            SdkSubtype::CacheStats => "cache_stats",
            SdkSubtype::FactAppended => "fact_appended",
            SdkSubtype::SchemaInit => "schema_init",
            SdkSubtype::HydrationDone => "hydration_done",
        }
    }
}

impl fmt::Display for SdkSubtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SdkSubtype {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        SdkSubtype::ALL
            .into_iter()
            .find(|subtype| subtype.as_str() == name)
            .ok_or_else(|| name.to_owned())
    }
}

/// `data` of a `cache_stats` fact: one closed stats period `[period_start, period_end)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheStatsData {
    /// The entity whose cache this is.
    pub entity_id: Name,
    /// Its entity type, e.g. `account`.
    pub entity_type: Name,
    /// Start of the period (inclusive), ms.
    #[serde(rename = "period_start")]
    pub period_start_ms: u64,
    /// End of the period (exclusive), ms.
    #[serde(rename = "period_end")]
    pub period_end_ms: u64,
    /// Cache gets that hit in the period.
    pub hits: u64,
    /// Cache gets that missed in the period.
    pub misses: u64,
}

/// `data` of a `fact_appended` fact: how many domain facts were appended in one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactAppendedData {
    /// The appending entity.
    pub entity_id: Name,
    /// Its entity type.
    pub entity_type: Name,
    /// Start of the period (inclusive), ms.
    #[serde(rename = "period_start")]
    pub period_start_ms: u64,
    /// End of the period (exclusive), ms.
    #[serde(rename = "period_end")]
    pub period_end_ms: u64,
    /// Domain facts appended in the period.
    pub count: u64,
    /// Sequence number of the last domain fact counted.
    pub last_seq: u64,
}

/// `data` of a `schema_init` fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaInitData {
    /// The entity whose tables were created.
    pub entity_id: Name,
    /// Its entity type.
    pub entity_type: Name,
    /// Names of the tables created.
    pub tables_created: Vec<String>,
    /// How long the init took, ms.
    pub duration_ms: u64,
}

/// Where hydration read its facts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HydrationSource {
    /// The actor's own durable storage.
    Storage,
    /// An archived snapshot in object storage (slower to read).
    R2,
}

/// `data` of a `hydration_done` fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HydrationDoneData {
    /// The hydrated entity.
    pub entity_id: Name,
    /// Its entity type.
    pub entity_type: Name,
    /// Stored facts replayed.
    pub facts_replayed: u64,
    /// How long the replay took, ms.
    pub duration_ms: u64,
    /// Where the facts came from.
    pub source: HydrationSource,
}

/// The longest key of any SDK data object (`tables_created`, `facts_replayed`: 14).
pub const MAX_KEY_BYTES: usize = 16;

/// The typed data of a validated SDK fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkData {
    /// See [`CacheStatsData`].
    CacheStats(CacheStatsData),
    /// See [`FactAppendedData`].
    FactAppended(FactAppendedData),
    /// See [`SchemaInitData`].
    SchemaInit(SchemaInitData),
    /// See [`HydrationDoneData`].
    HydrationDone(HydrationDoneData),
}

impl SdkData {
    /// The subtype this data belongs to.
    pub fn subtype(&self) -> SdkSubtype {
        match self {
            SdkData::CacheStats(_) => SdkSubtype::CacheStats,
            SdkData::FactAppended(_) => SdkSubtype::FactAppended,
            SdkData::SchemaInit(_) => SdkSubtype::SchemaInit,
            SdkData::HydrationDone(_) => SdkSubtype::HydrationDone,
        }
    }

    /// The entity the data is about.
    pub fn entity_id(&self) -> &str {
        match self {
            SdkData::CacheStats(data) => &data.entity_id,
            SdkData::FactAppended(data) => &data.entity_id,
            SdkData::SchemaInit(data) => &data.entity_id,
            SdkData::HydrationDone(data) => &data.entity_id,
        }
    }

    /// The entity type the data is about.
    pub fn entity_type(&self) -> &str {
        match self {
            SdkData::CacheStats(data) => &data.entity_type,
            SdkData::FactAppended(data) => &data.entity_type,
            SdkData::SchemaInit(data) => &data.entity_type,
            SdkData::HydrationDone(data) => &data.entity_type,
        }
    }

    /// An upper bound on the bytes of the data serialised as JSON, computed from the fields
    /// without serialising: every key is at most [`MAX_KEY_BYTES`] long, a string takes at most
    /// 6 bytes per byte (`\u00XX` escapes) plus its quotes, a number at most 24 bytes.
    pub fn json_size_bound(&self) -> usize {
        fn text(value: &str) -> usize {
            2 + 6 * value.len()
        }
        const NUMBER: usize = 24;
        let (fields, strings) = match self {
            SdkData::CacheStats(data) => (
                6,
                text(&data.entity_id) + text(&data.entity_type) + 4 * NUMBER,
            ),
            SdkData::FactAppended(data) => (
                6,
                text(&data.entity_id) + text(&data.entity_type) + 4 * NUMBER,
            ),
            SdkData::SchemaInit(data) => (
                4,
                text(&data.entity_id)
                    + text(&data.entity_type)
                    + 2
                    + data
                        .tables_created
                        .iter()
                        .map(|table| text(table) + 1)
                        .sum::<usize>()
                    + NUMBER,
            ),
            SdkData::HydrationDone(data) => (
                5,
                text(&data.entity_id) + text(&data.entity_type) + 2 * NUMBER + text("storage"),
            ),
        };
        2 + fields * (4 + 6 * MAX_KEY_BYTES) + strings
    }

    /// The data as its subtype's JSON object, as the `data` field of a [`crate::model::Fact`]
    /// carries it on the wire.
    pub fn to_value(&self) -> serde_json::Value {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no floats.
        let value = match self {
            SdkData::CacheStats(data) => serde_json::to_value(data),
            SdkData::FactAppended(data) => serde_json::to_value(data),
            SdkData::SchemaInit(data) => serde_json::to_value(data),
            SdkData::HydrationDone(data) => serde_json::to_value(data),
        };
        value.unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_names_are_the_wire_names() {
        for subtype in SdkSubtype::ALL {
            assert_eq!(subtype.name(), subtype.as_str());
        }
        assert_eq!(SdkSubtype::fact_type_name(), SDK_FACT_TYPE);
    }
}
