//! What a run leaves for people to look at besides its verdicts: the event log
//! ([`events`]), each violation explained from it ([`explain`]), and the timeline picture
//! ([`timeline`]). The oracle judges; the witness only records what it was shown.

pub mod events;
pub mod explain;
pub mod timeline;

use crate::runtime::observe::{Observation, Observer};
use crate::sim::oracle::Oracle;
use events::EventLog;

/// The run's observer when its events are kept: the oracle, and the log beside it.
pub struct Witness {
    /// The oracle, judging as always.
    pub oracle: Oracle,
    /// The event log.
    pub log: EventLog,
}

impl Observer for Witness {
    fn observe(&mut self, observation: &Observation<'_>) {
        self.oracle.observe(observation);
        self.log.record(observation);
    }
}
