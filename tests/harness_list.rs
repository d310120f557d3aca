//! Lists through the in-process harness: encodings (Redis 7.2+ names, which
//! the differential test against Redis 7.0 cannot check), RESP3 replies,
//! deletion of emptied lists.

use spindle::server::harness::Harness;

#[test]
fn encodings_follow_the_listpack_limit() {
    let mut h = Harness::new();
    assert_eq!(h.cmd("RPUSH l a b c"), ":3\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING l"), "$8\r\nlistpack\r\n");
    assert_eq!(h.cmd("CONFIG SET list-max-listpack-size 4"), "+OK\r\n");
    assert_eq!(h.cmd("RPUSH l d e"), ":5\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING l"), "$9\r\nquicklist\r\n");
    // Back to listpack only once it fits in half the limit.
    assert_eq!(h.cmd("RPOP l 2"), "*2\r\n$1\r\ne\r\n$1\r\nd\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING l"), "$9\r\nquicklist\r\n");
    assert_eq!(h.cmd("RPOP l"), "$1\r\nc\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING l"), "$8\r\nlistpack\r\n");
    // A big element makes a quicklist under the default byte limit.
    assert_eq!(h.cmd("CONFIG SET list-max-listpack-size -2"), "+OK\r\n");
    let big = "x".repeat(9000);
    assert_eq!(h.cmd(&format!("RPUSH big {big}")), ":1\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING big"), "$9\r\nquicklist\r\n");
    assert_eq!(h.cmd("TYPE big"), "+list\r\n");
}

#[test]
fn resp3_nulls_and_emptied_lists() {
    let mut h = Harness::new();
    h.cmd("HELLO 3");
    assert_eq!(h.cmd("LPOP nol"), "_\r\n");
    assert_eq!(h.cmd("LPOP nol 2"), "_\r\n");
    assert_eq!(h.cmd("LMPOP 1 nol LEFT"), "_\r\n");
    assert_eq!(h.cmd("LPOS nol a"), "_\r\n");
    assert_eq!(h.cmd("RPUSH l a"), ":1\r\n");
    assert_eq!(h.cmd("LMPOP 1 l LEFT COUNT 5"), "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n");
    assert_eq!(h.cmd("EXISTS l"), ":0\r\n");
    assert_eq!(h.cmd("RPUSH l a b"), ":2\r\n");
    assert_eq!(h.cmd("LREM l 0 a"), ":1\r\n");
    assert_eq!(h.cmd("LREM l 0 b"), ":1\r\n");
    assert_eq!(h.cmd("EXISTS l"), ":0\r\n");
    assert_eq!(h.cmd("RPUSH l a b"), ":2\r\n");
    assert_eq!(h.cmd("LTRIM l 5 10"), "+OK\r\n");
    assert_eq!(h.cmd("EXISTS l"), ":0\r\n");
}

#[test]
fn collections_survive_rename_copy_and_move() {
    let mut h = Harness::new();
    assert_eq!(h.cmd("RPUSH l a b"), ":2\r\n");
    assert_eq!(h.cmd("COPY l l2"), ":1\r\n");
    assert_eq!(h.cmd("RENAME l l3"), "+OK\r\n");
    assert_eq!(h.cmd("LRANGE l3 0 -1"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(h.cmd("MOVE l2 1"), ":1\r\n");
    assert_eq!(h.cmd("SELECT 1"), "+OK\r\n");
    assert_eq!(h.cmd("LLEN l2"), ":2\r\n");
    assert_eq!(h.cmd("SCAN 0 TYPE list"), "*2\r\n$1\r\n0\r\n*1\r\n$2\r\nl2\r\n");
    assert_eq!(h.cmd("SCAN 0 TYPE string"), "*2\r\n$1\r\n0\r\n*0\r\n");
}

#[test]
fn lpos_non_integer_count_and_maxlen_use_their_own_errors() {
    let mut h = Harness::new();
    h.cmd("RPUSH l a b a");
    assert_eq!(h.cmd("LPOS l a COUNT abc"), "-ERR COUNT can't be negative\r\n");
    assert_eq!(h.cmd("LPOS l a COUNT 1.5"), "-ERR COUNT can't be negative\r\n");
    assert_eq!(h.cmd("LPOS l a MAXLEN abc"), "-ERR MAXLEN can't be negative\r\n");
    assert_eq!(
        h.cmd("LPOS l a MAXLEN 99999999999999999999"),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(
        h.cmd("LPOS l a RANK abc"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.cmd("LPOS l a RANK -9223372036854775807 COUNT 9223372036854775807 MAXLEN 9223372036854775807"),
        "*0\r\n"
    );
}
