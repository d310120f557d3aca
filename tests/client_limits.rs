//! Client limits on the real binary: maxclients, idle timeout, output and
//! query buffer limits, CLIENT KILL filters (across shards), CLIENT PAUSE
//! WRITE/ALL and expiry during a pause, CLIENT NO-EVICT.
//!
//! No assertion depends on timing: waits poll for a condition with a
//! generous deadline (or rely on 20 s read timeouts).

mod common;

use common::{client_field, client_line, encode, eventually, named, Raw, Server};

/// The blocked_clients line of INFO clients.
fn blocked_clients(c: &mut Raw) -> u64 {
    let info = c.cmd(&["INFO", "clients"]);
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn maxclients_refuses_and_counts() {
    let s = Server::start_with(2, &["--maxclients", "3"]);
    let mut admin = s.raw();
    // Connections answer in turn until one is refused (a closing
    // connection of the start-up check may still count for a moment).
    let mut open = Vec::new();
    let refused = loop {
        let mut c = s.raw();
        c.send(&encode(&["PING"]));
        let r = c.reply_str();
        if r != "+PONG\r\n" {
            break r;
        }
        open.push(c);
        assert!(open.len() < 3, "a fourth client was accepted");
    };
    assert_eq!(refused, "-ERR max number of clients reached\r\n");
    let info = admin.cmd(&["INFO", "stats"]);
    assert!(!info.contains("rejected_connections:0\r\n"), "{info}");
    // Raised at runtime: one more connection is accepted.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxclients", "10"]), "+OK\r\n");
    let mut e = s.raw();
    assert_eq!(e.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn idle_clients_time_out_but_subscribers_do_not() {
    let s = Server::start(2);
    let mut admin = s.raw();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "1"]), "+OK\r\n");
    let mut idle = named(&s, "idle");
    let mut sub = named(&s, "sub");
    sub.send(&encode(&["SUBSCRIBE", "ch"]));
    sub.reply();
    let mut blocked = named(&s, "blocked");
    blocked.send(&encode(&["BLPOP", "nokey", "0"]));
    assert!(idle.closed(), "an idle client is closed after `timeout`");
    // The admin connection was idle too: use a fresh one.
    let mut admin = s.raw();
    assert!(client_line(&mut admin, "sub").is_some());
    assert!(client_line(&mut admin, "blocked").is_some());
    assert_eq!(admin.cmd(&["CONFIG", "SET", "timeout", "0"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["LPUSH", "nokey", "x"]), ":1\r\n");
    assert_eq!(blocked.reply_str(), "*2\r\n$5\r\nnokey\r\n$1\r\nx\r\n");
}

#[test]
fn obuf_hard_limit_closes_a_pipelining_non_reader() {
    let s = Server::start(2);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0"]),
        "+OK\r\n"
    );
    assert_eq!(admin.cmd(&["SET", "big", &"x".repeat(10_000)]), "+OK\r\n");
    let mut c = named(&s, "reader");
    // 200 GETs of 10 kB in one write: 2 MB of replies, never read.
    let mut pipeline = Vec::new();
    for _ in 0..200 {
        pipeline.extend_from_slice(&encode(&["GET", "big"]));
    }
    c.send(&pipeline);
    eventually("the non-reader is dropped", || {
        client_line(&mut admin, "reader").is_none()
    });
    // It got nothing: the replies past the limit were dropped with it.
    assert!(c.try_reply().is_none());
    let info = admin.cmd(&["CONFIG", "GET", "client-output-buffer-limit"]);
    assert!(
        info.contains("normal 100000 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        "{info}"
    );
}

#[test]
fn obuf_limit_config_errors() {
    let s = Server::start(1);
    let mut c = s.raw();
    let set = |c: &mut Raw, v: &str| c.cmd(&["CONFIG", "SET", "client-output-buffer-limit", v]);
    assert!(set(&mut c, "wrong number").contains("Wrong number of arguments"));
    assert!(set(&mut c, "master 10mb 10mb 60").contains("Invalid client class"));
    assert!(set(&mut c, "normal 10mbs 10mb 60").contains("Error in hard"));
    assert_eq!(
        set(&mut c, "normal 1mb 2mb 60 replica 3mb 4mb 70 pubsub 5mb 6mb 80"),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "client-output-buffer-limit"]),
        "*2\r\n$26\r\nclient-output-buffer-limit\r\n$76\r\nnormal 1048576 2097152 60 slave 3145728 4194304 70 pubsub 5242880 6291456 80\r\n"
    );
}

