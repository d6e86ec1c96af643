//! The simulated world: every actor's durable storage and live ledger, their alarms, the queue,
//! the faults in force, the recorder and the observer. It is synchronous and knows no
//! transport: a transport calls its entry points (an actor starts, is killed, gets a request, a
//! call's outcome, a timer) and carries out what each returns (a [`Step`]: calls to send, and
//! whether the actor's timer moved).
//!
//! One file per concern: [`actor`] (an actor's kind with its storage and ledger), `entity`
//! (local operations), `receive` (requests), `effects` (what the ledgers ask for), `alarms`,
//! `metrics_queue` (the queue's glue), `faults`, `forge` (hostile facts) and `end` (the state at
//! the end of a run, as data).

mod actor;
mod alarms;
mod consumer;
mod effects;
mod end;
mod entity;
mod faults;
mod forge;
mod idle;
mod metrics_queue;
mod ops;
mod reader;
mod receive;

pub use end::{EndOfRun, PayloadRef, TenantEnd};
pub use faults::Faults;

use crate::ledgers::CallId;
use crate::ledgers::TenantSystemLedger;
use crate::ledgers::{DeliveryOutcome, Effect, EntityLedger, PlatformLedger, SystemLedger};
use crate::model::ActorId;
use crate::runtime::call::{Body, Call, ReplyToken, Served, Step};
use crate::runtime::idle::IdleConfig;
use crate::runtime::observe::{Observation, Observer};
use crate::runtime::observe::{OpKind, Trigger};
use crate::runtime::overload::OverloadLimits;
use crate::runtime::queue::Verdict;
use crate::runtime::recorder::{EventKind, Recorder};
use crate::runtime::seed::{purpose, stream};
use crate::runtime::spec::{ActorIdx, WorldSpec};
use actor::{Actor, ActorKind};
use rand::rngs::SmallRng;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// Settings every actor shares.
#[derive(Clone, Copy, Debug)]
struct Settings {
    rpc_timeout_ms: u64,
    overload: OverloadLimits,
    service_time_ms: u64,
    idle: IdleConfig,
}

/// Ground truth the workload and the ledgers' answers give, per entity (lookup and increment
/// only, ordered maps).
#[derive(Default)]
struct GroundTruth {
    /// Per entity with stats tracking: observations generated and counted.
    generated: BTreeMap<ActorIdx, u64>,
    /// Per entity: appends (and rollups) its ledger acknowledged.
    acknowledged_appends: BTreeMap<ActorIdx, u64>,
}

/// The observer of the run, if any (benchmarks run without one).
struct Observers(Option<Box<dyn Observer>>);

impl Observers {
    /// Hands the observer what `observation` builds (built only when someone observes).
    fn note<'a>(&mut self, observation: impl FnOnce() -> Observation<'a>) {
        if let Some(observer) = self.0.as_mut() {
            observer.observe(&observation());
        }
    }
}

/// The simulated world.
pub struct World {
    settings: Settings,
    actors: Vec<Actor>,
    /// Lookup only (never iterated), so a hash map cannot make a run nondeterministic.
    names: FxHashMap<ActorId, ActorIdx>,
    faults: Faults,
    queue_rng: SmallRng,
    alarm_rng: SmallRng,
    idle_rng: SmallRng,
    /// Since when each (client actor, target) breaker has been OPEN, ms.
    breaker_open_since_ms: BTreeMap<(ActorIdx, ActorId), u64>,
    recorder: Recorder,
    observer: Observers,
    truth: GroundTruth,
    /// Set when the stepping actor's next timer may have moved; taken into its [`Step`].
    timer_moved: bool,
    /// Answers to deferred requests the stepping actor gives now; taken into its [`Step`].
    replies: Vec<(ReplyToken, DeliveryOutcome)>,
    /// The consumer's verdicts on queue batches, by the queue's call id, until the queue
    /// takes them with the invocation's answer.
    batch_verdicts: BTreeMap<CallId, Vec<Verdict>>,
}

