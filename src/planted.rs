//! Planted bugs: realistic mistakes compiled in with the `planted-bugs` cargo feature (never on
//! by default), each meant to break one invariant of the oracle on one bundled scenario. They
//! prove that every invariant can fail. One plant is active per simulation thread.
//!
//! Without the feature, [`active`] is a constant `false` and every plant compiles away.

use std::fmt;

/// A planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plant {
    /// The breaker goes OPEN -> CLOSED at the reset timeout, skipping HALF_OPEN.
    BreakerSkipsHalfOpen,
    /// HALF_OPEN admits every call instead of the probe budget.
    HalfOpenAdmitsAll,
    /// A fire-and-forget emission keeps the operation that emitted it waiting for its
    /// delivery anyway.
    FallbackOnBlocksCaller,
    /// With fallback off, a failed delivery settles nobody: the error is swallowed.
    FallbackOffSwallowsError,
    /// A fallback drop logs no warning.
    NoWarningOnDrop,
    /// The platform does not de-duplicate payloads by flush id.
    PlatformDoesNotDeduplicate,
    /// The stats interval check uses half the interval.
    FlushIgnoresInterval,
    /// The tenant alarm handler does not re-arm the alarm.
    AlarmNotRearmed,
    /// A tenant flush counts the period's cache hits twice.
    FlushDoubleCounts,
    /// The cache get that closes a stats period is counted in the closed period and again in
    /// the new one.
    ClosingGetCountedTwice,
    /// An append is written to storage only when the next one comes (a coalesced write):
    /// acknowledged, then lost if the actor restarts first.
    AppendWriteDeferred,
    /// The parent de-duplicates child facts by sequence number alone, so facts of different
    /// children with the same sequence are never rolled up.
    RollupDedupBySeq,
    /// The breaker opens one failure after the threshold.
    ThresholdOffByOne,
    /// A successful probe opens the breaker again instead of closing it.
    ProbeSuccessReopens,
    /// The tenant ledger checks the tenant only of facts without a period (lifecycle facts).
    TenantChecksOnlyLifecycleFacts,
    /// Receivers check the periods inside `data` against their clock, but not the fact's own
    /// timestamp.
    FactTimestampUnchecked,
    /// The queue counts a failed consumer batch as acknowledged, and forgets it.
    QueueAcksFailedBatch,
    /// The SystemLedger acknowledges a fact and writes it only when the next one arrives (a
    /// coalesced write): a restart in between loses it.
    SystemLedgerWriteDeferred,
    /// Only a cache hit looks at the stats interval: a period a miss found due stays open
    /// until the next hit.
    ClosesOnlyOnHits,
    /// A tenant ledger's flush client reads its reset timeout as seconds: once OPEN, it stays
    /// OPEN a thousand times too long.
    TenantBreakerStuckOpen,
    /// `getSdkFacts` and `getCacheStats` answer newest first instead of in arrival order.
    ReadsNewestFirst,
}

