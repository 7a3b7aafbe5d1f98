//! Use cases: transactions, cache invalidation, enqueueing. Handlers call one function here.

pub mod accounts;
pub mod attempts;
pub mod email;
pub mod exams;
pub mod leaderboard;
pub mod monitoring;
pub mod notifications;
pub mod questions;
pub mod rate_limit;
pub mod results;
