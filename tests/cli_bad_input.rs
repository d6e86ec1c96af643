//! The command line on unusable input: every bad scenario file is exit code 2 with a message
//! naming the file and the line and column (or the key) and what was expected, never a panic.
//!
//! Specification: `docs/scenarios.md` (what errors look like) and `docs/cli.md` (exit codes).
//! Each test writes its scenario to a file of its own in the temporary
//! directory and runs the built binary on it with both `z0sim check` and `z0sim run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// ------------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------------

/// A scenario file in the temporary directory, removed when dropped.
struct TempScenario {
    path: PathBuf,
}

impl TempScenario {
    /// Writes `contents` to a file whose name is unique to this test and this process.
    fn new(test: &str, contents: &[u8]) -> Self {
        let path = Self::path_for(test);
        std::fs::write(&path, contents).expect("write the scenario file");
        Self { path }
    }

    /// The path a scenario of `test` would have (the file is not created).
    fn path_for(test: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "z0sim-cli-bad-input-{}-{test}.toml",
            std::process::id()
        ))
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// The file name as the binary prints it.
    fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TempScenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs the built binary with `args`.
fn z0sim<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_z0sim"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the z0sim binary")
}

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A bundled scenario file.
fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// Where an error message must point.
enum At<'a> {
    /// `FILE:LINE:COLUMN: ` (syntax, type, unknown key, encoding).
    LineCol(usize, usize),
    /// `FILE: key `KEY`: ` (a value that parsed but makes no sense).
    Key(&'a str),
    /// `FILE: ` only (the file could not be read).
    File,
}

impl At<'_> {
    fn prefix(&self, file: &str) -> String {
        match self {
            At::LineCol(line, column) => format!("{file}:{line}:{column}: "),
            At::Key(key) => format!("{file}: key `{key}`: "),
            At::File => format!("{file}: "),
        }
    }
}

/// Asserts that `output` is unusable input: exit code 2, no panic, nothing on standard output,
/// and standard error names `file` where `at` says and contains every one of `expected`.
fn assert_unusable(what: &str, output: &Output, file: &str, at: &At<'_>, expected: &[&str]) {
    let stdout = stdout_of(output);
    let stderr = stderr_of(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{what}: expected exit code 2\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "{what}: the binary panicked\nstderr:\n{stderr}"
    );
    assert!(
        stdout.is_empty(),
        "{what}: expected nothing on standard output, got:\n{stdout}"
    );
    let prefix = at.prefix(file);
    assert!(
        stderr.contains(&prefix),
        "{what}: expected standard error to contain {prefix:?}, got:\n{stderr}"
    );
    for part in expected {
        assert!(
            stderr.contains(part),
            "{what}: expected standard error to contain {part:?}, got:\n{stderr}"
        );
    }
}

/// Writes `contents` as the scenario of `test` and asserts that both `z0sim check FILE` and
/// `z0sim run FILE` reject it as unusable input (see [`assert_unusable`]).
fn assert_rejected(test: &str, contents: &[u8], at: At<'_>, expected: &[&str]) {
    let scenario = TempScenario::new(test, contents);
    let file = scenario.shown();
    for command in ["check", "run"] {
        let output = z0sim([command.as_ref(), scenario.path().as_os_str()]);
        assert_unusable(&format!("z0sim {command}"), &output, &file, &at, expected);
    }
}

/// A minimal valid file followed by `rest`.
fn minimal_with(rest: &str) -> Vec<u8> {
    format!("name = \"bad-input\"\nduration = \"5m\"\n{rest}").into_bytes()
}

/// `len` deterministic pseudo-random bytes (a fixed linear congruential generator).
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

