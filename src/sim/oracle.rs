//! The oracle: invariants of `harness.md` judged from what the simulation observed (the
//! observation log: attempts that went onto the network, their network outcomes, what
//! receivers stored, breaker transitions, tenant alarm states) and from the warnings actually
//! logged through `tracing`, never from the ledgers' own counters.
//!
//! One function per invariant; each returns its verdict with the first violation as detail.
//! Invariants of the table not judged here yet are listed in the README.

use crate::ledgers::PlatformTotals;
use crate::ledgers::{BreakerState, DropReason, MessageKey, Transition};
use crate::model::validate::validate_sdk_fact;
use crate::model::{Fact, FactId, Limits, Name, SdkData, TenantStatsPayload};
use crate::reference::breaker::{BreakerState as ReferenceState, ReferenceBreaker, ReferenceCall};
use crate::runtime::observe::{Observation, ObservationLog};
use crate::runtime::{ActorIdx, ActorInit, RunOutput, WorldSpec};
use crate::sim::build::liveness_window_ms;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::collections::{BTreeMap, BTreeSet};

/// What the oracle needs to know about the actors of a run.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    /// Each entity's observability target, if wired.
    pub observability_target: BTreeMap<ActorIdx, Option<ActorIdx>>,
    /// Tenant ledgers.
    pub tenants: BTreeSet<ActorIdx>,
    /// The tenant each tenant ledger and each entity belongs to.
    pub tenant_of: BTreeMap<ActorIdx, Name>,
}

impl Roles {
    /// Reads the roles off a world spec.
    pub fn of(spec: &WorldSpec) -> Self {
        let index: BTreeMap<&str, ActorIdx> = spec
            .actors
            .iter()
            .enumerate()
            .map(|(idx, actor)| (actor.id.as_str(), idx))
            .collect();
        let mut roles = Roles::default();
        for (idx, actor) in spec.actors.iter().enumerate() {
            match &actor.init {
                ActorInit::Entity { config, .. } => {
                    roles.tenant_of.insert(idx, config.meta.tenant_id.clone());
                    let target = config
                        .observability_target
                        .as_ref()
                        .and_then(|target| index.get(target.as_str()).copied());
                    roles.observability_target.insert(idx, target);
                }
                ActorInit::Tenant { config } => {
                    roles.tenants.insert(idx);
                    roles.tenant_of.insert(idx, Name::from(&config.tenant_id));
                }
                _ => {}
            }
        }
        roles
    }

    fn is_observability(&self, caller: ActorIdx, target: Option<ActorIdx>) -> bool {
        target.is_some() && self.observability_target.get(&caller) == Some(&target)
    }
}

/// Judges every invariant the oracle knows, in a fixed order.
pub fn judge(scenario: &Scenario, roles: &Roles, output: &RunOutput) -> Vec<InvariantResult> {
    let log = &output.observations;
    vec![
        breaker_transitions_legal(log),
        breaker_opens_on_threshold(scenario, log),
        breaker_blocks_when_open(scenario, log),
        breaker_recovers(scenario, log),
        fallback_isolates_primary(scenario, roles, output),
        fallback_false_propagates(scenario, roles, output),
        fallback_warns(scenario, output),
        stats_interval_respected(scenario, log),
        observability_conserved(roles, output),
        no_duplicate_facts(log),
        tenant_totals_match(scenario, roles, output),
        tenant_isolation(roles, output),
        tenant_flush_cadence(scenario, log),
        primary_facts_durable(output),
        rollup_consistent(output),
        hostile_facts_rejected(output),
    ]
}

fn verdict(name: &str, violation: Option<String>) -> InvariantResult {
    InvariantResult {
        name: name.to_owned(),
        passed: violation.is_none(),
        detail: violation.unwrap_or_default(),
    }
}

fn not_applicable(name: &str, why: &str) -> InvariantResult {
    InvariantResult {
        name: name.to_owned(),
        passed: true,
        detail: format!("not applicable: {why}"),
    }
}

type ClientKey = (ActorIdx, Option<ActorIdx>);

/// The clients of `actor` from ordered client keys that start at its first one
/// (`range((actor, None)..)`): a restart looks at its own clients only, not at every client of
/// the run (quadratic with 100,000 entities starting).
fn clients_of<'a>(keys: impl Iterator<Item = &'a ClientKey>, actor: ActorIdx) -> Vec<ClientKey> {
    keys.take_while(|(caller, _)| *caller == actor)
        .copied()
        .collect()
}

