//! What the state machines ask the world to do: effects, messages and delivery outcomes.
//!
//! Every state machine takes `now_ms`, an input and (where it has one) its durable storage, and
//! pushes effects into a caller-owned `Vec<Effect>`; the runtime carries them out. Reusing one
//! vector keeps the hot path free of allocation.

use crate::ledgers::breaker::Transition;
use crate::model::{ActorId, Fact, FactId, SdkData, SdkSubtype, TenantStatsPayload};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one delivery attempt of one client; unique per client instance.
pub type CallId = u64;

/// A message between actors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// An SDK fact for an observability target (SystemLedger or TenantSystemLedger).
    SdkFact(Fact),
    /// A fact bubbling from a child entity to its parent entity.
    ChildFact {
        /// The child actor that appended it.
        child: ActorId,
        /// The child's fact.
        fact: Fact,
    },
    /// A tenant's aggregated stats for the platform.
    TenantStats(TenantStatsPayload),
}

/// The identity of a message, stable across re-sends: what receivers de-duplicate on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MessageKey {
    /// A fact (SDK or bubbled).
    Fact(FactId),
    /// A tenant flush.
    Flush(String),
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageKey::Fact(id) => write!(f, "fact {id}"),
            MessageKey::Flush(id) => write!(f, "flush {id}"),
        }
    }
}

impl Message {
    /// The message's stable identity.
    pub fn key(&self) -> MessageKey {
        match self {
            Message::SdkFact(fact) | Message::ChildFact { fact, .. } => {
                MessageKey::Fact(fact.id.clone())
            }
            Message::TenantStats(payload) => MessageKey::Flush(payload.flush_id.clone()),
        }
    }
}

/// Why a delivery failed. Each counts as one failure for the breaker (docs/model.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The RPC failed (target down, connection reset, receiver error).
    Error,
    /// The target answered `overloaded`.
    Overloaded,
    /// No answer within `rpc_timeout_ms`.
    Timeout,
}

/// How one delivery attempt ended, as the runtime observed it.
pub type DeliveryOutcome = Result<(), FailureKind>;

/// Why a fire-and-forget emission was dropped (fallback on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The breaker was OPEN (or HALF_OPEN with its probe budget spent).
    BreakerOpen,
    /// The delivery was attempted and failed.
    DeliveryFailed(FailureKind),
}

/// The error an awaited emission (fallback off) returns to the caller of the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum EmitError {
    /// The breaker rejected the delivery without trying.
    #[error("observability target unavailable: circuit breaker open")]
    BreakerOpen,
    /// The delivery (of this message, or of an older one ahead of it) was tried and failed.
    #[error("observability delivery failed: {0:?}")]
    DeliveryFailed(FailureKind),
}

/// What an SDK stats emission covers: the period it closes and the observations it carries.
/// The runtime's ground truth about what its entities emitted; a receiver never trusts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsSummary {
    /// `cache_stats` or `fact_appended`.
    pub subtype: SdkSubtype,
    /// Start of the period, ms (inclusive).
    pub period_start_ms: u64,
    /// End of the period, ms (exclusive).
    pub period_end_ms: u64,
    /// Hits and misses, or appended facts.
    pub observations: u64,
}

impl StatsSummary {
    /// The summary of `message`, if it is an SDK stats fact built by the SDK (typed data).
    pub fn of(message: &Message) -> Option<Self> {
        let Message::SdkFact(fact) = message else {
            return None;
        };
        match fact.data.sdk()? {
            SdkData::CacheStats(stats) => Some(Self {
                subtype: SdkSubtype::CacheStats,
                period_start_ms: stats.period_start_ms,
                period_end_ms: stats.period_end_ms,
                observations: stats.hits + stats.misses,
            }),
            SdkData::FactAppended(appended) => Some(Self {
                subtype: SdkSubtype::FactAppended,
                period_start_ms: appended.period_start_ms,
                period_end_ms: appended.period_end_ms,
                observations: appended.count,
            }),
            _ => None,
        }
    }
}

/// One thing a state machine asks the runtime to do or to record.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A message was handed to a client (before any attempt to deliver it).
    Emitted {
        /// The client's target.
        target: ActorId,
        /// What.
        key: MessageKey,
        /// true: the caller of the operation that emitted it waits until it settles (fallback
        /// off); false: the caller goes on at once.
        awaited: bool,
        /// For an SDK stats fact: the period it closes.
        stats: Option<StatsSummary>,
    },
    /// An awaited client's breaker rejected the delivery of its oldest message (the message
    /// stays; waiting callers are settled with the error).
    Rejected {
        /// The client's target.
        target: ActorId,
        /// The message it did not try.
        key: MessageKey,
    },
    /// Deliver `message` to `target` and report the outcome back with `call_id`.
    Send {
        /// The target actor.
        target: ActorId,
        /// Report the outcome with this id.
        call_id: CallId,
        /// What to deliver.
        message: Message,
        /// true: the caller of the triggering operation waits for the outcome (fallback off).
        awaited: bool,
    },
    /// A fire-and-forget emission was dropped (fallback on).
    Dropped {
        /// Where it was going.
        target: ActorId,
        /// What was dropped.
        key: MessageKey,
        /// Why.
        reason: DropReason,
        /// Whether a warning was logged for it (`warn_on_fallback`).
        warned: bool,
        /// The message, when it never left the client (a breaker rejection); a failed
        /// delivery's message is the one of its `Send`.
        message: Option<Message>,
    },
    /// An awaited emission settled: the caller waiting for `key` gets `result`.
    Settled {
        /// Where it was going.
        target: ActorId,
        /// The emission.
        key: MessageKey,
        /// Delivered, or the error that surfaces to the caller.
        result: Result<(), EmitError>,
    },
    /// A client's breaker changed state.
    Breaker {
        /// The client's target.
        target: ActorId,
        /// The transition.
        transition: Transition,
    },
    /// Set (replace) this actor's one alarm.
    SetAlarm {
        /// When it should fire, ms.
        at_ms: u64,
    },
}
