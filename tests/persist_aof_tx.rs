//! The append-only log and transactions spanning shards: each leaves a
//! marked part in the log of every shard it locked, replays whole after
//! kill -9, and is dropped whole when a crash cut a part short. Also the stream consumer-group forms Redis
//! propagates, and an everysec crash test.

mod common;

use common::Server;
use spindle::persist::aof::{parse_commands, Parsed};

use common::AofDir as TempDir;

/// The log's commands as text lines (`SET k v`), SELECTs left out.
/// Every shard's log one after the other; marks and SELECTs left out.
fn commands(dir: &TempDir) -> Vec<String> {
    shard_logs(dir)
        .into_iter()
        .flatten()
        .filter(|l| !l.starts_with("#TX "))
        .collect()
}

fn start(dir: &TempDir, fsync: &str, shards: usize) -> Server {
    Server::start_with(
        shards,
        &["--dir", dir.path(), "--appendonly", "yes", "--appendfsync", fsync],
    )
}

use common::{cmd_text as cmd, reply_text as text};

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

/// The last command the logs hold for `key` (its shard's log's order).
fn last_on(dir: &TempDir, key: &str) -> String {
    commands(dir)
        .into_iter()
        .filter(|l| l.split(' ').nth(1) == Some(key))
        .last()
        .unwrap_or_default()
}

