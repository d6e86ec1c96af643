//! The swarm's human summary: one line of counts and speed, then per failing seed what failed
//! and how to replay it.

use super::{SwarmSummary, Verdict};
use crate::planted::Plant;
use crate::sim::run::{invocation, shell_word};
use std::fmt::Write as _;

/// How to replay a swarm seed: the written scenario file, if there is one, or the swarm itself.
pub fn replay_command(seed: u64, file: Option<&str>, plant: Option<Plant>) -> String {
    let plant_flag = plant.map_or(String::new(), |plant| format!(" --plant {}", plant.name()));
    let start = invocation(plant.is_some());
    match file {
        Some(file) => format!("{start} run {} --seed {seed}{plant_flag}", shell_word(file)),
        None => format!("{start} swarm --seeds {seed}..{seed}{plant_flag}"),
    }
}

impl SwarmSummary {
    /// The summary; `written` gives the file each failing seed was written to, if any.
    pub fn to_text(&self, plant: Option<Plant>, written: &dyn Fn(u64) -> Option<String>) -> String {
        let mut text = String::new();
        let runs = self.seeds.len() as u64;
        let seconds = (self.wall_ms.max(1)) as f64 / 1_000.0;
        let per_core = runs as f64 / seconds / self.jobs.max(1) as f64;
        let _ = writeln!(
            text,
            "swarm: {runs} seeds{} on {} worker{} in {seconds:.1} s wall ({per_core:.0} scenarios/s per worker): {} passed, {} showed documented weaknesses, {} failed",
            self.shard.map_or(String::new(), |shard| format!(" (shard {shard})")),
            self.jobs,
            if self.jobs == 1 { "" } else { "s" },
            self.count(&Verdict::Passed),
            self.count(&Verdict::Weakness),
            self.count(&Verdict::Failed),
        );
        let failing: Vec<_> = self
            .seeds
            .iter()
            .filter(|seed| seed.verdict == Verdict::Failed)
            .collect();
        if failing.is_empty() {
            return text;
        }
        let _ = writeln!(text, "failing seeds:");
        for seed in &failing {
            let _ = writeln!(text, "  seed {}: {}", seed.seed, seed.failures.join("; "));
        }
        let _ = writeln!(text, "reproduce with:");
        for seed in &failing {
            let file = written(seed.seed);
            let _ = writeln!(
                text,
                "{}",
                replay_command(seed.seed, file.as_deref(), plant)
            );
        }
        text
    }
}
