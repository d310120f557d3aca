//! Connection family: PING, ECHO, SELECT, HELLO, AUTH, QUIT, RESET, CLIENT.

use super::args::parse_i64;
use super::errors as err;
use super::{Args, Ctx, Session};
use crate::protocol::Reply;
use crate::shard::coordinator;

/// The Redis version Spindle's command semantics follow; clients gate
/// features on it (HELLO, INFO).
pub const REDIS_VERSION: &str = "7.4.1";

/// `PING [message]` → PONG or the message.
pub fn cmd_ping(ctx: &mut Ctx, args: &Args) {
    match args.len() {
        1 => ctx.out.raw(b"+PONG\r\n"),
        2 => ctx.out.bulk(args.get(1)),
        _ => ctx.out.error(&err::arity("ping")),
    }
}

/// `ECHO message` → the message.
pub fn cmd_echo(ctx: &mut Ctx, args: &Args) {
    ctx.out.bulk(args.get(1));
}

/// `SELECT index` → OK.
pub fn cmd_select(sess: &mut Session, args: &Args, out: &mut Reply) {
    let id = match parse_i64(args.get(1)) {
        None => return out.error(err::NOT_INTEGER),
        Some(v) if v < i32::MIN as i64 || v > i32::MAX as i64 => return out.error(err::INT_RANGE),
        Some(v) => v,
    };
    let dbs = sess.shard.config.borrow().databases as i64;
    if id < 0 || id >= dbs {
        return out.error(err::DB_INDEX);
    }
    sess.db = id as usize;
    sess.info.db.set(sess.db);
    out.ok();
}

/// `AUTH [username] password` → OK.
pub fn cmd_auth(sess: &mut Session, args: &Args, out: &mut Reply) {
    if args.len() > 3 {
        return out.error(err::SYNTAX);
    }
    let (user, pass): (&[u8], &[u8]) = if args.len() == 2 {
        if super::acl::default_nopass(sess) {
            return out.error(err::AUTH_NOT_CONFIGURED);
        }
        (b"default", args.get(1))
    } else {
        (args.get(1), args.get(2))
    };
    if super::acl::authenticate(sess, user, pass, args.get(0)) {
        out.ok();
    } else {
        out.error(err::WRONGPASS);
    }
}