impl World {
    /// A world for `spec`, nothing started yet; `observer` sees what happens.
    pub fn new(spec: &WorldSpec, observer: Option<Box<dyn Observer>>) -> Self {
        let actors: Vec<Actor> = spec
            .actors
            .iter()
            .map(|actor| Actor::new(actor, spec.seed))
            .collect();
        let names = actors
            .iter()
            .enumerate()
            .map(|(idx, actor)| (actor.id.clone(), idx))
            .collect();
        Self {
            settings: Settings {
                rpc_timeout_ms: spec.rpc_timeout_ms,
                overload: spec.overload,
                service_time_ms: spec.service_time_ms,
                idle: spec.idle,
            },
            actors,
            names,
            faults: Faults::new(spec.seed),
            queue_rng: stream(spec.seed, purpose::QUEUE, 0),
            alarm_rng: stream(spec.seed, purpose::ALARMS, 0),
            idle_rng: stream(spec.seed, purpose::IDLE, 0),
            breaker_open_since_ms: BTreeMap::new(),
            recorder: Recorder::default(),
            observer: Observers(observer),
            truth: GroundTruth::default(),
            timer_moved: false,
            replies: Vec::new(),
            batch_verdicts: BTreeMap::new(),
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

    /// Whether the actor is running.
    pub fn is_live(&self, idx: ActorIdx) -> bool {
        self.actors[idx].is_live()
    }

    /// The actor's incarnation, if it is running.
    pub fn live_incarnation(&self, idx: ActorIdx) -> Option<u64> {
        let actor = &self.actors[idx];
        actor.is_live().then_some(actor.incarnation)
    }

    /// The actor's current incarnation (the next one while it is down: a kill moves it on).
    pub fn incarnation(&self, idx: ActorIdx) -> u64 {
        self.actors[idx].incarnation
    }

    /// What the recorder holds so far.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The faults in force, to start or end one.
    pub fn faults_mut(&mut self) -> &mut Faults {
        &mut self.faults
    }

    /// Records which actors fault `fault` took (an eviction's or a misroute's pick).
    pub fn record_pick(&mut self, fault: usize, picked: &[ActorIdx]) {
        self.recorder.fault_picks.push((fault, picked.to_vec()));
    }

    /// Records the start or end of a fault in the trace.
    pub fn record_fault(&mut self, now_ms: u64, label: &str) {
        self.recorder.trace.mix_str(label);
        self.recorder.event(now_ms, EventKind::Fault, 0, 0);
        tracing::info!(target: "z0sim::trace", now_ms, fault = label, "fault");
    }

    /// Runs the actor's constructor on its storage (start or restart).
    pub fn start_actor(&mut self, idx: ActorIdx, now_ms: u64) -> Step {
        crate::runtime::log::set_sim_now_ms(now_ms);
        let actor = &mut self.actors[idx];
        debug_assert!(!actor.is_live(), "{actor} started twice");
        if actor.incarnation > 0 {
            self.recorder.counters.restarts += 1;
        }
        actor.requests.clear();
        if let ActorKind::Entity(entity) = &actor.kind {
            if now_ms < entity.workload.arrival_ms() {
                // Not asked for yet (`[workload] start_spread`): reachable, and constructed by
                // its first operation or request, like an object evicted for being idle.
                actor.dormant = true;
                self.timer_moved = true;
                return self.step(Vec::new());
            }
        }
        let calls = self.construct(idx, now_ms, true);
        self.step(calls)
    }

    /// The constructor on the actor's storage at `now_ms`: its new in-memory state, what it
    /// emits, its idle stretch. `skip_missed`: operations due before now never happened (after
    /// a kill; not after an idle eviction, where each would have woken it).
    fn construct(&mut self, idx: ActorIdx, now_ms: u64, skip_missed: bool) -> Vec<Call> {
        let mut effects = Vec::new();
        let actor = &mut self.actors[idx];
        match &mut actor.kind {
            ActorKind::Entity(entity) => {
                // Operations due while the entity was not running never happened (README,
                // "Runtime"): its ledger's clock starts now.
                if skip_missed {
                    self.recorder.counters.ops_skipped_while_down +=
                        entity.workload.skip_before(now_ms);
                }
                let (ledger, report) = EntityLedger::start(
                    entity.config.clone(),
                    now_ms,
                    &mut entity.storage,
                    &mut effects,
                );
                entity.ledger = Some(Box::new(ledger));
                entity.arrived = true;
                let acknowledged = self.truth.acknowledged_appends.get(&idx);
                let acknowledged = acknowledged.copied().unwrap_or(0);
                self.observer.note(|| Observation::Hydrated {
                    at_ms: now_ms,
                    actor: idx,
                    facts_replayed: report.facts_replayed.unwrap_or(0),
                    acknowledged,
                });
            }
            ActorKind::System(system) => system.ledger = Some(SystemLedger::new(system.limits)),
            ActorKind::Tenant(tenant) => {
                // The alarm survives a restart; the storage mirror says whether one is set.
                tenant.storage.alarm_ms = actor.alarm.at_ms();
                let ledger = TenantSystemLedger::start(
                    tenant.config.clone(),
                    now_ms,
                    &mut tenant.storage,
                    &mut effects,
                );
                tenant.ledger = Some(Box::new(ledger));
            }
            ActorKind::Platform(platform) => {
                platform.ledger = Some(PlatformLedger::new(platform.limits));
            }
            ActorKind::Queue(queue) => {
                queue.running = true;
                // The answers to its deliveries went to the incarnation that made them.
                let settlement = queue.queue.forget_in_flight(now_ms);
                metrics_queue::count_settlement(&mut self.recorder.counters, &settlement);
                self.timer_moved = true;
            }
            ActorKind::Consumer(consumer) => consumer.running = true,
            ActorKind::Reader(reader) => reader.running = true,
        }
        if actor.is_durable_object() {
            actor
                .idle
                .start(&self.settings.idle, now_ms, &mut self.idle_rng);
            actor.last_active_ms = now_ms;
        }
        let incarnation = actor.incarnation;
        self.recorder
            .event(now_ms, EventKind::Start, idx, incarnation);
        self.observer.note(|| Observation::Started {
            at_ms: now_ms,
            actor: idx,
        });
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, incarnation, "start");
        if let Some((mut context, history)) = self.op_context(idx) {
            let kind = Some(OpKind::Start);
            context.record(history, idx, kind, now_ms, Trigger::Start, &mut effects, 0);
        }
        self.apply_effects(idx, now_ms, effects)
    }

    /// Kills the actor: its in-memory state (open stats periods, unsent facts, breakers,
    /// in-flight calls) is gone; storage and alarm survive. What it loses is counted.
    pub fn kill_actor(&mut self, idx: ActorIdx, now_ms: u64) {
        if !self.actors[idx].is_live() {
            return;
        }
        // What the entity did up to now happened; the calls it would make die with it.
        drop(self.advance_entity(idx, now_ms));
        self.count_entity_losses(idx, now_ms, false);
        if let Some((mut context, history)) = self.op_context(idx) {
            context.end_waiting(history, idx, now_ms, true);
        }
        if self.actors[idx].alarm.is_running() {
            // The handler run dies with the object: a failed run, retried.
            let jitter_unit = rand::Rng::gen::<f64>(&mut self.alarm_rng);
            self.end_alarm_run(idx, now_ms, crate::ledgers::RunOutcome::Failed, jitter_unit);
        }
        let actor = &mut self.actors[idx];
        actor.stop();
        actor.incarnation += 1;
        self.end_breaker_episodes(idx, now_ms);
        self.recorder.event(now_ms, EventKind::Kill, idx, 0);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, "kill");
        self.timer_moved = false;
    }

