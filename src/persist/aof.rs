//! The append-only log, in Redis 7's multi-part layout, one log per shard.
//!
//! `<dir>/<appenddirname>/` holds a base file (`<prefix>.<seq>.base.rdb`),
//! incremental files (`<prefix>.<seq>.incr.aof`, RESP commands) and the
//! manifest `<prefix>.manifest` listing them (`file <name> seq <n> type
//! b|h|i`). Each shard logs what happens to its own keys into its own incr
//! file: the incr files of one rewrite are a *generation*, one per shard,
//! marked `shard <k>/<n>` in the manifest (with one shard, the layout is
//! Redis's). A shard encodes its propagated commands
//! ([`super::propagate`]) into a buffer; a flusher task hands the buffer
//! to the shard's writer thread once per executor round; the writer
//! writes and fsyncs as `appendfsync` says: `always` every round before
//! acknowledging it (the connections hold their replies until then, so
//! one fsync covers every write that arrived meanwhile: group commit),
//! `everysec` at most once a second, `no` never. File I/O never stalls
//! request serving.
//!
//! A transaction spanning shards leaves a part in the log of each shard
//! it locked, marked with the transaction and its number of parts; on
//! loading, one missing a part is dropped whole.
//!
//! Loading (start-up, DEBUG LOADAOF): every shard loads its keys from a
//! base in RDB form, then the incr files are replayed generation by
//! generation through a client of shard 0, each shard's log applying to
//! the slots that shard held: the data set loads under any number of
//! shards.
//!
//! Rewrite (BGREWRITEAOF, turning the log on over data, the auto-rewrite
//! rule): a new generation of incr files is created and listed in the
//! manifest after the old ones; at the cut of a snapshot walk (every shard
//! locked) each writer switches to its new file; the walk writes the new
//! base (RDB with `aof-base` 1). Once the base is on disk the manifest
//! names the new base and generation only, and the old files are deleted.
//! A crash at any point leaves a manifest that loads the whole data set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::propagate::Record;

/// When the log is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    EverySec,
    No,
}

impl Fsync {
    pub fn parse(v: &str) -> Option<Fsync> {
        match v.to_ascii_lowercase().as_str() {
            "always" => Some(Fsync::Always),
            "everysec" => Some(Fsync::EverySec),
            "no" => Some(Fsync::No),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// The log's parameters (part of [`crate::config::Config`]).
#[derive(Clone, Debug)]
pub struct AofConfig {
    pub enabled: bool,
    pub fsync: Fsync,
    pub dirname: String,
    pub filename: String,
    pub load_truncated: bool,
    /// Rewrite when the log grew by this percentage over its size after
    /// the last rewrite (0: never on its own) ...
    pub auto_rewrite_percentage: u64,
    /// ... and is bigger than this.
    pub auto_rewrite_min_size: u64,
    /// `aof-use-rdb-preamble`: rewrites write the base in RDB form
    /// (`.base.rdb`), else as commands (`.base.aof`).
    pub use_rdb_preamble: bool,
}

impl Default for AofConfig {
    fn default() -> Self {
        AofConfig {
            enabled: false,
            fsync: Fsync::EverySec,
            dirname: "appendonlydir".into(),
            filename: "appendonly.aof".into(),
            load_truncated: true,
            auto_rewrite_percentage: 100,
            auto_rewrite_min_size: 64 << 20,
            use_rdb_preamble: true,
        }
    }
}

impl AofConfig {
    /// CONFIG GET for the log's parameters.
    pub fn get(&self, name: &str) -> Option<String> {
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        Some(match name {
            "appendonly" => yn(self.enabled),
            "appendfsync" => self.fsync.name().into(),
            "appenddirname" => self.dirname.clone(),
            "appendfilename" => self.filename.clone(),
            "aof-load-truncated" => yn(self.load_truncated),
            "auto-aof-rewrite-percentage" => self.auto_rewrite_percentage.to_string(),
            "auto-aof-rewrite-min-size" => self.auto_rewrite_min_size.to_string(),
            "aof-use-rdb-preamble" => yn(self.use_rdb_preamble),
            _ => return None,
        })
    }

    /// CONFIG SET / config file for the log's parameters; None when the
    /// name is not one of them.
    pub fn set(&mut self, name: &str, v: &str) -> Option<Result<(), String>> {
        let yn = |v: &str| match v.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err("argument must be 'yes' or 'no'".to_string()),
        };
        Some((|| {
            match name {
                "appendonly" => self.enabled = yn(v)?,
                "appendfsync" => {
                    self.fsync = Fsync::parse(v)
                        .ok_or_else(|| "argument(s) must be one of the following: always, everysec, no".to_string())?
                }
                "appenddirname" | "appendfilename" => {
                    if v.contains('/') || v.is_empty() {
                        return Err(format!("{} can't be a path, just a filename", name));
                    }
                    if name == "appenddirname" {
                        self.dirname = v.into();
                    } else {
                        self.filename = v.into();
                    }
                }
                "aof-load-truncated" => self.load_truncated = yn(v)?,
                "auto-aof-rewrite-percentage" => {
                    self.auto_rewrite_percentage = v
                        .parse::<u64>()
                        .ok()
                        .filter(|&n| n <= i32::MAX as u64)
                        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?
                }
                "auto-aof-rewrite-min-size" => {
                    self.auto_rewrite_min_size = crate::config::parse_memory(v)?;
                }
                "aof-use-rdb-preamble" => self.use_rdb_preamble = yn(v)?,
                _ => return Err(String::new()),
            }
            Ok(())
        })())
        .filter(|r| r.as_ref().err().is_none_or(|e| !e.is_empty()))
    }
}

// ---------------------------------------------------------------- writer

enum Msg {
    /// Commands in RESP (with their SELECTs), how many records they are,
    /// and who waits for them to be on disk (`always`).
    Bytes(Vec<u8>, u64, Option<futures_channel::oneshot::Sender<()>>),
    /// Write and fsync what came before, then answer.
    Sync(std::sync::mpsc::Sender<()>),
    /// Write and fsync what came before, then go on in this file (a new
    /// incr file, at the cut of a rewrite).
    Rotate(std::fs::File),
}

struct Writer {
    tx: mpsc::Sender<Msg>,
    thread: std::thread::JoinHandle<()>,
}

/// One writer per shard, indexed by shard (empty while the log is off).
static WRITERS: Mutex<Vec<Writer>> = Mutex::new(Vec::new());
/// appendfsync, read by the writers each round (0 always, 1 everysec, 2 no).
static FSYNC_MODE: AtomicU64 = AtomicU64::new(1);
/// appendfsync always: shards make connections wait for the fsync.
static ALWAYS: AtomicBool = AtomicBool::new(false);
/// Counters: fsyncs done, records (commands or blocks) written, bytes.
pub static FSYNCS: AtomicU64 = AtomicU64::new(0);
pub static RECORDS: AtomicU64 = AtomicU64::new(0);
pub static BYTES: AtomicU64 = AtomicU64::new(0);
/// Whether the last write/fsync worked; while it did not, write commands
/// are refused ([`misconf`]), as Redis does.
pub static WRITE_OK: AtomicBool = AtomicBool::new(true);
/// The last write error's text.
static WRITE_ERROR: Mutex<String> = Mutex::new(String::new());

/// The error refusing writes after the log could not be written.
pub fn misconf() -> Vec<u8> {
    format!(
        "MISCONF Errors writing to the AOF file: {}",
        WRITE_ERROR.lock().unwrap()
    )
    .into_bytes()
}

/// A write or fsync of the log failed: under `always` nothing can be
/// acknowledged any more and the process exits (as Redis); otherwise
/// writes are refused until a write works again.
fn write_failed(what: &str, e: &std::io::Error) {
    if FSYNC_MODE.load(Relaxed) == 0 {
        crate::server::log::warning(&format!(
            "Can't recover from AOF {} error when the AOF fsync policy is 'always' ({}). Exiting...",
            what, e
        ));
        std::process::exit(1);
    }
    *WRITE_ERROR.lock().unwrap() = e.to_string();
    WRITE_OK.store(false, Relaxed);
}
/// Bytes in the incr files being written (every shard's), and in the
/// files before them (base and older incr files the manifest still
/// lists): INFO's aof_current_size is their sum.
static INCR_SIZE: AtomicU64 = AtomicU64::new(0);
static OLDER_SIZE: AtomicU64 = AtomicU64::new(0);
/// The log's size after the last rewrite (or at start): the base the
/// auto-rewrite growth is measured against.
static BASE_SIZE: AtomicU64 = AtomicU64::new(0);

/// A database-less entry of a [`Record`] (an annotation): written without
/// a `SELECT` before it.
pub const ANY_DB: usize = usize::MAX;

/// This shard's side of its log: commands are encoded into `buf` as they
/// are propagated (no message, no syscall), and the shard's flusher task
/// hands the whole buffer to the writer once per round of the executor,
/// as Redis writes its log buffer once per event-loop iteration.
#[derive(Default)]
struct Local {
    tx: Option<mpsc::Sender<Msg>>,
    buf: Vec<u8>,
    records: u64,
    /// The database the log's last `SELECT` chose (None: none yet in this
    /// file, or unknown).
    cur_db: Option<usize>,
    /// The batch the buffer holds (numbered from 1), whether a command in
    /// it waits for its fsync, the last batch on disk, and who waits for
    /// one (`always`).
    batch: u64,
    ack: bool,
    durable: u64,
    waiters: Vec<(u64, Waiter)>,
    /// The flusher is due to run, and how to wake it.
    kicked: bool,
    waker: Option<std::task::Waker>,
    flusher: bool,
}

thread_local! {
    static LOCAL: std::cell::RefCell<Local> = std::cell::RefCell::new(Local::default());
}

impl Local {
    /// Adds `SELECT db` when the log's database is another one.
    fn select(&mut self, db: usize) {
        if db != ANY_DB && self.cur_db != Some(db) {
            let mut tmp = [0u8; 20];
            let n = crate::protocol::reply::fmt_i64(&mut tmp, db as i64);
            super::propagate::encode(&mut self.buf, &[b"SELECT", n]);
            self.cur_db = Some(db);
        }
    }

    /// Wakes the flusher; under `always`, the batch whose fsync the
    /// command must wait for.
    fn written(&mut self) -> Option<u64> {
        self.records += 1;
        if !self.kicked {
            self.kicked = true;
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
        if !ALWAYS.load(Relaxed) {
            return None;
        }
        self.ack = true;
        Some(self.batch.max(1))
    }

    /// Hands what the buffer holds to the writer; under `always`, a task
    /// waits for the batch's fsync and then lets its waiters go.
    fn flush(&mut self) {
        self.kicked = false;
        if self.buf.is_empty() && !self.ack {
            return;
        }
        let buf = std::mem::replace(&mut self.buf, Vec::with_capacity(16 * 1024));
        let records = std::mem::take(&mut self.records);
        let batch = self.batch.max(1);
        self.batch = batch + 1;
        let ack = std::mem::take(&mut self.ack).then(|| {
            let (atx, arx) = futures_channel::oneshot::channel::<()>();
            glommio::spawn_local(async move {
                // Fired from the writer's thread (or dropped if it died:
                // nothing to wait for then either).
                let _ = crate::util::repolled(crate::shard::coordinator::REPOLL, arx).await;
                LOCAL.with(|l| l.borrow_mut().made_durable(batch));
            })
            .detach();
            atx
        });
        match &self.tx {
            Some(tx) => {
                let _ = tx.send(Msg::Bytes(buf, records, ack));
            }
            None => self.made_durable(batch),
        }
    }

    /// Batch `batch` is on disk: its waiters (and earlier ones') go.
    fn made_durable(&mut self, batch: u64) {
        self.durable = self.durable.max(batch);
        let durable = self.durable;
        let mut i = 0;
        while i < self.waiters.len() {
            if self.waiters[i].0 <= durable {
                match self.waiters.swap_remove(i).1 {
                    Waiter::Task(w) => w.wake(),
                    Waiter::Send(s) => {
                        let _ = s.send(());
                    }
                }
            } else {
                i += 1;
            }
        }
    }
}

/// Who waits for a batch of the log to be on disk.
enum Waiter {
    /// A connection of this shard, before it replies.
    Task(std::task::Waker),
    /// The origin of a cross-shard transaction, before it releases locks.
    Send(futures_channel::oneshot::Sender<()>),
}

/// Waits until batch `batch` of this shard's log is on disk.
pub async fn wait_durable(batch: u64) {
    std::future::poll_fn(|cx| {
        LOCAL.with(|l| {
            let mut l = l.borrow_mut();
            if l.durable >= batch {
                return std::task::Poll::Ready(());
            }
            l.waiters.push((batch, Waiter::Task(cx.waker().clone())));
            std::task::Poll::Pending
        })
    })
    .await
}

/// Whether batch `batch` of this shard's log is on disk.
pub fn is_durable(batch: u64) -> bool {
    LOCAL.with(|l| l.borrow().durable >= batch)
}

/// The shard's flusher: once woken by a propagated command, it runs after
/// the tasks already due (so one round's commands go together) and hands
/// the buffer to the writer. Ends when the shard leaves the log.
async fn flusher() {
    struct Kicked;
    impl std::future::Future for Kicked {
        type Output = bool;
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<bool> {
            LOCAL.with(|l| {
                let mut l = l.borrow_mut();
                if l.tx.is_none() {
                    l.flusher = false;
                    return std::task::Poll::Ready(false);
                }
                if l.kicked {
                    return std::task::Poll::Ready(true);
                }
                l.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            })
        }
    }
    loop {
        // Looks again now and then even without a wake-up, so that a lost
        // one costs a few milliseconds, never the buffer.
        let go = match crate::util::within(Duration::from_millis(50), Kicked).await {
            Some(go) => go,
            None => LOCAL.with(|l| {
                let mut l = l.borrow_mut();
                if l.tx.is_none() {
                    l.flusher = false;
                }
                l.tx.is_some()
            }),
        };
        if !go {
            break;
        }
        LOCAL.with(|l| l.borrow_mut().flush());
    }
}

/// Sets appendfsync for the running writers.
pub fn set_fsync(f: Fsync) {
    FSYNC_MODE.store(
        match f {
            Fsync::Always => 0,
            Fsync::EverySec => 1,
            Fsync::No => 2,
        },
        Relaxed,
    );
    ALWAYS.store(f == Fsync::Always, Relaxed);
}

/// Appends a record to this shard's log. Under `always`, the running
/// command's connection holds its reply until the record is on disk.
pub fn append(r: Record) {
    if let Some(batch) = append_record(r) {
        crate::shard::coordinator::wait_before_reply(crate::shard::coordinator::Pending::Log(batch, || ()));
    }
}

/// Appends a record to this shard's log; under `always`, the receiver
/// that fires once it is on disk (for another shard to wait on).
pub fn append_acked(r: Record) -> Option<futures_channel::oneshot::Receiver<()>> {
    append_record(r).map(durable_receiver)
}

/// A receiver that fires once batch `batch` of this shard's log is on
/// disk (for another shard to wait on).
pub fn durable_receiver(batch: u64) -> futures_channel::oneshot::Receiver<()> {
    let (atx, arx) = futures_channel::oneshot::channel();
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        if l.durable >= batch {
            let _ = atx.send(());
        } else {
            l.waiters.push((batch, Waiter::Send(atx)));
        }
    });
    arx
}

/// Appends `r` to the buffer; under `always`, its batch.
fn append_record(r: Record) -> Option<u64> {
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.tx.as_ref()?;
        for (db, cmd) in r.iter() {
            l.select(db);
            l.buf.extend_from_slice(cmd);
        }
        l.written()
    })
}

