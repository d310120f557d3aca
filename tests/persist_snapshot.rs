//! Snapshots against the real binary: SAVE/BGSAVE, the load at startup,
//! point-in-time cuts, crash safety, and compatibility with redis-server
//! 7.0 files both ways. Every server runs in its own temp dir.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{temp_dir, Server};
use redis::Connection;

fn start_in(dir: &Path, shards: usize, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    Server::start_with(shards, &args)
}

fn info_field(c: &mut Connection, name: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.to_string()))
        .unwrap_or_else(|| panic!("{name} in {info}"))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

const LIB: &str = "#!lua name=snaplib\nredis.register_function('snapf', function(keys, args) return 42 end)";

/// Writes one key of every type across dbs 0, 1 and 9, some with expiries.
fn populate(c: &mut Connection) {
    let _: () = q(c, &["SET", "str", "hello"]);
    let _: () = q(c, &["SET", "int", "12345"]);
    let _: () = q(c, &["SET", "big", &"x".repeat(5000)]);
    let _: () = q(c, &["SET", "ttl", "v", "PX", "86400000"]);
    let _: i64 = q(c, &["RPUSH", "list", "a", "b", "c", "1", "2"]);
    let _: i64 = q(c, &["SADD", "iset", "1", "2", "3"]);
    let _: i64 = q(c, &["SADD", "sset", "a", "b", "c"]);
    let _: i64 = q(c, &["ZADD", "zs", "1.5", "a", "2", "b", "-3", "c"]);
    let _: i64 = q(c, &["HSET", "h", "f1", "v1", "f2", "v2"]);
    let _: String = q(c, &["XADD", "st", "1-1", "a", "1"]);
    let _: String = q(c, &["XADD", "st", "2-1", "b", "2"]);
    let _: () = q(c, &["XGROUP", "CREATE", "st", "g", "0"]);
    for i in 0..200 {
        let _: () = q(c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    let _: () = q(c, &["SELECT", "1"]);
    let _: i64 = q(c, &["RPUSH", "l1", "x"]);
    let _: () = q(c, &["SET", "s1", "one", "EX", "100000"]);
    let _: () = q(c, &["SELECT", "9"]);
    let _: i64 = q(c, &["HSET", "h9", "a", "b"]);
    let _: () = q(c, &["SELECT", "0"]);
    let _: String = q(c, &["FUNCTION", "LOAD", LIB]);
}

/// The contents `populate` wrote, read back through commands.
fn snapshot_of(c: &mut Connection) -> Vec<String> {
    let mut out = Vec::new();
    let _: () = q(c, &["SELECT", "0"]);
    out.push(q::<String>(c, &["GET", "str"]));
    out.push(q::<String>(c, &["GET", "int"]));
    out.push(q::<String>(c, &["GET", "big"]).len().to_string());
    let ttl: i64 = q(c, &["PTTL", "ttl"]);
    out.push((ttl > 0 && ttl <= 86400000).to_string());
    out.push(format!("{:?}", q::<Vec<String>>(c, &["LRANGE", "list", "0", "-1"])));
    let mut s: Vec<String> = q(c, &["SMEMBERS", "iset"]);
    s.sort();
    out.push(format!("{s:?}"));
    let mut s: Vec<String> = q(c, &["SMEMBERS", "sset"]);
    s.sort();
    out.push(format!("{s:?}"));
    out.push(format!(
        "{:?}",
        q::<Vec<String>>(c, &["ZRANGE", "zs", "0", "-1", "WITHSCORES"])
    ));
    let mut h: Vec<String> = q(c, &["HGETALL", "h"]);
    h.sort();
    out.push(format!("{h:?}"));
    out.push(format!("{:?}", q::<redis::Value>(c, &["XRANGE", "st", "-", "+"])));
    out.push(q::<Vec<redis::Value>>(c, &["XINFO", "GROUPS", "st"]).len().to_string());
    for i in 0..200 {
        out.push(q::<String>(c, &["GET", &format!("k{i}")]));
    }
    out.push(q::<i64>(c, &["DBSIZE"]).to_string());
    let _: () = q(c, &["SELECT", "1"]);
    out.push(format!("{:?}", q::<Vec<String>>(c, &["LRANGE", "l1", "0", "-1"])));
    out.push(q::<String>(c, &["GET", "s1"]));
    out.push((q::<i64>(c, &["TTL", "s1"]) > 0).to_string());
    let _: () = q(c, &["SELECT", "9"]);
    out.push(format!("{:?}", q::<Vec<String>>(c, &["HGETALL", "h9"])));
    let _: () = q(c, &["SELECT", "0"]);
    out
}

#[test]
fn save_then_restart_loads_everything() {
    let dir = temp_dir("snap-save");
    let before = {
        let srv = start_in(&dir, 2, &[]);
        let mut c = srv.client();
        populate(&mut c);
        let _: () = q(&mut c, &["SAVE"]);
        assert!(dir.join("dump.rdb").exists());
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        snapshot_of(&mut c)
    };
    // A different shard count routes every key anew.
    for shards in [1, 3] {
        let srv = start_in(&dir, shards, &[]);
        let mut c = srv.client();
        assert_eq!(snapshot_of(&mut c), before, "{shards} shards");
        let r: i64 = q(&mut c, &["FCALL", "snapf", "0"]);
        assert_eq!(r, 42);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_commands_reply_like_redis() {
    let dir = temp_dir("snap-cmds");
    let srv = start_in(&dir, 2, &[]);
    let mut raw = srv.raw();
    assert_eq!(raw.cmd(&["BGSAVE", "NOW"]), "-ERR syntax error\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "dbfilename"]),
        "*2\r\n$10\r\ndbfilename\r\n$8\r\ndump.rdb\r\n"
    );
    assert!(raw
        .cmd(&["CONFIG", "SET", "save", "100 10 20"])
        .starts_with("-ERR CONFIG SET failed"));
    assert_eq!(raw.cmd(&["CONFIG", "SET", "save", "100 10 20 5"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "save"]),
        "*2\r\n$4\r\nsave\r\n$11\r\n100 10 20 5\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "save", ""]), "+OK\r\n");
    assert!(raw
        .cmd(&["CONFIG", "SET", "dbfilename", "a/b.rdb"])
        .starts_with("-ERR CONFIG SET failed"));
    let last = raw.cmd(&["LASTSAVE"]);
    assert!(last.starts_with(':'), "{last}");
    assert_eq!(raw.cmd(&["SET", "a", "b"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    let mut c = srv.client();
    wait_until("bgsave", || info_field(&mut c, "rdb_bgsave_in_progress") == "0");
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    assert!(dir.join("dump.rdb").exists());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_is_a_point_in_time_cut() {
    let dir = temp_dir("snap-cut");
    {
        let srv = start_in(&dir, 3, &[]);
        let mut c = srv.client();
        for i in 0..300 {
            let _: () = q(&mut c, &["SET", &format!("key:{i}"), "old"]);
        }
        // 300 keys at 2 ms each: the save outlives the writes below.
        let _: () = q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
        let r: String = q(&mut c, &["BGSAVE"]);
        assert_eq!(r, "Background saving started");
        assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
        let mut raw = srv.raw();
        assert_eq!(raw.cmd(&["BGSAVE"]), "-ERR Background save already in progress\r\n");
        for i in 0..300 {
            let _: () = q(&mut c, &["SET", &format!("key:{i}"), "new"]);
        }
        let _: () = q(&mut c, &["SET", "later", "x"]);
        wait_until("bgsave", || info_field(&mut c, "rdb_bgsave_in_progress") == "0");
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        // The writes during the save are not covered by it.
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "301");
    }
    let srv = start_in(&dir, 2, &[]);
    let mut c = srv.client();
    for i in 0..300 {
        assert_eq!(q::<String>(&mut c, &["GET", &format!("key:{i}")]), "old");
    }
    assert_eq!(q::<i64>(&mut c, &["EXISTS", "later"]), 0);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_crash_mid_save_keeps_the_previous_file() {
    let dir = temp_dir("snap-crash");
    {
        let srv = start_in(&dir, 2, &[]);
        let mut c = srv.client();
        let _: () = q(&mut c, &["SET", "gen", "1"]);
        let _: () = q(&mut c, &["SAVE"]);
        for i in 0..200 {
            let _: () = q(&mut c, &["SET", &format!("k{i}"), "v"]);
        }
        let _: () = q(&mut c, &["SET", "gen", "2"]);
        let _: () = q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "100000"]);
        let _: String = q(&mut c, &["BGSAVE"]);
        assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
        // Dropping the server is SIGKILL.
    }
    let srv = start_in(&dir, 2, &[]);
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["GET", "gen"]), "1");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 1);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

fn start_fails(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args([
            "--port",
            &common::free_port().to_string(),
            "--bind",
            "127.0.0.1",
            "--shards",
            "2",
        ])
        .args(["--dir", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_corrupt_or_truncated_file_is_refused() {
    let dir = temp_dir("snap-corrupt");
    {
        let srv = start_in(&dir, 2, &[]);
        let mut c = srv.client();
        populate(&mut c);
        let _: () = q(&mut c, &["SAVE"]);
    }
    let path = dir.join("dump.rdb");
    let good = std::fs::read(&path).unwrap();
    // Truncated.
    std::fs::write(&path, &good[..good.len() - 20]).unwrap();
    let msg = start_fails(&dir);
    assert!(msg.contains("loading the DB"), "{msg}");
    // A flipped byte in a value: the checksum catches it.
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x55;
    std::fs::write(&path, &bad).unwrap();
    let msg = start_fails(&dir);
    assert!(msg.contains("loading the DB"), "{msg}");
    // Not an RDB file at all.
    std::fs::write(&path, b"hello world").unwrap();
    let msg = start_fails(&dir);
    assert!(msg.contains("loading the DB"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_rules_trigger_a_bgsave() {
    let dir = temp_dir("snap-rules");
    let srv = start_in(&dir, 2, &["--save", "1 3"]);
    let mut c = srv.client();
    for i in 0..5 {
        let _: () = q(&mut c, &["SET", &format!("r{i}"), "v"]);
    }
    wait_until("a save by the rules", || {
        info_field(&mut c, "rdb_saves") != "0" && info_field(&mut c, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert!(dir.join("dump.rdb").exists());
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A redis-server 7.0 working in `dir` (killed on drop).
fn start_redis_in(dir: &Path) -> common::Redis {
    common::Redis::start_with(&["--dir", dir.to_str().unwrap()])
}

fn redis_conn(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn a_redis_7_file_loads() {
    let dir = temp_dir("snap-from-redis");
    let before = {
        let redis = start_redis_in(&dir);
        let mut c = redis_conn(redis.port);
        populate(&mut c);
        let _: () = q(&mut c, &["SAVE"]);
        snapshot_of(&mut c)
    };
    let srv = start_in(&dir, 2, &[]);
    let mut c = srv.client();
    assert_eq!(snapshot_of(&mut c), before);
    assert_eq!(q::<i64>(&mut c, &["FCALL", "snapf", "0"]), 42);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_spindle_file_passes_redis_check_rdb_and_loads_in_redis_7() {
    let dir = temp_dir("snap-to-redis");
    let before = {
        let srv = start_in(&dir, 3, &[]);
        let mut c = srv.client();
        populate(&mut c);
        let _: () = q(&mut c, &["SAVE"]);
        snapshot_of(&mut c)
    };
    let out = Command::new("redis-check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Checksum OK") && text.contains("RDB looks OK!"), "{text}");
    let redis = start_redis_in(&dir);
    let mut c = redis_conn(redis.port);
    assert_eq!(snapshot_of(&mut c), before);
    assert_eq!(q::<i64>(&mut c, &["FCALL", "snapf", "0"]), 42);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_reload_saves_empties_and_loads() {
    let dir = temp_dir("snap-reload");
    let srv = start_in(&dir, 2, &[]);
    let mut c = srv.client();
    populate(&mut c);
    let before = snapshot_of(&mut c);
    let mut raw = srv.raw();
    assert_eq!(raw.cmd(&["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(snapshot_of(&mut c), before);
    assert_eq!(q::<i64>(&mut c, &["FCALL", "snapf", "0"]), 42);
    assert_eq!(
        raw.cmd(&["DEBUG", "RELOAD", "FAST"]),
        "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
    // MERGE NOFLUSH NOSAVE: the file's values replace the live ones.
    let _: () = q(&mut c, &["SET", "str", "changed"]);
    let _: () = q(&mut c, &["SET", "extra", "1"]);
    assert_eq!(raw.cmd(&["DEBUG", "RELOAD", "MERGE", "NOFLUSH", "NOSAVE"]), "+OK\r\n");
    assert_eq!(q::<String>(&mut c, &["GET", "str"]), "hello");
    assert_eq!(q::<String>(&mut c, &["GET", "extra"]), "1");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_saves_when_rules_are_set() {
    let dir = temp_dir("snap-sigterm");
    let srv = start_in(&dir, 2, &["--save", "3600 1"]);
    let mut c = srv.client();
    let _: () = q(&mut c, &["SET", "kept", "yes"]);
    let pid = srv.pid();
    let st = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(st.success());
    let mut srv = srv;
    wait_until("the server to exit", || !srv.alive());
    drop(srv);
    let srv = start_in(&dir, 1, &[]);
    let mut c = srv.client();
    assert_eq!(q::<String>(&mut c, &["GET", "kept"]), "yes");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

fn dataset(c: &mut Connection) -> Vec<(usize, String, Vec<u8>, bool)> {
    common::dataset(c, 6)
}

/// A slow BGSAVE while every kind of change hits keys it has not written
/// yet: the file holds the data set exactly as it was at the cut.
#[test]
fn a_snapshot_keeps_the_cut_through_every_kind_of_change() {
    let dir = temp_dir("snap-walk");
    let before;
    {
        let srv = start_in(&dir, 3, &[]);
        let mut c = srv.client();
        for db in 0..4 {
            let _: () = q(&mut c, &["SELECT", &db.to_string()]);
            for i in 0..150 {
                let _: () = q(&mut c, &["SET", &format!("s{i}"), &format!("{db}-{i}")]);
            }
            for i in 0..30 {
                let _: i64 = q(&mut c, &["RPUSH", &format!("l{i}"), "a", "b"]);
                let _: i64 = q(&mut c, &["HSET", &format!("h{i}"), "f", "v"]);
                let _: i64 = q(&mut c, &["ZADD", &format!("z{i}"), "1", "m"]);
                let _: () = q(&mut c, &["SET", &format!("t{i}"), "v", "EX", "100000"]);
            }
        }
        let _: () = q(&mut c, &["SELECT", "0"]);
        before = dataset(&mut c);
        let _: () = q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "300"]);
        let _: String = q(&mut c, &["BGSAVE"]);
        for db in 0..4 {
            let _: () = q(&mut c, &["SELECT", &db.to_string()]);
            for i in (0..150).step_by(3) {
                let _: () = q(&mut c, &["SET", &format!("s{i}"), "changed"]);
                let _: i64 = q(&mut c, &["DEL", &format!("s{}", i + 1)]);
                let _: i64 = q(&mut c, &["EXPIRE", &format!("s{}", i + 2), "500"]);
            }
            for i in 0..30 {
                let _: i64 = q(&mut c, &["RPUSH", &format!("l{i}"), "c"]);
                let _: i64 = q(&mut c, &["HSET", &format!("h{i}"), "g", "w"]);
                let _: String = q(&mut c, &["ZINCRBY", &format!("z{i}"), "5", "m"]);
                let _: i64 = q(&mut c, &["PERSIST", &format!("t{i}")]);
                let _: () = q(&mut c, &["SET", &format!("new{i}"), "x"]);
            }
            let _: () = q(&mut c, &["RENAME", "s3", "renamed"]);
            let _: i64 = q(&mut c, &["MOVE", "s6", "5"]);
        }
        let _: () = q(&mut c, &["SELECT", "1"]);
        let _: () = q(&mut c, &["FLUSHDB"]);
        let _: () = q(&mut c, &["SWAPDB", "2", "3"]);
        let _: () = q(&mut c, &["SELECT", "0"]);
        assert_eq!(
            info_field(&mut c, "rdb_bgsave_in_progress"),
            "1",
            "the save outlived the changes"
        );
        wait_until("bgsave", || info_field(&mut c, "rdb_bgsave_in_progress") == "0");
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    }
    let srv = start_in(&dir, 2, &[]);
    let mut c = srv.client();
    let after = dataset(&mut c);
    assert_eq!(after.len(), before.len());
    assert!(after == before, "the loaded data set differs from the one at the cut");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
