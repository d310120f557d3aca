//! The command table: every command declared once, as data.
//!
//! Arity, flags and key positions drive arity errors, routing (which shard
//! owns the keys), COMMAND INFO / COUNT / DOCS / GETKEYS, and stats.

use std::sync::OnceLock;

use hashbrown::HashMap;

use super::flags::*;
#[allow(unused_imports)]
use super::{bitmap, connection, dump, geo, hash, hyperloglog, keys, list, pubsub, server, set, stream, string, zset};
use super::{Args, ConnCmd, Cross, Ctx};
use crate::shard::pubsub::Kind;

/// A handler that runs on the shard owning the command's keys.
pub type ShardFn = fn(&mut Ctx, &Args);

#[derive(Clone, Copy)]
pub enum Handler {
    Shard(ShardFn),
    Conn(ConnCmd),
}

/// A subcommand, as listed by COMMAND INFO / DOCS.
pub struct SubSpec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    pub summary: &'static str,
}

/// One command's metadata and handler.
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Exact argc when positive, minimum argc when negative (name included).
    pub arity: i32,
    pub flags: u32,
    /// Key positions: first, last (negative counts from the end), step.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Movable keys: index of a `numkeys` argument whose keys follow it
    /// (ZUNION, LMPOP, SINTERCARD ...); 0 for none.
    pub numkeys_at: usize,
    /// With `numkeys_at`: the keys follow a STREAMS keyword found from that
    /// argument on, and are the first half of what follows it.
    pub streams_keys: bool,
    /// With `numkeys_at`: the key is that of the STORE / STOREDIST option
    /// searched from that argument on (GEORADIUS, GEORADIUSBYMEMBER).
    pub store_keys: bool,
    /// Redis's command group (COMMAND DOCS) and ACL category.
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    /// How to run the command when its keys span shards.
    pub cross: Option<Cross>,
    pub subcommands: &'static [SubSpec],
}

impl CommandSpec {
    /// Whether `argc` satisfies the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// Indices of the key arguments of `args` (the legacy first/last/step
    /// triple, then the keys counted by a `numkeys` argument), as Redis's
    /// COMMAND GETKEYS reports them. A malformed `numkeys` names no keys;
    /// the handler then reports the error.
    pub fn key_indices(&self, args: &Args) -> impl Iterator<Item = usize> {
        let argc = args.len();
        let movable = if self.store_keys {
            super::geo::store_key_index(args, self.numkeys_at).map_or(0..0, |i| i..i + 1)
        } else if self.streams_keys {
            (self.numkeys_at..argc)
                .find(|&i| args.get(i).eq_ignore_ascii_case(b"streams"))
                .map_or(0..0, |i| i + 1..i + 1 + (argc - i - 1) / 2)
        } else if self.numkeys_at > 0 && self.numkeys_at < argc {
            match super::args::parse_i64(args.get(self.numkeys_at)) {
                Some(n) if n > 0 && (n as u64) < (argc - self.numkeys_at) as u64 => {
                    self.numkeys_at + 1..self.numkeys_at + 1 + n as usize
                }
                _ => 0..0,
            }
        } else {
            0..0
        };
        self.legacy_key_indices(argc).chain(movable)
    }

    /// The subcommand of a container that `args` names (`client|id` for
    /// CLIENT ID), if any.
    pub fn find_subcommand(&self, args: &Args) -> Option<&'static SubSpec> {
        if self.subcommands.is_empty() || args.len() < 2 {
            return None;
        }
        let sub = args.get(1);
        let full_len = self.name.len() + 1 + sub.len();
        self.subcommands
            .iter()
            .find(|s| s.name.len() == full_len && s.name.as_bytes()[self.name.len() + 1..].eq_ignore_ascii_case(sub))
    }

    /// The flags of the subcommand `args` names (a container's own flags
    /// when it names none).
    pub fn subcommand_flags(&self, args: &Args) -> u32 {
        self.find_subcommand(args).map_or(self.flags, |s| s.flags)
    }

    /// Whether the key positions depend on the arguments (COMMAND INFO's
    /// `movablekeys` flag).
    pub fn movable_keys(&self) -> bool {
        self.numkeys_at > 0
    }

    fn legacy_key_indices(&self, argc: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        let first = self.first_key.max(0) as usize;
        let last = if self.first_key <= 0 {
            0
        } else if self.last_key < 0 {
            (argc as i32 + self.last_key).max(0) as usize
        } else {
            (self.last_key as usize).min(argc.saturating_sub(1))
        };
        let step = self.step.max(1) as usize;
        let valid = self.first_key > 0 && first < argc;
        (if valid { first..last + 1 } else { 0..0 }).step_by(step)
    }

    /// Index of this spec in [`TABLE`] (for per-command stats).
    pub fn index(&'static self) -> usize {
        (self as *const CommandSpec as usize - TABLE.as_ptr() as usize) / std::mem::size_of::<CommandSpec>()
    }

    /// ACL categories, derived from group and flags as Redis does (see
    /// `acl::categories`).
    pub fn acl_categories(&self) -> Vec<&'static str> {
        crate::acl::categories::category_names(crate::acl::categories::spec_categories(self))
    }
}

impl SubSpec {
    /// A subcommand's ACL categories (its own flags, its container's group).
    pub fn acl_categories(&self, parent: &CommandSpec) -> Vec<&'static str> {
        crate::acl::categories::category_names(crate::acl::categories::sub_categories(parent, self))
    }
}

macro_rules! spec {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal,
     $summary:literal, $handler:expr, $cross:expr, $subs:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $keys.0,
            last_key: $keys.1,
            step: $keys.2,
            group: $group,
            since: $since,
            summary: $summary,
            handler: $handler,
            cross: $cross,
            subcommands: $subs,
            numkeys_at: 0,
            streams_keys: false,
            store_keys: false,
        }
    };
    // Keys after a STREAMS keyword searched from argument `$from`: the
    // first half of the arguments after it (XREAD, XREADGROUP).
    (streams $from:literal, $name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal,
     $summary:literal, $handler:expr, $cross:expr, $subs:expr) => {
        CommandSpec {
            numkeys_at: $from,
            streams_keys: true,
            ..spec!($name, $arity, $flags, $keys, $group, $since, $summary, $handler, $cross, $subs)
        }
    };
    // Keys of STORE / STOREDIST options searched from argument `$from`.
    (store $from:literal, $name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal,
     $summary:literal, $handler:expr, $cross:expr, $subs:expr) => {
        CommandSpec {
            numkeys_at: $from,
            store_keys: true,
            ..spec!($name, $arity, $flags, $keys, $group, $since, $summary, $handler, $cross, $subs)
        }
    };
    // Movable keys: `numkeys` at argument `$nk`, its keys right after it.
    (movable $nk:literal, $name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal,
     $summary:literal, $handler:expr, $cross:expr, $subs:expr) => {
        CommandSpec {
            numkeys_at: $nk,
            ..spec!($name, $arity, $flags, $keys, $group, $since, $summary, $handler, $cross, $subs)
        }
    };
}

use Handler::{Conn, Shard};

const NOKEYS: (i32, i32, i32) = (0, 0, 0);
const KEY1: (i32, i32, i32) = (1, 1, 1);

