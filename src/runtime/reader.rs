//! The read side: a reader (a dashboard) that queries the ledgers over the network like any
//! caller, as a sans-IO state machine. Its reads arrive as a Poisson process (`[reader]
//! reads_per_min`); each picks, with the reader's own random stream, a ledger that answers
//! reads (the SystemLedger, or any tenant ledger: a tenant-scoped query) and a query:
//! `getSdkFacts(entity)`, `getCacheStats(entity)` or `getStats()`, about any entity of the run
//! (so a tenant ledger is also asked about other tenants' entities, and must answer with
//! nothing of theirs).

use crate::ledgers::{CallId, SystemStats};
use crate::model::{CacheStatsData, FactId, Name};
use crate::runtime::seed::{derive_seed, purpose, stream};
use crate::runtime::spec::ActorIdx;
use crate::runtime::workload::Arrivals;
use rand::rngs::SmallRng;
use rand::Rng;

/// A query of the read side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// `getSdkFacts(entity_id)`.
    SdkFacts(Name),
    /// `getCacheStats(entity_id)`.
    CacheStats(Name),
    /// `getStats()`.
    Stats,
}

/// What a ledger answered a query, as it answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The facts' ids and tenants, in the order returned.
    SdkFacts(Vec<(FactId, Name)>),
    /// The cache stats periods, in the order returned.
    CacheStats(Vec<CacheStatsData>),
    /// The platform-wide counts.
    Stats(SystemStats),
}

/// A read to send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// The ledger asked.
    pub target: ActorIdx,
    /// What.
    pub query: Query,
    /// Report the answer with this id.
    pub call_id: CallId,
}

/// The reader's settings, from the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct ReaderSpec {
    /// Reads per minute.
    pub reads_per_min: f64,
    /// The ledgers that answer reads.
    pub targets: Vec<ActorIdx>,
    /// The entity ids a query may be about.
    pub entities: Vec<Name>,
}

/// The reader.
#[derive(Clone, Debug)]
pub struct Reader {
    spec: ReaderSpec,
    arrivals: Option<Arrivals>,
    rng: SmallRng,
    next_call_id: CallId,
}

impl Reader {
    /// The reader of a run seeded with `run_seed`.
    pub fn new(spec: ReaderSpec, run_seed: u64) -> Self {
        let arrivals = Arrivals::new(
            derive_seed(run_seed, purpose::READER, 0),
            spec.reads_per_min / 60_000.0,
            0.0,
            0,
        )
        .filter(|_| !spec.targets.is_empty());
        Self {
            spec,
            arrivals,
            rng: stream(run_seed, purpose::READER, 1),
            next_call_id: 0,
        }
    }

    /// When the next read is due, ms.
    pub fn next_read_ms(&self) -> Option<u64> {
        self.arrivals.as_ref().map(|arrivals| arrivals.peek().0)
    }

    /// The reads due by `now_ms`, each picked now.
    pub fn due_reads(&mut self, now_ms: u64) -> Vec<Read> {
        let mut reads = Vec::new();
        while let Some(arrivals) = self.arrivals.as_mut() {
            if arrivals.peek().0 > now_ms {
                break;
            }
            arrivals.advance();
            reads.push(self.pick());
        }
        reads
    }

    fn pick(&mut self) -> Read {
        let target = self.spec.targets[self.rng.gen_range(0..self.spec.targets.len())];
        let entity = |rng: &mut SmallRng, entities: &[Name]| {
            entities
                .get(rng.gen_range(0..entities.len().max(1)))
                .cloned()
                .unwrap_or_default()
        };
        let query = match self.rng.gen_range(0..3) {
            0 => Query::SdkFacts(entity(&mut self.rng, &self.spec.entities)),
            1 => Query::CacheStats(entity(&mut self.rng, &self.spec.entities)),
            _ => Query::Stats,
        };
        let call_id = self.next_call_id;
        self.next_call_id += 1;
        Read {
            target,
            query,
            call_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(reads_per_min: f64) -> ReaderSpec {
        ReaderSpec {
            reads_per_min,
            targets: vec![3, 4],
            entities: vec![Name::from("t0-account-0"), Name::from("t1-account-0")],
        }
    }

    #[test]
    fn reads_come_at_about_their_rate_to_every_target_with_every_query() {
        let mut reader = Reader::new(spec(6.0), 1);
        let reads = reader.due_reads(3_600_000);
        assert!(
            (250..480).contains(&reads.len()),
            "{} reads in an hour at 6/min",
            reads.len()
        );
        for target in [3, 4] {
            assert!(reads.iter().any(|read| read.target == target));
        }
        assert!(reads.iter().any(|read| read.query == Query::Stats));
        assert!(reads
            .iter()
            .any(|read| matches!(read.query, Query::SdkFacts(_))));
        assert!(reads
            .iter()
            .any(|read| matches!(read.query, Query::CacheStats(_))));
        assert!(reader.next_read_ms().is_some_and(|at_ms| at_ms > 3_600_000));
    }

    #[test]
    fn a_zero_rate_reads_nothing_and_the_same_seed_reads_the_same() {
        let mut idle = Reader::new(spec(0.0), 1);
        assert_eq!(
            (idle.next_read_ms(), idle.due_reads(u64::MAX)),
            (None, Vec::new())
        );
        let first = Reader::new(spec(2.0), 9).due_reads(600_000);
        assert_eq!(first, Reader::new(spec(2.0), 9).due_reads(600_000));
        assert_ne!(first, Reader::new(spec(2.0), 10).due_reads(600_000));
    }
}
