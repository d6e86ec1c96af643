//! Scenario files: the TOML contract of `shared/design/harness.md` ("Scenario files (TOML) — a
//! contract").
//!
//! A scenario file is parsed in two steps: the text is deserialised into private raw structs
//! that mirror the TOML exactly (`deny_unknown_fields` everywhere, every key optional, durations
//! kept as the user wrote them), then converted into the public [`Scenario`] and validated as a
//! whole ([`Scenario::validate`]). TOML syntax errors, type errors and unknown keys are reported
//! as `FILE:LINE:COLUMN: message`; errors found after parsing name the key instead:
//! ``FILE: key `faults[1].at`: message``. Nothing here panics on any input.
//!
//! Decisions where `harness.md` is silent (written down here, tested in
//! `tests/scenario_files.rs`):
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

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::model::{BootstrapConfig, BreakerConfig, StatsConfig, TenantConfig};
use crate::runtime::{Counters, Transport};

/// Longest duration anywhere in a scenario: 30 days, in ms.
pub const MAX_DURATION_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// Most tenants a scenario may have.
pub const MAX_TENANTS: u32 = 10_000;
/// Most entity ledgers a scenario may have in total (`tenants * entities_per_tenant`).
/// Decision: 100,000 entities over 10 simulated minutes take about 4.4 GB here (more with the
/// oracle's observation log), so 200,000 stays within a 24 GB machine; a million did not.
pub const MAX_TOTAL_ENTITIES: u64 = 200_000;
/// Deepest entity hierarchy (levels under each tenant).
pub const MAX_HIERARCHY_DEPTH: usize = 6;
/// Most `[[faults]]` a scenario may have.
pub const MAX_FAULTS: usize = 1_000;
/// Highest `workload.cache_ops_per_sec` (per entity).
pub const MAX_CACHE_OPS_PER_SEC: f64 = 1_000.0;
/// Highest `workload.fact_appends_per_min` (per entity).
pub const MAX_FACT_APPENDS_PER_MIN: f64 = 60_000.0;

/// The counters of the JSON report contract and the report's extension counters: the only
/// keys allowed in `[expect]`.
pub const EXPECT_COUNTERS: &[&str] = Counters::NAMES;

const DURATION_EXAMPLES: &str = r#""250ms", "30s", "5m", "1h" or "1m 30s""#;

// ------------------------------------------------------------------------------------------------
// Public types
// ------------------------------------------------------------------------------------------------

/// One scenario file: what to simulate, which faults to inject and what a passing run must show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// Name of the scenario (`name`, required, non-blank).
    pub name: String,
    /// Free text (`description`, default empty).
    pub description: String,
    /// Simulated time to run, ms (`duration`, required).
    pub duration_ms: u64,
    /// How many seeds `cargo test` runs for this file (`seeds`, default 8).
    pub seeds: u32,
    /// The actors (`[topology]`).
    pub topology: Topology,
    /// SDK settings (`[sdk]`, `[sdk.breaker]`).
    pub sdk: Sdk,
    /// Generated load (`[workload]`).
    pub workload: Workload,
    /// The simulated network (`[network]`).
    pub network: Network,
    /// The simulated actor runtime (`[runtime]`, an extension of the contract).
    pub runtime: Runtime,
    /// Faults applied at fixed simulated times (`[[faults]]`).
    pub faults: Vec<Fault>,
    /// Counters a passing run must (or must not) show (`[expect]`).
    pub expect: Expect,
}

/// `topology.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `"single"`: EntityLedgers -> SystemLedger.
    Single,
    /// `"multi_tenant"`: EntityLedgers -> TenantSystemLedger of their tenant -> platform.
    MultiTenant,
}

/// `topology.platform_sink`: how tenant payloads reach the platform (multi_tenant only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformSink {
    /// `"queue"`: through `PLATFORM_METRICS_QUEUE`.
    Queue,
    /// `"ledger"`: through `PLATFORM_SYSTEM_LEDGER`, breaker-protected.
    Ledger,
}

/// `[topology]`: which actors exist.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Topology {
    /// `mode` (default single).
    pub mode: Mode,
    /// `tenants`, numbered from 0 (default 1, at most [`MAX_TENANTS`]).
    pub tenants: u32,
    /// `entities_per_tenant` (default 20; at most [`MAX_TOTAL_ENTITIES`] in total).
    pub entities_per_tenant: u32,
    /// `hierarchy`: entity tree levels under each tenant, e.g. `["project", "asset"]` (default none).
    pub hierarchy: Vec<String>,
    /// `platform_sink` (default queue; used in multi_tenant mode only).
    pub platform_sink: PlatformSink,
}

/// `[sdk]`: the SDK's settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sdk {
    /// `observability`: false means no observabilityStub is wired (default true).
    pub observability: bool,
    /// `fallback_on_failure` (default true).
    pub fallback_on_failure: bool,
    /// `warn_on_fallback` (default true).
    pub warn_on_fallback: bool,
    /// `stats_min_interval`, ms (default 60 s).
    pub stats_min_interval_ms: u64,
    /// `tenant_aggregation_interval`, ms (default 60 s).
    pub tenant_aggregation_interval_ms: u64,
    /// `rpc_timeout`, ms (default 5 s).
    pub rpc_timeout_ms: u64,
    /// `sample_rate`: fraction of entities that emit stats (default 1.0).
    pub sample_rate: f64,
    /// `[sdk.breaker]` (defaults of [`BreakerConfig`]).
    pub breaker: BreakerConfig,
}

/// `[workload]`: the generated load, per entity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    /// `cache_ops_per_sec` per entity (default 1.0).
    pub cache_ops_per_sec: f64,
    /// `hit_ratio` of cache gets (default 0.8).
    pub hit_ratio: f64,
    /// `fact_appends_per_min` per entity (default 6.0).
    pub fact_appends_per_min: f64,
}

/// `[network]`: the simulated network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Network {
    /// First element of `latency`, ms (default 1 ms).
    pub latency_min_ms: u64,
    /// Second element of `latency`, ms (default 10 ms).
    pub latency_max_ms: u64,
    /// `packet_loss` outside of faults (default 0.0).
    pub packet_loss: f64,
    /// `transport` (an extension): `"madsim"` (default, `madsim::net`) or `"direct"` (the same
    /// network model on madsim's clock without its endpoints; README, "Transports").
    pub transport: Transport,
}

/// `[runtime]` (an extension of the contract): the simulated Durable Objects runtime.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Runtime {
    /// `max_in_flight`: requests an actor holds before it answers `overloaded` (default 1000).
    pub max_in_flight: u32,
    /// `service_time`: time an actor spends on one request, ms (default 1 ms).
    pub service_time_ms: u64,
}

