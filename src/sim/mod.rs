//! Simulation layer: scenarios, the world they build, runs and their reports.

pub mod build;
pub mod capacity;
pub mod capacity_output;
pub mod docs;
pub mod export;
pub mod invariants;
pub mod memory;
pub mod oracle;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod sweep_output;
pub mod witness;
pub mod workers;

pub use report::{InvariantResult, Report};
pub use run::{run, RunOptions};
pub use scenario::{load_scenario, parse_scenario, Scenario, ScenarioError};
