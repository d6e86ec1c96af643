//! The network of the `direct` transport (`[network] transport = "direct"`) as a plain state
//! machine: `now_ns` and a message in, scheduled deliveries out. The transport
//! ([`crate::runtime::transport::direct`]) hands each scheduled event to the world at its time;
//! no node, endpoint or task per actor or call.
//!
//! It keeps what the scenario can see of `madsim::net` (the default transport):
//! - each message takes a latency drawn uniformly from the configured range, at nanosecond
//!   resolution like madsim's;
//! - it is lost with the packet-loss rate, and dropped when its link is clogged (a
//!   `partition`);
//! - it is dropped unless the receiver's incarnation that was current when it left runs when it
//!   arrives: a kill, even one followed by a restart, loses what was in flight to the actor, as
//!   madsim's closed socket does;
//! - a reply dies with the receiver that was serving it;
//! - a call's outcome is its reply or, failing that, its timeout; the reply wins a tie.
//!
//! Two differences, both below a millisecond (the unit of every ledger clock): madsim's own 0 to
//! 5 microsecond "processing" sleeps before each send and after each receive are left out, and
//! a message sent while its receiver is down arrives if the receiver is back up by then (madsim
//! drops it at the send): a restart within the latency, or a node not started yet at time 0.
//!
//! On this transport the actors' timers are scheduled here too ([`NetEvent::Timer`]), so one
//! schedule orders everything that happens between two fault actions, and no madsim timer or
//! task wakeup is involved.
//!
//! Its random stream is derived from the run seed (`purpose::NETWORK`), so a run is exactly as
//! reproducible as with madsim's network, and cheaper: a call costs four heap entries instead
//! of about seven timers and a spawned task (README, "Transports").

use crate::ledgers::FailureKind;
use crate::runtime::call::{Body, Call};
use crate::runtime::spec::ActorIdx;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustc_hash::{FxHashMap, FxHashSet};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;

/// What happens at a scheduled time.
#[derive(Debug)]
pub enum NetEvent {
    /// A request reaches its target, if that incarnation still runs.
    Request {
        /// The call it belongs to.
        wire_id: u64,
        /// The caller.
        from: ActorIdx,
        /// The target.
        to: ActorIdx,
        /// The target's incarnation when the request left.
        incarnation: u64,
    },
    /// A receiver's answer leaves it, after its service time and any injected slowness, if
    /// that incarnation still runs.
    ReplyLeaves {
        /// The call it answers.
        wire_id: u64,
        /// The receiver.
        from: ActorIdx,
        /// Its incarnation when it took the request.
        incarnation: u64,
        /// The caller.
        to: ActorIdx,
        /// The answer.
        outcome: Result<(), FailureKind>,
    },
    /// An answer reaches its caller.
    Reply {
        /// The call it answers.
        wire_id: u64,
        /// The answer.
        outcome: Result<(), FailureKind>,
    },
    /// The caller stops waiting.
    Timeout {
        /// The call.
        wire_id: u64,
    },
    /// An actor's timer (on this transport the actors' timers share the network's schedule):
    /// it fires if it is still that incarnation's armed timer.
    Timer {
        /// The actor.
        actor: ActorIdx,
        /// Its incarnation when the timer was armed.
        incarnation: u64,
        /// The time the timer was armed for, ms.
        at_ms: u64,
    },
}

impl NetEvent {
    /// At one instant, deliveries come before timeouts (the reply wins a tie).
    fn rank(&self) -> u8 {
        match self {
            Self::Timeout { .. } => 1,
            _ => 0,
        }
    }
}

/// A scheduled event's place in the schedule: ordered by time, then deliveries before
/// timeouts, then scheduling order (`order` is the rank in its top bit over the sequence
/// number). The event itself waits in a slot of [`DirectNet::events`], so the heap moves
/// 24 bytes per entry instead of the event's 64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Scheduled {
    at_ns: u64,
    order: u64,
    slot: usize,
}

impl Scheduled {
    fn order(rank: u8, seq: u64) -> u64 {
        debug_assert!(rank <= 1 && seq < 1 << 63);
        (u64::from(rank) << 63) | seq
    }
}

