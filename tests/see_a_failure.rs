//! Seeing, explaining and shrinking a failure (docs/cli.md): violations that name actors as
//! the trace does and explain themselves with the events before them, the timeline page,
//! `z0sim shrink`, repro lines that run from anywhere, and output that is byte-identical with
//! `--no-timing`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use z0sim::sim::run::{run_witnessed, RunOptions};
use z0sim::sim::scenario::{load_scenario, parse_scenario, Scenario};
use z0sim::sim::shrink::{shrink, ShrinkOptions, Size};
use z0sim::sim::witness::timeline;

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

fn load(name: &str) -> Scenario {
    load_scenario(&bundled(name)).expect("a bundled scenario loads")
}

/// The binary, started as a user starts it (not through cargo: the repro names the binary).
fn z0sim(args: &[&str], directory: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_z0sim"))
        .args(args)
        .current_dir(directory)
        .env_remove("CARGO")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("run the z0sim binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scenario that fails for sure without a planted bug: it expects breakers to open in a
/// run with no fault. Big enough to shrink.
const FAILS: &str = r#"
name = "fails"
duration = "10m"
[topology]
mode = "multi_tenant"
tenants = 3
entities_per_tenant = 8
[network]
packet_loss = 0.01
latency = ["1ms", "20ms"]
[[faults]]
kind = "packet_loss"
at = "1m"
duration = "2m"
rate = 0.05
[[faults]]
kind = "system_ledger_slow"
at = "4m"
duration = "1m"
extra_latency = "20ms"
[expect]
breaker_opened = true
"#;

#[test]
fn json_without_timing_is_byte_identical_between_two_runs() {
    let file = bundled("evictions.toml");
    let file = file.to_string_lossy();
    let args = ["run", &file, "--seed", "7", "--json", "--no-timing"];
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (first, second) = (z0sim(&args, here), z0sim(&args, here));
    assert!(!first.stdout.is_empty());
    assert_eq!(first.stdout, second.stdout);
    let json = text(&first.stdout);
    assert!(
        !json.contains("wall_ms") && !json.contains("speedup"),
        "{json}"
    );
    // With timing (the default) the wall-clock fields are there.
    let timed = z0sim(&["run", &file, "--seed", "7", "--json"], here);
    assert!(text(&timed.stdout).contains("\"wall_ms\""));
}

#[test]
fn a_repro_line_printed_in_one_directory_reproduces_the_failure_from_another() {
    let scenario_dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(scenario_dir.path().join("fails.toml"), FAILS).expect("write the scenario");
    let first = z0sim(&["run", "fails.toml", "--seed", "3"], scenario_dir.path());
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let report = text(&first.stdout);
    let repro = report
        .lines()
        .find_map(|line| line.strip_prefix("reproduce with: "))
        .expect("a failing run prints its repro line");
    assert!(
        repro.contains(&*scenario_dir.path().to_string_lossy()),
        "{repro}"
    );
    let elsewhere = tempfile::tempdir().expect("another directory");
    let again = Command::new("sh")
        .args(["-c", repro])
        .current_dir(elsewhere.path())
        .env_remove("CARGO")
        .env("NO_COLOR", "1")
        .output()
        .expect("run the repro line");
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    let hash = |report: &str| {
        report
            .split_whitespace()
            .skip_while(|word| *word != "trace")
            .nth(1)
            .map(str::to_owned)
    };
    assert_eq!(hash(&report), hash(&text(&again.stdout)));
}

#[test]
fn no_violation_of_any_bundled_scenario_names_an_actor_by_its_index() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names: Vec<PathBuf> = std::fs::read_dir(directory)
        .expect("the scenarios directory")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    names.sort();
    for path in names {
        let scenario = load_scenario(&path).expect("a bundled scenario loads");
        let options = RunOptions {
            explain_events: Some(8),
            ..RunOptions::default()
        };
        let (report, _) = run_witnessed(&scenario, 1, &options).expect("the run finishes");
        for check in &report.invariants {
            let words: Vec<&str> = check.detail.split_whitespace().collect();
            let indexed = words.iter().any(|word| {
                let word = word.trim_start_matches(['(', '[']);
                word.starts_with("#Some(")
                    || word.starts_with("#None")
                    || word
                        .strip_prefix('#')
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            });
            assert!(
                !indexed,
                "{}: {}: {}",
                path.display(),
                check.name,
                check.detail
            );
            assert!(
                !check.detail.contains(" ms"),
                "{}: {}",
                check.name,
                check.detail
            );
        }
    }
}

#[test]
fn a_violation_is_explained_by_the_fault_in_force_and_the_events_of_its_actors() {
    let scenario = load("queue-outage-defaults.toml");
    let options = RunOptions {
        explain_events: Some(8),
        ..RunOptions::default()
    };
    let (report, witnessed) = run_witnessed(&scenario, 1, &options).expect("the run finishes");
    let lost = report
        .invariants
        .iter()
        .find(|check| check.name == "tenant_payloads_conserved")
        .expect("the invariant is judged");
    assert!(
        !lost.passed,
        "the queue deletes payloads under its defaults"
    );
    assert!(
        lost.before
            .iter()
            .any(|line| line.starts_with("fault system_ledger_down on platform")),
        "{:#?}",
        lost.before
    );
    let events: Vec<&String> = lost
        .before
        .iter()
        .filter(|line| line.contains("tenant:0"))
        .collect();
    assert!(events.len() >= 3, "{:#?}", lost.before);
    assert!(lost
        .before
        .iter()
        .any(|line| line.contains("attempt flush t0/")));
    assert!(report.to_text().contains("before it:"));
    // Checks that held explain nothing.
    assert!(report
        .invariants
        .iter()
        .filter(|check| check.passed)
        .all(|check| check.before.is_empty()));
    let witnessed = witnessed.expect("the log was kept");
    assert_eq!(witnessed.focus.len(), report.invariants.len());
}

#[test]
fn the_timeline_is_one_self_contained_page_with_the_violation_marked() {
    let scenario = load("queue-outage-defaults.toml");
    let options = RunOptions {
        explain_events: Some(8),
        ..RunOptions::default()
    };
    let (report, witnessed) = run_witnessed(&scenario, 1, &options).expect("the run finishes");
    let page = timeline::render(&scenario, &report, &witnessed.expect("the log was kept"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg") && page.contains("</svg>"));
    assert!(!page.contains("<script") && !page.contains("src=") && !page.contains("href="));
    assert!(page.contains("class=\"violation\""));
    assert!(page.contains(">tenant_payloads_conserved</text>"));
    assert!(page.contains("fault system_ledger_down on platform"));
    assert!(page.contains("tenant:0 alarm and flushes"));
}

#[test]
fn shrinking_keeps_the_same_invariant_failing_in_a_smaller_scenario() {
    let scenario = parse_scenario(FAILS, "fails.toml").expect("the scenario parses");
    let options = ShrinkOptions {
        seed: 1,
        plant: None,
        invariant: None,
        extra_seeds: 3,
    };
    let mut steps = Vec::new();
    let shrunk = shrink(&scenario, &options, &mut |step| {
        steps.push(step.change.clone())
    })
    .expect("shrinking runs");
    assert_eq!(shrunk.invariant, "expect.breaker_opened");
    assert_eq!(shrunk.before, Size::of(&scenario));
    assert_eq!(shrunk.after, Size::of(&shrunk.scenario));
    assert_eq!(shrunk.after.faults, 0, "{steps:#?}");
    assert_eq!(shrunk.after.tenants, 1, "{steps:#?}");
    assert_eq!(shrunk.after.entities, 1, "{steps:#?}");
    assert!(shrunk.after.duration_ms < scenario.duration_ms);
    assert_eq!(shrunk.steps.len(), steps.len());
    // The written file fails the same way.
    let written = parse_scenario(&shrunk.scenario.to_toml(), "min.toml").expect("it parses");
    let (report, _) =
        run_witnessed(&written, shrunk.seed, &RunOptions::default()).expect("the run finishes");
    assert!(report
        .invariants
        .iter()
        .any(|check| check.name == "expect.breaker_opened" && !check.passed));
    assert_eq!(
        report
            .invariants
            .iter()
            .filter(|check| !check.passed)
            .count(),
        1,
        "only the shrunk check fails"
    );
}

#[test]
fn shrinking_a_run_where_nothing_fails_says_so() {
    let scenario = load("smoke.toml");
    let options = ShrinkOptions {
        seed: 1,
        plant: None,
        invariant: None,
        extra_seeds: 0,
    };
    let error = shrink(&scenario, &options, &mut |_| {}).expect_err("nothing fails");
    assert!(error.to_string().contains("nothing to shrink"), "{error}");
    for (invariant, wanted) in [
        ("stats_interval_respected", "stats_interval_respected holds"),
        // No faults: not judged, which is not a failure to shrink.
        (
            "breaker_recovers",
            "breaker_recovers was skipped (no faults)",
        ),
        (
            "breaker_recovres",
            "unknown check \"breaker_recovres\": expected one of",
        ),
    ] {
        let named = ShrinkOptions {
            invariant: Some(invariant.to_owned()),
            ..options.clone()
        };
        let error = shrink(&scenario, &named, &mut |_| {}).expect_err("nothing to shrink");
        assert!(error.to_string().contains(wanted), "{error}");
    }
}

#[test]
fn the_trace_has_alarms_queue_batches_and_simulated_time_on_every_line() {
    let file = bundled("multi-tenant-queue.toml");
    let file = file.to_string_lossy();
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let traced = z0sim(&["run", &file, "--trace"], here);
    let log = text(&traced.stderr);
    for wanted in [
        "alarm set",
        "alarm handler runs",
        "queue batch delivered",
        "queue batch settled",
    ] {
        assert!(log.contains(wanted), "no {wanted:?} in the trace");
    }
    for line in log.lines().filter(|line| !line.trim().is_empty()) {
        let stamp = line.split_whitespace().next().unwrap_or_default();
        let stamped = stamp
            .strip_suffix('s')
            .and_then(|number| number.split_once('.'))
            .is_some_and(|(seconds, millis)| {
                seconds.parse::<u64>().is_ok() && millis.len() == 3 && millis.parse::<u64>().is_ok()
            });
        assert!(stamped, "a line without simulated time: {line}");
    }
}

/// The restarts of a run: `(actor, ms)` of every start after the first of each actor.
fn restarts(witnessed: &z0sim::sim::run::Witnessed) -> Vec<(String, u64)> {
    use z0sim::sim::witness::events::What;
    let mut started = std::collections::BTreeSet::new();
    let mut restarts = Vec::new();
    for event in witnessed.log.events() {
        if event.what == What::Started && !started.insert(event.actor) {
            restarts.push((witnessed.names[event.actor].clone(), event.at_ms));
        }
    }
    restarts.sort();
    restarts
}

#[test]
fn an_exported_scenario_restarts_the_same_entities_at_the_same_times_under_another_seed() {
    let scenario = load("evictions.toml");
    let options = RunOptions {
        explain_events: Some(8),
        ..RunOptions::default()
    };
    let (report, witnessed) = run_witnessed(&scenario, 3, &options).expect("the run finishes");
    let witnessed = witnessed.expect("the log was kept");
    let exported =
        z0sim::sim::export::export(&scenario, 3, &witnessed.fault_picks, &witnessed.names);
    let text = exported.to_toml();
    assert!(text.contains("kind = \"evict_entities\"") && !text.contains("kind = \"evict\""));
    let exported = parse_scenario(&text, "exported.toml").expect("the export is a valid scenario");
    let original_restarts = restarts(&witnessed);
    assert_eq!(original_restarts.len() as u64, report.counters.restarts);
    for seed in [11, 12] {
        let (again, again_witnessed) =
            run_witnessed(&exported, seed, &options).expect("the run finishes");
        assert_eq!(
            restarts(&again_witnessed.expect("kept")),
            original_restarts,
            "seed {seed}"
        );
        assert_eq!(again.counters.restarts, report.counters.restarts);
        // What the restarts lose depends on the seed's workload, but they lose something.
        assert!(again.counters.lost_on_restart > 0);
    }
}

#[test]
fn explicit_entity_lists_are_validated_with_the_names_that_exist() {
    let with = |fault: &str| {
        let text = format!(
            "name = \"x\"\nduration = \"5m\"\n[topology]\nmode = \"multi_tenant\"\ntenants = 2\nentities_per_tenant = 3\n[[faults]]\nat = \"1m\"\nduration = \"1m\"\n{fault}\n"
        );
        parse_scenario(&text, "x.toml")
            .map(|_| ())
            .map_err(|error| error.to_string())
    };
    assert_eq!(
        with("kind = \"evict_entities\"\nentities = [\"entity:t1/account-2\"]"),
        Ok(())
    );
    assert_eq!(
        with("kind = \"misroute_entities\"\nentities = [\"entity:t0/account-0\"]"),
        Ok(())
    );
    for (fault, wanted) in [
        ("kind = \"evict_entities\"\nentities = []", "at least one entity"),
        ("kind = \"evict_entities\"\nentities = [\"entity:t0/account-3\"]", "numbered from 0 to 2"),
        ("kind = \"evict_entities\"\nentities = [\"entity:t2/account-0\"]", "there are 2 tenants"),
        ("kind = \"evict_entities\"\nentities = [\"entity:t0/asset-0\"]", "no entity type \"asset\""),
        ("kind = \"evict_entities\"\nentities = [\"system\"]", "expected an entity's actor name"),
        (
            "kind = \"evict_entities\"\nentities = [\"entity:t0/account-1\", \"entity:t0/account-1\"]",
            "listed twice",
        ),
        ("kind = \"misroute_entities\"\nentities = [\"entity:t1/account-0\"]", "expected one of tenant t0's"),
        ("kind = \"evict_entities\"", "entities"),
    ] {
        let error = with(fault).expect_err(fault);
        assert!(error.contains(wanted), "{fault}: {error}");
        assert!(error.contains("faults[0]"), "{fault}: {error}");
    }
}
