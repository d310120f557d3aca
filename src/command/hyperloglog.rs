//! HyperLogLog family: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! A HyperLogLog is a plain string holding Redis's exact representation, so
//! that GET, DUMP-like copies and replicas see the same bytes Redis stores:
//!
//! ```text
//! +------+---+-----+--------------------+---------------------------------+
//! | HYLL | E | 0 0 0 | card (8 bytes LE) | registers (dense) / opcodes (sparse)
//! +------+---+-----+--------------------+---------------------------------+
//! ```
//!
//! - `E` is the encoding: 0 dense, 1 sparse.
//! - `card` caches the last computed cardinality, little endian; the most
//!   significant bit of its last byte set means "stale, recompute".
//! - Dense: 16384 registers of 6 bits, packed from the least significant
//!   bit of each byte upwards (12288 bytes).
//! - Sparse: a run-length sequence of opcodes covering all 16384 registers:
//!   `00xxxxxx` ZERO (1..64 zero registers), `01xxxxxx yyyyyyyy` XZERO
//!   (1..16384 zero registers), `1vvvvvxx` VAL (1..4 registers of value
//!   1..32). A sparse HLL becomes dense when a register needs a value above
//!   32 or the string would grow beyond `hll-sparse-max-bytes`.
//!
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits
//! pick the register, the run of zeros above them (plus one) is the value.
//! The cardinality uses Ertl's improved estimator with the same floating
//! point operations, in the same order, as Redis 7, so PFCOUNT answers are
//! identical.

use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx};
use crate::shard::count_lookup;
use crate::storage::{Db, Value};

/// Error for a string that is not a HyperLogLog.
pub const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// Error for a HyperLogLog whose sparse encoding does not add up.
pub const INVALID_HLL: &str = "INVALIDOBJ Corrupted HLL object detected";
const NO_KEY: &str = "ERR The specified key does not exist";
const NOT_SPARSE: &str = "ERR HLL encoding is not sparse";

const HDR: usize = 16;
const P: u32 = 14;
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
const REGISTER_MAX: u8 = 63;
/// Length of a dense HyperLogLog string, header included.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const SPARSE_VAL_MAX_VALUE: u8 = 32;
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;
const SPARSE_XZERO_MAX_LEN: usize = 16384;
/// 0.5 / ln(2), the estimator's constant for an infinite register count.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// Failures of HyperLogLog operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpError {
    /// Not a string at all.
    WrongType,
    /// A string that is not a HyperLogLog.
    NotHll,
    /// A HyperLogLog whose sparse opcodes are inconsistent.
    Corrupt,
}

impl OpError {
    pub fn message(self) -> &'static str {
        match self {
            OpError::WrongType => err::WRONGTYPE,
            OpError::NotHll => NOT_HLL,
            OpError::Corrupt => INVALID_HLL,
        }
    }
}

// ---------------------------------------------------------------- hashing

/// MurmurHash2, 64-bit version (MurmurHash64A), reading words little
/// endian as Redis does on every architecture.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element maps to and the length of its `0...01` pattern
/// (1..=Q+1).
pub fn pattern_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc8_3b19);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------- dense

/// Register `i` of a dense register array.
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = regs[byte] as u32;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u32;
    (((b0 >> fb) | (b1 << (8 - fb))) & REGISTER_MAX as u32) as u8
}

