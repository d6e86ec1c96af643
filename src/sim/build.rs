//! Turns a validated [`Scenario`] and a seed into the runtime's [`WorldSpec`]: the actors and
//! their wiring, and each fault as timed start and end actions.
//!
//! Decisions (the scenario format leaves these open):
//! - Actor names: `system`, `platform`, `queue`, `tenant:<n>`, `entity:t<n>/<type>-<i>`;
//!   tenant ids `t<n>`; entity ids `t<n>-<type>-<i>` (unique across tenants, which sampling needs).
//! - `hierarchy = [l0, ..., lk]`: each tenant has `entities_per_tenant` leaves of type `lk`;
//!   every level above has one entity per 4 below (rounded up), and entity `j` of a level has
//!   parent `j / 4` in the level above. Every entity in the tree is an EntityLedger wired to the
//!   observability target. Without a hierarchy the entities are `account`s.
//! - A fault without `target` hits the ledger(s) entities report to: the SystemLedger in
//!   `single` mode, every TenantSystemLedger in `multi_tenant` mode. `alarm_failure` hits the
//!   tenant ledgers (the only actors with alarms) unless a target is given.
//! - `evict` restarts the picked entities at `at`; its duration does not matter.

use crate::ledgers::{EntityConfig, TenantLedgerConfig};
use crate::model::sampling::is_sampled;
use crate::model::sharding::shard_of;
use crate::model::{ActorId, EntityMeta, Limits, Name};
use crate::runtime::queue::QueueConfig;
use crate::runtime::reader::ReaderSpec;
use crate::runtime::seed::{derive_seed, purpose};
use crate::runtime::workload::WorkloadSpec;
use crate::runtime::{ActorIdx, ActorInit, ActorSpec, FaultAction, Roles, TimedAction, WorldSpec};
use crate::sim::scenario::{
    Fault, FaultKind, Group, Mode, PlatformSink, QueueSettings, Scenario, Target,
};

use crate::sim::scenario::entity_actor_name;
pub use crate::sim::scenario::{tree_levels, TREE_FAN_OUT};
/// Builds the world of `scenario` for `seed`.
pub fn build_world(scenario: &Scenario, seed: u64) -> WorldSpec {
    let mut actors = Vec::new();
    let mut roles = Roles::default();
    // Each tenant's observability target: the SystemLedger, or its TenantSystemLedger.
    let targets: Vec<ActorIdx> = match scenario.topology.mode {
        Mode::Single => add_system_shards(scenario, &mut actors),
        Mode::MultiTenant => add_platform_and_tenants(scenario, seed, &mut actors, &mut roles),
    };
    add_entities(scenario, seed, &targets, &mut actors, &mut roles);
    add_reader(scenario, &mut actors);
    let actions = scenario
        .faults
        .iter()
        .enumerate()
        .flat_map(|(number, fault)| fault_actions(scenario, &actors, number, fault))
        .collect();
    WorldSpec {
        seed,
        actors,
        duration_ms: scenario.duration_ms,
        rpc_timeout_ms: scenario.sdk.rpc_timeout_ms,
        overload: scenario.runtime.overload_limits(),
        service_time_ms: scenario.runtime.service_time_ms,
        idle: scenario.runtime.idle_config(),
        latency_min_ms: scenario.network.latency_min_ms,
        latency_max_ms: scenario.network.latency_max_ms,
        packet_loss: scenario.network.packet_loss,
        transport: scenario.network.transport,
        actions,
        roles,
        trace_filter: None,
        plant: None,
    }
}

/// The SystemLedger, `system`, or its shards `system:<n>` (all in group `system`); returns
/// each tenant's shard.
fn add_system_shards(scenario: &Scenario, actors: &mut Vec<ActorSpec>) -> Vec<ActorIdx> {
    let shards = scenario.topology.system_shards.max(1);
    for shard in 0..shards {
        actors.push(ActorSpec {
            id: ActorId::new(system_actor_name(shard, shards)),
            group: "system".into(),
            init: ActorInit::System {
                limits: Limits::default(),
            },
        });
    }
    (0..scenario.topology.tenants)
        .map(|tenant| shard_of(&tenant_id(tenant), shards) as ActorIdx)
        .collect()
}

