//! List family: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET
//! LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP, and the blocking BLPOP
//! BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! The blocking variants live in `command/blocking.rs`.

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx};
use crate::protocol::Reply;
use crate::storage::list::{End, List};
use crate::storage::{Db, Value};

pub const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
pub const LPOS_COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
pub const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
pub const INDEX_RANGE: &str = "ERR index out of range";

/// Why a list operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    WrongType,
}

/// The list at `key`: `Ok(None)` when absent, WRONGTYPE for another type.
pub(crate) fn get_list<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut List>, OpError> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(OpError::WrongType),
        },
    }
}

/// [`get_list`] for a read: a missing key raises `keymiss`.
fn read_list<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut List>, OpError> {
    let index = db.index;
    let l = get_list(db, key, now)?;
    if l.is_none() {
        key_miss(index, key);
    }
    Ok(l)
}

/// Deletes `key` if its list became empty (empty collections never stay),
/// raising `del`.
fn drop_if_empty(db: &mut Db, key: &[u8], now: u64) {
    if let Ok(Some(l)) = get_list(db, key, now) {
        if l.is_empty() {
            db.remove(key);
            notify(class::GENERIC, "del", db.index, key);
        }
    }
}

/// The event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The event of a pop from `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

// ---------------------------------------------------------------- push / pop

/// Pushes `elems` at `end` of the list at `key`, creating it unless
/// `only_existing`. Returns the new length (0 when absent and not created).
pub fn op_push(ctx: &mut Ctx, key: &[u8], elems: &[&[u8]], end: End, only_existing: bool) -> Result<usize, OpError> {
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    let db = ctx.db();
    match get_list(db, key, now)? {
        Some(l) => {
            for e in elems {
                l.push(end, e);
            }
            l.update_encoding(&limits);
            let n = l.len();
            notify(class::LIST, push_event(end), db.index, key);
            crate::persist::bump(elems.len() as u64);
            Ok(n)
        }
        None if only_existing => Ok(0),
        None => {
            let mut l = List::new();
            for e in elems {
                l.push(end, e);
            }
            l.update_encoding(&limits);
            let n = l.len();
            db.insert(key, Value::List(Box::new(l)), 0, clock);
            notify(class::LIST, push_event(end), db.index, key);
            crate::persist::bump(elems.len() as u64);
            Ok(n)
        }
    }
}

fn push_generic(ctx: &mut Ctx, args: &Args, end: End, only_existing: bool) {
    let elems: Vec<&[u8]> = args.iter().skip(2).collect();
    match op_push(ctx, args.get(1), &elems, end, only_existing) {
        Ok(n) => ctx.out.int(n as i64),
        Err(_) => ctx.out.error(err::WRONGTYPE),
    }
}

/// `LPUSH key element [element ...]` → length after the push.
pub fn cmd_lpush(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Left, false)
}

/// `RPUSH key element [element ...]` → length after the push.
pub fn cmd_rpush(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Right, false)
}

/// `LPUSHX key element [element ...]` → length, 0 when the key is absent.
pub fn cmd_lpushx(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Left, true)
}

/// `RPUSHX key element [element ...]` → length, 0 when the key is absent.
pub fn cmd_rpushx(ctx: &mut Ctx, args: &Args) {
    push_generic(ctx, args, End::Right, true)
}

/// Pops up to `count` elements from `end`; deletes the key when emptied,
/// otherwise re-evaluates its encoding. `Ok(None)` when the key is absent.
/// Raises `lpop`/`rpop` (when something was popped), then `del`.
pub fn op_pop(
    db: &mut Db,
    key: &[u8],
    end: End,
    count: usize,
    now: u64,
    limits: &crate::config::Limits,
) -> Result<Option<Vec<Box<[u8]>>>, OpError> {
    let Some(l) = get_list(db, key, now)? else {
        return Ok(None);
    };
    let n = count.min(l.len());
    let popped: Vec<Box<[u8]>> = (0..n).filter_map(|_| l.pop(end)).collect();
    let emptied = l.is_empty();
    if !emptied {
        l.update_encoding(limits);
    }
    if n > 0 {
        notify(class::LIST, pop_event(end), db.index, key);
        crate::persist::bump(n as u64);
    }
    if emptied {
        db.remove(key);
        notify(class::GENERIC, "del", db.index, key);
    }
    Ok(Some(popped))
}

