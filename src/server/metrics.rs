//! The optional Prometheus text endpoint: `GET /metrics` over HTTP/1.1 on
//! `--metrics-port` (0: off, the default), in the text exposition format
//! 0.0.4.
//!
//! Shard 0 alone listens, on the server's bind addresses, as one more task
//! of its executor. A scrape gathers INFO's counters from every shard
//! (`command::server::gather`, the code INFO runs), so it costs what an
//! `INFO all` costs and nothing on the command path. A connection serves
//! one request and closes; its request is bounded in size and the whole
//! exchange in time, and only a few are served at once, so slow or hostile
//! clients cannot pile up on the shard.

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use hdrhistogram::Histogram;

use crate::command::observe::slot_name;
use crate::command::server::{gather, rss_bytes};
use crate::shard::{Shard, CONNECTED_CLIENTS, SERVER_INFO};
use crate::util::now_ms;

use super::log;

/// The shard whose executor serves the endpoint.
pub const METRICS_SHARD: usize = 0;
/// Largest request head (request line and headers) read.
const MAX_REQUEST: usize = 8192;
/// Time a client has to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a whole exchange may take (request, gathering, reply).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at accept.
const MAX_INFLIGHT: usize = 8;
/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Upper bounds of the latency histogram buckets: nanoseconds and the
/// seconds written in `le` (1-2.5-5 steps from 1 µs to 1 s, the range the
/// per-command hdrhistograms keep).
const BUCKETS: &[(u64, &str)] = &[
    (1_000, "0.000001"),
    (2_500, "0.0000025"),
    (5_000, "0.000005"),
    (10_000, "0.00001"),
    (25_000, "0.000025"),
    (50_000, "0.00005"),
    (100_000, "0.0001"),
    (250_000, "0.00025"),
    (500_000, "0.0005"),
    (1_000_000, "0.001"),
    (2_500_000, "0.0025"),
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (1_000_000_000, "1"),
];

thread_local! {
    static INFLIGHT: Cell<usize> = const { Cell::new(0) };
}

/// Binds `--metrics-port` on the host of each of the server's listening
/// addresses (`host:port` strings) and serves them from this shard.
/// A plain bind (no SO_REUSEPORT): a second server cannot share the port.
pub fn start(shard: &Rc<Shard>, addrs: &[String], tq: glommio::TaskQueueHandle) -> Result<(), String> {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let port = shard.config.borrow().metrics_port;
    for a in addrs {
        let mut sa: std::net::SocketAddr = a.parse().map_err(|e| format!("{a}: {e}"))?;
        sa.set_port(port);
        let l = std::net::TcpListener::bind(sa)
            .map_err(|e| format!("Could not create metrics TCP listening socket {sa}: bind: {e}"))?;
        // SAFETY: the fd is a freshly bound, listening TCP socket whose
        // ownership moves into the glommio listener.
        let listener = unsafe { TcpListener::from_raw_fd(l.into_raw_fd()) };
        glommio::spawn_local_into(accept_loop(shard.clone(), listener), tq)
            .map_err(|e| format!("spawn the metrics listener: {e}"))?
            .detach();
        log::notice(&format!("Metrics endpoint: http://{sa}/metrics"));
    }
    Ok(())
}

async fn accept_loop(shard: Rc<Shard>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                log::warning(&format!("Accepting metrics connection: {}", e));
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Past the limit the connection is dropped unanswered: writing a
        // 503 would itself be a task a flood could multiply.
        if INFLIGHT.with(|n| n.get()) >= MAX_INFLIGHT {
            continue;
        }
        INFLIGHT.with(|n| n.set(n.get() + 1));
        let shard = shard.clone();
        glommio::spawn_local(async move {
            let _ = crate::util::within(EXCHANGE_TIMEOUT, exchange(&shard, stream)).await;
            INFLIGHT.with(|n| n.set(n.get() - 1));
        })
        .detach();
    }
}

/// Reads one request head and answers it.
async fn exchange(shard: &Rc<Shard>, mut stream: TcpStream) {
    let head = crate::util::within(READ_TIMEOUT, read_head(&mut stream))
        .await
        .flatten();
    let (status, body, head_only) = match head {
        None => (
            "431 Request Header Fields Too Large",
            "request too large or incomplete\n".to_string(),
            false,
        ),
        Some(head) => match route(&head) {
            Route::Metrics { head_only } => ("200 OK", render(shard).await, head_only),
            Route::NotFound => ("404 Not Found", "not found\n".to_string(), false),
            Route::BadMethod => ("405 Method Not Allowed", "method not allowed\n".to_string(), false),
            Route::Bad => ("400 Bad Request", "bad request\n".to_string(), false),
        },
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        if status.starts_with("200") {
            CONTENT_TYPE
        } else {
            "text/plain"
        },
        body.len()
    );
    if status.starts_with("405") {
        reply.push_str("Allow: GET, HEAD\r\n");
    }
    reply.push_str("\r\n");
    if !head_only {
        reply.push_str(&body);
    }
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown(std::net::Shutdown::Write).await;
}

