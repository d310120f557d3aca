//! Introspection details against the real binary, each checked against
//! Redis 7.4: errors inside scripts counted once in errorstats and
//! commandstats, COMMAND GETKEYS / GETKEYSANDFLAGS on key-spec commands,
//! the stats of a blocked command refused when served.

mod common;

use common::{keys_on_distinct_shards, Raw, Server};

/// `calls=..,rejected_calls=..,failed_calls=..` of `cmd` in INFO
/// commandstats (its time left out), or "" when it has no line.
fn cmdstat(r: &mut Raw, cmd: &str) -> String {
    let info = r.cmd(&["INFO", "commandstats"]);
    let Some(line) = info.lines().find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:"))) else {
        return String::new();
    };
    line.split(',')
        .filter(|f| !f.starts_with("usec"))
        .collect::<Vec<_>>()
        .join(",")
}

/// INFO errorstats lines and total_error_replies, in one string.
fn errors(r: &mut Raw) -> String {
    let errs = r.cmd(&["INFO", "errorstats"]);
    let mut out: Vec<&str> = errs.lines().filter(|l| l.starts_with("errorstat_")).collect();
    let stats = r.cmd(&["INFO", "stats"]);
    out.extend(stats.lines().filter(|l| l.starts_with("total_error_replies:")));
    out.join(" ")
}

#[test]
fn script_errors_are_counted_once() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    // One key per shard: the script runs here or is shipped to the other
    // shard, the stats must not differ.
    for key in keys_on_distinct_shards("str", 2) {
        assert_eq!(r.cmd(&["SET", &key, "x"]), "+OK\r\n");
        let cases: &[(&[&str], &str, &str, &[(&str, &str)])] = &[
            // A command's error raised by redis.call: counted by the command.
            (
                &["EVAL", "return redis.call('incr',KEYS[1])", "1", &key],
                "-ERR value is not an integer or out of range script: 6f5ade10a69975e903c6d07b10ea44c6382381a5, on @user_script:1.\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("incr", "calls=1,rejected_calls=0,failed_calls=1"), ("eval", "calls=1,rejected_calls=0,failed_calls=1")],
            ),
            // The error table of redis.pcall returned as the reply.
            (
                &["EVAL", "return redis.pcall('incr',KEYS[1])", "1", &key],
                "-ERR value is not an integer or out of range\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("incr", "calls=1,rejected_calls=0,failed_calls=1"), ("eval", "calls=1,rejected_calls=0,failed_calls=1")],
            ),
            // A caught error: the command failed, the script did not.
            (
                &["EVAL", "redis.pcall('incr',KEYS[1]) return 1", "1", &key],
                ":1\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("incr", "calls=1,rejected_calls=0,failed_calls=1"), ("eval", "calls=1,rejected_calls=0,failed_calls=0")],
            ),
            // Refused calls count when refused, even when caught.
            (
                &["EVAL", "redis.pcall('nosuch') return 1", "0"],
                ":1\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("eval", "calls=1,rejected_calls=0,failed_calls=0")],
            ),
            (
                &["EVAL_RO", "return redis.call('set',KEYS[1],'y')", "1", &key],
                "-ERR Write commands are not allowed from read-only scripts. script: e36c8cd2edf068f2ea000599ea8afa78e049982f, on @user_script:1.\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("set", "calls=0,rejected_calls=1,failed_calls=0"), ("eval_ro", "calls=1,rejected_calls=0,failed_calls=1")],
            ),
            // Connection commands called from scripts are counted too.
            (
                &["EVAL", "return redis.call('select',99)", "0"],
                "-ERR DB index is out of range script: 4ad5abfc50bbccb484223905f9a16f09cd043ba8, on @user_script:1.\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("select", "calls=1,rejected_calls=0,failed_calls=1"), ("eval", "calls=1,rejected_calls=0,failed_calls=1")],
            ),
            // The script's own errors count once, as the script's.
            (
                &["EVAL", "return redis.error_reply('MY custom')", "0"],
                "-MY custom\r\n",
                "errorstat_MY:count=1 total_error_replies:1",
                &[("eval", "calls=1,rejected_calls=0,failed_calls=1")],
            ),
            (
                &["EVAL", "error('x')", "0"],
                "-ERR user_script:1: x script: 9851144f39f03a0d597a980c5aa79c80cb696891, on @user_script:1.\r\n",
                "errorstat_ERR:count=1 total_error_replies:1",
                &[("eval", "calls=1,rejected_calls=0,failed_calls=1")],
            ),
        ];
        for (args, reply, errs, stats) in cases {
            assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
            assert_eq!(r.cmd(args), *reply, "{args:?}");
            assert_eq!(errors(&mut r), *errs, "{args:?}");
            for (cmd, want) in *stats {
                assert_eq!(cmdstat(&mut r, cmd), *want, "{args:?}: {cmd}");
            }
        }
    }
}
