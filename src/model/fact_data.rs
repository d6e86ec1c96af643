//! A fact's `data`: typed when z0's own SDK code built it, JSON otherwise.
//!
//! On the wire `data` is JSON, and a receiver cannot trust a sender: it validates the data into
//! typed [`SdkData`] (see [`crate::model::validate`]). Facts the simulated SDK builds start typed
//! ([`FactData::Sdk`]), which spares every emission a JSON map and every receiver its parsing;
//! the checks that do not come with the types (subtype, entity, periods, size) still run on
//! them. Anything that did not come from the SDK (domain facts, forged facts, fuzz input, facts
//! read back from JSON) is [`FactData::Json`].
//!
//! Both forms serialise to the same JSON, and equality is equality of that JSON, so nothing
//! outside this file can tell them apart except by cost.

use super::sdk::SdkData;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::borrow::Cow;

/// See the module documentation.
#[derive(Clone, Debug)]
pub enum FactData {
    /// Built by the SDK: the JSON is exactly `SdkData::to_value` (boxed: facts stay small).
    Sdk(Box<SdkData>),
    /// Anything else.
    Json(Value),
}

impl FactData {
    /// The data as JSON (borrowed when it already is JSON).
    pub fn json(&self) -> Cow<'_, Value> {
        match self {
            Self::Sdk(data) => Cow::Owned(data.to_value()),
            Self::Json(value) => Cow::Borrowed(value),
        }
    }

    /// The data as JSON to edit (typed data becomes JSON first).
    pub fn json_mut(&mut self) -> &mut Value {
        if let Self::Sdk(data) = self {
            *self = Self::Json(data.to_value());
        }
        match self {
            Self::Json(value) => value,
            Self::Sdk(_) => unreachable!("typed data was just turned into JSON"),
        }
    }

    /// The typed SDK data, if the SDK built this.
    pub fn sdk(&self) -> Option<&SdkData> {
        match self {
            Self::Sdk(data) => Some(data),
            Self::Json(_) => None,
        }
    }
}

impl From<Value> for FactData {
    fn from(value: Value) -> Self {
        Self::Json(value)
    }
}

impl From<SdkData> for FactData {
    fn from(data: SdkData) -> Self {
        Self::Sdk(Box::new(data))
    }
}

impl PartialEq for FactData {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Sdk(left), Self::Sdk(right)) => left == right,
            (Self::Json(left), Self::Json(right)) => left == right,
            _ => self.json() == other.json(),
        }
    }
}

impl Serialize for FactData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Through the JSON value, so that the text is the same too (keys in the same order).
            Self::Sdk(data) => data.to_value().serialize(serializer),
            Self::Json(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for FactData {
    /// Data read from outside is never trusted as typed: always JSON.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::Json)
    }
}

impl std::fmt::Display for FactData {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sdk::{
        CacheStatsData, FactAppendedData, HydrationDoneData, HydrationSource, SchemaInitData,
    };

    fn stats() -> SdkData {
        SdkData::CacheStats(CacheStatsData {
            entity_id: "a".into(),
            entity_type: "account".into(),
            period_start_ms: 1,
            period_end_ms: 60_001,
            hits: 8,
            misses: 2,
        })
    }

    #[test]
    fn typed_data_serialises_exactly_as_its_json() {
        let typed = FactData::from(stats());
        let json = FactData::from(stats().to_value());
        assert_eq!(
            serde_json::to_string(&typed).expect("serialises"),
            serde_json::to_string(&json).expect("serialises")
        );
        assert_eq!(typed.to_string(), json.to_string());
        assert_eq!(typed.json().into_owned(), stats().to_value());
    }

    #[test]
    fn equality_is_json_equality_whatever_the_form() {
        let typed = FactData::from(stats());
        assert_eq!(typed, FactData::from(stats().to_value()));
        assert_eq!(FactData::from(stats().to_value()), typed);
        let mut edited = typed.clone();
        edited.json_mut()["hits"] = serde_json::json!(9);
        assert_ne!(edited, typed);
        assert!(edited.sdk().is_none());
        let other = FactData::from(SdkData::FactAppended(FactAppendedData {
            entity_id: "a".into(),
            entity_type: "account".into(),
            period_start_ms: 1,
            period_end_ms: 2,
            count: 1,
            last_seq: 3,
        }));
        assert_ne!(other, typed);
    }

    #[test]
    fn data_read_back_is_json() {
        let text = serde_json::to_string(&FactData::from(stats())).expect("serialises");
        let back: FactData = serde_json::from_str(&text).expect("parses");
        assert!(back.sdk().is_none());
        assert_eq!(back, FactData::from(stats()));
    }

    #[test]
    fn the_size_bound_of_typed_data_is_never_below_its_json_size() {
        // Control characters are the worst case: each becomes a six-byte `\u00XX` escape.
        for text in [
            "",
            "a",
            "\u{1}\u{2}\u{1f}",
            &"\u{7}".repeat(300),
            "account-1",
        ] {
            let samples = [
                SdkData::CacheStats(CacheStatsData {
                    entity_id: text.into(),
                    entity_type: text.into(),
                    period_start_ms: u64::MAX,
                    period_end_ms: u64::MAX,
                    hits: u64::MAX,
                    misses: u64::MAX,
                }),
                SdkData::FactAppended(FactAppendedData {
                    entity_id: text.into(),
                    entity_type: text.into(),
                    period_start_ms: u64::MAX,
                    period_end_ms: u64::MAX,
                    count: u64::MAX,
                    last_seq: u64::MAX,
                }),
                SdkData::SchemaInit(SchemaInitData {
                    entity_id: text.into(),
                    entity_type: text.into(),
                    tables_created: vec![text.to_owned(), "facts".to_owned(), String::new()],
                    duration_ms: u64::MAX,
                }),
                SdkData::HydrationDone(HydrationDoneData {
                    entity_id: text.into(),
                    entity_type: text.into(),
                    facts_replayed: u64::MAX,
                    duration_ms: u64::MAX,
                    source: HydrationSource::Storage,
                }),
            ];
            for data in samples {
                let bytes = serde_json::to_vec(&data.to_value())
                    .expect("serialises")
                    .len();
                assert!(
                    data.json_size_bound() >= bytes,
                    "{data:?}: bound {} < {bytes}",
                    data.json_size_bound()
                );
            }
        }
    }
}
