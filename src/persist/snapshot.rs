//! Snapshots: SAVE, BGSAVE, LASTSAVE, the save rules and the load at
//! startup, in Redis's RDB format (one file, `dir/dbfilename`).
//!
//! No fork and no copy of the data set: the cut (one coordinator
//! transaction over every shard, held for a moment) starts a walk on each
//! shard and records its change counter; the shards then write their own
//! keys in bounded slices while they keep serving, an entry about to
//! change being written first (see [`super::walk`]). The file writer, a
//! task on the shard that started the save, asks every shard for its next
//! slice in turn and streams the slices through glommio's direct I/O into
//! `temp-<pid>.rdb`: header and AUX fields, functions, size hints, the
//! slices, EOF and the CRC (combined from the shards' own CRCs of their
//! slices). Then fsync, rename over `dbfilename`, fsync of the directory:
//! a crash mid-save leaves the previous file intact.
//!
//! State shared by all shards (status, times, counters) is a set of relaxed
//! atomics: only SAVE/BGSAVE/INFO and the save-rules cron touch it, and the
//! write path reads one flag (MISCONF).

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::shard::coordinator;
use crate::shard::Shard;

/// The snapshot parameters (part of `Config`).
#[derive(Clone, Debug)]
pub struct SaveConfig {
    pub dbfilename: String,
    /// Save rules: (seconds, changes); empty = no automatic saves.
    pub save: Vec<(u64, u64)>,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    pub rdb_del_sync_files: bool,
    /// µs of sleep per saved key (test knob); negative: 1 µs with
    /// probability 1/|n|.
    pub rdb_key_save_delay: i64,
}

impl Default for SaveConfig {
    fn default() -> Self {
        SaveConfig {
            dbfilename: "dump.rdb".into(),
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            rdb_del_sync_files: false,
            rdb_key_save_delay: 0,
        }
    }
}

/// The parameters of this module, for the config table.
pub const PARAM_NAMES: &[&str] = &[
    "dbfilename",
    "save",
    "rdbcompression",
    "rdbchecksum",
    "stop-writes-on-bgsave-error",
    "rdb-del-sync-files",
    "rdb-key-save-delay",
];

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

impl SaveConfig {
    /// CONFIG GET value of `name`, if it is one of ours.
    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "dbfilename" => self.dbfilename.clone(),
            "save" => self
                .save
                .iter()
                .map(|(s, c)| format!("{} {}", s, c))
                .collect::<Vec<_>>()
                .join(" "),
            "rdbcompression" => yes_no(self.rdbcompression),
            "rdbchecksum" => yes_no(self.rdbchecksum),
            "stop-writes-on-bgsave-error" => yes_no(self.stop_writes_on_bgsave_error),
            "rdb-del-sync-files" => yes_no(self.rdb_del_sync_files),
            "rdb-key-save-delay" => self.rdb_key_save_delay.to_string(),
            _ => return None,
        })
    }

    /// CONFIG SET of `name`, if it is one of ours.
    pub fn set(&mut self, name: &str, v: &str) -> Option<Result<(), String>> {
        let r = || -> Result<(), String> {
            match name {
                "dbfilename" => {
                    if v.contains('/') {
                        return Err("dbfilename can't be a path, just a filename".into());
                    }
                    self.dbfilename = v.to_string();
                }
                "save" => self.save = parse_save(v)?,
                "rdbcompression" => self.rdbcompression = parse_bool(v)?,
                "rdbchecksum" => self.rdbchecksum = parse_bool(v)?,
                "stop-writes-on-bgsave-error" => self.stop_writes_on_bgsave_error = parse_bool(v)?,
                "rdb-del-sync-files" => self.rdb_del_sync_files = parse_bool(v)?,
                "rdb-key-save-delay" => {
                    self.rdb_key_save_delay = v
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= i32::MIN as i64 && *n <= i32::MAX as i64)
                        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?
                }
                _ => unreachable!(),
            }
            Ok(())
        };
        PARAM_NAMES.contains(&name).then(r)
    }
}

/// Parses the `save` rules: pairs of non-negative integers, "" for none.
pub fn parse_save(v: &str) -> Result<Vec<(u64, u64)>, String> {
    let v = v.trim();
    if v.is_empty() || v == "\"\"" {
        return Ok(Vec::new());
    }
    let words: Vec<&str> = v.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    let mut rules = Vec::new();
    for p in words.chunks(2) {
        let secs = p[0].parse::<u64>().map_err(|_| "Invalid save parameters".to_string())?;
        let changes = p[1].parse::<u64>().map_err(|_| "Invalid save parameters".to_string())?;
        rules.push((secs, changes));
    }
    Ok(rules)
}