/// Sets register `i` of a dense register array to `val` (at most 63).
#[inline]
pub fn dense_set(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = val as u32;
    regs[byte] &= !((REGISTER_MAX as u32) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((REGISTER_MAX as u32) >> (8 - fb)) as u8;
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Calls `f(i, value)` for every register of a dense register array, four
/// registers (three bytes) at a time.
#[inline]
fn for_each_dense(regs: &[u8], mut f: impl FnMut(usize, u8)) {
    for (k, c) in regs.chunks_exact(3).enumerate() {
        let (b0, b1, b2) = (c[0], c[1], c[2]);
        f(4 * k, b0 & 63);
        f(4 * k + 1, (b0 >> 6 | b1 << 2) & 63);
        f(4 * k + 2, (b1 >> 4 | b2 << 4) & 63);
        f(4 * k + 3, b2 >> 2);
    }
}

/// Raises register `i` to `count`; whether it changed.
fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

// ---------------------------------------------------------------- sparse

/// A sparse opcode as read at one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    /// Decodes the opcode at `s[p]`. A byte past the end reads as 0, as the
    /// string's terminating NUL does in Redis.
    #[inline]
    fn at(s: &[u8], p: usize) -> Op {
        let b = s[p];
        if b & 0xc0 == 0 {
            Op::Zero((b & 0x3f) as usize + 1)
        } else if b & 0x80 == 0 {
            let lo = s.get(p + 1).copied().unwrap_or(0) as usize;
            Op::XZero((((b & 0x3f) as usize) << 8 | lo) + 1)
        } else {
            Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
        }
    }

    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }

    fn width(self) -> usize {
        if matches!(self, Op::XZero(_)) {
            2
        } else {
            1
        }
    }
}

fn val_byte(val: u8, len: usize) -> u8 {
    ((val - 1) << 2 | (len as u8 - 1)) | 0x80
}

/// Appends the opcode(s) for a run of `len` zero registers (ZERO up to 64,
/// XZERO beyond).
fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        let l = len - 1;
        seq.push((l >> 8) as u8 | 0x40);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push(len as u8 - 1);
    }
}

/// A new, empty HyperLogLog as Redis creates it: sparse, XZERO:16384.
pub fn new_hll() -> Vec<u8> {
    let mut s = Vec::with_capacity(HDR + 2);
    s.extend_from_slice(b"HYLL");
    s.extend_from_slice(&[SPARSE, 0, 0, 0]);
    s.extend_from_slice(&[0; 8]);
    let mut left = REGISTERS;
    while left > 0 {
        let n = left.min(SPARSE_XZERO_MAX_LEN);
        push_zeros(&mut s, n);
        left -= n;
    }
    s
}

/// The dense form of a sparse HyperLogLog (header copied, encoding set to
/// dense); `Corrupt` when the opcodes do not cover exactly 16384 registers.
fn sparse_to_dense(s: &[u8]) -> Result<Vec<u8>, OpError> {
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&s[..HDR]);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let op = Op::at(s, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => idx += n,
            Op::Val(v, n) => {
                if idx + n > REGISTERS {
                    break;
                }
                for _ in 0..n {
                    dense_set(regs, idx, v);
                    idx += 1;
                }
            }
        }
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(OpError::Corrupt);
    }
    Ok(dense)
}

/// Converts `s` to dense in place if it is sparse.
fn promote(s: &mut Vec<u8>) -> Result<(), OpError> {
    if s[4] == SPARSE {
        *s = sparse_to_dense(s)?;
    }
    Ok(())
}

