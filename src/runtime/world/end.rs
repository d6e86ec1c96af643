//! The state of the world at the end of a run, as data: what is left in flight or buffered,
//! what each actor stores. No verdicts: the oracle judges it.

use super::actor::{Actor, ActorKind, EntityActor};
use super::entity::observations_in;
use super::GroundTruth;
use crate::ledgers::entity::{rollup_child_fact_id, ROLLUP_SUBTYPE};
use crate::ledgers::{BreakerState, EntityLedger, MessageKey, PlatformTotals, SystemStorage};
use crate::model::FactId;
use crate::runtime::queue::{Queue, Removal};
use crate::runtime::recorder::Recorder;
use crate::runtime::spec::ActorIdx;
use std::collections::BTreeMap;

/// A tenant payload's identity: its tenant, flush id and period start.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PayloadRef {
    /// The tenant id.
    pub tenant_id: String,
    /// The flush id.
    pub flush_id: String,
    /// The period it aggregates, start ms.
    pub period_start_ms: u64,
}

impl PayloadRef {
    /// The identity of `message`, if it is a tenant payload.
    pub fn of(message: &crate::ledgers::Message) -> Option<Self> {
        let crate::ledgers::Message::TenantStats(payload) = message else {
            return None;
        };
        Some(Self {
            tenant_id: payload.tenant_id.clone(),
            flush_id: payload.flush_id.clone(),
            period_start_ms: payload.period_start_ms,
        })
    }
}

/// A tenant ledger's work left at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantEnd {
    /// Payloads not acknowledged by the sink yet.
    pub pending: Vec<PayloadRef>,
    /// The open aggregate's period start, if one is open.
    pub open_period_start_ms: Option<u64>,
    /// The alarm, if set.
    pub alarm_at_ms: Option<u64>,
}

/// What a run leaves behind besides the recorder.
#[derive(Clone, Debug, Default)]
pub struct EndOfRun {
    /// Clients whose breaker is not CLOSED at the end.
    pub breakers_not_closed: u64,
    /// Observations still buffered in entities at the end (open periods, unsent facts).
    pub buffered_at_end: u64,
    /// Tenant payloads still pending at the end.
    pub tenant_payloads_pending: u64,
    /// Messages in the dead-letter queue.
    pub dead_letters: u64,
    /// SDK facts stored per system ledger.
    pub system_facts: BTreeMap<String, u64>,
    /// SDK facts still held by entities' observability clients (fallback off): the entity,
    /// the fact, and the observations it carries. Some never left the client (emitted while
    /// the breaker was OPEN, or queued behind the one in flight), so nothing else names their
    /// entity.
    pub buffered_keys: Vec<(ActorIdx, MessageKey, u64)>,
    /// Per tracked entity (stats on): observations the workload generated and it counted.
    pub generated: BTreeMap<ActorIdx, u64>,
    /// Per tracked entity: observations in its open stats periods at the end.
    pub open_at_end: BTreeMap<ActorIdx, u64>,
    /// Per entity: appends (and rollups) its ledger acknowledged (ground truth).
    pub acknowledged_appends: BTreeMap<ActorIdx, u64>,
    /// Per entity: domain facts in its durable storage at the end.
    pub stored_domain_facts: BTreeMap<ActorIdx, u64>,
    /// Per parent entity: the child fact ids its stored rollups record (with repeats).
    pub rollups_stored: BTreeMap<ActorIdx, Vec<FactId>>,
    /// The platform ledger's stored totals, per tenant and overall (multi_tenant).
    pub platform: Option<(BTreeMap<String, PlatformTotals>, PlatformTotals)>,
    /// Per receiver of SDK facts (the SystemLedger, the tenant ledgers): the facts its
    /// storage holds.
    pub stored_facts: BTreeMap<ActorIdx, SystemStorage>,
    /// Per tenant ledger: its work left.
    pub tenants: BTreeMap<ActorIdx, TenantEnd>,
    /// Tenant payloads waiting in the queue (buffered or in the batch being delivered).
    pub queued_payloads: Vec<PayloadRef>,
    /// Tenant payloads in the dead-letter queue.
    pub dead_lettered_payloads: Vec<PayloadRef>,
    /// Tenant payloads the queue removed unacknowledged, and why.
    pub removed_payloads: Vec<(PayloadRef, Removal)>,
    /// The queue's `max_retries` (to name a deletion), if there is a queue.
    pub queue_max_retries: Option<u32>,
    /// Observations (hits, misses, appends) in the SDK facts the observability receivers (the
    /// SystemLedger, the tenant ledgers) stored.
    pub observations_stored: u64,
}

