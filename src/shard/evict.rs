//! Keeping memory under `maxmemory`: the eviction policies, the LFU
//! counter, and the shard's eviction pool.
//!
//! The limit is the process's: `used_memory` is the sum of every thread's
//! allocation counter (`crate::memory`). A shard that is about to run a
//! write while the total is over the limit evicts keys *of its own* until
//! the total is back under it (or its time slice is spent), as Redis does
//! before each command; every shard also evicts from its housekeeping tick
//! while the total is over. So a shard that fills while another sits idle
//! first frees its own coldest keys, and the idle shard gives up its
//! coldest ones on its next tick: the budget is shared, not split into
//! fixed per-shard quotas that a skewed keyspace would waste.
//!
//! Victims are chosen like Redis's approximated LRU/LFU: each round samples
//! `maxmemory-samples` keys per database and merges them into a pool of the
//! 16 best candidates kept between rounds, then evicts the best one still
//! present. Random policies evict a sampled key directly.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;

use super::Shard;
use crate::command::notify::{class, notify};
use crate::config::MemoryConfig;

/// maxmemory-policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    NoEviction,
}

/// Every policy with its name, in Redis's order.
const POLICIES: [(Policy, &str); 8] = [
    (Policy::VolatileLru, "volatile-lru"),
    (Policy::VolatileLfu, "volatile-lfu"),
    (Policy::VolatileRandom, "volatile-random"),
    (Policy::VolatileTtl, "volatile-ttl"),
    (Policy::AllKeysLru, "allkeys-lru"),
    (Policy::AllKeysLfu, "allkeys-lfu"),
    (Policy::AllKeysRandom, "allkeys-random"),
    (Policy::NoEviction, "noeviction"),
];

impl Policy {
    pub fn name(self) -> &'static str {
        POLICIES
            .iter()
            .find(|p| p.0 == self)
            .map(|p| p.1)
            .unwrap_or("noeviction")
    }

    pub fn parse(v: &str) -> Option<Policy> {
        POLICIES.iter().find(|p| p.1.eq_ignore_ascii_case(v)).map(|p| p.0)
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllKeysLfu)
    }

    pub fn is_lru(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::AllKeysLru)
    }

    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::VolatileRandom | Policy::AllKeysRandom)
    }
}

// ---------------------------------------------------------------------------
// LFU: an 8-bit logarithmic counter and the minute it last decayed, packed
// as `minutes << 8 | counter` in `Entry::lfu`.

/// Counter of a new key: not evicted right away for lack of history.
pub const LFU_INIT: u32 = 5;

/// log factor and decay time of the LFU policy in force on this thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LfuParams {
    pub log_factor: u32,
    pub decay_minutes: u32,
}

thread_local! {
    /// Set while an LFU policy is in force on this shard: accesses then
    /// update the counter (one thread-local read per access otherwise).
    static LFU: Cell<Option<LfuParams>> = const { Cell::new(None) };
    static RNG: Cell<u64> = const { Cell::new(0x2545_F491_4F6C_DD1D) };
}

/// The LFU parameters if an LFU policy is in force on this thread.
#[inline]
pub fn lfu_params() -> Option<LfuParams> {
    LFU.with(|l| l.get())
}

/// Puts this thread's access tracking in line with `mem` (called where a
/// shard reads its configuration).
#[inline]
pub fn apply_policy(mem: &MemoryConfig) {
    let want = mem.policy.is_lfu().then_some(LfuParams {
        log_factor: mem.lfu_log_factor,
        decay_minutes: mem.lfu_decay_time,
    });
    LFU.with(|l| {
        if l.get() != want {
            l.set(want)
        }
    });
}

fn next_random() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x
    })
}

#[inline]
fn minutes(clock: u32) -> u32 {
    (clock / 60) & 0xFFFF
}

/// The LFU word of a key created at `clock`.
#[inline]
pub fn lfu_new(clock: u32) -> u32 {
    (minutes(clock) << 8) | LFU_INIT
}