/// Raises register `index` of the sparse HLL `s` to `count`, splitting
/// opcodes in place and merging equal neighbours as Redis does; promotes
/// to dense when the value or the length does not fit. Whether the register
/// changed; `Corrupt` when the opcodes are inconsistent.
fn sparse_set(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, OpError> {
    if count > SPARSE_VAL_MAX_VALUE {
        return promote_and_set(s, index, count);
    }
    // Step 1: find the opcode covering `index`.
    let end = s.len();
    let mut p = HDR;
    let mut first = 0usize;
    let mut prev: Option<usize> = None;
    let mut span = 0usize;
    let mut op = Op::Zero(0);
    while p < end {
        op = Op::at(s, p);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.width();
        first += span;
    }
    if span == 0 || p >= end {
        return Err(OpError::Corrupt);
    }

    // Step 2: nothing to do, a one-register opcode rewritten in place, or
    // the opcode split into up to three (runs before, VAL:count,1, after).
    let last = first + span - 1;
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => {
            s[p] = val_byte(count, 1);
            merge_neighbours(s, prev.unwrap_or(HDR));
            s[15] |= 0x80;
            return Ok(true);
        }
        Op::Zero(_) | Op::XZero(_) => {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        Op::Val(cur, _) => {
            if index != first {
                seq.push(val_byte(cur, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(cur, last - index));
            }
        }
    }

    // Step 3: substitute the new sequence for the old opcode.
    let old_len = op.width();
    let new_len = end + seq.len() - old_len;
    if seq.len() > old_len && new_len > max_bytes {
        return promote_and_set(s, index, count);
    }
    if p + old_len <= end {
        s.splice(p..p + old_len, seq);
    } else {
        // A truncated XZERO at the very end: Redis writes the new sequence
        // over it but grows the string by the nominal difference only.
        s.truncate(p);
        s.extend_from_slice(&seq);
        s.truncate(new_len);
    }

    // Step 4: merge adjacent VAL opcodes of equal value.
    merge_neighbours(s, prev.unwrap_or(HDR));
    s[15] |= 0x80;
    Ok(true)
}

/// Merges adjacent VAL opcodes with the same value (up to the VAL maximum
/// run), scanning at most five opcodes from `p`.
fn merge_neighbours(s: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < s.len() {
        if scan == 0 {
            break;
        }
        scan -= 1;
        match Op::at(s, p) {
            Op::XZero(_) => {
                p += 2;
                continue;
            }
            Op::Zero(_) => {
                p += 1;
                continue;
            }
            Op::Val(v1, l1) => {
                if p + 1 < s.len() {
                    if let Op::Val(v2, l2) = Op::at(s, p + 1) {
                        if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                            s[p + 1] = val_byte(v1, l1 + l2);
                            s.remove(p);
                            continue;
                        }
                    }
                }
                p += 1;
            }
        }
    }
}

fn promote_and_set(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, OpError> {
    promote(s)?;
    dense_raise(&mut s[HDR..], index, count);
    Ok(true)
}

/// Raises register `index` of the HLL `s` (either encoding) to `count`.
fn set_register(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, OpError> {
    match s[4] {
        DENSE => Ok(dense_raise(&mut s[HDR..], index, count)),
        SPARSE => sparse_set(s, index, count, max_bytes),
        _ => Err(OpError::Corrupt),
    }
}

/// Adds one element; whether a register changed.
pub fn hll_add(s: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, OpError> {
    let (index, count) = pattern_len(ele);
    set_register(s, index, count, max_bytes)
}

// ---------------------------------------------------------------- counting

/// Histogram of register values of a (validated) HLL string; `Corrupt`
/// when a sparse encoding does not cover exactly 16384 registers.
fn histogram(s: &[u8]) -> Result<[u32; 64], OpError> {
    let mut h = [0u32; 64];
    if s[4] == DENSE {
        for_each_dense(&s[HDR..], |_, r| h[r as usize] += 1);
        return Ok(h);
    }
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let op = Op::at(s, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => h[0] += n as u32,
            Op::Val(v, n) => h[v as usize] += n as u32,
        }
        idx += op.span();
        p += op.width();
    }
    if idx != REGISTERS {
        return Err(OpError::Corrupt);
    }
    Ok(h)
}

fn raw_histogram(regs: &[u8; REGISTERS]) -> [u32; 64] {
    let mut h = [0u32; 64];
    for &r in regs.iter() {
        h[(r & 63) as usize] += 1;
    }
    h
}

/// Ertl's sigma function.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

/// Ertl's tau function.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// The cardinality estimate from a register histogram ("New cardinality
/// estimation algorithms for HyperLogLog sketches", Otmar Ertl, 2017).
pub fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Raises `max[i]` to the registers of the HLL `s`.
fn merge_into(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), OpError> {
    if s[4] == DENSE {
        for_each_dense(&s[HDR..], |i, r| max[i] = max[i].max(r));
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let op = Op::at(s, p);
        match op {
            Op::Zero(n) | Op::XZero(n) => i += n,
            Op::Val(v, n) => {
                if i + n > REGISTERS {
                    break;
                }
                for m in &mut max[i..i + n] {
                    *m = (*m).max(v);
                }
                i += n;
            }
        }
        p += op.width();
    }
    if i != REGISTERS {
        return Err(OpError::Corrupt);
    }
    Ok(())
}

// ---------------------------------------------------------------- ops

/// Whether `v` holds a HyperLogLog (Redis's isHLLObjectOrReply): a non-int
/// string with the magic, a known encoding and, if dense, the exact length.
fn check(v: &Value) -> Result<&[u8], OpError> {
    let s = match v {
        Value::Str(data) => data.as_slice(),
        Value::Int(_) => return Err(OpError::NotHll),
        _ => return Err(OpError::WrongType),
    };
    if s.len() < HDR || &s[..4] != b"HYLL" || s[4] > SPARSE || (s[4] == DENSE && s.len() != DENSE_SIZE) {
        return Err(OpError::NotHll);
    }
    Ok(s)
}

/// Takes the HLL bytes of a validated value out of it, for in-place work.
fn take_hll(v: &mut Value) -> Vec<u8> {
    match std::mem::replace(v, Value::Int(0)) {
        Value::Str(data) => data,
        _ => unreachable!("checked to be a string"),
    }
}

fn cached_card(s: &[u8]) -> Option<u64> {
    (s[15] & 0x80 == 0).then(|| u64::from_le_bytes(s[8..16].try_into().expect("8 bytes")))
}

/// PFADD: creates the key if needed and adds `elements`. Whether any
/// register changed (or the key was created).
pub fn op_pfadd<'a>(
    db: &mut Db,
    key: &[u8],
    elements: impl Iterator<Item = &'a [u8]>,
    max_bytes: usize,
    now: u64,
    clock: u32,
) -> Result<bool, OpError> {
    match db.lookup(key, now) {
        Some(e) => {
            check(&e.value)?;
            e.touch(clock);
            let updated = match &mut e.value {
                Value::Str(data) => {
                    crate::storage::value::mark_raw(data);
                    add_all(data, elements, max_bytes)?
                }
                _ => unreachable!("checked to be a string"),
            };
            if updated {
                notify(class::STRING, "pfadd", db.index, key);
                crate::persist::bump(1);
            }
            Ok(updated)
        }
        None => {
            let mut s = new_hll();
            add_all(&mut s, elements, max_bytes)?;
            s[15] |= 0x80;
            db.insert(key, Value::raw_string(s), 0, clock);
            notify(class::STRING, "pfadd", db.index, key);
            crate::persist::bump(1);
            Ok(true)
        }
    }
}

/// Adds `elements` to the HLL `s`, invalidating its cached cardinality
/// when a register changed. On a corrupted HLL, what was done stays done,
/// as in Redis.
fn add_all<'a>(s: &mut Vec<u8>, elements: impl Iterator<Item = &'a [u8]>, max_bytes: usize) -> Result<bool, OpError> {
    let mut updated = false;
    for ele in elements {
        updated |= hll_add(s, ele, max_bytes)?;
    }
    if updated {
        s[15] |= 0x80;
    }
    Ok(updated)
}

/// PFCOUNT of one key: the cached cardinality, or a fresh estimate that is
/// then cached in the header.
pub fn op_pfcount_one(db: &mut Db, key: &[u8], now: u64) -> Result<u64, OpError> {
    let index = db.index;
    let found = db.lookup(key, now);
    count_lookup(found.is_some());
    let Some(e) = found else {
        key_miss(index, key);
        return Ok(0);
    };
    check(&e.value)?;
    let mut s = take_hll(&mut e.value);
    let result = match cached_card(&s) {
        Some(c) => Ok(c),
        None => histogram(&s).map(|h| {
            let card = estimate(&h);
            s[8..16].copy_from_slice(&card.to_le_bytes());
            card
        }),
    };
    e.value = Value::raw_string(s);
    result
}

/// The union of the registers of `keys` (absent keys count as empty);
/// whether any of them is dense.
fn union<'a>(
    db: &mut Db,
    keys: impl Iterator<Item = &'a [u8]>,
    now: u64,
) -> Result<(Box<[u8; REGISTERS]>, bool), OpError> {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut any_dense = false;
    for key in keys {
        let index = db.index;
        let found = db.lookup(key, now);
        count_lookup(found.is_some());
        let Some(e) = found else {
            key_miss(index, key);
            continue;
        };
        let s = check(&e.value)?;
        any_dense |= s[4] == DENSE;
        merge_into(&mut max, s)?;
    }
    Ok((max, any_dense))
}