/// Appends one command, `argv` run in `db`, to this shard's log (the
/// common case: encoded straight into the buffer). Under `always`, the
/// running command's connection holds its reply until it is on disk.
pub fn append_command<'a>(db: usize, argc: usize, argv: impl Iterator<Item = &'a [u8]>) {
    let batch = LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.tx.as_ref()?;
        l.select(db);
        super::propagate::encode_iter(&mut l.buf, argc, argv);
        l.written()
    });
    if let Some(batch) = batch {
        crate::shard::coordinator::wait_before_reply(crate::shard::coordinator::Pending::Log(batch, || ()));
    }
}

/// Hands this shard's buffered log to its writer now.
pub fn flush_local() {
    LOCAL.with(|l| l.borrow_mut().flush());
}

/// Connects shard `id` to its running writer (or disconnects it when the
/// log is off).
pub fn attach_shard(id: usize) {
    let tx = WRITERS.lock().unwrap().get(id).map(|w| w.tx.clone());
    let on = tx.is_some();
    let spawn = LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.flush();
        l.tx = tx;
        // The writer's file may have moved on meanwhile: select again.
        l.cur_db = None;
        let spawn = on && !l.flusher;
        l.flusher |= spawn;
        spawn
    });
    if spawn {
        glommio::spawn_local(flusher()).detach();
    }
    super::propagate::set_active(on);
}

/// Disconnects this shard from its writer, handing it what is buffered.
pub fn detach_shard() {
    super::propagate::set_active(false);
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.flush();
        l.tx = None;
        l.cur_db = None;
        if let Some(w) = l.waker.take() {
            w.wake();
        }
    });
}

/// At the cut of a rewrite: what this shard buffered goes to the old
/// file, then its writer switches to `file`.
fn rotate_local(file: std::fs::File) {
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.flush();
        l.cur_db = None;
        if let Some(tx) = &l.tx {
            let _ = tx.send(Msg::Rotate(file));
        }
    });
}

/// Writes and fsyncs everything handed over so far, every shard's
/// (blocking; off the request path: DEBUG LOADAOF, shutdown, turning the
/// log off). The shards flush their buffers first ([`flush_local`]).
pub fn sync() {
    let senders: Vec<_> = WRITERS.lock().unwrap().iter().map(|w| w.tx.clone()).collect();
    let waits: Vec<_> = senders
        .iter()
        .filter_map(|tx| {
            let (stx, srx) = mpsc::channel();
            tx.send(Msg::Sync(stx)).ok().map(|_| srx)
        })
        .collect();
    for w in waits {
        let _ = w.recv_timeout(Duration::from_secs(30));
    }
}

/// Before the process exits (SHUTDOWN, SIGTERM): every shard's log
/// written and fsynced, as Redis flushes its log on the way out.
pub async fn flush_at_exit(shard: &std::rc::Rc<crate::shard::Shard>) {
    if running() {
        crate::server::log::notice("Calling fsync() on the AOF file.");
        crate::shard::coordinator::broadcast(shard, |_| flush_local()).await;
        crate::util::repolled(Duration::from_millis(5), glommio::executor().spawn_blocking(sync)).await;
    }
}

