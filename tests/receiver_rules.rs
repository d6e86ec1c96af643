//! One test per receiver rule of `docs/model.md` ("Facts", "TenantSystemLedger and the
//! platform", "Runtime rules") and of the decisions documented in `src/ledgers/system.rs`,
//! `src/ledgers/tenant.rs` and `src/ledgers/platform.rs`.
//!
//! The tenant tests drive the ledger through [`TenantRig`], which mimics the runtime: it owns the
//! durable storage and the clock, fires the alarm only at or after `storage.alarm_ms` (clearing
//! it before calling `on_alarm`), routes delivery results only to the instance that made the
//! call, and checks after every call that an alarm is set whenever the ledger has work.

use std::collections::BTreeMap;
use z0sim::ledgers::{
    Accepted, BreakerState, CallId, Effect, FailureKind, Message, PlatformLedger, PlatformStorage,
    PlatformTotals, SystemLedger, SystemStats, SystemStorage, TenantLedgerConfig, TenantStorage,
    TenantSystemLedger,
};
use z0sim::model::Name;
use z0sim::model::{
    ActorId, BreakerConfig, CacheStatsData, EntityMeta, Fact, FactAppendedData, FactError, FactId,
    Limits, PayloadError, SchemaInitData, SdkData, TenantConfig, TenantStatsPayload,
    DEFAULT_RPC_TIMEOUT_MS,
};

const TENANT: &str = "acme";
const OTHER_TENANT: &str = "globex";
const INTERVAL_MS: u64 = 60_000;
const RETRY_MS: u64 = 5_000;

// ------------------------------------------------------------------------------------------------
// Facts
// ------------------------------------------------------------------------------------------------

fn meta(tenant: &str, entity: &str) -> EntityMeta {
    EntityMeta {
        entity_id: entity.into(),
        entity_type: "account".into(),
        tenant_id: tenant.into(),
    }
}

fn fact_id(tenant: &str, entity: &str, seq: u64) -> FactId {
    FactId::new(format!("entity:{tenant}/{entity}"), seq)
}

/// A `cache_stats` fact for the stats period that ended at `at_ms`.
fn cache_stats(tenant: &str, entity: &str, seq: u64, at_ms: u64, hits: u64, misses: u64) -> Fact {
    let data = SdkData::CacheStats(CacheStatsData {
        entity_id: entity.into(),
        entity_type: "account".into(),
        period_start_ms: at_ms.saturating_sub(1_000),
        period_end_ms: at_ms,
        hits,
        misses,
    });
    Fact::sdk(
        fact_id(tenant, entity, seq),
        &meta(tenant, entity),
        at_ms,
        &data,
    )
}

/// A `fact_appended` fact counting `count` domain facts.
fn fact_appended(tenant: &str, entity: &str, seq: u64, at_ms: u64, count: u64) -> Fact {
    let data = SdkData::FactAppended(FactAppendedData {
        entity_id: entity.into(),
        entity_type: "account".into(),
        period_start_ms: at_ms.saturating_sub(1_000),
        period_end_ms: at_ms,
        count,
        last_seq: seq,
    });
    Fact::sdk(
        fact_id(tenant, entity, seq),
        &meta(tenant, entity),
        at_ms,
        &data,
    )
}

/// A `schema_init` fact.
fn schema_init(tenant: &str, entity: &str, seq: u64, at_ms: u64) -> Fact {
    let data = SdkData::SchemaInit(SchemaInitData {
        entity_id: entity.into(),
        entity_type: "account".into(),
        tables_created: vec!["facts".to_owned(), "entities".to_owned()],
        duration_ms: 10,
    });
    Fact::sdk(
        fact_id(tenant, entity, seq),
        &meta(tenant, entity),
        at_ms,
        &data,
    )
}

// ------------------------------------------------------------------------------------------------
// Tenant rig: the runtime around one TenantSystemLedger
// ------------------------------------------------------------------------------------------------

fn sink() -> ActorId {
    ActorId::new("platform")
}

fn tenant_config(breaker: BreakerConfig) -> TenantLedgerConfig {
    TenantLedgerConfig {
        actor: ActorId::new(format!("tenant:{TENANT}")),
        tenant_id: TENANT.to_owned(),
        tenant: TenantConfig {
            aggregation_interval_ms: INTERVAL_MS,
            flush_retry_delay_ms: RETRY_MS,
            ..TenantConfig::default()
        },
        sink: sink(),
        breaker,
        jitter_seed: 1,
        limits: Limits::default(),
    }
}

/// A flush the ledger sent: the call id of the instance that sent it and the payload.
type Sent = (CallId, TenantStatsPayload);

struct TenantRig {
    config: TenantLedgerConfig,
    ledger: TenantSystemLedger,
    storage: TenantStorage,
    now_ms: u64,
    effects: Vec<Effect>,
}

impl TenantRig {
    fn new(now_ms: u64) -> Self {
        Self::with_breaker(now_ms, BreakerConfig::default())
    }

    fn with_breaker(now_ms: u64, breaker: BreakerConfig) -> Self {
        let config = tenant_config(breaker);
        let mut storage = TenantStorage::default();
        let mut effects = Vec::new();
        let ledger = TenantSystemLedger::start(config.clone(), now_ms, &mut storage, &mut effects);
        let mut rig = Self {
            config,
            ledger,
            storage,
            now_ms,
            effects,
        };
        rig.after_call();
        rig
    }

    /// Moves the clock (never backwards).
    fn at(&mut self, now_ms: u64) -> &mut Self {
        assert!(now_ms >= self.now_ms, "the clock never goes back");
        self.now_ms = now_ms;
        self
    }

