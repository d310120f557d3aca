//! Observability: per-command timing and what is built on it (INFO
//! commandstats and latencystats, SLOWLOG, the latency monitor, LATENCY
//! HISTOGRAM), and MONITOR.
//!
//! Every shard keeps its own slow log, latency events and histograms (in
//! its thread and its `Stats`); the commands that read them gather every
//! shard's part and merge it (slow log entries by id, latency samples by
//! second, histograms added up).
//!
//! Timing costs one clock read per command boundary: a command's duration
//! runs from the previous mark (the end of the command before it in the same
//! run, or the start of the run) to its end, which becomes the next mark.
//! The clock is the CPU's time-stamp counter where there is one (about
//! 10 ns a read here, against 26 ns for `clock_gettime`), calibrated once
//! against the monotonic clock.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use hdrhistogram::Histogram;

use super::connection::reply_help;
use super::errors as err;
use super::table::{CommandSpec, TABLE};
use super::{flags, Args, Session};
use crate::protocol::Reply;
use crate::shard::{coordinator, ClientInfo, Shard};

// ---------------------------------------------------------------- clock

/// A raw clock reading (time-stamp counter ticks, or ns elsewhere).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn ticks() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub fn ticks() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
}

/// Nanoseconds per tick, as a 32.32 fixed-point number.
static SCALE: AtomicU64 = AtomicU64::new(1 << 32);

/// Measures the tick rate against the monotonic clock (once per process,
/// about 20 ms, at start-up).
pub fn calibrate() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if cfg!(not(target_arch = "x86_64")) {
            return;
        }
        let t0 = std::time::Instant::now();
        let c0 = ticks();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ns = t0.elapsed().as_nanos() as u64;
        let c = ticks().wrapping_sub(c0).max(1);
        SCALE.store(
            ((ns as u128) << 32).checked_div(c as u128).unwrap_or(1 << 32) as u64,
            Ordering::Relaxed,
        );
    });
}

/// Converts a tick count to nanoseconds.
#[inline]
pub fn ticks_to_ns(t: u64) -> u64 {
    ((t as u128 * SCALE.load(Ordering::Relaxed) as u128) >> 32) as u64
}

thread_local! {
    /// End of the last timed command on this thread (or start of the run).
    static MARK: Cell<u64> = const { Cell::new(0) };
}

/// Starts a timed run: the next command's duration counts from now. Called
/// wherever the thread may have done other work since the last command
/// (a new read, after waiting for other shards, before a script's call).
#[inline]
pub fn begin() {
    MARK.with(|m| m.set(ticks()));
}

/// Sets the mark to a reading already taken.
#[inline]
pub fn set_mark(t: u64) {
    MARK.with(|m| m.set(t));
}

/// Nanoseconds since the mark; the mark moves to now.
#[inline]
pub fn lap() -> u64 {
    let now = ticks();
    let start = MARK.with(|m| m.replace(now));
    ticks_to_ns(now.wrapping_sub(start))
}

// ---------------------------------------------------------------- settings

/// The settings this module reads per command, copied per thread by
/// [`apply_config`] so the hot path reads one `Cell`.
#[derive(Clone, Copy)]
struct Settings {
    slower_than: i64,
    max_len: usize,
    /// latency-monitor-threshold in ms (0: off).
    threshold_ms: u64,
    tracking: bool,
}

thread_local! {
    static SETTINGS: Cell<Settings> = const {
        Cell::new(Settings { slower_than: 10_000, max_len: 128, threshold_ms: 0, tracking: true })
    };
}

/// Copies the settings of `cfg` for this thread (its shard).
pub fn apply_config(cfg: &crate::config::Config) {
    SETTINGS.with(|s| {
        s.set(Settings {
            slower_than: cfg.slowlog_log_slower_than,
            max_len: cfg.slowlog_max_len,
            threshold_ms: cfg.latency_monitor_threshold,
            tracking: cfg.latency_tracking,
        })
    });
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        let max = cfg.slowlog_max_len;
        l.slowlog.truncate(max);
    });
}

// ---------------------------------------------------------------- stats slots

