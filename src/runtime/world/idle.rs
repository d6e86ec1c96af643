//! Idle eviction in the world ([`crate::runtime::idle`] decides when): an idle Durable Object's
//! in-memory state goes (what its entity ledger held is counted as lost, by name), it stays
//! reachable, and its next request or alarm constructs it again, which emits its start facts.
//! An entity that has not arrived yet (`[workload] start_spread`) is dormant the same way,
//! never constructed until then.

use super::actor::{Actor, ActorKind};
use super::World;
use crate::runtime::call::Call;
use crate::runtime::idle::IdleVerdict;
use crate::runtime::recorder::EventKind;
use crate::runtime::spec::ActorIdx;

/// When a dormant object must be woken, ms: an entity's arrival (`start_spread`) or next
/// operation (each is a request to it), a tenant ledger's alarm; `None` for objects only a
/// request wakes.
pub(super) fn dormant_wake_ms(actor: &mut Actor) -> Option<u64> {
    debug_assert!(actor.dormant);
    match &mut actor.kind {
        // Its arrival constructs an entity that never ran, operations or not.
        ActorKind::Entity(entity) if !entity.arrived => Some(entity.workload.arrival_ms()),
        ActorKind::Entity(entity) => entity.workload.next_op_ms(),
        ActorKind::Tenant(_) => actor.alarm.wake_ms(),
        _ => None,
    }
}

impl World {
    /// Dormant object `idx` is needed at `now_ms`: its constructor runs again.
    pub(super) fn wake(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let actor = &mut self.actors[idx];
        debug_assert!(actor.dormant, "{actor} is not dormant");
        actor.dormant = false;
        if matches!(&actor.kind, ActorKind::Entity(entity) if !entity.arrived) {
            tracing::debug!(target: "z0sim::trace", now_ms, actor = %actor.id, "arrives (start_spread)");
        } else {
            self.recorder.counters.idle_wakes += 1;
            tracing::debug!(target: "z0sim::trace", now_ms, actor = %actor.id, "woken after an idle eviction");
        }
        self.construct(idx, now_ms, false)
    }

    /// The idle check of object `idx` is due at `now_ms`: evicts it if it has been idle for
    /// its whole stretch.
    pub(super) fn idle_check(&mut self, idx: ActorIdx, now_ms: u64) {
        let actor = &mut self.actors[idx];
        let waiting_callers = match &actor.kind {
            ActorKind::Entity(entity) => !entity.history.waiting.is_empty(),
            _ => false,
        };
        let busy = waiting_callers
            || actor.calls_in_flight > 0
            || actor.alarm.is_running()
            || actor.requests.busy_at(now_ms);
        let verdict = actor.idle.check(
            &self.settings.idle,
            now_ms,
            actor.last_active_ms,
            busy,
            &mut self.idle_rng,
        );
        if verdict == IdleVerdict::Evict {
            self.evict_idle(idx, now_ms);
        }
    }

    /// Evicts idle object `idx` at `now_ms`: its in-memory state is gone, its storage and
    /// alarm stay, and it stays reachable.
    fn evict_idle(&mut self, idx: ActorIdx, now_ms: u64) {
        self.count_entity_losses(idx, now_ms, true);
        self.end_breaker_episodes(idx, now_ms);
        let actor = &mut self.actors[idx];
        actor.stop();
        actor.dormant = true;
        if let ActorKind::Tenant(tenant) = &mut actor.kind {
            tenant.storage.alarm_ms = actor.alarm.at_ms();
        }
        self.recorder.counters.idle_evictions += 1;
        self.recorder.event(now_ms, EventKind::IdleEviction, idx, 0);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, "idle eviction");
        self.timer_moved = true;
    }
}
