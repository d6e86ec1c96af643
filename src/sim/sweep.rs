//! Sweeps: many seeds of many scenario files on parallel workers (docs/cli.md, `z0sim sweep`).
//!
//! [`sweep`] takes scenarios that are already loaded, each with its seed range, and a worker
//! count, runs every `(file, seed)` pair and returns a [`SweepSummary`]. Workers are plain std threads that pull
//! jobs from a shared queue (an atomic index into the job list); each [`run`] already executes
//! its simulation on a fresh thread of its own. Results are stored by job index, so the summary
//! lists files in the order given and seeds in ascending order whichever worker finished first.
//! Nothing here prints: progress goes through a callback.
//!
//! Decisions (the scenario format leaves these open):
//! - `--seeds A..B` includes both ends (`1..8` is eight seeds); a single number `N` means `N..N`.
//!   Without a range each file runs `1..=seeds` of its own `seeds`.
//! - A run that panics (a [`RunError`](crate::runtime::RunError)) counts as a failed seed, with
//!   the panic message as its detail.
//! - "Reached" counts, per file and per counter of the report, the seeds whose counter ended
//!   above 0 (runs that panicked have no counters and count for none).

use crate::sim::report::Report;
use crate::sim::run::{repro_command, run, RunOptions};
use crate::sim::scenario::Scenario;
use crate::sim::shard::Shard;
use crate::sim::workers::run_jobs;
pub use crate::sim::workers::SweepProgress;
use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

/// An inclusive range of seeds: `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// First seed run.
    pub first: u64,
    /// Last seed run (included).
    pub last: u64,
}

impl SeedRange {
    /// `first..=last`; `None` when `last < first`.
    pub fn new(first: u64, last: u64) -> Option<SeedRange> {
        (first <= last).then_some(SeedRange { first, last })
    }

    /// The default range of a scenario file: `1..=seeds`.
    pub fn of_scenario(scenario: &Scenario) -> SeedRange {
        SeedRange {
            first: 1,
            last: u64::from(scenario.seeds.max(1)),
        }
    }

    /// How many seeds the range holds.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a range holds at least one seed.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The seeds, in ascending order.
    pub fn seeds(&self) -> impl Iterator<Item = u64> {
        self.first..=self.last
    }

    /// Parses `A..B` (both included) or a single seed `N`.
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let seed = |part: &str, what: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                format!(
                    "expected a seed range A..B of whole numbers (both included, e.g. 1..100), \
                     but the {what} {part:?} is not a whole number from 0 to {}",
                    u64::MAX
                )
            })
        };
        let (first, last) = match text.split_once("..") {
            Some((a, b)) => {
                let b = b.strip_prefix('=').unwrap_or(b);
                (seed(a, "start")?, seed(b, "end")?)
            }
            None => {
                let single = seed(text, "seed")?;
                (single, single)
            }
        };
        SeedRange::new(first, last).ok_or_else(|| {
            format!(
                "the seed range {text:?} is empty: its end {last} is below its start {first} \
                 (A..B runs A up to and including B)"
            )
        })
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

/// One loaded scenario file of a sweep and the seeds to run for it.
#[derive(Clone, Debug)]
pub struct SweepFile {
    /// The path as the user wrote it (it goes into repro commands).
    pub path: String,
    /// The parsed scenario.
    pub scenario: Scenario,
    /// The seeds to run.
    pub seeds: SeedRange,
}

impl SweepFile {
    /// A file to sweep over `seeds`, or over its own `1..=seeds` when `None`.
    pub fn new(path: impl Into<String>, scenario: Scenario, seeds: Option<SeedRange>) -> Self {
        let seeds = seeds.unwrap_or_else(|| SeedRange::of_scenario(&scenario));
        Self {
            path: path.into(),
            scenario,
            seeds,
        }
    }
}

/// The outcome of one seed of one file.
#[derive(Clone, Debug)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// Every invariant and expectation held.
    pub passed: bool,
    /// The report; `None` when the run panicked.
    pub report: Option<Report>,
    /// Why the run failed: the failing checks (`name: detail`), or the panic message.
    pub failures: Vec<String>,
    /// The command that reruns this seed.
    pub repro: String,
}

