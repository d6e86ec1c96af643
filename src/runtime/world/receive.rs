//! Requests: overload (the in-flight limit and the injected rate), service time, and what each
//! kind of receiver does with what it is handed.

use super::actor::ActorKind;
use super::ops::OpContext;
use super::{Observers, World};
use crate::ledgers::{
    Accepted, ChildFactOutcome, DeliveryOutcome, Effect, FailureKind, Message, PlatformLedger,
    PlatformStorage,
};
use crate::model::{ActorId, Fact, FactError, SdkSubtype, TenantStatsPayload};
use crate::runtime::call::{Body, Call};
use crate::runtime::observe::{Observation, Trigger};
use crate::runtime::overload::OverloadCause;
use crate::runtime::recorder::{Counters, Recorder};
use crate::runtime::spec::ActorIdx;

impl World {
    /// Admits a request of `bytes` at `now_ms` into actor `idx`'s request queue, or refuses it
    /// (`None`: the actor answers `overloaded`; the cause is counted). Returns when it is done,
    /// ms.
    pub(super) fn admit_request(&mut self, idx: ActorIdx, now_ms: u64, bytes: u64) -> Option<u64> {
        let injected = self.faults.draw_overload(idx);
        let service_ms = self.settings.service_time_ms;
        let limits = self.settings.overload;
        let admitted = self.actors[idx]
            .requests
            .admit(now_ms, bytes, service_ms, &limits, injected);
        let actor = &self.actors[idx];
        if matches!(
            actor.kind,
            ActorKind::System(_) | ActorKind::Tenant(_) | ActorKind::Platform(_)
        ) {
            let queued = admitted.is_ok().then(|| actor.requests.queued());
            self.recorder.load.arrived(idx, now_ms, queued);
        }
        if let Err(cause) = admitted {
            self.observer.note(|| Observation::Refused {
                at_ms: now_ms,
                actor: idx,
                natural: cause != OverloadCause::Injected,
            });
        }
        let counters = &mut self.recorder.counters;
        match admitted {
            Ok(done_ms) => return Some(done_ms),
            Err(OverloadCause::TooManyQueued) => counters.overloaded_too_many_queued += 1,
            Err(OverloadCause::TooMuchData) => counters.overloaded_too_much_data += 1,
            Err(OverloadCause::QueuedTooLong) => counters.overloaded_queued_too_long += 1,
            Err(OverloadCause::RateWindow) => counters.overloaded_rate_window += 1,
            Err(OverloadCause::Injected) => {}
        }
        None
    }

    /// Hands `body` to actor `idx`'s ledger; returns its answer and the calls it made.
    pub(super) fn dispatch(
        &mut self,
        idx: ActorIdx,
        body: Body,
        now_ms: u64,
    ) -> (DeliveryOutcome, Vec<Call>) {
        let mut calls = self.advance_entity(idx, now_ms);
        let mut effects = Vec::new();
        let outcome = match body {
            Body::Deliver(Message::SdkFact(fact)) => {
                self.receive_sdk_fact(idx, fact, now_ms, &mut effects)
            }
            Body::Deliver(Message::TenantStats(payload)) => {
                self.receive_payload(idx, payload, now_ms)
            }
            Body::Deliver(Message::ChildFact { child, fact }) => {
                self.receive_child_fact(idx, &child, fact, now_ms, &mut effects)
            }
            Body::Batch { .. } => unreachable!("only the queue consumer gets queue batches"),
            Body::Read(query) => self.receive_read(idx, &query, now_ms),
        };
        calls.extend(self.apply_effects(idx, now_ms, effects));
        self.note_tenant_state(idx, now_ms);
        (outcome, calls)
    }

    /// An SDK fact at the SystemLedger or a TenantSystemLedger.
    fn receive_sdk_fact(
        &mut self,
        idx: ActorIdx,
        fact: Fact,
        now_ms: u64,
        effects: &mut Vec<Effect>,
    ) -> DeliveryOutcome {
        let actor = &mut self.actors[idx];
        let emitted_ms = fact.timestamp_ms;
        let received = match &mut actor.kind {
            ActorKind::System(system) => {
                let ledger = system.ledger.as_mut().expect("a served SystemLedger runs");
                ledger.on_sdk_fact_ref(now_ms, &mut system.storage, &fact)
            }
            ActorKind::Tenant(tenant) => {
                let ledger = tenant.ledger.as_mut().expect("a served tenant ledger runs");
                ledger.on_fact_ref(now_ms, &mut tenant.storage, &fact, effects)
            }
            kind => unreachable!("{} ({}) was handed an SDK fact", actor.id, kind.name()),
        };
        let counters = &mut self.recorder.counters;
        match received {
            Ok(Accepted::Stored) => {
                self.recorder
                    .delivery
                    .record(now_ms.saturating_sub(emitted_ms));
                counters.sdk_facts_delivered += 1;
                if fact.subtype == SdkSubtype::CacheStats.as_str() {
                    counters.cache_stats_delivered += 1;
                }
                self.observer.note(|| Observation::Stored {
                    at_ms: now_ms,
                    receiver: idx,
                    fact: &fact,
                });
                Ok(())
            }
            Ok(Accepted::Duplicate) => Ok(()),
            Err(error) => Err(count_rejection(counters, &error)),
        }
    }

