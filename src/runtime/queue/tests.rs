//! One test per rule of the queue (see the module documentation).

use super::*;
use crate::model::TenantStatsPayload;
use rand::rngs::SmallRng;
use rand::SeedableRng;

const CONFIG: QueueConfig = QueueConfig {
    max_batch_size: 10,
    max_batch_timeout_ms: 5_000,
    max_retries: 3,
    retry_delay_ms: 5_000,
    dead_letter_queue: false,
    dead_letter_replay: false,
    consumer_concurrency: 2,
    retention_ms: DEFAULT_RETENTION_MS,
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

fn queue_with(config: QueueConfig, messages: u64, at_ms: u64) -> Queue {
    let mut queue = Queue::new(config);
    for number in 0..messages {
        queue.push(at_ms, payload(number));
    }
    queue
}

fn hits(message: &Message) -> u64 {
    match message {
        Message::TenantStats(payload) => payload.cache_hits,
        other => panic!("not a payload: {other:?}"),
    }
}

fn sorted_hits<'a>(messages: impl IntoIterator<Item = &'a Message>) -> Vec<u64> {
    let mut hits: Vec<u64> = messages.into_iter().map(hits).collect();
    hits.sort_unstable();
    hits
}

/// The one batch due at `now_ms`.
fn one(queue: &mut Queue, now_ms: u64) -> Delivery {
    let mut deliveries = queue.tick(now_ms, &mut rng());
    assert_eq!(deliveries.len(), 1, "one batch due at {now_ms} ms");
    deliveries.remove(0)
}

/// The next batch the queue delivers, and when: ticks at each of its deadlines until one
/// leaves.
fn next_delivery(queue: &mut Queue) -> (Delivery, u64) {
    loop {
        let at_ms = queue.deadline_ms().expect("something is due");
        let mut deliveries = queue.tick(at_ms, &mut rng());
        if !deliveries.is_empty() {
            assert_eq!(deliveries.len(), 1, "one batch due at {at_ms} ms");
            return (deliveries.remove(0), at_ms);
        }
    }
}

fn answer(
    queue: &mut Queue,
    now_ms: u64,
    delivery: &Delivery,
    answer: ConsumerAnswer,
) -> Settlement {
    queue.on_result(now_ms, delivery.call_id, answer, 0.0, &mut rng())
}

/// Verdicts for `delivery`: acknowledge the messages whose hits `acked` says.
fn acking(delivery: &Delivery, acked: impl Fn(u64) -> bool) -> ConsumerAnswer {
    ConsumerAnswer::Settled(
        delivery
            .messages
            .iter()
            .map(|message| {
                if acked(hits(message)) {
                    Verdict::Ack
                } else {
                    Verdict::Retry
                }
            })
            .collect(),
    )
}

#[test]
fn a_partial_batch_waits_for_the_batch_timeout_after_its_oldest_message() {
    let mut queue = queue_with(CONFIG, 3, 1_000);
    assert_eq!(queue.deadline_ms(), Some(6_000));
    assert!(queue.tick(5_999, &mut rng()).is_empty());
    let delivery = one(&mut queue, 6_000);
    assert_eq!(sorted_hits(&delivery.messages), vec![0, 1, 2]);
    assert_eq!(delivery.redelivered, 0);
}

#[test]
fn a_full_buffer_leaves_at_once_and_a_batch_takes_at_most_the_batch_size() {
    let mut queue = queue_with(CONFIG, 13, 1_000);
    assert_eq!(queue.deadline_ms(), Some(1_000), "full: due at once");
    let delivery = one(&mut queue, 1_000);
    assert_eq!(delivery.messages.len(), CONFIG.max_batch_size);
    assert_eq!(queue.waiting(), 13, "in flight or buffered");
}

#[test]
fn messages_left_behind_wait_from_the_moment_the_batch_left() {
    let mut queue = queue_with(CONFIG, 13, 1_000);
    let _ = one(&mut queue, 2_000);
    assert_eq!(
        queue.deadline_ms(),
        Some(7_000),
        "3 left, window opened at 2 000 ms"
    );
}

#[test]
fn up_to_consumer_concurrency_batches_are_with_the_consumer_at_once() {
    let mut queue = queue_with(CONFIG, 35, 0);
    let first = queue.tick(0, &mut rng());
    assert_eq!(
        first.len(),
        CONFIG.consumer_concurrency,
        "two slots, two full batches"
    );
    assert_eq!(queue.batches_in_flight(), 2);
    assert_eq!(queue.deadline_ms(), None, "no slot free");
    assert!(queue.tick(60_000, &mut rng()).is_empty());
    answer(
        &mut queue,
        10,
        &first[0],
        ConsumerAnswer::Settled(vec![Verdict::Ack; 10]),
    );
    assert_eq!(
        queue.deadline_ms(),
        Some(0),
        "a slot is free and a full batch waits"
    );
    let third = one(&mut queue, 10);
    assert!(first
        .iter()
        .all(|delivery| delivery.call_id != third.call_id));
}

