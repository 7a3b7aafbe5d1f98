mod common;

use std::time::{Duration, Instant};

use common::{connect, raw_connection, redis_url, test_config, wait_for_invalidations};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_on_one_instance_is_seen_by_another() {
    let cfg = test_config();
    let a = connect(cfg.clone()).await;
    let b = connect(cfg).await;
    assert!(a.is_redis_connected() && b.is_redis_connected());

    a.set("exam:1", &"v1".to_owned(), Duration::from_secs(60))
        .await
        .expect("set");
    // The set also tells b to drop the key; let that land before b reads, or it would
    // (rightly) drop what it reads.
    wait_for_invalidations(&b, 1).await;
    assert_eq!(b.get::<String>("exam:1").await.as_deref(), Some("v1"));
    assert_eq!(b.stats().l2_hits, 1);
    assert_eq!(
        b.get_json("exam:1").await.as_deref(),
        Some(&br#""v1""#[..]),
        "raw JSON read"
    );

    // Remove it from Redis without a message: b still answers, so its reads come from L1.
    let mut raw = raw_connection(&redis_url()).await;
    let _: u64 = redis::cmd("UNLINK")
        .arg(a.namespaced("exam:1"))
        .query_async(&mut raw)
        .await
        .expect("unlink");
    assert_eq!(b.get::<String>("exam:1").await.as_deref(), Some("v1"));
    assert_eq!(b.stats().l1_hits, 2);

    a.set("exam:1", &"v1".to_owned(), Duration::from_secs(60))
        .await
        .expect("set");
    wait_for_invalidations(&b, 2).await;
    assert_eq!(b.get::<String>("exam:1").await.as_deref(), Some("v1"));
    assert_eq!(b.get::<String>("exam:1").await.as_deref(), Some("v1"));
    assert_eq!(b.stats().l1_hits, 3, "b's L1 was not refilled");

    let started = Instant::now();
    a.delete("exam:1").await.expect("delete");
    let delete_returned = started.elapsed();
    let seen = wait_until_value(&b, "exam:1", None).await;
    eprintln!(
        "delete propagation: a.delete returned after {delete_returned:?}, b saw the delete after {seen:?}"
    );
    assert!(seen < Duration::from_secs(2), "took {seen:?}");
    assert_eq!(b.stats().invalidations_received, 3);
    assert!(a.stats().invalidations_sent >= 3);
    assert_eq!(
        a.stats().invalidations_received,
        0,
        "a applied its own messages"
    );
    a.clear().await.expect("clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_on_one_instance_replaces_the_value_everywhere() {
    let cfg = test_config();
    let a = connect(cfg.clone()).await;
    let b = connect(cfg).await;
    a.set("user:1:profile", &1_u32, Duration::from_secs(60))
        .await
        .expect("set");
    wait_for_invalidations(&b, 1).await;
    assert_eq!(b.get::<u32>("user:1:profile").await, Some(1));
    assert_eq!(b.get::<u32>("user:1:profile").await, Some(1));
    assert_eq!(b.stats().l1_hits, 1);
    let started = Instant::now();
    a.set("user:1:profile", &2_u32, Duration::from_secs(60))
        .await
        .expect("set");
    let mut seen = None;
    while started.elapsed() < Duration::from_secs(2) {
        seen = b.get::<u32>("user:1:profile").await;
        if seen == Some(2) {
            break;
        }
        tokio::task::yield_now().await;
    }
    eprintln!("overwrite propagation: {:?}", started.elapsed());
    assert_eq!(seen, Some(2));
    a.delete_many(&["user:1:profile"]).await.expect("delete");
    a.clear().await.expect("clear");
}

/// Polls `cache` until `key` reads as `want`; returns how long that took.
async fn wait_until_value(cache: &oes_cache::Cache, key: &str, want: Option<&str>) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if cache.get::<String>(key).await.as_deref() == want {
            return started.elapsed();
        }
        tokio::task::yield_now().await;
    }
    panic!("{key} never became {want:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_an_instance_reads_redis_directly_and_stays_correct() {
    let cfg = test_config();
    let a = connect(cfg.clone()).await;
    let b = connect(cfg).await;
    a.set("exam:9", &1_u32, Duration::from_secs(60))
        .await
        .expect("set");
    wait_for_invalidations(&b, 1).await;
    assert_eq!(b.get::<u32>("exam:9").await, Some(1));
    b.shutdown().await;
    assert!(!b.is_redis_connected(), "no subscription after shutdown");

    // Without its subscriber b cannot hear invalidations, so it must not answer from L1.
    let mut raw = raw_connection(&redis_url()).await;
    let _: () = redis::cmd("SET")
        .arg(a.namespaced("exam:9"))
        .arg("2")
        .query_async(&mut raw)
        .await
        .expect("raw set");
    assert_eq!(b.get::<u32>("exam:9").await, Some(2));
    assert_eq!(b.get::<u32>("exam:9").await, Some(2));
    a.clear().await.expect("clear");
}
