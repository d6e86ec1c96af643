//! The reference pages under `docs/reference/` are generated from the code's own tables (every
//! scenario key, fault kind, counter, invariant and planted bug): a test fails when a page and
//! its table disagree. `Z0SIM_BLESS=1 cargo test --test docs` writes them anew.

use std::path::Path;

fn check(page: &str, generated: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/reference")
        .join(page);
    if std::env::var("Z0SIM_BLESS").is_ok_and(|value| value == "1") {
        std::fs::write(&path, generated).expect("write the page");
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert!(
        committed == generated,
        "docs/reference/{page} differs from the code's tables; regenerate it with \
         Z0SIM_BLESS=1 cargo test --test docs and review the diff"
    );
}

#[test]
fn the_scenario_key_reference_matches_the_schema() {
    let generated = z0sim::sim::docs::scenario_keys();
    for setting in z0sim::sim::scenario::schema::SETTINGS {
        assert!(
            generated.contains(&format!("| `{}` |", setting.key)),
            "{}",
            setting.key
        );
    }
    for kind in z0sim::sim::scenario::faults::FAULT_KINDS {
        assert!(
            generated.contains(&format!("| `{}` |", kind.name)),
            "{}",
            kind.name
        );
    }
    for counter in z0sim::runtime::Counters::NAMES {
        assert!(generated.contains(&format!("| `{counter}` |")), "{counter}");
    }
    check("scenario-keys.md", &generated);
}

#[test]
fn the_invariant_reference_matches_the_oracle() {
    let generated = z0sim::sim::docs::invariants();
    for invariant in z0sim::sim::invariants::INVARIANTS {
        assert!(generated.contains(&format!("| `{}` |", invariant.name)));
    }
    check("invariants.md", &generated);
}

/// The oracle judges exactly the listed invariants, in the listed order.
#[test]
fn the_oracle_judges_the_listed_invariants_in_order() {
    let scenario = z0sim::sim::parse_scenario("name = \"x\"\nduration = \"2m\"\n", "x.toml")
        .expect("a minimal scenario");
    let report = z0sim::sim::run(&scenario, 1, &z0sim::sim::RunOptions::default()).expect("runs");
    let judged: Vec<&str> = report
        .invariants
        .iter()
        .map(|invariant| invariant.name.as_str())
        .collect();
    let listed: Vec<&str> = z0sim::sim::invariants::INVARIANTS
        .iter()
        .map(|invariant| invariant.name)
        .collect();
    assert_eq!(judged, listed);
}
