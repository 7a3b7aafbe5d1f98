//! Sessions resolved from memory: a request's token is looked up in the cache (L1, then Redis)
//! before the database, and every path that ends a session or changes what a session carries
//! drops the cached copies in every process.
//!
//! - Key: `session:{HMAC(APP_SECRET, token)}`, the hash the database stores; the raw token is
//!   never a key.
//! - Value: the session joined with its user (`SessionUser`, with the session's expiry, checked
//!   on every read so no copy outlives the session whatever its cache TTL).
//! - A token that finds no live session is remembered as such for the cache's negative TTL
//!   (30 s by default): tokens are random, so no "not found" can ever turn into a session.
//! - Revoking all of a user's sessions needs no per-user index or generation counter in the
//!   cache: the database is that index. `revoke_all_for_user` returns the hashes it revoked
//!   (and `live_hashes_for_user` lists them for changes to the user), and those keys are
//!   deleted: UNLINK in Redis, then one pub/sub message that drops them from every process's
//!   L1. Until that message arrives (pub/sub delivery, well under a millisecond on one host),
//!   another process may still serve the copy it holds.
//! - Fail-open: a Redis that is down or slow makes every lookup a database read, never a 500.
//!   An invalidation that could not reach Redis is retried in the background (the local L1 is
//!   dropped at once; other processes drop theirs when their subscription comes back, and in
//!   the meantime keep them at most the cache's `l1_max_ttl`). Every invalidation is also
//!   repeated once a second later, which closes the cache-aside race where another process
//!   read the session before the revocation committed and wrote it back after the delete.

use std::time::Duration;

use oes_cache::Cache;

use super::*;

/// How long after an invalidation it is repeated, and how often a failed one is retried.
const REPEAT_AFTER: Duration = Duration::from_secs(1);

/// The user behind a session token, if the session is live: from the cache when it holds it.
pub async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<Option<sessions::SessionUser>, AccountError> {
    if token.is_empty() || token.len() > 256 {
        return Ok(None);
    }
    let hash = token_hash(secret(state), token);
    let entry = crate::cache_entries::session(&hash);
    let db = &state.db;
    let found = state
        .cache
        .get_or_set_opt(&entry.key, entry.ttl, || sessions::find_live(db, &hash))
        .await
        .map_err(|e| AccountError::Internal(format!("session lookup: {e}")))?;
    Ok(found.filter(|s| s.expires_at > now_ms()))
}

/// Drops the cached copies of these sessions everywhere (see the module doc): now, and again
/// a little later in the background, retrying while Redis refuses.
pub(super) async fn forget_sessions(cache: &Cache, token_hashes: Vec<String>) {
    if token_hashes.is_empty() {
        return;
    }
    let keys: Vec<String> = token_hashes
        .iter()
        .map(|h| crate::cache_entries::session(h).key)
        .collect();
    let first = cache.delete_many(&keys).await;
    if let Err(e) = &first {
        tracing::warn!(
            sessions = keys.len(),
            "session cache not invalidated yet: {e}"
        );
    }
    let cache = cache.clone();
    let give_up = crate::cache_entries::session("").ttl;
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(REPEAT_AFTER).await;
            match cache.delete_many(&keys).await {
                Ok(_) => return,
                // Past the entry's TTL Redis has dropped the copy by itself.
                Err(_) if started.elapsed() > give_up => return,
                Err(_) => {}
            }
        }
    });
}

/// Drops the cached sessions of a user whose name, email or verification just changed, so
/// the next request reads them fresh. Best effort: a failure leaves copies that expire with
/// their TTL, and costs the change nothing.
pub(super) async fn forget_sessions_of(state: &AppState, user_id: UserId) {
    let hashes = async {
        let mut conn = state.db.pool().acquire().await?;
        sessions::live_hashes_for_user(&mut conn, user_id).await
    };
    match hashes.await {
        Ok(hashes) => forget_sessions(&state.cache, hashes).await,
        Err(e) => tracing::warn!(%user_id, "cached sessions not invalidated: {e}"),
    }
}