/// The counters every `--json` report carries (docs/cli.md).
const CONTRACT_COUNTERS: [&str; 14] = [
    "cache_hits",
    "cache_misses",
    "sdk_facts_emitted",
    "sdk_facts_delivered",
    "dropped_breaker_open",
    "dropped_delivery_failed",
    "lost_on_restart",
    "breaker_opened",
    "breaker_closed",
    "fallback_warnings",
    "primary_ops_failed",
    "errors_surfaced",
    "tenant_payloads_delivered",
    "rejected_cross_tenant",
];

// ------------------------------------------------------------------------------------------------
// Bad scenario files: `check` and `run`
// ------------------------------------------------------------------------------------------------

#[test]
fn broken_toml_syntax_is_reported_at_its_line_and_column() {
    assert_rejected(
        "broken-syntax",
        &minimal_with("[topology\nmode = \"single\"\n"),
        At::LineCol(3, 10),
        &["unclosed table", "expected `]`"],
    );
}

#[test]
fn an_unknown_top_level_key_is_reported_with_the_keys_expected() {
    assert_rejected(
        "unknown-top-level-key",
        &minimal_with("colour = \"red\"\n"),
        At::LineCol(3, 1),
        &[
            "unknown field `colour`",
            "expected one of",
            "`duration`",
            "`topology`",
            "`faults`",
        ],
    );
}

#[test]
fn an_unknown_key_inside_sdk_is_reported_with_the_keys_expected() {
    assert_rejected(
        "unknown-sdk-key",
        &minimal_with("[sdk]\nfallback_on_failures = true\n"),
        At::LineCol(4, 1),
        &[
            "unknown field `fallback_on_failures`",
            "expected one of",
            "`fallback_on_failure`",
            "`breaker`",
        ],
    );
}

#[test]
fn a_string_where_an_integer_belongs_is_a_type_error_at_its_position() {
    assert_rejected(
        "string-for-integer",
        &minimal_with("[topology]\nentities_per_tenant = \"twenty\"\n"),
        At::LineCol(4, 23),
        &["invalid type", "string \"twenty\"", "expected an integer"],
    );
}

#[test]
fn a_string_where_a_float_belongs_is_a_type_error_at_its_position() {
    assert_rejected(
        "string-for-float",
        &minimal_with("[workload]\nhit_ratio = \"high\"\n"),
        At::LineCol(4, 13),
        &["invalid type", "string \"high\"", "expected a number"],
    );
}

#[test]
fn a_duration_without_a_unit_is_rejected_with_examples() {
    assert_rejected(
        "duration-without-unit",
        b"name = \"bad-input\"\nduration = \"30\"\n",
        At::Key("duration"),
        &["expected a duration with a unit", "\"30s\"", "got \"30\""],
    );
}

#[test]
fn a_duration_spelled_in_words_is_rejected_with_examples() {
    assert_rejected(
        "duration-in-words",
        b"name = \"bad-input\"\nduration = \"five minutes\"\n",
        At::Key("duration"),
        &[
            "expected a duration with a unit",
            "\"5m\"",
            "got \"five minutes\"",
        ],
    );
}

#[test]
fn a_duration_with_an_unknown_unit_is_rejected_with_examples() {
    assert_rejected(
        "duration-unknown-unit",
        b"name = \"bad-input\"\nduration = \"5 parsecs\"\n",
        At::Key("duration"),
        &["expected a duration with a unit", "got \"5 parsecs\""],
    );
}

#[test]
fn a_bare_number_as_a_duration_is_rejected_with_examples() {
    assert_rejected(
        "duration-bare-number",
        b"name = \"bad-input\"\nduration = 30\n",
        At::Key("duration"),
        &["expected a duration with a unit", "\"250ms\"", "30"],
    );
}

#[test]
fn a_hit_ratio_above_one_is_rejected_with_the_range() {
    assert_rejected(
        "hit-ratio-above-one",
        &minimal_with("[workload]\nhit_ratio = 1.5\n"),
        At::Key("workload.hit_ratio"),
        &["expected a number from 0.0 to 1.0", "got 1.5"],
    );
}

