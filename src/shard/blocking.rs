//! Blocked clients: BLPOP and friends, and later XREAD BLOCK.
//!
//! A blocked client registers a *waiter* on every key it waits for, on the
//! shard that owns that key, in FIFO order per key. A waiter carries a
//! serve function that knows what the client wants (pop one element from
//! the left, move it to another list, pop the lowest member ...).
//!
//! Serving happens on the key's shard, right after the command (or the
//! transaction's write-back) that made the key ready, before that shard runs
//! anything else: this is when Redis serves blocked clients too, so a client
//! that pushes and then reads the list sees the element already gone.
//!
//! Exactly once across shards: a client blocked on keys of several shards
//! has one [`Waiter`] shared by its registrations. Whoever serves it first
//! must *claim* it (one compare-and-swap on an atomic flag, the only state
//! shared between shards here: it is written at most once per blocking
//! call, so it costs nothing on the data path) before taking anything from
//! the key; the client's timeout, CLIENT UNBLOCK and disconnection claim it
//! the same way. A claim that fails means someone else won, and nothing is
//! popped. The element therefore leaves the key only for a client that is
//! still waiting, and reaches it exactly once.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use futures_channel::mpsc;
use futures_lite::StreamExt;
use hashbrown::HashMap;

use super::coordinator::{self, Tx};
use super::{key_id, ClientInfo, Shard};
use crate::acl::{Resolved, User};
use crate::command::args::ArgsBuf;
use crate::command::CommandSpec;
use crate::config::Limits;
use crate::storage::Keyspace;

/// What a blocked client is told.
pub enum Wake {
    /// Its reply, already encoded.
    Served(Vec<u8>),
    /// A key became ready but serving needs more than the key's shard (a
    /// move to a list of another shard): claimed; the client runs the
    /// command again itself.
    Retry,
    /// CLIENT UNBLOCK: with `error`, reply -UNBLOCKED instead of a timeout.
    Unblock { error: bool },
    /// A key became ready but the client's user may no longer run the
    /// command (ACL rules changed while it waited): claimed, nothing
    /// taken; the client checks again and replies NOPERM.
    Denied,
    /// The shard's sweep saw the deadline pass, the client killed, or its
    /// peer gone: look.
    Tick,
}

/// The shared part of one blocking call.
pub struct Waiter {
    claimed: AtomicBool,
    tx: mpsc::UnboundedSender<Wake>,
    /// What a key's shard checks again before serving when ACL rules
    /// changed since the client blocked (None: never checked).
    permit: Option<Permit>,
}

/// A blocked command as its user ran it, so that a key's shard can check
/// it again when ACL rules change while it waits: Redis runs the whole
/// ACL check again when it reprocesses a blocked command.
pub struct Permit {
    /// The user the command was allowed for (one `Arc` for all shards).
    pub user: Arc<User>,
    pub spec: &'static CommandSpec,
    /// The command's arguments (one command).
    pub args: ArgsBuf,
}

impl Permit {
    /// Whether `sh`'s current definition of the user still allows the
    /// command; None when the user is gone (its clients are being closed).
    fn allowed(&self, sh: &Shard) -> Option<bool> {
        let users = sh.acl.users.borrow();
        let user = users.get(&self.user.name)?;
        if Arc::ptr_eq(user, &self.user) {
            return Some(true);
        }
        let args = self.args.get(0);
        Some(user.check(&Resolved::of(self.spec, &args), &args).is_ok())
    }

    /// The generation of `sh`'s ACL rules at which this permit holds (0
    /// when it must be checked at the next serve).
    fn generation(&self, sh: &Shard) -> u64 {
        let users = sh.acl.users.borrow();
        match users.get(&self.user.name) {
            Some(u) if Arc::ptr_eq(u, &self.user) => sh.acl.generation(),
            _ => 0,
        }
    }
}

