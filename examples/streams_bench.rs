//! Stream load generator for `bench/streams`.
//!
//! One subcommand per workload. Each prints one line, `RESULT key=value ...`,
//! that the bash driver parses; progress and errors go to stderr.
//!
//! - `fill`: XADD `--entries` entries (`f1 <8 B> f2 <8 B>`, the same field
//!   names every entry) dealt round-robin over `--streams` streams, pipelined
//!   on one connection; reports the growth of the server's VmRSS per entry.
//! - `xadd`: `--conns` connections pipeline `--pipeline` XADDs with `*` IDs
//!   over `--streams` streams for `--seconds`; ops/s, latency, CPU per op.
//! - `xreadgroup`: pre-fills one stream with `--entries`, then `--consumers`
//!   consumers of one group read it with `XREADGROUP ... COUNT --count
//!   STREAMS s >` and XACK what they read (pipelined with the next read);
//!   entries/s, latency of one XACK + XREADGROUP round trip, CPU per entry.
//!   When the group reaches the end of the stream it is rewound with
//!   `XGROUP SETID s g 0`, so the run lasts its full time; if the server
//!   refuses, the measurement ends there (`exhausted=1`).
//! - `latency`: `--readers` connections wait in `XREAD BLOCK 0` (`--mode
//!   xread`, re-issued with the last ID seen) or in `XREADGROUP ... BLOCK 0
//!   STREAMS s >` (`--mode group`, one group, XACK pipelined with the next
//!   read); one producer XADDs `--rate` entries/s, each carrying its send
//!   time in nanoseconds in field `ts`; XADD-to-delivery latency and CPU per
//!   delivered entry.
//!
//! With `--pid`, the server's CPU time (utime + stime of /proc/PID/stat, plus
//! that of its live children, in case PID is a wrapper script) over the
//! measured interval is divided by the operations done; `--clk-tck` gives the
//! tick rate (default `sysconf(_SC_CLK_TCK)`, which `getconf CLK_TCK` prints).
//!
//! ```text
//! cargo run --release --example streams_bench -- fill --port 6379 --pid PID --entries 1000000 --streams 1
//! cargo run --release --example streams_bench -- xadd --port 6379 --conns 16 --pipeline 16 --streams 1
//! cargo run --release --example streams_bench -- xreadgroup --port 6379 --entries 1000000 --consumers 4
//! cargo run --release --example streams_bench -- latency --port 6379 --readers 10 --mode xread --rate 10000
//! ```

#[path = "common/procstat.rs"]
mod procstat;

use procstat::{cpu_us, rss_kb};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

const XRG_KEY: &[u8] = b"bench:xrg";
const LAT_KEY: &[u8] = b"bench:lat";
const GROUP: &[u8] = b"g";

