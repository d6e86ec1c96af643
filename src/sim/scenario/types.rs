//! The scenario's public types, their defaults and how groups and targets are spelled.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::model::{
    AlarmOnFailure, AlarmRearm, BootstrapConfig, BreakerConfig, StatsConfig, TenantConfig,
};
use crate::runtime::Transport;

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
    /// `PLATFORM_METRICS_QUEUE` (`[queue]`, multi_tenant with the queue sink).
    pub queue: QueueSettings,
    /// The read side (`[reader]`).
    pub reader: ReaderSettings,
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
    /// `system_shards` (an extension): the SystemLedger sharded by tenant, each tenant's
    /// facts to one shard (default 1: one SystemLedger; used in single mode only).
    pub system_shards: u32,
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
    /// `tenant_alarm_rearm`: what a tenant ledger's alarm handler does about its own failures
    /// (default `on_input`).
    pub tenant_alarm_rearm: AlarmRearm,
    /// `tenant_alarm_on_failure`: what a tenant ledger's alarm handler does when a flush fails
    /// (default `rearm`).
    pub tenant_alarm_on_failure: AlarmOnFailure,
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
    /// `flush_stats_per_min` per entity: explicit `flushStats()` calls (default 0.0).
    pub flush_stats_per_min: f64,
    /// `stats_toggles_per_min` per entity: stats tracking turned off, or on again (default
    /// 0.0).
    pub stats_toggles_per_min: f64,
    /// `start_spread`: each entity arrives (is first asked for, so first constructed) at a
    /// time drawn uniformly within it, ms (default: `sdk.stats_min_interval`; 0: all at t = 0).
    pub start_spread_ms: u64,
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
    /// `max_in_flight`: requests a Durable Object holds queued (the one in service included)
    /// before it answers `overloaded` (default 1000).
    pub max_in_flight: u32,
    /// `max_queued_bytes`: bytes of queued requests before `overloaded` (default 32 MiB).
    pub max_queued_bytes: u64,
    /// `max_queue_age`: how long the oldest queued request may wait before new ones are
    /// answered `overloaded`, ms (default 30 s).
    pub max_queue_age_ms: u64,
    /// `max_requests_per_10s`: requests an object accepts within 10 s before `overloaded`
    /// (default 10 000).
    pub max_requests_per_10s: u64,
    /// `service_time`: time an actor spends on one request, ms (default 1 ms).
    pub service_time_ms: u64,
    /// `idle_eviction`: idle Durable Objects are evicted from memory (default true, as on
    /// Cloudflare).
    pub idle_eviction: bool,
    /// `idle_eviction_after = [min, max]`: an idle stretch before an eviction is drawn from
    /// this range, ms (default 70 s to 140 s).
    pub idle_eviction_after_ms: (u64, u64),
    /// `hibernatable`: the objects are hibernatable, so an idle one goes after
    /// `hibernate_after` instead (default false: the z0 ledgers hold no WebSockets).
    pub hibernatable: bool,
    /// `hibernate_after`: idle stretch before a hibernatable object is hibernated, ms
    /// (default 10 s).
    pub hibernate_after_ms: u64,
}

impl Runtime {
    /// The overload rule these settings describe.
    pub fn overload_limits(&self) -> crate::runtime::overload::OverloadLimits {
        crate::runtime::overload::OverloadLimits {
            max_queued: self.max_in_flight as usize,
            max_queued_bytes: self.max_queued_bytes,
            max_queue_age_ms: self.max_queue_age_ms,
            max_requests_per_window: self.max_requests_per_10s,
        }
    }

    /// The idle eviction rule these settings describe.
    pub fn idle_config(&self) -> crate::runtime::idle::IdleConfig {
        crate::runtime::idle::IdleConfig {
            enabled: self.idle_eviction,
            evict_after_min_ms: self.idle_eviction_after_ms.0,
            evict_after_max_ms: self.idle_eviction_after_ms.1,
            hibernatable: self.hibernatable,
            hibernate_after_ms: self.hibernate_after_ms,
        }
    }
}

