//! Cache-tier load generator for `bench/cache`.
//!
//! A cache-aside client over a Zipfian key space larger than the server's
//! `maxmemory`: each connection sends `--pipeline` GETs of keys drawn from a
//! Zipf distribution (exponent `--zipf`, ranks 1..=`--keys`), reads the
//! replies, and SETs every key that missed (value of `--value-min` to
//! `--value-max` bytes, the size fixed per key), pipelined, before the next
//! batch. Hits and misses are counted.
//!
//! Phases: *fill* runs until the server reports `evicted_keys > 0`; *warm-up*
//! goes on for `--warmup` seconds; the *measured* phase lasts `--seconds`.
//! The generator prints progress each second to stderr and one line,
//! `RESULT key=value ...`, to stdout, which the bash driver parses.
//!
//! While it runs, a monitor thread reads the server's VmRSS (`/proc/PID/status`,
//! plus live children in case PID is a wrapper) every `--sample-ms` and
//! `INFO memory` / `INFO stats` every `--info-ms` on its own connection.
//! Peaks are kept for the measured phase and for the whole run. CPU is
//! utime + stime of `/proc/PID/stat` over the measured phase.
//!
//! The Zipf sampler is rejection-inversion (Hörmann and Derflinger, "Rejection-
//! inversion to generate variates from monotone discrete distributions", 1996):
//! O(1) per draw, no table. Each connection has its own xorshift generator
//! seeded from `--seed` and its index, so a run is reproducible up to the
//! interleaving of connections. Ranks are mapped to key ids by a fixed
//! permutation (`id = (rank * A) mod keys`), so the hottest keys are spread
//! over the id space.
//!
//! ```text
//! cargo run --release --example cache_bench -- --port 6379 --pid PID --keys 4000000 \
//!     --maxmemory 268435456 --warmup 20 --seconds 20
//! ```

#[path = "common/procstat.rs"]
mod procstat;

use procstat::{cpu_us, rss_kb};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Opts {
    port: u16,
    pid: Option<u32>,
    clk_tck: u64,
    keys: u64,
    value_min: usize,
    value_max: usize,
    zipf: f64,
    seed: u64,
    conns: usize,
    pipeline: usize,
    warmup: f64,
    seconds: f64,
    fill_timeout: f64,
    sample_ms: u64,
    info_ms: u64,
    maxmemory: u64,
    flush: bool,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let mut o = Opts {
        port: 6379,
        pid: None,
        clk_tck: hz,
        keys: 1_000_000,
        value_min: 100,
        value_max: 1000,
        zipf: 0.99,
        seed: 1,
        conns: 4,
        pipeline: 16,
        warmup: 20.0,
        seconds: 20.0,
        fill_timeout: 120.0,
        sample_ms: 100,
        info_ms: 100,
        maxmemory: 0,
        flush: true,
    };
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--no-flush" {
            o.flush = false;
            i += 1;
            continue;
        }
        if args[i] == "-h" || args[i] == "--help" {
            eprintln!(
                "usage: cache_bench --port P [--pid PID] [--clk-tck N] [--keys N] [--value-min B] [--value-max B]"
            );
            eprintln!("         [--zipf S] [--seed N] [--conns N] [--pipeline N] [--warmup S] [--seconds S]");
            eprintln!("         [--fill-timeout S] [--sample-ms MS] [--info-ms MS] [--maxmemory BYTES] [--no-flush]");
            std::process::exit(0);
        }
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let bad = |name: &str| -> ! {
            eprintln!("cache_bench: bad value {v:?} for {name}");
            std::process::exit(2)
        };
        match args[i].as_str() {
            "--port" => o.port = v.parse().unwrap_or_else(|_| bad("--port")),
            "--pid" => o.pid = Some(v.parse().unwrap_or_else(|_| bad("--pid"))),
            "--clk-tck" => o.clk_tck = v.parse().unwrap_or_else(|_| bad("--clk-tck")),
            "--keys" => o.keys = v.parse().unwrap_or_else(|_| bad("--keys")),
            "--value-min" => o.value_min = v.parse().unwrap_or_else(|_| bad("--value-min")),
            "--value-max" => o.value_max = v.parse().unwrap_or_else(|_| bad("--value-max")),
            "--zipf" => o.zipf = v.parse().unwrap_or_else(|_| bad("--zipf")),
            "--seed" => o.seed = v.parse().unwrap_or_else(|_| bad("--seed")),
            "--conns" => o.conns = v.parse().unwrap_or_else(|_| bad("--conns")),
            "--pipeline" => o.pipeline = v.parse().unwrap_or_else(|_| bad("--pipeline")),
            "--warmup" => o.warmup = v.parse().unwrap_or_else(|_| bad("--warmup")),
            "--seconds" => o.seconds = v.parse().unwrap_or_else(|_| bad("--seconds")),
            "--fill-timeout" => o.fill_timeout = v.parse().unwrap_or_else(|_| bad("--fill-timeout")),
            "--sample-ms" => o.sample_ms = v.parse().unwrap_or_else(|_| bad("--sample-ms")),
            "--info-ms" => o.info_ms = v.parse().unwrap_or_else(|_| bad("--info-ms")),
            "--maxmemory" => o.maxmemory = v.parse().unwrap_or_else(|_| bad("--maxmemory")),
            other => {
                eprintln!("cache_bench: unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    if o.keys < 2 || o.value_min == 0 || o.value_max < o.value_min || o.zipf <= 0.0 {
        eprintln!("cache_bench: need --keys >= 2, 0 < --value-min <= --value-max, --zipf > 0");
        std::process::exit(2);
    }
    o.conns = o.conns.max(1);
    o.pipeline = o.pipeline.max(1);
    o.sample_ms = o.sample_ms.max(10);
    o.info_ms = o.info_ms.max(10);
    o
}

// ---------------------------------------------------------------- random numbers

/// splitmix64: seeds, and the per-key hash that fixes a key's value size.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix(seed).max(1))
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Zipf over ranks 1..=n, P(k) proportional to k^-s, by rejection-inversion.
///
/// With h(x) = x^-s and its antiderivative H, a draw inverts H at a uniform
/// point between H(1.5) - 1 and H(n + 0.5), rounds to the nearest rank k and
/// accepts k if the point lies under the step of height h(k) (always true
/// when k is close enough to the continuous draw, which is the common case).
struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    squeeze: f64,
}

