//! Client-side caching: CLIENT TRACKING and invalidation messages.
//!
//! - **Default mode.** When a tracking client runs a read-only command, its
//!   connection files the client under each key read, on the key's shard
//!   (inline, or one posted message that travels ahead of the command on
//!   the same FIFO channel, so no write can slip between the read and the
//!   filing). A write to a filed key removes the filing and queues one
//!   invalidation per (client, key).
//! - **BCAST mode.** Prefixes are kept in a replica on every shard (like
//!   pub/sub patterns): every written key is checked against them, and the
//!   matching keys are sent in one message per prefix and client.
//! - Queued invalidations go out after the command that caused them (or
//!   after its transaction), with the keyspace events. Each is sent to the
//!   tracking client's shard, which resolves REDIRECT: the redirect
//!   target's shard delivers an RESP3 `invalidate` push, or for a RESP2
//!   subscriber a message on `__redis__:invalidate`. A missing redirect
//!   target earns the tracking client one `tracking-redir-broken` push.
//! - FLUSHDB / FLUSHALL send every tracking client a null invalidation and
//!   empty the tables.
//! - tracking-table-max-keys bounds the filed keys (split evenly across
//!   shards): past it, the oldest filings are invalidated and dropped.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use bytes::Bytes;
use hashbrown::HashMap;

use super::coordinator;
use super::{ClientInfo, Shard};
use crate::protocol::Reply;

/// A tracking client as every shard knows it (a replica, updated by
/// CLIENT TRACKING before it answers): where its invalidations go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Live {
    /// The tracking client's shard.
    pub shard: u16,
    /// REDIRECT target: client id and its shard.
    pub redirect: Option<(u64, u16)>,
    pub bcast: bool,
    pub noloop: bool,
}

/// A client's tracking settings (in its [`ClientInfo`]).
#[derive(Default, Clone, Debug)]
pub struct ClientTracking {
    pub on: bool,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    /// REDIRECT target: client id and its shard.
    pub redirect: Option<(u64, usize)>,
    pub prefixes: Vec<Bytes>,
    /// CLIENT CACHING YES/NO, for the next command only.
    pub caching: Option<bool>,
    /// The redirect target went away (reported once).
    pub broken: bool,
}

impl ClientTracking {
    /// Whether a read-only command now should file its keys.
    pub fn tracks_reads(&self) -> bool {
        self.on
            && !self.bcast
            && if self.optin {
                self.caching == Some(true)
            } else if self.optout {
                self.caching != Some(false)
            } else {
                true
            }
    }
}

/// One shard's tracking state.
#[derive(Default)]
pub struct Table {
    /// Keys of this shard read by tracking clients (their ids).
    keys: HashMap<Bytes, Vec<u64>>,
    /// Filing order, for tracking-table-max-keys (may hold keys already
    /// invalidated; they are skipped).
    order: VecDeque<Bytes>,
    items: usize,
    /// BCAST prefixes of every shard's clients (a replica).
    prefixes: Vec<(Bytes, Vec<u64>)>,
    /// Every tracking client of every shard (a replica).
    live: HashMap<u64, Live>,
    /// Invalidations waiting for the end of the command: per-key ones, and
    /// BCAST ones as (prefix index, key, writer).
    pending: Vec<(u64, Bytes)>,
    pending_bcast: Vec<(usize, Bytes, u64)>,
}

impl Table {
    /// Whether writes need looking at (one check per write command).
    #[inline]
    pub fn active(&self) -> bool {
        !self.keys.is_empty() || !self.prefixes.is_empty()
    }

