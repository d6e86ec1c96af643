//! The read side in the world: the reader's due reads as calls, a ledger answering one from its
//! storage as it is at that moment (observed exactly as answered), and the reader counting what
//! it got.

use super::actor::{ActorKind, ReaderActor};
use super::World;
use crate::ledgers::{DeliveryOutcome, SystemLedger, SystemStorage};
use crate::runtime::call::{Body, Call};
use crate::runtime::observe::Observation;
use crate::runtime::reader::{Answer, Query};
use crate::runtime::spec::ActorIdx;

impl World {
    /// The reader's timer fired at `now_ms`: the reads due, as calls.
    pub(super) fn reader_tick(&mut self, idx: ActorIdx, now_ms: u64) -> Vec<Call> {
        let actor = &mut self.actors[idx];
        let ActorKind::Reader(ReaderActor { reader, .. }) = &mut actor.kind else {
            unreachable!("{actor} is not the reader");
        };
        let reads = reader.due_reads(now_ms);
        let incarnation = actor.incarnation;
        reads
            .into_iter()
            .map(|read| Call {
                caller: idx,
                incarnation,
                target: Some(read.target),
                target_id: self.actors[read.target].id.clone(),
                call_id: read.call_id,
                body: Body::Read(read.query),
                key: None,
                timeout_ms: self.settings.rpc_timeout_ms,
                hostile: None,
            })
            .collect()
    }

    /// Ledger `idx` answers `query` at `now_ms` from its storage.
    pub(super) fn receive_read(
        &mut self,
        idx: ActorIdx,
        query: &Query,
        now_ms: u64,
    ) -> DeliveryOutcome {
        let actor = &self.actors[idx];
        let storage = match &actor.kind {
            ActorKind::System(system) => &system.storage,
            ActorKind::Tenant(tenant) => &tenant.storage.facts,
            kind => unreachable!("{} ({}) was asked a read", actor.id, kind.name()),
        };
        let answer = answer(storage, query);
        self.observer.note(|| Observation::Read {
            at_ms: now_ms,
            receiver: idx,
            query,
            answer: &answer,
        });
        Ok(())
    }

    /// The reader got the outcome of a read.
    pub(super) fn read_result(&mut self, outcome: DeliveryOutcome) {
        let counters = &mut self.recorder.counters;
        if outcome.is_ok() {
            counters.reads_served += 1;
        } else {
            counters.reads_failed += 1;
        }
    }
}

/// What `getSdkFacts`, `getCacheStats` or `getStats` answers from `storage`.
fn answer(storage: &SystemStorage, query: &Query) -> Answer {
    match query {
        Query::SdkFacts(entity_id) => Answer::SdkFacts(
            SystemLedger::get_sdk_facts(storage, entity_id)
                .into_iter()
                .map(|fact| (fact.id.clone(), fact.tenant_id.clone()))
                .collect(),
        ),
        Query::CacheStats(entity_id) => {
            Answer::CacheStats(SystemLedger::get_cache_stats(storage, entity_id))
        }
        Query::Stats => Answer::Stats(SystemLedger::get_stats(storage)),
    }
}
