//! The settings of a scenario file, written once: every key with its section, type, range,
//! meaning and where it lives in [`Scenario`]. The parser, the validator, the TOML writer, the
//! fuzz dictionary and the documentation all read this table (the fault kinds have their own:
//! [`super::faults::FAULT_KINDS`]). Defaults are those of [`Scenario::new`].

use super::types::{Mode, PlatformSink, Scenario};
use super::{
    MAX_CACHE_OPS_PER_SEC, MAX_CONTROL_OPS_PER_MIN, MAX_DURATION_MS, MAX_FACT_APPENDS_PER_MIN,
    MAX_QUEUE_BATCH_SIZE, MAX_QUEUE_BATCH_TIMEOUT_MS, MAX_QUEUE_RETENTION_MS, MAX_QUEUE_RETRIES,
    MAX_QUEUE_RETRY_DELAY_MS, MAX_READS_PER_MIN, MAX_SYSTEM_SHARDS, MAX_TENANTS,
    MAX_TOTAL_ENTITIES, MIN_QUEUE_RETENTION_MS,
};
use crate::model::{AlarmOnFailure, AlarmRearm};
use crate::runtime::queue::MAX_CONSUMER_CONCURRENCY;
use crate::runtime::Transport;

/// A setting's type and range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A string; `non_blank`: it must hold more than white space.
    Text {
        /// Whether it must hold more than white space.
        non_blank: bool,
    },
    /// `true` or `false`.
    Bool,
    /// A whole number in `min..=max`.
    Count {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A finite number in `min..=max`.
    Number {
        /// Smallest allowed.
        min: f64,
        /// Largest allowed.
        max: f64,
        /// What it is, for messages (`"a number"`, `"a factor"`).
        noun: &'static str,
        /// Added to the range in messages (`" (per entity)"`).
        suffix: &'static str,
    },
    /// A duration string with a unit, from `min_ms` to `max_ms`.
    Duration {
        /// Shortest allowed, ms.
        min_ms: u64,
        /// Longest allowed, ms.
        max_ms: u64,
    },
    /// One of these strings.
    Choice {
        /// The allowed values.
        variants: &'static [&'static str],
    },
    /// A list of distinct, non-blank names (the hierarchy's levels).
    Levels,
    /// Two durations `[min, max]`, `min <= max`.
    LatencyRange,
}

/// A setting's value, as the table reads and writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// [`Kind::Text`].
    Text(String),
    /// [`Kind::Bool`].
    Bool(bool),
    /// [`Kind::Count`].
    Count(u64),
    /// [`Kind::Number`].
    Number(f64),
    /// [`Kind::Duration`], ms.
    Duration(u64),
    /// [`Kind::Choice`].
    Choice(String),
    /// [`Kind::Levels`].
    Levels(Vec<String>),
    /// [`Kind::LatencyRange`], ms.
    Latency(u64, u64),
}

/// One key of a scenario file.
pub struct Setting {
    /// Its table: `""` (top level), `"topology"`, `"sdk"`, `"sdk.breaker"`, ...
    pub section: &'static str,
    /// Its key in that table.
    pub key: &'static str,
    /// Its type and range.
    pub kind: Kind,
    /// What it means (one line, units included).
    pub doc: &'static str,
    /// For a required key: the hint of its "is required" error.
    pub required: Option<&'static str>,
    /// Reads it from a scenario.
    pub get: fn(&Scenario) -> Value,
    /// Writes it into a scenario.
    pub set: fn(&mut Scenario, Value),
}

impl Setting {
    /// Its key path: `seeds`, `sdk.breaker.reset_timeout`.
    pub fn path(&self) -> String {
        if self.section.is_empty() {
            self.key.to_owned()
        } else {
            format!("{}.{}", self.section, self.key)
        }
    }
}

