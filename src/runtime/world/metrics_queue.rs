//! The queue's glue: its state machine ([`crate::runtime::queue`]) fed with time and the
//! consumer Worker's answers, its deliveries turned into calls, its counters.

use super::actor::{ActorKind, QueueActor};
use super::World;
use crate::ledgers::{CallId, DeliveryOutcome};
use crate::runtime::call::{Body, Call};
use crate::runtime::queue::{ConsumerAnswer, Settlement, CONSUMER_WALL_LIMIT_MS};
use crate::runtime::recorder::Counters;
use crate::runtime::spec::ActorIdx;

impl World {
    /// The queue's timer fired at `now_ms`: the batches due now, as calls to the consumer.
    pub(super) fn queue_tick(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let actor = &mut self.actors[idx];
        let incarnation = actor.incarnation;
        let ActorKind::Queue(QueueActor {
            queue, consumer, ..
        }) = &mut actor.kind
        else {
            unreachable!("{actor} is not the queue");
        };
        let mut deliveries = queue.tick(now_ms, &mut self.queue_rng);
        deliveries.extend(queue.tick_replay(now_ms));
        let consumer = consumer.clone();
        let target = self.index_of(&consumer);
        let mut calls = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            self.recorder.counters.queue_redeliveries += delivery.redelivered;
            tracing::debug!(target: "z0sim::trace", now_ms, actor = %consumer, batch = delivery.call_id, messages = delivery.messages.len(), redelivered = delivery.redelivered, "queue batch delivered");
            calls.push(Call {
                caller: idx,
                incarnation,
                target,
                target_id: consumer.clone(),
                call_id: delivery.call_id,
                body: Body::Batch {
                    batch_id: delivery.call_id,
                    messages: delivery.messages,
                },
                key: None,
                // The consumer's wall-time limit: an invocation not over by then failed.
                timeout_ms: CONSUMER_WALL_LIMIT_MS,
                hostile: None,
            });
        }
        calls
    }

    /// The consumer answered the queue's delivery `call_id` at `now_ms`: its verdicts if it
    /// returned, a whole-batch retry if it threw or did not answer.
    pub(super) fn queue_result(
        &mut self,
        idx: ActorIdx,
        call_id: CallId,
        outcome: DeliveryOutcome,
        now_ms: u64,
    ) -> Vec<Call> {
        let verdicts = self.take_batch_verdicts(call_id);
        let answer = match (outcome, verdicts) {
            (Ok(()), Some(verdicts)) => ConsumerAnswer::Settled(verdicts),
            _ => ConsumerAnswer::Failed,
        };
        let duplicate_rate = self.faults.queue_duplicate_rate();
        let actor = &mut self.actors[idx];
        let ActorKind::Queue(QueueActor { queue, .. }) = &mut actor.kind else {
            unreachable!("{actor} is not the queue");
        };
        let settlement =
            queue.on_result(now_ms, call_id, answer, duplicate_rate, &mut self.queue_rng);
        if !settlement.ignored {
            tracing::debug!(target: "z0sim::trace", now_ms, batch = call_id, acked = settlement.acked, retried = settlement.retried, dead_lettered = settlement.dead_lettered, deleted = settlement.deleted, replayed = settlement.replayed, "queue batch settled");
            if settlement.dead_lettered + settlement.deleted > 0 {
                tracing::debug!(target: "z0sim::trace", now_ms, dead_lettered = settlement.dead_lettered, deleted = settlement.deleted, "queue messages out of retries");
            }
            count_settlement(&mut self.recorder.counters, &settlement);
            self.timer_moved = true;
        }
        Vec::new()
    }
}

/// Adds what an answer did to the queue to the counters.
pub(super) fn count_settlement(counters: &mut Counters, settlement: &Settlement) {
    counters.queue_redeliveries += settlement.duplicated;
    counters.queue_messages_retried += settlement.retried;
    counters.dead_lettered += settlement.dead_lettered;
    counters.queue_messages_deleted += settlement.deleted;
    counters.dead_letters_replayed += settlement.replayed;
}