/// Breaker states per client as the transitions say, reset when the caller restarts.
#[derive(Default)]
struct BreakerStates(BTreeMap<ClientKey, BreakerState>);

impl BreakerStates {
    fn get(&self, key: ClientKey) -> BreakerState {
        self.0.get(&key).copied().unwrap_or(BreakerState::Closed)
    }

    fn restart(&mut self, actor: ActorIdx) {
        for key in clients_of(self.0.range((actor, None)..).map(|(key, _)| key), actor) {
            self.0.remove(&key);
        }
    }
}

/// Only CLOSED->OPEN, OPEN->HALF_OPEN, HALF_OPEN->CLOSED/OPEN, each from the state the client
/// was in, and a reset to CLOSED on restart.
pub fn breaker_transitions_legal(log: &ObservationLog) -> InvariantResult {
    let mut states = BreakerStates::default();
    let violation = log.iter().find_map(|observation| match *observation {
        Observation::Started { actor, .. } => {
            states.restart(actor);
            None
        }
        Observation::Transition { at_ms, caller, target, from, to } => {
            let current = states.get((caller, target));
            states.0.insert((caller, target), to);
            let legal = Transition { from, to, at_ms }.is_legal();
            (current != from || !legal).then(|| {
                format!(
                    "at {at_ms} ms actor #{caller} -> #{target:?}: {from:?} -> {to:?} while {current:?}"
                )
            })
        }
        _ => None,
    });
    verdict("breaker_transitions_legal", violation)
}

/// No attempt leaves a client while its breaker is OPEN; at most the probe budget per
/// HALF_OPEN episode.
pub fn breaker_blocks_when_open(scenario: &Scenario, log: &ObservationLog) -> InvariantResult {
    let budget = scenario.sdk.breaker.half_open_max_probes;
    let mut states = BreakerStates::default();
    let mut probes: BTreeMap<ClientKey, u32> = BTreeMap::new();
    let violation = log.iter().find_map(|observation| match *observation {
        Observation::Started { actor, .. } => {
            states.restart(actor);
            None
        }
        Observation::Transition { caller, target, to, .. } => {
            states.0.insert((caller, target), to);
            probes.insert((caller, target), 0);
            None
        }
        Observation::Attempt { at_ms, caller, target, .. } => match states.get((caller, target)) {
            BreakerState::Closed => None,
            BreakerState::Open => Some(format!(
                "at {at_ms} ms actor #{caller} sent to #{target:?} while its breaker was OPEN"
            )),
            BreakerState::HalfOpen => {
                let sent = probes.entry((caller, target)).or_default();
                *sent += 1;
                (*sent > budget).then(|| {
                    format!(
                        "at {at_ms} ms actor #{caller} sent probe {sent} to #{target:?} in one HALF_OPEN episode (budget {budget})"
                    )
                })
            }
        },
        _ => None,
    });
    verdict("breaker_blocks_when_open", violation)
}

/// Fallback on: no observability delivery is awaited by the operation that emitted it, and no
/// primary operation failed.
pub fn fallback_isolates_primary(
    scenario: &Scenario,
    roles: &Roles,
    output: &RunOutput,
) -> InvariantResult {
    const NAME: &str = "fallback_isolates_primary";
    if !scenario.sdk.fallback_on_failure {
        return not_applicable(NAME, "fallback_on_failure = false");
    }
    let awaited = output.observations.iter().find_map(|observation| match *observation {
        Observation::Attempt { at_ms, caller, target, awaited: true, .. }
            if roles.is_observability(caller, target) =>
        {
            Some(format!("at {at_ms} ms entity #{caller} made its operation wait on an observability delivery"))
        }
        _ => None,
    });
    let failed = output.recorder.counters.primary_ops_failed;
    let violation =
        awaited.or_else(|| (failed > 0).then(|| format!("{failed} primary operations failed")));
    verdict(NAME, violation)
}

