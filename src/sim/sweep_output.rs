//! A sweep's summary for machines: `sweep --json` (one JSON document) and `sweep --junit FILE`
//! (JUnit XML, one test case per file and seed), and the failures grouped by check for people
//! (docs/cli.md, "z0sim sweep").

use crate::sim::sweep::{AcrossSeeds, FileSummary, SeedResult, SweepSummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The version of `sweep --json`'s schema: raised when a field changes meaning or goes away.
pub const SWEEP_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct SweepJson<'a> {
    schema_version: u32,
    passed: bool,
    shard: Option<String>,
    runs: u64,
    failed: u64,
    jobs: usize,
    wall_ms: u64,
    files: Vec<FileJson<'a>>,
}

#[derive(Serialize)]
struct FileJson<'a> {
    path: &'a str,
    scenario: &'a str,
    seeds: String,
    passed: u64,
    failed: u64,
    /// Per counter: min, median and max across the seeds run.
    counters: BTreeMap<&'static str, Spread>,
    /// Per distribution: its p99 across seeds.
    distributions: BTreeMap<&'a str, SpreadJson>,
    results: Vec<SeedJson<'a>>,
}

#[derive(Serialize)]
struct Spread {
    min: u64,
    median: u64,
    max: u64,
}

#[derive(Serialize)]
struct SpreadJson {
    p99_p50: u64,
    p99_p99: u64,
    p99_max: u64,
    seeds: u64,
}

#[derive(Serialize)]
struct SeedJson<'a> {
    seed: u64,
    passed: bool,
    failed_checks: &'a [String],
    trace_hash: Option<&'a str>,
    repro: Option<&'a str>,
}

/// `sweep --json`: one JSON document.
pub fn to_json(summary: &SweepSummary) -> String {
    let document = SweepJson {
        schema_version: SWEEP_SCHEMA_VERSION,
        passed: summary.passed(),
        shard: summary.shard.map(|shard| shard.to_string()),
        runs: summary.runs(),
        failed: summary.failed(),
        jobs: summary.jobs,
        wall_ms: summary.wall_ms,
        files: summary.files.iter().map(file_json).collect(),
    };
    serde_json::to_string_pretty(&document)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}

fn file_json(file: &FileSummary) -> FileJson<'_> {
    FileJson {
        path: &file.path,
        scenario: &file.scenario,
        seeds: file.seeds.to_string(),
        passed: file.passed,
        failed: file.failed,
        counters: counter_spreads(&file.results),
        distributions: file
            .distributions
            .iter()
            .map(|(name, spread)| (name.as_str(), spread_json(spread)))
            .collect(),
        results: file
            .results
            .iter()
            .map(|result| SeedJson {
                seed: result.seed,
                passed: result.passed,
                failed_checks: &result.failures,
                trace_hash: result
                    .report
                    .as_ref()
                    .map(|report| report.trace_hash.as_str()),
                repro: (!result.passed).then_some(result.repro.as_str()),
            })
            .collect(),
    }
}

fn spread_json(spread: &AcrossSeeds) -> SpreadJson {
    SpreadJson {
        p99_p50: spread.p50,
        p99_p99: spread.p99,
        p99_max: spread.max,
        seeds: spread.seeds,
    }
}

/// Each counter's min, median (lower) and max across the runs that finished.
fn counter_spreads(results: &[SeedResult]) -> BTreeMap<&'static str, Spread> {
    let mut values: BTreeMap<&'static str, Vec<u64>> = BTreeMap::new();
    for report in results.iter().filter_map(|result| result.report.as_ref()) {
        for (name, value) in report.counters.named() {
            values.entry(name).or_default().push(value);
        }
    }
    values
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_unstable();
            let spread = Spread {
                min: values[0],
                median: values[(values.len() - 1) / 2],
                max: values[values.len() - 1],
            };
            (name, spread)
        })
        .collect()
}

/// `sweep --junit FILE`: JUnit XML, a test suite per file and a test case per seed; a failed
/// seed's failure lists the violated checks and the repro command.
pub fn to_junit(summary: &SweepSummary) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"z0sim sweep{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
        summary
            .shard
            .map_or(String::new(), |shard| format!(" shard {shard}")),
        summary.runs(),
        summary.failed(),
        summary.wall_ms as f64 / 1_000.0
    );
    for file in &summary.files {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            escape(&file.path),
            file.results.len(),
            file.failed
        );
        for result in &file.results {
            junit_case(&mut xml, file, result);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn junit_case(xml: &mut String, file: &FileSummary, result: &SeedResult) {
    let time_s = result
        .report
        .as_ref()
        .map_or(0.0, |report| report.wall_ms as f64 / 1_000.0);
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"seed {}\" time=\"{time_s:.3}\"",
        // The file's path: two files may share a scenario name.
        escape(&file.path),
        result.seed
    );
    if result.passed {
        xml.push_str("/>\n");
        return;
    }
    let message = result
        .failures
        .first()
        .map_or("failed", |failure| failure.as_str());
    let body = format!(
        "{}\nreproduce with: {}",
        result.failures.join("\n"),
        result.repro
    );
    let _ = writeln!(
        xml,
        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
        escape(message),
        escape(&body)
    );
}

/// `text` safe in XML text and attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no other control characters.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The failures grouped by file and check: `(file, check, seeds, first detail)`, in file order,
/// then check name order.
pub fn grouped_failures(summary: &SweepSummary) -> Vec<(&str, String, Vec<u64>, String)> {
    let mut groups = Vec::new();
    for file in &summary.files {
        let mut by_check: BTreeMap<String, (Vec<u64>, String)> = BTreeMap::new();
        for result in file.failures() {
            for failure in &result.failures {
                let (check, detail) = failure.split_once(": ").unwrap_or((failure.as_str(), ""));
                let entry = by_check
                    .entry(check.to_owned())
                    .or_insert_with(|| (Vec::new(), detail.to_owned()));
                if entry.0.last() != Some(&result.seed) {
                    entry.0.push(result.seed);
                }
            }
        }
        for (check, (seeds, detail)) in by_check {
            groups.push((file.path.as_str(), check, seeds, detail));
        }
    }
    groups
}
