//! maxmemory on the real binary: the limit holds under every evicting
//! policy (with keys of every type and of several shards), noeviction and
//! volatile policies without volatile keys refuse writes with Redis's OOM
//! error, LRU and LFU keep the keys a workload uses, evictions raise
//! `evicted` events, and big values are freed off the shard threads.
//!
//! Memory figures come from INFO (`used_memory` is the allocator's exact
//! count). No assertion depends on timing; LRU needs keys whose idle times
//! differ by seconds, so that test sleeps to make them differ.

mod common;

use std::time::{Duration, Instant};

use common::{info_in as info, keys_on_distinct_shards, Server};

fn used(c: &mut redis::Connection) -> i64 {
    info(c, "memory", "used_memory")
}

fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(c).unwrap();
}

fn dbsize(c: &mut redis::Connection) -> i64 {
    redis::cmd("DBSIZE").query(c).unwrap()
}

/// Flushes, then sets maxmemory `room` bytes above what the server uses.
fn limit_above_now(c: &mut redis::Connection, room: i64, policy: &str) -> i64 {
    let () = redis::cmd("FLUSHALL").query(c).unwrap();
    config_set(c, "maxmemory", "0");
    let limit = used(c) + room;
    config_set(c, "maxmemory-policy", policy);
    config_set(c, "maxmemory", &limit.to_string());
    limit
}

/// Slack over the limit a write may leave: the write that follows an
/// eviction round adds its own key, and replies in flight are counted.
const SLACK: i64 = 64 * 1024;

#[test]
fn the_limit_holds_under_every_evicting_policy() {
    let s = Server::start(2);
    let mut c = s.client();
    let value = "v".repeat(1000);
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let limit = limit_above_now(&mut c, 2 << 20, policy);
        let volatile = policy.starts_with("volatile");
        // 10 MB through a 2 MB budget; under a volatile policy every other
        // key has no TTL and must survive.
        for i in 0..10_000 {
            let key = format!("{policy}:{i}");
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(&value);
            if !volatile || i % 2 == 1 {
                cmd.arg("EX").arg(100_000 + i);
            }
            let r: redis::RedisResult<()> = cmd.query(&mut c);
            if volatile && r.is_err() {
                // Only persistent keys left: that write is refused.
                assert!(r.unwrap_err().to_string().contains("used memory > 'maxmemory'"));
            }
            if i % 1000 == 999 {
                let u = used(&mut c);
                assert!(u <= limit + SLACK, "{policy}: used {u} over limit {limit}");
            }
        }
        assert!(info(&mut c, "stats", "evicted_keys") > 0, "{policy} evicted nothing");
        let n = dbsize(&mut c);
        assert!(n > 100, "{policy} kept only {n} keys");
        if volatile {
            // Every persistent key written before the budget filled is there.
            let mut missing = 0;
            for i in (0..10_000).step_by(2) {
                let e: bool = redis::cmd("EXISTS").arg(format!("{policy}:{i}")).query(&mut c).unwrap();
                if !e {
                    missing += 1;
                }
            }
            let refused = 5000 - n.min(5000);
            assert!(missing <= refused, "{policy} evicted {missing} persistent keys");
        }
    }
}

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let s = Server::start(2);
    let mut c = s.client();
    let mut raw = s.raw();
    limit_above_now(&mut c, 1 << 20, "noeviction");
    let value = "x".repeat(2000);
    let mut written = 0;
    let refused = loop {
        let r = raw.cmd(&["SET", &format!("k:{written}"), &value]);
        if r != "+OK\r\n" {
            break r;
        }
        written += 1;
        assert!(written < 10_000, "the limit never bit");
    };
    assert_eq!(refused, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    assert!(written > 100);
    // Reads, and writes that cannot grow memory, still run.
    assert_eq!(raw.cmd(&["GET", "k:0"]), format!("${}\r\n{}\r\n", value.len(), value));
    assert_eq!(raw.cmd(&["DEL", "k:0", "k:1", "k:2"]), ":3\r\n");
    assert_eq!(raw.cmd(&["EXPIRE", "k:3", "100"]), ":1\r\n");
    // The refusal is counted as a rejected call and an OOM error.
    let stats: String = redis::cmd("INFO").arg("commandstats").query(&mut c).unwrap();
    let set = stats.lines().find(|l| l.starts_with("cmdstat_set:")).unwrap();
    assert!(set.contains("rejected_calls=1"), "{set}");
    let errs: String = redis::cmd("INFO").arg("errorstats").query(&mut c).unwrap();
    assert!(errs.contains("errorstat_OOM:count=1"), "{errs}");
    // Without the limit, writes go through again.
    config_set(&mut c, "maxmemory", "0");
    assert_eq!(raw.cmd(&["SET", "after", "1"]), "+OK\r\n");
    assert_eq!(info(&mut c, "stats", "evicted_keys"), 0);
}

