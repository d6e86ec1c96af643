//! The durable storage of an SDK fact receiver (the SystemLedger, and each tenant ledger's
//! facts): every stored fact, in arrival order, kept compact.
//!
//! A receiver stores every SDK fact of its fleet, so this is most of a large run's memory
//! (README, "Speed"). A stored fact keeps only what cannot be derived: its emitter's sequence
//! number, its timestamp and its numbers, each in 32 bits when it fits (36 bytes a fact; a
//! fact with a bigger number keeps its numbers in a side table). What many facts share
//! (emitter, entity id, entity type, tenant) is kept once, as a *source*; a schema_init's table
//! list goes to a side table.
//! A fact read back ([`SystemStorage::facts`], [`SystemStorage::entity_facts`]) is rebuilt from
//! these parts. It is equal to the fact that was stored: the receiver validated it first, and
//! validation guarantees that its type is `sdk`, that its subtype is its data's, and that its
//! data names the fact's own entity; the data is rebuilt typed, which compares and serialises
//! as the same JSON ([`crate::model::FactData`]).
//!
//! Indexes: by id, a table of positions hashed by the id (no copy of the id); by entity, the
//! first and last position of the entity's facts, each fact linking to the entity's next one.
//! Both are lookup-only, with a fixed hasher: deterministic, and never iterated into output.

use crate::model::{
    CacheStatsData, Fact, FactAppendedData, FactData, FactId, HydrationDoneData, HydrationSource,
    Name, SchemaInitData, SdkData, SdkSubtype,
};
use crate::planted::{self, Plant};
use hashbrown::HashTable;
use rustc_hash::{FxHashMap, FxHasher};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

/// A stored SDK fact with its validated data.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSdkFact {
    /// The fact as received (rebuilt from storage; equal to it).
    pub fact: Fact,
    /// Its validated data.
    pub data: SdkData,
}

/// No position: the end of an entity's chain, or of a source's aliases.
const NONE: u32 = u32::MAX;

/// What the facts of one emitter about one entity share.
#[derive(Clone, Debug)]
struct Source {
    emitter: Name,
    entity_id: Name,
    entity_type: Name,
    tenant_id: Name,
    /// Another source with the same entity id (a forged fact's other type or tenant), or NONE.
    next_alias: u32,
}

impl Source {
    fn matches(&self, fact: &Fact) -> bool {
        self.emitter == fact.id.actor
            && self.entity_type == fact.entity_type
            && self.tenant_id == fact.tenant_id
    }
}

/// A fact's numbers; its entity comes from its source.
#[derive(Clone, Copy, Debug)]
enum CompactData {
    CacheStats {
        period_start_ms: u64,
        period_end_ms: u64,
        hits: u64,
        misses: u64,
    },
    FactAppended {
        period_start_ms: u64,
        period_end_ms: u64,
        count: u64,
        last_seq: u64,
    },
    /// Its tables and duration, by position in [`SystemStorage::schema_inits`].
    SchemaInit { index: u32 },
    HydrationDone {
        facts_replayed: u64,
        duration_ms: u64,
        source: HydrationSource,
    },
}

/// A fact's numbers, each in 32 bits: what nearly every fact fits (times under about 49 days,
/// counts and sequence numbers under 4 billion). A fact with a bigger number is [`Self::Wide`].
#[derive(Clone, Copy, Debug)]
enum NarrowData {
    CacheStats {
        period_start_ms: u32,
        period_end_ms: u32,
        hits: u32,
        misses: u32,
    },
    FactAppended {
        period_start_ms: u32,
        period_end_ms: u32,
        count: u32,
        last_seq: u32,
    },
    SchemaInit {
        index: u32,
    },
    HydrationDone {
        facts_replayed: u32,
        duration_ms: u32,
        source: HydrationSource,
    },
    /// Some number of the fact does not fit: its numbers (sequence number and timestamp too)
    /// are in [`SystemStorage::wides`] at this position.
    Wide {
        index: u32,
    },
}

