//! Property tests of `z0sim::ledgers::CircuitBreaker` against the independent reference model
//! `z0sim::reference::breaker::ReferenceBreaker` (docs/model.md, "Delivery").
//!
//! Every case draws a config (failure_threshold 1..=6, reset_timeout 1..=5000 ms,
//! half_open_max_probes 1..=3, jitter 0, growth 1, sometimes the defaults) and a sequence of
//! operations: advance the clock, request a call, complete one of the outstanding calls (chosen by
//! index) with success or failure. Two focused operations aim at the boundaries: a request at
//! exactly `opened_at + reset_timeout` or one ms before it, and a run of exactly
//! `failure_threshold - 1` or `failure_threshold` failures. The same sequence drives both
//! breakers; every primitive step is recorded for both, and the properties compare the records.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use z0sim::ledgers::{BreakerState, CircuitBreaker, Permit, Transition};
use z0sim::model::BreakerConfig;
use z0sim::reference::breaker::{
    BreakerState as ReferenceState, ReferenceBreaker, ReferenceCall, ReferenceCounters,
};

/// Cases of the properties that compare the implementation with the reference step by step.
const COMPARISON_CASES: u32 = 1024;
/// Cases of the properties that check one invariant of the implementation.
const INVARIANT_CASES: u32 = 512;
/// Longest operation sequence (a run operation expands into up to 12 steps).
const MAX_OPS: usize = 200;

/// One operation of a generated sequence.
#[derive(Clone, Debug)]
enum Op {
    /// Move the clock forward by this many ms.
    Advance(u64),
    /// Ask for a call at the current time.
    Request,
    /// Complete the outstanding call at this index (nothing if none is outstanding).
    Complete { which: Index, success: bool },
    /// While the reference is OPEN, move the clock to exactly its `opened_at + reset_timeout`
    /// (or one ms before, if that is still ahead), then request. Otherwise just request.
    RequestAtReset { one_ms_early: bool },
    /// Request `failure_threshold` calls (one fewer if `one_short`) now, then fail every one of
    /// them that was admitted, in order.
    FailureRun { one_short: bool },
}

/// What a request step answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Admission {
    Rejected,
    Admitted { probe: bool },
}

/// The kind of a primitive step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepKind {
    Request,
    Complete { success: bool },
}

/// The counters both breakers keep, in one comparable shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    admitted: u64,
    rejected: u64,
    opened: u64,
    closed: u64,
    probes_failed: u64,
    late_results: u64,
}

/// What one breaker showed after one primitive step.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Observation {
    /// For request steps only.
    admission: Option<Admission>,
    /// Transitions the step caused, as `(from, to, at_ms)`.
    transitions: Vec<(BreakerState, BreakerState, u64)>,
    /// State after the step.
    state: BreakerState,
    /// While OPEN after the step: the time from which a request half-opens it.
    half_open_at_ms: Option<u64>,
}

/// One primitive step, seen by both breakers.
#[derive(Clone, Debug)]
struct Step {
    now_ms: u64,
    kind: StepKind,
    /// The implementation's state before the step.
    state_before: BreakerState,
    implementation: Observation,
    reference: Observation,
    implementation_counts: Counts,
    reference_counts: Counts,
}

fn map_state(state: ReferenceState) -> BreakerState {
    match state {
        ReferenceState::Closed => BreakerState::Closed,
        ReferenceState::Open => BreakerState::Open,
        ReferenceState::HalfOpen => BreakerState::HalfOpen,
    }
}

fn reference_counts(counters: ReferenceCounters) -> Counts {
    Counts {
        admitted: counters.admitted,
        rejected: counters.rejected,
        opened: counters.opened,
        closed: counters.closed,
        probes_failed: counters.probes_failed,
        late_results: counters.late_results,
    }
}

/// Both breakers, the clock, the calls in flight and the record of every step.
struct Harness {
    implementation: CircuitBreaker,
    reference: ReferenceBreaker,
    failure_threshold: u32,
    now_ms: u64,
    /// A call admitted by at least one side; if the sides disagree, only one half is present.
    in_flight: Vec<(Option<Permit>, Option<ReferenceCall>)>,
    steps: Vec<Step>,
}

impl Harness {
    fn new(config: BreakerConfig) -> Self {
        Self {
            implementation: CircuitBreaker::new(config, 0),
            reference: ReferenceBreaker::new(&config),
            failure_threshold: config.failure_threshold,
            now_ms: 0,
            in_flight: Vec::new(),
            steps: Vec::new(),
        }
    }

    fn implementation_half_open_at(&self) -> Option<u64> {
        (self.implementation.state() == BreakerState::Open).then(|| {
            self.implementation
                .opened_at_ms()
                .saturating_add(self.implementation.reset_timeout_ms())
        })
    }

    fn implementation_counts(&self) -> Counts {
        let c = self.implementation.counters();
        Counts {
            admitted: c.admitted,
            rejected: c.rejected,
            opened: c.opened,
            closed: c.closed,
            probes_failed: c.probes_failed,
            late_results: c.late_results,
        }
    }

