//! What `z0sim capacity` prints and writes: a table, the same as CSV, and an SVG plot of the
//! busiest ledger's requests per second against the fleet size (log-log), one line per
//! stats interval, sample rate and shard count, with Cloudflare's soft limit of about 1,000
//! requests per second per object marked.

use crate::sim::capacity::{CapacityPoint, SOFT_LIMIT_PER_SEC};
use crate::sim::oracle::words::human_ms;
use std::fmt::Write as _;

/// One point's measured row (`None` for a run that panicked).
struct Row {
    busiest: String,
    mean_per_sec: f64,
    peak_per_sec: u64,
    peak_queued: u64,
    overloaded: u64,
    drops: u64,
    delivery_p99_ms: u64,
    wall_ms: u64,
    verdict: &'static str,
}

fn row(point: &CapacityPoint) -> Option<Row> {
    let report = point.report.as_ref()?;
    let load = report.load.clone().unwrap_or_default();
    let counters = &report.counters;
    Some(Row {
        busiest: load.busiest,
        mean_per_sec: load.mean_per_sec,
        peak_per_sec: load.peak_per_sec,
        peak_queued: load.peak_queued,
        overloaded: counters.overloaded_answers,
        drops: counters.dropped_breaker_open + counters.dropped_delivery_failed,
        delivery_p99_ms: report.latency_ms.get("delivery").map_or(0, |d| d.p99),
        wall_ms: report.wall_ms,
        verdict: if report.passed { "passed" } else { "FAILED" },
    })
}

const COLUMNS: [&str; 13] = [
    "entities",
    "stats_interval",
    "sample_rate",
    "shards",
    "busiest_ledger",
    "mean_per_sec",
    "peak_per_sec",
    "peak_queued",
    "overloaded",
    "drops",
    "delivery_p99",
    "wall",
    "verdict",
];

