//! The Redis tier: the command connection, reads with their remaining TTL, and every command
//! run under a deadline so a slow Redis turns into a counted miss rather than a stall.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;

use crate::Cache;
use crate::error::CacheError;
use crate::stats::bump;

/// Timeout of administrative calls (`clear`'s SCAN/UNLINK batches) and the command
/// connection's own response timeout; hot-path calls use the shorter `redis_timeout`.
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Remote {
    pub(crate) conn: ConnectionManager,
    pub(crate) channel: String,
}

impl Cache {
    /// Raw JSON of `key` from Redis and how long an L1 copy may live (its remaining Redis
    /// TTL, capped by `l1_max_ttl`; zero: do not keep a copy). GET and PTTL go in one
    /// pipeline, so an L2 hit stays one round trip. `None` on a miss, an error or a timeout
    /// (counted).
    pub(crate) async fn l2_get(&self, key: &str) -> Option<(Bytes, Duration)> {
        let remote = self.inner.remote.as_ref()?;
        let full = self.namespaced(key);
        if self.inner.shared.l1().is_none() {
            // No L1 copy will be made, so the TTL is not needed.
            let mut cmd = redis::cmd("GET");
            cmd.arg(&full);
            let found: Option<Vec<u8>> = self
                .run(remote, &cmd, self.inner.cfg.redis_timeout)
                .await
                .ok()?;
            let json = Bytes::from(found?);
            bump(&self.inner.shared.counters.l2_hits);
            return Some((json, Duration::ZERO));
        }
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(&full).cmd("PTTL").arg(&full);
        let (found, pttl): (Option<Vec<u8>>, i64) = self
            .run_pipe(remote, &pipe, self.inner.cfg.redis_timeout)
            .await
            .ok()?;
        let json = Bytes::from(found?);
        bump(&self.inner.shared.counters.l2_hits);
        let max = self.inner.cfg.l1_max_ttl;
        let l1_ttl = match pttl {
            // No expiry (written by someone else without a TTL).
            -1 => max,
            ms if ms > 0 => Duration::from_millis(ms.unsigned_abs()).min(max),
            _ => Duration::ZERO,
        };
        Some((json, l1_ttl))
    }

    pub(crate) async fn run_pipe<T: redis::FromRedisValue>(
        &self,
        remote: &Remote,
        pipe: &redis::Pipeline,
        timeout: Duration,
    ) -> Result<T, CacheError> {
        let mut conn = remote.conn.clone();
        self.deadline(timeout, pipe.query_async::<T>(&mut conn))
            .await
    }

    /// Runs one command with a deadline, counting errors and timeouts.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        remote: &Remote,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, CacheError> {
        let mut conn = remote.conn.clone();
        self.deadline(timeout, cmd.query_async::<T>(&mut conn))
            .await
    }

    async fn deadline<T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheError> {
        let shared = &self.inner.shared;
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(v)) => {
                shared.l2_ok.store(true, Ordering::Relaxed);
                Ok(v)
            }
            Ok(Err(e)) => {
                bump(&shared.counters.redis_errors);
                shared.l2_ok.store(false, Ordering::Relaxed);
                tracing::debug!(error = %e, "cache Redis call failed");
                Err(e.into())
            }
            Err(_) => {
                bump(&shared.counters.redis_timeouts);
                shared.l2_ok.store(false, Ordering::Relaxed);
                Err(CacheError::Timeout(timeout))
            }
        }
    }
}

pub(crate) fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_never_rounds_a_ttl_down_to_zero() {
        assert_eq!(millis(Duration::from_micros(10)), 1);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }
}