// ---------------------------------------------------------------------------
// Status (INFO persistence, LASTSAVE, MISCONF).

const MAX_SHARDS: usize = 1025;
/// A walk runs (a snapshot or an AOF base: one at a time).
static IN_PROGRESS: AtomicBool = AtomicBool::new(false);
/// The running walk writes an AOF base (not a BGSAVE).
static FOR_AOF: AtomicBool = AtomicBool::new(false);
static LASTSAVE: AtomicI64 = AtomicI64::new(0);
static LAST_OK: AtomicBool = AtomicBool::new(true);
static LAST_TRY_MS: AtomicU64 = AtomicU64::new(0);
static LAST_BGSAVE_SECS: AtomicI64 = AtomicI64::new(-1);
static CURRENT_START_MS: AtomicU64 = AtomicU64::new(0);
static SAVES: AtomicU64 = AtomicU64::new(0);
static KEYS_PROCESSED: AtomicU64 = AtomicU64::new(0);
static KEYS_TOTAL: AtomicU64 = AtomicU64::new(0);
static LOAD_LOADED: AtomicU64 = AtomicU64::new(0);
static LOAD_EXPIRED: AtomicU64 = AtomicU64::new(0);
/// True when write commands get MISCONF (failed bgsave + rules + option).
static REFUSE_WRITES: AtomicBool = AtomicBool::new(false);
/// Per shard: the change count the last successful save covered.
static COVERED: [AtomicU64; MAX_SHARDS] = [const { AtomicU64::new(0) }; MAX_SHARDS];

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
pub const ERR_IN_PROGRESS: &str = "ERR Background save already in progress";
pub const ERR_SAVE: &str = "ERR";
pub const BGSAVE_STARTED: &str = "Background saving started";
pub const BGSAVE_SCHEDULED_REPLY: &str = "Background saving scheduled";
pub const ERR_OTHER_CHILD: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";
/// BGSAVE SCHEDULE arrived while an AOF rewrite ran.
static BGSAVE_SCHEDULED: AtomicBool = AtomicBool::new(false);

fn now_secs() -> i64 {
    (crate::util::now_ms() / 1000) as i64
}

/// Sets LASTSAVE to the start time (Redis initialises it so).
pub fn init_status() {
    if LASTSAVE.load(Relaxed) == 0 {
        LASTSAVE.store(now_secs(), Relaxed);
    }
}

/// The MISCONF refusal for a write command, if writes are refused now.
#[inline]
pub fn refuses_writes() -> bool {
    REFUSE_WRITES.load(Relaxed)
}

fn update_refusal(cfg: &SaveConfig) {
    REFUSE_WRITES.store(
        cfg.stop_writes_on_bgsave_error && !cfg.save.is_empty() && !LAST_OK.load(Relaxed),
        Relaxed,
    );
}

/// Changes on this shard not covered by the last successful save.
pub fn unsaved(shard: &Shard) -> u64 {
    super::changes(shard).saturating_sub(COVERED[shard.id].load(Relaxed))
}

/// Whether a save (or an AOF base) is being written.
pub fn in_progress() -> bool {
    IN_PROGRESS.load(Relaxed)
}

/// Whether a BGSAVE or SAVE (not an AOF rewrite) is running.
pub fn rdb_in_progress() -> bool {
    in_progress() && !FOR_AOF.load(Relaxed)
}

