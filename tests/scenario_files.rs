//! Scenario files: parsing, defaults, validation, error messages and round trips.
//!
//! Specification: `docs/scenarios.md` and `docs/reference/scenario-keys.md`, and
//! the decisions written down in the doc comment of `src/sim/scenario.rs`.
//!
//! Each validation test starts from a minimal valid file, changes the one thing it is about and
//! asserts that the error names the key path (or line and column) and what was expected.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use z0sim::model::{AlarmOnFailure, AlarmRearm, BreakerConfig};
use z0sim::runtime::Transport;
use z0sim::sim::scenario::{
    load_scenario, parse_scenario, Expect, Fault, FaultKind, Group, Mode, Network, PlatformSink,
    QueueSettings, ReaderSettings, Requirement, Runtime, Scenario, ScenarioError, Sdk, Target,
    Topology, Workload, EXPECT_COUNTERS, MAX_DURATION_MS,
};

// ------------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------------

const FILE: &str = "test.toml";

/// The smallest valid file: only the two required keys.
const MINIMAL: &str = "name = \"minimal\"\nduration = \"15m\"\n";

/// The format's example from before the repository had its own docs, with its comments and
/// `description = "..."`.
const HARNESS_EXAMPLE: &str = r#"
name = "system-ledger-outage"          # required
description = "..."
duration = "15m"                       # required: simulated time to run
seeds = 8                              # seeds `cargo test` runs for this file

[topology]
mode = "single"                        # "single" | "multi_tenant"
tenants = 1
entities_per_tenant = 20
hierarchy = []                         # entity tree levels under each tenant, e.g. ["project", "asset"]
platform_sink = "queue"                # multi_tenant only: "queue" | "ledger"

[sdk]
observability = true                   # false: no observabilityStub is wired
fallback_on_failure = true
warn_on_fallback = true
stats_min_interval = "60s"
tenant_aggregation_interval = "60s"
rpc_timeout = "5s"
sample_rate = 1.0                      # fraction of entities that emit stats

[sdk.breaker]
failure_threshold = 5
reset_timeout = "30s"
half_open_max_probes = 1

[workload]
cache_ops_per_sec = 1.0                # per entity
hit_ratio = 0.8
fact_appends_per_min = 6.0             # per entity

[network]
latency = ["1ms", "10ms"]
packet_loss = 0.0

[[faults]]                             # zero or more, applied at fixed simulated times
kind = "system_ledger_down"            # see below
at = "3m"
duration = "3m"

[expect]                               # what a passing run must also show
breaker_opened = true                  # omitted: no requirement
"#;

/// A multi-tenant file that sets every key, extensions included, and every fault kind.
const EVERYTHING: &str = r#"
name = "multi-tenant-everything"
description = "every key set to a non-default value"
duration = "1h"
seeds = 3

[topology]
mode = "multi_tenant"
tenants = 4
entities_per_tenant = 5
hierarchy = ["project", "asset"]
platform_sink = "queue"
system_shards = 2

[sdk]
observability = false
fallback_on_failure = false
warn_on_fallback = false
stats_min_interval = "30s"
tenant_aggregation_interval = "2m"
rpc_timeout = "2s 500ms"
sample_rate = 0.25
tenant_alarm_rearm = "at_start"
tenant_alarm_on_failure = "retry"

[sdk.breaker]
failure_threshold = 3
reset_timeout = "10s"
half_open_max_probes = 2
reset_timeout_jitter = 0.25
reset_timeout_growth = 2.0
reset_timeout_max = "2m"

[workload]
cache_ops_per_sec = 2.5
hit_ratio = 0.5
fact_appends_per_min = 12
flush_stats_per_min = 0.5
stats_toggles_per_min = 0.25
start_spread = "45s"

[network]
latency = ["2ms", "20ms"]
packet_loss = 0.01
transport = "direct"

[runtime]
max_in_flight = 50
max_queued_bytes = 4096
max_queue_age = "2s"
max_requests_per_10s = 500
service_time = "3ms"
idle_eviction = false
idle_eviction_after = ["30s", "1m"]
hibernatable = true
hibernate_after = "5s"

[queue]
max_batch_size = 25
max_batch_timeout = "2s"
max_retries = 7
retry_delay = "30s"
dead_letter_queue = true
dead_letter_replay = true
consumer_concurrency = 40
message_retention = "2d"

[reader]
reads_per_min = 6.0

[[faults]]
kind = "system_ledger_down"
at = "1m"
duration = "2m"
target = "tenant:2"

[[faults]]
kind = "system_ledger_overloaded"
at = "3m"
duration = "1m"
rate = 0.5
target = "platform"

[[faults]]
kind = "system_ledger_slow"
at = "5m"
duration = "1m 30s"
extra_latency = "750ms"

[[faults]]
kind = "partition"
at = "7m"
duration = "1m"
between = ["entities", "tenant:3"]

[[faults]]
kind = "packet_loss"
at = "9m"
duration = "1m"
rate = 0.1

[[faults]]
kind = "evict"
at = "11m"
duration = "1s"
fraction = 0.3

[[faults]]
kind = "alarm_failure"
at = "13m"
duration = "5m"
rate = 1.0
target = "tenant:0"

[[faults]]
kind = "queue_duplicate"
at = "20m"
duration = "10m"
rate = 0.2

[[faults]]
kind = "queue_consumer_failure"
at = "40m"
duration = "10m"
rate = 0.9

[expect]
violations = ["tenant_flush_cadence", "breaker_recovers"]
breaker_opened = true
breaker_closed = true
rejected_cross_tenant = false
tenant_payloads_delivered = true
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    parse_scenario(text, FILE)
}

fn parse_ok(text: &str) -> Scenario {
    match parse(text) {
        Ok(scenario) => scenario,
        Err(error) => panic!("expected the file to parse, got: {error}\n---\n{text}"),
    }
}

fn parse_err(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(scenario) => panic!("expected an error, parsed: {scenario:?}\n---\n{text}"),
        Err(error) => error,
    }
}

/// The minimal file plus `extra`.
fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

/// The minimal file in multi_tenant mode with `tenants` tenants, plus `extra`.
fn multi(tenants: u32, extra: &str) -> String {
    format!("{MINIMAL}[topology]\nmode = \"multi_tenant\"\ntenants = {tenants}\n{extra}")
}

/// Asserts a semantic error at `key` whose message contains every one of `expected`.
#[track_caller]
fn assert_key_error(text: &str, key: &str, expected: &[&str]) {
    let error = parse_err(text);
    assert_eq!(error.key(), Some(key), "wrong key in: {error}");
    assert_eq!(error.line_col(), None, "{error}");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{FILE}: key `{key}`: ")),
        "wrong format: {shown}"
    );
    for part in expected {
        assert!(shown.contains(part), "{shown:?} does not contain {part:?}");
    }
}

/// Asserts a syntax/type/unknown-key error at `line`:`column` whose message contains `expected`.
#[track_caller]
fn assert_position_error(text: &str, line: usize, column: usize, expected: &[&str]) {
    let error = parse_err(text);
    assert_eq!(
        error.line_col(),
        Some((line, column)),
        "wrong position in: {error}"
    );
    assert_eq!(error.key(), None, "{error}");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{FILE}:{line}:{column}: ")),
        "wrong format: {shown}"
    );
    for part in expected {
        assert!(shown.contains(part), "{shown:?} does not contain {part:?}");
    }
}

/// A fault section of `kind` from 1m for 1m, plus `extra` lines.
fn fault(kind: &str, extra: &str) -> String {
    format!("\n[[faults]]\nkind = \"{kind}\"\nat = \"1m\"\nduration = \"1m\"\n{extra}")
}

fn round_trip(scenario: &Scenario) {
    let text = scenario.to_toml();
    match parse_scenario(&text, "round-trip.toml") {
        Ok(again) => assert_eq!(&again, scenario, "round trip changed it:\n{text}"),
        Err(error) => panic!("to_toml wrote a file that does not parse: {error}\n---\n{text}"),
    }
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("z0sim-scenario-{}-{name}", std::process::id()))
}

