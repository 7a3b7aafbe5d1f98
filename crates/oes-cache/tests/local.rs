//! Entries kept in L1 only (`get_or_set_local`, `set_local`, `forget_local`): never in Redis,
//! dropped in every process by a forget, and not written back by a load that raced one.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{connect, raw_connection, redis_url, test_config, wait_for_invalidations};

const TTL: Duration = Duration::from_secs(60);

/// A loader that counts its runs and returns the count.
fn counting(loads: &Arc<AtomicU32>) -> impl Future<Output = Result<u32, String>> + use<> {
    let loads = Arc::clone(loads);
    async move { Ok(loads.fetch_add(1, Ordering::SeqCst) + 1) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_entry_is_loaded_once_and_never_written_to_redis() {
    let cache = connect(test_config()).await;
    let loads = Arc::new(AtomicU32::new(0));
    for _ in 0..3 {
        let value = cache
            .get_or_set_local("attempt:1:answers", TTL, || counting(&loads))
            .await
            .expect("load");
        assert_eq!(value, 1);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1, "the loader ran once");
    assert_eq!(cache.stats().l1_hits, 2);
    let mut raw = raw_connection(&redis_url()).await;
    let exists: u32 = redis::cmd("EXISTS")
        .arg(cache.namespaced("attempt:1:answers"))
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(exists, 0, "a local entry reached Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forget_in_one_process_drops_the_local_copy_in_another() {
    let cfg = test_config();
    let (a, b) = (connect(cfg.clone()).await, connect(cfg).await);
    let loads = Arc::new(AtomicU32::new(0));
    let first = b
        .get_or_set_local("attempt:2:answers", TTL, || counting(&loads))
        .await
        .expect("load");
    assert_eq!(first, 1);

    a.forget_local("attempt:2:answers").await.expect("forget");
    wait_for_invalidations(&b, 1).await;
    let after = b
        .get_or_set_local("attempt:2:answers", TTL, || counting(&loads))
        .await
        .expect("load");
    assert_eq!(after, 2, "b served its copy after a's forget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_raced_a_forget_is_returned_but_not_kept() {
    let cache = connect(test_config()).await;
    let (read_done, read_seen) = tokio::sync::oneshot::channel::<()>();
    let (go_on, wait) = tokio::sync::oneshot::channel::<()>();
    let loading = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_set_local("attempt:3:answers", TTL, || async move {
                    // The loader has read "old" and is about to return it when the change lands.
                    let _ = read_done.send(());
                    let _ = wait.await;
                    Ok::<_, String>("old".to_owned())
                })
                .await
        })
    };
    read_seen.await.expect("the load began");
    cache
        .forget_local("attempt:3:answers")
        .await
        .expect("forget");
    go_on.send(()).expect("loader waits");
    let raced = loading.await.expect("task").expect("load");
    assert_eq!(raced, "old", "the racing caller still gets what it read");

    let next = cache
        .get_or_set_local("attempt:3:answers", TTL, || async {
            Ok::<_, String>("new".to_owned())
        })
        .await
        .expect("load");
    assert_eq!(next, "new", "the raced load was kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_local_is_served_without_loading_until_another_process_forgets_it() {
    let cfg = test_config();
    let (a, b) = (connect(cfg.clone()).await, connect(cfg).await);
    b.set_local("attempt:4:answers", &7_u32, TTL)
        .await
        .expect("set");
    let loads = Arc::new(AtomicU32::new(100));
    let served = b
        .get_or_set_local("attempt:4:answers", TTL, || counting(&loads))
        .await
        .expect("load");
    assert_eq!(served, 7);
    assert_eq!(
        a.get::<u32>("attempt:4:answers").await,
        None,
        "another process sees nothing"
    );

    a.forget_local("attempt:4:answers").await.expect("forget");
    wait_for_invalidations(&b, 1).await;
    let reloaded = b
        .get_or_set_local("attempt:4:answers", TTL, || counting(&loads))
        .await
        .expect("load");
    assert_eq!(reloaded, 101);
}

#[tokio::test]
async fn without_redis_local_entries_work_in_the_one_process() {
    let cache = oes_cache::Cache::embedded(test_config()).expect("embedded");
    let loads = Arc::new(AtomicU32::new(0));
    for _ in 0..2 {
        let value = cache
            .get_or_set_local("attempt:5:answers", TTL, || counting(&loads))
            .await
            .expect("load");
        assert_eq!(value, 1);
    }
    cache
        .forget_local("attempt:5:answers")
        .await
        .expect("forget");
    let value = cache
        .get_or_set_local("attempt:5:answers", TTL, || counting(&loads))
        .await
        .expect("load");
    assert_eq!(value, 2);
}
