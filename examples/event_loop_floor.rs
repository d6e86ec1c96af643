//! The floor under z0sim (issue 16, README "Speed"): a bare discrete-event loop, a binary heap
//! of timed events and nothing else, carrying the round trips a z0sim fleet makes: each of N
//! entities sends two facts a minute (its cache_stats and fact_appended periods) to a receiver
//! over a 1-10 ms link (one receiver per 1,000 entities, as tenant ledgers or SystemLedger
//! shards would be, so none saturates); the receiver serves each in 1 ms and answers over the
//! same link. Three
//! events per fact (the entity's timer, the request's arrival, the answer's arrival), as in
//! z0sim's event count. No actors, no ledgers, no oracle: what no simulator of this traffic
//! can beat.
//!
//! `cargo run --release --example event_loop_floor -- 1000` (entities; 10 simulated minutes)

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What happens at an event's time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Entity `n`'s next fact is due.
    Emit,
    /// Entity `n`'s fact reaches the receiver.
    Arrive,
    /// The receiver's answer reaches entity `n`.
    Answer,
}

const RUN_MS: u64 = 10 * 60_000;
const FACT_GAP_MS: u64 = 30_000;
const SERVICE_MS: u64 = 1;

fn main() {
    let entities: u64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1_000);
    let mut rng = SmallRng::seed_from_u64(1);
    // (time, kind, entity), earliest first.
    let mut heap: BinaryHeap<Reverse<(u64, Kind, u64)>> = BinaryHeap::new();
    for entity in 0..entities {
        heap.push(Reverse((rng.gen_range(0..FACT_GAP_MS), Kind::Emit, entity)));
    }
    let started = Instant::now();
    let mut events = 0u64;
    let receivers = entities.div_ceil(1_000).max(1);
    let mut free_ms = vec![0u64; receivers as usize];
    let mut answered = 0u64;
    while let Some(Reverse((at_ms, kind, entity))) = heap.pop() {
        if at_ms > RUN_MS {
            break;
        }
        events += 1;
        match kind {
            Kind::Emit => {
                let arrive_ms = at_ms + rng.gen_range(1..=10);
                heap.push(Reverse((arrive_ms, Kind::Arrive, entity)));
                heap.push(Reverse((at_ms + FACT_GAP_MS, Kind::Emit, entity)));
            }
            Kind::Arrive => {
                let receiver = &mut free_ms[(entity % receivers) as usize];
                *receiver = (*receiver).max(at_ms) + SERVICE_MS;
                let answer_ms = *receiver + rng.gen_range(1..=10);
                heap.push(Reverse((answer_ms, Kind::Answer, entity)));
            }
            Kind::Answer => answered += 1,
        }
    }
    let wall = started.elapsed();
    println!(
        "floor: {entities} entities, 10 simulated minutes: {events} events, {answered} facts answered, {:.3} s wall, {:.0} ns per event",
        wall.as_secs_f64(),
        wall.as_nanos() as f64 / events.max(1) as f64
    );
}
