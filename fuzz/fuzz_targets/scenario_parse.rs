//! Arbitrary text into `parse_scenario`: it never panics, and whatever it accepts is valid and
//! round-trips through `Scenario::to_toml` unchanged. The diagnostics (`diagnose`, rendered
//! with carets) never panic either, and agree with `parse_scenario` on whether the text is
//! valid.
//!
//! Inputs that are not UTF-8 are skipped: `load_scenario` rejects them before parsing (tested in
//! `tests/scenario_files.rs`), so `parse_scenario` only ever sees text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use z0sim::sim::parse_scenario;
use z0sim::sim::scenario::diagnose::diagnose;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let diagnosis = diagnose(text, "fuzz.toml");
    let _ = diagnosis.render("fuzz.toml", text, false);
    let parsed = parse_scenario(text, "fuzz.toml");
    assert_eq!(
        diagnosis.errors.is_empty(),
        parsed.is_ok(),
        "diagnose and parse_scenario disagree on:\n{text}\n{parsed:?}\n{:?}",
        diagnosis.errors
    );
    let Ok(scenario) = parsed else {
        return;
    };
    if let Err(error) = scenario.validate("fuzz.toml") {
        panic!("parse_scenario accepted a scenario that validate rejects: {error}\n{text}");
    }
    let written = scenario.to_toml();
    let reparsed = parse_scenario(&written, "written.toml");
    assert_eq!(
        reparsed,
        Ok(scenario),
        "to_toml does not round-trip; input:\n{text}\nwritten:\n{written}"
    );
});
