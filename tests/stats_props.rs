//! Property tests for `CachedStateManager` stats periods.
//!
//! Specification: `docs/model.md`, section "CachedStateManager stats", plus the decision
//! at the top of `src/ledgers/period.rs`: an empty period that gets closed is discarded and the
//! next period starts at `now`, exactly like after a non-empty one.
//!
//! The implementation is driven by random operation sequences and compared, after every step,
//! with a small reference model written from the specification. The reference does not keep
//! counters: it records every operation with its time and derives the periods from that history
//! (a period's counts are the cache gets between the event that opened it and the one that
//! closed it). Further properties check the implementation's own output for the invariants the
//! specification implies (ordering, contiguity, minimum length, no empty period, conservation,
//! nothing counted while tracking is off).

use proptest::prelude::*;
use z0sim::ledgers::{CachedStateManager, CloseReason, OpenCounts, StatsPeriod};

// ------------------------------------------------------------------------------------------------
// Reference model
// ------------------------------------------------------------------------------------------------

/// One call made on the manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// `enable_stats_tracking` while tracking is off (the harness never enables twice: the
    /// specification does not say what that means).
    Enable {
        min_interval_ms: u64,
    },
    Disable,
    Flush,
    Get {
        hit: bool,
    },
}

/// An action with the time it was made at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Event {
    at_ms: u64,
    action: Action,
}

/// What the specification says a history produces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Expected {
    /// Every emitted period with the index (in the history) of the event that emitted it.
    emitted: Vec<(usize, StatsPeriod)>,
    /// The open period, if tracking is on at the end of the history.
    open: Option<OpenCounts>,
}

/// The period being counted, as positions in time and in the history.
#[derive(Clone, Copy, Debug)]
struct RefPeriod {
    min_interval_ms: u64,
    start_ms: u64,
    /// Index of the first event that counts in this period.
    first_event: usize,
}

/// Hits and misses among `events`.
fn count_gets(events: &[Event]) -> (u64, u64) {
    events
        .iter()
        .fold((0, 0), |(hits, misses), event| match event.action {
            Action::Get { hit: true } => (hits + 1, misses),
            Action::Get { hit: false } => (hits, misses + 1),
            _ => (hits, misses),
        })
}

/// The periods the specification expects from `history`.
fn reference(history: &[Event]) -> Expected {
    let mut emitted = Vec::new();
    let mut open: Option<RefPeriod> = None;
    // The period `[period.start_ms, at_ms)` holds the gets of `history[period.first_event..end]`;
    // it is emitted unless it is empty (then it is discarded).
    let mut close = |period: RefPeriod, end: usize, at_ms: u64, closed_by: CloseReason| {
        let (hits, misses) = count_gets(&history[period.first_event..end]);
        if hits + misses > 0 {
            emitted.push((
                end,
                StatsPeriod {
                    period_start_ms: period.start_ms,
                    period_end_ms: at_ms,
                    hits,
                    misses,
                    closed_by,
                },
            ));
        }
    };
    for (index, event) in history.iter().enumerate() {
        let at_ms = event.at_ms;
        match (event.action, open) {
            (Action::Enable { min_interval_ms }, None) => {
                open = Some(RefPeriod {
                    min_interval_ms,
                    start_ms: at_ms,
                    first_event: index + 1,
                });
            }
            (Action::Enable { .. }, Some(_)) => {
                unreachable!("the harness never enables tracking twice")
            }
            (Action::Disable, Some(period)) => {
                close(period, index, at_ms, CloseReason::Disable);
                open = None;
            }
            (Action::Flush, Some(period)) => {
                close(period, index, at_ms, CloseReason::ExplicitFlush);
                open = Some(RefPeriod {
                    start_ms: at_ms,
                    first_event: index + 1,
                    ..period
                });
            }
            (Action::Get { .. }, Some(period))
                if at_ms - period.start_ms >= period.min_interval_ms =>
            {
                // The get that finds the interval expired closes the period without counting in
                // it, then counts as the first event of the next one.
                close(period, index, at_ms, CloseReason::Interval);
                open = Some(RefPeriod {
                    start_ms: at_ms,
                    first_event: index,
                    ..period
                });
            }
            // A get inside the interval is counted from the history when its period closes;
            // anything while tracking is off counts nowhere.
            _ => {}
        }
    }
    let open = open.map(|period| {
        let (hits, misses) = count_gets(&history[period.first_event..]);
        OpenCounts {
            period_start_ms: period.start_ms,
            hits,
            misses,
        }
    });
    Expected { emitted, open }
}

