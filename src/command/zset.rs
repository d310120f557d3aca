//! Sorted set family: ZADD and ZINCRBY, lookups and ranks, the ZRANGE
//! family (by rank, score and lex, stored or replied), counts and range
//! removals, pops, random members, set algebra (ZUNION, ZINTER, ZDIFF and
//! their STORE forms, ZINTERCARD) and ZSCAN.
//!
//! `cmd_*` handlers parse arguments and shape replies; `op_*` functions work
//! on one database of one shard. Multi-key commands see one keyspace: the
//! coordinator gathers their keys first (`Cross::Gather`).

use hashbrown::HashMap;

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx};
use crate::protocol::reply::format_double;
use crate::protocol::Reply;
use crate::shard::count_lookup;
use crate::storage::zset::{cmp_entry, PackLimits, ZSet};
use crate::storage::{Db, Value};

pub const XX_NX: &str = "ERR XX and NX options at the same time are not compatible";
pub const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
pub const INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
pub const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
pub const MINMAX_FLOAT: &str = "ERR min or max is not a float";
pub const MINMAX_LEX: &str = "ERR min or max not valid string range item";
pub const LIMIT_RANK: &str = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
pub const WITHSCORES_LEX: &str = "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
pub const WEIGHT_FLOAT: &str = "ERR weight value is not a float";

// ---------------------------------------------------------------- parsing

/// Parses a float as C's strtod, requiring the whole text to be consumed.
/// `lenient` accepts what zslParseRange accepts (empty text is 0, leading
/// spaces, overflow to infinity); otherwise the rules of Redis's
/// getDoubleFromObject apply (no spaces, no empty text, no overflow).
fn strtod(b: &[u8], lenient: bool) -> Option<f64> {
    let mut s = b;
    if lenient {
        while let [c, rest @ ..] = s {
            if c.is_ascii_whitespace() {
                s = rest;
            } else {
                break;
            }
        }
        if s.is_empty() {
            return if b.is_empty() { Some(0.0) } else { None };
        }
    } else if s.is_empty() || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let (neg, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower.starts_with("nan") {
        return None;
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if !body.bytes().next().is_some_and(|c| c.is_ascii_digit() || c == b'.') || lower.contains("inf") {
            return None;
        }
        let v: f64 = body.parse().ok()?;
        if !lenient {
            // strtod reports ERANGE: overflow to infinity, or underflow to 0.
            if v.is_infinite() {
                return None;
            }
            let mantissa = lower.split('e').next().unwrap_or("");
            if v == 0.0 && mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
                return None;
            }
        }
        v
    };
    Some(if neg { -v } else { v })
}

/// The part of a C hex float after `0x`: hex digits, an optional fraction
/// and an optional binary exponent `p[+-]n`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find('p') {
        Some(p) => (&s[..p], s[p + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = match mant.find('.') {
        Some(p) => (&mant[..p], &mant[p + 1..]),
        None => (mant, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// A score as ZADD, ZINCRBY and WEIGHTS read it.
pub fn parse_score(b: &[u8]) -> Option<f64> {
    strtod(b, false)
}

/// One end of a score range: value and whether it is exclusive (`(`).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    pub min: f64,
    pub minex: bool,
    pub max: f64,
    pub maxex: bool,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let bound = |b: &[u8]| -> Option<(f64, bool)> {
            match b.first() {
                Some(b'(') => strtod(&b[1..], true).map(|v| (v, true)),
                _ => strtod(b, true).map(|v| (v, false)),
            }
        };
        let (min, minex) = bound(min)?;
        let (max, maxex) = bound(max)?;
        Some(ScoreRange { min, minex, max, maxex })
    }

    #[inline]
    fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    #[inline]
    fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }

    /// The ascending ranks `start..end` in range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        if self.min > self.max || (self.min == self.max && (self.minex || self.maxex)) {
            return (0, 0);
        }
        let start = z.count_prefix(|s, _| !self.gte_min(s));
        let end = z.count_prefix(|s, _| self.lte_max(s));
        (start, end.max(start))
    }
}

/// One end of a lex range.
#[derive(Debug, Clone)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(b: &[u8]) -> Option<LexBound> {
        match b {
            b"+" => Some(LexBound::PosInf),
            b"-" => Some(LexBound::NegInf),
            [b'[', rest @ ..] => Some(LexBound::Incl(rest.to_vec())),
            [b'(', rest @ ..] => Some(LexBound::Excl(rest.to_vec())),
            _ => None,
        }
    }
}

/// A lex range (`[a`, `(a`, `-`, `+` ends).
#[derive(Debug, Clone)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= &x[..],
            LexBound::Excl(x) => m > &x[..],
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= &x[..],
            LexBound::Excl(x) => m < &x[..],
        }
    }

    fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PosInf, _) | (_, NegInf) => true,
            (NegInf, _) | (_, PosInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
        }
    }

    /// The ascending ranks `start..end` in range.
    pub fn ranks(&self, z: &ZSet) -> (usize, usize) {
        if self.is_empty() {
            return (0, 0);
        }
        let start = z.count_prefix(|_, m| !self.gte_min(m));
        let end = z.count_prefix(|_, m| self.lte_max(m));
        (start, end.max(start))
    }
}

/// Clamps Redis-style rank indices (negative from the end) to ascending
/// ranks `start..end` of a zset of `len` members.
fn rank_span(start: i64, end: i64, len: usize) -> (usize, usize) {
    let llen = len as i64;
    let mut s = if start < 0 { start + llen } else { start };
    let mut e = if end < 0 { end + llen } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= llen {
        return (0, 0);
    }
    if e >= llen {
        e = llen - 1;
    }
    (s as usize, e as usize + 1)
}

// ---------------------------------------------------------------- lookups

/// The key holds a value of another type (WRONGTYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// Popped members with their scores, in pop order.
pub type Popped = Vec<(Vec<u8>, f64)>;

