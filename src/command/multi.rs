//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands after MULTI are queued on the connection (arguments copied once
//! into one buffer). EXEC then picks the cheapest way to run them as one
//! atomic, isolated step:
//! - every key (queued and watched) on one shard: the whole transaction is
//!   one job on that shard, run without interruption (inline when it is the
//!   connection's own shard) — no locks, no extra hop;
//! - keys on several shards: one cross-shard transaction locks every key
//!   (ascending shard order, see `shard::coordinator`), checks WATCH, runs
//!   the commands in order (consecutive commands of one shard in one hop)
//!   and releases;
//! - commands that reach beyond declared keys (SELECT, FLUSHALL, KEYS,
//!   blocking commands, MOVE/COPY to another database, ...): every shard is
//!   locked whole for the duration.
//! Blocked clients woken by the transaction's writes are served after it,
//! never between its commands.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use super::table::{CommandSpec, Handler, ShardFn};
use super::{errors as err, flags, Args, ArgsBuf, Session};
use crate::protocol::Reply;
use crate::server::conn::{must_wait, route, Route};
use crate::shard::coordinator::{self, Tx};
use crate::shard::slot::key_shard;
use crate::shard::watch::{self, WatchFlag};
use crate::shard::{key_id, KeyId, Shard};
use crate::util::now_ms;

pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
/// Before the error that refused EXEC itself (Redis's execCommandAbort).
pub const EXECABORT_PREFIX: &str = "EXECABORT Transaction discarded because of:";
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// Commands queued since MULTI.
#[derive(Default)]
pub struct MultiState {
    args: ArgsBuf,
    specs: Vec<&'static CommandSpec>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub aborted: bool,
    /// A queued command may grow memory: EXEC over maxmemory is refused.
    pub denyoom: bool,
}

impl MultiState {
    /// Calls `f` on every queued command, in order (MONITOR shows them at
    /// EXEC).
    pub fn each_queued(&self, mut f: impl FnMut(&'static CommandSpec, &Args)) {
        for (i, &spec) in self.specs.iter().enumerate() {
            f(spec, &self.args.get(i));
        }
    }

    pub fn queue(&mut self, spec: &'static CommandSpec, args: &Args) {
        self.denyoom |= super::oom::denies_oom(spec, args);
        self.args.push(args);
        self.specs.push(spec);
    }

    /// Bytes the queue holds (CLIENT LIST multi-mem, client eviction).
    pub fn mem(&self) -> usize {
        self.args.mem() + self.specs.capacity() * std::mem::size_of::<&CommandSpec>()
    }

    /// The queued commands, in order.
    pub fn commands(&self) -> impl Iterator<Item = (&'static CommandSpec, Args<'_>)> + '_ {
        self.specs.iter().enumerate().map(|(i, &s)| (s, self.args.get(i)))
    }
}

/// A watched key: database, key, and whether it existed when watched (a
/// key that existed then and is gone or expired at EXEC counts as changed).
#[derive(Clone)]
pub struct WatchedKey {
    db: usize,
    key: Vec<u8>,
    existed: bool,
}

/// The keys a client watches and the flag their shards set on a change.
pub struct WatchState {
    flag: Arc<WatchFlag>,
    keys: Vec<WatchedKey>,
}