/// The counter of `word` after decaying it to `clock`: one step per
/// `decay_minutes` elapsed (minutes wrap at 16 bits, as in Redis).
pub fn lfu_decayed(word: u32, clock: u32, decay_minutes: u32) -> u32 {
    let counter = word & 0xFF;
    if decay_minutes == 0 {
        return counter;
    }
    let (now, then) = (minutes(clock), (word >> 8) & 0xFFFF);
    let elapsed = if now >= then { now - then } else { 65535 - then + now };
    counter.saturating_sub(elapsed / decay_minutes)
}

/// `word` after an access at `clock`: decayed, then incremented with
/// probability 1 / ((counter - LFU_INIT) * log_factor + 1).
#[inline]
pub fn lfu_bump(word: u32, clock: u32, p: LfuParams) -> u32 {
    let mut counter = lfu_decayed(word, clock, p.decay_minutes);
    if counter < 255 {
        let base = counter.saturating_sub(LFU_INIT) as f64;
        let chance = 1.0 / (base * p.log_factor as f64 + 1.0);
        let r = (next_random() >> 11) as f64 / (1u64 << 53) as f64;
        if r < chance {
            counter += 1;
        }
    }
    (minutes(clock) << 8) | counter
}

// ---------------------------------------------------------------------------
// The eviction pool.

/// Candidates kept between eviction rounds, best (most evictable) last,
/// scored under `policy`.
#[derive(Default)]
pub struct Pool {
    cands: Vec<(u64, usize, Box<[u8]>)>,
    policy: Option<Policy>,
}

const POOL_SIZE: usize = 16;

impl Pool {
    /// Offers a candidate with eviction score `score` (higher goes first).
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if self.cands.len() >= POOL_SIZE && score <= self.cands[0].0 {
            return;
        }
        if self.cands.iter().any(|c| c.1 == db && &*c.2 == key) {
            return;
        }
        let at = self.cands.partition_point(|c| c.0 < score);
        self.cands.insert(at, (score, db, key.into()));
        if self.cands.len() > POOL_SIZE {
            self.cands.remove(0);
        }
    }

    pub fn clear(&mut self) {
        self.cands.clear();
    }
}

/// How evictable an entry is under `policy` (higher: evict sooner).
///
/// Under LFU, keys of equal counter (most of a cache: new keys start at
/// LFU_INIT and cold ones decay to the same few values) are told apart by
/// idle time, so the least recently used of them goes first rather than
/// whichever was sampled first.
fn score(policy: Policy, e: &crate::storage::Entry, clock: u32, mem: &MemoryConfig) -> u64 {
    let idle = clock.wrapping_sub(e.access) as u64;
    if policy.is_lfu() {
        (255 - lfu_decayed(e.lfu, clock, mem.lfu_decay_time) as u64) << 32 | idle
    } else if policy == Policy::VolatileTtl {
        u64::MAX - e.expire_at()
    } else {
        idle
    }
}

/// Picks the next victim on `shard`: (db, key).
fn pick(shard: &Shard, mem: &MemoryConfig, clock: u32) -> Option<(usize, Box<[u8]>, u64)> {
    let policy = mem.policy;
    let volatile = policy.volatile_only();
    let ks = shard.ks.borrow();
    if policy.random() {
        // A random database with keys to offer, then a random key in it.
        let n = ks.dbs.len();
        let start = (next_random() % n as u64) as usize;
        for i in 0..n {
            let db = (start + i) % n;
            let mut found = None;
            ks.dbs[db].sample(1, volatile, next_random(), |k, _| found = Some(Box::from(k)));
            if let Some(k) = found {
                return Some((db, k, 0));
            }
        }
        return None;
    }
    let mut pool = shard.evict.borrow_mut();
    if pool.policy != Some(policy) {
        pool.clear();
        pool.policy = Some(policy);
    }
    for (db, d) in ks.dbs.iter().enumerate() {
        d.sample(mem.samples, volatile, next_random(), |k, e| {
            pool.offer(score(policy, e, clock, mem), db, k)
        });
    }
    // The best candidate still present (the pool may hold keys deleted or
    // changed since they were sampled). A candidate used since it was
    // scored goes back in at its new score: at most once per candidate, as
    // its stored score is then current.
    while let Some((stored, db, key)) = pool.cands.pop() {
        let Some(e) = ks.dbs[db].peek(&key).filter(|e| !volatile || e.expire_at() != 0) else {
            continue;
        };
        let now = score(policy, e, clock, mem);
        if now < stored && pool.cands.last().is_some_and(|c| c.0 > now) {
            let at = pool.cands.partition_point(|c| c.0 < now);
            pool.cands.insert(at, (now, db, key));
            continue;
        }
        return Some((db, key, now));
    }
    None
}

