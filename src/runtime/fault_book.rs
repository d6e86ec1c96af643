//! Overlapping faults, as a sans-IO book of the faults in force: a fault's start and end go in,
//! the effective state comes out. Rule (docs/model.md, "Faults"): a target is down, slow,
//! overloaded, partitioned or failing while *any* fault of that kind covers it; the end of one
//! fault never lifts another's effect. Where two faults of one kind with different strengths
//! overlap, the stronger holds (the highest rate, the longest extra latency); overlapping
//! misroutes send an entity's facts where the latest one started sends them.

use crate::runtime::spec::{ActorIdx, FaultAction};
use std::collections::{BTreeMap, BTreeSet};

/// A fault in force.
#[derive(Clone, Debug)]
struct Active {
    action: FaultAction,
    /// The entities a misroute picked when it started.
    picked: Vec<ActorIdx>,
    /// Its place among the starts.
    started: u64,
}

/// What the hosts must change after a fault started or ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostChanges {
    /// Actors to kill (now covered by a down fault).
    pub kill: Vec<ActorIdx>,
    /// Actors to start again (no down fault covers them any more).
    pub restart: Vec<ActorIdx>,
    /// Links to clog (`true`) or unclog, `(from, to)`.
    pub clog: Vec<(ActorIdx, ActorIdx, bool)>,
    /// The network's new packet loss rate, if it changed.
    pub packet_loss: Option<f64>,
}

/// What the actors' runtime applies: the effective rates and redirections.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorldFaultState {
    /// Rate of injected `overloaded` answers, by actor.
    pub overload: BTreeMap<ActorIdx, f64>,
    /// Extra answer delay, by actor, ms.
    pub extra_latency_ms: BTreeMap<ActorIdx, u64>,
    /// Rate of failed alarm handler runs, by actor.
    pub alarm_failure: BTreeMap<ActorIdx, f64>,
    /// Rate of queue redeliveries of acknowledged messages.
    pub queue_duplicate: f64,
    /// Rate of consumer invocations that throw.
    pub consumer_failure: f64,
    /// Rate of forged facts.
    pub hostile: f64,
    /// Entity -> the wrong ledger its SDK facts go to.
    pub misroute: BTreeMap<ActorIdx, ActorIdx>,
}

/// The faults in force and what they add up to.
#[derive(Clone, Debug)]
pub struct FaultBook {
    active: BTreeMap<usize, Active>,
    base_packet_loss: f64,
    down: BTreeSet<ActorIdx>,
    clogged: BTreeSet<(ActorIdx, ActorIdx)>,
    packet_loss: f64,
    starts: u64,
}

impl FaultBook {
    /// No fault in force; `base_packet_loss` is the scenario's own rate.
    pub fn new(base_packet_loss: f64) -> Self {
        Self {
            active: BTreeMap::new(),
            base_packet_loss,
            down: BTreeSet::new(),
            clogged: BTreeSet::new(),
            packet_loss: base_packet_loss,
            starts: 0,
        }
    }

    /// Fault number `fault` starts with `action` (`picked`: the entities a misroute picked).
    pub fn start(
        &mut self,
        fault: usize,
        action: FaultAction,
        picked: Vec<ActorIdx>,
    ) -> HostChanges {
        debug_assert!(!matches!(
            action,
            FaultAction::End | FaultAction::Evict { .. }
        ));
        self.starts += 1;
        let started = self.starts;
        self.active.insert(
            fault,
            Active {
                action,
                picked,
                started,
            },
        );
        self.changes()
    }

    /// Fault number `fault` ends (nothing if it is not in force).
    pub fn end(&mut self, fault: usize) -> HostChanges {
        self.active.remove(&fault);
        self.changes()
    }

    /// Whether a down fault covers actor `idx`.
    pub fn is_down(&self, idx: ActorIdx) -> bool {
        self.down.contains(&idx)
    }

    /// What the hosts must change for the faults now in force.
    fn changes(&mut self) -> HostChanges {
        let mut down = BTreeSet::new();
        let mut clogged = BTreeSet::new();
        let mut loss: Option<f64> = None;
        for active in self.active.values() {
            match &active.action {
                FaultAction::Kill(actors) => down.extend(actors.iter().copied()),
                FaultAction::Partition(side_a, side_b) => {
                    for a in side_a {
                        for b in side_b {
                            clogged.insert((*a, *b));
                            clogged.insert((*b, *a));
                        }
                    }
                }
                FaultAction::PacketLoss(rate) => {
                    loss = Some(loss.map_or(*rate, |max| max.max(*rate)))
                }
                _ => {}
            }
        }
        let packet_loss = loss.unwrap_or(self.base_packet_loss);
        let changes = HostChanges {
            kill: down.difference(&self.down).copied().collect(),
            restart: self.down.difference(&down).copied().collect(),
            clog: clogged
                .difference(&self.clogged)
                .map(|(from, to)| (*from, *to, true))
                .chain(
                    self.clogged
                        .difference(&clogged)
                        .map(|(from, to)| (*from, *to, false)),
                )
                .collect(),
            packet_loss: (packet_loss != self.packet_loss).then_some(packet_loss),
        };
        self.down = down;
        self.clogged = clogged;
        self.packet_loss = packet_loss;
        changes
    }

    /// The rates and redirections the actors' runtime applies for the faults in force.
    pub fn world_state(&self) -> WorldFaultState {
        let mut state = WorldFaultState::default();
        for active in self.active.values() {
            match &active.action {
                FaultAction::Overload(actors, rate) => raise(&mut state.overload, actors, *rate),
                FaultAction::AlarmFailure(actors, rate) => {
                    raise(&mut state.alarm_failure, actors, *rate);
                }
                FaultAction::ExtraLatency(actors, extra_ms) => {
                    for idx in actors {
                        let slot = state.extra_latency_ms.entry(*idx).or_default();
                        *slot = (*slot).max(*extra_ms);
                    }
                }
                FaultAction::QueueDuplicate(rate) => {
                    state.queue_duplicate = state.queue_duplicate.max(*rate)
                }
                FaultAction::QueueConsumerFailure(rate) => {
                    state.consumer_failure = state.consumer_failure.max(*rate);
                }
                FaultAction::HostileFacts(rate) => state.hostile = state.hostile.max(*rate),
                _ => {}
            }
        }
        // Misroutes in start order: the latest started wins an entity both picked.
        for active in self.misroutes_in_start_order() {
            if let FaultAction::Misroute { to: Some(to), .. } = &active.action {
                for idx in &active.picked {
                    state.misroute.insert(*idx, *to);
                }
            }
        }
        state
    }

    fn misroutes_in_start_order(&self) -> Vec<&Active> {
        let mut misroutes: Vec<&Active> = self
            .active
            .values()
            .filter(|active| matches!(active.action, FaultAction::Misroute { .. }))
            .collect();
        misroutes.sort_by_key(|active| active.started);
        misroutes
    }
}

/// Raises each actor's rate to at least `rate`.
fn raise(rates: &mut BTreeMap<ActorIdx, f64>, actors: &[ActorIdx], rate: f64) {
    for idx in actors {
        let slot = rates.entry(*idx).or_default();
        *slot = slot.max(rate);
    }
}
