//! Bitmap family (strings addressed by bit): SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP, BITFIELD, BITFIELD_RO.
//!
//! Bit 0 is the most significant bit of the first byte. Reads treat missing
//! keys and bytes past the end as zeros; writes grow the string with zero
//! bytes and leave it "raw" encoded, as Redis does.

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx};
use crate::shard::count_lookup;
use crate::storage::value::with_str_bytes;
use crate::storage::{Db, Value};

const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
const BITOP_NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";
const BITFIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const BITFIELD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
const BITFIELD_RO_GET_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";

/// Parses a bit offset: an integer with `offset / 8 < proto-max-bulk-len`.
fn bit_offset(arg: &[u8], max_bulk_len: usize) -> Option<u64> {
    let v = parse_i64(arg)?;
    if v < 0 || (v as u64 >> 3) >= max_bulk_len as u64 {
        return None;
    }
    Some(v as u64)
}

/// `SETBIT key offset value` → the bit's previous value. The string grows
/// (zero-padded) to hold the offset, even when setting a 0.
pub fn cmd_setbit(ctx: &mut Ctx, args: &Args) {
    let Some(offset) = bit_offset(args.get(2), ctx.max_bulk_len) else {
        return ctx.out.error(err::BIT_OFFSET);
    };
    let on = match parse_i64(args.get(3)) {
        Some(v @ 0..=1) => v == 1,
        _ => return ctx.out.error(err::BIT_VALUE),
    };
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let key = args.get(1);
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let db = &mut ctx.ks.dbs[ctx.db];
    let old = match db.lookup(key, now) {
        None => {
            let mut data = vec![0u8; byte + 1];
            if on {
                data[byte] |= mask;
            }
            db.insert(key, Value::raw_string(data), 0, clock);
            notify(class::STRING, "setbit", ctx.db, key);
            crate::persist::bump(1);
            0
        }
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => {
            let mut data = std::mem::replace(&mut e.value, Value::Int(0)).into_bytes();
            let grew = data.len() <= byte;
            if grew {
                data.resize(byte + 1, 0);
            }
            let old = (data[byte] & mask != 0) as i64;
            if on {
                data[byte] |= mask;
            } else {
                data[byte] &= !mask;
            }
            e.value = Value::raw_string(data);
            e.touch(clock);
            // Redis raises it when the string was created or grew, or the
            // bit changed.
            if grew || (old == 1) != on {
                notify(class::STRING, "setbit", ctx.db, key);
                crate::persist::bump(1);
            }
            old
        }
    };
    ctx.out.int(old);
}

/// `GETBIT key offset` → the bit at `offset`, 0 past the end or when absent.
pub fn cmd_getbit(ctx: &mut Ctx, args: &Args) {
    let Some(offset) = bit_offset(args.get(2), ctx.max_bulk_len) else {
        return ctx.out.error(err::BIT_OFFSET);
    };
    let now = ctx.now_ms;
    let found = ctx.ks.dbs[ctx.db].lookup(args.get(1), now);
    count_lookup(found.is_some());
    let bit = match found {
        None => {
            key_miss(ctx.db, args.get(1));
            0
        }
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => with_str_bytes(&e.value, |b| {
            let byte = (offset >> 3) as usize;
            b.get(byte).map_or(0, |v| (v >> (7 - (offset & 7))) & 1)
        })
        .unwrap_or(0),
    };
    ctx.out.int(bit as i64);
}

// ---------------------------------------------------------------- helpers

/// Number of set bits, eight bytes at a time.
pub fn popcount(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    let mut n = 0u64;
    for c in &mut chunks {
        n += u64::from_ne_bytes(c.try_into().expect("8-byte chunk")).count_ones() as u64;
    }
    n + chunks.remainder().iter().map(|x| x.count_ones() as u64).sum::<u64>()
}

/// Calls `f` with the string bytes of a key, without copying them:
/// `Ok(None)` when the key is absent, WRONGTYPE for other types.
fn with_string<R>(db: &mut Db, key: &[u8], now: u64, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, &'static str> {
    let index = db.index;
    let found = db.lookup(key, now);
    count_lookup(found.is_some());
    match found {
        None => {
            key_miss(index, key);
            Ok(None)
        }
        Some(e) => with_str_bytes(&e.value, f).map(Some).ok_or(err::WRONGTYPE),
    }
}

