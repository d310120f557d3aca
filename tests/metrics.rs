//! The Prometheus endpoint (`--metrics-port`) against the real binary: the
//! exposition parses (every sample `name{labels} value` of a declared
//! family), calls are counted exactly, histogram buckets are cumulative and
//! end at `+Inf` = `_count`; other paths and bad requests get their status;
//! a silent client does not stall the endpoint; off by default.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{free_port, Server};

/// Sends `request` to the metrics port and returns (status line, headers
/// in lower case, body).
fn http(port: u16, request: &[u8]) -> (String, HashMap<String, String>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the metrics port");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the whole response");
    let text = String::from_utf8(raw).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("a header line");
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    (status, headers, body.to_string())
}

fn scrape(port: u16) -> String {
    let (status, headers, body) = http(port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(headers["content-type"], "text/plain; version=0.0.4");
    assert_eq!(headers["content-length"], body.len().to_string());
    body
}

/// One sample: name, labels in order, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, k: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

fn valid_name(n: &str) -> bool {
    let mut cs = n.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses an exposition strictly: HELP/TYPE comments, then samples of the
/// declared families only. Returns the samples and the family types.
fn parse(body: &str) -> (Vec<Sample>, HashMap<String, String>) {
    assert!(body.ends_with('\n'), "the exposition ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut w = rest.splitn(3, ' ');
            let (kind, name, what) = (w.next().unwrap(), w.next().unwrap(), w.next().unwrap_or(""));
            assert!(valid_name(name), "bad family name in {line:?}");
            match kind {
                "HELP" => assert!(!what.is_empty(), "empty HELP: {line:?}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&what),
                        "bad TYPE: {line:?}"
                    );
                    assert!(
                        types.insert(name.to_string(), what.to_string()).is_none(),
                        "TYPE twice: {line:?}"
                    );
                }
                _ => panic!("unknown comment: {line:?}"),
            }
            continue;
        }
        assert!(!line.is_empty() && !line.starts_with('#'), "bad line: {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels: {line:?}"));
                let mut labels = Vec::new();
                for pair in inner.split("\",") {
                    let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("bad label: {line:?}"));
                    assert!(valid_name(k), "bad label name: {line:?}");
                    labels.push((k.to_string(), v.trim_end_matches('"').to_string()));
                }
                (name.to_string(), labels)
            }
        };
        assert!(valid_name(&name), "bad sample name: {line:?}");
        let family_declared = types.get(&name).is_some_and(|t| t != "histogram")
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|f| types.get(f).map(String::as_str) == Some("histogram"))
            });
        assert!(family_declared, "sample of an undeclared family: {line:?}");
        samples.push(Sample { name, labels, value });
    }
    (samples, types)
}

fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
}

/// Checks the histogram of `cmd` and returns its `_count`.
fn check_histogram(samples: &[Sample], cmd: &str) -> f64 {
    let base = "spindle_command_duration_seconds";
    let buckets: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == format!("{base}_bucket") && s.label("cmd") == Some(cmd))
        .collect();
    assert!(!buckets.is_empty(), "no buckets for {cmd}");
    let les: Vec<f64> = buckets
        .iter()
        .map(|s| match s.label("le").expect("an le label") {
            "+Inf" => f64::INFINITY,
            v => v.parse().expect("a numeric le"),
        })
        .collect();
    assert!(les.windows(2).all(|w| w[0] < w[1]), "le ascending for {cmd}: {les:?}");
    assert_eq!(*les.last().unwrap(), f64::INFINITY, "last bucket of {cmd} is +Inf");
    assert!(
        buckets.windows(2).all(|w| w[0].value <= w[1].value),
        "buckets of {cmd} are cumulative"
    );
    let count = value(samples, &format!("{base}_count"), Some(("cmd", cmd))).expect("a _count");
    assert_eq!(buckets.last().unwrap().value, count, "+Inf bucket of {cmd} = _count");
    let sum = value(samples, &format!("{base}_sum"), Some(("cmd", cmd))).expect("a _sum");
    assert!(sum > 0.0, "_sum of {cmd}");
    count
}

fn start(shards: usize) -> (Server, u16) {
    let mport = free_port();
    let s = Server::start_with(shards, &["--metrics-port", &mport.to_string()]);
    (s, mport)
}

