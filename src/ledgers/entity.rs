//! `EntityLedger`: a domain ledger that stores facts durably and reports on itself.
//!
//! - `append_fact` commits the fact to durable storage first; nothing after that (emission,
//!   bubbling, an observability error) can undo it.
//! - A start that finds no tables creates them and emits `schema_init`; a start that finds
//!   stored facts replays them and emits `hydration_done`.
//! - Cache gets feed the [`CachedStateManager`]; appends feed the `fact_appended` counter. Both
//!   emit one SDK fact per closed period, never one per operation.
//! - Facts appended here bubble to the parent entity, if any; facts from children are rolled up
//!   by [`EntityLedger::on_child_fact`] into a `child_rollup` fact, which bubbles further up.
//! - SDK facts are emitted only when an observability target is wired (the z0 page's
//!   `observabilityStub`); without one the ledger behaves the same and emits nothing.
//!
//! Decisions where the z0 page is silent (listed in docs/model.md):
//! - Bubbling to the parent entity is always fire-and-forget through its own breaker;
//!   `BootstrapConfig` governs the observability target only (the page ties
//!   `fallback_on_failure` to "the observability target").
//! - SDK facts and domain facts draw their sequence numbers from one durable counter, so fact
//!   ids are unique per actor across restarts.
//! - Sampling (`stats_sampled = false`) silences the periodic stats (`cache_stats`,
//!   `fact_appended`) only; lifecycle facts (`schema_init`, `hydration_done`) are still emitted.
//! - `flush_stats()` closes both periodic aggregators, so a shutdown leaves nothing unflushed.
//! - Simulated costs: schema init takes 5 ms per table; hydration from storage 1 ms per 10
//!   facts (the runtime may use them as delays; they only fill `duration_ms` here).

use crate::ledgers::appended::{AppendedCounter, AppendedPeriod};
use crate::ledgers::client::{DeliveryMode, ParentClient};
use crate::ledgers::effect::{CallId, DeliveryOutcome, Effect, Message};
use crate::ledgers::fact_log::FactLog;
use crate::ledgers::period::CloseReason;
use crate::ledgers::stats::{CachedStateManager, StatsPeriod};
use crate::model::fact::EntityMeta;
use crate::model::sdk::SCHEMA_TABLES;
use crate::model::validate::{
    check_tenant, validate_envelope, validate_envelope_parts, EnvelopeParts,
};
use crate::model::{
    ActorId, BootstrapConfig, BreakerConfig, CacheStatsData, Fact, FactAppendedData, FactData,
    FactError, FactId, HydrationDoneData, HydrationSource, Limits, SchemaInitData, SdkData,
    StatsConfig,
};
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Subtype of the fact a parent appends for each child fact it rolls up.
pub const ROLLUP_SUBTYPE: &str = "child_rollup";

/// Simulated time a schema init takes per table, ms.
pub const SCHEMA_INIT_MS_PER_TABLE: u64 = 5;

/// Facts replayed from storage per simulated ms of hydration.
pub const HYDRATION_FACTS_PER_MS: u64 = 10;

/// How an entity ledger is wired and tuned.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityConfig {
    /// This actor's name (prefix of its fact ids).
    pub actor: ActorId,
    /// Entity id, type and tenant.
    pub meta: EntityMeta,
    /// The observability stub's target; `None` = no observability at all.
    pub observability_target: Option<ActorId>,
    /// The parent entity facts bubble to, if any.
    pub parent: Option<ActorId>,
    /// Fallback behaviour of the observability path.
    pub bootstrap: BootstrapConfig,
    /// Breaker settings of both clients.
    pub breaker: BreakerConfig,
    /// Stats interval.
    pub stats: StatsConfig,
    /// Whether this entity emits periodic stats (sampling); see [`crate::model::sampling`].
    pub stats_sampled: bool,
    /// Seed of the breakers' jitter streams.
    pub jitter_seed: u64,
    /// Bounds on facts this ledger accepts.
    pub limits: Limits,
}

/// What survives a restart: the tables, the fact log and the sequence counter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityStorage {
    /// Whether the schema has been created.
    pub tables_created: bool,
    /// Next sequence number for a fact id of this actor.
    pub next_seq: u64,
    /// Every appended domain fact, in order (stored compactly; see [`FactLog`]).
    pub facts: FactLog,
}

/// What a start did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartReport {
    /// Tables were created (and `schema_init` emitted if observability is wired).
    pub schema_created: bool,
    /// Stored facts replayed, if any were found.
    pub facts_replayed: Option<u64>,
}

