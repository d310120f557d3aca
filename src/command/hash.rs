//! Hash family: HSET and friends, counters, HRANDFIELD, HSCAN, and field
//! expiration (Redis 7.4: HEXPIRE ... HPERSIST; Redis 8.0: HGETDEL, HGETEX,
//! HSETEX).
//!
//! `cmd_*` handlers parse arguments and shape replies; `op_*` functions work
//! on one database and return `Result<_, OpError>`.
//!
//! Field expiry follows Redis 7.4: an expired field is invisible to every
//! reader at once; HGET, HMGET, HEXISTS, HSTRLEN, HINCRBY* delete it when
//! they meet it (and the key when it was the last field), HRANDFIELD deletes
//! all expired fields first, HGETALL/HKEYS/HVALS/HSCAN skip them, HLEN
//! counts them until they are reclaimed (lazily, or by the shard's active
//! cycle, `Db::expire_hash_fields_slice`).

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::string::{incr_float_text, OpError as StrError};
use super::{Args, Ctx};
use crate::config::Limits;
use crate::shard::count_lookup;
use crate::storage::hash::Hash;
use crate::storage::{Db, Value};

pub const HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
pub const HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
pub const VALUE_NAN_INF: &str = "ERR value is NaN or Infinity";
pub const FIELDS_MISSING: &str = "ERR Mandatory argument FIELDS is missing or not at the right position";
pub const NUMFIELDS_MISMATCH: &str = "ERR The `numfields` parameter must match the number of arguments";
pub const NUMFIELDS_HEXPIRE: &str = "ERR Parameter `numFields` should be greater than 0";
pub const NUMFIELDS_POSITIVE: &str = "ERR Number of fields must be a positive integer";
pub const EXPIRE_NEGATIVE: &str = "ERR invalid expire time, must be >= 0";
pub const HSETEX_NUMFIELDS: &str = "ERR invalid number of fields";
pub const HSETEX_MISSING_EXPIRE: &str = "ERR missing expire time";
pub const HSETEX_FXX_FNX: &str = "ERR Only one of FXX or FNX arguments can be specified";
pub const HSETEX_EXPIRATION: &str = "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified";

/// Largest absolute field expiry, in ms (Redis's HFE_MAX_ABS_TIME_MSEC:
/// the 48-bit expire-time limit shifted right by 2).
pub const FIELD_EXPIRE_MAX_MS: i64 = ((1i64 << 48) - 1) >> 2;

/// Reply codes of HEXPIRE and friends, per field.
pub const SETEX_NO_FIELD: i64 = -2;
pub const SETEX_NOT_MET: i64 = 0;
pub const SETEX_OK: i64 = 1;
pub const SETEX_DELETED: i64 = 2;
/// Reply codes of HTTL/HPERSIST, per field.
pub const TTL_NO_FIELD: i64 = -2;
pub const TTL_NONE: i64 = -1;

/// Failures of hash operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    WrongType,
    NotInteger,
    NotFloat,
    Overflow,
    NanOrInfinity,
}

impl OpError {
    pub fn message(self) -> &'static str {
        match self {
            OpError::WrongType => err::WRONGTYPE,
            OpError::NotInteger => HASH_NOT_INTEGER,
            OpError::NotFloat => HASH_NOT_FLOAT,
            OpError::Overflow => err::OVERFLOW,
            OpError::NanOrInfinity => err::INCR_NAN_INF,
        }
    }
}

// ---------------------------------------------------------------- lookups

/// The hash at `key` for reading: `Ok(None)` when absent; counts a keyspace
/// hit or miss and refreshes the access time unless `clock` is `None`.
fn read_hash<'d>(db: &'d mut Db, key: &[u8], now: u64, clock: Option<u32>) -> Result<Option<&'d mut Hash>, OpError> {
    let index = db.index;
    // A read may reclaim expired fields in place: a snapshot walk gets the
    // hash first (read-only lookups leave it alone otherwise).
    db.keep_for_walk(key);
    let found = db.lookup(key, now);
    count_lookup(found.is_some());
    match found {
        None => {
            key_miss(index, key);
            Ok(None)
        }
        Some(e) => {
            if let Some(c) = clock {
                e.touch(c);
            }
            match &mut e.value {
                Value::Hash(h) => Ok(Some(h)),
                _ => Err(OpError::WrongType),
            }
        }
    }
}

/// The hash at `key` for writing (no hit/miss counted).
fn write_hash<'d>(db: &'d mut Db, key: &[u8], now: u64, clock: u32) -> Result<Option<&'d mut Hash>, OpError> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(e) => {
            e.touch(clock);
            match &mut e.value {
                Value::Hash(h) => Ok(Some(h)),
                _ => Err(OpError::WrongType),
            }
        }
    }
}

/// The hash at `key`, created empty when absent. The caller must delete the
/// key again if it leaves the hash empty ([`drop_if_empty`]).
fn hash_or_create<'d>(db: &'d mut Db, key: &[u8], now: u64, clock: u32) -> Result<&'d mut Hash, OpError> {
    match db.lookup(key, now) {
        Some(e) if !matches!(e.value, Value::Hash(_)) => return Err(OpError::WrongType),
        Some(_) => {}
        None => {
            db.insert(key, Value::Hash(Box::default()), 0, clock);
        }
    }
    match db.lookup(key, now) {
        Some(e) => {
            e.touch(clock);
            match &mut e.value {
                Value::Hash(h) => Ok(h),
                _ => Err(OpError::WrongType),
            }
        }
        None => unreachable!("key inserted above"),
    }
}

