//! MEMORY subcommands on the real binary: STATS's fields in Redis 7.4's
//! order, DOCTOR's texts, MALLOC-STATS, PURGE, HELP and USAGE with SAMPLES
//! on big collections of every type.

mod common;

use common::{info_in as info, Server};

const STATS_FIELDS: &[&str] = &[
    "peak.allocated",
    "total.allocated",
    "startup.allocated",
    "replication.backlog",
    "clients.slaves",
    "clients.normal",
    "cluster.links",
    "aof.buffer",
    "lua.caches",
    "functions.caches",
    // db.N maps come here.
    "overhead.db.hashtable.lut",
    "overhead.db.hashtable.rehashing",
    "overhead.total",
    "db.dict.rehashing.count",
    "keys.count",
    "keys.bytes-per-key",
    "dataset.bytes",
    "dataset.percentage",
    "peak.percentage",
    "allocator.allocated",
    "allocator.active",
    "allocator.resident",
    "allocator.muzzy",
    "allocator-fragmentation.ratio",
    "allocator-fragmentation.bytes",
    "allocator-rss.ratio",
    "allocator-rss.bytes",
    "rss-overhead.ratio",
    "rss-overhead.bytes",
    "fragmentation",
    "fragmentation.bytes",
];

fn stats(c: &mut redis::Connection) -> Vec<(String, redis::Value)> {
    let v: Vec<redis::Value> = redis::cmd("MEMORY").arg("STATS").query(c).unwrap();
    v.chunks(2)
        .map(|p| (redis::from_redis_value::<String>(&p[0]).unwrap(), p[1].clone()))
        .collect()
}

fn int_field(s: &[(String, redis::Value)], name: &str) -> i64 {
    let v = &s
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1;
    redis::from_redis_value(v).unwrap()
}

/// Sets `n` keys of `size`-byte values, pipelined in batches.
fn fill(c: &mut redis::Connection, n: usize, size: usize) {
    let value = "x".repeat(size);
    for start in (0..n).step_by(1000) {
        let mut p = redis::pipe();
        for i in start..(start + 1000).min(n) {
            p.cmd("SET").arg(format!("key:{i}")).arg(&value).ignore();
        }
        let () = p.query(c).unwrap();
    }
}

#[test]
fn stats_has_redis_fields_in_order() {
    let s = Server::start(2);
    let mut c = s.client();
    let st = stats(&mut c);
    let names: Vec<&str> = st.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, STATS_FIELDS, "empty instance: no db.N");
    for i in 0..100 {
        let () = redis::cmd("SET").arg(format!("k{i}")).arg("v").query(&mut c).unwrap();
    }
    let () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
    let () = redis::cmd("SET")
        .arg("x")
        .arg("y")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let st = stats(&mut c);
    let names: Vec<&str> = st.iter().map(|(n, _)| n.as_str()).collect();
    let mut want: Vec<&str> = STATS_FIELDS.to_vec();
    want.splice(10..10, ["db.0", "db.3"]);
    assert_eq!(names, want);
    // Each db.N is a map of the two table overheads.
    let db0: Vec<redis::Value> = redis::from_redis_value(&st[10].1).unwrap();
    assert_eq!(db0.len(), 4);
    assert_eq!(
        redis::from_redis_value::<String>(&db0[0]).unwrap(),
        "overhead.hashtable.main"
    );
    assert_eq!(
        redis::from_redis_value::<String>(&db0[2]).unwrap(),
        "overhead.hashtable.expires"
    );
    assert!(redis::from_redis_value::<i64>(&db0[1]).unwrap() > 0);
    assert_eq!(int_field(&st, "keys.count"), 101);
    assert_eq!(int_field(&st, "replication.backlog"), 0);
    let total = int_field(&st, "total.allocated");
    assert!(total > 0 && int_field(&st, "peak.allocated") >= total);
    assert_eq!(
        int_field(&st, "overhead.total") + int_field(&st, "dataset.bytes"),
        total,
        "overhead and dataset split the total"
    );
    assert!(int_field(&st, "clients.normal") > 0, "this client's buffers count");
}

#[test]
fn stats_reply_shape_in_resp3() {
    let s = Server::start(2);
    let mut r = s.raw();
    assert!(r.cmd(&["HELLO", "3"]).starts_with('%'));
    let reply = r.cmd(&["MEMORY", "STATS"]);
    assert!(reply.starts_with("%31\r\n$14\r\npeak.allocated\r\n:"), "{reply}");
    assert!(reply.contains("$18\r\ndataset.percentage\r\n,"), "{reply}");
    assert!(reply.contains("$13\r\nfragmentation\r\n,"), "{reply}");
}

#[test]
fn doctor_on_an_empty_instance() {
    let s = Server::start(2);
    let mut r = s.raw();
    let text = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n";
    assert_eq!(r.cmd(&["MEMORY", "DOCTOR"]), format!("${}\r\n{text}\r\n", text.len()));
    assert!(r.cmd(&["HELLO", "3"]).starts_with('%'));
    assert_eq!(
        r.cmd(&["MEMORY", "DOCTOR"]),
        format!("={}\r\ntxt:{text}\r\n", text.len() + 4)
    );
}

