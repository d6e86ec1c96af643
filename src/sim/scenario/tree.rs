//! The entities a topology makes, written once: the tree's levels and the entities' actor
//! names (`entity:t<n>/<type>-<i>`), which the builder creates and `evict_entities` and
//! `misroute_entities` faults name.

use super::types::Scenario;

/// Fan-out of an entity tree: children per parent.
pub const TREE_FAN_OUT: usize = 4;

/// `(entity type, count)` per level, root level first: `entities_per_tenant` leaves of the
/// last level (`account` without a hierarchy), one entity per [`TREE_FAN_OUT`] below (rounded
/// up) in each level above.
pub fn tree_levels(scenario: &Scenario) -> Vec<(String, usize)> {
    let leaves = scenario.topology.entities_per_tenant as usize;
    if scenario.topology.hierarchy.is_empty() {
        return vec![("account".to_owned(), leaves)];
    }
    let mut levels = Vec::new();
    let mut count = leaves;
    for level in scenario.topology.hierarchy.iter().rev() {
        levels.push((level.clone(), count));
        count = count.div_ceil(TREE_FAN_OUT);
    }
    levels.reverse();
    levels
}

/// The actor name of entity `name` (`<type>-<i>`) of tenant `tenant`.
pub fn entity_actor_name(tenant: u32, name: &str) -> String {
    format!("entity:t{tenant}/{name}")
}

/// Why `name` is not the actor name of an entity of `scenario` (of tenant `only_tenant`, when
/// given), if it is not.
pub fn entity_name_problem(
    scenario: &Scenario,
    name: &str,
    only_tenant: Option<u32>,
) -> Option<String> {
    let expected = || {
        format!(
            "expected an entity's actor name, `entity:t<tenant>/<type>-<index>` (e.g. \"{}\"), got {name:?}",
            entity_actor_name(only_tenant.unwrap_or(0), &format!("{}-0", tree_levels(scenario)[0].0))
        )
    };
    let Some((tenant, entity)) = name
        .strip_prefix("entity:t")
        .and_then(|rest| rest.split_once('/'))
    else {
        return Some(expected());
    };
    let Ok(tenant) = tenant.parse::<u32>() else {
        return Some(expected());
    };
    let Some((entity_type, index)) = entity.rsplit_once('-') else {
        return Some(expected());
    };
    let Ok(index) = index.parse::<usize>() else {
        return Some(expected());
    };
    if let Some(only) = only_tenant.filter(|only| *only != tenant) {
        return Some(format!(
            "{name:?} is an entity of tenant t{tenant}: expected one of tenant t{only}'s"
        ));
    }
    if tenant >= scenario.topology.tenants {
        let tenants = match scenario.topology.tenants {
            1 => "there is 1 tenant (t0)".to_owned(),
            n => format!("there are {n} tenants (t0 to t{})", n - 1),
        };
        return Some(format!("{name:?} names tenant t{tenant}, but {tenants}"));
    }
    let levels = tree_levels(scenario);
    let Some((_, count)) = levels.iter().find(|(level, _)| level == entity_type) else {
        let types: Vec<&str> = levels.iter().map(|(level, _)| level.as_str()).collect();
        return Some(format!(
            "{name:?}: no entity type {entity_type:?}; the types are {}",
            types.join(", ")
        ));
    };
    (index >= *count).then(|| {
        format!(
            "{name:?}: tenant t{tenant} has {count} {entity_type} entities, numbered from 0 to {}",
            count.saturating_sub(1)
        )
    })
}
