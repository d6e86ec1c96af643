//! The `hostile_facts` fault in the world: a forged fact after an entity's real one, addressed
//! like it, and how receivers answered forged facts.

use super::actor::ActorKind;
use super::World;
use crate::ledgers::{DeliveryOutcome, FailureKind, Message};
use crate::model::ActorId;
use crate::runtime::call::{Body, Call, FORGED_CALL_ID};
use crate::runtime::hostile::Receiver;
use crate::runtime::observe::Observation;
use crate::runtime::recorder::Counters;
use crate::runtime::spec::ActorIdx;

impl World {
    /// Maybe a forged fact to go with `message` (entity `idx`'s send) to `destination`.
    pub(super) fn forged_call(
        &mut self,
        idx: ActorIdx,
        destination: Option<ActorIdx>,
        target_id: &ActorId,
        message: &Message,
        now_ms: u64,
    ) -> Option<Call> {
        let (Message::SdkFact(real), Some(receiver_idx)) = (message, destination) else {
            return None;
        };
        let (limits, own_tenant) = match &self.actors[receiver_idx].kind {
            ActorKind::System(system) => (system.limits, None),
            ActorKind::Tenant(tenant) => {
                (tenant.config.limits, Some(tenant.config.tenant_id.as_str()))
            }
            _ => return None,
        };
        // Another real tenant's id (the first other one, in actor order); a made-up one when
        // there is a single tenant.
        let other_tenant = own_tenant.map(|own| {
            self.actors
                .iter()
                .find_map(|actor| match &actor.kind {
                    ActorKind::Tenant(tenant) if tenant.config.tenant_id != own => {
                        Some(tenant.config.tenant_id.clone())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| format!("{own}-intruder"))
        });
        let receiver = Receiver {
            limits,
            now_ms,
            other_tenant: other_tenant.as_deref(),
            stored_id: None,
        };
        let (kind, fact) = self.faults.hostile.maybe_forge(idx, real, &receiver)?;
        self.recorder.counters.hostile_sent += 1;
        tracing::debug!(target: "z0sim::trace", now_ms, actor = %self.actors[idx].id, kind = kind.name(), fact = %fact.id, "hostile fact");
        self.observer.note(|| Observation::HostileSent {
            at_ms: now_ms,
            sender: idx,
            receiver: receiver_idx,
            kind,
            fact: &fact,
        });
        Some(Call {
            caller: idx,
            incarnation: self.actors[idx].incarnation,
            target: Some(receiver_idx),
            target_id: target_id.clone(),
            call_id: FORGED_CALL_ID,
            body: Body::Deliver(Message::SdkFact(fact)),
            key: None,
            timeout_ms: self.settings.rpc_timeout_ms,
            hostile: Some(kind),
        })
    }
}

/// Counts how a receiver answered a forged fact.
pub(super) fn count_forged_answer(counters: &mut Counters, outcome: DeliveryOutcome) {
    match outcome {
        Err(FailureKind::Error) => counters.hostile_rejected += 1,
        Ok(()) => counters.hostile_accepted += 1,
        Err(_) => {}
    }
}