/// Parses `BYTE` / `BIT`: whether the unit is bits.
fn parse_unit(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Some(false)
    } else {
        None
    }
}

/// A range of bytes `start..=end` with, in BIT mode, masks of the bits of
/// the first and last byte that lie outside the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteRange {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

/// Resolves a `start end` pair in bytes or bits against a string of `len`
/// bytes: negative indexes count from the end, both are clamped to the
/// string. `start > end` in the result means an empty range.
fn resolve_range(mut start: i64, mut end: i64, len: usize, bits: bool) -> ByteRange {
    let total = if bits { (len as i64) << 3 } else { len as i64 };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0u8, 0u8);
    if bits && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    ByteRange {
        start,
        end,
        first_mask,
        last_mask,
    }
}

// ---------------------------------------------------------------- BITCOUNT

/// Set bits of `data` within `range`.
fn count_in(data: &[u8], r: ByteRange) -> u64 {
    if r.start > r.end {
        return 0;
    }
    let (s, e) = (r.start as usize, r.end as usize);
    let mut n = popcount(&data[s..=e]);
    n -= (data[s] & r.first_mask).count_ones() as u64;
    n -= (data[e] & r.last_mask).count_ones() as u64;
    n
}

/// `BITCOUNT key [start end [BYTE | BIT]]` → the number of set bits in the
/// string or in the range; 0 for a missing key.
pub fn cmd_bitcount(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let range = match args.len() {
        2 => None,
        4 | 5 => {
            let (Some(start), Some(end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
                return ctx.out.error(err::NOT_INTEGER);
            };
            let bits = if args.len() == 5 {
                match parse_unit(args.get(4)) {
                    Some(b) => b,
                    None => return ctx.out.error(err::SYNTAX),
                }
            } else {
                false
            };
            Some((start, end, bits))
        }
        _ => return ctx.out.error(err::SYNTAX),
    };
    let counted = with_string(ctx.db(), args.get(1), now, |data| match range {
        None => popcount(data),
        Some((start, end, _)) if start < 0 && end < 0 && start > end => 0,
        Some((start, end, bits)) => count_in(data, resolve_range(start, end, data.len(), bits)),
    });
    match counted {
        Ok(n) => ctx.out.int(n.unwrap_or(0) as i64),
        Err(e) => ctx.out.error(e),
    }
}

// ---------------------------------------------------------------- BITPOS

/// First bit equal to `bit` within `range` of `data` (edge bits outside the
/// range never match), as an absolute bit position.
fn find_bit(data: &[u8], r: ByteRange, bit: bool) -> Option<i64> {
    let (s, e) = (r.start as usize, r.end as usize);
    // A byte "matches" when it holds at least one wanted bit; looking for
    // 0s is looking for 1s in the complement.
    let look = |j: usize| -> u8 {
        let mut b = if bit { data[j] } else { !data[j] };
        if j == s {
            b &= !r.first_mask;
        }
        if j == e {
            b &= !r.last_mask;
        }
        b
    };
    let at = |j: usize| Some((j as i64) * 8 + look(j).leading_zeros() as i64);
    if look(s) != 0 {
        return at(s);
    }
    if s == e {
        return None;
    }
    // Whole bytes in between, eight at a time.
    let mut j = s + 1;
    let skip = if bit { 0u64 } else { u64::MAX };
    while j + 8 <= e {
        if u64::from_ne_bytes(data[j..j + 8].try_into().expect("8 bytes")) != skip {
            break;
        }
        j += 8;
    }
    while j <= e {
        if look(j) != 0 {
            return at(j);
        }
        j += 1;
    }
    None
}

/// `BITPOS key bit [start [end [BYTE | BIT]]]` → the position of the first
/// bit set to `bit`, or -1. Looking for a 0 without an explicit end treats
/// the string as followed by zeros (a missing key is all zeros).
pub fn cmd_bitpos(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let bit = match parse_i64(args.get(2)) {
        None => return ctx.out.error(err::NOT_INTEGER),
        Some(b @ 0..=1) => b == 1,
        Some(_) => return ctx.out.error(BITPOS_BIT),
    };
    let argc = args.len();
    let mut start = 0i64;
    let mut end: Option<i64> = None;
    let mut bits = false;
    match argc {
        3 => {}
        4..=6 => {
            start = match parse_i64(args.get(3)) {
                Some(v) => v,
                None => return ctx.out.error(err::NOT_INTEGER),
            };
            if argc == 6 {
                match parse_unit(args.get(5)) {
                    Some(b) => bits = b,
                    None => return ctx.out.error(err::SYNTAX),
                }
            }
            if argc >= 5 {
                match parse_i64(args.get(4)) {
                    Some(v) => end = Some(v),
                    None => return ctx.out.error(err::NOT_INTEGER),
                }
            }
        }
        _ => return ctx.out.error(err::SYNTAX),
    }
    let found = with_string(ctx.db(), args.get(1), now, |data| {
        bitpos_in(data, argc, start, end, bits, bit)
    });
    match found {
        Ok(Some(pos)) => ctx.out.int(pos),
        Ok(None) => ctx.out.int(if bit { -1 } else { 0 }),
        Err(e) => ctx.out.error(e),
    }
}

/// BITPOS on the bytes of an existing string (arguments already parsed).
fn bitpos_in(data: &[u8], argc: usize, start: i64, end: Option<i64>, bits: bool, bit: bool) -> i64 {
    let r = if argc == 3 {
        ByteRange {
            start: 0,
            end: data.len() as i64 - 1,
            first_mask: 0,
            last_mask: 0,
        }
    } else {
        resolve_range(start, end.unwrap_or(data.len() as i64 - 1), data.len(), bits)
    };
    if r.start > r.end {
        return -1;
    }
    match find_bit(data, r, bit) {
        Some(p) => p,
        None if bit || end.is_some() => -1,
        // Clear bits continue past the end of the string.
        None => (r.end + 1) * 8,
    }
}

// ---------------------------------------------------------------- BITOP

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// Folds source `s` (missing bytes are zeros) into `res`; the first
/// source is copied (and inverted for NOT).
fn bitop_fold(op: BitOp, res: &mut [u8], s: &[u8], first: bool) {
    let n = s.len();
    if first {
        res[..n].copy_from_slice(s);
        if op == BitOp::Not {
            res.iter_mut().for_each(|b| *b = !*b);
        }
        return;
    }
    match op {
        BitOp::And => {
            res[..n].iter_mut().zip(s).for_each(|(r, b)| *r &= b);
            res[n..].fill(0);
        }
        BitOp::Or => res[..n].iter_mut().zip(s).for_each(|(r, b)| *r |= b),
        BitOp::Xor => res[..n].iter_mut().zip(s).for_each(|(r, b)| *r ^= b),
        BitOp::Not => unreachable!("NOT has one source"),
    }
}

/// Combines `sources` (missing bytes are zeros) into a string as long as
/// the longest one.
pub fn bitop(op: BitOp, sources: &[&[u8]]) -> Vec<u8> {
    let mut res = vec![0u8; sources.iter().map(|s| s.len()).max().unwrap_or(0)];
    for (i, s) in sources.iter().enumerate() {
        bitop_fold(op, &mut res, s, i == 0);
    }
    res
}

/// BITOP on one database: stores the result in `dest` (deleting it when
/// the result is empty) and returns its length.
pub fn op_bitop<'a>(
    db: &mut Db,
    op: BitOp,
    dest: &[u8],
    keys: impl Iterator<Item = &'a [u8]>,
    now: u64,
    clock: u32,
) -> Result<usize, &'static str> {
    // Two passes over the sources, reading them in place: types and the
    // longest length first, then the fold.
    let keys: Vec<&[u8]> = keys.collect();
    let mut maxlen = 0;
    for k in &keys {
        maxlen = maxlen.max(with_string(db, k, now, |b| b.len())?.unwrap_or(0));
    }
    let mut res = vec![0u8; maxlen];
    for (i, k) in keys.iter().enumerate() {
        // Types were checked (and the lookups counted) by the first pass.
        let found = db
            .lookup(k, now)
            .and_then(|e| with_str_bytes(&e.value, |b| bitop_fold(op, &mut res, b, i == 0)));
        if found.is_none() {
            bitop_fold(op, &mut res, &[], i == 0);
        }
    }
    let len = res.len();
    if len == 0 {
        if db.remove(dest).is_some() {
            notify(class::GENERIC, "del", db.index, dest);
            crate::persist::bump(1);
        }
    } else {
        db.insert(dest, Value::raw_string(res), 0, clock);
        notify(class::STRING, "set", db.index, dest);
        crate::persist::bump(1);
    }
    Ok(len)
}

