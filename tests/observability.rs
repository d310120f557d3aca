//! Observability against the real binary: SLOWLOG (entries, truncation,
//! redaction, EXEC), the latency monitor and histograms, INFO sections,
//! MONITOR across shards, CONFIG REWRITE. No timing is asserted beyond
//! "was logged".

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{connect, keys_on_distinct_shards, Raw, Server};
use redis::Value;

fn q(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::Data(d) => String::from_utf8_lossy(d).into_owned(),
        Value::Status(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Bulk(b) => b,
        other => panic!("not an array: {other:?}"),
    }
}

/// SLOWLOG GET entries as (args, addr, name).
fn slowlog(c: &mut redis::Connection, count: &str) -> Vec<(Vec<String>, String, String)> {
    let v = q(c, &["SLOWLOG", "GET", count]);
    items(&v)
        .iter()
        .map(|e| {
            let e = items(e);
            assert_eq!(e.len(), 6);
            assert!(matches!(e[0], Value::Int(_)) && matches!(e[1], Value::Int(_)) && matches!(e[2], Value::Int(_)));
            (items(&e[3]).iter().map(text).collect(), text(&e[4]), text(&e[5]))
        })
        .collect()
}

fn info(c: &mut redis::Connection, sections: &[&str]) -> String {
    let mut cmd = redis::cmd("INFO");
    for s in sections {
        cmd.arg(*s);
    }
    cmd.query(c).unwrap()
}

#[test]
fn slowlog_logs_entries_with_redis_truncation_and_redaction() {
    let srv = Server::start(2);
    let mut c = srv.client();
    q(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "slowlog-log-slower-than",
            "0",
            "slowlog-max-len",
            "100",
        ],
    );
    q(&mut c, &["SLOWLOG", "RESET"]);
    q(&mut c, &["CLIENT", "SETNAME", "observer"]);
    // 33 arguments: the 32nd says how many more there were.
    let mut sadd: Vec<String> = vec!["sadd".into(), "set".into()];
    sadd.extend((3..=33).map(|i| i.to_string()));
    let sadd_ref: Vec<&str> = sadd.iter().map(|s| s.as_str()).collect();
    q(&mut c, &sadd_ref);
    let long = "A".repeat(129);
    q(&mut c, &["SADD", "other", "foo", &long]);
    let _ = redis::cmd("AUTH").arg("nosuchuser").arg("pw").query::<Value>(&mut c);
    let log = slowlog(&mut c, "-1");
    // Newest first: AUTH, SADD other, SADD set, CLIENT SETNAME, SLOWLOG RESET.
    assert_eq!(log[0].0, ["AUTH", "(redacted)", "(redacted)"]);
    assert_eq!(
        log[1].0,
        [
            "SADD",
            "other",
            "foo",
            &format!("{}... (1 more bytes)", "A".repeat(128))
        ]
    );
    let mut want: Vec<String> = sadd[..31].to_vec();
    want.push("... (2 more arguments)".into());
    assert_eq!(log[2].0, want);
    assert_eq!(log[3].0, ["CLIENT", "SETNAME", "observer"]);
    assert_eq!(log[4].0, ["SLOWLOG", "RESET"]);
    // The client's name and address are those at the time of the call,
    // whichever shard ran the command.
    assert_eq!(log[1].2, "observer");
    assert_eq!(log[2].2, "observer");
    assert_eq!(log[4].2, "");
    assert!(log[1].1.starts_with("127.0.0.1:"), "{:?}", log[1]);
    // SLOWLOG GET itself was logged after it ran.
    assert_eq!(text(&q(&mut c, &["SLOWLOG", "LEN"])), "6");
    assert_eq!(slowlog(&mut c, "2").len(), 2);
    assert_eq!(slowlog(&mut c, "0").len(), 0);
    // Max length across shards.
    q(&mut c, &["CONFIG", "SET", "slowlog-max-len", "3"]);
    for k in keys_on_distinct_shards("sl:", 2) {
        q(&mut c, &["SET", &k, "v"]);
    }
    assert_eq!(text(&q(&mut c, &["SLOWLOG", "LEN"])), "3");
    assert_eq!(slowlog(&mut c, "-1").len(), 3);
    let err = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg("-2")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(err.detail(), Some("count should be greater than or equal to -1"));
    // -1 disables the log.
    q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    q(&mut c, &["SLOWLOG", "RESET"]);
    q(&mut c, &["PING"]);
    assert_eq!(text(&q(&mut c, &["SLOWLOG", "LEN"])), "0");
}

