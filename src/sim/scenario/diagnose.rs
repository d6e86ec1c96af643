//! Diagnostics like rustc's for `z0sim check` and every command that loads a file: each error
//! with the source line and a caret under the key or value (codespan-reporting), every error
//! of the file at once (at most [`MAX_ERRORS`]), and warnings for files that run but cannot
//! do what they seem to say.
//!
//! Which errors come together (decision): a TOML syntax error stops the parser, so it comes
//! alone; otherwise every unknown key, wrong type and bad element the reader notes; when there
//! are none, the first value that does not convert, else every rule the scenario breaks.
//! Times in messages read as durations (`20m`, not `1200000 ms`).

use super::duration::{human_ms, humanize_times};
use super::error::line_col_of;
use super::parse::{unreadable, Unreadable};
use super::types::{FaultKind, Mode, PlatformSink, Scenario};
use super::ScenarioError;
use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor, Config};
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// Errors shown for one file, at most (the count of the rest is said).
pub const MAX_ERRORS: usize = 20;

/// One error or warning, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The one-line form: `FILE:LINE:COL: message` or `FILE: key `KEY`: message`.
    pub line: String,
    /// The bytes of the text it points at, if it points anywhere.
    pub span: Option<Range<usize>>,
}

/// What a file's text gives: its scenario if it is valid, its errors, its warnings.
#[derive(Debug)]
pub struct Diagnosis {
    /// The scenario, when there is no error.
    pub scenario: Option<Scenario>,
    /// Every error (at most [`MAX_ERRORS`]).
    pub errors: Vec<Diagnostic>,
    /// Errors beyond [`MAX_ERRORS`], not shown.
    pub more_errors: usize,
    /// Warnings (only for a valid scenario).
    pub warnings: Vec<Diagnostic>,
}

/// Diagnoses `text`, read from `origin`.
pub fn diagnose(text: &str, origin: &str) -> Diagnosis {
    let mut errors = match unreadable(text) {
        Some(Unreadable::Syntax { span, message }) => {
            let offset = span.as_ref().map_or(0, |span| span.start);
            let message = syntax_hint(text, span.clone(), message);
            let error = ScenarioError::parse(origin, Some(line_col_of(text, offset)), message);
            vec![located(&error, span.or(Some(offset..offset)))]
        }
        Some(Unreadable::Problems(problems)) => problems
            .into_iter()
            .map(|(offset, message)| {
                let error = ScenarioError::parse(origin, Some(line_col_of(text, offset)), message);
                located(&error, Some(word_at(text, offset)))
            })
            .collect(),
        None => Vec::new(),
    };
    let mut scenario = None;
    let mut warnings = Vec::new();
    // The text reads: its tree, parsed once, locates every key the errors and warnings name.
    if let (true, Ok(document)) = (errors.is_empty(), DeTable::parse(text)) {
        let document = document.get_ref();
        match super::parse::parse(text, origin) {
            Err(error) => errors.push(keyed(document, &error)),
            Ok(parsed) => {
                for (key, message) in parsed.problems() {
                    let error = ScenarioError::at_key(origin, key, humanize_times(&message));
                    errors.push(keyed(document, &error));
                }
                if errors.is_empty() {
                    warnings = warnings_of(document, origin, &parsed);
                    scenario = Some(parsed);
                }
            }
        }
    }
    let more_errors = errors.len().saturating_sub(MAX_ERRORS);
    errors.truncate(MAX_ERRORS);
    Diagnosis {
        scenario,
        errors,
        more_errors,
        warnings,
    }
}

