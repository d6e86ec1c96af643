//! Local operation streams: the cache gets, fact appends, `flushStats()` calls and stats
//! tracking toggles one entity receives.
//!
//! Operations local to an actor are not simulator events. Each entity draws its operation times
//! from its own seeded streams (Poisson arrivals: exponential gaps) and the runtime applies them
//! lazily, in order and each at its exact time, whenever something happens to the actor (a
//! message, a timer, a kill) or when an operation with an effect is due (the one that closes a
//! stats period, or an append that bubbles). Looking ahead does not consume anything, so the
//! operations themselves are identical whether or not anyone looked (a look-ahead draws on a
//! copy of the random stream).
//!
//! Each kind of operation comes from a stream of its own, so changing one rate does not
//! reshuffle the others. At one instant, cache gets come first, then appends, flushes and
//! toggles.

use crate::runtime::seed::{derive_seed, purpose};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Rates of one entity's workload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkloadSpec {
    /// Cache gets per second.
    pub cache_ops_per_sec: f64,
    /// Probability a get hits.
    pub hit_ratio: f64,
    /// Fact appends per minute.
    pub fact_appends_per_min: f64,
    /// `flushStats()` calls per minute.
    pub flush_stats_per_min: f64,
    /// Stats tracking toggles per minute (each turns tracking off if it is on, on if off).
    pub stats_toggles_per_min: f64,
    /// Entities arrive (are first asked for, hence first constructed) at a time drawn
    /// uniformly from `[0, start_spread_ms)`; 0: every entity at t = 0.
    pub start_spread_ms: u64,
}

/// One local operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalOp {
    /// A cache get, hit or miss.
    CacheGet {
        /// Whether it hit.
        hit: bool,
    },
    /// A domain fact append.
    Append,
    /// `flushStats()`.
    FlushStats,
    /// Stats tracking turned off (if on) or on (if off).
    ToggleTracking,
}

/// A Poisson process of event times (ms), with a mark drawn per event. Looking ahead draws on
/// a copy of the random stream, so the sequence is the same whether or not anyone looked; the
/// last answer is kept, since the runtime asks again for the same time until it comes. (It used
/// to keep the events drawn while looking ahead, about a minute of cache gets per entity: a
/// million entities' worth was gigabytes. Each look-ahead now draws its events a second time.)
#[derive(Clone, Debug)]
pub(crate) struct Arrivals {
    rng: SmallRng,
    mean_gap_ms: f64,
    /// Time of the last event drawn (the clock of the random stream), ms.
    drawn_at_ms: f64,
    mark_probability: f64,
    /// The next event: its time, ms, and its mark.
    next: (u64, bool),
    /// The last look-ahead: `(asked_ms, found_ms)`, the first event at or after `asked_ms`.
    looked: Option<(u64, u64)>,
}

impl Arrivals {
    /// A process of `per_ms` events per ms from `from_ms` on.
    pub(crate) fn new(seed: u64, per_ms: f64, mark_probability: f64, from_ms: u64) -> Option<Self> {
        if !(per_ms > 0.0 && per_ms.is_finite()) {
            return None;
        }
        let mut rng = SmallRng::seed_from_u64(seed);
        let mean_gap_ms = 1.0 / per_ms;
        let mut drawn_at_ms = from_ms as f64;
        let next = draw(&mut rng, &mut drawn_at_ms, mean_gap_ms, mark_probability);
        Some(Self {
            rng,
            mean_gap_ms,
            drawn_at_ms,
            mark_probability,
            next,
            looked: None,
        })
    }

    pub(crate) fn peek(&self) -> (u64, bool) {
        self.next
    }

    /// Moves on to the next event.
    pub(crate) fn advance(&mut self) {
        self.next = draw(
            &mut self.rng,
            &mut self.drawn_at_ms,
            self.mean_gap_ms,
            self.mark_probability,
        );
    }

