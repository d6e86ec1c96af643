//! Arbitrary text into `parse_scenario`: it never panics, and whatever it accepts is valid and
//! round-trips through `Scenario::to_toml` unchanged.
//!
//! Inputs that are not UTF-8 are skipped: `load_scenario` rejects them before parsing (tested in
//! `tests/scenario_files.rs`), so `parse_scenario` only ever sees text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use z0sim::sim::parse_scenario;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(scenario) = parse_scenario(text, "fuzz.toml") else {
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
