//! The connection loop: read → parse → dispatch → execute → write.
//!
//! One read fills the buffer with as many commands as the client pipelined;
//! they are parsed in place (arguments are ranges of the read buffer) and
//! dispatched in order:
//! - commands whose keys live on this shard run inline, replies written
//!   straight into the output buffer;
//! - commands for another shard are copied into that shard's batch; every
//!   batch goes out in one message when the pipeline is done (or when a
//!   command needs everything before it finished), and replies are stitched
//!   back in request order;
//! - connection commands and cross-shard multi-key commands run on this
//!   task after the outstanding batches came back.
//! All replies of one read leave in one write.

use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::command::observe::{self, Caller};
use crate::command::table::{CommandSpec, Handler, ShardFn};
use crate::command::{self, errors, flags, Args, ArgsBuf, Session};
use crate::protocol::{self, ArgSource, Limits, Parsed, Reply};
use crate::shard::coordinator::{self, Pending};
use crate::shard::slot::key_shard;
use crate::shard::{client_evict, tracking};
use crate::shard::{ClientInfo, Shard, CONNECTED_CLIENTS};
use crate::util::now_ms;

/// A connection's first read buffer (and again after an idle release). It
/// doubles whenever a read fills it (up to `KEEP_BUFFER` without a bigger
/// frame), so a client that pipelines much reads in big steps after a few
/// reads while one that sends a command at a time never holds 16 KiB.
const INITIAL_READ_BUFFER: usize = 1024;
/// Above this, an idle connection's buffers are shrunk back.
const KEEP_BUFFER: usize = 64 * 1024;
/// Bytes a released (idle) connection reads into its task's own small
/// array before it takes a buffer again: waiting needs no heap at all
/// (glommio's `peek` would allocate a page-aligned buffer per wait).
const WAKE_READ: usize = 64;
/// A batch for another shard is sent early past this many commands, to
/// bound memory for very deep pipelines.
const MAX_BATCH_COMMANDS: usize = 1024;

/// Where a command runs.
pub(crate) enum Route {
    Shard(usize),
    Cross,
}

pub(crate) fn route(spec: &CommandSpec, args: &Args, shards: usize, me: usize) -> Route {
    if shards == 1 {
        return Route::Shard(0);
    }
    let mut target = None;
    for i in spec.key_indices(args) {
        let s = key_shard(args.get(i), shards);
        match target {
            None => target = Some(s),
            Some(t) if t != s => return Route::Cross,
            _ => {}
        }
    }
    Route::Shard(target.unwrap_or(me))
}