/// Client names and library strings: printable ASCII, no spaces.
fn valid_name(v: &[u8]) -> bool {
    v.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]` → a map
/// describing the server, in the (possibly new) protocol.
pub fn cmd_hello(sess: &mut Session, args: &Args, out: &mut Vec<u8>) {
    let mut ver = None;
    let mut j = 1;
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            None => return Reply::new(out, sess.resp3).error(err::PROTOCOL_VERSION_NOT_INT),
            Some(v) if !(2..=3).contains(&v) => return Reply::new(out, sess.resp3).error(err::NOPROTO),
            Some(v) => ver = Some(v),
        }
        j = 2;
    }
    let mut auth: Option<(&[u8], &[u8])> = None;
    let mut setname: Option<&[u8]> = None;
    while j < args.len() {
        let more = args.len() - j - 1;
        if args.is(j, "auth") && more >= 2 {
            auth = Some((args.get(j + 1), args.get(j + 2)));
            j += 3;
        } else if args.is(j, "setname") && more >= 1 {
            setname = Some(args.get(j + 1));
            j += 2;
        } else {
            let msg = err::with_arg("ERR Syntax error in HELLO option '", args.get(j), "'");
            return Reply::new(out, sess.resp3).error_bytes(&msg);
        }
    }
    if let Some((u, p)) = auth {
        if !super::acl::authenticate(sess, u, p, args.get(0)) {
            return Reply::new(out, sess.resp3).error(err::WRONGPASS);
        }
    }
    if !sess.authenticated && sess.shard.acl.users.borrow().auth_required() {
        return Reply::new(out, sess.resp3).error(err::HELLO_NOAUTH);
    }
    if let Some(name) = setname {
        if !valid_name(name) {
            return Reply::new(out, sess.resp3).error(err::CLIENT_NAME_SPACES);
        }
        *sess.info.name.borrow_mut() = String::from_utf8_lossy(name).into_owned();
    }
    if let Some(v) = ver {
        sess.resp3 = v == 3;
        sess.info.resp.set(v as u8);
    }
    let mut r = Reply::new(out, sess.resp3);
    r.map_len(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(if sess.resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.int(sess.id() as i64);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array_len(0);
}

/// `RESET` → RESET; back to db 0, RESP2, no name, not authenticated when a
/// password is set.
pub fn cmd_reset(sess: &mut Session, out: &mut Reply) {
    sess.db = 0;
    sess.info.db.set(0);
    sess.resp3 = false;
    sess.info.resp.set(2);
    sess.no_touch = false;
    sess.info.no_touch.set(false);
    sess.info.no_evict.set(false);
    sess.info.name.borrow_mut().clear();
    sess.multi = None;
    sess.watch = None;
    sess.info.reply_off.set(false);
    sess.skip_next_reply = false;
    out.resp3 = false;
    out.simple("RESET");
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Print this help.",
];

/// Writes an array of status lines (the HELP subcommands).
pub fn reply_help(out: &mut Reply, lines: &[&str]) {
    out.array_len(lines.len());
    for l in lines {
        out.simple(l);
    }
}

/// A CLIENT KILL filter.
#[derive(Clone, Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    maxage: Option<u64>,
    user: Option<String>,
    kind: Option<ClientKind>,
    skip: Option<u64>,
}

/// `CLIENT <subcommand> ...`
pub async fn cmd_client(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1).to_ascii_lowercase();
    let resp3 = sess.resp3;
    match sub.as_slice() {
        b"id" => Reply::new(out, resp3).int(sess.id() as i64),
        b"getname" => {
            let name = sess.info.name.borrow().clone();
            let mut r = Reply::new(out, resp3);
            if name.is_empty() {
                r.null()
            } else {
                r.bulk(name.as_bytes())
            }
        }
        b"setname" => {
            let name = args.get(2);
            if !valid_name(name) {
                return Reply::new(out, resp3).error(err::CLIENT_NAME_SPACES);
            }
            *sess.info.name.borrow_mut() = String::from_utf8_lossy(name).into_owned();
            Reply::new(out, resp3).ok()
        }
        b"setinfo" => {
            let attr = args.get(2).to_ascii_lowercase();
            let value = args.get(3);
            let target = match attr.as_slice() {
                b"lib-name" => &sess.info.lib_name,
                b"lib-ver" => &sess.info.lib_ver,
                _ => {
                    let msg = err::with_arg("ERR Unrecognized option '", args.get(2), "'");
                    return Reply::new(out, resp3).error_bytes(&msg);
                }
            };
            if !valid_name(value) {
                let msg = format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&attr)
                );
                return Reply::new(out, resp3).error(&msg);
            }
            *target.borrow_mut() = String::from_utf8_lossy(value).into_owned();
            Reply::new(out, resp3).ok()
        }
        b"tracking" => client_tracking(sess, args, out).await,
        b"caching" => {
            let mut tr = sess.info.tracking.borrow_mut();
            if !tr.on || !(tr.optin || tr.optout) {
                return Reply::new(out, resp3).error(err::CACHING_NEEDS_OPT);
            }
            let Some(yes) = switch(args.get(2), "yes", "no") else {
                return Reply::new(out, resp3).error(err::SYNTAX);
            };
            if yes && !tr.optin {
                return Reply::new(out, resp3).error(err::CACHING_YES_NEEDS_OPTIN);
            }
            if !yes && !tr.optout {
                return Reply::new(out, resp3).error(err::CACHING_NO_NEEDS_OPTOUT);
            }
            tr.caching = Some(yes);
            Reply::new(out, resp3).ok()
        }
        b"getredir" => {
            let tr = sess.info.tracking.borrow();
            let id = match (tr.on, tr.redirect) {
                (false, _) => -1,
                (true, None) => 0,
                (true, Some((id, _))) => id as i64,
            };
            Reply::new(out, resp3).int(id)
        }
        b"trackinginfo" => {
            let tr = sess.info.tracking.borrow();
            let mut flags: Vec<&str> = Vec::new();
            if !tr.on {
                flags.push("off");
            } else {
                flags.push("on");
                for (set, name) in [(tr.bcast, "bcast"), (tr.optin, "optin"), (tr.optout, "optout")] {
                    if set {
                        flags.push(name);
                    }
                }
                match tr.caching {
                    Some(true) => flags.push("caching-yes"),
                    Some(false) => flags.push("caching-no"),
                    None => {}
                }
                if tr.noloop {
                    flags.push("noloop");
                }
                if tr.broken {
                    flags.push("broken_redirect");
                }
            }
            let mut r = Reply::new(out, resp3);
            r.map_len(3);
            r.bulk(b"flags");
            r.set_len(flags.len());
            for f in flags {
                r.bulk(f.as_bytes());
            }
            r.bulk(b"redirect");
            r.int(match (tr.on, tr.redirect) {
                (false, _) => -1,
                (true, None) => 0,
                (true, Some((id, _))) => id as i64,
            });
            r.bulk(b"prefixes");
            r.array_len(tr.prefixes.len());
            for p in &tr.prefixes {
                r.bulk(p);
            }
        }
        b"reply" => {
            // OFF and SKIP answer nothing; the connection drops the replies
            // that follow (see conn.rs).
            if args.is(2, "on") {
                sess.info.reply_off.set(false);
                sess.skip_next_reply = false;
                Reply::new(out, resp3).ok()
            } else if args.is(2, "off") {
                sess.info.reply_off.set(true);
            } else if args.is(2, "skip") {
                if !sess.info.reply_off.get() {
                    sess.skip_next_reply = true;
                }
            } else {
                Reply::new(out, resp3).error(err::SYNTAX)
            }
        }
        b"no-evict" | b"no-touch" => {
            let Some(on) = switch(args.get(2), "on", "off") else {
                return Reply::new(out, resp3).error(err::SYNTAX);
            };
            if sub == b"no-evict" {
                sess.info.no_evict.set(on);
            } else {
                sess.no_touch = on;
                sess.info.no_touch.set(on);
            }
            Reply::new(out, resp3).ok()
        }
        b"info" => {
            let line = sess.info.describe(crate::util::now_ms()) + "\n";
            Reply::new(out, resp3).verbatim(line.as_bytes())
        }
        b"list" => {
            let mut ids: Option<Vec<u64>> = None;
            let mut kind: Option<ClientKind> = None;
            let mut j = 2;
            while j < args.len() {
                if args.is(j, "type") && j + 1 < args.len() {
                    match ClientKind::parse(args.get(j + 1)) {
                        Some(k) => kind = Some(k),
                        None => {
                            let msg = err::with_arg("ERR Unknown client type '", args.get(j + 1), "'");
                            return Reply::new(out, resp3).error_bytes(&msg);
                        }
                    }
                    j += 2;
                } else if args.is(j, "id") && j + 1 < args.len() {
                    let mut v = Vec::new();
                    j += 1;
                    while j < args.len() {
                        match parse_i64(args.get(j)) {
                            Some(id) if id > 0 => v.push(id as u64),
                            Some(_) => {}
                            None => return Reply::new(out, resp3).error(err::INVALID_CLIENT_ID),
                        }
                        j += 1;
                    }
                    ids = Some(v);
                } else {
                    return Reply::new(out, resp3).error(err::SYNTAX);
                }
            }
            let now = crate::util::now_ms();
            let parts = coordinator::broadcast_in(&sess.shard, sess.tx, move |shard| {
                let clients = shard.clients.borrow();
                let mut v: Vec<(u64, String)> = clients
                    .values()
                    .filter(|c| kind.is_none_or(|k| k.matches(c)))
                    .map(|c| (c.id, c.describe(now)))
                    .collect();
                v.sort();
                v
            })
            .await;
            let mut all: Vec<(u64, String)> = parts.into_iter().flatten().collect();
            all.sort();
            let mut text = String::new();
            for (id, line) in all {
                if ids.as_ref().map_or(true, |ids| ids.contains(&id)) {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            Reply::new(out, resp3).verbatim(text.as_bytes())
        }
        b"kill" => client_kill(sess, args, out).await,
        b"pause" => client_pause(sess, args, out).await,
        b"unpause" => {
            coordinator::broadcast_in(&sess.shard, sess.tx, |sh| sh.pause.clear()).await;
            Reply::new(out, resp3).ok()
        }
        b"unblock" => {
            let Some(id) = parse_i64(args.get(2)) else {
                return Reply::new(out, resp3).error(err::NOT_INTEGER);
            };
            let error = match args.len() {
                3 => false,
                4 if args.is(3, "timeout") => false,
                4 if args.is(3, "error") => true,
                _ => return Reply::new(out, resp3).error(err::UNBLOCK_REASON),
            };
            let hits = coordinator::broadcast_in(&sess.shard, sess.tx, move |sh| {
                id > 0 && crate::shard::blocking::unblock_client(sh, id as u64, error)
            })
            .await;
            Reply::new(out, resp3).int(hits.into_iter().any(|h| h) as i64)
        }
        b"help" if args.len() == 2 => reply_help(&mut Reply::new(out, resp3), CLIENT_HELP),
        _ => Reply::new(out, resp3).error_bytes(&err::unknown_subcommand(args.get(1), "client")),
    }
}

/// A two-way option (`ON|OFF`, `YES|NO`), case-insensitively.
fn switch(arg: &[u8], on: &str, off: &str) -> Option<bool> {
    if arg.eq_ignore_ascii_case(on.as_bytes()) {
        Some(true)
    } else if arg.eq_ignore_ascii_case(off.as_bytes()) {
        Some(false)
    } else {
        None
    }
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]`.
async fn client_tracking(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    use crate::shard::tracking::{self, ClientTracking, Live};
    let resp3 = sess.resp3;
    let Some(on) = switch(args.get(2), "on", "off") else {
        return Reply::new(out, resp3).error(err::SYNTAX);
    };
    let mut new = ClientTracking {
        on: true,
        ..Default::default()
    };
    let mut j = 3;
    while j < args.len() {
        let more = args.len() - j - 1;
        if args.is(j, "redirect") && more >= 1 {
            let Some(id) = parse_i64(args.get(j + 1)) else {
                return Reply::new(out, resp3).error(err::NOT_INTEGER);
            };
            let found = coordinator::call_all(&sess.shard, move |sh| {
                id > 0 && sh.clients.borrow().contains_key(&(id as u64))
            })
            .await;
            match found.iter().position(|&f| f) {
                Some(s) => new.redirect = Some((id as u64, s)),
                None => return Reply::new(out, resp3).error(err::TRACKING_REDIRECT_MISSING),
            }
            j += 2;
        } else if args.is(j, "prefix") && more >= 1 {
            new.prefixes.push(bytes::Bytes::copy_from_slice(args.get(j + 1)));
            j += 2;
        } else {
            match args.get(j).to_ascii_lowercase().as_slice() {
                b"bcast" => new.bcast = true,
                b"optin" => new.optin = true,
                b"optout" => new.optout = true,
                b"noloop" => new.noloop = true,
                _ => return Reply::new(out, resp3).error(err::SYNTAX),
            }
            j += 1;
        }
    }
    if !on {
        if sess.info.tracking.borrow().on {
            *sess.info.tracking.borrow_mut() = ClientTracking::default();
            tracking::publish_settings(&sess.shard, sess.info.id, None, Vec::new()).await;
        }
        return Reply::new(out, resp3).ok();
    }
    let old = sess.info.tracking.borrow().clone();
    if !new.bcast && !new.prefixes.is_empty() {
        return Reply::new(out, resp3).error(err::TRACKING_PREFIX_NEEDS_BCAST);
    }
    if old.on && old.bcast != new.bcast {
        return Reply::new(out, resp3).error(err::TRACKING_SWITCH_BCAST);
    }
    if new.bcast && (new.optin || new.optout) {
        return Reply::new(out, resp3).error(err::TRACKING_BCAST_OPT);
    }
    if new.optin && new.optout {
        return Reply::new(out, resp3).error(err::TRACKING_OPTIN_OPTOUT);
    }
    if old.on && ((new.optin && old.optout) || (new.optout && old.optin)) {
        return Reply::new(out, resp3).error(err::TRACKING_SWITCH_OPT);
    }
    if new.bcast {
        if let Some(msg) = prefix_collision(&old.prefixes, &new.prefixes) {
            return Reply::new(out, resp3).error_bytes(&msg);
        }
        if new.prefixes.is_empty() && old.prefixes.is_empty() {
            new.prefixes.push(bytes::Bytes::new());
        }
    }
    let mut all = old.prefixes.clone();
    all.extend(new.prefixes.iter().cloned());
    new.prefixes = all;
    let live = Live {
        shard: sess.shard.id as u16,
        redirect: new.redirect.map(|(id, s)| (id, s as u16)),
        bcast: new.bcast,
        noloop: new.noloop,
    };
    let prefixes = new.prefixes.clone();
    *sess.info.tracking.borrow_mut() = new;
    // Every shard learns where this client's invalidations go (and its
    // prefixes) before the reply.
    tracking::publish_settings(&sess.shard, sess.info.id, Some(live), prefixes).await;
    Reply::new(out, resp3).ok()
}

