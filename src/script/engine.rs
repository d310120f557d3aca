//! Placeholder: the Lua engine lands from its own branch (see mod.rs).
pub struct Engine;
