//! Reference model of the circuit breaker, written from `docs/model.md` ("Delivery") alone.
//!
//! It is deliberately naive so that it is easy to check by reading:
//!
//! - The breaker's life is a sequence of *epochs*; every state change starts a new one.
//! - Every admitted call is kept in an explicit list of outstanding calls together with the
//!   epoch it was admitted in. When its result comes back, the call is removed from that list;
//!   if its epoch is not the current one, the state changed while it was in flight and the
//!   result is recorded as late and changes nothing (the model: in-flight results "are recorded,
//!   never transition it").
//! - CLOSED counts consecutive failures; `failure_threshold` of them open the breaker at the time
//!   of the last one. A success resets the count.
//! - OPEN rejects every call. The first call at or after `opened_at + reset_timeout_ms` first
//!   moves the breaker to HALF_OPEN (at that call's time) and is then judged as a HALF_OPEN call.
//! - HALF_OPEN admits at most `half_open_max_probes` calls per episode (the rest are rejected as
//!   if OPEN). The first result of a probe of the current episode decides: success closes the
//!   breaker with counters reset, failure opens it again with a fresh timeout starting at the
//!   time of that result.
//!
//! Only the default timeout policy is modelled: no jitter (`reset_timeout_jitter_ratio = 0`) and
//! no growth (`reset_timeout_growth_factor = 1`), so the timeout is always `reset_timeout_ms`.
//! Configs with jitter or growth must not be compared against this model.

use crate::model::BreakerConfig;

/// The reference breaker's state. Its own type, so that the reference model depends only on the
/// `model` layer; tests map it onto the implementation's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Every call is rejected.
    Open,
    /// A limited number of probe calls go through.
    HalfOpen,
}

/// A state change of the reference breaker: `(from, to, at_ms)`.
pub type ReferenceTransition = (BreakerState, BreakerState, u64);

/// A call admitted by the [`ReferenceBreaker`]. Hand it back to
/// [`ReferenceBreaker::complete`] exactly once; it is neither `Clone` nor `Copy`, so it cannot be
/// completed twice.
#[derive(Debug, PartialEq, Eq)]
pub struct ReferenceCall {
    id: u64,
    epoch: u64,
    probe: bool,
}

impl ReferenceCall {
    /// Whether the call was admitted while HALF_OPEN (a probe).
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The epoch (number of state changes before it) in which the call was admitted.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

/// What the reference breaker counts about itself. Same meaning as the implementation's
/// counters, so the two can be compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReferenceCounters {
    /// Calls admitted.
    pub admitted: u64,
    /// Calls rejected (while OPEN, or over the HALF_OPEN probe budget).
    pub rejected: u64,
    /// Transitions into OPEN.
    pub opened: u64,
    /// HALF_OPEN -> CLOSED transitions.
    pub closed: u64,
    /// Probe results that were failures and re-opened the breaker.
    pub probes_failed: u64,
    /// Results of calls admitted in an older epoch (recorded, ignored).
    pub late_results: u64,
}

/// The state together with the data only that state needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Closed { consecutive_failures: u32 },
    Open { opened_at_ms: u64 },
    HalfOpen { probes_admitted: u32 },
}

/// An admitted call whose result has not come back yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outstanding {
    id: u64,
    epoch: u64,
}

/// The reference circuit breaker (jitter 0, growth 1; see the module documentation).
#[derive(Clone, Debug)]
pub struct ReferenceBreaker {
    failure_threshold: u32,
    reset_timeout_ms: u64,
    half_open_max_probes: u32,
    phase: Phase,
    epoch: u64,
    next_call_id: u64,
    outstanding: Vec<Outstanding>,
    transitions: Vec<ReferenceTransition>,
    counters: ReferenceCounters,
}

impl ReferenceBreaker {
    /// A CLOSED breaker with no failures, no calls and an empty log. Only `failure_threshold`,
    /// `reset_timeout_ms` and `half_open_max_probes` are used; jitter and growth are ignored.
    pub fn new(config: &BreakerConfig) -> Self {
        Self {
            failure_threshold: config.failure_threshold,
            reset_timeout_ms: config.reset_timeout_ms,
            half_open_max_probes: config.half_open_max_probes,
            phase: Phase::Closed {
                consecutive_failures: 0,
            },
            epoch: 0,
            next_call_id: 0,
            outstanding: Vec::new(),
            transitions: Vec::new(),
            counters: ReferenceCounters::default(),
        }
    }

    /// The stored state. Like the implementation, an OPEN breaker whose timeout has passed stays
    /// OPEN until the next [`Self::request`].
    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Every state change so far, oldest first.
    pub fn transitions(&self) -> &[ReferenceTransition] {
        &self.transitions
    }

    /// The counters.
    pub fn counters(&self) -> ReferenceCounters {
        self.counters
    }

    /// Consecutive failures counted in the current CLOSED epoch (0 in any other state).
    pub fn consecutive_failures(&self) -> u32 {
        match self.phase {
            Phase::Closed {
                consecutive_failures,
            } => consecutive_failures,
            _ => 0,
        }
    }

