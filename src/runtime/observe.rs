//! What the simulation observes, in order: the ground truth the oracle judges. Recorded by the
//! world as things happen (effects carried out, network outcomes, receivers' answers), never
//! derived from the ledgers' own counters.

use crate::ledgers::{BreakerState, DropReason, MessageKey};
use crate::model::{Fact, FactId, TenantStatsPayload};
use crate::runtime::hostile::HostileKind;
use crate::runtime::spec::ActorIdx;

/// One observed event.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
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
        key: MessageKey,
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
        /// What.
        key: MessageKey,
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
        key: MessageKey,
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
        child_fact: FactId,
    },
    /// An actor was killed: what its in-memory state held is gone.
    Killed {
        /// When, ms.
        at_ms: u64,
        /// Which actor.
        actor: ActorIdx,
        /// Observations counted in its open stats periods.
        open_observations: u64,
        /// SDK facts held unsent by its observability client, with their observations.
        backlog: Vec<(MessageKey, u64)>,
    },
    /// An awaited emission settled at its caller.
    Settled {
        /// When, ms.
        at_ms: u64,
        /// The caller.
        caller: ActorIdx,
        /// What.
        key: MessageKey,
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
        fact: Box<Fact>,
    },
    /// The platform stored a payload (as far as it said).
    PayloadStored {
        /// When, ms.
        at_ms: u64,
        /// The payload.
        payload: Box<TenantStatsPayload>,
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
        fact: Box<Fact>,
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

/// Observations per chunk of an [`ObservationLog`] (about 1.3 MB).
const LOG_CHUNK: usize = 16_384;

/// The observation log: every observation, in order. It is kept in fixed-size chunks, so it
/// grows without ever copying what it holds. A simulation adds several observations per SDK
/// fact, and one vector would be copied whole each time it doubled, each copy on fresh pages.
#[derive(Clone, Debug, Default)]
pub struct ObservationLog {
    chunks: Vec<Vec<Observation>>,
    len: usize,
}

impl ObservationLog {
    /// Appends `observation`.
    pub fn push(&mut self, observation: Observation) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < LOG_CHUNK => chunk.push(observation),
            _ => {
                let mut chunk = Vec::with_capacity(LOG_CHUNK);
                chunk.push(observation);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was observed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every observation, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Observation> + Clone {
        self.into_iter()
    }
}

impl<'log> IntoIterator for &'log ObservationLog {
    type Item = &'log Observation;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'log, Vec<Observation>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

impl FromIterator<Observation> for ObservationLog {
    fn from_iter<I: IntoIterator<Item = Observation>>(observations: I) -> Self {
        let mut log = Self::default();
        for observation in observations {
            log.push(observation);
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_every_observation_in_order_across_chunks() {
        let count = 2 * LOG_CHUNK + 3;
        let log: ObservationLog = (0..count)
            .map(|at_ms| Observation::Started {
                at_ms: at_ms as u64,
                actor: 0,
            })
            .collect();
        assert_eq!(log.len(), count);
        assert!(!log.is_empty());
        assert_eq!(log.chunks.len(), 3);
        let times: Vec<u64> = log
            .iter()
            .map(|observation| match observation {
                Observation::Started { at_ms, .. } => *at_ms,
                _ => u64::MAX,
            })
            .collect();
        assert_eq!(times, (0..count as u64).collect::<Vec<_>>());
        assert_eq!((&log).into_iter().count(), count);
        assert!(ObservationLog::default().is_empty());
    }
}
