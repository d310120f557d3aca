//! Bitmap family (strings addressed by bit): SETBIT, GETBIT.

use super::args::parse_i64;
use super::errors as err;
use super::{Args, Ctx};
use crate::storage::value::with_str_bytes;
use crate::storage::Value;

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
            db.insert(key, Value::Str { data, raw: true }, 0, clock);
            0
        }
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => {
            let mut data = std::mem::replace(&mut e.value, Value::Int(0)).into_bytes();
            if data.len() <= byte {
                data.resize(byte + 1, 0);
            }
            let old = (data[byte] & mask != 0) as i64;
            if on {
                data[byte] |= mask;
            } else {
                data[byte] &= !mask;
            }
            e.value = Value::Str { data, raw: true };
            e.access = clock;
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
    let bit = match ctx.ks.dbs[ctx.db].lookup(args.get(1), now) {
        None => 0,
        Some(e) if !e.value.is_string() => return ctx.out.error(err::WRONGTYPE),
        Some(e) => with_str_bytes(&e.value, |b| {
            let byte = (offset >> 3) as usize;
            b.get(byte).map_or(0, |v| (v >> (7 - (offset & 7))) & 1)
        })
        .unwrap_or(0),
    };
    ctx.out.int(bit as i64);
}
