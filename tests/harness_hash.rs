//! Ring 2 for the hash family: commands run in-process on one shard through
//! the real dispatch path; replies are compared byte for byte with what
//! Redis 7.4 (8.0 for HGETDEL/HGETEX/HSETEX) sends.

use spindle::server::harness::Harness;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn h() -> Harness {
    Harness::new()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn set_get_and_friends() {
    let mut h = h();
    assert_eq!(h.cmd("HSET h a 1 b 2"), ":2\r\n");
    assert_eq!(h.cmd("HSET h a 10 c 3"), ":1\r\n");
    assert_eq!(
        h.cmd("HSET h a"),
        "-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_eq!(h.cmd("HMSET h d 4"), "+OK\r\n");
    assert_eq!(
        h.cmd("HMSET h d"),
        "-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_eq!(h.cmd("HGET h a"), "$2\r\n10\r\n");
    assert_eq!(h.cmd("HGET h zz"), "$-1\r\n");
    assert_eq!(h.cmd("HGET nokey a"), "$-1\r\n");
    assert_eq!(h.cmd("HMGET h a zz b"), "*3\r\n$2\r\n10\r\n$-1\r\n$1\r\n2\r\n");
    assert_eq!(h.cmd("HMGET nokey a b"), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(h.cmd("HLEN h"), ":4\r\n");
    assert_eq!(h.cmd("HLEN nokey"), ":0\r\n");
    assert_eq!(h.cmd("HEXISTS h a"), ":1\r\n");
    assert_eq!(h.cmd("HEXISTS h zz"), ":0\r\n");
    assert_eq!(h.cmd("HSTRLEN h a"), ":2\r\n");
    assert_eq!(h.cmd("HSTRLEN h zz"), ":0\r\n");
    assert_eq!(h.cmd("HSETNX h a x"), ":0\r\n");
    assert_eq!(h.cmd("HSETNX h e 5"), ":1\r\n");
    assert_eq!(
        h.cmd("HGETALL h"),
        "*10\r\n$1\r\na\r\n$2\r\n10\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        h.cmd("HKEYS h"),
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(
        h.cmd("HVALS h"),
        "*5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n"
    );
    assert_eq!(h.cmd("HGETALL nokey"), "*0\r\n");
    assert_eq!(h.cmd("HDEL h a zz b"), ":2\r\n");
    assert_eq!(h.cmd("HDEL nokey a"), ":0\r\n");
    assert_eq!(h.cmd("HDEL h c d e"), ":3\r\n");
    assert_eq!(h.cmd("EXISTS h"), ":0\r\n");
    assert_eq!(h.cmd("TYPE h"), "+none\r\n");
    assert_eq!(h.cmd("HSET h a 1"), ":1\r\n");
    assert_eq!(h.cmd("TYPE h"), "+hash\r\n");
}

#[test]
fn wrong_type_everywhere() {
    let mut h = h();
    h.cmd("SET s v");
    for c in [
        "HSET s a b",
        "HSETNX s a b",
        "HMSET s a b",
        "HGET s a",
        "HMGET s a",
        "HGETALL s",
        "HKEYS s",
        "HVALS s",
        "HDEL s a",
        "HLEN s",
        "HEXISTS s a",
        "HSTRLEN s a",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 1",
        "HSCAN s 0",
        "HEXPIRE s 10 FIELDS 1 a",
        "HTTL s FIELDS 1 a",
        "HPERSIST s FIELDS 1 a",
        "HGETDEL s FIELDS 1 a",
        "HGETEX s FIELDS 1 a",
        "HSETEX s FIELDS 1 a b",
    ] {
        assert_eq!(h.cmd(c), WRONGTYPE, "{c}");
    }
    // The type is checked before the arguments.
    assert_eq!(h.cmd("HEXPIRE s abc FIELDS 1 a"), WRONGTYPE);
    assert_eq!(h.cmd("HTTL s NOTFIELDS 1 a"), WRONGTYPE);
    h.cmd("HSET h a 1");
    assert_eq!(h.cmd("GET h"), WRONGTYPE);
}

#[test]
fn counters() {
    let mut h = h();
    assert_eq!(h.cmd("HINCRBY c n 5"), ":5\r\n");
    assert_eq!(h.cmd("HINCRBY c n -8"), ":-3\r\n");
    assert_eq!(
        h.cmd("HINCRBY c n x"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.cmd("HINCRBY c n 9223372036854775807"), ":9223372036854775804\r\n");
    assert_eq!(h.cmd("HINCRBY c n 4"), "-ERR increment or decrement would overflow\r\n");
    h.cmd("HSET c s abc");
    assert_eq!(h.cmd("HINCRBY c s 1"), "-ERR hash value is not an integer\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT c s 1"), "-ERR hash value is not a float\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT c f 10.5"), "$4\r\n10.5\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT c f 0.1"), "$4\r\n10.6\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT c f 3.0e3"), "$22\r\n3010.60000000000000009\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT c f abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT c f inf"), "-ERR value is NaN or Infinity\r\n");
    h.cmd("HSET c big 1.7976931348623157e308");
    let r = h.cmd("HINCRBYFLOAT c big 1.7976931348623157e308");
    assert!(r.starts_with("$309\r\n3595386269724631"), "{r}");
    // New key, and a missing key is not created by a failed increment.
    assert_eq!(h.cmd("HINCRBYFLOAT nf f abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("EXISTS nf"), ":0\r\n");
}

#[test]
fn encodings_follow_the_limits() {
    let mut h = h();
    h.cmd("CONFIG SET hash-max-listpack-entries 4");
    h.cmd("CONFIG SET hash-max-listpack-value 8");
    h.cmd("HSET e a 1 b 2 c 3 d 4");
    assert_eq!(h.cmd("OBJECT ENCODING e"), "$8\r\nlistpack\r\n");
    h.cmd("HSET e x 5");
    assert_eq!(h.cmd("OBJECT ENCODING e"), "$9\r\nhashtable\r\n");
    h.cmd("HSET v a 123456789");
    assert_eq!(h.cmd("OBJECT ENCODING v"), "$9\r\nhashtable\r\n");
    // Redis 7.4 converts when more pairs arrive than the entry limit, even
    // when they name one field.
    h.cmd("HSET dup a 1 a 2 a 3 a 4 a 5");
    assert_eq!(h.cmd("OBJECT ENCODING dup"), "$9\r\nhashtable\r\n");
    assert_eq!(h.cmd("HLEN dup"), ":1\r\n");
    h.cmd("HSET t a 1");
    h.cmd("HEXPIRE t 100 FIELDS 1 nosuch");
    assert_eq!(h.cmd("OBJECT ENCODING t"), "$10\r\nlistpackex\r\n");
}

#[test]
fn big_hash_survives_deletes() {
    let mut h = h();
    for i in 0..600 {
        h.cmd(&format!("HSET big f{i} v{i}"));
    }
    assert_eq!(h.cmd("OBJECT ENCODING big"), "$9\r\nhashtable\r\n");
    for i in (0..600).step_by(2) {
        assert_eq!(h.cmd(&format!("HDEL big f{i}")), ":1\r\n");
    }
    assert_eq!(h.cmd("HLEN big"), ":300\r\n");
    for i in 0..600 {
        let want = if i % 2 == 0 {
            "$-1\r\n".to_string()
        } else {
            format!("${}\r\nv{i}\r\n", format!("v{i}").len())
        };
        assert_eq!(h.cmd(&format!("HGET big f{i}")), want);
    }
    // A full HSCAN returns every field exactly once when nothing changes.
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let r = h.run(&[b"HSCAN", b"big", cursor.as_bytes(), b"COUNT", b"7", b"NOVALUES"]);
        let text = String::from_utf8(r).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next(), Some("*2"));
        lines.next();
        cursor = lines.next().unwrap().to_string();
        let n: usize = lines.next().unwrap()[1..].parse().unwrap();
        for _ in 0..n {
            lines.next();
            assert!(seen.insert(lines.next().unwrap().to_string()));
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
}

#[test]
fn hrandfield_shapes() {
    let mut h = h();
    h.cmd("HSET r a 1");
    assert_eq!(h.cmd("HRANDFIELD r"), "$1\r\na\r\n");
    assert_eq!(h.cmd("HRANDFIELD r -2"), "*2\r\n$1\r\na\r\n$1\r\na\r\n");
    assert_eq!(h.cmd("HRANDFIELD r 5 WITHVALUES"), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(h.cmd("HRANDFIELD r 0"), "*0\r\n");
    assert_eq!(h.cmd("HRANDFIELD nokey"), "$-1\r\n");
    assert_eq!(h.cmd("HRANDFIELD nokey 2"), "*0\r\n");
    assert_eq!(h.cmd("HRANDFIELD r 1 x"), "-ERR syntax error\r\n");
    assert_eq!(
        h.cmd("HRANDFIELD r -9223372036854770000 WITHVALUES"),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(
        h.cmd("HRANDFIELD r -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    h.cmd("HELLO 3");
    assert_eq!(
        h.cmd("HRANDFIELD r -1 WITHVALUES"),
        "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(h.cmd("HRANDFIELD nokey"), "_\r\n");
    assert_eq!(h.cmd("HGETALL r"), "%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(h.cmd("HGETALL nokey"), "%0\r\n");
    assert_eq!(h.cmd("HMGET nokey a"), "*1\r\n_\r\n");
    // Unique picks from a big hash are distinct.
    for i in 0..1000 {
        h.cmd(&format!("HSET big f{i} v"));
    }
    let r = h.cmd("HRANDFIELD big 100");
    let fields: std::collections::HashSet<&str> = r.split("\r\n").filter(|l| l.starts_with('f')).collect();
    assert_eq!(fields.len(), 100);
}

#[test]
fn hscan_options() {
    let mut h = h();
    h.cmd("HSET s a 1 b 2 key:1 x");
    assert_eq!(
        h.cmd("HSCAN s 0 MATCH key:*"),
        "*2\r\n$1\r\n0\r\n*2\r\n$5\r\nkey:1\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        h.cmd("HSCAN s 0 NOVALUES"),
        "*2\r\n$1\r\n0\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$5\r\nkey:1\r\n"
    );
    assert_eq!(h.cmd("HSCAN s 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("HSCAN s x"), "-ERR invalid cursor\r\n");
    assert_eq!(h.cmd("HSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn field_expiry_arguments() {
    let mut h = h();
    h.cmd("HSET h a 1 b 2");
    assert_eq!(h.cmd("HEXPIRE nokey 10 FIELDS 2 a b"), "*2\r\n:-2\r\n:-2\r\n");
    assert_eq!(
        h.cmd("HEXPIRE h -1 FIELDS 1 a"),
        "-ERR invalid expire time, must be >= 0\r\n"
    );
    assert_eq!(
        h.cmd("HEXPIRE h abc FIELDS 1 a"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.cmd("HEXPIRE h 70368744177 FIELDS 1 a"),
        "-ERR invalid expire time in 'hexpire' command\r\n"
    );
    assert_eq!(
        h.cmd("HPEXPIREAT h 70368744177664 FIELDS 1 a"),
        "-ERR invalid expire time in 'hpexpireat' command\r\n"
    );
    assert_eq!(
        h.cmd("HEXPIRE h 10 FIELDS 0 a"),
        "-ERR Parameter `numFields` should be greater than 0\r\n"
    );
    assert_eq!(
        h.cmd("HEXPIRE h 10 NX FIELDS 2 a"),
        "-ERR The `numfields` parameter must match the number of arguments\r\n"
    );
    assert_eq!(
        h.cmd("HEXPIRE h 10 XY FIELDS 1 a"),
        "-ERR Mandatory argument FIELDS is missing or not at the right position\r\n"
    );
    assert_eq!(
        h.cmd("HEXPIRE h 10 FIELDS 1"),
        "-ERR wrong number of arguments for 'hexpire' command\r\n"
    );
    assert_eq!(
        h.cmd("HTTL h FIELDS 0 a"),
        "-ERR Number of fields must be a positive integer\r\n"
    );
    assert_eq!(
        h.cmd("HTTL h FIELDS 2 a"),
        "-ERR The `numfields` parameter must match the number of arguments\r\n"
    );
    assert_eq!(
        h.cmd("HPERSIST h FIELD 1 a"),
        "-ERR Mandatory argument FIELDS is missing or not at the right position\r\n"
    );
    assert_eq!(h.cmd("HTTL nokey FIELDS 1 a"), "*1\r\n:-2\r\n");
    assert_eq!(h.cmd("HPERSIST nokey FIELDS 1 a"), "*1\r\n:-2\r\n");
}

#[test]
fn field_expiry_codes() {
    let mut h = h();
    h.cmd("HSET h a 1 b 2 c 3");
    assert_eq!(h.cmd("HEXPIRE h 100 NX FIELDS 3 a b x"), "*3\r\n:1\r\n:1\r\n:-2\r\n");
    assert_eq!(h.cmd("HEXPIRE h 100 NX FIELDS 2 a c"), "*2\r\n:0\r\n:1\r\n");
    assert_eq!(h.cmd("HEXPIRE h 200 XX FIELDS 1 a"), "*1\r\n:1\r\n");
    assert_eq!(h.cmd("HEXPIRE h 50 GT FIELDS 2 a b"), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(h.cmd("HEXPIRE h 50 LT FIELDS 2 a b"), "*2\r\n:1\r\n:1\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 3 a c x"), "*3\r\n:50\r\n:100\r\n:-2\r\n");
    let r = h.cmd("HPTTL h FIELDS 1 a");
    let ms: u64 = r.trim_start_matches("*1\r\n:").trim_end().parse().unwrap();
    assert!((49_000..=50_000).contains(&ms), "{r}");
    let r = h.cmd("HEXPIRETIME h FIELDS 1 a");
    let at: u64 = r.trim_start_matches("*1\r\n:").trim_end().parse().unwrap();
    assert!(at.abs_diff(now_ms() / 1000 + 50) <= 1);
    assert_eq!(h.cmd("HPERSIST h FIELDS 3 a a x"), "*3\r\n:1\r\n:-1\r\n:-2\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 a"), "*1\r\n:-1\r\n");
    // HSET drops the TTL of the fields it overwrites; HINCRBY keeps it.
    assert_eq!(h.cmd("HSET h b 20"), ":0\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 b"), "*1\r\n:-1\r\n");
    h.cmd("HSET h n 1");
    h.cmd("HEXPIRE h 100 FIELDS 1 n");
    assert_eq!(h.cmd("HINCRBY h n 1"), ":2\r\n");
    assert_eq!(h.cmd("HINCRBYFLOAT h n 1.5"), "$3\r\n3.5\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 n"), "*1\r\n:100\r\n");
    // A time in the past deletes; the last field takes the key with it.
    assert_eq!(h.cmd("HPEXPIREAT h 1 FIELDS 2 a x"), "*2\r\n:2\r\n:-2\r\n");
    assert_eq!(h.cmd("HEXPIRE h 0 FIELDS 3 b c n"), "*3\r\n:2\r\n:2\r\n:2\r\n");
    assert_eq!(h.cmd("EXISTS h"), ":0\r\n");
}

#[test]
fn expired_fields_are_invisible_and_reclaimed() {
    let mut h = h();
    h.cmd("DEBUG SET-ACTIVE-EXPIRE 0");
    h.cmd("HSET h a 1 b 2 c 3 d 4");
    assert_eq!(h.cmd("HPEXPIRE h 1 FIELDS 3 a b c"), "*3\r\n:1\r\n:1\r\n:1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(5));
    // HLEN counts fields not yet reclaimed, as Redis does.
    assert_eq!(h.cmd("HLEN h"), ":4\r\n");
    assert_eq!(h.cmd("HGETALL h"), "*2\r\n$1\r\nd\r\n$1\r\n4\r\n");
    assert_eq!(h.cmd("HKEYS h"), "*1\r\n$1\r\nd\r\n");
    assert_eq!(h.cmd("HSCAN h 0"), "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 2 a d"), "*2\r\n:-2\r\n:-1\r\n");
    assert_eq!(h.cmd("HGET h a"), "$-1\r\n");
    assert_eq!(h.cmd("HLEN h"), ":3\r\n");
    assert_eq!(h.cmd("HEXISTS h b"), ":0\r\n");
    assert_eq!(h.cmd("HLEN h"), ":2\r\n");
    assert_eq!(h.cmd("HINCRBY h c 5"), ":5\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 c"), "*1\r\n:-1\r\n");
    h.cmd("HPEXPIRE h 1 FIELDS 2 c d");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(h.cmd("HRANDFIELD h"), "$-1\r\n");
    assert_eq!(h.cmd("EXISTS h"), ":0\r\n");

    // Active reclamation deletes expired fields, and the key with the last.
    h.cmd("HSET g a 1 b 2");
    h.cmd("HPEXPIRE g 1 FIELDS 2 a b");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let now = now_ms();
    let removed = {
        let mut ks = h.shard().ks.borrow_mut();
        ks.db(0).expire_hash_fields_slice(now, 100)
    };
    assert_eq!(removed, 2);
    assert_eq!(h.cmd("EXISTS g"), ":0\r\n");

    // RENAME carries the field TTLs along; the new key is reclaimed too.
    h.cmd("HSET r a 1 b 2");
    h.cmd("HPEXPIRE r 1 FIELDS 1 a");
    h.cmd("RENAME r r2");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let removed = {
        let mut ks = h.shard().ks.borrow_mut();
        ks.db(0).expire_hash_fields_slice(now_ms(), 100)
    };
    assert_eq!(removed, 1);
    assert_eq!(h.cmd("HLEN r2"), ":1\r\n");
}

#[test]
fn listpackex_orders_fields_by_ttl() {
    let mut h = h();
    h.cmd("HSET h a 1 b 2 c 3 d 4");
    h.cmd("HEXPIRE h 200 FIELDS 1 c");
    h.cmd("HEXPIRE h 100 FIELDS 1 d");
    assert_eq!(h.cmd("OBJECT ENCODING h"), "$10\r\nlistpackex\r\n");
    assert_eq!(h.cmd("HKEYS h"), "*4\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n");
    h.cmd("HPERSIST h FIELDS 1 d");
    assert_eq!(h.cmd("HKEYS h"), "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nd\r\n");
}

#[test]
fn hgetdel_hgetex_hsetex() {
    let mut h = h();
    h.cmd("HSET h a 1 b 2 c 3");
    assert_eq!(h.cmd("HGETDEL h FIELDS 2 a x"), "*2\r\n$1\r\n1\r\n$-1\r\n");
    assert_eq!(h.cmd("HGETDEL nokey FIELDS 1 a"), "*1\r\n$-1\r\n");
    assert_eq!(
        h.cmd("HGETDEL h FIELDS 0 a"),
        "-ERR Number of fields must be a positive integer\r\n"
    );
    assert_eq!(h.cmd("HGETDEL h FIELDS 2 b c"), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_eq!(h.cmd("EXISTS h"), ":0\r\n");

    h.cmd("HSET h a 1 b 2");
    assert_eq!(h.cmd("HGETEX h EX 100 FIELDS 2 a x"), "*2\r\n$1\r\n1\r\n$-1\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 2 a b"), "*2\r\n:100\r\n:-1\r\n");
    assert_eq!(h.cmd("HGETEX h PERSIST FIELDS 1 a"), "*1\r\n$1\r\n1\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 a"), "*1\r\n:-1\r\n");
    assert_eq!(h.cmd("HGETEX h FIELDS 1 b"), "*1\r\n$1\r\n2\r\n");
    assert_eq!(h.cmd("HGETEX nokey FIELDS 1 b"), "*1\r\n$-1\r\n");
    assert_eq!(h.cmd("HGETEX h PXAT 1 FIELDS 2 a b"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(h.cmd("EXISTS h"), ":0\r\n");
    assert_eq!(
        h.cmd("HGETEX h EX -1 FIELDS 1 a"),
        "-ERR invalid expire time, must be >= 0\r\n"
    );
    assert_eq!(
        h.cmd("HGETEX h EX 10 FIELD 1 a"),
        "-ERR Mandatory argument FIELDS is missing or not at the right position\r\n"
    );

    assert_eq!(h.cmd("HSETEX h FIELDS 2 a 1 b 2"), ":1\r\n");
    assert_eq!(h.cmd("HSETEX h FNX FIELDS 1 a 9"), ":0\r\n");
    assert_eq!(h.cmd("HSETEX h FXX EX 100 FIELDS 2 a 9 zz 9"), ":0\r\n");
    assert_eq!(h.cmd("HSETEX h FXX EX 100 FIELDS 1 a 9"), ":1\r\n");
    assert_eq!(h.cmd("HGET h a"), "$1\r\n9\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 a"), "*1\r\n:100\r\n");
    assert_eq!(h.cmd("HSETEX h KEEPTTL FIELDS 1 a 8"), ":1\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 a"), "*1\r\n:100\r\n");
    assert_eq!(h.cmd("HSETEX h FIELDS 1 a 7"), ":1\r\n");
    assert_eq!(h.cmd("HTTL h FIELDS 1 a"), "*1\r\n:-1\r\n");
    assert_eq!(h.cmd("HSETEX nokey FXX FIELDS 1 a 1"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS nokey"), ":0\r\n");
    assert_eq!(h.cmd("HSETEX nokey2 FNX PX 100000 FIELDS 1 a 1"), ":1\r\n");
    assert_eq!(
        h.cmd("HSETEX h FNX FXX FIELDS 1 a 1"),
        "-ERR Only one of FXX or FNX arguments can be specified\r\n"
    );
    assert_eq!(
        h.cmd("HSETEX h EX 10 PX 10 FIELDS 1 a 1"),
        "-ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified\r\n"
    );
    assert_eq!(
        h.cmd("HSETEX h FIELDS 2 a 1"),
        "-ERR wrong number of arguments for 'hsetex' command\r\n"
    );
    assert_eq!(h.cmd("HSETEX h FIELDS 0 a 1"), "-ERR invalid number of fields\r\n");
    assert_eq!(h.cmd("HSETEX h BOGUS FIELDS 1 a 1"), "-ERR unknown argument: BOGUS\r\n");
    assert_eq!(h.cmd("HSETEX h EXAT 1 FIELDS 1 a 1"), ":1\r\n");
    assert_eq!(h.cmd("HEXISTS h a"), ":0\r\n");
}

#[test]
fn hscan_returns_every_field_present_throughout_despite_writes() {
    let mut h = h();
    for i in 0..1000 {
        h.cmd(&format!("HSET s f{i} v"));
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut step = 0;
    loop {
        let r = h.run(&[b"HSCAN", b"s", cursor.as_bytes(), b"COUNT", b"10", b"NOVALUES"]);
        let text = String::from_utf8(r).unwrap();
        let mut lines = text.split("\r\n");
        lines.next();
        lines.next();
        cursor = lines.next().unwrap().to_string();
        let n: usize = lines.next().unwrap()[1..].parse().unwrap();
        for _ in 0..n {
            lines.next();
            seen.insert(lines.next().unwrap().to_string());
        }
        // Between calls: delete fields from the upper half (some already
        // returned, some not), add new ones.
        step += 1;
        h.cmd(&format!("HDEL s f{}", 500 + (step * 7) % 500));
        h.cmd(&format!("HSET s new{step} v"));
        if cursor == "0" {
            break;
        }
    }
    for i in 0..500 {
        assert!(seen.contains(&format!("f{i}")), "f{i} missed");
    }
}