    fn record(
        &mut self,
        kind: StepKind,
        state_before: BreakerState,
        log_before: usize,
        implementation: (Option<Admission>, Option<Transition>),
        reference_admission: Option<Admission>,
    ) {
        let (admission, transition) = implementation;
        let implementation = Observation {
            admission,
            transitions: transition.iter().map(|t| (t.from, t.to, t.at_ms)).collect(),
            state: self.implementation.state(),
            half_open_at_ms: self.implementation_half_open_at(),
        };
        let reference = Observation {
            admission: reference_admission,
            transitions: self.reference.transitions()[log_before..]
                .iter()
                .map(|&(from, to, at)| (map_state(from), map_state(to), at))
                .collect(),
            state: map_state(self.reference.state()),
            half_open_at_ms: self.reference.half_open_at_ms(),
        };
        let step = Step {
            now_ms: self.now_ms,
            kind,
            state_before,
            implementation,
            reference,
            implementation_counts: self.implementation_counts(),
            reference_counts: reference_counts(self.reference.counters()),
        };
        self.steps.push(step);
    }

    /// A request at the current time. Returns the index of the new in-flight entry, if any side
    /// admitted the call (the entry is always pushed last).
    fn request(&mut self) -> Option<usize> {
        let state_before = self.implementation.state();
        let log_before = self.reference.transitions().len();
        let (permit, transition) = self.implementation.try_acquire(self.now_ms);
        let call = self.reference.request(self.now_ms);
        let admission = |probe: Option<bool>| match probe {
            None => Admission::Rejected,
            Some(probe) => Admission::Admitted { probe },
        };
        let implementation_admission = admission(permit.map(|p| p.is_probe()));
        let reference_admission = admission(call.as_ref().map(ReferenceCall::is_probe));
        self.record(
            StepKind::Request,
            state_before,
            log_before,
            (Some(implementation_admission), transition),
            Some(reference_admission),
        );
        if permit.is_none() && call.is_none() {
            return None;
        }
        self.in_flight.push((permit, call));
        Some(self.in_flight.len() - 1)
    }

    /// Completes the in-flight entry at `index` (which must exist) at the current time.
    fn complete(&mut self, index: usize, success: bool) {
        let (permit, call) = self.in_flight.remove(index);
        let state_before = self.implementation.state();
        let log_before = self.reference.transitions().len();
        let transition =
            permit.and_then(|p| self.implementation.on_result(self.now_ms, p, success));
        if let Some(call) = call {
            self.reference.complete(self.now_ms, call, success);
        }
        self.record(
            StepKind::Complete { success },
            state_before,
            log_before,
            (None, transition),
            None,
        );
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Advance(ms) => self.now_ms += ms,
            Op::Request => {
                self.request();
            }
            Op::Complete { which, success } => {
                if !self.in_flight.is_empty() {
                    let index = which.index(self.in_flight.len());
                    self.complete(index, *success);
                }
            }
            Op::RequestAtReset { one_ms_early } => {
                if let Some(half_open_at) = self.reference.half_open_at_ms() {
                    let target = half_open_at - u64::from(*one_ms_early);
                    self.now_ms = self.now_ms.max(target);
                }
                self.request();
            }
            Op::FailureRun { one_short } => {
                let count = self.failure_threshold - u32::from(*one_short);
                let mut admitted = 0;
                for _ in 0..count {
                    if self.request().is_some() {
                        admitted += 1;
                    }
                }
                // The admitted calls are the last `admitted` entries; fail them in request order.
                let first = self.in_flight.len() - admitted;
                for _ in 0..admitted {
                    self.complete(first, false);
                }
            }
        }
    }
}

/// Runs `ops` on both breakers and returns the record of every primitive step.
fn run(config: BreakerConfig, ops: &[Op]) -> Vec<Step> {
    let mut harness = Harness::new(config);
    for op in ops {
        harness.apply(op);
    }
    harness.steps
}

fn configs() -> impl Strategy<Value = BreakerConfig> {
    let random = (1u32..=6, 1u64..=5_000, 1u32..=3).prop_map(
        |(failure_threshold, reset_timeout_ms, half_open_max_probes)| BreakerConfig {
            failure_threshold,
            reset_timeout_ms,
            half_open_max_probes,
            ..BreakerConfig::default()
        },
    );
    prop_oneof![7 => random, 1 => Just(BreakerConfig::default())]
}

fn advances() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(0u64),
        3 => 1u64..=10,
        2 => 0u64..=6_000,
    ]
    .prop_map(Op::Advance)
}

fn completions() -> impl Strategy<Value = Op> {
    (any::<Index>(), any::<bool>()).prop_map(|(which, success)| Op::Complete { which, success })
}

/// Plain random operations.
fn random_ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        2 => advances(),
        4 => Just(Op::Request),
        4 => completions(),
    ];
    prop::collection::vec(op, 1..=MAX_OPS)
}

