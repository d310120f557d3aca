//! Server family: TIME, INFO, CONFIG, DEBUG, COMMAND, SHUTDOWN.

use std::fmt::Write as _;

use super::connection::{reply_help, REDIS_VERSION};
use super::errors as err;
use super::flags;
use super::keyspecs;
use super::table::{lookup, CommandSpec, SubSpec, TABLE};
use super::{Args, Ctx, Session};
use crate::config::{Config, Mutability};
use crate::protocol::Reply;
use std::rc::Rc;

use crate::shard::{coordinator, Shard, Stats, TxId, CONNECTED_CLIENTS, SERVER_INFO};
use crate::util::{glob_match, human_bytes, now_ms, now_us};

/// `TIME` → [unix seconds, microseconds] as bulk strings.
pub fn cmd_time(ctx: &mut Ctx, _args: &Args) {
    let us = now_us();
    ctx.out.array_len(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
}

// ---------------------------------------------------------------- INFO

/// What each shard contributes to INFO.
struct ShardReport {
    stats: Stats,
    rates: [f64; 3],
    expired: u64,
    /// Hash fields expired (lazily or actively).
    expired_fields: u64,
    /// (db, keys, volatile keys, hashes with field TTLs)
    keyspace: Vec<(usize, usize, usize, usize)>,
    clients: usize,
    /// Memory of the shard's clients (mem_clients_normal).
    clients_mem: u64,
    max_qbuf: usize,
    max_obuf: usize,
    blocked: usize,
    blocking_keys: usize,
    blocking_keys_on_nokey: usize,
    /// Bytes of this shard's Lua VMs: (eval, functions).
    lua: (usize, usize),
    /// Owned channels, patterns (replica: every shard knows all), owned
    /// shard channels; clients with subscriptions.
    pubsub: [usize; 3],
    pubsub_clients: usize,
    /// Tracked keys and items of this shard, prefixes (replica), tracking
    /// clients of this shard.
    tracking: (usize, usize, usize),
    tracking_clients: usize,
    /// Clients of this shard under WATCH, and their watched keys.
    watching: usize,
    watched_keys: Vec<(usize, Vec<u8>)>,
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

fn rusage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut ru);
        let sys = ru.ru_stime.tv_sec as f64 + ru.ru_stime.tv_usec as f64 / 1e6;
        let user = ru.ru_utime.tv_sec as f64 + ru.ru_utime.tv_usec as f64 / 1e6;
        (sys, user)
    }
}

pub(crate) fn rss_bytes() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map(|p| p * page)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// Bytes the allocator has committed for the process (mimalloc's count).
/// Bytes mimalloc has committed (INFO allocator_active).
pub(crate) fn allocator_committed() -> u64 {
    let (mut elapsed, mut user, mut sys) = (0usize, 0usize, 0usize);
    let (mut rss, mut peak_rss, mut commit, mut peak_commit, mut faults) = (0usize, 0usize, 0usize, 0usize, 0usize);
    // SAFETY: mi_process_info only writes through the pointers given.
    unsafe {
        libmimalloc_sys::mi_process_info(
            &mut elapsed,
            &mut user,
            &mut sys,
            &mut rss,
            &mut peak_rss,
            &mut commit,
            &mut peak_commit,
            &mut faults,
        );
    }
    commit as u64
}

/// INFO's view of the server: every shard's report and their sums.
pub(crate) struct Gathered {
    reports: Vec<ShardReport>,
    /// Counters summed over shards (per-command histograms merged when
    /// asked for).
    pub stats: Stats,
    pub expired: u64,
    pub expired_fields: u64,
    /// Per database: (keys, volatile keys, hashes with field TTLs).
    pub keyspace: Vec<(usize, usize, usize)>,
    pub max_qbuf: usize,
    pub max_obuf: usize,
    /// Clients registered on the shards.
    pub connected: usize,
    /// Blocked clients (and clients held by CLIENT PAUSE).
    pub blocked: usize,
    pub rates: [f64; 3],
}