/// Each shard's log: its commands as text lines, transaction marks as
/// `#TX <id> <parts>`, SELECTs left out.
fn shard_logs(dir: &TempDir) -> Vec<Vec<String>> {
    dir.incr_files()
        .iter()
        .map(|f| {
            let (cmds, parsed) = parse_commands(&std::fs::read(f).unwrap());
            assert_eq!(parsed, Parsed::Ok, "the log is whole");
            cmds.iter()
                .map(|c| {
                    if c[0] == b"#TX:" {
                        let m = String::from_utf8_lossy(&c[1]).into_owned();
                        let (id, n) = m.rsplit_once(':').unwrap();
                        return format!("#TX {id} {n}");
                    }
                    c.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|l| !l.starts_with("SELECT "))
                .collect()
        })
        .collect()
}

/// The marked blocks of one shard's log: (transaction id, parts, commands).
fn parts(log: &[String]) -> Vec<(String, usize, Vec<String>)> {
    blocks(log)
        .into_iter()
        .filter_map(|b| {
            let mark = b.first()?.strip_prefix("#TX ")?.to_string();
            let (id, n) = mark.rsplit_once(' ').unwrap();
            Some((id.to_string(), n.parse().unwrap(), b[1..].to_vec()))
        })
        .collect()
}

#[test]
fn cross_shard_exec_leaves_one_marked_part_per_shard_and_replays() {
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
    let logs = shard_logs(&dir);
    assert_eq!(logs.len(), 3, "one log per shard");
    let p: Vec<_> = logs.iter().map(|l| parts(l)).collect();
    for (s, want) in [
        vec![format!("SET {} 1", k[0]), format!("INCR {}", k[0])],
        vec![format!("SET {} 2", k[1])],
        vec![format!("RPUSH {} a b", k[2])],
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(p[s].len(), 1, "shard {s}: one part: {:?}", logs[s]);
        assert_eq!(p[s][0].1, 3, "three parts in all");
        assert_eq!(p[s][0].0, p[0][0].0, "one transaction id");
        assert_eq!(p[s][0].2, want, "shard {s}: its own writes in order, reads left out");
        assert_eq!(
            logs[s].len(),
            want.len() + 3,
            "nothing outside the block: {:?}",
            logs[s]
        );
    }

    // A cross-shard command: MSET leaves a part on each shard; DEL on the
    // two shards it locked.
    assert_eq!(cmd(&mut c, &["MSET", &k[0], "x", &k[1], "y", &k[2], "z"]), "+OK");
    assert_eq!(cmd(&mut c, &["DEL", &k[1], &k[2], "none"]), ":2");
    let logs = shard_logs(&dir);
    let p: Vec<_> = logs.iter().map(|l| parts(l)).collect();
    for s in 0..3 {
        assert_eq!(p[s][1].2, vec![format!("MSET {} {}", k[s], ["x", "y", "z"][s])]);
    }
    let del: Vec<_> = p.iter().filter_map(|ps| ps.get(2)).collect();
    assert_eq!(del.len(), 2, "DEL locked two shards: {logs:?}");
    assert!(del.iter().all(|d| d.1 == 2 && d.0 == del[0].0));

    // A script writing keys of several shards: a part on each.
    let script =
        "redis.call('SET', KEYS[1], 'sa') redis.call('SET', KEYS[2], 'sb') redis.call('INCR', KEYS[3]) return 1";
    assert_eq!(cmd(&mut c, &["SET", &k[2], "10"]), "+OK");
    assert_eq!(cmd(&mut c, &["EVAL", script, "3", &k[0], &k[1], &k[2]]), ":1");
    let logs = shard_logs(&dir);
    let last: Vec<_> = logs.iter().map(|l| parts(l).pop().unwrap()).collect();
    assert_eq!(last[0].2, vec![format!("SET {} sa", k[0])]);
    assert_eq!(last[1].2, vec![format!("SET {} sb", k[1])]);
    assert_eq!(last[2].2, vec![format!("INCR {}", k[2])]);
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
    // Each shard logs what happened to its own key.
    let logs = shard_logs(&dir);
    let rename: Vec<_> = logs.iter().map(|l| parts(l).pop().unwrap().2).collect();
    assert_eq!(rename[0], vec![format!("DEL {}", a[0])]);
    assert_eq!(rename[1].len(), 1);
    assert!(
        rename[1][0].starts_with(&format!("RESTORE {} 0 ", a[1])),
        "{:?}",
        rename[1]
    );
    assert!(rename[1][0].ends_with(" REPLACE"), "{:?}", rename[1]);
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
    let logs = shard_logs(&dir);
    let last: Vec<_> = logs.iter().map(|l| parts(l).pop().unwrap().2).collect();
    for (i, p) in last.iter().enumerate() {
        assert!(
            p.contains(&"FLUSHDB".to_string()),
            "shard {i}'s part flushes in its place: {p:?}"
        );
    }
    let p1 = &last[1];
    let flush = p1.iter().position(|l| l == "FLUSHDB").unwrap();
    assert_eq!(p1[flush + 1..], [format!("SET {} after", a[1])]);
    drop(c);
    drop(srv);
    // The same data set, whatever the number of shards now.
    for shards in [2, 3, 1, 2] {
        let srv = start(&dir, "always", shards);
        let mut c = srv.raw();
        assert_eq!(cmd(&mut c, &["DBSIZE"]), ":1", "{shards} shards");
        assert_eq!(cmd(&mut c, &["GET", &a[1]]), "after");
    }
}

/// A crash that cut one shard's part of a transaction short (or left it
/// out): the other shard's whole part is dropped too, on every load, and
/// what was logged after it still replays.
#[test]
fn torn_cross_shard_transaction_is_dropped_whole() {
    let dir = TempDir::new("torn");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    let k = common::keys_on_distinct_shards("k", 2);
    assert_eq!(cmd(&mut c, &["SET", &k[0], "before"]), "+OK");
    assert_eq!(cmd(&mut c, &["SET", &k[1], "before"]), "+OK");
    let files = dir.incr_files();
    let whole: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(cmd(&mut c, &["MULTI"]), "+OK");
    cmd(&mut c, &["SET", &k[0], "1"]);
    cmd(&mut c, &["SET", &k[1], "2"]);
    assert_eq!(cmd(&mut c, &["EXEC"]), "+OK\n+OK");
    drop(c);
    drop(srv);
    let full: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(full[1].len() > whole[1].len() + 40);
    // Shard 1's part cut in the middle, cut just before EXEC's end, or
    // missing altogether.
    for cut in [whole[1].len() + 40, full[1].len() - 3, whole[1].len()] {
        std::fs::write(&files[0], &full[0]).unwrap();
        std::fs::write(&files[1], &full[1][..cut]).unwrap();
        let srv = start(&dir, "always", 2);
        let mut c = srv.raw();
        assert_eq!(cmd(&mut c, &["MGET", &k[0], &k[1]]), "before\nbefore", "cut at {cut}");
        drop(c);
        drop(srv);
        assert_eq!(
            std::fs::read(&files[1]).unwrap(),
            whole[1],
            "truncated to the block's start"
        );
        assert_eq!(
            std::fs::read(&files[0]).unwrap(),
            full[0],
            "a whole part stays in its log"
        );
    }
    // Written after the torn transaction: replayed; the torn part is still
    // left out on the next load.
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["SET", &k[1], "later"]), "+OK");
    drop(c);
    drop(srv);
    let srv = start(&dir, "always", 2);
    assert_eq!(cmd(&mut srv.raw(), &["MGET", &k[0], &k[1]]), "before\nlater");
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
    let log = commands(&dir);
    assert_eq!(log.iter().filter(|l| l.starts_with("INCR")).count(), 2, "{log:?}");
    drop(c);
    drop(srv);
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["MGET", &k[0], &k[1]]), "1\n1");
}

