//! Keyspace notifications, differential: the same commands run on Spindle
//! (4 shards, so keys spread over shards and multi-key commands go
//! cross-shard) and on a stock `redis-server`, each with a listener doing
//! `PSUBSCRIBE *`; the events each one publishes must be the same.
//!
//! Ordering. Redis is one thread and publishes in command order. Spindle
//! publishes an event on the shard that raised it, to the shard owning the
//! channel, which delivers to the listener's shard: events of different
//! keys (or of one key on channels owned by different shards) may arrive
//! interleaved differently. What stays ordered is everything one key sends
//! to one channel. So the comparison is per keyspace channel
//! (`__keyspace@<db>__:<key>`, the sequence of event names, in order) and,
//! for keyevent channels (`__keyevent@<db>__:<event>`, whose messages are
//! key names), per (channel, key) count.
//!
//! End of the stream: after the commands, `PUBLISH __sentinel__ 1`; the
//! listener reads until the sentinel and at least as many events as Redis
//! sent (a generous read timeout, never a sleep), then a second sentinel
//! round collects any extra event Spindle might send.
//!
//! The stock server here is Redis 7.0; Spindle follows 7.4. Commands whose
//! events differ between the two (hash field TTLs do not exist in 7.0) are
//! tested against 7.4's source by hand at the end of this file.

mod common;

use std::collections::BTreeMap;

use common::{connect, encode, encode_bytes, split_line, Raw, Redis, Server};

/// One pub/sub message as (channel, payload), None for a subscribe
/// confirmation or on timeout.
fn read_message(r: &mut Raw) -> Option<(String, String)> {
    let reply = r.try_reply()?;
    let parts = bulks(&reply);
    match parts.first().map(|s| s.as_str()) {
        Some("pmessage") if parts.len() == 4 => Some((parts[2].clone(), parts[3].clone())),
        Some("message") if parts.len() == 3 => Some((parts[1].clone(), parts[2].clone())),
        _ => Some((String::new(), String::new())),
    }
}

/// The bulk strings of a flat RESP2 array reply.
fn bulks(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut out = Vec::new();
    let mut lines = text.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap_or_default().to_string());
        } else if let Some(n) = l.strip_prefix(':') {
            out.push(n.to_string());
        }
    }
    out
}

/// A listener subscribed to every channel.
fn listener(port: u16) -> Raw {
    let mut l = connect(port);
    l.send(&encode(&["PSUBSCRIBE", "*"]));
    let confirm = l.reply();
    assert!(String::from_utf8_lossy(&confirm).contains("psubscribe"));
    l
}

/// Runs `script` on the server at `port` with `notify-keyspace-events` set
/// to `flags`, and returns the events its listener received, in arrival
/// order. `at_least`: keep reading until that many arrived (Redis's
/// count), whatever the sentinel says.
///
/// `WAITGONE key` in the script polls `EXISTS key` until the key has
/// expired (a condition, not a timing assumption).
fn events(port: u16, flags: &str, script: &str, at_least: usize) -> Vec<(String, String)> {
    let mut c = connect(port);
    for cmd in [
        vec!["SELECT", "0"],
        vec!["FLUSHALL"],
        vec!["CONFIG", "SET", "notify-keyspace-events", flags],
    ] {
        c.send(&encode(&cmd));
        let r = c.reply();
        assert!(!r.starts_with(b"-"), "{cmd:?}: {}", String::from_utf8_lossy(&r));
    }
    let mut l = listener(port);
    for line in script.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(key) = line.strip_prefix("WAITGONE ") {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                c.send(&encode(&["EXISTS", key]));
                if c.reply() == b":0\r\n" {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "{key} never expired");
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            continue;
        }
        c.send(&encode_bytes(&split_line(line)));
        c.reply();
    }
    let mut got = Vec::new();
    for round in ["1", "2"] {
        c.send(&encode(&["PUBLISH", "__sentinel__", round]));
        c.reply();
        // The sentinel may overtake events of other shards: read on until
        // Redis's count too (round 1).
        let mut seen = false;
        while !(seen && (round == "2" || got.len() >= at_least)) {
            let Some((ch, msg)) = read_message(&mut l) else {
                // Timed out: compare what arrived.
                return got;
            };
            if ch == "__sentinel__" {
                seen |= msg == round;
            } else if !ch.is_empty() {
                got.push((ch, msg));
            }
        }
    }
    c.send(&encode(&["CONFIG", "SET", "notify-keyspace-events", ""]));
    c.reply();
    got
}