/// One `[[faults]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fault {
    /// `kind` and its own keys.
    pub kind: FaultKind,
    /// `at`: when it starts, ms after the start of the run (before the run's end).
    pub at_ms: u64,
    /// `duration`: how long it lasts, ms (more than 0).
    pub duration_ms: u64,
    /// `target`: which system ledger (default: the one entities report to).
    pub target: Option<Target>,
}

/// `faults[].kind` with its per-kind keys.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `"system_ledger_down"`: the target actor is killed, restarted at the end.
    SystemLedgerDown,
    /// `"system_ledger_overloaded"`: `rate` of answers are `overloaded`.
    SystemLedgerOverloaded {
        /// `rate`, in [0, 1].
        rate: f64,
    },
    /// `"system_ledger_slow"`: every answer takes `extra_latency` longer.
    SystemLedgerSlow {
        /// `extra_latency`, ms (more than 0).
        extra_latency_ms: u64,
    },
    /// `"partition"`: no message passes between the two groups.
    Partition {
        /// `between = [A, B]`, two distinct groups.
        between: [Group; 2],
    },
    /// `"packet_loss"`: `rate` of messages are lost.
    PacketLoss {
        /// `rate`, in [0, 1].
        rate: f64,
    },
    /// `"evict"`: `fraction` of entity ledgers are restarted at `at`.
    Evict {
        /// `fraction`, in [0, 1].
        fraction: f64,
    },
    /// `"alarm_failure"`: `rate` of alarm handler runs fail.
    AlarmFailure {
        /// `rate`, in [0, 1].
        rate: f64,
    },
    /// `"queue_duplicate"`: `rate` of queue messages are delivered twice.
    QueueDuplicate {
        /// `rate`, in [0, 1].
        rate: f64,
    },
    /// `"misroute"` (extension): `fraction` of the entities of tenant 0 send their SDK facts
    /// to tenant 1's TenantSystemLedger, a deployment mistake that tenant isolation must stop
    /// (multi_tenant with at least two tenants).
    Misroute {
        /// `fraction`, in [0, 1].
        fraction: f64,
    },
    /// `"queue_consumer_failure"`: `rate` of consumer batch runs fail.
    QueueConsumerFailure {
        /// `rate`, in [0, 1].
        rate: f64,
    },
    /// `"hostile_facts"` (extension): each SDK fact an entity sends to its observability
    /// target is followed, with probability `rate`, by a forged one (oversized data, missing
    /// tenant, unknown subtype, another tenant's id, a stored fact's id, a timestamp far in the
    /// future; see `runtime::hostile`), which the receiver must reject or de-duplicate.
    HostileFacts {
        /// `rate`, in [0, 1].
        rate: f64,
    },
}

/// An actor group of a `partition` fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// `"entities"`: every EntityLedger.
    Entities,
    /// `"system"`: the SystemLedger (single mode).
    System,
    /// `"tenant:<n>"`: the TenantSystemLedger of tenant n (multi_tenant mode).
    Tenant(u32),
    /// `"platform"`: the platform SystemLedger (multi_tenant mode).
    Platform,
}

/// The system ledger a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `"system"`: the SystemLedger (single mode).
    System,
    /// `"tenant:<n>"`: the TenantSystemLedger of tenant n (multi_tenant mode).
    Tenant(u32),
    /// `"platform"`: the platform SystemLedger (multi_tenant mode).
    Platform,
}

/// `[expect]`: what a passing run must also show.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Expect {
    /// Counter name (one of [`EXPECT_COUNTERS`]) -> true: "> 0 at the end of the run",
    /// false: "== 0 at the end of the run". Counters not listed have no requirement.
    pub checks: BTreeMap<String, bool>,
}

/// A scenario file that cannot be read, does not parse or does not make sense.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    origin: String,
    detail: Detail,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Detail {
    /// The file could not be read.
    Io { message: String },
    /// TOML syntax, types, unknown keys, encoding: where in the text.
    Parse {
        line_col: Option<(usize, usize)>,
        message: String,
    },
    /// A value that parsed but makes no sense: which key.
    Key { key: String, message: String },
}

// ------------------------------------------------------------------------------------------------
// Entry points
// ------------------------------------------------------------------------------------------------

/// Parses and validates the text of a scenario file; `origin` (the file name) prefixes messages.
pub fn parse_scenario(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawScenario = toml::from_str(text).map_err(|error| {
        let line_col = error.span().map(|span| line_col_of(text, span.start));
        ScenarioError::parse(origin, line_col, clean_message(error.message()))
    })?;
    let scenario = Convert { origin }.scenario(raw)?;
    scenario.validate(origin)?;
    Ok(scenario)
}

/// Reads, parses and validates a scenario file. I/O errors and non-UTF-8 text are errors too.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| ScenarioError {
        origin: origin.clone(),
        detail: Detail::Io {
            message: format!("cannot read the file: {error}"),
        },
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        let bytes = error.as_bytes();
        // The prefix up to `valid` is UTF-8 by definition.
        let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or("");
        ScenarioError::parse(
            &origin,
            Some(line_col_of(prefix, prefix.len())),
            format!("expected UTF-8 text, found an invalid byte at offset {valid}"),
        )
    })?;
    parse_scenario(&text, &origin)
}

// ------------------------------------------------------------------------------------------------
// ScenarioError
// ------------------------------------------------------------------------------------------------

impl ScenarioError {
    fn parse(origin: &str, line_col: Option<(usize, usize)>, message: String) -> Self {
        Self {
            origin: origin.to_owned(),
            detail: Detail::Parse { line_col, message },
        }
    }

