//! ACL family: the ACL command, authentication, and the permission gate
//! dispatch, EXEC and scripts call (see `crate::acl` for users and rules).

use std::sync::Arc;

use super::args::{parse_i64, ArgsBuf};
use super::errors as err;
use super::{flags, Args, CommandSpec, Session};
use crate::acl::{self, log::Context, Denial, Resolved, User};
use crate::protocol::Reply;
use crate::shard::blocking::Permit;
use crate::shard::{coordinator, Shard};
use crate::util::now_ms;

pub const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";
pub const SAVE_FAILED: &str =
    "ERR There was an error trying to save the ACLs. Please check the server logs for more information";
pub const USERNAME_SPACES: &str = "ERR Usernames can't contain spaces or null characters";
pub const DEFAULT_UNDELETABLE: &str = "ERR The 'default' user cannot be removed";
pub const GENPASS_RANGE: &str =
    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096";
/// Prefix of a command refused at EXEC because the rules changed after it
/// was queued.
pub const EXEC_CHANGED: &str = "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: ";

/// Where a check happens (for the ACL log).
fn context(sess: &Session) -> Context {
    if sess.multi.is_some() {
        Context::Multi
    } else {
        Context::Toplevel
    }
}

/// Picks up a changed definition of the session's user.
fn refresh_user(sess: &mut Session) {
    let users = sess.shard.acl.users.borrow();
    if let Some(u) = users.get(&sess.user.name) {
        if !Arc::ptr_eq(u, &sess.user) {
            sess.user = u.clone();
        }
    }
}

/// Dispatch's slow path, taken when the session's cached verdict is
/// stale: authentication, then the ACL check. None lets the command run;
/// otherwise the error to reply (NOAUTH or NOPERM), already logged.
pub fn gate(sess: &mut Session, spec: &'static CommandSpec, args: &Args) -> Option<Vec<u8>> {
    let generation = sess.shard.acl.generation();
    refresh_user(sess);
    if !sess.authenticated && sess.shard.acl.users.borrow().auth_required() {
        if spec.flags & flags::NO_AUTH == 0 {
            return Some(err::NOAUTH.as_bytes().to_vec());
        }
        return None;
    }
    if sess.user.unrestricted() {
        sess.acl_ok = generation;
        return None;
    }
    let ctx = context(sess);
    // The log's client description names the denied command (as Redis's).
    sess.info.last_cmd.set(spec.name);
    check(sess, spec, args, ctx).err().map(|(d, msg)| {
        let _ = d;
        let mut m = b"NOPERM ".to_vec();
        m.extend_from_slice(&msg);
        m
    })
}

/// Checks `args` for the session's user; on denial logs it (in `ctx`)
/// and returns the kind and the short message.
pub fn check(sess: &Session, spec: &'static CommandSpec, args: &Args, ctx: Context) -> Result<(), (Denial, Vec<u8>)> {
    let user = &sess.user;
    let cmd = Resolved::of(spec, args);
    match user.check(&cmd, args) {
        Ok(()) => Ok(()),
        Err((d, idx)) => {
            let object: &[u8] = if d == Denial::Command {
                cmd.full_name.as_bytes()
            } else {
                args.get(idx)
            };
            log_denial(
                &sess.shard,
                d,
                ctx,
                object,
                user.name.as_bytes(),
                sess.info.describe(now_ms()),
            );
            Err((
                d,
                acl::denial_message(d, &user.name, cmd.full_name, args.get(idx), false),
            ))
        }
    }
}

/// Adds an entry to this shard's ACL log.
pub fn log_denial(shard: &Shard, d: Denial, ctx: Context, object: &[u8], user: &[u8], client_info: String) {
    shard.stats.borrow_mut().acl_denied[d as usize] += 1;
    let max = shard.config.borrow().acllog_max_len;
    shard
        .acl
        .users
        .borrow_mut()
        .log
        .add(d, ctx, object, user, client_info, now_ms(), max);
}

/// What a key's shard checks again before serving a blocked command if
/// ACL rules change while it waits; None inside a transaction (where it
/// never waits).
pub fn permit(sess: &Session, args: &Args) -> Option<Permit> {
    if sess.tx != 0 {
        return None;
    }
    let spec = super::lookup(args.get(0))?;
    let mut buf = ArgsBuf::default();
    buf.push(args);
    Some(Permit {
        user: sess.user.clone(),
        spec,
        args: buf,
    })
}

