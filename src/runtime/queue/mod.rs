//! `PLATFORM_METRICS_QUEUE` as a sans-IO state machine: `now_ms` and an input in, what to
//! deliver out. The world owns one and carries its deliveries to the consumer Worker.
//!
//! Rules (Cloudflare Queues: the "Batching, retries and delays", "Dead letter queues" and
//! "Limits" pages; docs/model.md, "The queue"):
//! - A producer's send is buffered at once.
//! - A batch leaves when the buffer holds `max_batch_size` messages, or `max_batch_timeout_ms`
//!   after the oldest buffered message arrived; it takes at most `max_batch_size` messages.
//!   Messages left behind count their wait from the moment the batch left.
//! - Up to `consumer_concurrency` batches are with the consumer at once (Cloudflare scales its
//!   consumer up to 250 concurrent invocations; this harness lets a batch start whenever one is
//!   due and a slot is free).
//! - Delivery is unordered: each batch is shuffled with the queue's random stream.
//! - The consumer answers each message: acknowledged (done) or retried. A consumer that throws
//!   (or does not answer within its wall-time limit) retries the whole batch.
//! - Every delivery of a message counts; a retried message is delivered again, through the
//!   buffer like a new send, `retry_delay_ms` later (0: at once), up to `max_retries` times after
//!   its first delivery. Then it goes to the dead-letter queue if one is configured, and is
//!   deleted otherwise (a loss the queue remembers, for the oracle to name).
//! - A message not acknowledged within `retention_ms` of its send is deleted (expired).
//! - An acknowledged message is done, but may be delivered again (at-least-once: the
//!   `queue_duplicate` fault's probability), through the buffer like a new send.
//! - The outcome of a delivery that is not in flight is ignored.
//!
//! The dead-letter queue and its replaying consumer are in [`dead_letter`].

mod dead_letter;
#[cfg(test)]
mod tests;

use crate::ledgers::{CallId, Message};
use crate::planted::{self, Plant};
use dead_letter::DeadLetterQueue;
pub use dead_letter::REPLAY_RETRY_DELAY_MS;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};

/// Cloudflare's limit on a consumer's concurrent invocations (and the default).
pub const MAX_CONSUMER_CONCURRENCY: usize = 250;
/// Cloudflare's default message retention: 4 days, ms.
pub const DEFAULT_RETENTION_MS: u64 = 4 * 24 * 3_600_000;
/// A consumer invocation's wall-time limit, ms (15 minutes): a batch not answered by then is
/// retried whole.
pub const CONSUMER_WALL_LIMIT_MS: u64 = 15 * 60_000;

/// The queue's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Largest batch (Cloudflare's default 10).
    pub max_batch_size: usize,
    /// Longest wait before a partial batch leaves, ms (default 5 000).
    pub max_batch_timeout_ms: u64,
    /// Deliveries of a message after its first (default 3), then the dead-letter queue or
    /// deletion.
    pub max_retries: u32,
    /// Wait before a retried message is delivered again, ms (default 0).
    pub retry_delay_ms: u64,
    /// A dead-letter queue is configured (default: none, exhausted messages are deleted).
    pub dead_letter_queue: bool,
    /// A consumer of the dead-letter queue replays it into the consumer Worker.
    pub dead_letter_replay: bool,
    /// Batches with the consumer at once (default and most: 250).
    pub consumer_concurrency: usize,
    /// How long a message may wait to be acknowledged before it is deleted, ms (default 4 days).
    pub retention_ms: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_batch_size: 10,
            max_batch_timeout_ms: 5_000,
            max_retries: 3,
            retry_delay_ms: 0,
            dead_letter_queue: false,
            dead_letter_replay: false,
            consumer_concurrency: MAX_CONSUMER_CONCURRENCY,
            retention_ms: DEFAULT_RETENTION_MS,
        }
    }
}

