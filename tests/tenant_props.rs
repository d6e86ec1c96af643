//! Property tests of `TenantSystemLedger` aggregation and flushing (docs/model.md "TenantSystemLedger
//! and the platform", "Runtime rules"; decisions in `src/ledgers/tenant.rs`).
//!
//! Each case draws a ledger config (aggregation interval, flush retry delay, breaker) and up to
//! 200 operations: SDK facts of random subtypes and counts from random entities of the ledger's
//! own tenant and of foreign tenants, re-deliveries of earlier facts, clock steps (small, large,
//! to a period boundary or one ms before it), restarts (a new ledger on the same storage; the
//! old instance's in-flight flush dies with it), alarm firings (as the runtime does: at or after
//! `storage.alarm_ms`, which it clears before calling `on_alarm`), flush outcomes (success,
//! error, overloaded, timeout; a timed-out flush may or may not have reached the platform; a
//! pre-restart call's result never reaches the new instance, though its payload may reach the
//! platform) and queue re-deliveries of payloads the platform already has. A `PlatformLedger`
//! receives every payload that reaches the platform.
//!
//! The reference is deliberately tiny: the list of accepted own-tenant facts with their arrival
//! time and counts. Everything expected is derived from it: the aggregate of a period is the sum
//! over the facts that arrived in `[k * interval, (k + 1) * interval)`.
//!
//! After the operations the case heals: stale calls are lost, every flush succeeds, alarms run
//! until nothing is left. Each property is checked after every step and at the end.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use std::collections::{BTreeMap, BTreeSet};
use z0sim::ledgers::{
    Accepted, CallId, Effect, FailureKind, Message, PlatformLedger, PlatformStorage,
    PlatformTotals, TenantLedgerConfig, TenantStorage, TenantSystemLedger,
};
use z0sim::model::Name;
use z0sim::model::{
    ActorId, BreakerConfig, CacheStatsData, EntityMeta, Fact, FactAppendedData, FactError, FactId,
    HydrationDoneData, HydrationSource, Limits, SchemaInitData, SdkData, TenantConfig,
    TenantStatsPayload,
};

/// Cases per property.
const CASES: u32 = 384;
/// Longest operation sequence.
const MAX_OPS: usize = 200;
/// The ledger's own tenant.
const OWN: &str = "acme";
/// Other tenants whose facts reach it by mistake (or malice).
const FOREIGN: [&str; 2] = ["globex", "initech"];
/// Entities per tenant.
const ENTITIES: usize = 5;
/// Bound on alarm firings while healing.
const MAX_HEALING_STEPS: usize = 100_000;

// ------------------------------------------------------------------------------------------------
// Operations and scenarios
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Body {
    CacheStats { hits: u64, misses: u64 },
    FactAppended { count: u64 },
    SchemaInit,
    HydrationDone,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Error,
    Overloaded,
    Timeout,
}

#[derive(Clone, Debug)]
enum Op {
    /// A new fact from entity `entity` of the own tenant (`foreign: None`) or a foreign one.
    Fact {
        foreign: Option<usize>,
        entity: usize,
        body: Body,
    },
    /// Deliver again a fact delivered earlier (own or foreign).
    Duplicate(Index),
    /// Move the clock by this many thousandths of the aggregation interval.
    Advance { thousandths: u64 },
    /// Move the clock by a few ms.
    Nudge { ms: u64 },
    /// Move the clock to the next period boundary, or one ms before it.
    ToBoundary { one_before: bool },
    /// Evict the ledger and start a new instance on the same storage.
    Restart,
    /// Fire the alarm (if one is set) `late_ms` after its time or after now, whichever is later.
    FireAlarm { late_ms: u64 },
    /// Settle one of the calls in flight. A timed-out payload may still have reached the platform.
    Resolve {
        which: Index,
        outcome: Outcome,
        reached_platform: bool,
    },
    /// The queue delivers again a payload the platform already received.
    Redeliver(Index),
}