/// Redis's prefix overlap errors for BCAST prefixes.
fn prefix_collision(existing: &[bytes::Bytes], new: &[bytes::Bytes]) -> Option<Vec<u8>> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(p, e)) {
            let mut m = err::with_arg("ERR Prefix '", p, "' overlaps with an existing prefix '");
            m.extend_from_slice(&err::with_arg(
                "",
                e,
                "'. Prefixes for a single client must not overlap.",
            ));
            return Some(m);
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            let mut m = err::with_arg("ERR Prefix '", p, "' overlaps with another provided prefix '");
            m.extend_from_slice(&err::with_arg(
                "",
                q,
                "'. Prefixes for a single client must not overlap.",
            ));
            return Some(m);
        }
    }
    None
}

/// The client types of CLIENT LIST / CLIENT KILL TYPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientKind {
    Normal,
    PubSub,
    /// master, replica, slave: none exist here.
    Replication,
}

impl ClientKind {
    fn parse(v: &[u8]) -> Option<ClientKind> {
        match v.to_ascii_lowercase().as_slice() {
            b"normal" => Some(ClientKind::Normal),
            b"pubsub" => Some(ClientKind::PubSub),
            b"master" | b"replica" | b"slave" => Some(ClientKind::Replication),
            _ => None,
        }
    }

