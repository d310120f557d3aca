//! The append-only log and transactions spanning shards: each lands as one
//! `MULTI … EXEC` block, replays whole after kill -9, and a torn block at
//! the tail is dropped whole. Also the stream consumer-group forms Redis
//! propagates, and an everysec crash test.

mod common;

use std::path::PathBuf;

use common::Server;
use spindle::persist::aof::{parse_commands, Parsed};

/// A fresh directory of its own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        TempDir(common::temp_dir(&format!("aoftx-{tag}")))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The last incr file the manifest names.
    fn incr(&self) -> PathBuf {
        let d = self.0.join("appendonlydir");
        let m = std::fs::read_to_string(d.join("appendonly.aof.manifest")).unwrap();
        let line = m.lines().filter(|l| l.ends_with("type i")).last().unwrap().to_string();
        d.join(line.split(' ').nth(1).unwrap())
    }

    /// The log's commands as text lines (`SET k v`), SELECTs left out.
    fn commands(&self) -> Vec<String> {
        let data = std::fs::read(self.incr()).unwrap();
        let (cmds, parsed) = parse_commands(&data);
        assert_eq!(parsed, Parsed::Ok, "the log is whole");
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|l| !l.starts_with("SELECT "))
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(dir: &TempDir, fsync: &str, shards: usize) -> Server {
    Server::start_with(
        shards,
        &["--dir", dir.path(), "--appendonly", "yes", "--appendfsync", fsync],
    )
}

fn cmd(c: &mut common::Raw, args: &[&str]) -> String {
    c.send(&common::encode(args));
    text(&c.reply())
}

/// A reply as text: `+OK`, `:2`, an error line, a bulk's content or
/// `(nil)`, an array's elements one a line.
fn text(b: &[u8]) -> String {
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

/// The MULTI … EXEC blocks of `log`, each as its commands.
fn blocks(log: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<String>> = None;
    for l in log {
        match l.as_str() {
            "MULTI" => {
                assert!(cur.is_none(), "nested MULTI in the log: {log:?}");
                cur = Some(Vec::new());
            }
            "EXEC" => out.push(cur.take().expect("EXEC without MULTI")),
            _ => {
                if let Some(c) = cur.as_mut() {
                    c.push(l.clone());
                }
            }
        }
    }
    assert!(cur.is_none(), "open MULTI at the end: {log:?}");
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn cross_shard_exec_is_one_block_and_replays() {
    let dir = TempDir::new("exec");
    let srv = start(&dir, "always", 3);
    let mut c = srv.raw();
    let k = common::keys_on_distinct_shards("k", 3);
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK");
    cmd(&mut c, &["SET", &k[0], "1"]);
    cmd(&mut c, &["SET", &k[1], "2"]);
    cmd(&mut c, &["INCR", &k[0]]);
    cmd(&mut c, &["RPUSH", &k[2], "a", "b"]);
    cmd(&mut c, &["GET", &k[1]]);
    assert_eq!(cmd(&mut c, &["EXEC"]), "+OK\n+OK\n:2\n:2\n2");
    let log = dir.commands();
    let b = blocks(&log);
    assert_eq!(b.len(), 1, "one block: {log:?}");
    assert_eq!(
        b[0],
        vec![
            format!("SET {} 1", k[0]),
            format!("SET {} 2", k[1]),
            format!("INCR {}", k[0]),
            format!("RPUSH {} a b", k[2]),
        ],
        "in execution order, reads left out"
    );
    assert_eq!(log.len(), 6, "nothing outside the block: {log:?}");

    // A cross-shard command: MSET's parts are one block; DEL's too.
    assert_eq!(cmd(&mut c, &["MSET", &k[0], "x", &k[1], "y", &k[2], "z"]), "+OK");
    assert_eq!(cmd(&mut c, &["DEL", &k[1], &k[2], "none"]), ":2");
    let log = dir.commands();
    let b = blocks(&log);
    assert_eq!(b.len(), 3, "{log:?}");
    assert_eq!(
        sorted(b[1].clone()),
        sorted(vec![
            format!("MSET {} x", k[0]),
            format!("MSET {} y", k[1]),
            format!("MSET {} z", k[2]),
        ])
    );
    assert_eq!(b[2].len(), 2, "DEL of two shards' keys: {:?}", b[2]);

    // A script writing keys of several shards: one block.
    let script =
        "redis.call('SET', KEYS[1], 'sa') redis.call('SET', KEYS[2], 'sb') redis.call('INCR', KEYS[3]) return 1";
    assert_eq!(cmd(&mut c, &["SET", &k[2], "10"]), "+OK");
    assert_eq!(cmd(&mut c, &["EVAL", script, "3", &k[0], &k[1], &k[2]]), ":1");
    let log = dir.commands();
    let b = blocks(&log);
    assert_eq!(b.len(), 4, "{log:?}");
    assert_eq!(
        sorted(b[3].clone()),
        sorted(vec![
            format!("SET {} sa", k[0]),
            format!("SET {} sb", k[1]),
            format!("INCR {}", k[2]),
        ])
    );
    drop(c);
    // kill -9 and start again: everything is there.
    drop(srv);
    let srv = start(&dir, "always", 3);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["GET", &k[0]]), "sa");
    assert_eq!(cmd(&mut c, &["GET", &k[1]]), "sb");
    assert_eq!(cmd(&mut c, &["GET", &k[2]]), "11");
}