/// Commands for one other shard, with their arguments copied out of the
/// read buffer (the only copy a remote command costs).
#[derive(Default)]
struct RemoteBatch {
    args: ArgsBuf,
    cmds: Vec<(&'static CommandSpec, ShardFn)>,
}

/// Replies of a batch: one buffer, the end offset of each reply, and the
/// acknowledgements of the messages and invalidations it sent to other
/// shards (the replies wait for them).
type BatchReply = (Vec<u8>, Vec<u32>, Vec<Pending<()>>);

/// Whether a command's keys are locked by a cross-shard transaction.
fn keys_locked(shard: &Shard, spec: &CommandSpec, args: &Args, db: usize) -> bool {
    if !shard.gate.has_key_locks() {
        return false;
    }
    // A command that also writes a key of another database waits until no
    // key of this shard is locked at all.
    if spec.flags & flags::CROSS_DB != 0 {
        return true;
    }
    spec.key_indices(args).any(|i| shard.gate.key_locked(db, args.get(i)))
}

/// Whether any command of a batch must wait for a transaction's locks.
fn batch_blocked(shard: &Shard, b: &RemoteBatch, db: usize) -> bool {
    b.cmds
        .iter()
        .enumerate()
        .any(|(i, &(spec, _))| must_wait(shard, spec, &b.args.get(i), db))
}

/// Whether a command outside transactions must wait: the shard is locked
/// whole, or a key it touches is locked.
pub(crate) fn must_wait(shard: &Shard, spec: &CommandSpec, args: &Args, db: usize) -> bool {
    !shard.gate.is_open_for(0) || keys_locked(shard, spec, args, db)
}

fn run_batch(
    shard: &Rc<Shard>,
    b: RemoteBatch,
    db: usize,
    resp3: bool,
    no_touch: bool,
    client: u64,
    caller: &Caller,
    reply_cap: usize,
) -> BatchReply {
    tracking::set_writer(client);
    command::REPLY_CAP.with(|c| c.set(reply_cap));
    observe::begin();
    let now = now_ms();
    let mut out = Vec::with_capacity(64 * b.cmds.len());
    let mut ends = Vec::with_capacity(b.cmds.len());
    observe::with_caller(caller, || {
        for (i, &(spec, handler)) in b.cmds.iter().enumerate() {
            command::execute(shard, spec, handler, &b.args.get(i), db, resp3, no_touch, now, &mut out);
            ends.push(out.len() as u32);
        }
    });
    tracking::set_writer(0);
    let acks = if coordinator::has_acks() {
        coordinator::take_acks_for_remote()
    } else {
        Vec::new()
    };
    (out, ends, acks)
}

/// What woke a connection waiting on both directions.
enum Io {
    Wrote(std::io::Result<usize>),
    Read(std::io::Result<usize>),
    /// Pub/sub messages arrived for the client.
    Push,
}

/// How long a connection waits on its socket before looking again.
const REPOLL_IO: Duration = Duration::from_millis(50);
/// The same once it has been idle for `IDLE_RELEASE_MS`: ten thousand idle
/// connections then cost 10 000 wake-ups a second (one `recv` peek each),
/// not 200 000 re-armed reads.
const REPOLL_IDLE: Duration = Duration::from_millis(1000);
/// Waiting this long for input, a connection gives its buffers back.
const IDLE_RELEASE_MS: u64 = 2000;

/// One non-blocking send(2); 0 when the socket buffer is full.
fn try_send(fd: i32, buf: &[u8]) -> std::io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    // SAFETY: `buf` is valid for `buf.len()` bytes; `fd` is the open socket.
    let n = unsafe {
        libc::send(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if n >= 0 {
        return Ok(n as usize);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
        _ => Err(e),
    }
}

/// Whether the socket has input (or end of stream) waiting: one
/// non-blocking `recv(MSG_PEEK)`.
fn socket_has_input(fd: i32) -> bool {
    let mut b = 0u8;
    // SAFETY: one byte into a local; `fd` is the connection's open socket.
    let n = unsafe {
        libc::recv(
            fd,
            &mut b as *mut u8 as *mut libc::c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n >= 0 || !matches!(std::io::Error::last_os_error().raw_os_error(), Some(libc::EAGAIN))
}

/// A reply's place in the pipeline while some replies are still remote.
enum Segment {
    Local { start: usize, end: usize },
    Remote { shard: usize, index: usize },
}

/// Everything of a connection except its read buffers.
pub(crate) struct State {
    sess: Session,
    out: Vec<u8>,
    batches: Vec<Option<RemoteBatch>>,
    segments: Vec<Segment>,
    local: Vec<u8>,
    remote_pending: bool,
    /// Clock of the current batch (ms), read once per read(2).
    pub(crate) now_ms: u64,
    /// The client as the slow log names it (address, name), shared with
    /// the batches sent to other shards; None only while lent out.
    caller: Option<Arc<Caller>>,
    /// The socket (for the flush before a command blocks).
    fd: i32,
    /// Bytes of `out` already sent.
    written: usize,
    /// Deliveries (messages, invalidations) this connection's commands
    /// sent to other shards: the replies wait for them.
    acks: Vec<Pending<()>>,
    /// client-output-buffer-limit of this client's class, read once per
    /// batch (hard limit `u64::MAX` when off).
    obuf_limit: crate::config::ObufLimit,
}

impl State {
    pub(crate) fn new(shard: &Rc<Shard>, info: Rc<ClientInfo>, is_local: bool) -> State {
        let fd = info.fd;
        let caller = Some(observe::caller_of(&info));
        State {
            sess: Session::new(shard.clone(), info, is_local),
            out: Vec::new(),
            batches: (0..shard.count).map(|_| None).collect(),
            segments: Vec::new(),
            local: Vec::new(),
            remote_pending: false,
            now_ms: 0,
            caller,
            fd,
            written: 0,
            acks: Vec::new(),
            obuf_limit: crate::config::ObufLimit {
                hard: u64::MAX,
                soft: u64::MAX,
                soft_secs: 0,
            },
        }
    }

    /// Takes the replies written so far.
    pub(crate) fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub(crate) fn session(&self) -> &Session {
        &self.sess
    }

    pub(crate) fn session_mut(&mut self) -> &mut Session {
        &mut self.sess
    }

    /// Runs `f` with the buffer where the next reply belongs.
    fn reply_with(&mut self, f: impl FnOnce(&mut Vec<u8>, bool)) {
        let resp3 = self.sess.resp3;
        if self.remote_pending {
            let start = self.local.len();
            f(&mut self.local, resp3);
            self.segments.push(Segment::Local {
                start,
                end: self.local.len(),
            });
        } else {
            f(&mut self.out, resp3);
        }
    }

    fn reply_error(&mut self, spec: Option<&'static CommandSpec>, msg: &[u8]) {
        // A command refused while queueing dooms the transaction.
        if let Some(m) = &mut self.sess.multi {
            m.aborted = true;
        }
        let shard = self.sess.shard.clone();
        self.reply_with(|buf, resp3| {
            let start = buf.len();
            Reply::new(buf, resp3).error_bytes(msg);
            command::record_rejected(&shard, spec, &buf[start..]);
        });
    }

    /// Sends every pending batch, waits for all, and writes the replies of
    /// the pipeline so far into `out` in request order.
    pub(crate) async fn flush_remote(&mut self) {
        if !self.remote_pending {
            return;
        }
        let shard = self.sess.shard.clone();
        let (db, resp3, no_touch) = (self.sess.db, self.sess.resp3, self.sess.no_touch);
        let client = self.sess.info.id;
        let caller = self.caller.clone().expect("caller present");
        let reply_cap = self.reply_cap();
        let mut pending: Vec<(usize, Pending<BatchReply>)> = Vec::new();
        for s in 0..self.batches.len() {
            if let Some(batch) = self.batches[s].take() {
                let p = coordinator::submit_when_free(&shard, s, batch, move |sh, b| batch_blocked(sh, b, db), {
                    let caller = caller.clone();
                    move |sh, b| run_batch(sh, b, db, resp3, no_touch, client, &caller, reply_cap)
                })
                .await;
                pending.push((s, p));
            }
        }
        let mut results: Vec<Option<BatchReply>> = (0..self.batches.len()).map(|_| None).collect();
        for (s, p) in pending {
            let mut r = p.wait().await;
            self.acks.append(&mut r.2);
            results[s] = Some(r);
        }
        for seg in self.segments.drain(..) {
            match seg {
                Segment::Local { start, end } => self.out.extend_from_slice(&self.local[start..end]),
                Segment::Remote { shard, index } => {
                    let (buf, ends, _) = results[shard].as_ref().expect("batch sent");
                    let start = if index == 0 { 0 } else { ends[index - 1] as usize };
                    self.out.extend_from_slice(&buf[start..ends[index] as usize]);
                }
            }
        }
        self.local.clear();
        self.remote_pending = false;
        // Time spent waiting belongs to no command.
        observe::begin();
    }

    /// Waits until the messages this connection's commands delivered so
    /// far reached their receivers.
    async fn wait_acks(&mut self) {
        if coordinator::has_acks() {
            self.acks.append(&mut coordinator::take_acks());
        }
        for ack in std::mem::take(&mut self.acks) {
            ack.wait().await;
        }
    }

    /// Mirrors the session's watched keys into the client's info (only
    /// WATCH adds keys; UNWATCH, EXEC, DISCARD, RESET clear them).
    fn sync_watched(&self) {
        let info = &self.sess.info;
        let n = self.sess.watch.as_ref().map_or(0, |w| w.len());
        if n != info.watched.borrow().len() {
            *info.watched.borrow_mut() = self.sess.watch.as_ref().map(|w| w.key_list()).unwrap_or_default();
        }
    }

    /// Mirrors the size of the MULTI queue into the client's info
    /// (multi-mem).
    fn sync_multi_mem(&self) {
        self.sess
            .info
            .multi_mem
            .set(self.sess.multi.as_ref().map_or(0, |m| m.mem()));
    }

    /// Renews the slow log's view of this client after a connection
    /// command (CLIENT SETNAME, HELLO SETNAME change the name).
    fn refresh_caller(&mut self) {
        let info = &self.sess.info;
        if self.caller.as_ref().is_none_or(|c| c.name != *info.name.borrow()) {
            self.caller = Some(observe::caller_of(info));
        }
    }

    /// Shows a command to the clients in MONITOR mode (only called when
    /// there are some). EXEC shows its queued commands, then itself after
    /// running; administrative commands are not shown.
    fn feed_monitors(&self, spec: &'static CommandSpec, args: &Args) {
        if spec.subcommand_flags(args) & flags::ADMIN != 0 || spec.name == "exec" {
            return;
        }
        observe::feed(&self.sess.shard, self.sess.db, &self.sess.info.addr, args);
    }

    /// Sends every reply written so far, waiting for socket room.
    async fn write_out(&mut self) {
        while self.written < self.out.len() {
            match try_send(self.fd, &self.out[self.written..]) {
                Ok(0) => glommio::timer::sleep(Duration::from_millis(1)).await,
                Ok(n) => {
                    self.written += n;
                    self.count_output(n);
                }
                Err(_) => return,
            }
        }
    }

    /// Moves the pub/sub messages delivered to this client behind the
    /// replies written so far (whole frames, so they never split a reply).
    fn take_pushes(&mut self) {
        let info = &self.sess.info;
        let mut push = info.push.borrow_mut();
        if push.is_empty() {
            return;
        }
        if self.out.is_empty() {
            std::mem::swap(&mut self.out, &mut *push);
            self.written = 0;
        } else {
            self.out.extend_from_slice(&push);
            push.clear();
        }
        info.obuf.set(self.out.len() - self.written.min(self.out.len()));
    }

    /// A tracking client's command: the keys it reads are filed on their
    /// shards before it reads them; CLIENT CACHING applies to this command
    /// only.
    fn track(&mut self, spec: &'static CommandSpec, args: &Args) {
        let info = &self.sess.info;
        if spec.flags & flags::READONLY != 0
            && !matches!(spec.handler, Handler::Conn(command::ConnCmd::Eval))
            && info.tracking.borrow().tracks_reads()
        {
            tracking::remember_keys(&self.sess.shard, info.id, spec.key_indices(args).map(|i| args.get(i)));
        }
        if spec.name != "client" && self.sess.multi.is_none() {
            info.tracking.borrow_mut().caching = None;
        }
    }

    /// Counts `n` bytes sent (stats, CLIENT LIST) after `written` moved.
    fn count_output(&mut self, n: usize) {
        {
            let mut st = self.sess.shard.stats.borrow_mut();
            st.net_output += n as u64;
            st.writes_processed += 1;
        }
        let info = &self.sess.info;
        info.tot_net_out.set(info.tot_net_out.get() + n as u64);
        info.obuf.set(self.out.len() - self.written.min(self.out.len()));
        info.obuf_cap.set(self.out.capacity());
    }

    /// Client eviction (called only while it is on): counts this client's
    /// buffers as they are now, evicting clients if all of them together
    /// reached maxmemory-clients. Returns whether this client was evicted;
    /// its unsent replies are then dropped.
    fn note_mem(&mut self) -> bool {
        let info = self.sess.info.clone();
        info.obuf_cap.set(self.out.capacity() + self.local.capacity());
        info.multi_mem.set(self.sess.multi.as_ref().map_or(0, |m| m.mem()));
        client_evict::check(&self.sess.shard, &info);
        if !info.killed.get() {
            return false;
        }
        self.out.truncate(self.written.min(self.out.len()));
        self.local.clear();
        true
    }

    /// The reply size past which this client is closed (see
    /// `command::REPLY_CAP`).
    fn reply_cap(&self) -> usize {
        self.obuf_limit.hard.min(usize::MAX as u64) as usize
    }

    /// Reads this client's output buffer limit for the coming batch.
    fn load_obuf_limit(&mut self) {
        let class = if self.sess.info.subs.borrow().total() > 0 {
            crate::config::OBUF_PUBSUB
        } else {
            0
        };
        let mut l = self.sess.shard.config.borrow().client_output_buffer_limit[class];
        if l.hard == 0 {
            l.hard = u64::MAX;
        }
        if l.soft == 0 {
            l.soft = u64::MAX;
        }
        self.obuf_limit = l;
    }

    /// After a command: whether the replies not yet sent break the output
    /// buffer limit. If so the client is closed without them, as Redis
    /// drops a client past its limit (one comparison per command when
    /// under the soft limit).
    fn obuf_over_limit(&mut self) -> bool {
        let pending = (self.out.len() - self.written.min(self.out.len()) + self.local.len()) as u64;
        if pending < self.obuf_limit.soft && pending < self.obuf_limit.hard {
            return false;
        }
        let mut limit = self.obuf_limit;
        for v in [&mut limit.hard, &mut limit.soft] {
            if *v == u64::MAX {
                *v = 0;
            }
        }
        let info = self.sess.info.clone();
        if !crate::shard::pubsub::over_limit(&info, limit, pending, crate::util::now_ms()) {
            return false;
        }
        info.obuf.set(pending as usize);
        crate::server::log::warning(&format!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            info.describe(crate::util::now_ms())
        ));
        self.sess.shard.stats.borrow_mut().client_outbuf_limit_disconnections += 1;
        self.out.truncate(self.written.min(self.out.len()));
        self.local.clear();
        info.killed.set(true);
        true
    }

    /// CLIENT PAUSE: waits while the pause holds this command (commands
    /// before it in the pipeline are answered first). One `Cell` read when
    /// no pause is on.
    async fn wait_if_paused(&mut self, spec: &'static CommandSpec, args: &Args<'_>) {
        let shard = self.sess.shard.clone();
        if !shard
            .pause
            .holds(|| command::connection::pause_may_write(spec, args, &self.sess))
        {
            return;
        }
        self.flush_remote().await;
        self.write_out().await;
        let info = self.sess.info.clone();
        info.paused.set(true);
        shard.pause.held.set(shard.pause.held.get() + 1);
        while !info.killed.get()
            && shard
                .pause
                .holds(|| command::connection::pause_may_write(spec, args, &self.sess))
        {
            crate::util::within(REPOLL_IO, shard.pause.changed()).await;
        }
        shard.pause.held.set(shard.pause.held.get() - 1);
        info.paused.set(false);
        self.now_ms = now_ms();
    }

    /// Dispatches one parsed command.
    pub(crate) async fn dispatch(&mut self, args: &Args<'_>) {
        let skip = std::mem::take(&mut self.sess.skip_next_reply);
        if !skip && !self.sess.info.reply_off.get() {
            return self.dispatch_command(args).await;
        }
        // CLIENT REPLY OFF or SKIP (rare): the command's reply is dropped,
        // except CLIENT REPLY ON's and (un)subscribe confirmations (pushes
        // in Redis, which pass the switch in RESP2 as in RESP3).
        self.flush_remote().await;
        let start = self.out.len().max(self.written);
        // Boxed: a second inline copy of the command's future would double
        // every connection's task.
        Box::pin(self.dispatch_command(args)).await;
        self.flush_remote().await;
        // CLIENT REPLY ON clears SKIP before it answers, as in Redis.
        let confirmation = is_subscription_command(args)
            || (args.len() == 3 && args.is(0, "client") && args.is(1, "reply") && args.is(2, "on"));
        if !confirmation && (skip || self.sess.info.reply_off.get()) && self.out.len() > start {
            self.out.truncate(start);
        }
    }

    /// Runs a shard handler where its keys live: inline on this shard,
    /// batched for another one, or gathered across shards.
    async fn run_shard_command(
        &mut self,
        spec: &'static CommandSpec,
        handler: command::table::ShardFn,
        args: &Args<'_>,
    ) {
        let shard = self.sess.shard.clone();
        match route(spec, args, shard.count, shard.id) {
            Route::Shard(target) if target == shard.id => {
                let db = self.sess.db;
                if must_wait(&shard, spec, args, db) {
                    self.flush_remote().await;
                    while must_wait(&shard, spec, args, db) {
                        shard.gate.changed().await;
                    }
                    observe::begin();
                }
                let no_touch = self.sess.no_touch;
                let now = self.now_ms;
                let cap = self.reply_cap();
                command::REPLY_CAP.with(|c| c.set(cap));
                tracking::set_writer(self.sess.info.id);
                // Lent to the closure without touching its count.
                let caller = self.caller.take().expect("caller present");
                self.reply_with(|buf, resp3| {
                    observe::with_caller(&caller, || {
                        command::execute(&shard, spec, handler, args, db, resp3, no_touch, now, buf)
                    })
                });
                self.caller = Some(caller);
                tracking::set_writer(0);
            }
            Route::Shard(target) => {
                let batch = self.batches[target].get_or_insert_with(RemoteBatch::default);
                batch.args.push(args);
                batch.cmds.push((spec, handler));
                let index = batch.cmds.len() - 1;
                self.segments.push(Segment::Remote { shard: target, index });
                self.remote_pending = true;
                // With client eviction on, each remote reply joins the
                // client's output (and its count) before the next command
                // runs, as inline ones do: a batch's replies are not
                // counted while they are built on the other shard.
                if index + 1 >= MAX_BATCH_COMMANDS || client_evict::enabled() {
                    self.flush_remote().await;
                }
            }
            Route::Cross => {
                self.flush_remote().await;
                if spec.flags & flags::DENYOOM != 0 && command::oom::out_of_memory(&self.sess) {
                    return self.reply_error(Some(spec), errors::OOM.as_bytes());
                }
                let t0 = observe::ticks();
                let start = self.out.len();
                let _argv = ArgvMem::hold(&self.sess.info, args);
                match spec.cross {
                    Some(how) => {
                        Box::pin(command::cross::execute(&mut self.sess, spec, how, args, &mut self.out)).await
                    }
                    None => Reply::new(&mut self.out, self.sess.resp3).error(errors::CROSSSLOT),
                }
                let t1 = observe::ticks();
                observe::set_mark(t1);
                let ns = observe::ticks_to_ns(t1.wrapping_sub(t0));
                observe::conn_command_done(&self.sess, spec, args, ns, &self.out[start..]);
            }
        }
    }

    /// The -OOM (or EXECABORT) error refusing `spec` now, if any (see
    /// `command::oom`). A refused EXEC ends the transaction.
    fn oom_refusal(&mut self, spec: &'static CommandSpec, args: &Args) -> Option<Vec<u8>> {
        use command::oom;
        if crate::persist::snapshot::refuses_writes() && spec.flags & command::flags::WRITE != 0 {
            return Some(crate::persist::snapshot::MISCONF.as_bytes().to_vec());
        }
        if !crate::persist::aof::WRITE_OK.load(std::sync::atomic::Ordering::Relaxed)
            && spec.flags & command::flags::WRITE != 0
        {
            return Some(crate::persist::aof::misconf());
        }
        let Some(m) = &self.sess.multi else {
            return oom::refused(&self.sess, spec, args).then(|| errors::OOM.as_bytes().to_vec());
        };
        if spec.name != "exec" {
            let queued = !command::multi::runs_in_multi(spec);
            return (queued && oom::refused(&self.sess, spec, args)).then(|| errors::OOM.as_bytes().to_vec());
        }
        if !m.denyoom || !oom::out_of_memory(&self.sess) {
            return None;
        }
        self.sess.multi = None;
        self.sess.watch = None;
        self.sync_watched();
        Some(format!("{} {}", command::multi::EXECABORT_PREFIX, errors::OOM).into_bytes())
    }

    async fn dispatch_command(&mut self, args: &Args<'_>) {
        // What a busy script's poller answered for this client meanwhile.
        let poison = self.sess.info.multi_poison.replace(0);
        if poison != 0 {
            use crate::shard::{POISON_DOOM, POISON_END, POISON_START};
            if poison & POISON_END != 0 {
                self.sess.multi = None;
                self.sess.watch = None;
                self.sync_watched();
            }
            if poison & POISON_START != 0 {
                self.sess.multi = Some(Default::default());
            }
            if poison & POISON_DOOM != 0 {
                if let Some(m) = &mut self.sess.multi {
                    m.aborted = true;
                }
            }
            self.sync_multi_mem();
        }
        let Some(spec) = command::lookup(args.get(0)) else {
            let msg = errors::unknown_command(args.get(0), &mut args.iter().skip(1));
            return self.reply_error(None, &msg);
        };
        if !spec.arity_ok(args.len()) {
            return self.reply_error(Some(spec), errors::arity(spec.name).as_bytes());
        }
        if let Some(msg) = subcommand_error(spec, args) {
            return self.reply_error(Some(spec), &msg);
        }
        // Authentication and ACL: one compare while the session's verdict
        // ("may run anything") is as fresh as the shard's ACL generation.
        if self.sess.acl_ok != self.sess.shard.acl.generation() {
            if let Some(msg) = command::acl::gate(&mut self.sess, spec, args) {
                return self.reply_error(Some(spec), &msg);
            }
        }
        // A RESP2 client with subscriptions may only (un)subscribe, ping,
        // quit and reset. One RefCell read otherwise.
        if !self.sess.resp3 && self.sess.info.subs.borrow().total() > 0 {
            use crate::command::pubsub;
            if !pubsub::allowed_when_subscribed(spec.name) {
                let name = spec.find_subcommand(args).map_or(spec.name, |s| s.name);
                return self.reply_error(Some(spec), pubsub::subscribed_context_error(name).as_bytes());
            }
            if spec.name == "ping" && args.len() <= 2 {
                let shard = self.sess.shard.clone();
                self.sess.info.last_cmd.set(spec.name);
                return self.reply_with(|buf, resp3| {
                    let start = buf.len();
                    pubsub::subscribed_ping(args, &mut Reply::new(buf, resp3));
                    command::record_call(&shard, spec, 0, &buf[start..]);
                });
            }
        }
        // Over maxmemory with nothing left to evict, Redis refuses a command
        // that may grow memory before it is queued or run, and EXEC of a
        // queue holding one. Shard commands run alone are checked where
        // they run (execute()); flag tests only otherwise.
        if self.sess.multi.is_some() || matches!(spec.handler, Handler::Conn(_)) {
            if let Some(msg) = self.oom_refusal(spec, args) {
                return self.reply_error(Some(spec), &msg);
            }
        }
        // A script past busy-reply-threshold on some shard: only commands
        // allowed while busy run (SCRIPT KILL, FUNCTION KILL, ...). One
        // relaxed load otherwise.
        if let Some(kind) = crate::script::engine::busy() {
            if spec.flags & flags::ALLOW_BUSY == 0 && !busy_allowed_sub(spec, args) {
                let busy = crate::script::engine::busy_error(kind);
                if spec.name == "exec" && self.sess.multi.take().is_some() {
                    // A refused EXEC ends the transaction.
                    self.sess.watch = None;
                    self.sync_watched();
                    let msg = format!("{} {}", command::multi::EXECABORT_PREFIX, busy);
                    return self.reply_error(Some(spec), msg.as_bytes());
                }
                return self.reply_error(Some(spec), busy.as_bytes());
            }
        }
        if self.sess.shard.pause.mode() != crate::shard::pause::Mode::Off {
            Box::pin(self.wait_if_paused(spec, args)).await;
        }
        // Client-side caching (one RefCell read when off).
        if self.sess.info.tracking.borrow().on {
            self.track(spec, args);
        }
        if self.sess.multi.is_some() && !command::multi::runs_in_multi(spec) {
            if spec.flags & flags::NO_MULTI != 0 {
                return self.reply_error(Some(spec), command::multi::NOT_IN_MULTI.as_bytes());
            }
            if let Some(m) = &mut self.sess.multi {
                m.queue(spec, args);
            }
            self.sync_multi_mem();
            return self.reply_with(|buf, resp3| Reply::new(buf, resp3).simple("QUEUED"));
        }
        let info = &self.sess.info;
        // CLIENT LIST shows `cmd=client|list` for a subcommand.
        info.last_cmd.set(if spec.subcommands.is_empty() {
            spec.name
        } else {
            spec.find_subcommand(args).map_or(spec.name, |s| s.name)
        });
        info.tot_cmds.set(info.tot_cmds.get() + 1);
        // MONITOR: one relaxed load when nobody monitors.
        if observe::monitoring() {
            self.feed_monitors(spec, args);
        }
        match spec.handler {
            // XREAD/XREADGROUP with BLOCK: run without blocking, then wait
            // if that found nothing.
            Handler::Shard(handler) if spec.flags & flags::BLOCKING != 0 && command::stream::wants_block(args) => {
                self.flush_remote().await;
                self.write_out().await;
                self.wait_acks().await;
                observe::begin();
                let start = self.out.len();
                let run0 = observe::ticks();
                self.run_shard_command(spec, handler, args).await;
                self.flush_remote().await;
                let first = self.out.split_off(start);
                let t0 = observe::ticks();
                // The first run's time, taken back if the call is refused.
                let first_ns = observe::ticks_to_ns(t0.wrapping_sub(run0));
                let at = self.out.len();
                let _argv = ArgvMem::hold(&self.sess.info, args);
                let waited = Box::pin(command::stream::cmd_block(
                    &mut self.sess,
                    args,
                    first,
                    first_ns,
                    &mut self.out,
                ))
                .await;
                let t1 = observe::ticks();
                observe::set_mark(t1);
                let us = observe::ticks_to_ns(t1.wrapping_sub(t0)) / 1000;
                if waited {
                    command::record_unblocked(&self.sess.shard, spec, us, &self.out[at..]);
                }
            }
            Handler::Shard(handler) => self.run_shard_command(spec, handler, args).await,
            Handler::Conn(c) => {
                self.flush_remote().await;
                if spec.flags & flags::BLOCKING != 0 {
                    // Replies before a blocking command reach the client
                    // before it waits (a pipelined push's reply must not
                    // wait for the pop after it).
                    self.write_out().await;
                    // So do the deliveries made so far (MONITOR lines).
                    self.wait_acks().await;
                }
                let exec_monitored = c == command::ConnCmd::Exec && observe::monitoring();
                if exec_monitored {
                    if let Some(m) = self.sess.multi.as_ref().filter(|m| !m.aborted) {
                        m.each_queued(|spec, args| self.feed_monitors(spec, args));
                    }
                }
                let t0 = observe::ticks();
                let start = self.out.len();
                let argv = ArgvMem::hold(&self.sess.info, args);
                // Boxed, as the other rare and deep futures here: inline,
                // the biggest of them would size every connection's task.
                Box::pin(command::exec_conn(&mut self.sess, c, args, &mut self.out)).await;
                drop(argv);
                let t1 = observe::ticks();
                observe::set_mark(t1);
                let ns = observe::ticks_to_ns(t1.wrapping_sub(t0));
                observe::conn_command_done(&self.sess, spec, args, ns, &self.out[start..]);
                self.refresh_caller();
                self.sync_watched();
                self.sync_multi_mem();
                if exec_monitored {
                    observe::feed(&self.sess.shard, self.sess.db, &self.sess.info.addr, args);
                }
            }
        }
    }
}

/// argv-mem while a command that may wait (or show itself, CLIENT LIST)
/// holds its arguments: their bytes, as Redis sums its argv. Shard commands
/// run inline and nobody sees them run, so they pay nothing.
struct ArgvMem(Rc<ClientInfo>);

impl ArgvMem {
    fn hold(info: &Rc<ClientInfo>, args: &Args) -> ArgvMem {
        info.argv_mem.set(args.iter().map(|a| a.len()).sum());
        ArgvMem(info.clone())
    }
}

impl Drop for ArgvMem {
    fn drop(&mut self) {
        self.0.argv_mem.set(0);
    }
}

/// Whether `args` is a (P|S)(UN)SUBSCRIBE command.
fn is_subscription_command(args: &Args) -> bool {
    use crate::command::ConnCmd;
    matches!(
        command::lookup(args.get(0)).map(|s| s.handler),
        Some(Handler::Conn(ConnCmd::Subscribe(_) | ConnCmd::Unsubscribe(_)))
    )
}

/// Whether a container's subcommand may run while a script is busy
/// (SCRIPT KILL, FUNCTION KILL, FUNCTION STATS).
fn busy_allowed_sub(spec: &'static CommandSpec, args: &Args) -> bool {
    spec.find_subcommand(args)
        .is_some_and(|s| s.flags & flags::ALLOW_BUSY != 0)
}

/// Arity and name checks of container subcommands (CLIENT ID, CONFIG GET...),
/// with Redis's errors.
pub(crate) fn subcommand_error(spec: &'static CommandSpec, args: &Args) -> Option<Vec<u8>> {
    if spec.subcommands.is_empty() {
        return None;
    }
    match spec.find_subcommand(args) {
        None => Some(errors::unknown_subcommand(args.get(1), spec.name)),
        Some(s) => {
            let ok = if s.arity >= 0 {
                args.len() == s.arity as usize
            } else {
                args.len() >= (-s.arity) as usize
            };
            if ok {
                None
            } else {
                Some(errors::arity(s.name).into_bytes())
            }
        }
    }
}

/// Serves one client until it quits, is killed, or breaks the protocol.
pub async fn serve(shard: Rc<Shard>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
    let local_addr = stream.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let is_local = stream.peer_addr().map(|a| a.ip().is_loopback()).unwrap_or(false);
    let info = Rc::new(ClientInfo {
        id: crate::shard::next_client_id(),
        fd: stream.as_raw_fd(),
        fixed_mem: conn_fixed_mem(&peer, &local_addr),
        addr: peer,
        laddr: local_addr,
        created_ms: now_ms(),
        ..Default::default()
    });
    info.resp.set(2);
    info.qbuf_cap.set(INITIAL_READ_BUFFER);
    info.last_cmd.set("NULL");
    info.last_interaction_ms.set(now_ms());
    shard.clients.borrow_mut().insert(info.id, info.clone());
    shard.stats.borrow_mut().total_connections += 1;

    // SAFETY: dup returns a new descriptor for the same open socket, owned
    // by the TcpStream built from it (closed on drop).
    let writer_fd = unsafe { libc::dup(stream.as_raw_fd()) };
    if writer_fd < 0 {
        shard.clients.borrow_mut().remove(&info.id);
        CONNECTED_CLIENTS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        return;
    }
    let writer = unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(writer_fd) };
    let fd = stream.as_raw_fd();
    let mut conn = Connection {
        stream,
        writer,
        fd,
        rbuf: vec![0u8; INITIAL_READ_BUFFER],
        rstart: 0,
        rend: 0,
        ranges: Vec::new(),
        filled: false,
        scratch: Vec::new(),
        resume: Default::default(),
        state: State::new(&shard, info.clone(), is_local),
    };
    if let Err(e) = conn.run().await {
        crate::server::log::verbose(&format!("client {} closed: {}", info.addr, e));
    }
    crate::shard::pubsub::drop_client(&shard, &info);
    tracking::disable(&shard, &info);
    observe::monitor_drop(&shard, &info);
    client_evict::forget(&shard, &info);
    shard.clients.borrow_mut().remove(&info.id);
    CONNECTED_CLIENTS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Bytes quoted as Redis's `sdscatrepr` shows them in logs.
fn repr(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{:02x}", c)),
        }
    }
    s.push('"');
    s
}

/// Size of a connection task's future (`serve`), noted where it is spawned.
static TASK_SIZE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Notes the size of the connection task's future (a constant; one relaxed
/// store per accepted connection).
pub(crate) fn note_task_size(n: usize) {
    TASK_SIZE.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// What a connection costs before any buffer (tot-mem's fixed part): its
/// task's future, the client's shared info, the slow log's view of it and
/// the socket's two glommio handles.
fn conn_fixed_mem(addr: &str, laddr: &str) -> usize {
    TASK_SIZE.load(std::sync::atomic::Ordering::Relaxed)
        + std::mem::size_of::<ClientInfo>()
        + addr.len() * 2
        + laddr.len()
        + std::mem::size_of::<observe::Caller>()
        + GLOMMIO_CONN_MEM
}

/// What else a connection holds: glommio's task header, the armed read's
/// poll source and the two stream handles' timers, the registry entry,
/// reference-count headers and small vectors. Measured (release build,
/// 5 000 idle connections): heap per idle connection minus the parts
/// above.
const GLOMMIO_CONN_MEM: usize = 1740;

struct Connection {
    stream: TcpStream,
    /// A second handle on the same socket (a dup'ed descriptor), so a write
    /// can wait while a read waits too.
    writer: TcpStream,
    fd: i32,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    ranges: Vec<(u32, u32)>,
    scratch: Vec<u8>,
    /// The last read filled the read buffer (more input is likely waiting).
    filled: bool,
    /// Progress through a multibulk that is not all here yet.
    resume: protocol::parser::Resume,
    state: State,
}

impl Connection {
    async fn run(&mut self) -> std::io::Result<()> {
        let mut hint = 0usize;
        loop {
            // Messages that arrived before this input go before its replies;
            // those its commands cause go after them.
            self.state.take_pushes();
            let closing = self.process(&mut hint).await;
            if !self.state.acks.is_empty() {
                // Messages and invalidations these commands sent reach their
                // receivers before the replies leave.
                for ack in std::mem::take(&mut self.state.acks) {
                    ack.wait().await;
                }
            }
            self.state.take_pushes();
            if closing || self.state.sess.close_after_reply || self.state.sess.info.killed.get() {
                if self.state.written < self.state.out.len() {
                    let rest = self.state.out[self.state.written..].to_vec();
                    self.writer.write_all(&rest).await?;
                    self.state.count_output(rest.len());
                }
                return Ok(());
            }
            // Write what the socket takes now, without waiting.
            if self.state.written < self.state.out.len() {
                let n = try_send(self.fd, &self.state.out[self.state.written..])?;
                self.state.written += n;
                self.state.count_output(n);
            }
            if self.state.written == self.state.out.len() {
                self.state.written = 0;
                self.state.out.clear();
                if self.state.out.capacity() > KEEP_BUFFER {
                    self.state.out.shrink_to(16 * 1024);
                }
            }
            self.make_room(hint)?;
            let info = &self.state.sess.info;
            info.qbuf.set(self.rend - self.rstart - self.resume.taken_in());
            info.qbuf_cap.set(self.rbuf.len());
            info.obuf_cap.set(self.state.out.capacity());
            // The query buffer may have grown for a big argument.
            if client_evict::enabled() && self.state.note_mem() {
                return Ok(());
            }
            // With replies still pending, wait for room to write or for more
            // input, whichever comes first: a client that sends its whole
            // pipeline before reading must not deadlock against us.
            // A socket wake-up lost by the executor must not park a client
            // forever: look again every REPOLL_IO (glommio then retries the
            // socket directly).
            let idle = self.state.written >= self.state.out.len() && self.rstart == self.rend;
            self.state.sess.info.idle.set(idle);
            self.state.sess.info.in_multi.set(self.state.sess.multi.is_some());
            let mut waited_ms = 0u64;
            let mut wake = [0u8; WAKE_READ];
            let event = loop {
                // Idle for a while: give the buffers back and wait for input
                // with a one-byte peek, so an idle connection holds no
                // buffer (Redis frees an idle client's query buffer too).
                if waited_ms >= IDLE_RELEASE_MS
                    && self.state.written >= self.state.out.len()
                    && (self.rbuf.len() > INITIAL_READ_BUFFER || self.rstart == self.rend)
                    && !self.rbuf.is_empty()
                {
                    self.release_buffers();
                }
                let released = self.rbuf.is_empty();
                // A connection idle for long looks again less often.
                let repoll = if waited_ms >= IDLE_RELEASE_MS {
                    REPOLL_IDLE
                } else {
                    REPOLL_IO
                };
                let event = {
                    let Connection {
                        stream,
                        writer,
                        rbuf,
                        rend,
                        state,
                        fd,
                        ..
                    } = &mut *self;
                    // One read stays armed while messages for a subscriber come
                    // and go: each is written at once without re-arming the
                    // socket (a direct recv and a poll per message otherwise).
                    let mut read = std::pin::pin!(async {
                        if released {
                            stream.read(&mut wake).await
                        } else {
                            stream.read(&mut rbuf[*rend..]).await
                        }
                    });
                    let info = state.sess.info.clone();
                    let event = loop {
                        let pending = state.written < state.out.len();
                        let (out, written) = (&state.out, state.written);
                        let step = async {
                            let rd = async { Io::Read(read.as_mut().await) };
                            // Messages wake the connection too (same thread:
                            // that waker is never lost).
                            let push = async {
                                info.push_ready().await;
                                Io::Push
                            };
                            if pending {
                                let wr = async { Io::Wrote(writer.write(&out[written..]).await) };
                                futures_lite::future::or(wr, futures_lite::future::or(rd, push)).await
                            } else {
                                futures_lite::future::or(rd, push).await
                            }
                        };
                        match crate::util::within(repoll, step).await {
                            // A wake-up lost by the executor must not park a
                            // client forever: a new read retries the socket.
                            // With nothing to write, one non-blocking peek
                            // tells whether that is needed (re-arming the read
                            // costs more, and idle connections repoll often).
                            None => {
                                waited_ms += repoll.as_millis() as u64;
                                let release_due = waited_ms >= IDLE_RELEASE_MS && !released;
                                if pending || release_due || socket_has_input(*fd) {
                                    break None;
                                }
                            }
                            Some(Io::Push) if !info.killed.get() => {
                                state.take_pushes();
                                if state.written < state.out.len() {
                                    let n = try_send(*fd, &state.out[state.written..])?;
                                    state.written += n;
                                    state.count_output(n);
                                }
                                if state.written == state.out.len() {
                                    state.written = 0;
                                    state.out.clear();
                                }
                                // Messages the client does not read grow its
                                // output (a closed client's read ends next).
                                if client_evict::enabled() {
                                    state.note_mem();
                                }
                            }
                            Some(Io::Wrote(r)) => {
                                let n = r?;
                                state.written += n;
                                state.count_output(n);
                                if state.written == state.out.len() {
                                    state.written = 0;
                                    state.out.clear();
                                }
                            }
                            Some(ev) => break Some(ev),
                        }
                    };
                    event
                };
                match event {
                    Some(Io::Read(Ok(n))) if released && n > 0 => {
                        // Input arrived for a released connection: it takes
                        // a buffer again, starting with what was read.
                        self.rbuf = vec![0u8; INITIAL_READ_BUFFER];
                        self.rbuf[..n].copy_from_slice(&wake[..n]);
                        self.state.sess.info.qbuf_cap.set(self.rbuf.len());
                        break Io::Read(Ok(n));
                    }
                    Some(event) => break event,
                    None => {}
                }
            };
            self.state.sess.info.idle.set(false);
            let n = match event {
                Io::Wrote(_) => unreachable!("writes are handled while waiting"),
                Io::Push => continue,
                Io::Read(Ok(n)) => n,
                Io::Read(Err(e)) => return Err(e),
            };
            if n == 0 {
                return Ok(());
            }
            self.rend += n;
            self.filled = self.rend == self.rbuf.len();
            let info = &self.state.sess.info;
            info.tot_net_in.set(info.tot_net_in.get() + n as u64);
            info.qbuf.set(self.rend - self.rstart - self.resume.taken_in());
            info.qbuf_peak.set(info.qbuf_peak.get().max(self.rend - self.rstart));
            info.last_interaction_ms.set(now_ms());
            {
                let mut st = self.state.sess.shard.stats.borrow_mut();
                st.net_input += n as u64;
                st.reads_processed += 1;
            }
        }
    }

    /// Gives back an idle connection's buffers: the read buffer entirely
    /// when it holds nothing, else shrunk to what it holds (a partial
    /// command stays); the output buffer when everything was sent.
    fn release_buffers(&mut self) {
        let pending = self.rend - self.rstart;
        if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rstart = 0;
            self.rend = pending;
        }
        if pending == 0 && !self.resume.active() {
            self.rbuf = Vec::new();
        } else if self.rbuf.len() > INITIAL_READ_BUFFER.max(pending * 2) {
            self.rbuf.truncate(INITIAL_READ_BUFFER.max(pending * 2));
            self.rbuf.shrink_to_fit();
        }
        if self.state.written >= self.state.out.len() {
            self.state.out = Vec::new();
            self.state.written = 0;
        }
        self.scratch = Vec::new();
        if !self.resume.active() {
            self.ranges = Vec::new();
        }
        let st = &mut self.state;
        if !st.remote_pending {
            st.segments = Vec::new();
            st.local = Vec::new();
        }
        let info = &self.state.sess.info;
        if info.push.borrow().is_empty() {
            *info.push.borrow_mut() = Vec::new();
        }
        info.qbuf_cap.set(self.rbuf.len());
        info.obuf_cap.set(self.state.out.capacity());
        info.qbuf_peak.set(pending);
    }

    /// Ensures free space after `rend`: compacts, grows for a large frame
    /// (`hint` bytes from `rstart`), enforces the query buffer limit.
    fn make_room(&mut self, hint: usize) -> std::io::Result<()> {
        if self.rbuf.is_empty() {
            self.rbuf = vec![0u8; INITIAL_READ_BUFFER];
        }
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
            if self.rbuf.len() > KEEP_BUFFER {
                self.rbuf = vec![0u8; INITIAL_READ_BUFFER];
            }
        }
        // A read that filled the buffer: a client pipelining much gets
        // bigger reads (once per doubling; the buffer then stays).
        if std::mem::take(&mut self.filled) && self.rbuf.len() < KEEP_BUFFER {
            let len = self.rbuf.len() * 2;
            self.rbuf.resize(len, 0);
        }
        let pending = self.rend - self.rstart;
        let need = hint.max(pending + 1);
        if self.rbuf.len() - self.rstart < need || self.rend == self.rbuf.len() {
            if self.rstart > 0 {
                self.rbuf.copy_within(self.rstart..self.rend, 0);
                self.rstart = 0;
                self.rend = pending;
            }
            let mut limit = self.state.sess.shard.config.borrow().client_query_buffer_limit;
            if !self.state.sess.authenticated {
                // Before AUTH, at most 1 MB, as in Redis.
                limit = limit.min(1024 * 1024);
            }
            if need > limit || pending >= limit {
                let info = &self.state.sess.info;
                info.qbuf.set(pending);
                crate::server::log::warning(&format!(
                    "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
                    info.describe(now_ms()),
                    repr(&self.rbuf[..pending.min(64)])
                ));
                self.state
                    .sess
                    .shard
                    .stats
                    .borrow_mut()
                    .client_qbuf_limit_disconnections += 1;
                return Err(std::io::Error::other("query buffer limit reached"));
            }
            if self.rbuf.len() < need || self.rend == self.rbuf.len() {
                let new_len = (self.rbuf.len() * 2).max(need).min(limit.max(INITIAL_READ_BUFFER));
                self.rbuf.resize(new_len, 0);
            }
        }
        Ok(())
    }

