//! One test per delivery rule of docs/model.md: ParentDOClient, circuit breaker, BootstrapConfig.

mod support;

use support::{capture_warnings, entity_config, sends, system, Entity};
use z0sim::ledgers::{
    BreakerState, DeliveryMode, DropReason, Effect, EmitError, FailureKind, Message, MessageKey,
    ParentClient, SystemLedger, SystemStorage,
};
use z0sim::model::{ActorId, BootstrapConfig, BreakerConfig, EntityMeta, Fact, FactId};

const FIRE_AND_FORGET: DeliveryMode = DeliveryMode::FireAndForget {
    warn_on_fallback: true,
};

fn client(mode: DeliveryMode, failure_threshold: u32) -> ParentClient {
    let breaker = BreakerConfig {
        failure_threshold,
        reset_timeout_ms: 30_000,
        ..BreakerConfig::default()
    };
    ParentClient::new(system(), mode, breaker, 3)
}

fn fact(seq: u64) -> Message {
    let meta = EntityMeta {
        entity_id: "a".into(),
        entity_type: "account".into(),
        tenant_id: "acme".into(),
    };
    Message::SdkFact(Fact::domain(
        FactId::new("entity:acme/a", seq),
        &meta,
        0,
        "account",
        "x",
        serde_json::Value::Null,
    ))
}

fn key(seq: u64) -> MessageKey {
    MessageKey::Fact(FactId::new("entity:acme/a", seq))
}

/// Emits one message and fails its delivery with `kind`; returns all effects.
fn emit_and_fail(
    client: &mut ParentClient,
    now_ms: u64,
    seq: u64,
    kind: FailureKind,
) -> Vec<Effect> {
    let mut effects = Vec::new();
    client.emit(now_ms, fact(seq), &mut effects);
    for sent in sends(&effects) {
        client.on_result(now_ms, sent.call_id, Err(kind), &mut effects);
    }
    effects
}

fn dropped(effects: &[Effect]) -> Vec<DropReason> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Dropped { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect()
}

fn settled(effects: &[Effect]) -> Vec<(MessageKey, Result<(), EmitError>)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Settled { key, result, .. } => Some((key.clone(), *result)),
            _ => None,
        })
        .collect()
}

#[test]
fn errors_overloads_and_timeouts_all_count_toward_the_threshold() {
    let mut client = client(FIRE_AND_FORGET, 3);
    emit_and_fail(&mut client, 0, 0, FailureKind::Error);
    emit_and_fail(&mut client, 1, 1, FailureKind::Overloaded);
    assert_eq!(client.breaker().state(), BreakerState::Closed);
    let effects = emit_and_fail(&mut client, 2, 2, FailureKind::Timeout);
    assert_eq!(client.breaker().state(), BreakerState::Open);
    assert!(effects.iter().any(|effect| matches!(
        effect,
        Effect::Breaker { transition, .. } if transition.to == BreakerState::Open && transition.at_ms == 2
    )));
}

#[test]
fn no_delivery_attempt_leaves_an_open_client_and_each_rejection_is_counted() {
    let mut client = client(FIRE_AND_FORGET, 1);
    emit_and_fail(&mut client, 0, 0, FailureKind::Error);
    let mut effects = Vec::new();
    for seq in 1..=4 {
        client.emit(1_000 * seq, fact(seq), &mut effects);
    }
    assert!(sends(&effects).is_empty());
    assert_eq!(dropped(&effects), vec![DropReason::BreakerOpen; 4]);
    assert_eq!(client.counters().dropped_breaker_open, 4);
    assert_eq!(client.counters().dropped_delivery_failed, 1);
}

