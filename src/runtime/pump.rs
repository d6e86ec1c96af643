//! The adapter of the `direct` transport ([`crate::runtime::direct`]): one pump task that
//! sleeps on madsim's clock until the network's next event and hands due events to the world:
//! requests to their receivers, answers and timeouts to their callers.

use crate::ledgers::FailureKind;
use crate::runtime::direct::{NetEvent, NS_PER_MS};
use crate::runtime::node::{now_ns, Shared, Sleeper, Wake};
use crate::runtime::world::{Call, World};
use futures::channel::mpsc::unbounded;
use madsim::time::Duration;

/// The pump: sleeps until the network's next event, hands every due one to the world, and
/// sends the calls that causes. It runs as the one task of a node of its own, killed at the
/// end of the run like the actors' nodes (a task madsim leaves pending keeps the world).
pub async fn pump(world: Shared) {
    let (notify, notified) = unbounded();
    if let Some(net) = world.lock().net.as_mut() {
        net.attach_pump(notify);
    } else {
        return;
    }
    let mut sleeper = Sleeper::new(notified);
    loop {
        let next_ns = run_due(&mut world.lock(), now_ns());
        let wake = sleeper
            .wait(next_ns, |at_ns| {
                let now = now_ns();
                (at_ns > now).then(|| Duration::from_nanos(at_ns - now))
            })
            .await;
        if let Wake::Closed = wake {
            return;
        }
    }
}

/// Handles every network event due at `now_ns`; returns when the next one is due and tells the
/// network the pump sleeps until then.
fn run_due(world: &mut World, now_ns: u64) -> Option<u64> {
    let now_ms = now_ns / NS_PER_MS;
    world.net.as_mut()?.pump_runs();
    while let Some(event) = world.net.as_mut().and_then(|net| net.pop_due(now_ns)) {
        match event {
            NetEvent::Request {
                wire_id,
                from,
                to,
                incarnation,
            } => {
                let receiver_runs = world.live_incarnation(to) == Some(incarnation);
                let net = world.net.as_mut()?;
                let Some(body) = net.take_body(wire_id) else {
                    continue;
                };
                if !receiver_runs {
                    net.count_dropped_at_receiver();
                    continue;
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
                world.net.as_mut()?.answer(now_ns, delay_ns, leaves);
            }
            NetEvent::ReplyLeaves {
                from, incarnation, ..
            } => {
                // A reply dies with the receiver that was serving it.
                if world.live_incarnation(from) == Some(incarnation) {
                    world.net.as_mut()?.reply_leaves(now_ns, event);
                }
            }
            NetEvent::Reply { wire_id, outcome } => settle(world, now_ns, wire_id, outcome),
            NetEvent::Timeout { wire_id } => {
                settle(world, now_ns, wire_id, Err(FailureKind::Timeout))
            }
        }
    }
    let net = world.net.as_mut()?;
    let next_ns = net.next_at_ns();
    net.pump_sleeps_until(next_ns);
    next_ns
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
