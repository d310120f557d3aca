//! Stream family: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XREAD XREADGROUP
//! XGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO XSETID.
//!
//! Every handler here runs on one shard's keyspace and answers as Redis
//! 7.4 does. XREAD and XREADGROUP are shard handlers too: here they never
//! block (as inside MULTI or a script). With BLOCK on a plain connection
//! the connection runs them through [`cmd_block`], which waits in
//! `shard::blocking` with a serve function that reads (or delivers, for a
//! group) on the stream's shard when an entry arrives.

use std::sync::Arc;

use super::args::parse_i64;
use super::errors as err;
use super::notify::{class, key_miss, notify};
use super::{Args, Ctx, Session};
use crate::protocol::Reply;
use crate::shard::blocking::{self, Outcome, ServeCtx, ServeFn, Unserved};
use crate::storage::stream::{
    parse_id, parse_id_ext, AddError, EntryRef, Group, Nack, Stream, StreamId, Trim, ENTRIES_READ_INVALID,
};
use crate::storage::{Db, Value};

pub const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
pub const ID_TOO_SMALL: &str = "ERR The ID specified in XADD is equal or smaller than the target stream top item";
pub const ID_ZERO: &str = "ERR The ID specified in XADD must be greater than 0-0";
pub const EXHAUSTED: &str = "ERR The stream has exhausted the last possible ID, unable to add more items";
pub const TOO_LARGE: &str = "ERR Elements are too large to be stored";
pub const MAXLEN_MINID: &str = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
pub const MAXLEN_NEGATIVE: &str = "ERR The MAXLEN argument must be >= 0.";
pub const LIMIT_NEGATIVE: &str = "ERR The LIMIT argument must be >= 0.";
pub const LIMIT_NO_STRATEGY: &str = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
pub const XTRIM_NO_STRATEGY: &str = "ERR syntax error, XTRIM must be called with a trimming strategy";
pub const LIMIT_NO_APPROX: &str = "ERR syntax error, LIMIT cannot be used without the special ~ option";
pub const BAD_START: &str = "ERR invalid start ID for the interval";
pub const BAD_END: &str = "ERR invalid end ID for the interval";
pub const GROUP_XREAD: &str = "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.";
pub const NOACK_XREAD: &str = "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
pub const MISSING_GROUP: &str = "ERR Missing GROUP option for XREADGROUP";
pub const DOLLAR_GROUP: &str = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
pub const PLUS_GROUP: &str = "ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.";
pub const LAST_ZERO: &str = "ERR the stream last element ID is 0-0";
pub const GT_XREAD: &str =
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
pub const TIMEOUT_NOT_INT: &str = "ERR timeout is not an integer or out of range";
pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
pub const TIMEOUT_RANGE: &str = "ERR timeout is out of range";
pub const NEED_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
pub const BUSYGROUP: &str = "BUSYGROUP Consumer Group name already exists";
pub const ENTRIESREAD_RANGE: &str = "ERR value for ENTRIESREAD must be positive or -1";
pub const ENTRIES_ADDED_NEGATIVE: &str = "ERR entries_added must be positive";
pub const SETID_MAXDEL_ARG: &str = "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";
pub const SETID_MAXDEL: &str = "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id";
pub const SETID_TOP: &str = "ERR The ID specified in XSETID is smaller than the target stream top item";
pub const SETID_LEN: &str = "ERR The entries_added specified in XSETID is smaller than the target stream length";
pub const XAUTOCLAIM_COUNT: &str = "ERR COUNT must be > 0";

/// Most entries XAUTOCLAIM examines per entry it may return.
const ATTEMPTS_FACTOR: i64 = 10;

// ---------------------------------------------------------------- helpers

/// The stream at `key`: `Ok(None)` when absent, `Err` for another type.
fn get_stream<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut Stream>, ()> {
    match db.lookup(key, now) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Stream(s) => Ok(Some(s)),
            _ => Err(()),
        },
    }
}

/// [`get_stream`] for a read: a missing key raises `keymiss`.
fn read_stream<'d>(db: &'d mut Db, key: &[u8], now: u64) -> Result<Option<&'d mut Stream>, ()> {
    let index = db.index;
    let s = get_stream(db, key, now)?;
    if s.is_none() {
        key_miss(index, key);
    }
    Ok(s)
}

fn reply_id(r: &mut Reply, id: StreamId) {
    let mut buf = [0u8; 41];
    r.bulk(id.format(&mut buf));
}

/// `[id, [field, value, ...]]`.
fn reply_entry(r: &mut Reply, e: &EntryRef) {
    r.array_len(2);
    reply_id(r, e.id);
    r.array_len(2 * e.count);
    for (f, v) in e.pairs() {
        r.bulk(f);
        r.bulk(v);
    }
}

/// Writes `n` entries produced by `body` behind an array header, counting
/// them as they are written (Redis's deferred length).
fn reply_counted(r: &mut Reply, resp3: bool, body: impl FnOnce(&mut Reply) -> usize) {
    let mut tmp = Vec::new();
    let n = body(&mut Reply::new(&mut tmp, resp3));
    r.array_len(n);
    r.raw(&tmp);
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> Vec<u8> {
    let mut v = b"NOGROUP No such key '".to_vec();
    v.extend_from_slice(key);
    v.extend_from_slice(b"' or consumer group '");
    v.extend_from_slice(group);
    v.push(b'\'');
    v
}

fn nogroup_xreadgroup(key: &[u8], group: &[u8]) -> Vec<u8> {
    let mut v = nogroup_key_group(key, group);
    v.extend_from_slice(b" in XREADGROUP with GROUP option");
    v
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> Vec<u8> {
    let mut v = b"NOGROUP No such consumer group '".to_vec();
    v.extend_from_slice(group);
    v.extend_from_slice(b"' for key name '");
    v.extend_from_slice(key);
    v.push(b'\'');
    v
}

/// A range bound: `(` makes it exclusive (then `-` and `+` are refused).
fn parse_interval(arg: &[u8], missing_seq: u64) -> Option<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        parse_id(&arg[1..], missing_seq, true).map(|id| (id, true))
    } else {
        parse_id(arg, missing_seq, false).map(|id| (id, false))
    }
}

/// Parses an inclusive start bound (an exclusive one is moved up by one).
fn parse_start(arg: &[u8]) -> Result<StreamId, &'static str> {
    let (id, ex) = parse_interval(arg, 0).ok_or(INVALID_ID)?;
    if ex {
        id.incr().ok_or(BAD_START)
    } else {
        Ok(id)
    }
}

fn parse_end(arg: &[u8]) -> Result<StreamId, &'static str> {
    let (id, ex) = parse_interval(arg, u64::MAX).ok_or(INVALID_ID)?;
    if ex {
        id.decr().ok_or(BAD_END)
    } else {
        Ok(id)
    }
}

// ---------------------------------------------------------------- XADD / XTRIM

/// The trimming and ID options of XADD and XTRIM.
#[derive(Default)]
struct AddTrim {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    nomkstream: bool,
    /// XADD's explicit ID and whether its sequence was given.
    id: Option<(StreamId, bool)>,
    /// Index of the ID argument (XADD).
    id_at: usize,
    /// Index of the trim threshold and of LIMIT, if given.
    trim_at: usize,
    limit_at: Option<usize>,
}

impl AddTrim {
    /// What an approximate trim (`~`) logs, as Redis does: the exact trim
    /// it did, `MAXLEN = <length now>` or `MINID = <first ID now>`, so the
    /// replay trims the same entries (LIMIT dropped: it only bounds `~`).
    /// `id`: the ID XADD gave the entry.
    fn exact_form(&self, args: &Args, s: &Stream, id: Option<StreamId>) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(args.len());
        let mut i = 0;
        while i < args.len() {
            if Some(i) == self.limit_at {
                i += 2;
                continue;
            }
            out.push(if i + 1 == self.trim_at {
                b"=".to_vec()
            } else if i == self.trim_at {
                match self.trim {
                    Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
                    _ => s.first_live_id().unwrap_or(StreamId::MAX).to_vec(),
                }
            } else {
                match id {
                    Some(id) if i == self.id_at => id.to_vec(),
                    _ => args.get(i).to_vec(),
                }
            });
            i += 1;
        }
        out
    }
}