/// Gathers INFO's counters from every shard (from inside transaction `tx`,
/// 0: none); `want_hists` copies the per-command latency histograms too.
/// INFO and the Prometheus endpoint (`server::metrics`) share it.
pub(crate) async fn gather(shard: &Rc<Shard>, tx: TxId, want_hists: bool) -> Gathered {
    let reports = coordinator::broadcast_in(shard, tx, move |sh| {
        sh.drain_counters();
        let ks = sh.ks.borrow();
        let keyspace = ks
            .dbs
            .iter()
            .enumerate()
            .map(|(i, d)| (i, d.len(), d.volatile(), d.hash_ttl_keys()))
            .collect();
        let clients_mem = crate::shard::client_evict::refresh(sh);
        let clients = sh.clients.borrow();
        let stats = sh.stats.borrow_mut().snapshot(want_hists);
        ShardReport {
            stats,
            rates: sh.rates.borrow().current(),
            expired: sh.expired_keys(),
            expired_fields: crate::storage::hash::EXPIRED_FIELDS.with(|c| c.get()),
            keyspace,
            clients: clients.len(),
            clients_mem,
            max_qbuf: clients.values().map(|c| c.qbuf.get()).max().unwrap_or(0),
            max_obuf: clients.values().map(|c| c.obuf.get()).max().unwrap_or(0),
            blocked: sh.blocking.borrow().blocked_clients + sh.pause.held.get(),
            blocking_keys: sh.blocking.borrow().blocking_keys(),
            blocking_keys_on_nokey: sh.blocking.borrow().blocking_keys_on_nokey(),
            lua: crate::script::Engine::with(|e| e.lua_memory()),
            pubsub: {
                let ps = sh.pubsub.borrow();
                let [ch, sch] = ps.owned_counts();
                [ch, ps.pattern_count(), sch]
            },
            pubsub_clients: clients.values().filter(|c| c.subs.borrow().total() > 0).count(),
            tracking: sh.tracking.borrow().totals(),
            tracking_clients: sh.tracking.borrow().clients_of(sh.id),
            watching: clients.values().filter(|c| !c.watched.borrow().is_empty()).count(),
            watched_keys: clients.values().flat_map(|c| c.watched.borrow().clone()).collect(),
        }
    })
    .await;
    let mut stats = Stats::default();
    let mut expired = 0;
    let mut expired_fields = 0;
    let mut keyspace: Vec<(usize, usize, usize)> = Vec::new();
    let (mut max_qbuf, mut max_obuf) = (0, 0);
    for r in &reports {
        stats.merge(&r.stats);
        expired += r.expired;
        expired_fields += r.expired_fields;
        max_qbuf = max_qbuf.max(r.max_qbuf);
        max_obuf = max_obuf.max(r.max_obuf);
        for &(db, keys, vol, sub) in &r.keyspace {
            if keyspace.len() <= db {
                keyspace.resize(db + 1, (0, 0, 0));
            }
            keyspace[db].0 += keys;
            keyspace[db].1 += vol;
            keyspace[db].2 += sub;
        }
    }
    let connected: usize = reports.iter().map(|r| r.clients).sum();
    let mut rates = [0.0f64; 3];
    for r in &reports {
        for k in 0..3 {
            rates[k] += r.rates[k];
        }
    }
    let blocked = reports.iter().map(|r| r.blocked).sum();
    Gathered {
        reports,
        stats,
        expired,
        expired_fields,
        keyspace,
        max_qbuf,
        max_obuf,
        connected,
        blocked,
        rates,
    }
}