/// Per-command stats slots: one per command of [`TABLE`], then one per
/// subcommand (`client|id` ...), as Redis keeps them.
fn sub_base() -> &'static [usize] {
    static BASE: OnceLock<Vec<usize>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut next = TABLE.len();
        TABLE
            .iter()
            .map(|c| {
                let b = next;
                next += c.subcommands.len();
                b
            })
            .collect()
    })
}

/// Number of stats slots (commands and subcommands).
pub fn stat_slots() -> usize {
    TABLE.len() + TABLE.iter().map(|c| c.subcommands.len()).sum::<usize>()
}

/// The slot of `spec` called with `args` (its subcommand's, for a
/// container).
#[inline]
pub fn stat_slot(spec: &'static CommandSpec, args: &Args) -> usize {
    if spec.subcommands.is_empty() {
        return spec.index();
    }
    match spec.find_subcommand(args) {
        Some(sub) => {
            let pos = (sub as *const _ as usize - spec.subcommands.as_ptr() as usize)
                / std::mem::size_of::<super::table::SubSpec>();
            sub_base()[spec.index()] + pos
        }
        None => spec.index(),
    }
}

/// The name of a stats slot (`get`, `client|id`).
pub fn slot_name(i: usize) -> &'static str {
    if i < TABLE.len() {
        return TABLE[i].name;
    }
    let base = sub_base();
    for (j, spec) in TABLE.iter().enumerate() {
        if i >= base[j] && i < base[j] + spec.subcommands.len() {
            return spec.subcommands[i - base[j]].name;
        }
    }
    "unknown"
}

/// A latency histogram as Redis keeps them: nanoseconds from 1 ns to 1 s,
/// two significant digits.
pub fn new_histogram() -> Box<Histogram<u64>> {
    Box::new(Histogram::new_with_bounds(1, 1_000_000_000, 2).expect("valid histogram bounds"))
}

// ---------------------------------------------------------------- recording

/// Who runs the commands of this thread's current synchronous run, for the
/// slow log (address and name at the time).
#[derive(Default, Debug)]
pub struct Caller {
    pub addr: String,
    pub name: String,
}