const CLIENT_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "client|id",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns the unique client ID of the connection.",
    },
    SubSpec {
        name: "client|setname",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Sets the connection name.",
    },
    SubSpec {
        name: "client|getname",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns the name of the connection.",
    },
    SubSpec {
        name: "client|list",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Lists open connections.",
    },
    SubSpec {
        name: "client|info",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns information about the connection.",
    },
    SubSpec {
        name: "client|kill",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Terminates open connections.",
    },
    SubSpec {
        name: "client|setinfo",
        arity: 4,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Sets information specific to the client or connection.",
    },
    SubSpec {
        name: "client|unblock",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Unblocks a client blocked by a blocking command from a different connection.",
    },
    SubSpec {
        name: "client|no-evict",
        arity: 3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Sets the client eviction mode of the connection.",
    },
    SubSpec {
        name: "client|tracking",
        arity: -3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Controls server-assisted client-side caching for the connection.",
    },
    SubSpec {
        name: "client|caching",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Instructs the server whether to track the keys in the next request.",
    },
    SubSpec {
        name: "client|getredir",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns the client ID to which the connection's tracking notifications are redirected.",
    },
    SubSpec {
        name: "client|trackinginfo",
        arity: 2,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Returns information about server-assisted client-side caching for the connection.",
    },
    SubSpec {
        name: "client|reply",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Instructs the server whether to reply to commands.",
    },
    SubSpec {
        name: "client|no-touch",
        arity: 3,
        flags: NOSCRIPT | LOADING | STALE,
        summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
    },
    SubSpec {
        name: "client|pause",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Suspends commands processing.",
    },
    SubSpec {
        name: "client|unpause",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Resumes processing commands from paused clients.",
    },
    SubSpec {
        name: "client|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const SLOWLOG_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "slowlog|get",
        arity: -2,
        flags: ADMIN | LOADING | STALE,
        summary: "Returns the slow log's entries.",
    },
    SubSpec {
        name: "slowlog|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Show helpful text about the different subcommands",
    },
    SubSpec {
        name: "slowlog|len",
        arity: 2,
        flags: ADMIN | LOADING | STALE,
        summary: "Returns the number of entries in the slow log.",
    },
    SubSpec {
        name: "slowlog|reset",
        arity: 2,
        flags: ADMIN | LOADING | STALE,
        summary: "Clears all entries from the slow log.",
    },
];

const LATENCY_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "latency|doctor",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Returns a human-readable latency analysis report.",
    },
    SubSpec {
        name: "latency|graph",
        arity: 3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Returns a latency graph for an event.",
    },
    SubSpec {
        name: "latency|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
    SubSpec {
        name: "latency|histogram",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Returns the cumulative distribution of latencies of a subset or all commands.",
    },
    SubSpec {
        name: "latency|history",
        arity: 3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Returns timestamp-latency samples for an event.",
    },
    SubSpec {
        name: "latency|latest",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Returns the latest latency samples for all events.",
    },
    SubSpec {
        name: "latency|reset",
        arity: -2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Resets the latency data for one or more events.",
    },
];

const CONFIG_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "config|get",
        arity: -3,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Returns the effective values of configuration parameters.",
    },
    SubSpec {
        name: "config|set",
        arity: -4,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Sets configuration parameters in-flight.",
    },
    SubSpec {
        name: "config|resetstat",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Resets the server's statistics.",
    },
    SubSpec {
        name: "config|rewrite",
        arity: 2,
        flags: ADMIN | NOSCRIPT | LOADING | STALE,
        summary: "Persists the effective configuration to file.",
    },
    SubSpec {
        name: "config|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const PUBSUB_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "pubsub|channels",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns the active channels.",
    },
    SubSpec {
        name: "pubsub|numpat",
        arity: 2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns a count of unique pattern subscriptions.",
    },
    SubSpec {
        name: "pubsub|numsub",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns a count of subscribers to channels.",
    },
    SubSpec {
        name: "pubsub|shardchannels",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns the active shard channels.",
    },
    SubSpec {
        name: "pubsub|shardnumsub",
        arity: -2,
        flags: PUBSUB | LOADING | STALE,
        summary: "Returns the count of subscribers of shard channels.",
    },
    SubSpec {
        name: "pubsub|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const SCRIPT_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "script|load",
        arity: 3,
        flags: NOSCRIPT | STALE,
        summary: "Loads a server-side Lua script to the script cache.",
    },
    SubSpec {
        name: "script|exists",
        arity: -3,
        flags: NOSCRIPT,
        summary: "Determines whether server-side Lua scripts exist in the script cache.",
    },
    SubSpec {
        name: "script|flush",
        arity: -2,
        flags: NOSCRIPT,
        summary: "Removes all server-side Lua scripts from the script cache.",
    },
    SubSpec {
        name: "script|kill",
        arity: 2,
        flags: NOSCRIPT | ALLOW_BUSY,
        summary: "Terminates a server-side Lua script during execution.",
    },
    SubSpec {
        name: "script|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const FUNCTION_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "function|load",
        arity: -3,
        flags: WRITE | DENYOOM | NOSCRIPT,
        summary: "Creates a library.",
    },
    SubSpec {
        name: "function|delete",
        arity: 3,
        flags: WRITE | NOSCRIPT,
        summary: "Deletes a library and its functions.",
    },
    SubSpec {
        name: "function|flush",
        arity: -2,
        flags: WRITE | NOSCRIPT,
        summary: "Deletes all libraries and functions.",
    },
    SubSpec {
        name: "function|list",
        arity: -2,
        flags: NOSCRIPT,
        summary: "Returns information about all libraries.",
    },
    SubSpec {
        name: "function|dump",
        arity: 2,
        flags: NOSCRIPT,
        summary: "Dumps all libraries into a serialized binary payload.",
    },
    SubSpec {
        name: "function|restore",
        arity: -3,
        flags: WRITE | DENYOOM | NOSCRIPT,
        summary: "Restores all libraries from a payload.",
    },
    SubSpec {
        name: "function|stats",
        arity: 2,
        flags: NOSCRIPT | ALLOW_BUSY,
        summary: "Returns information about a function during execution.",
    },
    SubSpec {
        name: "function|kill",
        arity: 2,
        flags: NOSCRIPT | ALLOW_BUSY,
        summary: "Terminates a function during execution.",
    },
    SubSpec {
        name: "function|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const OBJECT_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "object|encoding",
        arity: 3,
        flags: READONLY,
        summary: "Returns the internal encoding of a Redis object.",
    },
    SubSpec {
        name: "object|freq",
        arity: 3,
        flags: READONLY,
        summary: "Returns the logarithmic access frequency counter of a Redis object.",
    },
    SubSpec {
        name: "object|idletime",
        arity: 3,
        flags: READONLY,
        summary: "Returns the time since the last access to a Redis object.",
    },
    SubSpec {
        name: "object|refcount",
        arity: 3,
        flags: READONLY,
        summary: "Returns the reference count of a value of a key.",
    },
    SubSpec {
        name: "object|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const MEMORY_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "memory|purge",
        arity: 2,
        flags: 0,
        summary: "Asks the allocator to release memory.",
    },
    SubSpec {
        name: "memory|malloc-stats",
        arity: 2,
        flags: 0,
        summary: "Returns the allocator statistics.",
    },
    SubSpec {
        name: "memory|doctor",
        arity: 2,
        flags: 0,
        summary: "Outputs a memory problems report.",
    },
    SubSpec {
        name: "memory|stats",
        arity: 2,
        flags: 0,
        summary: "Returns details about memory usage.",
    },
    SubSpec {
        name: "memory|usage",
        arity: -3,
        flags: READONLY,
        summary: "Estimates the memory usage of a key.",
    },
    SubSpec {
        name: "memory|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const COMMAND_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "command|count",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns a count of commands.",
    },
    SubSpec {
        name: "command|info",
        arity: -2,
        flags: LOADING | STALE,
        summary: "Returns information about one, multiple or all commands.",
    },
    SubSpec {
        name: "command|docs",
        arity: -2,
        flags: LOADING | STALE,
        summary: "Returns documentary information about one, multiple or all commands.",
    },
    SubSpec {
        name: "command|getkeys",
        arity: -3,
        flags: LOADING | STALE,
        summary: "Extracts the key names from an arbitrary command.",
    },
    SubSpec {
        name: "command|getkeysandflags",
        arity: -3,
        flags: LOADING | STALE,
        summary: "Extracts the key names and access flags for an arbitrary command.",
    },
    SubSpec {
        name: "command|list",
        arity: -2,
        flags: LOADING | STALE,
        summary: "Returns a list of command names.",
    },
    SubSpec {
        name: "command|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
];

