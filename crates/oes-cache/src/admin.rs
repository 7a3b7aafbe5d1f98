//! Whole-namespace operations: `clear` and `key_count`, both walking the namespace with SCAN
//! so they never block Redis or touch keys outside it (the job queues share the database).

use crate::Cache;
use crate::error::CacheError;
use crate::invalidation::Message;
use crate::l2::{ADMIN_TIMEOUT, Remote};

/// Keys per SCAN step and UNLINK batch in `clear`.
const CLEAR_BATCH: usize = 1000;

impl Cache {
    /// Deletes every key of the namespace — and nothing else — in batches (SCAN MATCH +
    /// UNLINK, never FLUSHDB or KEYS), empties L1 here and in the other processes. Returns how
    /// many Redis keys were removed (L1 entries when embedded).
    pub async fn clear(&self) -> Result<u64, CacheError> {
        let shared = &self.inner.shared;
        let Some(remote) = &self.inner.remote else {
            let removed = match shared.l1() {
                Some(l1) => {
                    l1.run_pending_tasks().await;
                    l1.entry_count()
                }
                None => 0,
            };
            shared.reset_local().await;
            return Ok(removed);
        };
        shared.reset_local().await;
        let mut cursor: u64 = 0;
        let mut removed = 0;
        loop {
            let (next, found) = self.scan_namespace(remote, cursor).await?;
            for batch in found.chunks(CLEAR_BATCH) {
                let mut unlink = redis::cmd("UNLINK");
                unlink.arg(batch);
                removed += self.run::<u64>(remote, &unlink, ADMIN_TIMEOUT).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        shared.reset_local().await;
        self.publish_message(&Message {
            src: shared.instance_id.clone(),
            keys: Vec::new(),
            all: true,
        })
        .await?;
        Ok(removed)
    }

    /// How many keys the namespace holds in Redis (`None` without Redis: the in-process tier
    /// belongs to each process). Counted incrementally with SCAN, like `clear`.
    pub async fn key_count(&self) -> Result<Option<u64>, CacheError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(None);
        };
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let (next, found) = self.scan_namespace(remote, cursor).await?;
            count += found.len() as u64;
            if next == 0 {
                return Ok(Some(count));
            }
            cursor = next;
        }
    }

    /// One SCAN page of the namespace's keys: the next cursor (0 when done) and the keys.
    async fn scan_namespace(
        &self,
        remote: &Remote,
        cursor: u64,
    ) -> Result<(u64, Vec<Vec<u8>>), CacheError> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", glob_escape(&self.inner.cfg.namespace)))
            .arg("COUNT")
            .arg(CLEAR_BATCH);
        self.run(remote, &scan, ADMIN_TIMEOUT).await
    }
}

/// Escapes Redis glob metacharacters so a namespace like `a*b:` matches only itself.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_escape_neutralises_metacharacters() {
        assert_eq!(glob_escape("oes:cache:"), "oes:cache:");
        assert_eq!(glob_escape(r"a*b?[c]\"), r"a\*b\?\[c\]\\");
    }
}
