//! Ring 2 for streams: exact reply bytes through the real dispatch path,
//! for what the differential test (Redis 7.0) cannot check: Redis 7.4's
//! XREAD `+`, its error strings, eager consumer creation, XSETID checks,
//! XINFO STREAM, node boundaries and blocking reads that answer at once.

use spindle::server::harness::Harness;

fn h() -> Harness {
    Harness::new()
}

/// A bulk string reply.
fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

/// An entry `[id, [f, v ...]]` as RESP2.
fn entry(id: &str, fv: &[&str]) -> String {
    let mut s = format!("*2\r\n{}*{}\r\n", bulk(id), fv.len());
    for x in fv {
        s += &bulk(x);
    }
    s
}

#[test]
fn xadd_ids_and_errors() {
    let mut h = h();
    assert_eq!(
        h.cmd("XADD s 5-18446744073709551615 f v"),
        bulk("5-18446744073709551615")
    );
    // 7.4: an explicit ms whose sequences are used up is "smaller".
    assert_eq!(
        h.cmd("XADD s 5-* f v"),
        "-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"
    );
    assert_eq!(h.cmd("XADD s 6-* f v"), bulk("6-0"));
    assert_eq!(h.cmd("XADD s 6-* f v"), bulk("6-1"));
    assert_eq!(h.cmd("XADD s 7 f v"), bulk("7-0"));
    assert!(h
        .cmd("XADD s 0-0 f v")
        .starts_with("-ERR The ID specified in XADD must be greater than 0-0"));
    assert_eq!(
        h.cmd("XADD s * f"),
        "-ERR wrong number of arguments for 'xadd' command\r\n"
    );
    assert_eq!(
        h.cmd("XADD s MAXLEN"),
        "-ERR wrong number of arguments for 'xadd' command\r\n"
    );
    assert_eq!(
        h.cmd("XADD s 1-x f v"),
        "-ERR Invalid stream ID specified as stream command argument\r\n"
    );
    assert_eq!(
        h.cmd("XADD s 18446744073709551615-18446744073709551615 f v"),
        bulk("18446744073709551615-18446744073709551615")
    );
    assert_eq!(
        h.cmd("XADD s * f v"),
        "-ERR The stream has exhausted the last possible ID, unable to add more items\r\n"
    );
    assert_eq!(h.cmd("XADD nomk NOMKSTREAM * f v"), "$-1\r\n");
    assert_eq!(h.cmd("EXISTS nomk"), ":0\r\n");
    assert_eq!(h.cmd("TYPE s"), "+stream\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING s"), bulk("stream"));
    assert_eq!(h.cmd("SET str x"), "+OK\r\n");
    assert_eq!(
        h.cmd("XADD str * f v"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[test]
fn xread_plus_and_unbalanced_errors_follow_7_4() {
    let mut h = h();
    h.cmd("XADD s 1-1 a 1");
    h.cmd("XADD s 2-1 b 2");
    assert_eq!(
        h.cmd("XREAD STREAMS s +"),
        format!("*1\r\n*2\r\n{}*1\r\n{}", bulk("s"), entry("2-1", &["b", "2"]))
    );
    assert_eq!(h.cmd("XREAD STREAMS nokey +"), "*-1\r\n");
    h.cmd("XGROUP CREATE empty g $ MKSTREAM");
    assert_eq!(
        h.cmd("XREAD STREAMS empty +"),
        "-ERR the stream last element ID is 0-0\r\n"
    );
    assert_eq!(
        h.cmd("XREAD COUNT 1 STREAMS s"),
        "-ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.\r\n"
    );
    assert_eq!(
        h.cmd("XREADGROUP GROUP g c COUNT 1 STREAMS s"),
        "-ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.\r\n"
    );
    h.cmd("XGROUP CREATE s g 0");
    assert!(h
        .cmd("XREADGROUP GROUP g c STREAMS s +")
        .starts_with("-ERR The + ID is meaningless"));
    assert!(h
        .cmd("XREADGROUP GROUP g c STREAMS s $")
        .starts_with("-ERR The $ ID is meaningless"));
    assert_eq!(
        h.cmd("XREADGROUP GROUP nog c STREAMS s >"),
        "-NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option\r\n"
    );
    assert_eq!(h.cmd("XREAD BLOCK -1 STREAMS s 0"), "-ERR timeout is negative\r\n");
    assert_eq!(
        h.cmd("XREAD BLOCK x STREAMS s 0"),
        "-ERR timeout is not an integer or out of range\r\n"
    );
    // Data already there answers at once; nothing there times out.
    assert_eq!(
        h.cmd("XREAD BLOCK 0 COUNT 1 STREAMS s 0"),
        format!("*1\r\n*2\r\n{}*1\r\n{}", bulk("s"), entry("1-1", &["a", "1"]))
    );
    assert_eq!(h.cmd("XREAD BLOCK 5 STREAMS s $"), "*-1\r\n");
    assert!(!h.cmd("HELLO 3").is_empty());
    assert_eq!(h.cmd("XREAD BLOCK 5 STREAMS s $"), "_\r\n");
    assert_eq!(
        h.cmd("XREAD COUNT 1 STREAMS s 1-1"),
        format!("%1\r\n{}*1\r\n{}", bulk("s"), entry("2-1", &["b", "2"]))
    );
}

#[test]
fn consumers_are_created_by_any_group_read_or_claim() {
    let mut h = h();
    h.cmd("XGROUP CREATE s g $ MKSTREAM");
    // 7.4 creates the consumer even when nothing is served or claimed.
    assert_eq!(h.cmd("XREADGROUP GROUP g alice STREAMS s >"), "*-1\r\n");
    assert_eq!(h.cmd("XCLAIM s g bob 0 1-1"), "*0\r\n");
    assert_eq!(
        h.cmd("XAUTOCLAIM s g carol 0 0 JUSTID"),
        format!("*3\r\n{}*0\r\n*0\r\n", bulk("0-0"))
    );
    let groups = h.cmd("XINFO GROUPS s");
    assert!(groups.contains(&format!("{}:3\r\n", bulk("consumers"))), "{groups}");
    assert_eq!(h.cmd("XINFO CONSUMERS s g").matches("$4\r\nname\r\n").count(), 3);
    // A consumer that never succeeded reports inactive -1.
    let c = h.cmd("XINFO CONSUMERS s g");
    assert!(c.contains(&format!("{}:-1\r\n", bulk("inactive"))), "{c}");
}

#[test]
fn xsetid_checks_follow_7_4() {
    let mut h = h();
    h.cmd("XADD s 1-1 a 1");
    h.cmd("XADD s 2-1 a 1");
    assert_eq!(h.cmd("XDEL s 2-1"), ":1\r\n");
    assert_eq!(
        h.cmd("XSETID s 1-5"),
        "-ERR The ID specified in XSETID is smaller than current max_deleted_entry_id\r\n"
    );
    assert_eq!(h.cmd("XSETID s 3-0 ENTRIESADDED 1"), "+OK\r\n");
    assert_eq!(
        h.cmd("XSETID s 3-0 ENTRIESADDED 0"),
        "-ERR The entries_added specified in XSETID is smaller than the target stream length\r\n"
    );
    assert_eq!(
        h.cmd("XSETID s 3-0 MAXDELETEDID 4-0"),
        "-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id\r\n"
    );
    assert_eq!(
        h.cmd("XSETID s 3-0 ENTRIESADDED -1"),
        "-ERR entries_added must be positive\r\n"
    );
    assert_eq!(h.cmd("XSETID nokey 3-0"), "-ERR no such key\r\n");
    assert_eq!(
        h.cmd("XSETID s 0-5"),
        "-ERR The ID specified in XSETID is smaller than current max_deleted_entry_id\r\n"
    );
}

#[test]
fn xinfo_stream_reports_nodes_like_redis() {
    let mut h = h();
    assert_eq!(h.cmd("CONFIG SET stream-node-max-entries 10"), "+OK\r\n");
    for i in 1..=25 {
        h.cmd(&format!("XADD s {i}-0 f v{i}"));
    }
    h.cmd("XDEL s 1-0");
    let info = h.cmd("XINFO STREAM s");
    let want = format!("*20\r\n{}:24\r\n{}:3\r\n", bulk("length"), bulk("radix-tree-keys"));
    assert!(info.starts_with(&want), "{info}");
    for (field, value) in [
        ("last-generated-id", bulk("25-0")),
        ("max-deleted-entry-id", bulk("1-0")),
        ("entries-added", ":25\r\n".into()),
        ("recorded-first-entry-id", bulk("2-0")),
        ("groups", ":0\r\n".into()),
        ("first-entry", entry("2-0", &["f", "v2"])),
        ("last-entry", entry("25-0", &["f", "v25"])),
    ] {
        assert!(info.contains(&format!("{}{}", bulk(field), value)), "{field} in {info}");
    }
    // Approximate trimming removes whole nodes of 10 only.
    assert_eq!(h.cmd("XTRIM s MAXLEN ~ 12"), ":9\r\n");
    assert_eq!(h.cmd("XLEN s"), ":15\r\n");
    assert_eq!(h.cmd("XTRIM s MAXLEN ~ 0 LIMIT 5"), ":0\r\n");
    assert_eq!(h.cmd("XTRIM s MAXLEN = 12"), ":3\r\n");
    assert_eq!(h.cmd("XTRIM s MINID ~ 19"), ":0\r\n");
    assert_eq!(h.cmd("XTRIM s MINID 19"), ":5\r\n");
    assert_eq!(
        h.cmd("XRANGE s - + COUNT 1"),
        format!("*1\r\n{}", entry("19-0", &["f", "v19"]))
    );
    let full = h.cmd("XINFO STREAM s FULL COUNT 1");
    assert!(full.starts_with("*18\r\n"), "{full}");
    assert!(
        full.contains(&format!("{}*1\r\n{}", bulk("entries"), entry("19-0", &["f", "v19"]))),
        "{full}"
    );
    assert_eq!(
        h.cmd("XINFO STREAM s FULL COUNT"),
        "-ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.\r\n"
    );
}

#[test]
fn pending_history_and_claims() {
    let mut h = h();
    for i in 1..=4 {
        h.cmd(&format!("XADD s {i}-0 f {i}"));
    }
    h.cmd("XGROUP CREATE s g 0");
    let r = h.cmd("XREADGROUP GROUP g alice COUNT 3 STREAMS s >");
    assert!(r.contains(&entry("3-0", &["f", "3"])), "{r}");
    assert_eq!(h.cmd("XDEL s 2-0"), ":1\r\n");
    // History shows a deleted pending entry as [id, nil] and counts a delivery.
    assert_eq!(
        h.cmd("XREADGROUP GROUP g alice STREAMS s 0"),
        format!(
            "*1\r\n*2\r\n{}*3\r\n{}*2\r\n{}*-1\r\n{}",
            bulk("s"),
            entry("1-0", &["f", "1"]),
            bulk("2-0"),
            entry("3-0", &["f", "3"])
        )
    );
    let p = h.cmd("XPENDING s g - + 10 alice");
    assert!(p.contains(&format!("{}{}", bulk("1-0"), bulk("alice"))), "{p}");
    assert!(p.ends_with(":2\r\n"), "delivery count 2: {p}");
    assert_eq!(h.cmd("XPENDING s g IDLE 100000 - + 10"), "*0\r\n");
    // XAUTOCLAIM reports the deleted entry and drops it from the PEL.
    assert_eq!(
        h.cmd("XAUTOCLAIM s g bob 0 0 COUNT 10 JUSTID"),
        format!(
            "*3\r\n{}*2\r\n{}{}*1\r\n{}",
            bulk("0-0"),
            bulk("1-0"),
            bulk("3-0"),
            bulk("2-0")
        )
    );
    assert_eq!(
        h.cmd("XPENDING s g"),
        format!(
            "*4\r\n:2\r\n{}{}*1\r\n*2\r\n{}{}",
            bulk("1-0"),
            bulk("3-0"),
            bulk("bob"),
            bulk("2")
        )
    );
    // FORCE claims an entry never delivered; RETRYCOUNT sets the count.
    assert_eq!(
        h.cmd("XCLAIM s g carol 0 4-0 FORCE RETRYCOUNT 7 JUSTID"),
        format!("*1\r\n{}", bulk("4-0"))
    );
    let p = h.cmd("XPENDING s g - + 10 carol");
    assert!(p.ends_with(":7\r\n"), "{p}");
    assert_eq!(
        h.cmd("XCLAIM s g carol 0 4-0 BOGUS"),
        "-ERR Unrecognized XCLAIM option 'BOGUS'\r\n"
    );
    assert_eq!(
        h.cmd("XCLAIM s g carol x 4-0"),
        "-ERR Invalid min-idle-time argument for XCLAIM\r\n"
    );
    assert_eq!(h.cmd("XAUTOCLAIM s g carol 0 0 COUNT 0"), "-ERR COUNT must be > 0\r\n");
    assert_eq!(h.cmd("XGROUP DELCONSUMER s g bob"), ":2\r\n");
    assert_eq!(
        h.cmd("XPENDING s g"),
        format!(
            "*4\r\n:1\r\n{}{}*1\r\n*2\r\n{}{}",
            bulk("4-0"),
            bulk("4-0"),
            bulk("carol"),
            bulk("1")
        )
    );
}

#[test]
fn group_lag_and_entries_read() {
    let mut h = h();
    for i in 1..=5 {
        h.cmd(&format!("XADD s {i}-0 f v"));
    }
    h.cmd("XGROUP CREATE s g 0");
    h.cmd("XREADGROUP GROUP g c COUNT 2 STREAMS s >");
    let g = h.cmd("XINFO GROUPS s");
    assert!(
        g.contains(&format!("{}:2\r\n{}:3\r\n", bulk("entries-read"), bulk("lag"))),
        "{g}"
    );
    // A tombstone ahead of the group makes the lag unknown.
    h.cmd("XDEL s 4-0");
    let g = h.cmd("XINFO GROUPS s");
    assert!(
        g.contains(&format!("{}:2\r\n{}_\r\n", bulk("entries-read"), bulk("lag")))
            || g.contains(&format!("{}:2\r\n{}$-1\r\n", bulk("entries-read"), bulk("lag"))),
        "{g}"
    );
    h.cmd("XREADGROUP GROUP g c STREAMS s >");
    let g = h.cmd("XINFO GROUPS s");
    assert!(
        g.contains(&format!("{}:5\r\n{}:0\r\n", bulk("entries-read"), bulk("lag"))),
        "{g}"
    );
    // SETID without ENTRIESREAD forgets the counter.
    h.cmd("XGROUP SETID s g 0");
    let g = h.cmd("XINFO GROUPS s");
    assert!(g.contains(&format!("{}$-1\r\n", bulk("entries-read"))), "{g}");
}

#[test]
fn signed_lag_count_caps_and_the_largest_id() {
    let mut h = h();
    h.cmd("XADD s 1-0 f v");
    h.cmd("XGROUP CREATE s g $ ENTRIESREAD 100");
    let g = h.cmd("XINFO GROUPS s");
    assert!(
        g.contains(&format!("{}:100\r\n{}:-99\r\n", bulk("entries-read"), bulk("lag"))),
        "{g}"
    );
    assert_eq!(
        h.cmd("XAUTOCLAIM s g c 0 0 COUNT 600000000000000000"),
        "-ERR COUNT must be > 0\r\n"
    );
    h.cmd("XGROUP CREATE s g2 0");
    h.cmd("XREADGROUP GROUP g2 c STREAMS s >");
    // Redis keeps `>` as the largest ID: naming it reads new entries.
    assert_eq!(
        h.cmd("XREADGROUP GROUP g2 c STREAMS s 18446744073709551615-18446744073709551615"),
        "*-1\r\n"
    );
}