/// Deletes `key` when its hash is empty; otherwise files its earliest field
/// expiry for active reclamation. Call after any change to a hash.
fn settle(db: &mut Db, key: &[u8]) {
    let (empty, min) = match db.lookup(key, 0) {
        Some(e) => match &e.value {
            Value::Hash(h) => (h.is_empty(), h.min_expire()),
            _ => return,
        },
        None => return,
    };
    if empty {
        db.remove(key);
    } else if let Some(at) = min {
        db.note_hash_ttl(key, at);
    }
}

/// Deletes `key` when its hash is empty, raising `del`.
fn drop_if_empty(db: &mut Db, key: &[u8]) {
    if matches!(db.lookup(key, 0), Some(e) if matches!(&e.value, Value::Hash(h) if h.is_empty())) {
        db.remove(key);
        notify(class::GENERIC, "del", db.index, key);
    }
}

/// Looks `field` up for a reader that reclaims expired fields: an expired
/// field is deleted, counted in `reclaimed` and reported absent.
fn live_value<'h>(h: &'h mut Hash, field: &[u8], now: u64, reclaimed: &mut usize) -> Option<&'h [u8]> {
    if h.is_expired_at(field, now) {
        h.remove(field);
        crate::storage::hash::count_expired_fields(1);
        *reclaimed += 1;
        return None;
    }
    h.get(field)
}

/// A reader that reclaimed expired fields of `key`: `hexpired`, then the
/// key's deletion (`del`) when that emptied the hash.
fn reclaimed_by_reader(db: &mut Db, key: &[u8], reclaimed: usize) {
    if reclaimed > 0 {
        notify(class::HASH, "hexpired", db.index, key);
    }
    drop_if_empty(db, key);
}

/// A writer that reclaimed expired fields of `key` on its way (HINCRBY,
/// HSETNX ...): `hexpired`, and when that emptied the hash, the `del` and
/// `new` of Redis deleting it and creating it again.
fn notify_reclaimed_then_write(index: usize, key: &[u8], reclaimed: usize, emptied: bool) {
    if reclaimed > 0 {
        notify(class::HASH, "hexpired", index, key);
        if emptied {
            notify(class::GENERIC, "del", index, key);
            notify(class::NEW, "new", index, key);
        }
    }
}

// ---------------------------------------------------------------- ops

/// HSET on one key: sets every (field, value) pair; returns how many fields
/// were new. Overwritten fields lose their TTL.
pub fn op_hset(
    db: &mut Db,
    key: &[u8],
    pairs: &[(&[u8], &[u8])],
    limits: &Limits,
    now: u64,
    clock: u32,
) -> Result<usize, OpError> {
    let h = hash_or_create(db, key, now, clock)?;
    h.prepare_for(pairs.len(), pairs.iter().flat_map(|(f, v)| [f.len(), v.len()]), limits);
    let mut created = 0;
    for (f, v) in pairs {
        created += h.set(f, v, false, limits) as usize;
    }
    notify(class::HASH, "hset", db.index, key);
    crate::persist::bump(pairs.len() as u64);
    Ok(created)
}

/// HINCRBY on one field, keeping its TTL; returns the new value.
pub fn op_hincrby(
    db: &mut Db,
    key: &[u8],
    field: &[u8],
    delta: i64,
    limits: &Limits,
    now: u64,
    clock: u32,
) -> Result<i64, OpError> {
    let index = db.index;
    let h = hash_or_create(db, key, now, clock)?;
    let mut reclaimed = 0;
    let cur = match live_value(h, field, now, &mut reclaimed) {
        None => 0,
        Some(v) => crate::protocol::parser::parse_i64_strict(v).ok_or(OpError::NotInteger)?,
    };
    notify_reclaimed_then_write(index, key, reclaimed, h.is_empty());
    let new = cur.checked_add(delta).ok_or(OpError::Overflow)?;
    let mut tmp = [0u8; 20];
    let text = crate::protocol::reply::fmt_i64(&mut tmp, new);
    h.set(field, text, true, limits);
    notify(class::HASH, "hincrby", index, key);
    crate::persist::bump(1);
    Ok(new)
}

/// HINCRBYFLOAT on one field (the increment already validated), keeping
/// its TTL; returns the stored text, computed in long double as Redis does.
pub fn op_hincrbyfloat(
    db: &mut Db,
    key: &[u8],
    field: &[u8],
    incr: &[u8],
    limits: &Limits,
    now: u64,
    clock: u32,
) -> Result<Vec<u8>, OpError> {
    let index = db.index;
    let h = hash_or_create(db, key, now, clock)?;
    let mut reclaimed = 0;
    let cur = live_value(h, field, now, &mut reclaimed).map(|v| Value::string(v.to_vec()));
    notify_reclaimed_then_write(index, key, reclaimed, h.is_empty());
    let text = match incr_float_text(cur.as_ref(), incr) {
        Ok(t) => t,
        Err(StrError::NanOrInfinity) => return Err(OpError::NanOrInfinity),
        Err(_) => return Err(OpError::NotFloat),
    };
    h.set(field, &text, true, limits);
    notify(class::HASH, "hincrbyfloat", index, key);
    crate::persist::bump(1);
    Ok(text)
}

/// Outcome of setting one field's expiry (HEXPIRE's per-field reply).
fn set_field_expiry(h: &mut Hash, field: &[u8], at: u64, cond: Cond, now: u64) -> i64 {
    if h.position(field).is_none() {
        return SETEX_NO_FIELD;
    }
    let prev = h.ttl_of(field);
    if prev == 0 {
        // A field without TTL satisfies LT and NX, not XX or GT.
        if matches!(cond, Cond::Xx | Cond::Gt) {
            return SETEX_NOT_MET;
        }
    } else if matches!(cond, Cond::Nx) || (cond == Cond::Gt && prev >= at) || (cond == Cond::Lt && prev <= at) {
        return SETEX_NOT_MET;
    }
    if at <= now {
        h.remove(field);
        crate::storage::hash::count_expired_fields(1);
        return SETEX_DELETED;
    }
    h.set_ttl(field, at);
    SETEX_OK
}

