//! MEMORY: USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP, as Redis
//! 7.4 answers them, from Spindle's own figures: the allocator's exact
//! count (`crate::memory`), each shard's tables and clients, mimalloc's
//! process figures. Fields with no Spindle counterpart (replication
//! backlog, replica buffers, cluster links, AOF buffer) are 0, their true
//! value here.
//!
//! USAGE runs on the key's shard; the others gather every shard's part.

use std::ffi::{c_char, c_void, CStr};
use std::rc::Rc;

use super::args::parse_i64;
use super::{errors as err, Args, Session};
use crate::protocol::Reply;
use crate::shard::coordinator;
use crate::shard::slot::key_shard;
use crate::shard::Shard;
use crate::storage::Value;
use crate::util::now_ms;

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Print this help.",
];

/// Elements MEMORY USAGE measures by default (Redis's
/// OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const DEFAULT_SAMPLES: usize = 5;

/// `MEMORY <subcommand> ...`: the reply into `out`.
pub async fn cmd_memory(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let shard = sess.shard.clone();
    // Names and arities were checked at dispatch.
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    match sub.as_str() {
        "help" => super::connection::reply_help(&mut Reply::new(out, resp3), HELP),
        "usage" => {
            let samples = match parse_samples(args) {
                Ok(n) => n,
                Err(e) => return Reply::new(out, resp3).error(e),
            };
            let key = args.get(2).to_vec();
            let db = sess.db;
            let target = key_shard(&key, shard.count);
            let n = coordinator::run_on_in(&shard, sess.tx, target, move |sh| op_usage(sh, db, &key, samples)).await;
            let mut r = Reply::new(out, resp3);
            match n {
                Some(n) => r.int(n as i64),
                None => r.null(),
            }
        }
        "stats" => {
            let o = overhead(coordinator::broadcast_in(&shard, sess.tx, shard_part).await);
            stats_reply(&o, &mut Reply::new(out, resp3));
        }
        "doctor" => {
            let o = overhead(coordinator::broadcast_in(&shard, sess.tx, shard_part).await);
            Reply::new(out, resp3).verbatim(doctor_report(&o).as_bytes());
        }
        "malloc-stats" => Reply::new(out, resp3).verbatim(malloc_stats().as_bytes()),
        "purge" => {
            // Every shard thread has its own heap: each frees its own.
            coordinator::broadcast_in(&shard, sess.tx, |_| purge_this_thread()).await;
            Reply::new(out, resp3).ok();
        }
        _ => Reply::new(out, resp3).error_bytes(&err::unknown_subcommand(args.get(1), "memory")),
    }
}