    fn at_key(origin: &str, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            origin: origin.to_owned(),
            detail: Detail::Key {
                key: key.into(),
                message: message.into(),
            },
        }
    }

    /// The file name (or other origin) the error is about.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// 1-based line and column (in characters) of a syntax, type, unknown-key or encoding error.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        match &self.detail {
            Detail::Parse { line_col, .. } => *line_col,
            _ => None,
        }
    }

    /// Key path of a semantic error, e.g. `faults[1].at` or `workload.hit_ratio`.
    pub fn key(&self) -> Option<&str> {
        match &self.detail {
            Detail::Key { key, .. } => Some(key),
            _ => None,
        }
    }

    /// What was wrong and what was expected, without the file, position or key.
    pub fn message(&self) -> &str {
        match &self.detail {
            Detail::Io { message }
            | Detail::Parse { message, .. }
            | Detail::Key { message, .. } => message,
        }
    }

    /// True when the file could not be read at all.
    pub fn is_io(&self) -> bool {
        matches!(self.detail, Detail::Io { .. })
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Detail::Io { message } => write!(f, "{}: {message}", self.origin),
            Detail::Parse {
                line_col: Some((line, column)),
                message,
            } => write!(f, "{}:{line}:{column}: {message}", self.origin),
            Detail::Parse {
                line_col: None,
                message,
            } => write!(f, "{}: {message}", self.origin),
            Detail::Key { key, message } => write!(f, "{}: key `{key}`: {message}", self.origin),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col_of(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// A toml error message on one line.
fn clean_message(message: &str) -> String {
    let joined: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if joined.is_empty() {
        return "invalid TOML".to_owned();
    }
    // Serde names Rust types; users write TOML.
    joined
        .join("; ")
        .replace(
            " as i128, expected i64",
            ", expected an integer from -2^63 to 2^63-1",
        )
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
}

// ------------------------------------------------------------------------------------------------
// Defaults and helpers of the public types
// ------------------------------------------------------------------------------------------------

impl Default for Topology {
    fn default() -> Self {
        Self {
            mode: Mode::Single,
            tenants: 1,
            entities_per_tenant: 20,
            hierarchy: Vec::new(),
            platform_sink: PlatformSink::Queue,
        }
    }
}

impl Default for Sdk {
    fn default() -> Self {
        Self {
            observability: true,
            fallback_on_failure: true,
            warn_on_fallback: true,
            stats_min_interval_ms: 60_000,
            tenant_aggregation_interval_ms: 60_000,
            rpc_timeout_ms: crate::model::DEFAULT_RPC_TIMEOUT_MS,
            sample_rate: 1.0,
            breaker: BreakerConfig::default(),
        }
    }
}

impl Sdk {
    /// The `BootstrapConfig` these settings describe.
    pub fn bootstrap_config(&self) -> BootstrapConfig {
        BootstrapConfig {
            fallback_on_failure: self.fallback_on_failure,
            warn_on_fallback: self.warn_on_fallback,
        }
    }

    /// The CachedStateManager stats config these settings describe.
    pub fn stats_config(&self) -> StatsConfig {
        StatsConfig {
            min_interval_ms: self.stats_min_interval_ms,
        }
    }

    /// The TenantSystemLedger config these settings describe (other fields at their defaults).
    pub fn tenant_config(&self) -> TenantConfig {
        TenantConfig {
            aggregation_interval_ms: self.tenant_aggregation_interval_ms,
            ..TenantConfig::default()
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            cache_ops_per_sec: 1.0,
            hit_ratio: 0.8,
            fact_appends_per_min: 6.0,
        }
    }
}

impl Default for Network {
    fn default() -> Self {
        Self {
            latency_min_ms: 1,
            latency_max_ms: 10,
            packet_loss: 0.0,
            transport: Transport::Madsim,
        }
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Self {
            max_in_flight: 1_000,
            service_time_ms: 1,
        }
    }
}

impl Mode {
    /// The TOML spelling: `"single"` or `"multi_tenant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::MultiTenant => "multi_tenant",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PlatformSink {
    /// The TOML spelling: `"queue"` or `"ledger"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformSink::Queue => "queue",
            PlatformSink::Ledger => "ledger",
        }
    }
}

impl fmt::Display for PlatformSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FaultKind {
    /// The TOML spelling of the kind, e.g. `"system_ledger_down"`.
    pub fn name(&self) -> &'static str {
        self.tag().name()
    }

    fn tag(&self) -> KindTag {
        match self {
            FaultKind::SystemLedgerDown => KindTag::SystemLedgerDown,
            FaultKind::SystemLedgerOverloaded { .. } => KindTag::SystemLedgerOverloaded,
            FaultKind::SystemLedgerSlow { .. } => KindTag::SystemLedgerSlow,
            FaultKind::Partition { .. } => KindTag::Partition,
            FaultKind::PacketLoss { .. } => KindTag::PacketLoss,
            FaultKind::Evict { .. } => KindTag::Evict,
            FaultKind::AlarmFailure { .. } => KindTag::AlarmFailure,
            FaultKind::QueueDuplicate { .. } => KindTag::QueueDuplicate,
            FaultKind::QueueConsumerFailure { .. } => KindTag::QueueConsumerFailure,
            FaultKind::Misroute { .. } => KindTag::Misroute,
            FaultKind::HostileFacts { .. } => KindTag::HostileFacts,
        }
    }

    /// True for the kinds that accept a `target` key.
    pub fn takes_target(&self) -> bool {
        self.tag().keys().contains(&"target")
    }
}

impl Fault {
    /// When the fault ends, ms after the start of the run (saturating).
    pub fn end_ms(&self) -> u64 {
        self.at_ms.saturating_add(self.duration_ms)
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Group::Entities => f.write_str("entities"),
            Group::System => f.write_str("system"),
            Group::Tenant(n) => write!(f, "tenant:{n}"),
            Group::Platform => f.write_str("platform"),
        }
    }
}

impl Serialize for Group {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::System => f.write_str("system"),
            Target::Tenant(n) => write!(f, "tenant:{n}"),
            Target::Platform => f.write_str("platform"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `"tenant:<n>"` -> `Ok(Some(n))`; another string -> `Ok(None)`; a bad index -> `Err`.
fn parse_tenant_ref(text: &str) -> Result<Option<u32>, String> {
    let Some(digits) = text.strip_prefix("tenant:") else {
        return Ok(None);
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a tenant index after \"tenant:\" (e.g. \"tenant:0\"), got {text:?}"
        ));
    }
    digits
        .parse::<u32>()
        .map(Some)
        .map_err(|_| format!("tenant index in {text:?} is too large"))
}

impl Group {
    /// Parses `"entities"`, `"system"`, `"tenant:<n>"` or `"platform"`.
    pub fn parse(text: &str) -> Result<Group, String> {
        match text {
            "entities" => Ok(Group::Entities),
            "system" => Ok(Group::System),
            "platform" => Ok(Group::Platform),
            _ => match parse_tenant_ref(text)? {
                Some(n) => Ok(Group::Tenant(n)),
                None => Err(format!(
                    "expected \"entities\", \"system\", \"tenant:<n>\" or \"platform\", got {text:?}"
                )),
            },
        }
    }
}

impl Target {
    /// Parses `"system"`, `"tenant:<n>"` or `"platform"`.
    pub fn parse(text: &str) -> Result<Target, String> {
        match text {
            "system" => Ok(Target::System),
            "platform" => Ok(Target::Platform),
            _ => match parse_tenant_ref(text)? {
                Some(n) => Ok(Target::Tenant(n)),
                None => Err(format!(
                    "expected \"system\", \"tenant:<n>\" or \"platform\", got {text:?}"
                )),
            },
        }
    }
}

impl Expect {
    /// The requirement on `counter`, if any: Some(true) "> 0", Some(false) "== 0".
    pub fn get(&self, counter: &str) -> Option<bool> {
        self.checks.get(counter).copied()
    }
}

// ------------------------------------------------------------------------------------------------
// Scenario: construction, validation, serialisation
// ------------------------------------------------------------------------------------------------

