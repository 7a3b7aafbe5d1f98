mod common;

use common::{connect, raw_connection, redis_url, test_config};

async fn fill(conn: &mut redis::aio::MultiplexedConnection, keys: &[String]) {
    for chunk in keys.chunks(1000) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("SET")
                .arg(key)
                .arg("1")
                .arg("EX")
                .arg(600)
                .ignore();
        }
        let _: () = pipe.query_async(conn).await.expect("fill");
    }
}

async fn count(conn: &mut redis::aio::MultiplexedConnection, keys: &[String]) -> u64 {
    let mut total = 0;
    for chunk in keys.chunks(1000) {
        let n: u64 = redis::cmd("EXISTS")
            .arg(chunk)
            .query_async(conn)
            .await
            .expect("exists");
        total += n;
    }
    total
}

async fn remove(conn: &mut redis::aio::MultiplexedConnection, keys: &[String]) {
    for chunk in keys.chunks(1000) {
        let _: u64 = redis::cmd("UNLINK")
            .arg(chunk)
            .query_async(conn)
            .await
            .expect("unlink");
    }
}

#[tokio::test]
async fn clear_deletes_the_namespace_and_leaves_bull_and_other_prefixes_untouched() {
    let id = uuid::Uuid::new_v4();
    let mut cfg = test_config();
    // Glob metacharacters in the namespace must match literally, not as a pattern.
    cfg.namespace = format!("oes-cache-test:{id}:*[x]:");
    let cache = connect(cfg).await;
    let mut raw = raw_connection(&redis_url()).await;

    let ours: Vec<String> = (0..10_500)
        .map(|i| cache.namespaced(&format!("k:{i}")))
        .collect();
    let bull: Vec<String> = (0..1_000)
        .map(|i| format!("bull:oes-cache-test-{id}:{i}"))
        .collect();
    let others: Vec<String> = (0..500)
        .map(|i| format!("oes-cache-test:{id}:ax]:{i}"))
        .chain((0..500).map(|i| format!("oes-cache-test:{id}:other:{i}")))
        .chain(std::iter::once(format!("oes-cache-test:{id}:*[x]")))
        .collect();
    fill(&mut raw, &ours).await;
    fill(&mut raw, &bull).await;
    fill(&mut raw, &others).await;
    cache
        .set("typed", &"through the API".to_owned(), cache.default_ttl())
        .await
        .expect("set");

    let removed = cache.clear().await.expect("clear");

    assert_eq!(removed, 10_501);
    assert_eq!(count(&mut raw, &ours).await, 0);
    assert_eq!(
        cache.get::<String>("typed").await,
        None,
        "L1 survived clear"
    );
    assert_eq!(count(&mut raw, &bull).await, 1_000, "clear touched bull:*");
    assert_eq!(
        count(&mut raw, &others).await,
        others.len() as u64,
        "clear touched keys outside its namespace"
    );
    remove(&mut raw, &bull).await;
    remove(&mut raw, &others).await;
}

#[tokio::test]
async fn clear_empties_the_l1_of_other_instances() {
    let cfg = test_config();
    let a = connect(cfg.clone()).await;
    let b = connect(cfg).await;
    a.set("k", &5_u8, a.default_ttl()).await.expect("set");
    assert_eq!(b.get::<u8>("k").await, Some(5));
    // Re-create the key behind the caches' backs so only L1 could still answer 5.
    let mut raw = raw_connection(&redis_url()).await;
    a.clear().await.expect("clear");
    let _: () = redis::cmd("SET")
        .arg(a.namespaced("k"))
        .arg("6")
        .query_async(&mut raw)
        .await
        .expect("raw set");
    let mut seen = None;
    for _ in 0..200 {
        seen = b.get::<u8>("k").await;
        if seen == Some(6) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(seen, Some(6), "b kept serving its L1 copy after a.clear()");
    a.clear().await.expect("clear");
}
