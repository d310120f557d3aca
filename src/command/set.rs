//! Set family: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION,
//! SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN.
//!
//! `cmd_*` handlers parse arguments and shape replies; `op_*` functions work
//! on one database of one shard. Multi-key commands run here unchanged when
//! their keys span shards: the table marks them `Cross::Gather`.

use std::cell::RefCell;

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx};
use crate::config::Limits;
use crate::protocol::Reply;
use crate::shard::count_lookup;
use crate::storage::set::{Elem, Set};
use crate::storage::{Db, Entry, Value};
use crate::util::Rng;

pub const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";

/// Failures of set operations, mapped to Redis's error replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    WrongType,
}

impl OpError {
    pub fn message(self) -> &'static str {
        match self {
            OpError::WrongType => err::WRONGTYPE,
        }
    }
}

thread_local! {
    /// Random picks of SPOP / SRANDMEMBER. A thread is a shard, so this is
    /// shard-local state.
    static RNG: RefCell<Rng> = RefCell::new(Rng::new(crate::util::now_us() ^ 0x5e75_e75e));
}

/// A uniform random number in `0..n` (n > 0).
fn rand_below(n: usize) -> usize {
    RNG.with(|r| (r.borrow_mut().next_u64() % n as u64) as usize)
}

// ---------------------------------------------------------------- lookups

/// The set at `key` for a write: `Ok(None)` when absent, WrongType for
/// other types. Refreshes the access time to `clock`.
fn lookup_set<'d>(db: &'d mut Db, key: &[u8], now: u64, clock: u32) -> Result<Option<&'d mut Set>, OpError> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(e) => {
            e.touch(clock);
            match &mut e.value {
                Value::Set(s) => Ok(Some(s)),
                _ => Err(OpError::WrongType),
            }
        }
    }
}

/// Like [`lookup_set`] for a read command: counts the hit or miss and
/// refreshes the access time (`touch`: the clock, None under NO-TOUCH).
fn read_set<'d>(db: &'d mut Db, key: &[u8], now: u64, touch: Option<u32>) -> Result<Option<&'d mut Set>, OpError> {
    let index = db.index;
    let found = db.lookup(key, now);
    count_lookup(found.is_some());
    match found {
        None => {
            key_miss(index, key);
            Ok(None)
        }
        Some(e) => {
            if let Some(clock) = touch {
                e.touch(clock);
            }
            match &mut e.value {
                Value::Set(s) => Ok(Some(s)),
                _ => Err(OpError::WrongType),
            }
        }
    }
}

/// The clock to stamp on read keys, None under CLIENT NO-TOUCH.
fn touch(ctx: &Ctx) -> Option<u32> {
    (!ctx.no_touch).then_some(ctx.clock)
}

/// Source sets of a multi-key command, moved out of the database while the
/// command reads them (so that several can be borrowed at once) and put back
/// unchanged by [`Sources::restore`].
struct Sources<'k> {
    taken: Vec<(&'k [u8], Entry)>,
    /// For each key given, its entry in `taken` (None: no such key).
    slot: Vec<Option<usize>>,
}

