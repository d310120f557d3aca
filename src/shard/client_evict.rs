//! Client eviction (`maxmemory-clients`), as Redis 7.4 does it: when the
//! memory all clients use together reaches the limit, the biggest clients
//! are closed, largest first, until it is under again.
//!
//! Accounting. A client's memory is [`ClientInfo::tot_mem`] (what CLIENT
//! LIST shows as `tot-mem`). Each client remembers the figure last counted
//! (`ClientInfo::mem`) and each shard keeps the sum over its clients in a
//! `Cell`, published for the other shards in a relaxed atomic on its own
//! cache line (like `memory.rs`'s counters), so the total is the shard's
//! own sum plus one relaxed load per other shard: no lock, no message.
//! While eviction is on, a connection recounts itself after each command,
//! each read and each batch of pub/sub messages ([`check`]); the client
//! cron recounts every client every 100 ms whatever the setting, which
//! keeps INFO's `mem_clients_normal` current. With eviction off the
//! request path pays one relaxed load ([`enabled`]).
//!
//! Eviction. Only the owning shard may close a client. A shard over the
//! limit compares its biggest evictable client (not NO-EVICT, not already
//! closing) with the biggest each other shard published: if its own is at
//! least as big it closes it at once, otherwise it asks that shard (a
//! posted message, at most one outstanding per shard), which decides the
//! same way. Each decision rescans the deciding shard's clients, so a
//! stale published figure is corrected on the first visit. CONFIG SET of
//! `maxmemory-clients` or `maxmemory` evicts exactly, largest first across
//! all shards, before it replies ([`evict_exact`]).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{ClientInfo, Shard};
use crate::server::log;

/// Shard slots of the published figures.
const SLOTS: usize = 256;

/// Redis's floor: a smaller limit would cut off every client.
const MIN_LIMIT: u64 = 128 * 1024;

/// What a shard publishes for the others.
#[repr(align(64))]
struct Published {
    /// Memory of all its clients.
    sum: AtomicU64,
    /// Its biggest evictable client's memory (0: none), an upper bound
    /// between rescans.
    largest: AtomicU64,
    /// An eviction request to it is on its way.
    requested: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Published = Published {
    sum: AtomicU64::new(0),
    largest: AtomicU64::new(0),
    requested: AtomicBool::new(false),
};
static SHARDS: [Published; SLOTS] = [ZERO; SLOTS];

/// The limit in force in bytes (0: eviction off), from maxmemory-clients
/// and maxmemory; every shard stores the same value.
static LIMIT: AtomicU64 = AtomicU64::new(0);

/// A shard's own part.
#[derive(Default)]
pub struct ShardClients {
    /// Memory of this shard's clients (the sum of their `mem`).
    sum: Cell<u64>,
    /// Nothing could be evicted anywhere: no new attempt before this time
    /// (ms), unless an evictable client grows.
    futile_until_ms: Cell<u64>,
}

fn slot(shard: &Shard) -> &'static Published {
    &SHARDS[shard.id % SLOTS]
}

/// Redis's getClientEvictionLimit: `setting` in bytes, or (negative) a
/// percentage of `maxmemory`; 0 when off; at least 128 KiB.
pub fn effective_limit(setting: i64, maxmemory: u64) -> u64 {
    let limit = if setting < 0 {
        if maxmemory == 0 {
            return 0;
        }
        (maxmemory as f64 * (-setting) as f64 / 100.0) as u64
    } else if setting > 0 {
        setting as u64
    } else {
        return 0;
    };
    limit.max(MIN_LIMIT)
}

/// Takes the limit from the configuration (start-up, CONFIG SET).
pub fn apply_config(cfg: &crate::config::Config) {
    LIMIT.store(
        effective_limit(cfg.maxmemory_clients, cfg.memory.maxmemory),
        Ordering::Relaxed,
    );
}

/// Whether client eviction is on: one relaxed load.
#[inline]
pub fn enabled() -> bool {
    LIMIT.load(Ordering::Relaxed) != 0
}

fn limit() -> u64 {
    LIMIT.load(Ordering::Relaxed)
}

