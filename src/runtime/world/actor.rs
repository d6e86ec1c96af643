//! One actor of the world: what every Durable Object has (name, incarnation, alarm, requests in
//! service) and, by kind, its durable storage together with its live ledger. Storage and ledger
//! of one kind sit in one variant, so a ledger can never be handed another kind's storage.

use crate::ledgers::CallId;
use crate::ledgers::{
    EntityConfig, EntityLedger, EntityStorage, PlatformLedger, PlatformStorage, SystemLedger,
    SystemStorage, TenantLedgerConfig, TenantStorage, TenantSystemLedger,
};
use crate::model::{ActorId, Limits};
use crate::runtime::alarm::Alarm;
use crate::runtime::call::ReplyToken;
use crate::runtime::idle::IdleClock;
use crate::runtime::overload::RequestQueue;
use crate::runtime::queue::{Queue, Verdict};
use crate::runtime::reader::Reader;
use crate::runtime::spec::{ActorInit, ActorSpec};
use crate::runtime::workload::WorkloadStream;
use std::collections::BTreeMap;
use std::fmt;

/// An actor: the runtime's part and its kind's storage and ledger.
pub(super) struct Actor {
    /// Its name.
    pub id: ActorId,
    /// Starts so far; a kill moves it on, so messages to an older one are dropped.
    pub incarnation: u64,
    /// Its one alarm (durable).
    pub alarm: Alarm,
    /// Its request queue (the requests in service or waiting, and recent arrivals).
    pub requests: RequestQueue,
    /// Its kind's storage and ledger.
    pub kind: ActorKind,
    /// Evicted for being idle: reachable, but its in-memory state is gone until its next
    /// request or alarm constructs it again.
    pub dormant: bool,
    /// Its idle stretch (Durable Objects only).
    pub idle: IdleClock,
    /// The end of its last activity (a request served, an outcome, an operation), ms.
    pub last_active_ms: u64,
    /// Its calls whose outcome has not come back yet.
    pub calls_in_flight: u64,
}

/// An actor's kind with its durable storage and its live ledger (`None` while it is down).
pub(super) enum ActorKind {
    Entity(EntityActor),
    System(SystemActor),
    Tenant(TenantActor),
    Platform(PlatformActor),
    Queue(QueueActor),
    Consumer(ConsumerActor),
    Reader(ReaderActor),
}

/// The queue's consumer Worker: stateless (a restart forgets its invocations), up to the
/// queue's `consumer_concurrency` invocations at once, each waiting for the platform's answers.
pub(super) struct ConsumerActor {
    /// The platform ledger's name.
    pub platform: ActorId,
    /// Invocations waiting for the platform, by the token of their deferred answer.
    pub invocations: BTreeMap<ReplyToken, Invocation>,
    /// Per call to the platform: its invocation and message index.
    pub calls: BTreeMap<CallId, (ReplyToken, usize)>,
    pub next_call_id: CallId,
    pub next_token: ReplyToken,
    pub running: bool,
}

/// One consumer invocation: a queue batch, each message's verdict once the platform answered.
pub(super) struct Invocation {
    /// The queue's call id of the batch.
    pub batch_id: CallId,
    pub verdicts: Vec<Option<Verdict>>,
    /// Messages the platform has not answered yet.
    pub open: usize,
}

/// The reader: no storage, only a running flag.
pub(super) struct ReaderActor {
    pub reader: Reader,
    pub running: bool,
}

/// An EntityLedger.
pub(super) struct EntityActor {
    /// Shared with the spec and the live ledger.
    pub config: std::sync::Arc<EntityConfig>,
    pub storage: EntityStorage,
    pub ledger: Option<Box<EntityLedger>>,
    /// Its local operations (they go on whether or not the entity runs).
    pub workload: WorkloadStream,
    /// What its current incarnation did: the ground truth of its operations.
    pub history: OpHistory,
    /// It has been constructed at least once (`[workload] start_spread` keeps an entity
    /// dormant, never constructed, until it arrives).
    pub arrived: bool,
}

/// An entity incarnation's last operations and the operations whose callers still wait.
#[derive(Default)]
pub(super) struct OpHistory {
    /// The last cache get, ms.
    pub last_cache_get_ms: Option<u64>,
    /// The last append (or rollup), ms.
    pub last_append_ms: Option<u64>,
    /// Operations whose callers wait for their emissions (fallback off).
    pub waiting: Vec<WaitingOp>,
}

/// A primary operation whose caller waits for its emissions.
pub(super) struct WaitingOp {
    pub kind: crate::runtime::observe::OpKind,
    pub started_ms: u64,
    /// Every emission it waits for.
    pub keys: Vec<crate::ledgers::MessageKey>,
    /// Those not settled yet.
    pub pending: Vec<crate::ledgers::MessageKey>,
    /// No error so far.
    pub ok: bool,
}

/// The SystemLedger.
pub(super) struct SystemActor {
    pub limits: Limits,
    pub storage: SystemStorage,
    pub ledger: Option<SystemLedger>,
}

/// A TenantSystemLedger.
pub(super) struct TenantActor {
    pub config: TenantLedgerConfig,
    pub storage: TenantStorage,
    pub ledger: Option<Box<TenantSystemLedger>>,
    /// The last `(has_work, alarm_set)` observed (the state is noted when it changes).
    pub state_noted: Option<(bool, bool)>,
}

