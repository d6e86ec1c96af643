//! The faults in force and the random stream that decides them. Network-level faults (loss,
//! partitions) live in the transport; these are the ones an actor's runtime applies.

use crate::runtime::fault_book::WorldFaultState;
use crate::runtime::hostile::HostileInjector;
use crate::runtime::seed::{derive_seed, purpose, stream};
use crate::runtime::spec::ActorIdx;
use rand::rngs::SmallRng;
use rand::Rng;
use std::collections::BTreeMap;

/// Faults in force, by actor, and the fault stream (`purpose::FAULTS`).
pub struct Faults {
    overload_rate: BTreeMap<ActorIdx, f64>,
    extra_latency_ms: BTreeMap<ActorIdx, u64>,
    alarm_failure_rate: BTreeMap<ActorIdx, f64>,
    queue_duplicate_rate: f64,
    queue_consumer_failure_rate: f64,
    /// Entity -> the wrong ledger its SDK facts go to.
    misrouted: BTreeMap<ActorIdx, ActorIdx>,
    rng: SmallRng,
    /// The `hostile_facts` fault, with a stream of its own (`purpose::HOSTILE`).
    pub(super) hostile: HostileInjector,
}

impl Faults {
    /// No fault in force, streams derived from `run_seed`.
    pub fn new(run_seed: u64) -> Self {
        Self {
            overload_rate: BTreeMap::new(),
            extra_latency_ms: BTreeMap::new(),
            alarm_failure_rate: BTreeMap::new(),
            queue_duplicate_rate: 0.0,
            queue_consumer_failure_rate: 0.0,
            misrouted: BTreeMap::new(),
            rng: stream(run_seed, purpose::FAULTS, 0),
            hostile: HostileInjector::new(derive_seed(run_seed, purpose::HOSTILE, 0)),
        }
    }

    /// Draws from the fault stream: true with probability `rate` (no draw at 0).
    pub fn draw(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.gen::<f64>() < rate
    }

    /// Picks `fraction` of `actors` with the fault stream (each independently).
    pub fn pick(&mut self, actors: &[ActorIdx], fraction: f64) -> Vec<ActorIdx> {
        actors
            .iter()
            .copied()
            .filter(|_| self.draw(fraction))
            .collect()
    }

    /// Installs the rates and redirections of the faults now in force.
    pub fn install(&mut self, state: &WorldFaultState) {
        self.overload_rate.clone_from(&state.overload);
        self.extra_latency_ms.clone_from(&state.extra_latency_ms);
        self.alarm_failure_rate.clone_from(&state.alarm_failure);
        self.queue_duplicate_rate = state.queue_duplicate;
        self.queue_consumer_failure_rate = state.consumer_failure;
        self.misrouted.clone_from(&state.misroute);
        self.hostile.set_rate(state.hostile);
    }

    /// Whether actor `idx` answers this request `overloaded` (a draw while the fault is on).
    pub fn draw_overload(&mut self, idx: ActorIdx) -> bool {
        let rate = self.overload_rate.get(&idx).copied().unwrap_or(0.0);
        self.draw(rate)
    }

    /// Whether the consumer fails this batch (a draw while the fault is on).
    pub fn draw_consumer_failure(&mut self) -> bool {
        self.draw(self.queue_consumer_failure_rate)
    }

    /// The extra answer delay of actor `idx`, ms.
    pub fn extra_latency_ms(&self, idx: ActorIdx) -> u64 {
        self.extra_latency_ms.get(&idx).copied().unwrap_or(0)
    }

    /// The rate at which actor `idx`'s alarm handler runs fail.
    pub fn alarm_failure_rate(&self, idx: ActorIdx) -> f64 {
        self.alarm_failure_rate.get(&idx).copied().unwrap_or(0.0)
    }

    /// The probability that an acknowledged queue message is delivered again.
    pub fn queue_duplicate_rate(&self) -> f64 {
        self.queue_duplicate_rate
    }

    /// Where entity `idx`'s SDK facts go instead of its target, if misrouted.
    pub fn misrouted_to(&self, idx: ActorIdx) -> Option<ActorIdx> {
        self.misrouted.get(&idx).copied()
    }
}
