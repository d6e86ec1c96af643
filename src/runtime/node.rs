//! The madsim adapter of the default transport: one simulated node per actor. Each node
//! starts its actor in the world, binds an endpoint, serves requests, carries out each call as
//! a task and sleeps until its actor's next timer. All tasks of a node die with it, so a killed
//! actor's timers and in-flight calls vanish. (The `direct` transport has no nodes:
//! [`crate::runtime::pump`].)

use crate::ledgers::FailureKind;
use crate::runtime::rpc::{Body, Reply, Request, REQUEST_TAG};
use crate::runtime::spec::ActorIdx;
use crate::runtime::world::{Call, World};
use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::future::{select, Either};
use futures::StreamExt;
use madsim::net::Endpoint;
use madsim::time::{sleep, Duration, Sleep, TimeHandle};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

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
    let calls = world.lock().start_actor(idx, now_ms(), Some(waker));
    spawn_calls(&world, &endpoint, calls);
    madsim::task::spawn(serve(world.clone(), endpoint.clone(), idx));
    timer_loop(world, endpoint, idx, wakeups).await;
}

async fn timer_loop(
    world: Shared,
    endpoint: Endpoint,
    idx: ActorIdx,
    wakeups: UnboundedReceiver<()>,
) {
    // Woken whenever the world may have moved the timer (a request to an entity or the queue,
    // a tenant's `SetAlarm`); most wakeups leave the deadline as it was.
    let mut sleeper = Sleeper::new(wakeups);
    loop {
        let next_ms = world.lock().next_timer_ms(idx);
        let wake = sleeper.wait(next_ms).await;
        match wake {
            Wake::Closed => return,
            Wake::Woken => {}
            Wake::Due => {
                let calls = world.lock().on_timer(idx, now_ms());
                spawn_calls(&world, &endpoint, calls);
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
        let Some(at) = at_ms else {
            return match self.wakeups.next().await {
                Some(()) => Wake::Woken,
                None => Wake::Closed,
            };
        };
        let now = now_ms();
        if at <= now {
            self.armed = None;
            return Wake::Due;
        }
        let left = Duration::from_millis(at - now);
        let deadline = match &mut self.armed {
            Some((armed_at, deadline)) if *armed_at == at => deadline,
            _ => &mut self.armed.insert((at, Deadline::after(left))).1,
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
fn spawn_calls(world: &Shared, endpoint: &Endpoint, calls: Vec<Call>) {
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
    // Like `madsim::time::timeout` (the reply wins a tie), with one timer per call.
    let waiting = pin!(endpoint.recv_from_raw(reply_tag));
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
