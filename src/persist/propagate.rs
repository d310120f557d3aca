//! Command propagation: what a write command that changed the dataset
//! sends to the append-only log (and later to replicas), in Redis's form.
//!
//! Each shard thread turns its commands into RESP records on its own
//! ([`command`]); a record goes to the log writer with the database it
//! applies to, and the writer inserts `SELECT` where the database changes.
//! Commands run as one transaction on a shard ([`begin_tx`] / [`end_tx`])
//! leave as one `MULTI … EXEC` block. Nothing runs while no log listens:
//! [`active`] is one thread-local read.
//!
//! Every shard has its own log (see [`super::aof`]), holding only what
//! happened to its own keys. A transaction spanning shards (EXEC, a script
//! in global mode, a cross-shard command) leaves one part in the log of
//! every shard it locked: while a shard runs a part of transaction `tx`
//! ([`tagged`]), what it propagates is held on that shard, and when the
//! origin commits the transaction (`Tx::finish`, before any lock is
//! released) each shard writes its part as a `MULTI … EXEC` block marked
//! with the transaction and its number of parts ([`commit_part`]). On
//! loading, a transaction whose parts are not all there is dropped whole.
//! Strict two-phase locking makes each log's order right: nothing that
//! touches the transaction's keys can be logged between its parts and its
//! commit.

use std::cell::{Cell, RefCell};

use crate::command::{Args, CommandSpec};
use crate::shard::Shard;

thread_local! {
    /// Whether this shard propagates (the log is on and loaded).
    static ON: Cell<bool> = const { Cell::new(false) };
    /// Commands a handler chose to propagate instead of itself (SPOP's
    /// SREM, a served BLPOP's LPOP ...), as argument lists.
    static OVERRIDE: RefCell<Option<Vec<Vec<Vec<u8>>>>> = const { RefCell::new(None) };
    /// Open transaction depth on this shard and the records it collected.
    static TX_DEPTH: Cell<u32> = const { Cell::new(0) };
    static TX: RefCell<Record> = const { RefCell::new(Record::new()) };
    /// The cross-shard transaction whose part runs now on this thread (0:
    /// none); see [`tagged`].
    static TAG: Cell<u64> = const { Cell::new(0) };
    /// The parts of cross-shard transactions this shard holds until their
    /// commit.
    static PARTS: RefCell<Vec<(u64, Record)>> = const { RefCell::new(Vec::new()) };
}

/// Records held under a tag, all shards together: a transaction that sees
/// the same figure at its start and its end made none, and needs no
/// commit. (A relaxed counter: a record is counted before its shard
/// answers the origin, so the origin sees it.)
static TAGGED_PARTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// RESP commands, each with its database: `data[ends[i-1]..ends[i]]` is
/// command `i`, run in `dbs[i]`.
#[derive(Default, Debug)]
pub struct Record {
    pub data: Vec<u8>,
    pub ends: Vec<usize>,
    pub dbs: Vec<usize>,
}

impl Record {
    pub const fn new() -> Record {
        Record {
            data: Vec::new(),
            ends: Vec::new(),
            dbs: Vec::new(),
        }
    }

    /// Appends one command.
    pub fn push(&mut self, db: usize, argv: &[&[u8]]) {
        encode(&mut self.data, argv);
        self.ends.push(self.data.len());
        self.dbs.push(db);
    }

    /// Appends bytes written as they are (an annotation), in `db`.
    pub fn push_raw(&mut self, db: usize, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len());
        self.dbs.push(db);
    }

    /// Appends `other`'s commands.
    pub fn append(&mut self, other: Record) {
        if self.ends.is_empty() {
            // The usual case (one command): no copy.
            *self = other;
            return;
        }
        let base = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base));
        self.dbs.extend_from_slice(&other.dbs);
    }

    /// The commands as one transaction: wrapped in `MULTI … EXEC` when
    /// there are several (one alone stays as it is, as in Redis).
    pub fn into_block(self) -> Record {
        if self.ends.len() < 2 {
            return self;
        }
        let mut r = Record::new();
        r.push(self.dbs[0], &[b"MULTI"]);
        let last = *self.dbs.last().expect("non-empty");
        r.append(self);
        r.push(last, &[b"EXEC"]);
        r
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The commands as (db, RESP bytes).
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let mut start = 0;
        self.ends.iter().zip(&self.dbs).map(move |(&end, &db)| {
            let s = &self.data[start..end];
            start = end;
            (db, s)
        })
    }
}

/// RESP array of bulk strings.
pub fn encode(out: &mut Vec<u8>, argv: &[&[u8]]) {
    encode_iter(out, argv.len(), argv.iter().copied());
}

