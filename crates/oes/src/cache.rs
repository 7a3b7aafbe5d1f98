//! `oes cache stats | clear`: the cache namespace (`CACHE_NAMESPACE`) on `CACHE_REDIS_URL`.
//!
//! Hit and miss counters are per process (see `/metrics` of each server); what a separate
//! process can see is the shared tier: how many keys the namespace holds and how Redis is set.

use oes_app::Config;

use crate::AnyError;

#[derive(clap::Subcommand)]
pub enum CacheCommand {
    /// Keys in the namespace, Redis memory and eviction policy.
    Stats,
    /// Removes every key of the namespace (and nothing else) and empties the in-process tier of
    /// the running servers.
    Clear,
}

pub async fn run(config: Config, command: CacheCommand) -> Result<(), AnyError> {
    let namespace = config.redis.cache_namespace.clone();
    let Some(url) = config.redis.cache_url.clone() else {
        println!(
            "cache: in-process only (no CACHE_REDIS_URL or REDIS_URL): it lives inside each serving process; restart it to empty it"
        );
        return Ok(());
    };
    let cache = oes_cache::Cache::connect(
        &url,
        oes_cache::CacheConfig {
            namespace: namespace.clone(),
            redis_timeout: std::time::Duration::from_secs(5),
            ..oes_cache::CacheConfig::default()
        },
    )
    .await?;
    let outcome = match command {
        CacheCommand::Stats => stats(&cache, &namespace).await,
        CacheCommand::Clear => cache.clear().await.map_err(AnyError::from).map(|removed| {
            println!("cache namespace `{namespace}` cleared: {removed} keys removed");
        }),
    };
    cache.shutdown().await;
    outcome
}

async fn stats(cache: &oes_cache::Cache, namespace: &str) -> Result<(), AnyError> {
    let keys = cache.key_count().await?.unwrap_or(0);
    let mut conn = cache
        .redis_connection()
        .ok_or("the cache has no Redis connection")?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or("?")
            .trim()
            .to_owned()
    };
    println!("cache namespace `{namespace}`: {keys} keys");
    println!(
        "redis memory: used {} (maxmemory {}, policy {})",
        field("used_memory_human"),
        field("maxmemory_human"),
        field("maxmemory_policy")
    );
    Ok(())
}
