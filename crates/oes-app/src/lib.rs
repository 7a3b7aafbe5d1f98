//! The OES exam platform as a library; the `oes` binary is a thin command line over it.
//!
//! - [`config`]: typed configuration, read once from the environment;
//! - [`db`]: the sqlx pool over SQLite or PostgreSQL and the migrations of each;
//! - [`redis_link`]: the optional Redis connection, degraded-mode aware;
//! - [`http`]: the axum router, the one `ApiError`, probes;
//! - [`domain`], [`store`], [`service`]: pure types, SQL, use cases;
//! - [`jobs`]: queue names, job handlers and the runtime that runs them;
//! - [`server`]: start-up in dependency order and graceful shutdown.

pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod redis_link;
pub mod server;
pub mod service;
pub mod state;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use server::{RunningServer, Services, shutdown_signal};
pub use state::AppState;
