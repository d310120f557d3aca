//! The change counter (Redis's `dirty`) each write command raises, through
//! the in-process harness.

use spindle::server::harness::Harness;

/// How many changes `line` recorded.
fn delta(h: &mut Harness, line: &str) -> u64 {
    let before = spindle::persist::changes(h.shard());
    h.cmd(line);
    spindle::persist::changes(h.shard()) - before
}

#[test]
fn strings_and_keys_count_like_redis() {
    let mut h = Harness::new();
    assert_eq!(delta(&mut h, "SET a 1"), 1);
    assert_eq!(delta(&mut h, "SET a 2 NX"), 0);
    assert_eq!(delta(&mut h, "GET a"), 0);
    assert_eq!(delta(&mut h, "MSET b 1 c 2 d 3"), 3);
    assert_eq!(delta(&mut h, "INCR b"), 1);
    assert_eq!(delta(&mut h, "INCRBYFLOAT b 1.5"), 1);
    assert_eq!(delta(&mut h, "APPEND c x"), 1);
    assert_eq!(delta(&mut h, "SETRANGE c 0 \"\""), 0);
    assert_eq!(delta(&mut h, "SETNX a 5"), 0);
    assert_eq!(delta(&mut h, "SETNX n 5"), 1);
    assert_eq!(delta(&mut h, "EXPIRE a 100"), 1);
    assert_eq!(delta(&mut h, "EXPIRE missing 100"), 0);
    assert_eq!(delta(&mut h, "PERSIST a"), 1);
    assert_eq!(delta(&mut h, "PERSIST a"), 0);
    assert_eq!(delta(&mut h, "DEL a b missing"), 2);
    assert_eq!(delta(&mut h, "RENAME c c2"), 1);
    assert_eq!(delta(&mut h, "GETDEL c2"), 1);
    assert_eq!(delta(&mut h, "LPUSH l 1"), 1);
    assert_eq!(delta(&mut h, "INCR l"), 0, "a failed command changes nothing");
}

#[test]
fn collections_count_elements() {
    let mut h = Harness::new();
    assert_eq!(delta(&mut h, "RPUSH l a b c d"), 4);
    assert_eq!(delta(&mut h, "LPOP l 2"), 2);
    assert_eq!(delta(&mut h, "LSET l 0 x"), 1);
    assert_eq!(delta(&mut h, "LREM l 0 nothing"), 0);
    assert_eq!(delta(&mut h, "SADD s a b c"), 3);
    assert_eq!(delta(&mut h, "SADD s a"), 0);
    assert_eq!(delta(&mut h, "SREM s a b z"), 2);
    assert_eq!(delta(&mut h, "HSET h f 1 g 2"), 2);
    assert_eq!(delta(&mut h, "HDEL h f nope"), 1);
    assert_eq!(delta(&mut h, "HINCRBY h g 1"), 1);
    assert_eq!(delta(&mut h, "ZADD z 1 a 2 b"), 2);
    assert_eq!(delta(&mut h, "ZADD z 1 a"), 0);
    assert_eq!(delta(&mut h, "ZREM z a b"), 2);
    assert_eq!(delta(&mut h, "XADD x 1-1 f v"), 1);
    assert_eq!(delta(&mut h, "XDEL x 1-1 2-2"), 1);
}

#[test]
fn setbit_counts_only_a_change() {
    let mut h = Harness::new();
    assert_eq!(delta(&mut h, "SETBIT b 1 1"), 1);
    assert_eq!(delta(&mut h, "SETBIT b 1 1"), 0);
    assert_eq!(delta(&mut h, "SETBIT b 1 0"), 1);
    assert_eq!(delta(&mut h, "BITFIELD b SET u8 0 0"), 0);
    assert_eq!(delta(&mut h, "BITFIELD b SET u8 0 255"), 1);
}

#[test]
fn blocking_pops_and_flushes_count() {
    let mut h = Harness::new();
    h.cmd("RPUSH l a b");
    assert_eq!(delta(&mut h, "BLPOP l 0"), 1);
    assert_eq!(delta(&mut h, "BLMOVE l l2 LEFT RIGHT 0"), 1);
    h.cmd("MSET a 1 b 2 c 3");
    // FLUSHALL adds the keys it removed (l2, a, b, c).
    assert_eq!(delta(&mut h, "FLUSHALL"), 4);
}
