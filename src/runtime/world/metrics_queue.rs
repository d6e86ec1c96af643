//! The queue's glue: its state machine ([`crate::runtime::queue`]) fed with time and the
//! consumer's answers, its deliveries turned into calls, its counters.

use super::actor::{ActorKind, QueueActor};
use super::World;
use crate::ledgers::{CallId, DeliveryOutcome};
use crate::runtime::call::{Body, Call};
use crate::runtime::queue::Settled;
use crate::runtime::spec::ActorIdx;

impl World {
    /// The queue's timer fired at `now_ms`: the batch due now, as a call to the consumer.
    pub(super) fn queue_tick(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let actor = &mut self.actors[idx];
        let incarnation = actor.incarnation;
        let ActorKind::Queue(QueueActor {
            queue, consumer, ..
        }) = &mut actor.kind
        else {
            unreachable!("{actor} is not the queue");
        };
        let deliveries = [
            queue.tick(now_ms, &mut self.queue_rng),
            queue.tick_replay(now_ms),
        ];
        let consumer = consumer.clone();
        let target = self.index_of(&consumer);
        let mut calls = Vec::new();
        for delivery in deliveries.into_iter().flatten() {
            self.recorder.counters.queue_redeliveries += delivery.redelivered;
            calls.push(Call {
                caller: idx,
                incarnation,
                target,
                target_id: consumer.clone(),
                call_id: delivery.call_id,
                body: Body::Batch(delivery.messages),
                key: None,
                timeout_ms: self.settings.rpc_timeout_ms,
                hostile: None,
            });
        }
        calls
    }

    /// The consumer answered the queue's delivery `call_id` at `now_ms`.
    pub(super) fn queue_result(
        &mut self,
        idx: ActorIdx,
        call_id: CallId,
        outcome: DeliveryOutcome,
        now_ms: u64,
    ) -> Vec<Call> {
        let duplicate_rate = self.faults.queue_duplicate_rate();
        let actor = &mut self.actors[idx];
        let ActorKind::Queue(QueueActor { queue, .. }) = &mut actor.kind else {
            unreachable!("{actor} is not the queue");
        };
        let counters = &mut self.recorder.counters;
        match queue.on_result(
            now_ms,
            call_id,
            outcome,
            duplicate_rate,
            &mut self.queue_rng,
        ) {
            Settled::Ignored => return Vec::new(),
            Settled::Acked { duplicated } => counters.queue_redeliveries += duplicated,
            Settled::DeadLettered { messages } => counters.dead_lettered += messages,
            Settled::Replayed { messages } => counters.dead_letters_replayed += messages,
            Settled::Retrying { .. } => {}
        }
        self.timer_moved = true;
        Vec::new()
    }
}
