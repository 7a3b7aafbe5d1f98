//! Use cases: transactions, cache invalidation, enqueueing. Handlers call one function here.

pub mod accounts;
pub mod attempts;
pub mod exams;
pub mod import_node;
pub mod leaderboard;
pub mod monitoring;
pub mod notifications;
pub mod paper;
pub mod questions;
pub mod results;
pub mod saved_answers;
pub mod scoring;
