//! Generic key commands: DEL, EXISTS, TYPE, the EXPIRE family, TTLs,
//! RENAME, COPY, MOVE, TOUCH, OBJECT; plus the per-shard parts of the
//! keyspace-wide commands (KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSH*, SWAPDB).

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx, Session};
use crate::protocol::Reply;
use crate::shard::coordinator;
use crate::shard::slot::{slot_shard, SLOTS};
use crate::shard::watch;
use crate::storage::{Db, Entry};
use crate::util::{glob_match, now_ms};

// ---------------------------------------------------------------- ops

/// Deletes live keys, raising `del` for each; returns how many existed.
/// Expired keys count as absent (and raise `expired`). `lazy` (UNLINK):
/// big values are freed off the shard thread.
pub fn op_del<'k>(db: &mut Db, keys: impl Iterator<Item = &'k [u8]>, now: u64, lazy: bool) -> i64 {
    let mut n = 0;
    for k in keys {
        if let Some(e) = db.remove_live(k, now) {
            if lazy {
                crate::storage::lazyfree::drop_value(e.value);
            }
            notify(class::GENERIC, "del", db.index, k);
            n += 1;
        }
    }
    n
}

/// Whether a DEL-like command frees lazily: UNLINK always, DEL under
/// lazyfree-lazy-user-del.
pub fn del_is_lazy(shard: &crate::shard::Shard, name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"unlink") || shard.config.borrow().memory.lazy_user_del
}

/// Counts live keys (a key named twice counts twice); a missing one raises
/// `keymiss`.
pub fn op_exists<'k>(db: &mut Db, keys: impl Iterator<Item = &'k [u8]>, now: u64) -> i64 {
    let mut n = 0;
    for k in keys {
        if db.contains(k, now) {
            n += 1;
        } else {
            key_miss(db.index, k);
        }
    }
    n
}

/// Counts live keys and refreshes their access time.
pub fn op_touch<'k>(db: &mut Db, keys: impl Iterator<Item = &'k [u8]>, now: u64, clock: u32) -> i64 {
    let mut n = 0;
    let index = db.index;
    for k in keys {
        match db.lookup(k, now) {
            Some(e) => {
                e.touch(clock);
                n += 1;
            }
            None => key_miss(index, k),
        }
    }
    n
}

/// Reads a key's entry for a copy elsewhere.
pub fn op_clone_entry(db: &mut Db, key: &[u8], now: u64) -> Option<Entry> {
    db.lookup(key, now).map(|e| e.clone())
}

/// Stores an entry moved or copied from elsewhere. `nx`: only when the
/// destination is absent. Returns whether it was stored. A replaced key
/// is deleted first, so the destination always raises `new` (Redis's
/// dbDelete + dbAdd).
pub fn op_put_entry(db: &mut Db, key: &[u8], e: Entry, nx: bool, now: u64) -> bool {
    if db.contains(key, now) {
        if nx {
            return false;
        }
        db.remove(key);
    }
    let expire = e.expire_at();
    db.insert(key, e.value, expire, e.access);
    true
}

// ---------------------------------------------------------------- handlers

/// `DEL key [key ...]` / `UNLINK key [key ...]` → number of keys removed.
pub fn cmd_del(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let lazy = del_is_lazy(ctx.shard, args.get(0));
    let n = op_del(&mut ctx.ks.dbs[ctx.db], args.iter().skip(1), now, lazy);
    ctx.dirty(n as u64);
    ctx.out.int(n);
}

/// `EXISTS key [key ...]` → number of existing keys.
pub fn cmd_exists(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let n = op_exists(&mut ctx.ks.dbs[ctx.db], args.iter().skip(1), now);
    ctx.out.int(n);
}

/// `TOUCH key [key ...]` → number of existing keys.
pub fn cmd_touch(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let n = op_touch(&mut ctx.ks.dbs[ctx.db], args.iter().skip(1), now, clock);
    ctx.out.int(n);
}

