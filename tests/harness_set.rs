//! Ring 2 for the set family: commands through the real dispatch path on an
//! in-process shard; replies compared byte for byte with Redis 7.4's (random
//! replies are checked for size and membership).

use std::collections::HashSet;

use spindle::server::harness::Harness;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

fn arr(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out.push_str(&bulk(i));
    }
    out
}

fn set3(items: &[&str]) -> String {
    let mut out = format!("~{}\r\n", items.len());
    for i in items {
        out.push_str(&bulk(i));
    }
    out
}

/// Parses a flat array/set reply of bulk strings into its members.
fn members(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let head = lines.next().unwrap();
    assert!(
        head.starts_with('*') || head.starts_with('~'),
        "not an array: {reply:?}"
    );
    let n: usize = head[1..].parse().unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let len = lines.next().unwrap();
        assert!(len.starts_with('$'), "not a bulk: {reply:?}");
        out.push(lines.next().unwrap().to_string());
    }
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Runs `SADD key m...` with members given as strings.
fn sadd(h: &mut Harness, key: &str, items: &[String]) -> String {
    let mut argv: Vec<&[u8]> = vec![b"SADD", key.as_bytes()];
    argv.extend(items.iter().map(|s| s.as_bytes()));
    String::from_utf8(h.run(&argv)).unwrap()
}