/// The numbers of a fact that did not fit [`NarrowData`].
#[derive(Clone, Copy, Debug)]
struct WideNumbers {
    seq: u64,
    timestamp_ms: u64,
    data: CompactData,
}

/// One stored fact: 36 bytes.
#[derive(Clone, Debug)]
struct CompactFact {
    /// Unused (0) when `data` is `Wide`.
    seq: u32,
    /// Unused (0) when `data` is `Wide`.
    timestamp_ms: u32,
    source: u32,
    /// The position of the next fact about the same entity id, or NONE.
    next_of_entity: u32,
    data: NarrowData,
}

/// The 32-bit form of `value`, if it fits.
fn narrow(value: u64) -> Option<u32> {
    u32::try_from(value).ok()
}

impl NarrowData {
    /// The narrow form of `data`, if every number fits.
    fn of(data: CompactData) -> Option<Self> {
        Some(match data {
            CompactData::CacheStats {
                period_start_ms,
                period_end_ms,
                hits,
                misses,
            } => Self::CacheStats {
                period_start_ms: narrow(period_start_ms)?,
                period_end_ms: narrow(period_end_ms)?,
                hits: narrow(hits)?,
                misses: narrow(misses)?,
            },
            CompactData::FactAppended {
                period_start_ms,
                period_end_ms,
                count,
                last_seq,
            } => Self::FactAppended {
                period_start_ms: narrow(period_start_ms)?,
                period_end_ms: narrow(period_end_ms)?,
                count: narrow(count)?,
                last_seq: narrow(last_seq)?,
            },
            CompactData::SchemaInit { index } => Self::SchemaInit { index },
            CompactData::HydrationDone {
                facts_replayed,
                duration_ms,
                source,
            } => Self::HydrationDone {
                facts_replayed: narrow(facts_replayed)?,
                duration_ms: narrow(duration_ms)?,
                source,
            },
        })
    }

    /// The full form; `None` for `Wide`.
    fn widen(self) -> Option<CompactData> {
        Some(match self {
            Self::CacheStats {
                period_start_ms,
                period_end_ms,
                hits,
                misses,
            } => CompactData::CacheStats {
                period_start_ms: period_start_ms.into(),
                period_end_ms: period_end_ms.into(),
                hits: hits.into(),
                misses: misses.into(),
            },
            Self::FactAppended {
                period_start_ms,
                period_end_ms,
                count,
                last_seq,
            } => CompactData::FactAppended {
                period_start_ms: period_start_ms.into(),
                period_end_ms: period_end_ms.into(),
                count: count.into(),
                last_seq: last_seq.into(),
            },
            Self::SchemaInit { index } => CompactData::SchemaInit { index },
            Self::HydrationDone {
                facts_replayed,
                duration_ms,
                source,
            } => CompactData::HydrationDone {
                facts_replayed: facts_replayed.into(),
                duration_ms: duration_ms.into(),
                source,
            },
            Self::Wide { .. } => return None,
        })
    }
}

/// An entity id's facts: the first and the last, and its first source.
#[derive(Clone, Copy, Debug)]
struct EntityFacts {
    first: u32,
    last: u32,
    source: u32,
}

/// The storage: see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct SystemStorage {
    facts: Vec<CompactFact>,
    sources: Vec<Source>,
    schema_inits: Vec<(Vec<String>, u64)>,
    /// The numbers of the facts whose numbers did not fit 32 bits (few or none).
    wides: Vec<WideNumbers>,
    by_id: HashTable<u32>,
    by_entity: FxHashMap<Name, EntityFacts>,
    tenants: BTreeSet<Name>,
}

/// Two storages are equal when they hold equal facts in the same order.
impl PartialEq for SystemStorage {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.facts().eq(other.facts())
    }
}

/// The hash of a fact id in the id index.
fn id_hash(emitter: &str, seq: u64) -> u64 {
    let mut hasher = FxHasher::default();
    emitter.hash(&mut hasher);
    seq.hash(&mut hasher);
    hasher.finish()
}

