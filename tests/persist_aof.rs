//! The append-only log against the real binary: kill -9 while clients
//! write, restart, compare; torn tails; transactions; redis-server 7.0
//! loading Spindle's log.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, Server};

use common::AofDir as TempDir;

fn start(dir: &TempDir, fsync: &str, shards: usize) -> Server {
    Server::start_with(
        shards,
        &["--dir", dir.path(), "--appendonly", "yes", "--appendfsync", fsync],
    )
}

/// Clients write monotonically growing values to their own keys until
/// told to stop; returns, per client, the last value acknowledged.
fn write_until_killed(srv: Server, clients: usize, min_acked: u64) -> Vec<u64> {
    write_until_killed_with(srv, clients, min_acked, |i, n| {
        vec!["SET".into(), format!("c:{i}"), n.to_string()]
    })
}

/// [`write_until_killed`] with client `i`'s `n`th command given by `cmd`
/// (answering +OK).
fn write_until_killed_with(
    mut srv: Server,
    clients: usize,
    min_acked: u64,
    cmd: fn(usize, u64) -> Vec<String>,
) -> Vec<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let acked: Vec<Arc<AtomicU64>> = (0..clients).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut threads = Vec::new();
    for (i, a) in acked.iter().enumerate() {
        let (stop, total, a) = (stop.clone(), total.clone(), a.clone());
        let mut raw = srv.raw();
        threads.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let argv = cmd(i, n);
                raw.send(&common::encode(&argv.iter().map(String::as_str).collect::<Vec<_>>()));
                match raw.try_reply() {
                    Some(r) if r == b"+OK\r\n" => {
                        a.store(n, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => break,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while total.load(Ordering::Relaxed) < min_acked && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // kill -9 while the clients still write.
    unsafe_kill(srv.pid());
    let _ = srv.alive();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(srv);
    acked.iter().map(|a| a.load(Ordering::SeqCst)).collect()
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

use common::cmd_text as cmd;

fn get(srv: &Server, key: &str) -> String {
    cmd(&mut srv.raw(), &["GET", key])
}

#[test]
fn always_loses_no_acknowledged_write() {
    let dir = TempDir::new("always");
    let srv = start(&dir, "always", 2);
    let acked = write_until_killed(srv, 4, 400);
    let srv = start(&dir, "always", 2);
    for (i, &n) in acked.iter().enumerate() {
        let got = get(&srv, &format!("c:{i}"));
        let v: u64 = got.parse().unwrap_or(0);
        assert!(v >= n, "client {i}: acknowledged {n}, found {got:?} after the restart");
    }
}

/// Cross-shard MSETs under `always`, kill -9: every acknowledged one is
/// there, and none is there in part (each shard's log holds a part; a
/// part whose twin did not reach the disk is dropped).
#[test]
fn always_cross_shard_writes_are_durable_and_whole() {
    fn pair(i: usize) -> Vec<String> {
        common::keys_on_distinct_shards(&format!("p{i}:"), 2)
    }
    let dir = TempDir::new("always-mset");
    let srv = start(&dir, "always", 2);
    let acked = write_until_killed_with(srv, 4, 400, |i, n| {
        let k = pair(i);
        let n = n.to_string();
        vec!["MSET".into(), k[0].clone(), n.clone(), k[1].clone(), n]
    });
    let srv = start(&dir, "always", 2);
    for (i, &n) in acked.iter().enumerate() {
        let k = pair(i);
        let (a, b) = (get(&srv, &k[0]), get(&srv, &k[1]));
        assert_eq!(a, b, "client {i}: MSET replayed in part");
        let v: u64 = a.parse().unwrap_or(0);
        assert!(v >= n, "client {i}: acknowledged {n}, found {a:?} after the restart");
    }
}

#[test]
fn everysec_reaches_the_disk() {
    let dir = TempDir::new("everysec");
    let srv = start(&dir, "everysec", 2);
    let mut c = srv.raw();
    for i in 0..50 {
        assert_eq!(cmd(&mut c, &["SET", &format!("k{i}"), "v"]), "+OK");
    }
    let incr = dir.incr_files();
    assert_eq!(incr.len(), 2, "a log per shard");
    // The writers get there within their second (no timing asserted: wait).
    eventually("the logs hold the 50 writes", || {
        let all: Vec<u8> = incr.iter().flat_map(|f| std::fs::read(f).unwrap_or_default()).collect();
        (0..50).all(|i| {
            let k = format!("k{i}\r");
            all.windows(k.len()).any(|w| w == k.as_bytes())
        })
    });
    drop(srv);
    let srv = start(&dir, "everysec", 2);
    assert_eq!(cmd(&mut srv.raw(), &["DBSIZE"]), ":50");
}

#[test]
fn torn_tail_is_repaired_and_open_multi_dropped() {
    let dir = TempDir::new("torn");
    let srv = start(&dir, "always", 1);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["SET", "a", "1"]), "+OK");
    drop(c);
    drop(srv);
    let incr = dir.incr();
    let good = std::fs::read(&incr).unwrap();
    // An open MULTI, then a command cut in the middle.
    let mut torn = good.clone();
    torn.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1");
    std::fs::write(&incr, &torn).unwrap();
    let srv = start(&dir, "always", 1);
    assert_eq!(get(&srv, "a"), "1");
    assert_eq!(get(&srv, "b"), "(nil)");
    drop(srv);
    assert_eq!(
        std::fs::read(&incr).unwrap(),
        good,
        "truncated back to the last whole command"
    );
}

#[test]
fn torn_tail_is_fatal_without_aof_load_truncated() {
    let dir = TempDir::new("fatal");
    let srv = start(&dir, "always", 1);
    assert_eq!(cmd(&mut srv.raw(), &["SET", "a", "1"]), "+OK");
    drop(srv);
    let incr = dir.incr();
    let mut b = std::fs::read(&incr).unwrap();
    b.extend_from_slice(b"*2\r\n$3\r\nGET");
    std::fs::write(&incr, &b).unwrap();
    let status = run_to_exit(&dir, &["--aof-load-truncated", "no"]);
    assert!(!status, "a torn log must stop the start-up");
    // Not RESP at all: fatal whatever aof-load-truncated says.
    std::fs::write(&incr, b"+garbage\r\n").unwrap();
    assert!(!run_to_exit(&dir, &[]));
}

/// Starts the server on `dir`'s log expecting it to exit; true if it ran.
fn run_to_exit(dir: &TempDir, extra: &[&str]) -> bool {
    let port = common::free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args([
            "--port",
            &port,
            "--shards",
            "1",
            "--dir",
            dir.path(),
            "--appendonly",
            "yes",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok() {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    true
}

#[test]
fn transactions_and_cross_shard_commands_replay() {
    let dir = TempDir::new("tx");
    let srv = start(&dir, "always", 3);
    let mut c = srv.raw();
    let keys = common::keys_on_distinct_shards("k", 3);
    assert_eq!(
        cmd(&mut c, &["MSET", &keys[0], "1", &keys[1], "2", &keys[2], "3"]),
        "+OK"
    );
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK");
    cmd(&mut c, &["INCR", &keys[0]]);
    cmd(&mut c, &["INCR", &keys[1]]);
    cmd(&mut c, &["SADD", "s", "a", "b", "c"]);
    cmd(&mut c, &["SPOP", "s"]);
    cmd(&mut c, &["EXEC"]);
    assert_eq!(cmd(&mut c, &["RENAME", &keys[2], "renamed"]), "+OK");
    assert_eq!(cmd(&mut c, &["DEL", &keys[0], &keys[1], "none"]), ":2");
    cmd(&mut c, &["RPUSH", "l", "x", "y"]);
    cmd(&mut c, &["BLPOP", "l", "0"]);
    cmd(&mut c, &["SET", "t", "v", "EX", "1000"]);
    let smembers = cmd(&mut c, &["SMEMBERS", "s"]);
    let ttl_before = cmd(&mut c, &["PEXPIRETIME", "t"]);
    drop(c);
    drop(srv);
    let srv = start(&dir, "always", 3);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["GET", "renamed"]), "3");
    assert_eq!(cmd(&mut c, &["EXISTS", &keys[0], &keys[1], &keys[2]]), ":0");
    assert_eq!(
        cmd(&mut c, &["SMEMBERS", "s"]),
        smembers,
        "SPOP replays as the SREM it did"
    );
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "0", "-1"]), "y");
    assert_eq!(
        cmd(&mut c, &["PEXPIRETIME", "t"]),
        ttl_before,
        "relative expiries are logged absolute"
    );
}

