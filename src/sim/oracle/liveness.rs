//! `breaker_recovers`, the liveness check: once the faults have ended, every client that
//! emitted after it may probe has a CLOSED breaker by the deadline.

use super::{clients_of, not_applicable, verdict, BreakerStates, ClientKey};
use crate::runtime::observe::Observation;
use crate::runtime::ActorIdx;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

const NAME: &str = "breaker_recovers";

/// The longest a breaker stays OPEN before it may probe: the reset timeout, grown to its cap
/// when growth is on, plus the largest jitter.
pub fn longest_reset_timeout_ms(scenario: &Scenario) -> u64 {
    let breaker = &scenario.sdk.breaker;
    let grown_ms = if breaker.reset_timeout_growth_factor > 1.0 {
        breaker.reset_timeout_max_ms
    } else {
        breaker.reset_timeout_ms
    };
    grown_ms + (grown_ms as f64 * breaker.reset_timeout_jitter_ratio).ceil() as u64
}

/// The liveness phase: once the last fault has ended, every breaker must be CLOSED again
/// within `reset_timeout + rpc_timeout + one emission interval`. Returns
/// `(recovery_start_ms, deadline_ms)`: from `recovery_start_ms` on, any emission may probe, and
/// by `deadline_ms` the breakers of every client that emitted since must be CLOSED. The
/// deadline adds one `rpc_timeout` for the probe to settle (its answer, at the latest its
/// timeout) and the network's worst latency. `None` without faults.
pub fn liveness_window_ms(scenario: &Scenario) -> Option<(u64, u64)> {
    let last_fault_end_ms = scenario.faults.iter().map(|fault| fault.end_ms()).max()?;
    let rpc_timeout_ms = scenario.sdk.rpc_timeout_ms;
    let recovery_start_ms = last_fault_end_ms + rpc_timeout_ms + longest_reset_timeout_ms(scenario);
    // Entities emit once a stats interval; tenant ledgers retry a pending flush this often.
    let emission_interval_ms = scenario
        .sdk
        .stats_min_interval_ms
        .max(scenario.sdk.tenant_config().flush_retry_delay_ms);
    let deadline_ms = recovery_start_ms + emission_interval_ms + probe_settle_ms(scenario);
    Some((recovery_start_ms, deadline_ms))
}

/// The longest a probe takes to settle: its answer (two worst latencies and the service time)
/// or its timeout.
fn probe_settle_ms(scenario: &Scenario) -> u64 {
    scenario.sdk.rpc_timeout_ms
        + 2 * scenario.network.latency_max_ms
        + scenario.runtime.service_time_ms
}

/// Liveness: the part of the run after the last fault (the run must last past the deadline).
/// A client that does not emit cannot probe (the OPEN -> HALF_OPEN transition is lazy) and is
/// not judged. Not judged on a lossy base network, where a probe may be lost with the faults
/// long over.
pub(super) struct LivenessChecker {
    /// `(recovery_start_ms, deadline_ms)`, or why the check does not apply.
    window: Result<(u64, u64), String>,
    /// The last emission judged: a later one may still have its probe in flight at the
    /// deadline.
    last_judged_emission_ms: u64,
    /// When the last fault ended: a breaker opened by the load from then on may still be
    /// OPEN at the deadline.
    faults_end_ms: u64,
    states: BreakerStates,
    /// Clients that emitted within the window.
    active: BTreeSet<ClientKey>,
    /// Requests receivers refused with `overloaded` for their own load (not a fault) from
    /// the recovery start to the deadline, by receiver.
    overloaded: BTreeMap<ActorIdx, u64>,
}