#[test]
fn an_open_client_probes_on_the_first_emission_at_the_reset_timeout_and_closes_on_success() {
    let mut client = client(FIRE_AND_FORGET, 1);
    emit_and_fail(&mut client, 0, 0, FailureKind::Error);
    let mut effects = Vec::new();
    client.emit(29_999, fact(1), &mut effects);
    assert!(
        sends(&effects).is_empty(),
        "still open one ms before the timeout"
    );
    client.emit(30_000, fact(2), &mut effects);
    client.emit(30_000, fact(3), &mut effects);
    let probes = sends(&effects);
    assert_eq!(
        probes.len(),
        1,
        "half-open admits one probe; the next emission is rejected"
    );
    assert_eq!(client.breaker().state(), BreakerState::HalfOpen);
    client.on_result(30_010, probes[0].call_id, Ok(()), &mut effects);
    assert_eq!(client.breaker().state(), BreakerState::Closed);
}

#[test]
fn a_failed_probe_reopens_the_client_with_a_fresh_timeout() {
    let mut client = client(FIRE_AND_FORGET, 1);
    emit_and_fail(&mut client, 0, 0, FailureKind::Error);
    emit_and_fail(&mut client, 30_000, 1, FailureKind::Timeout);
    assert_eq!(client.breaker().state(), BreakerState::Open);
    assert_eq!(client.breaker().opened_at_ms(), 30_000);
    let mut effects = Vec::new();
    client.emit(59_999, fact(2), &mut effects);
    assert!(sends(&effects).is_empty());
}

#[test]
fn results_of_calls_in_flight_when_the_client_opened_never_transition_it() {
    let mut client = client(FIRE_AND_FORGET, 1);
    let mut effects = Vec::new();
    client.emit(0, fact(0), &mut effects);
    client.emit(0, fact(1), &mut effects);
    let calls = sends(&effects);
    client.on_result(1, calls[0].call_id, Err(FailureKind::Error), &mut effects);
    assert_eq!(client.breaker().state(), BreakerState::Open);
    client.on_result(2, calls[1].call_id, Ok(()), &mut effects);
    assert_eq!(
        client.breaker().state(),
        BreakerState::Open,
        "a late success does not close it"
    );
    assert_eq!(client.breaker().counters().late_results, 1);
}

#[test]
fn fallback_on_drops_failures_by_reason_and_warns_once_per_drop() {
    let (counters, warnings) = capture_warnings(|| {
        let mut client = client(FIRE_AND_FORGET, 2);
        emit_and_fail(&mut client, 0, 0, FailureKind::Error);
        emit_and_fail(&mut client, 1, 1, FailureKind::Overloaded);
        emit_and_fail(&mut client, 2, 2, FailureKind::Error);
        *client.counters()
    });
    assert_eq!(counters.dropped_delivery_failed, 2);
    assert_eq!(counters.dropped_breaker_open, 1);
    assert_eq!(counters.fallback_warnings, 3);
    assert_eq!(warnings.len(), 3, "one warning per drop: {warnings:#?}");
    assert!(warnings.iter().all(|line| line.contains("dropped")));
}