impl Diagnosis {
    /// Every error and warning, rendered: the one-line form, then the source line with a caret
    /// (colours when `colour`).
    pub fn render(&self, origin: &str, text: &str, colour: bool) -> String {
        let file = SimpleFile::new(origin, text);
        let mut out = String::new();
        let reports = self
            .errors
            .iter()
            .map(|error| (Report::error(), error))
            .chain(
                self.warnings
                    .iter()
                    .map(|warning| (Report::warning(), warning)),
            );
        for (report, diagnostic) in reports {
            let labels = diagnostic
                .span
                .clone()
                .map(|span| vec![Label::primary((), span)])
                .unwrap_or_default();
            let report = report
                .with_message(diagnostic.line.clone())
                .with_labels(labels);
            out.push_str(&emit(&file, &report, colour));
        }
        if self.more_errors > 0 {
            out.push_str(&format!(
                "{origin}: {} more errors not shown (at most {MAX_ERRORS} are)\n",
                self.more_errors
            ));
        }
        out
    }
}

fn emit(file: &SimpleFile<&str, &str>, report: &Report<()>, colour: bool) -> String {
    let config = Config::default();
    if colour {
        let mut buffer = termcolor::Buffer::ansi();
        if term::emit_to_write_style(&mut buffer, &config, file, report).is_ok() {
            return String::from_utf8_lossy(buffer.as_slice()).into_owned();
        }
    }
    term::emit_into_string(&config, file, report)
        .unwrap_or_else(|_| format!("{}\n", report.message))
}

fn located(error: &ScenarioError, span: Option<Range<usize>>) -> Diagnostic {
    Diagnostic {
        line: error.to_string(),
        span,
    }
}

/// An error at a key: its span found in the text's tree (the value, or the key's table).
fn keyed(document: &DeTable<'_>, error: &ScenarioError) -> Diagnostic {
    let span = error.key().and_then(|key| span_of(document, key, false));
    located(error, span)
}

/// The word at `offset`: up to the next space, `=`, `,`, `]` or line end (at least a byte).
fn word_at(text: &str, offset: usize) -> Range<usize> {
    let offset = offset.min(text.len());
    let length = text[offset..]
        .find(|c: char| c.is_whitespace() || "=,]}".contains(c))
        .unwrap_or(text.len() - offset);
    offset..offset + length.max(usize::from(offset < text.len()))
}

/// Hints for TOML's own messages: which key is duplicated, a percentage written as a ratio.
fn syntax_hint(text: &str, span: Option<Range<usize>>, message: String) -> String {
    let found = span
        .as_ref()
        .and_then(|span| text.get(span.clone()))
        .map(str::trim)
        .unwrap_or_default();
    if message.contains("duplicate key") && !found.is_empty() {
        let header = span
            .as_ref()
            .is_some_and(|span| text[..span.start.min(text.len())].ends_with('['));
        return if header {
            format!("{message}: the table `[{found}]` is written twice (keep one, with every key in it)")
        } else {
            format!("{message}: `{found}` is written twice in its table")
        };
    }
    let line = span
        .map(|span| {
            let start = text[..span.start.min(text.len())]
                .rfind('\n')
                .map_or(0, |at| at + 1);
            let end = text[start..].find('\n').map_or(text.len(), |at| start + at);
            &text[start..end]
        })
        .unwrap_or_default();
    if line.contains('%') {
        return format!(
            "{message}; rates and ratios are numbers from 0.0 to 1.0: write 0.8, not 80%"
        );
    }
    message
}

/// Whether the text writes the key path `key` itself (not a default).
fn writes(document: &DeTable<'_>, key: &str) -> bool {
    span_of(document, key, true).is_some()
}

/// The span of a key path (`faults[1].at`, `sdk.breaker.reset_timeout`, `expect.violations[0]`,
/// `topology.hierarchy[1]`) in the text's tree: its value; if the text lacks it, `None` when
/// `exact`, else the nearest table that holds it.
fn span_of(document: &DeTable<'_>, key: &str, exact: bool) -> Option<Range<usize>> {
    let mut table: &DeTable<'_> = document;
    let mut found: Option<Range<usize>> = None;
    for segment in key.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let Some((_, item)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name) else {
            return if exact { None } else { found };
        };
        let mut value = item;
        if let (Some(index), DeValue::Array(elements)) = (index, item.get_ref()) {
            match elements.get(index) {
                Some(element) => value = element,
                None => return Some(item.span()),
            }
        }
        found = Some(value.span());
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return found,
        }
    }
    found
}

