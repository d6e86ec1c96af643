//! Whole runs of the simulated runtime: small inline scenarios (a few entities, a few simulated
//! minutes, milliseconds of wall time each) run end to end through `sim::run` or
//! `runtime::run_world`, checked against the rules of `docs/model.md`.
//!
//! Each test writes only what matters in its scenario; the helpers fill in the rest. Where a
//! test needs "the same run, but ..." it changes one field of the parsed scenario, so that
//! everything else (the workload, drawn from per-purpose seeded streams) stays the same.

use z0sim::runtime::{run_world, Counters, Transport};
use z0sim::sim::build::build_world;
use z0sim::sim::{parse_scenario, run, Report, RunOptions, Scenario};

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

/// `entities` EntityLedgers reporting to the one SystemLedger for `duration`; `rest` is more
/// TOML (`[sdk]`, `[[faults]]`, ...).
fn single(entities: u32, duration: &str, rest: &str) -> Scenario {
    inline(&format!(
        "duration = \"{duration}\"\n\n[topology]\nmode = \"single\"\nentities_per_tenant = {entities}\n\n{rest}"
    ))
}

/// `tenants` tenants of `entities` EntityLedgers each, flushing to the platform through the
/// queue, for `duration`; `rest` is more TOML.
fn multi_tenant(tenants: u32, entities: u32, duration: &str, rest: &str) -> Scenario {
    inline(&format!(
        "duration = \"{duration}\"\n\n[topology]\nmode = \"multi_tenant\"\ntenants = {tenants}\n\
         entities_per_tenant = {entities}\nplatform_sink = \"queue\"\n\n{rest}"
    ))
}

fn inline(body: &str) -> Scenario {
    let text = format!("name = \"inline\"\n{body}");
    parse_scenario(&text, "inline").unwrap_or_else(|error| panic!("{error}\n--- in ---\n{text}"))
}

/// One `[[faults]]` entry; `keys` are its own keys (`rate = 0.5`), one per line.
fn fault(kind: &str, at: &str, duration: &str, keys: &str) -> String {
    format!("[[faults]]\nkind = \"{kind}\"\nat = \"{at}\"\nduration = \"{duration}\"\n{keys}\n")
}

fn run_seed(scenario: &Scenario, seed: u64) -> Report {
    run(scenario, seed, &RunOptions::default())
        .unwrap_or_else(|error| panic!("seed {seed}: {error}"))
}

/// The same scenario, run for `duration_ms` only (faults after it never happen).
fn cut_at(scenario: &Scenario, duration_ms: u64) -> Scenario {
    Scenario {
        duration_ms,
        ..scenario.clone()
    }
}

/// The same scenario without its faults.
fn without_faults(scenario: &Scenario) -> Scenario {
    Scenario {
        faults: Vec::new(),
        ..scenario.clone()
    }
}

/// The same scenario on `transport`.
fn on(transport: Transport, scenario: Scenario) -> Scenario {
    let mut scenario = scenario;
    scenario.network.transport = transport;
    scenario
}

fn cache_ops(counters: &Counters) -> u64 {
    counters.cache_hits + counters.cache_misses
}

fn facts_stored_by_system(report: &Report) -> u64 {
    report.end.system_facts.get("system").copied().unwrap_or(0)
}

const MINUTE_MS: u64 = 60_000;

// Timing of the SystemLedger outage used by several tests (single mode): down at 2 min for 3 min.
const OUTAGE_AT_MS: u64 = 2 * MINUTE_MS;
const OUTAGE_END_MS: u64 = 5 * MINUTE_MS;
const STATS_INTERVAL_MS: u64 = 30_000;
const RESET_TIMEOUT_MS: u64 = 30_000;
const RPC_TIMEOUT_MS: u64 = 5_000;

