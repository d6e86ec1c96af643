//! Reading a scenario file, in three steps:
//!
//! 1. The TOML text is parsed into a tree that knows where every key and value is.
//! 2. The tree is read against the tables ([`super::schema::SETTINGS`],
//!    [`super::faults::FAULT_KINDS`], the report's counters): unknown keys, values of the
//!    wrong type and unknown choices are errors at their line and column.
//! 3. The values are converted (durations parsed, counts fitted) into a [`Scenario`]: errors
//!    there name the key. The caller then validates the whole.

use super::duration::{bare_number_error, parse_duration_ms};
use super::error::{line_col_of, ScenarioError};
use super::faults::{
    fault_kind, kind_names, param_keys, FaultKindSpec, ParamKind, ParamValue, INSTANT_DURATION_MS,
};
use super::schema::{keys_of, setting, Kind, Setting, Value, SETTINGS};
use super::suggest::{closest, one_of};
use super::types::{Fault, Group, Requirement, Scenario, Target};
use super::{DISTRIBUTION_KEYS, EXPECT_COUNTERS, EXPECT_DISTRIBUTIONS, RANGE_KEYS};
use std::collections::BTreeMap;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// A value read from the tree, typed but not converted yet.
#[derive(Clone, Debug)]
enum Raw {
    Text(String),
    Bool(bool),
    Integer(i64),
    Number(f64),
    /// A string where a duration belongs.
    DurationText(String),
    /// A number where a duration belongs (always an error, reported with its key).
    BareNumber(String),
    Texts(Vec<String>),
    Durations(Vec<Raw>),
}

/// One `[[faults]]` entry as read.
#[derive(Default)]
struct RawFault {
    kind: Option<&'static FaultKindSpec>,
    keys: BTreeMap<&'static str, Raw>,
}

/// What the tree holds, read against the tables.
#[derive(Default)]
struct RawDocument {
    settings: BTreeMap<String, Raw>,
    faults: Vec<RawFault>,
    expect: BTreeMap<String, Requirement>,
    /// `[expect] violations`.
    violations: Vec<String>,
}

/// Parses a scenario file's text (not yet validated as a whole).
pub(super) fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let document = DeTable::parse(text).map_err(|error| {
        let line_col = error.span().map(|span| line_col_of(text, span.start));
        ScenarioError::parse(origin, line_col, clean_message(error.message()))
    })?;
    let mut reader = Reader::default();
    let raw = reader.document(document.get_ref());
    if let Some((offset, message)) = reader.problems.into_iter().min_by_key(|(at, _)| *at) {
        return Err(ScenarioError::parse(
            origin,
            Some(line_col_of(text, offset)),
            message,
        ));
    }
    Convert { origin }.scenario(raw)
}

/// What makes a text unreadable before its values are converted: its TOML syntax (one error,
/// where the parser stopped), or every problem the reader noted (byte offset, message), in
/// the order of the text.
pub(super) enum Unreadable {
    /// A TOML syntax error.
    Syntax {
        /// Where, in bytes.
        span: Option<std::ops::Range<usize>>,
        /// What.
        message: String,
    },
    /// Unknown keys, wrong types, bad elements.
    Problems(Vec<(usize, String)>),
}

/// Why `text` cannot be read, if it cannot (`parse` reports only the first of these).
pub(super) fn unreadable(text: &str) -> Option<Unreadable> {
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(error) => {
            return Some(Unreadable::Syntax {
                span: error.span(),
                message: clean_message(error.message()),
            })
        }
    };
    let mut reader = Reader::default();
    reader.document(document.get_ref());
    let mut problems = reader.problems;
    problems.sort_by_key(|(offset, _)| *offset);
    (!problems.is_empty()).then_some(Unreadable::Problems(problems))
}

/// A toml error message on one line.
fn clean_message(message: &str) -> String {
    let joined: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    if joined.is_empty() {
        return "invalid TOML".to_owned();
    }
    joined.join("; ")
}