/// The timeouts of the calls with one timeout, in the order they fall due: calls start at a
/// clock that never runs backwards, so with one timeout each new deadline is the latest, and a
/// queue holds them in order without a heap. Most timeouts come up after their call settled
/// (they are then ignored): kept out of the heap, they do not make every other event's
/// scheduling dearer. A run has one or two timeouts (`rpc_timeout`, the consumer's limit).
#[derive(Debug)]
struct TimeoutQueue {
    timeout_ns: u64,
    /// `(at_ns, order, wire_id)`, ascending.
    due: VecDeque<(u64, u64, u64)>,
}

/// The network: messages in flight, calls waiting for their outcome, link states.
pub struct DirectNet {
    scheduled: BinaryHeap<Reverse<Scheduled>>,
    /// The calls' timeouts, one queue per timeout (see [`TimeoutQueue`]).
    timeouts: Vec<TimeoutQueue>,
    /// The scheduled events, by slot; a slot is reused once its event is popped.
    events: Vec<Option<NetEvent>>,
    free_slots: Vec<usize>,
    /// The network's clock, ns: the latest time the pump has reached. Never runs backwards.
    clock_ns: u64,
    next_seq: u64,
    rng: SmallRng,
    /// Latency range, ns: `min..max_exclusive`.
    latency_min_ns: u64,
    latency_max_exclusive_ns: u64,
    packet_loss: f64,
    /// Clogged (from, to) links. Lookup only, never iterated.
    clogged: FxHashSet<(ActorIdx, ActorIdx)>,
    /// Calls without an outcome yet, by wire id. Lookup only, never iterated.
    waiting: FxHashMap<u64, Call>,
    /// Bodies of requests in flight, by wire id (kept out of the schedule, whose entries stay
    /// small). Lookup only, never iterated.
    bodies: FxHashMap<u64, Body>,
    next_wire_id: u64,
    messages_sent: u64,
    messages_lost: u64,
}

/// Messages counted by the network (for the tests; the report counts at the ledgers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages that left a sender.
    pub sent: u64,
    /// Of those, dropped: lost, clogged, or no running receiver.
    pub lost: u64,
}

impl DirectNet {
    /// A network with latencies from `latency_min_ms` to `latency_max_ms` (uniform over
    /// `[min, max + 1 ms)`, as the madsim transport configures madsim) and a base loss rate.
    pub fn new(seed: u64, latency_min_ms: u64, latency_max_ms: u64, packet_loss: f64) -> Self {
        let latency_min_ns = latency_min_ms.saturating_mul(NS_PER_MS);
        let latency_max_exclusive_ns = latency_max_ms
            .max(latency_min_ms)
            .saturating_add(1)
            .saturating_mul(NS_PER_MS);
        Self {
            scheduled: BinaryHeap::new(),
            timeouts: Vec::new(),
            events: Vec::new(),
            free_slots: Vec::new(),
            clock_ns: 0,
            next_seq: 0,
            rng: SmallRng::seed_from_u64(seed),
            latency_min_ns,
            latency_max_exclusive_ns,
            packet_loss,
            clogged: FxHashSet::default(),
            waiting: FxHashMap::default(),
            bodies: FxHashMap::default(),
            next_wire_id: 0,
            messages_sent: 0,
            messages_lost: 0,
        }
    }

    /// Sets the loss rate (a `packet_loss` fault and its end).
    pub fn set_packet_loss(&mut self, rate: f64) {
        self.packet_loss = rate;
    }

    /// Clogs or unclogs the link from `from` to `to`.
    pub fn set_clogged(&mut self, from: ActorIdx, to: ActorIdx, clogged: bool) {
        if clogged {
            self.clogged.insert((from, to));
        } else {
            self.clogged.remove(&(from, to));
        }
    }

    /// Schedules actor `actor`'s timer at `at_ms` (now if that has passed).
    pub fn schedule_timer(&mut self, at_ms: u64, actor: ActorIdx, incarnation: u64) {
        let event = NetEvent::Timer {
            actor,
            incarnation,
            at_ms,
        };
        self.schedule(at_ms.saturating_mul(NS_PER_MS), event);
    }

    /// What the network carried so far.
    pub fn stats(&self) -> NetStats {
        NetStats {
            sent: self.messages_sent,
            lost: self.messages_lost,
        }
    }

    /// When the next event is due, ns.
    pub fn next_at_ns(&self) -> Option<u64> {
        self.next_due().map(|(at_ns, _, _)| at_ns)
    }

