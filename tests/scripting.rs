//! Lua scripts against the real binary: the patterns services rely on
//! (rate limiters, token buckets, lock release), atomicity of scripts that
//! reach keys of several shards (declared or not), the process-wide script
//! cache, functions, and blocked clients woken after a script.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{keys_on_distinct_shards, Server};

const SLIDING_WINDOW: &str = r#"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 1
end
return 0
"#;

const TOKEN_BUCKET: &str = r#"
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + (now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return allowed
"#;

const RELEASE: &str = "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

fn sha_of(c: &mut redis::Connection, body: &str) -> String {
    redis::cmd("SCRIPT").arg("LOAD").arg(body).query(c).unwrap()
}

#[test]
fn sliding_window_limiter_admits_exactly_the_limit_in_a_script_and_in_multi() {
    let server = Server::start(4);
    let admitted = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut threads = Vec::new();
    for t in 0..8 {
        let mut c = server.client();
        let admitted = admitted.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..40 {
                let member = format!("{t}-{i}");
                let ok: i64 = redis::cmd("EVAL")
                    .arg(SLIDING_WINDOW)
                    .arg(1)
                    .arg("limit:{api}")
                    .arg(1_000_000)
                    .arg(600_000)
                    .arg(100)
                    .arg(&member)
                    .query(&mut c)
                    .unwrap();
                admitted.fetch_add(ok, Ordering::Relaxed);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(admitted.load(Ordering::Relaxed), 100);
    let mut c = server.client();
    let n: i64 = redis::cmd("ZCARD").arg("limit:{api}").query(&mut c).unwrap();
    assert_eq!(n, 100);
    // The same limiter as MULTI: trim, add, count, and decide on the count.
    let mut over = 0;
    for i in 0..30 {
        let (_, _, count, _): (i64, i64, i64, i64) = redis::pipe()
            .atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg("limit:multi")
            .arg(0)
            .arg(1000)
            .cmd("ZADD")
            .arg("limit:multi")
            .arg(2000 + i)
            .arg(format!("m{i}"))
            .cmd("ZCARD")
            .arg("limit:multi")
            .cmd("PEXPIRE")
            .arg("limit:multi")
            .arg(60000)
            .query(&mut c)
            .unwrap();
        if count > 20 {
            over += 1;
        }
        assert_eq!(count, i + 1);
    }
    assert_eq!(over, 10);
}

#[test]
fn token_bucket_grants_exactly_its_capacity_under_contention() {
    let server = Server::start(4);
    let mut c = server.client();
    let sha = sha_of(&mut c, TOKEN_BUCKET);
    let granted = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut threads = Vec::new();
    for _ in 0..8 {
        let mut c = server.client();
        let (sha, granted) = (sha.clone(), granted.clone());
        threads.push(std::thread::spawn(move || {
            for _ in 0..25 {
                // The clock is frozen (ARGV), so no refill: 50 tokens in all.
                let ok: i64 = redis::cmd("EVALSHA")
                    .arg(&sha)
                    .arg(1)
                    .arg("bucket:user7")
                    .arg(50)
                    .arg(1)
                    .arg(1000)
                    .query(&mut c)
                    .unwrap();
                granted.fetch_add(ok, Ordering::Relaxed);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(granted.load(Ordering::Relaxed), 50);
    let tokens: String = redis::cmd("HGET")
        .arg("bucket:user7")
        .arg("tokens")
        .query(&mut c)
        .unwrap();
    assert_eq!(tokens, "0");
}

#[test]
fn safe_lock_release_and_a_contended_lock_protect_a_counter() {
    let server = Server::start(4);
    let mut c = server.client();
    let _: () = redis::cmd("SET").arg("lock:res").arg("token-a").query(&mut c).unwrap();
    let n: i64 = redis::cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg("lock:res")
        .arg("token-b")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0);
    let n: i64 = redis::cmd("EVAL")
        .arg(RELEASE)
        .arg(1)
        .arg("lock:res")
        .arg("token-a")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let exists: i64 = redis::cmd("EXISTS").arg("lock:res").query(&mut c).unwrap();
    assert_eq!(exists, 0);

    // redis-py's Lock: SET NX PX to take it, the release script to drop it.
    // The counter is read and written back non-atomically under the lock.
    let sha = sha_of(&mut c, RELEASE);
    let mut threads = Vec::new();
    for t in 0..6 {
        let mut c = server.client();
        let sha = sha.clone();
        threads.push(std::thread::spawn(move || {
            for i in 0..30 {
                let token = format!("{t}:{i}");
                loop {
                    let got: Option<String> = redis::cmd("SET")
                        .arg("lock:counter")
                        .arg(&token)
                        .arg("NX")
                        .arg("PX")
                        .arg(30000)
                        .query(&mut c)
                        .unwrap();
                    if got.is_some() {
                        break;
                    }
                    std::thread::yield_now();
                }
                let v: Option<i64> = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
                let _: () = redis::cmd("SET")
                    .arg("counter")
                    .arg(v.unwrap_or(0) + 1)
                    .query(&mut c)
                    .unwrap();
                let released: i64 = redis::cmd("EVALSHA")
                    .arg(&sha)
                    .arg(1)
                    .arg("lock:counter")
                    .arg(&token)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(released, 1);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let v: i64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    assert_eq!(v, 180);
}

/// Transfers between accounts on four shards, done by scripts that declare
/// no keys at all (or only one of the two), while auditors sum balances with
/// MGET and with a script: the sum never changes, and no transfer is applied
/// twice by an aborted first attempt.
#[test]
fn scripts_touching_undeclared_keys_of_other_shards_stay_atomic() {
    let server = Server::start(4);
    let accounts = keys_on_distinct_shards("acct", 4);
    let mut admin = server.client();
    for a in &accounts {
        let _: () = redis::cmd("SET").arg(a).arg(1000).query(&mut admin).unwrap();
    }
    let transfer = "redis.call('decrby', ARGV[1], ARGV[3]); redis.call('incrby', ARGV[2], ARGV[3]); return 1";
    let transfer_half_declared =
        "redis.call('decrby', KEYS[1], ARGV[2]); redis.call('incrby', ARGV[1], ARGV[2]); return 1";
    let audit = "local s = 0; for i, k in ipairs(ARGV) do s = s + tonumber(redis.call('get', k)) end; return s";
    let stop = Arc::new(AtomicBool::new(false));
    let mut movers = Vec::new();
    for t in 0..4 {
        let mut c = server.client();
        let accounts = accounts.clone();
        movers.push(std::thread::spawn(move || {
            let mut moved = 0i64;
            for i in 0..150usize {
                let from = &accounts[(i + t) % 4];
                let to = &accounts[(i + t + 1) % 4];
                let _: i64 = if i % 2 == 0 {
                    redis::cmd("EVAL")
                        .arg(transfer)
                        .arg(0)
                        .arg(from)
                        .arg(to)
                        .arg(3)
                        .query(&mut c)
                        .unwrap()
                } else {
                    redis::cmd("EVAL")
                        .arg(transfer_half_declared)
                        .arg(1)
                        .arg(from)
                        .arg(to)
                        .arg(3)
                        .query(&mut c)
                        .unwrap()
                };
                moved += 3;
            }
            moved
        }));
    }
    let mut auditors = Vec::new();
    for kind in 0..2 {
        let mut c = server.client();
        let accounts = accounts.clone();
        let stop = stop.clone();
        auditors.push(std::thread::spawn(move || {
            let mut audits = 0;
            while !stop.load(Ordering::Relaxed) {
                let sum: i64 = if kind == 0 {
                    let v: Vec<i64> = redis::cmd("MGET").arg(&accounts).query(&mut c).unwrap();
                    v.iter().sum()
                } else {
                    redis::cmd("EVAL")
                        .arg(audit)
                        .arg(0)
                        .arg(&accounts)
                        .query(&mut c)
                        .unwrap()
                };
                assert_eq!(sum, 4000);
                audits += 1;
            }
            audits
        }));
    }
    let moved: i64 = movers.into_iter().map(|m| m.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    for a in auditors {
        assert!(a.join().unwrap() > 0);
    }
    assert_eq!(moved, 4 * 150 * 3);
    // Each account gave and received the same amounts: exactly-once
    // application of every transfer leaves every balance where it started.
    let balances: Vec<i64> = redis::cmd("MGET").arg(&accounts).query(&mut admin).unwrap();
    assert_eq!(balances, vec![1000; 4]);

    // A script that writes its own shard first and then reaches another:
    // the first (aborted) attempt's INCR must not survive.
    let k = keys_on_distinct_shards("cnt", 4);
    let both = "redis.call('incr', KEYS[1]); redis.call('incr', ARGV[1]); return redis.call('get', KEYS[1])";
    for i in 1..=50 {
        let v: i64 = redis::cmd("EVAL")
            .arg(both)
            .arg(1)
            .arg(&k[0])
            .arg(&k[2])
            .query(&mut admin)
            .unwrap();
        assert_eq!(v, i);
    }
    let v: Vec<i64> = redis::cmd("MGET").arg(&k[0]).arg(&k[2]).query(&mut admin).unwrap();
    assert_eq!(v, vec![50, 50]);
}

#[test]
fn scripts_and_functions_are_known_on_every_connection() {
    let server = Server::start(4);
    let mut c = server.client();
    let sha = sha_of(&mut c, "return {KEYS[1], ARGV[1], 42}");
    let lib = "#!lua name=mylib\nredis.register_function('hello', function(keys, args) return 'hi ' .. args[1] end)\nredis.register_function{function_name='ro_get', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";
    let name: String = redis::cmd("FUNCTION").arg("LOAD").arg(lib).query(&mut c).unwrap();
    assert_eq!(name, "mylib");
    // Connections land on different shards; each must see both.
    for _ in 0..8 {
        let mut d = server.client();
        let v: (String, String, i64) = redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(1)
            .arg("k")
            .arg("a")
            .query(&mut d)
            .unwrap();
        assert_eq!(v, ("k".into(), "a".into(), 42));
        let v: String = redis::cmd("FCALL")
            .arg("hello")
            .arg(0)
            .arg("you")
            .query(&mut d)
            .unwrap();
        assert_eq!(v, "hi you");
        let _: () = redis::cmd("SET").arg("rk").arg("rv").query(&mut d).unwrap();
        let v: String = redis::cmd("FCALL_RO")
            .arg("ro_get")
            .arg(1)
            .arg("rk")
            .query(&mut d)
            .unwrap();
        assert_eq!(v, "rv");
    }
    let flushed: String = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    assert_eq!(flushed, "OK");
    let mut d = server.raw();
    assert_eq!(
        d.cmd(&["EVALSHA", &sha, "0"]),
        "-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
}

#[test]
fn a_client_blocked_on_a_list_is_served_after_the_script_that_pushed() {
    let server = Server::start(2);
    let mut waiter = server.raw();
    let mut admin = server.client();
    waiter.send(&common::encode(&["BLPOP", "jobs", "0"]));
    common::wait_blocked(&mut admin, 1);
    let mut t = server.raw();
    assert_eq!(
        t.cmd(&[
            "EVAL",
            "redis.call('rpush', KEYS[1], 'j1'); return redis.call('llen', KEYS[1])",
            "1",
            "jobs"
        ]),
        ":1\r\n"
    );
    assert_eq!(waiter.reply_str(), "*2\r\n$4\r\njobs\r\n$2\r\nj1\r\n");
    // A blocking command inside a script does not block.
    assert_eq!(
        t.cmd(&["EVAL", "return redis.call('blpop', KEYS[1], 0)", "1", "jobs"]),
        "$-1\r\n"
    );
    assert_eq!(t.cmd(&["RPUSH", "jobs", "x"]), ":1\r\n");
    assert_eq!(
        t.cmd(&["EVAL", "return redis.call('blpop', KEYS[1], 0)", "1", "jobs"]),
        "*2\r\n$4\r\njobs\r\n$1\r\nx\r\n"
    );
}

#[test]
fn script_errors_and_read_only_rules_reach_the_client() {
    let server = Server::start(2);
    let mut c = server.raw();
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "2", "a"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "-1"]),
        "-ERR Number of keys can't be negative\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    let r = c.cmd(&["EVAL_RO", "return redis.call('set', KEYS[1], 'v')", "1", "k"]);
    assert!(
        r.starts_with("-ERR Write commands are not allowed from read-only scripts."),
        "{r}"
    );
    let r = c.cmd(&["EVAL", "return redis.call('multi')", "0"]);
    assert!(
        r.starts_with("-ERR This Redis command is not allowed from script"),
        "{r}"
    );
    let r = c.cmd(&["EVAL", "return redis.call('nosuch')", "0"]);
    assert!(r.starts_with("-ERR Unknown Redis command called from script"), "{r}");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.pcall('incr', KEYS[1])", "1", "k"]),
        ":1\r\n"
    );
    assert_eq!(c.cmd(&["SET", "s", "abc"]), "+OK\r\n");
    let r = c.cmd(&["EVAL", "return redis.pcall('incr', KEYS[1])", "1", "s"]);
    assert_eq!(r, "-ERR value is not an integer or out of range\r\n");
    // Inside MULTI, EVAL runs with the transaction.
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"]),
        "+QUEUED\r\n"
    );
    assert_eq!(c.cmd(&["INCR", "k"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*2\r\n:2\r\n:3\r\n");
}

/// A script past busy-reply-threshold on a one-shard server: the other
/// clients of that very shard get -BUSY, SCRIPT KILL stops it, and a
/// transaction opened meanwhile is refused at EXEC.
#[test]
fn a_busy_script_answers_its_own_shards_clients_and_can_be_killed() {
    let server = Server::start(1);
    let mut admin = server.raw();
    let mut other = server.raw();
    let mut runner = server.raw();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]), "+OK\r\n");
    assert_eq!(other.cmd(&["MULTI"]), "+OK\r\n");
    runner.send(&common::encode(&["EVAL", "while true do end", "0"]));
    let busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = admin.cmd(&["PING"]);
        if r == busy {
            break;
        }
        assert_eq!(r, "+PONG\r\n");
        assert!(std::time::Instant::now() < deadline, "the script never became busy");
    }
    assert_eq!(other.cmd(&["INCR", "x"]), busy);
    assert_eq!(
        other.cmd(&["EXEC"]),
        format!("-EXECABORT Transaction discarded because of: {}", &busy[1..])
    );
    assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    let r = runner.reply_str();
    assert!(r.starts_with("-ERR Script killed by user with SCRIPT KILL..."), "{r}");
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
    // The refused EXEC ended the transaction.
    assert_eq!(other.cmd(&["GET", "x"]), "$-1\r\n");
    assert_eq!(other.cmd(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
}