/// `INFO [section ...]` → a verbatim text of `field:value` lines.
pub async fn cmd_info(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let mut wanted: Vec<String> = Vec::new();
    for a in args.iter().skip(1) {
        wanted.push(String::from_utf8_lossy(a).to_ascii_lowercase());
    }
    let mut sections: Vec<&str> = Vec::new();
    let mut everything = false;
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        sections.extend(DEFAULT_SECTIONS);
    }
    for w in &wanted {
        match w.as_str() {
            "all" => sections.extend(ALL_SECTIONS),
            "everything" => {
                everything = true;
                sections.extend(ALL_SECTIONS)
            }
            "default" => {}
            other => {
                if let Some(s) = ALL_SECTIONS.iter().find(|s| **s == other) {
                    sections.push(s)
                }
            }
        }
    }
    let _ = everything;
    // Read before gathering the reports, whose copies are not the server's.
    let (used, peak) = (crate::memory::used(), crate::memory::peak());
    let shard = sess.shard.clone();
    let want_hists = sections.contains(&"latencystats");
    let Gathered {
        reports,
        stats,
        expired,
        expired_fields,
        keyspace,
        max_qbuf,
        max_obuf,
        connected,
        rates,
        ..
    } = gather(&shard, sess.tx, want_hists).await;
    let cfg = shard.config.borrow().clone();
    let info = SERVER_INFO.get();
    let now = now_ms();
    let mut text = String::new();
    let mut seen = Vec::new();
    for s in sections {
        if seen.contains(&s) {
            continue;
        }
        seen.push(s);
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        match s {
            "server" => {
                let uptime = info.map_or(0, |i| now.saturating_sub(i.start_ms) / 1000);
                let _ = write!(
                    text,
                    "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nspindle_version:{}\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:io_uring\r\natomicvar_api:c11-builtin\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nshards:{}\r\n",
                    REDIS_VERSION,
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::OS,
                    std::env::consts::ARCH,
                    std::process::id(),
                    info.map_or("", |i| i.run_id.as_str()),
                    cfg.port,
                    now_us(),
                    uptime,
                    uptime / 86400,
                    cfg.hz,
                    cfg.hz,
                    (now / 1000) & ((1 << 24) - 1),
                    info.map_or("", |i| i.executable.as_str()),
                    info.map_or("", |i| i.config_file.as_str()),
                    shard.count,
                );
            }
            "clients" => {
                let _ = write!(
                    text,
                    "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:{}\r\nclient_recent_max_output_buffer:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\npubsub_clients:{}\r\nwatching_clients:{}\r\nclients_in_timeout_table:0\r\ntotal_watched_keys:{}\r\ntotal_blocking_keys:{}\r\ntotal_blocking_keys_on_nokey:{}\r\n",
                    connected.max(CONNECTED_CLIENTS.load(std::sync::atomic::Ordering::Relaxed) as usize),
                    cfg.maxclients,
                    max_qbuf,
                    max_obuf,
                    reports.iter().map(|r| r.blocked).sum::<usize>(),
                    reports.iter().map(|r| r.tracking_clients).sum::<usize>(),
                    reports.iter().map(|r| r.pubsub_clients).sum::<usize>(),
                    reports.iter().map(|r| r.watching).sum::<usize>(),
                    {
                        let mut keys: Vec<&(usize, Vec<u8>)> =
                            reports.iter().flat_map(|r| r.watched_keys.iter()).collect();
                        keys.sort();
                        keys.dedup();
                        keys.len()
                    },
                    reports.iter().map(|r| r.blocking_keys).sum::<usize>(),
                    reports.iter().map(|r| r.blocking_keys_on_nokey).sum::<usize>(),
                );
            }
            "memory" => {
                let rss = rss_bytes();
                let sys = total_system_memory();
                let startup = crate::memory::startup();
                let committed = allocator_committed();
                let mem = cfg.memory;
                let pct = |a: u64, b: u64| if b > 0 { a as f64 * 100.0 / b as f64 } else { 0.0 };
                let _ = write!(
                    text,
                    "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{committed}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{sys}\r\ntotal_system_memory_human:{}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:{}\r\nmem_aof_buffer:0\r\nmem_allocator:mimalloc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n",
                    human_bytes(used),
                    human_bytes(rss),
                    human_bytes(peak),
                    pct(used, peak),
                    used.saturating_sub(startup),
                    pct(used.saturating_sub(startup), used),
                    human_bytes(sys),
                    mem.maxmemory,
                    human_bytes(mem.maxmemory),
                    mem.policy.name(),
                    if used > 0 { committed as f64 / used as f64 } else { 0.0 },
                    committed as i64 - used as i64,
                    if used > 0 { rss as f64 / used as f64 } else { 0.0 },
                    rss as i64 - used as i64,
                    reports.iter().map(|r| r.clients_mem).sum::<u64>(),
                    crate::storage::lazyfree::pending(),
                    crate::storage::lazyfree::freed(),
                );
                let sc = crate::script::engine::stats();
                let vm_eval: usize = reports.iter().map(|r| r.lua.0).sum();
                let vm_func: usize = reports.iter().map(|r| r.lua.1).sum();
                let _ = write!(
                    text,
                    "used_memory_lua:{}\r\nused_memory_vm_eval:{}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{}\r\nused_memory_vm_total:{}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{}\r\nused_memory_scripts:{}\r\nused_memory_scripts_human:{}\r\n",
                    vm_eval,
                    vm_eval,
                    human_bytes(vm_eval as u64),
                    sc.scripts_bytes,
                    sc.cached_scripts,
                    sc.functions,
                    sc.libraries,
                    vm_func,
                    vm_eval + vm_func,
                    human_bytes((vm_eval + vm_func) as u64),
                    0,
                    sc.scripts_bytes,
                    human_bytes(sc.scripts_bytes as u64),
                );
            }
            "persistence" => {
                let _ = write!(text, "# Persistence\r\nloading:0\r\nasync_loading:0\r\n");
                let unsaved: u64 =
                    crate::shard::coordinator::broadcast(&sess.shard, |sh| crate::persist::snapshot::unsaved(sh))
                        .await
                        .iter()
                        .sum();
                crate::persist::snapshot::info_fields(&mut text, unsaved);
                let aof_on = sess.shard.config.borrow().aof.enabled;
                crate::persist::aof::info_fields(&mut text, aof_on);
            }
            "stats" => {
                let _ = write!(
                    text,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nexpired_subkeys:{}\r\nevicted_keys:{}\r\nevicted_clients:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\n",
                    stats.total_connections,
                    stats.total_commands,
                    rates[0].round() as u64,
                    stats.net_input,
                    stats.net_output,
                    rates[1] / 1024.0,
                    rates[2] / 1024.0,
                    stats.rejected_connections,
                    expired,
                    expired_fields,
                    stats.evicted_keys,
                    stats.evicted_clients,
                    stats.keyspace_hits,
                    stats.keyspace_misses,
                    reports.iter().map(|r| r.pubsub[0]).sum::<usize>(),
                    reports[0].pubsub[1],
                    reports.iter().map(|r| r.pubsub[2]).sum::<usize>(),
                    reports.iter().map(|r| r.tracking.0).sum::<usize>(),
                    reports.iter().map(|r| r.tracking.1).sum::<usize>(),
                    reports[0].tracking.2,
                    stats.error_replies,
                );
                // Fields of Redis 7.4 whose truth here is a constant (no
                // replication, forks, defragmentation or I/O threads).
                let _ = write!(
                    text,
                    "total_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\nunexpected_error_replies:0\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n",
                    stats.reads_processed, stats.writes_processed,
                );
                // ACL denials, at the end of the section as in Redis.
                let d = &stats.acl_denied;
                let _ = write!(
                    text,
                    "acl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\nacl_access_denied_key:{}\r\nacl_access_denied_channel:{}\r\n",
                    d[3], d[0], d[1], d[2]
                );
            }
            "replication" => {
                let _ = write!(
                    text,
                    "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_repl_offset:0\r\nrepl_backlog_active:0\r\n",
                    info.map_or("", |i| i.run_id.as_str()),
                );
            }
            "cpu" => {
                let (sys, user) = rusage(libc::RUSAGE_SELF);
                // The connection's shard thread stands for Redis's main thread.
                let (tsys, tuser) = rusage(libc::RUSAGE_THREAD);
                let _ = write!(
                    text,
                    "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{:.6}\r\nused_cpu_user_main_thread:{:.6}\r\n",
                    sys, user, tsys, tuser
                );
            }
            "modules" => text.push_str("# Modules\r\n"),
            "commandstats" => {
                text.push_str("# Commandstats\r\n");
                for (i, c) in stats.commands.iter().enumerate() {
                    if c.calls == 0 && c.failed == 0 && c.rejected == 0 {
                        continue;
                    }
                    let usec = c.nsec / 1000;
                    let per = if c.calls > 0 { usec as f64 / c.calls as f64 } else { 0.0 };
                    let _ = write!(
                        text,
                        "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                        super::observe::slot_name(i),
                        c.calls,
                        usec,
                        per,
                        c.rejected,
                        c.failed
                    );
                }
            }
            "errorstats" => {
                text.push_str("# Errorstats\r\n");
                let mut errs: Vec<_> = stats.errors.iter().collect();
                errs.sort();
                for (code, n) in errs {
                    let _ = write!(text, "errorstat_{}:count={}\r\n", code, n);
                }
            }
            "latencystats" => {
                text.push_str("# Latencystats\r\n");
                if cfg.latency_tracking {
                    let hists: Vec<_> = stats.commands.iter().map(|c| c.hist.clone()).collect();
                    super::observe::latencystats_lines(&mut text, &hists, &cfg.latency_tracking_info_percentiles);
                }
            }
            "cluster" => text.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "keyspace" => {
                text.push_str("# Keyspace\r\n");
                for (db, &(keys, vol, sub)) in keyspace.iter().enumerate() {
                    if keys > 0 {
                        let _ = write!(
                            text,
                            "db{}:keys={},expires={},avg_ttl=0,subexpiry={}\r\n",
                            db, keys, vol, sub
                        );
                    }
                }
            }
            _ => {}
        }
    }
    Reply::new(out, sess.resp3).verbatim(text.as_bytes());
}