#[test]
fn sadd_scard_sismember_smembers() {
    let mut h = Harness::new();
    assert_eq!(h.cmd("SADD s 3 1 2 1"), ":3\r\n");
    assert_eq!(h.cmd("SADD s 2 4"), ":1\r\n");
    assert_eq!(h.cmd("SCARD s"), ":4\r\n");
    assert_eq!(h.cmd("SMEMBERS s"), arr(&["1", "2", "3", "4"]));
    assert_eq!(h.cmd("OBJECT ENCODING s"), bulk("intset"));
    assert_eq!(h.cmd("SISMEMBER s 2"), ":1\r\n");
    assert_eq!(h.cmd("SISMEMBER s 02"), ":0\r\n");
    assert_eq!(h.cmd("SISMEMBER s x"), ":0\r\n");
    assert_eq!(h.cmd("SISMEMBER nokey x"), ":0\r\n");
    assert_eq!(h.cmd("SMISMEMBER s 1 5 x 4"), "*4\r\n:1\r\n:0\r\n:0\r\n:1\r\n");
    assert_eq!(h.cmd("SMISMEMBER nokey a b"), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(h.cmd("SCARD nokey"), ":0\r\n");
    assert_eq!(h.cmd("SMEMBERS nokey"), "*0\r\n");
    assert_eq!(h.cmd("TYPE s"), "+set\r\n");
    // Extremes of i64 stay in the intset; one past them does not.
    assert_eq!(h.cmd("SADD e -9223372036854775808 9223372036854775807"), ":2\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING e"), bulk("intset"));
    assert_eq!(h.cmd("SADD e 9223372036854775808"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING e"), bulk("listpack"));
    assert_eq!(h.cmd("SADD bin \"\\x00\\xff\" \"\""), ":2\r\n");
    assert_eq!(h.cmd("SISMEMBER bin \"\""), ":1\r\n");
    assert_eq!(
        h.run(&[b"SMEMBERS", b"bin"]),
        b"*2\r\n$2\r\n\x00\xff\r\n$0\r\n\r\n".to_vec()
    );
}

#[test]
fn wrong_type_and_arity() {
    let mut h = Harness::new();
    h.cmd("SET str v");
    for c in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 2",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SSCAN str 0",
        "SINTER str",
        "SINTERCARD 1 str",
        "SUNION str",
        "SDIFF str",
        "SINTERSTORE d str",
        "SUNIONSTORE d str",
        "SDIFFSTORE d str",
    ] {
        assert_eq!(h.cmd(c), WRONGTYPE, "{c}");
    }
    assert_eq!(h.cmd("GET str"), bulk("v"));
    for (c, name) in [
        ("SADD s", "sadd"),
        ("SREM s", "srem"),
        ("SMEMBERS", "smembers"),
        ("SISMEMBER s", "sismember"),
        ("SMISMEMBER s", "smismember"),
        ("SCARD", "scard"),
        ("SPOP", "spop"),
        ("SRANDMEMBER", "srandmember"),
        ("SMOVE a b", "smove"),
        ("SINTER", "sinter"),
        ("SINTERCARD 1", "sintercard"),
        ("SINTERSTORE d", "sinterstore"),
        ("SUNION", "sunion"),
        ("SUNIONSTORE d", "sunionstore"),
        ("SDIFF", "sdiff"),
        ("SDIFFSTORE d", "sdiffstore"),
        ("SSCAN s", "sscan"),
    ] {
        assert_eq!(
            h.cmd(c),
            format!("-ERR wrong number of arguments for '{name}' command\r\n"),
            "{c}"
        );
    }
}

#[test]
fn srem_deletes_empty_sets() {
    let mut h = Harness::new();
    assert_eq!(h.cmd("SREM nokey a"), ":0\r\n");
    h.cmd("SADD s 1 2 a b");
    assert_eq!(h.cmd("SREM s 1 a x"), ":2\r\n");
    assert_eq!(h.cmd("SMEMBERS s"), arr(&["2", "b"]));
    assert_eq!(h.cmd("SREM s 2 b 2"), ":2\r\n");
    assert_eq!(h.cmd("EXISTS s"), ":0\r\n");
    h.cmd("SADD i 1 2 3");
    assert_eq!(h.cmd("SREM i 02 x 2"), ":1\r\n");
    assert_eq!(h.cmd("SMEMBERS i"), arr(&["1", "3"]));
    h.cmd("SADD t 1");
    h.cmd("EXPIRE t 100");
    assert_eq!(h.cmd("SADD t 2"), ":1\r\n");
    assert_eq!(h.cmd("TTL t"), ":100\r\n");
}

#[test]
fn encodings_convert_like_redis() {
    let mut h = Harness::new();
    // intset -> listpack keeps the sorted integers first, then appends.
    h.cmd("SADD s 3 1 2");
    assert_eq!(h.cmd("SADD s b a"), ":2\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING s"), bulk("listpack"));
    assert_eq!(h.cmd("SMEMBERS s"), arr(&["1", "2", "3", "b", "a"]));
    // A listpack keeps insertion order through removals.
    assert_eq!(h.cmd("SREM s 2"), ":1\r\n");
    assert_eq!(h.cmd("SADD s 0"), ":1\r\n");
    assert_eq!(h.cmd("SMEMBERS s"), arr(&["1", "3", "b", "a", "0"]));
    // A long member makes a hashtable.
    let long = "x".repeat(65);
    assert_eq!(h.cmd(&format!("SADD s {long}")), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING s"), bulk("hashtable"));
    assert_eq!(h.cmd("SCARD s"), ":6\r\n");
    // Too many integers for an intset, added one by one or at once.
    let ints: Vec<String> = (0..512).map(|i| i.to_string()).collect();
    sadd(&mut h, "i", &ints);
    assert_eq!(h.cmd("OBJECT ENCODING i"), bulk("intset"));
    assert_eq!(h.cmd("SADD i 512"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING i"), bulk("hashtable"));
    let ints: Vec<String> = (0..513).map(|i| i.to_string()).collect();
    assert_eq!(sadd(&mut h, "j", &ints), ":513\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING j"), bulk("hashtable"));
    // A big intset takes a string straight to a hashtable.
    let ints: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    sadd(&mut h, "k", &ints);
    h.cmd("SADD k a");
    assert_eq!(h.cmd("OBJECT ENCODING k"), bulk("hashtable"));
    // Listpack limit on entries, and the size hint of a variadic SADD even
    // when members repeat (setTypeMaybeConvert).
    let strs: Vec<String> = (0..128).map(|i| format!("m{i}")).collect();
    sadd(&mut h, "l", &strs);
    assert_eq!(h.cmd("OBJECT ENCODING l"), bulk("listpack"));
    h.cmd("SADD l m128");
    assert_eq!(h.cmd("OBJECT ENCODING l"), bulk("hashtable"));
    h.cmd("SADD l2 a");
    let repeats: Vec<String> = (0..129).map(|_| "a".to_string()).collect();
    assert_eq!(sadd(&mut h, "l2", &repeats), ":0\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING l2"), bulk("hashtable"));
    // Thresholds follow CONFIG SET.
    assert_eq!(h.cmd("CONFIG SET set-max-intset-entries 2"), "+OK\r\n");
    assert_eq!(h.cmd("CONFIG SET set-max-listpack-entries 3"), "+OK\r\n");
    h.cmd("SADD c 1 2");
    assert_eq!(h.cmd("OBJECT ENCODING c"), bulk("intset"));
    h.cmd("SADD c 3");
    assert_eq!(h.cmd("OBJECT ENCODING c"), bulk("hashtable"));
    h.cmd("SADD d a b c");
    assert_eq!(h.cmd("OBJECT ENCODING d"), bulk("listpack"));
    h.cmd("SADD d e");
    assert_eq!(h.cmd("OBJECT ENCODING d"), bulk("hashtable"));
    assert_eq!(h.cmd("CONFIG SET set-max-listpack-value 2"), "+OK\r\n");
    h.cmd("SADD f ab");
    assert_eq!(h.cmd("OBJECT ENCODING f"), bulk("listpack"));
    h.cmd("SADD f abc");
    assert_eq!(h.cmd("OBJECT ENCODING f"), bulk("hashtable"));
    // An intset whose integers are longer than a listpack value goes to a
    // hashtable.
    h.cmd("SADD g 100");
    h.cmd("SADD g a");
    assert_eq!(h.cmd("OBJECT ENCODING g"), bulk("hashtable"));
}

#[test]
fn spop_replies() {
    let mut h = Harness::new();
    assert_eq!(h.cmd("SPOP nokey"), "$-1\r\n");
    assert_eq!(h.cmd("SPOP nokey 3"), "*0\r\n");
    h.cmd("SADD s 1");
    assert_eq!(h.cmd("SPOP s"), bulk("1"));
    assert_eq!(h.cmd("EXISTS s"), ":0\r\n");
    h.cmd("SADD s 3 1 2");
    assert_eq!(h.cmd("SPOP s 0"), "*0\r\n");
    assert_eq!(h.cmd("SPOP s -1"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(h.cmd("SPOP s x"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(
        h.cmd("SPOP nokey -1"),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(h.cmd("SPOP s 1 2"), "-ERR syntax error\r\n");
    // Count at least the size: the whole set, key deleted.
    assert_eq!(h.cmd("SPOP s 3"), arr(&["1", "2", "3"]));
    assert_eq!(h.cmd("EXISTS s"), ":0\r\n");
    h.cmd("SADD s b a 1");
    assert_eq!(h.cmd("SPOP s 100"), arr(&["b", "a", "1"]));
    // Fewer than the size: distinct members, removed.
    let all: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    sadd(&mut h, "big", &all);
    let got = members(&h.cmd("SPOP big 10"));
    assert_eq!(got.len(), 10);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), 10);
    for m in &got {
        assert!(all.contains(m));
        assert_eq!(h.cmd(&format!("SISMEMBER big {m}")), ":0\r\n");
    }
    assert_eq!(h.cmd("SCARD big"), ":290\r\n");
    let one = h.cmd("SPOP big");
    assert!(one.starts_with("$"));
    assert_eq!(h.cmd("SCARD big"), ":289\r\n");
    // Popping most of a hashtable leaves a small set in a listpack, like
    // Redis's "keep the few" path.
    assert_eq!(members(&h.cmd("SPOP big 280")).len(), 280);
    assert_eq!(h.cmd("SCARD big"), ":9\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING big"), bulk("listpack"));
    let ints: Vec<String> = (0..400).map(|i| i.to_string()).collect();
    sadd(&mut h, "ints", &ints);
    assert_eq!(members(&h.cmd("SPOP ints 390")).len(), 390);
    assert_eq!(h.cmd("OBJECT ENCODING ints"), bulk("intset"));
    // RESP3: a set, and a null / empty set when absent.
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("SPOP nokey"), "_\r\n");
    assert_eq!(h.cmd("SPOP nokey 2"), "~0\r\n");
    h.cmd("SADD r3 1 2");
    assert_eq!(h.cmd("SPOP r3 0"), "~0\r\n");
    assert_eq!(h.cmd("SPOP r3 2"), set3(&["1", "2"]));
    h.cmd("SADD r3 1 2 3");
    assert!(h.cmd("SPOP r3 1").starts_with("~1\r\n"));
}

#[test]
fn srandmember_replies() {
    let mut h = Harness::new();
    assert_eq!(h.cmd("SRANDMEMBER nokey"), "$-1\r\n");
    assert_eq!(h.cmd("SRANDMEMBER nokey 5"), "*0\r\n");
    assert_eq!(h.cmd("SRANDMEMBER nokey -5"), "*0\r\n");
    assert_eq!(
        h.cmd("SRANDMEMBER nokey x"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.cmd("SRANDMEMBER nokey -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(h.cmd("SRANDMEMBER nokey 1 2"), "-ERR syntax error\r\n");
    h.cmd("SADD s 3 1 2");
    assert_eq!(h.cmd("SRANDMEMBER s 0"), "*0\r\n");
    assert_eq!(h.cmd("SRANDMEMBER s 3"), arr(&["1", "2", "3"]));
    assert_eq!(h.cmd("SRANDMEMBER s 10"), arr(&["1", "2", "3"]));
    let one = members(&h.cmd("SRANDMEMBER s -1"));
    assert_eq!(one.len(), 1);
    let reps = members(&h.cmd("SRANDMEMBER s -50"));
    assert_eq!(reps.len(), 50);
    assert!(reps.iter().all(|m| ["1", "2", "3"].contains(&m.as_str())));
    assert_eq!(h.cmd("SCARD s"), ":3\r\n");
    for (key, n) in [("lp", 100), ("ht", 1000), ("is", 500)] {
        let all: Vec<String> = (0..n)
            .map(|i| if key == "is" { i.to_string() } else { format!("m{i}") })
            .collect();
        sadd(&mut h, key, &all);
        for count in [1, 5, n / 3, n / 2, n - 1] {
            let got = members(&h.cmd(&format!("SRANDMEMBER {key} {count}")));
            assert_eq!(got.len(), count, "{key} {count}");
            assert_eq!(
                got.iter().collect::<HashSet<_>>().len(),
                count,
                "{key} {count} distinct"
            );
            assert!(got.iter().all(|m| all.contains(m)));
        }
        let single = h.cmd(&format!("SRANDMEMBER {key}"));
        assert!(all.contains(&single.split("\r\n").nth(1).unwrap().to_string()));
    }
    // Every member turns up eventually.
    let mut seen = HashSet::new();
    for _ in 0..200 {
        seen.extend(members(&h.cmd("SRANDMEMBER s -10")));
    }
    assert_eq!(sorted(seen.into_iter().collect()), strings(&["1", "2", "3"]));
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("SRANDMEMBER nokey"), "_\r\n");
    assert_eq!(h.cmd("SRANDMEMBER nokey 3"), "*0\r\n");
    assert_eq!(h.cmd("SRANDMEMBER s 3"), arr(&["1", "2", "3"]));
    assert!(h.cmd("SRANDMEMBER s -2").starts_with("*2\r\n"));
}

#[test]
fn smove_semantics() {
    let mut h = Harness::new();
    h.cmd("SET str v");
    h.cmd("SADD src 1 2 3");
    h.cmd("SADD dst 4");
    assert_eq!(h.cmd("SMOVE src dst 1"), ":1\r\n");
    assert_eq!(h.cmd("SMEMBERS src"), arr(&["2", "3"]));
    assert_eq!(h.cmd("SMEMBERS dst"), arr(&["1", "4"]));
    assert_eq!(h.cmd("SMOVE src dst 9"), ":0\r\n");
    assert_eq!(h.cmd("SMOVE src src 2"), ":1\r\n");
    assert_eq!(h.cmd("SMOVE src src 9"), ":0\r\n");
    // A missing source answers 0 before the destination's type is checked.
    assert_eq!(h.cmd("SMOVE nokey str 1"), ":0\r\n");
    assert_eq!(h.cmd("SMOVE src str 2"), WRONGTYPE);
    assert_eq!(h.cmd("SMOVE str src 2"), WRONGTYPE);
    assert_eq!(h.cmd("SMOVE src new 2"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING new"), bulk("intset"));
    assert_eq!(h.cmd("SMOVE src new 3"), ":1\r\n");
    assert_eq!(h.cmd("EXISTS src"), ":0\r\n");
    assert_eq!(h.cmd("SMEMBERS new"), arr(&["2", "3"]));
    // Moving a string into an intset converts it; a member already there
    // still counts as moved.
    h.cmd("SADD lp a 2");
    assert_eq!(h.cmd("SMOVE lp new a"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING new"), bulk("listpack"));
    assert_eq!(h.cmd("SMOVE lp new 2"), ":1\r\n");
    assert_eq!(h.cmd("EXISTS lp"), ":0\r\n");
    assert_eq!(h.cmd("SMEMBERS new"), arr(&["2", "3", "a"]));
    h.cmd("SADD x s");
    assert_eq!(h.cmd("SMOVE x fresh s"), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING fresh"), bulk("listpack"));
}

#[test]
fn sinter_family() {
    let mut h = Harness::new();
    h.cmd("SET str v");
    h.cmd("SADD a 5 4 3 2 1");
    h.cmd("SADD b 2 3 4 6");
    h.cmd("SADD c 3 4 7");
    assert_eq!(h.cmd("SINTER a b"), arr(&["2", "3", "4"]));
    assert_eq!(h.cmd("SINTER a b c"), arr(&["3", "4"]));
    assert_eq!(h.cmd("SINTER a"), arr(&["1", "2", "3", "4", "5"]));
    assert_eq!(h.cmd("SINTER a a"), arr(&["1", "2", "3", "4", "5"]));
    assert_eq!(h.cmd("SINTER a nokey"), "*0\r\n");
    // Every key is type-checked, even after a missing one.
    assert_eq!(h.cmd("SINTER nokey str"), WRONGTYPE);
    assert_eq!(h.cmd("SINTER str nokey"), WRONGTYPE);
    assert_eq!(h.cmd("SINTERSTORE d a b c"), ":2\r\n");
    assert_eq!(h.cmd("SMEMBERS d"), arr(&["3", "4"]));
    assert_eq!(h.cmd("OBJECT ENCODING d"), bulk("intset"));
    h.cmd("EXPIRE d 100");
    assert_eq!(h.cmd("SINTERSTORE d a b"), ":3\r\n");
    assert_eq!(h.cmd("TTL d"), ":-1\r\n");
    assert_eq!(h.cmd("SINTERSTORE d a nokey"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
    assert_eq!(h.cmd("SINTERSTORE d str a"), WRONGTYPE);
    // The destination may be a source, or a key of another type.
    assert_eq!(h.cmd("SINTERSTORE a a nokey"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS a"), ":0\r\n");
    h.cmd("SADD a 5 4 3 2 1");
    assert_eq!(h.cmd("SINTERSTORE a a b"), ":3\r\n");
    assert_eq!(h.cmd("SMEMBERS a"), arr(&["2", "3", "4"]));
    assert_eq!(h.cmd("SINTERSTORE str a c"), ":2\r\n");
    assert_eq!(h.cmd("TYPE str"), "+set\r\n");
    h.cmd("SET str v");
    // Listpack results, and listpacks whose common part is integers.
    h.cmd("SADD la x 1 y 3 z");
    h.cmd("SADD lb z 3 y q 1");
    assert_eq!(h.cmd("SINTER la lb"), arr(&["x", "1", "y", "3", "z"][1..]));
    assert_eq!(h.cmd("SINTERSTORE ld la lb"), ":4\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING ld"), bulk("listpack"));
    h.cmd("SADD lc 3 1 w");
    assert_eq!(h.cmd("SINTERSTORE ld la lc"), ":2\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING ld"), bulk("intset"));
    assert_eq!(h.cmd("SMEMBERS ld"), arr(&["1", "3"]));
    // SINTERCARD.
    assert_eq!(h.cmd("SINTERCARD 2 la lb"), ":4\r\n");
    assert_eq!(h.cmd("SINTERCARD 2 la lb LIMIT 2"), ":2\r\n");
    assert_eq!(h.cmd("SINTERCARD 2 la lb limit 0"), ":4\r\n");
    assert_eq!(h.cmd("SINTERCARD 2 la lb LIMIT 10"), ":4\r\n");
    assert_eq!(h.cmd("SINTERCARD 1 nokey"), ":0\r\n");
    assert_eq!(h.cmd("SINTERCARD 2 la nokey LIMIT 1"), ":0\r\n");
    assert_eq!(h.cmd("SINTERCARD 2 str nokey"), WRONGTYPE);
    assert_eq!(h.cmd("SINTERCARD 0 la"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(h.cmd("SINTERCARD -1 la"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(h.cmd("SINTERCARD x la"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(
        h.cmd("SINTERCARD 2 la"),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(h.cmd("SINTERCARD 1 la lb"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SINTERCARD 1 la LIMIT"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SINTERCARD 1 la LIMIT -1"), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(h.cmd("SINTERCARD 1 la LIMIT x"), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(h.cmd("SINTERCARD 1 la LIMIT 1 LIMIT 3"), ":3\r\n");
    assert_eq!(h.cmd("COMMAND GETKEYS SINTERCARD 2 la lb LIMIT 1"), arr(&["la", "lb"]));
    // Big hashtables whose intersection is all integers give an intset.
    let mut one: Vec<String> = (1..130).map(|i| i.to_string()).collect();
    let mut two = one.clone();
    one.extend(strings(&["a", "b", "c"]));
    two.extend(strings(&["e", "f", "g"]));
    sadd(&mut h, "h1", &one);
    sadd(&mut h, "h2", &two);
    assert_eq!(h.cmd("OBJECT ENCODING h1"), bulk("hashtable"));
    assert_eq!(h.cmd("SINTERSTORE hr h1 h2"), ":129\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING hr"), bulk("intset"));
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("SINTER c b"), set3(&["3", "4"]));
    assert_eq!(h.cmd("SINTER c nokey"), "~0\r\n");
    assert_eq!(h.cmd("SMEMBERS c"), set3(&["3", "4", "7"]));
    assert_eq!(h.cmd("SMEMBERS nokey"), "~0\r\n");
}

#[test]
fn sunion_sdiff_family() {
    let mut h = Harness::new();
    h.cmd("SET str v");
    h.cmd("SADD a 1 2 3");
    h.cmd("SADD b 3 4 -1");
    assert_eq!(h.cmd("SUNION a b"), arr(&["-1", "1", "2", "3", "4"]));
    assert_eq!(h.cmd("SUNION nokey a nokey2"), arr(&["1", "2", "3"]));
    assert_eq!(h.cmd("SUNION nokey"), "*0\r\n");
    assert_eq!(h.cmd("SUNION nokey str"), WRONGTYPE);
    assert_eq!(h.cmd("SUNIONSTORE d a b"), ":5\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING d"), bulk("intset"));
    assert_eq!(h.cmd("SUNIONSTORE d nokey"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
    assert_eq!(h.cmd("SUNIONSTORE d a str"), WRONGTYPE);
    assert_eq!(h.cmd("SUNIONSTORE b b a"), ":5\r\n");
    // Mixed members: integers sorted first (the result starts as an intset).
    h.cmd("SADD m x 9 y 1");
    assert_eq!(h.cmd("SUNION m a"), arr(&["x", "9", "y", "1", "2", "3"]));
    assert_eq!(h.cmd("SUNIONSTORE md a m"), ":6\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING md"), bulk("listpack"));
    assert_eq!(h.cmd("SMEMBERS md"), arr(&["1", "2", "3", "x", "9", "y"]));
    h.cmd("DEL a b");
    h.cmd("SADD a 1 2 3 4 5");
    h.cmd("SADD b 2 4");
    h.cmd("SADD c 5 6");
    assert_eq!(h.cmd("SDIFF a b"), arr(&["1", "3", "5"]));
    assert_eq!(h.cmd("SDIFF a b c"), arr(&["1", "3"]));
    assert_eq!(h.cmd("SDIFF a nokey"), arr(&["1", "2", "3", "4", "5"]));
    assert_eq!(h.cmd("SDIFF nokey a"), "*0\r\n");
    assert_eq!(h.cmd("SDIFF a a"), "*0\r\n");
    assert_eq!(h.cmd("SDIFF a b a"), "*0\r\n");
    assert_eq!(h.cmd("SDIFF nokey str"), WRONGTYPE);
    assert_eq!(h.cmd("SDIFF str nokey"), WRONGTYPE);
    assert_eq!(h.cmd("SDIFFSTORE d a b c"), ":2\r\n");
    assert_eq!(h.cmd("SMEMBERS d"), arr(&["1", "3"]));
    assert_eq!(h.cmd("SDIFFSTORE d a a"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
    assert_eq!(h.cmd("SDIFFSTORE a a b"), ":3\r\n");
    assert_eq!(h.cmd("SMEMBERS a"), arr(&["1", "3", "5"]));
    h.cmd("SADD la x y z 1");
    h.cmd("SADD lb y");
    assert_eq!(h.cmd("SDIFF la lb"), arr(&["x", "z", "1"]));
    assert_eq!(h.cmd("SDIFFSTORE ld la lb"), ":3\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING ld"), bulk("listpack"));
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("SUNION a c"), set3(&["1", "3", "5", "6"]));
    assert_eq!(h.cmd("SDIFF a c"), set3(&["1", "3"]));
    assert_eq!(h.cmd("SDIFF nokey c"), "~0\r\n");
}

#[test]
fn sscan_replies() {
    let mut h = Harness::new();
    h.cmd("SET str v");
    assert_eq!(h.cmd("SSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(h.cmd("SSCAN nokey 0 COUNT 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(h.cmd("SSCAN nokey x"), "-ERR invalid cursor\r\n");
    h.cmd("SADD s 1 2 3 10 11 12");
    assert_eq!(
        h.cmd("SSCAN s 0"),
        format!("*2\r\n$1\r\n0\r\n{}", arr(&["1", "2", "3", "10", "11", "12"]))
    );
    assert_eq!(
        h.cmd("SSCAN s 0 MATCH 1*"),
        format!("*2\r\n$1\r\n0\r\n{}", arr(&["1", "10", "11", "12"]))
    );
    assert_eq!(
        h.cmd("SSCAN s 0 match *2 count 1"),
        format!("*2\r\n$1\r\n0\r\n{}", arr(&["2", "12"]))
    );
    assert_eq!(h.cmd("SSCAN s 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(
        h.cmd("SSCAN s 0 COUNT x"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.cmd("SSCAN s 0 MATCH"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SSCAN s 0 TYPE string"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SSCAN s 0 NOVALUES"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SSCAN str 0 COUNT 0"), WRONGTYPE);
    h.cmd("SADD l b a");
    assert_eq!(h.cmd("SSCAN l 0"), format!("*2\r\n$1\r\n0\r\n{}", arr(&["b", "a"])));
    // A hashtable is walked in steps, with every member exactly once when
    // nothing changes.
    let all: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    sadd(&mut h, "big", &all);
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = h.cmd(&format!("SSCAN big {cursor} COUNT 25"));
        let mut parts = r.splitn(4, "\r\n");
        parts.next();
        parts.next();
        cursor = parts.next().unwrap().to_string();
        let rest = parts.next().unwrap();
        let got = members(rest);
        assert!(got.len() <= 25);
        seen.extend(got);
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(calls, 40);
    assert_eq!(seen.len(), 1000);
    assert_eq!(sorted(seen), sorted(all.clone()));
    let r = h.cmd("SSCAN big 0 MATCH m99* COUNT 2000");
    assert_eq!(
        sorted(members(r.splitn(4, "\r\n").nth(3).unwrap())),
        strings(&["m99", "m990", "m991", "m992", "m993", "m994", "m995", "m996", "m997", "m998", "m999"])
    );
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("SSCAN l 0"), format!("*2\r\n$1\r\n0\r\n{}", arr(&["b", "a"])));
}

#[test]
fn big_sets_stay_fast() {
    let mut h = Harness::new();
    let start = std::time::Instant::now();
    let all: Vec<String> = (0..200_000).map(|i| format!("member:{i}")).collect();
    for chunk in all.chunks(10_000) {
        sadd(&mut h, "big", chunk);
    }
    assert_eq!(h.cmd("SCARD big"), ":200000\r\n");
    // Random picks and pops are O(1) each; a big unique SRANDMEMBER is not
    // quadratic.
    for _ in 0..2000 {
        assert!(h.cmd("SPOP big").starts_with('$'));
        assert!(h.cmd("SRANDMEMBER big").starts_with('$'));
    }
    assert_eq!(members(&h.cmd("SRANDMEMBER big 150000")).len(), 150_000);
    assert_eq!(members(&h.cmd("SRANDMEMBER big 1000")).len(), 1000);
    assert_eq!(members(&h.cmd("SRANDMEMBER big -100000")).len(), 100_000);
    assert_eq!(members(&h.cmd("SPOP big 100000")).len(), 100_000);
    assert_eq!(h.cmd("SCARD big"), ":98000\r\n");
    assert_eq!(members(&h.cmd("SPOP big 97990")).len(), 97_990);
    assert_eq!(h.cmd("OBJECT ENCODING big"), bulk("listpack"));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}