    /// The next event's `(at_ns, order)` and where it waits: `None` in the heap, `Some(i)`
    /// at the front of timeout queue `i`.
    fn next_due(&self) -> Option<(u64, u64, Option<usize>)> {
        let heap = self
            .scheduled
            .peek()
            .map(|Reverse(next)| (next.at_ns, next.order, None));
        let timeouts = self
            .timeouts
            .iter()
            .enumerate()
            .filter_map(|(index, queue)| {
                let &(at_ns, order, _) = queue.due.front()?;
                Some((at_ns, order, Some(index)))
            });
        heap.into_iter().chain(timeouts).min()
    }

    /// Moves the clock on to `at_ns` (never back) and returns it: an event scheduled for a time
    /// already past (a timer armed late) happens now, as a madsim sleep for a past deadline
    /// ends at once.
    pub fn advance_clock(&mut self, at_ns: u64) -> u64 {
        self.clock_ns = self.clock_ns.max(at_ns);
        self.clock_ns
    }

    /// The next event scheduled before `until_ns`, with its time, if any.
    pub fn pop_next_before(&mut self, until_ns: u64) -> Option<(u64, NetEvent)> {
        let (at_ns, _, queue) = self.next_due()?;
        if at_ns >= until_ns {
            return None;
        }
        if let Some(index) = queue {
            let (at_ns, _, wire_id) = self.timeouts[index].due.pop_front()?;
            return Some((at_ns, NetEvent::Timeout { wire_id }));
        }
        let Reverse(due) = self.scheduled.pop()?;
        self.free_slots.push(due.slot);
        let event = self.events.get_mut(due.slot)?.take()?;
        Some((due.at_ns, event))
    }

    /// Starts `call` at `now_ns`. `target_incarnation` is the target's current incarnation
    /// (running or not: the request is delivered if that incarnation runs when it arrives).
    /// The call's outcome comes back as a [`NetEvent::Reply`] or
    /// [`NetEvent::Timeout`]; [`Self::settle`] hands the call back exactly once.
    pub fn start_call(&mut self, now_ns: u64, mut call: Call, target_incarnation: u64) {
        self.next_wire_id += 1;
        let wire_id = self.next_wire_id;
        let timeout_ns = call.timeout_ms.saturating_mul(NS_PER_MS);
        self.schedule_timeout(now_ns, timeout_ns, wire_id);
        // The body travels; the rest of the call stays to route the outcome.
        let body = std::mem::replace(&mut call.body, Body::travelling());
        let (caller, target) = (call.caller, call.target);
        self.waiting.insert(wire_id, call);
        let Some(to) = target else {
            // No such actor: the stub's call fails at once.
            self.schedule(
                now_ns,
                NetEvent::Reply {
                    wire_id,
                    outcome: Err(FailureKind::Error),
                },
            );
            return;
        };
        let request = NetEvent::Request {
            wire_id,
            from: caller,
            to,
            incarnation: target_incarnation,
        };
        if self.transmit(now_ns, caller, to, request) {
            self.bodies.insert(wire_id, body);
        }
    }

    /// The body of the request of `wire_id`, once it arrived.
    pub fn take_body(&mut self, wire_id: u64) -> Option<Body> {
        self.bodies.remove(&wire_id)
    }

    /// A receiver answers a request at `now_ns`; the answer leaves after `delay_ns`.
    pub fn answer(&mut self, now_ns: u64, delay_ns: u64, leaves: NetEvent) {
        debug_assert!(matches!(leaves, NetEvent::ReplyLeaves { .. }));
        if delay_ns == 0 {
            self.reply_leaves(now_ns, leaves);
        } else {
            self.schedule(now_ns.saturating_add(delay_ns), leaves);
        }
    }

    /// An answer leaves its receiver (still running: the caller checked) now.
    pub fn reply_leaves(&mut self, now_ns: u64, leaves: NetEvent) {
        if let NetEvent::ReplyLeaves {
            wire_id,
            from,
            to,
            outcome,
            ..
        } = leaves
        {
            self.transmit(now_ns, from, to, NetEvent::Reply { wire_id, outcome });
        }
    }

    /// The call behind `wire_id`, the first time its outcome or timeout is settled; `None`
    /// after that (a late reply, or the timeout of an answered call).
    pub fn settle(&mut self, wire_id: u64) -> Option<Call> {
        self.waiting.remove(&wire_id)
    }

