//! The command line's event log: `z0sim run FILE --trace` prints the simulation's events on
//! stderr through tracing-subscriber, and `RUST_LOG` selects them too (`docs/cli.md`). Found
//! silent: the layer counting fallback warnings disabled every other callsite, the event log's
//! included.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn z0sim(args: &[&str], rust_log: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_z0sim"));
    command.args(args).env_remove("RUST_LOG");
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    command.output().expect("run the z0sim binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The report's `trace ...` hash, from its second line.
fn trace_hash(report: &str) -> String {
    report
        .split_whitespace()
        .skip_while(|word| *word != "trace")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn trace_prints_the_event_log_on_stderr_and_leaves_the_run_unchanged() {
    let smoke = bundled("smoke.toml");
    let smoke = smoke.to_string_lossy();
    let plain = z0sim(&["run", &smoke], None);
    let traced = z0sim(&["run", &smoke, "--trace"], None);
    assert!(plain.status.success() && traced.status.success());
    assert!(plain.stderr.is_empty(), "{}", text(&plain.stderr));
    let log = text(&traced.stderr);
    let events = log
        .lines()
        .filter(|line| line.contains("z0sim::trace"))
        .count();
    assert!(events > 100, "{events} event lines:\n{log}");
    assert!(log.contains(" start ") && log.contains("request handled"));
    let (plain, traced) = (text(&plain.stdout), text(&traced.stdout));
    assert!(!trace_hash(&plain).is_empty());
    assert_eq!(trace_hash(&plain), trace_hash(&traced));
}

#[test]
fn rust_log_shows_every_fallback_warning_the_report_counts() {
    let outage = bundled("system-ledger-outage.toml");
    let output = z0sim(
        &["run", &outage.to_string_lossy(), "--json"],
        Some("z0sim::fallback=warn"),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON report");
    let counted = report["counters"]["fallback_warnings"]
        .as_u64()
        .expect("the counter");
    let shown = text(&output.stderr)
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("z0sim::fallback"))
        .count() as u64;
    assert!(counted > 0);
    assert_eq!(shown, counted);
}
