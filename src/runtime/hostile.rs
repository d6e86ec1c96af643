//! Hostile facts (the `hostile_facts` fault, an extension): what a buggy or compromised entity
//! could put on the wire next to its real SDK facts. Each forged fact is derived from a real one
//! the entity is sending, so it looks plausible, and breaks exactly one rule a receiver must
//! enforce. Pure functions: the world decides when to forge and where the fact goes.
//!
//! Decisions:
//! - Forged facts get ids of the sender in a range no real fact reaches
//!   ([`HOSTILE_SEQ_BASE`] and up), so a receiver that wrongly stores one cannot shadow a
//!   later real fact, except [`HostileKind::DuplicateId`], whose whole point is to reuse the
//!   id of a fact the receiver already stored (a different fact under an old id: the receiver
//!   must keep the original).
//! - [`HostileKind::ForeignTenant`] is only sent to a TenantSystemLedger: the single-mode
//!   SystemLedger takes facts of every tenant, so another tenant's id is not hostile there.

use crate::ledgers::MessageKey;
use crate::model::{Fact, FactId, Limits, Name};
use crate::runtime::spec::ActorIdx;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rustc_hash::FxHashMap;

/// Sequence numbers of forged fact ids start here (real ones count up from 0).
pub const HOSTILE_SEQ_BASE: u64 = 1 << 62;

/// What is wrong with a forged fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HostileKind {
    /// `data` one byte past the receiver's size limit.
    OversizedData,
    /// An empty `tenant_id`.
    MissingTenant,
    /// A subtype the SDK does not have.
    UnknownSubtype,
    /// Another tenant's id (TenantSystemLedgers only).
    ForeignTenant,
    /// The id of a fact the receiver already stored, with other content.
    DuplicateId,
    /// A timestamp an hour past the receiver's clock-skew limit.
    FutureTimestamp,
}

impl HostileKind {
    /// Every kind, in a fixed order (the fault stream picks by index).
    pub const ALL: [HostileKind; 6] = [
        HostileKind::OversizedData,
        HostileKind::MissingTenant,
        HostileKind::UnknownSubtype,
        HostileKind::ForeignTenant,
        HostileKind::DuplicateId,
        HostileKind::FutureTimestamp,
    ];

    /// A short name for traces.
    pub fn name(self) -> &'static str {
        match self {
            HostileKind::OversizedData => "oversized_data",
            HostileKind::MissingTenant => "missing_tenant",
            HostileKind::UnknownSubtype => "unknown_subtype",
            HostileKind::ForeignTenant => "foreign_tenant",
            HostileKind::DuplicateId => "duplicate_id",
            HostileKind::FutureTimestamp => "future_timestamp",
        }
    }
}

/// What the forger knows about where the fact goes.
#[derive(Clone, Debug)]
pub struct Receiver<'a> {
    /// The receiver's validation bounds.
    pub limits: Limits,
    /// The receiver's clock, ms.
    pub now_ms: u64,
    /// Another tenant's id, when the receiver is a TenantSystemLedger.
    pub other_tenant: Option<&'a str>,
    /// The id of a fact of this sender the receiver has stored, if any.
    pub stored_id: Option<&'a FactId>,
}

/// Forges a fact of `kind` from `real`, numbered `number` among the sender's forged facts.
/// `None` when `kind` does not apply here (no other tenant, nothing stored yet).
pub fn forge(kind: HostileKind, real: &Fact, number: u64, receiver: &Receiver) -> Option<Fact> {
    let mut fact = real.clone();
    fact.id = FactId::new(
        real.id.actor.clone(),
        HOSTILE_SEQ_BASE.saturating_add(number),
    );
    match kind {
        HostileKind::OversizedData => {
            let padding = "x".repeat(receiver.limits.max_data_bytes.saturating_add(1));
            let data = fact.data.json_mut();
            if let serde_json::Value::Object(fields) = data {
                fields.insert("padding".to_owned(), serde_json::Value::String(padding));
            } else {
                *data = serde_json::Value::String(padding);
            }
        }
        HostileKind::MissingTenant => fact.tenant_id = Name::default(),
        HostileKind::UnknownSubtype => fact.subtype = Name::from("cache_gossip"),
        HostileKind::ForeignTenant => fact.tenant_id = Name::from(receiver.other_tenant?),
        HostileKind::DuplicateId => {
            fact.id = receiver.stored_id?.clone();
        }
        HostileKind::FutureTimestamp => {
            fact.timestamp_ms = receiver
                .now_ms
                .saturating_add(receiver.limits.max_clock_skew_ms)
                .saturating_add(3_600_000);
        }
    }
    Some(fact)
}

/// The fault's state in the world: its rate, its own random stream (so that turning it on
/// reshuffles no other fault), how many facts were forged, and per entity the id of its latest
/// SDK fact its target acknowledged (for [`HostileKind::DuplicateId`]).
#[derive(Clone, Debug)]
pub struct HostileInjector {
    rate: f64,
    rng: SmallRng,
    forged: u64,
    acknowledged: FxHashMap<ActorIdx, FactId>,
}

