//! Pub/sub on the real binary (4 shards unless noted): fan-out over
//! connections of every shard, patterns, sharded channels, RESP3 pushes,
//! the RESP2 subscribed context, ordering, slow subscribers and the output
//! limit, cleanup on disconnect, PUBLISH inside MULTI and scripts, and the
//! exact (un)subscribe replies against redis-server.
//!
//! Connections land on shards by the kernel's SO_REUSEPORT hash, so tests
//! that need subscribers on several shards open many connections (8
//! connections all on one of 4 shards has odds of 4^-7).
//!
//! No assertion depends on timing: read timeouts (20 s) and polling
//! deadlines only bound how long "it should arrive" may take.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use common::{encode, keys_on_distinct_shards, reply_len, Raw, Redis, Server};

// ---------------------------------------------------------------- helpers

/// A parsed reply: enough of RESP2/RESP3 to look inside messages.
#[derive(Debug, Clone, PartialEq)]
enum F {
    Str(Vec<u8>),
    Int(i64),
    Err(String),
    Nil,
    Arr(Vec<F>),
    Push(Vec<F>),
    Other(Vec<u8>),
}

fn parse(b: &[u8]) -> F {
    let (f, n) = parse_at(b, 0);
    assert_eq!(n, b.len(), "trailing bytes after a frame");
    f
}

fn parse_at(b: &[u8], at: usize) -> (F, usize) {
    let end = at + b[at..].windows(2).position(|w| w == b"\r\n").expect("CRLF");
    let head = std::str::from_utf8(&b[at + 1..end]).unwrap();
    let after = end + 2;
    match b[at] {
        b'+' => (F::Str(head.as_bytes().to_vec()), after),
        b'-' => (F::Err(head.to_string()), after),
        b':' => (F::Int(head.parse().unwrap()), after),
        b'_' => (F::Nil, after),
        b'$' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return (F::Nil, after);
            }
            let n = n as usize;
            (F::Str(b[after..after + n].to_vec()), after + n + 2)
        }
        b'*' | b'>' => {
            let n: i64 = head.parse().unwrap();
            if n < 0 {
                return (F::Nil, after);
            }
            let mut pos = after;
            let mut items = Vec::new();
            for _ in 0..n {
                let (f, p) = parse_at(b, pos);
                items.push(f);
                pos = p;
            }
            (if b[at] == b'>' { F::Push(items) } else { F::Arr(items) }, pos)
        }
        _ => {
            let n = reply_len(b, at).expect("a whole frame");
            (F::Other(b[at..at + n].to_vec()), at + n)
        }
    }
}

fn bulk(s: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", s.len()).into_bytes();
    v.extend_from_slice(s);
    v.extend_from_slice(b"\r\n");
    v
}

/// The exact bytes of a message frame: `*3`/`>3` message (or smessage),
/// channel, payload.
fn message_frame(resp3: bool, kind: &str, channel: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = if resp3 { b">3\r\n".to_vec() } else { b"*3\r\n".to_vec() };
    v.extend(bulk(kind.as_bytes()));
    v.extend(bulk(channel.as_bytes()));
    v.extend(bulk(payload));
    v
}

fn pmessage_frame(resp3: bool, pattern: &str, channel: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = if resp3 { b">4\r\n".to_vec() } else { b"*4\r\n".to_vec() };
    v.extend(bulk(b"pmessage"));
    v.extend(bulk(pattern.as_bytes()));
    v.extend(bulk(channel.as_bytes()));
    v.extend(bulk(payload));
    v
}

/// The exact bytes of a (un)subscribe confirmation.
fn confirm(resp3: bool, kind: &str, channel: Option<&str>, count: i64) -> Vec<u8> {
    let mut v = if resp3 { b">3\r\n".to_vec() } else { b"*3\r\n".to_vec() };
    v.extend(bulk(kind.as_bytes()));
    match channel {
        Some(c) => v.extend(bulk(c.as_bytes())),
        None => v.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
    v.extend(format!(":{count}\r\n").into_bytes());
    v
}

/// `(channel, payload)` of a message frame, `(pattern, channel, payload)`
/// flattened for pmessage; panics on anything else.
fn message_parts(frame: &[u8]) -> (String, Vec<Vec<u8>>) {
    let items = match parse(frame) {
        F::Arr(v) | F::Push(v) => v,
        other => panic!("not a message: {other:?}"),
    };
    let mut parts = items.into_iter().map(|f| match f {
        F::Str(s) => s,
        other => panic!("not a bulk in a message: {other:?}"),
    });
    let kind = String::from_utf8(parts.next().unwrap()).unwrap();
    (kind, parts.collect())
}

/// Opens `n` raw connections subscribed (RESP2) to `channels`.
fn raw_subscribers(srv: &Server, n: usize, cmd: &str, channels: &[&str]) -> Vec<Raw> {
    (0..n)
        .map(|_| {
            let mut c = srv.raw();
            let mut args = vec![cmd];
            args.extend_from_slice(channels);
            c.send(&encode(&args));
            for _ in channels {
                let r = c.reply();
                assert!(r.starts_with(b"*3\r\n"), "{}", String::from_utf8_lossy(&r));
            }
            c
        })
        .collect()
}

fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
        .parse()
        .unwrap()
}