    /// A tenant payload at the queue (a producer's send) or at the platform ledger.
    fn receive_payload(
        &mut self,
        idx: ActorIdx,
        payload: TenantStatsPayload,
        now_ms: u64,
    ) -> DeliveryOutcome {
        let actor = &mut self.actors[idx];
        match &mut actor.kind {
            ActorKind::Queue(queue) => {
                queue.queue.push(now_ms, Message::TenantStats(payload));
                Ok(())
            }
            ActorKind::Platform(platform) => {
                let ledger = platform
                    .ledger
                    .as_mut()
                    .expect("a served platform ledger runs");
                let receiver = (ledger, &mut platform.storage);
                store_payload(
                    receiver,
                    payload,
                    now_ms,
                    &mut self.recorder,
                    &mut self.observer,
                )
            }
            kind => unreachable!("{} ({}) was handed a payload", actor.id, kind.name()),
        }
    }

    /// A child's fact at its parent entity, rolled up once.
    fn receive_child_fact(
        &mut self,
        idx: ActorIdx,
        child: &ActorId,
        fact: Fact,
        now_ms: u64,
        effects: &mut Vec<Effect>,
    ) -> DeliveryOutcome {
        let actor = &mut self.actors[idx];
        let ActorKind::Entity(entity) = &mut actor.kind else {
            unreachable!("{actor} was handed a child fact");
        };
        let ledger = entity.ledger.as_mut().expect("a served entity ledger runs");
        let (child_fact, tenant) = (fact.id.clone(), fact.tenant_id.clone());
        let from = effects.len();
        let accepted = ledger.on_child_fact(now_ms, &mut entity.storage, child, fact, effects);
        if matches!(accepted, Ok(ChildFactOutcome::RolledUp(_))) {
            // A rollup is an append that no caller waits for.
            let previous_ms = entity.history.last_append_ms.replace(now_ms);
            let mut context = OpContext {
                observer: &mut self.observer,
                names: &self.names,
                recorder: &mut self.recorder,
            };
            let trigger = Trigger::Append { previous_ms };
            context.record(
                &mut entity.history,
                idx,
                None,
                now_ms,
                trigger,
                effects,
                from,
            );
        }
        if accepted.is_ok() {
            self.observer.note(|| Observation::ChildDelivered {
                at_ms: now_ms,
                parent: idx,
                child_fact: &child_fact,
                tenant: &tenant,
            });
        }
        let counters = &mut self.recorder.counters;
        match accepted {
            Ok(ChildFactOutcome::RolledUp(_)) => {
                counters.rollups += 1;
                counters.facts_appended += 1;
                *self.truth.acknowledged_appends.entry(idx).or_default() += 1;
                if ledger.appended_due_at_ms().is_some() {
                    *self.truth.generated.entry(idx).or_default() += 1;
                }
                Ok(())
            }
            Ok(ChildFactOutcome::Duplicate) => Ok(()),
            Err(error) => Err(count_rejection(counters, &error)),
        }
    }
}

/// Counts a fact a receiver rejected (another tenant's, or malformed) and gives the answer the
/// sender gets: an error, which its breaker counts as a failure.
fn count_rejection(counters: &mut Counters, error: &FactError) -> FailureKind {
    match error {
        FactError::ForeignTenant { .. } => counters.rejected_cross_tenant += 1,
        _ => counters.rejected_malformed += 1,
    }
    FailureKind::Error
}

/// The platform ledger stores a tenant payload (or says it has it, or rejects it).
fn store_payload(
    (ledger, storage): (&mut PlatformLedger, &mut PlatformStorage),
    payload: TenantStatsPayload,
    now_ms: u64,
    recorder: &mut Recorder,
    observer: &mut Observers,
) -> DeliveryOutcome {
    let period_end_ms = payload.period_end_ms;
    match ledger.on_payload(now_ms, storage, payload) {
        Ok(Accepted::Stored) => {
            let stored = storage.payloads.last().expect("a payload was just stored");
            observer.note(|| Observation::PayloadStored {
                at_ms: now_ms,
                payload: stored,
            });
            recorder.counters.tenant_payloads_delivered += 1;
            recorder
                .tenant_flush_lag
                .record(now_ms.saturating_sub(period_end_ms));
            Ok(())
        }
        Ok(Accepted::Duplicate) => Ok(()),
        Err(_) => {
            recorder.counters.rejected_malformed += 1;
            Err(FailureKind::Error)
        }
    }
}
