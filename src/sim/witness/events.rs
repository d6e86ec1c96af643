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
///
/// Kept in chunks of [`CHUNK_EVENTS`]: a log of millions of events grows without copying
/// itself, and touches only the memory it fills (a single vector doubling as it grew made the
/// kernel clear twice the pages, a visible share of a run's time).
#[derive(Debug, Default)]
pub struct EventLog {
    chunks: Vec<Vec<Event>>,
    /// The platform ledger, where payloads are stored (0 when the run has none).
    platform: ActorIdx,
}

/// Events per chunk of an [`EventLog`] (about 1 MB).
const CHUNK_EVENTS: usize = 16_384;

impl EventLog {
    /// An empty log; `platform`: the platform ledger's index, if the run has one.
    pub fn new(platform: Option<ActorIdx>) -> Self {
        Self {
            chunks: Vec::new(),
            platform: platform.unwrap_or_default(),
        }
    }

    /// Every event, in the order observed.
    pub fn events(&self) -> impl Iterator<Item = &Event> + '_ {
        self.chunks.iter().flatten()
    }

    /// How many events the log holds.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    /// Whether the log holds no event.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Keeps `observation` as an event (the few that no explanation or picture uses are left
    /// out: reads, hydrations, child deliveries, tracking toggles, hostile facts).
    pub fn record(&mut self, observation: &Observation<'_>) {
        let Some(event) = event_of(observation, self.platform) else {
            return;
        };
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_EVENTS => chunk.push(event),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK_EVENTS);
                chunk.push(event);
                self.chunks.push(chunk);
            }
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
        // An operation that returned at once without an error explains nothing and draws
        // nothing: not kept (one per emission, most of a healthy run's log).
        Observation::PrimaryOp {
            entity,
            started_ms,
            done_ms,
            ok,
            ..
        } if !ok || done_ms > started_ms => event(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_longer_than_a_chunk_keeps_every_event_in_order() {
        let mut log = EventLog::new(None);
        assert!(log.is_empty());
        let count = CHUNK_EVENTS * 2 + 3;
        for at_ms in 0..count as u64 {
            log.record(&Observation::Started { at_ms, actor: 1 });
        }
        // A primary operation that returned at once without an error is not kept.
        log.record(&Observation::PrimaryOp {
            entity: 1,
            kind: crate::runtime::observe::OpKind::Append,
            started_ms: 5,
            done_ms: 5,
            ok: true,
            waiting: false,
            keys: &[],
        });
        assert_eq!(log.len(), count);
        assert!(log.events().map(|event| event.at_ms).eq(0..count as u64));
    }
}