#[derive(Clone)]
struct Opts {
    cmd: String,
    port: u16,
    pid: Option<u32>,
    clk_tck: u64,
    seconds: f64,
    warmup: f64,
    entries: u64,
    streams: usize,
    conns: usize,
    pipeline: usize,
    consumers: usize,
    count: usize,
    readers: usize,
    threads: usize,
    rate: u64,
    group_mode: bool,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        eprintln!("usage: streams_bench fill|xadd|xreadgroup|latency --port P [options]");
        std::process::exit(2);
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let mut o = Opts {
        cmd,
        port: 6379,
        pid: None,
        clk_tck: hz,
        seconds: 3.0,
        warmup: 0.3,
        entries: 1_000_000,
        streams: 1,
        conns: 16,
        pipeline: 16,
        consumers: 1,
        count: 100,
        readers: 1,
        threads: 4,
        rate: 10_000,
        group_mode: false,
    };
    let mut pipeline_set = false;
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let bad = |name: &str| -> ! {
            eprintln!("streams_bench: bad value {v:?} for {name}");
            std::process::exit(2)
        };
        match args[i].as_str() {
            "--port" => o.port = v.parse().unwrap_or_else(|_| bad("--port")),
            "--pid" => o.pid = Some(v.parse().unwrap_or_else(|_| bad("--pid"))),
            "--clk-tck" => o.clk_tck = v.parse().unwrap_or_else(|_| bad("--clk-tck")),
            "--seconds" => o.seconds = v.parse().unwrap_or_else(|_| bad("--seconds")),
            "--warmup" => o.warmup = v.parse().unwrap_or_else(|_| bad("--warmup")),
            "--entries" => o.entries = v.parse().unwrap_or_else(|_| bad("--entries")),
            "--streams" => o.streams = v.parse().unwrap_or_else(|_| bad("--streams")),
            "--conns" => o.conns = v.parse().unwrap_or_else(|_| bad("--conns")),
            "--pipeline" => {
                o.pipeline = v.parse().unwrap_or_else(|_| bad("--pipeline"));
                pipeline_set = true;
            }
            "--consumers" => o.consumers = v.parse().unwrap_or_else(|_| bad("--consumers")),
            "--count" => o.count = v.parse().unwrap_or_else(|_| bad("--count")),
            "--readers" => o.readers = v.parse().unwrap_or_else(|_| bad("--readers")),
            "--threads" => o.threads = v.parse().unwrap_or_else(|_| bad("--threads")),
            "--rate" => o.rate = v.parse().unwrap_or_else(|_| bad("--rate")),
            "--mode" => {
                o.group_mode = match v.as_str() {
                    "xread" => false,
                    "group" => true,
                    _ => bad("--mode (xread or group)"),
                }
            }
            other => {
                eprintln!("streams_bench: unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    if o.cmd == "fill" || o.cmd == "xreadgroup" {
        // Loading: deep pipelines, as redis-cli --pipe would send.
        if !pipeline_set {
            o.pipeline = 1000;
        }
    }
    o.streams = o.streams.max(1);
    o.conns = o.conns.max(1);
    o.pipeline = o.pipeline.max(1);
    o.consumers = o.consumers.max(1);
    o.readers = o.readers.max(1);
    o.threads = o.threads.clamp(1, o.readers);
    o.rate = o.rate.max(1);
    o
}

// ---------------------------------------------------------------- RESP

/// Appends one RESP2 command (an array of bulk strings) to `out`.
fn encode_into(out: &mut Vec<u8>, args: &[&[u8]]) {
    write!(out, "*{}\r\n", args.len()).unwrap();
    for a in args {
        write!(out, "${}\r\n", a.len()).unwrap();
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// One reply, borrowing from the read buffer.
enum Val<'a> {
    Str(&'a [u8]),
    Err(&'a [u8]),
    Int(i64),
    Nil,
    Arr(Vec<Val<'a>>),
}

fn num(b: &[u8]) -> i64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad number in reply: {:?}", String::from_utf8_lossy(b)))
}

/// Parses one complete reply at the start of `b`: the reply and its length,
/// or `None` if `b` does not hold all of it yet.
fn parse(b: &[u8]) -> Option<(Val<'_>, usize)> {
    let mut at = 0;
    loop {
        let cr = at + memchr::memchr(b'\r', &b[at..])?;
        if cr + 1 >= b.len() {
            return None;
        }
        if b[cr + 1] == b'\n' {
            let line = cr;
            let head = &b[1..line];
            let next = line + 2;
            return match b[0] {
                b'+' => Some((Val::Str(head), next)),
                b'-' => Some((Val::Err(head), next)),
                b':' => Some((Val::Int(num(head)), next)),
                b'_' => Some((Val::Nil, next)),
                b'$' => {
                    let n = num(head);
                    if n < 0 {
                        return Some((Val::Nil, next));
                    }
                    let end = next + n as usize;
                    if b.len() < end + 2 {
                        return None;
                    }
                    Some((Val::Str(&b[next..end]), end + 2))
                }
                b'*' => {
                    let n = num(head);
                    if n < 0 {
                        return Some((Val::Nil, next));
                    }
                    let mut items = Vec::with_capacity(n as usize);
                    let mut pos = next;
                    for _ in 0..n {
                        let (v, len) = parse(&b[pos..])?;
                        items.push(v);
                        pos += len;
                    }
                    Some((Val::Arr(items), pos))
                }
                other => panic!("unexpected reply type byte {:?}", other as char),
            };
        }
        at = cr + 1;
    }
}

fn check<'a>(v: &'a Val<'a>, what: &str) -> &'a Val<'a> {
    if let Val::Err(e) = v {
        eprintln!("streams_bench: {what} failed: {}", String::from_utf8_lossy(e));
        std::process::exit(1);
    }
    v
}

/// A connection with a read buffer; replies are consumed from the front.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    tmp: Vec<u8>,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| {
            eprintln!("streams_bench: connect to port {port}: {e}");
            std::process::exit(1)
        });
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::with_capacity(1 << 16),
            pos: 0,
            tmp: vec![0; 1 << 16],
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write to server");
    }