/// The request head up to its blank line, or None when the client closes
/// first or sends more than [`MAX_REQUEST`] bytes without one.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    while len < MAX_REQUEST {
        let n = stream.read(&mut buf[len..]).await.ok()?;
        if n == 0 {
            return None;
        }
        len += n;
        if let Some(end) = memchr::memmem::find(&buf[..len], b"\r\n\r\n") {
            buf.truncate(end);
            return Some(buf);
        }
    }
    None
}

enum Route {
    Metrics { head_only: bool },
    NotFound,
    BadMethod,
    Bad,
}

/// What a request line asks for: `GET /metrics HTTP/1.1` (a query string
/// is ignored; HEAD answers the headers alone).
fn route(head: &[u8]) -> Route {
    let line = head.split(|&c| c == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&c| c == b' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::Bad;
    };
    if !version.starts_with(b"HTTP/1.") {
        return Route::Bad;
    }
    let head_only = match method {
        b"GET" => false,
        b"HEAD" => true,
        _ => return Route::BadMethod,
    };
    let path = target.split(|&c| c == b'?').next().unwrap_or_default();
    if path == b"/metrics" {
        Route::Metrics { head_only }
    } else {
        Route::NotFound
    }
}

/// Writes the HELP and TYPE lines of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// One metric family with a single unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Nanoseconds as exact decimal seconds.
fn seconds(ns: u64) -> String {
    let frac = format!("{:09}", ns % 1_000_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{}", ns / 1_000_000_000)
    } else {
        format!("{}.{}", ns / 1_000_000_000, frac)
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Cumulative counts of `h` at each of [`BUCKETS`]. A recorded value counts
/// at the low end of its hdrhistogram bucket (within 1% below what was
/// recorded), so the values clamped to 1 s stay in the `le="1"` bucket.
fn cumulative_buckets(h: &Histogram<u64>) -> [u64; BUCKETS.len()] {
    let mut counts = [0u64; BUCKETS.len()];
    for it in h.iter_recorded() {
        let v = h.lowest_equivalent(it.value_iterated_to());
        let i = BUCKETS.partition_point(|&(le, _)| le < v);
        if i < BUCKETS.len() {
            counts[i] += it.count_at_value();
        }
    }
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
    counts
}

/// The whole exposition, gathered from every shard.
pub async fn render(shard: &Rc<Shard>) -> String {
    let (used, maxmemory) = (crate::memory::used(), shard.config.borrow().memory.maxmemory);
    let g = gather(shard, 0, true).await;
    let st = &g.stats;
    let mut out = String::with_capacity(16 << 10);
    let uptime = SERVER_INFO
        .get()
        .map_or(0, |i| now_ms().saturating_sub(i.start_ms) / 1000);
    single(
        &mut out,
        "spindle_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        uptime,
    );
    let connected = g
        .connected
        .max(CONNECTED_CLIENTS.load(std::sync::atomic::Ordering::Relaxed) as usize);
    single(
        &mut out,
        "spindle_connected_clients",
        "gauge",
        "Client connections open.",
        connected,
    );
    single(
        &mut out,
        "spindle_blocked_clients",
        "gauge",
        "Clients waiting in a blocking command or held by CLIENT PAUSE.",
        g.blocked,
    );
    single(
        &mut out,
        "spindle_connections_received_total",
        "counter",
        "Client connections accepted.",
        st.total_connections,
    );
    single(
        &mut out,
        "spindle_rejected_connections_total",
        "counter",
        "Client connections refused (maxclients, protected mode).",
        st.rejected_connections,
    );
    single(
        &mut out,
        "spindle_commands_processed_total",
        "counter",
        "Commands processed.",
        st.total_commands,
    );
    single(
        &mut out,
        "spindle_memory_used_bytes",
        "gauge",
        "Bytes allocated by the server (INFO used_memory).",
        used,
    );
    single(
        &mut out,
        "spindle_memory_rss_bytes",
        "gauge",
        "Resident set size of the process.",
        rss_bytes(),
    );
    single(
        &mut out,
        "spindle_memory_max_bytes",
        "gauge",
        "The maxmemory setting (0: no limit).",
        maxmemory,
    );
    single(
        &mut out,
        "spindle_evicted_keys_total",
        "counter",
        "Keys evicted under maxmemory.",
        st.evicted_keys,
    );
    single(
        &mut out,
        "spindle_expired_keys_total",
        "counter",
        "Keys removed on expiry.",
        g.expired,
    );
    single(
        &mut out,
        "spindle_keyspace_hits_total",
        "counter",
        "Key lookups that found the key.",
        st.keyspace_hits,
    );
    single(
        &mut out,
        "spindle_keyspace_misses_total",
        "counter",
        "Key lookups that did not find the key.",
        st.keyspace_misses,
    );
    single(
        &mut out,
        "spindle_error_replies_total",
        "counter",
        "Error replies sent.",
        st.error_replies,
    );

    family(&mut out, "spindle_db_keys", "gauge", "Keys per database.");
    for (db, &(keys, _, _)) in g.keyspace.iter().enumerate() {
        if keys > 0 {
            let _ = writeln!(out, "spindle_db_keys{{db=\"{db}\"}} {keys}");
        }
    }
    family(
        &mut out,
        "spindle_db_keys_expiring",
        "gauge",
        "Keys with a time to live per database.",
    );
    for (db, &(keys, vol, _)) in g.keyspace.iter().enumerate() {
        if keys > 0 {
            let _ = writeln!(out, "spindle_db_keys_expiring{{db=\"{db}\"}} {vol}");
        }
    }

    let used_slots: Vec<usize> = st
        .commands
        .iter()
        .enumerate()
        .filter(|(_, c)| c.calls > 0 || c.failed > 0 || c.rejected > 0)
        .map(|(i, _)| i)
        .collect();
    type Field = fn(&crate::shard::CmdStat) -> String;
    let per_command: [(&str, &str, Field); 4] = [
        (
            "spindle_command_calls_total",
            "Calls per command (INFO commandstats calls).",
            |c| c.calls.to_string(),
        ),
        (
            "spindle_command_seconds_total",
            "Time spent per command (INFO commandstats usec, in seconds).",
            |c| seconds(c.nsec),
        ),
        (
            "spindle_command_failed_calls_total",
            "Calls per command that replied with an error.",
            |c| c.failed.to_string(),
        ),
        (
            "spindle_command_rejected_calls_total",
            "Calls per command refused before running (arity, ACL, OOM ...).",
            |c| c.rejected.to_string(),
        ),
    ];
    for (name, help, field) in per_command {
        family(&mut out, name, "counter", help);
        for &i in &used_slots {
            let _ = writeln!(
                out,
                "{name}{{cmd=\"{}\"}} {}",
                label(slot_name(i)),
                field(&st.commands[i])
            );
        }
    }

    let name = "spindle_command_duration_seconds";
    family(
        &mut out,
        name,
        "histogram",
        "Per-command latency (the latency-tracking histograms of INFO latencystats).",
    );
    for (i, c) in st.commands.iter().enumerate() {
        let Some(h) = &c.hist else { continue };
        let cmd = label(slot_name(i));
        let counts = cumulative_buckets(h);
        for (k, &(_, le)) in BUCKETS.iter().enumerate() {
            let _ = writeln!(out, "{name}_bucket{{cmd=\"{cmd}\",le=\"{le}\"}} {}", counts[k]);
        }
        let count = h.len();
        let _ = writeln!(out, "{name}_bucket{{cmd=\"{cmd}\",le=\"+Inf\"}} {count}");
        // The exact time when every call was recorded; the histogram's
        // estimate when latency-tracking was off for some of them.
        let sum_ns = if count == c.calls {
            c.nsec
        } else {
            (h.mean() * count as f64) as u64
        };
        let _ = writeln!(out, "{name}_sum{{cmd=\"{cmd}\"}} {}", seconds(sum_ns));
        let _ = writeln!(out, "{name}_count{{cmd=\"{cmd}\"}} {count}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x"),
            Route::Metrics { head_only: false }
        ));
        assert!(matches!(
            route(b"HEAD /metrics?x=1 HTTP/1.0"),
            Route::Metrics { head_only: true }
        ));
        assert!(matches!(route(b"GET / HTTP/1.1"), Route::NotFound));
        assert!(matches!(route(b"GET /metricsx HTTP/1.1"), Route::NotFound));
        assert!(matches!(route(b"POST /metrics HTTP/1.1"), Route::BadMethod));
        assert!(matches!(route(b"GET /metrics"), Route::Bad));
        assert!(matches!(route(b"GET /metrics SPDY/3"), Route::Bad));
    }

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1_500), "0.0000015");
        assert_eq!(seconds(2_000_000_000), "2");
        assert_eq!(seconds(3_250_000_001), "3.250000001");
    }

    #[test]
    fn buckets_are_cumulative() {
        let mut h = crate::command::observe::new_histogram();
        for v in [500, 900, 3_000, 70_000, 2_000_000, 999_000_000] {
            h.record(v).unwrap();
        }
        let c = cumulative_buckets(&h);
        assert_eq!(c[0], 2); // ≤ 1 µs
        assert_eq!(c[2], 3); // ≤ 5 µs
        assert_eq!(c[6], 4); // ≤ 100 µs
        assert_eq!(c[10], 5); // ≤ 2.5 ms
        assert_eq!(c[BUCKETS.len() - 1], 6);
        assert!(c.windows(2).all(|w| w[0] <= w[1]));
    }
}