#[test]
fn a_negative_packet_loss_is_rejected_with_the_range() {
    assert_rejected(
        "packet-loss-negative",
        &minimal_with("[network]\npacket_loss = -0.1\n"),
        At::Key("network.packet_loss"),
        &["expected a number from 0.0 to 1.0", "got -0.1"],
    );
}

#[test]
fn zero_entities_per_tenant_is_rejected_with_the_range() {
    assert_rejected(
        "zero-entities",
        &minimal_with("[topology]\nentities_per_tenant = 0\n"),
        At::Key("topology.entities_per_tenant"),
        &["must be between 1 and", "got 0"],
    );
}

#[test]
fn an_unknown_fault_kind_is_reported_with_the_kinds_expected() {
    assert_rejected(
        "unknown-fault-kind",
        &minimal_with("[[faults]]\nkind = \"meteor_strike\"\nat = \"1m\"\nduration = \"1m\"\n"),
        At::LineCol(4, 8),
        &[
            "unknown variant `meteor_strike`",
            "expected one of",
            "`system_ledger_down`",
            "`partition`",
            "`queue_consumer_failure`",
        ],
    );
}

#[test]
fn an_unknown_partition_group_is_reported_with_the_groups_expected() {
    assert_rejected(
        "unknown-partition-group",
        &minimal_with(
            "[[faults]]\nkind = \"partition\"\nat = \"1m\"\nduration = \"1m\"\n\
             between = [\"entities\", \"moon\"]\n",
        ),
        At::Key("faults[0].between"),
        &[
            "expected \"entities\", \"system\", \"system:<n>\", \"tenant:<n>\" or \"platform\"",
            "got \"moon\"",
        ],
    );
}

#[test]
fn a_fault_that_starts_at_the_runs_end_is_rejected() {
    assert_rejected(
        "fault-at-end",
        &minimal_with(
            "[[faults]]\nkind = \"system_ledger_down\"\nat = \"5m\"\nduration = \"1m\"\n",
        ),
        At::Key("faults[0].at"),
        &[
            "starts at or after the run's end",
            // In the units written, not milliseconds.
            "expected a time before the run's duration (5m)",
            "got 5m",
        ],
    );
}

#[test]
fn a_fault_that_starts_after_the_runs_end_is_rejected() {
    assert_rejected(
        "fault-after-end",
        &minimal_with(
            "[[faults]]\nkind = \"system_ledger_down\"\nat = \"6m\"\nduration = \"1m\"\n",
        ),
        At::Key("faults[0].at"),
        &[
            "starts at or after the run's end",
            "expected a time before the run's duration (5m)",
            "got 6m",
        ],
    );
}

#[test]
fn binary_garbage_is_rejected_as_not_utf8_at_its_first_byte() {
    let mut garbage = vec![0xFF, 0xFE, 0x00, 0x80];
    garbage.extend(noise(4096, 0x5EED));
    assert_rejected(
        "binary-garbage",
        &garbage,
        At::LineCol(1, 1),
        &["expected UTF-8 text", "invalid byte at offset 0"],
    );
}

#[test]
fn binary_garbage_after_valid_lines_is_reported_where_it_starts() {
    let mut text = minimal_with("");
    let offset = text.len();
    text.push(0xC3);
    text.extend(noise(512, 7));
    assert_rejected(
        "garbage-after-text",
        &text,
        At::LineCol(3, 1),
        &[
            "expected UTF-8 text",
            &format!("invalid byte at offset {offset}"),
        ],
    );
}

#[test]
fn too_many_tenants_is_rejected_with_the_limit() {
    assert_rejected(
        "too-many-tenants",
        &minimal_with("[topology]\nmode = \"multi_tenant\"\ntenants = 100000\n"),
        At::Key("topology.tenants"),
        &["must be between 1 and 10000", "got 100000"],
    );
}

