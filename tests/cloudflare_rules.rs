//! The runtime rules Cloudflare documents, seen from whole runs (each rule's state machine has
//! its own unit tests: `runtime::queue`, `runtime::alarm`): the consumer Worker between the
//! queue and the platform, the alarm handler's failure policies and its wall-time limit.

use z0sim::sim::{parse_scenario, run, Report, RunOptions, Scenario};

fn scenario(text: &str) -> Scenario {
    parse_scenario(text, "inline.toml").unwrap_or_else(|error| panic!("{error}"))
}

fn report(scenario: &Scenario, seed: u64) -> Report {
    run(scenario, seed, &RunOptions::default()).unwrap_or_else(|error| panic!("{error}"))
}

fn detail<'a>(report: &'a Report, name: &str) -> &'a str {
    report
        .invariants
        .iter()
        .find(|invariant| invariant.name == name)
        .map_or("", |invariant| invariant.detail.as_str())
}

/// The platform answers `overloaded` to everything for 40 s, behind the queue.
const PLATFORM_OVERLOADED: &str = r#"
name = "platform-overloaded"
duration = "10m"
[topology]
mode = "multi_tenant"
tenants = 3
entities_per_tenant = 3
platform_sink = "queue"
[[faults]]
kind = "system_ledger_overloaded"
target = "platform"
at = "2m55s"
duration = "40s"
rate = 1.0
"#;

#[test]
fn the_platforms_overloaded_answers_are_consumer_retries_that_use_up_max_retries() {
    let report = report(&scenario(PLATFORM_OVERLOADED), 1);
    let counters = &report.counters;
    assert!(counters.overloaded_answers > 0, "{counters:?}");
    assert!(counters.consumer_invocations > 0);
    assert!(
        counters.queue_messages_retried > 0,
        "the consumer retried what the platform refused"
    );
    assert!(
        counters.queue_messages_deleted > 0,
        "four deliveries within 40 s, then deleted"
    );
    assert!(!report.passed);
    let detail = detail(&report, "tenant_payloads_conserved");
    assert!(
        detail.contains("deleted its payload after 4 deliveries"),
        "{detail}"
    );
}

#[test]
fn a_retry_delay_carries_the_consumer_past_the_same_overload() {
    let fixed = scenario(&format!(
        "{PLATFORM_OVERLOADED}[queue]\nretry_delay = \"20s\"\n"
    ));
    for seed in 1..=3 {
        let report = report(&fixed, seed);
        assert!(report.passed, "seed {seed}:\n{}", report.to_text());
        assert_eq!(report.counters.queue_messages_deleted, 0);
        assert!(report.counters.queue_messages_retried > 0);
    }
}

#[test]
fn a_dead_letter_replay_without_a_dead_letter_queue_is_an_error_naming_both_keys() {
    let error = parse_scenario(
        "name = \"x\"\nduration = \"1m\"\n[queue]\ndead_letter_replay = true\n",
        "replay.toml",
    )
    .expect_err("nothing to replay");
    let message = error.to_string();
    assert!(message.contains("queue.dead_letter_replay"), "{message}");
    assert!(message.contains("dead_letter_queue = true"), "{message}");
}

/// Quiet tenants (entities report only their start) whose platform is down for five minutes.
fn quiet_outage(policy: &str) -> Scenario {
    scenario(&format!(
        r#"
name = "quiet-{policy}"
duration = "10m"
[topology]
mode = "multi_tenant"
tenants = 2
entities_per_tenant = 3
platform_sink = "ledger"
[sdk]
tenant_alarm_on_failure = "{policy}"
[workload]
cache_ops_per_sec = 0.0
fact_appends_per_min = 0.0
[reader]
reads_per_min = 0.0
[[faults]]
kind = "system_ledger_down"
target = "platform"
at = "50s"
duration = "5m"
"#
    ))
}

#[test]
fn each_alarm_failure_policy_has_the_consequence_its_documentation_names() {
    for seed in 1..=3 {
        let rearm = report(&quiet_outage("rearm"), seed);
        assert!(rearm.passed, "{}", rearm.to_text());
        assert_eq!(
            rearm.counters.alarm_failures, 0,
            "its runs never fail for a flush"
        );

        let retry = report(&quiet_outage("retry"), seed);
        assert_eq!(
            retry.counters.alarms_deleted, 2,
            "both tenants' alarms deleted"
        );
        assert_eq!(
            retry.counters.alarm_failures, 14,
            "a first run and six retries each"
        );
        let stranded = detail(&retry, "tenant_payloads_conserved");
        assert!(stranded.contains("deleted"), "{stranded}");

        let last_chance = report(&quiet_outage("retry_then_rearm"), seed);
        assert!(last_chance.passed, "{}", last_chance.to_text());
        assert_eq!(last_chance.counters.alarms_deleted, 0);
        assert!(
            last_chance.counters.alarm_failures > 12,
            "the retries start over"
        );
    }
}

