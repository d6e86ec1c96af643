//! Durations as scenario files write them: strings with a unit (`"250ms"`, `"30s"`, `"5m"`,
//! `"1h"`, `"1m 30s"`), whole milliseconds, at most [`MAX_DURATION_MS`].

use super::MAX_DURATION_MS;

/// Examples shown in every duration error.
pub const DURATION_EXAMPLES: &str = r#""250ms", "30s", "5m", "1h" or "1m 30s""#;

/// A duration string in whole ms, or what is wrong with it (for the key's error message).
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    if !text.chars().any(char::is_alphabetic) {
        return Err(format!(
            "expected a duration with a unit, such as {DURATION_EXAMPLES}; got {text:?} (no unit)"
        ));
    }
    let duration = humantime::parse_duration(text.trim()).map_err(|error| {
        format!(
            "expected a duration with a unit, such as {DURATION_EXAMPLES}; got {text:?} ({error})"
        )
    })?;
    if duration.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!(
            "expected a whole number of milliseconds, got {text:?}"
        ));
    }
    let ms = duration.as_millis();
    if ms > u128::from(MAX_DURATION_MS) {
        return Err(format!(
            "must be at most 30 days ({MAX_DURATION_MS} ms), got {text:?}"
        ));
    }
    // In range: at most MAX_DURATION_MS.
    Ok(u64::try_from(ms).unwrap_or(MAX_DURATION_MS))
}

/// The error for a bare number where a duration belongs.
pub fn bare_number_error(number: &str) -> String {
    format!(
        "expected a duration with a unit, such as {DURATION_EXAMPLES}; got the bare number {number}"
    )
}

/// What is wrong with `ms` as a duration of at least `min_ms`, if anything.
pub fn duration_problem(ms: u64, min_ms: u64) -> Option<String> {
    duration_range_problem(ms, min_ms, MAX_DURATION_MS)
}

/// What is wrong with `ms` as a duration from `min_ms` to `max_ms`, if anything.
pub fn duration_range_problem(ms: u64, min_ms: u64, max_ms: u64) -> Option<String> {
    if ms < min_ms {
        return Some(if min_ms == 1 {
            format!("must be longer than 0 ms, got {ms} ms")
        } else {
            format!("must be at least {min_ms} ms, got {ms} ms")
        });
    }
    (ms > max_ms).then(|| {
        if max_ms == MAX_DURATION_MS {
            format!("must be at most 30 days ({MAX_DURATION_MS} ms), got {ms} ms")
        } else {
            format!("must be at most {max_ms} ms, got {ms} ms")
        }
    })
}

/// A duration as written back: whole milliseconds.
pub fn format_duration_ms(ms: u64) -> String {
    format!("\"{ms}ms\"")
}