    /// Eviction: the in-memory ledger is gone; a new one starts on the same durable storage.
    fn restart(&mut self) {
        // `self.storage` is exactly what the previous instance left in durable storage.
        self.effects.clear();
        self.ledger = TenantSystemLedger::start(
            self.config.clone(),
            self.now_ms,
            &mut self.storage,
            &mut self.effects,
        );
        self.after_call();
    }

    fn receive(&mut self, fact: Fact) -> Result<Accepted, FactError> {
        self.effects.clear();
        let result = self
            .ledger
            .on_fact(self.now_ms, &mut self.storage, fact, &mut self.effects);
        self.after_call();
        result
    }

    /// Fires the alarm as the runtime does: at its time (or now, if that is later), clearing
    /// it before the handler runs. Returns the flushes the handler sent.
    fn fire_alarm(&mut self) -> Vec<Sent> {
        let at_ms = self.storage.alarm_ms.expect("an alarm is set");
        self.now_ms = self.now_ms.max(at_ms);
        self.storage.alarm_ms = None;
        self.effects.clear();
        self.ledger
            .on_alarm(self.now_ms, &mut self.storage, &mut self.effects);
        self.after_call();
        self.sent()
    }

    /// Reports the outcome of a call of the current instance; returns the flushes it triggered.
    fn result(&mut self, call_id: CallId, outcome: Result<(), FailureKind>) -> Vec<Sent> {
        self.effects.clear();
        self.ledger.on_delivery_result(
            self.now_ms,
            &mut self.storage,
            call_id,
            outcome,
            &mut self.effects,
        );
        self.after_call();
        self.sent()
    }

