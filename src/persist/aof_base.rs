//! An AOF base in command form (`aof-use-rdb-preamble no`): each key as
//! the RESP commands that rebuild it, in the forms Redis 7.4's rewrite
//! writes (pure, no I/O; the snapshot walk calls it per entry, as it
//! calls [`super::rdb_write`] for the RDB form).
//!
//! - strings: `SET key value`;
//! - lists `RPUSH`, sets `SADD`, sorted sets `ZADD`, hashes `HMSET`, at
//!   most [`ITEMS_PER_CMD`] elements (or pairs) per command;
//! - a hash with field TTLs: one `HMSET key field value` per field, then
//!   `HPEXPIREAT key ms FIELDS 1 field` for a field with a TTL;
//! - streams: `XADD key id field value ...` per entry (an empty stream:
//!   `XADD key MAXLEN 0 0-1 x y`), `XSETID key last ENTRIESADDED n
//!   MAXDELETEDID id`, then per group `XGROUP CREATE key group id
//!   ENTRIESREAD n`, and per consumer either `XCLAIM key group consumer 0
//!   id TIME ms RETRYCOUNT n JUSTID FORCE` for each of its pending entries
//!   or `XGROUP CREATECONSUMER key group consumer`;
//! - a key's TTL: `PEXPIREAT key ms` after its value;
//! - `SELECT db` before a database's keys, `FUNCTION LOAD code` per
//!   function library (before the keys).

use crate::persist::propagate::encode as command;
use crate::protocol::reply::push_int;
use crate::storage::hash::Hash;
use crate::storage::list::List;
use crate::storage::set::Set;
use crate::storage::stream::{Stream, StreamId};
use crate::storage::zset::ZSet;
use crate::storage::{Entry, Value};

/// Elements (or pairs) per variadic command (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
pub const ITEMS_PER_CMD: usize = 64;

/// `*n\r\n`.
fn array(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    push_int(out, n as i64);
    out.extend_from_slice(b"\r\n");
}