// ------------------------------------------------------------------------------------------------
// What parses, and to what
// ------------------------------------------------------------------------------------------------

#[test]
fn the_example_of_harness_md_parses_to_its_values() {
    let scenario = parse_ok(HARNESS_EXAMPLE);
    let mut expected = Scenario::new("system-ledger-outage", 15 * 60_000);
    expected.description = "...".to_owned();
    expected.faults.push(Fault {
        kind: FaultKind::SystemLedgerDown,
        at_ms: 3 * 60_000,
        duration_ms: 3 * 60_000,
        target: None,
    });
    expected
        .expect
        .checks
        .insert("breaker_opened".to_owned(), Requirement::Positive(true));
    assert_eq!(scenario, expected);
}

#[test]
fn a_minimal_file_gets_every_default() {
    let scenario = parse_ok(MINIMAL);
    let expected = Scenario {
        name: "minimal".to_owned(),
        description: String::new(),
        duration_ms: 900_000,
        seeds: 8,
        topology: Topology {
            mode: Mode::Single,
            tenants: 1,
            entities_per_tenant: 20,
            hierarchy: Vec::new(),
            platform_sink: PlatformSink::Queue,
            system_shards: 1,
        },
        sdk: Sdk {
            observability: true,
            fallback_on_failure: true,
            warn_on_fallback: true,
            stats_min_interval_ms: 60_000,
            tenant_aggregation_interval_ms: 60_000,
            rpc_timeout_ms: 5_000,
            sample_rate: 1.0,
            tenant_alarm_rearm: AlarmRearm::OnInput,
            tenant_alarm_on_failure: AlarmOnFailure::Rearm,
            breaker: BreakerConfig::default(),
        },
        workload: Workload {
            cache_ops_per_sec: 1.0,
            hit_ratio: 0.8,
            fact_appends_per_min: 6.0,
            flush_stats_per_min: 0.0,
            stats_toggles_per_min: 0.0,
            start_spread_ms: 60_000,
        },
        network: Network {
            latency_min_ms: 1,
            latency_max_ms: 10,
            packet_loss: 0.0,
            transport: Transport::Madsim,
        },
        runtime: Runtime {
            max_in_flight: 1_000,
            max_queued_bytes: 32 * 1024 * 1024,
            max_queue_age_ms: 30_000,
            max_requests_per_10s: 10_000,
            service_time_ms: 1,
            idle_eviction: true,
            idle_eviction_after_ms: (70_000, 140_000),
            hibernatable: false,
            hibernate_after_ms: 10_000,
        },
        queue: QueueSettings {
            max_batch_size: 10,
            max_batch_timeout_ms: 5_000,
            max_retries: 3,
            retry_delay_ms: 0,
            dead_letter_queue: false,
            dead_letter_replay: false,
            consumer_concurrency: 250,
            message_retention_ms: 4 * 24 * 3_600_000,
        },
        reader: ReaderSettings { reads_per_min: 2.0 },
        faults: Vec::new(),
        expect: Expect {
            checks: BTreeMap::new(),
            violations: BTreeSet::new(),
        },
    };
    assert_eq!(scenario, expected);
    assert_eq!(Scenario::new("minimal", 900_000), expected);
    assert!(expected.validate(FILE).is_ok());
}

#[test]
fn a_file_that_sets_every_key_parses_to_those_values() {
    let s = parse_ok(EVERYTHING);
    assert_eq!(s.name, "multi-tenant-everything");
    assert_eq!(s.description, "every key set to a non-default value");
    assert_eq!(s.duration_ms, 3_600_000);
    assert_eq!(s.seeds, 3);
    assert_eq!(
        s.topology,
        Topology {
            mode: Mode::MultiTenant,
            tenants: 4,
            entities_per_tenant: 5,
            hierarchy: vec!["project".to_owned(), "asset".to_owned()],
            platform_sink: PlatformSink::Queue,
            system_shards: 2,
        }
    );
    assert_eq!(
        s.sdk,
        Sdk {
            observability: false,
            fallback_on_failure: false,
            warn_on_fallback: false,
            stats_min_interval_ms: 30_000,
            tenant_aggregation_interval_ms: 120_000,
            rpc_timeout_ms: 2_500,
            sample_rate: 0.25,
            tenant_alarm_rearm: AlarmRearm::AtStart,
            tenant_alarm_on_failure: AlarmOnFailure::Retry,
            breaker: BreakerConfig {
                failure_threshold: 3,
                reset_timeout_ms: 10_000,
                half_open_max_probes: 2,
                reset_timeout_jitter_ratio: 0.25,
                reset_timeout_growth_factor: 2.0,
                reset_timeout_max_ms: 120_000,
            },
        }
    );
    assert!(s.sdk.breaker.validate().is_ok());
    assert_eq!(
        s.workload,
        Workload {
            cache_ops_per_sec: 2.5,
            hit_ratio: 0.5,
            fact_appends_per_min: 12.0,
            flush_stats_per_min: 0.5,
            stats_toggles_per_min: 0.25,
            start_spread_ms: 45_000,
        }
    );
    assert_eq!(
        s.queue,
        QueueSettings {
            max_batch_size: 25,
            max_batch_timeout_ms: 2_000,
            max_retries: 7,
            retry_delay_ms: 30_000,
            dead_letter_queue: true,
            dead_letter_replay: true,
            consumer_concurrency: 40,
            message_retention_ms: 2 * 24 * 3_600_000,
        }
    );
    assert_eq!(s.reader, ReaderSettings { reads_per_min: 6.0 });
    let violations: Vec<&str> = s.expect.violations.iter().map(String::as_str).collect();
    assert_eq!(violations, vec!["breaker_recovers", "tenant_flush_cadence"]);
    assert_eq!(
        s.network,
        Network {
            latency_min_ms: 2,
            latency_max_ms: 20,
            packet_loss: 0.01,
            transport: Transport::Direct,
        }
    );
    assert_eq!(
        s.runtime,
        Runtime {
            max_in_flight: 50,
            max_queued_bytes: 4_096,
            max_queue_age_ms: 2_000,
            max_requests_per_10s: 500,
            service_time_ms: 3,
            idle_eviction: false,
            idle_eviction_after_ms: (30_000, 60_000),
            hibernatable: true,
            hibernate_after_ms: 5_000,
        }
    );
    let kinds: Vec<FaultKind> = s.faults.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            FaultKind::SystemLedgerDown,
            FaultKind::SystemLedgerOverloaded { rate: 0.5 },
            FaultKind::SystemLedgerSlow {
                extra_latency_ms: 750
            },
            FaultKind::Partition {
                between: [Group::Entities, Group::Tenant(3)]
            },
            FaultKind::PacketLoss { rate: 0.1 },
            FaultKind::Evict { fraction: 0.3 },
            FaultKind::AlarmFailure { rate: 1.0 },
            FaultKind::QueueDuplicate { rate: 0.2 },
            FaultKind::QueueConsumerFailure { rate: 0.9 },
        ]
    );
    let targets: Vec<Option<Target>> = s.faults.iter().map(|f| f.target).collect();
    assert_eq!(
        targets,
        vec![
            Some(Target::Tenant(2)),
            Some(Target::Platform),
            None,
            None,
            None,
            None,
            Some(Target::Tenant(0)),
            None,
            None,
        ]
    );
    assert_eq!(s.faults[2].at_ms, 300_000);
    assert_eq!(s.faults[2].duration_ms, 90_000);
    assert_eq!(s.faults[2].end_ms(), 390_000);
    let expect: Vec<(&str, bool)> = s
        .expect
        .checks
        .keys()
        .map(|k| (k.as_str(), s.expect.get(k).expect("a boolean requirement")))
        .collect();
    assert_eq!(
        expect,
        vec![
            ("breaker_closed", true),
            ("breaker_opened", true),
            ("rejected_cross_tenant", false),
            ("tenant_payloads_delivered", true),
        ]
    );
    assert_eq!(s.expect.get("breaker_opened"), Some(true));
    assert_eq!(s.expect.get("cache_hits"), None);
}

