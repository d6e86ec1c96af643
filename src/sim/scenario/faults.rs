//! The fault kinds, written once: each kind's name, meaning, keys and what it needs of the
//! topology. The parser, the validator, the TOML writer, the error messages, the fuzz
//! dictionary and the documentation all read [`FAULT_KINDS`].

use super::types::{FaultKind, Group};

/// The `duration` of an instantaneous fault (`evict`) that leaves it out, ms.
pub const INSTANT_DURATION_MS: u64 = 1;

/// What a fault key holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A probability from 0.0 to 1.0.
    Ratio,
    /// A duration longer than 0.
    Duration,
    /// Two different groups `[A, B]`.
    Groups,
    /// Entity ledgers by actor name, `["entity:t0/account-3", ...]`: at least one, no repeats.
    Entities,
}

/// A key of some fault kinds besides `kind`, `at`, `duration` and `target`.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// The key.
    pub key: &'static str,
    /// What it holds.
    pub kind: ParamKind,
    /// An example value, as written in TOML.
    pub example: &'static str,
}

/// A fault key's value.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    /// [`ParamKind::Ratio`].
    Ratio(f64),
    /// [`ParamKind::Duration`], ms.
    Duration(u64),
    /// [`ParamKind::Groups`].
    Groups([Group; 2]),
    /// [`ParamKind::Entities`].
    Entities(Vec<String>),
}

/// What a fault kind needs of the topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing.
    Nothing,
    /// The platform queue: `multi_tenant` mode with `platform_sink = "queue"`.
    Queue,
    /// `multi_tenant` mode with at least two tenants.
    TwoTenants,
}

/// One fault kind.
pub struct FaultKindSpec {
    /// Its name in `kind = "..."`.
    pub name: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// Its keys besides `kind`, `at`, `duration` and `target`.
    pub params: &'static [Param],
    /// Whether it takes `target` (the faults that hit one ledger).
    pub takes_target: bool,
    /// Whether it happens at `at` and has no length: `duration` may be left out (it is then
    /// [`INSTANT_DURATION_MS`]) and is ignored.
    pub instantaneous: bool,
    /// What it needs of the topology.
    pub needs: Needs,
    /// The fault from its keys' values, in the order of `params`.
    build: fn(&[ParamValue]) -> FaultKind,
}

const RATE: Param = Param {
    key: "rate",
    kind: ParamKind::Ratio,
    example: "0.5",
};
const FRACTION: Param = Param {
    key: "fraction",
    kind: ParamKind::Ratio,
    example: "0.5",
};
const EXTRA_LATENCY: Param = Param {
    key: "extra_latency",
    kind: ParamKind::Duration,
    example: "\"500ms\"",
};
const BETWEEN: Param = Param {
    key: "between",
    kind: ParamKind::Groups,
    example: "[\"entities\", \"system\"]",
};

const ENTITIES: Param = Param {
    key: "entities",
    kind: ParamKind::Entities,
    example: "[\"entity:t0/account-3\"]",
};