impl Scenario {
    /// A scenario with the given name and duration and every other setting at its default.
    pub fn new(name: impl Into<String>, duration_ms: u64) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            duration_ms,
            seeds: 8,
            topology: Topology::default(),
            sdk: Sdk::default(),
            workload: Workload::default(),
            network: Network::default(),
            runtime: Runtime::default(),
            faults: Vec::new(),
            expect: Expect::default(),
        }
    }

    /// Checks every rule of the contract on an already built scenario (`parse_scenario` does
    /// this too); `origin` prefixes the error message.
    pub fn validate(&self, origin: &str) -> Result<(), ScenarioError> {
        let err = |key: &str, message: String| Err(ScenarioError::at_key(origin, key, message));

        if self.name.trim().is_empty() {
            return err("name", "must not be empty".to_owned());
        }
        check_duration(origin, "duration", self.duration_ms, 1)?;
        if self.seeds == 0 {
            return err("seeds", "must be at least 1".to_owned());
        }

        // [topology]
        let topology = &self.topology;
        if !(1..=MAX_TENANTS).contains(&topology.tenants) {
            return err(
                "topology.tenants",
                format!(
                    "must be between 1 and {MAX_TENANTS}, got {}",
                    topology.tenants
                ),
            );
        }
        if topology.entities_per_tenant == 0 {
            return err(
                "topology.entities_per_tenant",
                "must be at least 1".to_owned(),
            );
        }
        let total = u64::from(topology.tenants) * u64::from(topology.entities_per_tenant);
        if total > MAX_TOTAL_ENTITIES {
            return err(
                "topology.entities_per_tenant",
                format!(
                    "tenants * entities_per_tenant = {total} entities; at most {MAX_TOTAL_ENTITIES} in total are supported"
                ),
            );
        }
        if topology.hierarchy.len() > MAX_HIERARCHY_DEPTH {
            return err(
                "topology.hierarchy",
                format!(
                    "has {} levels; at most {MAX_HIERARCHY_DEPTH} are supported",
                    topology.hierarchy.len()
                ),
            );
        }
        for (index, level) in topology.hierarchy.iter().enumerate() {
            let key = format!("topology.hierarchy[{index}]");
            if level.trim().is_empty() {
                return err(&key, "expected a non-empty level name".to_owned());
            }
            if topology.hierarchy[..index].contains(level) {
                return err(&key, format!("level name {level:?} appears twice"));
            }
        }

        // [sdk]
        let sdk = &self.sdk;
        check_duration(
            origin,
            "sdk.stats_min_interval",
            sdk.stats_min_interval_ms,
            1,
        )?;
        check_duration(
            origin,
            "sdk.tenant_aggregation_interval",
            sdk.tenant_aggregation_interval_ms,
            1,
        )?;
        check_duration(origin, "sdk.rpc_timeout", sdk.rpc_timeout_ms, 1)?;
        check_ratio(origin, "sdk.sample_rate", sdk.sample_rate)?;
        let breaker = &sdk.breaker;
        if breaker.failure_threshold == 0 {
            return err(
                "sdk.breaker.failure_threshold",
                "must be at least 1".to_owned(),
            );
        }
        check_duration(
            origin,
            "sdk.breaker.reset_timeout",
            breaker.reset_timeout_ms,
            1,
        )?;
        if breaker.half_open_max_probes == 0 {
            return err(
                "sdk.breaker.half_open_max_probes",
                "must be at least 1".to_owned(),
            );
        }
        check_ratio(
            origin,
            "sdk.breaker.reset_timeout_jitter",
            breaker.reset_timeout_jitter_ratio,
        )?;
        let growth = breaker.reset_timeout_growth_factor;
        if !(1.0..=16.0).contains(&growth) {
            return err(
                "sdk.breaker.reset_timeout_growth",
                format!("expected a factor from 1.0 to 16.0, got {growth}"),
            );
        }
        check_duration(
            origin,
            "sdk.breaker.reset_timeout_max",
            breaker.reset_timeout_max_ms,
            breaker.reset_timeout_ms,
        )?;

        // [workload]
        let workload = &self.workload;
        check_rate_limit(
            origin,
            "workload.cache_ops_per_sec",
            workload.cache_ops_per_sec,
            MAX_CACHE_OPS_PER_SEC,
        )?;
        check_ratio(origin, "workload.hit_ratio", workload.hit_ratio)?;
        check_rate_limit(
            origin,
            "workload.fact_appends_per_min",
            workload.fact_appends_per_min,
            MAX_FACT_APPENDS_PER_MIN,
        )?;

        // [network]
        let network = &self.network;
        check_duration(origin, "network.latency[0]", network.latency_min_ms, 0)?;
        check_duration(origin, "network.latency[1]", network.latency_max_ms, 0)?;
        if network.latency_min_ms > network.latency_max_ms {
            return err(
                "network.latency",
                format!(
                    "expected [min, max] with min <= max, got min {} ms > max {} ms",
                    network.latency_min_ms, network.latency_max_ms
                ),
            );
        }
        check_ratio(origin, "network.packet_loss", network.packet_loss)?;

        // [runtime]
        if self.runtime.max_in_flight == 0 {
            return err("runtime.max_in_flight", "must be at least 1".to_owned());
        }
        check_duration(
            origin,
            "runtime.service_time",
            self.runtime.service_time_ms,
            0,
        )?;

        // [[faults]]
        if self.faults.len() > MAX_FAULTS {
            return err(
                "faults",
                format!(
                    "has {} entries; at most {MAX_FAULTS} are supported",
                    self.faults.len()
                ),
            );
        }
        for (index, fault) in self.faults.iter().enumerate() {
            self.validate_fault(origin, index, fault)?;
        }

        // [expect]
        for counter in self.expect.checks.keys() {
            if !EXPECT_COUNTERS.contains(&counter.as_str()) {
                return err(
                    &format!("expect.{counter}"),
                    format!(
                        "unknown counter; expected one of: {}",
                        EXPECT_COUNTERS.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    fn validate_fault(
        &self,
        origin: &str,
        index: usize,
        fault: &Fault,
    ) -> Result<(), ScenarioError> {
        let key = |name: &str| format!("faults[{index}].{name}");
        let err =
            |name: &str, message: String| Err(ScenarioError::at_key(origin, key(name), message));
        let kind = fault.kind.name();
        let multi_tenant = self.topology.mode == Mode::MultiTenant;
        let tenants = self.topology.tenants;

        if fault.at_ms >= self.duration_ms {
            return err(
                "at",
                format!(
                    "starts at or after the run's end: expected a time before the run's duration ({} ms), got {} ms",
                    self.duration_ms, fault.at_ms
                ),
            );
        }
        check_duration(origin, &key("duration"), fault.duration_ms, 1)?;

        match &fault.kind {
            FaultKind::SystemLedgerDown => {}
            FaultKind::SystemLedgerOverloaded { rate }
            | FaultKind::PacketLoss { rate }
            | FaultKind::AlarmFailure { rate }
            | FaultKind::HostileFacts { rate } => check_ratio(origin, &key("rate"), *rate)?,
            FaultKind::QueueDuplicate { rate } | FaultKind::QueueConsumerFailure { rate } => {
                if !multi_tenant || self.topology.platform_sink != PlatformSink::Queue {
                    return err(
                        "kind",
                        format!(
                            "{kind} faults need the platform queue: topology.mode = \"multi_tenant\" and topology.platform_sink = \"queue\""
                        ),
                    );
                }
                check_ratio(origin, &key("rate"), *rate)?;
            }
            FaultKind::SystemLedgerSlow { extra_latency_ms } => {
                check_duration(origin, &key("extra_latency"), *extra_latency_ms, 1)?;
            }
            FaultKind::Evict { fraction } => check_ratio(origin, &key("fraction"), *fraction)?,
            FaultKind::Misroute { fraction } => {
                if !multi_tenant || self.topology.tenants < 2 {
                    return err(
                        "kind",
                        "misroute faults need topology.mode = \"multi_tenant\" and at least 2 tenants"
                            .to_owned(),
                    );
                }
                check_ratio(origin, &key("fraction"), *fraction)?;
            }
            FaultKind::Partition { between } => {
                for group in between {
                    let problem = match *group {
                        Group::Entities => None,
                        Group::System if multi_tenant => Some(
                            "\"system\" exists only in single mode; in multi_tenant mode use \"tenant:<n>\" or \"platform\"".to_owned(),
                        ),
                        Group::System => None,
                        Group::Tenant(_) | Group::Platform if !multi_tenant => Some(format!(
                            "{group:?} exists only in multi_tenant mode (topology.mode = \"multi_tenant\")",
                            group = group.to_string()
                        )),
                        Group::Tenant(n) if n >= tenants => Some(no_such_tenant(n, tenants)),
                        Group::Tenant(_) | Group::Platform => None,
                    };
                    if let Some(problem) = problem {
                        return err("between", problem);
                    }
                }
                if between[0] == between[1] {
                    return err(
                        "between",
                        format!(
                            "expected two different groups, got {:?} twice",
                            between[0].to_string()
                        ),
                    );
                }
            }
        }

        if let Some(target) = fault.target {
            if !fault.kind.takes_target() {
                return err(
                    "target",
                    format!(
                        "`target` is not a key of {kind} faults; they take: {}",
                        fault.kind.tag().keys().join(", ")
                    ),
                );
            }
            let problem = match target {
                Target::System if multi_tenant => Some(
                    "\"system\" exists only in single mode; in multi_tenant mode use \"tenant:<n>\" or \"platform\"".to_owned(),
                ),
                Target::System => None,
                Target::Tenant(_) | Target::Platform if !multi_tenant => Some(format!(
                    "{:?} exists only in multi_tenant mode (topology.mode = \"multi_tenant\")",
                    target.to_string()
                )),
                Target::Tenant(n) if n >= tenants => Some(no_such_tenant(n, tenants)),
                Target::Tenant(_) | Target::Platform => None,
            };
            if let Some(problem) = problem {
                return err("target", problem);
            }
        }
        Ok(())
    }

    /// The scenario in the contract's TOML format: every key written out, durations as
    /// `"<n>ms"`. For a valid scenario `parse_scenario(&s.to_toml(), _) == Ok(s)`.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        push_line(&mut out, "name", toml_string(&self.name));
        push_line(&mut out, "description", toml_string(&self.description));
        push_line(&mut out, "duration", toml_duration(self.duration_ms));
        push_line(&mut out, "seeds", self.seeds.to_string());

        let t = &self.topology;
        out.push_str("\n[topology]\n");
        push_line(&mut out, "mode", toml_string(t.mode.as_str()));
        push_line(&mut out, "tenants", t.tenants.to_string());
        push_line(
            &mut out,
            "entities_per_tenant",
            t.entities_per_tenant.to_string(),
        );
        let levels: Vec<String> = t.hierarchy.iter().map(|l| toml_string(l)).collect();
        push_line(&mut out, "hierarchy", format!("[{}]", levels.join(", ")));
        push_line(
            &mut out,
            "platform_sink",
            toml_string(t.platform_sink.as_str()),
        );

        let s = &self.sdk;
        out.push_str("\n[sdk]\n");
        push_line(&mut out, "observability", s.observability.to_string());
        push_line(
            &mut out,
            "fallback_on_failure",
            s.fallback_on_failure.to_string(),
        );
        push_line(&mut out, "warn_on_fallback", s.warn_on_fallback.to_string());
        push_line(
            &mut out,
            "stats_min_interval",
            toml_duration(s.stats_min_interval_ms),
        );
        push_line(
            &mut out,
            "tenant_aggregation_interval",
            toml_duration(s.tenant_aggregation_interval_ms),
        );
        push_line(&mut out, "rpc_timeout", toml_duration(s.rpc_timeout_ms));
        push_line(&mut out, "sample_rate", toml_float(s.sample_rate));

        let b = &s.breaker;
        out.push_str("\n[sdk.breaker]\n");
        push_line(
            &mut out,
            "failure_threshold",
            b.failure_threshold.to_string(),
        );
        push_line(&mut out, "reset_timeout", toml_duration(b.reset_timeout_ms));
        push_line(
            &mut out,
            "half_open_max_probes",
            b.half_open_max_probes.to_string(),
        );
        push_line(
            &mut out,
            "reset_timeout_jitter",
            toml_float(b.reset_timeout_jitter_ratio),
        );
        push_line(
            &mut out,
            "reset_timeout_growth",
            toml_float(b.reset_timeout_growth_factor),
        );
        push_line(
            &mut out,
            "reset_timeout_max",
            toml_duration(b.reset_timeout_max_ms),
        );

        let w = &self.workload;
        out.push_str("\n[workload]\n");
        push_line(
            &mut out,
            "cache_ops_per_sec",
            toml_float(w.cache_ops_per_sec),
        );
        push_line(&mut out, "hit_ratio", toml_float(w.hit_ratio));
        push_line(
            &mut out,
            "fact_appends_per_min",
            toml_float(w.fact_appends_per_min),
        );

        let n = &self.network;
        out.push_str("\n[network]\n");
        push_line(
            &mut out,
            "latency",
            format!(
                "[{}, {}]",
                toml_duration(n.latency_min_ms),
                toml_duration(n.latency_max_ms)
            ),
        );
        push_line(&mut out, "packet_loss", toml_float(n.packet_loss));
        push_line(&mut out, "transport", format!("\"{}\"", n.transport.name()));

        out.push_str("\n[runtime]\n");
        push_line(
            &mut out,
            "max_in_flight",
            self.runtime.max_in_flight.to_string(),
        );
        push_line(
            &mut out,
            "service_time",
            toml_duration(self.runtime.service_time_ms),
        );

        for fault in &self.faults {
            out.push_str("\n[[faults]]\n");
            push_line(&mut out, "kind", toml_string(fault.kind.name()));
            push_line(&mut out, "at", toml_duration(fault.at_ms));
            push_line(&mut out, "duration", toml_duration(fault.duration_ms));
            match &fault.kind {
                FaultKind::SystemLedgerDown => {}
                FaultKind::SystemLedgerOverloaded { rate }
                | FaultKind::PacketLoss { rate }
                | FaultKind::AlarmFailure { rate }
                | FaultKind::QueueDuplicate { rate }
                | FaultKind::QueueConsumerFailure { rate }
                | FaultKind::HostileFacts { rate } => {
                    push_line(&mut out, "rate", toml_float(*rate));
                }
                FaultKind::SystemLedgerSlow { extra_latency_ms } => {
                    push_line(&mut out, "extra_latency", toml_duration(*extra_latency_ms));
                }
                FaultKind::Partition { between } => push_line(
                    &mut out,
                    "between",
                    format!(
                        "[{}, {}]",
                        toml_string(&between[0].to_string()),
                        toml_string(&between[1].to_string())
                    ),
                ),
                FaultKind::Evict { fraction } | FaultKind::Misroute { fraction } => {
                    push_line(&mut out, "fraction", toml_float(*fraction));
                }
            }
            if let Some(target) = fault.target {
                push_line(&mut out, "target", toml_string(&target.to_string()));
            }
        }

        if !self.expect.checks.is_empty() {
            out.push_str("\n[expect]\n");
            for (counter, wanted) in &self.expect.checks {
                push_line(&mut out, &toml_key(counter), wanted.to_string());
            }
        }
        out
    }
}

fn no_such_tenant(n: u32, tenants: u32) -> String {
    format!(
        "tenant {n} does not exist: tenants are numbered from 0 to {} (topology.tenants = {tenants})",
        tenants.saturating_sub(1)
    )
}

fn check_duration(origin: &str, key: &str, ms: u64, min_ms: u64) -> Result<(), ScenarioError> {
    if ms < min_ms {
        let message = if min_ms == 1 {
            format!("must be longer than 0 ms, got {ms} ms")
        } else {
            format!("must be at least {min_ms} ms, got {ms} ms")
        };
        return Err(ScenarioError::at_key(origin, key, message));
    }
    if ms > MAX_DURATION_MS {
        return Err(ScenarioError::at_key(
            origin,
            key,
            format!("must be at most 30 days ({MAX_DURATION_MS} ms), got {ms} ms"),
        ));
    }
    Ok(())
}

fn check_ratio(origin: &str, key: &str, value: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ScenarioError::at_key(
            origin,
            key,
            format!("expected a number from 0.0 to 1.0, got {value}"),
        ))
    }
}

fn check_rate_limit(origin: &str, key: &str, value: f64, max: f64) -> Result<(), ScenarioError> {
    if value.is_finite() && (0.0..=max).contains(&value) {
        Ok(())
    } else {
        Err(ScenarioError::at_key(
            origin,
            key,
            format!("expected a number from 0.0 to {max:?} (per entity), got {value}"),
        ))
    }
}

fn push_line(out: &mut String, key: &str, value: String) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(&value);
    out.push('\n');
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when possible, else quoted.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A TOML float that parses back to exactly `value` (finite values; others are written as
/// TOML's `nan`/`inf`, which validation rejects anyway).
fn toml_float(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        // `{:?}` is the shortest representation that round-trips, always with `.` or `e`.
        format!("{value:?}")
    }
}

fn toml_duration(ms: u64) -> String {
    format!("\"{ms}ms\"")
}

// ------------------------------------------------------------------------------------------------
// Raw TOML structs
// ------------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    description: Option<String>,
    duration: Option<RawDuration>,
    seeds: Option<i64>,
    topology: Option<RawTopology>,
    sdk: Option<RawSdk>,
    workload: Option<RawWorkload>,
    network: Option<RawNetwork>,
    runtime: Option<RawRuntime>,
    faults: Option<Vec<RawFault>>,
    expect: Option<RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    mode: Option<Mode>,
    tenants: Option<i64>,
    entities_per_tenant: Option<i64>,
    hierarchy: Option<Vec<String>>,
    platform_sink: Option<PlatformSink>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSdk {
    observability: Option<bool>,
    fallback_on_failure: Option<bool>,
    warn_on_fallback: Option<bool>,
    stats_min_interval: Option<RawDuration>,
    tenant_aggregation_interval: Option<RawDuration>,
    rpc_timeout: Option<RawDuration>,
    sample_rate: Option<f64>,
    breaker: Option<RawBreaker>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    failure_threshold: Option<i64>,
    reset_timeout: Option<RawDuration>,
    half_open_max_probes: Option<i64>,
    reset_timeout_jitter: Option<f64>,
    reset_timeout_growth: Option<f64>,
    reset_timeout_max: Option<RawDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    cache_ops_per_sec: Option<f64>,
    hit_ratio: Option<f64>,
    fact_appends_per_min: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    latency: Option<Vec<RawDuration>>,
    packet_loss: Option<f64>,
    transport: Option<Transport>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    max_in_flight: Option<i64>,
    service_time: Option<RawDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    kind: Option<KindTag>,
    at: Option<RawDuration>,
    duration: Option<RawDuration>,
    target: Option<String>,
    rate: Option<f64>,
    extra_latency: Option<RawDuration>,
    between: Option<Vec<String>>,
    fraction: Option<f64>,
}

/// `[expect]`: counter name -> bool; names are checked against [`EXPECT_COUNTERS`] in
/// `validate`, which reports an unknown one by its key path.
#[derive(Deserialize)]
#[serde(transparent)]
struct RawExpect(BTreeMap<String, bool>);

impl RawExpect {
    fn into_checks(self) -> BTreeMap<String, bool> {
        self.0
    }
}

/// The fault kinds as spelled in TOML, without their keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindTag {
    SystemLedgerDown,
    SystemLedgerOverloaded,
    SystemLedgerSlow,
    Partition,
    PacketLoss,
    Evict,
    AlarmFailure,
    QueueDuplicate,
    QueueConsumerFailure,
    Misroute,
    HostileFacts,
}