#[test]
fn too_many_entities_in_total_is_rejected_with_the_limit() {
    assert_rejected(
        "too-many-entities-in-total",
        &minimal_with(
            "[topology]\nmode = \"multi_tenant\"\ntenants = 100\nentities_per_tenant = 20000\n",
        ),
        At::Key("topology.entities_per_tenant"),
        &[
            "tenants * entities_per_tenant = 2000000 entities",
            "at most 1000000 in total",
        ],
    );
}

#[test]
fn too_many_entities_for_one_tenant_is_rejected_with_the_limit() {
    assert_rejected(
        "too-many-entities-one-tenant",
        &minimal_with("[topology]\nentities_per_tenant = 1000001\n"),
        At::Key("topology.entities_per_tenant"),
        &["1000000", "got 1000001"],
    );
}

#[test]
fn a_missing_file_is_reported_as_unreadable() {
    let path = TempScenario::path_for("missing-file");
    let _ = std::fs::remove_file(&path);
    let file = path.display().to_string();
    for command in ["check", "run"] {
        let output = z0sim([command.as_ref(), path.as_os_str()]);
        assert_unusable(
            &format!("z0sim {command}"),
            &output,
            &file,
            &At::File,
            &["cannot read the file"],
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Other command lines
// ------------------------------------------------------------------------------------------------

#[test]
fn run_json_on_a_bad_file_exits_2_and_prints_nothing_on_stdout() {
    let scenario = TempScenario::new(
        "json-bad-file",
        &minimal_with("[workload]\nhit_ratio = 1.5\n"),
    );
    let output = z0sim([
        "run".as_ref(),
        scenario.path().as_os_str(),
        "--json".as_ref(),
    ]);
    assert_unusable(
        "z0sim run --json",
        &output,
        &scenario.shown(),
        &At::Key("workload.hit_ratio"),
        &["expected a number from 0.0 to 1.0"],
    );

    let missing = TempScenario::path_for("json-missing-file");
    let _ = std::fs::remove_file(&missing);
    let output = z0sim(["run".as_ref(), missing.as_os_str(), "--json".as_ref()]);
    assert_unusable(
        "z0sim run --json (missing file)",
        &output,
        &missing.display().to_string(),
        &At::File,
        &["cannot read the file"],
    );
}

#[cfg(not(feature = "planted-bugs"))]
#[test]
fn run_with_a_plant_without_the_planted_bugs_feature_names_the_feature() {
    let output = z0sim([
        "run".as_ref(),
        bundled("smoke.toml").as_os_str(),
        "--plant".as_ref(),
        "x".as_ref(),
    ]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    assert!(output.stdout.is_empty(), "stdout:\n{}", stdout_of(&output));
    assert!(
        stderr.contains("--plant x") && stderr.contains("--features planted-bugs"),
        "expected the message to name the plant and the feature, got:\n{stderr}"
    );
}

/// Asserts a command line rejected before anything runs: exit code 2, no panic, nothing on
/// standard output, and standard error containing every one of `expected`.
fn assert_bad_arguments(args: &[&str], expected: &[&str]) {
    let output = z0sim(args);
    let stderr = stderr_of(&output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "z0sim {args:?}: expected exit code 2\nstderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    assert!(output.stdout.is_empty(), "stdout:\n{}", stdout_of(&output));
    for part in expected {
        assert!(
            stderr.contains(part),
            "z0sim {args:?}: expected standard error to contain {part:?}, got:\n{stderr}"
        );
    }
}

#[test]
fn sweep_with_an_empty_seed_range_exits_2() {
    let smoke = bundled("smoke.toml");
    let smoke = smoke.to_str().expect("a UTF-8 path");
    assert_bad_arguments(
        &["sweep", smoke, "--seeds", "5..2"],
        &["--seeds", "5..2", "empty"],
    );
}

#[test]
fn sweep_with_zero_jobs_exits_2() {
    let smoke = bundled("smoke.toml");
    let smoke = smoke.to_str().expect("a UTF-8 path");
    assert_bad_arguments(&["sweep", smoke, "--jobs", "0"], &["--jobs", "at least 1"]);
}

#[test]
fn sweep_with_a_bad_file_exits_2_and_runs_nothing() {
    let scenario = TempScenario::new(
        "sweep-bad-file",
        &minimal_with("[network]\npacket_loss = -0.1\n"),
    );
    let smoke = bundled("smoke.toml");
    let output = z0sim([
        "sweep".as_ref(),
        smoke.as_os_str(),
        scenario.path().as_os_str(),
        "--seeds".as_ref(),
        "1..2".as_ref(),
        "--jobs".as_ref(),
        "1".as_ref(),
    ]);
    assert_unusable(
        "z0sim sweep",
        &output,
        &scenario.shown(),
        &At::Key("network.packet_loss"),
        &["expected a number from 0.0 to 1.0", "nothing was run"],
    );
}

// ------------------------------------------------------------------------------------------------
// A good file
// ------------------------------------------------------------------------------------------------

#[test]
fn run_on_the_smoke_scenario_passes_and_its_json_has_the_contract_fields() {
    let smoke = bundled("smoke.toml");

    let output = z0sim(["run".as_ref(), smoke.as_os_str()]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    assert!(
        stdout_of(&output).contains("PASSED"),
        "stdout:\n{}",
        stdout_of(&output)
    );

    let output = z0sim(["run".as_ref(), smoke.as_os_str(), "--json".as_ref()]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    let stdout = stdout_of(&output);
    // One JSON object and nothing else on standard output.
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|error| panic!("stdout is not one JSON value ({error}):\n{stdout}"));
    let object = report.as_object().expect("the report is a JSON object");

    assert_eq!(report["scenario"], "smoke");
    assert_eq!(report["seed"], 1);
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["sim_time_ms"], 600_000,
        "smoke.toml runs ten minutes"
    );
    assert!(report["wall_ms"].is_u64(), "wall_ms: {}", report["wall_ms"]);
    assert!(
        report["events"].as_u64().is_some_and(|events| events > 0),
        "events: {}",
        report["events"]
    );
    assert!(
        report["trace_hash"]
            .as_str()
            .is_some_and(|hash| !hash.is_empty()),
        "trace_hash: {}",
        report["trace_hash"]
    );

    let invariants = report["invariants"]
        .as_array()
        .expect("invariants is an array");
    assert!(!invariants.is_empty(), "no invariants in the report");
    for invariant in invariants {
        assert!(invariant["name"].is_string(), "invariant: {invariant}");
        assert_eq!(invariant["passed"], true, "invariant: {invariant}");
        assert!(invariant["detail"].is_string(), "invariant: {invariant}");
    }

    let counters = report["counters"]
        .as_object()
        .expect("counters is an object");
    for name in CONTRACT_COUNTERS {
        assert!(
            counters.get(name).is_some_and(serde_json::Value::is_u64),
            "counter {name} missing or not a whole number in {counters:?}"
        );
    }
    assert!(counters["sdk_facts_delivered"].as_u64() > Some(0));
    assert_eq!(counters["breaker_opened"], 0);

    let delivery = &report["latency_ms"]["delivery"];
    for field in ["p50", "p99", "max"] {
        assert!(
            delivery[field].is_number(),
            "latency_ms.delivery.{field} missing in {delivery}"
        );
    }
    assert!(
        delivery["p50"].as_f64() <= delivery["p99"].as_f64()
            && delivery["p99"].as_f64() <= delivery["max"].as_f64(),
        "latency_ms.delivery not ordered: {delivery}"
    );
    for key in [
        "scenario",
        "seed",
        "passed",
        "sim_time_ms",
        "wall_ms",
        "events",
        "trace_hash",
        "invariants",
        "counters",
        "latency_ms",
    ] {
        assert!(object.contains_key(key), "missing field {key}");
    }
}
