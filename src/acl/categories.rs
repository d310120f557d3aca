//! ACL command ids, categories and key permissions, derived from the
//! command table (one source for COMMAND INFO, ACL CAT and `+@category`).

use std::sync::OnceLock;

use hashbrown::HashMap;

use super::{PERM_R, PERM_RW, PERM_W};
use crate::command::flags::*;
use crate::command::table::SubSpec;
use crate::command::{Args, CommandSpec, TABLE};

/// Category names in Redis's order (ACL CAT, COMMAND INFO).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

const fn cat(name: &str) -> u32 {
    let mut i = 0;
    while i < CATEGORIES.len() {
        if const_eq(CATEGORIES[i], name) {
            return 1 << i;
        }
        i += 1;
    }
    panic!("unknown category")
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The bit of a category name (case-insensitive).
pub fn category_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// `@name` strings of a category mask, in Redis's order.
pub fn category_names(mask: u32) -> Vec<&'static str> {
    const AT: [&str; 21] = [
        "@keyspace",
        "@read",
        "@write",
        "@set",
        "@sortedset",
        "@list",
        "@hash",
        "@string",
        "@bitmap",
        "@hyperloglog",
        "@geo",
        "@stream",
        "@pubsub",
        "@admin",
        "@fast",
        "@slow",
        "@blocking",
        "@dangerous",
        "@connection",
        "@transaction",
        "@scripting",
    ];
    (0..AT.len()).filter(|i| mask & (1 << i) != 0).map(|i| AT[i]).collect()
}

/// Categories Redis declares that neither flags nor group imply.
const EXTRA: &[(&str, u32)] = &[
    ("keys", cat("dangerous")),
    ("info", cat("dangerous")),
    ("dbsize", cat("keyspace")),
    ("flushdb", cat("keyspace") | cat("dangerous")),
    ("flushall", cat("keyspace") | cat("dangerous")),
    ("swapdb", cat("keyspace") | cat("dangerous")),
];

/// A command's categories, as Redis derives them: declared by group, plus
/// those its flags imply (write, read, admin+dangerous, pubsub, fast or
/// slow, blocking). Containers are only `@slow`.
pub fn categories(name: &str, flags: u32, group: &str, container: bool) -> u32 {
    if container {
        return cat("slow");
    }
    let mut c = match group {
        "string" => cat("string"),
        "bitmap" => cat("bitmap"),
        "generic" => cat("keyspace"),
        "hash" => cat("hash"),
        "list" => cat("list"),
        "set" => cat("set"),
        "sorted-set" => cat("sortedset"),
        "hyperloglog" => cat("hyperloglog"),
        "geo" => cat("geo"),
        "stream" => cat("stream"),
        "pubsub" => cat("pubsub"),
        "connection" => cat("connection"),
        "transactions" => cat("transaction"),
        "scripting" => cat("scripting"),
        _ => 0,
    };
    if flags & WRITE != 0 {
        c |= cat("write");
    }
    if flags & READONLY != 0 && group != "scripting" {
        c |= cat("read");
    }
    if flags & ADMIN != 0 {
        c |= cat("admin") | cat("dangerous");
    }
    if flags & DANGEROUS != 0 {
        c |= cat("dangerous");
    }
    if flags & PUBSUB != 0 {
        c |= cat("pubsub");
    }
    c |= if flags & FAST != 0 { cat("fast") } else { cat("slow") };
    if flags & BLOCKING != 0 {
        c |= cat("blocking");
    }
    if name == "command" || name.starts_with("command|") {
        c |= cat("connection");
    }
    if let Some((_, extra)) = EXTRA.iter().find(|(n, _)| *n == name) {
        c |= extra;
    }
    c
}

/// The categories of a table command.
pub fn spec_categories(c: &CommandSpec) -> u32 {
    categories(c.name, c.flags, c.group, !c.subcommands.is_empty())
}

/// The categories of a subcommand of `parent`.
pub fn sub_categories(parent: &CommandSpec, s: &SubSpec) -> u32 {
    categories(s.name, s.flags, parent.group, false)
}

/// Every command and subcommand with an ACL id: commands in table order,
/// each followed by its subcommands.
pub struct Catalog {
    /// Full names (`get`, `config|get`) by id.
    pub names: Vec<String>,
    /// Category masks by id.
    pub cats: Vec<u32>,
    /// The container of a subcommand.
    pub parent: Vec<Option<u16>>,
    /// The subcommands of a container.
    pub children: Vec<Vec<u16>>,
    /// Table index → the command's id.
    pub table_ids: Vec<u16>,
    by_name: HashMap<String, u16>,
}

impl Catalog {
    /// Words of a selector's command bitmap.
    pub fn words(&self) -> usize {
        self.names.len().div_ceil(64)
    }

    /// The id of `get` or `config|get` (lowercase).
    pub fn lookup(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }
}

