//! Seed derivation, a determinism rule: every random stream of a run is derived from the run
//! seed, one stream per purpose (and per index within a purpose), so that a change to one part of
//! a scenario (one more entity, another fault) does not reshuffle the draws of another.

use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Derives an independent seed for `purpose` and `index` from the run seed (splitmix64 mix).
pub fn derive_seed(run_seed: u64, purpose: u64, index: u64) -> u64 {
    let mut mixed = run_seed
        ^ purpose.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^ (mixed >> 31)
}

/// The random stream for `purpose` and `index` of a run seeded with `run_seed`.
pub fn stream(run_seed: u64, purpose: u64, index: u64) -> SmallRng {
    SmallRng::seed_from_u64(derive_seed(run_seed, purpose, index))
}

/// Purposes of derived random streams (stable numbers: they select the streams).
pub mod purpose {
    /// Cache gets of an entity.
    pub const CACHE_OPS: u64 = 1;
    /// Appends of an entity.
    pub const APPENDS: u64 = 2;
    /// Fault decisions (rates, eviction picks).
    pub const FAULTS: u64 = 3;
    /// Breaker jitter of an actor.
    pub const JITTER: u64 = 4;
    /// Queue ordering and duplicates.
    pub const QUEUE: u64 = 5;
    /// Alarm retry jitter.
    pub const ALARMS: u64 = 6;
    /// Hostile facts (`runtime::hostile`).
    pub const HOSTILE: u64 = 7;
    /// Latencies and losses of the `direct` transport (`runtime::transport::net`).
    pub const NETWORK: u64 = 8;
    /// `flushStats()` calls of an entity.
    pub const FLUSHES: u64 = 9;
    /// Stats tracking toggles of an entity.
    pub const TOGGLES: u64 = 10;
    /// The reader's queries (`runtime::world::reader`).
    pub const READER: u64 = 11;
    /// Idle stretches before evictions (`runtime::idle`).
    pub const IDLE: u64 = 12;
    /// Swarm testing's scenario draws (`sim::swarm`).
    pub const SWARM: u64 = 13;
    /// An entity's arrival within `[workload] start_spread`.
    pub const ARRIVAL: u64 = 14;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_purpose_index_and_seed_and_repeat_for_the_same_ones() {
        let seeds = [
            derive_seed(1, purpose::FAULTS, 0),
            derive_seed(1, purpose::QUEUE, 0),
            derive_seed(1, purpose::FAULTS, 1),
            derive_seed(2, purpose::FAULTS, 0),
        ];
        for (position, seed) in seeds.iter().enumerate() {
            assert!(!seeds[position + 1..].contains(seed), "{seeds:?}");
        }
        assert_eq!(derive_seed(1, purpose::FAULTS, 0), seeds[0]);
    }
}