#[test]
fn fallback_on_without_warn_on_fallback_drops_silently() {
    let (counters, warnings) = capture_warnings(|| {
        let mode = DeliveryMode::FireAndForget {
            warn_on_fallback: false,
        };
        let mut client = client(mode, 1);
        emit_and_fail(&mut client, 0, 0, FailureKind::Error);
        emit_and_fail(&mut client, 1, 1, FailureKind::Error);
        *client.counters()
    });
    assert_eq!(
        counters.dropped_delivery_failed + counters.dropped_breaker_open,
        2
    );
    assert_eq!(counters.fallback_warnings, 0);
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn fallback_on_never_makes_the_caller_wait_or_fail() {
    let (mut entity, effects) = Entity::start(entity_config("a"), 0);
    assert!(sends(&effects).iter().all(|sent| !sent.awaited));
    assert!(!effects
        .iter()
        .any(|effect| matches!(effect, Effect::Settled { .. })));
    entity.cache_get(1, true);
    let effects = entity.cache_get(60_001, true);
    let sent = sends(&effects);
    assert_eq!(sent.len(), 1);
    assert!(
        !sent[0].awaited,
        "fire-and-forget: the cache operation does not wait"
    );
}

#[test]
fn bootstrap_config_selects_the_delivery_mode() {
    assert_eq!(
        DeliveryMode::from_bootstrap(&BootstrapConfig::default()),
        FIRE_AND_FORGET
    );
    let critical = BootstrapConfig {
        fallback_on_failure: false,
        warn_on_fallback: true,
    };
    assert_eq!(
        DeliveryMode::from_bootstrap(&critical),
        DeliveryMode::Awaited
    );
}

#[test]
fn fallback_off_surfaces_a_failed_emission_to_its_caller_and_never_warns() {
    let (result, warnings) = capture_warnings(|| {
        let mut client = client(DeliveryMode::Awaited, 5);
        let effects = emit_and_fail(&mut client, 0, 0, FailureKind::Error);
        (settled(&effects), *client.counters())
    });
    let (settled, counters) = result;
    assert_eq!(
        settled,
        vec![(key(0), Err(EmitError::DeliveryFailed(FailureKind::Error)))]
    );
    assert_eq!(counters.errors_surfaced, 1);
    assert_eq!(
        counters.dropped_delivery_failed + counters.dropped_breaker_open,
        0
    );
    assert!(warnings.is_empty());
}

#[test]
fn fallback_off_surfaces_a_breaker_rejection_and_keeps_the_fact() {
    let mut client = client(DeliveryMode::Awaited, 1);
    emit_and_fail(&mut client, 0, 0, FailureKind::Error);
    let mut effects = Vec::new();
    client.emit(10, fact(1), &mut effects);
    assert!(sends(&effects).is_empty());
    assert_eq!(
        settled(&effects),
        vec![(key(1), Err(EmitError::BreakerOpen))]
    );
    let kept: Vec<MessageKey> = client.backlog().map(Message::key).collect();
    assert_eq!(kept, vec![key(0), key(1)], "nothing is dropped, order kept");
}

#[test]
fn fallback_off_resends_the_undelivered_fact_with_the_same_id_before_newer_ones() {
    let mut client = client(DeliveryMode::Awaited, 5);
    emit_and_fail(&mut client, 0, 0, FailureKind::Timeout);
    let mut effects = Vec::new();
    client.emit(100, fact(1), &mut effects);
    let first = sends(&effects);
    assert_eq!(first.len(), 1);
    assert_eq!(
        first[0].message.key(),
        key(0),
        "the old fact goes first, same id"
    );
    assert!(first[0].awaited);
    effects.clear();
    client.on_result(101, first[0].call_id, Ok(()), &mut effects);
    let second = sends(&effects);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message.key(), key(1));
    client.on_result(102, second[0].call_id, Ok(()), &mut effects);
    assert_eq!(
        settled(&effects),
        vec![(key(0), Ok(())), (key(1), Ok(()))],
        "both delivered once, in order"
    );
    assert_eq!(client.backlog().count(), 0);
    assert_eq!(client.counters().resends, 1);
}

#[test]
fn fallback_off_keeps_the_primary_change_committed_when_the_emission_fails() {
    let mut config = entity_config("a");
    config.bootstrap.fallback_on_failure = false;
    config.stats.min_interval_ms = 10;
    let (mut entity, effects) = Entity::start(config, 0);
    for sent in sends(&effects) {
        entity.result(0, &sent.target, sent.call_id, Ok(()));
    }
    entity.append(1);
    let effects = entity.append(20);
    let sent = sends(&effects);
    assert_eq!(
        sent.len(),
        1,
        "the append that closed the period emits fact_appended"
    );
    assert!(sent[0].awaited);
    let effects = entity.result(
        21,
        &sent[0].target,
        sent[0].call_id,
        Err(FailureKind::Error),
    );
    assert!(matches!(
        settled(&effects).as_slice(),
        [(_, Err(EmitError::DeliveryFailed(FailureKind::Error)))]
    ));
    assert_eq!(
        entity.storage.facts.len(),
        2,
        "both appends stay stored despite the error"
    );
}