/// The tables of a scenario file besides the top level, `[[faults]]` and `[expect]`, in the
/// order they are written.
pub const SECTIONS: [&str; 8] = [
    "topology",
    "sdk",
    "sdk.breaker",
    "workload",
    "network",
    "runtime",
    "queue",
    "reader",
];

const RATIO: Kind = Kind::Number {
    min: 0.0,
    max: 1.0,
    noun: "a number",
    suffix: "",
};
const AT_LEAST_ONE: Kind = Kind::Count {
    min: 1,
    max: u32::MAX as u64,
};
const LARGE_COUNT: Kind = Kind::Count {
    min: 1,
    max: i64::MAX as u64,
};
const POSITIVE_DURATION: Kind = Kind::Duration {
    min_ms: 1,
    max_ms: MAX_DURATION_MS,
};
const MODES: [&str; 2] = [Mode::ALL[0].as_str(), Mode::ALL[1].as_str()];
const SINKS: [&str; 2] = [PlatformSink::ALL[0].as_str(), PlatformSink::ALL[1].as_str()];
const TRANSPORTS: [&str; 2] = [Transport::ALL[0].name(), Transport::ALL[1].name()];
const REARMS: [&str; 2] = [AlarmRearm::ALL[0].as_str(), AlarmRearm::ALL[1].as_str()];
const ON_FAILURE: [&str; 3] = [
    AlarmOnFailure::ALL[0].as_str(),
    AlarmOnFailure::ALL[1].as_str(),
    AlarmOnFailure::ALL[2].as_str(),
];