/// XPENDING's extended form without the idle times: (id, consumer, count).
fn pending(c: &mut common::Raw, key: &str, group: &str) -> Vec<String> {
    let t = cmd(c, &["XPENDING", key, group, "-", "+", "100"]);
    let f: Vec<&str> = t.lines().collect();
    f.chunks(4).map(|x| format!("{} {} {}", x[0], x[1], x[3])).collect()
}

fn changes(c: &mut common::Raw) -> u64 {
    common::raw_info_num(c, "persistence", "rdb_changes_since_last_save")
}

#[test]
fn consumer_groups_propagate_as_redis_does_and_replay() {
    let dir = TempDir::new("groups");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    for i in 1..=4 {
        cmd(&mut c, &["XADD", "x", &format!("{i}-0"), "f", "v"]);
    }
    cmd(&mut c, &["XGROUP", "CREATE", "x", "g", "0"]);
    cmd(&mut c, &["XGROUP", "CREATECONSUMER", "x", "g", "alice"]);
    let n = changes(&mut c);
    cmd(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "x", ">"],
    );
    assert_eq!(changes(&mut c), n + 1, "a group read is one change");
    let log = commands(&dir);
    let b = blocks(&log);
    let t = |s: &str| s.split(" TIME ").next().unwrap().to_string();
    assert_eq!(
        b.last().unwrap().iter().map(|s| t(s)).collect::<Vec<_>>(),
        vec![
            "XCLAIM x g alice 0 1-0",
            "XCLAIM x g alice 0 2-0",
            "XGROUP SETID x g 2-0 ENTRIESREAD 2"
        ]
    );
    assert!(
        b.last().unwrap()[0].ends_with("RETRYCOUNT 1 FORCE JUSTID LASTID 1-0"),
        "{log:?}"
    );
    // NOACK: the consumer it creates and the group's last ID.
    let n = changes(&mut c);
    cmd(
        &mut c,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "x",
            ">",
        ],
    );
    assert_eq!(changes(&mut c), n + 2, "consumer created, entry read");
    let log = commands(&dir);
    assert_eq!(
        blocks(&log).last().unwrap(),
        &vec![
            "XGROUP CREATECONSUMER x g bob".to_string(),
            "XGROUP SETID x g 3-0 ENTRIESREAD 3".into()
        ]
    );
    // Reading history changes nothing and logs nothing.
    let before = commands(&dir).len();
    let n = changes(&mut c);
    cmd(&mut c, &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "x", "0"]);
    assert_eq!((changes(&mut c), commands(&dir).len()), (n, before));
    // XCLAIM: one change per entry claimed; a deleted entry's record goes.
    cmd(&mut c, &["XDEL", "x", "2-0"]);
    let n = changes(&mut c);
    assert_eq!(
        cmd(&mut c, &["XCLAIM", "x", "g", "carol", "0", "1-0", "2-0", "JUSTID"]),
        "1-0"
    );
    assert_eq!(changes(&mut c), n + 3, "consumer, claim, deleted record");
    let log = commands(&dir);
    let last = blocks(&log).last().unwrap().clone();
    assert_eq!(last.len(), 2, "{log:?}");
    assert!(last[0].starts_with("XCLAIM x g carol 0 1-0 TIME "), "{last:?}");
    assert!(last[1].starts_with("XCLAIM x g alice 0 2-0 TIME "), "{last:?}");
    // LASTID alone: XGROUP SETID.
    cmd(&mut c, &["XCLAIM", "x", "g", "carol", "0", "9-0", "LASTID", "9-0"]);
    assert_eq!(commands(&dir).last().unwrap(), "XGROUP SETID x g 9-0 ENTRIESREAD 3");
    // XAUTOCLAIM.
    cmd(&mut c, &["XADD", "x", "10-0", "f", "v"]);
    cmd(&mut c, &["XREADGROUP", "GROUP", "g", "dave", "STREAMS", "x", ">"]);
    cmd(&mut c, &["XDEL", "x", "10-0"]);
    let n = changes(&mut c);
    cmd(&mut c, &["XAUTOCLAIM", "x", "g", "erin", "0", "0"]);
    assert_eq!(changes(&mut c), n + 3, "consumer, claim of 1-0, deleted 10-0");
    // A blocked NOACK reader served later.
    let mut rd = srv.raw();
    rd.send(&common::encode(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "frank",
        "BLOCK",
        "0",
        "NOACK",
        "STREAMS",
        "x",
        ">",
    ]));
    common::eventually("frank is blocked", || {
        common::raw_info_num(&mut c, "clients", "blocked_clients") == 1
    });
    cmd(&mut c, &["XADD", "x", "11-0", "f", "v"]);
    assert_eq!(text(&rd.reply()), "x\n11-0\nf\nv");
    cmd(&mut c, &["XACK", "x", "g", "1-0"]);
    let groups = cmd(&mut c, &["XINFO", "GROUPS", "x"]);
    let pel = pending(&mut c, "x", "g");
    let consumers: Vec<String> = cmd(&mut c, &["XINFO", "CONSUMERS", "x", "g"])
        .lines()
        .collect::<Vec<_>>()
        .chunks(8)
        .map(|x| format!("{} {}", x[1], x[3]))
        .collect();
    assert_eq!(cmd(&mut c, &["DEBUG", "LOADAOF"]), "+OK");
    let check = |c: &mut common::Raw| {
        assert_eq!(cmd(c, &["XINFO", "GROUPS", "x"]), groups);
        assert_eq!(pending(c, "x", "g"), pel);
        let now: Vec<String> = cmd(c, &["XINFO", "CONSUMERS", "x", "g"])
            .lines()
            .collect::<Vec<_>>()
            .chunks(8)
            .map(|x| format!("{} {}", x[1], x[3]))
            .collect();
        assert_eq!(now, consumers);
    };
    check(&mut c);
    drop((c, rd));
    drop(srv);
    let srv = start(&dir, "always", 2);
    check(&mut srv.raw());
}

