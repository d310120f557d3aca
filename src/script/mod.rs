//! Lua scripting (EVAL, FUNCTION): a Lua 5.1 VM per shard thread with
//! Redis's sandbox, API and type conversions.
//!
//! Split of duties:
//! - `engine.rs`: the VM, the sandbox, `redis.*`, Lua ↔ RESP conversions,
//!   Redis's error formats, the script cache and the function libraries.
//!   It knows nothing of shards: every command a script runs goes through
//!   a [`Backend`].
//! - `libs/`: the libraries Redis ships to scripts (cjson, cmsgpack, bit,
//!   struct).
//! - `command/scripting.rs`: EVAL/FCALL routing and atomicity across
//!   shards (it implements [`Backend`]).
//!
//! Scripts and libraries are process-wide: their sources live in global
//! stores (read on a thread's first use, guarded by a lock that the hot
//! path never takes once a script is compiled on that thread); each shard
//! thread compiles them into its own VM and notices FLUSH/LOAD/DELETE
//! through a generation counter.

pub mod engine;
pub mod libs;
pub mod payload;
pub mod resp;
pub mod runstate;
pub mod shebang;
pub mod store;
pub mod vm;

pub use engine::{busy, busy_error, note_write, set_busy_threshold_ms, Engine};

/// Flags a script declares (`#!lua flags=...`) or a function registers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script had a shebang line (or is a function): undeclared flags
    /// are off rather than Redis's permissive defaults for old scripts.
    pub declared: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// What a running script is, for the backend's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Eval,
    Function,
}

/// The script must stop now without side effects being kept: the caller
/// undoes what the script did and runs it again another way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abort;

/// What a running script asks of the server.
pub trait Backend {
    /// Called once before the script body runs, with its flags and whether
    /// it was invoked read-only (EVAL_RO, EVALSHA_RO, FCALL_RO). An `Err`
    /// is written as the error reply (without the leading `-` and CRLF) and
    /// the script does not run.
    fn begin(&mut self, kind: Kind, flags: ScriptFlags, read_only: bool) -> Result<(), Vec<u8>>;

    /// Runs `argv` (command name first) for the script and writes exactly
    /// one reply to `out`, in RESP3 when `resp3` (redis.setresp(3)), else
    /// RESP2. Command-level failures (unknown command, arity, a command
    /// not allowed from scripts, a write from a read-only script, WRONGTYPE
    /// ...) are error replies written to `out`, with Redis's texts.
    /// `Err(Abort)` means: unwind the script at once, write nothing.
    fn call(&mut self, argv: &[&[u8]], resp3: bool, out: &mut Vec<u8>) -> Result<(), Abort>;

    /// Whether the script's caller may run `argv` (redis.acl_check_cmd).
    fn permits(&mut self, _argv: &[&[u8]]) -> bool {
        true
    }
}

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The reply (result or error) is in `out`.
    Done,
    /// The backend aborted: `out` is unchanged.
    Aborted,
}
