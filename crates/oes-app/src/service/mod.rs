//! Use cases: transactions, cache invalidation, enqueueing. Handlers call one function here.

pub mod email;
