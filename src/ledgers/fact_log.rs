//! An entity's durable fact log, stored compactly. Every fact an entity appends carries the same
//! envelope (its actor name in the id, entity id and type, tenant), and nearly all share a few
//! fact types and subtypes: the log keeps the envelope once, the type names once each, and per
//! fact only its sequence number, timestamp, two name indexes and its data. A fact with another
//! envelope (none is appended today, but the log does not assume it) is kept whole.
//!
//! Facts come out as owned [`Fact`]s, equal to what went in. Appends are the hot path of a
//! simulation (about 360,000 an hour in `bench-fleet`); reading the log happens on hydration and
//! at the end of a run.

use crate::model::validate::EnvelopeParts;
use crate::model::{Fact, FactData, FactId, Name};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The envelope shared by the compact entries.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Envelope {
    actor: Name,
    entity_id: Name,
    entity_type: Name,
    tenant_id: Name,
}

impl Envelope {
    fn of(parts: &EnvelopeParts<'_>) -> Self {
        Self {
            actor: parts.actor.clone(),
            entity_id: parts.entity_id.clone(),
            entity_type: parts.entity_type.clone(),
            tenant_id: parts.tenant_id.clone(),
        }
    }

    fn matches(&self, parts: &EnvelopeParts<'_>) -> bool {
        // Equal names of one emitter are one shared string: no bytes compared.
        self.actor == *parts.actor
            && self.entity_id == *parts.entity_id
            && self.entity_type == *parts.entity_type
            && self.tenant_id == *parts.tenant_id
    }
}

#[derive(Clone, Debug)]
enum Entry {
    /// A fact with the log's envelope.
    Compact {
        seq: u64,
        timestamp_ms: u64,
        fact_type: u16,
        subtype: u16,
        /// `None` for JSON `null`, the data of most domain facts: the entry stays at 32
        /// bytes instead of 48.
        data: Option<Box<FactData>>,
    },
    /// Any other fact.
    Whole(Box<Fact>),
}

/// An append-only log of facts (see the module documentation).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Fact>", into = "Vec<Fact>")]
pub struct FactLog {
    envelope: Option<Envelope>,
    /// Fact types and subtypes, each once; entries hold indexes. Few (a handful per entity),
    /// so a linear lookup beats a map.
    names: Vec<Name>,
    entries: Vec<Entry>,
}

impl FactLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `fact`.
    pub fn push(&mut self, fact: Fact) {
        self.push_parts(&EnvelopeParts::of(&fact));
    }

    /// Appends the fact made of `parts` (already validated) without building it first.
    pub fn push_parts(&mut self, parts: &EnvelopeParts<'_>) {
        let envelope = self.envelope.get_or_insert_with(|| Envelope::of(parts));
        let names = envelope.matches(parts).then(|| {
            (
                self.name_index(parts.fact_type),
                self.name_index(parts.subtype),
            )
        });
        let Some((Some(fact_type), Some(subtype))) = names else {
            self.entries.push(Entry::Whole(Box::new(parts.to_fact())));
            return;
        };
        self.entries.push(Entry::Compact {
            seq: parts.seq,
            timestamp_ms: parts.timestamp_ms,
            fact_type,
            subtype,
            data: match parts.data {
                FactData::Json(Value::Null) => None,
                data => Some(Box::new(data.clone())),
            },
        });
    }

    /// Number of facts.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log holds no fact.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The fact at `index` (0 is the first appended).
    pub fn get(&self, index: usize) -> Option<Fact> {
        self.entries.get(index).map(|entry| self.fact(entry))
    }

    /// The last fact appended.
    pub fn last(&self) -> Option<Fact> {
        self.entries.last().map(|entry| self.fact(entry))
    }

    /// Every fact, in append order.
    pub fn iter(&self) -> impl Iterator<Item = Fact> + '_ {
        self.entries.iter().map(|entry| self.fact(entry))
    }

    /// Every fact with this subtype, in append order (without rebuilding the others).
    pub fn with_subtype<'log>(&'log self, wanted: &'log str) -> impl Iterator<Item = Fact> + 'log {
        let index = self.names.iter().position(|name| name == wanted);
        self.entries
            .iter()
            .filter(move |entry| match entry {
                Entry::Compact { subtype, .. } => Some(*subtype as usize) == index,
                Entry::Whole(fact) => fact.subtype == wanted,
            })
            .map(|entry| self.fact(entry))
    }

    /// The index of `name` (added if new); `None` past the 65,536th name (the fact is then kept
    /// whole).
    fn name_index(&mut self, name: &str) -> Option<u16> {
        let index = match self.names.iter().position(|known| known == name) {
            Some(index) => index,
            None => {
                self.names.push(Name::from(name));
                self.names.len() - 1
            }
        };
        u16::try_from(index).ok()
    }

    fn name(&self, index: u16) -> Name {
        self.names.get(index as usize).cloned().unwrap_or_default()
    }

    fn fact(&self, entry: &Entry) -> Fact {
        match (entry, &self.envelope) {
            (Entry::Whole(fact), _) => (**fact).clone(),
            (
                Entry::Compact {
                    seq,
                    timestamp_ms,
                    fact_type,
                    subtype,
                    data,
                },
                Some(envelope),
            ) => Fact {
                id: FactId::new(envelope.actor.clone(), *seq),
                fact_type: self.name(*fact_type),
                subtype: self.name(*subtype),
                entity_id: envelope.entity_id.clone(),
                entity_type: envelope.entity_type.clone(),
                tenant_id: envelope.tenant_id.clone(),
                timestamp_ms: *timestamp_ms,
                data: data
                    .as_deref()
                    .cloned()
                    .unwrap_or(FactData::Json(Value::Null)),
            },
            (Entry::Compact { .. }, None) => {
                unreachable!("a compact entry is only pushed after the envelope is set")
            }
        }
    }
}

