//! Per-shard logs: the keyspace-wide commands a shard logs (FLUSHALL,
//! FLUSHDB, SWAPDB, inside transactions or not) apply to that shard's
//! slots on replay, so a directory written with one number of shards
//! loads the same data set under any other.

mod common;

use common::{dataset, AofDir, Server};

fn q(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

/// A server with `shards` shards logging to `dir` under `always`.
fn start_always(dir: &AofDir, shards: usize) -> Server {
    Server::start_with(
        shards,
        &["--dir", dir.path(), "--appendonly", "yes", "--appendfsync", "always"],
    )
}

#[test]
fn logs_load_under_any_shard_count() {
    let dir = AofDir::new("aof-shards");
    let start = |shards: usize| start_always(&dir, shards);
    let want = {
        let srv = start(2);
        let mut c = srv.client();
        for i in 0..40 {
            q(&mut c, &["SET", &format!("junk{i}"), "x"]);
        }
        q(&mut c, &["FLUSHALL"]);
        for db in 0..3 {
            q(&mut c, &["SELECT", &db.to_string()]);
            for i in 0..60 {
                let k = format!("d{db}:{i}");
                q(&mut c, &["SET", &k, &format!("v{i}")]);
                q(&mut c, &["RPUSH", &format!("l{db}:{i}"), "a", "b"]);
            }
            q(&mut c, &["HSET", &format!("h{db}"), "f", "1"]);
        }
        q(&mut c, &["SELECT", "0"]);
        q(&mut c, &["SWAPDB", "0", "1"]);
        q(&mut c, &["SELECT", "2"]);
        q(&mut c, &["FLUSHDB"]);
        q(&mut c, &["SET", "after-flush", "1"]);
        // A transaction mixing keys of both shards with SWAPDB.
        q(&mut c, &["MULTI"]);
        q(&mut c, &["SET", "t:a", "1"]);
        q(&mut c, &["SWAPDB", "2", "0"]);
        q(&mut c, &["SET", "t:b", "2"]);
        q(&mut c, &["MSET", "t:c", "3", "t:d", "4"]);
        q(&mut c, &["EXEC"]);
        q(&mut c, &["SELECT", "0"]);
        q(&mut c, &["RENAME", "after-flush", "renamed"]);
        q(&mut c, &["EXPIRE", "d1:3", "1000"]);
        let d = dataset(&mut c, 3);
        assert!(d.len() > 200, "{}", d.len());
        d
    };
    for shards in [3, 1, 4, 2] {
        let srv = start(shards);
        let mut c = srv.client();
        let got = dataset(&mut c, 3);
        assert!(got == want, "{shards} shards load a different data set");
    }
}

/// FUNCTION LOAD, DELETE, FLUSH and RESTORE are logged (in shard 0's
/// log, whichever shard's client ran them) and replayed in order.
#[test]
fn function_changes_survive_a_restart() {
    let dir = AofDir::new("aof-functions");
    let start = |shards: usize| start_always(&dir, shards);
    let lib = |name: &str| format!("#!lua name={name}\nredis.register_function('{name}_f', function() return 1 end)");
    let listed = |c: &mut common::Raw| {
        let text = common::cmd_text(c, &["FUNCTION", "LIST"]);
        let lines: Vec<&str> = text.lines().collect();
        let mut names: Vec<String> = lines
            .windows(2)
            .filter(|w| w[0] == "library_name")
            .map(|w| w[1].to_string())
            .collect();
        names.sort();
        names
    };
    {
        let srv = start(2);
        // Clients on either shard (connections are spread over shards).
        let mut a = srv.raw();
        let mut b = srv.raw();
        assert_eq!(common::cmd_text(&mut a, &["FUNCTION", "LOAD", &lib("liba")]), "liba");
        assert_eq!(common::cmd_text(&mut b, &["FUNCTION", "LOAD", &lib("libb")]), "libb");
        a.send(&common::encode(&["FUNCTION", "DUMP"]));
        let dump = a.reply();
        assert_eq!(common::cmd_text(&mut a, &["FUNCTION", "FLUSH"]), "+OK");
        let body_at = dump.iter().position(|&x| x == b'\n').unwrap() + 1;
        let payload = dump[body_at..dump.len() - 2].to_vec();
        b.send(&common::encode_bytes(&[
            b"FUNCTION".to_vec(),
            b"RESTORE".to_vec(),
            payload,
        ]));
        assert_eq!(common::reply_text(&b.reply()), "+OK");
        assert_eq!(common::cmd_text(&mut a, &["FUNCTION", "DELETE", "liba"]), "+OK");
        assert_eq!(common::cmd_text(&mut b, &["FUNCTION", "LOAD", &lib("libc")]), "libc");
        assert_eq!(listed(&mut a), ["libb", "libc"]);
    }
    for shards in [2, 3] {
        let srv = start(shards);
        let mut c = srv.raw();
        assert_eq!(listed(&mut c), ["libb", "libc"], "{shards} shards");
        assert_eq!(common::cmd_text(&mut c, &["FCALL", "libb_f", "0"]), ":1");
    }
}

/// A script across shards that pushes to a list a client waits on: the
/// pop that serves the client is logged after the push (both in the
/// script's part), so the list is gone after a restart as it is live.
#[test]
fn a_pop_served_by_a_cross_shard_script_replays_after_its_push() {
    let dir = AofDir::new("aof-script-wake");
    let start = || start_always(&dir, 2);
    let k = common::keys_on_distinct_shards("q", 2);
    {
        let srv = start();
        let mut waiter = srv.raw();
        waiter.send(&common::encode(&["BLPOP", &k[0], "0"]));
        let mut c = srv.raw();
        common::eventually("the client blocks", || {
            common::cmd_text(&mut c, &["INFO", "clients"]).contains("blocked_clients:1")
        });
        let script = "redis.call('RPUSH', KEYS[1], 'x') redis.call('SET', KEYS[2], 'y') return 1";
        assert_eq!(common::cmd_text(&mut c, &["EVAL", script, "2", &k[0], &k[1]]), ":1");
        assert_eq!(common::reply_text(&waiter.reply()), format!("{}\nx", k[0]));
        assert_eq!(common::cmd_text(&mut c, &["EXISTS", &k[0]]), ":0");
    }
    let srv = start();
    let mut c = srv.raw();
    assert_eq!(
        common::cmd_text(&mut c, &["EXISTS", &k[0]]),
        ":0",
        "the served pop replays after the push"
    );
    assert_eq!(common::cmd_text(&mut c, &["GET", &k[1]]), "y");
}

/// maxmemory does not apply while the log loads (as in Redis): a data set
/// bigger than the limit comes back whole, under noeviction too.
#[test]
fn loading_ignores_maxmemory() {
    let dir = AofDir::new("aof-maxmemory");
    let value = "v".repeat(1000);
    {
        // Under `always`, so that every acknowledged write is on disk at
        // the kill on every shard (pipelined: the fsyncs are shared).
        let srv = start_always(&dir, 2);
        let mut c = srv.raw();
        let mut batch = Vec::new();
        for i in 0..3000 {
            batch.extend(common::encode(&["SET", &format!("k{i}"), &value]));
        }
        c.send(&batch);
        for _ in 0..3000 {
            assert_eq!(common::reply_text(&c.reply()), "+OK");
        }
        assert_eq!(common::cmd_text(&mut c, &["MSET", "a{x}", "1", "b{y}", "2"]), "+OK");
        assert_eq!(common::cmd_text(&mut c, &["SET", "last", "1"]), "+OK");
    }
    for shards in [2, 3] {
        let srv = Server::start_with(
            shards,
            &[
                "--dir",
                dir.path(),
                "--appendonly",
                "yes",
                "--maxmemory",
                "1mb",
                "--maxmemory-policy",
                "noeviction",
            ],
        );
        let mut c = srv.raw();
        assert_eq!(common::cmd_text(&mut c, &["DBSIZE"]), ":3003", "{shards} shards");
    }
}

/// A move between keys of two shards (LMOVE, RPOPLPUSH, SMOVE) logs the
/// one element on each side, not the whole values, and replays to the
/// same contents.
#[test]
fn cross_shard_moves_log_one_element() {
    let dir = AofDir::new("aof-moves");
    let l = common::keys_on_distinct_shards("l", 2);
    let s = common::keys_on_distinct_shards("s", 2);
    let contents = |c: &mut common::Raw| {
        [
            common::cmd_text(c, &["LRANGE", &l[0], "0", "-1"]),
            common::cmd_text(c, &["LRANGE", &l[1], "0", "-1"]),
            common::cmd_text(c, &["SMEMBERS", &s[1]]).lines().count().to_string(),
            common::cmd_text(c, &["SCARD", &s[0]]),
        ]
    };
    let want;
    {
        let srv = start_always(&dir, 2);
        let mut c = srv.raw();
        let items: Vec<String> = (0..500).map(|i| format!("item-{i}")).collect();
        let mut push = vec!["RPUSH", l[0].as_str()];
        push.extend(items.iter().map(String::as_str));
        assert_eq!(common::cmd_text(&mut c, &push), ":500");
        let mut sadd = vec!["SADD", s[0].as_str()];
        sadd.extend(items.iter().map(String::as_str));
        assert_eq!(common::cmd_text(&mut c, &sadd), ":500");
        for _ in 0..20 {
            common::cmd_text(&mut c, &["LMOVE", &l[0], &l[1], "RIGHT", "LEFT"]);
            common::cmd_text(&mut c, &["RPOPLPUSH", &l[1], &l[0]]);
            common::cmd_text(&mut c, &["LMOVE", &l[0], &l[1], "LEFT", "RIGHT"]);
        }
        for i in 0..20 {
            assert_eq!(
                common::cmd_text(&mut c, &["SMOVE", &s[0], &s[1], &format!("item-{i}")]),
                ":1"
            );
        }
        let mut logged = Vec::new();
        for f in dir.incr_files() {
            logged.extend(std::fs::read(f).unwrap());
        }
        assert!(
            !logged.windows(7).any(|w| w == b"RESTORE"),
            "no whole value in the logs"
        );
        assert!(
            logged.len() < 60_000,
            "the logs hold single elements: {} bytes",
            logged.len()
        );
        want = contents(&mut c);
    }
    for shards in [2, 3] {
        let srv = start_always(&dir, shards);
        let mut c = srv.raw();
        let got = contents(&mut c);
        assert!(got == want, "{shards} shards: the moves replay to other contents");
    }
}
