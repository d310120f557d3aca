//! Pub/sub load generator for `bench/pubsub`.
//!
//! Opens N subscriber connections on one channel and P publisher
//! connections that PUBLISH pipelined, for a fixed time. Each payload
//! starts with its send time, so every delivery yields a publish-to-receive
//! latency. The publishers stop sending while more than `--window`
//! messages per subscriber are published but not yet received, so the
//! server's output buffers stay bounded and the rate measured is one the
//! subscribers can sustain.
//!
//! With `--pid`, the server's CPU time (utime + stime of /proc/PID/stat)
//! over the measured interval is divided by the messages published.
//!
//! Prints one markdown table row:
//! `| label | subscribers | published/s | deliveries/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/msg |`
//!
//! ```text
//! cargo run --release --example pubsub_bench -- --port 6379 --subscribers 10 \
//!     [--pid PID] [--label NAME] [--seconds 3] [--payload 64] [--publishers 1] \
//!     [--pipeline 16] [--window 1000] [--readers 4]
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

struct Opts {
    port: u16,
    subscribers: usize,
    pid: Option<u32>,
    label: String,
    seconds: f64,
    payload: usize,
    publishers: usize,
    pipeline: usize,
    window: u64,
    readers: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        port: 6379,
        subscribers: 1,
        pid: None,
        label: "server".into(),
        seconds: 3.0,
        payload: 64,
        publishers: 1,
        pipeline: 16,
        window: 1000,
        readers: 4,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--port" => o.port = v.parse().expect("--port"),
            "--subscribers" => o.subscribers = v.parse().expect("--subscribers"),
            "--pid" => o.pid = Some(v.parse().expect("--pid")),
            "--label" => o.label = v,
            "--seconds" => o.seconds = v.parse().expect("--seconds"),
            "--payload" => o.payload = v.parse().expect("--payload"),
            "--publishers" => o.publishers = v.parse().expect("--publishers"),
            "--pipeline" => o.pipeline = v.parse().expect("--pipeline"),
            "--window" => o.window = v.parse().expect("--window"),
            "--readers" => o.readers = v.parse().expect("--readers"),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    assert!(o.payload >= 16, "--payload must hold a 16-digit timestamp");
    o.readers = o.readers.clamp(1, o.subscribers.max(1));
    o
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Server CPU time (utime + stime) in microseconds.
fn cpu_us(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the parenthesised command name; utime, stime are 14, 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    ticks * 1_000_000 / hz
}

/// Length of one complete RESP2 reply at the start of `b`.
fn frame_len(b: &[u8]) -> Option<usize> {
    let line = memchr_crlf(b)?;
    match b[0] {
        b'+' | b'-' | b':' => Some(line + 2),
        b'$' => {
            let n: i64 = std::str::from_utf8(&b[1..line]).ok()?.parse().ok()?;
            let total = line + 2 + n.max(0) as usize + if n >= 0 { 2 } else { 0 };
            (b.len() >= total).then_some(total)
        }
        b'*' => {
            let n: usize = std::str::from_utf8(&b[1..line]).ok()?.parse().ok()?;
            let mut pos = line + 2;
            for _ in 0..n {
                pos += frame_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => panic!("unexpected reply byte {:?}", b[0] as char),
    }
}

fn memchr_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// The payload (third element) of a `message` frame.
fn payload_of(frame: &[u8]) -> &[u8] {
    let mut pos = memchr_crlf(frame).unwrap() + 2;
    for _ in 0..2 {
        pos += frame_len(&frame[pos..]).unwrap();
    }
    let line = pos + memchr_crlf(&frame[pos..]).unwrap();
    &frame[line + 2..frame.len() - 2]
}

struct Shared {
    start: Instant,
    published: AtomicU64,
    delivered: AtomicU64,
    stop: AtomicBool,
    measuring: AtomicBool,
}

fn main() {
    let o = opts();
    let shared = Arc::new(Shared {
        start: Instant::now(),
        published: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
    });
    let channel = b"bench:channel";

    // Subscribers, dealt over reader threads that poll their sockets.
    let mut groups: Vec<Vec<TcpStream>> = (0..o.readers).map(|_| Vec::new()).collect();
    for i in 0..o.subscribers {
        let mut s = TcpStream::connect(("127.0.0.1", o.port)).expect("connect");
        s.set_nodelay(true).unwrap();
        s.write_all(&encode(&[b"SUBSCRIBE", channel])).unwrap();
        let mut buf = Vec::new();
        let mut tmp = [0u8; 256];
        while frame_len(&buf).is_none() {
            let n = s.read(&mut tmp).unwrap();
            assert!(n > 0, "server closed during SUBSCRIBE");
            buf.extend_from_slice(&tmp[..n]);
        }
        s.set_nonblocking(true).unwrap();
        groups[i % o.readers].push(s);
    }
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap()));
    let readers: Vec<_> = groups
        .into_iter()
        .map(|socks| {
            let shared = shared.clone();
            let hist = hist.clone();
            thread::spawn(move || read_loop(socks, &shared, &hist))
        })
        .collect();

    // Publishers.
    let pubs: Vec<_> = (0..o.publishers)
        .map(|_| {
            let shared = shared.clone();
            let (payload, pipeline, window, subs, port) = (o.payload, o.pipeline, o.window, o.subscribers, o.port);
            thread::spawn(move || publish_loop(port, channel, payload, pipeline, window, subs as u64, &shared))
        })
        .collect();

    // Warm up, then measure.
    thread::sleep(Duration::from_millis(300));
    hist.lock().unwrap().reset();
    shared.measuring.store(true, Ordering::SeqCst);
    let cpu0 = o.pid.map(cpu_us);
    let (p0, d0) = (
        shared.published.load(Ordering::SeqCst),
        shared.delivered.load(Ordering::SeqCst),
    );
    let t0 = Instant::now();
    thread::sleep(Duration::from_secs_f64(o.seconds));
    let elapsed = t0.elapsed().as_secs_f64();
    let (p1, d1) = (
        shared.published.load(Ordering::SeqCst),
        shared.delivered.load(Ordering::SeqCst),
    );
    let cpu1 = o.pid.map(cpu_us);
    shared.measuring.store(false, Ordering::SeqCst);
    shared.stop.store(true, Ordering::SeqCst);
    for p in pubs {
        p.join().unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    let published = (p1 - p0) as f64;
    let delivered = (d1 - d0) as f64;
    let h = hist.lock().unwrap();
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a) as f64 / published.max(1.0)),
        _ => "-".into(),
    };
    println!(
        "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {} |",
        o.label,
        o.subscribers,
        published / elapsed,
        delivered / elapsed,
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        cpu
    );
}

