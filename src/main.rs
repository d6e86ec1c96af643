//! The `z0sim` command line: argument parsing and printing only (docs/cli.md).
//!
//! Exit codes: 0 every check held; 1 something was violated (the output ends with the command
//! that reproduces it); 2 unusable input.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use z0sim::planted::Plant;
use z0sim::sim::capacity::{capacity, CapacityGrid};
use z0sim::sim::capacity_output;
use z0sim::sim::export::export;
use z0sim::sim::oracle::words::human_ms;
use z0sim::sim::run::{run_witnessed, Witnessed};
use z0sim::sim::scenario::diagnose::diagnose;
use z0sim::sim::shard::Shard;
use z0sim::sim::shrink::{shrink, ShrinkError, ShrinkOptions, Size, Step};
use z0sim::sim::swarm::{swarm, Verdict};
use z0sim::sim::sweep::{sweep, SeedRange, SweepFile, SweepProgress, SweepSummary};
use z0sim::sim::sweep_output;
use z0sim::sim::{load_scenario, RunOptions};

/// mimalloc instead of the system allocator: a run allocates and frees millions of small
/// objects (facts, messages, madsim tasks and timers) on its own thread, where glibc's
/// per-thread arena spends much of its time consolidating and growing (README, "Speed").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "z0sim",
    version,
    about = "Deterministic simulation of the z0 SDK's self-observability layer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `z0sim capacity`'s arguments.
