//! The `madsim` transport (the default): one simulated node per actor. Each node starts its
//! actor in the world, binds an endpoint, serves requests, carries out each call as a task and
//! sleeps until its actor's next timer. All tasks of a node die with it, so a killed actor's
//! timers and in-flight calls vanish.
//!
//! What the transport owns: the nodes' endpoints, each node's wakeup channel (the world says
//! when an actor's timer moved; the node's timer loop looks again), and the reply tags of calls.
//! Requests and replies travel as in-memory payloads over `madsim::net` (no serialisation).

use crate::ledgers::{DeliveryOutcome, FailureKind};
use crate::runtime::call::{Body, Call, ReplyToken, Step};
use crate::runtime::spec::ActorIdx;
use crate::runtime::world::World;
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::future::{select, Either};
use futures::StreamExt;
use madsim::net::Endpoint;
use madsim::time::{sleep, Duration, Sleep, TimeHandle};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

/// The tag of every request; replies use a tag of their call's own.
const REQUEST_TAG: u64 = 1;
/// Reply tags count up from here, far above the request tag.
const FIRST_REPLY_TAG: u64 = 1 << 32;

/// A request on the wire: its body and where to answer.
struct Request {
    reply_tag: u64,
    body: Body,
}

/// A reply on the wire: the receiver's answer.
struct Reply {
    outcome: DeliveryOutcome,
}

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

/// Fresh reply tags for the calls of every node of a run (deterministic: a counter).
#[derive(Clone)]
pub struct ReplyTags(Arc<AtomicU64>);

impl Default for ReplyTags {
    fn default() -> Self {
        Self(Arc::new(AtomicU64::new(FIRST_REPLY_TAG)))
    }
}

impl ReplyTags {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Each actor's current node's wakeup channel. A kill closes it, which wakes the node's timer
/// loop one last time, as the end of the actor's in-memory state would.
#[derive(Clone, Default)]
pub struct Wakers(Arc<Mutex<Vec<Option<UnboundedSender<()>>>>>);

impl Wakers {
    fn register(&self, idx: ActorIdx, waker: UnboundedSender<()>) {
        let mut wakers = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if wakers.len() <= idx {
            wakers.resize(idx + 1, None);
        }
        wakers[idx] = Some(waker);
    }

    /// Closes actor `idx`'s wakeup channel (it was killed).
    pub fn close(&self, idx: ActorIdx) {
        let mut wakers = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(waker) = wakers.get_mut(idx).and_then(Option::take) {
            waker.close_channel();
        }
    }
}

/// What the nodes of one run share besides the world.
#[derive(Clone, Default)]
pub struct NodeShared {
    /// Reply tags of every node's calls.
    pub reply_tags: ReplyTags,
    /// Every node's wakeup channel.
    pub wakers: Wakers,
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

/// What every task of one actor's node shares.
#[derive(Clone)]
struct Node {
    world: Shared,
    endpoint: Endpoint,
    idx: ActorIdx,
    /// Wakes the node's timer loop to look at its actor's next timer again.
    waker: UnboundedSender<()>,
    reply_tags: ReplyTags,
    /// Requests answered later: where each answer goes (`(caller, reply tag)`). They die with
    /// the node, as the requests' callers would see it.
    deferred: Arc<Mutex<BTreeMap<ReplyToken, (SocketAddr, u64)>>>,
}

impl Node {
    /// What a world step asks: the timer loop woken if the timer moved, then the calls, each
    /// a task of this node.
    fn carry_out(&self, step: Step) {
        if step.timer_moved {
            let _ = self.waker.unbounded_send(());
        }
        for call in step.calls {
            madsim::task::spawn(run_call(self.clone(), call));
        }
        for (token, outcome) in step.replies {
            let to = self
                .deferred
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&token);
            if let Some((from, reply_tag)) = to {
                self.reply(from, reply_tag, outcome, 0);
            }
        }
    }

    /// Sends a request's answer to `to` under `reply_tag`, `delay_ms` from now.
    fn reply(&self, to: SocketAddr, reply_tag: u64, outcome: DeliveryOutcome, delay_ms: u64) {
        let endpoint = self.endpoint.clone();
        madsim::task::spawn(async move {
            if delay_ms > 0 {
                sleep(Duration::from_millis(delay_ms)).await;
            }
            let reply = Reply { outcome };
            let _ = endpoint.send_to_raw(to, reply_tag, Box::new(reply)).await;
        });
    }
}

/// The initial task of actor `idx`'s node (run again on every restart).
pub async fn actor_main(world: Shared, idx: ActorIdx, shared: NodeShared) {
    let endpoint = match Endpoint::bind(actor_addr(idx)).await {
        Ok(endpoint) => endpoint,
        Err(error) => {
            tracing::error!(target: "z0sim::trace", actor = idx, %error, "cannot bind the actor's endpoint");
            return;
        }
    };
    let (waker, wakeups) = unbounded();
    shared.wakers.register(idx, waker.clone());
    let step = world.lock().start_actor(idx, now_ms());
    let node = Node {
        world,
        endpoint,
        idx,
        waker,
        reply_tags: shared.reply_tags,
        deferred: Arc::default(),
    };
    node.carry_out(step);
    madsim::task::spawn(serve(node.clone()));
    timer_loop(node, wakeups).await;
}

async fn timer_loop(node: Node, wakeups: UnboundedReceiver<()>) {
    // Woken whenever the world may have moved the timer (a request to an entity or the queue,
    // a tenant's `SetAlarm`); most wakeups leave the deadline as it was.
    let mut sleeper = Sleeper::new(wakeups);
    loop {
        let next_ms = node.world.lock().next_timer_ms(node.idx);
        match sleeper.wait(next_ms).await {
            Wake::Closed => return,
            Wake::Woken => {}
            Wake::Due => {
                let step = node.world.lock().on_timer(node.idx, now_ms());
                node.carry_out(step);
            }
        }
    }
}

/// Why [`Sleeper::wait`] returned.
enum Wake {
    /// The deadline passed.
    Due,
    /// A wakeup came first: look at the world again.
    Woken,
    /// The wakeup channel closed: the task's work is over.
    Closed,
}

/// A node's wait for its actor's next timer or a wakeup, whichever comes first. The timer of
/// the deadline is kept across wakeups that leave the deadline unchanged, so a node woken often
/// registers one madsim timer per deadline, not one per wakeup.
struct Sleeper {
    wakeups: UnboundedReceiver<()>,
    armed: Option<(u64, Deadline)>,
}

impl Sleeper {
    fn new(wakeups: UnboundedReceiver<()>) -> Self {
        Self {
            wakeups,
            armed: None,
        }
    }

