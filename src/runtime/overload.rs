//! A Durable Object's request queue and Cloudflare's overload rule, as a sans-IO state machine:
//! `now_ms` and a request in, when it is done (or why it is refused) out.
//!
//! Rules (Cloudflare's Durable Objects "Troubleshooting" page, "Durable Object is overloaded";
//! docs/model.md, "Overload"): an object serves one request at a time, each for the service
//! time, in arrival order; requests wait in its queue. A new request is refused with an error
//! marked `overloaded` when
//! - too many requests are queued (`max_queued`, counting the one in service),
//! - too much data is queued (`max_queued_bytes`, the requests' estimated sizes),
//! - the oldest queued request has waited too long (`max_queue_age_ms`), or
//! - too many requests came to the object in the last 10 seconds (`max_requests_per_window`).
//!
//! Cloudflare publishes the four triggers but not their thresholds: the defaults here are this
//! harness's choices, documented with the scenario keys. A refused request is not queued and
//! not counted in the window. Callers must not retry an `overloaded` answer blindly; none of
//! the modelled callers does (clients count it as a failure; the tenant ledger waits its flush
//! retry delay; the queue consumer retries through the queue's own policy).

use std::collections::VecDeque;

/// The rate window's length, ms (Cloudflare: "within a 10 second window").
pub const RATE_WINDOW_MS: u64 = 10_000;

/// The rule's thresholds (`[runtime] max_in_flight`, `max_queued_bytes`, `max_queue_age`,
/// `max_requests_per_10s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverloadLimits {
    /// Most requests queued, the one in service included.
    pub max_queued: usize,
    /// Most bytes of requests queued.
    pub max_queued_bytes: u64,
    /// Longest the oldest queued request may have waited, ms.
    pub max_queue_age_ms: u64,
    /// Most requests accepted within [`RATE_WINDOW_MS`].
    pub max_requests_per_window: u64,
}

impl Default for OverloadLimits {
    fn default() -> Self {
        Self {
            max_queued: 1_000,
            max_queued_bytes: 32 * 1024 * 1024,
            max_queue_age_ms: 30_000,
            max_requests_per_window: 10_000,
        }
    }
}

/// Why a request was refused (each is one of Cloudflare's overload messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverloadCause {
    /// "Too many requests queued."
    TooManyQueued,
    /// "Too much data queued."
    TooMuchData,
    /// "Requests queued for too long."
    QueuedTooLong,
    /// "Too many requests for the same object within a 10 second window."
    RateWindow,
    /// The `system_ledger_overloaded` fault.
    Injected,
}

#[derive(Clone, Copy, Debug)]
struct Queued {
    arrived_ms: u64,
    starts_ms: u64,
    done_ms: u64,
    bytes: u64,
}

/// One object's request queue and its recent arrivals.
#[derive(Clone, Debug, Default)]
pub struct RequestQueue {
    /// Requests not done yet, in arrival (and service) order.
    queued: VecDeque<Queued>,
    queued_bytes: u64,
    /// Arrival times of the requests accepted within the last window.
    window: VecDeque<u64>,
}

impl RequestQueue {
    /// Forgets everything (the object restarted).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Requests done by `now_ms` leave; arrivals older than the window are forgotten.
    fn advance(&mut self, now_ms: u64) {
        while let Some(front) = self.queued.front().filter(|front| front.done_ms <= now_ms) {
            self.queued_bytes -= front.bytes;
            self.queued.pop_front();
        }
        while self
            .window
            .front()
            .is_some_and(|arrived_ms| arrived_ms + RATE_WINDOW_MS <= now_ms)
        {
            self.window.pop_front();
        }
    }

    /// A request of `bytes` arrives at `now_ms` and takes `service_ms`: when it is done, or why
    /// it is refused (`injected`: the overload fault refuses it).
    pub fn admit(
        &mut self,
        now_ms: u64,
        bytes: u64,
        service_ms: u64,
        limits: &OverloadLimits,
        injected: bool,
    ) -> Result<u64, OverloadCause> {
        self.advance(now_ms);
        if let Some(cause) = self.refusal(now_ms, bytes, limits, injected) {
            return Err(cause);
        }
        let starts_ms = self
            .queued
            .back()
            .map_or(now_ms, |last| last.done_ms.max(now_ms));
        let done_ms = starts_ms + service_ms;
        self.queued.push_back(Queued {
            arrived_ms: now_ms,
            starts_ms,
            done_ms,
            bytes,
        });
        self.queued_bytes += bytes;
        self.window.push_back(now_ms);
        Ok(done_ms)
    }