#[test]
fn a_volatile_policy_without_volatile_keys_refuses_writes() {
    let s = Server::start(1);
    let mut c = s.client();
    let mut raw = s.raw();
    limit_above_now(&mut c, 1 << 20, "volatile-lru");
    let value = "x".repeat(2000);
    let mut refused = None;
    for i in 0..5000 {
        let r = raw.cmd(&["SET", &format!("k:{i}"), &value]);
        if r != "+OK\r\n" {
            refused = Some(r);
            break;
        }
    }
    assert_eq!(
        refused.as_deref(),
        Some("-OOM command not allowed when used memory > 'maxmemory'.\r\n")
    );
    assert_eq!(info(&mut c, "stats", "evicted_keys"), 0);
}

#[test]
fn lru_evicts_the_keys_idle_longest() {
    let s = Server::start(1);
    let mut c = s.client();
    let value = "v".repeat(1000);
    let limit = limit_above_now(&mut c, 3 << 20, "allkeys-lru");
    // Old keys, then (after their idle time has grown by seconds) young
    // keys that are also read; then a flood that forces ~half out.
    for i in 0..1000 {
        let () = redis::cmd("SET")
            .arg(format!("old:{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(2100));
    for i in 0..1000 {
        let () = redis::cmd("SET")
            .arg(format!("young:{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    for i in 0..1500 {
        let () = redis::cmd("SET")
            .arg(format!("flood:{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    assert!(used(&mut c) <= limit + SLACK);
    let count = |c: &mut redis::Connection, prefix: &str| -> usize {
        (0..1000)
            .filter(|i| {
                redis::cmd("EXISTS")
                    .arg(format!("{prefix}:{i}"))
                    .query::<bool>(c)
                    .unwrap()
            })
            .count()
    };
    let (old, young) = (count(&mut c, "old"), count(&mut c, "young"));
    let evicted = info(&mut c, "stats", "evicted_keys") as usize;
    assert!(evicted > 500);
    // The old keys go first (the LRU is approximated by sampling, as
    // Redis's, so not strictly): most evictions hit them, and a young key
    // is far less likely to go than an old one.
    let (old_gone, young_gone) = (1000 - old, 1000 - young);
    assert!(
        old_gone * 10 >= evicted.min(1000) * 7,
        "{evicted} evicted: {old_gone} old, {young_gone} young"
    );
    assert!(
        young_gone * 2 < old_gone,
        "{evicted} evicted: {old_gone} old, {young_gone} young"
    );
}

#[test]
fn lfu_keeps_the_keys_used_often_and_reports_their_frequency() {
    let s = Server::start(2);
    let mut c = s.client();
    let value = "v".repeat(1000);
    // Under LRU, OBJECT FREQ is refused; under LFU, OBJECT IDLETIME is.
    let () = redis::cmd("SET").arg("probe").arg("1").query(&mut c).unwrap();
    let e = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("probe")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("An LFU maxmemory policy is not selected"), "{e}");
    let limit = limit_above_now(&mut c, 3 << 20, "allkeys-lfu");
    let () = redis::cmd("SET").arg("probe").arg("1").query(&mut c).unwrap();
    let e = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("probe")
        .query::<i64>(&mut c)
        .unwrap_err();
    assert!(e.to_string().contains("An LFU maxmemory policy is selected"), "{e}");
    // A new key starts at 5, as in Redis.
    let f: i64 = redis::cmd("OBJECT").arg("FREQ").arg("probe").query(&mut c).unwrap();
    assert_eq!(f, 5);
    for i in 0..200 {
        let () = redis::cmd("SET")
            .arg(format!("hot:{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    for _ in 0..30 {
        for i in 0..200 {
            let _: String = redis::cmd("GET").arg(format!("hot:{i}")).query(&mut c).unwrap();
        }
    }
    let f: i64 = redis::cmd("OBJECT").arg("FREQ").arg("hot:7").query(&mut c).unwrap();
    assert!(f > 5, "hot key frequency {f}");
    for i in 0..6000 {
        let () = redis::cmd("SET")
            .arg(format!("cold:{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    assert!(used(&mut c) <= limit + SLACK);
    let hot = (0..200)
        .filter(|i| {
            redis::cmd("EXISTS")
                .arg(format!("hot:{i}"))
                .query::<bool>(&mut c)
                .unwrap()
        })
        .count();
    assert!(hot > 180, "hot keys kept: {hot} of 200");
}

#[test]
fn every_value_type_is_evicted_and_announced() {
    let s = Server::start(2);
    let mut c = s.client();
    let mut sub = s.raw();
    config_set(&mut c, "notify-keyspace-events", "Ee");
    assert!(sub.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]).starts_with("*3\r\n"));
    let limit = limit_above_now(&mut c, 2 << 20, "allkeys-random");
    let member = "m".repeat(200);
    for i in 0..12_000 {
        let k = format!("{i}");
        let () = match i % 6 {
            0 => redis::cmd("RPUSH")
                .arg(format!("list:{k}"))
                .arg(&member)
                .arg(&member)
                .query(&mut c),
            1 => redis::cmd("HSET")
                .arg(format!("hash:{k}"))
                .arg("f")
                .arg(&member)
                .query(&mut c),
            2 => redis::cmd("SADD").arg(format!("set:{k}")).arg(&member).query(&mut c),
            3 => redis::cmd("ZADD")
                .arg(format!("zset:{k}"))
                .arg(1)
                .arg(&member)
                .query(&mut c),
            4 => redis::cmd("XADD")
                .arg(format!("stream:{k}"))
                .arg("*")
                .arg("f")
                .arg(&member)
                .query(&mut c),
            _ => redis::cmd("SET").arg(format!("string:{k}")).arg(&member).query(&mut c),
        }
        .map(|_: redis::Value| ())
        .unwrap();
    }
    assert!(used(&mut c) <= limit + SLACK);
    let evicted = info(&mut c, "stats", "evicted_keys");
    assert!(evicted > 100);
    // One `evicted` message per evicted key; every type among them.
    let mut types = std::collections::BTreeSet::new();
    for _ in 0..evicted {
        let msg = sub.reply();
        let text = String::from_utf8_lossy(&msg).into_owned();
        assert!(text.contains("__keyevent@0__:evicted"), "{text}");
        let key = text.rsplit("\r\n").nth(1).unwrap().to_string();
        types.insert(key.split(':').next().unwrap().to_string());
    }
    assert_eq!(types.len(), 6, "evicted types: {types:?}");
}

#[test]
fn a_shard_that_fills_alone_takes_memory_from_the_others() {
    let s = Server::start(2);
    let mut c = s.client();
    let tags = keys_on_distinct_shards("t", 2);
    let value = "v".repeat(1000);
    let limit = limit_above_now(&mut c, 4 << 20, "allkeys-lru");
    // Shard A fills the whole budget; then only shard B is written, and
    // shard B's writes make shard A give up its older keys.
    for i in 0..6000 {
        let () = redis::cmd("SET")
            .arg(format!("{{{}}}:{i}", tags[0]))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    // LRU clocks tick in seconds: make shard A's keys clearly older.
    std::thread::sleep(Duration::from_millis(2100));
    for i in 0..3000 {
        let () = redis::cmd("SET")
            .arg(format!("{{{}}}:{i}", tags[1]))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let u = used(&mut c);
        if u <= limit + SLACK {
            break;
        }
        assert!(Instant::now() < deadline, "used {u} stayed over {limit}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let count = |c: &mut redis::Connection, tag: &str, n: usize| -> usize {
        (0..n)
            .filter(|i| {
                redis::cmd("EXISTS")
                    .arg(format!("{{{tag}}}:{i}"))
                    .query::<bool>(c)
                    .unwrap()
            })
            .count()
    };
    let b = count(&mut c, &tags[1], 3000);
    let a = count(&mut c, &tags[0], 6000);
    assert!(b > 1500, "shard B kept {b} of its 3000 keys (shard A {a})");
    assert!(a < 4000, "shard A kept {a}");
}

#[test]
fn big_values_are_freed_lazily() {
    let s = Server::start(2);
    let mut c = s.client();
    let before = used(&mut c);
    let members: Vec<String> = (0..100_000).map(|i| format!("member:{i}")).collect();
    let () = redis::cmd("SADD").arg("big").arg(&members).query(&mut c).unwrap();
    let () = redis::cmd("SADD").arg("small").arg("a").query(&mut c).unwrap();
    let peak = used(&mut c);
    assert!(peak > before + 1_000_000);
    let () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let n: i64 = redis::cmd("UNLINK").arg("big").arg("small").query(&mut c).unwrap();
    assert_eq!(n, 2);
    // Only the big one goes to the freeing thread.
    let deadline = Instant::now() + Duration::from_secs(20);
    while info(&mut c, "memory", "lazyfree_pending_objects") != 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info(&mut c, "memory", "lazyfreed_objects"), 1);
    assert!(used(&mut c) < peak - 1_000_000);
    // FLUSHALL ASYNC hands every key over; a plain FLUSHALL waits for it.
    for i in 0..1000 {
        let () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    let () = redis::cmd("FLUSHALL").arg("ASYNC").query(&mut c).unwrap();
    for i in 0..500 {
        let () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c).unwrap();
    }
    let () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    assert_eq!(info(&mut c, "memory", "lazyfree_pending_objects"), 0);
    assert_eq!(info(&mut c, "memory", "lazyfreed_objects"), 1 + 1000 + 500);
    assert_eq!(dbsize(&mut c), 0);
}
