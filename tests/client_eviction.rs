//! Client eviction (maxmemory-clients) on the real binary, with two shards:
//! the biggest clients are closed, largest first across shards, until all
//! clients together are under the limit; NO-EVICT clients stay; the limit
//! may be a percentage of maxmemory; 0 turns it off; INFO counts evictions
//! (evicted_clients) and client memory (mem_clients_normal).
//!
//! No assertion depends on timing: waits poll for a condition with a
//! generous deadline.

mod common;

use std::io::Write;
use std::time::Duration;

use common::{client_line, client_list, client_num, eventually, named, raw_info_num, Raw, Server};

/// An admin connection that client eviction leaves alone.
fn admin(s: &Server) -> Raw {
    let mut c = named(s, "admin");
    assert_eq!(c.cmd(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
    c
}

/// Sends the start of a command whose one big argument (`size` bytes) is
/// never finished, so the server holds `size` bytes in the client's query
/// buffer; waits until it does, unless the client is closed first.
fn fill_query_buffer(admin: &mut Raw, c: &mut Raw, name: &str, size: usize) {
    let mut frame = format!("*2\r\n$4\r\nECHO\r\n${}\r\n", size + 1).into_bytes();
    frame.extend(std::iter::repeat_n(b'v', size));
    let _ = c.s.write_all(&frame);
    eventually("the query buffer fills (or the client is closed)", || {
        client_line(admin, name).is_none_or(|l| client_num(&l, "qbuf") >= size as u64)
    });
}

#[test]
fn config_values_and_info_fields() {
    let s = Server::start(2);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-clients"]),
        "*2\r\n$17\r\nmaxmemory-clients\r\n$1\r\n0\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory-clients", "10%"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-clients"]),
        "*2\r\n$17\r\nmaxmemory-clients\r\n$3\r\n10%\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-clients"]),
        "*2\r\n$17\r\nmaxmemory-clients\r\n$7\r\n1048576\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "maxmemory-clients", "101%"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100\r\n"
    );
    for bad in ["abc", "-5", "%", "-5%"] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "maxmemory-clients", bad]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - argument must be a memory or percent value\r\n",
            "{bad}"
        );
    }
    assert_eq!(c.cmd(&["CONFIG", "SET", "maxmemory-clients", "0"]), "+OK\r\n");
    assert_eq!(raw_info_num(&mut c, "stats", "evicted_clients"), 0);
    // Every client's tot-mem, summed over both shards.
    let mut other = s.raw();
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    let listed: u64 = client_list(&mut c).lines().map(|l| client_num(l, "tot-mem")).sum();
    let reported = raw_info_num(&mut c, "memory", "mem_clients_normal");
    assert!(reported > 0 && listed > 0, "{reported} {listed}");
}

#[test]
fn config_file_and_flag_take_a_percentage() {
    let s = Server::start_with(1, &["--maxmemory-clients", "5%"]);
    let mut c = s.raw();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxmemory-clients"]),
        "*2\r\n$17\r\nmaxmemory-clients\r\n$2\r\n5%\r\n"
    );
}

#[test]
fn big_query_buffer_is_evicted_small_clients_stay() {
    let s = Server::start(2);
    let mut admin = admin(&s);
    let mut small: Vec<Raw> = (0..6).map(|i| named(&s, &format!("small{i}"))).collect();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]), "+OK\r\n");
    let mut hog = named(&s, "hog");
    fill_query_buffer(&mut admin, &mut hog, "hog", 2_000_000);
    eventually("the hog is evicted", || client_line(&mut admin, "hog").is_none());
    assert!(hog.closed());
    for (i, c) in small.iter_mut().enumerate() {
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "small{i}");
    }
    assert_eq!(raw_info_num(&mut admin, "stats", "evicted_clients"), 1);
}

#[test]
fn big_output_buffer_is_evicted() {
    let s = Server::start(2);
    let mut admin = admin(&s);
    let mut bystander = named(&s, "bystander");
    assert_eq!(admin.cmd(&["SETRANGE", "k", "200000", "v"]), ":200001\r\n");
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "2mb"]), "+OK\r\n");
    let mut reader = named(&s, "reader");
    // GETs pipelined, replies never read: the output buffer grows until
    // the client is evicted (the socket buffers take only so much).
    let get = common::encode(&["GET", "k"]);
    let mut batch = Vec::new();
    for _ in 0..10 {
        batch.extend_from_slice(&get);
    }
    reader.s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    eventually("the reader is evicted", || {
        let _ = reader.s.write_all(&batch);
        client_line(&mut admin, "reader").is_none()
    });
    assert_eq!(bystander.cmd(&["PING"]), "+PONG\r\n");
    assert!(raw_info_num(&mut admin, "stats", "evicted_clients") >= 1);
}

