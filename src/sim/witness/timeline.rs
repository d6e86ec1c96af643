//! `--timeline out.html`: one self-contained HTML page (inline SVG, no script, no network)
//! drawing a run over simulated time. Lanes, top to bottom:
//!
//! - the fault windows, one row per fault;
//! - the SDK facts each receiver stored per time slice (the SystemLedger inbound rate);
//! - drops per time slice, by reason (breaker open, delivery failed);
//! - how many clients were OPEN and HALF_OPEN per time slice (every client);
//! - one breaker lane per client named by a violation, and per client at all when the run has
//!   at most [`ALL_CLIENTS_UP_TO`] clients (so the picture stays readable at 1,000 entities);
//! - stats periods closed per time slice;
//! - per tenant ledger (at most [`TENANT_LANES`]): alarm set, flush attempts, alarm deletions;
//! - tenant payloads stored at the platform;
//! - each violation as a red line at the time its detail names (the end of the run if none).
//!
//! Every mark carries a `<title>`: hovering it tells what it is.

use super::events::{Event, What};
use super::explain::{actor_name, state_name};
use crate::ledgers::{BreakerState, DropReason, MessageKey};
use crate::runtime::spec::ActorIdx;
use crate::sim::oracle::words::human_ms;
use crate::sim::report::Report;
use crate::sim::run::Witnessed;
use crate::sim::scenario::Scenario;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Every client gets its own breaker lane when the run has at most this many clients.
pub const ALL_CLIENTS_UP_TO: usize = 40;
/// Tenant ledgers drawn, at most.
pub const TENANT_LANES: usize = 20;
/// Receivers whose inbound rate is drawn, at most (those that stored most).
const RECEIVER_LANES: usize = 6;
/// Time slices of the aggregate lanes.
const SLICES: usize = 240;

const LABEL_WIDTH: f64 = 260.0;
const PLOT_WIDTH: f64 = 1_100.0;
const LANE_HEIGHT: f64 = 22.0;
const CHART_HEIGHT: f64 = 48.0;
/// Height of a violation's label row.
const VIOLATION_ROW: f64 = 13.0;
/// Label rows above the lanes, at most (more violations share them).
const MAX_VIOLATION_ROWS: usize = 8;

/// A client: its actor and its target.
type Client = (ActorIdx, Option<ActorIdx>);

/// The page for a run's `report` and what it witnessed.
pub fn render(scenario: &Scenario, report: &Report, witnessed: &Witnessed) -> String {
    let violations = report
        .invariants
        .iter()
        .filter(|invariant| !invariant.passed)
        .count();
    let mut page = Page::new(witnessed.end_ms.max(1), violations);
    page.fault_lanes(scenario);
    page.receiver_lanes(witnessed);
    page.drop_lane(witnessed);
    page.open_clients_lane(witnessed);
    page.client_lanes(witnessed);
    page.counted_lane(
        "stats periods closed",
        "#6a5acd",
        witnessed
            .log
            .events()
            .filter_map(|event| matches!(event.what, What::StatsFlushed(_)).then_some(event.at_ms)),
    );
    page.tenant_lanes(witnessed);
    let has_tenants = witnessed
        .names
        .iter()
        .any(|name| name.starts_with("tenant:"));
    page.counted_lane_if(
        has_tenants,
        "payloads at the platform",
        "#2e8b57",
        witnessed.log.events().filter_map(|event| {
            matches!(event.what, What::PayloadStored { .. }).then_some(event.at_ms)
        }),
    );
    page.violations(report, witnessed);
    page.finish(scenario, report)
}

/// The SVG being drawn, lane by lane.
struct Page {
    end_ms: u64,
    y: f64,
    /// Where the lanes start.
    top: f64,
    body: String,
    /// Violation lines, drawn last across every lane.
    marks: String,
}

impl Page {
    /// A page for a run that ended at `end_ms` with `violations` violations (each gets a row
    /// of its own for its label, above the lanes).
    fn new(end_ms: u64, violations: usize) -> Self {
        Self {
            end_ms,
            y: 30.0 + VIOLATION_ROW * violations.min(MAX_VIOLATION_ROWS) as f64,
            top: 30.0 + VIOLATION_ROW * violations.min(MAX_VIOLATION_ROWS) as f64,
            body: String::new(),
            marks: String::new(),
        }
    }