/// Finds the zset at `key`: `Ok(None)` when absent, `Err` on another type.
/// Counts a keyspace hit or miss when `read`.
pub fn lookup<'d>(db: &'d mut Db, key: &[u8], now: u64, read: bool) -> Result<Option<&'d mut ZSet>, WrongType> {
    let index = db.index;
    let found = db.lookup(key, now);
    if read {
        count_lookup(found.is_some());
        if found.is_none() {
            key_miss(index, key);
        }
    }
    match found {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(&mut **z)),
            _ => Err(WrongType),
        },
    }
}

/// [`lookup`] on the context's database, refreshing the access time, with
/// the reply encoder borrowed alongside.
fn open<'c, 'a>(
    ctx: &'c mut Ctx<'a>,
    key: &[u8],
    read: bool,
) -> (Result<Option<&'c mut ZSet>, WrongType>, &'c mut Reply<'a>) {
    let (now, clock, touch) = (ctx.now_ms, ctx.clock, !ctx.no_touch);
    let db = &mut ctx.ks.dbs[ctx.db];
    if touch {
        if let Some(e) = db.lookup(key, now) {
            e.touch(clock);
        }
    }
    (lookup(db, key, now, read), &mut ctx.out)
}

/// Deletes `key` when its zset became empty, raising `del`.
fn drop_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let now = ctx.now_ms;
    if let Some(e) = ctx.db().lookup(key, now) {
        if matches!(&e.value, Value::ZSet(z) if z.is_empty()) {
            ctx.db().remove(key);
            notify(class::GENERIC, "del", ctx.db, key);
        }
    }
}

fn limits(ctx: &Ctx) -> PackLimits {
    PackLimits::from(&ctx.limits)
}

// ---------------------------------------------------------------- replies

