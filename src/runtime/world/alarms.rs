//! A tenant ledger's alarm in the world: firing runs the ledger's handler, unless the run fails
//! at once (the `alarm_failure` fault); a run that awaits its flushes ends when they settle, or
//! is cut off at its wall-time limit; a failed run is retried by Cloudflare's rules
//! ([`crate::runtime::alarm`]).

use super::actor::ActorKind;
use super::World;
use crate::ledgers::RunOutcome;
use crate::runtime::alarm::AfterFailure;
use crate::runtime::call::Call;
use crate::runtime::observe::Observation;
use crate::runtime::spec::ActorIdx;
use rand::Rng;

/// Alarm retries kept in the recorder's log (the counters count them all).
pub const ALARM_RETRY_LOG_LIMIT: usize = 10_000;

impl World {
    /// Tenant `idx`'s timer fired at `now_ms`: cuts off an overdue run, or runs its alarm
    /// handler if the alarm is due.
    pub(super) fn fire_alarm(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        if self.actors[idx].alarm.run_overdue(now_ms) {
            self.cut_off_alarm_run(idx, now_ms);
            return Vec::new();
        }
        if !self.actors[idx].alarm.is_due(now_ms) {
            return Vec::new();
        }
        let fails = self.faults.alarm_failure_rate(idx) > 0.0
            && self.alarm_rng.gen::<f64>() < self.faults.alarm_failure_rate(idx);
        // Drawn for every run, failed or not, so the stream does not depend on the outcome.
        let jitter_unit = self.alarm_rng.gen::<f64>();
        let actor = &mut self.actors[idx];
        actor.last_active_ms = actor.last_active_ms.max(now_ms);
        let invocation = actor.alarm.begin_run(now_ms);
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %actor.id, retry_count = invocation.retry_count, is_retry = invocation.is_retry, "alarm handler runs");
        if fails {
            return self.alarm_run_fails_at_once(idx, now_ms, jitter_unit);
        }
        let ActorKind::Tenant(tenant) = &mut actor.kind else {
            unreachable!("{actor} has a timer but is not a tenant ledger");
        };
        tenant.storage.alarm_ms = None;
        let ledger = tenant
            .ledger
            .as_mut()
            .expect("a tenant whose timer fires runs");
        let mut effects = Vec::new();
        let outcome = ledger.on_alarm_run(now_ms, &mut tenant.storage, invocation, &mut effects);
        let calls = self.apply_effects(idx, now_ms, effects);
        if let Some(outcome) = outcome {
            self.end_alarm_run(idx, now_ms, outcome, jitter_unit);
        }
        self.note_tenant_state(idx, now_ms);
        calls
    }

    /// Tenant `idx`'s handler run failed at `now_ms` right after its first statement (which
    /// may set the alarm: then that alarm stands).
    fn alarm_run_fails_at_once(
        &mut self,
        idx: ActorIdx,
        now_ms: u64,
        jitter_unit: f64,
    ) -> Vec<Call> {
        let mut effects = Vec::new();
        if let ActorKind::Tenant(tenant) = &mut self.actors[idx].kind {
            let ledger = tenant
                .ledger
                .as_mut()
                .expect("a tenant whose timer fires runs");
            ledger.begin_alarm_run(now_ms, &mut tenant.storage, &mut effects);
        }
        let calls = self.apply_effects(idx, now_ms, effects);
        self.end_alarm_run(idx, now_ms, RunOutcome::Failed, jitter_unit);
        self.note_tenant_state(idx, now_ms);
        calls
    }

    /// Tenant `idx`'s run passed its wall-time limit at `now_ms`: it is cut off, and fails.
    fn cut_off_alarm_run(&mut self, idx: ActorIdx, now_ms: u64) {
        if let ActorKind::Tenant(tenant) = &mut self.actors[idx].kind {
            if let Some(ledger) = tenant.ledger.as_mut() {
                ledger.abandon_run();
            }
        }
        self.recorder.counters.alarm_runs_cut_off += 1;
        let jitter_unit = self.alarm_rng.gen::<f64>();
        self.end_alarm_run(idx, now_ms, RunOutcome::Failed, jitter_unit);
        self.note_tenant_state(idx, now_ms);
    }

    /// Tenant `idx`'s awaited run ended at `now_ms` (after a flush result).
    pub(super) fn awaited_alarm_run_ended(
        &mut self,
        idx: ActorIdx,
        now_ms: u64,
        outcome: RunOutcome,
    ) {
        let jitter_unit = self.alarm_rng.gen::<f64>();
        self.end_alarm_run(idx, now_ms, outcome, jitter_unit);
    }

    /// Tenant `idx`'s handler run ended at `now_ms`: the alarm learns how (`jitter_unit` for a
    /// retry); the storage mirror follows the alarm.
    pub(super) fn end_alarm_run(
        &mut self,
        idx: ActorIdx,
        now_ms: u64,
        outcome: RunOutcome,
        jitter_unit: f64,
    ) {
        let actor = &mut self.actors[idx];
        // A handler run is activity: the idle stretch starts when it ends.
        actor.last_active_ms = actor.last_active_ms.max(now_ms);
        let failure = match outcome {
            RunOutcome::Succeeded => actor.alarm.run_succeeded(now_ms, jitter_unit),
            RunOutcome::Failed => Some(actor.alarm.run_failed(now_ms, jitter_unit)),
        };
        if let ActorKind::Tenant(tenant) = &mut actor.kind {
            tenant.storage.alarm_ms = actor.alarm.at_ms();
        }
        self.timer_moved = true;
        if let Some(after) = failure {
            self.count_alarm_failure(idx, now_ms, after);
        }
    }

    /// Counts a failed run and what became of the alarm.
    fn count_alarm_failure(&mut self, idx: ActorIdx, now_ms: u64, after: AfterFailure) {
        let counters = &mut self.recorder.counters;
        counters.alarm_failures += 1;
        match after {
            AfterFailure::Deleted => {
                counters.alarms_deleted += 1;
                tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, "alarm deleted after its last retry");
                self.observer.note(|| Observation::AlarmDeleted {
                    at_ms: now_ms,
                    actor: idx,
                });
            }
            AfterFailure::Retry { retry, delay_ms } => {
                if self.recorder.alarm_retries.len() < ALARM_RETRY_LOG_LIMIT {
                    self.recorder.alarm_retries.push((retry, delay_ms));
                }
            }
            AfterFailure::Replaced => {}
        }
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, retries = self.actors[idx].alarm.retries(), ?after, "alarm handler failed");
    }
}
