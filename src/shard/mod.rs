//! Shards: key → slot → shard mapping, each shard's state, and the
//! coordinator that is the only code to see more than one shard.
//!
//! A `Shard` is created on its executor's thread and never leaves it; other
//! shards reach it only through [`Msg`]s on the channel mesh.

pub mod blocking;
pub mod client_evict;
pub mod coordinator;
pub mod evict;
pub mod gate;
pub mod pause;
pub mod pubsub;
pub mod slot;
pub mod tracking;
pub mod watch;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use glommio::channels::channel_mesh::Senders;

use crate::config::Config;
use crate::storage::Keyspace;
use crate::util::Rng;
pub use gate::{key_id, Gate, KeyId, TxId};

/// Work sent to another shard: runs there with that shard's state.
pub type Job = Box<dyn FnOnce(&Rc<Shard>) + Send>;

/// What a transaction locks on a shard before its job runs there.
pub enum Lock {
    /// Nothing new: ordinary work (tx 0) or a shard the transaction holds.
    None,
    /// These keys (see [`gate::key_id`]).
    Keys(Vec<gate::KeyId>),
    /// The whole shard.
    Shard,
}

/// A message between shards.
pub enum Msg {
    /// Run `job` after taking `lock` for `tx` (ascending shard order is the
    /// sender's duty). Ordinary work (tx 0) runs when the shard is not
    /// locked whole; it checks key locks itself.
    Run { tx: TxId, lock: Lock, job: Job },
    /// Release every lock held by `tx`.
    Release { tx: TxId },
    /// Run `job` at once, whatever locks are held: work that never touches
    /// the keyspace (pub/sub registrations and deliveries).
    Post(Job),
}

/// Per-command counters (INFO commandstats, latencystats), one per
/// command and subcommand (`command::observe::stat_slot`).
#[derive(Default, Clone, Debug)]
pub struct CmdStat {
    pub calls: u64,
    /// Time spent, in nanoseconds (INFO shows microseconds).
    pub nsec: u64,
    pub failed: u64,
    pub rejected: u64,
    /// Latency distribution (ns), made on the first call when
    /// latency-tracking is on.
    pub hist: Option<Box<hdrhistogram::Histogram<u64>>>,
}

/// Per-shard counters; INFO sums them over shards.
#[derive(Default, Clone, Debug)]
pub struct Stats {
    pub commands: Vec<CmdStat>,
    pub errors: HashMap<String, u64>,
    pub total_commands: u64,
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub net_input: u64,
    pub net_output: u64,
    pub expired_keys_active: u64,
    pub evicted_keys: u64,
    /// Clients closed by client eviction (maxmemory-clients).
    pub evicted_clients: u64,
    pub error_replies: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// ACL denials by kind: command, key, channel, auth.
    pub acl_denied: [u64; 4],
    /// Reads and writes on client sockets (INFO total_reads/writes_processed).
    pub reads_processed: u64,
    pub writes_processed: u64,
    /// Clients closed for passing client-output-buffer-limit.
    pub client_outbuf_limit_disconnections: u64,
    /// Clients closed for passing client-query-buffer-limit.
    pub client_qbuf_limit_disconnections: u64,
}

impl Stats {
    /// A copy for INFO. The per-command latency histograms are copied only
    /// when `hists` (INFO latencystats): they are most of the stats' size,
    /// and copying them on every INFO made it slow and allocation-heavy.
    pub fn snapshot(&mut self, hists: bool) -> Stats {
        let commands = std::mem::take(&mut self.commands);
        let mut copy = self.clone();
        copy.commands = commands
            .iter()
            .map(|c| CmdStat {
                calls: c.calls,
                nsec: c.nsec,
                failed: c.failed,
                rejected: c.rejected,
                hist: if hists { c.hist.clone() } else { None },
            })
            .collect();
        self.commands = commands;
        copy
    }