#[test]
fn no_evict_client_is_kept() {
    let s = Server::start(2);
    let mut admin = admin(&s);
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]), "+OK\r\n");
    let mut hog = named(&s, "hog");
    assert_eq!(hog.cmd(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
    fill_query_buffer(&mut admin, &mut hog, "hog", 1_500_000);
    let line = client_line(&mut admin, "hog").expect("the no-evict client stays");
    assert!(client_num(&line, "tot-mem") > 1024 * 1024, "{line}");
    assert!(line.contains(" flags=e "), "{line}");
    assert_eq!(raw_info_num(&mut admin, "stats", "evicted_clients"), 0);
}

#[test]
fn percentage_of_maxmemory() {
    let s = Server::start(2);
    let mut admin = admin(&s);
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "20mb"]), "+OK\r\n");
    // 5% of 20 MB: 1 MB.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "5%"]), "+OK\r\n");
    let mut half = named(&s, "half");
    fill_query_buffer(&mut admin, &mut half, "half", 400_000);
    let line = client_line(&mut admin, "half").expect("a client under the limit stays");
    assert!(client_num(&line, "tot-mem") >= 400_000, "{line}");
    let mut hog = named(&s, "hog");
    fill_query_buffer(&mut admin, &mut hog, "hog", 1_200_000);
    eventually("the hog is evicted", || client_line(&mut admin, "hog").is_none());
    assert!(client_line(&mut admin, "half").is_some());
    // Without maxmemory a percentage means no limit.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
    let mut big = named(&s, "big");
    fill_query_buffer(&mut admin, &mut big, "big", 1_500_000);
    assert!(client_line(&mut admin, "big").is_some());
    assert_eq!(raw_info_num(&mut admin, "stats", "evicted_clients"), 1);
}

#[test]
fn zero_disables_and_lowering_the_limit_evicts_at_once() {
    let s = Server::start(2);
    let mut admin = admin(&s);
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "0"]), "+OK\r\n");
    let mut hog = named(&s, "hog");
    fill_query_buffer(&mut admin, &mut hog, "hog", 3_000_000);
    assert!(client_line(&mut admin, "hog").is_some(), "no limit: the hog stays");
    // CONFIG SET evicts before it replies.
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]), "+OK\r\n");
    assert!(client_line(&mut admin, "hog").is_none());
    assert_eq!(raw_info_num(&mut admin, "stats", "evicted_clients"), 1);
}

#[test]
fn largest_clients_go_first_across_shards() {
    let s = Server::start(2);
    let mut admin = admin(&s);
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "0"]), "+OK\r\n");
    // Clients of different sizes, spread over both shards by the kernel.
    let sizes = [100_000usize, 300_000, 600_000, 1_200_000, 2_400_000];
    let mut conns = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let name = format!("c{i}");
        let mut c = named(&s, &name);
        fill_query_buffer(&mut admin, &mut c, &name, size);
        conns.push(c);
    }
    let list = client_list(&mut admin);
    let mem = |i: usize| {
        list.lines()
            .find(|l| l.contains(&format!(" name=c{i} ")))
            .map(|l| client_num(l, "tot-mem"))
            .unwrap()
    };
    let total: u64 = list.lines().map(|l| client_num(l, "tot-mem")).sum();
    // Room for everything but the two largest (with slack for the admin
    // connection's own buffers): exactly those two go.
    let limit = total - mem(4) - mem(3) + mem(0) / 2;
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "maxmemory-clients", &limit.to_string()]),
        "+OK\r\n"
    );
    let list = client_list(&mut admin);
    for i in 0..5 {
        let present = list.contains(&format!(" name=c{i} "));
        assert_eq!(present, i < 3, "c{i} in {list}");
    }
    assert_eq!(raw_info_num(&mut admin, "stats", "evicted_clients"), 2);
}