impl Waiter {
    /// Takes the right to answer this client. True exactly once.
    pub fn claim(&self) -> bool {
        self.claimed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    fn send(&self, w: Wake) {
        let _ = self.tx.unbounded_send(w);
    }
}

/// What a serve function sees: the key's shard data and the right to claim.
pub struct ServeCtx<'a> {
    pub ks: &'a mut Keyspace,
    pub db: usize,
    pub key: &'a [u8],
    pub now_ms: u64,
    pub clock: u32,
    pub limits: Limits,
    shards: usize,
    shard_id: usize,
    /// True while the command first runs (errors such as WRONGTYPE are
    /// replied then); false when serving a client that was waiting.
    pub immediate: bool,
    /// A serve function must claim through `waiter.claim()`, and get true,
    /// before it changes anything.
    pub waiter: &'a Waiter,
    /// Keys of this shard the serve function wrote (a move's destination):
    /// they may wake other clients in turn.
    pub touched: Vec<Vec<u8>>,
}

impl ServeCtx<'_> {
    /// Whether `key` (of the same database) lives on this shard too, so a
    /// serve function may write it here.
    pub fn owns(&self, key: &[u8]) -> bool {
        super::slot::key_shard(key, self.shards) == self.shard_id
    }
}

/// Result of one serve attempt.
pub enum Outcome {
    /// The key cannot serve anyone now (absent, empty, another type).
    NotReady,
    /// This client cannot be served but the next one may be.
    Skip,
    /// Claimed by someone else meanwhile: drop this registration.
    Lost,
    /// Claimed and served: the reply.
    Served(Vec<u8>),
    /// Claimed; the client must run the command again (see [`Wake::Retry`]).
    Retry,
}

pub type ServeFn = dyn Fn(&mut ServeCtx) -> Outcome + Send + Sync;

struct Registration {
    id: u64,
    waiter: Arc<Waiter>,
    serve: Arc<ServeFn>,
    kind: WaitKind,
    /// The shard's ACL generation at which the waiter's permit was last
    /// found to hold (see [`Permit`]).
    acl_gen: u64,
}

/// What a blocked client waits for. Waiters of a kind that cannot be
/// served from a key's current value are skipped together; stream readers
/// each wait for their own ID, so they are tried one by one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitKind {
    List,
    ZSet,
    Stream,
    /// XREADGROUP of this group: also woken when the key is deleted. When
    /// one such reader cannot be served, no reader of the same group on the
    /// same key can.
    StreamGroup(Arc<[u8]>),
}

impl WaitKind {
    /// Whether Redis would run a waiter of this kind again for `key` as
    /// it is now (a value of the awaited type; any change for a group
    /// reader): the moment its command is checked against ACL again.
    fn wakes_on(&self, sh: &Shard, db: usize, key: &[u8], now_ms: u64) -> bool {
        let want = match self {
            WaitKind::List => "list",
            WaitKind::ZSet => "zset",
            WaitKind::Stream => "stream",
            WaitKind::StreamGroup(_) => return true,
        };
        let ks = sh.ks.borrow();
        ks.dbs[db]
            .peek(key)
            .is_some_and(|e| !e.is_expired(now_ms) && e.value.type_name() == want)
    }
}

/// A shard's blocked-client registry.
#[derive(Default)]
pub struct Registry {
    /// Waiters per (db, key), FIFO.
    keys: HashMap<Vec<u8>, VecDeque<Registration>>,
    /// Keys with waiters written since the last serve pass.
    ready: Vec<Vec<u8>>,
    /// Clients of this shard blocked right now (INFO blocked_clients).
    pub blocked_clients: usize,
    /// The same clients, by waiter, for [`sweep`].
    sleepers: HashMap<u64, Sleeper>,
    sweeps: u32,
}

/// A blocked client of this shard as the sweep sees it.
struct Sleeper {
    tx: mpsc::UnboundedSender<Wake>,
    waiter: Arc<Waiter>,
    deadline_ms: u64,
    info: Rc<ClientInfo>,
}

