//! Parallel workers for many runs (`sweep`, `swarm`): plain std threads pull job numbers from a
//! shared counter; results are stored by job number, so the caller sees them in job order
//! whichever worker finished first. Each run already executes its simulation on a fresh thread
//! of its own.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Progress of a batch of runs, handed to the callback once before the first run (with
/// `done == 0`) and once after each run, from the worker that finished it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepProgress {
    /// Runs finished.
    pub done: u64,
    /// Runs in total.
    pub total: u64,
    /// Runs finished that failed.
    pub failed: u64,
}

/// Runs `work(job)` for every job in `0..total` on at most `jobs` workers; `failed` says which
/// results count as failures for the progress. `None` marks a job whose worker stopped.
pub fn run_jobs<T: Send>(
    total: usize,
    jobs: NonZeroUsize,
    work: &(dyn Fn(usize) -> T + Sync),
    failed: &(dyn Fn(&T) -> bool + Sync),
    progress: &(dyn Fn(SweepProgress) + Sync),
) -> (Vec<Option<T>>, usize) {
    let workers = jobs.get().min(total).max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..total).map(|_| None).collect());
    progress(SweepProgress {
        done: 0,
        total: total as u64,
        failed: 0,
    });
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job >= total {
                    break;
                }
                let result = work(job);
                let failed_now = if failed(&result) {
                    failures.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    failures.load(Ordering::Relaxed)
                };
                if let Ok(mut slots) = results.lock() {
                    slots[job] = Some(result);
                }
                let done_now = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(SweepProgress {
                    done: done_now as u64,
                    total: total as u64,
                    failed: failed_now as u64,
                });
            });
        }
    });
    let results = results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (results, workers)
}
