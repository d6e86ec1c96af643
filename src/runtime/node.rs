//! The madsim adapter: one simulated node per actor. Each node binds an endpoint, starts its
//! actor in the world, serves requests, sleeps until its next timer and carries out calls. All
//! tasks of a node die with it, so a killed actor's in-flight calls and timers vanish.

use crate::ledgers::FailureKind;
use crate::runtime::rpc::{Body, Reply, Request, REQUEST_TAG};
use crate::runtime::spec::ActorIdx;
use crate::runtime::world::{Call, World};
use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::future::{select, Either};
use futures::StreamExt;
use madsim::net::Endpoint;
use madsim::time::{sleep, Duration, TimeHandle};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// The world shared by every node's tasks.
#[derive(Clone)]
pub struct Shared(Arc<Mutex<World>>);

impl Shared {
    /// Wraps a world.
    pub fn new(world: World) -> Self {
        Self(Arc::new(Mutex::new(world)))
    }

    /// Locks it. The simulation is single-threaded, so the lock is never contended; a
    /// poisoned lock (a panic elsewhere) is taken over, the panic reports itself.
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Simulated milliseconds since the run started.
pub fn now_ms() -> u64 {
    TimeHandle::current().elapsed().as_millis() as u64
}

/// The address of actor `idx`: one IP per actor, port 1.
pub fn actor_addr(idx: ActorIdx) -> SocketAddr {
    let idx = idx as u32 + 1;
    SocketAddr::from(([10, (idx >> 16) as u8, (idx >> 8) as u8, idx as u8], 1))
}

/// The initial task of actor `idx`'s node (run again on every restart).
pub async fn actor_main(world: Shared, idx: ActorIdx) {
    let endpoint = match Endpoint::bind(actor_addr(idx)).await {
        Ok(endpoint) => endpoint,
        Err(error) => {
            tracing::error!(target: "z0sim::trace", actor = idx, %error, "cannot bind the actor's endpoint");
            return;
        }
    };
    let (waker, wakeups) = unbounded();
    let calls = world.lock().start_actor(idx, now_ms(), waker);
    spawn_calls(&world, &endpoint, calls);
    madsim::task::spawn(serve(world.clone(), endpoint.clone(), idx));
    timer_loop(world, endpoint, idx, wakeups).await;
}

async fn timer_loop(
    world: Shared,
    endpoint: Endpoint,
    idx: ActorIdx,
    mut wakeups: UnboundedReceiver<()>,
) {
    loop {
        let next_ms = world.lock().next_timer_ms(idx);
        let fired = match next_ms {
            Some(at_ms) => {
                let now = now_ms();
                if at_ms <= now {
                    true
                } else {
                    let sleeping = Box::pin(sleep(Duration::from_millis(at_ms - now)));
                    match select(sleeping, wakeups.next()).await {
                        Either::Left(_) => true,
                        Either::Right((None, _)) => return,
                        Either::Right((Some(()), _)) => false,
                    }
                }
            }
            None => match wakeups.next().await {
                Some(()) => false,
                None => return,
            },
        };
        if fired {
            let calls = world.lock().on_timer(idx, now_ms());
            spawn_calls(&world, &endpoint, calls);
        }
    }
}

async fn serve(world: Shared, endpoint: Endpoint, idx: ActorIdx) {
    loop {
        let Ok((payload, from)) = endpoint.recv_from_raw(REQUEST_TAG).await else {
            return;
        };
        let Ok(request) = payload.downcast::<Request>() else {
            continue;
        };
        let Request { reply_tag, body } = *request;
        let handled = world.lock().on_request(idx, body, now_ms());
        spawn_calls(&world, &endpoint, handled.calls);
        let reply = handled.reply;
        if handled.reply_delay_ms == 0 {
            let _ = endpoint.send_to_raw(from, reply_tag, Box::new(reply)).await;
        } else {
            let endpoint = endpoint.clone();
            madsim::task::spawn(async move {
                sleep(Duration::from_millis(handled.reply_delay_ms)).await;
                let _ = endpoint.send_to_raw(from, reply_tag, Box::new(reply)).await;
            });
        }
    }
}

/// Starts each call as a task of the current node.
pub fn spawn_calls(world: &Shared, endpoint: &Endpoint, calls: Vec<Call>) {
    for call in calls {
        madsim::task::spawn(run_call(world.clone(), endpoint.clone(), call));
    }
}

async fn run_call(world: Shared, endpoint: Endpoint, mut call: Call) {
    // The body travels; the rest of the call stays to route the outcome.
    let body = std::mem::replace(&mut call.body, Body::Batch(Vec::new()));
    let outcome = deliver(&world, &endpoint, &call, body).await;
    let calls = world.lock().on_call_result(&call, outcome, now_ms());
    spawn_calls(&world, &endpoint, calls);
}

async fn deliver(
    world: &Shared,
    endpoint: &Endpoint,
    call: &Call,
    body: Body,
) -> Result<(), FailureKind> {
    let Some(target) = call.target else {
        return Err(FailureKind::Error);
    };
    let reply_tag = world.lock().next_reply_tag();
    let request = Request { reply_tag, body };
    if endpoint
        .send_to_raw(actor_addr(target), REQUEST_TAG, Box::new(request))
        .await
        .is_err()
    {
        return Err(FailureKind::Error);
    }
    let waiting = endpoint.recv_from_raw(reply_tag);
    match madsim::time::timeout(Duration::from_millis(call.timeout_ms), waiting).await {
        Err(_elapsed) => Err(FailureKind::Timeout),
        Ok(Err(_)) => Err(FailureKind::Error),
        Ok(Ok((payload, _))) => payload
            .downcast::<Reply>()
            .map_or(Err(FailureKind::Error), |reply| reply.outcome),
    }
}
