//! Entities' local operations (cache gets and appends, applied lazily, each at its own time),
//! the timer that wakes an entity for the next one with an effect, and what a killed entity
//! loses.

use super::actor::RunningEntity;
use super::ops::OpContext;
use super::World;
use crate::ledgers::{Effect, Message};
use crate::model::validate::accepted_sdk_data;
use crate::model::SdkData;
use crate::runtime::call::Call;
use crate::runtime::observe::{Observation, OpKind, StatsControl, Trigger};
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
/// is due, the first append at or after its `fact_appended` period is due, (an entity that
/// bubbles facts to a parent) its next append, or its next `flushStats()` or tracking toggle
/// (each closes periods at once, so its facts leave when it happens).
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
    [stats, appends, workload.next_control_ms()]
        .into_iter()
        .flatten()
        .min()
}

/// One entity's local operations applied in a row: the entity and what noting them needs.
struct Applier<'a> {
    entity: RunningEntity<'a>,
    ops: OpContext<'a>,
    /// Observations generated and counted by stats tracking.
    counted: u64,
    /// Appends acknowledged.
    acknowledged: u64,
}

impl Applier<'_> {
    /// A cache get at `at_ms`, a hit or a miss.
    fn cache_get(&mut self, at_ms: u64, hit: bool, tracked: bool, effects: &mut Vec<Effect>) {
        let counters = &mut self.ops.recorder.counters;
        if hit {
            counters.cache_hits += 1;
        } else {
            counters.cache_misses += 1;
        }
        self.counted += u64::from(tracked);
        let RunningEntity {
            storage, ledger, ..
        } = &mut self.entity;
        ledger.cache_get(at_ms, storage, hit, effects);
    }

    /// `flushStats()` or a tracking toggle at `at_ms`: what changed, and what closed periods.
    fn stats_control(
        &mut self,
        at_ms: u64,
        op: LocalOp,
        tracked: bool,
        effects: &mut Vec<Effect>,
    ) -> (Option<StatsControl>, Trigger) {
        let RunningEntity {
            storage, ledger, ..
        } = &mut self.entity;
        match op {
            LocalOp::FlushStats => {
                ledger.flush_stats(at_ms, storage, effects);
                (Some(StatsControl::Flush), Trigger::Flush)
            }
            _ if tracked => {
                ledger.disable_stats_tracking(at_ms, storage, effects);
                (Some(StatsControl::Disable), Trigger::Disable)
            }
            _ => {
                ledger.enable_stats_tracking(at_ms);
                let enabled = ledger.is_tracking().then_some(StatsControl::Enable);
                (enabled, Trigger::Disable)
            }
        }
    }

    /// Appends a domain fact at `at_ms`; whether its ledger acknowledged it.
    fn append(&mut self, at_ms: u64, effects: &mut Vec<Effect>) -> bool {
        let RunningEntity {
            config,
            storage,
            ledger,
            ..
        } = &mut self.entity;
        // The same entity type the ledger was built with (the config is what a restart uses).
        let entity_type = config.meta.entity_type.as_str();
        let appended = ledger.append_fact(
            at_ms,
            storage,
            entity_type,
            "updated",
            serde_json::Value::Null,
            effects,
        );
        let counters = &mut self.ops.recorder.counters;
        if appended.is_ok() {
            counters.facts_appended += 1;
            self.acknowledged += 1;
        } else {
            counters.primary_ops_failed += 1;
        }
        appended.is_ok()
    }

    /// Applies operation `op` at `at_ms`, pushing its effects.
    fn apply(&mut self, idx: ActorIdx, at_ms: u64, op: LocalOp, effects: &mut Vec<Effect>) {
        // Stats tracking (observability wired and sampled, not turned off) makes both
        // aggregators count.
        let tracked = self.entity.ledger.is_tracking();
        let from = effects.len();
        let mut control = None;
        let (kind, trigger) = match op {
            LocalOp::CacheGet { hit } => {
                self.cache_get(at_ms, hit, tracked, effects);
                let previous_ms = self.entity.history.last_cache_get_ms.replace(at_ms);
                (OpKind::CacheGet, Trigger::CacheGet { previous_ms })
            }
            LocalOp::Append => {
                if self.append(at_ms, effects) {
                    self.counted += u64::from(tracked);
                }
                let previous_ms = self.entity.history.last_append_ms.replace(at_ms);
                (OpKind::Append, Trigger::Append { previous_ms })
            }
            LocalOp::FlushStats | LocalOp::ToggleTracking => {
                let (changed, trigger) = self.stats_control(at_ms, op, tracked, effects);
                control = changed;
                let kind = if op == LocalOp::FlushStats {
                    OpKind::Flush
                } else {
                    OpKind::ToggleTracking
                };
                (kind, trigger)
            }
        };
        if effects.len() > from {
            let history = &mut *self.entity.history;
            self.ops
                .record(history, idx, Some(kind), at_ms, trigger, effects, from);
        }
        // A flush or tracking change is noted after the periods it emitted.
        if let Some(control) = control {
            self.ops.observer.note(|| Observation::Tracking {
                at_ms,
                entity: idx,
                control,
            });
        }
    }
}

impl World {
    /// Applies the entity's local operations up to `now_ms`, each at its own time (nothing
    /// for an actor that is not a running entity).
    pub(super) fn advance_entity(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let effects = self.apply_local_ops(idx, now_ms);
        if effects.is_empty() {
            return Vec::new();
        }
        self.apply_effects(idx, now_ms, effects)
    }

    /// The effects of the entity's operations due by `now_ms`.
    fn apply_local_ops(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Effect> {
        let World {
            actors,
            observer,
            names,
            recorder,
            truth,
            ..
        } = self;
        let Some(entity) = actors[idx].running_entity() else {
            return Vec::new();
        };
        let mut applier = Applier {
            ops: OpContext {
                observer,
                names,
                recorder,
            },
            entity,
            counted: 0,
            acknowledged: 0,
        };
        let mut effects = Vec::new();
        let mut last_op_ms = None;
        while let Some((at_ms, op)) = applier.entity.workload.next_due(now_ms) {
            applier.ops.recorder.local_ops += 1;
            applier.apply(idx, at_ms, op, &mut effects);
            last_op_ms = Some(at_ms);
        }
        if applier.counted > 0 {
            *truth.generated.entry(idx).or_default() += applier.counted;
        }
        if applier.acknowledged > 0 {
            *truth.acknowledged_appends.entry(idx).or_default() += applier.acknowledged;
        }
        if let Some(at_ms) = last_op_ms {
            let actor = &mut actors[idx];
            actor.last_active_ms = actor.last_active_ms.max(at_ms);
        }
        effects
    }

    /// Counts what a running entity loses when it is killed now: the observations in its open
    /// periods and in the SDK facts its client still holds, and the SDK facts it emitted.
    pub(super) fn count_entity_losses(&mut self, idx: ActorIdx, now_ms: u64, idle: bool) {
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
        let lost = open + backlog.iter().map(|(_, count)| count).sum::<u64>();
        if idle {
            counters.lost_to_idle_eviction += lost;
        } else {
            counters.lost_on_restart += lost;
        }
        counters.sdk_facts_emitted += client.map_or(0, |client| client.counters().emitted);
        self.observer.note(|| Observation::Killed {
            at_ms: now_ms,
            actor: idx,
            idle,
            open_observations: open,
            backlog: &backlog,
        });
    }
}