/// [`encode`] for `argc` arguments given one by one.
pub fn encode_iter<'a>(out: &mut Vec<u8>, argc: usize, argv: impl Iterator<Item = &'a [u8]>) {
    use crate::protocol::reply::push_int;
    out.push(b'*');
    push_int(out, argc as i64);
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        push_int(out, a.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Whether this shard propagates its writes.
#[inline]
pub fn active() -> bool {
    ON.with(|o| o.get())
}

/// Turns propagation on or off for this shard.
pub fn set_active(on: bool) {
    ON.with(|o| o.set(on));
}

/// A handler replaces its own propagation by `cmds` (called only while
/// [`active`]).
pub fn replace(cmds: Vec<Vec<Vec<u8>>>) {
    OVERRIDE.with(|o| {
        let mut o = o.borrow_mut();
        match o.as_mut() {
            Some(v) => v.extend(cmds),
            None => *o = Some(cmds),
        }
    });
}

/// Forgets a replacement set by a command that changed nothing.
#[inline]
pub fn discard() {
    OVERRIDE.with(|o| {
        if let Ok(mut o) = o.try_borrow_mut() {
            *o = None;
        }
    });
}

/// Propagates `argv` run in `db` now (implicit deletions, served blocked
/// clients, cross-shard parts).
pub fn emit(db: usize, argv: &[&[u8]]) {
    if !active() {
        return;
    }
    let mut r = Record::new();
    r.push(db, argv);
    send(r);
}

/// Propagates `argv` run in `db` now, outside any transaction it runs
/// in (a change of the process-wide functions, kept in shard 0's log).
pub fn emit_alone(db: usize, argv: &[&[u8]]) {
    if !active() {
        return;
    }
    let mut r = Record::new();
    r.push(db, argv);
    super::aof::append(r);
}

/// Propagates an expired key's deletion: `DEL`, or `UNLINK` under
/// lazyfree-lazy-expire (as Redis).
#[inline]
pub fn deleted(db: usize, key: &[u8]) {
    if active() {
        deleted_as(db, key, LAZY_EXPIRE.load(std::sync::atomic::Ordering::Relaxed));
    }
}

/// Propagates a key's deletion by the server (expiry, eviction): `UNLINK`
/// when it was freed lazily, else `DEL`.
#[inline]
pub fn deleted_as(db: usize, key: &[u8], lazy: bool) {
    if active() {
        emit(db, &[if lazy { b"UNLINK" } else { b"DEL" }, key]);
    }
}

/// lazyfree-lazy-expire, for [`deleted`] (which runs where no config is at
/// hand); kept by the config's setter.
static LAZY_EXPIRE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records lazyfree-lazy-expire.
pub fn set_lazy_expire(on: bool) {
    LAZY_EXPIRE.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn send(r: Record) {
    if r.is_empty() {
        // A handler that logged its effect itself.
        return;
    }
    let tag = TAG.with(|t| t.get());
    if tag != 0 {
        TAGGED_PARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return PARTS.with(|p| {
            let mut p = p.borrow_mut();
            match p.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, part)) => part.append(r),
                None => p.push((tag, r)),
            }
        });
    }
    if TX_DEPTH.with(|d| d.get()) > 0 {
        TX.with(|t| t.borrow_mut().append(r));
        return;
    }
    super::aof::append(r);
}

/// Runs `f` (synchronous: a tag never spans an await) as a part of
/// cross-shard transaction `tx` (0: none): what it propagates waits in the
/// writer for the transaction's [`commit`]. One thread-local read while no
/// log listens.
#[inline]
pub fn tagged<R>(tx: u64, f: impl FnOnce() -> R) -> R {
    if tx == 0 || !active() {
        return f();
    }
    let outer = TAG.with(|t| t.replace(tx));
    let r = f();
    TAG.with(|t| t.set(outer));
    r
}

