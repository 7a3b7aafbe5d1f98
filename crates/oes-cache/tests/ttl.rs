mod common;

use std::time::Duration;

use common::{connect, raw_connection, redis_url, test_config};

#[tokio::test]
async fn entries_expire_after_their_ttl_in_both_tiers() {
    let cfg = test_config();
    let cache = connect(cfg.clone()).await;
    let other = connect(cfg).await;
    cache
        .set("short", &"soon gone".to_owned(), Duration::from_millis(400))
        .await
        .expect("set");
    cache
        .set("long", &"still here".to_owned(), Duration::from_secs(60))
        .await
        .expect("set");

    let mut raw = raw_connection(&redis_url()).await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(cache.namespaced("short"))
        .query_async(&mut raw)
        .await
        .expect("pttl");
    assert!(
        pttl > 0 && pttl <= 420,
        "Redis TTL {pttl} ms is not the requested 400 ms ± 5 %"
    );
    assert_eq!(
        cache.get::<String>("short").await.as_deref(),
        Some("soon gone")
    );
    assert_eq!(
        other.get::<String>("short").await.as_deref(),
        Some("soon gone")
    );

    tokio::time::sleep(Duration::from_millis(900)).await;

    assert_eq!(
        cache.get::<String>("short").await,
        None,
        "writer's L1 kept it"
    );
    assert_eq!(
        other.get::<String>("short").await,
        None,
        "reader still has it"
    );
    let exists: u64 = redis::cmd("EXISTS")
        .arg(cache.namespaced("short"))
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(exists, 0);
    assert_eq!(
        cache.get::<String>("long").await.as_deref(),
        Some("still here")
    );
    cache.clear().await.expect("clear");
}

#[tokio::test]
async fn l1_never_keeps_an_entry_longer_than_l1_max_ttl() {
    let mut cfg = test_config();
    cfg.l1_max_ttl = Duration::from_millis(200);
    let cache = connect(cfg).await;
    cache
        .set("k", &1_u32, Duration::from_secs(60))
        .await
        .expect("set");
    // Changed behind the cache's back: no invalidation message is sent.
    let mut raw = raw_connection(&redis_url()).await;
    let _: () = redis::cmd("SET")
        .arg(cache.namespaced("k"))
        .arg("2")
        .query_async(&mut raw)
        .await
        .expect("raw set");
    assert_eq!(cache.get::<u32>("k").await, Some(1), "served from L1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cache.get::<u32>("k").await,
        Some(2),
        "L1 outlived l1_max_ttl"
    );
    cache.clear().await.expect("clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_restarts_the_l1_lifetime_of_a_value_redis_holds() {
    let cfg = oes_cache::CacheConfig {
        l1_max_ttl: Duration::from_secs(2),
        ..test_config()
    };
    let cache = connect(cfg).await;
    let key = "exam:refresh:questions";
    cache
        .set(key, &"paper".to_owned(), Duration::from_secs(60))
        .await
        .expect("set");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(cache.refresh::<String>(key).await.as_deref(), Some("paper"));
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Gone from Redis without a message: only an L1 copy younger than its bound still answers,
    // and the copy made at `set` is past it.
    let mut raw = raw_connection(&redis_url()).await;
    let _: u64 = redis::cmd("UNLINK")
        .arg(cache.namespaced(key))
        .query_async(&mut raw)
        .await
        .expect("unlink");
    assert_eq!(cache.get::<String>(key).await.as_deref(), Some("paper"));
    assert_eq!(
        cache.refresh::<String>(key).await,
        None,
        "nothing in Redis to refresh from"
    );
    assert_eq!(
        cache.get::<String>(key).await.as_deref(),
        Some("paper"),
        "a failed refresh leaves L1 as it was"
    );
}
