//! Multi-key commands whose keys live on several shards.
//!
//! Each runs as one [`Tx`]: the shards involved are locked in ascending
//! order, the per-shard parts run (closures that see one shard only), and
//! everything is released. The result is atomic and serializable, like the
//! same command in Redis.

use std::collections::BTreeMap;

use std::rc::Rc;

use super::table::{CommandSpec, ShardFn};
use super::{keys, string, Args, Cross, Ctx, Session};
use crate::protocol::Reply;
use crate::shard::blocking;
use crate::shard::coordinator::Tx;
use crate::shard::slot::key_shard;
use crate::shard::{key_id, Shard};
use crate::storage::{Entry, Keyspace, Value};
use crate::util::now_ms;

/// Runs a cross-shard multi-key command and writes its reply.
pub async fn execute(sess: &mut Session, spec: &'static CommandSpec, how: Cross, args: &Args<'_>, out: &mut Vec<u8>) {
    match how {
        Cross::MGet => mget(sess, spec, args, out).await,
        Cross::MSet => mset(sess, args, out).await,
        Cross::CountKeys => count_keys(sess, spec, args, out).await,
        Cross::Gather => gather(sess, spec, args, out).await,
        Cross::Streams => super::stream::cross_read(sess, args, out).await,
    }
}

/// Key argument indices grouped by owning shard, shards ascending.
fn group_by_shard(spec: &CommandSpec, args: &Args, shards: usize) -> BTreeMap<usize, Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in spec.key_indices(args) {
        groups.entry(key_shard(args.get(i), shards)).or_default().push(i);
    }
    groups
}

async fn mget(sess: &mut Session, spec: &CommandSpec, args: &Args<'_>, out: &mut Vec<u8>) {
    let groups = group_by_shard(spec, args, sess.shard.count);
    let db = sess.db;
    let mut values: Vec<Option<Vec<u8>>> = vec![None; args.len()];
    let mut tx = Tx::within(&sess.shard, sess.tx);
    for (shard, idx) in groups {
        let keys: Vec<Vec<u8>> = idx.iter().map(|&i| args.get(i).to_vec()).collect();
        let ids = keys.iter().map(|k| key_id(db, k)).collect();
        let got = tx
            .lock_keys_run(shard, ids, move |sh| {
                let now = now_ms();
                let got = string::op_mget(sh.ks.borrow_mut().db(db), &keys, now);
                super::publish_events(sh);
                got
            })
            .await;
        for (i, v) in idx.into_iter().zip(got) {
            values[i] = v;
        }
    }
    tx.finish().await;
    let mut r = Reply::new(out, sess.resp3);
    r.array_len(args.len() - 1);
    for v in &values[1..] {
        match v {
            Some(b) => r.bulk(b),
            None => r.null(),
        }
    }
}

async fn mset(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    if args.len() % 2 == 0 {
        return Reply::new(out, sess.resp3).error(&super::errors::arity("mset"));
    }
    let mut groups: BTreeMap<usize, Vec<(Vec<u8>, Vec<u8>)>> = BTreeMap::new();
    for i in (1..args.len()).step_by(2) {
        let shard = key_shard(args.get(i), sess.shard.count);
        groups
            .entry(shard)
            .or_default()
            .push((args.get(i).to_vec(), args.get(i + 1).to_vec()));
    }
    let db = sess.db;
    let mut tx = Tx::within(&sess.shard, sess.tx);
    for (shard, pairs) in groups {
        let ids = pairs.iter().map(|(k, _)| key_id(db, k)).collect();
        tx.lock_keys_run(shard, ids, move |sh| {
            let now = now_ms();
            let clock = (now / 1000) as u32;
            let mut ks = sh.ks.borrow_mut();
            for (k, v) in &pairs {
                string::op_set(ks.db(db), k, v, 0, false, clock);
            }
            drop(ks);
            crate::persist::changed(sh, pairs.len() as u64);
            if crate::persist::propagate::active() {
                let mut argv: Vec<&[u8]> = vec![b"MSET"];
                for (k, v) in &pairs {
                    argv.push(k);
                    argv.push(v);
                }
                crate::persist::propagate::emit(db, &argv);
            }
            touch_watched(sh, db, pairs.iter().map(|(k, _)| k.as_slice()));
            crate::shard::tracking::keys_modified(sh, pairs.iter().map(|(k, _)| k.as_slice()));
            blocking::after_write(sh, db, pairs.iter().map(|(k, _)| k.as_slice()), now);
            crate::command::publish_events(sh);
        })
        .await;
    }
    tx.finish().await;
    Reply::new(out, sess.resp3).ok();
}

