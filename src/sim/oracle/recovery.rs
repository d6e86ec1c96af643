//! Recovery times, a distribution rather than a verdict: for every client whose breaker was
//! not CLOSED when the last fault ended, the time from that end until it was CLOSED again (by
//! a successful probe, or by its actor's restart). Clients still not CLOSED at the end of the
//! run are counted apart, as not recovered. The report shows it as `latency_ms.recovery`;
//! `[expect] recovery = { p99_max = "90s" }` bounds it.

use super::{clients_of, BreakerStates, ClientKey};
use crate::ledgers::BreakerState;
use crate::runtime::observe::Observation;
use crate::runtime::recorder::Latency;
use crate::runtime::LatencySummary;
use crate::sim::scenario::Scenario;
use std::collections::BTreeSet;

/// The recovery of one run.
pub(super) struct RecoveryTimes {
    /// When the last fault ended; `None`: no faults, nothing to recover from.
    faults_end_ms: Option<u64>,
    states: BreakerStates,
    /// The clients not CLOSED when the faults ended, until they close (`None` before then).
    waiting: Option<BTreeSet<ClientKey>>,
    times: Latency,
}

impl RecoveryTimes {
    pub(super) fn new(scenario: &Scenario) -> Self {
        Self {
            faults_end_ms: scenario.faults.iter().map(|fault| fault.end_ms()).max(),
            states: BreakerStates::default(),
            waiting: None,
            times: Latency::default(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        let Some(faults_end_ms) = self.faults_end_ms else {
            return;
        };
        let at_ms = observation_ms(observation);
        if self.waiting.is_none() && at_ms.is_some_and(|at_ms| at_ms >= faults_end_ms) {
            // The states as they were when the faults ended, before this observation.
            let open = self
                .states
                .0
                .iter()
                .filter(|(_, state)| **state != BreakerState::Closed);
            self.waiting = Some(open.map(|(client, _)| *client).collect());
        }
        match *observation {
            Observation::Transition {
                at_ms,
                caller,
                target,
                to,
                ..
            } => {
                self.states.set((caller, target), to);
                if to == BreakerState::Closed {
                    self.recovered(&[(caller, target)], at_ms, faults_end_ms);
                }
            }
            Observation::Started { at_ms, actor } => {
                let clients = match &self.waiting {
                    Some(waiting) => clients_of(waiting.range((actor, None)..), actor),
                    None => Vec::new(),
                };
                self.recovered(&clients, at_ms, faults_end_ms);
                self.states.restart(actor);
            }
            _ => {}
        }
    }

    fn recovered(&mut self, clients: &[ClientKey], at_ms: u64, faults_end_ms: u64) {
        let Some(waiting) = self.waiting.as_mut() else {
            return;
        };
        for client in clients {
            if waiting.remove(client) {
                self.times.record(at_ms.saturating_sub(faults_end_ms));
            }
        }
    }

    /// The recovery times and how many clients did not recover; `None` without faults, or
    /// when nothing was observed once they had ended (the run ended first: no recovery to
    /// measure).
    pub(super) fn summary(&self) -> Option<(LatencySummary, u64)> {
        let waiting = self.waiting.as_ref()?;
        Some((self.times.summary(), waiting.len() as u64))
    }
}

/// When an observation happened (a primary operation's when it returned).
fn observation_ms(observation: &Observation<'_>) -> Option<u64> {
    match *observation {
        Observation::Emitted { at_ms, .. }
        | Observation::Tracking { at_ms, .. }
        | Observation::Rejected { at_ms, .. }
        | Observation::Read { at_ms, .. }
        | Observation::AlarmDeleted { at_ms, .. }
        | Observation::Started { at_ms, .. }
        | Observation::Transition { at_ms, .. }
        | Observation::Attempt { at_ms, .. }
        | Observation::Outcome { at_ms, .. }
        | Observation::Dropped { at_ms, .. }
        | Observation::Hydrated { at_ms, .. }
        | Observation::ChildDelivered { at_ms, .. }
        | Observation::Refused { at_ms, .. }
        | Observation::Killed { at_ms, .. }
        | Observation::Settled { at_ms, .. }
        | Observation::Stored { at_ms, .. }
        | Observation::PayloadStored { at_ms, .. }
        | Observation::HostileSent { at_ms, .. }
        | Observation::TenantState { at_ms, .. } => Some(at_ms),
        Observation::PrimaryOp { done_ms, .. } => Some(done_ms),
    }
}
