//! `tenant_totals_match`, `tenant_isolation` and `tenant_flush_cadence`: the tenant ledgers'
//! aggregation, isolation and alarm-driven flushing, judged from what they stored and what the
//! platform stored.

use super::{not_applicable, verdict, FirstViolation};
use crate::ledgers::PlatformTotals;
use crate::model::validate::accepted_sdk_data;
use crate::model::{Fact, FactId, Name, SdkData, TenantStatsPayload};
use crate::runtime::observe::Observation;
use crate::runtime::queue::Removal;
use crate::runtime::world::{EndOfRun, PayloadRef};
use crate::runtime::{ActorIdx, Roles};
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashSet;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const PAYLOADS_CONSERVED: &str = "tenant_payloads_conserved";

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

/// The tenant invariants (none applies without tenant ledgers).
pub(super) struct TenantChecker {
    /// Shared by the checkers (a million entities' roles are worth one copy).
    roles: Arc<Roles>,
    interval_ms: u64,
    /// Per (tenant, period start): what its ledger stored.
    truth: BTreeMap<(Name, u64), PeriodTruth>,
    /// Distinct payloads the platform stored, by (tenant, flush id).
    payloads: BTreeMap<(String, String), TenantStatsPayload>,
    isolation: FirstViolation,
    /// Some parent entity accepted a child's fact.
    parents_accepted: bool,
    cadence: Cadence,
    /// Per tenant ledger: when its alarm was deleted after its last retry, while no alarm has
    /// been set since.
    alarm_deleted_ms: BTreeMap<ActorIdx, u64>,
}

/// What `tenant_flush_cadence` follows.
#[derive(Default)]
struct Cadence {
    /// Per tenant, by flush sequence: `(period start, flush id)`.
    by_tenant: BTreeMap<String, BTreeMap<u64, (u64, String)>>,
    violation: FirstViolation,
}