    fn x(&self, at_ms: u64) -> f64 {
        LABEL_WIDTH + PLOT_WIDTH * at_ms.min(self.end_ms) as f64 / self.end_ms as f64
    }

    fn label(&mut self, text: &str, height: f64) {
        let _ = write!(
            self.body,
            r#"<text x="{:.1}" y="{:.1}" class="label">{}</text>"#,
            LABEL_WIDTH - 8.0,
            self.y + height / 2.0 + 4.0,
            escape(text)
        );
        let _ = write!(
            self.body,
            r#"<line x1="{LABEL_WIDTH}" x2="{:.1}" y1="{:.1}" y2="{:.1}" class="rule"/>"#,
            LABEL_WIDTH + PLOT_WIDTH,
            self.y + height,
            self.y + height
        );
    }

    fn rect(
        &mut self,
        (from_ms, to_ms): (u64, u64),
        (top, height): (f64, f64),
        colour: &str,
        title: &str,
    ) {
        let x = self.x(from_ms);
        let width = (self.x(to_ms) - x).max(1.0);
        let _ = write!(
            self.body,
            r#"<rect x="{x:.1}" y="{top:.1}" width="{width:.1}" height="{height:.1}" fill="{colour}"><title>{}</title></rect>"#,
            escape(title)
        );
    }

    fn fault_lanes(&mut self, scenario: &Scenario) {
        for fault in &scenario.faults {
            let target = fault
                .target
                .map_or(String::new(), |target| format!(" on {target}"));
            let name = format!("fault {}{target}", fault.kind.name());
            self.label(&name, LANE_HEIGHT);
            let title = format!(
                "{name}: {} to {}",
                human_ms(fault.at_ms),
                human_ms(fault.end_ms())
            );
            let band = (self.y + 3.0, LANE_HEIGHT - 6.0);
            self.rect((fault.at_ms, fault.end_ms()), band, "#f4a6a6", &title);
            // Fault windows are shaded across the whole picture, behind every lane.
            let x = self.x(fault.at_ms);
            let width = (self.x(fault.end_ms()) - x).max(1.0);
            let _ = write!(
                self.marks,
                r#"<rect x="{x:.1}" y="0" width="{width:.1}" height="100%" class="window"/>"#
            );
            self.y += LANE_HEIGHT;
        }
    }

    /// A bar chart of `counts` per slice.
    fn bars(&mut self, name: &str, colour: &str, counts: &[u64]) {
        self.label(name, CHART_HEIGHT);
        let most = counts.iter().copied().max().unwrap_or(0).max(1);
        let slice_ms = self.end_ms.div_ceil(SLICES as u64).max(1);
        for (slice, &count) in counts.iter().enumerate().filter(|(_, &count)| count > 0) {
            let height = (CHART_HEIGHT - 4.0) * count as f64 / most as f64;
            let from_ms = slice as u64 * slice_ms;
            let title = format!("{name}: {count} from {}", human_ms(from_ms));
            let band = (self.y + CHART_HEIGHT - height, height);
            self.rect((from_ms, from_ms + slice_ms), band, colour, &title);
        }
        let _ = write!(
            self.body,
            r#"<text x="{:.1}" y="{:.1}" class="scale">max {most}</text>"#,
            LABEL_WIDTH + PLOT_WIDTH + 4.0,
            self.y + 10.0
        );
        self.y += CHART_HEIGHT;
    }

    fn slices(&self, times_ms: impl Iterator<Item = u64>) -> Vec<u64> {
        let slice_ms = self.end_ms.div_ceil(SLICES as u64).max(1);
        let mut counts = vec![0; SLICES];
        for at_ms in times_ms {
            let slice = usize::try_from(at_ms / slice_ms).unwrap_or(SLICES - 1);
            counts[slice.min(SLICES - 1)] += 1;
        }
        counts
    }

    fn counted_lane_if(
        &mut self,
        wanted: bool,
        name: &str,
        colour: &str,
        times_ms: impl Iterator<Item = u64>,
    ) {
        if wanted {
            self.counted_lane(name, colour, times_ms);
        }
    }

    fn counted_lane(&mut self, name: &str, colour: &str, times_ms: impl Iterator<Item = u64>) {
        let counts = self.slices(times_ms);
        self.bars(name, colour, &counts);
    }

