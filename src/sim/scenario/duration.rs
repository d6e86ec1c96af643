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
    // humantime reads `M` as months and `m` as minutes: refuse the capital, a likely typo.
    if text
        .split(|c: char| !c.is_alphabetic())
        .any(|unit| unit == "M")
    {
        return Err(format!(
            "{text:?}: the unit `M` is ambiguous (months to humantime); write `m` for minutes or `months` for months"
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

/// `ms` as a duration for people: `250ms`, `5s`, `5m36.815s`, `1h2m3s`.
pub fn human_ms(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let (hours, minutes) = (ms / 3_600_000, ms / 60_000 % 60);
    let (seconds, millis) = (ms / 1_000 % 60, ms % 1_000);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    match (seconds, millis) {
        (0, 0) => {}
        (seconds, 0) => out.push_str(&format!("{seconds}s")),
        (seconds, millis) => {
            let fraction = format!("{millis:03}");
            out.push_str(&format!("{seconds}.{}s", fraction.trim_end_matches('0')));
        }
    }
    out
}

/// `text` with every `N ms` written as a duration (`336815 ms` reads `5m36.815s`).
pub fn humanize_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(" ms") {
        let (before, after) = rest.split_at(position);
        let digits = before
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .count();
        let starts_number = before[..before.len() - digits]
            .chars()
            .last()
            .is_none_or(|previous| !previous.is_alphanumeric() && previous != '.');
        let ends_word = after[3..]
            .chars()
            .next()
            .is_none_or(|next| !next.is_alphanumeric() && next != '_');
        match before[before.len() - digits..].parse::<u64>() {
            Ok(ms) if digits > 0 && starts_number && ends_word => {
                out.push_str(&before[..before.len() - digits]);
                out.push_str(&human_ms(ms));
            }
            _ => {
                out.push_str(before);
                out.push_str(" ms");
            }
        }
        rest = &after[3..];
    }
    out.push_str(rest);
    out
}

/// A duration as written back: whole milliseconds.
pub fn format_duration_ms(ms: u64) -> String {
    format!("\"{ms}ms\"")
}
