//! `[expect]` with numeric bounds (docs/scenarios.md, "[expect]"): a counter within
//! `{ min, max }`, a distribution of the report (`latency_ms`, recovery included) with its
//! p50, p99 and max under `{ p50_max, p99_max, max_max }`; booleans keep working.

use std::path::Path;
use z0sim::sim::scenario::{load_scenario, parse_scenario, Requirement, Scenario};
use z0sim::sim::{run, Report, RunOptions};

fn outage() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/system-ledger-outage.toml");
    load_scenario(&path).expect("the bundled scenario loads")
}

/// The outage scenario with its `[expect]` replaced by `expect`.
fn outage_expecting(expect: &str) -> Result<Scenario, String> {
    let mut text = outage().to_toml();
    let start = text
        .find("\n[expect]")
        .expect("the scenario has an [expect]");
    text.truncate(start);
    text.push_str("\n[expect]\n");
    text.push_str(expect);
    parse_scenario(&text, "bounds.toml").map_err(|error| error.to_string())
}

fn check<'a>(report: &'a Report, name: &str) -> &'a z0sim::sim::InvariantResult {
    report
        .invariants
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no {name} in the report"))
}

fn run_seed_1(scenario: &Scenario) -> Report {
    run(scenario, 1, &RunOptions::default()).expect("the run finishes")
}

#[test]
fn bounds_are_read_written_back_and_read_again_unchanged() {
    let scenario = outage_expecting(
        "breaker_opened = { min = 1, max = 40 }\nrestarts = { max = 3 }\nrecovery = { p99_max = \"90s\" }\ndelivery = { p50_max = \"20ms\", max_max = \"2s\" }\ncache_hits = true\n",
    )
    .expect("the bounds parse");
    let checks = &scenario.expect.checks;
    assert_eq!(
        checks["breaker_opened"],
        Requirement::Range {
            min: Some(1),
            max: Some(40)
        }
    );
    assert_eq!(
        checks["restarts"],
        Requirement::Range {
            min: None,
            max: Some(3)
        }
    );
    assert_eq!(
        checks["recovery"],
        Requirement::Distribution {
            p50_max_ms: None,
            p99_max_ms: Some(90_000),
            max_max_ms: None
        }
    );
    assert_eq!(checks["cache_hits"], Requirement::Positive(true));
    let again = parse_scenario(&scenario.to_toml(), "again.toml").expect("written back, it parses");
    assert_eq!(again, scenario);
}

#[test]
fn a_counter_outside_its_bounds_fails_and_inside_passes() {
    let report =
        run_seed_1(&outage_expecting("breaker_opened = { min = 1, max = 2 }\n").expect("parses"));
    let opened = report.counters.breaker_opened;
    assert!(
        opened > 2,
        "the outage opens every entity's breaker ({opened})"
    );
    let bounded = check(&report, "expect.breaker_opened");
    assert!(!bounded.passed);
    assert_eq!(
        bounded.detail,
        format!("breaker_opened = {opened}, expected at most 2")
    );
    let wide = format!("breaker_opened = {{ min = {opened}, max = {opened} }}\n");
    let report = run_seed_1(&outage_expecting(&wide).expect("parses"));
    assert!(check(&report, "expect.breaker_opened").passed);
    let report = run_seed_1(&outage_expecting("restarts = { min = 5 }\n").expect("parses"));
    assert!(check(&report, "expect.restarts")
        .detail
        .contains("expected at least 5"));
}

#[test]
fn recovery_times_are_measured_from_the_last_fault_end_and_can_be_bounded() {
    let report =
        run_seed_1(&outage_expecting("recovery = { max_max = \"1ms\" }\n").expect("parses"));
    let recovery = report.latency_ms["recovery"];
    assert!(
        recovery.count > 0,
        "breakers open at the outage's end recover after it"
    );
    let fault = &outage().faults[0];
    let reset_timeout_ms = outage().sdk.breaker.reset_timeout_ms;
    // No breaker closes before its reset timeout after the SystemLedger is back.
    assert!(
        recovery.p50 > 0 && recovery.max <= 15 * 60_000 - fault.end_ms(),
        "{recovery:?}"
    );
    assert!(recovery.max >= recovery.p99 && recovery.p99 >= recovery.p50);
    assert!(reset_timeout_ms > 0);
    let bounded = check(&report, "expect.recovery");
    assert!(!bounded.passed);
    assert!(
        bounded.detail.starts_with("recovery "),
        "{}",
        bounded.detail
    );
    assert!(
        bounded.detail.contains("expected at most 1ms"),
        "{}",
        bounded.detail
    );
    let loose = format!("recovery = {{ max_max = \"{}ms\" }}\n", recovery.max);
    assert!(
        check(
            &run_seed_1(&outage_expecting(&loose).expect("parses")),
            "expect.recovery"
        )
        .passed
    );
}

