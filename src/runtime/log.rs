//! The run's `tracing` set-up: the event log of `--trace` (or `RUST_LOG`) and the counter of
//! fallback warnings actually logged, ground truth for `fallback_warns`.

use crate::ledgers::client::FALLBACK_TARGET;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tracing::subscriber::Interest;
use tracing::Dispatch;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::EnvFilter;

/// The dispatcher of a run: the warning counter, and the event log when `trace_filter` asks
/// for one.
pub fn dispatch(trace_filter: Option<&str>, warnings: &WarningCounter) -> Dispatch {
    match trace_filter {
        // No event log: the counter alone, which disables every other callsite, so tracing
        // costs nothing in an untraced run.
        None => Dispatch::new(tracing_subscriber::registry().with(warnings.clone())),
        // An event log: the counter only counts and leaves every callsite to the log's filter
        // (if it disabled them here, the log would print nothing: tests/cli_trace.rs checks
        // that `--trace` prints).
        Some(filter) => Dispatch::new(
            tracing_subscriber::registry()
                .with(warnings.passive())
                .with(trace_layer(filter)),
        ),
    }
}

thread_local! {
    /// The simulated time of the event the world is handling, for the event log's timestamps.
    /// One simulation per thread, so one clock per thread.
    static SIM_NOW_MS: Cell<u64> = const { Cell::new(0) };
}

/// The world is handling an event at `now_ms`: what the event log's lines are stamped with.
pub fn set_sim_now_ms(now_ms: u64) {
    SIM_NOW_MS.with(|now| now.set(now_ms));
}

/// Stamps each line of the event log with the simulated time (`  336.815s`), never the wall
/// clock (it would make two runs' logs differ). Lines logged by the ledgers themselves (the
/// fallback warnings) get the time of the event being handled.
struct SimTime;

impl tracing_subscriber::fmt::time::FormatTime for SimTime {
    fn format_time(
        &self,
        writer: &mut tracing_subscriber::fmt::format::Writer<'_>,
    ) -> std::fmt::Result {
        let now_ms = SIM_NOW_MS.with(Cell::get);
        write!(writer, "{:>6}.{:03}s", now_ms / 1_000, now_ms % 1_000)
    }
}

/// The event log of `--trace`, stamped with simulated time.
fn trace_layer<S>(filter: &str) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'lookup> tracing_subscriber::registry::LookupSpan<'lookup>,
{
    tracing_subscriber::fmt::layer()
        .with_timer(SimTime)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::new(filter))
}

/// Counts the fallback warnings actually logged through `tracing` (ground truth for
/// `fallback_warns`: what an operator would see, not what the client says it did).
#[derive(Clone, Default)]
pub struct WarningCounter {
    count: Arc<AtomicU64>,
    /// Leaves the other callsites to another layer instead of disabling them.
    passive: bool,
}

impl WarningCounter {
    /// Warnings counted so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The same counter, leaving every other callsite to another layer.
    fn passive(&self) -> Self {
        Self {
            count: self.count.clone(),
            passive: true,
        }
    }

    fn wants(metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == FALLBACK_TARGET && *metadata.level() == tracing::Level::WARN
    }
}

impl<S: tracing::Subscriber> Layer<S> for WarningCounter {
    fn register_callsite(&self, metadata: &'static tracing::Metadata<'static>) -> Interest {
        if Self::wants(metadata) || self.passive {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        self.passive || Self::wants(metadata)
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if Self::wants(event.metadata()) {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }
}
