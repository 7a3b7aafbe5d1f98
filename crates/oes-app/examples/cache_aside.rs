//! Cache-aside with the OES cache, in embedded mode (no Redis needed):
//! `cargo run -p oes-app --example cache_aside`.
//!
//! Set `CACHE_REDIS_URL=redis://127.0.0.1:6379` to run the same code on the two-tier cache
//! (in-process L1 in front of Redis). Shows: a miss that loads, hits that do not, twenty
//! concurrent misses that share one load (single flight), negative caching of "not found", and
//! invalidation after a write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use oes_cache::{Cache, CacheConfig, keys};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Exam {
    id: u32,
    title: String,
}

/// Stands in for the database: counts how often it is asked.
struct Database {
    loads: AtomicU32,
}

impl Database {
    async fn exam(&self, id: u32) -> Result<Option<Exam>, String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await; // a query's round trip
        Ok((id < 100).then(|| Exam {
            id,
            title: format!("Exam {id}"),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = CacheConfig {
        namespace: format!("oes-example-{}:", std::process::id()),
        ..CacheConfig::default()
    };
    let cache = match std::env::var("CACHE_REDIS_URL") {
        Ok(url) => Cache::connect(&url, config).await?,
        Err(_) => Cache::embedded(config)?,
    };
    let db = Arc::new(Database {
        loads: AtomicU32::new(0),
    });
    let ttl = Duration::from_secs(3600);

    // 1. A miss loads from the database; the next reads are hits.
    let key = keys::exam("7");
    for _ in 0..3 {
        let exam = cache
            .get_or_set_opt(&key, ttl, || db.exam(7))
            .await
            .map_err(|e| e.to_string())?;
        println!("read {key}: {exam:?}");
    }
    println!("database loads so far: {}", db.loads.load(Ordering::SeqCst));

    // 2. A start storm: twenty readers miss the same key at once; one load serves them all.
    let storm_key = keys::exam_questions("8");
    let readers = (0..20).map(|_| {
        let cache = cache.clone();
        let db = db.clone();
        let key = storm_key.clone();
        tokio::spawn(async move { cache.get_or_set_opt(&key, ttl, || db.exam(8)).await })
    });
    for reader in futures::future::join_all(readers).await {
        reader?.map_err(|e| e.to_string())?;
    }
    println!(
        "after 20 concurrent readers of {storm_key}: database loads {}",
        db.loads.load(Ordering::SeqCst)
    );

    // 3. "Not found" is cached briefly too, so a missing id does not hammer the database.
    for _ in 0..3 {
        let none = cache
            .get_or_set_opt(&keys::exam("404"), ttl, || db.exam(404))
            .await
            .map_err(|e| e.to_string())?;
        assert!(none.is_none());
    }
    println!(
        "three reads of a missing exam: database loads {}",
        db.loads.load(Ordering::SeqCst)
    );

    // 4. A write invalidates; the next read loads the new value.
    cache.delete(&key).await?;
    let again = cache
        .get_or_set_opt(&key, ttl, || db.exam(7))
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "after invalidating {key}: {again:?}, database loads {}",
        db.loads.load(Ordering::SeqCst)
    );

    println!("counters: {:?}", cache.stats());
    cache.clear().await?;
    cache.shutdown().await;
    Ok(())
}
