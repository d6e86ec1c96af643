//! Scenario files: the TOML format users write by hand (docs/scenarios.md; the full
//! reference of keys, defaults and ranges is generated from the same tables as this parser).
//!
//! The format is written once: [`schema::SETTINGS`] (every key of every table) and
//! [`faults::FAULT_KINDS`] (every fault kind and its keys). The parser ([`parse`]), the
//! validator ([`validate`]), the writer ([`write`], [`Scenario::to_toml`]), the error messages
//! and the fuzz dictionary all read them.
//!
//! A file is read in steps: the TOML tree (syntax errors, duplicate keys), then its keys and
//! value types against the tables (unknown keys, wrong types and unknown choices: errors at
//! `FILE:LINE:COLUMN`), then its values (durations, counts: errors at the key,
//! ``FILE: key `faults[1].at`: message``), then the scenario as a whole
//! ([`Scenario::validate`]). Nothing here panics on any input.
//!
//! Decisions (written down here, tested in `tests/scenario_files.rs`):
//!
//! - Durations must carry a unit (`"0"` and `"30"` are rejected, although `humantime` accepts
//!   `"0"`) and be a whole number of milliseconds (`"1500us"` is rejected rather than rounded),
//!   so that [`Scenario::to_toml`] round-trips exactly. Every duration is at most
//!   [`MAX_DURATION_MS`] (30 days), which also keeps `now + duration` far from overflow.
//! - Fault indices in key paths count from 0 (`faults[0]` is the first `[[faults]]`), like tenants.
//! - Every fault needs `kind`, `at` and `duration` (no defaults); `at + duration` may run past
//!   the end of the run (the fault then lasts until the end).
//! - `target` is a key of the faults that hit one ledger: `system_ledger_down`,
//!   `system_ledger_overloaded`, `system_ledger_slow` and `alarm_failure`. On other kinds it is
//!   rejected like any per-kind key on the wrong kind.
//! - In `multi_tenant` mode there is no single SystemLedger: the group and target `"system"`
//!   exist only in `single` mode; `"tenant:<n>"` and `"platform"` only in `multi_tenant` mode.
//! - `platform_sink` is accepted in both modes (it is ignored in `single` mode) so that a
//!   scenario always round-trips.
//! - `sdk.breaker.reset_timeout_max` defaults to the larger of 5 minutes (the default of
//!   [`BreakerConfig`]) and `reset_timeout`, so raising only `reset_timeout` is not an error.
//! - `[runtime]` (an extension of the contract): `max_in_flight` (default 1000, the actor's
//!   in-flight limit before it answers `overloaded`) and `service_time` (default `"1ms"`, may be 0).
//! - Hierarchy level names must be non-blank and distinct.
//! - Extra size limits: at most [`MAX_FAULTS`] faults, `cache_ops_per_sec` at most
//!   [`MAX_CACHE_OPS_PER_SEC`] per entity (Cloudflare's soft limit per object) and
//!   `fact_appends_per_min` at most [`MAX_FACT_APPENDS_PER_MIN`] per entity.

pub mod diagnose;
pub mod duration;
mod error;
pub mod faults;
mod parse;
pub mod schema;
mod suggest;
pub mod tree;
mod types;
mod validate;
mod write;

pub use duration::DURATION_EXAMPLES;
pub use error::ScenarioError;
pub use tree::{entity_actor_name, tree_levels, TREE_FAN_OUT};
pub use types::{
    Expect, Fault, FaultKind, Group, Mode, Network, PlatformSink, QueueSettings, ReaderSettings,
    Requirement, Runtime, Scenario, Sdk, Target, Topology, Workload,
};
pub use write::fuzz_dictionary;

use crate::runtime::Counters;
use std::path::Path;

/// Longest duration anywhere in a scenario: 30 days, in ms.
pub const MAX_DURATION_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// Most tenants a scenario may have.
pub const MAX_TENANTS: u32 = 10_000;

