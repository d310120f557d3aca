//! Blocking commands of the list and sorted-set families: BLPOP BRPOP
//! BLMOVE BRPOPLPUSH BLMPOP (and BZPOPMIN BZPOPMAX BZMPOP).
//!
//! They parse here and describe what serving them means (a serve function
//! run on the key's shard); waiting, waking and exactly-once delivery
//! across shards belong to `shard::blocking`.

use std::sync::Arc;

use super::args::parse_f64;
use super::errors as err;
use super::list::{get_list, op_move, op_pop, parse_mpop, reply_key_elements};
use super::{zset, Args, Session};
use crate::protocol::Reply;
use crate::shard::blocking::{self, Outcome, ServeCtx, ServeFn, Unserved, WaitKind};
use crate::storage::list::End;

pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const TIMEOUT_RANGE: &str = "ERR timeout is out of range";
pub const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Parses a blocking timeout in seconds (fractions allowed) into an absolute
/// deadline in unix ms; 0 means forever. Errors as Redis 7.4.
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<u64, &'static str> {
    let secs = parse_f64(arg)
        .or_else(|| parse_hex_float(arg))
        .ok_or(TIMEOUT_NOT_FLOAT)?;
    let ms = secs * 1000.0;
    if ms > i64::MAX as f64 {
        return Err(TIMEOUT_RANGE);
    }
    let ms = ms.ceil();
    if ms < 0.0 {
        return Err(TIMEOUT_NEGATIVE);
    }
    let ms = ms as i64;
    if ms == 0 {
        return Ok(0);
    }
    if ms > i64::MAX - now_ms as i64 {
        return Err(TIMEOUT_RANGE);
    }
    Ok(now_ms + ms as u64)
}

/// `0x...` integers, which Redis's strtold-based parsing accepts.
fn parse_hex_float(arg: &[u8]) -> Option<f64> {
    let (neg, rest) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    let hex = rest.strip_prefix(b"0x").or_else(|| rest.strip_prefix(b"0X"))?;
    let v = u128::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()? as f64;
    Some(if neg { -v } else { v })
}

/// How a served pop is replied.
#[derive(Clone, Copy)]
enum PopShape {
    /// BLPOP/BRPOP: `[key, element]`.
    KeyElement,
    /// BLMPOP: `[key, [elements]]`.
    KeyElements,
}

/// Serves an error (claimed first) when the command first runs; a waiting
/// client is not woken by a key of another type.
fn serve_error(c: &ServeCtx, resp3: bool, msg: &str) -> Outcome {
    if !c.immediate {
        return Outcome::NotReady;
    }
    if !c.waiter.claim() {
        return Outcome::Lost;
    }
    let mut buf = Vec::new();
    Reply::new(&mut buf, resp3).error(msg);
    Outcome::Served(buf)
}

fn pop_serve(end: End, count: usize, shape: PopShape, resp3: bool) -> Arc<ServeFn> {
    Arc::new(move |c: &mut ServeCtx| {
        let db = c.ks.db(c.db);
        match get_list(db, c.key, c.now_ms) {
            Ok(Some(_)) => {}
            Ok(None) => return Outcome::NotReady,
            Err(_) => return serve_error(c, resp3, err::WRONGTYPE),
        }
        if !c.waiter.claim() {
            return Outcome::Lost;
        }
        let popped = op_pop(db, c.key, end, count, c.now_ms, &c.limits)
            .ok()
            .flatten()
            .unwrap_or_default();
        if crate::persist::propagate::active() {
            // Logged in its non-blocking form: LPOP key [count].
            let name: &[u8] = if end == End::Left { b"LPOP" } else { b"RPOP" };
            let n = popped.len().to_string();
            match shape {
                PopShape::KeyElement => crate::persist::propagate::emit(c.db, &[name, c.key]),
                PopShape::KeyElements => crate::persist::propagate::emit(c.db, &[name, c.key, n.as_bytes()]),
            }
        }
        let mut buf = Vec::new();
        let mut r = Reply::new(&mut buf, resp3);
        match shape {
            PopShape::KeyElement => {
                r.array_len(2);
                r.bulk(c.key);
                r.bulk(&popped[0]);
            }
            PopShape::KeyElements => reply_key_elements(&mut r, c.key, &popped),
        }
        Outcome::Served(buf)
    })
}

