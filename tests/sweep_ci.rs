//! Sweeps for CI (docs/cli.md, "z0sim sweep"): `--shard K/N` partitions the runs so that N
//! machines cover a sweep exactly once, `--junit` writes JUnit XML with one test case per run,
//! `--json` one document, and the text summary groups identical failures.

use std::collections::BTreeSet;
use std::num::NonZeroUsize;
use std::process::Command;
use z0sim::sim::parse_scenario;
use z0sim::sim::shard::Shard;
use z0sim::sim::swarm::swarm;
use z0sim::sim::sweep::{sweep, SeedRange, SweepFile, SweepSummary};
use z0sim::sim::sweep_output::{grouped_failures, to_json, to_junit};

fn tiny(name: &str, expect: &str) -> SweepFile {
    let text = format!(
        "name = \"{name}\"\nduration = \"2m\"\n[topology]\nentities_per_tenant = 2\n[expect]\n{expect}\n"
    );
    let scenario = parse_scenario(&text, "tiny.toml").expect("the scenario parses");
    SweepFile::new(format!("{name}.toml"), scenario, SeedRange::new(1, 10))
}

fn files() -> Vec<SweepFile> {
    vec![
        tiny("passes", "cache_hits = true"),
        // Breakers never open without faults: every seed fails this.
        tiny("fails", "breaker_opened = true\nrestarts = { min = 1 }"),
    ]
}

fn run(shard: Option<Shard>) -> SweepSummary {
    sweep(
        &files(),
        NonZeroUsize::new(2).expect("2 > 0"),
        shard,
        &|_| {},
    )
}

fn runs(summary: &SweepSummary) -> Vec<(String, u64)> {
    summary
        .files
        .iter()
        .flat_map(|file| {
            file.results
                .iter()
                .map(|result| (file.path.clone(), result.seed))
        })
        .collect()
}

#[test]
fn three_shards_cover_the_sweep_exactly_once() {
    let whole: BTreeSet<(String, u64)> = runs(&run(None)).into_iter().collect();
    assert_eq!(whole.len(), 20);
    let mut covered = Vec::new();
    for index in 1..=3 {
        let shard = Shard::new(index, 3).expect("a valid shard");
        let part = run(Some(shard));
        assert_eq!(part.shard, Some(shard));
        let part_runs = runs(&part);
        assert!(
            (6..=7).contains(&part_runs.len()),
            "balanced: {part_runs:?}"
        );
        covered.extend(part_runs);
    }
    assert_eq!(covered.len(), whole.len(), "no run twice");
    assert_eq!(covered.into_iter().collect::<BTreeSet<_>>(), whole);
}

#[test]
fn swarm_shards_cover_the_seeds_exactly_once() {
    let seeds = SeedRange::new(1, 8).expect("a range");
    let jobs = NonZeroUsize::MIN;
    let mut covered = Vec::new();
    for index in 1..=3 {
        let shard = Shard::new(index, 3);
        let summary = swarm(seeds, jobs, None, shard, &|_| {});
        covered.extend(summary.seeds.iter().map(|seed| seed.seed));
    }
    covered.sort_unstable();
    assert_eq!(covered, (1..=8).collect::<Vec<u64>>());
}

#[test]
fn the_junit_file_parses_and_has_one_test_case_per_run() {
    let summary = run(None);
    let xml = to_junit(&summary);
    let document = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("20"));
    assert_eq!(root.attribute("failures"), Some("10"));
    let cases: Vec<roxmltree::Node> = root
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 20);
    let failures: Vec<roxmltree::Node> = cases
        .iter()
        .filter_map(|case| case.children().find(|child| child.has_tag_name("failure")))
        .collect();
    assert_eq!(failures.len(), 10);
    for failure in failures {
        let text = failure.text().unwrap_or_default();
        assert!(text.contains("expect.breaker_opened"), "{text}");
        assert!(text.contains("reproduce with: "), "{text}");
        assert!(failure
            .attribute("message")
            .is_some_and(|m| m.starts_with("expect.")));
    }
}

#[test]
fn the_json_document_has_every_run_and_counter_spreads() {
    let summary = run(Some(Shard::new(1, 2).expect("a shard")));
    let json: serde_json::Value = serde_json::from_str(&to_json(&summary)).expect("valid JSON");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["shard"], "1/2");
    assert_eq!(json["runs"], 10);
    let fails = &json["files"][1];
    assert_eq!(fails["scenario"], "fails");
    let result = &fails["results"][0];
    assert_eq!(result["passed"], false);
    assert!(result["repro"]
        .as_str()
        .is_some_and(|repro| repro.contains("--seed")));
    assert!(result["failed_checks"][0]
        .as_str()
        .is_some_and(|check| check.starts_with("expect.breaker_opened")));
    let hits = &json["files"][0]["counters"]["cache_hits"];
    assert!(hits["min"].as_u64() <= hits["median"].as_u64());
    assert!(hits["median"].as_u64() <= hits["max"].as_u64());
    assert!(hits["max"].as_u64() > Some(0));
}

#[test]
fn identical_failures_are_grouped_with_their_seeds() {
    let summary = run(None);
    let groups = grouped_failures(&summary);
    let checks: Vec<(&str, &str, usize)> = groups
        .iter()
        .map(|(file, check, seeds, _)| (*file, check.as_str(), seeds.len()))
        .collect();
    assert_eq!(
        checks,
        vec![
            ("fails.toml", "expect.breaker_opened", 10),
            ("fails.toml", "expect.restarts", 10)
        ]
    );
    assert!(groups[0].3.contains("expected > 0"));
}

#[test]
fn bad_shards_and_unwritable_junit_files_exit_2() {
    let smoke = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.toml");
    for args in [
        vec!["sweep", smoke, "--shard", "4/3"],
        vec!["sweep", smoke, "--shard", "0/3"],
        vec!["sweep", smoke, "--shard", "two"],
        vec!["swarm", "--seeds", "1..3", "--shard", "1/0"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_z0sim"))
            .args(&args)
            .output()
            .expect("run the binary");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("expected K/N"), "{args:?}: {stderr}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_z0sim"))
        .args([
            "sweep",
            smoke,
            "--seeds",
            "1..1",
            "--junit",
            "/nonexistent-dir/j.xml",
        ])
        .output()
        .expect("run the binary");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write the JUnit file"));
}
