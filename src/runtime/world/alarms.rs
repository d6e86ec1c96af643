//! A tenant ledger's alarm firing: the handler run fails (the `alarm_failure` fault) and is
//! retried by Cloudflare's rules ([`crate::runtime::alarm`]), or it runs the ledger's handler.

use super::actor::ActorKind;
use super::World;
use crate::runtime::alarm::AfterFailure;
use crate::runtime::call::Call;
use crate::runtime::observe::Observation;
use crate::runtime::spec::ActorIdx;
use rand::Rng;

/// Alarm retries kept in the recorder's log (the counters count them all).
pub const ALARM_RETRY_LOG_LIMIT: usize = 10_000;

impl World {
    /// Tenant `idx`'s timer fired at `now_ms`: runs its alarm handler if the alarm is due.
    pub(super) fn fire_alarm(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        if !self.actors[idx].alarm.is_due(now_ms) {
            return Vec::new();
        }
        let fails = self.faults.alarm_failure_rate(idx) > 0.0
            && self.alarm_rng.gen::<f64>() < self.faults.alarm_failure_rate(idx);
        // Drawn for every run, failed or not, so the stream does not depend on the outcome.
        let jitter_unit = self.alarm_rng.gen::<f64>();
        let actor = &mut self.actors[idx];
        let ActorKind::Tenant(tenant) = &mut actor.kind else {
            unreachable!("{actor} has a timer but is not a tenant ledger");
        };
        actor.alarm.begin_run();
        if fails {
            return self.alarm_run_failed(idx, now_ms, jitter_unit);
        }
        actor.alarm.run_succeeded();
        tenant.storage.alarm_ms = None;
        let ledger = tenant
            .ledger
            .as_mut()
            .expect("a tenant whose timer fires runs");
        let mut effects = Vec::new();
        ledger.on_alarm(now_ms, &mut tenant.storage, &mut effects);
        let calls = self.apply_effects(idx, now_ms, effects);
        self.note_tenant_state(idx, now_ms);
        calls
    }

    /// Tenant `idx`'s alarm handler failed at `now_ms`, after its first statement (which may
    /// set the alarm: then that alarm stands); otherwise the runtime retries it or, after the
    /// last retry, deletes it.
    fn alarm_run_failed(&mut self, idx: ActorIdx, now_ms: u64, jitter_unit: f64) -> Vec<Call> {
        let mut effects = Vec::new();
        if let ActorKind::Tenant(tenant) = &mut self.actors[idx].kind {
            let ledger = tenant
                .ledger
                .as_mut()
                .expect("a tenant whose timer fires runs");
            ledger.begin_alarm_run(now_ms, &mut tenant.storage, &mut effects);
        }
        let calls = self.apply_effects(idx, now_ms, effects);
        let actor = &mut self.actors[idx];
        let after = actor.alarm.run_failed(now_ms, jitter_unit);
        if let ActorKind::Tenant(tenant) = &mut actor.kind {
            tenant.storage.alarm_ms = actor.alarm.at_ms();
        }
        let counters = &mut self.recorder.counters;
        counters.alarm_failures += 1;
        match after {
            AfterFailure::Deleted => {
                counters.alarms_deleted += 1;
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
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, retries = self.actors[idx].alarm.retries(), "alarm handler failed");
        self.note_tenant_state(idx, now_ms);
        calls
    }
}