/// The INFO persistence lines after `loading`/`async_loading` (which the
/// caller writes), given the summed unsaved changes.
pub fn info_fields(text: &mut String, unsaved: u64) {
    use std::fmt::Write as _;
    let running = rdb_in_progress();
    let start = CURRENT_START_MS.load(Relaxed);
    let processed = KEYS_PROCESSED.load(Relaxed);
    let total = KEYS_TOTAL.load(Relaxed);
    let perc = if running && total > 0 {
        processed as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let _ = write!(
        text,
        "current_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:{:.2}\r\ncurrent_save_keys_processed:{}\r\ncurrent_save_keys_total:{}\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        perc,
        if running { processed } else { 0 },
        if running { total } else { 0 },
        unsaved,
        running as u8,
        LASTSAVE.load(Relaxed),
        if LAST_OK.load(Relaxed) { "ok" } else { "err" },
        LAST_BGSAVE_SECS.load(Relaxed),
        if running {
            ((crate::util::now_ms().saturating_sub(start)) / 1000) as i64
        } else {
            -1
        },
        SAVES.load(Relaxed),
        LOAD_EXPIRED.load(Relaxed),
        LOAD_LOADED.load(Relaxed),
    );
}

// ---------------------------------------------------------------------------
// The cut.

fn write_opts(shard: &Shard, compress: bool) -> super::rdb_write::WriteOpts {
    let cfg = shard.config.borrow();
    let clock = (crate::util::now_ms() / 1000) as u32;
    let policy = cfg.memory.policy;
    super::rdb_write::WriteOpts {
        compress,
        limits: cfg.limits,
        lru_clock: policy.is_lru().then_some(clock),
        lfu: policy.is_lfu().then_some((clock, cfg.memory.lfu_decay_time)),
    }
}

/// What the file writer needs, fixed at the cut.
struct Job {
    dir: std::path::PathBuf,
    filename: String,
    /// An AOF base (the `aof-base` AUX field says so).
    aof_base: bool,
    /// RDB, or commands (an AOF base without the RDB preamble).
    form: super::walk::Form,
    functions: Vec<Vec<u8>>,
    /// Keys and volatile keys per database number, all shards summed.
    sizes: Vec<(u64, u64)>,
    version: u16,
    delay: i64,
    checksum: bool,
    compress: bool,
    /// The transaction the save runs in (0: a background save), so the
    /// slices pass the locks a SAVE inside FLUSHALL holds.
    tx: crate::shard::gate::TxId,
}

/// Takes the cut across all shards (every shard locked for a moment):
/// each starts its walk ([`super::walk::begin`]). Returns the job and the
/// change counts the snapshot covers.
async fn take_cut(shard: &Rc<Shard>, tx: crate::shard::gate::TxId, bg: bool, target: Target) -> (Job, Vec<u64>) {
    let form = target.form();
    let (compress, checksum) = {
        let cfg = shard.config.borrow();
        // A base of commands carries no checksum.
        (
            cfg.persist.rdbcompression,
            cfg.persist.rdbchecksum && form == super::walk::Form::Rdb,
        )
    };
    let now = crate::util::now_ms();
    let aof_base = matches!(target, Target::AofBase { .. });
    let cuts = coordinator::broadcast_locked_in(shard, tx, move |sh| {
        if aof_base {
            // The log switches to its new incr file at the cut.
            super::aof::at_cut(sh);
        }
        super::walk::begin(sh, now, form, write_opts(sh, compress), checksum)
    })
    .await;
    let functions: Vec<Vec<u8>> = crate::script::store::libraries()
        .by_id
        .values()
        .map(|l| l.code.clone())
        .collect();
    let mut sizes: Vec<(u64, u64)> = Vec::new();
    for c in &cuts {
        if sizes.len() < c.sizes.len() {
            sizes.resize(c.sizes.len(), (0, 0));
        }
        for (i, (k, v)) in c.sizes.iter().enumerate() {
            sizes[i].0 += k;
            sizes[i].1 += v;
        }
    }
    KEYS_TOTAL.store(sizes.iter().map(|s| s.0).sum(), Relaxed);
    KEYS_PROCESSED.store(0, Relaxed);
    let version = if cuts.iter().any(|c| c.needs_v12) {
        super::rdb_write::RDB_VERSION_MAX
    } else {
        super::rdb_write::RDB_VERSION
    };
    let cfg = shard.config.borrow();
    let (dir, filename) = match target {
        Target::Dump => (std::path::PathBuf::from(&cfg.dir), cfg.persist.dbfilename.clone()),
        Target::AofBase { dir, name } => (dir, name),
    };
    (
        Job {
            dir,
            filename,
            aof_base,
            form,
            functions,
            sizes,
            version,
            delay: cfg.persist.rdb_key_save_delay,
            checksum,
            compress,
            tx: if bg { 0 } else { tx },
        },
        cuts.iter().map(|c| c.dirty).collect(),
    )
}

/// The header: magic, AUX fields, functions, and the size hints of every
/// database (`SELECTDB` + `RESIZEDB` with the totals of all shards; the
/// slices select their databases again). In command form: a `FUNCTION
/// LOAD` per library, as Redis's rewrite begins.
fn header(job: &Job) -> Vec<u8> {
    use super::rdb_write::{self, AuxValue};
    let mut head = Vec::new();
    if job.form == super::walk::Form::Commands {
        for code in &job.functions {
            super::aof_base::function(&mut head, code);
        }
        return head;
    }
    rdb_write::header(
        &mut head,
        job.version,
        &[
            (
                "redis-ver",
                AuxValue::Str(crate::command::connection::REDIS_VERSION.as_bytes()),
            ),
            ("redis-bits", AuxValue::Int(64)),
            ("ctime", AuxValue::Int(now_secs())),
            ("used-mem", AuxValue::Int(crate::memory::used() as i64)),
            ("aof-base", AuxValue::Int(job.aof_base as i64)),
        ],
    );
    for code in &job.functions {
        rdb_write::function(&mut head, code, job.compress);
    }
    for (db, &(keys, volatile)) in job.sizes.iter().enumerate() {
        if keys > 0 {
            rdb_write::select_db(&mut head, db);
            rdb_write::resize_db(&mut head, keys, volatile);
        }
    }
    head
}

/// Set by SHUTDOWN and FLUSHALL: the running save stops writing (its walk
/// still runs to its end, without the per-key delay) and leaves no file.
static CANCEL: AtomicBool = AtomicBool::new(false);

/// Writes the snapshot: asks the shards for slices until every walk is
/// over and streams them to `temp-<pid>.rdb` through glommio's direct
/// I/O, then fsyncs, renames over `dbfilename` and fsyncs the directory.
/// A crash mid-save leaves the previous file intact. The walks always run
/// to their end, even after a write error: their epochs must not be left
/// half advanced.
async fn write_job(shard: &Rc<Shard>, job: Job) -> std::io::Result<()> {
    use futures_lite::AsyncWriteExt;
    use glommio::io::{DmaFile, DmaStreamWriterBuilder};
    let tmp = match job.aof_base {
        false => job.dir.join(format!("temp-{}.rdb", std::process::id())),
        true => job.dir.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id())),
    };
    let mut err: Option<std::io::Error> = None;
    let mut w = match DmaFile::create(&tmp).await {
        Ok(f) => Some(
            DmaStreamWriterBuilder::new(f)
                .with_buffer_size(512 << 10)
                .with_write_behind(4)
                .build(),
        ),
        Err(e) => {
            err = Some(e.into());
            None
        }
    };
    let head = header(&job);
    let mut crc = if job.checksum { super::crc64::crc64(0, &head) } else { 0 };
    if let Some(w) = w.as_mut() {
        if let Err(e) = w.write_all(&head).await {
            err = Some(e);
        }
    }
    let max_keys = match job.delay {
        0 => None,
        d if d > 0 => Some(1),
        d => Some(d.unsigned_abs() as usize),
    };
    let mut left: Vec<bool> = vec![true; shard.count];
    let (mut rounds, mut longest) = (0u64, std::time::Duration::ZERO);
    while left.iter().any(|&l| l) {
        rounds += 1;
        let cancelled = CANCEL.load(Relaxed);
        let max_keys = if cancelled { None } else { max_keys };
        let mut pending = Vec::with_capacity(shard.count);
        for s in (0..shard.count).filter(|&s| left[s]) {
            let p = coordinator::submit(shard, s, job.tx, crate::shard::Lock::None, move |sh| {
                super::walk::step(sh, max_keys)
            })
            .await;
            pending.push((s, p));
        }
        let mut keys = 0;
        let mut took = std::time::Duration::ZERO;
        for (s, p) in pending {
            let slice = p.wait().await;
            left[s] = !slice.done;
            took = took.max(slice.took);
            longest = longest.max(slice.took);
            keys += slice.keys;
            if cancelled && err.is_none() {
                err = Some(std::io::Error::other("the save was cancelled"));
            }
            if err.is_some() || slice.bytes.is_empty() {
                continue;
            }
            if job.checksum {
                crc = super::crc64::combine(crc, slice.crc, slice.bytes.len() as u64);
            }
            if let Some(w) = w.as_mut() {
                if let Err(e) = w.write_all(&slice.bytes).await {
                    err = Some(e);
                }
            }
        }
        KEYS_PROCESSED.fetch_add(keys, Relaxed);
        if !cancelled && job.delay > 0 && keys > 0 {
            glommio::timer::sleep(std::time::Duration::from_micros(job.delay as u64 * keys)).await;
        }
        // Pacing: a shard spends at most a quarter of its time on slices,
        // so requests keep most of it (p99 under a save stays near its
        // figure without one). The timer also parks this task until the
        // connections made ready by I/O have run: a plain yield would run
        // it again before the reactor is polled.
        if !cancelled {
            glommio::timer::sleep((took * 3).max(std::time::Duration::from_micros(20))).await;
        }
    }
    crate::server::log::notice(&format!(
        "Snapshot walk: {} rounds of slices, the longest slice {} us",
        rounds,
        longest.as_micros()
    ));
    // A base of commands simply ends; an RDB file has EOF and its CRC.
    if let (None, Some(w), super::walk::Form::Rdb) = (&err, w.as_mut(), job.form) {
        let mut tail = Vec::new();
        super::rdb_write::eof(&mut tail);
        if job.checksum {
            crc = super::crc64::crc64(crc, &tail);
        }
        tail.extend_from_slice(&crc.to_le_bytes());
        if let Err(e) = w.write_all(&tail).await {
            err = Some(e);
        }
    }
    // Closing syncs the file (and trims the direct-I/O padding).
    if let Some(mut w) = w {
        if let Err(e) = w.close().await {
            err.get_or_insert(e);
        }
    }
    if let Some(e) = err {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    glommio::io::rename(&tmp, job.dir.join(&job.filename))
        .await
        .map_err(std::io::Error::from)?;
    let dir = glommio::io::Directory::open(&job.dir)
        .await
        .map_err(std::io::Error::from)?;
    dir.sync().await.map_err(std::io::Error::from)?;
    let _ = dir.close().await;
    Ok(())
}

