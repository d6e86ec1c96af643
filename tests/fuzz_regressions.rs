//! What the fuzz targets of `fuzz/` (README, "Fuzzing") found, as plain tests. Each test names
//! the target and its committed input under `fuzz/seeds/<target>/` (`regression-*`), which
//! `fuzz/run.sh` replays before fuzzing. Every bug found is fixed: none is ignored.

use std::sync::{Mutex, MutexGuard, PoisonError};
use z0sim::ledgers::{
    Accepted, PlatformLedger, PlatformStorage, TenantLedgerConfig, TenantStorage,
    TenantSystemLedger,
};
use z0sim::model::{
    ActorId, BreakerConfig, CacheStatsData, EntityMeta, Fact, FactAppendedData, FactId, Limits,
    SdkData, TenantConfig, TenantStatsPayload,
};
use z0sim::runtime::Transport;
use z0sim::sim::{parse_scenario, run, Report, RunOptions, Scenario};

/// The tests of this file run simulations one at a time: `runs_free_their_memory` measures the
/// resident set of the whole process, which a simulation in a parallel test thread would grow.
static SIMULATIONS: Mutex<()> = Mutex::new(());

fn one_simulation_at_a_time() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock leaves nothing the next one depends on.
    SIMULATIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `scenario` with `seed` (alone) and asserts every invariant held.
fn run_passing(scenario: &Scenario, seed: u64) -> Report {
    let _alone = one_simulation_at_a_time();
    let report =
        run(scenario, seed, &RunOptions::default()).unwrap_or_else(|error| panic!("{error}"));
    let failed: Vec<_> = report.invariants.iter().filter(|i| !i.passed).collect();
    assert!(failed.is_empty(), "{}", report.to_text());
    report
}

fn payload(tenant_id: &str, cache_hits: u64) -> TenantStatsPayload {
    TenantStatsPayload {
        flush_id: TenantStatsPayload::flush_id_for(tenant_id, 0),
        tenant_id: tenant_id.to_owned(),
        period_start_ms: 0,
        period_end_ms: 60_000,
        cache_hits,
        cache_misses: 0,
        facts_count: 1,
        entities_count: 1,
        facts_appended: 0,
    }
}

#[test]
fn platform_totals_saturate_when_payload_counts_sum_past_u64_max() {
    // fact_ingest, seeds/fact_ingest/regression-platform-totals-overflow: two valid payloads
    // whose cache_hits add up past u64::MAX made `PlatformTotals::add` overflow (a panic with
    // overflow checks, a silent wrap without).
    let mut platform = PlatformLedger::new(Limits::default());
    let mut storage = PlatformStorage::default();
    for tenant_id in ["acme", "globex"] {
        let answer = platform.on_payload(120_000, &mut storage, payload(tenant_id, u64::MAX - 7));
        assert_eq!(answer, Ok(Accepted::Stored));
    }
    assert_eq!(storage.overall.cache_hits, u64::MAX);
    assert_eq!(storage.overall.payloads, 2);
    assert_eq!(storage.per_tenant["acme"].cache_hits, u64::MAX - 7);
}

#[test]
fn the_tenant_aggregate_saturates_misses_and_appended_counts() {
    // fact_ingest, seeds/fact_ingest/regression-tenant-misses-overflow: two valid cache_stats
    // facts whose misses add up past u64::MAX made the open aggregate overflow. (The same for
    // hits is in tests/receiver_rules.rs.)
    let config = TenantLedgerConfig {
        actor: ActorId::new("tenant:acme"),
        tenant_id: "acme".to_owned(),
        tenant: TenantConfig::default(),
        sink: ActorId::new("platform"),
        breaker: BreakerConfig::default(),
        jitter_seed: 1,
        limits: Limits::default(),
    };
    let mut storage = TenantStorage::default();
    let mut effects = Vec::new();
    let mut ledger = TenantSystemLedger::start(config, 0, &mut storage, &mut effects);
    let meta = EntityMeta {
        entity_id: "account-0".into(),
        entity_type: "account".into(),
        tenant_id: "acme".into(),
    };
    let stats = |misses| {
        SdkData::CacheStats(CacheStatsData {
            entity_id: meta.entity_id.clone(),
            entity_type: meta.entity_type.clone(),
            period_start_ms: 0,
            period_end_ms: 10,
            hits: 0,
            misses,
        })
    };
    let appended = |count| {
        SdkData::FactAppended(FactAppendedData {
            entity_id: meta.entity_id.clone(),
            entity_type: meta.entity_type.clone(),
            period_start_ms: 0,
            period_end_ms: 10,
            count,
            last_seq: 1,
        })
    };
    let data = [
        stats(u64::MAX - 104),
        stats(4_123_608_408_811_110_295),
        appended(u64::MAX),
        appended(1),
    ];
    for (seq, data) in data.iter().enumerate() {
        let fact = Fact::sdk(
            FactId::new("entity:acme/account-0", seq as u64),
            &meta,
            10,
            data,
        );
        let answer = ledger.on_fact(10, &mut storage, fact, &mut effects);
        assert_eq!(answer, Ok(Accepted::Stored));
    }
    let open = storage.open.as_ref().expect("an open aggregate");
    assert_eq!(
        (open.facts_count, open.cache_misses, open.facts_appended),
        (4, u64::MAX, u64::MAX)
    );
}