    pub fn merge(&mut self, o: &Stats) {
        if self.commands.len() < o.commands.len() {
            self.commands.resize(o.commands.len(), CmdStat::default());
        }
        for (a, b) in self.commands.iter_mut().zip(&o.commands) {
            if let Some(h) = &b.hist {
                match &mut a.hist {
                    Some(m) => {
                        let _ = m.add(&**h);
                    }
                    none => *none = Some(h.clone()),
                }
            }
            a.calls += b.calls;
            a.nsec += b.nsec;
            a.failed += b.failed;
            a.rejected += b.rejected;
        }
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.total_commands += o.total_commands;
        self.total_connections += o.total_connections;
        self.rejected_connections += o.rejected_connections;
        self.net_input += o.net_input;
        self.net_output += o.net_output;
        self.expired_keys_active += o.expired_keys_active;
        self.evicted_keys += o.evicted_keys;
        self.evicted_clients += o.evicted_clients;
        self.error_replies += o.error_replies;
        self.keyspace_hits += o.keyspace_hits;
        self.keyspace_misses += o.keyspace_misses;
        for (a, b) in self.acl_denied.iter_mut().zip(o.acl_denied) {
            *a += b;
        }
        self.reads_processed += o.reads_processed;
        self.writes_processed += o.writes_processed;
        self.client_outbuf_limit_disconnections += o.client_outbuf_limit_disconnections;
        self.client_qbuf_limit_disconnections += o.client_qbuf_limit_disconnections;
    }

    /// Counts an error reply by its first word (ERR, WRONGTYPE, ...).
    pub fn count_error(&mut self, reply: &[u8]) {
        self.error_replies += 1;
        let body = &reply[1..];
        let end = body.iter().position(|&c| c == b' ' || c == b'\r').unwrap_or(body.len());
        let code = String::from_utf8_lossy(&body[..end]).into_owned();
        // Bound the table like Redis (128 distinct codes).
        if self.errors.len() < 128 || self.errors.contains_key(&code) {
            *self.errors.entry(code).or_default() += 1;
        }
    }
}

thread_local! {
    /// Keyspace hits/misses of read commands on this thread (= this shard).
    pub static HITS: Cell<u64> = const { Cell::new(0) };
    pub static MISSES: Cell<u64> = const { Cell::new(0) };
}

/// Records a read lookup's outcome for INFO keyspace_hits/misses.
#[inline]
pub fn count_lookup(hit: bool) {
    if hit {
        HITS.with(|c| c.set(c.get() + 1));
    } else {
        MISSES.with(|c| c.set(c.get() + 1));
    }
}

/// A queued command was refused while a script was busy: EXEC must abort.
pub const POISON_DOOM: u8 = 1;
/// EXEC or DISCARD ended the transaction.
pub const POISON_END: u8 = 2;
/// MULTI started a transaction.
pub const POISON_START: u8 = 4;

