//! Ring 2: commands run in-process on one shard through the real dispatch
//! path; replies are compared byte for byte with what Redis sends.

use spindle::server::harness::Harness;

fn h() -> Harness {
    Harness::new()
}

#[test]
fn set_and_get_variants() {
    let mut h = h();
    assert_eq!(h.cmd("GET k"), "$-1\r\n");
    assert_eq!(h.cmd("SET k v"), "+OK\r\n");
    assert_eq!(h.cmd("GET k"), "$1\r\nv\r\n");
    assert_eq!(h.cmd("SET k w NX"), "$-1\r\n");
    assert_eq!(h.cmd("SET k w XX GET"), "$1\r\nv\r\n");
    assert_eq!(h.cmd("SET nokey w XX"), "$-1\r\n");
    assert_eq!(h.cmd("SET k v NX XX"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SET k v EX 10 PX 100"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SET k v KEEPTTL EX 1"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SET k v EX 0"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(h.cmd("SET k v EX -1"), "-ERR invalid expire time in 'set' command\r\n");
    assert_eq!(
        h.cmd("SET k v EX abc"),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(h.cmd("SET k v EX"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SET k v EX 100"), "+OK\r\n");
    assert_eq!(h.cmd("TTL k"), ":100\r\n");
    assert_eq!(h.cmd("SET k v2 KEEPTTL"), "+OK\r\n");
    assert_eq!(h.cmd("TTL k"), ":100\r\n");
    assert_eq!(h.cmd("SET k v3"), "+OK\r\n");
    assert_eq!(h.cmd("TTL k"), ":-1\r\n");
    assert_eq!(h.cmd("SET k v PXAT 1"), "+OK\r\n");
    assert_eq!(h.cmd("EXISTS k"), ":0\r\n");
    assert_eq!(h.cmd("SETNX n 1"), ":1\r\n");
    assert_eq!(h.cmd("SETNX n 2"), ":0\r\n");
    assert_eq!(h.cmd("GETSET n 3"), "$1\r\n1\r\n");
    assert_eq!(h.cmd("GETDEL n"), "$1\r\n3\r\n");
    assert_eq!(h.cmd("GETDEL n"), "$-1\r\n");
    assert_eq!(h.cmd("SETEX s 0 v"), "-ERR invalid expire time in 'setex' command\r\n");
    assert_eq!(h.cmd("PSETEX s 1000000 v"), "+OK\r\n");
    assert_eq!(h.cmd("GETEX s PERSIST"), "$1\r\nv\r\n");
    assert_eq!(h.cmd("TTL s"), ":-1\r\n");
    assert_eq!(h.cmd("GETEX s EX 50"), "$1\r\nv\r\n");
    assert_eq!(h.cmd("TTL s"), ":50\r\n");
    assert_eq!(h.cmd("GETEX s PERSIST EX 5"), "-ERR syntax error\r\n");
    assert_eq!(h.cmd("SET"), "-ERR wrong number of arguments for 'set' command\r\n");
}

#[test]
fn counters() {
    let mut h = h();
    assert_eq!(h.cmd("INCR c"), ":1\r\n");
    assert_eq!(h.cmd("INCRBY c 41"), ":42\r\n");
    assert_eq!(h.cmd("DECRBY c 50"), ":-8\r\n");
    assert_eq!(h.cmd("DECR c"), ":-9\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING c"), "$3\r\nint\r\n");
    assert_eq!(h.cmd("SET big 9223372036854775807"), "+OK\r\n");
    assert_eq!(h.cmd("INCR big"), "-ERR increment or decrement would overflow\r\n");
    assert_eq!(
        h.cmd("DECRBY c -9223372036854775808"),
        "-ERR decrement would overflow\r\n"
    );
    assert_eq!(h.cmd("INCRBY c x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(h.cmd("SET s abc"), "+OK\r\n");
    assert_eq!(h.cmd("INCR s"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(h.cmd("SET s \" 1\""), "+OK\r\n");
    assert_eq!(h.cmd("INCR s"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT f 10.5"), "$4\r\n10.5\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT f 0.1"), "$4\r\n10.6\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT f -10.6"), "$1\r\n0\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT f abc"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT s 1"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("SET f 0.1"), "+OK\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT f 0.2"), "$3\r\n0.3\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT f 0x10"), "$4\r\n16.3\r\n");
    assert_eq!(h.cmd("SET z 1"), "+OK\r\n");
    assert_eq!(h.cmd("SETRANGE z 2 2"), ":3\r\n");
    assert_eq!(h.cmd("INCRBYFLOAT z 1"), "-ERR value is not a valid float\r\n");
    assert_eq!(h.cmd("SET f 1e4932"), "+OK\r\n");
    assert_eq!(
        h.cmd("INCRBYFLOAT f 1e4932"),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
}

#[test]
fn ranges_append_and_encodings() {
    let mut h = h();
    assert_eq!(h.cmd("APPEND a hello"), ":5\r\n");
    assert_eq!(h.cmd("APPEND a \" world\""), ":11\r\n");
    assert_eq!(h.cmd("STRLEN a"), ":11\r\n");
    assert_eq!(h.cmd("STRLEN none"), ":0\r\n");
    assert_eq!(h.cmd("GETRANGE a 0 4"), "$5\r\nhello\r\n");
    assert_eq!(h.cmd("GETRANGE a -5 -1"), "$5\r\nworld\r\n");
    assert_eq!(h.cmd("GETRANGE a 5 1"), "$0\r\n\r\n");
    assert_eq!(h.cmd("GETRANGE a -1 -5"), "$0\r\n\r\n");
    assert_eq!(h.cmd("GETRANGE none 0 -1"), "$0\r\n\r\n");
    assert_eq!(h.cmd("SUBSTR a 0 100"), "$11\r\nhello world\r\n");
    assert_eq!(h.cmd("SETRANGE a 6 WORLD"), ":11\r\n");
    assert_eq!(h.cmd("GET a"), "$11\r\nhello WORLD\r\n");
    assert_eq!(h.cmd("SETRANGE z 3 x"), ":4\r\n");
    assert_eq!(h.cmd("GET z"), "$4\r\n\u{0}\u{0}\u{0}x\r\n");
    assert_eq!(h.cmd("SETRANGE z -1 x"), "-ERR offset is out of range\r\n");
    assert_eq!(
        h.cmd("SETRANGE z 536870911 xx"),
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    assert_eq!(h.cmd("OBJECT ENCODING a"), "$3\r\nraw\r\n");
    assert_eq!(h.cmd("SET e short"), "+OK\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING e"), "$6\r\nembstr\r\n");
    assert_eq!(h.cmd("SET i 12345"), "+OK\r\n");
    assert_eq!(h.cmd("APPEND i 6"), ":6\r\n");
    assert_eq!(h.cmd("GET i"), "$6\r\n123456\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING none"), "$-1\r\n");
    assert_eq!(
        h.cmd("OBJECT FOO k"),
        "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"
    );
}

#[test]
fn lcs() {
    let mut h = h();
    h.cmd("MSET key1 ohmytext key2 mynewtext");
    assert_eq!(h.cmd("LCS key1 key2"), "$6\r\nmytext\r\n");
    assert_eq!(h.cmd("LCS key1 key2 LEN"), ":6\r\n");
    assert_eq!(
        h.cmd("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN"),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        h.cmd("LCS key1 key2 IDX"),
        "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        h.cmd("LCS key1 key2 LEN IDX"),
        "-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
}

#[test]
fn keys_and_expiry() {
    let mut h = h();
    assert_eq!(h.cmd("MSET a 1 b 2 c 3"), "+OK\r\n");
    assert_eq!(
        h.cmd("MSET a 1 b"),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(h.cmd("EXISTS a a x"), ":2\r\n");
    assert_eq!(h.cmd("DEL a x"), ":1\r\n");
    assert_eq!(h.cmd("TYPE b"), "+string\r\n");
    assert_eq!(h.cmd("TYPE a"), "+none\r\n");
    assert_eq!(h.cmd("EXPIRE b 100 XX"), ":0\r\n");
    assert_eq!(h.cmd("EXPIRE b 100 NX"), ":1\r\n");
    assert_eq!(h.cmd("EXPIRE b 50 GT"), ":0\r\n");
    assert_eq!(h.cmd("EXPIRE b 50 LT"), ":1\r\n");
    assert_eq!(h.cmd("TTL b"), ":50\r\n");
    assert_eq!(
        h.cmd("EXPIRE b 50 NX GT"),
        "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        h.cmd("EXPIRE b 50 GT LT"),
        "-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_eq!(h.cmd("EXPIRE b 50 FOO"), "-ERR Unsupported option FOO\r\n");
    assert_eq!(
        h.cmd("EXPIRE b 9223372036854775807"),
        "-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_eq!(h.cmd("EXPIREAT c 4102444800"), ":1\r\n");
    assert_eq!(h.cmd("EXPIRETIME c"), ":4102444800\r\n");
    assert_eq!(h.cmd("PEXPIRETIME c"), ":4102444800000\r\n");
    assert_eq!(h.cmd("PERSIST c"), ":1\r\n");
    assert_eq!(h.cmd("PERSIST c"), ":0\r\n");
    assert_eq!(h.cmd("TTL nokey"), ":-2\r\n");
    assert_eq!(h.cmd("EXPIRE c -1"), ":1\r\n");
    assert_eq!(h.cmd("EXISTS c"), ":0\r\n");
    assert_eq!(h.cmd("PEXPIRE b 100000 GT"), ":1\r\n");
    assert_eq!(h.cmd("DBSIZE"), ":1\r\n");
}

#[test]
fn rename_copy_move_swapdb() {
    let mut h = h();
    assert_eq!(h.cmd("RENAME none x"), "-ERR no such key\r\n");
    h.cmd("SET a 1");
    h.cmd("EXPIRE a 100");
    assert_eq!(h.cmd("RENAME a b"), "+OK\r\n");
    assert_eq!(h.cmd("TTL b"), ":100\r\n");
    assert_eq!(h.cmd("RENAME b b"), "+OK\r\n");
    h.cmd("SET c 3");
    assert_eq!(h.cmd("RENAMENX b c"), ":0\r\n");
    assert_eq!(h.cmd("COPY b c"), ":0\r\n");
    assert_eq!(h.cmd("COPY b c REPLACE"), ":1\r\n");
    assert_eq!(h.cmd("GET c"), "$1\r\n1\r\n");
    assert_eq!(
        h.cmd("COPY b b"),
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(h.cmd("COPY b d DB 1"), ":1\r\n");
    assert_eq!(h.cmd("COPY b d DB 99"), "-ERR DB index is out of range\r\n");
    assert_eq!(h.cmd("MOVE c 1"), ":1\r\n");
    assert_eq!(
        h.cmd("MOVE b 0"),
        "-ERR source and destination objects are the same\r\n"
    );
    assert_eq!(h.cmd("SELECT 1"), "+OK\r\n");
    assert_eq!(h.cmd("DBSIZE"), ":2\r\n");
    assert_eq!(h.cmd("SELECT 16"), "-ERR DB index is out of range\r\n");
    assert_eq!(h.cmd("SWAPDB 0 1"), "+OK\r\n");
    assert_eq!(h.cmd("DBSIZE"), ":1\r\n");
    assert_eq!(h.cmd("SWAPDB 0 x"), "-ERR invalid second DB index\r\n");
    assert_eq!(h.cmd("FLUSHALL"), "+OK\r\n");
    assert_eq!(h.cmd("DBSIZE"), ":0\r\n");
}

#[test]
fn scan_and_keys() {
    let mut h = h();
    for i in 0..100 {
        h.cmd(&format!("SET key:{i} v"));
    }
    h.cmd("SET other v");
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let r = h.run(&[b"SCAN", cursor.as_bytes(), b"MATCH", b"key:*", b"COUNT", b"7"]);
        let text = String::from_utf8(r).unwrap();
        let lines: Vec<&str> = text.split("\r\n").collect();
        cursor = lines[2].to_string();
        for l in lines.iter().skip(5).step_by(2) {
            if !l.is_empty() {
                seen.insert(l.to_string());
            }
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 100);
    assert!(seen.iter().all(|k| k.starts_with("key:")));
    assert_eq!(h.cmd("KEYS oth*"), "*1\r\n$5\r\nother\r\n");
    assert_eq!(h.cmd("SCAN x"), "-ERR invalid cursor\r\n");
    assert_eq!(h.cmd("SCAN 0 COUNT 0"), "-ERR syntax error\r\n");
}

#[test]
fn connection_commands() {
    let mut h = h();
    assert_eq!(h.cmd("PING"), "+PONG\r\n");
    assert_eq!(h.cmd("PING hi"), "$2\r\nhi\r\n");
    assert_eq!(
        h.cmd("PING a b"),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(h.cmd("ECHO x"), "$1\r\nx\r\n");
    assert_eq!(h.cmd("CLIENT SETNAME my-app"), "+OK\r\n");
    assert_eq!(h.cmd("CLIENT GETNAME"), "$6\r\nmy-app\r\n");
    assert_eq!(
        h.cmd("CLIENT SETNAME \"a b\""),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        h.cmd("CLIENT ID x"),
        "-ERR wrong number of arguments for 'client|id' command\r\n"
    );
    assert_eq!(
        h.cmd("CLIENT FOO"),
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(h.cmd("HELLO 4"), "-NOPROTO unsupported protocol version\r\n");
    assert!(h.cmd("HELLO 3").starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"));
    assert_eq!(h.cmd("GET nothing"), "_\r\n");
    assert_eq!(h.cmd("CONFIG GET hz"), "%1\r\n$2\r\nhz\r\n$2\r\n10\r\n");
    assert_eq!(h.cmd("HELLO 2 SETNAME x"), h.cmd("HELLO 2 SETNAME x"));
    assert_eq!(h.cmd("GET nothing"), "$-1\r\n");
    assert_eq!(h.cmd("RESET"), "+RESET\r\n");
    assert_eq!(h.cmd("QUIT"), "+OK\r\n");
    assert!(h.closing());
}

#[test]
fn unknown_commands_and_errorstats() {
    let mut h = h();
    assert_eq!(
        h.cmd("FOO a b"),
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(h.cmd("GET"), "-ERR wrong number of arguments for 'get' command\r\n");
    let info = h.cmd("INFO errorstats");
    assert!(info.contains("errorstat_ERR:count=2"), "{info}");
    let stats = h.cmd("INFO commandstats");
    assert!(stats.contains("cmdstat_get:calls=0,"), "{stats}");
    assert!(stats.contains("rejected_calls=1"), "{stats}");
}

#[test]
fn auth_and_requirepass() {
    let mut cfg = spindle::config::Config::default();
    cfg.requirepass = Some("secret".into());
    let mut h = Harness::with_config(cfg);
    assert_eq!(h.cmd("GET k"), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        h.cmd("AUTH wrong"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(h.cmd("AUTH secret"), "+OK\r\n");
    assert_eq!(h.cmd("GET k"), "$-1\r\n");
    let mut h2 = Harness::new();
    assert_eq!(
        h2.cmd("AUTH x"),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
}

#[test]
fn command_introspection() {
    let mut h = h();
    let n = spindle::command::TABLE.len();
    assert_eq!(h.cmd("COMMAND COUNT"), format!(":{n}\r\n"));
    assert_eq!(h.cmd("COMMAND GETKEYS MSET a 1 b 2"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    assert_eq!(
        h.cmd("COMMAND GETKEYS PING"),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(h.cmd("COMMAND GETKEYS FOO x"), "-ERR Invalid command specified\r\n");
    let info = h.cmd("COMMAND INFO get");
    assert!(
        info.starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"),
        "{info}"
    );
}

#[test]
fn review_regressions() {
    let mut h = h();
    assert_eq!(h.cmd("DEBUG SLEEP inf"), "+OK\r\n");
    assert_eq!(h.cmd("DEBUG SLEEP -5"), "+OK\r\n");
    assert_eq!(
        h.cmd("DEBUG FOO"),
        "-ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.\r\n"
    );
    assert_eq!(h.cmd("APPEND n 123"), ":3\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING n"), "$3\r\nint\r\n");
    assert_eq!(h.cmd("APPEND s abc"), ":3\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING s"), "$6\r\nembstr\r\n");
    assert_eq!(h.cmd("PEXPIREAT n 9223372036854775807"), ":1\r\n");
    assert_eq!(h.cmd("EXPIRETIME n"), ":9223372036854776\r\n");
    assert_eq!(
        h.cmd("SELECT 2147483648"),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        h.cmd("MOVE n 2147483648"),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(
        h.cmd("CLIENT KILL MAXAGE 0"),
        "-ERR maxage should be greater than 0\r\n"
    );
    assert_eq!(h.cmd("CLIENT KILL USER nosuch"), "-ERR No such user 'nosuch'\r\n");
    assert_eq!(h.cmd("CLIENT LIST ID 0"), "$0\r\n\r\n");
    assert_eq!(h.cmd("COMMAND INFO nosuch"), "*1\r\n$-1\r\n");
    assert_eq!(h.cmd("CONFIG GET maxmemory"), "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
    let big = "a".repeat(12_000);
    h.cmd(&format!("SET l1 {big}"));
    h.cmd(&format!("SET l2 {big}"));
    assert_eq!(
        h.cmd("LCS l1 l2 LEN"),
        "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
    );
}

#[test]
fn keyspace_hits_and_misses() {
    let mut h = h();
    h.cmd("GET nothing");
    h.cmd("SET k v");
    h.cmd("GET k");
    h.cmd("MGET k nothing");
    let stats = h.cmd("INFO stats");
    assert!(stats.contains("keyspace_hits:2\r\n"), "{stats}");
    assert!(stats.contains("keyspace_misses:2\r\n"), "{stats}");
}