fn move_serve(dst: Vec<u8>, from: End, to: End, resp3: bool) -> Arc<ServeFn> {
    Arc::new(move |c: &mut ServeCtx| {
        let dst_here = c.owns(&dst);
        let db = c.ks.db(c.db);
        match get_list(db, c.key, c.now_ms) {
            Ok(Some(_)) => {}
            Ok(None) => return Outcome::NotReady,
            Err(_) => return serve_error(c, resp3, err::WRONGTYPE),
        }
        if !dst_here {
            // The destination lives elsewhere: the client moves it itself,
            // atomically across both shards.
            return if c.waiter.claim() {
                Outcome::Retry
            } else {
                Outcome::Lost
            };
        }
        if get_list(db, &dst, c.now_ms).is_err() {
            // Redis answers WRONGTYPE to this client and leaves the element.
            if !c.waiter.claim() {
                return Outcome::Lost;
            }
            let mut buf = Vec::new();
            Reply::new(&mut buf, resp3).error(err::WRONGTYPE);
            return Outcome::Served(buf);
        }
        if !c.waiter.claim() {
            return Outcome::Lost;
        }
        match op_move(db, c.key, &dst, from, to, c.now_ms, c.clock, &c.limits) {
            Ok(Some(v)) => {
                let side = |e: End| -> &'static [u8] {
                    if e == End::Left {
                        b"LEFT"
                    } else {
                        b"RIGHT"
                    }
                };
                crate::persist::propagate::emit(c.db, &[b"LMOVE", c.key, &dst, side(from), side(to)]);
                c.touched.push(dst.clone());
                let mut buf = Vec::new();
                Reply::new(&mut buf, false).bulk(&v);
                Outcome::Served(buf)
            }
            _ => unreachable!("types and presence checked above"),
        }
    })
}

/// Pops from a sorted set for a blocked client and replies in `shape`
/// (BZPOPMIN/BZPOPMAX: `[key, member, score]`; BZMPOP: `[key, [[member,
/// score] ...]]`).
fn zpop_serve(max: bool, count: usize, shape: zset::PopShape, resp3: bool) -> Arc<ServeFn> {
    Arc::new(move |c: &mut ServeCtx| {
        let db = c.ks.db(c.db);
        match zset::lookup(db, c.key, c.now_ms, false) {
            Ok(Some(_)) => {}
            Ok(None) => return Outcome::NotReady,
            Err(_) => return serve_error(c, resp3, err::WRONGTYPE),
        }
        if !c.waiter.claim() {
            return Outcome::Lost;
        }
        let popped = zset::op_pop(db, c.key, max, count, c.now_ms)
            .ok()
            .flatten()
            .unwrap_or_default();
        if crate::persist::propagate::active() {
            let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
            let n = popped.len().to_string();
            crate::persist::propagate::emit(c.db, &[name, c.key, n.as_bytes()]);
        }
        let mut buf = Vec::new();
        zset::reply_popped(&mut Reply::new(&mut buf, resp3), c.key, &popped, shape);
        Outcome::Served(buf)
    })
}

/// `LMOVE src dst from to`: what a blocked move becomes when its
/// destination lives on another shard (run as one cross-shard command).
pub struct LmoveArgs {
    data: Vec<u8>,
    ranges: [(u32, u32); 5],
}

impl LmoveArgs {
    pub fn new(src: &[u8], dst: &[u8], from: End, to: End) -> LmoveArgs {
        let side = |e: End| -> &'static [u8] {
            if e == End::Left {
                b"left"
            } else {
                b"right"
            }
        };
        let words: [&[u8]; 5] = [b"lmove", src, dst, side(from), side(to)];
        let mut ranges = [(0u32, 0u32); 5];
        let mut at = 0u32;
        for (r, w) in ranges.iter_mut().zip(words) {
            *r = (at, w.len() as u32);
            at += w.len() as u32;
        }
        LmoveArgs {
            data: words.concat(),
            ranges,
        }
    }

    pub fn args(&self) -> Args<'_> {
        Args::new(&self.data, &self.ranges)
    }
}

/// A parsed blocking command: keys, deadline, serve function, and for a
/// move its destination and ends.
pub type Parsed = (Vec<Vec<u8>>, u64, Arc<ServeFn>, Option<(Vec<u8>, End, End)>);

