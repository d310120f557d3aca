//! Pub/sub without shared state.
//!
//! - **Owners.** A channel (and a shard channel) belongs to the shard its
//!   hash slot maps to, like a key. The owner keeps, per channel, how many
//!   subscribers each shard has. A publish runs on the owner (PUBLISH is
//!   routed there like a command on a key), which sends the message once to
//!   each shard with subscribers: one message per destination shard, not
//!   per subscriber, carrying the channel and payload as shared `Bytes`.
//! - **Patterns** can match a channel of any owner, so every shard keeps a
//!   replica of the pattern table (pattern → subscribers per shard). A
//!   PSUBSCRIBE updates all replicas before it answers; a publish matches
//!   the patterns on the owner, with no hop per pattern.
//! - **Delivery.** Each shard indexes its own clients by channel, pattern
//!   and shard channel. A delivery appends whole frames to each receiver's
//!   push buffer and wakes its connection, which writes them after the
//!   replies of the commands it is running (so a reply and a message never
//!   interleave mid-frame, and the reply to PUBLISH comes before the
//!   message a client publishes to itself).
//! - **Ordering.** Messages of one publisher on one channel all pass
//!   through the channel's owner, in order, and from there through one FIFO
//!   channel per destination shard: every subscriber sees them in publish
//!   order.
//! - **Slow subscribers.** A delivery never waits: the publisher is never
//!   held up. A receiver whose pending output passes the pubsub class of
//!   client-output-buffer-limit (hard, or soft for longer than its seconds)
//!   is disconnected and its buffer freed, so memory stays bounded.
//!
//! Registrations (SUBSCRIBE, UNSUBSCRIBE ...) update this shard's index at
//! once and the owner's counts (or every pattern replica) before the
//! command answers, so a publish that starts after the reply reaches the
//! client. They travel as [`coordinator::post`] messages, which no
//! transaction's locks hold up.

use std::rc::Rc;

use bytes::Bytes;
use hashbrown::HashMap;

use super::coordinator;
use super::slot::key_shard;
use super::{ClientInfo, Shard};
use crate::protocol::Reply;

/// The three namespaces of subscriptions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel = 0,
    Pattern = 1,
    ShardChannel = 2,
}

/// Subscribers of one name, per shard.
type Counts = Vec<u32>;

/// One shard's pub/sub state.
pub struct PubSub {
    shards: usize,
    /// This shard's index.
    me: usize,
    /// Owner side: channels and shard channels of this shard's slots.
    owned: [HashMap<Bytes, Counts>; 2],
    /// Keyspace notification channels (`__keyspace@...`, `__keyevent@...`)
    /// with subscribers anywhere, replicated on each shard like patterns:
    /// a key's shard publishes its events itself, so every subscriber gets
    /// one shard's events in the order they were raised.
    keyspace: HashMap<Bytes, Counts>,
    /// Every pattern with a subscriber anywhere (replicated on each shard).
    patterns: HashMap<Bytes, Counts>,
    /// This shard's clients, by channel, pattern and shard channel.
    local: [HashMap<Bytes, Vec<Rc<ClientInfo>>>; 3],
}

/// A client's own subscriptions (kept in its [`ClientInfo`]).
#[derive(Default)]
pub struct Subscriptions {
    pub sets: [hashbrown::HashSet<Bytes>; 3],
}

impl Subscriptions {
    /// Channels plus patterns: the count Redis reports in (un)subscribe
    /// replies of the classic kind.
    pub fn classic(&self) -> usize {
        self.sets[0].len() + self.sets[1].len()
    }

    pub fn total(&self) -> usize {
        self.sets.iter().map(|s| s.len()).sum()
    }
}

/// Whether a channel is a keyspace notification channel (replicated).
fn is_keyspace_channel(name: &[u8]) -> bool {
    name.starts_with(b"__keyspace@") || name.starts_with(b"__keyevent@")
}

/// Whether subscriptions to `name` are kept on every shard.
fn replicated(kind: Kind, name: &[u8]) -> bool {
    kind == Kind::Pattern || (kind == Kind::Channel && is_keyspace_channel(name))
}

