//! The simulated Durable Objects runtime on madsim: one node per actor, durable storage held
//! outside the nodes (in the [`world::World`]) so it survives a kill, RPC over `madsim::net`
//! (or the faster [`direct`] transport, where the actors live in the world alone and one
//! schedule holds their messages and timers) with a timeout per call, alarms with
//! Cloudflare's retry rules, overload answers, the platform metrics queue, and lazily applied
//! local operations.
//!
//! Only messages and timers with effects are simulator events: each entity's cache gets and
//! appends are drawn from its own seeded stream and applied, each at its exact time, when
//! something happens to the entity or when an operation with an effect is due (see
//! [`workload`]).

pub mod direct;
pub mod hostile;
pub mod node;
pub mod observe;
pub mod pump;
pub mod recorder;
pub mod rpc;
pub mod run;
pub mod spec;
pub mod workload;
pub mod world;

pub use observe::{Observation, ObservationLog};
pub use recorder::{Counters, LatencySummary, Recorder};
pub use run::{run_world, RunError, RunOutput};
pub use spec::{ActorIdx, ActorInit, ActorSpec, FaultAction, TimedAction, Transport, WorldSpec};
pub use workload::{WorkloadSpec, WorkloadStream};
