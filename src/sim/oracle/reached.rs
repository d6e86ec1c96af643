//! What interesting things happened in a run (not an invariant): the report lists them so a
//! sweep shows whether the faults reached the code they were meant for.

use crate::ledgers::BreakerState;
use crate::runtime::observe::Observation;
use crate::runtime::Counters;

/// What the counters cannot tell.
#[derive(Default)]
pub(super) struct ReachedChecker {
    half_open_probe_failed: bool,
    hydration_replayed: bool,
}

impl ReachedChecker {
    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        match observation {
            Observation::Transition {
                from: BreakerState::HalfOpen,
                to: BreakerState::Open,
                ..
            } => self.half_open_probe_failed = true,
            Observation::Hydrated { facts_replayed, .. } if *facts_replayed > 0 => {
                self.hydration_replayed = true;
            }
            _ => {}
        }
    }

    /// In a fixed order: breaker opened, half-open probe failed, breaker closed, fallback
    /// drop, error surfaced, overloaded answered (then by cause: too many queued, too much
    /// data, queued too long, rate window), actor restarted, open period lost, idle eviction,
    /// idle wake, hydration replayed, alarm retried, alarm deleted, alarm run cut off, queue
    /// redelivered, queue retried, dead-lettered, queue deleted, queue expired, consumer
    /// failed, cross-tenant fact rejected, rollup appended.
    pub(super) fn reached(&self, counters: &Counters) -> Vec<String> {
        let items = [
            ("breaker_opened", counters.breaker_opened > 0),
            ("half_open_probe_failed", self.half_open_probe_failed),
            ("breaker_closed", counters.breaker_closed > 0),
            (
                "fallback_drop",
                counters.dropped_breaker_open + counters.dropped_delivery_failed > 0,
            ),
            ("error_surfaced", counters.errors_surfaced > 0),
            ("overloaded_answered", counters.overloaded_answers > 0),
            (
                "overloaded_too_many_queued",
                counters.overloaded_too_many_queued > 0,
            ),
            (
                "overloaded_too_much_data",
                counters.overloaded_too_much_data > 0,
            ),
            (
                "overloaded_queued_too_long",
                counters.overloaded_queued_too_long > 0,
            ),
            (
                "overloaded_rate_window",
                counters.overloaded_rate_window > 0,
            ),
            ("actor_restarted", counters.restarts > 0),
            ("open_period_lost", counters.lost_on_restart > 0),
            ("idle_evicted", counters.idle_evictions > 0),
            ("idle_woken", counters.idle_wakes > 0),
            ("hydration_replayed", self.hydration_replayed),
            ("alarm_retried", counters.alarm_failures > 0),
            ("alarm_deleted", counters.alarms_deleted > 0),
            ("alarm_run_cut_off", counters.alarm_runs_cut_off > 0),
            ("queue_redelivered", counters.queue_redeliveries > 0),
            ("queue_retried", counters.queue_messages_retried > 0),
            ("dead_lettered", counters.dead_lettered > 0),
            ("queue_deleted", counters.queue_messages_deleted > 0),
            ("queue_expired", counters.queue_messages_expired > 0),
            ("consumer_failed", counters.consumer_invocations_failed > 0),
            ("cross_tenant_rejected", counters.rejected_cross_tenant > 0),
            ("rollup_appended", counters.rollups > 0),
        ];
        items
            .into_iter()
            .filter(|(_, happened)| *happened)
            .map(|(name, _)| name.to_owned())
            .collect()
    }
}