/// Fallback off: nothing is dropped; every delivery failure of an SDK fact surfaced an error to
/// a waiting caller no later than the failure; every fact whose error surfaced was later stored
/// (unless its entity restarted since, or it is still held at the end).
pub fn fallback_false_propagates(
    scenario: &Scenario,
    roles: &Roles,
    output: &RunOutput,
) -> InvariantResult {
    const NAME: &str = "fallback_false_propagates";
    if scenario.sdk.fallback_on_failure {
        return not_applicable(NAME, "fallback_on_failure = true");
    }
    let mut errored: BTreeMap<FactId, (ActorIdx, u64)> = BTreeMap::new();
    let mut stored: BTreeSet<FactId> = BTreeSet::new();
    let mut restarted_at: BTreeMap<ActorIdx, u64> = BTreeMap::new();
    let mut awaited_keys: BTreeSet<FactId> = BTreeSet::new();
    let mut failures: Vec<(FactId, ActorIdx, u64)> = Vec::new();
    for observation in &output.observations {
        let violation = match observation {
            Observation::Started { at_ms, actor } => {
                restarted_at.insert(*actor, *at_ms);
                None
            }
            Observation::Dropped {
                at_ms,
                caller,
                target,
                key,
                ..
            } if roles.is_observability(*caller, *target) => {
                Some(format!("at {at_ms} ms entity #{caller} dropped {key}"))
            }
            Observation::Attempt {
                caller,
                target,
                key: MessageKey::Fact(id),
                ..
            } if roles.is_observability(*caller, *target) => {
                awaited_keys.insert(id.clone());
                None
            }
            Observation::Settled {
                at_ms,
                caller,
                key: MessageKey::Fact(id),
                ok: false,
            } => {
                errored.entry(id.clone()).or_insert((*caller, *at_ms));
                None
            }
            Observation::Outcome {
                at_ms,
                caller,
                key: MessageKey::Fact(id),
                ok: false,
            } if awaited_keys.contains(id) => {
                // The error settles in the same step, right after the outcome: judged at the end.
                failures.push((id.clone(), *caller, *at_ms));
                None
            }
            Observation::Stored { fact, .. } => {
                stored.insert(fact.id.clone());
                None
            }
            _ => None,
        };
        if let Some(violation) = violation {
            return verdict(NAME, Some(violation));
        }
    }
    let silent = failures
        .iter()
        .find(|(id, _, at_ms)| errored.get(id).is_none_or(|(_, error_ms)| error_ms > at_ms));
    if let Some((id, caller, at_ms)) = silent {
        return verdict(
            NAME,
            Some(format!(
                "at {at_ms} ms the delivery of {id} by entity #{caller} failed and no error reached a caller"
            )),
        );
    }
    let buffered: BTreeSet<&MessageKey> = output
        .outcome
        .buffered_keys
        .iter()
        .map(|(_, key, _)| key)
        .collect();
    let lost = errored.iter().find(|(id, (caller, at_ms))| {
        let restarted_since = restarted_at
            .get(caller)
            .is_some_and(|restart_ms| restart_ms >= at_ms);
        !stored.contains(*id)
            && !restarted_since
            && !buffered.contains(&MessageKey::Fact((*id).clone()))
    });
    verdict(
        NAME,
        lost.map(|(id, (caller, at_ms))| {
            format!("{id} (entity #{caller}) surfaced an error at {at_ms} ms and was never delivered, lost or kept")
        }),
    )
}

/// One warning logged per fallback drop when `warn_on_fallback`, none when not.
pub fn fallback_warns(scenario: &Scenario, output: &RunOutput) -> InvariantResult {
    let drops = output
        .observations
        .iter()
        .filter(|observation| matches!(observation, Observation::Dropped { .. }))
        .count() as u64;
    let expected = if scenario.sdk.warn_on_fallback {
        drops
    } else {
        0
    };
    let logged = output.warnings_logged;
    verdict(
        "fallback_warns",
        (logged != expected).then(|| {
            format!(
                "{logged} fallback warnings logged for {drops} drops (warn_on_fallback = {})",
                scenario.sdk.warn_on_fallback
            )
        }),
    )
}

/// `(period_start_ms, period_end_ms, fact id)` of a stored stats fact.
type StoredPeriod = (u64, u64, FactId);