thread_local! {
    /// Whether this shard has blocked clients (so expiries are noted).
    static WAITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Keys with waiters that expired since the last [`serve_expired`].
    static EXPIRED: std::cell::RefCell<Vec<(usize, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes that `key` of `db` expired (lazily or actively): a group reader
/// blocked on it must hear that its group is gone. One thread-local read
/// when nobody is blocked.
#[inline]
pub fn key_expired(db: usize, key: &[u8]) {
    if WAITING.with(|w| w.get()) {
        EXPIRED.with(|e| e.borrow_mut().push((db, key.to_vec())));
        crate::command::mark_outgoing();
    }
}

/// Serves the waiters of the keys that expired (after the command or tick
/// that reclaimed them).
pub fn serve_expired(shard: &Shard) {
    let expired = EXPIRED.with(|e| std::mem::take(&mut *e.borrow_mut()));
    if expired.is_empty() {
        return;
    }
    {
        let mut reg = shard.blocking.borrow_mut();
        for (db, k) in &expired {
            reg.signal(*db, k);
        }
    }
    serve_ready(shard, crate::util::now_ms());
}

/// The registry key: database number then key bytes.
fn reg_key(db: usize, key: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + key.len());
    v.extend_from_slice(&(db as u32).to_le_bytes());
    v.extend_from_slice(key);
    v
}

fn split_reg_key(k: &[u8]) -> (usize, &[u8]) {
    let db = u32::from_le_bytes(k[..4].try_into().expect("4 bytes")) as usize;
    (db, &k[4..])
}

impl Registry {
    /// Whether no client waits on this shard's keys (the common case: then
    /// commands skip every blocking check).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys with at least one waiter (INFO total_blocking_keys).
    pub fn blocking_keys(&self) -> usize {
        self.keys.len()
    }

    /// Keys with a waiter that a deletion wakes too (INFO
    /// total_blocking_keys_on_nokey).
    pub fn blocking_keys_on_nokey(&self) -> usize {
        self.keys
            .values()
            .filter(|q| q.iter().any(|r| matches!(r.kind, WaitKind::StreamGroup(_))))
            .count()
    }

    /// Notes that `key` was written; waiters on it are served at the next
    /// [`serve_ready`].
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        let k = reg_key(db, key);
        if self.keys.contains_key(&k) && !self.ready.contains(&k) {
            self.ready.push(k);
        }
    }

    fn remove(&mut self, k: &[u8], id: u64) {
        if let Some(q) = self.keys.get_mut(k) {
            q.retain(|r| r.id != id);
            if q.is_empty() {
                self.keys.remove(k);
                if self.keys.is_empty() {
                    WAITING.with(|w| w.set(false));
                }
            }
        }
    }
}