/// The platform ledger.
pub(super) struct PlatformActor {
    pub limits: Limits,
    pub storage: PlatformStorage,
    pub ledger: Option<PlatformLedger>,
}

/// `PLATFORM_METRICS_QUEUE`: its state is durable; it has no ledger, only a running flag.
pub(super) struct QueueActor {
    pub queue: Queue,
    /// The consumer's name.
    pub consumer: ActorId,
    pub running: bool,
}

impl Actor {
    /// The actor `spec` describes, not started; `run_seed` seeds an entity's workload.
    pub fn new(spec: &ActorSpec, run_seed: u64) -> Self {
        let kind = match &spec.init {
            ActorInit::Entity {
                config,
                workload,
                entity_index,
            } => ActorKind::Entity(EntityActor {
                config: config.clone(),
                storage: EntityStorage::default(),
                ledger: None,
                workload: WorkloadStream::new(workload, run_seed, *entity_index),
                history: OpHistory::default(),
                arrived: false,
            }),
            ActorInit::System { limits } => ActorKind::System(SystemActor {
                limits: *limits,
                storage: SystemStorage::default(),
                ledger: None,
            }),
            ActorInit::Tenant { config } => ActorKind::Tenant(TenantActor {
                config: config.clone(),
                storage: TenantStorage::default(),
                ledger: None,
                state_noted: None,
            }),
            ActorInit::Platform { limits } => ActorKind::Platform(PlatformActor {
                limits: *limits,
                storage: PlatformStorage::default(),
                ledger: None,
            }),
            ActorInit::Reader(spec) => ActorKind::Reader(ReaderActor {
                reader: Reader::new(spec.clone(), run_seed),
                running: false,
            }),
            ActorInit::Queue { consumer, config } => ActorKind::Queue(QueueActor {
                queue: Queue::new(*config),
                consumer: consumer.clone(),
                running: false,
            }),
            ActorInit::Consumer { platform } => ActorKind::Consumer(ConsumerActor {
                platform: platform.clone(),
                invocations: BTreeMap::new(),
                calls: BTreeMap::new(),
                next_call_id: 0,
                next_token: 0,
                running: false,
            }),
        };
        Self {
            id: spec.id.clone(),
            incarnation: 0,
            alarm: Alarm::default(),
            requests: RequestQueue::default(),
            kind,
            dormant: false,
            idle: IdleClock::default(),
            last_active_ms: 0,
            calls_in_flight: 0,
        }
    }

    /// Whether it runs (its in-memory state exists, or it is dormant: reachable, constructed
    /// again by its next request or alarm).
    pub fn is_live(&self) -> bool {
        if self.dormant {
            return true;
        }
        match &self.kind {
            ActorKind::Entity(entity) => entity.ledger.is_some(),
            ActorKind::System(system) => system.ledger.is_some(),
            ActorKind::Tenant(tenant) => tenant.ledger.is_some(),
            ActorKind::Platform(platform) => platform.ledger.is_some(),
            ActorKind::Queue(queue) => queue.running,
            ActorKind::Consumer(consumer) => consumer.running,
            ActorKind::Reader(reader) => reader.running,
        }
    }

    /// Whether it is a Durable Object (idle eviction applies to those only).
    pub fn is_durable_object(&self) -> bool {
        matches!(
            self.kind,
            ActorKind::Entity(_)
                | ActorKind::System(_)
                | ActorKind::Tenant(_)
                | ActorKind::Platform(_)
        )
    }

    /// Drops its in-memory state (a kill or an eviction); storage and alarm stay.
    pub fn stop(&mut self) {
        self.dormant = false;
        self.idle.stop();
        self.calls_in_flight = 0;
        match &mut self.kind {
            ActorKind::Entity(entity) => entity.ledger = None,
            ActorKind::System(system) => system.ledger = None,
            ActorKind::Tenant(tenant) => tenant.ledger = None,
            ActorKind::Platform(platform) => platform.ledger = None,
            ActorKind::Queue(queue) => queue.running = false,
            ActorKind::Consumer(consumer) => {
                consumer.running = false;
                consumer.invocations.clear();
                consumer.calls.clear();
            }
            ActorKind::Reader(reader) => reader.running = false,
        }
    }

    /// The live entity ledger with its storage and workload, if this is a running entity.
    pub fn running_entity(&mut self) -> Option<RunningEntity<'_>> {
        match &mut self.kind {
            ActorKind::Entity(EntityActor {
                config,
                storage,
                ledger: Some(ledger),
                workload,
                history,
                ..
            }) => Some(RunningEntity {
                config,
                storage,
                ledger,
                workload,
                history,
            }),
            _ => None,
        }
    }
}

/// A running entity's parts, borrowed together.
pub(super) struct RunningEntity<'a> {
    pub config: &'a EntityConfig,
    pub storage: &'a mut EntityStorage,
    pub ledger: &'a mut EntityLedger,
    pub workload: &'a mut WorkloadStream,
    pub history: &'a mut OpHistory,
}

impl ActorKind {
    /// The kind's name, for messages about harness bugs.
    pub fn name(&self) -> &'static str {
        match self {
            ActorKind::Entity(_) => "entity ledger",
            ActorKind::System(_) => "SystemLedger",
            ActorKind::Tenant(_) => "TenantSystemLedger",
            ActorKind::Platform(_) => "platform ledger",
            ActorKind::Queue(_) => "queue",
            ActorKind::Consumer(_) => "queue consumer",
            ActorKind::Reader(_) => "reader",
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.kind.name())
    }
}