/// The figure a transaction compares at its end ([`commit`]); 0 while no
/// log listens.
#[inline]
pub fn parts_mark() -> u64 {
    if !active() {
        return 0;
    }
    TAGGED_PARTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether a cross-shard transaction that started at [`parts_mark`]
/// `mark` must commit its parts (it may have made some).
pub fn needs_commit(mark: u64) -> bool {
    active() && TAGGED_PARTS.load(std::sync::atomic::Ordering::Relaxed) != mark
}

/// Whether this shard holds a part of cross-shard transaction `tx`.
pub fn holds_part(tx: u64) -> bool {
    PARTS.with(|p| p.borrow().iter().any(|(t, r)| *t == tx && !r.is_empty()))
}

/// Writes this shard's part of cross-shard transaction `tx`, which has
/// `parts` parts (one per shard it locked; this one may be empty), to this
/// shard's log, marked so that loading replays the transaction only with
/// every part present. Called on each of those shards by the origin, while
/// it holds every lock. Under `always`, the receiver that fires once the
/// part is on disk.
pub fn commit_part(tx: u64, parts: usize) -> Option<futures_channel::oneshot::Receiver<()>> {
    let part = PARTS.with(|p| {
        let mut p = p.borrow_mut();
        let i = p.iter().position(|(t, _)| *t == tx)?;
        Some(p.swap_remove(i).1)
    });
    if !active() {
        return None;
    }
    let part = part.unwrap_or_default();
    if parts < 2 {
        // Alone in the only log: an ordinary block.
        return (!part.is_empty())
            .then(|| super::aof::append_acked(part.into_block()))
            .flatten();
    }
    let first = part.dbs.first().copied().unwrap_or(super::aof::ANY_DB);
    let last = part.dbs.last().copied().unwrap_or(super::aof::ANY_DB);
    let mut r = Record::new();
    r.push(first, &[b"MULTI"]);
    r.push_raw(super::aof::ANY_DB, &super::aof::tx_mark(tx, parts));
    r.append(part);
    r.push(last, &[b"EXEC"]);
    super::aof::append_acked(r)
}

/// Starts a transaction on this shard: what it propagates leaves as one
/// MULTI … EXEC block at [`end_tx`].
pub fn begin_tx() {
    if active() {
        TX_DEPTH.with(|d| d.set(d.get() + 1));
    }
}

/// Ends what [`begin_tx`] started.
pub fn end_tx() {
    end_tx_dropping(None);
}

/// [`begin_tx`], returning how many commands the enclosing transaction
/// collected so far (for [`end_tx_dropping`]).
pub fn begin_tx_marked() -> usize {
    begin_tx();
    TX.with(|t| t.borrow().ends.len())
}

/// [`end_tx`], first dropping the commands collected after `from` (a
/// script's fast path that aborted and rolled its writes back).
pub fn end_tx_dropping(from: Option<usize>) {
    if !active() {
        return;
    }
    if let Some(n) = from {
        TX.with(|t| {
            let mut t = t.borrow_mut();
            let len = if n == 0 { 0 } else { t.ends[n - 1] };
            t.data.truncate(len);
            t.ends.truncate(n);
            t.dbs.truncate(n);
        });
    }
    let depth = TX_DEPTH.with(|d| {
        let v = d.get().saturating_sub(1);
        d.set(v);
        v
    });
    if depth > 0 {
        return;
    }
    let body = TX.with(|t| std::mem::take(&mut *t.borrow_mut()));
    if !body.is_empty() {
        super::aof::append(body.into_block());
    }
}

/// Called after a shard handler that changed the dataset: propagates its
/// effect in Redis's form.
pub fn command(shard: &Shard, spec: &CommandSpec, args: &Args, db: usize, now_ms: u64, reply: &[u8]) {
    let mut r = Record::new();
    if let Some(cmds) = OVERRIDE.with(|o| o.borrow_mut().take()) {
        for c in &cmds {
            let argv: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            r.push(db, &argv);
        }
        return send(r);
    }
    let rewritten = matches!(
        spec.name,
        "expire"
            | "pexpire"
            | "expireat"
            | "pexpireat"
            | "getex"
            | "setex"
            | "psetex"
            | "restore"
            | "incrbyfloat"
            | "hincrbyfloat"
            | "xadd"
    ) || (spec.name == "set" && args.len() > 3);
    // `execute` wraps each command in a transaction of its own (depth 1):
    // while it collected nothing yet, the command goes first anyway.
    if !rewritten && TAG.with(|t| t.get()) == 0 && TX_DEPTH.with(|d| d.get()) <= 1 && TX.with(|t| t.borrow().is_empty())
    {
        // The common case: as it came, straight into the log's buffer.
        return super::aof::append_command(db, args.len(), args.iter());
    }
    let argv: Vec<&[u8]> = args.iter().collect();
    match spec.name {
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            expire_form(shard, db, argv[1], now_ms, &mut r);
        }
        "getex" => {
            let persist = argv.iter().skip(2).any(|a| a.eq_ignore_ascii_case(b"persist"));
            if persist {
                r.push(db, &[b"PERSIST", argv[1]]);
            } else {
                expire_form(shard, db, argv[1], now_ms, &mut r);
            }
        }
        "setex" | "psetex" => {
            let at = expire_of(shard, db, argv[1], now_ms).unwrap_or(0).to_string();
            r.push(db, &[b"SET", argv[1], argv[3], b"PXAT", at.as_bytes()]);
        }
        "set" => {
            // A relative expiry becomes absolute: `PXAT <ms>`.
            let mut out: Vec<&[u8]> = Vec::with_capacity(argv.len());
            let at = expire_of(shard, db, argv[1], now_ms).unwrap_or(0).to_string();
            let mut i = 0;
            while i < argv.len() {
                let a = argv[i];
                if i >= 3
                    && (a.eq_ignore_ascii_case(b"ex")
                        || a.eq_ignore_ascii_case(b"px")
                        || a.eq_ignore_ascii_case(b"exat")
                        || a.eq_ignore_ascii_case(b"pxat"))
                {
                    out.push(b"PXAT");
                    out.push(at.as_bytes());
                    i += 2;
                    continue;
                }
                out.push(a);
                i += 1;
            }
            if expire_of(shard, db, argv[1], now_ms).is_none() && out.len() != argv.len() {
                // Written already expired: gone.
                r.push(db, &[b"DEL", argv[1]]);
            } else {
                r.push(db, &out);
            }
        }
        "restore" => {
            // A relative TTL becomes absolute: `<ms> ... ABSTTL`.
            let absttl = argv.iter().skip(4).any(|a| a.eq_ignore_ascii_case(b"absttl"));
            match expire_of(shard, db, argv[1], now_ms) {
                Some(at) if at != 0 && !absttl => {
                    let at = at.to_string();
                    let mut out = argv.clone();
                    out[2] = at.as_bytes();
                    out.push(b"ABSTTL");
                    r.push(db, &out);
                }
                _ => r.push(db, &argv),
            }
        }
        "incrbyfloat" => {
            let v = bulk_of(reply).unwrap_or_default();
            r.push(db, &[b"SET", argv[1], &v, b"KEEPTTL"]);
        }
        "hincrbyfloat" => {
            let v = bulk_of(reply).unwrap_or_default();
            r.push(db, &[b"HSET", argv[1], argv[2], &v]);
        }
        "xadd" => {
            // `*` (or `<ms>-*`) becomes the ID the entry got.
            let id = bulk_of(reply);
            let mut out: Vec<&[u8]> = argv.clone();
            if let Some(id) = &id {
                if let Some(pos) = id_position(&argv) {
                    out[pos] = id;
                }
            }
            r.push(db, &out);
        }
        _ => r.push(db, &argv),
    }
    send(r);
}