#[derive(Clone, Copy)]
enum CountOp {
    /// DEL or UNLINK (true: as sent, which is how it is logged), freeing
    /// lazily or not.
    Del {
        unlink: bool,
        lazy: bool,
    },
    Exists,
    Touch,
}

async fn count_keys(sess: &mut Session, spec: &CommandSpec, args: &Args<'_>, out: &mut Vec<u8>) {
    let op = match spec.name {
        "exists" => CountOp::Exists,
        "touch" => CountOp::Touch,
        _ => CountOp::Del {
            unlink: args.get(0).eq_ignore_ascii_case(b"unlink"),
            lazy: keys::del_is_lazy(&sess.shard, args.get(0)),
        },
    };
    let groups = group_by_shard(spec, args, sess.shard.count);
    let db = sess.db;
    let mut total = 0i64;
    let mut tx = Tx::within(&sess.shard, sess.tx);
    for (shard, idx) in groups {
        let keys: Vec<Vec<u8>> = idx.iter().map(|&i| args.get(i).to_vec()).collect();
        let ids = keys.iter().map(|k| key_id(db, k)).collect();
        total += tx
            .lock_keys_run(shard, ids, move |sh| {
                let n = count_on_shard(sh, op, db, &keys);
                super::publish_events(sh);
                n
            })
            .await;
    }
    tx.finish().await;
    Reply::new(out, sess.resp3).int(total);
}

/// One shard's part of DEL/UNLINK, EXISTS or TOUCH.
fn count_on_shard(sh: &crate::shard::Shard, op: CountOp, db: usize, keys: &[Vec<u8>]) -> i64 {
    let now = now_ms();
    let mut ks = sh.ks.borrow_mut();
    let it = keys.iter().map(|k| k.as_slice());
    match op {
        CountOp::Del { unlink, lazy } => {
            let watched =
                !sh.watches.borrow().is_empty() || sh.tracking.borrow().active() || crate::persist::propagate::active();
            if watched {
                // Only the keys that existed change.
                let gone: Vec<&[u8]> = keys
                    .iter()
                    .map(|k| k.as_slice())
                    .filter(|k| ks.db(db).lookup(k, now).is_some())
                    .collect();
                let n = keys::op_del(ks.db(db), gone.iter().copied(), now, lazy);
                drop(ks);
                crate::persist::changed(sh, n as u64);
                if n > 0 && crate::persist::propagate::active() {
                    let mut argv: Vec<&[u8]> = vec![if unlink { b"UNLINK" } else { b"DEL" }];
                    argv.extend(gone.iter().copied());
                    crate::persist::propagate::emit(db, &argv);
                }
                touch_watched(sh, db, gone.iter().copied());
                crate::shard::tracking::keys_modified(sh, gone.into_iter());
                return n;
            }
            let n = keys::op_del(ks.db(db), it, now, lazy);
            crate::persist::changed(sh, n as u64);
            n
        }
        CountOp::Exists => keys::op_exists(ks.db(db), it, now),
        CountOp::Touch => keys::op_touch(ks.db(db), it, now, (now / 1000) as u32),
    }
}

/// Marks the watchers of `keys` (all written) of `db` on this shard.
fn touch_watched<'k>(sh: &crate::shard::Shard, db: usize, keys: impl Iterator<Item = &'k [u8]>) {
    let mut w = sh.watches.borrow_mut();
    if !w.is_empty() {
        for k in keys {
            w.touch(db, k);
        }
    }
}

/// The (db, key) pairs a gathered command may read or write.
fn gather_targets(sess: &Session, spec: &CommandSpec, args: &Args) -> Vec<(usize, Vec<u8>)> {
    let mut v: Vec<(usize, Vec<u8>)> = spec
        .key_indices(args)
        .map(|i| (sess.db, args.get(i).to_vec()))
        .collect();
    if spec.name == "copy" {
        let dbs = sess.shard.config.borrow().databases;
        if let Ok((dst_db, _)) = keys::parse_copy_options(args, sess.db, dbs) {
            if dst_db != sess.db {
                v.push((dst_db, args.get(2).to_vec()));
            }
        }
    }
    v.sort();
    v.dedup();
    v
}

fn same_entry(a: &Option<Entry>, b: &Option<Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => x.value == y.value && x.expire_at() == y.expire_at(),
        _ => false,
    }
}

