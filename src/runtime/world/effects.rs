//! Carrying out what the ledgers ask for: one helper per [`Effect`], in the order the ledger
//! pushed them.

use super::actor::ActorKind;
use super::entity::observations_in;
use super::World;
use crate::ledgers::Transition;
use crate::ledgers::{
    BreakerState, CallId, DropReason, Effect, EmitError, Message, MessageKey, StatsSummary,
};
use crate::model::ActorId;
use crate::runtime::call::{Body, Call};
use crate::runtime::observe::{Observation, Trigger};
use crate::runtime::recorder::EventKind;
use crate::runtime::spec::ActorIdx;

/// Whose effects, and when.
#[derive(Clone, Copy)]
struct Origin {
    idx: ActorIdx,
    now_ms: u64,
}

impl World {
    /// Carries out actor `idx`'s effects at `now_ms`; returns the calls to make.
    pub(super) fn apply_effects(
        &mut self,
        idx: ActorIdx,
        now_ms: u64,
        effects: Vec<Effect>,
    ) -> Vec<Call> {
        let mut calls = Vec::new();
        let origin = Origin { idx, now_ms };
        for effect in effects {
            match effect {
                Effect::Send {
                    target,
                    call_id,
                    message,
                    awaited,
                } => self.send(origin, target, call_id, message, awaited, &mut calls),
                Effect::Dropped {
                    target,
                    key,
                    reason,
                    warned,
                    message,
                } => self.count_drop(origin, &target, key, reason, warned, message),
                Effect::Settled { key, result, .. } => {
                    self.note_settled(origin, &key, result);
                }
                Effect::Breaker { target, transition } => {
                    self.breaker_moved(origin, target, transition);
                }
                Effect::SetAlarm { at_ms } => self.set_alarm(idx, at_ms),
                Effect::Emitted {
                    target,
                    key,
                    stats,
                    awaited,
                } => self.note_emitted(origin, &target, &key, awaited, stats),
                Effect::Rejected { target, key } => self.note_rejected(origin, &target, &key),
            }
        }
        calls
    }