/// Writes members (with scores when `withscores`): RESP2 a flat array,
/// RESP3 an array of [member, score] pairs when scores are included.
pub fn reply_entries<'m>(out: &mut Reply, withscores: bool, items: impl ExactSizeIterator<Item = (&'m [u8], f64)>) {
    let n = items.len();
    if withscores && !out.resp3 {
        out.array_len(n * 2);
    } else {
        out.array_len(n);
    }
    for (m, s) in items {
        if withscores && out.resp3 {
            out.array_len(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

/// Writes the ranks `start..end` of `z` (descending when `rev`).
fn reply_range(out: &mut Reply, z: &ZSet, start: usize, end: usize, rev: bool, withscores: bool) {
    let n = end.saturating_sub(start);
    if withscores && !out.resp3 {
        out.array_len(n * 2);
    } else {
        out.array_len(n);
    }
    z.for_range(start, end, rev, |m, s| {
        if withscores && out.resp3 {
            out.array_len(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    });
}

/// How popped members are shaped on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopShape {
    /// ZPOPMIN/ZPOPMAX: a flat [m, s, ...] array, or in RESP3 with a count
    /// argument an array of [m, s] pairs.
    Plain { with_count: bool },
    /// BZPOPMIN/BZPOPMAX: a flat [key, m, s] array.
    KeyFlat,
    /// ZMPOP/BZMPOP: [key, [[m, s], ...]].
    KeyNested,
}

/// Writes popped members as ZPOPMIN, BZPOPMIN or ZMPOP reply them.
pub fn reply_popped(out: &mut Reply, key: &[u8], items: &[(Vec<u8>, f64)], shape: PopShape) {
    let nested = match shape {
        PopShape::Plain { with_count } => {
            let nested = out.resp3 && with_count;
            out.array_len(if nested { items.len() } else { items.len() * 2 });
            nested
        }
        PopShape::KeyFlat => {
            out.array_len(items.len() * 2 + 1);
            out.bulk(key);
            false
        }
        PopShape::KeyNested => {
            out.array_len(2);
            out.bulk(key);
            out.array_len(items.len());
            true
        }
    };
    for (m, s) in items {
        if nested {
            out.array_len(2);
        }
        out.bulk(m);
        out.double(*s);
    }
}

// ---------------------------------------------------------------- ZADD

/// ZADD's condition flags.
#[derive(Debug, Default, Clone, Copy)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// What ZADD did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct AddOutcome {
    pub added: usize,
    pub updated: usize,
    /// With INCR: the new score, or None when a condition skipped it.
    pub score: Option<f64>,
}

/// ZADD on one key. `pairs` are (score, member). Err is the error text.
pub fn op_zadd(
    db: &mut Db,
    key: &[u8],
    pairs: &[(f64, &[u8])],
    f: AddFlags,
    lim: PackLimits,
    now: u64,
    clock: u32,
) -> Result<AddOutcome, &'static str> {
    // Redis sizes a new zset by the pair count and the first member only
    // (later members convert it when they do not fit, which decides whether
    // an earlier -0 was stored as 0 by the listpack).
    let first_len = pairs.first().map_or(0, |(_, m)| m.len());
    let mut created = None;
    let z = match lookup(db, key, now, false) {
        Err(WrongType) => return Err(err::WRONGTYPE),
        Ok(None) if f.xx => return Ok(AddOutcome::default()),
        Ok(None) => created.insert(ZSet::with_hint(pairs.len(), first_len, lim)),
        Ok(Some(z)) => {
            z.maybe_convert(pairs.len(), lim);
            z
        }
    };
    let mut out = AddOutcome::default();
    for &(score, member) in pairs {
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(NAN_SCORE);
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(member, new, lim);
                    out.updated += 1;
                }
                out.score = Some(new);
            }
            None if f.xx => {}
            None => {
                z.insert(member, score, lim);
                out.added += 1;
                out.score = Some(score);
            }
        }
    }
    if let Some(z) = created {
        if !z.is_empty() {
            db.insert(key, Value::ZSet(Box::new(z)), 0, clock);
        }
    } else if let Some(e) = db.lookup(key, now) {
        e.touch(clock);
    }
    if out.added + out.updated > 0 {
        notify(class::ZSET, if f.incr { "zincr" } else { "zadd" }, db.index, key);
        crate::persist::bump((out.added + out.updated) as u64);
    }
    Ok(out)
}

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`
/// → integer (added, or changed with CH); with INCR the new score or null.
pub fn cmd_zadd(ctx: &mut Ctx, args: &Args) {
    zadd_generic(ctx, args, false)
}

/// `ZINCRBY key increment member` → the new score.
pub fn cmd_zincrby(ctx: &mut Ctx, args: &Args) {
    zadd_generic(ctx, args, true)
}

fn zadd_generic(ctx: &mut Ctx, args: &Args, incr: bool) {
    let mut f = AddFlags {
        incr,
        ..Default::default()
    };
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if a.eq_ignore_ascii_case(b"nx") {
            f.nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") {
            f.xx = true;
        } else if a.eq_ignore_ascii_case(b"ch") {
            f.ch = true;
        } else if a.eq_ignore_ascii_case(b"incr") {
            f.incr = true;
        } else if a.eq_ignore_ascii_case(b"gt") {
            f.gt = true;
        } else if a.eq_ignore_ascii_case(b"lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if elements % 2 == 1 || elements == 0 {
        return ctx.out.error(err::SYNTAX);
    }
    if f.nx && f.xx {
        return ctx.out.error(XX_NX);
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return ctx.out.error(GT_LT_NX);
    }
    if f.incr && elements > 2 {
        return ctx.out.error(INCR_PAIR);
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for j in (i..args.len()).step_by(2) {
        match parse_score(args.get(j)) {
            Some(s) => pairs.push((s, args.get(j + 1))),
            None => return ctx.out.error(err::NOT_FLOAT),
        }
    }
    let lim = limits(ctx);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    match op_zadd(ctx.db(), args.get(1), &pairs, f, lim, now, clock) {
        Err(e) => ctx.out.error(e),
        Ok(o) if f.incr => match o.score {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        },
        Ok(o) => ctx.out.int((o.added + if f.ch { o.updated } else { 0 }) as i64),
    }
}

// ---------------------------------------------------------------- simple reads and removal

/// `ZREM key member [member ...]` → number removed.
pub fn cmd_zrem(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let (z, out) = open(ctx, key, false);
    let removed = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(z)) => (2..args.len()).filter(|&i| z.remove(args.get(i))).count(),
    };
    out.int(removed as i64);
    if removed > 0 {
        notify(class::ZSET, "zrem", ctx.db, key);
        crate::persist::bump(removed as u64);
        drop_if_empty(ctx, key);
    }
}

/// `ZCARD key` → number of members.
pub fn cmd_zcard(ctx: &mut Ctx, args: &Args) {
    let (z, out) = open(ctx, args.get(1), true);
    match z {
        Err(WrongType) => out.error(err::WRONGTYPE),
        Ok(None) => out.int(0),
        Ok(Some(z)) => out.int(z.len() as i64),
    }
}

/// `ZSCORE key member` → the score, or null.
pub fn cmd_zscore(ctx: &mut Ctx, args: &Args) {
    let (z, out) = open(ctx, args.get(1), true);
    match z {
        Err(WrongType) => out.error(err::WRONGTYPE),
        Ok(z) => match z.and_then(|z| z.score(args.get(2))) {
            Some(s) => out.double(s),
            None => out.null(),
        },
    }
}

/// `ZMSCORE key member [member ...]` → an array of scores or nulls.
pub fn cmd_zmscore(ctx: &mut Ctx, args: &Args) {
    let (z, out) = open(ctx, args.get(1), true);
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(z) => z,
    };
    out.array_len(args.len() - 2);
    for i in 2..args.len() {
        match z.as_ref().and_then(|z| z.score(args.get(i))) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
}

/// `ZRANK key member [WITHSCORE]` → rank (or [rank, score]), or null.
pub fn cmd_zrank(ctx: &mut Ctx, args: &Args) {
    zrank_generic(ctx, args, false)
}

/// `ZREVRANK key member [WITHSCORE]` → rank from the highest score.
pub fn cmd_zrevrank(ctx: &mut Ctx, args: &Args) {
    zrank_generic(ctx, args, true)
}

fn zrank_generic(ctx: &mut Ctx, args: &Args, rev: bool) {
    if args.len() > 4 || (args.len() == 4 && !args.is(3, "withscore")) {
        return ctx.out.error(err::SYNTAX);
    }
    let withscore = args.len() == 4;
    let (z, out) = open(ctx, args.get(1), true);
    let found = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(z) => z.and_then(|z| {
            z.rank(args.get(2))
                .map(|(r, s)| if rev { (z.len() - 1 - r, s) } else { (r, s) })
        }),
    };
    match found {
        Some((r, s)) => {
            if withscore {
                out.array_len(2);
                out.int(r as i64);
                out.double(s);
            } else {
                out.int(r as i64);
            }
        }
        None if withscore => out.null_array(),
        None => out.null(),
    }
}

/// `ZCOUNT key min max` → members with a score in range.
pub fn cmd_zcount(ctx: &mut Ctx, args: &Args) {
    let Some(range) = ScoreRange::parse(args.get(2), args.get(3)) else {
        return ctx.out.error(MINMAX_FLOAT);
    };
    let (z, out) = open(ctx, args.get(1), true);
    match z {
        Err(WrongType) => out.error(err::WRONGTYPE),
        Ok(None) => out.int(0),
        Ok(Some(z)) => {
            let (a, b) = range.ranks(z);
            out.int((b - a) as i64)
        }
    }
}

/// `ZLEXCOUNT key min max` → members in the lex range.
pub fn cmd_zlexcount(ctx: &mut Ctx, args: &Args) {
    let Some(range) = LexRange::parse(args.get(2), args.get(3)) else {
        return ctx.out.error(MINMAX_LEX);
    };
    let (z, out) = open(ctx, args.get(1), true);
    match z {
        Err(WrongType) => out.error(err::WRONGTYPE),
        Ok(None) => out.int(0),
        Ok(Some(z)) => {
            let (a, b) = range.ranks(z);
            out.int((b - a) as i64)
        }
    }
}

// ---------------------------------------------------------------- ZRANGE family

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub fn cmd_zrange(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, false, RangeKind::Auto, Direction::Auto)
}

/// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`
/// → number of members stored.
pub fn cmd_zrangestore(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 2, true, RangeKind::Auto, Direction::Auto)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn cmd_zrevrange(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, false, RangeKind::Rank, Direction::Reverse)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn cmd_zrangebyscore(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, false, RangeKind::Score, Direction::Forward)
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn cmd_zrevrangebyscore(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, false, RangeKind::Score, Direction::Reverse)
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub fn cmd_zrangebylex(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, false, RangeKind::Lex, Direction::Forward)
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub fn cmd_zrevrangebylex(ctx: &mut Ctx, args: &Args) {
    zrange_generic(ctx, args, 1, false, RangeKind::Lex, Direction::Reverse)
}

