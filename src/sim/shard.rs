//! `--shard K/N`: a deterministic partition of a sweep's runs (or a swarm's seeds) over N
//! machines. The runs are numbered in the order the command would run them all (files in the
//! order given, each file's seeds ascending; a swarm's seeds ascending) and shard K takes the
//! runs whose number is K-1 modulo N: every run belongs to exactly one shard, and the shards
//! stay balanced whatever the files' seed counts.

use std::fmt;

/// Shard `index` of `count` (1-based: `1/3`, `2/3`, `3/3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless `1 <= index <= count`.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (index >= 1 && index <= count).then_some(Shard { index, count })
    }

    /// Whether run number `position` (0-based, in full-run order) belongs to this shard.
    pub fn contains(&self, position: u64) -> bool {
        position % self.count == self.index - 1
    }

    /// Parses `K/N` (clap value parser): a clear message for anything else.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let expected = || {
            format!("expected K/N with 1 <= K <= N, e.g. 2/3 (the second of three shards), got {text:?}")
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(expected)?;
        let index = index.trim().parse::<u64>().map_err(|_| expected())?;
        let count = count.trim().parse::<u64>().map_err(|_| expected())?;
        Shard::new(index, count).ok_or_else(expected)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn every_position_is_in_exactly_one_shard() {
        for count in 1..=7 {
            let shards: Vec<Shard> = (1..=count).filter_map(|k| Shard::new(k, count)).collect();
            for position in 0..100 {
                let owners = shards
                    .iter()
                    .filter(|shard| shard.contains(position))
                    .count();
                assert_eq!(owners, 1, "position {position} of {count} shards");
            }
        }
    }

    #[test]
    fn bad_shards_say_what_was_expected() {
        assert_eq!(
            Shard::parse("2/3").map(|shard| shard.to_string()),
            Ok("2/3".to_owned())
        );
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "", "1/3/5", "-1/3"] {
            let error = Shard::parse(bad).expect_err(bad);
            assert!(error.contains("expected K/N"), "{bad}: {error}");
        }
    }
}