thread_local! {
    static CALLER: Cell<*const Caller> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` (synchronous commands) with `caller` as the client they are
/// logged under.
#[inline]
pub fn with_caller<R>(caller: &Caller, f: impl FnOnce() -> R) -> R {
    let old = CALLER.with(|c| c.replace(caller as *const Caller));
    let r = f();
    CALLER.with(|c| c.set(old));
    r
}

/// A snapshot of a client for [`with_caller`] on another shard.
pub fn caller_of(info: &ClientInfo) -> Arc<Caller> {
    Arc::new(Caller {
        addr: info.addr.clone(),
        name: info.name.borrow().clone(),
    })
}

/// Counts one finished call of a shard handler: commandstats, latency
/// histogram, latency monitor, slow log. `ns` is its duration.
#[inline]
pub fn shard_command_done(shard: &Shard, spec: &'static CommandSpec, args: &Args, ns: u64, reply: &[u8]) {
    command_done(shard, spec, args, ns, reply, None, false);
}

/// Like [`shard_command_done`] for a command run on the connection's task
/// (the client is known).
pub fn conn_command_done(sess: &Session, spec: &'static CommandSpec, args: &Args, ns: u64, reply: &[u8]) {
    if sess.refused.replace(false) {
        return super::record_rejected(&sess.shard, Some(spec), reply);
    }
    // Only an error reply looks at the mark (the success path stays as it was).
    let counted = reply.first() == Some(&b'-') && sess.error_counted.replace(false);
    command_done(&sess.shard, spec, args, ns, reply, Some(&sess.info), counted);
}

#[inline]
fn command_done(
    shard: &Shard,
    spec: &'static CommandSpec,
    args: &Args,
    ns: u64,
    reply: &[u8],
    client: Option<&ClientInfo>,
    counted: bool,
) {
    let set = SETTINGS.with(|s| s.get());
    let slot = stat_slot(spec, args);
    {
        let mut st = shard.stats.borrow_mut();
        st.total_commands += 1;
        let c = &mut st.commands[slot];
        c.calls += 1;
        c.nsec += ns;
        if set.tracking {
            c.hist
                .get_or_insert_with(new_histogram)
                .saturating_record(ns.clamp(1, 1_000_000_000));
        }
        if reply.first() == Some(&b'-') {
            c.failed += 1;
            if !counted {
                st.count_error(reply);
            }
        }
    }
    if set.threshold_ms > 0 && ns / 1_000_000 >= set.threshold_ms {
        let event = if spec.subcommand_flags(args) & flags::FAST != 0 {
            "fast-command"
        } else {
            "command"
        };
        add_sample(event, ns / 1_000_000);
    }
    if set.slower_than >= 0 && set.max_len > 0 && (ns / 1000) as i64 >= set.slower_than && !skips_slowlog(spec) {
        log_slow(args, ns / 1000, client, set.max_len);
    }
}

/// EXEC is not logged itself: the commands it ran are.
fn skips_slowlog(spec: &CommandSpec) -> bool {
    spec.name == "exec"
}

// ---------------------------------------------------------------- slow log

/// Most arguments an entry keeps (the last one then says how many more).
const SLOWLOG_MAX_ARGC: usize = 32;
/// Longest argument an entry keeps whole.
const SLOWLOG_MAX_STRING: usize = 128;

/// Slow log entry ids are unique and ordered across shards (one relaxed
/// increment per logged command, never on the fast path).
static NEXT_SLOW_ID: AtomicU64 = AtomicU64::new(0);

#[derive(Clone)]
struct SlowEntry {
    id: u64,
    time: u64,
    us: u64,
    args: Vec<Vec<u8>>,
    addr: String,
    name: String,
}

/// Events whose samples the latency monitor keeps per event.
const LATENCY_TS_LEN: usize = 160;

#[derive(Clone, Default)]
struct Series {
    /// (unix seconds, ms), oldest first, at most LATENCY_TS_LEN.
    samples: VecDeque<(u64, u64)>,
    max: u64,
}

#[derive(Default)]
struct Local {
    /// Newest first.
    slowlog: VecDeque<SlowEntry>,
    events: Vec<(String, Series)>,
    monitors: Vec<Rc<ClientInfo>>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// The arguments Redis hides from the slow log and MONITOR, `(redacted)`.
pub fn redacted(args: &Args, j: usize) -> bool {
    let name = args.get(0);
    let argc = args.len();
    let is = |a: &[u8], s: &str| a.eq_ignore_ascii_case(s.as_bytes());
    if is(name, "auth") {
        return j >= 1;
    }
    if is(name, "hello") {
        let mut k = 2;
        while k < argc {
            if is(args.get(k), "auth") && argc - 1 - k >= 2 {
                if j == k + 1 || j == k + 2 {
                    return true;
                }
                k += 3;
            } else {
                k += 1;
            }
        }
        return false;
    }
    if is(name, "migrate") {
        let mut k = 6;
        while k < argc {
            if is(args.get(k), "auth") && k + 1 < argc {
                if j == k + 1 {
                    return true;
                }
                k += 2;
            } else if is(args.get(k), "auth2") && k + 2 < argc {
                if j == k + 1 || j == k + 2 {
                    return true;
                }
                k += 3;
            } else {
                k += 1;
            }
        }
        return false;
    }
    if argc > 1 && is(name, "acl") {
        let sub = args.get(1);
        if is(sub, "setuser") || is(sub, "deluser") {
            return j >= 2;
        }
        if is(sub, "getuser") && argc == 3 {
            return j == 2;
        }
        return false;
    }
    if argc > 1 && is(name, "config") && is(args.get(1), "set") && j >= 3 && (j - 3) % 2 == 0 {
        let param = args.get(j - 1);
        return [
            "requirepass",
            "masterauth",
            "masteruser",
            "tls-key-file-pass",
            "tls-client-key-file-pass",
        ]
        .iter()
        .any(|p| is(param, p));
    }
    false
}

const REDACTED: &[u8] = b"(redacted)";

#[cold]
fn log_slow(args: &Args, us: u64, client: Option<&ClientInfo>, max_len: usize) {
    let argc = args.len();
    let kept = argc.min(SLOWLOG_MAX_ARGC);
    let mut v = Vec::with_capacity(kept);
    for j in 0..kept {
        if kept != argc && j == kept - 1 {
            v.push(format!("... ({} more arguments)", argc - kept + 1).into_bytes());
        } else if redacted(args, j) {
            v.push(REDACTED.to_vec());
        } else {
            let a = args.get(j);
            if a.len() > SLOWLOG_MAX_STRING {
                let mut s = a[..SLOWLOG_MAX_STRING].to_vec();
                let _ = write!(StrVec(&mut s), "... ({} more bytes)", a.len() - SLOWLOG_MAX_STRING);
                v.push(s);
            } else {
                v.push(a.to_vec());
            }
        }
    }
    let (addr, name) = match client {
        Some(c) => (c.addr.clone(), c.name.borrow().clone()),
        None => {
            let p = CALLER.with(|c| c.get());
            if p.is_null() {
                (String::new(), String::new())
            } else {
                // SAFETY: set by `with_caller`, which outlives this call.
                let c = unsafe { &*p };
                (c.addr.clone(), c.name.clone())
            }
        }
    };
    let entry = SlowEntry {
        id: NEXT_SLOW_ID.fetch_add(1, Ordering::Relaxed),
        time: crate::util::now_ms() / 1000,
        us,
        args: v,
        addr,
        name,
    };
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.slowlog.push_front(entry);
        l.slowlog.truncate(max_len);
    });
}

struct StrVec<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for StrVec<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Print this help.",
];

/// `SLOWLOG GET [count] | LEN | RESET | HELP`.
pub async fn cmd_slowlog(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let sub = args.get(1).to_ascii_lowercase();
    let max_len = sess.shard.config.borrow().slowlog_max_len;
    match sub.as_slice() {
        b"help" => reply_help(&mut Reply::new(out, resp3), SLOWLOG_HELP),
        b"reset" => {
            coordinator::broadcast_in(&sess.shard, sess.tx, |_| LOCAL.with(|l| l.borrow_mut().slowlog.clear())).await;
            Reply::new(out, resp3).ok()
        }
        b"len" => {
            let n: usize =
                coordinator::broadcast_in(&sess.shard, sess.tx, |_| LOCAL.with(|l| l.borrow().slowlog.len()))
                    .await
                    .into_iter()
                    .sum();
            Reply::new(out, resp3).int(n.min(max_len) as i64)
        }
        b"get" => {
            let mut count = 10usize;
            if args.len() == 3 {
                match super::args::parse_i64(args.get(2)) {
                    Some(-1) => count = usize::MAX,
                    Some(n) if n >= 0 => count = n as usize,
                    // Redis gives this message for a non-number too.
                    _ => return Reply::new(out, resp3).error(SLOWLOG_COUNT),
                }
            }
            let mut all: Vec<SlowEntry> = coordinator::broadcast_in(&sess.shard, sess.tx, move |_| {
                LOCAL.with(|l| l.borrow().slowlog.iter().take(count).cloned().collect::<Vec<_>>())
            })
            .await
            .into_iter()
            .flatten()
            .collect();
            all.sort_by(|a, b| b.id.cmp(&a.id));
            all.truncate(count.min(max_len));
            let mut r = Reply::new(out, resp3);
            r.array_len(all.len());
            for e in &all {
                r.array_len(6);
                r.int(e.id as i64);
                r.int(e.time as i64);
                r.int(e.us as i64);
                r.array_len(e.args.len());
                for a in &e.args {
                    r.bulk(a);
                }
                r.bulk(e.addr.as_bytes());
                r.bulk(e.name.as_bytes());
            }
        }
        _ => Reply::new(out, resp3).error_bytes(&err::unknown_subcommand(args.get(1), "slowlog")),
    }
}

const SLOWLOG_COUNT: &str = "ERR count should be greater than or equal to -1";

// ---------------------------------------------------------------- latency monitor

/// Records a latency sample of `ms` for `event` on this shard when the
/// latency monitor is on and `ms` reaches its threshold (Redis's
/// latencyAddSampleIfNeeded). For housekeeping that wants to report its
/// pauses: `expire-cycle`, `eviction-cycle` ...
pub fn record(event: &str, ms: u64) {
    let t = SETTINGS.with(|s| s.get().threshold_ms);
    if t > 0 && ms >= t {
        add_sample(event, ms);
    }
}

#[cold]
fn add_sample(event: &str, ms: u64) {
    let now = crate::util::now_ms() / 1000;
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        let i = match l.events.iter().position(|(n, _)| n == event) {
            Some(i) => i,
            None => {
                l.events.push((event.to_string(), Series::default()));
                l.events.len() - 1
            }
        };
        let s = &mut l.events[i].1;
        s.max = s.max.max(ms);
        if let Some(last) = s.samples.back_mut() {
            if last.0 == now {
                last.1 = last.1.max(ms);
                return;
            }
        }
        s.samples.push_back((now, ms));
        if s.samples.len() > LATENCY_TS_LEN {
            s.samples.pop_front();
        }
    });
}

/// Every shard's latency events merged: per event, samples of the same
/// second keep the highest, the max is the highest of all.
async fn merged_events(sess: &Session) -> Vec<(String, Series)> {
    let parts = coordinator::broadcast_in(&sess.shard, sess.tx, |_| LOCAL.with(|l| l.borrow().events.clone())).await;
    let mut merged: Vec<(String, Series)> = Vec::new();
    for part in parts {
        for (name, s) in part {
            let i = match merged.iter().position(|(n, _)| *n == name) {
                Some(i) => i,
                None => {
                    merged.push((name, Series::default()));
                    merged.len() - 1
                }
            };
            let m = &mut merged[i].1;
            m.max = m.max.max(s.max);
            let mut all: Vec<(u64, u64)> = m.samples.iter().chain(s.samples.iter()).copied().collect();
            all.sort();
            let mut dedup: VecDeque<(u64, u64)> = VecDeque::new();
            for (t, ms) in all {
                match dedup.back_mut() {
                    Some(last) if last.0 == t => last.1 = last.1.max(ms),
                    _ => dedup.push_back((t, ms)),
                }
            }
            while dedup.len() > LATENCY_TS_LEN {
                dedup.pop_front();
            }
            m.samples = dedup;
        }
    }
    merged
}

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Print this help.",
];

/// `LATENCY LATEST | HISTORY event | RESET [event ...] | GRAPH event |
/// DOCTOR | HISTOGRAM [command ...] | HELP`.
pub async fn cmd_latency(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let sub = args.get(1).to_ascii_lowercase();
    match sub.as_slice() {
        b"help" => reply_help(&mut Reply::new(out, resp3), LATENCY_HELP),
        b"latest" => {
            let events = merged_events(sess).await;
            let mut r = Reply::new(out, resp3);
            r.array_len(events.len());
            for (name, s) in &events {
                let (t, ms) = s.samples.back().copied().unwrap_or((0, 0));
                r.array_len(4);
                r.bulk(name.as_bytes());
                r.int(t as i64);
                r.int(ms as i64);
                r.int(s.max as i64);
            }
        }
        b"history" => {
            let events = merged_events(sess).await;
            let want = args.get(2);
            let mut r = Reply::new(out, resp3);
            match events.iter().find(|(n, _)| n.as_bytes() == want) {
                None => r.array_len(0),
                Some((_, s)) => {
                    r.array_len(s.samples.len());
                    for &(t, ms) in &s.samples {
                        r.array_len(2);
                        r.int(t as i64);
                        r.int(ms as i64);
                    }
                }
            }
        }
        b"reset" => {
            let names: Vec<Vec<u8>> = args.iter().skip(2).map(|a| a.to_vec()).collect();
            let reset: Vec<Vec<String>> = coordinator::broadcast_in(&sess.shard, sess.tx, move |_| {
                LOCAL.with(|l| {
                    let mut l = l.borrow_mut();
                    let mut gone = Vec::new();
                    l.events.retain(|(n, _)| {
                        let hit = names.is_empty() || names.iter().any(|w| w.as_slice() == n.as_bytes());
                        if hit {
                            gone.push(n.clone());
                        }
                        !hit
                    });
                    gone
                })
            })
            .await;
            let mut all: Vec<String> = reset.into_iter().flatten().collect();
            all.sort();
            all.dedup();
            Reply::new(out, resp3).int(all.len() as i64)
        }
        b"graph" => {
            let events = merged_events(sess).await;
            let want = args.get(2);
            match events.iter().find(|(n, _)| n.as_bytes() == want) {
                None => {
                    let msg = err::with_arg("ERR No samples available for event '", want, "'");
                    Reply::new(out, resp3).error_bytes(&msg)
                }
                Some((name, s)) => Reply::new(out, resp3).verbatim(graph(name, s).as_bytes()),
            }
        }
        b"doctor" => {
            let events = merged_events(sess).await;
            Reply::new(out, resp3).verbatim(doctor(&events).as_bytes())
        }
        b"histogram" => {
            let wanted: Vec<usize> = if args.len() == 2 {
                (0..stat_slots()).collect()
            } else {
                let mut v = Vec::new();
                for a in args.iter().skip(2) {
                    let name = String::from_utf8_lossy(a).to_ascii_lowercase();
                    let (base, sub) = match name.split_once('|') {
                        Some((b, s)) => (b.to_string(), Some(s.to_string())),
                        None => (name.clone(), None),
                    };
                    let Some(spec) = super::lookup(base.as_bytes()) else {
                        continue;
                    };
                    match sub {
                        None => {
                            v.push(spec.index());
                            let b = sub_base()[spec.index()];
                            v.extend(b..b + spec.subcommands.len());
                        }
                        Some(_) => {
                            if let Some(k) = spec.subcommands.iter().position(|s| s.name == name) {
                                v.push(sub_base()[spec.index()] + k);
                            }
                        }
                    }
                }
                v
            };
            let hists = merged_histograms(sess).await;
            let mut with_data: Vec<(usize, &Histogram<u64>)> = Vec::new();
            for i in wanted {
                if let Some(Some(h)) = hists.get(i) {
                    if !with_data.iter().any(|(j, _)| *j == i) {
                        with_data.push((i, h));
                    }
                }
            }
            let mut r = Reply::new(out, resp3);
            r.map_len(with_data.len());
            for (i, h) in with_data {
                r.bulk(slot_name(i).as_bytes());
                r.map_len(2);
                r.bulk(b"calls");
                r.int(h.len() as i64);
                r.bulk(b"histogram_usec");
                let buckets = log_buckets(h);
                r.map_len(buckets.len());
                for (us, n) in buckets {
                    r.int(us as i64);
                    r.int(n as i64);
                }
            }
        }
        _ => Reply::new(out, resp3).error_bytes(&err::unknown_subcommand(args.get(1), "latency")),
    }
}

/// Every shard's per-command histograms added up, by stats slot.
pub async fn merged_histograms(sess: &Session) -> Vec<Option<Box<Histogram<u64>>>> {
    let parts = coordinator::broadcast_in(&sess.shard, sess.tx, |sh| {
        sh.stats
            .borrow()
            .commands
            .iter()
            .map(|c| c.hist.clone())
            .collect::<Vec<_>>()
    })
    .await;
    let mut merged: Vec<Option<Box<Histogram<u64>>>> = vec![None; stat_slots()];
    for part in parts {
        for (i, h) in part.into_iter().enumerate() {
            let Some(h) = h else { continue };
            match &mut merged[i] {
                Some(m) => {
                    let _ = m.add(&*h);
                }
                slot => *slot = Some(h),
            }
        }
    }
    merged
}

/// Cumulative counts per power-of-two bucket of microseconds, starting at
/// 1024 ns, skipping buckets that add nothing (Redis's fillCommandCDF).
fn log_buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    let mut cumulative = 0u64;
    for it in h.iter_log(1024, 2.0) {
        let before = cumulative;
        cumulative += it.count_since_last_iteration();
        if cumulative > before {
            // Labelled by the highest value of the level's own bucket, as
            // the C iterator reports it (1031 ns for the 1024 ns level).
            v.push((h.highest_equivalent(it.value_iterated_to() + 1) / 1000, cumulative));
        }
    }
    v
}