/// Four entities emitting every 30 s, the SystemLedger down from 2 to 5 min, then running until
/// every breaker must have closed again: a probe in flight when the outage ends can reopen a
/// breaker up to rpc_timeout later; it half-opens on the first emission after reset_timeout,
/// which comes within one emission interval (plus the gap to the next cache op: 10 s of slack).
fn outage_scenario(sdk: &str) -> Scenario {
    let recovered_ms =
        OUTAGE_END_MS + RPC_TIMEOUT_MS + RESET_TIMEOUT_MS + STATS_INTERVAL_MS + 10_000;
    let scenario = single(
        4,
        &format!("{recovered_ms}ms"),
        &format!(
            "[sdk]\nstats_min_interval = \"30s\"\nrpc_timeout = \"5s\"\n{sdk}\n\n\
             [sdk.breaker]\nreset_timeout = \"30s\"\nfailure_threshold = 5\n\n{}",
            fault("system_ledger_down", "2m", "3m", "")
        ),
    );
    assert_eq!(scenario.faults[0].at_ms, OUTAGE_AT_MS);
    assert_eq!(
        scenario.faults[0].at_ms + scenario.faults[0].duration_ms,
        OUTAGE_END_MS
    );
    scenario
}

// ------------------------------------------------------------------------------------------------
// 1. Determinism
// ------------------------------------------------------------------------------------------------

fn assert_deterministic(scenario: &Scenario) {
    let first = run_seed(scenario, 7);
    let again = run_seed(scenario, 7);
    assert_eq!(first.trace_hash, again.trace_hash, "same seed, same trace");
    assert_eq!(
        first.deterministic_json(),
        again.deterministic_json(),
        "same seed, byte-identical report"
    );
    let other = run_seed(scenario, 8);
    assert_ne!(
        first.trace_hash, other.trace_hash,
        "another seed must give another run"
    );
}

#[test]
fn the_same_seed_replays_a_system_ledger_outage_byte_for_byte_and_another_seed_does_not() {
    check_outage_determinism(Transport::Madsim);
}

#[test]
fn the_same_seed_replays_a_system_ledger_outage_byte_for_byte_and_another_seed_does_not_on_the_direct_transport(
) {
    check_outage_determinism(Transport::Direct);
}

fn check_outage_determinism(transport: Transport) {
    assert_deterministic(&on(transport, outage_scenario("")));
}

#[test]
fn the_same_seed_replays_a_faulty_multi_tenant_queue_run_byte_for_byte_and_another_seed_does_not() {
    check_queue_determinism(Transport::Madsim);
}

#[test]
fn the_same_seed_replays_a_faulty_multi_tenant_queue_run_byte_for_byte_and_another_seed_does_not_on_the_direct_transport(
) {
    check_queue_determinism(Transport::Direct);
}

fn check_queue_determinism(transport: Transport) {
    let scenario = on(
        transport,
        multi_tenant(
            2,
            3,
            "6m 30s",
            &[
                fault("queue_duplicate", "30s", "5m", "rate = 0.5"),
                fault("queue_consumer_failure", "1m", "2m", "rate = 0.5"),
                fault("evict", "2m 10s", "1s", "fraction = 0.5"),
            ]
            .concat(),
        ),
    );
    let report = run_seed(&scenario, 7);
    // The faults must have reached their code, or the comparison proves little.
    assert!(
        report.counters.queue_redeliveries > 0,
        "{}",
        report.to_text()
    );
    assert!(report.counters.restarts > 0, "{}", report.to_text());
    assert!(report.counters.lost_on_restart > 0, "{}", report.to_text());
    assert_deterministic(&scenario);
}

// ------------------------------------------------------------------------------------------------
// 2. SystemLedger outage, fallback on (the default)
// ------------------------------------------------------------------------------------------------

#[test]
fn with_fallback_on_an_outage_opens_breakers_drops_with_warnings_spares_primary_work_and_recovers()
{
    check_outage_with_fallback_on(Transport::Madsim);
}

#[test]
fn with_fallback_on_an_outage_opens_breakers_drops_with_warnings_spares_primary_work_and_recovers_on_the_direct_transport(
) {
    check_outage_with_fallback_on(Transport::Direct);
}

fn check_outage_with_fallback_on(transport: Transport) {
    let scenario = on(transport, outage_scenario(""));
    for seed in 1..=4 {
        let report = run_seed(&scenario, seed);
        let c = &report.counters;
        let text = report.to_text();
        assert!(c.breaker_opened > 0, "seed {seed}: {text}");
        let drops = c.dropped_breaker_open + c.dropped_delivery_failed;
        assert!(c.dropped_breaker_open > 0, "seed {seed}: {text}");
        assert_eq!(
            c.fallback_warnings, drops,
            "one warning per drop, seed {seed}: {text}"
        );
        assert_eq!(c.primary_ops_failed, 0, "seed {seed}: {text}");
        assert_eq!(
            c.errors_surfaced, 0,
            "fallback on never surfaces, seed {seed}: {text}"
        );
        assert!(c.breaker_closed > 0, "seed {seed}: {text}");
        assert_eq!(
            report.end.breakers_not_closed, 0,
            "every breaker closed within rpc_timeout + reset_timeout + an interval after the outage, seed {seed}: {text}"
        );
        assert_eq!(report.end.durability_violations, 0, "seed {seed}: {text}");
    }
}