#[derive(Clone, Debug)]
struct Scenario {
    start_ms: u64,
    interval_ms: u64,
    retry_ms: u64,
    breaker: BreakerConfig,
    ops: Vec<Op>,
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => (0u64..100, 0u64..100).prop_map(|(hits, misses)| Body::CacheStats {
            hits: hits.max(u64::from(misses == 0)),
            misses,
        }),
        2 => (1u64..50).prop_map(|count| Body::FactAppended { count }),
        1 => Just(Body::SchemaInit),
        1 => Just(Body::HydrationDone),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        2 => Just(Outcome::Error),
        1 => Just(Outcome::Overloaded),
        2 => Just(Outcome::Timeout),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (
            proptest::option::weighted(0.2, 0..FOREIGN.len()),
            0..ENTITIES,
            body(),
        )
            .prop_map(|(foreign, entity, body)| Op::Fact { foreign, entity, body }),
        3 => any::<Index>().prop_map(Op::Duplicate),
        5 => (0u64..1_500).prop_map(|thousandths| Op::Advance { thousandths }),
        1 => (0u64..20_000).prop_map(|thousandths| Op::Advance { thousandths }),
        2 => (0u64..=3).prop_map(|ms| Op::Nudge { ms }),
        2 => any::<bool>().prop_map(|one_before| Op::ToBoundary { one_before }),
        1 => Just(Op::Restart),
        5 => prop_oneof![3 => Just(0u64), 1 => 0u64..10_000]
            .prop_map(|late_ms| Op::FireAlarm { late_ms }),
        6 => (any::<Index>(), outcome(), any::<bool>()).prop_map(
            |(which, outcome, reached_platform)| Op::Resolve {
                which,
                outcome,
                reached_platform,
            }
        ),
        1 => any::<Index>().prop_map(Op::Redeliver),
    ]
}

fn breaker() -> impl Strategy<Value = BreakerConfig> {
    prop_oneof![
        1 => Just(BreakerConfig::default()),
        3 => (1u32..=5, 1u64..=20_000, 1u32..=2).prop_map(|(threshold, reset_ms, probes)| {
            BreakerConfig {
                failure_threshold: threshold,
                reset_timeout_ms: reset_ms,
                half_open_max_probes: probes,
                ..BreakerConfig::default()
            }
        }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0u64..1_000_000_000_000,
        prop_oneof![Just(60_000u64), 1u64..=10, 10u64..=120_000],
        prop_oneof![Just(5_000u64), 100u64..=10_000],
        breaker(),
        prop::collection::vec(op(), 0..MAX_OPS),
    )
        .prop_map(|(start_ms, interval_ms, retry_ms, breaker, ops)| Scenario {
            start_ms,
            interval_ms,
            retry_ms,
            breaker,
            ops,
        })
}

// ------------------------------------------------------------------------------------------------
// Reference
// ------------------------------------------------------------------------------------------------

/// An accepted own-tenant fact, as the reference remembers it.
#[derive(Clone, Debug)]
struct RefFact {
    arrival_ms: u64,
    entity: String,
    hits: u64,
    misses: u64,
    appended: u64,
}

/// What the reference expects of one period (or of everything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RefAggregate {
    hits: u64,
    misses: u64,
    facts: u64,
    appended: u64,
    entities: BTreeSet<String>,
}

impl RefAggregate {
    fn add(&mut self, fact: &RefFact) {
        self.hits += fact.hits;
        self.misses += fact.misses;
        self.facts += 1;
        self.appended += fact.appended;
        self.entities.insert(fact.entity.clone());
    }

    /// `(hits, misses, facts, entities, appended)`.
    fn counts(&self) -> (u64, u64, u64, u64, u64) {
        (
            self.hits,
            self.misses,
            self.facts,
            self.entities.len() as u64,
            self.appended,
        )
    }
}

fn payload_counts(payload: &TenantStatsPayload) -> (u64, u64, u64, u64, u64) {
    (
        payload.cache_hits,
        payload.cache_misses,
        payload.facts_count,
        payload.entities_count,
        payload.facts_appended,
    )
}

/// `(hits, misses, facts, facts_appended)`.
type Totals = (u64, u64, u64, u64);

fn add_payload(totals: &mut Totals, payload: &TenantStatsPayload) {
    totals.0 += payload.cache_hits;
    totals.1 += payload.cache_misses;
    totals.2 += payload.facts_count;
    totals.3 += payload.facts_appended;
}

fn platform_totals(totals: &PlatformTotals) -> Totals {
    (
        totals.cache_hits,
        totals.cache_misses,
        totals.facts_count,
        totals.facts_appended,
    )
}