/// Events in a comparable form (see the module comment): keyspace channels
/// with their ordered event names, keyevent (channel, key) pairs counted.
/// Keyspace channels → event names in order; (keyevent channel, key) → count.
type Normalized = (BTreeMap<String, Vec<String>>, BTreeMap<(String, String), usize>);

fn normalize(evs: &[(String, String)]) -> Normalized {
    let mut space: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut event: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (ch, msg) in evs {
        if ch.starts_with("__keyspace@") {
            space.entry(ch.clone()).or_default().push(msg.clone());
        } else {
            *event.entry((ch.clone(), msg.clone())).or_default() += 1;
        }
    }
    (space, event)
}

/// Runs `script` on both servers for each flag set and compares.
fn compare(redis: &Redis, spindle: &Server, flag_sets: &[&str], script: &str) {
    let mut failures = Vec::new();
    for flags in flag_sets {
        let want = events(redis.port, flags, script, 0);
        let got = events(spindle.port, flags, script, want.len());
        let (ws, we) = normalize(&want);
        let (gs, ge) = normalize(&got);
        for ch in ws.keys().chain(gs.keys().filter(|k| !ws.contains_key(*k))) {
            let (w, g) = (ws.get(ch), gs.get(ch));
            if w != g {
                failures.push(format!("[{flags}] {ch}\n   redis:   {w:?}\n   spindle: {g:?}"));
            }
        }
        for k in we.keys().chain(ge.keys().filter(|k| !we.contains_key(*k))) {
            let (w, g) = (we.get(k).copied().unwrap_or(0), ge.get(k).copied().unwrap_or(0));
            if w != g {
                failures.push(format!("[{flags}] {} {}: redis {w}, spindle {g}", k.0, k.1));
            }
        }
        assert!(!want.is_empty() || flags.is_empty(), "[{flags}] redis sent no events");
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

const STRINGS: &str = r#"
SET s1 v
SET s1 v2 EX 100
SETNX s1 x
SETNX s2 x
SETEX s3 100 v
PSETEX s4 100000 v
GETSET s1 v3
SET s5 v KEEPTTL
SET s5 w XX GET
SET s6 v NX
SET s6 v NX
SET nos v XX GET
MSET m1 a m2 b m3 c
MSETNX m4 a m5 b
MSETNX m4 a m6 b
INCR c1
INCRBY c1 5
DECR c1
DECRBY c1 2
INCRBY s1 1
INCRBYFLOAT f1 1.5
INCRBYFLOAT f1 2
APPEND s1 xyz
APPEND s7 new
SETRANGE s1 2 ab
SETRANGE s8 0 ""
SETRANGE s8 3 x
SETRANGE s8 0 ""
GETDEL s2
GETDEL s2
GETEX s3 EX 200
GETEX s3 PERSIST
GETEX s3 PERSIST
GETEX s4 PXAT 1
GETEX nos EX 10
GET s1
GET nos
GETRANGE nos 0 1
STRLEN nos
MGET s1 nos m1 m2 nos2
LCS s1 nos
"#;

const KEYS: &str = r#"
SET k1 v
SET k2 v
SET k3 v
EXPIRE k1 100
PEXPIRE k1 200000 GT
EXPIRE k1 10 NX
EXPIRE nok 10
PERSIST k1
PERSIST k1
EXPIREAT k2 1
DEL k1 k2 nok k3
SET k1 v
SET k2 v
UNLINK k1 k2
SET c1 v
COPY c1 c2
COPY c1 c2
COPY c1 c2 REPLACE
COPY nok c3
COPY c1 c4 DB 2
RENAME c2 r1
SET r2 x
RENAME r1 r2
RENAMENX r2 c1
RENAMENX r2 r3
RENAME r3 r3
MOVE r3 3
MOVE nok 3
SELECT 3
SET t1 x
MOVE r3 0
SELECT 0
TOUCH r3 nok
EXISTS r3 nok
TYPE nok
TTL nok
PTTL r3
"#;

const LISTS: &str = r#"
LPUSH l1 a b c
RPUSH l1 d
LPUSHX l2 a
RPUSHX l1 e
LPOP l1
RPOP l1 2
LPOP l1 0
LPOP nol
LINSERT l1 BEFORE b x
LINSERT l1 BEFORE nope x
LSET l1 0 y
LREM l1 1 y
LREM l1 0 nope
LTRIM l1 0 0
LTRIM l1 1 0
RPUSH l3 a b c
LMOVE l3 l4 LEFT RIGHT
RPOPLPUSH l3 l4
LMOVE l3 l3 LEFT RIGHT
LMOVE l3 l4 RIGHT LEFT
LMOVE nol l4 RIGHT LEFT
LMPOP 2 nol l4 LEFT COUNT 5
RPUSH l5 a b
BLPOP nol l5 1
BRPOP l5 1
BLMOVE l6 l7 LEFT LEFT 0.01
RPUSH l6 a
BLMOVE l6 l7 LEFT LEFT 1
BLMPOP 1 2 nol l7 RIGHT
LRANGE nol 0 -1
LLEN nol
LINDEX nol 0
LPOS nol a
"#;

const HASHES: &str = r#"
HSET h1 a 1 b 2
HMSET h1 c 3
HSETNX h1 a 1
HSETNX h1 d 4
HSETNX h2 a 1
HINCRBY h1 a 5
HINCRBY h3 a 5
HINCRBYFLOAT h1 b 1.5
HINCRBYFLOAT h4 b 1.5
HDEL h1 a nope
HDEL h1 zz
HDEL h1 b c d
HDEL noh a
HGET noh a
HMGET noh a
HGETALL noh
HLEN noh
HEXISTS noh a
HSTRLEN noh a
HKEYS noh
HRANDFIELD noh
"#;

const SETS: &str = r#"
SADD st1 a b c
SADD st1 a
SREM st1 a nope
SREM st1 zz
SADD st2 c d
SMOVE st1 st2 b
SMOVE st1 st2 nope
SMOVE st1 st3 c
SPOP st2
SPOP st2 0
SPOP st2 5
SPOP nost
SADD st4 1 2 3
SADD st5 3 4
SINTERSTORE st6 st4 st5
SUNIONSTORE st7 st4 st5
SDIFFSTORE st8 st4 st5
SINTERSTORE st6 st4 nost
SDIFFSTORE st9 nost st4
SUNIONSTORE st7 st4 st5
SMEMBERS nost
SCARD nost
SISMEMBER nost a
SINTER st4 nost
SUNION nost st5
SRANDMEMBER nost
"#;

const ZSETS: &str = r#"
ZADD z1 1 a 2 b 3 c
ZADD z1 1 a
ZADD z1 XX 10 nope
ZADD z1 CH 5 a
ZADD z1 INCR 5 a
ZINCRBY z1 1 b
ZINCRBY z1 0 b
ZREM z1 nope
ZREM z1 a
ZADD z2 1 x 2 y 3 z 4 w
ZREMRANGEBYRANK z2 0 0
ZREMRANGEBYSCORE z2 2 2
ZREMRANGEBYSCORE z2 100 200
ZADD z9 0 a 0 b 0 c
ZREMRANGEBYLEX z9 [a [b
ZREMRANGEBYLEX z9 - +
ZPOPMIN z1
ZPOPMIN z1 0
ZPOPMAX z1 5
ZPOPMIN noz
ZADD z3 1 a 2 b
ZADD z4 2 b 3 c
ZUNIONSTORE z5 2 z3 z4
ZINTERSTORE z6 2 z3 z4
ZDIFFSTORE z7 2 z3 z4
ZRANGESTORE z8 z3 0 -1
ZRANGESTORE z8 z3 5 6
ZINTERSTORE z6 2 z3 noz
ZMPOP 2 noz z4 MIN COUNT 10
BZPOPMIN noz z3 1
BZPOPMAX z3 1
BZMPOP 1 1 z2 MAX
ZSCORE noz a
ZRANGE noz 0 -1
ZCARD noz
ZRANK noz a
ZCOUNT noz 0 1
ZUNION 2 noz noz2
"#;

const GEO: &str = r#"
GEOADD g1 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD g1 13.361389 38.115556 Palermo
GEOADD g1 XX 1 1 nope
GEOADD g1 CH 13.361390 38.115556 Palermo
GEOPOS nog a
GEOHASH nog a
GEODIST nog a b
GEOSEARCH nog FROMLONLAT 15 37 BYRADIUS 200 km
GEOSEARCHSTORE g2 g1 FROMLONLAT 15 37 BYRADIUS 200 km
GEOSEARCHSTORE g2 g1 FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
GEORADIUS g1 15 37 200 km STORE g3
GEORADIUSBYMEMBER g1 Palermo 100 km STOREDIST g4
GEOSEARCHSTORE g2 g1 FROMLONLAT 0 0 BYRADIUS 1 km
GEOSEARCHSTORE g2 nog FROMLONLAT 0 0 BYRADIUS 1 km
GEORADIUS nog 15 37 200 km STORE g3
GEORADIUS g1 15 37 200 km
DEL g1 g3 g4
"#;

const BITS_HLL: &str = r#"
SETBIT b1 7 1
SETBIT b1 100 0
GETBIT nob 0
BITCOUNT nob
BITPOS nob 1
BITOP OR b2 b1 nob
BITOP AND b3 nob nob2
BITOP AND b2 nob nob2
BITFIELD b4 SET u8 0 255
BITFIELD b4 GET u8 0
BITFIELD_RO nob GET u8 0
BITFIELD b4 OVERFLOW FAIL INCRBY u8 0 10
PFADD hl1 a b c
PFADD hl1 a
PFADD hl2 x
PFMERGE hl3 hl1 hl2
PFMERGE hl3 hl1
PFCOUNT nohl
PFCOUNT hl1 nohl
DEL hl1 hl2 hl3 b1 b2 b4
"#;

const STREAMS: &str = r#"
XADD st1 1-1 a 1
XADD st1 2-1 b 2
XADD st1 MAXLEN 1 3-1 c 3
XADD st1 NOMKSTREAM 4-1 d 4
XADD nost NOMKSTREAM 1-1 a 1
XDEL st1 4-1 9-9
XDEL st1 9-9
XTRIM st1 MAXLEN 0
XTRIM st1 MAXLEN 0
XGROUP CREATE st2 g1 $ MKSTREAM
XGROUP CREATE st2 g1 $
XGROUP CREATECONSUMER st2 g1 alice
XGROUP CREATECONSUMER st2 g1 alice
XADD st2 5-1 f v
XADD st2 6-1 f v
XREADGROUP GROUP g1 bob STREAMS st2 >
XREADGROUP GROUP g1 bob STREAMS st2 0
XREAD STREAMS st2 nost 0 0
XACK st2 g1 5-1
XCLAIM st2 g1 carol 0 6-1
XADD st2 7-1 f v
XREADGROUP GROUP g1 dave STREAMS st2 >
XAUTOCLAIM st2 g1 erin 0 0
XGROUP SETID st2 g1 0
XGROUP DELCONSUMER st2 g1 alice
XGROUP DELCONSUMER st2 g1 nobody
XSETID st2 10-1
XGROUP DESTROY st2 g1
XGROUP DESTROY st2 g1
XADD {s}a 1-1 f v
XADD {s}b 1-1 f v
XREAD STREAMS {s}a {s}b 0 0
DEL st1 st2 {s}a {s}b
"#;

const EXPIRY: &str = r#"
SET e1 v PX 20
SET e2 v PX 20
HSET e3 a 1
PEXPIRE e3 20
WAITGONE e1
WAITGONE e2
WAITGONE e3
SET e4 v PXAT 1
WAITGONE e4
"#;

const TRANSACTION: &str = r#"
MULTI
SET x1 v
LPUSH x2 a
DEL x1 nope
EXEC
EVAL "redis.call('set', KEYS[1], 'v') redis.call('incr', KEYS[2])" 2 {t}a {t}b
MULTI
SET ga 1
SET gb 2
RENAME ga gc
LPUSH gl a
RPOPLPUSH gl gm
EXEC
EVAL "redis.call('set', 'gd', '1') redis.call('set', 'ge', '2') redis.call('rename', 'gd', 'gf') redis.call('del', 'gb', 'gc', 'gf') redis.call('mset', 'gx', '1', 'gy', '2') return redis.call('incr', 'gx')" 0
EVAL "redis.call('copy', 'gy', 'gz') redis.call('lmove', 'gm', 'gn', 'LEFT', 'LEFT') redis.call('sadd', 'gs1', 'a') redis.call('sadd', 'gs2', 'b') return redis.call('sunionstore', 'gs3', 'gs1', 'gs2')" 0
"#;

#[test]
fn events_match_redis_for_every_family() {
    let redis = Redis::start();
    let spindle = Server::start(4);
    let all = "KEA";
    for script in [
        STRINGS,
        KEYS,
        LISTS,
        HASHES,
        SETS,
        ZSETS,
        GEO,
        BITS_HLL,
        STREAMS,
        TRANSACTION,
    ] {
        compare(&redis, &spindle, &[all, "KEAmn"], script);
    }
}

#[test]
fn class_subsets_filter_like_redis() {
    let redis = Redis::start();
    let spindle = Server::start(4);
    let script = [STRINGS, KEYS, LISTS, HASHES, SETS, ZSETS, BITS_HLL, STREAMS].concat();
    compare(
        &redis,
        &spindle,
        &[
            "Kn", "En", "Em", "Eg", "K$", "El", "Ks", "Ez", "Kh", "Et", "Kt", "Eg$lshz", "",
        ],
        &script,
    );
}

#[test]
fn expired_events_match_redis() {
    let redis = Redis::start();
    let spindle = Server::start(4);
    compare(&redis, &spindle, &["Ex", "KEA"], EXPIRY);
}

/// `blocked_clients` of INFO clients, over a raw connection.
fn blocked_clients(c: &mut Raw) -> i64 {
    c.send(&encode(&["INFO", "clients"]));
    let info = c.reply_str();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

/// Each step: a client blocks with `block`, then `trigger` (commands on
/// another connection) serves it. Returns the events, as [`events`] does.
fn blocked_events(port: u16, flags: &str, steps: &[(&[&str], &[&[&str]])], at_least: usize) -> Vec<(String, String)> {
    let mut c = connect(port);
    for cmd in [vec!["FLUSHALL"], vec!["CONFIG", "SET", "notify-keyspace-events", flags]] {
        c.send(&encode(&cmd));
        c.reply();
    }
    let mut l = listener(port);
    for (block, trigger) in steps {
        let mut b = connect(port);
        b.send(&encode(block));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while blocked_clients(&mut c) != 1 {
            assert!(std::time::Instant::now() < deadline, "{block:?} never blocked");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        for t in trigger.iter() {
            c.send(&encode(t));
            c.reply();
        }
        let served = b.reply_str();
        assert!(
            !served.starts_with('-') && !served.starts_with("*-1"),
            "{block:?}: {served}"
        );
    }
    let mut got = Vec::new();
    c.send(&encode(&["PUBLISH", "__sentinel__", "1"]));
    c.reply();
    let mut seen = false;
    while !(seen && got.len() >= at_least) {
        let Some((ch, msg)) = read_message(&mut l) else {
            return got;
        };
        if ch == "__sentinel__" {
            seen = true;
        } else if !ch.is_empty() {
            got.push((ch, msg));
        }
    }
    got
}

#[test]
fn served_blocked_clients_raise_the_pops_like_redis() {
    let redis = Redis::start();
    let spindle = Server::start(4);
    let far = common::keys_on_distinct_shards("far", 4);
    let (src, dst) = (far[0].as_str(), far[1].as_str());
    let far_block = ["BLMOVE", src, dst, "RIGHT", "LEFT", "0"];
    let far_push = ["RPUSH", src, "y"];
    let far_trigger = [&far_push[..]];
    let steps: Vec<(&[&str], &[&[&str]])> = vec![
        (&["BLPOP", "bl1", "0"], &[&["LPUSH", "bl1", "a"]]),
        (&["BRPOP", "nol", "bl2", "0"], &[&["RPUSH", "bl2", "a", "b"]]),
        (
            &["BLMOVE", "{b}src", "{b}dst", "LEFT", "RIGHT", "0"],
            &[&["LPUSH", "{b}src", "x"]],
        ),
        (&far_block, &far_trigger),
        (&["BZPOPMIN", "bz1", "0"], &[&["ZADD", "bz1", "1", "a"]]),
        (
            &["BLMPOP", "0", "1", "bl3", "LEFT", "COUNT", "2"],
            &[&["RPUSH", "bl3", "a", "b", "c"]],
        ),
        (
            &["BZMPOP", "0", "1", "bz2", "MAX"],
            &[&["ZADD", "bz2", "1", "a", "2", "b"]],
        ),
        (
            &["BLPOP", "bl4", "0"],
            &[&["MULTI"], &["LPUSH", "bl4", "a"], &["SET", "bl5", "x"], &["EXEC"]],
        ),
    ];
    for flags in ["KEA", "KEAmn"] {
        let want = blocked_events(redis.port, flags, &steps, 0);
        let got = blocked_events(spindle.port, flags, &steps, want.len());
        assert_eq!(
            normalize(&got),
            normalize(&want),
            "[{flags}]\nredis:   {want:?}\nspindle: {got:?}"
        );
    }
}

/// Polls `cmd` until it answers `want` (a condition, not a timing bet).
fn wait_reply(c: &mut Raw, cmd: &[&str], want: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        c.send(&encode(cmd));
        if c.reply_str() == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{cmd:?} never answered {want:?}");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Hash field TTLs do not exist in the Redis 7.0 above: the events here
/// are the ones t_hash.c of 7.4 raises (hashTypeSetExDone, hpersistCommand,
/// hashTypeGetValue's lazy expiry, hmgetCommand's single `hexpired`, the
/// active field expiry of hashTypeActiveExpire), written out by hand.
#[test]
fn hash_field_expiry_events_follow_redis_7_4() {
    let spindle = Server::start(4);
    let mut c = spindle.raw();
    assert_eq!(c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEAn"]), "+OK\r\n");
    let mut l = listener(spindle.port);
    let script: &[&[&str]] = &[
        &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"],
        &["HEXPIRE", "h", "100", "FIELDS", "1", "a"],
        &["HEXPIRE", "h", "100", "NX", "FIELDS", "1", "a"],
        &["HEXPIRE", "h", "100", "FIELDS", "1", "nofield"],
        &["HPERSIST", "h", "FIELDS", "1", "a"],
        &["HPERSIST", "h", "FIELDS", "1", "a"],
        &["HPEXPIRE", "h", "0", "FIELDS", "1", "a"],
        &["HPEXPIREAT", "h", "1", "FIELDS", "1", "b"],
        &["HSET", "h1", "x", "1"],
        &["HPEXPIRE", "h1", "0", "FIELDS", "1", "x"],
    ];
    for cmd in script {
        c.cmd(cmd);
    }
    // Active expiry reclaims a field; the hash stays (other fields).
    c.cmd(&["HPEXPIRE", "h", "1", "FIELDS", "1", "c"]);
    wait_reply(&mut c, &["HLEN", "h"], ":1\r\n");
    // Lazy expiry: with the active cycle off, readers reclaim.
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    c.cmd(&["HSET", "h2", "x", "1", "y", "2"]);
    c.cmd(&["HPEXPIRE", "h2", "1", "FIELDS", "2", "x", "y"]);
    wait_reply(&mut c, &["HPTTL", "h2", "FIELDS", "1", "y"], "*1\r\n:-2\r\n");
    assert_eq!(c.cmd(&["HMGET", "h2", "x", "y"]), "*2\r\n$-1\r\n$-1\r\n");
    c.cmd(&["HSET", "h3", "f", "1"]);
    c.cmd(&["HPEXPIRE", "h3", "1", "FIELDS", "1", "f"]);
    wait_reply(&mut c, &["HPTTL", "h3", "FIELDS", "1", "f"], "*1\r\n:-2\r\n");
    assert_eq!(c.cmd(&["HINCRBY", "h3", "f", "5"]), ":5\r\n");
    c.cmd(&["HSET", "h4", "f", "1", "g", "2"]);
    c.cmd(&["HPEXPIRE", "h4", "1", "FIELDS", "1", "f"]);
    wait_reply(&mut c, &["HPTTL", "h4", "FIELDS", "1", "f"], "*1\r\n:-2\r\n");
    assert_eq!(c.cmd(&["HGET", "h4", "f"]), "$-1\r\n");
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), "+OK\r\n");

    let want: &[(&str, &[&str])] = &[
        (
            "h",
            &[
                "new", "hset", "hexpire", "hpersist", "hdel", "hdel", "hexpire", "hexpired",
            ],
        ),
        ("h1", &["new", "hset", "hdel", "del"]),
        ("h2", &["new", "hset", "hexpire", "hexpired", "del"]),
        ("h3", &["new", "hset", "hexpire", "hexpired", "del", "new", "hincrby"]),
        ("h4", &["new", "hset", "hexpire", "hexpired"]),
    ];
    let total: usize = want.iter().map(|(_, e)| e.len()).sum();
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut n = 0;
    while n < total {
        let (ch, msg) = read_message(&mut l).expect("an event within the read timeout");
        if let Some(key) = ch.strip_prefix("__keyspace@0__:") {
            got.entry(key.to_string()).or_default().push(msg);
            n += 1;
        }
    }
    let want: BTreeMap<String, Vec<String>> = want
        .iter()
        .map(|(k, e)| (k.to_string(), e.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(got, want);
    // Nothing more (keyevent copies aside).
    c.cmd(&["PUBLISH", "__sentinel__", "1"]);
    loop {
        let (ch, msg) = read_message(&mut l).expect("the sentinel");
        if ch == "__sentinel__" {
            break;
        }
        assert!(!ch.starts_with("__keyspace@"), "extra event {ch} {msg}");
    }
}

/// SCAN deletes the expired keys it walks past, raising `expired`, as
/// Redis 7.4's does (the stock server here lacks DEBUG to stop its active
/// cycle, so this one is Spindle alone).
#[test]
fn scan_reclaims_expired_keys_with_their_event() {
    let spindle = Server::start(4);
    let mut c = spindle.raw();
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ex"]), "+OK\r\n");
    let mut l = listener(spindle.port);
    // `late` expires no later than `probe`: once `probe` is gone, so is it.
    c.cmd(&["SET", "late", "v", "PX", "1"]);
    c.cmd(&["SET", "probe", "v", "PX", "1"]);
    c.cmd(&["SET", "stays", "v"]);
    wait_reply(&mut c, &["PTTL", "probe"], ":-2\r\n");
    let mut cursor = "0".to_string();
    loop {
        c.send(&encode(&["SCAN", &cursor, "COUNT", "1000"]));
        let page = bulks(&c.reply());
        assert!(!page.contains(&"late".to_string()));
        cursor = page[0].clone();
        if cursor == "0" {
            break;
        }
    }
    let mut got = Vec::new();
    while got.len() < 2 {
        let (ch, msg) = read_message(&mut l).expect("an expired event");
        if ch == "__keyevent@0__:expired" {
            got.push(msg);
        }
    }
    got.sort();
    assert_eq!(got, ["late", "probe"]);
    assert_eq!(c.cmd(&["DBSIZE"]), ":1\r\n");
    assert_eq!(c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), "+OK\r\n");
}