/// The outcome of every seed of one file.
#[derive(Clone, Debug)]
pub struct FileSummary {
    /// The path as given.
    pub path: String,
    /// The scenario's name.
    pub scenario: String,
    /// The seeds run.
    pub seeds: SeedRange,
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds that failed.
    pub failed: u64,
    /// Per counter of the report: the number of seeds where it ended above 0.
    pub reached: BTreeMap<String, u64>,
    /// Per distribution of the report (`latency_ms`), its p99 across the seeds that have
    /// samples of it: their median, 99th percentile and maximum.
    pub distributions: BTreeMap<String, AcrossSeeds>,
    /// Every seed, in ascending order.
    pub results: Vec<SeedResult>,
}

/// One value of each seed (a distribution's p99), spread across the seeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcrossSeeds {
    /// The median seed's value, ms.
    pub p50: u64,
    /// The 99th percentile across seeds (nearest rank), ms.
    pub p99: u64,
    /// The largest, ms.
    pub max: u64,
    /// Seeds with a value.
    pub seeds: u64,
}

impl AcrossSeeds {
    /// The spread of `values` (one per seed); `None` when there are none.
    pub fn of(mut values: Vec<u64>) -> Option<Self> {
        values.sort_unstable();
        let last = values.len().checked_sub(1)?;
        // Nearest rank: the smallest value with at least q of the values at or below it.
        let rank = |quantile: f64| {
            let rank = (quantile * values.len() as f64).ceil() as usize;
            values[rank.saturating_sub(1).min(last)]
        };
        Some(Self {
            p50: rank(0.5),
            p99: rank(0.99),
            max: values[last],
            seeds: values.len() as u64,
        })
    }
}

impl FileSummary {
    /// The seeds that failed, in ascending order.
    pub fn failures(&self) -> impl Iterator<Item = &SeedResult> {
        self.results.iter().filter(|result| !result.passed)
    }
}

/// The outcome of a sweep: files in the order given, seeds in ascending order.
#[derive(Clone, Debug)]
pub struct SweepSummary {
    /// The shard run, if only one was.
    pub shard: Option<Shard>,
    /// One entry per file.
    pub files: Vec<FileSummary>,
    /// Workers used.
    pub jobs: usize,
    /// Wall time of the whole sweep, ms.
    pub wall_ms: u64,
}

impl SweepSummary {
    /// Every seed of every file passed.
    pub fn passed(&self) -> bool {
        self.files.iter().all(|file| file.failed == 0)
    }

    /// Runs in total.
    pub fn runs(&self) -> u64 {
        self.files
            .iter()
            .map(|file| file.passed + file.failed)
            .sum()
    }

    /// Failed runs in total.
    pub fn failed(&self) -> u64 {
        self.files.iter().map(|file| file.failed).sum()
    }
}