    /// Whether invalidations wait to be sent.
    #[inline]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.pending_bcast.is_empty()
    }

    /// (keys, items, prefixes) for INFO.
    pub fn totals(&self) -> (usize, usize, usize) {
        (self.keys.len(), self.items, self.prefixes.len())
    }

    /// Tracking clients connected to shard `shard`.
    pub fn clients_of(&self, shard: usize) -> usize {
        self.live.values().filter(|l| l.shard as usize == shard).count()
    }

    fn remember(&mut self, key: &[u8], t: u64, max_keys: Option<usize>) {
        let list = match self.keys.get_mut(key) {
            Some(l) => l,
            None => {
                let k = Bytes::copy_from_slice(key);
                self.order.push_back(k.clone());
                self.keys.entry(k).or_default()
            }
        };
        if !list.contains(&t) {
            list.push(t);
            self.items += 1;
        }
        self.evict_over(max_keys);
        if self.order.len() > 2 * self.keys.len() + 64 {
            let keys = &self.keys;
            self.order.retain(|k| keys.contains_key(k));
        }
    }

    /// Drops the oldest filings past `max_keys` keys, queueing their
    /// invalidations.
    fn evict_over(&mut self, max_keys: Option<usize>) {
        let Some(max_keys) = max_keys else { return };
        while self.keys.len() > max_keys {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(trackers) = self.keys.remove(&old) {
                self.items -= trackers.len();
                for t in trackers {
                    self.pending.push((t, old.clone()));
                }
            }
        }
    }

    /// A key was written (or expired, or evicted) by client `writer`.
    pub fn modified(&mut self, key: &[u8], writer: u64) {
        if let Some(trackers) = self.keys.remove(key) {
            self.items -= trackers.len();
            let k = Bytes::copy_from_slice(key);
            for t in trackers {
                // Filings of clients that stopped tracking, or switched to
                // BCAST since, are dropped.
                match self.live.get(&t) {
                    Some(l) if !l.bcast && (!l.noloop || t != writer) => self.pending.push((t, k.clone())),
                    _ => {}
                }
            }
        }
        for (i, (p, _)) in self.prefixes.iter().enumerate() {
            if key.starts_with(p) {
                self.pending_bcast.push((i, Bytes::copy_from_slice(key), writer));
            }
        }
    }

    fn forget_client(&mut self, id: u64) {
        self.live.remove(&id);
        for (_, ts) in self.prefixes.iter_mut() {
            ts.retain(|&t| t != id);
        }
        self.prefixes.retain(|(_, ts)| !ts.is_empty());
    }
}

thread_local! {
    /// The client whose command runs now on this thread (NOLOOP).
    static WRITER: Cell<u64> = const { Cell::new(0) };
}

/// Records which client's commands run next on this thread.
#[inline]
pub fn set_writer(id: u64) {
    WRITER.with(|w| w.set(id));
}

/// Files `key` (of `shard`) as read by client `t`.
pub fn remember(shard: &Shard, key: &[u8], t: u64) {
    let limit = shard_limit(shard);
    let mut table = shard.tracking.borrow_mut();
    table.remember(key, t, limit);
    TRACKED.with(|t| t.set(true));
    if table.has_pending() {
        crate::command::mark_outgoing();
    }
}

/// Files the keys a tracking client reads, each on its shard, ahead of the
/// command that reads them.
pub fn remember_keys<'k>(shard: &Rc<Shard>, t: u64, keys: impl Iterator<Item = &'k [u8]>) {
    for key in keys {
        let target = super::slot::key_shard(key, shard.count);
        if target == shard.id {
            remember(shard, key, t);
        } else {
            let key = Bytes::copy_from_slice(key);
            coordinator::post(shard, target, move |sh| remember(sh, &key, t));
        }
    }
}

/// Notes that keys were written by the running command. One RefCell read
/// when nobody tracks anything on this shard.
#[inline]
pub fn keys_modified<'k>(shard: &Shard, keys: impl Iterator<Item = &'k [u8]>) {
    let mut t = shard.tracking.borrow_mut();
    if !t.active() {
        return;
    }
    let writer = WRITER.with(|w| w.get());
    for k in keys {
        t.modified(k, writer);
    }
    if t.has_pending() {
        crate::command::mark_outgoing();
    }
}

