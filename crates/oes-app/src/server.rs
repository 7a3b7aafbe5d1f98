//! The process lifecycle: start-up in dependency order, graceful shutdown in reverse.
//!
//! Start-up: database → Redis → mail → queues and workers → schedulers → HTTP (mail comes
//! before the workers that send it). Each step logs
//! what started and in which mode. A failed step releases what the earlier steps started and
//! returns the cause. Shutdown (SIGINT or SIGTERM): stop accepting connections and let in-flight
//! requests finish (bounded by `SHUTDOWN_TIMEOUT_SECS`), let workers finish their active jobs
//! (bounded by `WORKER_SHUTDOWN_TIMEOUT_SECS`), then close Redis and the database. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the trace export starts with HTTP and is flushed once
//! HTTP has stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::db::{Backend, Db, DbError};
use crate::email::{EmailPolicy, Emails};
use crate::queue::JobRuntime;
use crate::rate_limit::{BlockingGate, RateLimiter};
use crate::redis_link::RedisLink;
use crate::state::AppState;
use crate::telemetry::{TraceExport, TraceExportError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("redis: {0}")]
    Redis(String),
    #[error("cache: {0}")]
    Cache(#[from] oes_cache::CacheError),
    #[error("mail: {0}")]
    Mail(#[from] oes_mail::MailError),
    #[error(transparent)]
    TraceExport(#[from] TraceExportError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The services both `serve` and `worker` run: everything below HTTP.
pub struct Services {
    pub state: AppState,
    schedulers: Vec<JoinHandle<()>>,
}

impl Services {
    /// Starts the database and Redis, in that order.
    pub async fn start(config: Config) -> Result<Self, StartupError> {
        let config = Arc::new(config);
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }

        let db = Db::connect(&config.database.url, config.database.max_connections).await?;
        if (db.backend() == Backend::Sqlite || config.database.auto_migrate)
            && let Err(e) = db.migrate().await
        {
            db.close().await;
            return Err(e.into());
        }
        tracing::info!(backend = db.backend().name(), "database started");

        let redis = match &config.redis.url {
            None => {
                tracing::info!("redis not configured: embedded mode (in-process cache and jobs)");
                RedisLink::disabled()
            }
            Some(url) => match RedisLink::connect(url).await {
                Ok(link) => {
                    tracing::info!("redis mode: cache and queues on Redis");
                    link
                }
                Err(e) => {
                    db.close().await;
                    // The error text of redis-rs does not include the URL's password.
                    return Err(StartupError::Redis(e.to_string()));
                }
            },
        };

        let cache_config = oes_cache::CacheConfig {
            namespace: config.redis.cache_namespace.clone(),
            redis_timeout: config.redis.cache_timeout,
            ..oes_cache::CacheConfig::default()
        };
        let cache = match &config.redis.cache_url {
            None => oes_cache::Cache::embedded(cache_config),
            Some(url) => oes_cache::Cache::connect(url, cache_config).await,
        };
        let cache = match cache {
            Ok(c) => c,
            Err(e) => {
                redis.close().await;
                db.close().await;
                return Err(e.into());
            }
        };
        tracing::info!(
            tier = if config.redis.cache_url.is_some() {
                "memory + redis"
            } else {
                "memory"
            },
            "cache started"
        );

        let mailer =
            match oes_mail::Mailer::from_url(config.mail.smtp_url.as_deref(), &config.mail.dir) {
                Ok(m) => m,
                Err(e) => {
                    cache.shutdown().await;
                    redis.close().await;
                    db.close().await;
                    return Err(e.into());
                }
            };
        tracing::info!(transport = %mailer.describe(), "mail started");

        let jobs = match &config.redis.url {
            None => JobRuntime::embedded(config.queues.run_workers),
            Some(url) => JobRuntime::redis(
                url,
                &config.queues.prefix,
                &redis,
                config.queues.run_workers,
            ),
        };
        let policy = EmailPolicy {
            attempts: config.mail.email_attempts,
            backoff: oes_jobs::Backoff::Exponential {
                initial: config.mail.email_backoff,
            },
            ..EmailPolicy::default()
        };
        let emails = Emails::new(
            db.clone(),
            jobs.clone(),
            mailer,
            config.mail.from.clone(),
            policy,
        );
        let rate_limiter = RateLimiter::new(
            redis.clone(),
            format!("{}rl:", config.redis.cache_namespace),
        );
        let password_hashing = BlockingGate::new(
            config.accounts.hash_concurrency,
            config.accounts.hash_queue,
            // Queue places free up as each hash ends, many times a second, so a short wait suffices.
            std::time::Duration::from_secs(1),
        );
        let state = AppState {
            config,
            db,
            redis,
            cache,
            jobs,
            emails,
            rate_limiter,
            password_hashing,
            exam_stats: Default::default(),
        };

        crate::jobs::register_all(&state).await;
        state.jobs.start().await;
        tracing::info!(
            mode = if state.jobs.is_embedded() {
                "embedded"
            } else {
                "redis"
            },
            workers = state.config.queues.run_workers,
            "queues started"
        );

        // Schedulers: the sweeps that make queued work durable across Redis and process loss.
        let schedulers = crate::sweeps::spawn_all(&state);
        tracing::info!("schedulers started (outbox relay, attempt sweep, notification resume)");
        Ok(Services { state, schedulers })
    }

    /// Stops in reverse order: schedulers, workers (bounded), mail, Redis, the database.
    pub async fn stop(self) {
        for task in &self.schedulers {
            task.abort();
        }
        self.state
            .jobs
            .shutdown(self.state.config.queues.worker_shutdown_timeout)
            .await;
        self.state.emails.mailer().shutdown().await;
        self.state.cache.shutdown().await;
        self.state.redis.close().await;
        tracing::info!("redis closed");
        self.state.db.close().await;
        tracing::info!("database closed");
    }
}

/// A started server: HTTP is accepting connections on `local_addr`.
pub struct RunningServer {
    local_addr: SocketAddr,
    services: Services,
    trace_export: Option<TraceExport>,
    stop_http: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Starts every service, then binds HTTP (port 0 picks a free port).
    pub async fn start(
        config: Config,
        extra_routes: Router<AppState>,
    ) -> Result<Self, StartupError> {
        let services = Services::start(config).await?;
        let http_cfg = &services.state.config.http;
        let addr = SocketAddr::new(http_cfg.host, http_cfg.port);
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(source) => {
                services.stop().await;
                return Err(StartupError::Bind { addr, source });
            }
        };
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let trace_export = match &services.state.config.observability.otlp_endpoint {
            None => None,
            Some(endpoint) => {
                match TraceExport::start(endpoint, services.state.config.observability.log_format) {
                    Ok(export) => Some(export),
                    Err(e) => {
                        services.stop().await;
                        return Err(e.into());
                    }
                }
            }
        };
        let mut app = crate::http::router(services.state.clone(), extra_routes);
        if let Some(export) = &trace_export {
            app = crate::http::with_trace_export(app, export.dispatch());
            tracing::info!("trace export started (OTLP/HTTP)");
        }
        let (stop_http, mut stop_rx) = watch::channel(false);
        let http = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .await
        });
        tracing::info!(%local_addr, "http listening");
        Ok(RunningServer {
            local_addr,
            services,
            trace_export,
            stop_http,
            http,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &AppState {
        &self.services.state
    }

    /// Serves until `signal` resolves, then shuts down in reverse order.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        let RunningServer {
            services,
            trace_export,
            stop_http,
            mut http,
            ..
        } = self;
        let result = tokio::select! {
            r = &mut http => Some(r),
            () = signal => None,
        };
        let outcome = match result {
            // The server stopped by itself: an I/O failure on the listener.
            Some(r) => r.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => {
                tracing::info!(
                    "shutdown: no longer accepting connections; finishing in-flight requests"
                );
                stop_http.send_replace(true);
                let grace = services.state.config.http.shutdown_timeout;
                match tokio::time::timeout(grace, &mut http).await {
                    Ok(r) => r.unwrap_or_else(|e| Err(std::io::Error::other(e))),
                    Err(_) => {
                        tracing::warn!(
                            ?grace,
                            "in-flight requests still running after the grace period: abandoning them"
                        );
                        http.abort();
                        Ok(())
                    }
                }
            }
        };
        // After HTTP: the last requests' spans are complete and go out in this flush.
        if let Some(export) = trace_export {
            export.shutdown().await;
        }
        services.stop().await;
        tracing::info!("shutdown complete");
        outcome
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
