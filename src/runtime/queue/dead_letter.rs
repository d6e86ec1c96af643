//! The dead-letter queue and, with `dead_letter_replay`, its consumer: a second consumer that
//! delivers dead letters to the consumer Worker again, one batch at a time, and retries what the
//! Worker did not acknowledge every [`REPLAY_RETRY_DELAY_MS`], with no limit. Acknowledged
//! dead letters leave the dead-letter queue; the rest stay. Dead letters expire like any
//! message (retention counts from their move to the dead-letter queue, a send to it).

use super::{ConsumerAnswer, Delivery, Removal, Settlement, Verdict};
use crate::ledgers::{CallId, Message};
use std::collections::VecDeque;

/// The dead-letter queue's consumer retries a batch this long after a failed delivery, ms.
pub const REPLAY_RETRY_DELAY_MS: u64 = 30_000;

/// Call ids of the dead-letter consumer's deliveries start here (the main queue's count up
/// from 0), so an answer says which lane it belongs to.
const REPLAY_CALL_ID_BASE: CallId = 1 << 62;

/// Whether `call_id` is a delivery of the dead-letter consumer.
pub(super) fn is_replay_call(call_id: CallId) -> bool {
    call_id >= REPLAY_CALL_ID_BASE
}

/// The replaying consumer's current batch: the first `len` dead letters.
#[derive(Clone, Debug)]
struct ReplayBatch {
    len: usize,
    in_flight: Option<CallId>,
    due_ms: u64,
}

/// The dead-letter queue, oldest first, and its replaying consumer's batch.
#[derive(Clone, Debug)]
pub(super) struct DeadLetterQueue {
    /// `(message, moved_ms)`.
    letters: VecDeque<(Message, u64)>,
    replay: Option<ReplayBatch>,
    replays: bool,
    next_call_id: CallId,
}

impl Default for DeadLetterQueue {
    fn default() -> Self {
        Self {
            letters: VecDeque::new(),
            replay: None,
            replays: false,
            next_call_id: REPLAY_CALL_ID_BASE,
        }
    }
}

impl DeadLetterQueue {
    /// A message moved here at `now_ms`; `replays`: a consumer replays the queue.
    pub fn push(&mut self, now_ms: u64, message: Message, replays: bool) {
        self.letters.push_back((message, now_ms));
        self.replays = replays;
        self.start_replay(now_ms);
    }

    /// The replaying consumer's next batch, due at `now_ms`, if it has none.
    fn start_replay(&mut self, now_ms: u64) {
        if !self.replays || self.replay.is_some() || self.letters.is_empty() {
            return;
        }
        self.replay = Some(ReplayBatch {
            len: 0,
            in_flight: None,
            due_ms: now_ms,
        });
    }

    /// When the replaying consumer delivers next, ms.
    pub fn deadline_ms(&self) -> Option<u64> {
        self.replay
            .as_ref()
            .and_then(|batch| batch.in_flight.is_none().then_some(batch.due_ms))
    }

    /// Time passes to `now_ms`: the replay batch due now (at most `max_batch_size` letters).
    pub fn tick(&mut self, now_ms: u64, max_batch_size: usize) -> Option<Delivery> {
        let batch = self.replay.as_mut()?;
        if batch.in_flight.is_some() || now_ms < batch.due_ms {
            return None;
        }
        batch.len = self.letters.len().min(max_batch_size);
        if batch.len == 0 {
            self.replay = None;
            return None;
        }
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        batch.in_flight = Some(call_id);
        let messages: Vec<Message> = self
            .letters
            .iter()
            .take(batch.len)
            .map(|(message, _)| message.clone())
            .collect();
        Some(Delivery {
            call_id,
            redelivered: messages.len() as u64,
            messages,
        })
    }

    /// The Worker answered replay delivery `call_id` at `now_ms`.
    pub fn on_result(
        &mut self,
        now_ms: u64,
        call_id: CallId,
        answer: ConsumerAnswer,
    ) -> Settlement {
        let Some(batch) = self
            .replay
            .as_mut()
            .filter(|batch| batch.in_flight == Some(call_id))
        else {
            return Settlement {
                ignored: true,
                ..Settlement::default()
            };
        };
        batch.in_flight = None;
        let len = batch.len;
        let verdicts = super::verdicts_for(&answer, len);
        let replayed: Vec<bool> = verdicts
            .iter()
            .map(|verdict| *verdict == Verdict::Ack)
            .collect();
        let mut index = 0;
        self.letters.retain(|_| {
            let keep = index >= len || !replayed[index];
            index += 1;
            keep
        });
        let acked = replayed.iter().filter(|acked| **acked).count();
        let settlement = Settlement {
            replayed: acked as u64,
            ..Settlement::default()
        };
        if acked < len {
            if let Some(batch) = self.replay.as_mut() {
                batch.due_ms = now_ms + REPLAY_RETRY_DELAY_MS;
            }
            return settlement;
        }
        self.replay = None;
        self.start_replay(now_ms);
        settlement
    }

    /// The replay delivered before a restart of the queue's actor is retried at once.
    pub fn forget_in_flight(&mut self, now_ms: u64) {
        if let Some(batch) = self
            .replay
            .as_mut()
            .filter(|batch| batch.in_flight.is_some())
        {
            batch.in_flight = None;
            batch.due_ms = now_ms;
        }
    }

    /// Dead letters past their retention leave (not those being replayed now).
    pub fn expire(
        &mut self,
        now_ms: u64,
        retention_ms: u64,
        removed: &mut Vec<(Message, Removal)>,
    ) {
        let protected = self
            .replay
            .as_ref()
            .filter(|batch| batch.in_flight.is_some())
            .map_or(0, |batch| batch.len);
        let expired =
            |(_, moved_ms): &(Message, u64)| now_ms >= moved_ms.saturating_add(retention_ms);
        if !self.letters.iter().skip(protected).any(expired) {
            return;
        }
        let letters = std::mem::take(&mut self.letters);
        for (index, letter) in letters.into_iter().enumerate() {
            if index >= protected && expired(&letter) {
                removed.push((letter.0, Removal::Expired));
            } else {
                self.letters.push_back(letter);
            }
        }
    }

    /// The dead letters, oldest first.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.letters.iter().map(|(message, _)| message)
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.letters.len()
    }
}
