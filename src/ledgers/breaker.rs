//! `CircuitBreaker`: CLOSED / OPEN / HALF_OPEN, as docs/model.md specifies.
//!
//! - CLOSED -> OPEN after `failure_threshold` consecutive failures.
//! - OPEN rejects every call. OPEN -> HALF_OPEN happens lazily, in [`CircuitBreaker::try_acquire`],
//!   on the first call at or after `opened_at_ms + reset_timeout`.
//! - HALF_OPEN admits at most `half_open_max_probes` calls; the first probe result decides:
//!   success -> CLOSED (counters reset), failure -> OPEN with a fresh timeout.
//! - Every admitted call carries a [`Permit`] stamped with the breaker's generation, which changes
//!   on every transition. A result whose permit is from an older generation (a call that was in
//!   flight when the state changed) is recorded but never transitions the breaker.
//!
//! Jitter and growth of the reset timeout are off by default. Jitter draws from a splitmix64
//! stream seeded by the caller, so the breaker stays deterministic and has no random source of
//! its own.

use crate::model::BreakerConfig;
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};

/// The breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls are rejected until the reset timeout has passed.
    Open,
    /// A limited number of probe calls go through.
    HalfOpen,
}

/// A state change, with the time it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// When, ms.
    pub at_ms: u64,
}

impl Transition {
    /// Whether docs/model.md allows this transition (a restart's reset is not a transition here).
    pub fn is_legal(&self) -> bool {
        matches!(
            (self.from, self.to),
            (BreakerState::Closed, BreakerState::Open)
                | (BreakerState::Open, BreakerState::HalfOpen)
                | (BreakerState::HalfOpen, BreakerState::Closed)
                | (BreakerState::HalfOpen, BreakerState::Open)
        )
    }
}

/// Proof that a call was admitted; hand it back with the call's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permit {
    generation: u64,
    probe: bool,
}

impl Permit {
    /// Whether the call was admitted as a HALF_OPEN probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// Counters a breaker keeps about itself (for reports and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerCounters {
    /// Calls admitted.
    pub admitted: u64,
    /// Calls rejected without trying.
    pub rejected: u64,
    /// CLOSED/HALF_OPEN -> OPEN transitions.
    pub opened: u64,
    /// HALF_OPEN -> CLOSED transitions.
    pub closed: u64,
    /// Probes that failed.
    pub probes_failed: u64,
    /// Results of calls admitted before the last transition (recorded, ignored).
    pub late_results: u64,
}

/// A circuit breaker for one client (one target).
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    generation: u64,
    consecutive_failures: u32,
    opened_at_ms: u64,
    reset_timeout_ms: u64,
    /// Opens since the last close: the exponent of the timeout's growth.
    reopens_since_close: u32,
    probes_admitted: u32,
    jitter_state: u64,
    counters: BreakerCounters,
}

impl CircuitBreaker {
    /// A CLOSED breaker with empty counters. `jitter_seed` seeds the jitter stream (unused while
    /// jitter is off).
    pub fn new(config: BreakerConfig, jitter_seed: u64) -> Self {
        debug_assert!(
            config.validate().is_ok(),
            "invalid breaker config {config:?}"
        );
        Self {
            config,
            state: BreakerState::Closed,
            generation: 0,
            consecutive_failures: 0,
            opened_at_ms: 0,
            reset_timeout_ms: config.reset_timeout_ms,
            reopens_since_close: 0,
            probes_admitted: 0,
            jitter_state: jitter_seed,
            counters: BreakerCounters::default(),
        }
    }

    /// The stored state. An OPEN breaker whose timeout has passed still says OPEN until the next
    /// [`Self::try_acquire`]: the OPEN -> HALF_OPEN transition is lazy.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// The breaker's config.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Its counters.
    pub fn counters(&self) -> &BreakerCounters {
        &self.counters
    }

    /// Consecutive failures counted while CLOSED.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// When it last opened, ms (meaningful while OPEN or HALF_OPEN).
    pub fn opened_at_ms(&self) -> u64 {
        self.opened_at_ms
    }

    /// The reset timeout drawn when it last opened, ms.
    pub fn reset_timeout_ms(&self) -> u64 {
        self.reset_timeout_ms
    }