/// A busy tenant relying on retries: its runs fail at once while its breaker is OPEN, too fast
/// for an input to land during one, so its alarm is deleted too; its next input (a second
/// later) re-arms it and nothing is lost, but the gap is a violation of the cadence.
#[test]
fn a_busy_tenant_relying_on_retries_loses_its_alarm_until_its_next_input() {
    let busy = scenario(
        r#"
name = "busy-retry"
duration = "10m"
[topology]
mode = "multi_tenant"
tenants = 2
entities_per_tenant = 6
platform_sink = "ledger"
[sdk]
tenant_alarm_on_failure = "retry"
[workload]
# Every entity at t = 0: each tenant ledger's first period closes at 60 s, during the outage.
start_spread = "0s"
[[faults]]
kind = "system_ledger_down"
target = "platform"
at = "50s"
duration = "5m"
"#,
    );
    for seed in 1..=3 {
        let report = report(&busy, seed);
        let failed: Vec<&str> = report
            .invariants
            .iter()
            .filter(|invariant| !invariant.passed)
            .map(|invariant| invariant.name.as_str())
            .collect();
        assert_eq!(
            failed,
            vec!["tenant_flush_cadence"],
            "seed {seed}:\n{}",
            report.to_text()
        );
        assert!(report.counters.alarms_deleted > 0);
        assert!(report.counters.tenant_payloads_delivered > 0);
    }
}

#[test]
fn a_handler_run_past_fifteen_minutes_is_cut_off_and_retried() {
    let slow = scenario(
        r#"
name = "cut-off"
duration = "40m"
[topology]
mode = "multi_tenant"
tenants = 1
entities_per_tenant = 3
platform_sink = "ledger"
[sdk]
tenant_alarm_on_failure = "retry"
rpc_timeout = "20m"
[workload]
cache_ops_per_sec = 0.0
fact_appends_per_min = 0.0
[[faults]]
kind = "partition"
between = ["tenant:0", "platform"]
at = "50s"
duration = "25m"
"#,
    );
    let report = report(&slow, 1);
    assert!(report.passed, "{}", report.to_text());
    assert!(
        report.counters.alarm_runs_cut_off > 0,
        "{:?}",
        report.counters
    );
    assert!(report.counters.alarm_failures >= report.counters.alarm_runs_cut_off);
}

/// A low-traffic fleet: operations further apart than the eviction window.
const LOW_TRAFFIC: &str = r#"
name = "low-traffic"
duration = "30m"
[topology]
entities_per_tenant = 60
[workload]
cache_ops_per_sec = 0.01
fact_appends_per_min = 0.2
"#;

fn stored_share(report: &Report) -> f64 {
    report.end.observations_stored as f64 / report.end.observations_generated as f64
}

#[test]
fn idle_eviction_loses_a_low_traffic_fleets_open_periods_by_name_and_every_invariant_holds() {
    for seed in 1..=3 {
        let evicted = report(&scenario(LOW_TRAFFIC), seed);
        assert!(evicted.passed, "seed {seed}:\n{}", evicted.to_text());
        let counters = &evicted.counters;
        assert!(counters.idle_evictions > 100, "{counters:?}");
        assert!(counters.idle_wakes > 0 && counters.idle_wakes <= counters.idle_evictions);
        assert!(counters.lost_to_idle_eviction > 0);
        assert_eq!(counters.restarts, 0, "an idle eviction is not a restart");
        assert!(stored_share(&evicted) < 0.7, "{}", evicted.to_text());

        let kept = report(
            &scenario(&format!("{LOW_TRAFFIC}[runtime]\nidle_eviction = false\n")),
            seed,
        );
        assert!(kept.passed);
        assert_eq!(kept.counters.idle_evictions, 0);
        assert!(stored_share(&kept) > 0.85, "{}", kept.to_text());
        assert_eq!(
            kept.end.observations_generated, evicted.end.observations_generated,
            "the same operations either way"
        );
    }
}

#[test]
fn a_woken_entity_hydrates_again_and_reports_it() {
    let evicted = report(&scenario(LOW_TRAFFIC), 1);
    assert!(
        evicted
            .reached
            .iter()
            .any(|event| event == "hydration_replayed"),
        "{:?}",
        evicted.reached
    );
    let kept = report(
        &scenario(&format!("{LOW_TRAFFIC}[runtime]\nidle_eviction = false\n")),
        1,
    );
    assert!(!kept
        .reached
        .iter()
        .any(|event| event == "hydration_replayed"));
}