type Table<'i> = DeTable<'i>;
type Item<'i> = Spanned<DeValue<'i>>;

/// Reads the tree, noting every problem with its byte offset.
#[derive(Default)]
struct Reader {
    problems: Vec<(usize, String)>,
}

impl Reader {
    fn problem(&mut self, offset: usize, message: String) {
        self.problems.push((offset, message));
    }

    fn document(&mut self, table: &Table<'_>) -> RawDocument {
        let mut raw = RawDocument::default();
        self.section(table, "", &mut raw);
        raw
    }

    /// The keys of table `section` (`""` for the top level).
    fn section(&mut self, table: &Table<'_>, section: &str, raw: &mut RawDocument) {
        for (key, item) in table.iter() {
            let name = key.get_ref().as_ref();
            let path = join(section, name);
            if let Some(setting) = setting(section, name) {
                if let Some(value) = self.value(setting.kind, item) {
                    raw.settings.insert(path, value);
                }
            } else if super::schema::SECTIONS.contains(&path.as_str()) {
                if let Some(nested) = self.table(item) {
                    self.section(nested, &path, raw);
                }
            } else if path == "faults" {
                self.faults(item, raw);
            } else if path == "expect" {
                self.expect(item, raw);
            } else {
                let allowed = keys_of(section);
                let hint = elsewhere(name, section);
                let message = if hint.is_empty() {
                    unknown_field(name, &allowed)
                } else {
                    format!(
                        "unknown field `{name}`{hint}; expected {}",
                        one_of(&allowed)
                    )
                };
                self.problem(key.span().start, message);
            }
        }
    }

