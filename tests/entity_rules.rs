//! One test per EntityLedger / CachedStateManager rule of docs/model.md and the z0 page.

mod support;

use support::{entity_config, sends, sent_subtypes, system, Entity};
use z0sim::ledgers::{ChildFactOutcome, EntityStorage, Message, SystemLedger, SystemStorage};
use z0sim::model::validate::validate_sdk_fact;
use z0sim::model::{ActorId, FactError, FactId, Limits, SdkData};

fn sdk_data(effects: &[z0sim::ledgers::Effect]) -> Vec<SdkData> {
    sends(effects)
        .iter()
        .map(|sent| {
            validate_sdk_fact(sent.sdk_fact(), 1 << 40, &Limits::default())
                .expect("the SDK emits valid facts")
        })
        .collect()
}

#[test]
fn a_start_that_creates_tables_emits_schema_init_once() {
    let (entity, effects) = Entity::start(entity_config("a"), 0);
    assert_eq!(sent_subtypes(&effects), vec!["schema_init"]);
    match &sdk_data(&effects)[0] {
        SdkData::SchemaInit(init) => {
            assert_eq!(init.tables_created, vec!["facts", "entities", "configs"]);
            assert_eq!(init.entity_id, "a");
        }
        other => panic!("expected schema_init, got {other:?}"),
    }
    let (_, effects) = entity.restart(10);
    assert!(
        sent_subtypes(&effects).is_empty(),
        "tables exist and no facts: nothing to report"
    );
}

#[test]
fn a_start_that_finds_stored_facts_replays_them_and_emits_hydration_done() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    for at_ms in 1..=25 {
        entity.append(at_ms);
    }
    let (_, effects) = entity.restart(100);
    assert_eq!(sent_subtypes(&effects), vec!["hydration_done"]);
    match &sdk_data(&effects)[0] {
        SdkData::HydrationDone(done) => {
            assert_eq!(done.facts_replayed, 25);
            // The replay's modelled cost: HYDRATION_FACTS_PER_MS facts a millisecond.
            assert_eq!(
                done.duration_ms,
                25 / z0sim::ledgers::entity::HYDRATION_FACTS_PER_MS
            );
        }
        other => panic!("expected hydration_done, got {other:?}"),
    }
}

#[test]
fn without_an_observability_stub_nothing_is_emitted_and_the_domain_behaves_the_same() {
    let mut silent_config = entity_config("a");
    silent_config.observability_target = None;
    let (mut silent, start_effects) = Entity::start(silent_config, 0);
    let (mut observed, _) = Entity::start(entity_config("a"), 0);
    let mut silent_effects = start_effects;
    for at_ms in [0, 30_000, 60_000, 120_000] {
        silent_effects.extend(silent.cache_get(at_ms, true));
        silent_effects.extend(silent.append(at_ms));
        observed.cache_get(at_ms, true);
        observed.append(at_ms);
    }
    silent_effects.extend(silent.flush(200_000));
    assert!(silent_effects.is_empty(), "{silent_effects:?}");
    let domain = |storage: &EntityStorage| -> Vec<(String, u64)> {
        storage
            .facts
            .iter()
            .map(|fact| (fact.subtype.to_string(), fact.timestamp_ms))
            .collect()
    };
    assert_eq!(domain(&silent.storage), domain(&observed.storage));
}

#[test]
fn cache_stats_are_emitted_by_the_operation_that_closes_the_period() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    assert!(entity.cache_get(10, true).is_empty());
    assert!(entity.cache_get(59_999, false).is_empty());
    let effects = entity.cache_get(60_000, true);
    match sdk_data(&effects).as_slice() {
        [SdkData::CacheStats(stats)] => {
            assert_eq!((stats.period_start_ms, stats.period_end_ms), (0, 60_000));
            assert_eq!((stats.hits, stats.misses), (1, 1));
        }
        other => panic!("expected one cache_stats, got {other:?}"),
    }
    assert_eq!(
        entity.ledger.cache().open_period().map(|open| open.hits),
        Some(1)
    );
}

#[test]
fn appends_are_aggregated_into_one_fact_appended_per_period() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    let mut effects = Vec::new();
    for at_ms in (0..60_000).step_by(1_000) {
        effects.extend(entity.append(at_ms));
    }
    assert!(effects.is_empty(), "no SDK fact per domain fact");
    let effects = entity.append(60_000);
    match sdk_data(&effects).as_slice() {
        [SdkData::FactAppended(appended)] => {
            assert_eq!(appended.count, 60);
            assert_eq!(
                appended.last_seq,
                entity.storage.facts.get(59).expect("60 facts").id.seq
            );
        }
        other => panic!("expected one fact_appended, got {other:?}"),
    }
    // What the runtime and the oracle learn of it: the period it closes and what it carries.
    let stats = effects.iter().find_map(|effect| match effect {
        z0sim::ledgers::Effect::Emitted { stats, .. } => *stats,
        _ => None,
    });
    let stats = stats.expect("the emission carries its stats summary");
    assert_eq!(stats.subtype, z0sim::model::SdkSubtype::FactAppended);
    assert_eq!((stats.period_start_ms, stats.period_end_ms), (0, 60_000));
    assert_eq!(stats.observations, 60);
}

