//! The simulated world: every actor's durable storage, its live (in-memory) ledger, alarms,
//! the queue, the active faults and the recorder. Node tasks are thin: they wait for time or
//! messages and call into the world, which feeds the sans-IO ledgers and returns the calls to
//! make. Everything here is synchronous; one lock, never held across an await.

use crate::ledgers::entity::{rollup_child_fact_id, ROLLUP_SUBTYPE};
use crate::ledgers::{
    Accepted, ChildFactOutcome, DropReason, Effect, EntityLedger, EntityStorage, FailureKind,
    Message, MessageKey, PlatformLedger, PlatformStorage, PlatformTotals, SystemLedger,
    SystemStorage, TenantStorage, TenantSystemLedger,
};
use crate::ledgers::{BreakerState, CallId};
use crate::model::validate::validate_sdk_fact;
use crate::model::{ActorId, FactError, FactId, Limits, SdkData};
use crate::runtime::direct::DirectNet;
use crate::runtime::hostile::{HostileInjector, HostileKind, Receiver};
use crate::runtime::observe::{Observation, ObservationLog};
use crate::runtime::recorder::{Counters, EventKind, Recorder};
use crate::runtime::rpc::{Body, Reply};
use crate::runtime::spec::{ActorIdx, ActorInit, Transport, WorldSpec};
use crate::runtime::workload::{derive_seed, purpose, LocalOp, WorkloadStream};
use futures::channel::mpsc::UnboundedSender;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::{BTreeMap, VecDeque};

/// Alarm retries after a failed handler run before the alarm is deleted (Cloudflare).
pub const ALARM_MAX_RETRIES: u32 = 6;
/// First alarm retry delay, doubled per retry, ms.
pub const ALARM_RETRY_BASE_MS: u64 = 2_000;

/// Alarm retries kept in the recorder's log (the counters count them all).
pub const ALARM_RETRY_LOG_LIMIT: usize = 10_000;

/// Delay before retry number `retry` (1-based) of a failed alarm handler: 2 s * 2^(retry - 1)
/// plus up to 25 % jitter (`jitter_unit` in [0, 1)). `None` past the last retry: the alarm is
/// deleted.
pub fn alarm_retry_delay_ms(retry: u32, jitter_unit: f64) -> Option<u64> {
    if retry == 0 || retry > ALARM_MAX_RETRIES {
        return None;
    }
    let base_ms = ALARM_RETRY_BASE_MS << (retry - 1);
    Some(base_ms + (base_ms as f64 * 0.25 * jitter_unit.clamp(0.0, 1.0)) as u64)
}

/// A delivery the runtime must carry out over the network.
#[derive(Clone, Debug)]
pub struct Call {
    /// The calling actor.
    pub caller: ActorIdx,
    /// Its incarnation: outcomes for an older one go nowhere.
    pub incarnation: u64,
    /// The target actor, if it exists.
    pub target: Option<ActorIdx>,
    /// The target's name.
    pub target_id: ActorId,
    /// The caller's call id.
    pub call_id: CallId,
    /// What to deliver.
    pub body: Body,
    /// The delivered message's identity (none for queue batches).
    pub key: Option<MessageKey>,
    /// No answer within this counts as a timeout, ms.
    pub timeout_ms: u64,
    /// A forged fact (the `hostile_facts` fault): its outcome only counts, it reaches no
    /// client.
    pub hostile: Option<HostileKind>,
}

/// What a receiver answers, and when.
#[derive(Clone, Debug)]
pub struct Handled {
    /// The answer.
    pub reply: Reply,
    /// Delay before the answer leaves (service time, slowness), ms.
    pub reply_delay_ms: u64,
    /// Calls the handling caused.
    pub calls: Vec<Call>,
}

enum Durable {
    Entity(EntityStorage),
    System(SystemStorage),
    Tenant(TenantStorage),
    Platform(PlatformStorage),
    Queue(QueueState),
}

enum Live {
    Entity(Box<EntityLedger>),
    System(SystemLedger),
    Tenant(Box<TenantSystemLedger>),
    Platform(PlatformLedger),
    Queue,
}

#[derive(Default)]
struct QueueState {
    buffer: VecDeque<Message>,
    oldest_buffered_ms: Option<u64>,
    batch: Option<Batch>,
    next_call_id: CallId,
    dead_letters: Vec<Message>,
}

struct Batch {
    messages: Vec<Message>,
    deliveries: u32,
    in_flight: Option<CallId>,
    retry_at_ms: u64,
}

struct Actor {
    id: ActorId,
    group: String,
    init: ActorInit,
    durable: Durable,
    live: Option<Live>,
    incarnation: u64,
    alarm_at_ms: Option<u64>,
    alarm_retries: u32,
    workload: Option<WorkloadStream>,
    in_service_until_ms: VecDeque<u64>,
    /// Wakes the actor's node to look at its next timer again (the `madsim` transport).
    waker: Option<UnboundedSender<()>>,
    /// The timer armed in the network's schedule (the `direct` transport): a scheduled timer
    /// fires only while it is this one, so a moved timer needs no removal.
    timer_armed_ms: Option<u64>,
    /// The last `(has_work, alarm_set)` noted for a tenant ledger.
    tenant_state_noted: Option<(bool, bool)>,
    /// SDK fact ids this receiver acknowledged as stored (ground truth for durability). Only
    /// counted at the end, never iterated into output, so a fixed-hasher set is deterministic.
    acknowledged: FxHashSet<FactId>,
}

/// Faults currently in force (the network-level ones live in madsim's NetSim, or in the
/// `direct` transport's network).
#[derive(Default)]
struct ActiveFaults {
    overload_rate: BTreeMap<ActorIdx, f64>,
    extra_latency_ms: BTreeMap<ActorIdx, u64>,
    alarm_failure_rate: BTreeMap<ActorIdx, f64>,
    queue_duplicate_rate: f64,
    queue_consumer_failure_rate: f64,
    /// Entity -> the wrong ledger its SDK facts go to.
    misrouted: BTreeMap<ActorIdx, ActorIdx>,
}