/// `[queue]`: `PLATFORM_METRICS_QUEUE`, with Cloudflare Queues' settings and defaults.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueSettings {
    /// `max_batch_size`: largest batch (default 10).
    pub max_batch_size: u32,
    /// `max_batch_timeout`: longest wait before a partial batch is delivered, ms (default 5 s).
    pub max_batch_timeout_ms: u64,
    /// `max_retries`: deliveries of a message after its first (default 3).
    pub max_retries: u32,
    /// `retry_delay`: wait before a retried message is delivered again, ms (default 0: at once).
    pub retry_delay_ms: u64,
    /// `dead_letter_queue`: exhausted messages go to a dead-letter queue; without one they are
    /// deleted (default false: a new Cloudflare queue has none).
    pub dead_letter_queue: bool,
    /// `dead_letter_replay`: a consumer of the dead-letter queue delivers its messages to the
    /// consumer Worker again until the platform stores them (default false; needs
    /// `dead_letter_queue`).
    pub dead_letter_replay: bool,
    /// `consumer_concurrency`: queue batches with the consumer Worker at once (default and
    /// Cloudflare's most: 250).
    pub consumer_concurrency: u32,
    /// `message_retention`: how long a message may wait for an acknowledgement before it is
    /// deleted, ms (default 4 days).
    pub message_retention_ms: u64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_batch_size: 10,
            max_batch_timeout_ms: 5_000,
            max_retries: 3,
            retry_delay_ms: 0,
            dead_letter_queue: false,
            dead_letter_replay: false,
            consumer_concurrency: 250,
            message_retention_ms: 4 * 24 * 3_600_000,
        }
    }
}

/// `[reader]`: a dashboard querying the ledgers (`getSdkFacts`, `getCacheStats`, `getStats`)
/// over the network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReaderSettings {
    /// `reads_per_min`: reads per minute, in all (default 2.0; 0 turns the reader off).
    pub reads_per_min: f64,
}

impl Default for ReaderSettings {
    fn default() -> Self {
        Self { reads_per_min: 2.0 }
    }
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
    /// `"evict_entities"` (extension): these entity ledgers (actor names) restart at `at`; an
    /// `evict` with its random pick made explicit (`z0sim run --export`).
    EvictEntities {
        /// `entities`: actor names, e.g. `entity:t0/account-3`.
        entities: Vec<String>,
    },
    /// `"misroute_entities"` (extension): these entities of tenant 0 send their SDK facts to
    /// tenant 1's TenantSystemLedger; a `misroute` with its random pick made explicit.
    MisrouteEntities {
        /// `entities`: actor names of tenant 0's entities.
        entities: Vec<String>,
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
    /// `"system"`: the SystemLedger, every shard of it (single mode).
    System,
    /// `"system:<n>"`: SystemLedger shard n (single mode, `system_shards` > n).
    SystemShard(u32),
    /// `"tenant:<n>"`: the TenantSystemLedger of tenant n (multi_tenant mode).
    Tenant(u32),
    /// `"platform"`: the platform SystemLedger (multi_tenant mode).
    Platform,
}

/// The system ledger a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// `"system"`: the SystemLedger, every shard of it (single mode).
    System,
    /// `"system:<n>"`: SystemLedger shard n (single mode, `system_shards` > n).
    SystemShard(u32),
    /// `"tenant:<n>"`: the TenantSystemLedger of tenant n (multi_tenant mode).
    Tenant(u32),
    /// `"platform"`: the platform SystemLedger (multi_tenant mode).
    Platform,
}

/// `[expect]`: what a passing run must also show.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Expect {
    /// Counter name (one of [`EXPECT_COUNTERS`](super::EXPECT_COUNTERS)) or distribution name
    /// (one of [`EXPECT_DISTRIBUTIONS`](super::EXPECT_DISTRIBUTIONS)) -> what it must be at the
    /// end of the run. Names not listed have no requirement.
    pub checks: BTreeMap<String, Requirement>,
    /// `violations`: the invariants that must fail (a known weakness the scenario shows); the
    /// run passes only if exactly these fail. Empty: every invariant must hold.
    pub violations: BTreeSet<String>,
}

/// One `[expect]` requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Requirement {
    /// `counter = true`: above 0 at the end of the run; `false`: 0.
    Positive(bool),
    /// `counter = { min = 1, max = 40 }`: within these bounds, both included (either may be
    /// left out, not both).
    Range {
        /// `min`.
        min: Option<u64>,
        /// `max`.
        max: Option<u64>,
    },
    /// `distribution = { p50_max = "1s", p99_max = "90s", max_max = "2m" }`: its percentiles
    /// at most these (any of the three, at least one).
    Distribution {
        /// `p50_max`, ms.
        p50_max_ms: Option<u64>,
        /// `p99_max`, ms.
        p99_max_ms: Option<u64>,
        /// `max_max`, ms.
        max_max_ms: Option<u64>,
    },
}

