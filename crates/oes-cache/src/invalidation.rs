//! Cross-process L1 coherence over Redis pub/sub.
//!
//! Every write publishes the keys it changed on `{namespace}__invalidations`; every process
//! subscribes on a connection of its own and drops those keys from its L1. Messages carry the
//! sender's instance id so a process skips its own (it has already applied them).
//!
//! Pub/sub is fire-and-forget: while the subscription is down, messages are lost. So whenever
//! the subscription is (re)established the whole L1 is dropped; until then, entries live at
//! most `l1_max_ttl`, which bounds how stale a process can serve.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use redis::aio::{ConnectionManager, PubSubSink, PubSubStream};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::Cache;
use crate::error::CacheError;
use crate::shared::Shared;
use crate::stats::bump;

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A silently dead TCP connection (no RST) is only noticed by writing to it.
const KEEPALIVE: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Message {
    /// Instance id of the sender.
    pub src: String,
    /// Relative keys to drop.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Drop everything (after `clear`).
    #[serde(default)]
    pub all: bool,
}

/// State of the invalidation subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// No attempt has finished yet.
    Pending,
    Up,
    Down,
}

pub(crate) fn channel(namespace: &str) -> String {
    format!("{namespace}__invalidations")
}

/// Resolves once shutdown is requested or the cache is dropped.
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

pub(crate) struct Subscriber {
    pub client: redis::Client,
    pub channel: String,
    pub shared: Arc<Shared>,
    pub conn: ConnectionManager,
    pub connect_timeout: Duration,
    pub shutdown: watch::Receiver<bool>,
    pub link: watch::Sender<Link>,
}

impl Subscriber {
    pub async fn run(self) {
        let mut shutdown = self.shutdown.clone();
        let mut backoff = MIN_BACKOFF;
        loop {
            let attempt = tokio::select! {
                () = stopped(&mut shutdown) => return,
                attempt = self.subscribe() => attempt,
            };
            match attempt {
                Ok((sink, stream)) => {
                    backoff = MIN_BACKOFF;
                    self.shared.reset_local().await;
                    bump(&self.shared.counters.l1_resets);
                    self.refresh_command_connection().await;
                    self.link.send_replace(Link::Up);
                    tracing::debug!(channel = %self.channel, "cache invalidation subscription up");
                    let shutting_down = self.listen(&mut shutdown, sink, stream).await;
                    self.link.send_replace(Link::Down);
                    if shutting_down {
                        return;
                    }
                    tracing::warn!(
                        channel = %self.channel,
                        "cache invalidation subscription lost; L1 will be dropped on reconnect"
                    );
                }
                Err(e) => {
                    self.link.send_replace(Link::Down);
                    bump(&self.shared.counters.redis_errors);
                    tracing::debug!(error = %e, "cache invalidation subscription failed");
                }
            }
            tokio::select! {
                () = stopped(&mut shutdown) => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn subscribe(&self) -> Result<(PubSubSink, PubSubStream), String> {
        let connect = async {
            let pubsub = self.client.get_async_pubsub().await?;
            let (mut sink, stream) = pubsub.split();
            sink.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>((sink, stream))
        };
        match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(pair)) => Ok(pair),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {:?}", self.connect_timeout)),
        }
    }

    /// The command connection reconnects lazily; a PING now makes `is_redis_connected` true
    /// again without waiting for the next cache call.
    async fn refresh_command_connection(&self) {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<redis::Value>(&mut conn);
        let ok = matches!(
            tokio::time::timeout(self.connect_timeout, ping).await,
            Ok(Ok(_))
        );
        self.shared.l2_ok.store(ok, Ordering::Relaxed);
    }

    /// Applies messages until the connection ends (false) or shutdown is requested (true).
    async fn listen(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        mut sink: PubSubSink,
        mut stream: PubSubStream,
    ) -> bool {
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        loop {
            tokio::select! {
                () = stopped(shutdown) => return true,
                msg = stream.next() => match msg {
                    Some(msg) => self.apply(msg.get_payload_bytes()).await,
                    None => return false,
                },
                _ = keepalive.tick() => {
                    let ping = sink.ping::<redis::Value>();
                    if !matches!(tokio::time::timeout(self.connect_timeout, ping).await, Ok(Ok(_))) {
                        return false;
                    }
                }
            }
        }
    }

    async fn apply(&self, payload: &[u8]) {
        match serde_json::from_slice::<Message>(payload) {
            Ok(msg) if msg.src == self.shared.instance_id => {}
            Ok(msg) => {
                if msg.all {
                    self.shared.reset_local().await;
                } else {
                    self.shared.invalidate_local(&msg.keys).await;
                }
                bump(&self.shared.counters.invalidations_received);
            }
            Err(e) => {
                // Someone speaks another format on our channel; dropping L1 is always safe.
                tracing::warn!(error = %e, "unreadable cache invalidation message; dropping L1");
                self.shared.reset_local().await;
            }
        }
    }
}

impl Cache {
    pub(crate) async fn publish<K: AsRef<str>>(&self, keys: &[K]) -> Result<(), CacheError> {
        self.publish_message(&Message {
            src: self.inner.shared.instance_id.clone(),
            keys: keys.iter().map(|k| k.as_ref().to_owned()).collect(),
            all: false,
        })
        .await
    }

    pub(crate) async fn publish_message(&self, msg: &Message) -> Result<(), CacheError> {
        let Some(remote) = &self.inner.remote else {
            return Ok(());
        };
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&remote.channel).arg(serde_json::to_vec(msg)?);
        self.run::<()>(remote, &cmd, self.inner.cfg.redis_timeout)
            .await?;
        bump(&self.inner.shared.counters.invalidations_sent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_tolerate_missing_fields() {
        let msg = Message {
            src: "a".into(),
            keys: vec!["exam:1".into()],
            all: false,
        };
        let json = serde_json::to_vec(&msg).expect("encode");
        assert_eq!(
            serde_json::from_slice::<Message>(&json).expect("decode"),
            msg
        );
        let all: Message = serde_json::from_str(r#"{"src":"b","all":true}"#).expect("decode");
        assert!(all.all && all.keys.is_empty());
    }
}
