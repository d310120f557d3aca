//! AOF rewrite against the real binary: BGREWRITEAOF writes a base in RDB
//! form (or, with `aof-use-rdb-preamble no`, in command form) and starts
//! a new incr file at its cut; turning the log on over
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
    let (redis, mut r) = redis_loading(&dir);
    let mut got = dataset(&mut r);
    got.sort();
    assert!(got == want, "redis-server 7.0 loads a different data set");
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn writes_during_a_rewrite_survive_a_crash_before_and_after_it() {
    for (finish, preamble) in [(false, "yes"), (true, "yes"), (false, "no"), (true, "no")] {
        let dir = temp_dir("aofrw-crash");
        let want;
        {
            let srv = start(
                &dir,
                2,
                &["--appendfsync", "always", "--aof-use-rdb-preamble", preamble],
            );
            let mut c = srv.client();
            fill(&mut c, 3);
            // 100+ keys at 20 ms each: the rewrite outlives the writes below
            // (200 fsynced writes can take a second on a busy disk).
            let _: () = q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "20000"]);
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
            "finish={finish} preamble={preamble}: acknowledged writes were lost"
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
    assert_eq!(raw.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "no"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "aof-use-rdb-preamble"]),
        "*2\r\n$20\r\naof-use-rdb-preamble\r\n$2\r\nno\r\n"
    );
    assert_eq!(
        raw.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "maybe"]),
        "-ERR CONFIG SET failed (possibly related to argument 'aof-use-rdb-preamble') - argument must be 'yes' or 'no'\r\n"
    );
    assert_eq!(raw.cmd(&["CONFIG", "SET", "aof-use-rdb-preamble", "yes"]), "+OK\r\n");
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

// ------------------------------------------------ aof-use-rdb-preamble no

const LIB: &str = "#!lua name=aoflib\nredis.register_function('aoff', function(keys, args) return 42 end)";

/// Hash tables with field TTLs: a replay (field by field, as Redis's)
/// rebuilds them in another order; compared by members.
const BY_MEMBERS: &[&str] = &["bighft"];

/// Streams whose consumers' seen times a replay resets (XCLAIM and XGROUP
/// CREATECONSUMER run at load time, in Redis too): their DUMPs compare
/// with those 8 bytes blanked.
const CONSUMERS: &[&str] = &["alice", "bob", "carol"];