/// The catalog, built on first use.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut c = Catalog {
            names: Vec::new(),
            cats: Vec::new(),
            parent: Vec::new(),
            children: Vec::new(),
            table_ids: Vec::new(),
            by_name: HashMap::new(),
        };
        for spec in TABLE {
            let id = c.names.len() as u16;
            c.table_ids.push(id);
            c.names.push(spec.name.to_string());
            c.cats.push(spec_categories(spec));
            c.parent.push(None);
            c.children.push(Vec::new());
            for s in spec.subcommands {
                let sid = c.names.len() as u16;
                c.names.push(s.name.to_string());
                c.cats.push(sub_categories(spec, s));
                c.parent.push(Some(id));
                c.children.push(Vec::new());
                c.children[id as usize].push(sid);
            }
        }
        c.by_name = c.names.iter().enumerate().map(|(i, n)| (n.clone(), i as u16)).collect();
        c
    })
}

const N: u8 = 0;
const R: u8 = PERM_R;
const W: u8 = PERM_W;
const RW: u8 = PERM_RW;

/// Key permissions Redis's key specs give that differ from the default
/// (read-only commands read their keys, write commands read and write
/// them): (command, first key, other keys). Learned from Redis 7.4's key
/// specs (ACCESS → read; INSERT, DELETE, UPDATE → write; none → either).
#[rustfmt::skip]
const KEY_PERMS: &[(&str, u8, u8)] = &[
    ("setnx", W, W), ("setex", W, W), ("psetex", W, W), ("mset", W, W), ("msetnx", W, W), ("append", W, W),
    ("strlen", N, N), ("setrange", W, W), ("bitop", W, R),
    ("lpush", W, W), ("rpush", W, W), ("lpushx", W, W), ("rpushx", W, W), ("llen", N, N), ("lset", W, W),
    ("linsert", W, W), ("lrem", W, W), ("ltrim", W, W), ("lmove", RW, W), ("rpoplpush", RW, W), ("blmove", RW, W),
    ("brpoplpush", RW, W),
    ("sadd", W, W), ("srem", W, W), ("sismember", N, N), ("scard", N, N), ("smove", RW, W), ("sinterstore", W, R),
    ("sunionstore", W, R), ("sdiffstore", W, R),
    ("zadd", W, W), ("zrem", W, W), ("zcard", N, N), ("zrangestore", W, R), ("zremrangebyrank", W, W),
    ("zremrangebyscore", W, W), ("zremrangebylex", W, W), ("zunionstore", W, R), ("zinterstore", W, R),
    ("zdiffstore", W, R),
    ("pfadd", W, W), ("pfmerge", RW, R), ("pfdebug", R, R),
    ("geoadd", W, W), ("georadius", R, W), ("georadiusbymember", R, W), ("geosearchstore", W, R),
    ("hset", W, W), ("hsetnx", W, W), ("hmset", W, W), ("hdel", W, W), ("hexists", N, N), ("hlen", N, N),
    ("hstrlen", N, N), ("hexpire", W, W), ("hpexpire", W, W), ("hexpireat", W, W), ("hpexpireat", W, W),
    ("hpersist", W, W),
    ("xadd", W, W), ("xlen", N, N), ("xdel", W, W), ("xtrim", W, W), ("xreadgroup", R, R), ("xack", W, W),
    ("xclaim", W, W), ("xautoclaim", W, W), ("xsetid", W, W),
    ("xgroup", W, W),
    ("del", W, W), ("unlink", W, W), ("exists", N, N), ("touch", N, N), ("type", N, N), ("expire", W, W),
    ("pexpire", W, W), ("expireat", W, W), ("pexpireat", W, W), ("persist", W, W), ("rename", RW, W),
    ("renamenx", RW, W), ("copy", R, W), ("object", N, N), ("memory", N, N),
    ("eval", RW, RW), ("evalsha", RW, RW), ("fcall", RW, RW),
];

/// The key arguments of a command and the permission each needs.
pub fn key_perms<'a>(spec: &'static CommandSpec, args: &'a Args<'a>) -> impl Iterator<Item = (usize, u8)> + 'a {
    let (first, rest) = match KEY_PERMS.iter().find(|(n, _, _)| *n == spec.name) {
        Some(&(_, f, r)) => (f, r),
        None => {
            let p = if spec.flags & READONLY != 0 {
                R
            } else if spec.flags & WRITE != 0 {
                RW
            } else {
                N
            };
            match spec.name {
                // SET reads its key only with GET.
                "set" => {
                    let get = (3..args.len()).any(|i| args.get(i).eq_ignore_ascii_case(b"get"));
                    (if get { RW } else { W }, W)
                }
                // BITFIELD writes only with SET or INCRBY.
                "bitfield" => {
                    let write = (2..args.len()).any(|i| {
                        args.get(i).eq_ignore_ascii_case(b"set") || args.get(i).eq_ignore_ascii_case(b"incrby")
                    });
                    (if write { RW } else { R }, R)
                }
                _ => (p, p),
            }
        }
    };
    let channels = spec.flags & CHANNEL_KEYS != 0;
    spec.key_indices(args)
        .filter(move |_| !channels)
        .enumerate()
        .map(move |(n, i)| (i, if n == 0 { first } else { rest }))
}
