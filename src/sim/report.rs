//! The run report: the JSON contract of harness.md plus extensions, and its human rendering.

use crate::runtime::{Counters, LatencySummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One checked property of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvariantResult {
    /// Its name (an invariant of harness.md, or `expect.<counter>`).
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// Why not (empty when it held).
    pub detail: String,
    /// It failed, as the scenario's `[expect] violations` says it must.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expected: bool,
}

/// The version of the JSON report's schema (`docs/report.md`): raised when a field changes
/// meaning or goes away; fields are only ever added within a version.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

/// The report of one run (one scenario, one seed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Every invariant and expectation held.
    pub passed: bool,
    /// Simulated time, ms.
    pub sim_time_ms: u64,
    /// Wall time, ms (excluded from determinism comparisons).
    pub wall_ms: u64,
    /// Simulator events processed.
    pub events: u64,
    /// Local operations applied lazily (not simulator events).
    pub local_ops: u64,
    /// Events per wall second.
    pub events_per_sec: u64,
    /// Simulated time per wall time.
    pub speedup: f64,
    /// FNV-1a over the ordered events, hex.
    pub trace_hash: String,
    /// Checks, in a fixed order.
    pub invariants: Vec<InvariantResult>,
    /// The interesting things that actually happened in this run (see
    /// [`crate::sim::run::reached`]), so a sweep shows whether faults reached their code.
    pub reached: Vec<String>,
    /// The contract's counters (and extensions).
    pub counters: Counters,
    /// `delivery`, `breaker_open`, `tenant_flush_lag`.
    pub latency_ms: BTreeMap<String, LatencySummary>,
    /// End-of-run facts: leftovers and stored totals.
    pub end: EndState,
    /// The command that reproduces this run, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repro: Option<String>,
}

/// What was left or stored at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EndState {
    /// Observations still buffered in entities (open periods, unsent facts).
    pub buffered_observations: u64,
    /// Clients whose breaker was not CLOSED.
    pub breakers_not_closed: u64,
    /// Tenant payloads not yet acknowledged by the platform sink.
    pub tenant_payloads_pending: u64,
    /// Messages in the dead-letter queue.
    pub dead_letters: u64,
    /// Acknowledged facts missing from their receiver's storage.
    pub durability_violations: u64,
    /// SDK facts stored per SystemLedger.
    pub system_facts: BTreeMap<String, u64>,
}

impl Report {
    /// The report as one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
    }

    /// The report without wall-clock fields, for determinism comparisons and snapshots.
    pub fn deterministic_json(&self) -> String {
        let mut stable = self.clone();
        stable.wall_ms = 0;
        stable.events_per_sec = 0;
        stable.speedup = 0.0;
        stable.to_json()
    }

    /// A human summary.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        let _ = writeln!(text, "{} seed {}: {verdict}", self.scenario, self.seed);
        let _ = writeln!(
            text,
            "  simulated {:.1} s in {} ms wall ({:.0}x), {} events ({} /s), {} local ops, trace {}",
            self.sim_time_ms as f64 / 1_000.0,
            self.wall_ms,
            self.speedup,
            self.events,
            self.events_per_sec,
            self.local_ops,
            self.trace_hash
        );
        // Alphabetical, non-zero counters only.
        let mut counters: Vec<(&str, u64)> = self
            .counters
            .named()
            .filter(|(_, value)| *value != 0)
            .collect();
        counters.sort_unstable();
        let line: Vec<String> = counters
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let _ = writeln!(text, "  counters: {}", line.join(" "));
        for (name, latency) in &self.latency_ms {
            if latency.count > 0 {
                let _ = writeln!(
                    text,
                    "  {name} ms: p50 {} p99 {} max {} (n={})",
                    latency.p50, latency.p99, latency.max, latency.count
                );
            }
        }
        if !self.reached.is_empty() {
            let _ = writeln!(text, "  reached: {}", self.reached.join(" "));
        }
        for invariant in &self.invariants {
            let mark = match (invariant.passed, invariant.expected) {
                (true, _) => "ok  ",
                (false, true) => "FAIL (expected)",
                (false, false) => "FAIL",
            };
            let _ = write!(text, "  {mark} {}", invariant.name);
            if !invariant.detail.is_empty() {
                let _ = write!(text, ": {}", invariant.detail);
            }
            text.push('\n');
        }
        if let Some(repro) = &self.repro {
            let _ = writeln!(text, "reproduce with: {repro}");
        }
        text
    }
}