/// Every setting, in the order they are written.
pub static SETTINGS: &[Setting] = &[
    Setting {
        section: "",
        key: "name",
        kind: Kind::Text { non_blank: true },
        doc: "the scenario's name (reports and repro commands show it)",
        required: Some("expected e.g. name = \"system-ledger-outage\""),
        get: |s| Value::Text(s.name.clone()),
        set: |s, v| s.name = v.text(),
    },
    Setting {
        section: "",
        key: "description",
        kind: Kind::Text { non_blank: false },
        doc: "free text: what the scenario shows",
        required: None,
        get: |s| Value::Text(s.description.clone()),
        set: |s, v| s.description = v.text(),
    },
    Setting {
        section: "",
        key: "duration",
        kind: POSITIVE_DURATION,
        doc: "simulated time to run",
        required: Some("expected the simulated time to run, a duration with a unit such as \"250ms\", \"30s\", \"5m\", \"1h\" or \"1m 30s\""),
        get: |s| Value::Duration(s.duration_ms),
        set: |s, v| s.duration_ms = v.ms(),
    },
    Setting {
        section: "",
        key: "seeds",
        kind: AT_LEAST_ONE,
        doc: "how many seeds `cargo test` runs for this file (seeds 1 to this)",
        required: None,
        get: |s| Value::Count(s.seeds.into()),
        set: |s, v| s.seeds = v.count(),
    },
    Setting {
        section: "topology",
        key: "mode",
        kind: Kind::Choice { variants: &MODES },
        doc: "\"single\": entities report to one SystemLedger; \"multi_tenant\": to their tenant's TenantSystemLedger, which flushes to the platform",
        required: None,
        get: |s| Value::Choice(s.topology.mode.as_str().to_owned()),
        set: |s, v| s.topology.mode = choose(&Mode::ALL, Mode::as_str, &v.choice()),
    },
    Setting {
        section: "topology",
        key: "tenants",
        kind: Kind::Count {
            min: 1,
            max: MAX_TENANTS as u64,
        },
        doc: "number of tenants, numbered from 0 (single mode runs them all against the one SystemLedger)",
        required: None,
        get: |s| Value::Count(s.topology.tenants.into()),
        set: |s, v| s.topology.tenants = v.count(),
    },
    Setting {
        section: "topology",
        key: "entities_per_tenant",
        kind: Kind::Count {
            min: 1,
            max: MAX_TOTAL_ENTITIES,
        },
        doc: "entity ledgers per tenant (the leaves, with a hierarchy)",
        required: None,
        get: |s| Value::Count(s.topology.entities_per_tenant.into()),
        set: |s, v| s.topology.entities_per_tenant = v.count(),
    },
    Setting {
        section: "topology",
        key: "hierarchy",
        kind: Kind::Levels,
        doc: "entity tree levels under each tenant, root first, e.g. [\"project\", \"asset\"]; each level has one parent per 4 children",
        required: None,
        get: |s| Value::Levels(s.topology.hierarchy.clone()),
        set: |s, v| s.topology.hierarchy = v.levels(),
    },
    Setting {
        section: "topology",
        key: "platform_sink",
        kind: Kind::Choice { variants: &SINKS },
        doc: "how tenant payloads reach the platform (multi_tenant only): \"queue\" (PLATFORM_METRICS_QUEUE) or \"ledger\" (PLATFORM_SYSTEM_LEDGER)",
        required: None,
        get: |s| Value::Choice(s.topology.platform_sink.as_str().to_owned()),
        set: |s, v| {
            s.topology.platform_sink = choose(&PlatformSink::ALL, PlatformSink::as_str, &v.choice());
        },
    },
    Setting {
        section: "topology",
        key: "system_shards",
        kind: Kind::Count {
            min: 1,
            max: MAX_SYSTEM_SHARDS as u64,
        },
        doc: "extension: the SystemLedger sharded by tenant (single mode only): each tenant's facts go to shard fnv1a64(tenant id) mod N, actors \"system:0\" .. \"system:<N-1>\"; 1 is the one SystemLedger \"system\"",
        required: None,
        get: |s| Value::Count(s.topology.system_shards.into()),
        set: |s, v| s.topology.system_shards = v.count(),
    },
    Setting {
        section: "sdk",
        key: "observability",
        kind: Kind::Bool,
        doc: "false: no observabilityStub is wired, entities emit nothing",
        required: None,
        get: |s| Value::Bool(s.sdk.observability),
        set: |s, v| s.sdk.observability = v.flag(),
    },
    Setting {
        section: "sdk",
        key: "fallback_on_failure",
        kind: Kind::Bool,
        doc: "true: emission is fire-and-forget; false: awaited, its errors surface to the caller",
        required: None,
        get: |s| Value::Bool(s.sdk.fallback_on_failure),
        set: |s, v| s.sdk.fallback_on_failure = v.flag(),
    },
    Setting {
        section: "sdk",
        key: "warn_on_fallback",
        kind: Kind::Bool,
        doc: "log a warning for every fallback drop",
        required: None,
        get: |s| Value::Bool(s.sdk.warn_on_fallback),
        set: |s, v| s.sdk.warn_on_fallback = v.flag(),
    },
    Setting {
        section: "sdk",
        key: "stats_min_interval",
        kind: POSITIVE_DURATION,
        doc: "CachedStateManager's min_interval_ms: the shortest stats period",
        required: None,
        get: |s| Value::Duration(s.sdk.stats_min_interval_ms),
        set: |s, v| s.sdk.stats_min_interval_ms = v.ms(),
    },
    Setting {
        section: "sdk",
        key: "tenant_aggregation_interval",
        kind: POSITIVE_DURATION,
        doc: "TenantSystemLedger's aggregationIntervalMs: one payload per period",
        required: None,
        get: |s| Value::Duration(s.sdk.tenant_aggregation_interval_ms),
        set: |s, v| s.sdk.tenant_aggregation_interval_ms = v.ms(),
    },
    Setting {
        section: "sdk",
        key: "rpc_timeout",
        kind: POSITIVE_DURATION,
        doc: "no answer within this is a failed delivery",
        required: None,
        get: |s| Value::Duration(s.sdk.rpc_timeout_ms),
        set: |s, v| s.sdk.rpc_timeout_ms = v.ms(),
    },
    Setting {
        section: "sdk",
        key: "sample_rate",
        kind: RATIO,
        doc: "fraction of entities that emit stats, chosen by entity id",
        required: None,
        get: |s| Value::Number(s.sdk.sample_rate),
        set: |s, v| s.sdk.sample_rate = v.number(),
    },
    Setting {
        section: "sdk",
        key: "tenant_alarm_rearm",
        kind: Kind::Choice { variants: &REARMS },
        doc: "extension: what a tenant ledger's alarm handler does about its own failures: \"on_input\" relies on Cloudflare's retries and re-arms a deleted alarm on its next input (pending work may have no alarm meanwhile); \"at_start\" sets a safety alarm first, replacing the retries with its own schedule",
        required: None,
        get: |s| Value::Choice(s.sdk.tenant_alarm_rearm.as_str().to_owned()),
        set: |s, v| {
            s.sdk.tenant_alarm_rearm = choose(&AlarmRearm::ALL, AlarmRearm::as_str, &v.choice());
        },
    },
    Setting {
        section: "sdk",
        key: "tenant_alarm_on_failure",
        kind: Kind::Choice { variants: &ON_FAILURE },
        doc: "extension: what a tenant ledger's alarm handler does when a flush fails: \"rearm\" catches it and sets the alarm one flush retry delay later (its runs never fail for a flush); \"retry\" awaits its flushes and throws, relying on Cloudflare's retries (2 to 64 s, then the alarm is deleted until the next input); \"retry_then_rearm\" throws too, but catches and re-arms on its last retry (retryCount = 6)",
        required: None,
        get: |s| Value::Choice(s.sdk.tenant_alarm_on_failure.as_str().to_owned()),
        set: |s, v| {
            s.sdk.tenant_alarm_on_failure =
                choose(&AlarmOnFailure::ALL, AlarmOnFailure::as_str, &v.choice());
        },
    },
    Setting {
        section: "sdk.breaker",
        key: "failure_threshold",
        kind: AT_LEAST_ONE,
        doc: "consecutive failed deliveries that open a breaker",
        required: None,
        get: |s| Value::Count(s.sdk.breaker.failure_threshold.into()),
        set: |s, v| s.sdk.breaker.failure_threshold = v.count(),
    },
    Setting {
        section: "sdk.breaker",
        key: "reset_timeout",
        kind: POSITIVE_DURATION,
        doc: "time OPEN before the next emission may probe",
        required: None,
        get: |s| Value::Duration(s.sdk.breaker.reset_timeout_ms),
        set: |s, v| s.sdk.breaker.reset_timeout_ms = v.ms(),
    },
    Setting {
        section: "sdk.breaker",
        key: "half_open_max_probes",
        kind: AT_LEAST_ONE,
        doc: "calls HALF_OPEN admits per episode",
        required: None,
        get: |s| Value::Count(s.sdk.breaker.half_open_max_probes.into()),
        set: |s, v| s.sdk.breaker.half_open_max_probes = v.count(),
    },
    Setting {
        section: "sdk.breaker",
        key: "reset_timeout_jitter",
        kind: RATIO,
        doc: "extension: up to this fraction of the reset timeout added at random",
        required: None,
        get: |s| Value::Number(s.sdk.breaker.reset_timeout_jitter_ratio),
        set: |s, v| s.sdk.breaker.reset_timeout_jitter_ratio = v.number(),
    },
    Setting {
        section: "sdk.breaker",
        key: "reset_timeout_growth",
        kind: Kind::Number {
            min: 1.0,
            max: 16.0,
            noun: "a factor",
            suffix: "",
        },
        doc: "extension: the reset timeout is multiplied by this on every re-open without a close",
        required: None,
        get: |s| Value::Number(s.sdk.breaker.reset_timeout_growth_factor),
        set: |s, v| s.sdk.breaker.reset_timeout_growth_factor = v.number(),
    },
    Setting {
        section: "sdk.breaker",
        key: "reset_timeout_max",
        kind: POSITIVE_DURATION,
        doc: "extension: the grown reset timeout's cap; at least reset_timeout (default: the larger of 5 minutes and reset_timeout)",
        required: None,
        get: |s| Value::Duration(s.sdk.breaker.reset_timeout_max_ms),
        set: |s, v| s.sdk.breaker.reset_timeout_max_ms = v.ms(),
    },
    Setting {
        section: "workload",
        key: "cache_ops_per_sec",
        kind: Kind::Number {
            min: 0.0,
            max: MAX_CACHE_OPS_PER_SEC,
            noun: "a number",
            suffix: " (per entity)",
        },
        doc: "cache gets per second, per entity (Poisson arrivals)",
        required: None,
        get: |s| Value::Number(s.workload.cache_ops_per_sec),
        set: |s, v| s.workload.cache_ops_per_sec = v.number(),
    },
    Setting {
        section: "workload",
        key: "hit_ratio",
        kind: RATIO,
        doc: "probability that a cache get hits",
        required: None,
        get: |s| Value::Number(s.workload.hit_ratio),
        set: |s, v| s.workload.hit_ratio = v.number(),
    },
    Setting {
        section: "workload",
        key: "fact_appends_per_min",
        kind: Kind::Number {
            min: 0.0,
            max: MAX_FACT_APPENDS_PER_MIN,
            noun: "a number",
            suffix: " (per entity)",
        },
        doc: "domain fact appends per minute, per entity (Poisson arrivals)",
        required: None,
        get: |s| Value::Number(s.workload.fact_appends_per_min),
        set: |s, v| s.workload.fact_appends_per_min = v.number(),
    },
    Setting {
        section: "workload",
        key: "flush_stats_per_min",
        kind: Kind::Number {
            min: 0.0,
            max: MAX_CONTROL_OPS_PER_MIN,
            noun: "a number",
            suffix: " (per entity)",
        },
        doc: "explicit flushStats() calls per minute, per entity (Poisson arrivals): the second flush trigger",
        required: None,
        get: |s| Value::Number(s.workload.flush_stats_per_min),
        set: |s, v| s.workload.flush_stats_per_min = v.number(),
    },
    Setting {
        section: "workload",
        key: "stats_toggles_per_min",
        kind: Kind::Number {
            min: 0.0,
            max: MAX_CONTROL_OPS_PER_MIN,
            noun: "a number",
            suffix: " (per entity)",
        },
        doc: "stats tracking toggles per minute, per entity (Poisson arrivals): each turns tracking off (which flushes: the third trigger) or on again",
        required: None,
        get: |s| Value::Number(s.workload.stats_toggles_per_min),
        set: |s, v| s.workload.stats_toggles_per_min = v.number(),
    },
    Setting {
        section: "workload",
        key: "start_spread",
        kind: Kind::Duration {
            min_ms: 0,
            max_ms: MAX_DURATION_MS,
        },
        doc: "extension: each entity arrives (is first asked for, so first constructed, which starts its stats periods) at a time drawn uniformly within this window, so periods have their own phase; \"0s\" starts every entity at t = 0, the thundering herd (default: sdk.stats_min_interval)",
        required: None,
        get: |s| Value::Duration(s.workload.start_spread_ms),
        set: |s, v| s.workload.start_spread_ms = v.ms(),
    },
    Setting {
        section: "network",
        key: "latency",
        kind: Kind::LatencyRange,
        doc: "[min, max]: each message takes a latency drawn uniformly from min to max",
        required: None,
        get: |s| Value::Latency(s.network.latency_min_ms, s.network.latency_max_ms),
        set: |s, v| (s.network.latency_min_ms, s.network.latency_max_ms) = v.latency(),
    },
    Setting {
        section: "network",
        key: "packet_loss",
        kind: RATIO,
        doc: "probability that a message is lost, outside of faults",
        required: None,
        get: |s| Value::Number(s.network.packet_loss),
        set: |s, v| s.network.packet_loss = v.number(),
    },
    Setting {
        section: "network",
        key: "transport",
        kind: Kind::Choice {
            variants: &TRANSPORTS,
        },
        doc: "extension: \"madsim\" (madsim::net, a node per actor) or \"direct\" (the same network model, faster)",
        required: None,
        get: |s| Value::Choice(s.network.transport.name().to_owned()),
        set: |s, v| s.network.transport = choose(&Transport::ALL, Transport::name, &v.choice()),
    },
    Setting {
        section: "runtime",
        key: "max_in_flight",
        kind: AT_LEAST_ONE,
        doc: "requests a Durable Object holds queued, the one in service included; past it, it answers overloaded (\"Too many requests queued\"; Cloudflare publishes no number, this default is the harness's)",
        required: None,
        get: |s| Value::Count(s.runtime.max_in_flight.into()),
        set: |s, v| s.runtime.max_in_flight = v.count(),
    },
    Setting {
        section: "runtime",
        key: "max_queued_bytes",
        kind: LARGE_COUNT,
        doc: "bytes of queued requests (estimated sizes) a Durable Object holds; past it, it answers overloaded (\"Too much data queued\"; the default, 32 MiB, is the harness's)",
        required: None,
        get: |s| Value::Count(s.runtime.max_queued_bytes),
        set: |s, v| s.runtime.max_queued_bytes = v.count64(),
    },
    Setting {
        section: "runtime",
        key: "max_queue_age",
        kind: POSITIVE_DURATION,
        doc: "how long the oldest queued request may wait; past it, new requests are answered overloaded (\"Requests queued for too long\"; the default, 30 s, is the harness's)",
        required: None,
        get: |s| Value::Duration(s.runtime.max_queue_age_ms),
        set: |s, v| s.runtime.max_queue_age_ms = v.ms(),
    },
    Setting {
        section: "runtime",
        key: "max_requests_per_10s",
        kind: LARGE_COUNT,
        doc: "requests a Durable Object accepts within 10 s; past it, it answers overloaded (\"Too many requests for the same object within a 10 second window\"; the default, 10 000, is Cloudflare's soft limit of about 1 000 requests per second over the window)",
        required: None,
        get: |s| Value::Count(s.runtime.max_requests_per_10s),
        set: |s, v| s.runtime.max_requests_per_10s = v.count64(),
    },
    Setting {
        section: "runtime",
        key: "service_time",
        kind: Kind::Duration { min_ms: 0, max_ms: MAX_DURATION_MS },
        doc: "extension: time an actor spends on one request",
        required: None,
        get: |s| Value::Duration(s.runtime.service_time_ms),
        set: |s, v| s.runtime.service_time_ms = v.ms(),
    },
    Setting {
        section: "runtime",
        key: "idle_eviction",
        kind: Kind::Bool,
        doc: "an idle Durable Object (no request, no awaited call, no alarm run) is evicted from memory: its open stats periods, unsent facts and breakers are lost, and its next request or alarm constructs it again (schema_init, hydration_done); Cloudflare's behaviour, so on by default",
        required: None,
        get: |s| Value::Bool(s.runtime.idle_eviction),
        set: |s, v| s.runtime.idle_eviction = v.flag(),
    },
    Setting {
        section: "runtime",
        key: "idle_eviction_after",
        kind: Kind::LatencyRange,
        doc: "[min, max]: an object idle this long is evicted, drawn uniformly per idle stretch (Cloudflare: 70 s to 140 s)",
        required: None,
        get: |s| Value::Latency(s.runtime.idle_eviction_after_ms.0, s.runtime.idle_eviction_after_ms.1),
        set: |s, v| s.runtime.idle_eviction_after_ms = v.latency(),
    },
    Setting {
        section: "runtime",
        key: "hibernatable",
        kind: Kind::Bool,
        doc: "the objects use the WebSocket Hibernation API, so an idle one is hibernated after hibernate_after instead (losing the same in-memory state); the z0 ledgers do not",
        required: None,
        get: |s| Value::Bool(s.runtime.hibernatable),
        set: |s, v| s.runtime.hibernatable = v.flag(),
    },
    Setting {
        section: "runtime",
        key: "hibernate_after",
        kind: POSITIVE_DURATION,
        doc: "idle time before a hibernatable object is hibernated (Cloudflare: about 10 s)",
        required: None,
        get: |s| Value::Duration(s.runtime.hibernate_after_ms),
        set: |s, v| s.runtime.hibernate_after_ms = v.ms(),
    },
    Setting {
        section: "queue",
        key: "max_batch_size",
        kind: Kind::Count {
            min: 1,
            max: MAX_QUEUE_BATCH_SIZE,
        },
        doc: "largest batch the queue delivers to its consumer (Cloudflare's default 10)",
        required: None,
        get: |s| Value::Count(s.queue.max_batch_size.into()),
        set: |s, v| s.queue.max_batch_size = v.count(),
    },
    Setting {
        section: "queue",
        key: "max_batch_timeout",
        kind: Kind::Duration {
            min_ms: 0,
            max_ms: MAX_QUEUE_BATCH_TIMEOUT_MS,
        },
        doc: "longest wait before a partial batch is delivered (Cloudflare's default 5 s, at most 60 s)",
        required: None,
        get: |s| Value::Duration(s.queue.max_batch_timeout_ms),
        set: |s, v| s.queue.max_batch_timeout_ms = v.ms(),
    },
    Setting {
        section: "queue",
        key: "max_retries",
        kind: Kind::Count {
            min: 0,
            max: MAX_QUEUE_RETRIES,
        },
        doc: "deliveries of a message the consumer does not acknowledge, after its first (Cloudflare's default 3: four deliveries); then the dead-letter queue, or deletion without one",
        required: None,
        get: |s| Value::Count(s.queue.max_retries.into()),
        set: |s, v| s.queue.max_retries = v.count(),
    },
    Setting {
        section: "queue",
        key: "retry_delay",
        kind: Kind::Duration {
            min_ms: 0,
            max_ms: MAX_QUEUE_RETRY_DELAY_MS,
        },
        doc: "wait before a retried message is delivered again (Cloudflare's default 0: at once, through the next batch; at most 12 hours)",
        required: None,
        get: |s| Value::Duration(s.queue.retry_delay_ms),
        set: |s, v| s.queue.retry_delay_ms = v.ms(),
    },
    Setting {
        section: "queue",
        key: "dead_letter_queue",
        kind: Kind::Bool,
        doc: "a dead-letter queue is configured: messages delivered max_retries + 1 times go there; without one (Cloudflare's default) they are deleted, a loss",
        required: None,
        get: |s| Value::Bool(s.queue.dead_letter_queue),
        set: |s, v| s.queue.dead_letter_queue = v.flag(),
    },
    Setting {
        section: "queue",
        key: "dead_letter_replay",
        kind: Kind::Bool,
        doc: "a consumer of the dead-letter queue delivers its messages to the consumer Worker again, retrying what the platform did not store every 30 s (needs dead_letter_queue = true)",
        required: None,
        get: |s| Value::Bool(s.queue.dead_letter_replay),
        set: |s, v| s.queue.dead_letter_replay = v.flag(),
    },
    Setting {
        section: "queue",
        key: "consumer_concurrency",
        kind: Kind::Count {
            min: 1,
            max: MAX_CONSUMER_CONCURRENCY as u64,
        },
        doc: "queue batches with the consumer Worker at once (Cloudflare's default and most: 250)",
        required: None,
        get: |s| Value::Count(s.queue.consumer_concurrency.into()),
        set: |s, v| s.queue.consumer_concurrency = v.count(),
    },
    Setting {
        section: "queue",
        key: "message_retention",
        kind: Kind::Duration {
            min_ms: MIN_QUEUE_RETENTION_MS,
            max_ms: MAX_QUEUE_RETENTION_MS,
        },
        doc: "how long a message may wait to be acknowledged before the queue deletes it (Cloudflare's default 4 days; 60 s to 14 days)",
        required: None,
        get: |s| Value::Duration(s.queue.message_retention_ms),
        set: |s, v| s.queue.message_retention_ms = v.ms(),
    },
    Setting {
        section: "reader",
        key: "reads_per_min",
        kind: Kind::Number {
            min: 0.0,
            max: MAX_READS_PER_MIN,
            noun: "a number",
            suffix: "",
        },
        doc: "reads per minute by the reader, a dashboard asking the SystemLedger or any tenant ledger for getSdkFacts(entity), getCacheStats(entity) or getStats() over the network (Poisson arrivals; 0: no reader)",
        required: None,
        get: |s| Value::Number(s.reader.reads_per_min),
        set: |s, v| s.reader.reads_per_min = v.number(),
    },
];

