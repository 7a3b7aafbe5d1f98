//! The `oes` binary as an operator runs it, in one test binary: start-up and `serve`, the
//! operator commands, `admin create`, `import node`, `loadtest --url`, and a worker killed mid-send.

mod admin_create;
mod loadtest;
mod node_import;
mod operator;
mod serve;
mod support;
mod worker_crash;
