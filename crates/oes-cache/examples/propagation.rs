//! Measures how long a delete on one cache instance takes to reach another instance's L1.
//!
//! `cargo run --release -p oes-cache --example propagation [ROUNDS]`
//! Needs Redis at OES_TEST_REDIS_URL (default redis://127.0.0.1:6379); uses its own namespace
//! and clears it at the end.

use std::time::{Duration, Instant};

use oes_cache::{Cache, CacheConfig};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(500);
    let url =
        std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cfg = CacheConfig {
        namespace: format!("oes-cache-propagation:{}:", uuid::Uuid::new_v4()),
        redis_timeout: Duration::from_secs(1),
        ..CacheConfig::default()
    };
    let a = Cache::connect(&url, cfg.clone()).await?;
    let b = Cache::connect(&url, cfg).await?;
    if !(a.is_redis_connected() && b.is_redis_connected()) {
        return Err("Redis is not reachable".into());
    }

    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let key = format!("exam:{round}");
        let received = b.stats().invalidations_received;
        a.set(&key, &round, Duration::from_secs(60)).await?;
        // Let the set's own invalidation land before b fills its L1.
        while b.stats().invalidations_received == received {
            tokio::task::yield_now().await;
        }
        b.get::<usize>(&key).await.ok_or("b missed")?;
        let hits = b.stats().l1_hits;
        b.get::<usize>(&key).await.ok_or("b missed")?;
        if b.stats().l1_hits == hits {
            return Err("b did not serve from L1".into());
        }

        let started = Instant::now();
        a.delete(&key).await?;
        while b.get::<usize>(&key).await.is_some() {
            if started.elapsed() > Duration::from_secs(2) {
                return Err(format!("round {round}: delete not seen within 2 s").into());
            }
            tokio::task::yield_now().await;
        }
        samples.push(started.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize];
    println!(
        "delete on A -> gone from B's L1, {rounds} rounds: min {:?}, median {:?}, p99 {:?}, max {:?}",
        samples[0],
        pct(0.5),
        pct(0.99),
        samples[samples.len() - 1]
    );
    a.clear().await?;
    a.shutdown().await;
    b.shutdown().await;
    Ok(())
}
