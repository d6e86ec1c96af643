//! `[topology] system_shards`: the SystemLedger sharded by tenant (docs/scenarios.md,
//! "[topology]"): each tenant's facts go to one shard, chosen by a stable hash of the tenant
//! id; faults can hit one shard (`target = "system:<n>"`); every invariant is judged per
//! receiver, so per shard.

use z0sim::model::sharding::shard_of;
use z0sim::sim::scenario::diagnose::diagnose;
use z0sim::sim::scenario::{parse_scenario, Scenario};
use z0sim::sim::{run, Report, RunOptions};

const TENANTS: u32 = 8;
const ENTITIES_PER_TENANT: u32 = 5;

fn sharded(extra: &str) -> Scenario {
    let text = format!(
        "name = \"shards\"\nduration = \"10m\"\n[topology]\ntenants = {TENANTS}\nentities_per_tenant = {ENTITIES_PER_TENANT}\nsystem_shards = 4\n{extra}"
    );
    parse_scenario(&text, "shards.toml").expect("a valid scenario")
}

fn run_seed(scenario: &Scenario, seed: u64) -> Report {
    run(scenario, seed, &RunOptions::default()).expect("the run finishes")
}

/// Tenants per shard, by the documented rule.
fn tenants_of_shard(shard: u32) -> u32 {
    (0..TENANTS)
        .filter(|tenant| shard_of(&format!("t{tenant}"), 4) == shard)
        .count() as u32
}

#[test]
fn each_shard_stores_the_facts_of_its_tenants_only() {
    let report = run_seed(&sharded(""), 1);
    assert!(report.passed, "{}", report.to_text());
    let shards: Vec<&String> = report.end.system_facts.keys().collect();
    assert_eq!(shards, ["system:0", "system:1", "system:2", "system:3"]);
    for (shard, facts) in (0..4).zip(report.end.system_facts.values()) {
        // A shard without tenants stores nothing; one with tenants stores their facts.
        assert_eq!(
            *facts == 0,
            tenants_of_shard(shard) == 0,
            "shard {shard}: {facts} facts"
        );
    }
    let stored: u64 = report.end.system_facts.values().sum();
    assert_eq!(stored, report.counters.sdk_facts_delivered);
}

#[test]
fn a_fault_on_one_shard_opens_the_breakers_of_its_tenants_only() {
    let shard = (0..4)
        .max_by_key(|shard| tenants_of_shard(*shard))
        .expect("four shards");
    let outage = |target: &str| {
        format!(
            "[[faults]]\nkind = \"system_ledger_down\"\ntarget = \"{target}\"\nat = \"2m\"\nduration = \"3m\"\n"
        )
    };
    let exposed = u64::from(tenants_of_shard(shard) * ENTITIES_PER_TENANT);
    for seed in 1..=3 {
        let one = run_seed(&sharded(&outage(&format!("system:{shard}"))), seed);
        assert!(one.passed, "{}", one.to_text());
        assert_eq!(one.counters.restarts, 1, "the one shard restarted");
        // Only entities of the shard's tenants had an open breaker when the outage ended.
        let opened_one = one.latency_ms["recovery"].count;
        assert!(
            opened_one > 0 && opened_one <= exposed,
            "seed {seed}: {opened_one} of {exposed}"
        );
        let all = run_seed(&sharded(&outage("system")), seed);
        assert!(all.passed, "{}", all.to_text());
        assert_eq!(all.counters.restarts, 4, "every shard restarted");
        assert!(
            all.latency_ms["recovery"].count > exposed,
            "seed {seed}: an outage of every shard exposes more than {exposed} entities"
        );
    }
}

#[test]
fn one_shard_is_the_one_system_ledger() {
    let one = parse_scenario(
        "name = \"one\"\nduration = \"5m\"\n[topology]\ntenants = 3\nsystem_shards = 1\n",
        "one.toml",
    )
    .expect("valid");
    let unsharded = parse_scenario(
        "name = \"one\"\nduration = \"5m\"\n[topology]\ntenants = 3\n",
        "one.toml",
    )
    .expect("valid");
    let (a, b) = (run_seed(&one, 7), run_seed(&unsharded, 7));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.end.system_facts.keys().collect::<Vec<_>>(), ["system"]);
}

#[test]
fn shard_targets_and_misplaced_shards_are_explained() {
    let error = parse_scenario(
        "name = \"x\"\nduration = \"5m\"\n[topology]\nsystem_shards = 2\n[[faults]]\nkind = \"system_ledger_down\"\ntarget = \"system:2\"\nat = \"1m\"\nduration = \"1m\"\n",
        "x.toml",
    )
    .expect_err("shard 2 of 2 does not exist")
    .to_string();
    assert!(
        error.contains("shards are numbered from 0 to 1 (topology.system_shards = 2)"),
        "{error}"
    );
    let error = parse_scenario(
        "name = \"x\"\nduration = \"5m\"\n[[faults]]\nkind = \"system_ledger_down\"\ntarget = \"system:x\"\nat = \"1m\"\nduration = \"1m\"\n",
        "x.toml",
    )
    .expect_err("not an index")
    .to_string();
    assert!(error.contains("expected a system index"), "{error}");
    let diagnosis = diagnose(
        "name = \"x\"\nduration = \"5m\"\n[topology]\nmode = \"multi_tenant\"\nsystem_shards = 4\n",
        "x.toml",
    );
    assert!(diagnosis.errors.is_empty());
    assert!(
        diagnosis
            .warnings
            .iter()
            .any(|warning| warning.line.contains("is ignored in multi_tenant mode")),
        "{:?}",
        diagnosis.warnings
    );
}
