use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the cache's counters since it was built. Plain numbers, cheap to copy into
/// metrics or logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    /// Reads served from the in-process tier.
    pub l1_hits: u64,
    /// Reads served from Redis.
    pub l2_hits: u64,
    /// Reads that found nothing in either tier (including reads that fell back because Redis
    /// failed).
    pub misses: u64,
    /// Loader runs (`get_or_set`, `get_or_set_opt`).
    pub loads: u64,
    /// Loader runs that returned an error.
    pub load_errors: u64,
    /// Calls that waited for another call's load of the same key instead of loading.
    pub coalesced_waits: u64,
    /// Redis commands that failed (including connection failures).
    pub redis_errors: u64,
    /// Redis commands abandoned after `redis_timeout`.
    pub redis_timeouts: u64,
    /// Values that could not be encoded or decoded (for example a stale JSON shape in Redis).
    pub serde_errors: u64,
    /// Invalidation messages published to other processes.
    pub invalidations_sent: u64,
    /// Invalidation messages from other processes applied to this process's L1.
    pub invalidations_received: u64,
    /// Times the whole L1 was dropped because the invalidation subscription was (re)established
    /// and messages may have been missed.
    pub l1_resets: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub l1_hits: AtomicU64,
    pub l2_hits: AtomicU64,
    pub misses: AtomicU64,
    pub loads: AtomicU64,
    pub load_errors: AtomicU64,
    pub coalesced_waits: AtomicU64,
    pub redis_errors: AtomicU64,
    pub redis_timeouts: AtomicU64,
    pub serde_errors: AtomicU64,
    pub invalidations_sent: AtomicU64,
    pub invalidations_received: AtomicU64,
    pub l1_resets: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            l1_hits: get(&self.l1_hits),
            l2_hits: get(&self.l2_hits),
            misses: get(&self.misses),
            loads: get(&self.loads),
            load_errors: get(&self.load_errors),
            coalesced_waits: get(&self.coalesced_waits),
            redis_errors: get(&self.redis_errors),
            redis_timeouts: get(&self.redis_timeouts),
            serde_errors: get(&self.serde_errors),
            invalidations_sent: get(&self.invalidations_sent),
            invalidations_received: get(&self.invalidations_received),
            l1_resets: get(&self.l1_resets),
        }
    }
}