    /// Reads more bytes (blocking); drops the consumed front of the buffer first.
    fn fill(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let n = self.s.read(&mut self.tmp).expect("read from server");
        if n == 0 {
            eprintln!("streams_bench: server closed the connection");
            std::process::exit(1);
        }
        self.buf.extend_from_slice(&self.tmp[..n]);
    }

    /// Length of the next complete reply, reading until there is one.
    fn next_len(&mut self) -> usize {
        loop {
            if let Some((_, n)) = parse(&self.buf[self.pos..]) {
                return n;
            }
            self.fill();
        }
    }

    /// Sends one command and checks that its reply is not an error.
    fn call(&mut self, args: &[&[u8]]) {
        let mut req = Vec::new();
        encode_into(&mut req, args);
        self.send(&req);
        let n = self.next_len();
        let (v, _) = parse(&self.buf[self.pos..self.pos + n]).unwrap();
        check(&v, &String::from_utf8_lossy(args[0]));
        self.pos += n;
    }

    /// Sends one command and returns its integer reply.
    fn call_int(&mut self, args: &[&[u8]]) -> i64 {
        let mut req = Vec::new();
        encode_into(&mut req, args);
        self.send(&req);
        let n = self.next_len();
        let (v, _) = parse(&self.buf[self.pos..self.pos + n]).unwrap();
        let r = match check(&v, &String::from_utf8_lossy(args[0])) {
            Val::Int(i) => *i,
            _ => panic!("expected an integer reply"),
        };
        self.pos += n;
        r
    }
}

// ---------------------------------------------------------------- measuring

fn new_hist() -> Histogram<u64> {
    // Nanoseconds, 1 ns to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

/// `p50_us=… p99_us=… p999_us=…` of a nanosecond histogram.
fn percentiles(h: &Histogram<u64>) -> String {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "p50_us={:.1} p99_us={:.1} p999_us={:.1} samples={}",
        us(0.50),
        us(0.99),
        us(0.999),
        h.len()
    )
}

/// State shared by the load threads and the thread that measures.
struct Shared {
    start: Instant,
    ops: AtomicU64,
    aux: AtomicU64,
    stop: AtomicBool,
    measuring: AtomicBool,
    exhausted: AtomicBool,
    rewinds: AtomicU64,
    hist: Mutex<Histogram<u64>>,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            start: Instant::now(),
            ops: AtomicU64::new(0),
            aux: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            measuring: AtomicBool::new(false),
            exhausted: AtomicBool::new(false),
            rewinds: AtomicU64::new(0),
            hist: Mutex::new(new_hist()),
        })
    }

    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn merge(&self, local: &mut Histogram<u64>) {
        self.hist.lock().unwrap().add(&*local).unwrap();
        local.reset();
    }
}

/// What one measured interval saw.
struct Interval {
    seconds: f64,
    ops: u64,
    aux: u64,
    cpu_us: Option<u64>,
}