impl LivenessChecker {
    pub(super) fn new(scenario: &Scenario) -> Self {
        let window = match liveness_window_ms(scenario) {
            None => Err("no faults".to_owned()),
            Some(_) if scenario.network.packet_loss > 0.0 => {
                Err("the network loses packets after the faults too".to_owned())
            }
            // `duration` is the contract's "simulated time to run": the liveness phase is the
            // part of the run after the last fault, and a scenario must leave room for it.
            Some((_, deadline_ms)) if scenario.duration_ms <= deadline_ms => Err(format!(
                "the run ends before the liveness deadline; make duration longer than {deadline_ms} ms"
            )),
            Some(window) => Ok(window),
        };
        let last_judged_emission_ms = window.as_ref().map_or(0, |(_, deadline_ms)| {
            deadline_ms.saturating_sub(probe_settle_ms(scenario))
        });
        let faults_end_ms = scenario
            .faults
            .iter()
            .map(|fault| fault.end_ms())
            .max()
            .unwrap_or(0);
        Self {
            window,
            last_judged_emission_ms,
            faults_end_ms,
            states: BreakerStates::default(),
            overloaded: BTreeMap::new(),
            active: BTreeSet::new(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        let Ok((recovery_start_ms, deadline_ms)) = self.window else {
            return;
        };
        match *observation {
            // A start, or an idle eviction (its clients are gone until it is woken), ends what
            // its clients were.
            Observation::Started { at_ms, actor }
            | Observation::Killed {
                at_ms,
                actor,
                idle: true,
                ..
            } if at_ms <= deadline_ms => {
                self.states.restart(actor);
                for key in clients_of(self.active.range((actor, None)..), actor) {
                    self.active.remove(&key);
                }
            }
            Observation::Transition {
                at_ms,
                caller,
                target,
                to,
                ..
            } if at_ms <= deadline_ms => self.states.set((caller, target), to),
            Observation::Attempt {
                at_ms,
                caller,
                target,
                ..
            }
            | Observation::Dropped {
                at_ms,
                caller,
                target,
                ..
            }
            | Observation::Rejected {
                at_ms,
                caller,
                target,
                ..
            } if (recovery_start_ms..=self.last_judged_emission_ms).contains(&at_ms) => {
                self.active.insert((caller, target));
            }
            Observation::Refused {
                at_ms,
                actor,
                natural: true,
            } if (self.faults_end_ms..=deadline_ms).contains(&at_ms) => {
                *self.overloaded.entry(actor).or_default() += 1;
            }
            _ => {}
        }
    }

    pub(super) fn recovers(&self) -> InvariantResult {
        let (recovery_start_ms, deadline_ms) = match &self.window {
            Ok(window) => *window,
            Err(why) => return not_applicable(NAME, why),
        };
        let stuck = self.active.iter().find_map(|key| {
            let state = self.states.get(*key);
            (state != crate::ledgers::BreakerState::Closed).then(|| {
                let target = key.1.map_or("a missing actor".to_owned(), |target| format!("#{target}"));
                format!(
                    "actor #{}'s breaker towards {target} was {state:?} at the deadline {deadline_ms} ms, though it emitted between {recovery_start_ms} ms and {} ms, early enough for a probe to settle",
                    key.0, self.last_judged_emission_ms
                )
            })
        });
        if stuck.is_some() && !self.overloaded.is_empty() {
            // The promise holds where the load fits the receivers: a breaker open because the
            // workload itself overloads its target is no recovery failure.
            let load: Vec<String> = self
                .overloaded
                .iter()
                .map(|(actor, refused)| format!("#{actor} refused {refused}"))
                .collect();
            return not_applicable(
                NAME,
                &format!(
                    "the workload exceeds its receivers' capacity after the faults ended (overloaded answers from their own request queues between {} ms and {deadline_ms} ms: {}), so a breaker may stay OPEN; lower the load or raise the [runtime] limits to judge recovery",
                    self.faults_end_ms,
                    load.join(", ")
                ),
            );
        }
        verdict(NAME, stuck)
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;
    use crate::sim::scenario::{Fault, FaultKind};

    #[test]
    fn the_deadline_leaves_room_for_a_probe_to_settle() {
        let mut scenario = Scenario::new("t", 30 * 60_000);
        assert_eq!(liveness_window_ms(&scenario), None, "no faults, no window");
        scenario.faults.push(Fault {
            kind: FaultKind::SystemLedgerDown,
            at_ms: 60_000,
            duration_ms: 120_000,
            target: None,
        });
        scenario.sdk.breaker.reset_timeout_jitter_ratio = 0.0;
        scenario.sdk.breaker.reset_timeout_growth_factor = 1.0;
        scenario.runtime.service_time_ms = 7;
        let sdk = &scenario.sdk;
        let start_ms = 180_000 + sdk.rpc_timeout_ms + sdk.breaker.reset_timeout_ms;
        // The probe's answer: two worst latencies and the service time, or its timeout.
        let settle_ms = sdk.rpc_timeout_ms + 2 * scenario.network.latency_max_ms + 7;
        let emission_ms = sdk
            .stats_min_interval_ms
            .max(sdk.tenant_config().flush_retry_delay_ms);
        assert_eq!(
            liveness_window_ms(&scenario),
            Some((start_ms, start_ms + emission_ms + settle_ms))
        );
    }
}