impl KindTag {
    fn name(self) -> &'static str {
        match self {
            KindTag::SystemLedgerDown => "system_ledger_down",
            KindTag::SystemLedgerOverloaded => "system_ledger_overloaded",
            KindTag::SystemLedgerSlow => "system_ledger_slow",
            KindTag::Partition => "partition",
            KindTag::PacketLoss => "packet_loss",
            KindTag::Evict => "evict",
            KindTag::AlarmFailure => "alarm_failure",
            KindTag::QueueDuplicate => "queue_duplicate",
            KindTag::QueueConsumerFailure => "queue_consumer_failure",
            KindTag::Misroute => "misroute",
            KindTag::HostileFacts => "hostile_facts",
        }
    }

    /// Every key a fault of this kind takes (`at`, `duration` and `kind` are implied).
    fn keys(self) -> &'static [&'static str] {
        match self {
            KindTag::SystemLedgerDown => &["at", "duration", "target"],
            KindTag::SystemLedgerOverloaded | KindTag::AlarmFailure => {
                &["at", "duration", "rate", "target"]
            }
            KindTag::SystemLedgerSlow => &["at", "duration", "extra_latency", "target"],
            KindTag::Partition => &["at", "duration", "between"],
            KindTag::PacketLoss
            | KindTag::QueueDuplicate
            | KindTag::QueueConsumerFailure
            | KindTag::HostileFacts => &["at", "duration", "rate"],
            KindTag::Evict | KindTag::Misroute => &["at", "duration", "fraction"],
        }
    }
}