/// Records a finished save.
fn finish(shard: &Rc<Shard>, r: &std::io::Result<()>, dirties: &[u64], started_ms: u64, bg: bool) {
    let log = crate::server::log::notice;
    match r {
        Ok(()) => {
            for (i, d) in dirties.iter().enumerate() {
                COVERED[i].store(*d, Relaxed);
            }
            LASTSAVE.store(now_secs(), Relaxed);
            LAST_OK.store(true, Relaxed);
            if bg {
                log("Background saving terminated with success");
            } else {
                log("DB saved on disk");
            }
        }
        Err(e) => {
            LAST_OK.store(false, Relaxed);
            crate::server::log::warning(&format!("Failed saving the DB: {}", e));
        }
    }
    if bg {
        LAST_BGSAVE_SECS.store(((crate::util::now_ms() - started_ms) / 1000) as i64, Relaxed);
    }
    LAST_TRY_MS.store(crate::util::now_ms(), Relaxed);
    update_refusal(&shard.config.borrow().persist);
}

/// A save whose cut is taken and whose file is not yet written.
pub struct Pending {
    job: Job,
    /// Where the file goes (an AOF base is finished by the log's code).
    aof: bool,
    dirties: Vec<u64>,
    started: u64,
    bg: bool,
}

/// Takes the cut of a save (SAVE, BGSAVE, the cron, SHUTDOWN, FLUSHALL);
/// `None` if a save is already running.
pub async fn begin(shard: &Rc<Shard>, tx: crate::shard::gate::TxId, bg: bool) -> Option<Pending> {
    begin_for(shard, tx, bg, Target::Dump).await
}

