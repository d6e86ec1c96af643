//! Deterministic sampling of entities ("emit stats for a subset of entities", z0 page).
//!
//! Decision (the model: "chosen deterministically by entity id"): an entity is sampled when the
//! 64-bit FNV-1a hash of its id, mixed by splitmix64's finaliser (FNV alone leaves similar ids
//! with similar high bits) and mapped to [0, 1), is below `sample_rate`. The choice depends on
//! the id only, so it is stable across restarts, seeds and runs.

/// FNV-1a, 64 bit: tiny, stable across platforms and Rust versions (unlike `DefaultHasher`).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Whether the entity with this id emits periodic stats at `sample_rate` (clamped to [0, 1]).
pub fn is_sampled(entity_id: &str, sample_rate: f64) -> bool {
    if sample_rate >= 1.0 {
        return true;
    }
    if sample_rate.is_nan() || sample_rate <= 0.0 {
        return false;
    }
    // Top 53 bits give an exactly representable fraction in [0, 1).
    let mut mixed = fnv1a64(entity_id.as_bytes());
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    mixed ^= mixed >> 31;
    let unit = (mixed >> 11) as f64 / (1u64 << 53) as f64;
    unit < sample_rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_all_or_nothing_at_the_bounds() {
        assert!(is_sampled("a", 1.0));
        assert!(!is_sampled("a", 0.0));
        assert!(!is_sampled("a", f64::NAN));
    }

    #[test]
    fn sampling_selects_roughly_the_rate_and_is_stable() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("entity:t0/e{i}")).collect();
        let picked = ids.iter().filter(|id| is_sampled(id, 0.25)).count();
        assert!(
            (2_200..2_800).contains(&picked),
            "picked {picked} of 10000 at 0.25"
        );
        let again = ids.iter().filter(|id| is_sampled(id, 0.25)).count();
        assert_eq!(picked, again);
    }

    #[test]
    fn a_sampled_entity_stays_sampled_at_higher_rates() {
        for i in 0..1_000 {
            let id = format!("e{i}");
            if is_sampled(&id, 0.3) {
                assert!(is_sampled(&id, 0.6));
            }
        }
    }
}
