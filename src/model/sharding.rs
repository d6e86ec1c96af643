//! The SystemLedger sharded by tenant (the z0 page's third option for very high scale).
//!
//! Decision (the page names the option, not the function): tenant `tenant_id` reports to shard
//! `fnv1a64(tenant_id) mod shards`, the same stable hash sampling uses, so the choice depends on
//! the id only: stable across restarts, seeds and runs, and the same in any tool that knows the
//! rule.

use super::sampling::fnv1a64;

/// The shard, in `0..shards`, that tenant `tenant_id`'s facts go to (`shards` at least 1).
pub fn shard_of(tenant_id: &str, shards: u32) -> u32 {
    debug_assert!(shards > 0, "at least one shard");
    (fnv1a64(tenant_id.as_bytes()) % u64::from(shards.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_takes_every_tenant_and_more_spread_them() {
        assert!((0..100).all(|tenant| shard_of(&format!("t{tenant}"), 1) == 0));
        let mut per_shard = [0u32; 4];
        for tenant in 0..400 {
            let shard = shard_of(&format!("t{tenant}"), 4);
            assert_eq!(shard, shard_of(&format!("t{tenant}"), 4), "stable");
            per_shard[shard as usize] += 1;
        }
        // 400 tenants over 4 shards: each gets a fair share (100 expected).
        assert!(
            per_shard.iter().all(|count| (60..=140).contains(count)),
            "{per_shard:?}"
        );
    }
}
