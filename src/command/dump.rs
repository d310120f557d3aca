//! DUMP and RESTORE (payload format in `persist::rdb_write` / `rdb_read`).

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, notify};
use super::{Args, Ctx};
use crate::persist::dump::{dump_payload, restore_value, PayloadError};
use crate::persist::rdb_write::WriteOpts;

/// `DUMP key` → the serialized value, or nil.
pub fn cmd_dump(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let opts = WriteOpts {
        limits: ctx.limits,
        ..WriteOpts::default()
    };
    match ctx.ks.dbs[ctx.db].lookup(args.get(1), now) {
        None => ctx.out.null(),
        Some(e) => {
            let p = dump_payload(&e.value, &opts);
            ctx.out.bulk(&p)
        }
    }
}

/// `RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]`.
pub fn cmd_restore(ctx: &mut Ctx, args: &Args) {
    let (mut replace, mut absttl) = (false, false);
    let mut idle: Option<i64> = None;
    let mut freq: Option<i64> = None;
    let mut i = 4;
    while i < args.len() {
        let a = args.get(i);
        let more = i + 1 < args.len();
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more && freq.is_none() {
            let Some(v) = parse_i64(args.get(i + 1)) else {
                return ctx.out.error(err::NOT_INTEGER);
            };
            if v < 0 {
                return ctx.out.error(err::INVALID_IDLETIME);
            }
            idle = Some(v);
            i += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more && idle.is_none() {
            let Some(v) = parse_i64(args.get(i + 1)) else {
                return ctx.out.error(err::NOT_INTEGER);
            };
            if !(0..=255).contains(&v) {
                return ctx.out.error(err::INVALID_FREQ);
            }
            freq = Some(v);
            i += 1;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        i += 1;
    }
    let now = ctx.now_ms;
    let key = args.get(1);
    if !replace && ctx.ks.dbs[ctx.db].contains(key, now) {
        return ctx.out.error(err::BUSYKEY);
    }
    let Some(mut ttl) = parse_i64(args.get(2)) else {
        return ctx.out.error(err::NOT_INTEGER);
    };
    if ttl < 0 {
        return ctx.out.error(err::INVALID_TTL);
    }
    let deep = ctx.shard.config.borrow().sanitize_dump_payload != "no";
    let value = match restore_value(args.get(3), &ctx.limits, deep) {
        Ok(v) => v,
        Err(PayloadError::VersionOrChecksum) => return ctx.out.error(err::DUMP_PAYLOAD),
        Err(PayloadError::BadFormat) => return ctx.out.error(err::BAD_DATA_FORMAT),
    };
    let db = &mut ctx.ks.dbs[ctx.db];
    let deleted = replace && db.remove_live(key, now).is_some();
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now as i64);
    }
    if ttl != 0 && ttl as u64 <= now {
        // Already expired: not created (a replaced key is gone).
        if deleted {
            notify(class::GENERIC, "del", ctx.db, key);
            ctx.dirty(1);
            if crate::persist::propagate::active() {
                // Logged as the deletion it was (Redis: DEL, or UNLINK
                // under lazyfree-lazy-server-del).
                let name: &[u8] = if ctx.shard.config.borrow().memory.lazy_server_del {
                    b"UNLINK"
                } else {
                    b"DEL"
                };
                crate::persist::propagate::replace(vec![vec![name.to_vec(), key.to_vec()]]);
            }
        }
        return ctx.out.ok();
    }
    let clock = ctx.clock;
    db.insert(key, value, ttl as u64, clock);
    if let Some(e) = db.lookup(key, now) {
        if let Some(idle) = idle {
            e.access = clock.wrapping_sub(idle.min(u32::MAX as i64) as u32);
        }
        if let Some(f) = freq {
            e.set_lfu((crate::shard::evict::lfu_new(clock) & !0xff) | f as u32);
        }
    }
    notify(class::GENERIC, "restore", ctx.db, key);
    ctx.dirty(1);
    ctx.out.ok()
}