/// The body of every ZRANGE variant; `key_at` is the source key's index.
fn zrange_generic(ctx: &mut Ctx, args: &Args, key_at: usize, store: bool, mut kind: RangeKind, mut dir: Direction) {
    let mut withscores = false;
    let mut limit: Option<(i64, i64)> = None;
    let mut j = key_at + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        if !store && args.is(j, "withscores") {
            withscores = true;
        } else if args.is(j, "limit") && left >= 2 {
            match (parse_i64(args.get(j + 1)), parse_i64(args.get(j + 2))) {
                (Some(o), Some(c)) => limit = Some((o, c)),
                _ => return ctx.out.error(err::NOT_INTEGER),
            }
            j += 2;
        } else if dir == Direction::Auto && args.is(j, "rev") {
            dir = Direction::Reverse;
        } else if kind == RangeKind::Auto && args.is(j, "bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && args.is(j, "byscore") {
            kind = RangeKind::Score;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    let rev = dir == Direction::Reverse;
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if limit.is_some() && kind == RangeKind::Rank {
        return ctx.out.error(LIMIT_RANK);
    }
    if withscores && kind == RangeKind::Lex {
        return ctx.out.error(WITHSCORES_LEX);
    }
    let (mut lo, mut hi) = (args.get(key_at + 1), args.get(key_at + 2));
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    enum Spec {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(LexRange),
    }
    let spec = match kind {
        RangeKind::Score => match ScoreRange::parse(lo, hi) {
            Some(r) => Spec::Score(r),
            None => return ctx.out.error(MINMAX_FLOAT),
        },
        RangeKind::Lex => match LexRange::parse(lo, hi) {
            Some(r) => Spec::Lex(r),
            None => return ctx.out.error(MINMAX_LEX),
        },
        _ => match (parse_i64(lo), parse_i64(hi)) {
            (Some(a), Some(b)) => Spec::Rank(a, b),
            _ => return ctx.out.error(err::NOT_INTEGER),
        },
    };
    let src = args.get(key_at);
    let lim = limits(ctx);
    let index = ctx.db;
    let (z, out) = open(ctx, src, !store);
    if store && matches!(z, Ok(None)) {
        // Redis reads ZRANGESTORE's source with lookupKeyRead too.
        key_miss(index, src);
    }
    let z: Option<&ZSet> = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(z) => z.map(|z| &*z),
    };
    // Ascending ranks a..b to emit, in order (descending when rev).
    let (a, b) = match z {
        None => (0, 0),
        Some(z) => {
            let (start, end) = match &spec {
                Spec::Rank(s, e) => {
                    if rev {
                        // Reverse positions s..e map to ascending len-1-e..len-1-s.
                        let (s2, e2) = rank_span(*s, *e, z.len());
                        (z.len() - e2, z.len() - s2)
                    } else {
                        rank_span(*s, *e, z.len())
                    }
                }
                Spec::Score(r) => r.ranks(z),
                Spec::Lex(r) => r.ranks(z),
            };
            match limit {
                Some((offset, _)) if offset < 0 => (0, 0),
                Some((offset, count)) => {
                    let n = end - start;
                    let offset = (offset as u64).min(n as u64) as usize;
                    let take = if count < 0 {
                        n - offset
                    } else {
                        (count as u64).min((n - offset) as u64) as usize
                    };
                    if rev {
                        (end - offset - take, end - offset)
                    } else {
                        (start + offset, start + offset + take)
                    }
                }
                None => (start, end),
            }
        }
    };
    if store {
        let n = b - a;
        let stored = match z {
            Some(z) if n > 0 => Some(range_to_store(z, a, b, rev, matches!(spec, Spec::Rank(..)), lim)),
            _ => None,
        };
        let dst = args.get(1);
        let clock = ctx.clock;
        match stored {
            None => {
                if ctx.db().remove(dst).is_some() {
                    notify(class::GENERIC, "del", ctx.db, dst);
                    crate::persist::bump(1);
                }
            }
            Some(v) => {
                ctx.db().insert(dst, Value::ZSet(Box::new(v)), 0, clock);
                notify(class::ZSET, "zrangestore", ctx.db, dst);
                crate::persist::bump(1);
            }
        }
        return ctx.out.int(n as i64);
    }
    match z {
        None => out.array_len(0),
        Some(z) => reply_range(out, z, a, b, rev, withscores),
    }
}