    /// When the breaker last opened, while it is OPEN.
    pub fn opened_at_ms(&self) -> Option<u64> {
        match self.phase {
            Phase::Open { opened_at_ms } => Some(opened_at_ms),
            _ => None,
        }
    }

    /// While OPEN: the first time at which a call moves it to HALF_OPEN
    /// (`opened_at + reset_timeout_ms`).
    pub fn half_open_at_ms(&self) -> Option<u64> {
        self.opened_at_ms()
            .map(|opened| opened.saturating_add(self.reset_timeout_ms))
    }

    /// Number of admitted calls whose result has not come back yet.
    pub fn outstanding_calls(&self) -> usize {
        self.outstanding.len()
    }

    /// Asks to make a call at `now_ms`. `None` means rejected.
    pub fn request(&mut self, now_ms: u64) -> Option<ReferenceCall> {
        // The lazy OPEN -> HALF_OPEN transition, then the admission decision in the new state.
        if let Some(half_open_at) = self.half_open_at_ms() {
            if now_ms >= half_open_at {
                self.change_phase(Phase::HalfOpen { probes_admitted: 0 }, now_ms);
            }
        }
        let probe = match &mut self.phase {
            Phase::Closed { .. } => false,
            Phase::Open { .. } => {
                self.counters.rejected += 1;
                return None;
            }
            Phase::HalfOpen { probes_admitted } => {
                if *probes_admitted >= self.half_open_max_probes {
                    self.counters.rejected += 1;
                    return None;
                }
                *probes_admitted += 1;
                true
            }
        };
        let call = ReferenceCall {
            id: self.next_call_id,
            epoch: self.epoch,
            probe,
        };
        self.next_call_id += 1;
        self.counters.admitted += 1;
        self.outstanding.push(Outstanding {
            id: call.id,
            epoch: call.epoch,
        });
        Some(call)
    }

    /// Records the result of an admitted call at `now_ms`; may change the state.
    pub fn complete(&mut self, now_ms: u64, call: ReferenceCall, success: bool) {
        let Some(position) = self.outstanding.iter().position(|o| o.id == call.id) else {
            // Unreachable through the public API: a call can only be completed once.
            return;
        };
        let outstanding = self.outstanding.remove(position);
        if outstanding.epoch != self.epoch {
            self.counters.late_results += 1;
            return;
        }
        match self.phase {
            Phase::Closed {
                consecutive_failures,
            } => {
                if success {
                    self.phase = Phase::Closed {
                        consecutive_failures: 0,
                    };
                } else if consecutive_failures + 1 >= self.failure_threshold {
                    self.change_phase(
                        Phase::Open {
                            opened_at_ms: now_ms,
                        },
                        now_ms,
                    );
                } else {
                    self.phase = Phase::Closed {
                        consecutive_failures: consecutive_failures + 1,
                    };
                }
            }
            // No call is ever admitted in an OPEN epoch, so no current-epoch result arrives here.
            Phase::Open { .. } => {}
            Phase::HalfOpen { .. } => {
                if success {
                    self.change_phase(
                        Phase::Closed {
                            consecutive_failures: 0,
                        },
                        now_ms,
                    );
                } else {
                    self.counters.probes_failed += 1;
                    self.change_phase(
                        Phase::Open {
                            opened_at_ms: now_ms,
                        },
                        now_ms,
                    );
                }
            }
        }
    }

    /// Enters `phase` at `now_ms`: logs the transition, counts it and starts a new epoch.
    fn change_phase(&mut self, phase: Phase, now_ms: u64) {
        let from = self.state();
        self.phase = phase;
        let to = self.state();
        match to {
            BreakerState::Open => self.counters.opened += 1,
            BreakerState::Closed => self.counters.closed += 1,
            BreakerState::HalfOpen => {}
        }
        self.transitions.push((from, to, now_ms));
        self.epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(failure_threshold: u32, reset_timeout_ms: u64, probes: u32) -> BreakerConfig {
        BreakerConfig {
            failure_threshold,
            reset_timeout_ms,
            half_open_max_probes: probes,
            ..BreakerConfig::default()
        }
    }

    fn fail_once(breaker: &mut ReferenceBreaker, now_ms: u64) {
        let call = breaker.request(now_ms).expect("admitted");
        breaker.complete(now_ms, call, false);
    }

    #[test]
    fn threshold_minus_one_failures_keep_it_closed_and_the_next_one_opens_it() {
        let mut breaker = ReferenceBreaker::new(&config(3, 100, 1));
        fail_once(&mut breaker, 1);
        fail_once(&mut breaker, 2);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.consecutive_failures(), 2);
        fail_once(&mut breaker, 3);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(
            breaker.transitions(),
            &[(BreakerState::Closed, BreakerState::Open, 3)]
        );
        assert_eq!(breaker.opened_at_ms(), Some(3));
        assert_eq!(breaker.half_open_at_ms(), Some(103));
    }