    fn receiver_lanes(&mut self, witnessed: &Witnessed) {
        let mut stored: BTreeMap<ActorIdx, u64> = BTreeMap::new();
        for event in witnessed.log.events() {
            if event.what == What::Stored {
                *stored.entry(event.actor).or_default() += 1;
            }
        }
        let mut busiest: Vec<(ActorIdx, u64)> = stored.into_iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        busiest.truncate(RECEIVER_LANES);
        busiest.sort_unstable();
        for (receiver, _) in busiest {
            let name = format!("facts stored by {}", name(witnessed, receiver));
            let times = witnessed
                .log
                .events()
                .filter(|event| event.actor == receiver && event.what == What::Stored)
                .map(|event| event.at_ms);
            self.counted_lane(&name, "#4682b4", times);
        }
    }

    fn drop_lane(&mut self, witnessed: &Witnessed) {
        for (name, colour, breaker) in [
            ("drops: breaker open", "#d2691e", true),
            ("drops: delivery failed", "#b22222", false),
        ] {
            let times = witnessed.log.events().filter_map(|event| match event.what {
                What::Dropped(_, reason) => {
                    (matches!(reason, DropReason::BreakerOpen) == breaker).then_some(event.at_ms)
                }
                _ => None,
            });
            self.counted_lane(name, colour, times);
        }
    }

    fn open_clients_lane(&mut self, witnessed: &Witnessed) {
        let slice_ms = self.end_ms.div_ceil(SLICES as u64).max(1);
        let mut open = vec![0; SLICES];
        let mut half_open = vec![0; SLICES];
        for (_, segments) in breaker_segments(witnessed) {
            for (from_ms, to_ms, state) in segments {
                let counts = match state {
                    BreakerState::Open => &mut open,
                    BreakerState::HalfOpen => &mut half_open,
                    BreakerState::Closed => continue,
                };
                let first = usize::try_from(from_ms / slice_ms).unwrap_or(SLICES);
                let last = usize::try_from(to_ms.saturating_sub(1) / slice_ms).unwrap_or(SLICES);
                let last = last.min(SLICES - 1);
                for count in counts.iter_mut().take(last + 1).skip(first) {
                    *count += 1;
                }
            }
        }
        self.bars("clients OPEN", "#e74c3c", &open);
        self.bars("clients HALF_OPEN", "#f39c12", &half_open);
    }

    fn client_lanes(&mut self, witnessed: &Witnessed) {
        let segments = breaker_segments(witnessed);
        let named: Vec<ActorIdx> = witnessed
            .focus
            .iter()
            .flat_map(|focus| focus.actors.iter().copied())
            .collect();
        let everyone = segments.len() <= ALL_CLIENTS_UP_TO;
        for ((caller, target), lanes) in segments {
            if !everyone && !named.contains(&caller) {
                continue;
            }
            let target_name =
                target.map_or("?".to_owned(), |target| name(witnessed, target).to_owned());
            let lane = format!("{} -> {target_name}", name(witnessed, caller));
            self.label(&lane, LANE_HEIGHT);
            for (from_ms, to_ms, state) in lanes {
                let colour = match state {
                    BreakerState::Closed => "#9bd59b",
                    BreakerState::Open => "#e74c3c",
                    BreakerState::HalfOpen => "#f39c12",
                };
                let title = format!(
                    "{lane}: {} from {} to {}",
                    state_name(state),
                    human_ms(from_ms),
                    human_ms(to_ms)
                );
                let band = (self.y + 4.0, LANE_HEIGHT - 8.0);
                self.rect((from_ms, to_ms), band, colour, &title);
            }
            self.y += LANE_HEIGHT;
        }
    }

    fn tenant_lanes(&mut self, witnessed: &Witnessed) {
        let tenants: Vec<ActorIdx> = (0..witnessed.names.len())
            .filter(|&idx| witnessed.names[idx].starts_with("tenant:"))
            .take(TENANT_LANES)
            .collect();
        for tenant in tenants {
            let lane = format!("{} alarm and flushes", name(witnessed, tenant));
            self.label(&lane, LANE_HEIGHT);
            let events = witnessed.log.events().filter(|event| event.actor == tenant);
            let mut alarm_since: Option<u64> = None;
            for event in events {
                self.tenant_event(event, &lane, &mut alarm_since);
            }
            if let Some(since_ms) = alarm_since {
                let band = (self.y + 6.0, LANE_HEIGHT - 12.0);
                self.rect(
                    (since_ms, self.end_ms),
                    band,
                    "#c8a2c8",
                    &format!("{lane}: alarm set"),
                );
            }
            self.y += LANE_HEIGHT;
        }
    }

