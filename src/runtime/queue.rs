//! `PLATFORM_METRICS_QUEUE` as a sans-IO state machine: `now_ms` and an input in, what to
//! deliver out. The world owns one and carries its deliveries to the consumer.
//!
//! Rules (Cloudflare Queues, as this harness models them; README, "Runtime"):
//! - A producer's send is buffered at once.
//! - A batch leaves when the buffer holds `max_batch_size` messages, or `max_batch_timeout_ms`
//!   after the oldest buffered message arrived; it takes at most `max_batch_size` messages.
//!   Messages left behind count their wait from the moment the batch left.
//! - One batch at a time: the next one waits until the current one is acknowledged or given up.
//! - Delivery is unordered: each batch is shuffled with the queue's random stream.
//! - A failed batch is delivered again, whole, `retry_delay_ms` later (0: at once), up to
//!   `max_retries` times after its first delivery; then its messages go to the dead-letter
//!   queue.
//! - With `dead_letter_replay`, a consumer of the dead-letter queue delivers its messages to
//!   the consumer again, a batch at a time, retrying a failed batch every
//!   [`REPLAY_RETRY_DELAY_MS`] until it is accepted; it runs beside the main batch.
//! - An acknowledged batch is done, but each of its messages may be delivered again (at-least-
//!   once: the `queue_duplicate` fault's probability), through the buffer like a new send.
//! - The outcome of a delivery that is not the current one is ignored.

use crate::ledgers::{CallId, DeliveryOutcome, Message};
use crate::planted::{self, Plant};
use rand::Rng;
use std::collections::VecDeque;

/// The dead-letter queue's consumer retries a failed batch this often, ms.
pub const REPLAY_RETRY_DELAY_MS: u64 = 30_000;

/// Call ids of the dead-letter consumer's deliveries start here (the main batch's count up
/// from 0), so an answer says which lane it belongs to.
const REPLAY_CALL_ID_BASE: CallId = 1 << 62;

/// The queue's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Largest batch (Cloudflare's default 10).
    pub max_batch_size: usize,
    /// Longest wait before a partial batch leaves, ms (default 5 000).
    pub max_batch_timeout_ms: u64,
    /// Deliveries of a failing batch after its first (default 3), then the dead-letter queue.
    pub max_retries: u32,
    /// Wait before a failed batch is delivered again, ms.
    pub retry_delay_ms: u64,
    /// A consumer of the dead-letter queue replays it into the consumer.
    pub dead_letter_replay: bool,
}

/// A batch to hand to the consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Report the consumer's answer with this id.
    pub call_id: CallId,
    /// The batch, in delivery order.
    pub messages: Vec<Message>,
    /// Messages of it delivered before (a retried batch).
    pub redelivered: u64,
}

/// What the consumer's answer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Not the delivery the queue waits for: nothing changed.
    Ignored,
    /// Acknowledged; `duplicated` of its messages go round again.
    Acked {
        /// Messages put back into the buffer to be delivered again.
        duplicated: u64,
    },
    /// Failed; delivered again at `retry_at_ms`.
    Retrying {
        /// When the batch is delivered again, ms.
        retry_at_ms: u64,
    },
    /// Failed for the last time: its messages went to the dead-letter queue.
    DeadLettered {
        /// How many.
        messages: u64,
    },
    /// A replayed dead-letter batch was accepted.
    Replayed {
        /// How many messages left the dead-letter queue.
        messages: u64,
    },
}

#[derive(Clone, Debug)]
struct Batch {
    messages: Vec<Message>,
    deliveries: u32,
    in_flight: Option<CallId>,
    due_ms: u64,
}

/// The queue's state: durable, so it survives a restart of the queue's actor.
#[derive(Clone, Debug)]
pub struct Queue {
    config: QueueConfig,
    buffer: VecDeque<Message>,
    oldest_buffered_ms: Option<u64>,
    batch: Option<Batch>,
    next_call_id: CallId,
    /// The dead-letter queue, oldest first (with replay, what its consumer has not delivered).
    dead_letters: VecDeque<Message>,
    /// The dead-letter consumer's current batch (replay only).
    replay: Option<Batch>,
    next_replay_call_id: CallId,
}

