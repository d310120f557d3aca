//! Refusing commands that may grow memory while the process is over
//! `maxmemory` and nothing can be evicted, where Redis's `processCommand`
//! refuses them and no single shard command runs: queueing inside MULTI,
//! EXEC of a transaction holding such a command, connection commands
//! (EVAL/FCALL of a script whose flags deny OOM, FUNCTION LOAD, BLMOVE)
//! and multi-key commands spanning shards.
//!
//! A shard command run alone is checked by [`super::execute`] on the shard
//! that runs it; a command a script calls, by the script backend against
//! the state seen when the script started (Redis's
//! `pre_command_oom_state`).

use super::table::{CommandSpec, Handler};
use super::{flags, Args, ConnCmd, Session};
use crate::script::{Engine, ScriptFlags};

/// The error of a script with flags but no `allow-oom`, started over
/// maxmemory where its EVAL was not refused up front (inside EXEC).
pub const SCRIPT_NOT_ALLOW_OOM: &str =
    "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'";

/// Whether a script with `flags` counts as a command that may grow memory
/// (Redis's scriptFlagsToCmdFlags: declared flags without `allow-oom` or
/// `no-writes`).
pub fn script_denies_oom(flags: ScriptFlags) -> bool {
    flags.declared && !flags.allow_oom && !flags.no_writes
}

/// Whether `spec` as called with `args` is refused over maxmemory: a
/// DENYOOM command (or subcommand), or EVAL/EVALSHA/FCALL of a script whose
/// flags deny OOM (a script not found or not parsable is not: its own error
/// comes later).
pub fn denies_oom(spec: &'static CommandSpec, args: &Args) -> bool {
    if spec.subcommand_flags(args) & flags::DENYOOM != 0 {
        return true;
    }
    if !matches!(spec.handler, Handler::Conn(ConnCmd::Eval)) || args.len() < 2 {
        return false;
    }
    let name = args.get(0);
    let text = args.get(1);
    let found = Engine::with(|e| {
        if name.len() >= 7 && name[..7].eq_ignore_ascii_case(b"evalsha") {
            e.evalsha_flags(text)
        } else if name.len() >= 4 && name[..4].eq_ignore_ascii_case(b"eval") {
            e.eval_flags(text)
        } else {
            e.fcall_flags(text)
        }
    });
    found.is_some_and(script_denies_oom)
}

/// Whether the process is out of memory for this connection's shard now,
/// after it evicted what it could.
pub fn out_of_memory(sess: &Session) -> bool {
    crate::shard::evict::out_of_memory(&sess.shard, crate::util::now_ms())
}

/// Whether `spec` must be refused with -OOM now (see [`denies_oom`]).
/// Memory is looked at first: under the limit no script is looked up.
pub fn refused(sess: &Session, spec: &'static CommandSpec, args: &Args) -> bool {
    may_deny_oom(spec) && out_of_memory(sess) && denies_oom(spec, args)
}

/// Whether `spec` can deny OOM at all (flags alone; no lookups).
#[inline]
pub fn may_deny_oom(spec: &'static CommandSpec) -> bool {
    spec.flags & flags::DENYOOM != 0
        || spec.subcommands.iter().any(|s| s.flags & flags::DENYOOM != 0)
        || matches!(spec.handler, Handler::Conn(ConnCmd::Eval))
}