#[test]
fn local_operations_from_before_an_entity_started_never_run_its_clock_backwards() {
    // fault_schedule, seeds/fault_schedule/regression-time-went-backwards: no fault at all.
    // The entities' workload streams start at 0 ms, but a node may start a millisecond later
    // (here entity:t2/account-3 at 1 ms); the runtime (world.rs `advance_entity`) applied
    // the cache get drawn at 0 ms to a ledger that already saw 1 ms. With debug assertions
    // (the fuzzer's builds, `cargo test` without --release) the run panicked; without them the
    // get counted in a period that opened after it. Fixed: operations due before an entity
    // (re)starts never happen (`ops_skipped_while_down`). The debug build is exercised by
    // `fuzz/run.sh` (cargo-fuzz builds keep debug assertions), which replays this input.
    let scenario = parse_scenario(
        r#"
            name = "time-went-backwards"
            duration = "432262ms"

            [topology]
            mode = "multi_tenant"
            tenants = 3
            entities_per_tenant = 4
            platform_sink = "ledger"

            [sdk]
            stats_min_interval = "52s"

            [workload]
            # As when it was found: every entity at t = 0.
            start_spread = "0s"
        "#,
        "time-went-backwards.toml",
    )
    .expect("a valid scenario");
    let report = run_passing(&scenario, 417_584_972_042);
    // The get drawn at 0 ms for the entity whose node started at 1 ms never happened.
    assert!(
        report.counters.ops_skipped_while_down >= 1,
        "{}",
        report.to_text()
    );
}

#[test]
fn facts_held_unsent_at_the_end_count_as_buffered() {
    // fault_schedule, seeds/fault_schedule/regression-unsent-backlog-unaccounted: fallback off,
    // every tenant ledger down from 169 s to past the end. Each entity's client keeps its
    // failed facts in its backlog (one in flight at a time, the others never sent). At the end,
    // `World::finish` listed the backlog in `Outcome::buffered_keys` as (key, observations)
    // without the entity, and `observability_conserved` (src/sim/oracle.rs) credits a fact's
    // observations only to the entity it learnt from an attempt, a drop or a kill: facts that
    // never left the client counted for nobody. Here entity #5 generated 211 observations and
    // 193 were accounted for: a false alarm of the oracle on any fallback-off run ending with
    // more than one fact in a backlog. Fixed: `buffered_keys` names the entity.
    let scenario = parse_scenario(
        r#"
            name = "unsent-backlog-unaccounted"
            duration = "189631ms"

            [topology]
            mode = "multi_tenant"
            tenants = 3
            entities_per_tenant = 2
            platform_sink = "queue"

            [sdk]
            fallback_on_failure = false
            stats_min_interval = "11000ms"

            [[faults]]
            kind = "system_ledger_down"
            at = "169323ms"
            duration = "65538ms"
        "#,
        "unsent-backlog-unaccounted.toml",
    )
    .expect("a valid scenario");
    let report = run_passing(&scenario, 6_873_741_429_955_719_233);
    // The run ends with facts held unsent: the case this is about.
    assert!(report.end.buffered_observations > 0, "{}", report.to_text());
}

/// This process's resident set, bytes (Linux).
#[cfg(target_os = "linux")]
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<u64>().ok())
        .expect("a VmRSS line");
    kib * 1_024
}

#[test]
#[cfg(target_os = "linux")]
fn runs_free_their_memory() {
    // fault_schedule: libFuzzer stopped with out-of-memory (2 GB) after about 2,700 runs;
    // `z0sim sweep scenarios/smoke.toml --seeds 1..800 --jobs 1` peaked at 945 MB, because
    // madsim never drops the nodes' pending tasks and they hold the world. Fixed: every node is
    // killed at the end of `runtime::run::supervise`, after taking the results.
    let scenario =
        parse_scenario(include_str!("../scenarios/smoke.toml"), "smoke.toml").expect("valid");
    assert_runs_free_their_memory(&scenario);
}

#[test]
#[cfg(target_os = "linux")]
fn runs_on_the_direct_transport_free_their_memory() {
    // The direct transport's pump task holds the world as well: it runs on a node of its own,
    // killed with the others (found by this test when the pump ran on the supervisor's node).
    let mut scenario =
        parse_scenario(include_str!("../scenarios/smoke.toml"), "smoke.toml").expect("valid");
    scenario.network.transport = Transport::Direct;
    assert_runs_free_their_memory(&scenario);
}

#[cfg(target_os = "linux")]
fn assert_runs_free_their_memory(scenario: &Scenario) {
    let options = RunOptions::default();
    let _alone = one_simulation_at_a_time();
    for seed in 0..20 {
        run(scenario, seed, &options).expect("a run");
    }
    let before = resident_bytes();
    for seed in 20..220 {
        run(scenario, seed, &options).expect("a run");
    }
    let grown_mb = resident_bytes().saturating_sub(before) / 1_000_000;
    assert!(
        grown_mb < 20,
        "200 runs of smoke grew the process by {grown_mb} MB"
    );
}