/// Each shard's best eviction candidate score, as of its last pick (0:
/// none): a shard about to evict one of its own keys first checks that no
/// other shard holds a clearly colder one.
static BEST: [std::sync::atomic::AtomicU64; 256] = [const { std::sync::atomic::AtomicU64::new(0) }; 256];
/// Set while a shard has been asked to evict and has not run yet.
static NUDGED: [std::sync::atomic::AtomicBool; 256] = [const { std::sync::atomic::AtomicBool::new(false) }; 256];

/// The other shard with the best published candidate, if it beats `score`.
fn colder_elsewhere(me: usize, count: usize, score: u64) -> Option<usize> {
    (0..count.min(256))
        .filter(|&i| i != me)
        .map(|i| (BEST[i].load(Relaxed), i))
        .filter(|&(b, _)| b > score)
        .max()
        .map(|(_, i)| i)
}

/// Asks shard `target` to run an eviction slice soon (at most one request
/// outstanding per shard). The request itself only schedules the slice,
/// which runs like the housekeeping tick's.
fn nudge(shard: &Rc<Shard>, target: usize) {
    if NUDGED[target % 256].swap(true, Relaxed) {
        return;
    }
    crate::shard::coordinator::post(shard, target, |sh| {
        let sh = sh.clone();
        glommio::spawn_local(async move {
            NUDGED[sh.id % 256].store(false, Relaxed);
            tick(&sh);
        })
        .detach();
    });
}

/// Deletes `key` of `db` on `shard` as an eviction: raises `evicted`,
/// invalidates tracking clients, touches WATCHers and wakes blocked
/// clients that may now see the key missing.
fn evict_key(shard: &Shard, db: usize, key: &[u8], lazy: bool) -> bool {
    let Some(old) = shard.ks.borrow_mut().dbs[db].remove(key) else {
        return false;
    };
    if lazy {
        crate::storage::lazyfree::drop_value(old.value);
    } else {
        drop(old);
    }
    notify(class::EVICTED, "evicted", db, key);
    crate::persist::propagate::deleted_as(db, key, lazy);
    crate::shard::tracking::key_expired(key);
    crate::shard::blocking::key_expired(db, key);
    if !shard.watches.borrow().is_empty() {
        shard.watches.borrow_mut().touch(db, key);
    }
    shard.stats.borrow_mut().evicted_keys += 1;
    true
}

/// Keys each shard could evict under the policy in force, as of its last
/// tick: a shard with nothing of its own to evict lets a write through
/// while others still have keys to give up.
static EVICTABLE: [std::sync::atomic::AtomicU64; 256] = [const { std::sync::atomic::AtomicU64::new(0) }; 256];

