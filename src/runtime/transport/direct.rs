//! The `direct` transport: the actors live in the world alone, and one schedule, the network's
//! ([`super::net::DirectNet`]), holds their messages and their timers. The supervisor runs it up
//! to each of its actions and to the end of the run ([`DirectTransport::run_until`]), so
//! between two actions no madsim timer or task is involved at all (README, "Transports").
//!
//! What the transport owns: the network, and per actor the timer armed in the schedule. A
//! scheduled timer fires only while it is its actor's armed one, so a timer that moved needs
//! no removal; a kill forgets the armed timer.

use super::net::{DirectNet, NetEvent, NS_PER_MS};
use crate::ledgers::{DeliveryOutcome, FailureKind};
use crate::runtime::call::{Call, ReplyToken, Step};
use crate::runtime::seed::{derive_seed, purpose};
use crate::runtime::spec::{ActorIdx, WorldSpec};
use crate::runtime::world::World;
use std::collections::BTreeMap;

/// Where a deferred answer goes: the call, the receiver, its incarnation, the caller.
#[derive(Clone, Copy, Debug)]
struct DeferredReply {
    wire_id: u64,
    receiver: ActorIdx,
    incarnation: u64,
    caller: ActorIdx,
}

/// The network and the actors' armed timers.
pub struct DirectTransport {
    net: DirectNet,
    /// Per actor, the time of the timer armed in the schedule, ms.
    armed_ms: Vec<Option<u64>>,
    /// Requests answered later, by token.
    deferred: BTreeMap<ReplyToken, DeferredReply>,
}

impl DirectTransport {
    /// The transport of `spec`'s run, nothing scheduled yet.
    pub fn new(spec: &WorldSpec) -> Self {
        Self {
            net: DirectNet::new(
                derive_seed(spec.seed, purpose::NETWORK, 0),
                spec.latency_min_ms,
                spec.latency_max_ms,
                spec.packet_loss,
            ),
            armed_ms: vec![None; spec.actors.len()],
            deferred: BTreeMap::new(),
        }
    }

    /// The network (to set losses and partitions).
    pub fn net_mut(&mut self) -> &mut DirectNet {
        &mut self.net
    }

    /// Starts actor `idx` in the world at `now_ms`, arms its timer and sends its calls.
    pub fn start_actor(&mut self, world: &mut World, idx: ActorIdx, now_ms: u64) {
        let step = world.start_actor(idx, now_ms);
        self.arm(world, idx);
        self.carry_out(world, now_ms.saturating_mul(NS_PER_MS), idx, step);
    }

    /// Kills actor `idx` in the world at `now_ms`; its armed timer is forgotten.
    pub fn kill_actor(&mut self, world: &mut World, idx: ActorIdx, now_ms: u64) {
        world.kill_actor(idx, now_ms);
        self.armed_ms[idx] = None;
    }

    /// Handles every event scheduled before `until_ns`, each at its own time (or at the
    /// network's clock, if that has passed it), including those the handling schedules; then
    /// moves the clock on to `until_ns`.
    pub fn run_until(&mut self, world: &mut World, until_ns: u64) {
        while let Some((at_ns, event)) = self.net.pop_next_before(until_ns) {
            let now_ns = self.net.advance_clock(at_ns);
            self.handle(world, now_ns, event);
        }
        self.net.advance_clock(until_ns);
    }

    fn handle(&mut self, world: &mut World, now_ns: u64, event: NetEvent) {
        match event {
            NetEvent::Request {
                wire_id,
                from,
                to,
                incarnation,
            } => self.deliver(world, now_ns, wire_id, from, to, incarnation),
            NetEvent::ReplyLeaves {
                from, incarnation, ..
            } => {
                // A reply dies with the receiver that was serving it.
                if world.live_incarnation(from) == Some(incarnation) {
                    self.net.reply_leaves(now_ns, event);
                }
            }
            NetEvent::Reply { wire_id, outcome } => self.settle(world, now_ns, wire_id, outcome),
            NetEvent::Timeout { wire_id } => {
                self.settle(world, now_ns, wire_id, Err(FailureKind::Timeout));
            }
            NetEvent::Timer {
                actor,
                incarnation,
                at_ms,
            } => self.fire_timer(world, now_ns, actor, incarnation, at_ms),
        }
    }

