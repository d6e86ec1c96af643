//! `ParentClient` (the z0 SDK's ParentDOClient): delivers messages to one target through its
//! own circuit breaker, in one of two modes.
//!
//! - **Fire-and-forget** (`fallback_on_failure = true`): an emission is sent if the breaker
//!   admits it and then forgotten by the caller. A rejected or failed emission is dropped,
//!   counted by reason and, with `warn_on_fallback`, logged as a warning through `tracing`.
//! - **Awaited** (`fallback_on_failure = false`, and every delivery that must not be lost):
//!   emissions wait in an in-memory backlog and are delivered one at a time, oldest first. The
//!   caller of the operation that emitted waits for a [`Effect::Settled`]; a breaker rejection
//!   or a failure settles every waiting caller with an error, and the message stays at its place
//!   in the backlog, to be re-sent with the same id before any newer one. Nothing is dropped.
//!
//! The runtime must route outcomes only to the client instance that made the call (results of
//! calls made before a restart go nowhere: fire-and-forget sends die with their actor).

use crate::ledgers::breaker::{CircuitBreaker, Permit};
use crate::ledgers::effect::{
    CallId, DeliveryOutcome, DropReason, Effect, EmitError, Message, MessageKey, StatsSummary,
};
use crate::model::{ActorId, BootstrapConfig, BreakerConfig};
use crate::planted::{self, Plant};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The `tracing` target of fallback warnings.
pub const FALLBACK_TARGET: &str = "z0sim::fallback";

/// How a client treats its emissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryMode {
    /// Send and forget; drop on rejection or failure, optionally with a warning.
    FireAndForget {
        /// Log a warning per drop.
        warn_on_fallback: bool,
    },
    /// Deliver in order, one at a time; failures surface to the waiting callers.
    Awaited,
}

impl DeliveryMode {
    /// The mode `BootstrapConfig` asks for on the observability path.
    pub fn from_bootstrap(bootstrap: &BootstrapConfig) -> Self {
        if bootstrap.fallback_on_failure {
            DeliveryMode::FireAndForget {
                warn_on_fallback: bootstrap.warn_on_fallback,
            }
        } else {
            DeliveryMode::Awaited
        }
    }
}

/// A client's own counters (the runtime also counts from effects; these are for tests and reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCounters {
    /// Emissions handed to the client.
    pub emitted: u64,
    /// Delivery attempts that left the client.
    pub attempts: u64,
    /// Attempts of a message that had been attempted before (awaited mode).
    pub resends: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Fire-and-forget drops because the breaker rejected them.
    pub dropped_breaker_open: u64,
    /// Fire-and-forget drops because the delivery failed.
    pub dropped_delivery_failed: u64,
    /// Warnings logged for drops.
    pub fallback_warnings: u64,
    /// Errors returned to waiting callers (awaited mode).
    pub errors_surfaced: u64,
}

#[derive(Clone, Debug)]
struct InFlight {
    key: MessageKey,
    permit: Permit,
}

#[derive(Clone, Debug)]
struct Backlogged {
    message: Message,
    key: MessageKey,
    caller_waiting: bool,
    attempted: bool,
}

/// A breaker-protected client for one target.
#[derive(Clone, Debug)]
pub struct ParentClient {
    target: ActorId,
    mode: DeliveryMode,
    breaker: CircuitBreaker,
    next_call_id: CallId,
    /// Calls without an outcome yet, by call id. Ids only grow, so pushing keeps it sorted;
    /// a client has a handful at a time, so a vector beats a tree (one allocation, no nodes).
    in_flight: Vec<(CallId, InFlight)>,
    /// Awaited mode: undelivered messages, oldest first; the head may be in flight.
    backlog: VecDeque<Backlogged>,
    head_call: Option<CallId>,
    counters: ClientCounters,
}

