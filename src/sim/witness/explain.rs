//! A violation explained: the fault windows in force around it and the events of the actors
//! it names, up to the latest time it mentions (the end of the run when it mentions none).

use super::events::{Event, EventLog, What};
use crate::ledgers::{BreakerState, DropReason};
use crate::sim::oracle::words::{human_ms, Focus};
use crate::sim::scenario::Scenario;

/// Fault windows that ended this long before the violation still explain it.
const RECENT_FAULT_MS: u64 = 120_000;

/// Lines explaining one violation: the fault windows in force at (or ended shortly before)
/// its time, then the last `limit` events of the actors it names up to that time.
pub fn explain(
    log: &EventLog,
    focus: &Focus,
    names: &[String],
    scenario: &Scenario,
    end_ms: u64,
    limit: usize,
) -> Vec<String> {
    let until_ms = focus.until_ms.unwrap_or(end_ms);
    let mut lines = fault_lines(scenario, until_ms);
    let events: Vec<&Event> = log
        .events()
        .filter(|event| event.at_ms <= until_ms)
        .filter(|event| focus.actors.binary_search(&event.actor).is_ok())
        .filter(|event| worth_explaining(&event.what))
        .collect();
    let skipped = events.len().saturating_sub(limit);
    if skipped > 0 {
        lines.push(format!("({skipped} earlier events left out)"));
    }
    lines.extend(
        events[skipped..]
            .iter()
            .map(|event| event_line(event, names)),
    );
    lines
}

/// Whether an event helps explain a violation: not every fact a receiver stored, nor every
/// primary operation that returned at once without an error.
fn worth_explaining(what: &What) -> bool {
    match what {
        What::Stored => false,
        What::PrimaryOp { ok, waited_ms } => !ok || *waited_ms > 0,
        _ => true,
    }
}

/// The faults in force at `until_ms`, or ended at most [`RECENT_FAULT_MS`] before it.
fn fault_lines(scenario: &Scenario, until_ms: u64) -> Vec<String> {
    scenario
        .faults
        .iter()
        .filter(|fault| {
            fault.at_ms <= until_ms && fault.end_ms().saturating_add(RECENT_FAULT_MS) > until_ms
        })
        .map(|fault| {
            let target = fault
                .target
                .map_or(String::new(), |target| format!(" on {target}"));
            format!(
                "fault {}{target} from {} to {}",
                fault.kind.name(),
                human_ms(fault.at_ms),
                human_ms(fault.end_ms())
            )
        })
        .collect()
}

/// One event as a line: time, actor (and target), what.
pub fn event_line(event: &Event, names: &[String]) -> String {
    let name = |idx: usize| actor_name(names, idx);
    let who = match event.other {
        Some(other) => format!("{} -> {}", name(event.actor), name(other)),
        None => name(event.actor).to_owned(),
    };
    format!(
        "{:>10}  {who}: {}",
        human_ms(event.at_ms),
        what_words(&event.what)
    )
}

/// The name of actor `idx` (`?` for an index the run does not have).
pub fn actor_name(names: &[String], idx: usize) -> &str {
    names.get(idx).map_or("?", String::as_str)
}

/// What happened, in words.
fn what_words(what: &What) -> String {
    match what {
        What::Transition { from, to } => {
            format!("breaker {} -> {}", state_name(*from), state_name(*to))
        }
        What::Attempt(key) => format!("attempt {key}"),
        What::Outcome(key, ok) => format!("{key} {}", if *ok { "delivered" } else { "failed" }),
        What::Dropped(key, reason) => format!("dropped {key}: {}", drop_words(*reason)),
        What::Rejected(key) => format!("rejected {key}: breaker open"),
        What::Settled(key, ok) => {
            format!(
                "{key} {}",
                if *ok { "settled" } else { "surfaced an error" }
            )
        }
        What::StatsFlushed(key) => format!("stats period closed: {key}"),
        What::Started => "started".to_owned(),
        What::Killed { idle: true } => "evicted for being idle".to_owned(),
        What::Killed { idle: false } => "killed".to_owned(),
        What::Refused { natural: true } => "refused a request: overloaded".to_owned(),
        What::Refused { natural: false } => {
            "refused a request: overloaded (system_ledger_overloaded fault)".to_owned()
        }
        What::Stored => "stored a fact".to_owned(),
        What::PayloadStored {
            tenant,
            period_start_ms,
        } => format!(
            "stored tenant {tenant}'s payload of the period from {}",
            human_ms(*period_start_ms)
        ),
        What::TenantState {
            has_work,
            alarm_set,
        } => format!(
            "{}, alarm {}",
            if *has_work {
                "work pending"
            } else {
                "no work pending"
            },
            if *alarm_set { "set" } else { "not set" }
        ),
        What::AlarmDeleted => "alarm deleted after its last failed retry".to_owned(),
        What::PrimaryOp { ok, waited_ms } => format!(
            "primary operation returned {} after {}",
            if *ok { "ok" } else { "an error" },
            human_ms(*waited_ms)
        ),
    }
}

/// A breaker state as the z0 page writes it.
pub fn state_name(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "CLOSED",
        BreakerState::Open => "OPEN",
        BreakerState::HalfOpen => "HALF_OPEN",
    }
}

/// Why a message was dropped, in words.
pub fn drop_words(reason: DropReason) -> String {
    match reason {
        DropReason::BreakerOpen => "breaker open".to_owned(),
        DropReason::DeliveryFailed(kind) => format!("delivery failed ({kind:?})"),
    }
}
