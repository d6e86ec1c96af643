//! Runs a [`WorldSpec`] under madsim: one fresh thread and one seeded runtime per run, fault
//! actions applied in time order by the supervisor task. On the `madsim` transport each actor
//! has a node of its own; on `direct` the actors live in the world alone and the supervisor
//! runs the network's pump up to each action.

use crate::ledgers::client::FALLBACK_TARGET;
use crate::planted;
use crate::runtime::direct::NS_PER_MS;
use crate::runtime::node::{actor_addr, actor_main, now_ms, Shared};
use crate::runtime::observe::ObservationLog;
use crate::runtime::pump;
use crate::runtime::recorder::Recorder;
use crate::runtime::spec::{ActorIdx, FaultAction, TimedAction, WorldSpec};
use crate::runtime::world::{Outcome, World};
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::{sleep, Duration};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tracing::subscriber::Interest;
use tracing::Dispatch;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::EnvFilter;

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Counters, histograms, events, trace hash.
    pub recorder: Recorder,
    /// End-of-run checks and leftovers.
    pub outcome: Outcome,
    /// Simulated time run, ms.
    pub sim_time_ms: u64,
    /// Wall-clock time of the run, ms (measured outside the simulation).
    pub wall_ms: u64,
    /// Everything observed, in order (empty unless the spec asked for it).
    pub observations: ObservationLog,
    /// Fallback warnings actually logged through `tracing`.
    pub warnings_logged: u64,
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The simulation thread panicked (a bug: an assertion in the code under test).
    #[error("the simulation panicked: {0}")]
    Panicked(String),
}

/// Runs `spec` on a fresh thread (madsim keeps per-thread state; see madsim issue 240).
pub fn run_world(spec: WorldSpec) -> Result<RunOutput, RunError> {
    let thread = std::thread::Builder::new()
        .name(format!("z0sim-seed-{}", spec.seed))
        .stack_size(64 << 20)
        .spawn(move || run_on_this_thread(spec));
    let handle = thread.map_err(|error| RunError::Panicked(error.to_string()))?;
    handle.join().map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "unknown panic".to_owned());
        RunError::Panicked(message)
    })
}

fn run_on_this_thread(spec: WorldSpec) -> RunOutput {
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::from_millis(spec.latency_ms.0)
        ..Duration::from_millis(spec.latency_ms.1.max(spec.latency_ms.0) + 1);
    config.net.packet_loss_rate = spec.packet_loss;
    planted::activate(spec.plant);
    let warnings = WarningCounter::default();
    let dispatch = match spec.trace_filter.as_deref() {
        // No event log: the counter alone, which disables every other callsite, so tracing
        // costs nothing in an untraced run.
        None => Dispatch::new(tracing_subscriber::registry().with(warnings.clone())),
        // An event log: the counter only counts and leaves every callsite to the log's filter
        // (if it disabled them here, the log would print nothing: tests/cli_trace.rs checks
        // that `--trace` prints).
        Some(filter) => Dispatch::new(
            tracing_subscriber::registry()
                .with(warnings.passive())
                .with(trace_layer(filter)),
        ),
    };
    let runtime = Runtime::with_seed_and_config(spec.seed, config);
    let wall_start = Instant::now();
    let (recorder, outcome, sim_time_ms, observations) =
        tracing::dispatcher::with_default(&dispatch, || runtime.block_on(supervise(spec)));
    planted::activate(None);
    RunOutput {
        recorder,
        outcome,
        sim_time_ms,
        wall_ms: wall_start.elapsed().as_millis() as u64,
        observations,
        warnings_logged: warnings.count(),
    }
}

/// The event log of `--trace`: simulated time is in each event's fields, so no wall-clock
/// timestamps (they would make two runs' logs differ).
fn trace_layer<S>(filter: &str) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'lookup> tracing_subscriber::registry::LookupSpan<'lookup>,
{
    tracing_subscriber::fmt::layer()
        .without_time()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::new(filter))
}

/// Counts the fallback warnings actually logged through `tracing` (ground truth for
/// `fallback_warns`: what an operator would see, not what the client says it did).
#[derive(Clone, Default)]
struct WarningCounter {
    count: Arc<AtomicU64>,
    /// Leaves the other callsites to another layer instead of disabling them.
    passive: bool,
}

impl WarningCounter {
    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The same counter, leaving every other callsite to another layer.
    fn passive(&self) -> Self {
        Self {
            count: self.count.clone(),
            passive: true,
        }
    }

    fn wants(metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == FALLBACK_TARGET && *metadata.level() == tracing::Level::WARN
    }
}

