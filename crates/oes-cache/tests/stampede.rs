mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{connect, test_config};
use oes_cache::{Cache, CacheConfig};

async fn storm(
    cache: &Cache,
    key: &str,
    calls: usize,
) -> (usize, Vec<Result<String, Arc<String>>>) {
    let loads = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..calls {
        let cache = cache.clone();
        let loads = Arc::clone(&loads);
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_set(&key, Duration::from_secs(60), || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    // Long enough that every task arrives while the load is in flight.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Ok::<_, String>("the paper".to_owned())
                })
                .await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    (loads.load(Ordering::SeqCst), results)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_misses_run_the_loader_once() {
    let cache = connect(test_config()).await;
    let (loads, results) = storm(&cache, "exam:1:questions", 200).await;
    assert_eq!(loads, 1);
    assert!(results.iter().all(|r| r.as_deref() == Ok("the paper")));
    let stats = cache.stats();
    assert_eq!(stats.loads, 1);
    assert_eq!(stats.coalesced_waits + stats.l1_hits, 199, "{stats:?}");
    cache.clear().await.expect("clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_misses_run_the_loader_once_when_embedded() {
    let cache = Cache::embedded(CacheConfig::default()).expect("embedded");
    let (loads, results) = storm(&cache, "exam:1:questions", 200).await;
    assert_eq!(loads, 1);
    assert!(results.iter().all(|r| r.as_deref() == Ok("the paper")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_is_shared_by_its_waiters_and_not_cached() {
    let cache = connect(test_config()).await;
    let loads = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let cache = cache.clone();
        let loads = Arc::clone(&loads);
        tasks.push(tokio::spawn(async move {
            cache
                .get_or_set("exam:2", Duration::from_secs(60), || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    Err::<String, _>("database down".to_owned())
                })
                .await
        }));
    }
    for task in tasks {
        let result = task.await.expect("task");
        assert_eq!(
            result.map_err(|e| e.as_str().to_owned()),
            Err("database down".into())
        );
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().load_errors, 1);

    let value = cache
        .get_or_set("exam:2", Duration::from_secs(60), || async {
            Ok::<_, String>("recovered".to_owned())
        })
        .await;
    assert_eq!(value.as_deref(), Ok("recovered"), "the error was cached");
    cache.clear().await.expect("clear");
}

#[tokio::test]
async fn a_cancelled_leader_does_not_strand_its_waiters() {
    let cache = Cache::embedded(CacheConfig::default()).expect("embedded");
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_set("k", Duration::from_secs(60), || async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok::<_, String>(1_u32)
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiter = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_set("k", Duration::from_secs(60), || async {
                    Ok::<_, String>(2_u32)
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("waiter stranded")
        .expect("task");
    assert_eq!(got.ok(), Some(2));
}