/// What a run leaves behind besides the recorder.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Acknowledged SDK facts missing from their receiver's storage at the end.
    pub durability_violations: u64,
    /// SDK facts stored per system ledger.
    pub system_facts: BTreeMap<String, u64>,
    /// Clients whose breaker is not CLOSED at the end.
    pub breakers_not_closed: u64,
    /// Observations still buffered in entities at the end (open periods, unsent facts).
    pub buffered_at_end: u64,
    /// Tenant payloads still pending at the end.
    pub tenant_payloads_pending: u64,
    /// Messages in the dead-letter queue.
    pub dead_letters: u64,
    /// SDK facts still held by entities' observability clients (fallback off): the entity,
    /// the fact, and the observations it carries. Some never left the client (emitted while
    /// the breaker was OPEN, or queued behind the one in flight), so nothing else names their
    /// entity.
    pub buffered_keys: Vec<(ActorIdx, MessageKey, u64)>,
    /// Per tracked entity (stats on): observations the workload generated and it counted.
    pub generated: BTreeMap<ActorIdx, u64>,
    /// Per tracked entity: observations in its open stats periods at the end.
    pub open_at_end: BTreeMap<ActorIdx, u64>,
    /// Per entity: appends (and rollups) its ledger acknowledged (ground truth).
    pub acknowledged_appends: BTreeMap<ActorIdx, u64>,
    /// Per entity: domain facts in its durable storage at the end.
    pub stored_domain_facts: BTreeMap<ActorIdx, u64>,
    /// Per parent entity: the child fact ids its stored rollups record (with repeats).
    pub rollups_stored: BTreeMap<ActorIdx, Vec<FactId>>,
    /// The platform ledger's stored totals, per tenant and overall (multi_tenant).
    pub platform: Option<(BTreeMap<String, PlatformTotals>, PlatformTotals)>,
}

/// The simulated world.
pub struct World {
    rpc_timeout_ms: u64,
    max_in_flight: usize,
    service_time_ms: u64,
    actors: Vec<Actor>,
    /// Lookup only (never iterated), so a hash map cannot make a run nondeterministic.
    names: FxHashMap<ActorId, ActorIdx>,
    faults: ActiveFaults,
    fault_rng: SmallRng,
    queue_rng: SmallRng,
    alarm_rng: SmallRng,
    hostile: HostileInjector,
    next_reply_tag: u64,
    open_since_ms: BTreeMap<(ActorIdx, ActorId), u64>,
    /// What was observed.
    pub recorder: Recorder,
    /// Whether to keep the observation log (the oracle needs it; benchmarks may not).
    observe: bool,
    /// Per entity with stats tracking: observations generated and counted (ground truth for
    /// conservation; lookup and increment only).
    generated: BTreeMap<ActorIdx, u64>,
    /// Per entity: appends (and rollups) its ledger acknowledged.
    acknowledged_appends: BTreeMap<ActorIdx, u64>,
    /// Everything observed, in order (see [`Observation`]).
    pub observations: ObservationLog,
    /// The network of the `direct` transport (none with `madsim::net`).
    pub net: Option<DirectNet>,
}

fn observations_in(message: &Message) -> u64 {
    let Message::SdkFact(fact) = message else {
        return 0;
    };
    match validate_sdk_fact(fact, u64::MAX / 2, &Limits::default()) {
        Ok(SdkData::CacheStats(stats)) => stats.hits + stats.misses,
        Ok(SdkData::FactAppended(appended)) => appended.count,
        _ => 0,
    }
}

impl World {
    /// A world for `spec`, nothing started yet.
    pub fn new(spec: &WorldSpec) -> Self {
        let actors: Vec<Actor> = spec
            .actors
            .iter()
            .map(|actor| Actor {
                id: actor.id.clone(),
                group: actor.group.clone(),
                init: actor.init.clone(),
                durable: match &actor.init {
                    ActorInit::Entity { .. } => Durable::Entity(EntityStorage::default()),
                    ActorInit::System { .. } => Durable::System(SystemStorage::default()),
                    ActorInit::Tenant { .. } => Durable::Tenant(TenantStorage::default()),
                    ActorInit::Platform { .. } => Durable::Platform(PlatformStorage::default()),
                    ActorInit::Queue { .. } => Durable::Queue(QueueState::default()),
                },
                live: None,
                incarnation: 0,
                alarm_at_ms: None,
                alarm_retries: 0,
                workload: match &actor.init {
                    ActorInit::Entity {
                        workload,
                        entity_index,
                        ..
                    } => Some(WorkloadStream::new(workload, spec.seed, *entity_index)),
                    _ => None,
                },
                in_service_until_ms: VecDeque::new(),
                waker: None,
                timer_armed_ms: None,
                tenant_state_noted: None,
                acknowledged: FxHashSet::default(),
            })
            .collect();
        let names = actors
            .iter()
            .enumerate()
            .map(|(idx, actor)| (actor.id.clone(), idx))
            .collect();
        Self {
            rpc_timeout_ms: spec.rpc_timeout_ms,
            max_in_flight: spec.max_in_flight as usize,
            service_time_ms: spec.service_time_ms,
            actors,
            names,
            faults: ActiveFaults::default(),
            fault_rng: SmallRng::seed_from_u64(derive_seed(spec.seed, purpose::FAULTS, 0)),
            queue_rng: SmallRng::seed_from_u64(derive_seed(spec.seed, purpose::QUEUE, 0)),
            alarm_rng: SmallRng::seed_from_u64(derive_seed(spec.seed, purpose::ALARMS, 0)),
            hostile: HostileInjector::new(derive_seed(spec.seed, purpose::HOSTILE, 0)),
            next_reply_tag: 1 << 32,
            open_since_ms: BTreeMap::new(),
            recorder: Recorder::default(),
            observe: spec.observe,
            generated: BTreeMap::new(),
            acknowledged_appends: BTreeMap::new(),
            observations: ObservationLog::default(),
            net: (spec.transport == Transport::Direct).then(|| {
                DirectNet::new(
                    derive_seed(spec.seed, purpose::NETWORK, 0),
                    spec.latency_ms,
                    spec.packet_loss,
                )
            }),
        }
    }

    fn note(&mut self, observation: impl FnOnce() -> Observation) {
        if self.observe {
            self.observations.push(observation());
        }
    }

    /// Notes a tenant ledger's state when it differs from the last one noted for it (a
    /// tenant handles a fact every few milliseconds, and its state rarely changes).
    fn note_tenant_state(&mut self, idx: ActorIdx, now_ms: u64) {
        let actor = &mut self.actors[idx];
        if let Durable::Tenant(storage) = &actor.durable {
            let (has_work, alarm_set) = (storage.has_work(), actor.alarm_at_ms.is_some());
            if actor.tenant_state_noted == Some((has_work, alarm_set)) {
                return;
            }
            actor.tenant_state_noted = Some((has_work, alarm_set));
            self.note(|| Observation::TenantState {
                at_ms: now_ms,
                actor: idx,
                has_work,
                alarm_set,
            });
        }
    }

    /// Number of actors.
    pub fn actor_count(&self) -> usize {
        self.actors.len()
    }

    /// An actor's name.
    pub fn actor_id(&self, idx: ActorIdx) -> &ActorId {
        &self.actors[idx].id
    }

    /// An actor's partition group.
    pub fn group(&self, idx: ActorIdx) -> &str {
        &self.actors[idx].group
    }

    /// Whether the actor is running.
    pub fn is_live(&self, idx: ActorIdx) -> bool {
        self.actors[idx].live.is_some()
    }