    #[test]
    fn a_success_resets_the_consecutive_failures() {
        let mut breaker = ReferenceBreaker::new(&config(2, 100, 1));
        fail_once(&mut breaker, 1);
        let call = breaker.request(2).expect("admitted");
        breaker.complete(2, call, true);
        fail_once(&mut breaker, 3);
        assert_eq!(breaker.state(), BreakerState::Closed);
        fail_once(&mut breaker, 4);
        assert_eq!(breaker.state(), BreakerState::Open);
    }

    #[test]
    fn open_rejects_until_the_reset_timeout_and_half_opens_exactly_at_it() {
        let mut breaker = ReferenceBreaker::new(&config(1, 100, 1));
        fail_once(&mut breaker, 10);
        assert!(breaker.request(10).is_none());
        assert!(breaker.request(109).is_none());
        assert_eq!(breaker.state(), BreakerState::Open);
        let probe = breaker.request(110).expect("the probe is admitted");
        assert!(probe.is_probe());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(
            breaker.transitions().last(),
            Some(&(BreakerState::Open, BreakerState::HalfOpen, 110))
        );
        assert_eq!(breaker.counters().rejected, 2);
    }

    #[test]
    fn half_open_admits_at_most_the_probe_budget() {
        let mut breaker = ReferenceBreaker::new(&config(1, 5, 2));
        fail_once(&mut breaker, 0);
        let first = breaker.request(5);
        let second = breaker.request(5);
        let third = breaker.request(6);
        assert!(first.is_some() && second.is_some());
        assert!(third.is_none());
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn a_probe_success_closes_with_counters_reset_and_the_other_probe_is_late() {
        let mut breaker = ReferenceBreaker::new(&config(2, 5, 2));
        fail_once(&mut breaker, 0);
        fail_once(&mut breaker, 0);
        let first = breaker.request(5).expect("probe");
        let second = breaker.request(5).expect("probe");
        breaker.complete(7, second, true);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.consecutive_failures(), 0);
        breaker.complete(8, first, false);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.consecutive_failures(), 0);
        assert_eq!(breaker.counters().late_results, 1);
        assert_eq!(
            breaker.transitions().last(),
            Some(&(BreakerState::HalfOpen, BreakerState::Closed, 7))
        );
    }

    #[test]
    fn a_probe_failure_reopens_with_a_fresh_timeout_from_the_result() {
        let mut breaker = ReferenceBreaker::new(&config(1, 50, 1));
        fail_once(&mut breaker, 0);
        let probe = breaker.request(60).expect("probe");
        breaker.complete(75, probe, false);
        assert_eq!(breaker.state(), BreakerState::Open);
        assert_eq!(breaker.opened_at_ms(), Some(75));
        assert!(breaker.request(124).is_none());
        assert!(breaker.request(125).is_some());
        assert_eq!(breaker.counters().probes_failed, 1);
        assert_eq!(breaker.counters().opened, 2);
    }

    #[test]
    fn results_of_calls_in_flight_when_it_opened_never_transition_it() {
        let mut breaker = ReferenceBreaker::new(&config(1, 10, 1));
        let in_flight = breaker.request(0).expect("admitted");
        fail_once(&mut breaker, 1);
        assert_eq!(breaker.state(), BreakerState::Open);
        let probe = breaker.request(11).expect("probe");
        // The old call's failure arrives while HALF_OPEN: ignored, the probe still decides.
        breaker.complete(12, in_flight, false);
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(breaker.counters().late_results, 1);
        breaker.complete(13, probe, true);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.outstanding_calls(), 0);
    }

    #[test]
    fn stale_failures_from_before_a_close_do_not_count_towards_the_threshold() {
        let mut breaker = ReferenceBreaker::new(&config(2, 10, 1));
        let old = breaker.request(0).expect("admitted");
        fail_once(&mut breaker, 0);
        fail_once(&mut breaker, 0);
        let probe = breaker.request(10).expect("probe");
        breaker.complete(10, probe, true);
        fail_once(&mut breaker, 11);
        breaker.complete(12, old, false);
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert_eq!(breaker.consecutive_failures(), 1);
    }

    #[test]
    fn every_transition_is_logged_in_order_with_its_time() {
        let mut breaker = ReferenceBreaker::new(&config(1, 10, 1));
        fail_once(&mut breaker, 1);
        let probe = breaker.request(20).expect("probe");
        breaker.complete(21, probe, false);
        let probe = breaker.request(31).expect("probe");
        breaker.complete(32, probe, true);
        assert_eq!(
            breaker.transitions(),
            &[
                (BreakerState::Closed, BreakerState::Open, 1),
                (BreakerState::Open, BreakerState::HalfOpen, 20),
                (BreakerState::HalfOpen, BreakerState::Open, 21),
                (BreakerState::Open, BreakerState::HalfOpen, 31),
                (BreakerState::HalfOpen, BreakerState::Closed, 32),
            ]
        );
    }
}
