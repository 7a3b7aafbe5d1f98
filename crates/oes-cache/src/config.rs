use std::time::Duration;

use crate::CacheError;

/// How big the in-process tier may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L1Capacity {
    /// At most this many entries. `Entries(0)` turns the L1 tier off.
    Entries(u64),
    /// At most about this many bytes of JSON (plus key lengths). `Bytes(0)` turns L1 off.
    Bytes(u64),
}

/// Cache settings. `CacheConfig::default()` is a sensible production start.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// Prefix of every Redis key and of the invalidation channel. Must be non-empty and must not
    /// start with `bull:` (the job queues' prefix), because `clear` deletes everything under it.
    pub namespace: String,
    /// TTL used by callers that have no better idea ([`Cache::default_ttl`](crate::Cache::default_ttl)).
    pub default_ttl: Duration,
    /// Bound of the in-process tier.
    pub l1_capacity: L1Capacity,
    /// Longest time an entry stays in L1, whatever its TTL. The safety net should an
    /// invalidation message ever be lost; `Duration::ZERO` turns the L1 tier off.
    pub l1_max_ttl: Duration,
    /// TTLs written to Redis are spread by ± this percentage so entries filled together do not
    /// all expire together. Clamped to 50.
    pub jitter_pct: u8,
    /// A Redis call slower than this is abandoned and counted as a miss (fail-open).
    pub redis_timeout: Duration,
    /// How long `get_or_set_opt` remembers a "not found". `Duration::ZERO` disables it.
    pub negative_ttl: Duration,
    /// How long `Cache::connect` waits for Redis before returning a cache that keeps
    /// trying in the background; also the timeout of each connection attempt.
    pub connect_timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            namespace: "oes:cache:".to_owned(),
            default_ttl: Duration::from_secs(3600),
            l1_capacity: L1Capacity::Entries(10_000),
            l1_max_ttl: Duration::from_secs(30),
            jitter_pct: 5,
            redis_timeout: Duration::from_millis(50),
            negative_ttl: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

impl CacheConfig {
    pub(crate) fn validate(&self) -> Result<(), CacheError> {
        if self.namespace.is_empty() {
            return Err(CacheError::InvalidConfig(
                "namespace must not be empty: clear() would delete the whole database".into(),
            ));
        }
        if self.namespace.starts_with("bull:") {
            return Err(CacheError::InvalidConfig(
                "namespace must not start with `bull:`, the job queues' prefix".into(),
            ));
        }
        if self.redis_timeout.is_zero() {
            return Err(CacheError::InvalidConfig(
                "redis_timeout must be positive".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn l1_enabled(&self) -> bool {
        let capacity = match self.l1_capacity {
            L1Capacity::Entries(n) | L1Capacity::Bytes(n) => n,
        };
        capacity > 0 && !self.l1_max_ttl.is_zero()
    }

    /// `ttl` spread by ± `jitter_pct` percent, never below one millisecond.
    pub(crate) fn jittered(&self, ttl: Duration) -> Duration {
        let pct = f64::from(self.jitter_pct.min(50)) / 100.0;
        let factor = if pct > 0.0 {
            1.0 + rand::random_range(-pct..=pct)
        } else {
            1.0
        };
        ttl.mul_f64(factor).max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_the_configured_percentage() {
        let cfg = CacheConfig {
            jitter_pct: 10,
            ..CacheConfig::default()
        };
        let base = Duration::from_secs(1000);
        let seen: Vec<Duration> = (0..1000).map(|_| cfg.jittered(base)).collect();
        assert!(seen.iter().all(|d| *d >= Duration::from_secs(900)));
        assert!(seen.iter().all(|d| *d <= Duration::from_secs(1100)));
        assert!(
            seen.iter().any(|d| *d != base),
            "jitter never moved the TTL"
        );
    }

    #[test]
    fn empty_and_bull_namespaces_are_refused() {
        for namespace in ["", "bull:", "bull:cache:"] {
            let cfg = CacheConfig {
                namespace: namespace.into(),
                ..CacheConfig::default()
            };
            assert!(cfg.validate().is_err(), "{namespace:?} accepted");
        }
        assert!(CacheConfig::default().validate().is_ok());
    }

    #[test]
    fn zero_capacity_or_zero_l1_ttl_turns_l1_off() {
        let mut cfg = CacheConfig::default();
        assert!(cfg.l1_enabled());
        cfg.l1_capacity = L1Capacity::Bytes(0);
        assert!(!cfg.l1_enabled());
        cfg.l1_capacity = L1Capacity::Entries(10);
        cfg.l1_max_ttl = Duration::ZERO;
        assert!(!cfg.l1_enabled());
    }
}
