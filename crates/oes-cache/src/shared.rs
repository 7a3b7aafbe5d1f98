//! State shared between the cache handle and its background subscriber: the L1 tier, the
//! counters, the single-flight table and the striped invalidation epochs that keep a read
//! which raced with an invalidation from filling L1 with what it read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use moka::future::Cache as Moka;

use crate::config::CacheConfig;
use crate::flight::Flights;
use crate::l1::{self, Entry};
use crate::stats::Counters;

/// Stripes of the invalidation counter (see `Shared::epochs`).
const EPOCH_STRIPES: usize = 1024;

/// State shared between the cache handle and its background subscriber.
pub(crate) struct Shared {
    pub(crate) l1: Option<Moka<String, Arc<Entry>>>,
    /// False after `shutdown`: without the subscriber, L1 can no longer be kept coherent.
    pub(crate) l1_on: AtomicBool,
    pub(crate) counters: Counters,
    pub(crate) flights: Flights,
    /// Invalidation counters, striped by key hash: an invalidation of a key bumps its stripe,
    /// so a read that raced with it does not put what it read into L1 (see `Cache::l1_fill`),
    /// while reads of other keys are unaffected (per key up to rare stripe collisions, which
    /// only cost a skipped fill). `reset_local` bumps `epoch_all`, which every key sees.
    epochs: Box<[AtomicU64]>,
    epoch_all: AtomicU64,
    pub(crate) instance_id: String,
    /// Whether the last Redis command succeeded.
    pub(crate) l2_ok: AtomicBool,
}

impl Shared {
    pub(crate) fn new(cfg: &CacheConfig) -> Self {
        Self {
            l1: l1::build(cfg),
            l1_on: AtomicBool::new(true),
            counters: Counters::default(),
            flights: Flights::default(),
            epochs: (0..EPOCH_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch_all: AtomicU64::new(0),
            instance_id: uuid::Uuid::new_v4().to_string(),
            l2_ok: AtomicBool::new(false),
        }
    }

    pub(crate) fn l1(&self) -> Option<&Moka<String, Arc<Entry>>> {
        if self.l1_on.load(Ordering::Relaxed) {
            self.l1.as_ref()
        } else {
            None
        }
    }

    fn stripe(&self, key: &str) -> &AtomicU64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        // The modulo keeps the index below the slice length.
        &self.epochs[(hash % self.epochs.len() as u64) as usize]
    }

    /// The invalidation count that concerns `key`; it changes whenever `key` (or everything) is
    /// invalidated. Both parts only grow, so their sum changes whenever either does.
    pub(crate) fn epoch(&self, key: &str) -> u64 {
        self.epoch_all
            .load(Ordering::SeqCst)
            .wrapping_add(self.stripe(key).load(Ordering::SeqCst))
    }

    pub(crate) fn bump(&self, key: &str) {
        self.stripe(key).fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) async fn invalidate_local<K: AsRef<str>>(&self, keys: &[K]) {
        for key in keys {
            self.bump(key.as_ref());
        }
        for key in keys {
            if let Some(l1) = &self.l1 {
                l1.invalidate(key.as_ref()).await;
            }
            self.flights.taint(key.as_ref());
        }
    }

    pub(crate) async fn reset_local(&self) {
        self.epoch_all.fetch_add(1, Ordering::SeqCst);
        if let Some(l1) = &self.l1 {
            l1.invalidate_all();
        }
        self.flights.taint_all();
    }
}