/// Serves waiters of every key signalled since the last pass, in FIFO order
/// per key, as long as keys can serve them. Called after each command.
pub fn serve_ready(shard: &Shard, now_ms: u64) {
    loop {
        let Some(k) = shard.blocking.borrow_mut().ready.pop() else {
            return;
        };
        let (db, key) = split_reg_key(&k);
        let mut i = 0;
        // Groups found with nothing to deliver in this pass.
        let mut dry: Vec<Arc<[u8]>> = Vec::new();
        loop {
            let (id, waiter, serve, kind, acl_gen) = {
                let reg = shard.blocking.borrow();
                match reg.keys.get(&k).and_then(|q| q.get(i)) {
                    Some(r) => (r.id, r.waiter.clone(), r.serve.clone(), r.kind.clone(), r.acl_gen),
                    None => break,
                }
            };
            if let WaitKind::StreamGroup(g) = &kind {
                if dry.iter().any(|d| d == g) && !waiter.is_claimed() {
                    i += 1;
                    continue;
                }
            }
            if waiter.is_claimed() {
                shard.blocking.borrow_mut().remove(&k, id);
                continue;
            }
            // ACL rules changed since the waiter last passed: check again
            // before it takes anything (one compare otherwise).
            if acl_gen != shard.acl.generation() {
                if let Some(p) = &waiter.permit {
                    match p.allowed(shard) {
                        Some(true) => {
                            let mut reg = shard.blocking.borrow_mut();
                            if let Some(r) = reg.keys.get_mut(&k).and_then(|q| q.get_mut(i)) {
                                r.acl_gen = shard.acl.generation();
                            }
                        }
                        // Denied: refused when the key would have served
                        // it, as Redis refuses the command it runs again.
                        Some(false) if kind.wakes_on(shard, db, key, now_ms) => {
                            shard.blocking.borrow_mut().remove(&k, id);
                            if waiter.claim() {
                                waiter.send(Wake::Denied);
                            }
                            continue;
                        }
                        // Not ready for it, or its user is gone (and the
                        // client with it): leave it.
                        _ => {
                            i += 1;
                            continue;
                        }
                    }
                }
            }
            let (outcome, touched) = run_serve(shard, db, key, now_ms, &waiter, &*serve, false);
            match outcome {
                Outcome::NotReady => {
                    // The key serves no waiter of this kind now (a stream
                    // reader only knows for itself): skip to the next kind.
                    i += 1;
                    if let WaitKind::StreamGroup(g) = kind {
                        dry.push(g);
                    } else if kind != WaitKind::Stream {
                        let reg = shard.blocking.borrow();
                        if let Some(q) = reg.keys.get(&k) {
                            while q.get(i).is_some_and(|r| r.kind == kind) {
                                i += 1;
                            }
                        }
                    }
                }
                Outcome::Skip => i += 1,
                Outcome::Lost => shard.blocking.borrow_mut().remove(&k, id),
                Outcome::Served(reply) => {
                    let mut reg = shard.blocking.borrow_mut();
                    reg.remove(&k, id);
                    for t in touched {
                        reg.signal(db, &t);
                    }
                    drop(reg);
                    waiter.send(Wake::Served(reply));
                }
                Outcome::Retry => {
                    shard.blocking.borrow_mut().remove(&k, id);
                    waiter.send(Wake::Retry);
                }
            }
        }
    }
}

/// Serves at once from `key` of this shard if it can, for a blocking
/// command that must not block (inside a script): a throwaway waiter that
/// nobody else can claim.
pub fn serve_now(shard: &Shard, db: usize, key: &[u8], serve: &ServeFn) -> Outcome {
    let (tx, _rx) = mpsc::unbounded();
    let waiter = Waiter {
        claimed: AtomicBool::new(false),
        tx,
        permit: None,
    };
    let now = crate::util::now_ms();
    let (outcome, touched) = run_serve(shard, db, key, now, &waiter, serve, true);
    if matches!(outcome, Outcome::Served(_)) {
        // Written keys wake other waiters (deferred while a script runs).
        crate::command::note_written(
            shard,
            db,
            std::iter::once(key).chain(touched.iter().map(|t| t.as_slice())),
            now,
        );
    }
    outcome
}

/// Runs one serve function on `key` of this shard; returns its outcome and
/// the keys it wrote besides `key`.
fn run_serve(
    shard: &Shard,
    db: usize,
    key: &[u8],
    now_ms: u64,
    waiter: &Waiter,
    serve: &ServeFn,
    immediate: bool,
) -> (Outcome, Vec<Vec<u8>>) {
    let limits = shard.config.borrow().limits;
    let mut ks = shard.ks.borrow_mut();
    let mut ctx = ServeCtx {
        ks: &mut ks,
        db,
        key,
        now_ms,
        clock: (now_ms / 1000) as u32,
        limits,
        shards: shard.count,
        shard_id: shard.id,
        immediate,
        waiter,
        touched: Vec::new(),
    };
    // What serving one client logs is one block (a group read's XCLAIMs).
    crate::persist::propagate::begin_tx();
    let outcome = serve(&mut ctx);
    crate::persist::propagate::end_tx();
    if matches!(outcome, Outcome::Served(_)) {
        // Tracking clients hear of the keys it took from and wrote.
        super::tracking::keys_modified(
            shard,
            std::iter::once(key).chain(ctx.touched.iter().map(|t| t.as_slice())),
        );
        // Serving took from the key (and maybe wrote others): WATCHers see a change.
        let mut w = shard.watches.borrow_mut();
        if !w.is_empty() {
            w.touch(db, key);
            for t in &ctx.touched {
                w.touch(db, t);
            }
        }
    }
    (outcome, ctx.touched)
}