/// Warms up, then measures for `o.seconds` (or until a load thread sets
/// `exhausted`), then stops the load threads.
fn measure(o: &Opts, sh: &Shared, threads: Vec<thread::JoinHandle<()>>) -> Interval {
    thread::sleep(Duration::from_secs_f64(o.warmup));
    sh.hist.lock().unwrap().reset();
    sh.measuring.store(true, Ordering::SeqCst);
    let cpu0 = o.pid.map(|p| cpu_us(p, o.clk_tck));
    let (ops0, aux0) = (sh.ops.load(Ordering::SeqCst), sh.aux.load(Ordering::SeqCst));
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < o.seconds && !sh.exhausted.load(Ordering::SeqCst) {
        thread::sleep(Duration::from_millis(2));
    }
    let (ops1, aux1) = (sh.ops.load(Ordering::SeqCst), sh.aux.load(Ordering::SeqCst));
    let cpu1 = o.pid.map(|p| cpu_us(p, o.clk_tck));
    let seconds = t0.elapsed().as_secs_f64();
    sh.measuring.store(false, Ordering::SeqCst);
    sh.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    Interval {
        seconds,
        ops: ops1 - ops0,
        aux: aux1 - aux0,
        cpu_us: cpu0.zip(cpu1).map(|(a, b)| b - a),
    }
}

fn per(cpu: Option<u64>, n: u64) -> String {
    match cpu {
        Some(c) if n > 0 => format!("{:.3}", c as f64 / n as f64),
        _ => "-".into(),
    }
}

// ---------------------------------------------------------------- workloads

/// The two 8-byte field values of entry `i`; not numbers, so neither server
/// can store them as integers.
fn values(i: u64) -> ([u8; 8], [u8; 8]) {
    let mut a = *b"v0000000";
    let mut b = *b"w0000000";
    let (mut x, mut y) = (i % 10_000_000, (i * 7_919) % 10_000_000);
    for k in (1..8).rev() {
        a[k] = b'0' + (x % 10) as u8;
        b[k] = b'0' + (y % 10) as u8;
        x /= 10;
        y /= 10;
    }
    (a, b)
}

fn xadd_entry(out: &mut Vec<u8>, key: &[u8], i: u64) {
    let (a, b) = values(i);
    encode_into(out, &[b"XADD", key, b"*", b"f1", &a, b"f2", &b]);
}

/// XADDs `entries` entries round-robin over `keys`, `pipeline` at a time.
fn load(c: &mut Conn, keys: &[Vec<u8>], entries: u64, pipeline: usize) {
    let mut req = Vec::with_capacity(pipeline * 80);
    let mut i = 0u64;
    while i < entries {
        req.clear();
        let batch = (entries - i).min(pipeline as u64);
        for j in 0..batch {
            xadd_entry(&mut req, &keys[((i + j) % keys.len() as u64) as usize], i + j);
        }
        c.send(&req);
        for _ in 0..batch {
            let n = c.next_len();
            let (v, _) = parse(&c.buf[c.pos..c.pos + n]).unwrap();
            check(&v, "XADD");
            c.pos += n;
        }
        i += batch;
    }
}

fn del(c: &mut Conn, keys: &[Vec<u8>]) {
    for chunk in keys.chunks(100) {
        let mut args: Vec<&[u8]> = vec![b"DEL"];
        args.extend(chunk.iter().map(|k| k.as_slice()));
        c.call(&args);
    }
}

fn keys(prefix: &str, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{prefix}{i}").into_bytes()).collect()
}

fn cmd_fill(o: &Opts) {
    let pid = o.pid.expect("fill needs --pid");
    let mut c = Conn::connect(o.port);
    let keys = keys("bench:mem:", o.streams);
    del(&mut c, &keys);
    thread::sleep(Duration::from_millis(500));
    let before = rss_kb(pid);
    let t0 = Instant::now();
    load(&mut c, &keys, o.entries, o.pipeline);
    let secs = t0.elapsed().as_secs_f64();
    thread::sleep(Duration::from_millis(500));
    let after = rss_kb(pid);
    let mut xlen = 0;
    for k in &keys {
        xlen += c.call_int(&[b"XLEN", k]);
    }
    if xlen as u64 != o.entries {
        eprintln!("streams_bench: XLEN total {xlen}, expected {}", o.entries);
        std::process::exit(1);
    }
    println!(
        "RESULT workload=fill streams={} entries={} xlen={} seconds={:.3} entries_per_s={:.0} \
         rss_before_kb={} rss_after_kb={} bytes_per_entry={:.1}",
        o.streams,
        o.entries,
        xlen,
        secs,
        o.entries as f64 / secs,
        before,
        after,
        (after as f64 - before as f64) * 1024.0 / o.entries as f64
    );
}