// ------------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------------

/// A generated operation; time operations are resolved against the current interval.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Advance by `interval * thousandths / 1000`, i.e. anywhere in `0..3 * interval`.
    Advance {
        thousandths: u64,
    },
    /// Advance by a few ms (several operations at the same or nearly the same time).
    Nudge {
        ms: u64,
    },
    /// Advance to exactly `period_start + interval` (or one ms before), if that is not past.
    ToBoundary {
        one_before: bool,
    },
    Get {
        hit: bool,
    },
    Flush,
    Disable,
    /// Enable if tracking is off (optionally with a new interval); a no-op while it is on.
    Enable {
        new_interval_ms: Option<u64>,
    },
}

#[derive(Clone, Debug)]
struct Scenario {
    start_ms: u64,
    min_interval_ms: u64,
    ops: Vec<Op>,
}

/// One step as the implementation lived it.
#[derive(Clone, Debug)]
struct Step {
    now_ms: u64,
    /// The call made on the manager; `None` for time advances and skipped enables.
    action: Option<Action>,
    /// Whether tracking was on before the step (the harness's own bookkeeping).
    tracking_before: bool,
    /// Whether tracking is on after the step.
    tracking_after: bool,
    /// The interval of the current tracking session.
    min_interval_ms: u64,
    /// What the call returned.
    emitted: Option<StatsPeriod>,
    /// `open_period()` after the step.
    open: Option<OpenCounts>,
    /// Hits and misses of all gets made while tracking was on, up to and including this step.
    counted_hits: u64,
    counted_misses: u64,
}

impl Step {
    /// Whether this step is a cache get made while tracking was on.
    fn counted_get(&self) -> Option<bool> {
        match self.action {
            Some(Action::Get { hit }) if self.tracking_before => Some(hit),
            _ => None,
        }
    }
}

struct Trace {
    steps: Vec<Step>,
    /// The first step after which the implementation and the reference disagreed.
    divergence: Option<String>,
}

impl Trace {
    /// Every emitted period with the index of the step that emitted it.
    fn emissions(&self) -> Vec<(usize, StatsPeriod)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(index, step)| step.emitted.map(|period| (index, period)))
            .collect()
    }
}