/// What a walk writes.
pub enum Target {
    /// `dir/dbfilename`.
    Dump,
    /// A base file of the append-only log, `dir/name`.
    AofBase { dir: std::path::PathBuf, name: String },
}

impl Target {
    /// The form of the file: a base named `*.aof` (written with
    /// `aof-use-rdb-preamble no`, which names it so) holds commands,
    /// anything else is RDB.
    fn form(&self) -> super::walk::Form {
        match self {
            Target::AofBase { name, .. } if name.ends_with(".aof") => super::walk::Form::Commands,
            _ => super::walk::Form::Rdb,
        }
    }
}

/// [`begin`] for any target; `None` if a walk is already running.
pub async fn begin_for(shard: &Rc<Shard>, tx: crate::shard::gate::TxId, bg: bool, target: Target) -> Option<Pending> {
    if IN_PROGRESS.swap(true, Relaxed) {
        return None;
    }
    CANCEL.store(false, Relaxed);
    let aof = matches!(target, Target::AofBase { .. });
    FOR_AOF.store(aof, Relaxed);
    let started = crate::util::now_ms();
    if !aof {
        CURRENT_START_MS.store(started, Relaxed);
        SAVES.fetch_add(1, Relaxed);
        if bg {
            crate::server::log::notice("Background saving started");
        }
    }
    let (job, dirties) = take_cut(shard, tx, bg, target).await;
    Some(Pending {
        aof,
        job,
        dirties,
        started,
        bg,
    })
}

/// Writes the file of a save begun with [`begin`] and records the result.
pub async fn complete(shard: &Rc<Shard>, p: Pending) -> std::io::Result<()> {
    let r = write_job(shard, p.job).await;
    if p.aof {
        // The log's code records the rewrite and switches manifests.
    } else if CANCEL.load(Relaxed) {
        crate::server::log::notice("Background saving cancelled");
    } else {
        finish(shard, &r, &p.dirties, p.started, p.bg);
    }
    IN_PROGRESS.store(false, Relaxed);
    FOR_AOF.store(false, Relaxed);
    r
}