/// The setting at `section`.`key`, if there is one.
pub fn setting(section: &str, key: &str) -> Option<&'static Setting> {
    SETTINGS
        .iter()
        .find(|setting| setting.section == section && setting.key == key)
}

/// The keys a table allows: its settings, then its sub-tables (and, at the top level,
/// `faults` and `expect`).
pub fn keys_of(section: &str) -> Vec<&'static str> {
    let settings = SETTINGS
        .iter()
        .filter(|setting| setting.section == section)
        .map(|setting| setting.key);
    let tables = SECTIONS.iter().filter_map(move |table| {
        let rest = match section {
            "" => Some(*table),
            _ => table
                .strip_prefix(section)
                .and_then(|rest| rest.strip_prefix('.')),
        };
        rest.filter(|rest| !rest.contains('.'))
    });
    let extra: &[&str] = if section.is_empty() {
        &["faults", "expect"]
    } else {
        &[]
    };
    settings
        .chain(tables)
        .chain(extra.iter().copied())
        .collect()
}

/// The value of `all` spelled `name` (the parser only admits a spelling of `variants`).
fn choose<T: Copy>(all: &[T], spell: fn(T) -> &'static str, name: &str) -> T {
    all.iter()
        .copied()
        .find(|value| spell(*value) == name)
        .unwrap_or_else(|| unreachable!("{name:?} is not a variant, and the parser checked it"))
}