// ---------------------------------------------------------------- CONFIG

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Print this help.",
];

/// `CONFIG GET|SET|RESETSTAT|HELP ...`
pub async fn cmd_config(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"get" if args.len() >= 3 => {
            let cfg = sess.shard.config.borrow().clone();
            // An exact name is echoed as typed; a glob reports canonical names.
            let mut pairs: Vec<(Vec<u8>, &str)> = Vec::new();
            for pat in args.iter().skip(2) {
                let is_glob = pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
                for name in Config::all_names() {
                    let hit = if is_glob {
                        glob_match(pat, name.as_bytes(), true)
                    } else {
                        std::str::from_utf8(pat)
                            .ok()
                            .and_then(Config::param)
                            .is_some_and(|p| p.name == name)
                    };
                    if hit && !pairs.iter().any(|(_, n)| *n == name) {
                        let shown = if is_glob {
                            name.as_bytes().to_vec()
                        } else {
                            pat.to_vec()
                        };
                        pairs.push((shown, name));
                    }
                }
            }
            let mut r = Reply::new(out, resp3);
            r.map_len(pairs.len());
            for (shown, name) in pairs {
                r.bulk(&shown);
                r.bulk(cfg.get(name).unwrap_or_default().as_bytes());
            }
        }
        b"set" if args.len() >= 4 => {
            if args.len() % 2 != 0 {
                return Reply::new(out, resp3).error(&err::arity("config|set"));
            }
            let mut changes: Vec<(String, String)> = Vec::new();
            let mut test = sess.shard.config.borrow().clone();
            for j in (2..args.len()).step_by(2) {
                let name = String::from_utf8_lossy(args.get(j)).to_ascii_lowercase();
                let value = String::from_utf8_lossy(args.get(j + 1)).into_owned();
                let Some(param) = Config::param(&name) else {
                    let msg = err::with_arg(
                        "ERR Unknown option or number of arguments for CONFIG SET - '",
                        args.get(j),
                        "'",
                    );
                    return Reply::new(out, resp3).error_bytes(&msg);
                };
                if changes.iter().any(|(n, _)| *n == name) {
                    let msg = err::config_set_failed(&name, "duplicate parameter");
                    return Reply::new(out, resp3).error(&msg);
                }
                // Setting a start-up parameter to the value it has is a
                // no-op (CONFIG GET output fed back to CONFIG SET).
                if param.mutability == Mutability::StartupOnly && test.get(param.name).as_deref() == Some(&value) {
                    changes.push((param.name.to_string(), value));
                    continue;
                }
                if param.mutability == Mutability::StartupOnly {
                    let msg = err::config_set_failed(&name, "can't set immutable config");
                    return Reply::new(out, resp3).error(&msg);
                }
                if let Err(e) = test.set(param.name, &value) {
                    let msg = err::config_set_failed(&name, &e);
                    return Reply::new(out, resp3).error(&msg);
                }
                changes.push((param.name.to_string(), value));
            }
            let aof_before = sess.shard.config.borrow().aof.clone();
            if let Err(e) = crate::persist::aof::switch(&sess.shard, sess.tx, &aof_before, &test.aof).await {
                return Reply::new(out, resp3).error(&err::config_set_failed("appendonly", &e));
            }
            let changed_limits = changes
                .iter()
                .any(|(n, _)| n == "maxmemory-clients" || n == "maxmemory");
            coordinator::broadcast_in(&sess.shard, sess.tx, move |sh| {
                let mut cfg = sh.config.borrow_mut();
                for (n, v) in &changes {
                    // Validated above on a copy; cannot fail here.
                    let _ = cfg.set(n, v);
                }
                crate::command::notify::set_flags(cfg.notify_keyspace_events);
                crate::command::observe::apply_config(&cfg);
                crate::shard::client_evict::apply_config(&cfg);
                drop(cfg);
                if changes.iter().any(|(n, _)| n == "requirepass") {
                    crate::command::acl::apply_requirepass(sh);
                }
                crate::shard::tracking::enforce_limit(sh);
                // A lower maxmemory evicts now, a policy applies at once.
                crate::shard::evict::tick(sh);
                crate::command::publish_events(sh);
            })
            .await;
            // A lower maxmemory-clients (or maxmemory, for a percentage)
            // evicts clients before the reply, as Redis does before its next
            // command.
            if changed_limits {
                crate::shard::client_evict::evict_exact(&sess.shard).await;
            }
            Reply::new(out, resp3).ok()
        }
        b"resetstat" if args.len() == 2 => {
            coordinator::broadcast_in(&sess.shard, sess.tx, |sh| {
                sh.drain_counters();
                let n = sh.stats.borrow().commands.len();
                let mut st = sh.stats.borrow_mut();
                *st = Stats {
                    commands: vec![Default::default(); n],
                    ..Default::default()
                };
                crate::storage::db::EXPIRED_LAZILY.with(|c| c.set(0));
                crate::storage::hash::EXPIRED_FIELDS.with(|c| c.set(0));
                crate::storage::lazyfree::reset_stats();
            })
            .await;
            Reply::new(out, resp3).ok()
        }
        b"rewrite" if args.len() == 2 => {
            let cfg = sess.shard.config.borrow().clone();
            match cfg.rewrite_file() {
                Ok(()) => Reply::new(out, resp3).ok(),
                Err(e) => Reply::new(out, resp3).error(&format!("ERR {}", e)),
            }
        }
        b"help" if args.len() == 2 => reply_help(&mut Reply::new(out, resp3), CONFIG_HELP),
        b"get" | b"set" | b"resetstat" | b"rewrite" | b"help" => {
            let msg = err::arity(&format!("config|{}", String::from_utf8_lossy(&sub)));
            Reply::new(out, resp3).error(&msg)
        }
        _ => Reply::new(out, resp3).error_bytes(&err::unknown_subcommand(args.get(1), "config")),
    }
}