/// SystemLedger shard `shard`'s actor name: `system` when there is one, else `system:<n>`.
pub fn system_actor_name(shard: u32, shards: u32) -> String {
    if shards <= 1 {
        "system".to_owned()
    } else {
        format!("system:{shard}")
    }
}

/// The platform, the queue (with that sink) and the tenant ledgers; returns each tenant's
/// ledger.
fn add_platform_and_tenants(
    scenario: &Scenario,
    seed: u64,
    actors: &mut Vec<ActorSpec>,
    roles: &mut Roles,
) -> Vec<ActorIdx> {
    actors.push(ActorSpec {
        id: ActorId::new("platform"),
        group: "platform".into(),
        init: ActorInit::Platform {
            limits: Limits::default(),
        },
    });
    let sink = match scenario.topology.platform_sink {
        PlatformSink::Queue => {
            actors.push(ActorSpec {
                id: ActorId::new("queue"),
                group: "platform".into(),
                init: ActorInit::Queue {
                    consumer: ActorId::new(QUEUE_CONSUMER),
                    config: queue_config(&scenario.queue),
                },
            });
            actors.push(ActorSpec {
                id: ActorId::new(QUEUE_CONSUMER),
                group: "consumer".into(),
                init: ActorInit::Consumer {
                    platform: ActorId::new("platform"),
                },
            });
            ActorId::new("queue")
        }
        PlatformSink::Ledger => ActorId::new("platform"),
    };
    let mut tenant_ledgers = Vec::new();
    for tenant in 0..scenario.topology.tenants {
        let idx = actors.len();
        tenant_ledgers.push(idx);
        roles.tenants.insert(idx);
        roles.tenant_of.insert(idx, Name::from(tenant_id(tenant)));
        actors.push(ActorSpec {
            id: tenant_actor(tenant),
            group: format!("tenant:{tenant}"),
            init: ActorInit::Tenant {
                config: TenantLedgerConfig {
                    actor: tenant_actor(tenant),
                    tenant_id: tenant_id(tenant),
                    tenant: scenario.sdk.tenant_config(),
                    sink: sink.clone(),
                    breaker: scenario.sdk.breaker,
                    jitter_seed: derive_seed(seed, purpose::JITTER, idx as u64),
                    limits: Limits::default(),
                },
            },
        });
    }
    tenant_ledgers
}

/// The queue consumer Worker's actor name.
const QUEUE_CONSUMER: &str = "queue-consumer";

/// The queue's settings.
fn queue_config(queue: &QueueSettings) -> QueueConfig {
    QueueConfig {
        max_batch_size: queue.max_batch_size as usize,
        max_batch_timeout_ms: queue.max_batch_timeout_ms,
        max_retries: queue.max_retries,
        retry_delay_ms: queue.retry_delay_ms,
        dead_letter_queue: queue.dead_letter_queue,
        dead_letter_replay: queue.dead_letter_replay,
        consumer_concurrency: queue.consumer_concurrency as usize,
        retention_ms: queue.message_retention_ms,
    }
}

fn tenant_actor(tenant: u32) -> ActorId {
    ActorId::new(format!("tenant:{tenant}"))
}

fn tenant_id(tenant: u32) -> String {
    format!("t{tenant}")
}