    /// Parses and runs every complete command in the buffer. Returns true
    /// when the connection must close (protocol error).
    async fn process(&mut self, hint: &mut usize) -> bool {
        *hint = 0;
        let Connection {
            rbuf,
            rstart,
            rend,
            ranges,
            scratch,
            resume,
            state,
            ..
        } = self;
        state.now_ms = now_ms();
        observe::begin();
        state.load_obuf_limit();
        let mut closing = Self::process_commands(rbuf, rstart, rend, ranges, scratch, resume, state, hint).await;
        // Replies of other shards arrived at the end of the batch.
        if !closing && state.obuf_over_limit() {
            closing = true;
        }
        closing
    }

    async fn process_commands(
        rbuf: &[u8],
        rstart: &mut usize,
        rend: &mut usize,
        ranges: &mut Vec<(u32, u32)>,
        scratch: &mut Vec<u8>,
        resume: &mut protocol::parser::Resume,
        state: &mut State,
        hint: &mut usize,
    ) -> bool {
        loop {
            if !resume.active() {
                ranges.clear();
            }
            scratch.clear();
            let limits = Limits {
                max_bulk_len: state.sess.shard.config.borrow().proto_max_bulk_len as i64,
                authenticated: state.sess.authenticated,
            };
            let input = &rbuf[*rstart..*rend];
            match protocol::parser::parse_from(input, limits, ranges, scratch, resume) {
                Ok(Parsed::Command { consumed, argc, source }) => {
                    if state.sess.info.argv_mem.get() != 0 {
                        state.sess.info.argv_mem.set(0);
                    }
                    let base = *rstart;
                    *rstart += consumed;
                    if argc == 0 {
                        continue;
                    }
                    let buf: &[u8] = match source {
                        ArgSource::Input => &rbuf[base..base + consumed],
                        ArgSource::Scratch => &scratch[..],
                    };
                    let args = Args::new(buf, &ranges[..argc]);
                    // CLIENT LIST shows the running command in qbuf, as Redis.
                    state.sess.info.qbuf.set(*rend - base);
                    state.dispatch(&args).await;
                    if state.obuf_over_limit() {
                        return true;
                    }
                    // maxmemory-clients: one relaxed load while it is off.
                    if client_evict::enabled() && state.note_mem() {
                        return true;
                    }
                    if coordinator::has_acks() {
                        state.acks.append(&mut coordinator::take_acks());
                    }
                    // A message the command delivered to this very client
                    // (published to itself) follows its reply, as in
                    // Redis, unless replies of other shards are pending.
                    if !state.remote_pending {
                        state.take_pushes();
                    }
                    if state.sess.info.killed.get() {
                        // CLIENT KILL from another client: nothing more runs.
                        state.flush_remote().await;
                        return true;
                    }
                    if state.sess.close_after_reply {
                        state.flush_remote().await;
                        return false;
                    }
                }
                Ok(Parsed::Incomplete { hint: h }) => {
                    *hint = h;
                    // The arguments of a half-read frame taken in so far
                    // (argv-mem, as Redis moves them into argv).
                    if resume.active() {
                        let held = ranges.iter().map(|&(_, len)| len as usize).sum();
                        state.sess.info.argv_mem.set(held);
                    }
                    state.flush_remote().await;
                    return false;
                }
                Err(e) => {
                    state.flush_remote().await;
                    let msg = errors::protocol_error(e.message());
                    Reply::new(&mut state.out, state.sess.resp3).error(&msg);
                    crate::server::log::verbose(&format!(
                        "Protocol error ({}) from client: {}",
                        e.message(),
                        state.sess.info.addr
                    ));
                    return true;
                }
            }
        }
    }
}
