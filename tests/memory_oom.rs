//! Out-of-memory refusals outside single commands, as in Redis 7.4: a
//! command that may grow memory queued in MULTI while over maxmemory (and
//! EXEC after it), EXEC of a queue holding one once memory went over,
//! scripts (the first write of a script without flags, scripts with flags
//! and no `allow-oom`), cross-shard writes and FUNCTION LOAD.
//!
//! `maxmemory 1` with `noeviction` puts the server over the limit with
//! nothing to evict, as Redis's own tests do.

mod common;

use common::{keys_on_distinct_shards, Raw, Server};

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

fn over_limit(admin: &mut Raw) {
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "+OK\r\n"
    );
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "1"]), "+OK\r\n");
}

fn no_limit(admin: &mut Raw) {
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
}

#[test]
fn multi_refuses_a_denyoom_command_while_queueing_and_exec_aborts() {
    let s = Server::start(2);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(c.cmd(&["SET", "x", "v"]), "+OK\r\n");
    over_limit(&mut admin);
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "a", "1"]), OOM);
    // Reads still queue (Redis 7.4 refuses only denyoom commands).
    assert_eq!(c.cmd(&["GET", "x"]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // A queue without writes runs over the limit.
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["GET", "x"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["PING"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*2\r\n$1\r\nv\r\n+PONG\r\n");
    // A script whose flags deny OOM is refused while queueing; one with
    // allow-oom queues and runs.
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["EVAL", "#!lua\nreturn 1", "0"]), OOM);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["EVAL", "#!lua flags=allow-oom\nreturn 1", "0"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n:1\r\n");
    no_limit(&mut admin);
    assert_eq!(c.cmd(&["GET", "a"]), "$-1\r\n");
}

#[test]
fn exec_is_refused_when_memory_went_over_after_queueing_a_write() {
    let s = Server::start(2);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(c.cmd(&["WATCH", "w"]), "+OK\r\n");
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "x", "1"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", "x"]), "+QUEUED\r\n");
    over_limit(&mut admin);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    // The transaction is over, and so is the WATCH.
    assert_eq!(c.cmd(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
    no_limit(&mut admin);
    assert_eq!(c.cmd(&["GET", "x"]), "$-1\r\n");
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "x", "2"]), "+QUEUED\r\n");
    assert_eq!(admin.cmd(&["SET", "w", "changed"]), "+OK\r\n");
    assert_eq!(c.cmd(&["EXEC"]), "*1\r\n+OK\r\n");
    // The refused EXEC is counted as rejected (the one without MULTI and
    // the last one as calls).
    let stats = admin.cmd(&["INFO", "commandstats"]);
    let exec = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_exec:"))
        .unwrap_or_default();
    assert!(exec.starts_with("cmdstat_exec:calls=2,"), "{stats}");
    assert!(exec.contains("rejected_calls=1,failed_calls=1"), "{stats}");
    let errs = admin.cmd(&["INFO", "errorstats"]);
    assert!(errs.contains("errorstat_EXECABORT:count=1"), "{errs}");
}

#[test]
fn scripts_over_the_limit() {
    let s = Server::start(2);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(c.cmd(&["SET", "x", "123"]), "+OK\r\n");
    over_limit(&mut admin);
    // No shebang: its first denyoom call fails as a script error.
    let body = "redis.call('set','x',1)";
    let r = c.cmd(&["EVAL", body, "1", "x"]);
    assert!(
        r.starts_with("-OOM command not allowed when used memory > 'maxmemory'. script: "),
        "{r}"
    );
    // pcall sees the error table.
    assert_eq!(
        c.cmd(&["EVAL", "return redis.pcall('set','x','y')['err']", "1", "x"]),
        "$55\r\nOOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    // Reads run.
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('get','x')", "1", "x"]),
        "$3\r\n123\r\n"
    );
    // Flags without allow-oom: refused up front, whatever the body does.
    assert_eq!(c.cmd(&["EVAL", "#!lua flags=\nreturn 1", "0"]), OOM);
    assert_eq!(c.cmd(&["EVAL", "#!lua\nreturn redis.call('get','x')", "1", "x"]), OOM);
    // allow-oom writes; no-writes reads.
    assert_eq!(
        c.cmd(&[
            "EVAL",
            "#!lua flags=allow-oom\nreturn redis.call('set','x','7')",
            "1",
            "x"
        ]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["EVAL", "#!lua flags=no-writes\nreturn redis.call('get','x')", "1", "x"]),
        "$1\r\n7\r\n"
    );
    assert_eq!(
        c.cmd(&[
            "EVAL_RO",
            "#!lua flags=no-writes\nreturn redis.call('get','x')",
            "1",
            "x"
        ]),
        "$1\r\n7\r\n"
    );
    // Functions: the same rules through their registered flags.
    no_limit(&mut admin);
    let lib = "#!lua name=lib\n\
        redis.register_function('w', function(k) return redis.call('set', k[1], 'f') end)\n\
        redis.register_function{function_name='ow', callback=function(k) return redis.call('set', k[1], 'o') end, flags={'allow-oom'}}\n\
        redis.register_function{function_name='ro', callback=function(k) return redis.call('get', k[1]) end, flags={'no-writes'}}";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$3\r\nlib\r\n");
    over_limit(&mut admin);
    assert_eq!(c.cmd(&["FCALL", "w", "1", "x"]), OOM);
    assert_eq!(c.cmd(&["FCALL", "ow", "1", "x"]), "+OK\r\n");
    assert_eq!(c.cmd(&["FCALL", "ro", "1", "x"]), "$1\r\no\r\n");
    assert_eq!(c.cmd(&["FCALL_RO", "ro", "1", "x"]), "$1\r\no\r\n");
    // FUNCTION LOAD may grow memory.
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", "REPLACE", lib]), OOM);
    no_limit(&mut admin);
    assert_eq!(c.cmd(&["FCALL", "w", "1", "x"]), "+OK\r\n");
}

#[test]
fn a_script_inside_exec_checks_memory_as_exec_found_it() {
    let s = Server::start(2);
    let mut admin = s.raw();
    let mut c = s.raw();
    // No denyoom command queued: EXEC runs, the script's write is refused.
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('set','x',1)", "1", "x"]),
        "+QUEUED\r\n"
    );
    over_limit(&mut admin);
    let r = c.cmd(&["EXEC"]);
    assert!(
        r.starts_with("*1\r\n-OOM command not allowed when used memory > 'maxmemory'. script: "),
        "{r}"
    );
    no_limit(&mut admin);
    assert_eq!(c.cmd(&["EXISTS", "x"]), ":0\r\n");
}

#[test]
fn cross_shard_writes_are_refused_over_the_limit() {
    let s = Server::start(2);
    let mut admin = s.raw();
    let mut c = s.raw();
    let k = keys_on_distinct_shards("oom", 2);
    over_limit(&mut admin);
    assert_eq!(c.cmd(&["MSET", &k[0], "1", &k[1], "2"]), OOM);
    assert_eq!(c.cmd(&["MGET", &k[0], &k[1]]), "*2\r\n$-1\r\n$-1\r\n");
    no_limit(&mut admin);
    assert_eq!(c.cmd(&["MSET", &k[0], "1", &k[1], "2"]), "+OK\r\n");
}
