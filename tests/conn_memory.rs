//! A connection's memory as CLIENT LIST shows it and client eviction counts
//! it: argv-mem (the arguments taken in of the command being read or run),
//! qbuf of a half-read frame, the idle release of a connection's buffers,
//! and clients evicted before keys when both limits are in play.
//!
//! No assertion depends on timing: waits poll for a condition with a
//! generous deadline.

mod common;

use std::io::Write;

use common::{client_line, client_num, eventually, named, raw_info_num, Server};

#[test]
fn argv_mem_of_the_running_command() {
    let s = Server::start(1);
    let mut c = named(&s, "me");
    // CLIENT LIST shows itself while it runs: "client" + "list", as Redis.
    let line = client_line(&mut c, "me").unwrap();
    assert_eq!(client_num(&line, "argv-mem"), 10, "{line}");
    // Nothing is held once it is done.
    let mut admin = named(&s, "admin");
    let line = client_line(&mut admin, "me").unwrap();
    assert_eq!(client_num(&line, "argv-mem"), 0, "{line}");
}

#[test]
fn half_read_frame_counts_argv_and_qbuf() {
    let s = Server::start(2);
    let mut admin = named(&s, "admin");
    let mut c = named(&s, "half");
    // SET a <100000 bytes>, of which 50000 arrive: "SET" and "a" are taken
    // in (argv-mem 4), the bulk's 50000 bytes wait in the query buffer.
    let mut frame = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$100000\r\n".to_vec();
    frame.extend(std::iter::repeat_n(b'x', 50000));
    c.s.write_all(&frame).unwrap();
    eventually("the frame's start arrives", || {
        client_line(&mut admin, "half").is_some_and(|l| client_num(&l, "qbuf") == 50000)
    });
    let line = client_line(&mut admin, "half").unwrap();
    assert_eq!(client_num(&line, "argv-mem"), 4, "{line}");
    // tot-mem holds the query buffer (at least the frame so far).
    assert!(
        client_num(&line, "tot-mem") >= 50000 + client_num(&line, "qbuf-free"),
        "{line}"
    );
    // The rest arrives: the command runs, nothing is held any more.
    c.s.write_all(&vec![b'x'; 50000]).unwrap();
    c.s.write_all(b"\r\n").unwrap();
    assert_eq!(c.reply_str(), "+OK\r\n");
    let line = client_line(&mut admin, "half").unwrap();
    assert_eq!(client_num(&line, "argv-mem"), 0, "{line}");
    assert_eq!(client_num(&line, "qbuf"), 0, "{line}");
    assert_eq!(admin.cmd(&["STRLEN", "a"]), ":100000\r\n");
}

#[test]
fn idle_connection_gives_its_buffers_back() {
    let s = Server::start(1);
    let mut admin = named(&s, "admin");
    let mut c = named(&s, "idle");
    // A big reply and a big command grow both buffers.
    let big = "v".repeat(200_000);
    assert_eq!(c.cmd(&["SET", "k", &big]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "k"]).len(), 200_000 + 11);
    let busy = client_num(&client_line(&mut admin, "idle").unwrap(), "tot-mem");
    // Idle, it holds no read buffer at all (Redis frees an idle client's
    // query buffer too), and tot-mem is back to the fixed part.
    eventually("the idle connection releases its buffers", || {
        client_line(&mut admin, "idle").is_some_and(|l| client_num(&l, "rbs") == 0)
    });
    let line = client_line(&mut admin, "idle").unwrap();
    assert_eq!(client_num(&line, "qbuf"), 0, "{line}");
    assert_eq!(client_num(&line, "qbuf-free"), 0, "{line}");
    assert_eq!(client_num(&line, "omem"), 0, "{line}");
    let idle = client_num(&line, "tot-mem");
    assert!(idle < busy, "{idle} < {busy}");
    assert!(idle < 16 * 1024, "{line}");
    // It still serves.
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["STRLEN", "k"]), ":200000\r\n");
}

#[test]
fn many_pipelined_commands_in_one_go() {
    // The read buffer starts small and grows while reads fill it: a deep
    // pipeline is answered whole and in order.
    let s = Server::start(1);
    let mut c = s.raw();
    let mut batch = Vec::new();
    for i in 0..2000 {
        batch.extend(common::encode(&["SET", &format!("key:{i}"), &"x".repeat(50)]));
    }
    for i in 0..2000 {
        batch.extend(common::encode(&["GET", &format!("key:{i}")]));
    }
    c.send(&batch);
    for _ in 0..2000 {
        assert_eq!(c.reply_str(), "+OK\r\n");
    }
    let want = format!("$50\r\n{}\r\n", "x".repeat(50));
    for _ in 0..2000 {
        assert_eq!(c.reply_str(), want);
    }
}

#[test]
fn clients_are_evicted_before_keys() {
    let s = Server::start(2);
    let mut admin = named(&s, "admin");
    assert_eq!(admin.cmd(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
    for j in 0..30 {
        assert_eq!(admin.cmd(&["SETRANGE", &j.to_string(), "100000", "x"]), ":100001\r\n");
    }
    let used = raw_info_num(&mut admin, "memory", "used_memory");
    // Room for 2 MB more than now; clients may use 1 MB.
    let limit = (used + 2 * 1024 * 1024).to_string();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        "+OK\r\n"
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", &limit]), "+OK\r\n");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]), "+OK\r\n");
    // Subscribers that never read: each message grows their output.
    let mut subs = Vec::new();
    for _ in 0..10 {
        let mut c = s.raw();
        assert_eq!(
            c.cmd(&["SUBSCRIBE", "bla"]),
            "*3\r\n$9\r\nsubscribe\r\n$3\r\nbla\r\n:1\r\n"
        );
        subs.push(c);
    }
    let big = "x".repeat(100_000);
    eventually("a client is evicted", || {
        admin.cmd(&["PUBLISH", "bla", &big]);
        raw_info_num(&mut admin, "stats", "evicted_clients") > 0
    });
    assert_eq!(raw_info_num(&mut admin, "stats", "evicted_keys"), 0);
    assert_eq!(admin.cmd(&["DBSIZE"]), ":30\r\n");
}