/// `BITOP <AND | OR | XOR | NOT> destkey key [key ...]` → the length of
/// the string stored at `destkey`.
pub fn cmd_bitop(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let op = match args.get(1).to_ascii_lowercase().as_slice() {
        b"and" => BitOp::And,
        b"or" => BitOp::Or,
        b"xor" => BitOp::Xor,
        b"not" => BitOp::Not,
        _ => return ctx.out.error(err::SYNTAX),
    };
    if op == BitOp::Not && args.len() != 4 {
        return ctx.out.error(BITOP_NOT_ONE_KEY);
    }
    let keys = (3..args.len()).map(|i| args.get(i));
    match op_bitop(ctx.db(), op, args.get(2), keys, now, clock) {
        Ok(n) => ctx.out.int(n as i64),
        Err(e) => ctx.out.error(e),
    }
}

// ---------------------------------------------------------------- BITFIELD

/// Overflow behaviour of BITFIELD SET / INCRBY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Debug, Clone, Copy)]
struct Field {
    op: FieldOp,
    offset: u64,
    bits: u32,
    signed: bool,
    overflow: Overflow,
}

/// Reads `bits` bits at bit `offset` as an unsigned integer; bytes past
/// the end read as zeros.
pub fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..bits as u64 {
        let o = offset + i;
        let byte = p.get((o >> 3) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - (o & 7))) & 1) as u64;
    }
    v
}