/// `latency_percentiles_usec_<cmd>:p50=..,p99=..,p99.9=..` lines for INFO
/// latencystats.
pub fn latencystats_lines(text: &mut String, hists: &[Option<Box<Histogram<u64>>>], percentiles: &[f64]) {
    for (i, h) in hists.iter().enumerate() {
        let Some(h) = h else { continue };
        let _ = write!(text, "latency_percentiles_usec_{}:", slot_name(i));
        for (k, p) in percentiles.iter().enumerate() {
            if k > 0 {
                text.push(',');
            }
            let v = h.value_at_percentile(*p) as f64 / 1000.0;
            let _ = write!(text, "p{}={:.3}", trim_double(*p), v);
        }
        text.push_str("\r\n");
    }
}

/// `%f` without trailing zeros (and dot), as Redis's trimDoubleString.
pub fn trim_double(v: f64) -> String {
    let s = format!("{:.6}", v);
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

/// LATENCY GRAPH: the samples as columns of `#`/`_`/`o`, with the event,
/// its high and low marks and the time axis (Redis's sparkline layout,
/// simplified).
fn graph(name: &str, s: &Series) -> String {
    let now = crate::util::now_ms() / 1000;
    let high = s.samples.iter().map(|x| x.1).max().unwrap_or(0);
    let low = s.samples.iter().map(|x| x.1).min().unwrap_or(0);
    let mut text = format!(
        "{} - high {} ms, low {} ms (all time high {} ms)\n",
        name, high, low, s.max
    );
    text.push_str(&"-".repeat(80));
    text.push('\n');
    const ROWS: u64 = 4;
    for row in (0..ROWS).rev() {
        for &(_, ms) in &s.samples {
            let level = if high == low {
                ROWS
            } else {
                (ms - low) * ROWS / (high - low).max(1)
            };
            text.push(if level > row {
                '#'
            } else if level == row {
                '_'
            } else {
                ' '
            });
        }
        text.push('\n');
    }
    for &(t, _) in &s.samples {
        let age = now.saturating_sub(t);
        let label = if age < 60 {
            format!("{}s", age)
        } else {
            format!("{}m", age / 60)
        };
        text.push(label.chars().next().unwrap_or(' '));
    }
    text.push('\n');
    text
}

/// LATENCY DOCTOR: a short report of the events seen.
fn doctor(events: &[(String, Series)]) -> String {
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n".to_string();
    }
    let mut text = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (k, (name, s)) in events.iter().enumerate() {
        let n = s.samples.len().max(1) as u64;
        let avg = s.samples.iter().map(|x| x.1).sum::<u64>() / n;
        let _ = writeln!(
            text,
            "{}. {}: {} latency spikes (average {}ms, mean deviation 0ms, period 0 sec). Worst all time event {}ms.",
            k + 1,
            name,
            s.samples.len(),
            avg,
            s.max
        );
    }
    text.push_str("\nI have a few advices for you:\n\n- Check your system for long running commands with SLOWLOG GET, and look at LATENCY HISTOGRAM.\n");
    text
}

