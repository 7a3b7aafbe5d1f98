//! Paired comparison of an L2 hit (L1 off) with a raw `GET` on the same connection.
//!
//! On a shared machine, criterion runs of the two minutes apart see different loads; here the
//! two alternate call by call, so both see the same noise, and medians are compared.
//! `cargo run --release -p oes-cache --example l2_overhead [ROUNDS]`

use std::time::{Duration, Instant};

use oes_cache::{Cache, CacheConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
struct Question {
    id: u64,
    text: String,
    options: Vec<String>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20_000);
    let url =
        std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let cache = Cache::connect(
        &url,
        CacheConfig {
            namespace: format!("oes-cache-l2-overhead:{}:", uuid::Uuid::new_v4()),
            redis_timeout: Duration::from_secs(1),
            l1_max_ttl: Duration::ZERO,
            ..CacheConfig::default()
        },
    )
    .await?;
    let mut conn = cache.redis_connection().ok_or("no Redis")?;

    for (label, bytes) in [("1KB", 1024), ("50KB", 50 * 1024)] {
        let mut paper = Vec::new();
        while serde_json::to_vec(&paper)?.len() < bytes {
            let id = paper.len() as u64;
            paper.push(Question {
                id,
                text: format!("Question {id}: which of the following statements holds?"),
                options: (1..=4)
                    .map(|o| format!("Option {o} of question {id}"))
                    .collect(),
            });
        }
        let key = format!("paper:{label}");
        cache.set(&key, &paper, Duration::from_secs(600)).await?;
        let full = cache.namespaced(&key);
        let (mut l2, mut l2_json, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // Rotate the order so no variant always follows the same one.
            for step in 0..3 {
                let t = Instant::now();
                match (round + step) % 3 {
                    0 => {
                        cache.get::<Vec<Question>>(&key).await.ok_or("miss")?;
                        l2.push(t.elapsed());
                    }
                    1 => {
                        cache.get_json(&key).await.ok_or("miss")?;
                        l2_json.push(t.elapsed());
                    }
                    _ => {
                        let _: Vec<u8> =
                            redis::cmd("GET").arg(&full).query_async(&mut conn).await?;
                        raw.push(t.elapsed());
                    }
                }
            }
        }
        let (l2, l2_json, raw) = (median(l2), median(l2_json), median(raw));
        let pct = |d: Duration| (d.as_secs_f64() / raw.as_secs_f64() - 1.0) * 100.0;
        println!(
            "{label} ({} bytes), medians of {rounds}: raw GET {raw:?}; get (GET + decode) {l2:?} ({:+.1} %); get_json {l2_json:?} ({:+.1} %)",
            serde_json::to_vec(&paper)?.len(),
            pct(l2),
            pct(l2_json),
        );
    }
    cache.clear().await?;
    cache.shutdown().await;
    Ok(())
}