#[test]
fn durations_take_every_humantime_unit_form_and_become_whole_milliseconds() {
    for (text, ms) in [
        ("250ms", 250),
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("1m 30s", 90_000),
        ("1.5s", 1_500),
        ("2d", 172_800_000),
        ("30days", MAX_DURATION_MS),
    ] {
        let scenario = parse_ok(&format!("name = \"d\"\nduration = \"{text}\"\n"));
        assert_eq!(scenario.duration_ms, ms, "{text}");
    }
}

#[test]
fn the_breaker_extensions_default_to_off_and_reset_timeout_max_follows_a_long_reset_timeout() {
    let plain = parse_ok(&with("[sdk.breaker]\nreset_timeout = \"10m\"\n"));
    assert_eq!(plain.sdk.breaker.reset_timeout_ms, 600_000);
    assert_eq!(plain.sdk.breaker.reset_timeout_max_ms, 600_000);
    assert_eq!(plain.sdk.breaker.reset_timeout_jitter_ratio, 0.0);
    assert_eq!(plain.sdk.breaker.reset_timeout_growth_factor, 1.0);
    let short = parse_ok(&with("[sdk.breaker]\nreset_timeout = \"1s\"\n"));
    assert_eq!(short.sdk.breaker.reset_timeout_max_ms, 300_000);
}

#[test]
fn integers_are_accepted_where_numbers_are_expected() {
    let s = parse_ok(&with(
        "[workload]\nhit_ratio = 1\ncache_ops_per_sec = 3\n[sdk]\nsample_rate = 0\n",
    ));
    assert_eq!(s.workload.hit_ratio, 1.0);
    assert_eq!(s.workload.cache_ops_per_sec, 3.0);
    assert_eq!(s.sdk.sample_rate, 0.0);
}

#[test]
fn faults_may_be_written_as_an_inline_array_of_tables() {
    let s = parse_ok(&with(
        "faults = [{ kind = \"packet_loss\", at = \"1m\", duration = \"2m\", rate = 0.5 }]\n",
    ));
    assert_eq!(
        s.faults,
        vec![Fault {
            kind: FaultKind::PacketLoss { rate: 0.5 },
            at_ms: 60_000,
            duration_ms: 120_000,
            target: None,
        }]
    );
}

#[test]
fn a_fault_may_run_past_the_end_of_the_run() {
    let s = parse_ok(&with(
        &fault("system_ledger_down", "").replace("duration = \"1m\"", "duration = \"1h\""),
    ));
    assert_eq!(s.faults[0].end_ms(), 60_000 + 3_600_000);
}

#[test]
fn the_sdk_settings_convert_to_the_model_configs() {
    let s = parse_ok(EVERYTHING);
    let bootstrap = s.sdk.bootstrap_config();
    assert!(!bootstrap.fallback_on_failure);
    assert!(!bootstrap.warn_on_fallback);
    assert_eq!(s.sdk.stats_config().min_interval_ms, 30_000);
    assert_eq!(s.sdk.tenant_config().aggregation_interval_ms, 120_000);
    assert!(s.sdk.tenant_config().validate().is_ok());
}