/// A duration value as written: a string to be parsed, or a bare number (always an error,
/// reported with the key path).
enum RawDuration {
    Text(String),
    Number(String),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a duration string with a unit, such as {DURATION_EXAMPLES}"
                )
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<RawDuration, E> {
                Ok(RawDuration::Text(text.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(n.to_string()))
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(n.to_string()))
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<RawDuration, E> {
                Ok(RawDuration::Number(n.to_string()))
            }
        }

        deserializer.deserialize_any(DurationVisitor)
    }
}

// ------------------------------------------------------------------------------------------------
// Raw -> public, with the checks that need the raw form
// ------------------------------------------------------------------------------------------------

struct Convert<'a> {
    origin: &'a str,
}

impl Convert<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_key(self.origin, key, message)
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario, ScenarioError> {
        let name = raw.name.ok_or_else(|| {
            self.err(
                "name",
                "is required: expected e.g. name = \"system-ledger-outage\"",
            )
        })?;
        let duration_ms = match raw.duration {
            Some(duration) => self.duration("duration", duration)?,
            None => {
                return Err(self.err(
                    "duration",
                    format!(
                        "is required: expected the simulated time to run, a duration with a unit such as {DURATION_EXAMPLES}"
                    ),
                ))
            }
        };
        let mut scenario = Scenario::new(name, duration_ms);
        if let Some(description) = raw.description {
            scenario.description = description;
        }
        if let Some(seeds) = raw.seeds {
            scenario.seeds = self.count("seeds", seeds, 1, u64::from(u32::MAX))?;
        }
        if let Some(topology) = raw.topology {
            self.topology(&mut scenario.topology, topology)?;
        }
        if let Some(sdk) = raw.sdk {
            self.sdk(&mut scenario.sdk, sdk)?;
        }
        if let Some(workload) = raw.workload {
            let w = &mut scenario.workload;
            w.cache_ops_per_sec = workload.cache_ops_per_sec.unwrap_or(w.cache_ops_per_sec);
            w.hit_ratio = workload.hit_ratio.unwrap_or(w.hit_ratio);
            w.fact_appends_per_min = workload
                .fact_appends_per_min
                .unwrap_or(w.fact_appends_per_min);
        }
        if let Some(network) = raw.network {
            let n = &mut scenario.network;
            if let Some(latency) = network.latency {
                if latency.len() != 2 {
                    return Err(self.err(
                        "network.latency",
                        format!(
                            "expected two durations [min, max], e.g. latency = [\"1ms\", \"10ms\"], got {} values",
                            latency.len()
                        ),
                    ));
                }
                let mut values = latency.into_iter();
                if let (Some(min), Some(max)) = (values.next(), values.next()) {
                    n.latency_min_ms = self.duration("network.latency[0]", min)?;
                    n.latency_max_ms = self.duration("network.latency[1]", max)?;
                }
            }
            n.packet_loss = network.packet_loss.unwrap_or(n.packet_loss);
            n.transport = network.transport.unwrap_or(n.transport);
        }
        if let Some(runtime) = raw.runtime {
            let r = &mut scenario.runtime;
            if let Some(max_in_flight) = runtime.max_in_flight {
                r.max_in_flight = self.count(
                    "runtime.max_in_flight",
                    max_in_flight,
                    1,
                    u64::from(u32::MAX),
                )?;
            }
            if let Some(service_time) = runtime.service_time {
                r.service_time_ms = self.duration("runtime.service_time", service_time)?;
            }
        }
        if let Some(faults) = raw.faults {
            if faults.len() > MAX_FAULTS {
                return Err(self.err(
                    "faults",
                    format!(
                        "has {} entries; at most {MAX_FAULTS} are supported",
                        faults.len()
                    ),
                ));
            }
            for (index, fault) in faults.into_iter().enumerate() {
                let fault = self.fault(index, fault)?;
                scenario.faults.push(fault);
            }
        }
        if let Some(expect) = raw.expect {
            scenario.expect.checks = expect.into_checks();
        }
        Ok(scenario)
    }

    fn topology(&self, t: &mut Topology, raw: RawTopology) -> Result<(), ScenarioError> {
        t.mode = raw.mode.unwrap_or(t.mode);
        if let Some(tenants) = raw.tenants {
            t.tenants = self.count("topology.tenants", tenants, 1, u64::from(MAX_TENANTS))?;
        }
        if let Some(entities) = raw.entities_per_tenant {
            t.entities_per_tenant = self.count(
                "topology.entities_per_tenant",
                entities,
                1,
                MAX_TOTAL_ENTITIES,
            )?;
        }
        if let Some(hierarchy) = raw.hierarchy {
            t.hierarchy = hierarchy;
        }
        t.platform_sink = raw.platform_sink.unwrap_or(t.platform_sink);
        Ok(())
    }

    fn sdk(&self, s: &mut Sdk, raw: RawSdk) -> Result<(), ScenarioError> {
        s.observability = raw.observability.unwrap_or(s.observability);
        s.fallback_on_failure = raw.fallback_on_failure.unwrap_or(s.fallback_on_failure);
        s.warn_on_fallback = raw.warn_on_fallback.unwrap_or(s.warn_on_fallback);
        if let Some(d) = raw.stats_min_interval {
            s.stats_min_interval_ms = self.duration("sdk.stats_min_interval", d)?;
        }
        if let Some(d) = raw.tenant_aggregation_interval {
            s.tenant_aggregation_interval_ms =
                self.duration("sdk.tenant_aggregation_interval", d)?;
        }
        if let Some(d) = raw.rpc_timeout {
            s.rpc_timeout_ms = self.duration("sdk.rpc_timeout", d)?;
        }
        s.sample_rate = raw.sample_rate.unwrap_or(s.sample_rate);
        if let Some(breaker) = raw.breaker {
            let b = &mut s.breaker;
            if let Some(threshold) = breaker.failure_threshold {
                b.failure_threshold = self.count(
                    "sdk.breaker.failure_threshold",
                    threshold,
                    1,
                    u64::from(u32::MAX),
                )?;
            }
            if let Some(d) = breaker.reset_timeout {
                b.reset_timeout_ms = self.duration("sdk.breaker.reset_timeout", d)?;
            }
            if let Some(probes) = breaker.half_open_max_probes {
                b.half_open_max_probes = self.count(
                    "sdk.breaker.half_open_max_probes",
                    probes,
                    1,
                    u64::from(u32::MAX),
                )?;
            }
            b.reset_timeout_jitter_ratio = breaker
                .reset_timeout_jitter
                .unwrap_or(b.reset_timeout_jitter_ratio);
            b.reset_timeout_growth_factor = breaker
                .reset_timeout_growth
                .unwrap_or(b.reset_timeout_growth_factor);
            b.reset_timeout_max_ms = match breaker.reset_timeout_max {
                Some(d) => self.duration("sdk.breaker.reset_timeout_max", d)?,
                None => b.reset_timeout_max_ms.max(b.reset_timeout_ms),
            };
        }
        Ok(())
    }

    fn fault(&self, index: usize, raw: RawFault) -> Result<Fault, ScenarioError> {
        let key = |name: &str| format!("faults[{index}].{name}");
        let Some(tag) = raw.kind else {
            return Err(self.err(
                key("kind"),
                "is required: expected one of system_ledger_down, system_ledger_overloaded, system_ledger_slow, partition, packet_loss, evict, alarm_failure, queue_duplicate, queue_consumer_failure, misroute",
            ));
        };
        let kind_name = tag.name();
        let allowed = tag.keys();
        let present = [
            ("target", raw.target.is_some()),
            ("rate", raw.rate.is_some()),
            ("extra_latency", raw.extra_latency.is_some()),
            ("between", raw.between.is_some()),
            ("fraction", raw.fraction.is_some()),
        ];
        for (name, is_present) in present {
            if is_present && !allowed.contains(&name) {
                return Err(self.err(
                    key(name),
                    format!(
                        "`{name}` is not a key of {kind_name} faults; they take: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let required = |name: &str, example: &str| {
            self.err(
                key(name),
                format!("is required for {kind_name} faults, e.g. {name} = {example}"),
            )
        };
        let at_ms = match raw.at {
            Some(at) => self.duration(&key("at"), at)?,
            None => return Err(required("at", "\"3m\" (when it starts)")),
        };
        let duration_ms = match raw.duration {
            Some(duration) => self.duration(&key("duration"), duration)?,
            None => return Err(required("duration", "\"3m\" (how long it lasts)")),
        };
        let rate = || raw.rate.ok_or_else(|| required("rate", "0.5"));
        let kind = match tag {
            KindTag::SystemLedgerDown => FaultKind::SystemLedgerDown,
            KindTag::SystemLedgerOverloaded => FaultKind::SystemLedgerOverloaded { rate: rate()? },
            KindTag::PacketLoss => FaultKind::PacketLoss { rate: rate()? },
            KindTag::AlarmFailure => FaultKind::AlarmFailure { rate: rate()? },
            KindTag::QueueDuplicate => FaultKind::QueueDuplicate { rate: rate()? },
            KindTag::QueueConsumerFailure => FaultKind::QueueConsumerFailure { rate: rate()? },
            KindTag::HostileFacts => FaultKind::HostileFacts { rate: rate()? },
            KindTag::SystemLedgerSlow => match raw.extra_latency {
                Some(extra) => FaultKind::SystemLedgerSlow {
                    extra_latency_ms: self.duration(&key("extra_latency"), extra)?,
                },
                None => return Err(required("extra_latency", "\"500ms\"")),
            },
            KindTag::Evict => match raw.fraction {
                Some(fraction) => FaultKind::Evict { fraction },
                None => return Err(required("fraction", "0.5")),
            },
            KindTag::Misroute => match raw.fraction {
                Some(fraction) => FaultKind::Misroute { fraction },
                None => return Err(required("fraction", "0.5")),
            },
            KindTag::Partition => {
                let Some(between) = raw.between else {
                    return Err(required("between", "[\"entities\", \"system\"]"));
                };
                if between.len() != 2 {
                    return Err(self.err(
                        key("between"),
                        format!(
                            "expected two groups [A, B], e.g. between = [\"entities\", \"system\"], got {} values",
                            between.len()
                        ),
                    ));
                }
                let a = Group::parse(&between[0]).map_err(|m| self.err(key("between"), m))?;
                let b = Group::parse(&between[1]).map_err(|m| self.err(key("between"), m))?;
                FaultKind::Partition { between: [a, b] }
            }
        };
        let target = match raw.target {
            Some(text) => Some(Target::parse(&text).map_err(|m| self.err(key("target"), m))?),
            None => None,
        };
        Ok(Fault {
            kind,
            at_ms,
            duration_ms,
            target,
        })
    }

    /// An integer key in `min..=max`, as u32.
    fn count(&self, key: &str, value: i64, min: u64, max: u64) -> Result<u32, ScenarioError> {
        let max = max.min(u64::from(u32::MAX));
        match u64::try_from(value) {
            Ok(v) if (min..=max).contains(&v) => u32::try_from(v).map_err(|_| {
                self.err(key, format!("must be between {min} and {max}, got {value}"))
            }),
            _ => Err(self.err(key, format!("must be between {min} and {max}, got {value}"))),
        }
    }

    /// A duration string with a unit, in whole ms.
    fn duration(&self, key: &str, raw: RawDuration) -> Result<u64, ScenarioError> {
        let text = match raw {
            RawDuration::Number(number) => {
                return Err(self.err(
                    key,
                    format!(
                        "expected a duration with a unit, such as {DURATION_EXAMPLES}; got the bare number {number}"
                    ),
                ))
            }
            RawDuration::Text(text) => text,
        };
        if !text.chars().any(|c| c.is_alphabetic()) {
            return Err(self.err(
                key,
                format!(
                    "expected a duration with a unit, such as {DURATION_EXAMPLES}; got {text:?} (no unit)"
                ),
            ));
        }
        let duration = humantime::parse_duration(text.trim()).map_err(|error| {
            self.err(
                key,
                format!(
                    "expected a duration with a unit, such as {DURATION_EXAMPLES}; got {text:?} ({error})"
                ),
            )
        })?;
        if duration.subsec_nanos() % 1_000_000 != 0 {
            return Err(self.err(
                key,
                format!("expected a whole number of milliseconds, got {text:?}"),
            ));
        }
        let ms = duration.as_millis();
        if ms > u128::from(MAX_DURATION_MS) {
            return Err(self.err(
                key,
                format!("must be at most 30 days ({MAX_DURATION_MS} ms), got {text:?}"),
            ));
        }
        // In range: at most MAX_DURATION_MS.
        Ok(u64::try_from(ms).unwrap_or(MAX_DURATION_MS))
    }
}