impl ParentClient {
    /// A client with a CLOSED breaker and nothing in flight.
    pub fn new(
        target: ActorId,
        mode: DeliveryMode,
        breaker: BreakerConfig,
        jitter_seed: u64,
    ) -> Self {
        Self {
            target,
            mode,
            breaker: CircuitBreaker::new(breaker, jitter_seed),
            next_call_id: 0,
            in_flight: Vec::new(),
            backlog: VecDeque::new(),
            head_call: None,
            counters: ClientCounters::default(),
        }
    }

    /// The target actor.
    pub fn target(&self) -> &ActorId {
        &self.target
    }

    /// The delivery mode.
    pub fn mode(&self) -> DeliveryMode {
        self.mode
    }

    /// The client's breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The client's counters.
    pub fn counters(&self) -> &ClientCounters {
        &self.counters
    }

    /// Undelivered messages held in memory (awaited mode), oldest first: what a restart loses.
    pub fn backlog(&self) -> impl Iterator<Item = &Message> + '_ {
        self.backlog.iter().map(|entry| &entry.message)
    }

    /// Hands a message to the client.
    pub fn emit(&mut self, now_ms: u64, message: Message, effects: &mut Vec<Effect>) {
        self.counters.emitted += 1;
        let key = message.key();
        // The planted mistake: a fire-and-forget emission keeps its caller waiting.
        let awaited =
            self.mode == DeliveryMode::Awaited || planted::active(Plant::FallbackOnBlocksCaller);
        effects.push(Effect::Emitted {
            target: self.target.clone(),
            key: key.clone(),
            awaited,
            stats: StatsSummary::of(&message),
        });
        match self.mode {
            DeliveryMode::FireAndForget { .. } => match self.acquire(now_ms, effects) {
                Some(permit) => self.send(message, key, permit, awaited, effects),
                None => self.drop_message(key, DropReason::BreakerOpen, Some(message), effects),
            },
            DeliveryMode::Awaited => {
                self.backlog.push_back(Backlogged {
                    message,
                    key,
                    caller_waiting: true,
                    attempted: false,
                });
                self.pump(now_ms, effects);
            }
        }
    }

    /// Awaited mode: tries the oldest undelivered message again if nothing is in flight.
    /// Nobody is waiting for it, so a rejection settles nothing. A no-op in fire-and-forget mode.
    pub fn resend_backlog(&mut self, now_ms: u64, effects: &mut Vec<Effect>) {
        self.pump(now_ms, effects);
    }

    /// Feeds the outcome of call `call_id`. Unknown ids (already settled) are ignored.
    pub fn on_result(
        &mut self,
        now_ms: u64,
        call_id: CallId,
        outcome: DeliveryOutcome,
        effects: &mut Vec<Effect>,
    ) {
        let Ok(position) = self.in_flight.binary_search_by_key(&call_id, |(id, _)| *id) else {
            return;
        };
        let (_, in_flight) = self.in_flight.remove(position);
        if let Some(transition) = self
            .breaker
            .on_result(now_ms, in_flight.permit, outcome.is_ok())
        {
            effects.push(Effect::Breaker {
                target: self.target.clone(),
                transition,
            });
        }
        match self.mode {
            DeliveryMode::FireAndForget { .. } => match outcome {
                Ok(()) => self.counters.delivered += 1,
                Err(kind) => self.drop_message(
                    in_flight.key,
                    DropReason::DeliveryFailed(kind),
                    None,
                    effects,
                ),
            },
            DeliveryMode::Awaited => {
                debug_assert_eq!(
                    self.head_call,
                    Some(call_id),
                    "awaited mode has one call in flight"
                );
                self.head_call = None;
                match outcome {
                    Ok(()) => {
                        let delivered = self.backlog.pop_front();
                        debug_assert_eq!(
                            delivered.as_ref().map(|entry| &entry.key),
                            Some(&in_flight.key)
                        );
                        self.counters.delivered += 1;
                        effects.push(Effect::Settled {
                            target: self.target.clone(),
                            key: in_flight.key,
                            result: Ok(()),
                        });
                        self.pump(now_ms, effects);
                    }
                    Err(_) if planted::active(Plant::FallbackOffSwallowsError) => {
                        // The planted mistake: the failed head is thrown away, nobody is told.
                        self.backlog.pop_front();
                        self.pump(now_ms, effects);
                    }
                    Err(kind) => self.settle_waiting(EmitError::DeliveryFailed(kind), effects),
                }
            }
        }
    }

    /// Awaited mode: sends the head of the backlog unless a call is in flight.
    fn pump(&mut self, now_ms: u64, effects: &mut Vec<Effect>) {
        if self.mode != DeliveryMode::Awaited || self.head_call.is_some() || self.backlog.is_empty()
        {
            return;
        }
        let Some(permit) = self.acquire(now_ms, effects) else {
            if let Some(head) = self.backlog.front() {
                effects.push(Effect::Rejected {
                    target: self.target.clone(),
                    key: head.key.clone(),
                });
            }
            self.settle_waiting(EmitError::BreakerOpen, effects);
            return;
        };
        let Some(head) = self.backlog.front_mut() else {
            return;
        };
        if head.attempted {
            self.counters.resends += 1;
        }
        head.attempted = true;
        let (message, key) = (head.message.clone(), head.key.clone());
        self.head_call = Some(self.next_call_id);
        self.send(message, key, permit, true, effects);
    }

    fn acquire(&mut self, now_ms: u64, effects: &mut Vec<Effect>) -> Option<Permit> {
        let (permit, transition) = self.breaker.try_acquire(now_ms);
        if let Some(transition) = transition {
            effects.push(Effect::Breaker {
                target: self.target.clone(),
                transition,
            });
        }
        permit
    }

    fn send(
        &mut self,
        message: Message,
        key: MessageKey,
        permit: Permit,
        awaited: bool,
        effects: &mut Vec<Effect>,
    ) {
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        self.counters.attempts += 1;
        debug_assert!(self
            .in_flight
            .last()
            .is_none_or(|(last, _)| *last < call_id));
        self.in_flight.push((call_id, InFlight { key, permit }));
        effects.push(Effect::Send {
            target: self.target.clone(),
            call_id,
            message,
            awaited,
        });
    }

    fn drop_message(
        &mut self,
        key: MessageKey,
        reason: DropReason,
        message: Option<Message>,
        effects: &mut Vec<Effect>,
    ) {
        let DeliveryMode::FireAndForget { warn_on_fallback } = self.mode else {
            debug_assert!(false, "awaited mode never drops");
            return;
        };
        match reason {
            DropReason::BreakerOpen => self.counters.dropped_breaker_open += 1,
            DropReason::DeliveryFailed(_) => self.counters.dropped_delivery_failed += 1,
        }
        if warn_on_fallback {
            self.counters.fallback_warnings += 1;
        }
        if warn_on_fallback && !planted::active(Plant::NoWarningOnDrop) {
            tracing::warn!(
                target: FALLBACK_TARGET,
                observability_target = %self.target,
                message_key = %key,
                ?reason,
                "observability emission dropped (fallback_on_failure)"
            );
        }
        effects.push(Effect::Dropped {
            target: self.target.clone(),
            key,
            reason,
            warned: warn_on_fallback,
            message,
        });
    }

    /// Every caller still waiting gets `error`; the messages stay in the backlog.
    fn settle_waiting(&mut self, error: EmitError, effects: &mut Vec<Effect>) {
        for entry in self.backlog.iter_mut().filter(|entry| entry.caller_waiting) {
            entry.caller_waiting = false;
            self.counters.errors_surfaced += 1;
            effects.push(Effect::Settled {
                target: self.target.clone(),
                key: entry.key.clone(),
                result: Err(error),
            });
        }
    }
}
