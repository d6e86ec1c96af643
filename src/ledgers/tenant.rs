//! `TenantSystemLedger`: one per tenant. Accepts its own tenant's SDK facts only, aggregates them
//! per aggregation period in durable storage before acknowledging, and flushes each closed period
//! to the platform as a [`TenantStatsPayload`], driven by its alarm.
//!
//! - Periods are aligned to multiples of `aggregation_interval_ms` (epoch 0), so a restart can
//!   never shift them: `[k * interval, (k + 1) * interval)`. A fact counts in the period of its
//!   arrival time at this ledger. Periods in which nothing arrived produce no payload.
//! - A closed period becomes a pending payload with a flush id (`"<tenant>/<n>"`), persisted.
//!   Pending payloads are delivered oldest first through an awaited, breaker-protected client;
//!   a payload leaves storage only when the sink acknowledged it. A failed flush keeps it and
//!   re-arms the alarm `flush_retry_delay_ms` later: it is never dropped.
//! - While anything is pending or open, an alarm is set: at the open period's end, or (with
//!   payloads pending) at once, or `flush_retry_delay_ms` after a flush that is in flight or
//!   failed. An alarm already set is never replaced (that would defeat the runtime's retry
//!   backoff); a missing one (deleted after its last retry) is re-armed on the next input.
//!   Alarms that fire early or with nothing to do only re-arm.
//!
//! The actor's one alarm is mirrored in [`TenantStorage::alarm_ms`]: the ledger writes it with
//! every `SetAlarm`; the runtime clears it when the alarm fires (before calling
//! [`TenantSystemLedger::on_alarm`]) and when it deletes the alarm after its last retry.

use crate::ledgers::client::{DeliveryMode, ParentClient};
use crate::ledgers::effect::{CallId, DeliveryOutcome, Effect, Message, MessageKey};
use crate::ledgers::system::{Accepted, ReceiverCounters, SystemStorage};
use crate::model::validate::{check_tenant, validate_sdk_fact};
use crate::model::{
    ActorId, AlarmOnFailure, AlarmRearm, BreakerConfig, Fact, FactError, Limits, Name, SdkData,
    TenantConfig, TenantStatsPayload, ALARM_MAX_RETRIES,
};
use crate::planted::{self, Plant};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How a tenant ledger is wired and tuned.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantLedgerConfig {
    /// This actor's name.
    pub actor: ActorId,
    /// The tenant it serves.
    pub tenant_id: String,
    /// Aggregation interval and flush retry delay.
    pub tenant: TenantConfig,
    /// Where payloads go: the platform queue producer or the platform ledger.
    pub sink: ActorId,
    /// Breaker settings of the flush client.
    pub breaker: BreakerConfig,
    /// Seed of the breaker's jitter stream.
    pub jitter_seed: u64,
    /// Bounds on facts it accepts.
    pub limits: Limits,
}

/// The running aggregate of the open period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAggregate {
    /// Period start, a multiple of the interval, ms.
    pub period_start_ms: u64,
    /// Sum of cache_stats hits.
    pub cache_hits: u64,
    /// Sum of cache_stats misses.
    pub cache_misses: u64,
    /// SDK facts accepted.
    pub facts_count: u64,
    /// Sum of fact_appended counts.
    pub facts_appended: u64,
    /// Distinct entities seen. Only counted, never iterated: a fixed-hasher set (a tenant of
    /// 100,000 entities made the ordered set's string comparisons a visible cost).
    pub entities: FxHashSet<Name>,
}

/// What survives a restart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantStorage {
    /// The period being aggregated, if anything arrived in it.
    pub open: Option<OpenAggregate>,
    /// Closed periods not yet acknowledged by the sink, oldest first.
    pub pending: VecDeque<TenantStatsPayload>,
    /// Sequence of the next flush id.
    pub next_flush_seq: u64,
    /// Every SDK fact accepted, like a SystemLedger's (the TenantSystemLedger extends it): for
    /// de-duplication and for the read side (`getSdkFacts`, `getCacheStats`, `getStats`).
    pub facts: SystemStorage,
    /// The actor's alarm (see the module docs).
    pub alarm_ms: Option<u64>,
}