/// Reads a two's complement signed integer of `bits` bits.
pub fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(p, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset` (the string is
/// long enough).
pub fn set_bits(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..bits as u64 {
        let on = value & (1u64 << (bits as u64 - 1 - i)) != 0;
        let o = offset + i;
        let mask = 1u8 << (7 - (o & 7));
        let b = &mut p[(o >> 3) as usize];
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// Overflow check for unsigned fields: `Some(result)` when `value + incr`
/// does not fit in `bits` bits (the wrapped or saturated value; FAIL keeps
/// the value, unused), `None` when it fits.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > max_incr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => value,
        })
    } else if incr < 0 && incr < min_incr {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => 0,
            Overflow::Fail => value,
        })
    } else {
        None
    }
}

/// Overflow check for signed fields, as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => max,
            Overflow::Fail => value,
        })
    } else if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr) {
        Some(match ow {
            Overflow::Wrap => wrap(),
            Overflow::Sat => min,
            Overflow::Fail => value,
        })
    } else {
        None
    }
}

/// Parses a bitfield type: `i1`..`i64` or `u1`..`u63`.
fn parse_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    // The width is read as a C string.
    let rest = &arg[1..];
    let rest = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    match parse_i64(rest)? {
        n @ 1..=64 if signed => Some((true, n as u32)),
        n @ 1..=63 => Some((false, n as u32)),
        _ => None,
    }
}

/// Parses a bitfield offset: a bit offset, or `#n` meaning `n * bits`.
fn parse_field_offset(arg: &[u8], bits: u32, max_bulk_len: usize) -> Option<u64> {
    let (hash, digits) = match arg.first() {
        Some(b'#') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut v = parse_i64(digits)?;
    if hash {
        v = v.wrapping_mul(bits as i64);
    }
    if v < 0 || (v as u64 >> 3) >= max_bulk_len as u64 {
        return None;
    }
    Some(v as u64)
}

/// Parses the subcommands of BITFIELD into operations.
fn parse_fields(args: &Args, max_bulk_len: usize) -> Result<Vec<Field>, &'static str> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = args.get(j);
        let is = |w: &str| sub.eq_ignore_ascii_case(w.as_bytes());
        let kind = if is("get") && rem >= 2 {
            0
        } else if is("set") && rem >= 3 {
            1
        } else if is("incrby") && rem >= 3 {
            2
        } else if is("overflow") && rem >= 1 {
            let t = args.get(j + 1);
            overflow = if t.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if t.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if t.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                return Err(BITFIELD_OVERFLOW);
            };
            j += 2;
            continue;
        } else {
            return Err(err::SYNTAX);
        };
        let (signed, bits) = parse_type(args.get(j + 1)).ok_or(BITFIELD_TYPE)?;
        let offset = parse_field_offset(args.get(j + 2), bits, max_bulk_len).ok_or(err::BIT_OFFSET)?;
        let op = match kind {
            0 => FieldOp::Get,
            _ => {
                let v = parse_i64(args.get(j + 3)).ok_or(err::NOT_INTEGER)?;
                if kind == 1 {
                    FieldOp::Set(v)
                } else {
                    FieldOp::IncrBy(v)
                }
            }
        };
        fields.push(Field {
            op,
            offset,
            bits,
            signed,
            overflow,
        });
        j += if kind == 0 { 3 } else { 4 };
    }
    Ok(fields)
}