/// Whether the writers run.
pub fn running() -> bool {
    !WRITERS.lock().unwrap().is_empty()
}

/// Stops the writers after they wrote and fsynced everything (shards must
/// be detached first).
pub fn stop() {
    let ws = std::mem::take(&mut *WRITERS.lock().unwrap());
    for w in ws {
        drop(w.tx);
        let _ = w.thread.join();
    }
}

/// Starts one writer per shard, shard `i` appending to `files[i]` (which
/// holds `sizes[i]` bytes already).
fn start_writers(files: Vec<(std::fs::File, u64)>) {
    let mut ws = WRITERS.lock().unwrap();
    debug_assert!(ws.is_empty(), "the log's writers already run");
    for (i, (file, size)) in files.into_iter().enumerate() {
        let (tx, rx) = mpsc::channel::<Msg>();
        let thread = std::thread::Builder::new()
            .name(format!("aof-writer-{}", i))
            .spawn(move || writer_loop(file, size, rx))
            .expect("spawn an AOF writer thread");
        ws.push(Writer { tx, thread });
    }
}

/// One shard's writer: writes what arrives, fsyncs as appendfsync says:
/// `always` every round before acknowledging it (the connections hold
/// their replies until then, so one fsync covers every write that arrived
/// meanwhile: group commit), `everysec` at most once a second, `no`
/// never. Its file I/O never stalls the shard.
fn writer_loop(mut file: std::fs::File, mut size: u64, rx: mpsc::Receiver<Msg>) {
    let mut acks = Vec::new();
    let mut syncs = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_records = 0u64;
    let mut unsynced = false;
    let mut last_fsync = Instant::now();
    let mut closing = false;
    let mut rotate: Option<std::fs::File> = None;
    while !closing {
        let first = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(m) => Some(m),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                closing = true;
                None
            }
        };
        let mut next = first;
        while let Some(m) = next {
            match m {
                Msg::Bytes(buf, records, a) => {
                    if pending.is_empty() {
                        pending = buf;
                    } else {
                        pending.extend_from_slice(&buf);
                    }
                    pending_records += records;
                    acks.extend(a);
                }
                Msg::Sync(s) => syncs.push(s),
                Msg::Rotate(f) => {
                    // What came before goes to the old file: stop here.
                    rotate = Some(f);
                    break;
                }
            }
            next = rx.try_recv().ok();
        }
        // What could not be written is tried again every round (as Redis
        // keeps its buffer), in order with what came since.
        if !pending.is_empty() {
            match file.write_all(&pending) {
                Ok(()) => {
                    let n = pending.len() as u64;
                    BYTES.fetch_add(n, Relaxed);
                    INCR_SIZE.fetch_add(n, Relaxed);
                    RECORDS.fetch_add(std::mem::take(&mut pending_records), Relaxed);
                    size += n;
                    unsynced = true;
                    pending.clear();
                    if !WRITE_OK.swap(true, Relaxed) {
                        crate::server::log::notice("AOF write error looks solved, Spindle can write again.");
                    }
                }
                Err(e) => {
                    crate::server::log::warning(&format!("Error writing to the AOF file: {}", e));
                    write_failed("write", &e);
                    // No half command stays in the file.
                    let _ = file.set_len(size);
                }
            }
        }
        let mode = FSYNC_MODE.load(Relaxed);
        let due = match mode {
            0 => true,
            1 => last_fsync.elapsed() >= Duration::from_secs(1),
            _ => false,
        };
        if unsynced && (due || !syncs.is_empty() || closing || rotate.is_some()) {
            match file.sync_data() {
                Ok(()) => {
                    FSYNCS.fetch_add(1, Relaxed);
                    WRITE_OK.store(true, Relaxed);
                }
                Err(e) => {
                    crate::server::log::warning(&format!("Can't persist AOF for fsync error: {}", e));
                    write_failed("fsync", &e);
                }
            }
            unsynced = false;
            last_fsync = Instant::now();
        }
        for a in acks.drain(..) {
            let _ = a.send(());
        }
        for s in syncs.drain(..) {
            let _ = s.send(());
        }
        if let Some(f) = rotate.take() {
            file = f;
            INCR_SIZE.fetch_sub(size, Relaxed);
            OLDER_SIZE.fetch_add(size, Relaxed);
            size = 0;
        }
    }
}

