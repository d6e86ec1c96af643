//! Wording for lists of allowed values and the closest one to a misspelling.

/// The allowed values as serde words them: "`a`", "`a` or `b`", "one of `a`, `b`, `c`".
pub fn one_of(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|word| format!("`{word}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_owned(),
        [only] => only.clone(),
        [first, second] => format!("{first} or {second}"),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// `"; did you mean `x`?"` for the allowed value closest to `word`, when one is close
/// enough (a third of its letters wrong at most); else nothing.
pub fn closest(word: &str, allowed: &[&str]) -> String {
    let limit = (word.chars().count() / 3).max(1);
    allowed
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map_or_else(String::new, |(_, candidate)| {
            format!("; did you mean `{candidate}`?")
        })
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_misspelling_gets_a_suggestion_and_a_far_one_none() {
        assert_eq!(
            closest("sedds", &["seeds", "name"]),
            "; did you mean `seeds`?"
        );
        assert_eq!(
            closest("fault", &["faults", "expect"]),
            "; did you mean `faults`?"
        );
        assert_eq!(closest("bogus", &["seeds", "name"]), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn lists_read_like_serde_s() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b"]), "`a` or `b`");
        assert_eq!(one_of(&["a", "b", "c"]), "one of `a`, `b`, `c`");
    }
}