/// HEXPIRE family on one key: sets the expiry `at` (absolute ms) of each
/// field under `cond`; returns the per-field codes, or `None` when the key
/// does not exist. Raises `hexpire`, or `hdel` when a time in the past
/// deleted fields (and `del` when that emptied the hash).
pub fn op_hexpire(
    db: &mut Db,
    key: &[u8],
    at: u64,
    cond: Cond,
    fields: &[&[u8]],
    now: u64,
    clock: u32,
) -> Result<Option<Vec<i64>>, OpError> {
    let Some(h) = write_hash(db, key, now, clock)? else {
        return Ok(None);
    };
    h.mark_ex();
    let codes: Vec<i64> = fields.iter().map(|f| set_field_expiry(h, f, at, cond, now)).collect();
    let emptied = h.is_empty();
    settle(db, key);
    let deleted = codes.contains(&SETEX_DELETED);
    crate::persist::bump(codes.iter().filter(|&&c| c == SETEX_DELETED || c == SETEX_OK).count() as u64);
    if deleted {
        notify(class::HASH, "hdel", db.index, key);
        if emptied {
            notify(class::GENERIC, "del", db.index, key);
        }
    } else if codes.contains(&SETEX_OK) {
        notify(class::HASH, "hexpire", db.index, key);
    }
    Ok(Some(codes))
}

// ---------------------------------------------------------------- helpers

/// NX | XX | GT | LT of the HEXPIRE family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

/// Parses a field expiry argument as Redis's HFE commands do: an integer,
/// not negative, within the 48-bit limit once made absolute. `base` is the
/// current time for relative forms, 0 for absolute ones.
fn field_expire_arg(arg: &[u8], seconds: bool, base: u64, cmd: &str) -> Result<u64, String> {
    let mut v = parse_i64(arg).ok_or_else(|| err::NOT_INTEGER.to_string())?;
    if v < 0 {
        return Err(EXPIRE_NEGATIVE.to_string());
    }
    if seconds {
        if v > FIELD_EXPIRE_MAX_MS / 1000 {
            return Err(err::invalid_expire(cmd));
        }
        v *= 1000;
    }
    if v > FIELD_EXPIRE_MAX_MS - base as i64 {
        return Err(err::invalid_expire(cmd));
    }
    Ok(v as u64 + base)
}

/// Checks `FIELDS numfields field...` starting at `at` (the FIELDS token)
/// and returns the index of the first field.
fn fields_block(args: &Args, at: usize, numfields_error: &'static str) -> Result<usize, &'static str> {
    if at >= args.len() || !args.is(at, "fields") {
        return Err(FIELDS_MISSING);
    }
    if at + 1 >= args.len() {
        return Err(NUMFIELDS_MISMATCH);
    }
    let n = match parse_i64(args.get(at + 1)) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(numfields_error),
    };
    if n != (args.len() - at - 2) as u64 {
        return Err(NUMFIELDS_MISMATCH);
    }
    Ok(at + 2)
}

thread_local! {
    /// Random source for HRANDFIELD; a thread is a shard, so this is
    /// shard-local state.
    static RNG: std::cell::RefCell<crate::util::Rng> =
        std::cell::RefCell::new(crate::util::Rng::new(crate::util::now_us()));
}

fn random_below(n: usize) -> usize {
    RNG.with(|r| (r.borrow_mut().next_u64() % n as u64) as usize)
}

/// Parses a SCAN cursor as Redis does, with C's `strtoul`: an optional
/// sign (`-` wraps around), decimal digits, no leading space, nothing after;
/// an empty string is cursor 0; values past u64 are an error.
fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        // strtoul consumed nothing: the end pointer is the start, so only
        // the empty string passes Redis's check.
        return b.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Clock to refresh access times with, unless CLIENT NO-TOUCH.
fn touch_clock(ctx: &Ctx) -> Option<u32> {
    (!ctx.no_touch).then_some(ctx.clock)
}

// ---------------------------------------------------------------- handlers

/// `HSET key field value [field value ...]` → number of new fields.
pub fn cmd_hset(ctx: &mut Ctx, args: &Args) {
    hset_generic(ctx, args, "hset");
}

/// `HMSET key field value [field value ...]` → OK.
pub fn cmd_hmset(ctx: &mut Ctx, args: &Args) {
    hset_generic(ctx, args, "hmset");
}