/// A blocked command a key's shard refused to serve (its user lost a
/// permission while it waited), checked again on the client's side as
/// Redis checks a command it reprocesses: the NOPERM error (logged, and
/// the session marked so the call counts as rejected), or None when the
/// rules allow it after all.
pub fn blocked_recheck(sess: &mut Session, args: &Args) -> Option<Vec<u8>> {
    let spec = super::lookup(args.get(0))?;
    let msg = gate(sess, spec, args)?;
    sess.refused.set(true);
    Some(msg)
}

/// The ACL check of a queued command at EXEC (rules may have changed
/// since it was queued): None, or the error to put in its place.
pub fn exec_recheck(sess: &mut Session, spec: &'static CommandSpec, args: &Args) -> Option<Vec<u8>> {
    refresh_user(sess);
    if sess.user.unrestricted() {
        return None;
    }
    match check(sess, spec, args, Context::Multi) {
        Ok(()) => None,
        Err((d, _)) => {
            let reason = match d {
                Denial::Command => "no permission to execute the command or subcommand",
                Denial::Key => "no permission to touch the specified keys",
                Denial::Channel => "no permission to access one of the channels used as arguments",
                Denial::Auth => "no permission",
            };
            Some(format!("{}{}", EXEC_CHANGED, reason).into_bytes())
        }
    }
}

/// The session's user when its commands need checking (a restricted
/// user), for scripts: None means "run anything".
pub fn script_user(sess: &mut Session) -> Option<(Arc<User>, String)> {
    refresh_user(sess);
    if sess.user.unrestricted() {
        None
    } else {
        Some((sess.user.clone(), sess.info.describe(now_ms())))
    }
}

/// Checks a command a script calls for `user`; the error reply (without
/// the leading `-`) on denial, logged in the `lua` context.
pub fn script_check(
    shard: &Shard,
    user: &(Arc<User>, String),
    spec: &'static CommandSpec,
    args: &Args,
) -> Option<Vec<u8>> {
    let (u, cinfo) = user;
    let cmd = Resolved::of(spec, args);
    match u.check(&cmd, args) {
        Ok(()) => None,
        Err((d, idx)) => {
            let object: &[u8] = if d == Denial::Command {
                cmd.full_name.as_bytes()
            } else {
                args.get(idx)
            };
            log_denial(shard, d, Context::Lua, object, u.name.as_bytes(), cinfo.clone());
            let mut m = b"ERR ACL failure in script: ".to_vec();
            m.extend_from_slice(&acl::denial_message(d, &u.name, cmd.full_name, args.get(idx), false));
            Some(m)
        }
    }
}

/// Logs the session in as `user` when `pass` is right; logs the failure
/// otherwise (`cmd` is the AUTH or HELLO argument as typed).
pub fn authenticate(sess: &mut Session, user: &[u8], pass: &[u8], cmd: &[u8]) -> bool {
    let found = {
        let users = sess.shard.acl.users.borrow();
        std::str::from_utf8(user)
            .ok()
            .and_then(|n| users.get(n))
            .filter(|u| u.password_ok(pass))
            .cloned()
    };
    match found {
        Some(u) => {
            *sess.info.user.borrow_mut() = u.name.clone();
            sess.user = u;
            sess.authenticated = true;
            sess.acl_ok = 0;
            true
        }
        None => {
            log_denial(
                &sess.shard,
                Denial::Auth,
                context(sess),
                cmd,
                user,
                sess.info.describe(now_ms()),
            );
            false
        }
    }
}

/// Back to the default user, authenticated only if it needs no password
/// (RESET).
pub fn reset_user(sess: &mut Session) {
    let users = sess.shard.acl.users.borrow();
    sess.user = users.default_user().clone();
    sess.authenticated = !users.auth_required();
    drop(users);
    sess.info.user.borrow_mut().clear();
    sess.acl_ok = 0;
}

/// Whether AUTH <password> (one argument) is refused because the default
/// user has no password.
pub fn default_nopass(sess: &Session) -> bool {
    sess.shard.acl.users.borrow().default_user().nopass
}

