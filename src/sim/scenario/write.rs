//! A scenario written back as TOML, every key from the tables: for a valid scenario
//! `parse_scenario(&s.to_toml(), _) == Ok(s)`. Also the fuzz dictionary of the format.

use super::duration::format_duration_ms;
use super::faults::{kind_names, param_keys, ParamValue, FAULT_KINDS, INSTANT_DURATION_MS};
use super::schema::{Value, SECTIONS, SETTINGS};
use super::types::{Requirement, Scenario};
use super::{DISTRIBUTION_KEYS, EXPECT_COUNTERS, EXPECT_DISTRIBUTIONS, RANGE_KEYS};

impl Scenario {
    /// The scenario in the format's TOML: every key written out, durations as `"<n>ms"`.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for section in std::iter::once("").chain(SECTIONS) {
            if !section.is_empty() {
                out.push_str(&format!("\n[{section}]\n"));
            }
            for setting in SETTINGS.iter().filter(|setting| setting.section == section) {
                push_line(&mut out, setting.key, toml_value(&(setting.get)(self)));
            }
        }
        for fault in &self.faults {
            out.push_str("\n[[faults]]\n");
            push_line(&mut out, "kind", toml_string(fault.kind.name()));
            push_line(&mut out, "at", format_duration_ms(fault.at_ms));
            // An instantaneous fault's duration is ignored: written only if not the default.
            if !fault.kind.spec().instantaneous || fault.duration_ms != INSTANT_DURATION_MS {
                push_line(&mut out, "duration", format_duration_ms(fault.duration_ms));
            }
            for (param, value) in fault.kind.spec().params.iter().zip(fault.kind.params()) {
                push_line(&mut out, param.key, toml_param(value));
            }
            if let Some(target) = fault.target {
                push_line(&mut out, "target", toml_string(&target.to_string()));
            }
        }
        if !self.expect.checks.is_empty() || !self.expect.violations.is_empty() {
            out.push_str("\n[expect]\n");
            if !self.expect.violations.is_empty() {
                let names: Vec<String> = self
                    .expect
                    .violations
                    .iter()
                    .map(|name| toml_string(name))
                    .collect();
                push_line(&mut out, "violations", format!("[{}]", names.join(", ")));
            }
            for (name, requirement) in &self.expect.checks {
                push_line(&mut out, &toml_key(name), toml_requirement(requirement));
            }
        }
        out
    }
}

/// The libFuzzer dictionary of `scenario_parse`: every key, table header, choice and fault
/// kind of the format, counters, and values that reach its edge cases
/// (`fuzz/scenario_parse.dict`; a test keeps the file equal to this).
pub fn fuzz_dictionary() -> String {
    let mut words: Vec<String> = Vec::new();
    let mut add = |word: String| {
        if !words.contains(&word) {
            words.push(word);
        }
    };
    for setting in SETTINGS {
        add(format!("{:?}", setting.key));
        if let super::schema::Kind::Choice { variants } = setting.kind {
            for variant in variants {
                add(format!("{:?}", format!("\"{variant}\"")));
            }
        }
    }
    for section in SECTIONS {
        for part in section.split('.') {
            add(format!("{part:?}"));
        }
        add(format!("{:?}", format!("[{section}]")));
    }
    for word in ["faults", "kind", "at", "expect"]
        .into_iter()
        .chain(param_keys())
    {
        add(format!("{word:?}"));
    }
    for name in kind_names() {
        add(format!("{:?}", format!("\"{name}\"")));
    }
    for group in [
        "entities", "system", "system:1", "platform", "tenant:0", "tenant:1",
    ] {
        add(format!("{:?}", format!("\"{group}\"")));
    }
    for name in EXPECT_COUNTERS
        .iter()
        .chain(EXPECT_DISTRIBUTIONS)
        .chain(RANGE_KEYS)
        .chain(DISTRIBUTION_KEYS)
    {
        add(format!("{name:?}"));
    }
    for edge in EDGES {
        add(format!("{edge:?}"));
    }
    add("\"\\x0A\"".to_owned());
    debug_assert!(FAULT_KINDS.len() <= words.len());
    let mut dictionary =
        "# libFuzzer dictionary for scenario_parse: the scenario format's keys and values.\n# Generated from the format's tables (src/sim/scenario/write.rs, fuzz_dictionary).\n"
            .to_owned();
    for word in words {
        dictionary.push_str(&word);
        dictionary.push('\n');
    }
    dictionary
}

/// Values at the edges of the format, for the fuzz dictionary.
const EDGES: [&str; 16] = [
    "[[faults]]",
    " = ",
    "\"3m\"",
    "\"250ms\"",
    "\"1h\"",
    "\"30d\"",
    "\"1m 30s\"",
    "true",
    "false",
    "0.5",
    "nan",
    "inf",
    "-0.0",
    "1e3",
    "\"\"\"",
    "'",
];

fn toml_value(value: &Value) -> String {
    match value {
        Value::Text(text) | Value::Choice(text) => toml_string(text),
        Value::Bool(flag) => flag.to_string(),
        Value::Count(count) => count.to_string(),
        Value::Number(number) => toml_float(*number),
        Value::Duration(ms) => format_duration_ms(*ms),
        Value::Levels(levels) => {
            let levels: Vec<String> = levels.iter().map(|level| toml_string(level)).collect();
            format!("[{}]", levels.join(", "))
        }
        Value::Latency(min_ms, max_ms) => format!(
            "[{}, {}]",
            format_duration_ms(*min_ms),
            format_duration_ms(*max_ms)
        ),
    }
}

fn toml_param(value: ParamValue) -> String {
    match value {
        ParamValue::Ratio(ratio) => toml_float(ratio),
        ParamValue::Duration(ms) => format_duration_ms(ms),
        ParamValue::Groups([a, b]) => format!(
            "[{}, {}]",
            toml_string(&a.to_string()),
            toml_string(&b.to_string())
        ),
        ParamValue::Entities(names) => {
            let names: Vec<String> = names.iter().map(|name| toml_string(name)).collect();
            format!("[{}]", names.join(", "))
        }
    }
}

fn toml_requirement(requirement: &Requirement) -> String {
    let bounds = |pairs: &[(&str, Option<String>)]| {
        let written: Vec<String> = pairs
            .iter()
            .filter_map(|(key, value)| value.as_ref().map(|value| format!("{key} = {value}")))
            .collect();
        format!("{{ {} }}", written.join(", "))
    };
    match *requirement {
        Requirement::Positive(positive) => positive.to_string(),
        Requirement::Range { min, max } => bounds(&[
            ("min", min.map(|min| min.to_string())),
            ("max", max.map(|max| max.to_string())),
        ]),
        Requirement::Distribution {
            p50_max_ms,
            p99_max_ms,
            max_max_ms,
        } => bounds(&[
            ("p50_max", p50_max_ms.map(format_duration_ms)),
            ("p99_max", p99_max_ms.map(format_duration_ms)),
            ("max_max", max_max_ms.map(format_duration_ms)),
        ]),
    }
}

fn push_line(out: &mut String, key: &str, value: String) {
    out.push_str(key);
    out.push_str(" = ");
    out.push_str(&value);
    out.push('\n');
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML key: bare when possible, else quoted.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A TOML float that parses back to exactly `value` (finite values; others are written as
/// TOML's `nan`/`inf`, which validation rejects anyway).
fn toml_float(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        // `{:?}` is the shortest representation that round-trips, always with `.` or `e`.
        format!("{value:?}")
    }
}