fn cmd_xadd(o: &Opts) {
    let keys = Arc::new(keys("bench:xadd:", o.streams));
    let mut c = Conn::connect(o.port);
    del(&mut c, &keys);
    let sh = Shared::new();
    let threads = (0..o.conns)
        .map(|t| {
            let (sh, keys, o) = (sh.clone(), keys.clone(), o.clone());
            thread::spawn(move || xadd_loop(&o, t, &keys, &sh))
        })
        .collect();
    let iv = measure(o, &sh, threads);
    // Every acknowledged XADD must be in a stream.
    let mut xlen = 0;
    for k in keys.iter() {
        xlen += c.call_int(&[b"XLEN", k]);
    }
    let missing = sh.ops.load(Ordering::SeqCst) as i64 - xlen;
    del(&mut c, &keys);
    let h = sh.hist.lock().unwrap();
    println!(
        "RESULT workload=xadd missing={missing} conns={} streams={} pipeline={} seconds={:.3} ops={} ops_per_s={:.0} {} \
         cpu_us_per_op={}",
        o.conns,
        o.streams,
        o.pipeline,
        iv.seconds,
        iv.ops,
        iv.ops as f64 / iv.seconds,
        percentiles(&h),
        per(iv.cpu_us, iv.ops)
    );
}

/// One connection: batches of `pipeline` XADDs, each timed from the write of
/// its batch to the parse of its reply.
fn xadd_loop(o: &Opts, t: usize, keys: &[Vec<u8>], sh: &Shared) {
    let mut c = Conn::connect(o.port);
    let mut local = new_hist();
    let mut req = Vec::with_capacity(o.pipeline * 80);
    let mut next = t as u64;
    while !sh.stop.load(Ordering::Relaxed) {
        req.clear();
        for _ in 0..o.pipeline {
            xadd_entry(&mut req, &keys[(next % keys.len() as u64) as usize], next);
            next += 1;
        }
        let sent = Instant::now();
        c.send(&req);
        let mut got = 0;
        while got < o.pipeline {
            let mut parsed = 0;
            while let Some((v, n)) = parse(&c.buf[c.pos..]) {
                check(&v, "XADD");
                c.pos += n;
                parsed += 1;
                if got + parsed == o.pipeline {
                    break;
                }
            }
            if parsed > 0 && sh.measuring.load(Ordering::Relaxed) {
                let ns = sent.elapsed().as_nanos() as u64;
                local.record_n(ns.max(1), parsed as u64).unwrap_or(());
            }
            got += parsed;
            if got < o.pipeline {
                c.fill();
            }
        }
        sh.ops.fetch_add(o.pipeline as u64, Ordering::Relaxed);
        if local.len() > 100_000 {
            sh.merge(&mut local);
        }
    }
    sh.merge(&mut local);
}

fn cmd_xreadgroup(o: &Opts) {
    let key = XRG_KEY.to_vec();
    let mut c = Conn::connect(o.port);
    del(&mut c, std::slice::from_ref(&key));
    let t0 = Instant::now();
    load(&mut c, std::slice::from_ref(&key), o.entries, o.pipeline);
    let fill_secs = t0.elapsed().as_secs_f64();
    c.call(&[b"XGROUP", b"CREATE", &key, GROUP, b"0"]);
    let sh = Shared::new();
    let threads = (0..o.consumers)
        .map(|k| {
            let (sh, o) = (sh.clone(), o.clone());
            thread::spawn(move || xreadgroup_loop(&o, k, &sh))
        })
        .collect();
    let iv = measure(o, &sh, threads);
    let exhausted = sh.exhausted.load(Ordering::SeqCst);
    del(&mut c, std::slice::from_ref(&key));
    let h = sh.hist.lock().unwrap();
    println!(
        "RESULT workload=xreadgroup consumers={} count={} prefill={} prefill_s={:.3} seconds={:.3} \
         entries={} entries_per_s={:.0} calls={} {} cpu_us_per_entry={} rewinds={} exhausted={}",
        o.consumers,
        o.count,
        o.entries,
        fill_secs,
        iv.seconds,
        iv.ops,
        iv.ops as f64 / iv.seconds,
        iv.aux,
        percentiles(&h),
        per(iv.cpu_us, iv.ops),
        sh.rewinds.load(Ordering::SeqCst),
        exhausted as u8
    );
}