/// `[SAMPLES count]` after the key: the elements to measure (0: all).
fn parse_samples(args: &Args) -> Result<usize, &'static str> {
    let mut samples = DEFAULT_SAMPLES;
    let mut i = 3;
    while i < args.len() {
        if args.is(i, "samples") && i + 1 < args.len() {
            samples = match parse_i64(args.get(i + 1)) {
                None => return Err(err::NOT_INTEGER),
                Some(n) if n < 0 => return Err(err::SYNTAX),
                Some(0) => usize::MAX,
                Some(n) => n as usize,
            };
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok(samples)
}

/// Bytes of `key` in `db` on this shard: its table slot, the key and the
/// value, a big collection's elements estimated from `samples` of them.
/// None when the key does not exist.
pub fn op_usage(sh: &Shard, db: usize, key: &[u8], samples: usize) -> Option<usize> {
    let mut ks = sh.ks.borrow_mut();
    let e = ks.dbs[db].lookup(key, now_ms())?;
    // The table slot (key pointer, entry) plus the key's allocation.
    let slot = std::mem::size_of::<Box<[u8]>>() + std::mem::size_of::<crate::storage::Entry>() + 1;
    Some(slot + key.len().next_multiple_of(8) + value_usage(&e.value, samples))
}

/// [`Value::memory_usage`] with collections sampled.
fn value_usage(v: &Value, samples: usize) -> usize {
    use crate::storage::{hash::Hash, list::List, set::Set, zset::ZSet};
    use std::mem::size_of;
    match v {
        Value::List(l) => size_of::<Value>() + size_of::<List>() + l.heap_bytes_sampled(samples),
        Value::Hash(h) => size_of::<Value>() + size_of::<Hash>() + h.heap_bytes_sampled(samples),
        Value::Set(s) => size_of::<Value>() + size_of::<Set>() + s.heap_bytes_sampled(samples),
        Value::ZSet(z) => size_of::<Value>() + size_of::<ZSet>() + z.heap_bytes_sampled(samples),
        _ => v.memory_usage(),
    }
}

/// What one shard contributes to MEMORY STATS and DOCTOR.
pub struct ShardPart {
    /// Per database: (keys, volatile keys, table bytes, expiry bookkeeping).
    dbs: Vec<(usize, usize, usize, usize)>,
    /// Clients of this shard and the bytes of their buffers (CLIENT LIST's
    /// tot-mem).
    clients: usize,
    clients_mem: usize,
}

fn shard_part(sh: &Rc<Shard>) -> ShardPart {
    let ks = sh.ks.borrow();
    let dbs = ks
        .dbs
        .iter()
        .map(|d| {
            let (main, expires) = d.table_bytes();
            (d.len(), d.volatile(), main, expires)
        })
        .collect();
    let clients = sh.clients.borrow();
    let clients_mem = clients
        .values()
        .map(|c| c.qbuf_cap.get() + c.obuf_cap.get() + c.push.borrow().capacity() + c.argv_mem.get())
        .sum();
    ShardPart {
        dbs,
        clients: clients.len(),
        clients_mem,
    }
}

/// Redis's redisMemOverhead, from Spindle's figures.
struct Overhead {
    peak: u64,
    total: u64,
    startup: u64,
    clients_normal: u64,
    clients: u64,
    lua_caches: u64,
    functions_caches: u64,
    cached_scripts: usize,
    /// (db, overhead.hashtable.main, overhead.hashtable.expires), for the
    /// databases holding keys.
    dbs: Vec<(usize, u64, u64)>,
    lut: u64,
    overhead_total: u64,
    keys: u64,
    bytes_per_key: u64,
    dataset: u64,
    dataset_perc: f32,
    peak_perc: f32,
    allocated: u64,
    active: u64,
    resident: u64,
    rss: u64,
}

fn overhead(parts: Vec<ShardPart>) -> Overhead {
    let total = crate::memory::used();
    let peak = crate::memory::peak().max(total);
    let startup = crate::memory::startup();
    let sc = crate::script::engine::stats();
    let clients_normal: u64 = parts.iter().map(|p| p.clients_mem as u64).sum();
    let clients: u64 = parts.iter().map(|p| p.clients as u64).sum();
    let ndbs = parts.iter().map(|p| p.dbs.len()).max().unwrap_or(0);
    let mut dbs = Vec::new();
    let (mut keys, mut lut) = (0u64, 0u64);
    let mut overhead_total = startup + clients_normal + sc.scripts_bytes as u64;
    for db in 0..ndbs {
        let (mut n, mut main, mut exp) = (0u64, 0u64, 0u64);
        for p in &parts {
            if let Some(&(k, _, m, e)) = p.dbs.get(db) {
                n += k as u64;
                main += m as u64;
                exp += e as u64;
            }
        }
        if n == 0 {
            continue;
        }
        keys += n;
        lut += main;
        overhead_total += main + exp;
        dbs.push((db, main, exp));
    }
    let dataset = total.saturating_sub(overhead_total);
    let net = if total > startup { total - startup } else { 1 };
    let (active, rss) = (
        crate::command::server::allocator_committed(),
        crate::command::server::rss_bytes(),
    );
    Overhead {
        peak,
        total,
        startup,
        clients_normal,
        clients,
        lua_caches: sc.scripts_bytes as u64,
        functions_caches: 0,
        cached_scripts: sc.cached_scripts,
        dbs,
        lut,
        overhead_total,
        keys,
        bytes_per_key: dataset.checked_div(keys).unwrap_or(0),
        dataset,
        dataset_perc: dataset as f32 * 100.0 / net as f32,
        peak_perc: total as f32 * 100.0 / peak.max(1) as f32,
        allocated: total,
        active,
        // mimalloc has no separate resident figure: the process's RSS.
        resident: rss,
        rss,
    }
}

fn ratio(a: u64, b: u64) -> f32 {
    if b == 0 {
        0.0
    } else {
        a as f32 / b as f32
    }
}

/// Redis prints these figures from C floats.
fn float(r: &mut Reply, v: f32) {
    r.double(v as f64)
}

fn stats_reply(o: &Overhead, r: &mut Reply) {
    r.map_len(31 + o.dbs.len());
    let int = |r: &mut Reply, name: &str, v: u64| {
        r.bulk(name.as_bytes());
        r.int(v as i64);
    };
    int(r, "peak.allocated", o.peak);
    int(r, "total.allocated", o.total);
    int(r, "startup.allocated", o.startup);
    int(r, "replication.backlog", 0);
    int(r, "clients.slaves", 0);
    int(r, "clients.normal", o.clients_normal);
    int(r, "cluster.links", 0);
    int(r, "aof.buffer", 0);
    int(r, "lua.caches", o.lua_caches);
    int(r, "functions.caches", o.functions_caches);
    for &(db, main, exp) in &o.dbs {
        r.bulk(format!("db.{db}").as_bytes());
        r.map_len(2);
        int(r, "overhead.hashtable.main", main);
        int(r, "overhead.hashtable.expires", exp);
    }
    int(r, "overhead.db.hashtable.lut", o.lut);
    // Tables grow in one step: none is ever half rehashed.
    int(r, "overhead.db.hashtable.rehashing", 0);
    int(r, "overhead.total", o.overhead_total);
    int(r, "db.dict.rehashing.count", 0);
    int(r, "keys.count", o.keys);
    int(r, "keys.bytes-per-key", o.bytes_per_key);
    int(r, "dataset.bytes", o.dataset);
    r.bulk(b"dataset.percentage");
    float(r, o.dataset_perc);
    r.bulk(b"peak.percentage");
    float(r, o.peak_perc);
    int(r, "allocator.allocated", o.allocated);
    int(r, "allocator.active", o.active);
    int(r, "allocator.resident", o.resident);
    int(r, "allocator.muzzy", 0);
    r.bulk(b"allocator-fragmentation.ratio");
    float(r, ratio(o.active, o.allocated));
    int(r, "allocator-fragmentation.bytes", o.active.saturating_sub(o.allocated));
    r.bulk(b"allocator-rss.ratio");
    float(r, ratio(o.resident, o.active));
    int(r, "allocator-rss.bytes", o.resident.saturating_sub(o.active));
    r.bulk(b"rss-overhead.ratio");
    float(r, ratio(o.rss, o.resident));
    int(r, "rss-overhead.bytes", o.rss.saturating_sub(o.resident));
    r.bulk(b"fragmentation");
    float(r, ratio(o.rss, o.total));
    r.bulk(b"fragmentation.bytes");
    r.int(o.rss as i64 - o.total as i64);
}

const DOCTOR_FINE: &str =
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n";
const DOCTOR_EMPTY: &str = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
const DOCTOR_HEAD: &str = "Sam, I detected a few issues in this Redis instance memory implants:\n\n";
const DOCTOR_TAIL: &str = "I'm here to keep you safe, Sam. I want to help you.\n";
const DOCTOR_PEAK: &str = " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n";
const DOCTOR_FRAG: &str = " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"mimalloc\".\n\n";
const DOCTOR_ALLOC_FRAG: &str = " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n";
const DOCTOR_ALLOC_RSS: &str = " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n";
const DOCTOR_PROC_RSS: &str = " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n";
const DOCTOR_CLIENT_BUF: &str = " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n";
const DOCTOR_SCRIPTS: &str = " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n";

/// MEMORY DOCTOR's text: Redis's checks on the same figures as STATS.
fn doctor_report(o: &Overhead) -> String {
    const TEN_MB: u64 = 10 << 20;
    if o.total < 5 * 1024 * 1024 {
        return DOCTOR_EMPTY.to_string();
    }
    let (alloc_frag, alloc_rss, proc_rss) = (
        ratio(o.active, o.allocated),
        ratio(o.resident, o.active),
        ratio(o.rss, o.resident),
    );
    let found = [
        (ratio(o.peak, o.total) > 1.5, DOCTOR_PEAK),
        (
            ratio(o.rss, o.total) > 1.4 && o.rss.saturating_sub(o.total) > TEN_MB,
            DOCTOR_FRAG,
        ),
        (
            alloc_frag > 1.1 && o.active.saturating_sub(o.allocated) > TEN_MB,
            DOCTOR_ALLOC_FRAG,
        ),
        (
            alloc_rss > 1.1 && o.resident.saturating_sub(o.active) > TEN_MB,
            DOCTOR_ALLOC_RSS,
        ),
        (
            proc_rss > 1.1 && o.rss.saturating_sub(o.resident) > TEN_MB,
            DOCTOR_PROC_RSS,
        ),
        (
            o.clients > 0 && o.clients_normal / o.clients > 200 * 1024,
            DOCTOR_CLIENT_BUF,
        ),
        (o.cached_scripts > 1000, DOCTOR_SCRIPTS),
    ];
    if !found.iter().any(|f| f.0) {
        return DOCTOR_FINE.to_string();
    }
    let mut s = String::from(DOCTOR_HEAD);
    for (_, text) in found.iter().filter(|f| f.0) {
        s.push_str(text);
    }
    s.push_str(DOCTOR_TAIL);
    s
}

/// mimalloc's statistics report (mi_stats_print_out), as text.
fn malloc_stats() -> String {
    unsafe extern "C" fn collect(msg: *const c_char, arg: *mut c_void) {
        // SAFETY: `arg` is the String passed below, `msg` a C string.
        let (out, msg) = unsafe { (&mut *(arg as *mut String), CStr::from_ptr(msg)) };
        out.push_str(&msg.to_string_lossy());
    }
    let mut text = String::new();
    // SAFETY: the callback only appends to `text`, which outlives the call.
    unsafe { libmimalloc_sys::mi_stats_print_out(Some(collect), &mut text as *mut String as *mut c_void) };
    text
}

/// Returns this thread's free pages to the system (MEMORY PURGE).
pub fn purge_this_thread() {
    // SAFETY: mi_collect only walks the calling thread's heap.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// A piece of MEMORY work for one shard (the synchronous form, for
/// scripts).
pub enum Job {
    Usage { db: usize, key: Vec<u8>, samples: usize },
    Part,
    Purge,
}

/// What a [`Job`] gave.
pub enum Done {
    Usage(Option<usize>),
    Part(ShardPart),
    Nothing,
}

/// Runs `job` on `sh`.
pub fn run_job(sh: &Rc<Shard>, job: Job) -> Done {
    match job {
        Job::Usage { db, key, samples } => Done::Usage(op_usage(sh, db, &key, samples)),
        Job::Part => Done::Part(shard_part(sh)),
        Job::Purge => {
            purge_this_thread();
            Done::Nothing
        }
    }
}

/// MEMORY for a script: `on(shard, job)` runs a job on that shard and
/// returns what it gave. `shards` is the number of shards.
pub fn cmd_memory_sync(
    args: &Args,
    db: usize,
    shards: usize,
    resp3: bool,
    out: &mut Vec<u8>,
    mut on: impl FnMut(usize, Job) -> Done,
) {
    let mut r = Reply::new(out, resp3);
    let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
    let parts = |on: &mut dyn FnMut(usize, Job) -> Done| -> Vec<ShardPart> {
        (0..shards)
            .filter_map(|s| match on(s, Job::Part) {
                Done::Part(p) => Some(p),
                _ => None,
            })
            .collect()
    };
    match sub.as_str() {
        "help" => super::connection::reply_help(&mut r, HELP),
        "usage" => {
            let samples = match parse_samples(args) {
                Ok(n) => n,
                Err(e) => return r.error(e),
            };
            let key = args.get(2).to_vec();
            let target = key_shard(&key, shards);
            match on(target, Job::Usage { db, key, samples }) {
                Done::Usage(Some(n)) => r.int(n as i64),
                _ => r.null(),
            }
        }
        "stats" => stats_reply(&overhead(parts(&mut on)), &mut r),
        "doctor" => r.verbatim(doctor_report(&overhead(parts(&mut on))).as_bytes()),
        "malloc-stats" => r.verbatim(malloc_stats().as_bytes()),
        "purge" => {
            for s in 0..shards {
                on(s, Job::Purge);
            }
            r.ok();
        }
        _ => r.error_bytes(&err::unknown_subcommand(args.get(1), "memory")),
    }
}

/// Whether MEMORY `args` run by a script on shard `me` needs other shards.
pub fn reaches_beyond(args: &Args, me: usize, shards: usize) -> bool {
    if args.is(1, "help") {
        return false;
    }
    if args.is(1, "usage") {
        return key_shard(args.get(2), shards) != me;
    }
    shards > 1
}
