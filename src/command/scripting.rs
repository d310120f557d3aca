//! EVAL, EVALSHA, FCALL (and their _RO forms), SCRIPT and FUNCTION: where a
//! script runs and how it stays atomic across shards.
//!
//! A script runs inside Lua, synchronously, on one shard thread; every
//! `redis.call` comes back here through [`ScriptBackend`].
//!
//! - **Fast path.** All declared keys on one shard (or none): the script
//!   runs there as one job, like any command — the shard runs nothing else
//!   meanwhile, so it is atomic with no lock at all. It may touch keys it
//!   did not declare, as long as they live on that shard and no cross-shard
//!   transaction holds them.
//! - **Abort and re-run.** The first call that reaches beyond (a key of
//!   another shard, a key another transaction holds, a keyspace-wide
//!   command) aborts the run: Lua unwinds at once, every key the script
//!   wrote is restored from the undo log (the first write of each key saves
//!   its previous entry), the wake-ups its writes would have caused are
//!   dropped, and its reply is discarded. Nobody saw the intermediate state:
//!   the shard ran nothing else meanwhile.
//! - **Global mode.** The re-run locks every shard whole (ascending order,
//!   like any transaction) and runs the script on the connection's shard;
//!   a call for another shard is sent there and this thread blocks for the
//!   answer (see `coordinator::run_blocking`), which cannot deadlock since
//!   the script holds every shard. Multi-key commands spanning shards are
//!   gathered (entries fetched, run on a scratch keyspace, changes written
//!   back). Blocked clients are served once the script is done.
//!
//! Scripts declared with several shards' keys go to global mode directly;
//! so does a script inside EXEC's whole-shard mode (it already holds them).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::args::parse_i64;
use super::table::{CommandSpec, Handler, ShardFn};
use super::{cross, errors as err, flags, keys, Args, ArgsBuf, ConnCmd, Session};
use crate::protocol::Reply;
use crate::script::{engine, Abort, Backend, Engine, Kind, Outcome, ScriptFlags};
use crate::server::conn::{must_wait, route, subcommand_error, Route};
use crate::shard::blocking as blocked_clients;
use crate::shard::coordinator::{self, run_blocking, Tx};
use crate::shard::slot::key_shard;
use crate::shard::tracking;
use crate::shard::{ClientInfo, Shard, TxId};
use crate::storage::Entry;
use crate::util::now_ms;

pub const UNKNOWN_FROM_SCRIPT: &str = "ERR Unknown Redis command called from script";
pub const ARITY_FROM_SCRIPT: &str = "ERR Wrong number of args calling Redis command from script";
pub const NOT_FROM_SCRIPT: &str = "ERR This Redis command is not allowed from script";
pub const WRITE_IN_RO: &str = "ERR Write commands are not allowed from read-only scripts.";
pub const RO_WITH_WRITE_FLAG: &str = "ERR Can not execute a script with write flag using *_ro command.";
pub const NUMKEYS_GT: &str = "ERR Number of keys can't be greater than number of args";
pub const NUMKEYS_NEG: &str = "ERR Number of keys can't be negative";
pub const BAD_NUMKEYS: &str = "ERR Bad number of keys provided";
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub const FUNCTION_NOT_FOUND: &str = "ERR Function not found";