// ------------------------------------------------------------------------------------------------
// Simulation
// ------------------------------------------------------------------------------------------------

/// Which property a run checks (the harness's own sanity checks always apply).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Property {
    Conservation,
    NothingTwice,
    Periods,
    Alarm,
    RetryDelay,
    Healing,
}

/// Fails the case if `$cond` does not hold and the run checks `$property`.
macro_rules! ensure {
    ($sim:expr, $property:expr, $cond:expr, $($message:tt)+) => {
        if $sim.property == $property && !($cond) {
            return Err(TestCaseError::fail(format!(
                "[{:?}] at {} ms: {}",
                $property,
                $sim.now_ms,
                format!($($message)+)
            )));
        }
    };
}

/// A flush call in flight, tagged with the ledger instance that made it.
#[derive(Clone, Debug)]
struct InFlight {
    instance: u64,
    call_id: CallId,
    payload: TenantStatsPayload,
}

struct Sim {
    property: Property,
    config: TenantLedgerConfig,
    interval_ms: u64,
    now_ms: u64,
    ledger: TenantSystemLedger,
    storage: TenantStorage,
    effects: Vec<Effect>,
    /// Restarts so far: the current instance.
    instance: u64,
    /// Foreign facts the current instance rejected.
    foreign_since_start: u64,
    in_flight: Vec<InFlight>,
    platform: PlatformLedger,
    platform_storage: PlatformStorage,
    /// Every payload that reached the platform, re-deliveries included.
    reached_platform: Vec<TenantStatsPayload>,
    /// Every fact delivered to the ledger (own and foreign), for re-delivery.
    delivered: Vec<Fact>,
    next_seq: u64,
    /// The reference: accepted own-tenant facts in arrival order, and their ids.
    accepted: Vec<RefFact>,
    accepted_ids: BTreeSet<FactId>,
    /// Every payload the ledger ever had pending, by flush id, as first seen.
    issued: BTreeMap<String, TenantStatsPayload>,
    retry_ms: u64,
    /// After a failed flush of the current instance: no flush before this time.
    retry_not_before_ms: Option<u64>,
}

impl Sim {
    fn new(scenario: &Scenario, property: Property) -> Result<Self, TestCaseError> {
        let config = TenantLedgerConfig {
            actor: ActorId::new(format!("tenant:{OWN}")),
            tenant_id: OWN.to_owned(),
            tenant: TenantConfig {
                aggregation_interval_ms: scenario.interval_ms,
                flush_retry_delay_ms: scenario.retry_ms,
                ..TenantConfig::default()
            },
            sink: ActorId::new("platform"),
            breaker: scenario.breaker,
            jitter_seed: 3,
            limits: Limits::default(),
        };
        let mut storage = TenantStorage::default();
        let mut effects = Vec::new();
        let ledger = TenantSystemLedger::start(
            config.clone(),
            scenario.start_ms,
            &mut storage,
            &mut effects,
        );
        let mut sim = Self {
            property,
            interval_ms: scenario.interval_ms,
            config,
            now_ms: scenario.start_ms,
            ledger,
            storage,
            effects,
            instance: 0,
            foreign_since_start: 0,
            in_flight: Vec::new(),
            platform: PlatformLedger::new(Limits::default()),
            platform_storage: PlatformStorage::default(),
            reached_platform: Vec::new(),
            delivered: Vec::new(),
            next_seq: 0,
            accepted: Vec::new(),
            accepted_ids: BTreeSet::new(),
            issued: BTreeMap::new(),
            retry_ms: scenario.retry_ms,
            retry_not_before_ms: None,
        };
        sim.absorb_effects()?;
        sim.check()?;
        Ok(sim)
    }

