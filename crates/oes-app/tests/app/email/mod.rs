//! The email pipeline end to end, and Node BullMQ's jobs delivered by the Rust worker.

mod node_interop;
mod pipeline;
