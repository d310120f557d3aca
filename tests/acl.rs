//! ACL, AUTH and protected mode against the real binary (two shards, so
//! connections land on different shards and every change must reach all):
//! exact reply bytes for each rule kind and denial.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, Server};

fn ok(c: &mut Raw, args: &[&str]) {
    assert_eq!(c.cmd(args), "+OK\r\n", "{:?}", args);
}

/// A connection authenticated as `user`.
fn login(server: &Server, user: &str, pass: &str) -> Raw {
    let mut c = server.raw();
    ok(&mut c, &["AUTH", user, pass]);
    c
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{}\r\n", s.len(), s)
}

const NOPERM_KEY: &str = "-NOPERM No permissions to access a key\r\n";
const NOPERM_CHANNEL: &str = "-NOPERM No permissions to access a channel\r\n";

#[test]
fn rules_commands_keys_and_channels() {
    let server = Server::start(2);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "alice",
            "on",
            ">pw",
            "~a*",
            "%R~r*",
            "%W~w*",
            "&news.*",
            "+@read",
            "+set",
            "+publish",
            "+subscribe",
        ],
    );
    let mut a = login(&server, "alice", "pw");
    assert_eq!(
        a.cmd(&["ACL", "WHOAMI"]),
        "-NOPERM User alice has no permissions to run the 'acl|whoami' command\r\n"
    );
    assert_eq!(a.cmd(&["GET", "a1"]), "$-1\r\n");
    assert_eq!(a.cmd(&["GET", "b1"]), NOPERM_KEY);
    assert_eq!(
        a.cmd(&["DEL", "a1"]),
        "-NOPERM User alice has no permissions to run the 'del' command\r\n"
    );
    // Read-only and write-only patterns.
    assert_eq!(a.cmd(&["GET", "r1"]), "$-1\r\n");
    assert_eq!(a.cmd(&["SET", "r1", "x"]), NOPERM_KEY);
    assert_eq!(a.cmd(&["SET", "w1", "x"]), "+OK\r\n");
    assert_eq!(a.cmd(&["GET", "w1"]), NOPERM_KEY);
    assert_eq!(a.cmd(&["SET", "w1", "y", "GET"]), NOPERM_KEY);
    assert_eq!(a.cmd(&["SET", "a1", "y", "GET"]), "$-1\r\n");
    // Channels: glob for names, literal for PSUBSCRIBE patterns.
    assert_eq!(a.cmd(&["PUBLISH", "news.x", "m"]), ":0\r\n");
    assert_eq!(a.cmd(&["PUBLISH", "other", "m"]), NOPERM_CHANNEL);
    // Selectors add alternatives.
    ok(&mut admin, &["ACL", "SETUSER", "alice", "(+del ~tmp*)"]);
    assert_eq!(a.cmd(&["DEL", "tmp1"]), ":0\r\n");
    assert_eq!(a.cmd(&["DEL", "a1"]), NOPERM_KEY);
    ok(&mut admin, &["ACL", "SETUSER", "alice", "clearselectors"]);
    assert_eq!(
        a.cmd(&["DEL", "tmp1"]),
        "-NOPERM User alice has no permissions to run the 'del' command\r\n"
    );
    // Subcommands and first arguments.
    ok(&mut admin, &["ACL", "SETUSER", "alice", "+client|id", "+select|0"]);
    assert!(a.cmd(&["CLIENT", "ID"]).starts_with(':'));
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", "1"]),
        "-NOPERM User alice has no permissions to run the 'client|kill' command\r\n"
    );
    assert_eq!(a.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(
        a.cmd(&["SELECT", "1"]),
        "-NOPERM User alice has no permissions to run the 'select' command\r\n"
    );
    // allkeys / allcommands / nocommands / resetkeys.
    ok(&mut admin, &["ACL", "SETUSER", "alice", "allkeys", "allcommands"]);
    assert_eq!(a.cmd(&["DEL", "zzz"]), ":0\r\n");
    ok(
        &mut admin,
        &["ACL", "SETUSER", "alice", "resetkeys", "nocommands", "+get", "~x"],
    );
    assert_eq!(a.cmd(&["GET", "zzz"]), NOPERM_KEY);
    assert_eq!(
        a.cmd(&["PING"]),
        "-NOPERM User alice has no permissions to run the 'ping' command\r\n"
    );
    assert_eq!(
        admin.cmd(&["ACL", "LIST"]),
        format!(
            "*2\r\n{}{}",
            bulk("user alice on sanitize-payload #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~x resetchannels &news.* -@all +get"),
            bulk("user default on nopass sanitize-payload ~* &* +@all")
        )
    );
}