impl PartialEq for FactLog {
    /// Two logs are equal when they hold the same facts in the same order, however stored.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl From<Vec<Fact>> for FactLog {
    fn from(facts: Vec<Fact>) -> Self {
        let mut log = Self::new();
        for fact in facts {
            log.push(fact);
        }
        log
    }
}

impl From<FactLog> for Vec<Fact> {
    fn from(log: FactLog) -> Self {
        log.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntityMeta;

    fn meta(entity_id: &str) -> EntityMeta {
        EntityMeta {
            entity_id: entity_id.into(),
            entity_type: "account".into(),
            tenant_id: "t1".into(),
        }
    }

    fn domain(actor: &str, seq: u64, subtype: &str, data: serde_json::Value) -> Fact {
        let meta = meta(actor);
        Fact::domain(
            FactId::new(actor, seq),
            &meta,
            seq * 10,
            "account",
            subtype,
            data,
        )
    }

    #[test]
    fn facts_come_out_as_they_went_in_in_order() {
        let facts = vec![
            domain("a", 1, "updated", serde_json::Value::Null),
            domain("a", 2, "child_rollup", serde_json::json!({ "x": 1 })),
            domain("b", 3, "updated", serde_json::Value::Null),
            domain("a", 4, "created", serde_json::json!([1, 2])),
        ];
        let log = FactLog::from(facts.clone());
        assert_eq!(log.len(), 4);
        assert_eq!(log.iter().collect::<Vec<_>>(), facts);
        assert_eq!(log.get(1), Some(facts[1].clone()));
        assert_eq!(log.get(4), None);
        assert_eq!(log.last(), Some(facts[3].clone()));
        assert_eq!(Vec::<Fact>::from(log.clone()), facts);
        assert_eq!(
            log.with_subtype("updated").collect::<Vec<_>>(),
            vec![facts[0].clone(), facts[2].clone()]
        );
        assert_eq!(log.with_subtype("deleted").count(), 0);
    }

    /// The point of the log: facts of one envelope are kept compact, each name once; only
    /// another envelope's fact is kept whole.
    #[test]
    fn facts_of_one_envelope_are_kept_compact() {
        let mut log = FactLog::new();
        for seq in 0..10 {
            log.push(domain("a", seq, "updated", serde_json::Value::Null));
        }
        log.push(domain("b", 10, "updated", serde_json::Value::Null));
        let whole = log
            .entries
            .iter()
            .filter(|entry| matches!(entry, Entry::Whole(_)))
            .count();
        assert_eq!((whole, log.names.len()), (1, 2), "{:?}", log.names);
    }

    #[test]
    fn an_entry_stays_small() {
        // 360,000 entries an hour in bench-fleet: every byte is 360 kB of fresh memory.
        assert!(std::mem::size_of::<Entry>() <= 32);
    }

    #[test]
    fn logs_are_equal_when_their_facts_are() {
        let one = domain("a", 1, "updated", serde_json::Value::Null);
        let two = domain("a", 2, "created", serde_json::Value::Null);
        let mut left = FactLog::new();
        left.push(one.clone());
        left.push(two.clone());
        assert_eq!(left, FactLog::from(vec![one.clone(), two.clone()]));
        assert_ne!(left, FactLog::from(vec![two, one]));
        assert!(FactLog::new().is_empty());
        assert_eq!(FactLog::new(), FactLog::default());
    }

    #[test]
    fn a_log_round_trips_through_serde_as_a_list_of_facts() {
        let facts = vec![
            domain("a", 1, "updated", serde_json::Value::Null),
            domain("c", 2, "updated", serde_json::json!({ "k": "v" })),
        ];
        let log = FactLog::from(facts.clone());
        let json = serde_json::to_value(&log).expect("serializes");
        assert_eq!(json, serde_json::to_value(&facts).expect("serializes"));
        let back: FactLog = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, log);
    }
}
