//! `CircuitBreaker` against the reference model `ReferenceBreaker` (docs/model.md, "Delivery"):
//! the same config (failure_threshold 1..=8, reset_timeout 1..=10 000 ms, half_open_max_probes
//! 1..=3, no jitter, no growth) and the same operations (advance the clock, request a call,
//! complete outstanding call i with success or failure) drive both; after every step their
//! admissions, probe flags, transitions, states, reopen times, consecutive failures and counters
//! must agree.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use z0sim::ledgers::{BreakerState, CircuitBreaker, Permit};
use z0sim::model::BreakerConfig;
use z0sim::reference::breaker::{BreakerState as ReferenceState, ReferenceBreaker, ReferenceCall};

#[derive(Arbitrary, Debug)]
struct Input {
    failure_threshold: u8,
    reset_timeout_ms: u16,
    half_open_max_probes: u8,
    jitter_seed: u64,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Moves the clock forward by this many ms.
    Advance(u16),
    /// Moves the clock to exactly the reference's `opened_at + reset_timeout` (or one ms before)
    /// while it is OPEN and that time is still ahead: the boundary a random walk rarely hits.
    ToResetBoundary { one_ms_early: bool },
    /// Asks both breakers for a call now.
    Request,
    /// Completes outstanding call `which` (modulo their number) now.
    Complete { which: u8, success: bool },
}

fn map_state(state: ReferenceState) -> BreakerState {
    match state {
        ReferenceState::Closed => BreakerState::Closed,
        ReferenceState::Open => BreakerState::Open,
        ReferenceState::HalfOpen => BreakerState::HalfOpen,
    }
}

struct Pair {
    implementation: CircuitBreaker,
    reference: ReferenceBreaker,
    now_ms: u64,
    /// Calls both admitted, in admission order.
    outstanding: Vec<(Permit, ReferenceCall)>,
    /// Transitions of the implementation, as `(from, to, at_ms)`, to compare with the
    /// reference's log.
    transitions: Vec<(BreakerState, BreakerState, u64)>,
}

impl Pair {
    fn step(&mut self, op: &Op) {
        match *op {
            Op::Advance(ms) => self.now_ms += u64::from(ms),
            Op::ToResetBoundary { one_ms_early } => {
                if let Some(half_open_at_ms) = self.reference.half_open_at_ms() {
                    let target_ms = half_open_at_ms - u64::from(one_ms_early);
                    self.now_ms = self.now_ms.max(target_ms);
                }
            }
            Op::Request => {
                let (permit, transition) = self.implementation.try_acquire(self.now_ms);
                self.transitions
                    .extend(transition.map(|t| (t.from, t.to, t.at_ms)));
                let call = self.reference.request(self.now_ms);
                assert_eq!(
                    permit.map(|p| p.is_probe()),
                    call.as_ref().map(ReferenceCall::is_probe),
                    "admission (None: rejected, Some(probe)) differs at {} ms",
                    self.now_ms
                );
                if let (Some(permit), Some(call)) = (permit, call) {
                    self.outstanding.push((permit, call));
                }
            }
            Op::Complete { which, success } => {
                if self.outstanding.is_empty() {
                    return;
                }
                let index = usize::from(which) % self.outstanding.len();
                let (permit, call) = self.outstanding.remove(index);
                let transition = self.implementation.on_result(self.now_ms, permit, success);
                self.transitions
                    .extend(transition.map(|t| (t.from, t.to, t.at_ms)));
                self.reference.complete(self.now_ms, call, success);
            }
        }
        self.check();
    }

    fn check(&self) {
        let reference_log: Vec<_> = self
            .reference
            .transitions()
            .iter()
            .map(|&(from, to, at_ms)| (map_state(from), map_state(to), at_ms))
            .collect();
        assert_eq!(self.transitions, reference_log, "transition logs differ");
        assert_eq!(
            self.implementation.state(),
            map_state(self.reference.state()),
            "states differ at {} ms",
            self.now_ms
        );
        if let Some(half_open_at_ms) = self.reference.half_open_at_ms() {
            assert_eq!(
                self.implementation
                    .opened_at_ms()
                    .saturating_add(self.implementation.reset_timeout_ms()),
                half_open_at_ms,
                "OPEN until different times"
            );
        }
        assert_eq!(
            self.implementation.consecutive_failures(),
            self.reference.consecutive_failures(),
            "consecutive failures differ"
        );
        let mine = self.implementation.counters();
        let theirs = self.reference.counters();
        assert_eq!(
            (
                mine.admitted,
                mine.rejected,
                mine.opened,
                mine.closed,
                mine.probes_failed,
                mine.late_results
            ),
            (
                theirs.admitted,
                theirs.rejected,
                theirs.opened,
                theirs.closed,
                theirs.probes_failed,
                theirs.late_results
            ),
            "counters (admitted, rejected, opened, closed, probes_failed, late_results) differ"
        );
        assert_eq!(self.reference.outstanding_calls(), self.outstanding.len());
    }
}

fuzz_target!(|input: Input| {
    let config = BreakerConfig {
        failure_threshold: u32::from(input.failure_threshold % 8) + 1,
        reset_timeout_ms: u64::from(input.reset_timeout_ms % 10_000) + 1,
        half_open_max_probes: u32::from(input.half_open_max_probes % 3) + 1,
        // The reference models no jitter and no growth.
        reset_timeout_jitter_ratio: 0.0,
        reset_timeout_growth_factor: 1.0,
        ..BreakerConfig::default()
    };
    let mut pair = Pair {
        implementation: CircuitBreaker::new(config, input.jitter_seed),
        reference: ReferenceBreaker::new(&config),
        now_ms: 0,
        outstanding: Vec::new(),
        transitions: Vec::new(),
    };
    for op in &input.ops {
        pair.step(op);
    }
});