#[test]
fn cross_shard_rename_and_store_commands_replay() {
    let dir = TempDir::new("cross");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    let a = common::keys_on_distinct_shards("a", 2);
    let s = common::keys_on_distinct_shards("s", 2);
    cmd(&mut c, &["SET", &a[0], "v"]);
    assert_eq!(cmd(&mut c, &["RENAME", &a[0], &a[1]]), "+OK");
    cmd(&mut c, &["SADD", &s[0], "x", "y"]);
    cmd(&mut c, &["SADD", &s[1], "y", "z"]);
    assert_eq!(cmd(&mut c, &["SUNIONSTORE", &a[0], &s[0], &s[1]]), ":3");
    assert_eq!(cmd(&mut c, &["SMOVE", &s[0], &s[1], "x"]), ":1");
    // Inside EXEC too, mixed with plain commands of both shards.
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK");
    cmd(&mut c, &["RENAME", &a[1], "moved"]);
    cmd(&mut c, &["SADD", &s[0], "w"]);
    cmd(&mut c, &["SADD", &s[1], "w"]);
    cmd(&mut c, &["FLUSHDB"]);
    cmd(&mut c, &["SET", &a[1], "after"]);
    assert!(cmd(&mut c, &["EXEC"]).ends_with("+OK\n+OK"));
    let log = dir.commands();
    let b = blocks(&log);
    let last = b.last().unwrap();
    assert_eq!(last.len(), 5, "the EXEC is one block, FLUSHDB in its place: {log:?}");
    assert_eq!(last[3], "FLUSHDB");
    drop(c);
    drop(srv);
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["DBSIZE"]), ":1");
    assert_eq!(cmd(&mut c, &["GET", &a[1]]), "after");
}

#[test]
fn torn_cross_shard_block_is_dropped_whole() {
    let dir = TempDir::new("torn");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    let k = common::keys_on_distinct_shards("k", 2);
    assert_eq!(cmd(&mut c, &["SET", "before", "1"]), "+OK");
    let whole = std::fs::read(dir.incr()).unwrap();
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK");
    cmd(&mut c, &["SET", &k[0], "1"]);
    cmd(&mut c, &["SET", &k[1], "2"]);
    assert_eq!(cmd(&mut c, &["EXEC"]), "+OK\n+OK");
    drop(c);
    drop(srv);
    let full = std::fs::read(dir.incr()).unwrap();
    assert!(full.len() > whole.len());
    // Cut anywhere inside the block (here: just before the end of EXEC,
    // and just after the first part).
    for cut in [full.len() - 3, whole.len() + 40] {
        std::fs::write(dir.incr(), &full[..cut]).unwrap();
        let srv = start(&dir, "always", 2);
        let mut c = srv.raw();
        assert_eq!(cmd(&mut c, &["GET", "before"]), "1");
        assert_eq!(cmd(&mut c, &["EXISTS", &k[0], &k[1]]), ":0", "cut at {cut}");
        drop(c);
        drop(srv);
        assert_eq!(
            std::fs::read(dir.incr()).unwrap(),
            whole,
            "truncated to the block's start"
        );
    }
}

#[test]
fn script_fast_path_abort_logs_once() {
    // A script that starts on its shard and then reaches another aborts
    // and re-runs in global mode: its writes must be logged once.
    let dir = TempDir::new("abort");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    let k = common::keys_on_distinct_shards("k", 2);
    let script = format!("redis.call('INCR', KEYS[1]) redis.call('INCR', '{}') return 1", k[1]);
    assert_eq!(cmd(&mut c, &["EVAL", &script, "1", &k[0]]), ":1");
    let log = dir.commands();
    assert_eq!(log.iter().filter(|l| l.starts_with("INCR")).count(), 2, "{log:?}");
    drop(c);
    drop(srv);
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["MGET", &k[0], &k[1]]), "1\n1");
}
