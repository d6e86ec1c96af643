//! `z0sim capacity` (docs/cli.md, "z0sim capacity"): the grid, what each point measures, and
//! the table, CSV and SVG it writes.

use std::num::NonZeroUsize;
use std::path::Path;
use std::process::Command;
use z0sim::sim::capacity::{capacity, scenario_at, CapacityGrid, CapacityPoint};
use z0sim::sim::capacity_output::{to_csv, to_svg, to_table};
use z0sim::sim::scenario::{load_scenario, Scenario};

fn base() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/capacity.toml");
    let mut scenario = load_scenario(&path).expect("the bundled base loads");
    scenario.duration_ms = 4 * 60_000;
    scenario
}

fn measure(grid: &CapacityGrid) -> Vec<CapacityPoint> {
    capacity(&base(), grid, 1, NonZeroUsize::MIN, &|_| {})
}

fn mean(point: &CapacityPoint) -> f64 {
    let report = point.report.as_ref().expect("the run finished");
    report
        .load
        .as_ref()
        .expect("ledgers got requests")
        .mean_per_sec
}

#[test]
fn each_point_runs_the_file_with_its_settings() {
    let grid = CapacityGrid {
        entities: vec![128, 512],
        stats_intervals_ms: vec![30_000, 120_000],
        sample_rates: vec![1.0, 0.25],
        shards: vec![1, 4],
    };
    let points = grid.points();
    assert_eq!(points.len(), 16);
    assert_eq!(points[0], (128, 30_000, 1.0, 1));
    assert_eq!(points[1], (512, 30_000, 1.0, 1), "entities vary fastest");
    let at = scenario_at(&base(), (512, 120_000, 0.25, 4));
    assert_eq!(at.topology.entities_per_tenant, 8, "512 over 64 tenants");
    assert_eq!(at.topology.system_shards, 4);
    assert_eq!(at.sdk.stats_min_interval_ms, 120_000);
    assert_eq!(at.sdk.sample_rate, 0.25);
    assert_eq!(
        at.workload.start_spread_ms, 120_000,
        "arrivals follow the interval"
    );
    let mut herd = base();
    herd.workload.start_spread_ms = 0;
    assert_eq!(scenario_at(&herd, points[0]).workload.start_spread_ms, 0);
}

#[test]
fn more_entities_load_more_and_each_option_loads_less() {
    let grid = |entities: Vec<u64>, interval_ms, rate, shards| CapacityGrid {
        entities,
        stats_intervals_ms: vec![interval_ms],
        sample_rates: vec![rate],
        shards: vec![shards],
    };
    let plain = measure(&grid(vec![128, 1_024], 30_000, 1.0, 1));
    assert!(mean(&plain[1]) > 4.0 * mean(&plain[0]), "8x the fleet");
    let longer = measure(&grid(vec![1_024], 120_000, 1.0, 1));
    let sampled = measure(&grid(vec![1_024], 30_000, 0.1, 1));
    let sharded = measure(&grid(vec![1_024], 30_000, 1.0, 8));
    for (option, points) in [
        ("interval", &longer),
        ("sampling", &sampled),
        ("shards", &sharded),
    ] {
        assert!(
            mean(&points[0]) < mean(&plain[1]) / 2.0,
            "{option}: {} vs {}",
            mean(&points[0]),
            mean(&plain[1])
        );
    }
    let busiest = &sharded[0].report.as_ref().expect("ran").load;
    assert!(busiest
        .as_ref()
        .is_some_and(|load| load.busiest.starts_with("system:")));
    assert!(plain
        .iter()
        .chain(&sharded)
        .all(|point| point.report.as_ref().is_some_and(|r| r.passed)));
}

#[test]
fn the_table_csv_and_svg_show_every_point_and_the_soft_limit() {
    let points = measure(&CapacityGrid {
        entities: vec![64, 256],
        stats_intervals_ms: vec![60_000],
        sample_rates: vec![1.0, 0.5],
        shards: vec![1],
    });
    let table = to_table(&points);
    assert_eq!(table.lines().count(), 1 + 4 + 1, "{table}");
    assert!(table.starts_with("entities") && table.contains("busiest_ledger"));
    let csv = to_csv(&points);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("entities,stats_interval_ms,sample_rate,shards,busiest_ledger"));
    assert!(lines[1].starts_with("64,60000,1,1,system,"), "{}", lines[1]);
    assert!(lines
        .iter()
        .skip(1)
        .all(|line| line.split(',').count() == 13));
    let svg = to_svg(&points, "a <title>");
    let document = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let polylines = document
        .descendants()
        .filter(|node| node.has_tag_name("polyline"))
        .count();
    assert_eq!(polylines, 2, "one line per sample rate");
    assert!(svg.contains("Cloudflare soft limit") && svg.contains("a &lt;title&gt;"));
}

#[test]
fn bad_grids_are_refused_with_the_reason() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/capacity.toml");
    for (args, wanted) in [
        (
            vec!["--sample-rates", "1,2"],
            "--sample-rates: 2 is not in [0, 1]",
        ),
        (
            vec!["--entities", "1000,2000000"],
            "more than the 1000000 entity ledgers",
        ),
        (vec!["--shards", "0"], "--shards: 0 is not from 1 to"),
        (vec!["--stats-intervals", "5"], "unit"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_z0sim"))
            .arg("capacity")
            .arg(&file)
            .args(&args)
            .output()
            .expect("z0sim runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(wanted), "{args:?}: {stderr}");
    }
}