fn parse_add_trim(args: &Args, xadd: bool, max_entries: usize) -> Result<AddTrim, &'static str> {
    let mut a = AddTrim::default();
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let argc = args.len();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = args.get(i);
        if xadd && opt == b"*" {
            break;
        } else if (args.is(i, "maxlen") || args.is(i, "minid")) && more > 0 {
            if a.trim.is_some() {
                return Err(MAXLEN_MINID);
            }
            let maxlen = args.is(i, "maxlen");
            a.approx = false;
            let next = args.get(i + 1);
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let v = args.get(i + 1);
            a.trim_at = i + 1;
            a.trim = Some(if maxlen {
                let n = parse_i64(v).ok_or(err::NOT_INTEGER)?;
                if n < 0 {
                    return Err(MAXLEN_NEGATIVE);
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_id(v, 0, true).ok_or(INVALID_ID)?)
            });
            i += 1;
        } else if args.is(i, "limit") && more > 0 {
            limit = parse_i64(args.get(i + 1)).ok_or(err::NOT_INTEGER)?;
            if limit < 0 {
                return Err(LIMIT_NEGATIVE);
            }
            limit_given = true;
            a.limit_at = Some(i);
            i += 1;
        } else if xadd && args.is(i, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id_ext(opt, 0, true, true).ok_or(INVALID_ID)?);
            break;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    a.id_at = i;
    if limit != 0 && a.trim.is_none() {
        return Err(LIMIT_NO_STRATEGY);
    }
    if !xadd && a.trim.is_none() {
        return Err(XTRIM_NO_STRATEGY);
    }
    if limit_given {
        if !a.approx {
            return Err(LIMIT_NO_APPROX);
        }
        a.limit = limit as u64;
    } else if a.approx {
        let l = 100i64.saturating_mul(max_entries as i64);
        a.limit = if l <= 0 { 10000 } else { l.min(1_000_000) } as u64;
    }
    Ok(a)
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]`
pub fn cmd_xadd(ctx: &mut Ctx, args: &Args) {
    let limits = ctx.limits;
    let a = match parse_add_trim(args, true, limits.stream_node_max_entries) {
        Ok(a) => a,
        Err(e) => return ctx.out.error(e),
    };
    let fields_at = a.id_at + 1;
    let argc = args.len();
    if argc < fields_at + 2 || (argc - fields_at) % 2 == 1 {
        return ctx.out.error(&err::arity("xadd"));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return ctx.out.error(ID_ZERO);
        }
    }
    let key = args.get(1);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let db = ctx.db();
    let index = db.index;
    let created = match get_stream(db, key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(Some(_)) => false,
        Ok(None) if a.nomkstream => return ctx.out.null(),
        Ok(None) => true,
    };
    let mut fresh = Stream::new();
    let s: &mut Stream = if created {
        &mut fresh
    } else {
        get_stream(db, key, now).ok().flatten().expect("checked")
    };
    if s.last_id == StreamId::MAX {
        return ctx.out.error(EXHAUSTED);
    }
    let id = match a.id {
        Some((id, true)) => Some(id),
        Some((id, false)) if id.ms == s.last_id.ms => s.last_id.incr().filter(|n| n.ms == id.ms),
        Some((id, false)) => Some(id),
        None => s.next_auto_id(now),
    };
    let Some(id) = id else {
        return ctx.out.error(ID_TOO_SMALL);
    };
    // Fields and values straight from the arguments: nothing collected.
    let fv = |k: usize| args.get(fields_at + k);
    match s.append(
        id,
        argc - fields_at,
        fv,
        limits.stream_node_max_bytes,
        limits.stream_node_max_entries,
    ) {
        Ok(()) => {}
        Err(AddError::IdTooSmall) => return ctx.out.error(ID_TOO_SMALL),
        Err(AddError::TooLarge) => return ctx.out.error(TOO_LARGE),
    }
    let trimmed = match a.trim {
        Some(t) => s.trim(t, a.approx, a.limit),
        None => 0,
    };
    if a.approx && crate::persist::propagate::active() {
        crate::persist::propagate::replace(vec![a.exact_form(args, s, Some(id))]);
    }
    if created {
        db.insert(key, Value::Stream(Box::new(fresh)), 0, clock);
    }
    reply_id(&mut ctx.out, id);
    notify(class::STREAM, "xadd", index, key);
    crate::persist::bump(1);
    if trimmed > 0 {
        notify(class::STREAM, "xtrim", index, key);
        crate::persist::bump(1);
    }
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`
pub fn cmd_xtrim(ctx: &mut Ctx, args: &Args) {
    let a = match parse_add_trim(args, false, ctx.limits.stream_node_max_entries) {
        Ok(a) => a,
        Err(e) => return ctx.out.error(e),
    };
    let key = args.get(1);
    let now = ctx.now_ms;
    let db = ctx.db();
    let index = db.index;
    let s = match get_stream(db, key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let n = s.trim(a.trim.expect("XTRIM has a strategy"), a.approx, a.limit);
    if a.approx && n > 0 && crate::persist::propagate::active() {
        crate::persist::propagate::replace(vec![a.exact_form(args, s, None)]);
    }
    if n > 0 {
        notify(class::STREAM, "xtrim", index, key);
        crate::persist::bump(n);
    }
    ctx.out.int(n as i64);
}

// ---------------------------------------------------------------- reads

fn range_generic(ctx: &mut Ctx, args: &Args, rev: bool) {
    let (start_arg, end_arg) = if rev {
        (args.get(3), args.get(2))
    } else {
        (args.get(2), args.get(3))
    };
    let start = match parse_start(start_arg) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let end = match parse_end(end_arg) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if args.is(j, "count") && j + 1 < args.len() {
            count = match parse_i64(args.get(j + 1)) {
                Some(c) => c.max(0),
                None => return ctx.out.error(err::NOT_INTEGER),
            };
            j += 2;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
    }
    let now = ctx.now_ms;
    let resp3 = ctx.out.resp3;
    let s = match read_stream(&mut ctx.ks.dbs[ctx.db], args.get(1), now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => return ctx.out.array_len(0),
        Ok(Some(s)) => s,
    };
    if count == 0 {
        return ctx.out.null_array();
    }
    let limit = if count < 0 { usize::MAX } else { count as usize };
    reply_counted(&mut ctx.out, resp3, |r| {
        let mut n = 0;
        s.range(start, end, rev, |e| {
            reply_entry(r, e);
            n += 1;
            n < limit
        });
        n
    });
}

/// `XRANGE key start end [COUNT count]`
pub fn cmd_xrange(ctx: &mut Ctx, args: &Args) {
    range_generic(ctx, args, false)
}

/// `XREVRANGE key end start [COUNT count]`
pub fn cmd_xrevrange(ctx: &mut Ctx, args: &Args) {
    range_generic(ctx, args, true)
}

/// `XLEN key`
pub fn cmd_xlen(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    match read_stream(&mut ctx.ks.dbs[ctx.db], args.get(1), now) {
        Err(()) => ctx.out.error(err::WRONGTYPE),
        Ok(None) => ctx.out.int(0),
        Ok(Some(s)) => ctx.out.int(s.len() as i64),
    }
}

/// `XDEL key id [id ...]`
pub fn cmd_xdel(ctx: &mut Ctx, args: &Args) {
    let key = args.get(1);
    let now = ctx.now_ms;
    let db = ctx.db();
    let index = db.index;
    let s = match get_stream(db, key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => return ctx.out.int(0),
        Ok(Some(s)) => s,
    };
    let mut ids = Vec::with_capacity(args.len() - 2);
    for a in args.iter().skip(2) {
        match parse_id(a, 0, true) {
            Some(id) => ids.push(id),
            None => return ctx.out.error(INVALID_ID),
        }
    }
    let n = s.delete(&ids);
    if n > 0 {
        notify(class::STREAM, "xdel", index, key);
        crate::persist::bump(n);
    }
    ctx.out.int(n as i64);
}

/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`
pub fn cmd_xsetid(ctx: &mut Ctx, args: &Args) {
    let Some(id) = parse_id(args.get(2), 0, true) else {
        return ctx.out.error(INVALID_ID);
    };
    let mut entries_added: i64 = -1;
    let mut max_del = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args.is(i, "entriesadded") && more > 0 {
            match parse_i64(args.get(i + 1)) {
                None => return ctx.out.error(err::NOT_INTEGER),
                Some(v) if v < 0 => return ctx.out.error(ENTRIES_ADDED_NEGATIVE),
                Some(v) => entries_added = v,
            }
        } else if args.is(i, "maxdeletedid") && more > 0 {
            match parse_id(args.get(i + 1), 0, true) {
                None => return ctx.out.error(INVALID_ID),
                Some(m) if id < m => return ctx.out.error(SETID_MAXDEL_ARG),
                Some(m) => max_del = m,
            }
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        i += 2;
    }
    let key = args.get(1);
    let now = ctx.now_ms;
    let db = ctx.db();
    let index = db.index;
    let s = match get_stream(db, key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => return ctx.out.error(err::NO_SUCH_KEY),
        Ok(Some(s)) => s,
    };
    if id < s.max_deleted {
        return ctx.out.error(SETID_MAXDEL);
    }
    if !s.is_empty() {
        if id < s.last_live_id().unwrap_or_default() {
            return ctx.out.error(SETID_TOP);
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return ctx.out.error(SETID_LEN);
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_del.is_zero() {
        s.max_deleted = max_del;
    }
    ctx.out.ok();
    notify(class::STREAM, "xsetid", index, key);
    crate::persist::bump(1);
}

// ---------------------------------------------------------------- XREAD / XREADGROUP

/// The special IDs of XREAD/XREADGROUP.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadId {
    /// Entries after this ID.
    After(StreamId),
    /// `$`: entries after the stream's last ID at the time of the call.
    Dollar,
    /// `+` (XREAD): the last entry.
    Plus,
    /// `>` (XREADGROUP): entries never delivered to the group.
    New,
}

/// A parsed XREAD / XREADGROUP.
#[derive(Clone, Debug)]
pub struct ReadArgs {
    /// BLOCK's timeout in ms (0 = forever), if given.
    pub block: Option<u64>,
    pub count: usize,
    pub group: Option<(Vec<u8>, Vec<u8>)>,
    pub noack: bool,
    /// Index of the first key.
    pub keys_at: usize,
    pub nkeys: usize,
}

/// Parses XREAD / XREADGROUP options; errors as Redis.
pub fn parse_read(args: &Args) -> Result<ReadArgs, Vec<u8>> {
    let group_cmd = args.get(0).len() == 10;
    let mut r = ReadArgs {
        block: None,
        count: 0,
        group: None,
        noack: false,
        keys_at: 0,
        nkeys: 0,
    };
    let argc = args.len();
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        if args.is(i, "block") && more > 0 {
            i += 1;
            let t = parse_i64(args.get(i)).ok_or(TIMEOUT_NOT_INT.as_bytes().to_vec())?;
            if t < 0 {
                return Err(TIMEOUT_NEGATIVE.into());
            }
            r.block = Some(t as u64);
        } else if args.is(i, "count") && more > 0 {
            i += 1;
            let c = parse_i64(args.get(i)).ok_or(err::NOT_INTEGER.as_bytes().to_vec())?;
            r.count = c.max(0) as usize;
        } else if args.is(i, "streams") && more > 0 {
            let n = argc - i - 1;
            if !n.is_multiple_of(2) {
                let (name, sym) = if group_cmd { ("xreadgroup", '>') } else { ("xread", '$') };
                return Err(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{sym}' must be specified."
                )
                .into_bytes());
            }
            r.keys_at = i + 1;
            r.nkeys = n / 2;
            break;
        } else if args.is(i, "group") && more >= 2 {
            if !group_cmd {
                return Err(GROUP_XREAD.into());
            }
            r.group = Some((args.get(i + 1).to_vec(), args.get(i + 2).to_vec()));
            i += 2;
        } else if args.is(i, "noack") {
            if !group_cmd {
                return Err(NOACK_XREAD.into());
            }
            r.noack = true;
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 1;
    }
    if r.keys_at == 0 {
        return Err(err::SYNTAX.into());
    }
    if group_cmd && r.group.is_none() {
        return Err(MISSING_GROUP.into());
    }
    Ok(r)
}

/// Logs pending entry `id` (as given, `id_arg`) of group `group` in the
/// form Redis propagates it (t_stream.c, streamPropagateXCLAIM): `XCLAIM
/// key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID
/// last-id`, which replays to the same PEL record (or, the entry being
/// gone, deletes it) whatever the replica holds.
fn propagate_xclaim(db: usize, key: &[u8], group: &[u8], id_arg: &[u8], nack: &Nack, last_id: StreamId) {
    if !crate::persist::propagate::active() {
        return;
    }
    let (time, count, last) = (
        nack.delivery_time.to_string(),
        nack.delivery_count.to_string(),
        last_id.to_vec(),
    );
    crate::persist::propagate::emit(
        db,
        &[
            b"XCLAIM",
            key,
            group,
            &nack.consumer,
            b"0",
            id_arg,
            b"TIME",
            time.as_bytes(),
            b"RETRYCOUNT",
            count.as_bytes(),
            b"FORCE",
            b"JUSTID",
            b"LASTID",
            &last,
        ],
    );
}

/// Logs a group's last ID and read counter: `XGROUP SETID key group id
/// ENTRIESREAD n` (streamPropagateGroupID).
fn propagate_setid(db: usize, key: &[u8], name: &[u8], g: &Group) {
    if !crate::persist::propagate::active() {
        return;
    }
    let (id, read) = (g.last_id.to_vec(), g.entries_read.to_string());
    crate::persist::propagate::emit(
        db,
        &[b"XGROUP", b"SETID", key, name, &id, b"ENTRIESREAD", read.as_bytes()],
    );
}

/// Logs the creation of a consumer no XCLAIM will create on replay
/// (XREADGROUP NOACK): `XGROUP CREATECONSUMER key group consumer`.
fn propagate_createconsumer(db: usize, key: &[u8], group: &[u8], consumer: &[u8]) {
    crate::persist::propagate::emit(db, &[b"XGROUP", b"CREATECONSUMER", key, group, consumer]);
}

/// A handler whose effect is logged in other forms (the helpers above)
/// logs nothing under its own name.
fn propagates_itself() {
    if crate::persist::propagate::active() {
        crate::persist::propagate::replace(Vec::new());
    }
}

/// Reads new entries of one stream for XREAD (after `after`) or for a group
/// (`>`, delivering them), replying `[key, entries]` (RESP2) or `key =>
/// entries` (RESP3 map member). Returns whether anything was served.
#[allow(clippy::too_many_arguments)]
fn serve_new(
    r: &mut Reply,
    resp3: bool,
    db: usize,
    key: &[u8],
    s: &mut Stream,
    after: StreamId,
    ra: &ReadArgs,
    now: u64,
) -> bool {
    let start = match after.incr() {
        Some(s) => s,
        None => return false,
    };
    if !resp3 {
        r.array_len(2);
    }
    r.bulk(key);
    match &ra.group {
        None => reply_counted(r, resp3, |r| {
            let mut n = 0;
            s.range(start, StreamId::MAX, false, |e| {
                reply_entry(r, e);
                n += 1;
                ra.count == 0 || n < ra.count
            });
            n
        }),
        Some((g, c)) => reply_counted(r, resp3, |r| {
            let mut ids = Vec::new();
            let n = s.deliver_new(g, c, ra.count, ra.noack, now, |e| {
                reply_entry(r, e);
                ids.push(e.id);
            });
            if n > 0 {
                // One change per key served, as Redis counts it; logged as
                // the XCLAIMs that make the entries pending and the
                // group's new last ID.
                crate::persist::bump(1);
                if crate::persist::propagate::active() {
                    let group = &s.groups[g.as_slice()];
                    if !ra.noack {
                        for id in &ids {
                            propagate_xclaim(db, key, g, &id.to_vec(), &group.pel[id], *id);
                        }
                    }
                    propagate_setid(db, key, g, group);
                }
            }
            n
        }),
    }
    true
}

/// Replies a consumer's pending entries after `after` (XREADGROUP with an
/// ID): deleted ones as `[id, nil]`; each counts as delivered again.
fn serve_history(r: &mut Reply, resp3: bool, key: &[u8], s: &mut Stream, after: StreamId, ra: &ReadArgs, now: u64) {
    let (g, c) = ra.group.as_ref().expect("a group read");
    if !resp3 {
        r.array_len(2);
    }
    r.bulk(key);
    let Some(start) = after.incr() else {
        return r.array_len(0);
    };
    let ids: Vec<StreamId> = {
        let group = &s.groups[g.as_slice()];
        let consumer = &group.consumers[c.as_slice()];
        let it = consumer.pel.range(start..);
        if ra.count == 0 {
            it.copied().collect()
        } else {
            it.take(ra.count).copied().collect()
        }
    };
    r.array_len(ids.len());
    for id in &ids {
        match s.get(*id) {
            Some(e) => reply_entry(r, &e),
            None => {
                r.array_len(2);
                reply_id(r, *id);
                r.null_array();
                continue;
            }
        }
        if let Some(n) = s.groups.get_mut(g.as_slice()).and_then(|g| g.pel.get_mut(id)) {
            n.delivery_time = now;
            n.delivery_count += 1;
        }
    }
}

/// Checks one key of XREAD/XREADGROUP (type, group) and resolves its ID
/// argument, as Redis does before serving anything.
fn resolve_one(db: &mut Db, key: &[u8], arg: &[u8], ra: &ReadArgs, now: u64) -> Result<ReadId, Vec<u8>> {
    let s = read_stream(db, key, now).map_err(|()| err::WRONGTYPE.as_bytes().to_vec())?;
    if let Some((g, _)) = &ra.group {
        if !s.as_ref().is_some_and(|s| s.groups.contains_key(g.as_slice())) {
            return Err(nogroup_xreadgroup(key, g));
        }
    }
    Ok(match arg {
        b"$" if ra.group.is_some() => return Err(DOLLAR_GROUP.into()),
        b"$" => ReadId::After(s.map_or(StreamId::MIN, |s| s.last_id)),
        b"+" if ra.group.is_some() => return Err(PLUS_GROUP.into()),
        b"+" => match s {
            Some(s) => ReadId::After(s.last_id.decr().ok_or(LAST_ZERO.as_bytes().to_vec())?),
            None => ReadId::After(StreamId::MIN),
        },
        b">" if ra.group.is_none() => return Err(GT_XREAD.into()),
        b">" => ReadId::New,
        _ => match parse_id(arg, 0, true).ok_or(INVALID_ID.as_bytes().to_vec())? {
            // Redis stores `>` as the largest ID, so that ID reads new entries.
            StreamId::MAX if ra.group.is_some() => ReadId::New,
            id => ReadId::After(id),
        },
    })
}

/// Serves one key of XREAD/XREADGROUP whose ID `resolve_one` gave,
/// appending its part of the reply to `body`. Returns whether it served.
fn serve_one(db: &mut Db, key: &[u8], id: ReadId, ra: &ReadArgs, now: u64, resp3: bool, body: &mut Vec<u8>) -> bool {
    let index = db.index;
    // Looked up again, as Redis does (a missing key raises keymiss twice).
    let Ok(Some(s)) = read_stream(db, key, now) else {
        return false;
    };
    let mut r = Reply::new(body, resp3);
    let Some((g, c)) = &ra.group else {
        let ReadId::After(after) = id else {
            unreachable!("resolved")
        };
        return s.last_live_id().is_some_and(|m| m > after) && serve_new(&mut r, resp3, index, key, s, after, ra, now);
    };
    let (history, after) = match id {
        ReadId::After(a) => (true, Some(a)),
        _ => {
            let last = s.groups[g.as_slice()].last_id;
            (false, s.last_live_id().filter(|m| *m > last).map(|_| last))
        }
    };
    let group = s.groups.get_mut(g.as_slice()).expect("checked");
    let (consumer, created) = group.consumer(c, now);
    consumer.seen_time = now;
    if created {
        notify(class::STREAM, "xgroup-createconsumer", index, key);
        crate::persist::bump(1);
        if ra.noack {
            // No XCLAIM will create it on replay.
            propagate_createconsumer(index, key, g, c);
        }
    }
    match after {
        Some(a) if history => {
            serve_history(&mut r, resp3, key, s, a, ra, now);
            true
        }
        Some(a) => serve_new(&mut r, resp3, index, key, s, a, ra, now),
        None => false,
    }
}

/// The reply of XREAD/XREADGROUP from the parts of the keys served: an
/// array (RESP2) or map (RESP3) of them, or a null array if none.
fn reply_read(r: &mut Reply, served: usize, body: &[u8]) {
    if served == 0 {
        return r.null_array();
    }
    if r.resp3 {
        r.map_len(served);
    } else {
        r.array_len(served);
    }
    r.raw(body);
}

/// `XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]` and
/// `XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key [key ...] id [id ...]`,
/// without blocking: what can be served now, else a null array.
pub fn cmd_xread(ctx: &mut Ctx, args: &Args) {
    let ra = match parse_read(args) {
        Ok(r) => r,
        Err(e) => return ctx.out.error_bytes(&e),
    };
    if ra.group.is_some() {
        propagates_itself();
    }
    let now = ctx.now_ms;
    let resp3 = ctx.out.resp3;
    let db = &mut ctx.ks.dbs[ctx.db];
    let mut ids = Vec::with_capacity(ra.nkeys);
    for k in 0..ra.nkeys {
        let (key, arg) = (args.get(ra.keys_at + k), args.get(ra.keys_at + ra.nkeys + k));
        match resolve_one(db, key, arg, &ra, now) {
            Ok(id) => ids.push(id),
            Err(e) => return ctx.out.error_bytes(&e),
        }
    }
    let mut body = Vec::new();
    let mut served = 0;
    for (k, id) in ids.into_iter().enumerate() {
        served += serve_one(db, args.get(ra.keys_at + k), id, &ra, now, resp3, &mut body) as usize;
    }
    reply_read(&mut ctx.out, served, &body);
}

/// XREAD/XREADGROUP on streams of several shards, atomically: every key
/// locked, checked and resolved in key order first (the first error wins
/// and nothing is served), then each shard serves its keys, and the parts
/// are merged in key order. Nothing is copied between shards but replies.
pub async fn cross_read(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let ra = match parse_read(args) {
        Ok(r) => r,
        Err(e) => return Reply::new(out, resp3).error_bytes(&e),
    };
    let db = sess.db;
    let mut by_shard: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for k in 0..ra.nkeys {
        let s = crate::shard::slot::key_shard(args.get(ra.keys_at + k), sess.shard.count);
        by_shard.entry(s).or_default().push(k);
    }
    let mut tx = crate::shard::coordinator::Tx::within(&sess.shard, sess.tx);
    let mut ids: Vec<Option<Result<ReadId, Vec<u8>>>> = vec![None; ra.nkeys];
    for (&s, ks) in &by_shard {
        let keys: Vec<(usize, Vec<u8>, Vec<u8>)> = ks
            .iter()
            .map(|&k| {
                (
                    k,
                    args.get(ra.keys_at + k).to_vec(),
                    args.get(ra.keys_at + ra.nkeys + k).to_vec(),
                )
            })
            .collect();
        let locks = keys.iter().map(|(_, key, _)| crate::shard::key_id(db, key)).collect();
        let ra2 = ra.clone();
        let got = tx
            .lock_keys_run(s, locks, move |sh| {
                let now = crate::util::now_ms();
                let mut ks = sh.ks.borrow_mut();
                let d = ks.db(db);
                let mut v = Vec::with_capacity(keys.len());
                for (k, key, arg) in &keys {
                    let r = resolve_one(d, key, arg, &ra2, now);
                    let stop = r.is_err();
                    v.push((*k, r));
                    if stop {
                        break;
                    }
                }
                drop(ks);
                super::publish_events(sh);
                v
            })
            .await;
        for (k, r) in got {
            ids[k] = Some(r);
        }
    }
    // The first error in key order, as a one-shard run would report.
    for r in ids.iter().map_while(|r| r.as_ref()) {
        if let Err(e) = r {
            tx.finish().await;
            return Reply::new(out, resp3).error_bytes(e);
        }
    }
    let mut parts: Vec<(usize, Vec<u8>)> = Vec::new();
    for (&s, ks) in &by_shard {
        let keys: Vec<(usize, Vec<u8>, ReadId)> = ks
            .iter()
            .map(|&k| {
                let id = ids[k].clone().expect("resolved").expect("no error");
                (k, args.get(ra.keys_at + k).to_vec(), id)
            })
            .collect();
        let ra2 = ra.clone();
        let got = tx
            .run(s, move |sh| {
                let now = crate::util::now_ms();
                let mut ks = sh.ks.borrow_mut();
                let d = ks.db(db);
                let mut v = Vec::new();
                for (k, key, id) in &keys {
                    let mut part = Vec::new();
                    if serve_one(d, key, *id, &ra2, now, resp3, &mut part) {
                        v.push((*k, part));
                    }
                }
                drop(ks);
                super::publish_events(sh);
                v
            })
            .await;
        parts.extend(got);
    }
    tx.finish().await;
    parts.sort_by_key(|(k, _)| *k);
    let body: Vec<u8> = parts.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    reply_read(&mut Reply::new(out, resp3), parts.len(), &body);
}

/// Whether XREAD/XREADGROUP `args` asks to block.
pub fn wants_block(args: &Args) -> bool {
    let n = args.len();
    let mut i = 1;
    while i < n {
        if args.is(i, "streams") {
            return false;
        }
        if args.is(i, "block") {
            return true;
        }
        // GROUP's name and consumer are not options.
        i += if args.is(i, "group") { 3 } else { 1 };
    }
    false
}

/// A blocked XREAD/XREADGROUP: the command's keys with what each waits
/// for, served on the key's shard.
struct Waiting {
    keys: Vec<Vec<u8>>,
    ids: Vec<ReadId>,
    ra: ReadArgs,
    resp3: bool,
    /// `$` resolved when the client registered on the key's shard.
    resolved: std::sync::Mutex<Vec<Option<StreamId>>>,
}

/// Serves a blocked stream reader from `c.key` (and any other of its keys
/// on this shard that has something too, as Redis's re-run of the command
/// would).
fn stream_serve(w: Arc<Waiting>) -> Arc<ServeFn> {
    Arc::new(move |c: &mut ServeCtx| {
        let Some(k) = w.keys.iter().position(|k| k.as_slice() == c.key) else {
            return Outcome::NotReady;
        };
        let now = c.now_ms;
        let db = c.ks.db(c.db);
        // What this key waits for, `$` fixed at registration.
        let after = |k: usize, s: Option<&Stream>, resolved: &mut Vec<Option<StreamId>>| -> Option<StreamId> {
            match w.ids[k] {
                ReadId::After(a) => Some(a),
                ReadId::Dollar => {
                    if resolved[k].is_none() {
                        resolved[k] = Some(s.map_or(StreamId::MIN, |s| s.last_id));
                    }
                    resolved[k]
                }
                // `+` is taken afresh each time, as Redis's re-run does:
                // only the last entry is served.
                ReadId::Plus => Some(s.map_or(StreamId::MIN, |s| s.last_id.decr().unwrap_or(StreamId::MIN))),
                ReadId::New => None,
            }
        };
        let mut resolved = w.resolved.lock().expect("not poisoned");
        let ready = |k: usize, s: &Stream, resolved: &mut Vec<Option<StreamId>>| -> bool {
            let last = s.last_live_id();
            match &w.ra.group {
                None => match (after(k, Some(s), resolved), last) {
                    (Some(a), Some(m)) => m > a,
                    _ => false,
                },
                Some((g, _)) => match (s.groups.get(g.as_slice()), last) {
                    (Some(grp), Some(m)) => m > grp.last_id,
                    _ => false,
                },
            }
        };
        match get_stream(db, c.key, now) {
            Err(()) => {
                // Another type: a group reader answers WRONGTYPE (its
                // re-run would), a plain reader keeps waiting.
                if w.ra.group.is_none() {
                    return Outcome::NotReady;
                }
                return claim_error(c.waiter, w.resp3, err::WRONGTYPE.as_bytes());
            }
            Ok(None) => {
                if c.immediate {
                    after(k, None, &mut resolved);
                }
                // A group reader's stream went away: its re-run would
                // find no group.
                return match &w.ra.group {
                    Some((g, _)) => claim_error(c.waiter, w.resp3, &nogroup_xreadgroup(c.key, g)),
                    None => Outcome::NotReady,
                };
            }
            Ok(Some(s)) => {
                if let Some((g, _)) = &w.ra.group {
                    if !s.groups.contains_key(g.as_slice()) {
                        return claim_error(c.waiter, w.resp3, &nogroup_xreadgroup(c.key, g));
                    }
                }
                if c.immediate && w.ids[k] == ReadId::Dollar {
                    // Registration: `$` means what comes after now.
                    after(k, Some(s), &mut resolved);
                    return Outcome::NotReady;
                }
                if !ready(k, s, &mut resolved) {
                    return Outcome::NotReady;
                }
            }
        }
        // Redis's re-run checks every key before serving any: another key
        // of this shard of the wrong type, or (for a group) without the
        // group, makes the reply that error.
        for (j, key) in w.keys.iter().enumerate() {
            if j == k || !c.owns(key) {
                continue;
            }
            match get_stream(c.ks.db(c.db), key, now) {
                Err(()) => return claim_error(c.waiter, w.resp3, err::WRONGTYPE.as_bytes()),
                Ok(s) => {
                    if let Some((g, _)) = &w.ra.group {
                        if !s.is_some_and(|s| s.groups.contains_key(g.as_slice())) {
                            return claim_error(c.waiter, w.resp3, &nogroup_xreadgroup(key, g));
                        }
                    }
                }
            }
        }
        if !c.waiter.claim() {
            return Outcome::Lost;
        }
        // Serve this key and the command's other ready keys of this shard.
        let mut body = Vec::new();
        let mut served = 0;
        for (j, key) in w.keys.iter().enumerate() {
            if j != k && !c.owns(key) {
                continue;
            }
            let db = c.ks.db(c.db);
            let Ok(Some(s)) = get_stream(db, key, now) else {
                continue;
            };
            if let Some((g, _)) = &w.ra.group {
                if !s.groups.contains_key(g.as_slice()) {
                    continue;
                }
            }
            if !ready(j, s, &mut resolved) {
                continue;
            }
            let from = match &w.ra.group {
                None => after(j, Some(s), &mut resolved).expect("ready"),
                Some((g, _)) => s.groups[g.as_slice()].last_id,
            };
            if let Some((g, cn)) = &w.ra.group {
                let grp = s.groups.get_mut(g.as_slice()).expect("checked");
                let (consumer, created) = grp.consumer(cn, now);
                consumer.seen_time = now;
                if created {
                    notify(class::STREAM, "xgroup-createconsumer", c.db, key);
                    crate::persist::bump(1);
                    if w.ra.noack {
                        propagate_createconsumer(c.db, key, g, cn);
                    }
                }
            }
            if serve_new(
                &mut Reply::new(&mut body, w.resp3),
                w.resp3,
                c.db,
                key,
                s,
                from,
                &w.ra,
                now,
            ) {
                served += 1;
            }
        }
        let mut buf = Vec::new();
        let mut r = Reply::new(&mut buf, w.resp3);
        if w.resp3 {
            r.map_len(served);
        } else {
            r.array_len(served);
        }
        r.raw(&body);
        Outcome::Served(buf)
    })
}

fn claim_error(waiter: &blocking::Waiter, resp3: bool, msg: &[u8]) -> Outcome {
    if !waiter.claim() {
        return Outcome::Lost;
    }
    let mut buf = Vec::new();
    Reply::new(&mut buf, resp3).error_bytes(msg);
    Outcome::Served(buf)
}

/// XREAD / XREADGROUP with BLOCK on a plain connection: `first` is the
/// reply of the command run without blocking (a null array when nothing
/// could be served); then the client waits on every key's shard.
/// Returns whether the client waited.
pub async fn cmd_block(sess: &mut Session, args: &Args<'_>, first: Vec<u8>, first_ns: u64, out: &mut Vec<u8>) -> bool {
    let resp3 = sess.resp3;
    let nothing = first == b"*-1\r\n" || first == b"_\r\n";
    let ra = match parse_read(args) {
        Ok(r) if nothing && r.block.is_some() && sess.tx == 0 => r,
        _ => {
            out.extend_from_slice(&first);
            return false;
        }
    };
    let block = ra.block.unwrap_or(0);
    let now = crate::util::now_ms();
    let deadline = if block == 0 {
        0
    } else {
        match now.checked_add(block) {
            Some(d) if d <= i64::MAX as u64 => d,
            _ => {
                Reply::new(out, resp3).error(TIMEOUT_RANGE);
                return false;
            }
        }
    };
    let keys: Vec<Vec<u8>> = (0..ra.nkeys).map(|k| args.get(ra.keys_at + k).to_vec()).collect();
    let ids: Vec<ReadId> = (0..ra.nkeys)
        .map(|k| match args.get(ra.keys_at + ra.nkeys + k) {
            b"$" => ReadId::Dollar,
            b"+" => ReadId::Plus,
            b">" => ReadId::New,
            a => match parse_id(a, 0, true).unwrap_or_default() {
                StreamId::MAX if ra.group.is_some() => ReadId::New,
                id => ReadId::After(id),
            },
        })
        .collect();
    let w = Arc::new(Waiting {
        resolved: std::sync::Mutex::new(vec![None; keys.len()]),
        keys: keys.clone(),
        ids,
        ra,
        resp3,
    });
    let kind = match &w.ra.group {
        Some((g, _)) => blocking::WaitKind::StreamGroup(Arc::from(g.as_slice())),
        None => blocking::WaitKind::Stream,
    };
    let serve = stream_serve(w);
    let shard = sess.shard.clone();
    let info = sess.info.clone();
    loop {
        let permit = super::acl::permit(sess, args);
        let (db, tx) = (sess.db, sess.tx);
        match blocking::block_on_keys(
            &shard,
            &info,
            db,
            &keys,
            serve.clone(),
            deadline,
            tx,
            kind.clone(),
            permit,
        )
        .await
        {
            Ok(reply) => out.extend_from_slice(&reply),
            Err(Unserved::TimedOut) | Err(Unserved::Retry) => Reply::new(out, resp3).null_array(),
            Err(Unserved::Unblocked) => Reply::new(out, resp3).error(super::blocking::UNBLOCKED),
            Err(Unserved::Gone) => {}
            // ACL rules changed while it waited (see cmd_blocking).
            Err(Unserved::Denied) => match super::acl::blocked_recheck(sess, args) {
                Some(msg) => {
                    let at = out.len();
                    Reply::new(out, resp3).error_bytes(&msg);
                    sess.refused.set(false);
                    refused_stats(&shard, args, &out[at..], first_ns).await;
                    return false;
                }
                None => continue,
            },
        }
        return true;
    }
}

/// Stats of an XREAD BLOCK refused when served: a rejected call, and the
/// call its first run counted (on the shard it ran on) taken back with its
/// time (`first_ns`, as the connection measured it), as Redis counts
/// nothing of a blocked command until it is served.
async fn refused_stats(shard: &std::rc::Rc<crate::shard::Shard>, args: &Args<'_>, reply: &[u8], first_ns: u64) {
    use crate::server::conn::{route, Route};
    let Some(spec) = super::lookup(args.get(0)) else {
        return;
    };
    super::record_rejected(shard, Some(spec), reply);
    let ran = match route(spec, args, shard.count, shard.id) {
        Route::Shard(s) => s,
        Route::Cross => shard.id,
    };
    crate::shard::coordinator::submit(shard, ran, 0, crate::shard::Lock::None, move |sh| {
        super::uncount_call(sh, spec, first_ns)
    })
    .await
    .wait()
    .await;
}

// ---------------------------------------------------------------- groups

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
];

