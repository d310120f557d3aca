//! Ring 2 for the bitmap and HyperLogLog families: commands run in-process
//! through the real dispatch path; replies compared byte for byte with what
//! Redis 7.4 sends.

use spindle::server::harness::Harness;

fn h() -> Harness {
    Harness::new()
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const NOT_HLL: &str = "-WRONGTYPE Key is not a valid HyperLogLog string value.\r\n";
const INVALID_HLL: &str = "-INVALIDOBJ Corrupted HLL object detected\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const BF_TYPE: &str =
    "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";
const BF_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";

/// The raw bytes of a bulk reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    let len: usize = std::str::from_utf8(&reply[1..nl - 1]).unwrap().parse().unwrap();
    reply[nl + 1..nl + 1 + len].to_vec()
}

fn get(h: &mut Harness, key: &str) -> Vec<u8> {
    bulk(&h.run(&[b"GET", key.as_bytes()]))
}

#[test]
fn bitcount_ranges_in_bytes_and_bits() {
    let mut h = h();
    assert_eq!(h.cmd("SET s foobar"), "+OK\r\n");
    assert_eq!(h.cmd("BITCOUNT s"), ":26\r\n");
    assert_eq!(h.cmd("BITCOUNT s 0 0"), ":4\r\n");
    assert_eq!(h.cmd("BITCOUNT s 1 1"), ":6\r\n");
    assert_eq!(h.cmd("BITCOUNT s 1 1 BYTE"), ":6\r\n");
    assert_eq!(h.cmd("BITCOUNT s 5 30 BIT"), ":17\r\n");
    assert_eq!(h.cmd("BITCOUNT s 5 30 bit"), ":17\r\n");
    assert_eq!(h.cmd("BITCOUNT s 3 3 BIT"), ":0\r\n");
    assert_eq!(h.cmd("BITCOUNT s -2 -1"), ":7\r\n");
    assert_eq!(h.cmd("BITCOUNT s -1 -2"), ":0\r\n");
    assert_eq!(h.cmd("BITCOUNT s -100 100"), ":26\r\n");
    assert_eq!(h.cmd("BITCOUNT s 10 20"), ":0\r\n");
    assert_eq!(
        h.cmd("BITCOUNT s -9223372036854775808 9223372036854775807 BIT"),
        ":26\r\n"
    );
    assert_eq!(h.cmd("BITCOUNT nosuch"), ":0\r\n");
    assert_eq!(h.cmd("BITCOUNT nosuch 0 -1 BIT"), ":0\r\n");
    // Redis 7.4 checks the arguments before looking the key up.
    assert_eq!(h.cmd("BITCOUNT nosuch a 1"), NOT_INT);
    assert_eq!(h.cmd("BITCOUNT nosuch 1"), SYNTAX);
    assert_eq!(h.cmd("BITCOUNT s 1 a"), NOT_INT);
    assert_eq!(h.cmd("BITCOUNT s 1 2 bits"), SYNTAX);
    assert_eq!(h.cmd("BITCOUNT s 1 2 BIT x"), SYNTAX);
    assert_eq!(
        h.cmd("BITCOUNT"),
        "-ERR wrong number of arguments for 'bitcount' command\r\n"
    );
    assert_eq!(h.cmd("SET n 12345"), "+OK\r\n");
    assert_eq!(h.cmd("BITCOUNT n"), ":17\r\n");
    assert_eq!(h.cmd("SET e \"\""), "+OK\r\n");
    assert_eq!(h.cmd("BITCOUNT e 0 -1"), ":0\r\n");
    // Long strings take the eight-bytes-at-a-time path.
    let big = [vec![0xffu8; 1000], vec![0x0f; 1001]].concat();
    assert_eq!(h.run(&[b"SET", b"big", &big]), b"+OK\r\n");
    assert_eq!(h.cmd("BITCOUNT big"), ":12004\r\n");
    assert_eq!(h.cmd("BITCOUNT big 3 1500"), ":9980\r\n");
    assert_eq!(h.cmd("BITCOUNT big 13 8010 BIT"), ":7991\r\n");
}

