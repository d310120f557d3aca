//! Commands: the table that describes them, argument views, and one file per
//! family with its handlers.
//!
//! Two kinds of handlers exist:
//! - shard handlers (`cmd_*` taking a [`Ctx`]) run synchronously on the
//!   shard that owns every key they name, see that shard's data alone, and
//!   write their reply into the context;
//! - connection commands ([`ConnCmd`]) run on the connection's task and may
//!   await the coordinator (fan-out to all shards, cross-shard multi-key
//!   commands) or change connection state (SELECT, HELLO, CLIENT...).

pub mod acl;
pub mod args;
pub mod bitmap;
pub mod blocking;
pub mod connection;
pub mod cross;
pub mod docs;
pub mod dump;
pub mod errors;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod keys;
pub mod keyspecs;
pub mod list;
pub mod memory;
pub mod multi;
pub mod notify;
pub mod observe;
pub mod oom;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod session;
pub mod set;
pub mod stream;
pub mod string;
pub mod table;
pub mod zset;

pub use args::{Args, ArgsBuf};
pub use session::Session;
pub use table::{lookup, CommandSpec, Handler, TABLE};

use crate::protocol::Reply;
use crate::storage::{Db, Keyspace};

/// What a shard handler sees: its shard's keyspace, the selected database,
/// the reply encoder and the command's clock.
pub struct Ctx<'a> {
    /// The shard running the command (for what lives beside the keyspace:
    /// pub/sub).
    pub shard: &'a std::rc::Rc<crate::shard::Shard>,
    pub ks: &'a mut Keyspace,
    pub db: usize,
    pub out: Reply<'a>,
    /// Unix time in ms, read once per batch (like Redis's cached mstime).
    pub now_ms: u64,
    /// Seconds clock for access times (OBJECT IDLETIME).
    pub clock: u32,
    /// CLIENT NO-TOUCH: reads do not update access times.
    pub no_touch: bool,
    /// Number of shards, for commands that must route DB-crossing keys.
    pub shards: usize,
    /// proto-max-bulk-len, the largest string a command may build.
    pub max_bulk_len: usize,
    /// Collection encoding thresholds (hash-max-listpack-entries ...).
    pub limits: crate::config::Limits,
}

impl<'a> Ctx<'a> {
    /// Records `n` changes to the dataset (Redis's dirty counter), which
    /// drive the save rules and decide whether the command is logged.
    #[inline]
    pub fn dirty(&self, n: u64) {
        crate::persist::changed(self.shard, n);
    }

    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.ks.dbs[self.db]
    }

    /// Looks up a live key, refreshing its access time.
    #[inline]
    pub fn lookup(&mut self, key: &[u8]) -> Option<&mut crate::storage::Entry> {
        let now = self.now_ms;
        let clock = self.clock;
        let touch = !self.no_touch;
        let e = self.ks.dbs[self.db].lookup(key, now)?;
        if touch {
            e.touch(clock);
        }
        Some(e)
    }
}