fn pop_generic(ctx: &mut Ctx, args: &Args, end: End) {
    if args.len() > 3 {
        return ctx
            .out
            .error(&err::arity(if end == End::Left { "lpop" } else { "rpop" }));
    }
    let count = if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return ctx.out.error(err::MUST_BE_POSITIVE),
        }
    } else {
        None
    };
    let now = ctx.now_ms;
    let limits = ctx.limits;
    let res = op_pop(ctx.db(), args.get(1), end, count.unwrap_or(1), now, &limits);
    match (res, count) {
        (Err(_), _) => ctx.out.error(err::WRONGTYPE),
        (Ok(None), None) => ctx.out.null(),
        (Ok(None), Some(_)) => ctx.out.null_array(),
        (Ok(Some(v)), None) => ctx.out.bulk(&v[0]),
        (Ok(Some(v)), Some(_)) => {
            ctx.out.array_len(v.len());
            for e in &v {
                ctx.out.bulk(e);
            }
        }
    }
}

/// `LPOP key [count]` → the first element, or an array with `count`.
pub fn cmd_lpop(ctx: &mut Ctx, args: &Args) {
    pop_generic(ctx, args, End::Left)
}

/// `RPOP key [count]` → the last element, or an array with `count`.
pub fn cmd_rpop(ctx: &mut Ctx, args: &Args) {
    pop_generic(ctx, args, End::Right)
}

// ---------------------------------------------------------------- reads

/// `LLEN key` → length, 0 when absent.
pub fn cmd_llen(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    match read_list(ctx.db(), args.get(1), now) {
        Ok(l) => {
            let n = l.map_or(0, |l| l.len());
            ctx.out.int(n as i64)
        }
        Err(_) => ctx.out.error(err::WRONGTYPE),
    }
}

/// `LRANGE key start stop` → the elements in the inclusive range.
pub fn cmd_lrange(ctx: &mut Ctx, args: &Args) {
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let now = ctx.now_ms;
    let db = &mut ctx.ks.dbs[ctx.db];
    let l = match read_list(db, args.get(1), now) {
        Ok(l) => l,
        Err(_) => return ctx.out.error(err::WRONGTYPE),
    };
    let Some(l) = l else {
        return ctx.out.array_len(0);
    };
    match l.range(start, stop) {
        None => ctx.out.array_len(0),
        Some((a, b)) => {
            ctx.out.array_len(b - a + 1);
            for e in l.items.range(a..=b) {
                ctx.out.bulk(e);
            }
        }
    }
}