impl TenantStorage {
    /// Whether there is anything the ledger still has to flush.
    pub fn has_work(&self) -> bool {
        self.open.is_some() || !self.pending.is_empty()
    }
}

/// Counters of a tenant ledger.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantCounters {
    /// What it received.
    pub received: ReceiverCounters,
    /// Facts of another tenant rejected.
    pub rejected_cross_tenant: u64,
    /// Payloads the sink acknowledged.
    pub payloads_delivered: u64,
    /// Flushes that failed and will be retried.
    pub flush_failures: u64,
}

/// How the runtime invoked the alarm handler: Cloudflare's `retryCount` and `isRetry`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlarmInvocation {
    /// 0 on a first run, n on the n-th retry of a failed run.
    pub retry_count: u32,
    /// Whether this run retries a failed one.
    pub is_retry: bool,
}

/// How an alarm handler run ended, as the runtime sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// It returned.
    Succeeded,
    /// It threw: the runtime retries it (or deletes the alarm after the last retry).
    Failed,
}

/// A handler run that awaits its flushes (`retry` policies).
#[derive(Clone, Copy, Debug)]
struct AwaitedRun {
    invocation: AlarmInvocation,
    /// Flushes not acknowledged yet.
    awaiting: usize,
}

/// A TenantSystemLedger.
#[derive(Clone, Debug)]
pub struct TenantSystemLedger {
    config: TenantLedgerConfig,
    client: ParentClient,
    /// How many of `storage.pending` (from the front) the client holds.
    handed_over: usize,
    counters: TenantCounters,
    /// The handler run awaiting its flushes, if any.
    run: Option<AwaitedRun>,
    /// How the awaited run ended, until the runtime takes it.
    finished_run: Option<RunOutcome>,
}

impl TenantSystemLedger {
    /// Starts (or restarts) the ledger on its storage; re-arms the alarm if work is pending.
    pub fn start(
        config: TenantLedgerConfig,
        now_ms: u64,
        storage: &mut TenantStorage,
        effects: &mut Vec<Effect>,
    ) -> Self {
        debug_assert!(config.tenant.validate().is_ok());
        let mut breaker = config.breaker;
        if planted::active(Plant::TenantBreakerStuckOpen) {
            // The planted mistake: the flush client reads its reset timeout as seconds, so
            // once OPEN it waits a thousand times too long.
            breaker.reset_timeout_ms = breaker.reset_timeout_ms.saturating_mul(1_000);
            breaker.reset_timeout_max_ms = breaker.reset_timeout_max_ms.saturating_mul(1_000);
        }
        let client = ParentClient::new(
            config.sink.clone(),
            DeliveryMode::Awaited,
            breaker,
            config.jitter_seed,
        );
        let mut ledger = Self {
            config,
            client,
            handed_over: 0,
            counters: TenantCounters::default(),
            run: None,
            finished_run: None,
        };
        ledger.ensure_alarm(now_ms, storage, effects, false);
        ledger
    }

    /// Its config.
    pub fn config(&self) -> &TenantLedgerConfig {
        &self.config
    }

    /// Its counters (since its last start).
    pub fn counters(&self) -> &TenantCounters {
        &self.counters
    }

    /// The flush client.
    pub fn client(&self) -> &ParentClient {
        &self.client
    }

    /// The start of the aligned period containing `now_ms`, ms.
    pub fn period_start_of(&self, now_ms: u64) -> u64 {
        let interval_ms = self.config.tenant.aggregation_interval_ms;
        now_ms - now_ms % interval_ms
    }

    /// Receives an SDK fact: validated, own tenant only, de-duplicated, added to the open
    /// aggregate in storage; then it is acknowledged.
    pub fn on_fact(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        fact: Fact,
        effects: &mut Vec<Effect>,
    ) -> Result<Accepted, FactError> {
        self.on_fact_ref(now_ms, storage, &fact, effects)
    }

