//! Idle eviction, a Cloudflare runtime rule, as a sans-IO state machine per Durable Object: an
//! object that has had nothing to do for a while is evicted from memory (its in-memory state is
//! gone, its storage and alarm stay), and the next request or alarm constructs it again.
//!
//! Rules (Cloudflare's "Lifecycle of a Durable Object" page; docs/model.md, "Idle eviction"):
//! - An object is idle while no request is in service, no outgoing call of it is awaited, no
//!   caller waits on it and no alarm handler runs. Anything it does ends the idle stretch.
//! - A hibernatable object is hibernated after `hibernate_after_ms` idle (about 10 s); any
//!   other is evicted after an idle stretch drawn in `[evict_after_min_ms, evict_after_max_ms]`
//!   (70 to 140 s), drawn anew for each stretch. Both lose the same: everything in memory.
//! - An alarm does not keep an object in memory: it wakes it when it fires.
//!
//! The world asks [`IdleClock::check_at_ms`] for the time to look again and, at that time,
//! calls [`IdleClock::check`] with when the object was last active and whether it is busy.

use rand::Rng;

/// The rule's settings (`[runtime] idle_eviction`, `idle_eviction_after`, `hibernatable`,
/// `hibernate_after`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleConfig {
    /// Idle objects are evicted at all.
    pub enabled: bool,
    /// Shortest idle stretch before an eviction, ms (Cloudflare: about 70 s).
    pub evict_after_min_ms: u64,
    /// Longest idle stretch before an eviction, ms (Cloudflare: about 140 s).
    pub evict_after_max_ms: u64,
    /// The objects are hibernatable (they use the WebSocket Hibernation API).
    pub hibernatable: bool,
    /// Idle stretch before a hibernatable object is hibernated, ms (Cloudflare: about 10 s).
    pub hibernate_after_ms: u64,
}

impl Default for IdleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            evict_after_min_ms: 70_000,
            evict_after_max_ms: 140_000,
            hibernatable: false,
            hibernate_after_ms: 10_000,
        }
    }
}

impl IdleConfig {
    /// The rule switched off.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// An idle stretch's length before eviction, ms, drawn from `rng` when it is a range.
    fn stretch_ms(&self, rng: &mut impl Rng) -> u64 {
        if self.hibernatable {
            return self.hibernate_after_ms;
        }
        debug_assert!(self.evict_after_min_ms <= self.evict_after_max_ms);
        rng.gen_range(self.evict_after_min_ms..=self.evict_after_max_ms)
    }
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleVerdict {
    /// Idle long enough: evict it now.
    Evict,
    /// Not yet: look again then, ms.
    RecheckAt(u64),
}

/// One object's idle stretch: when to look again, and how long this stretch must last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdleClock {
    /// When the world looks again, ms (`None`: not running, or the rule is off).
    check_at_ms: Option<u64>,
    /// The current stretch's length before eviction, ms.
    stretch_ms: u64,
}

impl IdleClock {
    /// The object (re)starts at `now_ms`: a new idle stretch starts.
    pub fn start(&mut self, config: &IdleConfig, now_ms: u64, rng: &mut impl Rng) {
        if !config.enabled {
            *self = Self::default();
            return;
        }
        self.stretch_ms = config.stretch_ms(rng);
        self.check_at_ms = Some(now_ms + self.stretch_ms);
    }

    /// The object left memory (evicted or killed): nothing to look at until it starts again.
    pub fn stop(&mut self) {
        self.check_at_ms = None;
    }

    /// When the world looks again, ms.
    pub fn check_at_ms(&self) -> Option<u64> {
        self.check_at_ms
    }