/// One key of every type (and encoding), TTLs, a stream with groups,
/// consumers and pending entries, over databases 0, 1 and 9; a function
/// library. With `field_ttls`, hashes with field TTLs too.
fn every_type(c: &mut Connection, field_ttls: bool) {
    let run = |c: &mut Connection, line: &str| {
        let args: Vec<&str> = line.split(' ').collect();
        let _: redis::Value = q(c, &args);
    };
    let _: String = q(c, &["FUNCTION", "LOAD", LIB]);
    for line in [
        "SET str hello",
        "SET int 12345",
        "SET neg -77",
        "SET ttl v PX 86400000",
        "RPUSH list a b c 1 -2",
        "SADD iset 3 1 2",
        "SADD sset a b c",
        "ZADD zs 1.5 a 2 b -3 c 1e20 d -inf e",
        "HSET h f1 v1 f2 v2",
        "HSET hexp f v",
        "PEXPIREAT hexp 4102444800000",
        "XADD st 1-1 a 1 b x",
        "XADD st 2-0 a 2 b y",
        "XADD st 3-0 c 3",
        "XADD st 4-0 a 4 b z",
        "XGROUP CREATE st g 0",
        "XGROUP CREATE st g2 $",
        "XREADGROUP GROUP g alice COUNT 2 STREAMS st >",
        "XREADGROUP GROUP g bob COUNT 1 STREAMS st >",
        "XGROUP CREATECONSUMER st g carol",
        "XADD gone 5-5 f v",
        "XDEL gone 5-5",
        "XGROUP CREATE made g $ MKSTREAM",
    ] {
        run(c, line);
    }
    // Several commands' worth of elements (64 per command), and the big
    // encodings (quicklist, hashtable, skiplist).
    let many = |cmd: &str, key: &str, n: usize, f: &dyn Fn(usize) -> String| {
        let mut line = format!("{cmd} {key}");
        for i in 0..n {
            line.push(' ');
            line.push_str(&f(i));
        }
        line
    };
    run(c, &many("RPUSH", "biglist", 1000, &|i| format!("element-{i}")));
    run(c, &many("SADD", "bigset", 300, &|i| format!("m{i}")));
    run(c, &many("SADD", "bigiset", 300, &|i| (i * 1000).to_string()));
    run(c, &many("ZADD", "bigz", 200, &|i| format!("{} m{i}", i as f64 / 7.0)));
    run(c, &many("HSET", "bigh", 200, &|i| format!("f{i} v{i}")));
    for i in 0..150 {
        run(
            c,
            &format!("XADD bigst {}-0 field {i} other o{}", i + 1, "x".repeat(i % 30)),
        );
    }
    let _: () = q(c, &["SET", "big", &"x".repeat(5000)]);
    // A base over the loader's 1 MiB chunks, with an argument bigger than
    // one.
    let _: () = q(c, &["SET", "huge", &"0123456789abcdef".repeat(200_000)]);
    for b in 0..40 {
        let mut cmd = redis::cmd("MSET");
        for i in 0..100 {
            cmd.arg(format!("fill:{b}:{i}")).arg(format!("{:0>400}", b * 100 + i));
        }
        let _: () = cmd.query(c).unwrap();
    }
    if field_ttls {
        for line in [
            "HSET hft a 1 b 2 c 3",
            "HPEXPIREAT hft 4102444800000 FIELDS 1 b",
            "HPEXPIRE hft 86400000 FIELDS 1 c",
            "PEXPIREAT hft 4102444800001",
        ] {
            run(c, line);
        }
        run(c, &many("HSET", "bighft", 200, &|i| format!("f{i} v{i}")));
        run(
            c,
            &many("HPEXPIREAT bighft 4102444800000 FIELDS", "50", 50, &|i| {
                format!("f{}", i * 2)
            }),
        );
    }
    let _: () = q(c, &["SELECT", "1"]);
    run(c, "RPUSH l1 x y");
    let _: () = q(c, &["SET", "s1", "one", "EX", "100000"]);
    let _: () = q(c, &["SELECT", "9"]);
    run(c, "HSET h9 a b");
    run(c, "ZADD z9 1 one");
    let _: () = q(c, &["SELECT", "0"]);
}

/// A DUMP payload with the consumers' seen times blanked and its CRC
/// dropped.
fn blank_seen_times(mut dump: Vec<u8>) -> Vec<u8> {
    dump.truncate(dump.len() - 8);
    for name in CONSUMERS {
        let mut pat = vec![name.len() as u8];
        pat.extend_from_slice(name.as_bytes());
        if let Some(at) = dump.windows(pat.len()).rposition(|w| w == pat) {
            let from = at + pat.len();
            dump[from..from + 8].fill(0);
        }
    }
    dump
}

