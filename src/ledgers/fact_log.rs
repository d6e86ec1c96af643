//! An entity's durable fact log, stored compactly. Every fact an entity appends carries the same
//! envelope (its actor name in the id, entity id and type, tenant), and nearly all share a few
//! fact types and subtypes: the log keeps the envelope once, the type names once each, and per
//! fact 16 bytes: one word packing its name indexes and how far its sequence number and
//! timestamp moved on from the previous compact fact's, and its data when that is not `null`.
//! A fact that does not fit (another envelope, none is appended today but the log does not
//! assume it; a sequence number or timestamp that went back or jumped too far; a 256th name) is
//! kept whole.
//!
//! Facts come out as owned [`Fact`]s, equal to what went in, by walking the log from its start
//! (the deltas need the facts before). Appends are the hot path of a simulation (about 360,000
//! an hour in `bench-fleet`); reading the log happens on hydration and at the end of a run.

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

/// The packed word of an entry. A whole fact sets [`WHOLE`] and keeps its position in
/// `FactLog::wholes` in the low bits; a compact one packs, from the low bits up, its timestamp's
/// delta (32 bits: about 49 days), its sequence number's delta (15 bits), and its fact type's
/// and subtype's name indexes (8 bits each).
const WHOLE: u64 = 1 << 63;
const TIMESTAMP_BITS: u32 = 32;
const SEQ_BITS: u32 = 15;
const NAME_BITS: u32 = 8;
const SEQ_SHIFT: u32 = TIMESTAMP_BITS;
const FACT_TYPE_SHIFT: u32 = SEQ_SHIFT + SEQ_BITS;
const SUBTYPE_SHIFT: u32 = FACT_TYPE_SHIFT + NAME_BITS;
const _: () = assert!(
    SUBTYPE_SHIFT + NAME_BITS == 63,
    "the fields fill the word below WHOLE"
);

/// The low `bits` bits.
const fn mask(bits: u32) -> u64 {
    (1 << bits) - 1
}

/// One fact: see [`WHOLE`].
#[derive(Clone, Debug)]
struct Entry {
    packed: u64,
    /// A compact fact's data; `None` for JSON `null` (most domain facts) and for a whole fact.
    data: Option<Box<FactData>>,
}

/// Where the deltas count from: the previous compact fact (zero before the first).
#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    seq: u64,
    timestamp_ms: u64,
}

/// A compact fact's numbers, unpacked.
struct Compact {
    seq: u64,
    timestamp_ms: u64,
    fact_type: usize,
    subtype: usize,
}

impl Cursor {
    /// The packed word of a fact with these numbers, if its deltas fit.
    fn pack(&self, seq: u64, timestamp_ms: u64, fact_type: usize, subtype: usize) -> Option<u64> {
        let seq_delta = seq
            .checked_sub(self.seq)
            .filter(|delta| *delta <= mask(SEQ_BITS))?;
        let timestamp_delta = timestamp_ms
            .checked_sub(self.timestamp_ms)
            .filter(|delta| *delta <= mask(TIMESTAMP_BITS))?;
        let fact_type = u64::try_from(fact_type)
            .ok()
            .filter(|index| *index <= mask(NAME_BITS))?;
        let subtype = u64::try_from(subtype)
            .ok()
            .filter(|index| *index <= mask(NAME_BITS))?;
        Some(
            timestamp_delta
                | seq_delta << SEQ_SHIFT
                | fact_type << FACT_TYPE_SHIFT
                | subtype << SUBTYPE_SHIFT,
        )
    }

    /// Unpacks a compact word and moves the cursor to its fact.
    fn unpack(&mut self, packed: u64) -> Compact {
        debug_assert_eq!(packed & WHOLE, 0, "a whole fact has no deltas");
        self.seq += packed >> SEQ_SHIFT & mask(SEQ_BITS);
        self.timestamp_ms += packed & mask(TIMESTAMP_BITS);
        Compact {
            seq: self.seq,
            timestamp_ms: self.timestamp_ms,
            fact_type: (packed >> FACT_TYPE_SHIFT & mask(NAME_BITS)) as usize,
            subtype: (packed >> SUBTYPE_SHIFT & mask(NAME_BITS)) as usize,
        }
    }
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
    /// The facts kept whole, in append order.
    wholes: Vec<Fact>,
    /// The last compact fact's numbers: the next one's deltas count from them.
    last_compact: Cursor,
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
        let packed = if envelope.matches(parts) {
            let fact_type = self.name_index(parts.fact_type);
            let subtype = self.name_index(parts.subtype);
            self.last_compact
                .pack(parts.seq, parts.timestamp_ms, fact_type, subtype)
        } else {
            None
        };
        let Some(packed) = packed else {
            self.entries.push(Entry {
                packed: WHOLE | self.wholes.len() as u64,
                data: None,
            });
            self.wholes.push(parts.to_fact());
            return;
        };
        self.last_compact = Cursor {
            seq: parts.seq,
            timestamp_ms: parts.timestamp_ms,
        };
        self.entries.push(Entry {
            packed,
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

    /// The fact at `index` (0 is the first appended). Walks the log from its start.
    pub fn get(&self, index: usize) -> Option<Fact> {
        self.iter().nth(index)
    }

    /// The last fact appended. Walks the log from its start.
    pub fn last(&self) -> Option<Fact> {
        self.iter().last()
    }

    /// Every fact, in append order.
    pub fn iter(&self) -> impl Iterator<Item = Fact> + '_ {
        self.walk()
            .map(|(entry, compact)| self.fact(entry, compact))
    }

    /// Every fact with this subtype, in append order (without rebuilding the others).
    pub fn with_subtype<'log>(&'log self, wanted: &'log str) -> impl Iterator<Item = Fact> + 'log {
        let index = self.names.iter().position(|name| name == wanted);
        self.walk()
            .filter(move |(entry, compact)| match compact {
                Some(compact) => Some(compact.subtype) == index,
                None => self.whole(entry).subtype == wanted,
            })
            .map(|(entry, compact)| self.fact(entry, compact))
    }

    /// Every entry with its numbers unpacked (`None` for a whole fact), in append order.
    fn walk(&self) -> impl Iterator<Item = (&Entry, Option<Compact>)> + '_ {
        let mut cursor = Cursor::default();
        self.entries.iter().map(move |entry| {
            let compact = (entry.packed & WHOLE == 0).then(|| cursor.unpack(entry.packed));
            (entry, compact)
        })
    }