/// The entries `[[id, [field, value, ...]], ...]` of the first stream in an
/// XREAD/XREADGROUP reply, or `None` for a nil or empty reply.
fn entries_of<'a>(v: &'a Val<'a>) -> Option<&'a [Val<'a>]> {
    let Val::Arr(streams) = v else { return None };
    let Val::Arr(kv) = streams.first()? else {
        panic!("malformed stream reply")
    };
    match kv.get(1) {
        Some(Val::Arr(es)) if !es.is_empty() => Some(es),
        _ => None,
    }
}

fn entry_id<'a>(e: &'a Val<'a>) -> &'a [u8] {
    match e {
        Val::Arr(p) => match p.first() {
            Some(Val::Str(id)) => id,
            _ => panic!("malformed stream entry"),
        },
        _ => panic!("malformed stream entry"),
    }
}

/// One consumer: XACK of the previous batch and the next XREADGROUP in one
/// write; stops when the stream has nothing left for the group.
fn xreadgroup_loop(o: &Opts, k: usize, sh: &Shared) {
    let mut c = Conn::connect(o.port);
    let consumer = format!("c{k}").into_bytes();
    let count = o.count.to_string().into_bytes();
    let mut read_cmd = Vec::new();
    encode_into(
        &mut read_cmd,
        &[
            b"XREADGROUP",
            b"GROUP",
            GROUP,
            &consumer,
            b"COUNT",
            &count,
            b"STREAMS",
            XRG_KEY,
            b">",
        ],
    );
    let mut local = new_hist();
    let mut ack: Vec<u8> = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        let acking = !ack.is_empty();
        ack.extend_from_slice(&read_cmd);
        let sent = Instant::now();
        c.send(&ack);
        ack.clear();
        if acking {
            let n = c.next_len();
            let (v, _) = parse(&c.buf[c.pos..c.pos + n]).unwrap();
            check(&v, "XACK");
            c.pos += n;
        }
        let n = c.next_len();
        let ns = sent.elapsed().as_nanos() as u64;
        let (v, _) = parse(&c.buf[c.pos..c.pos + n]).unwrap();
        check(&v, "XREADGROUP");
        let Some(es) = entries_of(&v) else {
            // The group has read the whole stream: rewind it so that the run
            // lasts its full time, or end the measurement early if the server
            // cannot.
            c.pos += n;
            let mut setid = Vec::new();
            encode_into(&mut setid, &[b"XGROUP", b"SETID", XRG_KEY, GROUP, b"0"]);
            c.send(&setid);
            let n = c.next_len();
            let ok = !matches!(parse(&c.buf[c.pos..c.pos + n]), Some((Val::Err(_), _)));
            c.pos += n;
            if !ok {
                sh.exhausted.store(true, Ordering::SeqCst);
                break;
            }
            sh.rewinds.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let mut args: Vec<&[u8]> = Vec::with_capacity(es.len() + 3);
        args.extend([b"XACK" as &[u8], XRG_KEY, GROUP]);
        args.extend(es.iter().map(entry_id));
        encode_into(&mut ack, &args);
        let got = es.len() as u64;
        drop(args);
        drop(v);
        c.pos += n;
        if sh.measuring.load(Ordering::Relaxed) {
            local.record(ns.max(1)).unwrap_or(());
        }
        sh.ops.fetch_add(got, Ordering::Relaxed);
        sh.aux.fetch_add(1, Ordering::Relaxed);
    }
    sh.merge(&mut local);
}