/// PFCOUNT of several keys: the cardinality of their union, changing
/// nothing.
pub fn op_pfcount_union<'a>(db: &mut Db, keys: impl Iterator<Item = &'a [u8]>, now: u64) -> Result<u64, OpError> {
    let (max, _) = union(db, keys, now)?;
    Ok(estimate(&raw_histogram(&max)))
}

/// PFMERGE: stores into `dest` the union of `dest` and `sources`.
pub fn op_pfmerge<'a>(
    db: &mut Db,
    dest: &'a [u8],
    sources: impl Iterator<Item = &'a [u8]>,
    max_bytes: usize,
    now: u64,
    clock: u32,
) -> Result<(), OpError> {
    let (max, any_dense) = union(db, std::iter::once(dest).chain(sources), now)?;
    let mut s = match db.lookup(dest, now) {
        Some(e) => take_hll(&mut e.value),
        None => new_hll(),
    };
    let converted = if any_dense { promote(&mut s) } else { Ok(()) };
    if converted.is_ok() {
        for (j, &m) in max.iter().enumerate() {
            if m != 0 {
                // Inputs were validated: a failure here cannot happen and,
                // as in Redis, would be ignored.
                let _ = set_register(&mut s, j, m, max_bytes);
            }
        }
        s[15] |= 0x80;
    }
    let value = Value::raw_string(s);
    match db.lookup(dest, now) {
        Some(e) => {
            e.value = value;
            e.touch(clock);
        }
        None => {
            db.insert(dest, value, 0, clock);
        }
    }
    if converted.is_ok() {
        // Redis names PFMERGE's event `pfadd`.
        notify(class::STRING, "pfadd", db.index, dest);
        crate::persist::bump(1);
    }
    converted
}