/// Every tenant's entities, wired to `targets[tenant]` when observability is on.
fn add_entities(
    scenario: &Scenario,
    seed: u64,
    targets: &[ActorIdx],
    actors: &mut Vec<ActorSpec>,
    roles: &mut Roles,
) {
    let levels = tree_levels(scenario);
    let workload = WorkloadSpec {
        cache_ops_per_sec: scenario.workload.cache_ops_per_sec,
        hit_ratio: scenario.workload.hit_ratio,
        fact_appends_per_min: scenario.workload.fact_appends_per_min,
        flush_stats_per_min: scenario.workload.flush_stats_per_min,
        stats_toggles_per_min: scenario.workload.stats_toggles_per_min,
        start_spread_ms: scenario.workload.start_spread_ms,
    };
    let mut entity_index = 0u64;
    for tenant in 0..scenario.topology.tenants {
        let target_idx = scenario.sdk.observability.then(|| targets[tenant as usize]);
        let target = target_idx.map(|idx| actors[idx].id.clone());
        for (depth, (entity_type, count)) in levels.iter().enumerate() {
            for position in 0..*count {
                let name = format!("{entity_type}-{position}");
                let parent = (depth > 0).then(|| {
                    let (parent_type, _) = &levels[depth - 1];
                    entity_actor(
                        tenant,
                        &format!("{parent_type}-{}", position / TREE_FAN_OUT),
                    )
                });
                let entity_id = format!("t{tenant}-{name}");
                let idx = actors.len();
                roles.observability_target.resize(idx, None);
                roles.observability_target.push(target_idx);
                roles.tenant_of.insert(idx, Name::from(tenant_id(tenant)));
                let config = EntityConfig {
                    actor: entity_actor(tenant, &name),
                    meta: EntityMeta {
                        entity_type: Name::from(entity_type),
                        tenant_id: tenant_id(tenant).into(),
                        entity_id: Name::from(&entity_id),
                    },
                    observability_target: target.clone(),
                    parent,
                    bootstrap: scenario.sdk.bootstrap_config(),
                    breaker: scenario.sdk.breaker,
                    stats: scenario.sdk.stats_config(),
                    stats_sampled: is_sampled(&entity_id, scenario.sdk.sample_rate),
                    jitter_seed: derive_seed(seed, purpose::JITTER, idx as u64),
                    limits: Limits::default(),
                };
                actors.push(ActorSpec {
                    id: config.actor.clone(),
                    group: "entities".into(),
                    init: ActorInit::Entity {
                        config: std::sync::Arc::new(config),
                        workload,
                        entity_index,
                    },
                });
                entity_index += 1;
            }
        }
    }
}

/// The reader, last (so it moves no other actor's index), when it reads at all: it asks the
/// ledgers that answer reads about any entity.
fn add_reader(scenario: &Scenario, actors: &mut Vec<ActorSpec>) {
    if scenario.reader.reads_per_min <= 0.0 {
        return;
    }
    let mut targets = Vec::new();
    let mut entities = Vec::new();
    for (idx, actor) in actors.iter().enumerate() {
        match &actor.init {
            ActorInit::System { .. } | ActorInit::Tenant { .. } => targets.push(idx),
            ActorInit::Entity { config, .. } => entities.push(config.meta.entity_id.clone()),
            _ => {}
        }
    }
    actors.push(ActorSpec {
        id: ActorId::new("reader"),
        group: "reader".into(),
        init: ActorInit::Reader(ReaderSpec {
            reads_per_min: scenario.reader.reads_per_min,
            targets,
            entities,
        }),
    });
}

fn entity_actor(tenant: u32, name: &str) -> ActorId {
    ActorId::new(entity_actor_name(tenant, name))
}

fn members(actors: &[ActorSpec], group: &str) -> Vec<ActorIdx> {
    actors
        .iter()
        .enumerate()
        .filter(|(_, actor)| actor.group == group)
        .map(|(idx, _)| idx)
        .collect()
}

fn find(actors: &[ActorSpec], name: &str) -> Vec<ActorIdx> {
    actors
        .iter()
        .position(|actor| actor.id.as_str() == name)
        .into_iter()
        .collect()
}

fn targets(scenario: &Scenario, actors: &[ActorSpec], target: Option<Target>) -> Vec<ActorIdx> {
    match (target, scenario.topology.mode) {
        (Some(Target::System), Mode::Single) | (None, Mode::Single) => members(actors, "system"),
        (Some(Target::SystemShard(shard)), _) => shard_member(actors, shard),
        (Some(Target::Tenant(tenant)), _) => find(actors, &format!("tenant:{tenant}")),
        (Some(Target::Platform), _) => find(actors, "platform"),
        (Some(Target::System), Mode::MultiTenant) | (None, Mode::MultiTenant) => actors
            .iter()
            .enumerate()
            .filter(|(_, actor)| matches!(actor.init, ActorInit::Tenant { .. }))
            .map(|(idx, _)| idx)
            .collect(),
    }
}

/// SystemLedger shard `shard` (the shards are the group `system`, in order).
fn shard_member(actors: &[ActorSpec], shard: u32) -> Vec<ActorIdx> {
    let shards = members(actors, "system");
    shards.get(shard as usize).copied().into_iter().collect()
}

