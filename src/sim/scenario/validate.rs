//! A scenario as a whole: every setting within its range (from the table), the rules that
//! span keys, every fault against the topology, the `[expect]` counters. The same checks for a
//! parsed file and a scenario built in code.

use super::duration::{duration_problem, duration_range_problem};
use super::error::ScenarioError;
use super::faults::{Needs, ParamKind, ParamValue};
use super::schema::{Kind, Value, SETTINGS};
use super::suggest::closest;
use super::tree::entity_name_problem;
use super::types::{Fault, FaultKind, Group, Mode, PlatformSink, Requirement, Scenario, Target};
use super::EXPECT_DISTRIBUTIONS;
use super::{EXPECT_COUNTERS, MAX_FAULTS, MAX_HIERARCHY_DEPTH, MAX_TOTAL_ENTITIES};
use crate::sim::invariants::{is_invariant, INVARIANTS};

/// A problem at a key path.
pub(super) type Problem = (String, String);

impl Scenario {
    /// Checks every rule of the format on an already built scenario (`parse_scenario` does
    /// this too); `origin` prefixes the error message.
    pub fn validate(&self, origin: &str) -> Result<(), ScenarioError> {
        self.first_problem().map_or(Ok(()), |(key, message)| {
            Err(ScenarioError::at_key(origin, key, message))
        })
    }

    fn first_problem(&self) -> Option<Problem> {
        self.problems().into_iter().next()
    }