/// Per entity, the stored stats periods (cache_stats and fact_appended) never overlap and are
/// each at least `min_interval` long (runs never flush explicitly).
pub fn stats_interval_respected(scenario: &Scenario, log: &ObservationLog) -> InvariantResult {
    let min_interval_ms = scenario.sdk.stats_min_interval_ms;
    let mut periods: BTreeMap<(Name, &'static str), Vec<StoredPeriod>> = BTreeMap::new();
    for observation in log {
        let Observation::Stored { fact, .. } = observation else {
            continue;
        };
        let Ok(data) = validate_sdk_fact(fact, u64::MAX / 2, &Limits::default()) else {
            continue;
        };
        let (kind, start_ms, end_ms) = match data {
            SdkData::CacheStats(stats) => {
                ("cache_stats", stats.period_start_ms, stats.period_end_ms)
            }
            SdkData::FactAppended(appended) => (
                "fact_appended",
                appended.period_start_ms,
                appended.period_end_ms,
            ),
            _ => continue,
        };
        periods
            .entry((fact.entity_id.clone(), kind))
            .or_default()
            .push((start_ms, end_ms, fact.id.clone()));
    }
    let violation = periods.iter_mut().find_map(|((entity, kind), list)| {
        list.sort();
        let short = list.iter().find(|(start_ms, end_ms, _)| end_ms - start_ms < min_interval_ms);
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

/// No receiver stores a fact id twice; the platform counts each flush once.
pub fn no_duplicate_facts(log: &ObservationLog) -> InvariantResult {
    let mut facts: BTreeSet<(ActorIdx, FactId)> = BTreeSet::new();
    let mut flushes: BTreeSet<(String, String)> = BTreeSet::new();
    let violation = log.iter().find_map(|observation| match observation {
        Observation::Stored {
            at_ms,
            receiver,
            fact,
        } => (!facts.insert((*receiver, fact.id.clone()))).then(|| {
            format!(
                "at {at_ms} ms receiver #{receiver} stored {} a second time",
                fact.id
            )
        }),
        Observation::PayloadStored { at_ms, payload } => {
            (!flushes.insert((payload.tenant_id.clone(), payload.flush_id.clone()))).then(|| {
                format!(
                    "at {at_ms} ms the platform counted flush {} a second time",
                    payload.flush_id
                )
            })
        }
        _ => None,
    });
    verdict("no_duplicate_facts", violation)
}

/// While a tenant aggregate is pending an alarm is set; payload periods are aligned, exactly
/// one aggregation interval long and, per tenant in flush order (the queue is unordered, so
/// arrival order says nothing), strictly increasing.
pub fn tenant_flush_cadence(scenario: &Scenario, log: &ObservationLog) -> InvariantResult {
    let interval_ms = scenario.sdk.tenant_aggregation_interval_ms;
    let mut by_tenant: BTreeMap<&str, BTreeMap<u64, (u64, &str)>> = BTreeMap::new();
    let violation = log.iter().find_map(|observation| match observation {
        Observation::TenantState { at_ms, actor, has_work: true, alarm_set: false } => Some(format!(
            "at {at_ms} ms tenant ledger #{actor} had work pending and no alarm set"
        )),
        Observation::PayloadStored { payload, .. } => {
            let (start_ms, end_ms) = (payload.period_start_ms, payload.period_end_ms);
            if start_ms % interval_ms != 0 || end_ms.checked_sub(start_ms) != Some(interval_ms) {
                return Some(format!(
                    "flush {}: period [{start_ms}, {end_ms}) is not one aligned interval of {interval_ms} ms",
                    payload.flush_id
                ));
            }
            let sequence = flush_sequence(&payload.flush_id);
            by_tenant
                .entry(payload.tenant_id.as_str())
                .or_default()
                .insert(sequence, (start_ms, payload.flush_id.as_str()));
            None
        }
        _ => None,
    });
    let out_of_order = || {
        by_tenant.values().find_map(|flushes| {
            let ordered: Vec<&(u64, &str)> = flushes.values().collect();
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
    };
    verdict("tenant_flush_cadence", violation.or_else(out_of_order))
}

/// The `<n>` of a flush id `<tenant>/<n>` (0 if it has none).
fn flush_sequence(flush_id: &str) -> u64 {
    flush_id
        .rsplit('/')
        .next()
        .and_then(|sequence| sequence.parse().ok())
        .unwrap_or(0)
}

/// What a tenant ledger received in one aggregation period, recomputed from what it stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PeriodTruth {
    cache_hits: u64,
    cache_misses: u64,
    facts_count: u64,
    facts_appended: u64,
    entities: BTreeSet<Name>,
}

impl PeriodTruth {
    fn matches(&self, payload: &TenantStatsPayload) -> bool {
        self.cache_hits == payload.cache_hits
            && self.cache_misses == payload.cache_misses
            && self.facts_count == payload.facts_count
            && self.facts_appended == payload.facts_appended
            && self.entities.len() as u64 == payload.entities_count
    }
}

/// Each payload the platform stored equals what its tenant ledger stored in that period (by
/// arrival time); the platform's totals equal the sum of the distinct payloads it stored.
pub fn tenant_totals_match(
    scenario: &Scenario,
    roles: &Roles,
    output: &RunOutput,
) -> InvariantResult {
    const NAME: &str = "tenant_totals_match";
    if roles.tenants.is_empty() {
        return not_applicable(NAME, "no tenant ledgers (single mode)");
    }
    let interval_ms = scenario.sdk.tenant_aggregation_interval_ms;
    let mut truth: BTreeMap<(Name, u64), PeriodTruth> = BTreeMap::new();
    let mut payloads: BTreeMap<(String, String), &TenantStatsPayload> = BTreeMap::new();
    for observation in &output.observations {
        match observation {
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } if roles.tenants.contains(receiver) => {
                let period = truth
                    .entry((fact.tenant_id.clone(), at_ms - at_ms % interval_ms))
                    .or_default();
                period.facts_count += 1;
                period.entities.insert(fact.entity_id.clone());
                match validate_sdk_fact(fact, u64::MAX / 2, &Limits::default()) {
                    Ok(SdkData::CacheStats(stats)) => {
                        period.cache_hits += stats.hits;
                        period.cache_misses += stats.misses;
                    }
                    Ok(SdkData::FactAppended(appended)) => period.facts_appended += appended.count,
                    _ => {}
                }
            }
            Observation::PayloadStored { payload, .. } => {
                payloads
                    .entry((payload.tenant_id.clone(), payload.flush_id.clone()))
                    .or_insert(payload);
            }
            _ => {}
        }
    }
    let wrong = payloads.values().find_map(|payload| {
        let expected = truth
            .get(&(Name::from(&payload.tenant_id), payload.period_start_ms))
            .cloned()
            .unwrap_or_default();
        (!expected.matches(payload)).then(|| {
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
        })
    });
    let totals = || {
        let (per_tenant, overall) = output.outcome.platform.as_ref()?;
        let mut summed: BTreeMap<String, PlatformTotals> = BTreeMap::new();
        let mut sum = PlatformTotals::default();
        for payload in payloads.values() {
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
    verdict(NAME, wrong.or_else(totals))
}

/// Where an SDK fact ended, by ground truth; the first that applies wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Fate {
    /// Nobody saw it end.
    #[default]
    Unaccounted,
    /// Dropped by its client (fallback on).
    Dropped,
    /// Lost with a restart of its entity (unsent, or in flight and never stored).
    Lost,
    /// Still held or in flight at the end.
    Buffered,
    /// Stored by its receiver.
    Delivered,
}

#[derive(Clone, Copy, Debug, Default)]
struct FactLedger {
    entity: Option<ActorIdx>,
    observations: u64,
    fate: Fate,
}

impl FactLedger {
    fn settle(&mut self, fate: Fate) {
        self.fate = self.fate.max(fate);
    }
}

/// Every observation (hit, miss, append) an entity with stats tracking generated lands in
/// exactly one of: delivered (stored by the receiver), dropped (with reason), lost with a
/// restart, or still buffered at the end.
pub fn observability_conserved(roles: &Roles, output: &RunOutput) -> InvariantResult {
    const NAME: &str = "observability_conserved";
    let mut facts: BTreeMap<FactId, FactLedger> = BTreeMap::new();
    let mut in_flight: BTreeMap<ActorIdx, BTreeSet<FactId>> = BTreeMap::new();
    let mut lost_open: BTreeMap<ActorIdx, u64> = BTreeMap::new();
    for observation in &output.observations {
        match observation {
            Observation::Attempt {
                caller,
                target,
                key: MessageKey::Fact(id),
                observations,
                ..
            } if roles.is_observability(*caller, *target) => {
                let fact = facts.entry(id.clone()).or_default();
                fact.entity = Some(*caller);
                fact.observations = *observations;
                in_flight.entry(*caller).or_default().insert(id.clone());
            }
            Observation::Outcome {
                caller,
                key: MessageKey::Fact(id),
                ..
            } => {
                if let Some(pending) = in_flight.get_mut(caller) {
                    pending.remove(id);
                }
            }
            Observation::Dropped {
                caller,
                target,
                key: MessageKey::Fact(id),
                observations,
                ..
            } if roles.is_observability(*caller, *target) => {
                let fact = facts.entry(id.clone()).or_default();
                fact.entity = Some(*caller);
                if let Some(observations) = observations {
                    fact.observations = *observations;
                }
                fact.settle(Fate::Dropped);
            }
            Observation::Killed {
                actor,
                open_observations,
                backlog,
                ..
            } => {
                *lost_open.entry(*actor).or_default() += open_observations;
                for (key, observations) in backlog {
                    if let MessageKey::Fact(id) = key {
                        let fact = facts.entry(id.clone()).or_default();
                        fact.entity = Some(*actor);
                        fact.observations = *observations;
                        fact.settle(Fate::Lost);
                    }
                }
                for id in in_flight.remove(actor).unwrap_or_default() {
                    facts.entry(id).or_default().settle(Fate::Lost);
                }
            }
            Observation::Stored { fact, .. } => {
                facts
                    .entry(fact.id.clone())
                    .or_default()
                    .settle(Fate::Delivered);
            }
            _ => {}
        }
    }
    for id in in_flight.into_values().flatten() {
        facts.entry(id).or_default().settle(Fate::Buffered);
    }
    for (entity, key, observations) in &output.outcome.buffered_keys {
        if let MessageKey::Fact(id) = key {
            let fact = facts.entry(id.clone()).or_default();
            // A fact that never left its client is known from here only.
            fact.entity = Some(*entity);
            fact.observations = fact.observations.max(*observations);
            fact.settle(Fate::Buffered);
        }
    }
    let mut accounted: BTreeMap<ActorIdx, u64> = BTreeMap::new();
    for fact in facts.values() {
        let Some(entity) = fact.entity else {
            continue;
        };
        if fact.fate == Fate::Unaccounted {
            continue;
        }
        *accounted.entry(entity).or_default() += fact.observations;
    }
    let violation = output.outcome.generated.iter().find_map(|(entity, generated)| {
        let in_facts = accounted.get(entity).copied().unwrap_or(0);
        let lost = lost_open.get(entity).copied().unwrap_or(0);
        let open = output.outcome.open_at_end.get(entity).copied().unwrap_or(0);
        let total = in_facts + lost + open;
        (total != *generated).then(|| {
            format!(
                "entity #{entity}: generated {generated} observations, accounted for {total} (in facts {in_facts}, lost in open periods {lost}, open at the end {open})"
            )
        })
    });
    verdict(NAME, violation)
}

/// Every acknowledged append survives every restart: each start's hydration replays exactly the
/// appends acknowledged before it, and at the end each entity stores exactly what it
/// acknowledged.
pub fn primary_facts_durable(output: &RunOutput) -> InvariantResult {
    let replay = output.observations.iter().find_map(|observation| match observation {
        Observation::Hydrated { at_ms, actor, facts_replayed, acknowledged }
            if facts_replayed != acknowledged =>
        {
            Some(format!(
                "at {at_ms} ms entity #{actor} replayed {facts_replayed} facts after acknowledging {acknowledged} appends"
            ))
        }
        _ => None,
    });
    let outcome = &output.outcome;
    let at_end = || {
        outcome.stored_domain_facts.iter().find_map(|(entity, stored)| {
            let acknowledged = outcome.acknowledged_appends.get(entity).copied().unwrap_or(0);
            (*stored != acknowledged).then(|| {
                format!("entity #{entity} stores {stored} facts at the end after acknowledging {acknowledged} appends")
            })
        })
    };
    verdict("primary_facts_durable", replay.or_else(at_end))
}

/// Each parent's stored rollups are exactly the child facts it accepted, each once.
pub fn rollup_consistent(output: &RunOutput) -> InvariantResult {
    let mut accepted: BTreeMap<ActorIdx, BTreeSet<&FactId>> = BTreeMap::new();
    for observation in &output.observations {
        if let Observation::ChildDelivered {
            parent, child_fact, ..
        } = observation
        {
            accepted.entry(*parent).or_default().insert(child_fact);
        }
    }
    let empty = Vec::new();
    let parents: BTreeSet<ActorIdx> = accepted
        .keys()
        .chain(output.outcome.rollups_stored.keys())
        .copied()
        .collect();
    let violation = parents.into_iter().find_map(|parent| {
        let stored = output.outcome.rollups_stored.get(&parent).unwrap_or(&empty);
        let distinct: BTreeSet<&FactId> = stored.iter().collect();
        let wanted = accepted.get(&parent).cloned().unwrap_or_default();
        if distinct.len() != stored.len() {
            return Some(format!("parent #{parent} rolled up a child fact twice"));
        }
        let missing = wanted.difference(&distinct).next();
        let extra = distinct.difference(&wanted).next();
        match (missing, extra) {
            (Some(id), _) => Some(format!(
                "parent #{parent} accepted child fact {id} but has no rollup of it ({} accepted, {} rolled up)",
                wanted.len(),
                distinct.len()
            )),
            (None, Some(id)) => Some(format!("parent #{parent} rolled up {id}, which it never accepted")),
            (None, None) => None,
        }
    });
    verdict("rollup_consistent", violation)
}

/// One client's reference breaker within one incarnation of its caller.
struct ReferenceClient {
    breaker: ReferenceBreaker,
    /// Admitted calls by message, oldest first (a message is re-sent only after its outcome).
    /// Lookup only (never iterated), so a fixed-hasher map keeps the verdict deterministic.
    calls: FxHashMap<MessageKey, VecDeque<ReferenceCall>>,
    /// When the implementation opened.
    opened_ms: Vec<u64>,
}

/// Each client opens exactly when a reference breaker (`src/reference/breaker.rs`), fed the same
/// admissions and the same network outcomes, opens; and admits only what the reference admits.
pub fn breaker_opens_on_threshold(scenario: &Scenario, log: &ObservationLog) -> InvariantResult {
    const NAME: &str = "breaker_opens_on_threshold";
    let config = scenario.sdk.breaker;
    if config.reset_timeout_jitter_ratio > 0.0 || config.reset_timeout_growth_factor > 1.0 {
        return not_applicable(NAME, "the reference breaker models no jitter and no growth");
    }
    let mut clients: BTreeMap<ClientKey, ReferenceClient> = BTreeMap::new();
    // Lookup only, like `ReferenceClient::calls`.
    let mut target_of: FxHashMap<(ActorIdx, MessageKey), Option<ActorIdx>> = FxHashMap::default();
    let new_client = || ReferenceClient {
        breaker: ReferenceBreaker::new(&config),
        calls: FxHashMap::default(),
        opened_ms: Vec::new(),
    };
    let mut violation = None;
    for observation in log {
        let found = match observation {
            Observation::Started { actor, .. } => {
                let ended = clients_of(clients.range((*actor, None)..).map(|(key, _)| key), *actor);
                ended.into_iter().find_map(|key| {
                    clients
                        .remove(&key)
                        .and_then(|client| compare_opens(key, &client))
                })
            }
            Observation::Attempt {
                at_ms,
                caller,
                target,
                key,
                ..
            } => {
                let client = clients.entry((*caller, *target)).or_insert_with(new_client);
                target_of.insert((*caller, key.clone()), *target);
                match client.breaker.request(*at_ms) {
                    Some(call) => {
                        client.calls.entry(key.clone()).or_default().push_back(call);
                        None
                    }
                    None => Some(format!(
                        "at {at_ms} ms actor #{caller} sent {key} to #{target:?}; the reference breaker would have rejected it"
                    )),
                }
            }
            Observation::Dropped {
                at_ms,
                caller,
                target,
                reason: DropReason::BreakerOpen,
                key,
                ..
            } => {
                let client = clients.entry((*caller, *target)).or_insert_with(new_client);
                client.breaker.request(*at_ms).map(|_| {
                    format!(
                        "at {at_ms} ms actor #{caller} rejected {key}; the reference breaker would have admitted it"
                    )
                })
            }
            Observation::Outcome {
                at_ms,
                caller,
                key,
                ok,
            } => {
                let target = target_of.get(&(*caller, key.clone())).copied().flatten();
                if let Some(client) = clients.get_mut(&(*caller, target)) {
                    let call = client.calls.get_mut(key).and_then(VecDeque::pop_front);
                    if let Some(call) = call {
                        client.breaker.complete(*at_ms, call, *ok);
                    }
                }
                None
            }
            Observation::Transition {
                at_ms,
                caller,
                target,
                to: BreakerState::Open,
                ..
            } => {
                let client = clients.entry((*caller, *target)).or_insert_with(new_client);
                client.opened_ms.push(*at_ms);
                None
            }
            _ => None,
        };
        if found.is_some() {
            violation = found;
            break;
        }
    }
    let violation = violation.or_else(|| {
        clients
            .iter()
            .find_map(|(key, client)| compare_opens(*key, client))
    });
    verdict(NAME, violation)
}

fn compare_opens(key: ClientKey, client: &ReferenceClient) -> Option<String> {
    let reference: Vec<u64> = client
        .breaker
        .transitions()
        .iter()
        .filter(|(_, to, _)| *to == ReferenceState::Open)
        .map(|(_, _, at_ms)| *at_ms)
        .collect();
    (reference != client.opened_ms).then(|| {
        format!(
            "actor #{} -> #{:?}: opened at {:?} ms, the reference breaker at {:?} ms",
            key.0, key.1, client.opened_ms, reference
        )
    })
}

/// Liveness: once the faults have ended (the run must last past the deadline: the liveness
/// phase is the part of the run after the last fault), every client that emitted after it may probe
/// (`recovery_start`) has a CLOSED breaker by the deadline (see
/// [`crate::sim::build::liveness_window_ms`]). A client that does not emit cannot probe (the
/// OPEN -> HALF_OPEN transition is lazy) and is not judged. Not judged on a lossy base network,
/// where a probe may be lost with the faults long over.
pub fn breaker_recovers(scenario: &Scenario, log: &ObservationLog) -> InvariantResult {
    const NAME: &str = "breaker_recovers";
    let Some((recovery_start_ms, deadline_ms)) = liveness_window_ms(scenario) else {
        return not_applicable(NAME, "no faults");
    };
    if scenario.network.packet_loss > 0.0 {
        return not_applicable(NAME, "the network loses packets after the faults too");
    }
    if scenario.duration_ms <= deadline_ms {
        // `duration` is the contract's "simulated time to run": the liveness phase is the part
        // of the run after the last fault, and a scenario must leave room for it.
        return not_applicable(
            NAME,
            &format!(
                "the run ends before the liveness deadline; make duration longer than {deadline_ms} ms"
            ),
        );
    }
    let mut states = BreakerStates::default();
    let mut active: BTreeSet<ClientKey> = BTreeSet::new();
    for observation in log {
        match *observation {
            Observation::Started { at_ms, actor } if at_ms <= deadline_ms => {
                states.restart(actor);
                for key in clients_of(active.range((actor, None)..), actor) {
                    active.remove(&key);
                }
            }
            Observation::Transition {
                at_ms,
                caller,
                target,
                to,
                ..
            } if at_ms <= deadline_ms => {
                states.0.insert((caller, target), to);
            }
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
            } if (recovery_start_ms..=deadline_ms).contains(&at_ms) => {
                active.insert((caller, target));
            }
            _ => {}
        }
    }
    let stuck = active.into_iter().find_map(|key| {
        let state = states.get(key);
        (state != BreakerState::Closed).then(|| {
            format!(
                "actor #{} -> #{:?} emitted after {recovery_start_ms} ms but its breaker was {state:?} at the deadline {deadline_ms} ms",
                key.0, key.1
            )
        })
    });
    verdict(NAME, stuck)
}

/// No tenant ledger stores a fact of another tenant, and no parent entity accepts a child
/// fact of another tenant.
pub fn tenant_isolation(roles: &Roles, output: &RunOutput) -> InvariantResult {
    const NAME: &str = "tenant_isolation";
    if roles.tenants.is_empty() {
        return not_applicable(NAME, "no tenant ledgers (single mode)");
    }
    let violation = output
        .observations
        .iter()
        .find_map(|observation| match observation {
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } => {
                let own = roles.tenant_of.get(receiver)?;
                (roles.tenants.contains(receiver) && fact.tenant_id != *own).then(|| {
                    format!(
                        "at {at_ms} ms tenant ledger #{receiver} ({own}) stored {} of tenant {}",
                        fact.id, fact.tenant_id
                    )
                })
            }
            _ => None,
        });
    verdict(NAME, violation)
}

/// Extension (the `hostile_facts` fault): no receiver stores a forged fact. Forged facts are
/// malformed, claim another tenant, or reuse the id of a fact the receiver already stored with
/// other content; any `Stored` observation equal to one sent before it is a violation. (That
/// the rest of the run goes on, and nothing valid is lost, is what the other invariants check
/// on the same run.)
pub fn hostile_facts_rejected(output: &RunOutput) -> InvariantResult {
    const NAME: &str = "hostile_facts_rejected";
    let mut forged: BTreeMap<&FactId, Vec<&Fact>> = BTreeMap::new();
    let violation = output
        .observations
        .iter()
        .find_map(|observation| match observation {
            Observation::HostileSent { fact, .. } => {
                forged.entry(&fact.id).or_default().push(fact);
                None
            }
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } => forged.get(&fact.id)?.contains(&&**fact).then(|| {
                format!(
                    "at {at_ms} ms receiver #{receiver} stored the forged fact {} (tenant {:?}, subtype {:?}, {} bytes of data, timestamp {} ms)",
                    fact.id,
                    fact.tenant_id,
                    fact.subtype,
                    fact.data.to_string().len(),
                    fact.timestamp_ms
                )
            }),
            _ => None,
        });
    if violation.is_none() && forged.is_empty() {
        return not_applicable(NAME, "no forged facts were sent");
    }
    verdict(NAME, violation)
}