#[test]
fn a_distribution_without_samples_is_skipped_not_passed() {
    let report =
        run_seed_1(&outage_expecting("tenant_flush_lag = { p99_max = \"1s\" }\n").expect("parses"));
    let lag = check(&report, "expect.tenant_flush_lag");
    assert!(
        lag.skipped && lag.detail.contains("no tenant_flush_lag samples"),
        "{lag:?}"
    );
}

#[test]
fn bad_bounds_say_what_was_expected() {
    for (expect, wanted) in [
        ("recovery = true\n", "recovery is a distribution"),
        (
            "breaker_opened = { p99_max = \"1s\" }\n",
            "unknown field `p99_max`, expected",
        ),
        ("recovery = { min = 1 }\n", "unknown field `min`, expected"),
        (
            "breaker_opened = { min = 5, max = 1 }\n",
            "more than max (1)",
        ),
        ("breaker_opened = {}\n", "at least one bound"),
        (
            "breaker_opened = { min = -1 }\n",
            "expected a count of 0 or more",
        ),
        ("breaker_opened = { min = \"1\" }\n", "expected an integer"),
        ("recovery = { p99_max = 90 }\n", "unit"),
        (
            "recovry = { p99_max = \"90s\" }\n",
            "did you mean `recovery`?",
        ),
        (
            "breaker_opened = 3\n",
            "expected a boolean or a table of bounds",
        ),
    ] {
        let error = outage_expecting(expect).expect_err(expect);
        assert!(error.contains(wanted), "{expect}: {error}");
        assert!(error.starts_with("bounds.toml"), "{expect}: {error}");
    }
}

fn bundled(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    load_scenario(&path).expect("the bundled scenario loads")
}

/// `scenario` with one more `[expect]` distribution bound, `max_max_ms`.
fn with_max_bound(mut scenario: Scenario, name: &str, max_max_ms: u64) -> Scenario {
    scenario.expect.checks.insert(
        name.to_owned(),
        Requirement::Distribution {
            p50_max_ms: None,
            p99_max_ms: None,
            max_max_ms: Some(max_max_ms),
        },
    );
    scenario
}

#[test]
fn awaited_backlogs_drain_after_the_last_fault_and_the_time_can_be_bounded() {
    // fallback_on_failure = false: callers wait, messages wait in their client's backlog.
    let scenario = bundled("fallback-off-outage.toml");
    let faults_end_ms = scenario
        .faults
        .iter()
        .map(|f| f.end_ms())
        .max()
        .expect("a fault");
    let report = run_seed_1(&with_max_bound(scenario.clone(), "recovery_backlog", 1));
    let drained = report.latency_ms["recovery_backlog"];
    assert!(drained.count > 0, "backlogs held at the outage's end drain");
    assert_eq!(report.end.backlogs_undrained, 0);
    assert!(
        drained.max <= report.sim_time_ms - faults_end_ms,
        "{drained:?}"
    );
    let bounded = check(&report, "expect.recovery_backlog");
    assert!(
        !bounded.passed && bounded.detail.contains("expected at most 1ms"),
        "{bounded:?}"
    );
    let loose = with_max_bound(scenario, "recovery_backlog", drained.max);
    assert!(check(&run_seed_1(&loose), "expect.recovery_backlog").passed);
}

#[test]
fn pending_tenant_periods_reach_the_platform_after_the_last_fault() {
    let report = run_seed_1(&bundled("multi-tenant-queue.toml"));
    let arrived = report.latency_ms["recovery_payloads"];
    assert!(
        arrived.count > 0,
        "periods pending at the fault's end arrive"
    );
    assert_eq!(report.end.payloads_undelivered, 0);
    assert!(report.passed);
}

#[test]
fn tenant_periods_lost_after_the_last_fault_fail_a_payload_recovery_bound() {
    // The queue deletes payloads after its retries (no dead-letter queue): they never arrive.
    let scenario = with_max_bound(
        bundled("queue-outage-defaults.toml"),
        "recovery_payloads",
        3_600_000,
    );
    let report = run_seed_1(&scenario);
    assert!(report.end.payloads_undelivered > 0, "{:?}", report.end);
    let bounded = check(&report, "expect.recovery_payloads");
    assert!(
        !bounded.passed && bounded.detail.contains("never reached the platform"),
        "{bounded:?}"
    );
    assert!(report
        .to_text()
        .contains("tenant periods never at the platform"));
}