    /// A client with subscriptions is of the pubsub type, as in Redis.
    fn matches(self, c: &crate::shard::ClientInfo) -> bool {
        let pubsub = c.subs.borrow().total() > 0;
        match self {
            ClientKind::Normal => !pubsub,
            ClientKind::PubSub => pubsub,
            ClientKind::Replication => false,
        }
    }
}

/// `CLIENT KILL ip:port` → OK, or `CLIENT KILL <filter> <value> ...` → the
/// number of clients killed (every filter must match; SKIPME defaults to
/// yes). Runs on every shard.
async fn client_kill(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let mut f = KillFilter::default();
    let old_style = args.len() == 3;
    if old_style {
        f.addr = Some(String::from_utf8_lossy(args.get(2)).into_owned());
    } else {
        let mut skipme = true;
        let mut j = 2;
        while j < args.len() {
            if j + 1 >= args.len() {
                return Reply::new(out, resp3).error(err::SYNTAX);
            }
            let v = args.get(j + 1);
            let vs = String::from_utf8_lossy(v).into_owned();
            if args.is(j, "id") {
                match parse_i64(v).filter(|x| *x > 0) {
                    Some(id) => f.id = Some(id as u64),
                    None => return Reply::new(out, resp3).error(err::CLIENT_ID_POSITIVE),
                }
            } else if args.is(j, "maxage") {
                match parse_i64(v) {
                    None => return Reply::new(out, resp3).error(err::MAXAGE_NOT_INTEGER),
                    Some(a) if a <= 0 => return Reply::new(out, resp3).error(err::MAXAGE_POSITIVE),
                    Some(a) => f.maxage = Some(a as u64),
                }
            } else if args.is(j, "type") {
                match ClientKind::parse(v) {
                    Some(k) => f.kind = Some(k),
                    None => {
                        let msg = err::with_arg("ERR Unknown client type '", v, "'");
                        return Reply::new(out, resp3).error_bytes(&msg);
                    }
                }
            } else if args.is(j, "addr") {
                f.addr = Some(vs);
            } else if args.is(j, "laddr") {
                f.laddr = Some(vs);
            } else if args.is(j, "user") {
                if !user_exists(v) {
                    let msg = err::with_arg("ERR No such user '", v, "'");
                    return Reply::new(out, resp3).error_bytes(&msg);
                }
                f.user = Some(vs);
            } else if args.is(j, "skipme") {
                match switch(v, "yes", "no") {
                    Some(yes) => skipme = yes,
                    None => return Reply::new(out, resp3).error(err::SYNTAX),
                }
            } else {
                return Reply::new(out, resp3).error(err::SYNTAX);
            }
            j += 2;
        }
        if skipme {
            f.skip = Some(sess.id());
        }
    }
    let me = sess.id();
    let now = crate::util::now_ms();
    let filter = f.clone();
    let killed = coordinator::broadcast_in(&sess.shard, sess.tx, move |shard| {
        let clients = shard.clients.borrow();
        let mut n = 0u64;
        let mut killed_me = false;
        for c in clients.values() {
            let f = &filter;
            if f.skip == Some(c.id)
                || f.id.is_some_and(|id| id != c.id)
                || f.addr.as_ref().is_some_and(|a| *a != c.addr)
                || f.laddr.as_ref().is_some_and(|a| *a != c.laddr)
                || f.user.as_ref().is_some_and(|u| *u != client_user(c))
                || c.killed.get()
                || f.kind.is_some_and(|k| !k.matches(c))
                || f.maxage.is_some_and(|m| now.saturating_sub(c.created_ms) / 1000 < m)
            {
                continue;
            }
            if c.id == me {
                killed_me = true;
            } else {
                c.kill();
            }
            n += 1;
        }
        (n, killed_me)
    })
    .await;
    let total: u64 = killed.iter().map(|k| k.0).sum();
    if killed.iter().any(|k| k.1) {
        sess.close_after_reply = true;
    }
    let mut r = Reply::new(out, resp3);
    if old_style {
        if total == 0 {
            r.error(err::NO_SUCH_CLIENT)
        } else {
            r.ok()
        }
    } else {
        r.int(total as i64)
    }
}