fn owned_index(kind: Kind) -> usize {
    match kind {
        Kind::Channel => 0,
        Kind::ShardChannel => 1,
        Kind::Pattern => unreachable!("patterns have no owner"),
    }
}

impl PubSub {
    pub fn new(shards: usize, me: usize) -> PubSub {
        PubSub {
            shards,
            me,
            owned: Default::default(),
            keyspace: HashMap::new(),
            patterns: HashMap::new(),
            local: Default::default(),
        }
    }

    /// Adds `delta` to the subscribers of `name` on `shard` (owner side, or
    /// this shard's pattern replica).
    fn count(&mut self, kind: Kind, name: Bytes, shard: usize, delta: i32) {
        let map = match kind {
            Kind::Pattern => &mut self.patterns,
            Kind::Channel if is_keyspace_channel(&name) => &mut self.keyspace,
            k => &mut self.owned[owned_index(k)],
        };
        let shards = self.shards;
        let counts = map.entry(name.clone()).or_insert_with(|| vec![0; shards]);
        counts[shard] = (counts[shard] as i64 + delta as i64).max(0) as u32;
        if counts.iter().all(|&c| c == 0) {
            map.remove(&name);
        }
    }

    /// Subscribers of an owned channel (or shard channel), all shards.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.counts(kind, name)
            .map_or(0, |c| c.iter().map(|&n| n as usize).sum())
    }

    /// Subscribers per shard of a channel (or shard channel) this shard
    /// owns or replicates.
    fn counts(&self, kind: Kind, name: &[u8]) -> Option<&Counts> {
        match kind {
            Kind::Channel if is_keyspace_channel(name) => self.keyspace.get(name),
            k => self.owned[owned_index(k)].get(name),
        }
    }

    /// Replicated keyspace channels whose owner is this shard (each is
    /// reported once, by its owner).
    fn keyspace_owned(&self) -> impl Iterator<Item = &Bytes> {
        self.keyspace
            .keys()
            .filter(|c| super::slot::key_shard(c, self.shards) == self.me)
    }

    /// Owned channels (or shard channels) with subscribers, optionally
    /// matching `pattern`.
    pub fn owned_names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let keyspace = (kind == Kind::Channel)
            .then(|| self.keyspace_owned())
            .into_iter()
            .flatten();
        self.owned[owned_index(kind)]
            .keys()
            .chain(keyspace)
            .filter(|c| pattern.is_none_or(|p| crate::util::glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Distinct patterns with subscribers (PUBSUB NUMPAT).
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Owned channels and shard channels (INFO pubsub_channels,
    /// pubsub_shardchannels).
    pub fn owned_counts(&self) -> [usize; 2] {
        [self.owned[0].len() + self.keyspace_owned().count(), self.owned[1].len()]
    }

    fn add_local(&mut self, kind: Kind, name: Bytes, client: &Rc<ClientInfo>) {
        self.local[kind as usize].entry(name).or_default().push(client.clone());
    }

    fn remove_local(&mut self, kind: Kind, name: &[u8], id: u64) {
        let map = &mut self.local[kind as usize];
        if let Some(v) = map.get_mut(name) {
            v.retain(|c| c.id != id);
            if v.is_empty() {
                map.remove(name);
            }
        }
    }
}

/// The shard that owns a channel or shard channel.
pub fn owner(shard: &Shard, name: &[u8]) -> usize {
    key_shard(name, shard.count)
}

/// Subscribes `client` (a client of `shard`) to `name`. Resolves once the
/// owner (or every pattern replica) knows. False if it already was.
pub async fn subscribe(shard: &Rc<Shard>, client: &Rc<ClientInfo>, kind: Kind, name: &[u8]) -> bool {
    let name = Bytes::copy_from_slice(name);
    if !client.subs.borrow_mut().sets[kind as usize].insert(name.clone()) {
        return false;
    }
    shard.pubsub.borrow_mut().add_local(kind, name.clone(), client);
    update_counts(shard, kind, name, 1).await;
    true
}

/// Unsubscribes `client` from `name`. False if it was not subscribed.
pub async fn unsubscribe(shard: &Rc<Shard>, client: &Rc<ClientInfo>, kind: Kind, name: &[u8]) -> bool {
    if !client.subs.borrow_mut().sets[kind as usize].remove(name) {
        return false;
    }
    shard.pubsub.borrow_mut().remove_local(kind, name, client.id);
    update_counts(shard, kind, Bytes::copy_from_slice(name), -1).await;
    true
}

async fn update_counts(shard: &Rc<Shard>, kind: Kind, name: Bytes, delta: i32) {
    let me = shard.id;
    match kind {
        _ if replicated(kind, &name) => {
            coordinator::call_all(shard, move |sh| {
                sh.pubsub.borrow_mut().count(kind, name.clone(), me, delta)
            })
            .await;
        }
        _ => {
            let target = owner(shard, &name);
            coordinator::call(shard, target, move |sh| {
                sh.pubsub.borrow_mut().count(kind, name, me, delta)
            })
            .wait()
            .await;
        }
    }
}

/// Drops every subscription of a client that is going away, without
/// waiting for the owners.
pub fn drop_client(shard: &Rc<Shard>, client: &ClientInfo) {
    let subs = std::mem::take(&mut *client.subs.borrow_mut());
    if subs.total() == 0 {
        return;
    }
    let me = shard.id;
    for (k, set) in subs.sets.into_iter().enumerate() {
        let kind = [Kind::Channel, Kind::Pattern, Kind::ShardChannel][k];
        for name in set {
            shard.pubsub.borrow_mut().remove_local(kind, &name, client.id);
            let targets: Vec<usize> = if replicated(kind, &name) {
                (0..shard.count).collect()
            } else {
                vec![owner(shard, &name)]
            };
            for t in targets {
                let name = name.clone();
                coordinator::post(shard, t, move |sh| sh.pubsub.borrow_mut().count(kind, name, me, -1));
            }
        }
    }
    client.push.borrow_mut().clear();
}

/// Publishes on `shard`, which must own `channel` (or replicate it: a
/// keyspace notification channel); returns the number of
/// receivers (channel subscribers and, for classic channels, pattern
/// subscribers whose pattern matches).
pub fn publish(shard: &Rc<Shard>, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
    debug_assert!(owner(shard, channel) == shard.id || replicated(kind, channel));
    let mut per_shard = [0usize; 64];
    let mut wide: Vec<usize>;
    let dests: &mut [usize] = if shard.count <= 64 {
        &mut per_shard[..shard.count]
    } else {
        wide = vec![0; shard.count];
        &mut wide
    };
    {
        let ps = shard.pubsub.borrow();
        if let Some(c) = ps.counts(kind, channel) {
            for (d, &n) in dests.iter_mut().zip(c) {
                *d += n as usize;
            }
        }
        if kind == Kind::Channel {
            for (pat, c) in &ps.patterns {
                if crate::util::glob_match(pat, channel, false) {
                    for (d, &n) in dests.iter_mut().zip(c) {
                        *d += n as usize;
                    }
                }
            }
        }
    }
    let total: usize = dests.iter().sum();
    if total == 0 {
        return 0;
    }
    if crate::command::in_transaction() {
        // Delivered when the transaction (or script) ends, or never if it
        // is rolled back to run again.
        DEFERRED.with(|d| {
            d.borrow_mut()
                .push((kind, Bytes::copy_from_slice(channel), Bytes::copy_from_slice(message)))
        });
        crate::command::mark_outgoing();
        return total;
    }
    send(shard, kind, channel, message, dests);
    total
}

/// Sends a message to every shard with receivers (`dests`: receivers per
/// shard), this one last.
fn send(shard: &Rc<Shard>, kind: Kind, channel: &[u8], message: &[u8], dests: &[usize]) {
    let remote = dests.iter().enumerate().any(|(s, &n)| n > 0 && s != shard.id);
    if remote {
        let ch = Bytes::copy_from_slice(channel);
        let msg = Bytes::copy_from_slice(message);
        for (s, &n) in dests.iter().enumerate() {
            if n > 0 && s != shard.id {
                let (ch, msg) = (ch.clone(), msg.clone());
                coordinator::post_acked(shard, s, move |sh| deliver(sh, kind, &ch, &msg));
            }
        }
    }
    if dests[shard.id] > 0 {
        deliver(shard, kind, channel, message);
    }
}

thread_local! {
    /// Messages published inside a transaction on this shard, delivered at
    /// its end.
    static DEFERRED: std::cell::RefCell<Vec<(Kind, Bytes, Bytes)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Delivers the messages published by the transaction that just ended.
pub fn deliver_deferred(shard: &Rc<Shard>) {
    let msgs = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    for (kind, ch, msg) in msgs {
        publish(shard, kind, &ch, &msg);
    }
}

/// Forgets the messages of a rolled-back attempt.
pub fn discard_deferred() {
    DEFERRED.with(|d| d.borrow_mut().clear());
}

/// Publishes the keyspace events the last command raised.
pub fn publish_events(shard: &Rc<Shard>) {
    use crate::command::notify;
    let flags = notify::flags();
    for ev in notify::take() {
        let (space, event) = notify::channels(flags, &ev);
        // Keyspace channels are replicated: the key's shard publishes.
        if let Some(ch) = space {
            publish(shard, Kind::Channel, &ch, ev.name.as_bytes());
        }
        if let Some(ch) = event {
            publish(shard, Kind::Channel, &ch, &ev.key);
        }
    }
}

/// Delivers a message to this shard's receivers of `channel`. Each frame
/// is encoded at most once per protocol and copied to every receiver.
fn deliver(shard: &Rc<Shard>, kind: Kind, channel: &[u8], message: &[u8]) {
    let ps = shard.pubsub.borrow();
    let (kind_name, direct) = match kind {
        Kind::ShardChannel => (&b"smessage"[..], ps.local[2].get(channel)),
        _ => (&b"message"[..], ps.local[0].get(channel)),
    };
    let limit = shard.config.borrow().client_output_buffer_limit[crate::config::OBUF_PUBSUB];
    let now = crate::util::now_ms();
    if let Some(clients) = direct {
        let parts = [kind_name, channel, message];
        let mut frames = Frames::new(&parts);
        for c in clients {
            frames.push(shard, c, clients.len() == 1, limit, now);
        }
    }
    if kind == Kind::Channel {
        for (pat, clients) in &ps.local[1] {
            if crate::util::glob_match(pat, channel, false) {
                let parts: [&[u8]; 4] = [b"pmessage", pat, channel, message];
                let mut frames = Frames::new(&parts);
                for c in clients {
                    frames.push(shard, c, clients.len() == 1, limit, now);
                }
            }
        }
    }
}

/// One push frame, encoded on first use in each protocol (they differ in
/// the first byte only).
struct Frames<'a> {
    parts: &'a [&'a [u8]],
    encoded: [Vec<u8>; 2],
}

impl<'a> Frames<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Frames<'a> {
        Frames {
            parts,
            encoded: Default::default(),
        }
    }

    /// Appends the frame to `c`'s push buffer (encoded straight into it
    /// when this is the only receiver).
    fn push(&mut self, shard: &Shard, c: &ClientInfo, only: bool, limit: crate::config::ObufLimit, now_ms: u64) {
        if only && accepts(c) {
            let mut buf = c.push.borrow_mut();
            let mut r = Reply::new(&mut buf, c.resp.get() == 3);
            r.push_len(self.parts.len());
            for p in self.parts {
                r.bulk(p);
            }
            drop(buf);
            return pushed(shard, c, limit, now_ms);
        }
        push_bytes(shard, c, self.get(c), limit, now_ms);
    }

    fn get(&mut self, c: &ClientInfo) -> &[u8] {
        let resp3 = c.resp.get() == 3;
        let buf = &mut self.encoded[resp3 as usize];
        if buf.is_empty() {
            let mut r = Reply::new(buf, resp3);
            r.push_len(self.parts.len());
            for p in self.parts {
                r.bulk(p);
            }
        }
        buf
    }
}