#[test]
fn bitpos_special_cases() {
    let mut h = h();
    h.cmd("SET s foobar");
    assert_eq!(h.cmd("BITPOS s 1"), ":1\r\n");
    assert_eq!(h.cmd("BITPOS s 0"), ":0\r\n");
    assert_eq!(h.cmd("BITPOS s 1 7 15 BIT"), ":9\r\n");
    assert_eq!(h.cmd("BITPOS s 1 100"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS s 1 3 2"), ":-1\r\n");
    // All ones: a clear bit is found past the end unless an end was given.
    assert_eq!(h.run(&[b"SET", b"f", b"\xff\xff\xff"]), b"+OK\r\n");
    assert_eq!(h.cmd("BITPOS f 0"), ":24\r\n");
    assert_eq!(h.cmd("BITPOS f 0 1"), ":24\r\n");
    assert_eq!(h.cmd("BITPOS f 0 1 2"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS f 0 1 -1 BIT"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS f 0 0 -1 BYTE"), ":-1\r\n");
    assert_eq!(h.run(&[b"SET", b"z", b"\x00\x00\x00"]), b"+OK\r\n");
    assert_eq!(h.cmd("BITPOS z 1"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS z 0"), ":0\r\n");
    assert_eq!(h.cmd("BITPOS z 0 5 6 BIT"), ":5\r\n");
    assert_eq!(h.run(&[b"SET", b"m", b"\xf0\x0f\x00\x80"]), b"+OK\r\n");
    assert_eq!(h.cmd("BITPOS m 0 0 3 BIT"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS m 1 4 11 BIT"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS m 1 5 31 bit"), ":12\r\n");
    assert_eq!(h.cmd("BITPOS m 0 12 23 BIT"), ":16\r\n");
    let long = [vec![0u8; 100], vec![1]].concat();
    h.run(&[b"SET", b"long", &long]);
    assert_eq!(h.cmd("BITPOS long 1"), ":807\r\n");
    assert_eq!(h.cmd("BITPOS long 1 0 806 BIT"), ":-1\r\n");
    // Missing keys are all zeros; an empty string holds no bit at all.
    assert_eq!(h.cmd("BITPOS nosuch 0"), ":0\r\n");
    assert_eq!(h.cmd("BITPOS nosuch 1"), ":-1\r\n");
    h.cmd("SET e \"\"");
    assert_eq!(h.cmd("BITPOS e 0"), ":-1\r\n");
    assert_eq!(h.cmd("BITPOS s 2"), "-ERR The bit argument must be 1 or 0.\r\n");
    assert_eq!(h.cmd("BITPOS s x"), NOT_INT);
    assert_eq!(h.cmd("BITPOS s 1 a"), NOT_INT);
    assert_eq!(h.cmd("BITPOS s 1 0 x bit"), NOT_INT);
    assert_eq!(h.cmd("BITPOS s 1 0 1 xx"), SYNTAX);
    assert_eq!(h.cmd("BITPOS nosuch 1 0 1 xx"), SYNTAX);
    assert_eq!(h.cmd("BITPOS s 1 1 2 3 4"), SYNTAX);
}

#[test]
fn bitop_operations_and_destination() {
    let mut h = h();
    h.run(&[b"SET", b"a", b"\xff\x0f\xaa"]);
    h.run(&[b"SET", b"b", b"\x0f"]);
    assert_eq!(h.cmd("BITOP AND d a b"), ":3\r\n");
    assert_eq!(get(&mut h, "d"), b"\x0f\x00\x00");
    assert_eq!(h.cmd("OBJECT ENCODING d"), "$3\r\nraw\r\n");
    assert_eq!(h.cmd("BITOP or d a b"), ":3\r\n");
    assert_eq!(get(&mut h, "d"), b"\xff\x0f\xaa");
    assert_eq!(h.cmd("BITOP XOR d a b nosuch"), ":3\r\n");
    assert_eq!(get(&mut h, "d"), b"\xf0\x0f\xaa");
    assert_eq!(h.cmd("BITOP NOT d a"), ":3\r\n");
    assert_eq!(get(&mut h, "d"), b"\x00\xf0\x55");
    // The destination loses its TTL; an empty result deletes it.
    h.cmd("EXPIRE d 100");
    assert_eq!(h.cmd("BITOP AND d a"), ":3\r\n");
    assert_eq!(h.cmd("TTL d"), ":-1\r\n");
    assert_eq!(h.cmd("BITOP OR d nosuch1 nosuch2"), ":0\r\n");
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
    // A source may be the destination.
    assert_eq!(h.cmd("BITOP AND a a b"), ":3\r\n");
    assert_eq!(get(&mut h, "a"), b"\x0f\x00\x00");
    assert_eq!(h.cmd("BITOP nop d a"), SYNTAX);
    assert_eq!(
        h.cmd("BITOP NOT d a b"),
        "-ERR BITOP NOT must be called with a single source key.\r\n"
    );
    assert_eq!(
        h.cmd("BITOP AND d"),
        "-ERR wrong number of arguments for 'bitop' command\r\n"
    );
}

#[test]
fn bitfield_get_set_incrby() {
    let mut h = h();
    assert_eq!(
        h.cmd("BITFIELD bf SET i8 0 -100 GET i8 0 SET u8 8 255 GET u8 8"),
        "*4\r\n:0\r\n:-100\r\n:0\r\n:255\r\n"
    );
    assert_eq!(get(&mut h, "bf"), b"\x9c\xff");
    assert_eq!(h.cmd("OBJECT ENCODING bf"), "$3\r\nraw\r\n");
    assert_eq!(
        h.cmd("BITFIELD bf GET u4 0 GET i4 4 GET u16 0 GET i3 13 GET u8 100"),
        "*5\r\n:9\r\n:-4\r\n:40191\r\n:-1\r\n:0\r\n"
    );
    // `#n` offsets are multiples of the width.
    assert_eq!(h.cmd("BITFIELD bf SET u8 #2 200 GET u8 16"), "*2\r\n:0\r\n:200\r\n");
    assert_eq!(
        h.cmd("BITFIELD bf OVERFLOW WRAP INCRBY u8 0 300 OVERFLOW SAT INCRBY u8 8 300 OVERFLOW FAIL INCRBY u8 16 300"),
        "*3\r\n:200\r\n:255\r\n$-1\r\n"
    );
    assert_eq!(
        h.cmd("BITFIELD bf OVERFLOW SAT SET u8 0 -1 OVERFLOW FAIL SET u8 16 -1 OVERFLOW SAT SET i8 24 -1000"),
        "*3\r\n:200\r\n$-1\r\n:0\r\n"
    );
    assert_eq!(get(&mut h, "bf"), b"\xff\xff\xc8\x80");
    assert_eq!(
        h.cmd("BITFIELD s64 INCRBY i64 0 9223372036854775807 INCRBY i64 0 1 OVERFLOW SAT INCRBY i64 0 -1 INCRBY i64 0 -9223372036854775808"),
        "*4\r\n:9223372036854775807\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n"
    );
    assert_eq!(
        h.cmd("BITFIELD u63 INCRBY u63 0 9223372036854775807 INCRBY u63 0 1 OVERFLOW SAT INCRBY u63 0 -9223372036854775808"),
        "*3\r\n:9223372036854775807\r\n:0\r\n:0\r\n"
    );
    // A FAIL still creates (and zero-pads) the key.
    assert_eq!(h.cmd("BITFIELD fail OVERFLOW FAIL INCRBY u2 100 10"), "*1\r\n$-1\r\n");
    assert_eq!(get(&mut h, "fail"), vec![0u8; 13]);
    // Reads only: a missing key is zeros and stays missing.
    assert_eq!(h.cmd("BITFIELD nosuch GET u8 0"), "*1\r\n:0\r\n");
    assert_eq!(h.cmd("EXISTS nosuch"), ":0\r\n");
    assert_eq!(h.cmd("BITFIELD nosuch"), "*0\r\n");
    // Int-encoded strings read as their digits, become raw when written.
    h.cmd("SET n 12");
    assert_eq!(h.cmd("BITFIELD n GET u8 0 GET u8 8"), "*2\r\n:49\r\n:50\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING n"), "$3\r\nint\r\n");
    assert_eq!(h.cmd("BITFIELD n SET u8 0 51"), "*1\r\n:49\r\n");
    assert_eq!(h.cmd("GET n"), "$2\r\n32\r\n");
    assert_eq!(h.cmd("OBJECT ENCODING n"), "$3\r\nraw\r\n");
}

#[test]
fn bitfield_errors_and_ro() {
    let mut h = h();
    h.cmd("SET bf ab");
    assert_eq!(h.cmd("BITFIELD bf GET u64 0"), BF_TYPE);
    assert_eq!(h.cmd("BITFIELD bf GET i65 0"), BF_TYPE);
    assert_eq!(h.cmd("BITFIELD bf GET i0 0"), BF_TYPE);
    assert_eq!(h.cmd("BITFIELD bf GET U8 0"), BF_TYPE);
    assert_eq!(h.cmd("BITFIELD bf GET i8 -1"), BF_OFFSET);
    assert_eq!(h.cmd("BITFIELD bf GET i8 #-1"), BF_OFFSET);
    assert_eq!(h.cmd("BITFIELD bf GET i8 #"), BF_OFFSET);
    assert_eq!(h.cmd("BITFIELD bf GET i8 4294967296"), BF_OFFSET);
    assert_eq!(h.cmd("BITFIELD bf GET i8 #536870912"), BF_OFFSET);
    assert_eq!(h.cmd("BITFIELD bf GET i8 4294967295"), "*1\r\n:0\r\n");
    assert_eq!(h.cmd("BITFIELD bf GET i8"), SYNTAX);
    assert_eq!(h.cmd("BITFIELD bf FOO i8 0"), SYNTAX);
    assert_eq!(h.cmd("BITFIELD bf OVERFLOW"), SYNTAX);
    assert_eq!(
        h.cmd("BITFIELD bf OVERFLOW x"),
        "-ERR Invalid OVERFLOW type specified\r\n"
    );
    assert_eq!(h.cmd("BITFIELD bf SET i8 0 x"), NOT_INT);
    // A bad operation anywhere means nothing runs.
    assert_eq!(h.cmd("BITFIELD bf SET u8 0 1 SET x8 0 1"), BF_TYPE);
    assert_eq!(h.cmd("GET bf"), "$2\r\nab\r\n");
    assert_eq!(h.cmd("BITFIELD_RO bf GET u8 0 GET i8 #1"), "*2\r\n:97\r\n:98\r\n");
    assert_eq!(h.cmd("BITFIELD_RO bf"), "*0\r\n");
    assert_eq!(h.cmd("BITFIELD_RO bf GET u8 0 OVERFLOW SAT"), "*1\r\n:97\r\n");
    assert_eq!(
        h.cmd("BITFIELD_RO bf SET i8 0 1"),
        "-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    );
    assert_eq!(h.cmd("BITFIELD_RO bf GET i65 0"), BF_TYPE);
    // RESP3: FAIL answers a null.
    h.cmd("HELLO 3");
    assert_eq!(
        h.cmd("BITFIELD bf OVERFLOW FAIL INCRBY u2 0 10 GET u2 0"),
        "*2\r\n_\r\n:1\r\n"
    );
}

#[test]
fn wrong_type_everywhere() {
    let mut h = h();
    assert_eq!(h.cmd("LPUSH l x"), ":1\r\n");
    for c in [
        "BITCOUNT l",
        "BITCOUNT l 0 1",
        "BITPOS l 1",
        "BITPOS l 0 1 2 BIT",
        "BITOP AND d l",
        "BITFIELD l GET u8 0",
        "BITFIELD l SET u8 0 1",
        "BITFIELD_RO l GET u8 0",
        "PFADD l a",
        "PFCOUNT l",
        "PFCOUNT l nosuch",
        "PFMERGE l",
        "PFMERGE d l",
    ] {
        assert_eq!(h.cmd(c), WRONGTYPE, "{c}");
    }
    assert_eq!(h.cmd("EXISTS d"), ":0\r\n");
}

/// An empty HLL: sparse, one XZERO opcode for all 16384 registers.
const EMPTY_HLL: &[u8] = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff";

#[test]
fn pfadd_pfcount_representation() {
    let mut h = h();
    assert_eq!(h.cmd("PFADD hll"), ":1\r\n");
    assert_eq!(get(&mut h, "hll"), EMPTY_HLL);
    assert_eq!(h.cmd("OBJECT ENCODING hll"), "$3\r\nraw\r\n");
    assert_eq!(h.cmd("PFADD hll"), ":0\r\n");
    // PFCOUNT caches the cardinality in the header (flag bit cleared).
    assert_eq!(h.cmd("PFCOUNT hll"), ":0\r\n");
    assert_eq!(get(&mut h, "hll")[8..16], [0u8; 8]);
    assert_eq!(h.cmd("PFADD hll a b c"), ":1\r\n");
    assert_eq!(h.cmd("PFADD hll a b c"), ":0\r\n");
    assert_eq!(get(&mut h, "hll")[15], 0x80);
    assert_eq!(h.cmd("PFCOUNT hll"), ":3\r\n");
    assert_eq!(get(&mut h, "hll")[8..16], [3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(h.cmd("PFADD hll \"\""), ":1\r\n");
    assert_eq!(h.cmd("PFCOUNT hll"), ":4\r\n");
    assert_eq!(h.cmd("PFCOUNT nosuch"), ":0\r\n");
    assert_eq!(h.cmd("PFDEBUG ENCODING hll"), "+sparse\r\n");
    // Past hll-sparse-max-bytes (3000) the HLL turns dense: 12304 bytes.
    let many: Vec<String> = (0..5000).map(|i| format!("e{i}")).collect();
    let mut argv: Vec<&[u8]> = vec![b"PFADD", b"hll"];
    argv.extend(many.iter().map(|s| s.as_bytes()));
    assert_eq!(h.run(&argv), b":1\r\n");
    assert_eq!(h.cmd("PFDEBUG ENCODING hll"), "+dense\r\n");
    assert_eq!(h.cmd("STRLEN hll"), ":12304\r\n");
    let card: i64 = h.cmd("PFCOUNT hll")[1..].trim().parse().unwrap();
    assert!((4850..5150).contains(&card), "{card}");
    // A smaller limit promotes earlier.
    assert_eq!(h.cmd("CONFIG SET hll-sparse-max-bytes 30"), "+OK\r\n");
    assert_eq!(h.cmd("PFADD small a b c d e f g h i j k l m n o p"), ":1\r\n");
    assert_eq!(h.cmd("PFDEBUG ENCODING small"), "+dense\r\n");
}

#[test]
fn pfcount_union_and_pfmerge() {
    let mut h = h();
    h.cmd("PFADD h1 a b c d");
    h.cmd("PFADD h2 c d e f");
    assert_eq!(h.cmd("PFCOUNT h1 h2"), ":6\r\n");
    assert_eq!(h.cmd("PFCOUNT h1 h2 nosuch"), ":6\r\n");
    // The union changes nothing: the caches stay stale.
    assert_eq!(get(&mut h, "h1")[15], 0x80);
    assert_eq!(h.cmd("PFMERGE h3 h1 h2"), "+OK\r\n");
    assert_eq!(h.cmd("PFCOUNT h3"), ":6\r\n");
    assert_eq!(h.cmd("PFMERGE h1 h2"), "+OK\r\n");
    assert_eq!(h.cmd("PFCOUNT h1"), ":6\r\n");
    assert_eq!(h.cmd("PFMERGE empty"), "+OK\r\n");
    assert_eq!(get(&mut h, "empty"), EMPTY_HLL);
    assert_eq!(h.cmd("PFMERGE empty2 nosuch"), "+OK\r\n");
    assert_eq!(h.cmd("PFCOUNT empty2"), ":0\r\n");
    // A dense input makes the target dense.
    h.cmd("PFADD d x");
    assert_eq!(h.cmd("PFDEBUG TODENSE d"), ":1\r\n");
    assert_eq!(h.cmd("PFDEBUG TODENSE d"), ":0\r\n");
    assert_eq!(h.cmd("PFMERGE h4 h3 d"), "+OK\r\n");
    assert_eq!(h.cmd("PFDEBUG ENCODING h4"), "+dense\r\n");
    assert_eq!(h.cmd("PFCOUNT h4"), ":7\r\n");
}

#[test]
fn hll_errors_and_debug() {
    let mut h = h();
    h.cmd("SET s hello");
    assert_eq!(h.cmd("PFADD s a"), NOT_HLL);
    assert_eq!(h.cmd("PFCOUNT s"), NOT_HLL);
    assert_eq!(h.cmd("PFCOUNT s nosuch"), NOT_HLL);
    assert_eq!(h.cmd("PFMERGE s"), NOT_HLL);
    h.cmd("SET i 1234567890123456789");
    assert_eq!(h.cmd("PFCOUNT i"), NOT_HLL);
    // A dense header with the wrong length, an unknown encoding.
    let mut dense = EMPTY_HLL.to_vec();
    dense[4] = 0;
    h.run(&[b"SET", b"bad", &dense]);
    assert_eq!(h.cmd("PFCOUNT bad"), NOT_HLL);
    let mut enc = EMPTY_HLL.to_vec();
    enc[4] = 2;
    h.run(&[b"SET", b"bad", &enc]);
    assert_eq!(h.cmd("PFADD bad x"), NOT_HLL);
    // Sparse opcodes that cover more than 16384 registers.
    let tail = [EMPTY_HLL, b"\x00"].concat();
    h.run(&[b"SET", b"corrupt", &tail]);
    assert_eq!(h.cmd("PFCOUNT corrupt"), INVALID_HLL);
    assert_eq!(h.cmd("PFCOUNT corrupt nosuch"), INVALID_HLL);
    assert_eq!(h.cmd("PFMERGE m corrupt"), INVALID_HLL);
    assert_eq!(h.cmd("EXISTS m"), ":0\r\n");
    assert_eq!(h.cmd("PFDEBUG GETREG corrupt"), INVALID_HLL);
    // A valid cached value is trusted.
    let mut cached = EMPTY_HLL.to_vec();
    cached[8] = 7;
    cached[15] = 0;
    h.run(&[b"SET", b"c", &cached]);
    assert_eq!(h.cmd("PFCOUNT c"), ":7\r\n");
    h.cmd("PFADD h a");
    assert_eq!(h.cmd("PFDEBUG DECODE h"), "$20\r\nZ:12711 v:2,1 Z:3672\r\n");
    assert_eq!(
        h.cmd("PFDEBUG ENCODING nosuch"),
        "-ERR The specified key does not exist\r\n"
    );
    assert_eq!(h.cmd("PFDEBUG FOO h"), "-ERR Unknown PFDEBUG subcommand 'FOO'\r\n");
    assert!(h.cmd("PFDEBUG GETREG h").starts_with("*16384\r\n:0\r\n"));
    assert_eq!(h.cmd("PFDEBUG ENCODING h"), "+dense\r\n");
    assert_eq!(h.cmd("PFDEBUG DECODE h"), "-ERR HLL encoding is not sparse\r\n");
    assert_eq!(h.cmd("PFSELFTEST"), "+OK\r\n");
    assert_eq!(h.cmd("PFADD"), "-ERR wrong number of arguments for 'pfadd' command\r\n");
}

/// keyspace_hits / keyspace_misses of INFO stats.
fn hits_misses(h: &mut Harness) -> (u64, u64) {
    let info = h.cmd("INFO stats");
    let field = |name: &str| -> u64 {
        let at = info.find(name).unwrap() + name.len() + 1;
        info[at..].split("\r\n").next().unwrap().parse().unwrap()
    };
    (field("keyspace_hits"), field("keyspace_misses"))
}

#[test]
fn reads_count_keyspace_hits_and_misses_like_redis() {
    let mut h = h();
    h.cmd("SET s x");
    h.cmd("PFADD hll x");
    let (hits, misses) = hits_misses(&mut h);
    for c in [
        "BITOP AND d s nosuch",  // reads: 1 hit, 1 miss
        "BITCOUNT s",            // 1 hit
        "BITPOS nosuch 1",       // 1 miss
        "BITFIELD s GET u8 0",   // 1 hit
        "BITFIELD s SET u8 0 1", // a write: none
        "GETBIT nosuch 1",       // 1 miss
        "SETBIT s 1 1",          // a write: none
        "PFCOUNT hll nosuch",    // 1 hit, 1 miss
        "PFMERGE m hll",         // m read as a source (miss), hll (hit)
        "PFADD hll y",           // a write: none
    ] {
        h.cmd(c);
    }
    assert_eq!(hits_misses(&mut h), (hits + 5, misses + 5));
}

#[test]
fn corrupted_hlls_never_crash() {
    // Like the Tcl suite's fuzzer: corrupt random bytes of sparse and dense
    // HLLs; every command must answer a value or one of the two errors.
    let mut h = h();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for round in 0..150 {
        h.cmd("DEL hll");
        let n = [0, 5, 50, 500, 3000][round % 5];
        let items: Vec<String> = (0..n).map(|i| format!("{round}-{i}")).collect();
        let mut argv: Vec<&[u8]> = vec![b"PFADD", b"hll"];
        argv.extend(items.iter().map(|s| s.as_bytes()));
        h.run(&argv);
        let len: u64 = h.cmd("STRLEN hll")[1..].trim().parse().unwrap();
        for _ in 0..=rand(4) {
            let pos = if len > 16 && rand(2) == 0 {
                16 + rand(len - 16)
            } else {
                rand(len)
            };
            let byte = [rand(256) as u8];
            h.run(&[b"SETRANGE", b"hll", pos.to_string().as_bytes(), &byte]);
        }
        for c in [
            "PFCOUNT hll",
            "PFADD hll a b c d e f",
            "PFCOUNT hll nosuch",
            "PFMERGE dest hll",
            "PFDEBUG DECODE hll",
            "PFDEBUG GETREG hll",
            "PFCOUNT hll",
        ] {
            let r = h.cmd(c);
            assert!(
                r.starts_with(':')
                    || r.starts_with('+')
                    || r.starts_with('$')
                    || r.starts_with('*')
                    || r == INVALID_HLL
                    || r == NOT_HLL
                    || r == "-ERR HLL encoding is not sparse\r\n",
                "{c}: {r}"
            );
        }
    }
}
