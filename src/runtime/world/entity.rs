//! Entities' local operations (cache gets and appends, applied lazily, each at its own time),
//! the timer that wakes an entity for the next one with an effect, and what a killed entity
//! loses.

use super::actor::RunningEntity;
use super::World;
use crate::ledgers::Message;
use crate::model::validate::accepted_sdk_data;
use crate::model::SdkData;
use crate::runtime::call::Call;
use crate::runtime::observe::Observation;
use crate::runtime::spec::ActorIdx;
use crate::runtime::workload::LocalOp;

/// Observations (hits, misses, appended facts) an SDK fact carries; 0 for anything else.
pub(super) fn observations_in(message: &Message) -> u64 {
    let Message::SdkFact(fact) = message else {
        return 0;
    };
    match accepted_sdk_data(fact) {
        Some(SdkData::CacheStats(stats)) => stats.hits + stats.misses,
        Some(SdkData::FactAppended(appended)) => appended.count,
        _ => 0,
    }
}

/// When a running entity must wake next, ms: the first cache get at or after its stats period
/// is due, the first append at or after its `fact_appended` period is due, or (an entity that
/// bubbles facts to a parent) its next append.
pub(super) fn next_effect_ms(entity: RunningEntity<'_>) -> Option<u64> {
    let RunningEntity {
        ledger, workload, ..
    } = entity;
    let stats = ledger
        .stats_due_at_ms()
        .and_then(|due_ms| workload.first_cache_get_at_or_after(due_ms));
    let appends = if ledger.parent_client().is_some() {
        workload.first_append_at_or_after(0)
    } else {
        ledger
            .appended_due_at_ms()
            .and_then(|due_ms| workload.first_append_at_or_after(due_ms))
    };
    [stats, appends].into_iter().flatten().min()
}

impl World {
    /// Applies the entity's local operations up to `now_ms`, each at its own time (nothing
    /// for an actor that is not a running entity).
    pub(super) fn advance_entity(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let Some(RunningEntity {
            config,
            storage,
            ledger,
            workload,
        }) = self.actors[idx].running_entity()
        else {
            return Vec::new();
        };
        let mut effects = Vec::new();
        // The same entity type the ledger was built with (the config is what a restart uses).
        let entity_type = config.meta.entity_type.as_str();
        let counters = &mut self.recorder.counters;
        // Stats tracking (observability wired and sampled) makes both aggregators count.
        let tracked = ledger.stats_due_at_ms().is_some();
        let mut counted = 0u64;
        let mut acknowledged = 0u64;
        while let Some((at_ms, op)) = workload.next_due(now_ms) {
            self.recorder.local_ops += 1;
            match op {
                LocalOp::CacheGet { hit } => {
                    if hit {
                        counters.cache_hits += 1;
                    } else {
                        counters.cache_misses += 1;
                    }
                    counted += 1;
                    ledger.cache_get(at_ms, storage, hit, &mut effects);
                }
                LocalOp::Append => {
                    let appended = ledger.append_fact(
                        at_ms,
                        storage,
                        entity_type,
                        "updated",
                        serde_json::Value::Null,
                        &mut effects,
                    );
                    if appended.is_ok() {
                        counters.facts_appended += 1;
                        counted += 1;
                        acknowledged += 1;
                    } else {
                        counters.primary_ops_failed += 1;
                    }
                }
            }
        }
        if tracked && counted > 0 {
            *self.truth.generated.entry(idx).or_default() += counted;
        }
        if acknowledged > 0 {
            *self.truth.acknowledged_appends.entry(idx).or_default() += acknowledged;
        }
        if effects.is_empty() {
            return Vec::new();
        }
        self.apply_effects(idx, now_ms, effects)
    }

    /// Counts what a running entity loses when it is killed now: the observations in its open
    /// periods and in the SDK facts its client still holds, and the SDK facts it emitted.
    pub(super) fn count_entity_losses(&mut self, idx: ActorIdx, now_ms: u64) {
        let Some(RunningEntity { ledger, .. }) = self.actors[idx].running_entity() else {
            return;
        };
        let open = ledger
            .cache()
            .open_period()
            .map_or(0, |open| open.hits + open.misses)
            + ledger.open_appended_count();
        let client = ledger.observability_client();
        let backlog: Vec<_> = client.map_or(Vec::new(), |client| {
            client
                .backlog()
                .map(|message| (message.key(), observations_in(message)))
                .collect()
        });
        let counters = &mut self.recorder.counters;
        counters.lost_on_restart += open + backlog.iter().map(|(_, count)| count).sum::<u64>();
        counters.sdk_facts_emitted += client.map_or(0, |client| client.counters().emitted);
        self.observer.note(|| Observation::Killed {
            at_ms: now_ms,
            actor: idx,
            open_observations: open,
            backlog: &backlog,
        });
    }
}
