mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{OwnRedis, free_port, raw_connection, unique_namespace};
use oes_cache::{Cache, CacheConfig};

fn config() -> CacheConfig {
    CacheConfig {
        namespace: unique_namespace(),
        redis_timeout: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(5),
        ..CacheConfig::default()
    }
}

/// Loads `key` through the cache and returns the value and how many times the loader ran.
async fn load_once(cache: &Cache, key: &str, value: u32) -> (u32, usize) {
    let runs = AtomicUsize::new(0);
    let got = cache
        .get_or_set(key, Duration::from_secs(60), || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(value)
        })
        .await
        .expect("loader value");
    (got, runs.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_cache_pointed_where_nothing_listens_still_serves_loaded_values() {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let cache = Cache::connect(&url, config()).await.expect("connect");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connect blocked start-up"
    );
    assert!(!cache.is_redis_connected());

    assert_eq!(load_once(&cache, "exam:1", 7).await, (7, 1));
    assert_eq!(cache.get::<u32>("exam:2").await, None);
    cache
        .set("exam:3", &3_u32, Duration::from_secs(60))
        .await
        .expect_err("a write to an absent Redis reports it");
    let stats = cache.stats();
    assert!(stats.redis_errors + stats.redis_timeouts >= 2, "{stats:?}");
    assert_eq!(stats.loads, 1);
    cache.shutdown().await;
}

#[tokio::test]
async fn get_or_set_returns_the_loaded_value_after_redis_dies_and_recovers_when_it_returns() {
    let mut redis = OwnRedis::start().await;
    let port = redis.port;
    let cache = Cache::connect(&redis.url(), config())
        .await
        .expect("connect");
    assert!(cache.is_redis_connected());
    assert_eq!(load_once(&cache, "exam:1", 1).await, (1, 1));
    assert_eq!(load_once(&cache, "exam:1", 99).await, (1, 0), "not cached");

    redis.kill();
    let before = cache.stats();
    for i in 0..5 {
        assert_eq!(
            load_once(&cache, &format!("exam:down:{i}"), i).await,
            (i, 1)
        );
    }
    let after = cache.stats();
    assert!(
        after.redis_errors + after.redis_timeouts > before.redis_errors + before.redis_timeouts,
        "{after:?}"
    );
    assert!(!cache.is_redis_connected());

    // Redis comes back on the same port: the subscription returns, L1 is dropped (messages
    // may have been missed) and values reach Redis again.
    let redis = OwnRedis::start_on(port).await;
    let resets_before = cache.stats().l1_resets;
    let started = Instant::now();
    while !cache.is_redis_connected() || cache.stats().l1_resets == resets_before {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never reconnected"
        );
        // Commands reconnect lazily; keep issuing some.
        let _ = cache.get::<u32>("poke").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(load_once(&cache, "exam:back", 5).await, (5, 1));
    let mut raw = raw_connection(&redis.url()).await;
    let stored: Option<String> = redis::cmd("GET")
        .arg(cache.namespaced("exam:back"))
        .query_async(&mut raw)
        .await
        .expect("get");
    assert_eq!(stored.as_deref(), Some("5"));
    cache.shutdown().await;
}

#[tokio::test]
async fn a_redis_slower_than_the_timeout_is_a_miss_and_the_loader_runs_once() {
    let redis = OwnRedis::start().await;
    let cache = Cache::connect(&redis.url(), config())
        .await
        .expect("connect");
    assert!(cache.is_redis_connected());

    // Freeze the server (a real stall, as under a long Lua script or a fork) for longer than
    // the cache's 50 ms budget.
    let mut admin = raw_connection(&redis.url()).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .expect("client pause");

    let before = cache.stats().redis_timeouts;
    let (value, runs) = load_once(&cache, "exam:2", 2).await;
    assert_eq!((value, runs), (2, 1));
    assert!(cache.stats().redis_timeouts > before);
    cache.shutdown().await;
}
