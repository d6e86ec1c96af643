//! What carries messages between actors and fires their timers (`[network] transport`). Each
//! transport owns its own state and drives the world through its entry points; the world
//! imports no transport.
//!
//! - [`madsim`]: a madsim node per actor, RPC over `madsim::net` (the default).
//! - [`direct`]: the actors in the world alone, one schedule ([`net`]) for their messages and
//!   timers.

pub mod direct;
pub mod madsim;
pub mod net;