    /// Asks to make a call at `now_ms`. Returns the permit if admitted, and the transition the
    /// request caused (only OPEN -> HALF_OPEN can happen here).
    pub fn try_acquire(&mut self, now_ms: u64) -> (Option<Permit>, Option<Transition>) {
        let mut transition = None;
        if self.state == BreakerState::Open
            && now_ms >= self.opened_at_ms.saturating_add(self.reset_timeout_ms)
        {
            if planted::active(Plant::BreakerSkipsHalfOpen) {
                self.consecutive_failures = 0;
                transition = Some(self.move_to(BreakerState::Closed, now_ms));
            } else {
                transition = Some(self.move_to(BreakerState::HalfOpen, now_ms));
            }
            self.probes_admitted = 0;
        }
        let permit = match self.state {
            BreakerState::Closed => Some(self.permit(false)),
            BreakerState::Open => None,
            BreakerState::HalfOpen
                if self.probes_admitted < self.config.half_open_max_probes
                    || planted::active(Plant::HalfOpenAdmitsAll) =>
            {
                self.probes_admitted += 1;
                Some(self.permit(true))
            }
            BreakerState::HalfOpen => None,
        };
        debug_assert!(
            self.probes_admitted <= self.config.half_open_max_probes || planted::any_active()
        );
        match permit {
            Some(_) => self.counters.admitted += 1,
            None => self.counters.rejected += 1,
        }
        (permit, transition)
    }

    /// Records the result of an admitted call. Returns the transition it caused, if any.
    pub fn on_result(&mut self, now_ms: u64, permit: Permit, success: bool) -> Option<Transition> {
        if permit.generation != self.generation {
            self.counters.late_results += 1;
            return None;
        }
        match (self.state, success) {
            (BreakerState::Closed, true) => {
                self.consecutive_failures = 0;
                None
            }
            (BreakerState::Closed, false) => {
                self.consecutive_failures += 1;
                let threshold = if planted::active(Plant::ThresholdOffByOne) {
                    self.config.failure_threshold + 1
                } else {
                    self.config.failure_threshold
                };
                (self.consecutive_failures >= threshold).then(|| self.open(now_ms))
            }
            (BreakerState::HalfOpen, true) if planted::active(Plant::ProbeSuccessReopens) => {
                Some(self.open(now_ms))
            }
            (BreakerState::HalfOpen, true) => {
                debug_assert!(
                    permit.probe,
                    "a current-generation result in HALF_OPEN is a probe's"
                );
                self.consecutive_failures = 0;
                self.reopens_since_close = 0;
                self.counters.closed += 1;
                Some(self.move_to(BreakerState::Closed, now_ms))
            }
            (BreakerState::HalfOpen, false) => {
                self.counters.probes_failed += 1;
                self.reopens_since_close += 1;
                Some(self.open(now_ms))
            }
            // OPEN admits nothing, so every permit it could see is from an older generation.
            (BreakerState::Open, _) => unreachable_open_result(),
        }
    }

    fn permit(&self, probe: bool) -> Permit {
        Permit {
            generation: self.generation,
            probe,
        }
    }

    fn open(&mut self, now_ms: u64) -> Transition {
        self.opened_at_ms = now_ms;
        self.reset_timeout_ms = self.draw_reset_timeout_ms();
        self.consecutive_failures = 0;
        self.counters.opened += 1;
        self.move_to(BreakerState::Open, now_ms)
    }

    fn move_to(&mut self, to: BreakerState, now_ms: u64) -> Transition {
        let transition = Transition {
            from: self.state,
            to,
            at_ms: now_ms,
        };
        debug_assert!(
            transition.is_legal() || planted::any_active(),
            "illegal transition {transition:?}"
        );
        self.state = to;
        self.generation += 1;
        transition
    }

    /// `min(reset_timeout * growth^reopens, max)`, plus up to `jitter_ratio` of that at random.
    fn draw_reset_timeout_ms(&mut self) -> u64 {
        let base_ms = self.config.reset_timeout_ms as f64;
        let grown_ms = if self.config.reset_timeout_growth_factor > 1.0 {
            let exponent = self.reopens_since_close.min(64) as i32;
            (base_ms * self.config.reset_timeout_growth_factor.powi(exponent))
                .min(self.config.reset_timeout_max_ms as f64)
        } else {
            base_ms
        };
        let jitter_ms = if self.config.reset_timeout_jitter_ratio > 0.0 {
            grown_ms * self.config.reset_timeout_jitter_ratio * self.next_unit()
        } else {
            0.0
        };
        (grown_ms + jitter_ms) as u64
    }