/// Collects the end state of `actors`, moving their storage out (the run is over); counts the
/// SDK facts the running entities emitted.
pub(super) fn end_of_run(
    actors: &mut [Actor],
    truth: &GroundTruth,
    recorder: &mut Recorder,
) -> EndOfRun {
    let mut end = EndOfRun {
        generated: truth.generated.clone(),
        acknowledged_appends: truth.acknowledged_appends.clone(),
        ..EndOfRun::default()
    };
    for (idx, actor) in actors.iter_mut().enumerate() {
        match &mut actor.kind {
            ActorKind::Entity(entity) => entity_end(idx, entity, &mut end, recorder),
            ActorKind::System(system) => {
                end.system_facts
                    .insert(actor.id.to_string(), system.storage.len() as u64);
                let storage = std::mem::take(&mut system.storage);
                end.observations_stored += storage.observations();
                end.stored_facts.insert(idx, storage);
            }
            ActorKind::Tenant(tenant) => {
                let storage = &tenant.storage;
                let work = TenantEnd {
                    pending: storage
                        .pending
                        .iter()
                        .map(|payload| PayloadRef {
                            tenant_id: payload.tenant_id.clone(),
                            flush_id: payload.flush_id.clone(),
                            period_start_ms: payload.period_start_ms,
                        })
                        .collect(),
                    open_period_start_ms: storage.open.as_ref().map(|open| open.period_start_ms),
                    // A handler run in progress (awaiting its flushes) stands for the alarm.
                    alarm_at_ms: actor.alarm.wake_ms(),
                };
                end.tenants.insert(idx, work);
                if let Some(ledger) = &tenant.ledger {
                    end.tenant_payloads_pending += tenant.storage.pending.len() as u64;
                    if ledger.client().breaker().state() != BreakerState::Closed {
                        end.breakers_not_closed += 1;
                    }
                }
                let facts = std::mem::take(&mut tenant.storage.facts);
                end.observations_stored += facts.observations();
                end.stored_facts.insert(idx, facts);
            }
            ActorKind::Platform(platform) => {
                let storage = &mut platform.storage;
                end.platform = Some((std::mem::take(&mut storage.per_tenant), storage.overall));
            }
            ActorKind::Reader(_) | ActorKind::Consumer(_) => {}
            ActorKind::Queue(queue) => queue_end(&queue.queue, &mut end, recorder),
        }
    }
    end
}

/// The queue's part of the end state: what is on its way, dead-lettered or removed.
fn queue_end(queue: &Queue, end: &mut EndOfRun, recorder: &mut Recorder) {
    end.queue_max_retries = Some(queue.config().max_retries);
    end.removed_payloads = queue
        .removed()
        .iter()
        .filter_map(|(message, why)| Some((PayloadRef::of(message)?, *why)))
        .collect();
    recorder.counters.queue_messages_expired = queue
        .removed()
        .iter()
        .filter(|(_, why)| *why == Removal::Expired)
        .count() as u64;
    end.dead_letters += queue.dead_letter_count() as u64;
    let dead: Vec<PayloadRef> = queue.dead_letters().filter_map(PayloadRef::of).collect();
    end.queued_payloads = queue.messages().filter_map(PayloadRef::of).collect();
    if queue.config().dead_letter_replay {
        // Its consumer delivers them again: on their way.
        end.queued_payloads.extend(dead);
    } else {
        end.dead_lettered_payloads = dead;
    }
}

/// An entity's part of the end state.
fn entity_end(idx: ActorIdx, entity: &EntityActor, end: &mut EndOfRun, recorder: &mut Recorder) {
    if let Some(ledger) = &entity.ledger {
        running_entity_end(idx, ledger, end, recorder);
    }
    end.stored_domain_facts
        .insert(idx, entity.storage.facts.len() as u64);
    let rollups: Vec<FactId> = entity
        .storage
        .facts
        .with_subtype(ROLLUP_SUBTYPE)
        .filter_map(|fact| rollup_child_fact_id(&fact))
        .collect();
    if !rollups.is_empty() {
        end.rollups_stored.insert(idx, rollups);
    }
}

/// What a running entity still holds at the end, and its breakers.
fn running_entity_end(
    idx: ActorIdx,
    ledger: &EntityLedger,
    end: &mut EndOfRun,
    recorder: &mut Recorder,
) {
    let open = ledger
        .cache()
        .open_period()
        .map_or(0, |open| open.hits + open.misses)
        + ledger.open_appended_count();
    let client = ledger.observability_client();
    let backlog: Vec<(ActorIdx, MessageKey, u64)> = client.map_or(Vec::new(), |client| {
        client
            .backlog()
            .map(|message| (idx, message.key(), observations_in(message)))
            .collect()
    });
    end.buffered_at_end += open + backlog.iter().map(|(_, _, count)| count).sum::<u64>();
    end.buffered_keys.extend(backlog);
    if ledger.stats_due_at_ms().is_some() {
        end.open_at_end.insert(idx, open);
    }
    recorder.counters.sdk_facts_emitted += client.map_or(0, |client| client.counters().emitted);
    let clients = [ledger.observability_client(), ledger.parent_client()];
    for client in clients.into_iter().flatten() {
        if client.breaker().state() != BreakerState::Closed {
            end.breakers_not_closed += 1;
        }
    }
}
