//! What the simulation observes, in order: the ground truth the oracle judges. The world hands
//! each observation to its [`Observer`] as it happens (effects carried out, network outcomes,
//! receivers' answers), never derived from the ledgers' own counters. Observations borrow what
//! they are about: an observer keeps what it needs, so no log of the whole run is held.

use crate::ledgers::{BreakerState, DropReason, MessageKey, StatsSummary};
use crate::model::{Fact, FactId, Name, TenantStatsPayload};
use crate::runtime::hostile::HostileKind;
use crate::runtime::reader::{Answer, Query};
use crate::runtime::spec::ActorIdx;
use std::any::Any;

/// What made an entity emit an SDK fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Its start (`schema_init`, `hydration_done`).
    Start,
    /// A cache get; `previous_ms`: the cache get before it in this incarnation, if any.
    CacheGet {
        /// The previous cache get, ms.
        previous_ms: Option<u64>,
    },
    /// An append (or a child fact's rollup); `previous_ms` likewise.
    Append {
        /// The previous append, ms.
        previous_ms: Option<u64>,
    },
    /// `flushStats()`.
    Flush,
    /// Stats tracking turned off (which flushes first), or on again.
    Disable,
    /// A request or an alarm handled by an actor that is not an entity (a tenant's flush).
    Handler,
}

/// A primary (domain) operation that emitted: what its caller did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// The entity's start (its constructor, schema init and hydration).
    Start,
    /// A cache get.
    CacheGet,
    /// A fact append.
    Append,
    /// `flushStats()`.
    Flush,
    /// Stats tracking turned off or on.
    ToggleTracking,
}

impl OpKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Start => "start",
            OpKind::CacheGet => "cache get",
            OpKind::Append => "append",
            OpKind::Flush => "flushStats()",
            OpKind::ToggleTracking => "stats tracking toggle",
        }
    }
}

/// A change to an entity's stats tracking other than a period closed by the interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsControl {
    /// `flushStats()`: the open periods closed now (emitted unless empty).
    Flush,
    /// Tracking turned off: the open periods closed now (emitted unless empty), none open.
    Disable,
    /// Tracking turned on: new periods start now.
    Enable,
}

