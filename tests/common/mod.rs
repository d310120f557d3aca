//! Starts the real `spindle` binary on a free port for integration tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server, killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
    /// The server's own `dir` (removed on drop), so no test reads or
    /// leaves a snapshot anywhere else.
    pub dir: std::path::PathBuf,
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "spindle-test-{}-{}-{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temp dir");
    d
}

/// Finds a port nobody listens on.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

impl Server {
    pub fn start(shards: usize) -> Server {
        Server::start_with(shards, &[])
    }

    pub fn start_with(shards: usize, extra: &[&str]) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let dir = temp_dir("srv");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_spindle"));
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--shards",
                &shards.to_string(),
                "--dir",
                dir.to_str().unwrap(),
                "--save",
                "",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            let child = cmd.spawn().expect("start spindle");
            let mut s = Server { port, child, dir };
            if s.wait_ready() {
                return s;
            }
            eprintln!("spindle on port {port} did not answer PING within 20 s; starting another");
        }
        panic!("spindle did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut c) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                if c.write_all(b"PING\r\n").is_ok() {
                    // +PONG, or -NOAUTH when a password is configured.
                    let mut buf = [0u8; 7];
                    if c.read_exact(&mut buf).is_ok() && (&buf == b"+PONG\r\n" || buf.starts_with(b"-NOAUTH")) {
                        return true;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        let conn = c.get_connection().expect("connect with the redis crate");
        conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        conn
    }

    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Raw { s, buf: Vec::new() }
    }

    /// The server's process id (for /proc/PID/status).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A raw RESP connection: send bytes, read whole replies.
pub struct Raw {
    pub s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    pub fn from_stream(s: TcpStream) -> Raw {
        Raw { s, buf: Vec::new() }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match self.s.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Reads one complete reply (any RESP2/RESP3 type) and returns its bytes.
    pub fn reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = reply_len(&self.buf, 0) {
                return self.buf.drain(..n).collect();
            }
            assert!(
                self.fill(),
                "connection closed before a whole reply; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Like [`Raw::reply`], but None when the server closed the connection
    /// or did not answer within the read timeout.
    pub fn try_reply(&mut self) -> Option<Vec<u8>> {
        let mut tmp = [0u8; 65536];
        loop {
            if let Some(n) = reply_len(&self.buf, 0) {
                return Some(self.buf.drain(..n).collect());
            }
            match self.s.read(&mut tmp) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
            }
        }
    }

    pub fn reply_str(&mut self) -> String {
        String::from_utf8_lossy(&self.reply()).into_owned()
    }

    /// Sends a command as a multibulk and returns the reply as text.
    pub fn cmd(&mut self, args: &[&str]) -> String {
        self.send(&encode(args));
        self.reply_str()
    }

    /// True when the server closed the connection (after reading what's left).
    pub fn closed(&mut self) -> bool {
        let mut tmp = [0u8; 1024];
        matches!(self.s.read(&mut tmp), Ok(0) | Err(_))
    }
}

/// A multibulk of byte-string arguments.
#[allow(dead_code)]
pub fn encode_bytes(args: &[Vec<u8>]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// The arguments of a case-file line, in redis-cli quoting.
#[allow(dead_code)]
pub fn split_line(line: &str) -> Vec<Vec<u8>> {
    let mut ranges = Vec::new();
    let mut buf = Vec::new();
    spindle::protocol::parser::split_args(line.as_bytes(), &mut ranges, &mut buf).expect("balanced quotes");
    ranges
        .iter()
        .map(|&(o, l)| buf[o as usize..(o + l) as usize].to_vec())
        .collect()
}

pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn line_end(b: &[u8], from: usize) -> Option<usize> {
    b[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
}

/// Length of the complete reply starting at `at`, if it is all there.
pub fn reply_len(b: &[u8], at: usize) -> Option<usize> {
    if at >= b.len() {
        return None;
    }
    let end = line_end(b, at)?;
    let after = end + 2;
    // Only length headers are parsed; simple strings may hold any bytes.
    let head = || std::str::from_utf8(&b[at + 1..end]).ok();
    match b[at] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after - at),
        b'$' | b'=' | b'!' => {
            let n: i64 = head()?.parse().ok()?;
            if n < 0 {
                return Some(after - at);
            }
            let total = after + n as usize + 2;
            (b.len() >= total).then_some(total - at)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head()?.parse().ok()?;
            if n < 0 {
                return Some(after - at);
            }
            let items = if matches!(b[at], b'%' | b'|') { n * 2 } else { n };
            let mut pos = after;
            for _ in 0..items {
                pos += reply_len(b, pos)?;
            }
            Some(pos - at)
        }
        _ => None,
    }
}

/// `count` keys that all live on different shards of an `shards`-way split.
pub fn keys_on_distinct_shards(prefix: &str, shards: usize) -> Vec<String> {
    let mut out: Vec<Option<String>> = vec![None; shards];
    let mut i = 0;
    while out.iter().any(|k| k.is_none()) {
        let k = format!("{prefix}{i}");
        let s = spindle::shard::slot::key_shard(k.as_bytes(), shards);
        if out[s].is_none() {
            out[s] = Some(k);
        }
        i += 1;
    }
    out.into_iter().map(|k| k.unwrap()).collect()
}

/// A stock `redis-server` (installed by `.ci/run`) on a free port, to
/// compare replies against; killed on drop.
pub struct Redis {
    pub port: u16,
    child: Child,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// A redis-server with extra command-line options (`--name value`).
    pub fn start_with(extra: &[&str]) -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server); .ci/run installs it");
        // Owned from here, so that every path kills and reaps it.
        let redis = Redis { port, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(redis);
        panic!("redis-server did not start");
    }
}

