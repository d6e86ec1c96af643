//! Overlapping faults (docs/model.md, "Faults"): a target is down, slow, overloaded,
//! partitioned or failing while any fault of that kind covers it, and the end of one fault
//! never lifts another's effect. Two overlapping faults of a kind give the same run, counter for
//! counter and verdict for verdict, as one fault covering their union.

use z0sim::sim::{parse_scenario, run, Report, RunOptions};

/// A multi-tenant fleet with the queue, so that every fault kind has something to hit.
const FLEET: &str = r#"
name = "overlap"
duration = "15m"
[topology]
mode = "multi_tenant"
tenants = 2
entities_per_tenant = 5
platform_sink = "queue"
[queue]
retry_delay = "30s"
max_retries = 20
"#;

fn fault(kind_and_params: &str, at: &str, duration: &str) -> String {
    format!("[[faults]]\n{kind_and_params}\nat = \"{at}\"\nduration = \"{duration}\"\n")
}

fn report(text: &str, seed: u64) -> Report {
    let scenario = parse_scenario(text, "overlap.toml").unwrap_or_else(|error| panic!("{error}"));
    run(&scenario, seed, &RunOptions::default()).unwrap_or_else(|error| panic!("{error}"))
}

/// Everything a run reports except what names its faults (labels go into the trace hash).
fn outcome(report: &Report) -> String {
    let counters = serde_json::to_string(&report.counters).expect("counters serialise");
    let verdicts: Vec<(String, bool)> = report
        .invariants
        .iter()
        .map(|invariant| (invariant.name.clone(), invariant.passed))
        .collect();
    format!("{counters} {verdicts:?} {:?}", report.end)
}

#[test]
fn two_overlapping_faults_of_a_kind_are_one_fault_over_their_union() {
    let kinds = [
        "kind = \"system_ledger_down\"",
        "kind = \"system_ledger_down\"\ntarget = \"platform\"",
        "kind = \"system_ledger_overloaded\"\nrate = 0.5",
        "kind = \"system_ledger_slow\"\nextra_latency = \"300ms\"",
        "kind = \"partition\"\nbetween = [\"entities\", \"tenant:0\"]",
        "kind = \"packet_loss\"\nrate = 0.2",
        "kind = \"alarm_failure\"\nrate = 0.5",
        "kind = \"queue_duplicate\"\nrate = 0.5",
        "kind = \"queue_consumer_failure\"\nrate = 0.5",
        "kind = \"hostile_facts\"\nrate = 0.2",
    ];
    for kind in kinds {
        let overlapping = format!(
            "{FLEET}{}{}",
            fault(kind, "3m", "5m"),
            fault(kind, "5m", "5m")
        );
        let union = format!("{FLEET}{}", fault(kind, "3m", "7m"));
        for seed in 1..=2 {
            let (overlapping, union) = (report(&overlapping, seed), report(&union, seed));
            assert_eq!(
                outcome(&overlapping),
                outcome(&union),
                "{kind}, seed {seed}"
            );
        }
    }
}

#[test]
fn a_fault_inside_another_ends_without_lifting_it() {
    let kind = "kind = \"system_ledger_down\"";
    let nested = format!(
        "{FLEET}{}{}",
        fault(kind, "3m", "7m"),
        fault(kind, "4m", "1m")
    );
    let single = format!("{FLEET}{}", fault(kind, "3m", "7m"));
    let (nested, single) = (report(&nested, 1), report(&single, 1));
    assert_eq!(outcome(&nested), outcome(&single));
    assert_eq!(
        nested.counters.restarts, 2,
        "each tenant ledger comes back once, at 10 min"
    );
}