/// A batch to hand to the consumer.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Report the consumer's answer with this id.
    pub call_id: CallId,
    /// The batch, in delivery order.
    pub messages: Vec<Message>,
    /// Messages of it delivered before (retried ones).
    pub redelivered: u64,
}

/// The consumer's answer to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `message.ack()`: done.
    Ack,
    /// `message.retry()`: deliver it again (counts toward `max_retries`).
    Retry,
}

/// How a consumer invocation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerAnswer {
    /// It returned, with one verdict per message, in delivery order.
    Settled(Vec<Verdict>),
    /// It threw, or no answer came: the whole batch is retried.
    Failed,
}

/// Why a message left the queue without being acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Removal {
    /// Delivered `max_retries + 1` times without an acknowledgement, and no dead-letter queue.
    Deleted,
    /// Not acknowledged within the retention period.
    Expired,
}

/// What an answer did to the queue (counts of messages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Not a delivery in flight: nothing changed.
    pub ignored: bool,
    /// Acknowledged.
    pub acked: u64,
    /// Retried (delivered again later).
    pub retried: u64,
    /// Put back after an acknowledgement (the `queue_duplicate` fault).
    pub duplicated: u64,
    /// Moved to the dead-letter queue after their last delivery.
    pub dead_lettered: u64,
    /// Deleted after their last delivery (no dead-letter queue).
    pub deleted: u64,
    /// Replayed dead letters the consumer acknowledged (they left the dead-letter queue).
    pub replayed: u64,
}

/// A message in the queue, with its deliveries so far.
#[derive(Clone, Debug)]
struct Queued {
    message: Message,
    /// Deliveries so far (a retry after delivery `max_retries + 1` is the last straw).
    deliveries: u32,
    /// When the producer sent it, ms (retention counts from here).
    sent_ms: u64,
}

/// The queue's state: durable, so it survives a restart of the queue's actor.
#[derive(Clone, Debug)]
pub struct Queue {
    config: QueueConfig,
    /// Messages waiting for a batch, oldest first.
    buffer: VecDeque<Queued>,
    /// When the buffer's batch window opened, ms (its oldest message arrived, or the last batch
    /// left with messages behind).
    window_start_ms: Option<u64>,
    /// Retried messages waiting out the retry delay, by `(due_ms, sequence)`.
    delayed: BTreeMap<(u64, u64), Queued>,
    delayed_seq: u64,
    /// Batches with the consumer, by call id.
    in_flight: BTreeMap<CallId, Vec<Queued>>,
    next_call_id: CallId,
    dead_letters: DeadLetterQueue,
    /// Messages removed without an acknowledgement, and why.
    removed: Vec<(Message, Removal)>,
}

