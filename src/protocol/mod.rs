//! RESP2/RESP3 wire format: the request parser and the reply encoder.
//!
//! Architecture Invariant: this module imports nothing from the rest of the
//! crate. It knows bytes, not commands.

pub mod parser;
pub mod reply;

pub use parser::{parse, ArgSource, Limits, Parsed, ProtocolError};
pub use reply::Reply;