/// The argument index of XADD's ID.
fn id_position(argv: &[&[u8]]) -> Option<usize> {
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        if a.eq_ignore_ascii_case(b"nomkstream") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"maxlen") || a.eq_ignore_ascii_case(b"minid") {
            i += 2;
            if i - 1 < argv.len() && (argv[i - 1] == b"=" || argv[i - 1] == b"~") {
                i += 1;
            }
        } else if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else {
            return Some(i);
        }
    }
    None
}

/// The value of a bulk-string reply.
fn bulk_of(reply: &[u8]) -> Option<Vec<u8>> {
    let rest = reply.strip_prefix(b"$")?;
    let nl = rest.iter().position(|&b| b == b'\r')?;
    let len: usize = std::str::from_utf8(&rest[..nl]).ok()?.parse().ok()?;
    rest.get(nl + 2..nl + 2 + len).map(|v| v.to_vec())
}

/// The key's absolute expiry in ms (0: none), None when the key is gone.
fn expire_of(shard: &Shard, db: usize, key: &[u8], now_ms: u64) -> Option<u64> {
    let mut ks = shard.ks.borrow_mut();
    ks.dbs[db].lookup(key, now_ms).map(|e| e.expire_at())
}

/// EXPIRE family: `PEXPIREAT key <ms>`, or `DEL key` when the time in the
/// past deleted it.
fn expire_form(shard: &Shard, db: usize, key: &[u8], now_ms: u64, r: &mut Record) {
    match expire_of(shard, db, key, now_ms) {
        None => r.push(db, &[b"DEL", key]),
        Some(0) => r.push(db, &[b"PERSIST", key]),
        Some(at) => r.push(db, &[b"PEXPIREAT", key, at.to_string().as_bytes()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_join_into_one_block() {
        let mut body = Record::new();
        let mut a = Record::new();
        a.push(0, &[b"SET", b"a", b"1"]);
        body.append(a);
        assert_eq!(body.ends.len(), 1);
        let single = std::mem::take(&mut body);
        assert_eq!(single.into_block().data, b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n");
        let (mut a, mut b) = (Record::new(), Record::new());
        a.push(0, &[b"SET", b"a", b"1"]);
        b.push(2, &[b"DEL", b"b"]);
        body.append(a);
        body.append(b);
        let block = body.into_block();
        let cmds: Vec<(usize, &[u8])> = block.iter().collect();
        assert_eq!(cmds.len(), 4);
        assert_eq!(cmds[0], (0, &b"*1\r\n$5\r\nMULTI\r\n"[..]));
        assert_eq!(cmds[2], (2, &b"*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n"[..]));
        assert_eq!(cmds[3], (2, &b"*1\r\n$4\r\nEXEC\r\n"[..]));
    }
}
