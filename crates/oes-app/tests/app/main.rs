//! The app's integration tests, in one binary (linking the whole app once instead of once per
//! file): each test starts the real server it needs through [`support::TestApp`] and drives it
//! over HTTP, on SQLite and PostgreSQL, with and without Redis.
//!
//! Tests run in parallel threads of one process, so none may change process-wide state: each has
//! its own database, Redis key prefix, cache namespace, ports and SMTP sink, and the two that
//! signal or measure the process run in a child process of their own
//! ([`support::in_own_process`]).

mod accounts;
mod authz;
mod connections;
mod cross_origin;
mod email;
mod exams;
mod graceful_shutdown;
mod import;
mod openapi_typescript;
mod ops;
mod schema;
mod server;
mod support;