    /// Looks at `now_ms`: evict, or when to look again. `last_active_ms`: the end of the
    /// object's last activity; `busy`: something is going on now (a request, an awaited call,
    /// a waiting caller, a handler run). A new stretch (a fresh draw) starts after activity.
    pub fn check(
        &mut self,
        config: &IdleConfig,
        now_ms: u64,
        last_active_ms: u64,
        busy: bool,
        rng: &mut impl Rng,
    ) -> IdleVerdict {
        debug_assert!(config.enabled, "checked only when the rule is on");
        let stretch_start_ms = self
            .check_at_ms
            .map_or(0, |at_ms| at_ms.saturating_sub(self.stretch_ms));
        if !busy
            && last_active_ms <= stretch_start_ms
            && now_ms >= stretch_start_ms + self.stretch_ms
        {
            self.check_at_ms = None;
            return IdleVerdict::Evict;
        }
        // Activity since the stretch began (or going on now): a new stretch from its end.
        self.stretch_ms = config.stretch_ms(rng);
        let from_ms = if busy {
            now_ms
        } else {
            last_active_ms.max(stretch_start_ms)
        };
        let at_ms = (from_ms + self.stretch_ms).max(now_ms + 1);
        self.check_at_ms = Some(at_ms);
        IdleVerdict::RecheckAt(at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(3)
    }

    const FIXED: IdleConfig = IdleConfig {
        enabled: true,
        evict_after_min_ms: 100_000,
        evict_after_max_ms: 100_000,
        hibernatable: false,
        hibernate_after_ms: 10_000,
    };

    #[test]
    fn an_object_idle_for_its_whole_stretch_is_evicted() {
        let mut clock = IdleClock::default();
        clock.start(&FIXED, 5_000, &mut rng());
        assert_eq!(clock.check_at_ms(), Some(105_000));
        let verdict = clock.check(&FIXED, 105_000, 5_000, false, &mut rng());
        assert_eq!(verdict, IdleVerdict::Evict);
        assert_eq!(clock.check_at_ms(), None, "nothing to look at once evicted");
    }

    #[test]
    fn activity_during_the_stretch_starts_a_new_one_from_its_end() {
        let mut clock = IdleClock::default();
        clock.start(&FIXED, 0, &mut rng());
        let verdict = clock.check(&FIXED, 100_000, 40_000, false, &mut rng());
        assert_eq!(verdict, IdleVerdict::RecheckAt(140_000));
        assert_eq!(
            clock.check(&FIXED, 140_000, 40_000, false, &mut rng()),
            IdleVerdict::Evict
        );
    }

    #[test]
    fn a_busy_object_is_never_evicted_and_is_looked_at_again_a_stretch_later() {
        let mut clock = IdleClock::default();
        clock.start(&FIXED, 0, &mut rng());
        let verdict = clock.check(&FIXED, 100_000, 0, true, &mut rng());
        assert_eq!(verdict, IdleVerdict::RecheckAt(200_000));
    }

    #[test]
    fn stretches_are_drawn_between_seventy_and_one_hundred_forty_seconds_by_default() {
        let config = IdleConfig::default();
        let mut rng = rng();
        let stretches: Vec<u64> = (0..200)
            .map(|_| {
                let mut clock = IdleClock::default();
                clock.start(&config, 0, &mut rng);
                clock.check_at_ms().expect("armed")
            })
            .collect();
        assert!(stretches.iter().all(|ms| (70_000..=140_000).contains(ms)));
        assert!(
            stretches.iter().any(|ms| *ms < 80_000) && stretches.iter().any(|ms| *ms > 130_000)
        );
    }

    #[test]
    fn a_hibernatable_object_goes_after_ten_seconds() {
        let config = IdleConfig {
            hibernatable: true,
            ..IdleConfig::default()
        };
        let mut clock = IdleClock::default();
        clock.start(&config, 1_000, &mut rng());
        assert_eq!(clock.check_at_ms(), Some(11_000));
    }

    #[test]
    fn with_the_rule_off_nothing_is_ever_looked_at() {
        let mut clock = IdleClock::default();
        clock.start(&IdleConfig::off(), 0, &mut rng());
        assert_eq!(clock.check_at_ms(), None);
    }
}