/// log(1 + x) / x, accurate near 0.
fn log1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (exp(x) - 1) / x, accurate near 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

impl Zipf {
    fn new(n: u64, s: f64) -> Zipf {
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            squeeze: 0.0,
        };
        z.h_x1 = z.big_h(1.5) - 1.0;
        z.h_n = z.big_h(n as f64 + 0.5);
        z.squeeze = 2.0 - z.big_h_inv(z.big_h(2.5) - z.h(2.0));
        z
    }

    /// h(x) = x^-s.
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// H(x) = (x^(1-s) - 1) / (1 - s), or ln x when s = 1.
    fn big_h(&self, x: f64) -> f64 {
        let l = x.ln();
        expm1_over_x((1.0 - self.s) * l) * l
    }

    fn big_h_inv(&self, y: f64) -> f64 {
        let t = (y * (1.0 - self.s)).max(-1.0);
        (log1p_over_x(t) * y).exp()
    }

    /// A rank in 1..=n.
    fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_n + rng.next_f64() * (self.h_x1 - self.h_n);
            let x = self.big_h_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.big_h(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }
}

/// Sum of k^-s for k in 1..=n, and the prefix sums at the given ranks.
fn zipf_mass(n: u64, s: f64, at: &[u64]) -> (f64, Vec<f64>) {
    let mut sum = 0.0;
    let mut out = vec![0.0; at.len()];
    for k in 1..=n {
        sum += (-s * (k as f64).ln()).exp();
        for (i, &a) in at.iter().enumerate() {
            if a == k {
                out[i] = sum;
            }
        }
    }
    (sum, out)
}

/// Maps Zipf ranks 1..=n to key ids 0..n by multiplying with a constant
/// prime to n (a bijection), so the hot keys are spread over the id space.
struct Perm {
    n: u64,
    a: u64,
}

impl Perm {
    fn new(n: u64) -> Perm {
        let gcd = |mut a: u64, mut b: u64| {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        };
        let mut a = (2_654_435_761 % n).max(1);
        while gcd(a, n) != 1 {
            a = a % (n - 1) + 1;
        }
        Perm { n, a }
    }