    /// [`Self::on_fact`] on a borrowed fact: the ledger keeps only its id, so a caller that
    /// needs the fact afterwards (the runtime's observation log) does not have to copy it.
    pub fn on_fact_ref(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        fact: &Fact,
        effects: &mut Vec<Effect>,
    ) -> Result<Accepted, FactError> {
        let data = validate_sdk_fact(fact, now_ms, &self.config.limits)
            .and_then(|data| {
                let has_period = matches!(data, SdkData::CacheStats(_) | SdkData::FactAppended(_));
                if has_period && planted::active(Plant::TenantChecksOnlyLifecycleFacts) {
                    return Ok(data);
                }
                check_tenant(fact, &self.config.tenant_id).map(|()| data)
            })
            .inspect_err(|error| {
                self.counters.received.reject(error.kind());
                if matches!(error, FactError::ForeignTenant { .. }) {
                    self.counters.rejected_cross_tenant += 1;
                }
            })?;
        if storage.facts.contains(&fact.id) {
            self.counters.received.duplicates += 1;
            return Ok(Accepted::Duplicate);
        }
        self.roll(now_ms, storage);
        let period_start_ms = self.period_start_of(now_ms);
        let open = storage.open.get_or_insert_with(|| OpenAggregate {
            period_start_ms,
            ..OpenAggregate::default()
        });
        debug_assert_eq!(
            open.period_start_ms, period_start_ms,
            "roll keeps the open period current"
        );
        open.facts_count += 1;
        if !open.entities.contains(&fact.entity_id) {
            open.entities.insert(fact.entity_id.clone());
        }
        // Counts come from other actors: a hostile or broken sender may claim anything, so the
        // aggregate saturates instead of overflowing (found by the fact_ingest fuzz target).
        match &data {
            SdkData::CacheStats(stats) => {
                open.cache_hits = open.cache_hits.saturating_add(stats.hits);
                open.cache_misses = open.cache_misses.saturating_add(stats.misses);
            }
            SdkData::FactAppended(appended) => {
                open.facts_appended = open.facts_appended.saturating_add(appended.count)
            }
            SdkData::SchemaInit(_) | SdkData::HydrationDone(_) => {}
        }
        storage.facts.store(fact, data);
        self.counters.received.stored += 1;
        self.ensure_alarm(now_ms, storage, effects, false);
        Ok(Accepted::Stored)
    }

    /// The alarm handler's first statement: with [`AlarmRearm::AtStart`], a safety alarm one
    /// flush retry delay later, so that a run that fails after it leaves an alarm set. (The
    /// runtime calls it alone when it makes the run fail.)
    pub fn begin_alarm_run(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        effects: &mut Vec<Effect>,
    ) {
        if self.config.tenant.alarm_rearm == AlarmRearm::AtStart {
            let at_ms = now_ms + self.config.tenant.flush_retry_delay_ms;
            storage.alarm_ms = Some(at_ms);
            effects.push(Effect::SetAlarm { at_ms });
        }
    }

    /// The alarm handler as a first run (`retryCount` 0); see [`Self::on_alarm_run`].
    pub fn on_alarm(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        effects: &mut Vec<Effect>,
    ) {
        let _ = self.on_alarm_run(now_ms, storage, AlarmInvocation::default(), effects);
    }