/// Mixed into the entity's jitter seed for its parent client, so its two breakers draw
/// different jitter.
const PARENT_CLIENT_JITTER_SALT: u64 = 0x5eed;

/// How [`EntityLedger::on_child_fact`] handled a child's fact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildFactOutcome {
    /// Rolled up into the fact with this id.
    RolledUp(FactId),
    /// Already rolled up (a re-delivery): nothing appended.
    Duplicate,
}

/// An entity ledger (one Durable Object).
#[derive(Clone, Debug)]
pub struct EntityLedger {
    /// Shared (the runtime keeps the same config to construct the entity again).
    config: Arc<EntityConfig>,
    cache: CachedStateManager,
    appended: Option<AppendedCounter>,
    observability: Option<ParentClient>,
    /// Boxed: most entities have no parent, and an inline client is a few hundred bytes of
    /// every entity in memory.
    parent: Option<Box<ParentClient>>,
    /// Child fact ids already rolled up; rebuilt from the stored rollups on hydration.
    rolled_up: BTreeSet<FactId>,
    /// Only with the `append_write_deferred` plant: an acknowledged append not yet written.
    /// (Boxed: only the plant uses it, and every entity would carry a whole fact's room.)
    deferred_write: Option<Box<Fact>>,
}

impl EntityLedger {
    /// Runs the constructor, schema init and hydration against `storage`.
    pub fn start(
        config: impl Into<Arc<EntityConfig>>,
        now_ms: u64,
        storage: &mut EntityStorage,
        effects: &mut Vec<Effect>,
    ) -> (Self, StartReport) {
        let config: Arc<EntityConfig> = config.into();
        let observability = config.observability_target.clone().map(|target| {
            let mode = DeliveryMode::from_bootstrap(&config.bootstrap);
            ParentClient::new(target, mode, config.breaker, config.jitter_seed)
        });
        let parent = config.parent.clone().map(|target| {
            let mode = DeliveryMode::FireAndForget {
                warn_on_fallback: config.bootstrap.warn_on_fallback,
            };
            Box::new(ParentClient::new(
                target,
                mode,
                config.breaker,
                config.jitter_seed ^ PARENT_CLIENT_JITTER_SALT,
            ))
        });
        let mut cache = CachedStateManager::new();
        let mut appended = None;
        if observability.is_some() && config.stats_sampled {
            cache.enable_stats_tracking(now_ms, config.stats.min_interval_ms);
            appended = Some(AppendedCounter::new(now_ms, config.stats.min_interval_ms));
        }
        let mut ledger = Self {
            config,
            cache,
            appended,
            observability,
            parent,
            rolled_up: BTreeSet::new(),
            deferred_write: None,
        };
        let mut report = StartReport::default();
        if !storage.tables_created {
            storage.tables_created = true;
            report.schema_created = true;
            let data = ledger.schema_init_data();
            ledger.emit_sdk(now_ms, storage, data, effects);
        } else if !storage.facts.is_empty() {
            let replayed = ledger.hydrate(storage);
            report.facts_replayed = Some(replayed);
            let data = ledger.hydration_data(replayed);
            ledger.emit_sdk(now_ms, storage, data, effects);
        }
        (ledger, report)
    }

    /// The ledger's config.
    pub fn config(&self) -> &EntityConfig {
        &self.config
    }

    /// The cache stats manager.
    pub fn cache(&self) -> &CachedStateManager {
        &self.cache
    }

    /// Domain facts counted in the open `fact_appended` period.
    pub fn open_appended_count(&self) -> u64 {
        self.appended
            .as_ref()
            .map_or(0, AppendedCounter::open_count)
    }

    /// The earliest time a cache get closes the open stats period, if tracking, ms.
    pub fn stats_due_at_ms(&self) -> Option<u64> {
        self.cache.period_due_at_ms()
    }

    /// The earliest time an append closes the open `fact_appended` period, if tracking, ms.
    pub fn appended_due_at_ms(&self) -> Option<u64> {
        self.appended.as_ref().map(AppendedCounter::due_at_ms)
    }

    /// The observability client, if a target is wired.
    pub fn observability_client(&self) -> Option<&ParentClient> {
        self.observability.as_ref()
    }

    /// The client to the parent entity, if any.
    pub fn parent_client(&self) -> Option<&ParentClient> {
        self.parent.as_deref()
    }

    /// One cache get (a hit or a miss). If it closes a stats period, that period is emitted.
    pub fn cache_get(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        hit: bool,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(period) = self.cache.cache_get(now_ms, hit) {
            self.emit_cache_stats(now_ms, storage, period, effects);
        }
    }