/// Forgets this shard's latency histograms (CONFIG RESETSTAT): they live
/// in its `Stats`, which the caller resets.
pub fn reset_latency_events() {
    LOCAL.with(|l| l.borrow_mut().events.clear());
}

// ---------------------------------------------------------------- MONITOR

/// Clients in MONITOR mode, all shards: the one check commands make when
/// nobody monitors (a relaxed load).
static MONITORS: AtomicUsize = AtomicUsize::new(0);
/// Which shards have monitors (bit per shard; shards past 63 share bit 63,
/// which means "look at every shard from 63 on").
static MONITOR_SHARDS: AtomicU64 = AtomicU64::new(0);

/// Whether anybody monitors.
#[inline]
pub fn monitoring() -> bool {
    MONITORS.load(Ordering::Relaxed) != 0
}

/// `MONITOR`: the client receives every command the server runs from now
/// on. Answers nothing when it already monitors.
pub fn cmd_monitor(sess: &mut Session, out: &mut Vec<u8>) {
    if sess.info.monitor.get() {
        return;
    }
    sess.info.monitor.set(true);
    LOCAL.with(|l| l.borrow_mut().monitors.push(sess.info.clone()));
    MONITOR_SHARDS.fetch_or(1 << sess.shard.id.min(63), Ordering::Relaxed);
    MONITORS.fetch_add(1, Ordering::Relaxed);
    Reply::new(out, sess.resp3).ok()
}