/// Runs one SET / INCRBY on `p`: the value to reply (None when FAIL
/// refused the write).
fn apply_field(p: &mut [u8], f: &Field) -> Option<i64> {
    if f.signed {
        let old = get_signed(p, f.offset, f.bits);
        let (new, reply, over) = match f.op {
            FieldOp::IncrBy(incr) => match signed_overflow(old, incr, f.bits, f.overflow) {
                Some(w) => (w, w, true),
                None => (old.wrapping_add(incr), old.wrapping_add(incr), false),
            },
            FieldOp::Set(v) => match signed_overflow(v, 0, f.bits, f.overflow) {
                Some(w) => (w, old, true),
                None => (v, old, false),
            },
            FieldOp::Get => unreachable!("GET is not applied"),
        };
        if over && f.overflow == Overflow::Fail {
            return None;
        }
        set_bits(p, f.offset, f.bits, new as u64);
        Some(reply)
    } else {
        let old = get_unsigned(p, f.offset, f.bits);
        let (new, reply, over) = match f.op {
            FieldOp::IncrBy(incr) => match unsigned_overflow(old, incr, f.bits, f.overflow) {
                Some(w) => (w, w, true),
                None => (old.wrapping_add(incr as u64), old.wrapping_add(incr as u64), false),
            },
            FieldOp::Set(v) => match unsigned_overflow(v as u64, 0, f.bits, f.overflow) {
                Some(w) => (w, old, true),
                None => (v as u64, old, false),
            },
            FieldOp::Get => unreachable!("GET is not applied"),
        };
        if over && f.overflow == Overflow::Fail {
            return None;
        }
        set_bits(p, f.offset, f.bits, new);
        Some(reply as i64)
    }
}

/// Applies a SET/INCRBY field: its reply value and whether the bits changed.
fn apply_changed(data: &mut [u8], f: &Field) -> Option<(i64, bool)> {
    let old = read_field(data, f);
    apply_field(data, f).map(|v| (v, old != read_field(data, f)))
}

fn read_field(p: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(p, f.offset, f.bits)
    } else {
        get_unsigned(p, f.offset, f.bits) as i64
    }
}