/// `LINDEX key index` → the element, or null.
pub fn cmd_lindex(ctx: &mut Ctx, args: &Args) {
    let Some(i) = parse_i64(args.get(2)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let now = ctx.now_ms;
    let db = &mut ctx.ks.dbs[ctx.db];
    match read_list(db, args.get(1), now) {
        Err(_) => ctx.out.error(err::WRONGTYPE),
        Ok(None) => ctx.out.null(),
        Ok(Some(l)) => match l.index(i) {
            Some(p) => ctx.out.bulk(&l.items[p]),
            None => ctx.out.null(),
        },
    }
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]` → the
/// index of the first match, or with COUNT an array of indexes.
pub fn cmd_lpos(ctx: &mut Ctx, args: &Args) {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return ctx.out.error(err::SYNTAX);
        }
        let opt = args.get(i);
        let v = args.get(i + 1);
        if opt.eq_ignore_ascii_case(b"rank") {
            match parse_i64(v) {
                Some(0) => return ctx.out.error(RANK_ZERO),
                Some(i64::MIN) => return ctx.out.error(err::LONG_RANGE),
                None => return ctx.out.error(err::NOT_INTEGER),
                Some(r) => rank = r,
            }
        } else if opt.eq_ignore_ascii_case(b"count") {
            match parse_i64(v) {
                Some(c) if c >= 0 => count = Some(c),
                // Redis answers its own message for a non-integer too.
                Some(_) | None => return ctx.out.error(LPOS_COUNT_NEGATIVE),
            }
        } else if opt.eq_ignore_ascii_case(b"maxlen") {
            match parse_i64(v) {
                Some(m) if m >= 0 => maxlen = m,
                Some(_) | None => return ctx.out.error(MAXLEN_NEGATIVE),
            }
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        i += 2;
    }
    let now = ctx.now_ms;
    let db = &mut ctx.ks.dbs[ctx.db];
    let l = match read_list(db, args.get(1), now) {
        Err(_) => return ctx.out.error(err::WRONGTYPE),
        Ok(l) => l,
    };
    let want = args.get(2);
    let mut found: Vec<usize> = Vec::new();
    if let Some(l) = l {
        let limit = match count {
            Some(0) => usize::MAX,
            Some(c) => c as usize,
            None => 1,
        };
        let mut skip = rank.unsigned_abs() - 1;
        let len = l.len();
        let scan = if maxlen == 0 { len } else { (maxlen as usize).min(len) };
        for step in 0..scan {
            let p = if rank > 0 { step } else { len - 1 - step };
            if &*l.items[p] == want {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                found.push(p);
                if found.len() >= limit {
                    break;
                }
            }
        }
    }
    match count {
        None => match found.first() {
            Some(&p) => ctx.out.int(p as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array_len(found.len());
            for p in found {
                ctx.out.int(p as i64);
            }
        }
    }
}

// ---------------------------------------------------------------- edits

/// `LSET key index element` → OK.
pub fn cmd_lset(ctx: &mut Ctx, args: &Args) {
    let Some(i) = parse_i64(args.get(2)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let (now, limits, index) = (ctx.now_ms, ctx.limits, ctx.db);
    match get_list(ctx.db(), args.get(1), now) {
        Err(_) => ctx.out.error(err::WRONGTYPE),
        Ok(None) => ctx.out.error(err::NO_SUCH_KEY),
        Ok(Some(l)) => match l.index(i) {
            None => ctx.out.error(INDEX_RANGE),
            Some(p) => {
                l.items[p] = args.get(3).into();
                l.recount();
                l.update_encoding(&limits);
                notify(class::LIST, "lset", index, args.get(1));
                crate::persist::bump(1);
                ctx.out.ok()
            }
        },
    }
}

/// `LINSERT key <BEFORE | AFTER> pivot element` → new length, -1 when the
/// pivot is missing, 0 when the key is.
pub fn cmd_linsert(ctx: &mut Ctx, args: &Args) {
    let after = if args.is(2, "after") {
        true
    } else if args.is(2, "before") {
        false
    } else {
        return ctx.out.error(err::SYNTAX);
    };
    let (now, limits, index) = (ctx.now_ms, ctx.limits, ctx.db);
    match get_list(ctx.db(), args.get(1), now) {
        Err(_) => ctx.out.error(err::WRONGTYPE),
        Ok(None) => ctx.out.int(0),
        Ok(Some(l)) => match l.items.iter().position(|e| &**e == args.get(3)) {
            None => ctx.out.int(-1),
            Some(p) => {
                l.items.insert(p + after as usize, args.get(4).into());
                l.recount();
                l.update_encoding(&limits);
                let n = l.len();
                notify(class::LIST, "linsert", index, args.get(1));
                crate::persist::bump(1);
                ctx.out.int(n as i64)
            }
        },
    }
}

/// `LREM key count element` → number removed (count > 0 from the head,
/// < 0 from the tail, 0 all).
pub fn cmd_lrem(ctx: &mut Ctx, args: &Args) {
    let Some(count) = parse_i64(args.get(2)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let (now, limits) = (ctx.now_ms, ctx.limits);
    let key = args.get(1);
    let want = args.get(3);
    let removed = match get_list(ctx.db(), key, now) {
        Err(_) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => 0,
        Ok(Some(l)) => {
            let limit = if count == 0 {
                usize::MAX
            } else {
                count.unsigned_abs() as usize
            };
            let mut removed = 0usize;
            let old = std::mem::take(&mut l.items);
            if count >= 0 {
                for e in old {
                    if removed < limit && &*e == want {
                        removed += 1;
                    } else {
                        l.items.push_back(e);
                    }
                }
            } else {
                for e in old.into_iter().rev() {
                    if removed < limit && &*e == want {
                        removed += 1;
                    } else {
                        l.items.push_front(e);
                    }
                }
            }
            l.recount();
            l.update_encoding(&limits);
            removed
        }
    };
    if removed > 0 {
        notify(class::LIST, "lrem", ctx.db, key);
        ctx.dirty(removed as u64);
        drop_if_empty(ctx.db(), key, now);
    }
    ctx.out.int(removed as i64)
}

/// `LTRIM key start stop` → OK; keeps only the range.
pub fn cmd_ltrim(ctx: &mut Ctx, args: &Args) {
    let (Some(start), Some(stop)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let (now, limits) = (ctx.now_ms, ctx.limits);
    let key = args.get(1);
    match get_list(ctx.db(), key, now) {
        Err(_) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => {}
        Ok(Some(l)) => {
            let before = l.items.len();
            match l.range(start, stop) {
                None => l.items.clear(),
                Some((a, b)) => {
                    l.items.truncate(b + 1);
                    l.items.drain(..a);
                }
            }
            crate::persist::bump((before - l.items.len()) as u64);
            l.recount();
            l.update_encoding(&limits);
            notify(class::LIST, "ltrim", ctx.db, key);
        }
    }
    drop_if_empty(ctx.db(), key, now);
    ctx.out.ok()
}

// ---------------------------------------------------------------- moves

#[allow(clippy::too_many_arguments)]
/// Moves one element from `src`'s `from` end to `dst`'s `to` end (checking
/// both types first). `Ok(None)` when `src` is absent.
pub fn op_move(
    db: &mut Db,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    now: u64,
    clock: u32,
    limits: &crate::config::Limits,
) -> Result<Option<Box<[u8]>>, OpError> {
    if get_list(db, src, now)?.is_none() {
        return Ok(None);
    }
    get_list(db, dst, now)?;
    let l = get_list(db, src, now)?.expect("checked above");
    let v = l.pop(from).expect("stored lists are never empty");
    crate::persist::bump(1);
    l.update_encoding(limits);
    let emptied = l.is_empty();
    // Redis's order: the push on the destination (`new` first if created),
    // then the pop on the source, then its `del`.
    let index = db.index;
    match get_list(db, dst, now)? {
        Some(d) => {
            d.push(to, &v);
            d.update_encoding(limits);
        }
        None => {
            let mut d = List::new();
            d.push(to, &v);
            if src == dst {
                // Rotating a one-element list: it stays.
                let e = db.lookup(src, now).expect("source exists");
                e.value = Value::List(Box::new(d));
                notify(class::LIST, push_event(to), index, dst);
                notify(class::LIST, pop_event(from), index, src);
                return Ok(Some(v));
            }
            db.insert(dst, Value::List(Box::new(d)), 0, clock);
        }
    }
    notify(class::LIST, push_event(to), index, dst);
    notify(class::LIST, pop_event(from), index, src);
    if emptied && src != dst {
        db.remove(src);
        notify(class::GENERIC, "del", index, src);
    }
    Ok(Some(v))
}

fn move_generic(ctx: &mut Ctx, args: &Args, from: End, to: End) {
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    match op_move(ctx.db(), args.get(1), args.get(2), from, to, now, clock, &limits) {
        Err(_) => ctx.out.error(err::WRONGTYPE),
        Ok(None) => ctx.out.null(),
        Ok(Some(v)) => ctx.out.bulk(&v),
    }
}

/// `LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>` → the element
/// moved, or null.
pub fn cmd_lmove(ctx: &mut Ctx, args: &Args) {
    let (Some(from), Some(to)) = (End::parse(args.get(3)), End::parse(args.get(4))) else {
        return ctx.out.error(err::SYNTAX);
    };
    move_generic(ctx, args, from, to)
}

/// `RPOPLPUSH source destination` → LMOVE source destination RIGHT LEFT.
pub fn cmd_rpoplpush(ctx: &mut Ctx, args: &Args) {
    move_generic(ctx, args, End::Right, End::Left)
}

/// Parsed `numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` of
/// LMPOP/BLMPOP, starting at argument `at`.
pub(crate) struct MpopArgs {
    pub keys: Vec<Vec<u8>>,
    pub end: End,
    pub count: usize,
}

pub(crate) fn parse_mpop(args: &Args, at: usize) -> Result<MpopArgs, &'static str> {
    let (keys, right, count) = super::args::parse_mpop(args, at, "left", "right")?;
    Ok(MpopArgs {
        keys: keys.map(|i| args.get(i).to_vec()).collect(),
        end: if right { End::Right } else { End::Left },
        count,
    })
}

/// Writes `[key, [element ...]]`.
pub(crate) fn reply_key_elements(out: &mut Reply, key: &[u8], elems: &[Box<[u8]>]) {
    out.array_len(2);
    out.bulk(key);
    out.array_len(elems.len());
    for e in elems {
        out.bulk(e);
    }
}

/// `LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]` → `[key,
/// [elements]]` from the first non-empty list, or null.
pub fn cmd_lmpop(ctx: &mut Ctx, args: &Args) {
    let m = match parse_mpop(args, 1) {
        Ok(m) => m,
        Err(e) => return ctx.out.error(e),
    };
    let (now, limits) = (ctx.now_ms, ctx.limits);
    for k in &m.keys {
        match op_pop(ctx.db(), k, m.end, m.count, now, &limits) {
            Err(_) => return ctx.out.error(err::WRONGTYPE),
            Ok(None) => continue,
            Ok(Some(v)) => return reply_key_elements(&mut ctx.out, k, &v),
        }
    }
    ctx.out.null_array()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::notify;

    #[test]
    fn lmove_raises_push_then_pop_then_del_like_redis() {
        let mut db = Db::with_index(0);
        let limits = crate::config::Limits::default();
        let mut l = List::new();
        l.push(End::Right, b"a");
        db.insert_silent(b"src", Value::List(Box::new(l)), 0, 0);
        notify::set_flags(notify::parse("KEAn").unwrap());
        let v = op_move(&mut db, b"src", b"dst", End::Left, End::Right, 0, 0, &limits).unwrap();
        assert_eq!(v.as_deref(), Some(&b"a"[..]));
        let evs: Vec<(&str, Vec<u8>)> = notify::take().into_iter().map(|e| (e.name, e.key)).collect();
        notify::set_flags(0);
        let want: Vec<(&str, Vec<u8>)> = vec![
            ("new", b"dst".to_vec()),
            ("rpush", b"dst".to_vec()),
            ("lpop", b"src".to_vec()),
            ("del", b"src".to_vec()),
        ];
        assert_eq!(evs, want);
    }
}