/// CONFIG SET of the log's parameters, before they apply: starts or stops
/// the log, changes appendfsync. Turning it on needs an empty dataset in
/// this build (a base holding data needs the RDB writer).
pub async fn switch(
    shard: &std::rc::Rc<crate::shard::Shard>,
    tx: crate::shard::gate::TxId,
    old: &AofConfig,
    new: &AofConfig,
) -> Result<(), String> {
    use crate::shard::coordinator::broadcast_in;
    set_fsync(new.fsync);
    if new.enabled == old.enabled {
        return Ok(());
    }
    if new.enabled {
        let sizes = broadcast_in(shard, tx, |sh| {
            sh.ks.borrow().dbs.iter().map(|d| d.len()).sum::<usize>()
        })
        .await;
        if sizes.iter().sum::<usize>() > 0 {
            // The base must hold the data: a rewrite, logging from its cut.
            return start_rewrite_with(shard, tx, new.clone()).await;
        }
        if rewriting() {
            // A BGREWRITEAOF of the log off: its base would replace the
            // fresh one. It gives way (Redis kills its child).
            if tx != 0 {
                return Err(ERR_REWRITE_RUNNING.into());
            }
            super::snapshot::cancel_running(tx).await;
            while rewriting() {
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
        let cfg = new.clone();
        let shards = shard.count;
        glommio::executor()
            .spawn_blocking(move || start_fresh(&cfg, shards))
            .await?;
        broadcast_in(shard, tx, |sh| attach_shard(sh.id)).await;
    } else {
        if rewriting() {
            super::snapshot::cancel_running(tx).await;
        }
        broadcast_in(shard, tx, |_| detach_shard()).await;
        glommio::executor().spawn_blocking(stop).await;
    }
    Ok(())
}

/// DEBUG LOADAOF: writes and fsyncs the log, empties the dataset and
/// replays the log (not logging the replay).
pub async fn debug_loadaof(
    shard: &std::rc::Rc<crate::shard::Shard>,
    tx: crate::shard::gate::TxId,
) -> Result<(), String> {
    let cfg = shard.config.borrow().aof.clone();
    // A running rewrite finishes first (inside EXEC it cannot).
    while rewriting() {
        if tx != 0 {
            return Err(ERR_REWRITE_RUNNING.into());
        }
        glommio::timer::sleep(Duration::from_millis(10)).await;
    }
    // No rewrite starts meanwhile (its cut would find the shards detached).
    LOADING_AOF.store(true, Relaxed);
    let r = loadaof(shard, tx, &cfg).await;
    LOADING_AOF.store(false, Relaxed);
    r
}

/// Set while DEBUG LOADAOF runs.
static LOADING_AOF: AtomicBool = AtomicBool::new(false);

async fn loadaof(
    shard: &std::rc::Rc<crate::shard::Shard>,
    tx: crate::shard::gate::TxId,
    cfg: &AofConfig,
) -> Result<(), String> {
    use crate::shard::coordinator::{broadcast_in, broadcast_locked_in};
    let on = running();
    if on {
        broadcast_in(shard, tx, |_| detach_shard()).await;
        glommio::executor().spawn_blocking(sync).await;
    }
    broadcast_locked_in(shard, tx, |sh| {
        let mut ks = sh.ks.borrow_mut();
        for d in ks.dbs.iter_mut() {
            d.clear();
        }
    })
    .await;
    let files = match read_manifest(cfg) {
        Ok(Some(m)) => m.base.iter().chain(&m.incr).cloned().collect(),
        Ok(None) => Vec::new(),
        Err(e) => Err(e)?,
    };
    let r = replay(shard, cfg, &files).await;
    if on {
        broadcast_in(shard, tx, |sh| attach_shard(sh.id)).await;
    }
    match r {
        Ok(_) => {
            crate::server::log::notice("Append Only File loaded by DEBUG LOADAOF");
            Ok(())
        }
        Err(e) => {
            crate::server::log::warning(&e);
            Err(e)
        }
    }
}

// ---------------------------------------------------------------- rewrite

/// The new incr files (one per shard) the writers switch to at the cut of
/// a rewrite.
static ROTATE: Mutex<Vec<Option<std::fs::File>>> = Mutex::new(Vec::new());
/// Set while the log is turned on over data: shards attach at the cut.
static ATTACH_AT_CUT: AtomicBool = AtomicBool::new(false);
static REWRITING: AtomicBool = AtomicBool::new(false);
/// BGREWRITEAOF arrived while a snapshot was being written.
static SCHEDULED: AtomicBool = AtomicBool::new(false);
static REWRITES: AtomicU64 = AtomicU64::new(0);
static REWRITE_FAILURES: AtomicU64 = AtomicU64::new(0);
static LAST_REWRITE_OK: AtomicBool = AtomicBool::new(true);
static LAST_REWRITE_SECS: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(-1);
static REWRITE_START_MS: AtomicU64 = AtomicU64::new(0);

pub const ERR_REWRITE_RUNNING: &str = "ERR Background append only file rewriting already in progress";
pub const REWRITE_STARTED: &str = "Background append only file rewriting started";
pub const REWRITE_SCHEDULED: &str = "Background append only file rewriting scheduled";

/// Called by every shard inside the cut of a rewrite (all shards locked):
/// each shard switches its writer to its new incr file; when the log is
/// being turned on, every shard starts logging here.
pub fn at_cut(shard: &crate::shard::Shard) {
    let file = ROTATE.lock().unwrap().get_mut(shard.id).and_then(|f| f.take());
    if let Some(f) = file {
        rotate_local(f);
    }
    if ATTACH_AT_CUT.load(Relaxed) {
        attach_shard(shard.id);
    }
}

/// Whether a rewrite runs.
pub fn rewriting() -> bool {
    REWRITING.load(Relaxed)
}

/// BGREWRITEAOF: starts a rewrite (Ok(true)) or schedules it while a
/// snapshot is being written (Ok(false)).
pub async fn bgrewrite(shard: &std::rc::Rc<crate::shard::Shard>, tx: crate::shard::gate::TxId) -> Result<bool, String> {
    if rewriting() {
        return Err(ERR_REWRITE_RUNNING.into());
    }
    // Inside EXEC (as Redis's in_exec): the cut would run inside the
    // transaction, whose earlier writes are logged at its end.
    if super::snapshot::in_progress() || tx != 0 || LOADING_AOF.load(Relaxed) {
        SCHEDULED.store(true, Relaxed);
        return Ok(false);
    }
    start_rewrite(shard, tx).await.map(|_| true)
}

/// Starts a scheduled rewrite once no snapshot is written (the save
/// cron on shard 0 calls it), or the auto-rewrite rule's.
pub async fn cron(shard: &std::rc::Rc<crate::shard::Shard>) {
    if rewriting() || super::snapshot::in_progress() || LOADING_AOF.load(Relaxed) {
        return;
    }
    if SCHEDULED.swap(false, Relaxed) {
        if let Err(e) = start_rewrite(shard, 0).await {
            crate::server::log::warning(&e);
        }
        return;
    }
    let (on, perc, min) = {
        let cfg = shard.config.borrow();
        (
            cfg.aof.enabled,
            cfg.aof.auto_rewrite_percentage,
            cfg.aof.auto_rewrite_min_size,
        )
    };
    if !on || perc == 0 || !running() {
        return;
    }
    let current = OLDER_SIZE.load(Relaxed) + INCR_SIZE.load(Relaxed);
    let base = BASE_SIZE.load(Relaxed).max(1);
    let growth = (current * 100 / base).saturating_sub(100);
    // After a failed rewrite, try again at most once a minute.
    let retry_ok =
        LAST_REWRITE_OK.load(Relaxed) || crate::util::now_ms().saturating_sub(REWRITE_START_MS.load(Relaxed)) >= 60_000;
    if current > min && growth >= perc && retry_ok {
        crate::server::log::notice(&format!("Starting automatic rewriting of AOF on {}% growth", growth));
        if let Err(e) = start_rewrite(shard, 0).await {
            crate::server::log::warning(&e);
        }
    }
}

/// Starts a rewrite: the new incr file in the manifest, the cut (the
/// writer switches files there), then the base written in the background.
/// With the log off (turning it on over data), the writer starts on the
/// new incr file and the shards start logging at the cut.
pub async fn start_rewrite(
    shard: &std::rc::Rc<crate::shard::Shard>,
    tx: crate::shard::gate::TxId,
) -> Result<(), String> {
    let cfg = shard.config.borrow().aof.clone();
    start_rewrite_with(shard, tx, cfg).await
}

/// [`start_rewrite`] with the log's parameters given (CONFIG SET applies
/// them only once this succeeded).
async fn start_rewrite_with(
    shard: &std::rc::Rc<crate::shard::Shard>,
    tx: crate::shard::gate::TxId,
    cfg: AofConfig,
) -> Result<(), String> {
    if REWRITING.swap(true, Relaxed) {
        return Err(ERR_REWRITE_RUNNING.into());
    }
    let mode = match (running(), cfg.enabled) {
        (true, _) => Mode::Rotate,
        (false, true) => Mode::TurnOn,
        (false, false) => Mode::Alone,
    };
    let turning_on = mode == Mode::TurnOn;
    if turning_on && super::snapshot::in_progress() {
        if tx != 0 {
            // Inside EXEC the save's slices wait for this transaction.
            REWRITING.store(false, Relaxed);
            return Err("a background save is in progress; try again after it".into());
        }
        // The log starts at the cut: a running save finishes first.
        while super::snapshot::in_progress() {
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
    }
    let shards = shard.count;
    let prepared = glommio::executor()
        .spawn_blocking({
            let cfg = cfg.clone();
            move || prepare_rewrite(&cfg, mode, shards)
        })
        .await;
    let (old, base, incr) = match prepared {
        Ok(p) => p,
        Err(e) => {
            REWRITING.store(false, Relaxed);
            return Err(e);
        }
    };
    REWRITE_START_MS.store(crate::util::now_ms(), Relaxed);
    ATTACH_AT_CUT.store(turning_on, Relaxed);
    // Absolute: glommio opens the directory (to fsync it) by full path.
    let dir = std::env::current_dir().map_or_else(|_| dir_of(&cfg), |d| d.join(dir_of(&cfg)));
    let target = super::snapshot::Target::AofBase {
        dir,
        name: base.name.clone(),
    };
    let pending = super::snapshot::begin_for(shard, tx, true, target).await;
    ATTACH_AT_CUT.store(false, Relaxed);
    let Some(pending) = pending else {
        // A save started meanwhile: nothing was switched. The manifest
        // goes back to the files the writers still write.
        ROTATE.lock().unwrap().clear();
        if mode == Mode::Rotate {
            let (cfg, old) = (cfg.clone(), old.clone());
            let _ = glommio::executor()
                .spawn_blocking(move || write_manifest(&cfg, &old))
                .await;
        }
        REWRITING.store(false, Relaxed);
        if turning_on {
            glommio::executor().spawn_blocking(stop).await;
            return Err("a background save started first; try again".into());
        }
        SCHEDULED.store(true, Relaxed);
        return Ok(());
    };
    crate::server::log::notice("Background append only file rewriting started");
    let shard = shard.clone();
    glommio::spawn_local(async move {
        let r = super::snapshot::complete(&shard, pending).await;
        let r = match r {
            Ok(()) => glommio::executor()
                .spawn_blocking(move || install_rewrite(&cfg, old, base, incr))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let secs = (crate::util::now_ms().saturating_sub(REWRITE_START_MS.load(Relaxed)) / 1000) as i64;
        LAST_REWRITE_SECS.store(secs, Relaxed);
        if r.is_err() && turning_on {
            // The log was being turned on: without a base nothing it
            // holds would load. Turn it off again (as if CONFIG SET had
            // failed) rather than log into files no manifest names.
            crate::shard::coordinator::broadcast(&shard, |sh| {
                detach_shard();
                sh.config.borrow_mut().aof.enabled = false;
            })
            .await;
            glommio::executor().spawn_blocking(stop).await;
            crate::server::log::warning("The AOF could not be turned on: its first rewrite failed");
        }
        match r {
            Ok(()) => {
                REWRITES.fetch_add(1, Relaxed);
                REWRITE_FAILURES.store(0, Relaxed);
                LAST_REWRITE_OK.store(true, Relaxed);
                crate::server::log::notice("Background AOF rewrite terminated with success");
                crate::server::log::notice("Background AOF rewrite finished successfully");
            }
            Err(e) => {
                REWRITE_FAILURES.fetch_add(1, Relaxed);
                LAST_REWRITE_OK.store(false, Relaxed);
                crate::server::log::warning(&format!("Background AOF rewrite failed: {}", e));
            }
        }
        REWRITING.store(false, Relaxed);
    })
    .detach();
    Ok(())
}

/// How a rewrite relates to the log.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The log is on: the writer switches to the new incr file at the cut.
    Rotate,
    /// The log is being turned on: the writer starts on the new incr file
    /// and the shards start logging at the cut.
    TurnOn,
    /// The log is off (BGREWRITEAOF): base and manifest only.
    Alone,
}

/// The file side of a rewrite's start (blocking): the old manifest, the
/// new base's name and the new generation of incr files (one per shard),
/// created empty and, with the log on, listed in the manifest after the
/// old ones and handed to the writers at the cut.
fn prepare_rewrite(cfg: &AofConfig, mode: Mode, shards: usize) -> Result<(Manifest, FileInfo, Vec<FileInfo>), String> {
    let dir = dir_of(cfg);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't open or create append-only dir {}: {}", cfg.dirname, e))?;
    let old = read_manifest(cfg)?.unwrap_or_default();
    let (base, incr) = next_files(cfg, &old, shards);
    let files = create_incr_files(cfg, &incr)?;
    if mode == Mode::TurnOn {
        set_sizes(0, 0);
        set_fsync(cfg.fsync);
        start_writers(files.into_iter().map(|f| (f, 0)).collect());
    } else if mode == Mode::Rotate {
        let mut m = old.clone();
        m.incr.extend(incr.iter().cloned());
        write_manifest(cfg, &m).map_err(|e| e.to_string())?;
        *ROTATE.lock().unwrap() = files.into_iter().map(Some).collect();
    }
    Ok((old, base, incr))
}

/// Creates the incr files `incr` empty (a file of the same name left by a
/// crash holds nothing of ours), opened for appending.
fn create_incr_files(cfg: &AofConfig, incr: &[FileInfo]) -> Result<Vec<std::fs::File>, String> {
    let dir = dir_of(cfg);
    incr.iter()
        .map(|f| {
            let _ = std::fs::remove_file(dir.join(&f.name));
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(&f.name))
                .map_err(|e| format!("Can't open the append-only file {}: {}", f.name, e))
        })
        .collect()
}

/// The file side of a finished rewrite (blocking): the manifest names the
/// new base and incr files only, and the old files go.
fn install_rewrite(cfg: &AofConfig, old: Manifest, base: FileInfo, incr: Vec<FileInfo>) -> std::io::Result<()> {
    let dir = dir_of(cfg);
    let base_len = file_size(&dir.join(&base.name));
    let m = Manifest {
        base: Some(base),
        history: Vec::new(),
        incr,
    };
    write_manifest(cfg, &m)?;
    for f in old.base.iter().chain(&old.history).chain(&old.incr) {
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
    OLDER_SIZE.store(base_len, Relaxed);
    BASE_SIZE.store(base_len + INCR_SIZE.load(Relaxed), Relaxed);
    Ok(())
}

/// `BGREWRITEAOF`.
pub async fn cmd_bgrewriteaof(sess: &mut crate::command::session::Session, out: &mut Vec<u8>) {
    let r = bgrewrite(&sess.shard, sess.tx).await;
    let mut rep = crate::protocol::reply::Reply::new(out, sess.resp3);
    match r {
        Ok(true) => rep.simple(REWRITE_STARTED),
        Ok(false) => rep.simple(REWRITE_SCHEDULED),
        Err(e) => rep.error(&e),
    }
}

/// INFO persistence's AOF lines.
pub fn info_fields(text: &mut String, enabled: bool) {
    use std::fmt::Write as _;
    let rewriting = rewriting();
    let _ = write!(
        text,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        enabled as u8,
        rewriting as u8,
        SCHEDULED.load(Relaxed) as u8,
        LAST_REWRITE_SECS.load(Relaxed),
        if rewriting {
            (crate::util::now_ms().saturating_sub(REWRITE_START_MS.load(Relaxed)) / 1000) as i64
        } else {
            -1
        },
        if LAST_REWRITE_OK.load(Relaxed) { "ok" } else { "err" },
        REWRITES.load(Relaxed),
        REWRITE_FAILURES.load(Relaxed),
        if WRITE_OK.load(Relaxed) { "ok" } else { "err" },
    );
    if enabled {
        let _ = write!(
            text,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
            OLDER_SIZE.load(Relaxed) + INCR_SIZE.load(Relaxed),
            BASE_SIZE.load(Relaxed),
            SCHEDULED.load(Relaxed) as u8,
        );
    }
}

// ---------------------------------------------------------------- files

/// One manifest line. An incr file written by one of several shards
/// says which (`shard <k>/<shards>`, a key Redis's loader skips): shard
/// `k`'s log when the keyspace was split `shards` ways. The incr files of
/// one rewrite (a *generation*) are listed together, shard 0 first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: u64,
    pub kind: u8,
    pub shard: Option<(usize, usize)>,
}

/// The manifest: base first, then history, then incr files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    pub history: Vec<FileInfo>,
    pub incr: Vec<FileInfo>,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        let mut any = false;
        for line in text.split('\n') {
            if line.len() > 1024 {
                return Err("The AOF manifest file contains too long line".into());
            }
            let line = line.trim_end_matches('\r');
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < 6 || !words.len().is_multiple_of(2) {
                return Err("Invalid AOF manifest file format".into());
            }
            let (mut name, mut seq, mut kind, mut shard) = (None, None, None, None);
            for kv in words.chunks(2) {
                match kv[0].to_ascii_lowercase().as_str() {
                    "file" => name = Some(kv[1].trim_matches('"').to_string()),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => kind = kv[1].bytes().next(),
                    "shard" => {
                        let (k, n) = kv[1].split_once('/').ok_or("Invalid AOF manifest file format")?;
                        match (k.parse::<usize>(), n.parse::<usize>()) {
                            (Ok(k), Ok(n)) if k < n && n <= 1024 => shard = Some((k, n)),
                            _ => return Err("Invalid AOF manifest file format".into()),
                        }
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err("Invalid AOF manifest file format".into());
            };
            if name.contains('/') {
                return Err("File can't be a path, just a filename".into());
            }
            let f = FileInfo { name, seq, kind, shard };
            match kind {
                b'b' => {
                    if m.base.is_some() {
                        return Err("Found duplicate base file information".into());
                    }
                    m.base = Some(f);
                }
                b'h' => m.history.push(f),
                b'i' => {
                    if m.incr.last().is_some_and(|l| l.seq >= f.seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    m.incr.push(f);
                }
                _ => return Err("Unknown AOF file type".into()),
            }
            any = true;
        }
        if !any {
            return Err("Found an empty AOF manifest".into());
        }
        generations(&m.incr)?;
        Ok(m)
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incr) {
            s.push_str(&format!("file {} seq {} type {}", f.name, f.seq, f.kind as char));
            if let Some((k, n)) = f.shard {
                s.push_str(&format!(" shard {}/{}", k, n));
            }
            s.push('\n');
        }
        s
    }
}

/// Splits the incr files into generations: a file without a shard is one
/// on its own (a single shard's log, or Redis's); files of a split
/// keyspace come as a complete set, shards `0..n` in order.
pub fn generations(incr: &[FileInfo]) -> Result<Vec<&[FileInfo]>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < incr.len() {
        let n = match incr[i].shard {
            None => 1,
            Some((_, n)) => {
                let whole = incr.len() - i >= n && (0..n).all(|k| incr[i + k].shard == Some((k, n)));
                if !whole {
                    return Err("Invalid AOF manifest: an incomplete set of shard logs".into());
                }
                n
            }
        };
        out.push(&incr[i..i + n]);
        i += n;
    }
    Ok(out)
}

/// An RDB file with no keys: `REDIS0010`, the AUX fields Redis writes for
/// an AOF base, EOF and the checksum.
pub fn empty_rdb() -> Vec<u8> {
    use super::rdb_write::{self, AuxValue};
    let mut v = Vec::new();
    let now = (crate::util::now_ms() / 1000) as i64;
    rdb_write::header(
        &mut v,
        rdb_write::RDB_VERSION,
        &[
            ("redis-ver", AuxValue::Str(b"7.4.1")),
            ("redis-bits", AuxValue::Int(64)),
            ("ctime", AuxValue::Int(now)),
            ("used-mem", AuxValue::Int(0)),
            ("aof-base", AuxValue::Int(1)),
        ],
    );
    rdb_write::eof(&mut v);
    let crc = super::crc64::crc64(0, &v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// The base and the generation of incr files (one per shard) that follow
/// those of manifest `old`.
fn next_files(cfg: &AofConfig, old: &Manifest, shards: usize) -> (FileInfo, Vec<FileInfo>) {
    let base_seq = old.base.as_ref().map_or(0, |b| b.seq) + 1;
    let base = FileInfo {
        name: format!(
            "{}.{}.base.{}",
            cfg.filename,
            base_seq,
            if cfg.use_rdb_preamble { "rdb" } else { "aof" }
        ),
        seq: base_seq,
        kind: b'b',
        shard: None,
    };
    (base, next_generation(cfg, old, shards))
}

/// The incr files of a new generation after manifest `old`'s: one per
/// shard, with consecutive sequence numbers (Redis's form when there is
/// one shard).
fn next_generation(cfg: &AofConfig, old: &Manifest, shards: usize) -> Vec<FileInfo> {
    let first = old.incr.last().map_or(0, |i| i.seq) + 1;
    (0..shards)
        .map(|k| {
            let seq = first + k as u64;
            FileInfo {
                name: format!("{}.{}.incr.aof", cfg.filename, seq),
                seq,
                kind: b'i',
                shard: (shards > 1).then_some((k, shards)),
            }
        })
        .collect()
}

fn dir_of(cfg: &AofConfig) -> PathBuf {
    PathBuf::from(&cfg.dirname)
}

fn fsync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn write_manifest(cfg: &AofConfig, m: &Manifest) -> std::io::Result<()> {
    let dir = dir_of(cfg);
    let tmp = dir.join(format!("temp-{}.manifest", cfg.filename));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(m.render().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(format!("{}.manifest", cfg.filename)))?;
    fsync_dir(&dir);
    Ok(())
}

/// Reads the manifest, if there is one.
pub fn read_manifest(cfg: &AofConfig) -> Result<Option<Manifest>, String> {
    let path = dir_of(cfg).join(format!("{}.manifest", cfg.filename));
    match std::fs::read(&path) {
        Ok(b) => Manifest::parse(&String::from_utf8_lossy(&b)).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("Fail to read AOF manifest: {}", e)),
    }
}

/// Starts a fresh log on an empty dataset: an empty base and a generation
/// of incr files (sequence after the current manifest's), the manifest
/// naming them, and the old files deleted. Starts the writers.
pub fn start_fresh(cfg: &AofConfig, shards: usize) -> Result<(), String> {
    let dir = dir_of(cfg);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't open or create append-only dir {}: {}", cfg.dirname, e))?;
    let old = read_manifest(cfg).ok().flatten().unwrap_or_default();
    let (base, incr) = next_files(cfg, &old, shards);
    let io = |e: std::io::Error| e.to_string();
    let files = create_incr_files(cfg, &incr)?;
    // An empty base: an RDB without keys, or no commands.
    let empty = if cfg.use_rdb_preamble { empty_rdb() } else { Vec::new() };
    let mut f = std::fs::File::create(dir.join(&base.name)).map_err(io)?;
    f.write_all(&empty).map_err(io)?;
    f.sync_all().map_err(io)?;
    let m = Manifest {
        base: Some(base),
        history: Vec::new(),
        incr,
    };
    write_manifest(cfg, &m).map_err(io)?;
    for f in old.base.iter().chain(&old.history).chain(&old.incr) {
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
    set_sizes(empty.len() as u64, 0);
    set_fsync(cfg.fsync);
    start_writers(files.into_iter().map(|f| (f, 0)).collect());
    Ok(())
}

fn set_sizes(older: u64, incr: u64) {
    OLDER_SIZE.store(older, Relaxed);
    INCR_SIZE.store(incr, Relaxed);
    BASE_SIZE.store(older + incr, Relaxed);
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Start-up with `appendonly yes`: the files to replay (base first), and
/// the writers running. The shards append to the last generation of incr
/// files when it was written with as many shards as now; otherwise a new
/// generation starts (its files listed after the old ones). No manifest:
/// a fresh log.
pub fn open_at_start(cfg: &AofConfig, shards: usize) -> Result<Vec<FileInfo>, String> {
    let mut m = match read_manifest(cfg)? {
        None => {
            start_fresh(cfg, shards)?;
            return Ok(Vec::new());
        }
        Some(m) => m,
    };
    let dir = dir_of(cfg);
    let files: Vec<FileInfo> = m.base.iter().chain(&m.incr).cloned().collect();
    let fits = generations(&m.incr)?.last().is_some_and(|g| g.len() == shards);
    if !fits {
        let gen = next_generation(cfg, &m, shards);
        create_incr_files(cfg, &gen)?;
        m.incr.extend(gen);
        write_manifest(cfg, &m).map_err(|e| e.to_string())?;
    }
    let current = &m.incr[m.incr.len() - shards..];
    let older: u64 = m
        .base
        .iter()
        .chain(&m.incr[..m.incr.len() - shards])
        .map(|f| file_size(&dir.join(&f.name)))
        .sum();
    let mut opened = Vec::with_capacity(shards);
    for f in current {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(&f.name))
            .map_err(|e| format!("Can't open the append-only file {}: {}", f.name, e))?;
        opened.push((file, file_size(&dir.join(&f.name))));
    }
    set_sizes(older, opened.iter().map(|(_, n)| n).sum());
    set_fsync(cfg.fsync);
    start_writers(opened);
    Ok(files)
}

static PLAN: Mutex<Option<Vec<FileInfo>>> = Mutex::new(None);
/// Set once the start-up load finished (or there was nothing to load).
pub static LOADED: AtomicBool = AtomicBool::new(true);

/// Records the files shard 0 replays before anyone is served.
pub fn set_plan(files: Vec<FileInfo>) {
    LOADED.store(false, Relaxed);
    *PLAN.lock().unwrap() = Some(files);
}

pub fn take_plan() -> Option<Vec<FileInfo>> {
    PLAN.lock().unwrap().take()
}

// ---------------------------------------------------------------- loading

/// What reading one file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Every command complete.
    Ok,
    /// The file ends inside a command (or an open MULTI) at byte `.0`:
    /// everything before is whole.
    Truncated(usize),
    /// Not RESP.
    BadFormat,
}

/// Splits AOF text into commands (argument lists), skipping `#`
/// annotation lines.
pub fn parse_commands(data: &[u8]) -> (Vec<Vec<Vec<u8>>>, Parsed) {
    let mut cmds = Vec::new();
    let mut pos = 0;
    // Start of an open MULTI and how many commands there were before it.
    let mut multi: Option<(usize, usize)> = None;
    let line = |pos: usize| -> Option<(&[u8], usize)> {
        let rest = &data[pos..];
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let l = &rest[..nl];
        Some((l.strip_suffix(b"\r").unwrap_or(l), pos + nl + 1))
    };
    while pos < data.len() {
        let start = pos;
        if data[pos] == b'#' {
            match line(pos) {
                Some((l, next)) => {
                    // A cross-shard transaction's mark (see `TX_MARK`).
                    if let Some(rest) = l.strip_prefix(TX_MARK) {
                        cmds.push(vec![TX_MARK.to_vec(), rest.to_vec()]);
                    }
                    pos = next;
                    continue;
                }
                None => return truncated(cmds, multi, start),
            }
        }
        if data[pos] != b'*' {
            return (cmds, Parsed::BadFormat);
        }
        let Some((l, next)) = line(pos) else {
            return truncated(cmds, multi, start);
        };
        let Some(argc) = std::str::from_utf8(&l[1..]).ok().and_then(|s| s.parse::<usize>().ok()) else {
            return (cmds, Parsed::BadFormat);
        };
        if argc < 1 {
            return (cmds, Parsed::BadFormat);
        }
        pos = next;
        let mut argv = Vec::with_capacity(argc);
        for _ in 0..argc {
            if pos >= data.len() {
                return truncated(cmds, multi, start);
            }
            if data[pos] != b'$' {
                return (cmds, Parsed::BadFormat);
            }
            let Some((l, next)) = line(pos) else {
                return truncated(cmds, multi, start);
            };
            let Some(len) = std::str::from_utf8(&l[1..]).ok().and_then(|s| s.parse::<usize>().ok()) else {
                return (cmds, Parsed::BadFormat);
            };
            if next + len + 2 > data.len() {
                return truncated(cmds, multi, start);
            }
            argv.push(data[next..next + len].to_vec());
            pos = next + len + 2;
        }
        if argv[0].eq_ignore_ascii_case(b"multi") {
            multi = Some((start, cmds.len()));
        } else if argv[0].eq_ignore_ascii_case(b"exec") {
            multi = None;
        }
        cmds.push(argv);
    }
    if let Some((at, n)) = multi {
        cmds.truncate(n);
        return (cmds, Parsed::Truncated(at));
    }
    (cmds, Parsed::Ok)
}

fn truncated(mut cmds: Vec<Vec<Vec<u8>>>, multi: Option<(usize, usize)>, at: usize) -> (Vec<Vec<Vec<u8>>>, Parsed) {
    match multi {
        Some((m, n)) => {
            cmds.truncate(n);
            (cmds, Parsed::Truncated(m))
        }
        None => (cmds, Parsed::Truncated(at)),
    }
}

/// Reads file `f` of the log for replay: its commands, after repairing
/// a torn tail when allowed (`last`: the manifest's last file).
pub fn read_for_load(cfg: &AofConfig, f: &FileInfo, last: bool) -> Result<Vec<Vec<Vec<u8>>>, String> {
    let path = dir_of(cfg).join(&f.name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && f.kind == b'i' && last => Vec::new(),
        Err(e) => {
            return Err(format!(
                "Unrecoverable error reading the append only file {}: {}",
                f.name, e
            ))
        }
    };
    if data.starts_with(b"REDIS") {
        // Loaded by the shards themselves (see `replay`).
        return Ok(Vec::new());
    }
    let (cmds, parsed) = parse_commands(&data);
    match parsed {
        Parsed::Ok => Ok(cmds),
        Parsed::BadFormat => Err(format!(
            "Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
            f.name
        )),
        Parsed::Truncated(at) => {
            if !last {
                return Err("Fatal error: the truncated file is not the last file".into());
            }
            if cfg.load_truncated {
                crate::server::log::warning(&format!(
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    f.name
                ));
                crate::server::log::warning(&format!("!!! Truncating the AOF {} at offset {} !!!", f.name, at));
                let file = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| e.to_string())?;
                file.set_len(at as u64).map_err(|e| {
                    format!("Error truncating the AOF file {}: {}", f.name, e)
                })?;
                let _ = file.sync_all();
                crate::server::log::warning(&format!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    f.name
                ));
                Ok(cmds)
            } else {
                Err(format!(
                    "Unexpected end of file reading the append only file {}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    f.name
                ))
            }
        }
    }
}