    fn new_fact(&mut self, foreign: Option<usize>, entity: usize, body: &Body) -> Fact {
        let tenant = foreign.map_or(OWN, |index| FOREIGN[index]);
        let entity_id = format!("e{entity}");
        let meta = EntityMeta {
            entity_id: Name::from(entity_id.clone()),
            entity_type: "account".into(),
            tenant_id: tenant.into(),
        };
        let entity_type = meta.entity_type.clone();
        let (period_start_ms, period_end_ms) = (self.now_ms.saturating_sub(1_000), self.now_ms);
        let data = match *body {
            Body::CacheStats { hits, misses } => SdkData::CacheStats(CacheStatsData {
                entity_id: Name::from(entity_id),
                entity_type,
                period_start_ms,
                period_end_ms,
                hits,
                misses,
            }),
            Body::FactAppended { count } => SdkData::FactAppended(FactAppendedData {
                entity_id: Name::from(entity_id),
                entity_type,
                period_start_ms,
                period_end_ms,
                count,
                last_seq: self.next_seq,
            }),
            Body::SchemaInit => SdkData::SchemaInit(SchemaInitData {
                entity_id: Name::from(entity_id),
                entity_type,
                tables_created: vec!["facts".to_owned()],
                duration_ms: 5,
            }),
            Body::HydrationDone => SdkData::HydrationDone(HydrationDoneData {
                entity_id: Name::from(entity_id),
                entity_type,
                facts_replayed: 3,
                duration_ms: 1,
                source: HydrationSource::Storage,
            }),
        };
        self.next_seq += 1;
        let id = FactId::new(format!("entity:{tenant}/e{entity}"), self.next_seq);
        Fact::sdk(id, &meta, self.now_ms, &data)
    }

    fn ref_fact(&self, fact: &Fact) -> RefFact {
        let data = fact.data.json();
        let (hits, misses, appended) = match data.get("hits") {
            Some(hits) => (
                hits.as_u64().unwrap_or_default(),
                data["misses"].as_u64().unwrap_or_default(),
                0,
            ),
            None => (0, 0, data["count"].as_u64().unwrap_or_default()),
        };
        RefFact {
            arrival_ms: self.now_ms,
            entity: fact.entity_id.to_string(),
            hits,
            misses,
            appended,
        }
    }

    /// Delivers `fact`; checks the answer against the reference.
    fn deliver_fact(&mut self, fact: Fact) -> Result<(), TestCaseError> {
        let own = fact.tenant_id == OWN;
        let known = self.accepted_ids.contains(&fact.id);
        let before = self.storage.clone();
        self.effects.clear();
        let result = self.ledger.on_fact(
            self.now_ms,
            &mut self.storage,
            fact.clone(),
            &mut self.effects,
        );
        if !own {
            self.foreign_since_start += 1;
            ensure!(
                self,
                Property::NothingTwice,
                matches!(&result, Err(FactError::ForeignTenant { tenant_id, .. }) if *tenant_id == fact.tenant_id),
                "foreign fact {fact:?} answered {result:?}"
            );
            ensure!(
                self,
                Property::NothingTwice,
                self.ledger.counters().rejected_cross_tenant == self.foreign_since_start,
                "rejected_cross_tenant {} after {} foreign facts",
                self.ledger.counters().rejected_cross_tenant,
                self.foreign_since_start
            );
        } else if known {
            ensure!(
                self,
                Property::NothingTwice,
                result == Ok(Accepted::Duplicate),
                "re-delivered fact {} answered {result:?}",
                fact.id
            );
        } else {
            prop_assert_eq!(
                &result,
                &Ok(Accepted::Stored),
                "a valid own fact: {:?}",
                fact
            );
            self.accepted.push(self.ref_fact(&fact));
            self.accepted_ids.insert(fact.id.clone());
        }
        if !own || known {
            ensure!(
                self,
                Property::NothingTwice,
                self.storage == before && self.effects.is_empty(),
                "a duplicate or foreign fact changed storage: {before:?} -> {:?}",
                self.storage
            );
        }
        self.delivered.push(fact);
        self.absorb_effects()
    }

    fn restart(&mut self) -> Result<(), TestCaseError> {
        self.instance += 1;
        // docs/model.md does not say whether a new instance must honour the old one's retry delay.
        self.retry_not_before_ms = None;
        self.foreign_since_start = 0;
        self.effects.clear();
        self.ledger = TenantSystemLedger::start(
            self.config.clone(),
            self.now_ms,
            &mut self.storage,
            &mut self.effects,
        );
        self.absorb_effects()
    }

