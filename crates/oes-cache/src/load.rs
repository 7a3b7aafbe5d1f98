//! Cache-aside loads (`get_or_set`, `get_or_set_opt`): L1, then Redis, then the loader, with
//! one load per key at a time in this process (see `flight`).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Cache;
use crate::flight::{self, Role};
use crate::l1::Entry;
use crate::l2::millis;
use crate::stats::bump;

/// Where a load looks and writes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tiers {
    /// L1, then Redis.
    Both,
    /// L1 only.
    LocalOnly,
}

impl Cache {
    /// Cache-aside: the cached value of `key`, or else the loader's value, stored for `ttl`
    /// (± jitter) and returned.
    ///
    /// Concurrent calls for one key in this process run the loader once; the others wait and
    /// share its outcome. A loader error is not cached and is returned to the caller and to
    /// every waiter of that load as the same `Arc<E>`. Redis errors and timeouts only turn
    /// into misses: the loader runs at most once per call.
    pub async fn get_or_set<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<T, Arc<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.load_through(key, Tiers::Both, loader, |_| ttl).await
    }

    /// [`get_or_set`](Self::get_or_set) for values kept in this process only: never read from
    /// or written to Redis, and dropped here when any process invalidates `key` (see
    /// [`forget_local`](Self::forget_local)). For values that change often, where a copy in
    /// Redis written back by a load that raced a change would be served to every process until
    /// it expires, but a copy in L1 is dropped by the change's message. Without an L1 tier every
    /// call runs the loader.
    pub async fn get_or_set_local<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<T, Arc<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.load_through(key, Tiers::LocalOnly, loader, |_| ttl)
            .await
    }

    /// [`get_or_set`](Self::get_or_set) for lookups that may find nothing: a `None` from the
    /// loader is cached too, for `negative_ttl` only, so repeated requests for a missing
    /// record do not all reach the database.
    pub async fn get_or_set_opt<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        loader: F,
    ) -> Result<Option<T>, Arc<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        let negative = self.inner.cfg.negative_ttl;
        self.load_through(key, Tiers::Both, loader, move |v: &Option<T>| {
            if v.is_some() { ttl } else { negative }
        })
        .await
    }

    async fn load_through<V, E, F, Fut>(
        &self,
        key: &str,
        tiers: Tiers,
        loader: F,
        ttl_of: impl Fn(&V) -> Duration,
    ) -> Result<V, Arc<E>>
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let shared = &self.inner.shared;
        let leader = loop {
            if let Some(v) = self.l1_get(key).await {
                return Ok(v);
            }
            match shared.flights.join(key) {
                Role::Leader(guard) => break guard,
                Role::Waiter(rx) => {
                    bump(&shared.counters.coalesced_waits);
                    match flight::wait(rx).await {
                        Some(Ok(entry)) => {
                            if let Some(v) = entry.value::<V>() {
                                return Ok(v);
                            }
                        }
                        Some(Err(err)) => {
                            if let Ok(e) = err.downcast::<E>() {
                                return Err(e);
                            }
                        }
                        // The leader was cancelled: try again, possibly as the leader.
                        None => {}
                    }
                }
            }
        };
        // A previous leader may have filled L1 between our first look and taking the lead.
        if let Some(v) = self.l1_get(key).await {
            return Ok(v);
        }
        let from_l2 = match tiers {
            Tiers::Both => self.l2_get(key).await.and_then(|(json, l1_ttl)| {
                let value: V = self.decode(&json)?;
                Some((value, json, l1_ttl))
            }),
            Tiers::LocalOnly => None,
        };
        if let Some((value, json, l1_ttl)) = from_l2 {
            let entry = Arc::new(Entry {
                json,
                typed: Arc::new(value.clone()),
                l1_ttl,
            });
            self.l1_fill_led(key, Arc::clone(&entry), &leader).await;
            leader.finish(Ok(entry));
            return Ok(value);
        }
        bump(&shared.counters.misses);
        bump(&shared.counters.loads);
        match loader().await {
            Ok(value) => {
                let ttl = self.inner.cfg.jittered(ttl_of(&value));
                let json = match serde_json::to_vec(&value) {
                    Ok(json) => Some(json),
                    Err(e) => {
                        bump(&shared.counters.serde_errors);
                        tracing::warn!(error = %e, "loaded value cannot be cached as JSON");
                        None
                    }
                };
                let cacheable = json.is_some() && !ttl_of(&value).is_zero();
                let entry = Arc::new(Entry {
                    json: json.map(Bytes::from).unwrap_or_default(),
                    typed: Arc::new(value.clone()),
                    l1_ttl: ttl.min(self.inner.cfg.l1_max_ttl),
                });
                if cacheable {
                    // Written back only if no invalidation of this key arrived during the
                    // load: the value may predate the change that caused it.
                    // Skipped too when the GET of this call just failed: a Redis that is down
                    // or stalled would only add a second timeout to the caller's wait.
                    if let Some(remote) = &self.inner.remote
                        && tiers == Tiers::Both
                        && !leader.tainted()
                        && shared.l2_ok.load(Ordering::Relaxed)
                    {
                        let mut cmd = redis::cmd("SET");
                        cmd.arg(self.namespaced(key))
                            .arg(entry.json.as_ref())
                            .arg("PX")
                            .arg(millis(ttl));
                        // Best effort: the caller has its value either way.
                        let _ = self
                            .run::<()>(remote, &cmd, self.inner.cfg.redis_timeout)
                            .await;
                    }
                    self.l1_fill_led(key, Arc::clone(&entry), &leader).await;
                }
                leader.finish(Ok(entry));
                Ok(value)
            }
            Err(e) => {
                bump(&shared.counters.load_errors);
                let e = Arc::new(e);
                let shared_err: Arc<dyn Any + Send + Sync> = e.clone();
                leader.finish(Err(shared_err));
                Err(e)
            }
        }
    }
}
