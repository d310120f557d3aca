//! Blocking commands against the real binary: exactly-once delivery across
//! shards, FIFO order per key, timeouts, disconnection, CLIENT UNBLOCK.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{info_field, wait_blocked, Server};
use redis::Commands;

#[test]
fn every_pushed_element_is_delivered_exactly_once_across_shards() {
    let srv = Server::start(4);
    // Keys spread over the 4 shards.
    let keys: Vec<String> = (0..8).map(|i| format!("queue:{i}")).collect();
    let producers = 4;
    let per_producer = 500;
    let total = producers * per_producer;
    let got = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let mut consumers = Vec::new();
    for _ in 0..6 {
        let mut c = srv.client();
        let (keys, got, done) = (keys.clone(), got.clone(), done.clone());
        consumers.push(std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                let r: Option<(String, String)> = redis::cmd("BLPOP").arg(&keys).arg(0.05).query(&mut c).unwrap();
                if let Some((_, v)) = r {
                    got.lock().unwrap().push(v);
                }
            }
        }));
    }
    let mut handles = Vec::new();
    for p in 0..producers {
        let mut c = srv.client();
        let keys = keys.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..per_producer {
                let k = &keys[(i * 7 + p) % keys.len()];
                let _: i64 = c.rpush(k, format!("{p}-{i}")).unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.lock().unwrap().len() < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} delivered",
            got.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::Release);
    for c in consumers {
        c.join().unwrap();
    }
    let got = got.lock().unwrap();
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(got.len(), total, "an element was delivered twice");
    assert_eq!(unique.len(), total);
    let mut c = srv.client();
    for k in &keys {
        let n: i64 = c.llen(k).unwrap();
        assert_eq!(n, 0, "{k} still holds elements");
    }
    wait_blocked(&mut c, 0);
    assert_eq!(info_field(&mut c, "total_blocking_keys"), 0);
}

