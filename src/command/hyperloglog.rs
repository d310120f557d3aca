//! The hyperloglog family's commands.
