//! Arbitrary SDK facts into a `SystemLedger` and a `TenantSystemLedger` (tenant `acme`), and
//! arbitrary tenant payloads into a `PlatformLedger`, at a clock that only moves forward.
//!
//! Facts and payloads are built from the bytes: names from a small pool (so that ids, entities
//! and tenants collide) or empty, over-long or arbitrary; numbers small or arbitrary; times
//! around the receiver's clock; `data` either an object of one of the four SDK shapes (then
//! maybe a field removed, replaced or added) or any JSON value. Validation limits are the
//! defaults or drawn from the bytes. After every operation:
//!
//! - a receiver answers exactly what `validate_sdk_fact` (plus `check_tenant` at the tenant) or
//!   `validate_payload` says: the same error, or acceptance; whatever it accepts also passes
//!   checks written here independently of `validate.rs` (names, type, subtype, data an object
//!   about the same entity, serialised size, periods, clock skew);
//! - a rejected fact or payload is never stored; an accepted one is stored exactly once, and
//!   delivering it again (at once, or later) is answered `Duplicate`;
//! - the tenant ledger never stores another tenant's fact;
//! - storage matches what was accepted: the SystemLedger's facts and `getStats`, the
//!   platform's totals per tenant and overall, and the tenant ledger's open aggregate plus its
//!   pending payloads plus what its flushes delivered (it is also fired by its alarm, restarted,
//!   and its flushes succeed or fail as the bytes say) equal the sums of the facts it accepted.
//!   Receivers saturate counts at `u64::MAX` (senders may claim anything): where an accumulator
//!   saturated, its sum may only fall short of the exact one.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use z0sim::ledgers::{
    Accepted, CallId, Effect, FailureKind, Message, PlatformLedger, PlatformStorage,
    PlatformTotals, SystemLedger, SystemStorage, TenantLedgerConfig, TenantStorage,
    TenantSystemLedger,
};
use z0sim::model::validate::{check_tenant, validate_payload, validate_sdk_fact};
use z0sim::model::{
    ActorId, BreakerConfig, Fact, FactId, Limits, SdkData, SdkSubtype, TenantConfig,
    TenantStatsPayload, SDK_FACT_TYPE,
};

/// The tenant of the TenantSystemLedger.
const OWN: &str = "acme";
const TENANTS: [&str; 3] = [OWN, "globex", "acme "];
const ACTORS: [&str; 3] = [
    "entity:acme/account-0",
    "entity:acme/account-1",
    "entity:globex/account-0",
];
const ENTITY_IDS: [&str; 3] = ["account-0", "account-1", "project-0"];
const ENTITY_TYPES: [&str; 2] = ["account", "project"];
const FLUSH_IDS: [&str; 3] = ["acme/0", "acme/1", "globex/0"];
/// The receivers' clock at the start: far enough from 0 that times before it exist.
const START_MS: u64 = 1_700_000_000_000;
/// Deeper JSON than this is cut off: nothing deeper gets past serde_json's own recursion
/// limit (128) on the wire.
const MAX_JSON_DEPTH: usize = 32;

#[derive(Arbitrary, Debug)]
struct Input {
    /// `None`: `Limits::default()`; else `(max_data_bytes, max_name_bytes, max_clock_skew_ms)`
    /// from these, reduced to small ranges.
    limits: Option<(u16, u16, u32)>,
    /// The tenant ledger's aggregation interval, 1..=120 s.
    interval_s: u8,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Delivers a new fact to the SystemLedger and the tenant ledger.
    Fact(FactInput),
    /// Delivers a fact sent before (modulo their number) again, to both.
    ResendFact(u8),
    /// Delivers a new payload to the platform ledger.
    Payload(PayloadInput),
    /// Delivers a payload sent before (modulo their number) again.
    ResendPayload(u8),
    /// Moves the clock forward.
    Advance(u32),
    /// Fires the tenant ledger's alarm, if it has one (at its time, if that is later).
    Alarm,
    /// Ends in-flight flush `which` (modulo their number): delivered to a platform ledger of its
    /// own and acknowledged, or failed.
    FlushOutcome { which: u8, success: bool },
    /// Restarts the tenant ledger on its storage; its in-flight flushes are lost.
    RestartTenant,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Pool(u8),
    Empty,
    Long(u16),
    Raw(String),
}