    /// The alarm handler: closes the open period if it ended and hands every pending payload to
    /// the flush client (which delivers them in order). With [`AlarmOnFailure::Rearm`] it then
    /// re-arms and returns; with the `retry` policies it awaits the flushes: the outcome comes
    /// now if nothing is left to await, else later ([`Self::take_run_outcome`]).
    pub fn on_alarm_run(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        invocation: AlarmInvocation,
        effects: &mut Vec<Effect>,
    ) -> Option<RunOutcome> {
        debug_assert_eq!(
            storage.alarm_ms, None,
            "the runtime clears the alarm before the handler"
        );
        self.run = None;
        self.finished_run = None;
        self.begin_alarm_run(now_ms, storage, effects);
        self.roll(now_ms, storage);
        let first_new = effects.len();
        while self.handed_over < storage.pending.len() {
            let payload = storage.pending[self.handed_over].clone();
            self.handed_over += 1;
            self.client
                .emit(now_ms, Message::TenantStats(payload), effects);
        }
        self.client.resend_backlog(now_ms, effects);
        let (_, failed) = self.absorb_settled(storage, first_new, effects);
        if self.config.tenant.alarm_on_failure == AlarmOnFailure::Rearm {
            self.end_handler(now_ms, storage, effects);
            return Some(RunOutcome::Succeeded);
        }
        if failed {
            return Some(self.handler_failed(now_ms, storage, invocation, effects));
        }
        if storage.pending.is_empty() {
            self.end_handler(now_ms, storage, effects);
            return Some(RunOutcome::Succeeded);
        }
        self.run = Some(AwaitedRun {
            invocation,
            awaiting: storage.pending.len(),
        });
        None
    }

    /// The end of a handler run that did not throw: the alarm the work calls for.
    fn end_handler(&mut self, now_ms: u64, storage: &mut TenantStorage, effects: &mut Vec<Effect>) {
        if !planted::active(Plant::AlarmNotRearmed) {
            let replace = self.config.tenant.alarm_rearm == AlarmRearm::AtStart;
            self.ensure_alarm(now_ms, storage, effects, replace);
        }
    }

    /// A flush the handler awaited failed: it throws, unless the policy catches the last
    /// retry's failure and re-arms.
    fn handler_failed(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        invocation: AlarmInvocation,
        effects: &mut Vec<Effect>,
    ) -> RunOutcome {
        let last_retry = invocation.retry_count >= ALARM_MAX_RETRIES;
        if self.config.tenant.alarm_on_failure == AlarmOnFailure::RetryThenRearm && last_retry {
            let at_ms = now_ms + self.config.tenant.flush_retry_delay_ms;
            storage.alarm_ms = Some(at_ms);
            effects.push(Effect::SetAlarm { at_ms });
            return RunOutcome::Succeeded;
        }
        RunOutcome::Failed
    }

    /// How the awaited handler run ended, once (after a delivery result).
    pub fn take_run_outcome(&mut self) -> Option<RunOutcome> {
        self.finished_run.take()
    }

    /// The runtime cut the awaited run off (its wall-time limit): nothing awaits any more.
    pub fn abandon_run(&mut self) {
        self.run = None;
        self.finished_run = None;
    }

    /// Feeds the outcome of a flush delivery.
    pub fn on_delivery_result(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        call_id: CallId,
        outcome: DeliveryOutcome,
        effects: &mut Vec<Effect>,
    ) {
        let first_new = effects.len();
        self.client.on_result(now_ms, call_id, outcome, effects);
        let (acknowledged, waiting_failed) = self.absorb_settled(storage, first_new, effects);
        // Re-sends have no waiting caller, so their failure settles nothing: look at the
        // outcome itself.
        if outcome.is_err() && !waiting_failed {
            self.counters.flush_failures += 1;
        }
        if let Some(mut run) = self.run.take() {
            if outcome.is_err() || waiting_failed {
                self.finished_run =
                    Some(self.handler_failed(now_ms, storage, run.invocation, effects));
                return;
            }
            run.awaiting = run.awaiting.saturating_sub(acknowledged);
            if run.awaiting > 0 {
                self.run = Some(run);
                return;
            }
            self.end_handler(now_ms, storage, effects);
            self.finished_run = Some(RunOutcome::Succeeded);
            return;
        }
        if outcome.is_err() {
            // Caught and re-armed: the retry waits the full delay after the failure (a timeout
            // is reported rpc_timeout after the send, when the in-flight watchdog alarm may be
            // due).
            let retry_at_ms = now_ms + self.config.tenant.flush_retry_delay_ms;
            storage.alarm_ms = Some(retry_at_ms);
            effects.push(Effect::SetAlarm { at_ms: retry_at_ms });
        }
        self.ensure_alarm(now_ms, storage, effects, false);
    }