    /// The index of `name` (added if new; past 256 names it no longer fits, and the fact is
    /// kept whole).
    fn name_index(&mut self, name: &str) -> usize {
        match self.names.iter().position(|known| known == name) {
            Some(index) => index,
            None => {
                self.names.push(Name::from(name));
                self.names.len() - 1
            }
        }
    }

    fn name(&self, index: usize) -> Name {
        self.names.get(index).cloned().unwrap_or_default()
    }

    /// The whole fact of a whole entry.
    fn whole(&self, entry: &Entry) -> &Fact {
        let position = (entry.packed & !WHOLE) as usize;
        &self.wholes[position]
    }

    fn fact(&self, entry: &Entry, compact: Option<Compact>) -> Fact {
        let (Some(compact), Some(envelope)) = (compact, &self.envelope) else {
            return self.whole(entry).clone();
        };
        Fact {
            id: FactId::new(envelope.actor.clone(), compact.seq),
            fact_type: self.name(compact.fact_type),
            subtype: self.name(compact.subtype),
            entity_id: envelope.entity_id.clone(),
            entity_type: envelope.entity_type.clone(),
            tenant_id: envelope.tenant_id.clone(),
            timestamp_ms: compact.timestamp_ms,
            data: entry
                .data
                .as_deref()
                .cloned()
                .unwrap_or(FactData::Json(Value::Null)),
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
    use proptest::prelude::*;

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
        assert_eq!(
            (log.wholes.len(), log.names.len()),
            (1, 2),
            "{:?}",
            log.names
        );
    }

    #[test]
    fn an_entry_stays_small() {
        // 360,000 entries an hour in bench-fleet: every byte is 360 kB of fresh memory.
        assert!(std::mem::size_of::<Entry>() <= 16);
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

    /// One drawn fact: its actor (two share the log), how far its sequence number and
    /// timestamp move (big jumps and steps back included), its subtype (up to 300 names, past
    /// what the packed word holds) and whether it has data.
    fn drawn_fact(
        (actor, seq_step, timestamp_step, subtype, with_data): (u8, i64, i64, u16, bool),
        last: &mut (u64, u64),
    ) -> Fact {
        let seq = last.0.saturating_add_signed(seq_step);
        let timestamp_ms = last.1.saturating_add_signed(timestamp_step);
        *last = (seq, timestamp_ms);
        let data = if with_data {
            serde_json::json!({ "n": seq })
        } else {
            serde_json::Value::Null
        };
        let mut fact = domain(
            ["a", "b"][usize::from(actor % 2)],
            seq,
            &format!("s{subtype}"),
            data,
        );
        fact.timestamp_ms = timestamp_ms;
        fact
    }

    fn step() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => 0..3i64,
            1 => -3..0i64,
            1 => (1i64 << 14)..(1i64 << 16),
            1 => (1i64 << 31)..(1i64 << 33),
        ]
    }

    proptest! {
        /// Whatever is appended, compact or whole, comes back equal and in order, by every read.
        #[test]
        fn any_facts_read_back_exactly(
            draws in proptest::collection::vec(
                (0..8u8, step(), step(), prop_oneof![8 => 0..4u16, 1 => 0..300u16], any::<bool>()),
                0..80,
            )
        ) {
            let mut last = (0, 0);
            let facts: Vec<Fact> =
                draws.into_iter().map(|draw| drawn_fact(draw, &mut last)).collect();
            let log = FactLog::from(facts.clone());
            prop_assert_eq!(log.len(), facts.len());
            prop_assert_eq!(log.iter().collect::<Vec<_>>(), facts.clone());
            prop_assert_eq!(log.last(), facts.last().cloned());
            if let Some(middle) = facts.get(facts.len() / 2) {
                prop_assert_eq!(log.get(facts.len() / 2), Some(middle.clone()));
            }
            for subtype in ["s0", "s3", "s299"] {
                let expected: Vec<Fact> =
                    facts.iter().filter(|fact| fact.subtype == subtype).cloned().collect();
                prop_assert_eq!(log.with_subtype(subtype).collect::<Vec<_>>(), expected);
            }
        }
    }

    /// An entity's own facts (sequence numbers a few apart, timestamps seconds apart, a handful
    /// of names) are all compact.
    #[test]
    fn an_entitys_facts_are_all_compact() {
        let mut log = FactLog::new();
        for seq in 0..1_000u64 {
            let mut fact = domain(
                "a",
                5 + seq * 3,
                ["updated", "created"][(seq % 2) as usize],
                serde_json::Value::Null,
            );
            fact.timestamp_ms = seq * 9_000;
            log.push(fact);
        }
        assert_eq!((log.wholes.len(), log.len()), (0, 1_000));
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