/// Whether a client may be evicted. Every Spindle client is a normal or
/// pubsub one (no replicas or masters); clients without a connection (the
/// harness's) never count.
fn evictable(info: &ClientInfo) -> bool {
    info.fixed_mem > 0 && !info.no_evict.get() && !info.killed.get()
}

/// Memory of every client of every shard, as last counted.
pub fn total(shard: &Shard) -> u64 {
    let others: u64 = SHARDS[..shard.count.min(SLOTS)]
        .iter()
        .enumerate()
        .filter(|&(s, _)| s != shard.id)
        .map(|(_, p)| p.sum.load(Ordering::Relaxed))
        .sum();
    shard.client_mem.sum.get() + others
}

/// Counts `info` again; a client that is closing counts nothing.
fn recount(shard: &Shard, info: &ClientInfo) {
    let now = if info.killed.get() { 0 } else { info.tot_mem() };
    let before = info.mem.replace(now);
    if now == before {
        return;
    }
    let own = &shard.client_mem;
    own.sum.set(own.sum.get() + now as u64 - before as u64);
    let published = slot(shard);
    published.sum.store(own.sum.get(), Ordering::Relaxed);
    if now > before && evictable(info) {
        published.largest.fetch_max(now as u64, Ordering::Relaxed);
        own.futile_until_ms.set(0);
    }
}

/// After a client's buffers may have changed (a command, a read, pub/sub
/// messages), with eviction on: recounts it and evicts while the total is
/// at or over the limit. The caller checks `info.killed` afterwards: the
/// client itself may be the one closed.
pub fn check(shard: &Rc<Shard>, info: &ClientInfo) {
    recount(shard, info);
    let limit = limit();
    if limit != 0 && total(shard) >= limit {
        evict(shard);
    }
}

/// A client's buffer grew outside its own connection's turn (messages
/// delivered to it): its figure is counted again at once, so the total the
/// other shards and key eviction see is current. Recounting is O(1); the
/// eviction itself happens at the next [`check`] or [`evict_first`].
pub fn grew(shard: &Shard, info: &ClientInfo) {
    recount(shard, info);
}

/// Key eviction asks this first, as Redis evicts clients before keys: while
/// all clients together are at or over `maxmemory-clients`, evicting them
/// frees memory, so this evicts clients (or asks the shard holding the
/// biggest) and returns true, and key eviction waits for the next round.
/// False when client eviction is off, under its limit, or found nothing it
/// could evict (then keys go).
pub fn evict_first(shard: &Rc<Shard>) -> bool {
    let limit = limit();
    if limit == 0 || total(shard) < limit {
        return false;
    }
    evict(shard);
    total(shard) >= limit && crate::util::now_ms() >= shard.client_mem.futile_until_ms.get()
}

/// A client is gone: its memory leaves the sum.
pub fn forget(shard: &Shard, info: &ClientInfo) {
    let before = info.mem.replace(0);
    if before != 0 {
        let own = &shard.client_mem;
        own.sum.set(own.sum.get() - before as u64);
        slot(shard).sum.store(own.sum.get(), Ordering::Relaxed);
    }
}

/// Counts every client of the shard again and publishes the exact sum and
/// biggest evictable client; returns the sum (INFO mem_clients_normal).
pub fn refresh(shard: &Shard) -> u64 {
    for c in shard.clients.borrow().values() {
        recount(shard, c);
    }
    publish_largest(shard);
    shard.client_mem.sum.get()
}

/// The shard's biggest evictable client (id, memory), also published.
fn publish_largest(shard: &Shard) -> Option<(u64, usize)> {
    let best = shard
        .clients
        .borrow()
        .values()
        .filter(|c| evictable(c) && c.mem.get() > 0)
        .map(|c| (c.id, c.mem.get()))
        .max_by_key(|&(id, m)| (m, std::cmp::Reverse(id)));
    slot(shard)
        .largest
        .store(best.map_or(0, |(_, m)| m as u64), Ordering::Relaxed);
    best
}

