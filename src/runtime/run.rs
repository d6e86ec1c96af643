//! Runs a [`WorldSpec`] under madsim: one fresh thread and one seeded runtime per run, the
//! supervisor applying the fault actions in time order. The transport is decided once, here:
//! on `madsim` each actor has a node of its own ([`MadsimHosts`]); on `direct` the actors live
//! in the world alone and the supervisor runs the network's schedule up to each action
//! ([`DirectHosts`]).

use crate::planted;
use crate::runtime::fault_book::{FaultBook, HostChanges};
use crate::runtime::log::{dispatch, WarningCounter};
use crate::runtime::observe::Observer;
use crate::runtime::recorder::Recorder;
use crate::runtime::spec::{ActorIdx, FaultAction, TimedAction, Transport, WorldSpec};
use crate::runtime::transport::direct::DirectTransport;
use crate::runtime::transport::madsim::{actor_addr, actor_main, now_ms, NodeShared, Shared};
use crate::runtime::transport::net::NS_PER_MS;
use crate::runtime::world::{EndOfRun, World};
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::{sleep, Duration};
use std::time::Instant;

/// What a run produced.
pub struct RunOutput {
    /// Counters, histograms, events, trace hash.
    pub recorder: Recorder,
    /// What was left and stored at the end.
    pub end: EndOfRun,
    /// Simulated time run, ms.
    pub sim_time_ms: u64,
    /// Wall-clock time of the run, ms (measured outside the simulation).
    pub wall_ms: u64,
    /// The observer, after it saw the whole run.
    pub observer: Option<Box<dyn Observer>>,
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

/// Runs `spec` on a fresh thread (madsim keeps per-thread state; see madsim issue 240);
/// `observer` sees every observation as it happens.
pub fn run_world(
    spec: WorldSpec,
    observer: Option<Box<dyn Observer>>,
) -> Result<RunOutput, RunError> {
    let thread = std::thread::Builder::new()
        .name(format!("z0sim-seed-{}", spec.seed))
        .stack_size(64 << 20)
        .spawn(move || run_on_this_thread(spec, observer));
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

fn run_on_this_thread(spec: WorldSpec, observer: Option<Box<dyn Observer>>) -> RunOutput {
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::from_millis(spec.latency_min_ms)
        ..Duration::from_millis(spec.latency_max_ms.max(spec.latency_min_ms) + 1);
    config.net.packet_loss_rate = spec.packet_loss;
    planted::activate(spec.plant);
    let warnings = WarningCounter::default();
    let dispatch = dispatch(spec.trace_filter.as_deref(), &warnings);
    let runtime = Runtime::with_seed_and_config(spec.seed, config);
    let wall_start = Instant::now();
    let (recorder, end, sim_time_ms, observer) =
        tracing::dispatcher::with_default(&dispatch, || {
            runtime.block_on(supervise(spec, observer))
        });
    planted::activate(None);
    RunOutput {
        recorder,
        end,
        sim_time_ms,
        wall_ms: wall_start.elapsed().as_millis() as u64,
        observer,
        warnings_logged: warnings.count(),
    }
}

type Results = (Recorder, EndOfRun, u64, Option<Box<dyn Observer>>);

async fn supervise(spec: WorldSpec, observer: Option<Box<dyn Observer>>) -> Results {
    let world = World::new(&spec, observer);
    match spec.transport {
        Transport::Madsim => drive(MadsimHosts::start(world, &spec), &spec).await,
        Transport::Direct => drive(DirectHosts::start(world, &spec), &spec).await,
    }
}

/// Where the actors run: what the supervisor needs of a transport.
trait Hosts {
    /// Runs `f` on the world.
    fn with_world<R>(&mut self, f: impl FnOnce(&mut World) -> R) -> R;
    /// Runs the simulation on to `at_ms`.
    async fn advance_to_ms(&mut self, at_ms: u64);
    /// Kills actor `idx` at `now_ms` (it stays down).
    fn kill(&mut self, idx: ActorIdx, now_ms: u64);
    /// Kills actor `idx` at `now_ms` and starts it again.
    fn restart(&mut self, idx: ActorIdx, now_ms: u64);
    /// Clogs or unclogs the link from `from` to `to`.
    fn set_clogged(&mut self, from: ActorIdx, to: ActorIdx, clogged: bool);
    /// Sets the network's packet loss rate.
    fn set_packet_loss(&mut self, rate: f64);
    /// Ends the run's hosts.
    fn shut_down(self);
}

/// The supervisor: every fault action in time order (ties in list order), then the end.
async fn drive(mut hosts: impl Hosts, spec: &WorldSpec) -> Results {
    let mut actions: Vec<&TimedAction> = spec
        .actions
        .iter()
        .filter(|action| action.at_ms < spec.duration_ms)
        .collect();
    actions.sort_by_key(|action| action.at_ms);
    let mut book = FaultBook::new(spec.packet_loss);
    for action in actions {
        hosts.advance_to_ms(action.at_ms).await;
        apply(&mut hosts, &mut book, action);
    }
    hosts.advance_to_ms(spec.duration_ms).await;
    let end_ms = now_ms();
    let results = hosts.with_world(|world| {
        let end = world.finish(end_ms);
        let (recorder, observer) = world.take_results();
        (recorder, end, end_ms, observer)
    });
    hosts.shut_down();
    results
}

/// A fault starts or ends: the book says what changes, the hosts and the world apply it.
fn apply(hosts: &mut impl Hosts, book: &mut FaultBook, action: &TimedAction) {
    let now_ms = now_ms();
    hosts.with_world(|world| world.record_fault(now_ms, &action.label));
    let changes = match &action.action {
        FaultAction::End => book.end(action.fault),
        FaultAction::Evict { actors, fraction } => {
            let picked = pick(hosts, action.fault, actors, *fraction);
            // An actor a down fault holds stays down.
            for idx in picked.into_iter().filter(|idx| !book.is_down(*idx)) {
                hosts.restart(idx, now_ms);
            }
            return;
        }
        FaultAction::Misroute {
            entities, fraction, ..
        } => {
            let picked = pick(hosts, action.fault, entities, *fraction);
            book.start(action.fault, action.action.clone(), picked)
        }
        start => book.start(action.fault, start.clone(), Vec::new()),
    };
    apply_changes(hosts, &changes, now_ms);
    let state = book.world_state();
    hosts.with_world(|world| world.faults_mut().install(&state));
}

/// The actors fault `fault` takes among `candidates`: `fraction` of them drawn from the fault
/// stream, or all of them; recorded for `z0sim run --export`.
fn pick(
    hosts: &mut impl Hosts,
    fault: usize,
    candidates: &[ActorIdx],
    fraction: Option<f64>,
) -> Vec<ActorIdx> {
    hosts.with_world(|world| {
        let picked = match fraction {
            Some(fraction) => world.faults_mut().pick(candidates, fraction),
            None => candidates.to_vec(),
        };
        world.record_pick(fault, &picked);
        picked
    })
}

/// What the hosts change for the faults in force.
fn apply_changes(hosts: &mut impl Hosts, changes: &HostChanges, now_ms: u64) {
    for idx in &changes.kill {
        hosts.kill(*idx, now_ms);
    }
    for idx in &changes.restart {
        hosts.restart(*idx, now_ms);
    }
    for (from, to, clogged) in &changes.clog {
        hosts.set_clogged(*from, *to, *clogged);
    }
    if let Some(rate) = changes.packet_loss {
        hosts.set_packet_loss(rate);
    }
}

async fn sleep_until_ms(at_ms: u64) {
    let now_ms = now_ms();
    if at_ms > now_ms {
        sleep(Duration::from_millis(at_ms - now_ms)).await;
    }
}

/// The `madsim` transport: a madsim node per actor, by index. A kill or restart is the node's,
/// and partitions clog the nodes' links.
struct MadsimHosts {
    world: Shared,
    handle: Handle,
    nodes: Vec<NodeHandle>,
    shared: NodeShared,
}

impl MadsimHosts {
    fn start(world: World, spec: &WorldSpec) -> Self {
        let world = Shared::new(world);
        let handle = Handle::current();
        let shared = NodeShared::default();
        let nodes = (0..spec.actors.len())
            .map(|idx| {
                let (world, shared) = (world.clone(), shared.clone());
                handle
                    .create_node()
                    .name(spec.actors[idx].id.to_string())
                    .ip(actor_addr(idx).ip())
                    .init(move || actor_main(world.clone(), idx, shared.clone()))
                    .build()
            })
            .collect();
        Self {
            world,
            handle,
            nodes,
            shared,
        }
    }
}

impl Hosts for MadsimHosts {
    fn with_world<R>(&mut self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.world.lock())
    }

    async fn advance_to_ms(&mut self, at_ms: u64) {
        sleep_until_ms(at_ms).await;
    }

    fn kill(&mut self, idx: ActorIdx, now_ms: u64) {
        self.world.lock().kill_actor(idx, now_ms);
        self.shared.wakers.close(idx);
        self.handle.kill(self.nodes[idx].id());
    }

    fn restart(&mut self, idx: ActorIdx, now_ms: u64) {
        self.world.lock().kill_actor(idx, now_ms);
        self.shared.wakers.close(idx);
        // madsim's `restart` does not reset the node's network state; only `kill` does.
        // Without the kill the new instance cannot bind its address again.
        self.handle.kill(self.nodes[idx].id());
        self.handle.restart(self.nodes[idx].id());
    }

    fn set_clogged(&mut self, from: ActorIdx, to: ActorIdx, clogged: bool) {
        let (from, to) = (self.nodes[from].id(), self.nodes[to].id());
        if clogged {
            NetSim::current().clog_link(from, to);
        } else {
            NetSim::current().unclog_link(from, to);
        }
    }

    fn set_packet_loss(&mut self, rate: f64) {
        NetSim::current().update_config(|config| config.packet_loss_rate = rate);
    }

    fn shut_down(self) {
        // madsim never drops tasks still pending when the main future returns, and every
        // node's tasks hold the world: without this, each run would leak its whole world
        // (about 1 MB for smoke, gigabytes over a long sweep or fuzz run;
        // tests/fuzz_regressions.rs).
        for node in &self.nodes {
            self.handle.kill(node.id());
        }
    }
}

/// The `direct` transport: the actors live in the world alone; its network checks
/// incarnations and links.
struct DirectHosts {
    world: World,
    transport: DirectTransport,
}

impl DirectHosts {
    /// Starts every actor at time 0, in index order.
    fn start(mut world: World, spec: &WorldSpec) -> Self {
        let mut transport = DirectTransport::new(spec);
        for idx in 0..spec.actors.len() {
            transport.start_actor(&mut world, idx, 0);
        }
        Self { world, transport }
    }
}

impl Hosts for DirectHosts {
    fn with_world<R>(&mut self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.world)
    }

    async fn advance_to_ms(&mut self, at_ms: u64) {
        let until_ns = at_ms.saturating_mul(NS_PER_MS);
        self.transport.run_until(&mut self.world, until_ns);
        sleep_until_ms(at_ms).await;
    }

    fn kill(&mut self, idx: ActorIdx, now_ms: u64) {
        self.transport.kill_actor(&mut self.world, idx, now_ms);
    }

    fn restart(&mut self, idx: ActorIdx, now_ms: u64) {
        self.transport.kill_actor(&mut self.world, idx, now_ms);
        self.transport.start_actor(&mut self.world, idx, now_ms);
    }

    fn set_clogged(&mut self, from: ActorIdx, to: ActorIdx, clogged: bool) {
        self.transport.net_mut().set_clogged(from, to, clogged);
    }

    fn set_packet_loss(&mut self, rate: f64) {
        self.transport.net_mut().set_packet_loss(rate);
    }

    fn shut_down(self) {}
}