/// Signals the keys a command wrote and serves their waiters. Cheap when
/// nobody is blocked on this shard.
#[inline]
pub fn after_write<'k>(shard: &Shard, db: usize, keys: impl Iterator<Item = &'k [u8]>, now_ms: u64) {
    if shard.blocking.borrow().is_empty() {
        return;
    }
    {
        let mut reg = shard.blocking.borrow_mut();
        for k in keys {
            reg.signal(db, k);
        }
    }
    serve_ready(shard, now_ms);
}

/// Signals every waited-for key of databases `dbs` (SWAPDB) and serves.
pub fn signal_databases(shard: &Shard, dbs: &[usize], now_ms: u64) {
    {
        let mut guard = shard.blocking.borrow_mut();
        let reg = &mut *guard;
        for k in reg.keys.keys() {
            if dbs.contains(&split_reg_key(k).0) && !reg.ready.contains(k) {
                reg.ready.push(k.clone());
            }
        }
    }
    serve_ready(shard, now_ms);
}

/// How a blocking call ended without being served.
pub enum Unserved {
    TimedOut,
    /// CLIENT UNBLOCK ... ERROR.
    Unblocked,
    /// The command must run again (see [`Wake::Retry`]).
    Retry,
    /// The client's user may no longer run the command (see
    /// [`Wake::Denied`]): check again and refuse it.
    Denied,
    /// The client went away (disconnected or killed).
    Gone,
}

static NEXT_WAITER: AtomicU64 = AtomicU64::new(1);

/// Every how many sweeps the sockets of blocked clients are polled.
const SOCKET_SWEEPS: u32 = 2;

/// Tells each blocked client of this shard whose deadline passed, who was
/// killed, or (every [`SOCKET_SWEEPS`] sweeps) whose peer went away, to look.
/// Run by the shard's periodic task (every 10 ms), so waiting costs no timer
/// per blocked call, and timeouts have the cron's granularity, as in Redis.
/// A client already claimed by another shard is told too: that shard's
/// wake-up may have been lost (see ARCHITECTURE.md, Lost wake-ups), and a
/// wake from this thread is not.
pub fn sweep(shard: &Shard) {
    let mut reg = shard.blocking.borrow_mut();
    if reg.sleepers.is_empty() {
        return;
    }
    reg.sweeps = reg.sweeps.wrapping_add(1);
    let sockets = reg.sweeps.is_multiple_of(SOCKET_SWEEPS);
    let now = crate::util::now_ms();
    for s in reg.sleepers.values() {
        let due = s.deadline_ms != 0 && now >= s.deadline_ms;
        if due || s.waiter.is_claimed() || s.info.killed.get() || (sockets && peer_closed(s.info.fd)) {
            let _ = s.tx.unbounded_send(Wake::Tick);
        }
    }
}

