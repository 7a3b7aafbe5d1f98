//! Pure types and rules of the platform: no I/O here.

pub mod accounts;
pub mod attempts;
pub mod exams;
pub mod ids;
pub mod questions;
pub mod scoring;