/// Closes client `id` of this shard for client eviction, with Redis's log
/// line; returns whether it was there to close.
fn evict_client(shard: &Shard, id: u64) -> bool {
    let Some(info) = shard.clients.borrow().get(&id).cloned() else {
        return false;
    };
    if !evictable(&info) {
        return false;
    }
    log::notice(&format!("Evicting client: {}", info.describe(crate::util::now_ms())));
    shard.stats.borrow_mut().evicted_clients += 1;
    // Its unsent output goes with it (Redis frees the client at once).
    info.push.borrow_mut().clear();
    info.kill();
    recount(shard, &info);
    true
}

/// Evicts while the total is at or over the limit: this shard's biggest
/// client when no other shard published a bigger one, else asks the shard
/// that did.
pub fn evict(shard: &Rc<Shard>) {
    let now = crate::util::now_ms();
    if now < shard.client_mem.futile_until_ms.get() {
        return;
    }
    loop {
        let limit = limit();
        if limit == 0 || total(shard) < limit {
            return;
        }
        let local = publish_largest(shard);
        let remote = (0..shard.count.min(SLOTS))
            .filter(|&s| s != shard.id)
            .map(|s| (SHARDS[s].largest.load(Ordering::Relaxed), s))
            .max();
        match (local, remote) {
            (Some((id, m)), r) if r.is_none_or(|(rm, _)| m as u64 >= rm) => {
                evict_client(shard, id);
            }
            (_, Some((rm, target))) if rm > 0 => {
                if !SHARDS[target].requested.swap(true, Ordering::Relaxed) {
                    super::coordinator::post(shard, target, |sh| {
                        SHARDS[sh.id % SLOTS].requested.store(false, Ordering::Relaxed);
                        evict(sh);
                    });
                }
                return;
            }
            _ => {
                log::warning("Over client maxmemory after evicting all evictable clients");
                // Look again at the next cron, or sooner if a client grows.
                shard.client_mem.futile_until_ms.set(now + 100);
                return;
            }
        }
    }
}

/// Every 100 ms (client cron): counts every client again (also with
/// eviction off, for INFO) and evicts if over the limit.
pub fn cron(shard: &Rc<Shard>) {
    refresh(shard);
    shard.client_mem.futile_until_ms.set(0);
    let limit = limit();
    if limit != 0 && total(shard) >= limit {
        evict(shard);
    }
}

/// Evicts exactly, largest first across all shards, until the total is
/// under the limit (after CONFIG SET lowered it): every shard recounts and
/// reports its biggest client, the biggest of all is closed, repeat.
pub async fn evict_exact(origin: &Rc<Shard>) {
    loop {
        let limit = limit();
        if limit == 0 {
            return;
        }
        let views = super::coordinator::call_all(origin, |sh| (refresh(sh), publish_largest(sh))).await;
        let total: u64 = views.iter().map(|v| v.0).sum();
        if total < limit {
            return;
        }
        let best = views
            .iter()
            .enumerate()
            .filter_map(|(s, v)| v.1.map(|(id, m)| (m, std::cmp::Reverse(s), id)))
            .max();
        let Some((_, std::cmp::Reverse(target), id)) = best else {
            log::warning("Over client maxmemory after evicting all evictable clients");
            return;
        };
        let closed = super::coordinator::call(origin, target, move |sh| evict_client(sh, id))
            .wait()
            .await;
        if !closed {
            // It went away meanwhile: look again.
            continue;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::effective_limit;

    #[test]
    fn limit_from_bytes_or_percentage() {
        assert_eq!(effective_limit(0, 1 << 30), 0);
        assert_eq!(effective_limit(3_000_000, 0), 3_000_000);
        // A percentage needs maxmemory.
        assert_eq!(effective_limit(-10, 0), 0);
        assert_eq!(effective_limit(-7, 6 << 20), (6u64 << 20) * 7 / 100);
        // Never under 128 KiB.
        assert_eq!(effective_limit(1, 0), 128 * 1024);
        assert_eq!(effective_limit(-1, 1 << 20), 128 * 1024);
    }
}