thread_local! {
    /// The output buffer limit of the client whose commands run now on this
    /// thread (usize::MAX: none). A reply that can grow without bound
    /// (HRANDFIELD with a huge negative count) stops early past it: the
    /// client is closed for its limit right after and the reply dropped.
    pub static REPLY_CAP: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Whether a reply buffer of `len` bytes outgrew [`REPLY_CAP`].
#[inline]
pub fn reply_over_cap(len: usize) -> bool {
    REPLY_CAP.with(|c| len > c.get())
}

/// Whether a command may write or replicate (CLIENT PAUSE WRITE holds it,
/// read-only scripts refuse it). PUBLISH and SPUBLISH are may-replicate in
/// Redis 7.4; the table keeps the COMMAND INFO flags the differential tests
/// compare against, so they are named here.
pub fn may_replicate(spec: &CommandSpec, flags: u32) -> bool {
    flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 || matches!(spec.name, "publish" | "spublish")
}

/// Command flags: metadata used for COMMAND INFO, ACL categories and
/// dispatch decisions.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const MAY_REPLICATE: u32 = 1 << 11;
    pub const SENTINEL: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    pub const NO_MULTI: u32 = 1 << 14;
    pub const DANGEROUS: u32 = 1 << 15;
    /// Also writes a key of another database (MOVE, COPY ... DB), which
    /// key positions do not name; not shown by COMMAND INFO.
    pub const CROSS_DB: u32 = 1 << 16;
    /// The key positions name channels: they route the command like keys
    /// (a publish runs on the channel's owner), but COMMAND GETKEYS finds
    /// no keys and COMMAND INFO flags the key spec `not_key`.
    pub const CHANNEL_KEYS: u32 = 1 << 17;
    /// COMMAND INFO shows no key positions at all (PUBLISH).
    pub const HIDE_KEYS: u32 = 1 << 18;
    /// A write that never makes its key ready for blocked clients, which
    /// Redis therefore does not wake (XGROUP SETID moving a group back).
    pub const NO_WAKE: u32 = 1 << 19;

    /// Names as COMMAND INFO prints them, in Redis's order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_MULTI, "no_multi"),
        (FAST, "fast"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Connection-level commands, run on the connection's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnCmd {
    Select,
    Hello,
    Auth,
    Quit,
    Reset,
    Client,
    Info,
    Config,
    Debug,
    Command,
    DbSize,
    Keys,
    Scan,
    RandomKey,
    FlushDb,
    FlushAll,
    SwapDb,
    Shutdown,
    Save,
    BgSave,
    BgRewriteAof,
    LastSave,
    /// Blocking list and sorted-set commands (BLPOP, BZPOPMIN ...).
    Block,
    Multi,
    Exec,
    Discard,
    Watch,
    Unwatch,
    /// EVAL, EVALSHA, FCALL and their _RO forms.
    Eval,
    Script,
    Function,
    Subscribe(crate::shard::pubsub::Kind),
    Unsubscribe(crate::shard::pubsub::Kind),
    PubSub,
    Acl,
    Slowlog,
    Latency,
    Monitor,
    Memory,
}

/// How a multi-key command runs when its keys live on several shards (see
/// `cross.rs`). When they all live on one shard its shard handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cross {
    /// Values fetched per shard and merged in key order.
    MGet,
    /// Pairs written per shard.
    MSet,
    /// DEL, UNLINK, EXISTS, TOUCH: per-shard counts summed.
    CountKeys,
    /// Gather the keys' entries under locks, run the shard handler on a
    /// scratch keyspace, write changed keys back (MSETNX, RENAME, COPY, LCS).
    Gather,
    /// XREAD/XREADGROUP: each shard reads its own streams in place.
    Streams,
}