#[test]
fn slowlog_shows_commands_run_by_exec_not_exec() {
    let srv = Server::start(2);
    let mut c = connect(srv.port);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "100000"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd(&["SLOWLOG", "RESET"]), "+OK\r\n");
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.2"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+OK\r\n");
    assert_eq!(c.cmd(&["SLOWLOG", "LEN"]), ":1\r\n");
    let e = c.cmd(&["SLOWLOG", "GET"]);
    assert!(e.contains("*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.2\r\n"), "{e}");
}

#[test]
fn latency_monitor_records_slow_commands() {
    let srv = Server::start(2);
    let mut c = srv.client();
    q(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "100"]);
    assert_eq!(q(&mut c, &["LATENCY", "LATEST"]), Value::Bulk(vec![]));
    q(&mut c, &["DEBUG", "SLEEP", "0.15"]);
    let latest = q(&mut c, &["LATENCY", "LATEST"]);
    let latest = items(&latest);
    assert_eq!(latest.len(), 1);
    let ev = items(&latest[0]);
    assert_eq!(text(&ev[0]), "command");
    assert!(text(&ev[2]).parse::<u64>().unwrap() >= 100);
    let hist = q(&mut c, &["LATENCY", "HISTORY", "command"]);
    assert_eq!(items(&hist).len(), 1);
    assert_eq!(q(&mut c, &["LATENCY", "HISTORY", "nosuch"]), Value::Bulk(vec![]));
    let graph = text(&q(&mut c, &["LATENCY", "GRAPH", "command"]));
    assert!(graph.starts_with("command - high "), "{graph}");
    let doctor = text(&q(&mut c, &["LATENCY", "DOCTOR"]));
    assert!(doctor.contains("command"), "{doctor}");
    assert_eq!(q(&mut c, &["LATENCY", "RESET", "nosuch"]), Value::Int(0));
    assert_eq!(q(&mut c, &["LATENCY", "RESET"]), Value::Int(1));
    assert_eq!(q(&mut c, &["LATENCY", "LATEST"]), Value::Bulk(vec![]));
    let err = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query::<Value>(&mut c)
        .unwrap_err();
    assert_eq!(err.detail(), Some("No samples available for event 'command'"));
}

#[test]
fn latency_histograms_and_latencystats() {
    let srv = Server::start(2);
    let mut c = srv.client();
    q(&mut c, &["CONFIG", "RESETSTAT"]);
    let keys = keys_on_distinct_shards("h:", 2);
    for k in &keys {
        q(&mut c, &["SET", k, "v"]);
    }
    q(&mut c, &["CLIENT", "ID"]);
    let v = q(&mut c, &["LATENCY", "HISTOGRAM", "set", "client", "nosuch"]);
    let map = items(&v);
    assert_eq!(map.len(), 4, "{v:?}");
    assert_eq!(text(&map[0]), "set");
    let set = items(&map[1]);
    assert_eq!(text(&set[0]), "calls");
    assert_eq!(set[1], Value::Int(2));
    assert_eq!(text(&set[2]), "histogram_usec");
    let buckets = items(&set[3]);
    assert!(!buckets.is_empty() && buckets.len().is_multiple_of(2));
    assert_eq!(
        buckets[buckets.len() - 1],
        Value::Int(2),
        "cumulative count ends at calls"
    );
    assert_eq!(text(&map[2]), "client|id");
    let stats = info(&mut c, &["latencystats"]);
    assert!(stats.starts_with("# Latencystats\r\n"), "{stats}");
    assert!(stats.contains("latency_percentiles_usec_set:p50="), "{stats}");
    assert!(stats.contains(",p99=") && stats.contains(",p99.9="), "{stats}");
    q(
        &mut c,
        &["CONFIG", "SET", "latency-tracking-info-percentiles", "0 50 100"],
    );
    let got = q(&mut c, &["CONFIG", "GET", "latency-tracking-info-percentiles"]);
    assert_eq!(
        items(&got).iter().map(text).collect::<Vec<_>>(),
        ["latency-tracking-info-percentiles", "0 50 100"]
    );
    let stats = info(&mut c, &["latencystats"]);
    assert!(stats.contains("latency_percentiles_usec_set:p0="), "{stats}");
    assert!(stats.contains(",p100="), "{stats}");
    let stats = info(&mut c, &["commandstats"]);
    assert!(stats.contains("cmdstat_set:calls=2,usec="), "{stats}");
    assert!(stats.contains("cmdstat_client|id:calls=1,"), "{stats}");
    // RESETSTAT forgets the histograms.
    q(&mut c, &["CONFIG", "RESETSTAT"]);
    let v = q(&mut c, &["LATENCY", "HISTOGRAM"]);
    let names: Vec<String> = items(&v).iter().step_by(2).map(text).collect();
    assert_eq!(names, ["config|resetstat"]);
}