#[test]
fn flush_stats_closes_both_open_periods_at_once() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    entity.cache_get(1, true);
    entity.append(2);
    let effects = entity.flush(3);
    assert_eq!(
        sent_subtypes(&effects),
        vec!["cache_stats", "fact_appended"]
    );
    assert!(
        entity.flush(4).is_empty(),
        "empty periods are never emitted"
    );
}

#[test]
fn disabling_stats_tracking_flushes_first_and_stops_counting() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    entity.cache_get(1, false);
    let mut effects = Vec::new();
    entity
        .ledger
        .disable_stats_tracking(2, &mut entity.storage, &mut effects);
    assert_eq!(sent_subtypes(&effects), vec!["cache_stats"]);
    assert!(entity.cache_get(100_000, true).is_empty());
    assert!(entity.flush(200_000).is_empty());
}

#[test]
fn a_restart_loses_the_open_period_visibly() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    entity.cache_get(1, true);
    entity.cache_get(2, false);
    entity.append(3);
    let open = entity.ledger.cache().open_period().expect("tracking");
    assert_eq!(
        (open.hits, open.misses),
        (1, 1),
        "what a restart now would lose"
    );
    assert_eq!(entity.ledger.open_appended_count(), 1);
    let (mut entity, _) = entity.restart(10);
    let open = entity.ledger.cache().open_period().expect("tracking again");
    assert_eq!((open.period_start_ms, open.hits, open.misses), (10, 0, 0));
    assert_eq!(entity.ledger.open_appended_count(), 0);
    assert_eq!(sent_subtypes(&entity.flush(11)), Vec::<String>::new());
}

#[test]
fn fact_ids_stay_unique_across_restarts() {
    let (mut entity, mut effects) = Entity::start(entity_config("a"), 0);
    entity.append(1);
    let (mut entity, more) = entity.restart(2);
    effects.extend(more);
    entity.append(3);
    entity.cache_get(4, true);
    effects.extend(entity.flush(5));
    let mut ids: Vec<FactId> = entity
        .storage
        .facts
        .iter()
        .map(|fact| fact.id.clone())
        .collect();
    ids.extend(
        sends(&effects)
            .iter()
            .map(|sent| sent.sdk_fact().id.clone()),
    );
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "every domain and SDK fact id is distinct");
}

#[test]
fn an_unsampled_entity_emits_lifecycle_facts_but_no_periodic_stats() {
    let mut config = entity_config("a");
    config.stats_sampled = false;
    let (mut entity, effects) = Entity::start(config, 0);
    assert_eq!(sent_subtypes(&effects), vec!["schema_init"]);
    let mut effects = Vec::new();
    for at_ms in [0, 60_000, 120_000] {
        effects.extend(entity.cache_get(at_ms, true));
        effects.extend(entity.append(at_ms));
    }
    effects.extend(entity.flush(130_000));
    assert!(sent_subtypes(&effects).is_empty());
}

#[test]
fn a_malformed_append_is_rejected_before_anything_is_stored() {
    let (mut entity, _) = Entity::start(entity_config("a"), 0);
    let huge = serde_json::json!({ "blob": "x".repeat(10_000) });
    let mut effects = Vec::new();
    let result =
        entity
            .ledger
            .append_fact(1, &mut entity.storage, "account", "big", huge, &mut effects);
    assert!(matches!(result, Err(FactError::Oversized { .. })));
    assert!(entity.storage.facts.is_empty());
    assert!(effects.is_empty());
}

fn tree() -> (Entity, Entity) {
    let mut parent_config = entity_config("project");
    parent_config.meta.entity_type = "project".into();
    let mut child_config = entity_config("asset");
    child_config.meta.entity_type = "asset".into();
    child_config.parent = Some(parent_config.actor.clone());
    let (parent, _) = Entity::start(parent_config, 0);
    let (child, _) = Entity::start(child_config, 0);
    (parent, child)
}

fn child_fact(effects: &[z0sim::ledgers::Effect]) -> (ActorId, z0sim::model::Fact) {
    sends(effects)
        .into_iter()
        .find_map(|sent| match sent.message {
            Message::ChildFact { child, fact } => Some((child, fact)),
            _ => None,
        })
        .expect("the append bubbles to the parent")
}