#[test]
fn hibernatable_objects_go_after_ten_seconds_and_busy_ones_never() {
    let hibernating = report(
        &scenario(&format!("{LOW_TRAFFIC}[runtime]\nhibernatable = true\n")),
        1,
    );
    let evicting = report(&scenario(LOW_TRAFFIC), 1);
    assert!(hibernating.passed, "{}", hibernating.to_text());
    assert!(hibernating.counters.idle_evictions > evicting.counters.idle_evictions);
    let busy = report(
        &scenario("name = \"busy\"\nduration = \"20m\"\n[workload]\ncache_ops_per_sec = 2.0\n"),
        1,
    );
    assert_eq!(busy.counters.idle_evictions, 0, "{:?}", busy.counters);
}

/// A busy SystemLedger: 300 entities started together, each about a cache get per second and
/// a stats fact a minute, served 20 ms each.
const BUSY_LEDGER: &str = r#"
name = "busy-ledger"
duration = "5m"
[topology]
entities_per_tenant = 300
[workload]
cache_ops_per_sec = 1.0
fact_appends_per_min = 6.0
# The herd: every entity at t = 0, their start facts and stats periods in step.
start_spread = "0s"
[runtime]
service_time = "20ms"
"#;

/// Reads one counter.
type CounterOf = fn(&z0sim::runtime::Counters) -> u64;

#[test]
fn each_overload_trigger_answers_overloaded_and_is_counted_by_name() {
    let triggers: [(&str, CounterOf); 4] = [
        ("max_in_flight = 3", |c| c.overloaded_too_many_queued),
        ("max_queued_bytes = 1200", |c| c.overloaded_too_much_data),
        ("max_queue_age = \"30ms\"", |c| c.overloaded_queued_too_long),
        ("max_requests_per_10s = 40", |c| c.overloaded_rate_window),
    ];
    let calm = report(&scenario(BUSY_LEDGER), 1);
    assert!(calm.passed, "{}", calm.to_text());
    assert_eq!(
        calm.counters.overloaded_answers, 0,
        "the defaults hold this load"
    );
    let names = [
        "overloaded_too_many_queued",
        "overloaded_too_much_data",
        "overloaded_queued_too_long",
        "overloaded_rate_window",
    ];
    assert!(
        !calm
            .reached
            .iter()
            .any(|item| item.starts_with("overloaded")),
        "{:?}",
        calm.reached
    );
    for ((setting, counted), name) in triggers.into_iter().zip(names) {
        let overloaded = report(&scenario(&format!("{BUSY_LEDGER}{setting}\n")), 1);
        let counters = &overloaded.counters;
        assert!(counted(counters) > 0, "{setting}: {counters:?}");
        // The report's `reached` names the trigger.
        assert!(
            overloaded.reached.iter().any(|item| item == name),
            "{setting}: {:?}",
            overloaded.reached
        );
        assert_eq!(
            counted(counters),
            counters.overloaded_answers,
            "{setting}: the only cause"
        );
        // Every client counts an overloaded answer as one failure and never sends again at
        // once: the breakers' reference model and every other invariant agree.
        assert!(overloaded.passed, "{setting}:\n{}", overloaded.to_text());
    }
}

/// A workload that overloads the SystemLedger for the whole run, and one outage: breakers may
/// legitimately stay OPEN after it, so recovery is not judged, and the report says why.
#[test]
fn recovery_is_not_judged_where_the_workload_exceeds_the_receivers_capacity_and_the_skip_names_it()
{
    let overloaded = scenario(&format!(
        "{BUSY_LEDGER}max_requests_per_10s = 40\n[[faults]]\nkind = \"system_ledger_down\"\nat = \"1m\"\nduration = \"1m\"\n"
    ));
    let report = report(&overloaded, 1);
    let recovers = report
        .invariants
        .iter()
        .find(|invariant| invariant.name == "breaker_recovers")
        .expect("judged");
    assert!(recovers.passed && recovers.skipped, "{recovers:?}");
    assert!(
        recovers.detail.contains("exceeds its receivers' capacity"),
        "{}",
        recovers.detail
    );
    assert!(report.to_text().contains("skip breaker_recovers"));
    assert!(report.to_json().contains("\"skipped\": true"));
}

/// A platform outage longer than the queue's message retention: payloads expire, and the
/// report counts them and lists `queue_expired` among what the run reached.
#[test]
fn payloads_past_the_queue_retention_expire_and_are_counted() {
    let outage = scenario(
        r#"
name = "queue-expiry"
duration = "8m"
[topology]
mode = "multi_tenant"
tenants = 2
entities_per_tenant = 3
platform_sink = "queue"
[queue]
message_retention = "1m"
max_retries = 100
retry_delay = "30s"
[[faults]]
kind = "system_ledger_down"
target = "platform"
at = "1m"
duration = "5m"
"#,
    );
    let expired = report(&outage, 1);
    assert!(
        expired.counters.queue_messages_expired > 0,
        "{}",
        expired.to_text()
    );
    assert!(
        expired.reached.iter().any(|item| item == "queue_expired"),
        "{:?}",
        expired.reached
    );
}