#[test]
fn getuser_dryrun_cat_and_errors() {
    let server = Server::start(2);
    let mut c = server.raw();
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            "nopass",
            "~k*",
            "resetchannels",
            "-@all",
            "+get",
            "(%R~s* +@set)",
        ],
    );
    assert_eq!(
        c.cmd(&["ACL", "GETUSER", "bob"]),
        "*12\r\n$5\r\nflags\r\n*3\r\n$2\r\non\r\n$6\r\nnopass\r\n$16\r\nsanitize-payload\r\n$9\r\npasswords\r\n*0\r\n\
$8\r\ncommands\r\n$10\r\n-@all +get\r\n$4\r\nkeys\r\n$3\r\n~k*\r\n$8\r\nchannels\r\n$0\r\n\r\n\
$9\r\nselectors\r\n*1\r\n*6\r\n$8\r\ncommands\r\n$11\r\n-@all +@set\r\n$4\r\nkeys\r\n$5\r\n%R~s*\r\n$8\r\nchannels\r\n$0\r\n\r\n"
    );
    assert_eq!(c.cmd(&["ACL", "GETUSER", "nobody"]), "$-1\r\n");
    assert_eq!(c.cmd(&["ACL", "DRYRUN", "bob", "get", "k1"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["ACL", "DRYRUN", "bob", "get", "x"]),
        bulk("User bob has no permissions to access the 'x' key")
    );
    assert_eq!(
        c.cmd(&["ACL", "DRYRUN", "bob", "set", "k1", "v"]),
        bulk("User bob has no permissions to run the 'set' command")
    );
    assert_eq!(c.cmd(&["ACL", "DRYRUN", "bob", "sismember", "s1", "m"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["ACL", "DRYRUN", "nobody", "get", "x"]),
        "-ERR User 'nobody' not found\r\n"
    );
    assert_eq!(
        c.cmd(&["ACL", "DRYRUN", "bob", "nosuch"]),
        "-ERR Command 'nosuch' not found\r\n"
    );
    assert_eq!(
        c.cmd(&["ACL", "DRYRUN", "bob", "get"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        c.cmd(&["ACL", "SETUSER", "bob", "+nosuch"]),
        "-ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL\r\n"
    );
    assert_eq!(
        c.cmd(&["ACL", "SETUSER", "bob", "~*", "~foo"]),
        "-ERR Error in ACL SETUSER modifier '~foo': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns\r\n"
    );
    assert_eq!(
        c.cmd(&["ACL", "SETUSER", "a b"]),
        "-ERR Usernames can't contain spaces or null characters\r\n"
    );
    assert_eq!(
        c.cmd(&["ACL", "DELUSER", "default"]),
        "-ERR The 'default' user cannot be removed\r\n"
    );
    assert_eq!(c.cmd(&["ACL", "CAT", "nosuch"]), "-ERR Unknown category 'nosuch'\r\n");
    let cat = c.cmd(&["ACL", "CAT"]);
    assert!(cat.starts_with("*21\r\n$8\r\nkeyspace\r\n$4\r\nread\r\n"), "{cat}");
    let hll = c.cmd(&["ACL", "CAT", "hyperloglog"]);
    assert!(hll.contains("pfadd") && hll.contains("pfcount"), "{hll}");
    assert_eq!(c.cmd(&["ACL", "USERS"]), "*2\r\n$3\r\nbob\r\n$7\r\ndefault\r\n");
    let pass = c.cmd(&["ACL", "GENPASS"]);
    assert!(pass.starts_with("$64\r\n"), "{pass}");
    assert!(c.cmd(&["ACL", "GENPASS", "5"]).starts_with("$2\r\n"));
    assert_eq!(
        c.cmd(&["ACL", "GENPASS", "0"]),
        "-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096\r\n"
    );
    assert_eq!(c.cmd(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    assert_eq!(c.cmd(&["ACL", "DELUSER", "bob", "bob", "nobody"]), ":1\r\n");
    assert_eq!(
        c.cmd(&["ACL", "LOAD"]),
        format!("-{}\r\n", spindle::command::acl::NO_ACLFILE)
    );
    // COMMAND INFO shows the same categories ACL uses.
    let info = c.cmd(&["COMMAND", "INFO", "ping"]);
    assert!(
        info.contains("~2\r\n+@fast\r\n+@connection\r\n") || info.contains("*2\r\n+@fast\r\n+@connection\r\n"),
        "{info}"
    );
}

#[test]
fn transactions_scripts_and_the_log() {
    let server = Server::start(2);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "carol", "on", ">pw", "~c*", "+@all", "-flushall"],
    );
    let mut c = login(&server, "carol", "pw");
    // Denied while queueing: the transaction is doomed.
    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd(&["SET", "x", "1"]), NOPERM_KEY);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // Allowed when queued, denied at EXEC after the rules changed.
    ok(&mut c, &["MULTI"]);
    assert_eq!(c.cmd(&["SET", "c1", "1"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", "c1"]), "+QUEUED\r\n");
    ok(&mut admin, &["ACL", "SETUSER", "carol", "-set"]);
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n$-1\r\n"
    );
    // Scripts run their calls as the caller.
    let r = c.cmd(&["EVAL", "return redis.call('get', 'x')", "0"]);
    assert!(
        r.starts_with("-ERR ACL failure in script: No permissions to access a key"),
        "{r}"
    );
    assert_eq!(c.cmd(&["EVAL", "return redis.call('get', 'c2')", "0"]), "$-1\r\n");
    let r = c.cmd(&["EVAL", "return redis.pcall('flushall')", "0"]);
    assert!(
        r.starts_with("-ERR ACL failure in script: User carol has no permissions to run the 'flushall' command"),
        "{r}"
    );
    assert_eq!(c.cmd(&["EVAL", "return 1", "1", "x"]), NOPERM_KEY);
    // The log, newest first.
    let log = admin.cmd(&["ACL", "LOG", "4"]);
    let first = log.split("$5\r\ncount\r\n").nth(1).unwrap();
    assert!(first.starts_with(":1\r\n$6\r\nreason\r\n$3\r\nkey\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$1\r\nx\r\n$8\r\nusername\r\n$5\r\ncarol\r\n$11\r\nage-seconds\r\n"), "{log}");
    assert!(
        log.contains("$3\r\nlua\r\n") && log.contains("$5\r\nmulti\r\n"),
        "{log}"
    );
    assert!(
        log.contains("$11\r\nclient-info\r\n") && log.contains("user=carol"),
        "{log}"
    );
    assert!(
        log.contains("$8\r\nentry-id\r\n") && log.contains("$22\r\ntimestamp-last-updated\r\n"),
        "{log}"
    );
    // Failed AUTH is logged with reason auth.
    let mut x = server.raw();
    assert_eq!(
        x.cmd(&["AUTH", "carol", "bad"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let log = admin.cmd(&["ACL", "LOG", "1"]);
    assert!(
        log.contains("$6\r\nreason\r\n$4\r\nauth\r\n") && log.contains("$6\r\nobject\r\n$4\r\nAUTH\r\n"),
        "{log}"
    );
    let info = admin.cmd(&["INFO", "stats"]);
    assert!(info.contains("acl_access_denied_auth:1\r\n"), "{info}");
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    assert_eq!(admin.cmd(&["ACL", "LOG"]), "*0\r\n");
}

#[test]
fn auth_hello_and_requirepass() {
    let server = Server::start_with(2, &["--requirepass", "secret"]);
    let mut c = server.raw();
    assert_eq!(c.cmd(&["GET", "k"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    ok(&mut c, &["AUTH", "secret"]);
    assert_eq!(c.cmd(&["GET", "k"]), "$-1\r\n");
    let list = c.cmd(&["ACL", "LIST"]);
    assert!(
        list.contains(&format!(
            "user default on sanitize-payload #{} ~* &* +@all",
            spindle::acl::hash_password(b"secret")
        )),
        "{list}"
    );
    // HELLO with AUTH.
    let mut h = server.raw();
    assert!(h.cmd(&["HELLO", "3"]).starts_with("-NOAUTH HELLO must be called"));
    let r = h.cmd(&["HELLO", "3", "AUTH", "default", "secret"]);
    assert!(r.starts_with("%7\r\n"), "{r}");
    // CONFIG SET requirepass changes the default user's password.
    ok(&mut c, &["CONFIG", "SET", "requirepass", "other"]);
    let mut d = server.raw();
    ok(&mut d, &["AUTH", "default", "other"]);
    ok(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let mut e = server.raw();
    assert_eq!(e.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(
        e.cmd(&["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    // CLIENT INFO names the user.
    ok(&mut c, &["ACL", "SETUSER", "dan", "on", ">p", "+@all", "~*"]);
    let mut f = login(&server, "dan", "p");
    assert!(f.cmd(&["CLIENT", "INFO"]).contains(" user=dan "));
    assert_eq!(f.cmd(&["ACL", "WHOAMI"]), "$3\r\ndan\r\n");
    assert_eq!(f.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(f.cmd(&["ACL", "WHOAMI"]), "$7\r\ndefault\r\n");
    // A disabled user cannot log in.
    ok(&mut c, &["ACL", "SETUSER", "dan", "off"]);
    assert_eq!(
        server.raw().cmd(&["AUTH", "dan", "p"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
}

/// Waits until `c` sees its connection closed.
fn closed_soon(c: &mut Raw) -> bool {
    c.s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.try_reply().is_none()
}

#[test]
fn deleted_users_and_revoked_channels_disconnect_clients() {
    let server = Server::start(2);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "eve", "on", ">p", "+@all", "~*", "&chan*"],
    );
    // Several connections, so some land on each shard.
    let mut eves: Vec<Raw> = (0..4).map(|_| login(&server, "eve", "p")).collect();
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "eve"]), ":1\r\n");
    for e in &mut eves {
        e.send(b"PING\r\n");
        assert!(closed_soon(e));
    }
    // A subscriber that loses its channel is disconnected; one that keeps
    // it stays.
    ok(
        &mut admin,
        &["ACL", "SETUSER", "sub", "on", ">p", "+@all", "~*", "&chan1", "&chan2"],
    );
    let mut s1 = login(&server, "sub", "p");
    let mut s2 = login(&server, "sub", "p");
    assert_eq!(
        s1.cmd(&["SUBSCRIBE", "chan1"]),
        "*3\r\n$9\r\nsubscribe\r\n$5\r\nchan1\r\n:1\r\n"
    );
    assert_eq!(
        s2.cmd(&["SUBSCRIBE", "chan2"]),
        "*3\r\n$9\r\nsubscribe\r\n$5\r\nchan2\r\n:1\r\n"
    );
    assert_eq!(s1.cmd(&["SUBSCRIBE", "nope"]), NOPERM_CHANNEL);
    ok(&mut admin, &["ACL", "SETUSER", "sub", "resetchannels", "&chan2"]);
    assert!(closed_soon(&mut s1));
    assert_eq!(admin.cmd(&["PUBLISH", "chan2", "hi"]), ":1\r\n");
    assert_eq!(s2.reply_str(), "*3\r\n$7\r\nmessage\r\n$5\r\nchan2\r\n$2\r\nhi\r\n");
}

#[test]
fn aclfile_save_and_load_round_trip() {
    let path = std::env::temp_dir().join(format!(
        "spindle-acl-{}-{}.acl",
        std::process::id(),
        common::free_port()
    ));
    let p = path.display().to_string();
    std::fs::write(&path, "user default on nopass ~* &* +@all\nuser fay on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~f* &* -@all +get\n").unwrap();
    let server = Server::start_with(2, &["--aclfile", &p]);
    let mut c = server.raw();
    let mut f = login(&server, "fay", "foo");
    assert_eq!(f.cmd(&["GET", "f1"]), "$-1\r\n");
    assert_eq!(f.cmd(&["GET", "x"]), NOPERM_KEY);
    ok(
        &mut c,
        &["ACL", "SETUSER", "gus", "on", "nopass", "%R~g*", "+@read", "(~h* +set)"],
    );
    let before = c.cmd(&["ACL", "LIST"]);
    ok(&mut c, &["ACL", "SAVE"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(
            "user gus on nopass sanitize-payload %R~g* resetchannels -@all +@read (~h* resetchannels -@all +set)\n"
        ),
        "{text}"
    );
    ok(&mut c, &["ACL", "SETUSER", "fay", "~*"]);
    ok(&mut c, &["ACL", "LOAD"]);
    assert_eq!(c.cmd(&["ACL", "LIST"]), before);
    // A broken file changes nothing and says why.
    std::fs::write(&path, "user fay on +nosuch\n").unwrap();
    let e = c.cmd(&["ACL", "LOAD"]);
    assert_eq!(
        e,
        format!("-ERR {p}:1: Error in applying operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n")
    );
    assert_eq!(c.cmd(&["ACL", "LIST"]), before);
    // Loading a file without fay disconnects fay's clients.
    std::fs::write(&path, "user default on nopass ~* &* +@all\n").unwrap();
    ok(&mut c, &["ACL", "LOAD"]);
    f.send(b"PING\r\n");
    assert!(closed_soon(&mut f));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn config_user_directives_and_bind_addresses() {
    let server = Server::start_with(
        2,
        &[
            "--bind",
            "127.0.0.1",
            "127.0.0.2",
            "--user",
            "hal",
            "on",
            ">pw",
            "~*",
            "+@all",
            "--acllog-max-len",
            "3",
        ],
    );
    let mut h = login(&server, "hal", "pw");
    assert_eq!(h.cmd(&["ACL", "WHOAMI"]), "$3\r\nhal\r\n");
    assert_eq!(
        h.cmd(&["CONFIG", "GET", "acllog-max-len"]),
        "*2\r\n$14\r\nacllog-max-len\r\n$1\r\n3\r\n"
    );
    // The second bind address serves too.
    let deadline = Instant::now() + Duration::from_secs(10);
    let s = loop {
        match std::net::TcpStream::connect(("127.0.0.2", server.port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => panic!("127.0.0.2: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = Raw::from_stream(s);
    assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");
}

/// A local address that is not loopback, if the host has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("10.255.255.255:1").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_follows_the_default_user() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address: protected mode not tested");
        return;
    };
    let server = Server::start_with(2, &["--bind", "0.0.0.0", "--protected-mode", "yes"]);
    let connect = || {
        let s = std::net::TcpStream::connect((ip, server.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw::from_stream(s)
    };
    let mut outside = connect();
    outside.send(b"PING\r\n");
    let r = outside.reply_str();
    assert!(r.starts_with("-DENIED Spindle is running in protected mode"), "{r}");
    // Loopback is always served; a password for the default user lifts
    // protected mode.
    let mut local = server.raw();
    ok(&mut local, &["ACL", "SETUSER", "default", ">pw"]);
    let mut outside = connect();
    assert_eq!(outside.cmd(&["PING"]), "-NOAUTH Authentication required.\r\n");
    ok(&mut outside, &["AUTH", "pw"]);
    assert_eq!(outside.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn duplicate_config_users_abort_start_up() {
    for user in ["foo", "default"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_spindle"))
            .args([
                "--port",
                &common::free_port().to_string(),
                "--user",
                user,
                "on",
                "--user",
                user,
                "off",
            ])
            .output()
            .expect("run spindle");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("Duplicate user '{user}' found")), "{err}");
    }
}

/// Waits (no time assertion) until `n` clients are blocked.
fn wait_blocked(admin: &mut Raw, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !admin.cmd(&["INFO", "clients"]).contains(&want) {
        assert!(Instant::now() < deadline, "never {want}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The `cmdstat_<name>` line of INFO commandstats.
fn cmdstat(admin: &mut Raw, name: &str) -> String {
    let info = admin.cmd(&["INFO", "commandstats"]);
    let tag = format!("cmdstat_{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&tag))
        .unwrap_or_else(|| panic!("no {tag} in {info}"))
        .to_string()
}

/// A client blocked on a key whose user loses a permission while it waits
/// gets NOPERM when the key becomes ready (Redis runs the ACL check again
/// when it reprocesses the command): nothing is taken, the denial is
/// logged, and the call counts as rejected. Keys on both shards, so the
/// key's shard is sometimes the client's and sometimes not.
#[test]
fn blocked_commands_are_checked_again_when_served() {
    let server = Server::start(2);
    let mut admin = server.raw();
    for key in common::keys_on_distinct_shards("list", 2) {
        ok(&mut admin, &["CONFIG", "RESETSTAT"]);
        ok(&mut admin, &["ACL", "LOG", "RESET"]);
        ok(
            &mut admin,
            &["ACL", "SETUSER", "u", "reset", "on", "nopass", "+@all", "allkeys"],
        );
        let mut b = login(&server, "u", "x");
        b.send(&common::encode(&["BLPOP", &key, "0"]));
        wait_blocked(&mut admin, 1);
        ok(&mut admin, &["ACL", "SETUSER", "u", "resetkeys"]);
        assert_eq!(admin.cmd(&["LPUSH", &key, "foo"]), ":1\r\n");
        assert_eq!(b.reply_str(), NOPERM_KEY);
        assert_eq!(admin.cmd(&["LLEN", &key]), ":1\r\n");
        assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
        let st = cmdstat(&mut admin, "blpop");
        assert!(st.starts_with("calls=0,usec=0,"), "{st}");
        assert!(st.ends_with("rejected_calls=1,failed_calls=0"), "{st}");
        let errs = admin.cmd(&["INFO", "errorstats"]);
        assert!(errs.contains("errorstat_NOPERM:count=1\r\n"), "{errs}");
        let log = admin.cmd(&["ACL", "LOG", "1"]);
        let want = format!(
            ":1\r\n$6\r\nreason\r\n$3\r\nkey\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n{}$8\r\nusername\r\n$1\r\nu\r\n",
            bulk(&key)
        );
        assert!(log.contains(&want), "{log}");
        assert!(log.contains("cmd=blpop"), "{log}");
        assert_eq!(admin.cmd(&["DEL", &key]), ":1\r\n");

        // The command itself taken away.
        ok(&mut admin, &["ACL", "SETUSER", "u", "allkeys"]);
        b.send(&common::encode(&["BLPOP", &key, "0"]));
        wait_blocked(&mut admin, 1);
        ok(&mut admin, &["ACL", "SETUSER", "u", "-blpop"]);
        assert_eq!(admin.cmd(&["RPUSH", &key, "bar"]), ":1\r\n");
        assert_eq!(
            b.reply_str(),
            "-NOPERM User u has no permissions to run the 'blpop' command\r\n"
        );
        assert_eq!(admin.cmd(&["DEL", &key]), ":1\r\n");
    }
}

/// The control cases: rules that change but still allow the command (the
/// user's own, another user's) leave the waiter to be served; a wrong-type
/// write wakes nobody, so nobody is refused either.
#[test]
fn blocked_commands_still_allowed_are_served() {
    let server = Server::start(2);
    let mut admin = server.raw();
    ok(&mut admin, &["ACL", "SETUSER", "u", "on", "nopass", "+@all", "~list*"]);
    for key in common::keys_on_distinct_shards("list", 2) {
        let mut b = login(&server, "u", "x");
        b.send(&common::encode(&["BLPOP", &key, "0"]));
        wait_blocked(&mut admin, 1);
        ok(&mut admin, &["ACL", "SETUSER", "u", "+get", "~other"]);
        ok(&mut admin, &["ACL", "SETUSER", "someone", "on", "+@all"]);
        assert_eq!(admin.cmd(&["LPUSH", &key, "foo"]), ":1\r\n");
        assert_eq!(b.reply_str(), format!("*2\r\n{}{}", bulk(&key), bulk("foo")));
        assert_eq!(admin.cmd(&["EXISTS", &key]), ":0\r\n");
    }
    // The default user (unrestricted when it blocked) loses BLPOP; a key of
    // the wrong type wakes nobody; the list then gets the refusal.
    let mut d = server.raw();
    d.send(&common::encode(&["BLPOP", "dlist", "0"]));
    wait_blocked(&mut admin, 1);
    ok(&mut admin, &["ACL", "SETUSER", "default", "-blpop"]);
    ok(&mut admin, &["SET", "dlist", "s"]);
    assert_eq!(admin.cmd(&["DEL", "dlist"]), ":1\r\n");
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.cmd(&["LPUSH", "dlist", "x"]), ":1\r\n");
    assert_eq!(
        d.reply_str(),
        "-NOPERM User default has no permissions to run the 'blpop' command\r\n"
    );
    ok(&mut admin, &["ACL", "SETUSER", "default", "+blpop"]);
    assert_eq!(d.cmd(&["LPOP", "dlist"]), bulk("x"));
}

/// BLMOVE's destination and XREAD's stream are checked too.
#[test]
fn blocked_moves_and_stream_reads_are_checked_again() {
    let server = Server::start(2);
    let mut admin = server.raw();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", "nopass", "+@all", "~src*", "~dst*", "~s*"],
    );
    for dst in common::keys_on_distinct_shards("dst", 2) {
        let mut b = login(&server, "u", "x");
        b.send(&common::encode(&["BLMOVE", "src", &dst, "LEFT", "RIGHT", "0"]));
        wait_blocked(&mut admin, 1);
        ok(&mut admin, &["ACL", "SETUSER", "u", "resetkeys", "~src*", "~s*"]);
        assert_eq!(admin.cmd(&["LPUSH", "src", "e"]), ":1\r\n");
        assert_eq!(b.reply_str(), NOPERM_KEY);
        assert_eq!(admin.cmd(&["LLEN", "src"]), ":1\r\n");
        assert_eq!(admin.cmd(&["EXISTS", &dst]), ":0\r\n");
        ok(&mut admin, &["ACL", "SETUSER", "u", "~dst*"]);
        assert_eq!(admin.cmd(&["DEL", "src"]), ":1\r\n");
    }
    ok(&mut admin, &["CONFIG", "RESETSTAT"]);
    let mut b = login(&server, "u", "x");
    b.send(&common::encode(&["XREAD", "BLOCK", "0", "STREAMS", "stream1", "$"]));
    wait_blocked(&mut admin, 1);
    ok(&mut admin, &["ACL", "SETUSER", "u", "resetkeys", "~src*"]);
    let id = admin.cmd(&["XADD", "stream1", "*", "f", "v"]);
    assert!(id.starts_with('$'), "{id}");
    assert_eq!(b.reply_str(), NOPERM_KEY);
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
    let st = cmdstat(&mut admin, "xread");
    assert!(st.starts_with("calls=0,"), "{st}");
    assert!(st.ends_with("rejected_calls=1,failed_calls=0"), "{st}");
}