/// A position as the indexes keep it. Storage of 4 billion facts is beyond any run's memory.
fn position_of(index: usize) -> u32 {
    u32::try_from(index).expect("fewer than 2^32 stored facts")
}

/// A stored fact's numbers in full (`wides`: the storage's [`SystemStorage::wides`]).
fn numbers_of(compact: &CompactFact, wides: &[WideNumbers]) -> WideNumbers {
    match compact.data {
        NarrowData::Wide { index } => wides[index as usize],
        narrow => WideNumbers {
            seq: compact.seq.into(),
            timestamp_ms: compact.timestamp_ms.into(),
            data: narrow
                .widen()
                .unwrap_or_else(|| unreachable!("only a wide fact has no full form")),
        },
    }
}

impl SystemStorage {
    /// How many facts are stored.
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Distinct tenants with a stored fact.
    pub fn tenant_count(&self) -> usize {
        self.tenants.len()
    }

    /// Distinct entity ids with a stored fact.
    pub fn entity_count(&self) -> usize {
        self.by_entity.len()
    }

    /// Every stored fact, in arrival order (rebuilt: see the module documentation).
    pub fn facts(&self) -> impl Iterator<Item = StoredSdkFact> + '_ {
        self.facts.iter().map(|compact| self.rebuild(compact))
    }

    /// Whether a fact with this id is stored.
    pub fn contains(&self, id: &FactId) -> bool {
        let hash = id_hash(&id.actor, id.seq);
        self.by_id
            .find(hash, |&position| self.has_id(position, id))
            .is_some()
    }

    /// The fact stored last, if any.
    pub fn last(&self) -> Option<StoredSdkFact> {
        self.facts.last().map(|compact| self.rebuild(compact))
    }

    /// The observations (cache hits and misses, appends) in the stored facts.
    pub fn observations(&self) -> u64 {
        self.facts
            .iter()
            .map(|compact| match self.numbers(compact).data {
                CompactData::CacheStats { hits, misses, .. } => hits.saturating_add(misses),
                CompactData::FactAppended { count, .. } => count,
                CompactData::SchemaInit { .. } | CompactData::HydrationDone { .. } => 0,
            })
            .fold(0, u64::saturating_add)
    }

    /// Stores a validated fact (`data` is its validated data) not stored before (the caller
    /// de-duplicated it).
    pub fn store(&mut self, fact: &Fact, data: SdkData) {
        debug_assert!(!self.contains(&fact.id), "{} stored twice", fact.id);
        debug_assert!(
            data.entity_id() == fact.entity_id.as_str() && data.subtype().name() == fact.subtype,
            "{} stored unvalidated",
            fact.id
        );
        let position = position_of(self.facts.len());
        if !self.tenants.contains(&fact.tenant_id) {
            self.tenants.insert(fact.tenant_id.clone());
        }
        let source = self.link_entity(fact, position);
        let data = self.compact_data(data);
        let compact = self.narrow_fact(fact.id.seq, fact.timestamp_ms, source, data);
        self.facts.push(compact);
        let (facts, sources, wides) = (&self.facts, &self.sources, &self.wides);
        let rehash = |&position: &u32| {
            let compact = &facts[position as usize];
            id_hash(
                &sources[compact.source as usize].emitter,
                numbers_of(compact, wides).seq,
            )
        };
        self.by_id
            .insert_unique(id_hash(&fact.id.actor, fact.id.seq), position, rehash);
    }

    /// The facts stored about `entity_id`, in arrival order (newest first with the
    /// `reads_newest_first` plant).
    pub fn entity_facts(&self, entity_id: &str) -> Vec<StoredSdkFact> {
        let mut positions = Vec::new();
        let mut next = self
            .by_entity
            .get(entity_id)
            .map_or(NONE, |facts| facts.first);
        while next != NONE {
            positions.push(next);
            next = self.facts[next as usize].next_of_entity;
        }
        if planted::active(Plant::ReadsNewestFirst) {
            // The planted mistake: newest first, where the API promises arrival order.
            positions.reverse();
        }
        positions
            .into_iter()
            .map(|position| self.rebuild(&self.facts[position as usize]))
            .collect()
    }

    /// Links the fact at `position` to its entity's chain; returns its source.
    fn link_entity(&mut self, fact: &Fact, position: u32) -> u32 {
        let Some(entity) = self.by_entity.get(&fact.entity_id).copied() else {
            let source = self.add_source(fact, NONE);
            let entity = EntityFacts {
                first: position,
                last: position,
                source,
            };
            self.by_entity.insert(fact.entity_id.clone(), entity);
            return source;
        };
        self.facts[entity.last as usize].next_of_entity = position;
        let (source, aliases) = match self.find_source(entity.source, fact) {
            Some(source) => (source, entity.source),
            None => {
                // Another type or tenant under a known entity id: a new alias, first in line.
                let source = self.add_source(fact, entity.source);
                (source, source)
            }
        };
        if let Some(entry) = self.by_entity.get_mut(&fact.entity_id) {
            entry.last = position;
            entry.source = aliases;
        }
        source
    }

    /// The source among the aliases from `first` that `fact` comes from.
    fn find_source(&self, first: u32, fact: &Fact) -> Option<u32> {
        let mut next = first;
        while next != NONE {
            let source = &self.sources[next as usize];
            if source.matches(fact) {
                return Some(next);
            }
            next = source.next_alias;
        }
        None
    }

    fn add_source(&mut self, fact: &Fact, next_alias: u32) -> u32 {
        let index = position_of(self.sources.len());
        self.sources.push(Source {
            emitter: fact.id.actor.clone(),
            entity_id: fact.entity_id.clone(),
            entity_type: fact.entity_type.clone(),
            tenant_id: fact.tenant_id.clone(),
            next_alias,
        });
        index
    }

    fn compact_data(&mut self, data: SdkData) -> CompactData {
        match data {
            SdkData::CacheStats(stats) => CompactData::CacheStats {
                period_start_ms: stats.period_start_ms,
                period_end_ms: stats.period_end_ms,
                hits: stats.hits,
                misses: stats.misses,
            },
            SdkData::FactAppended(appended) => CompactData::FactAppended {
                period_start_ms: appended.period_start_ms,
                period_end_ms: appended.period_end_ms,
                count: appended.count,
                last_seq: appended.last_seq,
            },
            SdkData::SchemaInit(init) => {
                let index = position_of(self.schema_inits.len());
                self.schema_inits
                    .push((init.tables_created, init.duration_ms));
                CompactData::SchemaInit { index }
            }
            SdkData::HydrationDone(done) => CompactData::HydrationDone {
                facts_replayed: done.facts_replayed,
                duration_ms: done.duration_ms,
                source: done.source,
            },
        }
    }

    /// A stored fact of these numbers: narrow if they all fit, otherwise with its numbers in
    /// [`Self::wides`].
    fn narrow_fact(
        &mut self,
        seq: u64,
        timestamp_ms: u64,
        source: u32,
        data: CompactData,
    ) -> CompactFact {
        if let (Some(seq), Some(timestamp_ms), Some(data)) =
            (narrow(seq), narrow(timestamp_ms), NarrowData::of(data))
        {
            return CompactFact {
                seq,
                timestamp_ms,
                source,
                next_of_entity: NONE,
                data,
            };
        }
        let index = position_of(self.wides.len());
        self.wides.push(WideNumbers {
            seq,
            timestamp_ms,
            data,
        });
        CompactFact {
            seq: 0,
            timestamp_ms: 0,
            source,
            next_of_entity: NONE,
            data: NarrowData::Wide { index },
        }
    }

    /// A stored fact's numbers in full.
    fn numbers(&self, compact: &CompactFact) -> WideNumbers {
        numbers_of(compact, &self.wides)
    }

    fn has_id(&self, position: u32, id: &FactId) -> bool {
        let compact = &self.facts[position as usize];
        self.sources[compact.source as usize].emitter == id.actor
            && self.numbers(compact).seq == id.seq
    }

    fn rebuild(&self, compact: &CompactFact) -> StoredSdkFact {
        let source = &self.sources[compact.source as usize];
        let numbers = self.numbers(compact);
        let data = self.rebuild_data(numbers.data, source);
        let fact = Fact {
            id: FactId {
                actor: source.emitter.clone(),
                seq: numbers.seq,
            },
            fact_type: SdkSubtype::fact_type_name(),
            subtype: data.subtype().name(),
            entity_id: source.entity_id.clone(),
            entity_type: source.entity_type.clone(),
            tenant_id: source.tenant_id.clone(),
            timestamp_ms: numbers.timestamp_ms,
            data: FactData::from(data.clone()),
        };
        StoredSdkFact { fact, data }
    }

    fn rebuild_data(&self, data: CompactData, source: &Source) -> SdkData {
        let (entity_id, entity_type) = (source.entity_id.clone(), source.entity_type.clone());
        match data {
            CompactData::CacheStats {
                period_start_ms,
                period_end_ms,
                hits,
                misses,
            } => SdkData::CacheStats(CacheStatsData {
                entity_id,
                entity_type,
                period_start_ms,
                period_end_ms,
                hits,
                misses,
            }),
            CompactData::FactAppended {
                period_start_ms,
                period_end_ms,
                count,
                last_seq,
            } => SdkData::FactAppended(FactAppendedData {
                entity_id,
                entity_type,
                period_start_ms,
                period_end_ms,
                count,
                last_seq,
            }),
            CompactData::SchemaInit { index } => {
                let (tables_created, duration_ms) = self.schema_inits[index as usize].clone();
                SdkData::SchemaInit(SchemaInitData {
                    entity_id,
                    entity_type,
                    tables_created,
                    duration_ms,
                })
            }
            CompactData::HydrationDone {
                facts_replayed,
                duration_ms,
                source,
            } => SdkData::HydrationDone(HydrationDoneData {
                entity_id,
                entity_type,
                facts_replayed,
                duration_ms,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A fact drawn from small pools of emitters, entities, types and tenants, so that ids,
    /// entities and aliases (one entity id under two types or tenants) repeat.
    fn fact(draw: (u8, u8, u8, u8, u8, u64), seq: u64) -> (Fact, SdkData) {
        let (emitter, entity, entity_type, tenant, subtype, number) = draw;
        let entity_id = Name::from(format!("e{entity}").as_str());
        let entity_type = Name::from(["account", "order"][usize::from(entity_type % 2)]);
        let data = match subtype % 4 {
            0 => SdkData::CacheStats(CacheStatsData {
                entity_id: entity_id.clone(),
                entity_type: entity_type.clone(),
                period_start_ms: number,
                period_end_ms: number + 60_000,
                hits: number % 7,
                misses: number % 3,
            }),
            1 => SdkData::FactAppended(FactAppendedData {
                entity_id: entity_id.clone(),
                entity_type: entity_type.clone(),
                period_start_ms: number,
                period_end_ms: number + 1,
                count: number % 5,
                last_seq: number,
            }),
            2 => SdkData::SchemaInit(SchemaInitData {
                entity_id: entity_id.clone(),
                entity_type: entity_type.clone(),
                tables_created: vec![format!("t{number}")],
                duration_ms: number,
            }),
            _ => SdkData::HydrationDone(HydrationDoneData {
                entity_id: entity_id.clone(),
                entity_type: entity_type.clone(),
                facts_replayed: number,
                duration_ms: number % 11,
                source: [HydrationSource::Storage, HydrationSource::R2][usize::from(tenant % 2)],
            }),
        };
        let mut fact = Fact::sdk(
            FactId::new(format!("actor-{emitter}").as_str(), seq),
            &crate::model::EntityMeta {
                entity_id,
                entity_type,
                tenant_id: Name::from(format!("t{tenant}").as_str()),
            },
            number,
            &data,
        );
        if number % 2 == 0 {
            // As a forged or fuzzed fact arrives: JSON data, equal to the typed form.
            fact.data = FactData::Json(data.to_value());
        }
        (fact, data)
    }

    /// Numbers mostly small, sometimes past 32 bits (so that facts are stored wide too).
    fn draws() -> impl Strategy<Value = Vec<(u8, u8, u8, u8, u8, u64)>> {
        let number = prop_oneof![
            6 => 0..1_000u64,
            1 => (1u64 << 32) - 70_000..(1u64 << 32) + 1_000,
        ];
        proptest::collection::vec((0..3u8, 0..4u8, 0..2u8, 0..2u8, 0..4u8, number), 0..60)
    }

    #[test]
    fn a_stored_fact_stays_small() {
        // Every SDK fact of a fleet is stored: at 1,000,000 entities, every byte is about 30 MB.
        assert!(std::mem::size_of::<CompactFact>() <= 36);
    }

    /// What many facts share is kept once: one emitter's facts about one entity share one
    /// source, and another type or tenant under the same entity id makes one more.
    #[test]
    fn facts_of_one_source_share_it() {
        let mut storage = SystemStorage::default();
        for seq in 0..10 {
            let (fact, data) = fact((1, 2, 0, 0, 0, 100 + seq), seq);
            storage.store(&fact, data);
        }
        assert_eq!(storage.sources.len(), 1);
        let (other_tenant, data) = fact((1, 2, 0, 1, 0, 500), 99);
        storage.store(&other_tenant, data);
        let (again, data) = fact((1, 2, 0, 0, 0, 600), 100);
        storage.store(&again, data);
        assert_eq!(storage.sources.len(), 2);
        assert_eq!(storage.entity_facts("e2").len(), 12);
    }

    proptest! {
        /// What is read back is what was stored: every fact in order, each entity's facts in
        /// order, every id and no other, the counts and the observations.
        #[test]
        fn reads_back_exactly_what_was_stored(draws in draws()) {
            let mut storage = SystemStorage::default();
            let mut stored: Vec<StoredSdkFact> = Vec::new();
            for (seq, draw) in draws.into_iter().enumerate() {
                // A wide sequence number now and then, beside the small ones.
                let seq = if draw.5 % 5 == 4 { 1 << 33 } else { 0 } + seq as u64 % 17;
                let (fact, data) = fact(draw, seq);
                if storage.contains(&fact.id) {
                    continue;
                }
                storage.store(&fact, data.clone());
                stored.push(StoredSdkFact { fact, data });
            }
            prop_assert_eq!(storage.facts().collect::<Vec<_>>(), stored.clone());
            prop_assert_eq!(storage.last(), stored.last().cloned());
            prop_assert_eq!(storage.len(), stored.len());
            let entities: BTreeSet<&str> = stored.iter().map(|s| s.fact.entity_id.as_str()).collect();
            prop_assert_eq!(storage.entity_count(), entities.len());
            let tenants: BTreeSet<&str> = stored.iter().map(|s| s.fact.tenant_id.as_str()).collect();
            prop_assert_eq!(storage.tenant_count(), tenants.len());
            for entity in ["e0", "e1", "e2", "e3", "e9"] {
                let expected: Vec<StoredSdkFact> = stored
                    .iter()
                    .filter(|s| s.fact.entity_id.as_str() == entity)
                    .cloned()
                    .collect();
                prop_assert_eq!(storage.entity_facts(entity), expected);
            }
            for stored in &stored {
                prop_assert!(storage.contains(&stored.fact.id), "{}", stored.fact.id);
            }
            for emitter in 0..4 {
                for seq in (0..18).chain((1 << 33)..(1 << 33) + 18) {
                    let id = FactId::new(format!("actor-{emitter}").as_str(), seq);
                    let present = stored.iter().any(|s| s.fact.id == id);
                    prop_assert_eq!(storage.contains(&id), present, "{}", id);
                }
            }
            let observations: u64 = stored
                .iter()
                .map(|s| match &s.data {
                    SdkData::CacheStats(stats) => stats.hits + stats.misses,
                    SdkData::FactAppended(appended) => appended.count,
                    _ => 0,
                })
                .sum();
            prop_assert_eq!(storage.observations(), observations);
        }
    }
}
