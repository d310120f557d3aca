//! String family: GET, SET and its variants, counters, ranges, LCS.
//!
//! `cmd_*` handlers parse arguments and shape replies; `op_*` functions work
//! on one database of one shard and return `Result<_, OpError>`.

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx};
use crate::shard::count_lookup;
use crate::storage::value::with_str_bytes;
use crate::storage::{Db, Value};

/// Failures of string operations, mapped to Redis's error replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    WrongType,
    NotInteger,
    NotFloat,
    Overflow,
    NanOrInfinity,
    TooLong,
}

impl OpError {
    pub fn message(self) -> &'static str {
        match self {
            OpError::WrongType => err::WRONGTYPE,
            OpError::NotInteger => err::NOT_INTEGER,
            OpError::NotFloat => err::NOT_FLOAT,
            OpError::Overflow => err::OVERFLOW,
            OpError::NanOrInfinity => err::INCR_NAN_INF,
            OpError::TooLong => err::STRING_TOO_LONG,
        }
    }
}

// ---------------------------------------------------------------- ops

/// Reads a string key: `Ok(None)` when absent, WrongType for other types.
pub fn op_get<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d Value>, OpError> {
    let index = db.index;
    let found = db.lookup(key, now);
    count_lookup(found.is_some());
    match found {
        None => {
            key_miss(index, key);
            Ok(None)
        }
        Some(e) if e.value.is_string() => Ok(Some(&e.value)),
        Some(_) => Err(OpError::WrongType),
    }
}

/// Adds `delta` to the integer stored at `key` (0 when absent), keeping the
/// TTL. Returns the new value.
pub fn op_incr(db: &mut Db, key: &[u8], delta: i64, now: u64, clock: u32) -> Result<i64, OpError> {
    if let Some(e) = db.lookup(key, now) {
        let cur = match &e.value {
            Value::Int(i) => *i,
            Value::Str(data) => crate::protocol::parser::parse_i64_strict(data).ok_or(OpError::NotInteger)?,
            _ => return Err(OpError::WrongType),
        };
        let new = cur.checked_add(delta).ok_or(OpError::Overflow)?;
        e.value = Value::Int(new);
        e.touch(clock);
        notify(class::STRING, "incrby", db.index, key);
        return Ok(new);
    }
    db.insert(key, Value::Int(delta), 0, clock);
    notify(class::STRING, "incrby", db.index, key);
    Ok(delta)
}

extern "C" {
    /// `src/native/long_double.c`: Redis's INCRBYFLOAT in C `long double`.
    fn spindle_incrbyfloat(
        cur: *const u8,
        cur_len: usize,
        cur_is_int: i32,
        cur_int: i64,
        incr: *const u8,
        incr_len: usize,
        out: *mut u8,
        out_cap: usize,
    ) -> i64;
}

