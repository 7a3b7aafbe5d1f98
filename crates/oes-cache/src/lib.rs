//! `oes-cache`: a two-tier cache-aside for JSON values, knowing nothing of exams.
//!
//! Parts:
//! - [`Cache`] — the handle (cheap to clone): `get`, `set`, `delete`, `delete_many`,
//!   `get_or_set`, `get_or_set_opt`, `clear`, `stats`, `shutdown`.
//! - [`CacheConfig`] / [`L1Capacity`] — namespace, TTLs, L1 bound, jitter, Redis timeout.
//! - [`keys`] — the only place cache keys are spelled (`exam:{id}`, `exams:all`, …) and
//!   their recommended TTLs.
//! - [`CacheStats`] — counters for metrics.
//! - [`CacheError`] — the crate's one error type (write paths only: reads fail open).
//!
//! Inside: `cache` (the handle: construction, accessors, shutdown), `read` (`get`,
//! `get_json`), `load` (cache-aside with single flight), `write` (`set`, `delete*`),
//! `admin` (`clear`, `key_count`), `l1` (moka, values kept decoded), `l2` (Redis commands
//! under a deadline), `flight` (single-flight per key), `shared` (state shared with the
//! subscriber, invalidation epochs), `invalidation` (pub/sub coherence of L1 across
//! processes).
//!
#![doc = include_str!("../README.md")]

mod admin;
mod cache;
mod config;
mod error;
mod flight;
mod invalidation;
pub mod keys;
mod l1;
mod l2;
mod load;
mod read;
mod shared;
mod stats;
mod write;

pub use cache::Cache;
pub use config::{CacheConfig, L1Capacity};
pub use error::CacheError;
pub use stats::CacheStats;