    /// The actor's incarnation, if it is running.
    pub fn live_incarnation(&self, idx: ActorIdx) -> Option<u64> {
        let actor = &self.actors[idx];
        actor.live.as_ref().map(|_| actor.incarnation)
    }

    /// The actor's current incarnation (the next one while it is down: a kill moves it on).
    pub fn incarnation(&self, idx: ActorIdx) -> u64 {
        self.actors[idx].incarnation
    }

    /// A fresh reply tag for a call (deterministic: a counter).
    pub fn next_reply_tag(&mut self) -> u64 {
        self.next_reply_tag += 1;
        self.next_reply_tag
    }

    /// Draws from the fault stream: true with probability `rate`.
    pub fn fault_draw(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.fault_rng.gen::<f64>() < rate
    }

    /// Records the start or end of a fault in the trace.
    pub fn record_fault(&mut self, now_ms: u64, label: &str) {
        self.recorder.trace.mix_str(label);
        self.recorder.event(now_ms, EventKind::Fault, 0, 0);
        tracing::info!(target: "z0sim::trace", now_ms, fault = label, "fault");
    }

    /// Runs the actor's constructor on its storage (start or restart); returns its calls.
    pub fn start_actor(
        &mut self,
        idx: ActorIdx,
        now_ms: u64,
        waker: Option<UnboundedSender<()>>,
    ) -> Vec<Call> {
        let mut effects = Vec::new();
        let actor = &mut self.actors[idx];
        debug_assert!(actor.live.is_none(), "{} started twice", actor.id);
        if actor.incarnation > 0 {
            self.recorder.counters.restarts += 1;
        }
        actor.waker = waker;
        actor.in_service_until_ms.clear();
        let live = match (&actor.init, &mut actor.durable) {
            (ActorInit::Entity { config, .. }, Durable::Entity(storage)) => {
                // Operations due while the entity was not running never happened (README,
                // "Runtime"): its ledger's clock starts now.
                if let Some(workload) = actor.workload.as_mut() {
                    self.recorder.counters.ops_skipped_while_down += workload.skip_before(now_ms);
                }
                let (ledger, report) =
                    EntityLedger::start(config.clone(), now_ms, storage, &mut effects);
                if self.observe {
                    self.observations.push(Observation::Hydrated {
                        at_ms: now_ms,
                        actor: idx,
                        facts_replayed: report.facts_replayed.unwrap_or(0),
                        acknowledged: self.acknowledged_appends.get(&idx).copied().unwrap_or(0),
                    });
                }
                Live::Entity(Box::new(ledger))
            }
            (ActorInit::System { limits }, Durable::System(_)) => {
                Live::System(SystemLedger::new(*limits))
            }
            (ActorInit::Tenant { config }, Durable::Tenant(storage)) => {
                // The alarm survives a restart; the storage mirror says whether one is set.
                storage.alarm_ms = actor.alarm_at_ms;
                Live::Tenant(Box::new(TenantSystemLedger::start(
                    config.clone(),
                    now_ms,
                    storage,
                    &mut effects,
                )))
            }
            (ActorInit::Platform { limits }, Durable::Platform(_)) => {
                Live::Platform(PlatformLedger::new(*limits))
            }
            (ActorInit::Queue { .. }, Durable::Queue(_)) => Live::Queue,
            _ => unreachable_durable(),
        };
        actor.live = Some(live);
        let incarnation = actor.incarnation;
        self.recorder
            .event(now_ms, EventKind::Start, idx, incarnation);
        self.note(|| Observation::Started {
            at_ms: now_ms,
            actor: idx,
        });
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, incarnation, "start");
        let calls = self.apply_effects(idx, now_ms, effects);
        // On `madsim` the node's timer loop starts by looking at the timer.
        if self.net.is_some() {
            self.arm_timer(idx);
        }
        calls
    }

    /// The actor's next timer may have moved: its node looks again (`madsim` transport), or
    /// it is re-armed in the network's schedule (`direct`).
    fn wake(&mut self, idx: ActorIdx) {
        if self.net.is_some() {
            self.arm_timer(idx);
        } else if let Some(waker) = &self.actors[idx].waker {
            let _ = waker.unbounded_send(());
        }
    }

    /// Puts the actor's next timer in the `direct` network's schedule, unless it is there
    /// already; the one it replaces stays scheduled and is ignored when it comes up.
    fn arm_timer(&mut self, idx: ActorIdx) {
        let next_ms = self.next_timer_ms(idx);
        let actor = &mut self.actors[idx];
        if actor.live.is_none() || next_ms == actor.timer_armed_ms {
            return;
        }
        actor.timer_armed_ms = next_ms;
        if let (Some(at_ms), Some(net)) = (next_ms, self.net.as_mut()) {
            net.schedule_timer(at_ms, idx, actor.incarnation);
        }
    }

    /// A timer of the `direct` network's schedule came up at `now_ms`: if it is still the
    /// actor's armed timer, it fires, and the actor's next one is armed.
    pub fn fire_timer(
        &mut self,
        idx: ActorIdx,
        incarnation: u64,
        at_ms: u64,
        now_ms: u64,
    ) -> Vec<Call> {
        let actor = &mut self.actors[idx];
        let current = actor.live.is_some()
            && actor.incarnation == incarnation
            && actor.timer_armed_ms == Some(at_ms);
        if !current {
            return Vec::new();
        }
        actor.timer_armed_ms = None;
        let calls = self.on_timer(idx, now_ms);
        self.arm_timer(idx);
        calls
    }

    /// Kills the actor: its in-memory state (open stats periods, unsent facts, breakers,
    /// in-flight calls) is gone; storage and alarm survive. What it loses is counted.
    pub fn kill_actor(&mut self, idx: ActorIdx, now_ms: u64) {
        if self.actors[idx].live.is_none() {
            return;
        }
        let _ = self.advance_entity(idx, now_ms);
        let actor = &mut self.actors[idx];
        if let Some(Live::Entity(ledger)) = &actor.live {
            let open = ledger
                .cache()
                .open_period()
                .map_or(0, |open| open.hits + open.misses);
            let backlog: u64 = ledger
                .observability_client()
                .map_or(0, |client| client.backlog().map(observations_in).sum());
            self.recorder.counters.lost_on_restart += open + ledger.open_appended_count() + backlog;
            if self.observe {
                let backlog_keys = ledger.observability_client().map_or(Vec::new(), |client| {
                    client
                        .backlog()
                        .map(|message| (message.key(), observations_in(message)))
                        .collect()
                });
                self.observations.push(Observation::Killed {
                    at_ms: now_ms,
                    actor: idx,
                    open_observations: open + ledger.open_appended_count(),
                    backlog: backlog_keys,
                });
            }
            self.recorder.counters.sdk_facts_emitted += ledger
                .observability_client()
                .map_or(0, |client| client.counters().emitted);
        }
        actor.live = None;
        actor.waker = None;
        actor.timer_armed_ms = None;
        actor.incarnation += 1;
        let now_open: Vec<(ActorIdx, ActorId)> = self
            .open_since_ms
            .keys()
            .filter(|(caller, _)| *caller == idx)
            .cloned()
            .collect();
        for key in now_open {
            if let Some(since_ms) = self.open_since_ms.remove(&key) {
                self.recorder.breaker_open.record(now_ms - since_ms);
            }
        }
        self.recorder.event(now_ms, EventKind::Kill, idx, 0);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, "kill");
    }

    /// When the actor's node must wake next, ms: the next local operation with an effect
    /// (entities), the alarm (tenants), the batch deadline (queue).
    pub fn next_timer_ms(&mut self, idx: ActorIdx) -> Option<u64> {
        let actor = &mut self.actors[idx];
        match (&actor.live, &actor.durable) {
            (Some(Live::Entity(ledger)), _) => {
                let workload = actor.workload.as_mut()?;
                let stats = ledger
                    .stats_due_at_ms()
                    .and_then(|due_ms| workload.first_cache_get_at_or_after(due_ms));
                let appends = if ledger.parent_client().is_some() {
                    workload.first_append_at_or_after(0)
                } else {
                    ledger
                        .appended_due_at_ms()
                        .and_then(|due_ms| workload.first_append_at_or_after(due_ms))
                };
                [stats, appends].into_iter().flatten().min()
            }
            (Some(Live::Tenant(_)), _) => actor.alarm_at_ms,
            (Some(Live::Queue), Durable::Queue(queue)) => queue_deadline_ms(queue, &actor.init),
            _ => None,
        }
    }

    /// The actor's timer fired at `now_ms`.
    pub fn on_timer(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        self.recorder.event(now_ms, EventKind::Timer, idx, 0);
        match self.actors[idx].live {
            Some(Live::Entity(_)) => self.advance_entity(idx, now_ms),
            Some(Live::Tenant(_)) => self.fire_alarm(idx, now_ms),
            Some(Live::Queue) => self.queue_tick(idx, now_ms),
            _ => Vec::new(),
        }
    }

    /// Applies the entity's local operations up to `now_ms`, each at its own time.
    fn advance_entity(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let mut effects = Vec::new();
        let actor = &mut self.actors[idx];
        let (
            Some(Live::Entity(ledger)),
            Durable::Entity(storage),
            Some(workload),
            ActorInit::Entity { config, .. },
        ) = (
            &mut actor.live,
            &mut actor.durable,
            &mut actor.workload,
            &actor.init,
        )
        else {
            return Vec::new();
        };
        // The same entity type the ledger was built with (the init is what a restart uses).
        let entity_type = config.meta.entity_type.as_str();
        let counters = &mut self.recorder.counters;
        // Stats tracking (observability wired and sampled) makes both aggregators count.
        let tracked = ledger.stats_due_at_ms().is_some();
        let mut counted = 0u64;
        let mut acknowledged = 0u64;
        while let Some((at_ms, op)) = workload.next_due(now_ms) {
            self.recorder.local_ops += 1;
            match op {
                LocalOp::CacheGet { hit } => {
                    if hit {
                        counters.cache_hits += 1;
                    } else {
                        counters.cache_misses += 1;
                    }
                    counted += 1;
                    ledger.cache_get(at_ms, storage, hit, &mut effects);
                }
                LocalOp::Append => {
                    match ledger.append_fact(
                        at_ms,
                        storage,
                        entity_type,
                        "updated",
                        serde_json::Value::Null,
                        &mut effects,
                    ) {
                        Ok(_) => {
                            counters.facts_appended += 1;
                            counted += 1;
                            acknowledged += 1;
                        }
                        Err(_) => counters.primary_ops_failed += 1,
                    }
                }
            }
        }
        if tracked && counted > 0 {
            *self.generated.entry(idx).or_default() += counted;
        }
        if acknowledged > 0 {
            *self.acknowledged_appends.entry(idx).or_default() += acknowledged;
        }
        if effects.is_empty() {
            return Vec::new();
        }
        self.apply_effects(idx, now_ms, effects)
    }

    fn fire_alarm(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let due = self.actors[idx]
            .alarm_at_ms
            .is_some_and(|at_ms| at_ms <= now_ms);
        if !due {
            return Vec::new();
        }
        let failure_rate = self
            .faults
            .alarm_failure_rate
            .get(&idx)
            .copied()
            .unwrap_or(0.0);
        let fails = failure_rate > 0.0 && self.alarm_rng.gen::<f64>() < failure_rate;
        let jitter = self.alarm_rng.gen::<f64>();
        let actor = &mut self.actors[idx];
        let (Some(Live::Tenant(ledger)), Durable::Tenant(storage)) =
            (&mut actor.live, &mut actor.durable)
        else {
            return Vec::new();
        };
        actor.alarm_at_ms = None;
        storage.alarm_ms = None;
        if fails {
            self.recorder.counters.alarm_failures += 1;
            actor.alarm_retries += 1;
            match alarm_retry_delay_ms(actor.alarm_retries, jitter) {
                None => {
                    actor.alarm_retries = 0;
                    self.recorder.counters.alarms_deleted += 1;
                }
                Some(delay_ms) => {
                    let retry_at_ms = now_ms + delay_ms;
                    actor.alarm_at_ms = Some(retry_at_ms);
                    storage.alarm_ms = Some(retry_at_ms);
                    if self.recorder.alarm_retries.len() < ALARM_RETRY_LOG_LIMIT {
                        self.recorder
                            .alarm_retries
                            .push((actor.alarm_retries, delay_ms));
                    }
                }
            }
            tracing::debug!(target: "z0sim::trace", now_ms, actor = %actor.id, retries = actor.alarm_retries, "alarm handler failed");
            return Vec::new();
        }
        actor.alarm_retries = 0;
        let mut effects = Vec::new();
        ledger.on_alarm(now_ms, storage, &mut effects);
        let calls = self.apply_effects(idx, now_ms, effects);
        self.note_tenant_state(idx, now_ms);
        calls
    }

    /// Handles a request at actor `idx`.
    pub fn on_request(&mut self, idx: ActorIdx, body: Body, now_ms: u64) -> Handled {
        self.recorder.event(now_ms, EventKind::Request, idx, 0);
        let overloaded = Handled {
            reply: Reply {
                outcome: Err(FailureKind::Overloaded),
            },
            reply_delay_ms: 0,
            calls: Vec::new(),
        };
        let actor = &mut self.actors[idx];
        while actor
            .in_service_until_ms
            .front()
            .is_some_and(|until_ms| *until_ms <= now_ms)
        {
            actor.in_service_until_ms.pop_front();
        }
        let injected = self.faults.overload_rate.get(&idx).copied().unwrap_or(0.0);
        if actor.in_service_until_ms.len() >= self.max_in_flight
            || (injected > 0.0 && self.fault_rng.gen::<f64>() < injected)
        {
            self.recorder.counters.overloaded_answers += 1;
            return overloaded;
        }
        let (outcome, calls) = self.dispatch(idx, body, now_ms);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, ?outcome, "request handled");
        let actor = &mut self.actors[idx];
        let busy_from_ms = actor
            .in_service_until_ms
            .back()
            .copied()
            .unwrap_or(now_ms)
            .max(now_ms);
        let done_ms = busy_from_ms + self.service_time_ms;
        actor.in_service_until_ms.push_back(done_ms);
        let extra_ms = self.faults.extra_latency_ms.get(&idx).copied().unwrap_or(0);
        // A request can move an entity's or the queue's next timer. A tenant's timer is its
        // alarm, which only moves through `SetAlarm` (that wakes its node itself); system and
        // platform ledgers have none.
        let timer_may_move = matches!(actor.live, Some(Live::Entity(_) | Live::Queue));
        let reply_delay_ms = done_ms - now_ms + extra_ms;
        if timer_may_move {
            self.wake(idx);
        }
        Handled {
            reply: Reply { outcome },
            reply_delay_ms,
            calls,
        }
    }

    fn dispatch(
        &mut self,
        idx: ActorIdx,
        body: Body,
        now_ms: u64,
    ) -> (Result<(), FailureKind>, Vec<Call>) {
        let mut calls = self.advance_entity(idx, now_ms);
        let mut effects = Vec::new();
        let actor = &mut self.actors[idx];
        let counters = &mut self.recorder.counters;
        let outcome = match (&mut actor.live, &mut actor.durable, body) {
            (Some(live), durable, Body::Deliver(Message::SdkFact(fact)))
                if matches!(live, Live::System(_) | Live::Tenant(_)) =>
            {
                let id = fact.id.clone();
                let emitted_ms = fact.timestamp_ms;
                // The observation log keeps the fact: a tenant ledger only borrows it, the
                // SystemLedger stores its own copy.
                let (received, copy) = match (live, durable) {
                    (Live::System(ledger), Durable::System(storage)) => {
                        let copy = self.observe.then(|| Box::new(fact.clone()));
                        (ledger.on_sdk_fact(now_ms, storage, fact), copy)
                    }
                    (Live::Tenant(ledger), Durable::Tenant(storage)) => (
                        ledger.on_fact_ref(now_ms, storage, &fact, &mut effects),
                        self.observe.then(|| Box::new(fact)),
                    ),
                    // A ledger's storage always matches its kind (see `World::new`).
                    _ => (Err(FactError::MissingId), None),
                };
                match received {
                    Ok(Accepted::Stored) => {
                        counters.sdk_facts_delivered += 1;
                        if let Some(fact) = copy {
                            self.observations.push(Observation::Stored {
                                at_ms: now_ms,
                                receiver: idx,
                                fact,
                            });
                        }
                        self.recorder
                            .delivery
                            .record(now_ms.saturating_sub(emitted_ms));
                        actor.acknowledged.insert(id);
                        Ok(())
                    }
                    Ok(Accepted::Duplicate) => Ok(()),
                    Err(error) => Err(count_rejection(counters, &error)),
                }
            }
            (
                Some(Live::Platform(ledger)),
                Durable::Platform(storage),
                Body::Deliver(Message::TenantStats(payload)),
            ) => store_payload(
                ledger,
                storage,
                payload,
                now_ms,
                &mut self.recorder,
                self.observe.then_some(&mut self.observations),
            ),
            (Some(Live::Platform(ledger)), Durable::Platform(storage), Body::Batch(messages)) => {
                let rate = self.faults.queue_consumer_failure_rate;
                if rate > 0.0 && self.fault_rng.gen::<f64>() < rate {
                    Err(FailureKind::Error)
                } else {
                    for message in messages {
                        if let Message::TenantStats(payload) = message {
                            // A malformed payload in a batch is rejected alone; the batch is acknowledged.
                            let _ = store_payload(
                                ledger,
                                storage,
                                payload,
                                now_ms,
                                &mut self.recorder,
                                self.observe.then_some(&mut self.observations),
                            );
                        }
                    }
                    Ok(())
                }
            }
            (
                Some(Live::Queue),
                Durable::Queue(queue),
                Body::Deliver(message @ Message::TenantStats(_)),
            ) => {
                queue.buffer.push_back(message);
                queue.oldest_buffered_ms.get_or_insert(now_ms);
                Ok(())
            }
            (
                Some(Live::Entity(ledger)),
                Durable::Entity(storage),
                Body::Deliver(Message::ChildFact { child, fact }),
            ) => {
                let child_fact = fact.id.clone();
                let accepted = ledger.on_child_fact(now_ms, storage, &child, fact, &mut effects);
                if accepted.is_ok() && self.observe {
                    self.observations.push(Observation::ChildDelivered {
                        at_ms: now_ms,
                        parent: idx,
                        child_fact,
                    });
                }
                match accepted {
                    Ok(ChildFactOutcome::RolledUp(_)) => {
                        counters.rollups += 1;
                        counters.facts_appended += 1;
                        *self.acknowledged_appends.entry(idx).or_default() += 1;
                        if ledger.appended_due_at_ms().is_some() {
                            *self.generated.entry(idx).or_default() += 1;
                        }
                        Ok(())
                    }
                    Ok(ChildFactOutcome::Duplicate) => Ok(()),
                    Err(error) => Err(count_rejection(counters, &error)),
                }
            }
            _ => Err(FailureKind::Error),
        };
        calls.extend(self.apply_effects(idx, now_ms, effects));
        self.note_tenant_state(idx, now_ms);
        (outcome, calls)
    }

    /// Feeds a call's outcome back to its caller, if that incarnation still lives.
    pub fn on_call_result(
        &mut self,
        call: &Call,
        outcome: Result<(), FailureKind>,
        now_ms: u64,
    ) -> Vec<Call> {
        let caller = call.caller;
        if self.actors[caller].incarnation != call.incarnation || self.actors[caller].live.is_none()
        {
            return Vec::new();
        }
        self.recorder.event(
            now_ms,
            EventKind::CallResult,
            caller,
            u64::from(outcome.is_ok()),
        );
        if call.hostile.is_some() {
            self.hostile_result(outcome);
            return Vec::new();
        }
        if let (Ok(()), Some(key)) = (outcome, &call.key) {
            if self.is_observability_call(call) {
                self.hostile.on_acknowledged(caller, key);
            }
        }
        if let Some(key) = &call.key {
            self.note(|| Observation::Outcome {
                at_ms: now_ms,
                caller,
                key: key.clone(),
                ok: outcome.is_ok(),
            });
        }
        let mut calls = self.advance_entity(caller, now_ms);
        let mut effects = Vec::new();
        let actor = &mut self.actors[caller];
        match (&mut actor.live, &mut actor.durable) {
            (Some(Live::Entity(ledger)), Durable::Entity(_)) => ledger.on_delivery_result(
                now_ms,
                &call.target_id,
                call.call_id,
                outcome,
                &mut effects,
            ),
            (Some(Live::Tenant(ledger)), Durable::Tenant(storage)) => {
                ledger.on_delivery_result(now_ms, storage, call.call_id, outcome, &mut effects)
            }
            (Some(Live::Queue), Durable::Queue(_)) => {
                return self.queue_result(caller, call.call_id, outcome, now_ms)
            }
            _ => {}
        }
        calls.extend(self.apply_effects(caller, now_ms, effects));
        self.note_tenant_state(caller, now_ms);
        calls
    }

    /// Carries out a state machine's effects: calls to make, counters, alarms.
    fn apply_effects(&mut self, idx: ActorIdx, now_ms: u64, effects: Vec<Effect>) -> Vec<Call> {
        let mut calls = Vec::new();
        let is_entity = matches!(self.actors[idx].init, ActorInit::Entity { .. });
        for effect in effects {
            match effect {
                Effect::Send {
                    target,
                    call_id,
                    message,
                    awaited: send_awaited,
                } => {
                    self.recorder.event(now_ms, EventKind::Send, idx, call_id);
                    let target_idx = self.names.get(&target).copied();
                    // A misroute changes where the message goes on the network, not which
                    // client sent it: observations and the outcome keep the intended target.
                    let destination = match (&message, self.faults.misrouted.get(&idx)) {
                        (Message::SdkFact(_), Some(wrong)) => Some(*wrong),
                        _ => target_idx,
                    };
                    let key = message.key();
                    let awaited = send_awaited;
                    self.note(|| Observation::Attempt {
                        at_ms: now_ms,
                        caller: idx,
                        target: target_idx,
                        key: key.clone(),
                        awaited,
                        observations: observations_in(&message),
                    });
                    tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, call_id, message = %message.key(), "send");
                    if is_entity && self.hostile.active() {
                        calls.extend(self.hostile_call(
                            idx,
                            destination,
                            &target,
                            &message,
                            now_ms,
                        ));
                    }
                    calls.push(Call {
                        caller: idx,
                        incarnation: self.actors[idx].incarnation,
                        target: destination,
                        target_id: target,
                        call_id,
                        body: Body::Deliver(message),
                        key: Some(key),
                        timeout_ms: self.rpc_timeout_ms,
                        hostile: None,
                    });
                }
                Effect::Dropped {
                    target,
                    key,
                    reason,
                    warned,
                    message,
                } => {
                    self.recorder
                        .event(now_ms, EventKind::Drop, idx, u64::from(warned));
                    tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, message = %key, ?reason, "drop");
                    let target_idx = self.names.get(&target).copied();
                    self.note(|| Observation::Dropped {
                        at_ms: now_ms,
                        caller: idx,
                        target: target_idx,
                        key,
                        reason,
                        observations: message.as_ref().map(observations_in),
                    });
                    let observability = match &self.actors[idx].init {
                        ActorInit::Entity { config, .. } => {
                            config.observability_target.as_ref() == Some(&target)
                        }
                        _ => false,
                    };
                    let counters = &mut self.recorder.counters;
                    if warned {
                        counters.fallback_warnings += 1;
                    }
                    match (observability, reason) {
                        (false, _) => counters.bubbled_dropped += 1,
                        (true, DropReason::BreakerOpen) => counters.dropped_breaker_open += 1,
                        (true, DropReason::DeliveryFailed(_)) => {
                            counters.dropped_delivery_failed += 1
                        }
                    }
                }
                Effect::Settled { key, result, .. } => {
                    if result.is_err() && is_entity {
                        self.recorder.counters.errors_surfaced += 1;
                    }
                    self.note(|| Observation::Settled {
                        at_ms: now_ms,
                        caller: idx,
                        key,
                        ok: result.is_ok(),
                    });
                }
                Effect::Breaker { target, transition } => {
                    self.recorder
                        .event(now_ms, EventKind::Breaker, idx, transition.to as u64);
                    tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, %target, from = ?transition.from, to = ?transition.to, "breaker");
                    let target_idx = self.names.get(&target).copied();
                    self.note(|| Observation::Transition {
                        at_ms: now_ms,
                        caller: idx,
                        target: target_idx,
                        from: transition.from,
                        to: transition.to,
                    });
                    let key = (idx, target);
                    match transition.to {
                        BreakerState::Open => {
                            self.recorder.counters.breaker_opened += 1;
                            self.open_since_ms.entry(key).or_insert(now_ms);
                        }
                        BreakerState::Closed => {
                            self.recorder.counters.breaker_closed += 1;
                            if let Some(since_ms) = self.open_since_ms.remove(&key) {
                                self.recorder.breaker_open.record(now_ms - since_ms);
                            }
                        }
                        BreakerState::HalfOpen => {}
                    }
                }
                Effect::SetAlarm { at_ms } => {
                    let actor = &mut self.actors[idx];
                    actor.alarm_at_ms = Some(at_ms);
                    self.wake(idx);
                }
            }
        }
        calls
    }

    fn queue_tick(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let ActorInit::Queue {
            consumer,
            max_batch_size,
            max_batch_timeout_ms,
            ..
        } = &self.actors[idx].init
        else {
            return Vec::new();
        };
        let (consumer, max_batch_size, max_batch_timeout_ms) =
            (consumer.clone(), *max_batch_size, *max_batch_timeout_ms);
        let incarnation = self.actors[idx].incarnation;
        let Durable::Queue(queue) = &mut self.actors[idx].durable else {
            return Vec::new();
        };
        if queue.batch.is_none() {
            let full = queue.buffer.len() >= max_batch_size;
            let timed_out = queue
                .oldest_buffered_ms
                .is_some_and(|oldest_ms| now_ms >= oldest_ms + max_batch_timeout_ms);
            if !(full || timed_out) || queue.buffer.is_empty() {
                return Vec::new();
            }
            let take = queue.buffer.len().min(max_batch_size);
            let mut messages: Vec<Message> = queue.buffer.drain(..take).collect();
            // Unordered delivery: a seeded shuffle of each batch.
            for position in (1..messages.len()).rev() {
                let other = self.queue_rng.gen_range(0..=position);
                messages.swap(position, other);
            }
            queue.oldest_buffered_ms = (!queue.buffer.is_empty()).then_some(now_ms);
            queue.batch = Some(Batch {
                messages,
                deliveries: 0,
                in_flight: None,
                retry_at_ms: now_ms,
            });
        }
        let Some(batch) = queue.batch.as_mut() else {
            return Vec::new();
        };
        if batch.in_flight.is_some() || now_ms < batch.retry_at_ms {
            return Vec::new();
        }
        if batch.deliveries > 0 {
            self.recorder.counters.queue_redeliveries += batch.messages.len() as u64;
        }
        batch.deliveries += 1;
        let call_id = queue.next_call_id;
        queue.next_call_id += 1;
        batch.in_flight = Some(call_id);
        vec![Call {
            caller: idx,
            incarnation,
            target: self.names.get(&consumer).copied(),
            target_id: consumer,
            call_id,
            body: Body::Batch(batch.messages.clone()),
            key: None,
            timeout_ms: self.rpc_timeout_ms,
            hostile: None,
        }]
    }

    fn queue_result(
        &mut self,
        idx: ActorIdx,
        call_id: CallId,
        outcome: Result<(), FailureKind>,
        now_ms: u64,
    ) -> Vec<Call> {
        let (max_retries, retry_delay_ms) = match &self.actors[idx].init {
            ActorInit::Queue {
                max_retries,
                max_batch_timeout_ms,
                ..
            } => (*max_retries, *max_batch_timeout_ms),
            _ => return Vec::new(),
        };
        let duplicate_rate = self.faults.queue_duplicate_rate;
        let Durable::Queue(queue) = &mut self.actors[idx].durable else {
            return Vec::new();
        };
        let Some(batch) = queue.batch.as_mut() else {
            return Vec::new();
        };
        if batch.in_flight != Some(call_id) {
            return Vec::new();
        }
        batch.in_flight = None;
        match outcome {
            Ok(()) => {
                let Some(batch) = queue.batch.take() else {
                    return Vec::new();
                };
                for message in batch.messages {
                    if duplicate_rate > 0.0 && self.queue_rng.gen::<f64>() < duplicate_rate {
                        self.recorder.counters.queue_redeliveries += 1;
                        queue.buffer.push_back(message);
                        queue.oldest_buffered_ms.get_or_insert(now_ms);
                    }
                }
            }
            Err(_) if batch.deliveries > max_retries => {
                if let Some(batch) = queue.batch.take() {
                    self.recorder.counters.dead_lettered += batch.messages.len() as u64;
                    queue.dead_letters.extend(batch.messages);
                }
            }
            Err(_) => batch.retry_at_ms = now_ms + retry_delay_ms,
        }
        self.wake(idx);
        Vec::new()
    }

    /// Sets or clears an injected fault on these actors.
    pub fn set_overload(&mut self, actors: &[ActorIdx], rate: f64) {
        set_rate(&mut self.faults.overload_rate, actors, rate);
    }

    /// Sets or clears extra reply latency on these actors.
    pub fn set_extra_latency(&mut self, actors: &[ActorIdx], extra_ms: u64) {
        for idx in actors {
            if extra_ms == 0 {
                self.faults.extra_latency_ms.remove(idx);
            } else {
                self.faults.extra_latency_ms.insert(*idx, extra_ms);
            }
        }
    }

    /// Sets or clears alarm handler failures on these actors.
    pub fn set_alarm_failure(&mut self, actors: &[ActorIdx], rate: f64) {
        set_rate(&mut self.faults.alarm_failure_rate, actors, rate);
    }

    /// Misroutes the observability deliveries of `entities` to `to` (`None`: ends every
    /// misroute).
    pub fn set_misroute(&mut self, entities: &[ActorIdx], to: Option<ActorIdx>) {
        match to {
            Some(to) => {
                for idx in entities {
                    self.faults.misrouted.insert(*idx, to);
                }
            }
            None => self.faults.misrouted.clear(),
        }
    }

    /// Starts (rate > 0) or ends the `hostile_facts` fault.
    pub fn set_hostile_rate(&mut self, rate: f64) {
        self.hostile.set_rate(rate);
    }

    /// Whether `call` carries an entity's SDK fact to its own observability target.
    fn is_observability_call(&self, call: &Call) -> bool {
        matches!(&self.actors[call.caller].init, ActorInit::Entity { config, .. }
            if config.observability_target.as_ref() == Some(&call.target_id))
    }

    /// Maybe a forged fact to follow `message` (an entity's send) to `destination`.
    fn hostile_call(
        &mut self,
        idx: ActorIdx,
        destination: Option<ActorIdx>,
        target_id: &ActorId,
        message: &Message,
        now_ms: u64,
    ) -> Option<Call> {
        let (Message::SdkFact(real), Some(receiver_idx)) = (message, destination) else {
            return None;
        };
        let (limits, own_tenant) = match &self.actors[receiver_idx].init {
            ActorInit::System { limits } => (*limits, None),
            ActorInit::Tenant { config } => (config.limits, Some(config.tenant_id.as_str())),
            _ => return None,
        };
        // Another real tenant's id (the first other one, in actor order); a made-up one when
        // there is a single tenant.
        let other_tenant = own_tenant.map(|own| {
            self.actors
                .iter()
                .find_map(|actor| match &actor.init {
                    ActorInit::Tenant { config } if config.tenant_id != own => {
                        Some(config.tenant_id.clone())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| format!("{own}-intruder"))
        });
        let receiver = Receiver {
            limits,
            now_ms,
            other_tenant: other_tenant.as_deref(),
            stored_id: None,
        };
        let (kind, fact) = self.hostile.maybe_forge(idx, real, &receiver)?;
        self.recorder.counters.hostile_sent += 1;
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, kind = kind.name(), fact = %fact.id, "hostile fact");
        self.note(|| Observation::HostileSent {
            at_ms: now_ms,
            sender: idx,
            receiver: receiver_idx,
            kind,
            fact: Box::new(fact.clone()),
        });
        Some(Call {
            caller: idx,
            incarnation: self.actors[idx].incarnation,
            target: Some(receiver_idx),
            target_id: target_id.clone(),
            call_id: CallId::MAX,
            body: Body::Deliver(Message::SdkFact(fact)),
            key: None,
            timeout_ms: self.rpc_timeout_ms,
            hostile: Some(kind),
        })
    }

    /// Counts how a receiver answered a forged fact.
    fn hostile_result(&mut self, outcome: Result<(), FailureKind>) {
        let counters = &mut self.recorder.counters;
        match outcome {
            Err(FailureKind::Error) => counters.hostile_rejected += 1,
            Ok(()) => counters.hostile_accepted += 1,
            Err(_) => {}
        }
    }

    /// Sets the queue duplicate rate.
    pub fn set_queue_duplicate(&mut self, rate: f64) {
        self.faults.queue_duplicate_rate = rate;
    }

    /// Sets the queue consumer failure rate.
    pub fn set_queue_consumer_failure(&mut self, rate: f64) {
        self.faults.queue_consumer_failure_rate = rate;
    }

    /// Picks `fraction` of `actors` with the fault stream (each independently).
    pub fn pick(&mut self, actors: &[ActorIdx], fraction: f64) -> Vec<ActorIdx> {
        actors
            .iter()
            .copied()
            .filter(|_| self.fault_draw(fraction))
            .collect()
    }

    /// Ends the run at `now_ms`: applies outstanding local operations and checks what the
    /// receivers acknowledged is still stored.
    pub fn finish(&mut self, now_ms: u64) -> Outcome {
        let mut outcome = Outcome::default();
        for idx in 0..self.actors.len() {
            let _ = self.advance_entity(idx, now_ms);
        }
        outcome.acknowledged_appends = self.acknowledged_appends.clone();
        outcome.generated = self
            .generated
            .iter()
            .map(|(idx, count)| (*idx, *count))
            .collect();
        for (idx, actor) in self.actors.iter().enumerate() {
            match (&actor.live, &actor.durable) {
                (Some(Live::Entity(ledger)), _) => {
                    let open = ledger
                        .cache()
                        .open_period()
                        .map_or(0, |open| open.hits + open.misses);
                    let backlog: u64 = ledger
                        .observability_client()
                        .map_or(0, |client| client.backlog().map(observations_in).sum());
                    outcome.buffered_at_end += open + ledger.open_appended_count() + backlog;
                    if let Some(client) = ledger.observability_client() {
                        outcome.buffered_keys.extend(
                            client
                                .backlog()
                                .map(|message| (idx, message.key(), observations_in(message))),
                        );
                    }
                    if ledger.stats_due_at_ms().is_some() {
                        outcome
                            .open_at_end
                            .insert(idx, open + ledger.open_appended_count());
                    }
                    self.recorder.counters.sdk_facts_emitted += ledger
                        .observability_client()
                        .map_or(0, |client| client.counters().emitted);
                    for client in [ledger.observability_client(), ledger.parent_client()]
                        .into_iter()
                        .flatten()
                    {
                        if client.breaker().state() != BreakerState::Closed {
                            outcome.breakers_not_closed += 1;
                        }
                    }
                }
                (Some(Live::Tenant(ledger)), Durable::Tenant(storage)) => {
                    outcome.tenant_payloads_pending += storage.pending.len() as u64;
                    if ledger.client().breaker().state() != BreakerState::Closed {
                        outcome.breakers_not_closed += 1;
                    }
                }
                _ => {}
            }
            let missing = match &actor.durable {
                Durable::System(storage) => {
                    outcome
                        .system_facts
                        .insert(actor.id.to_string(), storage.facts().count() as u64);
                    actor
                        .acknowledged
                        .iter()
                        .filter(|id| !storage.contains(id))
                        .count()
                }
                Durable::Tenant(storage) => actor
                    .acknowledged
                    .iter()
                    .filter(|id| !storage.seen.contains(id))
                    .count(),
                Durable::Queue(queue) => {
                    outcome.dead_letters += queue.dead_letters.len() as u64;
                    0
                }
                Durable::Platform(storage) => {
                    outcome.platform = Some((storage.per_tenant.clone(), storage.overall));
                    0
                }
                Durable::Entity(storage) => {
                    outcome
                        .stored_domain_facts
                        .insert(idx, storage.facts.len() as u64);
                    let rollups: Vec<FactId> = storage
                        .facts
                        .with_subtype(ROLLUP_SUBTYPE)
                        .filter_map(|fact| rollup_child_fact_id(&fact))
                        .collect();
                    if !rollups.is_empty() {
                        outcome.rollups_stored.insert(idx, rollups);
                    }
                    0
                }
            };
            outcome.durability_violations += missing as u64;
        }
        for (_, since_ms) in std::mem::take(&mut self.open_since_ms) {
            self.recorder.breaker_open.record(now_ms - since_ms);
        }
        outcome
    }
}

