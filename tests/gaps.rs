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

/// A script call, its reply, the errorstats after it and commandstats
/// lines (command, counters).
type ScriptCase<'a> = (&'a [&'a str], &'a str, &'a str, &'a [(&'a str, &'a str)]);

#[test]
fn script_errors_are_counted_once() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    // One key per shard: the script runs here or is shipped to the other
    // shard, the stats must not differ.
    for key in keys_on_distinct_shards("str", 2) {
        assert_eq!(r.cmd(&["SET", &key, "x"]), "+OK\r\n");
        let cases: &[ScriptCase] = &[
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

/// COMMAND GETKEYS and GETKEYSANDFLAGS read keys through Redis's key
/// specs: GEORADIUS's STORE and STOREDIST are found each at its first
/// occurrence, in spec order; flags are the specs' (or SET's and
/// BITFIELD's own finders'). Replies as Redis 7.4 gives them.
#[test]
fn command_getkeys_follows_key_specs() {
    let srv = Server::start(2);
    let mut r = srv.raw();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "COMMAND",
                "GETKEYS",
                "georadius",
                "src",
                "0",
                "0",
                "1",
                "km",
                "store",
                "a",
                "store",
                "b",
            ],
            "*2\r\n$3\r\nsrc\r\n$1\r\na\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYS",
                "georadius",
                "src",
                "0",
                "0",
                "1",
                "km",
                "store",
                "a",
                "storedist",
                "b",
            ],
            "*3\r\n$3\r\nsrc\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYS",
                "georadius",
                "src",
                "0",
                "0",
                "1",
                "km",
                "storedist",
                "a",
                "store",
                "b",
            ],
            "*3\r\n$3\r\nsrc\r\n$1\r\nb\r\n$1\r\na\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYS",
                "georadius",
                "src",
                "0",
                "0",
                "1",
                "km",
                "storedist",
                "store",
                "x",
            ],
            "*3\r\n$3\r\nsrc\r\n$1\r\nx\r\n$5\r\nstore\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "georadius", "src", "0", "0", "1", "km", "store"],
            "*1\r\n$3\r\nsrc\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYS",
                "georadiusbymember",
                "src",
                "m",
                "1",
                "km",
                "store",
                "a",
                "storedist",
                "b",
                "store",
                "c",
            ],
            "*3\r\n$3\r\nsrc\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "georadius",
                "src",
                "0",
                "0",
                "1",
                "km",
                "storedist",
                "b",
            ],
            "*2\r\n*2\r\n$3\r\nsrc\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+OW\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"],
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v", "get"],
            "*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "bitfield", "k", "get", "u8", "0"],
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "lmove", "k1", "k2", "left", "right"],
            "*2\r\n*2\r\n$2\r\nk1\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$2\r\nk2\r\n*2\r\n+RW\r\n+insert\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "del", "a", "b"],
            "*2\r\n*2\r\n$1\r\na\r\n*2\r\n+RM\r\n+delete\r\n*2\r\n$1\r\nb\r\n*2\r\n+RM\r\n+delete\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "xread",
                "count",
                "1",
                "streams",
                "a",
                "b",
                "0",
                "0",
            ],
            "*2\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+RO\r\n+access\r\n",
        ),
        (
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "ZINTERSTORE",
                "zz",
                "1443677133621497600",
                "asdf",
            ],
            "-ERR Invalid arguments specified for command\r\n",
        ),
        (&["COMMAND", "GETKEYS", "eval", "return 1", "0"], "*0\r\n"),
        (
            &["COMMAND", "GETKEYS", "xgroup", "create", "key", "g", "$"],
            "*1\r\n$3\r\nkey\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "xgroup", "nosuch", "key"],
            "-ERR Invalid command specified\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "ping", "x"],
            "-ERR The command has no key arguments\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "get"],
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(r.cmd(args), *want, "{args:?}");
    }
    // RESP3: the flags are a set.
    r.cmd(&["HELLO", "3"]);
    assert_eq!(
        r.cmd(&["COMMAND", "GETKEYSANDFLAGS", "mset", "k1", "v1"]),
        "*1\r\n*2\r\n$2\r\nk1\r\n~2\r\n+OW\r\n+update\r\n"
    );
}

/// COMMAND LIST names subcommands too, and FILTERBY applies to each.
#[test]
fn command_list_includes_subcommands() {
    let srv = Server::start(1);
    let mut r = srv.raw();
    let list = |r: &mut Raw, args: &[&str]| -> Vec<String> {
        let reply = r.cmd(args);
        let mut lines = reply.lines().skip(1);
        let mut names = Vec::new();
        while let (Some(_), Some(n)) = (lines.next(), lines.next()) {
            names.push(n.to_string());
        }
        names
    };
    let all = list(&mut r, &["COMMAND", "LIST"]);
    assert!(all.iter().any(|n| n == "set") && all.iter().any(|n| n == "client|list"));
    let scripting = list(&mut r, &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "scripting"]);
    assert!(scripting.iter().any(|n| n == "eval") && scripting.iter().any(|n| n == "script|kill"));
    assert!(!scripting.iter().any(|n| n == "set"));
    assert_eq!(
        list(&mut r, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "set"]),
        ["set"]
    );
    let config = list(&mut r, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "config|*re*"]);
    assert!(config.iter().any(|n| n == "config|resetstat") && !config.iter().any(|n| n == "config|get"));
    assert_eq!(r.cmd(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]), "*0\r\n");
    assert_eq!(
        r.cmd(&["COMMAND", "LIST", "FILTERBY", "bad", "x"]),
        "-ERR syntax error\r\n"
    );
}

/// An XREAD BLOCK refused when served (its user lost the key meanwhile)
/// counts as a rejected call only: neither its first run's call nor its
/// time stays in commandstats (Redis counts a blocked command when it is
/// served).
#[test]
fn refused_blocked_xread_counts_nothing_but_the_rejection() {
    let srv = Server::start(2);
    let mut admin = srv.raw();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "ps", "on", "nopass", "+@all", "allkeys"]),
        "+OK\r\n"
    );
    for key in keys_on_distinct_shards("stream", 2) {
        assert_eq!(admin.cmd(&["ACL", "SETUSER", "ps", "allkeys"]), "+OK\r\n");
        assert_eq!(admin.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
        let mut rd = srv.raw();
        assert_eq!(rd.cmd(&["AUTH", "ps", "x"]), "+OK\r\n");
        rd.send(&common::encode(&["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]));
        let mut c = srv.client();
        common::wait_blocked(&mut c, 1);
        assert_eq!(admin.cmd(&["ACL", "SETUSER", "ps", "resetkeys"]), "+OK\r\n");
        assert!(admin.cmd(&["XADD", &key, "*", "f", "v"]).starts_with('$'));
        assert!(rd.reply_str().starts_with("-NOPERM"), "{key}");
        assert_eq!(
            {
                let info = admin.cmd(&["INFO", "commandstats"]);
                info.lines()
                    .find_map(|l| l.strip_prefix("cmdstat_xread:"))
                    .map(str::to_string)
            },
            Some("calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0".to_string()),
            "{key}"
        );
    }
}
