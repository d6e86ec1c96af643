//! z0sim: a deterministic simulation test harness for the z0 SDK's self-observability layer.
//!
//! The crate is layered; each layer only uses the layers above it (see `shared/design/harness.md`):
//!
//! 1. [`model`]: facts, payloads, configs, validation. Plain data, no time source, no I/O.
//! 2. [`ledgers`]: the SDK components as sans-IO state machines: `now_ms` and an input in,
//!    effects out. No async, no madsim, no clock or random source of their own.
//!
//! The simulated Durable Objects runtime (madsim), the scenario/oracle layer and the command
//! line arrive with later issues; see the README.
#![forbid(unsafe_code)]

pub mod ledgers;
pub mod model;
pub mod planted;
pub mod reference;
pub mod runtime;
pub mod sim;