fn group_members(actors: &[ActorSpec], group: Group) -> Vec<ActorIdx> {
    match group {
        Group::Entities => members(actors, "entities"),
        Group::System => members(actors, "system"),
        Group::SystemShard(shard) => shard_member(actors, shard),
        Group::Tenant(tenant) => members(actors, &format!("tenant:{tenant}")),
        Group::Platform => members(actors, "platform"),
    }
}

/// Fault number `number` as its start action at `at` and, unless it is instantaneous (an
/// eviction), its end action at its end.
fn fault_actions(
    scenario: &Scenario,
    actors: &[ActorSpec],
    number: usize,
    fault: &Fault,
) -> Vec<TimedAction> {
    let name = fault.kind.name();
    let start = start_action(scenario, actors, fault);
    let instantaneous = matches!(start, FaultAction::Evict { .. });
    let mut actions = vec![TimedAction {
        at_ms: fault.at_ms,
        action: start,
        fault: number,
        label: format!("{name} start"),
    }];
    if !instantaneous {
        actions.push(TimedAction {
            at_ms: fault.end_ms(),
            action: FaultAction::End,
            fault: number,
            label: format!("{name} end"),
        });
    }
    actions
}

/// What a fault does when it starts.
fn start_action(scenario: &Scenario, actors: &[ActorSpec], fault: &Fault) -> FaultAction {
    let hit = targets(scenario, actors, fault.target);
    match &fault.kind {
        FaultKind::SystemLedgerDown => FaultAction::Kill(hit),
        FaultKind::SystemLedgerOverloaded { rate } => FaultAction::Overload(hit, *rate),
        FaultKind::SystemLedgerSlow { extra_latency_ms } => {
            FaultAction::ExtraLatency(hit, *extra_latency_ms)
        }
        FaultKind::Partition { between } => FaultAction::Partition(
            group_members(actors, between[0]),
            group_members(actors, between[1]),
        ),
        FaultKind::PacketLoss { rate } => FaultAction::PacketLoss(*rate),
        FaultKind::Evict { fraction } => FaultAction::Evict {
            actors: members(actors, "entities"),
            fraction: Some(*fraction),
        },
        FaultKind::EvictEntities { entities } => FaultAction::Evict {
            actors: named(actors, entities),
            fraction: None,
        },
        FaultKind::AlarmFailure { rate } => FaultAction::AlarmFailure(hit, *rate),
        FaultKind::QueueDuplicate { rate } => FaultAction::QueueDuplicate(*rate),
        FaultKind::Misroute { fraction } => misroute(actors, Some(*fraction), None),
        FaultKind::MisrouteEntities { entities } => {
            misroute(actors, None, Some(named(actors, entities)))
        }
        FaultKind::QueueConsumerFailure { rate } => FaultAction::QueueConsumerFailure(*rate),
        FaultKind::HostileFacts { rate } => FaultAction::HostileFacts(*rate),
    }
}

/// `fraction` of tenant 0's entities (or the `listed` ones, all of them) send their SDK facts
/// to tenant 1's ledger.
fn misroute(
    actors: &[ActorSpec],
    fraction: Option<f64>,
    listed: Option<Vec<ActorIdx>>,
) -> FaultAction {
    let tenant_zero: Vec<ActorIdx> = listed.unwrap_or_else(|| tenant_zero_entities(actors));
    let wrong = find(actors, "tenant:1");
    FaultAction::Misroute {
        entities: tenant_zero,
        fraction,
        to: wrong.first().copied(),
    }
}

/// The actors named `names` (validation made sure each exists), in the order given.
fn named(actors: &[ActorSpec], names: &[String]) -> Vec<ActorIdx> {
    // Looked up, never iterated: the map's order cannot reach the run.
    let index: std::collections::HashMap<&str, ActorIdx> = actors
        .iter()
        .enumerate()
        .map(|(idx, actor)| (actor.id.as_str(), idx))
        .collect();
    names
        .iter()
        .filter_map(|name| index.get(name.as_str()).copied())
        .collect()
}

/// Tenant 0's entities.
fn tenant_zero_entities(actors: &[ActorSpec]) -> Vec<ActorIdx> {
    actors
        .iter()
        .enumerate()
        .filter(|(_, actor)| {
            matches!(&actor.init, ActorInit::Entity { config, .. } if config.meta.tenant_id == tenant_id(0))
        })
        .map(|(idx, _)| idx)
        .collect()
}
