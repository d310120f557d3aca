//! Streams on the real binary (4 shards): an event-sourcing flow with a
//! reader blocked before the first event, competing consumers of one group
//! (every entry delivered exactly once), crash recovery with XAUTOCLAIM and
//! XCLAIM, trimming, blocking reads over keys of several shards (and what a
//! blocked XREADGROUP answers when its stream or group goes away), big
//! entries and a 200 000-entry stream paged through with XRANGE.
//!
//! Replies are compared exactly; timing only bounds liveness (20 s read
//! timeouts and polling deadlines). The tests were written against
//! redis-server 7.0: `SPINDLE_TEST_PORT=<port> cargo test --test streams --
//! --test-threads=1` runs them against any server already listening there
//! (one test at a time, since they count blocked clients) instead of
//! starting Spindle.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, encode, info_field, keys_on_distinct_shards, wait_blocked, Raw, Server};
use redis::Value;

// ---------------------------------------------------------------- helpers

/// The server under test: Spindle with 4 shards, or whatever listens on
/// `SPINDLE_TEST_PORT` (used to check these tests against redis-server).
enum Target {
    Spindle(Server),
    External(u16),
}

impl Target {
    fn start() -> Target {
        match std::env::var("SPINDLE_TEST_PORT") {
            Ok(p) => Target::External(p.parse().expect("SPINDLE_TEST_PORT is a port number")),
            Err(_) => Target::Spindle(Server::start(4)),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Target::Spindle(s) => s.port,
            Target::External(p) => *p,
        }
    }

    fn client(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port())).unwrap();
        let conn = c.get_connection().expect("connect with the redis crate");
        conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        conn
    }

    fn raw(&self) -> Raw {
        let r = connect(self.port());
        r.s.set_nodelay(true).unwrap();
        r
    }
}

/// Deletes `keys` (they only exist when an external server is reused).
fn fresh(c: &mut redis::Connection, keys: &[&str]) {
    let _: i64 = redis::cmd("DEL").arg(keys).query(c).unwrap();
}

/// One stream entry: its ID and field/value pairs (None for an entry that
/// is pending but was deleted).
type Entry = (String, Option<Vec<(String, String)>>);