    /// Time of the first event at or after `at_ms` (draws ahead on a copy as far as needed).
    fn first_at_or_after(&mut self, at_ms: u64) -> u64 {
        if self.next.0 >= at_ms {
            return self.next.0;
        }
        // Events come in order: the first at or after `asked_ms` is also the first at or after
        // any later time up to it (and the events before it are not consumed yet, or `next`
        // would be past it and have answered above).
        if let Some((asked_ms, found_ms)) = self.looked {
            if (asked_ms..=found_ms).contains(&at_ms) {
                return found_ms;
            }
        }
        let (mut rng, mut drawn_at_ms) = (self.rng.clone(), self.drawn_at_ms);
        let found_ms = loop {
            let (event_ms, _) = draw(
                &mut rng,
                &mut drawn_at_ms,
                self.mean_gap_ms,
                self.mark_probability,
            );
            if event_ms >= at_ms {
                break event_ms;
            }
        };
        self.looked = Some((at_ms, found_ms));
        found_ms
    }
}

/// Draws the event after the one at `drawn_at_ms` (which it moves on): its time, ms, and mark.
fn draw(
    rng: &mut SmallRng,
    drawn_at_ms: &mut f64,
    mean_gap_ms: f64,
    mark_probability: f64,
) -> (u64, bool) {
    // 1 - U is in (0, 1], so the logarithm is finite.
    let unit: f64 = 1.0 - rng.gen::<f64>();
    *drawn_at_ms += -unit.ln() * mean_gap_ms;
    let mark = rng.gen::<f64>() < mark_probability;
    (*drawn_at_ms as u64, mark)
}

/// The operation stream of one entity.
#[derive(Clone, Debug)]
pub struct WorkloadStream {
    cache: Option<Arrivals>,
    appends: Option<Arrivals>,
    /// Boxed: most scenarios have none, and every entity holds a stream.
    flushes: Option<Box<Arrivals>>,
    toggles: Option<Box<Arrivals>>,
    /// When the entity arrives: no operation comes before.
    arrival_ms: u64,
}

impl WorkloadStream {
    /// The stream of entity number `entity_index` in a run seeded with `run_seed`.
    pub fn new(spec: &WorkloadSpec, run_seed: u64, entity_index: u64) -> Self {
        let arrival_ms = arrival_ms(spec.start_spread_ms, run_seed, entity_index);
        let stream = |purpose, per_ms, mark_probability| {
            Arrivals::new(
                derive_seed(run_seed, purpose, entity_index),
                per_ms,
                mark_probability,
                arrival_ms,
            )
        };
        Self {
            arrival_ms,
            cache: stream(
                purpose::CACHE_OPS,
                spec.cache_ops_per_sec / 1_000.0,
                spec.hit_ratio,
            ),
            appends: stream(purpose::APPENDS, spec.fact_appends_per_min / 60_000.0, 0.0),
            flushes: stream(purpose::FLUSHES, spec.flush_stats_per_min / 60_000.0, 0.0)
                .map(Box::new),
            toggles: stream(purpose::TOGGLES, spec.stats_toggles_per_min / 60_000.0, 0.0)
                .map(Box::new),
        }
    }

    /// When the entity arrives (is first asked for), ms: no operation of it comes before.
    pub fn arrival_ms(&self) -> u64 {
        self.arrival_ms
    }

    /// Takes the next operation if it happens at or before `now_ms` (on a tie: cache gets,
    /// appends, flushes, toggles).
    pub fn next_due(&mut self, now_ms: u64) -> Option<(u64, LocalOp)> {
        if self.flushes.is_none() && self.toggles.is_none() {
            return self.next_get_or_append(now_ms);
        }
        let next = |arrivals: Option<&Arrivals>| arrivals.map(|arrivals| arrivals.peek().0);
        let times = [
            next(self.cache.as_ref()),
            next(self.appends.as_ref()),
            next(self.flushes.as_deref()),
            next(self.toggles.as_deref()),
        ];
        let (at_ms, position) = times
            .into_iter()
            .enumerate()
            .filter_map(|(position, at_ms)| Some((at_ms?, position)))
            .filter(|(at_ms, _)| *at_ms <= now_ms)
            .min()?;
        let arrivals = match position {
            0 => self.cache.as_mut(),
            1 => self.appends.as_mut(),
            2 => self.flushes.as_deref_mut(),
            _ => self.toggles.as_deref_mut(),
        }?;
        let (_, mark) = arrivals.peek();
        arrivals.advance();
        let op = match position {
            0 => LocalOp::CacheGet { hit: mark },
            1 => LocalOp::Append,
            2 => LocalOp::FlushStats,
            _ => LocalOp::ToggleTracking,
        };
        Some((at_ms, op))
    }

