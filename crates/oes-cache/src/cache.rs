//! The cache handle: how it is built (embedded or in front of Redis), what it exposes about
//! itself, and how it shuts down. Its read, write and maintenance operations live in
//! `read`, `load`, `write` and `admin`.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::CacheConfig;
use crate::error::CacheError;
use crate::invalidation::{self, Link, Subscriber};
use crate::l2::{ADMIN_TIMEOUT, Remote};
use crate::shared::Shared;
use crate::stats::CacheStats;

pub(crate) struct Inner {
    pub(crate) cfg: CacheConfig,
    pub(crate) shared: Arc<Shared>,
    pub(crate) remote: Option<Remote>,
    /// Dropping it (with the last `Cache`) also stops the subscriber.
    shutdown: watch::Sender<bool>,
    pub(crate) link: watch::Receiver<Link>,
    subscriber: Mutex<Option<JoinHandle<()>>>,
}

/// The two-tier cache. Clone it freely: clones share tiers, counters and connections.
///
/// Reads never fail: a Redis error or timeout is a miss, counted in [`CacheStats`].
#[derive(Clone)]
pub struct Cache {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("namespace", &self.inner.cfg.namespace)
            .field("redis", &self.inner.remote.is_some())
            .field("l1", &self.inner.shared.l1.is_some())
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// An in-process cache only (no Redis): the same API, for the embedded mode and tests.
    pub fn embedded(cfg: CacheConfig) -> Result<Self, CacheError> {
        cfg.validate()?;
        let (shutdown, _) = watch::channel(false);
        let (_, link) = watch::channel(Link::Down);
        Ok(Self::assemble(cfg, None, shutdown, link, None))
    }

    /// A cache with L1 in front of the Redis at `redis_url`.
    ///
    /// Waits at most `cfg.connect_timeout` for Redis. If Redis is not reachable by then, the
    /// cache is returned anyway and works fail-open (every read a miss, loaders run) while it
    /// keeps reconnecting in the background. Fails only on an invalid configuration or URL.
    /// Must be called inside a Tokio runtime.
    pub async fn connect(redis_url: &str, cfg: CacheConfig) -> Result<Self, CacheError> {
        cfg.validate()?;
        let client = redis::Client::open(redis_url).map_err(|_| CacheError::InvalidUrl)?;
        let manager_cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.connect_timeout))
            .set_response_timeout(Some(ADMIN_TIMEOUT))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_cfg)?;
        let channel = invalidation::channel(&cfg.namespace);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (link_tx, link) = watch::channel(Link::Pending);
        let remote = Remote {
            conn: conn.clone(),
            channel: channel.clone(),
        };
        let cache = Self::assemble(cfg, Some(remote), shutdown, link, None);
        let subscriber = Subscriber {
            client,
            channel,
            shared: Arc::clone(&cache.inner.shared),
            conn,
            connect_timeout: cache.inner.cfg.connect_timeout,
            shutdown: shutdown_rx,
            link: link_tx,
        };
        let handle = tokio::spawn(subscriber.run());
        *cache
            .inner
            .subscriber
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(handle);
        // Wait for the first attempt only: a refused connection returns at once, a silent
        // host after `connect_timeout`.
        let mut link = cache.inner.link.clone();
        let first = tokio::time::timeout(
            cache.inner.cfg.connect_timeout,
            link.wait_for(|l| *l != Link::Pending),
        );
        let up = matches!(first.await, Ok(Ok(l)) if *l == Link::Up);
        if !up {
            tracing::warn!(
                "cache Redis not reachable yet; running fail-open and reconnecting in the background"
            );
        }
        Ok(cache)
    }

    fn assemble(
        cfg: CacheConfig,
        remote: Option<Remote>,
        shutdown: watch::Sender<bool>,
        link: watch::Receiver<Link>,
        subscriber: Option<JoinHandle<()>>,
    ) -> Self {
        let shared = Arc::new(Shared::new(&cfg));
        Self {
            inner: Arc::new(Inner {
                cfg,
                shared,
                remote,
                shutdown,
                link,
                subscriber: Mutex::new(subscriber),
            }),
        }
    }

    /// The configuration this cache runs with.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.cfg
    }

    /// `config().default_ttl`, for callers without a better TTL.
    pub fn default_ttl(&self) -> Duration {
        self.inner.cfg.default_ttl
    }

    /// The Redis key under which `key` is stored (namespace + key).
    pub fn namespaced(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.inner.cfg.namespace.len() + key.len());
        full.push_str(&self.inner.cfg.namespace);
        full.push_str(key);
        full
    }

    /// The command connection, for diagnostics and benchmarks (`None` when embedded).
    pub fn redis_connection(&self) -> Option<ConnectionManager> {
        self.inner.remote.as_ref().map(|r| r.conn.clone())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CacheStats {
        self.inner.shared.counters.snapshot()
    }

    /// True when the last Redis command succeeded and the invalidation subscription is up.
    /// Always false when embedded.
    pub fn is_redis_connected(&self) -> bool {
        self.inner.remote.is_some()
            && self.inner.shared.l2_ok.load(Ordering::Relaxed)
            && *self.inner.link.borrow() == Link::Up
    }

    /// Stops the background subscriber and empties L1. The cache stays usable, reading and
    /// writing Redis directly, since without the subscriber L1 could go stale unseen.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        let handle = self
            .inner
            .subscriber
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::warn!(error = %e, "cache subscriber ended abnormally");
        }
        let shared = &self.inner.shared;
        shared.l1_on.store(false, Ordering::Relaxed);
        shared.reset_local().await;
    }
}