/// Runs a shard handler on `shard` and counts the call. `out` receives the
/// reply. This is the only way shard handlers are invoked, inline or for a
/// batch that came from another shard. The command's time runs from the
/// thread's timing mark to its end (one clock read, see
/// [`observe::begin`]): callers set the mark before a run of commands.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn execute(
    shard: &std::rc::Rc<crate::shard::Shard>,
    spec: &'static CommandSpec,
    handler: table::ShardFn,
    args: &Args,
    db: usize,
    resp3: bool,
    no_touch: bool,
    now_ms: u64,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    // A container's flags are its subcommand's (XGROUP DESTROY writes).
    let cmd_flags = if spec.subcommands.is_empty() {
        spec.flags
    } else {
        spec.subcommand_flags(args)
    };
    // WATCHed keys are compared before and after a write (rare: one
    // emptiness check otherwise).
    let watched = if cmd_flags & flags::WRITE != 0 && !shard.watches.borrow().is_empty() {
        let all_dbs = spec.flags & flags::CROSS_DB != 0;
        let mut ks = shard.ks.borrow_mut();
        Some(shard.watches.borrow().snapshot(
            &mut ks,
            db,
            spec.key_indices(args).map(|i| args.get(i)),
            all_dbs,
            now_ms,
        ))
    } else {
        None
    };
    let (max_bulk_len, limits, mem) = {
        let cfg = shard.config.borrow();
        (cfg.proto_max_bulk_len, cfg.limits, cfg.memory)
    };
    // Over maxmemory, a write first evicts (as Redis does before every
    // command); one that may grow memory is refused if nothing can go.
    // Loading the log ignores maxmemory, as Redis does.
    if mem.maxmemory != 0 && cmd_flags & flags::WRITE != 0 && !crate::persist::aof::loading() {
        let full = crate::shard::evict::full(shard, &mem, now_ms);
        if full && cmd_flags & flags::DENYOOM != 0 && !in_transaction() {
            drop(watched);
            Reply::new(out, resp3).error(errors::OOM);
            record_rejected(shard, Some(spec), &out[start..]);
            return;
        }
    }
    // Propagation (the AOF) compares the change counter around the call:
    // one thread-local read when no log listens.
    let propagating = crate::persist::propagate::active();
    let changes_before = if propagating { crate::persist::changes(shard) } else { 0 };
    if propagating {
        // What one command propagates is one block (XREADGROUP's XCLAIMs).
        crate::persist::propagate::begin_tx();
    }
    {
        let mut ks = shard.ks.borrow_mut();
        let mut ctx = Ctx {
            shard,
            ks: &mut ks,
            db,
            out: Reply::new(out, resp3),
            now_ms,
            clock: (now_ms / 1000) as u32,
            no_touch,
            shards: shard.count,
            max_bulk_len,
            limits,
        };
        // A read-only command's lookups leave a snapshot walk alone.
        let reading = crate::persist::walk::begin_command(cmd_flags & flags::READONLY != 0);
        handler(&mut ctx, args);
        crate::persist::walk::end_command(reading);
    }
    if propagating {
        if crate::persist::changes(shard) != changes_before {
            crate::persist::propagate::command(shard, spec, args, db, now_ms, &out[start..]);
        } else {
            crate::persist::propagate::discard();
        }
        crate::persist::propagate::end_tx();
    }
    if let Some(snap) = watched {
        if !snap.is_empty() {
            let mut ks = shard.ks.borrow_mut();
            shard.watches.borrow_mut().touch_changed(&mut ks, snap, now_ms);
        }
    }
    if cmd_flags & flags::WRITE != 0 {
        if cmd_flags & flags::NO_WAKE == 0 {
            note_written(shard, db, spec.key_indices(args).map(|i| args.get(i)), now_ms);
        }
        crate::shard::tracking::keys_modified(shard, spec.key_indices(args).map(|i| args.get(i)));
    }
    publish_events(shard);
    observe::shard_command_done(shard, spec, args, observe::lap(), &out[start..]);
}

thread_local! {
    /// While a transaction's commands run on this shard (EXEC, a script),
    /// the keys they write, so blocked clients are served after the whole
    /// transaction, never between its commands (None otherwise).
    static DEFERRED_WAKEUPS: std::cell::RefCell<Option<Vec<(usize, Vec<u8>)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Tells blocked clients that `keys` of `db` were written: serves them now,
/// or after the transaction running on this shard. Waiters are rare: one
/// RefCell read otherwise.
#[inline]
pub fn note_written<'k>(shard: &crate::shard::Shard, db: usize, keys: impl Iterator<Item = &'k [u8]>, now_ms: u64) {
    if shard.blocking.borrow().is_empty() {
        return;
    }
    match DEFERRED_WAKEUPS.with(|d| d.borrow().is_some()) {
        false => crate::shard::blocking::after_write(shard, db, keys, now_ms),
        true => DEFERRED_WAKEUPS.with(|d| {
            if let Some(v) = d.borrow_mut().as_mut() {
                v.extend(keys.map(|k| (db, k.to_vec())));
            }
        }),
    }
}

/// Runs `f` (commands of one transaction on `shard`, all synchronous) with
/// blocked clients served only once it is done.
pub fn with_deferred_wakeups<R>(shard: &std::rc::Rc<crate::shard::Shard>, now_ms: u64, f: impl FnOnce() -> R) -> R {
    let (r, keys) = collect_wakeups(f);
    serve_wakeups(shard, &keys, now_ms);
    r
}