/// Operations weighted towards the reset-timeout and threshold boundaries.
fn boundary_ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        1 => advances(),
        2 => Just(Op::Request),
        3 => completions(),
        2 => any::<bool>().prop_map(|one_ms_early| Op::RequestAtReset { one_ms_early }),
        2 => any::<bool>().prop_map(|one_short| Op::FailureRun { one_short }),
    ];
    prop::collection::vec(op, 1..=MAX_OPS)
}

/// Either kind of sequence, for the invariant properties.
fn any_ops() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![random_ops(), boundary_ops()]
}

fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Never write regression files into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Asserts that the implementation and the reference agreed on every step.
fn assert_agree(steps: &[Step]) -> Result<(), TestCaseError> {
    for (i, step) in steps.iter().enumerate() {
        prop_assert_eq!(
            &step.implementation,
            &step.reference,
            "step {} ({:?} at {} ms): implementation (left) vs reference (right)",
            i,
            step.kind,
            step.now_ms
        );
    }
    Ok(())
}

/// Indices of the steps in which a breaker opened, with the transition's time.
fn opens(steps: &[Step], of: impl Fn(&Step) -> &Observation) -> Vec<(usize, u64)> {
    steps
        .iter()
        .enumerate()
        .flat_map(|(i, step)| {
            of(step)
                .transitions
                .iter()
                .filter(|(_, to, _)| *to == BreakerState::Open)
                .map(move |&(_, _, at)| (i, at))
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(proptest_config(COMPARISON_CASES))]

    #[test]
    fn the_implementation_answers_like_the_reference_after_every_random_step(
        config in configs(),
        ops in random_ops(),
    ) {
        assert_agree(&run(config, &ops))?;
    }

    #[test]
    fn the_implementation_answers_like_the_reference_at_the_timeout_and_threshold_boundaries(
        config in configs(),
        ops in boundary_ops(),
    ) {
        assert_agree(&run(config, &ops))?;
    }
}

proptest! {
    #![proptest_config(proptest_config(INVARIANT_CASES))]

    #[test]
    fn the_implementation_opens_exactly_when_the_reference_opens(
        config in configs(),
        ops in any_ops(),
    ) {
        let steps = run(config, &ops);
        prop_assert_eq!(opens(&steps, |s| &s.implementation), opens(&steps, |s| &s.reference));
    }

    #[test]
    fn every_transition_of_the_implementation_is_legal_and_chains_from_the_previous_state(
        config in configs(),
        ops in any_ops(),
    ) {
        let mut state = BreakerState::Closed;
        let mut last_at = 0;
        for step in run(config, &ops) {
            prop_assert_eq!(step.state_before, state);
            prop_assert!(step.implementation.transitions.len() <= 1);
            for &(from, to, at_ms) in &step.implementation.transitions {
                let transition = Transition { from, to, at_ms };
                prop_assert!(transition.is_legal(), "illegal {:?}", transition);
                prop_assert_eq!(from, state);
                prop_assert_eq!(at_ms, step.now_ms);
                prop_assert!(at_ms >= last_at);
                if step.kind == StepKind::Request {
                    prop_assert_eq!((from, to), (BreakerState::Open, BreakerState::HalfOpen));
                }
                state = to;
                last_at = at_ms;
            }
            prop_assert_eq!(step.implementation.state, state);
        }
    }

    #[test]
    fn an_open_implementation_never_admits_a_call(
        config in configs(),
        ops in any_ops(),
    ) {
        for step in run(config, &ops) {
            if step.kind != StepKind::Request {
                continue;
            }
            let admitted = step.implementation.admission != Some(Admission::Rejected);
            if step.implementation.state == BreakerState::Open {
                prop_assert!(!admitted, "admitted while OPEN at {} ms", step.now_ms);
            }
            if let (BreakerState::Open, true) = (step.state_before, admitted) {
                prop_assert_eq!(
                    &step.implementation.transitions,
                    &vec![(BreakerState::Open, BreakerState::HalfOpen, step.now_ms)]
                );
            }
        }
    }

    #[test]
    fn a_half_open_episode_of_the_implementation_admits_at_most_the_probe_budget(
        config in configs(),
        ops in any_ops(),
    ) {
        let mut probes_this_episode = 0u32;
        for step in run(config, &ops) {
            if step
                .implementation
                .transitions
                .iter()
                .any(|&(_, to, _)| to == BreakerState::HalfOpen)
            {
                probes_this_episode = 0;
            }
            if let Some(Admission::Admitted { probe }) = step.implementation.admission {
                prop_assert_eq!(probe, step.implementation.state == BreakerState::HalfOpen);
                if probe {
                    probes_this_episode += 1;
                    prop_assert!(
                        probes_this_episode <= config.half_open_max_probes,
                        "{} probes admitted in one HALF_OPEN episode, budget {}",
                        probes_this_episode,
                        config.half_open_max_probes
                    );
                }
            }
        }
    }

    #[test]
    fn the_implementation_counts_like_the_reference(
        config in configs(),
        ops in any_ops(),
    ) {
        for (i, step) in run(config, &ops).iter().enumerate() {
            prop_assert_eq!(
                step.implementation_counts,
                step.reference_counts,
                "step {}: implementation (left) vs reference (right)",
                i
            );
        }
    }
}
