//! What the oracle sees, on scenarios written the way a user writes them: lost payloads,
//! stranded aggregates, waiting callers, the read side, the three flush triggers and expected
//! violations. Each test runs small inline scenarios through `z0sim::sim::run`.

use z0sim::sim::{load_scenario, parse_scenario, run, Report, RunOptions, Scenario};

fn scenario(text: &str) -> Scenario {
    parse_scenario(text, "inline.toml").unwrap_or_else(|error| panic!("{error}"))
}

fn report(scenario: &Scenario, seed: u64) -> Report {
    run(scenario, seed, &RunOptions::default()).unwrap_or_else(|error| panic!("{error}"))
}

/// The failed checks of a report, by name.
fn failed(report: &Report) -> Vec<&str> {
    report
        .invariants
        .iter()
        .filter(|invariant| !invariant.passed)
        .map(|invariant| invariant.name.as_str())
        .collect()
}

fn detail<'a>(report: &'a Report, name: &str) -> &'a str {
    report
        .invariants
        .iter()
        .find(|invariant| invariant.name == name)
        .map_or("", |invariant| invariant.detail.as_str())
}

const PLATFORM_OUTAGE: &str = r#"
name = "platform-outage"
duration = "10m"
[topology]
mode = "multi_tenant"
tenants = 2
entities_per_tenant = 4
platform_sink = "queue"
[[faults]]
kind = "system_ledger_down"
target = "platform"
at = "3m"
duration = "1m"
"#;

/// The first failing report of seeds 1..=4 of `scenario`.
fn first_loss(scenario: &Scenario) -> Report {
    (1..=4)
        .map(|seed| report(scenario, seed))
        .find(|report| !report.passed)
        .expect("a one-minute platform outage loses payloads under these queue settings")
}

#[test]
fn payloads_the_queue_deletes_under_its_defaults_fail_a_named_invariant_with_their_cause() {
    let lost = first_loss(&scenario(PLATFORM_OUTAGE));
    assert_eq!(
        failed(&lost),
        vec!["tenant_payloads_conserved"],
        "{}",
        lost.to_text()
    );
    let detail = detail(&lost, "tenant_payloads_conserved");
    assert!(detail.contains("tenant t"), "{detail}");
    assert!(
        detail.contains("deleted its payload after 4 deliveries"),
        "{detail}"
    );
    assert!(detail.contains("no dead-letter queue"), "{detail}");
    assert!(lost.counters.queue_messages_deleted > 0);
    assert_eq!(lost.counters.dead_lettered, 0);
}

#[test]
fn payloads_parked_in_a_dead_letter_queue_nothing_reads_are_named_as_dead_lettered() {
    let parked = scenario(&format!(
        "{PLATFORM_OUTAGE}[queue]\ndead_letter_queue = true\n"
    ));
    let lost = first_loss(&parked);
    let detail = detail(&lost, "tenant_payloads_conserved");
    assert!(detail.contains("dead-lettered"), "{detail}");
    assert!(lost.counters.dead_lettered > 0);
    assert_eq!(lost.counters.queue_messages_deleted, 0);
}

#[test]
fn a_retry_delay_more_retries_or_a_replayed_dead_letter_queue_lose_nothing() {
    let fixes = [
        "[queue]\nretry_delay = \"30s\"\n",
        "[queue]\nmax_retries = 12\n",
        "[queue]\ndead_letter_queue = true\ndead_letter_replay = true\n",
    ];
    for fix in fixes {
        let fixed = scenario(&format!("{PLATFORM_OUTAGE}{fix}"));
        for seed in 1..=4 {
            let report = report(&fixed, seed);
            assert!(report.passed, "{fix}seed {seed}:\n{}", report.to_text());
            assert_eq!(report.end.tenant_payloads_pending, 0, "{fix}");
        }
    }
    let replayed = scenario(&format!("{PLATFORM_OUTAGE}{}", fixes[2]));
    let replays: u64 = (1..=4)
        .map(|seed| report(&replayed, seed).counters.dead_letters_replayed)
        .sum();
    assert!(
        replays > 0,
        "the dead-letter consumer delivered what was dead-lettered"
    );
}