/// Runs `f` and returns, instead of serving them, the keys whose blocked
/// clients its writes would have served (a transaction spanning several
/// hops serves them at its end with [`serve_wakeups`]).
pub fn collect_wakeups<R>(f: impl FnOnce() -> R) -> (R, Vec<(usize, Vec<u8>)>) {
    let outer = DEFERRED_WAKEUPS.with(|d| d.borrow_mut().replace(Vec::new()));
    // A transaction's writes on this shard are logged as one MULTI block.
    crate::persist::propagate::begin_tx();
    let r = f();
    crate::persist::propagate::end_tx();
    let keys = DEFERRED_WAKEUPS.with(|d| std::mem::replace(&mut *d.borrow_mut(), outer));
    let keys = keys.unwrap_or_default();
    let nested = DEFERRED_WAKEUPS.with(|d| d.borrow().is_some());
    if nested && !keys.is_empty() {
        // The enclosing transaction serves them.
        DEFERRED_WAKEUPS.with(|d| d.borrow_mut().as_mut().map(|v| v.extend(keys)));
        return (r, Vec::new());
    }
    (r, keys)
}

/// Serves the clients blocked on `keys` (collected by [`collect_wakeups`]).
pub fn serve_wakeups(shard: &std::rc::Rc<crate::shard::Shard>, keys: &[(usize, Vec<u8>)], now_ms: u64) {
    for (db, k) in keys {
        crate::shard::blocking::after_write(shard, *db, std::iter::once(k.as_slice()), now_ms);
    }
    publish_events(shard);
}

/// Whether a transaction's commands are running on this shard (their
/// wake-ups, keyspace events and published messages wait for its end).
pub fn in_transaction() -> bool {
    DEFERRED_WAKEUPS.with(|d| d.borrow().is_some())
}