/// Runs `scenario` (tracking enabled at its start) on the implementation, comparing it with the
/// reference model after every step.
fn run(scenario: &Scenario) -> Trace {
    let mut manager = CachedStateManager::new();
    let mut now_ms = scenario.start_ms;
    let mut min_interval_ms = scenario.min_interval_ms;
    let mut tracking = false;
    let mut history: Vec<Event> = Vec::new();
    let mut implementation: Vec<(usize, StatsPeriod)> = Vec::new();
    let mut steps = Vec::with_capacity(scenario.ops.len() + 1);
    let mut divergence = None;
    let (mut counted_hits, mut counted_misses) = (0, 0);
    let first = Op::Enable {
        new_interval_ms: None,
    };
    for (index, op) in std::iter::once(first)
        .chain(scenario.ops.iter().copied())
        .enumerate()
    {
        let tracking_before = tracking;
        let action = match op {
            Op::Advance { thousandths } => {
                now_ms += min_interval_ms * thousandths / 1000;
                None
            }
            Op::Nudge { ms } => {
                now_ms += ms;
                None
            }
            Op::ToBoundary { one_before } => {
                if let Some(open) = reference(&history).open {
                    let target = open.period_start_ms + min_interval_ms - u64::from(one_before);
                    now_ms = now_ms.max(target);
                }
                None
            }
            Op::Get { hit } => Some(Action::Get { hit }),
            Op::Flush => Some(Action::Flush),
            Op::Disable => Some(Action::Disable),
            Op::Enable { .. } if tracking => None,
            Op::Enable { new_interval_ms } => {
                min_interval_ms = new_interval_ms.unwrap_or(min_interval_ms);
                Some(Action::Enable { min_interval_ms })
            }
        };
        let emitted = match action {
            None => None,
            Some(Action::Enable { min_interval_ms }) => {
                manager.enable_stats_tracking(now_ms, min_interval_ms);
                tracking = true;
                None
            }
            Some(Action::Disable) => {
                tracking = false;
                manager.disable_stats_tracking(now_ms)
            }
            Some(Action::Flush) => manager.flush_stats(now_ms),
            Some(Action::Get { hit }) => {
                if tracking {
                    if hit {
                        counted_hits += 1;
                    } else {
                        counted_misses += 1;
                    }
                }
                manager.cache_get(now_ms, hit)
            }
        };
        if let Some(action) = action {
            history.push(Event {
                at_ms: now_ms,
                action,
            });
        }
        if let Some(period) = emitted {
            implementation.push((history.len() - 1, period));
        }
        let open = manager.open_period();
        if divergence.is_none() {
            let expected = reference(&history);
            if expected.emitted != implementation || expected.open != open {
                divergence = Some(format!(
                    "after step {index} ({op:?} at {now_ms} ms):\n  expected emitted {:?}\n  actual   emitted {implementation:?}\n  expected open {:?}\n  actual   open {open:?}",
                    expected.emitted, expected.open
                ));
            }
        }
        steps.push(Step {
            now_ms,
            action,
            tracking_before,
            tracking_after: tracking,
            min_interval_ms,
            emitted,
            open,
            counted_hits,
            counted_misses,
        });
    }
    Trace { steps, divergence }
}