/// What to run: a body (EVAL), a cached script (EVALSHA) or a function.
#[derive(Clone, Copy)]
enum What<'a> {
    Eval(&'a [u8]),
    EvalSha(&'a [u8]),
    Fcall(&'a [u8]),
}

fn run_engine(
    what: What,
    keys: &[&[u8]],
    argv: &[&[u8]],
    ro: bool,
    resp3: bool,
    be: &mut dyn Backend,
    out: &mut Vec<u8>,
) -> Outcome {
    Engine::with(|e| match what {
        What::Eval(b) => e.eval(b, keys, argv, ro, resp3, be, out),
        What::EvalSha(s) => e.evalsha(s, keys, argv, ro, resp3, be, out),
        What::Fcall(n) => e.fcall(n, keys, argv, ro, resp3, be, out),
    })
}

/// `EVAL script numkeys [key ...] [arg ...]` and EVALSHA, FCALL, *_RO.
pub async fn cmd_eval(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let name = args.get(0);
    let ro = name.len() > 3 && name[name.len() - 3..].eq_ignore_ascii_case(b"_ro");
    let text = args.get(1);
    let what = if name.len() >= 7 && name[..7].eq_ignore_ascii_case(b"evalsha") {
        What::EvalSha(text)
    } else if name[..4].eq_ignore_ascii_case(b"eval") {
        What::Eval(text)
    } else {
        What::Fcall(text)
    };
    // Redis's order: an EVALSHA digest of the wrong length and an unknown
    // function are reported before the key count.
    match what {
        What::EvalSha(sha) if sha.len() != 40 => return Reply::new(out, resp3).error(NOSCRIPT),
        What::Fcall(name) if Engine::with(|e| e.fcall_flags(name)).is_none() => {
            return Reply::new(out, resp3).error(FUNCTION_NOT_FOUND)
        }
        _ => {}
    }
    let n = match parse_i64(args.get(2)) {
        None if matches!(what, What::Fcall(_)) => return Reply::new(out, resp3).error(BAD_NUMKEYS),
        None => return Reply::new(out, resp3).error(err::NOT_INTEGER),
        Some(n) if n > args.len() as i64 - 3 => return Reply::new(out, resp3).error(NUMKEYS_GT),
        Some(n) if n < 0 => return Reply::new(out, resp3).error(NUMKEYS_NEG),
        Some(n) => n as usize,
    };
    let keys: Vec<&[u8]> = (3..3 + n).map(|i| args.get(i)).collect();
    let argv: Vec<&[u8]> = (3 + n..args.len()).map(|i| args.get(i)).collect();
    let shard = sess.shard.clone();
    // A restricted caller's user travels with the script (None: no checks).
    let acl = super::acl::script_user(sess);
    // Memory as the script starts (inside EXEC: as EXEC started).
    let oom = if sess.tx != 0 {
        sess.exec_oom
    } else {
        super::oom::out_of_memory(sess)
    };
    let run = Run {
        who: Caller::of(sess),
        db: sess.db,
        ro,
        resp3,
        no_touch: sess.no_touch,
        oom,
    };
    if sess.tx == 0 {
        if let Some(target) = home_shard(&shard, &keys) {
            if target == shard.id && !blocked(&shard, run.db, &keys) {
                if let Some(counted) = run_fast(&shard, sess.info.id, run, &acl, what, &keys, &argv, out) {
                    sess.error_counted.set(counted);
                    return;
                }
            } else {
                let job = Shipped::new(run, acl.clone(), what, &keys, &argv);
                let done =
                    coordinator::run_when_free(&shard, target, job, |sh, j| j.blocked(sh), |sh, j| j.run(sh)).await;
                if let Some((buf, counted)) = done {
                    sess.error_counted.set(counted);
                    return out.extend_from_slice(&buf);
                }
            }
        }
    }
    run_global(sess, acl, what, &keys, &argv, run, out).await;
}

/// A restricted caller's user and client description (ACL log), or None.
type ScriptUser = Option<(std::sync::Arc<crate::acl::User>, String)>;

/// How a script runs: for whom, in which database, read-only or not, the
/// caller's protocol and CLIENT NO-TOUCH.
#[derive(Clone, Copy)]
struct Run {
    who: Caller,
    db: usize,
    ro: bool,
    resp3: bool,
    no_touch: bool,
    /// Over maxmemory with nothing to evict when the script started.
    oom: bool,
}

/// Whether a connection command may be called from a script (the others
/// are refused with NOT_FROM_SCRIPT).
fn runs_in_scripts(c: ConnCmd) -> bool {
    matches!(
        c,
        ConnCmd::Select
            | ConnCmd::Block
            | ConnCmd::DbSize
            | ConnCmd::Keys
            | ConnCmd::Scan
            | ConnCmd::FlushDb
            | ConnCmd::FlushAll
            | ConnCmd::SwapDb
            | ConnCmd::RandomKey
            | ConnCmd::Memory
    )
}

/// Who runs a script: its writes are theirs (CLIENT TRACKING NOLOOP), and
/// a tracking client files the keys its read-only calls read.
#[derive(Clone, Copy)]
struct Caller {
    id: u64,
    /// The caller, when it is a tracking client whose reads are filed.
    tracker: Option<u64>,
}

impl Caller {
    fn of(sess: &Session) -> Caller {
        let tr = sess.info.tracking.borrow();
        Caller {
            id: sess.info.id,
            tracker: tr.tracks_reads().then_some(sess.info.id),
        }
    }
}

/// The shard of every declared key (the connection's own when there are
/// none), or None when they span shards.
fn home_shard(shard: &Shard, keys: &[&[u8]]) -> Option<usize> {
    let mut home = None;
    for k in keys {
        let s = key_shard(k, shard.count);
        match home {
            None => home = Some(s),
            Some(h) if h != s => return None,
            _ => {}
        }
    }
    Some(home.unwrap_or(shard.id))
}

/// Whether the fast path must wait: the shard is locked whole, or another
/// transaction holds a declared key.
fn blocked<K: AsRef<[u8]>>(shard: &Shard, db: usize, keys: &[K]) -> bool {
    !shard.gate.is_open_for(0)
        || (shard.gate.has_key_locks() && keys.iter().any(|k| shard.gate.key_locked(db, k.as_ref())))
}

/// Runs the script on this shard, fast path. None when it aborted (its
/// writes undone, `out` untouched): run it in global mode. Else whether
/// its error reply was counted already (see [`Engine::last_error_counted`]).
#[allow(clippy::too_many_arguments)]
fn run_fast(
    shard: &Rc<Shard>,
    caller: u64,
    run: Run,
    acl: &ScriptUser,
    what: What,
    keys: &[&[u8]],
    argv: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<bool> {
    let start = out.len();
    let mut be = ScriptBackend::new(shard.clone(), 0, run.db, run.no_touch, run.who);
    be.acl = acl.clone();
    be.oom = run.oom;
    // What the run propagates is kept back until it is known not to abort.
    let mark = crate::persist::propagate::begin_tx_marked();
    let (outcome, wake) = with_running(shard, caller, || {
        super::collect_wakeups(|| run_engine(what, keys, argv, run.ro, run.resp3, &mut be, out))
    });
    crate::persist::propagate::end_tx_dropping((outcome == Outcome::Aborted).then_some(mark));
    if outcome == Outcome::Aborted {
        be.rollback();
        super::discard_publications();
        out.truncate(start);
        return None;
    }
    // Also publishes the script's keyspace events and messages.
    super::serve_wakeups(shard, &wake, be.now);
    Some(out.get(start) == Some(&b'-') && Engine::with(|e| e.last_error_counted()))
}

/// A fast-path run bound for another shard, with its arguments copied.
struct Shipped {
    run: Run,
    acl: ScriptUser,
    kind: u8,
    text: Vec<u8>,
    keys: Vec<Vec<u8>>,
    argv: Vec<Vec<u8>>,
}

impl Shipped {
    fn new(run: Run, acl: ScriptUser, what: What, keys: &[&[u8]], argv: &[&[u8]]) -> Self {
        let (kind, text) = match what {
            What::Eval(t) => (0, t),
            What::EvalSha(t) => (1, t),
            What::Fcall(t) => (2, t),
        };
        Shipped {
            run,
            acl,
            kind,
            text: text.to_vec(),
            keys: keys.iter().map(|k| k.to_vec()).collect(),
            argv: argv.iter().map(|a| a.to_vec()).collect(),
        }
    }

    fn blocked(&self, sh: &Shard) -> bool {
        blocked(sh, self.run.db, &self.keys)
    }

    /// The reply and whether its error was counted already, or None when
    /// the run aborted.
    fn run(&self, sh: &Rc<Shard>) -> Option<(Vec<u8>, bool)> {
        let what = match self.kind {
            0 => What::Eval(&self.text),
            1 => What::EvalSha(&self.text),
            _ => What::Fcall(&self.text),
        };
        let keys: Vec<&[u8]> = self.keys.iter().map(|k| k.as_slice()).collect();
        let argv: Vec<&[u8]> = self.argv.iter().map(|a| a.as_slice()).collect();
        let mut out = Vec::new();
        run_fast(sh, 0, self.run, &self.acl, what, &keys, &argv, &mut out).map(|counted| (out, counted))
    }
}

/// Global mode: every shard locked whole, the script on this thread.
async fn run_global(
    sess: &mut Session,
    acl: ScriptUser,
    what: What<'_>,
    keys: &[&[u8]],
    argv: &[&[u8]],
    run: Run,
    out: &mut Vec<u8>,
) {
    let ro = run.ro;
    let start = out.len();
    let shard = sess.shard.clone();
    let mut tx = Tx::within(&shard, sess.tx);
    if sess.tx == 0 {
        for s in 0..shard.count {
            tx.lock_shard(s).await;
        }
    }
    let mut be = ScriptBackend::new(shard.clone(), tx.id(), sess.db, sess.no_touch, Caller::of(sess));
    be.acl = acl;
    be.oom = run.oom;
    // Everything the script propagates, here and on the other shards, is
    // one block in the log (committed by `tx.finish`).
    let tx_id = tx.id();
    let (outcome, wake) = with_running(&shard, sess.info.id, || {
        crate::persist::propagate::tagged(tx_id, || {
            super::collect_wakeups(|| run_engine(what, keys, argv, ro, sess.resp3, &mut be, out))
        })
    });
    debug_assert_eq!(outcome, Outcome::Done, "global mode never aborts");
    sess.error_counted
        .set(out.get(start) == Some(&b'-') && Engine::with(|e| e.last_error_counted()));
    // Served inside the transaction: the pops they log follow its writes
    // in this shard's part.
    crate::persist::propagate::tagged(tx_id, || super::serve_wakeups(&shard, &wake, now_ms()));
    for (s, keys) in std::mem::take(&mut be.remote_wake) {
        if !keys.is_empty() {
            tx.run(s, move |sh| super::serve_wakeups(sh, &keys, now_ms())).await;
        }
    }
    tx.finish().await;
}

/// What scripts call through: checks, routing, undo log.
struct ScriptBackend {
    who: Caller,
    shard: Rc<Shard>,
    /// The transaction holding every shard (global mode), or 0 (fast path).
    tx: TxId,
    /// The script's database (SELECT inside a script does not leak out).
    db: usize,
    no_touch: bool,
    read_only: bool,
    /// Fast path: the entries of written keys before their first write.
    undo: Vec<(usize, Vec<u8>, Option<Entry>)>,
    /// The script's clock (unix ms), read once when it starts: every call
    /// sees the same time, as in Redis, and pays no clock read.
    now: u64,
    /// Scratch for the arguments of one call.
    data: Vec<u8>,
    ranges: Vec<(u32, u32)>,
    /// Global mode: keys written on other shards whose blocked clients are
    /// served after the script.
    remote_wake: BTreeMap<usize, Vec<(usize, Vec<u8>)>>,
    /// The caller's user when it is restricted (ACL checks per call).
    acl: ScriptUser,
    /// Over maxmemory with nothing to evict when the script started.
    oom: bool,
    /// The script declared `allow-oom`: its writes pass over maxmemory.
    allow_oom: bool,
    /// The script called a write command already (past its first write a
    /// script is not stopped for memory: it cannot be half undone).
    wrote: bool,
}

impl Backend for ScriptBackend {
    fn begin(&mut self, _kind: Kind, flags: ScriptFlags, read_only: bool) -> Result<(), Vec<u8>> {
        if read_only && flags.declared && !flags.no_writes {
            return Err(RO_WITH_WRITE_FLAG.as_bytes().to_vec());
        }
        if self.oom && super::oom::script_denies_oom(flags) {
            return Err(super::oom::SCRIPT_NOT_ALLOW_OOM.as_bytes().to_vec());
        }
        self.read_only = read_only || flags.no_writes;
        self.allow_oom = flags.declared && flags.allow_oom;
        Ok(())
    }

    fn permits(&mut self, argv: &[&[u8]]) -> bool {
        let Some((user, _)) = &self.acl else {
            return true;
        };
        let mut data = Vec::new();
        let mut ranges = Vec::new();
        for a in argv {
            ranges.push((data.len() as u32, a.len() as u32));
            data.extend_from_slice(a);
        }
        let args = Args::new(&data, &ranges);
        let Some(spec) = super::lookup(argv[0]) else {
            return false;
        };
        if !spec.arity_ok(args.len()) || subcommand_error(spec, &args).is_some() {
            return false;
        }
        user.check(&crate::acl::Resolved::of(spec, &args), &args).is_ok()
    }

    fn call(&mut self, argv: &[&[u8]], resp3: bool, out: &mut Vec<u8>) -> Result<(), Abort> {
        let mut data = std::mem::take(&mut self.data);
        let mut ranges = std::mem::take(&mut self.ranges);
        data.clear();
        ranges.clear();
        for a in argv {
            ranges.push((data.len() as u32, a.len() as u32));
            data.extend_from_slice(a);
        }
        let args = Args::new(&data, &ranges);
        if let Some(t) = self.who.tracker {
            if let Some(spec) = super::lookup(argv[0]).filter(|s| s.flags & flags::READONLY != 0) {
                tracking::remember_keys(&self.shard, t, spec.key_indices(&args).map(|i| args.get(i)));
            }
        }
        tracking::set_writer(self.who.id);
        let r = self.dispatch(&args, resp3, out);
        tracking::set_writer(0);
        self.data = data;
        self.ranges = ranges;
        r
    }
}

impl ScriptBackend {
    fn new(shard: Rc<Shard>, tx: TxId, db: usize, no_touch: bool, who: Caller) -> Self {
        ScriptBackend {
            who,
            shard,
            tx,
            db,
            no_touch,
            read_only: false,
            undo: Vec::new(),
            now: now_ms(),
            data: Vec::new(),
            ranges: Vec::new(),
            remote_wake: BTreeMap::new(),
            acl: None,
            oom: false,
            allow_oom: false,
            wrote: false,
        }
    }

    fn fast(&self) -> bool {
        self.tx == 0
    }

    fn dispatch(&mut self, args: &Args, resp3: bool, out: &mut Vec<u8>) -> Result<(), Abort> {
        // A call refused here is counted now, as Redis's scriptCall does (a
        // rejected call of the command, an error in errorstats); the
        // script's reply then does not count the error again.
        let start = out.len();
        let refuse = |out: &mut Vec<u8>, spec: Option<&'static CommandSpec>, e: &[u8]| {
            Reply::new(out, resp3).error_bytes(e);
            super::record_rejected(&self.shard, spec, &out[start..]);
            Ok(())
        };
        if args.is_empty() {
            return refuse(out, None, UNKNOWN_FROM_SCRIPT.as_bytes());
        }
        let Some(spec) = super::lookup(args.get(0)) else {
            return refuse(out, None, UNKNOWN_FROM_SCRIPT.as_bytes());
        };
        if !spec.arity_ok(args.len()) {
            return refuse(out, Some(spec), ARITY_FROM_SCRIPT.as_bytes());
        }
        if let Some(msg) = subcommand_error(spec, args) {
            return if msg.starts_with(b"ERR unknown subcommand") {
                refuse(out, None, UNKNOWN_FROM_SCRIPT.as_bytes())
            } else {
                refuse(out, Some(spec), ARITY_FROM_SCRIPT.as_bytes())
            };
        }
        if spec.flags & flags::NOSCRIPT != 0 {
            return refuse(out, Some(spec), NOT_FROM_SCRIPT.as_bytes());
        }
        if let Some(user) = &self.acl {
            if let Some(msg) = super::acl::script_check(&self.shard, user, spec, args) {
                return refuse(out, Some(spec), &msg);
            }
        }
        // May-replicate commands (PUBLISH, PFCOUNT) count as writes, as in
        // Redis (CLIENT PAUSE WRITE relies on it).
        if self.read_only && super::may_replicate(spec, spec.flags) {
            return refuse(out, Some(spec), WRITE_IN_RO.as_bytes());
        }
        // Over maxmemory when the script started, its first write that may
        // grow memory is refused (Redis's scriptVerifyOOM).
        let cmd_flags = spec.subcommand_flags(args);
        if self.oom && !self.allow_oom && !self.wrote && cmd_flags & flags::DENYOOM != 0 {
            return refuse(out, Some(spec), err::OOM.as_bytes());
        }
        self.wrote |= cmd_flags & flags::WRITE != 0;
        if super::observe::monitoring() && spec.subcommand_flags(args) & flags::ADMIN == 0 {
            super::observe::feed(&self.shard, self.db, "lua", args);
        }
        match spec.handler {
            Handler::Shard(h) => self.shard_cmd(spec, h, args, resp3, out)?,
            Handler::Conn(c) if !runs_in_scripts(c) => return refuse(out, Some(spec), NOT_FROM_SCRIPT.as_bytes()),
            Handler::Conn(c) => {
                // Counted here: shard commands count themselves in execute.
                let started = std::time::Instant::now();
                self.conn_cmd(spec, c, args, resp3, out)?;
                super::record_call(&self.shard, spec, started.elapsed().as_micros() as u64, &out[start..]);
            }
        }
        if spec.flags & flags::WRITE != 0 {
            engine::note_write();
        }
        Ok(())
    }

    fn shard_cmd(
        &mut self,
        spec: &'static CommandSpec,
        h: ShardFn,
        args: &Args,
        resp3: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Abort> {
        let (shards, me, db, no_touch) = (self.shard.count, self.shard.id, self.db, self.no_touch);
        if self.fast() {
            if spec.key_indices(args).any(|i| key_shard(args.get(i), shards) != me)
                || must_wait(&self.shard, spec, args, db)
            {
                return Err(Abort);
            }
            if spec.flags & flags::WRITE != 0 {
                self.save_undo(spec, args);
            }
            super::observe::begin();
            super::execute(&self.shard, spec, h, args, db, resp3, no_touch, self.now, out);
            return Ok(());
        }
        match route(spec, args, shards, me) {
            Route::Shard(t) if t == me => {
                super::observe::begin();
                super::execute(&self.shard, spec, h, args, db, resp3, no_touch, self.now, out)
            }
            Route::Shard(t) => {
                let mut owned = ArgsBuf::default();
                owned.push(args);
                let now = self.now;
                let (buf, wake) = run_blocking(&self.shard, self.tx, t, move |sh| {
                    let r = super::collect_wakeups(|| {
                        let mut buf = Vec::new();
                        super::observe::begin();
                        super::execute(sh, spec, h, &owned.get(0), db, resp3, no_touch, now, &mut buf);
                        buf
                    });
                    // Messages and events go out now; the wake-ups wait
                    // for the script's end.
                    super::publish_events(sh);
                    r
                });
                out.extend_from_slice(&buf);
                self.remote_wake.entry(t).or_default().extend(wake);
            }
            Route::Cross => match spec.cross {
                Some(_) => self.gather(spec, h, args, resp3, out),
                None => Reply::new(out, resp3).error(err::CROSSSLOT),
            },
        }
        Ok(())
    }

    /// Saves, before the first write of each key, its entry for rollback.
    fn save_undo(&mut self, spec: &CommandSpec, args: &Args) {
        let now = now_ms();
        let dbs = if spec.flags & flags::CROSS_DB != 0 {
            0..self.shard.ks.borrow().dbs.len()
        } else {
            self.db..self.db + 1
        };
        let mut ks = self.shard.ks.borrow_mut();
        for i in spec.key_indices(args) {
            let k = args.get(i);
            for d in dbs.clone() {
                if !self.undo.iter().any(|(ud, uk, _)| *ud == d && uk == k) {
                    let e = keys::op_clone_entry(ks.db(d), k, now);
                    self.undo.push((d, k.to_vec(), e));
                }
            }
        }
    }

    /// Fast path aborted: puts back every key the script wrote.
    fn rollback(&mut self) {
        let mut ks = self.shard.ks.borrow_mut();
        for (db, k, e) in self.undo.drain(..).rev() {
            // Put back as it was: no event.
            ks.db(db).put_silent(&k, e);
        }
    }

    /// Global mode, keys on several shards: fetch their entries, run the
    /// command on a scratch keyspace, write back what changed.
    fn gather(&mut self, spec: &'static CommandSpec, h: ShardFn, args: &Args, resp3: bool, out: &mut Vec<u8>) {
        let (shards, db) = (self.shard.count, self.db);
        let mut by_shard: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
        for i in spec.key_indices(args) {
            let k = args.get(i);
            let v = by_shard.entry(key_shard(k, shards)).or_default();
            if !v.iter().any(|x| x == k) {
                v.push(k.to_vec());
            }
        }
        let mut before: Vec<((usize, Vec<u8>), Option<Entry>)> = Vec::new();
        for (s, ks) in &by_shard {
            let ks2 = ks.clone();
            let got = run_blocking(&self.shard, self.tx, *s, move |sh| {
                let now = now_ms();
                let mut kspace = sh.ks.borrow_mut();
                let got = ks2
                    .iter()
                    .map(|k| keys::op_clone_entry(kspace.db(db), k, now))
                    .collect::<Vec<_>>();
                drop(kspace);
                // Keys found expired on the way.
                super::publish_events(sh);
                got
            });
            before.extend(ks.iter().map(|k| (db, k.clone())).zip(got));
        }
        let (writes, raised) = cross::run_on_scratch(&self.shard, &before, db, resp3, self.no_touch, h, args, out);
        // Each shard logs what is written back on it (`cross::write_back`).
        crate::persist::propagate::discard();
        // Each event goes out from its key's shard, after the write-back
        // there, in order with the other calls the script runs on that
        // shard (those publish at once); events of this shard's keys, or of
        // a shard written nothing, wait for the script's end like its local
        // calls.
        let mut events: BTreeMap<usize, Vec<super::notify::Event>> = BTreeMap::new();
        let mut here = Vec::new();
        for ev in raised {
            let s = key_shard(&ev.key, shards);
            if s != self.shard.id && writes.contains_key(&s) {
                events.entry(s).or_default().push(ev);
            } else {
                here.push(ev);
            }
        }
        let mut queued = super::notify::take();
        queued.extend(here);
        super::notify::put_back(queued);
        for (s, w) in writes {
            let evs = events.remove(&s).unwrap_or_default();
            let ((), wake) = run_blocking(&self.shard, self.tx, s, move |sh| {
                let r = super::collect_wakeups(|| cross::write_back(sh, w));
                super::notify::put_back(evs);
                super::publish_events(sh);
                r
            });
            self.remote_wake.entry(s).or_default().extend(wake);
        }
    }

    fn conn_cmd(
        &mut self,
        _spec: &'static CommandSpec,
        c: ConnCmd,
        args: &Args,
        resp3: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Abort> {
        let mut r = Reply::new(out, resp3);
        match c {
            ConnCmd::Select => {
                let id = match parse_i64(args.get(1)) {
                    None => return Ok(r.error(err::NOT_INTEGER)),
                    Some(v) if v < i32::MIN as i64 || v > i32::MAX as i64 => return Ok(r.error(err::INT_RANGE)),
                    Some(v) => v,
                };
                if id < 0 || id >= self.shard.config.borrow().databases as i64 {
                    return Ok(r.error(err::DB_INDEX));
                }
                self.db = id as usize;
                r.ok();
            }
            ConnCmd::Block => return self.blocking_cmd(args, resp3, out),
            ConnCmd::DbSize
            | ConnCmd::Keys
            | ConnCmd::Scan
            | ConnCmd::FlushDb
            | ConnCmd::FlushAll
            | ConnCmd::SwapDb
            | ConnCmd::RandomKey => {
                // The whole keyspace: every shard, so global mode (or a
                // one-shard server, where the fast path holds it all).
                if self.fast() && self.shard.count > 1 {
                    return Err(Abort);
                }
                self.keyspace_cmd(c, args, resp3, out);
            }
            ConnCmd::Memory => {
                let (me, shards, fast) = (self.shard.id, self.shard.count, self.fast());
                if fast && super::memory::reaches_beyond(args, me, shards) {
                    return Err(Abort);
                }
                let (origin, tx) = (self.shard.clone(), self.tx);
                super::memory::cmd_memory_sync(args, self.db, shards, resp3, out, |s, job| {
                    if s == me {
                        super::memory::run_job(&origin, job)
                    } else {
                        run_blocking(&origin, tx, s, move |sh| super::memory::run_job(sh, job))
                    }
                });
            }
            _ => r.error(NOT_FROM_SCRIPT),
        }
        Ok(())
    }

    fn keyspace_cmd(&mut self, c: ConnCmd, args: &Args, resp3: bool, out: &mut Vec<u8>) {
        let db = self.db;
        let mut r = Reply::new(out, resp3);
        let shards = self.shard.count;
        match c {
            ConnCmd::DbSize => {
                let mut n = 0;
                for s in 0..shards {
                    n += run_blocking(&self.shard, self.tx, s, move |sh| sh.ks.borrow().dbs[db].len());
                }
                r.int(n as i64);
            }
            ConnCmd::Keys => {
                let mut found = Vec::new();
                for s in 0..shards {
                    let pattern = args.get(1).to_vec();
                    found.extend(run_blocking(&self.shard, self.tx, s, move |sh| {
                        keys::op_keys(&sh.ks.borrow().dbs[db], &pattern, now_ms())
                    }));
                }
                r.array_len(found.len());
                for k in &found {
                    r.bulk(k);
                }
            }
            ConnCmd::Scan => {
                let mut walk = match keys::ScanWalk::parse(args, shards) {
                    Ok(w) => w,
                    Err(e) => return r.error(e),
                };
                while let Some((s, slot, want)) = walk.next_visit() {
                    let (p, t) = (walk.pattern.clone(), walk.type_filter.clone());
                    let step = run_blocking(&self.shard, self.tx, s, move |sh| {
                        let now = now_ms();
                        let mut ks = sh.ks.borrow_mut();
                        let step = keys::op_scan(&ks.dbs[db], slot, want, p.as_deref(), t.as_deref(), now, s, shards);
                        keys::scan_reap(ks.db(db), slot, &step, p.as_deref(), now, s, shards);
                        drop(ks);
                        super::publish_events(sh);
                        step
                    });
                    walk.feed(s, step);
                }
                walk.reply(&mut r);
            }
            ConnCmd::SwapDb => {
                let dbs = self.shard.config.borrow().databases;
                let (a, b) = match keys::parse_swapdb(args, dbs) {
                    Ok(ab) => ab,
                    Err(e) => return r.error(e),
                };
                for s in 0..shards {
                    run_blocking(&self.shard, self.tx, s, move |sh| keys::op_swapdb(sh, a, b));
                }
                self.undo.clear();
                r.ok();
            }
            ConnCmd::FlushDb | ConnCmd::FlushAll => {
                if !keys::flush_mode_ok(args) {
                    return r.error(err::SYNTAX);
                }
                let whole = c == ConnCmd::FlushAll;
                for s in 0..shards {
                    run_blocking(&self.shard, self.tx, s, move |sh| {
                        let dbs: Vec<usize> = if whole {
                            (0..sh.ks.borrow().dbs.len()).collect()
                        } else {
                            vec![db]
                        };
                        keys::touch_watched_in(sh, &dbs);
                        // Every shard's log holds its own part.
                        let name: &[u8] = if whole { b"FLUSHALL" } else { b"FLUSHDB" };
                        crate::persist::propagate::emit(db, &[name]);
                        let mut ks = sh.ks.borrow_mut();
                        for d in dbs {
                            ks.db(d).clear();
                        }
                    });
                }
                // Nothing to roll back to any more: the fast path of a
                // one-shard server cannot abort after this.
                self.undo.clear();
                r.ok();
            }
            _ => {
                // RANDOMKEY: a random non-empty shard, then a random key.
                let mut sizes = Vec::with_capacity(shards);
                for s in 0..shards {
                    sizes.push(run_blocking(&self.shard, self.tx, s, move |sh| {
                        sh.ks.borrow().dbs[db].len()
                    }));
                }
                for _ in 0..keys::RANDOMKEY_TRIES {
                    let Some((target, seed)) = keys::random_pick(&sizes, &self.shard) else {
                        break;
                    };
                    let key = run_blocking(&self.shard, self.tx, target, move |sh| {
                        let k = keys::op_random_key(sh, db, seed);
                        // The `expired` of a pick found past its TTL.
                        super::publish_events(sh);
                        k
                    });
                    if let Some(k) = key {
                        return r.bulk(&k);
                    }
                }
                r.null();
            }
        }
    }

    /// A blocking command inside a script never blocks: it serves at once
    /// from the first key that can, or answers as if it timed out.
    fn blocking_cmd(&mut self, args: &Args, resp3: bool, out: &mut Vec<u8>) -> Result<(), Abort> {
        let (keys, _, serve, mv) = match super::blocking::parse(args, resp3, now_ms()) {
            Ok(p) => p,
            Err(e) => {
                Reply::new(out, resp3).error(e);
                return Ok(());
            }
        };
        let (shards, me, db) = (self.shard.count, self.shard.id, self.db);
        if self.fast() {
            let dst = mv.as_ref().map(|m| m.0.as_slice());
            for k in keys.iter().map(|k| k.as_slice()).chain(dst) {
                if key_shard(k, shards) != me || self.shard.gate.key_locked(db, k) {
                    return Err(Abort);
                }
            }
            let now = now_ms();
            let mut ks = self.shard.ks.borrow_mut();
            for k in keys.iter().map(|k| k.as_slice()).chain(dst) {
                if !self.undo.iter().any(|(ud, uk, _)| *ud == db && uk == k) {
                    let e = keys::op_clone_entry(ks.db(db), k, now);
                    self.undo.push((db, k.to_vec(), e));
                }
            }
        }
        for k in keys {
            let s = key_shard(&k, shards);
            let serve = serve.clone();
            let (outcome, wake) = run_blocking(&self.shard, self.tx, s, move |sh| {
                let r = super::collect_wakeups(|| blocked_clients::serve_now(sh, db, &k, &*serve));
                super::publish_events(sh);
                r
            });
            // On this shard the enclosing collection has them already.
            self.remote_wake.entry(s).or_default().extend(wake);
            match outcome {
                blocked_clients::Outcome::Served(reply) => {
                    out.extend_from_slice(&reply);
                    return Ok(());
                }
                blocked_clients::Outcome::Retry => {
                    // A move to another shard's list: LMOVE, gathered.
                    let (dst, from, to) = mv.clone().expect("only moves retry");
                    let lmove = super::blocking::LmoveArgs::new(args.get(1), &dst, from, to);
                    let spec = super::lookup(b"lmove").expect("lmove is in the table");
                    let Handler::Shard(h) = spec.handler else {
                        unreachable!("LMOVE is a shard command")
                    };
                    self.shard_cmd(spec, h, &lmove.args(), resp3, out)?;
                    return Ok(());
                }
                _ => {}
            }
        }
        let mut r = Reply::new(out, resp3);
        if mv.is_some() {
            r.null();
        } else {
            r.null_array();
        }
        Ok(())
    }
}

/// `SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP`: the script cache is process-wide.
pub fn cmd_script(sess: &mut Session, args: &Args, out: &mut Vec<u8>) {
    let argv: Vec<&[u8]> = args.iter().collect();
    Engine::with(|e| e.script_command(&argv, sess.resp3, out));
}

/// `FUNCTION LOAD|DELETE|FLUSH|LIST|DUMP|RESTORE|STATS|KILL|HELP`.
pub async fn cmd_function(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let argv: Vec<&[u8]> = args.iter().collect();
    let start = out.len();
    Engine::with(|e| e.function_command(&argv, sess.resp3, out));
    let changes = args.len() > 1 && ["load", "delete", "flush", "restore"].iter().any(|w| args.is(1, w));
    if !changes || !crate::persist::propagate::active() || out.get(start) == Some(&b'-') {
        return;
    }
    // Functions are process-wide: shard 0's log keeps their changes, in
    // order; the reply waits for that log as for the caller's own.
    let owned: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
    let here = sess.shard.id;
    let acks = coordinator::run_on_in(&sess.shard, sess.tx, 0, move |sh| {
        let refs: Vec<&[u8]> = owned.iter().map(|a| a.as_slice()).collect();
        crate::persist::propagate::emit_alone(crate::persist::aof::ANY_DB, &refs);
        if sh.id != here && coordinator::has_acks() {
            coordinator::take_acks_for_remote()
        } else {
            Vec::new()
        }
    })
    .await;
    for a in acks {
        coordinator::wait_before_reply(a);
    }
}

thread_local! {
    /// The shard whose thread runs a script now, and the client that
    /// called it (0 when the caller lives on another shard).
    static RUNNING: RefCell<Option<(Rc<Shard>, u64)>> = const { RefCell::new(None) };
}

/// Runs `f` (a script) with this thread's busy poller knowing who runs it.
fn with_running<R>(shard: &Rc<Shard>, caller: u64, f: impl FnOnce() -> R) -> R {
    let prev = RUNNING.with(|r| r.replace(Some((shard.clone(), caller))));
    let out = f();
    RUNNING.with(|r| *r.borrow_mut() = prev);
    out
}

/// The shard running a script on this thread and the client that called
/// it (0 when the caller lives on another shard), if a script runs.
pub(crate) fn running_script() -> Option<(Rc<Shard>, u64)> {
    RUNNING.with(|r| r.borrow().clone())
}

/// What a busy thread does with a command of one of its clients.
pub(crate) enum BusyAnswer {
    /// Leave it for the connection once the script is done.
    Leave,
    Reply(Vec<u8>),
}

pub(crate) fn busy_answer(args: &Args, kind: Kind, resp3: bool, c: &ClientInfo) -> BusyAnswer {
    let Some(spec) = super::lookup(args.get(0)) else {
        return BusyAnswer::Leave;
    };
    let mut out = Vec::new();
    let mut r = Reply::new(&mut out, resp3);
    {
        // The transaction state as Redis keeps it through a busy script:
        // MULTI and DISCARD run, a refused command dooms the transaction,
        // a refused EXEC ends it. The connection applies the outcome
        // (`multi_poison`) before its next command.
        use crate::shard::{POISON_DOOM, POISON_END, POISON_START};
        let p = c.multi_poison.get();
        match spec.name {
            "multi" if args.len() == 1 => {
                if c.in_multi.get() {
                    r.error(super::multi::MULTI_NESTED);
                } else {
                    c.in_multi.set(true);
                    c.multi_poison.set((p | POISON_START) & !POISON_DOOM);
                    r.ok();
                }
                return BusyAnswer::Reply(out);
            }
            "discard" if args.len() == 1 => {
                if c.in_multi.get() {
                    c.in_multi.set(false);
                    c.multi_poison.set(POISON_END);
                    r.ok();
                } else {
                    r.error(super::multi::DISCARD_WITHOUT_MULTI);
                }
                return BusyAnswer::Reply(out);
            }
            "exec" if c.in_multi.get() => {
                c.in_multi.set(false);
                c.multi_poison.set(POISON_END);
                r.error(&format!(
                    "{} {}",
                    super::multi::EXECABORT_PREFIX,
                    engine::busy_error(kind)
                ));
                return BusyAnswer::Reply(out);
            }
            _ if c.in_multi.get() && spec.flags & flags::ALLOW_BUSY == 0 => c.multi_poison.set(p | POISON_DOOM),
            _ => {}
        }
    }
    let sub_is = |w: &str| args.len() == 2 && args.is(1, w);
    match spec.name {
        "script" | "function" if sub_is("kill") => {
            let k = if spec.name == "script" {
                Kind::Eval
            } else {
                Kind::Function
            };
            match crate::script::runstate::kill(k) {
                Ok(()) => r.ok(),
                Err(e) => r.error(e),
            }
        }
        "function" if sub_is("stats") => engine::function_stats(&mut r),
        "shutdown" if args.len() == 2 && args.is(1, "nosave") => {
            crate::server::log::notice("User requested shutdown...");
            crate::server::log::notice("Spindle is now ready to exit, bye bye...");
            std::process::exit(0);
        }
        _ if spec.flags & flags::ALLOW_BUSY != 0 => return BusyAnswer::Leave,
        "script" | "function" | "client" | "config" if args.len() >= 2 => {
            if spec.subcommands.iter().any(|s| {
                s.flags & flags::ALLOW_BUSY != 0
                    && s.name.as_bytes()[spec.name.len() + 1..].eq_ignore_ascii_case(args.get(1))
            }) {
                return BusyAnswer::Leave;
            }
            r.error(engine::busy_error(kind));
        }
        _ => r.error(engine::busy_error(kind)),
    }
    BusyAnswer::Reply(out)
}