    /// Fires the alarm, if set, as the runtime does. Returns whether it fired.
    fn fire_alarm(&mut self, late_ms: u64) -> Result<bool, TestCaseError> {
        let Some(at_ms) = self.storage.alarm_ms else {
            return Ok(false);
        };
        self.now_ms = self.now_ms.max(at_ms) + late_ms;
        self.storage.alarm_ms = None;
        self.effects.clear();
        self.ledger
            .on_alarm(self.now_ms, &mut self.storage, &mut self.effects);
        self.absorb_effects()?;
        Ok(true)
    }

    /// The platform receives a payload (first delivery or re-delivery).
    fn platform_receives(&mut self, payload: TenantStatsPayload) -> Result<(), TestCaseError> {
        let seen_before = self
            .platform_storage
            .seen
            .contains(&(payload.tenant_id.clone(), payload.flush_id.clone()));
        let totals_before = self.platform_storage.overall;
        let result =
            self.platform
                .on_payload(self.now_ms, &mut self.platform_storage, payload.clone());
        prop_assert!(
            result.is_ok(),
            "the platform rejected {:?}: {:?}",
            payload,
            result
        );
        if seen_before {
            ensure!(
                self,
                Property::NothingTwice,
                result == Ok(Accepted::Duplicate) && self.platform_storage.overall == totals_before,
                "a re-delivered payload {} counted again: {result:?}",
                payload.flush_id
            );
        }
        self.reached_platform.push(payload);
        Ok(())
    }