/// `$len\r\nbytes\r\n`.
fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    push_int(out, b.len() as i64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn bulk_int(out: &mut Vec<u8>, i: i64) {
    let mut tmp = [0u8; 20];
    bulk(out, crate::protocol::reply::fmt_i64(&mut tmp, i));
}

fn bulk_id(out: &mut Vec<u8>, id: StreamId) {
    let mut buf = [0u8; 41];
    bulk(out, id.format(&mut buf));
}

/// `SELECT db`.
pub fn select_db(out: &mut Vec<u8>, db: usize) {
    array(out, 2);
    bulk(out, b"SELECT");
    bulk_int(out, db as i64);
}

/// `FUNCTION LOAD code` for one library (its full code, shebang line
/// included).
pub fn function(out: &mut Vec<u8>, library_code: &[u8]) {
    command(out, &[b"FUNCTION", b"LOAD", library_code]);
}

/// The commands that rebuild key `key` holding `e`: its value, then its
/// TTL.
pub fn key(out: &mut Vec<u8>, key: &[u8], e: &Entry) {
    match &e.value {
        Value::Int(i) => {
            array(out, 3);
            bulk(out, b"SET");
            bulk(out, key);
            bulk_int(out, *i);
        }
        Value::Str(s) => command(out, &[b"SET", key, s]),
        Value::List(l) => list(out, key, l),
        Value::Set(s) => set(out, key, s),
        Value::ZSet(z) => zset(out, key, z),
        Value::Hash(h) => hash(out, key, h),
        Value::Stream(s) => stream(out, key, s),
    }
    if e.expire_at() != 0 {
        array(out, 3);
        bulk(out, b"PEXPIREAT");
        bulk(out, key);
        bulk_int(out, e.expire_at() as i64);
    }
}

/// The header of a variadic command `name key` followed by `items`
/// arguments.
fn variadic(out: &mut Vec<u8>, name: &[u8], key: &[u8], items: usize) {
    array(out, 2 + items);
    bulk(out, name);
    bulk(out, key);
}

/// Writes `len` elements as variadic commands of at most
/// [`ITEMS_PER_CMD`] elements each, `per` arguments an element, `each`
/// writing one element's arguments.
fn batched<T>(
    out: &mut Vec<u8>,
    name: &[u8],
    key: &[u8],
    len: usize,
    per: usize,
    items: impl Iterator<Item = T>,
    mut each: impl FnMut(&mut Vec<u8>, T),
) {
    let mut left = len;
    let mut in_cmd = 0;
    for item in items {
        if in_cmd == 0 {
            variadic(out, name, key, left.min(ITEMS_PER_CMD) * per);
        }
        each(out, item);
        left -= 1;
        in_cmd += 1;
        if in_cmd == ITEMS_PER_CMD {
            in_cmd = 0;
        }
    }
}

fn list(out: &mut Vec<u8>, key: &[u8], l: &List) {
    batched(out, b"RPUSH", key, l.items.len(), 1, l.items.iter(), |out, item| {
        bulk(out, item)
    });
}

fn set(out: &mut Vec<u8>, key: &[u8], s: &Set) {
    batched(out, b"SADD", key, s.len(), 1, s.iter(), |out, m| {
        m.with_bytes(|b| bulk(out, b))
    });
}

fn zset(out: &mut Vec<u8>, key: &[u8], z: &ZSet) {
    let entries = z.entries();
    batched(
        out,
        b"ZADD",
        key,
        entries.len(),
        2,
        entries.into_iter(),
        |out, (m, s)| {
            bulk(out, crate::script::resp::fpconv_dtoa(s).as_bytes());
            bulk(out, m);
        },
    );
}

fn hash(out: &mut Vec<u8>, key: &[u8], h: &Hash) {
    if !h.has_ttls() {
        batched(out, b"HMSET", key, h.len(), 2, h.iter(), |out, (f, v)| {
            bulk(out, f);
            bulk(out, v);
        });
        return;
    }
    // Field by field, each field's TTL right after it (fields whose TTL
    // passed before the replay go again there).
    for (f, v) in h.iter() {
        command(out, &[b"HMSET", key, f, v]);
        let ttl = h.ttl_of(f);
        if ttl != 0 {
            array(out, 6);
            bulk(out, b"HPEXPIREAT");
            bulk(out, key);
            bulk_int(out, ttl as i64);
            bulk(out, b"FIELDS");
            bulk(out, b"1");
            bulk(out, f);
        }
    }
}

fn stream(out: &mut Vec<u8>, key: &[u8], s: &Stream) {
    if s.is_empty() {
        // XADD with MAXLEN 0 creates the key and leaves it empty; XSETID
        // below sets the real last ID.
        command(out, &[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
    } else {
        s.range(StreamId::MIN, StreamId::MAX, false, |e| {
            array(out, 3 + 2 * e.count);
            bulk(out, b"XADD");
            bulk(out, key);
            bulk_id(out, e.id);
            for (f, v) in e.pairs() {
                bulk(out, f);
                bulk(out, v);
            }
            true
        });
    }
    // The last ID may be past the last entry (deleted ones).
    array(out, 7);
    bulk(out, b"XSETID");
    bulk(out, key);
    bulk_id(out, s.last_id);
    bulk(out, b"ENTRIESADDED");
    bulk_int(out, s.entries_added as i64);
    bulk(out, b"MAXDELETEDID");
    bulk_id(out, s.max_deleted);
    for (group, g) in &s.groups {
        array(out, 7);
        bulk(out, b"XGROUP");
        bulk(out, b"CREATE");
        bulk(out, key);
        bulk(out, group);
        bulk_id(out, g.last_id);
        bulk(out, b"ENTRIESREAD");
        bulk_int(out, g.entries_read);
        for (name, c) in &g.consumers {
            if c.pel.is_empty() {
                command(out, &[b"XGROUP", b"CREATECONSUMER", key, group, name]);
                continue;
            }
            for id in &c.pel {
                let Some(nack) = g.pel.get(id) else { continue };
                array(out, 12);
                bulk(out, b"XCLAIM");
                bulk(out, key);
                bulk(out, group);
                bulk(out, name);
                bulk(out, b"0");
                bulk_id(out, *id);
                bulk(out, b"TIME");
                bulk_int(out, nack.delivery_time as i64);
                bulk(out, b"RETRYCOUNT");
                bulk_int(out, nack.delivery_count as i64);
                bulk(out, b"JUSTID");
                bulk(out, b"FORCE");
            }
        }
    }
}

// ---------------------------------------------------------------- loading

/// One command of a base: argument ranges relative to `start`, and where
/// the next command begins.
struct Parsed {
    start: usize,
    next: usize,
}

/// Parses the command at `pos` of `data` into `ranges` (offsets from its
/// start). `Ok(None)` at the end; `Err(true)` when the data ends inside the
/// command, `Err(false)` when it is not RESP.
fn parse_one(data: &[u8], mut pos: usize, ranges: &mut Vec<(u32, u32)>) -> Result<Option<Parsed>, bool> {
    let line = |pos: usize| -> Result<(&[u8], usize), bool> {
        let nl = memchr::memchr(b'\n', &data[pos..]).ok_or(true)?;
        let l = &data[pos..pos + nl];
        Ok((l.strip_suffix(b"\r").unwrap_or(l), pos + nl + 1))
    };
    let num = |l: &[u8]| -> Result<usize, bool> {
        std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or(false)
    };
    // Annotations (`#TS:...`) are skipped, as Redis does.
    while pos < data.len() && data[pos] == b'#' {
        pos = line(pos)?.1;
    }
    if pos >= data.len() {
        return Ok(None);
    }
    if data[pos] != b'*' {
        return Err(false);
    }
    let start = pos;
    let (l, mut at) = line(pos)?;
    let argc = num(&l[1..])?;
    if argc < 1 {
        return Err(false);
    }
    ranges.clear();
    for _ in 0..argc {
        if at >= data.len() {
            return Err(true);
        }
        if data[at] != b'$' {
            return Err(false);
        }
        let (l, body) = line(at)?;
        let len = num(&l[1..])?;
        if body + len + 2 > data.len() {
            return Err(true);
        }
        let off = u32::try_from(body - start).map_err(|_| false)?;
        ranges.push((off, len as u32));
        at = body + len + 2;
    }
    Ok(Some(Parsed { start, next: at }))
}

/// Loads the keys this shard owns from a base in command form at `path`
/// (functions on shard 0): every shard reads the file and runs the
/// commands of its own keys itself, as every shard reads an RDB base, so
/// a base loads at the shards' combined speed with no hop between them.
/// The file is read in chunks and parsed in place. A base holds what a
/// rewrite writes (one key a command, SELECT, FUNCTION LOAD); a command
/// whose keys live on several shards is refused. Returns the commands run.
pub fn load_file(shard: &std::rc::Rc<crate::shard::Shard>, path: &std::path::Path) -> Result<u64, String> {
    use crate::command::table::Handler;
    use std::io::Read;
    const CHUNK: usize = 1 << 20;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut data: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut eof = false;
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let dbs = shard.ks.borrow().dbs.len();
    let mut ranges = Vec::with_capacity(8);
    let mut out = Vec::new();
    let (mut pos, mut db, mut run, mut warned) = (0usize, 0usize, 0u64, false);
    loop {
        let cmd = match parse_one(&data, pos, &mut ranges) {
            Ok(Some(c)) => c,
            Ok(None) | Err(true) if !eof => {
                // Keep the unread tail, then read on.
                data.drain(..pos);
                pos = 0;
                let at = data.len();
                data.resize(at + CHUNK.max(at), 0);
                let n = file.read(&mut data[at..]).map_err(|e| e.to_string())?;
                data.truncate(at + n);
                eof = n == 0;
                continue;
            }
            Ok(None) => break,
            Err(true) => return Err(format!("Unexpected end of file reading the append only file {}", name)),
            Err(false) => {
                return Err(format!(
                    "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                    name
                ))
            }
        };
        pos = cmd.next;
        let args = crate::command::Args::new(&data[cmd.start..cmd.next], &ranges);
        let Some(spec) = crate::command::lookup(args.get(0)) else {
            return Err(format!(
                "Unknown command '{}' reading the append only file {}",
                String::from_utf8_lossy(args.get(0)),
                name
            ));
        };
        if !spec.arity_ok(args.len()) {
            return Err(format!(
                "Wrong number of arguments for '{}' reading the append only file {}",
                spec.name, name
            ));
        }
        match spec.handler {
            Handler::Shard(handler) => {
                let mut owners = spec
                    .key_indices(&args)
                    .map(|i| crate::shard::slot::key_shard(args.get(i), shard.count));
                let Some(owner) = owners.next() else { continue };
                if owners.any(|o| o != owner) {
                    return Err(format!(
                        "'{}' over keys of several shards in the append only file {}: a base holds one key a command",
                        spec.name, name
                    ));
                }
                if owner != shard.id {
                    continue;
                }
                run_loaded(shard, spec, handler, &args, db, &mut out);
                // Redis goes on past a command's error when loading; the
                // first one is logged.
                if out.first() == Some(&b'-') && !warned {
                    warned = true;
                    crate::server::log::warning(&format!(
                        "{} in the append only file {} failed: {}",
                        spec.name,
                        name,
                        String::from_utf8_lossy(&out).trim_end()
                    ));
                }
                run += 1;
            }
            Handler::Conn(crate::command::ConnCmd::Select) => db = selected(&args, dbs, &name)?,
            Handler::Conn(crate::command::ConnCmd::Function) if shard.id == 0 => {
                let argv: Vec<&[u8]> = args.iter().collect();
                out.clear();
                crate::script::engine::Engine::with(|e| e.function_command(&argv, false, &mut out));
                if out.first() == Some(&b'-') {
                    return Err(format!(
                        "failed loading the functions: {}",
                        String::from_utf8_lossy(&out).trim_end()
                    ));
                }
                run += 1;
            }
            // A base holds key commands, SELECT and FUNCTION LOAD only;
            // MULTI/EXEC wrappers add nothing when loading.
            Handler::Conn(_) => {}
        }
    }
    Ok(run)
}

/// Runs a key command read from the log on `shard` itself (its keys are
/// this shard's), its reply in `out`.
pub(super) fn run_loaded(
    shard: &std::rc::Rc<crate::shard::Shard>,
    spec: &'static crate::command::CommandSpec,
    handler: crate::command::table::ShardFn,
    args: &crate::command::Args,
    db: usize,
    out: &mut Vec<u8>,
) {
    out.clear();
    crate::command::observe::begin();
    let now = crate::util::now_ms();
    crate::command::execute(shard, spec, handler, args, db, false, true, now, out);
}

/// The database a `SELECT` read from log `name` names (of `dbs`).
pub(super) fn selected(args: &crate::command::Args, dbs: usize, name: &str) -> Result<usize, String> {
    std::str::from_utf8(args.get(1))
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n < dbs)
        .ok_or_else(|| format!("Bad SELECT in the append only file {}", name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::persist::aof::parse_commands;

    fn entry(value: Value, expire_at: u64) -> Entry {
        let mut db = crate::storage::Db::with_index(0);
        db.insert_silent(b"k", value, expire_at, 0);
        db.remove(b"k").unwrap()
    }

    /// The commands for key `k` as text lines, one argument list a line.
    fn lines(e: &Entry) -> Vec<String> {
        let mut out = Vec::new();
        key(&mut out, b"k", e);
        let (cmds, parsed) = parse_commands(&out);
        assert_eq!(
            parsed,
            crate::persist::aof::Parsed::Ok,
            "{}",
            String::from_utf8_lossy(&out)
        );
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn strings_and_key_ttls() {
        assert_eq!(lines(&entry(Value::Str(b"hello".to_vec()), 0)), ["SET k hello"]);
        assert_eq!(
            lines(&entry(Value::Int(-1234567890123), 1700000000123)),
            ["SET k -1234567890123", "PEXPIREAT k 1700000000123"]
        );
        let mut out = Vec::new();
        key(&mut out, b"key", &entry(Value::Int(7), 0));
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1\r\n7\r\n");
        // A key long enough for its length to take several digits.
        let long = vec![b'x'; 1234];
        let mut out = Vec::new();
        key(&mut out, &long, &entry(Value::Int(42), 0));
        let (cmds, parsed) = parse_commands(&out);
        assert_eq!(parsed, crate::persist::aof::Parsed::Ok);
        assert_eq!(cmds, [vec![b"SET".to_vec(), long.clone(), b"42".to_vec()]]);
    }

    #[test]
    fn select_and_functions() {
        let mut out = Vec::new();
        select_db(&mut out, 12);
        function(
            &mut out,
            b"#!lua name=l\nredis.register_function('f', function() return 1 end)",
        );
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$66\r\n#!lua name=l\nredis.register_function('f', function() return 1 end)\r\n"
        );
    }

    #[test]
    fn variadic_commands_take_64_items_each() {
        let mut l = List::default();
        for i in 0..130 {
            l.items.push_back(i.to_string().into_bytes().into());
        }
        let got = lines(&entry(Value::List(Box::new(l)), 0));
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].split(' ').count(), 2 + 64);
        assert_eq!(got[1].split(' ').count(), 2 + 64);
        assert_eq!(got[2], "RPUSH k 128 129");
        assert!(got[0].starts_with("RPUSH k 0 1 2 "));

        let limits = Limits::default();
        let mut s = Set::default();
        for m in ["3", "1", "2"] {
            s.add(m.as_bytes(), &limits);
        }
        assert_eq!(lines(&entry(Value::Set(Box::new(s)), 0)), ["SADD k 1 2 3"]);

        let mut z = ZSet::default();
        for (sc, m) in [(2.5, "b"), (f64::NEG_INFINITY, "lo"), (1e20, "big"), (0.1, "a")] {
            z.insert(m.as_bytes(), sc, (&limits).into());
        }
        assert_eq!(
            lines(&entry(Value::ZSet(Box::new(z)), 0)),
            ["ZADD k -inf lo 0.1 a 2.5 b 1e+20 big"]
        );

        let mut h = Hash::new();
        for i in 0..65 {
            h.set(format!("f{i}").as_bytes(), b"v", false, &limits);
        }
        let got = lines(&entry(Value::Hash(Box::new(h)), 0));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].split(' ').count(), 2 + 128);
        assert_eq!(got[1], "HMSET k f64 v");
    }

    #[test]
    fn hash_field_ttls_go_field_by_field() {
        let limits = Limits::default();
        let mut h = Hash::new();
        h.set(b"a", b"1", false, &limits);
        h.set(b"b", b"2", false, &limits);
        h.set_ttl(b"b", 1800000000000);
        let got = lines(&entry(Value::Hash(Box::new(h)), 1900000000000));
        assert_eq!(
            got,
            // (Position order: fields with a TTL first, as Redis's
            // listpackex keeps them.)
            [
                "HMSET k b 2",
                "HPEXPIREAT k 1800000000000 FIELDS 1 b",
                "HMSET k a 1",
                "PEXPIREAT k 1900000000000"
            ]
        );
    }

    #[test]
    fn streams_with_groups_consumers_and_pending_entries() {
        let id = |ms, seq| StreamId { ms, seq };
        let mut s = Stream::new();
        let fv: [&[u8]; 4] = [b"a", b"1", b"b", b"2"];
        s.append(id(1, 1), 4, |i| fv[i], 4096, 100).unwrap();
        s.append(id(2, 0), 2, |i| fv[i], 4096, 100).unwrap();
        s.append(id(3, 0), 2, |i| fv[i], 4096, 100).unwrap();
        s.delete(&[id(3, 0)]);
        let mut g = crate::storage::stream::Group::new(id(2, 0), 2);
        g.consumer(b"alice", 5);
        g.assign(id(1, 1), b"alice", 1000).delivery_count = 3;
        g.consumer(b"bob", 5);
        s.groups.insert(b"g".to_vec(), g);
        s.groups
            .insert(b"empty".to_vec(), crate::storage::stream::Group::new(id(0, 0), -1));
        assert_eq!(
            lines(&entry(Value::Stream(Box::new(s)), 0)),
            [
                "XADD k 1-1 a 1 b 2",
                "XADD k 2-0 a 1",
                "XSETID k 3-0 ENTRIESADDED 3 MAXDELETEDID 3-0",
                "XGROUP CREATE k empty 0-0 ENTRIESREAD -1",
                "XGROUP CREATE k g 2-0 ENTRIESREAD 2",
                "XCLAIM k g alice 0 1-1 TIME 1000 RETRYCOUNT 3 JUSTID FORCE",
                "XGROUP CREATECONSUMER k g bob",
            ]
        );
        // An empty stream: created by XADD with MAXLEN 0.
        let mut s = Stream::new();
        s.append(id(5, 5), 2, |i| fv[i], 4096, 100).unwrap();
        s.delete(&[id(5, 5)]);
        assert_eq!(
            lines(&entry(Value::Stream(Box::new(s)), 0)),
            [
                "XADD k MAXLEN 0 0-1 x y",
                "XSETID k 5-5 ENTRIESADDED 1 MAXDELETEDID 5-5"
            ]
        );
    }

    #[test]
    fn the_loader_parses_commands_in_place() {
        let data = b"#TS:1700000000\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv\n\r\n";
        let mut ranges = Vec::new();
        let c = parse_one(data, 0, &mut ranges).unwrap().unwrap();
        let args = crate::command::Args::new(&data[c.start..c.next], &ranges);
        assert_eq!((args.get(0), args.get(1)), (&b"SELECT"[..], &b"3"[..]));
        let c = parse_one(data, c.next, &mut ranges).unwrap().unwrap();
        let args = crate::command::Args::new(&data[c.start..c.next], &ranges);
        assert_eq!(args.len(), 3);
        assert_eq!(args.get(2), b"v\n");
        assert!(parse_one(data, c.next, &mut ranges).unwrap().is_none());
        // A torn tail, and what is not RESP.
        for cut in 1..data.len() - 1 {
            let mut pos = 0;
            let r = loop {
                match parse_one(&data[..cut], pos, &mut ranges) {
                    Ok(Some(c)) => pos = c.next,
                    other => break other,
                }
            };
            assert!(matches!(r, Ok(None) | Err(true)), "cut at {cut}");
        }
        assert_eq!(parse_one(b"SET k v\r\n", 0, &mut ranges).err(), Some(false));
        assert_eq!(parse_one(b"*1\r\n:1\r\n", 0, &mut ranges).err(), Some(false));
    }
}
