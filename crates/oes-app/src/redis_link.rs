//! The app's Redis connection, which may be absent at start-up.
//!
//! Redis accelerates and distributes; it is never required to serve. When `REDIS_URL` is set but
//! Redis is unreachable, the process starts anyway in a degraded mode, logs it loudly, and keeps
//! trying in the background; the readiness probe reports the state meanwhile.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::sync::{RwLock, watch};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedisState {
    /// No Redis configured: embedded mode.
    Disabled,
    Up,
    Down,
}

#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

struct Inner {
    client: Option<redis::Client>,
    conn: RwLock<Option<ConnectionManager>>,
    connected_tx: watch::Sender<bool>,
    reconnect: std::sync::Mutex<Option<JoinHandle<()>>>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_EVERY: Duration = Duration::from_secs(1);

impl RedisLink {
    /// Embedded mode: no Redis at all.
    pub fn disabled() -> Self {
        let (connected_tx, _) = watch::channel(false);
        RedisLink {
            inner: Arc::new(Inner {
                client: None,
                conn: RwLock::new(None),
                connected_tx,
                reconnect: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Connects, or starts degraded and reconnects in the background. Fails only for a URL that
    /// cannot be a Redis URL at all.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (connected_tx, _) = watch::channel(false);
        let link = RedisLink {
            inner: Arc::new(Inner {
                client: Some(client),
                conn: RwLock::new(None),
                connected_tx,
                reconnect: std::sync::Mutex::new(None),
            }),
        };
        if !link.try_connect().await {
            tracing::error!(
                "REDIS IS UNREACHABLE: starting in degraded mode (cache in memory only, queued \
                 work kept in the database); reconnecting in the background"
            );
            let again = link.clone();
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RETRY_EVERY).await;
                    if again.try_connect().await {
                        tracing::info!("redis is reachable again: leaving degraded mode");
                        break;
                    }
                }
            });
            if let Ok(mut slot) = link.inner.reconnect.lock() {
                *slot = Some(task);
            }
        }
        Ok(link)
    }

    async fn try_connect(&self) -> bool {
        let Some(client) = &self.inner.client else {
            return false;
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(Duration::from_secs(2)));
        match tokio::time::timeout(
            CONNECT_TIMEOUT * 2,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        {
            Ok(Ok(conn)) => {
                *self.inner.conn.write().await = Some(conn);
                self.inner.connected_tx.send_replace(true);
                true
            }
            _ => false,
        }
    }

    pub fn is_configured(&self) -> bool {
        self.inner.client.is_some()
    }

    /// The connection, once one has been made; `ConnectionManager` reconnects by itself after.
    pub async fn connection(&self) -> Option<ConnectionManager> {
        self.inner.conn.read().await.clone()
    }

    /// Resolves when the first connection is made (used to start Redis-backed services late).
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.inner.connected_tx.subscribe()
    }

    /// Pings with a short timeout; the readiness probe's view of Redis.
    pub async fn state(&self) -> RedisState {
        if !self.is_configured() {
            return RedisState::Disabled;
        }
        let Some(mut conn) = self.connection().await else {
            return RedisState::Down;
        };
        let ping = async {
            let reply: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
            reply
        };
        match tokio::time::timeout(Duration::from_millis(500), ping).await {
            Ok(Ok(_)) => RedisState::Up,
            _ => RedisState::Down,
        }
    }

    /// Stops reconnecting and drops the connection.
    pub async fn close(&self) {
        if let Ok(mut slot) = self.inner.reconnect.lock()
            && let Some(task) = slot.take()
        {
            task.abort();
        }
        self.inner.conn.write().await.take();
    }
}