/// Appends one frame to a client's push buffer, enforces the pubsub output
/// buffer limit, and wakes the connection.
pub fn push_frame(shard: &Shard, c: &ClientInfo, write: impl FnOnce(&mut Reply)) {
    let mut frame = Vec::new();
    write(&mut Reply::new(&mut frame, c.resp.get() == 3));
    let limit = shard.config.borrow().client_output_buffer_limit[crate::config::OBUF_PUBSUB];
    push_bytes(shard, c, &frame, limit, crate::util::now_ms());
}

/// [`push_frame`] of an encoded frame.
fn push_bytes(shard: &Shard, c: &ClientInfo, frame: &[u8], limit: crate::config::ObufLimit, now_ms: u64) {
    if accepts(c) {
        c.push.borrow_mut().extend_from_slice(frame);
        pushed(shard, c, limit, now_ms);
    }
}

/// Whether a client takes messages (CLIENT REPLY OFF does not stop them:
/// Redis sends them as pushes past the reply switch, in RESP2 as in RESP3).
fn accepts(c: &ClientInfo) -> bool {
    !c.killed.get()
}

/// After a frame was appended: the output limit, client eviction's count
/// of the client (when on), and the connection's wake-up.
fn pushed(shard: &Shard, c: &ClientInfo, limit: crate::config::ObufLimit, now_ms: u64) {
    let used = (c.push.borrow().len() + c.obuf.get()) as u64;
    if over_limit(c, limit, used, now_ms) {
        c.push.borrow_mut().clear();
        crate::server::log::warning(&format!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.describe(now_ms)
        ));
        c.kill();
    }
    if super::client_evict::enabled() {
        super::client_evict::grew(shard, c);
    }
    c.wake_push();
}