/// Entities that emit only at their start: after the alarm is deleted, no input ever comes (and
/// no reader: a read would construct the idle-evicted ledger again, which re-arms).
const STRANDED: &str = r#"
name = "stranded"
duration = "10m"
[topology]
mode = "multi_tenant"
tenants = 1
entities_per_tenant = 3
[workload]
cache_ops_per_sec = 0.0
fact_appends_per_min = 0.0
[reader]
reads_per_min = 0.0
[[faults]]
kind = "alarm_failure"
at = "30s"
duration = "5m"
rate = 1.0
"#;

#[test]
fn an_aggregate_stranded_by_a_deleted_alarm_is_reported_with_the_deleted_alarm_as_cause() {
    let report = report(&scenario(STRANDED), 1);
    assert!(report.counters.alarms_deleted > 0, "{}", report.to_text());
    let failed = failed(&report);
    assert!(failed.contains(&"tenant_payloads_conserved"), "{failed:?}");
    assert!(failed.contains(&"tenant_flush_cadence"), "{failed:?}");
    for name in ["tenant_payloads_conserved", "tenant_flush_cadence"] {
        let detail = detail(&report, name);
        assert!(detail.contains("deleted"), "{name}: {detail}");
    }
}

#[test]
fn a_tenant_ledger_that_re_arms_first_strands_nothing() {
    let fixed = scenario(&format!(
        "{STRANDED}[sdk]\ntenant_alarm_rearm = \"at_start\"\n"
    ));
    for seed in 1..=3 {
        let report = report(&fixed, seed);
        assert!(report.passed, "seed {seed}:\n{}", report.to_text());
        assert_eq!(report.counters.alarms_deleted, 0);
        assert!(report.counters.tenant_payloads_delivered > 0);
    }
}

fn primary_op_p99_ms(text: &str) -> u64 {
    let report = report(&scenario(text), 1);
    assert!(report.passed, "{}", report.to_text());
    report.latency_ms["primary_op"].p99
}

#[test]
fn callers_wait_through_a_fallback_off_outage_and_never_with_fallback_on() {
    let outage = "[[faults]]\nkind = \"system_ledger_down\"\nat = \"3m\"\nduration = \"3m\"\n";
    let base = |fallback: bool| {
        format!(
            "name = \"callers\"\nduration = \"15m\"\n[topology]\nentities_per_tenant = 8\n[sdk]\nfallback_on_failure = {fallback}\n"
        )
    };
    let off_calm = primary_op_p99_ms(&base(false));
    let off_outage = primary_op_p99_ms(&format!("{}{outage}", base(false)));
    assert!(
        off_outage >= 1_000 && off_outage > 10 * off_calm,
        "fallback off: p99 {off_outage} ms in the outage, {off_calm} ms without"
    );
    let on_calm = primary_op_p99_ms(&base(true));
    let on_outage = primary_op_p99_ms(&format!("{}{outage}", base(true)));
    assert_eq!(
        (on_calm, on_outage),
        (0, 0),
        "fallback on: callers never wait"
    );
}

#[test]
fn the_reader_reads_every_ledger_and_every_answer_is_judged() {
    let multi = scenario(
        "name = \"reads\"\nduration = \"20m\"\n[topology]\nmode = \"multi_tenant\"\ntenants = 3\nentities_per_tenant = 4\n[reader]\nreads_per_min = 30.0\n",
    );
    let report = report(&multi, 1);
    assert!(report.passed, "{}", report.to_text());
    assert!(report.counters.reads_served > 300, "{:?}", report.counters);
    assert_eq!(detail(&report, "reads_consistent"), "");
    let silent = scenario("name = \"quiet\"\nduration = \"5m\"\n[reader]\nreads_per_min = 0.0\n");
    let report = z0sim::sim::run(&silent, 1, &RunOptions::default()).expect("runs");
    assert_eq!(report.counters.reads_served, 0);
    let reads = report
        .invariants
        .iter()
        .find(|invariant| invariant.name == "reads_consistent")
        .expect("judged");
    assert!(
        reads.skipped && reads.detail.contains("no read"),
        "{reads:?}"
    );
}

