//! Client-side caching (CLIENT TRACKING) against the real binary, over raw
//! RESP: invalidations in RESP3 and through a RESP2 redirect, BCAST,
//! NOLOOP, OPTIN/OPTOUT, flushes, broken redirects, the table limit, and
//! the ordering guarantee that a tracking client holds the invalidation
//! before the writer hears OK, whichever shards are involved.

mod common;

use common::{connect, keys_on_distinct_shards, Raw, Server};

fn client_id(c: &mut Raw) -> String {
    let r = c.cmd(&["CLIENT", "ID"]);
    r.trim_start_matches(':').trim().to_string()
}

fn resp3(srv: &Server) -> Raw {
    let mut c = connect(srv.port);
    let hello = c.cmd(&["HELLO", "3"]);
    assert!(hello.starts_with('%'), "{hello}");
    c
}

fn invalidate(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{}\r\n", k.len(), k));
    }
    s
}

#[test]
fn invalidation_reaches_every_reader_before_the_writer_hears_ok() {
    let srv = Server::start(4);
    let keys = keys_on_distinct_shards("cached:", 4);
    // Several readers (the kernel spreads them over the shards), each
    // caching every key.
    let mut readers: Vec<Raw> = (0..8).map(|_| resp3(&srv)).collect();
    let mut writer = connect(srv.port);
    for k in &keys {
        assert_eq!(writer.cmd(&["SET", k, "v1"]), "+OK\r\n");
    }
    for r in readers.iter_mut() {
        assert_eq!(r.cmd(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
        for k in &keys {
            assert_eq!(r.cmd(&["GET", k]), "$2\r\nv1\r\n");
        }
    }
    for k in &keys {
        assert_eq!(writer.cmd(&["SET", k, "v2"]), "+OK\r\n");
        // The writer heard OK: every reader must already have the
        // invalidation queued ahead of anything it asks next.
        for r in readers.iter_mut() {
            r.send(&common::encode(&["PING"]));
            assert_eq!(r.reply_str(), invalidate(&[k]));
            assert_eq!(r.reply_str(), "+PONG\r\n");
        }
    }
    // Invalidated keys are no longer tracked: another write says nothing.
    assert_eq!(writer.cmd(&["SET", &keys[0], "v3"]), "+OK\r\n");
    for r in readers.iter_mut() {
        assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");
    }
}

#[test]
fn resp2_clients_get_invalidations_through_a_redirect() {
    let srv = Server::start(4);
    let mut redir = connect(srv.port);
    let rid = client_id(&mut redir);
    assert_eq!(
        redir.cmd(&["SUBSCRIBE", "__redis__:invalidate"]),
        "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"
    );
    let mut tracker = connect(srv.port);
    assert_eq!(tracker.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid]), "+OK\r\n");
    assert_eq!(tracker.cmd(&["CLIENT", "GETREDIR"]), format!(":{rid}\r\n"));
    let keys = keys_on_distinct_shards("r2:", 4);
    let mut writer = connect(srv.port);
    for k in &keys {
        assert_eq!(tracker.cmd(&["GET", k]), "$-1\r\n");
    }
    for k in &keys {
        assert_eq!(writer.cmd(&["SET", k, "x"]), "+OK\r\n");
        assert_eq!(
            redir.reply_str(),
            format!(
                "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n${}\r\n{}\r\n",
                k.len(),
                k
            )
        );
    }
    // Tracking off: reads are no longer filed.
    assert_eq!(tracker.cmd(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    assert_eq!(tracker.cmd(&["CLIENT", "GETREDIR"]), ":-1\r\n");
    assert_eq!(tracker.cmd(&["GET", &keys[0]]), "$1\r\nx\r\n");
    assert_eq!(writer.cmd(&["SET", &keys[0], "y"]), "+OK\r\n");
    assert_eq!(redir.cmd(&["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn bcast_prefixes_batch_keys_per_prefix_and_noloop_skips_own_writes() {
    let srv = Server::start(4);
    let mut t = resp3(&srv);
    assert_eq!(
        t.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "cart:", "NOLOOP"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(&["CLIENT", "TRACKINGINFO"]),
        "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$5\r\nuser:\r\n$5\r\ncart:\r\n"
    );
    let mut w = connect(srv.port);
    // One MSET on one shard: one message per prefix with all its keys.
    assert_eq!(
        w.cmd(&["MSET", "user:1{a}", "1", "user:2{a}", "2", "other{a}", "3"]),
        "+OK\r\n"
    );
    t.send(&common::encode(&["PING"]));
    assert_eq!(t.reply_str(), invalidate(&["user:1{a}", "user:2{a}"]));
    assert_eq!(t.reply_str(), "+PONG\r\n");
    // Keys on every shard, written by another client: each arrives.
    let keys = keys_on_distinct_shards("cart:", 4);
    for k in &keys {
        assert_eq!(w.cmd(&["SET", k, "1"]), "+OK\r\n");
        t.send(&common::encode(&["PING"]));
        assert_eq!(t.reply_str(), invalidate(&[k]));
        assert_eq!(t.reply_str(), "+PONG\r\n");
    }
    // NOLOOP: the client's own write is not reported back.
    assert_eq!(t.cmd(&["SET", "user:9", "x"]), "+OK\r\n");
    assert_eq!(t.cmd(&["PING"]), "+PONG\r\n");
    // Overlapping prefixes are refused.
    assert_eq!(
        t.cmd(&["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:1"]),
        "-ERR Prefix 'user:1' overlaps with an existing prefix 'user:'. Prefixes for a single client must not overlap.\r\n"
    );
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let srv = Server::start(2);
    let mut w = connect(srv.port);
    let mut t = resp3(&srv);
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on", "OPTIN"]), "+OK\r\n");
    assert_eq!(t.cmd(&["GET", "a"]), "_\r\n"); // not cached: no CACHING yes
    assert_eq!(t.cmd(&["CLIENT", "CACHING", "yes"]), "+OK\r\n");
    assert_eq!(t.cmd(&["GET", "b"]), "_\r\n"); // cached
    assert_eq!(t.cmd(&["GET", "c"]), "_\r\n"); // CACHING applied to one command only
    for k in ["a", "b", "c"] {
        assert_eq!(w.cmd(&["SET", k, "1"]), "+OK\r\n");
    }
    t.send(&common::encode(&["PING"]));
    assert_eq!(t.reply_str(), invalidate(&["b"]));
    assert_eq!(t.reply_str(), "+PONG\r\n");
    assert_eq!(
        t.cmd(&["CLIENT", "CACHING", "no"]),
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "off"]), "+OK\r\n");
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on", "OPTOUT"]), "+OK\r\n");
    assert_eq!(t.cmd(&["CLIENT", "CACHING", "no"]), "+OK\r\n");
    assert_eq!(t.cmd(&["GET", "a"]), "$1\r\n1\r\n"); // not cached
    assert_eq!(t.cmd(&["GET", "b"]), "$1\r\n1\r\n"); // cached
    for k in ["a", "b"] {
        assert_eq!(w.cmd(&["SET", k, "2"]), "+OK\r\n");
    }
    t.send(&common::encode(&["PING"]));
    assert_eq!(t.reply_str(), invalidate(&["b"]));
    assert_eq!(t.reply_str(), "+PONG\r\n");
}

#[test]
fn flushes_broken_redirects_and_the_table_limit() {
    let srv = Server::start(4);
    let mut w = connect(srv.port);
    let mut t = resp3(&srv);
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    assert_eq!(t.cmd(&["GET", "k"]), "_\r\n");
    assert_eq!(w.cmd(&["FLUSHALL"]), "+OK\r\n");
    t.send(&common::encode(&["PING"]));
    assert_eq!(t.reply_str(), ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(t.reply_str(), "+PONG\r\n");

    // A redirect target that goes away: one tracking-redir-broken push.
    let mut redir = connect(srv.port);
    let rid = client_id(&mut redir);
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on", "REDIRECT", &rid]), "+OK\r\n");
    for k in keys_on_distinct_shards("gone:", 4) {
        assert_eq!(t.cmd(&["GET", &k]), "_\r\n");
    }
    drop(redir);
    // Wait until the server has seen the disconnection.
    let mut c = srv.client();
    while redis::cmd("CLIENT")
        .arg("LIST")
        .query::<String>(&mut c)
        .unwrap()
        .contains(&format!("id={rid} "))
    {
        std::thread::yield_now();
    }
    for k in keys_on_distinct_shards("gone:", 4) {
        assert_eq!(w.cmd(&["SET", &k, "1"]), "+OK\r\n");
    }
    t.send(&common::encode(&["PING"]));
    assert_eq!(
        t.reply_str(),
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{rid}\r\n")
    );
    assert_eq!(t.reply_str(), "+PONG\r\n");
    assert!(t.cmd(&["CLIENT", "TRACKINGINFO"]).contains("broken_redirect"));

    // tracking-table-max-keys: filings past the limit are invalidated.
    let mut t2 = resp3(&srv);
    assert_eq!(t2.cmd(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    let keys: Vec<String> = (0..40).map(|i| format!("lim:{i}")).collect();
    for k in &keys {
        assert_eq!(t2.cmd(&["GET", k]), "_\r\n");
    }
    assert_eq!(w.cmd(&["CONFIG", "SET", "tracking-table-max-keys", "10"]), "+OK\r\n");
    let mut invalidated = std::collections::HashSet::new();
    while invalidated.len() < 30 {
        let r = t2.reply_str();
        let key = r.rsplit("\r\n").nth(1).unwrap().to_string();
        assert!(r.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n"), "{r}");
        assert!(invalidated.insert(key));
    }
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("tracking_total_keys:10\r\n"), "{info}");
    assert_eq!(t2.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn scripts_track_only_what_their_read_calls_read() {
    let srv = Server::start(2);
    let mut w = connect(srv.port);
    let mut t = resp3(&srv);
    assert_eq!(t.cmd(&["CLIENT", "TRACKING", "on"]), "+OK\r\n");
    // Declared keys are not filed; the key a read call reads is.
    assert_eq!(
        t.cmd(&[
            "EVAL",
            "redis.call('set', KEYS[1], 'x') return redis.call('get', KEYS[2])",
            "2",
            "s{1}",
            "r{1}"
        ]),
        "_\r\n"
    );
    assert_eq!(w.cmd(&["SET", "s{1}", "1"]), "+OK\r\n");
    assert_eq!(w.cmd(&["SET", "r{1}", "1"]), "+OK\r\n");
    t.send(&common::encode(&["PING"]));
    assert_eq!(t.reply_str(), invalidate(&["r{1}"]));
    assert_eq!(t.reply_str(), "+PONG\r\n");
}