    fn sent(&self) -> Vec<Sent> {
        self.effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Send {
                    target,
                    call_id,
                    message: Message::TenantStats(payload),
                    awaited,
                } => {
                    assert_eq!(target, &sink(), "flushes go to the configured sink");
                    assert!(*awaited, "a flush is awaited, never fire-and-forget");
                    Some((*call_id, payload.clone()))
                }
                Effect::Send { message, .. } => panic!("a tenant ledger sent {message:?}"),
                _ => None,
            })
            .collect()
    }

    /// What the runtime checks after every call: the storage mirrors every `SetAlarm`, and an
    /// alarm is set while there is work.
    fn after_call(&mut self) {
        for effect in &self.effects {
            if let Effect::SetAlarm { at_ms } = effect {
                assert!(
                    self.storage.alarm_ms.is_some_and(|stored| stored <= *at_ms),
                    "storage mirrors SetAlarm {at_ms}: {:?}",
                    self.storage.alarm_ms
                );
            }
        }
        if self.storage.has_work() {
            assert!(
                self.storage.alarm_ms.is_some(),
                "work pending and no alarm set at {} ms: {:?}",
                self.now_ms,
                self.storage
            );
        }
    }

    /// Runs alarms and acknowledges every flush until nothing is left; returns what was
    /// delivered, in order.
    fn flush_everything(&mut self) -> Vec<TenantStatsPayload> {
        let mut delivered = Vec::new();
        for _ in 0..1_000 {
            if !self.storage.has_work() {
                return delivered;
            }
            let mut sent = self.fire_alarm();
            while let Some((call_id, payload)) = sent.pop() {
                assert!(sent.is_empty(), "one flush in flight at a time");
                delivered.push(payload);
                sent = self.result(call_id, Ok(()));
            }
        }
        panic!("the ledger never ran out of work: {:?}", self.storage);
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

// ------------------------------------------------------------------------------------------------
// SystemLedger
// ------------------------------------------------------------------------------------------------

#[test]
fn the_system_ledger_stores_a_valid_sdk_fact() {
    let mut ledger = SystemLedger::new(Limits::default());
    let mut storage = SystemStorage::default();
    let fact = cache_stats(TENANT, "a", 1, 10_000, 4, 2);

    let result = ledger.on_sdk_fact(10_000, &mut storage, fact.clone());

    assert_eq!(result, Ok(Accepted::Stored));
    assert!(storage.contains(&fact.id));
    assert_eq!(
        SystemLedger::get_sdk_facts(&storage, "a"),
        vec![fact.clone()]
    );
    assert_eq!(
        SystemLedger::get_stats(&storage),
        SystemStats {
            tenant_count: 1,
            entity_count: 1,
            sdk_facts_count: 1
        }
    );
    assert_eq!(ledger.counters().stored, 1);
}

#[test]
fn a_fact_delivered_twice_to_the_system_ledger_is_stored_once() {
    let mut ledger = SystemLedger::new(Limits::default());
    let mut storage = SystemStorage::default();
    let fact = cache_stats(TENANT, "a", 1, 10_000, 4, 2);

    assert_eq!(
        ledger.on_sdk_fact(10_000, &mut storage, fact.clone()),
        Ok(Accepted::Stored)
    );
    assert_eq!(
        ledger.on_sdk_fact(20_000, &mut storage, fact.clone()),
        Ok(Accepted::Duplicate)
    );

    assert_eq!(SystemLedger::get_sdk_facts(&storage, "a").len(), 1);
    assert_eq!(SystemLedger::get_cache_stats(&storage, "a").len(), 1);
    assert_eq!(SystemLedger::get_stats(&storage).sdk_facts_count, 1);
    assert_eq!(ledger.counters().stored, 1);
    assert_eq!(ledger.counters().duplicates, 1);
}

/// Malformed variants of a valid cache_stats fact, with the error kind each must get.
fn malformed_facts(now_ms: u64) -> Vec<(&'static str, Fact)> {
    let valid = cache_stats(TENANT, "a", 7, now_ms, 4, 2);
    let mut cases = Vec::new();
    let mut with = |kind, edit: &dyn Fn(&mut Fact)| {
        let mut fact = valid.clone();
        edit(&mut fact);
        cases.push((kind, fact));
    };
    with("missing_id", &|fact| fact.id.actor = Default::default());
    with("missing_tenant", &|fact| {
        fact.tenant_id = Default::default()
    });
    with("missing_entity", &|fact| {
        fact.entity_id = Default::default()
    });
    with("name_too_long", &|fact| {
        fact.entity_type = Name::from("x".repeat(300))
    });
    with("not_sdk", &|fact| fact.fact_type = "account".into());
    with("unknown_subtype", &|fact| {
        fact.subtype = "cache_stat".into()
    });
    with("malformed_data", &|fact| {
        fact.data
            .json_mut()
            .as_object_mut()
            .expect("data is an object")
            .remove("hits");
    });
    with("malformed_data", &|fact| {
        fact.data.json_mut()["hits"] = serde_json::json!("many");
    });
    with("malformed_data", &|fact| {
        fact.data.json_mut()["extra"] = serde_json::json!(1);
    });
    with("entity_mismatch", &|fact| {
        fact.data.json_mut()["entity_id"] = serde_json::json!("b");
    });
    with("bad_period", &|fact| {
        fact.data.json_mut()["hits"] = serde_json::json!(0);
        fact.data.json_mut()["misses"] = serde_json::json!(0);
    });
    with("bad_period", &|fact| {
        fact.data.json_mut()["period_start"] = serde_json::json!(now_ms + 1);
    });
    with("from_the_future", &|fact| {
        fact.timestamp_ms = now_ms + Limits::default().max_clock_skew_ms + 1;
    });
    with("oversized", &|fact| {
        fact.data.json_mut()["entity_type"] = serde_json::json!("y".repeat(5_000));
    });
    cases
}

#[test]
fn a_malformed_fact_is_rejected_by_the_system_ledger_and_not_stored() {
    let now_ms = 100_000;
    let mut ledger = SystemLedger::new(Limits::default());
    let mut storage = SystemStorage::default();
    let other = cache_stats(TENANT, "other", 1, now_ms, 1, 1);
    assert_eq!(
        ledger.on_sdk_fact(now_ms, &mut storage, other),
        Ok(Accepted::Stored)
    );
    let stats_before = SystemLedger::get_stats(&storage);

    let mut expected_rejections: BTreeMap<&str, u64> = BTreeMap::new();
    for (kind, fact) in malformed_facts(now_ms) {
        let result = ledger.on_sdk_fact(now_ms, &mut storage, fact.clone());
        let error = result.expect_err(&format!("{kind}: {fact:?} must be rejected"));
        assert_eq!(error.kind(), kind, "{fact:?}");
        assert!(!storage.contains(&fact.id), "{kind}: nothing stored");
        assert_eq!(SystemLedger::get_stats(&storage), stats_before, "{kind}");
        assert!(
            SystemLedger::get_sdk_facts(&storage, "a").is_empty(),
            "{kind}"
        );
        *expected_rejections.entry(kind).or_default() += 1;
    }
    assert_eq!(ledger.counters().rejected, expected_rejections);

    // A rejection does not poison de-duplication: the valid fact with that id is stored.
    let valid = cache_stats(TENANT, "a", 7, now_ms, 4, 2);
    assert_eq!(
        ledger.on_sdk_fact(now_ms, &mut storage, valid),
        Ok(Accepted::Stored)
    );
}

#[test]
fn get_sdk_facts_and_get_cache_stats_return_only_that_entitys_facts_in_arrival_order() {
    let mut ledger = SystemLedger::new(Limits::default());
    let mut storage = SystemStorage::default();
    // Arrival order 9, 3, 5 differs from fact-id order 3, 5, 9.
    let a9 = cache_stats(TENANT, "a", 9, 1_000, 9, 0);
    let b1 = cache_stats(TENANT, "b", 1, 1_500, 1, 0);
    let a3 = schema_init(TENANT, "a", 3, 2_000);
    let a5 = cache_stats(TENANT, "a", 5, 3_000, 5, 0);
    let c2 = fact_appended(OTHER_TENANT, "c", 2, 3_500, 2);
    for fact in [&a9, &b1, &a3, &a5, &c2] {
        assert_eq!(
            ledger.on_sdk_fact(4_000, &mut storage, fact.clone()),
            Ok(Accepted::Stored)
        );
    }
    // A duplicate does not move a fact to the end.
    assert_eq!(
        ledger.on_sdk_fact(4_000, &mut storage, a9.clone()),
        Ok(Accepted::Duplicate)
    );

    assert_eq!(
        SystemLedger::get_sdk_facts(&storage, "a"),
        vec![a9.clone(), a3.clone(), a5.clone()]
    );
    assert_eq!(SystemLedger::get_sdk_facts(&storage, "b"), vec![b1.clone()]);
    assert_eq!(SystemLedger::get_sdk_facts(&storage, "c"), vec![c2.clone()]);
    assert!(SystemLedger::get_sdk_facts(&storage, "nobody").is_empty());

    let hits: Vec<u64> = SystemLedger::get_cache_stats(&storage, "a")
        .iter()
        .map(|stats| stats.hits)
        .collect();
    assert_eq!(hits, vec![9, 5], "cache stats of a only, in arrival order");
    let stats_of_b = SystemLedger::get_cache_stats(&storage, "b");
    assert_eq!(stats_of_b.len(), 1);
    assert_eq!(stats_of_b[0].entity_id, "b");
    assert!(
        SystemLedger::get_cache_stats(&storage, "c").is_empty(),
        "c has no cache stats"
    );
}

#[test]
fn get_stats_counts_distinct_tenants_entities_and_stored_facts() {
    let mut ledger = SystemLedger::new(Limits::default());
    let mut storage = SystemStorage::default();
    assert_eq!(SystemLedger::get_stats(&storage), SystemStats::default());
    let facts = [
        cache_stats(TENANT, "a", 1, 1_000, 1, 0),
        cache_stats(TENANT, "a", 2, 2_000, 1, 0),
        schema_init(TENANT, "b", 1, 2_000),
        fact_appended(OTHER_TENANT, "c", 1, 2_000, 3),
    ];
    for fact in &facts {
        assert_eq!(
            ledger.on_sdk_fact(3_000, &mut storage, fact.clone()),
            Ok(Accepted::Stored)
        );
    }
    // Neither a duplicate nor a rejected fact counts.
    assert_eq!(
        ledger.on_sdk_fact(3_000, &mut storage, facts[0].clone()),
        Ok(Accepted::Duplicate)
    );
    let mut bad = cache_stats("initech", "d", 1, 2_000, 1, 0);
    bad.subtype = "nope".into();
    assert!(ledger.on_sdk_fact(3_000, &mut storage, bad).is_err());

    assert_eq!(
        SystemLedger::get_stats(&storage),
        SystemStats {
            tenant_count: 2,
            entity_count: 3,
            sdk_facts_count: 4
        }
    );
}

// ------------------------------------------------------------------------------------------------
// TenantSystemLedger: receiving
// ------------------------------------------------------------------------------------------------

#[test]
fn the_tenant_ledger_accepts_a_fact_of_its_own_tenant() {
    let mut rig = TenantRig::new(1_000);
    let fact = cache_stats(TENANT, "a", 1, 1_000, 3, 2);

    assert_eq!(rig.receive(fact.clone()), Ok(Accepted::Stored));

    let open = rig.storage.open.as_ref().expect("an open aggregate");
    assert_eq!(
        (open.cache_hits, open.cache_misses, open.facts_count),
        (3, 2, 1)
    );
    assert!(open.entities.contains("a"));
    assert!(rig.storage.facts.contains(&fact.id));
    assert_eq!(rig.ledger.counters().received.stored, 1);
}

#[test]
fn the_tenant_ledger_rejects_another_tenants_fact_counts_it_and_stores_nothing() {
    let mut rig = TenantRig::new(1_000);
    assert_eq!(
        rig.receive(cache_stats(TENANT, "a", 1, 1_000, 3, 2)),
        Ok(Accepted::Stored)
    );
    // After the open period ended: accepting anything would move it to the pending payloads.
    rig.at(INTERVAL_MS + 10);
    let before = rig.storage.clone();

    for (seq, fact) in [
        cache_stats(OTHER_TENANT, "a", 1, INTERVAL_MS, 5, 5),
        fact_appended(OTHER_TENANT, "x", 2, INTERVAL_MS, 9),
        schema_init("initech", "y", 3, INTERVAL_MS),
    ]
    .into_iter()
    .enumerate()
    {
        let tenant = fact.tenant_id.clone();
        let result = rig.receive(fact);
        assert!(
            matches!(
                &result,
                Err(FactError::ForeignTenant { tenant_id, expected, .. })
                    if *tenant_id == tenant && expected == TENANT
            ),
            "{result:?}"
        );
        assert_eq!(rig.ledger.counters().rejected_cross_tenant, seq as u64 + 1);
        assert_eq!(rig.storage, before, "a foreign fact changes no storage");
        assert!(rig.effects.is_empty(), "and causes no effect");
    }
    assert_eq!(
        rig.ledger
            .counters()
            .received
            .rejected
            .get("foreign_tenant"),
        Some(&3)
    );
}

#[test]
fn the_tenant_ledger_rejects_a_malformed_fact_and_stores_nothing() {
    let mut rig = TenantRig::new(100_000);
    let before = rig.storage.clone();
    for (kind, fact) in malformed_facts(100_000) {
        let error = rig.receive(fact).expect_err("malformed");
        assert_eq!(error.kind(), kind);
        assert_eq!(rig.storage, before, "{kind}: nothing stored");
    }
}

#[test]
fn the_tenant_ledger_counts_a_fact_delivered_twice_once() {
    let mut rig = TenantRig::new(1_000);
    let fact = cache_stats(TENANT, "a", 1, 1_000, 3, 2);
    assert_eq!(rig.receive(fact.clone()), Ok(Accepted::Stored));
    let after_first = rig.storage.clone();

    // Again in the same period, after a restart, and after the period ended.
    assert_eq!(rig.at(2_000).receive(fact.clone()), Ok(Accepted::Duplicate));
    assert_eq!(rig.storage, after_first);
    rig.restart();
    assert_eq!(rig.receive(fact.clone()), Ok(Accepted::Duplicate));
    assert_eq!(
        rig.at(INTERVAL_MS + 5).receive(fact.clone()),
        Ok(Accepted::Duplicate)
    );
    assert_eq!(
        (rig.storage.open.as_ref(), rig.storage.pending.len()),
        (after_first.open.as_ref(), 0),
        "a duplicate changes nothing"
    );

    let delivered = rig.flush_everything();
    assert_eq!(delivered.len(), 1);
    assert_eq!(payload_counts(&delivered[0]), (3, 2, 1, 1, 0));
}

#[test]
fn the_tenant_ledger_aggregates_each_aligned_period_separately() {
    let base = 10 * INTERVAL_MS; // periods [k * interval, (k + 1) * interval)
    let mut rig = TenantRig::new(base - 7_777);
    let arrivals = [
        (base + 5, cache_stats(TENANT, "a", 1, base + 5, 3, 1)),
        (base + 5, fact_appended(TENANT, "b", 1, base + 5, 7)),
        (base + 30_000, schema_init(TENANT, "a", 2, base + 30_000)),
        (
            base + INTERVAL_MS - 1,
            cache_stats(TENANT, "c", 1, base + INTERVAL_MS - 1, 2, 2),
        ),
        // Exactly at the boundary: the next period.
        (
            base + INTERVAL_MS,
            cache_stats(TENANT, "a", 3, base + INTERVAL_MS, 1, 0),
        ),
        // Nothing arrives in [base + 2i, base + 3i): no payload for it.
        (
            base + 3 * INTERVAL_MS + 20_000,
            fact_appended(TENANT, "b", 2, base + 3 * INTERVAL_MS + 20_000, 4),
        ),
        (
            base + 3 * INTERVAL_MS + 21_000,
            fact_appended(TENANT, "b", 3, base + 3 * INTERVAL_MS + 21_000, 1),
        ),
    ];
    for (at_ms, fact) in arrivals {
        assert_eq!(rig.at(at_ms).receive(fact), Ok(Accepted::Stored));
    }

    let delivered = rig.flush_everything();

    let periods: Vec<(String, u64, u64)> = delivered
        .iter()
        .map(|p| (p.flush_id.clone(), p.period_start_ms, p.period_end_ms))
        .collect();
    assert_eq!(
        periods,
        vec![
            ("acme/0".to_owned(), base, base + INTERVAL_MS),
            (
                "acme/1".to_owned(),
                base + INTERVAL_MS,
                base + 2 * INTERVAL_MS
            ),
            (
                "acme/2".to_owned(),
                base + 3 * INTERVAL_MS,
                base + 4 * INTERVAL_MS
            ),
        ]
    );
    // (hits, misses, facts, distinct entities, facts appended)
    assert_eq!(payload_counts(&delivered[0]), (5, 3, 4, 3, 7));
    assert_eq!(payload_counts(&delivered[1]), (1, 0, 1, 1, 0));
    assert_eq!(payload_counts(&delivered[2]), (0, 0, 2, 1, 5));
    assert!(delivered.iter().all(|p| p.tenant_id == TENANT));
}

#[test]
fn the_aggregate_is_in_storage_when_on_fact_returns_so_a_restart_loses_nothing() {
    let mut rig = TenantRig::new(0);
    let mut expected_hits = 0;
    for seq in 1..=6u64 {
        let at_ms = seq * 5_000;
        let fact = cache_stats(TENANT, &format!("e{}", seq % 3), seq, at_ms, seq, 1);
        assert_eq!(rig.at(at_ms).receive(fact), Ok(Accepted::Stored));
        expected_hits += seq;
        // What is in storage right now is all a restart keeps.
        let open = rig.storage.open.as_ref().expect("open aggregate stored");
        assert_eq!((open.cache_hits, open.facts_count), (expected_hits, seq));
        rig.restart();
    }
    rig.at(INTERVAL_MS);
    rig.restart();

    let delivered = rig.flush_everything();
    assert_eq!(delivered.len(), 1);
    assert_eq!(payload_counts(&delivered[0]), (21, 6, 6, 3, 0));
}

#[test]
fn an_alarm_is_set_whenever_the_tenant_ledger_has_work() {
    // TenantRig asserts the rule after every call; this test walks through every kind of work.
    let mut rig = TenantRig::new(1_000);
    assert!(!rig.storage.has_work());
    assert_eq!(rig.storage.alarm_ms, None, "no work, no alarm");

    rig.receive(cache_stats(TENANT, "a", 1, 1_000, 1, 0))
        .expect("accepted");
    assert_eq!(
        rig.storage.alarm_ms,
        Some(INTERVAL_MS),
        "open: at period end"
    );

    rig.restart();
    assert_eq!(
        rig.storage.alarm_ms,
        Some(INTERVAL_MS),
        "the alarm survives"
    );

    let sent = rig.fire_alarm();
    assert_eq!(sent.len(), 1);
    assert!(rig.storage.alarm_ms.is_some(), "payload in flight");

    let nothing = rig.result(sent[0].0, Err(FailureKind::Overloaded));
    assert!(nothing.is_empty());
    assert!(rig.storage.alarm_ms.is_some(), "payload failed");

    // A fact arriving while the failed payload waits opens a new period.
    rig.at(INTERVAL_MS + 100)
        .receive(cache_stats(TENANT, "a", 2, INTERVAL_MS + 100, 1, 0))
        .expect("accepted");
    let resent = rig.fire_alarm();
    assert_eq!(resent.len(), 1);
    assert!(rig.result(resent[0].0, Ok(())).is_empty());
    assert!(rig.storage.pending.is_empty());
    assert!(rig.storage.has_work(), "the new period is open");
    assert!(rig.storage.alarm_ms.is_some());

    rig.flush_everything();
    assert!(!rig.storage.has_work());
}

// ------------------------------------------------------------------------------------------------
// TenantSystemLedger: flushing
// ------------------------------------------------------------------------------------------------

#[test]
fn the_alarm_at_period_end_sends_exactly_one_payload_with_the_received_counts() {
    let mut rig = TenantRig::new(0);
    rig.at(1_000)
        .receive(cache_stats(TENANT, "a", 1, 1_000, 10, 4))
        .expect("accepted");
    rig.at(2_000)
        .receive(fact_appended(TENANT, "b", 1, 2_000, 6))
        .expect("accepted");
    rig.at(3_000)
        .receive(cache_stats(TENANT, "b", 2, 3_000, 1, 1))
        .expect("accepted");
    assert_eq!(rig.storage.alarm_ms, Some(INTERVAL_MS));

    let sent = rig.fire_alarm();

    assert_eq!(rig.now_ms, INTERVAL_MS);
    assert_eq!(sent.len(), 1, "exactly one flush: {sent:?}");
    let payload = &sent[0].1;
    assert_eq!(
        payload,
        &TenantStatsPayload {
            flush_id: format!("{TENANT}/0"),
            tenant_id: TENANT.to_owned(),
            period_start_ms: 0,
            period_end_ms: INTERVAL_MS,
            cache_hits: 11,
            cache_misses: 5,
            facts_count: 3,
            entities_count: 2,
            facts_appended: 6,
        }
    );
    assert_eq!(rig.storage.pending.front(), Some(payload));
    assert_eq!(rig.storage.open, None);
}

fn rig_with_payload_in_flight(breaker: BreakerConfig) -> (TenantRig, Sent) {
    let mut rig = TenantRig::with_breaker(0, breaker);
    rig.at(1_000)
        .receive(cache_stats(TENANT, "a", 1, 1_000, 10, 4))
        .expect("accepted");
    let mut sent = rig.fire_alarm();
    assert_eq!(sent.len(), 1);
    let first = sent.pop().expect("one flush");
    (rig, first)
}

#[test]
fn a_failed_flush_keeps_the_payload_and_is_retried_with_the_same_flush_id() {
    for failure in [
        FailureKind::Error,
        FailureKind::Timeout,
        FailureKind::Overloaded,
    ] {
        let (mut rig, (call_id, payload)) = rig_with_payload_in_flight(BreakerConfig::default());
        let sent_at_ms = rig.now_ms;

        assert!(rig.result(call_id, Err(failure)).is_empty());

        assert_eq!(rig.storage.pending.front(), Some(&payload), "{failure:?}");
        assert_eq!(
            rig.storage.alarm_ms,
            Some(sent_at_ms + RETRY_MS),
            "{failure:?}: re-armed flush_retry_delay later"
        );
        let retried = rig.fire_alarm();
        assert_eq!(rig.now_ms, sent_at_ms + RETRY_MS);
        assert_eq!(retried.len(), 1, "{failure:?}");
        assert_eq!(
            retried[0].1, payload,
            "{failure:?}: same flush id and counts"
        );
        assert!(rig.result(retried[0].0, Ok(())).is_empty());
        assert!(rig.storage.pending.is_empty(), "{failure:?}");
    }
}

#[test]
fn a_flush_that_timed_out_is_retried_flush_retry_delay_after_the_timeout() {
    let (mut rig, (call_id, payload)) = rig_with_payload_in_flight(BreakerConfig::default());
    let sent_at_ms = rig.now_ms;
    // The runtime reports the timeout rpc_timeout_ms after the send.
    let failed_at_ms = sent_at_ms + DEFAULT_RPC_TIMEOUT_MS;
    rig.at(failed_at_ms);

    assert!(rig.result(call_id, Err(FailureKind::Timeout)).is_empty());

    assert_eq!(rig.storage.pending.front(), Some(&payload));
    assert_eq!(
        rig.storage.alarm_ms,
        Some(failed_at_ms + RETRY_MS),
        "the retry waits flush_retry_delay_ms after the failure (TenantConfig: \"Delay before \
         a failed flush is tried again\")"
    );
}

#[test]
fn a_retried_flush_that_times_out_again_waits_the_retry_delay_again() {
    let (mut rig, (call_id, payload)) = rig_with_payload_in_flight(BreakerConfig::default());
    rig.at(rig.now_ms + DEFAULT_RPC_TIMEOUT_MS);
    assert!(rig.result(call_id, Err(FailureKind::Timeout)).is_empty());
    let retried = rig.fire_alarm();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].1, payload);
    let resent_at_ms = rig.now_ms;

    // The re-send times out too.
    let failed_again_at_ms = resent_at_ms + DEFAULT_RPC_TIMEOUT_MS;
    rig.at(failed_again_at_ms);
    assert!(rig
        .result(retried[0].0, Err(FailureKind::Timeout))
        .is_empty());

    assert_eq!(rig.storage.pending.front(), Some(&payload));
    assert_eq!(
        rig.storage.alarm_ms,
        Some(failed_again_at_ms + RETRY_MS),
        "every failed attempt waits flush_retry_delay_ms before the next one"
    );
}

