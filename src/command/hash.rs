//! The hash family's commands.