#[test]
fn waiters_on_one_key_are_served_in_fifo_order() {
    let srv = Server::start(2);
    let mut admin = srv.client();
    let mut threads = Vec::new();
    for i in 0..3 {
        let mut c = srv.client();
        threads.push(std::thread::spawn(move || {
            let r: (String, String) = redis::cmd("BLPOP").arg("fifo").arg(0).query(&mut c).unwrap();
            (i, r.1)
        }));
        wait_blocked(&mut admin, i + 1);
    }
    let _: i64 = admin.rpush("fifo", &["a", "b", "c"]).unwrap();
    let mut results: Vec<(i64, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    results.sort();
    assert_eq!(
        results,
        vec![(0, "a".to_string()), (1, "b".to_string()), (2, "c".to_string())]
    );
    // Served at once, before the pusher's next command.
    let n: i64 = admin.exists("fifo").unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_client_blocked_on_several_shards_gets_one_element() {
    let srv = Server::start(4);
    let mut admin = srv.client();
    let keys: Vec<String> = (0..6).map(|i| format!("multi:{i}")).collect();
    let mut c = srv.client();
    let k2 = keys.clone();
    let t = std::thread::spawn(move || {
        let r: (String, String) = redis::cmd("BRPOP").arg(&k2).arg(0).query(&mut c).unwrap();
        r
    });
    wait_blocked(&mut admin, 1);
    // One pipeline pushing to every key: exactly one element is taken.
    let mut p = redis::pipe();
    for k in &keys {
        p.rpush(k, "x").ignore();
    }
    let _: () = p.query(&mut admin).unwrap();
    let (key, v) = t.join().unwrap();
    assert_eq!(v, "x");
    assert!(keys.contains(&key));
    let mut left = 0;
    for k in &keys {
        let n: i64 = admin.llen(k).unwrap();
        left += n;
    }
    assert_eq!(left, keys.len() as i64 - 1);
    wait_blocked(&mut admin, 0);
    assert_eq!(info_field(&mut admin, "total_blocking_keys"), 0);
}

#[test]
fn timeouts_disconnects_and_unblock_leave_no_trace() {
    let srv = Server::start(2);
    let mut admin = srv.client();
    // A fractional timeout answers a null array (not before it elapsed).
    let mut raw = srv.raw();
    let t0 = Instant::now();
    raw.send(b"BLPOP nothing:a nothing:b 0.2\r\n");
    assert_eq!(raw.reply(), b"*-1\r\n");
    // Deadlines have millisecond resolution, as in Redis: allow for the
    // truncation of the start time.
    assert!(t0.elapsed() >= Duration::from_millis(195));
    // RESP3: null.
    raw.send(b"HELLO 3\r\n");
    raw.reply();
    raw.send(b"BLMPOP 0.05 1 nothing LEFT\r\n");
    assert_eq!(raw.reply(), b"_\r\n");
    // A client that disconnects while blocked disappears from the registry.
    {
        let mut gone = srv.raw();
        gone.send(b"BLPOP k1 k2 k3 0\r\n");
        wait_blocked(&mut admin, 1);
        assert_eq!(info_field(&mut admin, "total_blocking_keys"), 3);
    }
    wait_blocked(&mut admin, 0);
    assert_eq!(info_field(&mut admin, "total_blocking_keys"), 0);
    // Nothing is popped for it afterwards.
    let _: i64 = admin.rpush("k1", "kept").unwrap();
    let v: Vec<String> = admin.lrange("k1", 0, -1).unwrap();
    assert_eq!(v, vec!["kept"]);
    // CLIENT UNBLOCK: TIMEOUT answers null, ERROR answers -UNBLOCKED.
    let mut blocked = srv.raw();
    blocked.send(b"CLIENT ID\r\n");
    let id_reply = blocked.reply();
    let id = std::str::from_utf8(&id_reply[1..id_reply.len() - 2])
        .unwrap()
        .to_string();
    blocked.send(b"BRPOP empty 0\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(&id).query(&mut admin).unwrap();
    assert_eq!(n, 1);
    assert_eq!(blocked.reply(), b"*-1\r\n");
    blocked.send(b"BLMOVE empty dst LEFT LEFT 0\r\n");
    wait_blocked(&mut admin, 1);
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(&id)
        .arg("ERROR")
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(blocked.reply(), b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    let n: i64 = redis::cmd("CLIENT").arg("UNBLOCK").arg(&id).query(&mut admin).unwrap();
    assert_eq!(n, 0);
    wait_blocked(&mut admin, 0);
}

#[test]
fn blmove_to_a_list_of_another_shard() {
    let srv = Server::start(4);
    let mut admin = srv.client();
    let keys = common::keys_on_distinct_shards("mv", 4);
    let (src, dst) = (keys[0].clone(), keys[1].clone());
    let mut c = srv.client();
    let (s2, d2) = (src.clone(), dst.clone());
    let t = std::thread::spawn(move || {
        let v: String = redis::cmd("BLMOVE")
            .arg(&s2)
            .arg(&d2)
            .arg("LEFT")
            .arg("RIGHT")
            .arg(0)
            .query(&mut c)
            .unwrap();
        v
    });
    wait_blocked(&mut admin, 1);
    let _: i64 = admin.rpush(&src, &["a", "b"]).unwrap();
    assert_eq!(t.join().unwrap(), "a");
    let in_src: Vec<String> = admin.lrange(&src, 0, -1).unwrap();
    let in_dst: Vec<String> = admin.lrange(&dst, 0, -1).unwrap();
    assert_eq!(in_src, vec!["b"]);
    assert_eq!(in_dst, vec!["a"]);
    // A pushed-then-popped pipeline: the pop after a push is served by the
    // push, not left waiting.
    let mut raw = srv.raw();
    raw.send(b"RPUSH pp 1\r\nBLPOP pp 0\r\nBLPOP pp 0.05\r\n");
    assert_eq!(raw.reply(), b":1\r\n");
    assert_eq!(raw.reply(), b"*2\r\n$2\r\npp\r\n$1\r\n1\r\n");
    assert_eq!(raw.reply(), b"*-1\r\n");
}

#[test]
fn sorted_set_pops_wake_on_zadd_across_shards() {
    let srv = Server::start(4);
    let mut admin = srv.client();
    let keys = common::keys_on_distinct_shards("zq", 4);
    let mut c = srv.client();
    let k2 = keys.clone();
    let t = std::thread::spawn(move || {
        let r: (String, String, f64) = redis::cmd("BZPOPMIN").arg(&k2).arg(0).query(&mut c).unwrap();
        let m: (String, Vec<Vec<String>>) = redis::cmd("BZMPOP")
            .arg(0)
            .arg(k2.len())
            .arg(&k2)
            .arg("MAX")
            .arg("COUNT")
            .arg(10)
            .query(&mut c)
            .unwrap();
        (r, m)
    });
    wait_blocked(&mut admin, 1);
    let _: i64 = admin.zadd(&keys[2], "low", 1.5).unwrap();
    wait_blocked(&mut admin, 1);
    let _: i64 = redis::cmd("ZADD")
        .arg(&keys[3])
        .arg(1)
        .arg("x")
        .arg(2)
        .arg("y")
        .query(&mut admin)
        .unwrap();
    let ((k, m, s), (k3, pairs)) = t.join().unwrap();
    assert_eq!((k.as_str(), m.as_str(), s), (keys[2].as_str(), "low", 1.5));
    assert_eq!(k3, keys[3]);
    assert_eq!(pairs, vec![vec!["y", "2"], vec!["x", "1"]]);
    let n: i64 = admin.exists(&keys[3]).unwrap();
    assert_eq!(n, 0);
    wait_blocked(&mut admin, 0);
}