#[test]
fn a_delivered_payload_leaves_storage() {
    let (mut rig, (call_id, _)) = rig_with_payload_in_flight(BreakerConfig::default());

    assert!(rig.result(call_id, Ok(())).is_empty());

    assert!(rig.storage.pending.is_empty());
    assert!(!rig.storage.has_work());
    assert_eq!(rig.ledger.counters().payloads_delivered, 1);
    // A leftover alarm finds nothing to send.
    if rig.storage.alarm_ms.is_some() {
        assert!(rig.fire_alarm().is_empty());
    }
    // And neither does a restart.
    rig.restart();
    assert!(!rig.storage.has_work());
    assert_eq!(rig.storage.alarm_ms, None);
}

#[test]
fn several_pending_payloads_are_delivered_oldest_first() {
    let mut rig = TenantRig::new(0);
    // Four periods; the alarm is never fired in between, so three payloads pile up.
    for k in 0..4u64 {
        let at_ms = k * INTERVAL_MS + 10;
        rig.at(at_ms)
            .receive(cache_stats(TENANT, "a", k + 1, at_ms, k + 1, 0))
            .expect("accepted");
    }
    let pending: Vec<&str> = rig
        .storage
        .pending
        .iter()
        .map(|p| p.flush_id.as_str())
        .collect();
    assert_eq!(pending, ["acme/0", "acme/1", "acme/2"]);

    let mut order = Vec::new();
    let sent = rig.fire_alarm();
    assert_eq!(sent.len(), 1, "one at a time");
    order.push(sent[0].1.flush_id.clone());
    let sent = rig.result(sent[0].0, Ok(()));
    assert_eq!(sent.len(), 1);
    order.push(sent[0].1.flush_id.clone());
    // A failure in the middle: the same payload goes again, not the next one.
    assert!(rig.result(sent[0].0, Err(FailureKind::Error)).is_empty());
    let sent = rig.fire_alarm();
    assert_eq!(sent.len(), 1);
    order.push(sent[0].1.flush_id.clone());
    let sent = rig.result(sent[0].0, Ok(()));
    assert_eq!(sent.len(), 1);
    order.push(sent[0].1.flush_id.clone());
    assert!(rig.result(sent[0].0, Ok(())).is_empty());

    assert_eq!(order, ["acme/0", "acme/1", "acme/1", "acme/2"]);
    assert!(rig.storage.pending.is_empty());
    let hits: Vec<u64> = rig
        .flush_everything()
        .iter()
        .map(|p| p.cache_hits)
        .collect();
    assert_eq!(hits, [4], "the last period follows");
}