#[test]
fn with_warn_on_fallback_off_an_outage_drops_the_same_facts_without_a_warning() {
    let warned = run_seed(&outage_scenario(""), 3);
    let silent = run_seed(&outage_scenario("warn_on_fallback = false"), 3);
    let (w, s) = (&warned.counters, &silent.counters);
    assert!(w.dropped_breaker_open + w.dropped_delivery_failed > 0);
    assert_eq!(s.dropped_breaker_open, w.dropped_breaker_open);
    assert_eq!(s.dropped_delivery_failed, w.dropped_delivery_failed);
    assert_eq!(s.fallback_warnings, 0, "{}", silent.to_text());
    assert_eq!(s.primary_ops_failed, 0);
    assert_eq!(s.errors_surfaced, 0);
}

// ------------------------------------------------------------------------------------------------
// 3. SystemLedger outage, fallback off
// ------------------------------------------------------------------------------------------------

#[test]
fn with_fallback_off_an_outage_surfaces_errors_drops_nothing_and_delivers_the_backlog_after_recovery(
) {
    check_outage_with_fallback_off(Transport::Madsim);
}

#[test]
fn with_fallback_off_an_outage_surfaces_errors_drops_nothing_and_delivers_the_backlog_after_recovery_on_the_direct_transport(
) {
    check_outage_with_fallback_off(Transport::Direct);
}

fn check_outage_with_fallback_off(transport: Transport) {
    let scenario = on(transport, outage_scenario("fallback_on_failure = false"));
    let entities = u64::from(scenario.topology.entities_per_tenant);
    let seed = 5;
    let report = run_seed(&scenario, seed);
    let c = &report.counters;
    let text = report.to_text();
    assert!(c.errors_surfaced > 0, "{text}");
    assert_eq!(c.dropped_breaker_open, 0, "{text}");
    assert_eq!(c.dropped_delivery_failed, 0, "{text}");
    assert_eq!(c.fallback_warnings, 0, "{text}");
    assert_eq!(
        c.primary_ops_failed, 0,
        "an error never loses domain data: {text}"
    );

    // Primary work goes on during the outage, exactly as without it (the workload is drawn
    // from its own streams, so both runs generate the same operations).
    let calm = without_faults(&scenario);
    let at_start = run_seed(&cut_at(&scenario, OUTAGE_AT_MS), seed);
    let at_end = run_seed(&cut_at(&scenario, OUTAGE_END_MS), seed);
    let calm_at_end = run_seed(&cut_at(&calm, OUTAGE_END_MS), seed);
    assert!(
        cache_ops(&at_end.counters) > cache_ops(&at_start.counters),
        "cache operations went on during the outage"
    );
    assert_eq!(
        cache_ops(&at_end.counters),
        cache_ops(&calm_at_end.counters)
    );
    assert_eq!(
        at_end.counters.facts_appended,
        calm_at_end.counters.facts_appended
    );
    assert!(
        at_end.counters.errors_surfaced > 0,
        "errors surfaced during the outage"
    );

    // After recovery everything buffered is delivered: more than fallback on delivers (it
    // dropped), and at most the head of each entity's backlog (one call in flight) is missing.
    let fallback_on = run_seed(&on(transport, outage_scenario("")), seed);
    // (Strictly more: fallback on dropped facts during the outage, fallback off keeps them.)
    assert!(
        c.sdk_facts_delivered > fallback_on.counters.sdk_facts_delivered,
        "fallback off delivered {} facts, fallback on {}",
        c.sdk_facts_delivered,
        fallback_on.counters.sdk_facts_delivered
    );
    assert!(
        c.sdk_facts_delivered <= c.sdk_facts_emitted,
        "more facts stored than emitted: {text}"
    );
    let undelivered = c.sdk_facts_emitted - c.sdk_facts_delivered;
    assert!(
        undelivered <= entities,
        "undelivered after recovery: {undelivered} of {}: {text}",
        c.sdk_facts_emitted
    );
    assert_eq!(report.end.breakers_not_closed, 0, "{text}");
    // Open stats periods do not depend on faults (cache ops close them); only a leftover
    // backlog could make the fault run hold more observations than the calm one.
    let calm_report = run_seed(&calm, seed);
    assert!(
        report.end.buffered_observations <= calm_report.end.buffered_observations,
        "buffered at the end: {} after the outage, {} without it",
        report.end.buffered_observations,
        calm_report.end.buffered_observations
    );
    assert_eq!(facts_stored_by_system(&report), c.sdk_facts_delivered);
}

