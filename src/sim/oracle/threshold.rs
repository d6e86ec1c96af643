//! `breaker_opens_on_threshold`: each client opens exactly when a reference breaker
//! (`src/reference/breaker.rs`), fed the same admissions and the same network outcomes, opens;
//! and admits only what the reference admits.

use super::{clients_of, not_applicable, verdict, ClientKey, FirstViolation};
use crate::ledgers::{BreakerState, DropReason, MessageKey};
use crate::model::BreakerConfig;
use crate::reference::breaker::{BreakerState as ReferenceState, ReferenceBreaker, ReferenceCall};
use crate::runtime::observe::Observation;
use crate::runtime::ActorIdx;
use crate::sim::report::InvariantResult;
use crate::sim::scenario::Scenario;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};

const NAME: &str = "breaker_opens_on_threshold";

/// One client's reference breaker within one incarnation of its caller.
struct ReferenceClient {
    breaker: ReferenceBreaker,
    /// Admitted calls by message, oldest first (a message is re-sent only after its outcome).
    /// Lookup only (never iterated), so a fixed-hasher map keeps the verdict deterministic.
    calls: FxHashMap<MessageKey, VecDeque<ReferenceCall>>,
    /// When the implementation opened.
    opened_ms: Vec<u64>,
}

/// Every client beside its reference breaker (`None`: the reference does not apply).
pub(super) struct ThresholdChecker {
    config: Option<BreakerConfig>,
    clients: BTreeMap<ClientKey, ReferenceClient>,
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
            clients: BTreeMap::new(),
            violation: FirstViolation::default(),
        }
    }

    fn client(&mut self, key: ClientKey) -> &mut ReferenceClient {
        let config = self.config.as_ref().expect("judged only when modelled");
        self.clients.entry(key).or_insert_with(|| ReferenceClient {
            breaker: ReferenceBreaker::new(config),
            calls: FxHashMap::default(),
            opened_ms: Vec::new(),
        })
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
                        client.calls.entry(key.clone()).or_default().push_back(call);
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

    /// A restart ends the clients of `actor`: their openings are compared now.
    fn restarted(&mut self, actor: ActorIdx) -> Option<String> {
        let ended = clients_of(
            self.clients.range((actor, None)..).map(|(key, _)| key),
            actor,
        );
        ended.into_iter().find_map(|key| {
            self.clients
                .remove(&key)
                .and_then(|client| compare_opens(key, &client))
        })
    }

    /// The outcome of `client`'s call carrying `key` (a message is re-sent only after its
    /// outcome, so calls of one message complete oldest first).
    fn outcome(&mut self, at_ms: u64, client: ClientKey, key: &MessageKey, ok: bool) {
        let Some(client) = self.clients.get_mut(&client) else {
            return;
        };
        let Some(calls) = client.calls.get_mut(key) else {
            return;
        };
        let call = calls.pop_front();
        if calls.is_empty() {
            client.calls.remove(key);
        }
        if let Some(call) = call {
            client.breaker.complete(at_ms, call, ok);
        }
    }

    pub(super) fn opens_on_threshold(&self) -> InvariantResult {
        if self.config.is_none() {
            return not_applicable(NAME, "the reference breaker models no jitter and no growth");
        }
        let violation = self.violation.0.clone().or_else(|| {
            self.clients
                .iter()
                .find_map(|(key, client)| compare_opens(*key, client))
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