/// Whether the client's peer closed the connection (or it broke), even
/// with unread input still queued (POLLRDHUP).
fn peer_closed(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout: a non-blocking check.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

/// Blocks the client `info` (of `shard`) on `keys` of database `db`, in
/// argument order, until `serve` serves it on one of them, `deadline_ms`
/// (unix ms, 0 = never) passes, or it is unblocked. Keys are first tried in
/// order (the first that can serve wins at once, as Redis's immediate
/// path); registration happens in the same step per shard, so no push can
/// slip between the check and the registration. `permit` is checked again
/// before serving if ACL rules change meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn block_on_keys(
    shard: &Rc<Shard>,
    info: &Rc<ClientInfo>,
    db: usize,
    keys: &[Vec<u8>],
    serve: Arc<ServeFn>,
    deadline_ms: u64,
    outer: super::TxId,
    kind: WaitKind,
    permit: Option<Permit>,
) -> Result<Vec<u8>, Unserved> {
    // Inside a transaction (EXEC, a script) a blocking command never
    // blocks: it serves at once or times out at once, as in Redis.
    let nowait = outer != 0;
    let (tx, mut rx) = mpsc::unbounded();
    let waiter = Arc::new(Waiter {
        claimed: AtomicBool::new(false),
        tx: tx.clone(),
        permit: permit.filter(|_| !nowait),
    });
    let id = NEXT_WAITER.fetch_add(1, Ordering::Relaxed);
    // Consecutive keys of one shard go in one hop.
    let mut hops: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    for k in keys {
        let s = super::slot::key_shard(k, shard.count);
        match hops.last_mut() {
            Some((last, ks)) if *last == s => ks.push(k.clone()),
            _ => hops.push((s, vec![k.clone()])),
        }
    }
    let mut registered: Vec<(usize, Vec<Vec<u8>>)> = Vec::new();
    let mut early: Option<Outcome> = None;
    for (s, hop_keys) in hops {
        let (w, sv, ks2, kind) = (waiter.clone(), serve.clone(), hop_keys.clone(), kind.clone());
        let outcome = if outer == 0 {
            // Once no transaction holds these keys there: one message each
            // way, no lock to take and release.
            let blocked = move |sh: &Shard, ks: &Vec<Vec<u8>>| {
                !sh.gate.is_open_for(0) || (sh.gate.has_key_locks() && ks.iter().any(|k| sh.gate.key_locked(db, k)))
            };
            coordinator::submit_when_free(shard, s, ks2, blocked, move |sh, ks2| {
                attempt(sh, db, &ks2, id, &w, &sv, nowait, kind)
            })
            .await
            .wait()
            .await
        } else {
            let ids = hop_keys.iter().map(|k| key_id(db, k)).collect();
            let mut t = Tx::within(shard, outer);
            let outcome = t
                .lock_keys_run(s, ids, move |sh| attempt(sh, db, &ks2, id, &w, &sv, nowait, kind))
                .await;
            t.finish().await;
            outcome
        };
        if !nowait {
            registered.push((s, hop_keys));
        }
        if let Some(o) = outcome {
            early = Some(o);
            break;
        }
    }
    let waited = early.is_none() && !nowait;
    let result = match early {
        Some(Outcome::Served(reply)) => Ok(reply),
        Some(Outcome::Retry) => Err(Unserved::Retry),
        _ if nowait => Err(Unserved::TimedOut),
        // Lost: another shard claimed us meanwhile; its reply is on the way.
        _ => wait(shard, info, id, &waiter, &mut rx, tx, deadline_ms).await,
    };
    // Waiting on one key, served (or told to retry) by that key's shard:
    // the shard already dropped the registration, so no hop is needed.
    let only_key = registered.len() == 1 && registered[0].1.len() == 1;
    if waited && only_key && matches!(result, Ok(_) | Err(Unserved::Retry) | Err(Unserved::Denied)) {
        return result;
    }
    deregister(shard, db, id, registered).await;
    result
}