/// The annotation that opens a part of a cross-shard transaction in a
/// shard's log, inside its `MULTI … EXEC`: `#TX:<id>:<parts>`, `<id>`
/// unique to the transaction (across restarts), `<parts>` how many shard
/// logs hold a part of it. Redis's loader skips annotations.
pub const TX_MARK: &[u8] = b"#TX:";

/// The mark of transaction `id`'s part, `parts` parts in all.
pub fn tx_mark(id: u64, parts: usize) -> Vec<u8> {
    static RUN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let run = *RUN.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ ((std::process::id() as u64) << 40)
    });
    format!("#TX:{:x}-{:x}:{}\r\n", run, id, parts).into_bytes()
}

/// A transaction mark's id and part count.
fn parse_mark(rest: &[u8]) -> Option<(&[u8], usize)> {
    let colon = rest.iter().rposition(|&b| b == b':')?;
    let parts = std::str::from_utf8(&rest[colon + 1..]).ok()?.trim().parse().ok()?;
    Some((&rest[..colon], parts))
}

/// For every cross-shard transaction of a generation: how many of its
/// parts the logs hold, and how many it had.
fn count_parts(logs: &[Vec<Vec<Vec<u8>>>]) -> std::collections::HashMap<Vec<u8>, (usize, usize)> {
    let mut m: std::collections::HashMap<Vec<u8>, (usize, usize)> = std::collections::HashMap::new();
    for argv in logs.iter().flatten() {
        if argv[0] == TX_MARK {
            if let Some((id, parts)) = parse_mark(&argv[1]) {
                let e = m.entry(id.to_vec()).or_insert((0, parts));
                e.0 += 1;
            }
        }
    }
    m
}