/// A whole save; `Err(())` if one is already running.
pub async fn save(shard: &Rc<Shard>, tx: crate::shard::gate::TxId, bg: bool) -> Result<std::io::Result<()>, ()> {
    let p = begin(shard, tx, bg).await.ok_or(())?;
    Ok(complete(shard, p).await)
}

/// Stops a running background save (its file is not written) and waits
/// for its walk to end, as Redis kills its saving child before SHUTDOWN
/// or FLUSHALL save anew.
pub async fn cancel_running(tx: crate::shard::gate::TxId) {
    if !in_progress() {
        return;
    }
    CANCEL.store(true, Relaxed);
    if tx != 0 {
        // Inside a transaction holding shards: the walk's slices wait for
        // it, so waiting here would never end. The walk stops writing on
        // its own; this transaction's save finds it running and skips.
        return;
    }
    while in_progress() {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
    CANCEL.store(false, Relaxed);
}

/// Starts a BGSAVE: the cut is taken before this returns, the file is
/// written in the background. False if a save is running.
pub async fn start_bgsave(shard: &Rc<Shard>, tx: crate::shard::gate::TxId) -> bool {
    let Some(p) = begin(shard, tx, true).await else {
        return false;
    };
    let shard = shard.clone();
    glommio::spawn_local(async move {
        let _ = complete(&shard, p).await;
    })
    .detach();
    true
}

// ---------------------------------------------------------------------------
// Commands.

use crate::command::args::Args;
use crate::command::session::Session;
use crate::protocol::reply::Reply;

/// `SAVE` → OK.
pub async fn cmd_save(sess: &mut Session, _args: &Args<'_>, out: &mut Vec<u8>) {
    // Redis saves beside an AOF rewrite's child; here one walk runs at a
    // time, so SAVE waits for the rewrite's.
    while in_progress() && FOR_AOF.load(Relaxed) {
        glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
    }
    let r = save(&sess.shard, sess.tx, false).await;
    let mut rep = Reply::new(out, sess.resp3);
    match r {
        Err(()) => rep.error(ERR_IN_PROGRESS),
        Ok(Err(_)) => rep.error(ERR_SAVE),
        Ok(Ok(())) => rep.ok(),
    }
}

/// `BGSAVE [SCHEDULE]`.
pub async fn cmd_bgsave(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    if args.len() > 2 || (args.len() == 2 && !args.get(1).eq_ignore_ascii_case(b"schedule")) {
        return Reply::new(out, sess.resp3).error(crate::command::errors::SYNTAX);
    }
    if !rdb_in_progress() && (in_progress() || sess.tx != 0) {
        // An AOF rewrite holds the walk, or this runs inside EXEC (the cut
        // would be taken inside the transaction): run later, if asked to
        // or inside EXEC, as Redis does.
        if args.len() == 2 || sess.tx != 0 {
            BGSAVE_SCHEDULED.store(true, Relaxed);
            return Reply::new(out, sess.resp3).simple(BGSAVE_SCHEDULED_REPLY);
        }
        return Reply::new(out, sess.resp3).error(ERR_OTHER_CHILD);
    }
    if !start_bgsave(&sess.shard, sess.tx).await {
        return Reply::new(out, sess.resp3).error(ERR_IN_PROGRESS);
    }
    let mut rep = Reply::new(out, sess.resp3);
    rep.simple(BGSAVE_STARTED);
}

/// `LASTSAVE` → unix seconds of the last successful save.
pub fn cmd_lastsave(sess: &mut Session, out: &mut Vec<u8>) {
    Reply::new(out, sess.resp3).int(LASTSAVE.load(Relaxed));
}

// ---------------------------------------------------------------------------
// The save rules.

/// Starts the save-rules cron (shard 0 only).
pub fn start_cron(shard: &Rc<Shard>) {
    init_status();
    if shard.id != 0 {
        return;
    }
    let shard = shard.clone();
    glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(std::time::Duration::from_millis(100)).await;
            let signal = SIGNAL.swap(0, Relaxed);
            if signal != 0 {
                shutdown_on_signal(&shard, signal).await;
            }
            super::aof::cron(&shard).await;
            if !in_progress() && BGSAVE_SCHEDULED.swap(false, Relaxed) {
                start_bgsave(&shard, 0).await;
                continue;
            }
            let rules = shard.config.borrow().persist.save.clone();
            if rules.is_empty() || in_progress() {
                continue;
            }
            let changes: u64 = coordinator::broadcast(&shard, |sh| unsaved(sh)).await.iter().sum();
            let now = now_secs();
            let elapsed = now - LASTSAVE.load(Relaxed);
            let retry_ok =
                LAST_OK.load(Relaxed) || crate::util::now_ms().saturating_sub(LAST_TRY_MS.load(Relaxed)) >= 5000;
            if let Some((s, c)) = rules
                .iter()
                .find(|(s, c)| changes >= *c && elapsed > *s as i64 && retry_ok)
            {
                crate::server::log::notice(&format!("{} changes in {} seconds. Saving...", c, s));
                let _ = save(&shard, 0, true).await;
            }
        }
    })
    .detach();
}

