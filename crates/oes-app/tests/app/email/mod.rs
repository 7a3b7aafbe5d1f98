//! The email pipeline end to end, Node BullMQ's jobs delivered by the Rust worker, and
//! unsent codes and links given up once they expire.

mod expiry;
mod node_interop;
mod pipeline;
