//! Pub/sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH,
//! PUBSUB. The machinery (owners, fan-out, delivery) is `shard/pubsub.rs`.

use bytes::Bytes;

use super::{errors as err, Args, Ctx, Session};
use crate::protocol::Reply;
use crate::shard::coordinator;
use crate::shard::pubsub::{self, Kind};

/// Names of the (un)subscribe replies of each kind.
fn reply_names(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Channel => ("subscribe", "unsubscribe"),
        Kind::Pattern => ("psubscribe", "punsubscribe"),
        Kind::ShardChannel => ("ssubscribe", "sunsubscribe"),
    }
}

/// The count an (un)subscribe reply carries: channels plus patterns, or
/// shard channels.
fn reply_count(sess: &Session, kind: Kind) -> i64 {
    let subs = sess.info.subs.borrow();
    match kind {
        Kind::ShardChannel => subs.sets[2].len() as i64,
        _ => subs.classic() as i64,
    }
}

fn write_confirm(r: &mut Reply, name: &str, channel: Option<&[u8]>, count: i64) {
    r.push_len(3);
    r.bulk(name.as_bytes());
    match channel {
        Some(c) => r.bulk(c),
        None => r.null(),
    }
    r.int(count);
}

/// `SUBSCRIBE channel...`, `PSUBSCRIBE pattern...`, `SSUBSCRIBE shardchannel...`:
/// one confirmation per argument.
pub async fn cmd_subscribe(sess: &mut Session, kind: Kind, args: &Args<'_>, out: &mut Vec<u8>) {
    if kind == Kind::ShardChannel && sess.tx != 0 {
        // Inside EXEC, as Redis (a transaction may not block).
        return Reply::new(out, sess.resp3).error(err::SSUBSCRIBE_DENY_BLOCKING);
    }
    let (name, _) = reply_names(kind);
    let shard = sess.shard.clone();
    for i in 1..args.len() {
        pubsub::subscribe(&shard, &sess.info, kind, args.get(i)).await;
        let count = reply_count(sess, kind);
        write_confirm(&mut Reply::new(out, sess.resp3), name, Some(args.get(i)), count);
    }
}

/// `UNSUBSCRIBE [channel...]` and friends: without arguments, from all of
/// that kind (one `nil` confirmation when there were none).
pub async fn cmd_unsubscribe(sess: &mut Session, kind: Kind, args: &Args<'_>, out: &mut Vec<u8>) {
    let (_, name) = reply_names(kind);
    let shard = sess.shard.clone();
    let names: Vec<Bytes> = if args.len() > 1 {
        (1..args.len()).map(|i| Bytes::copy_from_slice(args.get(i))).collect()
    } else {
        sess.info.subs.borrow().sets[kind as usize].iter().cloned().collect()
    };
    if names.is_empty() {
        let count = reply_count(sess, kind);
        return write_confirm(&mut Reply::new(out, sess.resp3), name, None, count);
    }
    for n in names {
        pubsub::unsubscribe(&shard, &sess.info, kind, &n).await;
        let count = reply_count(sess, kind);
        write_confirm(&mut Reply::new(out, sess.resp3), name, Some(&n), count);
    }
}

/// Drops every subscription (RESET).
pub async fn unsubscribe_all(sess: &mut Session) {
    let shard = sess.shard.clone();
    for kind in [Kind::Channel, Kind::Pattern, Kind::ShardChannel] {
        let names: Vec<Bytes> = sess.info.subs.borrow().sets[kind as usize].iter().cloned().collect();
        for n in names {
            pubsub::unsubscribe(&shard, &sess.info, kind, &n).await;
        }
    }
}

/// `PUBLISH channel message` → receivers. Runs on the channel's owner
/// (routed there like a key).
pub fn cmd_publish(ctx: &mut Ctx, args: &Args) {
    let n = pubsub::publish(ctx.shard, Kind::Channel, args.get(1), args.get(2));
    ctx.out.int(n as i64);
}

/// `SPUBLISH shardchannel message` → receivers.
pub fn cmd_spublish(ctx: &mut Ctx, args: &Args) {
    let n = pubsub::publish(ctx.shard, Kind::ShardChannel, args.get(1), args.get(2));
    ctx.out.int(n as i64);
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
];

/// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP`.
pub async fn cmd_pubsub(sess: &mut Session, args: &Args<'_>, out: &mut Vec<u8>) {
    let resp3 = sess.resp3;
    let sub = args.get(1).to_ascii_lowercase();
    let shard = sess.shard.clone();
    match sub.as_slice() {
        b"help" => super::connection::reply_help(&mut Reply::new(out, resp3), PUBSUB_HELP),
        b"channels" | b"shardchannels" => {
            let kind = if sub == b"channels" {
                Kind::Channel
            } else {
                Kind::ShardChannel
            };
            if args.len() > 3 {
                let msg = err::subcommand_syntax(args.get(1), "pubsub");
                return Reply::new(out, resp3).error_bytes(&msg);
            }
            let pattern = (args.len() == 3).then(|| Bytes::copy_from_slice(args.get(2)));
            let lists = coordinator::call_all(&shard, move |sh| {
                sh.pubsub.borrow().owned_names(kind, pattern.as_deref())
            })
            .await;
            let names: Vec<Bytes> = lists.into_iter().flatten().collect();
            let mut r = Reply::new(out, resp3);
            r.array_len(names.len());
            for n in &names {
                r.bulk(n);
            }
        }
        b"numsub" | b"shardnumsub" => {
            let kind = if sub == b"numsub" {
                Kind::Channel
            } else {
                Kind::ShardChannel
            };
            let mut pending = Vec::with_capacity(args.len() - 2);
            for i in 2..args.len() {
                let name = Bytes::copy_from_slice(args.get(i));
                let target = pubsub::owner(&shard, &name);
                pending.push(coordinator::call(&shard, target, move |sh| {
                    sh.pubsub.borrow().subscribers(kind, &name)
                }));
            }
            let mut counts = Vec::with_capacity(pending.len());
            for p in pending {
                counts.push(p.wait().await);
            }
            let mut r = Reply::new(out, resp3);
            r.array_len(counts.len() * 2);
            for (i, n) in counts.into_iter().enumerate() {
                r.bulk(args.get(i + 2));
                r.int(n as i64);
            }
        }
        b"numpat" => {
            let n = shard.pubsub.borrow().pattern_count();
            Reply::new(out, resp3).int(n as i64)
        }
        _ => Reply::new(out, resp3).error_bytes(&err::unknown_subcommand(args.get(1), "pubsub")),
    }
}

/// In RESP2, a client with subscriptions may only run these.
pub fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "ssubscribe"
            | "psubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// The error for any other command in that state.
pub fn subscribed_context_error(name: &str) -> String {
    format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        name
    )
}

/// PING from a subscribed RESP2 client: `[pong, message]`.
pub fn subscribed_ping(args: &Args, r: &mut Reply) {
    r.array_len(2);
    r.bulk(b"pong");
    r.bulk(if args.len() > 1 { args.get(1) } else { b"" });
}