/// Whether an ACL user of that name exists. Until ACL users arrive, only
/// `default` does.
fn user_exists(name: &[u8]) -> bool {
    name == b"default"
}

/// The user a client is authenticated as (ACL users: every client is
/// `default` for now).
fn client_user(_c: &crate::shard::ClientInfo) -> &'static str {
    "default"
}

/// `CLIENT PAUSE timeout [WRITE|ALL]` → OK. Every shard holds its clients'
/// commands (all, or those that may write) until the deadline or CLIENT
/// UNPAUSE; a later deadline and the stricter mode win.
async fn client_pause(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    if args.len() > 4 {
        return Reply::new(out, resp3).error(err::SYNTAX);
    }
    let mut all = true;
    if args.len() == 4 {
        match switch(args.get(3), "write", "all") {
            Some(write) => all = !write,
            None => return Reply::new(out, resp3).error(err::CLIENT_PAUSE_MODE),
        }
    }
    let now = crate::util::now_ms() as i64;
    let end = match parse_i64(args.get(2)) {
        None => return Reply::new(out, resp3).error(super::stream::TIMEOUT_NOT_INT),
        Some(t) if t < 0 => return Reply::new(out, resp3).error(super::stream::TIMEOUT_NEGATIVE),
        Some(0) => 0,
        Some(t) if t > i64::MAX - now => return Reply::new(out, resp3).error(err::TIMEOUT_OUT_OF_RANGE),
        Some(t) => (t + now) as u64,
    };
    coordinator::broadcast_in(&sess.shard, sess.tx, move |sh| {
        sh.pause.set(end, all);
        sh.pause.tick(crate::util::now_ms());
    })
    .await;
    Reply::new(out, resp3).ok()
}

