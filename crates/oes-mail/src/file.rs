use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use crate::MailError;

/// Writes each message as an `.eml` file: the embedded default, so a developer can open
/// what would have been sent.
///
/// Names look like `20261126T014051.123456Z-000001-3f2a9c1e.eml`: UTC time first so `ls`
/// sorts them by time, then a per-mailer sequence number to order messages sent within the
/// same microsecond, then random hex so that several processes sharing the directory never
/// collide. Files appear atomically (written under a dot-name, then renamed).
pub(crate) struct FileTransport {
    dir: PathBuf,
    sequence: AtomicU64,
}

impl FileTransport {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            sequence: AtomicU64::new(0),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) async fn send(&self, raw: &[u8]) -> Result<PathBuf, MailError> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed) % 1_000_000;
        let random = uuid::Uuid::new_v4().simple().to_string();
        let name = format!(
            "{}-{sequence:06}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            &random[..8]
        );
        let path = self.dir.join(&name);
        let partial = self.dir.join(format!(".{name}.partial"));
        tokio::fs::write(&partial, raw).await?;
        if let Err(err) = tokio::fs::rename(&partial, &path).await {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(err.into());
        }
        Ok(path)
    }
}