/// Replays concrete events on a fresh manager; returns the emitted periods.
fn replay(events: impl IntoIterator<Item = Event>) -> Vec<StatsPeriod> {
    let mut manager = CachedStateManager::new();
    events
        .into_iter()
        .filter_map(|event| match event.action {
            Action::Enable { min_interval_ms } => {
                manager.enable_stats_tracking(event.at_ms, min_interval_ms);
                None
            }
            Action::Disable => manager.disable_stats_tracking(event.at_ms),
            Action::Flush => manager.flush_stats(event.at_ms),
            Action::Get { hit } => manager.cache_get(event.at_ms, hit),
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Strategies
// ------------------------------------------------------------------------------------------------

/// Mostly any interval, often a tiny one (so that many periods close).
fn interval() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..=5, 1u64..=120_000]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => any::<bool>().prop_map(|hit| Op::Get { hit }),
        4 => (0u64..3000).prop_map(|thousandths| Op::Advance { thousandths }),
        2 => (0u64..=3).prop_map(|ms| Op::Nudge { ms }),
        3 => any::<bool>().prop_map(|one_before| Op::ToBoundary { one_before }),
        1 => Just(Op::Flush),
        1 => Just(Op::Disable),
        1 => proptest::option::of(interval()).prop_map(|new_interval_ms| Op::Enable { new_interval_ms }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0u64..1_000_000_000_000,
        interval(),
        prop::collection::vec(op(), 0..300),
    )
        .prop_map(|(start_ms, min_interval_ms, ops)| Scenario {
            start_ms,
            min_interval_ms,
            ops,
        })
}

/// No regression files: this test must not write anything into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------------------------
// Properties
// ------------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn implementation_emits_exactly_the_periods_of_the_reference_model_after_every_step(
        scenario in scenario()
    ) {
        let trace = run(&scenario);
        if let Some(divergence) = trace.divergence {
            prop_assert!(false, "implementation and reference disagree {}", divergence);
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn emitted_periods_are_in_time_order_and_contiguous_unless_nothing_was_counted_in_between(
        scenario in scenario()
    ) {
        let trace = run(&scenario);
        let mut previous: Option<(usize, StatsPeriod)> = None;
        for (index, period) in trace.emissions() {
            let step = &trace.steps[index];
            prop_assert!(period.period_start_ms <= period.period_end_ms, "step {}: {:?}", index, period);
            prop_assert_eq!(period.period_end_ms, step.now_ms, "step {}: a period ends when it is closed", index);
            // Every get counted since the previous emission (including the get that closed the
            // previous period by the interval rule) counts in this period, and lies in it.
            let since = previous.map_or(0, |(previous_index, _)| previous_index);
            let gets: Vec<(u64, bool)> = trace.steps[since..index]
                .iter()
                .filter_map(|step| step.counted_get().map(|hit| (step.now_ms, hit)))
                .collect();
            let hits = gets.iter().filter(|(_, hit)| *hit).count() as u64;
            prop_assert_eq!(
                (period.hits, period.misses),
                (hits, gets.len() as u64 - hits),
                "step {}: {:?} does not hold the gets counted since step {}", index, period, since
            );
            for (at_ms, _) in &gets {
                prop_assert!(
                    (period.period_start_ms..=period.period_end_ms).contains(at_ms),
                    "step {}: a get at {} ms was counted in {:?}", index, at_ms, period
                );
            }
            if let Some((previous_index, previous_period)) = previous {
                prop_assert!(
                    period.period_start_ms >= previous_period.period_end_ms,
                    "steps {} and {}: {:?} overlaps {:?}", previous_index, index, previous_period, period
                );
                if period.period_start_ms != previous_period.period_end_ms {
                    let in_gap: Vec<&(u64, bool)> = gets
                        .iter()
                        .filter(|(at_ms, _)| *at_ms < period.period_start_ms)
                        .collect();
                    prop_assert!(
                        in_gap.is_empty(),
                        "steps {} and {}: gap between {:?} and {:?} although gets were counted in it: {:?}",
                        previous_index, index, previous_period, period, in_gap
                    );
                }
            }
            previous = Some((index, period));
        }
    }

    #[test]
    fn interval_closed_periods_are_never_shorter_than_the_interval(scenario in scenario()) {
        let trace = run(&scenario);
        for (index, period) in trace.emissions() {
            let step = &trace.steps[index];
            let length = period.period_end_ms - period.period_start_ms;
            match period.closed_by {
                CloseReason::Interval => {
                    prop_assert!(
                        matches!(step.action, Some(Action::Get { .. })),
                        "step {}: only a cache get closes by the interval rule: {:?}", index, step
                    );
                    prop_assert!(
                        length >= step.min_interval_ms,
                        "step {}: {:?} is {} ms long, the interval is {} ms",
                        index, period, length, step.min_interval_ms
                    );
                }
                CloseReason::ExplicitFlush => prop_assert_eq!(step.action, Some(Action::Flush), "step {}", index),
                CloseReason::Disable => prop_assert_eq!(step.action, Some(Action::Disable), "step {}", index),
            }
        }
    }

    #[test]
    fn no_period_is_ever_emitted_empty(scenario in scenario()) {
        let trace = run(&scenario);
        for (index, period) in trace.emissions() {
            prop_assert!(period.hits + period.misses > 0, "step {}: empty period {:?}", index, period);
        }
    }

    #[test]
    fn every_counted_get_is_in_an_emitted_period_or_the_open_one_at_every_step(
        scenario in scenario()
    ) {
        let trace = run(&scenario);
        let (mut emitted_hits, mut emitted_misses) = (0, 0);
        for (index, step) in trace.steps.iter().enumerate() {
            if let Some(period) = step.emitted {
                emitted_hits += period.hits;
                emitted_misses += period.misses;
            }
            prop_assert_eq!(step.open.is_some(), step.tracking_after, "step {}: {:?}", index, step);
            let open = step.open.unwrap_or_default();
            prop_assert_eq!(
                (emitted_hits + open.hits, emitted_misses + open.misses),
                (step.counted_hits, step.counted_misses),
                "step {}: emitted + open != counted ({:?})", index, step
            );
        }
    }

    #[test]
    fn cache_gets_while_tracking_is_off_are_not_counted_anywhere(scenario in scenario()) {
        let trace = run(&scenario);
        for (index, step) in trace.steps.iter().enumerate() {
            if matches!(step.action, Some(Action::Get { .. })) && !step.tracking_before {
                prop_assert_eq!(step.emitted, None, "step {}", index);
                prop_assert_eq!(step.open, None, "step {}", index);
            }
        }
        // Leaving those gets out changes nothing.
        let events = trace.steps.iter().filter_map(|step| {
            step.action.map(|action| Event { at_ms: step.now_ms, action })
        });
        let without_off_gets = trace
            .steps
            .iter()
            .filter(|step| step.tracking_before || !matches!(step.action, Some(Action::Get { .. })))
            .filter_map(|step| step.action.map(|action| Event { at_ms: step.now_ms, action }));
        let with: Vec<StatsPeriod> = trace.emissions().into_iter().map(|(_, period)| period).collect();
        prop_assert_eq!(replay(events), with.clone(), "replay is not deterministic");
        prop_assert_eq!(replay(without_off_gets), with);
    }
}

// ------------------------------------------------------------------------------------------------
// The reference model on the specification's own examples
// ------------------------------------------------------------------------------------------------

fn at(at_ms: u64, action: Action) -> Event {
    Event { at_ms, action }
}

#[test]
fn reference_closes_exactly_at_the_interval_and_counts_the_closing_get_in_the_next_period() {
    let history = [
        at(
            1_000,
            Action::Enable {
                min_interval_ms: 60_000,
            },
        ),
        at(1_000, Action::Get { hit: true }),
        at(60_999, Action::Get { hit: false }),
        at(61_000, Action::Get { hit: true }),
    ];
    let expected = reference(&history);
    assert_eq!(
        expected.emitted,
        vec![(
            3,
            StatsPeriod {
                period_start_ms: 1_000,
                period_end_ms: 61_000,
                hits: 1,
                misses: 1,
                closed_by: CloseReason::Interval,
            }
        )]
    );
    assert_eq!(
        expected.open,
        Some(OpenCounts {
            period_start_ms: 61_000,
            hits: 1,
            misses: 0
        })
    );
}

#[test]
fn reference_discards_an_empty_period_and_starts_the_next_one_at_now() {
    let history = [
        at(
            0,
            Action::Enable {
                min_interval_ms: 10,
            },
        ),
        at(1_000, Action::Get { hit: false }),
        at(1_001, Action::Flush),
        at(1_002, Action::Flush),
        at(1_005, Action::Get { hit: true }),
        at(1_006, Action::Disable),
        at(1_007, Action::Get { hit: true }),
    ];
    let expected = reference(&history);
    let periods: Vec<_> = expected
        .emitted
        .iter()
        .map(|(_, p)| {
            (
                p.period_start_ms,
                p.period_end_ms,
                p.hits,
                p.misses,
                p.closed_by,
            )
        })
        .collect();
    assert_eq!(
        periods,
        vec![
            (1_000, 1_001, 0, 1, CloseReason::ExplicitFlush),
            (1_002, 1_006, 1, 0, CloseReason::Disable),
        ]
    );
    assert_eq!(expected.open, None);
}