// ---------------------------------------------------------------- commands

/// `PFADD key [element ...]` → 1 if a register changed (or the key was
/// created), else 0.
pub fn cmd_pfadd(ctx: &mut Ctx, args: &Args) {
    let (now, clock, max) = (ctx.now_ms, ctx.clock, ctx.limits.hll_sparse_max_bytes);
    let elements = (2..args.len()).map(|i| args.get(i));
    match op_pfadd(ctx.db(), args.get(1), elements, max, now, clock) {
        Ok(changed) => ctx.out.int(changed as i64),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `PFCOUNT key [key ...]` → the estimated cardinality of one HLL (cached
/// in its header) or of the union of several.
pub fn cmd_pfcount(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let result = if args.len() == 2 {
        op_pfcount_one(ctx.db(), args.get(1), now)
    } else {
        op_pfcount_union(ctx.db(), (1..args.len()).map(|i| args.get(i)), now)
    };
    match result {
        Ok(card) => ctx.out.int(card as i64),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `PFMERGE destkey [sourcekey ...]` → OK; `destkey` becomes the union of
/// itself and the sources.
pub fn cmd_pfmerge(ctx: &mut Ctx, args: &Args) {
    let (now, clock, max) = (ctx.now_ms, ctx.clock, ctx.limits.hll_sparse_max_bytes);
    let sources = (2..args.len()).map(|i| args.get(i));
    match op_pfmerge(ctx.db(), args.get(1), sources, max, now, clock) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.out.error(e.message()),
    }
}

/// `PFDEBUG <GETREG | DECODE | ENCODING | TODENSE> key`: registers as an
/// array (converting to dense), the sparse opcodes as text, the encoding
/// name, or a conversion to dense (1 if converted).
pub fn cmd_pfdebug(ctx: &mut Ctx, args: &Args) {
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let sub = args.get(1);
    let Some(e) = ctx.ks.dbs[ctx.db].lookup(args.get(2), now) else {
        return ctx.out.error(NO_KEY);
    };
    if let Err(er) = check(&e.value) {
        return ctx.out.error(er.message());
    }
    e.touch(clock);
    let mut s = take_hll(&mut e.value);
    let lower = sub.to_ascii_lowercase();
    let mut failed = false;
    match lower.as_slice() {
        b"getreg" => {
            if promote(&mut s).is_ok() {
                ctx.out.array_len(REGISTERS);
                for i in 0..REGISTERS {
                    ctx.out.int(dense_get(&s[HDR..], i) as i64);
                }
            } else {
                failed = true;
            }
        }
        b"decode" => {
            if s[4] != SPARSE {
                ctx.out.error(NOT_SPARSE);
            } else {
                let mut text = String::new();
                let mut p = HDR;
                while p < s.len() {
                    let op = Op::at(&s, p);
                    match op {
                        Op::Zero(n) => text.push_str(&format!("z:{n} ")),
                        Op::XZero(n) => text.push_str(&format!("Z:{n} ")),
                        Op::Val(v, n) => text.push_str(&format!("v:{v},{n} ")),
                    }
                    p += op.width();
                }
                ctx.out.bulk(text.trim_matches(' ').as_bytes());
            }
        }
        b"encoding" => ctx.out.simple(if s[4] == DENSE { "dense" } else { "sparse" }),
        b"todense" => {
            let was_sparse = s[4] == SPARSE;
            if promote(&mut s).is_ok() {
                ctx.out.int(was_sparse as i64);
            } else {
                failed = true;
            }
        }
        _ => ctx
            .out
            .error_bytes(&err::with_arg("ERR Unknown PFDEBUG subcommand '", sub, "'")),
    }
    if failed {
        ctx.out.error(INVALID_HLL);
    }
    if let Some(e) = ctx.ks.dbs[ctx.db].lookup(args.get(2), now) {
        e.value = Value::raw_string(s);
    }
}

/// `PFSELFTEST` → OK after checking register access and that the sparse
/// and dense encodings agree, or a `TESTFAILED` error.
pub fn cmd_pfselftest(ctx: &mut Ctx, _args: &Args) {
    match self_test() {
        Ok(()) => ctx.out.ok(),
        Err(msg) => ctx.out.error(&msg),
    }
}

fn self_test() -> Result<(), String> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..100 {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (rand() & REGISTER_MAX as u64) as u8;
            dense_set(&mut regs, i, *b);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let got = dense_get(&regs, i);
            if got != b {
                return Err(format!("TESTFAILED Register {i} should be {b} but is {got}"));
            }
        }
    }
    let mut sparse = new_hll();
    let mut dense = sparse_to_dense(&sparse).map_err(|_| "TESTFAILED conversion".to_string())?;
    for j in 1..=10_000u64 {
        let ele = rand().to_le_bytes();
        hll_add(&mut sparse, &ele, 3000).map_err(|_| "TESTFAILED sparse add".to_string())?;
        hll_add(&mut dense, &ele, 3000).map_err(|_| "TESTFAILED dense add".to_string())?;
        if j % 1000 == 0 {
            let a = histogram(&sparse).map(|h| estimate(&h));
            let b = histogram(&dense).map(|h| estimate(&h));
            if a != b {
                return Err(format!("TESTFAILED sparse and dense disagree at {j}: {a:?} {b:?}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_smhasher_verification() {
        // SMHasher's verification value for MurmurHash64A ("Murmur2B"):
        // hash {}, {0}, {0,1}, ... {0..254} with seed 256-n, then hash the
        // concatenated results with seed 0.
        let key: Vec<u8> = (0..=255u8).collect();
        let mut hashes = Vec::with_capacity(256 * 8);
        for i in 0..256usize {
            hashes.extend_from_slice(&murmur64a(&key[..i], 256 - i as u64).to_le_bytes());
        }
        assert_eq!(murmur64a(&hashes, 0) as u32, 0x1F0D_3804);
        assert_eq!(murmur64a(b"", 0), 0);
    }

    #[test]
    fn registers_roundtrip_without_touching_neighbours() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8, "register {i}");
        }
        dense_set(&mut regs, 5, 0);
        assert_eq!(
            (dense_get(&regs, 4), dense_get(&regs, 5), dense_get(&regs, 6)),
            (4, 0, 6)
        );
        dense_set(&mut regs, REGISTERS - 1, 63);
        assert_eq!(dense_get(&regs, REGISTERS - 1), 63);
    }

    #[test]
    fn new_hll_is_one_xzero() {
        let s = new_hll();
        assert_eq!(s, b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff");
        assert_eq!(histogram(&s).unwrap()[0], REGISTERS as u32);
        assert_eq!(estimate(&histogram(&s).unwrap()), 0);
    }

    #[test]
    fn sparse_split_and_merge() {
        let mut s = new_hll();
        assert!(sparse_set(&mut s, 1000, 2, 3000).unwrap());
        // XZERO:1000 VAL:2,1 XZERO:15383
        assert_eq!(&s[HDR..], &[0x43, 0xe7, 0x84, 0x7c, 0x16]);
        assert!(!sparse_set(&mut s, 1000, 1, 3000).unwrap());
        assert!(sparse_set(&mut s, 1001, 2, 3000).unwrap());
        // Adjacent equal values merge into VAL:2,2.
        assert_eq!(&s[HDR..], &[0x43, 0xe7, 0x85, 0x7c, 0x15]);
        assert!(sparse_set(&mut s, 0, 33, 3000).unwrap());
        assert_eq!(s[4], DENSE);
        assert_eq!(s.len(), DENSE_SIZE);
        let regs = &s[HDR..];
        assert_eq!(
            (dense_get(regs, 0), dense_get(regs, 1000), dense_get(regs, 1001)),
            (33, 2, 2)
        );
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_hll();
        let mut dense = sparse_to_dense(&sparse).unwrap();
        for i in 0..5000u32 {
            let e = i.to_string();
            assert_eq!(
                hll_add(&mut sparse, e.as_bytes(), 1 << 20).unwrap(),
                hll_add(&mut dense, e.as_bytes(), 1 << 20).unwrap()
            );
        }
        assert_eq!(sparse[4], SPARSE);
        assert_eq!(sparse_to_dense(&sparse).unwrap()[HDR..], dense[HDR..]);
        let card = estimate(&histogram(&dense).unwrap());
        assert_eq!(estimate(&histogram(&sparse).unwrap()), card);
        assert!((4800..5200).contains(&card), "{card}");
    }

    #[test]
    fn corrupt_sparse_is_detected() {
        let mut s = new_hll();
        s.push(0x00);
        assert_eq!(histogram(&s), Err(OpError::Corrupt));
        assert_eq!(sparse_to_dense(&s), Err(OpError::Corrupt));
        let mut t = new_hll();
        t.truncate(HDR);
        assert_eq!(sparse_set(&mut t, 3, 1, 3000), Err(OpError::Corrupt));
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(), Ok(()));
    }
}
