//! Compact keys for the SDK facts the oracle follows: a fact id is its emitter's name and a
//! sequence number, and the checkers that keep something per fact for the whole run
//! (conservation, durability) key it by `(emitter number, seq)` instead of a copy of the name.
//! With a million entities' facts kept, that is the difference between a shared name's 24-byte
//! handle (and its reference count touched on every copy) and 16 plain bytes. The numbers are
//! given in the order emitters are first seen, which a run's determinism makes the same every
//! time; they never reach output (names do).

use crate::model::{FactId, Name};
use rustc_hash::{FxHashMap, FxHashSet};

/// A fact id as the oracle keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct FactKey {
    emitter: u32,
    seq: u64,
}

impl FactKey {
    /// The key of emitter number `emitter`'s fact `seq`.
    pub(super) fn new(emitter: u32, seq: u64) -> Self {
        Self { emitter, seq }
    }

    /// Its emitter's number.
    pub(super) fn emitter(self) -> u32 {
        self.emitter
    }

    /// Its sequence number.
    pub(super) fn seq(self) -> u64 {
        self.seq
    }
}

/// The emitters seen so far, numbered.
#[derive(Default)]
pub(super) struct FactKeys {
    numbers: FxHashMap<Name, u32>,
    names: Vec<Name>,
}

impl FactKeys {
    /// The key of `id`, numbering its emitter if it is new.
    pub(super) fn key(&mut self, id: &FactId) -> FactKey {
        let emitter = match self.numbers.get(&id.actor) {
            Some(&number) => number,
            None => {
                let number = u32::try_from(self.names.len()).expect("fewer than 2^32 emitters");
                self.numbers.insert(id.actor.clone(), number);
                self.names.push(id.actor.clone());
                number
            }
        };
        FactKey {
            emitter,
            seq: id.seq,
        }
    }

    /// The key of `id` if its emitter has been seen (else no fact of it is kept anywhere).
    pub(super) fn find(&self, id: &FactId) -> Option<FactKey> {
        let &emitter = self.numbers.get(&id.actor)?;
        Some(FactKey {
            emitter,
            seq: id.seq,
        })
    }

    /// The fact id of `key`.
    pub(super) fn id(&self, key: FactKey) -> FactId {
        FactId {
            actor: self.names[key.emitter as usize].clone(),
            seq: key.seq,
        }
    }
}

/// How far past its bitmap's end a sequence number may land and still be added to it (a
/// 512-byte step at most): an entity's own sequence numbers come one after another, so its
/// bitmap grows a little at a time; a far number (a forged fact's) goes to the spill set.
const BITMAP_STEP_BITS: u64 = 4_096;

/// A set of fact keys grouped by `G` (an emitter number, or a receiver and an emitter number):
/// per group a bitmap over sequence numbers, since an entity's are dense, and a spill set for
/// numbers far past a bitmap's end. With a million entities' facts kept for a whole run, that is
/// a few bytes a fact instead of a hash set's 30 or more (and no table to grow and copy).
/// Looked up and counted only: deterministic whatever the hasher.
pub(super) struct KeySet<G> {
    bitmaps: FxHashMap<G, Vec<u64>>,
    spilled: FxHashSet<(G, u64)>,
}

impl<G> Default for KeySet<G> {
    fn default() -> Self {
        Self {
            bitmaps: FxHashMap::default(),
            spilled: FxHashSet::default(),
        }
    }
}

/// A sequence number's word and bit in a bitmap.
fn word_and_bit(seq: u64) -> (usize, u64) {
    let word = usize::try_from(seq / 64).unwrap_or(usize::MAX);
    (word, 1 << (seq % 64))
}