// ---------------------------------------------------------------- DEBUG

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "OBJECT <key>",
    "    Show low-level info about the <key> and associated value.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Print this help.",
];

/// `DEBUG SLEEP|SET-ACTIVE-EXPIRE|OBJECT|HELP ...`
pub async fn cmd_debug(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let mode = sess.shard.config.borrow().enable_debug_command.clone();
    if mode == "no" || (mode == "local" && !sess.local) {
        return Reply::new(out, resp3).error(err::DEBUG_NOT_ALLOWED);
    }
    let sub = args.get(1).to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"help", 2) => reply_help(&mut Reply::new(out, resp3), DEBUG_HELP),
        (b"loadaof", 2) => match crate::persist::aof::debug_loadaof(&sess.shard, sess.tx).await {
            Ok(()) => Reply::new(out, resp3).ok(),
            Err(_) => Reply::new(out, resp3).error(err::AOF_LOAD_FAILED),
        },
        (b"sleep", 3) => {
            let secs = super::args::parse_f64(args.get(2)).unwrap_or(0.0);
            // Like Redis, DEBUG SLEEP blocks the server thread: here, this
            // connection's shard. Non-finite or negative: no sleep.
            if let Ok(d) = std::time::Duration::try_from_secs_f64(secs) {
                std::thread::sleep(d);
            }
            Reply::new(out, resp3).ok()
        }
        (b"set-active-expire", 3) => {
            // atoi semantics, as Redis: anything not starting with a
            // non-zero number disables.
            let on = super::args::parse_i64(args.get(2)).map_or(false, |v| v != 0);
            coordinator::broadcast_in(&sess.shard, sess.tx, move |sh| {
                sh.config.borrow_mut().active_expire_enabled = on
            })
            .await;
            Reply::new(out, resp3).ok()
        }
        (b"reload", _) => crate::persist::snapshot::cmd_debug_reload(sess, args, out).await,
        (b"protocol", 3) => debug_protocol(&mut Reply::new(out, resp3), args.get(2)),
        (b"digest", 2) => {
            let per_shard = coordinator::broadcast_in(&sess.shard, sess.tx, |sh| {
                let ks = sh.ks.borrow();
                let now = now_ms();
                ks.dbs
                    .iter()
                    .map(|db| {
                        let mut acc = [0u8; 20];
                        for slot in 0..crate::shard::slot::SLOTS {
                            db.for_each_in_slot(slot, now, |k, e| {
                                let d = crate::persist::dump::key_digest(k, &e.value, e.expire_at() != 0);
                                acc.iter_mut().zip(d).for_each(|(a, b)| *a ^= b);
                            });
                        }
                        (db.len(), acc)
                    })
                    .collect::<Vec<_>>()
            })
            .await;
            let mut fin = [0u8; 20];
            let dbs = per_shard.first().map_or(0, |v| v.len());
            for i in 0..dbs {
                if per_shard.iter().all(|v| v[i].0 == 0) {
                    continue;
                }
                crate::persist::dump::mix_digest(&mut fin, &(i as u32).to_be_bytes());
                for v in &per_shard {
                    fin.iter_mut().zip(v[i].1).for_each(|(a, b)| *a ^= b);
                }
            }
            Reply::new(out, resp3).simple(&crate::persist::dump::hex(&fin))
        }
        (b"digest-value", _) => {
            let mut digests = Vec::with_capacity(args.len() - 2);
            for k in 2..args.len() {
                let key = args.get(k).to_vec();
                let db = sess.db;
                let target = crate::shard::slot::key_shard(&key, sess.shard.count);
                let d = coordinator::run_on_in(&sess.shard, sess.tx, target, move |sh| {
                    let ks = sh.ks.borrow();
                    let mut d = [0u8; 20];
                    if let Some(e) = ks.dbs[db].peek(&key) {
                        crate::persist::dump::value_digest(&mut d, &e.value, e.expire_at() != 0);
                    }
                    d
                })
                .await;
                digests.push(crate::persist::dump::hex(&d));
            }
            let mut r = Reply::new(out, resp3);
            r.array_len(digests.len());
            for d in &digests {
                r.simple(d);
            }
        }
        (b"object", 3) => {
            let key = args.get(2).to_vec();
            let db = sess.db;
            let target = crate::shard::slot::key_shard(&key, sess.shard.count);
            let desc = coordinator::run_on_in(&sess.shard, sess.tx, target, move |sh| {
                let mut ks = sh.ks.borrow_mut();
                let now = now_ms();
                ks.db(db).lookup(&key, now).map(|e| {
                    format!(
                        "Value at:{:p} refcount:1 encoding:{} lru:{} lru_seconds_idle:{}",
                        &e.value as *const _,
                        e.value.encoding(),
                        e.access & ((1 << 24) - 1),
                        ((now / 1000) as u32).saturating_sub(e.access)
                    )
                })
            })
            .await;
            let mut r = Reply::new(out, resp3);
            match desc {
                Some(d) => r.simple(&d),
                None => r.error(err::NO_SUCH_KEY),
            }
        }
        _ => {
            let msg = err::with_arg(&format!("{} '", err::DEBUG_UNKNOWN), args.get(1), "'. Try DEBUG HELP.");
            Reply::new(out, resp3).error_bytes(&msg)
        }
    }
}