    /// Counts a message dropped because its receiver is not running.
    pub fn count_dropped_at_receiver(&mut self) {
        self.messages_lost += 1;
    }

    /// Sends `event` over the link; false if it was lost on the way.
    fn transmit(&mut self, now_ns: u64, from: ActorIdx, to: ActorIdx, event: NetEvent) -> bool {
        self.messages_sent += 1;
        // The same order of checks and draws as madsim's `test_link`.
        if self.clogged.contains(&(from, to))
            || (self.packet_loss > 0.0 && self.rng.gen_bool(self.packet_loss.min(1.0)))
        {
            self.messages_lost += 1;
            return false;
        }
        let latency_ns = if self.latency_max_exclusive_ns > self.latency_min_ns {
            self.rng
                .gen_range(self.latency_min_ns..self.latency_max_exclusive_ns)
        } else {
            self.latency_min_ns
        };
        self.schedule(now_ns.saturating_add(latency_ns), event);
        true
    }

    /// Schedules the timeout of call `wire_id`, started at `now_ns`, in its timeout's queue
    /// (in the heap, should its deadline ever come before the queue's last).
    fn schedule_timeout(&mut self, now_ns: u64, timeout_ns: u64, wire_id: u64) {
        let at_ns = now_ns.saturating_add(timeout_ns);
        let index = match self
            .timeouts
            .iter()
            .position(|queue| queue.timeout_ns == timeout_ns)
        {
            Some(index) => index,
            None => {
                self.timeouts.push(TimeoutQueue {
                    timeout_ns,
                    due: VecDeque::new(),
                });
                self.timeouts.len() - 1
            }
        };
        let queue = &mut self.timeouts[index];
        if queue
            .due
            .back()
            .is_some_and(|&(last_ns, _, _)| last_ns > at_ns)
        {
            self.schedule(at_ns, NetEvent::Timeout { wire_id });
            return;
        }
        self.next_seq += 1;
        let order = Scheduled::order(NetEvent::Timeout { wire_id }.rank(), self.next_seq);
        queue.due.push_back((at_ns, order, wire_id));
    }