/// Takes a client out of MONITOR mode (disconnect, RESET).
pub fn monitor_drop(shard: &Shard, info: &ClientInfo) {
    if !info.monitor.replace(false) {
        return;
    }
    LOCAL.with(|l| {
        let mut l = l.borrow_mut();
        l.monitors.retain(|c| c.id != info.id);
        if l.monitors.is_empty() && shard.id < 63 {
            MONITOR_SHARDS.fetch_and(!(1 << shard.id), Ordering::Relaxed);
        }
    });
    MONITORS.fetch_sub(1, Ordering::Relaxed);
}

/// Sends a command to every monitor: `+<unix.micro> [<db> <who>] "arg" ...`
/// where `who` is the client's address or `lua` for a script's calls.
pub fn feed(shard: &Rc<Shard>, db: usize, who: &str, args: &Args) {
    let us = crate::util::now_us();
    let mut line = Vec::with_capacity(64);
    let _ = write!(
        StrVec(&mut line),
        "+{}.{:06} [{} {}] ",
        us / 1_000_000,
        us % 1_000_000,
        db,
        who
    );
    for j in 0..args.len() {
        if j > 0 {
            line.push(b' ');
        }
        if redacted(args, j) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr(&mut line, args.get(j));
        }
    }
    line.extend_from_slice(b"\r\n");
    let mask = MONITOR_SHARDS.load(Ordering::Relaxed);
    for s in 0..shard.count {
        if mask & (1 << s.min(63)) == 0 {
            continue;
        }
        let line = line.clone();
        // Acknowledged: the command's reply (or its blocking) waits until
        // every monitor has the line, so what a client observes after the
        // reply shows up after it on the monitors.
        coordinator::post_acked(shard, s, move |_| deliver(&line));
    }
}

