//! Swarm testing's scenario draws (TigerBeetle's VOPR, "swarm testing"): each seed draws a
//! whole valid scenario, every setting from a range that includes its extremes, and zero to six
//! faults of every kind, overlapping allowed. The same seed always draws the same scenario.
//!
//! Decisions:
//! - Draws are small (at most 4 tenants of 10 entities, 2 to 12 simulated minutes) so that a
//!   laptop sweeps hundreds of them a minute; the runtime limits are drawn low enough now and
//!   then that natural overload happens.
//! - Each part of a draw has its own stream (`derive_seed(seed, SWARM, part)`), so a change to
//!   how one part is drawn does not reshuffle the others.
//! - A drawn fault the format rejects for this topology (a queue fault without the queue, a
//!   misroute with one tenant) is drawn again as another kind; the scenario always validates.

use crate::model::{AlarmOnFailure, AlarmRearm};
use crate::runtime::seed::{derive_seed, purpose};
use crate::runtime::Transport;
use crate::sim::scenario::{
    entity_actor_name, tree_levels, Fault, FaultKind, Group, Mode, PlatformSink, Scenario, Target,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Most faults a draw has.
pub const MAX_DRAWN_FAULTS: usize = 6;

/// The parts of a draw, each with its own stream.
mod part {
    pub const SHAPE: u64 = 1;
    pub const SDK: u64 = 2;
    pub const LOAD: u64 = 3;
    pub const RUNTIME: u64 = 4;
    pub const FAULTS: u64 = 5;
    pub const ARRIVALS: u64 = 6;
    pub const SHARDS: u64 = 7;
}

fn rng(seed: u64, part: u64) -> SmallRng {
    SmallRng::seed_from_u64(derive_seed(seed, purpose::SWARM, part))
}

/// The scenario swarm seed `seed` draws (valid by construction).
pub fn draw_scenario(seed: u64) -> Scenario {
    let mut shape = rng(seed, part::SHAPE);
    let minutes = shape.gen_range(2..=12);
    let mut scenario = Scenario::new(format!("swarm-{seed}"), minutes * 60_000);
    scenario.description = format!(
        "Drawn by `z0sim swarm` from seed {seed}; `z0sim run` on this file with --seed {seed} \
         replays the run exactly."
    );
    scenario.seeds = 1;
    draw_topology(&mut scenario, &mut shape);
    draw_sdk(&mut scenario, &mut rng(seed, part::SDK));
    draw_load(&mut scenario, &mut rng(seed, part::LOAD));
    draw_runtime(&mut scenario, &mut rng(seed, part::RUNTIME));
    draw_faults(&mut scenario, &mut rng(seed, part::FAULTS));
    draw_arrivals(&mut scenario, &mut rng(seed, part::ARRIVALS));
    draw_shards(&mut scenario, &mut rng(seed, part::SHARDS));
    debug_assert!(
        scenario.validate("swarm").is_ok(),
        "{:?}",
        scenario.validate("swarm")
    );
    scenario
}

/// `chance` in [0, 1].
fn coin(rng: &mut SmallRng, chance: f64) -> bool {
    rng.gen_bool(chance)
}

fn draw_topology(scenario: &mut Scenario, rng: &mut SmallRng) {
    let topology = &mut scenario.topology;
    topology.mode = if coin(rng, 0.5) {
        Mode::MultiTenant
    } else {
        Mode::Single
    };
    topology.tenants = rng.gen_range(1..=4);
    topology.entities_per_tenant = rng.gen_range(1..=10);
    topology.hierarchy = match rng.gen_range(0..4) {
        0 => vec!["project".to_owned()],
        1 => vec!["project".to_owned(), "asset".to_owned()],
        _ => Vec::new(),
    };
    topology.platform_sink = if coin(rng, 0.5) {
        PlatformSink::Queue
    } else {
        PlatformSink::Ledger
    };
}

fn draw_sdk(scenario: &mut Scenario, rng: &mut SmallRng) {
    let sdk = &mut scenario.sdk;
    sdk.observability = coin(rng, 0.9);
    sdk.fallback_on_failure = coin(rng, 0.6);
    sdk.warn_on_fallback = coin(rng, 0.8);
    sdk.stats_min_interval_ms = rng.gen_range(1..=120) * 1_000;
    sdk.tenant_aggregation_interval_ms = rng.gen_range(1..=10) * 30_000;
    sdk.rpc_timeout_ms = rng.gen_range(1..=10) * 1_000;
    sdk.sample_rate = if coin(rng, 0.7) {
        1.0
    } else {
        rng.gen_range(0.0..=1.0)
    };
    sdk.tenant_alarm_rearm = if coin(rng, 0.5) {
        AlarmRearm::OnInput
    } else {
        AlarmRearm::AtStart
    };
    sdk.tenant_alarm_on_failure = AlarmOnFailure::ALL[rng.gen_range(0..AlarmOnFailure::ALL.len())];
    let breaker = &mut sdk.breaker;
    breaker.failure_threshold = rng.gen_range(1..=10);
    breaker.reset_timeout_ms = rng.gen_range(1..=60) * 1_000;
    breaker.half_open_max_probes = rng.gen_range(1..=3);
    breaker.reset_timeout_jitter_ratio = if coin(rng, 0.5) {
        0.0
    } else {
        rng.gen_range(0.0..=0.5)
    };
    breaker.reset_timeout_growth_factor = if coin(rng, 0.6) {
        1.0
    } else {
        rng.gen_range(1.0..=4.0)
    };
    breaker.reset_timeout_max_ms = breaker.reset_timeout_ms * rng.gen_range(1..=4);
}

/// `system_shards` in single mode: one SystemLedger half the time, else 2 to 8 shards (some
/// without a tenant), and a fault now and then moved onto one shard.
fn draw_shards(scenario: &mut Scenario, rng: &mut SmallRng) {
    if scenario.topology.mode != Mode::Single || coin(rng, 0.5) {
        return;
    }
    let shards = rng.gen_range(2..=8);
    scenario.topology.system_shards = shards;
    for fault in &mut scenario.faults {
        let on_the_ledger =
            fault.target == Some(Target::System) || (fault.target.is_none() && coin(rng, 0.3));
        if on_the_ledger && fault.kind.name().starts_with("system_ledger") && coin(rng, 0.5) {
            fault.target = Some(Target::SystemShard(rng.gen_range(0..shards)));
        }
    }
}

/// `start_spread`: the herd (0), about a stats interval (the default), or long, past the end of
/// the run (entities that never arrive).
fn draw_arrivals(scenario: &mut Scenario, rng: &mut SmallRng) {
    let roll: f64 = rng.gen();
    scenario.workload.start_spread_ms = if roll < 0.25 {
        0
    } else if roll < 0.75 {
        rng.gen_range(0..=2 * scenario.sdk.stats_min_interval_ms)
    } else {
        rng.gen_range(0..=scenario.duration_ms + scenario.duration_ms / 5)
    };
}

fn draw_load(scenario: &mut Scenario, rng: &mut SmallRng) {
    let workload = &mut scenario.workload;
    workload.cache_ops_per_sec = if coin(rng, 0.1) {
        0.0
    } else {
        rng.gen_range(0.01..=5.0)
    };
    workload.hit_ratio = rng.gen_range(0.0..=1.0);
    workload.fact_appends_per_min = if coin(rng, 0.1) {
        0.0
    } else {
        rng.gen_range(0.1..=30.0)
    };
    workload.flush_stats_per_min = if coin(rng, 0.3) {
        rng.gen_range(0.1..=2.0)
    } else {
        0.0
    };
    workload.stats_toggles_per_min = if coin(rng, 0.2) {
        rng.gen_range(0.1..=1.0)
    } else {
        0.0
    };
    scenario.reader.reads_per_min = if coin(rng, 0.2) {
        0.0
    } else {
        rng.gen_range(0.5..=10.0)
    };
    let queue = &mut scenario.queue;
    queue.max_batch_size = rng.gen_range(1..=20);
    queue.max_batch_timeout_ms = rng.gen_range(0..=10) * 1_000;
    queue.max_retries = rng.gen_range(0..=12);
    queue.retry_delay_ms = if coin(rng, 0.5) {
        0
    } else {
        rng.gen_range(1..=60) * 1_000
    };
    queue.dead_letter_queue = coin(rng, 0.3);
    queue.dead_letter_replay = queue.dead_letter_queue && coin(rng, 0.5);
    queue.consumer_concurrency = if coin(rng, 0.7) {
        250
    } else {
        rng.gen_range(1..=4)
    };
}

fn draw_runtime(scenario: &mut Scenario, rng: &mut SmallRng) {
    let network = &mut scenario.network;
    network.latency_min_ms = rng.gen_range(0..=20);
    network.latency_max_ms = network.latency_min_ms + rng.gen_range(0..=200);
    network.packet_loss = if coin(rng, 0.8) {
        0.0
    } else {
        rng.gen_range(0.0..=0.1)
    };
    network.transport = if coin(rng, 0.2) {
        Transport::Madsim
    } else {
        Transport::Direct
    };
    let runtime = &mut scenario.runtime;
    runtime.service_time_ms = rng.gen_range(0..=5);
    if coin(rng, 0.1) {
        runtime.max_in_flight = rng.gen_range(2..=20);
        runtime.max_requests_per_10s = rng.gen_range(50..=2_000);
    }
    runtime.idle_eviction = coin(rng, 0.8);
    let evict_after_ms = rng.gen_range(10..=140) * 1_000;
    runtime.idle_eviction_after_ms = (
        evict_after_ms,
        evict_after_ms + rng.gen_range(0..=70) * 1_000,
    );
    runtime.hibernatable = coin(rng, 0.1);
}

fn draw_faults(scenario: &mut Scenario, rng: &mut SmallRng) {
    let count = rng.gen_range(0..=MAX_DRAWN_FAULTS);
    for _ in 0..count {
        // A kind the topology rejects is drawn again (a few times, then skipped).
        for _ in 0..8 {
            let fault = draw_fault(scenario, rng);
            scenario.faults.push(fault);
            if scenario.validate("swarm").is_ok() {
                break;
            }
            scenario.faults.pop();
        }
    }
}

fn draw_fault(scenario: &Scenario, rng: &mut SmallRng) -> Fault {
    // Most faults end early enough for the liveness phase to be judged after them; some run
    // to the end or past it.
    let duration_ms = scenario.duration_ms;
    let (latest_start_ms, longest_ms) = if coin(rng, 0.7) {
        (duration_ms / 2, duration_ms / 4)
    } else {
        (duration_ms * 3 / 4, duration_ms / 2)
    };
    let at_ms = rng.gen_range(0..latest_start_ms.max(1));
    let length_ms = rng.gen_range(1..=longest_ms.max(1));
    let rate = |rng: &mut SmallRng| {
        if coin(rng, 0.2) {
            1.0
        } else {
            rng.gen_range(0.0..=1.0)
        }
    };
    let kind = match rng.gen_range(0..13) {
        0 => FaultKind::SystemLedgerDown,
        1 => FaultKind::SystemLedgerOverloaded { rate: rate(rng) },
        2 => FaultKind::SystemLedgerSlow {
            extra_latency_ms: rng.gen_range(1..=10_000),
        },
        3 => FaultKind::Partition {
            between: draw_groups(scenario, rng),
        },
        4 => FaultKind::PacketLoss {
            rate: rng.gen_range(0.0..=0.5),
        },
        5 => FaultKind::Evict {
            fraction: rate(rng),
        },
        6 => FaultKind::AlarmFailure { rate: rate(rng) },
        7 => FaultKind::QueueDuplicate { rate: rate(rng) },
        8 => FaultKind::Misroute {
            fraction: rate(rng),
        },
        9 => FaultKind::QueueConsumerFailure { rate: rate(rng) },
        11 => FaultKind::EvictEntities {
            entities: draw_entities(scenario, None, rng),
        },
        12 => FaultKind::MisrouteEntities {
            entities: draw_entities(scenario, Some(0), rng),
        },
        _ => FaultKind::HostileFacts {
            rate: rng.gen_range(0.0..=0.5),
        },
    };
    let takes_target = matches!(
        kind,
        FaultKind::SystemLedgerDown
            | FaultKind::SystemLedgerOverloaded { .. }
            | FaultKind::SystemLedgerSlow { .. }
            | FaultKind::AlarmFailure { .. }
    );
    let target = (takes_target && coin(rng, 0.6)).then(|| draw_target(scenario, rng));
    Fault {
        kind,
        at_ms,
        duration_ms: length_ms,
        target,
    }
}

/// One to eight distinct entities of the topology (of `tenant` only, when given), by actor
/// name: what an explicit `evict_entities` or `misroute_entities` fault lists.
fn draw_entities(scenario: &Scenario, tenant: Option<u32>, rng: &mut SmallRng) -> Vec<String> {
    let levels = tree_levels(scenario);
    let mut names = Vec::new();
    for _ in 0..rng.gen_range(1..=8) {
        let tenant = tenant.unwrap_or_else(|| rng.gen_range(0..scenario.topology.tenants));
        let (level, count) = &levels[rng.gen_range(0..levels.len())];
        if *count == 0 {
            continue;
        }
        let name = entity_actor_name(tenant, &format!("{level}-{}", rng.gen_range(0..*count)));
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn draw_target(scenario: &Scenario, rng: &mut SmallRng) -> Target {
    match scenario.topology.mode {
        Mode::Single => Target::System,
        Mode::MultiTenant if coin(rng, 0.5) => Target::Platform,
        Mode::MultiTenant => Target::Tenant(rng.gen_range(0..scenario.topology.tenants)),
    }
}

fn draw_groups(scenario: &Scenario, rng: &mut SmallRng) -> [Group; 2] {
    if scenario.topology.mode == Mode::MultiTenant && coin(rng, 0.3) {
        // A tenant ledger cut off from the platform: its flushes fail.
        let tenant = rng.gen_range(0..scenario.topology.tenants);
        return [Group::Tenant(tenant), Group::Platform];
    }
    let ledger = match scenario.topology.mode {
        Mode::Single => Group::System,
        Mode::MultiTenant if coin(rng, 0.3) => Group::Platform,
        Mode::MultiTenant => Group::Tenant(rng.gen_range(0..scenario.topology.tenants)),
    };
    [Group::Entities, ledger]
}