    /// A delivery leaves the actor (and, under the `hostile_facts` fault, maybe a forged fact
    /// before it), onto `calls`.
    fn send(
        &mut self,
        Origin { idx, now_ms }: Origin,
        target: ActorId,
        call_id: CallId,
        message: Message,
        awaited: bool,
        calls: &mut Vec<Call>,
    ) {
        self.recorder.event(now_ms, EventKind::Send, idx, call_id);
        let target_idx = self.index_of(&target);
        // A misroute changes where the message goes on the network, not which client sent
        // it: observations and the outcome keep the intended target.
        let destination = match (&message, self.faults.misrouted_to(idx)) {
            (Message::SdkFact(_), Some(wrong)) => Some(wrong),
            _ => target_idx,
        };
        let key = message.key();
        self.observer.note(|| Observation::Attempt {
            at_ms: now_ms,
            caller: idx,
            target: target_idx,
            key: &key,
            awaited,
            observations: observations_in(&message),
        });
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, call_id, message = %key, "send");
        let is_entity = matches!(self.actors[idx].kind, ActorKind::Entity(_));
        if is_entity && self.faults.hostile.active() {
            calls.extend(self.forged_call(idx, destination, &target, &message, now_ms));
        }
        calls.push(Call {
            caller: idx,
            incarnation: self.actors[idx].incarnation,
            target: destination,
            target_id: target,
            call_id,
            body: Body::Deliver(message),
            key: Some(key),
            timeout_ms: self.settings.rpc_timeout_ms,
            hostile: None,
        });
    }

    /// A fire-and-forget emission was dropped: counted by reason and whether it was warned.
    fn count_drop(
        &mut self,
        Origin { idx, now_ms }: Origin,
        target: &ActorId,
        key: MessageKey,
        reason: DropReason,
        warned: bool,
        message: Option<Message>,
    ) {
        self.recorder
            .event(now_ms, EventKind::Drop, idx, u64::from(warned));
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, message = %key, ?reason, "drop");
        let target_idx = self.index_of(target);
        self.observer.note(|| Observation::Dropped {
            at_ms: now_ms,
            caller: idx,
            target: target_idx,
            key: &key,
            reason,
            observations: message.as_ref().map(observations_in),
        });
        let observability = matches!(&self.actors[idx].kind, ActorKind::Entity(entity)
            if entity.config.observability_target.as_ref() == Some(target));
        let counters = &mut self.recorder.counters;
        if warned {
            counters.fallback_warnings += 1;
        }
        match (observability, reason) {
            (false, _) => counters.bubbled_dropped += 1,
            (true, DropReason::BreakerOpen) => counters.dropped_breaker_open += 1,
            (true, DropReason::DeliveryFailed(_)) => counters.dropped_delivery_failed += 1,
        }
        self.settle_emission(idx, &key, false, now_ms);
    }

    /// An awaited emission settled at its caller: an error surfaced, or it was delivered.
    fn note_settled(
        &mut self,
        Origin { idx, now_ms }: Origin,
        key: &MessageKey,
        result: Result<(), EmitError>,
    ) {
        if result.is_err() && matches!(self.actors[idx].kind, ActorKind::Entity(_)) {
            self.recorder.counters.errors_surfaced += 1;
        }
        self.observer.note(|| Observation::Settled {
            at_ms: now_ms,
            caller: idx,
            key,
            ok: result.is_ok(),
        });
        self.settle_emission(idx, key, result.is_ok(), now_ms);
    }

    /// A client's breaker changed state: counted, and timed while it is OPEN.
    fn breaker_moved(
        &mut self,
        Origin { idx, now_ms }: Origin,
        target: ActorId,
        transition: Transition,
    ) {
        self.recorder
            .event(now_ms, EventKind::Breaker, idx, transition.to as u64);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, from = ?transition.from, to = ?transition.to, "breaker");
        let target_idx = self.index_of(&target);
        self.observer.note(|| Observation::Transition {
            at_ms: now_ms,
            caller: idx,
            target: target_idx,
            from: transition.from,
            to: transition.to,
        });
        let key = (idx, target);
        match transition.to {
            BreakerState::Open => {
                self.recorder.counters.breaker_opened += 1;
                self.breaker_open_since_ms.entry(key).or_insert(now_ms);
            }
            BreakerState::Closed => {
                self.recorder.counters.breaker_closed += 1;
                if let Some(since_ms) = self.breaker_open_since_ms.remove(&key) {
                    self.recorder.breaker_open.record(now_ms - since_ms);
                }
            }
            BreakerState::HalfOpen => {}
        }
    }

    /// A message handed to a client outside an entity's operations (a tenant's flush).
    fn note_emitted(
        &mut self,
        Origin { idx, now_ms }: Origin,
        target: &ActorId,
        key: &MessageKey,
        awaited: bool,
        stats: Option<StatsSummary>,
    ) {
        let target_idx = self.index_of(target);
        self.observer.note(|| Observation::Emitted {
            at_ms: now_ms,
            entity: idx,
            target: target_idx,
            key,
            awaited,
            stats,
            trigger: Trigger::Handler,
        });
    }

    /// An awaited client's breaker rejected its oldest message.
    fn note_rejected(
        &mut self,
        Origin { idx, now_ms }: Origin,
        target: &ActorId,
        key: &MessageKey,
    ) {
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, message = %key, "rejected by the breaker");
        let target_idx = self.index_of(target);
        self.observer.note(|| Observation::Rejected {
            at_ms: now_ms,
            caller: idx,
            target: target_idx,
            key,
        });
    }

    /// Emission `key` of actor `idx` settled: the callers waiting for it may get their result.
    pub(super) fn settle_emission(
        &mut self,
        idx: ActorIdx,
        key: &MessageKey,
        ok: bool,
        now_ms: u64,
    ) {
        if let Some((mut context, history)) = self.op_context(idx) {
            context.settle(history, idx, key, ok, now_ms);
        }
    }

    /// `setAlarm`: replaces the actor's alarm, which moves its timer.
    fn set_alarm(&mut self, idx: ActorIdx, at_ms: u64) {
        tracing::debug!(target: "z0sim::trace", actor = %self.actors[idx].id, at_ms, "alarm set");
        self.actors[idx].alarm.set(at_ms);
        self.timer_moved = true;
    }
}
