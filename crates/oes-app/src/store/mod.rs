//! All SQL of the platform, one function per query, written once for SQLite and PostgreSQL
//! (see `db` for the dialect both share).

pub mod outbox;
pub mod profiles;
pub mod sessions;
pub mod tokens;
pub mod users;
