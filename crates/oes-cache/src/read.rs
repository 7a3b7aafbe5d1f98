//! Plain reads: `get` (typed, filling L1), `refresh` (Redis into L1, restarting its L1
//! lifetime) and `get_json` (the stored JSON as is).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::Cache;
use crate::l1::Entry;
use crate::stats::bump;

impl Cache {
    /// The cached value of `key`, from L1 or Redis; `None` on a miss, on a value that does not
    /// decode as `T`, or when Redis fails or is slow (fail-open).
    pub async fn get<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if let Some(v) = self.l1_get(key).await {
            return Some(v);
        }
        let found = self.refresh(key).await;
        if found.is_none() {
            bump(&self.inner.shared.counters.misses);
        }
        found
    }

    /// Reads `key` from Redis into L1 whether or not L1 holds it, which restarts its L1
    /// lifetime: for a value many callers are about to want at once (an exam's paper at its
    /// opening), which must not lapse from L1 at that moment and send them all to Redis
    /// behind one read. `None` (L1 left as it was) on a miss, without Redis, or when Redis
    /// fails; the caller loads the value the usual way then.
    pub async fn refresh<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let epoch = self.inner.shared.epoch(key);
        let (value, entry) = self
            .l2_get(key)
            .await
            .and_then(|(json, l1_ttl)| self.decode_entry::<T>(json, l1_ttl))?;
        if let Some(entry) = entry {
            self.l1_fill(key, entry, epoch).await;
        }
        Some(value)
    }

    /// The cached JSON of `key` as stored, without decoding it: for handlers that send a
    /// cached document straight to a client, where decoding a large value would cost more
    /// than fetching it. Reads L1 then Redis; a Redis hit is not copied into L1 (L1 keeps
    /// decoded values for typed reads). `None` on a miss or a Redis failure.
    pub async fn get_json(&self, key: &str) -> Option<Bytes> {
        let shared = &self.inner.shared;
        if let Some(l1) = shared.l1()
            && let Some(entry) = l1.get(key).await
            && !entry.json.is_empty()
        {
            bump(&shared.counters.l1_hits);
            return Some(entry.json.clone());
        }
        let found = self.l2_get(key).await.map(|(json, _)| json);
        if found.is_none() {
            bump(&shared.counters.misses);
        }
        found
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, json: &[u8]) -> Option<T> {
        match serde_json::from_slice(json) {
            Ok(v) => Some(v),
            Err(e) => {
                bump(&self.inner.shared.counters.serde_errors);
                tracing::debug!(error = %e, "cached value does not decode; treating as a miss");
                None
            }
        }
    }

    /// The value, plus an L1 entry for it when L1 is on (the decoded copy costs a clone).
    #[allow(clippy::type_complexity)]
    pub(crate) fn decode_entry<T>(
        &self,
        json: Bytes,
        l1_ttl: Duration,
    ) -> Option<(T, Option<Arc<Entry>>)>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let value: T = self.decode(&json)?;
        let entry = self.inner.shared.l1().map(|_| {
            Arc::new(Entry {
                json,
                typed: Arc::new(value.clone()),
                l1_ttl,
            })
        });
        Some((value, entry))
    }
}