    fn table<'a, 'i>(&mut self, item: &'a Item<'i>) -> Option<&'a Table<'i>> {
        match item.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.problem(item.span().start, invalid_type(other, "a table"));
                None
            }
        }
    }

    /// A setting's value, type-checked.
    fn value(&mut self, kind: Kind, item: &Item<'_>) -> Option<Raw> {
        let read = match kind {
            Kind::Text { .. } => text(item),
            Kind::Bool => match item.get_ref() {
                DeValue::Boolean(flag) => Ok(Raw::Bool(*flag)),
                other => Err(invalid_type(other, "a boolean")),
            },
            Kind::Count { .. } => integer(item.get_ref()).map(Raw::Integer),
            Kind::Number { .. } => number(item.get_ref()).map(Raw::Number),
            Kind::Duration { .. } => duration(item),
            Kind::Choice { variants } => choice(item.get_ref(), variants),
            Kind::Levels => return texts(self, item),
            Kind::LatencyRange => return durations(self, item),
        };
        read.map_err(|message| self.problem(item.span().start, message))
            .ok()
    }

    fn faults(&mut self, item: &Item<'_>, raw: &mut RawDocument) {
        let DeValue::Array(entries) = item.get_ref() else {
            let message = invalid_type(item.get_ref(), "an array of fault tables");
            return self.problem(item.span().start, message);
        };
        for entry in entries.iter() {
            let mut fault = RawFault::default();
            if let Some(table) = self.table(entry) {
                self.fault(table, &mut fault);
            }
            raw.faults.push(fault);
        }
    }

    fn fault(&mut self, table: &Table<'_>, fault: &mut RawFault) {
        let params = param_keys();
        for (key, item) in table.iter() {
            let name = key.get_ref().as_ref();
            let read = match name {
                "kind" => {
                    self.kind(item, fault);
                    continue;
                }
                "at" | "duration" => duration(item),
                "target" => text(item),
                _ => match fault_param_kind(name) {
                    Some(ParamKind::Ratio) => number(item.get_ref()).map(Raw::Number),
                    Some(ParamKind::Duration) => duration(item),
                    // Problems with the elements are noted where they are.
                    Some(ParamKind::Groups | ParamKind::Entities) => match texts(self, item) {
                        Some(groups) => Ok(groups),
                        None => continue,
                    },
                    None => {
                        let mut allowed = vec!["kind", "at", "duration"];
                        allowed.extend(params.iter().copied());
                        self.problem(key.span().start, unknown_field(name, &allowed));
                        continue;
                    }
                },
            };
            match read {
                Ok(value) => {
                    let key = *params
                        .iter()
                        .chain(["at", "duration"].iter())
                        .find(|known| **known == name)
                        .unwrap_or_else(|| unreachable!("{name} was matched as a fault key"));
                    fault.keys.insert(key, value);
                }
                Err(message) => self.problem(item.span().start, message),
            }
        }
    }

    fn kind(&mut self, item: &Item<'_>, fault: &mut RawFault) {
        let names = kind_names();
        match choice(item.get_ref(), &names) {
            Ok(Raw::Text(name)) => fault.kind = fault_kind(&name),
            Ok(other) => unreachable!("a choice reads as text, got {other:?}"),
            Err(message) => self.problem(item.span().start, message),
        }
    }

    fn expect(&mut self, item: &Item<'_>, raw: &mut RawDocument) {
        let Some(table) = self.table(item) else {
            return;
        };
        for (key, value) in table.iter() {
            match (key.get_ref().as_ref(), value.get_ref()) {
                ("violations", _) => {
                    if let Some(Raw::Texts(names)) = texts(self, value) {
                        raw.violations = names;
                    }
                }
                (name, DeValue::Boolean(flag)) => {
                    raw.expect
                        .insert(name.to_owned(), Requirement::Positive(*flag));
                }
                (name, DeValue::Table(bounds)) => {
                    if let Some(requirement) = self.bounds(name, value, bounds) {
                        raw.expect.insert(name.to_owned(), requirement);
                    }
                }
                (_, other) => self.problem(
                    value.span().start,
                    invalid_type(other, "a boolean or a table of bounds"),
                ),
            }
        }
    }

    /// `{ min = 1, max = 40 }` for a counter, `{ p99_max = "90s" }` for a distribution.
    fn bounds(&mut self, name: &str, item: &Item<'_>, bounds: &Table<'_>) -> Option<Requirement> {
        let distribution = EXPECT_DISTRIBUTIONS.contains(&name);
        if !distribution && !EXPECT_COUNTERS.contains(&name) {
            // Validation names the unknown counter or distribution, with a suggestion.
            return Some(Requirement::Range {
                min: None,
                max: None,
            });
        }
        let allowed = if distribution {
            DISTRIBUTION_KEYS
        } else {
            RANGE_KEYS
        };
        let mut values: BTreeMap<&str, u64> = BTreeMap::new();
        for (key, value) in bounds.iter() {
            let key_name = key.get_ref().as_ref();
            let Some(known) = allowed.iter().find(|allowed| **allowed == key_name) else {
                self.problem(key.span().start, unknown_field(key_name, allowed));
                continue;
            };
            let read = if distribution {
                match duration(value) {
                    Ok(Raw::DurationText(text)) => parse_duration_ms(&text),
                    Ok(Raw::BareNumber(number)) => Err(bare_number_error(&number)),
                    Ok(other) => unreachable!("a duration was read as {other:?}"),
                    Err(message) => Err(message),
                }
            } else {
                integer(value.get_ref()).and_then(|integer| {
                    u64::try_from(integer)
                        .map_err(|_| format!("expected a count of 0 or more, got {integer}"))
                })
            };
            match read {
                Ok(bound) => {
                    values.insert(known, bound);
                }
                Err(message) => self.problem(value.span().start, message),
            }
        }
        if bounds.is_empty() {
            let message = format!("expected at least one bound: {}", allowed.join(", "));
            self.problem(item.span().start, message);
            return None;
        }
        Some(if distribution {
            Requirement::Distribution {
                p50_max_ms: values.get("p50_max").copied(),
                p99_max_ms: values.get("p99_max").copied(),
                max_max_ms: values.get("max_max").copied(),
            }
        } else {
            Requirement::Range {
                min: values.get("min").copied(),
                max: values.get("max").copied(),
            }
        })
    }
}