    /// When the actor's next timer is due, ms: the next local operation with an effect
    /// (entities), the alarm (tenants), the batch deadline (queue), the idle check (Durable
    /// Objects); for a dormant object, what wakes it (its next operation, its alarm).
    pub fn next_timer_ms(&mut self, idx: ActorIdx) -> Option<u64> {
        let actor = &mut self.actors[idx];
        if actor.dormant {
            return idle::dormant_wake_ms(actor);
        }
        let idle_check_ms = actor.idle.check_at_ms();
        let own_ms = match &mut actor.kind {
            ActorKind::Entity(_) => actor.running_entity().and_then(entity::next_effect_ms),
            ActorKind::Tenant(tenant) if tenant.ledger.is_some() => actor.alarm.wake_ms(),
            ActorKind::Queue(queue) if queue.running => queue.queue.deadline_ms(),
            ActorKind::Reader(reader) if reader.running => reader.reader.next_read_ms(),
            _ => None,
        };
        [own_ms, idle_check_ms].into_iter().flatten().min()
    }

    /// The actor's timer fired at `now_ms`.
    pub fn on_timer(&mut self, idx: ActorIdx, now_ms: u64) -> Step {
        self.recorder.event(now_ms, EventKind::Timer, idx, 0);
        let mut calls = Vec::new();
        if self.actors[idx].dormant {
            if idle::dormant_wake_ms(&mut self.actors[idx]).is_none_or(|at_ms| at_ms > now_ms) {
                return self.step(calls);
            }
            calls = self.wake(idx, now_ms);
        }
        let actor = &self.actors[idx];
        calls.extend(match &actor.kind {
            _ if !actor.is_live() => Vec::new(),
            ActorKind::Entity(_) => self.advance_entity(idx, now_ms),
            ActorKind::Tenant(_) => self.fire_alarm(idx, now_ms),
            ActorKind::Queue(_) => self.queue_tick(idx, now_ms),
            ActorKind::Reader(_) => self.reader_tick(idx, now_ms),
            ActorKind::System(_) | ActorKind::Platform(_) | ActorKind::Consumer(_) => Vec::new(),
        });
        if self.actors[idx]
            .idle
            .check_at_ms()
            .is_some_and(|at_ms| at_ms <= now_ms)
        {
            self.idle_check(idx, now_ms);
        }
        self.step(calls)
    }