#[test]
fn after_the_breaker_opens_no_flush_is_attempted_until_the_reset_timeout() {
    let breaker = BreakerConfig {
        failure_threshold: 2,
        reset_timeout_ms: 30_000,
        ..BreakerConfig::default()
    };
    let (mut rig, (call_id, payload)) = rig_with_payload_in_flight(breaker);
    assert!(rig.result(call_id, Err(FailureKind::Error)).is_empty());
    let retried = rig.fire_alarm();
    assert_eq!(retried.len(), 1);
    assert!(rig
        .result(retried[0].0, Err(FailureKind::Timeout))
        .is_empty());
    let opened_at_ms = rig.now_ms;
    assert_eq!(rig.ledger.client().breaker().state(), BreakerState::Open);

    // Every alarm before the reset timeout passes sends nothing, and the alarm stays armed.
    let mut idle_alarms = 0;
    while rig.storage.alarm_ms.expect("armed while pending") < opened_at_ms + 30_000 {
        assert!(rig.fire_alarm().is_empty(), "no flush at {} ms", rig.now_ms);
        assert_eq!(rig.storage.pending.front(), Some(&payload));
        idle_alarms += 1;
    }
    assert!(
        idle_alarms > 0,
        "alarms kept firing while the breaker was open"
    );

    // The first alarm at or after the reset timeout probes with the same payload.
    let probe = rig.fire_alarm();
    assert!(rig.now_ms >= opened_at_ms + 30_000);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].1, payload);
    assert!(rig.result(probe[0].0, Ok(())).is_empty());
    assert_eq!(rig.ledger.client().breaker().state(), BreakerState::Closed);
    assert!(rig.storage.pending.is_empty());
}

