//! Pure types and rules of the platform: no I/O here.

pub mod accounts;
pub mod ids;
