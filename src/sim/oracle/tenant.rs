//! `tenant_totals_match`, `tenant_isolation` and `tenant_flush_cadence`: the tenant ledgers'
//! aggregation, isolation and alarm-driven flushing, judged from what they stored and what the
//! platform stored.

use super::{not_applicable, verdict, FirstViolation};
use crate::ledgers::PlatformTotals;
use crate::model::validate::accepted_sdk_data;
use crate::model::{Fact, Name, SdkData, TenantStatsPayload};
use crate::runtime::observe::Observation;
use crate::runtime::world::EndOfRun;
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

/// What a tenant ledger received in one aggregation period, recomputed from what it stored.
#[derive(Clone, Debug, Default)]
struct PeriodTruth {
    cache_hits: u64,
    cache_misses: u64,
    facts_count: u64,
    facts_appended: u64,
    /// Distinct entities (only counted, so a fixed-hasher set).
    entities: FxHashSet<Name>,
}

impl PeriodTruth {
    fn add(&mut self, fact: &Fact) {
        self.facts_count += 1;
        self.entities.insert(fact.entity_id.clone());
        match accepted_sdk_data(fact) {
            Some(SdkData::CacheStats(stats)) => {
                self.cache_hits += stats.hits;
                self.cache_misses += stats.misses;
            }
            Some(SdkData::FactAppended(appended)) => self.facts_appended += appended.count,
            _ => {}
        }
    }

    fn matches(&self, payload: &TenantStatsPayload) -> bool {
        self.cache_hits == payload.cache_hits
            && self.cache_misses == payload.cache_misses
            && self.facts_count == payload.facts_count
            && self.facts_appended == payload.facts_appended
            && self.entities.len() as u64 == payload.entities_count
    }
}

/// The three tenant invariants (none applies without tenant ledgers).
pub(super) struct TenantChecker {
    roles: Roles,
    interval_ms: u64,
    /// Per (tenant, period start): what its ledger stored.
    truth: BTreeMap<(Name, u64), PeriodTruth>,
    /// Distinct payloads the platform stored, by (tenant, flush id).
    payloads: BTreeMap<(String, String), TenantStatsPayload>,
    isolation: FirstViolation,
    cadence: Cadence,
}

/// What `tenant_flush_cadence` follows.
#[derive(Default)]
struct Cadence {
    /// Per tenant, by flush sequence: `(period start, flush id)`.
    by_tenant: BTreeMap<String, BTreeMap<u64, (u64, String)>>,
    violation: FirstViolation,
}