impl<'k> Sources<'k> {
    /// Looks `keys` up in order, as Redis does: missing keys are empty sets,
    /// any key of another type fails the whole command.
    fn take(ctx: &mut Ctx, keys: &[&'k [u8]]) -> Result<Sources<'k>, OpError> {
        let (now, touch) = (ctx.now_ms, touch(ctx));
        let db = &mut ctx.ks.dbs[ctx.db];
        for k in keys {
            read_set(db, k, now, touch)?;
        }
        let mut taken: Vec<(&[u8], Entry)> = Vec::new();
        let mut seen: hashbrown::HashMap<&[u8], usize> = hashbrown::HashMap::new();
        let mut slot = Vec::with_capacity(keys.len());
        for &k in keys {
            if let Some(&i) = seen.get(k) {
                slot.push(Some(i));
            } else if let Some(e) = db.remove(k) {
                seen.insert(k, taken.len());
                taken.push((k, e));
                slot.push(Some(taken.len() - 1));
            } else {
                slot.push(None);
            }
        }
        Ok(Sources { taken, slot })
    }

    /// The set given at position `i`, or None for a missing key.
    fn get(&self, i: usize) -> Option<&Set> {
        self.slot[i].map(|t| match &self.taken[t].1.value {
            Value::Set(s) => &**s,
            _ => unreachable!("type checked in take"),
        })
    }

    /// Whether key `i` names the same key as key 0.
    fn same_as_first(&self, i: usize) -> bool {
        self.slot[i].is_some() && self.slot[i] == self.slot[0]
    }

    fn restore(self, db: &mut Db) {
        for (k, e) in self.taken {
            // Put back as it was: not a new key.
            db.put_silent(k, Some(e));
        }
    }
}

// ---------------------------------------------------------------- ops

/// SADD: adds `members` to the set at `key`, creating it. Returns how many
/// were new.
pub fn op_sadd(
    db: &mut Db,
    key: &[u8],
    members: &[&[u8]],
    limits: &Limits,
    now: u64,
    clock: u32,
) -> Result<usize, OpError> {
    let hint = members.len();
    let added = match lookup_set(db, key, now, clock)? {
        Some(s) => {
            s.reserve_for(hint, limits);
            members.iter().filter(|m| s.add(m, limits)).count()
        }
        None => {
            let mut s = Set::for_first(members[0], hint, limits);
            let added = members.iter().filter(|m| s.add(m, limits)).count();
            db.insert(key, Value::Set(Box::new(s)), 0, clock);
            added
        }
    };
    if added > 0 {
        notify(class::SET, "sadd", db.index, key);
        crate::persist::bump(added as u64);
    }
    Ok(added)
}

/// SREM: removes `members`, deleting the key once empty. Returns how many
/// were removed.
pub fn op_srem(db: &mut Db, key: &[u8], members: &[&[u8]], now: u64, clock: u32) -> Result<usize, OpError> {
    let Some(s) = lookup_set(db, key, now, clock)? else {
        return Ok(0);
    };
    let mut removed = 0;
    for m in members {
        if s.remove(m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let emptied = s.is_empty();
    if removed > 0 {
        notify(class::SET, "srem", db.index, key);
        crate::persist::bump(removed as u64);
    }
    if emptied {
        db.remove(key);
        notify(class::GENERIC, "del", db.index, key);
    }
    Ok(removed)
}

/// SMOVE: moves `member` from `src` to `dst`. Returns whether it moved (or,
/// with `src` = `dst`, whether it is a member).
pub fn op_smove(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    member: &[u8],
    limits: &Limits,
    now: u64,
    clock: u32,
) -> Result<bool, OpError> {
    // A missing source answers 0 before the destination's type is checked.
    if lookup_set(db, src, now, clock)?.is_none() {
        return Ok(false);
    }
    let dst_exists = lookup_set(db, dst, now, clock)?.is_some();
    let index = db.index;
    let s = lookup_set(db, src, now, clock)?.expect("source looked up above");
    if src == dst {
        return Ok(s.contains(member));
    }
    if !s.remove(member) {
        return Ok(false);
    }
    notify(class::SET, "srem", index, src);
    crate::persist::bump(1);
    if s.is_empty() {
        db.remove(src);
        notify(class::GENERIC, "del", index, src);
    }
    let added = if dst_exists {
        let d = lookup_set(db, dst, now, clock)?.expect("destination looked up above");
        d.add(member, limits)
    } else {
        let mut d = Set::for_first(member, 1, limits);
        d.add(member, limits);
        db.insert(dst, Value::Set(Box::new(d)), 0, clock);
        true
    };
    if added {
        notify(class::SET, "sadd", index, dst);
        crate::persist::bump(1);
    }
    Ok(true)
}

/// Removes `count` random members (count < len) and returns them. When few
/// stay behind the rest is rebuilt as a new set, which may take a smaller
/// encoding (as Redis's SPOP does).
fn pop_random(s: &mut Set, count: usize, limits: &Limits) -> Vec<Vec<u8>> {
    let remaining = s.len() - count;
    let out: Vec<Vec<u8>> = (0..count).map(|_| s.remove_nth(rand_below(s.len()))).collect();
    if remaining * 5 <= count {
        s.maybe_to_listpack(limits);
    }
    out
}

/// Distinct random positions in `0..len`, `count` of them (count < len).
fn distinct_positions(len: usize, count: usize) -> Vec<usize> {
    if count * 3 > len {
        // Close to the whole set: a partial shuffle of all positions.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + rand_below(len - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let p = rand_below(len);
            if seen.insert(p) {
                out.push(p);
            }
        }
        out
    }
}

/// The intersection of `sets` (none missing) as Redis's SINTERSTORE builds
/// it: intset when the smallest set is one, a listpack otherwise, growing
/// as members come, and an intset in the end if only integers remain.
fn inter_store(sets: &[&Set], limits: &Limits) -> Set {
    let mut out = if sets[0].is_intset() {
        Set::new_intset()
    } else {
        Set::new_listpack()
    };
    let mut only_integers = true;
    for e in sets[0].iter() {
        if sets[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, sets[0]) || s.contains_elem(e))
        {
            if let Elem::Bytes(b) = e {
                if only_integers {
                    match crate::storage::set::as_int(b) {
                        Some(i) => {
                            out.add_int(i, limits);
                            continue;
                        }
                        None => only_integers = false,
                    }
                }
            }
            out.add_elem(e, limits);
        }
    }
    if only_integers {
        out.maybe_to_intset(limits);
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Diff,
}

/// SUNION / SDIFF of the sets given (None: missing key), built as Redis
/// builds it: from an empty intset, converting as members come.
fn union_diff(src: &Sources, n: usize, op: SetOp, limits: &Limits) -> Set {
    let mut out = Set::new_intset();
    match op {
        SetOp::Union => {
            for i in 0..n {
                if let Some(s) = src.get(i) {
                    for e in s.iter() {
                        out.add_elem(e, limits);
                    }
                }
            }
        }
        SetOp::Diff => {
            let Some(first) = src.get(0) else {
                return out;
            };
            if (1..n).any(|i| src.same_as_first(i)) {
                return out;
            }
            // Redis picks the cheaper of two algorithms; the choice shows in
            // the result's encoding, so it is made the same way.
            let (mut one, mut two) = (0usize, 0usize);
            for i in 0..n {
                if let Some(s) = src.get(i) {
                    one += first.len();
                    two += s.len();
                }
            }
            if one / 2 <= two {
                let mut others: Vec<&Set> = (1..n).filter_map(|i| src.get(i)).collect();
                others.sort_by_key(|s| std::cmp::Reverse(s.len()));
                for e in first.iter() {
                    if !others.iter().any(|s| s.contains_elem(e)) {
                        out.add_elem(e, limits);
                    }
                }
            } else {
                for e in first.iter() {
                    out.add_elem(e, limits);
                }
                for i in 1..n {
                    if out.is_empty() {
                        break;
                    }
                    if let Some(s) = src.get(i) {
                        for e in s.iter() {
                            out.remove_elem(e);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Stores `result` at `dst` (deleting `dst` when empty) and returns its
/// size. Raises `event` (`sinterstore` ...), or `del` when an existing
/// `dst` was deleted.
fn store(db: &mut Db, dst: &[u8], result: Set, clock: u32, event: &'static str) -> usize {
    let n = result.len();
    if n == 0 {
        if db.remove(dst).is_some() {
            notify(class::GENERIC, "del", db.index, dst);
            crate::persist::bump(1);
        }
    } else {
        db.insert(dst, Value::Set(Box::new(result)), 0, clock);
        notify(class::SET, event, db.index, dst);
        crate::persist::bump(1);
    }
    n
}

// ---------------------------------------------------------------- replies

fn reply_elem(out: &mut Reply, e: Elem) {
    match e {
        Elem::Int(i) => out.bulk_int(i),
        Elem::Bytes(b) => out.bulk(b),
    }
}

/// The whole set, as a RESP3 set (array in RESP2).
fn reply_members(out: &mut Reply, s: &Set) {
    out.set_len(s.len());
    for e in s.iter() {
        reply_elem(out, e);
    }
}

// ---------------------------------------------------------------- handlers

/// `SADD key member [member ...]` → number of members added.
pub fn cmd_sadd(ctx: &mut Ctx, args: &Args) {
    let members: Vec<&[u8]> = (2..args.len()).map(|i| args.get(i)).collect();
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    match op_sadd(ctx.db(), args.get(1), &members, &limits, now, clock) {
        Ok(n) => ctx.out.int(n as i64),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `SREM key member [member ...]` → number of members removed.
pub fn cmd_srem(ctx: &mut Ctx, args: &Args) {
    let members: Vec<&[u8]> = (2..args.len()).map(|i| args.get(i)).collect();
    let (now, clock) = (ctx.now_ms, ctx.clock);
    match op_srem(ctx.db(), args.get(1), &members, now, clock) {
        Ok(n) => ctx.out.int(n as i64),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `SMEMBERS key` → every member (a RESP3 set).
pub fn cmd_smembers(ctx: &mut Ctx, args: &Args) {
    let (now, touch) = (ctx.now_ms, touch(ctx));
    match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
        Err(e) => ctx.out.error(e.message()),
        Ok(None) => ctx.out.set_len(0),
        Ok(Some(s)) => reply_members(&mut ctx.out, s),
    }
}

/// `SISMEMBER key member` → 1 or 0.
pub fn cmd_sismember(ctx: &mut Ctx, args: &Args) {
    let (now, touch) = (ctx.now_ms, touch(ctx));
    match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
        Err(e) => ctx.out.error(e.message()),
        Ok(None) => ctx.out.int(0),
        Ok(Some(s)) => ctx.out.int(s.contains(args.get(2)) as i64),
    }
}

/// `SMISMEMBER key member [member ...]` → an array of 1/0.
pub fn cmd_smismember(ctx: &mut Ctx, args: &Args) {
    let (now, touch) = (ctx.now_ms, touch(ctx));
    let found: Vec<bool> = match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
        Err(e) => return ctx.out.error(e.message()),
        Ok(None) => vec![false; args.len() - 2],
        Ok(Some(s)) => (2..args.len()).map(|i| s.contains(args.get(i))).collect(),
    };
    ctx.out.array_len(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
}

/// `SCARD key` → number of members, 0 when absent.
pub fn cmd_scard(ctx: &mut Ctx, args: &Args) {
    let (now, touch) = (ctx.now_ms, touch(ctx));
    match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
        Err(e) => ctx.out.error(e.message()),
        Ok(None) => ctx.out.int(0),
        Ok(Some(s)) => ctx.out.int(s.len() as i64),
    }
}

/// `SPOP key [count]` → one random member removed (null when absent), or
/// with a count a set of up to `count` removed members.
pub fn cmd_spop(ctx: &mut Ctx, args: &Args) {
    if args.len() > 3 {
        return ctx.out.error(err::SYNTAX);
    }
    let key = args.get(1);
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    let index = ctx.db;
    if args.len() == 2 {
        let db = ctx.db();
        let popped = match lookup_set(db, key, now, clock) {
            Err(e) => return ctx.out.error(e.message()),
            Ok(None) => return ctx.out.null(),
            Ok(Some(s)) => {
                let m = s.remove_nth(rand_below(s.len()));
                notify(class::SET, "spop", index, key);
                crate::persist::bump(1);
                if s.is_empty() {
                    db.remove(key);
                    notify(class::GENERIC, "del", index, key);
                }
                if crate::persist::propagate::active() {
                    // Logged as the removal it made: SREM key member.
                    crate::persist::propagate::replace(vec![vec![b"SREM".to_vec(), key.to_vec(), m.to_vec()]]);
                }
                m
            }
        };
        return ctx.out.bulk(&popped);
    }
    let count = match parse_i64(args.get(2)) {
        Some(c) if c >= 0 => c as u64,
        _ => return ctx.out.error(err::MUST_BE_POSITIVE),
    };
    let db = ctx.db();
    let s = match lookup_set(db, key, now, clock) {
        Err(e) => return ctx.out.error(e.message()),
        Ok(None) => return ctx.out.set_len(0),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return ctx.out.set_len(0);
    }
    notify(class::SET, "spop", index, key);
    crate::persist::bump(count.min(s.len() as u64));
    if count >= s.len() as u64 {
        // The whole set, answered as SUNION of the one key would be.
        let mut all = Set::new_intset();
        for e in s.iter() {
            all.add_elem(e, &limits);
        }
        db.remove(key);
        notify(class::GENERIC, "del", index, key);
        if crate::persist::propagate::active() {
            crate::persist::propagate::replace(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
        }
        return reply_members(&mut ctx.out, &all);
    }
    let popped = pop_random(s, count as usize, &limits);
    if crate::persist::propagate::active() {
        // SREM key m1 m2 ..., 1024 members per command as Redis does.
        let cmds = popped
            .chunks(1024)
            .map(|c| {
                let mut argv = vec![b"SREM".to_vec(), key.to_vec()];
                argv.extend(c.iter().cloned());
                argv
            })
            .collect();
        crate::persist::propagate::replace(cmds);
    }
    ctx.out.set_len(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
}

/// `SRANDMEMBER key [count]` → one random member (null when absent), or an
/// array: `count` > 0 distinct members, `count` < 0 members with repeats.
pub fn cmd_srandmember(ctx: &mut Ctx, args: &Args) {
    if args.len() > 3 {
        return ctx.out.error(err::SYNTAX);
    }
    let (now, touch) = (ctx.now_ms, touch(ctx));
    if args.len() == 2 {
        return match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
            Err(e) => ctx.out.error(e.message()),
            Ok(None) => ctx.out.null(),
            Ok(Some(s)) => reply_elem(&mut ctx.out, s.nth(rand_below(s.len()))),
        };
    }
    let (count, unique) = match parse_i64(args.get(2)) {
        None => return ctx.out.error(err::NOT_INTEGER),
        Some(i64::MIN) => return ctx.out.error(err::LONG_RANGE),
        Some(c) => (c.unsigned_abs() as usize, c >= 0),
    };
    let out = &mut ctx.out;
    let s = match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
        Err(e) => return out.error(e.message()),
        Ok(None) => return out.array_len(0),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return out.array_len(0);
    }
    let len = s.len();
    if !unique || count == 1 {
        out.array_len(count);
        for _ in 0..count {
            reply_elem(out, s.nth(rand_below(len)));
        }
        return;
    }
    if count >= len {
        out.array_len(len);
        for e in s.iter() {
            reply_elem(out, e);
        }
        return;
    }
    let mut picks = distinct_positions(len, count);
    if s.encoding() == "listpack" {
        // Redis samples a listpack in one forward pass: positions ascend.
        picks.sort_unstable();
    }
    out.array_len(count);
    for p in picks {
        reply_elem(out, s.nth(p));
    }
}

/// `SMOVE source destination member` → 1 if moved, 0 if not a member.
pub fn cmd_smove(ctx: &mut Ctx, args: &Args) {
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    match op_smove(ctx.db(), args.get(1), args.get(2), args.get(3), &limits, now, clock) {
        Ok(moved) => ctx.out.int(moved as i64),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// What SINTER and its variants do with the intersection.
enum InterMode<'a> {
    Reply,
    Card(usize),
    Store(&'a [u8]),
}

fn sinter_generic(ctx: &mut Ctx, keys: &[&[u8]], mode: InterMode) {
    let src = match Sources::take(ctx, keys) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e.message()),
    };
    let (limits, clock) = (ctx.limits, ctx.clock);
    // Any missing key makes the intersection empty.
    let mut sets: Vec<&Set> = (0..keys.len())
        .map(|i| src.get(i))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    // Smallest first (a stable sort, like glibc's qsort on these inputs).
    sets.sort_by_key(|s| s.len());
    let is_member = |e: Elem| {
        sets[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, sets[0]) || s.contains_elem(e))
    };
    match mode {
        InterMode::Reply => {
            let found: Vec<Elem> = match sets.first() {
                Some(first) => first.iter().filter(|&e| is_member(e)).collect(),
                None => Vec::new(),
            };
            ctx.out.set_len(found.len());
            for e in found {
                reply_elem(&mut ctx.out, e);
            }
        }
        InterMode::Card(limit) => {
            let mut n = 0usize;
            if let Some(first) = sets.first() {
                for e in first.iter() {
                    if is_member(e) {
                        n += 1;
                        if limit != 0 && n >= limit {
                            break;
                        }
                    }
                }
            }
            ctx.out.int(n as i64);
        }
        InterMode::Store(dst) => {
            let result = if sets.is_empty() {
                Set::new_intset()
            } else {
                inter_store(&sets, &limits)
            };
            drop(sets);
            let db = &mut ctx.ks.dbs[ctx.db];
            src.restore(db);
            let n = store(db, dst, result, clock, "sinterstore");
            return ctx.out.int(n as i64);
        }
    }
    drop(sets);
    src.restore(&mut ctx.ks.dbs[ctx.db]);
}

fn keys_from<'a>(args: &Args<'a>, start: usize) -> Vec<&'a [u8]> {
    (start..args.len()).map(|i| args.get(i)).collect()
}

/// `SINTER key [key ...]` → the members common to all sets.
pub fn cmd_sinter(ctx: &mut Ctx, args: &Args) {
    sinter_generic(ctx, &keys_from(args, 1), InterMode::Reply);
}

/// `SINTERSTORE destination key [key ...]` → size of the stored result.
pub fn cmd_sinterstore(ctx: &mut Ctx, args: &Args) {
    sinter_generic(ctx, &keys_from(args, 2), InterMode::Store(args.get(1)));
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]` → size of the
/// intersection, counting stops at `limit` (0 = no limit).
pub fn cmd_sintercard(ctx: &mut Ctx, args: &Args) {
    let numkeys = match parse_i64(args.get(1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return ctx.out.error(err::NUMKEYS_POSITIVE),
    };
    if numkeys > (args.len() - 2) as u64 {
        return ctx.out.error(NUMKEYS_TOO_MANY);
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if args.is(j, "limit") && j + 1 < args.len() {
            match parse_i64(args.get(j + 1)) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return ctx.out.error(err::LIMIT_NEGATIVE),
            }
            j += 2;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }
    let keys: Vec<&[u8]> = (2..2 + numkeys).map(|i| args.get(i)).collect();
    sinter_generic(ctx, &keys, InterMode::Card(limit));
}

fn union_diff_generic(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, op: SetOp) {
    let src = match Sources::take(ctx, keys) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e.message()),
    };
    let (limits, clock) = (ctx.limits, ctx.clock);
    let result = union_diff(&src, keys.len(), op, &limits);
    let db = &mut ctx.ks.dbs[ctx.db];
    src.restore(db);
    match dst {
        None => reply_members(&mut ctx.out, &result),
        Some(d) => {
            let event = match op {
                SetOp::Union => "sunionstore",
                SetOp::Diff => "sdiffstore",
            };
            let n = store(db, d, result, clock, event);
            ctx.out.int(n as i64)
        }
    }
}

/// `SUNION key [key ...]` → the members of any of the sets.
pub fn cmd_sunion(ctx: &mut Ctx, args: &Args) {
    union_diff_generic(ctx, &keys_from(args, 1), None, SetOp::Union);
}

/// `SUNIONSTORE destination key [key ...]` → size of the stored result.
pub fn cmd_sunionstore(ctx: &mut Ctx, args: &Args) {
    union_diff_generic(ctx, &keys_from(args, 2), Some(args.get(1)), SetOp::Union);
}

/// `SDIFF key [key ...]` → members of the first set in none of the others.
pub fn cmd_sdiff(ctx: &mut Ctx, args: &Args) {
    union_diff_generic(ctx, &keys_from(args, 1), None, SetOp::Diff);
}

/// `SDIFFSTORE destination key [key ...]` → size of the stored result.
pub fn cmd_sdiffstore(ctx: &mut Ctx, args: &Args) {
    union_diff_generic(ctx, &keys_from(args, 2), Some(args.get(1)), SetOp::Diff);
}

/// Parses a SCAN-family cursor as Redis's strtoull-based parser does:
/// decimal, an optional sign (a minus wraps), nothing else.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if b.is_empty() {
        return Some(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]` → [next cursor,
/// members]. Small encodings answer in one call.
pub fn cmd_sscan(ctx: &mut Ctx, args: &Args) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.out.error(err::CURSOR);
    };
    let (now, touch) = (ctx.now_ms, touch(ctx));
    let s = match read_set(&mut ctx.ks.dbs[ctx.db], args.get(1), now, touch) {
        Err(e) => return ctx.out.error(e.message()),
        Ok(None) => {
            ctx.out.array_len(2);
            ctx.out.bulk(b"0");
            return ctx.out.array_len(0);
        }
        Ok(Some(s)) => s,
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - j >= 2;
        if args.is(j, "count") && more {
            match parse_i64(args.get(j + 1)) {
                None => return ctx.out.error(err::NOT_INTEGER),
                Some(c) if c < 1 => return ctx.out.error(err::SYNTAX),
                Some(c) => count = c.min(1 << 30) as usize,
            }
        } else if args.is(j, "match") && more {
            let p = args.get(j + 1);
            pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 2;
    }
    let (found, next) = s.scan(cursor, count, |m| match pattern {
        None => true,
        Some(p) => crate::util::glob_match(p, m, false),
    });
    ctx.out.array_len(2);
    let mut tmp = [0u8; 20];
    let next = crate::protocol::reply::fmt_i64(&mut tmp, next as i64).to_vec();
    ctx.out.bulk(&next);
    ctx.out.array_len(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sadd_srem_smove_ops() {
        let l = Limits::default();
        let mut db = Db::new();
        assert_eq!(op_sadd(&mut db, b"s", &[b"1", b"2", b"2"], &l, 0, 0), Ok(2));
        assert_eq!(op_sadd(&mut db, b"s", &[b"a"], &l, 0, 0), Ok(1));
        assert_eq!(op_srem(&mut db, b"s", &[b"1", b"x"], 0, 0), Ok(1));
        assert_eq!(op_smove(&mut db, b"s", b"t", b"2", &l, 0, 0), Ok(true));
        assert_eq!(op_smove(&mut db, b"s", b"t", b"2", &l, 0, 0), Ok(false));
        assert_eq!(op_srem(&mut db, b"s", &[b"a"], 0, 0), Ok(1));
        assert!(db.lookup(b"s", 0).is_none());
        db.insert(b"str", Value::Int(1), 0, 0);
        assert_eq!(op_sadd(&mut db, b"str", &[b"1"], &l, 0, 0), Err(OpError::WrongType));
        assert_eq!(op_smove(&mut db, b"t", b"str", b"2", &l, 0, 0), Err(OpError::WrongType));
        assert_eq!(op_smove(&mut db, b"nosuch", b"str", b"2", &l, 0, 0), Ok(false));
    }

    #[test]
    fn cursors_parse_like_strtoull() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"1x"), None);
        assert_eq!(parse_cursor(b" 1"), None);
    }

    #[test]
    fn distinct_positions_are_distinct() {
        for (len, count) in [(10, 9), (1000, 10), (100, 40)] {
            let mut p = distinct_positions(len, count);
            assert_eq!(p.len(), count);
            p.sort_unstable();
            p.dedup();
            assert_eq!(p.len(), count);
            assert!(p.iter().all(|&x| x < len));
        }
    }
}