    fn resolve(
        &mut self,
        which: &Index,
        outcome: Outcome,
        reached: bool,
    ) -> Result<(), TestCaseError> {
        if self.in_flight.is_empty() {
            return Ok(());
        }
        let call = self.in_flight.remove(which.index(self.in_flight.len()));
        let reached = match outcome {
            Outcome::Success => true,
            Outcome::Timeout => reached,
            Outcome::Error | Outcome::Overloaded => false,
        };
        if reached {
            self.platform_receives(call.payload.clone())?;
        }
        if call.instance != self.instance {
            // The caller died with its instance: the result goes nowhere.
            return Ok(());
        }
        let outcome = match outcome {
            Outcome::Success => Ok(()),
            Outcome::Error => Err(FailureKind::Error),
            Outcome::Overloaded => Err(FailureKind::Overloaded),
            Outcome::Timeout => Err(FailureKind::Timeout),
        };
        if outcome.is_err() {
            self.retry_not_before_ms = Some(self.now_ms + self.retry_ms);
        }
        self.effects.clear();
        self.ledger.on_delivery_result(
            self.now_ms,
            &mut self.storage,
            call.call_id,
            outcome,
            &mut self.effects,
        );
        self.absorb_effects()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Fact {
                foreign,
                entity,
                body,
            } => {
                let fact = self.new_fact(*foreign, *entity, body);
                self.deliver_fact(fact)?;
            }
            Op::Duplicate(which) => {
                if !self.delivered.is_empty() {
                    let fact = self.delivered[which.index(self.delivered.len())].clone();
                    self.deliver_fact(fact)?;
                }
            }
            Op::Advance { thousandths } => {
                self.now_ms += self.interval_ms * thousandths / 1_000;
            }
            Op::Nudge { ms } => self.now_ms += ms,
            Op::ToBoundary { one_before } => {
                let boundary_ms = (self.now_ms / self.interval_ms + 1) * self.interval_ms;
                self.now_ms = self.now_ms.max(boundary_ms - u64::from(*one_before));
            }
            Op::Restart => self.restart()?,
            Op::FireAlarm { late_ms } => {
                self.fire_alarm(*late_ms)?;
            }
            Op::Resolve {
                which,
                outcome,
                reached_platform,
            } => self.resolve(which, *outcome, *reached_platform)?,
            Op::Redeliver(which) => {
                if !self.reached_platform.is_empty() {
                    let index = which.index(self.reached_platform.len());
                    let payload = self.reached_platform[index].clone();
                    self.platform_receives(payload)?;
                }
            }
        }
        self.check()
    }

    /// Heals the world: stale calls are lost, every flush succeeds, alarms run until nothing
    /// is left; then checks the end state.
    fn heal(&mut self) -> Result<(), TestCaseError> {
        let current = self.instance;
        self.in_flight.retain(|call| call.instance == current);
        for _ in 0..MAX_HEALING_STEPS {
            if let Some(call) = self.in_flight.pop() {
                self.platform_receives(call.payload.clone())?;
                self.effects.clear();
                self.ledger.on_delivery_result(
                    self.now_ms,
                    &mut self.storage,
                    call.call_id,
                    Ok(()),
                    &mut self.effects,
                );
                self.absorb_effects()?;
            } else if !self.fire_alarm(0)? {
                break;
            }
            self.check()?;
        }
        let reference = self.reference_periods();
        let mut expected = PlatformTotals::default();
        for aggregate in reference.values() {
            expected.payloads += 1;
            expected.cache_hits += aggregate.hits;
            expected.cache_misses += aggregate.misses;
            expected.facts_count += aggregate.facts;
            expected.facts_appended += aggregate.appended;
            expected.entity_periods += aggregate.entities.len() as u64;
        }
        let got = self
            .platform_storage
            .per_tenant
            .get(OWN)
            .copied()
            .unwrap_or_default();
        ensure!(
            self,
            Property::Healing,
            !self.storage.has_work() && self.in_flight.is_empty(),
            "still work after healing: {:?}, in flight {:?}",
            self.storage,
            self.in_flight
        );
        ensure!(
            self,
            Property::Healing,
            got == expected && self.platform_storage.overall == expected,
            "platform totals {got:?} (overall {:?}), reference {expected:?}",
            self.platform_storage.overall
        );
        for payload in &self.platform_storage.payloads {
            let want = reference
                .get(&payload.period_start_ms)
                .map(RefAggregate::counts);
            ensure!(
                self,
                Property::Healing,
                want == Some(payload_counts(payload)),
                "platform payload {payload:?}, reference {want:?}"
            );
        }
        Ok(())
    }

    /// The reference aggregation: accepted facts by aligned period of their arrival.
    fn reference_periods(&self) -> BTreeMap<u64, RefAggregate> {
        let mut periods: BTreeMap<u64, RefAggregate> = BTreeMap::new();
        for fact in &self.accepted {
            let start_ms = fact.arrival_ms - fact.arrival_ms % self.interval_ms;
            periods.entry(start_ms).or_default().add(fact);
        }
        periods
    }

    fn reference_totals(&self) -> Totals {
        self.accepted.iter().fold((0, 0, 0, 0), |t, f| {
            (t.0 + f.hits, t.1 + f.misses, t.2 + 1, t.3 + f.appended)
        })
    }

    /// Records new pending payloads, then inspects the effects of the last ledger call.
    fn absorb_effects(&mut self) -> Result<(), TestCaseError> {
        for payload in &self.storage.pending {
            match self.issued.get(&payload.flush_id) {
                Some(first) => ensure!(
                    self,
                    Property::NothingTwice,
                    first == payload,
                    "flush id {} changed its payload: {first:?} -> {payload:?}",
                    payload.flush_id
                ),
                None => {
                    self.issued
                        .insert(payload.flush_id.clone(), payload.clone());
                }
            }
        }
        let effects = std::mem::take(&mut self.effects);
        let mut sends = 0;
        let mut last_alarm = None;
        for effect in &effects {
            match effect {
                Effect::Send {
                    target,
                    call_id,
                    message,
                    awaited,
                } => {
                    let Message::TenantStats(payload) = message else {
                        return Err(TestCaseError::fail(format!("unexpected send {message:?}")));
                    };
                    prop_assert_eq!(target, &self.config.sink);
                    prop_assert!(*awaited, "flushes are awaited");
                    sends += 1;
                    ensure!(
                        self,
                        Property::RetryDelay,
                        self.retry_not_before_ms
                            .is_none_or(|at_ms| self.now_ms >= at_ms),
                        "flush {} sent before {:?}, flush_retry_delay_ms ({}) after the last \
                         failure",
                        payload.flush_id,
                        self.retry_not_before_ms,
                        self.retry_ms
                    );
                    self.retry_not_before_ms = None;
                    let front = self.storage.pending.front().map(|p| &p.flush_id);
                    ensure!(
                        self,
                        Property::Periods,
                        front == Some(&payload.flush_id),
                        "sent {} while the oldest pending is {front:?}",
                        payload.flush_id
                    );
                    ensure!(
                        self,
                        Property::NothingTwice,
                        self.issued.get(&payload.flush_id) == Some(payload),
                        "sent {payload:?}, issued as {:?}",
                        self.issued.get(&payload.flush_id)
                    );
                    self.in_flight.push(InFlight {
                        instance: self.instance,
                        call_id: *call_id,
                        payload: payload.clone(),
                    });
                }
                Effect::SetAlarm { at_ms } => last_alarm = Some(*at_ms),
                Effect::Dropped { .. } => {
                    return Err(TestCaseError::fail(format!(
                        "a tenant flush was dropped: {effect:?}"
                    )));
                }
                Effect::Settled { .. }
                | Effect::Breaker { .. }
                | Effect::Emitted { .. }
                | Effect::Rejected { .. } => {}
            }
        }
        let current = self
            .in_flight
            .iter()
            .filter(|call| call.instance == self.instance)
            .count();
        ensure!(
            self,
            Property::Periods,
            sends <= 1 && current <= 1,
            "{sends} flushes sent at once, {current} in flight: one at a time, oldest first"
        );
        if let Some(at_ms) = last_alarm {
            ensure!(
                self,
                Property::Alarm,
                self.storage.alarm_ms == Some(at_ms),
                "SetAlarm {at_ms} but storage says {:?}",
                self.storage.alarm_ms
            );
        }
        self.effects = effects;
        self.effects.clear();
        Ok(())
    }

    /// The properties, after every step.
    fn check(&self) -> Result<(), TestCaseError> {
        let reference = self.reference_periods();
        let interval_ms = self.interval_ms;
        let storage = &self.storage;
        let seen = |payload: &TenantStatsPayload| {
            self.platform_storage
                .seen
                .contains(&(payload.tenant_id.clone(), payload.flush_id.clone()))
        };

        // An alarm is set whenever there is work.
        ensure!(
            self,
            Property::Alarm,
            !storage.has_work() || storage.alarm_ms.is_some(),
            "work and no alarm: {storage:?}"
        );

        // Totals conserved: platform + undelivered pending + open == reference; nothing lost.
        let mut totals = platform_totals(
            &self
                .platform_storage
                .per_tenant
                .get(OWN)
                .copied()
                .unwrap_or_default(),
        );
        for payload in storage.pending.iter().filter(|payload| !seen(payload)) {
            add_payload(&mut totals, payload);
        }
        if let Some(open) = &storage.open {
            totals.0 += open.cache_hits;
            totals.1 += open.cache_misses;
            totals.2 += open.facts_count;
            totals.3 += open.facts_appended;
        }
        ensure!(
            self,
            Property::Conservation,
            totals == self.reference_totals(),
            "platform + pending + open = {totals:?}, reference {:?}",
            self.reference_totals()
        );
        for payload in self.issued.values() {
            let pending = storage
                .pending
                .iter()
                .any(|p| p.flush_id == payload.flush_id);
            ensure!(
                self,
                Property::Conservation,
                pending || seen(payload),
                "payload {} left storage but never reached the platform",
                payload.flush_id
            );
        }

        // Nothing counted twice: every accepted fact's period is in exactly one place, the
        // platform holds only this tenant's distinct payloads, each as issued.
        let mut places: BTreeMap<u64, usize> = BTreeMap::new();
        for payload in self.issued.values() {
            *places.entry(payload.period_start_ms).or_default() += 1;
        }
        if let Some(open) = &storage.open {
            *places.entry(open.period_start_ms).or_default() += 1;
        }
        ensure!(
            self,
            Property::NothingTwice,
            places.values().all(|&n| n == 1) && places.keys().eq(reference.keys()),
            "periods held {places:?}, periods with accepted facts {:?}",
            reference.keys().collect::<Vec<_>>()
        );
        ensure!(
            self,
            Property::NothingTwice,
            self.platform_storage.per_tenant.keys().all(|t| t == OWN),
            "another tenant appeared at the platform: {:?}",
            self.platform_storage.per_tenant
        );
        let mut platform_ids = BTreeSet::new();
        for payload in &self.platform_storage.payloads {
            ensure!(
                self,
                Property::NothingTwice,
                platform_ids.insert(&payload.flush_id)
                    && self.issued.get(&payload.flush_id) == Some(payload),
                "platform counted {payload:?} twice or not as issued"
            );
        }

        // Periods: aligned, one interval long, strictly increasing with the flush sequence,
        // closed, and each equal to the reference aggregation of its period.
        let mut by_seq = BTreeMap::new();
        for (flush_id, payload) in &self.issued {
            let seq = flush_id
                .strip_prefix(&format!("{OWN}/"))
                .and_then(|seq| seq.parse::<u64>().ok());
            ensure!(
                self,
                Property::Periods,
                seq.is_some(),
                "flush id {flush_id:?} is not \"{OWN}/<n>\""
            );
            by_seq.insert(seq.unwrap_or_default(), payload);
        }
        ensure!(
            self,
            Property::Periods,
            by_seq.keys().copied().eq(0..storage.next_flush_seq),
            "flush sequence numbers {:?}, next {}",
            by_seq.keys().collect::<Vec<_>>(),
            storage.next_flush_seq
        );
        let mut previous_start = None;
        for payload in by_seq.values() {
            ensure!(
                self,
                Property::Periods,
                payload.tenant_id == OWN
                    && payload.period_start_ms % interval_ms == 0
                    && payload.period_end_ms == payload.period_start_ms + interval_ms
                    && payload.period_end_ms <= self.now_ms
                    && previous_start < Some(payload.period_start_ms),
                "payload {payload:?} after period start {previous_start:?} (interval {interval_ms})"
            );
            previous_start = Some(payload.period_start_ms);
            let want = reference
                .get(&payload.period_start_ms)
                .map(RefAggregate::counts);
            ensure!(
                self,
                Property::Periods,
                want == Some(payload_counts(payload)),
                "payload {payload:?}, reference {want:?}"
            );
        }
        let pending_ids: Vec<&String> = storage.pending.iter().map(|p| &p.flush_id).collect();
        let pending_in_order = storage
            .pending
            .iter()
            .zip(storage.pending.iter().skip(1))
            .all(|(a, b)| a.period_start_ms < b.period_start_ms);
        ensure!(
            self,
            Property::Periods,
            pending_in_order,
            "pending out of order: {pending_ids:?}"
        );
        if let Some(open) = &storage.open {
            let want = reference.get(&open.period_start_ms);
            ensure!(
                self,
                Property::Periods,
                open.period_start_ms % interval_ms == 0
                    && previous_start < Some(open.period_start_ms)
                    && open.period_start_ms <= self.now_ms
                    && want.is_some_and(|want| {
                        (want.hits, want.misses, want.facts, want.appended, &want.entities)
                            == (
                                open.cache_hits,
                                open.cache_misses,
                                open.facts_count,
                                open.facts_appended,
                                &open.entities.iter().map(|name| name.to_string()).collect(),
                            )
                    }),
                "open aggregate {open:?}, reference {want:?}, last closed period {previous_start:?}"
            );
        }
        Ok(())
    }
}