fn deliver(line: &[u8]) {
    LOCAL.with(|l| {
        for c in &l.borrow().monitors {
            c.push.borrow_mut().extend_from_slice(line);
            c.wake_push();
        }
    });
}

/// Quotes `s` as Redis's sdscatrepr.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => {
                let _ = write!(StrVec(out), "\\x{:02x}", c);
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::command::args::args_of;

    #[test]
    fn redaction_follows_redis() {
        let (b, r) = args_of(&["AUTH", "user", "pw"]);
        let a = Args::new(&b, &r);
        assert!(!redacted(&a, 0) && redacted(&a, 1) && redacted(&a, 2));
        let (b, r) = args_of(&["hello", "3", "AUTH", "u", "p", "SETNAME", "n"]);
        let a = Args::new(&b, &r);
        let v: Vec<bool> = (0..a.len()).map(|j| redacted(&a, j)).collect();
        assert_eq!(v, [false, false, false, true, true, false, false]);
        let (b, r) = args_of(&["config", "set", "requirepass", "x", "maxclients", "10"]);
        let a = Args::new(&b, &r);
        let v: Vec<bool> = (0..a.len()).map(|j| redacted(&a, j)).collect();
        assert_eq!(v, [false, false, false, true, false, false]);
    }

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut v = Vec::new();
        repr(&mut v, b"a\"b\\c\n\x01\xff ");
        assert_eq!(v, b"\"a\\\"b\\\\c\\n\\x01\\xff \"".to_vec());
    }

    #[test]
    fn slots_name_subcommands() {
        let client = super::super::lookup(b"client").unwrap();
        let (b, r) = args_of(&["client", "ID"]);
        let slot = stat_slot(client, &Args::new(&b, &r));
        assert!(slot >= TABLE.len());
        assert_eq!(slot_name(slot), "client|id");
        let get = super::super::lookup(b"get").unwrap();
        let (b, r) = args_of(&["get", "k"]);
        assert_eq!(slot_name(stat_slot(get, &Args::new(&b, &r))), "get");
        assert_eq!(trim_double(99.9), "99.9");
        assert_eq!(trim_double(50.0), "50");
    }

    #[test]
    fn histogram_buckets_are_powers_of_two() {
        let mut h = new_histogram();
        h.saturating_record(500);
        h.saturating_record(1500);
        h.saturating_record(3000);
        let b = log_buckets(&h);
        assert_eq!(b, vec![(1, 1), (2, 2), (4, 3)]);
    }
}
