//! Writes: `set`, `delete` and `delete_many`, and for entries kept in L1 only `set_local`
//! and `forget_local`. Each drops the local copy first and tells the
//! other processes afterwards.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::Cache;
use crate::error::CacheError;
use crate::l1::Entry;
use crate::l2::millis;
use crate::stats::bump;

impl Cache {
    /// Stores `value` under `key` for `ttl` (± jitter) in Redis and L1, and tells the other
    /// processes to drop their copy. On a Redis failure the local L1 copy is dropped too, so
    /// this process does not serve a value that Redis does not hold.
    pub async fn set<T>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), CacheError>
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        let shared = &self.inner.shared;
        let json =
            serde_json::to_vec(value).inspect_err(|_| bump(&shared.counters.serde_errors))?;
        let ttl = self.inner.cfg.jittered(ttl);
        shared.invalidate_local(&[key]).await;
        let written = match &self.inner.remote {
            Some(remote) => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(self.namespaced(key))
                    .arg(&json)
                    .arg("PX")
                    .arg(millis(ttl));
                self.run::<()>(remote, &cmd, self.inner.cfg.redis_timeout)
                    .await
            }
            None => Ok(()),
        };
        if written.is_ok()
            && let Some(l1) = shared.l1()
        {
            // Reads that started before the write must not overwrite this entry with what they
            // read; the epoch bump makes their fill a no-op.
            shared.bump(key);
            shared.flights.taint(key);
            l1.insert(key.to_owned(), self.l1_entry(json, value, ttl))
                .await;
        }
        let published = self.publish(&[key]).await;
        written.and(published)
    }

    /// Drops `key` from this process's L1 and tells the other processes to drop theirs, without
    /// touching Redis: the write that goes with [`get_or_set_local`](Self::get_or_set_local).
    /// A load of `key` in flight here is not written back, since it may predate the change.
    pub async fn forget_local(&self, key: &str) -> Result<(), CacheError> {
        self.inner.shared.invalidate_local(&[key]).await;
        self.publish(&[key]).await
    }

    /// Stores `value` under `key` in this process's L1 only (for at most `ttl` and the L1
    /// bound) and tells the other processes to drop their copy. For a value the caller has
    /// just made true, such as "no answers yet" for a record it created.
    pub async fn set_local<T>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), CacheError>
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        let shared = &self.inner.shared;
        shared.invalidate_local(&[key]).await;
        if let Some(l1) = shared.l1() {
            let json =
                serde_json::to_vec(value).inspect_err(|_| bump(&shared.counters.serde_errors))?;
            let entry = self.l1_entry(json, value, ttl);
            if !entry.l1_ttl.is_zero() {
                l1.insert(key.to_owned(), entry).await;
            }
        }
        self.publish(&[key]).await
    }

    /// The L1 entry for a value written here: its JSON, the value itself, and a lifetime of
    /// `ttl` within the L1 bound.
    fn l1_entry<T>(&self, json: Vec<u8>, value: &T, ttl: Duration) -> Arc<Entry>
    where
        T: Clone + Send + Sync + 'static,
    {
        Arc::new(Entry {
            json: Bytes::from(json),
            typed: Arc::new(value.clone()),
            l1_ttl: ttl.min(self.inner.cfg.l1_max_ttl),
        })
    }

    /// Removes `key` from both tiers and from the other processes' L1. Returns whether it
    /// existed (in Redis; in L1 when embedded).
    pub async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        self.delete_many(&[key]).await.map(|n| n > 0)
    }

    /// Removes `keys` from both tiers and from the other processes' L1 (one UNLINK, one
    /// message). Returns how many existed (in Redis; in L1 when embedded).
    pub async fn delete_many<K: AsRef<str>>(&self, keys: &[K]) -> Result<u64, CacheError> {
        if keys.is_empty() {
            return Ok(0);
        }
        let shared = &self.inner.shared;
        let Some(remote) = &self.inner.remote else {
            let mut removed = 0;
            if let Some(l1) = shared.l1() {
                for key in keys {
                    removed += u64::from(l1.remove(key.as_ref()).await.is_some());
                }
            }
            shared.invalidate_local(keys).await;
            return Ok(removed);
        };
        shared.invalidate_local(keys).await;
        let mut cmd = redis::cmd("UNLINK");
        for key in keys {
            cmd.arg(self.namespaced(key.as_ref()));
        }
        let removed = self
            .run::<u64>(remote, &cmd, self.inner.cfg.redis_timeout)
            .await;
        // A read that fetched the old value while UNLINK was in flight may have filled L1.
        shared.invalidate_local(keys).await;
        let published = self.publish(keys).await;
        let removed = removed?;
        published.map(|()| removed)
    }
}