#[derive(clap::Args)]
struct CapacityArgs {
    /// The scenario file (its tenants, mode, workload and faults are kept).
    file: PathBuf,
    /// Fleet sizes, entity ledgers in total, comma-separated (spread over the tenants).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    entities: Vec<u64>,
    /// Stats intervals (`sdk.stats_min_interval`), comma-separated durations.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_duration_arg)]
    stats_intervals: Vec<u64>,
    /// Sample rates (`sdk.sample_rate`), comma-separated, each in [0, 1].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    sample_rates: Vec<f64>,
    /// SystemLedger shard counts (`topology.system_shards`), comma-separated.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    shards: Vec<u32>,
    /// The seed of every run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parallel workers, at least 1. Default: the available parallelism.
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    jobs: Option<NonZeroUsize>,
    /// Also write DIR/capacity.csv and DIR/capacity.svg (DIR created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// `z0sim run`'s arguments.
#[derive(clap::Args)]
struct RunArgs {
    /// The scenario file.
    file: PathBuf,
    /// The seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object (and nothing else) on standard output.
    #[arg(long)]
    json: bool,
    /// Print the event log (through tracing; RUST_LOG works too).
    #[arg(long)]
    trace: bool,
    /// Run with this planted bug (builds with the `planted-bugs` feature; see `z0sim plants`).
    #[arg(long, value_name = "NAME")]
    plant: Option<String>,
    /// Leave out the wall-clock figures (wall time, speed-up, events per second), so that
    /// one file and seed print the same bytes every time.
    #[arg(long)]
    no_timing: bool,
    /// Explain each violation in full: every event of the actors it names up to its time (the
    /// last 200), instead of the last 8.
    #[arg(long)]
    explain: bool,
    /// Write the run's timeline to FILE, one self-contained HTML page (inline SVG).
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
    /// Write the scenario to FILE with the run's random fault picks made explicit (the
    /// entities each `evict` restarted and each `misroute` rewired).
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
}

/// How many events `run` shows before each violation, if it keeps the event log: always when
/// asked (`--explain`, `--timeline`, `--export`), else only for runs of at most
/// [`EXPLAIN_UP_TO_ENTITIES`] entity ledgers (decision: the log costs memory and time in
/// proportion to the run; bench-fleet's 1,000 entities over an hour take 74 MB and a quarter
/// more time with it).
fn explain_events(args: &RunArgs, scenario: &z0sim::sim::Scenario) -> Option<usize> {
    let entities = z0sim::sim::shrink::Size::of(scenario).entities;
    let asked = args.explain || args.timeline.is_some() || args.export.is_some();
    match (args.explain, asked || entities <= EXPLAIN_UP_TO_ENTITIES) {
        (true, _) => Some(EXPLAIN_EVENTS_IN_FULL),
        (false, true) => Some(EXPLAIN_EVENTS),
        (false, false) => None,
    }
}

/// Runs with more entity ledgers keep no event log unless asked to.
const EXPLAIN_UP_TO_ENTITIES: u64 = 10_000;

/// Events shown before each violation by `z0sim run`, and with `--explain`.
const EXPLAIN_EVENTS: usize = 8;
const EXPLAIN_EVENTS_IN_FULL: usize = 200;

#[derive(Subcommand)]
enum Command {
    /// Runs one scenario with one seed.
    Run(RunArgs),
    /// Lists the planted bugs, one a line: NAME INVARIANT SCENARIO (`planted-bugs` feature).
    Plants,
    /// Runs many seeds of one or more scenarios on parallel workers and prints a summary.
    ///
    /// A progress bar goes to standard error (when it is a terminal); the summary goes to
    /// standard output: per file the seeds that passed and failed and, per counter, in how many
    /// seeds it ended above 0; then one repro command per failing seed. Exit code 0 when every
    /// seed passed, 1 when one failed, 2 for unusable input.
    Sweep {
        /// The scenario files (all are loaded before anything runs).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The seeds to run for every file, `A..B`: from A up to and including B (`1..100` is 100
        /// seeds; a single `N` is `N..N`). Default: `1..S` per file, S its `seeds` key.
        #[arg(long, value_name = "A..B", value_parser = SeedRange::parse)]
        seeds: Option<SeedRange>,
        /// Parallel workers, at least 1. Default: the available parallelism.
        #[arg(long, value_name = "N", value_parser = parse_jobs)]
        jobs: Option<NonZeroUsize>,
        /// Run only shard K of N: the (file, seed) runs are numbered in order and shard K takes
        /// those whose number is K-1 modulo N, so N machines cover the sweep exactly once.
        #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
        shard: Option<Shard>,
        /// Print one JSON document on standard output instead of the text summary.
        #[arg(long)]
        json: bool,
        /// Also write the results as JUnit XML to FILE (a test case per file and seed).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Swarm testing: each seed draws a whole scenario (topology, SDK settings, network,
    /// runtime limits, workload, and zero to six faults of every kind) and runs it with that
    /// seed.
    ///
    /// A progress bar goes to standard error (when it is a terminal); the summary goes to
    /// standard output: how many seeds passed, showed a documented weakness of the z0 design
    /// (docs/model.md, "Findings"), or failed; then what failed and one replay command per
    /// failing seed. Exit code 0 when no seed failed, 1 when one did, 2 for unusable input.
    Swarm {
        /// The seeds, `A..B`: from A up to and including B (a single `N` is `N..N`).
        #[arg(long, value_name = "A..B", value_parser = SeedRange::parse)]
        seeds: SeedRange,
        /// Parallel workers, at least 1. Default: the available parallelism.
        #[arg(long, value_name = "N", value_parser = parse_jobs)]
        jobs: Option<NonZeroUsize>,
        /// Run every seed with this planted bug (`planted-bugs` feature; see `z0sim plants`).
        #[arg(long, value_name = "NAME")]
        plant: Option<String>,
        /// Write each failing seed's scenario to DIR/swarm-<seed>.toml (created if missing);
        /// `z0sim run` on that file with `--seed <seed>` replays the run exactly.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Run only shard K of N of the seeds (the seeds at positions K-1 modulo N).
        #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
        shard: Option<Shard>,
    },
    /// Shrinks a failing run: smaller scenarios (fewer faults, shorter windows and run, fewer
    /// tenants, entities and hierarchy levels, a simpler network) while the same invariant
    /// still fails, with the same seed or one of the next three. Prints each accepted step
    /// and the size before and after; writes the smallest to OUT, which `z0sim run` replays.
    Shrink {
        /// The scenario file.
        file: PathBuf,
        /// The failing seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run with this planted bug (`planted-bugs` feature; see `z0sim plants`).
        #[arg(long, value_name = "NAME")]
        plant: Option<String>,
        /// The invariant that must keep failing (default: the first that fails).
        #[arg(long, value_name = "NAME")]
        invariant: Option<String>,
        /// Where to write the shrunk scenario.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Measures the load a fleet puts on its ledgers over a grid: every combination of fleet
    /// size, stats interval, sample rate and SystemLedger shard count, one run each (seed
    /// `--seed`) of the file's scenario with those settings (docs/cli.md, "z0sim capacity").
    ///
    /// Prints a table (the busiest ledger's requests per second, mean and peak, the deepest
    /// request queue, overloaded answers, drops, delivery p99, wall time, verdict); with
    /// `--out DIR` also writes DIR/capacity.csv and DIR/capacity.svg. Each list defaults to
    /// the file's own value. Exit code 0 once every point ran (a point's verdict is in the
    /// table), 1 when a run panicked, 2 for unusable input.
    Capacity(CapacityArgs),
    /// Validates scenario files only.
    Check {
        /// The scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print each file's scenario with every default filled in (valid TOML that `run`
        /// accepts) instead of `FILE: ok (NAME)`.
        #[arg(long)]
        resolved: bool,
    },
}

/// Seeds after the failing one that `z0sim shrink` also tries for each change.
const SHRINK_EXTRA_SEEDS: u64 = 3;

const EXIT_VIOLATED: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                0
            });
        }
    };
    match cli.command {
        Command::Run(args) => match parse_plant(args.plant.as_deref()) {
            Ok(plant) => run_command(&args, plant),
            Err(message) => {
                eprintln!("z0sim: {message}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Plants => plants_command(),
        Command::Sweep {
            files,
            seeds,
            jobs,
            shard,
            json,
            junit,
        } => {
            let output = SweepOutput { shard, json, junit };
            sweep_command(&files, seeds, jobs, &output)
        }
        Command::Capacity(args) => capacity_command(args),
        Command::Swarm {
            seeds,
            jobs,
            plant,
            out,
            shard,
        } => match parse_plant(plant.as_deref()) {
            Ok(plant) => swarm_command(seeds, jobs, plant, shard, out.as_deref()),
            Err(message) => {
                eprintln!("z0sim: {message}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Shrink {
            file,
            seed,
            plant,
            invariant,
            out,
        } => match parse_plant(plant.as_deref()) {
            Ok(plant) => {
                let options = ShrinkOptions {
                    seed,
                    plant,
                    invariant,
                    extra_seeds: SHRINK_EXTRA_SEEDS,
                };
                shrink_command(&file, &options, &out)
            }
            Err(message) => {
                eprintln!("z0sim: {message}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
        Command::Check { files, resolved } => check_command(&files, resolved),
    }
}

/// `z0sim shrink`: exit 0 when a scenario that fails the same invariant was written, 1 when
/// a run broke, 2 for unusable input (including a run with nothing failing).
fn shrink_command(
    file: &std::path::Path,
    options: &ShrinkOptions,
    out: &std::path::Path,
) -> ExitCode {
    let Some(scenario) = load(file) else {
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    if let Err(message) = writable(out) {
        eprintln!("z0sim: {message}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    println!(
        "shrinking {} seed {}: {}",
        file.display(),
        options.seed,
        Size::of(&scenario)
    );
    let mut on_step =
        |step: &Step| println!("  {} (seed {}): {}", step.change, step.seed, step.size);
    let shrunk = match shrink(&scenario, options, &mut on_step) {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::Run(error)) => {
            eprintln!("z0sim: {error}");
            return ExitCode::from(EXIT_VIOLATED);
        }
        Err(error) => {
            eprintln!("z0sim: {error}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let mut minimal = shrunk.scenario.clone();
    minimal.description = format!(
        "Shrunk by z0sim shrink from {} seed {}: {} fails with seed {}. {}",
        file.display(),
        options.seed,
        shrunk.invariant,
        shrunk.seed,
        minimal.description
    )
    .trim_end()
    .to_owned();
    if let Err(error) = std::fs::write(out, minimal.to_toml()) {
        eprintln!("z0sim: cannot write {}: {error}", out.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    println!(
        "{} still fails after {} steps ({} runs)
  before: {}
  after:  {}",
        shrunk.invariant,
        shrunk.steps.len(),
        shrunk.runs,
        shrunk.before,
        shrunk.after
    );
    let replay = RunOptions {
        file: Some(absolute(out)),
        plant: options.plant,
        ..RunOptions::default()
    };
    println!(
        "written to {}; run it with: {}",
        out.display(),
        z0sim::sim::run::repro_command(&replay, shrunk.seed)
    );
    ExitCode::SUCCESS
}

fn parse_jobs(text: &str) -> Result<NonZeroUsize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1 (it is the number of parallel workers)".to_owned()),
        Ok(jobs) => NonZeroUsize::new(jobs).ok_or_else(|| "must be at least 1".to_owned()),
        Err(_) => Err(format!(
            "expected a whole number of parallel workers, at least 1, got {text:?}"
        )),
    }
}

/// The event log filter: `RUST_LOG` if set, else the trace events with `--trace`, else none.
fn trace_filter(trace: bool) -> Option<String> {
    match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => Some(value),
        _ => trace.then(|| "z0sim::trace=debug".to_owned()),
    }
}

fn parse_plant(name: Option<&str>) -> Result<Option<Plant>, String> {
    let Some(name) = name else {
        return Ok(None);
    };
    if !cfg!(feature = "planted-bugs") {
        return Err(format!(
            "--plant {name}: this build has no planted bugs; build with `--features planted-bugs`"
        ));
    }
    Plant::parse(name).map(Some).ok_or_else(|| {
        let names: Vec<&str> = Plant::ALL.iter().map(|plant| plant.name()).collect();
        format!(
            "--plant {name}: unknown planted bug; expected one of: {}",
            names.join(", ")
        )
    })
}

fn plants_command() -> ExitCode {
    if !cfg!(feature = "planted-bugs") {
        eprintln!(
            "z0sim plants: this build has no planted bugs; build with `--features planted-bugs`"
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    for plant in Plant::ALL {
        println!(
            "{} {} {}",
            plant.name(),
            plant.invariant(),
            plant.scenario()
        );
    }
    ExitCode::SUCCESS
}

/// Writes what `run` was asked to write besides its report: the timeline, the export.
fn write_outputs(
    args: &RunArgs,
    scenario: &z0sim::sim::Scenario,
    report: &z0sim::sim::Report,
    witnessed: &Witnessed,
) -> Result<(), String> {
    if let Some(path) = &args.timeline {
        let page = z0sim::sim::witness::timeline::render(scenario, report, witnessed);
        std::fs::write(path, page)
            .map_err(|error| format!("cannot write the timeline to {}: {error}", path.display()))?;
        eprintln!("timeline written to {}", path.display());
    }
    if let Some(path) = &args.export {
        let names = &witnessed.names;
        let exported = export(scenario, args.seed, &witnessed.fault_picks, names);
        std::fs::write(path, exported.to_toml())
            .map_err(|error| format!("cannot write the export to {}: {error}", path.display()))?;
        eprintln!(
            "scenario with explicit fault picks written to {}",
            path.display()
        );
    }
    Ok(())
}

/// How `run` prints its report.
#[derive(Clone, Copy)]
struct Output {
    json: bool,
    timing: bool,
}

/// Loads a scenario file for a command: every error and warning goes to standard error with
/// its source line and a caret (colours only on a terminal, without NO_COLOR); `None` when the
/// file is unusable.
fn load(file: &std::path::Path) -> Option<z0sim::sim::Scenario> {
    let origin = file.display().to_string();
    let Ok(text) = std::fs::read_to_string(file) else {
        // Unreadable or not UTF-8: the loader says which, with the position of a bad byte.
        if let Err(error) = load_scenario(file) {
            eprintln!("error: {error}");
        }
        return None;
    };
    let diagnosis = diagnose(&text, &origin);
    let colour = std::io::stderr().is_terminal() && no_color_unset();
    eprint!("{}", diagnosis.render(&origin, &text, colour));
    diagnosis.scenario
}

/// Checks that `path` can be written before a long command spends its runs, leaving what is
/// there as it is (a file it had to create for the check is removed again).
fn writable(path: &std::path::Path) -> Result<(), String> {
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// NO_COLOR is unset or empty (no-color.org: only a non-empty value turns colours off).
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// `path` made absolute (against the current directory), so that printed repros run from
/// anywhere; as given if that fails.
fn absolute(path: &std::path::Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// `text` with its verdict marks coloured, when standard output is a terminal.
fn coloured(text: String) -> String {
    if !std::io::stdout().is_terminal() || !no_color_unset() {
        return text;
    }
    text.lines()
        .map(|line| {
            let colour = [
                ("  ok ", 32),
                ("  skip ", 33),
                ("  FAIL (expected)", 36),
                ("  FAIL", 31),
            ]
            .iter()
            .find(|(mark, _)| line.starts_with(mark))
            .map(|(_, colour)| *colour);
            match colour {
                Some(colour) => format!("\x1b[{colour}m{line}\x1b[0m\n"),
                None => format!("{line}\n"),
            }
        })
        .collect()
}

fn run_command(args: &RunArgs, plant: Option<Plant>) -> ExitCode {
    let Some(scenario) = load(&args.file) else {
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let output = Output {
        json: args.json,
        timing: !args.no_timing,
    };
    let options = RunOptions {
        file: Some(absolute(&args.file)),
        trace_filter: trace_filter(args.trace),
        plant,
        explain_events: explain_events(args, &scenario),
    };
    let (report, witnessed) = match run_witnessed(&scenario, args.seed, &options) {
        Ok(ran) => ran,
        Err(error) => {
            eprintln!("z0sim: {error}");
            eprintln!(
                "reproduce with: {}",
                z0sim::sim::run::repro_command(&options, args.seed)
            );
            return ExitCode::from(EXIT_VIOLATED);
        }
    };
    if output.json {
        println!("{}", report.to_json_with(output.timing));
        if let Some(repro) = &report.repro {
            eprintln!("reproduce with: {repro}");
        }
    } else {
        print!("{}", coloured(report.to_text_with(output.timing)));
    }
    // After the report, so that a file that cannot be written never hides the verdict.
    if let Some(witnessed) = &witnessed {
        if let Err(message) = write_outputs(args, &scenario, &report, witnessed) {
            eprintln!("z0sim: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATED)
    }
}

/// `z0sim check`: every file diagnosed; with `resolved`, each valid file printed with every
/// default filled in (TOML that `run` accepts) instead of `FILE: ok (NAME)`.
fn check_command(files: &[PathBuf], resolved: bool) -> ExitCode {
    let mut failed = false;
    for file in files {
        match load(file) {
            Some(scenario) if resolved => {
                // A comment line between files: one file's output stays valid TOML.
                println!("# {}", file.display());
                print!("{}", scenario.to_toml());
            }
            Some(scenario) => println!("{}: ok ({})", file.display(), scenario.name),
            None => failed = true,
        }
    }
    if failed {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}

/// What `sweep` prints and writes besides running.
struct SweepOutput {
    shard: Option<Shard>,
    json: bool,
    junit: Option<PathBuf>,
}

fn sweep_command(
    files: &[PathBuf],
    seeds: Option<SeedRange>,
    jobs: Option<NonZeroUsize>,
    output: &SweepOutput,
) -> ExitCode {
    let mut loaded = Vec::new();
    let mut unusable = false;
    for file in files {
        match load(file) {
            Some(scenario) => loaded.push(SweepFile::new(absolute(file), scenario, seeds)),
            None => unusable = true,
        }
    }
    if unusable {
        eprintln!("z0sim sweep: nothing was run");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(path) = &output.junit {
        if let Err(message) = writable(path) {
            eprintln!("z0sim: cannot write the JUnit file: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let jobs = default_jobs(jobs);
    let bar = progress_bar();
    let progress = |progress: SweepProgress| show_progress(&bar, progress);
    let summary = sweep(&loaded, jobs, output.shard, &progress);
    bar.finish_and_clear();
    if output.json {
        println!("{}", sweep_output::to_json(&summary));
    } else {
        print!("{}", sweep_text(&summary));
    }
    if let Some(path) = &output.junit {
        if let Err(error) = std::fs::write(path, sweep_output::to_junit(&summary)) {
            eprintln!(
                "z0sim: cannot write the JUnit file {}: {error}",
                path.display()
            );
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATED)
    }
}

/// A progress bar on standard error when it is a terminal, hidden otherwise.
fn progress_bar() -> ProgressBar {
    let interactive = std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        None,
        if interactive {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    if interactive {
        // Keeps the elapsed time moving while long seeds run.
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} runs, {msg} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn show_progress(bar: &ProgressBar, progress: SweepProgress) {
    bar.set_length(progress.total);
    bar.set_position(progress.done);
    bar.set_message(format!("{} failed", progress.failed));
}

fn parse_duration_arg(text: &str) -> Result<u64, String> {
    z0sim::sim::scenario::duration::parse_duration_ms(text.trim())
}

/// The grid `args` ask for; each list defaults to the file's own value.
fn capacity_grid(args: &CapacityArgs, base: &z0sim::sim::Scenario) -> CapacityGrid {
    fn or_file<T: Clone>(list: &[T], own: T) -> Vec<T> {
        if list.is_empty() {
            vec![own]
        } else {
            list.to_vec()
        }
    }
    let topology = &base.topology;
    CapacityGrid {
        entities: or_file(
            &args.entities,
            u64::from(topology.tenants) * u64::from(topology.entities_per_tenant),
        ),
        stats_intervals_ms: or_file(&args.stats_intervals, base.sdk.stats_min_interval_ms),
        sample_rates: or_file(&args.sample_rates, base.sdk.sample_rate),
        shards: or_file(&args.shards, topology.system_shards),
    }
}

fn capacity_command(args: CapacityArgs) -> ExitCode {
    let Some(base) = load(&args.file) else {
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    let grid = capacity_grid(&args, &base);
    let out = args.out.as_deref();
    if let Some(problem) = grid.problem(&base) {
        eprintln!("z0sim capacity: {problem}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(dir) = out {
        if let Err(error) = std::fs::create_dir_all(dir) {
            eprintln!("z0sim: cannot create {}: {error}", dir.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let bar = progress_bar();
    let progress = |progress: SweepProgress| show_progress(&bar, progress);
    let points = capacity(&base, &grid, args.seed, default_jobs(args.jobs), &progress);
    bar.finish_and_clear();
    print!("{}", capacity_output::to_table(&points));
    if let Some(dir) = out {
        let title = format!("z0sim capacity: {}", base.name);
        let files = [
            ("capacity.csv", capacity_output::to_csv(&points)),
            ("capacity.svg", capacity_output::to_svg(&points, &title)),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            if let Err(error) = std::fs::write(&path, text) {
                eprintln!("z0sim: cannot write {}: {error}", path.display());
                return ExitCode::from(EXIT_BAD_INPUT);
            }
            println!("wrote {}", path.display());
        }
    }
    if points.iter().any(|point| point.report.is_none()) {
        eprintln!(
            "z0sim capacity: a run panicked (a bug; run its point with `z0sim run` to see it)"
        );
        return ExitCode::from(EXIT_VIOLATED);
    }
    ExitCode::SUCCESS
}

fn default_jobs(jobs: Option<NonZeroUsize>) -> NonZeroUsize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
}

fn swarm_command(
    seeds: SeedRange,
    jobs: Option<NonZeroUsize>,
    plant: Option<Plant>,
    shard: Option<Shard>,
    out: Option<&std::path::Path>,
) -> ExitCode {
    if let Some(dir) = out {
        if let Err(error) = std::fs::create_dir_all(dir) {
            eprintln!("z0sim swarm: cannot create {}: {error}", dir.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let bar = progress_bar();
    let progress = |progress: SweepProgress| show_progress(&bar, progress);
    let summary = swarm(seeds, default_jobs(jobs), plant, shard, &progress);
    bar.finish_and_clear();
    let mut written = BTreeMap::new();
    if let Some(dir) = out {
        for seed in summary
            .seeds
            .iter()
            .filter(|seed| seed.verdict == Verdict::Failed)
        {
            let Some(scenario) = &seed.scenario else {
                continue;
            };
            let path = dir.join(format!("swarm-{}.toml", seed.seed));
            match std::fs::write(&path, scenario.to_toml()) {
                Ok(()) => {
                    written.insert(seed.seed, absolute(&path));
                }
                Err(error) => eprintln!("z0sim swarm: cannot write {}: {error}", path.display()),
            }
        }
    }
    print!(
        "{}",
        summary.to_text(plant, &|seed| written.get(&seed).cloned())
    );
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATED)
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

/// The summary of a sweep; it ends with one repro command per failing seed.
fn sweep_text(summary: &SweepSummary) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for file in &summary.files {
        let runs = file.passed + file.failed;
        let verdict = if file.failed == 0 { "ok" } else { "FAILED" };
        let shard = summary.shard.map_or(String::new(), |shard| {
            format!(" (shard {shard}: {runs} of them)")
        });
        let _ = writeln!(
            text,
            "{verdict:<6} {} ({}): seeds {}{shard}: {} passed, {} failed",
            file.path, file.scenario, file.seeds, file.passed, file.failed
        );
        // Counters grouped by the number of seeds in which they ended above 0, most first.
        let mut by_count: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
        for (name, count) in &file.reached {
            by_count.entry(*count).or_default().push(name);
        }
        for (count, names) in by_count.iter().rev() {
            let label = if *count == 0 {
                "never reached".to_owned()
            } else {
                format!("reached in {count}/{runs} seeds")
            };
            let _ = writeln!(text, "         {label}: {}", names.join(" "));
        }
        for (name, spread) in &file.distributions {
            let _ = writeln!(
                text,
                "         {name} p99 across {} seeds: p50 {} p99 {} max {}",
                spread.seeds,
                human_ms(spread.p50),
                human_ms(spread.p99),
                human_ms(spread.max)
            );
        }
    }
    let runs = summary.runs();
    let failed = summary.failed();
    let _ = writeln!(
        text,
        "{} file{}, {runs} run{} on {} worker{} in {:.1} s wall: {} passed, {failed} failed",
        summary.files.len(),
        plural(summary.files.len() as u64),
        plural(runs),
        summary.jobs,
        plural(summary.jobs as u64),
        summary.wall_ms as f64 / 1_000.0,
        runs - failed,
    );
    if failed > 0 {
        text.push_str(&failures_text(summary));
    }
    text
}

/// The failed checks grouped (one line per file and check, with its seeds and the first seed's
/// detail), then one repro command per failed seed.
fn failures_text(summary: &SweepSummary) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("failed checks:\n");
    for (path, check, seeds, detail) in sweep_output::grouped_failures(summary) {
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        let _ = writeln!(
            text,
            "  {path}: {check} in seed{} {}{}",
            plural(seeds.len() as u64),
            seeds.join(", "),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" (seed {}: {detail})", seeds[0])
            }
        );
    }
    let _ = writeln!(text, "reproduce with:");
    for file in &summary.files {
        for result in file.failures() {
            let _ = writeln!(text, "{}", result.repro);
        }
    }
    text
}