/// Runs every seed of every file on `jobs` workers (only the runs of `shard`, if given).
pub fn sweep(
    files: &[SweepFile],
    jobs: NonZeroUsize,
    shard: Option<Shard>,
    progress: &(dyn Fn(SweepProgress) + Sync),
) -> SweepSummary {
    let started = Instant::now();
    let queue: Vec<(usize, u64)> = files
        .iter()
        .enumerate()
        .flat_map(|(index, file)| file.seeds.seeds().map(move |seed| (index, seed)))
        .enumerate()
        .filter(|(position, _)| shard.is_none_or(|shard| shard.contains(*position as u64)))
        .map(|(_, run)| run)
        .collect();
    let work = |job: usize| {
        let (file, seed) = queue[job];
        run_one(&files[file], seed)
    };
    let (results, workers) = run_jobs(
        queue.len(),
        jobs,
        &work,
        &|result: &SeedResult| !result.passed,
        progress,
    );
    let mut by_file: Vec<Vec<SeedResult>> = files.iter().map(|_| Vec::new()).collect();
    for ((file, seed), result) in queue.iter().zip(results) {
        by_file[*file].push(result.unwrap_or_else(|| SeedResult {
            seed: *seed,
            passed: false,
            report: None,
            failures: vec!["the worker running this seed stopped".to_owned()],
            repro: repro_command(&options(&files[*file]), *seed),
        }));
    }
    let files = files
        .iter()
        .zip(by_file)
        .map(|(file, results)| summarise(file, results))
        .collect();
    SweepSummary {
        shard,
        files,
        jobs: workers,
        wall_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

fn options(file: &SweepFile) -> RunOptions {
    RunOptions {
        file: Some(file.path.clone()),
        ..RunOptions::default()
    }
}

fn run_one(file: &SweepFile, seed: u64) -> SeedResult {
    run_seed(&file.scenario, seed, &options(file))
}

/// Runs one seed of `scenario`, never panicking: a run that panics is a failed seed with the
/// panic message.
pub(crate) fn run_seed(scenario: &Scenario, seed: u64, options: &RunOptions) -> SeedResult {
    let repro = repro_command(options, seed);
    // `run` catches panics of the simulation thread; this also catches any in building the
    // world or the report, so one bad seed never takes the sweep down.
    let outcome = catch_unwind(AssertUnwindSafe(|| run(scenario, seed, options)));
    match outcome {
        Ok(Ok(report)) => SeedResult {
            seed,
            passed: report.passed,
            // What made the seed fail: expected violations (`[expect] violations`) did not.
            failures: report
                .invariants
                .iter()
                .filter(|invariant| !invariant.passed && !invariant.expected)
                .map(|invariant| format!("{}: {}", invariant.name, invariant.detail))
                .collect(),
            report: Some(report),
            repro,
        },
        Ok(Err(error)) => SeedResult {
            seed,
            passed: false,
            report: None,
            failures: vec![error.to_string()],
            repro,
        },
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
                .unwrap_or_else(|| "unknown panic".to_owned());
            SeedResult {
                seed,
                passed: false,
                report: None,
                failures: vec![format!("the run panicked: {message}")],
                repro,
            }
        }
    }
}

fn summarise(file: &SweepFile, results: Vec<SeedResult>) -> FileSummary {
    let mut reached = BTreeMap::new();
    for result in &results {
        let Some(report) = &result.report else {
            continue;
        };
        for item in &report.reached {
            *reached.entry(format!("reached:{item}")).or_insert(0) += 1;
        }
        for (name, value) in report.counters.named() {
            let count = reached.entry(name.to_owned()).or_insert(0);
            if value > 0 {
                *count += 1;
            }
        }
    }
    let mut p99s: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for report in results.iter().filter_map(|result| result.report.as_ref()) {
        for (name, latency) in report.latency_ms.iter().filter(|(_, l)| l.count > 0) {
            p99s.entry(name.clone()).or_default().push(latency.p99);
        }
    }
    let distributions = p99s
        .into_iter()
        .filter_map(|(name, values)| Some((name, AcrossSeeds::of(values)?)))
        .collect();
    let passed = results.iter().filter(|result| result.passed).count() as u64;
    FileSummary {
        distributions,
        path: file.path.clone(),
        scenario: file.scenario.name.clone(),
        seeds: file.seeds,
        passed,
        failed: results.len() as u64 - passed,
        reached,
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::{sweep, SeedRange, SweepFile, SweepProgress};
    use crate::sim::parse_scenario;
    use std::num::NonZeroUsize;
    use std::sync::Mutex;

    fn tiny(name: &str, expect: &str) -> SweepFile {
        let text = format!(
            "name = \"{name}\"\nduration = \"2m\"\nseeds = 3\n[topology]\nentities_per_tenant = 2\n[expect]\n{expect}\n"
        );
        let scenario = parse_scenario(&text, name).expect("a valid scenario");
        SweepFile::new(format!("{name}.toml"), scenario, None)
    }

    #[test]
    fn results_come_in_file_then_seed_order_whatever_the_number_of_workers() {
        let files = [
            tiny("passes", "sdk_facts_delivered = true"),
            tiny("fails", "breaker_opened = true"),
        ];
        let seen = Mutex::new(Vec::<SweepProgress>::new());
        let record = |progress: SweepProgress| seen.lock().expect("not poisoned").push(progress);
        let parallel = sweep(&files, NonZeroUsize::new(4).expect("4 > 0"), None, &record);
        let serial = sweep(&files, NonZeroUsize::MIN, None, &|_| {});
        let hashes = |summary: &super::SweepSummary| -> Vec<(String, u64, String)> {
            summary
                .files
                .iter()
                .flat_map(|file| {
                    file.results.iter().map(|result| {
                        let report = result.report.as_ref().expect("no panic");
                        (file.path.clone(), result.seed, report.trace_hash.clone())
                    })
                })
                .collect()
        };
        assert_eq!(hashes(&parallel), hashes(&serial));
        assert_eq!(
            hashes(&parallel)
                .iter()
                .map(|(path, seed, _)| format!("{path}#{seed}"))
                .collect::<Vec<_>>(),
            [
                "passes.toml#1",
                "passes.toml#2",
                "passes.toml#3",
                "fails.toml#1",
                "fails.toml#2",
                "fails.toml#3"
            ]
        );
        assert_eq!((parallel.files[0].passed, parallel.files[0].failed), (3, 0));
        assert_eq!((parallel.files[1].passed, parallel.files[1].failed), (0, 3));
        assert!(!parallel.passed());
        assert_eq!(
            parallel.files[0].reached.get("sdk_facts_delivered"),
            Some(&3)
        );
        assert_eq!(parallel.files[1].reached.get("breaker_opened"), Some(&0));
        let failing: Vec<&str> = parallel.files[1]
            .failures()
            .map(|r| r.repro.as_str())
            .collect();
        assert_eq!(
            failing[0],
            format!(
                "{} run fails.toml --seed 1",
                crate::sim::run::invocation(false)
            )
        );
        assert!(parallel.files[1].results[0].failures[0].starts_with("expect.breaker_opened"));
        let seen = seen.into_inner().expect("not poisoned");
        assert_eq!(seen.len(), 7, "one call before the runs and one per run");
        assert_eq!(seen[0].done, 0);
        assert!(seen.iter().all(|progress| progress.total == 6));
        assert_eq!(seen.iter().map(|progress| progress.done).max(), Some(6));
        assert_eq!(seen.iter().map(|progress| progress.failed).max(), Some(3));
    }

    #[test]
    fn spreads_across_seeds_use_the_nearest_rank() {
        use super::AcrossSeeds;
        assert_eq!(AcrossSeeds::of(Vec::new()), None);
        let spread = AcrossSeeds::of((1..=200).rev().collect()).expect("values");
        assert_eq!(
            (spread.p50, spread.p99, spread.max, spread.seeds),
            (100, 198, 200, 200)
        );
        let one = AcrossSeeds::of(vec![7]).expect("a value");
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
    }

    #[test]
    fn seed_ranges_include_both_ends() {
        assert_eq!(
            SeedRange::parse("1..8"),
            Ok(SeedRange { first: 1, last: 8 })
        );
        assert_eq!(SeedRange::parse("1..8").map(|r| r.len()), Ok(8));
        assert_eq!(
            SeedRange::parse("3..=3"),
            Ok(SeedRange { first: 3, last: 3 })
        );
        assert_eq!(SeedRange::parse("7"), Ok(SeedRange { first: 7, last: 7 }));
        assert_eq!(
            SeedRange::parse("5..5").map(|r| r.seeds().collect::<Vec<_>>()),
            Ok(vec![5])
        );
    }

    #[test]
    fn bad_seed_ranges_say_what_was_expected() {
        for (text, expected) in [
            ("5..2", "is empty"),
            ("x..y", "start \"x\" is not a whole number"),
            ("1..y", "end \"y\" is not a whole number"),
            ("..4", "start \"\""),
            ("1..", "end \"\""),
            ("-1..3", "not a whole number"),
            ("", "not a whole number"),
            ("1..99999999999999999999", "not a whole number"),
        ] {
            let error = SeedRange::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