    /// A uniform draw in [0, 1) from the breaker's splitmix64 stream.
    fn next_unit(&mut self) -> f64 {
        self.jitter_state = self.jitter_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.jitter_state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^= mixed >> 31;
        (mixed >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cold]
fn unreachable_open_result() -> Option<Transition> {
    debug_assert!(false, "an OPEN breaker got a current-generation result");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, reset_timeout_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(
            BreakerConfig {
                failure_threshold: threshold,
                reset_timeout_ms,
                ..BreakerConfig::default()
            },
            7,
        )
    }

    /// The jitter stream is splitmix64 (its published outputs from seed 0), so a seed draws
    /// the same reset timeouts in every build: a change to the mixing changes every jittered
    /// run's trace.
    #[test]
    fn the_jitter_stream_is_splitmix64() {
        let mut cb = CircuitBreaker::new(BreakerConfig::default(), 0);
        let expected = [
            0xe220_a839_7b1d_cdaf_u64,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f,
        ];
        for output in expected {
            assert_eq!(cb.next_unit(), (output >> 11) as f64 / (1u64 << 53) as f64);
        }
    }

    fn fail(breaker: &mut CircuitBreaker, now_ms: u64) -> Option<Transition> {
        let (permit, _) = breaker.try_acquire(now_ms);
        breaker.on_result(now_ms, permit.expect("admitted"), false)
    }

    #[test]
    fn breaker_opens_exactly_at_the_threshold_of_consecutive_failures() {
        let mut cb = breaker(3, 1_000);
        assert_eq!(fail(&mut cb, 0), None);
        assert_eq!(fail(&mut cb, 1), None);
        let opened = fail(&mut cb, 2).expect("third failure opens");
        assert_eq!(
            (opened.from, opened.to, opened.at_ms),
            (BreakerState::Closed, BreakerState::Open, 2)
        );
    }

    #[test]
    fn a_success_resets_the_consecutive_failure_count() {
        let mut cb = breaker(2, 1_000);
        fail(&mut cb, 0);
        let (permit, _) = cb.try_acquire(1);
        cb.on_result(1, permit.expect("admitted"), true);
        assert_eq!(fail(&mut cb, 2), None);
        assert_eq!(cb.state(), BreakerState::Closed);
    }

    #[test]
    fn breaker_stays_open_until_the_reset_timeout_then_admits_one_probe() {
        let mut cb = breaker(1, 1_000);
        fail(&mut cb, 100);
        assert_eq!(cb.try_acquire(1_099), (None, None));
        let (probe, transition) = cb.try_acquire(1_100);
        assert!(probe
            .expect("probe admitted at exactly opened_at + timeout")
            .is_probe());
        assert_eq!(transition.map(|t| t.to), Some(BreakerState::HalfOpen));
        assert_eq!(
            cb.try_acquire(1_100),
            (None, None),
            "probe budget of 1 is spent"
        );
    }

    #[test]
    fn probe_success_closes_and_probe_failure_reopens_with_a_fresh_timeout() {
        let mut cb = breaker(1, 1_000);
        fail(&mut cb, 0);
        let (probe, _) = cb.try_acquire(1_000);
        let reopened = cb
            .on_result(1_500, probe.expect("probe"), false)
            .expect("reopens");
        assert_eq!(reopened.to, BreakerState::Open);
        assert_eq!(cb.opened_at_ms(), 1_500);
        assert_eq!(cb.try_acquire(2_499).0, None);
        let (probe, _) = cb.try_acquire(2_500);
        let closed = cb
            .on_result(2_600, probe.expect("probe"), true)
            .expect("closes");
        assert_eq!(
            (closed.from, closed.to),
            (BreakerState::HalfOpen, BreakerState::Closed)
        );
        assert_eq!(cb.consecutive_failures(), 0);
    }

    #[test]
    fn late_results_are_recorded_but_never_transition() {
        let mut cb = breaker(1, 1_000);
        let (stale, _) = cb.try_acquire(0);
        fail(&mut cb, 0);
        assert_eq!(
            cb.on_result(10, stale.expect("admitted while closed"), true),
            None
        );
        assert_eq!(cb.state(), BreakerState::Open);
        assert_eq!(cb.counters().late_results, 1);
    }

    #[test]
    fn growth_multiplies_the_timeout_per_reopen_up_to_the_cap() {
        let config = BreakerConfig {
            failure_threshold: 1,
            reset_timeout_ms: 1_000,
            reset_timeout_growth_factor: 2.0,
            reset_timeout_max_ms: 3_000,
            ..BreakerConfig::default()
        };
        let mut cb = CircuitBreaker::new(config, 1);
        fail(&mut cb, 0);
        assert_eq!(cb.reset_timeout_ms(), 1_000);
        let mut now_ms = 0;
        for expected_ms in [2_000, 3_000, 3_000] {
            now_ms += cb.reset_timeout_ms();
            let (probe, _) = cb.try_acquire(now_ms);
            cb.on_result(now_ms, probe.expect("probe"), false);
            assert_eq!(cb.reset_timeout_ms(), expected_ms);
        }
    }

    #[test]
    fn jitter_stays_within_its_ratio_and_is_seeded() {
        let config = BreakerConfig {
            failure_threshold: 1,
            reset_timeout_ms: 10_000,
            reset_timeout_jitter_ratio: 0.25,
            ..BreakerConfig::default()
        };
        let draws = |seed| {
            let mut cb = CircuitBreaker::new(config, seed);
            fail(&mut cb, 0);
            cb.reset_timeout_ms()
        };
        for seed in 0..200 {
            assert!((10_000..12_500).contains(&draws(seed)));
            assert_eq!(draws(seed), draws(seed));
        }
        assert!(
            (0..50)
                .map(draws)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                > 10
        );
    }
}