    /// [`Self::next_due`] with only cache gets and appends (the hot path of most runs).
    fn next_get_or_append(&mut self, now_ms: u64) -> Option<(u64, LocalOp)> {
        let cache_at = self.cache.as_ref().map(Arrivals::peek);
        let append_at = self.appends.as_ref().map(|appends| appends.peek().0);
        match (cache_at, append_at) {
            (Some((at_ms, hit)), append)
                if at_ms <= now_ms && append.is_none_or(|append_ms| at_ms <= append_ms) =>
            {
                self.cache.as_mut().map(Arrivals::advance);
                Some((at_ms, LocalOp::CacheGet { hit }))
            }
            (_, Some(at_ms)) if at_ms <= now_ms => {
                self.appends.as_mut().map(Arrivals::advance);
                Some((at_ms, LocalOp::Append))
            }
            _ => None,
        }
    }

    /// Drops every operation due before `start_ms`; returns how many. An entity that is not
    /// running (before its node started, or killed and not yet restarted) serves nothing:
    /// those operations never happen, and a ledger's clock never runs backwards.
    pub fn skip_before(&mut self, start_ms: u64) -> u64 {
        let Some(last_skipped_ms) = start_ms.checked_sub(1) else {
            return 0;
        };
        let mut skipped = 0;
        while self.next_due(last_skipped_ms).is_some() {
            skipped += 1;
        }
        skipped
    }

    /// The first cache get at or after `at_ms`, if there are cache gets at all.
    pub fn first_cache_get_at_or_after(&mut self, at_ms: u64) -> Option<u64> {
        self.cache
            .as_mut()
            .map(|cache| cache.first_at_or_after(at_ms))
    }

    /// The first append at or after `at_ms`, if there are appends at all.
    pub fn first_append_at_or_after(&mut self, at_ms: u64) -> Option<u64> {
        self.appends
            .as_mut()
            .map(|appends| appends.first_at_or_after(at_ms))
    }