/// What must survive a reload: per key its database, name, DUMP (seen
/// times blanked) and PEXPIRETIME; then the function libraries. Keys in
/// `by_members` (hash tables, whose order a replay need not keep) give
/// their members sorted instead of DUMP (hashes with their fields' TTLs
/// if `field_ttls`).
fn contents(c: &mut Connection, by_members: &[&str], field_ttls: bool) -> Vec<(usize, String, Vec<u8>, i64)> {
    let mut out = Vec::new();
    for db in [0, 1, 9] {
        let _: () = q(c, &["SELECT", &db.to_string()]);
        let mut keys: Vec<String> = q(c, &["KEYS", "*"]);
        keys.sort();
        for k in keys {
            let at: i64 = q(c, &["PEXPIRETIME", &k]);
            if !by_members.contains(&k.as_str()) {
                let dump: Vec<u8> = q(c, &["DUMP", &k]);
                out.push((db, k, blank_seen_times(dump), at));
                continue;
            }
            let mut members: Vec<String> = match q::<String>(c, &["TYPE", &k]).as_str() {
                "set" => q(c, &["SMEMBERS", &k]),
                _ => {
                    let pairs: Vec<(String, String)> = q(c, &["HGETALL", &k]);
                    pairs
                        .into_iter()
                        .map(|(f, v)| {
                            let ttl: Vec<i64> = if field_ttls {
                                q(c, &["HPEXPIRETIME", &k, "FIELDS", "1", &f])
                            } else {
                                Vec::new()
                            };
                            format!("{f}={v}@{ttl:?}")
                        })
                        .collect()
                }
            };
            members.sort();
            out.push((db, k, members.join(" ").into_bytes(), at));
        }
    }
    let _: () = q(c, &["SELECT", "0"]);
    let code: Vec<redis::Value> = q(c, &["FUNCTION", "LIST", "WITHCODE"]);
    out.push((0, "functions".into(), format!("{code:?}").into_bytes(), 0));
    out
}

/// The stream state a replay rebuilds apart from DUMP (a stream whose
/// entries were deleted holds no tombstones once replayed).
fn stream_info(c: &mut Connection, key: &str) -> Vec<String> {
    let info: Vec<redis::Value> = q(c, &["XINFO", "STREAM", key]);
    let mut out = Vec::new();
    for pair in info.chunks(2) {
        let name = match &pair[0] {
            redis::Value::Data(b) => String::from_utf8_lossy(b).into_owned(),
            v => format!("{v:?}"),
        };
        if [
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "length",
            "groups",
        ]
        .contains(&name.as_str())
        {
            out.push(format!("{name}={:?}", pair[1]));
        }
    }
    out
}

/// redis-server 7.0 on `dir`'s log, once it has loaded it (it answers
/// LOADING meanwhile).
fn redis_loading(dir: &Path) -> (common::Redis, Connection) {
    let redis = common::Redis::start_with(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"]);
    let mut r = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    eventually("redis-server 7.0 loaded the log", || {
        redis::cmd("PING").query::<String>(&mut r).is_ok()
    });
    (redis, r)
}

/// The RESP commands of a base in command form, one line each.
fn base_commands(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).unwrap();
    assert!(data.starts_with(b"*"), "not a base of commands");
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = common::reply_len(&data, at).expect("a whole command");
        out.push(common::reply_text(&data[at..at + n]).replace('\n', " "));
        at += n;
    }
    out
}

