//! `oes-cache`: a two-tier cache-aside for JSON values, knowing nothing of exams.
//!
//! Parts:
//! - [`Cache`] — the handle (cheap to clone): `get`, `set`, `delete`, `delete_many`,
//!   `get_or_set`, `get_or_set_opt`, `clear`, `stats`, `shutdown`.
//! - [`CacheConfig`] / [`L1Capacity`] — namespace, TTLs, L1 bound, jitter, Redis timeout.
//! - [`keys`] — the only place cache keys are spelled (`exam:{id}`, `exams:all`, …) and
//!   their recommended TTLs.
//! - [`CacheStats`] — counters for metrics.
//! - [`CacheError`] — the crate's one error type (write paths only: reads fail open).
//!
//! Inside: `l1` (moka, values kept decoded), `flight` (single-flight per key),
//! `invalidation` (pub/sub coherence of L1 across processes).
//!
#![doc = include_str!("../README.md")]

mod config;
mod error;
mod flight;
mod invalidation;
pub mod keys;
mod l1;
mod stats;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache as Moka;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{CacheConfig, L1Capacity};
pub use error::CacheError;
pub use stats::CacheStats;

use flight::{Flights, LeaderGuard, Role};
use invalidation::{Link, Message, Subscriber};
use l1::Entry;
use stats::{Counters, bump};

/// Timeout of administrative calls (`clear`'s SCAN/UNLINK batches) and the command
/// connection's own response timeout; hot-path calls use the shorter `redis_timeout`.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys per SCAN step and UNLINK batch in `clear`.
const CLEAR_BATCH: usize = 1000;

/// Stripes of the invalidation counter (see `Shared::epochs`).
const EPOCH_STRIPES: usize = 1024;

/// State shared between the cache handle and its background subscriber.
pub(crate) struct Shared {
    l1: Option<Moka<String, Arc<Entry>>>,
    /// False after `shutdown`: without the subscriber, L1 can no longer be kept coherent.
    l1_on: AtomicBool,
    counters: Counters,
    flights: Flights,
    /// Invalidation counters, striped by key hash: an invalidation of a key bumps its stripe,
    /// so a read that raced with it does not put what it read into L1 (see `Cache::l1_fill`),
    /// while reads of other keys are unaffected (per key up to rare stripe collisions, which
    /// only cost a skipped fill). `reset_local` bumps `epoch_all`, which every key sees.
    epochs: Box<[AtomicU64]>,
    epoch_all: AtomicU64,
    instance_id: String,
    /// Whether the last Redis command succeeded.
    l2_ok: AtomicBool,
}