#[test]
fn info_sections_and_errorstats() {
    let srv = Server::start(1);
    let mut c = srv.client();
    let _ = redis::cmd("NOSUCHCMD").query::<Value>(&mut c);
    let _ = redis::cmd("INCR").arg("k").arg("extra").query::<Value>(&mut c);
    let all = info(&mut c, &["everything"]);
    for s in [
        "# Server",
        "# Clients",
        "# Stats",
        "# CPU",
        "# Commandstats",
        "# Errorstats",
        "# Latencystats",
        "# Keyspace",
    ] {
        assert!(all.contains(s), "{s} missing");
    }
    let default = info(&mut c, &[]);
    assert!(!default.contains("# Commandstats") && !default.contains("# Latencystats"));
    let two = info(&mut c, &["server", "CPU"]);
    assert!(
        two.starts_with("# Server\r\n") && two.contains("\r\n\r\n# CPU\r\n"),
        "{two}"
    );
    assert_eq!(info(&mut c, &["nosuchsection"]), "");
    let errs = info(&mut c, &["errorstats"]);
    assert!(errs.contains("errorstat_ERR:count=2"), "{errs}");
    let stats = info(&mut c, &["stats"]);
    assert!(stats.contains("total_error_replies:2\r\n"), "{stats}");
    let cmds = info(&mut c, &["commandstats"]);
    assert!(
        cmds.contains("cmdstat_incr:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"),
        "{cmds}"
    );
}

/// Reads monitor lines until `n` have arrived.
fn monitor_lines(m: &mut Raw, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.len() < n {
        let r = m.reply_str();
        lines.push(r.trim_end().to_string());
    }
    lines
}

/// `+<time> [<db> <who>] <args>` → (who, args).
fn split_monitor(line: &str) -> (String, String) {
    let open = line.find('[').unwrap();
    let close = line.find(']').unwrap();
    let who = line[open + 1..close].split_once(' ').unwrap().1.to_string();
    (who, line[close + 2..].to_string())
}