/// Sets the default user's password from `requirepass` (CONFIG SET), on
/// this shard.
pub fn apply_requirepass(sh: &Shard) {
    let pass = sh.config.borrow().requirepass.clone();
    let mut users = sh.acl.users.borrow_mut();
    let mut d = (**users.default_user()).clone();
    let _ = d.apply(b"resetpass", false);
    match pass {
        Some(p) => {
            let _ = d.apply(format!(">{}", p).as_bytes(), false);
        }
        None => {
            let _ = d.apply(b"nopass", false);
        }
    }
    users.map.insert("default".into(), Arc::new(d));
    drop(users);
    sh.acl.bump();
}

/// Disconnects this shard's clients authenticated as a user that is gone
/// or whose subscriptions the new definition no longer allows; `caller`
/// (the connection changing the rules) is reported instead of killed, so
/// it can close after its reply. Returns whether the caller must close.
fn drop_clients(sh: &Shard, caller: u64, old: &std::collections::BTreeMap<String, Arc<User>>) -> bool {
    let users = sh.acl.users.borrow();
    let mut caller_closes = false;
    for (_, c) in sh.clients.borrow().iter() {
        let name = c.user_name();
        let verdict = match users.get(&name) {
            None => !c.user.borrow().is_empty() || name != "default",
            Some(new) => match old.get(&name) {
                Some(prev) if !Arc::ptr_eq(prev, new) && !new.channels_cover(prev) => {
                    let subs = c.subs.borrow();
                    let chans = subs.sets[0].iter().chain(subs.sets[2].iter()).map(|b| b.as_ref());
                    let pats = subs.sets[1].iter().map(|b| b.as_ref());
                    !new.keeps_subscriptions(chans, pats)
                }
                _ => false,
            },
        };
        if verdict {
            if c.id == caller {
                caller_closes = true;
            } else {
                c.kill();
            }
        }
    }
    caller_closes
}

/// Replaces this shard's users with `change` applied, drops the clients
/// that lose access, and bumps the generation.
fn apply_change(sh: &Shard, caller: u64, change: &Change) -> bool {
    let old = sh.acl.users.borrow().map.clone();
    {
        let mut users = sh.acl.users.borrow_mut();
        match change {
            Change::Set(u) => {
                users.map.insert(u.name.clone(), u.clone());
            }
            Change::Delete(names) => {
                for n in names {
                    users.map.remove(n);
                }
            }
            Change::Load(list) => {
                users.map = list.iter().map(|u| (u.name.clone(), u.clone())).collect();
                if !users.map.contains_key("default") {
                    users.map.insert("default".into(), Arc::new(User::default_user()));
                }
            }
        }
    }
    sh.acl.bump();
    drop_clients(sh, caller, &old)
}

/// An ACL change applied on every shard.
enum Change {
    Set(Arc<User>),
    Delete(Vec<String>),
    Load(Vec<Arc<User>>),
}

/// Applies `change` on every shard; closes the caller after its reply if
/// it lost access.
async fn broadcast_change(sess: &mut Session, change: Change) {
    let change = Arc::new(change);
    let caller = sess.info.id;
    let closes = coordinator::broadcast_in(&sess.shard, sess.tx, move |sh| apply_change(sh, caller, &change)).await;
    if closes.into_iter().any(|c| c) {
        sess.close_after_reply = true;
    }
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
];

fn selector_fields(r: &mut Reply, s: &acl::Selector) {
    r.bulk(b"commands");
    r.bulk(s.describe_commands().as_bytes());
    r.bulk(b"keys");
    r.bulk(&s.describe_keys());
    r.bulk(b"channels");
    r.bulk(&s.describe_channels());
}