    fn tenant_event(&mut self, event: &Event, lane: &str, alarm_since: &mut Option<u64>) {
        let band = (self.y + 6.0, LANE_HEIGHT - 12.0);
        match &event.what {
            What::TenantState { alarm_set, .. } => match (*alarm_set, *alarm_since) {
                (true, None) => *alarm_since = Some(event.at_ms),
                (false, Some(since_ms)) => {
                    self.rect(
                        (since_ms, event.at_ms),
                        band,
                        "#c8a2c8",
                        &format!("{lane}: alarm set"),
                    );
                    *alarm_since = None;
                }
                _ => {}
            },
            What::Attempt(key @ MessageKey::Flush(_)) => {
                let title = format!("{lane}: {key} attempted at {}", human_ms(event.at_ms));
                self.rect(
                    (event.at_ms, event.at_ms),
                    (self.y + 2.0, LANE_HEIGHT - 4.0),
                    "#2e8b57",
                    &title,
                );
            }
            What::AlarmDeleted => {
                let title = format!(
                    "{lane}: alarm deleted after its last retry at {}",
                    human_ms(event.at_ms)
                );
                self.rect(
                    (event.at_ms, event.at_ms),
                    (self.y, LANE_HEIGHT),
                    "#000",
                    &title,
                );
            }
            _ => {}
        }
    }

    fn violations(&mut self, report: &Report, witnessed: &Witnessed) {
        let failed = report.invariants.iter().zip(&witnessed.focus);
        let failed = failed.filter(|(invariant, _)| !invariant.passed);
        for (row, (invariant, focus)) in failed.enumerate() {
            let at_ms = focus.until_ms.unwrap_or(witnessed.end_ms);
            let x = self.x(at_ms);
            let label_y = 24.0 + VIOLATION_ROW * (row % MAX_VIOLATION_ROWS) as f64;
            // Labels right of the line, or left of it in the last fifth of the picture.
            let (label_x, anchor) = if x > LABEL_WIDTH + PLOT_WIDTH * 0.8 {
                (x - 3.0, "end")
            } else {
                (x + 3.0, "start")
            };
            let _ = write!(
                self.marks,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="100%" class="violation"><title>{title}</title></line><text x="{label_x:.1}" y="{label_y:.1}" text-anchor="{anchor}" class="violation-label"><title>{title}</title>{}</text>"#,
                label_y - 10.0,
                escape(&invariant.name),
                title = escape(&format!("{}: {}", invariant.name, invariant.detail)),
            );
        }
    }

    fn finish(mut self, scenario: &Scenario, report: &Report) -> String {
        self.axis();
        let height = self.y + 30.0;
        let width = LABEL_WIDTH + PLOT_WIDTH + 60.0;
        let verdict = if report.passed { "passed" } else { "FAILED" };
        let failed: Vec<&str> = report
            .invariants
            .iter()
            .filter(|invariant| !invariant.passed)
            .map(|invariant| invariant.name.as_str())
            .collect();
        let mut html = String::with_capacity(self.body.len() + 4_096);
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>z0sim timeline: {name} seed {seed}</title><style>{STYLE}</style></head><body>\n<h1>{name}, seed {seed}: {verdict}</h1>\n<p>{failed}simulated {time}; hover a mark for what it is. Red lines: violations; shaded: fault windows.</p>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">{body}{marks}</svg>\n</body></html>\n",
            name = escape(&scenario.name),
            seed = report.seed,
            failed = if failed.is_empty() {
                String::new()
            } else {
                format!("failed: {}. ", escape(&failed.join(", ")))
            },
            time = human_ms(report.sim_time_ms),
            body = self.body,
            marks = self.marks,
        );
        html
    }

    fn axis(&mut self) {
        let ticks = 10;
        for tick in 0..=ticks {
            let at_ms = self.end_ms * tick / ticks;
            let x = self.x(at_ms);
            let _ = write!(
                self.body,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" class="grid"/><text x="{x:.1}" y="{:.1}" class="tick">{}</text>"#,
                self.top,
                self.y,
                self.y + 16.0,
                human_ms(at_ms)
            );
        }
    }
}