/// Set while the log loads (start-up, DEBUG LOADAOF): maxmemory does not
/// apply to what it replays.
static LOADING: AtomicBool = AtomicBool::new(false);

/// Whether the log is being loaded.
#[inline]
pub fn loading() -> bool {
    LOADING.load(Relaxed)
}

/// Replays `files` (base first, then the incr files by generation)
/// through a client of `shard`, as Redis's fake AOF client does. Returns
/// how many commands ran.
///
/// Each shard's log holds only what happened to that shard's keys, so the
/// logs of one generation replay one after the other, in any order: a
/// key's history is in one log. Two things tie them together:
/// - a part of a cross-shard transaction whose other parts are not all in
///   the logs (a crash cut their writing short) is dropped, so the
///   transaction is replayed whole or not at all;
/// - FLUSHALL, FLUSHDB and SWAPDB in shard `k`'s log apply to the slots
///   shard `k` held when the log was written, whatever the shards are now.
pub async fn replay(
    shard: &std::rc::Rc<crate::shard::Shard>,
    cfg: &AofConfig,
    files: &[FileInfo],
) -> Result<usize, String> {
    LOADING.store(true, Relaxed);
    let r = replay_files(shard, cfg, files).await;
    LOADING.store(false, Relaxed);
    r
}

async fn replay_files(
    shard: &std::rc::Rc<crate::shard::Shard>,
    cfg: &AofConfig,
    files: &[FileInfo],
) -> Result<usize, String> {
    let info = std::rc::Rc::new(crate::shard::ClientInfo {
        id: crate::shard::next_client_id(),
        addr: "aof-loader".into(),
        ..Default::default()
    });
    info.resp.set(2);
    let mut state = crate::server::conn::State::new(shard, info, true);
    state.session_mut().authenticated = true;
    let (base, incr) = match files.first() {
        Some(f) if f.kind == b'b' => (Some(f), &files[1..]),
        _ => (None, files),
    };
    let gens = generations(incr)?;
    let mut total = 0;
    if let Some(f) = base {
        let started = Instant::now();
        // Bases load on every shard at once, in RDB or command form.
        let rdb = is_rdb(&dir_of(cfg).join(&f.name));
        if rdb {
            crate::server::log::notice("Reading RDB base file on AOF loading...");
        }
        let path = dir_of(cfg).join(&f.name);
        let results =
            crate::shard::coordinator::broadcast(shard, move |sh| crate::persist::snapshot::load_file(sh, &path)).await;
        for r in results {
            r.map_err(|e| {
                let what = if rdb { "the RDB base" } else { "the base" };
                format!("Bad file format reading {} {}: {}", what, f.name, e)
            })?;
        }
        crate::server::log::notice(&format!(
            "DB loaded from base file {}: {:.3} seconds",
            f.name,
            started.elapsed().as_secs_f64()
        ));
    }
    for (g, gen) in gens.iter().enumerate() {
        let started = Instant::now();
        let last = g + 1 == gens.len();
        let logs = gen
            .iter()
            .map(|f| read_for_load(cfg, f, last))
            .collect::<Result<Vec<_>, String>>()?;
        let parts = count_parts(&logs);
        if gen.len() == shard.count && gen.len() > 1 {
            // Written with today's shards: each replays its own log, all
            // at once, without a hop per command.
            let torn: std::collections::HashSet<Vec<u8>> = parts
                .iter()
                .filter(|(_, &(have, of))| have < of)
                .map(|(id, _)| id.clone())
                .collect();
            if !torn.is_empty() {
                crate::server::log::warning(&format!(
                    "Skipping {} transaction(s) whose parts the logs do not all hold (a crash cut them short)",
                    torn.len()
                ));
            }
            let names: Vec<String> = gen.iter().map(|f| f.name.clone()).collect();
            let (logs, torn, names) = (
                std::sync::Arc::new(logs),
                std::sync::Arc::new(torn),
                std::sync::Arc::new(names),
            );
            let results = crate::shard::coordinator::broadcast(shard, move |sh| {
                replay_in_place(sh, &logs[sh.id], &torn, &names[sh.id])
            })
            .await;
            for r in results {
                total += r?;
            }
        } else {
            for (f, cmds) in gen.iter().zip(&logs) {
                total += run_log(shard, &mut state, cmds, f.shard, &parts, &f.name).await?;
            }
        }
        let names: Vec<&str> = gen.iter().map(|f| f.name.as_str()).collect();
        crate::server::log::notice(&format!(
            "DB loaded from incr file{} {}: {:.3} seconds",
            if names.len() > 1 { "s" } else { "" },
            names.join(", "),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(total)
}

/// Replays one log: shard `k`'s of `n` (`of`), None for a log of the whole
/// keyspace. Transaction blocks are replayed command by command (loading
/// is not shared with anyone); a part of a transaction missing other
/// parts is skipped.
async fn run_log(
    shard: &std::rc::Rc<crate::shard::Shard>,
    state: &mut crate::server::conn::State,
    cmds: &[Vec<Vec<u8>>],
    of: Option<(usize, usize)>,
    parts: &std::collections::HashMap<Vec<u8>, (usize, usize)>,
    name: &str,
) -> Result<usize, String> {
    let mut total = 0;
    let mut unwrap = Unwrap::default();
    for argv in cmds {
        let torn = |id: &[u8]| {
            let torn = parts.get(id).is_some_and(|&(have, of)| have < of);
            if torn {
                crate::server::log::warning(&format!(
                    "Skipping a part of a transaction whose other parts are missing (a crash cut them short) in {}",
                    name
                ));
            }
            torn
        };
        if !unwrap.keep(argv, torn) {
            continue;
        }
        let cmd = argv[0].as_slice();
        if crate::command::lookup(cmd).is_none() {
            return Err(format!(
                "Unknown command '{}' reading the append only file {}",
                String::from_utf8_lossy(cmd),
                name
            ));
        }
        if let Some((k, n)) = of {
            if let Some(op) = ShardOp::of(argv, state.session().db) {
                crate::shard::coordinator::broadcast(shard, move |sh| op.apply(sh, k, n)).await;
                total += 1;
                continue;
            }
        }
        let mut data = Vec::new();
        let mut ranges = Vec::with_capacity(argv.len());
        for a in argv {
            ranges.push((data.len() as u32, a.len() as u32));
            data.extend_from_slice(a);
        }
        state.now_ms = crate::util::now_ms();
        let args = crate::command::Args::new(&data, &ranges);
        state.dispatch(&args).await;
        state.flush_remote().await;
        drop(state.take_output());
        total += 1;
    }
    Ok(total)
}

/// Walks a log's commands for replay: transaction blocks are replayed
/// command by command (loading is not shared with anyone), so `MULTI`,
/// `EXEC` and marks are left out, and so is a part of a transaction that
/// `torn` says lacks others.
#[derive(Default)]
struct Unwrap {
    skipping: bool,
}

impl Unwrap {
    /// Whether `argv` is a command to run.
    fn keep(&mut self, argv: &[Vec<u8>], torn: impl FnOnce(&[u8]) -> bool) -> bool {
        let cmd = argv[0].as_slice();
        if cmd == TX_MARK {
            self.skipping = parse_mark(&argv[1]).is_some_and(|(id, _)| torn(id));
            return false;
        }
        if cmd.eq_ignore_ascii_case(b"multi") {
            return false;
        }
        if cmd.eq_ignore_ascii_case(b"exec") {
            self.skipping = false;
            return false;
        }
        !self.skipping
    }
}

/// Replays shard `sh`'s own log `cmds` (of a generation written with as
/// many shards as now) on `sh` itself: every command it holds is about
/// this shard's keys. Parts of transactions in `torn` are skipped.
fn replay_in_place(
    sh: &std::rc::Rc<crate::shard::Shard>,
    cmds: &[Vec<Vec<u8>>],
    torn: &std::collections::HashSet<Vec<u8>>,
    name: &str,
) -> Result<usize, String> {
    use crate::command::table::Handler;
    use crate::command::ConnCmd;
    let databases = sh.ks.borrow().dbs.len();
    let (mut db, mut total) = (0usize, 0usize);
    let mut unwrap = Unwrap::default();
    let mut out = Vec::new();
    let mut data = Vec::new();
    let mut ranges = Vec::new();
    for argv in cmds {
        if !unwrap.keep(argv, |id| torn.contains(id)) {
            continue;
        }
        let cmd = argv[0].as_slice();
        if let Some(op) = ShardOp::of(argv, db) {
            op.apply(sh, sh.id, sh.count);
            total += 1;
            continue;
        }
        let Some(spec) = crate::command::lookup(cmd) else {
            return Err(format!(
                "Unknown command '{}' reading the append only file {}",
                String::from_utf8_lossy(cmd),
                name
            ));
        };
        data.clear();
        ranges.clear();
        for a in argv {
            ranges.push((data.len() as u32, a.len() as u32));
            data.extend_from_slice(a);
        }
        let args = crate::command::Args::new(&data, &ranges);
        match spec.handler {
            Handler::Shard(handler) => {
                if spec
                    .key_indices(&args)
                    .any(|i| crate::shard::slot::key_shard(args.get(i), sh.count) != sh.id)
                {
                    return Err(format!(
                        "'{}' over another shard's keys in the append only file {}",
                        spec.name, name
                    ));
                }
                super::aof_base::run_loaded(sh, spec, handler, &args, db, &mut out);
            }
            Handler::Conn(ConnCmd::Select) => db = super::aof_base::selected(&args, databases, name)?,
            Handler::Conn(ConnCmd::Function) => {
                // Process-wide: kept in shard 0's log.
                let argv: Vec<&[u8]> = args.iter().collect();
                out.clear();
                crate::script::engine::Engine::with(|e| e.function_command(&argv, false, &mut out));
            }
            Handler::Conn(_) => {
                return Err(format!(
                    "Unexpected command '{}' in the append only file {}",
                    spec.name, name
                ))
            }
        }
        total += 1;
    }
    Ok(total)
}

/// A keyspace-wide command in a shard's log, applied to that shard's
/// slots only.
#[derive(Clone, Copy, Debug)]
enum ShardOp {
    Flush(Option<usize>),
    Swap(usize, usize),
}

impl ShardOp {
    /// The operation `argv` is (in database `db`), if it is one.
    fn of(argv: &[Vec<u8>], db: usize) -> Option<ShardOp> {
        let cmd = argv[0].as_slice();
        let num = |a: &Vec<u8>| std::str::from_utf8(a).ok()?.parse::<usize>().ok();
        if cmd.eq_ignore_ascii_case(b"flushall") {
            Some(ShardOp::Flush(None))
        } else if cmd.eq_ignore_ascii_case(b"flushdb") {
            Some(ShardOp::Flush(Some(db)))
        } else if cmd.eq_ignore_ascii_case(b"swapdb") && argv.len() == 3 {
            Some(ShardOp::Swap(num(&argv[1])?, num(&argv[2])?))
        } else {
            None
        }
    }

    /// Applies the operation on `sh` to the keys of the slots shard `k` of
    /// `n` held.
    fn apply(self, sh: &crate::shard::Shard, k: usize, n: usize) {
        use crate::shard::slot::{slot_shard, SLOTS};
        let slots: Vec<usize> = (0..SLOTS)
            .filter(|&s| slot_shard(s as u16, sh.count) == sh.id && slot_shard(s as u16, n) == k)
            .collect();
        if slots.is_empty() {
            return;
        }
        let whole = (0..SLOTS).filter(|&s| slot_shard(s as u16, sh.count) == sh.id).count() == slots.len();
        let mut ks = sh.ks.borrow_mut();
        let databases = ks.dbs.len();
        let take = |db: &mut crate::storage::db::Db| -> Vec<(Vec<u8>, crate::storage::value::Entry)> {
            let mut keys = Vec::new();
            for &s in &slots {
                db.for_each_in_slot(s, 0, |k, _| keys.push(k.to_vec()));
            }
            keys.into_iter().filter_map(|k| db.remove(&k).map(|e| (k, e))).collect()
        };
        match self {
            ShardOp::Flush(which) => {
                for d in (0..databases).filter(|&d| which.is_none_or(|w| w == d)) {
                    if whole {
                        ks.db(d).clear();
                    } else {
                        take(ks.db(d));
                    }
                }
            }
            ShardOp::Swap(a, b) if a < databases && b < databases && a != b => {
                if whole {
                    ks.swap(a, b);
                } else {
                    let from_a = take(ks.db(a));
                    let from_b = take(ks.db(b));
                    for (k, e) in from_a {
                        ks.db(b).insert_entry_silent(&k, e);
                    }
                    for (k, e) in from_b {
                        ks.db(a).insert_entry_silent(&k, e);
                    }
                }
            }
            ShardOp::Swap(..) => {}
        }
    }
}

/// Whether the file at `path` is in RDB form (an AOF base written with
/// the RDB preamble, as Spindle and Redis 7 write them).
fn is_rdb(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 5];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"REDIS"
}

/// Start-up: shard 0 replays the log while the others wait; then every
/// shard connects to the writer. Err: a fatal loading error (logged).
pub async fn startup(shard: &std::rc::Rc<crate::shard::Shard>) -> Result<(), String> {
    if shard.id == 0 {
        if let Some(files) = take_plan() {
            let cfg = shard.config.borrow().aof.clone();
            let r = replay(shard, &cfg, &files).await;
            LOADED.store(true, Relaxed);
            if let Err(e) = r {
                crate::server::log::warning(&e);
                return Err(e);
            }
            crate::server::log::notice("DB loaded from append only file");
        }
    } else {
        while !LOADED.load(Relaxed) {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
    if running() {
        attach_shard(shard.id);
        // No shard listens before every shard logs: a client of a shard
        // that attached first could otherwise write, through a hop, on one
        // that has not yet, and that write would miss the log.
        ATTACHED.fetch_add(1, Relaxed);
        while ATTACHED.load(Relaxed) < shard.count as u64 {
            glommio::timer::sleep(Duration::from_millis(1)).await;
        }
    }
    Ok(())
}

/// Shards attached to their writers at start-up.
static ATTACHED: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_logs_in_the_manifest() {
        let text = "file a.1.base.rdb seq 1 type b\n\
                    file a.1.incr.aof seq 1 type i\n\
                    file a.2.incr.aof seq 2 type i shard 0/2\n\
                    file a.3.incr.aof seq 3 type i shard 1/2\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.render(), text.replace("                    ", ""));
        let g = generations(&m.incr).unwrap();
        assert_eq!(g.iter().map(|g| g.len()).collect::<Vec<_>>(), [1, 2]);
        // A set of shard logs must be whole and in order.
        for bad in [
            "file a.2.incr.aof seq 2 type i shard 0/2\n",
            "file a.2.incr.aof seq 2 type i shard 1/2\nfile a.3.incr.aof seq 3 type i shard 0/2\n",
            "file a.2.incr.aof seq 2 type i shard 2/2\n",
            "file a.2.incr.aof seq 2 type i shard x\n",
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transaction_marks_parse() {
        let m = tx_mark(0x1_0000_0000_0007, 3);
        let (cmds, parsed) =
            parse_commands(&[b"*1\r\n$5\r\nMULTI\r\n".as_slice(), &m, b"*1\r\n$4\r\nEXEC\r\n"].concat());
        assert_eq!(parsed, Parsed::Ok);
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[1][0], TX_MARK);
        let (id, parts) = parse_mark(&cmds[1][1]).unwrap();
        assert!(id.ends_with(b"-1000000000007"), "{:?}", String::from_utf8_lossy(id));
        assert_eq!(parts, 3);
        // A mark whose block was cut short goes with it.
        let torn = [b"*1\r\n$5\r\nMULTI\r\n".as_slice(), &m, b"*2\r\n$3\r\nDEL"].concat();
        assert_eq!(parse_commands(&torn), (Vec::new(), Parsed::Truncated(0)));
    }

    #[test]
    fn manifest_round_trip_and_errors() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.render(), text);
        assert_eq!(Manifest::parse("").unwrap_err(), "Found an empty AOF manifest");
        assert_eq!(
            Manifest::parse("file a seq 1 type b\nfile b seq 2 type b\n").unwrap_err(),
            "Found duplicate base file information"
        );
        assert_eq!(
            Manifest::parse("file a seq 2 type i\nfile b seq 1 type i\n").unwrap_err(),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(
            Manifest::parse("file a seq 1 type x\n").unwrap_err(),
            "Unknown AOF file type"
        );
        assert_eq!(
            Manifest::parse("file a seq 1\n").unwrap_err(),
            "Invalid AOF manifest file format"
        );
    }

    #[test]
    fn commands_parse_and_torn_tails() {
        let ok = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n";
        let (c, p) = parse_commands(ok);
        assert_eq!((c.len(), p), (2, Parsed::Ok));
        let torn = &ok[..ok.len() - 3];
        let (c, p) = parse_commands(torn);
        assert_eq!((c.len(), p), (1, Parsed::Truncated(23)));
        let mut multi = ok.to_vec();
        multi.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nb\r\n$1\r\n2\r\n");
        let (c, p) = parse_commands(&multi);
        assert_eq!((c.len(), p), (2, Parsed::Truncated(ok.len())));
        assert_eq!(parse_commands(b"+OK\r\n").1, Parsed::BadFormat);
    }

    #[test]
    fn the_empty_base_checks_out() {
        let rdb = empty_rdb();
        assert_eq!(crate::persist::crc64::crc64(0, &rdb), 0);
        let mut r = crate::persist::rdb_read::Reader::with_limits(rdb.as_slice(), Default::default()).unwrap();
        while !matches!(r.next().unwrap(), crate::persist::rdb_read::Item::Eof) {}
    }
}