/// One line per point, aligned; a mean above the soft limit is marked `!`.
pub fn to_table(points: &[CapacityPoint]) -> String {
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| (*c).to_owned()).collect()];
    for point in points {
        let mut cells = vec![
            point.entities.to_string(),
            human_ms(point.stats_interval_ms),
            point.sample_rate.to_string(),
            point.shards.to_string(),
        ];
        match row(point) {
            Some(row) => cells.extend([
                row.busiest,
                format!(
                    "{}{}",
                    row.mean_per_sec,
                    if row.mean_per_sec > SOFT_LIMIT_PER_SEC {
                        "!"
                    } else {
                        ""
                    }
                ),
                row.peak_per_sec.to_string(),
                row.peak_queued.to_string(),
                row.overloaded.to_string(),
                row.drops.to_string(),
                human_ms(row.delivery_p99_ms),
                human_ms(row.wall_ms),
                row.verdict.to_owned(),
            ]),
            None => {
                cells.extend(std::iter::repeat_n("-".to_owned(), 8).chain(["PANICKED".to_owned()]))
            }
        }
        rows.push(cells);
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|column| {
            rows.iter()
                .map(|cells| cells[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for cells in &rows {
        let line: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:>width$}"))
            .collect();
        let _ = writeln!(text, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(
        text,
        "mean_per_sec and peak_per_sec: requests arriving at the busiest ledger (refused ones included); ! marks a mean above Cloudflare's soft limit of about {SOFT_LIMIT_PER_SEC} requests per second per object"
    );
    text
}

/// The same as CSV: times in ms, a header row.
pub fn to_csv(points: &[CapacityPoint]) -> String {
    let mut text = String::new();
    let header: Vec<String> = COLUMNS
        .iter()
        .map(|column| match *column {
            "stats_interval" | "delivery_p99" | "wall" => format!("{column}_ms"),
            other => other.to_owned(),
        })
        .collect();
    let _ = writeln!(text, "{}", header.join(","));
    for point in points {
        let head = format!(
            "{},{},{},{}",
            point.entities, point.stats_interval_ms, point.sample_rate, point.shards
        );
        match row(point) {
            Some(row) => {
                let _ = writeln!(
                    text,
                    "{head},{},{},{},{},{},{},{},{},{}",
                    row.busiest,
                    row.mean_per_sec,
                    row.peak_per_sec,
                    row.peak_queued,
                    row.overloaded,
                    row.drops,
                    row.delivery_p99_ms,
                    row.wall_ms,
                    row.verdict
                );
            }
            None => {
                let _ = writeln!(text, "{head},,,,,,,,,panicked");
            }
        }
    }
    text
}

/// A series: the points of one (interval, sample rate, shards) setting, by fleet size.
struct Series {
    label: String,
    /// The colour's key (interval and sampling) and the dash's (shards).
    colour_key: (u64, String),
    dash_key: u32,
    points: Vec<(f64, f64)>,
}

fn series(points: &[CapacityPoint]) -> Vec<Series> {
    let mut all: Vec<Series> = Vec::new();
    for point in points {
        let label = format!(
            "interval {}, sampling {}, {} shard{}",
            human_ms(point.stats_interval_ms),
            point.sample_rate,
            point.shards,
            if point.shards == 1 { "" } else { "s" }
        );
        let Some(row) = row(point) else { continue };
        let xy = (point.entities as f64, row.mean_per_sec.max(0.01));
        match all.iter_mut().find(|series| series.label == label) {
            Some(series) => series.points.push(xy),
            None => all.push(Series {
                label,
                colour_key: (point.stats_interval_ms, point.sample_rate.to_string()),
                dash_key: point.shards,
                points: vec![xy],
            }),
        }
    }
    all
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 330.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];
const DASHES: [&str; 4] = ["", "6 4", "2 3", "10 3 2 3"];

/// Powers of ten covering `low..=high`, as exponents.
fn decades(low: f64, high: f64) -> (i32, i32) {
    let low = low.max(1e-2).log10().floor() as i32;
    let high = high.max(1e-2).log10().ceil() as i32;
    (low, high.max(low + 1))
}

/// The plot's scales: decades on both axes.
struct Plot {
    x_decades: (i32, i32),
    y_decades: (i32, i32),
}

impl Plot {
    const WIDTH: f64 = WIDTH - LEFT - RIGHT;
    const HEIGHT: f64 = HEIGHT - TOP - BOTTOM;

    fn new(all: &[Series]) -> Self {
        let xs = all.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        let ys = all.iter().flat_map(|s| s.points.iter().map(|p| p.1));
        Self {
            x_decades: decades(xs.clone().fold(f64::MAX, f64::min), xs.fold(1.0, f64::max)),
            y_decades: decades(
                ys.clone().fold(f64::MAX, f64::min).min(SOFT_LIMIT_PER_SEC),
                ys.fold(1.0, f64::max).max(SOFT_LIMIT_PER_SEC * 2.0),
            ),
        }
    }

    fn x_of(&self, x: f64) -> f64 {
        let (low, high) = self.x_decades;
        LEFT + (x.log10() - f64::from(low)) / f64::from(high - low) * Self::WIDTH
    }

    fn y_of(&self, y: f64) -> f64 {
        let (low, high) = self.y_decades;
        TOP + Self::HEIGHT - (y.log10() - f64::from(low)) / f64::from(high - low) * Self::HEIGHT
    }
}

/// The plot: busiest ledger's mean requests per second against entities, log-log.
pub fn to_svg(points: &[CapacityPoint], title: &str) -> String {
    let all = series(points);
    let plot = Plot::new(&all);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    write_axes(&mut svg, &plot);
    write_series(&mut svg, &plot, &all);
    svg.push_str("</svg>\n");
    svg
}

/// Grid lines, decade labels, axis titles and the soft limit.
fn write_axes(svg: &mut String, plot: &Plot) {
    let bottom = TOP + Plot::HEIGHT;
    let right = LEFT + Plot::WIDTH;
    for decade in plot.x_decades.0..=plot.x_decades.1 {
        let x = plot.x_of(10f64.powi(decade));
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{bottom:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            bottom + 16.0,
            power_label(decade)
        );
    }
    for decade in plot.y_decades.0..=plot.y_decades.1 {
        let y = plot.y_of(10f64.powi(decade));
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            power_label(decade)
        );
    }
    let limit_y = plot.y_of(SOFT_LIMIT_PER_SEC);
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{limit_y:.1}" x2="{right:.1}" y2="{limit_y:.1}" stroke="black" stroke-width="2" stroke-dasharray="8 4"/><text x="{:.1}" y="{:.1}">Cloudflare soft limit, ~1,000 req/s per object</text>"##,
        LEFT + 6.0,
        limit_y - 6.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">entity ledgers in the fleet</text>"#,
        LEFT + Plot::WIDTH / 2.0,
        HEIGHT - 12.0
    );
    let middle = TOP + Plot::HEIGHT / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{middle:.1}" text-anchor="middle" transform="rotate(-90 16 {middle:.1})">requests/s at the busiest ledger (mean)</text>"#
    );
}

/// Each series' line, points and legend entry: one colour per interval and sampling, one dash
/// per shard count (lines that differ only in shards share a colour).
fn write_series(svg: &mut String, plot: &Plot, all: &[Series]) {
    let mut colour_keys: Vec<&(u64, String)> = Vec::new();
    for series in all {
        if !colour_keys.contains(&&series.colour_key) {
            colour_keys.push(&series.colour_key);
        }
    }
    let mut dash_keys: Vec<u32> = all.iter().map(|s| s.dash_key).collect();
    dash_keys.sort_unstable();
    dash_keys.dedup();
    for (index, series) in all.iter().enumerate() {
        let colour_at = colour_keys
            .iter()
            .position(|key| **key == series.colour_key);
        let dash_at = dash_keys.iter().position(|key| *key == series.dash_key);
        let colour = COLOURS[colour_at.unwrap_or(0) % COLOURS.len()];
        let dash = DASHES[dash_at.unwrap_or(0) % DASHES.len()];
        let path: Vec<String> = series
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", plot.x_of(*x), plot.y_of(*y)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            path.join(" ")
        );
        for (x, y) in &series.points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                plot.x_of(*x),
                plot.y_of(*y)
            );
        }
        let legend_y = TOP + 14.0 + index as f64 * 17.0;
        let legend_x = LEFT + Plot::WIDTH + 16.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{legend_y:.1}">{}</text>"#,
            legend_y - 4.0,
            legend_x + 28.0,
            legend_y - 4.0,
            legend_x + 34.0,
            escape(&series.label)
        );
    }
}

fn power_label(decade: i32) -> String {
    if (-3..0).contains(&decade) {
        return format!("{}", 10f64.powi(decade));
    }
    if (0..=6).contains(&decade) {
        let value = 10u64.pow(decade as u32);
        let mut digits = value.to_string();
        let mut grouped = String::new();
        while digits.len() > 3 {
            let tail = digits.split_off(digits.len() - 3);
            grouped = format!(",{tail}{grouped}");
        }
        format!("{digits}{grouped}")
    } else {
        format!("1e{decade}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