#[test]
fn a_restart_while_a_flush_is_in_flight_resends_the_same_flush_id() {
    let (mut rig, (_lost_call, payload)) = rig_with_payload_in_flight(BreakerConfig::default());
    rig.at(rig.now_ms + 100);

    // The in-flight call dies with the instance; its result goes nowhere.
    rig.restart();
    assert!(
        rig.storage
            .alarm_ms
            .is_some_and(|at| at <= rig.now_ms + RETRY_MS),
        "the alarm survives the restart and fires within the retry delay: {:?}",
        rig.storage.alarm_ms
    );
    let resent = rig.fire_alarm();

    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].1, payload, "same flush id, same counts");
    assert!(rig.result(resent[0].0, Ok(())).is_empty());
    assert!(rig.storage.pending.is_empty());

    // If the lost call reached the platform after all, the platform counts the payload once.
    let mut platform = PlatformLedger::new(Limits::default());
    let mut platform_storage = PlatformStorage::default();
    let now_ms = rig.now_ms;
    assert_eq!(
        platform.on_payload(now_ms, &mut platform_storage, payload.clone()),
        Ok(Accepted::Stored)
    );
    assert_eq!(
        platform.on_payload(now_ms, &mut platform_storage, resent[0].1.clone()),
        Ok(Accepted::Duplicate)
    );
    assert_eq!(platform_storage.overall.payloads, 1);
}