#[test]
fn flushes_and_tracking_toggles_are_judged_period_by_period() {
    let triggers = scenario(
        "name = \"triggers\"\nduration = \"30m\"\n[topology]\nentities_per_tenant = 12\n[workload]\nflush_stats_per_min = 1.0\nstats_toggles_per_min = 0.5\n",
    );
    for seed in 1..=4 {
        let report = report(&triggers, seed);
        assert!(report.passed, "seed {seed}:\n{}", report.to_text());
        assert!(report.counters.cache_stats_delivered > 0);
    }
}

/// A `flushStats()` (or a toggle) closes the open periods when it happens: the entity wakes for
/// it, so its facts leave then, not at the entity's next cache get.
#[test]
fn an_explicit_flush_emits_when_it_happens_even_on_a_quiet_entity() {
    let quiet = scenario(
        "name = \"quiet-flush\"\nduration = \"30m\"\n[topology]\nentities_per_tenant = 4\n[workload]\ncache_ops_per_sec = 0.01\nfact_appends_per_min = 0.0\nflush_stats_per_min = 2.0\n",
    );
    for seed in 1..=3 {
        let report = report(&quiet, seed);
        assert!(report.passed, "seed {seed}:\n{}", report.to_text());
        let delivery = report.latency_ms["delivery"];
        assert!(delivery.count > 0);
        assert!(
            delivery.max < 1_000,
            "seed {seed}: an SDK fact took {} ms from its emission to its storage",
            delivery.max
        );
    }
}

#[test]
fn smoke_expects_stats_to_flow_and_fails_when_they_stop() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml");
    let mut smoke = load_scenario(std::path::Path::new(path)).expect("bundled");
    assert!(report(&smoke, 1).passed);
    smoke.sdk.sample_rate = 0.0;
    let report = report(&smoke, 1);
    assert_eq!(
        failed(&report),
        vec!["expect.cache_stats_delivered"],
        "{}",
        report.to_text()
    );
}

#[test]
fn expected_violations_pass_only_when_exactly_those_invariants_fail() {
    let expected = scenario(&format!(
        "{PLATFORM_OUTAGE}[expect]\nviolations = [\"tenant_payloads_conserved\"]\n"
    ));
    let seed = (1..=4)
        .find(|seed| !report(&scenario(PLATFORM_OUTAGE), *seed).passed)
        .expect("a seed that loses payloads");
    let report = report(&expected, seed);
    assert!(report.passed, "{}", report.to_text());
    assert!(report
        .to_text()
        .contains("FAIL (expected) tenant_payloads_conserved"));
    let wrong = scenario(&format!(
        "{PLATFORM_OUTAGE}[expect]\nviolations = [\"tenant_isolation\"]\n"
    ));
    let report = z0sim::sim::run(&wrong, seed, &RunOptions::default()).expect("runs");
    assert!(!report.passed);
    let failed = failed(&report);
    assert!(failed.contains(&"expect.violations"), "{failed:?}");
    assert!(
        failed.contains(&"tenant_payloads_conserved"),
        "an unlisted violation still fails"
    );
}

#[test]
fn an_unknown_invariant_in_expect_violations_is_an_error_naming_the_key() {
    let error = parse_scenario(
        "name = \"x\"\nduration = \"1m\"\n[expect]\nviolations = [\"tenant_isolaton\"]\n",
        "bad.toml",
    )
    .expect_err("unknown invariant");
    assert_eq!(error.key(), Some("expect.violations"));
    assert!(error.to_string().contains("tenant_isolation"), "{error}");
}