thread_local! {
    /// Something waits to go out after the running command: keyspace
    /// events, messages published inside a transaction, invalidations.
    static OUTGOING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Notes that [`publish_events`] has work (called by whatever queues it).
#[inline]
pub fn mark_outgoing() {
    OUTGOING.with(|o| o.set(true));
}

/// Publishes the keyspace events raised, delivers the messages published
/// and sends the invalidations queued so far, unless a transaction runs on
/// this shard (they go out when it ends, with its wake-ups:
/// [`serve_wakeups`]). One thread-local read when there is nothing to do.
#[inline]
pub fn publish_events(shard: &std::rc::Rc<crate::shard::Shard>) {
    if OUTGOING.with(|o| o.get()) && !in_transaction() {
        OUTGOING.with(|o| o.set(false));
        crate::shard::pubsub::publish_events(shard);
        crate::shard::pubsub::deliver_deferred(shard);
        crate::shard::tracking::flush(shard);
        crate::shard::blocking::serve_expired(shard);
    }
}

/// Forgets the events and messages of an aborted attempt (a script that
/// rolled back to run again in global mode).
pub fn discard_publications() {
    drop(notify::take());
    crate::shard::pubsub::discard_deferred();
}

/// Runs a connection-level command.
pub async fn exec_conn(sess: &mut Session, cmd: ConnCmd, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    match cmd {
        ConnCmd::Select => connection::cmd_select(sess, args, &mut Reply::new(out, resp3)),
        ConnCmd::Hello => connection::cmd_hello(sess, args, out),
        ConnCmd::Auth => connection::cmd_auth(sess, args, &mut Reply::new(out, resp3)),
        ConnCmd::Quit => {
            sess.close_after_reply = true;
            Reply::new(out, resp3).ok()
        }
        ConnCmd::Reset => {
            observe::monitor_drop(&sess.shard, &sess.info);
            pubsub::unsubscribe_all(sess).await;
            crate::shard::tracking::disable(&sess.shard, &sess.info);
            acl::reset_user(sess);
            connection::cmd_reset(sess, &mut Reply::new(out, resp3))
        }
        ConnCmd::Client => connection::cmd_client(sess, args, out).await,
        ConnCmd::Info => server::cmd_info(sess, args, out).await,
        ConnCmd::Config => server::cmd_config(sess, args, out).await,
        ConnCmd::Debug => server::cmd_debug(sess, args, out).await,
        ConnCmd::Command => server::cmd_command(sess, args, out),
        ConnCmd::Shutdown => server::cmd_shutdown(sess, args, out).await,
        ConnCmd::Save => crate::persist::snapshot::cmd_save(sess, args, out).await,
        ConnCmd::BgSave => crate::persist::snapshot::cmd_bgsave(sess, args, out).await,
        ConnCmd::BgRewriteAof => crate::persist::aof::cmd_bgrewriteaof(sess, out).await,
        ConnCmd::LastSave => crate::persist::snapshot::cmd_lastsave(sess, out),
        ConnCmd::DbSize => keys::cmd_dbsize(sess, out).await,
        ConnCmd::Keys => keys::cmd_keys(sess, args, out).await,
        ConnCmd::Scan => keys::cmd_scan(sess, args, out).await,
        ConnCmd::RandomKey => keys::cmd_randomkey(sess, out).await,
        ConnCmd::FlushDb => keys::cmd_flushdb(sess, args, out).await,
        ConnCmd::FlushAll => keys::cmd_flushall(sess, args, out).await,
        ConnCmd::SwapDb => keys::cmd_swapdb(sess, args, out).await,
        ConnCmd::Block => blocking::cmd_blocking(sess, args, out).await,
        ConnCmd::Multi => multi::cmd_multi(sess, out),
        ConnCmd::Exec => multi::cmd_exec(sess, out).await,
        ConnCmd::Discard => multi::cmd_discard(sess, out),
        ConnCmd::Watch => multi::cmd_watch(sess, args, out).await,
        ConnCmd::Unwatch => multi::cmd_unwatch(sess, out),
        ConnCmd::Eval => scripting::cmd_eval(sess, args, out).await,
        ConnCmd::Script => scripting::cmd_script(sess, args, out),
        ConnCmd::Function => scripting::cmd_function(sess, args, out).await,
        ConnCmd::Subscribe(kind) => pubsub::cmd_subscribe(sess, kind, args, out).await,
        ConnCmd::Unsubscribe(kind) => pubsub::cmd_unsubscribe(sess, kind, args, out).await,
        ConnCmd::PubSub => pubsub::cmd_pubsub(sess, args, out).await,
        ConnCmd::Acl => acl::cmd_acl(sess, args, out).await,
        ConnCmd::Slowlog => observe::cmd_slowlog(sess, args, out).await,
        ConnCmd::Latency => observe::cmd_latency(sess, args, out).await,
        ConnCmd::Monitor => observe::cmd_monitor(sess, out),
        ConnCmd::Memory => memory::cmd_memory(sess, args, out).await,
    }
}

/// Counts one call of `spec` (and its time, when measured on its own) in
/// `shard`'s stats; `reply` tells whether it failed.
pub fn record_call(shard: &crate::shard::Shard, spec: &'static CommandSpec, usec: u64, reply: &[u8]) {
    let mut st = shard.stats.borrow_mut();
    st.total_commands += 1;
    let c = &mut st.commands[spec.index()];
    c.calls += 1;
    c.nsec += usec * 1000;
    if reply.first() == Some(&b'-') {
        c.failed += 1;
        st.count_error(reply);
    }
}

/// Completes the stats of a call already counted that then blocked: its
/// time waiting and the outcome of its final reply.
pub fn record_unblocked(shard: &crate::shard::Shard, spec: &'static CommandSpec, usec: u64, reply: &[u8]) {
    let mut st = shard.stats.borrow_mut();
    let c = &mut st.commands[spec.index()];
    c.nsec += usec * 1000;
    if reply.first() == Some(&b'-') {
        c.failed += 1;
        st.count_error(reply);
    }
}

/// Takes back the call counted for a command whose first run then
/// blocked and which was refused when served (XREAD BLOCK whose user
/// lost a permission meanwhile), and that run's time (`ns`, at most what
/// is counted): Redis counts neither. On the shard that ran it first (see
/// [`record_rejected`] for the refusal).
pub fn uncount_call(shard: &crate::shard::Shard, spec: &'static CommandSpec, ns: u64) {
    let mut st = shard.stats.borrow_mut();
    st.total_commands = st.total_commands.saturating_sub(1);
    let c = &mut st.commands[spec.index()];
    c.calls = c.calls.saturating_sub(1);
    c.nsec = c.nsec.saturating_sub(ns);
}

/// Records a command rejected before it ran (arity, auth).
pub fn record_rejected(shard: &crate::shard::Shard, spec: Option<&'static CommandSpec>, reply: &[u8]) {
    let mut st = shard.stats.borrow_mut();
    if let Some(spec) = spec {
        st.commands[spec.index()].rejected += 1;
    }
    st.count_error(reply);
}