/// `PUBSUB NUMSUB` (or SHARDNUMSUB) of one channel.
fn numsub(c: &mut Raw, sub: &str, channel: &str) -> i64 {
    c.send(&encode(&["PUBSUB", sub, channel]));
    match parse(&c.reply()) {
        F::Arr(v) => match &v[1] {
            F::Int(n) => *n,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

/// Polls `f` until it returns `want` (bounded; not a timing assertion).
fn eventually<T: PartialEq + std::fmt::Debug>(what: &str, want: T, mut f: impl FnMut() -> T) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = f();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got:?}, want {want:?}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn sorted_strings(f: F) -> Vec<String> {
    let mut v: Vec<String> = match f {
        F::Arr(v) => v
            .into_iter()
            .map(|x| match x {
                F::Str(s) => String::from_utf8(s).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    v.sort();
    v
}

/// An INFO field of any section.
fn info(c: &mut Raw, section: &str, name: &str) -> u64 {
    c.send(&encode(&["INFO", section]));
    let text = match parse(&c.reply()) {
        F::Str(s) => String::from_utf8(s).unwrap(),
        other => panic!("{other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
        .trim()
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------- fan-out

#[test]
fn fan_out_reaches_every_subscriber_on_every_shard() {
    let srv = Server::start(4);
    // 24 raw subscribers on fan:a and fan:b, 16 more on fan:b and fan:c,
    // and 8 redis-crate subscribers (in threads) on fan:a.
    let mut ab = raw_subscribers(&srv, 24, "SUBSCRIBE", &["fan:a", "fan:b"]);
    let mut bc = raw_subscribers(&srv, 16, "SUBSCRIBE", &["fan:b", "fan:c"]);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let crate_subs: Vec<_> = (0..8)
        .map(|_| {
            let mut conn = srv.client();
            let ready = ready_tx.clone();
            thread::spawn(move || {
                let mut ps = conn.as_pubsub();
                ps.subscribe("fan:a").unwrap();
                ps.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                ready.send(()).unwrap();
                (0..100)
                    .map(|_| {
                        let m = ps.get_message().unwrap();
                        assert_eq!(m.get_channel_name(), "fan:a");
                        m.get_payload::<String>().unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for _ in 0..8 {
        ready_rx.recv().unwrap();
    }
    let mut p = srv.raw();
    // NUMSUB, CHANNELS agree from a few connections (any shard answers).
    for _ in 0..4 {
        let mut q = srv.raw();
        q.send(&encode(&["PUBSUB", "NUMSUB", "fan:a", "fan:b", "fan:c", "fan:none"]));
        assert_eq!(
            q.reply(),
            b"*8\r\n$5\r\nfan:a\r\n:32\r\n$5\r\nfan:b\r\n:40\r\n$5\r\nfan:c\r\n:16\r\n$8\r\nfan:none\r\n:0\r\n"
        );
        q.send(&encode(&["PUBSUB", "CHANNELS", "fan:*"]));
        assert_eq!(sorted_strings(parse(&q.reply())), ["fan:a", "fan:b", "fan:c"]);
        q.send(&encode(&["PUBSUB", "CHANNELS", "fan:[ab]"]));
        assert_eq!(sorted_strings(parse(&q.reply())), ["fan:a", "fan:b"]);
        assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    }
    for i in 0..100 {
        let m = format!("m{i}");
        assert_eq!(int(&p.cmd(&["PUBLISH", "fan:a", &m])), 32);
        assert_eq!(int(&p.cmd(&["PUBLISH", "fan:b", &m])), 40);
        assert_eq!(int(&p.cmd(&["PUBLISH", "fan:c", &m])), 16);
        assert_eq!(int(&p.cmd(&["PUBLISH", "fan:none", &m])), 0);
    }
    // Per channel, in publish order. (Across channels the order may differ
    // from Redis: see `cross_channel_order` in the report.)
    for (group, chans) in [(&mut ab, ["fan:a", "fan:b"]), (&mut bc, ["fan:b", "fan:c"])] {
        for s in group.iter_mut() {
            let mut next = [0usize; 2];
            for _ in 0..200 {
                let (kind, parts) = message_parts(&s.reply());
                assert_eq!(kind, "message");
                let k = chans
                    .iter()
                    .position(|c| c.as_bytes() == parts[0])
                    .expect("a subscribed channel");
                assert_eq!(parts[1], format!("m{}", next[k]).into_bytes(), "order on {}", chans[k]);
                next[k] += 1;
            }
            assert_eq!(next, [100, 100]);
        }
    }
    for t in crate_subs {
        let got = t.join().unwrap();
        assert_eq!(got, (0..100).map(|i| format!("m{i}")).collect::<Vec<_>>());
    }
}

// ---------------------------------------------------------------- patterns

#[test]
fn patterns_match_globs_and_follow_the_channel_message() {
    let srv = Server::start(4);
    let mut news = raw_subscribers(&srv, 4, "PSUBSCRIBE", &["news.*"]);
    let mut hello = raw_subscribers(&srv, 4, "PSUBSCRIBE", &["h?llo"]);
    let mut ab = raw_subscribers(&srv, 4, "PSUBSCRIBE", &["[ab]*"]);
    let mut p = srv.raw();
    let cases: &[(&str, [bool; 3])] = &[
        ("news.sport", [true, false, false]),
        ("news.", [true, false, false]),
        ("newsx", [false, false, false]),
        ("hello", [false, true, false]),
        ("hallo", [false, true, false]),
        ("bello", [false, false, true]),
        ("hllo", [false, false, false]),
        ("apple", [false, false, true]),
        ("b", [false, false, true]),
        ("cab", [false, false, false]),
    ];
    for (ch, hits) in cases {
        let want = hits.iter().filter(|&&h| h).count() as i64 * 4;
        assert_eq!(int(&p.cmd(&["PUBLISH", ch, ch])), want, "PUBLISH {ch}");
    }
    for (group, pat, idx) in [
        (&mut news, "news.*", 0),
        (&mut hello, "h?llo", 1),
        (&mut ab, "[ab]*", 2),
    ] {
        for s in group.iter_mut() {
            for (ch, hits) in cases {
                if hits[idx] {
                    assert_eq!(s.reply(), pmessage_frame(false, pat, ch, ch.as_bytes()));
                }
            }
            // Nothing else: PUNSUBSCRIBE's confirmation is the next frame.
            s.send(&encode(&["PUNSUBSCRIBE", pat]));
            assert_eq!(s.reply(), confirm(false, "punsubscribe", Some(pat), 0));
        }
    }
    // PUNSUBSCRIBE stopped delivery.
    eventually("NUMPAT after PUNSUBSCRIBE", ":0\r\n".to_string(), || {
        p.cmd(&["PUBSUB", "NUMPAT"])
    });
    assert_eq!(p.cmd(&["PUBLISH", "news.x", "late"]), ":0\r\n");

    // A client on a channel and a matching pattern: message, then pmessage.
    let mut both = srv.raw();
    both.send(&encode(&["SUBSCRIBE", "news.tech"]));
    assert_eq!(both.reply(), confirm(false, "subscribe", Some("news.tech"), 1));
    both.send(&encode(&["PSUBSCRIBE", "news.*"]));
    assert_eq!(both.reply(), confirm(false, "psubscribe", Some("news.*"), 2));
    for i in 0..20 {
        assert_eq!(p.cmd(&["PUBLISH", "news.tech", &i.to_string()]), ":2\r\n");
    }
    for i in 0..20 {
        let m = i.to_string();
        assert_eq!(both.reply(), message_frame(false, "message", "news.tech", m.as_bytes()));
        assert_eq!(both.reply(), pmessage_frame(false, "news.*", "news.tech", m.as_bytes()));
    }
    // Two patterns matching one channel: one pmessage each.
    both.send(&encode(&["PSUBSCRIBE", "*tech"]));
    assert_eq!(both.reply(), confirm(false, "psubscribe", Some("*tech"), 3));
    assert_eq!(p.cmd(&["PUBLISH", "news.tech", "x"]), ":3\r\n");
    assert_eq!(both.reply(), message_frame(false, "message", "news.tech", b"x"));
    let mut pm = vec![both.reply(), both.reply()];
    pm.sort();
    let mut want = vec![
        pmessage_frame(false, "news.*", "news.tech", b"x"),
        pmessage_frame(false, "*tech", "news.tech", b"x"),
    ];
    want.sort();
    assert_eq!(pm, want);
    both.send(&encode(&["PUNSUBSCRIBE"]));
    // Both patterns go, in either order: counts 2, then 1.
    let (first, second) = (both.reply(), both.reply());
    assert!(first.starts_with(b"*3\r\n$12\r\npunsubscribe\r\n") && first.ends_with(b":2\r\n"));
    assert!(second.starts_with(b"*3\r\n$12\r\npunsubscribe\r\n") && second.ends_with(b":1\r\n"));
    assert_ne!(first, second);
    assert_eq!(p.cmd(&["PUBLISH", "news.tech", "only"]), ":1\r\n");
    assert_eq!(both.reply(), message_frame(false, "message", "news.tech", b"only"));
}

#[test]
fn numpat_counts_distinct_patterns_across_shards() {
    let srv = Server::start(4);
    // 12 clients; client i subscribes np.{i%3}.* and np.all*: 4 distinct.
    let mut subs: Vec<Raw> = (0..12)
        .map(|i| {
            let mut c = srv.raw();
            let own = format!("np.{}.*", i % 3);
            c.send(&encode(&["PSUBSCRIBE", &own, "np.all*"]));
            c.reply();
            c.reply();
            c
        })
        .collect();
    let mut qs: Vec<Raw> = (0..8).map(|_| srv.raw()).collect();
    for q in &mut qs {
        assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), ":4\r\n");
        // Patterns are not channels.
        assert_eq!(q.cmd(&["PUBSUB", "CHANNELS"]), "*0\r\n");
    }
    assert_eq!(qs[0].cmd(&["PUBLISH", "np.1.x", "v"]), ":4\r\n");
    assert_eq!(qs[0].cmd(&["PUBLISH", "np.allx", "w"]), ":12\r\n");
    for (i, s) in subs.iter_mut().enumerate() {
        if i % 3 == 1 {
            assert_eq!(s.reply(), pmessage_frame(false, "np.1.*", "np.1.x", b"v"));
        }
        assert_eq!(s.reply(), pmessage_frame(false, "np.all*", "np.allx", b"w"));
    }
    // Dropping np.0.* from its 4 clients: 3 distinct left.
    for s in subs.iter_mut().step_by(3) {
        s.send(&encode(&["PUNSUBSCRIBE", "np.0.*"]));
        assert_eq!(s.reply(), confirm(false, "punsubscribe", Some("np.0.*"), 1));
    }
    for q in &mut qs {
        assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), ":3\r\n");
    }
    // One client left with np.1.*: still counted once.
    for s in subs.iter_mut().skip(4).step_by(3) {
        s.send(&encode(&["PUNSUBSCRIBE", "np.1.*"]));
        s.reply();
    }
    for q in &mut qs {
        assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), ":3\r\n");
    }
    assert_eq!(qs[1].cmd(&["PUBLISH", "np.1.x", "v"]), ":1\r\n");
}

// ---------------------------------------------------------------- sharded

#[test]
fn shard_channels_are_separate_from_classic_channels() {
    let srv = Server::start(4);
    let mut shard_subs = raw_subscribers(&srv, 10, "SSUBSCRIBE", &["orders"]);
    let mut classic = raw_subscribers(&srv, 6, "SUBSCRIBE", &["orders"]);
    let mut p = srv.raw();
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDNUMSUB", "orders", "nope"]),
        "*4\r\n$6\r\norders\r\n:10\r\n$4\r\nnope\r\n:0\r\n"
    );
    assert_eq!(p.cmd(&["PUBSUB", "NUMSUB", "orders"]), "*2\r\n$6\r\norders\r\n:6\r\n");
    assert_eq!(p.cmd(&["PUBSUB", "SHARDCHANNELS"]), "*1\r\n$6\r\norders\r\n");
    assert_eq!(p.cmd(&["PUBSUB", "SHARDCHANNELS", "ord*"]), "*1\r\n$6\r\norders\r\n");
    assert_eq!(p.cmd(&["PUBSUB", "SHARDCHANNELS", "x*"]), "*0\r\n");
    assert_eq!(p.cmd(&["PUBSUB", "CHANNELS"]), "*1\r\n$6\r\norders\r\n");
    assert_eq!(p.cmd(&["SPUBLISH", "orders", "s1"]), ":10\r\n");
    assert_eq!(p.cmd(&["PUBLISH", "orders", "c1"]), ":6\r\n");
    assert_eq!(p.cmd(&["SPUBLISH", "orders", "s2"]), ":10\r\n");
    // A pattern never matches a shard channel.
    let mut pat = raw_subscribers(&srv, 1, "PSUBSCRIBE", &["ord*"]);
    assert_eq!(p.cmd(&["SPUBLISH", "orders", "s3"]), ":10\r\n");
    for s in &mut shard_subs {
        for m in ["s1", "s2", "s3"] {
            assert_eq!(s.reply(), message_frame(false, "smessage", "orders", m.as_bytes()));
        }
    }
    for s in &mut classic {
        assert_eq!(s.reply(), message_frame(false, "message", "orders", b"c1"));
    }
    assert_eq!(p.cmd(&["PUBLISH", "orders", "c2"]), ":7\r\n");
    assert_eq!(pat[0].reply(), pmessage_frame(false, "ord*", "orders", b"c2"));
    for s in &mut classic {
        assert_eq!(s.reply(), message_frame(false, "message", "orders", b"c2"));
    }
    // SUNSUBSCRIBE: the count in its confirmation is of shard channels only.
    let mut mixed = srv.raw();
    mixed.send(&encode(&["SUBSCRIBE", "a", "b"]));
    mixed.reply();
    mixed.reply();
    mixed.send(&encode(&["SSUBSCRIBE", "orders"]));
    assert_eq!(mixed.reply(), confirm(false, "ssubscribe", Some("orders"), 1));
    mixed.send(&encode(&["SUNSUBSCRIBE"]));
    assert_eq!(mixed.reply(), confirm(false, "sunsubscribe", Some("orders"), 0));
    for s in shard_subs.iter_mut().take(4) {
        s.send(&encode(&["SUNSUBSCRIBE", "orders"]));
        assert_eq!(s.reply(), confirm(false, "sunsubscribe", Some("orders"), 0));
    }
    assert_eq!(
        p.cmd(&["PUBSUB", "SHARDNUMSUB", "orders"]),
        "*2\r\n$6\r\norders\r\n:6\r\n"
    );
    assert_eq!(p.cmd(&["SPUBLISH", "orders", "s4"]), ":6\r\n");
    for s in shard_subs.iter_mut().skip(4) {
        assert_eq!(s.reply(), message_frame(false, "smessage", "orders", b"s4"));
    }
}

/// Redis runs a publish to the end before it answers, so a publisher that
/// waits for PUBLISH a's reply before PUBLISH b has every subscriber of both
/// see a first. Spindle's PUBLISH answers once every receiving shard has
/// the message, so b (another owner, another mesh channel) cannot overtake.
#[test]
fn order_across_channels_follows_the_publisher() {
    let srv = Server::start(4);
    let (a, b) = {
        let k = keys_on_distinct_shards("xch", 4);
        (k[0].clone(), k[1].clone())
    };
    let mut subs = raw_subscribers(&srv, 8, "SUBSCRIBE", &[&a, &b]);
    let mut p = srv.raw();
    for i in 0..2000 {
        assert_eq!(p.cmd(&["PUBLISH", &a, &i.to_string()]), ":8\r\n");
        assert_eq!(p.cmd(&["PUBLISH", &b, &i.to_string()]), ":8\r\n");
    }
    eprintln!("a={a} b={b}");
    for (n, s) in subs.iter_mut().enumerate() {
        let got: Vec<(String, String)> = (0..4000)
            .map(|_| {
                let (_, parts) = message_parts(&s.reply());
                (
                    String::from_utf8(parts[0].clone()).unwrap(),
                    String::from_utf8(parts[1].clone()).unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = (0..2000)
            .flat_map(|i| [(a.clone(), i.to_string()), (b.clone(), i.to_string())])
            .collect();
        if let Some(at) = (0..4000).find(|&j| got[j] != want[j]) {
            panic!(
                "subscriber {n}: from message {at}, got {:?}, want {:?}",
                &got[at.saturating_sub(2)..(at + 6).min(4000)],
                &want[at.saturating_sub(2)..(at + 6).min(4000)]
            );
        }
    }
}

// ---------------------------------------------------------------- RESP3

/// Reads frames until `want` non-push replies came; returns all frames.
fn read_until_replies(c: &mut Raw, want: usize) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut replies = 0;
    while replies < want {
        let f = c.reply();
        if f[0] != b'>' {
            replies += 1;
        }
        frames.push(f);
    }
    frames
}

#[test]
fn resp3_pushes_never_split_replies() {
    let srv = Server::start(4);
    let keys = keys_on_distinct_shards("r3key", 4);
    let mut c = srv.raw();
    c.send(&encode(&["HELLO", "3"]));
    assert!(c.reply().starts_with(b"%"));
    c.send(&encode(&["SUBSCRIBE", "r3"]));
    assert_eq!(c.reply(), b">3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n");
    c.send(&encode(&["PSUBSCRIBE", "r*"]));
    assert_eq!(c.reply(), b">3\r\n$10\r\npsubscribe\r\n$2\r\nr*\r\n:2\r\n");
    // Regular commands work on the subscribed connection.
    let big = "v".repeat(10_000);
    for k in &keys {
        assert_eq!(c.cmd(&["SET", k, &big]), "+OK\r\n");
    }
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");

    // A pipeline interleaving PUBLISH to self with GETs of keys on every
    // shard (large replies), parsed frame by frame.
    let rounds = 200;
    let mut req = Vec::new();
    for i in 0..rounds {
        let payload = format!("{i}:{}", "p".repeat(i * 37 % 3000));
        req.extend(encode(&["PUBLISH", "r3", &payload]));
        req.extend(encode(&["GET", &keys[i % 4]]));
    }
    c.send(&req);
    let frames = read_until_replies(&mut c, rounds * 2);
    let mut replies = Vec::new();
    let mut pushes = Vec::new();
    for f in &frames {
        if f[0] == b'>' {
            pushes.push(f.clone());
            // A message never arrives before its PUBLISH's reply.
            assert!(
                replies.len() > (pushes.len() - 1) / 2 * 2,
                "message {} arrived before the reply to its PUBLISH",
                pushes.len()
            );
        } else {
            replies.push(f.clone());
        }
    }
    for i in 0..rounds {
        assert_eq!(replies[2 * i], b":2\r\n", "reply to PUBLISH {i}");
        assert_eq!(replies[2 * i + 1], bulk(big.as_bytes()), "reply to GET {i}");
    }
    // Both deliveries of every message, in order (some may still be in
    // flight after the last reply).
    while pushes.len() < rounds * 2 {
        pushes.push(c.reply());
    }
    for i in 0..rounds {
        let payload = format!("{i}:{}", "p".repeat(i * 37 % 3000));
        assert_eq!(pushes[2 * i], message_frame(true, "message", "r3", payload.as_bytes()));
        assert_eq!(pushes[2 * i + 1], pmessage_frame(true, "r*", "r3", payload.as_bytes()));
    }
    // Messages from another connection arrive as pushes too.
    let mut p = srv.raw();
    assert_eq!(p.cmd(&["PUBLISH", "r3", "ext"]), ":2\r\n");
    assert_eq!(c.reply(), b">3\r\n$7\r\nmessage\r\n$2\r\nr3\r\n$3\r\next\r\n");
    assert_eq!(
        c.reply(),
        b">4\r\n$8\r\npmessage\r\n$2\r\nr*\r\n$2\r\nr3\r\n$3\r\next\r\n"
    );
    c.send(&encode(&["UNSUBSCRIBE"]));
    assert_eq!(c.reply(), b">3\r\n$11\r\nunsubscribe\r\n$2\r\nr3\r\n:1\r\n");
    assert_eq!(
        c.cmd(&["GET", &keys[0]]),
        String::from_utf8(bulk(big.as_bytes())).unwrap()
    );
}

#[test]
fn client_reply_off_passes_confirmations_and_messages() {
    let srv = Server::start(4);
    let mut p = srv.raw();
    // RESP3: confirmations and messages are pushes, delivered even with
    // replies off; ordinary replies are dropped.
    let mut c = srv.raw();
    c.send(&encode(&["HELLO", "3"]));
    c.reply();
    c.send(&encode(&["CLIENT", "REPLY", "OFF"]));
    c.send(&encode(&["SUBSCRIBE", "ro"]));
    assert_eq!(c.reply(), confirm(true, "subscribe", Some("ro"), 1));
    c.send(&encode(&["SET", "rokey", "v"]));
    assert_eq!(p.cmd(&["PUBLISH", "ro", "m1"]), ":1\r\n");
    assert_eq!(c.reply(), message_frame(true, "message", "ro", b"m1"));
    c.send(&encode(&["CLIENT", "REPLY", "ON"]));
    assert_eq!(c.reply(), b"+OK\r\n");
    assert_eq!(c.cmd(&["GET", "rokey"]), "$1\r\nv\r\n");
    // RESP2 too (as redis-server 7.0.15 does): confirmations and messages
    // pass the switch, the other replies do not; RESET turns replies back
    // on and answers.
    let mut c2 = srv.raw();
    c2.send(&encode(&["CLIENT", "REPLY", "OFF"]));
    c2.send(&encode(&["SUBSCRIBE", "ro"]));
    assert_eq!(c2.reply(), confirm(false, "subscribe", Some("ro"), 1));
    c2.send(&encode(&["GET", "rokey"]));
    assert_eq!(p.cmd(&["PUBLISH", "ro", "m2"]), ":2\r\n");
    assert_eq!(c.reply(), message_frame(true, "message", "ro", b"m2"));
    assert_eq!(c2.reply(), message_frame(false, "message", "ro", b"m2"));
    c2.send(&encode(&["UNSUBSCRIBE"]));
    assert_eq!(c2.reply(), confirm(false, "unsubscribe", Some("ro"), 0));
    c2.send(&encode(&["SET", "rokey", "w"]));
    assert_eq!(c2.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(c2.cmd(&["GET", "rokey"]), "$1\r\nw\r\n");
    assert_eq!(p.cmd(&["PUBLISH", "ro", "m3"]), ":1\r\n");
}

// ---------------------------------------------------------------- RESP2 context

#[test]
fn resp2_subscribed_context() {
    let srv = Server::start(4);
    let mut c = srv.raw();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
    c.send(&encode(&["SUBSCRIBE", "ctx1", "ctx2"]));
    assert_eq!(c.reply(), confirm(false, "subscribe", Some("ctx1"), 1));
    assert_eq!(c.reply(), confirm(false, "subscribe", Some("ctx2"), 2));
    assert_eq!(
        c.cmd(&["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(c.cmd(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(c.cmd(&["PING", "hi"]), "*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    c.send(&encode(&["UNSUBSCRIBE", "ctx1"]));
    assert_eq!(c.reply(), confirm(false, "unsubscribe", Some("ctx1"), 1));
    assert!(c.cmd(&["GET", "k"]).starts_with("-ERR Can't execute 'get'"));
    c.send(&encode(&["PSUBSCRIBE", "x*"]));
    assert_eq!(c.reply(), confirm(false, "psubscribe", Some("x*"), 2));
    c.send(&encode(&["UNSUBSCRIBE"]));
    assert_eq!(c.reply(), confirm(false, "unsubscribe", Some("ctx2"), 1));
    assert!(c.cmd(&["GET", "k"]).starts_with("-ERR Can't execute 'get'"));
    c.send(&encode(&["PUNSUBSCRIBE"]));
    assert_eq!(c.reply(), confirm(false, "punsubscribe", Some("x*"), 0));
    // Out of subscribed mode.
    assert_eq!(c.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    // A shard channel alone also puts the connection in that mode.
    c.send(&encode(&["SSUBSCRIBE", "sctx"]));
    assert_eq!(c.reply(), confirm(false, "ssubscribe", Some("sctx"), 1));
    assert!(c.cmd(&["GET", "k"]).starts_with("-ERR Can't execute 'get'"));
    // RESET leaves subscribed mode and drops every subscription.
    c.send(&encode(&["SUBSCRIBE", "ctx3"]));
    c.reply();
    assert_eq!(c.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.cmd(&["GET", "k"]), "$1\r\nv\r\n");
    let mut p = srv.raw();
    assert_eq!(p.cmd(&["PUBLISH", "ctx3", "x"]), ":0\r\n");
    assert_eq!(p.cmd(&["SPUBLISH", "sctx", "x"]), ":0\r\n");
}

// ---------------------------------------------------------------- ordering

fn publish_numbered(p: &mut Raw, channel: &str, prefix: &str, n: usize, receivers: i64) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut req = Vec::new();
        for i in chunk {
            req.extend(encode(&["PUBLISH", channel, &format!("{prefix}{i}")]));
        }
        p.send(&req);
        for _ in chunk {
            assert_eq!(int(&p.reply_str()), receivers);
        }
    }
}

#[test]
fn ten_thousand_messages_arrive_in_order_on_every_subscriber() {
    let srv = Server::start(4);
    let n = 10_000;
    let mut direct = raw_subscribers(&srv, 8, "SUBSCRIBE", &["ord"]);
    let mut by_pattern = raw_subscribers(&srv, 8, "PSUBSCRIBE", &["ordp.*"]);
    let mut p = srv.raw();
    publish_numbered(&mut p, "ord", "", n, 8);
    publish_numbered(&mut p, "ordp.x", "", n, 8);
    for s in &mut direct {
        for i in 0..n {
            assert_eq!(
                s.reply(),
                message_frame(false, "message", "ord", i.to_string().as_bytes())
            );
        }
    }
    for s in &mut by_pattern {
        for i in 0..n {
            assert_eq!(
                s.reply(),
                pmessage_frame(false, "ordp.*", "ordp.x", i.to_string().as_bytes())
            );
        }
    }
}

#[test]
fn each_publishers_sequence_stays_in_order() {
    let srv = Server::start(4);
    let publishers = 6;
    let n = 2000;
    let mut subs = raw_subscribers(&srv, 8, "SUBSCRIBE", &["multi"]);
    let handles: Vec<_> = (0..publishers)
        .map(|k| {
            let mut p = srv.raw();
            thread::spawn(move || publish_numbered(&mut p, "multi", &format!("{k}:"), n, 8))
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for s in &mut subs {
        let mut next = vec![0usize; publishers];
        for _ in 0..publishers * n {
            let (kind, parts) = message_parts(&s.reply());
            assert_eq!(kind, "message");
            let payload = String::from_utf8(parts[1].clone()).unwrap();
            let (k, i) = payload.split_once(':').unwrap();
            let (k, i): (usize, usize) = (k.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[k], "publisher {k} out of order");
            next[k] += 1;
        }
        assert_eq!(next, vec![n; publishers]);
    }
}

// ---------------------------------------------------------------- slow subscribers

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// Reads everything the server sent until it closes; false if the read
/// timed out with the connection still open.
fn drained_to_eof(c: &mut Raw) -> bool {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match c.s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn client_ids(c: &mut Raw) -> HashSet<i64> {
    c.send(&encode(&["CLIENT", "LIST"]));
    let text = match parse(&c.reply()) {
        F::Str(s) => String::from_utf8(s).unwrap(),
        other => panic!("{other:?}"),
    };
    text.lines()
        .map(|l| {
            l.strip_prefix("id=")
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn slow_subscriber_is_dropped_at_the_hard_limit_and_memory_stays_bounded() {
    let srv = Server::start(4);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 256kb 60"]),
        "+OK\r\n"
    );
    let mut slow = srv.raw();
    let slow_id = int(&slow.cmd(&["CLIENT", "ID"]));
    slow.send(&encode(&["SUBSCRIBE", "flood"]));
    assert_eq!(slow.reply(), confirm(false, "subscribe", Some("flood"), 1));
    // A subscriber that keeps up, in a thread, sees every message.
    let mut fast = raw_subscribers(&srv, 1, "SUBSCRIBE", &["flood"]).pop().unwrap();
    // It acknowledges each message, and the publisher waits for that
    // before the next, so it never has more than one pending (it must
    // not hit the limit on a loaded machine).
    let (ack_tx, ack_rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut i = 0;
        loop {
            let (_, parts) = message_parts(&fast.reply());
            if parts[1] == b"stop" {
                return i;
            }
            assert_eq!(parts[1].len(), 64 * 1024);
            assert_eq!(&parts[1][..8], format!("{i:08}").as_bytes());
            ack_tx.send(i).unwrap();
            i += 1;
        }
    });
    let connected_before = info(&mut admin, "clients", "connected_clients");
    let rss_before = rss(srv.pid());
    let mut p = srv.raw();
    let mut receivers = Vec::new();
    // At least 200 × 64 KB (far more than the socket buffers and the 1 MB
    // limit hold), then on until the slow subscriber is gone (bounded).
    let mut i = 0;
    while i < 200 || receivers.last() != Some(&1) {
        assert!(i < 2000, "the slow subscriber was never dropped");
        let mut payload = format!("{i:08}").into_bytes();
        payload.resize(64 * 1024, b'x');
        let mut req = Vec::new();
        req.extend_from_slice(b"*3\r\n$7\r\nPUBLISH\r\n$5\r\nflood\r\n");
        req.extend(bulk(&payload));
        p.send(&req);
        // The publisher is never held up: every PUBLISH is answered.
        receivers.push(int(&p.reply_str()));
        assert_eq!(
            ack_rx.recv_timeout(Duration::from_secs(20)),
            Ok(i),
            "the fast subscriber lost message {i}"
        );
        i += 1;
    }
    assert_eq!(p.cmd(&["PUBLISH", "flood", "stop"]), ":1\r\n");
    assert_eq!(reader.join().unwrap(), i, "the fast subscriber missed messages");
    assert_eq!(receivers[0], 2);
    eprintln!(
        "slow subscriber dropped after {} of {i} messages",
        receivers.iter().filter(|&&r| r == 2).count()
    );
    // Both gone: the slow one dropped, the fast one closed by its thread.
    eventually("NUMSUB flood", 0, || numsub(&mut admin, "NUMSUB", "flood"));
    eventually("slow client gone from CLIENT LIST", false, || {
        client_ids(&mut admin).contains(&slow_id)
    });
    eventually("connected_clients", connected_before - 1, || {
        info(&mut admin, "clients", "connected_clients")
    });
    assert!(drained_to_eof(&mut slow), "the slow subscriber's socket never saw EOF");
    let rss_after = rss(srv.pid());
    let growth = rss_after.saturating_sub(rss_before);
    eprintln!("VmRSS before {rss_before} after {rss_after} growth {growth}");
    assert!(growth < 64 << 20, "VmRSS grew by {growth} bytes");
}

#[test]
fn soft_limit_of_zero_seconds_drops_once_a_second_passes() {
    let srv = Server::start(4);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 64kb 0"]),
        "+OK\r\n"
    );
    let mut slow = raw_subscribers(&srv, 1, "SUBSCRIBE", &["soft"]).pop().unwrap();
    let mut p = srv.raw();
    // Past the soft limit: kept at first, as Redis does, and dropped at a
    // delivery in a later second of the clock. Keep publishing small
    // messages (bounded memory) until nobody receives.
    // Keep the subscriber past 64 KB (it never reads) until a delivery in a
    // later second finds it still there. The publisher is paced so the
    // server's buffer for it stays a few MB whatever the timing.
    let payload = "y".repeat(16 * 1024);
    let mut sent = 0;
    while int(&p.cmd(&["PUBLISH", "soft", &payload])) > 0 {
        sent += 1;
        assert!(sent < 30_000, "a subscriber past its soft limit was never dropped");
        thread::sleep(Duration::from_millis(1));
    }
    eventually("NUMSUB soft", 0, || numsub(&mut admin, "NUMSUB", "soft"));
    assert!(drained_to_eof(&mut slow));
}

// ---------------------------------------------------------------- cleanup

#[test]
fn disconnected_subscribers_leave_numsub_and_numpat() {
    let srv = Server::start(4);
    let mut q = srv.raw();
    let mut subs = raw_subscribers(&srv, 12, "SUBSCRIBE", &["dc", "dc2"]);
    let pats = raw_subscribers(&srv, 6, "PSUBSCRIBE", &["dc*"]);
    let ssubs = raw_subscribers(&srv, 5, "SSUBSCRIBE", &["dcs"]);
    assert_eq!(numsub(&mut q, "NUMSUB", "dc"), 12);
    assert_eq!(numsub(&mut q, "SHARDNUMSUB", "dcs"), 5);
    assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), ":1\r\n");
    subs.truncate(5);
    eventually("NUMSUB dc", 5, || numsub(&mut q, "NUMSUB", "dc"));
    eventually("NUMSUB dc2", 5, || numsub(&mut q, "NUMSUB", "dc2"));
    drop(pats);
    drop(ssubs);
    eventually("NUMPAT", ":0\r\n".to_string(), || q.cmd(&["PUBSUB", "NUMPAT"]));
    eventually("SHARDNUMSUB dcs", 0, || numsub(&mut q, "SHARDNUMSUB", "dcs"));
    eventually("PUBLISH dc", 5, || int(&q.cmd(&["PUBLISH", "dc", "x"])));
    drop(subs);
    eventually("CHANNELS", "*0\r\n".to_string(), || q.cmd(&["PUBSUB", "CHANNELS"]));
    // CLIENT KILL of a subscriber cleans up the same way.
    let mut victim = raw_subscribers(&srv, 1, "SUBSCRIBE", &["dc"]).pop().unwrap();
    assert_eq!(numsub(&mut q, "NUMSUB", "dc"), 1);
    q.send(&encode(&["CLIENT", "LIST", "TYPE", "pubsub"]));
    let listed = match parse(&q.reply()) {
        F::Str(s) => String::from_utf8(s).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(" flags=P ") && listed.contains(" sub=1 "), "{listed}");
    q.send(&encode(&["CLIENT", "LIST", "TYPE", "normal"]));
    let listed = match parse(&q.reply()) {
        F::Str(s) => String::from_utf8(s).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(!listed.contains(" sub=1 "), "{listed}");
    q.send(&encode(&["CLIENT", "KILL", "TYPE", "pubsub"]));
    let killed = q.reply_str();
    assert_eq!(killed, ":1\r\n", "CLIENT KILL TYPE pubsub");
    eventually("NUMSUB after CLIENT KILL", 0, || numsub(&mut q, "NUMSUB", "dc"));
    assert!(drained_to_eof(&mut victim));
}

#[test]
fn subscription_churn_during_publishing_leaves_exact_counts() {
    let srv = Server::start(4);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let mut p = srv.raw();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for ch in ["churn:a", "churn:b", "churn:c"] {
                    p.send(&encode(&["PUBLISH", ch, "x"]));
                }
                for _ in 0..3 {
                    assert!(int(&p.reply_str()) >= 0);
                }
                n += 1;
            }
            n
        })
    };
    // Each worker subscribes and unsubscribes in every way, with messages
    // arriving in between; the counts in confirmations must stay exact.
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let mut c = srv.raw();
            thread::spawn(move || {
                for round in 0..100 {
                    c.send(&encode(&["SUBSCRIBE", "churn:a", "churn:b"]));
                    c.send(&encode(&["PSUBSCRIBE", "churn:*"]));
                    c.send(&encode(&["SSUBSCRIBE", "churn:s"]));
                    let want = [
                        confirm(false, "subscribe", Some("churn:a"), 1),
                        confirm(false, "subscribe", Some("churn:b"), 2),
                        confirm(false, "psubscribe", Some("churn:*"), 3),
                        confirm(false, "ssubscribe", Some("churn:s"), 1),
                    ];
                    let mut got = 0;
                    while got < want.len() {
                        let f = c.reply();
                        if f.starts_with(b"*3\r\n$7\r\nmessage") || f.starts_with(b"*4\r\n$8\r\npmessage") {
                            continue;
                        }
                        assert_eq!(f, want[got], "worker {w} round {round}");
                        got += 1;
                    }
                    if round % 2 == 0 {
                        c.send(&encode(&["UNSUBSCRIBE"]));
                        c.send(&encode(&["PUNSUBSCRIBE"]));
                        c.send(&encode(&["SUNSUBSCRIBE"]));
                        // UNSUBSCRIBE without arguments: either channel first.
                        let mut counts = Vec::new();
                        while counts.len() < 4 {
                            let f = c.reply();
                            let (kind, parts) = message_parts_any(&f);
                            if kind.ends_with("message") {
                                continue;
                            }
                            counts.push((kind, parts));
                        }
                        assert_eq!(counts[0].1 .1, 2, "worker {w} round {round}");
                        assert_eq!(counts[1].1 .1, 1);
                        assert_eq!(counts[2], ("punsubscribe".into(), (b"churn:*".to_vec(), 0)));
                        assert_eq!(counts[3], ("sunsubscribe".into(), (b"churn:s".to_vec(), 0)));
                    } else {
                        // RESET drops everything at once.
                        c.send(&encode(&["RESET"]));
                        loop {
                            let f = c.reply();
                            if f == b"+RESET\r\n" {
                                break;
                            }
                            assert!(f.starts_with(b"*3\r\n$7\r\nmessage") || f.starts_with(b"*4\r\n$8\r\npmessage"));
                        }
                    }
                }
                // Half the workers leave by disconnecting while subscribed.
                if w % 2 == 0 {
                    c.send(&encode(&["SUBSCRIBE", "churn:c"]));
                    c.reply();
                }
            })
        })
        .collect();
    for h in workers {
        h.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(publisher.join().unwrap() > 0);
    let mut q = srv.raw();
    eventually("CHANNELS", "*0\r\n".to_string(), || q.cmd(&["PUBSUB", "CHANNELS"]));
    assert_eq!(q.cmd(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    assert_eq!(q.cmd(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    for ch in ["churn:a", "churn:b", "churn:c"] {
        assert_eq!(q.cmd(&["PUBLISH", ch, "x"]), ":0\r\n");
    }
}

/// A confirmation's kind, channel and count (or a message's kind).
fn message_parts_any(frame: &[u8]) -> (String, (Vec<u8>, i64)) {
    match parse(frame) {
        F::Arr(v) | F::Push(v) => {
            let kind = match &v[0] {
                F::Str(s) => String::from_utf8(s.clone()).unwrap(),
                other => panic!("{other:?}"),
            };
            if kind.ends_with("message") {
                return (kind, (Vec::new(), 0));
            }
            let name = match &v[1] {
                F::Str(s) => s.clone(),
                _ => Vec::new(),
            };
            let n = match &v[2] {
                F::Int(n) => *n,
                other => panic!("{other:?}"),
            };
            (kind, (name, n))
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- MULTI and scripts

#[test]
fn publish_in_multi_replies_first_then_delivers() {
    let srv = Server::start(4);
    let keys = keys_on_distinct_shards("txk", 4);
    let mut others = raw_subscribers(&srv, 8, "SUBSCRIBE", &["txch"]);
    let mut me = srv.raw();
    me.send(&encode(&["HELLO", "3"]));
    me.reply();
    me.send(&encode(&["SUBSCRIBE", "txch"]));
    assert_eq!(me.reply(), confirm(true, "subscribe", Some("txch"), 1));
    assert_eq!(me.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(me.cmd(&["PUBLISH", "txch", "a"]), "+QUEUED\r\n");
    for k in &keys {
        assert_eq!(me.cmd(&["SET", k, "1"]), "+QUEUED\r\n");
    }
    assert_eq!(me.cmd(&["PUBLISH", "txch", "b"]), "+QUEUED\r\n");
    me.send(&encode(&["EXEC"]));
    assert_eq!(me.reply(), b"*6\r\n:9\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n:9\r\n");
    assert_eq!(me.reply(), message_frame(true, "message", "txch", b"a"));
    assert_eq!(me.reply(), message_frame(true, "message", "txch", b"b"));
    // A transaction with one key publishes from one shard.
    assert_eq!(me.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(me.cmd(&["INCR", &keys[0]]), "+QUEUED\r\n");
    assert_eq!(me.cmd(&["PUBLISH", "txch", "c"]), "+QUEUED\r\n");
    me.send(&encode(&["EXEC"]));
    assert_eq!(me.reply(), b"*2\r\n:2\r\n:9\r\n");
    assert_eq!(me.reply(), message_frame(true, "message", "txch", b"c"));
    let mut p = srv.raw();
    assert_eq!(p.cmd(&["PUBLISH", "txch", "end"]), ":9\r\n");
    assert_eq!(me.reply(), message_frame(true, "message", "txch", b"end"));
    // Every other subscriber got each message exactly once, in order.
    for s in &mut others {
        for m in ["a", "b", "c", "end"] {
            assert_eq!(s.reply(), message_frame(false, "message", "txch", m.as_bytes()));
        }
    }
}

#[test]
fn publish_in_scripts_is_delivered_exactly_once() {
    let srv = Server::start(4);
    let keys = keys_on_distinct_shards("sck", 4);
    let mut others = raw_subscribers(&srv, 8, "SUBSCRIBE", &["scch"]);
    let mut me = srv.raw();
    me.send(&encode(&["HELLO", "3"]));
    me.reply();
    me.send(&encode(&["SUBSCRIBE", "scch"]));
    me.reply();
    // One shard: publish to self; the reply comes first.
    let simple = "redis.call('publish', 'scch', ARGV[1]); return redis.call('incr', KEYS[1])";
    me.send(&encode(&["EVAL", simple, "1", &keys[0], "s1"]));
    assert_eq!(me.reply(), b":1\r\n");
    assert_eq!(me.reply(), message_frame(true, "message", "scch", b"s1"));
    // Publishes, then touches undeclared keys of the other shards: the
    // first attempt aborts and the script runs again in global mode. Its
    // messages must go out once, from the attempt that counted.
    let wide = "redis.call('publish', 'scch', ARGV[1]) \
                for i = 2, #ARGV do redis.call('incr', ARGV[i]) end \
                redis.call('publish', 'scch', ARGV[1] .. '-end') \
                return redis.call('incr', KEYS[1])";
    for round in 0..5 {
        let tag = format!("w{round}");
        me.send(&encode(&[
            "EVAL", wide, "1", &keys[0], &tag, &keys[1], &keys[2], &keys[3],
        ]));
        assert_eq!(me.reply(), format!(":{}\r\n", round + 2).into_bytes());
        assert_eq!(me.reply(), message_frame(true, "message", "scch", tag.as_bytes()));
        assert_eq!(
            me.reply(),
            message_frame(true, "message", "scch", format!("{tag}-end").as_bytes())
        );
    }
    for k in &keys[1..] {
        assert_eq!(me.cmd(&["GET", k]), "$1\r\n5\r\n");
    }
    // Declared keys on several shards: global mode from the start.
    let multi = "for i = 1, #KEYS do redis.call('incr', KEYS[i]) end \
                 redis.call('publish', 'scch', ARGV[1]) return #KEYS";
    me.send(&encode(&[
        "EVAL", multi, "4", &keys[0], &keys[1], &keys[2], &keys[3], "g",
    ]));
    assert_eq!(me.reply(), b":4\r\n");
    assert_eq!(me.reply(), message_frame(true, "message", "scch", b"g"));
    // A script that fails after publishing still delivers (Redis has no
    // rollback), and PUBLISH inside MULTI+EVAL too.
    let fails = "redis.call('publish', 'scch', 'f') return redis.call('incr', ARGV[1])";
    me.send(&encode(&["SET", "notanumber", "x"]));
    me.reply();
    me.send(&encode(&["EVAL", fails, "0", "notanumber"]));
    let r = me.reply();
    assert!(
        r.starts_with(b"-ERR value is not an integer"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    assert_eq!(me.reply(), message_frame(true, "message", "scch", b"f"));
    let mut p = srv.raw();
    assert_eq!(p.cmd(&["PUBLISH", "scch", "end"]), ":9\r\n");
    assert_eq!(me.reply(), message_frame(true, "message", "scch", b"end"));
    let mut want: Vec<String> = vec!["s1".into()];
    for round in 0..5 {
        want.push(format!("w{round}"));
        want.push(format!("w{round}-end"));
    }
    want.extend(["g".into(), "f".into(), "end".into()]);
    for s in &mut others {
        for m in &want {
            assert_eq!(s.reply(), message_frame(false, "message", "scch", m.as_bytes()));
        }
    }
}

// ---------------------------------------------------------------- differential

/// Sends each command, then PING, and collects every frame up to the PING's
/// reply (whatever the protocol and mode).
fn frames_of(c: &mut Raw, args: &[&str]) -> Vec<Vec<u8>> {
    let mut req = encode(args);
    req.extend(encode(&["PING", "marker"]));
    c.send(&req);
    let mut out = Vec::new();
    loop {
        let f = c.try_reply().unwrap_or_else(|| panic!("no reply to {args:?}"));
        if f == b"$6\r\nmarker\r\n" || f == b"*2\r\n$4\r\npong\r\n$6\r\nmarker\r\n" {
            return out;
        }
        out.push(f);
    }
}

#[test]
fn subscription_replies_match_redis() {
    let redis = Redis::start();
    let srv = Server::start(4);
    let script: &[&[&str]] = &[
        &["UNSUBSCRIBE"],
        &["PUNSUBSCRIBE"],
        &["SUNSUBSCRIBE"],
        &["UNSUBSCRIBE", "nope"],
        &["SUBSCRIBE", "a", "b", "a"],
        &["PSUBSCRIBE", "p*", "q?"],
        &["SSUBSCRIBE", "s1"],
        &["SSUBSCRIBE", "s1"],
        &["GET", "x"],
        &["SET", "x", "1"],
        &["PING"],
        &["PUBSUB", "NUMSUB", "a", "b", "c"],
        &["UNSUBSCRIBE", "b", "zz"],
        &["PUNSUBSCRIBE", "nothere"],
        &["UNSUBSCRIBE"],
        &["SUNSUBSCRIBE", "s1", "s2"],
        &["PUNSUBSCRIBE"],
        &["PUNSUBSCRIBE"],
        &["SUBSCRIBE"],
        &["GET", "x"],
        &["SUBSCRIBE", "again"],
        &["RESET"],
        &["GET", "x"],
        &["PUBSUB", "NUMPAT"],
        &["PUBSUB", "NUMSUB"],
        &["PUBSUB", "NUMSUB", "again"],
        &["PUBSUB", "CHANNELS", "a", "b"],
        &["PUBSUB", "FOO"],
        &["PUBLISH", "nobody", "x"],
        &["SPUBLISH", "nobody", "x"],
        &["SSUBSCRIBE"],
    ];
    for resp3 in [false, true] {
        let mut r = common::connect(redis.port);
        let mut s = srv.raw();
        for c in [&mut r, &mut s] {
            c.send(&encode(&["FLUSHALL"]));
            c.reply();
            if resp3 {
                c.send(&encode(&["HELLO", "3"]));
                c.reply();
            }
        }
        for args in script {
            // RESET switches back to RESP2; keep the protocol under test.
            let want = frames_of(&mut r, args);
            let got = frames_of(&mut s, args);
            let show = |v: &[Vec<u8>]| {
                v.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect::<Vec<_>>()
            };
            assert_eq!(show(&got), show(&want), "RESP{} {args:?}", if resp3 { 3 } else { 2 });
            if args[0] == "RESET" && resp3 {
                for c in [&mut r, &mut s] {
                    c.send(&encode(&["HELLO", "3"]));
                    c.reply();
                }
            }
        }
    }
}
