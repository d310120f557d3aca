//! Key specifications, Redis 7's description of where a command's keys
//! are and how it uses them (`RO access`, `OW update`, `RM delete` ...):
//! COMMAND GETKEYS and GETKEYSANDFLAGS read keys through them as Redis
//! does. The table is Redis 7.4's key specs as data, one line per command.
//! Not on the request path: routing uses [`CommandSpec::key_indices`].
//!
//! [`CommandSpec::key_indices`]: super::table::CommandSpec::key_indices

/// Read-only access to the key's value.
pub const RO: u16 = 1 << 0;
/// Read and write.
pub const RW: u16 = 1 << 1;
/// Overwrite: the old value is not read.
pub const OW: u16 = 1 << 2;
/// Remove the key.
pub const RM: u16 = 1 << 3;
pub const ACCESS: u16 = 1 << 4;
pub const UPDATE: u16 = 1 << 5;
pub const INSERT: u16 = 1 << 6;
pub const DELETE: u16 = 1 << 7;
/// An argument routed like a key that is not one (a channel).
pub const NOT_KEY: u16 = 1 << 8;
/// The spec may miss keys: ask the command's own key finder.
pub const INCOMPLETE: u16 = 1 << 9;
/// The flags depend on other arguments: ask the command's own key finder.
pub const VARIABLE_FLAGS: u16 = 1 << 10;

/// The flag names in Redis's reply order.
const FLAG_NAMES: [(u16, &str); 11] = [
    (RO, "RO"),
    (RW, "RW"),
    (OW, "OW"),
    (RM, "RM"),
    (ACCESS, "access"),
    (UPDATE, "update"),
    (INSERT, "insert"),
    (DELETE, "delete"),
    (NOT_KEY, "not_key"),
    (INCOMPLETE, "incomplete"),
    (VARIABLE_FLAGS, "variable_flags"),
];

/// The names of the flags set in `flags`, in Redis's order.
pub fn flag_names(flags: u16) -> impl Iterator<Item = &'static str> {
    FLAG_NAMES.iter().filter(move |(f, _)| flags & f != 0).map(|(_, n)| *n)
}

/// Where the search for a spec's keys begins.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from the argument given (from the end
    /// backwards when negative).
    Keyword(&'static str, i32),
    Unknown,
}

/// Which arguments from the beginning are keys.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// (last key relative to the first, or from the end when negative;
    /// step; limit: with last -1, only 1/limit of what remains).
    Range(i32, i32, i32),
    /// (index of a key count relative to the beginning, first key
    /// relative to it, step).
    Keynum(i32, i32, i32),
    Unknown,
}

/// One key spec.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub flags: u16,
    pub begin: Begin,
    pub find: Find,
}

const fn ks(flags: u16, begin: Begin, find: Find) -> KeySpec {
    KeySpec { flags, begin, find }
}

/// The key specs of a command by its full lowercase name (`xgroup|create`
/// for a subcommand); empty for a command without keys.
pub fn of(name: &str) -> &'static [KeySpec] {
    SPECS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .map_or(&[], |i| SPECS[i].1)
}