/// The zset ZRANGESTORE stores for ranks `a..b` of `z`. Redis creates it
/// in the encoding fitting the result size when it is known up front (rank
/// ranges) and as a listpack otherwise (score and lex ranges), then adds
/// the members in emission order, converting to a skiplist on the first
/// member that does not fit. A listpack keeps -0 as 0 and a skiplist keeps
/// it, so that order is observable and is followed here.
fn range_to_store(z: &ZSet, a: usize, b: usize, rev: bool, by_rank: bool, lim: PackLimits) -> ZSet {
    let mut entries: Vec<(f64, Box<[u8]>)> = Vec::with_capacity(b - a);
    z.for_range(a, b, false, |m, s| entries.push((s, m.into())));
    let hint = if by_rank { entries.len() } else { 0 };
    if hint > lim.entries {
        return ZSet::from_sorted(entries, lim);
    }
    let mut out = ZSet::with_hint(hint, 0, lim);
    let mut add = |(s, m): &(f64, Box<[u8]>)| {
        out.insert(m, *s, lim);
    };
    if rev {
        entries.iter().rev().for_each(&mut add);
    } else {
        entries.iter().for_each(&mut add);
    }
    out
}

// ---------------------------------------------------------------- range removal

/// `ZREMRANGEBYRANK key start stop` → number removed.
pub fn cmd_zremrangebyrank(ctx: &mut Ctx, args: &Args) {
    let (Some(s), Some(e)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    zrem_range(ctx, args.get(1), "zremrangebyrank", |z| rank_span(s, e, z.len()))
}

/// `ZREMRANGEBYSCORE key min max` → number removed.
pub fn cmd_zremrangebyscore(ctx: &mut Ctx, args: &Args) {
    let Some(r) = ScoreRange::parse(args.get(2), args.get(3)) else {
        return ctx.out.error(MINMAX_FLOAT);
    };
    zrem_range(ctx, args.get(1), "zremrangebyscore", |z| r.ranks(z))
}

/// `ZREMRANGEBYLEX key min max` → number removed.
pub fn cmd_zremrangebylex(ctx: &mut Ctx, args: &Args) {
    let Some(r) = LexRange::parse(args.get(2), args.get(3)) else {
        return ctx.out.error(MINMAX_LEX);
    };
    zrem_range(ctx, args.get(1), "zremrangebylex", |z| r.ranks(z))
}

fn zrem_range(ctx: &mut Ctx, key: &[u8], event: &'static str, span: impl Fn(&ZSet) -> (usize, usize)) {
    let (z, out) = open(ctx, key, false);
    let n = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(None) => 0,
        Ok(Some(z)) => {
            let (a, b) = span(z);
            z.remove_range(a, b)
        }
    };
    out.int(n as i64);
    if n > 0 {
        notify(class::ZSET, event, ctx.db, key);
        crate::persist::bump(n as u64);
        drop_if_empty(ctx, key);
    }
}

// ---------------------------------------------------------------- pops

/// Pops up to `count` members from the zset at `key` (lowest first, or
/// highest when `max`), deleting the key when it empties. `Ok(None)` when
/// the key does not exist. Raises `zpopmin`/`zpopmax` (when something was
/// popped), then `del`.
pub fn op_pop(db: &mut Db, key: &[u8], max: bool, count: usize, now: u64) -> Result<Option<Popped>, WrongType> {
    let index = db.index;
    let got = match lookup(db, key, now, false)? {
        None => return Ok(None),
        Some(z) => {
            let got = z.pop(max, count);
            if !got.is_empty() {
                notify(class::ZSET, if max { "zpopmax" } else { "zpopmin" }, index, key);
                crate::persist::bump(got.len() as u64);
            }
            if !z.is_empty() {
                return Ok(Some(got));
            }
            got
        }
    };
    db.remove(key);
    notify(class::GENERIC, "del", index, key);
    Ok(Some(got))
}

/// `ZPOPMIN key [count]` → popped members with scores.
pub fn cmd_zpopmin(ctx: &mut Ctx, args: &Args) {
    zpop_generic(ctx, args, false)
}

/// `ZPOPMAX key [count]`
pub fn cmd_zpopmax(ctx: &mut Ctx, args: &Args) {
    zpop_generic(ctx, args, true)
}

/// Parses a count that must be non-negative (getPositiveLongFromObject:
/// one message for both bad forms).
fn positive_count(b: &[u8]) -> Result<usize, &'static str> {
    match parse_i64(b) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(err::MUST_BE_POSITIVE),
    }
}

fn zpop_generic(ctx: &mut Ctx, args: &Args, max: bool) {
    if args.len() > 3 {
        return ctx.out.error(err::SYNTAX);
    }
    let with_count = args.len() == 3;
    let count = if with_count {
        match positive_count(args.get(2)) {
            Ok(n) => n,
            Err(e) => return ctx.out.error(e),
        }
    } else {
        1
    };
    let key = args.get(1);
    let now = ctx.now_ms;
    match lookup(ctx.db(), key, now, false) {
        Err(WrongType) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => return ctx.out.array_len(0),
        Ok(Some(_)) if count == 0 => return ctx.out.array_len(0),
        Ok(Some(_)) => {}
    }
    let items = op_pop(ctx.db(), key, max, count, now)
        .ok()
        .flatten()
        .unwrap_or_default();
    reply_popped(&mut ctx.out, key, &items, PopShape::Plain { with_count });
}