fn publish_loop(port: u16, channel: &[u8], size: usize, pipeline: usize, window: u64, subs: u64, sh: &Shared) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_nodelay(true).unwrap();
    let mut payload = vec![b'x'; size];
    let mut req = Vec::new();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut tmp = vec![0u8; 1 << 16];
    while !sh.stop.load(Ordering::Relaxed) {
        // Flow control: at most `window` messages per subscriber in flight.
        let published = sh.published.load(Ordering::Relaxed);
        if subs > 0 && published * subs > sh.delivered.load(Ordering::Relaxed) + window * subs {
            thread::sleep(Duration::from_micros(50));
            continue;
        }
        req.clear();
        for _ in 0..pipeline {
            let t = sh.start.elapsed().as_nanos() as u64;
            payload[..16].copy_from_slice(format!("{t:016x}").as_bytes());
            req.extend(encode(&[b"PUBLISH", channel, &payload]));
        }
        s.write_all(&req).unwrap();
        let mut got = 0;
        while got < pipeline {
            while let Some(n) = frame_len(&buf) {
                assert_eq!(buf[0], b':', "PUBLISH failed: {}", String::from_utf8_lossy(&buf[..n]));
                buf.drain(..n);
                got += 1;
                if got == pipeline {
                    break;
                }
            }
            if got < pipeline {
                let n = s.read(&mut tmp).unwrap();
                assert!(n > 0, "server closed the publisher");
                buf.extend_from_slice(&tmp[..n]);
            }
        }
        sh.published.fetch_add(pipeline as u64, Ordering::Relaxed);
    }
}

fn read_loop(mut socks: Vec<TcpStream>, sh: &Shared, hist: &Mutex<Histogram<u64>>) {
    let mut bufs: Vec<Vec<u8>> = socks.iter().map(|_| Vec::with_capacity(1 << 16)).collect();
    let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut tmp = vec![0u8; 1 << 18];
    let mut fds: Vec<libc::pollfd> = socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut idle_after_stop = 0;
    loop {
        // SAFETY: `fds` is a valid array of pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if n == 0 && sh.stop.load(Ordering::Relaxed) {
            idle_after_stop += 1;
            if idle_after_stop > 4 {
                break;
            }
            continue;
        }
        let mut count = 0u64;
        for (i, s) in socks.iter_mut().enumerate() {
            if fds[i].revents == 0 {
                continue;
            }
            loop {
                match s.read(&mut tmp) {
                    Ok(0) => panic!("server closed a subscriber"),
                    Ok(n) => bufs[i].extend_from_slice(&tmp[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            let now = sh.start.elapsed().as_nanos() as u64;
            let measuring = sh.measuring.load(Ordering::Relaxed);
            let mut pos = 0;
            let b = &bufs[i];
            while let Some(n) = frame_len(&b[pos..]) {
                let p = payload_of(&b[pos..pos + n]);
                let sent = u64::from_str_radix(std::str::from_utf8(&p[..16]).unwrap(), 16).unwrap();
                if measuring {
                    local.saturating_record((now.saturating_sub(sent) / 1000).max(1));
                }
                count += 1;
                pos += n;
            }
            bufs[i].drain(..pos);
        }
        sh.delivered.fetch_add(count, Ordering::Relaxed);
        if local.len() > 100_000 {
            hist.lock().unwrap().add(&local).unwrap();
            local.reset();
        }
    }
    hist.lock().unwrap().add(&local).unwrap();
}
