//! L1 hit, L2 hit, the raw Redis GET floor, and a miss with a no-op loader, for 1 KB and
//! 50 KB values. Needs Redis at OES_TEST_REDIS_URL (default redis://127.0.0.1:6379).
//!
//! `cargo bench -p oes-cache -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use oes_cache::{Cache, CacheConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Question {
    id: u64,
    text: String,
    options: Vec<String>,
    points: u32,
}

type Paper = Vec<Question>;

/// A paper whose JSON is at least `bytes` long.
fn paper(bytes: usize) -> Paper {
    let mut paper = Vec::new();
    let mut id = 0;
    while serde_json::to_vec(&paper).map(|j| j.len()).unwrap_or(0) < bytes {
        id += 1;
        paper.push(Question {
            id,
            text: format!(
                "Question {id}: which of the following statements about the topic holds?"
            ),
            options: (1..=4)
                .map(|o| format!("Option {o} of question {id}"))
                .collect(),
            points: 2,
        });
    }
    paper
}

fn redis_url() -> String {
    std::env::var("OES_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn config(l1: bool) -> CacheConfig {
    CacheConfig {
        namespace: format!("oes-cache-bench:{}:", uuid::Uuid::new_v4()),
        // A benchmark wants every call to reach Redis, not a fail-open miss under load.
        redis_timeout: Duration::from_secs(2),
        l1_max_ttl: if l1 {
            Duration::from_secs(600)
        } else {
            Duration::ZERO
        },
        ..CacheConfig::default()
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (two_tier, l2_only) = rt.block_on(async {
        let two_tier = Cache::connect(&redis_url(), config(true))
            .await
            .expect("connect");
        let l2_only = Cache::connect(&redis_url(), config(false))
            .await
            .expect("connect");
        assert!(two_tier.is_redis_connected(), "benchmark needs Redis");
        (two_tier, l2_only)
    });
    let ttl = Duration::from_secs(600);

    let mut group = c.benchmark_group("cache");
    for (label, size) in [("1KB", 1024), ("50KB", 50 * 1024)] {
        let value = paper(size);
        let shared = Arc::new(value.clone());
        let key = format!("exam:{label}:questions");
        let arc_key = format!("exam:{label}:questions:arc");
        rt.block_on(async {
            two_tier.set(&key, &value, ttl).await.expect("set");
            two_tier.set(&arc_key, &shared, ttl).await.expect("set");
            l2_only.set(&key, &value, ttl).await.expect("set");
        });

        group.bench_function(BenchmarkId::new("l1_hit_owned", label), |b| {
            b.to_async(&rt)
                .iter(|| async { two_tier.get::<Paper>(&key).await.expect("hit") });
        });
        group.bench_function(BenchmarkId::new("l1_hit_arc", label), |b| {
            b.to_async(&rt)
                .iter(|| async { two_tier.get::<Arc<Paper>>(&arc_key).await.expect("hit") });
        });
        group.bench_function(BenchmarkId::new("l2_hit", label), |b| {
            b.to_async(&rt)
                .iter(|| async { l2_only.get::<Paper>(&key).await.expect("hit") });
        });
        group.bench_function(BenchmarkId::new("l2_hit_json", label), |b| {
            b.to_async(&rt)
                .iter(|| async { l2_only.get_json(&key).await.expect("hit") });
        });
        let full_key = l2_only.namespaced(&key);
        let conn = l2_only.redis_connection().expect("redis");
        group.bench_function(BenchmarkId::new("raw_get", label), |b| {
            b.to_async(&rt).iter(|| {
                let mut conn = conn.clone();
                let full_key = full_key.clone();
                async move {
                    redis::cmd("GET")
                        .arg(&full_key)
                        .query_async::<Vec<u8>>(&mut conn)
                        .await
                        .expect("raw get")
                }
            });
        });
        group.bench_function(BenchmarkId::new("raw_get_timeout", label), |b| {
            b.to_async(&rt).iter(|| {
                let mut conn = conn.clone();
                let full_key = full_key.clone();
                async move {
                    let cmd = redis::cmd("GET").arg(&full_key).to_owned();
                    tokio::time::timeout(
                        Duration::from_secs(2),
                        cmd.query_async::<Vec<u8>>(&mut conn),
                    )
                    .await
                    .expect("in time")
                    .expect("raw get")
                }
            });
        });
        // What an L2 hit costs when L1 is on: the TTL comes along for the L1 copy.
        group.bench_function(BenchmarkId::new("raw_get_pttl_pipeline", label), |b| {
            b.to_async(&rt).iter(|| {
                let mut conn = conn.clone();
                let full_key = full_key.clone();
                async move {
                    redis::pipe()
                        .cmd("GET")
                        .arg(&full_key)
                        .cmd("PTTL")
                        .arg(&full_key)
                        .query_async::<(Vec<u8>, i64)>(&mut conn)
                        .await
                        .expect("raw pipeline")
                }
            });
        });
        group.bench_function(BenchmarkId::new("raw_get_and_decode", label), |b| {
            b.to_async(&rt).iter(|| {
                let mut conn = conn.clone();
                let full_key = full_key.clone();
                async move {
                    let json = redis::cmd("GET")
                        .arg(&full_key)
                        .query_async::<Vec<u8>>(&mut conn)
                        .await
                        .expect("raw get");
                    serde_json::from_slice::<Paper>(&json).expect("decode")
                }
            });
        });
        // Timed: L1 miss, Redis GET miss, loader, SET, L1 fill. Untimed: the delete that makes
        // the next iteration a miss again.
        group.bench_function(BenchmarkId::new("miss_noop_loader", label), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let cache = two_tier.clone();
                let value = value.clone();
                async move {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let _ = cache
                            .get_or_set("miss", ttl, || async {
                                Ok::<_, std::convert::Infallible>(value.clone())
                            })
                            .await;
                        timed += started.elapsed();
                        cache.delete("miss").await.expect("delete");
                    }
                    timed
                }
            });
        });
    }
    group.finish();

    rt.block_on(async {
        let s = two_tier.stats();
        eprintln!("two-tier stats: {s:?}");
        two_tier.clear().await.expect("clear");
        l2_only.clear().await.expect("clear");
        two_tier.shutdown().await;
        l2_only.shutdown().await;
    });
}

criterion_group!(cache, benches);
criterion_main!(cache);