#[test]
fn everysec_kill_loses_at_most_the_last_moments() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    let dir = TempDir::new("everysec-kill");
    let srv = start(&dir, "everysec", 2);
    let stop = Arc::new(AtomicBool::new(false));
    // Per client: (value, when acknowledged), in order.
    let acks: Vec<Arc<Mutex<Vec<(u64, Instant)>>>> = (0..4).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
    let mut threads = Vec::new();
    for (i, log) in acks.iter().enumerate() {
        let (stop, log) = (stop.clone(), log.clone());
        let mut raw = srv.raw();
        threads.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                raw.send(&common::encode(&["SET", &format!("c:{i}"), &n.to_string()]));
                match raw.try_reply() {
                    Some(r) if r == b"+OK\r\n" => log.lock().unwrap().push((n, Instant::now())),
                    _ => break,
                }
            }
        }));
    }
    // Let the writers run for a while (several fsync periods), then kill -9
    // while they still write.
    std::thread::sleep(Duration::from_millis(3500));
    let killed_at = Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-9", &srv.pid().to_string()])
        .status();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    drop(srv);
    let srv = start(&dir, "everysec", 2);
    let mut c = srv.raw();
    let mut checked = 0;
    for (i, log) in acks.iter().enumerate() {
        let log = log.lock().unwrap();
        // The last value acknowledged 2 s or more before the kill.
        let Some(&(n, _)) = log
            .iter()
            .rev()
            .find(|(_, at)| killed_at.duration_since(*at) >= Duration::from_secs(2))
        else {
            continue;
        };
        let got: u64 = cmd(&mut c, &["GET", &format!("c:{i}")]).parse().unwrap_or(0);
        assert!(
            got >= n,
            "client {i}: {n} acknowledged over 2 s before the kill, found {got}"
        );
        checked += 1;
    }
    assert!(checked > 0, "some writes were acknowledged early enough to check");
}