    /// Every problem of the scenario, in the order of the format: settings, faults, `[expect]`.
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for setting in SETTINGS {
            let path = setting.path();
            problems.extend(value_problem(&path, setting.kind, &(setting.get)(self)));
            problems.extend(self.cross_key_problem(&path));
        }
        if self.faults.len() > MAX_FAULTS {
            let message = format!(
                "has {} entries; at most {MAX_FAULTS} are supported",
                self.faults.len()
            );
            problems.push(("faults".to_owned(), message));
        } else {
            problems.extend(
                self.faults
                    .iter()
                    .enumerate()
                    .filter_map(|(index, fault)| self.fault_problem(index, fault)),
            );
        }
        problems.extend(self.expect_problem());
        problems
    }

    /// The rules between `path` and keys before it.
    fn cross_key_problem(&self, path: &str) -> Option<Problem> {
        match path {
            "topology.entities_per_tenant" => {
                let topology = &self.topology;
                let total = u64::from(topology.tenants) * u64::from(topology.entities_per_tenant);
                (total > MAX_TOTAL_ENTITIES).then(|| {
                    (path.to_owned(), format!(
                        "tenants * entities_per_tenant = {total} entities; at most {MAX_TOTAL_ENTITIES} in total are supported"
                    ))
                })
            }
            "runtime.idle_eviction_after" => (self.runtime.idle_eviction_after_ms.0 == 0).then(|| {
                (format!("{path}[0]"), "expected a shortest idle stretch longer than 0 ms, got 0 ms".to_owned())
            }),
            "queue.dead_letter_replay" => (self.queue.dead_letter_replay
                && !self.queue.dead_letter_queue)
                .then(|| {
                    (path.to_owned(), "is true, but there is no dead-letter queue to replay: expected `dead_letter_queue = true` in [queue] as well".to_owned())
                }),
            "sdk.breaker.reset_timeout_max" => {
                let breaker = &self.sdk.breaker;
                duration_problem(breaker.reset_timeout_max_ms, breaker.reset_timeout_ms)
                    .map(|message| (path.to_owned(), message))
            }
            _ => None,
        }
    }

    fn fault_problem(&self, index: usize, fault: &Fault) -> Option<Problem> {
        let key = |name: &str| format!("faults[{index}].{name}");
        if fault.at_ms >= self.duration_ms {
            return Some((key("at"), format!(
                "starts at or after the run's end: expected a time before the run's duration ({} ms), got {} ms",
                self.duration_ms, fault.at_ms
            )));
        }
        if let Some(message) = duration_problem(fault.duration_ms, 1) {
            return Some((key("duration"), message));
        }
        let spec = fault.kind.spec();
        if let Some(message) = self.needs_problem(spec.name, spec.needs) {
            return Some((key("kind"), message));
        }
        // A misroute's entities are tenant 0's.
        let only_tenant = matches!(fault.kind, FaultKind::MisrouteEntities { .. }).then_some(0);
        for (param, value) in spec.params.iter().zip(fault.kind.params()) {
            if let Some(message) = self.param_problem(param.kind, value, only_tenant) {
                return Some((key(param.key), message));
            }
        }
        let target = fault.target?;
        if !spec.takes_target {
            return Some((
                key("target"),
                format!(
                    "`target` is not a key of {} faults; they take: {}",
                    spec.name,
                    spec.keys().join(", ")
                ),
            ));
        }
        self.target_problem(target)
            .map(|message| (key("target"), message))
    }

    fn needs_problem(&self, kind: &str, needs: Needs) -> Option<String> {
        let multi_tenant = self.topology.mode == Mode::MultiTenant;
        match needs {
            Needs::Nothing => None,
            Needs::Queue => (!multi_tenant || self.topology.platform_sink != PlatformSink::Queue)
                .then(|| format!(
                    "{kind} faults need the platform queue: topology.mode = \"multi_tenant\" and topology.platform_sink = \"queue\""
                )),
            Needs::TwoTenants => (!multi_tenant || self.topology.tenants < 2).then(|| {
                format!("{kind} faults need topology.mode = \"multi_tenant\" and at least 2 tenants")
            }),
        }
    }

    fn param_problem(
        &self,
        kind: ParamKind,
        value: ParamValue,
        only_tenant: Option<u32>,
    ) -> Option<String> {
        match (kind, value) {
            (ParamKind::Ratio, ParamValue::Ratio(ratio)) => {
                number_problem(ratio, 0.0, 1.0, "a number", "")
            }
            (ParamKind::Duration, ParamValue::Duration(ms)) => duration_problem(ms, 1),
            (ParamKind::Groups, ParamValue::Groups(between)) => self.groups_problem(between),
            (ParamKind::Entities, ParamValue::Entities(names)) => {
                self.entities_problem(&names, only_tenant)
            }
            (kind, value) => unreachable!("a {kind:?} param holds {value:?}"),
        }
    }

    fn entities_problem(&self, names: &[String], only_tenant: Option<u32>) -> Option<String> {
        if names.is_empty() {
            return Some(
                "expected at least one entity, e.g. entities = [\"entity:t0/account-3\"]"
                    .to_owned(),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(name) = names.iter().find(|name| !seen.insert(name.as_str())) {
            return Some(format!("{name:?} is listed twice"));
        }
        names
            .iter()
            .find_map(|name| entity_name_problem(self, name, only_tenant))
    }

    fn groups_problem(&self, between: [Group; 2]) -> Option<String> {
        let problem = between.iter().find_map(|group| match group {
            Group::Entities => None,
            Group::System => self.system_problem(),
            Group::SystemShard(n) => self.shard_problem(*n),
            Group::Tenant(n) => self.tenant_problem(&group.to_string(), *n),
            Group::Platform => self.platform_problem(&group.to_string()),
        });
        problem.or_else(|| {
            (between[0] == between[1]).then(|| {
                format!(
                    "expected two different groups, got {:?} twice",
                    between[0].to_string()
                )
            })
        })
    }

    fn target_problem(&self, target: Target) -> Option<String> {
        match target {
            Target::System => self.system_problem(),
            Target::SystemShard(n) => self.shard_problem(n),
            Target::Tenant(n) => self.tenant_problem(&target.to_string(), n),
            Target::Platform => self.platform_problem(&target.to_string()),
        }
    }

    /// `"system"` exists only in single mode.
    fn system_problem(&self) -> Option<String> {
        (self.topology.mode == Mode::MultiTenant).then(|| {
            "\"system\" exists only in single mode; in multi_tenant mode use \"tenant:<n>\" or \"platform\"".to_owned()
        })
    }

    /// `"system:<n>"` exists only in single mode, for an existing shard.
    fn shard_problem(&self, n: u32) -> Option<String> {
        let shards = self.topology.system_shards;
        self.system_problem().or_else(|| {
            (n >= shards).then(|| {
                format!(
                    "SystemLedger shard {n} does not exist: shards are numbered from 0 to {} (topology.system_shards = {shards})",
                    shards.saturating_sub(1)
                )
            })
        })
    }

    /// `"tenant:<n>"` exists only in multi_tenant mode, for an existing tenant.
    fn tenant_problem(&self, spelled: &str, n: u32) -> Option<String> {
        let tenants = self.topology.tenants;
        self.platform_problem(spelled).or_else(|| {
            (n >= tenants).then(|| {
                format!(
                    "tenant {n} does not exist: tenants are numbered from 0 to {} (topology.tenants = {tenants})",
                    tenants.saturating_sub(1)
                )
            })
        })
    }

    /// `"platform"` (and `"tenant:<n>"`) exist only in multi_tenant mode.
    fn platform_problem(&self, spelled: &str) -> Option<String> {
        (self.topology.mode != Mode::MultiTenant).then(|| {
            format!(
                "{spelled:?} exists only in multi_tenant mode (topology.mode = \"multi_tenant\")"
            )
        })
    }

    fn expect_problem(&self) -> Option<Problem> {
        if let Some(unknown) = self
            .expect
            .violations
            .iter()
            .find(|name| !is_invariant(name))
        {
            let names: Vec<&str> = INVARIANTS.iter().map(|invariant| invariant.name).collect();
            return Some((
                "expect.violations".to_owned(),
                format!(
                    "unknown invariant {unknown:?}; expected some of: {}",
                    names.join(", ")
                ),
            ));
        }
        self.expect
            .checks
            .iter()
            .find_map(|(name, requirement)| requirement_problem(name, requirement))
            .map(|message| (format!("expect.{}", message.0), message.1))
    }
}

/// What is wrong with a setting's value, at its path (or an element's).
fn value_problem(path: &str, kind: Kind, value: &Value) -> Option<Problem> {
    let here = |message: String| Some((path.to_owned(), message));
    match (kind, value) {
        (Kind::Text { non_blank: true }, Value::Text(text)) if text.trim().is_empty() => {
            here("must not be empty".to_owned())
        }
        (Kind::Count { min, max }, Value::Count(count)) if !(min..=max).contains(count) => {
            here(format!("must be between {min} and {max}, got {count}"))
        }
        (
            Kind::Number {
                min,
                max,
                noun,
                suffix,
            },
            Value::Number(number),
        ) => number_problem(*number, min, max, noun, suffix).and_then(here),
        (Kind::Duration { min_ms, max_ms }, Value::Duration(ms)) => {
            duration_range_problem(*ms, min_ms, max_ms).and_then(here)
        }
        (Kind::Levels, Value::Levels(levels)) => levels_problem(path, levels),
        (Kind::LatencyRange, Value::Latency(min_ms, max_ms)) => {
            latency_problem(path, *min_ms, *max_ms)
        }
        _ => None,
    }
}

fn number_problem(value: f64, min: f64, max: f64, noun: &str, suffix: &str) -> Option<String> {
    (!(value.is_finite() && (min..=max).contains(&value)))
        .then(|| format!("expected {noun} from {min:?} to {max:?}{suffix}, got {value}"))
}

fn levels_problem(path: &str, levels: &[String]) -> Option<Problem> {
    if levels.len() > MAX_HIERARCHY_DEPTH {
        return Some((
            path.to_owned(),
            format!(
                "has {} levels; at most {MAX_HIERARCHY_DEPTH} are supported",
                levels.len()
            ),
        ));
    }
    levels.iter().enumerate().find_map(|(index, level)| {
        let key = format!("{path}[{index}]");
        if level.trim().is_empty() {
            return Some((key, "expected a non-empty level name".to_owned()));
        }
        levels[..index]
            .contains(level)
            .then(|| (key, format!("level name {level:?} appears twice")))
    })
}

fn latency_problem(path: &str, min_ms: u64, max_ms: u64) -> Option<Problem> {
    let bound = |index: usize, ms: u64| {
        duration_problem(ms, 0).map(|message| (format!("{path}[{index}]"), message))
    };
    bound(0, min_ms).or_else(|| bound(1, max_ms)).or_else(|| {
        (min_ms > max_ms).then(|| {
            (
                path.to_owned(),
                format!(
                    "expected [min, max] with min <= max, got min {min_ms} ms > max {max_ms} ms"
                ),
            )
        })
    })
}

/// What is wrong with `[expect] name = requirement`, if anything: `(key under expect, why)`.
fn requirement_problem(name: &str, requirement: &Requirement) -> Option<(String, String)> {
    let counter = EXPECT_COUNTERS.contains(&name);
    let distribution = EXPECT_DISTRIBUTIONS.contains(&name);
    if !counter && !distribution {
        let known: Vec<&str> = EXPECT_COUNTERS
            .iter()
            .chain(EXPECT_DISTRIBUTIONS)
            .copied()
            .collect();
        return Some((
            name.to_owned(),
            format!(
                "unknown counter or distribution{}; expected a counter ({}) or a distribution ({})",
                closest(name, &known),
                EXPECT_COUNTERS.join(", "),
                EXPECT_DISTRIBUTIONS.join(", ")
            ),
        ));
    }
    match *requirement {
        Requirement::Positive(_) if distribution => Some((
            name.to_owned(),
            format!("{name} is a distribution: expected bounds such as {name} = {{ p99_max = \"90s\" }}"),
        )),
        Requirement::Range { min: Some(min), max: Some(max) } if min > max => Some((
            format!("{name}.min"),
            format!("is {min}, more than max ({max}): expected min <= max"),
        )),
        _ => None,
    }
}
