//! The reference pages generated from the tables the code itself runs on: every scenario key
//! ([`crate::sim::scenario::schema::SETTINGS`]), every fault kind
//! ([`crate::sim::scenario::faults::FAULT_KINDS`]), every counter
//! ([`crate::runtime::Counters::DOCS`]), every invariant ([`crate::sim::invariants::INVARIANTS`])
//! and every planted bug. `tests/docs.rs` keeps `docs/reference/*.md` equal to these.

use crate::planted::Plant;
use crate::runtime::Counters;
use crate::sim::invariants::INVARIANTS;
use crate::sim::scenario::faults::{Needs, ParamKind, FAULT_KINDS};
use crate::sim::scenario::schema::{Kind, Value, SECTIONS, SETTINGS};
use crate::sim::scenario::{Scenario, MAX_DURATION_MS, MAX_FAULTS};
use std::fmt::Write as _;

const GENERATED: &str = "<!-- Generated from the code's own tables by `Z0SIM_BLESS=1 cargo test --test docs`; do not edit by hand. -->";

/// `docs/reference/scenario-keys.md`: every key of a scenario file.
pub fn scenario_keys() -> String {
    let mut page = format!(
        "{GENERATED}\n\n# Scenario keys\n\nEvery key of a scenario file, by table: its type, default, range and meaning. \
         Durations are strings with a unit (`\"250ms\"`, `\"30s\"`, `\"5m\"`, `\"1h\"`, `\"1m 30s\"`), whole \
         milliseconds, at most 30 days. Unknown keys are errors. Only `name` and `duration` are required.\n"
    );
    let defaults = Scenario::new("", 0);
    for section in std::iter::once("").chain(SECTIONS) {
        let title = if section.is_empty() {
            "Top level".to_owned()
        } else {
            format!("`[{section}]`")
        };
        let _ = writeln!(page, "\n## {title}\n");
        page.push_str("| key | type | default | range | meaning |\n|---|---|---|---|---|\n");
        for setting in SETTINGS.iter().filter(|setting| setting.section == section) {
            let default = match setting.required {
                Some(_) => "required".to_owned(),
                None => format!("`{}`", toml_value(&(setting.get)(&defaults))),
            };
            let (kind, range) = describe(setting.kind);
            let _ = writeln!(
                page,
                "| `{}` | {kind} | {default} | {range} | {} |",
                setting.key,
                escape(setting.doc)
            );
        }
    }
    page.push_str(&fault_kinds());
    page.push_str(&expect_keys());
    page
}

fn fault_kinds() -> String {
    let mut page = format!(
        "\n## `[[faults]]`\n\nZero or more (at most {MAX_FAULTS}), each with `kind`, `at` (when it starts, before the run's \
         end) and `duration` (more than 0; a fault may run past the end of the run; the instantaneous kinds, \
         `evict` and `evict_entities`, happen at `at`: their `duration` may be left out and is ignored), \
         plus its kind's keys. \
         Overlapping faults are allowed.\n\n| kind | its keys | `target` | needs | what it does |\n|---|---|---|---|---|\n"
    );
    for kind in FAULT_KINDS {
        let params: Vec<String> = kind
            .params
            .iter()
            .map(|param| {
                let what = match param.kind {
                    ParamKind::Ratio => "0.0 to 1.0",
                    ParamKind::Duration => "duration > 0",
                    ParamKind::Groups => "two different groups",
                    ParamKind::Entities => "entity ledgers' actor names, at least one",
                };
                format!("`{}` ({what}, e.g. `{}`)", param.key, param.example)
            })
            .collect();
        let needs = match kind.needs {
            Needs::Nothing => "",
            Needs::Queue => "multi_tenant, `platform_sink = \"queue\"`",
            Needs::TwoTenants => "multi_tenant, 2 tenants or more",
        };
        let _ = writeln!(
            page,
            "| `{}` | {} | {} | {needs} | {} |",
            kind.name,
            if params.is_empty() {
                "none".to_owned()
            } else {
                params.join(", ")
            },
            if kind.takes_target { "yes" } else { "no" },
            escape(kind.doc)
        );
    }
    page.push_str(
        "\n`target` names one ledger: `\"system\"` (single mode), `\"tenant:<n>\"` or `\"platform\"` \
         (multi_tenant mode). Without it a fault hits the ledgers entities report to: the SystemLedger, \
         or every TenantSystemLedger. Groups of `between`: `\"entities\"`, `\"system\"`, `\"tenant:<n>\"`, \
         `\"platform\"` (the queue is in `platform`).\n",
    );
    page
}