// ------------------------------------------------------------------------------------------------
// PlatformLedger
// ------------------------------------------------------------------------------------------------

fn payload(tenant: &str, seq: u64, hits: u64, facts: u64, entities: u64) -> TenantStatsPayload {
    TenantStatsPayload {
        flush_id: TenantStatsPayload::flush_id_for(tenant, seq),
        tenant_id: tenant.to_owned(),
        period_start_ms: seq * INTERVAL_MS,
        period_end_ms: (seq + 1) * INTERVAL_MS,
        cache_hits: hits,
        cache_misses: hits / 2,
        facts_count: facts,
        entities_count: entities,
        facts_appended: facts * 3,
    }
}

fn totals_of(payloads: &[&TenantStatsPayload]) -> PlatformTotals {
    PlatformTotals {
        payloads: payloads.len() as u64,
        cache_hits: payloads.iter().map(|p| p.cache_hits).sum(),
        cache_misses: payloads.iter().map(|p| p.cache_misses).sum(),
        facts_count: payloads.iter().map(|p| p.facts_count).sum(),
        facts_appended: payloads.iter().map(|p| p.facts_appended).sum(),
        entity_periods: payloads.iter().map(|p| p.entities_count).sum(),
    }
}

#[test]
fn the_platform_counts_a_redelivered_payload_once() {
    let mut platform = PlatformLedger::new(Limits::default());
    let mut storage = PlatformStorage::default();
    let now_ms = 10 * INTERVAL_MS;
    let first = payload(TENANT, 0, 10, 4, 2);

    assert_eq!(
        platform.on_payload(now_ms, &mut storage, first.clone()),
        Ok(Accepted::Stored)
    );
    let after_first = storage.clone();
    for _ in 0..3 {
        assert_eq!(
            platform.on_payload(now_ms, &mut storage, first.clone()),
            Ok(Accepted::Duplicate)
        );
    }

    assert_eq!(storage, after_first, "queue redelivery changes no totals");
    assert_eq!(storage.overall, totals_of(&[&first]));
    assert_eq!(platform.counters().duplicates, 3);
}

