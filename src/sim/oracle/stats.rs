//! `stats_interval_respected`: per entity, the stored stats periods (`cache_stats` and
//! `fact_appended`) never overlap and are each at least `stats_min_interval` long (runs never
//! flush explicitly).

use super::verdict;
use crate::model::validate::accepted_sdk_data;
use crate::model::{FactId, Name, SdkData};
use crate::runtime::observe::Observation;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// `(period_start_ms, period_end_ms, fact id)` of a stored stats fact.
type StoredPeriod = (u64, u64, FactId);

/// Every stored stats period, per entity and kind (looked up while the run goes, sorted when
/// judged).
pub(super) struct StatsChecker {
    min_interval_ms: u64,
    periods: FxHashMap<(Name, &'static str), Vec<StoredPeriod>>,
}

impl StatsChecker {
    pub(super) fn new(scenario: &Scenario) -> Self {
        Self {
            min_interval_ms: scenario.sdk.stats_min_interval_ms,
            periods: FxHashMap::default(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        let Observation::Stored { fact, .. } = observation else {
            return;
        };
        let (kind, start_ms, end_ms) = match accepted_sdk_data(fact) {
            Some(SdkData::CacheStats(stats)) => {
                ("cache_stats", stats.period_start_ms, stats.period_end_ms)
            }
            Some(SdkData::FactAppended(appended)) => (
                "fact_appended",
                appended.period_start_ms,
                appended.period_end_ms,
            ),
            _ => return,
        };
        self.periods
            .entry((fact.entity_id.clone(), kind))
            .or_default()
            .push((start_ms, end_ms, fact.id.clone()));
    }

    pub(super) fn interval_respected(&mut self) -> InvariantResult {
        let min_interval_ms = self.min_interval_ms;
        let mut periods: BTreeMap<_, _> = std::mem::take(&mut self.periods).into_iter().collect();
        let violation = periods.iter_mut().find_map(|((entity, kind), list)| {
            list.sort();
            let short = list
                .iter()
                .find(|(start_ms, end_ms, _)| end_ms - start_ms < min_interval_ms);
            if let Some((start_ms, end_ms, id)) = short {
                return Some(format!(
                    "{kind} {id} of {entity}: period [{start_ms}, {end_ms}) is shorter than min_interval {min_interval_ms} ms"
                ));
            }
            list.windows(2).find(|pair| pair[1].0 < pair[0].1).map(|pair| {
                format!(
                    "{kind} of {entity}: periods [{}, {}) and [{}, {}) overlap",
                    pair[0].0, pair[0].1, pair[1].0, pair[1].1
                )
            })
        });
        verdict("stats_interval_respected", violation)
    }
}