fn cmd_latency(o: &Opts) {
    let mut c = Conn::connect(o.port);
    c.call(&[b"DEL", LAT_KEY]);
    if o.group_mode {
        c.call(&[b"XGROUP", b"CREATE", LAT_KEY, GROUP, b"$", b"MKSTREAM"]);
    }
    let sh = Shared::new();
    // Readers, dealt over threads that poll their sockets.
    let mut groups: Vec<Vec<Reader>> = (0..o.threads).map(|_| Vec::new()).collect();
    for r in 0..o.readers {
        let mut reader = Reader {
            c: Conn::connect(o.port),
            consumer: format!("c{r}").into_bytes(),
            last_id: b"$".to_vec(),
        };
        let mut req = Vec::new();
        reader.request(o.group_mode, &[], &mut req);
        reader.c.send(&req);
        reader.c.s.set_nonblocking(true).unwrap();
        groups[r % o.threads].push(reader);
    }
    let mut threads: Vec<_> = groups
        .into_iter()
        .map(|rs| {
            let (sh, group_mode) = (sh.clone(), o.group_mode);
            thread::spawn(move || read_loop(rs, group_mode, &sh))
        })
        .collect();
    // Let every reader block before the first entry.
    thread::sleep(Duration::from_millis(200));
    let (port, rate) = (o.port, o.rate);
    let producer = {
        let sh = sh.clone();
        thread::spawn(move || produce(port, rate, &sh))
    };
    threads.push(producer);
    let iv = measure(o, &sh, threads);
    c.call(&[b"DEL", LAT_KEY]);
    // The readers drained before they stopped, so every entry produced must
    // have reached every reader (xread) or one reader (group).
    let produced = sh.aux.load(Ordering::SeqCst);
    let delivered = sh.ops.load(Ordering::SeqCst);
    if delivered == 0 {
        eprintln!("streams_bench: no entry was delivered to any reader");
        std::process::exit(1);
    }
    let expected = if o.group_mode {
        produced
    } else {
        produced * o.readers as u64
    };
    let missing = expected as i64 - delivered as i64;
    let h = sh.hist.lock().unwrap();
    // ops = deliveries (one per reader per entry with XREAD), aux = entries produced.
    println!(
        "RESULT workload=latency missing={missing} mode={} readers={} rate={} seconds={:.3} produced={} produced_per_s={:.0} \
         deliveries={} deliveries_per_s={:.0} {} cpu_us_per_delivery={} cpu_us_per_entry={}",
        if o.group_mode { "group" } else { "xread" },
        o.readers,
        o.rate,
        iv.seconds,
        iv.aux,
        iv.aux as f64 / iv.seconds,
        iv.ops,
        iv.ops as f64 / iv.seconds,
        percentiles(&h),
        per(iv.cpu_us, iv.ops),
        per(iv.cpu_us, iv.aux)
    );
}

/// The producer: XADDs at `rate` entries/s on a fixed schedule, each entry
/// stamped with the time it is written. When it falls behind, it sends the
/// entries that are due in one batch.
fn produce(port: u16, rate: u64, sh: &Shared) {
    let mut c = Conn::connect(port);
    let t0 = Instant::now();
    let mut sent = 0u64;
    let mut req = Vec::with_capacity(64 * 80);
    while !sh.stop.load(Ordering::Relaxed) {
        let elapsed = t0.elapsed();
        let due = (elapsed.as_nanos() as u64).saturating_mul(rate) / 1_000_000_000 + 1;
        if due <= sent {
            let next_ns = sent * 1_000_000_000 / rate;
            let wait = next_ns.saturating_sub(t0.elapsed().as_nanos() as u64);
            if wait > 60_000 {
                thread::sleep(Duration::from_nanos(wait - 50_000));
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        let batch = (due - sent).min(64);
        req.clear();
        let ts = sh.now_ns().to_string().into_bytes();
        for j in 0..batch {
            let (a, _) = values(sent + j);
            encode_into(&mut req, &[b"XADD", LAT_KEY, b"*", b"ts", &ts, b"f2", &a]);
        }
        c.send(&req);
        for _ in 0..batch {
            let n = c.next_len();
            let (v, _) = parse(&c.buf[c.pos..c.pos + n]).unwrap();
            check(&v, "XADD");
            c.pos += n;
        }
        sent += batch;
        sh.aux.fetch_add(batch, Ordering::Relaxed);
    }
}

/// One blocked reader connection.
struct Reader {
    c: Conn,
    consumer: Vec<u8>,
    last_id: Vec<u8>,
}

impl Reader {
    /// The next request: `XREAD BLOCK 0 STREAMS s <last id>`, or XACK of
    /// `ids` plus `XREADGROUP GROUP g cN BLOCK 0 STREAMS s >`.
    fn request(&self, group_mode: bool, ids: &[&[u8]], out: &mut Vec<u8>) {
        if group_mode {
            if !ids.is_empty() {
                let mut args: Vec<&[u8]> = vec![b"XACK", LAT_KEY, GROUP];
                args.extend_from_slice(ids);
                encode_into(out, &args);
            }
            encode_into(
                out,
                &[
                    b"XREADGROUP",
                    b"GROUP",
                    GROUP,
                    &self.consumer,
                    b"BLOCK",
                    b"0",
                    b"STREAMS",
                    LAT_KEY,
                    b">",
                ],
            );
        } else {
            encode_into(out, &[b"XREAD", b"BLOCK", b"0", b"STREAMS", LAT_KEY, &self.last_id]);
        }
    }
}

/// Writes all of `bytes` to a non-blocking socket.
fn write_nb(s: &mut TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match s.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => thread::sleep(Duration::from_micros(20)),
            Err(e) => panic!("write: {e}"),
        }
    }
}