    /// `flushStats()`: closes the open cache stats and appended periods and emits them.
    pub fn flush_stats(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(period) = self.cache.flush_stats(now_ms) {
            self.emit_cache_stats(now_ms, storage, period, effects);
        }
        self.close_appended(now_ms, storage, CloseReason::ExplicitFlush, effects);
    }

    /// Turns stats tracking off, flushing first.
    pub fn disable_stats_tracking(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(period) = self.cache.disable_stats_tracking(now_ms) {
            self.emit_cache_stats(now_ms, storage, period, effects);
        }
        self.close_appended(now_ms, storage, CloseReason::Disable, effects);
        self.appended = None;
    }

    /// Turns stats tracking on again (after [`Self::disable_stats_tracking`]): both periods
    /// start at `now_ms`. Nothing happens without an observability target or when not sampled;
    /// enabling it while it is on changes nothing.
    pub fn enable_stats_tracking(&mut self, now_ms: u64) {
        if self.observability.is_none() || !self.config.stats_sampled {
            return;
        }
        let interval_ms = self.config.stats.min_interval_ms;
        self.cache.enable_stats_tracking(now_ms, interval_ms);
        self.appended
            .get_or_insert_with(|| AppendedCounter::new(now_ms, interval_ms));
    }

    /// Whether stats tracking is on.
    pub fn is_tracking(&self) -> bool {
        self.cache.is_tracking()
    }

    /// Appends a domain fact: committed to storage before anything else happens, then counted,
    /// then bubbled to the parent. Malformed input is rejected before anything is written.
    /// Returns the fact's sequence number: its id is this ledger's actor and that number (not
    /// built here, as most appends never need it).
    pub fn append_fact(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        fact_type: &str,
        subtype: &str,
        data: serde_json::Value,
        effects: &mut Vec<Effect>,
    ) -> Result<u64, FactError> {
        let seq = storage.next_seq;
        let data = FactData::Json(data);
        let meta = &self.config.meta;
        let parts = EnvelopeParts {
            actor: self.config.actor.name(),
            seq,
            fact_type,
            subtype,
            entity_id: &meta.entity_id,
            entity_type: &meta.entity_type,
            tenant_id: &meta.tenant_id,
            timestamp_ms: now_ms,
            data: &data,
        };
        // Validated before it is built: most appends are only stored, compactly.
        validate_envelope_parts(&parts, now_ms, &self.config.limits)?;
        storage.next_seq += 1;
        let bubbled = self.parent.is_some().then(|| parts.to_fact());
        if planted::active(Plant::AppendWriteDeferred) {
            // The planted mistake: the previous append is written now, this one later.
            if let Some(previous) = self.deferred_write.replace(Box::new(parts.to_fact())) {
                storage.facts.push(*previous);
            }
        } else {
            storage.facts.push_parts(&parts);
        }
        if let Some(closed) = self
            .appended
            .as_mut()
            .and_then(|counter| counter.record(now_ms, seq))
        {
            self.emit_appended(now_ms, storage, closed, effects);
        }
        if let (Some(parent), Some(fact)) = (self.parent.as_deref_mut(), bubbled) {
            let child = self.config.actor.clone();
            parent.emit(now_ms, Message::ChildFact { child, fact }, effects);
        }
        Ok(seq)
    }

    /// The `onChildFact` hook: rolls a child's fact up into a `child_rollup` fact of this
    /// entity (which bubbles further up). Facts of another tenant are rejected; a fact already
    /// rolled up is acknowledged without a second rollup.
    pub fn on_child_fact(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        child: &ActorId,
        fact: Fact,
        effects: &mut Vec<Effect>,
    ) -> Result<ChildFactOutcome, FactError> {
        validate_envelope(&fact, now_ms, &self.config.limits)?;
        check_tenant(&fact, &self.config.meta.tenant_id)?;
        let seen = if planted::active(Plant::RollupDedupBySeq) {
            self.rolled_up.iter().any(|id| id.seq == fact.id.seq)
        } else {
            self.rolled_up.contains(&fact.id)
        };
        if seen {
            return Ok(ChildFactOutcome::Duplicate);
        }
        let data = serde_json::json!({
            "child_actor": child.as_str(),
            "child_fact_id": { "actor": fact.id.actor, "seq": fact.id.seq },
            "child_entity_id": fact.entity_id,
            "child_entity_type": fact.entity_type,
            "child_fact_type": fact.fact_type,
            "child_subtype": fact.subtype,
        });
        let entity_type = self.config.meta.entity_type.clone();
        let seq = self.append_fact(now_ms, storage, &entity_type, ROLLUP_SUBTYPE, data, effects)?;
        self.rolled_up.insert(fact.id);
        Ok(ChildFactOutcome::RolledUp(FactId::new(
            self.config.actor.name().clone(),
            seq,
        )))
    }