// ------------------------------------------------------------------------------------------------
// 4. Killing and restarting the SystemLedger
// ------------------------------------------------------------------------------------------------

#[test]
fn killing_and_restarting_the_system_ledger_loses_none_of_its_stored_facts() {
    check_kill_and_restart(Transport::Madsim);
}

#[test]
fn killing_and_restarting_the_system_ledger_loses_none_of_its_stored_facts_on_the_direct_transport()
{
    check_kill_and_restart(Transport::Direct);
}

fn check_kill_and_restart(transport: Transport) {
    let scenario = on(
        transport,
        single(
            4,
            "6m",
            &format!(
                "[sdk]\nstats_min_interval = \"30s\"\n\n{}",
                fault("system_ledger_down", "3m", "1m", "")
            ),
        ),
    );
    let kill_ms = scenario.faults[0].at_ms;
    for seed in 1..=3 {
        // Same seed, same prefix: the run cut right before the kill tells what was stored by then.
        let before_kill = run_seed(&cut_at(&scenario, kill_ms), seed);
        let stored_before = before_kill.counters.sdk_facts_delivered;
        assert!(stored_before > 0);
        assert_eq!(facts_stored_by_system(&before_kill), stored_before);

        let report = run_seed(&scenario, seed);
        let text = report.to_text();
        assert!(
            report.counters.restarts > 0,
            "the SystemLedger was restarted: {text}"
        );
        assert_eq!(report.end.durability_violations, 0, "seed {seed}: {text}");
        assert!(
            facts_stored_by_system(&report) >= stored_before,
            "seed {seed}: {} facts stored at the end, {stored_before} before the kill",
            facts_stored_by_system(&report)
        );
        assert!(
            report.counters.sdk_facts_delivered > stored_before,
            "facts were delivered after the restart too: {text}"
        );
        assert_eq!(
            facts_stored_by_system(&report),
            report.counters.sdk_facts_delivered,
            "every fact ever stored is still there, seed {seed}: {text}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 5. Alarm retries
// ------------------------------------------------------------------------------------------------

#[test]
fn failing_alarms_retry_with_backoff_at_most_six_times_are_deleted_and_flush_everything_after_the_fault(
) {
    check_alarm_retries(Transport::Madsim);
}

// On `direct` the alarms are timers of the network's schedule, fired by the pump
// (src/runtime/pump.rs), not madsim timers.
#[test]
fn failing_alarms_retry_with_backoff_at_most_six_times_are_deleted_and_flush_everything_after_the_fault_on_the_direct_transport(
) {
    check_alarm_retries(Transport::Direct);
}

fn check_alarm_retries(transport: Transport) {
    // One tenant, so the retry log is one actor's: 1, 2, ..., then 1 again after a deletion or
    // a success. The fault (4 min) outlasts the whole chain (2+4+...+64 s = 126 s, +25 % at most).
    let scenario = on(
        transport,
        multi_tenant(
            1,
            3,
            "9m 30s",
            &fault("alarm_failure", "1m", "4m", "rate = 1.0"),
        ),
    );
    // docs/model.md: at most 6 retries, then the alarm is deleted.
    const MAX_RETRIES: u32 = 6;
    for seed in 1..=3 {
        let output = run_world(build_world(&scenario, seed), None)
            .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        let counters = &output.recorder.counters;
        let retries = &output.recorder.alarm_retries;
        assert!(!retries.is_empty(), "seed {seed}: no alarm retried");
        for &(retry, delay_ms) in retries {
            assert!(
                (1..=MAX_RETRIES).contains(&retry),
                "seed {seed}: retry number {retry}"
            );
            let base_ms = 2_000u64 << (retry - 1);
            assert!(
                (base_ms..=base_ms + base_ms / 4).contains(&delay_ms),
                "seed {seed}: retry {retry} after {delay_ms} ms, expected {base_ms} ms + at most 25 %"
            );
        }
        let mut previous = 0;
        for &(retry, _) in retries {
            assert!(
                retry == 1 || retry == previous + 1,
                "seed {seed}: retry {retry} after retry {previous}: {retries:?}"
            );
            previous = retry;
        }
        assert!(
            retries.iter().any(|&(retry, _)| retry == MAX_RETRIES),
            "seed {seed}: the chain reached its last retry: {retries:?}"
        );
        assert!(counters.alarms_deleted > 0, "seed {seed}: {counters:?}");
        assert_eq!(
            counters.alarm_failures,
            retries.len() as u64 + counters.alarms_deleted,
            "seed {seed}: every failed run is retried or, after the 6th retry, deleted"
        );
        let last_retries = retries
            .iter()
            .filter(|&&(retry, _)| retry == MAX_RETRIES)
            .count() as u64;
        assert!(
            counters.alarms_deleted <= last_retries,
            "seed {seed}: an alarm was deleted before its 6th retry: {retries:?}"
        );

        // After the fault every closed period reaches the platform: 9 full minutes, one payload
        // each (every minute has facts from 3 entities).
        assert_eq!(output.end.tenant_payloads_pending, 0, "seed {seed}");
        assert!(counters.tenant_payloads_delivered > 0, "seed {seed}");
        assert_eq!(
            counters.tenant_payloads_delivered, 9,
            "seed {seed}: one payload per closed minute: {counters:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 6. Queue duplicates
// ------------------------------------------------------------------------------------------------

#[test]
fn queue_duplicates_are_redelivered_but_the_platform_counts_each_flush_once() {
    // Duplicates from 30 s to the end. The run ends mid-period, 30 s after the last minute
    // closed, so every closed period has long left the queue (batch timeout 5 s).
    let duplicated = multi_tenant(
        3,
        3,
        "6m 30s",
        &fault("queue_duplicate", "30s", "6m", "rate = 0.5"),
    );
    let tenants = u64::from(duplicated.topology.tenants);
    let closed_periods = 6;
    for seed in 1..=3 {
        let report = run_seed(&duplicated, seed);
        let clean = run_seed(&without_faults(&duplicated), seed);
        let text = report.to_text();
        assert!(
            report.counters.queue_redeliveries > 0,
            "seed {seed}: {text}"
        );
        assert_eq!(clean.counters.queue_redeliveries, 0);
        // Duplicates do not change what the tenants flush: one payload per tenant and closed
        // minute. Stored for the first time only once each, so duplicates were discarded.
        assert_eq!(
            report.counters.tenant_payloads_delivered, clean.counters.tenant_payloads_delivered,
            "seed {seed}: {text}"
        );
        assert_eq!(
            report.counters.tenant_payloads_delivered,
            tenants * closed_periods,
            "seed {seed}: {text}"
        );
        assert_eq!(report.end.tenant_payloads_pending, 0);
        assert_eq!(report.end.dead_letters, 0);
        assert_eq!(report.counters.primary_ops_failed, 0);
    }
}

// ------------------------------------------------------------------------------------------------
// 7. No observability stub
// ------------------------------------------------------------------------------------------------

#[test]
fn without_an_observability_stub_no_sdk_fact_is_emitted_and_primary_work_is_the_same() {
    let silent = single(5, "4m", "[sdk]\nobservability = false\n");
    let observed = single(5, "4m", "");
    let report = run_seed(&silent, 2);
    let baseline = run_seed(&observed, 2);
    let c = &report.counters;
    assert_eq!(c.sdk_facts_emitted, 0, "{}", report.to_text());
    assert_eq!(c.sdk_facts_delivered, 0);
    assert_eq!(facts_stored_by_system(&report), 0);
    assert!(baseline.counters.sdk_facts_delivered > 0);
    assert!(cache_ops(c) > 0);
    assert_eq!(cache_ops(c), cache_ops(&baseline.counters));
    assert_eq!(c.facts_appended, baseline.counters.facts_appended);
    assert_eq!(c.primary_ops_failed, 0);
}

// ------------------------------------------------------------------------------------------------
// 8. Sampling
// ------------------------------------------------------------------------------------------------

#[test]
fn with_a_sample_rate_of_zero_only_the_schema_init_facts_are_delivered() {
    let scenario = single(6, "4m", "[sdk]\nsample_rate = 0.0\n");
    let entities = u64::from(scenario.topology.entities_per_tenant);
    let report = run_seed(&scenario, 4);
    let c = &report.counters;
    assert!(cache_ops(c) > 0);
    assert_eq!(c.sdk_facts_emitted, entities, "{}", report.to_text());
    assert_eq!(c.sdk_facts_delivered, entities, "{}", report.to_text());
    assert_eq!(facts_stored_by_system(&report), entities);
}

// ------------------------------------------------------------------------------------------------
// Eviction
// ------------------------------------------------------------------------------------------------

#[test]
// Regression test: the `evict` fault used to restart a live node with madsim's
// `Handle::restart` alone, which (unlike `Handle::kill`) does not reset the node in the network
// simulator; the new incarnation's `Endpoint::bind` failed with `address already in use`, so
// evicted entities never came back (`restarts` 0, their workload and emissions stopped).
// src/runtime/run.rs now kills the node before restarting it.
fn an_evicted_entity_restarts_hydrates_and_keeps_working() {
    check_eviction(Transport::Madsim);
}

// On `direct` an eviction is a kill and a start in the world; the timers the old incarnation
// armed must not fire for the new one.
#[test]
fn an_evicted_entity_restarts_hydrates_and_keeps_working_on_the_direct_transport() {
    check_eviction(Transport::Direct);
}

fn check_eviction(transport: Transport) {
    let scenario = on(
        transport,
        single(4, "4m", &fault("evict", "1m 10s", "1s", "fraction = 1.0")),
    );
    let entities = u64::from(scenario.topology.entities_per_tenant);
    let report = run_seed(&scenario, 7);
    let calm = run_seed(&without_faults(&scenario), 7);
    let text = report.to_text();
    assert_eq!(
        report.counters.restarts, entities,
        "every entity restarted: {text}"
    );
    assert!(report.counters.lost_on_restart > 0, "{text}");
    // The workload does not depend on faults: a restarted entity serves the same operations.
    assert_eq!(
        cache_ops(&report.counters),
        cache_ops(&calm.counters),
        "{text}"
    );
    assert_eq!(
        report.counters.facts_appended, calm.counters.facts_appended,
        "{text}"
    );
    // Each restart replays stored facts and emits hydration_done (one more SDK fact each).
    assert!(
        report.counters.sdk_facts_delivered >= entities + calm.counters.sdk_facts_delivered / 2,
        "{text}"
    );
}

// ------------------------------------------------------------------------------------------------
// Hostile facts
// ------------------------------------------------------------------------------------------------

#[test]
fn hostile_facts_at_the_system_ledger_are_rejected_or_deduplicated_and_nothing_valid_is_lost() {
    // Single mode: the SystemLedger takes every tenant, so no forged fact claims another
    // tenant there; all the others are sent.
    let scenario = single(
        6,
        "6m",
        &format!(
            "[workload]\nfact_appends_per_min = 6.0\n\n[sdk]\nstats_min_interval = \"10s\"\n\n{}",
            fault("hostile_facts", "1m", "4m", "rate = 0.5")
        ),
    );
    let report = run_seed(&scenario, 3);
    let calm = run_seed(&without_faults(&scenario), 3);
    let text = report.to_text();
    assert!(report.passed, "{text}");
    let counters = &report.counters;
    assert!(counters.hostile_sent > 50, "{text}");
    // A calm network: every forged fact is answered, rejected unless it reuses a stored id.
    assert_eq!(
        counters.hostile_rejected + counters.hostile_accepted,
        counters.hostile_sent,
        "{text}"
    );
    assert!(counters.hostile_accepted > 0, "{text}");
    assert_eq!(
        counters.rejected_malformed, counters.hostile_rejected,
        "{text}"
    );
    assert_eq!(counters.rejected_cross_tenant, 0, "{text}");
    // Nothing valid is lost: the same facts are emitted and all of them stored, as without
    // the fault; forged facts reach no client, so no breaker moves.
    assert_eq!(
        counters.sdk_facts_emitted, calm.counters.sdk_facts_emitted,
        "{text}"
    );
    assert_eq!(
        counters.sdk_facts_delivered, counters.sdk_facts_emitted,
        "{text}"
    );
    assert_eq!(
        facts_stored_by_system(&report),
        facts_stored_by_system(&calm),
        "{text}"
    );
    assert_eq!(counters.breaker_opened, 0, "{text}");
}