fn read_loop(mut rs: Vec<Reader>, group_mode: bool, sh: &Shared) {
    let mut local = new_hist();
    let mut fds: Vec<libc::pollfd> = rs
        .iter()
        .map(|r| libc::pollfd {
            fd: r.c.s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut req = Vec::new();
    let mut idle_after_stop = 0;
    loop {
        // SAFETY: `fds` is a valid array of pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if n <= 0 {
            if sh.stop.load(Ordering::Relaxed) {
                idle_after_stop += 1;
                if idle_after_stop > 4 {
                    break;
                }
            }
            continue;
        }
        let mut count = 0u64;
        for (i, r) in rs.iter_mut().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            loop {
                match r.c.s.read(&mut r.c.tmp) {
                    Ok(0) => panic!("server closed a reader"),
                    Ok(n) => r.c.buf.extend_from_slice(&r.c.tmp[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            let now = sh.now_ns();
            let measuring = sh.measuring.load(Ordering::Relaxed);
            let mut pos = 0;
            while let Some((v, n)) = parse(&r.c.buf[pos..]) {
                pos += n;
                match check(&v, "XREAD") {
                    Val::Int(_) => continue, // XACK's reply
                    Val::Nil => panic!("BLOCK 0 returned nil"),
                    _ => {}
                }
                let Some(es) = entries_of(&v) else { continue };
                let mut ids: Vec<&[u8]> = Vec::with_capacity(es.len());
                for e in es {
                    let Val::Arr(p) = e else { panic!("malformed entry") };
                    let Some(Val::Arr(fields)) = p.get(1) else {
                        panic!("malformed entry")
                    };
                    let ts = fields
                        .chunks(2)
                        .find_map(|kv| match kv {
                            [Val::Str(b"ts"), Val::Str(t)] => Some(num(t) as u64),
                            _ => None,
                        })
                        .expect("entry without ts");
                    if measuring {
                        local.record(now.saturating_sub(ts).max(1)).unwrap_or(());
                    }
                    ids.push(entry_id(e));
                }
                count += es.len() as u64;
                req.clear();
                if !group_mode {
                    r.last_id = ids.last().unwrap().to_vec();
                }
                r.request(group_mode, &ids, &mut req);
                write_nb(&mut r.c.s, &req);
            }
            r.c.buf.drain(..pos);
        }
        sh.ops.fetch_add(count, Ordering::Relaxed);
        if local.len() > 100_000 {
            sh.merge(&mut local);
        }
    }
    sh.merge(&mut local);
}

fn main() {
    let o = opts();
    match o.cmd.as_str() {
        "fill" => cmd_fill(&o),
        "xadd" => cmd_xadd(&o),
        "xreadgroup" => cmd_xreadgroup(&o),
        "latency" => cmd_latency(&o),
        other => {
            eprintln!("streams_bench: unknown workload {other} (fill, xadd, xreadgroup, latency)");
            std::process::exit(2);
        }
    }
}