/// Parsed `numkeys key [key ...] MIN|MAX [COUNT count]` of ZMPOP/BZMPOP,
/// starting at the numkeys argument `at`: (key indices, max, count).
pub fn parse_mpop(args: &Args, at: usize) -> Result<(std::ops::Range<usize>, bool, usize), &'static str> {
    super::args::parse_mpop(args, at, "min", "max")
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]` → [key, [[m, s]...]]
/// from the first non-empty key, or a null array.
pub fn cmd_zmpop(ctx: &mut Ctx, args: &Args) {
    let (keys, max, count) = match parse_mpop(args, 1) {
        Ok(p) => p,
        Err(e) => return ctx.out.error(e),
    };
    let now = ctx.now_ms;
    for i in keys {
        let key = args.get(i);
        match op_pop(ctx.db(), key, max, count, now) {
            Err(WrongType) => return ctx.out.error(err::WRONGTYPE),
            Ok(None) => continue,
            Ok(Some(items)) => return reply_popped(&mut ctx.out, key, &items, PopShape::KeyNested),
        }
    }
    ctx.out.null_array();
}

// ---------------------------------------------------------------- ZRANDMEMBER

thread_local! {
    static RNG: std::cell::RefCell<crate::util::Rng> =
        std::cell::RefCell::new(crate::util::Rng::new(crate::util::now_us()));
}

fn random_below(n: usize) -> usize {
    RNG.with(|r| (r.borrow_mut().next_u64() % n as u64) as usize)
}

/// `ZRANDMEMBER key [count [WITHSCORES]]` → a member, or `count` distinct
/// members (repeats allowed when count is negative).
pub fn cmd_zrandmember(ctx: &mut Ctx, args: &Args) {
    if args.len() == 2 {
        let (z, out) = open(ctx, args.get(1), true);
        return match z {
            Err(WrongType) => out.error(err::WRONGTYPE),
            Ok(None) => out.null(),
            Ok(Some(z)) => {
                let (m, _) = z.get_by_rank(random_below(z.len())).expect("rank below len");
                out.bulk(m)
            }
        };
    }
    let l = match parse_i64(args.get(2)) {
        None => return ctx.out.error(err::NOT_INTEGER),
        Some(i64::MIN) => return ctx.out.error(err::LONG_RANGE),
        Some(l) => l,
    };
    if args.len() > 4 || (args.len() == 4 && !args.is(3, "withscores")) {
        return ctx.out.error(err::SYNTAX);
    }
    let withscores = args.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return ctx.out.error(err::OUT_OF_RANGE);
    }
    let (z, out) = open(ctx, args.get(1), true);
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(None) => return out.array_len(0),
        Ok(Some(z)) => z,
    };
    if l == 0 {
        return out.array_len(0);
    }
    let len = z.len();
    if l < 0 {
        // Repeats allowed: stream picks rather than collect them.
        let n = l.unsigned_abs() as usize;
        return reply_entries(
            out,
            withscores,
            (0..n).map(|_| z.get_by_rank(random_below(len)).expect("rank below len")),
        );
    }
    let ranks: Vec<usize> = if l as u64 >= len as u64 {
        (0..len).collect()
    } else {
        let count = l as usize;
        if count * 3 > len {
            // Shuffle a prefix of all ranks.
            let mut all: Vec<usize> = (0..len).collect();
            for i in 0..count {
                let j = i + random_below(len - i);
                all.swap(i, j);
            }
            all.truncate(count);
            all
        } else {
            let mut seen = hashbrown::HashSet::with_capacity(count);
            let mut picked = Vec::with_capacity(count);
            while picked.len() < count {
                let r = random_below(len);
                if seen.insert(r) {
                    picked.push(r);
                }
            }
            picked
        }
    };
    reply_entries(
        out,
        withscores,
        ranks.iter().map(|&r| z.get_by_rank(r).expect("rank below len")),
    );
}

// ---------------------------------------------------------------- set algebra

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

#[inline]
fn aggregate(acc: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *acc {
                *acc = v
            }
        }
        Aggregate::Max => {
            if v > *acc {
                *acc = v
            }
        }
    }
}

/// An input of the set algebra: a zset, or a set whose members score 1.
enum Input<'a> {
    Z(&'a ZSet),
    Set(hashbrown::HashSet<Vec<u8>>),
}

impl<'a> Input<'a> {
    fn len(&self) -> usize {
        match self {
            Input::Z(z) => z.len(),
            Input::Set(v) => v.len(),
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Input::Z(z) => z.score(m),
            Input::Set(v) => v.contains(m).then_some(1.0),
        }
    }

    fn entries(&self) -> Vec<(&[u8], f64)> {
        match self {
            Input::Z(z) => z.entries(),
            Input::Set(v) => v.iter().map(|m| (&m[..], 1.0)).collect(),
        }
    }
}

/// The members of a set value, for set algebra inputs (score 1 each).
fn set_members(s: &crate::storage::set::Set) -> hashbrown::HashSet<Vec<u8>> {
    s.iter().map(|e| e.to_vec()).collect()
}

/// The values of a set-algebra command's keys, taken out of the database
/// for the duration of the command (so that several can be borrowed at
/// once without copying) and put back by [`Taken::restore`].
struct Taken<'k> {
    keys: Vec<&'k [u8]>,
    values: Vec<Value>,
    /// Per key argument: index into `values`, None when absent.
    slots: Vec<Option<usize>>,
}

impl<'k> Taken<'k> {
    /// Takes the zset or set values of `keys`; Err (nothing taken) when one
    /// holds another type.
    fn take(db: &mut Db, keys: &[&'k [u8]], now: u64, read: bool) -> Result<Taken<'k>, WrongType> {
        let mut t = Taken {
            keys: Vec::new(),
            values: Vec::new(),
            slots: Vec::with_capacity(keys.len()),
        };
        let mut seen: HashMap<&[u8], Option<usize>> = HashMap::new();
        for &k in keys {
            if let Some(&v) = seen.get(k) {
                t.slots.push(v);
                continue;
            }
            let index = db.index;
            let found = db.lookup(k, now);
            if read {
                count_lookup(found.is_some());
            }
            if found.is_none() {
                // The STORE forms read their sources with lookupKeyRead too.
                key_miss(index, k);
            }
            let slot = match found {
                None => None,
                Some(e) if matches!(e.value, Value::ZSet(_) | Value::Set(_)) => {
                    t.keys.push(k);
                    t.values.push(std::mem::replace(&mut e.value, Value::Int(0)));
                    Some(t.values.len() - 1)
                }
                Some(_) => {
                    t.restore(db, now);
                    return Err(WrongType);
                }
            };
            seen.insert(k, slot);
            t.slots.push(slot);
        }
        Ok(t)
    }

    fn inputs(&self) -> Vec<Option<Input<'_>>> {
        self.slots
            .iter()
            .map(|s| {
                s.map(|i| match &self.values[i] {
                    Value::ZSet(z) => Input::Z(z),
                    Value::Set(s) => Input::Set(set_members(s)),
                    _ => unreachable!("only zsets and sets are taken"),
                })
            })
            .collect()
    }

    fn restore(self, db: &mut Db, now: u64) {
        for (k, v) in self.keys.into_iter().zip(self.values) {
            if let Some(e) = db.lookup(k, now) {
                e.value = v;
            }
        }
    }
}

/// Computes ZUNION / ZINTER / ZDIFF over `inputs` (with `weights`), sorted
/// by (score, member).
fn combine(inputs: &[Option<Input>], weights: &[f64], op: SetOp, how: Aggregate) -> Vec<(f64, Box<[u8]>)> {
    let mut srcs: Vec<(&Input, f64)> = Vec::with_capacity(inputs.len());
    for (i, inp) in inputs.iter().enumerate() {
        if let Some(x) = inp {
            srcs.push((x, weights[i]));
        } else if op == SetOp::Inter || (op == SetOp::Diff && i == 0) {
            return Vec::new();
        }
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: Vec<(f64, Box<[u8]>)> = Vec::new();
    match op {
        SetOp::Union => {
            srcs.sort_by_key(|(x, _)| x.len());
            let mut acc: HashMap<&[u8], f64> = HashMap::new();
            let mut order: Vec<&[u8]> = Vec::new();
            for &(x, w) in &srcs {
                for (m, s) in x.entries() {
                    let v = weighted(s, w);
                    match acc.get_mut(m) {
                        Some(a) => aggregate(a, v, how),
                        None => {
                            acc.insert(m, v);
                            order.push(m);
                        }
                    }
                }
            }
            result = order.into_iter().map(|m| (acc[m], m.into())).collect();
        }
        SetOp::Inter => {
            srcs.sort_by_key(|(x, _)| x.len());
            let Some(&(first, w0)) = srcs.first() else {
                return result;
            };
            'members: for (m, s) in first.entries() {
                let mut score = weighted(s, w0);
                for &(x, w) in &srcs[1..] {
                    // Redis aggregates the raw product here: a NaN (0 * inf)
                    // zeroes a SUM and leaves MIN/MAX unchanged.
                    match x.score(m) {
                        Some(v) => aggregate(&mut score, v * w, how),
                        None => continue 'members,
                    }
                }
                result.push((score, m.into()));
            }
        }
        SetOp::Diff => {
            let (first, _) = srcs[0];
            for (m, s) in first.entries() {
                if srcs[1..].iter().all(|(x, _)| x.score(m).is_none()) {
                    result.push((s, m.into()));
                }
            }
        }
    }
    result.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
    result
}

/// `ZUNION numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub fn cmd_zunion(ctx: &mut Ctx, args: &Args) {
    zsetop_generic(ctx, args, false, SetOp::Union, "zunion")
}

