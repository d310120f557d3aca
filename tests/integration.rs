//! Ring 3: the real binary on a free port, driven with the `redis` crate and
//! with raw RESP bytes.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{encode, keys_on_distinct_shards, Server};
use redis::Commands;

#[test]
fn redis_crate_basics() {
    let srv = Server::start(2);
    let mut c = srv.client();
    let _: () = c.set("greeting", "hello").unwrap();
    let v: String = c.get("greeting").unwrap();
    assert_eq!(v, "hello");
    let n: i64 = c.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let _: () = redis::cmd("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .arg("c")
        .arg("3")
        .query(&mut c)
        .unwrap();
    let vals: Vec<Option<String>> = c.get(&["a", "b", "c", "missing"]).unwrap();
    assert_eq!(vals, vec![Some("1".into()), Some("2".into()), Some("3".into()), None]);
    let ttl: i64 = {
        let _: () = c.set_ex("temp", "x", 100).unwrap();
        c.ttl("temp").unwrap()
    };
    assert_eq!(ttl, 100);
    let big = "x".repeat(1 << 20);
    let _: () = c.set("big", &big).unwrap();
    let back: String = c.get("big").unwrap();
    assert_eq!(back.len(), big.len());
}

#[test]
fn pipeline_of_many_commands_across_shards_keeps_order() {
    let srv = Server::start(4);
    let mut raw = srv.raw();
    let mut req = Vec::new();
    for i in 0..500 {
        req.extend(encode(&["SET", &format!("key:{i}"), &i.to_string()]));
        req.extend(encode(&["GET", &format!("key:{i}")]));
        if i % 50 == 0 {
            req.extend(encode(&["PING"]));
            req.extend(encode(&["MGET", "key:1", "key:2", "key:3"]));
        }
    }
    raw.send(&req);
    for i in 0..500 {
        assert_eq!(raw.reply_str(), "+OK\r\n");
        let v = i.to_string();
        assert_eq!(raw.reply_str(), format!("${}\r\n{}\r\n", v.len(), v));
        if i % 50 == 0 {
            assert_eq!(raw.reply_str(), "+PONG\r\n");
            let r = raw.reply_str();
            assert!(r.starts_with("*3\r\n"), "{r}");
        }
    }
    assert_eq!(raw.cmd(&["DBSIZE"]), ":500\r\n");
}

#[test]
fn partial_frames_byte_by_byte() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    let req = encode(&["SET", "slow", "value with spaces"]);
    for b in req.iter() {
        raw.send(&[*b]);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(raw.reply_str(), "+OK\r\n");
    // Two commands split at an awkward place.
    let two = [encode(&["GET", "slow"]), encode(&["STRLEN", "slow"])].concat();
    raw.send(&two[..7]);
    std::thread::sleep(Duration::from_millis(20));
    raw.send(&two[7..]);
    assert_eq!(raw.reply_str(), "$17\r\nvalue with spaces\r\n");
    assert_eq!(raw.reply_str(), ":17\r\n");
}

#[test]
fn inline_commands() {
    let srv = Server::start(1);
    let mut raw = srv.raw();
    raw.send(b"PING\r\n");
    assert_eq!(raw.reply_str(), "+PONG\r\n");
    raw.send(b"SET k \"a b\\x41\"\nGET k\r\n\r\nEXISTS k k\n");
    assert_eq!(raw.reply_str(), "+OK\r\n");
    assert_eq!(raw.reply_str(), "$4\r\na bA\r\n");
    assert_eq!(raw.reply_str(), ":2\r\n");
}

#[test]
fn protocol_errors_reply_then_close() {
    let srv = Server::start(1);
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
        (b"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n+foo\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"),
        (
            b"SET k \"unbalanced\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (b"*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length\r\n"),
    ];
    for (req, want) in cases {
        let mut raw = srv.raw();
        raw.send(b"PING\r\n");
        assert_eq!(raw.reply_str(), "+PONG\r\n");
        raw.send(req);
        assert_eq!(&raw.reply_str(), want);
        assert!(raw.closed(), "connection should close after {want}");
    }
    // A huge inline line without a newline.
    let mut raw = srv.raw();
    raw.send(&vec![b'a'; 70 * 1024]);
    assert_eq!(raw.reply_str(), "-ERR Protocol error: too big inline request\r\n");
    assert!(raw.closed());
}

#[test]
fn resp3_after_hello() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    let hello = raw.cmd(&["HELLO", "3"]);
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"));
    assert_eq!(raw.cmd(&["GET", "missing"]), "_\r\n");
    assert_eq!(
        raw.cmd(&["CONFIG", "GET", "maxclients"]),
        "%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    );
    // Remote-shard replies come back in RESP3 too.
    let keys = keys_on_distinct_shards("r3:", 2);
    for k in &keys {
        assert_eq!(raw.cmd(&["GET", k]), "_\r\n");
    }
    let info = raw.cmd(&["INFO", "server"]);
    assert!(info.starts_with('='), "verbatim string expected: {info}");
    assert_eq!(raw.cmd(&["HELLO", "2"]).chars().next(), Some('*'));
    assert_eq!(raw.cmd(&["GET", "missing"]), "$-1\r\n");
}

#[test]
fn multi_key_commands_count_across_shards() {
    let srv = Server::start(4);
    let mut raw = srv.raw();
    let keys = keys_on_distinct_shards("mk:", 4);
    let mut mset = vec!["MSET"];
    for k in &keys {
        mset.push(k);
        mset.push("v");
    }
    assert_eq!(raw.cmd(&mset), "+OK\r\n");
    let mut exists = vec!["EXISTS"];
    exists.extend(keys.iter().map(|s| s.as_str()));
    exists.push(&keys[0]);
    exists.push("nope");
    assert_eq!(raw.cmd(&exists), ":5\r\n");
    assert_eq!(raw.cmd(&["TOUCH", &keys[1], &keys[2], "nope"]), ":2\r\n");
    assert_eq!(raw.cmd(&["DEL", &keys[0], &keys[1], "nope"]), ":2\r\n");
    assert_eq!(raw.cmd(&["UNLINK", &keys[2], &keys[3], &keys[0]]), ":2\r\n");
    assert_eq!(raw.cmd(&["DBSIZE"]), ":0\r\n");
    // MSETNX across shards is all or nothing.
    assert_eq!(raw.cmd(&["SET", &keys[3], "x"]), "+OK\r\n");
    assert_eq!(
        raw.cmd(&["MSETNX", &keys[0], "1", &keys[1], "1", &keys[3], "1"]),
        ":0\r\n"
    );
    assert_eq!(raw.cmd(&["EXISTS", &keys[0], &keys[1]]), ":0\r\n");
    assert_eq!(raw.cmd(&["MSETNX", &keys[0], "1", &keys[1], "1"]), ":1\r\n");
    assert_eq!(
        raw.cmd(&["MGET", &keys[0], &keys[1], &keys[3]]),
        "*3\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\nx\r\n"
    );
    // RENAME, COPY and LCS across shards.
    assert_eq!(raw.cmd(&["EXPIRE", &keys[3], "100"]), ":1\r\n");
    assert_eq!(raw.cmd(&["RENAME", &keys[3], &keys[2]]), "+OK\r\n");
    assert_eq!(raw.cmd(&["TTL", &keys[2]]), ":100\r\n");
    assert_eq!(raw.cmd(&["EXISTS", &keys[3]]), ":0\r\n");
    assert_eq!(raw.cmd(&["RENAMENX", &keys[2], &keys[0]]), ":0\r\n");
    assert_eq!(raw.cmd(&["COPY", &keys[2], &keys[3]]), ":1\r\n");
    assert_eq!(raw.cmd(&["GET", &keys[3]]), "$1\r\nx\r\n");
    assert_eq!(raw.cmd(&["SET", &keys[0], "ohmytext"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["SET", &keys[1], "mynewtext"]), "+OK\r\n");
    assert_eq!(raw.cmd(&["LCS", &keys[0], &keys[1]]), "$6\r\nmytext\r\n");
    assert_eq!(raw.cmd(&["RENAME", "nope", &keys[1]]), "-ERR no such key\r\n");
}

/// Writers MSET the same value into keys on every shard; readers MGET them
/// and must never see a mix of two writes.
#[test]
fn cross_shard_mset_is_never_torn() {
    let srv = Server::start(4);
    let keys = Arc::new(keys_on_distinct_shards("torn:", 4));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let mut c = srv.client();
        let mut cmd = redis::cmd("MSET");
        for k in keys.iter() {
            cmd.arg(k).arg(0);
        }
        let _: () = cmd.query(&mut c).unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..2 {
        let mut c = srv.client();
        let keys = keys.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..1500 {
                let mut cmd = redis::cmd("MSET");
                for k in keys.iter() {
                    cmd.arg(k).arg(i * 10 + w);
                }
                let _: () = cmd.query(&mut c).unwrap();
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut c = srv.client();
        let keys = keys.clone();
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(Ordering::Relaxed) || checks < 100 {
                let vals: Vec<i64> = c.get(&keys[..]).unwrap();
                assert!(vals.iter().all(|v| *v == vals[0]), "torn read: {vals:?}");
                let sum: i64 = redis::cmd("EXISTS").arg(&keys[..]).query(&mut c).unwrap();
                assert_eq!(sum, 4);
                checks += 1;
            }
            checks
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() >= 100);
    }
}

/// Keys renamed back and forth between shards: exactly one of the two names
/// exists at every instant an atomic EXISTS looks.
#[test]
fn cross_shard_rename_is_atomic() {
    let srv = Server::start(4);
    let keys = keys_on_distinct_shards("ren:", 4);
    let (a, b) = (keys[0].clone(), keys[3].clone());
    let mut c = srv.client();
    let _: () = c.set(&a, "payload").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let checker = {
        let mut c = srv.client();
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) || n < 50 {
                let e: i64 = redis::cmd("EXISTS").arg(&a).arg(&b).query(&mut c).unwrap();
                assert_eq!(e, 1, "rename observed half-done");
                n += 1;
            }
        })
    };
    for i in 0..1000 {
        let (from, to) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let _: () = redis::cmd("RENAME").arg(from).arg(to).query(&mut c).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    checker.join().unwrap();
    let v: String = c.get(&a).unwrap();
    assert_eq!(v, "payload");
}