/// Whether a command may write or replicate, as CLIENT PAUSE WRITE judges
/// it: write and may-replicate commands, EXEC of a transaction holding
/// one, and scripts that do not declare `no-writes`. Asked only while a
/// WRITE pause is on.
pub(crate) fn pause_may_write(spec: &'static super::CommandSpec, args: &Args, sess: &Session) -> bool {
    match spec.name {
        "exec" => sess
            .multi
            .as_ref()
            .is_some_and(|m| m.commands().any(|(spec, args)| pause_may_write(spec, &args, sess))),
        "eval" | "evalsha" | "fcall" => !script_no_writes(spec.name, args.get(1)),
        _ => super::may_replicate(spec, spec.subcommand_flags(args)),
    }
}

/// Whether the script EVAL/EVALSHA/FCALL names declares `no-writes`
/// (unknown scripts may write, as Redis judges them).
fn script_no_writes(cmd: &str, what: &[u8]) -> bool {
    use crate::script::{shebang, store};
    match cmd {
        "eval" => matches!(shebang::eval_shebang(what), Ok((f, _)) if f.declared && f.no_writes),
        "evalsha" => {
            let Ok(sha) = <[u8; 40]>::try_from(what.to_ascii_lowercase().as_slice()) else {
                return false;
            };
            store::scripts()
                .map
                .get(&sha)
                .is_some_and(|s| s.flags.declared && s.flags.no_writes)
        }
        _ => {
            let libs = store::libraries();
            let name = store::lower(what);
            libs.functions
                .get(&name)
                .and_then(|id| libs.by_id.get(id))
                .and_then(|lib| lib.functions.iter().find(|f| store::lower(&f.name) == name))
                .is_some_and(|f| f.flags & shebang::NO_WRITES != 0)
        }
    }
}