fn run(scenario: &Scenario, property: Property) -> Result<(), TestCaseError> {
    let mut sim = Sim::new(scenario, property)?;
    for op in &scenario.ops {
        sim.apply(op)?;
    }
    sim.heal()
}

/// No regression files: this test must not write anything into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn delivered_plus_pending_plus_open_always_equals_the_accepted_facts(scenario in scenario()) {
        run(&scenario, Property::Conservation)?;
    }

    #[test]
    fn no_fact_and_no_payload_is_ever_counted_twice(scenario in scenario()) {
        run(&scenario, Property::NothingTwice)?;
    }

    #[test]
    fn every_payload_is_one_aligned_period_in_order_with_exactly_that_periods_facts(
        scenario in scenario()
    ) {
        run(&scenario, Property::Periods)?;
    }

    #[test]
    fn an_alarm_is_set_whenever_the_tenant_ledger_has_work(scenario in scenario()) {
        run(&scenario, Property::Alarm)?;
    }

    #[test]
        fn a_failed_flush_is_not_tried_again_before_the_retry_delay_has_passed(
        scenario in scenario()
    ) {
        run(&scenario, Property::RetryDelay)?;
    }

    #[test]
    fn after_healing_nothing_is_pending_and_the_platform_has_exactly_the_reference_totals(
        scenario in scenario()
    ) {
        run(&scenario, Property::Healing)?;
    }
}
