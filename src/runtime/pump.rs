//! The adapter of the `direct` transport ([`crate::runtime::direct`]): the pump hands the
//! network's scheduled events to the world, in order, each at its own time: requests to their
//! receivers, answers and timeouts to their callers, timers to their actors. The supervisor
//! runs it up to each of its actions and to the end of the run, so between two actions no
//! madsim timer or task is involved at all (README, "Transports").

use crate::ledgers::FailureKind;
use crate::runtime::direct::{NetEvent, NS_PER_MS};
use crate::runtime::world::{Call, World};

/// Handles every event scheduled before `until_ns`, each at its own time (or at the network's
/// clock, if that has passed it), including those the handling schedules; then moves the clock
/// on to `until_ns`.
pub fn run_until(world: &mut World, until_ns: u64) {
    while let Some((now_ns, event)) = world.net.as_mut().and_then(|net| {
        let (at_ns, event) = net.pop_next_before(until_ns)?;
        Some((net.advance_clock(at_ns), event))
    }) {
        handle(world, now_ns, event);
    }
    if let Some(net) = world.net.as_mut() {
        net.advance_clock(until_ns);
    }
}

fn handle(world: &mut World, now_ns: u64, event: NetEvent) {
    let now_ms = now_ns / NS_PER_MS;
    match event {
        NetEvent::Request {
            wire_id,
            from,
            to,
            incarnation,
        } => {
            let receiver_runs = world.live_incarnation(to) == Some(incarnation);
            let Some(net) = world.net.as_mut() else {
                return;
            };
            let Some(body) = net.take_body(wire_id) else {
                return;
            };
            if !receiver_runs {
                net.count_dropped_at_receiver();
                return;
            }
            let handled = world.on_request(to, body, now_ms);
            start_direct_calls(world, now_ns, handled.calls);
            let leaves = NetEvent::ReplyLeaves {
                wire_id,
                from: to,
                incarnation,
                to: from,
                outcome: handled.reply.outcome,
            };
            let delay_ns = handled.reply_delay_ms.saturating_mul(NS_PER_MS);
            if let Some(net) = world.net.as_mut() {
                net.answer(now_ns, delay_ns, leaves);
            }
        }
        NetEvent::ReplyLeaves {
            from, incarnation, ..
        } => {
            // A reply dies with the receiver that was serving it.
            if world.live_incarnation(from) == Some(incarnation) {
                if let Some(net) = world.net.as_mut() {
                    net.reply_leaves(now_ns, event);
                }
            }
        }
        NetEvent::Reply { wire_id, outcome } => settle(world, now_ns, wire_id, outcome),
        NetEvent::Timeout { wire_id } => settle(world, now_ns, wire_id, Err(FailureKind::Timeout)),
        NetEvent::Timer {
            actor,
            incarnation,
            at_ms,
        } => {
            let calls = world.fire_timer(actor, incarnation, at_ms, now_ms);
            start_direct_calls(world, now_ns, calls);
        }
    }
}

/// A call's outcome reaches its caller (the first of reply and timeout; the world drops it
/// if the caller has been killed since).
fn settle(world: &mut World, now_ns: u64, wire_id: u64, outcome: Result<(), FailureKind>) {
    let Some(call) = world.net.as_mut().and_then(|net| net.settle(wire_id)) else {
        return;
    };
    let calls = world.on_call_result(&call, outcome, now_ns / NS_PER_MS);
    start_direct_calls(world, now_ns, calls);
}

/// Puts calls on the direct network.
pub fn start_direct_calls(world: &mut World, now_ns: u64, calls: Vec<Call>) {
    for call in calls {
        let target_incarnation = call.target.map_or(0, |to| world.incarnation(to));
        if let Some(net) = world.net.as_mut() {
            net.start_call(now_ns, call, target_incarnation);
        }
    }
}
