//! Ring 2 for the sorted set family: exact reply bytes through the real
//! dispatch path, including Redis 7.4 behaviour that the differential test
//! (Redis 7.0) cannot check: ZRANK WITHSCORE, shortest round-trip doubles.

use spindle::server::harness::Harness;

fn h() -> Harness {
    Harness::new()
}

#[test]
fn zadd_flags_and_errors() {
    let mut h = h();
    assert_eq!(h.cmd("ZADD z 1 a 2 b"), ":2\r\n");
    assert_eq!(h.cmd("ZADD z 1 a 3 b 4 c"), ":1\r\n");
    assert_eq!(h.cmd("ZADD z CH 5 a 3 b 6 d"), ":2\r\n");
    assert_eq!(h.cmd("ZADD z NX 9 a 7 e"), ":1\r\n");
    assert_eq!(h.cmd("ZADD z XX 8 e 1 nosuch"), ":0\r\n");
    assert_eq!(h.cmd("ZSCORE z e"), "$1\r\n8\r\n");
    assert_eq!(h.cmd("ZADD z GT CH 1 e"), ":0\r\n");
    assert_eq!(h.cmd("ZADD z LT CH 1 e"), ":1\r\n");
    assert_eq!(h.cmd("ZADD z INCR 1.1 e"), "$3\r\n2.1\r\n");
    assert_eq!(h.cmd("ZADD z INCR GT -1 e"), "$-1\r\n");
    assert_eq!(h.cmd("ZADD z INCR NX 1 e"), "$-1\r\n");
    assert_eq!(h.cmd("ZADD nokey XX 1 a"), ":0\r\n");
    assert_eq!(h.cmd("ZADD nokey XX INCR 1 a"), "$-1\r\n");
    assert_eq!(h.cmd("EXISTS nokey"), ":0\r\n");
    assert_eq!(
        h.cmd("ZADD z XX NX 1 a"),
        "-ERR XX and NX options at the same time are not compatible\r\n"
    );
    for flags in ["GT LT", "NX GT", "NX LT"] {
        assert_eq!(
            h.cmd(&format!("ZADD z {flags} 1 a")),
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
        );
    }
    assert_eq!(
        h.cmd("ZADD z INCR 1 a 2 b"),
        "-ERR INCR option supports a single increment-element pair\r\n"
    );
    assert_eq!(h.cmd("ZADD z 1 a 2"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZADD z INCR 1"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZADD z x a"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("ZADD z nan a"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("ZADD z 1 a NaN b"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("ZADD z"), "-ERR wrong number of arguments for 'zadd' command\r\n");
    assert_eq!(h.cmd("ZADD z inf i"), ":1\r\n");
    assert_eq!(
        h.cmd("ZADD z INCR -inf i"),
        "-ERR resulting score is not a number (NaN)\r\n"
    );
    assert_eq!(
        h.cmd("ZINCRBY z -inf i"),
        "-ERR resulting score is not a number (NaN)\r\n"
    );
    assert_eq!(h.cmd("ZSCORE z i"), "$3\r\ninf\r\n");
    assert_eq!(h.cmd("ZINCRBY z 0.1 f"), "$3\r\n0.1\r\n");
    assert_eq!(h.cmd("ZINCRBY z 0.2 f"), "$19\r\n0.30000000000000004\r\n");
    assert_eq!(h.cmd("ZINCRBY z abc f"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("ZADD big 1e300 a 1.5e-10 b 123456789012345678 c"), ":3\r\n");
    assert_eq!(
        h.cmd("ZRANGE big 0 -1 WITHSCORES"),
        "*6\r\n$1\r\nb\r\n$7\r\n1.5e-10\r\n$1\r\nc\r\n$22\r\n1.2345678901234568e+17\r\n$1\r\na\r\n$6\r\n1e+300\r\n"
    );
    assert_eq!(h.cmd("SET s v"), "+OK\r\n");
    let wrong = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for c in [
        "ZADD s 1 a",
        "ZINCRBY s 1 a",
        "ZREM s a",
        "ZCARD s",
        "ZSCORE s a",
        "ZMSCORE s a",
        "ZRANK s a",
        "ZRANGE s 0 -1",
        "ZRANGEBYSCORE s 0 1",
        "ZRANGEBYLEX s - +",
        "ZCOUNT s 0 1",
        "ZLEXCOUNT s - +",
        "ZREMRANGEBYRANK s 0 1",
        "ZPOPMIN s",
        "ZPOPMIN s 0",
        "ZMPOP 1 s MIN",
        "ZRANDMEMBER s",
        "ZRANDMEMBER s 1",
        "ZUNION 1 s",
        "ZINTERSTORE d 1 s",
        "ZINTERCARD 1 s",
        "ZSCAN s 0",
        "ZRANGESTORE d s 0 -1",
    ] {
        assert_eq!(h.cmd(c), wrong, "{c}");
    }
}

#[test]
fn ranks_with_score_are_7_2_syntax() {
    let mut h = h();
    h.cmd("ZADD z 1 a 2.5 b 3 c");
    assert_eq!(h.cmd("ZRANK z b"), ":1\r\n");
    assert_eq!(h.cmd("ZREVRANK z b"), ":1\r\n");
    assert_eq!(h.cmd("ZREVRANK z a"), ":2\r\n");
    assert_eq!(h.cmd("ZRANK z b WITHSCORE"), "*2\r\n:1\r\n$3\r\n2.5\r\n");
    assert_eq!(h.cmd("ZREVRANK z c withscore"), "*2\r\n:0\r\n$1\r\n3\r\n");
    assert_eq!(h.cmd("ZRANK z nosuch"), "$-1\r\n");
    assert_eq!(h.cmd("ZRANK z nosuch WITHSCORE"), "*-1\r\n");
    assert_eq!(h.cmd("ZRANK nokey a WITHSCORE"), "*-1\r\n");
    assert_eq!(h.cmd("ZRANK z a foo"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZRANK z a WITHSCORE x"), "-ERR syntax error\r\n");
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("ZRANK z b WITHSCORE"), "*2\r\n:1\r\n,2.5\r\n");
    assert_eq!(h.cmd("ZRANK z nosuch WITHSCORE"), "_\r\n");
    assert_eq!(h.cmd("ZRANK z nosuch"), "_\r\n");
}

#[test]
fn ranges_and_limits() {
    let mut h = h();
    h.cmd("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(h.cmd("ZRANGE z 1 2"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(h.cmd("ZRANGE z 0 0 REV WITHSCORES"), "*2\r\n$1\r\ne\r\n$1\r\n5\r\n");
    assert_eq!(h.cmd("ZRANGE z (1 3 BYSCORE"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(h.cmd("ZRANGE z 3 (1 BYSCORE REV"), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(
        h.cmd("ZRANGE z -inf +inf BYSCORE LIMIT 1 2"),
        "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        h.cmd("ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2"),
        "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_eq!(h.cmd("ZRANGE z 0 -1 BYSCORE LIMIT -1 2"), "*0\r\n");
    assert_eq!(
        h.cmd("ZRANGE z 0 -1 LIMIT 0 1"),
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
    );
    assert_eq!(
        h.cmd("ZRANGE z - + BYLEX WITHSCORES"),
        "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"
    );
    assert_eq!(h.cmd("ZRANGE z a 1 BYSCORE"), "-ERR min or max is not a float\r\n");
    assert_eq!(
        h.cmd("ZRANGE z a b BYLEX"),
        "-ERR min or max not valid string range item\r\n"
    );
    assert_eq!(
        h.cmd("ZRANGE z a b"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.cmd("ZREVRANGE z 0 1 BYSCORE"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZRANGEBYSCORE z 0 1 REV"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZRANGESTORE d z 0 -1 WITHSCORES"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZRANGESTORE d z 1 -1"), ":4\r\n");
    assert_eq!(
        h.cmd("ZRANGE d 0 -1"),
        "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(h.cmd("ZRANGESTORE d z 5 10"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
    assert_eq!(h.cmd("ZCOUNT z (1 (5"), ":3\r\n");
    assert_eq!(h.cmd("ZCOUNT z 1 x"), "-ERR min or max is not a float\r\n");
    assert_eq!(h.cmd("ZREMRANGEBYSCORE z 4 +inf"), ":2\r\n");
    assert_eq!(h.cmd("ZREMRANGEBYRANK z 0 -1"), ":3\r\n");
    assert_eq!(h.cmd("EXISTS z"), ":0\r\n");
    h.cmd("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(h.cmd("ZRANGEBYLEX l (a [c"), "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(h.cmd("ZREVRANGEBYLEX l [c (a"), "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(h.cmd("ZLEXCOUNT l - +"), ":4\r\n");
    assert_eq!(h.cmd("ZREMRANGEBYLEX l - (c"), ":2\r\n");
    assert_eq!(h.cmd("ZRANGEBYLEX l - +"), "*2\r\n$1\r\nc\r\n$1\r\nd\r\n");
    assert_eq!(
        h.cmd("ZRANGEBYLEX l foo +"),
        "-ERR min or max not valid string range item\r\n"
    );
}

#[test]
fn resp3_doubles_and_pairs() {
    let mut h = h();
    h.cmd("HELLO 3");
    h.cmd("ZADD z 1 a 2.5 b 3 c");
    assert_eq!(h.cmd("ZSCORE z b"), ",2.5\r\n");
    assert_eq!(h.cmd("ZSCORE z nosuch"), "_\r\n");
    assert_eq!(h.cmd("ZMSCORE z a nosuch"), "*2\r\n,1\r\n_\r\n");
    assert_eq!(h.cmd("ZINCRBY z 1.1 a"), ",2.1\r\n");
    assert_eq!(
        h.cmd("ZRANGE z 0 1 WITHSCORES"),
        "*2\r\n*2\r\n$1\r\na\r\n,2.1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    );
    assert_eq!(h.cmd("ZRANGE z 0 0"), "*1\r\n$1\r\na\r\n");
    assert_eq!(h.cmd("ZPOPMIN z"), "*2\r\n$1\r\na\r\n,2.1\r\n");
    assert_eq!(h.cmd("ZPOPMIN z 1"), "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n");
    assert_eq!(h.cmd("ZPOPMIN nokey"), "*0\r\n");
    assert_eq!(h.cmd("ZMPOP 1 nokey MIN"), "_\r\n");
    assert_eq!(h.cmd("ZMPOP 1 z MAX"), "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n,3\r\n");
    h.cmd("ZADD one inf x");
    assert_eq!(
        h.cmd("ZRANDMEMBER one -2 WITHSCORES"),
        "*2\r\n*2\r\n$1\r\nx\r\n,inf\r\n*2\r\n$1\r\nx\r\n,inf\r\n"
    );
    assert_eq!(h.cmd("ZUNION 1 one WITHSCORES"), "*1\r\n*2\r\n$1\r\nx\r\n,inf\r\n");
    assert_eq!(h.cmd("ZSCAN one 0"), "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nx\r\n$3\r\ninf\r\n");
}

#[test]
fn pops_and_mpop_errors() {
    let mut h = h();
    h.cmd("ZADD z 1 a 2 b 3 c");
    assert_eq!(
        h.cmd("ZPOPMAX z 2"),
        "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        h.cmd("ZPOPMIN z -1"),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(h.cmd("ZPOPMIN z x"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(h.cmd("ZPOPMIN z 1 2"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZPOPMIN z 0"), "*0\r\n");
    assert_eq!(
        h.cmd("ZMPOP 2 nokey z MIN COUNT 5"),
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(h.cmd("EXISTS z"), ":0\r\n");
    assert_eq!(h.cmd("ZMPOP 1 z MIN"), "*-1\r\n");
    assert_eq!(h.cmd("ZMPOP 0 z MIN"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(h.cmd("ZMPOP 5 z MIN"), "-ERR syntax error\r\n");
    assert_eq!(
        h.cmd("ZMPOP 1 z MIN COUNT 0"),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(h.cmd("ZMPOP 1 z MIN COUNT 1 COUNT 1"), "-ERR syntax error\r\n");
    assert_eq!(
        h.cmd("ZMPOP 1 z"),
        "-ERR wrong number of arguments for 'zmpop' command\r\n"
    );
}

#[test]
fn randmember_counts() {
    let mut h = h();
    let mut cmd = String::from("ZADD z");
    for i in 0..50 {
        cmd.push_str(&format!(" {i} m{i}"));
    }
    h.cmd(&cmd);
    // Distinct members for a positive count.
    let r = h.cmd("ZRANDMEMBER z 20");
    assert!(r.starts_with("*20\r\n"));
    let mut members: Vec<&str> = r.split("\r\n").filter(|s| s.starts_with('m')).collect();
    members.sort();
    members.dedup();
    assert_eq!(members.len(), 20);
    assert!(h.cmd("ZRANDMEMBER z 100").starts_with("*50\r\n"));
    assert!(h.cmd("ZRANDMEMBER z -100").starts_with("*100\r\n"));
    assert!(h.cmd("ZRANDMEMBER z 3 WITHSCORES").starts_with("*6\r\n"));
    assert_eq!(
        h.cmd("ZRANDMEMBER z -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        h.cmd("ZRANDMEMBER z -9223372036854770000 WITHSCORES"),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(h.cmd("ZRANDMEMBER z 1 foo"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZRANDMEMBER nokey"), "$-1\r\n");
    assert_eq!(h.cmd("ZRANDMEMBER nokey 3"), "*0\r\n");
}

#[test]
fn set_algebra() {
    let mut h = h();
    h.cmd("ZADD a 1 x 2 y 3 z");
    h.cmd("ZADD b 10 y 20 z 30 w");
    assert_eq!(
        h.cmd("ZUNION 2 a b WITHSCORES"),
        "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n"
    );
    assert_eq!(
        h.cmd("ZINTER 2 a b AGGREGATE MAX WEIGHTS 1 0.5"),
        "*2\r\n$1\r\ny\r\n$1\r\nz\r\n"
    );
    assert_eq!(h.cmd("ZDIFF 2 a b WITHSCORES"), "*2\r\n$1\r\nx\r\n$1\r\n1\r\n");
    assert_eq!(h.cmd("ZUNIONSTORE d 2 a b WEIGHTS 2 1"), ":4\r\n");
    assert_eq!(h.cmd("ZSCORE d y"), "$2\r\n14\r\n");
    assert_eq!(h.cmd("ZINTERSTORE d 2 a nokey"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
    assert_eq!(h.cmd("ZDIFFSTORE a 2 a b"), ":1\r\n");
    assert_eq!(h.cmd("ZRANGE a 0 -1"), "*1\r\n$1\r\nx\r\n");
    assert_eq!(
        h.cmd("ZUNION 0 a"),
        "-ERR at least 1 input key is needed for 'zunion' command\r\n"
    );
    assert_eq!(
        h.cmd("ZINTERSTORE d 0 a"),
        "-ERR at least 1 input key is needed for 'zinterstore' command\r\n"
    );
    assert_eq!(
        h.cmd("ZUNION 2 a b WEIGHTS 1 x"),
        "-ERR weight value is not a float\r\n"
    );
    assert_eq!(h.cmd("ZUNIONSTORE d 2 a b WITHSCORES"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZDIFF 2 a b AGGREGATE SUM"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZINTERCARD 2 a b"), ":0\r\n");
    assert_eq!(h.cmd("ZINTERCARD 1 b LIMIT 2"), ":2\r\n");
    assert_eq!(h.cmd("ZINTERCARD 1 b LIMIT -1"), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(
        h.cmd("ZINTERCARD 0 b"),
        "-ERR at least 1 input key is needed for 'zintercard' command\r\n"
    );
    // Inputs survive being read, including a destination that is an input.
    assert_eq!(
        h.cmd("ZUNION 3 b b b WITHSCORES"),
        "*6\r\n$1\r\ny\r\n$2\r\n30\r\n$1\r\nz\r\n$2\r\n60\r\n$1\r\nw\r\n$2\r\n90\r\n"
    );
    assert_eq!(h.cmd("ZCARD b"), ":3\r\n");
    h.cmd("SET s v");
    assert_eq!(
        h.cmd("ZUNION 2 b s"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(h.cmd("ZCARD b"), ":3\r\n");
}

#[test]
fn encodings_follow_the_limits() {
    let mut h = h();
    h.cmd("ZADD z 1 a");
    assert_eq!(h.cmd("OBJECT ENCODING z"), "$8\r\nlistpack\r\n");
    let long = "x".repeat(65);
    h.cmd(&format!("ZADD z 2 {long}"));
    assert_eq!(h.cmd("OBJECT ENCODING z"), "$8\r\nskiplist\r\n");
    h.cmd(&format!("ZREM z {long}"));
    assert_eq!(h.cmd("OBJECT ENCODING z"), "$8\r\nskiplist\r\n");
    // Stored results are re-encoded by size.
    assert_eq!(h.cmd("ZUNIONSTORE d 1 z"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING d"), "$8\r\nlistpack\r\n");
    let mut cmd = String::from("ZADD big");
    for i in 0..128 {
        cmd.push_str(&format!(" {i} m{i}"));
    }
    assert_eq!(h.cmd(&cmd), ":128\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING big"), "$8\r\nlistpack\r\n");
    assert_eq!(h.cmd("ZADD big 200 m200"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING big"), "$8\r\nskiplist\r\n");
    assert_eq!(h.cmd("ZRANGESTORE d big 0 127"), ":128\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING d"), "$8\r\nlistpack\r\n");
    // Redis 7.2+: a ZADD of more pairs than a listpack holds converts an
    // existing listpack first (zsetTypeMaybeConvert), even with XX.
    assert_eq!(h.cmd("CONFIG SET zset-max-listpack-entries 4"), "+OK\r\n");
    h.cmd("ZADD few 1 a");
    assert_eq!(h.cmd("ZADD few XX 1 a 2 a 3 a 4 a 5 a"), ":0\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING few"), "$8\r\nskiplist\r\n");
    // A new zset is sized by its first member: -0 before a long member went
    // through the listpack (stored as 0), -0 after it stays.
    assert_eq!(h.cmd(&format!("ZADD mixed -0 a -0 {long} -0 z")), ":3\r\n");
    assert_eq!(h.cmd("ZSCORE mixed a"), "$1\r\n0\r\n");
    assert_eq!(h.cmd("ZSCORE mixed z"), "$2\r\n-0\r\n");
    assert_eq!(h.cmd("CONFIG SET zset-max-listpack-entries 128"), "+OK\r\n");
    assert_eq!(h.cmd("ZADD lp -0 a"), ":1\r\n");
    assert_eq!(h.cmd("ZSCORE lp a"), "$1\r\n0\r\n");
    assert_eq!(h.cmd("CONFIG SET zset-max-ziplist-entries 0"), "+OK\r\n");
    h.cmd("ZADD n 1 a");
    assert_eq!(h.cmd("OBJECT ENCODING n"), "$8\r\nskiplist\r\n");
    // A skiplist keeps a negative zero, as Redis's does.
    assert_eq!(h.cmd("ZADD n -0 z"), ":1\r\n");
    assert_eq!(h.cmd("ZSCORE n z"), "$2\r\n-0\r\n");
}

#[test]
fn skiplist_paths_match_listpack_paths() {
    // The same commands on a small set and on one forced to the skiplist
    // encoding answer the same.
    let mut h = h();
    let mut cmd = String::from("ZADD s");
    for i in 0..100 {
        cmd.push_str(&format!(" {} m{:03}", i % 10, i));
    }
    h.cmd(&cmd);
    h.cmd(&cmd.replacen("ZADD s", "ZADD t", 1));
    h.cmd("ZADD t 0 x");
    h.cmd("ZREM t x");
    h.cmd(&format!("ZADD t 0 {}", "y".repeat(100)));
    h.cmd(&format!("ZREM t {}", "y".repeat(100)));
    assert_eq!(h.cmd("OBJECT ENCODING s"), "$8\r\nlistpack\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING t"), "$8\r\nskiplist\r\n");
    for q in [
        "ZRANGE {} 0 -1 WITHSCORES",
        "ZRANGE {} 5 17 REV WITHSCORES",
        "ZRANGE {} (3 7 BYSCORE LIMIT 4 9 WITHSCORES",
        "ZRANGE {} 7 (3 BYSCORE REV LIMIT 4 9",
        "ZRANK {} m057 WITHSCORE",
        "ZREVRANK {} m057",
        "ZCOUNT {} 2 (5",
        "ZLEXCOUNT {} - +",
        "ZMSCORE {} m001 m099 nosuch",
        "ZREMRANGEBYSCORE {} 2 2",
        "ZREMRANGEBYRANK {} 10 20",
        "ZPOPMIN {} 3",
        "ZPOPMAX {} 3",
        "ZRANGE {} 0 -1 WITHSCORES",
        "ZCARD {}",
    ] {
        assert_eq!(h.cmd(&q.replace("{}", "s")), h.cmd(&q.replace("{}", "t")), "{q}");
    }
}

#[test]
fn zscan_walks_a_big_set_once() {
    let mut h = h();
    let mut cmd = String::from("ZADD z");
    for i in 0..300 {
        cmd.push_str(&format!(" {i}.5 m{i}"));
    }
    h.cmd(&cmd);
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let r = h.cmd(&format!("ZSCAN z {cursor} COUNT 17"));
        let parts: Vec<&str> = r.split("\r\n").collect();
        cursor = parts[2].to_string();
        for p in &parts[4..] {
            if p.starts_with('m') {
                seen.push(p.to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 300);
    assert_eq!(
        h.cmd("ZSCAN z 0 MATCH m299 COUNT 1000"),
        "*2\r\n$1\r\n0\r\n*2\r\n$4\r\nm299\r\n$5\r\n299.5\r\n"
    );
    assert_eq!(h.cmd("ZSCAN z x"), "-ERR invalid cursor\r\n");
    assert_eq!(h.cmd("ZSCAN z 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("ZSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn command_metadata() {
    let mut h = h();
    assert_eq!(
        h.cmd("COMMAND GETKEYS ZUNIONSTORE d 2 a b WEIGHTS 1 2"),
        "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(h.cmd("COMMAND GETKEYS ZMPOP 2 a b MIN"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(
        h.cmd("COMMAND GETKEYS ZRANGESTORE d s 0 -1"),
        "*2\r\n$1\r\nd\r\n$1\r\ns\r\n"
    );
}