/// Most `topology.system_shards`.
pub const MAX_SYSTEM_SHARDS: u32 = 1_024;
/// Most entity ledgers a scenario may have in total (`tenants * entities_per_tenant`).
/// Decision: a million, the size the harness is built and measured for (README, "Speed": a
/// million entities over 10 simulated minutes, judged, and the memory it takes). The report
/// prints the peak memory and the bytes per entity, to size a machine for a larger fleet.
pub const MAX_TOTAL_ENTITIES: u64 = 1_000_000;
/// Deepest entity hierarchy (levels under each tenant).
pub const MAX_HIERARCHY_DEPTH: usize = 6;
/// Most `[[faults]]` a scenario may have.
pub const MAX_FAULTS: usize = 1_000;
/// Highest `workload.cache_ops_per_sec` (per entity).
pub const MAX_CACHE_OPS_PER_SEC: f64 = 1_000.0;
/// Highest `workload.fact_appends_per_min` (per entity).
pub const MAX_FACT_APPENDS_PER_MIN: f64 = 60_000.0;
/// Largest `queue.max_batch_size` (Cloudflare's limit).
pub const MAX_QUEUE_BATCH_SIZE: u64 = 100;
/// Largest `queue.max_retries` (Cloudflare's limit).
pub const MAX_QUEUE_RETRIES: u64 = 100;
/// Longest `queue.max_batch_timeout`, ms (Cloudflare's limit: 60 s).
pub const MAX_QUEUE_BATCH_TIMEOUT_MS: u64 = 60_000;
/// Longest `queue.retry_delay`, ms (Cloudflare's limit: 12 hours).
pub const MAX_QUEUE_RETRY_DELAY_MS: u64 = 12 * 60 * 60 * 1_000;
/// Shortest `queue.message_retention`, ms (Cloudflare's limit: 60 s).
pub const MIN_QUEUE_RETENTION_MS: u64 = 60_000;
/// Longest `queue.message_retention`, ms (Cloudflare's limit: 14 days).
pub const MAX_QUEUE_RETENTION_MS: u64 = 14 * 24 * 3_600_000;
/// Highest `reader.reads_per_min`.
pub const MAX_READS_PER_MIN: f64 = 60_000.0;
/// Highest `workload.flush_stats_per_min` and `workload.stats_toggles_per_min` (per entity).
pub const MAX_CONTROL_OPS_PER_MIN: f64 = 600.0;

/// The counters of the JSON report contract and the report's extension counters: the only
/// keys allowed in `[expect]`.
pub const EXPECT_COUNTERS: &[&str] = Counters::NAMES;

/// The distributions of the report (`latency_ms`) that `[expect]` can bound with
/// `{ p50_max, p99_max, max_max }`.
pub const EXPECT_DISTRIBUTIONS: &[&str] = &[
    "breaker_open",
    "delivery",
    "primary_op",
    "recovery",
    "recovery_backlog",
    "recovery_payloads",
    "tenant_flush_lag",
];

/// The keys of a counter's `[expect]` bounds.
pub const RANGE_KEYS: &[&str] = &["min", "max"];
/// The keys of a distribution's `[expect]` bounds.
pub const DISTRIBUTION_KEYS: &[&str] = &["p50_max", "p99_max", "max_max"];

/// Parses and validates the text of a scenario file; `origin` (the file name) prefixes messages.
pub fn parse_scenario(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let scenario = parse::parse(text, origin)?;
    scenario.validate(origin)?;
    Ok(scenario)
}

/// Reads, parses and validates a scenario file. I/O errors and non-UTF-8 text are errors too.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|error| ScenarioError::io(&origin, format!("cannot read the file: {error}")))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        // The prefix up to `valid` is UTF-8 by definition.
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or("");
        ScenarioError::parse(
            &origin,
            Some(error::line_col_of(prefix, prefix.len())),
            format!("expected UTF-8 text, found an invalid byte at offset {valid}"),
        )
    })?;
    parse_scenario(&text, &origin)
}
