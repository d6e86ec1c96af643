//! Bytes decoded into a small scenario (single, or multi_tenant with 1-3 tenants; 1-3 entities
//! per tenant; 10 to 60 simulated seconds; stats interval 2-20 s, tenant periods twice that and a
//! breaker reset timeout of 1-10 s, so that periods close, breakers open and probe within the
//! run; fallback on or off;
//! either transport; 0-4 faults of the kinds valid for the topology, with times, durations and
//! rates from the bytes) and a seed, run through `z0sim::sim::run`: every invariant of the report must
//! hold, or fail only for a documented weakness of the z0 design (`z0sim::sim::swarm::WEAKNESSES`,
//! docs/model.md "Findings").
//!
//! A failure panics with the report and the scenario file, so it reproduces without the fuzzer:
//! save the TOML and run `cargo run --release -- run FILE --seed SEED`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use z0sim::runtime::Transport;
use z0sim::sim::scenario::{Fault, FaultKind, Group, Mode, PlatformSink, Target};
use z0sim::sim::{run, RunOptions, Scenario};
use z0sim::sim::swarm::{classify, Verdict};

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    multi_tenant: bool,
    tenants: u8,
    entities_per_tenant: u8,
    /// Simulated time beyond the 10 seconds every run lasts.
    extra_duration_ms: u32,
    stats_interval_s: u8,
    fallback_on_failure: bool,
    ledger_sink: bool,
    faults: Vec<FaultInput>,
}

#[derive(Arbitrary, Debug)]
struct FaultInput {
    kind: u8,
    at_ms: u32,
    duration_ms: u32,
    /// A rate or fraction, scaled to [0, 1].
    rate: u16,
    extra_latency_ms: u16,
    groups: (u8, u8),
    target: Option<u8>,
}

const MAX_FAULTS: usize = 4;

/// A group or target index into the actors of the topology.
fn pick<T: Copy>(choices: &[T], index: u8) -> T {
    choices[usize::from(index) % choices.len()]
}

fn scenario(input: &Input) -> Scenario {
    // Small worlds and short runs: about a millisecond per input (issue 16: 1,000 executions
    // per second), every fault kind still reachable.
    let duration_ms = 10_000 + u64::from(input.extra_duration_ms) % 50_001;
    let mut scenario = Scenario::new("fuzz-fault-schedule", duration_ms);
    let topology = &mut scenario.topology;
    if input.multi_tenant {
        topology.mode = Mode::MultiTenant;
        topology.tenants = u32::from(input.tenants % 3) + 1;
        topology.platform_sink = if input.ledger_sink {
            PlatformSink::Ledger
        } else {
            PlatformSink::Queue
        };
    }
    topology.entities_per_tenant = u32::from(input.entities_per_tenant % 3) + 1;
    scenario.sdk.stats_min_interval_ms = (u64::from(input.stats_interval_s % 19) + 2) * 1_000;
    scenario.workload.start_spread_ms = scenario.sdk.stats_min_interval_ms;
    scenario.sdk.tenant_aggregation_interval_ms = 2 * scenario.sdk.stats_min_interval_ms;
    // The high bits of `stats_interval_s` (unused by its `% 19` below 256/19) pick the reset.
    let breaker = &mut scenario.sdk.breaker;
    breaker.reset_timeout_ms = (u64::from(input.stats_interval_s / 19) % 10 + 1) * 1_000;
    breaker.reset_timeout_max_ms = breaker.reset_timeout_ms.max(breaker.reset_timeout_max_ms);
    scenario.sdk.fallback_on_failure = input.fallback_on_failure;
    // The high bit of `tenants` (unused by its `% 3`) picks the transport.
    if input.tenants & 0x80 != 0 {
        scenario.network.transport = Transport::Direct;
    }

    let multi_tenant = input.multi_tenant;
    let tenants = scenario.topology.tenants;
    let queue = multi_tenant && !input.ledger_sink;
    let (groups, targets): (Vec<Group>, Vec<Target>) = if multi_tenant {
        let mut groups = vec![Group::Entities, Group::Platform];
        groups.extend((0..tenants).map(Group::Tenant));
        let mut targets = vec![Target::Platform];
        targets.extend((0..tenants).map(Target::Tenant));
        (groups, targets)
    } else {
        (vec![Group::Entities, Group::System], vec![Target::System])
    };
    for fault in input.faults.iter().take(MAX_FAULTS) {
        let rate = f64::from(fault.rate) / f64::from(u16::MAX);
        let mut kinds = vec![
            FaultKind::SystemLedgerDown,
            FaultKind::SystemLedgerOverloaded { rate },
            FaultKind::SystemLedgerSlow {
                extra_latency_ms: u64::from(fault.extra_latency_ms) + 1,
            },
            FaultKind::Partition {
                between: [pick(&groups, fault.groups.0), pick(&groups, fault.groups.1)],
            },
            FaultKind::PacketLoss { rate },
            FaultKind::Evict { fraction: rate },
            FaultKind::AlarmFailure { rate },
            FaultKind::HostileFacts { rate },
        ];
        if queue {
            kinds.push(FaultKind::QueueDuplicate { rate });
            kinds.push(FaultKind::QueueConsumerFailure { rate });
        }
        if multi_tenant && tenants >= 2 {
            kinds.push(FaultKind::Misroute { fraction: rate });
        }
        let kind = kinds.swap_remove(usize::from(fault.kind) % kinds.len());
        let target = match fault.target {
            Some(index) if kind.takes_target() => Some(pick(&targets, index)),
            _ => None,
        };
        scenario.faults.push(Fault {
            kind,
            at_ms: u64::from(fault.at_ms) % duration_ms,
            duration_ms: u64::from(fault.duration_ms) % duration_ms + 1,
            target,
        });
    }
    scenario
}

fuzz_target!(|input: Input| {
    let scenario = scenario(&input);
    // A partition of a group with itself is the one combination the decoding can produce that
    // the contract rejects.
    if scenario.validate("fuzz.toml").is_err() {
        return;
    }
    let seed = input.seed;
    let report = match run(&scenario, seed, &RunOptions::default()) {
        Ok(report) => report,
        Err(error) => panic!(
            "the run failed: {error}\nseed {seed}, scenario:\n{}",
            scenario.to_toml()
        ),
    };
    // Documented weaknesses of the z0 design (payloads the queue deletes without a dead-letter
    // queue, an alarm deleted after its retries) are right verdicts, not harness bugs; swarm
    // classifies them the same way.
    if classify(&report) == Verdict::Failed {
        panic!(
            "an invariant failed:\n{}\nseed {seed}, scenario:\n{}",
            report.to_text(),
            scenario.to_toml()
        );
    }
});
