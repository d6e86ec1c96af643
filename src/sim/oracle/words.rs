//! A violation's words for people: actors by the names the trace uses instead of their indices
//! (`actor #3` reads `actor entity:t0/project-2`), and simulated times as durations
//! (`at 336815 ms` reads `at 5m36.815s`). The checkers write indices and milliseconds; the
//! oracle rewrites each detail once, when it judges.

pub use crate::sim::scenario::duration::{human_ms, humanize_times};

/// `text` with every actor reference (`#N`, `#Some(N)`, `#None`, where `#` starts a word)
/// replaced by that actor's name. A `#` inside a word (a fact id, `entity:t0/a#12`) stays.
pub fn name_actors(text: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('#') {
        let (before, from_hash) = rest.split_at(position);
        out.push_str(before);
        let starts_word = out
            .chars()
            .last()
            .is_none_or(|previous| previous.is_whitespace() || "([,".contains(previous));
        let after = &from_hash[1..];
        match starts_word.then(|| actor_reference(after)).flatten() {
            Some((idx, used)) => {
                match idx.and_then(|idx| names.get(idx)) {
                    Some(name) => out.push_str(name),
                    None if idx.is_none() => out.push_str("no actor"),
                    None => out.push_str(&from_hash[..=used]),
                }
                rest = &after[used..];
            }
            None => {
                out.push('#');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The actor index a reference starts with (`N`, `Some(N)`, `None`; `None` inside: no actor),
/// and how many bytes it takes.
fn actor_reference(text: &str) -> Option<(Option<usize>, usize)> {
    if let Some(inner) = text.strip_prefix("Some(") {
        let digits = inner.chars().take_while(char::is_ascii_digit).count();
        let idx = inner[..digits].parse().ok()?;
        inner[digits..]
            .starts_with(')')
            .then_some((Some(idx), 5 + digits + 1))
    } else if text.starts_with("None") {
        Some((None, 4))
    } else {
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        Some((Some(text[..digits].parse().ok()?), digits))
    }
}

/// What a violation's words are about: the actors they name and the latest simulated time
/// they mention (where `--explain` looks for the events before the violation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Focus {
    /// Actor indices, ascending.
    pub actors: Vec<usize>,
    /// The latest `N ms` the words mention.
    pub until_ms: Option<u64>,
}

/// The focus of a violation's raw words (before [`name_actors`] and [`humanize_times`]): actors
/// referred to as `#N`, actors named in full (`entity:t0/account-3`, also inside a fact id
/// `entity:t0/account-3#12`), tenant ledgers named by their tenant (`tenant t0` is the ledger
/// `tenant:0`), and the latest `N ms`.
pub fn focus(text: &str, names: &[String]) -> Focus {
    let mut actors: Vec<usize> = Vec::new();
    let mut rest = text;
    while let Some(position) = rest.find('#') {
        let after = &rest[position + 1..];
        if let Some((Some(idx), _)) = actor_reference(after) {
            actors.push(idx);
        }
        rest = after;
    }
    for (idx, name) in names.iter().enumerate() {
        let alias = name.strip_prefix("tenant:").map(|n| format!("tenant t{n}"));
        if mentions(text, name) || alias.is_some_and(|alias| mentions(text, &alias)) {
            actors.push(idx);
        }
    }
    actors.retain(|idx| *idx < names.len());
    actors.sort_unstable();
    actors.dedup();
    Focus {
        actors,
        until_ms: times_ms(text).into_iter().max(),
    }
}

/// Whether `text` mentions `name` as a whole name (not as the start of a longer one:
/// `account-1` is not mentioned by `account-10`).
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(start, _)| {
        let before = text[..start].chars().last();
        let after = text[start + name.len()..].chars().next();
        let part_of_name = |c: char| c.is_alphanumeric() || "-_/:".contains(c);
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// Every `N ms` in `text`, in order.
fn times_ms(text: &str) -> Vec<u64> {
    let mut times = Vec::new();
    let mut rest = text;
    while let Some(position) = rest.find(" ms") {
        let before = &rest[..position];
        let digits = before
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .count();
        if let Ok(ms) = before[before.len() - digits..].parse() {
            times.push(ms);
        }
        rest = &rest[position + 3..];
    }
    times
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["system", "entity:t0/a", "tenant:0"]
            .map(str::to_owned)
            .to_vec()
    }

    #[test]
    fn actor_references_become_names_and_fact_ids_stay() {
        let text = "actor #1 -> #Some(0) sent entity:t0/a#12 to #None (actor #2), #7";
        assert_eq!(
            name_actors(text, &names()),
            "actor entity:t0/a -> system sent entity:t0/a#12 to no actor (actor tenant:0), #7"
        );
        assert_eq!(name_actors("no # here#3", &names()), "no # here#3");
    }

    #[test]
    fn the_focus_is_the_actors_named_and_the_latest_time() {
        let names = [
            "system",
            "entity:t0/account-1",
            "tenant:0",
            "entity:t0/account-10",
        ]
        .map(str::to_owned)
        .to_vec();
        let text = "actor #Some(0) sent entity:t0/account-1#4 at 1200 ms; tenant t0 by 60000 ms";
        assert_eq!(
            focus(text, &names),
            Focus {
                actors: vec![0, 1, 2],
                until_ms: Some(60_000)
            }
        );
        assert_eq!(focus("nothing here, #9", &names), Focus::default());
    }

    #[test]
    fn times_read_as_durations() {
        assert_eq!(human_ms(0), "0ms");
        assert_eq!(human_ms(250), "250ms");
        assert_eq!(human_ms(5_000), "5s");
        assert_eq!(human_ms(336_815), "5m36.815s");
        assert_eq!(human_ms(600_500), "10m0.5s");
        assert_eq!(human_ms(3_723_000), "1h2m3s");
        assert_eq!(human_ms(3_600_000), "1h");
        assert_eq!(
            humanize_times("at 336815 ms, between 5000 and 60000 ms; rpc_timeout_ms 3 ms"),
            "at 5m36.815s, between 5000 and 1m; rpc_timeout_ms 3ms"
        );
    }
}