/// Counts a fact a receiver rejected (another tenant's, or malformed) and gives the answer the
/// sender gets: an error, which its breaker counts as a failure.
fn count_rejection(counters: &mut Counters, error: &FactError) -> FailureKind {
    match error {
        FactError::ForeignTenant { .. } => counters.rejected_cross_tenant += 1,
        _ => counters.rejected_malformed += 1,
    }
    FailureKind::Error
}

fn store_payload(
    ledger: &mut PlatformLedger,
    storage: &mut PlatformStorage,
    payload: crate::model::TenantStatsPayload,
    now_ms: u64,
    recorder: &mut Recorder,
    observations: Option<&mut ObservationLog>,
) -> Result<(), FailureKind> {
    let period_end_ms = payload.period_end_ms;
    let copy = observations.is_some().then(|| Box::new(payload.clone()));
    match ledger.on_payload(now_ms, storage, payload) {
        Ok(Accepted::Stored) => {
            if let (Some(observations), Some(payload)) = (observations, copy) {
                observations.push(Observation::PayloadStored {
                    at_ms: now_ms,
                    payload,
                });
            }
            recorder.counters.tenant_payloads_delivered += 1;
            recorder
                .tenant_flush_lag
                .record(now_ms.saturating_sub(period_end_ms));
            Ok(())
        }
        Ok(Accepted::Duplicate) => Ok(()),
        Err(_) => {
            recorder.counters.rejected_malformed += 1;
            Err(FailureKind::Error)
        }
    }
}

