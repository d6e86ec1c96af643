//! `breaker_opens_on_threshold`: each client opens exactly when a reference breaker
//! (`src/reference/breaker.rs`), fed the same admissions and the same network outcomes, opens;
//! and admits only what the reference admits.

use super::{not_applicable, verdict, ClientKey, FirstViolation};
use crate::ledgers::{BreakerState, DropReason, MessageKey};
use crate::model::BreakerConfig;
use crate::reference::breaker::{BreakerState as ReferenceState, ReferenceBreaker, ReferenceCall};
use crate::runtime::observe::Observation;
use crate::runtime::ActorIdx;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashMap;

const NAME: &str = "breaker_opens_on_threshold";

/// One client's reference breaker within one incarnation of its caller.
struct ReferenceClient {
    breaker: ReferenceBreaker,
    /// Admitted calls without an outcome yet, in admission order, with their message: the
    /// first of a message is its oldest (a message is re-sent only after its outcome). A
    /// client has a few at a time, so a list beats a map of queues.
    calls: Vec<(MessageKey, ReferenceCall)>,
    /// When the implementation opened.
    opened_ms: Vec<u64>,
}

/// Every client beside its reference breaker (`None`: the reference does not apply).
pub(super) struct ThresholdChecker {
    config: Option<BreakerConfig>,
    /// By caller, then target (a restart ends all of a caller's clients). Hashed: a fleet
    /// has a million of them, looked up on every attempt; read in key order only for the
    /// verdict.
    clients: FxHashMap<ActorIdx, Vec<(Option<ActorIdx>, ReferenceClient)>>,
    violation: FirstViolation,
}

impl ThresholdChecker {
    pub(super) fn new(scenario: &Scenario) -> Self {
        let config = scenario.sdk.breaker;
        // The reference breaker models no jitter and no growth.
        let modelled =
            config.reset_timeout_jitter_ratio <= 0.0 && config.reset_timeout_growth_factor <= 1.0;
        Self {
            config: modelled.then_some(config),
            clients: FxHashMap::default(),
            violation: FirstViolation::default(),
        }
    }

    fn client(&mut self, key: ClientKey) -> &mut ReferenceClient {
        let config = self.config.as_ref().expect("judged only when modelled");
        let (caller, target) = key;
        // Most callers have one client: room for one (a default list makes room for four).
        let clients = self
            .clients
            .entry(caller)
            .or_insert_with(|| Vec::with_capacity(1));
        let position = match clients.iter().position(|(known, _)| *known == target) {
            Some(position) => position,
            None => {
                clients.push((
                    target,
                    ReferenceClient {
                        breaker: ReferenceBreaker::new(config),
                        calls: Vec::new(),
                        opened_ms: Vec::new(),
                    },
                ));
                clients.len() - 1
            }
        };
        &mut clients[position].1
    }

    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if self.config.is_none() || self.violation.found() {
            return;
        }
        let violation = match *observation {
            Observation::Started { actor, .. } => self.restarted(actor),
            Observation::Attempt {
                at_ms,
                caller,
                target,
                key,
                ..
            } => {
                let client = self.client((caller, target));
                match client.breaker.request(at_ms) {
                    Some(call) => {
                        client.calls.push((key.clone(), call));
                        None
                    }
                    None => Some(format!(
                        "at {at_ms} ms actor #{caller} sent {key} to #{target:?}; the reference breaker would have rejected it"
                    )),
                }
            }
            Observation::Dropped {
                at_ms,
                caller,
                target,
                reason: DropReason::BreakerOpen,
                key,
                ..
            }
            | Observation::Rejected {
                at_ms,
                caller,
                target,
                key,
            } => self.client((caller, target)).breaker.request(at_ms).map(|_| {
                format!(
                    "at {at_ms} ms actor #{caller} rejected {key}; the reference breaker would have admitted it"
                )
            }),
            Observation::Outcome {
                at_ms,
                caller,
                target,
                key,
                ok,
            } => {
                self.outcome(at_ms, (caller, target), key, ok);
                None
            }
            Observation::Transition {
                at_ms,
                caller,
                target,
                to: BreakerState::Open,
                ..
            } => {
                self.client((caller, target)).opened_ms.push(at_ms);
                None
            }
            _ => None,
        };
        self.violation.note(violation);
    }

    /// A restart ends the clients of `actor`: their openings are compared now, by target.
    fn restarted(&mut self, actor: ActorIdx) -> Option<String> {
        let mut ended = self.clients.remove(&actor).unwrap_or_default();
        ended.sort_by_key(|(target, _)| *target);
        ended
            .iter()
            .find_map(|(target, client)| compare_opens((actor, *target), client))
    }

    /// The outcome of `client`'s call carrying `key` (a message is re-sent only after its
    /// outcome, so calls of one message complete oldest first).
    fn outcome(&mut self, at_ms: u64, client: ClientKey, key: &MessageKey, ok: bool) {
        let (caller, target) = client;
        let Some(client) = self
            .clients
            .get_mut(&caller)
            .and_then(|clients| clients.iter_mut().find(|(known, _)| *known == target))
            .map(|(_, client)| client)
        else {
            return;
        };
        let Some(position) = client.calls.iter().position(|(sent, _)| sent == key) else {
            return;
        };
        let (_, call) = client.calls.remove(position);
        client.breaker.complete(at_ms, call, ok);
    }

    pub(super) fn opens_on_threshold(&self) -> InvariantResult {
        if self.config.is_none() {
            return not_applicable(NAME, "the reference breaker models no jitter and no growth");
        }
        let violation = self.violation.0.clone().or_else(|| {
            let mut clients: Vec<(ClientKey, &ReferenceClient)> = self
                .clients
                .iter()
                .flat_map(|(caller, clients)| {
                    clients
                        .iter()
                        .map(|(target, client)| ((*caller, *target), client))
                })
                .collect();
            clients.sort_by_key(|(key, _)| *key);
            clients
                .into_iter()
                .find_map(|(key, client)| compare_opens(key, client))
        });
        verdict(NAME, violation)
    }
}

fn compare_opens(key: ClientKey, client: &ReferenceClient) -> Option<String> {
    let reference: Vec<u64> = client
        .breaker
        .transitions()
        .iter()
        .filter(|(_, to, _)| *to == ReferenceState::Open)
        .map(|(_, _, at_ms)| *at_ms)
        .collect();
    (reference != client.opened_ms).then(|| {
        format!(
            "actor #{} -> #{:?}: opened at {}, the reference breaker at {}",
            key.0,
            key.1,
            times(&client.opened_ms),
            times(&reference)
        )
    })
}

/// Times as `[1000 ms, 2500 ms]` (the oracle's words turn each into a duration).
fn times(times_ms: &[u64]) -> String {
    let times: Vec<String> = times_ms.iter().map(|ms| format!("{ms} ms")).collect();
    format!("[{}]", times.join(", "))
}
