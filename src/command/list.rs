//! The list family's commands.