    /// The next operation of any kind, ms (each is a request to the entity).
    pub fn next_op_ms(&self) -> Option<u64> {
        let cache_ms = self.cache.as_ref().map(|cache| cache.peek().0);
        let append_ms = self.appends.as_ref().map(|appends| appends.peek().0);
        [cache_ms, append_ms, self.next_control_ms()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next flush or toggle, if there are any (both always have an effect).
    pub fn next_control_ms(&self) -> Option<u64> {
        [self.flushes.as_deref(), self.toggles.as_deref()]
            .into_iter()
            .flatten()
            .map(|arrivals| arrivals.peek().0)
            .min()
    }
}

/// Entity `entity_index`'s arrival, uniform in `[0, start_spread_ms)` from a stream of its own
/// (changing the spread does not reshuffle any other draw).
fn arrival_ms(start_spread_ms: u64, run_seed: u64, entity_index: u64) -> u64 {
    if start_spread_ms == 0 {
        return 0;
    }
    let mut rng = SmallRng::seed_from_u64(derive_seed(run_seed, purpose::ARRIVAL, entity_index));
    rng.gen_range(0..start_spread_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: WorkloadSpec = WorkloadSpec {
        cache_ops_per_sec: 1.0,
        hit_ratio: 0.8,
        fact_appends_per_min: 6.0,
        flush_stats_per_min: 0.0,
        stats_toggles_per_min: 0.0,
        start_spread_ms: 0,
    };

    fn drain(stream: &mut WorkloadStream, until_ms: u64) -> Vec<(u64, LocalOp)> {
        std::iter::from_fn(|| stream.next_due(until_ms)).collect()
    }

    #[test]
    fn the_stream_is_a_function_of_seed_and_index_only() {
        let first = drain(&mut WorkloadStream::new(&SPEC, 7, 3), 600_000);
        let again = drain(&mut WorkloadStream::new(&SPEC, 7, 3), 600_000);
        let other = drain(&mut WorkloadStream::new(&SPEC, 7, 4), 600_000);
        assert_eq!(first, again);
        assert_ne!(first, other);
    }

    #[test]
    fn operations_come_in_time_order_at_about_the_configured_rates() {
        let ops = drain(&mut WorkloadStream::new(&SPEC, 1, 0), 3_600_000);
        assert!(ops.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        let gets = ops
            .iter()
            .filter(|(_, op)| matches!(op, LocalOp::CacheGet { .. }))
            .count();
        let hits = ops
            .iter()
            .filter(|(_, op)| *op == LocalOp::CacheGet { hit: true })
            .count();
        let appends = ops.len() - gets;
        assert!(
            (3_300..3_900).contains(&gets),
            "{gets} gets in an hour at 1/s"
        );
        assert!(
            (250..480).contains(&appends),
            "{appends} appends in an hour at 6/min"
        );
        let ratio = hits as f64 / gets as f64;
        assert!((0.75..0.85).contains(&ratio), "hit ratio {ratio}");
    }

    #[test]
    fn looking_ahead_does_not_change_the_stream() {
        let mut looked = WorkloadStream::new(&SPEC, 9, 0);
        let mut plain = WorkloadStream::new(&SPEC, 9, 0);
        let mut seen = Vec::new();
        for step_ms in (0..120_000).step_by(7_000) {
            let predicted = looked.first_cache_get_at_or_after(step_ms + 5_000);
            seen.extend(drain(&mut looked, step_ms));
            let mut copy = looked.clone();
            let next_get = std::iter::from_fn(|| copy.next_due(step_ms + 600_000))
                .find(|(at_ms, op)| {
                    *at_ms >= step_ms + 5_000 && matches!(op, LocalOp::CacheGet { .. })
                })
                .map(|(at_ms, _)| at_ms);
            assert_eq!(predicted, next_get);
        }
        assert_eq!(seen, drain(&mut plain, 119_000));
    }

    #[test]
    fn skipping_drops_exactly_the_operations_before_the_start() {
        let all = drain(&mut WorkloadStream::new(&SPEC, 5, 2), 120_000);
        let start_ms = all[all.len() / 2].0;
        let mut stream = WorkloadStream::new(&SPEC, 5, 2);
        let skipped = stream.skip_before(start_ms);
        let rest = drain(&mut stream, 120_000);
        assert_eq!(skipped as usize + rest.len(), all.len());
        assert!(rest.iter().all(|(at_ms, _)| *at_ms >= start_ms));
        assert_eq!(rest[..], all[skipped as usize..]);
        assert_eq!(WorkloadStream::new(&SPEC, 5, 2).skip_before(0), 0);
    }

    #[test]
    fn entities_arrive_within_the_spread_and_do_nothing_before() {
        let spread = WorkloadSpec {
            start_spread_ms: 60_000,
            ..SPEC
        };
        let arrivals: Vec<u64> = (0..200)
            .map(|entity| {
                let mut stream = WorkloadStream::new(&spread, 9, entity);
                let arrival_ms = stream.arrival_ms();
                assert!(arrival_ms < 60_000);
                let ops = drain(&mut stream, 120_000);
                assert!(ops.iter().all(|(at_ms, _)| *at_ms >= arrival_ms));
                assert_eq!(stream.arrival_ms(), arrival_ms, "drawn once");
                arrival_ms
            })
            .collect();
        // Uniform over the minute: every 10-second slice has some of 200 entities.
        for slice in 0..6 {
            let range = slice * 10_000..(slice + 1) * 10_000;
            assert!(
                arrivals.iter().any(|at_ms| range.contains(at_ms)),
                "{slice}"
            );
        }
        assert_eq!(WorkloadStream::new(&SPEC, 9, 3).arrival_ms(), 0);
    }

    #[test]
    fn a_zero_rate_produces_no_operations() {
        let spec = WorkloadSpec {
            cache_ops_per_sec: 0.0,
            hit_ratio: 0.5,
            fact_appends_per_min: 0.0,
            flush_stats_per_min: 0.0,
            stats_toggles_per_min: 0.0,
            start_spread_ms: 0,
        };
        let mut stream = WorkloadStream::new(&spec, 1, 0);
        assert_eq!(stream.next_due(3_600_000), None);
        assert_eq!(stream.first_cache_get_at_or_after(0), None);
    }
}