/// Where an unknown `name` in `section` belongs instead, if it is a section or a setting of
/// another section (`[breaker]` is `[sdk.breaker]`; `failure_threshold` goes in it).
fn elsewhere(name: &str, section: &str) -> String {
    let sections = super::schema::SECTIONS;
    if let Some(full) = sections
        .iter()
        .find(|full| full.rsplit('.').next() == Some(name) && **full != join(section, name))
    {
        return format!(": did you mean `[{full}]`?");
    }
    SETTINGS
        .iter()
        .find(|other| other.key == name && other.section != section)
        .map_or_else(String::new, |other| {
            format!(": it belongs in `[{}]`", other.section)
        })
}

/// The kind of the fault param called `key`, if any kind has one.
fn fault_param_kind(key: &str) -> Option<ParamKind> {
    super::faults::FAULT_KINDS
        .iter()
        .flat_map(|kind| kind.params)
        .find(|param| param.key == key)
        .map(|param| param.kind)
}

fn join(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_owned()
    } else {
        format!("{section}.{key}")
    }
}

fn text(item: &Item<'_>) -> Result<Raw, String> {
    match item.get_ref() {
        DeValue::String(text) => Ok(Raw::Text(text.to_string())),
        other => Err(invalid_type(other, "a string")),
    }
}

fn integer(value: &DeValue<'_>) -> Result<i64, String> {
    match value {
        DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
            .map_err(|_| {
                format!(
                    "invalid value: integer `{integer}`, expected an integer from -2^63 to 2^63-1"
                )
            }),
        other => Err(invalid_type(other, "an integer")),
    }
}

fn number(value: &DeValue<'_>) -> Result<f64, String> {
    match value {
        DeValue::Integer(_) => integer(value).map(|integer| integer as f64),
        DeValue::Float(float) => float
            .as_str()
            .parse::<f64>()
            .map_err(|_| format!("invalid value: `{float}`, expected a number")),
        other => Err(invalid_type(other, "a number")),
    }
}

fn duration(item: &Item<'_>) -> Result<Raw, String> {
    match item.get_ref() {
        DeValue::String(text) => Ok(Raw::DurationText(text.to_string())),
        DeValue::Integer(number) => Ok(Raw::BareNumber(number.to_string())),
        DeValue::Float(number) => Ok(Raw::BareNumber(number.to_string())),
        other => Err(invalid_type(
            other,
            &format!(
                "a duration string with a unit, such as {}",
                super::duration::DURATION_EXAMPLES
            ),
        )),
    }
}

fn choice(value: &DeValue<'_>, variants: &[&str]) -> Result<Raw, String> {
    match value {
        DeValue::String(text) if variants.contains(&text.as_ref()) => {
            Ok(Raw::Text(text.to_string()))
        }
        DeValue::String(text) => Err(format!(
            "unknown variant `{text}`, expected {}{}",
            one_of(variants),
            closest(text, variants)
        )),
        other => Err(invalid_type(other, &format!("one of {}", one_of(variants)))),
    }
}

/// An array of strings; problems with its elements are noted at each element.
fn texts(reader: &mut Reader, item: &Item<'_>) -> Option<Raw> {
    let DeValue::Array(elements) = item.get_ref() else {
        let message = invalid_type(item.get_ref(), "an array of strings");
        reader.problem(item.span().start, message);
        return None;
    };
    let mut texts = Vec::new();
    for element in elements.iter() {
        match element.get_ref() {
            DeValue::String(text) => texts.push(text.to_string()),
            other => reader.problem(element.span().start, invalid_type(other, "a string")),
        }
    }
    Some(Raw::Texts(texts))
}

/// An array of durations (each a string or a bare number, judged when converted).
fn durations(reader: &mut Reader, item: &Item<'_>) -> Option<Raw> {
    let DeValue::Array(elements) = item.get_ref() else {
        let message = invalid_type(item.get_ref(), "an array of two durations");
        reader.problem(item.span().start, message);
        return None;
    };
    let mut values = Vec::new();
    for element in elements.iter() {
        match duration(element) {
            Ok(value) => values.push(value),
            Err(message) => reader.problem(element.span().start, message),
        }
    }
    Some(Raw::Durations(values))
}

