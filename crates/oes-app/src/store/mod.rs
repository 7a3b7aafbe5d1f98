//! All SQL of the platform, one function per query, written once for SQLite and PostgreSQL
//! (see `db` for the dialect both share).

pub mod attempts;
pub mod exams;
pub mod node_import;
pub mod node_source;
pub mod notifications;
pub mod outbox;
pub mod profiles;
pub mod questions;
pub mod results;
pub mod sessions;
pub mod tokens;
pub mod users;
