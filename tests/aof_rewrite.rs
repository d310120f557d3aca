//! AOF rewrite against the real binary: BGREWRITEAOF writes a base in RDB
//! form and starts a new incr file at its cut; turning the log on over
//! data does the same; the auto-rewrite rule fires on growth. Every state
//! on the way reloads the whole data set, after a clean stop or kill -9.

mod common;

use std::path::{Path, PathBuf};

use common::{eventually, temp_dir, Server};
use redis::Connection;

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn persistence(c: &mut Connection, name: &str) -> String {
    let info: String = q(c, &["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("{name} in {info}"))
}

fn start(dir: &Path, shards: usize, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.to_str().unwrap(), "--appendonly", "yes"];
    args.extend_from_slice(extra);
    Server::start_with(shards, &args)
}

fn dataset(c: &mut Connection) -> Vec<(usize, String, Vec<u8>, bool)> {
    common::dataset(c, 4)
}

fn fill(c: &mut Connection, rounds: usize) {
    for r in 0..rounds {
        for i in 0..100 {
            let _: () = q(c, &["SET", &format!("k{i}"), &format!("{r}-{i}")]);
        }
    }
    let _: i64 = q(c, &["RPUSH", "list", "a", "b", "c"]);
    let _: i64 = q(c, &["HSET", "h", "f", "v", "g", "w"]);
    let _: () = q(c, &["SET", "ttl", "v", "EX", "100000"]);
    let _: () = q(c, &["SELECT", "2"]);
    let _: i64 = q(c, &["ZADD", "z", "1", "a", "2", "b"]);
    let _: () = q(c, &["SELECT", "0"]);
}

/// The manifest's lines.
fn manifest(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    text.lines().map(str::to_string).collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn wait_rewrites(c: &mut Connection, n: u64) {
    eventually("the rewrite", || {
        persistence(c, "aof_rewrite_in_progress") == "0" && persistence(c, "aof_rewrites").parse::<u64>().unwrap() >= n
    });
    assert_eq!(persistence(c, "aof_last_bgrewrite_status"), "ok");
}

#[test]
fn bgrewriteaof_compacts_the_log_and_everything_reloads() {
    let dir: PathBuf = temp_dir("aofrw");
    let before;
    let size_before: u64;
    {
        let srv = start(&dir, 2, &["--appendfsync", "always"]);
        let mut c = srv.client();
        fill(&mut c, 20);
        size_before = persistence(&mut c, "aof_current_size").parse().unwrap();
        before = dataset(&mut c);
        let r: String = q(&mut c, &["BGREWRITEAOF"]);
        assert_eq!(r, "Background append only file rewriting started");
        wait_rewrites(&mut c, 1);
        assert_eq!(
            manifest(&dir),
            [
                "file appendonly.aof.2.base.rdb seq 2 type b",
                "file appendonly.aof.3.incr.aof seq 3 type i shard 0/2",
                "file appendonly.aof.4.incr.aof seq 4 type i shard 1/2"
            ],
            "a new incr file per shard"
        );
        assert_eq!(
            files(&dir),
            [
                "appendonly.aof.2.base.rdb",
                "appendonly.aof.3.incr.aof",
                "appendonly.aof.4.incr.aof",
                "appendonly.aof.manifest"
            ]
        );
        let base = std::fs::read(dir.join("appendonlydir/appendonly.aof.2.base.rdb")).unwrap();
        assert!(base.starts_with(b"REDIS0010"));
        let size_after: u64 = persistence(&mut c, "aof_current_size").parse().unwrap();
        assert!(size_after < size_before / 4, "{size_after} vs {size_before}");
        assert_eq!(persistence(&mut c, "aof_base_size"), size_after.to_string());
        let _: () = q(&mut c, &["SET", "after", "1"]);
    }
    let mut want = before.clone();
    {
        let srv = start(&dir, 3, &[]);
        let mut c = srv.client();
        let after = dataset(&mut c);
        want.push((0, "after".into(), q(&mut c, &["DUMP", "after"]), false));
        want.sort();
        let mut got = after.clone();
        got.sort();
        assert!(got == want, "the reloaded data set differs");
    }
    // redis-server 7.0 loads the rewritten log.
    let redis = common::Redis::start_with(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"]);
    let mut r = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut got = dataset(&mut r);
    got.sort();
    assert!(got == want, "redis-server 7.0 loads a different data set");
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn writes_during_a_rewrite_survive_a_crash_before_and_after_it() {
    for finish in [false, true] {
        let dir = temp_dir("aofrw-crash");
        let want;
        {
            let srv = start(&dir, 2, &["--appendfsync", "always"]);
            let mut c = srv.client();
            fill(&mut c, 3);
            // 100+ keys at 2 ms each: the rewrite outlives the writes below.
            let _: () = q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
            let _: String = q(&mut c, &["BGREWRITEAOF"]);
            assert_eq!(persistence(&mut c, "aof_rewrite_in_progress"), "1");
            let mut raw = srv.raw();
            assert_eq!(
                raw.cmd(&["BGREWRITEAOF"]),
                "-ERR Background append only file rewriting already in progress\r\n"
            );
            assert_eq!(
                raw.cmd(&["BGSAVE"]),
                "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n"
            );
            for i in 0..100 {
                let _: () = q(&mut c, &["SET", &format!("k{i}"), "during"]);
                let _: () = q(&mut c, &["SET", &format!("new{i}"), "x"]);
            }
            let _: i64 = q(&mut c, &["DEL", "list"]);
            if finish {
                let _: () = q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
                wait_rewrites(&mut c, 1);
            } else {
                assert_eq!(persistence(&mut c, "aof_rewrite_in_progress"), "1");
            }
            want = dataset(&mut c);
            // Dropping the server is kill -9.
        }
        let srv = start(&dir, 2, &[]);
        let mut c = srv.client();
        assert!(
            dataset(&mut c) == want,
            "finish={finish}: acknowledged writes were lost"
        );
        drop(srv);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn turning_the_log_on_over_data_writes_a_base() {
    let dir = temp_dir("aofrw-on");
    let want;
    {
        let srv = Server::start_with(2, &["--dir", dir.to_str().unwrap()]);
        let mut c = srv.client();
        fill(&mut c, 2);
        let _: () = q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
        let _: () = q(&mut c, &["SET", "right-after", "1"]);
        wait_rewrites(&mut c, 1);
        assert_eq!(persistence(&mut c, "aof_enabled"), "1");
        let _: () = q(&mut c, &["SET", "later", "2"]);
        let _: () = q(&mut c, &["CONFIG", "SET", "appendfsync", "always"]);
        let _: () = q(&mut c, &["SET", "last", "3"]);
        want = dataset(&mut c);
    }
    let srv = start(&dir, 3, &[]);
    let mut c = srv.client();
    assert!(dataset(&mut c) == want);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_log_is_rewritten_on_its_own_when_it_doubles() {
    let dir = temp_dir("aofrw-auto");
    let srv = start(&dir, 2, &["--auto-aof-rewrite-min-size", "64kb"]);
    let mut c = srv.client();
    let mut raw = srv.raw();
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "auto-aof-rewrite-*"]),
        "*4\r\n$27\r\nauto-aof-rewrite-percentage\r\n$3\r\n100\r\n$25\r\nauto-aof-rewrite-min-size\r\n$5\r\n65536\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "yes"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "no"]),
        "-ERR CONFIG SET failed (possibly related to argument 'aof-use-rdb-preamble') - only 'yes' is supported: AOF bases are written in RDB form\r\n"
    );
    let value = "v".repeat(1000);
    for i in 0..200 {
        let _: () = q(&mut c, &["SET", &format!("k{}", i % 10), &value]);
    }
    wait_rewrites(&mut c, 1);
    let size: u64 = persistence(&mut c, "aof_current_size").parse().unwrap();
    assert!(size < 64 * 1024, "{size}");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Inside EXEC a rewrite is scheduled, as Redis does: the transaction's
/// writes are logged once, after it.
#[test]
fn bgrewriteaof_inside_exec_is_scheduled() {
    let dir = temp_dir("aofrw-exec");
    {
        let srv = start(&dir, 2, &["--appendfsync", "always"]);
        let mut raw = srv.raw();
        assert_eq!(raw.cmd(&["MULTI"]), "+OK\r\n");
        raw.cmd(&["LPUSH", "l", "x"]);
        raw.cmd(&["BGREWRITEAOF"]);
        raw.cmd(&["LPUSH", "l", "y"]);
        assert_eq!(
            raw.cmd(&["EXEC"]),
            "*3\r\n:1\r\n+Background append only file rewriting scheduled\r\n:2\r\n"
        );
        let mut c = srv.client();
        wait_rewrites(&mut c, 1);
    }
    let srv = start(&dir, 2, &[]);
    let mut c = srv.client();
    let l: Vec<String> = q(&mut c, &["LRANGE", "l", "0", "-1"]);
    assert_eq!(l, ["y", "x"]);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With the log off, BGREWRITEAOF writes a base and a manifest and leaves
/// the log off.
#[test]
fn bgrewriteaof_with_the_log_off_leaves_it_off() {
    let dir = temp_dir("aofrw-off");
    let srv = Server::start_with(2, &["--dir", dir.to_str().unwrap()]);
    let mut c = srv.client();
    fill(&mut c, 1);
    let _: String = q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrites(&mut c, 1);
    assert_eq!(persistence(&mut c, "aof_enabled"), "0");
    let _: () = q(&mut c, &["SET", "not-logged", "1"]);
    assert_eq!(manifest(&dir).len(), 3, "a base and two shards' incr files");
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    assert_eq!(std::fs::metadata(incr).unwrap().len(), 0);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