/// Commands that may be called without keys (Redis's NO_MANDATORY_KEYS):
/// GETKEYS then answers an empty list rather than an error.
pub fn keys_optional(name: &str) -> bool {
    matches!(
        name,
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// The flags the command's own key finder gives its keys (SET with GET
/// reads the old value, BITFIELD with only GETs is a read); 0 for others.
pub fn finder_flags(name: &str, argv: &[&[u8]]) -> u16 {
    match name {
        "set" if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) => RW | ACCESS | UPDATE,
        "set" => OW | UPDATE,
        "bitfield" if bitfield_reads_only(argv) => RO | ACCESS,
        "bitfield" => RW | ACCESS | UPDATE,
        _ => 0,
    }
}

/// Whether BITFIELD's operations are GETs only (a malformed one counts
/// as a write, the safe side).
fn bitfield_reads_only(argv: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < argv.len() {
        let rest = argv.len() - i - 1;
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"get") && rest >= 2 {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// Whether `specs` describe the keys fully: some spec names a real key,
/// none has flags that depend on the arguments, none is incomplete or
/// unknown (else Redis asks the command's own key finder).
pub fn complete(specs: &[KeySpec]) -> bool {
    specs.iter().any(|s| s.flags & NOT_KEY == 0)
        && specs.iter().all(|s| {
            s.flags & (VARIABLE_FLAGS | INCOMPLETE) == 0
                && !matches!(s.begin, Begin::Unknown)
                && !matches!(s.find, Find::Unknown)
        })
}

/// The keys of `argv` (the command name first) with their flags, found
/// through `specs` as Redis's getKeysUsingKeySpecs finds them; None when a
/// spec does not fit the arguments or is incomplete.
pub fn find_keys(specs: &[KeySpec], argv: &[&[u8]]) -> Option<Vec<(usize, u16)>> {
    let argc = argv.len() as i64;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.flags & NOT_KEY != 0 {
            continue;
        }
        let first = match spec.begin {
            Begin::Index(pos) => pos as i64,
            Begin::Keyword(word, from) => {
                // Forwards up to (not including) the last argument, or
                // backwards down to argument 2.
                let found = if from > 0 {
                    (from as i64..argc - 1).find(|&i| argv[i as usize].eq_ignore_ascii_case(word.as_bytes()))
                } else {
                    let start = argc + from as i64;
                    (2..=start)
                        .rev()
                        .find(|&i| i < argc && argv[i as usize].eq_ignore_ascii_case(word.as_bytes()))
                };
                match found {
                    Some(i) => i + 1,
                    None => continue,
                }
            }
            Begin::Unknown => return None,
        };
        let (first, last, step) = match spec.find {
            Find::Range(last, step, limit) => {
                let last = if last >= 0 {
                    first + last as i64
                } else if limit == 0 {
                    argc + last as i64
                } else {
                    first + ((argc - first) / limit as i64 + last as i64)
                };
                (first, last, step as i64)
            }
            Find::Keynum(idx, firstkey, step) => {
                let at = first + idx as i64;
                if idx as i64 >= argc || at >= argc {
                    return None;
                }
                let n = super::args::parse_i64(argv[at as usize])?;
                if n < 0 {
                    return None;
                }
                let first = first + firstkey as i64;
                (first, first + n - 1, step as i64)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            keys.push((i as usize, spec.flags));
            i += step.max(1);
        }
        if spec.flags & INCOMPLETE != 0 {
            return None;
        }
    }
    Some(keys)
}

#[rustfmt::skip]
static SPECS: &[(&str, &[KeySpec])] = &[
    ("append", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("bitcount", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("bitfield", &[ks(RW | UPDATE | ACCESS | VARIABLE_FLAGS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("bitfield_ro", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("bitop", &[ks(OW | UPDATE, Begin::Index(2), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(3), Find::Range(-1, 1, 0))]),
    ("bitpos", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("blmove", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("blmpop", &[ks(RW | ACCESS | DELETE, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("blpop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(-2, 1, 0))]),
    ("brpop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(-2, 1, 0))]),
    ("brpoplpush", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("bzmpop", &[ks(RW | ACCESS | DELETE, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("bzpopmax", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(-2, 1, 0))]),
    ("bzpopmin", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(-2, 1, 0))]),
    ("copy", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0)), ks(OW | UPDATE, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("decr", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("decrby", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("del", &[ks(RM | DELETE, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("dump", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("eval", &[ks(RW | ACCESS | UPDATE, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("eval_ro", &[ks(RO | ACCESS, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("evalsha", &[ks(RW | ACCESS | UPDATE, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("evalsha_ro", &[ks(RO | ACCESS, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("exists", &[ks(RO, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("expire", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("expireat", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("expiretime", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("fcall", &[ks(RW | ACCESS | UPDATE, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("fcall_ro", &[ks(RO | ACCESS, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("geoadd", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("geodist", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("geohash", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("geopos", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("georadius", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0)), ks(OW | UPDATE, Begin::Keyword("STORE", 6), Find::Range(0, 1, 0)), ks(OW | UPDATE, Begin::Keyword("STOREDIST", 6), Find::Range(0, 1, 0))]),
    ("georadius_ro", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("georadiusbymember", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0)), ks(OW | UPDATE, Begin::Keyword("STORE", 5), Find::Range(0, 1, 0)), ks(OW | UPDATE, Begin::Keyword("STOREDIST", 5), Find::Range(0, 1, 0))]),
    ("georadiusbymember_ro", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("geosearch", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("geosearchstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("get", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("getbit", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("getdel", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("getex", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("getrange", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("getset", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hdel", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hexists", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hexpire", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hexpireat", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hexpiretime", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hget", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hgetall", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hincrby", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hincrbyfloat", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hkeys", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hlen", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hmget", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hmset", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hpersist", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hpexpire", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hpexpireat", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hpexpiretime", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hpttl", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hrandfield", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hscan", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hset", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hsetnx", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hstrlen", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("httl", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("hvals", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("incr", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("incrby", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("incrbyfloat", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lcs", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(1, 1, 0))]),
    ("lindex", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("linsert", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("llen", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lmove", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("lmpop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("lpop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lpos", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lpush", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lpushx", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lrange", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lrem", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("lset", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("ltrim", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("memory|usage", &[ks(RO, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("mget", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("migrate", &[ks(RW | ACCESS | DELETE, Begin::Index(3), Find::Range(0, 1, 0)), ks(RW | ACCESS | DELETE | INCOMPLETE, Begin::Keyword("KEYS", -2), Find::Range(-1, 1, 0))]),
    ("move", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("mset", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(-1, 2, 0))]),
    ("msetnx", &[ks(OW | INSERT, Begin::Index(1), Find::Range(-1, 2, 0))]),
    ("object|encoding", &[ks(RO, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("object|freq", &[ks(RO, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("object|idletime", &[ks(RO, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("object|refcount", &[ks(RO, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("persist", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("pexpire", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("pexpireat", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("pexpiretime", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("pfadd", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("pfcount", &[ks(RW | ACCESS, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("pfdebug", &[ks(RW | ACCESS, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("pfmerge", &[ks(RW | ACCESS | INSERT, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Range(-1, 1, 0))]),
    ("psetex", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("pttl", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("rename", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(OW | UPDATE, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("renamenx", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(OW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("restore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("restore-asking", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("rpop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("rpoplpush", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("rpush", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("rpushx", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("sadd", &[ks(RW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("scard", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("sdiff", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("sdiffstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Range(-1, 1, 0))]),
    ("set", &[ks(RW | ACCESS | UPDATE | VARIABLE_FLAGS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("setbit", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("setex", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("setnx", &[ks(OW | INSERT, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("setrange", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("sinter", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("sintercard", &[ks(RO | ACCESS, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("sinterstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Range(-1, 1, 0))]),
    ("sismember", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("smembers", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("smismember", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("smove", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("sort", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Unknown, Find::Unknown), ks(OW | UPDATE, Begin::Unknown, Find::Unknown)]),
    ("sort_ro", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Unknown, Find::Unknown)]),
    ("spop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("spublish", &[ks(NOT_KEY, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("srandmember", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("srem", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("sscan", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("ssubscribe", &[ks(NOT_KEY, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("strlen", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("substr", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("sunion", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("sunionstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Range(-1, 1, 0))]),
    ("sunsubscribe", &[ks(NOT_KEY, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("touch", &[ks(RO, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("ttl", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("type", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("unlink", &[ks(RM | DELETE, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("watch", &[ks(RO, Begin::Index(1), Find::Range(-1, 1, 0))]),
    ("xack", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xadd", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xautoclaim", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xclaim", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xdel", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xgroup|create", &[ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xgroup|createconsumer", &[ks(RW | INSERT, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xgroup|delconsumer", &[ks(RW | DELETE, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xgroup|destroy", &[ks(RW | DELETE, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xgroup|setid", &[ks(RW | UPDATE, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xinfo|consumers", &[ks(RO | ACCESS, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xinfo|groups", &[ks(RO | ACCESS, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xinfo|stream", &[ks(RO | ACCESS, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("xlen", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xpending", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xrange", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xread", &[ks(RO | ACCESS, Begin::Keyword("STREAMS", 1), Find::Range(-1, 1, 2))]),
    ("xreadgroup", &[ks(RO | ACCESS, Begin::Keyword("STREAMS", 4), Find::Range(-1, 1, 2))]),
    ("xrevrange", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xsetid", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("xtrim", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zadd", &[ks(RW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zcard", &[ks(RO, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zcount", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zdiff", &[ks(RO | ACCESS, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("zdiffstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("zincrby", &[ks(RW | ACCESS | UPDATE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zinter", &[ks(RO | ACCESS, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("zintercard", &[ks(RO | ACCESS, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("zinterstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Keynum(0, 1, 1))]),
    ("zlexcount", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zmpop", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("zmscore", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zpopmax", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zpopmin", &[ks(RW | ACCESS | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrandmember", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrange", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrangebylex", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrangebyscore", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrangestore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Range(0, 1, 0))]),
    ("zrank", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrem", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zremrangebylex", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zremrangebyrank", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zremrangebyscore", &[ks(RW | DELETE, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrevrange", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrevrangebylex", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrevrangebyscore", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zrevrank", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zscan", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zscore", &[ks(RO | ACCESS, Begin::Index(1), Find::Range(0, 1, 0))]),
    ("zunion", &[ks(RO | ACCESS, Begin::Index(1), Find::Keynum(0, 1, 1))]),
    ("zunionstore", &[ks(OW | UPDATE, Begin::Index(1), Find::Range(0, 1, 0)), ks(RO | ACCESS, Begin::Index(2), Find::Keynum(0, 1, 1))]),
];