thread_local! {
    /// Whether this shard tracks anything (mirrors [`Table::active`] loosely:
    /// set when something is filed, cleared when the table empties).
    static TRACKED: Cell<bool> = const { Cell::new(false) };
    /// Keys deleted by expiry since the last flush, while TRACKED.
    static EXPIRED: std::cell::RefCell<Vec<Bytes>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An expired key was deleted on this thread (lazily or by the active
/// cycle): tracking clients must hear of it. One thread-local read when
/// nothing is tracked.
#[inline]
pub fn key_expired(key: &[u8]) {
    if TRACKED.with(|t| t.get()) {
        EXPIRED.with(|e| e.borrow_mut().push(Bytes::copy_from_slice(key)));
        crate::command::mark_outgoing();
    }
}

/// Sends the invalidations queued by the last command (or transaction).
pub fn flush(shard: &Rc<Shard>) {
    let expired = EXPIRED.with(|e| std::mem::take(&mut *e.borrow_mut()));
    let mut t = shard.tracking.borrow_mut();
    for k in &expired {
        t.modified(k, 0);
    }
    TRACKED.with(|tr| tr.set(t.active()));
    if !t.has_pending() {
        return;
    }
    let pending = std::mem::take(&mut t.pending);
    let bcast = std::mem::take(&mut t.pending_bcast);
    let mut out: Vec<(u64, Live, Option<Vec<Bytes>>)> = Vec::new();
    for (id, key) in pending {
        if let Some(&l) = t.live.get(&id) {
            out.push((id, l, Some(vec![key])));
        }
    }
    // BCAST: one message per prefix and client, with every key of it.
    for (i, (_, ids)) in t.prefixes.iter().enumerate() {
        for &id in ids {
            let Some(&l) = t.live.get(&id) else { continue };
            let keys: Vec<Bytes> = bcast
                .iter()
                .filter(|(p, _, w)| *p == i && !(l.noloop && *w == id))
                .map(|(_, k, _)| k.clone())
                .collect();
            if !keys.is_empty() {
                out.push((id, l, Some(keys)));
            }
        }
    }
    drop(t);
    for (id, l, keys) in out {
        send(shard, id, l, keys);
    }
}

/// Sends client `id`'s invalidation (None: everything) straight to the
/// shard of whoever receives it (the client, or its redirect target): one
/// FIFO path per (key shard, receiver), so a receiver sees invalidations
/// in the order the writes happened.
///
/// A remote delivery is acknowledged; the connection whose command caused
/// it waits for the acknowledgements before sending its replies
/// ([`coordinator::take_acks`]), so by the time a writer hears OK every tracking client
/// has the invalidation in its output, as with Redis.
fn send(shard: &Rc<Shard>, id: u64, l: Live, keys: Option<Vec<Bytes>>) {
    let target = l.redirect.map_or(l.shard, |(_, s)| s) as usize;
    coordinator::post_acked(shard, target, move |sh| deliver(sh, id, l, keys));
}

/// This shard's share of tracking-table-max-keys (None: no limit): the
/// shares add up to the limit exactly.
fn shard_limit(shard: &Shard) -> Option<usize> {
    let max = shard.config.borrow().tracking_table_max_keys;
    (max > 0).then(|| max / shard.count + usize::from(shard.id < max % shard.count))
}

/// Applies a lowered tracking-table-max-keys at once (CONFIG SET).
pub fn enforce_limit(shard: &Shard) {
    let limit = shard_limit(shard);
    let mut t = shard.tracking.borrow_mut();
    t.evict_over(limit);
    if t.has_pending() {
        crate::command::mark_outgoing();
    }
}

/// On the receiver's shard: an RESP3 `invalidate` push, or for a RESP2
/// redirect target that is subscribed, a `__redis__:invalidate` message. A
/// redirect target gone earns the tracking client one
/// `tracking-redir-broken` push.
fn deliver(shard: &Rc<Shard>, id: u64, l: Live, keys: Option<Vec<Bytes>>) {
    match l.redirect {
        None => {
            let Some(c) = shard.clients.borrow().get(&id).cloned() else {
                return;
            };
            if c.resp.get() == 3 && c.tracking.borrow().on {
                write_invalidation(shard, &c, keys.as_deref(), false);
            }
        }
        Some((rid, _)) => {
            let target = shard.clients.borrow().get(&rid).cloned();
            match target {
                Some(r) => {
                    if r.resp.get() == 3 || r.subs.borrow().total() > 0 {
                        write_invalidation(shard, &r, keys.as_deref(), true);
                    }
                }
                None => coordinator::post(shard, l.shard as usize, move |sh| redirect_broken(sh, id, rid)),
            }
        }
    }
}

fn redirect_broken(shard: &Rc<Shard>, id: u64, rid: u64) {
    let Some(c) = shard.clients.borrow().get(&id).cloned() else {
        return;
    };
    let mut tr = c.tracking.borrow_mut();
    if !tr.on || tr.broken {
        return;
    }
    tr.broken = true;
    drop(tr);
    if c.resp.get() == 3 {
        super::pubsub::push_frame(shard, &c, |r| {
            r.push_len(2);
            r.bulk(b"tracking-redir-broken");
            r.int(rid as i64);
        });
    }
}

/// Writes one invalidation frame: an RESP3 push, or for a RESP2 redirect
/// target a message on `__redis__:invalidate`. `keys` None is a flush.
fn write_invalidation(shard: &Shard, c: &ClientInfo, keys: Option<&[Bytes]>, redirected: bool) {
    let resp3 = c.resp.get() == 3;
    super::pubsub::push_frame(shard, c, |r: &mut Reply| {
        if resp3 {
            r.push_len(2);
            r.bulk(b"invalidate");
        } else if redirected {
            r.push_len(3);
            r.bulk(b"message");
            r.bulk(b"__redis__:invalidate");
        }
        match keys {
            Some(keys) => {
                r.array_len(keys.len());
                for k in keys {
                    r.bulk(k);
                }
            }
            None => r.null(),
        }
    });
}

/// FLUSHDB / FLUSHALL on this shard: empties the key table and sends this
/// shard's tracking clients a null invalidation.
pub fn on_flush(shard: &Rc<Shard>) {
    let mine: Vec<(u64, Live)> = {
        let mut t = shard.tracking.borrow_mut();
        t.keys.clear();
        t.order.clear();
        t.items = 0;
        t.pending.clear();
        t.pending_bcast.clear();
        t.live
            .iter()
            .filter(|(_, l)| l.shard as usize == shard.id)
            .map(|(&id, &l)| (id, l))
            .collect()
    };
    for (id, l) in mine {
        send(shard, id, l, None);
    }
}

/// Tells every shard that client `id` tracks with `live` and `prefixes`
/// (BCAST), or with None that it stopped; waits for all.
pub async fn publish_settings(shard: &Rc<Shard>, id: u64, live: Option<Live>, prefixes: Vec<Bytes>) {
    coordinator::call_all(shard, move |sh| {
        let mut table = sh.tracking.borrow_mut();
        table.forget_client(id);
        let Some(l) = live else { return };
        table.live.insert(id, l);
        for p in &prefixes {
            match table.prefixes.iter_mut().find(|(q, _)| q == p) {
                Some((_, ids)) => ids.push(id),
                None => table.prefixes.push((p.clone(), vec![id])),
            }
        }
        TRACKED.with(|tr| tr.set(true));
    })
    .await;
}

/// Turns tracking off for a client of `shard` that goes away or resets,
/// without waiting for the other shards.
pub fn disable(shard: &Rc<Shard>, c: &ClientInfo) {
    let mut tr = c.tracking.borrow_mut();
    if !tr.on {
        return;
    }
    *tr = ClientTracking::default();
    drop(tr);
    let id = c.id;
    for s in 0..shard.count {
        coordinator::post(shard, s, move |sh| sh.tracking.borrow_mut().forget_client(id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(noloop: bool, bcast: bool) -> Live {
        Live {
            shard: 0,
            redirect: None,
            bcast,
            noloop,
        }
    }

    #[test]
    fn write_invalidates_once_and_respects_noloop() {
        let mut tb = Table::default();
        tb.live.insert(1, live(false, false));
        tb.live.insert(2, live(true, false));
        tb.remember(b"k", 1, None);
        tb.remember(b"k", 1, None);
        tb.remember(b"k", 2, None);
        assert_eq!(tb.totals(), (1, 2, 0));
        tb.modified(b"k", 2);
        assert_eq!(tb.pending, vec![(1, Bytes::from_static(b"k"))]);
        assert_eq!(tb.totals(), (0, 0, 0));
        tb.pending.clear();
        // A client that stopped tracking (or went BCAST) hears nothing.
        tb.remember(b"k", 1, None);
        tb.live.insert(1, live(false, true));
        tb.modified(b"k", 9);
        assert!(tb.pending.is_empty());
    }

    #[test]
    fn max_keys_evicts_oldest() {
        let mut tb = Table::default();
        tb.remember(b"a", 1, Some(2));
        tb.remember(b"b", 1, Some(2));
        tb.remember(b"c", 1, Some(2));
        assert_eq!(tb.totals().0, 2);
        assert_eq!(tb.pending.len(), 1);
        assert_eq!(&tb.pending[0].1[..], b"a");
    }

    #[test]
    fn bcast_prefixes_match_writes() {
        let mut tb = Table::default();
        tb.live.insert(1, live(false, true));
        tb.prefixes.push((Bytes::from_static(b"a:"), vec![1]));
        tb.modified(b"a:1", 9);
        tb.modified(b"b:1", 9);
        assert_eq!(tb.pending_bcast.len(), 1);
        tb.forget_client(1);
        assert!(!tb.active());
    }
}