#[test]
fn approximate_trims_log_the_exact_trim() {
    let dir = TempDir::new("trim");
    let srv = Server::start_with(
        1,
        &[
            "--dir",
            dir.path(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--stream-node-max-entries",
            "10",
        ],
    );
    let mut c = srv.raw();
    for i in 1..=95 {
        cmd(&mut c, &["XADD", "x", &format!("{i}-0"), "f", "v"]);
    }
    // `~` trims whole nodes only: fewer than asked.
    cmd(&mut c, &["XTRIM", "x", "MAXLEN", "~", "42"]);
    let len = cmd(&mut c, &["XLEN", "x"]);
    assert_ne!(len, ":42", "an approximate trim keeps whole nodes");
    assert_eq!(
        commands(&dir).last().unwrap(),
        &format!("XTRIM x MAXLEN = {}", &len[1..])
    );
    cmd(
        &mut c,
        &["XADD", "x", "MINID", "~", "70", "LIMIT", "100", "*", "f", "v"],
    );
    let first = cmd(&mut c, &["XRANGE", "x", "-", "+", "COUNT", "1"]);
    let first = first.lines().next().unwrap().to_string();
    let last = commands(&dir).last().unwrap().clone();
    assert!(last.starts_with(&format!("XADD x MINID = {first} ")), "{last}");
    assert!(!last.contains('*') && !last.contains("LIMIT"), "{last}");
    let all = cmd(&mut c, &["XRANGE", "x", "-", "+"]);
    drop(c);
    drop(srv);
    let srv = Server::start_with(
        1,
        &[
            "--dir",
            dir.path(),
            "--appendonly",
            "yes",
            "--stream-node-max-entries",
            "10",
        ],
    );
    assert_eq!(cmd(&mut srv.raw(), &["XRANGE", "x", "-", "+"]), all);
}

#[test]
fn server_deletions_log_del_or_unlink_as_redis() {
    let dir = TempDir::new("unlink");
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    let k = common::keys_on_distinct_shards("k", 2);
    // Expired keys: DEL, or UNLINK under lazyfree-lazy-expire.
    cmd(&mut c, &["SET", "e1", "v", "PX", "1"]);
    common::eventually("e1 expired", || cmd(&mut c, &["GET", "e1"]) == "(nil)");
    assert!(commands(&dir).contains(&"DEL e1".to_string()));
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "lazyfree-lazy-expire", "yes"]), "+OK");
    cmd(&mut c, &["SET", "e2", "v", "PX", "1"]);
    common::eventually("e2 expired", || cmd(&mut c, &["GET", "e2"]) == "(nil)");
    assert!(commands(&dir).contains(&"UNLINK e2".to_string()));
    // Cross-shard DEL stays DEL under lazyfree-lazy-user-del; UNLINK stays UNLINK.
    assert_eq!(cmd(&mut c, &["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"]), "+OK");
    cmd(&mut c, &["MSET", &k[0], "1", &k[1], "2"]);
    assert_eq!(cmd(&mut c, &["DEL", &k[0], &k[1]]), ":2");
    let last = blocks(&commands(&dir)).last().unwrap().clone();
    assert!(last.iter().all(|l| l.starts_with("DEL ")), "{last:?}");
    cmd(&mut c, &["MSET", &k[0], "1", &k[1], "2"]);
    assert_eq!(cmd(&mut c, &["UNLINK", &k[0], &k[1]]), ":2");
    let last = blocks(&commands(&dir)).last().unwrap().clone();
    assert!(last.iter().all(|l| l.starts_with("UNLINK ")), "{last:?}");
    // RESTORE: a relative TTL is logged absolute; an already expired one
    // that replaced a key is logged as its deletion.
    cmd(&mut c, &["SET", "src", "payload"]);
    c.send(&common::encode(&["DUMP", "src"]));
    let dump = c.reply();
    let body_at = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = dump[body_at..dump.len() - 2].to_vec();
    let restore = |c: &mut common::Raw, args: &[&[u8]]| {
        let argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        c.send(&common::encode_bytes(&argv));
        text(&c.reply())
    };
    assert_eq!(restore(&mut c, &[b"RESTORE", b"r", b"100000", &payload]), "+OK");
    let at = cmd(&mut c, &["PEXPIRETIME", "r"]);
    let last = last_on(&dir, "r");
    assert!(
        last.starts_with(&format!("RESTORE r {} ", &at[1..])) && last.ends_with(" ABSTTL"),
        "{last}"
    );
    assert_eq!(
        restore(&mut c, &[b"RESTORE", b"r", b"1", &payload, b"REPLACE", b"ABSTTL"]),
        "+OK"
    );
    assert_eq!(last_on(&dir, "r"), "DEL r");
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "lazyfree-lazy-server-del", "yes"]),
        "+OK"
    );
    cmd(&mut c, &["SET", "r", "x"]);
    assert_eq!(
        restore(&mut c, &[b"RESTORE", b"r", b"1", &payload, b"REPLACE", b"ABSTTL"]),
        "+OK"
    );
    assert_eq!(last_on(&dir, "r"), "UNLINK r");
    drop(c);
    drop(srv);
    let srv = start(&dir, "always", 2);
    let mut c = srv.raw();
    assert_eq!(cmd(&mut c, &["EXISTS", "r", "e1", "e2", &k[0], &k[1]]), ":0");
}
