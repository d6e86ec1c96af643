//! The invariants the oracle judges, by name, with what each holds: the one list the oracle's
//! report order, `[expect] violations` and the documentation follow.

/// One invariant.
pub struct Invariant {
    /// Its name in reports.
    pub name: &'static str,
    /// What it holds when it passes.
    pub holds: &'static str,
}

/// Every invariant, in report order.
pub const INVARIANTS: &[Invariant] = &[
    Invariant {
        name: "breaker_transitions_legal",
        holds: "every breaker transition starts from the client's last state and is CLOSED->OPEN, OPEN->HALF_OPEN or HALF_OPEN->CLOSED/OPEN; a restart resets to CLOSED",
    },
    Invariant {
        name: "breaker_opens_on_threshold",
        holds: "every client (awaited or not) admits, rejects and opens exactly as a reference breaker fed the same requests and network outcomes",
    },
    Invariant {
        name: "breaker_blocks_when_open",
        holds: "no delivery attempt leaves a client while its breaker is OPEN, and at most half_open_max_probes per HALF_OPEN episode",
    },
    Invariant {
        name: "breaker_recovers",
        holds: "every client that emitted (attempted, dropped or was rejected) after the last fault's end plus rpc_timeout plus the longest reset timeout, early enough for a probe to settle, is CLOSED one emission interval plus a probe's settling time later (skipped, naming the load, when receivers overloaded themselves after the faults)",
    },
    Invariant {
        name: "fallback_isolates_primary",
        holds: "fallback on: every primary operation returned to its caller at once, never waited for or failed from observability, and no primary operation failed",
    },
    Invariant {
        name: "fallback_false_propagates",
        holds: "every awaited client (fallback off; tenant flushes always): nothing dropped, every failed delivery surfaced an error to its waiting callers no later than the failure, every errored message later stored, lost with a restart or still held, and no operation returned before its SDK facts were stored",
    },
    Invariant {
        name: "fallback_warns",
        holds: "one fallback warning logged through tracing per fallback drop when warn_on_fallback, none when not",
    },
    Invariant {
        name: "stats_interval_respected",
        holds: "per entity, emitted stats periods follow each other without gaps or overlaps while tracking is on; a period closed by the interval is at least stats_min_interval long and closed by the first operation at or after its due time; flushes and disables close at once",
    },
    Invariant {
        name: "observability_conserved",
        holds: "per tracked entity, every hit, miss and append generated is in exactly one of: a stored SDK fact, a dropped one, one lost with a restart, one still held, an open period lost with a restart or an idle eviction (named apart), an open period at the end",
    },
    Invariant {
        name: "no_duplicate_facts",
        holds: "no receiver stores a fact id twice; the platform counts each flush once",
    },
    Invariant {
        name: "tenant_totals_match",
        holds: "each payload the platform stored equals what its tenant ledger stored in that period; the platform's totals equal the sum of its distinct payloads",
    },
    Invariant {
        name: "tenant_payloads_conserved",
        holds: "every period in which a tenant ledger stored facts is stored at the platform or on its way (pending or open with an alarm set, queued, being replayed); a loss names its cause (dead-lettered, deleted by the queue after its last delivery, expired in the queue, stranded without an alarm)",
    },
    Invariant {
        name: "tenant_isolation",
        holds: "no tenant ledger stores, and no parent entity accepts, a fact of another tenant",
    },
    Invariant {
        name: "tenant_flush_cadence",
        holds: "a tenant ledger with work always has an alarm (a gap names the deleted alarm); payload periods are aligned, one aggregation interval long, increasing in flush order",
    },
    Invariant {
        name: "primary_facts_durable",
        holds: "every hydration replays exactly the appends acknowledged before it; each entity stores at the end exactly what it acknowledged",
    },
    Invariant {
        name: "rollup_consistent",
        holds: "each parent's stored rollups are exactly the child facts it accepted, once each",
    },
    Invariant {
        name: "reads_consistent",
        holds: "every read the reader got answered (getSdkFacts, getCacheStats, getStats) equals what its ledger had stored when it answered; a tenant ledger never answers with another tenant's data",
    },
    Invariant {
        name: "hostile_facts_rejected",
        holds: "no receiver stores a fact equal to a forged one sent before it (the hostile_facts fault)",
    },
    Invariant {
        name: "receiver_storage_durable",
        holds: "every SDK fact a receiver acknowledged as stored is still in its storage at the end",
    },
];

/// Whether `name` is an invariant's name.
pub fn is_invariant(name: &str) -> bool {
    INVARIANTS.iter().any(|invariant| invariant.name == name)
}