fn publish_evictable(shard: &Shard, policy: Policy) {
    let ks = shard.ks.borrow();
    let n: usize = ks
        .dbs
        .iter()
        .map(|d| if policy.volatile_only() { d.volatile() } else { d.len() })
        .sum();
    EVICTABLE[shard.id % 256].store(n as u64, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a shard other than `me` has keys to evict.
fn others_can_evict(me: usize, count: usize) -> bool {
    (0..count.min(256))
        .filter(|&i| i != me)
        .any(|i| EVICTABLE[i].load(std::sync::atomic::Ordering::Relaxed) > 0)
}

/// Outcome of [`make_room`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Under the limit (or no limit).
    Ok,
    /// Still over after this slice; more eviction follows. Writes go on.
    Running,
    /// Over the limit and nothing can be evicted: writes get -OOM.
    Full,
}

/// How far over maxmemory a shard lets writes go while another shard
/// evicts colder keys for it.
fn slack(mem: &MemoryConfig) -> u64 {
    (mem.maxmemory / 256).max(16 << 10)
}

/// Microseconds one eviction slice may take, from maxmemory-eviction-
/// tenacity as Redis maps it (10 → 500 µs; 100 → unbounded).
fn slice_us(tenacity: u32) -> Option<u64> {
    match tenacity {
        0..=10 => Some(50 * tenacity as u64),
        11..=99 => Some((500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64),
        _ => None,
    }
}

/// Brings memory under `maxmemory` by evicting this shard's keys, within
/// one time slice. Run before a write and from the housekeeping tick.
pub fn make_room(shard: &Rc<Shard>, mem: &MemoryConfig, now_ms: u64) -> Room {
    if mem.maxmemory == 0 {
        return Room::Ok;
    }
    if crate::memory::used_view(now_ms) <= mem.maxmemory {
        return Room::Ok;
    }
    // The cached part of the view can be stale high (memory another shard
    // allocated and this one freed): over the limit, look again for real.
    crate::memory::refresh_view();
    let used = crate::memory::used_view(now_ms);
    if used <= mem.maxmemory {
        return Room::Ok;
    }
    if mem.policy == Policy::NoEviction {
        return Room::Full;
    }
    // Clients over maxmemory-clients go before keys (as in Redis).
    if super::client_evict::evict_first(shard) {
        return Room::Running;
    }
    // Keys a cross-shard transaction holds must not change under it, and
    // CLIENT PAUSE WRITE stops evictions as it stops expiry; the tick comes
    // back once either ends.
    if shard.gate.has_key_locks() || shard.paused_writes() {
        return Room::Running;
    }
    let to_free = (used - mem.maxmemory) as i64;
    let clock = (now_ms / 1000) as u32;
    let start_local = crate::memory::local();
    let started = std::time::Instant::now();
    let limit = slice_us(mem.tenacity);
    let mut evicted = 0u64;
    let result = loop {
        let freed = start_local - crate::memory::local();
        if freed >= to_free {
            break Room::Ok;
        }
        let Some((db, key, score)) = pick(shard, mem, clock) else {
            BEST[shard.id % 256].store(0, Relaxed);
            publish_evictable(shard, mem.policy);
            let others = others_can_evict(shard.id, shard.count);
            break if evicted == 0 && !others {
                Room::Full
            } else {
                Room::Running
            };
        };
        BEST[shard.id % 256].store(score, Relaxed);
        // A colder key on another shard goes first: that shard is asked to
        // evict and this write goes on, unless memory is over by more than
        // the slack already.
        let over = (to_free - freed) as u64;
        if !mem.policy.random() && shard.count > 1 && over <= slack(mem) {
            if let Some(other) = colder_elsewhere(shard.id, shard.count, score) {
                shard.evict.borrow_mut().offer(score, db, &key);
                nudge(shard, other);
                break Room::Running;
            }
        }
        if evict_key(shard, db, &key, mem.lazy_eviction) {
            evicted += 1;
            if evicted % 16 == 0 {
                if let Some(us) = limit {
                    if started.elapsed().as_micros() as u64 > us {
                        break Room::Running;
                    }
                }
            }
        }
    };
    if evicted > 0 {
        crate::command::observe::record("eviction-cycle", started.elapsed().as_millis() as u64);
        // Other shards' figures may have moved meanwhile: look again before
        // saying "done".
        crate::memory::refresh_view();
        if result == Room::Ok && crate::memory::used_view(now_ms) > mem.maxmemory {
            return Room::Running;
        }
    }
    result
}

/// Redis's out-of-memory verdict before a command: evicts what it can on
/// `shard` first, then tells whether memory is still over `maxmemory` with
/// nothing left to evict (a command that may grow memory gets -OOM then).
pub fn full(shard: &Rc<Shard>, mem: &MemoryConfig, now_ms: u64) -> bool {
    let room = make_room(shard, mem, now_ms);
    crate::command::publish_events(shard);
    room == Room::Full
}

/// [`full`] under the limit in force on `shard` (false when none).
pub fn out_of_memory(shard: &Rc<Shard>, now_ms: u64) -> bool {
    let mem = shard.config.borrow().memory;
    mem.maxmemory != 0 && full(shard, &mem, now_ms)
}

/// The housekeeping tick's eviction: while the process is over the limit,
/// every shard gives up its own coldest keys, a slice per tick.
pub fn tick(shard: &Rc<Shard>) {
    let mem = shard.config.borrow().memory;
    apply_policy(&mem);
    if mem.maxmemory == 0 || mem.policy == Policy::NoEviction {
        return;
    }
    let now = crate::util::now_ms();
    crate::memory::refresh_view();
    make_room(shard, &mem, now);
    publish_evictable(shard, mem.policy);
    crate::command::publish_events(shard);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_round_trip_by_name() {
        for (p, n) in POLICIES {
            assert_eq!(Policy::parse(n), Some(p));
            assert_eq!(p.name(), n);
        }
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse("lru"), None);
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let p = LfuParams {
            log_factor: 10,
            decay_minutes: 1,
        };
        let clock = 600_000;
        let mut w = lfu_new(clock);
        assert_eq!(w & 0xFF, LFU_INIT);
        for _ in 0..1000 {
            w = lfu_bump(w, clock, p);
        }
        let c = w & 0xFF;
        assert!(c > 10 && c < 40, "1000 hits give a counter of {c}");
        for _ in 0..99_000 {
            w = lfu_bump(w, clock, p);
        }
        // Redis's table for factor 10: 1K hits → 18, 100K → 142, 1M → 255.
        let c2 = w & 0xFF;
        assert!(c2 > 100 && c2 < 200, "100K hits give {c2}");
        // Ten minutes later the counter has lost ten steps.
        assert_eq!(lfu_decayed(w, clock + 600, 1), c2 - 10);
        assert_eq!(lfu_decayed(w, clock + 600, 0), c2);
        // Factor 0: every hit counts.
        let p0 = LfuParams {
            log_factor: 0,
            decay_minutes: 1,
        };
        let mut w = lfu_new(clock);
        for _ in 0..100 {
            w = lfu_bump(w, clock, p0);
        }
        assert_eq!(w & 0xFF, 105);
    }

    #[test]
    fn pool_keeps_the_best_sixteen() {
        let mut p = Pool::default();
        for i in 0..40u64 {
            p.offer(i * 7 % 40, 0, format!("k{i}").as_bytes());
        }
        assert_eq!(p.cands.len(), POOL_SIZE);
        let scores: Vec<u64> = p.cands.iter().map(|c| c.0).collect();
        assert_eq!(scores, (24..40).collect::<Vec<_>>());
        p.offer(39, 0, b"k17");
        assert_eq!(p.cands.len(), POOL_SIZE);
    }

    #[test]
    fn lfu_scores_order_by_counter_then_idle_time() {
        let mem = MemoryConfig {
            policy: Policy::AllKeysLfu,
            ..MemoryConfig::default()
        };
        let clock = 600_000;
        let entry = |counter: u32, access: u32| crate::storage::Entry {
            value: crate::storage::Value::string(b"v".to_vec()),
            expire_at: 0,
            access,
            lfu: (minutes(clock) << 8) | counter,
        };
        let s = |e: &crate::storage::Entry| score(Policy::AllKeysLfu, e, clock, &mem);
        // Fewer hits goes first whatever the idle time ...
        assert!(s(&entry(5, clock)) > s(&entry(6, clock - 1000)));
        // ... and among equal counters the longer idle goes first.
        assert!(s(&entry(5, clock - 10)) > s(&entry(5, clock - 9)));
        assert_eq!(s(&entry(5, clock)), 250 << 32);
        // LRU scores are the idle time alone.
        assert_eq!(score(Policy::AllKeysLru, &entry(5, clock - 42), clock, &mem), 42);
    }

    #[test]
    fn tenacity_slices() {
        assert_eq!(slice_us(10), Some(500));
        assert_eq!(slice_us(0), Some(0));
        assert!(slice_us(50).unwrap() > 500);
        assert_eq!(slice_us(100), None);
    }
}