// ---------------------------------------------------------------------------
// SIGTERM / SIGINT: save (when save rules are set) and exit, as Redis does.

static SIGNAL: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Blocks SIGTERM and SIGINT in this thread (and the threads it starts
/// later) and waits for them on a thread of their own; the save-rules cron
/// on shard 0 acts on them. Call before starting the shards.
pub fn install_signal_handlers() {
    // SAFETY: plain libc signal-mask calls on a zeroed, then initialised,
    // sigset_t owned by this frame (and by the waiting thread).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let _ = std::thread::Builder::new().name("signals".into()).spawn(|| loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: as above; sigwait writes the caught signal into `sig`.
        let r = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigwait(&set, &mut sig)
        };
        // A second signal while the first is handled: exit now.
        if r == 0 && SIGNAL.swap(sig, Relaxed) != 0 {
            crate::server::log::warning("You insist... exiting now.");
            std::process::exit(1);
        }
    });
}

async fn shutdown_on_signal(shard: &Rc<Shard>, sig: i32) {
    let name = if sig == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
    crate::server::log::warning(&format!("Received {} scheduling shutdown...", name));
    crate::server::log::notice("User requested shutdown...");
    if !shard.config.borrow().persist.save.is_empty() {
        crate::server::log::notice("Saving the final RDB snapshot before exiting.");
        // A running BGSAVE gives way (Redis kills its child).
        cancel_running(0).await;
        if !matches!(save(shard, 0, false).await, Ok(Ok(()))) {
            crate::server::log::warning("Error trying to save the DB, can't exit.");
            return;
        }
    }
    crate::persist::aof::flush_at_exit(shard).await;
    crate::server::log::notice("Spindle is now ready to exit, bye bye...");
    std::process::exit(0);
}

// ---------------------------------------------------------------------------
// Loading.

/// Loads `dir/dbfilename`, if it exists, keeping the keys this shard owns
/// (every shard reads the file; shard 0 also loads the functions). Called
/// before the shard accepts clients.
pub fn load_at_startup(shard: &Rc<Shard>) -> Result<(), String> {
    let (path, _) = {
        let cfg = shard.config.borrow();
        (std::path::Path::new(&cfg.dir).join(&cfg.persist.dbfilename), ())
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("Fatal error loading the DB: {}. Exiting.", e)),
    };
    let started = std::time::Instant::now();
    match load(shard, std::io::BufReader::with_capacity(1 << 20, file), true, false) {
        Ok((loaded, expired)) => {
            if shard.id == 0 {
                crate::server::log::notice(&format!(
                    "DB loaded from disk: {:.3} seconds",
                    started.elapsed().as_secs_f64()
                ));
            }
            LOAD_LOADED.fetch_add(loaded, Relaxed);
            LOAD_EXPIRED.fetch_add(expired, Relaxed);
            Ok(())
        }
        Err(e) => Err(format!(
            "Fatal error loading the DB {}: {}. Exiting.",
            path.display(),
            e
        )),
    }
}

/// Loads the keys this shard owns from the AOF base at `path`, functions
/// on shard 0: an RDB file, or commands (a base written without the RDB
/// preamble, see [`super::aof_base::load_file`]).
pub fn load_file(shard: &Rc<Shard>, path: &std::path::Path) -> Result<(u64, u64), String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 5];
    let rdb = file.read_exact(&mut magic).is_ok() && &magic == b"REDIS";
    if !rdb {
        return super::aof_base::load_file(shard, path).map(|n| (n, 0));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    load(shard, std::io::BufReader::with_capacity(1 << 20, file), false, false)
}