#[test]
fn doctor_finds_nothing_wrong_with_a_plainly_filled_instance() {
    let s = Server::start(2);
    let mut c = s.client();
    fill(&mut c, 60_000, 100);
    let report: String = redis::cmd("MEMORY").arg("DOCTOR").query(&mut c).unwrap();
    // Either no issue, or a report naming issues (RSS figures depend on
    // the host); never the empty-instance text.
    assert!(
        report == "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
            || (report.starts_with("Sam, I detected a few issues in this Redis instance memory implants:\n\n")
                && report.ends_with("I'm here to keep you safe, Sam. I want to help you.\n")),
        "{report}"
    );
}

#[test]
fn malloc_stats_purge_and_help() {
    let s = Server::start(2);
    let mut r = s.raw();
    let stats = r.cmd(&["MEMORY", "MALLOC-STATS"]);
    assert!(stats.starts_with('$') && stats.len() > 100, "{stats}");
    let mut c = s.client();
    fill(&mut c, 20_000, 200);
    let () = redis::cmd("FLUSHALL").arg("SYNC").query(&mut c).unwrap();
    let before = info(&mut c, "memory", "used_memory");
    assert_eq!(r.cmd(&["MEMORY", "PURGE"]), "+OK\r\n");
    let after = info(&mut c, "memory", "used_memory");
    assert!(
        after > 0 && after < before + (1 << 20),
        "used_memory {before} -> {after}"
    );
    assert_eq!(
        r.cmd(&["MEMORY", "HELP"]),
        "*14\r\n+MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+DOCTOR\r\n+    Return memory problems reports.\r\n+MALLOC-STATS\r\n+    Return internal statistics report from the memory allocator.\r\n+PURGE\r\n+    Attempt to purge dirty pages for reclamation by the allocator.\r\n+STATS\r\n+    Return information about the memory usage of the server.\r\n+USAGE <key> [SAMPLES <count>]\r\n+    Return memory in bytes used by <key> and its value. Nested values are\r\n+    sampled up to <count> times (default: 5, 0 means sample all).\r\n+HELP\r\n+    Print this help.\r\n"
    );
    assert_eq!(
        r.cmd(&["MEMORY", "STATS", "x"]),
        "-ERR wrong number of arguments for 'memory|stats' command\r\n"
    );
    assert_eq!(
        r.cmd(&["MEMORY", "NOPE"]),
        "-ERR unknown subcommand 'NOPE'. Try MEMORY HELP.\r\n"
    );
}

#[test]
fn usage_samples_big_collections() {
    let s = Server::start(2);
    let mut c = s.client();
    let mut r = s.raw();
    for i in 0..2000 {
        // Sizes vary, so a sample is an estimate, not the exact sum.
        let member = format!("member-{i}-{}", "m".repeat(i % 40));
        let mut p = redis::pipe();
        p.cmd("RPUSH").arg("list").arg(&member).ignore();
        p.cmd("HSET").arg("hash").arg(&member).arg("value").ignore();
        p.cmd("SADD").arg("set").arg(&member).ignore();
        p.cmd("ZADD").arg("zset").arg(i).arg(&member).ignore();
        let () = p.query(&mut c).unwrap();
    }
    for key in ["list", "hash", "set", "zset"] {
        let all: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(0)
            .query(&mut c)
            .unwrap();
        let dflt: i64 = redis::cmd("MEMORY").arg("USAGE").arg(key).query(&mut c).unwrap();
        let some: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(100)
            .query(&mut c)
            .unwrap();
        let many: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .arg("SAMPLES")
            .arg(5000)
            .query(&mut c)
            .unwrap();
        assert_eq!(many, all, "{key}: samples past the count measure everything");
        for est in [dflt, some] {
            let ratio = est as f64 / all as f64;
            assert!((0.5..2.0).contains(&ratio), "{key}: estimate {est} vs full {all}");
        }
    }
    assert_eq!(r.cmd(&["MEMORY", "USAGE", "missing"]), "$-1\r\n");
    assert_eq!(
        r.cmd(&["MEMORY", "USAGE", "list", "SAMPLES", "-1"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        r.cmd(&["MEMORY", "USAGE", "list", "SAMPLES", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(r.cmd(&["MEMORY", "USAGE", "list", "FOO"]), "-ERR syntax error\r\n");
    // A string's usage grows with it; scripts may call MEMORY.
    let () = redis::cmd("SET").arg("s").arg("x".repeat(1000)).query(&mut c).unwrap();
    let n: i64 = redis::cmd("MEMORY").arg("USAGE").arg("s").query(&mut c).unwrap();
    assert!(n > 1000 && n < 1200, "{n}");
    let from_script: i64 = redis::cmd("EVAL")
        .arg("return redis.call('memory', 'usage', KEYS[1])")
        .arg(1)
        .arg("s")
        .query(&mut c)
        .unwrap();
    assert_eq!(from_script, n);
    let st: Vec<redis::Value> = redis::cmd("EVAL")
        .arg("return redis.call('memory', 'stats')")
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(st.len(), 2 * (31 + 1));
}