/// `ZINTER numkeys key [key ...] [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub fn cmd_zinter(ctx: &mut Ctx, args: &Args) {
    zsetop_generic(ctx, args, false, SetOp::Inter, "zinter")
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub fn cmd_zdiff(ctx: &mut Ctx, args: &Args) {
    zsetop_generic(ctx, args, false, SetOp::Diff, "zdiff")
}

/// `ZUNIONSTORE dst numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]` → size stored.
pub fn cmd_zunionstore(ctx: &mut Ctx, args: &Args) {
    zsetop_generic(ctx, args, true, SetOp::Union, "zunionstore")
}

/// `ZINTERSTORE dst numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]` → size stored.
pub fn cmd_zinterstore(ctx: &mut Ctx, args: &Args) {
    zsetop_generic(ctx, args, true, SetOp::Inter, "zinterstore")
}

/// `ZDIFFSTORE dst numkeys key [key ...]` → size stored.
pub fn cmd_zdiffstore(ctx: &mut Ctx, args: &Args) {
    zsetop_generic(ctx, args, true, SetOp::Diff, "zdiffstore")
}

/// Parses `numkeys` at `at`: the number of keys, checked against the
/// arguments left.
fn parse_numkeys(args: &Args, at: usize, name: &str) -> Result<usize, String> {
    let n = parse_i64(args.get(at)).ok_or_else(|| err::NOT_INTEGER.to_string())?;
    if n < 1 {
        return Err(format!("ERR at least 1 input key is needed for '{}' command", name));
    }
    if n as u64 > (args.len() - at - 1) as u64 {
        return Err(err::SYNTAX.to_string());
    }
    Ok(n as usize)
}

fn zsetop_generic(ctx: &mut Ctx, args: &Args, store: bool, op: SetOp, name: &str) {
    let at = if store { 2 } else { 1 };
    let n = match parse_numkeys(args, at, name) {
        Ok(n) => n,
        Err(e) => return ctx.out.error(&e),
    };
    let keys: Vec<&[u8]> = (at + 1..at + 1 + n).map(|i| args.get(i)).collect();
    let now = ctx.now_ms;
    let taken = match Taken::take(ctx.db(), &keys, now, !store) {
        Ok(t) => t,
        Err(WrongType) => return ctx.out.error(err::WRONGTYPE),
    };
    let (parsed, result) = {
        let inputs = taken.inputs();
        match parse_setop_options(args, at + 1 + n, n, op, store) {
            Ok((weights, how, withscores)) => (Ok(withscores), combine(&inputs, &weights, op, how)),
            Err(e) => (Err(e), Vec::new()),
        }
    };
    taken.restore(ctx.db(), now);
    let withscores = match parsed {
        Ok(w) => w,
        Err(e) => return ctx.out.error(e),
    };
    if store {
        let dst = args.get(1);
        let len = result.len();
        let lim = limits(ctx);
        let clock = ctx.clock;
        if len == 0 {
            if ctx.db().remove(dst).is_some() {
                notify(class::GENERIC, "del", ctx.db, dst);
                crate::persist::bump(1);
            }
        } else {
            let z = ZSet::from_sorted(result, lim);
            ctx.db().insert(dst, Value::ZSet(Box::new(z)), 0, clock);
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            notify(class::ZSET, event, ctx.db, dst);
            crate::persist::bump(1);
        }
        return ctx.out.int(len as i64);
    }
    reply_entries(&mut ctx.out, withscores, result.iter().map(|(s, m)| (&m[..], *s)));
}