impl Default for Topology {
    fn default() -> Self {
        Self {
            mode: Mode::Single,
            tenants: 1,
            entities_per_tenant: 20,
            hierarchy: Vec::new(),
            platform_sink: PlatformSink::Queue,
            system_shards: 1,
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
            tenant_alarm_rearm: AlarmRearm::OnInput,
            tenant_alarm_on_failure: AlarmOnFailure::Rearm,
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
            alarm_rearm: self.tenant_alarm_rearm,
            alarm_on_failure: self.tenant_alarm_on_failure,
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
            flush_stats_per_min: 0.0,
            stats_toggles_per_min: 0.0,
            // The default `sdk.stats_min_interval` (parsing follows a written one).
            start_spread_ms: 60_000,
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
            max_queued_bytes: 32 * 1024 * 1024,
            max_queue_age_ms: 30_000,
            max_requests_per_10s: 10_000,
            service_time_ms: 1,
            idle_eviction: true,
            idle_eviction_after_ms: (70_000, 140_000),
            hibernatable: false,
            hibernate_after_ms: 10_000,
        }
    }
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 2] = [Mode::Single, Mode::MultiTenant];

    /// The TOML spelling: `"single"` or `"multi_tenant"`.
    pub const fn as_str(self) -> &'static str {
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
    /// Every sink.
    pub const ALL: [PlatformSink; 2] = [PlatformSink::Queue, PlatformSink::Ledger];

    /// The TOML spelling: `"queue"` or `"ledger"`.
    pub const fn as_str(self) -> &'static str {
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
            Group::SystemShard(n) => write!(f, "system:{n}"),
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
            Target::SystemShard(n) => write!(f, "system:{n}"),
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
    parse_indexed(text, "tenant")
}

/// `"<prefix>:<n>"` -> `Ok(Some(n))`; another string -> `Ok(None)`; a bad index -> `Err`.
fn parse_indexed(text: &str, prefix: &str) -> Result<Option<u32>, String> {
    let Some(digits) = text
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
    else {
        return Ok(None);
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a {prefix} index after \"{prefix}:\" (e.g. \"{prefix}:0\"), got {text:?}"
        ));
    }
    digits
        .parse::<u32>()
        .map(Some)
        .map_err(|_| format!("{prefix} index in {text:?} is too large"))
}

impl Group {
    /// Parses `"entities"`, `"system"`, `"system:<n>"`, `"tenant:<n>"` or `"platform"`.
    pub fn parse(text: &str) -> Result<Group, String> {
        if text == "entities" {
            return Ok(Group::Entities);
        }
        match parse_ledger(text)? {
            Some(Target::System) => Ok(Group::System),
            Some(Target::SystemShard(n)) => Ok(Group::SystemShard(n)),
            Some(Target::Tenant(n)) => Ok(Group::Tenant(n)),
            Some(Target::Platform) => Ok(Group::Platform),
            None => Err(format!(
                "expected \"entities\", \"system\", \"system:<n>\", \"tenant:<n>\" or \"platform\", got {text:?}"
            )),
        }
    }
}

impl Target {
    /// Parses `"system"`, `"system:<n>"`, `"tenant:<n>"` or `"platform"`.
    pub fn parse(text: &str) -> Result<Target, String> {
        parse_ledger(text)?.ok_or_else(|| {
            format!(
                "expected \"system\", \"system:<n>\", \"tenant:<n>\" or \"platform\", got {text:?}"
            )
        })
    }
}

/// A system ledger's name (`Ok(None)`: not one; `Err`: a bad index).
fn parse_ledger(text: &str) -> Result<Option<Target>, String> {
    Ok(match text {
        "system" => Some(Target::System),
        "platform" => Some(Target::Platform),
        _ => match parse_indexed(text, "system")? {
            Some(n) => Some(Target::SystemShard(n)),
            None => parse_tenant_ref(text)?.map(Target::Tenant),
        },
    })
}

impl Expect {
    /// The boolean requirement on `counter`, if it has one: Some(true) "> 0", Some(false)
    /// "== 0".
    pub fn get(&self, counter: &str) -> Option<bool> {
        match self.checks.get(counter) {
            Some(Requirement::Positive(positive)) => Some(*positive),
            _ => None,
        }
    }
}

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
            queue: QueueSettings::default(),
            reader: ReaderSettings::default(),
            faults: Vec::new(),
            expect: Expect::default(),
        }
    }
}