/// `DEBUG PROTOCOL <type>`: one reply of each RESP type, for client tests.
fn debug_protocol(r: &mut Reply, kind: &[u8]) {
    match kind.to_ascii_lowercase().as_slice() {
        b"string" => r.bulk(b"Hello World"),
        b"integer" => r.int(12345),
        // The value Redis sends, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        b"double" => r.double(3.141),
        b"bignum" => {
            let n = b"1234567999999999999999999999999999999";
            if r.resp3 {
                r.raw(b"(");
                r.raw(n);
                r.raw(b"\r\n");
            } else {
                r.bulk(n);
            }
        }
        b"null" => r.null(),
        b"array" => {
            r.array_len(3);
            (0..3).for_each(|i| r.int(i));
        }
        b"set" => {
            r.set_len(3);
            (0..3).for_each(|i| r.int(i));
        }
        b"map" => {
            r.map_len(3);
            for i in 0..3 {
                r.int(i);
                r.boolean(i == 1);
            }
        }
        b"attrib" => {
            if r.resp3 {
                r.raw(b"|1\r\n");
                r.bulk(b"key-popularity");
                r.array_len(2);
                r.bulk(b"key:123");
                r.int(90);
            }
            r.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !r.resp3 {
                return r.error(err::RESP2_NOT_SUPPORTED);
            }
            r.push_len(2);
            r.bulk(b"server-cpu-usage");
            r.int(42);
            r.bulk(b"Some real reply following the push reply");
        }
        b"true" => r.boolean(true),
        b"false" => r.boolean(false),
        b"verbatim" => r.verbatim(b"This is a verbatim\nstring"),
        _ => r.error(err::DEBUG_PROTOCOL_TYPE),
    }
}

// ---------------------------------------------------------------- COMMAND

fn write_flags(r: &mut Reply, f: u32, movable: bool) {
    let mut names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect();
    if movable {
        names.push("movablekeys");
    }
    r.set_len(names.len());
    for n in names {
        r.simple(n);
    }
}