/// Entities that arrive after the run ends (`start_spread` longer than the run).
fn late_arrivals(document: &DeTable<'_>, scenario: &Scenario) -> Option<(String, String)> {
    let spread_ms = scenario.workload.start_spread_ms;
    if spread_ms <= scenario.duration_ms {
        return None;
    }
    let never_pct = (spread_ms - scenario.duration_ms) * 100 / spread_ms;
    let written = if writes(document, "workload.start_spread") {
        ""
    } else {
        " (by default one stats_min_interval; write `start_spread = \"0s\"` to start every entity at once)"
    };
    Some((
        "workload.start_spread".to_owned(),
        format!(
            "is {}, longer than the run ({}){written}: about {never_pct}% of the entities arrive after it ends and never run",
            human_ms(spread_ms),
            human_ms(scenario.duration_ms)
        ),
    ))
}

/// Warnings for a valid scenario: what its text writes that cannot take effect.
fn warnings_of(document: &DeTable<'_>, origin: &str, scenario: &Scenario) -> Vec<Diagnostic> {
    let mut found: Vec<(String, String)> = Vec::new();
    let queue_sink = scenario.topology.mode == Mode::MultiTenant
        && scenario.topology.platform_sink == PlatformSink::Queue;
    // Only values that differ from the defaults: `check --resolved` writes every key.
    let queue_changed = scenario.queue != super::types::QueueSettings::default();
    if !queue_sink && queue_changed && writes(document, "queue") {
        found.push((
            "queue".to_owned(),
            "[queue] is ignored: the queue exists only with topology.mode = \"multi_tenant\" and platform_sink = \"queue\"".to_owned(),
        ));
    }
    if scenario.topology.mode == Mode::MultiTenant && scenario.topology.system_shards > 1 {
        found.push((
            "topology.system_shards".to_owned(),
            "is ignored in multi_tenant mode (each tenant has its own TenantSystemLedger; shards split the single-mode SystemLedger)".to_owned(),
        ));
    }
    if scenario.topology.mode == Mode::Single
        && scenario.topology.platform_sink != PlatformSink::Queue
        && writes(document, "topology.platform_sink")
    {
        found.push((
            "topology.platform_sink".to_owned(),
            "is ignored in single mode (there is no platform)".to_owned(),
        ));
    }
    for (index, fault) in scenario.faults.iter().enumerate() {
        let spec = fault.kind.spec();
        if spec.instantaneous && writes(document, &format!("faults[{index}].duration")) {
            found.push((
                format!("faults[{index}].duration"),
                format!(
                    "is ignored: {} faults happen at `at` and have no length (leave `duration` out)",
                    spec.name
                ),
            ));
        }
        if scenario.topology.mode == Mode::Single
            && matches!(fault.kind, FaultKind::AlarmFailure { .. })
        {
            found.push((
                format!("faults[{index}].kind"),
                "alarm_failure hits tenant ledgers' alarms; a single-mode run has none, so this fault does nothing".to_owned(),
            ));
        }
    }
    found.extend(late_arrivals(document, scenario));
    if let Some((_, deadline_ms)) = crate::sim::oracle::liveness_window_ms(scenario) {
        if deadline_ms > scenario.duration_ms && scenario.network.packet_loss == 0.0 {
            found.push((
                "duration".to_owned(),
                format!(
                    "the run ends at {} but breaker_recovers needs it to last past {} (the faults' end, plus the reset timeout, an emission interval and a probe): it will be skipped",
                    human_ms(scenario.duration_ms),
                    human_ms(deadline_ms)
                ),
            ));
        }
    }
    found
        .into_iter()
        .map(|(key, message)| {
            let span = span_of(document, &key, false);
            Diagnostic {
                line: format!("{origin}: key `{key}`: {message}"),
                span,
            }
        })
        .collect()
}