impl Queue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        debug_assert!(
            config.max_batch_size > 0,
            "a batch holds at least one message"
        );
        debug_assert!(config.consumer_concurrency > 0, "a consumer runs");
        Self {
            config,
            buffer: VecDeque::new(),
            window_start_ms: None,
            delayed: BTreeMap::new(),
            delayed_seq: 0,
            in_flight: BTreeMap::new(),
            next_call_id: 0,
            dead_letters: DeadLetterQueue::default(),
            removed: Vec::new(),
        }
    }

    /// Its settings.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// A producer's send at `now_ms`.
    pub fn push(&mut self, now_ms: u64, message: Message) {
        self.enqueue(
            now_ms,
            Queued {
                message,
                deliveries: 0,
                sent_ms: now_ms,
            },
        );
    }

    fn enqueue(&mut self, now_ms: u64, queued: Queued) {
        self.buffer.push_back(queued);
        self.window_start_ms.get_or_insert(now_ms);
    }

    /// When the queue next has something to do, ms: a batch due (at once when the buffer is
    /// full) with a consumer slot free, a delayed retry, the dead-letter consumer's batch.
    pub fn deadline_ms(&self) -> Option<u64> {
        let slot_free = self.in_flight.len() < self.config.consumer_concurrency;
        let batch_ms = self.window_start_ms.filter(|_| slot_free).map(|start_ms| {
            if self.buffer.len() >= self.config.max_batch_size {
                start_ms
            } else {
                start_ms + self.config.max_batch_timeout_ms
            }
        });
        let retry_ms = self.delayed.keys().next().map(|(due_ms, _)| *due_ms);
        [batch_ms, retry_ms, self.dead_letters.deadline_ms()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time passes to `now_ms`: expired messages leave, delayed retries join the buffer, and
    /// the batches due now go to the consumer (`rng` shuffles each).
    pub fn tick(&mut self, now_ms: u64, rng: &mut impl Rng) -> Vec<Delivery> {
        self.expire(now_ms);
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let queued = entry.remove();
            self.enqueue(now_ms, queued);
        }
        let mut deliveries = Vec::new();
        while self.in_flight.len() < self.config.consumer_concurrency {
            let Some(delivery) = self.take_batch(now_ms, rng) else {
                break;
            };
            deliveries.push(delivery);
        }
        deliveries
    }

    /// A new batch from the buffer, if one is due.
    fn take_batch(&mut self, now_ms: u64, rng: &mut impl Rng) -> Option<Delivery> {
        let start_ms = self.window_start_ms?;
        let full = self.buffer.len() >= self.config.max_batch_size;
        if !full && now_ms < start_ms + self.config.max_batch_timeout_ms {
            return None;
        }
        let take = self.buffer.len().min(self.config.max_batch_size);
        let mut batch: Vec<Queued> = self.buffer.drain(..take).collect();
        for position in (1..batch.len()).rev() {
            let other = rng.gen_range(0..=position);
            batch.swap(position, other);
        }
        self.window_start_ms = (!self.buffer.is_empty()).then_some(now_ms);
        let mut redelivered = 0;
        for queued in &mut batch {
            redelivered += u64::from(queued.deliveries > 0);
            queued.deliveries += 1;
        }
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        let messages = batch.iter().map(|queued| queued.message.clone()).collect();
        self.in_flight.insert(call_id, batch);
        Some(Delivery {
            call_id,
            messages,
            redelivered,
        })
    }

    /// Messages past their retention at `now_ms` leave the buffer, the delayed retries and the
    /// dead-letter queue.
    pub fn expire(&mut self, now_ms: u64) {
        let retention_ms = self.config.retention_ms;
        let expired = |queued: &Queued| now_ms >= queued.sent_ms.saturating_add(retention_ms);
        if self.buffer.iter().any(expired) {
            let (gone, kept): (Vec<Queued>, Vec<Queued>) =
                self.buffer.drain(..).partition(|queued| expired(queued));
            self.buffer = kept.into();
            if self.buffer.is_empty() {
                self.window_start_ms = None;
            }
            self.removed.extend(
                gone.into_iter()
                    .map(|queued| (queued.message, Removal::Expired)),
            );
        }
        if self.delayed.values().any(expired) {
            let delayed = std::mem::take(&mut self.delayed);
            for (key, queued) in delayed {
                if expired(&queued) {
                    self.removed.push((queued.message, Removal::Expired));
                } else {
                    self.delayed.insert(key, queued);
                }
            }
        }
        self.dead_letters
            .expire(now_ms, retention_ms, &mut self.removed);
    }

    /// The consumer answered delivery `call_id` at `now_ms`. Each acknowledged message is put
    /// back with probability `duplicate_probability` (drawn from `rng`).
    pub fn on_result(
        &mut self,
        now_ms: u64,
        call_id: CallId,
        answer: ConsumerAnswer,
        duplicate_probability: f64,
        rng: &mut impl Rng,
    ) -> Settlement {
        if dead_letter::is_replay_call(call_id) {
            let replay_answer = answer;
            return self.dead_letters.on_result(now_ms, call_id, replay_answer);
        }
        let Some(batch) = self.in_flight.remove(&call_id) else {
            return Settlement {
                ignored: true,
                ..Settlement::default()
            };
        };
        let verdicts = verdicts_for(&answer, batch.len());
        let mut settlement = Settlement::default();
        for (queued, verdict) in batch.into_iter().zip(verdicts) {
            match verdict {
                Verdict::Ack => {
                    settlement.acked += 1;
                    if duplicate_probability > 0.0 && rng.gen::<f64>() < duplicate_probability {
                        settlement.duplicated += 1;
                        self.push(now_ms, queued.message);
                    }
                }
                Verdict::Retry => self.retry(now_ms, queued, &mut settlement),
            }
        }
        settlement
    }

    /// A message the consumer did not acknowledge: delivered again, or, after its last
    /// delivery, dead-lettered or deleted.
    fn retry(&mut self, now_ms: u64, queued: Queued, settlement: &mut Settlement) {
        if queued.deliveries > self.config.max_retries {
            if self.config.dead_letter_queue {
                settlement.dead_lettered += 1;
                self.dead_letters
                    .push(now_ms, queued.message, self.config.dead_letter_replay);
            } else {
                settlement.deleted += 1;
                self.removed.push((queued.message, Removal::Deleted));
            }
            return;
        }
        settlement.retried += 1;
        if self.config.retry_delay_ms == 0 {
            self.enqueue(now_ms, queued);
        } else {
            let due_ms = now_ms + self.config.retry_delay_ms;
            self.delayed.insert((due_ms, self.delayed_seq), queued);
            self.delayed_seq += 1;
        }
    }

    /// The queue's actor restarted at `now_ms`: the answers to the deliveries it had made can
    /// no longer reach it, so each of them counts as failed (its messages are retried).
    pub fn forget_in_flight(&mut self, now_ms: u64) -> Settlement {
        let mut settlement = Settlement::default();
        for (_, batch) in std::mem::take(&mut self.in_flight) {
            for queued in batch {
                self.retry(now_ms, queued, &mut settlement);
            }
        }
        self.dead_letters.forget_in_flight(now_ms);
        settlement
    }

    /// Time passes to `now_ms`: the dead-letter consumer's batch to deliver now, if any.
    pub fn tick_replay(&mut self, now_ms: u64) -> Option<Delivery> {
        self.dead_letters.tick(now_ms, self.config.max_batch_size)
    }

    /// The dead-letter queue (with replay: what its consumer has not delivered yet).
    pub fn dead_letters(&self) -> impl Iterator<Item = &Message> {
        self.dead_letters.messages()
    }

    /// How many messages the dead-letter queue holds.
    pub fn dead_letter_count(&self) -> usize {
        self.dead_letters.len()
    }

    /// Messages removed without an acknowledgement, and why.
    pub fn removed(&self) -> &[(Message, Removal)] {
        &self.removed
    }

    /// The messages on their way: buffered, waiting out a retry delay, or with the consumer.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.buffer
            .iter()
            .chain(self.delayed.values())
            .chain(self.in_flight.values().flatten())
            .map(|queued| &queued.message)
    }

    /// How many messages are on their way.
    pub fn waiting(&self) -> usize {
        self.buffer.len()
            + self.delayed.len()
            + self.in_flight.values().map(Vec::len).sum::<usize>()
    }

    /// Batches with the consumer now.
    pub fn batches_in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

/// One verdict per message of a batch of `len`: the consumer's, or all `Retry` when it failed.
/// (A short answer retries the messages it does not cover.)
fn verdicts_for(answer: &ConsumerAnswer, len: usize) -> Vec<Verdict> {
    // The planted mistake: a failed consumer run counts as an acknowledgement.
    if planted::active(Plant::QueueAcksFailedBatch) {
        return vec![Verdict::Ack; len];
    }
    match answer {
        ConsumerAnswer::Failed => vec![Verdict::Retry; len],
        ConsumerAnswer::Settled(verdicts) => (0..len)
            .map(|index| verdicts.get(index).copied().unwrap_or(Verdict::Retry))
            .collect(),
    }
}
