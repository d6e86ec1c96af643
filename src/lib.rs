//! z0sim: a deterministic simulation test harness for the z0 SDK's self-observability layer.
//!
//! The crate is layered; each layer only uses the layers above it, and data flows one way:
//!
//! 1. [`model`]: facts, payloads, configs, validation. Plain data, no time source, no I/O.
//! 2. [`ledgers`]: the SDK components as sans-IO state machines: `now_ms` and an input in,
//!    effects out. No async, no madsim, no clock or random source of their own.
//! 3. [`runtime`]: the simulated Durable Objects runtime on madsim. The [`runtime::world`]
//!    holds every actor (its durable storage and live ledger), alarms, the queue and the faults
//!    in force, and hands what it observes to an observer; a [`runtime::transport`] (`madsim`
//!    nodes, or the `direct` network's schedule) drives the world's entry points and carries
//!    out the calls they return; [`runtime::run`] builds both and applies the fault actions.
//! 4. [`sim`]: scenario files ([`sim::scenario`], written once as tables), building a world
//!    from a scenario ([`sim::build`]), the oracle ([`sim::oracle`], one checker per family of
//!    invariants, fed as the run goes), runs and their reports, sweeps over many seeds.
//! 5. The command line (`src/main.rs`): argument parsing and printing only.
//!
//! Beside them: [`reference`] (independent reference models for the oracle and the property
//! tests) and [`planted`] (bugs planted on purpose, compiled in only with the `planted-bugs`
//! feature, to show each invariant can fail).
#![forbid(unsafe_code)]

pub mod ledgers;
pub mod model;
pub mod planted;
pub mod reference;
pub mod runtime;
pub mod sim;