/// Runs a shard handler on a scratch keyspace holding the gathered entries
/// `before` ((db, key) → entry, None for a missing key). Returns the keys
/// it changed with their entry now (None: deleted), in `before`'s order,
/// and the keyspace events it raised (taken off this thread's queue, so the
/// caller sends them once the writes have landed). Filling the scratch
/// keyspace raises nothing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_on_scratch(
    shard: &Rc<Shard>,
    before: &[((usize, Vec<u8>), Option<Entry>)],
    db: usize,
    resp3: bool,
    no_touch: bool,
    handler: ShardFn,
    args: &Args,
    out: &mut Vec<u8>,
) -> (Writes, Vec<super::notify::Event>) {
    let (databases, max_bulk_len, limits) = {
        let cfg = shard.config.borrow();
        (cfg.databases, cfg.proto_max_bulk_len, cfg.limits)
    };
    let mut scratch = Keyspace::new(databases);
    for ((d, k), e) in before {
        if let Some(e) = e {
            scratch
                .db(*d)
                .insert_silent(k, e.value.clone(), e.expire_at(), e.access);
        }
    }
    // Events queued before (a script's earlier calls) stay apart.
    let held = super::notify::take();
    let now = now_ms();
    {
        let mut ctx = Ctx {
            shard,
            ks: &mut scratch,
            db,
            out: Reply::new(out, resp3),
            now_ms: now,
            clock: (now / 1000) as u32,
            no_touch,
            shards: shard.count,
            max_bulk_len,
            limits,
        };
        handler(&mut ctx, args);
    }
    let raised = super::notify::take();
    super::notify::put_back(held);
    let mut writes = Writes::new();
    let logging = crate::persist::propagate::active();
    for ((d, k), old) in before {
        let new = scratch.db(*d).lookup(k, now).map(|e| e.clone());
        if !same_entry(old, &new) {
            let effect = if logging { effect(k, old, &new) } else { None };
            writes
                .entry(key_shard(k, shard.count))
                .or_default()
                .push((*d, k.clone(), new, effect));
        }
    }
    (writes, raised)
}

/// Changes to write back, per shard: (db, key, entry now or None, and,
/// while the log is on, the one command that made the change when there
/// is one: see [`effect`]).
pub(crate) type Writes = BTreeMap<usize, Vec<Written>>;

/// One key a gathered command changed (see [`Writes`]).
pub(crate) type Written = (usize, Vec<u8>, Option<Entry>, Option<Vec<Vec<u8>>>);

/// The single-element command that turns `old` into `new`, when there is
/// one and the expiry did not change: a push or pop at either end of a
/// list, a member added to or removed from a set. A cross-shard move
/// (LMOVE, RPOPLPUSH, SMOVE) then logs one element, not a whole value.
fn effect(key: &[u8], old: &Option<Entry>, new: &Option<Entry>) -> Option<Vec<Vec<u8>>> {
    let new = new.as_ref()?;
    let old_at = old.as_ref().map_or(0, |o| o.expire_at());
    if new.expire_at() != old_at {
        return None;
    }
    let cmd = |name: &[u8], elem: &[u8]| Some(vec![name.to_vec(), key.to_vec(), elem.to_vec()]);
    match (old.as_ref().map(|o| &o.value), &new.value) {
        (None, Value::List(n)) if n.len() == 1 => cmd(b"RPUSH", &n.items[0]),
        (Some(Value::List(o)), Value::List(n)) => {
            let (o, n) = (&o.items, &n.items);
            if n.len() + 1 == o.len() {
                if n.iter().eq(o.iter().skip(1)) {
                    return Some(vec![b"LPOP".to_vec(), key.to_vec()]);
                }
                if n.iter().eq(o.iter().take(o.len() - 1)) {
                    return Some(vec![b"RPOP".to_vec(), key.to_vec()]);
                }
            } else if n.len() == o.len() + 1 {
                if n.iter().skip(1).eq(o.iter()) {
                    return cmd(b"LPUSH", &n[0]);
                }
                if n.iter().take(n.len() - 1).eq(o.iter()) {
                    return cmd(b"RPUSH", &n[n.len() - 1]);
                }
            }
            None
        }
        (None, Value::Set(n)) if n.len() == 1 => {
            let mut m = Vec::new();
            n.iter().next()?.with_bytes(|b| m = b.to_vec());
            cmd(b"SADD", &m)
        }
        (Some(Value::Set(o)), Value::Set(n)) if n.len().abs_diff(o.len()) == 1 => {
            let (big, small, name): (_, _, &[u8]) = if n.len() > o.len() {
                (n, o, b"SADD")
            } else {
                (o, n, b"SREM")
            };
            let mut found = None;
            for e in big.iter() {
                if !small.contains_elem(e) {
                    if found.is_some() {
                        return None;
                    }
                    let mut m = Vec::new();
                    e.with_bytes(|b| m = b.to_vec());
                    found = Some(m);
                }
            }
            cmd(name, &found?)
        }
        _ => None,
    }
}