impl Plant {
    /// Every plant, in a fixed order.
    pub const ALL: [Plant; 21] = [
        Plant::BreakerSkipsHalfOpen,
        Plant::HalfOpenAdmitsAll,
        Plant::FallbackOnBlocksCaller,
        Plant::FallbackOffSwallowsError,
        Plant::NoWarningOnDrop,
        Plant::PlatformDoesNotDeduplicate,
        Plant::FlushIgnoresInterval,
        Plant::AlarmNotRearmed,
        Plant::FlushDoubleCounts,
        Plant::ClosingGetCountedTwice,
        Plant::AppendWriteDeferred,
        Plant::RollupDedupBySeq,
        Plant::ThresholdOffByOne,
        Plant::ProbeSuccessReopens,
        Plant::TenantChecksOnlyLifecycleFacts,
        Plant::FactTimestampUnchecked,
        Plant::QueueAcksFailedBatch,
        Plant::SystemLedgerWriteDeferred,
        Plant::ClosesOnlyOnHits,
        Plant::TenantBreakerStuckOpen,
        Plant::ReadsNewestFirst,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Plant::BreakerSkipsHalfOpen => "breaker_skips_half_open",
            Plant::HalfOpenAdmitsAll => "half_open_admits_all",
            Plant::FallbackOnBlocksCaller => "fallback_on_blocks_caller",
            Plant::FallbackOffSwallowsError => "fallback_off_swallows_error",
            Plant::NoWarningOnDrop => "no_warning_on_drop",
            Plant::PlatformDoesNotDeduplicate => "platform_does_not_deduplicate",
            Plant::FlushIgnoresInterval => "flush_ignores_interval",
            Plant::AlarmNotRearmed => "alarm_not_rearmed",
            Plant::FlushDoubleCounts => "flush_double_counts",
            Plant::ClosingGetCountedTwice => "closing_get_counted_twice",
            Plant::AppendWriteDeferred => "append_write_deferred",
            Plant::RollupDedupBySeq => "rollup_dedup_by_seq",
            Plant::ThresholdOffByOne => "threshold_off_by_one",
            Plant::ProbeSuccessReopens => "probe_success_reopens",
            Plant::TenantChecksOnlyLifecycleFacts => "tenant_checks_only_lifecycle_facts",
            Plant::FactTimestampUnchecked => "fact_timestamp_unchecked",
            Plant::QueueAcksFailedBatch => "queue_acks_failed_batch",
            Plant::SystemLedgerWriteDeferred => "system_ledger_write_deferred",
            Plant::ClosesOnlyOnHits => "closes_only_on_hits",
            Plant::TenantBreakerStuckOpen => "tenant_breaker_stuck_open",
            Plant::ReadsNewestFirst => "reads_newest_first",
        }
    }

    /// The invariant it must break.
    pub fn invariant(self) -> &'static str {
        match self {
            Plant::BreakerSkipsHalfOpen => "breaker_transitions_legal",
            Plant::HalfOpenAdmitsAll => "breaker_blocks_when_open",
            Plant::FallbackOnBlocksCaller => "fallback_isolates_primary",
            Plant::FallbackOffSwallowsError => "fallback_false_propagates",
            Plant::NoWarningOnDrop => "fallback_warns",
            Plant::PlatformDoesNotDeduplicate => "no_duplicate_facts",
            Plant::FlushIgnoresInterval => "stats_interval_respected",
            Plant::AlarmNotRearmed => "tenant_flush_cadence",
            Plant::FlushDoubleCounts => "tenant_totals_match",
            Plant::ClosingGetCountedTwice => "observability_conserved",
            Plant::AppendWriteDeferred => "primary_facts_durable",
            Plant::RollupDedupBySeq => "rollup_consistent",
            Plant::ThresholdOffByOne => "breaker_opens_on_threshold",
            Plant::ProbeSuccessReopens => "breaker_recovers",
            Plant::TenantChecksOnlyLifecycleFacts => "tenant_isolation",
            Plant::FactTimestampUnchecked => "hostile_facts_rejected",
            Plant::QueueAcksFailedBatch => "tenant_payloads_conserved",
            Plant::SystemLedgerWriteDeferred => "receiver_storage_durable",
            Plant::ClosesOnlyOnHits => "stats_interval_respected",
            Plant::TenantBreakerStuckOpen => "breaker_recovers",
            Plant::ReadsNewestFirst => "reads_consistent",
        }
    }

    /// A bundled scenario that exposes it (file name under `scenarios/`).
    pub fn scenario(self) -> &'static str {
        match self {
            Plant::BreakerSkipsHalfOpen
            | Plant::ThresholdOffByOne
            | Plant::ProbeSuccessReopens
            | Plant::HalfOpenAdmitsAll
            | Plant::FallbackOnBlocksCaller
            | Plant::NoWarningOnDrop
            | Plant::SystemLedgerWriteDeferred => "system-ledger-outage.toml",
            Plant::FallbackOffSwallowsError => "fallback-off-outage.toml",
            Plant::PlatformDoesNotDeduplicate
            | Plant::AlarmNotRearmed
            | Plant::FlushDoubleCounts
            | Plant::QueueAcksFailedBatch => "multi-tenant-queue.toml",
            Plant::FlushIgnoresInterval
            | Plant::ClosingGetCountedTwice
            | Plant::ClosesOnlyOnHits
            | Plant::ReadsNewestFirst => "smoke.toml",
            Plant::TenantBreakerStuckOpen => "multi-tenant-ledger-partition.toml",
            Plant::AppendWriteDeferred => "evictions.toml",
            Plant::RollupDedupBySeq => "entity-tree.toml",
            Plant::TenantChecksOnlyLifecycleFacts => "multi-tenant-misroute.toml",
            Plant::FactTimestampUnchecked => "hostile-facts.toml",
        }
    }

    /// The plant called `name`.
    pub fn parse(name: &str) -> Option<Plant> {
        Plant::ALL.into_iter().find(|plant| plant.name() == name)
    }
}

impl fmt::Display for Plant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(feature = "planted-bugs")]
thread_local! {
    static ACTIVE: std::cell::Cell<Option<Plant>> = const { std::cell::Cell::new(None) };
}

/// Activates `plant` (or none) for the simulation on this thread.
pub fn activate(plant: Option<Plant>) {
    #[cfg(feature = "planted-bugs")]
    ACTIVE.with(|active| active.set(plant));
    #[cfg(not(feature = "planted-bugs"))]
    let _ = plant;
}

/// Whether `plant` is active on this thread (always false without the feature).
#[inline(always)]
pub fn active(plant: Plant) -> bool {
    #[cfg(feature = "planted-bugs")]
    return ACTIVE.with(|active| active.get() == Some(plant));
    #[cfg(not(feature = "planted-bugs"))]
    {
        let _ = plant;
        false
    }
}

/// Whether any plant is active (debug assertions that a plant breaks on purpose stand down).
#[inline(always)]
pub fn any_active() -> bool {
    #[cfg(feature = "planted-bugs")]
    return ACTIVE.with(|active| active.get().is_some());
    #[cfg(not(feature = "planted-bugs"))]
    false
}