#[test]
fn monitor_sees_every_shard_in_order_per_connection() {
    let srv = Server::start(3);
    let keys = keys_on_distinct_shards("mon:", 3);
    let mut admin = srv.client();
    let mut monitors: Vec<Raw> = (0..2).map(|_| connect(srv.port)).collect();
    for m in monitors.iter_mut() {
        assert_eq!(m.cmd(&["MONITOR"]), "+OK\r\n");
    }
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(list.lines().filter(|l| l.contains(" flags=O ")).count(), 2, "{list}");
    let mut a = connect(srv.port);
    let mut b = connect(srv.port);
    let a_addr = a.s.local_addr().unwrap().to_string();
    let b_addr = b.s.local_addr().unwrap().to_string();
    // Pipelines spreading over all shards, interleaved between clients.
    let mut pipe_a = Vec::new();
    let mut pipe_b = Vec::new();
    for i in 0..10 {
        let k = &keys[i % 3];
        pipe_a.extend(common::encode(&["SET", k, &format!("a{i}")]));
        pipe_b.extend(common::encode(&["GET", k]));
    }
    a.send(&pipe_a);
    b.send(&pipe_b);
    for _ in 0..10 {
        a.reply();
        b.reply();
    }
    assert_eq!(a.cmd(&["AUTH", "secret"]).chars().next(), Some('-'));
    assert_eq!(a.cmd(&["SET", "q", "with \"quote\"\n"]), "+OK\r\n");
    assert_eq!(a.cmd(&["CONFIG", "GET", "port"]).chars().next(), Some('*'));
    assert_eq!(
        a.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", &keys[1]]),
        "$2\r\na7\r\n"
    );
    for m in monitors.iter_mut() {
        let lines = monitor_lines(m, 20 + 4);
        let by = |who: &str| -> Vec<String> {
            lines
                .iter()
                .map(|l| split_monitor(l))
                .filter(|(w, _)| w == who)
                .map(|(_, args)| args)
                .collect()
        };
        let mut want_a: Vec<String> = (0..10)
            .map(|i| format!("\"SET\" \"{}\" \"a{i}\"", keys[i % 3]))
            .collect();
        want_a.push("\"AUTH\" \"(redacted)\"".into());
        want_a.push("\"SET\" \"q\" \"with \\\"quote\\\"\\n\"".into());
        // CONFIG is administrative: not shown.
        want_a.push(format!(
            "\"EVAL\" \"return redis.call('get', KEYS[1])\" \"1\" \"{}\"",
            keys[1]
        ));
        assert_eq!(by(&a_addr), want_a);
        let want_b: Vec<String> = (0..10).map(|i| format!("\"GET\" \"{}\"", keys[i % 3])).collect();
        assert_eq!(by(&b_addr), want_b);
        assert_eq!(by("lua"), [format!("\"get\" \"{}\"", keys[1])]);
        assert!(lines.iter().all(|l| l.starts_with('+')), "{lines:?}");
    }
    // Nobody monitors once they are gone.
    drop(monitors);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
        if !list.contains(" flags=O ") {
            break;
        }
        assert!(Instant::now() < deadline, "monitors still listed: {list}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server started on a config file (killed on drop).
struct FileServer {
    port: u16,
    child: Child,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_on_file(path: &std::path::Path) -> FileServer {
    let port = common::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_spindle"))
        .arg(path)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--shards", "1"])
        .args(["--dir", path.parent().unwrap().to_str().unwrap(), "--save", ""])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start spindle");
    // Killed and reaped on drop, whatever happens below.
    let srv = FileServer { port, child };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let mut c = connect(port);
            if c.cmd(&["PING"]) == "+PONG\r\n" {
                return srv;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("spindle did not start on {path:?}");
}

#[test]
fn config_rewrite_round_trip_keeps_comments() {
    let dir = std::env::temp_dir().join(format!("spindle-rewrite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("spindle.conf");
    std::fs::write(
        &file,
        "# keep this comment\nmaxclients 100\n\n# and this one\nslowlog-max-len 7\n",
    )
    .unwrap();
    {
        let srv = start_on_file(&file);
        let mut c = connect(srv.port);
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "maxclients", "200", "latency-monitor-threshold", "5"]),
            "+OK\r\n"
        );
        assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), "+OK\r\n");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    // The command line's port and bind are written too, as Redis does.
    let port_line = text.lines().find(|l| l.starts_with("port ")).unwrap().to_string();
    assert_eq!(
        text,
        format!(
            "# keep this comment\nmaxclients 200\n\n# and this one\nslowlog-max-len 7\n# Generated by CONFIG REWRITE\n{port_line}\nbind 127.0.0.1\nsave \"\"\nlatency-monitor-threshold 5\n"
        )
    );
    // The rewritten file starts a server with those values.
    let srv = start_on_file(&file);
    let mut c = connect(srv.port);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "latency-monitor-threshold"]),
        "*2\r\n$25\r\nlatency-monitor-threshold\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        "*2\r\n$10\r\nmaxclients\r\n$3\r\n200\r\n"
    );
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
    // Without a config file.
    let plain = Server::start(1);
    let mut c = connect(plain.port);
    assert_eq!(
        c.cmd(&["CONFIG", "REWRITE"]),
        "-ERR The server is running without a config file\r\n"
    );
}

#[test]
fn config_set_is_all_or_nothing() {
    let srv = Server::start(1);
    let mut c = connect(srv.port);
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "slowlog-max-len", "9", "latency-tracking", "maybe"]),
        "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking') - argument must be 'yes' or 'no'\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "slowlog-max-len"]),
        "*2\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n"
    );
    let all = c.cmd(&["CONFIG", "GET", "slowlog-*"]);
    assert!(all.starts_with("*4\r\n"), "{all}");
}

#[test]
fn watching_clients_in_info_and_client_list() {
    let srv = Server::start(2);
    let mut a = connect(srv.port);
    let mut b = connect(srv.port);
    let mut admin = srv.client();
    let field = |c: &mut redis::Connection, name: &str| -> String {
        info(c, &["clients"])
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
            .unwrap()
    };
    assert_eq!(a.cmd(&["WATCH", "k1", "k2"]), "+OK\r\n");
    assert_eq!(b.cmd(&["WATCH", "k2"]), "+OK\r\n");
    assert_eq!(field(&mut admin, "watching_clients"), "2");
    assert_eq!(field(&mut admin, "total_watched_keys"), "2");
    assert!(a.cmd(&["CLIENT", "INFO"]).contains(" watch=2 "));
    assert_eq!(a.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(a.cmd(&["EXEC"]), "*0\r\n");
    assert_eq!(field(&mut admin, "watching_clients"), "1");
    assert_eq!(field(&mut admin, "total_watched_keys"), "1");
    assert_eq!(b.cmd(&["UNWATCH"]), "+OK\r\n");
    assert_eq!(field(&mut admin, "watching_clients"), "0");
    let info = b.cmd(&["CLIENT", "INFO"]);
    assert!(
        info.contains(" watch=0 ") && info.contains(" cmd=client|info "),
        "{info}"
    );
}