fn write_sub_info(r: &mut Reply, s: &SubSpec, parent: &CommandSpec) {
    r.array_len(10);
    r.bulk(s.name.as_bytes());
    r.int(s.arity as i64);
    write_flags(r, s.flags, false);
    let has_key = parent.first_key > 0 && s.arity.unsigned_abs() as i32 > parent.first_key;
    r.int(if has_key { parent.first_key as i64 } else { 0 });
    r.int(if has_key { parent.last_key as i64 } else { 0 });
    r.int(if has_key { parent.step as i64 } else { 0 });
    let cats = s.acl_categories(parent);
    r.set_len(cats.len());
    for c in cats {
        r.simple(c);
    }
    r.set_len(0);
    r.array_len(0);
    r.array_len(0);
}

fn write_command_info(r: &mut Reply, c: &CommandSpec) {
    r.array_len(10);
    r.bulk(c.name.as_bytes());
    r.int(c.arity as i64);
    write_flags(r, c.flags, c.movable_keys());
    let hidden = c.flags & super::flags::HIDE_KEYS != 0;
    let (first, last, step) = if hidden {
        (0, 0, 0)
    } else {
        (c.first_key, c.last_key, c.step)
    };
    r.int(first as i64);
    r.int(last as i64);
    r.int(step as i64);
    let cats = c.acl_categories();
    r.set_len(cats.len());
    for cat in cats {
        r.simple(cat);
    }
    r.set_len(0); // tips
                  // Key specs: one range spec per legacy triple.
    if first > 0 {
        // flags, begin_search, find_keys (no notes: none are declared).
        r.array_len(1);
        r.map_len(3);
        r.bulk(b"flags");
        if c.flags & super::flags::CHANNEL_KEYS != 0 {
            r.set_len(1);
            r.simple("not_key");
        } else {
            r.set_len(0);
        }
        r.bulk(b"begin_search");
        r.map_len(2);
        r.bulk(b"type");
        r.bulk(b"index");
        r.bulk(b"spec");
        r.map_len(1);
        r.bulk(b"index");
        r.int(c.first_key as i64);
        r.bulk(b"find_keys");
        r.map_len(2);
        r.bulk(b"type");
        r.bulk(b"range");
        r.bulk(b"spec");
        r.map_len(3);
        r.bulk(b"lastkey");
        r.int(if c.last_key < 0 {
            c.last_key as i64
        } else {
            (c.last_key - c.first_key) as i64
        });
        r.bulk(b"keystep");
        r.int(c.step as i64);
        r.bulk(b"limit");
        r.int(0);
    } else {
        r.array_len(0);
    }
    r.array_len(c.subcommands.len());
    for s in c.subcommands {
        write_sub_info(r, s, c);
    }
}

fn write_command_docs(r: &mut Reply, c: &CommandSpec) {
    r.bulk(c.name.as_bytes());
    let has_subs = !c.subcommands.is_empty();
    let has_args = super::docs::has_arguments(c.name);
    r.map_len(3 + has_args as usize + has_subs as usize);
    r.bulk(b"summary");
    r.bulk(c.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(c.since.as_bytes());
    r.bulk(b"group");
    r.bulk(c.group.as_bytes());
    if has_args {
        r.bulk(b"arguments");
        super::docs::write_arguments(r, c.name);
    }
    if has_subs {
        r.bulk(b"subcommands");
        r.map_len(c.subcommands.len());
        for s in c.subcommands {
            r.bulk(s.name.as_bytes());
            let sub_args = super::docs::has_arguments(s.name);
            r.map_len(3 + sub_args as usize);
            r.bulk(b"summary");
            r.bulk(s.summary.as_bytes());
            r.bulk(b"since");
            r.bulk(c.since.as_bytes());
            r.bulk(b"group");
            r.bulk(c.group.as_bytes());
            if sub_args {
                r.bulk(b"arguments");
                super::docs::write_arguments(r, s.name);
            }
        }
    }
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Print this help.",
];

/// `COMMAND [COUNT|INFO|DOCS|GETKEYS|GETKEYSANDFLAGS|LIST|HELP ...]`
pub fn cmd_command(sess: &mut Session, args: &Args, out: &mut Vec<u8>) {
    let mut r = Reply::new(out, sess.resp3);
    if args.len() == 1 {
        r.array_len(TABLE.len());
        for c in TABLE {
            write_command_info(&mut r, c);
        }
        return;
    }
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"count" if args.len() == 2 => r.int(TABLE.len() as i64),
        b"info" => {
            if args.len() == 2 {
                r.array_len(TABLE.len());
                for c in TABLE {
                    write_command_info(&mut r, c);
                }
            } else {
                r.array_len(args.len() - 2);
                for a in args.iter().skip(2) {
                    match lookup(a) {
                        Some(c) => write_command_info(&mut r, c),
                        None => r.null(),
                    }
                }
            }
        }
        b"docs" => {
            let found: Vec<&CommandSpec> = if args.len() == 2 {
                TABLE.iter().collect()
            } else {
                args.iter().skip(2).filter_map(lookup).collect()
            };
            r.map_len(found.len());
            for c in found {
                write_command_docs(&mut r, c);
            }
        }
        b"list" => {
            // Commands and subcommands by full name (`config|get`).
            let mut names: Vec<&str> = Vec::new();
            let mut keep = |name: &'static str, cats: &dyn Fn() -> Vec<&'static str>| {
                let ok = if args.len() == 5 && args.is(2, "filterby") {
                    let v = args.get(4);
                    if args.is(3, "pattern") {
                        glob_match(v, name.as_bytes(), true)
                    } else if args.is(3, "aclcat") {
                        let cat = format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
                        cats().contains(&cat.as_str())
                    } else {
                        false
                    }
                } else {
                    true
                };
                if ok {
                    names.push(name);
                }
            };
            for c in TABLE {
                keep(c.name, &|| c.acl_categories());
                for sc in c.subcommands {
                    keep(sc.name, &|| sc.acl_categories(c));
                }
            }
            let filter_ok = args.len() == 5
                && args.is(2, "filterby")
                && (args.is(3, "pattern") || args.is(3, "aclcat") || args.is(3, "module"));
            if args.len() != 2 && !filter_ok {
                return r.error(err::SYNTAX);
            }
            r.array_len(names.len());
            for n in names {
                r.bulk(n.as_bytes());
            }
        }
        b"getkeys" | b"getkeysandflags" if args.len() >= 3 => {
            let with_flags = sub.as_slice() == b"getkeysandflags";
            command_getkeys(&mut r, &Args::new(args.buf(), &args.ranges()[2..]), with_flags);
        }
        b"help" if args.len() == 2 => reply_help(&mut r, COMMAND_HELP),
        _ => r.error_bytes(&err::unknown_subcommand(args.get(1), "command")),
    }
}