impl Shared {
    fn l1(&self) -> Option<&Moka<String, Arc<Entry>>> {
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
    fn epoch(&self, key: &str) -> u64 {
        self.epoch_all
            .load(Ordering::SeqCst)
            .wrapping_add(self.stripe(key).load(Ordering::SeqCst))
    }

    fn bump(&self, key: &str) {
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

struct Remote {
    conn: ConnectionManager,
    channel: String,
}

struct Inner {
    cfg: CacheConfig,
    shared: Arc<Shared>,
    remote: Option<Remote>,
    /// Dropping it (with the last `Cache`) also stops the subscriber.
    shutdown: watch::Sender<bool>,
    link: watch::Receiver<Link>,
    subscriber: Mutex<Option<JoinHandle<()>>>,
}

/// The two-tier cache. Clone it freely: clones share tiers, counters and connections.
///
/// Reads never fail: a Redis error or timeout is a miss, counted in [`CacheStats`].
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
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
        let shared = Arc::new(Shared {
            l1: l1::build(&cfg),
            l1_on: AtomicBool::new(true),
            counters: Counters::default(),
            flights: Flights::default(),
            epochs: (0..EPOCH_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            epoch_all: AtomicU64::new(0),
            instance_id: uuid::Uuid::new_v4().to_string(),
            l2_ok: AtomicBool::new(false),
        });
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

    /// The cached value of `key`, from L1 or Redis; `None` on a miss, on a value that does not
    /// decode as `T`, or when Redis fails or is slow (fail-open).
    pub async fn get<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if let Some(v) = self.l1_get(key).await {
            return Some(v);
        }
        let epoch = self.inner.shared.epoch(key);
        let found = self
            .l2_get(key)
            .await
            .and_then(|(json, l1_ttl)| self.decode_entry::<T>(json, l1_ttl));
        match found {
            Some((value, entry)) => {
                if let Some(entry) = entry {
                    self.l1_fill(key, entry, epoch).await;
                }
                Some(value)
            }
            None => {
                bump(&self.inner.shared.counters.misses);
                None
            }
        }
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
            let entry = Arc::new(Entry {
                json: Bytes::from(json),
                typed: Arc::new(value.clone()),
                l1_ttl: ttl.min(self.inner.cfg.l1_max_ttl),
            });
            l1.insert(key.to_owned(), entry).await;
        }
        let published = self.publish(&[key]).await;
        written.and(published)
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

    /// Deletes every key of the namespace — and nothing else — in batches (SCAN MATCH +
    /// UNLINK, never FLUSHDB or KEYS), empties L1 here and in the other processes. Returns how
    /// many Redis keys were removed (L1 entries when embedded).
    pub async fn clear(&self) -> Result<u64, CacheError> {
        let shared = &self.inner.shared;
        let Some(remote) = &self.inner.remote else {
            let removed = match shared.l1() {
                Some(l1) => {
                    l1.run_pending_tasks().await;
                    l1.entry_count()
                }
                None => 0,
            };
            shared.reset_local().await;
            return Ok(removed);
        };
        shared.reset_local().await;
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, found) = self.scan_namespace(remote, cursor).await?;
            for batch in found.chunks(CLEAR_BATCH) {
                let mut unlink = redis::cmd("UNLINK");
                unlink.arg(batch);
                removed += self.run::<u64>(remote, &unlink, ADMIN_TIMEOUT).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        shared.reset_local().await;
        self.publish_message(&Message {
            src: shared.instance_id.clone(),
            keys: Vec::new(),
            all: true,
        })
        .await?;
        Ok(removed)
    }

    /// How many keys the namespace holds in Redis (`None` without Redis: the in-process tier
    /// belongs to each process). Counted incrementally with SCAN, like `clear`.
    pub async fn key_count(&self) -> Result<Option<u64>, CacheError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(None);
        };
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let (next, found) = self.scan_namespace(remote, cursor).await?;
            count += found.len() as u64;
            if next == 0 {
                return Ok(Some(count));
            }
            cursor = next;
        }
    }

    /// One SCAN page of the namespace's keys: the next cursor (0 when done) and the keys.
    async fn scan_namespace(
        &self,
        remote: &Remote,
        cursor: u64,
    ) -> Result<(u64, Vec<Vec<u8>>), CacheError> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escape(&self.inner.cfg.namespace)))
            .arg("COUNT")
            .arg(CLEAR_BATCH);
        self.run(remote, &scan, ADMIN_TIMEOUT).await
    }

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
        self.load_through(key, loader, |_| ttl).await
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
        self.load_through(
            key,
            loader,
            move |v: &Option<T>| {
                if v.is_some() { ttl } else { negative }
            },
        )
        .await
    }

    async fn load_through<V, E, F, Fut>(
        &self,
        key: &str,
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
        if let Some((value, json, l1_ttl)) = self.l2_get(key).await.and_then(|(json, l1_ttl)| {
            let value: V = self.decode(&json)?;
            Some((value, json, l1_ttl))
        }) {
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

    async fn l1_get<T>(&self, key: &str) -> Option<T>
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
    async fn l1_fill_led(&self, key: &str, entry: Arc<Entry>, leader: &LeaderGuard<'_>) {
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
    async fn l1_fill(&self, key: &str, entry: Arc<Entry>, epoch: u64) {
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

    /// Raw JSON of `key` from Redis and how long an L1 copy may live (its remaining Redis
    /// TTL, capped by `l1_max_ttl`; zero: do not keep a copy). GET and PTTL go in one
    /// pipeline, so an L2 hit stays one round trip. `None` on a miss, an error or a timeout
    /// (counted).
    async fn l2_get(&self, key: &str) -> Option<(Bytes, Duration)> {
        let remote = self.inner.remote.as_ref()?;
        let full = self.namespaced(key);
        if self.inner.shared.l1().is_none() {
            // No L1 copy will be made, so the TTL is not needed.
            let mut cmd = redis::cmd("GET");
            cmd.arg(&full);
            let found: Option<Vec<u8>> = self
                .run(remote, &cmd, self.inner.cfg.redis_timeout)
                .await
                .ok()?;
            let json = Bytes::from(found?);
            bump(&self.inner.shared.counters.l2_hits);
            return Some((json, Duration::ZERO));
        }
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&full).cmd("PTTL").arg(&full);
        let (found, pttl): (Option<Vec<u8>>, i64) = self
            .run_pipe(remote, &pipe, self.inner.cfg.redis_timeout)
            .await
            .ok()?;
        let json = Bytes::from(found?);
        bump(&self.inner.shared.counters.l2_hits);
        let max = self.inner.cfg.l1_max_ttl;
        let l1_ttl = match pttl {
            // No expiry (written by someone else without a TTL).
            -1 => max,
            ms if ms > 0 => Duration::from_millis(ms.unsigned_abs()).min(max),
            _ => Duration::ZERO,
        };
        Some((json, l1_ttl))
    }

    fn decode<T: DeserializeOwned>(&self, json: &[u8]) -> Option<T> {
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
    fn decode_entry<T>(&self, json: Bytes, l1_ttl: Duration) -> Option<(T, Option<Arc<Entry>>)>
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

    async fn publish<K: AsRef<str>>(&self, keys: &[K]) -> Result<(), CacheError> {
        self.publish_message(&Message {
            src: self.inner.shared.instance_id.clone(),
            keys: keys.iter().map(|k| k.as_ref().to_owned()).collect(),
            all: false,
        })
        .await
    }

    async fn publish_message(&self, msg: &Message) -> Result<(), CacheError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(());
        };
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&remote.channel).arg(serde_json::to_vec(msg)?);
        self.run::<()>(remote, &cmd, self.inner.cfg.redis_timeout)
            .await?;
        bump(&self.inner.shared.counters.invalidations_sent);
        Ok(())
    }

    async fn run_pipe<T: redis::FromRedisValue>(
        &self,
        remote: &Remote,
        pipe: &redis::Pipeline,
        timeout: Duration,
    ) -> Result<T, CacheError> {
        let mut conn = remote.conn.clone();
        self.deadline(timeout, pipe.query_async::<T>(&mut conn))
            .await
    }

    /// Runs one command with a deadline, counting errors and timeouts.
    async fn run<T: redis::FromRedisValue>(
        &self,
        remote: &Remote,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, CacheError> {
        let mut conn = remote.conn.clone();
        self.deadline(timeout, cmd.query_async::<T>(&mut conn))
            .await
    }

    async fn deadline<T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheError> {
        let shared = &self.inner.shared;
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(v)) => {
                shared.l2_ok.store(true, Ordering::Relaxed);
                Ok(v)
            }
            Ok(Err(e)) => {
                bump(&shared.counters.redis_errors);
                shared.l2_ok.store(false, Ordering::Relaxed);
                tracing::debug!(error = %e, "cache Redis call failed");
                Err(e.into())
            }
            Err(_) => {
                bump(&shared.counters.redis_timeouts);
                shared.l2_ok.store(false, Ordering::Relaxed);
                Err(CacheError::Timeout(timeout))
            }
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Escapes Redis glob metacharacters so a namespace like `a*b:` matches only itself.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_escape_neutralises_metacharacters() {
        assert_eq!(glob_escape("oes:cache:"), "oes:cache:");
        assert_eq!(glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }

    #[test]
    fn millis_never_rounds_a_ttl_down_to_zero() {
        assert_eq!(millis(Duration::from_micros(10)), 1);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }
}