    /// Feeds the outcome of a delivery this ledger asked for to the client of `target`.
    pub fn on_delivery_result(
        &mut self,
        now_ms: u64,
        target: &ActorId,
        call_id: CallId,
        outcome: DeliveryOutcome,
        effects: &mut Vec<Effect>,
    ) {
        for client in [self.observability.as_mut(), self.parent.as_deref_mut()]
            .into_iter()
            .flatten()
        {
            if client.target() == target {
                client.on_result(now_ms, call_id, outcome, effects);
                return;
            }
        }
    }

    /// The child fact ids this entity has rolled up.
    pub fn rolled_up(&self) -> &BTreeSet<FactId> {
        &self.rolled_up
    }

    fn hydrate(&mut self, storage: &EntityStorage) -> u64 {
        for fact in storage.facts.with_subtype(ROLLUP_SUBTYPE) {
            if let Some(child_fact_id) = rollup_child_fact_id(&fact) {
                self.rolled_up.insert(child_fact_id);
            }
        }
        storage.facts.len() as u64
    }

    fn schema_init_data(&self) -> SdkData {
        SdkData::SchemaInit(SchemaInitData {
            entity_id: self.config.meta.entity_id.clone(),
            entity_type: self.config.meta.entity_type.clone(),
            tables_created: SCHEMA_TABLES
                .iter()
                .map(|table| (*table).to_owned())
                .collect(),
            duration_ms: SCHEMA_INIT_MS_PER_TABLE * SCHEMA_TABLES.len() as u64,
        })
    }

    fn hydration_data(&self, facts_replayed: u64) -> SdkData {
        SdkData::HydrationDone(HydrationDoneData {
            entity_id: self.config.meta.entity_id.clone(),
            entity_type: self.config.meta.entity_type.clone(),
            facts_replayed,
            duration_ms: facts_replayed / HYDRATION_FACTS_PER_MS,
            source: HydrationSource::Storage,
        })
    }

    fn emit_cache_stats(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        period: StatsPeriod,
        effects: &mut Vec<Effect>,
    ) {
        let data = SdkData::CacheStats(CacheStatsData {
            entity_id: self.config.meta.entity_id.clone(),
            entity_type: self.config.meta.entity_type.clone(),
            period_start_ms: period.period_start_ms,
            period_end_ms: period.period_end_ms,
            hits: period.hits,
            misses: period.misses,
        });
        self.emit_sdk(now_ms, storage, data, effects);
    }

    fn close_appended(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        reason: CloseReason,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(closed) = self
            .appended
            .as_mut()
            .and_then(|counter| counter.close(now_ms, reason))
        {
            self.emit_appended(now_ms, storage, closed, effects);
        }
    }

    fn emit_appended(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        period: AppendedPeriod,
        effects: &mut Vec<Effect>,
    ) {
        let data = SdkData::FactAppended(FactAppendedData {
            entity_id: self.config.meta.entity_id.clone(),
            entity_type: self.config.meta.entity_type.clone(),
            period_start_ms: period.period_start_ms,
            period_end_ms: period.period_end_ms,
            count: period.count,
            last_seq: period.last_seq,
        });
        self.emit_sdk(now_ms, storage, data, effects);
    }

    /// Emits an SDK fact to the observability target; without a target, does nothing at all
    /// (not even drawing a sequence number).
    fn emit_sdk(
        &mut self,
        now_ms: u64,
        storage: &mut EntityStorage,
        data: SdkData,
        effects: &mut Vec<Effect>,
    ) {
        let Some(client) = self.observability.as_mut() else {
            return;
        };
        let id = FactId::new(self.config.actor.name().clone(), storage.next_seq);
        storage.next_seq += 1;
        let fact = Fact::sdk(id, &self.config.meta, now_ms, &data);
        client.emit(now_ms, Message::SdkFact(fact), effects);
    }
}

/// The child fact id a stored rollup fact records, if it is one.
pub fn rollup_child_fact_id(fact: &Fact) -> Option<FactId> {
    if fact.subtype != ROLLUP_SUBTYPE {
        return None;
    }
    let data = fact.data.json();
    let id = data.get("child_fact_id")?;
    Some(FactId::new(
        id.get("actor")?.as_str()?,
        id.get("seq")?.as_u64()?,
    ))
}