#[test]
fn groups_and_targets_print_as_they_are_written() {
    for text in ["entities", "system", "tenant:0", "tenant:42", "platform"] {
        assert_eq!(
            Group::parse(text).map(|g| g.to_string()),
            Ok(text.to_owned())
        );
    }
    for text in ["system", "tenant:7", "platform"] {
        assert_eq!(
            Target::parse(text).map(|t| t.to_string()),
            Ok(text.to_owned())
        );
    }
    for bad in [
        "",
        "tenant",
        "tenant:",
        "tenant:+1",
        "tenant:-1",
        "tenant: 1",
        "Tenant:1",
        "x",
    ] {
        assert!(Group::parse(bad).is_err(), "{bad:?}");
        assert!(Target::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Target::parse("entities").is_err());
    assert!(Group::parse("tenant:99999999999").is_err());
}

// ------------------------------------------------------------------------------------------------
// Round trips
// ------------------------------------------------------------------------------------------------

#[test]
fn to_toml_round_trips_the_examples() {
    for text in [MINIMAL, HARNESS_EXAMPLE, EVERYTHING] {
        round_trip(&parse_ok(text));
    }
}

#[test]
fn to_toml_round_trips_awkward_strings_and_floats() {
    let mut s = Scenario::new(
        "quotes \" backslash \\ tab \t newline \n nul \u{0} del \u{7f} é 🦀",
        1,
    );
    s.description = "'''\"\"\"\r\n\u{1b}[0m".to_owned();
    s.topology.hierarchy = vec!["a b".to_owned(), "\"".to_owned(), "ü".to_owned()];
    s.workload.hit_ratio = 0.1 + 0.2;
    s.workload.cache_ops_per_sec = 1e-7;
    s.workload.fact_appends_per_min = 59_999.999_999_999_99;
    s.sdk.sample_rate = f64::MIN_POSITIVE;
    s.network.packet_loss = 5e-324;
    s.expect
        .checks
        .insert("cache_hits".to_owned(), Requirement::Positive(false));
    assert!(s.validate(FILE).is_ok());
    round_trip(&s);
}

#[test]
fn to_toml_writes_durations_in_milliseconds() {
    let text = parse_ok(HARNESS_EXAMPLE).to_toml();
    assert!(text.contains("duration = \"900000ms\""), "{text}");
    assert!(text.contains("latency = [\"1ms\", \"10ms\"]"), "{text}");
    assert!(text.contains("reset_timeout = \"30000ms\""), "{text}");
}

// ------------------------------------------------------------------------------------------------
// Syntax, types and unknown keys: FILE:LINE:COLUMN
// ------------------------------------------------------------------------------------------------

#[test]
fn an_unknown_top_level_key_is_reported_at_its_line_and_column() {
    assert_position_error(
        &with("  sedds = 3\n"),
        3,
        3,
        &["unknown field `sedds`", "`seeds`"],
    );
}

#[test]
fn an_unknown_key_in_a_nested_table_is_reported_at_its_line_and_column() {
    assert_position_error(
        &with("[sdk.breaker]\nfailure_thresold = 2\n"),
        4,
        1,
        &["unknown field `failure_thresold`", "`failure_threshold`"],
    );
    assert_position_error(
        &with("[workload]\nhit_rate = 0.5\n"),
        4,
        1,
        &["unknown field `hit_rate`", "`hit_ratio`"],
    );
    assert_position_error(&with("[unknown]\n"), 3, 2, &["unknown field `unknown`"]);
}

#[test]
fn an_unknown_key_in_a_fault_is_reported_at_its_line_and_column() {
    assert_position_error(
        &with(&fault("packet_loss", "rate = 0.1\nratio = 0.1\n")),
        9,
        1,
        &["unknown field `ratio`", "`rate`"],
    );
}

#[test]
fn an_unknown_expect_key_lists_the_counters_of_the_report() {
    let text = with("[expect]\nbreaker_openned = true\n");
    let error = parse_err(&text);
    assert_eq!(error.key(), Some("expect.breaker_openned"));
    let shown = error.to_string();
    assert!(shown.contains("unknown counter"), "{shown}");
    assert!(shown.contains("did you mean `breaker_opened`?"), "{shown}");
    for counter in EXPECT_COUNTERS {
        assert!(shown.contains(counter), "{shown} lacks {counter}");
    }
}

#[test]
fn every_counter_of_the_report_is_an_expect_key() {
    let mut text = with("[expect]\n");
    for (index, counter) in EXPECT_COUNTERS.iter().enumerate() {
        text.push_str(&format!("{counter} = {}\n", index % 2 == 0));
    }
    let s = parse_ok(&text);
    assert_eq!(s.expect.checks.len(), EXPECT_COUNTERS.len());
    assert_eq!(s.expect.get("cache_hits"), Some(true));
    assert_eq!(s.expect.get("cache_misses"), Some(false));
}

#[test]
fn an_expect_value_that_is_not_a_bool_is_a_type_error() {
    assert_position_error(
        &with("[expect]\nbreaker_opened = 1\n"),
        4,
        18,
        &["expected a boolean"],
    );
}

#[test]
fn an_unknown_enum_value_lists_the_allowed_ones() {
    assert_position_error(
        &with("[topology]\nmode = \"multi-tenant\"\n"),
        4,
        8,
        &[
            "unknown variant `multi-tenant`",
            "`single`",
            "`multi_tenant`",
        ],
    );
    assert_position_error(
        &with("[topology]\nplatform_sink = \"kafka\"\n"),
        4,
        17,
        &["unknown variant `kafka`", "`queue`", "`ledger`"],
    );
    assert_position_error(
        &with("[network]\ntransport = \"tcp\"\n"),
        4,
        13,
        &["unknown variant `tcp`", "`madsim`", "`direct`"],
    );
    assert_position_error(
        &with(&fault("ledger_down", "")),
        5,
        8,
        &[
            "unknown variant `ledger_down`",
            "`system_ledger_down`",
            "`queue_consumer_failure`",
        ],
    );
}

#[test]
fn a_toml_syntax_error_is_reported_at_its_line_and_column() {
    let error = parse_err("name = \"x\"\nduration = \"1m\"\n[sdk\n");
    assert_eq!(error.line_col().map(|(line, _)| line), Some(3));
    assert!(error.to_string().starts_with("test.toml:3:"), "{error}");
    let error = parse_err("name = \"x\"\nname = \"y\"\nduration = \"1m\"\n");
    assert_eq!(error.line_col(), Some((2, 1)));
    assert!(error.to_string().contains("duplicate key"), "{error}");
}

#[test]
fn a_value_of_the_wrong_type_is_reported_at_its_line_and_column() {
    assert_position_error(
        &with("[topology]\ntenants = \"two\"\n"),
        4,
        11,
        &["invalid type", "expected an integer"],
    );
    assert_position_error(
        &with("[workload]\nhit_ratio = \"high\"\n"),
        4,
        13,
        &["invalid type", "expected a number"],
    );
    assert_position_error(
        &with("[sdk]\nobservability = \"yes\"\n"),
        4,
        17,
        &["invalid type", "expected a boolean"],
    );
    assert_position_error(
        "name = \"x\"\nduration = true\n",
        2,
        12,
        &[
            "expected a duration string with a unit",
            "\"250ms\"",
            "\"1m 30s\"",
        ],
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_position_error(
        "name = \"héé🦀\"\nduration = \"1m\"\ndescription = \"ü\" bogus = 1\n",
        3,
        19,
        &[],
    );
}

#[test]
fn deeply_nested_toml_is_an_error_not_a_stack_overflow() {
    for depth in [1_000, 1_000_000] {
        let arrays = with(&format!(
            "description = {}{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ));
        let tables = with(&format!(
            "description = {}{}\n",
            "{a=".repeat(depth),
            "}".repeat(depth)
        ));
        let keys = with(&format!("{}b = 1\n", "a.".repeat(depth)));
        for text in [arrays, tables, keys] {
            let error = parse_err(&text);
            assert!(error.to_string().starts_with(FILE), "{error}");
        }
    }
}

#[test]
fn an_integer_too_large_for_toml_is_an_error_not_a_panic() {
    let error = parse_err(&with("seeds = 99999999999999999999\n"));
    assert_eq!(error.line_col(), Some((3, 9)), "{error}");
}

// ------------------------------------------------------------------------------------------------
// Required keys and durations
// ------------------------------------------------------------------------------------------------

#[test]
fn name_and_duration_are_required() {
    assert_key_error("duration = \"1m\"\n", "name", &["is required", "name = "]);
    assert_key_error("name = \"x\"\n", "duration", &["is required", "\"30s\""]);
    assert_key_error("", "name", &["is required"]);
}

#[test]
fn a_blank_name_is_an_error() {
    assert_key_error(
        "name = \"  \"\nduration = \"1m\"\n",
        "name",
        &["must not be empty"],
    );
}

#[test]
fn a_bare_number_duration_asks_for_a_unit_with_examples() {
    for (value, shown) in [("900", "900"), ("-5", "-5"), ("1.5", "1.5")] {
        assert_key_error(
            &format!("name = \"x\"\nduration = {value}\n"),
            "duration",
            &[
                "expected a duration with a unit",
                "\"250ms\", \"30s\", \"5m\", \"1h\"",
                &format!("got the bare number {shown}"),
            ],
        );
    }
}

#[test]
fn a_duration_string_without_a_unit_asks_for_a_unit() {
    for value in ["30", "0", "", "  ", "1.5"] {
        assert_key_error(
            &format!("name = \"x\"\nduration = \"{value}\"\n"),
            "duration",
            &["expected a duration with a unit", "\"250ms\"", "(no unit)"],
        );
    }
}

#[test]
fn a_duration_with_an_unknown_unit_or_garbage_says_what_was_expected() {
    for value in [
        "30 seconds please",
        "5 fortnights",
        "-5s",
        "1h30",
        "ms",
        "1e3s",
    ] {
        assert_key_error(
            &format!("name = \"x\"\nduration = \"{value}\"\n"),
            "duration",
            &["expected a duration with a unit", "\"250ms\""],
        );
    }
}

#[test]
fn a_duration_finer_than_a_millisecond_is_an_error() {
    assert_key_error(
        &with("[runtime]\nservice_time = \"1500us\"\n"),
        "runtime.service_time",
        &["whole number of milliseconds", "1500us"],
    );
}

#[test]
fn durations_longer_than_30_days_are_an_error_that_states_the_limit() {
    assert_key_error(
        "name = \"x\"\nduration = \"31d\"\n",
        "duration",
        &["at most 30 days", "2592000000 ms"],
    );
    assert_key_error(
        &with("[sdk]\nrpc_timeout = \"99999999999999999999999s\"\n"),
        "sdk.rpc_timeout",
        &["expected a duration with a unit", "too large"],
    );
    assert_key_error(
        &with("[sdk]\nrpc_timeout = \"100y\"\n"),
        "sdk.rpc_timeout",
        &["at most 30 days"],
    );
}

#[test]
fn a_zero_run_duration_is_an_error() {
    assert_key_error(
        "name = \"x\"\nduration = \"0ms\"\n",
        "duration",
        &["must be longer than 0 ms"],
    );
}

#[test]
fn zero_intervals_and_timeouts_are_errors() {
    for (section, key, path) in [
        ("sdk", "stats_min_interval", "sdk.stats_min_interval"),
        (
            "sdk",
            "tenant_aggregation_interval",
            "sdk.tenant_aggregation_interval",
        ),
        ("sdk", "rpc_timeout", "sdk.rpc_timeout"),
        ("sdk.breaker", "reset_timeout", "sdk.breaker.reset_timeout"),
    ] {
        assert_key_error(
            &with(&format!("[{section}]\n{key} = \"0s\"\n")),
            path,
            &["must be longer than 0 ms"],
        );
    }
}

#[test]
fn a_zero_service_time_and_zero_latency_are_allowed() {
    let s = parse_ok(&with(
        "[runtime]\nservice_time = \"0ms\"\n[network]\nlatency = [\"0ms\", \"0ms\"]\n",
    ));
    assert_eq!(s.runtime.service_time_ms, 0);
    assert_eq!(s.network.latency_max_ms, 0);
    round_trip(&s);
}

// ------------------------------------------------------------------------------------------------
// Ranges of numbers
// ------------------------------------------------------------------------------------------------

#[test]
fn ratios_rates_and_fractions_must_be_finite_and_within_0_and_1() {
    let places: Vec<(String, &str)> = vec![
        (with("[sdk]\nsample_rate = {}\n"), "sdk.sample_rate"),
        (with("[workload]\nhit_ratio = {}\n"), "workload.hit_ratio"),
        (with("[network]\npacket_loss = {}\n"), "network.packet_loss"),
        (
            with("[sdk.breaker]\nreset_timeout_jitter = {}\n"),
            "sdk.breaker.reset_timeout_jitter",
        ),
        (with(&fault("packet_loss", "rate = {}\n")), "faults[0].rate"),
        (
            with(&fault("system_ledger_overloaded", "rate = {}\n")),
            "faults[0].rate",
        ),
        (
            with(&fault("alarm_failure", "rate = {}\n")),
            "faults[0].rate",
        ),
        (
            with(&fault("evict", "fraction = {}\n")),
            "faults[0].fraction",
        ),
        (
            multi(1, &fault("queue_duplicate", "rate = {}\n")),
            "faults[0].rate",
        ),
        (
            multi(1, &fault("queue_consumer_failure", "rate = {}\n")),
            "faults[0].rate",
        ),
    ];
    for (template, key) in &places {
        for bad in ["1.5", "-0.1", "nan", "inf", "-inf", "2"] {
            assert_key_error(
                &template.replace("{}", bad),
                key,
                &["expected a number from 0.0 to 1.0"],
            );
        }
        for good in ["0", "0.0", "1", "1.0", "0.5"] {
            parse_ok(&template.replace("{}", good));
        }
    }
}

#[test]
fn the_breaker_growth_factor_must_be_within_1_and_16() {
    for bad in ["0.5", "16.5", "nan", "inf", "-1"] {
        assert_key_error(
            &with(&format!("[sdk.breaker]\nreset_timeout_growth = {bad}\n")),
            "sdk.breaker.reset_timeout_growth",
            &["from 1.0 to 16.0"],
        );
    }
    parse_ok(&with("[sdk.breaker]\nreset_timeout_growth = 16\n"));
}

#[test]
fn reset_timeout_max_must_not_be_below_reset_timeout() {
    assert_key_error(
        &with("[sdk.breaker]\nreset_timeout = \"1m\"\nreset_timeout_max = \"30s\"\n"),
        "sdk.breaker.reset_timeout_max",
        &["must be at least 60000 ms"],
    );
}

#[test]
fn breaker_counts_must_be_at_least_1() {
    for key in ["failure_threshold", "half_open_max_probes"] {
        for bad in ["0", "-1", "4294967296"] {
            assert_key_error(
                &with(&format!("[sdk.breaker]\n{key} = {bad}\n")),
                &format!("sdk.breaker.{key}"),
                &["must be between 1 and 4294967295", &format!("got {bad}")],
            );
        }
    }
}

#[test]
fn seeds_must_be_at_least_1() {
    for bad in ["0", "-3", "9223372036854775807"] {
        assert_key_error(
            &with(&format!("seeds = {bad}\n")),
            "seeds",
            &["must be between 1 and"],
        );
    }
}

#[test]
fn tenants_must_be_between_1_and_the_limit() {
    for bad in ["0", "-1", "10001", "9223372036854775807"] {
        assert_key_error(
            &with(&format!("[topology]\ntenants = {bad}\n")),
            "topology.tenants",
            &["must be between 1 and 10000"],
        );
    }
    parse_ok(&with(
        "[topology]\ntenants = 10000\nentities_per_tenant = 1\n",
    ));
}

#[test]
fn entities_per_tenant_must_be_at_least_1() {
    for bad in ["0", "-20"] {
        assert_key_error(
            &with(&format!("[topology]\nentities_per_tenant = {bad}\n")),
            "topology.entities_per_tenant",
            &["must be between 1 and 1000000"],
        );
    }
}

#[test]
fn the_total_number_of_entities_is_limited() {
    assert_key_error(
        &with("[topology]\ntenants = 1000\nentities_per_tenant = 1001\n"),
        "topology.entities_per_tenant",
        &["1001000 entities", "at most 1000000"],
    );
    parse_ok(&with(
        "[topology]\ntenants = 1000\nentities_per_tenant = 1000\n",
    ));
}

#[test]
fn workload_rates_must_be_finite_non_negative_and_within_their_limits() {
    for bad in ["-1", "nan", "inf", "1000.5"] {
        assert_key_error(
            &with(&format!("[workload]\ncache_ops_per_sec = {bad}\n")),
            "workload.cache_ops_per_sec",
            &["expected a number from 0.0 to 1000.0"],
        );
    }
    for bad in ["-1", "nan", "60001"] {
        assert_key_error(
            &with(&format!("[workload]\nfact_appends_per_min = {bad}\n")),
            "workload.fact_appends_per_min",
            &["expected a number from 0.0 to 60000.0"],
        );
    }
    parse_ok(&with(
        "[workload]\ncache_ops_per_sec = 0\nfact_appends_per_min = 0\n",
    ));
}

#[test]
fn latency_needs_min_at_most_max_and_exactly_two_values() {
    assert_key_error(
        &with("[network]\nlatency = [\"10ms\", \"1ms\"]\n"),
        "network.latency",
        &["min <= max", "10 ms", "1 ms"],
    );
    for bad in ["[]", "[\"1ms\"]", "[\"1ms\", \"2ms\", \"3ms\"]"] {
        assert_key_error(
            &with(&format!("[network]\nlatency = {bad}\n")),
            "network.latency",
            &["expected two durations [min, max]"],
        );
    }
    assert_key_error(
        &with("[network]\nlatency = [\"1ms\", 10]\n"),
        "network.latency[1]",
        &["expected a duration with a unit"],
    );
}

#[test]
fn max_in_flight_must_be_at_least_1() {
    assert_key_error(
        &with("[runtime]\nmax_in_flight = 0\n"),
        "runtime.max_in_flight",
        &["must be between 1 and"],
    );
}

#[test]
fn hierarchy_levels_must_be_named_distinct_and_at_most_6_deep() {
    assert_key_error(
        &with("[topology]\nhierarchy = [\"project\", \"\"]\n"),
        "topology.hierarchy[1]",
        &["expected a non-empty level name"],
    );
    assert_key_error(
        &with("[topology]\nhierarchy = [\"a\", \"a\"]\n"),
        "topology.hierarchy[1]",
        &["appears twice"],
    );
    assert_key_error(
        &with("[topology]\nhierarchy = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\"]\n"),
        "topology.hierarchy",
        &["7 levels", "at most 6"],
    );
    parse_ok(&with(
        "[topology]\nhierarchy = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]\n",
    ));
}

// ------------------------------------------------------------------------------------------------
// Faults
// ------------------------------------------------------------------------------------------------

#[test]
fn a_fault_must_start_before_the_end_of_the_run() {
    let text = format!(
        "{MINIMAL}[[faults]]\nkind = \"system_ledger_down\"\nat = \"1m\"\nduration = \"1m\"\n\
         [[faults]]\nkind = \"system_ledger_down\"\nat = \"15m\"\nduration = \"1m\"\n"
    );
    assert_key_error(
        &text,
        "faults[1].at",
        &["starts at or after the run's end", "900000 ms"],
    );
    parse_ok(&text.replace("at = \"15m\"", "at = \"14m 59s 999ms\""));
}

#[test]
fn a_fault_must_last_longer_than_0() {
    assert_key_error(
        &with(&fault("system_ledger_down", "").replace("duration = \"1m\"", "duration = \"0s\"")),
        "faults[0].duration",
        &["must be longer than 0 ms"],
    );
}

#[test]
fn kind_at_and_duration_are_required_in_a_fault() {
    assert_key_error(
        &with("[[faults]]\nat = \"1m\"\nduration = \"1m\"\n"),
        "faults[0].kind",
        &["is required", "system_ledger_down"],
    );
    assert_key_error(
        &with("[[faults]]\nkind = \"evict\"\nfraction = 0.1\nduration = \"1m\"\n"),
        "faults[0].at",
        &["is required for evict faults"],
    );
    assert_key_error(
        &with("[[faults]]\nkind = \"packet_loss\"\nrate = 0.1\nat = \"1m\"\n"),
        "faults[0].duration",
        &["is required for packet_loss faults"],
    );
    // An instantaneous fault has no length: its duration may be left out.
    let evict = parse_scenario(
        &with("[[faults]]\nkind = \"evict\"\nfraction = 0.1\nat = \"1m\"\n"),
        "evict.toml",
    )
    .expect("an evict without duration parses");
    assert_eq!(evict.faults[0].duration_ms, 1);
    assert!(!evict.to_toml().contains("duration = \"1ms\""));
}

#[test]
fn a_per_kind_key_on_the_wrong_kind_is_an_error() {
    for (kind, extra, key) in [
        ("system_ledger_down", "rate = 0.5", "rate"),
        ("packet_loss", "rate = 0.5\nfraction = 0.5", "fraction"),
        (
            "evict",
            "fraction = 0.5\nextra_latency = \"1s\"",
            "extra_latency",
        ),
        (
            "system_ledger_slow",
            "extra_latency = \"1s\"\nbetween = [\"entities\", \"system\"]",
            "between",
        ),
        (
            "partition",
            "between = [\"entities\", \"system\"]\ntarget = \"system\"",
            "target",
        ),
        ("packet_loss", "rate = 0.5\ntarget = \"system\"", "target"),
        ("evict", "fraction = 0.5\ntarget = \"system\"", "target"),
    ] {
        assert_key_error(
            &with(&fault(kind, &format!("{extra}\n"))),
            &format!("faults[0].{key}"),
            &[
                &format!("`{key}` is not a key of {kind} faults"),
                "they take: at, duration",
            ],
        );
    }
}

#[test]
fn a_missing_per_kind_key_is_an_error() {
    for (kind, key) in [
        ("system_ledger_overloaded", "rate"),
        ("system_ledger_slow", "extra_latency"),
        ("partition", "between"),
        ("packet_loss", "rate"),
        ("evict", "fraction"),
        ("alarm_failure", "rate"),
    ] {
        assert_key_error(
            &with(&fault(kind, "")),
            &format!("faults[0].{key}"),
            &[
                &format!("is required for {kind} faults"),
                &format!("{key} = "),
            ],
        );
    }
}

#[test]
fn extra_latency_must_be_a_positive_duration() {
    assert_key_error(
        &with(&fault("system_ledger_slow", "extra_latency = \"0ms\"\n")),
        "faults[0].extra_latency",
        &["must be longer than 0 ms"],
    );
    assert_key_error(
        &with(&fault("system_ledger_slow", "extra_latency = 500\n")),
        "faults[0].extra_latency",
        &["got the bare number 500"],
    );
}

#[test]
fn partition_groups_must_be_two_valid_distinct_groups() {
    let partition = |between: &str| fault("partition", &format!("between = {between}\n"));
    assert_key_error(
        &with(&partition("[\"entities\", \"entities\"]")),
        "faults[0].between",
        &["two different groups", "\"entities\" twice"],
    );
    assert_key_error(
        &with(&partition("[\"entities\", \"database\"]")),
        "faults[0].between",
        &[
            "expected \"entities\", \"system\", \"system:<n>\", \"tenant:<n>\" or \"platform\"",
            "\"database\"",
        ],
    );
    assert_key_error(
        &with(&partition("[\"entities\"]")),
        "faults[0].between",
        &["expected two groups [A, B]", "got 1 values"],
    );
    assert_key_error(
        &with(&partition("[\"entities\", \"system\", \"platform\"]")),
        "faults[0].between",
        &["expected two groups [A, B]"],
    );
    assert_key_error(
        &multi(2, &partition("[\"entities\", \"tenant:2\"]")),
        "faults[0].between",
        &["tenant 2 does not exist", "from 0 to 1"],
    );
    assert_key_error(
        &multi(2, &partition("[\"entities\", \"tenant:x\"]")),
        "faults[0].between",
        &["expected a tenant index", "\"tenant:0\""],
    );
    parse_ok(&with(&partition("[\"system\", \"entities\"]")));
    parse_ok(&multi(2, &partition("[\"tenant:1\", \"platform\"]")));
}

#[test]
fn partitions_with_tenants_or_the_platform_need_multi_tenant_mode() {
    for group in ["tenant:0", "platform"] {
        assert_key_error(
            &with(&fault(
                "partition",
                &format!("between = [\"entities\", \"{group}\"]\n"),
            )),
            "faults[0].between",
            &[&format!("\"{group}\" exists only in multi_tenant mode")],
        );
    }
}

#[test]
fn the_system_group_and_target_exist_only_in_single_mode() {
    assert_key_error(
        &multi(
            1,
            &fault("partition", "between = [\"entities\", \"system\"]\n"),
        ),
        "faults[0].between",
        &["\"system\" exists only in single mode"],
    );
    assert_key_error(
        &multi(1, &fault("system_ledger_down", "target = \"system\"\n")),
        "faults[0].target",
        &["\"system\" exists only in single mode"],
    );
}

#[test]
fn targets_must_name_an_existing_system_ledger() {
    assert_key_error(
        &with(&fault("system_ledger_down", "target = \"entities\"\n")),
        "faults[0].target",
        &[
            "expected \"system\", \"system:<n>\", \"tenant:<n>\" or \"platform\"",
            "\"entities\"",
        ],
    );
    assert_key_error(
        &multi(
            3,
            &fault("alarm_failure", "rate = 0.5\ntarget = \"tenant:3\"\n"),
        ),
        "faults[0].target",
        &["tenant 3 does not exist", "from 0 to 2"],
    );
    for target in ["tenant:0", "platform"] {
        assert_key_error(
            &with(&fault(
                "system_ledger_slow",
                &format!("extra_latency = \"1s\"\ntarget = \"{target}\"\n"),
            )),
            "faults[0].target",
            &[&format!("\"{target}\" exists only in multi_tenant mode")],
        );
    }
    let s = parse_ok(&with(&fault("system_ledger_down", "target = \"system\"\n")));
    assert_eq!(s.faults[0].target, Some(Target::System));
}

#[test]
fn queue_faults_need_multi_tenant_mode_and_the_queue_sink() {
    for kind in ["queue_duplicate", "queue_consumer_failure"] {
        let section = fault(kind, "rate = 0.5\n");
        assert_key_error(
            &with(&section),
            "faults[0].kind",
            &[
                "need the platform queue",
                "multi_tenant",
                "platform_sink = \"queue\"",
            ],
        );
        assert_key_error(
            &multi(2, &format!("platform_sink = \"ledger\"\n{section}")),
            "faults[0].kind",
            &["need the platform queue"],
        );
        parse_ok(&multi(2, &section));
    }
}

#[test]
fn fault_indices_in_key_paths_count_from_0() {
    let text = with(&format!(
        "{}{}",
        fault("packet_loss", "rate = 0.5\n"),
        fault("packet_loss", "rate = 5\n")
    ));
    assert_key_error(&text, "faults[1].rate", &["from 0.0 to 1.0"]);
}

#[test]
fn validate_rejects_a_target_on_a_kind_without_one_when_built_in_code() {
    let mut s = Scenario::new("code", 60_000);
    s.faults.push(Fault {
        kind: FaultKind::Evict { fraction: 0.5 },
        at_ms: 0,
        duration_ms: 1,
        target: Some(Target::System),
    });
    let error = s.validate(FILE).expect_err("target on evict");
    assert_eq!(error.key(), Some("faults[0].target"));
    s.faults[0].target = None;
    assert!(s.validate(FILE).is_ok());
    s.expect
        .checks
        .insert("bogus".to_owned(), Requirement::Positive(true));
    let error = s.validate(FILE).expect_err("unknown counter");
    assert_eq!(error.key(), Some("expect.bogus"));
    assert!(error.to_string().contains("cache_hits"), "{error}");
}

// ------------------------------------------------------------------------------------------------
// Files
// ------------------------------------------------------------------------------------------------

#[test]
fn load_scenario_reads_a_file_and_names_it_in_errors() {
    let good = temp_path("good.toml");
    std::fs::write(&good, HARNESS_EXAMPLE).expect("write temp file");
    let loaded = load_scenario(&good);
    let bad = temp_path("bad.toml");
    std::fs::write(&bad, with("[workload]\nhit_ratio = 2\n")).expect("write temp file");
    let error = load_scenario(&bad).expect_err("hit_ratio 2");
    let _ = std::fs::remove_file(&good);
    let _ = std::fs::remove_file(&bad);
    assert_eq!(loaded, Ok(parse_ok(HARNESS_EXAMPLE)));
    assert_eq!(error.origin(), bad.display().to_string());
    assert_eq!(
        error.to_string(),
        format!(
            "{}: key `workload.hit_ratio`: expected a number from 0.0 to 1.0, got 2",
            bad.display()
        )
    );
}

#[test]
fn a_missing_file_is_an_error_naming_the_file() {
    let path = temp_path("does-not-exist.toml");
    let error = load_scenario(&path).expect_err("missing file");
    assert!(error.is_io());
    assert_eq!(error.key(), None);
    assert_eq!(error.line_col(), None);
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("{}: cannot read the file: ", path.display())),
        "{shown}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_an_error_with_its_position() {
    let path = temp_path("latin1.toml");
    std::fs::write(
        &path,
        b"name = \"x\"\nduration = \"1m\"\ndescription = \"caf\xe9\"\n",
    )
    .expect("write temp file");
    let error = load_scenario(&path).expect_err("not UTF-8");
    let _ = std::fs::remove_file(&path);
    assert_eq!(error.line_col(), Some((3, 19)));
    assert!(error.to_string().contains("expected UTF-8 text"), "{error}");
    assert!(error.to_string().contains(":3:19: "), "{error}");
}

#[test]
fn every_bundled_scenario_file_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return; // no bundled scenarios yet
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    for path in paths {
        match load_scenario(&path) {
            Ok(scenario) => round_trip(&scenario),
            Err(error) => panic!("bundled scenario does not parse: {error}"),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------

/// Keys and section headers of the contract, plus near misses.
const KEYS: &[&str] = &[
    "name",
    "description",
    "duration",
    "seeds",
    "mode",
    "tenants",
    "entities_per_tenant",
    "hierarchy",
    "platform_sink",
    "observability",
    "fallback_on_failure",
    "warn_on_fallback",
    "stats_min_interval",
    "tenant_aggregation_interval",
    "rpc_timeout",
    "sample_rate",
    "failure_threshold",
    "reset_timeout",
    "half_open_max_probes",
    "reset_timeout_jitter",
    "reset_timeout_growth",
    "reset_timeout_max",
    "cache_ops_per_sec",
    "hit_ratio",
    "fact_appends_per_min",
    "latency",
    "packet_loss",
    "transport",
    "max_in_flight",
    "service_time",
    "kind",
    "at",
    "target",
    "rate",
    "extra_latency",
    "between",
    "fraction",
    "breaker_opened",
    "cache_hits",
    "bogus",
];

const HEADERS: &[&str] = &[
    "[topology]",
    "[sdk]",
    "[sdk.breaker]",
    "[workload]",
    "[network]",
    "[runtime]",
    "[[faults]]",
    "[expect]",
    "[bogus]",
    "[[topology]]",
];

const VALUES: &[&str] = &[
    "\"x\"",
    "\"\"",
    "\"15m\"",
    "\"1ms\"",
    "\"0ms\"",
    "\"30s\"",
    "\"31d\"",
    "\"1500us\"",
    "\"30\"",
    "0",
    "1",
    "-1",
    "8",
    "20",
    "99999999999",
    "9223372036854775807",
    "0.5",
    "1.0",
    "1.5",
    "-0.0",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "true",
    "false",
    "[]",
    "[\"1ms\", \"10ms\"]",
    "[\"entities\", \"system\"]",
    "[\"entities\", \"tenant:0\"]",
    "[\"a\", \"\"]",
    "\"single\"",
    "\"multi_tenant\"",
    "\"queue\"",
    "\"ledger\"",
    "\"direct\"",
    "\"madsim\"",
    "\"system_ledger_down\"",
    "\"partition\"",
    "\"packet_loss\"",
    "\"evict\"",
    "\"queue_duplicate\"",
    "\"system\"",
    "\"tenant:0\"",
    "\"platform\"",
    "{ a = 1 }",
    "1979-05-27T07:32:00Z",
];

/// Text that looks like a scenario file: a valid head, then random sections and keys.
fn toml_ish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        1 => proptest::sample::select(HEADERS).prop_map(str::to_owned),
        4 => (proptest::sample::select(KEYS), proptest::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        1 => "\\PC{0,12}",
    ];
    (any::<bool>(), proptest::collection::vec(line, 0..16)).prop_map(|(head, lines)| {
        let mut text = if head {
            MINIMAL.to_owned()
        } else {
            String::new()
        };
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        text
    })
}

fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0]
}

fn group() -> impl Strategy<Value = Group> {
    prop_oneof![
        Just(Group::Entities),
        Just(Group::System),
        (0u32..6).prop_map(Group::Tenant),
        Just(Group::Platform),
    ]
}

fn target() -> impl Strategy<Value = Option<Target>> {
    prop_oneof![
        Just(None),
        Just(Some(Target::System)),
        (0u32..6).prop_map(|n| Some(Target::Tenant(n))),
        Just(Some(Target::Platform)),
    ]
}

fn fault_kind() -> impl Strategy<Value = FaultKind> {
    prop_oneof![
        Just(FaultKind::SystemLedgerDown),
        ratio().prop_map(|rate| FaultKind::SystemLedgerOverloaded { rate }),
        (1u64..=MAX_DURATION_MS)
            .prop_map(|extra_latency_ms| FaultKind::SystemLedgerSlow { extra_latency_ms }),
        (group(), group()).prop_map(|(a, b)| FaultKind::Partition { between: [a, b] }),
        ratio().prop_map(|rate| FaultKind::PacketLoss { rate }),
        ratio().prop_map(|fraction| FaultKind::Evict { fraction }),
        ratio().prop_map(|rate| FaultKind::AlarmFailure { rate }),
        ratio().prop_map(|rate| FaultKind::QueueDuplicate { rate }),
        ratio().prop_map(|rate| FaultKind::QueueConsumerFailure { rate }),
        ratio().prop_map(|rate| FaultKind::HostileFacts { rate }),
    ]
}

fn candidate_fault() -> impl Strategy<Value = Fault> {
    (fault_kind(), any::<u64>(), 1u64..=MAX_DURATION_MS, target()).prop_map(
        |(kind, at_ms, duration_ms, target)| Fault {
            kind,
            at_ms,
            duration_ms,
            target,
        },
    )
}

/// Valid scenarios of every shape: candidates are drawn freely, then faults that do not fit
/// the topology are dropped and `at` is brought inside the run.
fn valid_scenario() -> impl Strategy<Value = Scenario> {
    let head = (
        "[a-z]\\PC{0,20}",
        any::<String>(),
        1u64..=MAX_DURATION_MS,
        1u32..=u32::MAX,
    );
    let topology = (
        any::<bool>(),
        1u32..=6,
        1u32..=100,
        proptest::sample::subsequence(
            vec!["project", "asset", "team", "region", "zone", "rack"],
            0..=6,
        ),
        any::<bool>(),
        1u32..=8,
    )
        .prop_map(
            |(multi, tenants, entities, hierarchy, queue, shards)| Topology {
                mode: if multi {
                    Mode::MultiTenant
                } else {
                    Mode::Single
                },
                tenants,
                entities_per_tenant: entities,
                hierarchy: hierarchy.into_iter().map(str::to_owned).collect(),
                platform_sink: if queue {
                    PlatformSink::Queue
                } else {
                    PlatformSink::Ledger
                },
                system_shards: shards,
            },
        );
    let breaker = (
        1u32..=u32::MAX,
        1u64..=MAX_DURATION_MS,
        1u32..=u32::MAX,
        ratio(),
        1.0f64..=16.0,
        any::<u64>(),
    )
        .prop_map(
            |(threshold, reset, probes, jitter, growth, extra)| BreakerConfig {
                failure_threshold: threshold,
                reset_timeout_ms: reset,
                half_open_max_probes: probes,
                reset_timeout_jitter_ratio: jitter,
                reset_timeout_growth_factor: growth,
                reset_timeout_max_ms: reset + extra % (MAX_DURATION_MS - reset + 1),
            },
        );
    let sdk = (
        any::<(bool, bool, bool)>(),
        1u64..=MAX_DURATION_MS,
        1u64..=MAX_DURATION_MS,
        1u64..=MAX_DURATION_MS,
        (ratio(), 0usize..3),
        breaker,
    )
        .prop_map(
            |((obs, fallback, warn), stats, tenant, rpc, (sample, on_failure), breaker)| Sdk {
                observability: obs,
                fallback_on_failure: fallback,
                warn_on_fallback: warn,
                stats_min_interval_ms: stats,
                tenant_aggregation_interval_ms: tenant,
                rpc_timeout_ms: rpc,
                sample_rate: sample,
                tenant_alarm_rearm: if obs {
                    AlarmRearm::AtStart
                } else {
                    AlarmRearm::OnInput
                },
                tenant_alarm_on_failure: AlarmOnFailure::ALL[on_failure],
                breaker,
            },
        );
    let rest = (
        (0.0f64..=1_000.0, ratio(), 0.0f64..=60_000.0),
        (0u64..=MAX_DURATION_MS, 0u64..=MAX_DURATION_MS, ratio()),
        (1u32..=u32::MAX, 0u64..=MAX_DURATION_MS),
        proptest::collection::vec(candidate_fault(), 0..8),
        proptest::sample::subsequence(EXPECT_COUNTERS.to_vec(), 0..=EXPECT_COUNTERS.len()),
        any::<u16>(),
    );
    (head, topology, sdk, rest).prop_map(
        |((name, description, duration_ms, seeds), topology, sdk, rest)| {
            let (
                (ops, hit, appends),
                (lat_a, lat_b, loss),
                (in_flight, service),
                faults,
                counters,
                bits,
            ) = rest;
            let mut scenario = Scenario {
                name,
                description,
                duration_ms,
                seeds,
                topology,
                sdk,
                workload: Workload {
                    cache_ops_per_sec: ops,
                    hit_ratio: hit,
                    fact_appends_per_min: appends,
                    flush_stats_per_min: hit * 600.0,
                    stats_toggles_per_min: loss * 600.0,
                    start_spread_ms: (ops * 1_000.0) as u64,
                },
                network: Network {
                    latency_min_ms: lat_a.min(lat_b),
                    latency_max_ms: lat_a.max(lat_b),
                    packet_loss: loss,
                    transport: if bits & (1 << 15) != 0 {
                        Transport::Direct
                    } else {
                        Transport::Madsim
                    },
                },
                runtime: Runtime {
                    max_in_flight: in_flight,
                    max_queued_bytes: 1 + lat_a,
                    max_queue_age_ms: lat_b.max(1),
                    max_requests_per_10s: 1 + service,
                    service_time_ms: service,
                    idle_eviction: bits & 4 != 0,
                    idle_eviction_after_ms: (lat_a.min(lat_b).max(1), lat_a.max(lat_b).max(1)),
                    hibernatable: bits & 8 != 0,
                    hibernate_after_ms: service.max(1),
                },
                queue: QueueSettings {
                    max_batch_size: 1 + u32::from(bits) % 100,
                    max_batch_timeout_ms: service % 60_001,
                    max_retries: u32::from(bits) % 101,
                    retry_delay_ms: lat_a % 43_200_001,
                    dead_letter_queue: bits & 3 != 0,
                    dead_letter_replay: bits & 1 != 0,
                    consumer_concurrency: 1 + u32::from(bits) % 250,
                    message_retention_ms: 60_000 + service % 1_209_540_001,
                },
                reader: ReaderSettings {
                    reads_per_min: appends,
                },
                faults: Vec::new(),
                expect: Expect {
                    checks: counters
                        .into_iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let positive = (u64::from(bits) >> (i % 15)) & 1 != 0;
                            let requirement = match i % 3 {
                                0 => Requirement::Positive(positive),
                                1 => Requirement::Range {
                                    min: positive.then_some(i as u64),
                                    max: Some(i as u64 + u64::from(bits)),
                                },
                                _ => Requirement::Range {
                                    min: Some(u64::from(bits)),
                                    max: None,
                                },
                            };
                            (c.to_owned(), requirement)
                        })
                        .chain([(
                            "recovery".to_owned(),
                            Requirement::Distribution {
                                p50_max_ms: Some(lat_a.max(1)),
                                p99_max_ms: (bits & 2 != 0).then_some(lat_b),
                                max_max_ms: None,
                            },
                        )])
                        .collect(),
                    violations: z0sim::sim::invariants::INVARIANTS
                        .iter()
                        .step_by(1 + usize::from(bits % 7))
                        .map(|invariant| invariant.name.to_owned())
                        .take(usize::from(bits % 3))
                        .collect(),
                },
            };
            for mut fault in faults {
                fault.at_ms %= duration_ms;
                let mut alone = scenario.clone();
                alone.faults = vec![fault.clone()];
                if alone.validate("candidate").is_ok() {
                    scenario.faults.push(fault);
                }
            }
            scenario
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC*") {
        let _ = parse(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(scenario) = parse(&text) {
            round_trip(&scenario);
        }
    }

    #[test]
    fn scenario_like_text_never_panics_and_what_parses_round_trips(text in toml_ish()) {
        match parse(&text) {
            Ok(scenario) => round_trip(&scenario),
            Err(error) => {
                prop_assert!(error.to_string().starts_with(FILE), "{}", error);
                prop_assert!(!error.message().is_empty(), "{}", error);
            }
        }
    }

    #[test]
    fn every_valid_scenario_round_trips_through_to_toml(scenario in valid_scenario()) {
        prop_assert!(scenario.validate(FILE).is_ok(), "{:?}", scenario.validate(FILE));
        round_trip(&scenario);
    }
}

// ------------------------------------------------------------------------------------------------
// Files generated from the format's tables
// ------------------------------------------------------------------------------------------------

/// `fuzz/scenario_parse.dict` is the format's own dictionary (keys, tables, choices, fault
/// kinds, counters). `Z0SIM_BLESS=1 cargo test --test scenario_files` writes it anew.
#[test]
fn the_fuzz_dictionary_is_generated_from_the_format() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/scenario_parse.dict");
    let generated = z0sim::sim::scenario::fuzz_dictionary();
    if std::env::var("Z0SIM_BLESS").is_ok_and(|value| value == "1") {
        std::fs::write(&path, &generated).expect("write the dictionary");
    }
    let committed = std::fs::read_to_string(&path).expect("read the dictionary");
    assert_eq!(
        committed, generated,
        "fuzz/scenario_parse.dict differs from the format's tables; regenerate it with Z0SIM_BLESS=1 cargo test --test scenario_files"
    );
    for kind in z0sim::sim::scenario::faults::FAULT_KINDS {
        assert!(
            committed.contains(&format!("\"\\\"{}\\\"\"", kind.name)),
            "{}",
            kind.name
        );
    }
}

#[test]
fn the_start_spread_defaults_to_the_stats_interval_as_written() {
    let scenario = parse_scenario(
        "name = \"x\"\nduration = \"5m\"\n[sdk]\nstats_min_interval = \"30s\"\n",
        FILE,
    )
    .expect("valid");
    assert_eq!(scenario.workload.start_spread_ms, 30_000);
    assert_eq!(
        parse_scenario(MINIMAL, FILE)
            .expect("valid")
            .workload
            .start_spread_ms,
        60_000
    );
}
