//! The process lifecycle: start-up in dependency order, graceful shutdown in reverse.
//!
//! Start-up: database → Redis → mail → queues and workers → schedulers → HTTP (mail comes
//! before the workers that send it). Each step logs
//! what started and in which mode. A failed step releases what the earlier steps started and
//! returns the cause. Shutdown (SIGINT or SIGTERM): stop accepting connections and let in-flight
//! requests finish (bounded by `SHUTDOWN_TIMEOUT_SECS`), let workers finish their active jobs
//! (bounded by `WORKER_SHUTDOWN_TIMEOUT_SECS`), then close Redis and the database. When
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the trace export starts with HTTP and is flushed once
//! HTTP has stopped. HTTP runs its own accept loop (`serve`) so that slow or idle clients are
//! bounded: `HTTP_HEADER_READ_TIMEOUT_SECS`, `HTTP_IDLE_TIMEOUT_SECS`, `HTTP_MAX_CONNECTIONS`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::Config;
use crate::db::{Backend, Db, DbError};
use crate::email::{EmailPolicy, Emails, SecretLifetimes};
use crate::queue::JobRuntime;
use crate::rate_limit::{BlockingGate, IdleHook, RateLimiter};
use crate::redis_link::RedisLink;
use crate::service::accounts;
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
            // Each student in an exam holds about four entries (session, attempt, saved answers,
            // their exam list): room for 10,000 students beside the exams and papers.
            l1_capacity: oes_cache::L1Capacity::Entries(50_000),
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
            secret_lifetimes: SecretLifetimes {
                verify_link: config.accounts.verify_link_ttl,
                reset_code: config.accounts.reset_code_ttl,
                email_change_link: config.accounts.email_change_ttl,
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
        let password_hashing = BlockingGate::with_idle_hook(
            config.accounts.hash_concurrency,
            config.accounts.hash_queue,
            // Queue places free up as each hash ends, many times a second, so a short wait suffices.
            std::time::Duration::from_secs(1),
            IdleHook {
                after: accounts::HASH_MEMORY_IDLE,
                run: accounts::release_working_memory,
            },
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
        tracing::info!(
            "schedulers started (outbox relay, attempt sweep, notification resume, paper warm-up)"
        );
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
        let (stop_http, stop_rx) = watch::channel(false);
        let limits = ConnectionLimits::from(http_cfg);
        let http = tokio::spawn(serve(listener, app, limits, stop_rx));
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
        services.stop().await;
        // After HTTP and after the database: a request's span can outlive its response, because
        // the SQLite driver's worker thread holds the span of the statement it last ran until it
        // takes its next command. Closing the pool hands each worker its last command, so every
        // request's span has closed by now and goes out in this flush.
        if let Some(export) = trace_export {
            export.shutdown().await;
        }
        tracing::info!("shutdown complete");
        outcome
    }
}

/// The per-connection bounds of the HTTP server (see [`crate::config::HttpConfig`]).
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: u32,
}

impl From<&crate::config::HttpConfig> for ConnectionLimits {
    fn from(http: &crate::config::HttpConfig) -> Self {
        ConnectionLimits {
            header_read_timeout: http.header_read_timeout,
            idle_timeout: http.idle_timeout,
            max_connections: http.max_connections,
        }
    }
}

/// The accept loop: HTTP/1.1 (as `axum::serve` served it) with a header-read timeout, an idle
/// timeout and a cap on open connections. Once `stop` turns true it accepts no more, asks every
/// connection to finish its in-flight request and close, and returns when all have closed.
/// Connections run in a `JoinSet` owned by this future, so aborting it (the shutdown grace
/// period ran out) drops every connection with it.
async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // Past the cap the loop stops accepting until a slot frees, rather than accepting and
    // closing at once: waiting clients sit in the kernel's listen backlog, which costs this
    // process no descriptor, and are served as soon as the header and idle timeouts (which
    // bound how long any slot can be held without progress) free one. Accept-and-close would
    // spend a descriptor and a syscall per rejected attempt and turn a brief flood into errors
    // for every honest client that arrived during it.
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let mut connections = JoinSet::new();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = accept_within_cap(&listener, &slots) => accepted,
        };
        let (permit, (stream, remote)) = match accepted {
            (permit, Ok(conn)) => (permit, conn),
            (_, Err(e)) if is_per_connection_error(&e) => continue,
            (_, Err(e)) => {
                // Out of descriptors or memory: pause rather than spin on the same error.
                tracing::error!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let connection = serve_connection(
            http1.clone(),
            stream,
            remote,
            app.clone(),
            limits.idle_timeout,
            stop.clone(),
        );
        connections.spawn(async move {
            connection.await;
            drop(permit);
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

async fn accept_within_cap(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (
    Option<OwnedSemaphorePermit>,
    std::io::Result<(TcpStream, SocketAddr)>,
) {
    // The semaphore is never closed, so `ok()` only turns an impossible error into no permit.
    let permit = slots.clone().acquire_owned().await.ok();
    (permit, listener.accept().await)
}

/// Errors that end one connection attempt, not the listener: accept the next one at once.
fn is_per_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Whether a connection has a request in flight, and since when it has had none.
#[derive(Clone, Copy)]
struct Activity {
    in_flight: usize,
    idle_since: Instant,
}

/// Marks a request in flight on its connection until the response is ready (or the request
/// is dropped).
struct InFlight(Arc<watch::Sender<Activity>>);

impl InFlight {
    fn begin(activity: &Arc<watch::Sender<Activity>>) -> InFlight {
        activity.send_modify(|a| a.in_flight += 1);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|a| {
            a.in_flight = a.in_flight.saturating_sub(1);
            a.idle_since = Instant::now();
        });
    }
}

async fn serve_connection(
    http1: hyper::server::conn::http1::Builder,
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    idle_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(watch::Sender::new(Activity {
        in_flight: 0,
        idle_since: Instant::now(),
    }));
    let mut idle = activity.subscribe();
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: axum::http::Request<hyper::body::Incoming>| {
            // Handlers read the client address from here, as with `into_make_service_with_connect_info`.
            request.extensions_mut().insert(ConnectInfo(remote));
            let in_flight = InFlight::begin(&activity);
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(in_flight);
                response
            }
        }
    });
    let connection = http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection.with_upgrades());
    let mut closing = false;
    loop {
        let now = *idle.borrow_and_update();
        let idle_deadline = (now.in_flight == 0 && !closing).then(|| now.idle_since + idle_timeout);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    // Timeouts and clients that hang up mid-request: routine, not errors.
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            _ = stop.wait_for(|stop| *stop), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = idle.changed(), if !closing => {}
            () = sleep_until_some(idle_deadline) => {
                // No request arrived since the deadline was set (that would have woken `changed`).
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
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