fn expect_keys() -> String {
    let mut page = String::from(
        "\n## `[expect]`\n\nWhat a passing run must also show. `<counter> = true`: the counter ended above 0; \
         `false`: it ended at 0. `violations = [\"<invariant>\", ...]`: exactly these invariants must fail \
         (a known weakness the scenario shows; see `docs/reference/invariants.md`). The counters:\n\n\
         | counter | counts |\n|---|---|\n",
    );
    for (name, doc) in Counters::DOCS {
        let _ = writeln!(page, "| `{name}` | {} |", escape(&one_line(doc)));
    }
    page
}

/// `docs/reference/invariants.md`: every invariant, and the planted bugs that show it can fail.
pub fn invariants() -> String {
    let mut page = format!(
        "{GENERATED}\n\n# Invariants\n\nEvery run is judged by these, in this order (then `expect.violations` when \
         the scenario lists violations, and one `expect.<counter>` check per `[expect]` counter, in name order). A \
         check that does not apply to a run, or whose deadline the run does not reach, is skipped: `skip` in the \
         human report, `\"skipped\": true` in the JSON, with the reason as its detail; a skip is never reported as \
         a pass.\n\n| invariant | holds when | planted bugs that break it (scenario) |\n|---|---|---|\n"
    );
    for invariant in INVARIANTS {
        let plants: Vec<String> = Plant::ALL
            .iter()
            .filter(|plant| plant.invariant() == invariant.name)
            .map(|plant| format!("`{}` ({})", plant.name(), plant.scenario()))
            .collect();
        let _ = writeln!(
            page,
            "| `{}` | {} | {} |",
            invariant.name,
            escape(invariant.holds),
            plants.join(", ")
        );
    }
    page
}

fn describe(kind: Kind) -> (String, String) {
    match kind {
        Kind::Text { non_blank } => (
            "string".to_owned(),
            if non_blank { "not blank" } else { "any" }.to_owned(),
        ),
        Kind::Bool => ("boolean".to_owned(), "`true` or `false`".to_owned()),
        Kind::Count { min, max } => ("integer".to_owned(), format!("{min} to {max}")),
        Kind::Number { min, max, .. } => ("number".to_owned(), format!("{min:?} to {max:?}")),
        Kind::Duration { min_ms, max_ms } => (
            "duration".to_owned(),
            format!("{} to {}", human_ms(min_ms), human_ms(max_ms)),
        ),
        Kind::Choice { variants } => {
            let quoted: Vec<String> = variants
                .iter()
                .map(|name| format!("`\"{name}\"`"))
                .collect();
            ("string".to_owned(), quoted.join(", "))
        }
        Kind::Levels => (
            "array of strings".to_owned(),
            "at most 6 distinct, non-blank names".to_owned(),
        ),
        Kind::LatencyRange => (
            "array of two durations".to_owned(),
            "`[min, max]`, min <= max".to_owned(),
        ),
    }
}

fn human_ms(ms: u64) -> String {
    match ms {
        MAX_DURATION_MS => "30 days".to_owned(),
        0 => "0".to_owned(),
        ms if ms % 3_600_000 == 0 => format!("{} h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{} min", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{} s", ms / 1_000),
        ms => format!("{ms} ms"),
    }
}

fn toml_value(value: &Value) -> String {
    match value {
        Value::Text(text) | Value::Choice(text) => format!("{text:?}"),
        Value::Bool(flag) => flag.to_string(),
        Value::Count(count) => count.to_string(),
        Value::Number(number) => format!("{number:?}"),
        Value::Duration(ms) => format!(
            "\"{}\"",
            humantime::format_duration(std::time::Duration::from_millis(*ms))
        ),
        Value::Levels(levels) => format!("{levels:?}"),
        Value::Latency(min_ms, max_ms) => format!("[\"{min_ms}ms\", \"{max_ms}ms\"]"),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}