/// `COMMAND GETKEYS <full-command>` → the keys of the command;
/// `COMMAND GETKEYSANDFLAGS <full-command>` → each key with its key-spec
/// flags. Keys come from the key specs when they describe the command
/// fully, else from the command's own key finder, as in Redis.
fn command_getkeys(r: &mut Reply, cmd: &Args, with_flags: bool) {
    let Some(c) = lookup(cmd.get(0)) else {
        return r.error(err::GETKEYS_INVALID_COMMAND);
    };
    let sub = c.find_subcommand(cmd);
    if !c.subcommands.is_empty() && cmd.len() >= 2 && sub.is_none() {
        return r.error(err::GETKEYS_INVALID_COMMAND);
    }
    let name = sub.map_or(c.name, |s| s.name);
    let specs = keyspecs::of(name);
    let finder = c.first_key > 0 || c.movable_keys();
    if (specs.is_empty() && !finder) || c.flags & super::flags::CHANNEL_KEYS != 0 {
        return r.error(err::GETKEYS_NO_KEYS);
    }
    if !sub.map_or(c.arity_ok(cmd.len()), |s| arity_fits(s.arity, cmd.len())) {
        return r.error(err::GETKEYS_ARITY);
    }
    let argv: Vec<&[u8]> = cmd.iter().collect();
    // Specs that fail to fit the arguments name no keys (the command's
    // own finder would refuse them as well).
    let keys = if keyspecs::complete(specs) {
        keyspecs::find_keys(specs, &argv).unwrap_or_default()
    } else {
        let flags = keyspecs::finder_flags(name, &argv);
        c.key_indices(cmd).map(|i| (i, flags)).collect()
    };
    if keys.is_empty() {
        return if keyspecs::keys_optional(name) {
            r.array_len(0)
        } else {
            r.error(err::GETKEYS_INVALID_ARGS)
        };
    }
    r.array_len(keys.len());
    for (i, flags) in keys {
        if with_flags {
            r.array_len(2);
            r.bulk(cmd.get(i));
            r.set_len(keyspecs::flag_names(flags).count());
            for f in keyspecs::flag_names(flags) {
                r.simple(f);
            }
        } else {
            r.bulk(cmd.get(i));
        }
    }
}

fn arity_fits(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]` → exits the process
/// (after a save when save rules are set and not NOSAVE, or SAVE).
pub async fn cmd_shutdown(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let mut r = Reply::new(out, sess.resp3);
    let (mut save, mut nosave, mut force) = (false, false, false);
    let mut abort = false;
    for a in args.iter().skip(1) {
        match a.to_ascii_lowercase().as_slice() {
            b"now" => {}
            b"force" => force = true,
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"abort" => abort = true,
            _ => return r.error(err::SYNTAX),
        }
    }
    if (save && nosave) || (abort && args.len() > 2) {
        return r.error(err::SYNTAX);
    }
    if abort {
        return r.error(err::NO_SHUTDOWN);
    }
    crate::server::log::notice("User requested shutdown...");
    let rules = !sess.shard.config.borrow().persist.save.is_empty();
    if save || (rules && !nosave) {
        crate::server::log::notice("Saving the final RDB snapshot before exiting.");
        crate::persist::snapshot::cancel_running(sess.tx).await;
        let ok = matches!(
            crate::persist::snapshot::save(&sess.shard, sess.tx, false).await,
            Ok(Ok(()))
        );
        if !ok && !force {
            crate::server::log::warning("Error trying to save the DB, can't exit.");
            return Reply::new(out, sess.resp3).error(err::SHUTDOWN_FAILED);
        }
    }
    crate::persist::aof::flush_at_exit(&sess.shard).await;
    crate::server::log::notice("Spindle is now ready to exit, bye bye...");
    std::process::exit(0);
}