/// Reads an RDB stream into this shard: (keys loaded, keys expired).
fn load<R: std::io::Read>(shard: &Rc<Shard>, r: R, log: bool, merge: bool) -> Result<(u64, u64), String> {
    use super::rdb_read::{Item, Reader};
    let limits = shard.config.borrow().limits;
    let mut reader = Reader::with_limits(r, limits).map_err(|e| e.to_string())?;
    let now = crate::util::now_ms();
    let clock = (now / 1000) as u32;
    let mut db = 0usize;
    let dbs = shard.ks.borrow().dbs.len();
    let mut functions: Vec<Vec<u8>> = Vec::new();
    let (mut loaded, mut expired) = (0u64, 0u64);
    let log_all = log;
    let log = log && shard.id == 0;
    loop {
        match reader.next().map_err(|e| e.to_string())? {
            Item::Aux(k, v) => {
                if log && k == b"redis-ver" {
                    crate::server::log::notice(&format!(
                        "Loading RDB produced by version {}",
                        String::from_utf8_lossy(&v)
                    ));
                }
            }
            Item::SelectDb(n) => {
                if n >= dbs {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {} databases.",
                        dbs
                    ));
                }
                db = n;
            }
            Item::ResizeDb(..) => {}
            Item::Function(code) => functions.push(code),
            Item::Key(k) => {
                if crate::shard::slot::key_shard(&k.key, shard.count) != shard.id {
                    continue;
                }
                let at = k.expire_ms.unwrap_or(0);
                if at != 0 && at <= now {
                    expired += 1;
                    continue;
                }
                let mut ks = shard.ks.borrow_mut();
                let d = ks.db(db);
                if !merge && d.peek(&k.key).is_some() {
                    return Err(format!(
                        "Duplicated key '{}' found in RDB file",
                        String::from_utf8_lossy(&k.key)
                    ));
                }
                if merge {
                    d.remove(&k.key);
                }
                d.insert_silent(&k.key, k.value, at, clock);
                loaded += 1;
            }
            Item::Eof => break,
        }
    }
    if shard.id == 0 && !functions.is_empty() {
        let payload = crate::script::payload::dump(functions.iter().map(|c| c.as_slice()));
        let mut out = Vec::new();
        crate::script::engine::Engine::with(|e| {
            e.function_command(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"], false, &mut out)
        });
        if !out.starts_with(b"+") {
            return Err(format!(
                "failed loading the functions: {}",
                String::from_utf8_lossy(&out).trim_end()
            ));
        }
    }
    if log_all {
        crate::server::log::notice(&format!(
            "Done loading RDB (shard {}), keys loaded: {}, keys expired: {}.",
            shard.id, loaded, expired
        ));
    }
    Ok((loaded, expired))
}

// ---------------------------------------------------------------------------
// DEBUG RELOAD.

pub const ERR_RELOAD_OPTIONS: &str = "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.";
pub const ERR_RELOAD_LOAD: &str = "ERR Error trying to load the RDB dump, check server logs.";

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: save, empty, load again.
pub async fn cmd_debug_reload(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let (mut merge, mut flush, mut dosave) = (false, true, true);
    for a in args.iter().skip(2) {
        match a.to_ascii_lowercase().as_slice() {
            b"merge" => merge = true,
            b"noflush" => flush = false,
            b"nosave" => dosave = false,
            _ => return Reply::new(out, sess.resp3).error(ERR_RELOAD_OPTIONS),
        }
    }
    if dosave {
        match save(&sess.shard, sess.tx, false).await {
            Ok(Ok(())) => {}
            Err(()) => return Reply::new(out, sess.resp3).error(ERR_IN_PROGRESS),
            Ok(Err(_)) => return Reply::new(out, sess.resp3).error(ERR_SAVE),
        }
    }
    let path = {
        let cfg = sess.shard.config.borrow();
        std::path::Path::new(&cfg.dir).join(&cfg.persist.dbfilename)
    };
    let results =
        coordinator::broadcast_locked_in(&sess.shard, sess.tx, move |sh| reload_here(sh, &path, merge, flush)).await;
    if let Some(e) = results.into_iter().find_map(|r| r.err()) {
        crate::server::log::warning(&format!("Error loading the RDB dump: {}", e));
        return Reply::new(out, sess.resp3).error(ERR_RELOAD_LOAD);
    }
    Reply::new(out, sess.resp3).ok();
}

/// One shard's part of DEBUG RELOAD (all shards locked).
fn reload_here(sh: &Rc<Shard>, path: &std::path::Path, merge: bool, flush: bool) -> Result<(), String> {
    if flush {
        let all: Vec<usize> = (0..sh.ks.borrow().dbs.len()).collect();
        crate::command::keys::touch_watched_in(sh, &all);
        crate::shard::tracking::on_flush(sh);
        {
            let mut ks = sh.ks.borrow_mut();
            for &i in &all {
                ks.db(i).clear();
            }
        }
        sh.evict.borrow_mut().clear();
        if sh.id == 0 {
            let mut out = Vec::new();
            crate::script::engine::Engine::with(|e| e.function_command(&[b"FUNCTION", b"FLUSH"], false, &mut out));
        }
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    load(sh, std::io::BufReader::with_capacity(1 << 20, file), false, merge)?;
    Ok(())
}