/// What CLIENT LIST / CLIENT INFO show of a connection, shared between the
/// connection's task and its shard's registry (same thread).
#[derive(Default)]
pub struct ClientInfo {
    pub id: u64,
    pub fd: i32,
    pub addr: String,
    pub laddr: String,
    pub created_ms: u64,
    pub name: RefCell<String>,
    pub lib_name: RefCell<String>,
    pub lib_ver: RefCell<String>,
    pub last_interaction_ms: Cell<u64>,
    pub db: Cell<usize>,
    pub last_cmd: Cell<&'static str>,
    pub resp: Cell<u8>,
    pub qbuf: Cell<usize>,
    /// Size of the query buffer (qbuf + qbuf-free; 0 while released).
    pub qbuf_cap: Cell<usize>,
    pub obuf: Cell<usize>,
    /// Size of the output buffer (its allocation, for tot-mem).
    pub obuf_cap: Cell<usize>,
    /// Waiting for CLIENT PAUSE to end.
    pub paused: Cell<bool>,
    pub no_evict: Cell<bool>,
    pub no_touch: Cell<bool>,
    pub killed: Cell<bool>,
    /// In MONITOR mode (CLIENT LIST flag O).
    pub monitor: Cell<bool>,
    /// The keys under WATCH (db, key), mirrored from the session after
    /// connection commands for CLIENT LIST `watch=` and INFO.
    pub watched: RefCell<Vec<(usize, Vec<u8>)>>,
    /// The connection waits for input with nothing buffered either way: a
    /// busy script's poller may answer its next command on the socket.
    pub idle: Cell<bool>,
    /// The connection is inside MULTI (kept with `idle`, for the poller).
    pub in_multi: Cell<bool>,
    /// What a busy script's poller did to the client's transaction, for
    /// the connection to apply (`POISON_*` bits, applied END, START, DOOM).
    pub multi_poison: Cell<u8>,
    pub tot_net_in: Cell<u64>,
    pub tot_net_out: Cell<u64>,
    pub tot_cmds: Cell<u64>,
    /// Channels, patterns and shard channels subscribed to.
    pub subs: RefCell<pubsub::Subscriptions>,
    /// Pub/sub messages (and invalidations) for the client, whole frames,
    /// written by its connection after the replies it is producing.
    pub push: RefCell<Vec<u8>>,
    /// The connection task waiting for `push`.
    pub push_waker: Cell<Option<std::task::Waker>>,
    /// CLIENT REPLY OFF.
    pub reply_off: Cell<bool>,
    /// The ACL user the connection is authenticated as (CLIENT LIST's
    /// `user=`); see [`ClientInfo::user_name`].
    pub user: RefCell<String>,
    /// CLIENT TRACKING settings.
    pub tracking: RefCell<tracking::ClientTracking>,
    /// When the output first passed the soft pubsub limit (0: it is under).
    pub obuf_soft_since: Cell<u64>,
    /// Bytes of the arguments of the command running now (argv-mem).
    pub argv_mem: Cell<usize>,
    /// Largest query buffer use since the connection last shrank it (rbp).
    pub qbuf_peak: Cell<usize>,
    /// Set while the client is blocked (BLPOP ...): wakes it for CLIENT
    /// UNBLOCK.
    pub unblock: RefCell<Option<futures_channel::mpsc::UnboundedSender<blocking::Wake>>>,
    /// Memory of the connection itself (its task and state), counted in
    /// tot-mem; 0 for clients without a connection.
    pub fixed_mem: usize,
    /// Memory of the commands queued since MULTI (multi-mem).
    pub multi_mem: Cell<usize>,
    /// tot-mem as last counted into the shard's client memory
    /// (`client_evict`).
    pub mem: Cell<usize>,
}

/// Memory per watched key beyond the key itself (the session's entry, this
/// mirror's, the shard's registration), per subscription (a set entry) and
/// per tracking prefix: what tot-mem adds for them, as Redis adds its list
/// and dict overheads.
const WATCH_OVERHEAD: usize = 96;
const SUB_OVERHEAD: usize = std::mem::size_of::<bytes::Bytes>() + 1;
const PREFIX_OVERHEAD: usize = std::mem::size_of::<bytes::Bytes>() + 16;

impl ClientInfo {
    /// Everything the client holds (CLIENT LIST tot-mem, what client
    /// eviction counts): the connection's fixed cost, query buffer, output
    /// buffer and messages waiting for it, queued MULTI commands, and the
    /// overheads of watched keys, subscriptions and tracking prefixes.
    /// argv-mem is not added: the arguments are ranges of the query buffer,
    /// already counted by its size. O(1).
    pub fn tot_mem(&self) -> usize {
        let subs: usize = self.subs.borrow().sets.iter().map(|s| s.capacity()).sum();
        self.fixed_mem
            + self.qbuf_cap.get()
            + self.obuf_cap.get()
            + self.push.borrow().capacity()
            + self.multi_mem.get()
            + self.watched.borrow().capacity() * WATCH_OVERHEAD
            + subs * SUB_OVERHEAD
            + self.tracking.borrow().prefixes.capacity() * PREFIX_OVERHEAD
    }