#[test]
fn obuf_limit_closes_a_slow_subscriber() {
    let s = Server::start(2);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 100000 0 0"]),
        "+OK\r\n"
    );
    let mut sub = named(&s, "slowsub");
    sub.send(&encode(&["SUBSCRIBE", "news"]));
    sub.reply();
    let payload = "y".repeat(10_000);
    let mut publisher = s.raw();
    eventually("the slow subscriber is dropped", || {
        for _ in 0..50 {
            publisher.cmd(&["PUBLISH", "news", &payload]);
        }
        client_line(&mut admin, "slowsub").is_none()
    });
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let s = Server::start(1);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]),
        "+OK\r\n"
    );
    let mut c = named(&s, "hog");
    // A 2 MB argument announced and sent in part: the buffer passes 1 MB.
    c.send(b"*2\r\n$4\r\nECHO\r\n$2000000\r\n");
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..20 {
        if c.s.write_all_ok(&chunk).is_err() {
            break;
        }
    }
    eventually("the client is closed", || client_line(&mut admin, "hog").is_none());
}

/// `write_all` that reports instead of panicking (the server may close).
trait WriteOk {
    fn write_all_ok(&mut self, b: &[u8]) -> std::io::Result<()>;
}

impl WriteOk for std::net::TcpStream {
    fn write_all_ok(&mut self, b: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, b)
    }
}

#[test]
fn client_list_reports_buffers_and_flags() {
    let s = Server::start(1);
    let mut c = s.raw();
    let line = c.cmd(&["CLIENT", "INFO"]);
    // The running command is what the query buffer holds (26 bytes).
    assert!(line.contains(" qbuf=26 "), "{line}");
    assert!(line.contains(" obl=0 oll=0 omem=0 "), "{line}");
    assert!(line.contains(" cmd=client|info "), "{line}");
    assert_eq!(c.cmd(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CLIENT", "NO-TOUCH", "on"]), "+OK\r\n");
    let line = c.cmd(&["CLIENT", "INFO"]);
    assert!(line.contains(" flags=eT "), "{line}");
    assert_eq!(c.cmd(&["CLIENT", "NO-EVICT", "maybe"]), "-ERR syntax error\r\n");
}

#[test]
fn client_kill_filters_across_shards() {
    let s = Server::start(4);
    let mut me = s.raw();
    let my_id = me.cmd(&["CLIENT", "ID"]);
    let my_id = my_id.trim_start_matches(':').trim().to_string();
    // Errors, as Redis words them.
    for (args, want) in [
        (vec!["CLIENT", "KILL", "ID", "10", "wrong_arg"], "-ERR syntax error\r\n"),
        (
            vec!["CLIENT", "KILL", "ID", "str"],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (
            vec!["CLIENT", "KILL", "ID", "0"],
            "-ERR client-id should be greater than 0\r\n",
        ),
        (
            vec!["CLIENT", "KILL", "TYPE", "wrong"],
            "-ERR Unknown client type 'wrong'\r\n",
        ),
        (
            vec!["CLIENT", "KILL", "USER", "nobody"],
            "-ERR No such user 'nobody'\r\n",
        ),
        (vec!["CLIENT", "KILL", "SKIPME", "maybe"], "-ERR syntax error\r\n"),
        (
            vec!["CLIENT", "KILL", "MAXAGE", "str"],
            "-ERR maxage is not an integer or out of range\r\n",
        ),
        (
            vec!["CLIENT", "KILL", "MAXAGE", "-1"],
            "-ERR maxage should be greater than 0\r\n",
        ),
        (vec!["CLIENT", "KILL", "127.0.0.1:1"], "-ERR No such client\r\n"),
    ] {
        assert_eq!(me.cmd(&args), want, "{args:?}");
    }
    // Enough clients to land on every shard.
    let mut others: Vec<Raw> = (0..12).map(|i| named(&s, &format!("c{i}"))).collect();
    let line = client_line(&mut me, "c0").unwrap();
    let (id0, addr1, laddr) = (
        client_field(&line, "id"),
        client_field(&client_line(&mut me, "c1").unwrap(), "addr"),
        client_field(&line, "laddr"),
    );
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", &id0]), ":1\r\n");
    assert!(others[0].closed());
    // Old form: address, +OK.
    assert_eq!(me.cmd(&["CLIENT", "KILL", &addr1]), "+OK\r\n");
    assert!(others[1].closed());
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ADDR", &addr1]), ":0\r\n");
    // A subscriber, killed by type.
    others[2].send(&encode(&["SUBSCRIBE", "x"]));
    others[2].reply();
    assert_eq!(me.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), ":1\r\n");
    assert!(others[2].closed());
    assert_eq!(me.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), ":0\r\n");
    assert_eq!(me.cmd(&["CLIENT", "KILL", "TYPE", "master"]), ":0\r\n");
    // Filters AND together: my own id with SKIPME yes matches nothing.
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", &my_id, "SKIPME", "yes"]), ":0\r\n");
    assert_eq!(me.cmd(&["CLIENT", "KILL", "ID", &id0, "USER", "default"]), ":0\r\n");
    assert_eq!(me.cmd(&["CLIENT", "KILL", "MAXAGE", "100000"]), ":0\r\n");
    // LADDR and USER match everyone else, on every shard.
    assert_eq!(
        me.cmd(&["CLIENT", "KILL", "LADDR", &laddr, "USER", "default"]),
        ":9\r\n"
    );
    for c in others.iter_mut().skip(3) {
        assert!(c.closed());
    }
    // SKIPME no kills the caller too, after its reply.
    let _x = s.raw();
    assert_eq!(me.cmd(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"]), ":2\r\n");
    assert!(me.closed());
}

#[test]
fn pause_write_holds_writes_until_unpause() {
    let s = Server::start(2);
    let mut admin = s.raw();
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "100000", "WRITE"]), "+OK\r\n");
    let mut reader = s.raw();
    assert_eq!(reader.cmd(&["GET", "k"]), "$-1\r\n");
    assert_eq!(reader.cmd(&["EVAL_RO", "return 1", "0"]), ":1\r\n");
    let mut writers: Vec<Raw> = (0..4).map(|_| s.raw()).collect();
    for (i, w) in writers.iter_mut().enumerate() {
        w.send(&encode(&["RPUSH", "list", &i.to_string()]));
    }
    let mut pubber = s.raw();
    pubber.send(&encode(&["PUBLISH", "ch", "m"]));
    eventually("five held clients", || blocked_clients(&mut admin) == 5);
    assert_eq!(admin.cmd(&["LLEN", "list"]), ":0\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    for w in writers.iter_mut() {
        assert!(w.reply_str().starts_with(':'));
    }
    assert_eq!(pubber.reply_str(), ":0\r\n");
    assert_eq!(admin.cmd(&["LLEN", "list"]), ":4\r\n");
    assert_eq!(blocked_clients(&mut admin), 0);
}