impl WatchState {
    /// The watched keys as (db, key), for CLIENT LIST and INFO.
    pub fn key_list(&self) -> Vec<(usize, Vec<u8>)> {
        self.keys.iter().map(|k| (k.db, k.key.clone())).collect()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Whether the command runs at once even inside MULTI.
pub fn runs_in_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

pub fn cmd_multi(sess: &mut Session, out: &mut Vec<u8>) {
    let mut r = Reply::new(out, sess.resp3);
    if sess.multi.is_some() {
        return r.error(MULTI_NESTED);
    }
    sess.multi = Some(MultiState::default());
    r.ok();
}

pub fn cmd_discard(sess: &mut Session, out: &mut Vec<u8>) {
    let mut r = Reply::new(out, sess.resp3);
    if sess.multi.take().is_none() {
        return r.error(DISCARD_WITHOUT_MULTI);
    }
    sess.watch = None;
    r.ok();
}

pub fn cmd_unwatch(sess: &mut Session, out: &mut Vec<u8>) {
    sess.watch = None;
    Reply::new(out, sess.resp3).ok();
}

pub async fn cmd_watch(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    if sess.multi.is_some() {
        return Reply::new(out, sess.resp3).error(WATCH_IN_MULTI);
    }
    let shard = sess.shard.clone();
    let flag = match &sess.watch {
        Some(w) => w.flag.clone(),
        None => Arc::new(WatchFlag::default()),
    };
    let db = sess.db;
    let mut by_shard: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for i in 1..args.len() {
        let k = args.get(i);
        let already = sess
            .watch
            .as_ref()
            .is_some_and(|w| w.keys.iter().any(|x| x.db == db && x.key == k));
        if !already {
            by_shard.entry(key_shard(k, shard.count)).or_default().push(k.to_vec());
        }
    }
    let mut added = Vec::new();
    for (s, keys) in by_shard {
        let f = flag.clone();
        let existed = coordinator::run_on(&shard, s, move |sh| {
            let now = now_ms();
            let mut ks = sh.ks.borrow_mut();
            let mut w = sh.watches.borrow_mut();
            keys.into_iter()
                .map(|k| {
                    w.add(db, &k, &f);
                    let e = watch::exists(&mut ks, db, &k, now);
                    (k, e)
                })
                .collect::<Vec<_>>()
        })
        .await;
        added.extend(
            existed
                .into_iter()
                .map(|(key, existed)| WatchedKey { db, key, existed }),
        );
    }
    match &mut sess.watch {
        Some(w) => w.keys.extend(added),
        None => sess.watch = Some(WatchState { flag, keys: added }),
    }
    Reply::new(out, sess.resp3).ok();
}

/// Whether a watched key changed: its flag is set, or it existed when
/// watched and is gone now (deleted, or expired even if not yet reclaimed).
fn watch_broken(sh: &Shard, flag: &WatchFlag, keys: &[WatchedKey]) -> bool {
    if flag.is_dirty() {
        return true;
    }
    let now = now_ms();
    let mut ks = sh.ks.borrow_mut();
    keys.iter()
        .any(|k| k.existed && !watch::exists(&mut ks, k.db, &k.key, now))
}

/// How EXEC runs its queue.
enum Plan {
    /// Everything on one shard.
    Single(usize),
    /// Key locks per shard.
    Keys(BTreeMap<usize, Vec<KeyId>>),
    /// Every shard locked whole.
    Global,
}

fn plan(sess: &Session, m: &MultiState, watched: &[WatchedKey]) -> Plan {
    let shards = sess.shard.count;
    let mut locks: BTreeMap<usize, Vec<KeyId>> = BTreeMap::new();
    let mut cross = false;
    for (n, &spec) in m.specs.iter().enumerate() {
        if matches!(spec.handler, Handler::Conn(_)) || spec.flags & flags::CROSS_DB != 0 {
            return Plan::Global;
        }
        let args = m.args.get(n);
        let mut first = None;
        for i in spec.key_indices(&args) {
            let k = args.get(i);
            let s = key_shard(k, shards);
            cross |= first.is_some_and(|f| f != s);
            first = Some(s);
            locks.entry(s).or_default().push(key_id(sess.db, k));
        }
    }
    for w in watched {
        locks
            .entry(key_shard(&w.key, shards))
            .or_default()
            .push(key_id(w.db, &w.key));
    }
    match locks.len() {
        0 => Plan::Single(sess.shard.id),
        1 if !cross => Plan::Single(*locks.keys().next().expect("one shard")),
        _ => {
            for ids in locks.values_mut() {
                ids.sort();
                ids.dedup();
            }
            Plan::Keys(locks)
        }
    }
}

/// Commands of one shard, owned so they can travel there.
#[derive(Default)]
struct Part {
    args: ArgsBuf,
    cmds: Vec<(&'static CommandSpec, ShardFn)>,
}

impl Part {
    fn push(&mut self, spec: &'static CommandSpec, handler: ShardFn, args: &Args) {
        self.args.push(args);
        self.cmds.push((spec, handler));
    }

    /// Whether a command of this part must wait for other transactions.
    fn blocked(&self, sh: &Shard, db: usize, watched: &[WatchedKey]) -> bool {
        (0..self.cmds.len()).any(|i| must_wait(sh, self.cmds[i].0, &self.args.get(i), db))
            || watched.iter().any(|w| sh.gate.key_locked(w.db, &w.key))
    }

    /// Runs every command, replies appended to `out`; blocked clients are
    /// left for the caller to serve (returned keys).
    fn run(&self, sh: &Rc<Shard>, db: usize, resp3: bool, no_touch: bool, out: &mut Vec<u8>) -> Vec<(usize, Vec<u8>)> {
        let now = now_ms();
        let ((), keys) = super::collect_wakeups(|| {
            super::observe::begin();
            for (i, &(spec, handler)) in self.cmds.iter().enumerate() {
                super::execute(sh, spec, handler, &self.args.get(i), db, resp3, no_touch, now, out);
            }
        });
        keys
    }
}

pub async fn cmd_exec(sess: &mut Session, out: &mut Vec<u8>) {
    let Some(m) = sess.multi.take() else {
        return Reply::new(out, sess.resp3).error(EXEC_WITHOUT_MULTI);
    };
    let watch = sess.watch.take();
    if m.aborted {
        return Reply::new(out, sess.resp3).error(EXECABORT);
    }
    let watched = watch.as_ref().map(|w| w.keys.clone()).unwrap_or_default();
    let flag = watch.map(|w| w.flag);
    // ACL rules may have changed since the commands were queued (Redis
    // checks again at EXEC); a denied command gets an error in its place.
    let mut denied = Vec::new();
    if sess.acl_ok != sess.shard.acl.generation() {
        denied = (0..m.specs.len())
            .map(|i| super::acl::exec_recheck(sess, m.specs[i], &m.args.get(i)))
            .collect();
        if denied.iter().all(|d| d.is_none()) {
            denied.clear();
        }
    }
    // Scripts inside check their writes against memory as EXEC found it.
    sess.exec_oom = m
        .specs
        .iter()
        .any(|s| matches!(s.handler, Handler::Conn(super::ConnCmd::Eval)))
        && super::oom::out_of_memory(sess);
    if !denied.is_empty() {
        return exec_locked(sess, m, None, flag, watched, denied, out).await;
    }
    match plan(sess, &m, &watched) {
        Plan::Single(target) => exec_single(sess, m, target, flag, watched, out).await,
        Plan::Keys(locks) => exec_locked(sess, m, Some(locks), flag, watched, denied, out).await,
        Plan::Global => exec_locked(sess, m, None, flag, watched, denied, out).await,
    }
}

/// A whole transaction bound for one shard.
struct SingleJob {
    part: Part,
    flag: Option<Arc<WatchFlag>>,
    watched: Vec<WatchedKey>,
    db: usize,
    resp3: bool,
    no_touch: bool,
}

impl SingleJob {
    fn blocked(&self, sh: &Shard) -> bool {
        self.part.blocked(sh, self.db, &self.watched)
    }

    /// None when a watched key changed.
    fn run(&self, sh: &Rc<Shard>) -> Option<Vec<u8>> {
        if let Some(f) = &self.flag {
            if watch_broken(sh, f, &self.watched) {
                return None;
            }
        }
        let n = self.part.cmds.len();
        let mut buf = Vec::with_capacity(32 * n + 8);
        Reply::new(&mut buf, self.resp3).array_len(n);
        let keys = self.part.run(sh, self.db, self.resp3, self.no_touch, &mut buf);
        super::serve_wakeups(sh, &keys, now_ms());
        Some(buf)
    }
}

/// The whole transaction as one job on `target`.
async fn exec_single(
    sess: &mut Session,
    m: MultiState,
    target: usize,
    flag: Option<Arc<WatchFlag>>,
    watched: Vec<WatchedKey>,
    out: &mut Vec<u8>,
) {
    let mut part = Part::default();
    for (i, &spec) in m.specs.iter().enumerate() {
        let Handler::Shard(h) = spec.handler else {
            unreachable!("single-shard plans hold shard commands only")
        };
        part.push(spec, h, &m.args.get(i));
    }
    let job = SingleJob {
        part,
        flag,
        watched,
        db: sess.db,
        resp3: sess.resp3,
        no_touch: sess.no_touch,
    };
    let done = coordinator::run_when_free(&sess.shard, target, job, |sh, j| j.blocked(sh), |sh, j| j.run(sh)).await;
    match done {
        Some(buf) => out.extend_from_slice(&buf),
        None => Reply::new(out, sess.resp3).null_array(),
    }
}

/// The transaction under a cross-shard lock: key locks per shard (`locks`)
/// or every shard whole (None).
async fn exec_locked(
    sess: &mut Session,
    m: MultiState,
    locks: Option<BTreeMap<usize, Vec<KeyId>>>,
    flag: Option<Arc<WatchFlag>>,
    watched: Vec<WatchedKey>,
    denied: Vec<Option<Vec<u8>>>,
    out: &mut Vec<u8>,
) {
    let is_denied = |i: usize| denied.get(i).is_some_and(|d| d.is_some());
    let shard = sess.shard.clone();
    let shards = shard.count;
    let mut tx = Tx::new(&shard);
    let mut broken = false;
    let watched_on = |s: usize| -> Vec<WatchedKey> {
        watched
            .iter()
            .filter(|w| key_shard(&w.key, shards) == s)
            .cloned()
            .collect()
    };
    match locks {
        Some(locks) => {
            for (s, ids) in locks {
                let (f, w) = (flag.clone(), watched_on(s));
                broken |= tx
                    .lock_keys_run(s, ids, move |sh| f.is_some_and(|f| watch_broken(sh, &f, &w)))
                    .await;
            }
        }
        None => {
            for s in 0..shards {
                tx.lock_shard(s).await;
                let (f, w) = (flag.clone(), watched_on(s));
                if f.is_some() && !w.is_empty() {
                    broken |= tx.run(s, move |sh| f.is_some_and(|f| watch_broken(sh, &f, &w))).await;
                }
            }
            broken |= flag.as_ref().is_some_and(|f| f.is_dirty());
        }
    }
    if broken {
        tx.finish().await;
        return Reply::new(out, sess.resp3).null_array();
    }
    let outer = sess.tx;
    sess.tx = tx.id();
    Reply::new(out, sess.resp3).array_len(m.specs.len());
    let mut wakeups: BTreeMap<usize, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
    let mut i = 0;
    while i < m.specs.len() {
        let spec = m.specs[i];
        let args = m.args.get(i);
        if let Some(Some(msg)) = denied.get(i) {
            Reply::new(out, sess.resp3).error_bytes(msg);
            i += 1;
            continue;
        }
        match spec.handler {
            Handler::Shard(h) => match route(spec, &args, shards, shard.id) {
                Route::Shard(target) => {
                    // This command and the next ones for the same shard: one hop.
                    let mut part = Part::default();
                    part.push(spec, h, &args);
                    i += 1;
                    while i < m.specs.len() && !is_denied(i) {
                        let (next, nargs) = (m.specs[i], m.args.get(i));
                        match (next.handler, route(next, &nargs, shards, shard.id)) {
                            (Handler::Shard(h2), Route::Shard(t2)) if t2 == target => part.push(next, h2, &nargs),
                            _ => break,
                        }
                        i += 1;
                    }
                    let (db, resp3, no_touch) = (sess.db, sess.resp3, sess.no_touch);
                    let (buf, keys) = tx
                        .run(target, move |sh| {
                            let mut buf = Vec::new();
                            let keys = part.run(sh, db, resp3, no_touch, &mut buf);
                            // Messages and events go out with the part;
                            // wake-ups wait for the transaction's end.
                            super::publish_events(sh);
                            (buf, keys)
                        })
                        .await;
                    out.extend_from_slice(&buf);
                    wakeups.entry(target).or_default().extend(keys);
                    continue;
                }
                Route::Cross => {
                    let start = out.len();
                    let t0 = super::observe::ticks();
                    match spec.cross {
                        Some(how) => Box::pin(super::cross::execute(sess, spec, how, &args, out)).await,
                        None => Reply::new(out, sess.resp3).error(err::CROSSSLOT),
                    }
                    let ns = super::observe::ticks_to_ns(super::observe::ticks().wrapping_sub(t0));
                    super::observe::conn_command_done(sess, spec, &args, ns, &out[start..]);
                }
            },
            Handler::Conn(c) => {
                let start = out.len();
                let t0 = super::observe::ticks();
                Box::pin(super::exec_conn(sess, c, &args, out)).await;
                let ns = super::observe::ticks_to_ns(super::observe::ticks().wrapping_sub(t0));
                super::observe::conn_command_done(sess, spec, &args, ns, &out[start..]);
            }
        }
        i += 1;
    }
    for (s, keys) in wakeups {
        if !keys.is_empty() {
            tx.run(s, move |sh| super::serve_wakeups(sh, &keys, now_ms())).await;
        }
    }
    sess.tx = outer;
    tx.finish().await;
}