/// 20 000 keys with a 200 ms TTL disappear without being touched.
#[test]
fn active_expiry_reclaims_untouched_keys() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    let mut req = Vec::new();
    for i in 0..20_000 {
        req.extend(encode(&["SET", &format!("ttl:{i}"), "v", "PX", "200"]));
    }
    req.extend(encode(&["SET", "keeper", "v"]));
    raw.send(&req);
    for _ in 0..20_001 {
        assert_eq!(raw.reply_str(), "+OK\r\n");
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        // INFO keyspace reads the counts without touching (or lazily
        // expiring) any key.
        let info = raw.cmd(&["INFO", "keyspace"]);
        if info.contains("db0:keys=1,expires=0") {
            break;
        }
        assert!(Instant::now() < deadline, "keys not reclaimed: {info}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = raw.cmd(&["INFO", "stats"]);
    assert!(stats.contains("expired_keys:20000"), "{stats}");
}

#[test]
fn client_list_and_kill_across_shards() {
    let srv = Server::start(2);
    let mut me = srv.raw();
    let mut others: Vec<_> = (0..6).map(|_| srv.raw()).collect();
    for (i, o) in others.iter_mut().enumerate() {
        assert_eq!(o.cmd(&["CLIENT", "SETNAME", &format!("worker-{i}")]), "+OK\r\n");
    }
    let list = me.cmd(&["CLIENT", "LIST"]);
    for i in 0..6 {
        assert!(list.contains(&format!("name=worker-{i} ")), "{list}");
    }
    let id_line = others[3].cmd(&["CLIENT", "ID"]);
    let id = id_line.trim_start_matches(':').trim_end();
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", id]), ":1\r\n");
    assert!(others[3].closed());
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", id]), ":0\r\n");
    assert_eq!(me.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn second_server_on_same_port_refuses_to_start() {
    let srv = Server::start(1);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
        .args(["--port", &srv.port.to_string(), "--bind", "127.0.0.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Address already in use"), "{err}");
}

#[test]
fn bad_options_exit_with_a_clear_error() {
    for args in [
        &["--port", "notaport"][..],
        &["--nosuchoption", "1"][..],
        &["/nonexistent/spindle.conf"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("spindle: ") && err.lines().count() <= 2, "{err}");
    }
}

#[test]
fn requirepass_and_hello_auth() {
    let srv = Server::start_with(2, &["--requirepass", "s3cret"]);
    let mut raw = srv.raw();
    assert_eq!(raw.cmd(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert!(raw.cmd(&["HELLO", "3"]).starts_with("-NOAUTH HELLO must be called"));
    assert_eq!(
        raw.cmd(&["HELLO", "3", "AUTH", "default", "bad"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert!(raw
        .cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "app"])
        .starts_with("%7\r\n"));
    assert_eq!(raw.cmd(&["CLIENT", "GETNAME"]), "$3\r\napp\r\n");
    assert_eq!(raw.cmd(&["SET", "k", "v"]), "+OK\r\n");
}

#[test]
fn quit_closes_after_reply() {
    let srv = Server::start(1);
    let mut raw = srv.raw();
    raw.send(&[encode(&["SET", "q", "1"]), encode(&["QUIT"]), encode(&["GET", "q"])].concat());
    assert_eq!(raw.reply_str(), "+OK\r\n");
    assert_eq!(raw.reply_str(), "+OK\r\n");
    assert!(raw.closed());
}

/// A client that writes a whole large pipeline before reading any reply
/// (as redis-py and Jedis pipelines do) must not deadlock: the server keeps
/// reading while its replies wait for room in the socket.
#[test]
fn write_everything_then_read_pipeline_does_not_deadlock() {
    let srv = Server::start(2);
    let mut raw = srv.raw();
    assert_eq!(raw.cmd(&["SET", "bp", &"x".repeat(400)]), "+OK\r\n");
    let one = encode(&["GET", "bp"]);
    let n = 200_000;
    let mut req = Vec::with_capacity(one.len() * n);
    for _ in 0..n {
        req.extend_from_slice(&one);
    }
    let mut writer = raw.s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(&req).unwrap();
    });
    let want = format!("$400\r\n{}\r\n", "x".repeat(400));
    for _ in 0..n {
        assert_eq!(raw.reply_str(), want);
    }
    sender.join().unwrap();
}

/// A NUL byte ends an inline command line (it must never hang the parser).
#[test]
fn nul_byte_in_inline_command() {
    let srv = Server::start(1);
    let mut raw = srv.raw();
    raw.send(b"PING a\x00b\r\n");
    assert_eq!(raw.reply_str(), "$1\r\na\r\n");
    raw.send(b"\x00\r\nPING\r\n");
    assert_eq!(raw.reply_str(), "+PONG\r\n");
}

/// Whole-shard work (DBSIZE, KEYS, FLUSHDB) mixed with key-locking
/// cross-shard commands from several pipelining clients: every pipeline must
/// complete (no starvation or deadlock between the two kinds of locks).
#[test]
fn mixed_whole_shard_and_key_transactions_make_progress() {
    let srv = Server::start(4);
    let keys = Arc::new(keys_on_distinct_shards("mix:", 4));
    let mut handles = Vec::new();
    for w in 0..4u64 {
        let mut raw = srv.raw();
        let keys = keys.clone();
        handles.push(std::thread::spawn(move || {
            let mut seed = w * 7919 + 1;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            for _ in 0..20 {
                let mut req = Vec::new();
                let n = 200;
                for _ in 0..n {
                    let k = |r: u64| keys[(r % 4) as usize].as_str();
                    let (a, b) = (next(), next());
                    let cmd: Vec<&str> = match next() % 10 {
                        0 => vec!["DBSIZE"],
                        1 => vec!["KEYS", "mix:*"],
                        2 if a % 7 == 0 => vec!["FLUSHDB"],
                        3 | 4 => vec!["MSET", k(a), "1", k(b), "2"],
                        5 => vec!["RENAME", k(a), k(b)],
                        6 => vec!["MGET", k(a), k(b)],
                        7 => vec!["DEL", k(a), k(b)],
                        _ => vec!["SET", k(a), "v"],
                    };
                    req.extend(encode(&cmd));
                }
                raw.send(&req);
                for _ in 0..n {
                    raw.reply();
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
}
