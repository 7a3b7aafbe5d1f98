//! Helpers shared by the integration tests: the shared Redis, unique namespaces, and private
//! `redis-server` processes for the tests that need Redis to die.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oes_cache::{Cache, CacheConfig};

pub fn redis_url() -> String {
    std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A namespace nobody else uses, so tests can run in parallel on the shared Redis.
pub fn unique_namespace() -> String {
    format!("oes-cache-test:{}:", uuid::Uuid::new_v4())
}

/// Settings for tests that are not about timeouts: a generous Redis timeout so a busy machine
/// does not turn hits into misses.
pub fn test_config() -> CacheConfig {
    CacheConfig {
        namespace: unique_namespace(),
        redis_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(5),
        ..CacheConfig::default()
    }
}

pub async fn connect(cfg: CacheConfig) -> Cache {
    Cache::connect(&redis_url(), cfg).await.expect("connect")
}

pub async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection")
}

/// A port nothing listens on (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A private redis-server, killed on drop.
pub struct OwnRedis {
    pub port: u16,
    child: Child,
}

impl OwnRedis {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    pub async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let me = Self { port, child };
        for _ in 0..200 {
            if let Ok(client) = redis::Client::open(me.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {port} did not come up");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits (at most 5 s) until `cache` has received `n` invalidation messages.
pub async fn wait_for_invalidations(cache: &Cache, n: u64) {
    let started = Instant::now();
    while cache.stats().invalidations_received < n {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "message {n} never arrived"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
