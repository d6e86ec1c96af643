//! The queue's consumer Worker in the world: an invocation per queue batch, which hands each
//! message to the platform ledger as its own call and, once every call is answered, answers the
//! queue (a deferred answer) with one verdict per message: acknowledged if the platform stored
//! it (or already had it), retried otherwise. The `queue_consumer_failure` fault makes an
//! invocation throw at once, which retries its whole batch. The verdicts travel beside the
//! answer, in the world ([`World::take_batch_verdicts`]), keyed by the queue's call id.

use super::actor::{ActorKind, ConsumerActor, Invocation};
use super::World;
use crate::ledgers::{CallId, DeliveryOutcome, FailureKind, Message};
use crate::runtime::call::{Body, Call, Served, Step};
use crate::runtime::queue::Verdict;
use crate::runtime::spec::ActorIdx;

impl World {
    /// The consumer `idx` is invoked at `now_ms` with queue batch `batch_id`.
    pub(super) fn consumer_invoke(
        &mut self,
        idx: ActorIdx,
        batch_id: CallId,
        messages: Vec<Message>,
    ) -> Served {
        self.recorder.counters.consumer_invocations += 1;
        if self.faults.draw_consumer_failure() {
            self.recorder.counters.consumer_invocations_failed += 1;
            return answered(Err(FailureKind::Error));
        }
        if messages.is_empty() {
            self.batch_verdicts.insert(batch_id, Vec::new());
            return answered(Ok(()));
        }
        let rpc_timeout_ms = self.settings.rpc_timeout_ms;
        let actor = &mut self.actors[idx];
        let incarnation = actor.incarnation;
        let ActorKind::Consumer(consumer) = &mut actor.kind else {
            unreachable!("{actor} is not the queue consumer");
        };
        let target = self.names.get(&consumer.platform).copied();
        let token = consumer.next_token;
        consumer.next_token += 1;
        let mut calls = Vec::with_capacity(messages.len());
        for (index, message) in messages.into_iter().enumerate() {
            let call_id = consumer.next_call_id;
            consumer.next_call_id += 1;
            consumer.calls.insert(call_id, (token, index));
            calls.push(Call {
                caller: idx,
                incarnation,
                target,
                target_id: consumer.platform.clone(),
                call_id,
                body: Body::Deliver(message),
                key: None,
                timeout_ms: rpc_timeout_ms,
                hostile: None,
            });
        }
        consumer.invocations.insert(
            token,
            Invocation {
                batch_id,
                verdicts: vec![None; calls.len()],
                open: calls.len(),
            },
        );
        Served {
            outcome: Ok(()),
            reply_delay_ms: 0,
            step: self.step(calls),
            deferred: Some(token),
        }
    }

    /// The platform answered the consumer's call `call_id`: once every message of its
    /// invocation is answered, the invocation answers the queue.
    pub(super) fn consumer_result(
        &mut self,
        idx: ActorIdx,
        call_id: CallId,
        outcome: DeliveryOutcome,
    ) {
        let actor = &mut self.actors[idx];
        let ActorKind::Consumer(ConsumerActor {
            invocations, calls, ..
        }) = &mut actor.kind
        else {
            unreachable!("{actor} is not the queue consumer");
        };
        let Some((token, index)) = calls.remove(&call_id) else {
            return;
        };
        let Some(invocation) = invocations.get_mut(&token) else {
            return;
        };
        let verdict = if outcome.is_ok() {
            Verdict::Ack
        } else {
            Verdict::Retry
        };
        debug_assert!(invocation.verdicts[index].is_none(), "answered once");
        invocation.verdicts[index] = Some(verdict);
        invocation.open -= 1;
        if invocation.open > 0 {
            return;
        }
        let Some(invocation) = invocations.remove(&token) else {
            return;
        };
        let verdicts = invocation.verdicts.into_iter().flatten().collect();
        self.batch_verdicts.insert(invocation.batch_id, verdicts);
        self.replies.push((token, Ok(())));
    }

    /// The consumer's verdicts on queue batch `batch_id`, if its invocation returned.
    pub(super) fn take_batch_verdicts(&mut self, batch_id: CallId) -> Option<Vec<Verdict>> {
        self.batch_verdicts.remove(&batch_id)
    }
}

/// An answer given at once.
fn answered(outcome: DeliveryOutcome) -> Served {
    Served {
        outcome,
        reply_delay_ms: 0,
        step: Step::default(),
        deferred: None,
    }
}
