//! The `z0sim` command line: argument parsing and printing only (harness.md "Command line").
//!
//! Exit codes: 0 every check held; 1 something was violated (the output ends with the command
//! that reproduces it); 2 unusable input.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use z0sim::sim::{load_scenario, run, RunOptions};

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

#[derive(Subcommand)]
enum Command {
    /// Runs one scenario with one seed.
    Run {
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
    },
    /// Validates scenario files only.
    Check {
        /// The scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

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
        Command::Run {
            file,
            seed,
            json,
            trace,
        } => run_command(&file, seed, json, trace),
        Command::Check { files } => check_command(&files),
    }
}

fn init_tracing(trace: bool) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => tracing_subscriber::EnvFilter::new(value),
        _ if trace => tracing_subscriber::EnvFilter::new("z0sim::trace=debug"),
        _ => tracing_subscriber::EnvFilter::new("off"),
    };
    // Simulated time is in each event's fields; wall-clock timestamps would break determinism.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}

fn run_command(file: &std::path::Path, seed: u64, json: bool, trace: bool) -> ExitCode {
    init_tracing(trace);
    let scenario = match load_scenario(file) {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let options = RunOptions {
        file: Some(file.display().to_string()),
    };
    let report = match run(&scenario, seed, &options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("z0sim: {error}");
            eprintln!(
                "reproduce with: {}",
                z0sim::sim::run::repro_command(&options, seed)
            );
            return ExitCode::from(EXIT_VIOLATED);
        }
    };
    if json {
        println!("{}", report.to_json());
        if let Some(repro) = &report.repro {
            eprintln!("reproduce with: {repro}");
        }
    } else {
        print!("{}", report.to_text());
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATED)
    }
}

fn check_command(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        match load_scenario(file) {
            Ok(scenario) => println!("{}: ok ({})", file.display(), scenario.name),
            Err(error) => {
                eprintln!("{error}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}