/// `ACL <subcommand> ...`
pub async fn cmd_acl(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let sub = args.get(1).to_ascii_lowercase();
    // CAT, GENPASS and LOG take at most one argument.
    if args.len() > 3 && matches!(sub.as_slice(), b"cat" | b"genpass" | b"log") {
        let m = err::subcommand_syntax(args.get(1), "acl");
        return Reply::new(out, resp3).error_bytes(&m);
    }
    match sub.as_slice() {
        b"setuser" => {
            let name = args.get(2);
            if name.iter().any(|&c| c.is_ascii_whitespace() || c == 0 || c == 0x0b) {
                return Reply::new(out, resp3).error(USERNAME_SPACES);
            }
            let name = String::from_utf8_lossy(name).into_owned();
            let base = sess.shard.acl.users.borrow().get(&name).cloned();
            let pubsub_all = sess.shard.config.borrow().acl_pubsub_default_all;
            let rules: Vec<Vec<u8>> = args.iter().skip(3).map(|a| a.to_vec()).collect();
            match acl::build_user(&name, base.as_deref(), &rules, pubsub_all) {
                Err(msg) => {
                    let mut m = b"ERR ".to_vec();
                    m.extend_from_slice(&msg);
                    Reply::new(out, resp3).error_bytes(&m)
                }
                Ok(u) => {
                    broadcast_change(sess, Change::Set(Arc::new(u))).await;
                    Reply::new(out, resp3).ok()
                }
            }
        }
        b"deluser" => {
            let names: Vec<String> = args
                .iter()
                .skip(2)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if names.iter().any(|n| n == "default") {
                return Reply::new(out, resp3).error(DEFAULT_UNDELETABLE);
            }
            let mut gone: Vec<String> = Vec::new();
            {
                let users = sess.shard.acl.users.borrow();
                for n in names {
                    if users.get(&n).is_some() && !gone.contains(&n) {
                        gone.push(n);
                    }
                }
            }
            let count = gone.len();
            if count > 0 {
                broadcast_change(sess, Change::Delete(gone)).await;
            }
            Reply::new(out, resp3).int(count as i64)
        }
        b"getuser" => {
            let name = String::from_utf8_lossy(args.get(2)).into_owned();
            let Some(u) = sess.shard.acl.users.borrow().get(&name).cloned() else {
                return Reply::new(out, resp3).null();
            };
            let mut r = Reply::new(out, resp3);
            r.map_len(6);
            r.bulk(b"flags");
            let flags = u.flag_names();
            r.set_len(flags.len());
            for f in flags {
                r.bulk(f.as_bytes());
            }
            r.bulk(b"passwords");
            r.array_len(u.passwords.len());
            for p in &u.passwords {
                r.bulk(p.as_bytes());
            }
            selector_fields(&mut r, &u.selectors[0]);
            r.bulk(b"selectors");
            r.array_len(u.selectors.len() - 1);
            for s in &u.selectors[1..] {
                r.map_len(3);
                selector_fields(&mut r, s);
            }
        }
        b"list" | b"users" => {
            let users = sess.shard.acl.users.borrow();
            let mut r = Reply::new(out, resp3);
            r.array_len(users.map.len());
            for (name, u) in &users.map {
                if sub == b"users" {
                    r.bulk(name.as_bytes());
                } else {
                    let mut line = format!("user {} ", name).into_bytes();
                    line.extend_from_slice(&u.describe());
                    r.bulk(&line);
                }
            }
        }
        b"whoami" => Reply::new(out, resp3).bulk(sess.user.name.as_bytes()),
        b"load" | b"save" => {
            let path = sess.shard.config.borrow().aclfile.clone();
            if path.is_empty() {
                return Reply::new(out, resp3).error(NO_ACLFILE);
            }
            if sub == b"save" {
                let r = acl::save_acl_file(&path, &sess.shard.acl.users.borrow());
                return match r {
                    Ok(()) => Reply::new(out, resp3).ok(),
                    Err(e) => {
                        crate::server::log::warning(&format!("Writing ACL file for ACL SAVE: {}", e));
                        Reply::new(out, resp3).error(SAVE_FAILED)
                    }
                };
            }
            let pubsub_all = sess.shard.config.borrow().acl_pubsub_default_all;
            match acl::load_acl_file(&path, pubsub_all) {
                Err(e) => Reply::new(out, resp3).error(&format!("ERR {}", e)),
                Ok(list) => {
                    broadcast_change(sess, Change::Load(list.into_iter().map(Arc::new).collect())).await;
                    Reply::new(out, resp3).ok()
                }
            }
        }
        b"cat" => {
            let cat = acl::catalog();
            let mut r = Reply::new(out, resp3);
            if args.len() == 2 {
                r.array_len(acl::CATEGORIES.len());
                for c in acl::CATEGORIES {
                    r.bulk(c.as_bytes());
                }
                return;
            }
            let name = String::from_utf8_lossy(args.get(2)).into_owned();
            let Some(bit) = acl::categories::category_bit(&name) else {
                let m = err::with_arg("ERR Unknown category '", args.get(2), "'");
                return r.error_bytes(&m);
            };
            let names: Vec<&String> = (0..cat.names.len())
                .filter(|&i| cat.cats[i] & bit != 0)
                .map(|i| &cat.names[i])
                .collect();
            r.array_len(names.len());
            for n in names {
                r.bulk(n.as_bytes());
            }
        }
        b"genpass" => {
            let bits = if args.len() == 3 {
                match parse_i64(args.get(2)) {
                    Some(b) => b,
                    None => return Reply::new(out, resp3).error(err::NOT_INTEGER),
                }
            } else {
                256
            };
            if bits <= 0 || bits > 4096 {
                return Reply::new(out, resp3).error(GENPASS_RANGE);
            }
            let chars = (bits as usize).div_ceil(4);
            Reply::new(out, resp3).bulk(acl::random_hex(chars).as_bytes())
        }
        b"log" => {
            let mut count = 10i64;
            if args.len() == 3 {
                if args.is(2, "reset") {
                    coordinator::broadcast_in(&sess.shard, sess.tx, |sh| {
                        sh.acl.users.borrow_mut().log.entries.clear();
                    })
                    .await;
                    return Reply::new(out, resp3).ok();
                }
                match parse_i64(args.get(2)) {
                    Some(n) => count = n.max(0),
                    None => return Reply::new(out, resp3).error(err::NOT_INTEGER),
                }
            }
            let parts = coordinator::broadcast_in(&sess.shard, sess.tx, |sh| {
                sh.acl.users.borrow().log.entries.iter().cloned().collect::<Vec<_>>()
            })
            .await;
            let max = sess.shard.config.borrow().acllog_max_len;
            let entries = acl::log::merge(parts, max);
            let n = (count as usize).min(entries.len());
            let now = now_ms();
            let mut r = Reply::new(out, resp3);
            r.array_len(n);
            for e in &entries[..n] {
                r.map_len(10);
                r.bulk(b"count");
                r.int(e.count as i64);
                r.bulk(b"reason");
                r.bulk(e.reason.name().as_bytes());
                r.bulk(b"context");
                r.bulk(e.context.name().as_bytes());
                r.bulk(b"object");
                r.bulk(&e.object);
                r.bulk(b"username");
                r.bulk(&e.username);
                r.bulk(b"age-seconds");
                r.double(now.saturating_sub(e.ctime) as f64 / 1000.0);
                r.bulk(b"client-info");
                r.bulk(e.client_info.as_bytes());
                r.bulk(b"entry-id");
                r.int(e.entry_id as i64);
                r.bulk(b"timestamp-created");
                r.int(e.created as i64);
                r.bulk(b"timestamp-last-updated");
                r.int(e.ctime as i64);
            }
        }
        b"dryrun" => {
            let name = String::from_utf8_lossy(args.get(2)).into_owned();
            let Some(u) = sess.shard.acl.users.borrow().get(&name).cloned() else {
                return Reply::new(out, resp3).error(&format!("ERR User '{}' not found", name));
            };
            let inner = Args::new(args.buf(), &args.ranges()[3..]);
            let spec = super::lookup(inner.get(0));
            let sub = spec.and_then(|s| {
                if s.subcommands.is_empty() {
                    Some(None)
                } else {
                    s.find_subcommand(&inner).map(Some)
                }
            });
            let (Some(spec), Some(sub)) = (spec, sub) else {
                let m = err::with_arg("ERR Command '", inner.get(0), "' not found");
                return Reply::new(out, resp3).error_bytes(&m);
            };
            let (arity, full) = match sub {
                Some(s) => (s.arity, s.name),
                None => (spec.arity, spec.name),
            };
            let argc = inner.len() as i32;
            if (arity > 0 && arity != argc) || argc < -arity {
                return Reply::new(out, resp3).error(&format!("ERR wrong number of arguments for '{}' command", full));
            }
            let cmd = Resolved::of(spec, &inner);
            match u.check(&cmd, &inner) {
                Ok(()) => Reply::new(out, resp3).ok(),
                Err((d, idx)) => {
                    let m = acl::denial_message(d, &u.name, cmd.full_name, inner.get(idx), true);
                    Reply::new(out, resp3).bulk(&m)
                }
            }
        }
        b"help" => super::connection::reply_help(&mut Reply::new(out, resp3), HELP),
        _ => {
            let m = err::subcommand_syntax(args.get(1), "acl");
            Reply::new(out, resp3).error_bytes(&m)
        }
    }
}
