//! Transactions against the real binary: atomicity and isolation of
//! MULTI/EXEC across shards, WATCH between clients, and blocked clients
//! woken only after a whole transaction.

mod common;

use std::time::Duration;

use common::{keys_on_distinct_shards, Server};

fn exec_transfer(c: &mut redis::Connection, from: &str, to: &str, amount: i64) -> (i64, i64) {
    redis::pipe()
        .atomic()
        .cmd("DECRBY")
        .arg(from)
        .arg(amount)
        .cmd("INCRBY")
        .arg(to)
        .arg(amount)
        .query(c)
        .unwrap()
}

#[test]
fn concurrent_transfers_across_shards_never_show_a_partial_transaction() {
    let server = Server::start(4);
    let accounts = keys_on_distinct_shards("acct", 4);
    let mut admin = server.client();
    for a in &accounts {
        let _: () = redis::cmd("SET").arg(a).arg(1000).query(&mut admin).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut movers = Vec::new();
    for t in 0..4 {
        let mut c = server.client();
        let accounts = accounts.clone();
        movers.push(std::thread::spawn(move || {
            for i in 0..400 {
                let from = &accounts[(i + t) % 4];
                let to = &accounts[(i * 3 + t + 1) % 4];
                if from != to {
                    exec_transfer(&mut c, from, to, (i % 7 + 1) as i64);
                }
            }
        }));
    }
    let mut auditors = Vec::new();
    for kind in 0..2 {
        let mut c = server.client();
        let accounts = accounts.clone();
        let stop = stop.clone();
        auditors.push(std::thread::spawn(move || {
            let mut audits = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let balances: Vec<i64> = if kind == 0 {
                    redis::cmd("MGET").arg(&accounts).query(&mut c).unwrap()
                } else {
                    // The same audit as a transaction of single-key reads.
                    let mut p = redis::pipe();
                    p.atomic();
                    for a in &accounts {
                        p.cmd("GET").arg(a);
                    }
                    p.query(&mut c).unwrap()
                };
                assert_eq!(balances.iter().sum::<i64>(), 4000, "audit saw {balances:?}");
                audits += 1;
            }
            audits
        }));
    }
    for m in movers {
        m.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for a in auditors {
        assert!(a.join().unwrap() > 0);
    }
    let balances: Vec<i64> = redis::cmd("MGET").arg(&accounts).query(&mut admin).unwrap();
    assert_eq!(balances.iter().sum::<i64>(), 4000);
}

#[test]
fn incr_and_expire_in_multi_count_exactly_under_eight_clients() {
    let server = Server::start(4);
    let mut threads = Vec::new();
    for _ in 0..8 {
        let mut c = server.client();
        threads.push(std::thread::spawn(move || {
            for _ in 0..250 {
                let (n, ok): (i64, i64) = redis::pipe()
                    .atomic()
                    .cmd("INCR")
                    .arg("rate:user42")
                    .cmd("EXPIRE")
                    .arg("rate:user42")
                    .arg(60)
                    .query(&mut c)
                    .unwrap();
                assert!(n >= 1);
                assert_eq!(ok, 1);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    let n: i64 = redis::cmd("GET").arg("rate:user42").query(&mut c).unwrap();
    assert_eq!(n, 2000);
    let ttl: i64 = redis::cmd("TTL").arg("rate:user42").query(&mut c).unwrap();
    assert!(ttl > 0 && ttl <= 60);
}

/// Optimistic locking as client libraries do it: WATCH, read, MULTI/EXEC,
/// retry when EXEC answers nil. Two counters on different shards are
/// incremented together; no increment is lost or doubled.
#[test]
fn watch_check_and_set_loses_no_update_across_shards() {
    let server = Server::start(4);
    let keys = keys_on_distinct_shards("cas", 4);
    let (k1, k2) = (keys[0].clone(), keys[3].clone());
    let mut threads = Vec::new();
    for _ in 0..6 {
        let mut c = server.client();
        let (k1, k2) = (k1.clone(), k2.clone());
        threads.push(std::thread::spawn(move || {
            let mut retries = 0;
            for _ in 0..60 {
                loop {
                    let _: () = redis::cmd("WATCH").arg(&k1).arg(&k2).query(&mut c).unwrap();
                    let (a, b): (Option<i64>, Option<i64>) =
                        redis::cmd("MGET").arg(&k1).arg(&k2).query(&mut c).unwrap();
                    let r: Option<((), ())> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&k1)
                        .arg(a.unwrap_or(0) + 1)
                        .cmd("SET")
                        .arg(&k2)
                        .arg(b.unwrap_or(0) + 2)
                        .query(&mut c)
                        .unwrap();
                    if r.is_some() {
                        break;
                    }
                    retries += 1;
                }
            }
            retries
        }));
    }
    let retries: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let mut c = server.client();
    let (a, b): (i64, i64) = redis::cmd("MGET").arg(&k1).arg(&k2).query(&mut c).unwrap();
    assert_eq!((a, b), (360, 720), "after {retries} retries");
}

#[test]
fn watch_sees_writes_expiry_and_flushes_from_other_clients() {
    let server = Server::start(2);
    let mut a = server.raw();
    let mut b = server.raw();
    let keys = keys_on_distinct_shards("w", 2);
    for k in &keys {
        // A write by another client, whichever shard the key lives on.
        assert_eq!(a.cmd(&["SET", k, "1"]), "+OK\r\n");
        assert_eq!(a.cmd(&["WATCH", k]), "+OK\r\n");
        assert_eq!(b.cmd(&["INCR", k]), ":2\r\n");
        assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
        assert_eq!(a.cmd(&["GET", k]), "+QUEUED\r\n");
        assert_eq!(a.cmd(&["EXEC"]), "*-1\r\n");
        // A write that changes nothing (SET NX on an existing key) does not.
        assert_eq!(a.cmd(&["WATCH", k]), "+OK\r\n");
        assert_eq!(b.cmd(&["SET", k, "x", "NX"]), "$-1\r\n");
        assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
        assert_eq!(a.cmd(&["GET", k]), "+QUEUED\r\n");
        assert_eq!(a.cmd(&["EXEC"]), "*1\r\n$1\r\n2\r\n");
    }
    // Expiry, even before the key is reclaimed.
    assert_eq!(a.cmd(&["SET", &keys[1], "v", "PX", "500"]), "+OK\r\n");
    assert_eq!(a.cmd(&["WATCH", &keys[1]]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.cmd(&["PING"]), "+QUEUED\r\n");
    assert_eq!(a.cmd(&["EXEC"]), "*-1\r\n");
    // FLUSHALL from another client touches existing watched keys.
    assert_eq!(a.cmd(&["SET", &keys[0], "v"]), "+OK\r\n");
    assert_eq!(a.cmd(&["WATCH", &keys[0], "missing"]), "+OK\r\n");
    assert_eq!(b.cmd(&["FLUSHALL"]), "+OK\r\n");
    assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.cmd(&["PING"]), "+QUEUED\r\n");
    assert_eq!(a.cmd(&["EXEC"]), "*-1\r\n");
    // A cross-shard MSET and a gathered RENAME by another client.
    assert_eq!(a.cmd(&["WATCH", &keys[1]]), "+OK\r\n");
    assert_eq!(b.cmd(&["MSET", &keys[0], "1", &keys[1], "2"]), "+OK\r\n");
    assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.cmd(&["PING"]), "+QUEUED\r\n");
    assert_eq!(a.cmd(&["EXEC"]), "*-1\r\n");
    assert_eq!(a.cmd(&["WATCH", &keys[1]]), "+OK\r\n");
    assert_eq!(b.cmd(&["RENAME", &keys[0], &keys[1]]), "+OK\r\n");
    assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.cmd(&["GET", &keys[1]]), "+QUEUED\r\n");
    assert_eq!(a.cmd(&["EXEC"]), "*-1\r\n");
}

/// A client blocked on a list is served after the transaction that pushed,
/// so the transaction sees its own push.
#[test]
fn blocked_clients_are_served_after_the_whole_transaction() {
    let server = Server::start(2);
    let mut waiter = server.raw();
    let mut admin = server.client();
    waiter.send(&common::encode(&["BLPOP", "jobs", "0"]));
    common::wait_blocked(&mut admin, 1);
    let mut t = server.raw();
    assert_eq!(t.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(&["RPUSH", "jobs", "j1"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(&["LLEN", "jobs"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(&["LRANGE", "jobs", "0", "-1"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(&["EXEC"]), "*3\r\n:1\r\n:1\r\n*1\r\n$2\r\nj1\r\n");
    assert_eq!(waiter.reply_str(), "*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n");
    assert_eq!(t.cmd(&["LLEN", "jobs"]), ":0\r\n");
}

#[test]
fn queueing_errors_abort_and_runtime_errors_do_not() {
    let server = Server::start(2);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["SET", "b"]),
        "-ERR wrong number of arguments for 'set' command\r\n"
    );
    assert_eq!(
        c.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "a"]), ":0\r\n");
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "a", "x"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["INCR", "a"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["SET", "b", "2"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*3\r\n+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
    );
    assert_eq!(c.cmd(&["MGET", "a", "b"]), "*2\r\n$1\r\nx\r\n$1\r\n2\r\n");
}