/// Writes gathered changes back on their shard: entries put back silently
/// (their events were raised on the scratch keyspace), deletions, and the
/// signals a write gives (WATCH, blocked clients, tracking).
pub(crate) fn write_back(sh: &Rc<Shard>, writes: Vec<Written>) {
    if crate::persist::propagate::active() {
        log_written(sh, &writes);
    }
    let mut written = Vec::with_capacity(writes.len());
    {
        let mut ks = sh.ks.borrow_mut();
        for (db, k, e, _) in writes {
            ks.db(db).put_silent(&k, e);
            written.push((db, k));
        }
    }
    // Every key is in place before any blocked client is served.
    let now = now_ms();
    for (db, k) in &written {
        sh.watches.borrow_mut().touch(*db, k);
        crate::shard::tracking::keys_modified(sh, std::iter::once(k.as_slice()));
        super::note_written(sh, *db, std::iter::once(k.as_slice()), now);
    }
}

/// Logs what a command run on a scratch keyspace wrote back on this shard
/// (each shard's log holds only its own keys): the one command that made
/// a key's change when there is one ([`effect`]), else the key as it now
/// is, by `RESTORE … REPLACE` (with its absolute expiry), or `DEL`.
fn log_written(sh: &Shard, writes: &[Written]) {
    let opts = crate::persist::rdb_write::WriteOpts {
        limits: sh.config.borrow().limits,
        ..Default::default()
    };
    for (db, k, e, effect) in writes {
        if let Some(c) = effect {
            let argv: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            crate::persist::propagate::emit(*db, &argv);
            continue;
        }
        match e {
            None => crate::persist::propagate::emit(*db, &[b"DEL", k]),
            Some(e) => {
                let payload = crate::persist::dump::dump_payload(&e.value, &opts);
                let at = e.expire_at();
                let ttl = at.to_string();
                let mut argv: Vec<&[u8]> = vec![b"RESTORE", k, ttl.as_bytes(), &payload, b"REPLACE"];
                if at != 0 {
                    argv.push(b"ABSTTL");
                }
                crate::persist::propagate::emit(*db, &argv);
            }
        }
    }
}

/// Gather → run on a scratch keyspace → scatter the changes back.
async fn gather(sess: &mut Session, spec: &CommandSpec, args: &Args<'_>, out: &mut Vec<u8>) {
    let super::Handler::Shard(handler) = spec.handler else {
        unreachable!("gathered commands have shard handlers");
    };
    let shards = sess.shard.count;
    let targets = gather_targets(sess, spec, args);
    let mut by_shard: BTreeMap<usize, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
    for t in &targets {
        by_shard.entry(key_shard(&t.1, shards)).or_default().push(t.clone());
    }
    let mut tx = Tx::within(&sess.shard, sess.tx);
    let mut before: Vec<((usize, Vec<u8>), Option<Entry>)> = Vec::new();
    for (shard, items) in &by_shard {
        let items2 = items.clone();
        let ids = items.iter().map(|(db, k)| key_id(*db, k)).collect();
        let got = tx
            .lock_keys_run(*shard, ids, move |sh| {
                let now = now_ms();
                let mut ks = sh.ks.borrow_mut();
                let got = items2
                    .iter()
                    .map(|(db, k)| keys::op_clone_entry(ks.db(*db), k, now))
                    .collect::<Vec<_>>();
                drop(ks);
                // Keys found expired on the way.
                super::publish_events(sh);
                got
            })
            .await;
        before.extend(items.iter().cloned().zip(got));
    }
    // Run the command's own shard handler against the gathered keys; its
    // events (raised on this thread) wait until the writes have landed.
    let (writes, events) = run_on_scratch(
        &sess.shard,
        &before,
        sess.db,
        sess.resp3,
        sess.no_touch,
        handler,
        args,
        out,
    );
    // Each shard logs what is written back on it (`write_back`).
    crate::persist::propagate::discard();
    // Scatter what changed.
    for (shard, w) in writes {
        tx.run(shard, move |sh| {
            write_back(sh, w);
            crate::command::publish_events(sh);
        })
        .await;
    }
    tx.finish().await;
    super::notify::put_back(events);
    super::publish_events(&sess.shard);
}
