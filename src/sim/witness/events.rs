//! The run's event log for `--explain` and `--timeline`: each observation the oracle judges,
//! kept as a small owned event (when, which actor, which other actor, what). Only recorded
//! when asked for: an ordinary run keeps no log.

use crate::ledgers::{BreakerState, DropReason, MessageKey};
use crate::runtime::observe::{Observation, Trigger};
use crate::runtime::spec::ActorIdx;

/// One event of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When, ms.
    pub at_ms: u64,
    /// The actor it happened at (the caller, the receiver, the tenant ledger).
    pub actor: ActorIdx,
    /// The other actor involved (a client's target), if any.
    pub other: Option<ActorIdx>,
    /// What happened.
    pub what: What,
}

/// What an event was.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// A client's breaker changed state.
    Transition {
        /// Before.
        from: BreakerState,
        /// After.
        to: BreakerState,
    },
    /// A delivery attempt left the client.
    Attempt(MessageKey),
    /// An attempt's network outcome came back.
    Outcome(MessageKey, bool),
    /// A fire-and-forget emission was dropped.
    Dropped(MessageKey, DropReason),
    /// An awaited client's open breaker rejected a message.
    Rejected(MessageKey),
    /// An awaited emission settled at its caller.
    Settled(MessageKey, bool),
    /// An entity emitted a stats fact (a period closed).
    StatsFlushed(MessageKey),
    /// The actor (re)started.
    Started,
    /// The actor was killed, or evicted for being idle.
    Killed {
        /// An idle eviction.
        idle: bool,
    },
    /// The actor refused a request with `overloaded`.
    Refused {
        /// Its own queue refused it (not the overload fault).
        natural: bool,
    },
    /// A receiver stored an SDK fact.
    Stored,
    /// The platform stored a tenant's payload.
    PayloadStored {
        /// The tenant.
        tenant: String,
        /// The period's start, ms.
        period_start_ms: u64,
    },
    /// A tenant ledger's state changed.
    TenantState {
        /// An aggregate is open or payloads are pending.
        has_work: bool,
        /// Its alarm is set.
        alarm_set: bool,
    },
    /// The actor's alarm was deleted after its last failed retry.
    AlarmDeleted,
    /// A primary operation that waited for its emissions returned.
    PrimaryOp {
        /// Its result reached the caller without an error.
        ok: bool,
        /// How long the caller waited, ms.
        waited_ms: u64,
    },
}

/// Every event of a run, in the order observed.
#[derive(Debug, Default)]
pub struct EventLog {
    /// The events.
    pub events: Vec<Event>,
    /// The platform ledger, where payloads are stored (0 when the run has none).
    platform: ActorIdx,
}

impl EventLog {
    /// An empty log; `platform`: the platform ledger's index, if the run has one.
    pub fn new(platform: Option<ActorIdx>) -> Self {
        Self {
            events: Vec::new(),
            platform: platform.unwrap_or_default(),
        }
    }

    /// Keeps `observation` as an event (the few that no explanation or picture uses are left
    /// out: reads, hydrations, child deliveries, tracking toggles, hostile facts).
    pub fn record(&mut self, observation: &Observation<'_>) {
        if let Some(event) = event_of(observation, self.platform) {
            self.events.push(event);
        }
    }
}

/// The event an observation is, if the log keeps it.
fn event_of(observation: &Observation<'_>, platform: ActorIdx) -> Option<Event> {
    client_event(observation).or_else(|| actor_event(observation, platform))
}

/// An event, kept.
fn event(at_ms: u64, actor: ActorIdx, other: Option<ActorIdx>, what: What) -> Option<Event> {
    Some(Event {
        at_ms,
        actor,
        other,
        what,
    })
}

/// The event of an observation about a client: its breaker, attempts, outcomes, drops.
fn client_event(observation: &Observation<'_>) -> Option<Event> {
    match *observation {
        Observation::Transition {
            at_ms,
            caller,
            target,
            from,
            to,
        } => event(at_ms, caller, target, What::Transition { from, to }),
        Observation::Attempt {
            at_ms,
            caller,
            target,
            key,
            ..
        } => event(at_ms, caller, target, What::Attempt(key.clone())),
        Observation::Outcome {
            at_ms,
            caller,
            target,
            key,
            ok,
        } => event(at_ms, caller, target, What::Outcome(key.clone(), ok)),
        Observation::Dropped {
            at_ms,
            caller,
            target,
            key,
            reason,
            ..
        } => event(at_ms, caller, target, What::Dropped(key.clone(), reason)),
        Observation::Rejected {
            at_ms,
            caller,
            target,
            key,
        } => event(at_ms, caller, target, What::Rejected(key.clone())),
        Observation::Settled {
            at_ms,
            caller,
            key,
            ok,
        } => event(at_ms, caller, None, What::Settled(key.clone(), ok)),
        Observation::Emitted {
            at_ms,
            entity,
            target,
            key,
            stats: Some(_),
            trigger,
            ..
        } if trigger != Trigger::Start => {
            event(at_ms, entity, target, What::StatsFlushed(key.clone()))
        }
        _ => None,
    }
}

/// The event of an observation about an actor: starts, kills, refusals, stores, tenant state.
fn actor_event(observation: &Observation<'_>, platform: ActorIdx) -> Option<Event> {
    match *observation {
        Observation::Started { at_ms, actor } => event(at_ms, actor, None, What::Started),
        Observation::Killed {
            at_ms, actor, idle, ..
        } => event(at_ms, actor, None, What::Killed { idle }),
        Observation::Refused {
            at_ms,
            actor,
            natural,
        } => event(at_ms, actor, None, What::Refused { natural }),
        Observation::Stored {
            at_ms, receiver, ..
        } => event(at_ms, receiver, None, What::Stored),
        Observation::PayloadStored { at_ms, payload } => event(
            at_ms,
            platform,
            None,
            What::PayloadStored {
                tenant: payload.tenant_id.clone(),
                period_start_ms: payload.period_start_ms,
            },
        ),
        Observation::TenantState {
            at_ms,
            actor,
            has_work,
            alarm_set,
        } => event(
            at_ms,
            actor,
            None,
            What::TenantState {
                has_work,
                alarm_set,
            },
        ),
        Observation::AlarmDeleted { at_ms, actor } => event(at_ms, actor, None, What::AlarmDeleted),
        Observation::PrimaryOp {
            entity,
            started_ms,
            done_ms,
            ok,
            ..
        } => event(
            done_ms,
            entity,
            None,
            What::PrimaryOp {
                ok,
                waited_ms: done_ms - started_ms,
            },
        ),
        _ => None,
    }
}