/// Each client's breaker states as segments `(from_ms, to_ms, state)`, from its transitions;
/// a restart of its actor starts it CLOSED again. A client's lane starts when its actor first
/// started (an entity that arrives late, `[workload] start_spread`, has no breaker before).
fn breaker_segments(witnessed: &Witnessed) -> BTreeMap<Client, Vec<(u64, u64, BreakerState)>> {
    let mut current: BTreeMap<Client, (u64, BreakerState)> = BTreeMap::new();
    let mut segments: BTreeMap<Client, Vec<(u64, u64, BreakerState)>> = BTreeMap::new();
    let mut first_started: BTreeMap<ActorIdx, u64> = BTreeMap::new();
    for event in witnessed.log.events() {
        if event.what == What::Started {
            first_started.entry(event.actor).or_insert(event.at_ms);
        }
        match event.what {
            What::Transition { to, .. } => {
                let client = (event.actor, event.other);
                let started_ms = first_started.get(&event.actor).copied().unwrap_or(0);
                let (since_ms, state) = current
                    .get(&client)
                    .copied()
                    .unwrap_or((started_ms, BreakerState::Closed));
                segments
                    .entry(client)
                    .or_default()
                    .push((since_ms, event.at_ms, state));
                current.insert(client, (event.at_ms, to));
            }
            What::Started | What::Killed { .. } => {
                let clients: Vec<Client> = current
                    .range((event.actor, None)..)
                    .take_while(|(client, _)| client.0 == event.actor)
                    .map(|(client, _)| *client)
                    .collect();
                for client in clients {
                    if let Some((since_ms, state)) =
                        current.insert(client, (event.at_ms, BreakerState::Closed))
                    {
                        segments
                            .entry(client)
                            .or_default()
                            .push((since_ms, event.at_ms, state));
                    }
                }
            }
            _ => {}
        }
    }
    for (client, (since_ms, state)) in current {
        segments
            .entry(client)
            .or_default()
            .push((since_ms, witnessed.end_ms, state));
    }
    segments
}

fn name(witnessed: &Witnessed, idx: ActorIdx) -> &str {
    actor_name(&witnessed.names, idx)
}

/// `text` safe inside HTML and SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:16px;color:#222}\
h1{font-size:18px;margin:0 0 4px}p{margin:0 0 8px;font-size:13px}\
.label{font-size:11px;text-anchor:end;fill:#333}.scale{font-size:9px;fill:#888}\
.tick{font-size:10px;text-anchor:middle;fill:#555}.grid{stroke:#eee}.rule{stroke:#ddd}\
.window{fill:#f4a6a6;opacity:0.15}\
.violation{stroke:#d00;stroke-width:2}.violation-label{font-size:11px;fill:#d00}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::observe::Observation;
    use crate::sim::witness::events::EventLog;

    /// An entity that arrives at 5 s: its breaker lane starts there, not at 0.
    #[test]
    fn a_breaker_lane_starts_when_its_actor_first_started() {
        let mut log = EventLog::new(None);
        log.record(&Observation::Started {
            at_ms: 5_000,
            actor: 1,
        });
        for (at_ms, from, to) in [
            (8_000, BreakerState::Closed, BreakerState::Open),
            (9_000, BreakerState::Open, BreakerState::HalfOpen),
        ] {
            log.record(&Observation::Transition {
                at_ms,
                caller: 1,
                target: Some(0),
                from,
                to,
            });
        }
        let witnessed = Witnessed {
            log,
            names: vec!["system".to_owned(), "entity:t0/a".to_owned()],
            focus: Vec::new(),
            end_ms: 10_000,
            fault_picks: Vec::new(),
        };
        let segments = breaker_segments(&witnessed);
        assert_eq!(
            segments.get(&(1, Some(0))),
            Some(&vec![
                (5_000, 8_000, BreakerState::Closed),
                (8_000, 9_000, BreakerState::Open),
                (9_000, 10_000, BreakerState::HalfOpen),
            ])
        );
    }
}
