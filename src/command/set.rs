//! The set family's commands.
