mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{connect, test_config};
use oes_cache::Cache;

async fn find(cache: &Cache, runs: &AtomicUsize, found: Option<u32>) -> Option<u32> {
    cache
        .get_or_set_opt("question:404", Duration::from_secs(60), || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(found)
        })
        .await
        .expect("lookup")
}

#[tokio::test]
async fn a_repeated_miss_is_hidden_from_the_loader_until_the_negative_ttl_passes() {
    let mut cfg = test_config();
    cfg.negative_ttl = Duration::from_millis(300);
    let cache = connect(cfg.clone()).await;
    let other = connect(cfg).await;
    let runs = AtomicUsize::new(0);

    assert_eq!(find(&cache, &runs, None).await, None);
    assert_eq!(find(&cache, &runs, None).await, None);
    assert_eq!(
        find(&other, &runs, None).await,
        None,
        "other instance reads it from Redis"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(find(&cache, &runs, Some(4)).await, Some(4));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // A found value is cached for the full TTL.
    assert_eq!(find(&cache, &runs, None).await, Some(4));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    cache.clear().await.expect("clear");
}

#[tokio::test]
async fn a_zero_negative_ttl_caches_no_miss() {
    let mut cfg = test_config();
    cfg.negative_ttl = Duration::ZERO;
    let cache = connect(cfg).await;
    let runs = AtomicUsize::new(0);
    assert_eq!(find(&cache, &runs, None).await, None);
    assert_eq!(find(&cache, &runs, None).await, None);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    cache.clear().await.expect("clear");
}