impl Name {
    fn resolve(&self, pool: &[&str]) -> String {
        match self {
            Name::Pool(index) => pool[usize::from(*index) % pool.len()].to_owned(),
            Name::Empty => String::new(),
            Name::Long(length) => "x".repeat(usize::from(*length) % 600),
            Name::Raw(text) => text.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Count {
    Small(u8),
    Raw(u64),
}

impl Count {
    fn value(&self) -> u64 {
        match self {
            Count::Small(n) => u64::from(*n),
            Count::Raw(n) => *n,
        }
    }
}

/// A time relative to the receiver's clock.
#[derive(Arbitrary, Debug)]
enum Time {
    Before(u32),
    After(u32),
    Raw(u64),
}

impl Time {
    fn at(&self, now_ms: u64) -> u64 {
        match self {
            Time::Before(ms) => now_ms.saturating_sub(u64::from(*ms)),
            Time::After(ms) => now_ms.saturating_add(u64::from(*ms)),
            Time::Raw(ms) => *ms,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
    /// Parsed as JSON text; a string when it does not parse.
    Text(String),
}

impl Json {
    fn value(&self, depth: usize) -> Value {
        if depth >= MAX_JSON_DEPTH {
            return Value::Null;
        }
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::U64(n) => Value::from(*n),
            Json::I64(n) => Value::from(*n),
            // Not finite: null, as serde_json does.
            Json::F64(x) => Value::from(*x),
            Json::Str(text) => Value::String(text.clone()),
            Json::Array(items) => items.iter().map(|item| item.value(depth + 1)).collect(),
            Json::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, item)| (key.clone(), item.value(depth + 1)))
                    .collect(),
            ),
            Json::Text(text) => {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            }
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Shape {
    CacheStats,
    FactAppended,
    SchemaInit,
    HydrationDone,
}

impl Shape {
    fn subtype(self) -> SdkSubtype {
        match self {
            Shape::CacheStats => SdkSubtype::CacheStats,
            Shape::FactAppended => SdkSubtype::FactAppended,
            Shape::SchemaInit => SdkSubtype::SchemaInit,
            Shape::HydrationDone => SdkSubtype::HydrationDone,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Mutation {
    None,
    Remove(u8),
    Replace(u8, Json),
    Add(String, Json),
}

#[derive(Arbitrary, Debug)]
enum DataInput {
    /// An object of this shape, about the fact's entity unless `other_entity`.
    Shaped {
        shape: Shape,
        other_entity: Option<(Name, Name)>,
        period_start: Time,
        period_length: Count,
        first: Count,
        second: Count,
        tables: Vec<Name>,
        r2: bool,
        mutation: Mutation,
    },
    /// Any JSON value.
    Any(Json),
}

#[derive(Arbitrary, Debug)]
enum SubtypeName {
    /// The subtype of the data's shape (`cache_stats` for any other data).
    OfData,
    Known(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct FactInput {
    actor: Name,
    seq: Count,
    /// `None`: `"sdk"`.
    fact_type: Option<Name>,
    subtype: SubtypeName,
    entity_id: Name,
    entity_type: Name,
    tenant_id: Name,
    timestamp: Time,
    data: DataInput,
}

#[derive(Arbitrary, Debug)]
struct PayloadInput {
    flush_id: Name,
    tenant_id: Name,
    period_start: Time,
    period_length: Count,
    cache_hits: Count,
    cache_misses: Count,
    facts_count: Count,
    entities_count: Count,
    facts_appended: Count,
}

fn shaped_data(input: &DataInput, entity_id: &str, entity_type: &str, now_ms: u64) -> Value {
    let DataInput::Shaped {
        shape,
        other_entity,
        period_start,
        period_length,
        first,
        second,
        tables,
        r2,
        mutation,
    } = input
    else {
        unreachable!("called for shaped data only");
    };
    let (entity_id, entity_type) = match other_entity {
        Some((id, kind)) => (id.resolve(&ENTITY_IDS), kind.resolve(&ENTITY_TYPES)),
        None => (entity_id.to_owned(), entity_type.to_owned()),
    };
    let start_ms = period_start.at(now_ms);
    let end_ms = start_ms.saturating_add(period_length.value());
    let mut object = Map::new();
    object.insert("entity_id".into(), entity_id.into());
    object.insert("entity_type".into(), entity_type.into());
    match shape {
        Shape::CacheStats => {
            object.insert("period_start".into(), start_ms.into());
            object.insert("period_end".into(), end_ms.into());
            object.insert("hits".into(), first.value().into());
            object.insert("misses".into(), second.value().into());
        }
        Shape::FactAppended => {
            object.insert("period_start".into(), start_ms.into());
            object.insert("period_end".into(), end_ms.into());
            object.insert("count".into(), first.value().into());
            object.insert("last_seq".into(), second.value().into());
        }
        Shape::SchemaInit => {
            let tables: Vec<String> = tables
                .iter()
                .map(|name| name.resolve(&["facts", "entities", "configs"]))
                .collect();
            object.insert("tables_created".into(), tables.into());
            object.insert("duration_ms".into(), first.value().into());
        }
        Shape::HydrationDone => {
            object.insert("facts_replayed".into(), first.value().into());
            object.insert("duration_ms".into(), second.value().into());
            object.insert("source".into(), if *r2 { "r2" } else { "storage" }.into());
        }
    }
    let key_at = |object: &Map<String, Value>, index: u8| {
        object
            .keys()
            .nth(usize::from(index) % object.len())
            .cloned()
    };
    match mutation {
        Mutation::None => {}
        Mutation::Remove(index) => {
            if let Some(key) = key_at(&object, *index) {
                object.remove(&key);
            }
        }
        Mutation::Replace(index, json) => {
            if let Some(key) = key_at(&object, *index) {
                object.insert(key, json.value(0));
            }
        }
        Mutation::Add(key, json) => {
            object.insert(key.clone(), json.value(0));
        }
    }
    Value::Object(object)
}

fn build_fact(input: &FactInput, now_ms: u64) -> Fact {
    let entity_id = input.entity_id.resolve(&ENTITY_IDS);
    let entity_type = input.entity_type.resolve(&ENTITY_TYPES);
    let (data, shape) = match &input.data {
        shaped @ DataInput::Shaped { shape, .. } => (
            shaped_data(shaped, &entity_id, &entity_type, now_ms),
            *shape,
        ),
        DataInput::Any(json) => (json.value(0), Shape::CacheStats),
    };
    let subtype = match &input.subtype {
        SubtypeName::OfData => shape.subtype().as_str().to_owned(),
        SubtypeName::Known(index) => SdkSubtype::ALL[usize::from(*index) % SdkSubtype::ALL.len()]
            .as_str()
            .to_owned(),
        SubtypeName::Raw(text) => text.clone(),
    };
    Fact {
        id: FactId::new(input.actor.resolve(&ACTORS), input.seq.value()),
        fact_type: match &input.fact_type {
            None => SDK_FACT_TYPE.into(),
            Some(name) => name.resolve(&[SDK_FACT_TYPE, "account", "SDK"]).into(),
        },
        subtype: subtype.into(),
        entity_id: entity_id.into(),
        entity_type: entity_type.into(),
        tenant_id: input.tenant_id.resolve(&TENANTS).into(),
        timestamp_ms: input.timestamp.at(now_ms),
        // Received from outside: JSON, never trusted as typed (simulations cover typed data).
        data: data.into(),
    }
}

fn build_payload(input: &PayloadInput, now_ms: u64) -> TenantStatsPayload {
    let period_start_ms = input.period_start.at(now_ms);
    TenantStatsPayload {
        flush_id: input.flush_id.resolve(&FLUSH_IDS),
        tenant_id: input.tenant_id.resolve(&TENANTS),
        period_start_ms,
        period_end_ms: period_start_ms.saturating_add(input.period_length.value()),
        cache_hits: input.cache_hits.value(),
        cache_misses: input.cache_misses.value(),
        facts_count: input.facts_count.value(),
        entities_count: input.entities_count.value(),
        facts_appended: input.facts_appended.value(),
    }
}

/// What an accepted fact must look like, checked without `validate.rs`.
fn assert_plausible(fact: &Fact, now_ms: u64, limits: &Limits) {
    let latest_ms = now_ms.saturating_add(limits.max_clock_skew_ms);
    for (field, value) in [
        ("id.actor", &fact.id.actor),
        ("tenant_id", &fact.tenant_id),
        ("entity_id", &fact.entity_id),
        ("entity_type", &fact.entity_type),
    ] {
        assert!(!value.is_empty(), "accepted a fact with an empty {field}");
    }
    for (field, value) in [
        ("id.actor", &fact.id.actor),
        ("tenant_id", &fact.tenant_id),
        ("entity_id", &fact.entity_id),
        ("entity_type", &fact.entity_type),
        ("type", &fact.fact_type),
        ("subtype", &fact.subtype),
    ] {
        assert!(
            value.len() <= limits.max_name_bytes,
            "accepted a fact whose {field} is {} bytes",
            value.len()
        );
    }
    assert_eq!(fact.fact_type, SDK_FACT_TYPE, "accepted a non-SDK fact");
    assert!(
        fact.subtype.parse::<SdkSubtype>().is_ok(),
        "accepted subtype {:?}",
        fact.subtype
    );
    assert!(
        fact.timestamp_ms <= latest_ms,
        "accepted a timestamp from the future"
    );
    let size = serde_json::to_vec(&fact.data).map_or(0, |bytes| bytes.len());
    assert!(
        size <= limits.max_data_bytes,
        "accepted {size} bytes of data, limit {}",
        limits.max_data_bytes
    );
    let json = fact.data.json();
    let Some(data) = json.as_object() else {
        panic!("accepted data that is not an object: {}", fact.data);
    };
    let text = |key: &str| data.get(key).and_then(Value::as_str);
    assert_eq!(text("entity_id"), Some(fact.entity_id.as_str()));
    assert_eq!(text("entity_type"), Some(fact.entity_type.as_str()));
    let number = |key: &str| data.get(key).and_then(Value::as_u64);
    if let (Some(start_ms), Some(end_ms)) = (number("period_start"), number("period_end")) {
        assert!(start_ms <= end_ms, "accepted a reversed period");
        assert!(end_ms <= latest_ms, "accepted a period from the future");
    }
    match fact.subtype.as_str() {
        "cache_stats" => {
            let total = number("hits")
                .zip(number("misses"))
                .map(|(h, m)| h.checked_add(m));
            assert!(
                matches!(total, Some(Some(n)) if n > 0),
                "accepted empty or overflowing cache stats"
            );
        }
        "fact_appended" => {
            assert!(number("count") > Some(0), "accepted an empty fact_appended");
        }
        _ => {}
    }
}

/// What an accepted payload must look like, checked without `validate.rs`.
fn assert_plausible_payload(payload: &TenantStatsPayload, now_ms: u64, limits: &Limits) {
    assert!(!payload.flush_id.is_empty() && !payload.tenant_id.is_empty());
    assert!(payload.flush_id.len() <= limits.max_name_bytes);
    assert!(payload.tenant_id.len() <= limits.max_name_bytes);
    assert!(payload.period_start_ms < payload.period_end_ms);
    assert!(payload.period_end_ms <= now_ms.saturating_add(limits.max_clock_skew_ms));
    assert!(1 <= payload.entities_count && payload.entities_count <= payload.facts_count);
}

/// The fields of `PlatformTotals`, in the order of [`totals_fields`].
const PLATFORM_FIELDS: [&str; 6] = [
    "payloads",
    "cache_hits",
    "cache_misses",
    "facts_count",
    "facts_appended",
    "entity_periods",
];

fn totals_fields(totals: &PlatformTotals) -> [u64; 6] {
    [
        totals.payloads,
        totals.cache_hits,
        totals.cache_misses,
        totals.facts_count,
        totals.facts_appended,
        totals.entity_periods,
    ]
}

fn payload_fields(payload: &TenantStatsPayload) -> [u64; 6] {
    [
        1,
        payload.cache_hits,
        payload.cache_misses,
        payload.facts_count,
        payload.facts_appended,
        payload.entities_count,
    ]
}

/// What the tenant ledger sums per fact: facts, hits, misses, appended domain facts.
const TENANT_FIELDS: [&str; 4] = ["facts", "cache_hits", "cache_misses", "facts_appended"];

/// Exact sums, in u128 so that the model itself never overflows.
type Exact<const N: usize> = [u128; N];

fn add_exact<const N: usize>(exact: &mut Exact<N>, values: [u64; N]) {
    for (sum, value) in exact.iter_mut().zip(values) {
        *sum += u128::from(value);
    }
}

/// Receivers sum counts that other actors claim, saturating at `u64::MAX`. `shares[i][f]` is
/// one accumulator of field `f` (the shares of a field are disjoint parts of its exact sum):
/// unless one of them saturated, they add up to the exact sum; if one did, to no more.
fn assert_shares<const N: usize>(
    what: &str,
    names: [&str; N],
    shares: &[[u64; N]],
    exact: &Exact<N>,
) {
    for (field, name) in names.iter().enumerate() {
        let held: u128 = shares.iter().map(|share| u128::from(share[field])).sum();
        if shares.iter().any(|share| share[field] == u64::MAX) {
            assert!(
                held <= exact[field],
                "{what}: {name} is {held}, more than {}",
                exact[field]
            );
        } else {
            assert_eq!(held, exact[field], "{what}: {name}");
        }
    }
}

/// The three receivers, their storage, and what they should have stored.
struct World {
    limits: Limits,
    now_ms: u64,

    system: SystemLedger,
    system_storage: SystemStorage,
    /// First accepted version of every fact the SystemLedger stored.
    system_stored: BTreeMap<FactId, Fact>,
    system_duplicates: u64,
    system_rejected: u64,

    tenant_config: TenantLedgerConfig,
    tenant: TenantSystemLedger,
    tenant_storage: TenantStorage,
    effects: Vec<Effect>,
    tenant_stored: BTreeSet<FactId>,
    /// Exact sums of the facts the tenant ledger stored (`TENANT_FIELDS`).
    tenant_exact: Exact<4>,
    in_flight: Vec<(CallId, TenantStatsPayload)>,
    /// Where successful flushes go (default limits: the tenant's own payloads are valid).
    flush_sink: PlatformLedger,
    flush_sink_storage: PlatformStorage,

    platform: PlatformLedger,
    platform_storage: PlatformStorage,
    platform_stored: BTreeMap<(String, String), TenantStatsPayload>,
    platform_duplicates: u64,
    platform_rejected: u64,

    sent_facts: Vec<Fact>,
    sent_payloads: Vec<TenantStatsPayload>,
}

impl World {
    fn new(input: &Input) -> Self {
        let limits = match input.limits {
            None => Limits::default(),
            Some((data_bytes, name_bytes, skew_ms)) => Limits {
                max_data_bytes: usize::from(data_bytes % 8_192),
                max_name_bytes: usize::from(name_bytes % 512),
                max_clock_skew_ms: u64::from(skew_ms % 200_000),
            },
        };
        let tenant_config = TenantLedgerConfig {
            actor: ActorId::new(format!("tenant:{OWN}")),
            tenant_id: OWN.to_owned(),
            tenant: TenantConfig {
                aggregation_interval_ms: (u64::from(input.interval_s % 120) + 1) * 1_000,
                ..TenantConfig::default()
            },
            sink: ActorId::new("platform"),
            breaker: BreakerConfig {
                failure_threshold: 2,
                reset_timeout_ms: 10_000,
                ..BreakerConfig::default()
            },
            jitter_seed: 1,
            limits,
        };
        let mut tenant_storage = TenantStorage::default();
        let mut effects = Vec::new();
        let tenant = TenantSystemLedger::start(
            tenant_config.clone(),
            START_MS,
            &mut tenant_storage,
            &mut effects,
        );
        let mut world = Self {
            limits,
            now_ms: START_MS,
            system: SystemLedger::new(limits),
            system_storage: SystemStorage::default(),
            system_stored: BTreeMap::new(),
            system_duplicates: 0,
            system_rejected: 0,
            tenant_config,
            tenant,
            tenant_storage,
            effects,
            tenant_stored: BTreeSet::new(),
            tenant_exact: [0; 4],
            in_flight: Vec::new(),
            flush_sink: PlatformLedger::new(Limits::default()),
            flush_sink_storage: PlatformStorage::default(),
            platform: PlatformLedger::new(limits),
            platform_storage: PlatformStorage::default(),
            platform_stored: BTreeMap::new(),
            platform_duplicates: 0,
            platform_rejected: 0,
            sent_facts: Vec::new(),
            sent_payloads: Vec::new(),
        };
        world.absorb_effects();
        world
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Fact(input) => {
                let fact = build_fact(input, self.now_ms);
                self.sent_facts.push(fact.clone());
                self.deliver_fact(fact);
            }
            Op::ResendFact(index) => {
                if !self.sent_facts.is_empty() {
                    let fact = self.sent_facts[usize::from(*index) % self.sent_facts.len()].clone();
                    self.deliver_fact(fact);
                }
            }
            Op::Payload(input) => {
                let payload = build_payload(input, self.now_ms);
                self.sent_payloads.push(payload.clone());
                self.deliver_payload(payload);
            }
            Op::ResendPayload(index) => {
                if !self.sent_payloads.is_empty() {
                    let payload =
                        self.sent_payloads[usize::from(*index) % self.sent_payloads.len()].clone();
                    self.deliver_payload(payload);
                }
            }
            Op::Advance(ms) => self.now_ms += u64::from(*ms),
            Op::Alarm => {
                // The runtime fires a set alarm at its time and clears it before the handler.
                if let Some(at_ms) = self.tenant_storage.alarm_ms.take() {
                    self.now_ms = self.now_ms.max(at_ms);
                    self.tenant
                        .on_alarm(self.now_ms, &mut self.tenant_storage, &mut self.effects);
                    self.absorb_effects();
                }
            }
            Op::FlushOutcome { which, success } => {
                if self.in_flight.is_empty() {
                    return;
                }
                let (call_id, payload) = self
                    .in_flight
                    .remove(usize::from(*which) % self.in_flight.len());
                let outcome = if *success {
                    let answer = self.flush_sink.on_payload(
                        self.now_ms,
                        &mut self.flush_sink_storage,
                        payload.clone(),
                    );
                    assert_eq!(
                        answer,
                        Ok(Accepted::Stored),
                        "a flush of the tenant ledger was not stored: {payload:?}"
                    );
                    Ok(())
                } else {
                    Err(FailureKind::Error)
                };
                self.tenant.on_delivery_result(
                    self.now_ms,
                    &mut self.tenant_storage,
                    call_id,
                    outcome,
                    &mut self.effects,
                );
                self.absorb_effects();
            }
            Op::RestartTenant => {
                self.in_flight.clear();
                self.tenant = TenantSystemLedger::start(
                    self.tenant_config.clone(),
                    self.now_ms,
                    &mut self.tenant_storage,
                    &mut self.effects,
                );
                self.absorb_effects();
            }
        }
        self.check();
    }

    fn absorb_effects(&mut self) {
        for effect in self.effects.drain(..) {
            if let Effect::Send {
                call_id, message, ..
            } = effect
            {
                let Message::TenantStats(payload) = message else {
                    panic!("the tenant ledger sent something else than a payload: {message:?}");
                };
                self.in_flight.push((call_id, payload));
            }
        }
    }

    fn deliver_fact(&mut self, fact: Fact) {
        let now_ms = self.now_ms;
        let expected = validate_sdk_fact(&fact, now_ms, &self.limits);
        if expected.is_ok() {
            assert_plausible(&fact, now_ms, &self.limits);
        }

        let answer = self
            .system
            .on_sdk_fact(now_ms, &mut self.system_storage, fact.clone());
        match (&expected, &answer) {
            (Err(error), Err(got)) => {
                assert_eq!(got, error, "the SystemLedger rejected {fact:?} differently");
                self.system_rejected += 1;
            }
            (Ok(_), Ok(Accepted::Stored)) => {
                let earlier = self.system_stored.insert(fact.id.clone(), fact.clone());
                assert!(
                    earlier.is_none(),
                    "the SystemLedger stored {} twice",
                    fact.id
                );
                let again = self
                    .system
                    .on_sdk_fact(now_ms, &mut self.system_storage, fact.clone());
                assert_eq!(
                    again,
                    Ok(Accepted::Duplicate),
                    "a second delivery of {fact:?}"
                );
                self.system_duplicates += 1;
            }
            (Ok(_), Ok(Accepted::Duplicate)) => {
                assert!(
                    self.system_stored.contains_key(&fact.id),
                    "the SystemLedger called {} a duplicate but never stored it",
                    fact.id
                );
                self.system_duplicates += 1;
            }
            _ => panic!(
                "the SystemLedger answered {answer:?}, validation says {:?}, for {fact:?}",
                expected.as_ref().map(|_| ())
            ),
        }

        let expected = expected.and_then(|data| check_tenant(&fact, OWN).map(|()| data));
        let answer = self.tenant.on_fact(
            now_ms,
            &mut self.tenant_storage,
            fact.clone(),
            &mut self.effects,
        );
        self.absorb_effects();
        match (&expected, &answer) {
            (Err(error), Err(got)) => {
                assert_eq!(
                    got, error,
                    "the tenant ledger rejected {fact:?} differently"
                );
            }
            (Ok(data), Ok(Accepted::Stored)) => {
                assert_eq!(
                    fact.tenant_id, OWN,
                    "the tenant ledger stored a foreign fact"
                );
                assert!(
                    self.tenant_stored.insert(fact.id.clone()),
                    "the tenant ledger stored {} twice",
                    fact.id
                );
                let counts = match data {
                    SdkData::CacheStats(stats) => [1, stats.hits, stats.misses, 0],
                    SdkData::FactAppended(appended) => [1, 0, 0, appended.count],
                    SdkData::SchemaInit(_) | SdkData::HydrationDone(_) => [1, 0, 0, 0],
                };
                add_exact(&mut self.tenant_exact, counts);
                let again = self.tenant.on_fact(
                    now_ms,
                    &mut self.tenant_storage,
                    fact.clone(),
                    &mut self.effects,
                );
                self.absorb_effects();
                assert_eq!(
                    again,
                    Ok(Accepted::Duplicate),
                    "a second delivery of {fact:?}"
                );
            }
            (Ok(_), Ok(Accepted::Duplicate)) => {
                assert!(
                    self.tenant_stored.contains(&fact.id),
                    "the tenant ledger called {} a duplicate but never stored it",
                    fact.id
                );
            }
            _ => panic!(
                "the tenant ledger answered {answer:?}, validation says {:?}, for {fact:?}",
                expected.as_ref().map(|_| ())
            ),
        }
    }

    fn deliver_payload(&mut self, payload: TenantStatsPayload) {
        let now_ms = self.now_ms;
        let expected = validate_payload(&payload, now_ms, &self.limits);
        if expected.is_ok() {
            assert_plausible_payload(&payload, now_ms, &self.limits);
        }
        let key = (payload.tenant_id.clone(), payload.flush_id.clone());
        let answer = self
            .platform
            .on_payload(now_ms, &mut self.platform_storage, payload.clone());
        match (&expected, &answer) {
            (Err(error), Err(got)) => {
                assert_eq!(got, error, "the platform rejected {payload:?} differently");
                self.platform_rejected += 1;
            }
            (Ok(()), Ok(Accepted::Stored)) => {
                let earlier = self.platform_stored.insert(key, payload.clone());
                assert!(earlier.is_none(), "the platform counted {payload:?} twice");
                let again =
                    self.platform
                        .on_payload(now_ms, &mut self.platform_storage, payload.clone());
                assert_eq!(
                    again,
                    Ok(Accepted::Duplicate),
                    "a second delivery of {payload:?}"
                );
                self.platform_duplicates += 1;
            }
            (Ok(()), Ok(Accepted::Duplicate)) => {
                assert!(
                    self.platform_stored.contains_key(&key),
                    "the platform called {payload:?} a duplicate but never counted it"
                );
                self.platform_duplicates += 1;
            }
            _ => panic!(
                "the platform answered {answer:?}, validation says {expected:?}, for {payload:?}"
            ),
        }
    }

    fn check(&self) {
        self.check_system();
        self.check_tenant();
        self.check_platform();
    }

    fn check_system(&self) {
        let storage = &self.system_storage;
        let mut stored = 0;
        for entry in storage.facts() {
            stored += 1;
            assert_eq!(
                self.system_stored.get(&entry.fact.id),
                Some(&entry.fact),
                "the SystemLedger holds a fact it should not, or another version of it"
            );
        }
        assert_eq!(stored, self.system_stored.len(), "SystemLedger fact count");
        let stats = SystemLedger::get_stats(storage);
        let entities: BTreeSet<&str> = self
            .system_stored
            .values()
            .map(|fact| fact.entity_id.as_str())
            .collect();
        let tenants: BTreeSet<&str> = self
            .system_stored
            .values()
            .map(|fact| fact.tenant_id.as_str())
            .collect();
        assert_eq!(
            (
                stats.sdk_facts_count,
                stats.entity_count,
                stats.tenant_count
            ),
            (
                self.system_stored.len() as u64,
                entities.len() as u64,
                tenants.len() as u64
            ),
            "getStats (facts, entities, tenants)"
        );
        for entity_id in entities {
            let expected = self
                .system_stored
                .values()
                .filter(|fact| fact.entity_id == entity_id)
                .count();
            assert_eq!(
                SystemLedger::get_sdk_facts(storage, entity_id).len(),
                expected,
                "getSdkFacts({entity_id:?})"
            );
        }
        let counters = self.system.counters();
        assert_eq!(counters.stored, self.system_stored.len() as u64);
        assert_eq!(counters.duplicates, self.system_duplicates);
        assert_eq!(
            counters.rejected.values().sum::<u64>(),
            self.system_rejected
        );
    }

    fn check_tenant(&self) {
        let storage = &self.tenant_storage;
        for stored in storage.facts.facts() {
            let id = &stored.fact.id;
            assert!(
                self.tenant_stored.contains(id),
                "the tenant ledger stored {id}, which it should have rejected"
            );
        }
        assert_eq!(storage.facts.facts().count(), self.tenant_stored.len());
        // Every accepted fact is in exactly one place: the open period, a pending payload, or a
        // payload the sink acknowledged.
        let mut shares = Vec::new();
        if let Some(open) = &storage.open {
            assert!(!open.entities.is_empty() && open.entities.len() as u64 <= open.facts_count);
            shares.push([
                open.facts_count,
                open.cache_hits,
                open.cache_misses,
                open.facts_appended,
            ]);
        }
        for payload in &storage.pending {
            assert_eq!(payload.tenant_id, OWN);
            shares.push([
                payload.facts_count,
                payload.cache_hits,
                payload.cache_misses,
                payload.facts_appended,
            ]);
        }
        let delivered = &self.flush_sink_storage.overall;
        shares.push([
            delivered.facts_count,
            delivered.cache_hits,
            delivered.cache_misses,
            delivered.facts_appended,
        ]);
        assert_shares(
            "the tenant ledger's open period + pending payloads + delivered payloads",
            TENANT_FIELDS,
            &shares,
            &self.tenant_exact,
        );
    }

    fn check_platform(&self) {
        let storage = &self.platform_storage;
        let keys: BTreeSet<&(String, String)> = self.platform_stored.keys().collect();
        assert_eq!(storage.seen.iter().collect::<BTreeSet<_>>(), keys);
        assert_eq!(storage.payloads.len(), self.platform_stored.len());
        let mut overall = [0; 6];
        let mut per_tenant: BTreeMap<&str, Exact<6>> = BTreeMap::new();
        for ((tenant_id, _), payload) in &self.platform_stored {
            add_exact(&mut overall, payload_fields(payload));
            add_exact(
                per_tenant.entry(tenant_id.as_str()).or_insert([0; 6]),
                payload_fields(payload),
            );
        }
        assert_shares(
            "platform totals",
            PLATFORM_FIELDS,
            &[totals_fields(&storage.overall)],
            &overall,
        );
        assert!(storage
            .per_tenant
            .keys()
            .map(String::as_str)
            .eq(per_tenant.keys().copied()));
        for (tenant_id, exact) in &per_tenant {
            assert_shares(
                &format!("platform totals of {tenant_id:?}"),
                PLATFORM_FIELDS,
                &[totals_fields(&storage.per_tenant[*tenant_id])],
                exact,
            );
        }
        let counters = self.platform.counters();
        assert_eq!(counters.stored, self.platform_stored.len() as u64);
        assert_eq!(counters.duplicates, self.platform_duplicates);
        assert_eq!(
            counters.rejected.values().sum::<u64>(),
            self.platform_rejected
        );
    }
}

fuzz_target!(|input: Input| {
    let mut world = World::new(&input);
    for op in &input.ops {
        world.apply(op);
    }
});