/// `XGROUP CREATE|SETID|DESTROY|CREATECONSUMER|DELCONSUMER|HELP ...`
pub fn cmd_xgroup(ctx: &mut Ctx, args: &Args) {
    let argc = args.len();
    let sub = args.get(1).to_ascii_lowercase();
    let sub = sub.as_slice();
    let syntax = |ctx: &mut Ctx| ctx.out.error_bytes(&err::subcommand_syntax(args.get(1), "xgroup"));
    if argc == 2 && sub == b"help" {
        return super::connection::reply_help(&mut ctx.out, XGROUP_HELP);
    }
    if argc < 4 {
        return syntax(ctx);
    }
    let mut mkstream = false;
    let mut entries_read: i64 = -1;
    let mut i = 5;
    while i < argc {
        if sub == b"create" && args.is(i, "mkstream") {
            mkstream = true;
            i += 1;
        } else if (sub == b"create" || sub == b"setid") && args.is(i, "entriesread") && i + 1 < argc {
            match parse_i64(args.get(i + 1)) {
                None => return ctx.out.error(err::NOT_INTEGER),
                Some(v) if v < 0 && v != -1 => return ctx.out.error(ENTRIESREAD_RANGE),
                Some(v) => entries_read = v,
            }
            i += 2;
        } else {
            return syntax(ctx);
        }
    }
    let key = args.get(2);
    let name = args.get(3);
    let (now, clock) = (ctx.now_ms, ctx.clock);
    let index = ctx.db;
    let db = ctx.db();
    let exists = match get_stream(db, key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(s) => s.is_some(),
    };
    if !mkstream {
        if !exists {
            return ctx.out.error(NEED_KEY);
        }
        let s = get_stream(db, key, now).ok().flatten().expect("exists");
        if !s.groups.contains_key(name) && matches!(sub, b"setid" | b"createconsumer" | b"delconsumer") {
            return ctx.out.error_bytes(&nogroup_for_key(name, key));
        }
    }
    match sub {
        b"create" if (5..=8).contains(&argc) => {
            let id = if args.get(4) == b"$" {
                match get_stream(db, key, now) {
                    Ok(Some(s)) => s.last_id,
                    _ => StreamId::MIN,
                }
            } else {
                match parse_id(args.get(4), 0, true) {
                    Some(id) => id,
                    None => return ctx.out.error(INVALID_ID),
                }
            };
            if !exists {
                db.insert(key, Value::Stream(Box::new(Stream::new())), 0, clock);
            }
            let s = get_stream(db, key, now).ok().flatten().expect("exists");
            if s.groups.contains_key(name) {
                return ctx.out.error(BUSYGROUP);
            }
            s.groups.insert(name.to_vec(), Group::new(id, entries_read));
            ctx.out.ok();
            notify(class::STREAM, "xgroup-create", index, key);
            crate::persist::bump(1);
        }
        b"setid" if argc == 5 || argc == 7 => {
            let s = get_stream(db, key, now).ok().flatten().expect("exists");
            let id = if args.get(4) == b"$" {
                s.last_id
            } else {
                match parse_id(args.get(4), 0, false) {
                    Some(id) => id,
                    None => return ctx.out.error(INVALID_ID),
                }
            };
            let g = s.groups.get_mut(name).expect("checked");
            g.last_id = id;
            g.entries_read = entries_read;
            ctx.out.ok();
            notify(class::STREAM, "xgroup-setid", index, key);
            crate::persist::bump(1);
        }
        b"destroy" if argc == 4 => {
            let s = get_stream(db, key, now).ok().flatten().expect("exists");
            if s.groups.remove(name).is_some() {
                ctx.out.int(1);
                notify(class::STREAM, "xgroup-destroy", index, key);
                crate::persist::bump(1);
            } else {
                ctx.out.int(0);
            }
        }
        b"createconsumer" if argc == 5 => {
            let s = get_stream(db, key, now).ok().flatten().expect("exists");
            let g = s.groups.get_mut(name).expect("checked");
            let (_, created) = g.consumer(args.get(4), now);
            ctx.out.int(created as i64);
            if created {
                notify(class::STREAM, "xgroup-createconsumer", index, key);
                crate::persist::bump(1);
            }
        }
        b"delconsumer" if argc == 5 => {
            let s = get_stream(db, key, now).ok().flatten().expect("exists");
            let g = s.groups.get_mut(name).expect("checked");
            match g.consumers.remove(args.get(4)) {
                Some(c) => {
                    for id in &c.pel {
                        g.pel.remove(id);
                    }
                    ctx.out.int(c.pel.len() as i64);
                    notify(class::STREAM, "xgroup-delconsumer", index, key);
                    crate::persist::bump(1);
                }
                None => ctx.out.int(0),
            }
        }
        _ => syntax(ctx),
    }
}