impl<S: tracing::Subscriber> Layer<S> for WarningCounter {
    fn register_callsite(&self, metadata: &'static tracing::Metadata<'static>) -> Interest {
        if Self::wants(metadata) || self.passive {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        self.passive || Self::wants(metadata)
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if Self::wants(event.metadata()) {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where the actors run.
enum Hosts {
    /// A madsim node each, by actor index (the `madsim` transport): a kill or restart is the
    /// node's, and partitions clog the nodes' links.
    Nodes(Vec<NodeHandle>),
    /// The world alone (the `direct` transport): its network checks incarnations and links.
    World,
}

async fn supervise(spec: WorldSpec) -> (Recorder, Outcome, u64, ObservationLog) {
    let world = Shared::new(World::new(&spec));
    let handle = Handle::current();
    let hosts = if world.lock().net.is_some() {
        let mut locked = world.lock();
        for idx in 0..spec.actors.len() {
            start_in_world(&mut locked, idx, 0);
        }
        Hosts::World
    } else {
        Hosts::Nodes(
            (0..spec.actors.len())
                .map(|idx| {
                    let shared = world.clone();
                    handle
                        .create_node()
                        .name(spec.actors[idx].id.to_string())
                        .ip(actor_addr(idx).ip())
                        .init(move || actor_main(shared.clone(), idx))
                        .build()
                })
                .collect(),
        )
    };
    let mut actions: Vec<&TimedAction> = spec
        .actions
        .iter()
        .filter(|action| action.at_ms < spec.duration_ms)
        .collect();
    actions.sort_by_key(|action| action.at_ms);
    for action in actions {
        advance_to_ms(&world, action.at_ms).await;
        apply(&world, &handle, &hosts, action, spec.packet_loss);
    }
    advance_to_ms(&world, spec.duration_ms).await;
    let end_ms = now_ms();
    let mut locked = world.lock();
    let outcome = locked.finish(end_ms);
    let observations = std::mem::take(&mut locked.observations);
    let results = (locked.recorder.clone(), outcome, end_ms, observations);
    drop(locked);
    // madsim never drops tasks still pending when the main future returns, and every node's
    // tasks hold the world: without this, each run would leak its whole world (about 1 MB for
    // smoke, gigabytes over a long sweep or fuzz run; tests/fuzz_regressions.rs).
    if let Hosts::Nodes(nodes) = &hosts {
        for node in nodes {
            handle.kill(node.id());
        }
    }
    results
}

/// Starts actor `idx` in the world at `now_ms` (the `direct` transport) and sends the calls
/// its start makes.
fn start_in_world(world: &mut World, idx: ActorIdx, now_ms: u64) {
    let calls = world.start_actor(idx, now_ms, None);
    pump::start_direct_calls(world, now_ms.saturating_mul(NS_PER_MS), calls);
}

/// Moves the run on to `at_ms`: on the `direct` transport the pump first handles every event
/// scheduled before then, each at its own time, without waking madsim.
async fn advance_to_ms(world: &Shared, at_ms: u64) {
    pump::run_until(&mut world.lock(), at_ms.saturating_mul(NS_PER_MS));
    sleep_until_ms(at_ms).await;
}

async fn sleep_until_ms(at_ms: u64) {
    let now = now_ms();
    if at_ms > now {
        sleep(Duration::from_millis(at_ms - now)).await;
    }
}

fn apply(
    world: &Shared,
    handle: &Handle,
    hosts: &Hosts,
    action: &TimedAction,
    base_packet_loss: f64,
) {
    let now = now_ms();
    world.lock().record_fault(now, &action.label);
    match &action.action {
        FaultAction::Kill(actors) => {
            for idx in actors {
                world.lock().kill_actor(*idx, now);
                if let Hosts::Nodes(nodes) = hosts {
                    handle.kill(nodes[*idx].id());
                }
            }
        }
        FaultAction::Restart(actors) => restart(world, handle, hosts, actors, now),
        FaultAction::Evict { actors, fraction } => {
            let picked = world.lock().pick(actors, *fraction);
            restart(world, handle, hosts, &picked, now);
        }
        FaultAction::Overload(actors, rate) => world.lock().set_overload(actors, *rate),
        FaultAction::ExtraLatency(actors, extra_ms) => {
            world.lock().set_extra_latency(actors, *extra_ms)
        }
        FaultAction::Partition(side_a, side_b, clog) => {
            let mut locked = world.lock();
            let net = NetSim::current();
            let links = side_a
                .iter()
                .flat_map(|a| side_b.iter().flat_map(move |b| [(*a, *b), (*b, *a)]));
            for (from, to) in links {
                match (locked.net.as_mut(), hosts) {
                    (Some(direct), _) => direct.set_clogged(from, to, *clog),
                    (None, Hosts::Nodes(nodes)) if *clog => {
                        net.clog_link(nodes[from].id(), nodes[to].id())
                    }
                    (None, Hosts::Nodes(nodes)) => {
                        net.unclog_link(nodes[from].id(), nodes[to].id())
                    }
                    (None, Hosts::World) => {}
                }
            }
        }
        FaultAction::PacketLoss(rate) => {
            let rate = if *rate > 0.0 { *rate } else { base_packet_loss };
            match world.lock().net.as_mut() {
                Some(net) => net.set_packet_loss(rate),
                None => NetSim::current().update_config(|config| config.packet_loss_rate = rate),
            }
        }
        FaultAction::AlarmFailure(actors, rate) => world.lock().set_alarm_failure(actors, *rate),
        FaultAction::QueueDuplicate(rate) => world.lock().set_queue_duplicate(*rate),
        FaultAction::QueueConsumerFailure(rate) => world.lock().set_queue_consumer_failure(*rate),
        FaultAction::HostileFacts(rate) => world.lock().set_hostile_rate(*rate),
        FaultAction::Misroute {
            entities,
            fraction,
            to,
        } => {
            let mut locked = world.lock();
            let picked = locked.pick(entities, *fraction);
            locked.set_misroute(&picked, *to);
        }
    }
}

fn restart(world: &Shared, handle: &Handle, hosts: &Hosts, actors: &[ActorIdx], now: u64) {
    for idx in actors {
        world.lock().kill_actor(*idx, now);
        match hosts {
            Hosts::Nodes(nodes) => {
                // madsim's `restart` does not reset the node's network state; only `kill`
                // does. Without the kill the new instance cannot bind its address again.
                handle.kill(nodes[*idx].id());
                handle.restart(nodes[*idx].id());
            }
            Hosts::World => start_in_world(&mut world.lock(), *idx, now),
        }
    }
}