/// Serde's wording for a value of the wrong type.
fn invalid_type(found: &DeValue<'_>, expected: &str) -> String {
    let found = match found {
        DeValue::String(text) => format!("string {:?}", text.as_ref()),
        DeValue::Integer(integer) => format!("integer `{integer}`"),
        DeValue::Float(float) => format!("floating point `{float}`"),
        DeValue::Boolean(flag) => format!("boolean `{flag}`"),
        DeValue::Datetime(datetime) => format!("datetime `{datetime}`"),
        DeValue::Array(_) => "sequence".to_owned(),
        DeValue::Table(_) => "map".to_owned(),
    };
    format!("invalid type: {found}, expected {expected}")
}

/// Serde's wording for an unknown key, with the closest known one.
fn unknown_field(name: &str, allowed: &[&str]) -> String {
    format!(
        "unknown field `{name}`, expected {}{}",
        one_of(allowed),
        closest(name, allowed)
    )
}

/// Step 3: the values into a [`Scenario`], errors naming their key.
struct Convert<'a> {
    origin: &'a str,
}

impl Convert<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_key(self.origin, key, message)
    }

    fn scenario(&self, mut raw: RawDocument) -> Result<Scenario, ScenarioError> {
        let mut scenario = Scenario::new(String::new(), 0);
        for setting in SETTINGS {
            let path = setting.path();
            match raw.settings.remove(&path) {
                Some(value) => (setting.set)(&mut scenario, self.value(setting, &path, value)?),
                None => {
                    if let Some(hint) = setting.required {
                        return Err(self.err(path, format!("is required: {hint}")));
                    }
                }
            }
            if path == "sdk.stats_min_interval" {
                // start_spread defaults to one stats interval (it comes later in the table).
                scenario.workload.start_spread_ms = scenario.sdk.stats_min_interval_ms;
            }
            if path == "sdk.breaker.reset_timeout" {
                // reset_timeout_max defaults to the larger of its default and reset_timeout.
                let breaker = &mut scenario.sdk.breaker;
                breaker.reset_timeout_max_ms =
                    breaker.reset_timeout_max_ms.max(breaker.reset_timeout_ms);
            }
        }
        for (index, fault) in raw.faults.into_iter().enumerate() {
            let fault = self.fault(index, fault)?;
            scenario.faults.push(fault);
        }
        scenario.expect.checks = raw.expect;
        for (index, name) in raw.violations.into_iter().enumerate() {
            if !scenario.expect.violations.insert(name.clone()) {
                return Err(self.err(
                    format!("expect.violations[{index}]"),
                    format!("{name:?} is listed twice"),
                ));
            }
        }
        Ok(scenario)
    }

    fn value(&self, setting: &Setting, path: &str, raw: Raw) -> Result<Value, ScenarioError> {
        Ok(match (setting.kind, raw) {
            (Kind::Text { .. }, Raw::Text(text)) => Value::Text(text),
            (Kind::Choice { .. }, Raw::Text(name)) => Value::Choice(name),
            (Kind::Bool, Raw::Bool(flag)) => Value::Bool(flag),
            (Kind::Number { .. }, Raw::Number(number)) => Value::Number(number),
            (Kind::Count { min, max }, Raw::Integer(count)) => match u32::try_from(count) {
                Ok(count) => Value::Count(count.into()),
                Err(_) => {
                    let message = format!("must be between {min} and {max}, got {count}");
                    return Err(self.err(path, message));
                }
            },
            (Kind::Duration { .. }, raw) => Value::Duration(self.duration(path, raw)?),
            (Kind::Levels, Raw::Texts(levels)) => Value::Levels(levels),
            (Kind::LatencyRange, Raw::Durations(values)) => {
                let [min, max] = <[Raw; 2]>::try_from(values).map_err(|values| {
                    self.err(
                        path,
                        format!(
                            "expected two durations [min, max], e.g. latency = [\"1ms\", \"10ms\"], got {} values",
                            values.len()
                        ),
                    )
                })?;
                let min_ms = self.duration(&format!("{path}[0]"), min)?;
                let max_ms = self.duration(&format!("{path}[1]"), max)?;
                Value::Latency(min_ms, max_ms)
            }
            (kind, raw) => unreachable!("{path}: {kind:?} was read as {raw:?}"),
        })
    }

    fn duration(&self, key: &str, raw: Raw) -> Result<u64, ScenarioError> {
        match raw {
            Raw::DurationText(text) => {
                parse_duration_ms(&text).map_err(|message| self.err(key, message))
            }
            Raw::BareNumber(number) => Err(self.err(key, bare_number_error(&number))),
            other => unreachable!("{key}: a duration was read as {other:?}"),
        }
    }

    fn fault(&self, index: usize, mut raw: RawFault) -> Result<Fault, ScenarioError> {
        let key = |name: &str| format!("faults[{index}].{name}");
        let Some(spec) = raw.kind else {
            return Err(self.err(
                key("kind"),
                format!("is required: expected one of {}", kind_names().join(", ")),
            ));
        };
        let allowed = spec.keys();
        for name in param_keys() {
            if raw.keys.contains_key(name) && !allowed.contains(&name) {
                return Err(self.err(
                    key(name),
                    format!(
                        "`{name}` is not a key of {} faults; they take: {}",
                        spec.name,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        let required = |name: &str, example: &str| {
            self.err(
                key(name),
                format!(
                    "is required for {} faults, e.g. {name} = {example}",
                    spec.name
                ),
            )
        };
        let at = raw
            .keys
            .remove("at")
            .ok_or_else(|| required("at", "\"3m\" (when it starts)"))?;
        let at_ms = self.duration(&key("at"), at)?;
        let duration_ms = match raw.keys.remove("duration") {
            Some(duration) => self.duration(&key("duration"), duration)?,
            // An instantaneous fault has no length: `duration` may be left out.
            None if spec.instantaneous => INSTANT_DURATION_MS,
            None => return Err(required("duration", "\"3m\" (how long it lasts)")),
        };
        let mut values = Vec::new();
        for param in spec.params {
            let value = raw
                .keys
                .remove(param.key)
                .ok_or_else(|| required(param.key, param.example))?;
            values.push(self.param(&key(param.key), param.kind, value)?);
        }
        let target = match raw.keys.remove("target") {
            Some(Raw::Text(text)) => {
                Some(Target::parse(&text).map_err(|message| self.err(key("target"), message))?)
            }
            Some(other) => unreachable!("a target was read as {other:?}"),
            None => None,
        };
        Ok(Fault {
            kind: spec.build(&values),
            at_ms,
            duration_ms,
            target,
        })
    }

    fn param(&self, key: &str, kind: ParamKind, raw: Raw) -> Result<ParamValue, ScenarioError> {
        match (kind, raw) {
            (ParamKind::Ratio, Raw::Number(value)) => Ok(ParamValue::Ratio(value)),
            (ParamKind::Duration, raw) => Ok(ParamValue::Duration(self.duration(key, raw)?)),
            (ParamKind::Groups, Raw::Texts(groups)) => {
                let [a, b] = <[String; 2]>::try_from(groups).map_err(|groups| {
                    self.err(
                        key,
                        format!(
                            "expected two groups [A, B], e.g. between = [\"entities\", \"system\"], got {} values",
                            groups.len()
                        ),
                    )
                })?;
                let parse =
                    |text: &str| Group::parse(text).map_err(|message| self.err(key, message));
                Ok(ParamValue::Groups([parse(&a)?, parse(&b)?]))
            }
            (ParamKind::Entities, Raw::Texts(names)) => Ok(ParamValue::Entities(names)),
            (kind, raw) => unreachable!("{key}: {kind:?} was read as {raw:?}"),
        }
    }
}