fn queue_deadline_ms(queue: &QueueState, init: &ActorInit) -> Option<u64> {
    let ActorInit::Queue {
        max_batch_size,
        max_batch_timeout_ms,
        ..
    } = init
    else {
        return None;
    };
    if let Some(batch) = &queue.batch {
        return batch.in_flight.is_none().then_some(batch.retry_at_ms);
    }
    let oldest_ms = queue.oldest_buffered_ms?;
    if queue.buffer.len() >= *max_batch_size {
        return Some(oldest_ms);
    }
    Some(oldest_ms + max_batch_timeout_ms)
}

fn set_rate(rates: &mut BTreeMap<ActorIdx, f64>, actors: &[ActorIdx], rate: f64) {
    for idx in actors {
        if rate > 0.0 {
            rates.insert(*idx, rate);
        } else {
            rates.remove(idx);
        }
    }
}

#[cold]
fn unreachable_durable() -> Live {
    unreachable!("an actor's storage always matches its kind")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_retries_back_off_from_two_seconds_with_at_most_a_quarter_of_jitter() {
        for retry in 1..=ALARM_MAX_RETRIES {
            let base_ms = 2_000u64 << (retry - 1);
            assert_eq!(alarm_retry_delay_ms(retry, 0.0), Some(base_ms));
            let jittered = alarm_retry_delay_ms(retry, 0.999).expect("within the retries");
            assert!(jittered > base_ms && jittered <= base_ms + base_ms / 4);
        }
    }

    #[test]
    fn an_alarm_is_deleted_after_its_sixth_retry() {
        assert_eq!(alarm_retry_delay_ms(ALARM_MAX_RETRIES + 1, 0.5), None);
        assert_eq!(alarm_retry_delay_ms(0, 0.5), None);
    }
}