#[test]
fn without_the_rdb_preamble_the_base_is_commands_and_everything_reloads() {
    let dir = temp_dir("aofrw-nopre");
    let want;
    let gone_info;
    {
        let srv = start(&dir, 2, &["--aof-use-rdb-preamble", "no"]);
        let mut c = srv.client();
        let mut raw = srv.raw();
        assert_eq!(
            raw.cmd(&["CONFIG", "GET", "aof-use-rdb-preamble"]),
            "*2\r\n$20\r\naof-use-rdb-preamble\r\n$2\r\nno\r\n"
        );
        every_type(&mut c, true);
        want = contents(&mut c, BY_MEMBERS, true);
        gone_info = stream_info(&mut c, "gone");
        let _: String = q(&mut c, &["BGREWRITEAOF"]);
        wait_rewrites(&mut c, 1);
        assert_eq!(
            manifest(&dir),
            [
                "file appendonly.aof.2.base.aof seq 2 type b",
                "file appendonly.aof.3.incr.aof seq 3 type i shard 0/2",
                "file appendonly.aof.4.incr.aof seq 4 type i shard 1/2"
            ]
        );
        let cmds = base_commands(&dir.join("appendonlydir/appendonly.aof.2.base.aof"));
        assert_eq!(cmds[0], format!("FUNCTION LOAD {LIB}").replace('\n', " "));
        for want in [
            "SELECT 0",
            "SELECT 1",
            "SELECT 9",
            "SET str hello",
            "SET int 12345",
            "RPUSH list a b c 1 -2",
            "SADD iset 1 2 3",
            "ZADD zs -inf e -3 c 1.5 a 2 b 1e+20 d",
            "HMSET h f1 v1 f2 v2",
            "PEXPIREAT hexp 4102444800000",
            "HPEXPIREAT hft 4102444800000 FIELDS 1 b",
            "PEXPIREAT hft 4102444800001",
            "XADD st 1-1 a 1 b x",
            "XSETID st 4-0 ENTRIESADDED 4 MAXDELETEDID 0-0",
            "XGROUP CREATE st g 3-0 ENTRIESREAD 3",
            "XGROUP CREATE st g2 4-0 ENTRIESREAD -1",
            "XGROUP CREATECONSUMER st g carol",
            "XADD gone MAXLEN 0 0-1 x y",
            "XSETID gone 5-5 ENTRIESADDED 1 MAXDELETEDID 5-5",
        ] {
            assert!(cmds.iter().any(|c| c == want), "{want} not in the base");
        }
        assert!(cmds
            .iter()
            .any(|c| c.starts_with("XCLAIM st g alice 0 1-1 TIME ") && c.ends_with(" RETRYCOUNT 1 JUSTID FORCE")));
        // 64 elements a command.
        assert_eq!(cmds.iter().filter(|c| c.starts_with("RPUSH biglist ")).count(), 16);
        let _: () = q(&mut c, &["SET", "after", "1"]);
    }
    let mut want = want;
    want.push((0, "after".into(), Vec::new(), -1));
    let fix_after = |mut v: Vec<(usize, String, Vec<u8>, i64)>| {
        for e in v.iter_mut().filter(|e| e.1 == "after") {
            e.2.clear();
        }
        v.sort();
        v
    };
    let want = fix_after(want);
    // Another shard count: every key goes where it hashes now.
    {
        let srv = start(&dir, 3, &["--aof-use-rdb-preamble", "no"]);
        let mut c = srv.client();
        let got = fix_after(contents(&mut c, BY_MEMBERS, true));
        for (g, w) in got.iter().zip(&want) {
            assert!(g == w, "the reloaded {} differs", w.1);
        }
        assert_eq!(got.len(), want.len());
        assert_eq!(stream_info(&mut c, "gone"), gone_info);
        // For redis-server 7.0, which has no hash field TTLs: a second
        // rewrite in command form without them.
        let _: i64 = q(&mut c, &["DEL", "hft", "bighft", "after"]);
        let _: String = q(&mut c, &["BGREWRITEAOF"]);
        wait_rewrites(&mut c, 1);
        assert_eq!(manifest(&dir)[0], "file appendonly.aof.3.base.aof seq 3 type b");
    }
    let want: Vec<_> = want
        .into_iter()
        .filter(|e| !["hft", "bighft", "after"].contains(&e.1.as_str()))
        .collect();
    // 7.0 holds small sets and big hashes in hash tables of its own
    // order: those compare by members.
    let by_members = ["sset", "bigset", "bigh"];
    let want_7 = {
        let srv = start(&dir, 2, &["--aof-use-rdb-preamble", "no"]);
        let mut c = srv.client();
        let mut got = contents(&mut c, &by_members, false);
        got.sort();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!(
                by_members.contains(&g.1.as_str()) || g == w,
                "the reloaded {} differs",
                w.1
            );
        }
        got
    };
    let (redis, mut r) = redis_loading(&dir);
    let mut got = contents(&mut r, &by_members, false);
    got.sort();
    assert_eq!(got.len(), want_7.len());
    for (g, w) in got.iter().zip(&want_7) {
        // (FUNCTION LIST's replies differ in their shape: FCALL below.)
        if g.1 == "functions" {
            continue;
        }
        assert!(g == w, "redis-server 7.0 loads a different {}", w.1);
    }
    let f: i64 = q(&mut r, &["FCALL", "aoff", "0"]);
    assert_eq!(f, 42);
    assert_eq!(stream_info(&mut r, "gone"), gone_info);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A base of commands written by hand, as Redis 7.4 writes one (a
/// timestamp annotation, FUNCTION LOAD, SELECT per database, keys that
/// hash to every shard, a TTL already past): Spindle under 3 shards and
/// redis-server 7.0 load the same data set.
#[test]
fn a_base_of_commands_loads_on_every_shard_as_redis_loads_it() {
    let dir = temp_dir("aofrw-handbase");
    let aof = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof).unwrap();
    let mut base = b"#TS:1700000000\r\n".to_vec();
    let mut cmd = |args: &[&str]| base.extend_from_slice(&common::encode(args));
    cmd(&["FUNCTION", "LOAD", LIB]);
    cmd(&["SELECT", "0"]);
    for i in 0..50 {
        cmd(&["SET", &format!("key:{i}"), &format!("value-{i}")]);
    }
    cmd(&["RPUSH", "list", "a", "b", "c"]);
    cmd(&["RPUSH", "list", "d"]);
    cmd(&["SET", "expired", "x"]);
    cmd(&["PEXPIREAT", "expired", "1000"]);
    cmd(&["SET", "later", "y"]);
    cmd(&["PEXPIREAT", "later", "4102444800000"]);
    cmd(&["SELECT", "9"]);
    cmd(&["HMSET", "h", "f", "v", "g", "w"]);
    cmd(&["ZADD", "z", "1.5", "a", "-2", "b"]);
    cmd(&["SADD", "s", "3", "1", "2"]);
    cmd(&["XADD", "st", "1-1", "a", "1"]);
    cmd(&["XSETID", "st", "7-0", "ENTRIESADDED", "3", "MAXDELETEDID", "6-0"]);
    cmd(&["XGROUP", "CREATE", "st", "g", "1-1", "ENTRIESREAD", "1"]);
    cmd(&["SELECT", "0"]);
    cmd(&["SET", "back-in-0", "z"]);
    std::fs::write(aof.join("appendonly.aof.1.base.aof"), &base).unwrap();
    std::fs::write(
        aof.join("appendonly.aof.1.incr.aof"),
        common::encode(&["SET", "from-incr", "1"]),
    )
    .unwrap();
    std::fs::write(
        aof.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let got = {
        let srv = start(&dir, 3, &[]);
        let mut c = srv.client();
        let mut got = contents(&mut c, &[], false);
        got.sort();
        let n: i64 = q(&mut c, &["DBSIZE"]);
        assert_eq!(n, 50 + 4);
        assert_eq!(got.iter().filter(|e| e.0 == 9).count(), 4);
        got
    };
    let (redis, mut r) = redis_loading(&dir);
    let mut want = contents(&mut r, &[], false);
    want.sort();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        if g.1 != "functions" {
            assert!(g == w, "{} differs from redis-server 7.0's", w.1);
        }
    }
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A base of commands is loaded per shard: a command over keys of several
/// shards (which no rewrite writes) stops the start-up with an error
/// rather than loading keys on the wrong shard.
#[test]
fn a_base_command_over_several_shards_is_refused() {
    let dir = temp_dir("aofrw-crossbase");
    let aof = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof).unwrap();
    let keys = common::keys_on_distinct_shards("k", 2);
    std::fs::write(
        aof.join("appendonly.aof.1.base.aof"),
        common::encode(&["MSET", &keys[0], "1", &keys[1], "2"]),
    )
    .unwrap();
    std::fs::write(aof.join("appendonly.aof.1.incr.aof"), b"").unwrap();
    std::fs::write(
        aof.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let port = common::free_port().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(["--port", &port, "--bind", "127.0.0.1", "--shards", "2", "--save", ""])
        .args(["--dir", dir.to_str().unwrap(), "--appendonly", "yes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("'mset' over keys of several shards"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
