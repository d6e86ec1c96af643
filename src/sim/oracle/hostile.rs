//! `hostile_facts_rejected` (an extension, the `hostile_facts` fault): no receiver stores a
//! forged fact. Forged facts are malformed, claim another tenant, or reuse the id of a fact the
//! receiver already stored with other content; any stored fact equal to one forged before it
//! is a violation. (That the rest of the run goes on, and nothing valid is lost, is what the
//! other invariants check on the same run.)

use super::{not_applicable, verdict, FirstViolation};
use crate::model::{Fact, FactId};
use crate::runtime::observe::Observation;
use crate::sim::report::InvariantResult;
use std::collections::BTreeMap;

const NAME: &str = "hostile_facts_rejected";

/// The forged facts sent so far, by id.
#[derive(Default)]
pub(super) struct HostileChecker {
    forged: BTreeMap<FactId, Vec<Fact>>,
    violation: FirstViolation,
}

impl HostileChecker {
    pub(super) fn observe(&mut self, observation: &Observation<'_>) {
        if self.violation.found() {
            return;
        }
        match *observation {
            Observation::HostileSent { fact, .. } => {
                self.forged
                    .entry(fact.id.clone())
                    .or_default()
                    .push(fact.clone());
            }
            Observation::Stored {
                at_ms,
                receiver,
                fact,
            } => {
                let forged = self
                    .forged
                    .get(&fact.id)
                    .is_some_and(|forged| forged.contains(fact));
                self.violation.note(forged.then(|| {
                    format!(
                        "at {at_ms} ms receiver #{receiver} stored the forged fact {} (tenant {:?}, subtype {:?}, {} bytes of data, timestamp {} ms)",
                        fact.id,
                        fact.tenant_id,
                        fact.subtype,
                        fact.data.to_string().len(),
                        fact.timestamp_ms
                    )
                }));
            }
            _ => {}
        }
    }

    pub(super) fn rejected(&self) -> InvariantResult {
        if !self.violation.found() && self.forged.is_empty() {
            return not_applicable(NAME, "no forged facts were sent");
        }
        verdict(NAME, self.violation.0.clone())
    }
}
