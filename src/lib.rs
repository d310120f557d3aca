//! Spindle: a Redis-compatible, thread-per-core in-memory data server.
//!
//! See ARCHITECTURE.md for the bird's-eye view and the code map.

pub mod acl;
pub mod command;
pub mod config;
pub mod memory;
pub mod persist;
pub mod protocol;
pub mod script;
pub mod server;
pub mod shard;
pub mod storage;
pub mod util;