/// Tries `keys` in order on this shard and registers the waiter on each
/// that cannot serve. Returns the outcome that ended the attempt early.
#[allow(clippy::too_many_arguments)]
fn attempt(
    sh: &Rc<Shard>,
    db: usize,
    keys: &[Vec<u8>],
    id: u64,
    waiter: &Arc<Waiter>,
    serve: &Arc<ServeFn>,
    nowait: bool,
    kind: WaitKind,
) -> Option<Outcome> {
    let now = crate::util::now_ms();
    let acl_gen = waiter.permit.as_ref().map_or(0, |p| p.generation(sh));
    for key in keys {
        match run_serve(sh, db, key, now, waiter, &**serve, true) {
            (o @ (Outcome::Served(_) | Outcome::Retry | Outcome::Lost), touched) => {
                after_write(sh, db, touched.iter().map(|t| t.as_slice()), now);
                crate::command::publish_events(sh);
                return Some(o);
            }
            _ if nowait => {}
            _ => {
                WAITING.with(|w| w.set(true));
                sh.blocking
                    .borrow_mut()
                    .keys
                    .entry(reg_key(db, key))
                    .or_default()
                    .push_back(Registration {
                        id,
                        waiter: waiter.clone(),
                        serve: serve.clone(),
                        kind: kind.clone(),
                        acl_gen,
                    });
            }
        }
    }
    None
}

/// Waits for the waiter's fate. Any claim this side makes (timeout,
/// unblock, disconnect) succeeds only if no shard served the client first;
/// if one did, its reply is already on the way and is waited for.
async fn wait(
    shard: &Rc<Shard>,
    info: &Rc<ClientInfo>,
    id: u64,
    waiter: &Arc<Waiter>,
    rx: &mut mpsc::UnboundedReceiver<Wake>,
    tx: mpsc::UnboundedSender<Wake>,
    deadline_ms: u64,
) -> Result<Vec<u8>, Unserved> {
    {
        let mut reg = shard.blocking.borrow_mut();
        reg.blocked_clients += 1;
        reg.sleepers.insert(
            id,
            Sleeper {
                tx: tx.clone(),
                waiter: waiter.clone(),
                deadline_ms,
                info: info.clone(),
            },
        );
    }
    *info.unblock.borrow_mut() = Some(tx);
    let mut gone = false;
    let result = loop {
        match rx.next().await {
            Some(Wake::Served(reply)) => {
                if gone {
                    break Err(Unserved::Gone);
                }
                break Ok(reply);
            }
            Some(Wake::Retry) => break Err(Unserved::Retry),
            Some(Wake::Denied) => break Err(if gone { Unserved::Gone } else { Unserved::Denied }),
            Some(Wake::Unblock { error }) => {
                if waiter.claim() {
                    break Err(if error { Unserved::Unblocked } else { Unserved::TimedOut });
                }
            }
            Some(Wake::Tick) => {
                if !gone && (info.killed.get() || peer_closed(info.fd)) {
                    if waiter.claim() {
                        break Err(Unserved::Gone);
                    }
                    gone = true;
                }
                if deadline_ms != 0 && crate::util::now_ms() >= deadline_ms && waiter.claim() {
                    break Err(Unserved::TimedOut);
                }
            }
            None => unreachable!("the client holds a sender"),
        }
    };
    *info.unblock.borrow_mut() = None;
    let mut reg = shard.blocking.borrow_mut();
    reg.sleepers.remove(&id);
    reg.blocked_clients -= 1;
    result
}

/// Removes waiter `id` from every key it registered on.
async fn deregister(shard: &Rc<Shard>, db: usize, id: u64, registered: Vec<(usize, Vec<Vec<u8>>)>) {
    let mut pending = Vec::with_capacity(registered.len());
    for (s, keys) in registered {
        pending.push(
            coordinator::submit(shard, s, 0, super::Lock::None, move |sh| {
                let mut reg = sh.blocking.borrow_mut();
                for k in &keys {
                    reg.remove(&reg_key(db, k), id);
                }
            })
            .await,
        );
    }
    for p in pending {
        p.wait().await;
    }
}

/// CLIENT UNBLOCK on this shard: wakes client `id` if it is blocked.
pub fn unblock_client(shard: &Shard, id: u64, error: bool) -> bool {
    let clients = shard.clients.borrow();
    let Some(c) = clients.get(&id) else {
        return false;
    };
    let tx = c.unblock.borrow();
    match tx.as_ref() {
        Some(tx) => tx.unbounded_send(Wake::Unblock { error }).is_ok(),
        None => false,
    }
}