/// The group `name` of the stream at `key`, or the error to reply.
fn lookup_group<'d>(db: &'d mut Db, key: &[u8], name: &[u8], now: u64) -> Result<&'d mut Stream, Vec<u8>> {
    match get_stream(db, key, now) {
        Err(()) => Err(err::WRONGTYPE.into()),
        Ok(Some(s)) if s.groups.contains_key(name) => Ok(s),
        Ok(_) => Err(nogroup_key_group(key, name)),
    }
}

/// `XACK key group id [id ...]`
pub fn cmd_xack(ctx: &mut Ctx, args: &Args) {
    let now = ctx.now_ms;
    let s = match get_stream(&mut ctx.ks.dbs[ctx.db], args.get(1), now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get_mut(args.get(2))) else {
        return ctx.out.int(0);
    };
    let mut ids = Vec::with_capacity(args.len() - 3);
    for a in args.iter().skip(3) {
        match parse_id(a, 0, true) {
            Some(id) => ids.push(id),
            None => return ctx.out.error(INVALID_ID),
        }
    }
    let n = ids.into_iter().filter(|id| g.ack(*id)).count();
    crate::persist::bump(n as u64);
    ctx.out.int(n as i64);
}

/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`
pub fn cmd_xpending(ctx: &mut Ctx, args: &Args) {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return ctx.out.error(err::SYNTAX);
    }
    let mut min_idle: i64 = 0;
    let mut range = None;
    let mut consumer_arg = None;
    if argc >= 6 {
        let mut at = 3;
        if args.is(3, "idle") {
            min_idle = match parse_i64(args.get(4)) {
                Some(v) => v,
                None => return ctx.out.error(err::NOT_INTEGER),
            };
            if argc < 8 {
                return ctx.out.error(err::SYNTAX);
            }
            at += 2;
        }
        let count = match parse_i64(args.get(at + 2)) {
            Some(v) => v.max(0) as usize,
            None => return ctx.out.error(err::NOT_INTEGER),
        };
        let start = match parse_start(args.get(at)) {
            Ok(s) => s,
            Err(e) => return ctx.out.error(e),
        };
        let end = match parse_end(args.get(at + 1)) {
            Ok(s) => s,
            Err(e) => return ctx.out.error(e),
        };
        if at + 3 < argc {
            consumer_arg = Some(args.get(at + 3));
        }
        range = Some((start, end, count));
    }
    let now = ctx.now_ms;
    let key = args.get(1);
    let s = match read_stream(&mut ctx.ks.dbs[ctx.db], key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get(args.get(2))) else {
        return ctx.out.error_bytes(&nogroup_key_group(key, args.get(2)));
    };
    let r = &mut ctx.out;
    let Some((start, end, count)) = range else {
        r.array_len(4);
        r.int(g.pel.len() as i64);
        if g.pel.is_empty() {
            r.null();
            r.null();
            r.null_array();
            return;
        }
        reply_id(r, *g.pel.keys().next().expect("not empty"));
        reply_id(r, *g.pel.keys().next_back().expect("not empty"));
        let busy: Vec<_> = g.consumers.values().filter(|c| !c.pel.is_empty()).collect();
        r.array_len(busy.len());
        for c in busy {
            r.array_len(2);
            r.bulk(&c.name);
            r.bulk_int(c.pel.len() as i64);
        }
        return;
    };
    let ids: Vec<StreamId> = if start > end {
        Vec::new()
    } else {
        match consumer_arg {
            Some(name) => match g.consumers.get(name) {
                None => return r.array_len(0),
                Some(c) => c.pel.range(start..=end).copied().collect(),
            },
            None => g.pel.range(start..=end).map(|(k, _)| *k).collect(),
        }
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() >= count {
            break;
        }
        let n = &g.pel[&id];
        let idle = now.saturating_sub(n.delivery_time) as i64;
        if min_idle != 0 && idle < min_idle {
            continue;
        }
        rows.push((id, n));
    }
    r.array_len(rows.len());
    for (id, n) in rows {
        r.array_len(4);
        reply_id(r, id);
        r.bulk(&n.consumer);
        r.int(now.saturating_sub(n.delivery_time) as i64);
        r.int(n.delivery_count as i64);
    }
}

/// Gives the live entry `id` to consumer `cname` of group `gname` (XCLAIM,
/// XAUTOCLAIM): delivered at `delivery`, its count set to `count` or, unless
/// JUSTID, one more (an entry made pending by FORCE starts at one), and
/// replies the entry or, with JUSTID, its ID.
#[allow(clippy::too_many_arguments)]
fn claim(
    s: &mut Stream,
    gname: &[u8],
    cname: &[u8],
    id: StreamId,
    now: u64,
    delivery: u64,
    fresh: bool,
    count: Option<u64>,
    justid: bool,
    r: &mut Reply,
) {
    let g = s.groups.get_mut(gname).expect("checked");
    let nack = g.assign(id, cname, now);
    if fresh {
        nack.delivery_count = 1;
    }
    nack.delivery_time = delivery;
    match count {
        Some(c) => nack.delivery_count = c,
        None if !justid => nack.delivery_count += 1,
        None => {}
    }
    g.consumers.get_mut(cname).expect("created").active_time = now as i64;
    if justid {
        reply_id(r, id);
    } else {
        reply_entry(r, &s.get(id).expect("exists"));
    }
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]`
pub fn cmd_xclaim(ctx: &mut Ctx, args: &Args) {
    let shard = ctx.shard;
    let now = ctx.now_ms;
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let index = ctx.db;
    let resp3 = ctx.out.resp3;
    if let Err(e) = lookup_group(&mut ctx.ks.dbs[ctx.db], key, gname, now) {
        return ctx.out.error_bytes(&e);
    }
    let min_idle = match parse_i64(args.get(4)) {
        Some(v) => v.max(0),
        None => return ctx.out.error("ERR Invalid min-idle-time argument for XCLAIM"),
    };
    let argc = args.len();
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argc {
        match parse_id(args.get(j), 0, true) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut delivery: i64 = -1;
    let mut retry: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argc {
        let more = argc - 1 - j;
        if args.is(j, "force") {
            force = true;
        } else if args.is(j, "justid") {
            justid = true;
        } else if args.is(j, "idle") && more > 0 {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(v) => delivery = (now as i64).saturating_sub(v),
                None => return ctx.out.error("ERR Invalid IDLE option argument for XCLAIM"),
            }
        } else if args.is(j, "time") && more > 0 {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(v) => delivery = v,
                None => return ctx.out.error("ERR Invalid TIME option argument for XCLAIM"),
            }
        } else if args.is(j, "retrycount") && more > 0 {
            j += 1;
            match parse_i64(args.get(j)) {
                Some(v) => retry = v,
                None => return ctx.out.error("ERR Invalid RETRYCOUNT option argument for XCLAIM"),
            }
        } else if args.is(j, "lastid") && more > 0 {
            j += 1;
            match parse_id(args.get(j), 0, true) {
                Some(id) => last_id = id,
                None => return ctx.out.error(INVALID_ID),
            }
        } else {
            let mut m = b"ERR Unrecognized XCLAIM option '".to_vec();
            m.extend_from_slice(args.get(j));
            m.push(b'\'');
            return ctx.out.error_bytes(&m);
        }
        j += 1;
    }
    let delivery = if delivery == -1 || delivery < 0 || delivery > now as i64 {
        now
    } else {
        delivery as u64
    };
    propagates_itself();
    let s = lookup_group(&mut ctx.ks.dbs[ctx.db], key, gname, now).expect("checked");
    let g = s.groups.get_mut(gname).expect("checked");
    // A raised last ID is logged by the XCLAIMs, or alone if none.
    let mut log_last_id = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        log_last_id = true;
    }
    let (c, created) = g.consumer(cname, now);
    c.seen_time = now;
    if created {
        notify(class::STREAM, "xgroup-createconsumer", index, key);
        crate::persist::bump(1);
    }
    let mut body = Vec::new();
    let mut r = Reply::new(&mut body, resp3);
    let mut n = 0;
    for (k, id) in ids.into_iter().enumerate() {
        let id_arg = args.get(5 + k);
        let exists = s.contains(id);
        let g = s.groups.get_mut(gname).expect("checked");
        if !exists {
            // Its PEL record goes, and that is logged as Redis does.
            if let Some(nack) = g.pel.get(&id) {
                propagate_xclaim(index, key, gname, id_arg, nack, g.last_id);
                log_last_id = false;
                crate::persist::changed(shard, 1);
                g.ack(id);
            }
            continue;
        }
        let fresh = !g.pel.contains_key(&id);
        if fresh && !force {
            continue;
        }
        if !fresh && min_idle != 0 {
            let idle = now as i64 - g.pel[&id].delivery_time as i64;
            if idle < min_idle {
                continue;
            }
        }
        let count = if retry >= 0 { Some(retry as u64) } else { None };
        claim(s, gname, cname, id, now, delivery, fresh, count, justid, &mut r);
        n += 1;
        let g = &s.groups[gname];
        propagate_xclaim(index, key, gname, id_arg, &g.pel[&id], g.last_id);
        log_last_id = false;
        crate::persist::changed(shard, 1);
    }
    if log_last_id {
        propagate_setid(index, key, gname, &s.groups[gname]);
        crate::persist::changed(shard, 1);
    }
    ctx.out.array_len(n);
    ctx.out.raw(&body);
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`
pub fn cmd_xautoclaim(ctx: &mut Ctx, args: &Args) {
    let shard = ctx.shard;
    let now = ctx.now_ms;
    let key = args.get(1);
    let gname = args.get(2);
    let cname = args.get(3);
    let index = ctx.db;
    let resp3 = ctx.out.resp3;
    let min_idle = match parse_i64(args.get(4)) {
        Some(v) => v.max(0),
        None => return ctx.out.error("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    };
    let start = match parse_start(args.get(5)) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args.is(j, "count") && more > 0 {
            match parse_i64(args.get(j + 1)) {
                Some(v) if (1..=i64::MAX / 16).contains(&v) => count = v,
                _ => return ctx.out.error(XAUTOCLAIM_COUNT),
            }
            j += 1;
        } else if args.is(j, "justid") {
            justid = true;
        } else {
            return ctx.out.error(err::SYNTAX);
        }
        j += 1;
    }
    propagates_itself();
    let s = match lookup_group(&mut ctx.ks.dbs[ctx.db], key, gname, now) {
        Ok(s) => s,
        Err(e) => return ctx.out.error_bytes(&e),
    };
    let g = s.groups.get_mut(gname).expect("checked");
    let (c, created) = g.consumer(cname, now);
    c.seen_time = now;
    if created {
        notify(class::STREAM, "xgroup-createconsumer", index, key);
        crate::persist::bump(1);
    }
    let mut attempts = count * ATTEMPTS_FACTOR;
    let mut body = Vec::new();
    let mut r = Reply::new(&mut body, resp3);
    let mut claimed = 0;
    let mut deleted = Vec::new();
    let mut cursor = Some(start);
    let mut next = StreamId::MIN;
    while let Some(from) = cursor {
        if attempts == 0 || count == 0 {
            // The next pending ID is where a later call resumes.
            next = s.groups[gname]
                .pel
                .range(from..)
                .next()
                .map_or(StreamId::MIN, |(k, _)| *k);
            break;
        }
        attempts -= 1;
        let Some(id) = s.groups[gname].pel.range(from..).next().map(|(k, _)| *k) else {
            break;
        };
        cursor = id.incr();
        if !s.contains(id) {
            let g = s.groups.get_mut(gname).expect("checked");
            propagate_xclaim(index, key, gname, &id.to_vec(), &g.pel[&id], g.last_id);
            crate::persist::changed(shard, 1);
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let g = s.groups.get_mut(gname).expect("checked");
        if min_idle != 0 && (now as i64 - g.pel[&id].delivery_time as i64) < min_idle {
            continue;
        }
        claim(s, gname, cname, id, now, now, false, None, justid, &mut r);
        claimed += 1;
        count -= 1;
        let g = &s.groups[gname];
        propagate_xclaim(index, key, gname, &id.to_vec(), &g.pel[&id], g.last_id);
        crate::persist::changed(shard, 1);
    }
    let out = &mut ctx.out;
    out.array_len(3);
    reply_id(out, next);
    out.array_len(claimed);
    out.raw(&body);
    out.array_len(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
}

// ---------------------------------------------------------------- XINFO

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
];

fn lag_reply(r: &mut Reply, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(l) => r.int(l),
        None => r.null(),
    }
}

fn entries_read_reply(r: &mut Reply, g: &Group) {
    if g.entries_read != ENTRIES_READ_INVALID {
        r.int(g.entries_read);
    } else {
        r.null();
    }
}

/// An estimate of Redis's radix tree node count for `keys` stream nodes
/// (XINFO's radix-tree-nodes), which only a rax would know exactly.
fn rax_nodes(keys: usize) -> usize {
    if keys == 0 {
        1
    } else {
        keys * 2 + 1
    }
}

/// `XINFO CONSUMERS|GROUPS|STREAM|HELP ...`
pub fn cmd_xinfo(ctx: &mut Ctx, args: &Args) {
    if args.is(1, "help") {
        return super::connection::reply_help(&mut ctx.out, XINFO_HELP);
    }
    let key = args.get(2);
    let now = ctx.now_ms;
    let resp3 = ctx.out.resp3;
    let s = match read_stream(&mut ctx.ks.dbs[ctx.db], key, now) {
        Err(()) => return ctx.out.error(err::WRONGTYPE),
        Ok(None) => return ctx.out.error(err::NO_SUCH_KEY),
        Ok(Some(s)) => s,
    };
    let r = &mut ctx.out;
    let argc = args.len();
    if args.is(1, "consumers") && argc == 4 {
        let Some(g) = s.groups.get(args.get(3)) else {
            return r.error_bytes(&nogroup_for_key(args.get(3), key));
        };
        r.array_len(g.consumers.len());
        for c in g.consumers.values() {
            r.map_len(4);
            r.bulk(b"name");
            r.bulk(&c.name);
            r.bulk(b"pending");
            r.int(c.pel.len() as i64);
            r.bulk(b"idle");
            r.int(now.saturating_sub(c.seen_time) as i64);
            r.bulk(b"inactive");
            r.int(if c.active_time >= 0 {
                now as i64 - c.active_time
            } else {
                -1
            });
        }
    } else if args.is(1, "groups") && argc == 3 {
        r.array_len(s.groups.len());
        for (name, g) in &s.groups {
            r.map_len(6);
            r.bulk(b"name");
            r.bulk(name);
            r.bulk(b"consumers");
            r.int(g.consumers.len() as i64);
            r.bulk(b"pending");
            r.int(g.pel.len() as i64);
            r.bulk(b"last-delivered-id");
            reply_id(r, g.last_id);
            r.bulk(b"entries-read");
            entries_read_reply(r, g);
            r.bulk(b"lag");
            lag_reply(r, s, g);
        }
    } else if args.is(1, "stream") {
        xinfo_stream(r, resp3, s, args);
    } else {
        r.error_bytes(&err::subcommand_syntax(args.get(1), "xinfo"));
    }
}

fn xinfo_stream(r: &mut Reply, resp3: bool, s: &Stream, args: &Args) {
    let optc = args.len() - 3;
    let mut full = false;
    let mut count: i64 = 10;
    if optc > 0 {
        if (optc != 1 && optc != 3) || !args.is(3, "full") || (optc == 3 && !args.is(4, "count")) {
            return r.error_bytes(&err::subcommand_syntax(args.get(1), "xinfo"));
        }
        full = true;
        if optc == 3 {
            count = match parse_i64(args.get(5)) {
                Some(v) if v < 0 => 10,
                Some(v) => v,
                None => return r.error(err::NOT_INTEGER),
            };
        }
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    r.map_len(if full { 9 } else { 10 });
    r.bulk(b"length");
    r.int(s.len() as i64);
    r.bulk(b"radix-tree-keys");
    r.int(s.node_count() as i64);
    r.bulk(b"radix-tree-nodes");
    r.int(rax_nodes(s.node_count()) as i64);
    r.bulk(b"last-generated-id");
    reply_id(r, s.last_id);
    r.bulk(b"max-deleted-entry-id");
    reply_id(r, s.max_deleted);
    r.bulk(b"entries-added");
    r.int(s.entries_added as i64);
    r.bulk(b"recorded-first-entry-id");
    reply_id(r, s.first_id);
    if !full {
        r.bulk(b"groups");
        r.int(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (&b"last-entry"[..], true)] {
            r.bulk(name);
            let mut emitted = false;
            s.range(StreamId::MIN, StreamId::MAX, rev, |e| {
                reply_entry(r, e);
                emitted = true;
                false
            });
            if !emitted {
                r.null();
            }
        }
        return;
    }
    r.bulk(b"entries");
    reply_counted(r, resp3, |r| {
        let mut n = 0;
        s.range(StreamId::MIN, StreamId::MAX, false, |e| {
            reply_entry(r, e);
            n += 1;
            n < limit
        });
        n
    });
    r.bulk(b"groups");
    r.array_len(s.groups.len());
    for (name, g) in &s.groups {
        r.map_len(7);
        r.bulk(b"name");
        r.bulk(name);
        r.bulk(b"last-delivered-id");
        reply_id(r, g.last_id);
        r.bulk(b"entries-read");
        entries_read_reply(r, g);
        r.bulk(b"lag");
        lag_reply(r, s, g);
        r.bulk(b"pel-count");
        r.int(g.pel.len() as i64);
        r.bulk(b"pending");
        let shown = g.pel.len().min(limit);
        r.array_len(shown);
        for (id, n) in g.pel.iter().take(shown) {
            r.array_len(4);
            reply_id(r, *id);
            r.bulk(&n.consumer);
            r.int(n.delivery_time as i64);
            r.int(n.delivery_count as i64);
        }
        r.bulk(b"consumers");
        r.array_len(g.consumers.len());
        for c in g.consumers.values() {
            r.map_len(5);
            r.bulk(b"name");
            r.bulk(&c.name);
            r.bulk(b"seen-time");
            r.int(c.seen_time as i64);
            r.bulk(b"active-time");
            r.int(c.active_time);
            r.bulk(b"pel-count");
            r.int(c.pel.len() as i64);
            r.bulk(b"pending");
            let shown = c.pel.len().min(limit);
            r.array_len(shown);
            for id in c.pel.iter().take(shown) {
                let n = &g.pel[id];
                r.array_len(3);
                reply_id(r, *id);
                r.int(n.delivery_time as i64);
                r.int(n.delivery_count as i64);
            }
        }
    }
}