    /// Moves the open aggregate to the pending payloads once its period has ended.
    fn roll(&mut self, now_ms: u64, storage: &mut TenantStorage) {
        let interval_ms = self.config.tenant.aggregation_interval_ms;
        let ended = storage
            .open
            .as_ref()
            .is_some_and(|open| now_ms >= open.period_start_ms + interval_ms);
        if !ended {
            return;
        }
        let Some(open) = storage.open.take() else {
            return;
        };
        let payload = TenantStatsPayload {
            flush_id: TenantStatsPayload::flush_id_for(
                &self.config.tenant_id,
                storage.next_flush_seq,
            ),
            tenant_id: self.config.tenant_id.clone(),
            period_start_ms: open.period_start_ms,
            period_end_ms: open.period_start_ms + interval_ms,
            cache_hits: if planted::active(Plant::FlushDoubleCounts) {
                open.cache_hits * 2
            } else {
                open.cache_hits
            },
            cache_misses: open.cache_misses,
            facts_count: open.facts_count,
            entities_count: open.entities.len() as u64,
            facts_appended: open.facts_appended,
        };
        storage.next_flush_seq += 1;
        storage.pending.push_back(payload);
    }

    /// Removes acknowledged payloads from storage; counts failures. Returns how many were
    /// acknowledged and whether a flush failed.
    fn absorb_settled(
        &mut self,
        storage: &mut TenantStorage,
        first_new: usize,
        effects: &[Effect],
    ) -> (usize, bool) {
        let mut acknowledged = 0;
        let mut failed = false;
        for effect in &effects[first_new..] {
            if let Effect::Rejected {
                key: MessageKey::Flush(_),
                ..
            } = effect
            {
                // The breaker refused the oldest flush (a re-send has no waiting caller, so no
                // error settles): nothing was attempted, the flushes failed.
                failed = true;
                continue;
            }
            let Effect::Settled {
                key: MessageKey::Flush(flush_id),
                result,
                ..
            } = effect
            else {
                continue;
            };
            match result {
                Ok(()) => {
                    let delivered = storage.pending.pop_front();
                    debug_assert_eq!(
                        delivered.map(|payload| payload.flush_id).as_ref(),
                        Some(flush_id)
                    );
                    self.handed_over = self.handed_over.saturating_sub(1);
                    self.counters.payloads_delivered += 1;
                    acknowledged += 1;
                }
                Err(_) => {
                    self.counters.flush_failures += 1;
                    failed = true;
                }
            }
        }
        (acknowledged, failed)
    }

    /// Keeps an alarm set while there is work (`replace`: replaces the one set).
    fn ensure_alarm(
        &mut self,
        now_ms: u64,
        storage: &mut TenantStorage,
        effects: &mut Vec<Effect>,
        replace: bool,
    ) {
        let desired_ms = if storage.pending.len() > self.handed_over {
            Some(now_ms)
        } else if !storage.pending.is_empty() {
            Some(now_ms + self.config.tenant.flush_retry_delay_ms)
        } else {
            let interval_ms = self.config.tenant.aggregation_interval_ms;
            storage
                .open
                .as_ref()
                .map(|open| open.period_start_ms + interval_ms)
        };
        let Some(desired_ms) = desired_ms else {
            return;
        };
        // An alarm that is already set is left alone: it fires no later than a retry delay from
        // now or at the open period's end, and replacing it would defeat the runtime's retry
        // backoff after a failed handler. Only a missing alarm (deleted after its last retry,
        // or never set) is re-armed, unless `replace`: at the end of a handler run with
        // `AtStart`, the safety alarm gives way to the one the work calls for (the ledger keeps
        // its own schedule).
        if storage.alarm_ms.is_none() || replace {
            storage.alarm_ms = Some(desired_ms);
            effects.push(Effect::SetAlarm { at_ms: desired_ms });
        }
    }
}