impl TenantChecker {
    pub(super) fn new(scenario: &Scenario, roles: &Roles) -> Self {
        Self {
            roles: roles.clone(),
            interval_ms: scenario.sdk.tenant_aggregation_interval_ms,
            truth: BTreeMap::new(),
            payloads: BTreeMap::new(),
            isolation: FirstViolation::default(),
            cadence: Cadence::default(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if self.roles.tenants.is_empty() {
            return;
        }
        match *observation {
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } if self.roles.tenants.contains(&receiver) => {
                let period_start_ms = at_ms - at_ms % self.interval_ms;
                self.truth
                    .entry((fact.tenant_id.clone(), period_start_ms))
                    .or_default()
                    .add(fact);
                self.check_isolation(at_ms, receiver, fact);
            }
            Observation::PayloadStored { payload, .. } => {
                self.payloads
                    .entry((payload.tenant_id.clone(), payload.flush_id.clone()))
                    .or_insert_with(|| payload.clone());
                self.cadence.payload(self.interval_ms, payload);
            }
            Observation::TenantState {
                at_ms,
                actor,
                has_work: true,
                alarm_set: false,
            } if !self.cadence.violation.found() => {
                self.cadence.violation.note(Some(format!(
                    "at {at_ms} ms tenant ledger #{actor} had work pending and no alarm set"
                )));
            }
            _ => {}
        }
    }

    /// No tenant ledger stores a fact of another tenant.
    fn check_isolation(&mut self, at_ms: u64, receiver: ActorIdx, fact: &Fact) {
        if self.isolation.found() {
            return;
        }
        let Some(own) = self.roles.tenant_of.get(&receiver) else {
            return;
        };
        self.isolation.note((fact.tenant_id != *own).then(|| {
            format!(
                "at {at_ms} ms tenant ledger #{receiver} ({own}) stored {} of tenant {}",
                fact.id, fact.tenant_id
            )
        }));
    }

    pub(super) fn verdicts(&self, end: &EndOfRun) -> [InvariantResult; 3] {
        if self.roles.tenants.is_empty() {
            let why = "no tenant ledgers (single mode)";
            return [
                not_applicable("tenant_totals_match", why),
                not_applicable("tenant_isolation", why),
                self.flush_cadence(),
            ];
        }
        [
            self.totals_match(end),
            verdict("tenant_isolation", self.isolation.0.clone()),
            self.flush_cadence(),
        ]
    }

    /// Each payload the platform stored equals what its tenant ledger stored in that period
    /// (by arrival time); the platform's totals equal the sum of the distinct payloads it
    /// stored.
    fn totals_match(&self, end: &EndOfRun) -> InvariantResult {
        let wrong = self.payloads.values().find_map(|payload| {
            let key = (Name::from(&payload.tenant_id), payload.period_start_ms);
            let expected = self.truth.get(&key).cloned().unwrap_or_default();
            (!expected.matches(payload)).then(|| mismatch(payload, &expected))
        });
        let totals = || {
            let (per_tenant, overall) = end.platform.as_ref()?;
            let mut summed: BTreeMap<String, PlatformTotals> = BTreeMap::new();
            let mut sum = PlatformTotals::default();
            for payload in self.payloads.values() {
                summed
                    .entry(payload.tenant_id.clone())
                    .or_default()
                    .add(payload);
                sum.add(payload);
            }
            (summed != *per_tenant || sum != *overall).then(|| {
                format!(
                    "platform totals {overall:?} differ from the sum of its distinct payloads {sum:?}"
                )
            })
        };
        verdict("tenant_totals_match", wrong.or_else(totals))
    }

    /// While a tenant aggregate is pending an alarm is set; payload periods are aligned,
    /// exactly one aggregation interval long and, per tenant in flush order (the queue is
    /// unordered, so arrival order says nothing), strictly increasing.
    fn flush_cadence(&self) -> InvariantResult {
        let violation = self.cadence.violation.0.clone().or_else(|| {
            self.cadence.by_tenant.values().find_map(|flushes| {
                let ordered: Vec<&(u64, String)> = flushes.values().collect();
                ordered
                    .windows(2)
                    .find(|pair| pair[1].0 <= pair[0].0)
                    .map(|pair| {
                        format!(
                            "flush {} covers a period starting at {} ms, not after flush {} at {} ms",
                            pair[1].1, pair[1].0, pair[0].1, pair[0].0
                        )
                    })
            })
        });
        verdict("tenant_flush_cadence", violation)
    }
}

impl Cadence {
    fn payload(&mut self, interval_ms: u64, payload: &TenantStatsPayload) {
        if self.violation.found() {
            return;
        }
        let (start_ms, end_ms) = (payload.period_start_ms, payload.period_end_ms);
        if start_ms % interval_ms != 0 || end_ms.checked_sub(start_ms) != Some(interval_ms) {
            self.violation.note(Some(format!(
                "flush {}: period [{start_ms}, {end_ms}) is not one aligned interval of {interval_ms} ms",
                payload.flush_id
            )));
            return;
        }
        self.by_tenant
            .entry(payload.tenant_id.clone())
            .or_default()
            .insert(
                flush_sequence(&payload.flush_id),
                (start_ms, payload.flush_id.clone()),
            );
    }
}

/// The `<n>` of a flush id `<tenant>/<n>` (0 if it has none).
fn flush_sequence(flush_id: &str) -> u64 {
    flush_id
        .rsplit('/')
        .next()
        .and_then(|sequence| sequence.parse().ok())
        .unwrap_or(0)
}

fn mismatch(payload: &TenantStatsPayload, expected: &PeriodTruth) -> String {
    format!(
        "flush {}: hits {} misses {} facts {} appended {} entities {}, but the tenant stored hits {} misses {} facts {} appended {} entities {} in [{}, {})",
        payload.flush_id,
        payload.cache_hits,
        payload.cache_misses,
        payload.facts_count,
        payload.facts_appended,
        payload.entities_count,
        expected.cache_hits,
        expected.cache_misses,
        expected.facts_count,
        expected.facts_appended,
        expected.entities.len(),
        payload.period_start_ms,
        payload.period_end_ms
    )
}
