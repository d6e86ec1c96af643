//! `stats_interval_respected`: per entity, what its stats tracking emitted follows the interval
//! rule. Judged on every emitted period (delivered or not), against the entity's own operations
//! as the world applied them:
//! - periods follow each other without a gap or an overlap while tracking is on. A period closed
//!   empty is discarded and the next one starts then: by a flush or a disable (both observed),
//!   or by the first operation that found an empty period due, at least one interval after its
//!   start (what it held is judged by `observability_conserved`);
//! - a period closed by the interval is at least `stats_min_interval` long and closed by the
//!   first operation at or after its due time (an earlier operation that found it due would
//!   have closed it: the period was closed late);
//! - a period closed by `flushStats()` or a disable ends at that call, whatever its length;
//! - nothing is emitted while tracking is off.

use super::{verdict, FirstViolation};
use crate::ledgers::StatsSummary;
use crate::model::SdkSubtype;
use crate::runtime::observe::{Observation, StatsControl, Trigger};
use crate::runtime::ActorIdx;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashMap;

/// Each entity's expected next period start, per stats kind (`None`: tracking is off).
pub(super) struct StatsChecker {
    min_interval_ms: u64,
    /// Lookup only: the verdict is the first violation in observation order.
    expected_start_ms: FxHashMap<(ActorIdx, SdkSubtype), Option<u64>>,
    violation: FirstViolation,
}

const KINDS: [SdkSubtype; 2] = [SdkSubtype::CacheStats, SdkSubtype::FactAppended];

impl StatsChecker {
    pub(super) fn new(scenario: &Scenario) -> Self {
        Self {
            min_interval_ms: scenario.sdk.stats_min_interval_ms,
            expected_start_ms: FxHashMap::default(),
            violation: FirstViolation::default(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            Observation::Started { at_ms, actor } => self.set_both(actor, Some(at_ms)),
            Observation::Tracking {
                at_ms,
                entity,
                control,
            } => match control {
                StatsControl::Flush => {
                    for kind in KINDS {
                        if let Some(expected) = self.expected_start_ms.get_mut(&(entity, kind)) {
                            if expected.is_some() {
                                *expected = Some(at_ms);
                            }
                        }
                    }
                }
                StatsControl::Disable => self.set_both(entity, None),
                StatsControl::Enable => self.set_both(entity, Some(at_ms)),
            },
            Observation::Emitted {
                at_ms,
                entity,
                stats: Some(stats),
                trigger,
                ..
            } => {
                let violation = self.period(at_ms, entity, stats, trigger);
                self.violation.note(violation);
            }
            _ => {}
        }
    }

    fn set_both(&mut self, entity: ActorIdx, start_ms: Option<u64>) {
        for kind in KINDS {
            self.expected_start_ms.insert((entity, kind), start_ms);
        }
    }

    /// Judges a period entity `entity` emitted at `at_ms`.
    fn period(
        &mut self,
        at_ms: u64,
        entity: ActorIdx,
        stats: StatsSummary,
        trigger: Trigger,
    ) -> Option<String> {
        let kind = stats.subtype.as_str();
        let (start_ms, end_ms) = (stats.period_start_ms, stats.period_end_ms);
        let expected = self
            .expected_start_ms
            .insert((entity, stats.subtype), Some(end_ms))
            .flatten();
        let described = format!("{kind} of entity #{entity}: period [{start_ms} ms, {end_ms} ms)");
        let Some(expected_ms) = expected else {
            return Some(format!(
                "{described} emitted at {at_ms} ms while tracking was off"
            ));
        };
        let discarded_empty = start_ms >= expected_ms.saturating_add(self.min_interval_ms);
        if start_ms != expected_ms && !discarded_empty {
            let what = if start_ms > expected_ms {
                "a gap"
            } else {
                "an overlap"
            };
            return Some(format!(
                "{described} starts at {start_ms} ms, but the period before it ended at {expected_ms} ms ({what} while tracking was on)"
            ));
        }
        if end_ms != at_ms {
            return Some(format!("{described} was closed at {at_ms} ms"));
        }
        let previous_ms = match trigger {
            Trigger::CacheGet { previous_ms } if stats.subtype == SdkSubtype::CacheStats => {
                previous_ms
            }
            Trigger::Append { previous_ms } if stats.subtype == SdkSubtype::FactAppended => {
                previous_ms
            }
            Trigger::Flush | Trigger::Disable => return None,
            other => return Some(format!("{described} was closed by {other:?}")),
        };
        let min_interval_ms = self.min_interval_ms;
        if end_ms - start_ms < min_interval_ms {
            return Some(format!(
                "{described} is shorter than min_interval {min_interval_ms} ms"
            ));
        }
        let due_ms = start_ms + min_interval_ms;
        previous_ms.filter(|previous_ms| *previous_ms >= due_ms).map(|previous_ms| {
            format!(
                "{described} was closed late: it was due at {due_ms} ms and an operation at {previous_ms} ms found it due"
            )
        })
    }

    pub(super) fn interval_respected(&self) -> InvariantResult {
        verdict("stats_interval_respected", self.violation.0.clone())
    }
}