/// Shared by BITFIELD and BITFIELD_RO (`readonly`: GET only).
fn bitfield_generic(ctx: &mut Ctx, args: &Args, readonly: bool) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let fields = match parse_fields(args, ctx.max_bulk_len) {
        Ok(f) => f,
        Err(e) => return ctx.out.error(e),
    };
    let key = args.get(1);
    let writes = fields.iter().any(|f| f.op != FieldOp::Get);
    if !writes {
        let values = with_string(ctx.db(), key, now, |data| {
            fields.iter().map(|f| read_field(data, f)).collect::<Vec<_>>()
        });
        match values {
            Ok(v) => {
                let v = v.unwrap_or_else(|| fields.iter().map(|f| read_field(&[], f)).collect());
                ctx.out.array_len(v.len());
                for x in v {
                    ctx.out.int(x);
                }
            }
            Err(e) => ctx.out.error(e),
        }
        return;
    }
    if readonly {
        return ctx.out.error(BITFIELD_RO_GET_ONLY);
    }
    // Grow (or create) the string so that every written bit exists.
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let need = (highest >> 3) as usize + 1;
    let db = &mut ctx.ks.dbs[ctx.db];
    let mut data = match db.lookup(key, now) {
        None => Vec::new(),
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => std::mem::replace(&mut e.value, Value::Int(0)).into_bytes(),
    };
    // A created or grown string counts as a change (Redis's `dirty`).
    let grew = data.len() < need;
    if grew {
        data.resize(need, 0);
    }
    ctx.out.array_len(fields.len());
    let mut changes = 0;
    for f in &fields {
        match f.op {
            FieldOp::Get => ctx.out.int(read_field(&data, f)),
            _ => match apply_changed(&mut data, f) {
                Some((v, changed)) => {
                    if grew || changed {
                        changes += 1;
                    }
                    ctx.out.int(v)
                }
                None => ctx.out.null(),
            },
        }
    }
    let db = &mut ctx.ks.dbs[ctx.db];
    let value = Value::raw_string(data);
    match db.lookup(key, now) {
        Some(e) => {
            e.value = value;
            e.touch(clock);
        }
        None => {
            db.insert(key, value, 0, clock);
        }
    }
    if changes > 0 {
        notify(class::STRING, "setbit", db.index, key);
        crate::persist::bump(changes as u64);
    }
}

/// `BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL] SET type
/// offset value | INCRBY type offset increment ...]` → one reply per GET,
/// SET (the old value) and INCRBY (the new value); nil when OVERFLOW FAIL
/// refused a write.
pub fn cmd_bitfield(ctx: &mut Ctx, args: &Args) {
    bitfield_generic(ctx, args, false);
}

/// `BITFIELD_RO key [GET type offset ...]` → the values read.
pub fn cmd_bitfield_ro(ctx: &mut Ctx, args: &Args) {
    bitfield_generic(ctx, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcount_matches_naive() {
        let data: Vec<u8> = (0..=255u8).chain(0..37).collect();
        let naive: u64 = data.iter().map(|b| b.count_ones() as u64).sum();
        assert_eq!(popcount(&data), naive);
        assert_eq!(
            popcount(&data[3..20]),
            data[3..20].iter().map(|b| b.count_ones() as u64).sum()
        );
        assert_eq!(popcount(&[]), 0);
    }

    #[test]
    fn ranges_in_bits() {
        let r = resolve_range(5, 30, 4, true);
        assert_eq!(
            (r.start, r.end, r.first_mask, r.last_mask),
            (0, 3, 0b1111_1000, 0b0000_0001)
        );
        let r = resolve_range(-1, -1, 2, false);
        assert_eq!((r.start, r.end), (1, 1));
        let r = resolve_range(10, 20, 2, false);
        assert!(r.start > r.end);
    }

    #[test]
    fn bitfield_arithmetic() {
        let mut p = vec![0u8; 2];
        set_bits(&mut p, 7, 5, 23);
        assert_eq!(p, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&p, 7, 5), 23);
        assert_eq!(get_signed(&p, 7, 5), -9);
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Sat), None);
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(0, 5, 64, Overflow::Wrap), None);
    }

    #[test]
    fn bitop_pads_with_zeros() {
        let a: &[u8] = &[0xff, 0x0f];
        let b: &[u8] = &[0x0f];
        assert_eq!(bitop(BitOp::And, &[a, b]), vec![0x0f, 0x00]);
        assert_eq!(bitop(BitOp::And, &[a, &[], b]), vec![0x00, 0x00]);
        assert_eq!(bitop(BitOp::Or, &[b, a]), vec![0xff, 0x0f]);
        assert_eq!(bitop(BitOp::Xor, &[a, b]), vec![0xf0, 0x0f]);
        assert_eq!(bitop(BitOp::Not, &[a]), vec![0x00, 0xf0]);
    }
}