/// `TYPE key` → string, none, ...
pub fn cmd_type(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    match ctx.ks.dbs[ctx.db].lookup(args.get(1), now) {
        None => {
            key_miss(ctx.db, args.get(1));
            ctx.out.simple("none")
        }
        Some(e) => {
            let t = e.value.type_name();
            ctx.out.simple(t)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// `EXPIRE key seconds [NX|XX|GT|LT]` → 1 if the timeout was set, else 0.
pub fn cmd_expire(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, Unit::Seconds, false, "expire");
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
pub fn cmd_pexpire(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, Unit::Millis, false, "pexpire");
}

/// `EXPIREAT key unix-time-seconds [NX|XX|GT|LT]`
pub fn cmd_expireat(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, Unit::Seconds, true, "expireat");
}

/// `PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]`
pub fn cmd_pexpireat(ctx: &mut Ctx, args: &Args) {
    expire_generic(ctx, args, Unit::Millis, true, "pexpireat");
}

fn expire_generic(ctx: &mut Ctx, args: &Args, unit: Unit, absolute: bool, name: &str) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..args.len() {
        let a = args.get(i);
        if a.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if a.eq_ignore_ascii_case(b"gt") {
            gt = true;
        } else if a.eq_ignore_ascii_case(b"lt") {
            lt = true;
        } else {
            return ctx.out.error_bytes(&err::with_arg("ERR Unsupported option ", a, ""));
        }
    }
    if nx && (xx || gt || lt) {
        return ctx.out.error(err::EXPIRE_NX_XX_GT_LT);
    }
    if gt && lt {
        return ctx.out.error(err::EXPIRE_GT_LT);
    }
    let Some(mut when) = parse_i64(args.get(2)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    if unit == Unit::Seconds {
        if when > i64::MAX / 1000 || when < i64::MIN / 1000 {
            return ctx.out.error(&err::invalid_expire(name));
        }
        when *= 1000;
    }
    let now = ctx.now_ms as i64;
    if !absolute {
        if when > i64::MAX - now {
            return ctx.out.error(&err::invalid_expire(name));
        }
        when += now;
    }
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let Some(e) = db.lookup(key, now as u64) else {
        return ctx.out.int(0);
    };
    let current = e.expire_at();
    let cur = if current == 0 { None } else { Some(current as i64) };
    if (nx && cur.is_some())
        || (xx && cur.is_none())
        || (gt && cur.map_or(true, |c| when <= c))
        || (lt && cur.is_some_and(|c| when >= c))
    {
        return ctx.out.int(0);
    }
    if when <= now {
        db.remove(key);
        notify(class::GENERIC, "del", db.index, key);
    } else {
        db.set_expire(key, when as u64);
        notify(class::GENERIC, "expire", db.index, key);
    }
    ctx.dirty(1);
    ctx.out.int(1);
}

/// `TTL key` → seconds left, -1 without expiry, -2 when absent.
pub fn cmd_ttl(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, false, false);
}

/// `PTTL key` → milliseconds left.
pub fn cmd_pttl(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, true, false);
}

/// `EXPIRETIME key` → absolute unix seconds of expiry.
pub fn cmd_expiretime(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, false, true);
}

/// `PEXPIRETIME key` → absolute unix milliseconds of expiry.
pub fn cmd_pexpiretime(ctx: &mut Ctx, args: &Args) {
    ttl_generic(ctx, args, true, true);
}

fn ttl_generic(ctx: &mut Ctx, args: &Args, ms: bool, absolute: bool) {
    let now = ctx.now_ms;
    let Some(e) = ctx.ks.dbs[ctx.db].lookup(args.get(1), now) else {
        key_miss(ctx.db, args.get(1));
        return ctx.out.int(-2);
    };
    let at = e.expire_at();
    if at == 0 {
        return ctx.out.int(-1);
    }
    let v = if absolute {
        if ms {
            at as i64
        } else {
            (at / 1000 + (at % 1000 >= 500) as u64) as i64
        }
    } else {
        let left = at.saturating_sub(now) as i64;
        if ms {
            left
        } else {
            left.saturating_add(500) / 1000
        }
    };
    ctx.out.int(v);
}

/// `PERSIST key` → 1 if a timeout was removed, else 0.
pub fn cmd_persist(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let db = &mut ctx.ks.dbs[ctx.db];
    match db.lookup(args.get(1), now) {
        Some(e) if e.expire_at() != 0 => {
            db.set_expire(args.get(1), 0);
            notify(class::GENERIC, "persist", db.index, args.get(1));
            ctx.dirty(1);
            ctx.out.int(1)
        }
        _ => ctx.out.int(0),
    }
}