impl TenantChecker {
    pub(super) fn new(scenario: &Scenario, roles: &Arc<Roles>) -> Self {
        Self {
            roles: roles.clone(),
            interval_ms: scenario.sdk.tenant_aggregation_interval_ms,
            truth: BTreeMap::new(),
            payloads: BTreeMap::new(),
            isolation: FirstViolation::default(),
            parents_accepted: false,
            cadence: Cadence::default(),
            alarm_deleted_ms: BTreeMap::new(),
        }
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if let Observation::ChildDelivered {
            at_ms,
            parent,
            child_fact,
            tenant,
        } = *observation
        {
            self.parents_accepted = true;
            self.check_parent(at_ms, parent, child_fact, tenant);
        }
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
            Observation::AlarmDeleted { at_ms, actor } => {
                self.alarm_deleted_ms.insert(actor, at_ms);
            }
            Observation::TenantState {
                actor,
                alarm_set: true,
                ..
            } => {
                self.alarm_deleted_ms.remove(&actor);
            }
            Observation::TenantState {
                at_ms,
                actor,
                has_work: true,
                alarm_set: false,
            } if !self.cadence.violation.found() => {
                let cause = self.stranding_cause(actor);
                self.cadence.violation.note(Some(format!(
                    "at {at_ms} ms tenant ledger #{actor} had work pending and no alarm set{cause}"
                )));
            }
            _ => {}
        }
    }

    /// Why tenant ledger `actor` has no alarm, when the runtime deleted it.
    fn stranding_cause(&self, actor: ActorIdx) -> String {
        self.alarm_deleted_ms.get(&actor).map_or_else(String::new, |deleted_ms| {
            format!(": its alarm was deleted at {deleted_ms} ms after its sixth failed retry, and no input has set one since")
        })
    }

    /// No parent entity accepts a child fact of another tenant.
    fn check_parent(&mut self, at_ms: u64, parent: ActorIdx, child_fact: &FactId, tenant: &Name) {
        if self.isolation.found() {
            return;
        }
        let Some(own) = self.roles.tenant_of.get(&parent) else {
            return;
        };
        self.isolation.note((tenant != own).then(|| {
            format!("at {at_ms} ms parent entity #{parent} ({own}) accepted {child_fact} of tenant {tenant}")
        }));
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

    pub(super) fn verdicts(&self, end: &EndOfRun) -> [InvariantResult; 4] {
        if self.roles.tenants.is_empty() {
            let why = "no tenant ledgers (single mode)";
            let isolation = if self.parents_accepted {
                verdict("tenant_isolation", self.isolation.0.clone())
            } else {
                not_applicable(
                    "tenant_isolation",
                    "no tenant ledgers and no parent entity accepted a fact",
                )
            };
            return [
                not_applicable("tenant_totals_match", why),
                not_applicable(PAYLOADS_CONSERVED, why),
                isolation,
                self.flush_cadence(),
            ];
        }
        [
            self.totals_match(end),
            self.payloads_conserved(end),
            verdict("tenant_isolation", self.isolation.0.clone()),
            self.flush_cadence(),
        ]
    }

    /// Every period in which a tenant ledger stored facts ends stored at the platform, or on
    /// its way there (pending at the tenant or open, with an alarm set; in the queue; being
    /// replayed from the dead-letter queue); anything else is a loss, named by its cause.
    fn payloads_conserved(&self, end: &EndOfRun) -> InvariantResult {
        let stored: BTreeSet<(&str, u64)> = self
            .payloads
            .values()
            .map(|payload| (payload.tenant_id.as_str(), payload.period_start_ms))
            .collect();
        let lost = self.truth.iter().find_map(|((tenant, start_ms), truth)| {
            if stored.contains(&(tenant.as_str(), *start_ms)) {
                return None;
            }
            let cause = self.loss_cause(end, tenant, *start_ms)?;
            let end_ms = start_ms + self.interval_ms;
            Some(format!(
                "tenant {tenant} period [{start_ms} ms, {end_ms} ms) ({} hits, {} misses, {} facts, {} appended) was lost: {cause}",
                truth.cache_hits, truth.cache_misses, truth.facts_count, truth.facts_appended
            ))
        });
        verdict(PAYLOADS_CONSERVED, lost)
    }

    /// Why the payload of `tenant`'s period at `start_ms` is lost; `None` while it is on its
    /// way.
    fn loss_cause(&self, end: &EndOfRun, tenant: &Name, start_ms: u64) -> Option<String> {
        let matches = |payload: &PayloadRef| {
            payload.tenant_id == tenant.as_str() && payload.period_start_ms == start_ms
        };
        if end.queued_payloads.iter().any(matches) {
            return None;
        }
        if end.dead_lettered_payloads.iter().any(matches) {
            return Some("its payload was dead-lettered by the queue after its last retry, and nothing replays the dead-letter queue".to_owned());
        }
        if let Some((_, why)) = end
            .removed_payloads
            .iter()
            .find(|(payload, _)| matches(payload))
        {
            return Some(match why {
                Removal::Deleted => format!(
                    "the queue deleted its payload after {} deliveries the consumer did not acknowledge (max_retries = {}), with no dead-letter queue configured",
                    end.queue_max_retries.unwrap_or(0) + 1,
                    end.queue_max_retries.unwrap_or(0)
                ),
                Removal::Expired => "its payload expired in the queue, unacknowledged at the end of the message retention period".to_owned(),
            });
        }
        let ledger = end.tenants.iter().find(|(idx, _)| {
            self.roles
                .tenant_of
                .get(idx)
                .is_some_and(|own| own == tenant)
        });
        let Some((idx, work)) = ledger else {
            return Some("its tenant ledger is gone".to_owned());
        };
        let held = work.pending.iter().any(matches) || work.open_period_start_ms == Some(start_ms);
        match (held, work.alarm_at_ms) {
            (true, Some(_)) => None,
            (true, None) => Some(format!(
                "it is stranded at tenant ledger #{idx}, pending with no alarm set{}",
                self.stranding_cause(*idx)
            )),
            (false, _) => Some(
                "no payload of it was stored at the platform, is pending, queued, dead-lettered or removed by the queue"
                    .to_owned(),
            ),
        }
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
                "flush {}: period [{start_ms} ms, {end_ms} ms) is not one aligned interval of {interval_ms} ms",
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
