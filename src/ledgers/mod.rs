//! The SDK components as sans-IO state machines: `now_ms` and an input (and, where the actor
//! has one, its durable storage) in, effects out. No async, no madsim, no clock or random
//! source of their own: the runtime adapter owns time, storage and the network.

pub mod appended;
pub mod breaker;
pub mod client;
pub mod effect;
pub mod entity;
pub mod fact_log;
pub mod fact_store;
pub mod period;
pub mod platform;
pub mod stats;
pub mod system;
pub mod tenant;

pub use appended::{AppendedCounter, AppendedPeriod};
pub use breaker::{BreakerCounters, BreakerState, CircuitBreaker, Permit, Transition};
pub use client::{ClientCounters, DeliveryMode, ParentClient};
pub use effect::{
    CallId, DeliveryOutcome, DropReason, Effect, EmitError, FailureKind, Message, MessageKey,
    StatsSummary,
};
pub use entity::{ChildFactOutcome, EntityConfig, EntityLedger, EntityStorage, StartReport};
pub use period::{CloseReason, PeriodWindow};
pub use platform::{PlatformLedger, PlatformStorage, PlatformTotals};
pub use stats::{CachedStateManager, OpenCounts, StatsPeriod};
pub use system::{
    Accepted, ReceiverCounters, StoredSdkFact, SystemLedger, SystemStats, SystemStorage,
};
pub use tenant::{
    AlarmInvocation, OpenAggregate, RunOutcome, TenantCounters, TenantLedgerConfig, TenantStorage,
    TenantSystemLedger,
};
