//! What a run is made of: the actors, their wiring, runtime settings and timed fault actions.
//! The sim layer builds a [`WorldSpec`] from a scenario; the runtime only executes it.

use crate::ledgers::{EntityConfig, TenantLedgerConfig};
use crate::model::Name;
use crate::model::{ActorId, Limits};
use crate::runtime::idle::IdleConfig;
use crate::runtime::overload::OverloadLimits;
use crate::runtime::queue::QueueConfig;
use crate::runtime::reader::ReaderSpec;
use crate::runtime::workload::WorkloadSpec;
use std::collections::{BTreeMap, BTreeSet};

/// What carries messages between actors (`[network] transport`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// `madsim::net`: one endpoint per actor node, a task per call (the default).
    #[default]
    Madsim,
    /// [`crate::runtime::transport::direct`]: the same network model as a state machine
    /// ([`crate::runtime::transport::net`]), the actors' timers in its schedule, run by the
    /// supervisor between its actions; no node or task per actor, much faster.
    Direct,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Transport; 2] = [Transport::Madsim, Transport::Direct];

    /// The name used in scenario files.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Madsim => "madsim",
            Self::Direct => "direct",
        }
    }
}

/// Index of an actor in [`WorldSpec::actors`].
pub type ActorIdx = usize;

/// How to build an actor (again, after a restart).
#[derive(Clone, Debug)]
pub enum ActorInit {
    /// An EntityLedger with its workload.
    Entity {
        /// Wiring and tuning: one copy, shared with the actor and each of its ledgers (a
        /// million entities' configs are a few hundred megabytes each copy).
        config: std::sync::Arc<EntityConfig>,
        /// Its local operations.
        workload: WorkloadSpec,
        /// Index among entities (selects its random streams).
        entity_index: u64,
    },
    /// The SystemLedger.
    System {
        /// Validation bounds.
        limits: Limits,
    },
    /// A TenantSystemLedger.
    Tenant {
        /// Wiring and tuning.
        config: TenantLedgerConfig,
    },
    /// The platform ledger.
    Platform {
        /// Validation bounds.
        limits: Limits,
    },
    /// The reader (a dashboard querying the read side).
    Reader(ReaderSpec),
    /// `PLATFORM_METRICS_QUEUE`.
    Queue {
        /// The consumer actor.
        consumer: ActorId,
        /// Batching and retries.
        config: QueueConfig,
    },
    /// The queue's consumer Worker: it hands each message of a batch to the platform ledger
    /// and acknowledges what the platform stored, retrying the rest.
    Consumer {
        /// The platform ledger.
        platform: ActorId,
    },
}

/// One actor of the run.
#[derive(Clone, Debug)]
pub struct ActorSpec {
    /// Its name.
    pub id: ActorId,
    /// Its partition group: `entities`, `system`, `tenant:<n>`, `platform` (the queue is in
    /// `platform`), `consumer` (the queue's consumer Worker, which no fault targets).
    pub group: String,
    /// How to build it.
    pub init: ActorInit,
}

/// The actors' roles, by index, as the world was built: what the oracle needs to tell one
/// client or receiver from another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roles {
    /// By actor index: an entity's observability target, if wired (`None` for every other
    /// actor). Dense: the oracle asks for every attempt.
    pub observability_target: Vec<Option<ActorIdx>>,
    /// Tenant ledgers.
    pub tenants: BTreeSet<ActorIdx>,
    /// The tenant each tenant ledger and each entity belongs to.
    pub tenant_of: BTreeMap<ActorIdx, Name>,
}

impl Roles {
    /// Whether `target` is the observability target of entity `caller`.
    pub fn is_observability(&self, caller: ActorIdx, target: Option<ActorIdx>) -> bool {
        target.is_some() && self.observability_target.get(caller).copied().flatten() == target
    }
}

/// What a fault does when it starts (its end undoes it: [`FaultAction::End`]).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// These actors are down while the fault lasts.
    Kill(Vec<ActorIdx>),
    /// Restart this fraction of these actors, picked with the fault stream, or all of them
    /// without a draw when no fraction is given (eviction; at once, no end).
    Evict {
        /// Candidates.
        actors: Vec<ActorIdx>,
        /// Fraction restarted; `None`: every candidate, nothing drawn.
        fraction: Option<f64>,
    },
    /// These actors answer `overloaded` at this rate.
    Overload(Vec<ActorIdx>, f64),
    /// These actors' answers are delayed by this much more, ms.
    ExtraLatency(Vec<ActorIdx>, u64),
    /// No message passes between the two sets, either way.
    Partition(Vec<ActorIdx>, Vec<ActorIdx>),
    /// Network-wide packet loss rate.
    PacketLoss(f64),
    /// Alarm handler runs of these actors fail at this rate.
    AlarmFailure(Vec<ActorIdx>, f64),
    /// The queue delivers each acknowledged message again at this rate.
    QueueDuplicate(f64),
    /// The queue consumer's invocations throw at this rate.
    QueueConsumerFailure(f64),
    /// This fraction of `entities` (picked with the fault stream when the fault starts; all
    /// of them, nothing drawn, when no fraction is given) send their SDK facts to `to`
    /// instead of their observability target.
    Misroute {
        /// Candidates.
        entities: Vec<ActorIdx>,
        /// Fraction misrouted; `None`: every candidate.
        fraction: Option<f64>,
        /// The wrong target (none: nothing is misrouted).
        to: Option<ActorIdx>,
    },
    /// Entities follow each SDK fact to their observability target with a forged one at this
    /// rate (`runtime::hostile`).
    HostileFacts(f64),
    /// The end of the fault: its effect is lifted unless another fault of its kind covers the
    /// same target (`runtime::fault_book`).
    End,
}

/// A fault action and when it happens.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedAction {
    /// When, ms of simulated time.
    pub at_ms: u64,
    /// What.
    pub action: FaultAction,
    /// Which fault of the scenario (its index): an end undoes its own fault's start.
    pub fault: usize,
    /// A short label for the trace (e.g. `system_ledger_down start`).
    pub label: String,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct WorldSpec {
    /// The run seed (madsim's and every derived stream's).
    pub seed: u64,
    /// The actors.
    pub actors: Vec<ActorSpec>,
    /// Simulated time to run, ms.
    pub duration_ms: u64,
    /// RPC timeout of every call, ms.
    pub rpc_timeout_ms: u64,
    /// When a Durable Object answers `overloaded`.
    pub overload: OverloadLimits,
    /// Service time of one request at a receiver, ms.
    pub service_time_ms: u64,
    /// Idle eviction of the Durable Objects.
    pub idle: IdleConfig,
    /// Shortest network latency, ms.
    pub latency_min_ms: u64,
    /// Longest network latency, ms (included).
    pub latency_max_ms: u64,
    /// Base packet loss rate.
    pub packet_loss: f64,
    /// What carries the messages.
    pub transport: Transport,
    /// Fault actions, in any order (executed in time order, ties in list order).
    pub actions: Vec<TimedAction>,
    /// Who is who, by index (the oracle reads its roles from here).
    pub roles: Roles,
    /// A `tracing` filter for the run's event log (`--trace`, `RUST_LOG`); none: no log.
    pub trace_filter: Option<String>,
    /// The planted bug active in this run (only with the `planted-bugs` feature).
    pub plant: Option<crate::planted::Plant>,
}