    /// Waits until simulated time `at_ms` (`None`: only for a wakeup).
    async fn wait(&mut self, at_ms: Option<u64>) -> Wake {
        let Some(at_ms) = at_ms else {
            return match self.wakeups.next().await {
                Some(()) => Wake::Woken,
                None => Wake::Closed,
            };
        };
        let now_ms = now_ms();
        if at_ms <= now_ms {
            self.armed = None;
            return Wake::Due;
        }
        let left = Duration::from_millis(at_ms - now_ms);
        let deadline = match &mut self.armed {
            Some((armed_at_ms, deadline)) if *armed_at_ms == at_ms => deadline,
            _ => &mut self.armed.insert((at_ms, Deadline::after(left))).1,
        };
        match select(deadline, self.wakeups.next()).await {
            Either::Left(_) => {
                self.armed = None;
                Wake::Due
            }
            Either::Right((None, _)) => Wake::Closed,
            Either::Right((Some(()), _)) => {
                // Several wakeups in a row need one look at the world.
                while self.wakeups.try_recv().is_ok() {}
                Wake::Woken
            }
        }
    }
}

async fn serve(node: Node) {
    loop {
        let Ok((payload, from)) = node.endpoint.recv_from_raw(REQUEST_TAG).await else {
            return;
        };
        let Ok(request) = payload.downcast::<Request>() else {
            continue;
        };
        let Request { reply_tag, body } = *request;
        let served = node.world.lock().on_request(node.idx, body, now_ms());
        if let Some(token) = served.deferred {
            node.deferred
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(token, (from, reply_tag));
        }
        node.carry_out(served.step);
        if served.deferred.is_none() {
            if served.reply_delay_ms == 0 {
                // At once, from this task: the answer leaves before anything else happens.
                let reply = Reply {
                    outcome: served.outcome,
                };
                let _ = node
                    .endpoint
                    .send_to_raw(from, reply_tag, Box::new(reply))
                    .await;
            } else {
                node.reply(from, reply_tag, served.outcome, served.reply_delay_ms);
            }
        }
    }
}

async fn run_call(node: Node, mut call: Call) {
    // The body travels; the rest of the call stays to route the outcome.
    let body = std::mem::replace(&mut call.body, Body::travelling());
    let outcome = deliver(&node, &call, body).await;
    let step = node.world.lock().on_call_result(&call, outcome, now_ms());
    node.carry_out(step);
}

async fn deliver(node: &Node, call: &Call, body: Body) -> DeliveryOutcome {
    let Some(target) = call.target else {
        return Err(FailureKind::Error);
    };
    let reply_tag = node.reply_tags.next();
    let request = Request { reply_tag, body };
    let sent = node
        .endpoint
        .send_to_raw(actor_addr(target), REQUEST_TAG, Box::new(request))
        .await;
    if sent.is_err() {
        return Err(FailureKind::Error);
    }
    // Like `madsim::time::timeout` (the reply wins a tie), with one timer per call.
    let waiting = pin!(node.endpoint.recv_from_raw(reply_tag));
    let timeout = Deadline::after(Duration::from_millis(call.timeout_ms));
    match select(waiting, timeout).await {
        Either::Right(_) => Err(FailureKind::Timeout),
        Either::Left((Err(_), _)) => Err(FailureKind::Error),
        Either::Left((Ok((payload, _)), _)) => payload
            .downcast::<Reply>()
            .map_or(Err(FailureKind::Error), |reply| reply.outcome),
    }
}

/// A sleep that registers its madsim timer once. madsim's `Sleep` adds a timer (holding a
/// waker) every time it is polled before its deadline, and a task waiting on several futures is
/// polled on every wake of any of them: each such poll left one more timer to fire, and wake the
/// task again, later. Only for a future polled by one task, which one registration wakes.
struct Deadline {
    sleep: Sleep,
    registered: bool,
}

impl Deadline {
    fn after(duration: Duration) -> Self {
        Self {
            sleep: sleep(duration),
            registered: false,
        }
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.is_elapsed() {
            return Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            return Pin::new(&mut self.sleep).poll(cx);
        }
        Poll::Pending
    }
}