    /// A request reaches actor `to`: served if the incarnation it was sent to still runs.
    fn deliver(
        &mut self,
        world: &mut World,
        now_ns: u64,
        wire_id: u64,
        from: ActorIdx,
        to: ActorIdx,
        incarnation: u64,
    ) {
        let Some(body) = self.net.take_body(wire_id) else {
            return;
        };
        if world.live_incarnation(to) != Some(incarnation) {
            self.net.count_dropped_at_receiver();
            return;
        }
        let served = world.on_request(to, body, now_ns / NS_PER_MS);
        if let Some(token) = served.deferred {
            let reply = DeferredReply {
                wire_id,
                receiver: to,
                incarnation,
                caller: from,
            };
            self.deferred.insert(token, reply);
            self.carry_out(world, now_ns, to, served.step);
            return;
        }
        self.carry_out(world, now_ns, to, served.step);
        let leaves = NetEvent::ReplyLeaves {
            wire_id,
            from: to,
            incarnation,
            to: from,
            outcome: served.outcome,
        };
        let delay_ns = served.reply_delay_ms.saturating_mul(NS_PER_MS);
        self.net.answer(now_ns, delay_ns, leaves);
    }

    /// A call's outcome reaches its caller (the first of reply and timeout; the world drops it
    /// if the caller has been killed since).
    fn settle(&mut self, world: &mut World, now_ns: u64, wire_id: u64, outcome: DeliveryOutcome) {
        let Some(call) = self.net.settle(wire_id) else {
            return;
        };
        let step = world.on_call_result(&call, outcome, now_ns / NS_PER_MS);
        self.carry_out(world, now_ns, call.caller, step);
    }

    /// A timer came up at `now_ns`: if it is still the actor's armed timer, it fires, and the
    /// actor's next one is armed.
    fn fire_timer(
        &mut self,
        world: &mut World,
        now_ns: u64,
        idx: ActorIdx,
        incarnation: u64,
        at_ms: u64,
    ) {
        let current =
            world.live_incarnation(idx) == Some(incarnation) && self.armed_ms[idx] == Some(at_ms);
        if !current {
            return;
        }
        self.armed_ms[idx] = None;
        let step = world.on_timer(idx, now_ns / NS_PER_MS);
        self.arm(world, idx);
        self.carry_out(world, now_ns, idx, step);
    }

    /// What a world step asks: the actor's timer looked at again if it moved, then its calls,
    /// then the answers it gives now to requests it deferred.
    fn carry_out(&mut self, world: &mut World, now_ns: u64, idx: ActorIdx, step: Step) {
        if step.timer_moved {
            self.arm(world, idx);
        }
        self.start_calls(world, now_ns, step.calls);
        for (token, outcome) in step.replies {
            let Some(reply) = self.deferred.remove(&token) else {
                continue;
            };
            // An answer dies with the receiver incarnation that deferred it.
            if world.live_incarnation(reply.receiver) != Some(reply.incarnation) {
                continue;
            }
            let leaves = NetEvent::ReplyLeaves {
                wire_id: reply.wire_id,
                from: reply.receiver,
                incarnation: reply.incarnation,
                to: reply.caller,
                outcome,
            };
            self.net.answer(now_ns, 0, leaves);
        }
    }

    /// Puts actor `idx`'s next timer in the schedule, unless it is there already; the one it
    /// replaces stays scheduled and is ignored when it comes up.
    fn arm(&mut self, world: &mut World, idx: ActorIdx) {
        let next_ms = world.next_timer_ms(idx);
        if !world.is_live(idx) || next_ms == self.armed_ms[idx] {
            return;
        }
        self.armed_ms[idx] = next_ms;
        if let Some(at_ms) = next_ms {
            self.net.schedule_timer(at_ms, idx, world.incarnation(idx));
        }
    }

    /// Puts calls on the network.
    fn start_calls(&mut self, world: &World, now_ns: u64, calls: Vec<Call>) {
        for call in calls {
            let target_incarnation = call.target.map_or(0, |to| world.incarnation(to));
            self.net.start_call(now_ns, call, target_incarnation);
        }
    }
}
