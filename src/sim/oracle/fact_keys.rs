//! Compact keys for the SDK facts the oracle follows: a fact id is its emitter's name and a
//! sequence number, and the checkers that keep something per fact for the whole run
//! (conservation, durability) key it by `(emitter number, seq)` instead of a copy of the name.
//! With a million entities' facts kept, that is the difference between a shared name's 24-byte
//! handle (and its reference count touched on every copy) and 16 plain bytes. The numbers are
//! given in the order emitters are first seen, which a run's determinism makes the same every
//! time; they never reach output (names do).

use crate::model::{FactId, Name};
use rustc_hash::FxHashMap;

/// A fact id as the oracle keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct FactKey {
    emitter: u32,
    seq: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

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