#[test]
fn pause_all_holds_everything_and_errors_are_immediate() {
    let s = Server::start(2);
    let mut admin = s.raw();
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "abc"]),
        "-ERR timeout is not an integer or out of range\r\n"
    );
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "-1"]), "-ERR timeout is negative\r\n");
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "10", "SOME"]),
        "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    );
    // ALL holds reads too (and CLIENT itself): the pause ends at its
    // deadline, and the held commands then run in order.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "500", "ALL"]), "+OK\r\n");
    let mut c = s.raw();
    // Arity errors answer at once, even paused.
    assert_eq!(c.cmd(&["GET"]), "-ERR wrong number of arguments for 'get' command\r\n");
    c.send(&[encode(&["SET", "a", "1"]), encode(&["GET", "a"]), encode(&["PING"])].concat());
    assert_eq!(c.reply_str(), "+OK\r\n");
    assert_eq!(c.reply_str(), "$1\r\n1\r\n");
    assert_eq!(c.reply_str(), "+PONG\r\n");
    // A later, shorter WRITE pause keeps the stricter ALL and the later end.
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "300", "ALL"]), "+OK\r\n");
    assert_eq!(admin.cmd(&["CLIENT", "PAUSE", "1", "WRITE"]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), "$1\r\n1\r\n");
}

#[test]
fn no_expiry_during_a_write_pause() {
    let s = Server::start(2);
    let mut c = s.raw();
    // The pause starts inside the transaction, after the writes.
    c.send(b"*1\r\n$5\r\nMULTI\r\n");
    c.reply();
    for k in ["a{t}", "b{t}"] {
        c.send(&encode(&["SET", k, "v", "PX", "1"]));
        c.reply();
    }
    c.send(&encode(&["CLIENT", "PAUSE", "100000", "WRITE"]));
    c.reply();
    assert!(c.cmd(&["EXEC"]).starts_with("*3\r\n"));
    let expired = |c: &mut Raw| {
        let info = c.cmd(&["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .unwrap()
            .trim()
            .to_string()
    };
    let before = expired(&mut c);
    eventually("keys read as expired", || c.cmd(&["GET", "a{t}"]) == "$-1\r\n");
    assert_eq!(c.cmd(&["GET", "b{t}"]), "$-1\r\n");
    assert_eq!(expired(&mut c), before, "nothing deleted while paused");
    assert_eq!(c.cmd(&["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "a{t}"]), "$-1\r\n");
    eventually("expired once unpaused", || expired(&mut c) != before);
}