const DEBUG_SUBS: &[SubSpec] = &[];

const XGROUP_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "xgroup|create",
        arity: -5,
        flags: WRITE | DENYOOM,
        summary: "Creates a consumer group.",
    },
    SubSpec {
        name: "xgroup|createconsumer",
        arity: 5,
        flags: WRITE | DENYOOM,
        summary: "Creates a consumer in a consumer group.",
    },
    SubSpec {
        name: "xgroup|delconsumer",
        arity: 5,
        flags: WRITE,
        summary: "Deletes a consumer from a consumer group.",
    },
    SubSpec {
        name: "xgroup|destroy",
        arity: 4,
        flags: WRITE,
        summary: "Destroys a consumer group.",
    },
    SubSpec {
        name: "xgroup|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
    SubSpec {
        name: "xgroup|setid",
        arity: -5,
        flags: WRITE | NO_WAKE,
        summary: "Sets the last-delivered ID of a consumer group.",
    },
];

const XINFO_SUBS: &[SubSpec] = &[
    SubSpec {
        name: "xinfo|consumers",
        arity: 4,
        flags: READONLY,
        summary: "Returns a list of the consumers in a consumer group.",
    },
    SubSpec {
        name: "xinfo|groups",
        arity: 3,
        flags: READONLY,
        summary: "Returns a list of the consumer groups of a stream.",
    },
    SubSpec {
        name: "xinfo|help",
        arity: 2,
        flags: LOADING | STALE,
        summary: "Returns helpful text about the different subcommands.",
    },
    SubSpec {
        name: "xinfo|stream",
        arity: -3,
        flags: READONLY,
        summary: "Returns information about a stream.",
    },
];