impl Queue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        debug_assert!(
            config.max_batch_size > 0,
            "a batch holds at least one message"
        );
        Self {
            config,
            buffer: VecDeque::new(),
            oldest_buffered_ms: None,
            batch: None,
            next_call_id: 0,
            dead_letters: VecDeque::new(),
            replay: None,
            next_replay_call_id: REPLAY_CALL_ID_BASE,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// A producer's send at `now_ms`.
    pub fn push(&mut self, now_ms: u64, message: Message) {
        self.buffer.push_back(message);
        self.oldest_buffered_ms.get_or_insert(now_ms);
    }

    /// When the queue next has something to do, ms: the current batch's retry, or the buffer's
    /// batch deadline (at once when it is full). `None` while a delivery is in flight or
    /// nothing is buffered.
    pub fn deadline_ms(&self) -> Option<u64> {
        let main_ms = match &self.batch {
            Some(batch) => batch.in_flight.is_none().then_some(batch.due_ms),
            None => self.oldest_buffered_ms.map(|oldest_ms| {
                if self.buffer.len() >= self.config.max_batch_size {
                    oldest_ms
                } else {
                    oldest_ms + self.config.max_batch_timeout_ms
                }
            }),
        };
        let replay_ms = self
            .replay
            .as_ref()
            .and_then(|batch| batch.in_flight.is_none().then_some(batch.due_ms));
        [main_ms, replay_ms].into_iter().flatten().min()
    }

    /// Time passes to `now_ms`: the batch to deliver now, if any (`rng` shuffles a new batch).
    pub fn tick(&mut self, now_ms: u64, rng: &mut impl Rng) -> Option<Delivery> {
        if self.batch.is_none() {
            self.batch = Some(self.take_batch(now_ms, rng)?);
        }
        let batch = self.batch.as_mut()?;
        if batch.in_flight.is_some() || now_ms < batch.due_ms {
            return None;
        }
        let redelivered = if batch.deliveries > 0 {
            batch.messages.len() as u64
        } else {
            0
        };
        batch.deliveries += 1;
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        batch.in_flight = Some(call_id);
        Some(Delivery {
            call_id,
            messages: batch.messages.clone(),
            redelivered,
        })
    }

    /// A new batch from the buffer, if one is due.
    fn take_batch(&mut self, now_ms: u64, rng: &mut impl Rng) -> Option<Batch> {
        let full = self.buffer.len() >= self.config.max_batch_size;
        let timed_out = self
            .oldest_buffered_ms
            .is_some_and(|oldest_ms| now_ms >= oldest_ms + self.config.max_batch_timeout_ms);
        if !(full || timed_out) || self.buffer.is_empty() {
            return None;
        }
        let take = self.buffer.len().min(self.config.max_batch_size);
        let mut messages: Vec<Message> = self.buffer.drain(..take).collect();
        for position in (1..messages.len()).rev() {
            let other = rng.gen_range(0..=position);
            messages.swap(position, other);
        }
        self.oldest_buffered_ms = (!self.buffer.is_empty()).then_some(now_ms);
        Some(Batch {
            messages,
            deliveries: 0,
            in_flight: None,
            due_ms: now_ms,
        })
    }

    /// The consumer answered delivery `call_id` at `now_ms`. On success each message is put
    /// back with probability `duplicate_probability` (drawn from `rng`).
    pub fn on_result(
        &mut self,
        now_ms: u64,
        call_id: CallId,
        outcome: DeliveryOutcome,
        duplicate_probability: f64,
        rng: &mut impl Rng,
    ) -> Settled {
        if call_id >= REPLAY_CALL_ID_BASE {
            return self.on_replay_result(now_ms, call_id, outcome);
        }
        let Some(batch) = self
            .batch
            .as_mut()
            .filter(|batch| batch.in_flight == Some(call_id))
        else {
            return Settled::Ignored;
        };
        batch.in_flight = None;
        // The planted mistake: a failed consumer run counts as an acknowledgement.
        let outcome = if planted::active(Plant::QueueAcksFailedBatch) {
            Ok(())
        } else {
            outcome
        };
        if outcome.is_err() && batch.deliveries <= self.config.max_retries {
            batch.due_ms = now_ms + self.config.retry_delay_ms;
            return Settled::Retrying {
                retry_at_ms: batch.due_ms,
            };
        }
        let Some(batch) = self.batch.take() else {
            unreachable!("the queue's batch was just looked at");
        };
        if outcome.is_err() {
            let messages = batch.messages.len() as u64;
            self.dead_letters.extend(batch.messages);
            self.start_replay(now_ms);
            return Settled::DeadLettered { messages };
        }
        let mut duplicated = 0;
        for message in batch.messages {
            if duplicate_probability > 0.0 && rng.gen::<f64>() < duplicate_probability {
                duplicated += 1;
                self.push(now_ms, message);
            }
        }
        Settled::Acked { duplicated }
    }

    /// The dead-letter consumer's next batch, due at `now_ms` (replay only).
    fn start_replay(&mut self, now_ms: u64) {
        if !self.config.dead_letter_replay || self.replay.is_some() || self.dead_letters.is_empty()
        {
            return;
        }
        let take = self.dead_letters.len().min(self.config.max_batch_size);
        self.replay = Some(Batch {
            messages: self.dead_letters.iter().take(take).cloned().collect(),
            deliveries: 0,
            in_flight: None,
            due_ms: now_ms,
        });
    }

    /// Time passes to `now_ms`: the dead-letter consumer's batch to deliver now, if any.
    pub fn tick_replay(&mut self, now_ms: u64) -> Option<Delivery> {
        let batch = self.replay.as_mut()?;
        if batch.in_flight.is_some() || now_ms < batch.due_ms {
            return None;
        }
        batch.deliveries += 1;
        let call_id = self.next_replay_call_id;
        self.next_replay_call_id += 1;
        batch.in_flight = Some(call_id);
        Some(Delivery {
            call_id,
            messages: batch.messages.clone(),
            redelivered: batch.messages.len() as u64,
        })
    }

    fn on_replay_result(
        &mut self,
        now_ms: u64,
        call_id: CallId,
        outcome: DeliveryOutcome,
    ) -> Settled {
        let Some(batch) = self
            .replay
            .as_mut()
            .filter(|batch| batch.in_flight == Some(call_id))
        else {
            return Settled::Ignored;
        };
        batch.in_flight = None;
        if outcome.is_err() {
            batch.due_ms = now_ms + REPLAY_RETRY_DELAY_MS;
            return Settled::Retrying {
                retry_at_ms: batch.due_ms,
            };
        }
        let messages = batch.messages.len();
        self.dead_letters.drain(..messages);
        self.replay = None;
        self.start_replay(now_ms);
        Settled::Replayed {
            messages: messages as u64,
        }
    }

    /// The dead-letter queue (with replay: what its consumer has not delivered yet).
    pub fn dead_letters(&self) -> impl Iterator<Item = &Message> {
        self.dead_letters.iter()
    }

    /// How many messages the dead-letter queue holds.
    pub fn dead_letter_count(&self) -> usize {
        self.dead_letters.len()
    }

    /// The messages waiting in the buffer or in the current batch.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.buffer
            .iter()
            .chain(self.batch.iter().flat_map(|batch| batch.messages.iter()))
    }

    /// Messages waiting in the buffer or in the current batch.
    pub fn waiting(&self) -> usize {
        self.buffer.len() + self.batch.as_ref().map_or(0, |batch| batch.messages.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledgers::FailureKind;
    use crate::model::TenantStatsPayload;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    const CONFIG: QueueConfig = QueueConfig {
        max_batch_size: 10,
        max_batch_timeout_ms: 5_000,
        max_retries: 3,
        retry_delay_ms: 5_000,
        dead_letter_replay: false,
    };

    fn payload(number: u64) -> Message {
        Message::TenantStats(TenantStatsPayload {
            tenant_id: "t0".into(),
            flush_id: format!("t0/{number}"),
            period_start_ms: 0,
            period_end_ms: 60_000,
            cache_hits: number,
            cache_misses: 0,
            facts_count: 1,
            facts_appended: 0,
            entities_count: 1,
        })
    }

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(7)
    }

    fn queue_with(messages: u64, at_ms: u64) -> Queue {
        let mut queue = Queue::new(CONFIG);
        for number in 0..messages {
            queue.push(at_ms, payload(number));
        }
        queue
    }

    fn sorted_hits(messages: &[Message]) -> Vec<u64> {
        let mut hits: Vec<u64> = messages
            .iter()
            .map(|message| match message {
                Message::TenantStats(payload) => payload.cache_hits,
                other => panic!("not a payload: {other:?}"),
            })
            .collect();
        hits.sort_unstable();
        hits
    }

    #[test]
    fn a_partial_batch_waits_for_the_batch_timeout_after_its_oldest_message() {
        let mut queue = queue_with(3, 1_000);
        assert_eq!(queue.deadline_ms(), Some(6_000));
        assert_eq!(queue.tick(5_999, &mut rng()), None);
        let delivery = queue.tick(6_000, &mut rng()).expect("due at the timeout");
        assert_eq!(sorted_hits(&delivery.messages), vec![0, 1, 2]);
        assert_eq!(delivery.redelivered, 0);
    }

    #[test]
    fn a_full_buffer_leaves_at_once_and_a_batch_takes_at_most_the_batch_size() {
        let mut queue = queue_with(13, 1_000);
        assert_eq!(queue.deadline_ms(), Some(1_000), "full: due at once");
        let delivery = queue.tick(1_000, &mut rng()).expect("a full batch");
        assert_eq!(delivery.messages.len(), CONFIG.max_batch_size);
        assert_eq!(queue.waiting(), 13);
    }

    #[test]
    fn messages_left_behind_wait_from_the_moment_the_batch_left() {
        let mut queue = queue_with(13, 1_000);
        let delivery = queue.tick(2_000, &mut rng()).expect("a full batch");
        queue.on_result(2_010, delivery.call_id, Ok(()), 0.0, &mut rng());
        assert_eq!(
            queue.deadline_ms(),
            Some(7_000),
            "3 left, buffered again at 2 000 ms"
        );
    }

    #[test]
    fn only_one_batch_is_in_flight_at_a_time() {
        let mut queue = queue_with(25, 0);
        let first = queue.tick(0, &mut rng()).expect("first batch");
        assert_eq!(
            queue.deadline_ms(),
            None,
            "nothing to do while it is in flight"
        );
        assert_eq!(queue.tick(60_000, &mut rng()), None);
        queue.on_result(10, first.call_id, Ok(()), 0.0, &mut rng());
        let second = queue
            .tick(10, &mut rng())
            .expect("the next batch after the answer");
        assert_ne!(first.call_id, second.call_id);
    }

    #[test]
    fn batches_are_shuffled_with_the_queue_stream() {
        let orders: Vec<Vec<Message>> = (0..20)
            .map(|seed| {
                let mut queue = queue_with(10, 0);
                let mut rng = SmallRng::seed_from_u64(seed);
                queue.tick(0, &mut rng).expect("full").messages
            })
            .collect();
        assert!(
            orders.iter().any(|order| order != &orders[0]),
            "never shuffled"
        );
        for order in &orders {
            assert_eq!(sorted_hits(order), (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_failed_batch_is_delivered_again_whole_after_the_retry_delay() {
        let mut queue = queue_with(4, 0);
        let first = queue.tick(5_000, &mut rng()).expect("timed out");
        let settled = queue.on_result(
            5_100,
            first.call_id,
            Err(FailureKind::Error),
            0.0,
            &mut rng(),
        );
        assert_eq!(
            settled,
            Settled::Retrying {
                retry_at_ms: 10_100
            }
        );
        assert_eq!(queue.deadline_ms(), Some(10_100));
        assert_eq!(queue.tick(10_099, &mut rng()), None);
        let again = queue.tick(10_100, &mut rng()).expect("the retry");
        assert_eq!(
            again.messages, first.messages,
            "the same batch, in the same order"
        );
        assert_eq!(again.redelivered, 4);
    }

    #[test]
    fn a_batch_goes_to_the_dead_letter_queue_after_its_last_retry() {
        let mut queue = queue_with(2, 0);
        let mut now_ms = 5_000;
        for retry in 0..CONFIG.max_retries {
            let delivery = queue.tick(now_ms, &mut rng()).expect("delivered");
            let settled = queue.on_result(
                now_ms,
                delivery.call_id,
                Err(FailureKind::Timeout),
                0.0,
                &mut rng(),
            );
            assert!(
                matches!(settled, Settled::Retrying { .. }),
                "retry {retry}: {settled:?}"
            );
            now_ms += CONFIG.retry_delay_ms;
        }
        let last = queue.tick(now_ms, &mut rng()).expect("the last delivery");
        let settled = queue.on_result(
            now_ms,
            last.call_id,
            Err(FailureKind::Overloaded),
            0.0,
            &mut rng(),
        );
        assert_eq!(settled, Settled::DeadLettered { messages: 2 });
        assert_eq!(queue.dead_letter_count(), 2);
        assert_eq!(
            queue.tick_replay(now_ms + 3_600_000),
            None,
            "no replay unless configured"
        );
        assert_eq!((queue.waiting(), queue.deadline_ms()), (0, None));
    }

    /// Fails every delivery of a new queue's first batch of `messages` until it is
    /// dead-lettered; returns the queue and the time it happened.
    fn dead_lettered(config: QueueConfig, messages: u64) -> (Queue, u64) {
        let mut queue = Queue::new(config);
        for number in 0..messages {
            queue.push(0, payload(number));
        }
        let mut now_ms = config.max_batch_timeout_ms;
        loop {
            let delivery = queue.tick(now_ms, &mut rng()).expect("due");
            let settled = queue.on_result(
                now_ms,
                delivery.call_id,
                Err(FailureKind::Error),
                0.0,
                &mut rng(),
            );
            if let Settled::DeadLettered { .. } = settled {
                return (queue, now_ms);
            }
            now_ms += config.retry_delay_ms;
        }
    }

    #[test]
    fn without_a_retry_delay_a_failed_batch_is_delivered_again_at_once() {
        let config = QueueConfig {
            retry_delay_ms: 0,
            ..CONFIG
        };
        let (queue, dead_at_ms) = dead_lettered(config, 3);
        assert_eq!(
            dead_at_ms, config.max_batch_timeout_ms,
            "all four deliveries at once"
        );
        assert_eq!(queue.dead_letter_count(), 3);
    }

    #[test]
    fn the_dead_letter_consumer_replays_until_the_consumer_accepts() {
        let config = QueueConfig {
            dead_letter_replay: true,
            ..CONFIG
        };
        let (mut queue, dead_at_ms) = dead_lettered(config, 3);
        assert_eq!(queue.deadline_ms(), Some(dead_at_ms), "replayed at once");
        let first = queue.tick_replay(dead_at_ms).expect("a replay");
        assert_eq!(sorted_hits(&first.messages), vec![0, 1, 2]);
        let settled = queue.on_result(
            dead_at_ms,
            first.call_id,
            Err(FailureKind::Timeout),
            0.0,
            &mut rng(),
        );
        let retry_at_ms = dead_at_ms + REPLAY_RETRY_DELAY_MS;
        assert_eq!(settled, Settled::Retrying { retry_at_ms });
        assert_eq!(queue.tick_replay(retry_at_ms - 1), None);
        let again = queue.tick_replay(retry_at_ms).expect("the replay's retry");
        assert_eq!(
            queue.dead_letter_count(),
            3,
            "still dead-lettered until accepted"
        );
        let settled = queue.on_result(retry_at_ms, again.call_id, Ok(()), 0.0, &mut rng());
        assert_eq!(settled, Settled::Replayed { messages: 3 });
        assert_eq!((queue.dead_letter_count(), queue.deadline_ms()), (0, None));
    }

    #[test]
    fn an_acknowledged_batch_is_never_delivered_again_without_duplicates() {
        let mut queue = queue_with(3, 0);
        let delivery = queue.tick(5_000, &mut rng()).expect("timed out");
        let settled = queue.on_result(5_001, delivery.call_id, Ok(()), 0.0, &mut rng());
        assert_eq!(settled, Settled::Acked { duplicated: 0 });
        assert_eq!((queue.waiting(), queue.deadline_ms()), (0, None));
        assert_eq!(queue.tick(3_600_000, &mut rng()), None);
    }

    #[test]
    fn duplicates_go_round_again_through_the_buffer() {
        let mut queue = queue_with(10, 0);
        let delivery = queue.tick(0, &mut rng()).expect("full");
        let settled = queue.on_result(7, delivery.call_id, Ok(()), 1.0, &mut rng());
        assert_eq!(settled, Settled::Acked { duplicated: 10 });
        assert_eq!(queue.deadline_ms(), Some(7), "a full buffer again");
        let again = queue.tick(7, &mut rng()).expect("the duplicates");
        assert_eq!(
            sorted_hits(&again.messages),
            sorted_hits(&delivery.messages)
        );
        assert_eq!(again.redelivered, 0, "duplicates are new deliveries");
    }

    #[test]
    fn the_answer_to_a_delivery_that_is_not_current_is_ignored() {
        let mut queue = queue_with(3, 0);
        let delivery = queue.tick(5_000, &mut rng()).expect("timed out");
        let stale = delivery.call_id + 1;
        assert_eq!(
            queue.on_result(5_001, stale, Err(FailureKind::Error), 0.0, &mut rng()),
            Settled::Ignored
        );
        assert_eq!(queue.deadline_ms(), None, "still in flight");
        queue.on_result(5_002, delivery.call_id, Ok(()), 0.0, &mut rng());
        assert_eq!(
            queue.on_result(
                5_003,
                delivery.call_id,
                Err(FailureKind::Error),
                0.0,
                &mut rng()
            ),
            Settled::Ignored,
            "answered once"
        );
    }
}