/// Parses a blocking command: keys, deadline, how to serve, and for a
/// move its destination. Errors as Redis.
pub fn parse(args: &Args, resp3: bool, now: u64) -> Result<Parsed, &'static str> {
    let name = args.get(0).to_ascii_lowercase();
    let parsed: Parsed = match name.as_slice() {
        b"blpop" | b"brpop" => {
            let end = if name == b"blpop" { End::Left } else { End::Right };
            let deadline = match parse_timeout(args.get(args.len() - 1), now) {
                Ok(d) => d,
                Err(e) => return Err(e),
            };
            let keys = (1..args.len() - 1).map(|i| args.get(i).to_vec()).collect();
            (keys, deadline, pop_serve(end, 1, PopShape::KeyElement, resp3), None)
        }
        b"blmove" | b"brpoplpush" => {
            let (from, to, t) = if name == b"blmove" {
                match (End::parse(args.get(3)), End::parse(args.get(4))) {
                    (Some(f), Some(t)) => (f, t, 5),
                    _ => return Err(err::SYNTAX),
                }
            } else {
                (End::Right, End::Left, 3)
            };
            let deadline = match parse_timeout(args.get(t), now) {
                Ok(d) => d,
                Err(e) => return Err(e),
            };
            let dst = args.get(2).to_vec();
            (
                vec![args.get(1).to_vec()],
                deadline,
                move_serve(dst.clone(), from, to, resp3),
                Some((dst, from, to)),
            )
        }
        b"bzpopmin" | b"bzpopmax" => {
            let deadline = match parse_timeout(args.get(args.len() - 1), now) {
                Ok(d) => d,
                Err(e) => return Err(e),
            };
            let keys = (1..args.len() - 1).map(|i| args.get(i).to_vec()).collect();
            let max = name == b"bzpopmax";
            (keys, deadline, zpop_serve(max, 1, zset::PopShape::KeyFlat, resp3), None)
        }
        b"bzmpop" => {
            let deadline = match parse_timeout(args.get(1), now) {
                Ok(d) => d,
                Err(e) => return Err(e),
            };
            let (keys, max, count) = match zset::parse_mpop(args, 2) {
                Ok(m) => m,
                Err(e) => return Err(e),
            };
            let keys = keys.map(|i| args.get(i).to_vec()).collect();
            (
                keys,
                deadline,
                zpop_serve(max, count, zset::PopShape::KeyNested, resp3),
                None,
            )
        }
        _ => {
            // BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]
            let deadline = match parse_timeout(args.get(1), now) {
                Ok(d) => d,
                Err(e) => return Err(e),
            };
            let m = match parse_mpop(args, 2) {
                Ok(m) => m,
                Err(e) => return Err(e),
            };
            (
                m.keys,
                deadline,
                pop_serve(m.end, m.count, PopShape::KeyElements, resp3),
                None,
            )
        }
    };
    Ok(parsed)
}

/// Runs a blocking list command (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) on
/// the connection's task.
pub async fn cmd_blocking(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let (keys, deadline, serve, mv) = match parse(args, resp3, crate::util::now_ms()) {
        Ok(p) => p,
        Err(e) => return Reply::new(out, resp3).error(e),
    };
    let kind = if args.get(0)[..2].eq_ignore_ascii_case(b"bz") {
        WaitKind::ZSet
    } else {
        WaitKind::List
    };
    let shard = sess.shard.clone();
    let info = sess.info.clone();
    loop {
        let permit = super::acl::permit(sess, args);
        match blocking::block_on_keys(
            &shard,
            &info,
            sess.db,
            &keys,
            serve.clone(),
            deadline,
            sess.tx,
            kind.clone(),
            permit,
        )
        .await
        {
            Ok(reply) => return out.extend_from_slice(&reply),
            // Inside a transaction a move answers a null bulk (Redis's
            // non-blocking path), a timed-out wait a null array.
            Err(Unserved::TimedOut) if sess.tx != 0 && mv.is_some() => return Reply::new(out, resp3).null(),
            Err(Unserved::TimedOut) => return Reply::new(out, resp3).null_array(),
            Err(Unserved::Unblocked) => return Reply::new(out, resp3).error(UNBLOCKED),
            Err(Unserved::Gone) => return,
            // ACL rules changed while it waited: refused as Redis refuses
            // the command it runs again (or, allowed after all, wait again).
            Err(Unserved::Denied) => {
                if let Some(msg) = super::acl::blocked_recheck(sess, args) {
                    return Reply::new(out, resp3).error_bytes(&msg);
                }
            }
            Err(Unserved::Retry) => {
                // A move whose destination lives on another shard: run it
                // as one cross-shard LMOVE; block again if it found nothing.
                let (dst, from, to) = mv.clone().expect("only moves retry");
                let lmove = LmoveArgs::new(&keys[0], &dst, from, to);
                let lmove_args = lmove.args();
                let spec = super::lookup(b"lmove").expect("lmove is in the table");
                let mut tmp = Vec::new();
                super::cross::execute(sess, spec, super::Cross::Gather, &lmove_args, &mut tmp).await;
                if !tmp.starts_with(b"$-1") && !tmp.starts_with(b"_") {
                    return out.extend_from_slice(&tmp);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_like_redis() {
        assert_eq!(parse_timeout(b"0", 1000), Ok(0));
        assert_eq!(parse_timeout(b"1.5", 1000), Ok(2500));
        assert_eq!(parse_timeout(b"0.0001", 1000), Ok(1001));
        assert_eq!(parse_timeout(b"-1", 1000), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"abc", 1000), Err(TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b"inf", 1000), Err(TIMEOUT_RANGE));
        assert_eq!(parse_timeout(b"0x7FFFFFFFFFFFFF", 1000), Err(TIMEOUT_RANGE));
    }
}