    /// Handles a request at actor `idx` (running: the transport delivers only to a running
    /// incarnation).
    pub fn on_request(&mut self, idx: ActorIdx, body: Body, now_ms: u64) -> Served {
        self.recorder.event(now_ms, EventKind::Request, idx, 0);
        debug_assert!(
            self.actors[idx].is_live(),
            "{} got a request while down",
            self.actors[idx]
        );
        if matches!(self.actors[idx].kind, ActorKind::Consumer(_)) {
            // A Worker, not a Durable Object: no request queue; the queue bounds its
            // invocations.
            let Body::Batch { batch_id, messages } = body else {
                unreachable!("the queue consumer gets queue batches only");
            };
            return self.consumer_invoke(idx, batch_id, messages);
        }
        let mut calls = Vec::new();
        if self.actors[idx].dormant {
            calls = self.wake(idx, now_ms);
        }
        let Some(done_ms) = self.admit_request(idx, now_ms, body.approx_bytes()) else {
            self.recorder.counters.overloaded_answers += 1;
            return Served {
                outcome: Err(crate::ledgers::FailureKind::Overloaded),
                reply_delay_ms: 0,
                step: self.step(calls),
                deferred: None,
            };
        };
        let (outcome, served_calls) = self.dispatch(idx, body, now_ms);
        calls.extend(served_calls);
        let actor = &mut self.actors[idx];
        actor.last_active_ms = actor.last_active_ms.max(done_ms);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, ?outcome, "request handled");
        // A request can move an entity's or the queue's next timer. A tenant's timer is its
        // alarm, which only moves through `SetAlarm`; system and platform ledgers have none.
        if matches!(
            self.actors[idx].kind,
            ActorKind::Entity(_) | ActorKind::Queue(_)
        ) {
            self.timer_moved = true;
        }
        let extra_ms = self.faults.extra_latency_ms(idx);
        Served {
            outcome,
            reply_delay_ms: done_ms - now_ms + extra_ms,
            step: self.step(calls),
            deferred: None,
        }
    }

    /// Feeds a call's outcome back to its caller, if that incarnation still runs.
    pub fn on_call_result(&mut self, call: &Call, outcome: DeliveryOutcome, now_ms: u64) -> Step {
        let caller = call.caller;
        if self.live_incarnation(caller) != Some(call.incarnation) || self.actors[caller].dormant {
            return Step::default();
        }
        let actor = &mut self.actors[caller];
        actor.calls_in_flight = actor.calls_in_flight.saturating_sub(1);
        actor.last_active_ms = actor.last_active_ms.max(now_ms);
        self.recorder.event(
            now_ms,
            EventKind::CallResult,
            caller,
            u64::from(outcome.is_ok()),
        );
        if call.hostile.is_some() {
            forge::count_forged_answer(&mut self.recorder.counters, outcome);
            return Step::default();
        }
        if let (Ok(()), Some(key)) = (outcome, &call.key) {
            if self.is_observability_call(call) {
                self.faults.hostile.on_acknowledged(caller, key);
            }
        }
        if let Some(key) = &call.key {
            self.observer.note(|| Observation::Outcome {
                at_ms: now_ms,
                caller,
                target: self.names.get(&call.target_id).copied(),
                key,
                ok: outcome.is_ok(),
            });
        }
        if let Some(key) = &call.key {
            self.settle_emission(caller, key, outcome.is_ok(), now_ms);
        }
        let calls = self.delivery_result(caller, call, outcome, now_ms);
        self.step(calls)
    }

    /// The caller of `call` learns its outcome.
    fn delivery_result(
        &mut self,
        caller: ActorIdx,
        call: &Call,
        outcome: DeliveryOutcome,
        now_ms: u64,
    ) -> Vec<Call> {
        match self.actors[caller].kind {
            ActorKind::Queue(_) => return self.queue_result(caller, call.call_id, outcome, now_ms),
            ActorKind::Reader(_) => {
                self.read_result(outcome);
                return Vec::new();
            }
            ActorKind::Consumer(_) => {
                self.consumer_result(caller, call.call_id, outcome);
                return Vec::new();
            }
            _ => {}
        }
        let mut calls = self.advance_entity(caller, now_ms);
        let mut effects: Vec<Effect> = Vec::new();
        let mut run_ended = None;
        let actor = &mut self.actors[caller];
        match &mut actor.kind {
            ActorKind::Entity(entity) => {
                let ledger = entity.ledger.as_mut().expect("a live entity has a ledger");
                ledger.on_delivery_result(
                    now_ms,
                    &call.target_id,
                    call.call_id,
                    outcome,
                    &mut effects,
                );
            }
            ActorKind::Tenant(tenant) => {
                let ledger = tenant.ledger.as_mut().expect("a live tenant has a ledger");
                ledger.on_delivery_result(
                    now_ms,
                    &mut tenant.storage,
                    call.call_id,
                    outcome,
                    &mut effects,
                );
                run_ended = ledger.take_run_outcome();
            }
            kind => unreachable!("{} ({}) made no call", actor.id, kind.name()),
        }
        calls.extend(self.apply_effects(caller, now_ms, effects));
        if let Some(outcome) = run_ended {
            self.awaited_alarm_run_ended(caller, now_ms, outcome);
        }
        self.note_tenant_state(caller, now_ms);
        calls
    }

    /// Ends the run at `now_ms`: applies outstanding local operations and hands over what is
    /// left, as data (the oracle judges it).
    pub fn finish(&mut self, now_ms: u64) -> EndOfRun {
        crate::runtime::log::set_sim_now_ms(now_ms);
        for idx in 0..self.actors.len() {
            drop(self.advance_entity(idx, now_ms));
            if let Some((mut context, history)) = self.op_context(idx) {
                context.end_waiting(history, idx, now_ms, false);
            }
        }
        for actor in &mut self.actors {
            if let ActorKind::Queue(queue) = &mut actor.kind {
                queue.queue.expire(now_ms);
            }
        }
        for (_, since_ms) in std::mem::take(&mut self.breaker_open_since_ms) {
            self.recorder.breaker_open.record(now_ms - since_ms);
        }
        self.timer_moved = false;
        end::end_of_run(&mut self.actors, &self.truth, &mut self.recorder)
    }

    /// Takes the recorder and the observer out of the world, once its run is over.
    pub fn take_results(&mut self) -> (Recorder, Option<Box<dyn Observer>>) {
        (std::mem::take(&mut self.recorder), self.observer.0.take())
    }

    /// The calls of a step, with whether the stepping actor's timer moved.
    fn step(&mut self, calls: Vec<Call>) -> Step {
        for call in &calls {
            self.actors[call.caller].calls_in_flight += 1;
        }
        Step {
            calls,
            timer_moved: std::mem::take(&mut self.timer_moved),
            replies: std::mem::take(&mut self.replies),
        }
    }

    /// Notes a tenant ledger's state when it differs from the last one noted for it (a tenant
    /// handles a fact every few milliseconds, and its state rarely changes).
    fn note_tenant_state(&mut self, idx: ActorIdx, now_ms: u64) {
        let actor = &mut self.actors[idx];
        let ActorKind::Tenant(tenant) = &mut actor.kind else {
            return;
        };
        // A handler run in progress is responsible for the work as an alarm would be.
        let state = (tenant.storage.has_work(), actor.alarm.wake_ms().is_some());
        if tenant.state_noted == Some(state) {
            return;
        }
        tenant.state_noted = Some(state);
        self.observer.note(|| Observation::TenantState {
            at_ms: now_ms,
            actor: idx,
            has_work: state.0,
            alarm_set: state.1,
        });
    }

    /// Ends the OPEN episodes of actor `idx`'s breakers at `now_ms` (its clients are gone).
    fn end_breaker_episodes(&mut self, idx: ActorIdx, now_ms: u64) {
        let open: Vec<(ActorIdx, ActorId)> = self
            .breaker_open_since_ms
            .range((idx, ActorId::new(""))..)
            .take_while(|((caller, _), _)| *caller == idx)
            .map(|(key, _)| key.clone())
            .collect();
        for key in open {
            if let Some(since_ms) = self.breaker_open_since_ms.remove(&key) {
                self.recorder.breaker_open.record(now_ms - since_ms);
            }
        }
    }

    /// The index of the actor called `name`, if there is one.
    fn index_of(&self, name: &ActorId) -> Option<ActorIdx> {
        self.names.get(name).copied()
    }

    /// Whether `call` carries an entity's SDK fact to its own observability target.
    fn is_observability_call(&self, call: &Call) -> bool {
        matches!(&self.actors[call.caller].kind, ActorKind::Entity(entity)
            if entity.config.observability_target.as_ref() == Some(&call.target_id))
    }
}
