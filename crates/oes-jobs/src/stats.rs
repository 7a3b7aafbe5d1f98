//! Lock-free worker counters, shared between a worker's tasks and whoever reads `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::types::WorkerStats;

/// Cheap, cloneable reader of one worker's counters; it stays valid after the worker stops.
#[derive(Debug, Clone, Default)]
pub struct StatsReader(pub(crate) Arc<Counters>);

impl StatsReader {
    /// Current values.
    pub fn snapshot(&self) -> WorkerStats {
        let c = &self.0;
        WorkerStats {
            completed: c.completed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            stalled: c.stalled.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            handled: c.handled.load(Ordering::Relaxed),
            handler_micros_total: c.micros_total.load(Ordering::Relaxed),
            handler_micros_max: c.micros_max.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub stalled: AtomicU64,
    pub errors: AtomicU64,
    handled: AtomicU64,
    micros_total: AtomicU64,
    micros_max: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_run(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.handled.fetch_add(1, Ordering::Relaxed);
        self.micros_total.fetch_add(micros, Ordering::Relaxed);
        self.micros_max.fetch_max(micros, Ordering::Relaxed);
    }
}