#[test]
fn each_target_has_its_own_breaker() {
    let mut config = entity_config("child");
    config.parent = Some(ActorId::new("entity:acme/parent"));
    config.breaker.failure_threshold = 1;
    config.stats.min_interval_ms = 1;
    let (mut entity, _) = Entity::start(config, 0);
    entity.append(0);
    let effects = entity.append(5);
    for sent in sends(&effects) {
        if sent.target == system() {
            entity.result(6, &sent.target, sent.call_id, Err(FailureKind::Error));
        }
    }
    let observability = entity.ledger.observability_client().expect("wired");
    let parent = entity.ledger.parent_client().expect("wired");
    assert_eq!(observability.breaker().state(), BreakerState::Open);
    assert_eq!(parent.breaker().state(), BreakerState::Closed);
}

#[test]
fn a_restart_resets_the_breaker_to_closed_with_empty_counters() {
    let mut config = entity_config("a");
    config.breaker.failure_threshold = 1;
    config.stats.min_interval_ms = 1;
    let (mut entity, effects) = Entity::start(config, 0);
    for sent in sends(&effects) {
        entity.result(0, &sent.target, sent.call_id, Err(FailureKind::Error));
    }
    let state = |entity: &Entity| {
        entity
            .ledger
            .observability_client()
            .map(|c| c.breaker().state())
    };
    assert_eq!(state(&entity), Some(BreakerState::Open));
    let (entity, _) = entity.restart(10);
    assert_eq!(state(&entity), Some(BreakerState::Closed));
    let counters = entity
        .ledger
        .observability_client()
        .map(|c| *c.breaker().counters());
    assert_eq!(counters.map(|c| c.opened), Some(0));
}

#[test]
fn a_fact_delivered_twice_is_stored_once() {
    let (_, effects) = Entity::start(entity_config("a"), 0);
    let sent = sends(&effects);
    let fact = sent[0].sdk_fact().clone();
    let mut ledger = SystemLedger::default();
    let mut storage = SystemStorage::default();
    ledger
        .on_sdk_fact(0, &mut storage, fact.clone())
        .expect("valid");
    ledger.on_sdk_fact(1, &mut storage, fact).expect("valid");
    assert_eq!(SystemLedger::get_stats(&storage).sdk_facts_count, 1);
}

/// Every emission ends delivered or dropped (fire and forget), or delivered after resends
/// (awaited), and the client's counters say which: a miscounted delivery is caught here.
#[test]
fn the_counters_account_for_every_emission() {
    let deliver = |client: &mut ParentClient, now_ms: u64, seq: u64, ok: bool| {
        let mut effects = Vec::new();
        client.emit(now_ms, fact(seq), &mut effects);
        for sent in sends(&effects) {
            let outcome = if ok { Ok(()) } else { Err(FailureKind::Error) };
            client.on_result(now_ms, sent.call_id, outcome, &mut Vec::new());
        }
    };
    let mut forgetful = client(FIRE_AND_FORGET, 10);
    for seq in 0..5 {
        deliver(&mut forgetful, seq, seq, seq != 2);
    }
    let counters = *forgetful.counters();
    assert_eq!(
        (
            counters.emitted,
            counters.attempts,
            counters.delivered,
            counters.dropped_delivery_failed
        ),
        (5, 5, 4, 1),
        "{counters:?}"
    );
    // Awaited: one at a time, each delivered before the next is sent.
    let mut awaited = client(DeliveryMode::Awaited, 10);
    for seq in 0..3 {
        deliver(&mut awaited, seq, seq, true);
    }
    let counters = *awaited.counters();
    assert_eq!(
        (counters.emitted, counters.attempts, counters.delivered),
        (3, 3, 3),
        "{counters:?}"
    );
}