fn hset_generic(ctx: &mut Ctx, args: &Args, name: &str) {
    if args.len() % 2 == 1 {
        return ctx.out.error(&err::arity(name));
    }
    let pairs: Vec<(&[u8], &[u8])> = (2..args.len())
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect();
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    match op_hset(db, key, &pairs, &limits, now, clock) {
        Ok(n) => {
            if name == "hset" {
                ctx.out.int(n as i64)
            } else {
                ctx.out.ok()
            }
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `HSETNX key field value` → 1 if set, 0 if the field existed.
pub fn cmd_hsetnx(ctx: &mut Ctx, args: &Args) {
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    let (key, field, value) = (args.get(1), args.get(2), args.get(3));
    let db = &mut ctx.ks.dbs[ctx.db];
    let index = db.index;
    let h = match hash_or_create(db, key, now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut reclaimed = 0;
    if live_value(h, field, now, &mut reclaimed).is_some() {
        return ctx.out.int(0);
    }
    notify_reclaimed_then_write(index, key, reclaimed, h.is_empty());
    h.prepare_for(1, [field.len(), value.len()].into_iter(), &limits);
    h.set(field, value, false, &limits);
    notify(class::HASH, "hset", index, key);
    crate::persist::bump(1);
    ctx.out.int(1);
}

/// `HGET key field` → the value or null.
pub fn cmd_hget(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match read_hash(db, key, now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut reclaimed = 0;
    match live_value(h, args.get(2), now, &mut reclaimed) {
        Some(v) => ctx.out.bulk(v),
        None => {
            ctx.out.null();
            reclaimed_by_reader(db, key, reclaimed);
        }
    }
}

/// `HMGET key field [field ...]` → array of values/nulls.
pub fn cmd_hmget(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match read_hash(db, key, now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    ctx.out.array_len(args.len() - 2);
    let Some(h) = h else {
        for _ in 2..args.len() {
            ctx.out.null();
        }
        return;
    };
    // One `hexpired` for all the fields reclaimed, as Redis.
    let mut reclaimed = 0;
    for i in 2..args.len() {
        match live_value(h, args.get(i), now, &mut reclaimed) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    reclaimed_by_reader(db, key, reclaimed);
}

/// `HDEL key field [field ...]` → number of fields removed (expired ones
/// still stored count, as in Redis).
pub fn cmd_hdel(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match write_hash(db, key, now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut n = 0;
    for i in 2..args.len() {
        if h.remove(args.get(i)) {
            n += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        notify(class::HASH, "hdel", db.index, key);
        crate::persist::bump(n as u64);
    }
    drop_if_empty(db, key);
    ctx.out.int(n);
}

/// `HLEN key` → number of fields (expired fields not yet reclaimed count).
pub fn cmd_hlen(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    match read_hash(&mut ctx.ks.dbs[ctx.db], args.get(1), now, clock) {
        Ok(Some(h)) => {
            let n = h.len();
            ctx.out.int(n as i64)
        }
        Ok(None) => ctx.out.int(0),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `HSTRLEN key field` → length of the value, 0 when absent.
pub fn cmd_hstrlen(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match read_hash(db, key, now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut reclaimed = 0;
    match live_value(h, args.get(2), now, &mut reclaimed) {
        Some(v) => ctx.out.int(v.len() as i64),
        None => {
            ctx.out.int(0);
            reclaimed_by_reader(db, key, reclaimed);
        }
    }
}

/// `HEXISTS key field` → 1 or 0.
pub fn cmd_hexists(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match read_hash(db, key, now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => return ctx.out.int(0),
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut reclaimed = 0;
    if live_value(h, args.get(2), now, &mut reclaimed).is_some() {
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
        reclaimed_by_reader(db, key, reclaimed);
    }
}

/// What HGETALL, HKEYS and HVALS return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

fn getall_generic(ctx: &mut Ctx, args: &Args, parts: Parts) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let h = match read_hash(&mut ctx.ks.dbs[ctx.db], args.get(1), now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => {
            return if parts == Parts::Both {
                ctx.out.map_len(0)
            } else {
                ctx.out.array_len(0)
            }
        }
        Err(e) => return ctx.out.error(e.message()),
    };
    let live = h.live_len(now);
    if parts == Parts::Both {
        ctx.out.map_len(live);
    } else {
        ctx.out.array_len(live);
    }
    let check = h.has_ttls();
    for (f, v) in h.iter() {
        if check && h.is_expired_at(f, now) {
            continue;
        }
        if parts != Parts::Values {
            ctx.out.bulk(f);
        }
        if parts != Parts::Fields {
            ctx.out.bulk(v);
        }
    }
}

/// `HGETALL key` → map of fields to values.
pub fn cmd_hgetall(ctx: &mut Ctx, args: &Args) {
    getall_generic(ctx, args, Parts::Both);
}

/// `HKEYS key` → array of fields.
pub fn cmd_hkeys(ctx: &mut Ctx, args: &Args) {
    getall_generic(ctx, args, Parts::Fields);
}

/// `HVALS key` → array of values.
pub fn cmd_hvals(ctx: &mut Ctx, args: &Args) {
    getall_generic(ctx, args, Parts::Values);
}

/// `HINCRBY key field increment` → the new value.
pub fn cmd_hincrby(ctx: &mut Ctx, args: &Args) {
    let Some(delta) = parse_i64(args.get(3)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    let db = &mut ctx.ks.dbs[ctx.db];
    match op_hincrby(db, args.get(1), args.get(2), delta, &limits, now, clock) {
        Ok(v) => ctx.out.int(v),
        Err(e) => {
            drop_if_empty(db, args.get(1));
            ctx.out.error(e.message())
        }
    }
}

/// `HINCRBYFLOAT key field increment` → the new value as a bulk string.
pub fn cmd_hincrbyfloat(ctx: &mut Ctx, args: &Args) {
    let incr = args.get(3);
    // The increment alone (added to 0) tells a malformed number from an
    // infinite one, with Redis's own parser.
    match incr_float_text(None, incr) {
        Ok(_) => {}
        Err(StrError::NanOrInfinity) => return ctx.out.error(VALUE_NAN_INF),
        Err(_) => return ctx.out.error(err::NOT_FLOAT),
    }
    let (now, clock, limits) = (ctx.now_ms, ctx.clock, ctx.limits);
    let db = &mut ctx.ks.dbs[ctx.db];
    match op_hincrbyfloat(db, args.get(1), args.get(2), incr, &limits, now, clock) {
        Ok(t) => ctx.out.bulk(&t),
        Err(e) => {
            drop_if_empty(db, args.get(1));
            ctx.out.error(e.message())
        }
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]` → a random field, or `count`
/// distinct fields (negative: `-count` picks, repeats allowed), with their
/// values on request (RESP3: field/value pairs).
pub fn cmd_hrandfield(ctx: &mut Ctx, args: &Args) {
    let mut count: Option<i64> = None;
    let mut with_values = false;
    if args.len() >= 3 {
        let c = match parse_i64(args.get(2)) {
            None => return ctx.out.error(err::NOT_INTEGER),
            Some(i64::MIN) => return ctx.out.error(err::LONG_RANGE),
            Some(c) => c,
        };
        if args.len() > 4 || (args.len() == 4 && !args.is(3, "withvalues")) {
            return ctx.out.error(err::SYNTAX);
        }
        if args.len() == 4 {
            with_values = true;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
                return ctx.out.error(err::OUT_OF_RANGE);
            }
        }
        count = Some(c);
    }
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match read_hash(db, key, now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => {
            return if count.is_some() {
                ctx.out.array_len(0)
            } else {
                ctx.out.null()
            }
        }
        Err(e) => return ctx.out.error(e.message()),
    };
    let reclaimed = h.remove_expired(now);
    if reclaimed > 0 {
        notify(class::HASH, "hexpired", ctx.db, key);
    }
    if h.is_empty() {
        db.remove(key);
        notify(class::GENERIC, "del", ctx.db, key);
        return if count.is_some() {
            ctx.out.array_len(0)
        } else {
            ctx.out.null()
        };
    }
    let size = h.len();
    let Some(c) = count else {
        let (f, _) = h.at(random_below(size));
        return ctx.out.bulk(f);
    };
    if c == 0 {
        return ctx.out.array_len(0);
    }
    let resp3 = ctx.out.resp3;
    let out = &mut ctx.out;
    // The compact form has no O(1) access by position: list it once.
    let h: &Hash = h;
    let listed: Vec<(&[u8], &[u8])> = if h.is_compact() { h.iter().collect() } else { Vec::new() };
    let pick = |i: usize| if h.is_compact() { listed[i] } else { h.at(i) };
    let n = c.unsigned_abs() as usize;
    let unique = c > 0 && c != 1;
    let n = if unique { n.min(size) } else { n };
    out.array_len(if with_values && !resp3 { n * 2 } else { n });
    let mut put = |(f, v): (&[u8], &[u8])| {
        if with_values && resp3 {
            out.array_len(2);
        }
        out.bulk(f);
        if with_values {
            out.bulk(v);
        }
    };
    if !unique {
        for i in 0..n {
            let (f, v) = pick(random_below(size));
            if with_values && resp3 {
                out.array_len(2);
            }
            out.bulk(f);
            if with_values {
                out.bulk(v);
            }
            // The client's output limit stops a huge count (it is closed).
            if i % 1024 == 1023 && super::reply_over_cap(out.buf.len()) {
                break;
            }
        }
        return;
    }
    if n == size {
        h.iter().for_each(&mut put);
    } else if h.is_compact() || n * 3 > size {
        // Keep n of the positions: drop random ones (order kept for the
        // compact form, as Redis's listpack sampling returns them).
        let mut keep: Vec<usize> = (0..size).collect();
        while keep.len() > n {
            let i = random_below(keep.len());
            if h.is_compact() {
                keep.remove(i);
            } else {
                keep.swap_remove(i);
            }
        }
        for i in keep {
            put(pick(i));
        }
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(n);
        while seen.len() < n {
            let i = random_below(size);
            if seen.insert(i) {
                put(pick(i));
            }
        }
    }
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]` → [next
/// cursor, fields (and values)]. A compact hash is returned whole with
/// cursor 0; an indexed one is walked by position, from the last down.
pub fn cmd_hscan(ctx: &mut Ctx, args: &Args) {
    let Some(cursor) = parse_cursor(args.get(2)) else {
        return ctx.out.error(err::CURSOR);
    };
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let h = match read_hash(&mut ctx.ks.dbs[ctx.db], args.get(1), now, clock) {
        Ok(Some(h)) => h,
        Ok(None) => {
            ctx.out.array_len(2);
            ctx.out.bulk(b"0");
            return ctx.out.array_len(0);
        }
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut no_values = false;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if args.is(j, "count") && more {
            match parse_i64(args.get(j + 1)) {
                None => return ctx.out.error(err::NOT_INTEGER),
                Some(c) if c < 1 => return ctx.out.error(err::SYNTAX),
                Some(c) => count = c as usize,
            }
            j += 2;
        } else if args.is(j, "match") && more {
            let p = args.get(j + 1);
            pattern = if p == b"*" { None } else { Some(p) };
            j += 2;
        } else if args.is(j, "novalues") {
            no_values = true;
            j += 1;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }
    let check = h.has_ttls();
    let keep = |f: &[u8]| -> bool {
        !(check && h.is_expired_at(f, now)) && pattern.is_none_or(|p| crate::util::glob_match(p, f, false))
    };
    let mut picked: Vec<(&[u8], &[u8])> = Vec::new();
    let next = if h.is_compact() {
        picked.extend(h.iter().filter(|(f, _)| keep(f)));
        0
    } else {
        let start = if cursor == 0 {
            h.len()
        } else {
            (cursor.min(h.len() as u64)) as usize
        };
        let stop = start.saturating_sub(count);
        picked.extend((stop..start).rev().map(|i| h.at(i)).filter(|(f, _)| keep(f)));
        stop
    };
    ctx.out.array_len(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out
        .array_len(if no_values { picked.len() } else { picked.len() * 2 });
    for (f, v) in picked {
        ctx.out.bulk(f);
        if !no_values {
            ctx.out.bulk(v);
        }
    }
}

fn hexpire_generic(ctx: &mut Ctx, args: &Args, seconds: bool, absolute: bool, name: &str) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    // Redis checks the type before the arguments.
    if let Err(e) = write_hash(&mut ctx.ks.dbs[ctx.db], key, now, clock) {
        return ctx.out.error(e.message());
    }
    let at = match field_expire_arg(args.get(2), seconds, if absolute { 0 } else { now }, name) {
        Ok(t) => t,
        Err(e) => return ctx.out.error(&e),
    };
    let cond = if args.is(3, "nx") {
        Cond::Nx
    } else if args.is(3, "xx") {
        Cond::Xx
    } else if args.is(3, "gt") {
        Cond::Gt
    } else if args.is(3, "lt") {
        Cond::Lt
    } else {
        Cond::None
    };
    let fields_at = if cond == Cond::None { 3 } else { 4 };
    let first = match fields_block(args, fields_at, NUMFIELDS_HEXPIRE) {
        Ok(i) => i,
        Err(e) => return ctx.out.error(e),
    };
    let fields: Vec<&[u8]> = (first..args.len()).map(|i| args.get(i)).collect();
    match op_hexpire(&mut ctx.ks.dbs[ctx.db], key, at, cond, &fields, now, clock) {
        Ok(codes) => {
            ctx.out.array_len(fields.len());
            match codes {
                None => fields.iter().for_each(|_| ctx.out.int(SETEX_NO_FIELD)),
                Some(c) => c.into_iter().for_each(|c| ctx.out.int(c)),
            }
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `HEXPIRE key seconds [NX|XX|GT|LT] FIELDS numfields field...` → per
/// field: -2 no field, 0 condition not met, 1 set, 2 deleted (time past).
pub fn cmd_hexpire(ctx: &mut Ctx, args: &Args) {
    hexpire_generic(ctx, args, true, false, "hexpire");
}

/// `HPEXPIRE key milliseconds [NX|XX|GT|LT] FIELDS numfields field...`.
pub fn cmd_hpexpire(ctx: &mut Ctx, args: &Args) {
    hexpire_generic(ctx, args, false, false, "hpexpire");
}

/// `HEXPIREAT key unix-time-seconds [NX|XX|GT|LT] FIELDS numfields field...`.
pub fn cmd_hexpireat(ctx: &mut Ctx, args: &Args) {
    hexpire_generic(ctx, args, true, true, "hexpireat");
}

/// `HPEXPIREAT key unix-time-ms [NX|XX|GT|LT] FIELDS numfields field...`.
pub fn cmd_hpexpireat(ctx: &mut Ctx, args: &Args) {
    hexpire_generic(ctx, args, false, true, "hpexpireat");
}

fn httl_generic(ctx: &mut Ctx, args: &Args, seconds: bool, absolute: bool) {
    let (now, clock) = (ctx.now_ms, touch_clock(ctx));
    let h = match read_hash(&mut ctx.ks.dbs[ctx.db], args.get(1), now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    let first = match fields_block(args, 2, NUMFIELDS_POSITIVE) {
        Ok(i) => i,
        Err(e) => return ctx.out.error(e),
    };
    ctx.out.array_len(args.len() - first);
    let base = if absolute { 0 } else { now };
    for i in first..args.len() {
        let f = args.get(i);
        let code = match &h {
            None => TTL_NO_FIELD,
            Some(h) if h.position(f).is_none() => TTL_NO_FIELD,
            Some(h) => match h.ttl_of(f) {
                0 => TTL_NONE,
                at if at < now => TTL_NO_FIELD,
                at if seconds => ((at + 999 - base) / 1000) as i64,
                at => (at - base) as i64,
            },
        };
        ctx.out.int(code);
    }
}

/// `HTTL key FIELDS numfields field...` → per field: seconds to live, -1
/// without TTL, -2 no such field.
pub fn cmd_httl(ctx: &mut Ctx, args: &Args) {
    httl_generic(ctx, args, true, false);
}

/// `HPTTL key FIELDS numfields field...` → per field: ms to live, -1, -2.
pub fn cmd_hpttl(ctx: &mut Ctx, args: &Args) {
    httl_generic(ctx, args, false, false);
}

/// `HEXPIRETIME key FIELDS numfields field...` → per field: expiry as a
/// unix time in seconds, -1, -2.
pub fn cmd_hexpiretime(ctx: &mut Ctx, args: &Args) {
    httl_generic(ctx, args, true, true);
}

/// `HPEXPIRETIME key FIELDS numfields field...` → per field: expiry in
/// unix ms, -1, -2.
pub fn cmd_hpexpiretime(ctx: &mut Ctx, args: &Args) {
    httl_generic(ctx, args, false, true);
}

/// `HPERSIST key FIELDS numfields field...` → per field: 1 TTL removed, -1
/// no TTL, -2 no such field.
pub fn cmd_hpersist(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match write_hash(db, key, now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    let first = match fields_block(args, 2, NUMFIELDS_POSITIVE) {
        Ok(i) => i,
        Err(e) => return ctx.out.error(e),
    };
    ctx.out.array_len(args.len() - first);
    let Some(h) = h else {
        (first..args.len()).for_each(|_| ctx.out.int(TTL_NO_FIELD));
        return;
    };
    let mut persisted = false;
    for i in first..args.len() {
        let f = args.get(i);
        let code = if h.position(f).is_none() {
            TTL_NO_FIELD
        } else {
            match h.ttl_of(f) {
                0 => TTL_NONE,
                at if at < now => TTL_NO_FIELD,
                _ => {
                    h.set_ttl(f, 0);
                    persisted = true;
                    1
                }
            }
        };
        ctx.out.int(code);
    }
    if persisted {
        notify(class::HASH, "hpersist", ctx.db, key);
        crate::persist::bump(1);
    }
}

/// `HGETDEL key FIELDS numfields field...` (Redis 8.0) → the values (null
/// for absent fields), deleting the fields; the key goes with its last one.
pub fn cmd_hgetdel(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match write_hash(db, key, now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    let first = match fields_block(args, 2, NUMFIELDS_POSITIVE) {
        Ok(i) => i,
        Err(e) => return ctx.out.error(e),
    };
    ctx.out.array_len(args.len() - first);
    let Some(h) = h else {
        (first..args.len()).for_each(|_| ctx.out.null());
        return;
    };
    let (mut reclaimed, mut deleted) = (0, 0);
    for i in first..args.len() {
        let f = args.get(i);
        match live_value(h, f, now, &mut reclaimed) {
            Some(v) => {
                ctx.out.bulk(v);
                h.remove(f);
                deleted += 1;
            }
            None => ctx.out.null(),
        }
    }
    if reclaimed > 0 {
        notify(class::HASH, "hexpired", db.index, key);
    }
    if deleted > 0 {
        notify(class::HASH, "hdel", db.index, key);
    }
    drop_if_empty(db, key);
}

/// `HGETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST] FIELDS numfields
/// field...` (Redis 8.0) → the values, after setting or removing the
/// fields' TTLs.
pub fn cmd_hgetex(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    if let Err(e) = write_hash(&mut ctx.ks.dbs[ctx.db], key, now, clock) {
        return ctx.out.error(e.message());
    }
    // (seconds, absolute) of an expiry option.
    let unit = if args.is(2, "ex") {
        Some((true, false))
    } else if args.is(2, "px") {
        Some((false, false))
    } else if args.is(2, "exat") {
        Some((true, true))
    } else if args.is(2, "pxat") {
        Some((false, true))
    } else {
        None
    };
    let persist = args.is(2, "persist");
    let mut fields_at = 2;
    let mut at = 0;
    if let Some((seconds, absolute)) = unit {
        if args.len() < 4 {
            return ctx.out.error(&err::arity("hgetex"));
        }
        at = match field_expire_arg(args.get(3), seconds, if absolute { 0 } else { now }, "hgetex") {
            Ok(t) => t,
            Err(e) => return ctx.out.error(&e),
        };
        fields_at = 4;
    } else if persist {
        fields_at = 3;
    }
    let first = match fields_block(args, fields_at, NUMFIELDS_POSITIVE) {
        Ok(i) => i,
        Err(e) => return ctx.out.error(e),
    };
    let db = &mut ctx.ks.dbs[ctx.db];
    let h = match write_hash(db, key, now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    ctx.out.array_len(args.len() - first);
    let Some(h) = h else {
        (first..args.len()).for_each(|_| ctx.out.null());
        return;
    };
    if unit.is_some() || persist {
        h.mark_ex();
    }
    let (mut reclaimed, mut persisted, mut expiring, mut deleted) = (0, false, false, false);
    for i in first..args.len() {
        let f = args.get(i);
        match live_value(h, f, now, &mut reclaimed) {
            None => ctx.out.null(),
            Some(v) => {
                ctx.out.bulk(v);
                if persist {
                    if h.ttl_of(f) != 0 {
                        h.set_ttl(f, 0);
                        persisted = true;
                    }
                } else if unit.is_some() {
                    match set_field_expiry(h, f, at, Cond::None, now) {
                        SETEX_DELETED => deleted = true,
                        _ => expiring = true,
                    }
                }
            }
        }
    }
    let emptied = h.is_empty();
    settle(db, key);
    let index = db.index;
    if reclaimed > 0 {
        notify(class::HASH, "hexpired", index, key);
    }
    if deleted || expiring || persisted {
        crate::persist::bump(1);
    }
    if deleted {
        notify(class::HASH, "hdel", index, key);
    } else if expiring {
        notify(class::HASH, "hexpire", index, key);
    } else if persisted {
        notify(class::HASH, "hpersist", index, key);
    }
    if emptied {
        notify(class::GENERIC, "del", index, key);
    }
}

/// `HSETEX key [FNX|FXX] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL] FIELDS
/// numfields field value...` (Redis 8.0) → 1 when the fields were set, 0
/// when FNX/FXX prevented it.
pub fn cmd_hsetex(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let mut fnx = false;
    let mut fxx = false;
    let mut keep_ttl = false;
    let mut expire: Option<u64> = None;
    let mut first = 0;
    let mut i = 2;
    while i < args.len() {
        if args.is(i, "fields") {
            if i + 3 >= args.len() {
                return ctx.out.error(&err::arity("hsetex"));
            }
            let n = match parse_i64(args.get(i + 1)) {
                Some(n) if (1..=i32::MAX as i64).contains(&n) => n as usize,
                _ => return ctx.out.error(HSETEX_NUMFIELDS),
            };
            let remaining = args.len() - i - 2;
            if !remaining.is_multiple_of(2) || n != remaining / 2 {
                return ctx.out.error(&err::arity("hsetex"));
            }
            first = i + 2;
            break;
        }
        let exp = [
            ("ex", true, false),
            ("px", false, false),
            ("exat", true, true),
            ("pxat", false, true),
        ]
        .into_iter()
        .find(|(w, _, _)| args.is(i, w));
        if let Some((_, seconds, absolute)) = exp {
            if expire.is_some() || keep_ttl {
                return ctx.out.error(HSETEX_EXPIRATION);
            }
            if i + 1 >= args.len() {
                return ctx.out.error(HSETEX_MISSING_EXPIRE);
            }
            i += 1;
            match field_expire_arg(args.get(i), seconds, if absolute { 0 } else { now }, "hsetex") {
                Ok(t) => expire = Some(t),
                Err(e) => return ctx.out.error(&e),
            }
        } else if args.is(i, "keepttl") {
            if expire.is_some() || keep_ttl {
                return ctx.out.error(HSETEX_EXPIRATION);
            }
            keep_ttl = true;
        } else if args.is(i, "fxx") || args.is(i, "fnx") {
            if fnx || fxx {
                return ctx.out.error(HSETEX_FXX_FNX);
            }
            fxx = args.is(i, "fxx");
            fnx = !fxx;
        } else {
            return ctx
                .out
                .error_bytes(&err::with_arg("ERR unknown argument: ", args.get(i), ""));
        }
        i += 1;
    }
    if first == 0 {
        return ctx.out.error(&err::arity("hsetex"));
    }
    let (clock, limits) = (ctx.clock, ctx.limits);
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    match write_hash(db, key, now, clock) {
        Err(e) => return ctx.out.error(e.message()),
        Ok(None) if fxx => return ctx.out.int(0),
        _ => {}
    }
    let h = match hash_or_create(db, key, now, clock) {
        Ok(h) => h,
        Err(e) => return ctx.out.error(e.message()),
    };
    if fnx || fxx {
        let mut found = 0;
        let n = (args.len() - first) / 2;
        let mut reclaimed = 0;
        for k in 0..n {
            let exists = live_value(h, args.get(first + 2 * k), now, &mut reclaimed).is_some();
            found += exists as usize;
            if (fxx && !exists) || (fnx && exists) {
                break;
            }
        }
        if (fnx && found != 0) || (fxx && found != n) {
            drop_if_empty(db, key);
            return ctx.out.int(0);
        }
    }
    h.prepare_for(
        (args.len() - first) / 2,
        (first..args.len()).map(|i| args.get(i).len()),
        &limits,
    );
    if expire.is_some() {
        h.mark_ex();
    }
    let mut deleted = false;
    for k in (first..args.len()).step_by(2) {
        let (f, v) = (args.get(k), args.get(k + 1));
        h.set(f, v, keep_ttl || expire.is_some(), &limits);
        if let Some(at) = expire {
            deleted |= set_field_expiry(h, f, at, Cond::None, now) == SETEX_DELETED;
        }
    }
    let emptied = h.is_empty();
    settle(db, key);
    let index = db.index;
    notify(class::HASH, "hset", index, key);
    crate::persist::bump(1);
    if deleted {
        notify(class::HASH, "hdel", index, key);
    } else if expire.is_some() {
        notify(class::HASH, "hexpire", index, key);
    }
    if emptied {
        notify(class::GENERIC, "del", index, key);
    }
    ctx.out.int(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hset_and_incr_ops() {
        let mut db = Db::new();
        let l = Limits::default();
        assert_eq!(op_hset(&mut db, b"h", &[(b"a", b"1"), (b"b", b"x")], &l, 0, 0), Ok(2));
        assert_eq!(op_hset(&mut db, b"h", &[(b"a", b"2")], &l, 0, 0), Ok(0));
        assert_eq!(op_hincrby(&mut db, b"h", b"a", 5, &l, 0, 0), Ok(7));
        assert_eq!(op_hincrby(&mut db, b"h", b"b", 1, &l, 0, 0), Err(OpError::NotInteger));
        assert_eq!(
            op_hincrby(&mut db, b"h", b"a", i64::MAX, &l, 0, 0),
            Err(OpError::Overflow)
        );
        assert_eq!(
            op_hincrbyfloat(&mut db, b"h", b"a", b"0.5", &l, 0, 0),
            Ok(b"7.5".to_vec())
        );
        assert_eq!(
            op_hincrbyfloat(&mut db, b"h", b"b", b"1", &l, 0, 0),
            Err(OpError::NotFloat)
        );
        db.insert(b"s", Value::Int(1), 0, 0);
        assert_eq!(
            op_hset(&mut db, b"s", &[(b"a", b"1")], &l, 0, 0),
            Err(OpError::WrongType)
        );
    }

    #[test]
    fn hexpire_codes_and_reclaim() {
        let mut db = Db::new();
        let l = Limits::default();
        op_hset(&mut db, b"h", &[(b"a", b"1"), (b"b", b"2")], &l, 1000, 0).unwrap();
        let f: &[&[u8]] = &[b"a", b"b", b"c"];
        assert_eq!(
            op_hexpire(&mut db, b"h", 5000, Cond::Nx, f, 1000, 0),
            Ok(Some(vec![1, 1, -2]))
        );
        assert_eq!(
            op_hexpire(&mut db, b"h", 4000, Cond::Gt, f, 1000, 0),
            Ok(Some(vec![0, 0, -2]))
        );
        assert_eq!(
            op_hexpire(&mut db, b"h", 4000, Cond::Lt, &[b"a"], 1000, 0),
            Ok(Some(vec![1]))
        );
        assert_eq!(
            op_hexpire(&mut db, b"nokey", 4000, Cond::None, &[b"a"], 1000, 0),
            Ok(None)
        );
        // Active reclamation removes the fields, then the key.
        assert_eq!(db.expire_hash_fields_slice(4500, 100), 1);
        assert!(db.lookup(b"h", 4500).is_some());
        assert_eq!(db.expire_hash_fields_slice(6000, 100), 1);
        assert!(db.lookup(b"h", 6000).is_none());
        assert_eq!(db.hash_ttl_keys(), 0);
        // Deleting or overwriting a key forgets its filing.
        op_hset(&mut db, b"d", &[(b"a", b"1")], &l, 1000, 0).unwrap();
        op_hexpire(&mut db, b"d", 9000, Cond::None, &[b"a"], 1000, 0).unwrap();
        assert_eq!(db.hash_ttl_keys(), 1);
        db.remove(b"d");
        assert_eq!(db.hash_ttl_keys(), 0);
        op_hset(&mut db, b"d", &[(b"a", b"1")], &l, 1000, 0).unwrap();
        op_hexpire(&mut db, b"d", 9000, Cond::None, &[b"a"], 1000, 0).unwrap();
        db.insert(b"d", Value::Int(1), 0, 0);
        assert_eq!(db.hash_ttl_keys(), 0);
        // A time in the past deletes the field at once.
        op_hset(&mut db, b"h", &[(b"a", b"1")], &l, 1000, 0).unwrap();
        assert_eq!(
            op_hexpire(&mut db, b"h", 1000, Cond::None, &[b"a"], 1000, 0),
            Ok(Some(vec![2]))
        );
        assert!(db.lookup(b"h", 1000).is_none());
    }
}