#[test]
fn an_appended_fact_bubbles_to_the_parent_and_is_rolled_up_once() {
    let (mut parent, mut child) = tree();
    let (child_actor, fact) = child_fact(&child.append(5));
    let mut effects = Vec::new();
    let first = parent.ledger.on_child_fact(
        6,
        &mut parent.storage,
        &child_actor,
        fact.clone(),
        &mut effects,
    );
    let Ok(ChildFactOutcome::RolledUp(rollup_id)) = first else {
        panic!("expected a rollup, got {first:?}");
    };
    let rollup = parent.storage.facts.last().expect("stored");
    assert_eq!(rollup.id, rollup_id);
    assert_eq!(rollup.subtype, "child_rollup");
    assert_eq!(rollup.data.json()["child_fact_id"]["seq"], fact.id.seq);
    let again =
        parent
            .ledger
            .on_child_fact(7, &mut parent.storage, &child_actor, fact, &mut effects);
    assert_eq!(again, Ok(ChildFactOutcome::Duplicate));
    assert_eq!(parent.storage.facts.len(), 1);
}

#[test]
fn a_restarted_parent_still_recognises_rolled_up_child_facts() {
    let (mut parent, mut child) = tree();
    let (child_actor, fact) = child_fact(&child.append(5));
    let mut effects = Vec::new();
    parent
        .ledger
        .on_child_fact(
            6,
            &mut parent.storage,
            &child_actor,
            fact.clone(),
            &mut effects,
        )
        .expect("rolled up");
    let (mut parent, _) = parent.restart(10);
    let again =
        parent
            .ledger
            .on_child_fact(11, &mut parent.storage, &child_actor, fact, &mut effects);
    assert_eq!(
        again,
        Ok(ChildFactOutcome::Duplicate),
        "hydration rebuilt the rollup index"
    );
}

#[test]
fn rollups_bubble_further_up_the_tree() {
    let (mut parent, mut child) = tree();
    let mut parent_config = parent.config.clone();
    parent_config.parent = Some(ActorId::new("entity:acme/org"));
    parent = Entity::start_on(parent_config, parent.storage, 1).0;
    let (child_actor, fact) = child_fact(&child.append(5));
    let mut effects = Vec::new();
    parent
        .ledger
        .on_child_fact(6, &mut parent.storage, &child_actor, fact, &mut effects)
        .expect("rolled up");
    let (from, rollup) = child_fact(&effects);
    assert_eq!(from, parent.config.actor);
    assert_eq!(rollup.subtype, "child_rollup");
}

#[test]
fn a_child_fact_of_another_tenant_is_rejected() {
    let (mut parent, mut child) = tree();
    let (child_actor, mut fact) = child_fact(&child.append(5));
    fact.tenant_id = "globex".into();
    let mut effects = Vec::new();
    let result =
        parent
            .ledger
            .on_child_fact(6, &mut parent.storage, &child_actor, fact, &mut effects);
    assert!(matches!(result, Err(FactError::ForeignTenant { .. })));
    assert!(parent.storage.facts.is_empty());
}

#[test]
fn the_system_ledger_answers_the_z0_queries_for_what_an_entity_emitted() {
    let (mut entity, mut effects) = Entity::start(entity_config("a"), 0);
    entity.cache_get(1, true);
    effects.extend(entity.cache_get(60_001, false));
    entity.append(60_002);
    effects.extend(entity.flush(60_003));
    let mut ledger = SystemLedger::default();
    let mut storage = SystemStorage::default();
    for sent in sends(&effects) {
        assert_eq!(sent.target, system());
        ledger
            .on_sdk_fact(60_003, &mut storage, sent.sdk_fact().clone())
            .expect("valid");
    }
    let stored = SystemLedger::get_sdk_facts(&storage, "a");
    let subtypes: Vec<&str> = stored.iter().map(|fact| fact.subtype.as_str()).collect();
    assert_eq!(
        subtypes,
        vec!["schema_init", "cache_stats", "cache_stats", "fact_appended"]
    );
    let hits: Vec<(u64, u64)> = SystemLedger::get_cache_stats(&storage, "a")
        .iter()
        .map(|stats| (stats.hits, stats.misses))
        .collect();
    assert_eq!(hits, vec![(1, 0), (0, 1)]);
    let stats = SystemLedger::get_stats(&storage);
    assert_eq!(
        (
            stats.tenant_count,
            stats.entity_count,
            stats.sdk_facts_count
        ),
        (1, 1, 4)
    );
}