/// Every fault kind, in the order they are listed.
pub static FAULT_KINDS: &[FaultKindSpec] = &[
    FaultKindSpec {
        name: "system_ledger_down",
        doc: "the target ledger is killed at `at` and restarted at the end",
        params: &[],
        takes_target: true,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |_| FaultKind::SystemLedgerDown,
    },
    FaultKindSpec {
        name: "system_ledger_overloaded",
        doc: "the target ledger answers `rate` of its requests `overloaded`",
        params: &[RATE],
        takes_target: true,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |values| FaultKind::SystemLedgerOverloaded {
            rate: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "system_ledger_slow",
        doc: "every answer of the target ledger takes `extra_latency` longer",
        params: &[EXTRA_LATENCY],
        takes_target: true,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |values| FaultKind::SystemLedgerSlow {
            extra_latency_ms: duration_ms(values, 0),
        },
    },
    FaultKindSpec {
        name: "partition",
        doc: "no message passes between the two groups `between` (\"entities\", \"system\", \"tenant:<n>\", \"platform\")",
        params: &[BETWEEN],
        takes_target: false,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |values| FaultKind::Partition {
            between: groups(values, 0),
        },
    },
    FaultKindSpec {
        name: "packet_loss",
        doc: "`rate` of all messages are lost",
        params: &[RATE],
        takes_target: false,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |values| FaultKind::PacketLoss {
            rate: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "evict",
        doc: "`fraction` of the entity ledgers, picked at random, restart at `at` (the duration does not matter)",
        params: &[FRACTION],
        takes_target: false,
        instantaneous: true,
        needs: Needs::Nothing,
        build: |values| FaultKind::Evict {
            fraction: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "alarm_failure",
        doc: "`rate` of the alarm handler runs of the tenant ledgers (or the target) fail",
        params: &[RATE],
        takes_target: true,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |values| FaultKind::AlarmFailure {
            rate: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "queue_duplicate",
        doc: "each message the queue delivered is delivered again with probability `rate`",
        params: &[RATE],
        takes_target: false,
        instantaneous: false,
        needs: Needs::Queue,
        build: |values| FaultKind::QueueDuplicate {
            rate: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "queue_consumer_failure",
        doc: "the queue's consumer fails `rate` of its batches",
        params: &[RATE],
        takes_target: false,
        instantaneous: false,
        needs: Needs::Queue,
        build: |values| FaultKind::QueueConsumerFailure {
            rate: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "misroute",
        doc: "extension: `fraction` of tenant 0's entities send their SDK facts to tenant 1's ledger",
        params: &[FRACTION],
        takes_target: false,
        instantaneous: false,
        needs: Needs::TwoTenants,
        build: |values| FaultKind::Misroute {
            fraction: ratio(values, 0),
        },
    },
    FaultKindSpec {
        name: "evict_entities",
        doc: "extension: the listed entity ledgers restart at `at` (the duration does not matter); what `z0sim run --export` writes for an `evict`",
        params: &[ENTITIES],
        takes_target: false,
        instantaneous: true,
        needs: Needs::Nothing,
        build: |values| FaultKind::EvictEntities {
            entities: entities(values, 0),
        },
    },
    FaultKindSpec {
        name: "misroute_entities",
        doc: "extension: the listed entities of tenant 0 send their SDK facts to tenant 1's ledger; what `z0sim run --export` writes for a `misroute`",
        params: &[ENTITIES],
        takes_target: false,
        instantaneous: false,
        needs: Needs::TwoTenants,
        build: |values| FaultKind::MisrouteEntities {
            entities: entities(values, 0),
        },
    },
    FaultKindSpec {
        name: "hostile_facts",
        doc: "extension: each SDK fact an entity sends is followed, with probability `rate`, by a forged one",
        params: &[RATE],
        takes_target: false,
        instantaneous: false,
        needs: Needs::Nothing,
        build: |values| FaultKind::HostileFacts {
            rate: ratio(values, 0),
        },
    },
];

/// The kind called `name`, if there is one.
pub fn fault_kind(name: &str) -> Option<&'static FaultKindSpec> {
    FAULT_KINDS.iter().find(|kind| kind.name == name)
}

/// Every kind's name, in order.
pub fn kind_names() -> Vec<&'static str> {
    FAULT_KINDS.iter().map(|kind| kind.name).collect()
}

/// Every per-kind key of any kind (`target` first, then the params in the order they first
/// appear).
pub fn param_keys() -> Vec<&'static str> {
    let mut keys = vec!["target"];
    for param in FAULT_KINDS.iter().flat_map(|kind| kind.params) {
        if !keys.contains(&param.key) {
            keys.push(param.key);
        }
    }
    keys
}

impl FaultKindSpec {
    /// Every key a fault of this kind takes besides `kind`: `at`, `duration`, its params and
    /// `target`.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys = vec!["at", "duration"];
        keys.extend(self.params.iter().map(|param| param.key));
        if self.takes_target {
            keys.push("target");
        }
        keys
    }

    /// The fault from its params' values, in the order of `params`.
    pub fn build(&self, values: &[ParamValue]) -> FaultKind {
        debug_assert_eq!(values.len(), self.params.len(), "{}", self.name);
        (self.build)(values)
    }
}

impl FaultKind {
    /// Its kind in [`FAULT_KINDS`].
    pub fn spec(&self) -> &'static FaultKindSpec {
        let name = match self {
            FaultKind::SystemLedgerDown => "system_ledger_down",
            FaultKind::SystemLedgerOverloaded { .. } => "system_ledger_overloaded",
            FaultKind::SystemLedgerSlow { .. } => "system_ledger_slow",
            FaultKind::Partition { .. } => "partition",
            FaultKind::PacketLoss { .. } => "packet_loss",
            FaultKind::Evict { .. } => "evict",
            FaultKind::AlarmFailure { .. } => "alarm_failure",
            FaultKind::QueueDuplicate { .. } => "queue_duplicate",
            FaultKind::QueueConsumerFailure { .. } => "queue_consumer_failure",
            FaultKind::Misroute { .. } => "misroute",
            FaultKind::HostileFacts { .. } => "hostile_facts",
            FaultKind::EvictEntities { .. } => "evict_entities",
            FaultKind::MisrouteEntities { .. } => "misroute_entities",
        };
        fault_kind(name).unwrap_or_else(|| unreachable!("{name} is in FAULT_KINDS"))
    }

    /// The TOML spelling of the kind, e.g. `"system_ledger_down"`.
    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    /// True for the kinds that accept a `target` key.
    pub fn takes_target(&self) -> bool {
        self.spec().takes_target
    }

    /// Its params' values, in the order of its kind's `params`.
    pub fn params(&self) -> Vec<ParamValue> {
        match self {
            FaultKind::SystemLedgerDown => Vec::new(),
            FaultKind::SystemLedgerOverloaded { rate }
            | FaultKind::PacketLoss { rate }
            | FaultKind::AlarmFailure { rate }
            | FaultKind::QueueDuplicate { rate }
            | FaultKind::QueueConsumerFailure { rate }
            | FaultKind::HostileFacts { rate } => vec![ParamValue::Ratio(*rate)],
            FaultKind::Evict { fraction } | FaultKind::Misroute { fraction } => {
                vec![ParamValue::Ratio(*fraction)]
            }
            FaultKind::SystemLedgerSlow { extra_latency_ms } => {
                vec![ParamValue::Duration(*extra_latency_ms)]
            }
            FaultKind::Partition { between } => vec![ParamValue::Groups(*between)],
            FaultKind::EvictEntities { entities } | FaultKind::MisrouteEntities { entities } => {
                vec![ParamValue::Entities(entities.clone())]
            }
        }
    }
}

fn ratio(values: &[ParamValue], index: usize) -> f64 {
    match values.get(index) {
        Some(ParamValue::Ratio(value)) => *value,
        other => unreachable!("param {index} is not a ratio: {other:?}"),
    }
}

fn duration_ms(values: &[ParamValue], index: usize) -> u64 {
    match values.get(index) {
        Some(ParamValue::Duration(ms)) => *ms,
        other => unreachable!("param {index} is not a duration: {other:?}"),
    }
}

fn groups(values: &[ParamValue], index: usize) -> [Group; 2] {
    match values.get(index) {
        Some(ParamValue::Groups(groups)) => *groups,
        other => unreachable!("param {index} is not two groups: {other:?}"),
    }
}

fn entities(values: &[ParamValue], index: usize) -> Vec<String> {
    match values.get(index) {
        Some(ParamValue::Entities(names)) => names.clone(),
        other => unreachable!("param {index} is not a list of entities: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_builds_back_from_its_own_params() {
        for spec in FAULT_KINDS {
            let values: Vec<ParamValue> = spec
                .params
                .iter()
                .map(|param| match param.kind {
                    ParamKind::Ratio => ParamValue::Ratio(0.25),
                    ParamKind::Duration => ParamValue::Duration(7),
                    ParamKind::Groups => ParamValue::Groups([Group::Entities, Group::Platform]),
                    ParamKind::Entities => ParamValue::Entities(vec!["entity:t0/account-1".into()]),
                })
                .collect();
            let kind = spec.build(&values);
            assert_eq!(kind.name(), spec.name);
            assert_eq!(kind.params(), values, "{}", spec.name);
        }
    }

    #[test]
    fn kind_names_are_distinct() {
        let names = kind_names();
        for (position, name) in names.iter().enumerate() {
            assert!(!names[position + 1..].contains(name), "{name} twice");
        }
    }
}