    /// One CLIENT LIST line (without the trailing newline), in Redis 7.4's
    /// field order.
    pub fn describe(&self, now_ms: u64) -> String {
        // Redis keeps the first 16 KiB of replies in a fixed buffer (obl)
        // and the rest in a list of 16 KiB blocks (oll, omem).
        let pending = self.obuf.get() + self.push.borrow().len();
        let obl = pending.min(OBUF_STATIC);
        let omem = pending - obl;
        let oll = omem.div_ceil(OBUF_STATIC);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 watch={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={} tot-net-in={} tot-net-out={} tot-cmds={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.borrow(),
            now_ms.saturating_sub(self.created_ms) / 1000,
            now_ms.saturating_sub(self.last_interaction_ms.get()) / 1000,
            self.flags(),
            self.db.get(),
            self.subs.borrow().sets[0].len(),
            self.subs.borrow().sets[1].len(),
            self.subs.borrow().sets[2].len(),
            self.watched.borrow().len(),
            self.qbuf.get(),
            self.qbuf_cap.get().saturating_sub(self.qbuf.get()),
            self.argv_mem.get(),
            self.multi_mem.get(),
            self.qbuf_cap.get(),
            self.qbuf_peak.get(),
            obl,
            oll,
            omem,
            self.tot_mem(),
            self.last_cmd.get(),
            self.user_name(),
            {
                let tr = self.tracking.borrow();
                match (tr.on, tr.redirect) {
                    (false, _) => -1,
                    (true, None) => 0,
                    (true, Some((id, _))) => id as i64,
                }
            },
            self.resp.get(),
            self.lib_name.borrow(),
            self.lib_ver.borrow(),
            self.tot_net_in.get(),
            self.tot_net_out.get(),
            self.tot_cmds.get(),
        )
    }

    /// CLIENT LIST's flags: b (blocked), P (subscribed), x (in MULTI), N
    /// (none).
    fn flags(&self) -> String {
        let mut f = String::new();
        if self.monitor.get() {
            f.push('O');
        }
        if self.subs.borrow().total() > 0 {
            f.push('P');
        }
        if self.in_multi.get() {
            f.push('x');
        }
        if self.unblock.borrow().is_some() || self.paused.get() {
            f.push('b');
        }
        {
            let tr = self.tracking.borrow();
            if tr.on {
                f.push('t');
            }
            if tr.broken {
                f.push('R');
            }
            if tr.on && tr.bcast {
                f.push('B');
            }
        }
        if self.no_evict.get() {
            f.push('e');
        }
        if self.no_touch.get() {
            f.push('T');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// The name of the ACL user the connection is authenticated as.
    pub fn user_name(&self) -> String {
        let u = self.user.borrow();
        if u.is_empty() {
            "default".to_string()
        } else {
            u.clone()
        }
    }

    /// Wakes the connection task for its push buffer.
    pub fn wake_push(&self) {
        if let Some(w) = self.push_waker.take() {
            w.wake();
        }
    }

    /// Resolves once the push buffer holds something (or the client was
    /// killed).
    pub fn push_ready(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if !self.push.borrow().is_empty() || self.killed.get() {
                std::task::Poll::Ready(())
            } else {
                self.push_waker.set(Some(cx.waker().clone()));
                std::task::Poll::Pending
            }
        })
    }

    /// Closes the connection from outside its task: the pending read
    /// returns end-of-stream and the task winds down.
    pub fn kill(&self) {
        self.killed.set(true);
        // SAFETY: `fd` is the connection's open socket; it is closed only
        // by the connection task, which unregisters before closing.
        unsafe {
            libc::shutdown(self.fd, libc::SHUT_RDWR);
        }
    }
}

/// Redis's fixed reply buffer size (PROTO_REPLY_CHUNK_BYTES), for the
/// obl/oll/omem split of CLIENT LIST.
pub const OBUF_STATIC: usize = 16 * 1024;

/// Facts about the process that never change after start-up; shared
/// read-only by every shard.
pub struct ServerInfo {
    pub run_id: String,
    pub start_ms: u64,
    pub shards: usize,
    pub executable: String,
    pub config_file: String,
    pub port: u16,
}

pub static SERVER_INFO: OnceLock<ServerInfo> = OnceLock::new();

/// Client ids are unique across shards. One atomic increment per accepted
/// connection (not per request), so sharing this counter is cheap.
static NEXT_CLIENT_ID: AtomicU64 = AtomicU64::new(1);

pub fn next_client_id() -> u64 {
    NEXT_CLIENT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Connected clients across all shards, for maxclients and INFO. One atomic
/// add per connect/disconnect.
pub static CONNECTED_CLIENTS: AtomicU64 = AtomicU64::new(0);

/// One shard: a slice of the keyspace and everything that goes with it.
pub struct Shard {
    pub id: usize,
    pub count: usize,
    pub ks: RefCell<Keyspace>,
    pub stats: RefCell<Stats>,
    pub config: RefCell<Config>,
    pub clients: RefCell<HashMap<u64, Rc<ClientInfo>>>,
    pub gate: Gate,
    pub rng: RefCell<Rng>,
    senders: Option<Senders<Msg>>,
    next_tx: Cell<u64>,
    /// Cursor of the active expiry cycle: (db, slot).
    pub expire_cursor: Cell<(usize, usize)>,
    /// Samples for INFO's instantaneous_* rates.
    pub rates: RefCell<Rates>,
    /// Clients blocked on this shard's keys.
    pub blocking: RefCell<blocking::Registry>,
    /// Keys of this shard under WATCH.
    pub watches: RefCell<watch::Watches>,
    /// Eviction candidates kept between evictions (maxmemory).
    pub evict: RefCell<evict::Pool>,
    /// Pub/sub: channels this shard owns, its clients' subscriptions.
    pub pubsub: RefCell<pubsub::PubSub>,
    /// Client-side caching: keys of this shard read by tracking clients.
    pub tracking: RefCell<tracking::Table>,
    /// Posted messages waiting for room in the channel to each shard, in
    /// order (see [`coordinator::post`]); true while a task drains it.
    pub(crate) outbox: RefCell<Vec<std::collections::VecDeque<Msg>>>,
    pub(crate) draining: Vec<Cell<bool>>,
    /// ACL users and log (this shard's copy) and their generation.
    pub acl: crate::acl::ShardAcl,
    /// CLIENT PAUSE on this shard.
    pub pause: pause::Pause,
    /// When the client cron last ran (idle timeout, buffer shrinking), ms.
    pub clients_cron_ms: Cell<u64>,
    /// Memory of this shard's clients (maxmemory-clients).
    pub client_mem: client_evict::ShardClients,
    /// Changes made by this shard's commands (see [`crate::persist`]).
    pub dirty: Cell<u64>,
}

/// Instantaneous rates as Redis computes them: the mean of the last 16
/// samples taken every 100 ms of (commands, input bytes, output bytes) per
/// second.
#[derive(Default)]
pub struct Rates {
    last: Option<(u64, u64, u64, u64)>,
    samples: [[f64; 3]; 16],
    next: usize,
}

impl Rates {
    /// Records a sample at `now_ms` of the running totals.
    pub fn sample(&mut self, now_ms: u64, commands: u64, input: u64, output: u64) {
        if let Some((t, c, i, o)) = self.last {
            if now_ms < t + 100 {
                return;
            }
            let dt = (now_ms - t) as f64 / 1000.0;
            self.samples[self.next % 16] = [
                commands.saturating_sub(c) as f64 / dt,
                input.saturating_sub(i) as f64 / dt,
                output.saturating_sub(o) as f64 / dt,
            ];
            self.next += 1;
        }
        self.last = Some((now_ms, commands, input, output));
    }

    /// (ops/s, input bytes/s, output bytes/s)
    pub fn current(&self) -> [f64; 3] {
        let n = self.next.min(16);
        if n == 0 {
            return [0.0; 3];
        }
        let mut sum = [0.0; 3];
        for s in &self.samples[..n] {
            for k in 0..3 {
                sum[k] += s[k];
            }
        }
        [sum[0] / n as f64, sum[1] / n as f64, sum[2] / n as f64]
    }
}

impl Shard {
    pub fn new(id: usize, count: usize, config: Config, senders: Option<Senders<Msg>>) -> Rc<Shard> {
        let databases = config.databases;
        let ncmd = crate::command::observe::stat_slots();
        // A shard is built on its own thread.
        crate::command::notify::set_flags(config.notify_keyspace_events);
        let acl = crate::acl::ShardAcl::new(&config);
        crate::command::observe::apply_config(&config);
        crate::command::observe::calibrate();
        client_evict::apply_config(&config);
        Rc::new(Shard {
            acl,
            id,
            count,
            ks: RefCell::new(Keyspace::for_shard(databases, id, count)),
            stats: RefCell::new(Stats {
                commands: vec![CmdStat::default(); ncmd],
                ..Default::default()
            }),
            config: RefCell::new(config),
            clients: RefCell::new(HashMap::new()),
            gate: Gate::default(),
            rng: RefCell::new(Rng::new(crate::util::now_us() ^ (id as u64) << 32)),
            senders,
            next_tx: Cell::new(0),
            expire_cursor: Cell::new((0, 0)),
            rates: RefCell::new(Rates::default()),
            blocking: RefCell::new(blocking::Registry::default()),
            watches: RefCell::new(watch::Watches::default()),
            evict: RefCell::new(evict::Pool::default()),
            pubsub: RefCell::new(pubsub::PubSub::new(count, id)),
            tracking: RefCell::new(tracking::Table::default()),
            outbox: RefCell::new((0..count).map(|_| Default::default()).collect()),
            draining: (0..count).map(|_| Cell::new(false)).collect(),
            pause: pause::Pause::default(),
            clients_cron_ms: Cell::new(0),
            client_mem: Default::default(),
            dirty: Cell::new(0),
        })
    }

    /// A transaction id unique across shards.
    pub fn new_tx_id(&self) -> TxId {
        let n = self.next_tx.get() + 1;
        self.next_tx.set(n);
        ((self.id as u64 + 1) << 48) | n
    }

    /// Handles a message from another shard.
    pub fn handle(self: &Rc<Self>, msg: Msg) {
        match msg {
            Msg::Run { tx, lock, job } => {
                let ticket = self.gate.ticket();
                if self.gate.try_take(tx, &lock, ticket) {
                    job(self);
                } else {
                    let me = self.clone();
                    glommio::spawn_local(async move {
                        me.gate.take(tx, &lock, ticket).await;
                        job(&me);
                    })
                    .detach();
                }
            }
            Msg::Release { tx } => self.gate.release(tx),
            Msg::Post(job) => job(self),
        }
    }

    pub(crate) async fn send(&self, target: usize, msg: Msg) {
        let senders = self
            .senders
            .as_ref()
            .expect("cross-shard send on a single-shard server");
        if senders.send_to(target, msg).await.is_err() {
            // The mesh only refuses when a peer is gone, i.e. during
            // shutdown; the reply channel then reports the loss to the caller.
            crate::server::log::warning("cross-shard message dropped: peer shard is gone");
        }
    }

    /// Sends without waiting; gives the message back when the channel is
    /// full (see [`coordinator::run_blocking`]).
    pub(crate) fn try_send(&self, target: usize, msg: Msg) -> Result<(), Msg> {
        let senders = self
            .senders
            .as_ref()
            .expect("cross-shard send on a single-shard server");
        match senders.try_send_to(target, msg) {
            Ok(()) => Ok(()),
            Err(glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(m))) => Err(m),
            Err(_) => panic!("cross-shard message refused: peer shard is gone"),
        }
    }

    /// Whether CLIENT PAUSE holds writes now: expiry and eviction must not
    /// delete keys (one `Cell` read).
    #[inline]
    pub fn paused_writes(&self) -> bool {
        self.pause.writes_paused()
    }

    /// Folds the thread-local counters into this shard's stats.
    pub fn drain_counters(&self) {
        let mut st = self.stats.borrow_mut();
        st.keyspace_hits += HITS.with(|c| c.replace(0));
        st.keyspace_misses += MISSES.with(|c| c.replace(0));
    }

    /// Keys expired on this shard so far (lazily and actively).
    pub fn expired_keys(&self) -> u64 {
        let lazy = crate::storage::db::EXPIRED_LAZILY.with(|c| c.get());
        lazy + self.stats.borrow().expired_keys_active
    }
}

#[cfg(test)]
mod tests {
    use super::Rates;

    #[test]
    fn rates_average_recent_samples() {
        let mut r = Rates::default();
        r.sample(0, 0, 0, 0);
        r.sample(100, 1000, 2048, 4096);
        r.sample(150, 5000, 0, 0); // too soon: ignored
        r.sample(200, 3000, 2048, 4096);
        let [ops, inp, out] = r.current();
        assert_eq!(ops, 15000.0);
        assert_eq!(inp, 10240.0);
        assert_eq!(out, 20480.0);
    }
}
