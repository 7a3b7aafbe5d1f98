//! The OES exam platform as a library; the `oes` binary is a thin command line over it.
//!
//! Layers, each importing only from those above it in this list (a test,
//! `tests::layers_import_only_downward`, reads the `use` lines and holds this):
//! - [`domain`]: pure types and rules, no I/O;
//! - [`config`]: typed configuration, read once from the environment; [`cache_entries`]: every
//!   cache key and its TTL;
//! - [`db`], [`redis_link`], [`telemetry`]: the sqlx pool, the optional Redis link, logging;
//! - [`rate_limit`]: fixed-window limits on Redis with an in-process fallback;
//! - `store`: SQL, one function per query (private to the crate);
//! - [`queue`]: every queue and job as a type, and the runtime that adds and runs them;
//! - [`email`]: the outbox pipeline; [`unit_of_work`]: a transaction whose emails are queued
//!   on commit;
//! - [`state`]: what handlers, services and jobs reach ([`AppState`]);
//! - [`service`]: the use cases; the binary and the tests call these;
//! - `jobs` (handlers, one registration list) and `sweeps` (the background loops), beside each
//!   other;
//! - [`http`]: the axum router, the one `ApiError`, probes;
//! - [`server`]: start-up in dependency order and graceful shutdown.

pub mod cache_entries;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod http;
mod jobs;
pub mod queue;
pub mod rate_limit;
pub mod redis_link;
pub mod server;
pub mod service;
pub mod state;
pub(crate) mod store;
mod sweeps;
pub mod telemetry;
pub mod unit_of_work;

pub use config::Config;
pub use server::{RunningServer, Services, shutdown_signal};
pub use state::AppState;

#[cfg(test)]
mod layers;
