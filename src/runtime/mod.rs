//! The simulated Durable Objects runtime on madsim: durable storage held in the [`world`] so it
//! survives a kill, RPC with a timeout per call over one of two [`transport`]s, alarms with
//! Cloudflare's retry rules ([`alarm`]), overload answers, the platform metrics [`queue`], and
//! lazily applied local operations ([`workload`]).
//!
//! Data flows one way: [`run`] builds the world and a transport; the transport calls the
//! world's entry points and carries out the [`call::Step`]s they return; the world feeds the
//! sans-IO ledgers and hands what it sees to an [`observe::Observer`].
//!
//! Only messages and timers with effects are simulator events: each entity's cache gets and
//! appends are drawn from its own seeded stream and applied, each at its exact time, when
//! something happens to the entity or when an operation with an effect is due.

pub mod alarm;
pub mod call;
pub mod fault_book;
pub mod hostile;
pub mod idle;
pub mod load;
pub mod log;
pub mod observe;
pub mod overload;
pub mod queue;
pub mod reader;
pub mod recorder;
pub mod run;
pub mod seed;
pub mod spec;
pub mod transport;
pub mod workload;
pub mod world;

pub use observe::{Observation, Observer};
pub use recorder::{Counters, LatencySummary, Recorder};
pub use run::{run_world, RunError, RunOutput};
pub use spec::{
    ActorIdx, ActorInit, ActorSpec, FaultAction, Roles, TimedAction, Transport, WorldSpec,
};
pub use workload::{WorkloadSpec, WorkloadStream};