fn text(v: &Value) -> String {
    match v {
        Value::Data(d) => String::from_utf8(d.clone()).unwrap(),
        Value::Status(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::Int(n) => n.to_string(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Bulk(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// `[[id, [field, value, ...]], ...]`, as XRANGE and XCLAIM answer.
fn entries(v: &Value) -> Vec<Entry> {
    items(v)
        .iter()
        .map(|e| {
            let e = items(e);
            assert_eq!(e.len(), 2, "an entry is [id, fields]");
            let fields = match &e[1] {
                Value::Nil => None,
                f => {
                    let f = items(f);
                    assert_eq!(f.len() % 2, 0, "fields come in pairs");
                    Some(f.chunks(2).map(|p| (text(&p[0]), text(&p[1]))).collect())
                }
            };
            (text(&e[0]), fields)
        })
        .collect()
}

/// XREAD / XREADGROUP (RESP2): `[[key, entries], ...]`, or nil.
fn streams(v: &Value) -> Vec<(String, Vec<Entry>)> {
    match v {
        Value::Nil => Vec::new(),
        v => items(v)
            .iter()
            .map(|s| {
                let s = items(s);
                (text(&s[0]), entries(&s[1]))
            })
            .collect(),
    }
}

/// A flat `[name, value, ...]` reply (XINFO GROUPS/CONSUMERS items).
fn fields_of(v: &Value) -> BTreeMap<String, Value> {
    items(v).chunks(2).map(|p| (text(&p[0]), p[1].clone())).collect()
}

fn pairs(kv: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn ids(es: &[Entry]) -> Vec<String> {
    es.iter().map(|e| e.0.clone()).collect()
}

/// Parses `ms-seq`.
fn id_parts(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').expect("ms-seq");
    (ms.parse().unwrap(), seq.parse().unwrap())
}

fn xpending_summary(c: &mut redis::Connection, key: &str, group: &str) -> Value {
    redis::cmd("XPENDING").arg(key).arg(group).query(c).unwrap()
}

/// XINFO GROUPS as name -> fields.
fn groups(c: &mut redis::Connection, key: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
    let v: Value = redis::cmd("XINFO").arg("GROUPS").arg(key).query(c).unwrap();
    items(&v)
        .iter()
        .map(|g| {
            let f = fields_of(g);
            (text(&f["name"]), f)
        })
        .collect()
}

fn s(x: &str) -> Value {
    Value::Data(x.as_bytes().to_vec())
}

// ------------------------------------------------------------------ tests

#[test]
fn event_sourcing_readers_blocked_before_the_first_event_receive_it() {
    let srv = Target::start();
    let mut admin = srv.client();
    fresh(&mut admin, &["order_stream"]);
    // One reader from the beginning (0), one from "now" ($): both block,
    // the stream does not exist yet.
    let mut from_zero = srv.client();
    let mut from_now = srv.client();
    let t0 = thread::spawn(move || -> Value {
        redis::cmd("XREAD")
            .arg(&["BLOCK", "0", "STREAMS", "order_stream", "0"])
            .query(&mut from_zero)
            .unwrap()
    });
    wait_blocked(&mut admin, 1);
    let t1 = thread::spawn(move || -> Value {
        redis::cmd("XREAD")
            .arg(&["BLOCK", "0", "STREAMS", "order_stream", "$"])
            .query(&mut from_now)
            .unwrap()
    });
    wait_blocked(&mut admin, 2);
    let created: String = redis::cmd("XADD")
        .arg(&[
            "order_stream",
            "*",
            "order_id",
            "123",
            "status",
            "created",
            "user_id",
            "456",
        ])
        .query(&mut admin)
        .unwrap();
    let want = vec![(
        "order_stream".to_string(),
        vec![(
            created.clone(),
            pairs(&[("order_id", "123"), ("status", "created"), ("user_id", "456")]),
        )],
    )];
    assert_eq!(streams(&t0.join().unwrap()), want);
    assert_eq!(streams(&t1.join().unwrap()), want);
    wait_blocked(&mut admin, 0);

    // A follower reads the tail from the last ID it saw, blocking each time.
    let mut follower = srv.client();
    let start = created.clone();
    let follow = thread::spawn(move || {
        let mut last = start;
        let mut seen = Vec::new();
        while seen.len() < 6 {
            let v: Value = redis::cmd("XREAD")
                .arg(&["COUNT", "2", "BLOCK", "0", "STREAMS", "order_stream", &last])
                .query(&mut follower)
                .unwrap();
            let got = streams(&v);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0, "order_stream");
            assert!(!got[0].1.is_empty() && got[0].1.len() <= 2);
            for e in &got[0].1 {
                last = e.0.clone();
                seen.push(e.clone());
            }
        }
        seen
    });
    // Later events of order 123, interleaved with another order's.
    let events = [
        ("123", "paid"),
        ("999", "created"),
        ("123", "packed"),
        ("999", "cancelled"),
        ("123", "shipped"),
        ("123", "delivered"),
    ];
    let mut added = vec![created.clone()];
    for (order, status) in events {
        let id: String = redis::cmd("XADD")
            .arg(&["order_stream", "*", "order_id", order, "status", status])
            .query(&mut admin)
            .unwrap();
        added.push(id);
    }
    // IDs grow strictly (same millisecond: the sequence grows).
    for w in added.windows(2) {
        assert!(id_parts(&w[0]) < id_parts(&w[1]), "{} then {}", w[0], w[1]);
    }
    let followed = follow.join().unwrap();
    assert_eq!(ids(&followed), added[1..].to_vec());

    let all: Value = redis::cmd("XRANGE")
        .arg(&["order_stream", "-", "+"])
        .query(&mut admin)
        .unwrap();
    let all = entries(&all);
    assert_eq!(ids(&all), added);
    let history: Vec<String> = all
        .iter()
        .filter_map(|(_, f)| {
            let f = f.as_ref().unwrap();
            (f[0] == ("order_id".to_string(), "123".to_string())).then(|| f[1].1.clone())
        })
        .collect();
    assert_eq!(history, ["created", "paid", "packed", "shipped", "delivered"]);
    // The latest event, and the events after "packed", exclusive.
    let last: Value = redis::cmd("XREVRANGE")
        .arg(&["order_stream", "+", "-", "COUNT", "1"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(
        entries(&last),
        vec![(added[6].clone(), pairs(&[("order_id", "123"), ("status", "delivered")]))]
    );
    let after: Value = redis::cmd("XRANGE")
        .arg(&["order_stream", &format!("({}", added[3]), "+"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(ids(&entries(&after)), added[4..].to_vec());
    let n: i64 = redis::cmd("XLEN").arg("order_stream").query(&mut admin).unwrap();
    assert_eq!(n, 7);
}

#[test]
fn competing_consumers_of_one_group_get_every_entry_exactly_once() {
    let srv = Target::start();
    let mut admin = srv.client();
    let key = "jobs:competing";
    fresh(&mut admin, &[key]);
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", key, "workers", "$", "MKSTREAM"])
        .query(&mut admin)
        .unwrap();
    let producers = 5;
    let per_producer = 1000;
    let total = producers * per_producer;
    // (consumer, id, payload) of every delivery.
    let got = Arc::new(Mutex::new(Vec::<(usize, String, String)>::new()));
    let delivered = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let mut consumers = Vec::new();
    // Six connections: with SO_REUSEPORT they land on several shards.
    for n in 0..6 {
        let mut c = srv.client();
        let (got, delivered, done) = (got.clone(), delivered.clone(), done.clone());
        consumers.push(thread::spawn(move || {
            let name = format!("c{n}");
            while !done.load(Ordering::Acquire) {
                let v: Value = redis::cmd("XREADGROUP")
                    .arg(&[
                        "GROUP", "workers", &name, "COUNT", "10", "BLOCK", "100", "STREAMS", key, ">",
                    ])
                    .query(&mut c)
                    .unwrap();
                let batch = streams(&v);
                if batch.is_empty() {
                    continue;
                }
                assert_eq!(batch.len(), 1);
                let es = &batch[0].1;
                assert!(!es.is_empty() && es.len() <= 10, "a batch of {}", es.len());
                let acked: i64 = redis::cmd("XACK")
                    .arg(key)
                    .arg("workers")
                    .arg(ids(es))
                    .query(&mut c)
                    .unwrap();
                assert_eq!(acked, es.len() as i64, "every delivered entry was pending");
                let mut g = got.lock().unwrap();
                for (id, f) in es {
                    let f = f.as_ref().expect("new entries have fields");
                    assert_eq!(f.len(), 1);
                    g.push((n, id.clone(), f[0].1.clone()));
                }
                delivered.fetch_add(es.len(), Ordering::AcqRel);
            }
        }));
    }
    let mut handles = Vec::new();
    for p in 0..producers {
        let mut c = srv.client();
        handles.push(thread::spawn(move || {
            for i in 0..per_producer {
                let _: String = redis::cmd("XADD")
                    .arg(&[key, "*", "job", &format!("{p}:{i}")])
                    .query(&mut c)
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while delivered.load(Ordering::Acquire) < total {
        assert!(
            Instant::now() < deadline,
            "only {} of {total} delivered",
            delivered.load(Ordering::Acquire)
        );
        thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::Release);
    for c in consumers {
        c.join().unwrap();
    }
    let got = got.lock().unwrap();
    assert_eq!(got.len(), total, "an entry was delivered twice");
    let unique_ids: HashSet<&String> = got.iter().map(|g| &g.1).collect();
    assert_eq!(unique_ids.len(), total);
    let payloads: HashSet<&String> = got.iter().map(|g| &g.2).collect();
    let want: HashSet<String> = (0..producers)
        .flat_map(|p| (0..per_producer).map(move |i| format!("{p}:{i}")))
        .collect();
    assert_eq!(payloads, want.iter().collect::<HashSet<_>>());
    // Each consumer saw its entries in stream order.
    for n in 0..6 {
        let mine: Vec<(u64, u64)> = got.iter().filter(|g| g.0 == n).map(|g| id_parts(&g.1)).collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "consumer c{n} went backwards");
    }
    // The stream holds each producer's jobs in its order.
    let all: Value = redis::cmd("XRANGE").arg(&[key, "-", "+"]).query(&mut admin).unwrap();
    let all = entries(&all);
    assert_eq!(all.len(), total);
    let mut next = vec![0; producers];
    for (_, f) in &all {
        let job = &f.as_ref().unwrap()[0].1;
        let (p, i) = job.split_once(':').unwrap();
        let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    assert_eq!(
        xpending_summary(&mut admin, key, "workers"),
        Value::Bulk(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
    let g = &groups(&mut admin, key)["workers"];
    assert_eq!(g["pending"], Value::Int(0));
    assert_eq!(g["lag"], Value::Int(0));
    assert_eq!(g["entries-read"], Value::Int(total as i64));
    assert_eq!(text(&g["last-delivered-id"]), all.last().unwrap().0);
    // Only consumers that called XREADGROUP exist, at most the six.
    let consumers = int(&g["consumers"]);
    assert!((1..=6).contains(&consumers), "{consumers} consumers");
    wait_blocked(&mut admin, 0);
}

#[test]
fn a_crashed_consumers_entries_are_recovered_with_xautoclaim_and_xclaim() {
    let srv = Target::start();
    let mut admin = srv.client();
    let key = "payments";
    fresh(&mut admin, &[key]);
    for i in 1..=10 {
        let _: String = redis::cmd("XADD")
            .arg(&[key, &format!("{i}-0"), "amount", &(i * 100).to_string()])
            .query(&mut admin)
            .unwrap();
    }
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", key, "billing", "0"])
        .query(&mut admin)
        .unwrap();

    // The consumer reads six entries and dies without acknowledging them.
    {
        let mut crashy = srv.raw();
        crashy.send(&encode(&[
            "XREADGROUP",
            "GROUP",
            "billing",
            "crashy",
            "COUNT",
            "6",
            "STREAMS",
            key,
            ">",
        ]));
        let r = crashy.reply_str();
        assert!(
            r.starts_with("*1\r\n*2\r\n$8\r\npayments\r\n*6\r\n*2\r\n$3\r\n1-0\r\n"),
            "{r:?}"
        );
        assert!(r.ends_with("$3\r\n6-0\r\n*2\r\n$6\r\namount\r\n$3\r\n600\r\n"), "{r:?}");
    }
    // Another consumer handles the rest properly.
    let mut steady = srv.client();
    let v: Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "billing", "steady", "STREAMS", key, ">"])
        .query(&mut steady)
        .unwrap();
    let rest = streams(&v);
    assert_eq!(ids(&rest[0].1), ["7-0", "8-0", "9-0", "10-0"]);
    let n: i64 = redis::cmd("XACK")
        .arg(&[key, "billing", "7-0", "8-0", "9-0", "10-0"])
        .query(&mut steady)
        .unwrap();
    assert_eq!(n, 4);

    // The crashed consumer's entries are pending under it, delivered once.
    let p: Value = redis::cmd("XPENDING")
        .arg(&[key, "billing", "-", "+", "100"])
        .query(&mut admin)
        .unwrap();
    let p = items(&p);
    assert_eq!(p.len(), 6);
    for (i, e) in p.iter().enumerate() {
        let e = items(e);
        assert_eq!(text(&e[0]), format!("{}-0", i + 1));
        assert_eq!(text(&e[1]), "crashy");
        assert!(int(&e[2]) >= 0);
        assert_eq!(e[3], Value::Int(1), "delivery count");
    }
    let only_crashy: Value = redis::cmd("XPENDING")
        .arg(&[key, "billing", "-", "+", "100", "steady"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(only_crashy, Value::Bulk(vec![]));
    assert_eq!(
        xpending_summary(&mut admin, key, "billing"),
        Value::Bulk(vec![
            Value::Int(6),
            s("1-0"),
            s("6-0"),
            Value::Bulk(vec![Value::Bulk(vec![s("crashy"), s("6")])]),
        ])
    );
    let g = &groups(&mut admin, key)["billing"];
    assert_eq!(g["consumers"], Value::Int(2));
    assert_eq!(g["pending"], Value::Int(6));
    assert_eq!(text(&g["last-delivered-id"]), "10-0");
    assert_eq!(g["entries-read"], Value::Int(10));
    assert_eq!(g["lag"], Value::Int(0));

    // Entry 4-0 is deleted while pending: XAUTOCLAIM reports it as deleted
    // and drops it from the PEL.
    let n: i64 = redis::cmd("XDEL").arg(&[key, "4-0"]).query(&mut admin).unwrap();
    assert_eq!(n, 1);
    // Entries are idle for more than a second from here; a claim with a
    // minimum of one second takes them, and leaves entries just claimed.
    thread::sleep(Duration::from_millis(1100));
    // All six, the deleted one included, are idle past the mark.
    let idle: Value = redis::cmd("XPENDING")
        .arg(&[key, "billing", "IDLE", "1000", "-", "+", "100"])
        .query(&mut admin)
        .unwrap();
    let idle: Vec<(String, i64)> = items(&idle)
        .iter()
        .map(|e| (text(&items(e)[0]), int(&items(e)[2])))
        .collect();
    assert_eq!(
        idle.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"]
    );
    assert!(idle.iter().all(|e| e.1 >= 1000), "{idle:?}");
    let mut rescuer = srv.client();
    // Too recent for a one-hour minimum: nothing moves.
    let none: Value = redis::cmd("XCLAIM")
        .arg(&[key, "billing", "rescuer", "3600000", "1-0", "2-0"])
        .query(&mut rescuer)
        .unwrap();
    assert_eq!(none, Value::Bulk(vec![]));
    let v: Value = redis::cmd("XAUTOCLAIM")
        .arg(&[key, "billing", "rescuer", "1000", "0", "COUNT", "4"])
        .query(&mut rescuer)
        .unwrap();
    let v = items(&v);
    assert_eq!(v.len(), 3);
    assert_eq!(text(&v[0]), "5-0", "next cursor");
    assert_eq!(
        entries(&v[1]),
        vec![
            ("1-0".to_string(), pairs(&[("amount", "100")])),
            ("2-0".to_string(), pairs(&[("amount", "200")])),
            ("3-0".to_string(), pairs(&[("amount", "300")])),
        ]
    );
    assert_eq!(v[2], Value::Bulk(vec![s("4-0")]));
    // The claimed ones are no longer idle enough; 5-0 and 6-0 still are.
    let v: Value = redis::cmd("XCLAIM")
        .arg(&[key, "billing", "rescuer", "1000", "1-0", "5-0", "6-0"])
        .query(&mut rescuer)
        .unwrap();
    assert_eq!(
        entries(&v),
        vec![
            ("5-0".to_string(), pairs(&[("amount", "500")])),
            ("6-0".to_string(), pairs(&[("amount", "600")])),
        ]
    );
    // JUSTID moves without counting a delivery.
    let v: Value = redis::cmd("XCLAIM")
        .arg(&[key, "billing", "rescuer", "0", "1-0", "JUSTID"])
        .query(&mut rescuer)
        .unwrap();
    assert_eq!(v, Value::Bulk(vec![s("1-0")]));

    let p: Value = redis::cmd("XPENDING")
        .arg(&[key, "billing", "-", "+", "100"])
        .query(&mut admin)
        .unwrap();
    let p: Vec<(String, String, i64)> = items(&p)
        .iter()
        .map(|e| {
            let e = items(e);
            (text(&e[0]), text(&e[1]), int(&e[3]))
        })
        .collect();
    let want: Vec<(String, String, i64)> = ["1-0", "2-0", "3-0", "5-0", "6-0"]
        .iter()
        .map(|id| (id.to_string(), "rescuer".to_string(), 2))
        .collect();
    assert_eq!(p, want);
    let v: Value = redis::cmd("XINFO")
        .arg(&["CONSUMERS", key, "billing"])
        .query(&mut admin)
        .unwrap();
    let consumers: Vec<(String, Value)> = items(&v)
        .iter()
        .map(|c| {
            let f = fields_of(c);
            (text(&f["name"]), f["pending"].clone())
        })
        .collect();
    assert_eq!(
        consumers,
        vec![
            ("crashy".to_string(), Value::Int(0)),
            ("rescuer".to_string(), Value::Int(5)),
            ("steady".to_string(), Value::Int(0)),
        ]
    );
    let g = &groups(&mut admin, key)["billing"];
    assert_eq!(g["consumers"], Value::Int(3));
    assert_eq!(g["pending"], Value::Int(5));
    assert_eq!(g["lag"], Value::Int(0));

    // The rescuer re-reads its own history, then acknowledges it.
    let v: Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "billing", "rescuer", "STREAMS", key, "0"])
        .query(&mut rescuer)
        .unwrap();
    assert_eq!(ids(&streams(&v)[0].1), ["1-0", "2-0", "3-0", "5-0", "6-0"]);
    let n: i64 = redis::cmd("XACK")
        .arg(&[key, "billing", "1-0", "2-0", "3-0", "4-0", "5-0", "6-0"])
        .query(&mut rescuer)
        .unwrap();
    assert_eq!(n, 5);
    assert_eq!(
        xpending_summary(&mut admin, key, "billing"),
        Value::Bulk(vec![Value::Int(0), Value::Nil, Value::Nil, Value::Nil])
    );
    let g = &groups(&mut admin, key)["billing"];
    assert_eq!(g["pending"], Value::Int(0));
    assert_eq!(g["lag"], Value::Int(0));
    // Nothing left to claim.
    let v: Value = redis::cmd("XAUTOCLAIM")
        .arg(&[key, "billing", "rescuer", "0", "0"])
        .query(&mut rescuer)
        .unwrap();
    assert_eq!(v, Value::Bulk(vec![s("0-0"), Value::Bulk(vec![]), Value::Bulk(vec![])]));
    // The dead consumer can be removed; it owns nothing.
    let n: i64 = redis::cmd("XGROUP")
        .arg(&["DELCONSUMER", key, "billing", "crashy"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(groups(&mut admin, key)["billing"]["consumers"], Value::Int(2));
}

#[test]
fn trimming_exact_approximate_and_while_adding() {
    let srv = Target::start();
    let mut c = srv.client();
    let (exact, nodes, capped, approx) = ("trim:exact", "trim:nodes", "trim:capped", "trim:approx");
    fresh(&mut c, &[exact, nodes, capped, approx]);
    let xlen = |c: &mut redis::Connection, k: &str| -> i64 { redis::cmd("XLEN").arg(k).query(c).unwrap() };
    let first = |c: &mut redis::Connection, k: &str| -> String {
        let v: Value = redis::cmd("XRANGE").arg(&[k, "-", "+", "COUNT", "1"]).query(c).unwrap();
        entries(&v)[0].0.clone()
    };
    let trim = |c: &mut redis::Connection, args: &[&str]| -> i64 { redis::cmd("XTRIM").arg(args).query(c).unwrap() };

    let mut p = redis::pipe();
    for i in 1..=100 {
        p.cmd("XADD")
            .arg(&[exact, &format!("{i}-0"), "n", &i.to_string()])
            .ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    assert_eq!(trim(&mut c, &[exact, "MAXLEN", "=", "60"]), 40);
    assert_eq!(xlen(&mut c, exact), 60);
    assert_eq!(first(&mut c, exact), "41-0");
    assert_eq!(trim(&mut c, &[exact, "MAXLEN", "60"]), 0);
    assert_eq!(trim(&mut c, &[exact, "MINID", "51"]), 10);
    assert_eq!(xlen(&mut c, exact), 50);
    assert_eq!(first(&mut c, exact), "51-0");
    assert_eq!(trim(&mut c, &[exact, "MINID", "=", "90-1"]), 40);
    assert_eq!(first(&mut c, exact), "91-0");
    assert_eq!(trim(&mut c, &[exact, "MAXLEN", "0"]), 10);
    assert_eq!(xlen(&mut c, exact), 0);
    // An emptied stream still exists and remembers its last ID.
    let n: i64 = redis::cmd("EXISTS").arg(exact).query(&mut c).unwrap();
    assert_eq!(n, 1);
    let r: redis::RedisResult<String> = redis::cmd("XADD").arg(&[exact, "100-0", "n", "x"]).query(&mut c);
    assert!(r.unwrap_err().to_string().contains("equal or smaller"));

    // 1000 entries fill ten nodes of 100: `~` removes whole nodes only,
    // and LIMIT caps how many entries one call may remove.
    let mut p = redis::pipe();
    for i in 1..=1000 {
        p.cmd("XADD")
            .arg(&[nodes, &format!("{i}-0"), "n", &i.to_string()])
            .ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    assert_eq!(trim(&mut c, &[nodes, "MAXLEN", "~", "950"]), 0);
    assert_eq!(trim(&mut c, &[nodes, "MAXLEN", "~", "0", "LIMIT", "250"]), 200);
    assert_eq!(xlen(&mut c, nodes), 800);
    assert_eq!(first(&mut c, nodes), "201-0");
    assert_eq!(trim(&mut c, &[nodes, "MAXLEN", "~", "650"]), 100);
    assert_eq!(trim(&mut c, &[nodes, "MAXLEN", "~", "650"]), 0);
    assert_eq!(xlen(&mut c, nodes), 700);
    assert_eq!(trim(&mut c, &[nodes, "MINID", "~", "550", "LIMIT", "99"]), 0);
    assert_eq!(trim(&mut c, &[nodes, "MINID", "~", "550"]), 200);
    assert_eq!(first(&mut c, nodes), "501-0");
    assert_eq!(trim(&mut c, &[nodes, "MAXLEN", "=", "1"]), 499);
    assert_eq!(first(&mut c, nodes), "1000-0");

    // XADD with MAXLEN keeps the stream bounded over 10 000 adds.
    for batch in 0..10 {
        let mut p = redis::pipe();
        for i in 0..1000 {
            let n = batch * 1000 + i;
            p.cmd("XADD").arg(&[capped, "MAXLEN", "100", "*", "n", &n.to_string()]);
            p.cmd("XADD")
                .arg(&[approx, "MAXLEN", "~", "1000", "*", "n", &n.to_string()])
                .ignore();
        }
        let added: Vec<String> = p.query(&mut c).unwrap();
        assert_eq!(added.len(), 1000);
        let len = xlen(&mut c, capped);
        assert_eq!(len, 100);
        let len = xlen(&mut c, approx);
        assert!((1000..1100).contains(&len), "approximate trimming left {len} entries");
    }
    let v: Value = redis::cmd("XRANGE").arg(&[capped, "-", "+"]).query(&mut c).unwrap();
    let kept: Vec<String> = entries(&v).into_iter().map(|(_, f)| f.unwrap()[0].1.clone()).collect();
    let want: Vec<String> = (9900..10000).map(|n| n.to_string()).collect();
    assert_eq!(kept, want);
    // The approximate stream keeps the newest entries too.
    let v: Value = redis::cmd("XREVRANGE")
        .arg(&[approx, "+", "-", "COUNT", "1"])
        .query(&mut c)
        .unwrap();
    assert_eq!(entries(&v)[0].1, pairs(&[("n", "9999")]));
    let len = xlen(&mut c, approx);
    let removed = trim(&mut c, &[approx, "MAXLEN", "10"]);
    assert_eq!(removed, len - 10);
    assert_eq!(xlen(&mut c, approx), 10);
}

#[test]
fn xread_blocked_on_keys_of_three_shards_wakes_with_the_written_key_only() {
    let srv = Target::start();
    let mut admin = srv.client();
    let keys = keys_on_distinct_shards("feed:", 4);
    let keys: Vec<String> = keys[..3].to_vec();
    let refs: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    fresh(&mut admin, &refs);
    for (round, target) in [1usize, 0, 2].into_iter().enumerate() {
        let mut reader = srv.client();
        let ks = keys.clone();
        let t = thread::spawn(move || -> Value {
            redis::cmd("XREAD")
                .arg(&["BLOCK", "0", "STREAMS"])
                .arg(&ks)
                .arg(&["$", "$", "$"])
                .query(&mut reader)
                .unwrap()
        });
        wait_blocked(&mut admin, 1);
        let id = format!("{}-1", round + 1);
        let _: String = redis::cmd("XADD")
            .arg(&[&keys[target], &id, "round", &round.to_string()])
            .query(&mut admin)
            .unwrap();
        let got = streams(&t.join().unwrap());
        assert_eq!(
            got,
            vec![(
                keys[target].clone(),
                vec![(id, pairs(&[("round", &round.to_string())]))]
            )]
        );
        wait_blocked(&mut admin, 0);
    }
    // Data already there on three shards: answered at once, in argument order.
    let v: Value = redis::cmd("XREAD")
        .arg(&["BLOCK", "0", "STREAMS"])
        .arg(&keys)
        .arg(&["0", "0", "0"])
        .query(&mut admin)
        .unwrap();
    let got: Vec<(String, Vec<String>)> = streams(&v).into_iter().map(|(k, es)| (k, ids(&es))).collect();
    assert_eq!(
        got,
        vec![
            (keys[0].clone(), vec!["2-1".to_string()]),
            (keys[1].clone(), vec!["1-1".to_string()]),
            (keys[2].clone(), vec!["3-1".to_string()]),
        ]
    );
    // A timeout answers nil (RESP2 null array, RESP3 null).
    let mut raw = srv.raw();
    let mut args = vec!["XREAD", "BLOCK", "30", "STREAMS"];
    args.extend(refs.iter());
    args.extend(["$", "$", "$"]);
    raw.send(&encode(&args));
    assert_eq!(raw.reply(), b"*-1\r\n");
    raw.send(b"HELLO 3\r\n");
    raw.reply();
    raw.send(&encode(&args));
    assert_eq!(raw.reply(), b"_\r\n");
    wait_blocked(&mut admin, 0);
}

#[test]
fn xreadgroup_readers_blocked_over_shards_share_the_entries() {
    let srv = Target::start();
    let mut admin = srv.client();
    let key = "tickets";
    fresh(&mut admin, &[key]);
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", key, "desk", "$", "MKSTREAM"])
        .query(&mut admin)
        .unwrap();
    let readers = 4;
    let mut threads = Vec::new();
    for r in 0..readers {
        // Connections spread over the shards; the stream lives on one.
        let mut c = srv.client();
        threads.push(thread::spawn(move || -> (String, Vec<Entry>) {
            let name = format!("agent{r}");
            let v: Value = redis::cmd("XREADGROUP")
                .arg(&["GROUP", "desk", &name, "COUNT", "1", "BLOCK", "0", "STREAMS", key, ">"])
                .query(&mut c)
                .unwrap();
            let mut got = streams(&v);
            assert_eq!(got.len(), 1);
            (name, got.remove(0).1)
        }));
    }
    wait_blocked(&mut admin, readers as i64);
    for i in 1..=readers {
        let _: String = redis::cmd("XADD")
            .arg(&[key, &format!("{i}-0"), "ticket", &i.to_string()])
            .query(&mut admin)
            .unwrap();
    }
    let mut seen = BTreeMap::new();
    for t in threads {
        let (name, es) = t.join().unwrap();
        assert_eq!(es.len(), 1, "{name} got {es:?}");
        let (id, f) = es.into_iter().next().unwrap();
        let n = id_parts(&id).0.to_string();
        assert_eq!(f, pairs(&[("ticket", &n)]));
        assert!(seen.insert(id, name).is_none(), "an entry went to two readers");
    }
    let want: Vec<String> = (1..=readers).map(|i| format!("{i}-0")).collect();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), want);
    let v = xpending_summary(&mut admin, key, "desk");
    let v = items(&v);
    assert_eq!(v[0], Value::Int(readers as i64));
    let per_consumer: Vec<(String, String)> = items(&v[3])
        .iter()
        .map(|p| (text(&items(p)[0]), text(&items(p)[1])))
        .collect();
    let want: Vec<(String, String)> = (0..readers).map(|r| (format!("agent{r}"), "1".to_string())).collect();
    assert_eq!(per_consumer, want);
    let g = &groups(&mut admin, key)["desk"];
    assert_eq!(text(&g["last-delivered-id"]), format!("{readers}-0"));
    assert_eq!(g["lag"], Value::Int(0));
    wait_blocked(&mut admin, 0);
}

#[test]
fn a_blocked_xreadgroup_answers_an_error_when_its_stream_or_group_goes_away() {
    let srv = Target::start();
    let mut admin = srv.client();
    let keys = keys_on_distinct_shards("gone:", 4);
    let refs: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    fresh(&mut admin, &refs);
    let block_on = |key: &str| -> Raw {
        let _: () = redis::cmd("XGROUP")
            .arg(&["CREATE", key, "g", "$", "MKSTREAM"])
            .query(&mut srv.client())
            .unwrap();
        let mut r = srv.raw();
        r.send(&encode(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "BLOCK",
            "0",
            "STREAMS",
            key,
            ">",
        ]));
        r
    };

    // The stream is deleted. Redis 7.0 answers UNBLOCKED; 7.4 re-runs the
    // command, which finds neither key nor group.
    let mut r = block_on(&keys[0]);
    wait_blocked(&mut admin, 1);
    let n: i64 = redis::cmd("DEL").arg(&keys[0]).query(&mut admin).unwrap();
    assert_eq!(n, 1);
    let got = r.reply_str();
    let redis_74 = format!(
        "-NOGROUP No such key '{}' or consumer group 'g' in XREADGROUP with GROUP option\r\n",
        keys[0]
    );
    assert!(
        got == redis_74 || got == "-UNBLOCKED the stream key no longer exists\r\n",
        "after DEL: {got:?}"
    );
    wait_blocked(&mut admin, 0);

    // The group is destroyed: NOGROUP (7.0: "the consumer group this client
    // was blocked on no longer exists"; 7.4: the re-run command's NOGROUP).
    let mut r = block_on(&keys[1]);
    wait_blocked(&mut admin, 1);
    let n: i64 = redis::cmd("XGROUP")
        .arg(&["DESTROY", &keys[1], "g"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(n, 1);
    let got = r.reply_str();
    assert!(got.starts_with("-NOGROUP "), "after XGROUP DESTROY: {got:?}");
    wait_blocked(&mut admin, 0);

    // The key becomes a string: 7.0 answers UNBLOCKED, 7.4 WRONGTYPE.
    let mut r = block_on(&keys[2]);
    wait_blocked(&mut admin, 1);
    let _: () = redis::cmd("SET").arg(&[&keys[2], "text"]).query(&mut admin).unwrap();
    let got = r.reply_str();
    assert!(
        got == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
            || got == "-UNBLOCKED the stream key no longer exists\r\n",
        "after SET: {got:?}"
    );
    wait_blocked(&mut admin, 0);
    // The connection is usable after the error.
    assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");

    // The stream expires (7.0: UNBLOCKED; 7.4: the re-run's NOGROUP).
    let gone = format!("{}:ttl", keys[0]);
    let mut r = block_on(&gone);
    wait_blocked(&mut admin, 1);
    let n: i64 = redis::cmd("PEXPIRE").arg(&gone).arg(50).query(&mut admin).unwrap();
    assert_eq!(n, 1);
    let got = r.reply_str();
    assert!(
        got == format!("-NOGROUP No such key '{gone}' or consumer group 'g' in XREADGROUP with GROUP option\r\n")
            || got == "-UNBLOCKED the stream key no longer exists\r\n",
        "after expiry: {got:?}"
    );
    wait_blocked(&mut admin, 0);

    // A blocked XREAD (no group) does not care: it stays blocked through
    // the type change and is served by the next stream at that key.
    let mut reader = srv.raw();
    reader.send(&encode(&["XREAD", "BLOCK", "0", "STREAMS", &keys[3], "$"]));
    wait_blocked(&mut admin, 1);
    let _: () = redis::cmd("SET").arg(&[&keys[3], "text"]).query(&mut admin).unwrap();
    let _: i64 = redis::cmd("DEL").arg(&keys[3]).query(&mut admin).unwrap();
    assert_eq!(info_field(&mut admin, "blocked_clients"), 1);
    let _: String = redis::cmd("XADD")
        .arg(&[&keys[3], "667-0", "f", "v"])
        .query(&mut admin)
        .unwrap();
    let k = &keys[3];
    assert_eq!(
        reader.reply_str(),
        format!(
            "*1\r\n*2\r\n${}\r\n{k}\r\n*1\r\n*2\r\n$5\r\n667-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
            k.len()
        )
    );

    // A short BLOCK on a group with nothing new times out with nil.
    let _: i64 = redis::cmd("DEL").arg("gone:timeout").query(&mut admin).unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "gone:timeout", "g", "$", "MKSTREAM"])
        .query(&mut admin)
        .unwrap();
    let mut r = srv.raw();
    r.send(&encode(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "BLOCK",
        "20",
        "STREAMS",
        "gone:timeout",
        ">",
    ]));
    assert_eq!(r.reply(), b"*-1\r\n");
    wait_blocked(&mut admin, 0);
}

#[test]
fn big_entries_and_a_long_stream_paged_with_xrange() {
    let srv = Target::start();
    let mut c = srv.client();
    let (wide, long) = ("big:wide", "big:long");
    fresh(&mut c, &[wide, long]);

    // 100 fields, one of them 100 KB.
    let big: String = (0..100 * 1024).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let mut fields: Vec<(String, String)> = (0..100).map(|i| (format!("field{i}"), format!("value{i}"))).collect();
    fields[50].1 = big.clone();
    let mut cmd = redis::cmd("XADD");
    cmd.arg(wide).arg("1-1");
    for (f, v) in &fields {
        cmd.arg(f).arg(v);
    }
    let id: String = cmd.query(&mut c).unwrap();
    assert_eq!(id, "1-1");
    // A second entry with other fields than the first.
    let _: String = redis::cmd("XADD")
        .arg(&[wide, "2-0", "other", ""])
        .query(&mut c)
        .unwrap();
    let v: Value = redis::cmd("XRANGE").arg(&[wide, "-", "+"]).query(&mut c).unwrap();
    let got = entries(&v);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], ("1-1".to_string(), Some(fields.clone())));
    assert_eq!(got[1], ("2-0".to_string(), pairs(&[("other", "")])));
    let v: Value = redis::cmd("XREAD")
        .arg(&["STREAMS", wide, "0-0"])
        .query(&mut c)
        .unwrap();
    assert_eq!(streams(&v)[0].1[0].1.as_ref().unwrap()[50].1.len(), 100 * 1024);

    // 200 000 entries in pipelines of 2000, then pages of 1000.
    let total = 200_000u64;
    let mut p = redis::pipe();
    for i in 1..=total {
        p.cmd("XADD")
            .arg(&[long, &format!("{i}-{}", i % 7), "n", &i.to_string()])
            .ignore();
        if i % 2000 == 0 {
            let _: () = p.query(&mut c).unwrap();
            p = redis::pipe();
        }
    }
    let n: u64 = redis::cmd("XLEN").arg(long).query(&mut c).unwrap();
    assert_eq!(n, total);
    let mut start = "-".to_string();
    let mut next = 1u64;
    let mut pages = 0;
    loop {
        let v: Value = redis::cmd("XRANGE")
            .arg(&[long, &start, "+", "COUNT", "1000"])
            .query(&mut c)
            .unwrap();
        let page = entries(&v);
        if page.is_empty() {
            break;
        }
        pages += 1;
        assert!(page.len() == 1000, "page {pages} has {} entries", page.len());
        for (id, f) in &page {
            assert_eq!(id, &format!("{next}-{}", next % 7));
            assert_eq!(f, &pairs(&[("n", &next.to_string())]));
            next += 1;
        }
        start = format!("({}", page.last().unwrap().0);
    }
    assert_eq!(pages, 200);
    assert_eq!(next, total + 1);
    // Backwards from the end, and a range in the middle.
    let v: Value = redis::cmd("XREVRANGE")
        .arg(&[long, "+", "-", "COUNT", "3"])
        .query(&mut c)
        .unwrap();
    assert_eq!(ids(&entries(&v)), ["200000-3", "199999-2", "199998-1"]);
    let v: Value = redis::cmd("XRANGE")
        .arg(&[long, "100000", "100002"])
        .query(&mut c)
        .unwrap();
    assert_eq!(ids(&entries(&v)), ["100000-5", "100001-6", "100002-0"]);
    let v: Value = redis::cmd("XREAD")
        .arg(&["COUNT", "2", "STREAMS", long, "199998"])
        .query(&mut c)
        .unwrap();
    assert_eq!(ids(&streams(&v)[0].1), ["199998-1", "199999-2"]);
    let n: i64 = redis::cmd("DEL").arg(long).query(&mut c).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn reads_across_shards_are_ordered_by_key_and_all_or_nothing() {
    let srv = Target::start();
    let mut c = srv.client();
    let keys = keys_on_distinct_shards("multi:", 4);
    let refs: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    fresh(&mut c, &refs);
    for (n, k) in keys.iter().enumerate().take(3) {
        for i in 1..=3 {
            let _: String = redis::cmd("XADD")
                .arg(&[k.as_str(), &format!("{i}-{n}"), "f", &format!("{k}:{i}")])
                .query(&mut c)
                .unwrap();
        }
    }
    // Keys of three shards (and one missing) in one XREAD: served in the
    // order asked, each from its own ID.
    let order = [&keys[2], &keys[3], &keys[0], &keys[1]];
    let v: Value = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(2)
        .arg("STREAMS")
        .arg(&order)
        .arg(&["0", "0", "1-0", "$"])
        .query(&mut c)
        .unwrap();
    let got = streams(&v);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, keys[2]);
    assert_eq!(ids(&got[0].1), vec!["1-2", "2-2"]);
    assert_eq!(got[1].0, keys[0]);
    assert_eq!(ids(&got[1].1), vec!["2-0", "3-0"]);

    // A group missing on a later key fails the whole XREADGROUP: the
    // earlier key's group gains no consumer and delivers nothing.
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", &keys[0], "g", "0"])
        .query(&mut c)
        .unwrap();
    let err = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "alice", "STREAMS", &keys[0], &keys[1], ">", ">"])
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(err.code(), Some("NOGROUP"), "{err:?}");
    let consumers: Vec<Value> = redis::cmd("XINFO")
        .arg(&["CONSUMERS", &keys[0], "g"])
        .query(&mut c)
        .unwrap();
    assert!(consumers.is_empty(), "{consumers:?}");
    assert_eq!(int(&groups(&mut c, &keys[0])["g"]["pending"]), 0);

    // With the group on both, one call delivers from both shards.
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", &keys[1], "g", "0"])
        .query(&mut c)
        .unwrap();
    let v: Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "alice", "STREAMS", &keys[1], &keys[0], ">", ">"])
        .query(&mut c)
        .unwrap();
    let got = streams(&v);
    assert_eq!(
        got.iter().map(|(k, e)| (k.clone(), e.len())).collect::<Vec<_>>(),
        vec![(keys[1].clone(), 3), (keys[0].clone(), 3)]
    );
    assert_eq!(int(&groups(&mut c, &keys[0])["g"]["pending"]), 3);
    assert_eq!(int(&groups(&mut c, &keys[1])["g"]["pending"]), 3);
    // Nothing new anywhere: a null reply.
    let v: Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "g", "alice", "STREAMS", &keys[1], &keys[0], ">", ">"])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, Value::Nil);
}

#[test]
fn blocked_reads_wake_only_as_redis_7_4_does() {
    let srv = Target::start();
    let mut admin = srv.client();
    let keys = keys_on_distinct_shards("wake:", 4);
    let refs: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    fresh(&mut admin, &refs);
    let reply_of = |r: &mut Raw| r.reply_str();

    // A group named "streams" still blocks.
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", &keys[0], "streams", "$", "MKSTREAM"])
        .query(&mut admin)
        .unwrap();
    let mut r = srv.raw();
    r.send(&encode(&[
        "XREADGROUP",
        "GROUP",
        "streams",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        &keys[0],
        ">",
    ]));
    wait_blocked(&mut admin, 1);
    let _: String = redis::cmd("XADD")
        .arg(&[&keys[0], "1-0", "f", "v"])
        .query(&mut admin)
        .unwrap();
    assert!(reply_of(&mut r).contains("1-0"));
    wait_blocked(&mut admin, 0);

    // XGROUP SETID does not wake a group reader; the next XADD delivers
    // from the new position.
    let _: String = redis::cmd("XADD")
        .arg(&[&keys[1], "1-0", "a", "1"])
        .query(&mut admin)
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", &keys[1], "g", "$"])
        .query(&mut admin)
        .unwrap();
    let mut r = srv.raw();
    r.send(&encode(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        &keys[1],
        ">",
    ]));
    wait_blocked(&mut admin, 1);
    let _: () = redis::cmd("XGROUP")
        .arg(&["SETID", &keys[1], "g", "0"])
        .query(&mut admin)
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&[&keys[1], "2-0", "b", "2"])
        .query(&mut admin)
        .unwrap();
    let got = reply_of(&mut r);
    assert!(got.contains("1-0") && got.contains("2-0"), "{got:?}");
    wait_blocked(&mut admin, 0);

    // A blocked `XREAD ... +` gets the last entry only.
    let mut r = srv.raw();
    r.send(&encode(&["XREAD", "BLOCK", "0", "STREAMS", &keys[2], "+"]));
    wait_blocked(&mut admin, 1);
    let mut m = srv.raw();
    m.send(&encode(&["MULTI"]));
    m.send(&encode(&["XADD", &keys[2], "1-0", "a", "1"]));
    m.send(&encode(&["XADD", &keys[2], "2-0", "b", "2"]));
    m.send(&encode(&["EXEC"]));
    for _ in 0..4 {
        m.reply();
    }
    let got = reply_of(&mut r);
    assert!(got.contains("2-0") && !got.contains("1-0"), "{got:?}");
    wait_blocked(&mut admin, 0);
}