#[test]
fn platform_totals_per_tenant_and_overall_are_sums_of_distinct_payloads() {
    let mut platform = PlatformLedger::new(Limits::default());
    let mut storage = PlatformStorage::default();
    let now_ms = 10 * INTERVAL_MS;
    let acme = [payload(TENANT, 0, 10, 4, 2), payload(TENANT, 1, 7, 3, 3)];
    let globex = [payload(OTHER_TENANT, 0, 100, 9, 1)];
    // Interleaved, with redeliveries. The same flush sequence number of another tenant is a
    // different flush.
    for p in [
        &acme[0], &globex[0], &acme[0], &acme[1], &globex[0], &acme[1],
    ] {
        platform
            .on_payload(now_ms, &mut storage, p.clone())
            .expect("valid payload");
    }

    assert_eq!(storage.per_tenant.len(), 2);
    assert_eq!(
        storage.per_tenant.get(TENANT),
        Some(&totals_of(&[&acme[0], &acme[1]]))
    );
    assert_eq!(
        storage.per_tenant.get(OTHER_TENANT),
        Some(&totals_of(&[&globex[0]]))
    );
    assert_eq!(
        storage.overall,
        totals_of(&[&acme[0], &globex[0], &acme[1]])
    );
    assert_eq!(
        storage.payloads,
        vec![acme[0].clone(), globex[0].clone(), acme[1].clone()]
    );
}

#[test]
fn the_platform_rejects_invalid_payloads_with_the_right_error_and_counts_none_of_them() {
    let now_ms = 10 * INTERVAL_MS;
    let limits = Limits::default();
    let valid = payload(TENANT, 3, 10, 4, 2);
    let flush_id = valid.flush_id.clone();
    let edit = |change: &dyn Fn(&mut TenantStatsPayload)| {
        let mut p = valid.clone();
        change(&mut p);
        p
    };
    let cases: Vec<(TenantStatsPayload, PayloadError)> = vec![
        (edit(&|p| p.flush_id.clear()), PayloadError::MissingFlushId),
        (
            edit(&|p| p.flush_id = "f".repeat(300)),
            PayloadError::NameTooLong {
                field: "flush_id",
                bytes: 300,
                limit: limits.max_name_bytes,
            },
        ),
        (
            edit(&|p| p.tenant_id.clear()),
            PayloadError::MissingTenant {
                flush_id: flush_id.clone(),
            },
        ),
        (
            edit(&|p| p.tenant_id = "t".repeat(257)),
            PayloadError::NameTooLong {
                field: "tenant_id",
                bytes: 257,
                limit: limits.max_name_bytes,
            },
        ),
        (
            edit(&|p| p.period_end_ms = p.period_start_ms),
            PayloadError::BadPeriod {
                flush_id: flush_id.clone(),
                period_start_ms: valid.period_start_ms,
                period_end_ms: valid.period_start_ms,
            },
        ),
        (
            edit(&|p| p.period_end_ms = p.period_start_ms - 1),
            PayloadError::BadPeriod {
                flush_id: flush_id.clone(),
                period_start_ms: valid.period_start_ms,
                period_end_ms: valid.period_start_ms - 1,
            },
        ),
        (
            edit(&|p| {
                p.facts_count = 0;
                p.entities_count = 0;
            }),
            PayloadError::InconsistentCounts {
                flush_id: flush_id.clone(),
                reason: "a flushed period is never empty",
            },
        ),
        (
            edit(&|p| p.entities_count = 0),
            PayloadError::InconsistentCounts {
                flush_id: flush_id.clone(),
                reason: "entities_count must be in 1..=facts_count",
            },
        ),
        (
            edit(&|p| p.entities_count = p.facts_count + 1),
            PayloadError::InconsistentCounts {
                flush_id: flush_id.clone(),
                reason: "entities_count must be in 1..=facts_count",
            },
        ),
        (
            edit(&|p| {
                p.period_start_ms = now_ms + limits.max_clock_skew_ms;
                p.period_end_ms = now_ms + limits.max_clock_skew_ms + 1;
            }),
            PayloadError::FromTheFuture {
                flush_id: flush_id.clone(),
                period_end_ms: now_ms + limits.max_clock_skew_ms + 1,
                now_ms,
            },
        ),
    ];

    let mut platform = PlatformLedger::new(limits);
    let mut storage = PlatformStorage::default();
    let mut expected_rejections: BTreeMap<&str, u64> = BTreeMap::new();
    for (bad, expected) in cases {
        let result = platform.on_payload(now_ms, &mut storage, bad.clone());
        assert_eq!(result, Err(expected.clone()), "{bad:?}");
        assert_eq!(storage, PlatformStorage::default(), "{bad:?} was counted");
        *expected_rejections.entry(expected.kind()).or_default() += 1;
    }
    assert_eq!(platform.counters().rejected, expected_rejections);

    // No rejection marked the flush id as seen: the valid payload is counted.
    assert_eq!(
        platform.on_payload(now_ms, &mut storage, valid.clone()),
        Ok(Accepted::Stored)
    );
    assert_eq!(storage.overall, totals_of(&[&valid]));
}

#[test]
fn the_tenant_aggregate_saturates_instead_of_overflowing_on_absurd_counts() {
    // Found by the fact_ingest fuzz target: counts come from other actors and may claim anything.
    let mut rig = TenantRig::new(0);
    rig.at(10)
        .receive(cache_stats(TENANT, "a", 1, 10, u64::MAX - 1, 0))
        .expect("accepted");
    rig.at(20)
        .receive(cache_stats(TENANT, "b", 1, 20, 5, 0))
        .expect("accepted");
    let open = rig.storage.open.as_ref().expect("an open aggregate");
    assert_eq!(open.cache_hits, u64::MAX);
}