    fn refusal(
        &self,
        now_ms: u64,
        bytes: u64,
        limits: &OverloadLimits,
        injected: bool,
    ) -> Option<OverloadCause> {
        if self.queued.len() >= limits.max_queued {
            return Some(OverloadCause::TooManyQueued);
        }
        if self.queued_bytes + bytes > limits.max_queued_bytes {
            return Some(OverloadCause::TooMuchData);
        }
        let oldest_waiting = self.queued.iter().find(|queued| queued.starts_ms > now_ms);
        if oldest_waiting.is_some_and(|oldest| now_ms - oldest.arrived_ms > limits.max_queue_age_ms)
        {
            return Some(OverloadCause::QueuedTooLong);
        }
        if self.window.len() as u64 >= limits.max_requests_per_window {
            return Some(OverloadCause::RateWindow);
        }
        injected.then_some(OverloadCause::Injected)
    }

    /// Requests queued, the one in service included (as of the last arrival).
    pub fn queued(&self) -> usize {
        self.queued.len()
    }

    /// Whether a request is in service or waiting at `now_ms`.
    pub fn busy_at(&self, now_ms: u64) -> bool {
        self.queued.back().is_some_and(|last| last.done_ms > now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: OverloadLimits = OverloadLimits {
        max_queued: 3,
        max_queued_bytes: 1_000,
        max_queue_age_ms: 50,
        max_requests_per_window: 5,
    };

    #[test]
    fn requests_are_served_one_at_a_time_in_arrival_order() {
        let mut queue = RequestQueue::default();
        assert_eq!(queue.admit(0, 10, 10, &LIMITS, false), Ok(10));
        assert_eq!(
            queue.admit(1, 10, 10, &LIMITS, false),
            Ok(20),
            "waits for the first"
        );
        assert_eq!(
            queue.admit(30, 10, 10, &LIMITS, false),
            Ok(40),
            "an idle object serves at once"
        );
        assert!(queue.busy_at(39) && !queue.busy_at(40));
    }

    #[test]
    fn too_many_queued_requests_refuse_the_next() {
        let mut queue = RequestQueue::default();
        for _ in 0..3 {
            assert!(queue.admit(0, 1, 10, &LIMITS, false).is_ok());
        }
        assert_eq!(
            queue.admit(0, 1, 10, &LIMITS, false),
            Err(OverloadCause::TooManyQueued)
        );
        assert!(
            queue.admit(10, 1, 10, &LIMITS, false).is_ok(),
            "one left at 10 ms"
        );
    }

    #[test]
    fn too_much_queued_data_refuses_the_request_that_would_pass_it() {
        let mut queue = RequestQueue::default();
        assert!(queue.admit(0, 600, 10, &LIMITS, false).is_ok());
        assert_eq!(
            queue.admit(0, 401, 10, &LIMITS, false),
            Err(OverloadCause::TooMuchData)
        );
        assert!(queue.admit(0, 400, 10, &LIMITS, false).is_ok());
    }

    #[test]
    fn a_request_waiting_too_long_refuses_new_ones() {
        let limits = OverloadLimits {
            max_queued: 100,
            ..LIMITS
        };
        let mut queue = RequestQueue::default();
        assert!(
            queue.admit(0, 1, 100, &limits, false).is_ok(),
            "in service until 100"
        );
        assert!(
            queue.admit(1, 1, 100, &limits, false).is_ok(),
            "waits from 1 to 100"
        );
        assert!(
            queue.admit(51, 1, 1, &limits, false).is_ok(),
            "waited 50 ms: not too long"
        );
        assert_eq!(
            queue.admit(52, 1, 1, &limits, false),
            Err(OverloadCause::QueuedTooLong)
        );
    }

    #[test]
    fn too_many_requests_within_ten_seconds_refuse_the_next_until_the_window_moves() {
        let mut queue = RequestQueue::default();
        for at_ms in 0..5 {
            assert!(queue.admit(at_ms * 100, 1, 1, &LIMITS, false).is_ok());
        }
        assert_eq!(
            queue.admit(9_999, 1, 1, &LIMITS, false),
            Err(OverloadCause::RateWindow)
        );
        assert!(
            queue.admit(10_000, 1, 1, &LIMITS, false).is_ok(),
            "the first left the window"
        );
    }

    #[test]
    fn the_injected_fault_refuses_what_the_limits_allow() {
        let mut queue = RequestQueue::default();
        assert_eq!(
            queue.admit(0, 1, 1, &LIMITS, true),
            Err(OverloadCause::Injected)
        );
        assert!(
            queue.admit(0, 1, 1, &LIMITS, false).is_ok(),
            "a refusal is not queued"
        );
    }
}