#[rustfmt::skip]
const ACL_SUBS: &[SubSpec] = &[
    SubSpec { name: "acl|cat", arity: -2, flags: NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Lists the ACL categories, or the commands inside a category." },
    SubSpec { name: "acl|deluser", arity: -3, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Deletes ACL users, and terminates their connections." },
    SubSpec { name: "acl|dryrun", arity: -4, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Simulates the execution of a command by a user, without executing the command." },
    SubSpec { name: "acl|genpass", arity: -2, flags: NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Generates a pseudorandom, secure password that can be used to identify ACL users." },
    SubSpec { name: "acl|getuser", arity: 3, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Lists the ACL rules of a user." },
    SubSpec { name: "acl|help", arity: 2, flags: LOADING | STALE | SENTINEL, summary: "Returns helpful text about the different subcommands." },
    SubSpec { name: "acl|list", arity: 2, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Dumps the effective rules in ACL file format." },
    SubSpec { name: "acl|load", arity: 2, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Reloads the rules from the configured ACL file." },
    SubSpec { name: "acl|log", arity: -2, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Lists recent security events generated due to ACL rules." },
    SubSpec { name: "acl|save", arity: 2, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Saves the effective ACL rules in the configured ACL file." },
    SubSpec { name: "acl|setuser", arity: -3, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Creates and modifies an ACL user and its rules." },
    SubSpec { name: "acl|users", arity: 2, flags: ADMIN | NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Lists all ACL users." },
    SubSpec { name: "acl|whoami", arity: 2, flags: NOSCRIPT | LOADING | STALE | SENTINEL, summary: "Returns the authenticated username of the current connection." },
];

/// Every command Spindle serves, one line each.
#[rustfmt::skip]
pub static TABLE: &[CommandSpec] = &[
    // -- string
    spec!("get", 2, READONLY | FAST, KEY1, "string", "1.0.0", "Returns the string value of a key.", Shard(string::cmd_get), None, &[]),
    spec!("set", -3, WRITE | DENYOOM, KEY1, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", Shard(string::cmd_set), None, &[]),
    spec!("setnx", 3, WRITE | DENYOOM | FAST, KEY1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", Shard(string::cmd_setnx), None, &[]),
    spec!("setex", 4, WRITE | DENYOOM, KEY1, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", Shard(string::cmd_setex), None, &[]),
    spec!("psetex", 4, WRITE | DENYOOM, KEY1, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", Shard(string::cmd_psetex), None, &[]),
    spec!("getset", 3, WRITE | DENYOOM | FAST, KEY1, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", Shard(string::cmd_getset), None, &[]),
    spec!("getdel", 2, WRITE | FAST, KEY1, "string", "6.2.0", "Returns the string value of a key after deleting the key.", Shard(string::cmd_getdel), None, &[]),
    spec!("getex", -2, WRITE | FAST, KEY1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", Shard(string::cmd_getex), None, &[]),
    spec!("mget", -2, READONLY | FAST, (1, -1, 1), "string", "1.0.0", "Atomically returns the string values of one or more keys.", Shard(string::cmd_mget), Some(Cross::MGet), &[]),
    spec!("mset", -3, WRITE | DENYOOM, (1, -1, 2), "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", Shard(string::cmd_mset), Some(Cross::MSet), &[]),
    spec!("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", Shard(string::cmd_msetnx), Some(Cross::Gather), &[]),
    spec!("incr", 2, WRITE | DENYOOM | FAST, KEY1, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", Shard(string::cmd_incr), None, &[]),
    spec!("incrby", 3, WRITE | DENYOOM | FAST, KEY1, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", Shard(string::cmd_incrby), None, &[]),
    spec!("decr", 2, WRITE | DENYOOM | FAST, KEY1, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", Shard(string::cmd_decr), None, &[]),
    spec!("decrby", 3, WRITE | DENYOOM | FAST, KEY1, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", Shard(string::cmd_decrby), None, &[]),
    spec!("incrbyfloat", 3, WRITE | DENYOOM | FAST, KEY1, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", Shard(string::cmd_incrbyfloat), None, &[]),
    spec!("append", 3, WRITE | DENYOOM | FAST, KEY1, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", Shard(string::cmd_append), None, &[]),
    spec!("strlen", 2, READONLY | FAST, KEY1, "string", "2.2.0", "Returns the length of a string value.", Shard(string::cmd_strlen), None, &[]),
    spec!("getrange", 4, READONLY, KEY1, "string", "2.4.0", "Returns a substring of the string stored at a key.", Shard(string::cmd_getrange), None, &[]),
    spec!("substr", 4, READONLY, KEY1, "string", "1.0.0", "Returns a substring from a string value.", Shard(string::cmd_getrange), None, &[]),
    spec!("setrange", 4, WRITE | DENYOOM, KEY1, "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", Shard(string::cmd_setrange), None, &[]),
    spec!("lcs", -3, READONLY, (1, 2, 1), "string", "7.0.0", "Finds the longest common substring.", Shard(string::cmd_lcs), Some(Cross::Gather), &[]),
    // -- bitmap
    spec!("setbit", 4, WRITE | DENYOOM, KEY1, "bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", Shard(bitmap::cmd_setbit), None, &[]),
    spec!("getbit", 3, READONLY | FAST, KEY1, "bitmap", "2.2.0", "Returns a bit value by offset.", Shard(bitmap::cmd_getbit), None, &[]),
    spec!("bitcount", -2, READONLY, KEY1, "bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string.", Shard(bitmap::cmd_bitcount), None, &[]),
    spec!("bitpos", -3, READONLY, KEY1, "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", Shard(bitmap::cmd_bitpos), None, &[]),
    spec!("bitop", -4, WRITE | DENYOOM, (2, -1, 1), "bitmap", "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", Shard(bitmap::cmd_bitop), Some(Cross::Gather), &[]),
    spec!("bitfield", -2, WRITE | DENYOOM, KEY1, "bitmap", "3.2.0", "Performs arbitrary bitfield integer operations on strings.", Shard(bitmap::cmd_bitfield), None, &[]),
    spec!("bitfield_ro", -2, READONLY | FAST, KEY1, "bitmap", "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings.", Shard(bitmap::cmd_bitfield_ro), None, &[]),
    // (end of bitmap)
    // -- list
    spec!("lpush", -3, WRITE | DENYOOM | FAST, KEY1, "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", Shard(list::cmd_lpush), None, &[]),
    spec!("rpush", -3, WRITE | DENYOOM | FAST, KEY1, "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", Shard(list::cmd_rpush), None, &[]),
    spec!("lpushx", -3, WRITE | DENYOOM | FAST, KEY1, "list", "2.2.0", "Prepends one or more elements to a list only when the list exists.", Shard(list::cmd_lpushx), None, &[]),
    spec!("rpushx", -3, WRITE | DENYOOM | FAST, KEY1, "list", "2.2.0", "Appends an element to a list only when the list exists.", Shard(list::cmd_rpushx), None, &[]),
    spec!("lpop", -2, WRITE | FAST, KEY1, "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", Shard(list::cmd_lpop), None, &[]),
    spec!("rpop", -2, WRITE | FAST, KEY1, "list", "1.0.0", "Returns and removes the last elements of the list. Deletes the list if the last element was popped.", Shard(list::cmd_rpop), None, &[]),
    spec!("llen", 2, READONLY | FAST, KEY1, "list", "1.0.0", "Returns the length of a list.", Shard(list::cmd_llen), None, &[]),
    spec!("lrange", 4, READONLY, KEY1, "list", "1.0.0", "Returns a range of elements from a list.", Shard(list::cmd_lrange), None, &[]),
    spec!("lindex", 3, READONLY, KEY1, "list", "1.0.0", "Returns an element from a list by its index.", Shard(list::cmd_lindex), None, &[]),
    spec!("lset", 4, WRITE | DENYOOM, KEY1, "list", "1.0.0", "Sets the value of an element in a list by its index.", Shard(list::cmd_lset), None, &[]),
    spec!("linsert", 5, WRITE | DENYOOM, KEY1, "list", "2.2.0", "Inserts an element before or after another element in a list.", Shard(list::cmd_linsert), None, &[]),
    spec!("lrem", 4, WRITE, KEY1, "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", Shard(list::cmd_lrem), None, &[]),
    spec!("ltrim", 4, WRITE, KEY1, "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", Shard(list::cmd_ltrim), None, &[]),
    spec!("lpos", -3, READONLY, KEY1, "list", "6.0.6", "Returns the index of matching elements in a list.", Shard(list::cmd_lpos), None, &[]),
    spec!("lmove", 5, WRITE | DENYOOM, (1, 2, 1), "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", Shard(list::cmd_lmove), Some(Cross::Gather), &[]),
    spec!("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", Shard(list::cmd_rpoplpush), Some(Cross::Gather), &[]),
    spec!(movable 1, "lmpop", -4, WRITE, NOKEYS, "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", Shard(list::cmd_lmpop), Some(Cross::Gather), &[]),
    spec!("blpop", -3, WRITE | BLOCKING, (1, -2, 1), "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    spec!("brpop", -3, WRITE | BLOCKING, (1, -2, 1), "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    spec!("blmove", 6, WRITE | DENYOOM | BLOCKING, (1, 2, 1), "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", Conn(ConnCmd::Block), None, &[]),
    spec!("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, (1, 2, 1), "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    spec!(movable 2, "blmpop", -5, WRITE | BLOCKING, NOKEYS, "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    // (end of list)
    // -- set
    spec!("sadd", -3, WRITE | DENYOOM | FAST, KEY1, "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist.", Shard(set::cmd_sadd), None, &[]),
    spec!("srem", -3, WRITE | FAST, KEY1, "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed.", Shard(set::cmd_srem), None, &[]),
    spec!("smembers", 2, READONLY, KEY1, "set", "1.0.0", "Returns all members of a set.", Shard(set::cmd_smembers), None, &[]),
    spec!("sismember", 3, READONLY | FAST, KEY1, "set", "1.0.0", "Determines whether a member belongs to a set.", Shard(set::cmd_sismember), None, &[]),
    spec!("smismember", -3, READONLY | FAST, KEY1, "set", "6.2.0", "Determines whether multiple members belong to a set.", Shard(set::cmd_smismember), None, &[]),
    spec!("scard", 2, READONLY | FAST, KEY1, "set", "1.0.0", "Returns the number of members in a set.", Shard(set::cmd_scard), None, &[]),
    spec!("spop", -2, WRITE | FAST, KEY1, "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", Shard(set::cmd_spop), None, &[]),
    spec!("srandmember", -2, READONLY, KEY1, "set", "1.0.0", "Get one or multiple random members from a set", Shard(set::cmd_srandmember), None, &[]),
    spec!("smove", 4, WRITE | FAST, (1, 2, 1), "set", "1.0.0", "Moves a member from one set to another.", Shard(set::cmd_smove), Some(Cross::Gather), &[]),
    spec!("sinter", -2, READONLY, (1, -1, 1), "set", "1.0.0", "Returns the intersect of multiple sets.", Shard(set::cmd_sinter), Some(Cross::Gather), &[]),
    spec!(movable 1, "sintercard", -3, READONLY, NOKEYS, "set", "7.0.0", "Returns the number of members of the intersect of multiple sets.", Shard(set::cmd_sintercard), Some(Cross::Gather), &[]),
    spec!("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "Stores the intersect of multiple sets in a key.", Shard(set::cmd_sinterstore), Some(Cross::Gather), &[]),
    spec!("sunion", -2, READONLY, (1, -1, 1), "set", "1.0.0", "Returns the union of multiple sets.", Shard(set::cmd_sunion), Some(Cross::Gather), &[]),
    spec!("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "Stores the union of multiple sets in a key.", Shard(set::cmd_sunionstore), Some(Cross::Gather), &[]),
    spec!("sdiff", -2, READONLY, (1, -1, 1), "set", "1.0.0", "Returns the difference of multiple sets.", Shard(set::cmd_sdiff), Some(Cross::Gather), &[]),
    spec!("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), "set", "1.0.0", "Stores the difference of multiple sets in a key.", Shard(set::cmd_sdiffstore), Some(Cross::Gather), &[]),
    spec!("sscan", -3, READONLY, KEY1, "set", "2.8.0", "Iterates over members of a set.", Shard(set::cmd_sscan), None, &[]),
    // (end of set)
    // -- sorted set
    spec!("zadd", -4, WRITE | DENYOOM | FAST, KEY1, "sorted-set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", Shard(zset::cmd_zadd), None, &[]),
    spec!("zincrby", 4, WRITE | DENYOOM | FAST, KEY1, "sorted-set", "1.2.0", "Increments the score of a member in a sorted set.", Shard(zset::cmd_zincrby), None, &[]),
    spec!("zrem", -3, WRITE | FAST, KEY1, "sorted-set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", Shard(zset::cmd_zrem), None, &[]),
    spec!("zcard", 2, READONLY | FAST, KEY1, "sorted-set", "1.2.0", "Returns the number of members in a sorted set.", Shard(zset::cmd_zcard), None, &[]),
    spec!("zscore", 3, READONLY | FAST, KEY1, "sorted-set", "1.2.0", "Returns the score of a member in a sorted set.", Shard(zset::cmd_zscore), None, &[]),
    spec!("zmscore", -3, READONLY | FAST, KEY1, "sorted-set", "6.2.0", "Returns the score of one or more members in a sorted set.", Shard(zset::cmd_zmscore), None, &[]),
    spec!("zrank", -3, READONLY | FAST, KEY1, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores.", Shard(zset::cmd_zrank), None, &[]),
    spec!("zrevrank", -3, READONLY | FAST, KEY1, "sorted-set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores.", Shard(zset::cmd_zrevrank), None, &[]),
    spec!("zrange", -4, READONLY, KEY1, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes.", Shard(zset::cmd_zrange), None, &[]),
    spec!("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), "sorted-set", "6.2.0", "Stores a range of members from sorted set in a key.", Shard(zset::cmd_zrangestore), Some(Cross::Gather), &[]),
    spec!("zrevrange", -4, READONLY, KEY1, "sorted-set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order.", Shard(zset::cmd_zrevrange), None, &[]),
    spec!("zrangebyscore", -4, READONLY, KEY1, "sorted-set", "1.0.5", "Returns members in a sorted set within a range of scores.", Shard(zset::cmd_zrangebyscore), None, &[]),
    spec!("zrevrangebyscore", -4, READONLY, KEY1, "sorted-set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order.", Shard(zset::cmd_zrevrangebyscore), None, &[]),
    spec!("zrangebylex", -4, READONLY, KEY1, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range.", Shard(zset::cmd_zrangebylex), None, &[]),
    spec!("zrevrangebylex", -4, READONLY, KEY1, "sorted-set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order.", Shard(zset::cmd_zrevrangebylex), None, &[]),
    spec!("zcount", 4, READONLY | FAST, KEY1, "sorted-set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range.", Shard(zset::cmd_zcount), None, &[]),
    spec!("zlexcount", 4, READONLY | FAST, KEY1, "sorted-set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range.", Shard(zset::cmd_zlexcount), None, &[]),
    spec!("zremrangebyrank", 4, WRITE, KEY1, "sorted-set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", Shard(zset::cmd_zremrangebyrank), None, &[]),
    spec!("zremrangebyscore", 4, WRITE, KEY1, "sorted-set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", Shard(zset::cmd_zremrangebyscore), None, &[]),
    spec!("zremrangebylex", 4, WRITE, KEY1, "sorted-set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", Shard(zset::cmd_zremrangebylex), None, &[]),
    spec!("zpopmin", -2, WRITE | FAST, KEY1, "sorted-set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", Shard(zset::cmd_zpopmin), None, &[]),
    spec!("zpopmax", -2, WRITE | FAST, KEY1, "sorted-set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", Shard(zset::cmd_zpopmax), None, &[]),
    spec!(movable 1, "zmpop", -4, WRITE, NOKEYS, "sorted-set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", Shard(zset::cmd_zmpop), Some(Cross::Gather), &[]),
    spec!("zrandmember", -2, READONLY, KEY1, "sorted-set", "6.2.0", "Returns one or more random members from a sorted set.", Shard(zset::cmd_zrandmember), None, &[]),
    spec!(movable 1, "zunion", -3, READONLY, NOKEYS, "sorted-set", "6.2.0", "Returns the union of multiple sorted sets.", Shard(zset::cmd_zunion), Some(Cross::Gather), &[]),
    spec!(movable 1, "zinter", -3, READONLY, NOKEYS, "sorted-set", "6.2.0", "Returns the intersect of multiple sorted sets.", Shard(zset::cmd_zinter), Some(Cross::Gather), &[]),
    spec!(movable 1, "zdiff", -3, READONLY, NOKEYS, "sorted-set", "6.2.0", "Returns the difference between multiple sorted sets.", Shard(zset::cmd_zdiff), Some(Cross::Gather), &[]),
    spec!(movable 2, "zunionstore", -4, WRITE | DENYOOM, KEY1, "sorted-set", "2.0.0", "Stores the union of multiple sorted sets in a key.", Shard(zset::cmd_zunionstore), Some(Cross::Gather), &[]),
    spec!(movable 2, "zinterstore", -4, WRITE | DENYOOM, KEY1, "sorted-set", "2.0.0", "Stores the intersect of multiple sorted sets in a key.", Shard(zset::cmd_zinterstore), Some(Cross::Gather), &[]),
    spec!(movable 2, "zdiffstore", -4, WRITE | DENYOOM, KEY1, "sorted-set", "6.2.0", "Stores the difference of multiple sorted sets in a key.", Shard(zset::cmd_zdiffstore), Some(Cross::Gather), &[]),
    spec!(movable 1, "zintercard", -3, READONLY, NOKEYS, "sorted-set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.", Shard(zset::cmd_zintercard), Some(Cross::Gather), &[]),
    spec!("zscan", -3, READONLY, KEY1, "sorted-set", "2.8.0", "Iterates over members and scores of a sorted set.", Shard(zset::cmd_zscan), None, &[]),
    spec!("bzpopmin", -3, WRITE | FAST | BLOCKING, (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    spec!("bzpopmax", -3, WRITE | FAST | BLOCKING, (1, -2, 1), "sorted-set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    spec!(movable 2, "bzmpop", -5, WRITE | BLOCKING, NOKEYS, "sorted-set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", Conn(ConnCmd::Block), None, &[]),
    // (end of sorted set)
    // -- geo
    spec!("geoadd", -5, WRITE | DENYOOM, KEY1, "geo", "3.2.0", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", Shard(geo::cmd_geoadd), None, &[]),
    spec!("geodist", -4, READONLY, KEY1, "geo", "3.2.0", "Returns the distance between two members of a geospatial index.", Shard(geo::cmd_geodist), None, &[]),
    spec!("geohash", -2, READONLY, KEY1, "geo", "3.2.0", "Returns members from a geospatial index as geohash strings.", Shard(geo::cmd_geohash), None, &[]),
    spec!("geopos", -2, READONLY, KEY1, "geo", "3.2.0", "Returns the longitude and latitude of members from a geospatial index.", Shard(geo::cmd_geopos), None, &[]),
    spec!(store 6, "georadius", -6, WRITE | DENYOOM, KEY1, "geo", "3.2.0", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", Shard(geo::cmd_georadius), Some(Cross::Gather), &[]),
    spec!("georadius_ro", -6, READONLY, KEY1, "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a coordinate.", Shard(geo::cmd_georadius_ro), None, &[]),
    spec!(store 5, "georadiusbymember", -5, WRITE | DENYOOM, KEY1, "geo", "3.2.0", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", Shard(geo::cmd_georadiusbymember), Some(Cross::Gather), &[]),
    spec!("georadiusbymember_ro", -5, READONLY, KEY1, "geo", "3.2.10", "Returns members from a geospatial index that are within a distance from a member.", Shard(geo::cmd_georadiusbymember_ro), None, &[]),
    spec!("geosearch", -7, READONLY, KEY1, "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle.", Shard(geo::cmd_geosearch), None, &[]),
    spec!("geosearchstore", -8, WRITE | DENYOOM, (1, 2, 1), "geo", "6.2.0", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", Shard(geo::cmd_geosearchstore), Some(Cross::Gather), &[]),
    // (end of geo)
    // -- hyperloglog
    spec!("pfadd", -2, WRITE | DENYOOM | FAST, KEY1, "hyperloglog", "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", Shard(hyperloglog::cmd_pfadd), None, &[]),
    spec!("pfcount", -2, READONLY | MAY_REPLICATE, (1, -1, 1), "hyperloglog", "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", Shard(hyperloglog::cmd_pfcount), Some(Cross::Gather), &[]),
    spec!("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), "hyperloglog", "2.8.9", "Merges one or more HyperLogLog values into a single key.", Shard(hyperloglog::cmd_pfmerge), Some(Cross::Gather), &[]),
    spec!("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), "hyperloglog", "2.8.9", "Internal commands for debugging HyperLogLog values.", Shard(hyperloglog::cmd_pfdebug), None, &[]),
    spec!("pfselftest", 1, ADMIN, NOKEYS, "hyperloglog", "2.8.9", "An internal command for testing HyperLogLog values.", Shard(hyperloglog::cmd_pfselftest), None, &[]),
    // (end of hyperloglog)
    // -- hash
    spec!("hset", -4, WRITE | DENYOOM | FAST, KEY1, "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", Shard(hash::cmd_hset), None, &[]),
    spec!("hsetnx", 4, WRITE | DENYOOM | FAST, KEY1, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", Shard(hash::cmd_hsetnx), None, &[]),
    spec!("hmset", -4, WRITE | DENYOOM | FAST, KEY1, "hash", "2.0.0", "Sets the values of multiple fields.", Shard(hash::cmd_hmset), None, &[]),
    spec!("hget", 3, READONLY | FAST, KEY1, "hash", "2.0.0", "Returns the value of a field in a hash.", Shard(hash::cmd_hget), None, &[]),
    spec!("hmget", -3, READONLY | FAST, KEY1, "hash", "2.0.0", "Returns the values of all fields in a hash.", Shard(hash::cmd_hmget), None, &[]),
    spec!("hgetall", 2, READONLY, KEY1, "hash", "2.0.0", "Returns all fields and values in a hash.", Shard(hash::cmd_hgetall), None, &[]),
    spec!("hdel", -3, WRITE | FAST, KEY1, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", Shard(hash::cmd_hdel), None, &[]),
    spec!("hexists", 3, READONLY | FAST, KEY1, "hash", "2.0.0", "Determines whether a field exists in a hash.", Shard(hash::cmd_hexists), None, &[]),
    spec!("hlen", 2, READONLY | FAST, KEY1, "hash", "2.0.0", "Returns the number of fields in a hash.", Shard(hash::cmd_hlen), None, &[]),
    spec!("hkeys", 2, READONLY, KEY1, "hash", "2.0.0", "Returns all fields in a hash.", Shard(hash::cmd_hkeys), None, &[]),
    spec!("hvals", 2, READONLY, KEY1, "hash", "2.0.0", "Returns all values in a hash.", Shard(hash::cmd_hvals), None, &[]),
    spec!("hincrby", 4, WRITE | DENYOOM | FAST, KEY1, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", Shard(hash::cmd_hincrby), None, &[]),
    spec!("hincrbyfloat", 4, WRITE | DENYOOM | FAST, KEY1, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", Shard(hash::cmd_hincrbyfloat), None, &[]),
    spec!("hstrlen", 3, READONLY | FAST, KEY1, "hash", "3.2.0", "Returns the length of the value of a field.", Shard(hash::cmd_hstrlen), None, &[]),
    spec!("hrandfield", -2, READONLY, KEY1, "hash", "6.2.0", "Returns one or more random fields from a hash.", Shard(hash::cmd_hrandfield), None, &[]),
    spec!("hscan", -3, READONLY, KEY1, "hash", "2.8.0", "Iterates over fields and values of a hash.", Shard(hash::cmd_hscan), None, &[]),
    spec!("hexpire", -6, WRITE | FAST, KEY1, "hash", "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", Shard(hash::cmd_hexpire), None, &[]),
    spec!("hpexpire", -6, WRITE | FAST, KEY1, "hash", "7.4.0", "Set expiry for hash field using relative time to expire (milliseconds)", Shard(hash::cmd_hpexpire), None, &[]),
    spec!("hexpireat", -6, WRITE | FAST, KEY1, "hash", "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (seconds)", Shard(hash::cmd_hexpireat), None, &[]),
    spec!("hpexpireat", -6, WRITE | FAST, KEY1, "hash", "7.4.0", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", Shard(hash::cmd_hpexpireat), None, &[]),
    spec!("httl", -5, READONLY | FAST, KEY1, "hash", "7.4.0", "Returns the TTL in seconds of a hash field.", Shard(hash::cmd_httl), None, &[]),
    spec!("hpttl", -5, READONLY | FAST, KEY1, "hash", "7.4.0", "Returns the TTL in milliseconds of a hash field.", Shard(hash::cmd_hpttl), None, &[]),
    spec!("hexpiretime", -5, READONLY | FAST, KEY1, "hash", "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", Shard(hash::cmd_hexpiretime), None, &[]),
    spec!("hpexpiretime", -5, READONLY | FAST, KEY1, "hash", "7.4.0", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", Shard(hash::cmd_hpexpiretime), None, &[]),
    spec!("hpersist", -5, WRITE | FAST, KEY1, "hash", "7.4.0", "Removes the expiration time for each specified field", Shard(hash::cmd_hpersist), None, &[]),
    spec!("hgetdel", -5, WRITE | FAST, KEY1, "hash", "8.0.0", "Returns the value of a field and deletes it from the hash.", Shard(hash::cmd_hgetdel), None, &[]),
    spec!("hgetex", -5, WRITE | FAST, KEY1, "hash", "8.0.0", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", Shard(hash::cmd_hgetex), None, &[]),
    spec!("hsetex", -6, WRITE | DENYOOM | FAST, KEY1, "hash", "8.0.0", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", Shard(hash::cmd_hsetex), None, &[]),
    // (end of hash)
    // -- list (end of list)
    // -- set (end of set)
    // -- sorted set (end of sorted set)
    // -- hyperloglog (end of hyperloglog)
    // -- stream
    spec!("xadd", -5, WRITE | DENYOOM | FAST, KEY1, "stream", "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist.", Shard(stream::cmd_xadd), None, &[]),
    spec!("xrange", -4, READONLY, KEY1, "stream", "5.0.0", "Returns the messages from a stream within a range of IDs.", Shard(stream::cmd_xrange), None, &[]),
    spec!("xrevrange", -4, READONLY, KEY1, "stream", "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order.", Shard(stream::cmd_xrevrange), None, &[]),
    spec!("xlen", 2, READONLY | FAST, KEY1, "stream", "5.0.0", "Return the number of messages in a stream.", Shard(stream::cmd_xlen), None, &[]),
    spec!("xdel", -3, WRITE | FAST, KEY1, "stream", "5.0.0", "Returns the number of messages after removing them from a stream.", Shard(stream::cmd_xdel), None, &[]),
    spec!("xtrim", -4, WRITE, KEY1, "stream", "5.0.0", "Deletes messages from the beginning of a stream.", Shard(stream::cmd_xtrim), None, &[]),
    spec!(streams 1, "xread", -4, READONLY | BLOCKING, NOKEYS, "stream", "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", Shard(stream::cmd_xread), Some(Cross::Streams), &[]),
    spec!(streams 4, "xreadgroup", -7, WRITE | BLOCKING, NOKEYS, "stream", "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", Shard(stream::cmd_xread), Some(Cross::Streams), &[]),
    spec!("xgroup", -2, 0, (2, 2, 1), "stream", "5.0.0", "A container for consumer groups commands.", Shard(stream::cmd_xgroup), None, XGROUP_SUBS),
    spec!("xack", -4, WRITE | FAST, KEY1, "stream", "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", Shard(stream::cmd_xack), None, &[]),
    spec!("xpending", -3, READONLY, KEY1, "stream", "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list.", Shard(stream::cmd_xpending), None, &[]),
    spec!("xclaim", -6, WRITE | FAST, KEY1, "stream", "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", Shard(stream::cmd_xclaim), None, &[]),
    spec!("xautoclaim", -6, WRITE | FAST, KEY1, "stream", "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", Shard(stream::cmd_xautoclaim), None, &[]),
    spec!("xinfo", -2, 0, (2, 2, 1), "stream", "5.0.0", "A container for stream introspection commands.", Shard(stream::cmd_xinfo), None, XINFO_SUBS),
    spec!("xsetid", -3, WRITE | DENYOOM | FAST, KEY1, "stream", "5.0.0", "An internal command for replicating stream values.", Shard(stream::cmd_xsetid), None, &[]),
    // (end of stream)
    // -- generic (keys)
    spec!("del", -2, WRITE, (1, -1, 1), "generic", "1.0.0", "Deletes one or more keys.", Shard(keys::cmd_del), Some(Cross::CountKeys), &[]),
    spec!("unlink", -2, WRITE | FAST, (1, -1, 1), "generic", "4.0.0", "Asynchronously deletes one or more keys.", Shard(keys::cmd_del), Some(Cross::CountKeys), &[]),
    spec!("exists", -2, READONLY | FAST, (1, -1, 1), "generic", "1.0.0", "Determines whether one or more keys exist.", Shard(keys::cmd_exists), Some(Cross::CountKeys), &[]),
    spec!("touch", -2, READONLY | FAST, (1, -1, 1), "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", Shard(keys::cmd_touch), Some(Cross::CountKeys), &[]),
    spec!("type", 2, READONLY | FAST, KEY1, "generic", "1.0.0", "Determines the type of value stored at a key.", Shard(keys::cmd_type), None, &[]),
    spec!("expire", -3, WRITE | FAST, KEY1, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", Shard(keys::cmd_expire), None, &[]),
    spec!("pexpire", -3, WRITE | FAST, KEY1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", Shard(keys::cmd_pexpire), None, &[]),
    spec!("expireat", -3, WRITE | FAST, KEY1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", Shard(keys::cmd_expireat), None, &[]),
    spec!("pexpireat", -3, WRITE | FAST, KEY1, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", Shard(keys::cmd_pexpireat), None, &[]),
    spec!("ttl", 2, READONLY | FAST, KEY1, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", Shard(keys::cmd_ttl), None, &[]),
    spec!("pttl", 2, READONLY | FAST, KEY1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", Shard(keys::cmd_pttl), None, &[]),
    spec!("expiretime", 2, READONLY | FAST, KEY1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", Shard(keys::cmd_expiretime), None, &[]),
    spec!("pexpiretime", 2, READONLY | FAST, KEY1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", Shard(keys::cmd_pexpiretime), None, &[]),
    spec!("persist", 2, WRITE | FAST, KEY1, "generic", "2.2.0", "Removes the expiration time of a key.", Shard(keys::cmd_persist), None, &[]),
    spec!("rename", 3, WRITE, (1, 2, 1), "generic", "1.0.0", "Renames a key and overwrites the destination.", Shard(keys::cmd_rename), Some(Cross::Gather), &[]),
    spec!("renamenx", 3, WRITE | FAST, (1, 2, 1), "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", Shard(keys::cmd_renamenx), Some(Cross::Gather), &[]),
    spec!("copy", -3, WRITE | DENYOOM | CROSS_DB, (1, 2, 1), "generic", "6.2.0", "Copies the value of a key to a new key.", Shard(keys::cmd_copy), Some(Cross::Gather), &[]),
    spec!("move", 3, WRITE | FAST | CROSS_DB, KEY1, "generic", "1.0.0", "Moves a key to another database.", Shard(keys::cmd_move), None, &[]),
    spec!("object", -2, READONLY, (2, 2, 1), "generic", "2.2.3", "A container for object introspection commands.", Shard(keys::cmd_object), None, OBJECT_SUBS),
    spec!("dump", 2, READONLY, KEY1, "generic", "2.6.0", "Returns a serialized representation of the value stored at a key.", Shard(dump::cmd_dump), None, &[]),
    spec!("restore", -4, WRITE | DENYOOM, KEY1, "generic", "2.6.0", "Creates a key from the serialized representation of a value.", Shard(dump::cmd_restore), None, &[]),
    spec!("keys", 2, READONLY, NOKEYS, "generic", "1.0.0", "Returns all key names that match a pattern.", Conn(ConnCmd::Keys), None, &[]),
    spec!("scan", -2, READONLY, NOKEYS, "generic", "2.8.0", "Iterates over the key names in the database.", Conn(ConnCmd::Scan), None, &[]),
    spec!("randomkey", 1, READONLY, NOKEYS, "generic", "1.0.0", "Returns a random key name from the database.", Conn(ConnCmd::RandomKey), None, &[]),
    spec!("dbsize", 1, READONLY | FAST, NOKEYS, "server", "1.0.0", "Returns the number of keys in the database.", Conn(ConnCmd::DbSize), None, &[]),
    spec!("flushdb", -1, WRITE, NOKEYS, "server", "1.0.0", "Remove all keys from the current database.", Conn(ConnCmd::FlushDb), None, &[]),
    spec!("flushall", -1, WRITE, NOKEYS, "server", "1.0.0", "Removes all keys from all databases.", Conn(ConnCmd::FlushAll), None, &[]),
    spec!("swapdb", 3, WRITE | FAST, NOKEYS, "server", "4.0.0", "Swaps two Redis databases.", Conn(ConnCmd::SwapDb), None, &[]),
    spec!("memory", -2, 0, (2, 2, 1), "server", "4.0.0", "A container for memory diagnostics commands.", Conn(ConnCmd::Memory), None, MEMORY_SUBS),
    // -- connection
    spec!("ping", -1, FAST, NOKEYS, "connection", "1.0.0", "Returns the server's liveliness response.", Shard(connection::cmd_ping), None, &[]),
    spec!("echo", 2, FAST, NOKEYS, "connection", "1.0.0", "Returns the given string.", Shard(connection::cmd_echo), None, &[]),
    spec!("select", 2, LOADING | STALE | FAST, NOKEYS, "connection", "1.0.0", "Changes the selected database.", Conn(ConnCmd::Select), None, &[]),
    spec!("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, NOKEYS, "connection", "6.0.0", "Handshakes with the Redis server.", Conn(ConnCmd::Hello), None, &[]),
    spec!("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY, NOKEYS, "connection", "1.0.0", "Authenticates the connection.", Conn(ConnCmd::Auth), None, &[]),
    spec!("quit", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NOKEYS, "connection", "1.0.0", "Closes the connection.", Conn(ConnCmd::Quit), None, &[]),
    spec!("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NOKEYS, "connection", "6.2.0", "Resets the connection.", Conn(ConnCmd::Reset), None, &[]),
    spec!("client", -2, NOSCRIPT | LOADING | STALE, NOKEYS, "connection", "2.4.0", "A container for client connection commands.", Conn(ConnCmd::Client), None, CLIENT_SUBS),
    // -- transactions
    spec!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NOKEYS, "transactions", "1.2.0", "Starts a transaction.", Conn(ConnCmd::Multi), None, &[]),
    spec!("exec", 1, NOSCRIPT | LOADING | STALE, NOKEYS, "transactions", "1.2.0", "Executes all commands in a transaction.", Conn(ConnCmd::Exec), None, &[]),
    spec!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NOKEYS, "transactions", "2.0.0", "Discards a transaction.", Conn(ConnCmd::Discard), None, &[]),
    spec!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, (1, -1, 1), "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", Conn(ConnCmd::Watch), None, &[]),
    spec!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NOKEYS, "transactions", "2.2.0", "Forgets about watched keys of a transaction.", Conn(ConnCmd::Unwatch), None, &[]),
    // (end of transactions)
    // -- scripting
    spec!(movable 2, "eval", -3, NOSCRIPT | MAY_REPLICATE | STALE, (0, 0, 0), "scripting", "2.6.0", "Executes a server-side Lua script.", Conn(ConnCmd::Eval), None, &[]),
    spec!(movable 2, "evalsha", -3, NOSCRIPT | MAY_REPLICATE | STALE, (0, 0, 0), "scripting", "2.6.0", "Executes a server-side Lua script by SHA1 digest.", Conn(ConnCmd::Eval), None, &[]),
    spec!(movable 2, "eval_ro", -3, NOSCRIPT | STALE | READONLY, (0, 0, 0), "scripting", "7.0.0", "Executes a read-only server-side Lua script.", Conn(ConnCmd::Eval), None, &[]),
    spec!(movable 2, "evalsha_ro", -3, NOSCRIPT | STALE | READONLY, (0, 0, 0), "scripting", "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest.", Conn(ConnCmd::Eval), None, &[]),
    spec!(movable 2, "fcall", -3, NOSCRIPT | MAY_REPLICATE | STALE, (0, 0, 0), "scripting", "7.0.0", "Invokes a function.", Conn(ConnCmd::Eval), None, &[]),
    spec!(movable 2, "fcall_ro", -3, NOSCRIPT | STALE | READONLY, (0, 0, 0), "scripting", "7.0.0", "Invokes a read-only function.", Conn(ConnCmd::Eval), None, &[]),
    spec!("script", -2, 0, NOKEYS, "scripting", "2.6.0", "A container for Lua scripts management commands.", Conn(ConnCmd::Script), None, SCRIPT_SUBS),
    spec!("function", -2, 0, NOKEYS, "scripting", "7.0.0", "A container for function commands.", Conn(ConnCmd::Function), None, FUNCTION_SUBS),
    // (end of scripting)
    // -- pubsub
    spec!("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, "pubsub", "2.0.0", "Listens for messages published to channels.", Conn(ConnCmd::Subscribe(Kind::Channel)), None, &[]),
    spec!("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, "pubsub", "2.0.0", "Stops listening to messages posted to channels.", Conn(ConnCmd::Unsubscribe(Kind::Channel)), None, &[]),
    spec!("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", Conn(ConnCmd::Subscribe(Kind::Pattern)), None, &[]),
    spec!("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NOKEYS, "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", Conn(ConnCmd::Unsubscribe(Kind::Pattern)), None, &[]),
    spec!("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | CHANNEL_KEYS, (1, -1, 1), "pubsub", "7.0.0", "Listens for messages published to shard channels.", Conn(ConnCmd::Subscribe(Kind::ShardChannel)), None, &[]),
    spec!("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | CHANNEL_KEYS, (1, -1, 1), "pubsub", "7.0.0", "Stops listening to messages posted to shard channels.", Conn(ConnCmd::Unsubscribe(Kind::ShardChannel)), None, &[]),
    spec!("publish", 3, PUBSUB | LOADING | STALE | FAST | CHANNEL_KEYS | HIDE_KEYS, KEY1, "pubsub", "2.0.0", "Posts a message to a channel.", Shard(pubsub::cmd_publish), None, &[]),
    spec!("spublish", 3, PUBSUB | LOADING | STALE | FAST | CHANNEL_KEYS, KEY1, "pubsub", "7.0.0", "Post a message to a shard channel", Shard(pubsub::cmd_spublish), None, &[]),
    spec!("pubsub", -2, 0, NOKEYS, "pubsub", "2.8.0", "A container for Pub/Sub commands.", Conn(ConnCmd::PubSub), None, PUBSUB_SUBS),
    // (end of pubsub)
    // -- server
    spec!("info", -1, LOADING | STALE, NOKEYS, "server", "1.0.0", "Returns information and statistics about the server.", Conn(ConnCmd::Info), None, &[]),
    spec!("config", -2, NOSCRIPT | LOADING | STALE, NOKEYS, "server", "2.0.0", "A container for server configuration commands.", Conn(ConnCmd::Config), None, CONFIG_SUBS),
    spec!("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE, NOKEYS, "server", "1.0.0", "A container for debugging commands.", Conn(ConnCmd::Debug), None, DEBUG_SUBS),
    spec!("command", -1, LOADING | STALE, NOKEYS, "server", "2.8.13", "Returns detailed information about all commands.", Conn(ConnCmd::Command), None, COMMAND_SUBS),
    spec!("slowlog", -2, 0, NOKEYS, "server", "2.2.12", "A container for slow log commands.", Conn(ConnCmd::Slowlog), None, SLOWLOG_SUBS),
    spec!("latency", -2, 0, NOKEYS, "server", "2.8.13", "A container for latency diagnostics commands.", Conn(ConnCmd::Latency), None, LATENCY_SUBS),
    spec!("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, NOKEYS, "server", "1.0.0", "Listens for all requests received by the server in real-time.", Conn(ConnCmd::Monitor), None, &[]),
    spec!("time", 1, LOADING | STALE | FAST, NOKEYS, "server", "2.6.0", "Returns the server time.", Shard(server::cmd_time), None, &[]),
    spec!("acl", -2, SENTINEL, NOKEYS, "server", "6.0.0", "A container for Access List Control commands.", Conn(ConnCmd::Acl), None, ACL_SUBS),
    spec!("save", 1, ADMIN | NOSCRIPT | NO_MULTI, NOKEYS, "server", "1.0.0", "Synchronously saves the database(s) to disk.", Conn(ConnCmd::Save), None, &[]),
    spec!("bgsave", -1, ADMIN | NOSCRIPT, NOKEYS, "server", "1.0.0", "Asynchronously saves the database(s) to disk.", Conn(ConnCmd::BgSave), None, &[]),
    spec!("bgrewriteaof", 1, ADMIN | NOSCRIPT, NOKEYS, "server", "1.0.0", "Asynchronously rewrites the append-only file to disk.", Conn(ConnCmd::BgRewriteAof), None, &[]),
    spec!("lastsave", 1, LOADING | STALE | FAST, NOKEYS, "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", Conn(ConnCmd::LastSave), None, &[]),
    spec!("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY, NOKEYS, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", Conn(ConnCmd::Shutdown), None, &[]),
];

fn index() -> &'static HashMap<&'static [u8], &'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static [u8], &'static CommandSpec>> = OnceLock::new();
    INDEX.get_or_init(|| TABLE.iter().map(|c| (c.name.as_bytes(), c)).collect())
}

/// Finds a command by name, case-insensitively, without allocating.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    index().get(&buf[..name.len()]).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").unwrap().name, "get");
        assert!(lookup(b"nosuch").is_none());
        assert_eq!(lookup(b"set").unwrap().index(), 1);
    }

    #[test]
    fn key_positions() {
        let mset = lookup(b"mset").unwrap();
        let keys = |c: &CommandSpec, words: &[&str]| {
            let (buf, ranges) = crate::command::args::args_of(words);
            c.key_indices(&Args::new(&buf, &ranges)).collect::<Vec<_>>()
        };
        assert_eq!(keys(mset, &["mset", "a", "1", "b", "2"]), vec![1, 3]);
        let del = lookup(b"del").unwrap();
        assert_eq!(keys(del, &["del", "a", "b", "c"]), vec![1, 2, 3]);
        let obj = lookup(b"object").unwrap();
        assert!(keys(obj, &["object", "help"]).is_empty());
        assert_eq!(keys(obj, &["object", "encoding", "k"]), vec![2]);
        assert!(keys(lookup(b"ping").unwrap(), &["ping", "x"]).is_empty());
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in TABLE {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "{} twice", c.name);
        }
    }
}