#[test]
fn exposition_parses_and_counts_exactly() {
    let (s, mport) = start(2);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "metrics-port"]),
        format!(
            "*2\r\n$12\r\nmetrics-port\r\n${}\r\n{}\r\n",
            mport.to_string().len(),
            mport
        )
    );
    for i in 0..5 {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), "1"]), "+OK\r\n");
    }
    for i in 0..7 {
        c.cmd(&["GET", &format!("k{i}")]);
    }
    assert_eq!(c.cmd(&["SELECT", "3"]), "+OK\r\n");
    c.cmd(&["SET", "x", "y", "EX", "1000"]);
    assert!(c.cmd(&["INCR", "x"]).starts_with("-ERR"));
    assert!(c.cmd(&["GET"]).starts_with("-ERR wrong number"));

    let body = scrape(mport);
    let (samples, types) = parse(&body);
    for family in [
        "spindle_uptime_seconds",
        "spindle_connected_clients",
        "spindle_blocked_clients",
        "spindle_connections_received_total",
        "spindle_commands_processed_total",
        "spindle_memory_used_bytes",
        "spindle_memory_rss_bytes",
        "spindle_memory_max_bytes",
        "spindle_evicted_keys_total",
        "spindle_expired_keys_total",
        "spindle_keyspace_hits_total",
        "spindle_keyspace_misses_total",
        "spindle_db_keys",
        "spindle_command_calls_total",
        "spindle_command_seconds_total",
        "spindle_command_failed_calls_total",
        "spindle_command_rejected_calls_total",
        "spindle_command_duration_seconds",
    ] {
        assert!(types.contains_key(family), "family {family} missing:\n{body}");
    }
    assert_eq!(types["spindle_command_duration_seconds"], "histogram");
    let calls = |cmd| value(&samples, "spindle_command_calls_total", Some(("cmd", cmd)));
    assert_eq!(calls("set"), Some(6.0));
    assert_eq!(calls("get"), Some(7.0));
    assert_eq!(calls("incr"), Some(1.0));
    assert_eq!(
        value(&samples, "spindle_command_failed_calls_total", Some(("cmd", "incr"))),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "spindle_command_rejected_calls_total", Some(("cmd", "get"))),
        Some(1.0)
    );
    assert!(value(&samples, "spindle_keyspace_hits_total", None).unwrap() >= 5.0);
    assert!(value(&samples, "spindle_keyspace_misses_total", None).unwrap() >= 2.0);
    assert_eq!(value(&samples, "spindle_db_keys", Some(("db", "0"))), Some(5.0));
    assert_eq!(value(&samples, "spindle_db_keys", Some(("db", "3"))), Some(1.0));
    assert_eq!(
        value(&samples, "spindle_db_keys_expiring", Some(("db", "3"))),
        Some(1.0)
    );
    assert!(value(&samples, "spindle_connected_clients", None).unwrap() >= 1.0);
    assert!(value(&samples, "spindle_memory_used_bytes", None).unwrap() > 0.0);
    assert_eq!(check_histogram(&samples, "get"), 7.0);
    assert_eq!(check_histogram(&samples, "set"), 6.0);
    assert_eq!(check_histogram(&samples, "config|get"), 1.0);

    // A scrape is not a command: the counts stay as they were.
    let (again, _) = parse(&scrape(mport));
    assert_eq!(
        value(&again, "spindle_command_calls_total", Some(("cmd", "get"))),
        Some(7.0)
    );
    assert_eq!(check_histogram(&again, "get"), 7.0);

    // HEAD: the headers alone.
    let (status, headers, body) = http(mport, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(headers["content-type"], "text/plain; version=0.0.4");
    assert!(body.is_empty());
}

#[test]
fn other_paths_and_bad_requests() {
    let (s, mport) = start(1);
    for path in ["/", "/metricsx", "/foo/metrics"] {
        let (status, _, _) = http(mport, format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes());
        assert_eq!(status, "HTTP/1.1 404 Not Found", "{path}");
    }
    let (status, _, _) = http(mport, b"GET /metrics?name[]=x HTTP/1.1\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, headers, _) = http(mport, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert_eq!(headers["allow"], "GET, HEAD");
    let (status, _, _) = http(mport, b"hello\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while huge.len() < 9000 {
        huge.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let (status, _, _) = http(mport, &huge);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");

    // Clients that connect and say nothing stall neither the endpoint nor
    // the shard serving it.
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", mport)).unwrap())
        .collect();
    let mut c = s.raw();
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    scrape(mport);
    drop(silent);
}

/// The TCP ports process `pid` listens on (from /proc).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, st (0A: LISTEN), inode
            if f.len() > 9 && f[3] == "0A" && inodes.iter().any(|i| i == f[9]) {
                let port = u16::from_str_radix(f[1].rsplit(':').next().unwrap(), 16).unwrap();
                ports.push(port);
            }
        }
    }
    ports.sort();
    ports.dedup();
    ports
}

#[test]
fn off_by_default() {
    let s = Server::start(1);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "metrics-port"]),
        "*2\r\n$12\r\nmetrics-port\r\n$1\r\n0\r\n"
    );
    assert!(c
        .cmd(&["CONFIG", "SET", "metrics-port", "9100"])
        .starts_with("-ERR CONFIG SET failed"));
    assert_eq!(listening_ports(s.pid()), vec![s.port], "only the server's port listens");

    let (on, mport) = start(2);
    let mut want = vec![on.port, mport];
    want.sort();
    assert_eq!(listening_ports(on.pid()), want);
}