impl Value {
    fn text(self) -> String {
        match self {
            Value::Text(text) => text,
            other => unreachable!("a text setting was handed {other:?}"),
        }
    }

    fn flag(self) -> bool {
        match self {
            Value::Bool(flag) => flag,
            other => unreachable!("a bool setting was handed {other:?}"),
        }
    }

    /// A count the parser checked fits in `u32`.
    fn count64(self) -> u64 {
        match self {
            Value::Count(count) => count,
            other => unreachable!("a count setting was handed {other:?}"),
        }
    }

    fn count(self) -> u32 {
        match self {
            Value::Count(count) => u32::try_from(count)
                .unwrap_or_else(|_| unreachable!("{count} does not fit the setting")),
            other => unreachable!("a count setting was handed {other:?}"),
        }
    }

    fn number(self) -> f64 {
        match self {
            Value::Number(number) => number,
            other => unreachable!("a number setting was handed {other:?}"),
        }
    }

    fn ms(self) -> u64 {
        match self {
            Value::Duration(ms) => ms,
            other => unreachable!("a duration setting was handed {other:?}"),
        }
    }

    fn choice(self) -> String {
        match self {
            Value::Choice(name) => name,
            other => unreachable!("a choice setting was handed {other:?}"),
        }
    }

    fn levels(self) -> Vec<String> {
        match self {
            Value::Levels(levels) => levels,
            other => unreachable!("a levels setting was handed {other:?}"),
        }
    }

    fn latency(self) -> (u64, u64) {
        match self {
            Value::Latency(min_ms, max_ms) => (min_ms, max_ms),
            other => unreachable!("a latency setting was handed {other:?}"),
        }
    }
}
