//! Diagnostics like rustc's (docs/scenarios.md, "What errors look like"): the source line with
//! a caret under the key or value, "did you mean", every error of a file at once, units as
//! written, warnings that do not fail, and `check --resolved`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use z0sim::sim::parse_scenario;
use z0sim::sim::scenario::diagnose::{diagnose, MAX_ERRORS};

fn file_with(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join(name);
    std::fs::write(&path, text).expect("write the scenario");
    (directory, path)
}

fn z0sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_z0sim"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run the binary")
}

fn check(text: &str) -> (Option<i32>, String, String) {
    let (_directory, path) = file_with("case.toml", text);
    let output = z0sim(&["check", &path.to_string_lossy()]);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_misspelt_key_shows_its_line_a_caret_and_a_suggestion() {
    let (code, _, stderr) = check("name = \"x\"\nduration = \"5m\"\n[topology]\ntenant = 2\n");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("case.toml:4:1: unknown field `tenant`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `tenants`?"), "{stderr}");
    assert!(stderr.contains("4 │ tenant = 2"), "{stderr}");
    assert!(stderr.contains("│ ^^^^^^\n"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no colours when standard error is not a terminal"
    );
}

#[test]
fn a_file_with_three_mistakes_shows_three_errors() {
    let keys = "name = \"x\"\nduration = \"5m\"\n[topology]\ntenant = 2\nentites_per_tenant = 3\n[[fault]]\nkind = \"packet_loss\"\n";
    let (code, _, stderr) = check(keys);
    assert_eq!(code, Some(2));
    assert_eq!(stderr.matches("error: ").count(), 3, "{stderr}");
    let values = "name = \"x\"\nduration = \"15m\"\n[topology]\ntenants = 0\n[workload]\nhit_ratio = 1.5\n[[faults]]\nkind = \"system_ledger_down\"\nat = \"20m\"\nduration = \"1m\"\n";
    let (code, _, stderr) = check(values);
    assert_eq!(code, Some(2));
    assert_eq!(stderr.matches("error: ").count(), 3, "{stderr}");
    // The time as written, and a caret under it.
    assert!(
        stderr.contains("expected a time before the run's duration (15m), got 20m"),
        "{stderr}"
    );
    assert!(stderr.contains("9 │ at = \"20m\""), "{stderr}");
}

#[test]
fn hints_for_the_usual_slips() {
    for (text, wanted) in [
        ("name = \"x\"\nduration = \"5M\"\n", "the unit `M` is ambiguous"),
        ("name = \"x\"\nduration = \"5m\"\n[breaker]\nfailure_threshold = 3\n", "did you mean `[sdk.breaker]`?"),
        ("name = \"x\"\nduration = \"5m\"\n[sdk]\nfailure_threshold = 3\n", "it belongs in `[sdk.breaker]`"),
        ("name = \"x\"\nduration = \"5m\"\n[[fault]]\nkind = \"packet_loss\"\n", "did you mean `faults`?"),
        ("name = \"x\"\nduration = \"5m\"\nname = \"y\"\n", "`name` is written twice"),
        ("name = \"x\"\nduration = \"5m\"\n[sdk]\n[sdk]\n", "the table `[sdk]` is written twice"),
        ("name = \"x\"\nduration = \"5m\"\n[network]\npacket_loss = 8%\n", "write 0.8, not 80%"),
        ("name = \"x\"\nduration = \"5m\"\n[[faults]]\nkind = \"pakcet_loss\"\nat = \"1m\"\nduration = \"1m\"\n", "did you mean"),
    ] {
        let (code, _, stderr) = check(text);
        assert_eq!(code, Some(2), "{text}");
        assert!(stderr.contains(wanted), "{text}\n{stderr}");
        assert!(stderr.contains("case.toml"), "{stderr}");
    }
}

#[test]
fn warnings_are_shown_and_do_not_fail() {
    let text = "name = \"x\"\nduration = \"4m\"\n[topology]\nplatform_sink = \"ledger\"\n[queue]\nmax_retries = 5\n[[faults]]\nkind = \"system_ledger_down\"\nat = \"1m\"\nduration = \"2m\"\n[[faults]]\nkind = \"alarm_failure\"\nat = \"1m\"\nduration = \"2m\"\nrate = 0.5\n[[faults]]\nkind = \"evict\"\nat = \"1m\"\nduration = \"1s\"\nfraction = 0.5\n";
    let (code, stdout, stderr) = check(text);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("ok (x)"));
    for wanted in [
        "[queue] is ignored",
        "is ignored in single mode",
        "this fault does nothing",
        "breaker_recovers needs it to last past",
        "is ignored: evict faults happen at `at`",
    ] {
        assert!(stderr.contains(wanted), "{wanted}: {stderr}");
    }
    assert_eq!(stderr.matches("warning: ").count(), 5, "{stderr}");
    // Entities that arrive after the end (the default spread is one stats interval, 1m).
    let (code, _, stderr) = check("name = \"x\"\nduration = \"40s\"\n");
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("about 33% of the entities arrive after it ends")
            && stderr.contains("by default one stats_min_interval"),
        "{stderr}"
    );
    let (_, _, stderr) =
        check("name = \"x\"\nduration = \"40s\"\n[workload]\nstart_spread = \"0s\"\n");
    assert!(!stderr.contains("warning"), "{stderr}");
    // A [queue] that only repeats the defaults (what `check --resolved` writes) is no warning.
    let resolved = "name = \"x\"\nduration = \"1m\"\n[queue]\nmax_retries = 3\n";
    let (code, _, stderr) = check(resolved);
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("warning"), "{stderr}");
    // The bundled scenarios have none.
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for entry in std::fs::read_dir(directory).expect("the scenarios") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let diagnosis = diagnose(&text, "bundled.toml");
        assert!(
            diagnosis.errors.is_empty() && diagnosis.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            diagnosis.warnings
        );
    }
}

#[test]
fn errors_are_bounded_and_counted() {
    let mut text = "name = \"x\"\nduration = \"5m\"\n".to_owned();
    for index in 0..30 {
        text.push_str(&format!("unknown_{index} = 1\n"));
    }
    let diagnosis = diagnose(&text, "many.toml");
    assert_eq!(diagnosis.errors.len(), MAX_ERRORS);
    assert_eq!(diagnosis.more_errors, 30 - MAX_ERRORS);
    let rendered = diagnosis.render("many.toml", &text, false);
    assert!(rendered.contains("10 more errors not shown"), "{rendered}");
}

#[test]
fn check_resolved_prints_every_default_as_a_file_run_accepts() {
    let text = "name = \"small\"\nduration = \"2m\"\n[topology]\nmode = \"multi_tenant\"\n";
    let (_directory, path) = file_with("small.toml", text);
    let output = z0sim(&["check", "--resolved", &path.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0));
    let resolved = String::from_utf8_lossy(&output.stdout).into_owned();
    for key in [
        "tenants = 1",
        "platform_sink = \"queue\"",
        "failure_threshold = 5",
        "[queue]",
    ] {
        assert!(resolved.contains(key), "{key} missing from:\n{resolved}");
    }
    let original = parse_scenario(text, "small.toml").expect("valid");
    assert_eq!(parse_scenario(&resolved, "resolved.toml"), Ok(original));
    let (_again, written) = file_with("resolved.toml", &resolved);
    let run = z0sim(&["run", &written.to_string_lossy()]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