/// Whether `used` bytes pending breaks `limit`, as Redis judges it: past
/// the hard limit, or past the soft limit at a check more than its seconds
/// (whole seconds of the clock) after the first check that found it past.
pub(crate) fn over_limit(c: &ClientInfo, limit: crate::config::ObufLimit, used: u64, now_ms: u64) -> bool {
    if limit.hard > 0 && used >= limit.hard {
        return true;
    }
    if limit.soft > 0 && used >= limit.soft {
        let now_s = now_ms / 1000;
        let since = c.obuf_soft_since.get();
        if since == 0 {
            // The first time: start counting (stored +1, so 0 means unset).
            c.obuf_soft_since.set(now_s + 1);
            return false;
        }
        return now_s.saturating_sub(since - 1) > limit.soft_secs;
    }
    c.obuf_soft_since.set(0);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_vanish_at_zero() {
        let mut ps = PubSub::new(3, 0);
        let ch = Bytes::from_static(b"ch");
        ps.count(Kind::Channel, ch.clone(), 1, 1);
        ps.count(Kind::Channel, ch.clone(), 2, 1);
        assert_eq!(ps.subscribers(Kind::Channel, b"ch"), 2);
        assert_eq!(ps.owned_counts(), [1, 0]);
        ps.count(Kind::Channel, ch.clone(), 1, -1);
        ps.count(Kind::Channel, ch.clone(), 2, -1);
        assert_eq!(ps.subscribers(Kind::Channel, b"ch"), 0);
        assert_eq!(ps.owned_counts(), [0, 0]);
        ps.count(Kind::Pattern, Bytes::from_static(b"a*"), 0, 1);
        assert_eq!(ps.pattern_count(), 1);
    }

    #[test]
    fn soft_limit_needs_its_seconds() {
        let c = ClientInfo::default();
        let limit = crate::config::ObufLimit {
            hard: 100,
            soft: 10,
            soft_secs: 2,
        };
        assert!(!over_limit(&c, limit, 5, 1000));
        // Past the soft limit at 1 s: dropped only at a check more than
        // 2 whole seconds later.
        assert!(!over_limit(&c, limit, 20, 1000));
        assert!(!over_limit(&c, limit, 20, 3999));
        assert!(over_limit(&c, limit, 20, 4000));
        // Back under: the count starts again.
        assert!(!over_limit(&c, limit, 5, 4100));
        assert!(!over_limit(&c, limit, 20, 4200));
        assert!(over_limit(&c, limit, 100, 4200));
        // Zero seconds: any later second.
        let zero = crate::config::ObufLimit { soft_secs: 0, ..limit };
        let d = ClientInfo::default();
        assert!(!over_limit(&d, zero, 20, 7500));
        assert!(!over_limit(&d, zero, 20, 7999));
        assert!(over_limit(&d, zero, 20, 8000));
    }
}