#[test]
fn redis_7_loads_spindles_log() {
    let dir = TempDir::new("compat");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    cmd(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    cmd(&mut c, &["SELECT", "3"]);
    cmd(&mut c, &["RPUSH", "l", "1", "2", "3"]);
    cmd(&mut c, &["HSET", "h", "f", "v"]);
    cmd(&mut c, &["SELECT", "0"]);
    cmd(&mut c, &["INCRBYFLOAT", "a", "0.5"]);
    cmd(&mut c, &["XADD", "x", "*", "f", "v"]);
    drop(c);
    drop(srv);
    let port = common::free_port();
    let mut redis = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .args(["--dir", dir.path(), "--appendonly", "yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed");
    let mut r = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && r.is_none() {
        r = std::net::TcpStream::connect(("127.0.0.1", port)).ok();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = common::connect(port);
    let out = (
        cmd(&mut c, &["MGET", "a", "b", "c"]),
        cmd(&mut c, &["XLEN", "x"]),
        cmd(&mut c, &["SELECT", "3"]),
        cmd(&mut c, &["LRANGE", "l", "0", "-1"]),
        cmd(&mut c, &["HGET", "h", "f"]),
    );
    let _ = redis.kill();
    let _ = redis.wait();
    assert_eq!(out.0, "1.5\n2\n3");
    assert_eq!(out.1, ":1");
    assert_eq!(out.3, "1\n2\n3");
    assert_eq!(out.4, "v");
}

#[test]
fn config_set_appendonly_at_runtime() {
    let dir = TempDir::new("runtime");
    let srv = Server::start_with(1, &["--dir", dir.path()]);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["CONFIG", "GET", "appendonly"]), "appendonly\nno");
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]), "+OK");
    assert!(Path::new(&dir.0).join("appendonlydir/appendonly.aof.manifest").exists());
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]), "+OK");
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendfsync", "always"]), "+OK");
    assert_eq!(cmd(&mut c, &["SET", "k2", "v"]), "+OK");
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "no"]), "+OK");
    let log = std::fs::read(dir.incr()).unwrap();
    assert!(log.windows(2).any(|w| w == b"k2"));
    // With data, turning it on starts a rewrite (tests/aof_rewrite.rs).
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "appendonly", "yes"]), "+OK");
}

#[test]
fn debug_loadaof_replays_the_log() {
    let dir = TempDir::new("loadaof");
    let srv = start(&dir, "everysec", 2);
    let mut c = srv.raw();
    cmd(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    cmd(&mut c, &["LPOP", "l"]);
    cmd(&mut c, &["SET", "n", "1", "PX", "100000"]);
    cmd(&mut c, &["INCRBYFLOAT", "f", "2.5"]);
    let exp = cmd(&mut c, &["PEXPIRETIME", "n"]);
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "+OK");
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "0", "-1"]), "b\nc");
    assert_eq!(cmd(&mut c, &["PEXPIRETIME", "n"]), exp);
    assert_eq!(cmd(&mut c, &["GET", "f"]), "2.5");
    // The replay itself is not logged again.
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "+OK");
    assert_eq!(cmd(&mut c, &["LRANGE", "l", "0", "-1"]), "b\nc");
}