/// Adds `incr` (text) to `cur` the way Redis does, in 80-bit long double
/// with its `%.17Lf` trimmed output, and returns the new text.
pub fn incr_float_text(cur: Option<&Value>, incr: &[u8]) -> Result<Vec<u8>, OpError> {
    let mut out = vec![0u8; 5 * 1024];
    let (ptr, len, is_int, int) = match cur {
        None => (std::ptr::null(), 0, 0, 0),
        Some(Value::Int(i)) => (std::ptr::null(), 0, 1, *i),
        Some(Value::Str(data)) => (data.as_ptr(), data.len(), 0, 0),
        Some(_) => return Err(OpError::WrongType),
    };
    // SAFETY: every pointer is valid for the length passed with it; the C
    // side copies inputs into its own buffers and writes at most out_cap
    // bytes into `out`.
    let n = unsafe {
        spindle_incrbyfloat(
            ptr,
            len,
            is_int,
            int,
            incr.as_ptr(),
            incr.len(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    match n {
        -1 | -2 | -4 => Err(OpError::NotFloat),
        -3 => Err(OpError::NanOrInfinity),
        n => {
            out.truncate(n as usize);
            Ok(out)
        }
    }
}

/// INCRBYFLOAT on one key, keeping its TTL; returns the stored text.
pub fn op_incr_float(db: &mut Db, key: &[u8], incr: &[u8], now: u64, clock: u32) -> Result<Vec<u8>, OpError> {
    let text = match db.lookup(key, now) {
        None => incr_float_text(None, incr)?,
        Some(e) => {
            let t = incr_float_text(Some(&e.value), incr)?;
            e.value = Value::string(t.clone());
            e.touch(clock);
            notify(class::STRING, "incrbyfloat", db.index, key);
            return Ok(t);
        }
    };
    db.insert(key, Value::string(text.clone()), 0, clock);
    notify(class::STRING, "incrbyfloat", db.index, key);
    Ok(text)
}

/// APPEND: returns the new length.
pub fn op_append(db: &mut Db, key: &[u8], tail: &[u8], max: usize, now: u64, clock: u32) -> Result<usize, OpError> {
    match db.lookup(key, now) {
        None => {
            if tail.len() > max {
                return Err(OpError::TooLong);
            }
            db.insert(key, Value::from_bytes(tail), 0, clock);
            notify(class::STRING, "append", db.index, key);
            Ok(tail.len())
        }
        Some(e) if !e.value.is_string() => Err(OpError::WrongType),
        Some(e) => {
            let mut data = std::mem::replace(&mut e.value, Value::Int(0)).into_bytes();
            if data.len() + tail.len() > max {
                e.value = Value::from_bytes(&data);
                return Err(OpError::TooLong);
            }
            data.extend_from_slice(tail);
            let len = data.len();
            e.value = Value::raw_string(data);
            e.touch(clock);
            notify(class::STRING, "append", db.index, key);
            Ok(len)
        }
    }
}

/// SETRANGE: returns the new length.
pub fn op_setrange(
    db: &mut Db,
    key: &[u8],
    offset: usize,
    value: &[u8],
    max: usize,
    now: u64,
    clock: u32,
) -> Result<usize, OpError> {
    let exists = match db.lookup(key, now) {
        None => false,
        Some(e) if e.value.is_string() => true,
        Some(_) => return Err(OpError::WrongType),
    };
    if !exists {
        if value.is_empty() {
            return Ok(0);
        }
        if offset + value.len() > max {
            return Err(OpError::TooLong);
        }
        // Sized exactly: growing a zeroed vector by the value would double
        // its capacity (SETRANGE k 100000 x held 200 KB).
        let mut data = Vec::with_capacity(offset + value.len());
        data.resize(offset, 0);
        data.extend_from_slice(value);
        let len = data.len();
        db.insert(key, Value::raw_string(data), 0, clock);
        notify(class::STRING, "setrange", db.index, key);
        return Ok(len);
    }
    let e = db.lookup(key, now).expect("key looked up above");
    let cur_len = with_str_bytes(&e.value, |b| b.len()).unwrap_or(0);
    if value.is_empty() {
        return Ok(cur_len);
    }
    if offset + value.len() > max {
        return Err(OpError::TooLong);
    }
    let mut data = std::mem::replace(&mut e.value, Value::Int(0)).into_bytes();
    if data.len() < offset + value.len() {
        data.resize(offset + value.len(), 0);
    }
    data[offset..offset + value.len()].copy_from_slice(value);
    let len = data.len();
    e.value = Value::raw_string(data);
    e.touch(clock);
    notify(class::STRING, "setrange", db.index, key);
    Ok(len)
}

/// Stores a string, replacing any value; `expire_at` 0 = no TTL unless
/// `keep_ttl`. Raises `set` (and `new` for a new key).
pub fn op_set(db: &mut Db, key: &[u8], value: &[u8], expire_at: u64, keep_ttl: bool, clock: u32) {
    let v = Value::from_bytes(value);
    if keep_ttl {
        if let Some(e) = db.lookup(key, 0) {
            // An expired key was already removed by a lookup earlier in the
            // command; now=0 here only skips a second expiry check.
            e.value = v;
            e.touch(clock);
            notify(class::STRING, "set", db.index, key);
            return;
        }
    }
    db.insert(key, v, expire_at, clock);
    notify(class::STRING, "set", db.index, key);
}

// ---------------------------------------------------------------- helpers

/// Writes a string value as a bulk reply.
#[inline]
pub fn reply_value(ctx: &mut Ctx, v: &Value) {
    match v {
        Value::Int(i) => ctx.out.bulk_int(*i),
        Value::Str(data) => ctx.out.bulk(data),
        _ => ctx.out.error(err::WRONGTYPE),
    }
}

fn value_bytes(v: &Value) -> Vec<u8> {
    with_str_bytes(v, |b| b.to_vec()).unwrap_or_default()
}

/// The unit of an expiry argument.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpireUnit {
    Seconds,
    Millis,
}

/// Turns an expiry argument into an absolute time in ms, with Redis's
/// checks: positive, no overflow. `absolute` for EXAT/PXAT.
pub fn expire_arg(arg: &[u8], unit: ExpireUnit, absolute: bool, now: u64, cmd: &str) -> Result<u64, String> {
    let v = parse_i64(arg).ok_or_else(|| err::NOT_INTEGER.to_string())?;
    if v <= 0 || (unit == ExpireUnit::Seconds && v > i64::MAX / 1000) {
        return Err(err::invalid_expire(cmd));
    }
    let ms = if unit == ExpireUnit::Seconds { v * 1000 } else { v };
    if absolute {
        return Ok(ms as u64);
    }
    if ms > i64::MAX - now as i64 {
        return Err(err::invalid_expire(cmd));
    }
    Ok(ms as u64 + now)
}

// ---------------------------------------------------------------- handlers

/// `GET key` → bulk string or null.
pub fn cmd_get(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let clock = ctx.clock;
    let touch = !ctx.no_touch;
    let found = ctx.ks.dbs[ctx.db].lookup(args.get(1), now);
    count_lookup(found.is_some());
    match found {
        None => {
            key_miss(ctx.db, args.get(1));
            ctx.out.null()
        }
        Some(e) => {
            if touch {
                e.touch(clock);
            }
            match &e.value {
                Value::Int(i) => ctx.out.bulk_int(*i),
                Value::Str(data) => ctx.out.bulk(data),
                _ => ctx.out.error(err::WRONGTYPE),
            }
        }
    }
}

/// Options shared by SET and GETEX.
#[derive(Default, Debug)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// (argument index, unit, absolute)
    expire: Option<(usize, ExpireUnit, bool)>,
}

/// Parses `[NX|XX] [GET] [EX|PX|EXAT|PXAT n|KEEPTTL|PERSIST]` from `start`,
/// following Redis's rules on which options combine.
fn parse_set_options(args: &Args, start: usize, is_set: bool) -> Result<SetOptions, &'static str> {
    let mut o = SetOptions::default();
    let mut j = start;
    while j < args.len() {
        let a = args.get(j);
        let has_next = j + 1 < args.len();
        if is_set && a.eq_ignore_ascii_case(b"nx") && !o.xx {
            o.nx = true;
        } else if is_set && a.eq_ignore_ascii_case(b"xx") && !o.nx {
            o.xx = true;
        } else if is_set && a.eq_ignore_ascii_case(b"get") {
            o.get = true;
        } else if is_set && a.eq_ignore_ascii_case(b"keepttl") && !o.persist && o.expire.is_none() {
            o.keep_ttl = true;
        } else if !is_set && a.eq_ignore_ascii_case(b"persist") && o.expire.is_none() && !o.keep_ttl {
            o.persist = true;
        } else if has_next && !o.keep_ttl && !o.persist {
            let (unit, abs) = if a.eq_ignore_ascii_case(b"ex") {
                (ExpireUnit::Seconds, false)
            } else if a.eq_ignore_ascii_case(b"px") {
                (ExpireUnit::Millis, false)
            } else if a.eq_ignore_ascii_case(b"exat") {
                (ExpireUnit::Seconds, true)
            } else if a.eq_ignore_ascii_case(b"pxat") {
                (ExpireUnit::Millis, true)
            } else {
                return Err(err::SYNTAX);
            };
            if let Some((_, u, ab)) = o.expire {
                if u != unit || ab != abs {
                    return Err(err::SYNTAX);
                }
            }
            o.expire = Some((j + 1, unit, abs));
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]`
/// → OK, null when NX/XX prevented the write, or the old value with GET.
pub fn cmd_set(ctx: &mut Ctx, args: &Args) {
    let opts = match parse_set_options(args, 3, true) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let expire_at = match opts.expire {
        None => 0,
        Some((i, unit, abs)) => match expire_arg(args.get(i), unit, abs, ctx.now_ms, "set") {
            Ok(t) => t,
            Err(e) => return ctx.out.error(&e),
        },
    };
    set_generic(
        ctx,
        args.get(1),
        args.get(2),
        expire_at,
        opts.keep_ttl,
        opts.nx,
        opts.xx,
        opts.get,
    );
}

/// The body shared by SET, SETNX, SETEX, PSETEX and GETSET.
#[allow(clippy::too_many_arguments)]
fn set_generic(ctx: &mut Ctx, key: &[u8], value: &[u8], expire_at: u64, keep_ttl: bool, nx: bool, xx: bool, get: bool) {
    let now = ctx.now_ms;
    let clock = ctx.clock;
    let db = &mut ctx.ks.dbs[ctx.db];
    if !(nx || xx || get || keep_ttl) && (expire_at == 0 || expire_at > now) {
        // Plain SET: one hash lookup, replacing whatever was there.
        db.insert(key, Value::from_bytes(value), expire_at, clock);
        notify(class::STRING, "set", db.index, key);
        if expire_at != 0 {
            notify(class::GENERIC, "expire", db.index, key);
        }
        ctx.dirty(1);
        return ctx.out.ok();
    }
    let (exists, old) = match db.lookup(key, now) {
        None => {
            if get {
                // GET reads the key first (Redis's lookupKeyRead).
                key_miss(db.index, key);
            }
            (false, None)
        }
        Some(e) => {
            if get {
                if !e.value.is_string() {
                    return ctx.out.error(err::WRONGTYPE);
                }
                (true, Some(value_bytes(&e.value)))
            } else {
                (true, None)
            }
        }
    };
    if (nx && exists) || (xx && !exists) {
        if get {
            match old {
                Some(v) => ctx.out.bulk(&v),
                None => ctx.out.null(),
            }
        } else {
            ctx.out.null();
        }
        return;
    }
    op_set(db, key, value, expire_at, keep_ttl, clock);
    crate::persist::changed(ctx.shard, 1);
    if expire_at != 0 {
        notify(class::GENERIC, "expire", db.index, key);
    }
    if expire_at != 0 && expire_at <= now {
        // EXAT/PXAT in the past: the write happens and the key is gone at
        // once (Redis reclaims it on its next lookup, raising `expired`).
        db.remove(key);
        notify(class::EXPIRED, "expired", db.index, key);
    }
    if get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
}

/// `SETNX key value` → 1 if set, 0 if the key existed.
pub fn cmd_setnx(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let clock = ctx.clock;
    let db = &mut ctx.ks.dbs[ctx.db];
    if db.contains(args.get(1), now) {
        ctx.out.int(0);
    } else {
        op_set(db, args.get(1), args.get(2), 0, false, clock);
        ctx.dirty(1);
        ctx.out.int(1);
    }
}

/// `SETEX key seconds value` → OK.
pub fn cmd_setex(ctx: &mut Ctx, args: &Args) {
    setex_generic(ctx, args, ExpireUnit::Seconds, "setex");
}

/// `PSETEX key milliseconds value` → OK.
pub fn cmd_psetex(ctx: &mut Ctx, args: &Args) {
    setex_generic(ctx, args, ExpireUnit::Millis, "psetex");
}

fn setex_generic(ctx: &mut Ctx, args: &Args, unit: ExpireUnit, name: &str) {
    match expire_arg(args.get(2), unit, false, ctx.now_ms, name) {
        Ok(at) => set_generic(ctx, args.get(1), args.get(3), at, false, false, false, false),
        Err(e) => ctx.out.error(&e),
    }
}

/// `GETSET key value` → the old value or null.
pub fn cmd_getset(ctx: &mut Ctx, args: &Args) {
    set_generic(ctx, args.get(1), args.get(2), 0, false, false, false, true);
}

/// `GETDEL key` → the value (now deleted) or null.
pub fn cmd_getdel(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let db = &mut ctx.ks.dbs[ctx.db];
    match db.lookup(args.get(1), now) {
        None => {
            key_miss(db.index, args.get(1));
            ctx.out.null()
        }
        Some(e) if !e.value.is_string() => ctx.out.error(err::WRONGTYPE),
        Some(_) => {
            let e = db.remove(args.get(1)).expect("key looked up above");
            notify(class::GENERIC, "del", db.index, args.get(1));
            ctx.dirty(1);
            reply_value(ctx, &e.value);
        }
    }
}

/// `GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]` → the value or null.
pub fn cmd_getex(ctx: &mut Ctx, args: &Args) {
    let opts = match parse_set_options(args, 2, false) {
        Ok(o) => o,
        Err(e) => return ctx.out.error(e),
    };
    let now = ctx.now_ms;
    let key = args.get(1);
    // Redis looks the key up before validating the expire value.
    let v = match ctx.ks.dbs[ctx.db].lookup(key, now) {
        None => {
            key_miss(ctx.db, key);
            return ctx.out.null();
        }
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => e.value.clone(),
    };
    let expire_at = match opts.expire {
        None => 0,
        Some((i, unit, abs)) => match expire_arg(args.get(i), unit, abs, now, "getex") {
            Ok(t) => t,
            Err(e) => return ctx.out.error(&e),
        },
    };
    let db = &mut ctx.ks.dbs[ctx.db];
    if expire_at != 0 {
        if expire_at <= now {
            db.remove(key);
            notify(class::GENERIC, "del", db.index, key);
        } else {
            db.set_expire(key, expire_at);
            notify(class::GENERIC, "expire", db.index, key);
        }
        ctx.dirty(1);
    } else if opts.persist {
        let had_ttl = db.lookup(key, now).is_some_and(|e| e.expire_at() != 0);
        if had_ttl {
            db.set_expire(key, 0);
            notify(class::GENERIC, "persist", db.index, key);
            ctx.dirty(1);
        }
    }
    reply_value(ctx, &v);
}

/// `MGET key [key ...]` (all keys on this shard) → array of values/nulls.
pub fn cmd_mget(ctx: &mut Ctx, args: &Args) {
    ctx.out.array_len(args.len() - 1);
    for i in 1..args.len() {
        let now = ctx.now_ms;
        let found = ctx.ks.dbs[ctx.db].lookup(args.get(i), now);
        count_lookup(found.is_some());
        match found {
            Some(e) => match &e.value {
                Value::Int(v) => ctx.out.bulk_int(*v),
                Value::Str(data) => ctx.out.bulk(data),
                _ => ctx.out.null(),
            },
            None => {
                key_miss(ctx.db, args.get(i));
                ctx.out.null()
            }
        }
    }
}

/// Per-shard part of a cross-shard MGET: the values of `keys`, in order.
pub fn op_mget(db: &mut Db, keys: &[Vec<u8>], now: u64) -> Vec<Option<Vec<u8>>> {
    keys.iter()
        .map(|k| {
            let index = db.index;
            let found = db.lookup(k, now);
            count_lookup(found.is_some());
            match found {
                Some(e) if e.value.is_string() => Some(value_bytes(&e.value)),
                Some(_) => None,
                None => {
                    key_miss(index, k);
                    None
                }
            }
        })
        .collect()
}

/// `MSET key value [key value ...]` (all keys on this shard) → OK.
pub fn cmd_mset(ctx: &mut Ctx, args: &Args) {
    if args.len() % 2 == 0 {
        return ctx.out.error(&err::arity("mset"));
    }
    let clock = ctx.clock;
    let db = &mut ctx.ks.dbs[ctx.db];
    for i in (1..args.len()).step_by(2) {
        op_set(db, args.get(i), args.get(i + 1), 0, false, clock);
    }
    ctx.dirty((args.len() as u64 - 1) / 2);
    ctx.out.ok();
}

/// `MSETNX key value [key value ...]` (all keys on this shard) → 1 if all
/// were set, 0 if any key existed (and nothing was set).
pub fn cmd_msetnx(ctx: &mut Ctx, args: &Args) {
    if args.len() % 2 == 0 {
        return ctx.out.error(&err::arity("msetnx"));
    }
    let now = ctx.now_ms;
    let clock = ctx.clock;
    let db = &mut ctx.ks.dbs[ctx.db];
    for i in (1..args.len()).step_by(2) {
        if db.contains(args.get(i), now) {
            return ctx.out.int(0);
        }
    }
    for i in (1..args.len()).step_by(2) {
        op_set(db, args.get(i), args.get(i + 1), 0, false, clock);
    }
    ctx.dirty((args.len() as u64 - 1) / 2);
    ctx.out.int(1);
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], delta: i64) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = &mut ctx.ks.dbs[ctx.db];
    match op_incr(db, key, delta, now, clock) {
        Ok(v) => {
            ctx.dirty(1);
            ctx.out.int(v)
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `INCR key` → the new value.
pub fn cmd_incr(ctx: &mut Ctx, args: &Args) {
    incr_generic(ctx, args.get(1), 1);
}

/// `DECR key` → the new value.
pub fn cmd_decr(ctx: &mut Ctx, args: &Args) {
    incr_generic(ctx, args.get(1), -1);
}

/// `INCRBY key increment` → the new value.
pub fn cmd_incrby(ctx: &mut Ctx, args: &Args) {
    match parse_i64(args.get(2)) {
        Some(d) => incr_generic(ctx, args.get(1), d),
        None => ctx.out.error(err::NOT_INTEGER),
    }
}

/// `DECRBY key decrement` → the new value.
pub fn cmd_decrby(ctx: &mut Ctx, args: &Args) {
    match parse_i64(args.get(2)) {
        Some(i64::MIN) => ctx.out.error(err::DECREMENT_OVERFLOW),
        Some(d) => incr_generic(ctx, args.get(1), -d),
        None => ctx.out.error(err::NOT_INTEGER),
    }
}

/// `INCRBYFLOAT key increment` → the new value as a bulk string.
pub fn cmd_incrbyfloat(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    let db = &mut ctx.ks.dbs[ctx.db];
    match op_incr_float(db, key, args.get(2), now, clock) {
        Ok(s) => {
            ctx.dirty(1);
            ctx.out.bulk(&s)
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `APPEND key value` → the new length.
pub fn cmd_append(ctx: &mut Ctx, args: &Args) {
    let (now, clock, max) = (ctx.now_ms, ctx.clock, ctx.max_bulk_len);
    let db = &mut ctx.ks.dbs[ctx.db];
    match op_append(db, args.get(1), args.get(2), max, now, clock) {
        Ok(n) => {
            ctx.dirty(1);
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `STRLEN key` → length of the string, 0 when absent.
pub fn cmd_strlen(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    match op_get(&mut ctx.ks.dbs[ctx.db], args.get(1), now) {
        Ok(None) => ctx.out.int(0),
        Ok(Some(v)) => {
            let n = with_str_bytes(v, |b| b.len()).unwrap_or(0);
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `GETRANGE key start end` (and `SUBSTR`) → the substring, "" when absent.
pub fn cmd_getrange(ctx: &mut Ctx, args: &Args) {
    let (Some(mut start), Some(mut end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    let now = ctx.now_ms;
    let v = match op_get(&mut ctx.ks.dbs[ctx.db], args.get(1), now) {
        Ok(None) => return ctx.out.bulk(b""),
        Ok(Some(v)) => v,
        Err(e) => return ctx.out.error(e.message()),
    };
    let mut tmp = [0u8; 20];
    let s: &[u8] = match v {
        Value::Int(i) => crate::protocol::reply::fmt_i64(&mut tmp, *i),
        Value::Str(data) => data,
        _ => return ctx.out.error(err::WRONGTYPE),
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return ctx.out.bulk(b"");
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return ctx.out.bulk(b"");
    }
    let piece = s[start as usize..=end as usize].to_vec();
    ctx.out.bulk(&piece);
}

/// `SETRANGE key offset value` → the new length.
pub fn cmd_setrange(ctx: &mut Ctx, args: &Args) {
    let Some(offset) = parse_i64(args.get(2)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    if offset < 0 {
        return ctx.out.error(err::OFFSET_RANGE);
    }
    let (now, clock, max) = (ctx.now_ms, ctx.clock, ctx.max_bulk_len);
    match op_setrange(
        &mut ctx.ks.dbs[ctx.db],
        args.get(1),
        offset as usize,
        args.get(3),
        max,
        now,
        clock,
    ) {
        Ok(n) => {
            if !args.get(3).is_empty() {
                ctx.dirty(1);
            }
            ctx.out.int(n as i64)
        }
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]` → the
/// longest common subsequence, its length, or its matching ranges.
pub fn cmd_lcs(ctx: &mut Ctx, args: &Args) {
    let mut want_len = false;
    let mut want_idx = false;
    let mut with_match_len = false;
    let mut min_match_len: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        if args.is(j, "idx") {
            want_idx = true;
        } else if args.is(j, "len") {
            want_len = true;
        } else if args.is(j, "withmatchlen") {
            with_match_len = true;
        } else if args.is(j, "minmatchlen") && j + 1 < args.len() {
            match parse_i64(args.get(j + 1)) {
                Some(v) => min_match_len = v.max(0),
                None => return ctx.out.error(err::NOT_INTEGER),
            }
            j += 1;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let mut fetch = |key: &[u8]| -> Result<Vec<u8>, ()> {
        match ctx.ks.dbs[ctx.db].lookup(key, now) {
            None => {
                key_miss(ctx.db, key);
                Ok(Vec::new())
            }
            Some(e) if e.value.is_string() => Ok(value_bytes(&e.value)),
            Some(_) => Err(()),
        }
    };
    let (Ok(a), Ok(b)) = (fetch(args.get(1)), fetch(args.get(2))) else {
        return ctx.out.error(err::LCS_NOT_STRINGS);
    };
    if want_idx && want_len {
        return ctx.out.error(err::LCS_IDX_LEN);
    }
    let (alen, blen) = (a.len(), b.len());
    if (alen as u64 + 1) * (blen as u64 + 1) * 4 > ctx.max_bulk_len as u64 {
        return ctx.out.error(err::LCS_TOO_BIG);
    }
    // dp[i][j] = LCS length of a[..i] and b[..j].
    let w = blen + 1;
    let mut dp = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for jj in 1..=blen {
            dp[i * w + jj] = if a[i - 1] == b[jj - 1] {
                dp[(i - 1) * w + jj - 1] + 1
            } else {
                dp[(i - 1) * w + jj].max(dp[i * w + jj - 1])
            };
        }
    }
    let total = dp[alen * w + blen] as usize;
    if want_len {
        return ctx.out.int(total as i64);
    }
    let mut result = vec![0u8; total];
    let mut idx = total;
    let mut ranges: Vec<[usize; 4]> = Vec::new();
    let (mut i, mut jj) = (alen, blen);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    while i > 0 && jj > 0 {
        let mut emit = false;
        if a[i - 1] == b[jj - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == alen {
                a_start = i - 1;
                a_end = i - 1;
                b_start = jj - 1;
                b_end = jj - 1;
            } else if a_start == i && b_start == jj {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            jj -= 1;
        } else {
            let l1 = dp[(i - 1) * w + jj];
            let l2 = dp[i * w + jj - 1];
            if l1 > l2 {
                i -= 1;
            } else {
                jj -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = a_end - a_start + 1;
            if min_match_len == 0 || match_len as i64 >= min_match_len {
                ranges.push([a_start, a_end, b_start, b_end]);
            }
            a_start = alen;
        }
    }
    if !want_idx {
        return ctx.out.bulk(&result);
    }
    ctx.out.map_len(2);
    ctx.out.bulk(b"matches");
    ctx.out.array_len(ranges.len());
    for r in &ranges {
        ctx.out.array_len(if with_match_len { 3 } else { 2 });
        ctx.out.array_len(2);
        ctx.out.int(r[0] as i64);
        ctx.out.int(r[1] as i64);
        ctx.out.array_len(2);
        ctx.out.int(r[2] as i64);
        ctx.out.int(r[3] as i64);
        if with_match_len {
            ctx.out.int((r[1] - r[0] + 1) as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incr_keeps_encoding_and_overflows() {
        let mut db = Db::new();
        assert_eq!(op_incr(&mut db, b"n", 5, 0, 0), Ok(5));
        assert_eq!(op_incr(&mut db, b"n", i64::MAX, 0, 0), Err(OpError::Overflow));
        db.insert(b"s", Value::from_bytes(b"abc"), 0, 0);
        assert_eq!(op_incr(&mut db, b"s", 1, 0, 0), Err(OpError::NotInteger));
    }

    #[test]
    fn append_and_setrange() {
        let mut db = Db::new();
        assert_eq!(op_append(&mut db, b"k", b"12", 100, 0, 0), Ok(2));
        assert_eq!(op_append(&mut db, b"k", b"3", 100, 0, 0), Ok(3));
        assert_eq!(op_setrange(&mut db, b"k", 5, b"x", 100, 0, 0), Ok(6));
        let v = db.lookup(b"k", 0).unwrap().value.clone();
        assert_eq!(v, Value::raw_string(b"123\0\0x".to_vec()));
        assert_eq!(op_setrange(&mut db, b"missing", 3, b"", 100, 0, 0), Ok(0));
        assert!(db.lookup(b"missing", 0).is_none());
        assert_eq!(op_append(&mut db, b"k", &[0; 100], 100, 0, 0), Err(OpError::TooLong));
        // A new key is sized to its length, not twice the offset.
        assert_eq!(op_setrange(&mut db, b"big", 100_000, b"x", 1 << 20, 0, 0), Ok(100_001));
        assert!(db.lookup(b"big", 0).unwrap().value.memory_usage() < 100_100);
        assert_eq!(db.lookup(b"big", 0).unwrap().value.encoding(), "raw");
    }

    #[test]
    fn expire_argument_checks() {
        assert_eq!(expire_arg(b"10", ExpireUnit::Seconds, false, 1000, "set"), Ok(11_000));
        assert_eq!(
            expire_arg(b"0", ExpireUnit::Seconds, false, 1000, "set"),
            Err(err::invalid_expire("set"))
        );
        assert_eq!(
            expire_arg(b"x", ExpireUnit::Seconds, false, 1000, "set"),
            Err(err::NOT_INTEGER.to_string())
        );
        assert!(expire_arg(b"9223372036854775807", ExpireUnit::Millis, false, 1000, "set").is_err());
    }
}
