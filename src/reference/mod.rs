//! Small, independent reference models of the state machines, written from `docs/model.md` alone.
//!
//! Property tests, fuzz targets and the oracle feed the same inputs to an implementation and
//! to its reference model and compare. They only use the `model` layer.

pub mod breaker;