impl HostileInjector {
    /// An inactive injector drawing from a stream seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rate: 0.0,
            rng: SmallRng::seed_from_u64(seed),
            forged: 0,
            acknowledged: FxHashMap::default(),
        }
    }

    /// Starts (rate > 0) or ends (0) the fault.
    pub fn set_rate(&mut self, rate: f64) {
        debug_assert!((0.0..=1.0).contains(&rate), "hostile rate {rate}");
        self.rate = rate;
    }

    /// Whether the fault is on.
    pub fn active(&self) -> bool {
        self.rate > 0.0
    }

    /// Remembers that `entity`'s target acknowledged the fact `key` (only while the fault is
    /// on: nothing else needs it).
    pub fn on_acknowledged(&mut self, entity: ActorIdx, key: &MessageKey) {
        if let (true, MessageKey::Fact(id)) = (self.active(), key) {
            self.acknowledged.insert(entity, id.clone());
        }
    }

    /// Decides whether `real`, an SDK fact `entity` is sending, is followed by a forged one,
    /// and forges it.
    pub fn maybe_forge(
        &mut self,
        entity: ActorIdx,
        real: &Fact,
        receiver: &Receiver,
    ) -> Option<(HostileKind, Fact)> {
        if !self.active() || self.rng.gen::<f64>() >= self.rate {
            return None;
        }
        let kind = HostileKind::ALL[self.rng.gen_range(0..HostileKind::ALL.len())];
        let receiver = Receiver {
            stored_id: self.acknowledged.get(&entity),
            ..receiver.clone()
        };
        // A kind that cannot apply here (no other tenant, nothing acknowledged yet) becomes a
        // future timestamp, which always applies.
        let forged = forge(kind, real, self.forged, &receiver)
            .map(|fact| (kind, fact))
            .or_else(|| {
                forge(HostileKind::FutureTimestamp, real, self.forged, &receiver)
                    .map(|fact| (HostileKind::FutureTimestamp, fact))
            });
        self.forged += 1;
        forged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::validate::validate_sdk_fact;
    use crate::model::{CacheStatsData, EntityMeta, FactError, SdkData};

    fn real_fact() -> Fact {
        let meta = EntityMeta {
            entity_id: "account-1".into(),
            entity_type: "account".into(),
            tenant_id: "t0".into(),
        };
        let data = SdkData::CacheStats(CacheStatsData {
            entity_id: meta.entity_id.clone(),
            entity_type: meta.entity_type.clone(),
            period_start_ms: 0,
            period_end_ms: 60_000,
            hits: 8,
            misses: 2,
        });
        Fact::sdk(FactId::new("entity:t0/account-1", 7), &meta, 60_000, &data)
    }

    fn receiver(stored_id: Option<&FactId>) -> Receiver<'_> {
        Receiver {
            limits: Limits::default(),
            now_ms: 60_010,
            other_tenant: Some("t1"),
            stored_id,
        }
    }

    #[test]
    fn every_kind_but_the_duplicates_fails_validation_and_foreign_is_valid_elsewhere() {
        let real = real_fact();
        let stored = FactId::new("entity:t0/account-1", 3);
        let receiver = receiver(Some(&stored));
        assert!(validate_sdk_fact(&real, receiver.now_ms, &receiver.limits).is_ok());
        for kind in HostileKind::ALL {
            let forged = forge(kind, &real, 0, &receiver).expect("applies");
            assert_ne!(forged, real, "{kind:?}");
            let verdict = validate_sdk_fact(&forged, receiver.now_ms, &receiver.limits);
            match kind {
                // Valid on their own: the tenant ledger's isolation and every receiver's
                // de-duplication must stop them.
                HostileKind::ForeignTenant => assert!(verdict.is_ok()),
                HostileKind::DuplicateId => {
                    assert!(verdict.is_ok());
                    assert_eq!(forged.id, stored);
                }
                HostileKind::OversizedData => {
                    assert!(
                        matches!(verdict, Err(FactError::Oversized { .. })),
                        "{verdict:?}"
                    )
                }
                _ => assert!(verdict.is_err(), "{kind:?} passed validation"),
            }
        }
    }

    #[test]
    fn forged_ids_stay_out_of_the_real_range_and_kinds_that_cannot_apply_say_so() {
        let real = real_fact();
        let receiver = Receiver {
            other_tenant: None,
            stored_id: None,
            ..receiver(None)
        };
        let forged = forge(HostileKind::MissingTenant, &real, 5, &receiver).expect("applies");
        assert_eq!(
            forged.id,
            FactId::new("entity:t0/account-1", HOSTILE_SEQ_BASE + 5)
        );
        assert_eq!(forge(HostileKind::ForeignTenant, &real, 0, &receiver), None);
        assert_eq!(forge(HostileKind::DuplicateId, &real, 0, &receiver), None);
    }
}