/// A raw connection to any server on `port`.
pub fn connect(port: u16) -> Raw {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    Raw::from_stream(s)
}

/// An INFO clients field.
pub fn info_field(c: &mut redis::Connection, name: &str) -> i64 {
    info_in(c, "clients", name)
}

/// A numeric field of INFO `section`.
pub fn info_in(c: &mut redis::Connection, section: &str, name: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits (without a time assertion) until `blocked_clients` equals `n`.
pub fn wait_blocked(c: &mut redis::Connection, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(c, "blocked_clients") != n {
        assert!(Instant::now() < deadline, "blocked_clients never reached {n}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls `f` until it holds, for at most 20 s (no assertion on timing: the
/// deadline is only a hang guard).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("timed out waiting for: {what}");
}

/// CLIENT LIST's body: one line per client, without the bulk length line.
pub fn client_list(c: &mut Raw) -> String {
    let reply = c.cmd(&["CLIENT", "LIST"]);
    let body = reply.split_once("\r\n").map_or("", |(_, b)| b);
    body.trim_end().to_string()
}

/// The CLIENT LIST line of the client named `name`, if connected.
pub fn client_line(c: &mut Raw, name: &str) -> Option<String> {
    client_list(c)
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .map(String::from)
}

/// The value of `key=` in a CLIENT LIST line ("" when absent).
pub fn client_field(line: &str, key: &str) -> String {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

/// A numeric field of a CLIENT LIST line.
pub fn client_num(line: &str, key: &str) -> u64 {
    client_field(line, key)
        .parse()
        .unwrap_or_else(|_| panic!("no numeric {key} in {line}"))
}

/// A numeric field of INFO `section`, read over a raw connection.
pub fn raw_info_num(c: &mut Raw, section: &str, name: &str) -> u64 {
    let info = c.cmd(&["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// A raw connection named `name` (CLIENT SETNAME).
pub fn named(s: &Server, name: &str) -> Raw {
    let mut c = s.raw();
    assert_eq!(c.cmd(&["CLIENT", "SETNAME", name]), "+OK\r\n");
    c
}

/// Every key of databases `0..dbs` as (db, key, DUMP payload, has a TTL):
/// a whole data set in a comparable form (DUMP is byte-exact per value).
pub fn dataset(c: &mut redis::Connection, dbs: usize) -> Vec<(usize, String, Vec<u8>, bool)> {
    let mut out = Vec::new();
    for db in 0..dbs {
        redis::cmd("SELECT").arg(db).query::<()>(c).unwrap();
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        for k in keys {
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query(c).unwrap();
            let ttl: i64 = redis::cmd("PTTL").arg(&k).query(c).unwrap();
            out.push((db, k, dump, ttl > 0));
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(c).unwrap();
    out
}

/// A reply as text: `+OK`, `:2`, an error line, a bulk's content or
/// `(nil)`, an array's elements one a line.
pub fn reply_text(b: &[u8]) -> String {
    fn one(b: &[u8], at: usize, out: &mut Vec<String>) -> usize {
        let nl = at + b[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let line = String::from_utf8_lossy(&b[at + 1..nl]).into_owned();
        match b[at] {
            b'$' => {
                let n: i64 = line.parse().unwrap();
                if n < 0 {
                    out.push("(nil)".into());
                    return nl + 2;
                }
                let n = n as usize;
                out.push(String::from_utf8_lossy(&b[nl + 2..nl + 2 + n]).into_owned());
                nl + 4 + n
            }
            b'*' => {
                let n: i64 = line.parse().unwrap();
                let mut p = nl + 2;
                for _ in 0..n.max(0) {
                    p = one(b, p, out);
                }
                p
            }
            c => {
                out.push(format!("{}{}", c as char, line));
                nl + 2
            }
        }
    }
    let mut out = Vec::new();
    one(b, 0, &mut out);
    out.join("\n")
}

/// Sends one command and returns its reply as [`reply_text`].
pub fn cmd_text(c: &mut Raw, args: &[&str]) -> String {
    c.send(&encode(args));
    reply_text(&c.reply())
}

/// A server directory for append-only-log tests, removed on drop.
pub struct AofDir(pub std::path::PathBuf);

impl AofDir {
    pub fn new(tag: &str) -> AofDir {
        AofDir(temp_dir(tag))
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The incr file being written (one shard): the last the manifest
    /// names.
    pub fn incr(&self) -> std::path::PathBuf {
        let mut files = self.incr_files();
        assert_eq!(files.len(), 1, "one shard's log");
        files.remove(0)
    }

    /// The incr files being written, one per shard (the manifest's last
    /// generation: a file with `shard <k>/<n>` belongs to a set of `n`).
    pub fn incr_files(&self) -> Vec<std::path::PathBuf> {
        let d = self.0.join("appendonlydir");
        let m = std::fs::read_to_string(d.join("appendonly.aof.manifest")).unwrap();
        let lines: Vec<&str> = m.lines().filter(|l| l.contains(" type i")).collect();
        let last = lines.last().expect("an incr file");
        let n = last
            .split_once(" shard ")
            .map_or(1, |(_, s)| s.split('/').nth(1).unwrap().trim().parse().unwrap());
        lines[lines.len() - n..]
            .iter()
            .map(|l| d.join(l.split(' ').nth(1).unwrap()))
            .collect()
    }
}

impl Drop for AofDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