/// Parses `[WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` from `j`
/// for `n` keys: (weights, aggregate, withscores).
fn parse_setop_options(
    args: &Args,
    mut j: usize,
    n: usize,
    op: SetOp,
    store: bool,
) -> Result<(Vec<f64>, Aggregate, bool), &'static str> {
    let mut weights = vec![1.0; n];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != SetOp::Diff && remaining > n && args.is(j, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                match parse_score(args.get(j + 1 + i)) {
                    Some(v) => *w = v,
                    None => return Err(WEIGHT_FLOAT),
                }
            }
            j += n + 1;
        } else if op != SetOp::Diff && remaining >= 2 && args.is(j, "aggregate") {
            let a = args.get(j + 1);
            how = if a.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if a.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if a.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return Err(err::SYNTAX);
            };
            j += 2;
        } else if !store && args.is(j, "withscores") {
            withscores = true;
            j += 1;
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok((weights, how, withscores))
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]` → size of the
/// intersection, counting stops at a non-zero limit.
pub fn cmd_zintercard(ctx: &mut Ctx, args: &Args) {
    let n = match parse_numkeys(args, 1, "zintercard") {
        Ok(n) => n,
        Err(e) => return ctx.out.error(&e),
    };
    let keys: Vec<&[u8]> = (2..2 + n).map(|i| args.get(i)).collect();
    let now = ctx.now_ms;
    let taken = match Taken::take(ctx.db(), &keys, now, true) {
        Ok(t) => t,
        Err(WrongType) => return ctx.out.error(err::WRONGTYPE),
    };
    let fail = |ctx: &mut Ctx, taken: Taken, e: &str| {
        taken.restore(ctx.db(), now);
        ctx.out.error(e)
    };
    let mut limit = 0usize;
    let mut j = 2 + n;
    while j < args.len() {
        if args.len() - j >= 2 && args.is(j, "limit") {
            match parse_i64(args.get(j + 1)) {
                Some(l) if l >= 0 => limit = l as usize,
                _ => return fail(ctx, taken, err::LIMIT_NEGATIVE),
            }
            j += 2;
        } else {
            return fail(ctx, taken, err::SYNTAX);
        }
    }
    let count = {
        let inputs = taken.inputs();
        let mut srcs: Vec<&Input> = inputs.iter().flatten().collect();
        let mut count = 0usize;
        if srcs.len() == inputs.len() {
            srcs.sort_by_key(|x| x.len());
            for (m, _) in srcs[0].entries() {
                if srcs[1..].iter().all(|x| x.score(m).is_some()) {
                    count += 1;
                    if limit > 0 && count >= limit {
                        break;
                    }
                }
            }
        }
        count
    };
    taken.restore(ctx.db(), now);
    ctx.out.int(count as i64);
}

// ---------------------------------------------------------------- ZSCAN

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]` → [next cursor,
/// [member, score, ...]] with scores as bulk strings.
pub fn cmd_zscan(ctx: &mut Ctx, args: &Args) {
    let cursor = match std::str::from_utf8(args.get(2))
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(c) => c,
        None => return ctx.out.error(err::CURSOR),
    };
    let (z, out) = open(ctx, args.get(1), true);
    let z = match z {
        Err(WrongType) => return out.error(err::WRONGTYPE),
        Ok(None) => {
            out.array_len(2);
            out.bulk(b"0");
            return out.array_len(0);
        }
        Ok(Some(z)) => z,
    };
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut j = 3;
    while j < args.len() {
        if args.is(j, "count") && j + 1 < args.len() {
            match parse_i64(args.get(j + 1)) {
                None => return out.error(err::NOT_INTEGER),
                Some(c) if c < 1 => return out.error(err::SYNTAX),
                Some(c) => count = c as usize,
            }
            j += 2;
        } else if args.is(j, "match") && j + 1 < args.len() {
            pattern = Some(args.get(j + 1));
            j += 2;
        } else {
            return out.error(err::SYNTAX);
        }
    }
    let mut items: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, count, |m, s| {
        if pattern.is_none_or(|p| crate::util::glob_match(p, m, false)) {
            items.push((m.to_vec(), s));
        }
    });
    out.array_len(2);
    out.bulk(next.to_string().as_bytes());
    out.array_len(items.len() * 2);
    for (m, s) in &items {
        out.bulk(m);
        out.bulk(format_double(*s).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_like_redis() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+Infinity"), Some(f64::INFINITY));
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"abc"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(strtod(b"", true), Some(0.0));
        assert_eq!(strtod(b" 1", true), Some(1.0));
        assert_eq!(strtod(b"1e400", true), Some(f64::INFINITY));
        assert_eq!(strtod(b"1 ", true), None);
    }

    #[test]
    fn rank_spans() {
        assert_eq!(rank_span(0, -1, 3), (0, 3));
        assert_eq!(rank_span(-2, -1, 3), (1, 3));
        assert_eq!(rank_span(2, 1, 3), (0, 0));
        assert_eq!(rank_span(5, 10, 3), (0, 0));
        assert_eq!(rank_span(-10, 10, 3), (0, 3));
    }
}
