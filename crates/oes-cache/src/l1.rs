//! The in-process tier: a bounded moka cache of entries that keep both the JSON and the value
//! already decoded, so a hit is a downcast and a clone, not a parse.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::future::Cache as Moka;
use serde::de::DeserializeOwned;

use crate::Cache;
use crate::config::{CacheConfig, L1Capacity};
use crate::flight::LeaderGuard;
use crate::stats::bump;

/// One cached value. `json` is what Redis holds; `typed` is the same value decoded, under the
/// type it was stored or first read as. A read under another type decodes `json` instead.
pub(crate) struct Entry {
    pub json: Bytes,
    pub typed: Arc<dyn Any + Send + Sync>,
    /// Time this entry may live in L1 (already capped by `l1_max_ttl`).
    pub l1_ttl: Duration,
}

impl Entry {
    pub fn value<T>(&self) -> Option<T>
    where
        T: serde::de::DeserializeOwned + Clone + 'static,
    {
        match self.typed.downcast_ref::<T>() {
            Some(v) => Some(v.clone()),
            None => serde_json::from_slice(&self.json).ok(),
        }
    }
}

struct PerEntryTtl;

impl Expiry<String, Arc<Entry>> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Entry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.l1_ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<Entry>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.l1_ttl)
    }
}

/// Rough fixed cost of one entry besides its key and JSON, so tiny values still weigh something.
const ENTRY_OVERHEAD: usize = 96;

pub(crate) fn build(cfg: &CacheConfig) -> Option<Moka<String, Arc<Entry>>> {
    if !cfg.l1_enabled() {
        return None;
    }
    let builder = Moka::builder().expire_after(PerEntryTtl);
    let cache = match cfg.l1_capacity {
        L1Capacity::Entries(n) => builder.max_capacity(n).build(),
        L1Capacity::Bytes(n) => builder
            .max_capacity(n)
            .weigher(|key: &String, entry: &Arc<Entry>| {
                let weight = key.len() + entry.json.len() + ENTRY_OVERHEAD;
                u32::try_from(weight).unwrap_or(u32::MAX)
            })
            .build(),
    };
    Some(cache)
}

impl Cache {
    pub(crate) async fn l1_get<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + 'static,
    {
        let entry = self.inner.shared.l1()?.get(key).await?;
        let value = entry.value::<T>()?;
        bump(&self.inner.shared.counters.l1_hits);
        Some(value)
    }

    /// The single-flight leader's fill. Its flight was registered before it read, and every
    /// invalidation or write of this key (or of everything) taints the flight, so the taint is an
    /// exact per-key check, unlike the striped epoch, whose collisions matter in a start storm
    /// where hundreds of other keys are invalidated during the one load. Checking again after the
    /// insert closes the window where an invalidation lands between the check and the insert.
    pub(crate) async fn l1_fill_led(&self, key: &str, entry: Arc<Entry>, leader: &LeaderGuard<'_>) {
        let Some(l1) = self.inner.shared.l1() else {
            return;
        };
        if entry.l1_ttl.is_zero() || leader.tainted() {
            return;
        }
        l1.insert(key.to_owned(), entry).await;
        if leader.tainted() {
            l1.invalidate(key).await;
        }
    }

    /// Puts what a read found into L1 unless an invalidation happened since the read began
    /// (`epoch`). Checking again after the insert closes the window where an invalidation
    /// lands between the check and the insert.
    pub(crate) async fn l1_fill(&self, key: &str, entry: Arc<Entry>, epoch: u64) {
        let shared = &self.inner.shared;
        let Some(l1) = shared.l1() else { return };
        if entry.l1_ttl.is_zero() || shared.epoch(key) != epoch {
            return;
        }
        l1.insert(key.to_owned(), entry).await;
        if shared.epoch(key) != epoch {
            l1.invalidate(key).await;
        }
    }
}