#[test]
fn batches_are_shuffled_with_the_queue_stream() {
    let orders: Vec<Vec<Message>> = (0..20)
        .map(|seed| {
            let mut queue = queue_with(CONFIG, 10, 0);
            let mut rng = SmallRng::seed_from_u64(seed);
            queue.tick(0, &mut rng).remove(0).messages
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
fn acknowledged_messages_are_done_and_retried_ones_come_back_alone() {
    let mut queue = queue_with(CONFIG, 4, 0);
    let first = one(&mut queue, 5_000);
    let settled = answer(
        &mut queue,
        5_100,
        &first,
        acking(&first, |hits| hits % 2 == 0),
    );
    assert_eq!((settled.acked, settled.retried), (2, 2));
    assert_eq!(queue.deadline_ms(), Some(10_100), "the retry delay");
    let (again, at_ms) = next_delivery(&mut queue);
    assert_eq!(at_ms, 15_100, "then the batch timeout, as for a new send");
    assert_eq!(
        sorted_hits(&again.messages),
        vec![1, 3],
        "only the retried messages"
    );
    assert_eq!(again.redelivered, 2);
}

#[test]
fn a_failed_invocation_retries_the_whole_batch_after_the_retry_delay() {
    let mut queue = queue_with(CONFIG, 4, 0);
    let first = one(&mut queue, 5_000);
    let settled = answer(&mut queue, 5_100, &first, ConsumerAnswer::Failed);
    assert_eq!(settled.retried, 4);
    assert!(queue.tick(10_099, &mut rng()).is_empty());
    let (again, at_ms) = next_delivery(&mut queue);
    assert_eq!(at_ms, 15_100, "the retry delay, then the batch timeout");
    assert_eq!(sorted_hits(&again.messages), sorted_hits(&first.messages));
}

#[test]
fn without_a_retry_delay_a_retried_message_rejoins_the_buffer_at_once() {
    let config = QueueConfig {
        retry_delay_ms: 0,
        ..CONFIG
    };
    let mut queue = queue_with(config, 3, 0);
    let first = one(&mut queue, 5_000);
    answer(&mut queue, 5_100, &first, ConsumerAnswer::Failed);
    assert_eq!(
        queue.deadline_ms(),
        Some(10_100),
        "a partial batch again: the batch timeout from its return"
    );
}

#[test]
fn explicit_retries_count_and_the_last_one_deletes_without_a_dead_letter_queue() {
    let mut queue = queue_with(CONFIG, 2, 0);
    for delivery_number in 1..=CONFIG.max_retries + 1 {
        let (delivery, now_ms) = next_delivery(&mut queue);
        let settled = answer(&mut queue, now_ms, &delivery, acking(&delivery, |_| false));
        if delivery_number <= CONFIG.max_retries {
            assert_eq!(settled.retried, 2, "delivery {delivery_number}");
        } else {
            assert_eq!((settled.deleted, settled.dead_lettered), (2, 0));
        }
    }
    assert_eq!(queue.waiting(), 0);
    assert_eq!(queue.dead_letter_count(), 0);
    let removed: Vec<Removal> = queue.removed().iter().map(|(_, why)| *why).collect();
    assert_eq!(removed, vec![Removal::Deleted; 2]);
    assert!(queue.tick(3_600_000, &mut rng()).is_empty());
}

/// Fails every delivery of a new queue's first batch of `messages` until it leaves the main
/// queue; returns the queue and the time it happened.
fn exhausted(config: QueueConfig, messages: u64) -> (Queue, u64) {
    let mut queue = queue_with(config, messages, 0);
    loop {
        let (delivery, now_ms) = next_delivery(&mut queue);
        let settled = answer(&mut queue, now_ms, &delivery, ConsumerAnswer::Failed);
        if settled.retried == 0 {
            return (queue, now_ms);
        }
    }
}

#[test]
fn with_a_dead_letter_queue_exhausted_messages_are_dead_lettered_not_deleted() {
    let config = QueueConfig {
        dead_letter_queue: true,
        ..CONFIG
    };
    let (mut queue, dead_at_ms) = exhausted(config, 2);
    assert_eq!(queue.dead_letter_count(), 2);
    assert!(queue.removed().is_empty());
    assert_eq!(
        queue.tick_replay(dead_at_ms + 3_600_000),
        None,
        "no replay unless configured"
    );
    assert_eq!((queue.waiting(), queue.deadline_ms()), (0, None));
}

#[test]
fn the_default_four_deliveries_take_three_batch_timeouts_without_a_retry_delay() {
    let config = QueueConfig {
        retry_delay_ms: 0,
        ..CONFIG
    };
    let (queue, gone_at_ms) = exhausted(config, 3);
    assert_eq!(gone_at_ms, 4 * config.max_batch_timeout_ms);
    assert_eq!(queue.removed().len(), 3);
}

#[test]
fn a_message_not_acknowledged_within_its_retention_expires() {
    let config = QueueConfig {
        retention_ms: 60_000,
        retry_delay_ms: 50_000,
        ..CONFIG
    };
    let mut queue = queue_with(config, 1, 0);
    let first = one(&mut queue, 5_000);
    answer(&mut queue, 5_100, &first, ConsumerAnswer::Failed);
    assert_eq!(queue.deadline_ms(), Some(55_100), "the retry delay");
    assert!(
        queue.tick(55_100, &mut rng()).is_empty(),
        "then the batch timeout"
    );
    assert!(
        queue.tick(60_000, &mut rng()).is_empty(),
        "expired at 60 000 ms, unsent"
    );
    assert_eq!(queue.removed().len(), 1);
    assert_eq!(queue.removed()[0].1, Removal::Expired);
    assert_eq!(queue.waiting(), 0);
}

#[test]
fn the_dead_letter_consumer_replays_until_the_worker_acknowledges() {
    let config = QueueConfig {
        dead_letter_queue: true,
        dead_letter_replay: true,
        ..CONFIG
    };
    let (mut queue, dead_at_ms) = exhausted(config, 3);
    assert_eq!(queue.deadline_ms(), Some(dead_at_ms), "replayed at once");
    let first = queue.tick_replay(dead_at_ms).expect("a replay");
    assert_eq!(sorted_hits(&first.messages), vec![0, 1, 2]);
    let settled = answer(
        &mut queue,
        dead_at_ms,
        &first,
        acking(&first, |hits| hits == 1),
    );
    assert_eq!(settled.replayed, 1);
    assert_eq!(queue.dead_letter_count(), 2, "the unacknowledged stay");
    let retry_at_ms = dead_at_ms + REPLAY_RETRY_DELAY_MS;
    assert_eq!(queue.tick_replay(retry_at_ms - 1), None);
    let again = queue.tick_replay(retry_at_ms).expect("the replay's retry");
    assert_eq!(sorted_hits(&again.messages), vec![0, 2]);
    let settled = answer(
        &mut queue,
        retry_at_ms,
        &again,
        ConsumerAnswer::Settled(vec![Verdict::Ack; 2]),
    );
    assert_eq!(settled.replayed, 2);
    assert_eq!((queue.dead_letter_count(), queue.deadline_ms()), (0, None));
}

#[test]
fn an_acknowledged_batch_is_never_delivered_again_without_duplicates() {
    let mut queue = queue_with(CONFIG, 3, 0);
    let delivery = one(&mut queue, 5_000);
    let settled = answer(
        &mut queue,
        5_001,
        &delivery,
        ConsumerAnswer::Settled(vec![Verdict::Ack; 3]),
    );
    assert_eq!((settled.acked, settled.duplicated), (3, 0));
    assert_eq!((queue.waiting(), queue.deadline_ms()), (0, None));
    assert!(queue.tick(3_600_000, &mut rng()).is_empty());
}

#[test]
fn duplicates_go_round_again_through_the_buffer() {
    let mut queue = queue_with(CONFIG, 10, 0);
    let delivery = one(&mut queue, 0);
    let acks = ConsumerAnswer::Settled(vec![Verdict::Ack; 10]);
    let settled = queue.on_result(7, delivery.call_id, acks, 1.0, &mut rng());
    assert_eq!(settled.duplicated, 10);
    assert_eq!(queue.deadline_ms(), Some(7), "a full buffer again");
    let again = one(&mut queue, 7);
    assert_eq!(
        sorted_hits(&again.messages),
        sorted_hits(&delivery.messages)
    );
    assert_eq!(again.redelivered, 0, "duplicates are new deliveries");
}

#[test]
fn a_short_answer_retries_the_messages_it_does_not_cover() {
    let mut queue = queue_with(CONFIG, 3, 0);
    let delivery = one(&mut queue, 5_000);
    let settled = answer(
        &mut queue,
        5_001,
        &delivery,
        ConsumerAnswer::Settled(vec![Verdict::Ack]),
    );
    assert_eq!((settled.acked, settled.retried), (1, 2));
}

#[test]
fn the_answer_to_a_delivery_that_is_not_in_flight_is_ignored() {
    let mut queue = queue_with(CONFIG, 3, 0);
    let delivery = one(&mut queue, 5_000);
    let stale = Delivery {
        call_id: delivery.call_id + 1,
        ..delivery.clone()
    };
    assert!(answer(&mut queue, 5_001, &stale, ConsumerAnswer::Failed).ignored);
    assert_eq!(queue.deadline_ms(), None, "still in flight");
    answer(
        &mut queue,
        5_002,
        &delivery,
        ConsumerAnswer::Settled(vec![Verdict::Ack; 3]),
    );
    assert!(
        answer(&mut queue, 5_003, &delivery, ConsumerAnswer::Failed).ignored,
        "answered once"
    );
}