/// One observed event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observation<'a> {
    /// An entity handed a message to one of its clients.
    Emitted {
        /// When, ms.
        at_ms: u64,
        /// The entity.
        entity: ActorIdx,
        /// The client's target.
        target: Option<ActorIdx>,
        /// What.
        key: &'a MessageKey,
        /// Whether the operation that emitted waits for it.
        awaited: bool,
        /// For an SDK stats fact: the period it closes.
        stats: Option<StatsSummary>,
        /// What made it emit.
        trigger: Trigger,
    },
    /// An entity's stats tracking was flushed, turned off or on.
    Tracking {
        /// When, ms.
        at_ms: u64,
        /// The entity.
        entity: ActorIdx,
        /// What changed.
        control: StatsControl,
    },
    /// A primary operation that emitted returned to its caller (or was still waiting at the
    /// end of the run).
    PrimaryOp {
        /// The entity.
        entity: ActorIdx,
        /// What it was.
        kind: OpKind,
        /// When it started, ms.
        started_ms: u64,
        /// When its caller got the result, ms (the end of the run if still waiting).
        done_ms: u64,
        /// Its result: false when an observability error surfaced to the caller, or the
        /// entity was killed while the caller waited.
        ok: bool,
        /// Still waiting at the end of the run.
        waiting: bool,
        /// The emissions it waited for.
        keys: &'a [MessageKey],
    },
    /// An awaited client's breaker rejected its oldest message (nothing was attempted).
    Rejected {
        /// When, ms.
        at_ms: u64,
        /// The client's actor.
        caller: ActorIdx,
        /// The client's target.
        target: Option<ActorIdx>,
        /// The message.
        key: &'a MessageKey,
    },
    /// A ledger answered a read (as it answered it, from its storage at that moment).
    Read {
        /// When, ms.
        at_ms: u64,
        /// The ledger.
        receiver: ActorIdx,
        /// The query.
        query: &'a Query,
        /// The answer.
        answer: &'a Answer,
    },
    /// An actor's alarm was deleted after its last failed retry.
    AlarmDeleted {
        /// When, ms.
        at_ms: u64,
        /// The actor.
        actor: ActorIdx,
    },
    /// An actor (re)started: its in-memory state, breakers included, is new.
    Started {
        /// When, ms.
        at_ms: u64,
        /// Which actor.
        actor: ActorIdx,
    },
    /// A client's breaker changed state.
    Transition {
        /// When, ms.
        at_ms: u64,
        /// The client's actor.
        caller: ActorIdx,
        /// The client's target.
        target: Option<ActorIdx>,
        /// State before.
        from: BreakerState,
        /// State after.
        to: BreakerState,
    },
    /// A delivery attempt left a client (a call went onto the network).
    Attempt {
        /// When, ms.
        at_ms: u64,
        /// The caller.
        caller: ActorIdx,
        /// The target.
        target: Option<ActorIdx>,
        /// What.
        key: &'a MessageKey,
        /// Whether the caller waits for the outcome.
        awaited: bool,
        /// Observations (hits, misses, appends) the message carries.
        observations: u64,
    },
    /// The network outcome of an attempt came back to its (still living) caller.
    Outcome {
        /// When, ms.
        at_ms: u64,
        /// The caller.
        caller: ActorIdx,
        /// The client's target (the one the client addressed, whatever a misroute did).
        target: Option<ActorIdx>,
        /// What.
        key: &'a MessageKey,
        /// Delivered or not.
        ok: bool,
    },
    /// A fire-and-forget emission was dropped.
    Dropped {
        /// When, ms.
        at_ms: u64,
        /// The client's actor.
        caller: ActorIdx,
        /// The client's target.
        target: Option<ActorIdx>,
        /// What.
        key: &'a MessageKey,
        /// Why.
        reason: DropReason,
        /// Observations the message carried, when it never left the client (else see its
        /// attempt).
        observations: Option<u64>,
    },
    /// An entity ledger started: how many stored facts its hydration replayed, and how many
    /// appends it had acknowledged by then (ground truth).
    Hydrated {
        /// When, ms.
        at_ms: u64,
        /// The entity.
        actor: ActorIdx,
        /// Facts replayed (0 when there were none).
        facts_replayed: u64,
        /// Appends acknowledged before this start.
        acknowledged: u64,
    },
    /// A parent entity accepted a child's fact.
    ChildDelivered {
        /// When, ms.
        at_ms: u64,
        /// The parent.
        parent: ActorIdx,
        /// The child's fact.
        child_fact: &'a FactId,
        /// The child fact's tenant.
        tenant: &'a Name,
    },
    /// A Durable Object refused a request with `overloaded`.
    Refused {
        /// When, ms.
        at_ms: u64,
        /// Which actor.
        actor: ActorIdx,
        /// Its own request queue refused it (the workload's load), not the
        /// `system_ledger_overloaded` fault.
        natural: bool,
    },
    /// An actor was killed, or evicted for being idle: what its in-memory state held is gone.
    Killed {
        /// When, ms.
        at_ms: u64,
        /// Which actor.
        actor: ActorIdx,
        /// An idle eviction (the object stays reachable; its next request or alarm constructs
        /// it again), not a kill.
        idle: bool,
        /// Observations counted in its open stats periods.
        open_observations: u64,
        /// SDK facts held unsent by its observability client, with their observations.
        backlog: &'a [(MessageKey, u64)],
    },
    /// An awaited emission settled at its caller.
    Settled {
        /// When, ms.
        at_ms: u64,
        /// The caller.
        caller: ActorIdx,
        /// What.
        key: &'a MessageKey,
        /// Delivered (true) or an error surfaced (false).
        ok: bool,
    },
    /// A receiver stored an SDK fact for the first time (as far as it said).
    Stored {
        /// When, ms.
        at_ms: u64,
        /// The receiver.
        receiver: ActorIdx,
        /// The fact.
        fact: &'a Fact,
    },
    /// The platform stored a payload (as far as it said).
    PayloadStored {
        /// When, ms.
        at_ms: u64,
        /// The payload.
        payload: &'a TenantStatsPayload,
    },
    /// An entity sent a forged fact (the `hostile_facts` fault).
    HostileSent {
        /// When, ms.
        at_ms: u64,
        /// The entity.
        sender: ActorIdx,
        /// Where it went.
        receiver: ActorIdx,
        /// What is wrong with it.
        kind: HostileKind,
        /// The forged fact.
        fact: &'a Fact,
    },
    /// A tenant ledger's state after it handled something, when it differs from the last one
    /// noted for that ledger.
    TenantState {
        /// When, ms.
        at_ms: u64,
        /// The tenant ledger.
        actor: ActorIdx,
        /// Whether an aggregate is open or payloads are pending.
        has_work: bool,
        /// Whether its alarm is set.
        alarm_set: bool,
    },
}

/// Sees every observation of a run, in order, as it happens. The oracle is one; a run without
/// an observer (a benchmark) builds no observation at all.
pub trait Observer: Any + Send {
    /// The next observation.
    fn observe(&mut self, observation: &Observation<'_>);
}