    fn id(&self, rank: u64) -> u64 {
        (((rank - 1) as u128 * self.a as u128) % self.n as u128) as u64
    }
}

// ---------------------------------------------------------------- RESP

fn push_decimal(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

fn push_bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'$');
    push_decimal(out, b.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// The key of id `id`: `key:<id>`.
fn key_of(buf: &mut Vec<u8>, id: u64) {
    buf.clear();
    buf.extend_from_slice(b"key:");
    push_decimal(buf, id);
}

fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    push_decimal(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for a in args {
        push_bulk(out, a);
    }
}

/// One top-level reply, as much as this bench needs to know about it.
#[derive(Debug, PartialEq)]
enum Reply {
    /// A bulk or simple string (its bytes are not kept).
    Str,
    Nil,
    Int(i64),
    Err(String),
    /// An array (its elements are skipped).
    Arr,
}

fn parse_num(b: &[u8]) -> i64 {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad number in reply: {:?}", String::from_utf8_lossy(b)))
}

/// Parses the reply at the start of `b`: the reply and its length, or `None`
/// if it is not complete yet. Nested aggregates are skipped.
fn parse(b: &[u8]) -> Option<(Reply, usize)> {
    let cr = memchr::memchr(b'\r', b)?;
    if cr + 1 >= b.len() {
        return None;
    }
    let head = &b[1..cr];
    let next = cr + 2;
    match b[0] {
        b'+' => Some((Reply::Str, next)),
        b'-' => Some((Reply::Err(String::from_utf8_lossy(head).into_owned()), next)),
        b':' => Some((Reply::Int(parse_num(head)), next)),
        b'_' => Some((Reply::Nil, next)),
        b'$' => {
            let n = parse_num(head);
            if n < 0 {
                return Some((Reply::Nil, next));
            }
            let end = next + n as usize + 2;
            (b.len() >= end).then_some((Reply::Str, end))
        }
        b'*' => {
            let n = parse_num(head);
            if n < 0 {
                return Some((Reply::Nil, next));
            }
            let mut pos = next;
            for _ in 0..n {
                let (_, len) = parse(&b[pos..])?;
                pos += len;
            }
            Some((Reply::Arr, pos))
        }
        other => panic!("unexpected reply type byte {:?}", other as char),
    }
}

/// A connection with a read buffer; replies are consumed from the front.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| {
            eprintln!("cache_bench: connect to port {port}: {e}");
            std::process::exit(1)
        });
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: vec![0; 1 << 18],
            pos: 0,
            len: 0,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("write to server");
    }

    /// The next reply, reading (blocking) until it is complete.
    fn reply(&mut self) -> Reply {
        loop {
            if let Some((r, n)) = parse(&self.buf[self.pos..self.len]) {
                self.pos += n;
                return r;
            }
            self.fill();
        }
    }

    /// Reads more bytes after the unparsed rest, which is moved to the
    /// front first (the buffer grows when the rest fills it).
    fn fill(&mut self) {
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        if self.len == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.s.read(&mut self.buf[self.len..]).expect("read from server");
        if n == 0 {
            eprintln!("cache_bench: server closed the connection");
            std::process::exit(1);
        }
        self.len += n;
    }

    /// The next reply's bulk string, copied (for INFO).
    fn reply_bytes(&mut self) -> Vec<u8> {
        loop {
            let b = &self.buf[self.pos..self.len];
            if let Some((r, n)) = parse(b) {
                let out = match r {
                    Reply::Str if b[0] == b'$' => {
                        let cr = memchr::memchr(b'\r', b).unwrap();
                        b[cr + 2..n - 2].to_vec()
                    }
                    Reply::Err(e) => {
                        eprintln!("cache_bench: {e}");
                        std::process::exit(1)
                    }
                    _ => Vec::new(),
                };
                self.pos += n;
                return out;
            }
            self.fill();
        }
    }

    fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut req = Vec::new();
        encode(&mut req, args);
        self.send(&req);
        match self.reply() {
            Reply::Err(e) => {
                eprintln!("cache_bench: {} failed: {e}", String::from_utf8_lossy(args[0]));
                std::process::exit(1)
            }
            r => r,
        }
    }

    /// Integer fields of `INFO <section>`, looked up by name.
    fn info(&mut self, section: &str, fields: &[&str]) -> Vec<u64> {
        let mut req = Vec::new();
        encode(&mut req, &[b"INFO", section.as_bytes()]);
        self.send(&req);
        let text = self.reply_bytes();
        let text = String::from_utf8_lossy(&text);
        fields
            .iter()
            .map(|f| {
                text.lines()
                    .find_map(|l| l.strip_prefix(f).and_then(|r| r.strip_prefix(':')))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }
}

// ---------------------------------------------------------------- the load

/// Counters the load threads add to after each batch.
struct Shared {
    gets: AtomicU64,
    hits: AtomicU64,
    sets: AtomicU64,
    set_errors: AtomicU64,
    stop: AtomicBool,
}

/// The cache-aside loop of one connection.
fn load_loop(o: &Opts, index: usize, sh: &Shared) {
    let mut c = Conn::connect(o.port);
    let zipf = Zipf::new(o.keys, o.zipf);
    let perm = Perm::new(o.keys);
    let mut rng = Rng::new(o.seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
    // Values are windows of one fixed pseudo-random buffer (not compressible,
    // not numbers), so a SET allocates nothing here.
    let pool: Vec<u8> = (0..o.value_max + 256)
        .map(|i| b'a' + (mix(i as u64 ^ 0xC0FFEE) % 26) as u8)
        .collect();
    let span = (o.value_max - o.value_min + 1) as u64;
    let mut req = Vec::with_capacity(o.pipeline * (o.value_max + 64));
    let mut key = Vec::with_capacity(32);
    let mut ids = vec![0u64; o.pipeline];
    let mut missed = Vec::with_capacity(o.pipeline);
    while !sh.stop.load(Ordering::Relaxed) {
        req.clear();
        for id in ids.iter_mut() {
            *id = perm.id(zipf.sample(&mut rng));
            key_of(&mut key, *id);
            req.extend_from_slice(b"*2\r\n$3\r\nGET\r\n");
            push_bulk(&mut req, &key);
        }
        c.send(&req);
        missed.clear();
        for &id in &ids {
            match c.reply() {
                Reply::Str => {}
                Reply::Nil => missed.push(id),
                other => {
                    eprintln!("cache_bench: GET: unexpected reply {other:?}");
                    std::process::exit(1);
                }
            }
        }
        let mut errors = 0;
        if !missed.is_empty() {
            req.clear();
            for &id in &missed {
                key_of(&mut key, id);
                let h = mix(id);
                let size = o.value_min + (h % span) as usize;
                let off = ((h >> 32) % 256) as usize;
                req.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
                push_bulk(&mut req, &key);
                push_bulk(&mut req, &pool[off..off + size]);
            }
            c.send(&req);
            for _ in 0..missed.len() {
                match c.reply() {
                    Reply::Str => {}
                    Reply::Err(e) => {
                        // OOM under maxmemory: the cache refused the fill.
                        if errors == 0 && sh.set_errors.load(Ordering::Relaxed) == 0 {
                            eprintln!("cache_bench: SET error: {e}");
                        }
                        errors += 1;
                    }
                    other => {
                        eprintln!("cache_bench: SET: unexpected reply {other:?}");
                        std::process::exit(1);
                    }
                }
            }
        }
        sh.gets.fetch_add(ids.len() as u64, Ordering::Relaxed);
        sh.hits.fetch_add((ids.len() - missed.len()) as u64, Ordering::Relaxed);
        sh.sets.fetch_add(missed.len() as u64, Ordering::Relaxed);
        if errors > 0 {
            sh.set_errors.fetch_add(errors, Ordering::Relaxed);
        }
    }
}

// ---------------------------------------------------------------- monitoring

#[derive(Clone, Copy, Default)]
struct Snap {
    gets: u64,
    hits: u64,
    sets: u64,
    set_errors: u64,
    evicted: u64,
    cpu_us: u64,
}

fn snap(sh: &Shared, evicted: u64, cpu_us: u64) -> Snap {
    Snap {
        gets: sh.gets.load(Ordering::Relaxed),
        hits: sh.hits.load(Ordering::Relaxed),
        sets: sh.sets.load(Ordering::Relaxed),
        set_errors: sh.set_errors.load(Ordering::Relaxed),
        evicted,
        cpu_us,
    }
}

/// Peaks of one phase.
#[derive(Default)]
struct Peaks {
    rss_kb: u64,
    used: u64,
    rss_sum_kb: u64,
    rss_samples: u64,
}

impl Peaks {
    fn rss(&mut self, kb: u64) {
        self.rss_kb = self.rss_kb.max(kb);
        self.rss_sum_kb += kb;
        self.rss_samples += 1;
    }

    fn mean_rss_kb(&self) -> u64 {
        self.rss_sum_kb / self.rss_samples.max(1)
    }
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "-".into()
    } else {
        format!("{:.4}", a as f64 / b as f64)
    }
}

fn main() {
    let o = opts();
    let mut mon = Conn::connect(o.port);
    if o.flush {
        mon.call(&[b"FLUSHALL"]);
    }
    let cpu = |o: &Opts| o.pid.map(|p| cpu_us(p, o.clk_tck)).unwrap_or(0);
    let rss = |o: &Opts| o.pid.map(rss_kb).unwrap_or(0);
    let rss_base_kb = rss(&o);
    let used_base = mon.info("memory", &["used_memory"])[0];
    let evicted_base = mon.info("stats", &["evicted_keys"])[0];

    let sh = Arc::new(Shared {
        gets: AtomicU64::new(0),
        hits: AtomicU64::new(0),
        sets: AtomicU64::new(0),
        set_errors: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let threads: Vec<_> = (0..o.conns)
        .map(|t| {
            let (sh, o) = (sh.clone(), o.clone());
            thread::spawn(move || load_loop(&o, t, &sh))
        })
        .collect();

    // Phases: 0 fill (until the first eviction), 1 warm-up, 2 measured.
    let t0 = Instant::now();
    let mut phase = 0;
    let mut phase_start = t0;
    let mut fill_seconds = 0.0;
    let mut all = Peaks::default();
    let mut measured = Peaks::default();
    let mut start = Snap::default();
    let mut last = snap(&sh, evicted_base, cpu(&o));
    let mut last_print = t0;
    let mut next_info = t0;
    let mut evicted = evicted_base;
    let mut used = used_base;
    let tick = Duration::from_millis(o.sample_ms);
    let mut next = t0 + tick;
    loop {
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        }
        next += tick;
        let now = Instant::now();
        let kb = rss(&o);
        all.rss(kb);
        if phase == 2 {
            measured.rss(kb);
        }
        if now >= next_info {
            next_info = now + Duration::from_millis(o.info_ms);
            used = mon.info("memory", &["used_memory"])[0];
            evicted = mon.info("stats", &["evicted_keys"])[0];
            all.used = all.used.max(used);
            if phase == 2 {
                measured.used = measured.used.max(used);
            }
        }
        if now.duration_since(last_print) >= Duration::from_secs(1) {
            let s = snap(&sh, evicted, cpu(&o));
            let dt = now.duration_since(last_print).as_secs_f64();
            eprintln!(
                "cache_bench: {:5.1}s {} gets/s={:.0} hit={} sets={} evicted={} used={:.1}MiB rss={:.1}MiB{}",
                t0.elapsed().as_secs_f64(),
                ["fill  ", "warmup", "measure"][phase],
                (s.gets - last.gets) as f64 / dt,
                ratio(s.hits - last.hits, s.gets - last.gets),
                s.sets - last.sets,
                s.evicted - last.evicted,
                used as f64 / 1048576.0,
                kb as f64 / 1024.0,
                if s.set_errors > last.set_errors {
                    format!(" set_errors={}", s.set_errors - last.set_errors)
                } else {
                    String::new()
                }
            );
            last = s;
            last_print = now;
        }
        let in_phase = now.duration_since(phase_start).as_secs_f64();
        match phase {
            0 if evicted > evicted_base => {
                fill_seconds = in_phase;
                phase = 1;
                phase_start = now;
            }
            0 if in_phase > o.fill_timeout => {
                eprintln!(
                    "cache_bench: no key evicted after {:.0} s (used_memory {used}); is maxmemory set?",
                    o.fill_timeout
                );
                std::process::exit(1);
            }
            1 if in_phase >= o.warmup => {
                phase = 2;
                phase_start = now;
                measured.rss(kb);
                measured.used = used;
                start = snap(&sh, evicted, cpu(&o));
            }
            2 if in_phase >= o.seconds => break,
            _ => {}
        }
    }
    let seconds = phase_start.elapsed().as_secs_f64();
    // The end: a fresh evicted_keys reading, so the count matches the interval.
    let evicted_end = mon.info("stats", &["evicted_keys"])[0];
    let end = snap(&sh, evicted_end, cpu(&o));
    let rss_end_kb = rss(&o);
    sh.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let used_end = mon.info("memory", &["used_memory"])[0];
    let dbsize = match mon.call(&[b"DBSIZE"]) {
        Reply::Int(n) => n as u64,
        _ => 0,
    };

    let gets = end.gets - start.gets;
    let hits = end.hits - start.hits;
    let sets = end.sets - start.sets;
    let ops = gets + sets;
    let cpu_us = end.cpu_us - start.cpu_us;
    // The best hit ratio any policy could reach holding `dbsize` keys: the
    // probability mass of the `dbsize` most popular keys.
    let (total, top) = zipf_mass(o.keys, o.zipf, &[dbsize.clamp(1, o.keys)]);
    let ideal = top[0] / total;
    let mm = o.maxmemory;
    let of_mm = |kb: u64| {
        if mm == 0 {
            "-".into()
        } else {
            format!("{:.3}", kb as f64 * 1024.0 / mm as f64)
        }
    };
    println!(
        "RESULT keys={} zipf={} value_min={} value_max={} conns={} pipeline={} fill_seconds={:.1} seconds={:.2} \
         gets={gets} hits={hits} sets={sets} set_errors={} hit_ratio={} ideal_hit_ratio={:.4} ops_per_s={:.0} \
         gets_per_s={:.0} cpu_us_per_op={} evicted={} evicted_total={} dbsize={dbsize} bytes_per_key={} \
         used_base={used_base} used_peak={} used_peak_all={} used_end={used_end} rss_base_kb={rss_base_kb} \
         rss_peak_kb={} rss_mean_kb={} rss_peak_all_kb={} rss_end_kb={rss_end_kb} rss_peak_of_maxmemory={} \
         rss_peak_all_of_maxmemory={} maxmemory={mm}",
        o.keys,
        o.zipf,
        o.value_min,
        o.value_max,
        o.conns,
        o.pipeline,
        fill_seconds,
        seconds,
        end.set_errors - start.set_errors,
        ratio(hits, gets),
        ideal,
        ops as f64 / seconds,
        gets as f64 / seconds,
        if ops > 0 && o.pid.is_some() {
            format!("{:.3}", cpu_us as f64 / ops as f64)
        } else {
            "-".into()
        },
        end.evicted - start.evicted,
        end.evicted - evicted_base,
        if dbsize > 0 {
            format!("{:.0}", used_end.saturating_sub(used_base) as f64 / dbsize as f64)
        } else {
            "-".into()
        },
        measured.used,
        all.used,
        measured.rss_kb,
        measured.mean_rss_kb(),
        all.rss_kb,
        of_mm(measured.rss_kb),
        of_mm(all.rss_kb),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_matches_its_distribution() {
        let (n, s) = (1000u64, 0.99);
        let z = Zipf::new(n, s);
        let mut rng = Rng::new(7);
        let mut counts = vec![0u64; n as usize + 1];
        let draws = 2_000_000;
        for _ in 0..draws {
            counts[z.sample(&mut rng) as usize] += 1;
        }
        let (total, _) = zipf_mass(n, s, &[]);
        for k in [1u64, 2, 3, 10, 100, 1000] {
            let want = (-s * (k as f64).ln()).exp() / total * draws as f64;
            let got = counts[k as usize] as f64;
            assert!(
                (got - want).abs() < 5.0 * want.sqrt() + 5.0,
                "rank {k}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn perm_is_a_bijection() {
        for n in [2u64, 10, 97, 1000, 4096] {
            let p = Perm::new(n);
            let mut seen = vec![false; n as usize];
            for r in 1..=n {
                let id = p.id(r) as usize;
                assert!(!seen[id]);
                seen[id] = true;
            }
        }
    }
}