    fn schedule(&mut self, at_ns: u64, event: NetEvent) {
        self.next_seq += 1;
        let order = Scheduled::order(event.rank(), self.next_seq);
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.events[slot] = Some(event);
                slot
            }
            None => {
                self.events.push(Some(event));
                self.events.len() - 1
            }
        };
        self.scheduled
            .push(Reverse(Scheduled { at_ns, order, slot }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ActorId;

    const TIMEOUT_MS: u64 = 5_000;

    fn call(caller: ActorIdx, target: Option<ActorIdx>) -> Call {
        Call {
            caller,
            incarnation: 0,
            target,
            target_id: ActorId::new("target"),
            call_id: 1,
            body: Body::travelling(),
            key: None,
            timeout_ms: TIMEOUT_MS,
            hostile: None,
        }
    }

    /// Every event scheduled, with its time, in order.
    fn drain(net: &mut DirectNet) -> Vec<(u64, NetEvent)> {
        std::iter::from_fn(|| net.pop_next_before(u64::MAX)).collect()
    }

    /// The next event due at or before `now_ns`, if any.
    fn pop_due(net: &mut DirectNet, now_ns: u64) -> Option<NetEvent> {
        net.pop_next_before(now_ns + 1).map(|(_, event)| event)
    }

    #[test]
    fn a_request_arrives_within_the_latency_range_then_the_timeout_fires() {
        let mut net = DirectNet::new(1, 1, 10, 0.0);
        net.start_call(0, call(0, Some(1)), 0);
        let events = drain(&mut net);
        assert_eq!(events.len(), 2, "{events:?}");
        let (arrival_ns, NetEvent::Request { to: 1, from: 0, .. }) = &events[0] else {
            panic!("first a request, got {events:?}");
        };
        assert!((NS_PER_MS..11 * NS_PER_MS).contains(arrival_ns));
        assert!(
            matches!(events[1], (at, NetEvent::Timeout { .. }) if at == TIMEOUT_MS * NS_PER_MS)
        );
    }

    #[test]
    fn latencies_cover_the_whole_range_and_nothing_outside_it() {
        let mut net = DirectNet::new(7, 2, 4, 0.0);
        let (mut lowest, mut highest) = (u64::MAX, 0);
        for _ in 0..2_000 {
            net.start_call(0, call(0, Some(1)), 0);
        }
        for (at_ns, event) in drain(&mut net) {
            if let NetEvent::Request { .. } = event {
                lowest = lowest.min(at_ns);
                highest = highest.max(at_ns);
            }
        }
        assert!((2 * NS_PER_MS..2 * NS_PER_MS + NS_PER_MS / 10).contains(&lowest));
        assert!((5 * NS_PER_MS - NS_PER_MS / 10..5 * NS_PER_MS).contains(&highest));
    }

    #[test]
    fn a_clogged_link_drops_in_its_direction_only_until_unclogged() {
        let mut net = DirectNet::new(1, 1, 1, 0.0);
        net.set_clogged(0, 1, true);
        net.start_call(0, call(0, Some(1)), 0);
        net.start_call(0, call(1, Some(0)), 0);
        let requests: Vec<ActorIdx> = drain(&mut net)
            .into_iter()
            .filter_map(|(_, event)| match event {
                NetEvent::Request { to, .. } => Some(to),
                _ => None,
            })
            .collect();
        assert_eq!(requests, vec![0]);
        assert_eq!(net.stats(), NetStats { sent: 2, lost: 1 });
        net.set_clogged(0, 1, false);
        net.start_call(0, call(0, Some(1)), 0);
        assert!(drain(&mut net)
            .iter()
            .any(|(_, event)| matches!(event, NetEvent::Request { to: 1, .. })));
    }

    #[test]
    fn packet_loss_drops_about_its_rate() {
        let mut net = DirectNet::new(3, 1, 1, 0.25);
        for _ in 0..4_000 {
            net.start_call(0, call(0, Some(1)), 0);
        }
        let stats = net.stats();
        assert_eq!(stats.sent, 4_000);
        assert!((800..1_200).contains(&stats.lost), "{stats:?}");
        net.set_packet_loss(0.0);
        net.start_call(0, call(0, Some(1)), 0);
        assert_eq!(net.stats().lost, stats.lost);
    }

    #[test]
    fn a_reply_wins_a_tie_with_the_timeout_and_the_call_settles_once() {
        let mut net = DirectNet::new(1, 1, 1, 0.0);
        net.start_call(0, call(0, Some(1)), 0);
        let request_at_ns = net.next_at_ns().expect("the request");
        let Some(NetEvent::Request { wire_id, .. }) = pop_due(&mut net, request_at_ns) else {
            panic!("the request");
        };
        // A reply arriving at the very nanosecond of the timeout (scheduled after it).
        let timeout_at_ns = TIMEOUT_MS * NS_PER_MS;
        net.schedule(
            timeout_at_ns,
            NetEvent::Reply {
                wire_id,
                outcome: Ok(()),
            },
        );
        let events = drain(&mut net);
        let [(reply_ns, reply), (timeout_ns, timeout)] = &events[..] else {
            panic!("a reply and a timeout: {events:?}");
        };
        assert!(
            matches!(
                reply,
                NetEvent::Reply {
                    outcome: Ok(()),
                    ..
                }
            ),
            "{events:?}"
        );
        assert!(matches!(timeout, NetEvent::Timeout { .. }), "{events:?}");
        assert_eq!((*reply_ns, *timeout_ns), (timeout_at_ns, timeout_at_ns));
        assert!(net.settle(wire_id).is_some());
        assert!(
            net.settle(wire_id).is_none(),
            "the timeout finds it settled"
        );
    }

    #[test]
    fn an_answer_leaves_after_its_delay_then_travels() {
        let mut net = DirectNet::new(1, 1, 1, 0.0);
        let leaves = NetEvent::ReplyLeaves {
            wire_id: 9,
            from: 1,
            incarnation: 0,
            to: 0,
            outcome: Ok(()),
        };
        net.answer(0, 3 * NS_PER_MS, leaves);
        assert_eq!(net.next_at_ns(), Some(3 * NS_PER_MS));
        let leaves = pop_due(&mut net, 3 * NS_PER_MS).expect("leaves");
        net.reply_leaves(3 * NS_PER_MS, leaves);
        let arrival_ns = net.next_at_ns().expect("travels");
        assert!((4 * NS_PER_MS..5 * NS_PER_MS).contains(&arrival_ns));
        assert!(
            pop_due(&mut net, arrival_ns - 1).is_none(),
            "not before it arrives"
        );
        assert!(matches!(
            pop_due(&mut net, arrival_ns),
            Some(NetEvent::Reply { wire_id: 9, .. })
        ));
    }

    #[test]
    fn a_call_to_no_actor_fails_at_once() {
        let mut net = DirectNet::new(1, 1, 10, 0.0);
        net.start_call(42, call(0, None), 0);
        assert!(matches!(
            pop_due(&mut net, 42),
            Some(NetEvent::Reply {
                outcome: Err(FailureKind::Error),
                ..
            })
        ));
    }

    #[test]
    fn timers_come_up_at_their_millisecond_in_order_with_the_network() {
        let mut net = DirectNet::new(1, 1, 1, 0.0);
        net.schedule_timer(3, 7, 2);
        net.start_call(0, call(0, Some(1)), 0);
        net.schedule_timer(1, 8, 0);
        let events = drain(&mut net);
        let timers: Vec<(u64, ActorIdx, u64, u64)> = events
            .iter()
            .filter_map(|(at_ns, event)| match event {
                NetEvent::Timer {
                    actor,
                    incarnation,
                    at_ms,
                } => Some((*at_ns, *actor, *incarnation, *at_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(
            timers,
            vec![(NS_PER_MS, 8, 0, 1), (3 * NS_PER_MS, 7, 2, 3)],
            "{events:?}"
        );
        // The request (1 to 2 ms) comes between them (its timeout last, from its own queue);
        // the slots of popped events are reused.
        assert!(
            matches!(events[1].1, NetEvent::Request { .. }),
            "{events:?}"
        );
        net.schedule_timer(0, 9, 0);
        assert_eq!(net.events.len(), 3);
        assert!(matches!(
            pop_due(&mut net, 0),
            Some(NetEvent::Timer { actor: 9, .. })
        ));
    }

    #[test]
    fn the_clock_never_runs_backwards() {
        let mut net = DirectNet::new(1, 1, 1, 0.0);
        assert_eq!(net.advance_clock(5 * NS_PER_MS), 5 * NS_PER_MS);
        // A timer armed for a time already past comes up at the clock.
        net.schedule_timer(2, 0, 0);
        let at_ns = net.next_at_ns().expect("scheduled");
        assert_eq!(at_ns, 2 * NS_PER_MS);
        assert_eq!(net.advance_clock(at_ns), 5 * NS_PER_MS);
        assert_eq!(net.advance_clock(7 * NS_PER_MS), 7 * NS_PER_MS);
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let schedule = |seed| {
            let mut net = DirectNet::new(seed, 1, 10, 0.1);
            for caller in 0..100 {
                net.start_call(caller as u64, call(caller, Some(1)), 0);
            }
            drain(&mut net)
                .into_iter()
                .map(|(at_ns, event)| format!("{at_ns} {event:?}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(schedule(5), schedule(5));
        assert_ne!(schedule(5), schedule(6));
    }

    #[test]
    fn timeouts_of_different_lengths_and_out_of_order_deadlines_come_up_in_time_order() {
        let mut net = DirectNet::new(1, 1, 1, 0.0);
        let timed = |timeout_ms| Call {
            timeout_ms,
            ..call(0, None)
        };
        // Two lengths (two queues), and a call started "earlier" than the one before it (a
        // deadline before its queue's last: it waits in the heap instead).
        net.start_call(10 * NS_PER_MS, timed(5), 0);
        net.start_call(10 * NS_PER_MS, timed(2), 0);
        net.start_call(4 * NS_PER_MS, timed(5), 0);
        net.start_call(11 * NS_PER_MS, timed(5), 0);
        net.schedule_timer(13, 3, 0);
        let timeline: Vec<(u64, &str)> = drain(&mut net)
            .into_iter()
            .map(|(at_ns, event)| {
                let what = match event {
                    NetEvent::Timeout { .. } => "timeout",
                    NetEvent::Timer { .. } => "timer",
                    _ => "reply",
                };
                (at_ns / NS_PER_MS, what)
            })
            .filter(|(_, what)| *what != "reply")
            .collect();
        assert_eq!(
            timeline,
            vec![
                (9, "timeout"),
                (12, "timeout"),
                (13, "timer"),
                (15, "timeout"),
                (16, "timeout"),
            ]
        );
    }
}