impl<G: Copy + Eq + std::hash::Hash> KeySet<G> {
    /// Adds `(group, seq)`; whether it was new.
    pub(super) fn insert(&mut self, group: G, seq: u64) -> bool {
        let bitmap = self.bitmaps.entry(group).or_default();
        let end_bits = (bitmap.len() as u64).saturating_mul(64);
        if seq >= end_bits.saturating_add(BITMAP_STEP_BITS) {
            return self.spilled.insert((group, seq));
        }
        let (word, bit) = word_and_bit(seq);
        if word >= bitmap.len() {
            bitmap.resize(word + 1, 0);
        }
        let new = bitmap[word] & bit == 0;
        bitmap[word] |= bit;
        new
    }

    /// Whether `(group, seq)` is in the set.
    pub(super) fn contains(&self, group: G, seq: u64) -> bool {
        let (word, bit) = word_and_bit(seq);
        let in_bitmap = self
            .bitmaps
            .get(&group)
            .and_then(|bitmap| bitmap.get(word))
            .is_some_and(|bits| bits & bit != 0);
        in_bitmap || self.spilled.contains(&(group, seq))
    }

    /// Every `(group, seq)` in the set, in no particular order (count or look up only).
    pub(super) fn iter(&self) -> impl Iterator<Item = (G, u64)> + '_ {
        let in_bitmaps = self.bitmaps.iter().flat_map(|(&group, bitmap)| {
            bitmap.iter().enumerate().flat_map(move |(word, &bits)| {
                (0..64u64)
                    .filter(move |bit| bits & (1 << bit) != 0)
                    .map(move |bit| (group, word as u64 * 64 + bit))
            })
        });
        in_bitmaps.chain(self.spilled.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The set holds exactly what was inserted, near or far, whatever the order.
        #[test]
        fn a_key_set_is_a_set(
            inserts in proptest::collection::vec(
                (0..3u8, prop_oneof![4 => 0..300u64, 1 => 4_000..20_000u64, 1 => any::<u64>()]),
                0..200,
            )
        ) {
            let mut set = KeySet::default();
            let mut reference = std::collections::BTreeSet::new();
            for &(group, seq) in &inserts {
                prop_assert_eq!(set.insert(group, seq), reference.insert((group, seq)));
            }
            for &(group, seq) in &inserts {
                prop_assert!(set.contains(group, seq));
                prop_assert!(!set.contains(group + 3, seq));
                prop_assert_eq!(set.contains(group, seq ^ 1), reference.contains(&(group, seq ^ 1)));
            }
            let listed: std::collections::BTreeSet<(u8, u64)> = set.iter().collect();
            prop_assert_eq!(set.iter().count(), reference.len());
            prop_assert_eq!(listed, reference);
        }
    }

    /// An entity's dense sequence numbers all go to its bitmap: a few bytes a fact.
    #[test]
    fn dense_numbers_stay_in_the_bitmap() {
        let mut set = KeySet::default();
        for seq in (0..10_000).step_by(3) {
            set.insert(7u32, seq);
        }
        assert!(set.spilled.is_empty());
        assert_eq!(set.bitmaps[&7].len(), 157);
        set.insert(7u32, 1 << 40);
        assert_eq!(set.spilled.len(), 1);
    }

    #[test]
    fn keys_are_equal_exactly_when_ids_are_and_map_back() {
        let mut keys = FactKeys::default();
        let a1 = FactId::new("entity:t0/a", 1);
        let a2 = FactId::new("entity:t0/a", 2);
        // An equal name from another allocation (a forged fact) is the same emitter.
        let a1_again = FactId::new(String::from("entity:t0/a"), 1);
        let b1 = FactId::new("entity:t0/b", 1);
        assert_eq!(keys.find(&a1), None);
        let key_a1 = keys.key(&a1);
        assert_eq!(keys.key(&a1_again), key_a1);
        assert_eq!(keys.find(&a1_again), Some(key_a1));
        assert_ne!(keys.key(&a2), key_a1);
        assert_ne!(keys.key(&b1), key_a1);
        for id in [a1, a2, b1] {
            let key = keys.key(&id);
            assert_eq!(keys.id(key), id);
        }
    }
}
