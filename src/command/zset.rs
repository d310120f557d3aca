//! The zset family's commands.