/// `RENAME key newkey` (both on this shard) → OK.
pub fn cmd_rename(ctx: &mut Ctx, args: &Args) {
    rename_generic(ctx, args, false);
}

/// `RENAMENX key newkey` (both on this shard) → 1, or 0 if newkey exists.
pub fn cmd_renamenx(ctx: &mut Ctx, args: &Args) {
    rename_generic(ctx, args, true);
}

fn rename_generic(ctx: &mut Ctx, args: &Args, nx: bool) {
    let now = ctx.now_ms;
    let (src, dst) = (args.get(1), args.get(2));
    let db = &mut ctx.ks.dbs[ctx.db];
    if !db.contains(src, now) {
        return ctx.out.error(err::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { ctx.out.int(0) } else { ctx.out.ok() };
    }
    if nx && db.contains(dst, now) {
        return ctx.out.int(0);
    }
    let e = db.remove(src).expect("source checked above");
    op_put_entry(db, dst, e, false, now);
    notify(class::GENERIC, "rename_from", db.index, src);
    notify(class::GENERIC, "rename_to", db.index, dst);
    ctx.dirty(1);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
}

/// Options of COPY: (destination db, replace), or an error reply.
pub fn parse_copy_options(args: &Args, current_db: usize, databases: usize) -> Result<(usize, bool), &'static str> {
    let mut db = current_db;
    let mut replace = false;
    let mut j = 3;
    while j < args.len() {
        if args.is(j, "replace") {
            replace = true;
        } else if args.is(j, "db") && j + 1 < args.len() {
            let v = parse_i64(args.get(j + 1)).ok_or(err::NOT_INTEGER)?;
            if v < i32::MIN as i64 || v > i32::MAX as i64 {
                return Err(err::INT_RANGE);
            }
            if v < 0 || v >= databases as i64 {
                return Err(err::DB_INDEX);
            }
            db = v as usize;
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok((db, replace))
}

/// `COPY source destination [DB db] [REPLACE]` (both on this shard) → 1 or 0.
pub fn cmd_copy(ctx: &mut Ctx, args: &Args) {
    let (dst_db, replace) = match parse_copy_options(args, ctx.db, ctx.ks.dbs.len()) {
        Ok(v) => v,
        Err(e) => return ctx.out.error(e),
    };
    let (src, dst) = (args.get(1), args.get(2));
    if src == dst && dst_db == ctx.db {
        return ctx.out.error(err::SAME_OBJECT);
    }
    let now = ctx.now_ms;
    let Some(e) = op_clone_entry(&mut ctx.ks.dbs[ctx.db], src, now) else {
        key_miss(ctx.db, src);
        return ctx.out.int(0);
    };
    let stored = op_put_entry(&mut ctx.ks.dbs[dst_db], dst, e, !replace, now);
    if stored {
        notify(class::GENERIC, "copy_to", dst_db, dst);
        ctx.dirty(1);
    }
    ctx.out.int(stored as i64);
}

/// `MOVE key db` → 1 if moved, 0 if absent here or present there.
pub fn cmd_move(ctx: &mut Ctx, args: &Args) {
    let target = match parse_i64(args.get(2)) {
        None => return ctx.out.error(err::NOT_INTEGER),
        Some(v) if v < i32::MIN as i64 || v > i32::MAX as i64 => return ctx.out.error(err::INT_RANGE),
        Some(v) => v,
    };
    if target < 0 || target as usize >= ctx.ks.dbs.len() {
        return ctx.out.error(err::DB_INDEX);
    }
    let target = target as usize;
    if target == ctx.db {
        return ctx.out.error(err::SAME_OBJECT);
    }
    let now = ctx.now_ms;
    let key = args.get(1);
    if !ctx.ks.dbs[ctx.db].contains(key, now) {
        return ctx.out.int(0);
    }
    if ctx.ks.dbs[target].contains(key, now) {
        return ctx.out.int(0);
    }
    let e = ctx.ks.dbs[ctx.db].remove(key).expect("checked above");
    op_put_entry(&mut ctx.ks.dbs[target], key, e, false, now);
    notify(class::GENERIC, "move_from", ctx.db, key);
    notify(class::GENERIC, "move_to", target, key);
    ctx.dirty(1);
    ctx.out.int(1);
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

/// `OBJECT ENCODING|IDLETIME|FREQ|REFCOUNT key` / `OBJECT HELP`.
pub fn cmd_object(ctx: &mut Ctx, args: &Args) {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"help") && args.len() == 2 {
        return super::connection::reply_help(&mut ctx.out, OBJECT_HELP);
    }
    // Subcommand names and arities were checked at dispatch.
    let now = ctx.now_ms;
    let clock = ctx.clock;
    // OBJECT does not count as an access.
    let Some(e) = ctx.ks.dbs[ctx.db].lookup(args.get(2), now) else {
        return ctx.out.null();
    };
    let mem = ctx.shard.config.borrow().memory;
    if sub.eq_ignore_ascii_case(b"encoding") {
        let enc = e.value.encoding();
        ctx.out.bulk(enc.as_bytes());
    } else if sub.eq_ignore_ascii_case(b"idletime") {
        if mem.policy.is_lfu() {
            return ctx.out.error(err::IDLETIME_UNDER_LFU);
        }
        let idle = clock.wrapping_sub(e.access);
        ctx.out.int(idle as i64);
    } else if sub.eq_ignore_ascii_case(b"freq") {
        if !mem.policy.is_lfu() {
            return ctx.out.error(err::LFU_NOT_SELECTED);
        }
        let freq = crate::shard::evict::lfu_decayed(e.lfu, clock, mem.lfu_decay_time);
        ctx.out.int(freq as i64);
    } else {
        // Redis shares the integers 0..9999 and reports such values with
        // its "shared object" refcount, except under a maxmemory LRU or LFU
        // policy (a shared object cannot hold a key's access history).
        let lru = mem.maxmemory != 0 && (mem.policy.is_lru() || mem.policy.is_lfu());
        let shared = !lru && matches!(e.value, crate::storage::Value::Int(0..=9999));
        ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
    }
}

// ------------------------------------------------- keyspace-wide shard parts

/// KEYS on one shard: all live keys of `db` matching `pattern`.
pub fn op_keys(db: &Db, pattern: &[u8], now: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let all = pattern == b"*";
    for slot in 0..SLOTS {
        db.for_each_in_slot(slot, now, |k, _| {
            if all || glob_match(pattern, k, false) {
                out.push(k.to_vec());
            }
        });
    }
    out
}

/// SCAN on one shard: walks whole slots from `slot` (which this shard must
/// own) until `count` keys were visited or the shard's slots end. Returns the
/// matching keys, the next slot (None when this shard is done) and how many
/// keys were visited.
pub fn op_scan(
    db: &Db,
    mut slot: usize,
    count: usize,
    pattern: Option<&[u8]>,
    type_filter: Option<&[u8]>,
    now: u64,
    shard: usize,
    shards: usize,
) -> (Vec<Vec<u8>>, Option<usize>, usize) {
    let mut out = Vec::new();
    let mut visited = 0;
    while slot < SLOTS && slot_shard(slot as u16, shards) == shard {
        db.for_each_in_slot(slot, now, |k, e| {
            visited += 1;
            if let Some(p) = pattern {
                if !glob_match(p, k, false) {
                    return;
                }
            }
            if let Some(t) = type_filter {
                if !t.eq_ignore_ascii_case(e.value.type_name().as_bytes()) {
                    return;
                }
            }
            out.push(k.to_vec());
        });
        slot += 1;
        if visited >= count {
            break;
        }
    }
    let next = if slot < SLOTS && slot_shard(slot as u16, shards) == shard {
        Some(slot)
    } else {
        None
    };
    (out, next, visited)
}

// ------------------------------------------- keyspace-wide (all shards)

/// `KEYS pattern` → every matching key of the selected database.
pub async fn cmd_keys(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let pattern = args.get(1).to_vec();
    let db = sess.db;
    let parts = coordinator::broadcast_locked_in(&sess.shard, sess.tx, move |sh| {
        let ks = sh.ks.borrow();
        op_keys(&ks.dbs[db], &pattern, now_ms())
    })
    .await;
    let mut r = Reply::new(out, sess.resp3);
    r.array_len(parts.iter().map(|p| p.len()).sum());
    for k in parts.iter().flatten() {
        r.bulk(k);
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]` → [next cursor,
/// keys]. The cursor is the next hash slot to visit (0 = start / done), so
/// it names its shard and survives any rehashing.
pub async fn cmd_scan(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let mut walk = match ScanWalk::parse(args, sess.shard.count) {
        Ok(w) => w,
        Err(e) => return Reply::new(out, sess.resp3).error(e),
    };
    let db = sess.db;
    while let Some((shard, slot, want)) = walk.next_visit() {
        let (p, t, shards) = (walk.pattern.clone(), walk.type_filter.clone(), walk.shards);
        let step = coordinator::run_on_in(&sess.shard, sess.tx, shard, move |sh| {
            let now = now_ms();
            let mut ks = sh.ks.borrow_mut();
            let step = op_scan(&ks.dbs[db], slot, want, p.as_deref(), t.as_deref(), now, shard, shards);
            scan_reap(ks.db(db), slot, &step, p.as_deref(), now, shard, shards);
            drop(ks);
            super::publish_events(sh);
            step
        })
        .await;
        walk.feed(shard, step);
    }
    walk.reply(&mut Reply::new(out, sess.resp3));
}

/// Deletes the expired keys a SCAN step walked past (from `slot` to where it
/// stopped) that match its pattern, raising `expired`, as Redis's SCAN
/// does with the keys it meets.
#[allow(clippy::too_many_arguments)]
pub fn scan_reap(
    db: &mut Db,
    slot: usize,
    step: &(Vec<Vec<u8>>, Option<usize>, usize),
    pattern: Option<&[u8]>,
    now: u64,
    shard: usize,
    shards: usize,
) {
    if db.volatile() == 0 {
        return;
    }
    let end = step.1.unwrap_or_else(|| {
        let mut s = slot;
        while s < SLOTS && slot_shard(s as u16, shards) == shard {
            s += 1;
        }
        s
    });
    db.reap_expired(slot, end, now, |k| pattern.is_none_or(|p| glob_match(p, k, false)));
}

/// A SCAN call walking the slots shard by shard: which slot to visit next,
/// and the page built so far. The caller runs each visit on its shard.
pub struct ScanWalk {
    pub count: usize,
    pub pattern: Option<Vec<u8>>,
    pub type_filter: Option<Vec<u8>>,
    pub shards: usize,
    slot: Option<usize>,
    keys: Vec<Vec<u8>>,
    next: u64,
    // Work per call is bounded by keys visited, not keys returned, so a
    // rarely matching pattern gives short pages rather than a long call.
    visited: usize,
}

impl ScanWalk {
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
    pub fn parse(args: &Args, shards: usize) -> Result<ScanWalk, &'static str> {
        let cursor = std::str::from_utf8(args.get(1))
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(err::CURSOR)?;
        let mut w = ScanWalk {
            count: 10,
            pattern: None,
            type_filter: None,
            shards,
            slot: (cursor < SLOTS as u64).then_some(cursor as usize),
            keys: Vec::new(),
            next: 0,
            visited: 0,
        };
        let mut j = 2;
        while j < args.len() {
            if j + 1 >= args.len() {
                return Err(err::SYNTAX);
            }
            if args.is(j, "count") {
                match parse_i64(args.get(j + 1)) {
                    None => return Err(err::NOT_INTEGER),
                    Some(c) if c < 1 => return Err(err::SYNTAX),
                    Some(c) => w.count = c.min(1 << 30) as usize,
                }
            } else if args.is(j, "match") {
                let p = args.get(j + 1);
                w.pattern = if p == b"*" { None } else { Some(p.to_vec()) };
            } else if args.is(j, "type") {
                w.type_filter = Some(args.get(j + 1).to_vec());
            } else {
                return Err(err::SYNTAX);
            }
            j += 2;
        }
        Ok(w)
    }

    /// The next visit: (shard, first slot, keys wanted), or None when the
    /// page is complete.
    pub fn next_visit(&self) -> Option<(usize, usize, usize)> {
        let slot = self.slot?;
        Some((
            slot_shard(slot as u16, self.shards),
            slot,
            self.count.saturating_sub(self.visited).max(1),
        ))
    }

    /// Takes the result of the visit `next_visit` asked for.
    pub fn feed(&mut self, shard: usize, (found, resume, seen): (Vec<Vec<u8>>, Option<usize>, usize)) {
        self.visited += seen;
        self.keys.extend(found);
        let Some(from) = self.slot else {
            return;
        };
        let next = match resume {
            Some(s) => Some(s),
            None => (from..SLOTS).find(|s| slot_shard(*s as u16, self.shards) > shard),
        };
        self.slot = match next {
            Some(s) if self.visited >= self.count => {
                self.next = s as u64;
                None
            }
            other => other,
        };
    }

    /// `[next cursor, [keys]]`.
    pub fn reply(&self, r: &mut Reply) {
        r.array_len(2);
        r.bulk(self.next.to_string().as_bytes());
        r.array_len(self.keys.len());
        for k in &self.keys {
            r.bulk(k);
        }
    }
}

/// `RANDOMKEY` → a random key of the selected database, or null.
pub async fn cmd_randomkey(sess: &mut Session, out: &mut Vec<u8>) {
    let db = sess.db;
    let sizes = coordinator::broadcast_in(&sess.shard, sess.tx, move |sh| sh.ks.borrow().dbs[db].len()).await;
    let mut r = Reply::new(out, sess.resp3);
    for _ in 0..RANDOMKEY_TRIES {
        let Some((target, seed)) = random_pick(&sizes, &sess.shard) else {
            break;
        };
        let key = coordinator::run_on_in(&sess.shard, sess.tx, target, move |sh| {
            let k = op_random_key(sh, db, seed);
            // The `expired` of a pick found past its TTL.
            super::publish_events(sh);
            k
        })
        .await;
        if let Some(k) = key {
            return r.bulk(&k);
        }
    }
    r.null();
}

/// Keys may expire or vanish between counting and picking: RANDOMKEY tries
/// again this many times.
pub const RANDOMKEY_TRIES: usize = 16;

/// For RANDOMKEY: a shard drawn with weights `sizes` (its key count) and a
/// seed for the key within it; None when there are no keys.
pub fn random_pick(sizes: &[usize], shard: &crate::shard::Shard) -> Option<(usize, u64)> {
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return None;
    }
    let mut pick = (shard.rng.borrow_mut().next_u64() % total as u64) as usize;
    let mut target = 0;
    for (s, n) in sizes.iter().enumerate() {
        if pick < *n {
            target = s;
            break;
        }
        pick -= n;
    }
    Some((target, shard.rng.borrow_mut().next_u64()))
}

/// A random live key of `db` on this shard (None if the one drawn expired).
pub fn op_random_key(sh: &crate::shard::Shard, db: usize, seed: u64) -> Option<Vec<u8>> {
    let mut ks = sh.ks.borrow_mut();
    let d = ks.db(db);
    let k = d.random_key(seed).map(|k| k.to_vec())?;
    d.lookup(&k, now_ms()).map(|_| k)
}

/// `DBSIZE` → number of keys in the selected database.
pub async fn cmd_dbsize(sess: &mut Session, out: &mut Vec<u8>) {
    let db = sess.db;
    let sizes = coordinator::broadcast_locked_in(&sess.shard, sess.tx, move |sh| sh.ks.borrow().dbs[db].len()).await;
    Reply::new(out, sess.resp3).int(sizes.iter().sum::<usize>() as i64);
}

pub(crate) fn flush_mode_ok(args: &Args) -> bool {
    match args.len() {
        1 => true,
        2 => args.is(1, "async") || args.is(1, "sync"),
        _ => false,
    }
}

/// Touches the watched keys of `dbs` that exist (FLUSHDB, FLUSHALL).
pub(crate) fn touch_watched_in(sh: &crate::shard::Shard, dbs: &[usize]) {
    let mut w = sh.watches.borrow_mut();
    if w.is_empty() {
        return;
    }
    let now = crate::util::now_ms();
    let mut ks = sh.ks.borrow_mut();
    w.touch_where(|db, key| dbs.contains(&db) && watch::exists(&mut ks, db, key, now));
}

/// `FLUSHDB [ASYNC|SYNC]` → OK.
pub async fn cmd_flushdb(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    if !flush_mode_ok(args) {
        return Reply::new(out, sess.resp3).error(err::SYNTAX);
    }
    let db = sess.db;
    let mode = FlushMode::of(sess, args);
    let done = coordinator::broadcast_locked_in(&sess.shard, sess.tx, move |sh| {
        touch_watched_in(sh, &[db]);
        crate::shard::tracking::on_flush(sh);
        let done = flush_dbs(sh, &[db], mode);
        // Every shard's log holds its own part.
        crate::persist::propagate::emit(db, &[b"FLUSHDB"]);
        sh.ks.borrow_mut().db(db).prepare();
        // Blocked group readers answer that their group went away.
        crate::shard::blocking::signal_databases(sh, &[db], crate::util::now_ms());
        done
    })
    .await;
    wait_flushed(done).await;
    Reply::new(out, sess.resp3).ok();
}

/// How a flush frees what it removes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FlushMode {
    /// Here, before replying (inside a transaction or a script).
    Inline,
    /// On the freeing thread; the reply waits until it is done (a plain
    /// or SYNC flush: the client sees the memory freed, the shard keeps
    /// serving meanwhile).
    Blocking,
    /// On the freeing thread, replying at once (ASYNC, or
    /// lazyfree-lazy-user-flush without a mode).
    Async,
}

impl FlushMode {
    fn of(sess: &Session, args: &Args) -> FlushMode {
        if args.len() == 2 && args.is(1, "async") {
            return FlushMode::Async;
        }
        if args.len() == 1 && sess.shard.config.borrow().memory.lazy_user_flush {
            return FlushMode::Async;
        }
        if sess.tx != 0 {
            FlushMode::Inline
        } else {
            FlushMode::Blocking
        }
    }
}

/// Empties databases `dbs` of `sh` as `mode` says; for a blocking flush,
/// the receiver that fires once their memory is freed.
fn flush_dbs(
    sh: &crate::shard::Shard,
    dbs: &[usize],
    mode: FlushMode,
) -> Option<futures_channel::oneshot::Receiver<()>> {
    let mut ks = sh.ks.borrow_mut();
    // FLUSHDB/FLUSHALL count the keys they remove (Redis's emptyData).
    let removed: usize = dbs.iter().map(|&i| ks.dbs[i].len()).sum();
    crate::persist::changed(sh, removed as u64);
    if mode == FlushMode::Inline {
        for &i in dbs {
            ks.db(i).clear();
        }
        return None;
    }
    let (old, keys) = ks.take(dbs);
    drop(ks);
    sh.evict.borrow_mut().clear();
    if mode == FlushMode::Async {
        crate::storage::lazyfree::drop_dbs(old, keys, None);
        return None;
    }
    let (tx, rx) = futures_channel::oneshot::channel();
    crate::storage::lazyfree::drop_dbs(
        old,
        keys,
        Some(Box::new(move || {
            let _ = tx.send(());
        })),
    );
    Some(rx)
}

/// Waits for the freeing thread to finish the blocking flushes `done`.
async fn wait_flushed(done: Vec<Option<futures_channel::oneshot::Receiver<()>>>) {
    for rx in done.into_iter().flatten() {
        // Woken from the freeing thread: look again now and then.
        let _ = crate::util::repolled(std::time::Duration::from_millis(5), rx).await;
    }
}

/// `FLUSHALL [ASYNC|SYNC]` → OK.
pub async fn cmd_flushall(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    if !flush_mode_ok(args) {
        return Reply::new(out, sess.resp3).error(err::SYNTAX);
    }
    let mode = FlushMode::of(sess, args);
    let db = sess.db;
    let done = coordinator::broadcast_locked_in(&sess.shard, sess.tx, move |sh| {
        let all: Vec<usize> = (0..sh.ks.borrow().dbs.len()).collect();
        touch_watched_in(sh, &all);
        crate::shard::tracking::on_flush(sh);
        let done = flush_dbs(sh, &all, mode);
        // Every shard's log holds its own part.
        crate::persist::propagate::emit(db, &[b"FLUSHALL"]);
        // The caller's database is about to be written again: its slot
        // tables are ready on every shard, so that cost shows in
        // used_memory now rather than on the first write.
        sh.ks.borrow_mut().db(db).prepare();
        crate::shard::blocking::signal_databases(sh, &all, crate::util::now_ms());
        done
    })
    .await;
    wait_flushed(done).await;
    // With save rules set, Redis saves the now empty data set (so the
    // unsaved-changes count is zero again).
    // A running BGSAVE is cancelled first, as Redis kills its child.
    crate::persist::snapshot::cancel_running(sess.tx).await;
    if !sess.shard.config.borrow().persist.save.is_empty() {
        let _ = crate::persist::snapshot::save(&sess.shard, sess.tx, false).await;
    }
    Reply::new(out, sess.resp3).ok();
}

/// `SWAPDB index1 index2` → OK.
pub async fn cmd_swapdb(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let dbs = sess.shard.config.borrow().databases;
    let (a, b) = match parse_swapdb(args, dbs) {
        Ok(ab) => ab,
        Err(e) => return Reply::new(out, sess.resp3).error(e),
    };
    coordinator::broadcast_locked_in(&sess.shard, sess.tx, move |sh| {
        op_swapdb(sh, a, b);
        // Events of blocked clients it served.
        super::publish_events(sh);
    })
    .await;
    Reply::new(out, sess.resp3).ok();
}

/// The two database indexes of SWAPDB, with Redis's errors.
pub fn parse_swapdb(args: &Args, dbs: usize) -> Result<(usize, usize), &'static str> {
    let a = parse_i64(args.get(1)).filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64);
    let b = parse_i64(args.get(2)).filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64);
    let a = a.ok_or(err::INVALID_FIRST_DB)?;
    let b = b.ok_or(err::INVALID_SECOND_DB)?;
    let dbs = dbs as i64;
    if a < 0 || a >= dbs || b < 0 || b >= dbs {
        return Err(err::DB_INDEX);
    }
    Ok((a as usize, b as usize))
}

/// SWAPDB on one shard (every shard does it, locked whole).
pub fn op_swapdb(sh: &crate::shard::Shard, a: usize, b: usize) {
    // A watched key of either database changes if it exists in either.
    let now = crate::util::now_ms();
    {
        let mut ks = sh.ks.borrow_mut();
        let mut w = sh.watches.borrow_mut();
        if !w.is_empty() {
            w.touch_where(|db, key| {
                (db == a || db == b) && (watch::exists(&mut ks, a, key, now) || watch::exists(&mut ks, b, key, now))
            });
        }
    }
    sh.ks.borrow_mut().swap(a, b);
    if sh.id == 0 {
        // One change for the whole command, counted once.
        crate::persist::changed(sh, 1);
    }
    // Every shard's log holds its own part.
    if crate::persist::propagate::active() {
        let (a, b) = (a.to_string(), b.to_string());
        crate::persist::propagate::emit(0, &[b"SWAPDB", a.as_bytes(), b.as_bytes()]);
    }
    // Clients blocked on keys of either database may now be served.
    crate::shard::blocking::signal_databases(sh, &[a, b], now);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Value;

    #[test]
    fn del_exists_touch_count_live_keys() {
        let mut db = Db::new();
        db.insert(b"a", Value::Int(1), 0, 0);
        db.insert(b"b", Value::Int(1), 5, 0);
        let keys: [&[u8]; 4] = [b"a", b"a", b"b", b"c"];
        assert_eq!(op_exists(&mut db, keys.iter().copied(), 1), 3);
        assert_eq!(op_exists(&mut db, keys.iter().copied(), 10), 2);
        assert_eq!(op_del(&mut db, keys.iter().copied(), 10, false), 1);
        assert_eq!(db.len(), 0);
    }

    #[test]
    fn scan_walks_whole_slots_of_one_shard() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.insert(format!("key:{i}").as_bytes(), Value::Int(i), 0, 0);
        }
        let mut seen = std::collections::HashSet::new();
        for shard in 0..2 {
            let mut slot = (0..SLOTS).find(|s| slot_shard(*s as u16, 2) == shard).unwrap();
            loop {
                let (keys, next, _) = op_scan(&db, slot, 10, None, None, 0, shard, 2);
                seen.extend(keys);
                match next {
                    Some(n) => slot = n,
                    None => break,
                }
            }
        }
        assert_eq!(seen.len(), 1000);
    }
}
